//! Charts that live in a repository instead of next to todo.toml: an HTTP chart repository
//! (`index.yaml`) or an OCI registry. A release names one with a version constraint; the first
//! use resolves it to an exact version and the SHA-256 digest of its package, records both in
//! `charts.lock` beside todo.toml, and keeps the package in the user's cache under its digest.
//! Later uses read the lock and the cache only (no network), and check the package's digest
//! every time it is loaded.

#[cfg(test)]
mod auth_tests;
mod creds;
mod fetch;
mod lock;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use lock::{LEGACY_LOCK_FILE, LOCK_FILE, Lock, LockEntry, is_chart_lock};

use super::template::funcs::{constraint_matches, parse_version};

/// The largest chart package accepted (helm's limit for an unpacked chart).
pub const MAX_PACKAGE: u64 = 100 * 1024 * 1024;

/// Where a remote chart comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartSource {
    /// `repository = "https://host/charts"` with `chart = "NAME"`.
    Repository { url: String, name: String },
    /// `chart = "oci://HOST[:PORT]/PATH/NAME"`.
    Oci {
        registry: String,
        repository: String,
    },
}

impl ChartSource {
    /// The source a release's `chart` (and `repository`) name, or `None` for a local directory.
    pub fn parse(chart: &str, repository: Option<&str>) -> Result<Option<ChartSource>, String> {
        if let Some(rest) = chart.strip_prefix("oci://") {
            if repository.is_some() {
                return Err("an oci:// chart takes no `repository`".into());
            }
            let (registry, repo) = rest
                .split_once('/')
                .ok_or("an OCI chart is oci://HOST[:PORT]/PATH/NAME")?;
            let valid = |s: &str| {
                !s.is_empty()
                    && s.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/:[]".contains(&b)
                    })
            };
            let dot_segment = repo.split('/').any(|p| p == "." || p == "..");
            if !valid(registry)
                || !valid(repo)
                || repo.ends_with('/')
                || repo.contains("//")
                || dot_segment
            {
                return Err(
                    "an OCI chart is oci://HOST[:PORT]/PATH/NAME in lower-case letters, digits and . _ - /"
                        .into(),
                );
            }
            return Ok(Some(ChartSource::Oci {
                registry: registry.to_string(),
                repository: repo.to_string(),
            }));
        }
        let Some(url) = repository else {
            return Ok(None);
        };
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("`repository` is an http:// or https:// URL of a chart repository".into());
        }
        if chart.is_empty() || chart.contains('/') {
            return Err("with `repository`, `chart` is the chart's name in that repository".into());
        }
        Ok(Some(ChartSource::Repository {
            url: url.trim_end_matches('/').to_string(),
            name: chart.to_string(),
        }))
    }

    /// How the lock file names the source.
    pub fn key(&self) -> String {
        match self {
            ChartSource::Repository { url, name } => format!("{url} {name}"),
            ChartSource::Oci {
                registry,
                repository,
            } => format!("oci://{registry}/{repository}"),
        }
    }

    /// The chart's name (the last path segment of an OCI reference).
    pub fn chart_name(&self) -> &str {
        match self {
            ChartSource::Repository { name, .. } => name,
            ChartSource::Oci { repository, .. } => {
                repository.rsplit('/').next().unwrap_or(repository)
            }
        }
    }
}

/// A resolution problem, said for the user; the caller points it at todo.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub message: String,
    pub help: String,
    /// A refusal of `--locked`: the run would have changed charts.lock.
    pub locked: bool,
}

impl SourceError {
    fn new(message: impl Into<String>, help: impl Into<String>) -> Self {
        SourceError {
            message: message.into(),
            help: help.into(),
            locked: false,
        }
    }

    fn locked(message: impl Into<String>) -> Self {
        SourceError {
            locked: true,
            ..SourceError::new(
                message,
                "run once without --locked, review the change to charts.lock and commit it",
            )
        }
    }
}

/// `sha256:<hex>` of some bytes.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The cache directory: `TODOPLAN_CACHE_DIR`, else `$XDG_CACHE_HOME/todoplan`, else
/// `~/.cache/todoplan`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TODOPLAN_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("todoplan");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache").join("todoplan")
}

