//! The content digest of a build context, and the tar stream sent to the engine.
//!
//! Both come from one walk: the files hashed are exactly the files sent, and the tar writer
//! re-hashes each file as it streams it, so an image can never be tagged with a digest its
//! contents do not have.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use miette::NamedSource;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::dockerignore::DockerIgnore;
use super::{ImageBuild, ImageError};

/// Changing how digests are computed must change every digest, or old tags would be trusted.
const DIGEST_VERSION: &str = "todoplan-context-v1";

/// Name of the Dockerfile inside the tar when it lives outside the context directory
/// (the Docker CLI does the same with a random name; a fixed one keeps the digest stable).
const OUTSIDE_DOCKERFILE: &str = ".todoplan.Dockerfile";

/// Files whose mtime is this close to "now" are not cached: a write in the same clock tick
/// as the hash would otherwise go unnoticed (git's "racily clean" problem).
const RACY_WINDOW_NS: i128 = 2_000_000_000;

/// What an image is made of, summarised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextDigest {
    /// sha256 (hex) over `files` and `settings`.
    pub digest: String,
    /// Every entry sent to the engine: path relative to the context (directories end in `/`)
    /// → sha256 (hex) of its kind, mode and contents (or symlink target).
    pub files: BTreeMap<String, String>,
    /// The build settings that count: `dockerfile`, `target`, `platform` as given, and
    /// `build-arg:NAME` → sha256 of the value (build args can carry tokens; the state file
    /// must not).
    pub settings: BTreeMap<String, String>,
}

impl ContextDigest {
    /// Path of the Dockerfile inside the context as sent to the engine.
    pub fn dockerfile(&self) -> &str {
        self.settings
            .get("dockerfile")
            .map_or("Dockerfile", String::as_str)
    }

    /// The first 12 hex digits: the image tag.
    pub fn short(&self) -> &str {
        self.digest.get(..12).unwrap_or(&self.digest)
    }

    /// Paths added, removed or changed since `previous`, sorted.
    pub fn changed_files(&self, previous: &ContextDigest) -> Vec<String> {
        let mut changed: Vec<String> = self
            .files
            .iter()
            .filter(|(path, digest)| previous.files.get(*path) != Some(digest))
            .map(|(path, _)| path.clone())
            .collect();
        changed.extend(
            previous
                .files
                .keys()
                .filter(|path| !self.files.contains_key(*path))
                .cloned(),
        );
        changed.sort();
        changed
    }

    /// Build settings (`target`, `build-arg:NAME`, ...) added, removed or changed since
    /// `previous`, sorted.
    pub fn changed_settings(&self, previous: &ContextDigest) -> Vec<String> {
        let mut changed: Vec<String> = self
            .settings
            .iter()
            .filter(|(key, value)| previous.settings.get(*key) != Some(value))
            .map(|(key, _)| key.clone())
            .chain(
                previous
                    .settings
                    .keys()
                    .filter(|key| !self.settings.contains_key(*key))
                    .cloned(),
            )
            .collect();
        changed.sort();
        changed.dedup();
        changed
    }
}

/// `<project>-<image>:<first 12 hex of the digest>`.
pub fn tag_for(build: &ImageBuild, digest: &ContextDigest) -> String {
    format!("{}:{}", build.repository(), digest.short())
}

/// Content hashes of files keyed by path and the metadata that would change with the
/// contents (size, mtime, ctime, inode, device). A warm cache turns hashing a large context
/// into one `lstat` per file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HashCache {
    entries: HashMap<PathBuf, CachedHash>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CachedHash {
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
    dev: u64,
    sha256: String,
}

impl CachedHash {
    fn stamp(meta: &Metadata, sha256: String) -> Self {
        Self {
            len: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
            ino: meta.ino(),
            dev: meta.dev(),
            sha256,
        }
    }

    fn same_file(&self, meta: &Metadata) -> bool {
        let now = Self::stamp(meta, String::new());
        (self.len, self.mtime_ns, self.ctime_ns, self.ino, self.dev)
            == (now.len, now.mtime_ns, now.ctime_ns, now.ino, now.dev)
    }
}

