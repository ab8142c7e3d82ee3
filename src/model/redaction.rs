//! Keeping secret values out of every output.
//!
//! A Secret's `data` and `stringData` values are replaced before anything is diffed, printed,
//! written to a plan file or recorded in state. A reviewer still sees *that* a value changed:
//! the marker carries a short digest salted with the state's lineage, so equal values give equal
//! digests within one state but a digest cannot be looked up in a table of common passwords.

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const SENSITIVE: &str = "(sensitive value)";

/// A placeholder for a value that exists but was not read (an offline plan cannot read the
/// live Secret): it carries the digest recorded in state, which [`value_digest`] returns as is,
/// so an unchanged secret plans as unchanged without its value.
pub const UNREAD_PREFIX: &[u8] = b"\0todoplan-unread-value:";

/// The placeholder for a value not read, whose recorded digest is `digest`.
pub fn unread_value(digest: &str) -> Vec<u8> {
    let mut v = UNREAD_PREFIX.to_vec();
    v.extend_from_slice(digest.as_bytes());
    v
}

/// Short salted digest of one secret value (for a value not read: the digest recorded for it).
pub fn value_digest(salt: &str, key: &str, value: &[u8]) -> String {
    if let Some(recorded) = value.strip_prefix(UNREAD_PREFIX) {
        return String::from_utf8_lossy(recorded).into_owned();
    }
    let mut h = Sha256::new();
    h.update(b"todoplan-secret-digest\0");
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    h.update([0]);
    h.update(value);
    hex::encode(&h.finalize()[..16])
}

pub fn is_secret(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("Secret")
        && object
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v == "v1")
}

/// The decoded bytes of every key of a Secret (`data` base64-decoded, `stringData` as is;
/// `stringData` wins, as on the server).
pub fn secret_values(object: &Value) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    if let Some(Value::Object(data)) = object.get("data") {
        for (k, v) in data {
            let bytes = v
                .as_str()
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .unwrap_or_default();
            out.insert(k.clone(), bytes);
        }
    }
    if let Some(Value::Object(data)) = object.get("stringData") {
        for (k, v) in data {
            out.insert(
                k.clone(),
                v.as_str().unwrap_or_default().as_bytes().to_vec(),
            );
        }
    }
    out
}

/// A redacted copy: every value replaced by a marker with its digest. Other kinds unchanged.
pub fn redact(object: &Value, salt: &str) -> Value {
    if !is_secret(object) {
        return object.clone();
    }
    let values = secret_values(object);
    let mut out = object.clone();
    if let Some(map) = out.as_object_mut() {
        map.remove("stringData");
        if !values.is_empty() {
            let data: serde_json::Map<String, Value> = values
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        Value::String(format!("{SENSITIVE} {}", value_digest(salt, k, v))),
                    )
                })
                .collect();
            map.insert("data".into(), Value::Object(data));
        }
        // A Secret is redacted whole: any annotation can carry its values (kubectl's
        // last-applied-configuration holds them all in base64), and managedFields can too.
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            meta.remove("managedFields");
            if let Some(Value::Object(ann)) = meta.get_mut("annotations") {
                ann.remove("kubectl.kubernetes.io/last-applied-configuration");
                for (k, v) in ann.iter_mut() {
                    let bytes = v.as_str().unwrap_or_default().as_bytes();
                    *v = Value::String(format!("{SENSITIVE} {}", value_digest(salt, k, bytes)));
                }
            }
        }
    }
    out
}

/// Redacted before/after pair for a diff: unchanged values read `(sensitive value)`, changed
/// ones `(sensitive value changed) <digest>`, so the diff shows exactly which keys changed.
pub fn redact_pair(
    before: Option<&Value>,
    after: Option<&Value>,
    salt: &str,
) -> (Option<Value>, Option<Value>) {
    let secret = before.is_some_and(is_secret) || after.is_some_and(is_secret);
    if !secret {
        return (before.cloned(), after.cloned());
    }
    let old = before.map(secret_values).unwrap_or_default();
    let new = after.map(secret_values).unwrap_or_default();
    let mark = |values: &std::collections::BTreeMap<String, Vec<u8>>,
                other: &std::collections::BTreeMap<String, Vec<u8>>,
                obj: &Value|
     -> Value {
        let mut out = redact(obj, salt);
        if let Some(Value::Object(data)) = out.get_mut("data") {
            for (k, v) in data.iter_mut() {
                let value = values.get(k).map(Vec::as_slice).unwrap_or_default();
                *v = match other.get(k) {
                    Some(o) if o.as_slice() == value => Value::String(SENSITIVE.to_string()),
                    Some(_) => Value::String(format!(
                        "(sensitive value changed) {}",
                        value_digest(salt, k, value)
                    )),
                    None => Value::String(format!("{SENSITIVE} {}", value_digest(salt, k, value))),
                };
            }
        }
        out
    };
    (
        before.map(|b| mark(&old, &new, b)),
        after.map(|a| mark(&new, &old, a)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": data})
    }

    #[test]
    fn redacted_secret_contains_no_value_in_any_encoding() {
        let plain = "hunter2-very-secret";
        let b64 = base64::engine::general_purpose::STANDARD.encode(plain);
        let obj = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": b64.clone()}},
            "data": {"A": b64.clone()}, "stringData": {"B": plain}});
        let text = serde_json::to_string(&redact(&obj, "salt")).unwrap();
        assert!(!text.contains(plain) && !text.contains(&b64), "{text}");
        assert!(text.contains(SENSITIVE));
    }

    #[test]
    fn pair_marks_only_changed_keys_and_digests_are_salted() {
        let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let before = secret(json!({"same": enc("x"), "rotated": enc("old")}));
        let after = secret(json!({"same": enc("x"), "rotated": enc("new")}));
        let (b, a) = redact_pair(Some(&before), Some(&after), "lineage-1");
        let (b, a) = (b.unwrap(), a.unwrap());
        assert_eq!(a["data"]["same"], json!(SENSITIVE));
        assert_eq!(b["data"]["same"], json!(SENSITIVE));
        let changed = a["data"]["rotated"].as_str().unwrap();
        assert!(
            changed.starts_with("(sensitive value changed) "),
            "{changed}"
        );
        assert_ne!(a["data"]["rotated"], b["data"]["rotated"]);
        assert_ne!(
            value_digest("lineage-1", "k", b"v"),
            value_digest("lineage-2", "k", b"v")
        );
    }

    #[test]
    fn every_annotation_and_managed_field_of_a_secret_is_redacted() {
        let plain = "s3cr3t-value";
        let b64 = base64::engine::general_purpose::STANDARD.encode(plain);
        let obj = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s",
            "annotations": {"note": format!("password={plain}"), "copy": b64.clone()},
            "managedFields": [{"manager": "x", "fieldsV1": {"f:data": {format!("f:{plain}"): {}}}}]},
            "data": {"A": b64.clone()}});
        let text = serde_json::to_string(&redact(&obj, "salt")).unwrap();
        assert!(!text.contains(plain) && !text.contains(&b64), "{text}");
        let (b, a) = redact_pair(Some(&obj), Some(&obj), "salt");
        for v in [b.unwrap(), a.unwrap()] {
            let text = serde_json::to_string(&v).unwrap();
            assert!(!text.contains(plain) && !text.contains(&b64), "{text}");
        }
    }

    #[test]
    fn other_kinds_pass_through() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}});
        assert_eq!(redact(&cm, "s"), cm);
    }
}
