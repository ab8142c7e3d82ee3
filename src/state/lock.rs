//! The state lock: a file created exclusively (O_EXCL) that names its holder.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::StateError;

pub const LOCK_FILE: &str = "todoplan.lock";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockHolder {
    pub id: String,
    pub pid: u32,
    pub host: String,
    pub command: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
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

/// Releases the lock when dropped, so every normal exit (including `?` errors) unlocks.
#[derive(Debug)]
pub struct LockGuard {
    path: PathBuf,
    holder: LockHolder,
    /// A lock taken over from a holder that is gone; callers tell the user.
    pub recovered_from: Option<LockHolder>,
}

impl LockGuard {
    pub fn holder(&self) -> &LockHolder {
        &self.holder
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Only remove the file if it is still ours (force-unlock may have replaced it).
        if let Ok(current) = read_holder(&self.path)
            && current.id == self.holder.id
        {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn this_host() -> String {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}

fn read_holder(path: &Path) -> std::io::Result<LockHolder> {
    let text = fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(std::io::Error::other)
}

/// True when the holder ran on this host and its process no longer exists.
fn holder_is_gone(holder: &LockHolder) -> bool {
    holder.host == this_host() && !Path::new(&format!("/proc/{}", holder.pid)).exists()
}

pub(super) fn acquire(dir: &Path, options: &LockOptions) -> Result<LockGuard, StateError> {
    let path = dir.join(LOCK_FILE);
    fs::create_dir_all(dir).map_err(|source| StateError::Write {
        path: path.clone(),
        source,
    })?;
    let holder = LockHolder {
        id: uuid::Uuid::new_v4().to_string(),
        pid: std::process::id(),
        host: this_host(),
        command: options.command.clone(),
        started_at: chrono::Utc::now(),
    };
    let body = serde_json::to_vec_pretty(&holder).map_err(|e| StateError::Write {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    let deadline = Instant::now() + options.timeout;
    let mut recovered_from = None;
    loop {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(&body)
                    .and_then(|_| file.sync_all())
                    .map_err(|source| StateError::Write {
                        path: path.clone(),
                        source,
                    })?;
                return Ok(LockGuard {
                    path,
                    holder,
                    recovered_from,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                match read_holder(&path) {
                    Ok(existing) if holder_is_gone(&existing) => {
                        // The process that held it died (kill -9, power loss): the lock
                        // protects nothing any more. Take it over, and say so.
                        let _ = fs::remove_file(&path);
                        recovered_from = Some(existing);
                        continue;
                    }
                    Ok(existing) => {
                        if Instant::now() >= deadline {
                            return Err(StateError::Locked {
                                holder: existing.to_string(),
                                id: existing.id,
                            });
                        }
                    }
                    // Half-written by a holder that is creating it right now: wait.
                    Err(_) if Instant::now() < deadline => {}
                    Err(_) => {
                        return Err(StateError::Locked {
                            holder: format!("an unreadable lock file at {}", path.display()),
                            id: "<remove the file by hand>".to_string(),
                        });
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(source) => return Err(StateError::Write { path, source }),
        }
    }
}

pub(super) fn force_unlock(dir: &Path, id: &str) -> Result<LockHolder, StateError> {
    let path = dir.join(LOCK_FILE);
    match read_holder(&path) {
        Ok(holder) if holder.id == id => {
            fs::remove_file(&path).map_err(|source| StateError::Write { path, source })?;
            Ok(holder)
        }
        Ok(holder) => Err(StateError::UnlockMismatch {
            given: id.to_string(),
            current: Some(holder.id),
        }),
        Err(_) => Err(StateError::UnlockMismatch {
            given: id.to_string(),
            current: None,
        }),
    }
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
        assert!(!dir.path().join(LOCK_FILE).exists());
        acquire(dir.path(), &opts(0)).unwrap();
    }

    #[test]
    fn lock_of_a_dead_process_on_this_host_is_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let dead = LockHolder {
            id: "dead-lock".into(),
            pid: u32::MAX - 1,
            host: this_host(),
            command: "todoplan apply".into(),
            started_at: chrono::Utc::now(),
        };
        fs::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_vec(&dead).unwrap(),
        )
        .unwrap();
        let guard = acquire(dir.path(), &opts(0)).unwrap();
        assert_eq!(
            guard.recovered_from.as_ref().map(|h| h.id.as_str()),
            Some("dead-lock")
        );
    }

    #[test]
    fn lock_of_another_host_is_not_taken_and_force_unlock_needs_the_exact_id() {
        let dir = tempfile::tempdir().unwrap();
        let other = LockHolder {
            id: "abc".into(),
            pid: 1,
            host: "elsewhere".into(),
            command: "todoplan apply".into(),
            started_at: chrono::Utc::now(),
        };
        fs::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_vec(&other).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            acquire(dir.path(), &opts(0)),
            Err(StateError::Locked { .. })
        ));
        assert!(matches!(
            force_unlock(dir.path(), "wrong"),
            Err(StateError::UnlockMismatch { .. })
        ));
        assert_eq!(force_unlock(dir.path(), "abc").unwrap().host, "elsewhere");
        acquire(dir.path(), &opts(0)).unwrap();
    }
}
