//! Loading a chart directory: Chart.yaml, values.yaml, values.schema.json, templates/, the
//! other files (`.Files`), `.helmignore`, and subcharts under charts/.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::Deserialize;

use super::error::ChartError;
use super::objects::Files;
use super::template::Value;
use super::template::yaml::from_yaml;

/// One declared dependency as helm's `*chart.Dependency` holds it. Helm's loader reads each
/// declaration once per loaded chart, and every copy of that chart (one per alias it is used
/// under) shares it: chartutil.ProcessDependencies renames it to its alias, sets `Enabled` and
/// rewrites `ImportValues` in place, and a template's `.Chart.Dependencies` shows what that
/// left. So declarations live behind [`Decl`], shared by the copies as Go shares the pointer.
#[derive(Debug, Clone, Default)]
pub struct Dependency {
    /// The chart's name; its alias once helm processed the declaration.
    pub name: String,
    /// A version range ("" when absent).
    pub version: String,
    pub repository: String,
    pub condition: String,
    pub tags: Vec<String>,
    /// Whether helm keeps the chart: true for every declaration it processed, then decided by
    /// tags and condition; as Chart.yaml says (false when absent) for one it never processed.
    pub enabled: bool,
    pub import_values: Vec<ImportValue>,
    pub alias: String,
}

/// An entry of `import-values`.
#[derive(Debug, Clone)]
pub enum ImportValue {
    /// `- data`: the child's table `exports.data`, merged into the parent's top level.
    Name(String),
    /// `- {child: ..., parent: ...}` as written (a Go `map[string]interface {}`).
    Map(Value),
    /// What helm rewrites either form into (a Go `map[string]string`).
    Resolved { child: String, parent: String },
    /// An entry of another type, which helm skips and drops.
    Other(Value),
}

/// A declaration shared by the copies of its chart (Go's `*chart.Dependency`).
pub type Decl = Rc<RefCell<Dependency>>;

/// A chart with identity, as helm's `*chart.Chart`: a subchart that no declaration takes is
/// the same object in every copy of its parent, and helm processes and renders it in place.
pub type ChartRef = Rc<RefCell<Chart>>;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ChartYaml {
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: Option<serde_yaml_ng::Value>,
    #[serde(default, rename = "type")]
    pub chart_type: Option<String>,
}

