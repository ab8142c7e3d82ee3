//! The incremental plan: an object needs no server-side dry-run when nothing that could change
//! the server's answer moved since todoplan last saw that answer.
//!
//! The rule. A dry-run of manifest M against live object L answers `apply(M, L)`, a function of
//! M, of L (its fields and their owners) and of the server (its version, its admission
//! configuration, for a custom resource its CRD). Right after todoplan wrote M, the live object
//! L0 *is* `apply(M, ·)`'s answer; a dry-run that found nothing to change proves the same of the
//! live object it ran against. Server-side apply is idempotent, so while M, L and the server
//! stay the same, the answer is L again: nothing changes, no request needed. So a plan skips
//! the dry-run of a declared object exactly when
//!
//! - its rendered manifest is byte-identical to the recorded one (digest, keyed like secrets);
//! - the live object (from the inventory LIST the plan makes anyway) has the recorded uid, is
//!   not being deleted, has no field owned by a manager other than todoplan and the cluster's
//!   controllers (the inventory keeps `managedFields` only then), and, normalised as every diff
//!   is (no status, no server metadata, no controller annotations), has the recorded
//!   fingerprint: a hand edit, a controller writing spec (replicas, an HPA), a label or
//!   annotation added, each changes it, a status update does not;
//! - the record is not tainted (written but never seen ready);
//! - the dry-run basis it was recorded under is today's: the same server version, the same
//!   admission webhooks and policies (name and generation of each), for a custom resource the
//!   same CRD generation.
//!
//! Anything else is dry-run as before; `--refresh full` dry-runs everything. The fingerprint
//! covers more than `metadata.generation` would (labels and annotations do not bump it) and is
//! not touched by status writes, which `resourceVersion` is. A saved plan keeps its promise: the
//! apply plans again and an object changed since is a difference, refused as before.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::object::Metadata;
use crate::observe::{DryRunInputs, ObjectKey};
use crate::state::{ObjectRecord, Observed, RecordedBasis};

/// What the server's answers depended on, per kind, for this plan.
#[derive(Debug, Clone, Default)]
pub struct Basis {
    /// Cluster-wide part; None: unknown (admission configuration unreadable), nothing skips.
    cluster: Option<String>,
    server_version: String,
    admission: Option<String>,
    /// (group, kind) → generation of the CRD serving it, for custom kinds.
    custom_kinds: BTreeMap<(String, String), i64>,
    /// Kinds whose CRD could not be read: never skipped.
    unknown_kinds: Vec<(String, String)>,
}

fn short_digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..12])
}

impl Basis {
    /// From what the cluster said: `plurals` maps each declared (group, kind) to its plural
    /// resource name, for finding its CRD (`plural.group`); None: discovery could not say.
    pub fn new(
        inputs: &DryRunInputs,
        plurals: &BTreeMap<(String, String), Option<String>>,
    ) -> Basis {
        let admission = inputs
            .admission
            .as_ref()
            .ok()
            .map(|lines| short_digest(&lines.iter().map(String::as_str).collect::<Vec<_>>()));
        let mut custom_kinds = BTreeMap::new();
        let mut unknown_kinds = Vec::new();
        for ((group, kind), plural) in plurals {
            if group.is_empty() {
                continue;
            }
            let Some(plural) = plural else {
                unknown_kinds.push((group.clone(), kind.clone()));
                continue;
            };
            match &inputs.crds {
                Ok(crds) => {
                    if let Some(generation) = crds.get(&format!("{plural}.{group}")) {
                        custom_kinds.insert((group.clone(), kind.clone()), *generation);
                    }
                }
                Err(_) => unknown_kinds.push((group.clone(), kind.clone())),
            }
        }
        Basis {
            cluster: admission
                .as_ref()
                .map(|a| short_digest(&[&inputs.server_version, a])),
            server_version: inputs.server_version.clone(),
            admission,
            custom_kinds,
            unknown_kinds,
        }
    }

