//! A state backend in memory, for tests of the planner and executor, with injected faults:
//! fail the Nth write, or crash before (or right after) the Nth write.
//!
//! Every write is counted in one sequence ([`MemoryBackend::writes`]), so a test can run once,
//! count the write points, then crash at each of them in turn. Stored content is kept
//! serialized, as a real backend keeps it: what a test reads back went through serde.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{
    DigestKey, HistoryEntry, Leftovers, LockGuard, LockHolder, LockOptions, LockRelease, Recovery,
    State, StateBackend, StateError, Unlocked, Unsaved,
};

/// One write, in the order it was attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteKind {
    State,
    History(u64),
    Lock,
    Archive,
    Recovery,
    DigestKey,
}

/// When the simulated process dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// Write N never happens; neither does anything after it.
    Before(u64),
    /// Write N happens; nothing after it does.
    After(u64),
}

#[derive(Debug, Default)]
struct Lock {
    holder: Option<LockHolder>,
    /// False once the holder's process is gone ([`MemoryBackend::restart`]): like a kernel lock
    /// of a dead process, the next taker gets it (and is told).
    holder_alive: bool,
}

/// A backup and history moved aside by `archive_leftovers`.
#[derive(Debug)]
struct Archived {
    backup: Option<Vec<u8>>,
    history: BTreeMap<u64, Vec<u8>>,
}

#[derive(Debug, Default)]
struct Inner {
    state: Option<Vec<u8>>,
    backup: Option<Vec<u8>>,
    history: BTreeMap<u64, Vec<u8>>,
    archived: Vec<Archived>,
    recoveries: Vec<(String, Vec<u8>)>,
    lock: Lock,
    key: Option<DigestKey>,
    /// Lease length; `None`: held until released.
    lease: Option<Duration>,
    writes: Vec<WriteKind>,
    fail: BTreeSet<u64>,
    crash: Option<Crash>,
    crashed: bool,
}

impl Inner {
    /// Counts a write and says whether it may happen.
    fn write(&mut self, kind: WriteKind) -> Result<(), StateError> {
        if self.crashed {
            return Err(crashed());
        }
        self.writes.push(kind.clone());
        let n = self.writes.len() as u64;
        match self.crash {
            Some(Crash::Before(at)) if n >= at => {
                self.crashed = true;
                return Err(crashed());
            }
            Some(Crash::After(at)) if n > at => {
                self.crashed = true;
                return Err(crashed());
            }
            _ => {}
        }
        if self.fail.remove(&n) {
            return Err(StateError::Write {
                path: format!("memory:{kind:?}").into(),
                source: std::io::Error::other(format!("injected failure of write {n}")),
            });
        }
        Ok(())
    }
}

fn crashed() -> StateError {
    StateError::Write {
        path: "memory:".into(),
        source: std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            "the process crashed (simulated)",
        ),
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("state types serialize")
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StateError> {
    serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt {
        path: format!("memory:{what}").into(),
        message: e.to_string(),
    })
}