impl ChartYaml {
    /// `version` as text ("" when absent).
    pub fn version_text(&self) -> String {
        match &self.version {
            None | Some(serde_yaml_ng::Value::Null) => "".to_string(),
            Some(serde_yaml_ng::Value::String(v)) => v.clone(),
            Some(serde_yaml_ng::Value::Number(n)) => n.to_string(),
            Some(serde_yaml_ng::Value::Bool(b)) => b.to_string(),
            Some(_) => "?".to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Chart {
    /// The chart's name as its parent sees it (alias applied): helm's `Metadata.Name`.
    pub name: String,
    pub dir: PathBuf,
    pub meta: ChartYaml,
    /// Chart.yaml as the `.Chart` object (Go field names), but for `Dependencies`.
    pub chart_object: BTreeMap<String, Value>,
    /// `Metadata.Dependencies` of this copy of the chart (None: Go's nil, no `dependencies`
    /// declared or none left enabled), shared declarations as helm shares them.
    pub decls: Option<Vec<Decl>>,
    pub values: BTreeMap<String, Value>,
    pub schema: Option<(String, serde_json::Value)>,
    /// (path relative to the chart root, e.g. "templates/deployment.yaml", text)
    pub templates: Rc<Vec<(String, String)>>,
    pub files: Files,
    /// The subcharts: after loading, every chart under charts/ (helm's `Dependencies()`);
    /// after `values::process_dependencies`, the enabled ones under the names their
    /// declarations give them.
    pub dependencies: Vec<ChartRef>,
    /// The chart whose subchart this is (None for the root): the last that took it, as
    /// helm's `SetDependencies` leaves it. Its templates render under that parent's path.
    pub parent: Option<std::rc::Weak<RefCell<Chart>>>,
}

impl Chart {
    pub fn is_library(&self) -> bool {
        self.meta.chart_type.as_deref() == Some("library")
    }

    /// The subcharts as the declarations name them before any is switched off: those no
    /// declaration takes under their own names, then, per declaration, the first chart it
    /// takes under its alias (a chart a declaration names but charts/ lacks is left out).
    pub fn declared_subcharts(&self) -> Vec<(String, ChartRef)> {
        let decls: Vec<Dependency> = self
            .decls
            .iter()
            .flatten()
            .map(|d| d.borrow().clone())
            .collect();
        let mut out = Vec::new();
        for c in &self.dependencies {
            if !decls.iter().any(|d| takes(d, &c.borrow())) {
                out.push((c.borrow().name.clone(), c.clone()));
            }
        }
        for d in &decls {
            if let Some(c) = self.dependencies.iter().find(|c| takes(d, &c.borrow())) {
                let name = if d.alias.is_empty() {
                    d.name.clone()
                } else {
                    d.alias.clone()
                };
                out.push((name, c.clone()));
            }
        }
        out
    }

    /// helm's `ChartFullPath`: the names from the root down, joined by `/charts/`.
    pub fn full_path(&self) -> String {
        match self.parent.as_ref().and_then(|p| p.upgrade()) {
            Some(p) => format!("{}/charts/{}", p.borrow().full_path(), self.name),
            None => self.name.clone(),
        }
    }
}

/// Make `c` the parent of each of its subcharts, recursively (helm's `AddDependency`).
pub fn link_parents(c: &ChartRef) {
    let deps = c.borrow().dependencies.clone();
    for d in &deps {
        d.borrow_mut().parent = Some(Rc::downgrade(c));
        link_parents(d);
    }
}

/// `v` with its maps' bool and number keys as strings (their text is read again, as
/// sigs.k8s.io/yaml writes it, by `load_as_strings` wherever it is shown).
fn string_keys(v: serde_yaml_ng::Value) -> serde_yaml_ng::Value {
    use serde_yaml_ng::Value as Y;
    match v {
        Y::Mapping(m) => Y::Mapping(
            m.into_iter()
                .map(|(k, v)| {
                    let k = match k {
                        Y::Bool(b) => Y::String(b.to_string()),
                        Y::Number(n) => Y::String(n.to_string()),
                        k => k,
                    };
                    (k, string_keys(v))
                })
                .collect(),
        ),
        Y::Sequence(items) => Y::Sequence(items.into_iter().map(string_keys).collect()),
        Y::Tagged(t) => Y::Tagged(Box::new(serde_yaml_ng::value::TaggedValue {
            tag: t.tag,
            value: string_keys(t.value),
        })),
        v => v,
    }
}

/// Chart.yaml keys as Go's chart.Metadata fields, with the zero values Go would show.
fn chart_object(raw: &serde_yaml_ng::Value, text: &str) -> BTreeMap<String, Value> {
    // helm reads Chart.yaml with sigs.k8s.io/yaml into chart.Metadata: its string fields get
    // YAML 1.1 scalars converted to text (`keywords: [y]` is "true"), see load_as_strings
    let strings = super::template::yaml_load::load_as_strings(text)
        .ok()
        .and_then(|v| v.as_map());
    let as_string = |v: Value| match v {
        Value::Nil => Value::str(""),
        v => v,
    };
    let string_field = |k: &str| -> Option<Value> {
        let v = strings.as_ref()?.borrow().get(k).cloned()?;
        Some(match v {
            Value::List(l) => Value::list(l.iter().cloned().map(as_string).collect()),
            Value::Map(m) => {
                let m = m.borrow();
                let fields = m.iter().map(|(k, v)| {
                    let v = match v {
                        Value::Map(_) | Value::List(_) => v.clone(),
                        v => as_string(v.clone()),
                    };
                    (k.clone(), v)
                });
                Value::map(fields.collect())
            }
            v => v,
        })
    };
    let names = [
        ("name", "Name"),
        ("home", "Home"),
        ("version", "Version"),
        ("description", "Description"),
        ("icon", "Icon"),
        ("apiVersion", "APIVersion"),
        ("condition", "Condition"),
        ("tags", "Tags"),
        ("appVersion", "AppVersion"),
        ("kubeVersion", "KubeVersion"),
        ("type", "Type"),
    ];
    let mut out = BTreeMap::new();
    let get = |k: &str| raw.get(k).map(from_yaml);
    for (yk, gk) in names {
        let v = match string_field(yk).or_else(|| get(yk)) {
            Some(Value::Nil) | None => Value::str(""),
            Some(Value::Float(f)) => Value::string(super::template::value::format_float_g(f)),
            Some(v) => v,
        };
        out.insert(gk.to_string(), v);
    }
    for (yk, gk) in [("sources", "Sources"), ("keywords", "Keywords")] {
        let v = string_field(yk).or_else(|| get(yk));
        out.insert(gk.to_string(), v.unwrap_or(Value::Nil));
    }
    // Metadata.Validate: these strings sanitized (white space a space, unprintables gone)
    for gk in [
        "Name",
        "Description",
        "Home",
        "Icon",
        "Condition",
        "Tags",
        "AppVersion",
        "KubeVersion",
    ] {
        if let Some(Value::Str(s)) = out.get(gk) {
            let clean = sanitize(s);
            out.insert(gk.to_string(), Value::string(clean));
        }
    }
    for gk in ["Sources", "Keywords"] {
        if let Some(Value::List(l)) = out.get(gk) {
            let clean = l
                .iter()
                .map(|v| match v {
                    Value::Str(s) => Value::string(sanitize(s)),
                    v => v.clone(),
                })
                .collect();
            out.insert(gk.to_string(), Value::list(clean));
        }
    }
    // a maintainer's fields are strings, its list holds maps
    let maintainers = match string_field("maintainers") {
        Some(Value::List(l)) => Some(Value::list(
            l.iter()
                .map(|m| match m.as_map() {
                    Some(m) => {
                        let m = m.borrow();
                        Value::map(
                            m.iter()
                                .map(|(k, v)| {
                                    // Maintainer.Validate sanitizes its strings
                                    let v = match as_string(v.clone()) {
                                        Value::Str(s)
                                            if matches!(k.as_str(), "name" | "email" | "url") =>
                                        {
                                            Value::string(sanitize(&s))
                                        }
                                        v => v,
                                    };
                                    (k.clone(), v)
                                })
                                .collect(),
                        )
                    }
                    None => m.clone(),
                })
                .collect(),
        )),
        _ => get("maintainers"),
    };
    out.insert("Maintainers".into(), maintainers.unwrap_or(Value::Nil));
    out.insert(
        "Annotations".to_string(),
        string_field("annotations")
            .or_else(|| get("annotations"))
            .unwrap_or(Value::Nil),
    );
    out.insert(
        "Deprecated".to_string(),
        get("deprecated").unwrap_or(Value::Bool(false)),
    );
    out
}

/// A chart file by its path relative to the chart root, as helm's loader buffers it.
struct BufferedFile {
    name: String,
    data: Vec<u8>,
    /// The capacity Go's reader left the bytes in helm (`slice` reaches it).
    cap: usize,
}

/// `os.ReadFile`'s capacity for a file of `len` bytes (helm's directory loader): the size
/// plus one, at least 512.
fn read_file_capacity(len: usize) -> usize {
    (len + 1).max(512)
}

/// The capacity `bytes.Buffer` grows to reading `len` bytes from a chart archive (helm's
/// `io.Copy` into one): 512 at first, doubled while full, each read filling it (a read the
/// gzip stream splits can end otherwise).
fn archive_read_capacity(len: usize) -> usize {
    let mut cap = 512;
    while cap < len {
        cap *= 2;
    }
    cap
}

/// helm's loader limits: one file, and a whole (unpacked) chart.
const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;
const MAX_CHART_SIZE: u64 = 100 * 1024 * 1024;

/// Load the chart at `dir` with its subcharts (directories or packaged `.tgz` under charts/).
/// helm's chart.Metadata.Validate (which its loader runs on every chart and subchart), with its
/// words: name and version are required, the name is a single path element, the version is a
/// semantic version.
fn validate_metadata(meta: &ChartYaml, decls: &[Decl]) -> Result<(), ChartError> {
    let refuse = |message: String, help: &str| ChartError::Refused {
        message: format!("validation: {message}"),
        help: help.to_string(),
    };
    let name = meta.name.as_str();
    if name.is_empty() {
        return Err(refuse(
            "chart.metadata.name is required".into(),
            "add `name: mychart` to Chart.yaml",
        ));
    }
    // Go's filepath.Base(name) == name exactly when the name holds no `/` (or is "/").
    if name.contains('/') && name != "/" {
        return Err(refuse(
            format!("chart.metadata.name {name:?} is invalid"),
            "a chart's name is one path element, without `/`",
        ));
    }
    let version = meta.version_text();
    if version.is_empty() {
        return Err(refuse(
            "chart.metadata.version is required".into(),
            "add `version: 0.1.0` to Chart.yaml",
        ));
    }
    if crate::template::funcs::parse_version(&version).is_none() {
        return Err(refuse(
            format!("chart.metadata.version {version:?} is invalid"),
            "give Chart.yaml a semantic version, like 0.1.0",
        ));
    }
    // Dependency.Validate: sanitized strings, an alias of letters, digits, `_` and `-`, and
    // no two declarations under one name
    let mut seen = std::collections::HashSet::new();
    for d in decls {
        let mut d = d.borrow_mut();
        let d = &mut *d;
        for s in [
            &mut d.name,
            &mut d.version,
            &mut d.repository,
            &mut d.condition,
        ] {
            *s = sanitize(s);
        }
        for t in &mut d.tags {
            *t = sanitize(t);
        }
        if !d.alias.is_empty()
            && !d
                .alias
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(refuse(
                format!(
                    "dependency {:?} has disallowed characters in the alias",
                    d.name
                ),
                "an alias holds only letters, digits, `_` and `-`",
            ));
        }
        let key = if d.alias.is_empty() {
            &d.name
        } else {
            &d.alias
        };
        if !seen.insert(key.clone()) {
            return Err(refuse(
                format!("more than one dependency with name or alias {key:?}"),
                "give each use of a chart its own alias",
            ));
        }
    }
    Ok(())
}

/// helm's sanitizeString: white space becomes a space, other unprintable characters go.
fn sanitize(s: &str) -> String {
    if s.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return s.to_string();
    }
    super::template::value::go_runes(s)
        .filter_map(|r| {
            let c = r.rune();
            if c.is_whitespace() {
                // unicode.IsSpace is Unicode's White_Space, as char::is_whitespace
                Some(' ')
            } else if matches!(
                super::template::go_unicode::category(c).as_bytes()[0],
                b'L' | b'M' | b'N' | b'P' | b'S'
            ) {
                // unicode.IsPrint: letters, marks, numbers, punctuation, symbols
                Some(c)
            } else {
                None
            }
        })
        .collect()
}

/// helm's chartutil.ValidateReleaseName: at most 53 characters, dot-separated DNS labels.
pub fn validate_release_name(name: &str) -> Result<(), ChartError> {
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty()
            && edge(b[0])
            && edge(b[b.len() - 1])
            && b.iter().all(|&c| edge(c) || c == b'-')
    };
    if name.is_empty() {
        return Err(ChartError::Refused {
            message: "release name \"\": no name provided".into(),
            help: "give the release a name".into(),
        });
    }
    if name.len() > 53 || !name.split('.').all(label_ok) {
        return Err(ChartError::Refused {
            message: format!(
                "release name {name:?}: invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53"
            ),
            help: "release names are lower-case DNS labels joined by dots, at most 53 characters"
                .into(),
        });
    }
    Ok(())
}

