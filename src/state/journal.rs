//! The journal of a run: what an apply changed in the state, one JSON line per object, appended
//! as it happens and made durable in batches (one fsync per wave of the executor), then folded
//! into the state file once at the end.
//!
//! Rewriting the whole state file after every object write made apply quadratic (the file grows
//! with every object); appending one line per object keeps it linear. The state stays
//! crash-true: whatever a process killed at any point had synced is replayed by the next
//! reader (plan, apply, history), and an object written but not yet synced carries this
//! instance's labels, so the next plan finds it in the cluster and records it without a write.
//!
//! Layout: the first line is a [`JournalHeader`] naming the state it applies to (lineage and
//! serial); every following line is one [`JournalEntry`]. A journal whose header does not match
//! the state file is stale (the state was saved after it, then the process died before removing
//! it) and is ignored. A last line without its newline is a write the kill cut short: ignored.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ObjectRecord, SecretRecord, State, StateError};

pub const JOURNAL_FILE: &str = "todoplan.journal";
/// Bumped when the line layout changes incompatibly.
pub const JOURNAL_FORMAT_VERSION: u32 = 1;

/// The first line: which state the entries apply to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalHeader {
    pub journal: u32,
    pub lineage: String,
    pub project: String,
    /// The serial of the state the run started from.
    pub base_serial: u64,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

impl JournalHeader {
    pub fn for_state(state: &State) -> Self {
        JournalHeader {
            journal: JOURNAL_FORMAT_VERSION,
            lineage: state.lineage.clone(),
            project: state.project.clone(),
            base_serial: state.serial,
            started_at: chrono::Utc::now(),
        }
    }
}

/// One change to the state's records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalEntry {
    /// An object was written (or found in place) and is recorded at `address`.
    Put {
        address: String,
        record: Box<ObjectRecord>,
    },
    /// A record was dropped (the object was deleted, or forgotten).
    Forget { address: String },
    /// The secret sets' digests the run applied (never values).
    Secret { name: String, record: SecretRecord },
}

impl JournalEntry {
    pub fn apply_to(&self, state: &mut State) {
        match self {
            JournalEntry::Put { address, record } => {
                if !state.objects.contains_key(address) {
                    // Identity is group, kind, namespace and name: a record of the same object
                    // at another version's address (written as autoscaling/v1, now v2) moves.
                    let key = record.key();
                    state.objects.retain(|_, r| !r.is(&key));
                }
                state.objects.insert(address.clone(), (**record).clone());
            }
            JournalEntry::Forget { address } => {
                state.objects.remove(address);
            }
            JournalEntry::Secret { name, record } => {
                state.secrets.insert(name.clone(), record.clone());
            }
        }
    }
}

/// A state with a journal replayed onto it.
#[derive(Debug, Clone, PartialEq)]
pub struct Replayed {
    pub state: State,
    /// Entries replayed.
    pub entries: usize,
    pub header: JournalHeader,
}

/// Replays the journal `bytes` (read from `path`) onto `found`, the state file's content.
///
/// `Ok(None)`: nothing to replay (empty, cut before its header was whole, or stale: made
/// against another state than `found`). The replayed state has the serial the state file gets
/// when the journal is folded into it (`base_serial + 1`), so a plan made against it stays
/// valid across that.
pub fn replay(
    found: Option<&State>,
    path: &Path,
    bytes: &[u8],
) -> Result<Option<Replayed>, StateError> {
    let corrupt = |line: usize, message: String| StateError::Corrupt {
        path: path.to_path_buf(),
        message: format!("line {line}: {message}"),
    };
    // Only newline-terminated lines were written whole; the rest is a cut-short write.
    let whole = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(end) => &bytes[..end],
        None => return Ok(None),
    };
    let mut lines = whole.split(|b| *b == b'\n');
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    let header: JournalHeader = match serde_json::from_slice::<serde_json::Value>(first) {
        Ok(raw) => {
            let found_version = raw.get("journal").and_then(|v| v.as_u64()).unwrap_or(0);
            if found_version > u64::from(JOURNAL_FORMAT_VERSION) {
                return Err(corrupt(
                    1,
                    format!(
                        "journal format version {found_version}; this todoplan understands up to {JOURNAL_FORMAT_VERSION} (upgrade todoplan)"
                    ),
                ));
            }
            serde_json::from_value(raw).map_err(|e| corrupt(1, e.to_string()))?
        }
        Err(e) => return Err(corrupt(1, e.to_string())),
    };
    let mut state = match found {
        Some(s) if s.lineage == header.lineage && s.serial == header.base_serial => s.clone(),
        Some(_) => return Ok(None),
        // The first run of a state: the journal is all there is.
        None if header.base_serial == 0 => {
            let mut s = State::new(&header.project);
            s.lineage = header.lineage.clone();
            s
        }
        None => return Ok(None),
    };
    let mut entries = Vec::new();
    let mut bad: Option<(usize, String)> = None;
    for (i, line) in lines.enumerate() {
        let number = i + 2;
        match serde_json::from_slice::<JournalEntry>(line) {
            Ok(entry) => {
                // A damaged line followed by good ones is not a cut-short tail.
                if let Some((at, message)) = bad.take() {
                    return Err(corrupt(at, message));
                }
                entries.push(entry);
            }
            Err(e) => {
                if bad.is_none() {
                    bad = Some((number, e.to_string()));
                }
            }
        }
    }
    for entry in &entries {
        entry.apply_to(&mut state);
    }
    state.serial = header.base_serial + 1;
    Ok(Some(Replayed {
        state,
        entries: entries.len(),
        header,
    }))
}

