//! Where a state is kept: the [`StateBackend`] trait, and what every backend shares (the lock
//! guard, the rules for opening a state).

use async_trait::async_trait;

use super::{DigestKey, HistoryEntry, LockHolder, LockOptions, State, StateError};

/// The flag that lets a command start a new state where an old one left a backup or history.
pub const NEW_STATE_FLAG: &str = "--new-state";

/// The storage of one state: its current content, history, lock and secret digest key.
///
/// Methods are async because a backend may live in the cluster (a Secret plus a Lease).
/// Every write either happens whole or not at all, and reports failure: nothing is ignored.
#[async_trait]
pub trait StateBackend: Send + Sync + std::fmt::Debug {
    /// Where the state lives, for messages: a directory, a Secret.
    fn location(&self) -> String;

    /// The current state; `None` when there is none.
    async fn read_state(&self) -> Result<Option<State>, StateError>;

    /// Writes `state` with its serial bumped; the previous state is kept as a backup.
    async fn save_state(&self, state: &mut State) -> Result<(), StateError>;

    /// Takes the lock, waiting up to `options.timeout` for another holder.
    async fn lock_state(&self, options: &LockOptions) -> Result<LockGuard, StateError>;

    /// Clears a lock whose holder is gone, given the ID the lock error printed.
    async fn break_lock(&self, id: &str) -> Result<Unlocked, StateError>;

    /// Records one revision. A recorded revision is never overwritten.
    async fn write_history(&self, entry: &HistoryEntry) -> Result<(), StateError>;

    async fn read_history(&self, revision: u64) -> Result<HistoryEntry, StateError>;

    /// The recorded revisions, ascending.
    async fn revisions(&self) -> Result<Vec<u64>, StateError>;

    /// What remains of a state whose current content is missing (a backup, history).
    async fn leftovers(&self) -> Result<Leftovers, StateError>;

    /// Moves the leftovers aside (never deleting them) so a new state starts clean; returns
    /// where they went.
    async fn archive_leftovers(&self) -> Result<String, StateError>;

    /// Keeps what could not be written where it belongs, somewhere else.
    async fn write_recovery(&self, unsaved: Unsaved<'_>) -> Result<Recovery, StateError>;

    /// The key of secret digests: random, made on first use, kept only in this backend's
    /// secret storage, never printed.
    async fn digest_key(&self) -> Result<DigestKey, StateError>;

    /// Every recorded revision, ascending.
    async fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        let mut out = Vec::new();
        for revision in self.revisions().await? {
            out.push(self.read_history(revision).await?);
        }
        Ok(out)
    }

    /// The state of `project`: the current one, or a new one when none ever existed.
    /// Refuses another project's state, and a new state where an old one left traces (unless
    /// `new_state` says to start anew, which moves the traces aside first).
    async fn open(&self, project: &str, new_state: NewState) -> Result<Opened, StateError> {
        let found = self.read_state().await?;
        let leftovers = match &found {
            Some(_) => Leftovers::default(),
            None => self.leftovers().await?,
        };
        match decide(found, project, &leftovers, new_state, &self.location())? {
            Decision::Existing(state) => Ok(Opened {
                state,
                archived: None,
            }),
            Decision::New => Ok(Opened {
                state: State::new(project),
                archived: None,
            }),
            Decision::ArchiveThenNew => {
                let archived = self.archive_leftovers().await?;
                Ok(Opened {
                    state: State::new(project),
                    archived: Some(archived),
                })
            }
        }
    }
}

/// Whether a command may start a new state where an old one left a backup or history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NewState {
    /// Refuse (the default: a lost state file must not silently become a new deployment).
    #[default]
    Refuse,
    /// The user passed [`NEW_STATE_FLAG`].
    Allow,
}

/// An opened state.
#[derive(Debug)]
pub struct Opened {
    pub state: State,
    /// Where the old backup and history went, when a new state was started over them.
    pub archived: Option<String>,
}

impl Opened {
    /// True when nothing was ever applied with this state: the planner refuses to go on when
    /// the cluster holds live objects of the project (they belong to a lost state).
    pub fn is_new(&self) -> bool {
        self.state.is_new()
    }
}

/// Traces of a state whose current content is missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Leftovers {
    /// What was found, as phrases: "the backup state/todoplan.state.json.backup (revision 3) exists".
    pub found: Vec<String>,
    /// How to bring the state back.
    pub restore: String,
}

