//! Why a release's objects change: its effective values (values files, then todo.toml's inline
//! values, references filled in) compared with those of the last apply, leaf by leaf, each
//! changed leaf pointed at the `file:line` that sets it now.
//!
//! Values are recorded flattened (`config.CORS_ORIGINS` → `"a"`); a leaf that looks like a
//! credential (what the `value.credential` check flags) is recorded only as a digest, so the
//! state never holds a password a values file carried.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Flattened effective values of a release: dotted path → JSON text of the leaf.
pub type FlatValues = BTreeMap<String, String>;

/// One changed leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueChange {
    pub release: String,
    /// `config.CORS_ORIGINS`, `tolerations[0].key`.
    pub path: String,
    /// JSON text; None when the leaf is new.
    pub before: Option<String>,
    /// JSON text; None when the leaf is gone.
    pub after: Option<String>,
    /// `todo.toml:57` or `values-prod.yaml:3` where it is set now, when found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl ValueChange {
    /// `values.config.CORS_ORIGINS: "a" → "b" (todo.toml:57)`.
    pub fn describe(&self) -> String {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unset)".into());
        let at = self
            .source
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        format!(
            "values.{}: {} → {}{at}",
            self.path,
            show(&self.before),
            show(&self.after)
        )
    }
}

/// Deep merge as Helm coalesces values: maps merge key by key, anything else replaces.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// The values a release is rendered with, minus the chart's defaults: its values files in order,
/// then its inline values (already interpolated). An unreadable values file counts as empty here
/// (rendering reports it).
pub fn effective(values_files: &[std::path::PathBuf], inline: &Value) -> Value {
    let mut out = Value::Object(Default::default());
    for file in values_files {
        if let Some(v) = std::fs::read_to_string(file)
            .ok()
            .and_then(|t| serde_yaml_ng::from_str::<Value>(&t).ok())
            .filter(Value::is_object)
        {
            merge(&mut out, v);
        }
    }
    if inline.is_object() {
        merge(&mut out, inline.clone());
    }
    out
}

/// Leaves by dotted path; credential-like leaves as a salted digest.
pub fn flatten(values: &Value, salt: &str) -> FlatValues {
    let mut out = FlatValues::new();
    walk(values, String::new(), "", salt, &mut out);
    out
}

fn walk(v: &Value, path: String, key: &str, salt: &str, out: &mut FlatValues) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(child, p, k, salt, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, child) in a.iter().enumerate() {
                walk(child, format!("{path}[{i}]"), key, salt, out);
            }
        }
        leaf => {
            let text = leaf.to_string();
            let shown = match leaf {
                Value::String(s) if crate::checks::looks_like_credential(key, s) => {
                    let mut h = Sha256::new();
                    h.update(salt.as_bytes());
                    h.update(s.as_bytes());
                    format!("(sensitive value) {}", &hex::encode(h.finalize())[..16])
                }
                _ => text,
            };
            out.insert(path, shown);
        }
    }
}

/// The leaves that differ, in path order.
pub fn diff(release: &str, before: &FlatValues, after: &FlatValues) -> Vec<ValueChange> {
    let mut paths: Vec<&String> = before.keys().chain(after.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter(|p| before.get(*p) != after.get(*p))
        .map(|p| ValueChange {
            release: release.to_string(),
            path: p.clone(),
            before: before.get(p).cloned(),
            after: after.get(p).cloned(),
            source: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_added_and_removed_leaves_are_found_in_path_order() {
        let before = flatten(
            &json!({"config": {"CORS_ORIGINS": "a", "LOG_LEVEL": "info"}, "replicaCount": 1, "tolerations": [{"key": "x"}]}),
            "s",
        );
        let after = flatten(
            &json!({"config": {"CORS_ORIGINS": "b", "LOG_LEVEL": "info"}, "tolerations": [{"key": "x"}], "extra": true}),
            "s",
        );
        let changes = diff("backend", &before, &after);
        let described: Vec<String> = changes.iter().map(ValueChange::describe).collect();
        assert_eq!(
            described,
            [
                "values.config.CORS_ORIGINS: \"a\" → \"b\"",
                "values.extra: (unset) → true",
                "values.replicaCount: 1 → (unset)",
            ]
        );
    }

    #[test]
    fn a_credential_is_recorded_as_a_digest_only() {
        let flat = flatten(
            &json!({"auth": {"password": "hunter2-very-secret"}}),
            "salt",
        );
        let recorded = &flat["auth.password"];
        assert!(recorded.starts_with("(sensitive value) "), "{recorded}");
        assert!(!recorded.contains("hunter2"));
        let other = flatten(
            &json!({"auth": {"password": "another-secret-value"}}),
            "salt",
        );
        assert_ne!(recorded, &other["auth.password"], "a change still shows");
    }

    #[test]
    fn values_files_apply_in_order_and_inline_values_last() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("values.yaml");
        let b = dir.path().join("values-prod.yaml");
        std::fs::write(&a, "replicaCount: 1\nconfig:\n  A: a\n  B: a\n").unwrap();
        std::fs::write(&b, "config:\n  B: b\n").unwrap();
        let merged = effective(&[a, b], &json!({"replicaCount": 3}));
        assert_eq!(
            merged,
            json!({"replicaCount": 3, "config": {"A": "a", "B": "b"}})
        );
    }
}