/// Load the chart at `dir` (a directory or a `.tgz`) with its subcharts, and check, as `helm
/// template` does for the chart it renders, that charts/ holds every declared dependency.
pub fn load_chart(dir: &Path) -> Result<Chart, ChartError> {
    let chart = load_unchecked(dir)?;
    check_dependencies(&chart)?;
    Ok(chart)
}

fn load_unchecked(dir: &Path) -> Result<Chart, ChartError> {
    if dir.is_file() && dir.extension().is_some_and(|e| e == "tgz") {
        return load_package_unchecked(dir);
    }
    if !dir.join("Chart.yaml").is_file() {
        return Err(ChartError::Invalid {
            chart: dir.display().to_string(),
            message: "Chart.yaml file is missing".into(),
            help: "a chart is a directory holding Chart.yaml, values.yaml and templates/".into(),
        });
    }
    let files = read_chart_dir(dir)?;
    load_files(dir, files)
}

/// A packaged chart (`.tgz`); one in the chart cache must match the digest its name gives,
/// checked on every load.
pub fn load_package(path: &Path) -> Result<Chart, ChartError> {
    let chart = load_package_unchecked(path)?;
    check_dependencies(&chart)?;
    Ok(chart)
}

fn load_package_unchecked(path: &Path) -> Result<Chart, ChartError> {
    let bytes = super::source::read_capped(path).map_err(|e| ChartError::io(path, &e))?;
    if let Some(promised) = super::source::promised_digest(path) {
        let actual = super::source::digest_of(&bytes);
        if actual != promised {
            return Err(ChartError::Invalid {
                chart: path.display().to_string(),
                message: format!(
                    "the cached package has digest {actual}, not the {promised} it is stored \
                     under: the chart cache was altered"
                ),
                help: "delete the file; todoplan fetches the package charts.lock names again \
                       and checks its digest"
                    .into(),
            });
        }
    }
    let files = read_chart_archive(path, &bytes)?;
    load_files(path, files)
}

