//! The last line of defence for secret values: every text todoplan prints or writes passes
//! [`mask`], which replaces any secret value this process has seen (plain, base64, URL-safe
//! base64, or hex in either case) with a marker; every manifest the state records passes
//! [`mask_leaves`]. Secret objects are redacted field by field long before
//! (see `plan::redact`); this catches a value that reaches output by another road: an API
//! server's error message quoting a field, a chart that copies a secret into a ConfigMap
//! annotation, a log line.

use std::sync::{Mutex, OnceLock};

use base64::Engine;

/// Values shorter than this are not masked: masking every "1" or "yes" would garble output, and
/// such a value is not secret in any useful sense.
const MIN_LEN: usize = 4;

pub const MASK: &str = "(sensitive value)";

fn registry() -> &'static Mutex<Vec<String>> {
    static KNOWN: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    KNOWN.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers a secret value (and its base64 forms) so [`mask`] hides it from every output.
pub fn remember(value: &[u8]) {
    if value.len() < MIN_LEN {
        return;
    }
    let mut forms = vec![
        base64::engine::general_purpose::STANDARD.encode(value),
        base64::engine::general_purpose::URL_SAFE.encode(value),
        // `sha256sum`-style and `printf %x` copies (a chart's `toHex`-like helpers).
        hex::encode(value),
        hex::encode_upper(value),
    ];
    if let Ok(text) = std::str::from_utf8(value) {
        forms.push(text.to_string());
        // As it appears inside a JSON string.
        let quoted = serde_json::to_string(text).unwrap_or_default();
        if let Some(inner) = quoted.get(1..quoted.len().saturating_sub(1)) {
            forms.push(inner.to_string());
        }
    }
    let Ok(mut known) = registry().lock() else {
        return;
    };
    for f in forms {
        if f.len() >= MIN_LEN && !known.contains(&f) {
            known.push(f);
        }
    }
    // Longest first, so a value is masked whole before a shorter one inside it.
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
}

/// `text` with every remembered secret value replaced by [`MASK`].
pub fn mask(text: &str) -> String {
    let Ok(known) = registry().lock() else {
        return text.to_string();
    };
    let mut out = text.to_string();
    for k in known.iter() {
        if out.contains(k.as_str()) {
            out = out.replace(k.as_str(), MASK);
        }
    }
    out
}

/// Masks every string leaf of `value` that holds a remembered secret value (in any form): a
/// chart that copies a secret into a ConfigMap (through `lookup`) must not put it into the
/// state, its backups, its journal or its history. An object's own name and namespace are
/// left alone (they identify the record).
pub fn mask_leaves(value: &mut serde_json::Value) {
    if registry().lock().map(|k| k.is_empty()).unwrap_or(true) {
        return;
    }
    let Some(fields) = value.as_object_mut() else {
        mask_value(value);
        return;
    };
    for (k, v) in fields.iter_mut() {
        match (k.as_str(), v.as_object_mut()) {
            ("metadata", Some(meta)) => meta
                .iter_mut()
                .filter(|(mk, _)| !matches!(mk.as_str(), "name" | "namespace"))
                .for_each(|(_, mv)| mask_value(mv)),
            _ => mask_value(v),
        }
    }
}

fn mask_value(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            let masked = mask(s);
            if masked != *s {
                *s = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_value),
        Value::Object(map) => map.values_mut().for_each(mask_value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_base64_forms_are_masked_anywhere_in_a_text() {
        remember(b"correct-horse-battery");
        let b64 = base64::engine::general_purpose::STANDARD.encode("correct-horse-battery");
        let text =
            format!("the API server said: invalid value \"correct-horse-battery\" (data: {b64})");
        let masked = mask(&text);
        assert!(!masked.contains("correct-horse-battery"), "{masked}");
        assert!(!masked.contains(&b64), "{masked}");
        assert_eq!(masked.matches(MASK).count(), 2, "{masked}");
    }

    #[test]
    fn short_values_are_not_masked() {
        remember(b"ab");
        assert_eq!(mask("ab cd"), "ab cd");
    }

    #[test]
    fn hex_forms_are_masked_and_recorded_manifests_lose_every_form() {
        remember(b"hunter2-but-longer");
        let hex = hex::encode("hunter2-but-longer");
        let masked = mask(&format!("sum: {hex} / {}", hex.to_uppercase()));
        assert!(
            !masked.contains(&hex) && !masked.contains(&hex.to_uppercase()),
            "{masked}"
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode("hunter2-but-longer");
        let mut manifest = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "copied", "namespace": "todo", "annotations": {"a": hex}},
            "data": {"plain": "x=hunter2-but-longer", "b64": b64, "ok": "nothing secret"}
        });
        mask_leaves(&mut manifest);
        let text = manifest.to_string();
        assert!(
            !text.contains("hunter2-but-longer") && !text.contains(&b64) && !text.contains(&hex),
            "{text}"
        );
        assert_eq!(manifest["data"]["ok"], "nothing secret");
        assert_eq!(manifest["metadata"]["name"], "copied");
    }
}