/// The open journal of a running apply.
#[derive(Debug)]
pub struct JournalWriter {
    file: BufWriter<fs::File>,
    path: PathBuf,
    /// Entries appended since the last sync.
    unsynced: usize,
}

impl JournalWriter {
    /// Starts a journal at `path` (replacing a stale one) and makes its header durable before
    /// anything is written to the cluster.
    pub fn create(path: &Path, header: &JournalHeader) -> Result<Self, StateError> {
        let err = |source| StateError::Write {
            path: path.to_path_buf(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(err)?;
        // Private like the state file: it holds the same records.
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(path)
                .map_err(err)?
        };
        let mut writer = JournalWriter {
            // Lines reach the file at a sync (or when this much piles up in between).
            file: BufWriter::with_capacity(1 << 20, file),
            path: path.to_path_buf(),
            unsynced: 0,
        };
        writer.line(header)?;
        writer.sync()?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(writer)
    }

    fn line(&mut self, value: &impl Serialize) -> Result<(), StateError> {
        let path = &self.path;
        let err = |source| StateError::Write {
            path: path.clone(),
            source,
        };
        serde_json::to_writer(&mut self.file, value).map_err(|e| err(std::io::Error::other(e)))?;
        self.file.write_all(b"\n").map_err(err)
    }

    /// Appends `entry`; durable after the next [`JournalWriter::sync`].
    pub fn append(&mut self, entry: &JournalEntry) -> Result<(), StateError> {
        self.line(entry)?;
        self.unsynced += 1;
        Ok(())
    }

    /// Everything appended so far reaches the disk (one write and one fsync for the batch).
    pub fn sync(&mut self) -> Result<(), StateError> {
        let err = |source| StateError::Write {
            path: self.path.clone(),
            source,
        };
        self.file.flush().map_err(err)?;
        self.file.get_ref().sync_data().map_err(err)?;
        self.unsynced = 0;
        Ok(())
    }

    pub fn unsynced(&self) -> usize {
        self.unsynced
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(name: &str, digest: &str) -> ObjectRecord {
        ObjectRecord {
            release: "objects".into(),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("ns".into()),
            name: name.into(),
            uid: None,
            digest: digest.into(),
            manifest: serde_json::json!({"kind": "ConfigMap", "metadata": {"name": name}}).into(),
            protect: false,
            tainted: false,
            hook_deleted: false,
            observed: None,
        }
    }

    fn bytes_of(header: &JournalHeader, entries: &[JournalEntry]) -> Vec<u8> {
        let mut out = serde_json::to_vec(header).unwrap();
        out.push(b'\n');
        for e in entries {
            out.extend(serde_json::to_vec(e).unwrap());
            out.push(b'\n');
        }
        out
    }

    fn base() -> State {
        let mut s = State::new("todo");
        s.serial = 4;
        s.objects.insert("old".into(), record("old", "d0"));
        s
    }

    #[test]
    fn a_journal_replays_onto_the_state_it_was_started_from() {
        let state = base();
        let header = JournalHeader::for_state(&state);
        let entries = vec![
            JournalEntry::Put {
                address: "a".into(),
                record: Box::new(record("a", "d1")),
            },
            JournalEntry::Forget {
                address: "old".into(),
            },
        ];
        let replayed = replay(Some(&state), Path::new("j"), &bytes_of(&header, &entries))
            .unwrap()
            .unwrap();
        assert_eq!(replayed.entries, 2);
        assert_eq!(replayed.state.serial, 5);
        assert_eq!(replayed.state.objects.keys().collect::<Vec<_>>(), vec!["a"]);
    }

    #[test]
    fn a_stale_journal_is_ignored() {
        let state = base();
        let mut header = JournalHeader::for_state(&state);
        header.base_serial = 3;
        assert!(
            replay(Some(&state), Path::new("j"), &bytes_of(&header, &[]))
                .unwrap()
                .is_none()
        );
        let mut other = JournalHeader::for_state(&state);
        other.lineage = "another".into();
        assert!(
            replay(Some(&state), Path::new("j"), &bytes_of(&other, &[]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_first_run_of_a_state_is_replayed_without_a_state_file() {
        let mut fresh = State::new("todo");
        fresh.lineage = "l-1".into();
        let header = JournalHeader::for_state(&fresh);
        let replayed = replay(None, Path::new("j"), &bytes_of(&header, &[]))
            .unwrap()
            .unwrap();
        assert_eq!(replayed.state.lineage, "l-1");
        assert_eq!(replayed.state.serial, 1, "a started run is not a new state");
    }

    #[test]
    fn a_damaged_line_in_the_middle_is_an_error_naming_it() {
        let state = base();
        let header = JournalHeader::for_state(&state);
        let mut bytes = bytes_of(&header, &[]);
        bytes.extend(b"{ hand edited\n");
        bytes.extend(
            serde_json::to_vec(&JournalEntry::Forget {
                address: "old".into(),
            })
            .unwrap(),
        );
        bytes.push(b'\n');
        let err = replay(Some(&state), Path::new("j"), &bytes).unwrap_err();
        assert!(err.to_string().contains("not valid"), "{err}");
        assert!(format!("{err:?}").contains("line 2"), "{err:?}");
    }

    #[test]
    fn a_newer_journal_is_refused() {
        let state = base();
        let mut header = JournalHeader::for_state(&state);
        header.journal = 9;
        let err = replay(Some(&state), Path::new("j"), &bytes_of(&header, &[])).unwrap_err();
        assert!(format!("{err:?}").contains("upgrade todoplan"), "{err:?}");
    }

    #[test]
    fn the_writer_syncs_what_replay_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        let state = base();
        let mut w = JournalWriter::create(&path, &JournalHeader::for_state(&state)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600,
            "as private as the state file"
        );
        w.append(&JournalEntry::Put {
            address: "a".into(),
            record: Box::new(record("a", "d1")),
        })
        .unwrap();
        // Not synced: a kill now loses it (the object is found by its labels instead).
        let before = fs::read(&path).unwrap();
        assert_eq!(
            replay(Some(&state), &path, &before)
                .unwrap()
                .unwrap()
                .entries,
            0
        );
        assert_eq!(w.unsynced(), 1);
        w.sync().unwrap();
        let after = fs::read(&path).unwrap();
        assert_eq!(
            replay(Some(&state), &path, &after)
                .unwrap()
                .unwrap()
                .entries,
            1
        );
    }

    fn entry() -> impl Strategy<Value = JournalEntry> {
        prop_oneof![
            (0..20u8, "[a-f0-9]{4}").prop_map(|(n, d)| JournalEntry::Put {
                address: format!("cm-{n}"),
                record: Box::new(record(&format!("cm-{n}"), &d)),
            }),
            (0..20u8).prop_map(|n| JournalEntry::Forget {
                address: format!("cm-{n}")
            }),
        ]
    }

    proptest! {
        /// A run is killed at any byte of its journal, with writes batched by syncs: the replay
        /// is exactly the entries written whole before the cut, applied in order — never a
        /// later entry, never a torn one, never an error.
        #[test]
        fn a_kill_at_any_byte_replays_exactly_the_whole_lines_before_it(
            entries in proptest::collection::vec(entry(), 0..40),
            cut in any::<proptest::sample::Index>(),
        ) {
            let state = base();
            let header = JournalHeader::for_state(&state);
            let bytes = bytes_of(&header, &entries);
            let cut = cut.index(bytes.len() + 1);
            let kept = &bytes[..cut];
            let replayed = replay(Some(&state), Path::new("j"), kept).unwrap();
            let header_len = serde_json::to_vec(&header).unwrap().len() + 1;
            if cut < header_len {
                prop_assert!(replayed.is_none());
                return Ok(());
            }
            let replayed = replayed.unwrap();
            let whole = kept[header_len..].iter().filter(|b| **b == b'\n').count();
            prop_assert_eq!(replayed.entries, whole);
            let mut expected = state.clone();
            for e in &entries[..whole] {
                e.apply_to(&mut expected);
            }
            expected.serial = state.serial + 1;
            prop_assert_eq!(replayed.state, expected);
        }

        /// Garbage where the unsynced tail was (a crash of the machine, not only the process)
        /// ends the replay there instead of failing it.
        #[test]
        fn garbage_after_the_last_synced_line_is_dropped(
            entries in proptest::collection::vec(entry(), 0..10),
            garbage in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let state = base();
            let header = JournalHeader::for_state(&state);
            let mut bytes = bytes_of(&header, &entries);
            let garbage: Vec<u8> = garbage.into_iter().filter(|b| *b != b'\n' && *b != b'{').collect();
            bytes.extend(&garbage);
            bytes.push(b'\n');
            let replayed = replay(Some(&state), Path::new("j"), &bytes).unwrap().unwrap();
            let whole = entries.len() + usize::from(serde_json::from_slice::<JournalEntry>(&garbage).is_ok());
            prop_assert_eq!(replayed.entries, whole);
        }
    }
}
