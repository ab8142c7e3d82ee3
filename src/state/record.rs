//! Ending a run: the new revision is written to the state and its history, or the user is told
//! exactly what was not written and where the unsaved content went.

use std::collections::{BTreeMap, BTreeSet};

use super::{HistoryEntry, Outcome, Provenance, State, StateBackend, StateError, Unsaved, who};

/// Bumps the revision, saves the state, then records the history entry (with no provenance:
/// see [`record_revision_with`]).
pub async fn record_revision(
    backend: &dyn StateBackend,
    state: &mut State,
    summary: String,
    outcome: Outcome,
) -> Result<u64, StateError> {
    record_revision_with(backend, state, summary, outcome, &Provenance::default()).await
}

/// Every container image the recorded objects run (`containers`, `initContainers`,
/// `ephemeralContainers` at any depth: Pods, workloads' templates, CronJobs' job templates).
fn container_images(state: &State) -> BTreeSet<String> {
    fn walk(value: &serde_json::Value, out: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    if matches!(
                        key.as_str(),
                        "containers" | "initContainers" | "ephemeralContainers"
                    ) && let Some(list) = v.as_array()
                    {
                        out.extend(
                            list.iter()
                                .filter_map(|c| c.get("image")?.as_str())
                                .map(str::to_string),
                        );
                    }
                    walk(v, out);
                }
            }
            serde_json::Value::Array(list) => list.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for record in state.objects.values() {
        walk(&record.manifest.value(), &mut out);
    }
    out
}

/// The images the state's objects run, by image name: each `[images.NAME]` the state records
/// whose reference (or local tag, or digest) a recorded object's container uses, then those of
/// `known` (a rolled-back revision's images) that the objects use. An image no object runs
/// is not listed: the history says what is live, not what was built.
pub fn applied_images(state: &State, known: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let used = container_images(state);
    let mut out = BTreeMap::new();
    for (name, image) in &state.images {
        let exact = image
            .reference
            .iter()
            .chain(std::iter::once(&image.local_tag))
            .find(|r| used.contains(*r));
        let by_digest = || {
            let digest = image.reference.as_deref()?.split_once("@sha256:")?.1;
            used.iter()
                .find(|u| u.ends_with(&format!("@sha256:{digest}")))
        };
        if let Some(r) = exact.or_else(by_digest) {
            out.insert(name.clone(), r.clone());
        }
    }
    for (name, reference) in known {
        if used.contains(reference) {
            out.entry(name.clone()).or_insert_with(|| reference.clone());
        }
    }
    out
}

/// Bumps the revision, saves the state, then records the history entry, with where the
/// revision came from (`provenance`; its images are those the objects run, see
/// [`applied_images`]).
///
/// The revision follows both the state and the recorded history, so a state restored from its
/// backup never writes over a revision already recorded. On failure the error names what was
/// not written; the unsaved content is kept in a recovery file (see
/// [`StateBackend::write_recovery`]) and the error says where, and how to put it back.
pub async fn record_revision_with(
    backend: &dyn StateBackend,
    state: &mut State,
    summary: String,
    outcome: Outcome,
    provenance: &Provenance,
) -> Result<u64, StateError> {
    // An unreadable history is reported by the history write below, with its path.
    let recorded = backend
        .revisions()
        .await
        .ok()
        .and_then(|r| r.last().copied())
        .unwrap_or(0);
    state.revision = state.revision.max(recorded) + 1;
    let revision = state.revision;
    if let Err(error) = backend.save_state(state).await {
        let advice = match backend.write_recovery(Unsaved::State(state)).await {
            Ok(recovery) => format!(
                "the cluster was changed but the state was not saved; the state after this run is in {}. Once the cause is fixed, put it back with `{}`",
                recovery.location, recovery.restore
            ),
            Err(second) => format!(
                "the cluster was changed but the state was not saved, and no recovery file could be written either ({second}); fix the cause and run `todoplan plan` to see what the state no longer knows"
            ),
        };
        return Err(StateError::Unrecorded {
            revision,
            source: Box::new(error),
            advice,
        });
    }
    let entry = HistoryEntry {
        revision,
        time: chrono::Utc::now(),
        who: who(),
        summary,
        outcome,
        provenance: Provenance {
            images: applied_images(state, &provenance.images),
            ..provenance.clone()
        },
        objects: state.objects.clone(),
        secrets: state.secrets.clone(),
    };
    if let Err(error) = backend.write_history(&entry).await {
        let advice = match backend.write_recovery(Unsaved::History(&entry)).await {
            Ok(recovery) => format!(
                "the state is saved (revision {revision}), but its history entry is not, so `rollback {revision}` cannot restore it; the entry is in {}. Once the cause is fixed, put it back with `{}`",
                recovery.location, recovery.restore
            ),
            Err(second) => format!(
                "the state is saved (revision {revision}), but its history entry is not, and no recovery file could be written either ({second})"
            ),
        };
        return Err(StateError::Unrecorded {
            revision,
            source: Box::new(error),
            advice,
        });
    }
    Ok(revision)
}

#[cfg(test)]
mod tests {
    use super::super::memory::{MemoryBackend, WriteKind};
    use super::*;

