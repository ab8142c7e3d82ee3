//! The `state/` directory backend.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::backend::{Decision, decide};
use super::history::{self, HISTORY_DIR};
use super::journal::{self, JOURNAL_FILE, JournalEntry, JournalHeader, JournalWriter, Replayed};
use super::lock;
use super::{
    BACKUP_FILE, DigestKey, HistoryEntry, Leftovers, LockGuard, LockOptions, NewState, Opened,
    Recovery, STATE_FILE, State, StateBackend, StateError, Unlocked, Unsaved, parse_state,
    write_atomically, write_new,
};

/// The secret digest key, next to the state; mode 0600.
pub const DIGEST_KEY_FILE: &str = "digest.key";

#[derive(Debug, Clone)]
pub struct LocalBackend {
    dir: PathBuf,
    /// The journal of the apply running in this process (see [`journal`]), shared by clones.
    journal: Arc<Mutex<Option<JournalWriter>>>,
}

impl LocalBackend {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LocalBackend {
            dir: dir.into(),
            journal: Arc::new(Mutex::new(None)),
        }
    }

    pub fn journal_path(&self) -> PathBuf {
        self.dir.join(JOURNAL_FILE)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    fn backup_path(&self) -> PathBuf {
        self.dir.join(BACKUP_FILE)
    }

    /// The current state, or `None` when nothing was ever applied: the state file with the
    /// journal of an apply that did not finish replayed onto it.
    pub fn load(&self) -> Result<Option<State>, StateError> {
        let found = self.load_file()?;
        Ok(match self.replay_onto(found.as_ref())? {
            Some(replayed) => Some(replayed.state),
            None => found,
        })
    }

    /// The state file alone.
    fn load_file(&self) -> Result<Option<State>, StateError> {
        let path = self.state_path();
        let text =
            match crate::model::input::read_regular_text(&path, crate::model::input::STATE_LIMIT) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(source) => return Err(StateError::Read { path, source }),
            };
        parse_state(&path, &text).map(Some)
    }

    /// The journal of an apply that stopped before folding it into the state file (killed,
    /// or its final write failed), replayed onto the state file; `None` when there is none.
    pub fn pending(&self) -> Result<Option<Replayed>, StateError> {
        self.replay_onto(self.load_file()?.as_ref())
    }

    fn replay_onto(&self, found: Option<&State>) -> Result<Option<Replayed>, StateError> {
        let path = self.journal_path();
        let bytes = match crate::model::input::read_regular(&path, crate::model::input::STATE_LIMIT)
        {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Read { path, source }),
        };
        journal::replay(found, &path, &bytes)
    }

    /// Starts the journal of a run that applies on top of `state` (as opened, with any pending
    /// journal replayed): a pending journal is folded into the state file first, then the new
    /// journal's header is made durable, all before anything is written to the cluster.
    pub fn begin_journal(&self, state: &State) -> Result<(), StateError> {
        let mut open = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        *open = None;
        if self.journal_path().exists() {
            if self.pending()?.is_some() {
                // `state` holds what the journal recorded, with the serial folding gives it.
                self.write_state_file(state)?;
            }
            self.remove_journal()?;
        }
        *open = Some(JournalWriter::create(
            &self.journal_path(),
            &JournalHeader::for_state(state),
        )?);
        Ok(())
    }

    /// Appends to the running journal; durable after [`LocalBackend::sync_journal`].
    pub fn journal(&self, entry: &JournalEntry) -> Result<(), StateError> {
        let mut open = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        match open.as_mut() {
            Some(w) => w.append(entry),
            None => Err(StateError::Write {
                path: self.journal_path(),
                source: std::io::Error::other("no apply journal is open"),
            }),
        }
    }

    /// Makes every journal entry so far durable (one fsync for the batch).
    pub fn sync_journal(&self) -> Result<(), StateError> {
        let mut open = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        match open.as_mut() {
            Some(w) if w.unsynced() > 0 => w.sync(),
            _ => Ok(()),
        }
    }

    fn remove_journal(&self) -> Result<(), StateError> {
        let path = self.journal_path();
        match fs::remove_file(&path) {
            Ok(()) => {
                if let Ok(d) = fs::File::open(&self.dir) {
                    let _ = d.sync_all();
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StateError::Write { path, source }),
        }
    }

    /// The state of `project`, or a new one when none ever existed; see [`StateBackend::open`].
    pub fn open_sync(&self, project: &str, new_state: NewState) -> Result<Opened, StateError> {
        let found = self.load()?;
        let leftovers = match &found {
            Some(_) => Leftovers::default(),
            None => self.find_leftovers()?,
        };
        let location = self.state_path().display().to_string();
        Ok(
            match decide(found, project, &leftovers, new_state, &location)? {
                Decision::Existing(state) => Opened {
                    state,
                    archived: None,
                },
                Decision::New => Opened {
                    state: State::new(project),
                    archived: None,
                },
                Decision::ArchiveThenNew => Opened {
                    archived: Some(self.archive()?),
                    state: State::new(project),
                },
            },
        )
    }

    /// The current state of `project`, or a new empty one when this directory never held a
    /// state. Refuses another project's state and a missing state with a backup or history.
    pub fn load_or_new(&self, project: &str) -> Result<State, StateError> {
        Ok(self.open_sync(project, NewState::Refuse)?.state)
    }

    /// Writes `state` with its serial bumped. The previous file is kept as the backup. A
    /// journal is folded in by this (the state in memory holds what it recorded): it is
    /// closed and removed once the state file is durable.
    pub fn save(&self, state: &mut State) -> Result<(), StateError> {
        let mut next = state.clone();
        next.serial += 1;
        next.todoplan_version = env!("CARGO_PKG_VERSION").to_string();
        let mut open = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        self.write_state_file(&next)?;
        *open = None;
        self.remove_journal()?;
        // Only a state that reached the disk counts as saved.
        *state = next;
        Ok(())
    }

    /// Writes `state` as it is, keeping the previous file as the backup.
    fn write_state_file(&self, state: &State) -> Result<(), StateError> {
        let path = self.state_path();
        let text = serde_json::to_vec_pretty(state).map_err(|e| StateError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        match fs::read(&path) {
            Ok(previous) => write_atomically(&self.backup_path(), &previous)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StateError::Read { path, source }),
        }
        write_atomically(&path, &text)
    }

    /// Writes a migrated state as it is (lineage and serial kept), its history and digest key,
    /// into an empty directory.
    pub fn import(
        &self,
        state: &State,
        history: &[HistoryEntry],
        key: &DigestKey,
    ) -> Result<(), StateError> {
        let path = self.dir.join(DIGEST_KEY_FILE);
        self.keep_key_out_of_git()?;
        match write_new(&path, format!("{}\n", key.to_hex()).as_bytes()) {
            Ok(()) => {}
            // A migration stopped part way wrote it: the same key is resumed over.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if self.existing_key()?.as_ref() != Some(key) {
                    return Err(StateError::Conflict {
                        location: format!("{} (another state's digest key)", path.display()),
                    });
                }
            }
            Err(source) => return Err(StateError::Write { path, source }),
        }
        for entry in history {
            match self.record_history(entry) {
                Ok(()) => {}
                Err(StateError::HistoryExists { revision, path })
                    if history::read(&self.dir, revision).ok().as_ref() != Some(entry) =>
                {
                    return Err(StateError::HistoryExists { revision, path });
                }
                // The same revision, written by a migration stopped part way.
                Err(StateError::HistoryExists { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.write_state_file(state)
    }

    pub fn lock(&self, options: &LockOptions) -> Result<LockGuard, StateError> {
        lock::acquire(&self.dir, options)
    }

    pub fn force_unlock(&self, id: &str) -> Result<Unlocked, StateError> {
        lock::force_unlock(&self.dir, id)
    }

    pub fn record_history(&self, entry: &HistoryEntry) -> Result<(), StateError> {
        history::record(&self.dir, entry)
    }

    pub fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        history::list(&self.dir)
    }

    pub fn history_entry(&self, revision: u64) -> Result<HistoryEntry, StateError> {
        history::read(&self.dir, revision)
    }

    fn find_leftovers(&self) -> Result<Leftovers, StateError> {
        let mut found = Vec::new();
        let mut restore = Vec::new();
        let backup = self.backup_path();
        if backup.exists() {
            let what = fs::read_to_string(&backup)
                .ok()
                .and_then(|t| parse_state(&backup, &t).ok())
                .map(|s| format!(" (revision {}, serial {})", s.revision, s.serial))
                .unwrap_or_default();
            found.push(format!("its backup {}{what} exists", backup.display()));
            restore.push(format!(
                "restore the backup with `cp {} {}`",
                backup.display(),
                self.state_path().display()
            ));
        }
        let journal = self.journal_path();
        if journal.exists() {
            found.push(format!(
                "the journal {} of an unfinished apply exists",
                journal.display()
            ));
        }
        // A history that cannot even be listed is still a trace of a state.
        match history::revisions(&self.dir) {
            Ok(revs) if revs.is_empty() => {}
            Ok(revs) => found.push(format!(
                "its history {} records revisions up to {}",
                history::history_dir(&self.dir).display(),
                revs.last().copied().unwrap_or_default()
            )),
            Err(_) if history::history_dir(&self.dir).exists() => found.push(format!(
                "its history {} exists",
                history::history_dir(&self.dir).display()
            )),
            Err(_) => {}
        }
        if restore.is_empty() && !found.is_empty() {
            restore.push(
                "no backup remains: if you have a copy of the state file, put it back".to_string(),
            );
        }
        Ok(Leftovers {
            found,
            restore: restore.join("; "),
        })
    }

    /// Moves the backup and history into `archive-<time>/`.
    fn archive(&self) -> Result<String, StateError> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let archive = self.dir.join(format!("archive-{stamp}"));
        let werr = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StateError::Write { path, source }
        };
        fs::create_dir(&archive).map_err(werr(&archive))?;
        for name in [BACKUP_FILE, HISTORY_DIR, JOURNAL_FILE] {
            let from = self.dir.join(name);
            if from.exists() {
                fs::rename(&from, archive.join(name)).map_err(werr(&from))?;
            }
        }
        Ok(archive.display().to_string())
    }

    fn recovery(&self, unsaved: Unsaved<'_>) -> Result<Recovery, StateError> {
        let (name, target, bytes) = match unsaved {
            Unsaved::State(state) => (
                STATE_FILE.to_string(),
                self.state_path(),
                serde_json::to_vec_pretty(state),
            ),
            Unsaved::History(entry) => (
                format!("history-{:06}.json", entry.revision),
                history::entry_path(&self.dir, entry.revision),
                serde_json::to_vec_pretty(entry),
            ),
        };
        let bytes = bytes.map_err(|e| StateError::Write {
            path: target.clone(),
            source: std::io::Error::other(e),
        })?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let file = format!("{name}.recovery-{stamp}");
        // Next to the state if that directory takes it, else where any user can write.
        let candidates = [
            self.dir.join(&file),
            std::env::temp_dir().join(format!("todoplan-{file}")),
        ];
        let mut last = None;
        for path in candidates {
            match write_new(&path, &bytes) {
                Ok(()) => {
                    return Ok(Recovery {
                        restore: format!("cp {} {}", path.display(), target.display()),
                        location: path.display().to_string(),
                    });
                }
                Err(source) => last = Some(StateError::Write { path, source }),
            }
        }
        Err(last.expect("at least one candidate"))
    }

    /// Reads the key, or makes one: written whole to a 0600 temporary file and linked into
    /// place without replacing, so two processes making one at once agree on the winner's.
    /// The digest key (made on first use), for callers that are not async.
    pub fn digest_key_sync(&self) -> Result<DigestKey, StateError> {
        self.key()
    }

    /// The digest key if this checkout has one; never makes one.
    pub fn existing_key(&self) -> Result<Option<DigestKey>, StateError> {
        let path = self.dir.join(DIGEST_KEY_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => DigestKey::from_hex(&text)
                .map(Some)
                .ok_or(StateError::BadDigestKey { path }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Read { path, source }),
        }
    }

    /// Keeps `key` (the state's key, read from the cluster) as this checkout's digest key.
    pub fn adopt_key(&self, key: &DigestKey) -> Result<(), StateError> {
        let path = self.dir.join(DIGEST_KEY_FILE);
        self.keep_key_out_of_git()?;
        match write_new(&path, format!("{}\n", key.to_hex()).as_bytes()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(source) => Err(StateError::Write { path, source }),
        }
    }

    fn key(&self) -> Result<DigestKey, StateError> {
        let path = self.dir.join(DIGEST_KEY_FILE);
        let read = || -> Result<Option<DigestKey>, StateError> {
            match fs::read_to_string(&path) {
                Ok(text) => DigestKey::from_hex(&text)
                    .map(Some)
                    .ok_or_else(|| StateError::BadDigestKey { path: path.clone() }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(StateError::Read {
                    path: path.clone(),
                    source,
                }),
            }
        };
        if let Some(key) = read()? {
            self.tighten(&path)?;
            return Ok(key);
        }
        let key = DigestKey::generate();
        self.keep_key_out_of_git()?;
        // NamedTempFile creates its file with mode 0600.
        match write_new(&path, format!("{}\n", key.to_hex()).as_bytes()) {
            Ok(()) => Ok(key),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                read()?.ok_or(StateError::BadDigestKey { path })
            }
            Err(source) => Err(StateError::Write { path, source }),
        }
    }

    /// A key readable by others is no longer secret from them.
    fn tighten(&self, path: &Path) -> Result<(), StateError> {
        let meta = fs::metadata(path).map_err(|source| StateError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|source| {
                StateError::Write {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        }
        Ok(())
    }

    /// `state/.gitignore` lists the key, so committing the state directory does not publish it.
    fn keep_key_out_of_git(&self) -> Result<(), StateError> {
        let path = self.dir.join(".gitignore");
        let werr = |source| StateError::Write {
            path: path.clone(),
            source,
        };
        let existing = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(werr(source)),
        };
        if existing.lines().any(|l| l.trim() == DIGEST_KEY_FILE) {
            return Ok(());
        }
        fs::create_dir_all(&self.dir).map_err(werr)?;
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(werr)?;
        let sep = if existing.is_empty() || existing.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        write!(
            file,
            "{sep}# The key of secret digests: never commit it.\n{DIGEST_KEY_FILE}\n"
        )
        .map_err(werr)
    }

    /// Runs blocking file work off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&LocalBackend) -> Result<T, StateError> + Send + 'static,
    ) -> Result<T, StateError> {
        let me = self.clone();
        match tokio::task::spawn_blocking(move || work(&me)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(StateError::Write {
                path: self.dir.clone(),
                source: std::io::Error::other(e),
            }),
        }
    }
}