/// Every file of the chart directory, the root's `.helmignore` applied to all of them, as
/// helm's LoadDir does: a subchart's own `.helmignore` is not read (helm applies it only when
/// the subchart is packaged). Links may point only inside the chart, and only at files and
/// directories: a chart is untrusted input, and a link to /etc/passwd, a device or a FIFO
/// must neither leak a file nor hang or exhaust the renderer.
fn read_chart_dir(dir: &Path) -> Result<Vec<BufferedFile>, ChartError> {
    let root = std::fs::canonicalize(dir).map_err(|e| ChartError::io(dir, &e))?;
    let ignore = load_helmignore(dir);
    let mut walker = DirWalker {
        root: &root,
        shown_root: dir,
        ignore: &ignore,
        files: Vec::new(),
        total: 0,
        open_dirs: vec![root.clone()],
    };
    walker.walk(&root, "")?;
    Ok(walker.files)
}

struct DirWalker<'a> {
    /// The chart directory, with links resolved.
    root: &'a Path,
    /// The directory as the user named it, for messages.
    shown_root: &'a Path,
    ignore: &'a Option<ignore::gitignore::Gitignore>,
    files: Vec<BufferedFile>,
    total: u64,
    /// Directories being walked, to refuse a link back into one of them (an endless loop).
    open_dirs: Vec<PathBuf>,
}

impl DirWalker<'_> {
    fn refuse(&self, rel: &str, message: String) -> ChartError {
        ChartError::Unsafe {
            path: self.shown_root.join(rel),
            message,
        }
    }

    fn walk(&mut self, dir: &Path, rel_dir: &str) -> Result<(), ChartError> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| ChartError::io(dir, &e))?
            .filter_map(|e| e.ok())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().to_string();
            let rel = if rel_dir.is_empty() {
                name
            } else {
                format!("{rel_dir}/{name}")
            };
            let path = e.path();
            let meta = std::fs::symlink_metadata(&path).map_err(|e| ChartError::io(&path, &e))?;
            let (target, meta) = if meta.file_type().is_symlink() {
                let resolved = std::fs::canonicalize(&path).map_err(|e| {
                    self.refuse(
                        &rel,
                        format!("is a symbolic link that cannot be resolved: {e}"),
                    )
                })?;
                if !resolved.starts_with(self.root) {
                    return Err(self.refuse(
                        &rel,
                        format!(
                            "is a symbolic link to {}, outside the chart",
                            resolved.display()
                        ),
                    ));
                }
                let m = std::fs::metadata(&resolved).map_err(|e| ChartError::io(&path, &e))?;
                (resolved, m)
            } else {
                (path.clone(), meta)
            };
            let is_dir = meta.is_dir();
            if let Some(ig) = self.ignore
                && ig
                    .matched_path_or_any_parents(self.shown_root.join(&rel), is_dir)
                    .is_ignore()
            {
                continue;
            }
            if rel.starts_with("templates/.") {
                // helm's default ignore rule `templates/.?*`
                continue;
            }
            if is_dir {
                if self.open_dirs.iter().any(|d| d == &target) {
                    return Err(self.refuse(
                        &rel,
                        "is a symbolic link to a directory that contains it (an endless loop)"
                            .into(),
                    ));
                }
                self.open_dirs.push(target.clone());
                self.walk(&target, &rel)?;
                self.open_dirs.pop();
                continue;
            }
            if !meta.is_file() {
                return Err(self.refuse(
                    &rel,
                    "is not a regular file (a device, FIFO or socket); helm refuses to load it too"
                        .into(),
                ));
            }
            if meta.len() > MAX_FILE_SIZE {
                return Err(self.refuse(
                    &rel,
                    format!("is larger than the maximum file size {MAX_FILE_SIZE}"),
                ));
            }
            self.total += meta.len();
            if self.total > MAX_CHART_SIZE {
                return Err(self.refuse(
                    &rel,
                    format!("makes the chart larger than the maximum size {MAX_CHART_SIZE}"),
                ));
            }
            let mut data = Vec::with_capacity(meta.len() as usize);
            std::fs::File::open(&target)
                .and_then(|f| {
                    use std::io::Read;
                    // A file that grew after the size check is read no further than the cap.
                    f.take(MAX_FILE_SIZE + 1).read_to_end(&mut data)
                })
                .map_err(|e| ChartError::io(&path, &e))?;
            if data.len() as u64 > MAX_FILE_SIZE {
                return Err(self.refuse(
                    &rel,
                    format!("is larger than the maximum file size {MAX_FILE_SIZE}"),
                ));
            }
            let cap = read_file_capacity(data.len());
            self.files.push(BufferedFile {
                name: rel,
                data,
                cap,
            });
        }
        Ok(())
    }
}