impl HashCache {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Reads a cache written by [`HashCache::save`]; a missing or unreadable file is an
    /// empty cache (it only ever saves work).
    pub fn load(path: &Path) -> Self {
        fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes the cache atomically (temp file, then rename).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer(&mut tmp, self)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// One entry the walk keeps.
#[derive(Debug)]
struct Entry {
    /// Path inside the context (tar path); directories without the trailing `/`.
    rel: String,
    abs: PathBuf,
    meta: Metadata,
}

/// The content digest of `build`'s context, hashing every file. Blocking file I/O: call it
/// from `spawn_blocking` in async code.
pub fn context_digest(build: &ImageBuild) -> Result<ContextDigest, ImageError> {
    context_digest_cached(build, &mut HashCache::default())
}

/// The content digest of `build`'s context, reusing file hashes from `cache` when a file's
/// size, mtime, ctime and inode are unchanged, and recording new ones.
pub fn context_digest_cached(
    build: &ImageBuild,
    cache: &mut HashCache,
) -> Result<ContextDigest, ImageError> {
    digest_at(build, cache, now_ns())
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// The digest as of `now_ns`, which decides which fresh hashes are too recent to cache.
fn digest_at(
    build: &ImageBuild,
    cache: &mut HashCache,
    now_ns: i128,
) -> Result<ContextDigest, ImageError> {
    check_reference_part(build, &build.project)?;
    check_reference_part(build, &build.name)?;
    let layout = Layout::of(build)?;
    let entries = layout.walk(build)?;

    let content = hash_contents(build, &entries, cache, now_ns)?;

    let mut files = BTreeMap::new();
    for (entry, content_sha) in entries.iter().zip(content) {
        let (key, value) = entry_digest(entry, content_sha.as_deref(), build)?;
        files.insert(key, value);
    }

    let mut settings = BTreeMap::new();
    settings.insert("dockerfile".to_owned(), layout.dockerfile_in_tar);
    if let Some(target) = &build.target {
        settings.insert("target".to_owned(), target.clone());
    }
    if let Some(platform) = &build.platform {
        settings.insert("platform".to_owned(), platform.clone());
    }
    for (name, value) in &build.build_args {
        settings.insert(format!("build-arg:{name}"), sha256_hex(value.as_bytes()));
    }

    let mut hasher = Sha256::new();
    hasher.update(DIGEST_VERSION.as_bytes());
    hasher.update(b"\n");
    for (path, digest) in &files {
        // Paths cannot hold NUL, so "path NUL digest" lines cannot be confused.
        hasher.update(path.as_bytes());
        hasher.update(b"\0");
        hasher.update(digest.as_bytes());
        hasher.update(b"\n");
    }
    hasher.update(b"settings\n");
    for (key, value) in &settings {
        hasher.update(key.as_bytes());
        hasher.update(b"\0");
        hasher.update(value.as_bytes());
        hasher.update(b"\n");
    }
    Ok(ContextDigest {
        digest: hex::encode(hasher.finalize()),
        files,
        settings,
    })
}

/// Docker's rule for a repository path component; checked here because the tag is built
/// from these names and the engine's refusal would come only at build time.
fn check_reference_part(build: &ImageBuild, value: &str) -> Result<(), ImageError> {
    let valid = !value.is_empty()
        && value.len() <= 128
        && value.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
        && value
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && value
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && !value.contains("..")
        && !value.contains("._")
        && !value.contains("_.")
        && !value.contains("___");
    if valid {
        Ok(())
    } else {
        Err(ImageError::InvalidName {
            image: build.name.clone(),
            value: value.to_owned(),
        })
    }
}

/// Where the context and the Dockerfile are, and the ignore rules that apply.
struct Layout {
    root: PathBuf,
    ignore: DockerIgnore,
    dockerfile_in_tar: String,
    dockerfile_abs: PathBuf,
}

impl Layout {
    fn of(build: &ImageBuild) -> Result<Self, ImageError> {
        if !build.context.is_dir() {
            return Err(ImageError::ContextMissing {
                image: build.name.clone(),
                path: build.context.clone(),
            });
        }
        if !build.dockerfile.is_file() {
            return Err(ImageError::DockerfileMissing {
                image: build.name.clone(),
                path: build.dockerfile.clone(),
            });
        }
        let root =
            fs::canonicalize(&build.context).map_err(|e| io_error(build, &build.context, e))?;
        let dockerfile_abs = fs::canonicalize(&build.dockerfile)
            .map_err(|e| io_error(build, &build.dockerfile, e))?;
        let dockerfile_in_tar = match dockerfile_abs.strip_prefix(&root) {
            Ok(rel) => rel
                .to_str()
                .ok_or_else(|| ImageError::NonUtf8Path {
                    image: build.name.clone(),
                    path: dockerfile_abs.clone(),
                })?
                .to_owned(),
            Err(_) => OUTSIDE_DOCKERFILE.to_owned(),
        };

        let ignore_path = root.join(".dockerignore");
        let mut ignore = match fs::read(&ignore_path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                DockerIgnore::parse(&text).map_err(|e| ImageError::BadIgnorePattern {
                    image: build.name.clone(),
                    reason: e.to_string(),
                    src: Arc::new(NamedSource::new(
                        ignore_path.display().to_string(),
                        text.clone(),
                    )),
                    span: (e.offset, e.len).into(),
                })?
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => DockerIgnore::default(),
            Err(e) => return Err(io_error(build, &ignore_path, e)),
        };
        // The engine always receives these two, whatever the patterns say.
        ignore.keep(".dockerignore");
        if dockerfile_in_tar != OUTSIDE_DOCKERFILE {
            ignore.keep(&dockerfile_in_tar);
        }
        Ok(Self {
            root,
            ignore,
            dockerfile_in_tar,
            dockerfile_abs,
        })
    }

    fn walk(&self, build: &ImageBuild) -> Result<Vec<Entry>, ImageError> {
        let mut entries = Vec::new();
        self.walk_dir(build, &self.root, "", &mut entries)?;
        if self.dockerfile_in_tar == OUTSIDE_DOCKERFILE {
            let meta = fs::metadata(&self.dockerfile_abs)
                .map_err(|e| io_error(build, &self.dockerfile_abs, e))?;
            entries.push(Entry {
                rel: OUTSIDE_DOCKERFILE.to_owned(),
                abs: self.dockerfile_abs.clone(),
                meta,
            });
        }
        Ok(entries)
    }

    fn walk_dir(
        &self,
        build: &ImageBuild,
        dir: &Path,
        rel_dir: &str,
        out: &mut Vec<Entry>,
    ) -> Result<(), ImageError> {
        let mut children: Vec<(String, PathBuf)> = Vec::new();
        for child in fs::read_dir(dir).map_err(|e| io_error(build, dir, e))? {
            let child = child.map_err(|e| io_error(build, dir, e))?;
            let abs = child.path();
            let name = child
                .file_name()
                .to_str()
                .ok_or_else(|| ImageError::NonUtf8Path {
                    image: build.name.clone(),
                    path: abs.clone(),
                })?
                .to_owned();
            children.push((name, abs));
        }
        // Byte order, as Go's filepath.Walk visits them.
        children.sort();
        for (name, abs) in children {
            let rel = if rel_dir.is_empty() {
                name
            } else {
                format!("{rel_dir}/{name}")
            };
            let meta = fs::symlink_metadata(&abs).map_err(|e| io_error(build, &abs, e))?;
            let file_type = meta.file_type();
            // An outside Dockerfile takes this name in the tar; a context file of the same
            // name would be overwritten by it anyway.
            let shadowed =
                rel == OUTSIDE_DOCKERFILE && self.dockerfile_in_tar == OUTSIDE_DOCKERFILE;
            if shadowed || self.ignore.is_excluded(&rel) {
                if file_type.is_dir() && self.ignore.may_reinclude_under(&rel) {
                    self.walk_dir(build, &abs, &rel, out)?;
                }
                continue;
            }
            if file_type.is_dir() {
                out.push(Entry {
                    rel: rel.clone(),
                    abs: abs.clone(),
                    meta,
                });
                self.walk_dir(build, &abs, &rel, out)?;
            } else if file_type.is_file() || file_type.is_symlink() {
                out.push(Entry { rel, abs, meta });
            }
            // Sockets, FIFOs and devices carry no content a COPY could use; skipped.
        }
        Ok(())
    }
}

/// sha256 of every regular file's contents (None for directories and symlinks), in parallel,
/// reusing and refreshing `cache`.
fn hash_contents(
    build: &ImageBuild,
    entries: &[Entry],
    cache: &mut HashCache,
    now_ns: i128,
) -> Result<Vec<Option<String>>, ImageError> {
    let mut results: Vec<Option<String>> = vec![None; entries.len()];
    let mut todo: Vec<usize> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        if !entry.meta.file_type().is_file() {
            continue;
        }
        match cache.entries.get(&entry.abs) {
            Some(hit) if hit.same_file(&entry.meta) => results[index] = Some(hit.sha256.clone()),
            _ => todo.push(index),
        }
    }

    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .min(todo.len().div_ceil(64))
        .max(1);
    let next = AtomicUsize::new(0);
    let hashed: Mutex<Vec<(usize, Result<String, io::Error>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut local = Vec::new();
                let mut buffer = vec![0u8; 64 * 1024];
                loop {
                    let slot = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&index) = todo.get(slot) else { break };
                    local.push((index, hash_file(&entries[index].abs, &mut buffer)));
                }
                if let Ok(mut all) = hashed.lock() {
                    all.extend(local);
                }
            });
        }
    });
    let hashed = hashed
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for (index, result) in hashed {
        let entry = &entries[index];
        let sha = result.map_err(|e| io_error(build, &entry.abs, e))?;
        let stamp = CachedHash::stamp(&entry.meta, sha.clone());
        if now_ns - stamp.mtime_ns > RACY_WINDOW_NS && now_ns - stamp.ctime_ns > RACY_WINDOW_NS {
            cache.entries.insert(entry.abs.clone(), stamp);
        } else {
            cache.entries.remove(&entry.abs);
        }
        results[index] = Some(sha);
    }
    Ok(results)
}

