//! Two real processes race to take over a lock left by a dead process: never both hold it.
//!
//! The test binary re-executes itself (this same test, filtered by name) with
//! `TODOPLAN_LOCK_RACE_DIR` set; in that mode it is one racer instead of the referee.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use todoplan::state::{LocalBackend, LockHolder, LockOptions, StateError};

const CHILD_ENV: &str = "TODOPLAN_LOCK_RACE_DIR";
const ROUNDS: usize = 50;
/// How long a winner keeps the lock: long enough that two holders would overlap.
const HOLD: Duration = Duration::from_millis(60);

fn go_file(dir: &Path) -> PathBuf {
    dir.join("go")
}

fn inside_file(dir: &Path) -> PathBuf {
    dir.join("inside")
}

/// One racer: wait for the start signal, try once (no waiting), report.
fn race(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !go_file(dir).exists() {
        assert!(Instant::now() < deadline, "never told to go");
        std::thread::sleep(Duration::from_micros(200));
    }
    let backend = LocalBackend::new(dir.join("state"));
    let options = LockOptions {
        command: "racer".into(),
        timeout: Duration::ZERO,
    };
    match backend.lock(&options) {
        Ok(guard) => {
            // Created exclusively: if another racer is inside, this fails.
            let entered = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(inside_file(dir));
            if entered.is_err() {
                println!("RACE: OVERLAP");
                return;
            }
            std::thread::sleep(HOLD);
            fs::remove_file(inside_file(dir)).unwrap();
            println!("RACE: HELD recovered={}", guard.recovered_from.is_some());
        }
        Err(StateError::Locked { .. }) => println!("RACE: REFUSED"),
        Err(other) => println!("RACE: ERROR {other}"),
    }
}

/// A holder that provably no longer exists: a child that ran and was reaped.
fn dead_holder() -> LockHolder {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    let start = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(19)?.parse().ok())
        });
    child.wait().unwrap();
    let mut holder = LockHolder::this_process("todoplan apply (killed)");
    holder.pid = pid;
    holder.process_start = start;
    holder
}

#[test]
fn two_processes_racing_for_a_stale_lock_never_both_hold_it() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        race(Path::new(&dir));
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut takeovers_seen = 0;
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        fs::create_dir_all(&state).unwrap();
        fs::write(
            state.join("todoplan.lock"),
            serde_json::to_vec(&dead_holder()).unwrap(),
        )
        .unwrap();
        let racers: Vec<_> = (0..2)
            .map(|_| {
                Command::new(&exe)
                    .args([
                        "--exact",
                        "state_lock_race::two_processes_racing_for_a_stale_lock_never_both_hold_it",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .env(CHILD_ENV, dir.path())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // Both are started and spinning on the signal, so they try at the same moment.
        std::thread::sleep(Duration::from_millis(150));
        fs::write(go_file(dir.path()), b"").unwrap();
        let reports: Vec<String> = racers
            .into_iter()
            .map(|c| {
                let out = c.wait_with_output().unwrap();
                let stdout = String::from_utf8_lossy(&out.stdout);
                stdout
                    .lines()
                    .find_map(|l| l.split_once("RACE: ").map(|(_, r)| r))
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        panic!(
                            "round {round}: a racer reported nothing\n{stdout}\n{}",
                            String::from_utf8_lossy(&out.stderr)
                        )
                    })
            })
            .collect();
        assert!(
            !reports
                .iter()
                .any(|r| r == "OVERLAP" || r.starts_with("ERROR")),
            "round {round}: {reports:?}"
        );
        let held = reports.iter().filter(|r| r.starts_with("HELD")).count();
        assert!(held >= 1, "round {round}: nobody got the lock: {reports:?}");
        let took_over = reports
            .iter()
            .filter(|r| *r == "HELD recovered=true")
            .count();
        assert_eq!(
            took_over, 1,
            "round {round}: the dead holder's lock is taken over exactly once: {reports:?}"
        );
        takeovers_seen += took_over;
    }
    assert_eq!(takeovers_seen, ROUNDS);
}