#[async_trait]
impl StateBackend for LocalBackend {
    fn location(&self) -> String {
        self.state_path().display().to_string()
    }

    async fn read_state(&self) -> Result<Option<State>, StateError> {
        self.blocking(|b| b.load()).await
    }

    async fn save_state(&self, state: &mut State) -> Result<(), StateError> {
        let mut next = state.clone();
        *state = self
            .blocking(move |b| {
                b.save(&mut next)?;
                Ok(next)
            })
            .await?;
        Ok(())
    }

    async fn lock_state(&self, options: &LockOptions) -> Result<LockGuard, StateError> {
        let options = options.clone();
        self.blocking(move |b| b.lock(&options)).await
    }

    async fn break_lock(&self, id: &str) -> Result<Unlocked, StateError> {
        let id = id.to_string();
        self.blocking(move |b| b.force_unlock(&id)).await
    }

    async fn write_history(&self, entry: &HistoryEntry) -> Result<(), StateError> {
        let entry = entry.clone();
        self.blocking(move |b| b.record_history(&entry)).await
    }

    async fn read_history(&self, revision: u64) -> Result<HistoryEntry, StateError> {
        self.blocking(move |b| b.history_entry(revision)).await
    }

    async fn revisions(&self) -> Result<Vec<u64>, StateError> {
        self.blocking(|b| history::revisions(&b.dir)).await
    }

