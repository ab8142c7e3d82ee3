//! Reading the identity of a Kubernetes object held as JSON.

use serde_json::Value;

pub fn api_version_of(object: &Value) -> &str {
    object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn kind_of(object: &Value) -> &str {
    object.get("kind").and_then(Value::as_str).unwrap_or("")
}

// These run several times per object on every plan.
pub fn name_of(object: &Value) -> &str {
    metadata_str(object, "name").unwrap_or("")
}

pub fn namespace_of(object: &Value) -> Option<&str> {
    metadata_str(object, "namespace")
}

fn metadata_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.metadata_field(field)?.as_str()
}

/// A field of an object's `metadata` (`uid`, `labels`, …), read without serde_json's
/// `pointer`, which allocates a string per path segment.
pub trait Metadata {
    fn metadata_field(&self, field: &str) -> Option<&Value>;
}

impl Metadata for Value {
    fn metadata_field(&self, field: &str) -> Option<&Value> {
        self.get("metadata")?.get(field)
    }
}

/// Identity of one object in the cluster: its group, kind, namespace and name. The version in
/// `api_version` is the one it is read and written at, never part of identity (equality, order
/// and hashing ignore it), so a chart moving `autoscaling/v1` to `v2`, or a custom resource
/// from `v1beta1` to `v1`, updates the same object (as Flux's ssa and kapp key objects).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ObjectKey {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    pub fn of(object: &Value) -> Self {
        ObjectKey {
            api_version: api_version_of(object).to_string(),
            kind: kind_of(object).to_string(),
            namespace: namespace_of(object).map(str::to_string),
            name: name_of(object).to_string(),
        }
    }

    pub fn gvk(&self) -> kube::core::GroupVersionKind {
        let (group, version) = match self.api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", self.api_version.as_str()),
        };
        kube::core::GroupVersionKind::gvk(group, version, &self.kind)
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {} {ns}/{}", self.api_version, self.kind, self.name),
            None => write!(f, "{} {} {}", self.api_version, self.kind, self.name),
        }
    }
}

/// Name prefix of the Secret that keeps a local state's digest key in its project's namespace
/// (`ops::digest_key`); it goes with its namespace, so it never keeps one alive.
pub const DIGEST_KEY_SECRET_PREFIX: &str = "todoplan-digest-key-";

/// The API group of an `apiVersion` (`""` for the core group's `v1`).
pub fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(g, _)| g)
}

/// An object's identity borrowed from where it is held (a key, a record, a manifest): group,
/// kind, namespace, name. Sets of them cost no copy of the strings.
pub type Identity<'a> = (&'a str, &'a str, Option<&'a str>, &'a str);

/// The identity of an object held as JSON.
pub fn identity_of(object: &Value) -> Identity<'_> {
    (
        group_of(api_version_of(object)),
        kind_of(object),
        namespace_of(object),
        name_of(object),
    )
}

impl ObjectKey {
    /// The API group (empty for the core group).
    pub fn group(&self) -> &str {
        group_of(&self.api_version)
    }

    pub fn identity(&self) -> Identity<'_> {
        (
            self.group(),
            &self.kind,
            self.namespace.as_deref(),
            &self.name,
        )
    }
}

/// `value` with no spare room in any of its maps and lists. A map parsed from JSON or grown by
/// inserts keeps room for up to twice its entries, at 104 bytes an entry; what a plan keeps to
/// its end (the before and after of every unchanged object) is compacted once.
pub fn shrink_to_fit(value: &mut Value) {
    match value {
        Value::Object(map) => {
            // Collected from an exact-size iterator: exactly as many entries as it holds, in
            // the same order.
            *map = std::mem::take(map)
                .into_iter()
                .map(|(k, mut v)| {
                    shrink_to_fit(&mut v);
                    (k, v)
                })
                .collect();
        }
        Value::Array(items) => {
            items.iter_mut().for_each(shrink_to_fit);
            items.shrink_to_fit();
        }
        _ => {}
    }
}

impl PartialEq for ObjectKey {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}

impl Eq for ObjectKey {}

impl std::hash::Hash for ObjectKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

impl PartialOrd for ObjectKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ObjectKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.identity().cmp(&other.identity())
    }
}

#[cfg(test)]
mod identity_tests {
    use super::*;

    fn key(api_version: &str, kind: &str, name: &str) -> ObjectKey {
        ObjectKey {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: Some("todo".into()),
            name: name.into(),
        }
    }

    #[test]
    fn identities_of_a_key_and_of_its_object_agree() {
        let object = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "todo"}});
        assert_eq!(
            identity_of(&object),
            key("apps/v2", "Deployment", "web").identity()
        );
    }

    #[test]
    fn shrinking_keeps_the_value_and_its_key_order() {
        let text = r#"{"kind":"ConfigMap","metadata":{"name":"c","labels":{"z":"1","a":"2"}},"data":{},"list":[{"b":1,"a":[1,2,3]}],"n":null}"#;
        let mut value: Value = serde_json::from_str(text).unwrap();
        if let Some(meta) = value["metadata"].as_object_mut() {
            for i in 0..20 {
                meta.insert(format!("server-{i}"), Value::from(i));
            }
            meta.retain(|k, _| !k.starts_with("server-"));
        }
        shrink_to_fit(&mut value);
        assert_eq!(serde_json::to_string(&value).unwrap(), text);
    }

    #[test]
    fn the_version_is_not_part_of_identity() {
        let v1 = key("autoscaling/v1", "HorizontalPodAutoscaler", "web");
        let v2 = key("autoscaling/v2", "HorizontalPodAutoscaler", "web");
        assert_eq!(v1, v2);
        let mut set = std::collections::BTreeSet::new();
        set.insert(v1.clone());
        assert!(set.contains(&v2));
        let hashed: std::collections::HashSet<ObjectKey> = [v1].into_iter().collect();
        assert!(hashed.contains(&v2));
    }

    #[test]
    fn group_kind_namespace_and_name_are() {
        let base = key("apps/v1", "Deployment", "web");
        assert_ne!(base, key("extensions/v1beta1", "Deployment", "web"));
        assert_ne!(base, key("apps/v1", "StatefulSet", "web"));
        assert_ne!(base, key("apps/v1", "Deployment", "api"));
        let mut other_ns = base.clone();
        other_ns.namespace = Some("prod".into());
        assert_ne!(base, other_ns);
        assert_ne!(
            key("v1", "Service", "x"),
            key("example.com/v1", "Service", "x")
        );
    }
}
