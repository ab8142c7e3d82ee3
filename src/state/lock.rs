//! The local state lock: `flock(2)` on `todoplan.lock`, a file that is never deleted.
//!
//! Mutual exclusion comes from the kernel, not from the file's content: whoever holds the
//! `flock` holds the lock, and the kernel drops it when the holder's process exits for any
//! reason (kill -9, a crash; a zombie has already closed its files). So no check-then-act race
//! exists: two processes can never both be inside, and "taking over" a lock left by a dead
//! process is simply acquiring it.
//!
//! The content names the holder, for messages, and is cleared on release. Content found under a
//! freshly acquired `flock` was left by a holder that did not clear it: on this host it is taken
//! over only when the holder is provably dead (no such pid, a zombie, the pid now belongs to a
//! process started at another time, or the machine rebooted since); a holder on another host
//! (a shared directory whose `flock` may be host-local) is never taken over automatically, only
//! by `todoplan force-unlock ID`. Unreadable content is cleared only by `force-unlock` with an ID
//! derived from that exact content, so the command the error suggests always works.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StateError;
use super::backend::{LockGuard, LockRelease, Unlocked};

pub const LOCK_FILE: &str = "todoplan.lock";

const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockHolder {
    pub id: String,
    pub pid: u32,
    pub host: String,
    pub command: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Start time of the holder process (clock ticks after boot, `/proc/PID/stat` field 22): a
    /// pid reused by another process has another start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_start: Option<u64>,
    /// `/proc/sys/kernel/random/boot_id` when the lock was taken: after a reboot no process of
    /// the old boot exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    /// For leased locks (a Kubernetes Lease): the holder lapses unless it renews before this.
    /// `None`: held until released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl LockHolder {
    /// This process, about to take a lock for `command`.
    pub fn this_process(command: &str) -> Self {
        let pid = std::process::id();
        LockHolder {
            id: uuid::Uuid::new_v4().to_string(),
            pid,
            host: this_host(),
            command: command.to_string(),
            started_at: chrono::Utc::now(),
            process_start: proc_stat(pid).ok().flatten().map(|s| s.start_ticks),
            boot_id: boot_id(),
            expires_at: None,
        }
    }
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` (pid {} on {}, since {}, lock ID {})",
            self.command,
            self.pid,
            self.host,
            self.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.id
        )
    }
}

#[derive(Debug, Clone)]
pub struct LockOptions {
    /// What the holder is doing, shown to anyone who finds the lock taken.
    pub command: String,
    /// How long to wait for another holder before giving up.
    pub timeout: Duration,
}

pub fn this_host() -> String {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}

fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct ProcStat {
    /// R, S, D, Z (zombie), X (dead), ...
    state: char,
    start_ticks: u64,
}

/// The two fields of `/proc/PID/stat` that tell whether a pid is still the same live process.
/// `Ok(None)`: no such process. Two fields of one file do not justify the `procfs` crate.
fn proc_stat(pid: u32) -> std::io::Result<Option<ProcStat>> {
    let text = match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // The command name (field 2) is in parentheses and may itself contain ") ".
    let rest = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .ok_or_else(|| std::io::Error::other("no ')' in /proc/PID/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields
        .first()
        .and_then(|s| s.chars().next())
        .ok_or_else(|| std::io::Error::other("no state in /proc/PID/stat"))?;
    // Field 3 is fields[0], so field 22 (starttime) is fields[19].
    let start_ticks = fields
        .get(19)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no starttime in /proc/PID/stat"))?;
    Ok(Some(ProcStat { state, start_ticks }))
}

/// Whether the recorded holder still exists.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Liveness {
    /// Provably gone; the reason is shown to the user.
    Dead(String),
    /// Running, or it cannot be proven gone; the reason is shown to the user.
    NotProvenDead(String),
}

pub(super) fn liveness(holder: &LockHolder) -> Liveness {
    if holder.host != this_host() {
        return Liveness::NotProvenDead(format!(
            "it ran on host {}, and todoplan cannot see processes of another host",
            holder.host
        ));
    }
    let Some(boot_now) = boot_id() else {
        return Liveness::NotProvenDead("this system has no /proc to check processes in".into());
    };
    if holder.boot_id.as_ref().is_some_and(|b| *b != boot_now) {
        return Liveness::Dead("this machine has rebooted since it was taken".into());
    }
    match proc_stat(holder.pid) {
        Ok(None) => Liveness::Dead(format!("no process {} exists any more", holder.pid)),
        Ok(Some(stat)) if matches!(stat.state, 'Z' | 'X') => Liveness::Dead(format!(
            "process {} has exited (a zombie not yet reaped by its parent)",
            holder.pid
        )),
        Ok(Some(stat)) => match holder.process_start {
            Some(start) if start != stat.start_ticks => Liveness::Dead(format!(
                "pid {} now belongs to another process (started at another time)",
                holder.pid
            )),
            Some(_) => Liveness::NotProvenDead(format!("process {} is running", holder.pid)),
            None => Liveness::NotProvenDead(format!(
                "a process {} is running (the lock does not record its start time, so it may be the holder)",
                holder.pid
            )),
        },
        Err(e) => Liveness::NotProvenDead(format!("process {} cannot be checked: {e}", holder.pid)),
    }
}

/// What a lock file holds.
enum Content {
    Empty,
    Holder(LockHolder),
    Unreadable(Vec<u8>),
}

fn classify(bytes: Vec<u8>) -> Content {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Content::Empty;
    }
    match serde_json::from_slice(&bytes) {
        Ok(holder) => Content::Holder(holder),
        Err(_) => Content::Unreadable(bytes),
    }
}

/// The ID `force-unlock` accepts for a lock file whose content is not a holder: it names that
/// exact content, so a lock rewritten meanwhile is not removed by mistake.
pub(super) fn unreadable_id(bytes: &[u8]) -> String {
    format!("unreadable-{}", &hex::encode(Sha256::digest(bytes))[..12])
}

fn open_lock_file(path: &Path) -> Result<fs::File, StateError> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|source| StateError::Write {
            path: path.to_path_buf(),
            source,
        })
}

fn read_all(file: &mut fs::File, path: &Path) -> Result<Vec<u8>, StateError> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|source| StateError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(bytes)
}

fn overwrite(file: &mut fs::File, bytes: &[u8]) -> std::io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(bytes)?;
    file.sync_data()
}

/// The open file is still the one at `path` (someone may have deleted the file by hand between
/// our open and our flock; locking an unlinked file excludes nobody).
fn still_linked(file: &fs::File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Takes the flock, or `Ok(None)` when another process holds it. Retries when the file was
/// replaced under us.
fn try_flock(path: &Path) -> Result<Option<fs::File>, StateError> {
    loop {
        let file = open_lock_file(path)?;
        match file.try_lock() {
            Ok(()) if still_linked(&file, path) => return Ok(Some(file)),
            Ok(()) => continue,
            Err(fs::TryLockError::WouldBlock) => return Ok(None),
            Err(fs::TryLockError::Error(source)) => {
                return Err(StateError::LockUnsupported {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
}

/// The error for a lock whose flock a running process holds.
fn held_by_running(path: &Path) -> StateError {
    let content = fs::read(path).map(classify).unwrap_or(Content::Empty);
    match content {
        Content::Holder(holder) => {
            let hint = if holder.host == this_host() {
                format!(
                    "; if it hangs, stop it (`kill {}`): its lock is released when it exits",
                    holder.pid
                )
            } else {
                String::new()
            };
            StateError::Locked {
                holder: holder.to_string(),
                id: holder.id,
                hint,
            }
        }
        _ => StateError::Locked {
            holder: "a running process that has not written its name yet".into(),
            id: String::new(),
            hint: format!(
                "; `fuser -v {}` names the process holding it",
                path.display()
            ),
        },
    }
}

pub(super) fn acquire(dir: &Path, options: &LockOptions) -> Result<LockGuard, StateError> {
    let path = dir.join(LOCK_FILE);
    fs::create_dir_all(dir).map_err(|source| StateError::Write {
        path: path.clone(),
        source,
    })?;
    let me = LockHolder::this_process(&options.command);
    let body = serde_json::to_vec_pretty(&me).map_err(|e| StateError::Write {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    let deadline = Instant::now() + options.timeout;
    loop {
        let Some(mut file) = try_flock(&path)? else {
            if Instant::now() >= deadline {
                return Err(held_by_running(&path));
            }
            std::thread::sleep(POLL);
            continue;
        };
        // We hold the flock: nobody else can be deciding about this content right now.
        let recovered = match classify(read_all(&mut file, &path)?) {
            Content::Empty => None,
            Content::Holder(previous) => match liveness(&previous) {
                Liveness::Dead(why) => Some((previous, why)),
                Liveness::NotProvenDead(why) => {
                    drop(file);
                    if Instant::now() >= deadline {
                        return Err(StateError::LockedUnproven {
                            holder: previous.to_string(),
                            id: previous.id,
                            why,
                        });
                    }
                    std::thread::sleep(POLL);
                    continue;
                }
            },
            Content::Unreadable(bytes) => {
                return Err(StateError::UnreadableLock {
                    path,
                    id: unreadable_id(&bytes),
                    len: bytes.len(),
                });
            }
        };
        overwrite(&mut file, &body).map_err(|source| StateError::Write {
            path: path.clone(),
            source,
        })?;
        let (recovered_from, recovered_because) = match recovered {
            Some((holder, why)) => (Some(holder), Some(why)),
            None => (None, None),
        };
        return Ok(LockGuard::new(
            me.clone(),
            recovered_from,
            recovered_because,
            Box::new(FlockRelease {
                file,
                path,
                id: me.id,
            }),
        ));
    }
}

/// Clears the content and drops the flock (by closing the file).
#[derive(Debug)]
struct FlockRelease {
    file: fs::File,
    path: PathBuf,
    id: String,
}

impl LockRelease for FlockRelease {
    fn release(mut self: Box<Self>) {
        // Clear only our own content: on a filesystem whose flock does not reach other hosts,
        // `force-unlock` from another host may have replaced it.
        let ours = read_all(&mut self.file, &self.path)
            .ok()
            .map(classify)
            .is_some_and(|c| matches!(c, Content::Holder(h) if h.id == self.id));
        if ours {
            let _ = overwrite(&mut self.file, b"");
        }
    }
}

pub(super) fn force_unlock(dir: &Path, id: &str) -> Result<Unlocked, StateError> {
    let path = dir.join(LOCK_FILE);
    if !path.exists() {
        return Err(StateError::UnlockMismatch {
            given: id.to_string(),
            current: None,
        });
    }
    let Some(mut file) = try_flock(&path)? else {
        let StateError::Locked { holder, .. } = held_by_running(&path) else {
            unreachable!("held_by_running returns Locked")
        };
        return Err(StateError::StillHeld { holder });
    };
    let mismatch = |current| StateError::UnlockMismatch {
        given: id.to_string(),
        current,
    };
    let unlocked = match classify(read_all(&mut file, &path)?) {
        Content::Empty => return Err(mismatch(None)),
        Content::Holder(holder) if holder.id == id => Unlocked::Holder(holder),
        Content::Holder(holder) => return Err(mismatch(Some(holder.id))),
        Content::Unreadable(bytes) if unreadable_id(&bytes) == id => {
            Unlocked::Unreadable { len: bytes.len() }
        }
        Content::Unreadable(bytes) => return Err(mismatch(Some(unreadable_id(&bytes)))),
    };
    overwrite(&mut file, b"").map_err(|source| StateError::Write { path, source })?;
    Ok(unlocked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(timeout_ms: u64) -> LockOptions {
        LockOptions {
            command: "todoplan apply".into(),
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    fn leave_lock(dir: &Path, holder: &LockHolder) {
        fs::write(dir.join(LOCK_FILE), serde_json::to_vec(holder).unwrap()).unwrap();
    }

    fn holder_with_pid(pid: u32) -> LockHolder {
        let mut h = LockHolder::this_process("todoplan apply");
        h.id = "left-behind".into();
        h.pid = pid;
        h.process_start = proc_stat(pid).unwrap().map(|s| s.start_ticks);
        h
    }

    #[test]
    fn second_holder_is_refused_with_the_first_named_and_lock_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), &opts(0)).unwrap();
        let err = acquire(dir.path(), &opts(300)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("todoplan apply"), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(first);
        // Never deleted (deleting would let a waiter lock an unlinked file), only cleared.
        assert_eq!(fs::read(dir.path().join(LOCK_FILE)).unwrap(), b"");
        let again = acquire(dir.path(), &opts(0)).unwrap();
        assert!(again.recovered_from.is_none());
    }

    #[test]
    fn the_kernel_lock_excludes_even_when_the_content_was_cleared_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let _first = acquire(dir.path(), &opts(0)).unwrap();
        fs::write(dir.path().join(LOCK_FILE), b"").unwrap();
        let err = acquire(dir.path(), &opts(0)).unwrap_err();
        assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
        assert!(
            err.to_string().contains("has not written its name"),
            "{err}"
        );
    }

    #[test]
    fn lock_of_a_dead_process_on_this_host_is_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let mut dead = holder_with_pid(std::process::id());
        dead.pid = u32::MAX - 1;
        leave_lock(dir.path(), &dead);
        let guard = acquire(dir.path(), &opts(0)).unwrap();
        assert_eq!(
            guard.recovered_from.as_ref().map(|h| h.id.as_str()),
            Some("left-behind")
        );
        assert!(
            guard
                .recovered_because
                .as_deref()
                .unwrap()
                .contains("no process")
        );
    }

    #[test]
    fn a_zombie_holder_counts_as_dead() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not reaped yet: it stays a zombie until `wait`.
        let deadline = Instant::now() + Duration::from_secs(10);
        while proc_stat(pid).unwrap().map(|s| s.state) != Some('Z') {
            assert!(Instant::now() < deadline, "child never became a zombie");
            std::thread::sleep(Duration::from_millis(10));
        }
        leave_lock(dir.path(), &holder_with_pid(pid));
        let guard = acquire(dir.path(), &opts(0));
        child.wait().unwrap();
        let guard = guard.unwrap();
        assert!(
            guard
                .recovered_because
                .as_deref()
                .unwrap()
                .contains("zombie"),
            "{:?}",
            guard.recovered_because
        );
    }

    #[test]
    fn a_reused_pid_is_told_apart_by_its_start_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut reused = holder_with_pid(std::process::id());
        reused.process_start = reused.process_start.map(|s| s + 1);
        leave_lock(dir.path(), &reused);
        let guard = acquire(dir.path(), &opts(0)).unwrap();
        assert!(
            guard
                .recovered_because
                .as_deref()
                .unwrap()
                .contains("another process")
        );
    }

    #[test]
    fn a_lock_from_before_a_reboot_is_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = holder_with_pid(std::process::id());
        old.boot_id = Some("another-boot".into());
        leave_lock(dir.path(), &old);
        let guard = acquire(dir.path(), &opts(0)).unwrap();
        assert!(
            guard
                .recovered_because
                .as_deref()
                .unwrap()
                .contains("rebooted")
        );
    }

    #[test]
    fn a_live_holder_without_the_flock_is_not_taken_over_but_can_be_force_unlocked() {
        // What an older todoplan (content-only lock) that is still running leaves.
        let dir = tempfile::tempdir().unwrap();
        leave_lock(dir.path(), &holder_with_pid(std::process::id()));
        let err = acquire(dir.path(), &opts(0)).unwrap_err();
        assert!(matches!(err, StateError::LockedUnproven { .. }), "{err:?}");
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(help.contains("todoplan force-unlock left-behind"), "{help}");
        force_unlock(dir.path(), "left-behind").unwrap();
        acquire(dir.path(), &opts(0)).unwrap();
    }

    #[test]
    fn lock_of_another_host_is_not_taken_and_force_unlock_needs_the_exact_id() {
        let dir = tempfile::tempdir().unwrap();
        let mut other = holder_with_pid(1);
        other.id = "abc".into();
        other.host = "elsewhere".into();
        leave_lock(dir.path(), &other);
        let err = acquire(dir.path(), &opts(0)).unwrap_err();
        assert!(err.to_string().contains("elsewhere"), "{err}");
        assert!(matches!(
            force_unlock(dir.path(), "wrong"),
            Err(StateError::UnlockMismatch { .. })
        ));
        let Unlocked::Holder(h) = force_unlock(dir.path(), "abc").unwrap() else {
            panic!("expected a holder")
        };
        assert_eq!(h.host, "elsewhere");
        acquire(dir.path(), &opts(0)).unwrap();
    }

    #[test]
    fn an_empty_lock_file_is_a_free_lock() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(LOCK_FILE), b"").unwrap();
        let guard = acquire(dir.path(), &opts(0)).unwrap();
        assert!(guard.recovered_from.is_none());
    }

    #[test]
    fn an_unreadable_lock_suggests_a_force_unlock_that_works() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(LOCK_FILE), b"{\"id\": \"trunc").unwrap();
        let err = acquire(dir.path(), &opts(0)).unwrap_err();
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        let id = help
            .split('`')
            .find_map(|s| s.strip_prefix("todoplan force-unlock "))
            .unwrap_or_else(|| panic!("no command in {help}"))
            .to_string();
        // Content changed since the error: the old ID no longer matches.
        fs::write(dir.path().join(LOCK_FILE), b"{\"id\": \"other").unwrap();
        assert!(matches!(
            force_unlock(dir.path(), &id),
            Err(StateError::UnlockMismatch { .. })
        ));
        fs::write(dir.path().join(LOCK_FILE), b"{\"id\": \"trunc").unwrap();
        assert!(matches!(
            force_unlock(dir.path(), &id).unwrap(),
            Unlocked::Unreadable { len: 13 }
        ));
        acquire(dir.path(), &opts(0)).unwrap();
    }

    #[test]
    fn force_unlock_does_not_break_a_lock_a_running_process_holds() {
        let dir = tempfile::tempdir().unwrap();
        let guard = acquire(dir.path(), &opts(0)).unwrap();
        let err = force_unlock(dir.path(), &guard.holder().id).unwrap_err();
        assert!(matches!(err, StateError::StillHeld { .. }), "{err:?}");
    }

    #[test]
    fn proc_stat_reads_state_and_start_time_of_this_process() {
        let me = proc_stat(std::process::id()).unwrap().unwrap();
        assert!(matches!(me.state, 'R' | 'S'), "{me:?}");
        assert!(me.start_ticks > 0);
        assert_eq!(proc_stat(u32::MAX - 1).unwrap(), None);
    }
}
