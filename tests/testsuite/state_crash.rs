//! A crash at any write point of a run leaves a state the next run can trust: it opens without
//! starting a new lineage, takes over the dead run's lock, and records its revision without
//! ever writing over a recorded one.

use std::time::Duration;

use todoplan::state::memory::{Crash, MemoryBackend};
use todoplan::state::{LockOptions, NewState, Outcome, StateBackend, record_revision};

const RUNS: usize = 3;

fn lock_options() -> LockOptions {
    LockOptions {
        command: "todoplan apply".into(),
        timeout: Duration::ZERO,
    }
}

/// One run as the executor does it: lock, open, save per object, record the revision.
async fn run(backend: &MemoryBackend, objects: usize) -> Result<u64, String> {
    let _lock = backend
        .lock_state(&lock_options())
        .await
        .map_err(|e| e.to_string())?;
    let mut state = backend
        .open("todo", NewState::Refuse)
        .await
        .map_err(|e| e.to_string())?
        .state;
    for _ in 0..objects {
        backend
            .save_state(&mut state)
            .await
            .map_err(|e| e.to_string())?;
    }
    record_revision(backend, &mut state, "run".into(), Outcome::Succeeded)
        .await
        .map_err(|e| e.to_string())
}

/// Every write point of `RUNS` runs, found by running once without faults.
async fn write_points() -> u64 {
    let backend = MemoryBackend::new();
    for _ in 0..RUNS {
        run(&backend, 2).await.unwrap();
    }
    backend.writes().len() as u64
}

#[tokio::test]
async fn a_crash_at_any_write_point_leaves_a_state_the_next_run_trusts() {
    let points = write_points().await;
    assert!(points >= (RUNS * 4) as u64, "{points} write points");
    let mut cases = 0;
    for at in 1..=points {
        for crash in [Crash::Before(at), Crash::After(at)] {
            let backend = MemoryBackend::new();
            backend.crash(crash);
            let mut lineage = None;
            for _ in 0..RUNS {
                let _ = run(&backend, 2).await;
                if lineage.is_none() {
                    lineage = backend.stored_state().map(|s| s.lineage);
                }
            }
            // After the very last write there is nothing left to stop.
            if crash != Crash::After(points) {
                assert!(backend.has_crashed(), "{crash:?} never reached");
            }
            let next = backend.restart();
            let revision = run(&next, 1)
                .await
                .unwrap_or_else(|e| panic!("after {crash:?} the next run failed: {e}"));
            let state = next.stored_state().unwrap();
            if let Some(lineage) = lineage {
                assert_eq!(
                    state.lineage, lineage,
                    "{crash:?}: a new lineage was started"
                );
            }
            let recorded = next.revisions().await.unwrap();
            assert_eq!(recorded.last(), Some(&revision), "{crash:?}");
            assert_eq!(state.revision, revision, "{crash:?}");
            assert!(
                recorded.windows(2).all(|w| w[0] < w[1]),
                "{crash:?}: {recorded:?}"
            );
            cases += 1;
        }
    }
    assert_eq!(cases, 2 * points as usize);
}
