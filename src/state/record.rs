//! Ending a run: the new revision is written to the state and its history, or the user is told
//! exactly what was not written and where the unsaved content went.

use super::{HistoryEntry, Outcome, State, StateBackend, StateError, Unsaved, who};

/// Bumps the revision, saves the state, then records the history entry.
///
/// The revision follows both the state and the recorded history, so a state restored from its
/// backup never writes over a revision already recorded. On failure the error names what was
/// not written; the unsaved content is kept in a recovery file (see
/// [`StateBackend::write_recovery`]) and the error says where, and how to put it back.
pub async fn record_revision(
    backend: &dyn StateBackend,
    state: &mut State,
    summary: String,
    outcome: Outcome,
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
