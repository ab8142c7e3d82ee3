//! The record of what todoplan applied, behind one [`StateBackend`] trait with two backends: the
//! local one (a directory, `state/` by default) and the cluster one ([`kubernetes`]: Secrets for
//! the state, history and journal, a Lease for the lock), chosen by `[state] backend`.
//!
//! Layout of the local state directory:
//! - `todoplan.state.json`: the current state (format version, lineage, serial, revision, objects).
//! - `todoplan.state.json.backup`: the state before the last write, so one bad write never loses it.
//! - `history/<revision>.json`: every applied revision, for `history` and `rollback`.
//! - `todoplan.journal`: while an apply runs, what it changed so far, one line per object
//!   (see [`journal`]); folded into the state file when the run ends.
//! - `todoplan.lock`: held while a command may write; names its holder.
//! - `digest.key`: the key of secret digests (mode 0600, never printed, kept out of git).
//!
//! The cluster backend keeps the same records in Secrets of the state namespace (see
//! [`kubernetes`]); a third, in-memory backend with injected faults exists for the crash tests
//! only (`memory`, feature `fault-injection`).
//!
//! Every local write goes to a temporary file in the same directory, is fsynced, then renamed over the
//! target, so a crash leaves either the old or the new file, never a torn one.

mod backend;
pub mod digest;
mod history;
pub mod journal;
pub mod kubernetes;
mod local;
mod lock;
mod manifest;
/// A state backend with injected faults, for the crash tests: built only for tests (the
/// `fault-injection` feature the test targets switch on), never shipped in the executable.
#[cfg(any(test, feature = "fault-injection"))]
pub mod memory;
mod record;
mod store;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use backend::{
    Leftovers, LockGuard, LockRelease, NEW_STATE_FLAG, NewState, Opened, Recovery, StateBackend,
    Unlocked, Unsaved,
};
pub use digest::DigestKey;
pub use history::{GitSource, HistoryEntry, Outcome, Provenance, who};
pub use journal::{JournalEntry, Replayed};
pub use kubernetes::KubernetesBackend;
pub use local::LocalBackend;
pub use lock::{LockHolder, LockOptions};
pub use manifest::Manifest;
pub use record::{applied_images, record_revision, record_revision_with};
pub use store::StateStore;

/// Bumped when the JSON layout changes incompatibly.
pub const STATE_FORMAT_VERSION: u32 = 1;
pub const STATE_FILE: &str = "todoplan.state.json";
pub const BACKUP_FILE: &str = "todoplan.state.json.backup";

