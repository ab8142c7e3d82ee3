//! The end of a run on a real state directory: a write that fails is an error naming the path,
//! and what was not saved is kept in a recovery file the error points to.
//! (Tests run as root, which ignores permission bits: an unwritable place is made by putting
//! a file where a directory must be, or a directory where a file must be.)

use std::fs;

use todoplan::state::{
    HistoryEntry, LocalBackend, Outcome, State, StateBackend, StateError, record_revision,
};

fn rendered(err: StateError) -> String {
    let report = miette::Report::new(err);
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::none()).with_width(400);
    let mut out = String::new();
    handler.render_report(&mut out, report.as_ref()).unwrap();
    out
}

#[tokio::test]
async fn an_unwritable_history_is_an_error_naming_it_and_the_entry_is_kept_for_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    fs::create_dir_all(&state_dir).unwrap();
    // `history` cannot be a directory: every history write fails.
    fs::write(state_dir.join("history"), b"").unwrap();
    let backend = LocalBackend::new(&state_dir);
    let mut state = State::new("todo");
    let err = record_revision(&backend, &mut state, "2 added".into(), Outcome::Succeeded)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StateError::Unrecorded { revision: 1, .. }),
        "{err:?}"
    );
    let text = rendered(err);
    let entry_path = state_dir.join("history/000001.json");
    assert!(
        text.contains(&format!("cannot write {}", entry_path.display())),
        "{text}"
    );
    assert!(text.contains("is not a directory"), "{text}");
    // The state itself was saved: it is the truth about the cluster.
    assert_eq!(backend.load().unwrap().unwrap().revision, 1);
    let recovery: Vec<_> = fs::read_dir(&state_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("history-000001.json.recovery-")
        })
        .collect();
    assert_eq!(recovery.len(), 1, "{text}");
    assert!(
        text.contains(&format!(
            "cp {} {}",
            recovery[0].display(),
            entry_path.display()
        )),
        "{text}"
    );
    let kept: HistoryEntry = serde_json::from_slice(&fs::read(&recovery[0]).unwrap()).unwrap();
    assert_eq!((kept.revision, kept.summary.as_str()), (1, "2 added"));
}

#[tokio::test]
async fn an_unwritable_state_file_is_an_error_and_the_state_goes_to_a_recovery_file() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    // A directory where the state file must go: renaming the new state over it fails.
    fs::create_dir_all(state_dir.join("todoplan.state.json/blocker")).unwrap();
    let backend = LocalBackend::new(&state_dir);
    let mut state = State::new("todo");
    let err = record_revision(&backend, &mut state, "1 added".into(), Outcome::Partial)
        .await
        .unwrap_err();
    let text = rendered(err);
    assert!(text.contains("state was not saved"), "{text}");
    let recovery = fs::read_dir(&state_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("todoplan.state.json.recovery-")
        })
        .unwrap_or_else(|| panic!("no recovery file: {text}"));
    assert!(text.contains(&recovery.display().to_string()), "{text}");
    let kept: State = serde_json::from_slice(&fs::read(&recovery).unwrap()).unwrap();
    assert_eq!((kept.revision, kept.lineage), (1, state.lineage.clone()));
    // No history entry claims a revision the state never reached.
    assert!(backend.revisions().await.unwrap().is_empty());
}

/// A revision recorded in a real state directory carries where it came from, and reads back
/// from the file as `history` reads it (the file holds the fields by name, for any reader).
#[tokio::test]
async fn a_revision_records_its_provenance_in_the_history_file() {
    use todoplan::state::{GitSource, Provenance, record_revision_with};
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::new(dir.path().join("state"));
    let mut state = State::new("todo");
    let provenance = Provenance {
        git: Some(GitSource {
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            branch: Some("main".into()),
            dirty: true,
        }),
        images: Default::default(),
        plan_checksum: Some("c0ffee".into()),
        message: Some("release 1.4".into()),
    };
    let revision = record_revision_with(
        &backend,
        &mut state,
        "0 added".into(),
        Outcome::Succeeded,
        &provenance,
    )
    .await
    .unwrap();
    let entry: HistoryEntry = backend.read_history(revision).await.unwrap();
    assert_eq!(entry.provenance, provenance);
    let file: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(dir.path().join("state/history/000001.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(file["git"]["branch"], "main");
    assert_eq!(file["git"]["dirty"], true);
    assert_eq!(file["plan_checksum"], "c0ffee");
    assert_eq!(file["message"], "release 1.4");
    assert!(file.get("images").is_none(), "no image runs: none listed");
}