    /// The basis an object of `key`'s kind is dry-run under; None: unknown, never skipped.
    pub fn for_key(&self, key: &ObjectKey) -> Option<String> {
        let cluster = self.cluster.as_ref()?;
        let gk = (key.group().to_string(), key.kind.clone());
        if self.unknown_kinds.contains(&gk) {
            return None;
        }
        Some(match self.custom_kinds.get(&gk) {
            Some(generation) => short_digest(&[cluster, &generation.to_string()]),
            None => cluster.clone(),
        })
    }

    /// What the state records of it at apply.
    pub fn recorded(&self) -> RecordedBasis {
        RecordedBasis {
            server_version: self.server_version.clone(),
            admission: self.admission.clone(),
        }
    }

    /// Why every object is dry-run although objects were recorded with fingerprints: the
    /// cluster's version or admission configuration changed since the last apply, or the
    /// admission configuration cannot be read.
    pub fn why_everything(&self, last: Option<&RecordedBasis>, revision: u64) -> Option<String> {
        if self.admission.is_none() {
            return Some("the admission webhook configurations cannot be read with these credentials: every object is dry-run (`todoplan rbac` lists the permission)".into());
        }
        let last = last?;
        if last.server_version != self.server_version {
            return Some(format!(
                "the cluster's version changed since revision {revision} ({} → {}): every object is dry-run",
                last.server_version, self.server_version
            ));
        }
        if last.admission != self.admission {
            return Some(format!(
                "the cluster's admission webhooks or policies changed since revision {revision}: every object is dry-run"
            ));
        }
        None
    }
}

/// A live object a plan found nothing to change in: what apply records of it (so the next
/// plan can skip its dry-run), the object's uid included (it may have been made again with the
/// same content, e.g. restored from a backup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub live: String,
    pub uid: Option<String>,
}

/// sha256 of a normalised, redacted object, over its keys in sorted order (a LIST and an apply
/// answer may order them differently).
pub fn fingerprint(normalized_redacted: &Value) -> String {
    fn feed(h: &mut Sha256, v: &Value) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort_unstable();
                h.update(b"{");
                for k in keys {
                    h.update(serde_json::to_string(k).unwrap_or_default().as_bytes());
                    h.update(b":");
                    feed(h, &m[k]);
                    h.update(b",");
                }
                h.update(b"}");
            }
            Value::Array(a) => {
                h.update(b"[");
                for item in a {
                    feed(h, item);
                    h.update(b",");
                }
                h.update(b"]");
            }
            other => h.update(other.to_string().as_bytes()),
        }
    }
    let mut h = Sha256::new();
    feed(&mut h, normalized_redacted);
    hex::encode(h.finalize())
}

/// The fingerprint of a live object already normalised: a Secret's values count by their keyed
/// digests, never in plain.
pub fn normalized_fingerprint(normalized: &Value, salt: &str) -> String {
    if crate::model::redaction::is_secret(normalized) {
        fingerprint(&crate::model::redaction::redact(normalized, salt))
    } else {
        fingerprint(normalized)
    }
}

/// The fingerprint of a live object (as the plan normalises it).
pub fn live_fingerprint(live: &Value, salt: &str) -> String {
    normalized_fingerprint(&super::normalize::normalize(live), salt)
}