#[derive(Debug, Error, Diagnostic)]
pub enum StateError {
    #[error("cannot read {path}")]
    #[diagnostic(code(todoplan::state::read))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the state file {path} is not valid todoplan state: {message}")]
    #[diagnostic(
        code(todoplan::state::corrupt),
        help(
            "the previous state is kept as its backup ({STATE_FILE}.backup beside a local state; the Secret NAME-backup beside a state in the cluster); inspect both before restoring one by hand"
        )
    )]
    Corrupt { path: PathBuf, message: String },
    #[error(
        "the state file {path} has format version {found}; this todoplan understands up to {STATE_FORMAT_VERSION}"
    )]
    #[diagnostic(
        code(todoplan::state::format),
        help("upgrade todoplan; the state was written by a newer version ({writer})")
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        writer: String,
    },
    #[error("cannot write {path}")]
    #[diagnostic(
        code(todoplan::state::write),
        help(
            "check that the directory exists and is writable; what was there before is untouched"
        )
    )]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the state is locked by {holder}")]
    #[diagnostic(
        code(todoplan::state::locked),
        help("wait for that command to finish, or pass --lock-timeout to wait for it{hint}")
    )]
    Locked {
        holder: String,
        id: String,
        /// What else the user can do (stop the process, find it).
        hint: String,
    },
    #[error(
        "the state lock is left by {holder}, and todoplan cannot prove that holder is gone: {why}"
    )]
    #[diagnostic(
        code(todoplan::state::locked_unproven),
        help(
            "if you are sure that command is no longer running, run `todoplan force-unlock {id}`"
        )
    )]
    LockedUnproven {
        holder: String,
        id: String,
        why: String,
    },
    #[error("the state lock file {path} holds {len} bytes that do not name a holder")]
    #[diagnostic(
        code(todoplan::state::lock_unreadable),
        help(
            "no running todoplan holds it (its kernel lock is free); if no todoplan on another host uses this directory, clear it with `todoplan force-unlock {id}`"
        )
    )]
    UnreadableLock {
        path: PathBuf,
        id: String,
        len: usize,
    },
    #[error("cannot lock {path}: the filesystem refused the lock")]
    #[diagnostic(
        code(todoplan::state::lock_unsupported),
        help(
            "keep the state directory on a local filesystem, or use the kubernetes state backend"
        )
    )]
    LockUnsupported {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the state lock is held by {holder}, which is still running")]
    #[diagnostic(
        code(todoplan::state::still_held),
        help(
            "force-unlock only clears a lock whose holder is gone; stop that process and its lock is released"
        )
    )]
    StillHeld { holder: String },
    #[error("no lock with ID {given} is held{}", .current.as_ref().map(|c| format!(" (the current lock is {c})")).unwrap_or_default())]
    #[diagnostic(
        code(todoplan::state::unlock_mismatch),
        help("pass the lock ID exactly as the locked error printed it")
    )]
    UnlockMismatch {
        given: String,
        current: Option<String>,
    },
    #[error("revision {revision} is not in the history")]
    #[diagnostic(
        code(todoplan::state::no_revision),
        help("`todoplan history` lists the revisions that can be restored")
    )]
    NoRevision { revision: u64 },
    #[error("revision {revision} is already recorded in {path}")]
    #[diagnostic(
        code(todoplan::state::history_exists),
        help(
            "recorded revisions are never overwritten; this state's revision is behind its history"
        )
    )]
    HistoryExists { path: PathBuf, revision: u64 },
    #[error("could not record revision {revision}")]
    #[diagnostic(code(todoplan::state::unrecorded), help("{advice}"))]
    Unrecorded {
        revision: u64,
        #[source]
        source: Box<StateError>,
        advice: String,
    },
    #[error("the state {path} belongs to project `{found}`, not `{expected}`")]
    #[diagnostic(
        code(todoplan::state::foreign_project),
        help(
            "this is the state of another project (instance {lineage}); planning against it would delete that project's objects. Point `[state] dir` of {expected} at its own state"
        )
    )]
    ForeignProject {
        path: PathBuf,
        found: String,
        expected: String,
        lineage: String,
    },
    #[error("the state {path} is missing, but {}", .found.join(" and "))]
    #[diagnostic(
        code(todoplan::state::missing),
        help(
            "{restore}; or, to really start a new state that no longer tracks what the old one applied, run again with {NEW_STATE_FLAG}: the old files are moved aside, never overwritten"
        )
    )]
    Missing {
        path: PathBuf,
        found: Vec<String>,
        restore: String,
    },
    #[error("{what}: {message}")]
    #[diagnostic(
        code(todoplan::state::cluster),
        help(
            "the message is the API server's; check the kube context, that the state namespace exists or may be created, and the RBAC `todoplan rbac --apply` prints"
        )
    )]
    Cluster { what: String, message: String },
    #[error("{location} was changed by another writer since this command read it")]
    #[diagnostic(
        code(todoplan::state::conflict),
        help(
            "another todoplan wrote the state without holding its lock (or took the lock over after it expired); nothing was overwritten: run the command again"
        )
    )]
    Conflict { location: String },
    #[error("the digest key {path} is not a 256-bit key")]
    #[diagnostic(
        code(todoplan::state::digest_key),
        help(
            "it must hold 64 hex digits; if it is lost or damaged, delete it: a new key is made, and every secret shows as changed once"
        )
    )]
    BadDigestKey { path: PathBuf },
}

