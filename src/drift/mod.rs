//! Drift: what changed in the cluster outside todoplan since the last apply.
//!
//! Detection reads server-side apply's field ownership (`metadata.managedFields`), not values:
//! a field todoplan applied that another manager now owns was changed by that manager; a field
//! another (non-controller) manager added was added by it. Comparing values instead would
//! report every server-side normalisation (`0.5` CPU stored as `500m`) as drift.
//! Fields owned by controllers (the HPA's replicas, the scheduler, kubelet, status) are not
//! drift, nor are paths listed in a release's `ignore_changes`.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::model::drift::{DriftItem, DriftKind};
use crate::model::object::Metadata;
use crate::observe::{FIELD_MANAGER, is_foreign_field_owner};
use crate::spec::IgnoreChange;

/// One step of a managedFields path.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Field(String),
    /// A list item identified by its key fields (`k:{"name":"web"}`).
    Key(Map<String, Value>),
    /// A set item identified by its value (`v:"a"`).
    Value(Value),
    Index(usize),
}

pub type FieldPath = Vec<Segment>;

/// Every owned leaf of a `fieldsV1` tree. A `.` entry (the item itself) yields its parent path.
pub fn leaf_paths(fields: &Value) -> Vec<FieldPath> {
    let mut out = Vec::new();
    walk_fields(fields, &mut Vec::new(), &mut out);
    out
}

fn walk_fields(node: &Value, prefix: &mut FieldPath, out: &mut Vec<FieldPath>) {
    let Some(map) = node.as_object() else { return };
    if map.is_empty() {
        if !prefix.is_empty() {
            out.push(prefix.clone());
        }
        return;
    }
    for (k, child) in map {
        if k == "." {
            out.push(prefix.clone());
            continue;
        }
        let seg = if let Some(f) = k.strip_prefix("f:") {
            Segment::Field(f.to_string())
        } else if let Some(j) = k.strip_prefix("k:") {
            match serde_json::from_str::<Map<String, Value>>(j) {
                Ok(m) => Segment::Key(m),
                Err(_) => continue,
            }
        } else if let Some(j) = k.strip_prefix("v:") {
            match serde_json::from_str::<Value>(j) {
                Ok(v) => Segment::Value(v),
                Err(_) => continue,
            }
        } else if let Some(i) = k.strip_prefix("i:") {
            match i.parse() {
                Ok(i) => Segment::Index(i),
                Err(_) => continue,
            }
        } else {
            continue;
        };
        prefix.push(seg);
        walk_fields(child, prefix, out);
        prefix.pop();
    }
}

/// `spec.template.spec.containers[name=web].env[name=FOO]`.
pub fn display(path: &FieldPath) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Segment::Field(f) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(f);
            }
            Segment::Key(m) => {
                let keys: Vec<String> = m
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}={}",
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string())
                        )
                    })
                    .collect();
                s.push_str(&format!("[{}]", keys.join(",")));
            }
            Segment::Value(v) => s.push_str(&format!("[{v}]")),
            Segment::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// The JSON pointer and value of `path` in `object`, if present.
