//! The backend a spec names (`[state] backend`), as one type the operations hold.

use async_trait::async_trait;

use super::journal::{JournalEntry, Replayed};
use super::{
    DigestKey, HistoryEntry, KubernetesBackend, Leftovers, LocalBackend, LockGuard, LockOptions,
    Recovery, State, StateBackend, StateError, Unlocked, Unsaved,
};

#[derive(Debug, Clone)]
pub enum StateStore {
    Local(LocalBackend),
    Kubernetes(KubernetesBackend),
}

impl StateStore {
    /// The command only looks (plan without --out, drift): in the cluster backend, where no
    /// state exists yet, nothing is created (namespace, digest key, Lease).
    pub fn set_look_only(&mut self) {
        if let StateStore::Kubernetes(backend) = self {
            backend.set_look_only();
        }
    }

    fn inner(&self) -> &dyn StateBackend {
        match self {
            StateStore::Local(b) => b,
            StateStore::Kubernetes(b) => b,
        }
    }

    /// `local` or `kubernetes`, as `[state] backend` spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            StateStore::Local(_) => "local",
            StateStore::Kubernetes(_) => "kubernetes",
        }
    }

    /// The journal of an apply that did not finish, replayed onto the saved state.
    pub async fn pending(&self) -> Result<Option<Replayed>, StateError> {
        match self {
            StateStore::Local(b) => {
                let b = b.clone();
                run_blocking(move || b.pending()).await
            }
            StateStore::Kubernetes(b) => b.pending().await,
        }
    }

    /// True when a journal exists (pending or stale).
    pub async fn has_journal(&self) -> Result<bool, StateError> {
        match self {
            StateStore::Local(b) => Ok(b.journal_path().exists()),
            StateStore::Kubernetes(b) => b.has_journal().await,
        }
    }

    /// Where the history of revisions lives, for messages.
    pub fn history_location(&self) -> String {
        match self {
            StateStore::Local(b) => b.dir().join("history").display().to_string(),
            StateStore::Kubernetes(b) => format!(
                "the Secrets {}-rev-* of namespace {}",
                b.name(),
                b.namespace()
            ),
        }
    }

    pub fn journal_location(&self) -> String {
        match self {
            StateStore::Local(b) => b.journal_path().display().to_string(),
            StateStore::Kubernetes(b) => b.journal_location(),
        }
    }

    pub async fn begin_journal(&self, state: &State) -> Result<(), StateError> {
        match self {
            StateStore::Local(b) => {
                let (b, state) = (b.clone(), state.clone());
                run_blocking(move || b.begin_journal(&state)).await
            }
            StateStore::Kubernetes(b) => b.begin_journal(state).await,
        }
    }

    pub fn journal(&self, entry: &JournalEntry) -> Result<(), StateError> {
        match self {
            StateStore::Local(b) => b.journal(entry),
            StateStore::Kubernetes(b) => b.journal(entry),
        }
    }

    pub async fn sync_journal(&self) -> Result<(), StateError> {
        match self {
            StateStore::Local(b) => {
                let b = b.clone();
                run_blocking(move || b.sync_journal()).await
            }
            StateStore::Kubernetes(b) => b.sync_journal().await,
        }
    }
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StateError> + Send + 'static,
) -> Result<T, StateError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(StateError::Cluster {
            what: "a state task stopped".into(),
            message: e.to_string(),
        }),
    }
}

#[async_trait]
impl StateBackend for StateStore {
    fn location(&self) -> String {
        self.inner().location()
    }
    async fn read_state(&self) -> Result<Option<State>, StateError> {
        self.inner().read_state().await
    }
    async fn save_state(&self, state: &mut State) -> Result<(), StateError> {
        self.inner().save_state(state).await
    }
    async fn lock_state(&self, options: &LockOptions) -> Result<LockGuard, StateError> {
        self.inner().lock_state(options).await
    }
    async fn break_lock(&self, id: &str) -> Result<Unlocked, StateError> {
        self.inner().break_lock(id).await
    }
    async fn write_history(&self, entry: &HistoryEntry) -> Result<(), StateError> {
        self.inner().write_history(entry).await
    }
    async fn read_history(&self, revision: u64) -> Result<HistoryEntry, StateError> {
        self.inner().read_history(revision).await
    }
    async fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        self.inner().history().await
    }
    async fn revisions(&self) -> Result<Vec<u64>, StateError> {
        self.inner().revisions().await
    }
    async fn leftovers(&self) -> Result<Leftovers, StateError> {
        self.inner().leftovers().await
    }
    async fn archive_leftovers(&self) -> Result<String, StateError> {
        self.inner().archive_leftovers().await
    }
    async fn write_recovery(&self, unsaved: Unsaved<'_>) -> Result<Recovery, StateError> {
        self.inner().write_recovery(unsaved).await
    }
    async fn digest_key(&self) -> Result<DigestKey, StateError> {
        self.inner().digest_key().await
    }
}
