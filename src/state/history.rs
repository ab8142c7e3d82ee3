//! `state/history/<revision>.json`: one file per applied revision, for `history` and `rollback`.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ObjectRecord, SecretRecord, StateError, write_new};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    /// Some steps failed or were interrupted; the recorded objects are the ones that were applied.
    Partial,
    Failed,
    RolledBack,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
            Outcome::RolledBack => "rolled back",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub revision: u64,
    pub time: chrono::DateTime<chrono::Utc>,
    /// user@host that ran it.
    pub who: String,
    /// "2 added, 1 changed, 0 replaced, 0 destroyed", or what a rollback restored.
    pub summary: String,
    pub outcome: Outcome,
    /// Where the revision was deployed from and with what: git commit, images, plan checksum,
    /// message. Every field is optional, so revisions recorded before it still load.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// The objects as they stood after this revision (redacted like the state).
    pub objects: BTreeMap<String, ObjectRecord>,
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRecord>,
}

/// What a revision was deployed from: the answer to "which commit and which images are live".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The git commit of the project directory (the one holding todo.toml); absent when it is
    /// not in a git work tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitSource>,
    /// Image name (`[images.NAME]`) → the reference the applied objects use: with its digest
    /// when it was pushed to a registry, the content-addressed local tag otherwise.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,
    /// The checksum of the saved plan file applied (`apply FILE`); absent for a plan made and
    /// confirmed in the same run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_checksum: Option<String>,
    /// `-m/--message` of the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The git commit a revision was deployed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitSource {
    /// The full commit id of HEAD.
    pub commit: String,
    /// The checked-out branch; absent on a detached HEAD (a CI checkout of a commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The work tree had changes not in the commit (tracked files changed, or new files not
    /// ignored): what was deployed is not exactly the commit.
    #[serde(default)]
    pub dirty: bool,
}

impl GitSource {
    /// `1a2b3c4d5e6f (main, dirty)`, as history prints it.
    pub fn describe(&self) -> String {
        let short: String = self.commit.chars().take(12).collect();
        let mut notes: Vec<&str> = Vec::new();
        if let Some(b) = &self.branch {
            notes.push(b);
        }
        if self.dirty {
            notes.push("dirty");
        }
        if notes.is_empty() {
            short
        } else {
            format!("{short} ({})", notes.join(", "))
        }
    }
}

/// Who ran a command, for the history: `$USER`, else the name of this process's uid, else
/// `uid N`; then `@host`.
pub fn who() -> String {
    who_from(std::env::var("USER").ok(), nix::unistd::Uid::current())
}

fn who_from(user: Option<String>, uid: nix::unistd::Uid) -> String {
    let name = user
        .filter(|u| !u.trim().is_empty())
        .or_else(|| {
            nix::unistd::User::from_uid(uid)
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| format!("uid {uid}"));
    format!("{name}@{}", super::lock::this_host())
}

pub(super) const HISTORY_DIR: &str = "history";

pub(super) fn history_dir(dir: &Path) -> std::path::PathBuf {
    dir.join(HISTORY_DIR)
}

pub(super) fn entry_path(dir: &Path, revision: u64) -> std::path::PathBuf {
    history_dir(dir).join(format!("{revision:06}.json"))
}

pub(super) fn record(dir: &Path, entry: &HistoryEntry) -> Result<(), StateError> {
    let path = entry_path(dir, entry.revision);
    let text = serde_json::to_vec_pretty(entry).map_err(|e| StateError::Write {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    write_new(&path, &text).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => StateError::HistoryExists {
            path: path.clone(),
            revision: entry.revision,
        },
        _ => StateError::Write {
            path: path.clone(),
            source,
        },
    })
}

pub(super) fn read(dir: &Path, revision: u64) -> Result<HistoryEntry, StateError> {
    let path = entry_path(dir, revision);
    let text = match crate::model::input::read_regular_text(&path, crate::model::input::STATE_LIMIT)
    {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StateError::NoRevision { revision });
        }
        Err(source) => return Err(StateError::Read { path, source }),
    };
    serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
        path,
        message: e.to_string(),
    })
}