/// One object todoplan applied, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub release: String,
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// sha256 of the applied manifest (with secret values as applied, so a changed secret
    /// changes the digest without the value being stored).
    pub digest: String,
    /// The applied manifest with every secret value replaced by its redaction marker, as its
    /// JSON text ([`Manifest::value`] parses it).
    pub manifest: Manifest,
    #[serde(default)]
    pub protect: bool,
    /// Written, but not seen ready (readiness failed or apply stopped waiting): the next plan
    /// applies it again and waits, as Terraform does with a tainted resource.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tainted: bool,
    /// A helm hook that ran and was then deleted by its `helm.sh/hook-delete-policy`: absent
    /// from the cluster by design, so not drift, and not run again until its manifest changes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hook_deleted: bool,
    /// The live object as todoplan last saw it match this manifest (right after writing it,
    /// or when a dry-run found nothing to change): what lets the next plan skip the dry-run
    /// while nothing moved (see `plan::incremental`). None: always dry-run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observed>,
}

/// A fingerprint of a live object and of what the server's answer to it depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// sha256 of the live object, normalised (no status, no server metadata) and with every
    /// secret value replaced by its keyed digest.
    pub live: String,
    /// The dry-run basis it was seen under: the cluster's version, its admission webhooks and,
    /// for a custom resource, its CRD's generation (digested).
    pub basis: String,
}

/// The cluster-wide part of the dry-run basis the last apply saw, for the plan to say why it
/// dry-runs everything when it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedBasis {
    pub server_version: String,
    /// Digest of the admission webhook and policy configurations; None: they could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission: Option<String>,
}

/// sha256 of the applied manifest, salted like secret digests (a Secret's manifest holds values).
pub fn manifest_digest(object: &serde_json::Value, salt: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(serde_json::to_vec(object).unwrap_or_default());
    hex::encode(h.finalize())
}

impl ObjectRecord {
    /// The identity of the recorded object in the cluster.
    pub fn key(&self) -> crate::observe::ObjectKey {
        crate::observe::ObjectKey {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// Whether this records the object `key` names (identity: group, kind, namespace, name),
    /// without building a key: scans of every record call it once per record.
    pub fn is(&self, key: &crate::observe::ObjectKey) -> bool {
        self.name == key.name
            && self.kind == key.kind
            && self.namespace == key.namespace
            && crate::model::object::group_of(&self.api_version) == key.group()
    }

    /// The identity of the recorded object, borrowed from the record.
    pub fn identity(&self) -> crate::model::object::Identity<'_> {
        (
            crate::model::object::group_of(&self.api_version),
            &self.kind,
            self.namespace.as_deref(),
            &self.name,
        )
    }
}

/// Digests of one secret set's values; never the values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretRecord {
    pub k8s_name: String,
    pub namespace: String,
    /// key → salted digest of the value.
    pub key_digests: BTreeMap<String, String>,
}

/// A built (and maybe pushed) image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// What the image was built from (per-file digests, so a plan can name changed files).
    pub context: crate::images::ContextDigest,
    pub local_tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub format_version: u32,
    /// Fixed when the state is created; a plan made against another lineage is refused.
    pub lineage: String,
    /// Bumped on every write.
    pub serial: u64,
    /// Bumped on every apply (each apply is one history revision).
    pub revision: u64,
    pub todoplan_version: String,
    pub project: String,
    /// The environment whose state this is: `""` for the base (no `--env`), the name for an
    /// `[env.NAME]` overlay; None in states written before it was recorded. A state of another
    /// environment is refused as one of another project is (two environments whose overlays
    /// name the same state would otherwise prune each other's objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// address → record, ordered for stable files and diffs.
    #[serde(default)]
    pub objects: BTreeMap<String, ObjectRecord>,
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRecord>,
    #[serde(default)]
    pub images: BTreeMap<String, ImageRecord>,
    /// Per release, its effective values as last applied, flattened (`config.LOG_LEVEL` → JSON
    /// text; credential-like leaves as digests): what the next plan's "why" compares with.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub release_values: BTreeMap<String, BTreeMap<String, String>>,
    /// The cluster's version and admission configuration at the last apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run_basis: Option<RecordedBasis>,
    /// Keys the digests of secret values: derived from the backend's digest key, which lives
    /// only in the state's secret storage. Never written anywhere; None in tests (the lineage
    /// stands in).
    #[serde(skip)]
    pub digest_salt: Option<String>,
}

impl State {
    /// True for a state never saved: nothing was applied with it, so no object in the cluster
    /// can belong to it yet.
    pub fn is_new(&self) -> bool {
        self.serial == 0
    }

