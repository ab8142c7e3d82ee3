//! The same behaviour, checked on both state backends: the local directory and Secrets in the
//! cluster (the latter against the real API server, with `--features e2e`).
//!
//! Every check opens a new backend value for each step that another process would do, so
//! nothing is carried over in memory.

use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use todoplan::state::{
    HistoryEntry, JournalEntry, LocalBackend, LockOptions, NewState, ObjectRecord, Outcome, State,
    StateBackend, StateError, StateStore,
};

enum Place {
    Local(tempfile::TempDir),
    #[cfg_attr(not(feature = "e2e"), allow(dead_code))]
    Kubernetes {
        namespace: support::TestNamespace,
        name: String,
    },
}

impl Place {
    fn local() -> Self {
        Place::Local(tempfile::tempdir().unwrap())
    }

    #[cfg(feature = "e2e")]
    fn kubernetes() -> Self {
        support::require_cluster();
        Place::Kubernetes {
            namespace: support::TestNamespace::create("e2e-stbk"),
            name: "todo-state".into(),
        }
    }

    /// The backend as a new process would open it.
    fn open(&self) -> StateStore {
        match self {
            Place::Local(dir) => StateStore::Local(LocalBackend::new(dir.path().join("state"))),
            Place::Kubernetes { namespace, name } => StateStore::Kubernetes(
                todoplan::state::KubernetesBackend::new(&namespace.name, name, None),
            ),
        }
    }

    /// The current state is lost (deleted by hand), its backup too; history remains.
    fn lose_state(&self) {
        match self {
            Place::Local(dir) => {
                let state = dir.path().join("state");
                std::fs::remove_file(state.join(todoplan::state::STATE_FILE)).unwrap();
                let _ = std::fs::remove_file(state.join(todoplan::state::BACKUP_FILE));
            }
            Place::Kubernetes { namespace, name } => {
                support::kubectl([
                    "-n",
                    &namespace.name,
                    "delete",
                    "secret",
                    name,
                    &format!("{name}-backup"),
                    "--ignore-not-found",
                ]);
            }
        }
    }
}

fn lock_options(timeout: Duration) -> LockOptions {
    LockOptions {
        command: "todoplan apply".into(),
        timeout,
    }
}

fn record(name: &str) -> ObjectRecord {
    ObjectRecord {
        release: "r".into(),
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some("ns".into()),
        name: name.into(),
        uid: None,
        digest: "d".into(),
        manifest: serde_json::json!({"data": {"k": name}}).into(),
        protect: false,
        tainted: false,
        hook_deleted: false,
        observed: None,
    }
}

fn put(name: &str) -> JournalEntry {
    JournalEntry::Put {
        address: name.into(),
        record: Box::new(record(name)),
    }
}

fn entry(revision: u64, summary: &str) -> HistoryEntry {
    HistoryEntry {
        revision,
        time: chrono::Utc::now(),
        who: "me@here".into(),
        summary: summary.into(),
        outcome: Outcome::Succeeded,
        provenance: Default::default(),
        objects: BTreeMap::new(),
        secrets: BTreeMap::new(),
    }
}

async fn saves_bump_the_serial_and_keep_the_lineage(place: &Place) {
    let backend = place.open();
    assert!(backend.read_state().await.unwrap().is_none());
    let mut state = backend.open("todo", NewState::Refuse).await.unwrap().state;
    let lineage = state.lineage.clone();
    state.objects.insert("a".into(), record("a"));
    backend.save_state(&mut state).await.unwrap();
    backend.save_state(&mut state).await.unwrap();
    assert_eq!(state.serial, 2);
    let read = place.open().read_state().await.unwrap().unwrap();
    assert_eq!(read, state);
    assert_eq!(read.lineage, lineage);
    // Another project's state is refused.
    let err = place
        .open()
        .open("shop", NewState::Allow)
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::ForeignProject { .. }), "{err:?}");
}