pub(super) fn list(dir: &Path) -> Result<Vec<HistoryEntry>, StateError> {
    revisions(dir)?
        .into_iter()
        .map(|revision| read(dir, revision))
        .collect()
}

/// The recorded revisions, ascending.
pub(super) fn revisions(dir: &Path) -> Result<Vec<u64>, StateError> {
    let hdir = history_dir(dir);
    let entries = match fs::read_dir(&hdir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(StateError::Read { path: hdir, source }),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rev) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        out.push(rev);
    }
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(revision: u64) -> HistoryEntry {
        HistoryEntry {
            revision,
            time: chrono::Utc::now(),
            who: "dev@host".into(),
            summary: "1 added".into(),
            outcome: Outcome::Succeeded,
            provenance: Provenance::default(),
            objects: BTreeMap::new(),
            secrets: BTreeMap::new(),
        }
    }

    #[test]
    fn a_revision_recorded_before_provenance_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(history_dir(dir.path())).unwrap();
        std::fs::write(
            entry_path(dir.path(), 1),
            r#"{"revision": 1, "time": "2026-01-02T03:04:05Z", "who": "dev@host",
                "summary": "1 added", "outcome": "succeeded", "objects": {}}"#,
        )
        .unwrap();
        let entry = read(dir.path(), 1).unwrap();
        assert_eq!(entry.provenance, Provenance::default());
    }

    #[test]
    fn provenance_round_trips_and_is_left_out_when_empty() {
        let mut e = entry(1);
        let empty = serde_json::to_value(&e).unwrap();
        for field in ["git", "images", "plan_checksum", "message"] {
            assert!(empty.get(field).is_none(), "{field} in {empty}");
        }
        e.provenance = Provenance {
            git: Some(GitSource {
                commit: "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d".into(),
                branch: Some("main".into()),
                dirty: true,
            }),
            images: [("backend".to_string(), "r/b@sha256:00".to_string())].into(),
            plan_checksum: Some("c0ffee".into()),
            message: Some("release 1.2".into()),
        };
        let text = serde_json::to_string(&e).unwrap();
        let back: HistoryEntry = serde_json::from_str(&text).unwrap();
        assert_eq!(back, e);
        assert_eq!(
            e.provenance.git.unwrap().describe(),
            "1a2b3c4d5e6f (main, dirty)"
        );
    }

    #[test]
    fn history_lists_revisions_in_order_and_reads_one() {
        let dir = tempfile::tempdir().unwrap();
        for r in [3, 1, 2] {
            record(dir.path(), &entry(r)).unwrap();
        }
        let revs: Vec<u64> = list(dir.path())
            .unwrap()
            .iter()
            .map(|e| e.revision)
            .collect();
        assert_eq!(revs, vec![1, 2, 3]);
        assert_eq!(read(dir.path(), 2).unwrap().revision, 2);
        assert!(matches!(
            read(dir.path(), 9),
            Err(StateError::NoRevision { revision: 9 })
        ));
    }

    #[test]
    fn a_recorded_revision_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        record(dir.path(), &entry(1)).unwrap();
        let mut other = entry(1);
        other.summary = "another lineage".into();
        let err = record(dir.path(), &other).unwrap_err();
        assert!(
            matches!(err, StateError::HistoryExists { revision: 1, .. }),
            "{err:?}"
        );
        assert_eq!(read(dir.path(), 1).unwrap().summary, "1 added");
    }

    #[test]
    fn who_falls_back_from_user_to_the_uids_name_then_the_uid() {
        let host = super::super::lock::this_host();
        let uid = nix::unistd::Uid::current();
        assert_eq!(who_from(Some("alice".into()), uid), format!("alice@{host}"));
        let id = std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap();
        let name = String::from_utf8(id.stdout).unwrap().trim().to_string();
        assert_eq!(who_from(None, uid), format!("{name}@{host}"));
        assert_eq!(who_from(Some(" ".into()), uid), format!("{name}@{host}"));
        let nobody = nix::unistd::Uid::from_raw(3_999_999_999);
        assert_eq!(who_from(None, nobody), format!("uid 3999999999@{host}"));
    }
}