    /// The identity of this deployment: two states are two instances even for one project.
    pub fn instance(&self) -> &str {
        &self.lineage
    }

    pub fn new(project: &str) -> Self {
        State {
            format_version: STATE_FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            revision: 0,
            todoplan_version: env!("CARGO_PKG_VERSION").to_string(),
            project: project.to_string(),
            environment: None,
            objects: BTreeMap::new(),
            secrets: BTreeMap::new(),
            images: BTreeMap::new(),
            release_values: BTreeMap::new(),
            dry_run_basis: None,
            digest_salt: None,
        }
    }
}

fn parse_state(path: &Path, text: &str) -> Result<State, StateError> {
    /// The fields read before the whole state: a newer format is refused by name, not by
    /// whichever field it changed. Parsed straight from the text (no copy of the state as a
    /// JSON value: a state of 10,000 objects is held once).
    #[derive(Deserialize)]
    struct Header {
        #[serde(default)]
        format_version: serde_json::Value,
        #[serde(default)]
        todoplan_version: serde_json::Value,
    }
    let corrupt = |e: serde_json::Error| StateError::Corrupt {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let header: Header = serde_json::from_str(text).map_err(corrupt)?;
    let found = header.format_version.as_u64().unwrap_or(0);
    if found == 0 {
        return Err(StateError::Corrupt {
            path: path.to_path_buf(),
            message: format!(
                "its format_version is {} (todoplan writes 1 and up)",
                header.format_version
            ),
        });
    }
    if found > u64::from(STATE_FORMAT_VERSION) {
        return Err(StateError::NewerFormat {
            path: path.to_path_buf(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
            writer: header
                .todoplan_version
                .as_str()
                .unwrap_or("unknown")
                .to_string(),
        });
    }
    serde_json::from_str(text).map_err(corrupt)
}

/// Temp file in the same directory, fsync, rename, fsync the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    replace_file(path, bytes).map_err(|source| StateError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `path` whole or not at all: a temp file in the same directory, fsync, rename over
/// `path`, fsync the directory. A kill leaves the old file or the new one, never half of one.
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Like [`write_atomically`] but never replaces an existing file: `AlreadyExists` then.
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| match e.kind() {
        // Keep `AlreadyExists` meaning "the target exists", not "a parent is not a directory".
        std::io::ErrorKind::AlreadyExists => std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is not a directory", dir.display()),
        ),
        _ => e,
    })?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path).map_err(|e| e.error)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_bumps_serial_keeps_lineage_and_backup() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path());
        assert!(backend.load().unwrap().is_none());
        let mut state = backend.load_or_new("todo").unwrap();
        let lineage = state.lineage.clone();
        backend.save(&mut state).unwrap();
        assert_eq!(state.serial, 1);
        backend.save(&mut state).unwrap();
        let reloaded = backend.load().unwrap().unwrap();
        assert_eq!(reloaded.serial, 2);
        assert_eq!(reloaded.lineage, lineage);
        let backup: State =
            serde_json::from_str(&fs::read_to_string(dir.path().join(BACKUP_FILE)).unwrap())
                .unwrap();
        assert_eq!(backup.serial, 1);
    }

    #[test]
    fn corrupt_state_is_a_diagnostic_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(STATE_FILE), "{ not json").unwrap();
        let err = LocalBackend::new(dir.path()).load().unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn format_version_zero_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(STATE_FILE),
            r#"{"format_version": 0, "lineage": "l", "serial": 1, "revision": 1, "todoplan_version": "0.1.0", "project": "todo"}"#,
        )
        .unwrap();
        let err = LocalBackend::new(dir.path()).load().unwrap_err();
        assert!(
            matches!(err, StateError::Corrupt { .. })
                && err.to_string().contains("format_version is 0"),
            "{err}"
        );
    }

    #[test]
    fn newer_format_is_refused_with_the_writer_named() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(STATE_FILE),
            r#"{"format_version": 99, "todoplan_version": "9.9.9"}"#,
        )
        .unwrap();
        let err = LocalBackend::new(dir.path()).load().unwrap_err();
        assert!(err.to_string().contains("format version 99"), "{err}");
    }
}