/// The files of a packaged chart (`.tgz`): the archive's top directory stripped, with helm's
/// checks (no absolute paths, nothing outside the chart, size limits). No `.helmignore` applies.
fn read_chart_archive(shown: &Path, bytes: &[u8]) -> Result<Vec<BufferedFile>, ChartError> {
    use std::io::Read;
    let refuse = |message: String| ChartError::Unsafe {
        path: shown.to_path_buf(),
        message,
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut files = Vec::new();
    let mut remaining = MAX_CHART_SIZE;
    let entries = archive
        .entries()
        .map_err(|e| refuse(format!("is not a gzipped tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| refuse(format!("cannot be unpacked: {e}")))?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            // directories, links and pax headers carry no chart file
            continue;
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).replace('\\', "/");
        let name = match raw.split_once('/') {
            Some((_, rest)) => rest.to_string(),
            None => {
                return Err(refuse(format!(
                    "holds {raw:?} outside the chart's top directory"
                )));
            }
        };
        if name.starts_with('/') || name.split('/').any(|p| p == "..") {
            return Err(refuse(format!(
                "holds {raw:?}, a path outside the chart directory"
            )));
        }
        let size = entry.header().size().unwrap_or(u64::MAX);
        if size > MAX_FILE_SIZE {
            return Err(refuse(format!(
                "holds {raw:?}, larger than the maximum file size {MAX_FILE_SIZE}"
            )));
        }
        if size > remaining {
            return Err(refuse(format!(
                "unpacks to more than the maximum chart size {MAX_CHART_SIZE}"
            )));
        }
        let mut data = Vec::new();
        (&mut entry)
            .take(MAX_FILE_SIZE + 1)
            .read_to_end(&mut data)
            .map_err(|e| refuse(format!("cannot be unpacked: {e}")))?;
        remaining = remaining.saturating_sub(data.len() as u64);
        let name = name.trim_start_matches("./").to_string();
        if name.is_empty() {
            continue;
        }
        let cap = archive_read_capacity(data.len());
        files.push(BufferedFile { name, data, cap });
    }
    Ok(files)
}

fn utf8(origin: &Path, f: &BufferedFile) -> Result<String, ChartError> {
    // helm drops a UTF-8 byte order mark at the start of every chart file
    let data = f.data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&f.data);
    String::from_utf8(data.to_vec())
        .map(super::template::value::go_string)
        .map_err(|_| ChartError::Io {
            path: origin.join(&f.name),
            message: "is not UTF-8 text".into(),
        })
}

/// helm's LoadFiles: a chart from its buffered files; `origin` names it in messages.
fn load_files(origin: &Path, files: Vec<BufferedFile>) -> Result<Chart, ChartError> {
    let invalid = |message: String, help: &str| ChartError::Invalid {
        chart: origin.display().to_string(),
        message,
        help: help.to_string(),
    };
    let Some(chart_yaml) = files.iter().find(|f| f.name == "Chart.yaml") else {
        return Err(invalid(
            "Chart.yaml file is missing".into(),
            "a chart is a directory holding Chart.yaml, values.yaml and templates/",
        ));
    };
    let text = utf8(origin, chart_yaml)?;
    let shown = origin.join("Chart.yaml").display().to_string();
    // a list, map, null or uint64 key, as sigs.k8s.io/yaml refuses it
    if let Some(e) = super::template::yaml_load::key_refusal(&text) {
        return Err(ChartError::Refused {
            message: format!("cannot load Chart.yaml: error converting YAML to JSON: {e}"),
            help: "give Chart.yaml's maps string, number or boolean keys".into(),
        });
    }
    let raw: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| ChartError::yaml("Chart.yaml", &shown, &text, &e))?;
    // sigs.k8s.io/yaml writes bool and number keys as strings before filling the struct
    let raw = string_keys(raw);
    let mut meta: ChartYaml = serde_yaml_ng::from_value(raw.clone())
        .map_err(|e| ChartError::yaml("Chart.yaml", &shown, &text, &e))?;
    // its string fields as sigs.k8s.io/yaml fills them (`name: n` is "false")
    if let Some(strings) = super::template::yaml_load::load_as_strings(&text)
        .ok()
        .and_then(|v| v.as_map())
    {
        let strings = strings.borrow();
        let text_of = |k: &str| match strings.get(k) {
            Some(Value::Str(s)) => Some(s.to_string()),
            _ => None,
        };
        if let Some(n) = text_of("name") {
            meta.name = n;
        }
        if let Some(v) = text_of("version") {
            meta.version = Some(serde_yaml_ng::Value::String(v));
        }
        if let Some(a) = text_of("apiVersion") {
            meta.api_version = Some(a);
        }
        if let Some(t) = text_of("type") {
            meta.chart_type = Some(t);
        }
    }
    let mut decls = None;
    read_dependencies(&text, &raw, &mut decls)?;
    // helm reads requirements.yaml (Helm 2's dependency list, deprecated but honoured) into the
    // chart's metadata: its `dependencies` decode over those of Chart.yaml, entry by entry.
    if let Some(req) = files.iter().find(|f| f.name == "requirements.yaml") {
        let req_text = utf8(origin, req)?;
        let req_shown = origin.join("requirements.yaml").display().to_string();
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&req_text)
            .map_err(|e| ChartError::yaml("requirements.yaml", &req_shown, &req_text, &e))?;
        read_dependencies(&req_text, &v, &mut decls)?;
    }
    validate_metadata(&meta, decls.as_deref().unwrap_or_default())?;
    check_import_values(&meta, decls.as_deref().unwrap_or_default(), &text, &shown)?;
    if let Some(api) = &meta.api_version
        && api != "v2"
        && api != "v1"
    {
        return Err(invalid(
            format!("apiVersion {api:?} is not valid"),
            "use `apiVersion: v2`",
        ));
    }
    if let Some(t) = &meta.chart_type
        && t != "application"
        && t != "library"
    {
        return Err(invalid(
            format!("chart type {t:?} is not valid"),
            "use `type: application` or `type: library`",
        ));
    }

    let mut values = BTreeMap::new();
    let mut schema = None;
    let mut templates = Vec::new();
    let mut chart_files = BTreeMap::new();
    let mut subcharts: BTreeMap<String, Vec<BufferedFile>> = BTreeMap::new();
    for f in files {
        match f.name.as_str() {
            "Chart.yaml" | "Chart.lock" | "requirements.lock" => {}
            // a v1 chart's requirements.yaml is also one of its .Files, as helm loads it
            "requirements.yaml" if meta.api_version.as_deref().unwrap_or("v1") != "v1" => {}
            "values.yaml" => {
                // its bytes after a UTF-8 BOM, as go-yaml reads them (UTF-16, invalid UTF-8)
                let data = f.data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&f.data);
                let t = super::template::value::string_from_go_bytes(data);
                values = parse_values_text(
                    &t,
                    &origin.join("values.yaml").display().to_string(),
                    "cannot load values.yaml",
                )?;
            }
            "values.schema.json" => {
                let t = utf8(origin, &f)?;
                let j: serde_json::Value =
                    serde_json::from_str(&t).map_err(|e| ChartError::Invalid {
                        chart: meta.name.clone(),
                        message: format!("values.schema.json is not valid JSON: {e}"),
                        help: "fix the JSON syntax at the line and column given".into(),
                    })?;
                schema = Some((origin.join("values.schema.json").display().to_string(), j));
            }
            n if n.starts_with("templates/") => {
                let t = utf8(origin, &f)?;
                templates.push((f.name, t));
            }
            n if n.starts_with("charts/") && !n.ends_with(".prov") => {
                let rest = &n["charts/".len()..];
                let cname = rest.split('/').next().unwrap_or(rest).to_string();
                subcharts.entry(cname).or_default().push(BufferedFile {
                    name: rest.to_string(),
                    data: f.data,
                    cap: f.cap,
                });
            }
            _ => {
                // bytes.TrimPrefix: the slice starts after the BOM, its room with it
                let (data, cap) = match f.data.strip_prefix(b"\xef\xbb\xbf") {
                    Some(d) => (d.to_vec(), f.cap.saturating_sub(3)),
                    None => (f.data, f.cap),
                };
                chart_files.insert(f.name, (data, cap));
            }
        }
    }
    templates.sort();

    let mut loaded = Vec::new();
    for (cname, files) in subcharts {
        if cname.starts_with('_') || cname.starts_with('.') {
            continue;
        }
        let sub_origin = origin.join("charts").join(&cname);
        // helm names a subchart that fails to load, and its parent
        let in_parent = |e: ChartError| match e {
            ChartError::Refused { message, help } => ChartError::Refused {
                message: format!(
                    "error unpacking subchart {cname} in {}: {message}",
                    meta.name
                ),
                help,
            },
            e => e,
        };
        if cname.ends_with(".tgz") {
            let Some(f) = files.iter().find(|f| f.name == cname) else {
                continue;
            };
            let inner = read_chart_archive(&sub_origin, &f.data)?;
            loaded.push(load_files(&sub_origin, inner).map_err(in_parent)?);
            continue;
        }
        let inner: Vec<BufferedFile> = files
            .into_iter()
            .filter_map(|f| {
                let (_, rest) = f.name.split_once('/')?;
                Some(BufferedFile {
                    name: rest.to_string(),
                    data: f.data,
                    cap: f.cap,
                })
            })
            .collect();
        if !inner.iter().any(|f| f.name == "Chart.yaml") {
            // not a chart: a stray file or folder under charts/
            continue;
        }
        loaded.push(load_files(&sub_origin, inner).map_err(in_parent)?);
    }
    // `repository: file://../x` names a chart directory on disk: helm's `dependency build`
    // would package it into charts/; read it where it is instead.
    for d in decls.iter().flatten() {
        let d = d.borrow();
        if loaded.iter().any(|c| c.meta.name == d.name) || !origin.is_dir() {
            continue;
        }
        let Some(rel) = d.repository.strip_prefix("file://") else {
            continue;
        };
        let path = origin.join(rel);
        if path.join("Chart.yaml").is_file() {
            let c = load_linked(&path)?;
            if c.meta.name != d.name {
                return Err(invalid(
                    format!(
                        "dependency {:?} points at {}, which holds chart {:?}",
                        d.name,
                        path.display(),
                        c.meta.name
                    ),
                    "make the dependency's name match the name in that chart's Chart.yaml",
                ));
            }
            loaded.push(c);
        }
    }

    Ok(Chart {
        name: meta.name.clone(),
        dir: origin.to_path_buf(),
        chart_object: chart_object(&raw, &text),
        meta,
        decls,
        values,
        schema,
        templates: Rc::new(templates),
        files: Files::with_capacities(chart_files),
        dependencies: loaded
            .into_iter()
            .map(|c| Rc::new(RefCell::new(c)))
            .collect(),
        parent: None,
    })
}

