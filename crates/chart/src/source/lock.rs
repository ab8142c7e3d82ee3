//! `charts.lock`: one `[[chart]]` per (source, constraint) a todo.toml uses, sorted, so the
//! file is the same whoever writes it and a review shows exactly which chart changed.
//!
//! It was called `todoplan.lock` at first, the name the state directory's flock file also has;
//! such a file beside todo.toml is still read (see [`is_chart_lock`]) and renamed at the next
//! write.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::SourceError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    /// `oci://HOST/PATH/NAME`, or `URL NAME` for an HTTP repository.
    pub source: String,
    /// The constraint todo.toml gives (`version`).
    pub constraint: String,
    /// The exact version it resolved to.
    pub version: String,
    /// `sha256:<hex>` of the chart package.
    pub digest: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub version: u32,
    #[serde(default, rename = "chart")]
    pub entries: Vec<LockEntry>,
}

/// The lock's name beside todo.toml.
pub const LOCK_FILE: &str = "charts.lock";
/// Its first name: beside todo.toml, an older todoplan's chart lock, unless it is the state's own
/// flock file (`[state] dir = "."`), which is never touched.
pub const LEGACY_LOCK_FILE: &str = "todoplan.lock";

const HEADER: &str = "# charts.lock: the exact chart versions and package digests todoplan resolved for the\n\
# remote charts of todo.toml. Written by todoplan; commit it and review its changes.\n";

/// The first line an older todoplan wrote at the top of `todoplan.lock`.
const LEGACY_HEADER: &str = "# todoplan.lock: the exact chart versions";

/// Whether `path` is a chart lock an older todoplan wrote as `todoplan.lock` (its header, or
/// content that reads as a lock), and not some other file of that name, such as the state's
/// flock file (empty, or its holder as JSON). Only ever read.
pub fn is_chart_lock(path: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.len() > 16 * 1024 * 1024 {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    text.starts_with(LEGACY_HEADER) || toml::from_str::<Lock>(&text).is_ok()
}

impl Lock {
    pub fn read(path: &Path) -> Result<Lock, SourceError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Lock {
                    version: 1,
                    entries: Vec::new(),
                });
            }
            Err(e) => {
                return Err(SourceError::new(
                    format!("cannot read {}: {e}", path.display()),
                    "check the file's permissions",
                ));
            }
        };
        let broken = |what: String| {
            SourceError::new(
                format!("{} is not a valid lock file: {what}", path.display()),
                "restore it from version control, or delete it to resolve every remote chart again",
            )
        };
        let lock: Lock = toml::from_str(&text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!(" (line {line})")
                })
                .unwrap_or_default();
            broken(format!("{}{at}", e.message()))
        })?;
        if lock.version != 1 {
            return Err(broken(format!(
                "version {} is not one this todoplan writes (1)",
                lock.version
            )));
        }
        for e in &lock.entries {
            if super::promised_digest(Path::new(&format!("{}.tgz", e.digest.replace(':', "-"))))
                .is_none()
            {
                return Err(broken(format!(
                    "the digest of {} is {:?}, not sha256:<64 lower-case hex digits>",
                    e.source, e.digest
                )));
            }
            if super::parse_version(&e.version).is_none() {
                return Err(broken(format!(
                    "the version of {} is {:?}, not a version",
                    e.source, e.version
                )));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for e in &lock.entries {
            if !seen.insert((&e.source, &e.constraint)) {
                return Err(broken(format!(
                    "{} with constraint {:?} is listed twice",
                    e.source, e.constraint
                )));
            }
        }
        Ok(lock)
    }

    pub fn find(&self, source: &str, constraint: &str) -> Option<&LockEntry> {
        self.entries
            .iter()
            .find(|e| e.source == source && e.constraint == constraint)
    }

    pub fn insert(&mut self, entry: LockEntry) {
        self.entries
            .retain(|e| !(e.source == entry.source && e.constraint == entry.constraint));
        self.entries.push(entry);
        self.entries.sort_by(|a, b| {
            (a.source.as_str(), a.constraint.as_str())
                .cmp(&(b.source.as_str(), b.constraint.as_str()))
        });
    }

    pub fn render(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!("{HEADER}{body}")
    }

    /// Atomic write: a temporary file beside the lock, synced, renamed over it.
    pub fn write(&self, path: &Path) -> Result<(), SourceError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let fail = |e: std::io::Error| {
            SourceError::new(
                format!("cannot write {}: {e}", path.display()),
                "check that the directory holding todo.toml is writable",
            )
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
        std::io::Write::write_all(&mut tmp, self.render().as_bytes()).map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        tmp.persist(path).map_err(|e| fail(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(source: &str, constraint: &str) -> LockEntry {
        LockEntry {
            source: source.into(),
            constraint: constraint.into(),
            version: "1.0.0".into(),
            digest: format!("sha256:{}", "0".repeat(64)),
        }
    }

    #[test]
    fn the_lock_is_sorted_and_reads_back() {
        let mut lock = Lock {
            version: 1,
            entries: vec![],
        };
        lock.insert(entry("oci://r/b", "^1"));
        lock.insert(entry("oci://r/a", "^2"));
        lock.insert(entry("oci://r/a", "^1"));
        let text = lock.render();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        lock.write(&path).unwrap();
        let back = Lock::read(&path).unwrap();
        assert_eq!(back, lock);
        let order: Vec<_> = back
            .entries
            .iter()
            .map(|e| format!("{} {}", e.source, e.constraint))
            .collect();
        assert_eq!(order, ["oci://r/a ^1", "oci://r/a ^2", "oci://r/b ^1"]);
        assert!(text.starts_with("# charts.lock"), "{text}");
    }

    #[test]
    fn a_tampered_lock_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        for (text, why) in [
            (
                "version = 1\n[[chart]]\nsource = \"oci://r/a\"\nconstraint = \"^1\"\nversion = \"1.0.0\"\ndigest = \"md5:00\"\n",
                "not sha256",
            ),
            (
                "version = 1\n[[chart]]\nsource = \"oci://r/a\"\n",
                "missing field",
            ),
            ("version = 7\n", "version 7"),
            (
                "version = 1\n[[chart]]\nsource = \"oci://r/a\"\nconstraint = \"^1\"\nversion = \"x\"\ndigest = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n",
                "not a version",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = Lock::read(&path).unwrap_err();
            assert!(e.message.contains(why), "{why}: {}", e.message);
        }
    }
}