/// The cached package of a digest: the file name is the digest, so the content can always be
/// checked against its name.
pub fn cached_package(cache: &Path, digest: &str) -> PathBuf {
    cache
        .join("charts")
        .join(format!("{}.tgz", digest.replace(':', "-")))
}

/// If `path` is a package in the cache (named `sha256-<hex>.tgz`), the digest its name promises.
pub fn promised_digest(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let hex = name.strip_prefix("sha256-")?.strip_suffix(".tgz")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then(|| format!("sha256:{hex}"))
}

/// The remote charts a todo.toml names, over its base and every `[env.NAME]` overlay (and
/// releases switched off): entries of the lock outside it are pruned. One environment's run
/// must never drop what another uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChartUses {
    /// (source key, constraint) pairs written in todo.toml.
    pub exact: BTreeSet<(String, String)>,
    /// Sources whose range a `${var.NAME}` chooses: `TODOPLAN_VAR_NAME` can change it at run
    /// time, so every entry of the source is kept.
    pub any_range: BTreeSet<String>,
}

impl ChartUses {
    pub fn uses(&self, entry: &LockEntry) -> bool {
        self.any_range.contains(&entry.source)
            || self
                .exact
                .contains(&(entry.source.clone(), entry.constraint.clone()))
    }
}

/// Whether `dir` holds a chart lock: `charts.lock`, or an older todoplan's `todoplan.lock`.
pub fn lock_exists(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join(LOCK_FILE)).is_ok()
        || is_chart_lock(&dir.join(LEGACY_LOCK_FILE))
}

/// Resolves the remote charts of one todo.toml against its lock file and the cache.
pub struct Resolver {
    lock_path: PathBuf,
    cache: PathBuf,
    lock: Lock,
    /// Where registry and repository credentials are read from.
    creds: creds::CredEnv,
    /// An older todoplan's `todoplan.lock` the lock was read from: removed once `charts.lock`
    /// is written.
    legacy: Option<PathBuf>,
    /// `--locked`: any change to the lock is refused instead of written.
    locked: bool,
    changed: bool,
    /// What changed in the lock and why, for the user.
    pub notes: Vec<String>,
}

impl Resolver {
    /// Read `charts.lock` in `dir` (none yet is an empty lock), or an older todoplan's
    /// `todoplan.lock` when only that one is there.
    pub fn open(dir: &Path) -> Result<Resolver, SourceError> {
        let lock_path = dir.join(LOCK_FILE);
        let old_path = dir.join(LEGACY_LOCK_FILE);
        let mut notes = Vec::new();
        let mut legacy = None;
        let lock = if std::fs::symlink_metadata(&lock_path).is_ok() {
            if is_chart_lock(&old_path) {
                notes.push(format!(
                    "{LEGACY_LOCK_FILE} beside todo.toml is unused: {LOCK_FILE} replaces it \
                     (delete {LEGACY_LOCK_FILE})"
                ));
            }
            Lock::read(&lock_path)?
        } else if is_chart_lock(&old_path) {
            legacy = Some(old_path.clone());
            Lock::read(&old_path)?
        } else {
            Lock::read(&lock_path)?
        };
        Ok(Resolver {
            lock_path,
            cache: cache_dir(),
            lock,
            creds: creds::CredEnv::from_env(),
            legacy,
            locked: false,
            changed: false,
            notes,
        })
    }

    /// As `cargo --locked`: a source or range the lock lacks, or an entry to prune, is an
    /// error, and the lock file is never written.
    pub fn set_locked(&mut self, locked: bool) {
        self.locked = locked;
    }

