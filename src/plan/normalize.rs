//! Normalising objects before diffing: drop what the server manages so only real changes show.

use serde_json::Value;

/// Metadata fields the API server owns: never part of a diff.
const SERVER_METADATA: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Annotations written by controllers or other tools, not by the spec (the known quirks).
/// `last-applied-configuration` can hold a Secret's plaintext when kubectl applied it.
const FOREIGN_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "autoscaling.alpha.kubernetes.io/conditions",
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/selected-node",
];

/// Returns the object with server-managed fields and status removed.
pub fn normalize(object: &Value) -> Value {
    normalized(object.clone())
}

/// `normalize` of an object the caller owns, without copying it first.
pub fn normalized(mut out: Value) -> Value {
    let Some(map) = out.as_object_mut() else {
        return out;
    };
    map.remove("status");
    if let Some(Value::Object(meta)) = map.get_mut("metadata") {
        for field in SERVER_METADATA {
            meta.remove(*field);
        }
        let mut annotations_empty = false;
        if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
            for a in FOREIGN_ANNOTATIONS {
                annotations.remove(*a);
            }
            annotations_empty = annotations.is_empty();
        }
        if annotations_empty {
            meta.remove("annotations");
        }
        if meta
            .get("finalizers")
            .is_some_and(|f| f.as_array().is_some_and(|a| a.is_empty()))
        {
            meta.remove("finalizers");
        }
    }
    out
}

/// The API group/version a desired object states, as the server would report it back.
pub use crate::model::object::{api_version_of, kind_of, name_of, namespace_of};

/// Reorders the keys of every map in `value` to follow `like`'s order where `like` has the same
/// key (keys only in `value` keep their order, after those); list items are aligned by index.
pub fn align_key_order(value: &mut Value, like: &Value) {
    match (value, like) {
        (Value::Object(map), Value::Object(like)) => {
            let mut taken = std::mem::take(map);
            for (k, l) in like {
                if let Some(mut v) = taken.shift_remove(k) {
                    align_key_order(&mut v, l);
                    map.insert(k.clone(), v);
                }
            }
            for (k, v) in taken {
                map.insert(k, v);
            }
        }
        (Value::Array(items), Value::Array(like)) => {
            for (v, l) in items.iter_mut().zip(like) {
                align_key_order(v, l);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_fields_status_and_controller_annotations_are_dropped() {
        let live = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "uid": "u", "resourceVersion": "7", "generation": 3,
                "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{}],
                "annotations": {"deployment.kubernetes.io/revision": "2"}, "labels": {"a": "b"}},
            "spec": {"replicas": 2},
            "status": {"readyReplicas": 2}
        });
        let n = normalize(&live);
        assert_eq!(
            n,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web", "labels": {"a": "b"}}, "spec": {"replicas": 2}})
        );
    }

    #[test]
    fn own_annotations_survive() {
        let obj = json!({"metadata": {"annotations": {"checksum/config": "abc",
            "kubectl.kubernetes.io/last-applied-configuration": "{}"}}});
        assert_eq!(
            normalize(&obj),
            json!({"metadata": {"annotations": {"checksum/config": "abc"}}})
        );
    }

    #[test]
    fn keys_follow_the_live_objects_order_where_both_have_them() {
        let mut declared = json!({"metadata": {"name": "app", "labels": {"z": "1", "a": "2"}},
            "roleRef": {"name": "edit"}, "subjects": [{"namespace": "n", "kind": "SA"}], "extra": 1});
        let live = json!({"metadata": {"labels": {"a": "2", "z": "1"}, "name": "app"},
            "subjects": [{"kind": "SA", "namespace": "n"}], "roleRef": {"name": "view"}});
        align_key_order(&mut declared, &live);
        assert_eq!(
            serde_json::to_string(&declared).unwrap(),
            r#"{"metadata":{"labels":{"a":"2","z":"1"},"name":"app"},"subjects":[{"kind":"SA","namespace":"n"}],"roleRef":{"name":"edit"},"extra":1}"#
        );
    }
}