/// Shared by clones: a clone is the same storage seen by another handle.
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    inner: Arc<Mutex<Inner>>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// Locks become leases of this length: a holder that does not release within it lapses
    /// and the next taker gets the lock (the behaviour of a Kubernetes Lease).
    pub fn with_lease(self, lease: Duration) -> Self {
        self.inner().lease = Some(lease);
        self
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding it already failed; keep the data readable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Write number `n` (1-based, over all writes so far and to come) fails; nothing is stored.
    pub fn fail_write(&self, n: u64) {
        self.inner().fail.insert(n);
    }

    /// The simulated process dies at this write point: from then on every write fails.
    pub fn crash(&self, at: Crash) {
        self.inner().crash = Some(at);
    }

    pub fn has_crashed(&self) -> bool {
        self.inner().crashed
    }

    /// What the next process sees after a crash: the same storage, no faults, and the lock of
    /// the crashed process left behind but known dead.
    pub fn restart(&self) -> MemoryBackend {
        let mut inner = self.inner();
        inner.crash = None;
        inner.crashed = false;
        inner.fail.clear();
        inner.lock.holder_alive = false;
        self.clone()
    }

    /// Every write attempted so far, in order.
    pub fn writes(&self) -> Vec<WriteKind> {
        self.inner().writes.clone()
    }

    /// The stored state, as the next process would read it.
    pub fn stored_state(&self) -> Option<State> {
        self.inner()
            .state
            .as_ref()
            .map(|b| decode(b, "state").expect("stored states decode"))
    }

    pub fn stored_backup(&self) -> Option<State> {
        self.inner()
            .backup
            .as_ref()
            .map(|b| decode(b, "backup").expect("stored states decode"))
    }

    /// (what, content) of every recovery written.
    pub fn recoveries(&self) -> Vec<(String, Vec<u8>)> {
        self.inner().recoveries.clone()
    }

    /// Loses the current state (as if its file were deleted); backup and history stay.
    pub fn lose_state(&self) {
        self.inner().state = None;
    }

    /// Stores `state` as is, without counting a write (test setup).
    pub fn put_state(&self, state: &State) {
        self.inner().state = Some(encode(state));
    }

    /// What `archive_leftovers` moved aside, oldest first: (backup, recorded revisions).
    pub fn archived(&self) -> Vec<(Option<State>, Vec<u64>)> {
        self.inner()
            .archived
            .iter()
            .map(|a| {
                (
                    a.backup
                        .as_ref()
                        .map(|b| decode(b, "backup").expect("stored states decode")),
                    a.history.keys().copied().collect(),
                )
            })
            .collect()
    }

    /// The current lock holder, if any (alive or not).
    pub fn lock_holder(&self) -> Option<LockHolder> {
        self.inner().lock.holder.clone()
    }
}

#[derive(Debug)]
struct MemoryRelease {
    inner: Arc<Mutex<Inner>>,
    id: String,
}

impl LockRelease for MemoryRelease {
    fn release(self: Box<Self>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // A crashed process releases nothing; a lapsed lease may belong to someone else now.
        if !inner.crashed && inner.lock.holder.as_ref().is_some_and(|h| h.id == self.id) {
            inner.lock = Lock::default();
        }
    }
}

#[async_trait]
impl StateBackend for MemoryBackend {
    fn location(&self) -> String {
        "memory:state".into()
    }

    async fn read_state(&self) -> Result<Option<State>, StateError> {
        let inner = self.inner();
        inner
            .state
            .as_deref()
            .map(|b| decode(b, "state"))
            .transpose()
    }

    async fn save_state(&self, state: &mut State) -> Result<(), StateError> {
        let mut inner = self.inner();
        inner.write(WriteKind::State)?;
        let mut next = state.clone();
        next.serial += 1;
        inner.backup = inner.state.take();
        inner.state = Some(encode(&next));
        *state = next;
        Ok(())
    }

