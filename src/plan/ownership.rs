//! Ownership migration: the fields that the tool an object came from set (`kubectl apply`
//! client-side, `kubectl create`, helm) become todoplan's when todoplan takes the object over,
//! as Flux's `TestApply_Cleanup` does.
//!
//! Without it, fields those managers own (`spec.revisionHistoryLimit`, `spec.type`, kubectl's
//! `last-applied-configuration` annotation) can never be removed by server-side apply, and a
//! JSON patch that removes a field the API server defaults is undone by the server in the same
//! request: the object would show the same "drift" after every apply.
//!
//! Apply re-attributes the entries of those managers in `metadata.managedFields` to todoplan's
//! own apply entry, then applies as planned: the fields todoplan does not declare are removed,
//! and the API server fills in its defaults again. The plan shows exactly that: it dry-runs the
//! removal as a JSON patch, so the server says which fields come back as defaults.

use serde_json::{Map, Value, json};

use crate::drift::{FieldPath, is_prefix, leaf_paths, resolve};
use crate::model::object::Metadata;
use crate::observe::FIELD_MANAGER;

pub use crate::observe::is_origin_entry;

fn entries(object: &Value) -> &[Value] {
    object
        .metadata_field("managedFields")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The origin managers that own fields of `object`, in the order of its entries.
pub fn origin_managers(object: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in entries(object).iter().filter(|e| is_origin_entry(e)) {
        let m = e
            .get("manager")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// The fields only origin managers own in `applied` (a server-side apply's answer, dry-run or
/// not, so todoplan's own entry lists exactly what it declares): after the migration todoplan
/// owns them without declaring them, so its apply removes them. As JSON-patch removals,
/// deepest and highest-indexed first.
pub fn undeclared_origin_fields(applied: &Value) -> Vec<(String, Value)> {
    let mut origin: Vec<FieldPath> = Vec::new();
    let mut others: Vec<FieldPath> = Vec::new();
    for e in entries(applied) {
        let paths = leaf_paths(e.get("fieldsV1").unwrap_or(&Value::Null));
        if is_origin_entry(e) {
            origin.extend(paths);
        } else {
            // todoplan's own and every other manager's (controllers included): still owned.
            others.extend(paths);
        }
    }
    origin.sort_by_key(Vec::len);
    let mut out: Vec<(FieldPath, String, Value)> = Vec::new();
    for path in origin {
        // Owned as well, or something inside it is (a list item todoplan declares a field of).
        let owned_elsewhere = others.iter().any(|o| is_prefix(&path, o));
        if owned_elsewhere || out.iter().any(|(p, _, _)| is_prefix(p, &path)) {
            continue;
        }
        if let Some((pointer, value)) = resolve(applied, &path) {
            out.push((path, pointer, value.clone()));
        }
    }
    let mut removals: Vec<(String, Value)> = out.into_iter().map(|(_, p, v)| (p, v)).collect();
    removals.sort_by(|a, b| crate::drift::pointer_order(&b.0, &a.0));
    removals
}

/// JSON-patch operations that remove `fields` (each guarded by a test of its value).
pub fn removal_ops(fields: &[(String, Value)]) -> Vec<Value> {
    fields
        .iter()
        .flat_map(|(pointer, value)| {
            [
                json!({"op": "test", "path": pointer, "value": value}),
                json!({"op": "remove", "path": pointer}),
            ]
        })
        .collect()
}

/// What apply leaves of `applied` once the migrated fields are removed: each removed field is
/// absent, unless the API server fills it in again (`defaulted`: the dry-run of the removal).
pub fn after_migration(applied: &mut Value, fields: &[(String, Value)], defaulted: &Value) {
    for (pointer, _) in fields {
        match defaulted.pointer(pointer) {
            Some(v) => set_pointer(applied, pointer, v.clone()),
            None => remove_at(applied, pointer),
        }
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Removes what `pointer` names from `value` (nothing when it names nothing).
pub fn remove_at(value: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = unescape(last);
    match value.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.remove(&last);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < a.len()
            {
                a.remove(i);
            }
        }
        _ => {}
    }
}

fn set_pointer(value: &mut Value, pointer: &str, new: Value) {
    if let Some(slot) = value.pointer_mut(pointer) {
        *slot = new;
        return;
    }
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    if let Some(Value::Object(m)) = value.pointer_mut(parent) {
        m.insert(unescape(last), new);
    }
}

/// The live object's managedFields with every origin manager's entry merged into todoplan's
/// apply entry (made from them when todoplan has none yet, at `api_version`): sent with a
/// JSON patch right before todoplan's apply.
pub fn migrated_managed_fields(live: &Value, api_version: &str) -> Vec<Value> {
    let mut kept: Vec<Value> = Vec::new();
    let mut merged = Value::Object(Map::new());
    let mut time: Option<Value> = None;
    for e in entries(live) {
        if is_origin_entry(e) {
            merge_fields(&mut merged, e.get("fieldsV1").unwrap_or(&Value::Null));
            time = e.get("time").cloned().or(time);
        } else {
            kept.push(e.clone());
        }
    }
    let ours = kept.iter_mut().find(|e| {
        e.get("manager").and_then(Value::as_str) == Some(FIELD_MANAGER)
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
            && e.get("subresource").is_none()
    });
    match ours {
        Some(entry) => {
            if let Some(fields) = entry.get_mut("fieldsV1") {
                merge_fields(fields, &merged);
            }
        }
        None => {
            let mut entry = json!({
                "manager": FIELD_MANAGER,
                "operation": "Apply",
                "apiVersion": api_version,
                "fieldsType": "FieldsV1",
                "fieldsV1": merged,
            });
            if let (Some(t), Some(m)) = (time, entry.as_object_mut()) {
                m.insert("time".into(), t);
            }
            kept.push(entry);
        }
    }
    kept
}

/// The union of two managedFields field sets.
fn merge_fields(into: &mut Value, from: &Value) {
    let Some(from) = from.as_object() else { return };
    if !into.is_object() {
        *into = Value::Object(Map::new());
    }
    let Some(into) = into.as_object_mut() else {
        return;
    };
    for (k, v) in from {
        merge_fields(into.entry(k.clone()).or_insert_with(|| json!({})), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(manager: &str, operation: &str, fields: Value) -> Value {
        json!({"manager": manager, "operation": operation, "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": fields})
    }

    fn service(managed: Vec<Value>) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "a"},
                         "managedFields": managed},
            "spec": {"type": "ClusterIP", "sessionAffinity": "None", "selector": {"app": "web"},
                     "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}
        })
    }

    fn kubectl_fields() -> Value {
        json!({
            "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
            "f:spec": {"f:type": {}, "f:sessionAffinity": {}, "f:selector": {}, "f:ports": {
                ".": {}, "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}}}
        })
    }

    #[test]
    fn origin_managers_are_the_creating_tools_not_hand_edits() {
        for (m, op, origin) in [
            ("kubectl-client-side-apply", "Update", true),
            ("kubectl-create", "Update", true),
            ("helm", "Update", true),
            ("before-first-apply", "Update", true),
            ("kubectl", "Apply", true),
            ("kubectl", "Update", false),
            ("kubectl-edit", "Update", false),
            ("kubectl-set", "Update", false),
            ("todoplan", "Apply", false),
            ("kube-controller-manager", "Update", false),
        ] {
            assert_eq!(
                is_origin_entry(&entry(m, op, json!({}))),
                origin,
                "{m} {op}"
            );
        }
        let mut scale = entry("kubectl-client-side-apply", "Update", json!({}));
        scale["subresource"] = json!("status");
        assert!(!is_origin_entry(&scale), "a status entry is never migrated");
    }

    #[test]
    fn undeclared_fields_are_those_only_origin_managers_own() {
        let applied = service(vec![
            entry("kubectl-client-side-apply", "Update", kubectl_fields()),
            entry(
                "todoplan",
                "Apply",
                json!({"f:spec": {"f:selector": {}, "f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}}}),
            ),
            entry(
                "kubectl-annotate",
                "Update",
                json!({"f:metadata": {"f:annotations": {"f:team": {}}}}),
            ),
        ]);
        let pointers: Vec<String> = undeclared_origin_fields(&applied)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(
            pointers,
            [
                "/spec/type",
                "/spec/sessionAffinity",
                "/spec/ports/0/targetPort",
                "/spec/ports/0/protocol",
                "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
            ]
        );
    }

    #[test]
    fn the_planned_object_keeps_what_the_server_defaults_again() {
        let mut applied = service(vec![]);
        let fields = vec![
            ("/spec/type".to_string(), json!("ClusterIP")),
            (
                "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"
                    .to_string(),
                json!("{}"),
            ),
        ];
        // The server's answer to the removal: the type comes back, the annotation does not.
        let mut defaulted = applied.clone();
        defaulted["metadata"]["annotations"]
            .as_object_mut()
            .unwrap()
            .remove("kubectl.kubernetes.io/last-applied-configuration");
        after_migration(&mut applied, &fields, &defaulted);
        assert_eq!(applied["spec"]["type"], "ClusterIP");
        assert_eq!(
            applied["metadata"]["annotations"],
            json!({"team": "a"}),
            "the annotation is gone"
        );
    }

    #[test]
    fn migration_merges_origin_entries_into_todoplans_apply_entry() {
        let live = service(vec![
            entry("kubectl-client-side-apply", "Update", kubectl_fields()),
            entry(
                "todoplan",
                "Apply",
                json!({"f:metadata": {"f:labels": {"f:todoplan.dev/project": {}}}}),
            ),
            entry(
                "kubectl-edit",
                "Update",
                json!({"f:metadata": {"f:annotations": {"f:team": {}}}}),
            ),
        ]);
        let migrated = migrated_managed_fields(&live, "v1");
        let managers: Vec<&str> = migrated
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert_eq!(managers, ["todoplan", "kubectl-edit"]);
        let ours = &migrated[0]["fieldsV1"];
        assert!(
            ours.pointer("/f:metadata/f:labels/f:todoplan.dev~1project")
                .is_some()
        );
        assert!(ours.pointer("/f:spec/f:type").is_some());
        // Adopted: todoplan has no entry yet, one is made from the origin entries.
        let adopted = migrated_managed_fields(
            &service(vec![entry(
                "kubectl-create",
                "Update",
                json!({"f:spec": {"f:type": {}}}),
            )]),
            "v1",
        );
        assert_eq!(adopted.len(), 1);
        assert_eq!(adopted[0]["manager"], "todoplan");
        assert_eq!(adopted[0]["operation"], "Apply");
        assert_eq!(adopted[0]["fieldsV1"], json!({"f:spec": {"f:type": {}}}));
    }
}