/// Whether `found` (this instance's object, as the inventory listed it) needs no dry-run for
/// `manifest` under `basis` (see the module's rule). The cheap comparisons come first; the
/// manifest's digest and the live fingerprint are computed only when everything else holds.
pub fn unchanged_since_recorded(
    record: &ObjectRecord,
    manifest: &Value,
    found: &Value,
    basis: Option<&str>,
    salt: &str,
) -> bool {
    let Some(Observed {
        live,
        basis: recorded_basis,
    }) = &record.observed
    else {
        return false;
    };
    !record.tainted
        && !record.hook_deleted
        && basis == Some(recorded_basis.as_str())
        && record.uid.is_some()
        && found.metadata_field("uid").and_then(Value::as_str) == record.uid.as_deref()
        && found.metadata_field("deletionTimestamp").is_none()
        // The inventory drops managedFields when no foreign manager owns a field.
        && found.metadata_field("managedFields").is_none()
        && record.digest == crate::state::manifest_digest(manifest, salt)
        && live_fingerprint(found, salt) == *live
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprint_ignores_key_order_but_not_values() {
        let a = json!({"a": 1, "b": {"x": [1, 2], "y": "s"}});
        let b = json!({"b": {"y": "s", "x": [1, 2]}, "a": 1});
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(
            fingerprint(&a),
            fingerprint(&json!({"a": 1, "b": {"x": [2, 1], "y": "s"}}))
        );
        assert_ne!(
            fingerprint(&json!({"a": "1"})),
            fingerprint(&json!({"a": 1}))
        );
    }

    #[test]
    fn status_and_server_metadata_do_not_change_the_live_fingerprint() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "uid": "u", "resourceVersion": "1"}, "data": {"k": "v"}});
        let mut touched = live.clone();
        touched["metadata"]["resourceVersion"] = json!("2");
        touched["status"] = json!({"observed": true});
        assert_eq!(
            live_fingerprint(&live, "s"),
            live_fingerprint(&touched, "s")
        );
        touched["metadata"]["labels"] = json!({"hand": "edit"});
        assert_ne!(
            live_fingerprint(&live, "s"),
            live_fingerprint(&touched, "s")
        );
    }

    fn inputs(version: &str, admission: Result<Vec<String>, String>) -> DryRunInputs {
        DryRunInputs {
            server_version: version.into(),
            admission,
            crds: Ok([("foostores.example.com".to_string(), 3)].into()),
        }
    }

    #[test]
    fn a_custom_kind_follows_its_crd_and_every_kind_the_server() {
        let plurals = [(
            ("example.com".to_string(), "FooStore".to_string()),
            Some("foostores".to_string()),
        )]
        .into();
        let cm = ObjectKey::of(
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
        );
        let cr = ObjectKey::of(
            &json!({"apiVersion": "example.com/v1", "kind": "FooStore", "metadata": {"name": "f"}}),
        );
        let base = Basis::new(&inputs("v1.33.1", Ok(vec![])), &plurals);
        assert_ne!(base.for_key(&cm), base.for_key(&cr));
        let mut bumped = inputs("v1.33.1", Ok(vec![]));
        bumped.crds = Ok([("foostores.example.com".to_string(), 4)].into());
        let crd_changed = Basis::new(&bumped, &plurals);
        assert_eq!(base.for_key(&cm), crd_changed.for_key(&cm));
        assert_ne!(base.for_key(&cr), crd_changed.for_key(&cr));
        let upgraded = Basis::new(&inputs("v1.34.0", Ok(vec![])), &plurals);
        assert_ne!(base.for_key(&cm), upgraded.for_key(&cm));
        let webhook = Basis::new(
            &inputs(
                "v1.33.1",
                Ok(vec!["MutatingWebhookConfiguration/x@1".into()]),
            ),
            &plurals,
        );
        assert_ne!(base.for_key(&cm), webhook.for_key(&cm));
        let unreadable = Basis::new(&inputs("v1.33.1", Err("forbidden".into())), &plurals);
        assert_eq!(unreadable.for_key(&cm), None);
        assert!(
            upgraded
                .why_everything(Some(&base.recorded()), 7)
                .unwrap()
                .contains("v1.33.1 → v1.34.0")
        );
        assert!(
            webhook
                .why_everything(Some(&base.recorded()), 7)
                .unwrap()
                .contains("admission")
        );
        assert_eq!(base.why_everything(Some(&base.recorded()), 7), None);
    }
}