    async fn leftovers(&self) -> Result<Leftovers, StateError> {
        self.blocking(|b| b.find_leftovers()).await
    }

    async fn archive_leftovers(&self) -> Result<String, StateError> {
        self.blocking(|b| b.archive()).await
    }

    async fn write_recovery(&self, unsaved: Unsaved<'_>) -> Result<Recovery, StateError> {
        // Small and rare (only after a failed write): done in place.
        self.recovery(unsaved)
    }

    async fn digest_key(&self) -> Result<DigestKey, StateError> {
        self.blocking(|b| b.key()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved_state(backend: &LocalBackend, project: &str) -> State {
        let mut state = State::new(project);
        backend.save(&mut state).unwrap();
        backend.save(&mut state).unwrap();
        state
    }

    #[test]
    fn a_state_of_another_project_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path());
        saved_state(&backend, "shop");
        let err = backend.load_or_new("todo").unwrap_err();
        assert!(matches!(err, StateError::ForeignProject { .. }), "{err:?}");
    }

    #[test]
    fn a_deleted_state_with_a_backup_is_refused_and_the_backup_kept() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path());
        saved_state(&backend, "todo");
        let backup_before = fs::read(backend.backup_path()).unwrap();
        fs::remove_file(backend.state_path()).unwrap();
        let err = backend.load_or_new("todo").unwrap_err();
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(
            help.contains(&format!(
                "cp {} {}",
                backend.backup_path().display(),
                backend.state_path().display()
            )),
            "{help}"
        );
        assert_eq!(fs::read(backend.backup_path()).unwrap(), backup_before);
    }

    #[test]
    fn a_deleted_state_with_only_history_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path());
        let mut state = saved_state(&backend, "todo");
        state.revision = 1;
        backend
            .record_history(&HistoryEntry {
                revision: 1,
                time: chrono::Utc::now(),
                who: "me@here".into(),
                summary: "1 added".into(),
                outcome: super::super::Outcome::Succeeded,
                provenance: Default::default(),
                objects: Default::default(),
                secrets: Default::default(),
            })
            .unwrap();
        fs::remove_file(backend.state_path()).unwrap();
        fs::remove_file(backend.backup_path()).unwrap();
        let err = backend.load_or_new("todo").unwrap_err();
        assert!(err.to_string().contains("revisions up to 1"), "{err}");
    }

    #[test]
    fn starting_anew_moves_the_old_files_aside_instead_of_overwriting_them() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path());
        let old = saved_state(&backend, "todo");
        fs::remove_file(backend.state_path()).unwrap();
        let opened = backend.open_sync("todo", NewState::Allow).unwrap();
        assert!(opened.is_new());
        assert_ne!(opened.state.lineage, old.lineage);
        let archive = PathBuf::from(opened.archived.unwrap());
        let kept: State =
            serde_json::from_slice(&fs::read(archive.join(BACKUP_FILE)).unwrap()).unwrap();
        assert_eq!(kept.lineage, old.lineage);
        assert!(!backend.backup_path().exists());
    }

    #[test]
    fn an_empty_directory_opens_a_new_state() {
        let dir = tempfile::tempdir().unwrap();
        let opened = LocalBackend::new(dir.path())
            .open_sync("todo", NewState::Refuse)
            .unwrap();
        assert!(opened.is_new());
        assert!(opened.archived.is_none());
    }

    #[test]
    fn the_digest_key_is_made_once_private_and_ignored_by_git() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path().join("state"));
        let key = backend.key().unwrap();
        assert_eq!(
            backend.key().unwrap(),
            key,
            "the second call reads the first key"
        );
        let path = backend.dir().join(DIGEST_KEY_FILE);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let ignore = fs::read_to_string(backend.dir().join(".gitignore")).unwrap();
        assert!(ignore.lines().any(|l| l == DIGEST_KEY_FILE), "{ignore}");
        // A key made readable by others is made private again.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        backend.key().unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_damaged_digest_key_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path());
        fs::write(dir.path().join(DIGEST_KEY_FILE), "not hex").unwrap();
        assert!(matches!(
            backend.key(),
            Err(StateError::BadDigestKey { .. })
        ));
    }

    fn record(name: &str) -> super::super::ObjectRecord {
        super::super::ObjectRecord {
            release: "r".into(),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("ns".into()),
            name: name.into(),
            uid: None,
            digest: "d".into(),
            manifest: serde_json::json!({}).into(),
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

    #[test]
    fn a_run_killed_after_a_sync_is_read_back_from_its_journal_then_folded_in() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path());
        let mut state = State::new("todo");
        // First run ever: no state file, only the journal.
        backend.begin_journal(&state).unwrap();
        backend.journal(&put("a")).unwrap();
        backend.sync_journal().unwrap();
        backend.journal(&put("b")).unwrap();
        // Killed here: "b" was never synced. Another process reads the state.
        let reader = LocalBackend::new(dir.path());
        let read = reader.load().unwrap().unwrap();
        assert_eq!(read.lineage, state.lineage, "the run's lineage survives");
        assert_eq!(read.objects.keys().collect::<Vec<_>>(), vec!["a"]);
        assert_eq!(read.serial, 1);
        assert!(!reader.open_sync("todo", NewState::Refuse).unwrap().is_new());
        // The next run folds the journal into the state file before its own.
        reader.begin_journal(&read).unwrap();
        let file: State = serde_json::from_slice(&fs::read(reader.state_path()).unwrap()).unwrap();
        assert_eq!(file.serial, 1);
        assert!(file.objects.contains_key("a"));
        reader.journal(&put("c")).unwrap();
        reader.sync_journal().unwrap();
        let again = LocalBackend::new(dir.path()).load().unwrap().unwrap();
        assert_eq!(again.objects.keys().collect::<Vec<_>>(), vec!["a", "c"]);
        assert_eq!(again.serial, 2);
        // A finished run saves the state and removes the journal.
        let mut done = again.clone();
        reader.save(&mut done).unwrap();
        assert!(!reader.journal_path().exists());
        assert_eq!(reader.load().unwrap().unwrap(), done);
        state.serial = done.serial;
    }

    #[test]
    fn a_journal_left_behind_a_saved_state_is_stale_and_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path());
        let mut state = State::new("todo");
        backend.save(&mut state).unwrap();
        backend.begin_journal(&state).unwrap();
        backend.journal(&put("a")).unwrap();
        backend.sync_journal().unwrap();
        let kept = fs::read(backend.journal_path()).unwrap();
        state.objects.insert("a".into(), record("a"));
        backend.save(&mut state).unwrap();
        // Killed between the state write and the journal's removal.
        fs::write(backend.journal_path(), kept).unwrap();
        let read = backend.load().unwrap().unwrap();
        assert_eq!(read, state);
        let backup_before = fs::read(backend.backup_path()).unwrap();
        backend.begin_journal(&read).unwrap();
        assert_eq!(
            fs::read(backend.backup_path()).unwrap(),
            backup_before,
            "a stale journal does not rewrite the state (nor its backup)"
        );
    }

    #[test]
    fn a_hand_damaged_journal_is_a_diagnostic_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path());
        let state = State::new("todo");
        backend.begin_journal(&state).unwrap();
        backend.journal(&put("a")).unwrap();
        backend.sync_journal().unwrap();
        let mut text = fs::read_to_string(backend.journal_path()).unwrap();
        text = text.replacen("\n", "\n{oops\n", 1);
        fs::write(backend.journal_path(), text).unwrap();
        let err = LocalBackend::new(dir.path()).load().unwrap_err();
        assert!(err.to_string().contains(JOURNAL_FILE), "{err}");
    }

    #[test]
    fn a_journal_without_its_state_file_is_a_trace_of_a_lost_state() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path());
        let mut state = State::new("todo");
        backend.save(&mut state).unwrap();
        backend.begin_journal(&state).unwrap();
        fs::remove_file(backend.state_path()).unwrap();
        fs::remove_file(backend.backup_path()).ok();
        let err = backend.load_or_new("todo").unwrap_err();
        assert!(err.to_string().contains("journal"), "{err}");
    }

    #[test]
    fn a_failed_save_leaves_the_state_in_memory_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        // The state directory is a file: nothing can be written under it.
        let blocker = dir.path().join("state");
        fs::write(&blocker, b"").unwrap();
        let backend = LocalBackend::new(&blocker);
        let mut state = State::new("todo");
        assert!(backend.save(&mut state).is_err());
        assert_eq!(state.serial, 0);
    }
}