impl Leftovers {
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }
}

// Made once per command and consumed at once: boxing the state would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum Decision {
    Existing(State),
    New,
    ArchiveThenNew,
}

/// The rules of [`StateBackend::open`], shared with the synchronous local API.
pub(super) fn decide(
    found: Option<State>,
    project: &str,
    leftovers: &Leftovers,
    new_state: NewState,
    location: &str,
) -> Result<Decision, StateError> {
    match found {
        Some(state) if state.project != project => Err(StateError::ForeignProject {
            path: location.into(),
            found: state.project,
            expected: project.to_string(),
            lineage: state.lineage,
        }),
        Some(state) => Ok(Decision::Existing(state)),
        None if leftovers.is_empty() => Ok(Decision::New),
        None if new_state == NewState::Allow => Ok(Decision::ArchiveThenNew),
        None => Err(StateError::Missing {
            path: location.into(),
            found: leftovers.found.clone(),
            restore: leftovers.restore.clone(),
        }),
    }
}

/// What [`StateBackend::write_recovery`] keeps.
#[derive(Debug, Clone, Copy)]
pub enum Unsaved<'a> {
    State(&'a State),
    History(&'a HistoryEntry),
}

/// Where unsaved content was kept, and how to put it back.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    pub location: String,
    /// A command that puts it where it belongs.
    pub restore: String,
}

/// What `force-unlock` cleared.
#[derive(Debug, Clone, PartialEq)]
pub enum Unlocked {
    Holder(LockHolder),
    /// A lock file whose content named no holder.
    Unreadable {
        len: usize,
    },
}

impl std::fmt::Display for Unlocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unlocked::Holder(holder) => write!(f, "the state lock held by {holder}"),
            Unlocked::Unreadable { len } => {
                write!(f, "an unreadable state lock ({len} bytes naming no holder)")
            }
        }
    }
}

/// How a backend gives its lock back.
pub trait LockRelease: Send + Sync + std::fmt::Debug {
    fn release(self: Box<Self>);
}

/// Held while a command may write the state; releases the lock when dropped, so every normal
/// exit (including `?` errors) unlocks.
#[derive(Debug)]
pub struct LockGuard {
    holder: LockHolder,
    /// A lock taken over from a holder that is gone; callers tell the user.
    pub recovered_from: Option<LockHolder>,
    /// Why that holder is known to be gone.
    pub recovered_because: Option<String>,
    release: Option<Box<dyn LockRelease>>,
}

impl LockGuard {
    pub fn new(
        holder: LockHolder,
        recovered_from: Option<LockHolder>,
        recovered_because: Option<String>,
        release: Box<dyn LockRelease>,
    ) -> Self {
        LockGuard {
            holder,
            recovered_from,
            recovered_because,
            release: Some(release),
        }
    }

    pub fn holder(&self) -> &LockHolder {
        &self.holder
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(project: &str) -> State {
        let mut s = State::new(project);
        s.serial = 3;
        s
    }

    fn traces() -> Leftovers {
        Leftovers {
            found: vec!["the backup b exists".into()],
            restore: "cp b s".into(),
        }
    }

    #[test]
    fn another_projects_state_is_refused_naming_both() {
        let Err(err) = decide(
            Some(saved("shop")),
            "todo",
            &Leftovers::default(),
            NewState::Allow,
            "state/todoplan.state.json",
        ) else {
            panic!("accepted a foreign state")
        };
        let text = err.to_string();
        assert!(text.contains("`shop`") && text.contains("`todo`"), "{text}");
    }

    #[test]
    fn a_missing_state_with_traces_is_refused_unless_asked_to_start_anew() {
        let Err(err) = decide(None, "todo", &traces(), NewState::Refuse, "s") else {
            panic!("started a new lineage over a backup")
        };
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(
            help.contains("cp b s") && help.contains(NEW_STATE_FLAG),
            "{help}"
        );
        assert!(matches!(
            decide(None, "todo", &traces(), NewState::Allow, "s"),
            Ok(Decision::ArchiveThenNew)
        ));
        assert!(matches!(
            decide(None, "todo", &Leftovers::default(), NewState::Refuse, "s"),
            Ok(Decision::New)
        ));
        assert!(matches!(
            decide(
                Some(saved("todo")),
                "todo",
                &Leftovers::default(),
                NewState::Refuse,
                "s"
            ),
            Ok(Decision::Existing(_))
        ));
    }
}
