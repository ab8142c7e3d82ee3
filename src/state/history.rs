//! `state/history/<revision>.json`: one file per applied revision, for `history` and `rollback`.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ObjectRecord, SecretRecord, StateError, write_atomically};

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
    /// The objects as they stood after this revision (redacted like the state).
    pub objects: BTreeMap<String, ObjectRecord>,
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRecord>,
}

fn history_dir(dir: &Path) -> std::path::PathBuf {
    dir.join("history")
}

pub(super) fn record(dir: &Path, entry: &HistoryEntry) -> Result<(), StateError> {
    let path = history_dir(dir).join(format!("{:06}.json", entry.revision));
    let text = serde_json::to_vec_pretty(entry).map_err(|e| StateError::Write {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    write_atomically(&path, &text)
}

pub(super) fn read(dir: &Path, revision: u64) -> Result<HistoryEntry, StateError> {
    let path = history_dir(dir).join(format!("{revision:06}.json"));
    let text = match fs::read_to_string(&path) {
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
        out.push(read(dir, rev)?);
    }
    out.sort_by_key(|e| e.revision);
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
            objects: BTreeMap::new(),
            secrets: BTreeMap::new(),
        }
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
}