thread_local! {
    /// The chart directories `file://` dependencies are being read from, outermost first.
    static LINKED: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
}

/// A chart a `file://` repository names: refused when it is one being read already (two
/// charts naming each other would otherwise be read without end).
fn load_linked(path: &Path) -> Result<Chart, ChartError> {
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if LINKED.with(|l| l.borrow().contains(&key)) {
        return Err(ChartError::Invalid {
            chart: path.display().to_string(),
            message: "its file:// dependencies lead back to it".into(),
            help: "a chart cannot depend on itself, directly or through other charts".into(),
        });
    }
    LINKED.with(|l| l.borrow_mut().push(key));
    let loaded = load_unchecked(path);
    LINKED.with(|l| {
        l.borrow_mut().pop();
    });
    loaded
}

/// helm's CheckDependencies, which `helm template` runs on the chart it renders (not on its
/// subcharts): every declared name must be a chart under charts/.
fn check_dependencies(chart: &Chart) -> Result<(), ChartError> {
    let missing: Vec<String> = chart
        .decls
        .iter()
        .flatten()
        .map(|d| d.borrow().name.clone())
        .filter(|n| !chart.dependencies.iter().any(|c| c.borrow().name == *n))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(ChartError::Refused {
        message: format!(
            "An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}",
            missing.join(", ")
        ),
        help: "run `helm dependency build`, or copy the subchart's directory into charts/".into(),
    })
}