pub fn resolve<'a>(object: &'a Value, path: &FieldPath) -> Option<(String, &'a Value)> {
    let mut cur = object;
    let mut pointer = String::new();
    for seg in path {
        match seg {
            Segment::Field(f) => {
                cur = cur.get(f)?;
                pointer.push('/');
                pointer.push_str(&f.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Key(keys) => {
                let items = cur.as_array()?;
                let i = items
                    .iter()
                    .position(|item| keys.iter().all(|(k, v)| item.get(k) == Some(v)))?;
                cur = &items[i];
                pointer.push_str(&format!("/{i}"));
            }
            Segment::Value(v) => {
                let items = cur.as_array()?;
                let i = items.iter().position(|item| item == v)?;
                cur = &items[i];
                pointer.push_str(&format!("/{i}"));
            }
            Segment::Index(i) => {
                cur = cur.as_array()?.get(*i)?;
                pointer.push_str(&format!("/{i}"));
            }
        }
    }
    Some((pointer, cur))
}

/// Whether `prefix` is `path` or an ancestor of it.
pub fn is_prefix(prefix: &FieldPath, path: &FieldPath) -> bool {
    prefix.len() <= path.len() && prefix.iter().zip(path).all(|(a, b)| a == b)
}

/// Fields the API server sets itself on every object of a kind, credited to whoever created it:
/// a Namespace's `kubernetes.io/metadata.name` label (always its name; removing it is undone).
fn set_by_the_api_server(path: &FieldPath, kind: &str) -> bool {
    kind == "Namespace"
        && matches!(path.as_slice(), [Segment::Field(m), Segment::Field(l), Segment::Field(k)]
            if m == "metadata" && l == "labels" && k == "kubernetes.io/metadata.name")
}

fn ignored(path: &FieldPath, kind: &str, name: &str, rules: &[IgnoreChange], live: &Value) -> bool {
    rules.iter().any(|r| {
        r.kind.as_deref().is_none_or(|k| k == kind)
            && r.name.as_deref().is_none_or(|n| n == name)
            && rule_covers(&r.path, path, live)
    })
}

/// One token of an `ignore_changes` path: a field name (`*`: any), or a list-element selector
/// (`[0]`, `[name=web]`, `[*]`).
enum Token<'a> {
    Field(&'a str),
    Element(&'a str),
}

fn tokens(rule: &[String]) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    for segment in rule {
        match segment.strip_suffix(']').and_then(|s| s.split_once('[')) {
            Some((field, selector)) => {
                out.push(Token::Field(field));
                out.push(Token::Element(selector));
            }
            None => out.push(Token::Field(segment)),
        }
    }
    out
}

/// Whether the rule's path covers `path` (it names the field or one of its parents). List
/// elements in `path` (managedFields keys them by their key fields) are matched against the
/// rule's selector by index (found in the live list), by a key field, or `*`; a rule that names
/// no element (`containers.image`) covers every element.
fn rule_covers(rule: &[String], path: &FieldPath, live: &Value) -> bool {
    let tokens = tokens(rule);
    let mut t = 0;
    let mut cursor = Some(live);
    for segment in path {
        if t == tokens.len() {
            return true;
        }
        match segment {
            Segment::Field(f) => {
                match tokens[t] {
                    Token::Field(want) if want == f || want == "*" => t += 1,
                    _ => return false,
                }
                cursor = cursor.and_then(|c| c.get(f));
            }
            element => {
                let items = cursor.and_then(Value::as_array);
                let index = match element {
                    Segment::Index(i) => Some(*i),
                    Segment::Key(key) => items.and_then(|items| {
                        items
                            .iter()
                            .position(|item| key.iter().all(|(k, v)| item.get(k) == Some(v)))
                    }),
                    Segment::Value(v) => {
                        items.and_then(|items| items.iter().position(|item| item == v))
                    }
                    Segment::Field(_) => None,
                };
                let item = index.and_then(|i| items.and_then(|items| items.get(i)));
                if let Token::Element(selector) = tokens[t] {
                    let hit = selector == "*"
                        || selector
                            .parse::<usize>()
                            .ok()
                            .is_some_and(|n| Some(n) == index)
                        || selector.split_once('=').is_some_and(|(k, v)| {
                            let from_key = match element {
                                Segment::Key(key) => key.get(k).and_then(Value::as_str),
                                _ => None,
                            };
                            from_key.or_else(|| item.and_then(|i| i.get(k)).and_then(Value::as_str))
                                == Some(v)
                        });
                    if !hit {
                        return false;
                    }
                    t += 1;
                }
                // A rule that names no element covers every element: the token stays.
                cursor = item;
            }
        }
    }
    t == tokens.len()
}

/// A field added outside todoplan that apply removes (server-side apply never removes fields
/// other managers own). The `test` op guards against the object having moved since.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignField {
    pub pointer: String,
    pub value: Value,
}

impl ForeignField {
    pub fn patch_ops(&self) -> Vec<Value> {
        vec![
            json!({"op": "test", "path": self.pointer, "value": self.value}),
            json!({"op": "remove", "path": self.pointer}),
        ]
    }
}

/// Drift of one object: `recorded` is what todoplan applied (redacted), `live` what is there.
pub fn object_drift(
    address: &str,
    recorded: &Value,
    live: &Value,
    rules: &[IgnoreChange],
) -> (Vec<DriftItem>, Vec<ForeignField>) {
    let kind = recorded.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = recorded
        .metadata_field("name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let entries = live
        .metadata_field("managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut ours: Vec<FieldPath> = Vec::new();
    // (path, manager, time, taken over by apply instead of removed with a patch)
    let mut foreign: Vec<(FieldPath, String, Option<String>, bool)> = Vec::new();
    // When todoplan last applied (RFC 3339 times in UTC compare as text).
    let last_ours = entries
        .iter()
        .filter(|e| e.get("manager").and_then(Value::as_str) == Some(FIELD_MANAGER))
        .filter_map(|e| e.get("time").and_then(Value::as_str))
        .max();
    // Fields of the tool the object came from (kubectl, helm): apply takes them over (see
    // `plan::ownership`), never with a removal patch. Set before todoplan's last apply, they are
    // not drift since it either; set after (a `kubectl apply` by hand), they are. Times have
    // whole seconds: one in the same second as todoplan's counts as after.
    for e in &entries {
        let manager = e.get("manager").and_then(Value::as_str).unwrap_or("");
        let time = e.get("time").and_then(Value::as_str).map(str::to_string);
        let paths = leaf_paths(e.get("fieldsV1").unwrap_or(&Value::Null));
        if manager == FIELD_MANAGER {
            ours.extend(paths);
            continue;
        }
        let taken_over = crate::observe::is_origin_entry(e);
        let reported = if taken_over {
            time.as_deref() >= last_ours
        } else {
            is_foreign_field_owner(e)
        };
        if reported {
            foreign.extend(
                paths
                    .into_iter()
                    .map(|p| (p, manager.to_string(), time.clone(), taken_over)),
            );
        }
    }
    let mut items = Vec::new();
    let mut removals = Vec::new();
    let mut reported: Vec<FieldPath> = Vec::new();
    // Longest paths last so an added list item is reported once, not once per field in it.
    foreign.sort_by_key(|(p, _, _, _)| p.len());
    for (path, manager, time, taken_over) in foreign {
        if ours.contains(&path)
            // A map or list item someone else made but todoplan also fills (the labels map
            // `kubectl create` made, before todoplan added its labels): it is ours as well.
            || ours.iter().any(|o| o.len() > path.len() && is_prefix(&path, o))
            || reported.iter().any(|r| is_prefix(r, &path))
            || ignored(&path, kind, name, rules, live)
            || set_by_the_api_server(&path, kind)
        {
            continue;
        }
        let Some((pointer, live_value)) = resolve(live, &path) else {
            continue;
        };
        let recorded_value = resolve(recorded, &path).map(|(_, v)| v.clone());
        // Any field of a Secret can hold its values (data, and annotations such as kubectl's
        // last-applied-configuration): none is ever shown.
        let secret_data = kind == "Secret";
        let (shown_recorded, shown_live) = if secret_data {
            (
                recorded_value.as_ref().map(|_| json!("(sensitive value)")),
                Some(json!("(sensitive value changed)")),
            )
        } else {
            (recorded_value.clone(), Some(live_value.clone()))
        };
        items.push(DriftItem {
            address: address.to_string(),
            field: display(&path),
            kind: DriftKind::Changed,
            recorded: shown_recorded,
            live: shown_live,
            manager: Some(manager),
            changed_at: time,
            note: None,
        });
        if recorded_value.is_none() && !taken_over {
            removals.push(ForeignField {
                pointer,
                value: live_value.clone(),
            });
        }
        reported.push(path);
    }
    // Keys removed by hand (`kubectl label NAME key-`, `kubectl annotate`, `kubectl edit` of a
    // ConfigMap's data): the field is gone, and with it every manager's claim on it, so field
    // ownership cannot tell. Maps the server never prunes or defaults are compared key by key.
    let mut maps = vec![vec!["metadata", "labels"], vec!["metadata", "annotations"]];
    if matches!(kind, "ConfigMap" | "Secret") {
        maps.push(vec!["data"]);
        maps.push(vec!["binaryData"]);
    }
    for map in maps {
        let pointer = format!("/{}", map.join("/"));
        let Some(declared) = recorded.pointer(&pointer).and_then(Value::as_object) else {
            continue;
        };
        let live_map = live.pointer(&pointer).and_then(Value::as_object);
        for (key, value) in declared {
            if value.is_null() || live_map.is_some_and(|m| m.contains_key(key)) {
                continue;
            }
            let mut path: FieldPath = map.iter().map(|s| Segment::Field(s.to_string())).collect();
            path.push(Segment::Field(key.clone()));
            if ignored(&path, kind, name, rules, live) || set_by_the_api_server(&path, kind) {
                continue;
            }
            items.push(DriftItem {
                address: address.to_string(),
                field: display(&path),
                kind: DriftKind::Changed,
                recorded: Some(if kind == "Secret" {
                    json!("(sensitive value)")
                } else {
                    value.clone()
                }),
                live: None,
                manager: None,
                changed_at: None,
                note: Some("removed outside todoplan".into()),
            });
        }
    }
    // Removals run as one JSON patch, in order: removing list item 1 shifts item 2 to index 1.
    // So deepest and highest-indexed first (reverse pointer order, numbers compared as numbers).
    removals.sort_by(|a, b| pointer_order(&b.pointer, &a.pointer));
    (items, removals)
}

/// Orders JSON pointers segment by segment, numeric segments as numbers.
pub fn pointer_order(a: &str, b: &str) -> std::cmp::Ordering {
    let seg = |s: &str| -> (u8, usize, String) {
        match s.parse::<usize>() {
            Ok(n) => (0, n, String::new()),
            Err(_) => (1, 0, s.to_string()),
        }
    };
    a.split('/').map(seg).cmp(b.split('/').map(seg))
}

/// Copies the live value into `desired` at every path an `ignore_changes` rule of this object
/// names (where `desired` sets one), so applying it never sets back an ignored change.
pub fn keep_ignored_fields(desired: &mut Value, live: &Value, rules: &[IgnoreChange]) {
    let kind = desired
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = desired
        .metadata_field("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    for r in rules {
        if r.kind.as_deref().is_some_and(|k| k != kind)
            || r.name.as_deref().is_some_and(|n| n != name)
        {
            continue;
        }
        copy_at(desired, live, &r.path);
    }
}

fn copy_at(desired: &mut Value, live: &Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        *desired = live.clone();
        return;
    };
    // `containers[0]`, `containers[name=web]`, `containers[*]`: the field, then list elements.
    if let Some((field, selector)) = first.strip_suffix(']').and_then(|s| s.split_once('[')) {
        let (Some(d), Some(l)) = (desired.get_mut(field), live.get(field)) else {
            return;
        };
        let (Value::Array(d), Value::Array(l)) = (d, l) else {
            return;
        };
        if selector == "*" {
            for (dv, lv) in d.iter_mut().zip(l) {
                copy_at(dv, lv, rest);
            }
        } else if let Ok(i) = selector.parse::<usize>() {
            if let (Some(dv), Some(lv)) = (d.get_mut(i), l.get(i)) {
                copy_at(dv, lv, rest);
            }
        } else if let Some((key, value)) = selector.split_once('=') {
            let matches = |v: &Value| v.get(key).and_then(Value::as_str) == Some(value);
            if let (Some(dv), Some(lv)) = (
                d.iter_mut().find(|v| matches(v)),
                l.iter().find(|v| matches(v)),
            ) {
                copy_at(dv, lv, rest);
            }
        }
        return;
    }
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => {
            let keys: Vec<String> = if first == "*" {
                d.keys().cloned().collect()
            } else {
                vec![first.clone()]
            };
            for k in keys {
                if let (Some(dv), Some(lv)) = (d.get_mut(&k), l.get(&k)) {
                    copy_at(dv, lv, rest);
                }
            }
        }
        (Value::Array(d), Value::Array(l)) if first == "*" => {
            for (dv, lv) in d.iter_mut().zip(l) {
                copy_at(dv, lv, rest);
            }
        }
        _ => {}
    }
}

/// Objects carrying this project's labels that todoplan never applied.
pub fn unmanaged(address: &str) -> DriftItem {
    DriftItem {
        address: address.to_string(),
        field: "(object)".into(),
        kind: DriftKind::Unmanaged,
        recorded: None,
        live: None,
        manager: None,
        changed_at: None,
        note: None,
    }
}

pub fn deleted(address: &str) -> DriftItem {
    DriftItem {
        address: address.to_string(),
        field: "(object)".into(),
        kind: DriftKind::Deleted,
        recorded: None,
        live: None,
        manager: None,
        changed_at: None,
        note: None,
    }
}

/// Unique fields per object: a helper for tests and summaries.
pub fn fields(items: &[DriftItem]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|i| (i.address.clone(), i.field.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_changes_reaches_list_elements_by_index_name_and_star() {
        let desired = serde_json::json!({"kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "app:1"}, {"name": "sidecar", "image": "proxy:1"}]}}}});
        let live = serde_json::json!({"kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "app:hotfix"}, {"name": "sidecar", "image": "proxy:2"}]}}}});
        let image = |v: &Value, i: usize| {
            v.pointer(&format!("/spec/template/spec/containers/{i}/image"))
                .and_then(Value::as_str)
                .unwrap()
                .to_string()
        };
        for (rule, app, sidecar) in [
            (
                "Deployment/web:spec.template.spec.containers[0].image",
                "app:hotfix",
                "proxy:1",
            ),
            (
                "Deployment/*:spec.template.spec.containers[name=sidecar].image",
                "app:1",
                "proxy:2",
            ),
            (
                "spec.template.spec.containers[*].image",
                "app:hotfix",
                "proxy:2",
            ),
            (
                "Deployment/other:spec.template.spec.containers[0].image",
                "app:1",
                "proxy:1",
            ),
        ] {
            let parsed = IgnoreChange::parse(rule).unwrap_or_else(|e| panic!("{rule}: {e}"));
            let mut d = desired.clone();
            keep_ignored_fields(&mut d, &live, &[parsed]);
            assert_eq!(
                (image(&d, 0), image(&d, 1)),
                (app.to_string(), sidecar.to_string()),
                "{rule}"
            );
        }
        assert!(IgnoreChange::parse("spec.containers[name=]").is_err());
        assert!(IgnoreChange::parse("spec.containers[x").is_err());
    }

    fn deployment(managed: Value, replicas: i64, env: Value, labels: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels, "managedFields": managed},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": "i", "env": env}]}}}
        })
    }

    fn recorded() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
               "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": "i", "env": [{"name": "A", "value": "1"}]}]}}}})
    }

    fn ours() -> Value {
        json!({"manager": "todoplan", "operation": "Apply", "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:name": {}, "f:image": {}, "f:env": {"k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}})
    }

    #[test]
    fn fields_of_the_tool_an_object_came_from_are_drift_only_when_set_after_todoplans_apply() {
        let mut ours = ours();
        ours["time"] = json!("2026-12-01T10:00:00Z");
        let kubectl = |time: &str| {
            json!({"manager": "kubectl-client-side-apply", "operation": "Update", "time": time,
                   "fieldsV1": {"f:spec": {"f:replicas": {}, "f:revisionHistoryLimit": {}}}})
        };
        let mut live = deployment(
            json!([ours.clone(), kubectl("2026-12-01T09:00:00Z")]),
            1,
            json!([{"name": "A", "value": "1"}]),
            json!({"app": "web"}),
        );
        live["spec"]["revisionHistoryLimit"] = json!(10);
        let (items, removals) = object_drift("d", &recorded(), &live, &[]);
        assert!(
            items.is_empty(),
            "set before todoplan took it over: {items:?}"
        );
        assert!(removals.is_empty());
        // The same second or later: a `kubectl apply` by hand. Reported; apply takes the fields
        // over (plan::ownership) instead of a removal patch the server would undo.
        for time in ["2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z"] {
            live["metadata"]["managedFields"] = json!([ours.clone(), kubectl(time)]);
            let (items, removals) = object_drift("d", &recorded(), &live, &[]);
            let fields: Vec<&str> = items.iter().map(|i| i.field.as_str()).collect();
            assert_eq!(
                fields,
                ["spec.replicas", "spec.revisionHistoryLimit"],
                "{time}"
            );
            assert!(removals.is_empty(), "{removals:?}");
        }
    }

    #[test]
    fn keys_removed_by_hand_from_labels_annotations_and_data_are_drift() {
        let recorded = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "labels": {"app": "web", "gone": "x"}, "annotations": {"nil": null}},
            "data": {"A": "(sensitive value) d1", "B": "(sensitive value) d2"}});
        let live = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "labels": {"app": "web"}}, "data": {"A": "eA=="}});
        let (items, removals) = object_drift("secret.s", &recorded, &live, &[]);
        let fields: Vec<(&str, Option<&Value>)> = items
            .iter()
            .map(|i| (i.field.as_str(), i.recorded.as_ref()))
            .collect();
        assert_eq!(
            fields,
            [
                // Any field of a Secret can hold its values: none is shown.
                ("metadata.labels.gone", Some(&json!("(sensitive value)"))),
                ("data.B", Some(&json!("(sensitive value)"))),
            ],
            "a null in the manifest is not a key the server keeps"
        );
        assert!(
            removals.is_empty(),
            "apply restores them; nothing to remove"
        );
    }

    #[test]
    fn a_namespace_made_by_kubectl_create_and_adopted_has_no_drift() {
        // kubectl create made the labels map and the API server's name label (credited to it);
        // todoplan's apply then added its instance labels to the same map.
        let created = json!({"manager": "kubectl-create", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}}}}});
        let applied = json!({"manager": "todoplan", "operation": "Apply", "fieldsV1": {"f:metadata": {"f:labels": {"f:todoplan.dev/project": {}}}}});
        let live = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "todo",
            "labels": {"kubernetes.io/metadata.name": "todo", "todoplan.dev/project": "todo"},
            "managedFields": [created, applied]}});
        let recorded = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "todo",
            "labels": {"todoplan.dev/project": "todo"}}});
        let (items, removals) = object_drift("namespace.todo", &recorded, &live, &[]);
        assert!(items.is_empty(), "{items:?}");
        assert!(removals.is_empty());
        // A label kubectl adds to that namespace afterwards is still drift.
        let label = json!({"manager": "kubectl-label", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}});
        let mut labelled = live.clone();
        labelled["metadata"]["labels"]["team"] = json!("a");
        labelled["metadata"]["managedFields"]
            .as_array_mut()
            .unwrap()
            .push(label);
        let (items, _) = object_drift("namespace.todo", &recorded, &labelled, &[]);
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].field, "metadata.labels.team");
    }

    #[test]
    fn kubectl_scale_is_reported_with_its_manager_and_values() {
        let mut o = ours();
        o["fieldsV1"]["f:spec"]["f:replicas"] = json!(null);
        let scale = json!({"manager": "kubectl", "operation": "Update", "subresource": "scale", "time": "2026-11-22T01:00:00Z", "fieldsV1": {"f:spec": {"f:replicas": {}}}});
        let live = deployment(
            json!([o, scale]),
            3,
            json!([{"name": "A", "value": "1"}]),
            json!({"app": "web"}),
        );
        let (items, removals) = object_drift(
            "release.x/apps/v1/Deployment/ns/web",
            &recorded(),
            &live,
            &[],
        );
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].field, "spec.replicas");
        assert_eq!(items[0].recorded, Some(json!(1)));
        assert_eq!(items[0].live, Some(json!(3)));
        assert_eq!(items[0].manager.as_deref(), Some("kubectl"));
        assert!(
            removals.is_empty(),
            "apply restores replicas by applying, not removing"
        );
    }

    #[test]
    fn an_added_env_var_and_label_are_reported_once_and_removable() {
        let set_env = json!({"manager": "kubectl-set", "operation": "Update", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {"f:env": {"k:{\"name\":\"FOO\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}});
        let label = json!({"manager": "kubectl-label", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}});
        let live = deployment(
            json!([ours(), set_env, label]),
            1,
            json!([{"name": "A", "value": "1"}, {"name": "FOO", "value": "bar"}]),
            json!({"app": "web", "team": "x"}),
        );
        let (items, removals) = object_drift("a", &recorded(), &live, &[]);
        let fields: Vec<&str> = items.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "metadata.labels.team",
                "spec.template.spec.containers[name=web].env[name=FOO]"
            ],
            "{items:?}"
        );
        let pointers: Vec<&str> = removals.iter().map(|r| r.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            vec![
                "/spec/template/spec/containers/0/env/1",
                "/metadata/labels/team"
            ]
        );
    }

    #[test]
    fn controller_fields_and_ignored_paths_are_not_drift() {
        let hpa = json!({"manager": "kube-controller-manager", "operation": "Update", "subresource": "scale", "fieldsV1": {"f:spec": {"f:replicas": {}}}});
        let edit = json!({"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:metadata": {"f:annotations": {"f:note": {}}}}});
        let mut live = deployment(
            json!([ours(), hpa, edit]),
            5,
            json!([{"name": "A", "value": "1"}]),
            json!({"app": "web"}),
        );
        live["metadata"]["annotations"] = json!({"note": "hi"});
        let rules = vec![IgnoreChange::parse("metadata.annotations").unwrap()];
        let (items, _) = object_drift("a", &recorded(), &live, &rules);
        assert!(items.is_empty(), "{items:?}");
        let (items, _) = object_drift("a", &recorded(), &live, &[]);
        assert_eq!(
            items.len(),
            1,
            "without the rule the annotation is drift: {items:?}"
        );
    }

    #[test]
    fn two_added_env_vars_are_removed_highest_index_first() {
        let set_env = json!({"manager": "kubectl-set", "operation": "Update", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {"f:env": {
            "k:{\"name\":\"A2\"}": {".": {}, "f:name": {}, "f:value": {}},
            "k:{\"name\":\"B\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}});
        let live = deployment(
            json!([ours(), set_env]),
            1,
            json!([{"name": "A", "value": "1"}, {"name": "A2", "value": "1"}, {"name": "B", "value": "2"}]),
            json!({"app": "web"}),
        );
        let (_, removals) = object_drift("a", &recorded(), &live, &[]);
        let pointers: Vec<&str> = removals.iter().map(|r| r.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            vec![
                "/spec/template/spec/containers/0/env/2",
                "/spec/template/spec/containers/0/env/1"
            ]
        );
        // Applied in that order, the patch leaves exactly the declared env.
        let ops: Vec<Value> = removals.iter().flat_map(|r| r.patch_ops()).collect();
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops)).unwrap();
        let mut patched = live.clone();
        json_patch::patch(&mut patched, &patch).expect("the patch applies");
        assert_eq!(
            patched.pointer("/spec/template/spec/containers/0/env"),
            Some(&json!([{"name": "A", "value": "1"}]))
        );
    }

    #[test]
    fn ignored_paths_take_the_live_value() {
        let mut desired = recorded();
        let live = deployment(json!([]), 3, json!([]), json!({}));
        keep_ignored_fields(
            &mut desired,
            &live,
            &[IgnoreChange::parse("Deployment/*:spec.replicas").unwrap()],
        );
        assert_eq!(desired["spec"]["replicas"], json!(3));
        let mut other = recorded();
        keep_ignored_fields(
            &mut other,
            &live,
            &[IgnoreChange::parse("StatefulSet/*:spec.replicas").unwrap()],
        );
        assert_eq!(other["spec"]["replicas"], json!(1), "another kind's rule");
    }

    #[test]
    fn resolve_walks_keyed_items_and_escapes_pointers() {
        let o = json!({"metadata": {"annotations": {"a/b": "x"}}, "l": [{"k": 1}, {"k": 2}]});
        let p = vec![
            Segment::Field("metadata".into()),
            Segment::Field("annotations".into()),
            Segment::Field("a/b".into()),
        ];
        assert_eq!(resolve(&o, &p).unwrap().0, "/metadata/annotations/a~1b");
        let mut key = Map::new();
        key.insert("k".into(), json!(2));
        assert_eq!(
            resolve(&o, &vec![Segment::Field("l".into()), Segment::Key(key)])
                .unwrap()
                .0,
            "/l/1"
        );
    }
}