    /// The cached package for `source` at `constraint`, fetched (and the lock updated) only
    /// when the lock has no entry for it or the cache lacks the package.
    pub fn resolve(
        &mut self,
        source: &ChartSource,
        constraint: &str,
    ) -> Result<PathBuf, SourceError> {
        let key = source.key();
        if constraint_matches(
            constraint,
            &crate::template::mmsemver::Version::new(0, 0, 0),
        )
        .is_none()
        {
            return Err(SourceError::new(
                format!("{constraint:?} is not a version constraint"),
                "write a semver range such as \"^17\", \"~1.3\", \">=2.0.0 <3\" or an exact \"1.2.0\"",
            ));
        }
        if let Some(entry) = self.lock.find(&key, constraint).cloned() {
            let path = cached_package(&self.cache, &entry.digest);
            let damaged = match read_capped(&path) {
                Ok(bytes) if digest_of(&bytes) == entry.digest => return Ok(path),
                Ok(bytes) => Some(digest_of(&bytes)),
                Err(_) => None,
            };
            // Not cached (or the cached copy is damaged): fetch exactly what the lock names.
            let bytes = fetch::package(source, &entry.version, &self.creds).map_err(|e| {
                match &damaged {
                    Some(found) => SourceError::new(
                        format!(
                            "the cached package of {key} {} has digest {found}, not the locked {} \
                         (the chart cache was altered), and fetching it again failed: {}",
                            entry.version, entry.digest, e.message
                        ),
                        e.help,
                    ),
                    None => e,
                }
            })?;
            let got = digest_of(&bytes);
            if got != entry.digest {
                return Err(SourceError::new(
                    format!(
                        "{key} version {} has digest {got}, but charts.lock records {}",
                        entry.version, entry.digest
                    ),
                    "the chart was republished or altered since it was locked; if you trust the \
                     new package, delete its entry from charts.lock and run again",
                ));
            }
            self.store(&got, &bytes)?;
            return Ok(cached_package(&self.cache, &got));
        }
        let others: Vec<String> = self
            .lock
            .entries
            .iter()
            .filter(|e| e.source == key)
            .map(|e| e.constraint.clone())
            .collect();
        if self.locked {
            let also = if others.is_empty() {
                String::new()
            } else {
                format!(
                    " (it locks {} for this source)",
                    others
                        .iter()
                        .map(|c| format!("{c:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(SourceError::locked(format!(
                "{key} {constraint:?} is not in {LOCK_FILE}{also}, and --locked forbids \
                 changing it"
            )));
        }
        let versions = fetch::versions(source, &self.creds)?;
        let version = pick(&versions, constraint).map_err(|m| {
            SourceError::new(
                format!("{key}: {m}"),
                format!(
                    "available versions: {}",
                    summarize(versions.iter().map(|(v, _)| v.as_str()))
                ),
            )
        })?;
        let bytes = fetch::package(source, &version, &self.creds)?;
        let digest = digest_of(&bytes);
        if let Some((_, Some(published))) = versions.iter().find(|(v, _)| *v == version)
            && *published != digest
        {
            return Err(SourceError::new(
                format!(
                    "{key} version {version} downloaded with digest {digest}, but the repository \
                     publishes {published}"
                ),
                "the package was altered in transit or the repository's index is stale; try \
                 again later or ask the repository's owner",
            ));
        }
        self.store(&digest, &bytes)?;
        let why = if others.is_empty() {
            "was not in charts.lock".to_string()
        } else {
            format!(
                "is locked for {} but todo.toml now asks for {constraint:?}",
                others
                    .iter()
                    .map(|c| format!("{c:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        self.notes.push(format!(
            "charts.lock: {key} {why}; resolved {constraint:?} to version {version} ({digest})"
        ));
        let path = cached_package(&self.cache, &digest);
        self.lock.insert(LockEntry {
            source: key,
            constraint: constraint.to_string(),
            version,
            digest,
        });
        self.changed = true;
        Ok(path)
    }

    /// Drop the entries todo.toml no longer uses anywhere, saying which (with `--locked`:
    /// refuse, naming them).
    pub fn prune(&mut self, uses: &ChartUses) -> Result<(), SourceError> {
        if self.locked {
            let unused: Vec<String> = self
                .lock
                .entries
                .iter()
                .filter(|e| !uses.uses(e))
                .map(|e| format!("{} {:?}", e.source, e.constraint))
                .collect();
            if !unused.is_empty() {
                return Err(SourceError::locked(format!(
                    "{LOCK_FILE} lists {} that no release uses in the base or any [env.NAME] of \
                     todo.toml, and --locked forbids removing {}",
                    unused.join(", "),
                    if unused.len() == 1 { "it" } else { "them" }
                )));
            }
            return Ok(());
        }
        let (kept, unused): (Vec<LockEntry>, Vec<LockEntry>) =
            std::mem::take(&mut self.lock.entries)
                .into_iter()
                .partition(|e| uses.uses(e));
        self.lock.entries = kept;
        for e in &unused {
            self.notes.push(format!(
                "{LOCK_FILE}: removed {} {:?}: no release uses it in the base or any [env.NAME] \
                 of todo.toml",
                e.source, e.constraint
            ));
        }
        self.changed |= !unused.is_empty();
        Ok(())
    }

    /// Write the lock file if anything was added (as `charts.lock`, removing an older
    /// todoplan's `todoplan.lock` it was read from).
    pub fn finish(mut self) -> Result<Vec<String>, SourceError> {
        if self.changed && !self.locked {
            self.lock.write(&self.lock_path)?;
            if let Some(old) = &self.legacy {
                match std::fs::remove_file(old) {
                    Ok(()) => self.notes.push(format!(
                        "renamed {LEGACY_LOCK_FILE} to {LOCK_FILE}: commit both"
                    )),
                    Err(e) => self.notes.push(format!(
                        "wrote {LOCK_FILE}, which replaces {LEGACY_LOCK_FILE}, but cannot remove \
                         {}: {e}; delete it and commit both",
                        old.display()
                    )),
                }
            }
        }
        Ok(self.notes)
    }

    fn store(&self, digest: &str, bytes: &[u8]) -> Result<(), SourceError> {
        let path = cached_package(&self.cache, digest);
        let dir = path.parent().unwrap_or(&self.cache);
        let fail = |e: std::io::Error| {
            SourceError::new(
                format!("cannot write the chart cache {}: {e}", dir.display()),
                "set TODOPLAN_CACHE_DIR to a writable directory",
            )
        };
        std::fs::create_dir_all(dir).map_err(fail)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
        std::io::Write::write_all(&mut tmp, bytes).map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        tmp.persist(&path).map_err(|e| fail(e.error))?;
        Ok(())
    }
}

/// Read a file, refusing one larger than a chart package may be.
pub fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut data = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_PACKAGE + 1)
        .read_to_end(&mut data)?;
    if data.len() as u64 > MAX_PACKAGE {
        return Err(std::io::Error::other("larger than a chart package may be"));
    }
    Ok(data)
}

/// The highest version matching the constraint (Masterminds rules, as helm: prereleases only
/// when the constraint names one).
fn pick(versions: &[(String, Option<String>)], constraint: &str) -> Result<String, String> {
    if constraint_matches(
        constraint,
        &crate::template::mmsemver::Version::new(0, 0, 0),
    )
    .is_none()
    {
        return Err(format!("{constraint:?} is not a version constraint"));
    }
    versions
        .iter()
        .filter_map(|(v, _)| Some((parse_version(v)?, v)))
        .filter(|(sv, _)| constraint_matches(constraint, sv) == Some(true))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, v)| v.clone())
        .ok_or_else(|| format!("no version matches {constraint:?}"))
}