fn hash_file(path: &Path, buffer: &mut [u8]) -> Result<String, io::Error> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    loop {
        let n = file.read(buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

pub(crate) fn io_error(build: &ImageBuild, path: &Path, source: io::Error) -> ImageError {
    ImageError::Io {
        image: build.name.clone(),
        path: path.to_owned(),
        source,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Permission bits plus setuid/setgid/sticky: what a tar header carries and COPY keeps.
fn mode_of(meta: &Metadata) -> u32 {
    meta.mode() & 0o7777
}

/// The `files` map entry of one walked entry: its key and its digest.
fn entry_digest(
    entry: &Entry,
    content_sha: Option<&str>,
    build: &ImageBuild,
) -> Result<(String, String), ImageError> {
    let mode = mode_of(&entry.meta);
    let file_type = entry.meta.file_type();
    if file_type.is_dir() {
        Ok((
            format!("{}/", entry.rel),
            sha256_hex(format!("dir {mode:o}").as_bytes()),
        ))
    } else if file_type.is_symlink() {
        let target = fs::read_link(&entry.abs).map_err(|e| io_error(build, &entry.abs, e))?;
        let mut text = b"symlink ".to_vec();
        text.extend_from_slice(target.as_os_str().as_bytes());
        Ok((entry.rel.clone(), sha256_hex(&text)))
    } else {
        let content = content_sha.unwrap_or_default();
        Ok((
            entry.rel.clone(),
            sha256_hex(format!("file {mode:o} {content}").as_bytes()),
        ))
    }
}

/// Writes the context as a tar stream to `out`: exactly the entries of `digest`, each
/// re-hashed as it is read, so a file edited since the plan fails the build instead of
/// producing an image whose tag lies about its contents.
pub(crate) fn write_context_tar<W: Write>(
    build: &ImageBuild,
    digest: &ContextDigest,
    out: W,
) -> Result<W, ImageError> {
    let layout = Layout::of(build)?;
    let changed = |path: &str| ImageError::ContextChanged {
        image: build.name.clone(),
        path: path.to_owned(),
    };
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.follow_symlinks(false);
    for (key, expected) in &digest.files {
        let (rel, is_dir_key) = match key.strip_suffix('/') {
            Some(dir) => (dir, true),
            None => (key.as_str(), false),
        };
        let abs = if rel == OUTSIDE_DOCKERFILE && layout.dockerfile_in_tar == OUTSIDE_DOCKERFILE {
            layout.dockerfile_abs.clone()
        } else {
            layout.root.join(rel)
        };
        let meta = fs::symlink_metadata(&abs).map_err(|_| changed(key))?;
        let entry = Entry {
            rel: rel.to_owned(),
            abs: abs.clone(),
            meta,
        };
        let mode = mode_of(&entry.meta);
        let mut header = tar::Header::new_gnu();
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        let file_type = entry.meta.file_type();
        if is_dir_key != file_type.is_dir() {
            return Err(changed(key));
        }
        if file_type.is_dir() {
            if entry_digest(&entry, None, build)?.1 != *expected {
                return Err(changed(key));
            }
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            tar.append_data(&mut header, format!("{rel}/"), io::empty())
                .map_err(|e| io_error(build, &abs, e))?;
        } else if file_type.is_symlink() {
            if entry_digest(&entry, None, build)?.1 != *expected {
                return Err(changed(key));
            }
            let target = fs::read_link(&abs).map_err(|e| io_error(build, &abs, e))?;
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            tar.append_link(&mut header, rel, &target)
                .map_err(|e| io_error(build, &abs, e))?;
        } else {
            let content = fs::read(&abs).map_err(|e| io_error(build, &abs, e))?;
            let content_sha = sha256_hex(&content);
            if entry_digest(&entry, Some(&content_sha), build)?.1 != *expected {
                return Err(changed(key));
            }
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(content.len() as u64);
            tar.append_data(&mut header, rel, content.as_slice())
                .map_err(|e| io_error(build, &abs, e))?;
        }
    }
    tar.into_inner()
        .map_err(|e| io_error(build, &layout.root, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(root: &Path, rel: &str, content: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    fn fixture() -> (tempfile::TempDir, ImageBuild) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "Dockerfile", "FROM busybox:1.35.0\nCOPY www /www\n");
        write(root, ".dockerignore", "*.md\ntests/\n");
        write(root, "www/health", "ok\n");
        write(root, "www/index.html", "<h1>hi</h1>\n");
        write(root, "README.md", "docs\n");
        write(root, "tests/smoke.sh", "#!/bin/sh\n");
        let build = ImageBuild {
            project: "todo".into(),
            name: "backend".into(),
            context: root.to_owned(),
            dockerfile: root.join("Dockerfile"),
            build_args: Default::default(),
            target: None,
            platform: None,
        };
        (dir, build)
    }

    fn digest(build: &ImageBuild) -> ContextDigest {
        context_digest(build).expect("digest")
    }

    #[test]
    fn digest_is_stable_and_lists_kept_files_only() {
        let (_dir, build) = fixture();
        let a = digest(&build);
        let b = digest(&build);
        assert_eq!(a, b);
        assert_eq!(a.digest.len(), 64);
        let keys: Vec<&str> = a.files.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                ".dockerignore",
                "Dockerfile",
                "www/",
                "www/health",
                "www/index.html"
            ]
        );
        assert_eq!(
            tag_for(&build, &a),
            format!("todo-backend:{}", &a.digest[..12])
        );
    }

    #[test]
    fn content_change_changes_digest_and_names_the_file() {
        let (dir, build) = fixture();
        let before = digest(&build);
        write(dir.path(), "www/health", "OK\n");
        let after = digest(&build);
        assert_ne!(before.digest, after.digest);
        assert_eq!(after.changed_files(&before), ["www/health"]);
    }

    #[test]
    fn ignored_file_change_keeps_digest() {
        let (dir, build) = fixture();
        let before = digest(&build);
        write(dir.path(), "README.md", "edited docs\n");
        write(dir.path(), "tests/new_test.sh", "echo\n");
        assert_eq!(digest(&build), before);
    }

    #[test]
    fn mode_change_changes_digest() {
        let (dir, build) = fixture();
        let before = digest(&build);
        let path = dir.path().join("www/health");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        let after = digest(&build);
        assert_ne!(before.digest, after.digest);
        assert_eq!(after.changed_files(&before), ["www/health"]);
    }

    #[test]
    fn rename_changes_digest_and_names_both_paths() {
        let (dir, build) = fixture();
        let before = digest(&build);
        fs::rename(
            dir.path().join("www/health"),
            dir.path().join("www/healthz"),
        )
        .unwrap();
        let after = digest(&build);
        assert_ne!(before.digest, after.digest);
        assert_eq!(after.changed_files(&before), ["www/health", "www/healthz"]);
    }

    #[test]
    fn build_settings_change_digest_without_storing_arg_values() {
        let (_dir, mut build) = fixture();
        let plain = digest(&build);
        build.build_args.insert("VERSION".into(), "1.2.3".into());
        let with_arg = digest(&build);
        assert_ne!(plain.digest, with_arg.digest);
        assert_eq!(with_arg.changed_settings(&plain), ["build-arg:VERSION"]);
        let stored = &with_arg.settings["build-arg:VERSION"];
        assert_ne!(stored, "1.2.3", "arg values are stored hashed");
        build.build_args.insert("VERSION".into(), "1.2.4".into());
        assert_ne!(digest(&build).digest, with_arg.digest);

        build.target = Some("runtime".into());
        let with_target = digest(&build);
        build.platform = Some("linux/arm64".into());
        let with_platform = digest(&build);
        assert_ne!(with_target.digest, with_platform.digest);
        assert_eq!(with_platform.changed_settings(&with_target), ["platform"]);
    }

    #[test]
    fn dockerfile_and_dockerignore_count_even_when_ignored() {
        let (dir, build) = fixture();
        write(
            dir.path(),
            ".dockerignore",
            "Dockerfile\n.dockerignore\n*.md\n",
        );
        let before = digest(&build);
        assert!(before.files.contains_key("Dockerfile"));
        assert!(before.files.contains_key(".dockerignore"));
        write(
            dir.path(),
            "Dockerfile",
            "FROM busybox:1.35.0\nCOPY www /srv\n",
        );
        let after = digest(&build);
        assert_eq!(after.changed_files(&before), ["Dockerfile"]);
    }

    #[test]
    fn dockerfile_outside_context_is_sent_under_a_fixed_name() {
        let (dir, mut build) = fixture();
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "Dockerfile.prod", "FROM busybox:1.35.0\n");
        build.dockerfile = outside.path().join("Dockerfile.prod");
        let d = digest(&build);
        assert_eq!(d.dockerfile(), OUTSIDE_DOCKERFILE);
        assert!(d.files.contains_key(OUTSIDE_DOCKERFILE));
        write(outside.path(), "Dockerfile.prod", "FROM busybox:1.36.0\n");
        assert_ne!(digest(&build).digest, d.digest);
        drop(dir);
    }

    #[test]
    fn symlinks_are_hashed_by_target_not_followed() {
        let (dir, build) = fixture();
        std::os::unix::fs::symlink("health", dir.path().join("www/alive")).unwrap();
        let before = digest(&build);
        assert!(before.files.contains_key("www/alive"));
        fs::remove_file(dir.path().join("www/alive")).unwrap();
        std::os::unix::fs::symlink("index.html", dir.path().join("www/alive")).unwrap();
        let after = digest(&build);
        assert_eq!(after.changed_files(&before), ["www/alive"]);
    }

    #[test]
    fn reincluded_file_under_ignored_directory_is_hashed() {
        let (dir, build) = fixture();
        write(dir.path(), ".dockerignore", "tests\n!tests/fixture.json\n");
        write(dir.path(), "tests/fixture.json", "{}\n");
        let d = digest(&build);
        assert!(d.files.contains_key("tests/fixture.json"));
        assert!(!d.files.contains_key("tests/smoke.sh"));
        assert!(
            !d.files.contains_key("tests/"),
            "the excluded directory itself is not sent"
        );
    }

    #[test]
    fn fresh_files_are_not_cached_because_a_same_tick_write_could_hide() {
        let (_dir, build) = fixture();
        let mut cache = HashCache::default();
        context_digest_cached(&build, &mut cache).unwrap();
        assert!(
            cache.is_empty(),
            "files written just now are inside the racy window"
        );
    }

    #[test]
    fn warm_cache_reuses_hashes_and_still_sees_changes() {
        let (dir, build) = fixture();
        let mut cache = HashCache::default();
        let later = now_ns() + 3_600 * 1_000_000_000;
        let cold = digest_at(&build, &mut cache, later).unwrap();
        assert_eq!(cache.len(), 4, "four regular files kept");
        assert_eq!(digest_at(&build, &mut cache, later).unwrap(), cold);

        // Prove hits are used: a poisoned entry changes the result...
        let health = fs::canonicalize(dir.path().join("www/health")).unwrap();
        cache.entries.get_mut(&health).unwrap().sha256 = "0".repeat(64);
        let poisoned = digest_at(&build, &mut cache, later).unwrap();
        assert_eq!(poisoned.changed_files(&cold), ["www/health"]);

        // ...and a real edit (new size, mtime, ctime) is never served from the cache.
        write(dir.path(), "www/health", "healthy\n");
        let edited = digest_at(&build, &mut cache, later).unwrap();
        assert_eq!(edited.changed_files(&cold), ["www/health"]);
        assert_ne!(edited.digest, poisoned.digest);
        assert_eq!(edited, context_digest(&build).unwrap());
    }

    #[test]
    fn cache_survives_save_and_load() {
        let (dir, build) = fixture();
        let mut cache = HashCache::default();
        let later = now_ns() + 3_600 * 1_000_000_000;
        digest_at(&build, &mut cache, later).unwrap();
        let path = dir.path().join("state/hash-cache.json");
        cache.save(&path).unwrap();
        let loaded = HashCache::load(&path);
        assert_eq!(loaded.len(), cache.len());
        assert!(HashCache::load(&dir.path().join("missing.json")).is_empty());
    }

    #[test]
    fn bad_dockerignore_is_a_diagnostic_pointing_at_the_line() {
        let (dir, build) = fixture();
        write(dir.path(), ".dockerignore", "*.md\n[oops\n");
        let err = context_digest(&build).unwrap_err();
        match err {
            ImageError::BadIgnorePattern { span, .. } => {
                assert_eq!((span.offset(), span.len()), (5, 5));
            }
            other => panic!("unexpected error: {other:?}"),
        }
    }

    #[test]
    fn missing_context_and_bad_names_are_diagnostics() {
        let (_dir, mut build) = fixture();
        build.name = "Backend".into();
        assert!(matches!(
            context_digest(&build),
            Err(ImageError::InvalidName { .. })
        ));
        build.name = "backend".into();
        build.context = build.context.join("nope");
        assert!(matches!(
            context_digest(&build),
            Err(ImageError::ContextMissing { .. })
        ));
    }

    #[test]
    fn tar_holds_exactly_the_hashed_entries() {
        let (_dir, build) = fixture();
        let d = digest(&build);
        let bytes = write_context_tar(&build, &d, Vec::new()).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut paths: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        paths.sort();
        let mut expected: Vec<String> = d.files.keys().cloned().collect();
        expected.sort();
        assert_eq!(paths, expected);
    }

    #[test]
    fn tar_refuses_a_file_changed_after_hashing() {
        let (dir, build) = fixture();
        let d = digest(&build);
        write(dir.path(), "www/health", "changed\n");
        let err = write_context_tar(&build, &d, Vec::new()).unwrap_err();
        assert!(matches!(err, ImageError::ContextChanged { ref path, .. } if path == "www/health"));
    }
}