/// A JSON value's kind as encoding/json names it in a type error.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Nil => "null",
        Value::Bool(_) => "bool",
        Value::Int(_) | Value::Int64(_) | Value::Uint8(_) | Value::Uint64(_) | Value::Float(_) => {
            "number"
        }
        Value::Str(_) => "string",
        Value::List(_) => "array",
        Value::Map(_) => "object",
        Value::Object(_) => "object",
    }
}

/// Decode the `dependencies` of a Chart.yaml or requirements.yaml text (`raw`: the same,
/// as serde_yaml read it) over `decls` as helm's loader does: sigs.k8s.io/yaml turns YAML
/// 1.1 scalars into the strings the string fields hold, a list replaces the one before entry
/// by entry (fields the entry sets win, the others stay) and is cut to its length, null
/// makes the list nil, and a missing key leaves it alone.
fn read_dependencies(
    text: &str,
    raw: &serde_yaml_ng::Value,
    decls: &mut Option<Vec<Decl>>,
) -> Result<(), ChartError> {
    let plain = super::template::yaml_load::load(text).unwrap_or_else(|_| from_yaml(raw));
    let strings =
        super::template::yaml_load::load_as_strings(text).unwrap_or_else(|_| plain.clone());
    let get = |doc: &Value| {
        doc.as_map()
            .and_then(|m| m.borrow().get("dependencies").cloned())
    };
    let (Some(plain), Some(strings)) = (get(&plain), get(&strings)) else {
        return Ok(());
    };
    let json_error = |kind: &str, field: &str, go_type: &str| ChartError::Refused {
        message: format!(
            "cannot load Chart.yaml: error unmarshaling JSON: while decoding JSON: json: cannot \
             unmarshal {kind} into Go struct field {field} of type {go_type}"
        ),
        help: "give each dependency a name, a version and a repository as strings, tags as a \
               list of strings and enabled as a boolean"
            .into(),
    };
    let (plain_list, string_list) = match (&plain, &strings) {
        (Value::Nil, _) => {
            *decls = None;
            return Ok(());
        }
        (Value::List(p), Value::List(s)) => (p.clone(), s.clone()),
        (p, _) => {
            return Err(json_error(
                json_kind(p),
                "Metadata.dependencies",
                "[]*chart.Dependency",
            ));
        }
    };
    let before = decls.take().unwrap_or_default();
    let mut out = Vec::new();
    for (i, entry) in plain_list.iter().enumerate() {
        let Some(entry) = entry.as_map() else {
            if entry.is_nil() {
                return Err(ChartError::Refused {
                    message: "validation: dependencies must not contain empty or null nodes".into(),
                    help: "remove the empty entry from the dependencies".into(),
                });
            }
            return Err(json_error(
                json_kind(entry),
                "Metadata.dependencies",
                "chart.Dependency",
            ));
        };
        let entry = entry.borrow();
        let texts = string_list.get(i).and_then(|e| e.as_map());
        let text_of = |k: &str| texts.as_ref().and_then(|m| m.borrow().get(k).cloned());
        let mut d = before
            .get(i)
            .map(|d| d.borrow().clone())
            .unwrap_or_default();
        let field = |k: &str| format!("Dependency.dependencies.{k}");
        for (key, slot) in [
            ("name", &mut d.name),
            ("version", &mut d.version),
            ("repository", &mut d.repository),
            ("condition", &mut d.condition),
            ("alias", &mut d.alias),
        ] {
            match (entry.get(key), text_of(key)) {
                (None | Some(Value::Nil), _) => {}
                (Some(Value::List(_) | Value::Map(_)), _) | (_, None) => {
                    let kind = entry.get(key).map_or("null", json_kind);
                    return Err(json_error(kind, &field(key), "string"));
                }
                (Some(_), Some(t)) => *slot = t.as_str().unwrap_or_default().to_string(),
            }
        }
        match (entry.get("tags"), text_of("tags")) {
            (None, _) => {}
            (Some(Value::Nil), _) => d.tags = Vec::new(),
            (Some(Value::List(items)), Some(Value::List(texts))) => {
                let mut tags = Vec::new();
                for (item, t) in items.iter().zip(texts.iter()) {
                    match item {
                        Value::List(_) | Value::Map(_) => {
                            return Err(json_error(json_kind(item), &field("tags"), "string"));
                        }
                        Value::Nil => tags.push(String::new()),
                        _ => tags.push(t.as_str().unwrap_or_default().to_string()),
                    }
                }
                d.tags = tags;
            }
            (Some(other), _) => {
                return Err(json_error(json_kind(other), &field("tags"), "[]string"));
            }
        }
        match entry.get("enabled") {
            None | Some(Value::Nil) => {}
            Some(Value::Bool(b)) => d.enabled = *b,
            Some(other) => return Err(json_error(json_kind(other), &field("enabled"), "bool")),
        }
        match entry.get("import-values") {
            None => {}
            Some(Value::Nil) => d.import_values = Vec::new(),
            Some(Value::List(items)) => {
                d.import_values = items
                    .iter()
                    .map(|iv| match iv {
                        Value::Str(s) => ImportValue::Name(s.to_string()),
                        Value::Map(_) => ImportValue::Map(iv.clone()),
                        other => ImportValue::Other(other.clone()),
                    })
                    .collect();
            }
            Some(other) => {
                return Err(json_error(
                    json_kind(other),
                    &field("import-values"),
                    "[]interface {}",
                ));
            }
        }
        out.push(Rc::new(RefCell::new(d)));
    }
    *decls = Some(out);
    Ok(())
}