    #[tokio::test]
    async fn records_state_then_history() {
        let backend = MemoryBackend::new();
        let mut state = State::new("todo");
        let rev = record_revision(&backend, &mut state, "1 added".into(), Outcome::Succeeded)
            .await
            .unwrap();
        assert_eq!(rev, 1);
        assert_eq!(
            backend.writes(),
            vec![WriteKind::State, WriteKind::History(1)]
        );
        assert_eq!(backend.stored_state().unwrap().revision, 1);
        assert_eq!(backend.read_history(1).await.unwrap().summary, "1 added");
    }

    #[tokio::test]
    async fn the_history_records_the_provenance_and_the_images_the_objects_run() {
        let backend = MemoryBackend::new();
        let mut state = State::new("todo");
        let image = |reference: Option<&str>, local_tag: &str| super::super::ImageRecord {
            context: crate::images::ContextDigest {
                digest: "c".into(),
                files: Default::default(),
                settings: Default::default(),
            },
            local_tag: local_tag.into(),
            reference: reference.map(str::to_string),
        };
        let digest = "a".repeat(64);
        let pushed = format!("127.0.0.1:5000/todo-backend@sha256:{digest}");
        state
            .images
            .insert("backend".into(), image(Some(&pushed), "todo-backend:ctx-1"));
        state
            .images
            .insert("frontend".into(), image(None, "todo-frontend:ctx-2"));
        // Built, but no object runs it.
        state
            .images
            .insert("worker".into(), image(None, "todo-worker:ctx-3"));
        let record = |manifest: serde_json::Value| super::super::ObjectRecord {
            release: "web".into(),
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("todo".into()),
            name: "x".into(),
            uid: None,
            digest: "d".into(),
            manifest: manifest.into(),
            protect: false,
            tainted: false,
            hook_deleted: false,
            observed: None,
        };
        state.objects.insert(
            "a".into(),
            record(serde_json::json!({"spec": {"template": {"spec": {
                "initContainers": [{"name": "migrate", "image": pushed}],
                "containers": [{"name": "web", "image": "todo-frontend:ctx-2"},
                               {"name": "db", "image": "postgres:16"}]}}}})),
        );
        let provenance = Provenance {
            git: Some(super::super::GitSource {
                commit: "c".repeat(40),
                branch: None,
                dirty: false,
            }),
            images: [("old".to_string(), "postgres:16".to_string())].into(),
            plan_checksum: Some("sum".into()),
            message: Some("hello".into()),
        };
        record_revision_with(
            &backend,
            &mut state,
            "1 added".into(),
            Outcome::Succeeded,
            &provenance,
        )
        .await
        .unwrap();
        let entry = backend.read_history(1).await.unwrap();
        assert_eq!(entry.provenance.git, provenance.git);
        assert_eq!(entry.provenance.message.as_deref(), Some("hello"));
        assert_eq!(entry.provenance.plan_checksum.as_deref(), Some("sum"));
        let images: Vec<(&str, &str)> = entry
            .provenance
            .images
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            images,
            [
                ("backend", pushed.as_str()),
                ("frontend", "todo-frontend:ctx-2"),
                ("old", "postgres:16"),
            ]
        );
    }

    #[tokio::test]
    async fn a_failed_state_write_is_an_error_and_the_state_goes_to_a_recovery_file() {
        let backend = MemoryBackend::new();
        backend.fail_write(1);
        let mut state = State::new("todo");
        let err = record_revision(&backend, &mut state, "x".into(), Outcome::Succeeded)
            .await
            .unwrap_err();
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(help.contains("memory:recovery/1"), "{help}");
        let (name, bytes) = backend.recoveries().remove(0);
        assert_eq!(name, "state");
        let kept: State = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(kept.revision, 1);
        assert!(backend.stored_state().is_none());
        assert!(backend.revisions().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_failed_history_write_is_an_error_naming_the_revision() {
        let backend = MemoryBackend::new();
        backend.fail_write(2);
        let mut state = State::new("todo");
        let err = record_revision(&backend, &mut state, "x".into(), Outcome::Succeeded)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StateError::Unrecorded { revision: 1, .. }),
            "{err:?}"
        );
        let (name, _) = backend.recoveries().remove(0);
        assert_eq!(name, "history-000001");
        assert_eq!(backend.stored_state().unwrap().revision, 1);
    }

    #[tokio::test]
    async fn a_state_restored_from_its_backup_does_not_reuse_a_recorded_revision() {
        let backend = MemoryBackend::new();
        let mut state = State::new("todo");
        record_revision(&backend, &mut state, "a".into(), Outcome::Succeeded)
            .await
            .unwrap();
        let mut restored = state.clone();
        record_revision(&backend, &mut state, "b".into(), Outcome::Succeeded)
            .await
            .unwrap();
        // The user put back the older state (revision 1); history already has 2.
        let rev = record_revision(&backend, &mut restored, "c".into(), Outcome::Succeeded)
            .await
            .unwrap();
        assert_eq!(rev, 3);
        assert_eq!(backend.read_history(2).await.unwrap().summary, "b");
    }
}