fn summarize<'a>(versions: impl Iterator<Item = &'a str>) -> String {
    let mut all: Vec<&str> = versions.collect();
    if all.is_empty() {
        return "none".into();
    }
    all.sort_by_key(|v| std::cmp::Reverse(parse_version(v)));
    let shown = all.iter().take(8).copied().collect::<Vec<_>>().join(", ");
    if all.len() > 8 {
        format!("{shown}, ... ({} in all)", all.len())
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_from_todo_toml_spellings() {
        assert_eq!(ChartSource::parse("charts/web", None), Ok(None));
        assert_eq!(
            ChartSource::parse("oci://127.0.0.1:5555/charts/web", None),
            Ok(Some(ChartSource::Oci {
                registry: "127.0.0.1:5555".into(),
                repository: "charts/web".into()
            }))
        );
        assert_eq!(
            ChartSource::parse("web", Some("http://127.0.0.1:8080/charts/")),
            Ok(Some(ChartSource::Repository {
                url: "http://127.0.0.1:8080/charts".into(),
                name: "web".into()
            }))
        );
        assert!(ChartSource::parse("oci://host", None).is_err());
        assert!(ChartSource::parse("oci://Host/X", None).is_err());
        assert!(ChartSource::parse("oci://host/../x", None).is_err());
        assert!(ChartSource::parse("oci://u@host/x", None).is_err());
        assert!(ChartSource::parse("a/b", Some("http://x")).is_err());
        assert!(ChartSource::parse("web", Some("ftp://x")).is_err());
    }

    #[test]
    fn the_highest_matching_version_wins_and_prereleases_need_asking() {
        let vs: Vec<(String, Option<String>)> = ["1.0.0", "1.2.0", "2.0.0-rc.1", "1.10.1", "0.9.0"]
            .iter()
            .map(|v| (v.to_string(), None))
            .collect();
        assert_eq!(pick(&vs, "^1").unwrap(), "1.10.1");
        assert_eq!(pick(&vs, "*").unwrap(), "1.10.1");
        assert_eq!(pick(&vs, ">=2.0.0-0").unwrap(), "2.0.0-rc.1");
        assert_eq!(pick(&vs, "~1.2").unwrap(), "1.2.0");
        assert!(pick(&vs, "^3").is_err());
        assert!(pick(&vs, "not a range").is_err());
    }

    #[test]
    fn only_a_well_formed_digest_name_promises_a_digest() {
        let hex = "a".repeat(64);
        assert_eq!(
            promised_digest(Path::new(&format!("/c/sha256-{hex}.tgz"))),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(promised_digest(Path::new("/c/web-1.0.0.tgz")), None);
        assert_eq!(
            promised_digest(Path::new(&format!("/c/sha256-{}.tgz", "A".repeat(64)))),
            None
        );
    }
    fn locked_entry(source: &str) -> LockEntry {
        LockEntry {
            source: source.into(),
            constraint: "^1".into(),
            version: "1.0.0".into(),
            digest: format!("sha256:{}", "0".repeat(64)),
        }
    }

    fn lock_of(sources: &[&str]) -> Lock {
        let mut lock = Lock {
            version: 1,
            entries: vec![],
        };
        for s in sources {
            lock.insert(locked_entry(s));
        }
        lock
    }

    /// A change to the lock, as a resolution of a new source would make (without the network).
    fn add(r: &mut Resolver, source: &str) {
        r.lock.insert(locked_entry(source));
        r.changed = true;
    }

    #[test]
    fn pruning_keeps_every_use_and_any_range_a_variable_chooses() {
        let dir = tempfile::tempdir().unwrap();
        let mut lock = lock_of(&["oci://r/a", "oci://r/b", "oci://r/c"]);
        lock.insert(LockEntry {
            constraint: "^2".into(),
            ..locked_entry("oci://r/a")
        });
        lock.write(&dir.path().join(LOCK_FILE)).unwrap();
        let mut r = Resolver::open(dir.path()).unwrap();
        let uses = ChartUses {
            exact: [("oci://r/a".to_string(), "^2".to_string())].into(),
            any_range: ["oci://r/b".to_string()].into(),
        };
        r.prune(&uses).unwrap();
        let notes = r.finish().unwrap();
        assert_eq!(notes.len(), 2, "{notes:?}");
        let back = Lock::read(&dir.path().join(LOCK_FILE)).unwrap();
        let left: Vec<_> = back
            .entries
            .iter()
            .map(|e| format!("{} {}", e.source, e.constraint))
            .collect();
        assert_eq!(left, ["oci://r/a ^2", "oci://r/b ^1"]);
        // Nothing to prune: nothing written, nothing said.
        let mut r = Resolver::open(dir.path()).unwrap();
        r.prune(&uses).unwrap();
        assert!(r.finish().unwrap().is_empty());
    }

    #[test]
    fn locked_refuses_to_prune_or_add_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        lock_of(&["oci://r/a", "oci://r/b"]).write(&path).unwrap();
        let before = std::fs::read_to_string(&path).unwrap();
        let mut r = Resolver::open(dir.path()).unwrap();
        r.set_locked(true);
        let uses = ChartUses {
            exact: [("oci://r/a".to_string(), "^1".to_string())].into(),
            any_range: Default::default(),
        };
        let e = r.prune(&uses).unwrap_err();
        assert!(e.locked && e.message.contains("oci://r/b \"^1\""), "{e:?}");
        let source = ChartSource::parse("oci://r/a", None).unwrap().unwrap();
        let e = r.resolve(&source, "^2").unwrap_err();
        assert!(
            e.locked && e.message.contains("oci://r/a \"^2\" is not in charts.lock"),
            "{e:?}"
        );
        assert!(r.finish().unwrap().is_empty());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    }

    #[test]
    fn the_lock_beside_todo_toml_is_charts_lock() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Resolver::open(dir.path()).unwrap();
        add(&mut r, "oci://r/a");
        assert!(r.finish().unwrap().is_empty());
        let text = std::fs::read_to_string(dir.path().join("charts.lock")).unwrap();
        assert!(text.starts_with("# charts.lock: "), "{text}");
        assert!(!dir.path().join("todoplan.lock").exists());
    }

    #[test]
    fn an_old_todoplan_lock_is_read_and_renamed_at_the_first_write() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("todoplan.lock");
        let legacy = lock_of(&["oci://r/a"])
            .render()
            .replace("# charts.lock:", "# todoplan.lock:");
        std::fs::write(&old, &legacy).unwrap();

        // Read from there; nothing written while nothing changes.
        let r = Resolver::open(dir.path()).unwrap();
        assert!(r.lock.find("oci://r/a", "^1").is_some());
        assert!(r.finish().unwrap().is_empty());
        assert_eq!(std::fs::read_to_string(&old).unwrap(), legacy);
        assert!(!dir.path().join("charts.lock").exists());

        // The first write goes to charts.lock, keeps the old entries and removes the old file.
        let mut r = Resolver::open(dir.path()).unwrap();
        add(&mut r, "oci://r/b");
        let notes = r.finish().unwrap();
        assert_eq!(notes, ["renamed todoplan.lock to charts.lock: commit both"]);
        assert!(!old.exists());
        let back = Lock::read(&dir.path().join("charts.lock")).unwrap();
        assert_eq!(back, lock_of(&["oci://r/a", "oci://r/b"]));
    }

    #[test]
    fn a_hand_written_old_lock_without_its_header_is_still_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("todoplan.lock");
        let body = lock_of(&["oci://r/a"]).render();
        let body = body
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>();
        std::fs::write(&old, body.join("\n")).unwrap();
        let r = Resolver::open(dir.path()).unwrap();
        assert!(r.lock.find("oci://r/a", "^1").is_some());
    }

    #[test]
    fn with_both_files_charts_lock_wins_and_the_old_one_is_named_unused() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("todoplan.lock");
        let old_text = lock_of(&["oci://r/old"])
            .render()
            .replace("# charts.lock:", "# todoplan.lock:");
        std::fs::write(&old, &old_text).unwrap();
        lock_of(&["oci://r/new"])
            .write(&dir.path().join("charts.lock"))
            .unwrap();
        let r = Resolver::open(dir.path()).unwrap();
        assert!(r.lock.find("oci://r/new", "^1").is_some());
        assert!(r.lock.find("oci://r/old", "^1").is_none());
        let notes = r.finish().unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("todoplan.lock") && notes[0].contains("unused"),
            "{notes:?}"
        );
        assert_eq!(std::fs::read_to_string(&old).unwrap(), old_text);
    }

    #[test]
    fn a_state_lock_named_todoplan_lock_beside_todo_toml_is_never_touched() {
        // `[state] dir = "."` puts the state's flock file beside todo.toml under the old name:
        // empty when released, the holder's JSON while held. It is not a chart lock.
        for content in [
            "",
            "{\"id\":\"x\",\"pid\":1,\"host\":\"h\",\"command\":\"apply\",\"started_at\":\"2024-01-01T00:00:00Z\"}",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let old = dir.path().join("todoplan.lock");
            std::fs::write(&old, content).unwrap();
            let mut r = Resolver::open(dir.path()).unwrap();
            assert!(r.lock.entries.is_empty());
            add(&mut r, "oci://r/a");
            assert!(r.finish().unwrap().is_empty());
            assert_eq!(std::fs::read_to_string(&old).unwrap(), content);
            assert!(dir.path().join("charts.lock").exists());
        }
    }
}
