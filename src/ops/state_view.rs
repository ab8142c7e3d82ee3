//! What `todoplan state list|show` reads out of a state: every recorded address, and one record
//! as a document. Secret values are never in a state (digests and redaction markers only).

use serde_json::{Value, json};

use crate::state::State;

/// One recorded address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub address: String,
    /// `image`, `secret` or the object's kind.
    pub kind: String,
    pub tainted: bool,
    pub protected: bool,
}

/// Images, then secret sets, then objects, each sorted by address.
pub fn entries(state: &State) -> Vec<Entry> {
    let images = state.images.keys().map(|name| Entry {
        address: format!("image.{name}"),
        kind: "image".into(),
        tainted: false,
        protected: false,
    });
    // A secret set applied is also recorded as an object at the same address: listed once.
    let secrets = state
        .secrets
        .keys()
        .filter(|name| !state.objects.contains_key(&format!("secret.{name}")))
        .map(|name| Entry {
            address: format!("secret.{name}"),
            kind: "secret".into(),
            tainted: false,
            protected: false,
        });
    let objects = state.objects.iter().map(|(address, r)| Entry {
        address: address.clone(),
        kind: r.kind.clone(),
        tainted: r.tainted,
        protected: r.protect,
    });
    images.chain(secrets).chain(objects).collect()
}

/// The record at `address` as a document, or None.
pub fn show(state: &State, address: &str) -> Option<Value> {
    if let Some(r) = state.objects.get(address) {
        return Some(json!({
            "address": address,
            "release": r.release,
            "apiVersion": r.api_version,
            "kind": r.kind,
            "namespace": r.namespace,
            "name": r.name,
            "uid": r.uid,
            "digest": r.digest,
            "protected": r.protect,
            "tainted": r.tainted,
            "manifest": r.manifest,
        }));
    }
    if let Some(name) = address.strip_prefix("secret.")
        && let Some(s) = state.secrets.get(name)
    {
        let keys: Vec<&String> = s.key_digests.keys().collect();
        return Some(json!({
            "address": address,
            "secret": s.k8s_name,
            "namespace": s.namespace,
            "keys": keys,
        }));
    }
    if let Some(name) = address.strip_prefix("image.")
        && let Some(i) = state.images.get(name)
    {
        return Some(json!({
            "address": address,
            "local_tag": i.local_tag,
            "reference": i.reference,
        }));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ObjectRecord, SecretRecord};

    #[test]
    fn every_address_is_listed_once_and_shown_without_secret_values() {
        let mut state = State::new("todo");
        state.secrets.insert(
            "app".into(),
            SecretRecord {
                k8s_name: "todo-app".into(),
                namespace: "todo".into(),
                key_digests: [("JWT_SECRET_KEY".to_string(), "d1".to_string())].into(),
            },
        );
        let record = |kind: &str, name: &str| ObjectRecord {
            release: String::new(),
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some("todo".into()),
            name: name.into(),
            uid: Some("u1".into()),
            digest: "d".into(),
            manifest: json!({"kind": kind}).into(),
            protect: kind == "Secret",
            tainted: false,
            hook_deleted: false,
            observed: None,
        };
        state
            .objects
            .insert("secret.app".into(), record("Secret", "todo-app"));
        let listed: Vec<String> = entries(&state).into_iter().map(|e| e.address).collect();
        assert_eq!(listed, ["secret.app"]);
        state.objects.clear();
        let listed: Vec<String> = entries(&state).into_iter().map(|e| e.address).collect();
        assert_eq!(listed, ["secret.app"], "a secret set not applied yet");
        assert_eq!(
            show(&state, "secret.app").unwrap()["keys"],
            json!(["JWT_SECRET_KEY"])
        );
        assert_eq!(show(&state, "secret.nope"), None);
    }
}