    async fn lock_state(&self, options: &LockOptions) -> Result<LockGuard, StateError> {
        let deadline = Instant::now() + options.timeout;
        loop {
            {
                let mut inner = self.inner();
                let now = chrono::Utc::now();
                let previous = inner.lock.holder.clone();
                let (free, because) = match &previous {
                    None => (true, None),
                    Some(_) if !inner.lock.holder_alive => {
                        (true, Some("its process crashed".to_string()))
                    }
                    Some(h) if h.expires_at.is_some_and(|e| e <= now) => {
                        (true, Some("its lease expired".to_string()))
                    }
                    Some(_) => (false, None),
                };
                if free {
                    inner.write(WriteKind::Lock)?;
                    let mut me = LockHolder::this_process(&options.command);
                    me.expires_at = inner
                        .lease
                        .and_then(|l| chrono::Duration::from_std(l).ok())
                        .map(|l| now + l);
                    inner.lock = Lock {
                        holder: Some(me.clone()),
                        holder_alive: true,
                    };
                    let recovered_from = previous.filter(|_| because.is_some());
                    return Ok(LockGuard::new(
                        me.clone(),
                        recovered_from,
                        because,
                        Box::new(MemoryRelease {
                            inner: self.inner.clone(),
                            id: me.id,
                        }),
                    ));
                }
                if Instant::now() >= deadline {
                    let holder = previous.expect("held");
                    return Err(StateError::Locked {
                        holder: holder.to_string(),
                        id: holder.id,
                        hint: String::new(),
                    });
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn break_lock(&self, id: &str) -> Result<Unlocked, StateError> {
        let mut inner = self.inner();
        match inner.lock.holder.clone() {
            Some(h) if h.id == id => {
                inner.lock = Lock::default();
                Ok(Unlocked::Holder(h))
            }
            other => Err(StateError::UnlockMismatch {
                given: id.to_string(),
                current: other.map(|h| h.id),
            }),
        }
    }

    async fn write_history(&self, entry: &HistoryEntry) -> Result<(), StateError> {
        let mut inner = self.inner();
        inner.write(WriteKind::History(entry.revision))?;
        if inner.history.contains_key(&entry.revision) {
            return Err(StateError::HistoryExists {
                path: format!("memory:history/{}", entry.revision).into(),
                revision: entry.revision,
            });
        }
        inner.history.insert(entry.revision, encode(entry));
        Ok(())
    }

    async fn read_history(&self, revision: u64) -> Result<HistoryEntry, StateError> {
        let inner = self.inner();
        let bytes = inner
            .history
            .get(&revision)
            .ok_or(StateError::NoRevision { revision })?;
        decode(bytes, "history")
    }

    async fn revisions(&self) -> Result<Vec<u64>, StateError> {
        Ok(self.inner().history.keys().copied().collect())
    }

    async fn leftovers(&self) -> Result<Leftovers, StateError> {
        let inner = self.inner();
        let mut found = Vec::new();
        if inner.backup.is_some() {
            found.push("its backup exists".to_string());
        }
        if let Some(last) = inner.history.keys().last() {
            found.push(format!("its history records revisions up to {last}"));
        }
        Ok(Leftovers {
            restore: if inner.backup.is_some() {
                "restore the backup".into()
            } else {
                String::new()
            },
            found,
        })
    }

    async fn archive_leftovers(&self) -> Result<String, StateError> {
        let mut inner = self.inner();
        inner.write(WriteKind::Archive)?;
        let backup = inner.backup.take();
        let history = std::mem::take(&mut inner.history);
        inner.archived.push(Archived { backup, history });
        Ok(format!("memory:archive/{}", inner.archived.len()))
    }

    async fn write_recovery(&self, unsaved: Unsaved<'_>) -> Result<Recovery, StateError> {
        let mut inner = self.inner();
        inner.write(WriteKind::Recovery)?;
        let (name, bytes, target) = match unsaved {
            Unsaved::State(s) => ("state".to_string(), encode(s), "memory:state".to_string()),
            Unsaved::History(e) => (
                format!("history-{:06}", e.revision),
                encode(e),
                format!("memory:history/{}", e.revision),
            ),
        };
        inner.recoveries.push((name, bytes));
        let location = format!("memory:recovery/{}", inner.recoveries.len());
        Ok(Recovery {
            restore: format!("copy {location} to {target}"),
            location,
        })
    }

    async fn digest_key(&self) -> Result<DigestKey, StateError> {
        let mut inner = self.inner();
        if let Some(key) = &inner.key {
            return Ok(key.clone());
        }
        inner.write(WriteKind::DigestKey)?;
        let key = DigestKey::generate();
        inner.key = Some(key.clone());
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{NewState, Outcome, record_revision};
    use super::*;

    fn opts(ms: u64) -> LockOptions {
        LockOptions {
            command: "todoplan apply".into(),
            timeout: Duration::from_millis(ms),
        }
    }

    #[tokio::test]
    async fn the_nth_write_fails_and_stores_nothing() {
        let backend = MemoryBackend::new();
        backend.fail_write(2);
        let mut state = State::new("todo");
        backend.save_state(&mut state).await.unwrap();
        assert!(backend.save_state(&mut state).await.is_err());
        assert_eq!(state.serial, 1, "a failed write leaves the caller's state");
        assert_eq!(backend.stored_state().unwrap().serial, 1);
        backend.save_state(&mut state).await.unwrap();
        assert_eq!(backend.stored_state().unwrap().serial, 2);
    }

    #[tokio::test]
    async fn a_crash_stops_every_later_write_and_restart_sees_the_stored_state() {
        let backend = MemoryBackend::new();
        let _guard = backend.lock_state(&opts(0)).await.unwrap();
        backend.crash(Crash::After(2));
        let mut state = State::new("todo");
        backend.save_state(&mut state).await.unwrap();
        assert!(backend.save_state(&mut state).await.is_err());
        assert!(backend.has_crashed());
        assert!(backend.digest_key().await.is_err());
        let next = backend.restart();
        assert_eq!(next.stored_state().unwrap().serial, 1);
        // The crashed holder's lock is taken over, and the taker is told why.
        let guard = next.lock_state(&opts(0)).await.unwrap();
        assert_eq!(
            guard.recovered_because.as_deref(),
            Some("its process crashed")
        );
    }

    #[tokio::test]
    async fn crash_before_a_write_loses_exactly_that_write() {
        let backend = MemoryBackend::new();
        backend.crash(Crash::Before(2));
        let mut state = State::new("todo");
        let result = record_revision(&backend, &mut state, "x".into(), Outcome::Succeeded).await;
        assert!(result.is_err());
        let next = backend.restart();
        assert_eq!(next.stored_state().unwrap().revision, 1);
        assert!(next.revisions().await.unwrap().is_empty());
        assert!(
            next.recoveries().is_empty(),
            "a dead process writes no recovery"
        );
    }

    #[tokio::test]
    async fn a_held_lock_is_refused_naming_its_holder_and_released_on_drop() {
        let backend = MemoryBackend::new();
        let guard = backend.lock_state(&opts(0)).await.unwrap();
        let err = backend.lock_state(&opts(20)).await.unwrap_err();
        assert!(err.to_string().contains(&guard.holder().id), "{err}");
        drop(guard);
        let again = backend.lock_state(&opts(0)).await.unwrap();
        assert!(again.recovered_from.is_none());
    }

    #[tokio::test]
    async fn an_expired_lease_is_taken_over() {
        let backend = MemoryBackend::new().with_lease(Duration::from_millis(30));
        let first = backend.lock_state(&opts(0)).await.unwrap();
        assert!(first.holder().expires_at.is_some());
        let second = backend.lock_state(&opts(2000)).await.unwrap();
        assert_eq!(
            second.recovered_because.as_deref(),
            Some("its lease expired")
        );
        drop(first);
        assert_eq!(
            backend.lock_holder().map(|h| h.id),
            Some(second.holder().id.clone()),
            "the lapsed holder's release does not free the new holder's lock"
        );
    }

    #[tokio::test]
    async fn open_refuses_a_lost_state_and_archives_on_request() {
        let backend = MemoryBackend::new();
        let mut state = State::new("todo");
        record_revision(&backend, &mut state, "a".into(), Outcome::Succeeded)
            .await
            .unwrap();
        backend.save_state(&mut state).await.unwrap();
        backend.lose_state();
        assert!(matches!(
            backend.open("todo", NewState::Refuse).await,
            Err(StateError::Missing { .. })
        ));
        let opened = backend.open("todo", NewState::Allow).await.unwrap();
        assert!(opened.is_new());
        assert_eq!(opened.archived.as_deref(), Some("memory:archive/1"));
        assert!(backend.revisions().await.unwrap().is_empty());
        let archived = backend.archived();
        assert_eq!(archived.len(), 1);
        assert_eq!(archived[0].0.as_ref().map(|s| s.revision), Some(1));
        assert_eq!(archived[0].1, vec![1]);
    }

    #[tokio::test]
    async fn the_digest_key_is_made_once() {
        let backend = MemoryBackend::new();
        let key = backend.digest_key().await.unwrap();
        assert_eq!(backend.digest_key().await.unwrap(), key);
        assert_eq!(backend.writes(), vec![WriteKind::DigestKey]);
    }
}