async fn a_held_lock_blocks_another_holder_until_released(place: &Place) {
    let first = place
        .open()
        .lock_state(&lock_options(Duration::ZERO))
        .await
        .unwrap();
    let err = place
        .open()
        .lock_state(&lock_options(Duration::from_millis(300)))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
    assert!(
        text.contains("todoplan apply") && text.contains(&std::process::id().to_string()),
        "the error names the holder: {text}"
    );
    // force-unlock with another ID is refused; the lock stays.
    assert!(matches!(
        place.open().break_lock("not-the-id").await,
        Err(StateError::UnlockMismatch { .. }) | Err(StateError::StillHeld { .. })
    ));
    drop(first);
    let second = place
        .open()
        .lock_state(&lock_options(Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(second.recovered_from.is_none());
}

/// A run killed after a sync: what was synced is read back, what was not is not; the next
/// run folds the journal into the state before its own.
async fn a_run_killed_mid_write_leaves_what_it_synced(place: &Place) {
    let backend = place.open();
    let state = State::new("todo");
    backend.begin_journal(&state).await.unwrap();
    backend.journal(&put("a")).unwrap();
    backend.sync_journal().await.unwrap();
    backend.journal(&put("b")).unwrap();
    // Killed: "b" was never synced (forgotten, not dropped: a drop would flush it).
    std::mem::forget(backend);
    let reader = place.open();
    let read = reader.read_state().await.unwrap().unwrap();
    assert_eq!(read.lineage, state.lineage, "the run's lineage survives");
    assert_eq!(read.objects.keys().collect::<Vec<_>>(), vec!["a"]);
    assert_eq!(read.serial, 1);
    assert!(reader.pending().await.unwrap().is_some());
    let next = place.open();
    next.begin_journal(&read).await.unwrap();
    next.journal(&put("c")).unwrap();
    next.sync_journal().await.unwrap();
    let again = place.open().read_state().await.unwrap().unwrap();
    assert_eq!(again.objects.keys().collect::<Vec<_>>(), vec!["a", "c"]);
    assert_eq!(again.serial, 2);
    let mut done = again.clone();
    next.save_state(&mut done).await.unwrap();
    let store = place.open();
    assert!(!store.has_journal().await.unwrap());
    assert!(store.pending().await.unwrap().is_none());
    assert_eq!(store.read_state().await.unwrap().unwrap(), done);
}

async fn a_recorded_revision_is_never_overwritten(place: &Place) {
    let backend = place.open();
    backend.write_history(&entry(1, "first")).await.unwrap();
    backend.write_history(&entry(2, "second")).await.unwrap();
    let err = place
        .open()
        .write_history(&entry(1, "again"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StateError::HistoryExists { revision: 1, .. }),
        "{err:?}"
    );
    let store = place.open();
    assert_eq!(store.revisions().await.unwrap(), vec![1, 2]);
    assert_eq!(store.read_history(1).await.unwrap().summary, "first");
    assert!(matches!(
        store.read_history(7).await,
        Err(StateError::NoRevision { revision: 7 })
    ));
}

async fn the_digest_key_is_made_once(place: &Place) {
    let key = place.open().digest_key().await.unwrap();
    assert_eq!(place.open().digest_key().await.unwrap(), key);
}

async fn a_lost_state_with_history_is_refused_then_archived_on_request(place: &Place) {
    let backend = place.open();
    let mut state = backend.open("todo", NewState::Refuse).await.unwrap().state;
    todoplan::state::record_revision(&backend, &mut state, "one".into(), Outcome::Succeeded)
        .await
        .unwrap();
    backend.save_state(&mut state).await.unwrap();
    place.lose_state();
    let err = place
        .open()
        .open("todo", NewState::Refuse)
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("revisions up to 1"), "{err}");
    let opened = place.open().open("todo", NewState::Allow).await.unwrap();
    assert!(opened.is_new());
    assert_ne!(opened.state.lineage, state.lineage);
    assert!(opened.archived.is_some());
    assert!(place.open().revisions().await.unwrap().is_empty());
    assert!(place.open().leftovers().await.unwrap().is_empty());
}

/// `force-unlock` with the exact ID of a holder that is still running on this host is refused
/// on both backends (a second apply would run beside it), and the lock stays held.
async fn a_running_holder_is_not_force_unlocked(place: &Place) {
    let held = place
        .open()
        .lock_state(&lock_options(Duration::ZERO))
        .await
        .unwrap();
    let id = held.holder().id.clone();
    let err = place.open().break_lock(&id).await.unwrap_err();
    assert!(matches!(err, StateError::StillHeld { .. }), "{err:?}");
    let again = place
        .open()
        .lock_state(&lock_options(Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(matches!(again, StateError::Locked { .. }), "{again:?}");
    drop(held);
}

/// A revision larger than one Secret holds (1 MiB) is written and read back whole: the
/// history of a big release is never lost to the backend's object size limit.
async fn a_revision_over_a_mebibyte_is_written_and_read_back(place: &Place) {
    let mut big = entry(1, "big");
    for i in 0..400 {
        let mut r = record(&format!("cm-{i}"));
        // Incompressible-looking text: a hex digest chain, 4 KiB per record.
        let mut text = String::new();
        let mut h = format!("{i}");
        while text.len() < 4096 {
            h = format!(
                "{:x}",
                sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(
                    h.as_bytes()
                ))
            );
            text.push_str(&h);
        }
        r.manifest = serde_json::json!({"data": {"k": text}}).into();
        big.objects.insert(format!("cm-{i}"), r);
    }
    assert!(serde_json::to_vec(&big).unwrap().len() > 1_500_000);
    place.open().write_history(&big).await.unwrap();
    place.open().write_history(&entry(2, "next")).await.unwrap();
    let store = place.open();
    assert_eq!(store.revisions().await.unwrap(), vec![1, 2]);
    let read = store.read_history(1).await.unwrap();
    assert_eq!(read.objects, big.objects);
    assert_eq!(store.read_history(2).await.unwrap().summary, "next");
}

macro_rules! on_both_backends {
    ($($check:ident),* $(,)?) => {$(
        mod $check {
            #[tokio::test]
            async fn local() {
                super::$check(&super::Place::local()).await;
            }
            #[cfg(feature = "e2e")]
            #[tokio::test]
            async fn kubernetes() {
                super::$check(&super::Place::kubernetes()).await;
            }
        }
    )*};
}

on_both_backends!(
    saves_bump_the_serial_and_keep_the_lineage,
    a_held_lock_blocks_another_holder_until_released,
    a_run_killed_mid_write_leaves_what_it_synced,
    a_recorded_revision_is_never_overwritten,
    the_digest_key_is_made_once,
    a_lost_state_with_history_is_refused_then_archived_on_request,
    a_running_holder_is_not_force_unlocked,
    a_revision_over_a_mebibyte_is_written_and_read_back,
);

/// What only the cluster backend has to prove: its writes carry preconditions, its state is
/// chunked below the object size limit, its history is pruned.
#[cfg(feature = "e2e")]
mod kubernetes_only {
    use super::*;
    use todoplan::state::kubernetes::HISTORY_LIMIT;

    #[tokio::test]
    async fn two_writers_that_read_the_same_state_cannot_both_win() {
        let place = Place::kubernetes();
        let mut state = State::new("todo");
        place.open().save_state(&mut state).await.unwrap();
        let (a, b) = (place.open(), place.open());
        let mut sa = a.read_state().await.unwrap().unwrap();
        let mut sb = b.read_state().await.unwrap().unwrap();
        sa.objects.insert("a".into(), record("a"));
        sb.objects.insert("b".into(), record("b"));
        a.save_state(&mut sa).await.unwrap();
        let err = b.save_state(&mut sb).await.unwrap_err();
        assert!(matches!(err, StateError::Conflict { .. }), "{err:?}");
        assert_eq!(
            sb.serial, 1,
            "a refused write leaves the state in memory as it was"
        );
        assert_eq!(place.open().read_state().await.unwrap().unwrap(), sa);
    }

    #[tokio::test]
    async fn force_unlock_with_the_printed_id_removes_a_lease_left_behind() {
        let place = Place::kubernetes();
        let guard = place
            .open()
            .lock_state(&lock_options(Duration::ZERO))
            .await
            .unwrap();
        let id = guard.holder().id.clone();
        // The holder dies without releasing (its renewals stop with it).
        std::mem::forget(guard);
        let StateError::Locked { id: printed, .. } = place
            .open()
            .lock_state(&lock_options(Duration::ZERO))
            .await
            .unwrap_err()
        else {
            panic!("not a locked error")
        };
        assert_eq!(printed, id, "the error prints the ID force-unlock takes");
        // The holder's process here is this test, which is alive: a live holder on this host
        // is never unlocked from under it, so the Lease is made to name a process that exited.
        let Place::Kubernetes { namespace, name } = &place else {
            unreachable!()
        };
        let lease = format!("{name}-lock");
        let mut exited = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = exited.id();
        exited.wait().unwrap();
        let found = support::kubectl_json(["-n", &namespace.name, "get", "lease", &lease]);
        let mut holder: serde_json::Value = serde_json::from_str(
            found["metadata"]["annotations"]["todoplan.dev/holder"]
                .as_str()
                .expect("the Lease names its holder"),
        )
        .unwrap();
        holder["pid"] = serde_json::json!(dead_pid);
        support::kubectl([
            "-n",
            &namespace.name,
            "annotate",
            "--overwrite",
            "lease",
            &lease,
            &format!("todoplan.dev/holder={holder}"),
        ]);
        let removed = place.open().break_lock(&id).await.unwrap();
        assert!(removed.to_string().contains(&id), "{removed}");
        let next = place
            .open()
            .lock_state(&lock_options(Duration::ZERO))
            .await
            .unwrap();
        assert!(next.recovered_from.is_none(), "removed, not expired");
    }

    /// A journal past one Secret is folded into the state during the run; killed after that,
    /// every synced entry is still read back, and the final save goes past the folded serial.
    #[tokio::test]
    async fn a_journal_past_one_secret_is_folded_into_the_state_mid_run() {
        let place = Place::kubernetes();
        let backend = place.open();
        let state = State::new("todo");
        backend.begin_journal(&state).await.unwrap();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..240 {
            let mut noise = String::new();
            for _ in 0..512 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                noise.push_str(&format!("{seed:016x}"));
            }
            let mut r = record(&format!("cm-{i}"));
            r.manifest = serde_json::json!({"data": {"noise": noise}}).into();
            backend
                .journal(&JournalEntry::Put {
                    address: format!("cm-{i}"),
                    record: Box::new(r),
                })
                .unwrap();
            if i % 20 == 19 {
                backend.sync_journal().await.unwrap();
            }
        }
        assert!(
            secrets_named(&place, "todo-state").contains(&"todo-state".to_string()),
            "the journal was folded into the state Secret before any save"
        );
        std::mem::forget(backend); // killed
        let read = place.open().read_state().await.unwrap().unwrap();
        assert_eq!(read.objects.len(), 240);
        assert_eq!(read.lineage, state.lineage);
        let store = place.open();
        let mut next = store.read_state().await.unwrap().unwrap();
        let before = next.serial;
        store.save_state(&mut next).await.unwrap();
        assert!(next.serial > before, "{} > {before}", next.serial);
    }

    fn secrets_named(place: &Place, part: &str) -> Vec<String> {
        let Place::Kubernetes { namespace, .. } = place else {
            unreachable!()
        };
        support::kubectl([
            "-n",
            &namespace.name,
            "get",
            "secrets",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}",
        ])
        .lines()
        .filter(|n| n.contains(part))
        .map(str::to_string)
        .collect()
    }

    #[tokio::test]
    async fn a_state_past_the_object_limit_is_chunked_and_read_back_whole() {
        let place = Place::kubernetes();
        let mut state = State::new("todo");
        // ~3 MB of random hex: about 1.5 MB gzip'd, past one Secret.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for i in 0..12000 {
            let mut noise = String::new();
            for _ in 0..16 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                noise.push_str(&format!("{seed:016x}"));
            }
            let mut r = record(&format!("cm-{i}"));
            r.manifest = serde_json::json!({"data": {"noise": noise}}).into();
            state.objects.insert(format!("cm-{i}"), r);
        }
        place.open().save_state(&mut state).await.unwrap();
        let parts = secrets_named(&place, "-part-");
        assert!(parts.len() >= 2, "{parts:?}");
        assert_eq!(place.open().read_state().await.unwrap().unwrap(), state);
        // A small state next: its backup still needs the parts; the one after, none.
        let mut small = state.clone();
        small.objects.clear();
        place.open().save_state(&mut small).await.unwrap();
        assert_eq!(secrets_named(&place, "-part-"), parts);
        place.open().save_state(&mut small).await.unwrap();
        assert!(secrets_named(&place, "-part-").is_empty());
        assert_eq!(place.open().read_state().await.unwrap().unwrap(), small);
    }

    #[tokio::test]
    async fn history_keeps_the_newest_revisions_up_to_the_limit() {
        let place = Place::kubernetes();
        let backend = place.open();
        for revision in 1..=HISTORY_LIMIT + 2 {
            backend.write_history(&entry(revision, "r")).await.unwrap();
        }
        let kept = place.open().revisions().await.unwrap();
        assert_eq!(kept.len() as u64, HISTORY_LIMIT);
        assert_eq!(kept.first(), Some(&3));
        assert_eq!(kept.last(), Some(&(HISTORY_LIMIT + 2)));
    }
}
