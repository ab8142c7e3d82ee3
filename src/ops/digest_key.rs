//! Where a local state's digest key lives for a team: in the cluster, next to the secrets it
//! protects. The local backend keeps the key in `state/digest.key`, which is never committed;
//! a teammate's or CI's checkout of the same state would otherwise make another key, see every
//! secret digest as changed ("changed outside todoplan") and restart pods for nothing. So apply
//! keeps a copy in a Secret of the project's namespace (readable by whoever can plan, as the
//! app's own Secrets are), and a checkout that has the state but not the key reads it from there.
//! A missing key for an existing state is never silently replaced.

use base64::Engine;
use serde_json::{Value, json};

use crate::observe::{ClusterClient, ObjectKey};
use crate::spec::Spec;
use crate::state::DigestKey;

/// The Secret that holds the key of the state with this lineage.
pub fn secret_of(spec: &Spec, lineage: &str) -> ObjectKey {
    let short: String = lineage.chars().filter(|c| *c != '-').take(12).collect();
    ObjectKey {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: Some(spec.cluster.namespace.clone()),
        name: format!("{}{short}", crate::model::object::DIGEST_KEY_SECRET_PREFIX),
    }
}

/// The key kept in the cluster for this state, if any.
pub async fn read(
    cluster: &ClusterClient,
    spec: &Spec,
    lineage: &str,
) -> miette::Result<Option<DigestKey>> {
    let key = secret_of(spec, lineage);
    let Some(secret) = cluster.get(&key).await? else {
        return Ok(None);
    };
    let hex = secret
        .pointer("/data/key")
        .and_then(Value::as_str)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    match hex.as_deref().and_then(DigestKey::from_hex) {
        Some(k) => Ok(Some(k)),
        None => Err(miette::miette!(
            help = format!(
                "delete the Secret (`kubectl -n {} delete secret {}`) only if no state uses it; then apply from the checkout that holds state/digest.key",
                key.namespace.as_deref().unwrap_or_default(),
                key.name
            ),
            "the Secret {key} holding this state's digest key is damaged"
        )),
    }
}

/// Keeps `key` in the cluster for the other checkouts of this state (after an apply, when the
/// namespace exists). A namespace that is gone (a destroy) is not made for it.
pub async fn keep(
    cluster: &ClusterClient,
    spec: &Spec,
    lineage: &str,
    key: &DigestKey,
) -> miette::Result<()> {
    let at = secret_of(spec, lineage);
    if read(cluster, spec, lineage).await.ok().flatten().as_ref() == Some(key) {
        return Ok(());
    }
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": at.name,
            "namespace": at.namespace,
            "labels": {"app.kubernetes.io/managed-by": "todoplan"},
            "annotations": {"todoplan.dev/digest-key-of": lineage},
        },
        "type": "Opaque",
        "data": {"key": base64::engine::general_purpose::STANDARD.encode(key.to_hex())},
    });
    let namespace = ObjectKey {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: spec.cluster.namespace.clone(),
    };
    if cluster.get(&namespace).await?.is_none() {
        return Ok(());
    }
    cluster.apply(&secret, false).await?;
    Ok(())
}