/// Whether declaration `d` takes chart `c`: the same name and a version within `d`'s range
/// (helm's getAliasDependency; an empty or unreadable range takes nothing).
pub fn takes(d: &Dependency, c: &Chart) -> bool {
    c.name == d.name
        && crate::template::mmsemver::is_compatible_range(&d.version, &c.meta.version_text())
}

/// helm panics on an import-values map without string `child` and `parent`: say where it is.
fn check_import_values(
    meta: &ChartYaml,
    decls: &[Decl],
    text: &str,
    shown: &str,
) -> Result<(), ChartError> {
    let mut occurrence = 0;
    for d in decls {
        let d = d.borrow();
        if d.import_values.is_empty() {
            continue;
        }
        occurrence += 1;
        let bad = d.import_values.iter().any(|iv| match iv {
            ImportValue::Map(m) => m.as_map().is_none_or(|m| {
                let m = m.borrow();
                ["child", "parent"]
                    .iter()
                    .any(|k| !matches!(m.get(*k), Some(Value::Str(_))))
            }),
            _ => false,
        });
        if bad {
            let at = text
                .match_indices("import-values")
                .nth(occurrence - 1)
                .map(|(i, m)| (i, m.len()).into());
            let name = if d.alias.is_empty() {
                &d.name
            } else {
                &d.alias
            };
            return Err(ChartError::ChartYaml {
                chart: meta.name.clone(),
                message: format!(
                    "an import-values entry of dependency {name:?} needs `child` and `parent` as strings",
                ),
                help:
                    "write `- child: exports.data` with `parent: data`, or the short form `- data`"
                        .into(),
                src: std::sync::Arc::new(miette::NamedSource::new(shown, text.to_string())),
                span: at,
            });
        }
    }
    Ok(())
}

/// Parse a values YAML text into a map (an empty document is an empty map). `context` starts
/// the error as helm starts it (`cannot load values.yaml`, `failed to parse FILE`).
pub fn parse_values_text(
    text: &str,
    shown: &str,
    context: &str,
) -> Result<BTreeMap<String, Value>, ChartError> {
    let src = || std::sync::Arc::new(miette::NamedSource::new(shown, text.to_string()));
    let v = super::template::yaml_load::load(text).map_err(|e| {
        let (src, span) = super::error::snippet(shown.to_string(), text, e.offset, 1);
        ChartError::ValuesYaml {
            message: format!("{context}: error converting YAML to JSON: {e}"),
            src,
            span: Some(span),
        }
    })?;
    match v {
        Value::Nil => Ok(BTreeMap::new()),
        Value::Map(m) => Ok(m.borrow().clone()),
        other => Err(ChartError::ValuesYaml {
            message: format!(
                "{context}: error unmarshaling JSON: while decoding JSON: {}",
                super::template::gojson::unmarshal_type_error(
                    &other.to_json(),
                    "map[string]interface {}"
                )
            ),
            src: src(),
            span: None,
        }),
    }
}

fn load_helmignore(dir: &Path) -> Option<ignore::gitignore::Gitignore> {
    let p = dir.join(".helmignore");
    if !p.is_file() {
        return None;
    }
    let mut b = ignore::gitignore::GitignoreBuilder::new(dir);
    b.add(&p);
    b.build().ok()
}
