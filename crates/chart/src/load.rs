//! Loading a chart directory: Chart.yaml, values.yaml, values.schema.json, templates/, the
//! other files (`.Files`), `.helmignore`, and subcharts under charts/.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::Deserialize;

use super::error::ChartError;
use super::objects::Files;
use super::template::Value;
use super::template::yaml::from_yaml;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub condition: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub alias: Option<String>,
    /// `import-values`: strings (a table under the child's `exports`) or `{child, parent}` maps.
    #[serde(default, rename = "import-values")]
    pub import_values: Vec<serde_yaml_ng::Value>,
}

impl Dependency {
    /// The name the parent sees the dependency under (its alias, if any).
    pub fn effective_name(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

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
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
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
    /// The chart's name as its parent sees it (alias applied).
    pub name: String,
    pub dir: PathBuf,
    pub meta: ChartYaml,
    /// Chart.yaml as the `.Chart` object (Go field names).
    pub chart_object: BTreeMap<String, Value>,
    pub values: BTreeMap<String, Value>,
    pub schema: Option<(String, serde_json::Value)>,
    /// (path relative to the chart root, e.g. "templates/deployment.yaml", text)
    pub templates: Vec<(String, String)>,
    pub files: Files,
    pub dependencies: Vec<Chart>,
    /// Per entry of `meta.dependencies`: whether its import-values were already applied. Shared
    /// by every copy of this chart (aliases), as helm's copies share the declarations: helm
    /// applies a declaration's imports for the first copy only.
    pub imports_done: Rc<std::cell::RefCell<Vec<bool>>>,
    /// Whether a copy of this chart already had its dependencies' aliases applied: helm renames
    /// the shared declarations to their aliases then, so a later copy no longer finds the
    /// aliased charts and renders them under their own names (see `values::enable`).
    pub aliases_taken: Rc<std::cell::Cell<bool>>,
}

impl Chart {
    pub fn is_library(&self) -> bool {
        self.meta.chart_type.as_deref() == Some("library")
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
    // a maintainer's fields are strings, its list holds maps
    let maintainers = match string_field("maintainers") {
        Some(Value::List(l)) => Some(Value::list(
            l.iter()
                .map(|m| match m.as_map() {
                    Some(m) => {
                        let m = m.borrow();
                        Value::map(
                            m.iter()
                                .map(|(k, v)| (k.clone(), as_string(v.clone())))
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
        "Dependencies".into(),
        get("dependencies").unwrap_or(Value::Nil),
    );
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
}

/// helm's loader limits: one file, and a whole (unpacked) chart.
const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;
const MAX_CHART_SIZE: u64 = 100 * 1024 * 1024;

/// Load the chart at `dir` with its subcharts (directories or packaged `.tgz` under charts/).
/// helm's chart.Metadata.Validate (which its loader runs on every chart and subchart), with its
/// words: name and version are required, the name is a single path element, the version is a
/// semantic version.
fn validate_metadata(meta: &ChartYaml) -> Result<(), ChartError> {
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
    Ok(())
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

pub fn load_chart(dir: &Path) -> Result<Chart, ChartError> {
    if dir.is_file() && dir.extension().is_some_and(|e| e == "tgz") {
        return load_package(dir);
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
            self.files.push(BufferedFile { name: rel, data });
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
        files.push(BufferedFile { name, data });
    }
    Ok(files)
}

fn utf8(origin: &Path, f: &BufferedFile) -> Result<String, ChartError> {
    // helm drops a UTF-8 byte order mark at the start of every chart file
    let data = f.data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&f.data);
    String::from_utf8(data.to_vec()).map_err(|_| ChartError::Io {
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
    let raw: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| ChartError::yaml("Chart.yaml", &shown, &text, &e))?;
    let mut meta: ChartYaml = serde_yaml_ng::from_value(raw.clone())
        .map_err(|e| ChartError::yaml("Chart.yaml", &shown, &text, &e))?;
    // helm reads requirements.yaml (Helm 2's dependency list, deprecated but honoured) into the
    // chart's metadata: its `dependencies` replace those of Chart.yaml.
    if let Some(req) = files.iter().find(|f| f.name == "requirements.yaml") {
        let req_text = utf8(origin, req)?;
        let req_shown = origin.join("requirements.yaml").display().to_string();
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&req_text)
            .map_err(|e| ChartError::yaml("requirements.yaml", &req_shown, &req_text, &e))?;
        if let Some(deps) = v.get("dependencies") {
            meta.dependencies = serde_yaml_ng::from_value(deps.clone())
                .map_err(|e| ChartError::yaml("requirements.yaml", &req_shown, &req_text, &e))?;
        }
    }
    validate_metadata(&meta)?;
    check_import_values(&meta, &text, &shown)?;
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
                });
            }
            _ => {
                let data = match f.data.strip_prefix(b"\xef\xbb\xbf") {
                    Some(d) => d.to_vec(),
                    None => f.data,
                };
                chart_files.insert(f.name, data);
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
        if cname.ends_with(".tgz") {
            let Some(f) = files.iter().find(|f| f.name == cname) else {
                continue;
            };
            let inner = read_chart_archive(&sub_origin, &f.data)?;
            loaded.push(load_files(&sub_origin, inner)?);
            continue;
        }
        let inner: Vec<BufferedFile> = files
            .into_iter()
            .filter_map(|f| {
                let (_, rest) = f.name.split_once('/')?;
                Some(BufferedFile {
                    name: rest.to_string(),
                    data: f.data,
                })
            })
            .collect();
        if !inner.iter().any(|f| f.name == "Chart.yaml") {
            // not a chart: a stray file or folder under charts/
            continue;
        }
        loaded.push(load_files(&sub_origin, inner)?);
    }
    // Match declared dependencies to what charts/ holds, as helm's processDependencyEnabled:
    // a declaration takes the first chart of its name whose version meets its range (a copy,
    // under its alias if it has one); a chart no declaration takes renders as it is, under its
    // own name (so a range that misses leaves the chart unaliased).
    let mut dependencies = Vec::new();
    for c in &loaded {
        if !meta.dependencies.iter().any(|d| takes(d, c)) {
            dependencies.push(c.clone());
        }
    }
    for d in &meta.dependencies {
        // `repository: file://../x` names a chart directory on disk: helm's `dependency build`
        // would package it into charts/; read it where it is instead.
        if !loaded.iter().any(|c| c.meta.name == d.name)
            && let Some(rel) = d
                .repository
                .as_deref()
                .and_then(|r| r.strip_prefix("file://"))
            && origin.is_dir()
        {
            let path = origin.join(rel);
            if path.join("Chart.yaml").is_file() {
                let c = load_chart(&path)?;
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
        if !loaded.iter().any(|c| c.meta.name == d.name) {
            // helm's CheckDependencies, in its words: every missing name
            let missing: Vec<&str> = meta
                .dependencies
                .iter()
                .filter(|d| !loaded.iter().any(|c| c.meta.name == d.name))
                .map(|d| d.name.as_str())
                .collect();
            return Err(ChartError::Refused {
                message: format!(
                    "An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}",
                    missing.join(", ")
                ),
                help: "run `helm dependency build`, or copy the subchart's directory into charts/"
                    .into(),
            });
        }
        let Some(c) = loaded.iter().find(|c| takes(d, c)) else {
            continue;
        };
        let mut c = c.clone();
        if let Some(a) = &d.alias {
            c.name = a.clone();
            c.chart_object.insert("Name".into(), Value::str(a));
        }
        dependencies.push(c);
    }

    let imports_done = Rc::new(std::cell::RefCell::new(vec![
        false;
        meta.dependencies.len()
    ]));
    Ok(Chart {
        name: meta.name.clone(),
        dir: origin.to_path_buf(),
        chart_object: chart_object(&raw, &text),
        meta,
        values,
        schema,
        templates,
        files: Files(Rc::new(chart_files)),
        imports_done,
        aliases_taken: Rc::new(std::cell::Cell::new(false)),
        dependencies,
    })
}

/// Whether declaration `d` takes chart `c`: the same name and a version within `d`'s range
/// (helm's getAliasDependency; an empty or unreadable range takes nothing).
fn takes(d: &Dependency, c: &Chart) -> bool {
    c.meta.name == d.name
        && crate::template::mmsemver::is_compatible_range(
            d.version.as_deref().unwrap_or(""),
            &c.meta.version_text(),
        )
}

/// helm panics on an import-values map without string `child` and `parent`: say where it is.
fn check_import_values(meta: &ChartYaml, text: &str, shown: &str) -> Result<(), ChartError> {
    let mut occurrence = 0;
    for d in &meta.dependencies {
        if d.import_values.is_empty() {
            continue;
        }
        occurrence += 1;
        let bad = d.import_values.iter().any(|iv| match iv {
            serde_yaml_ng::Value::Mapping(m) => ["child", "parent"]
                .iter()
                .any(|k| !m.get(*k).is_some_and(|v| v.is_string())),
            _ => false,
        });
        if bad {
            let at = text
                .match_indices("import-values")
                .nth(occurrence - 1)
                .map(|(i, m)| (i, m.len()).into());
            return Err(ChartError::ChartYaml {
                chart: meta.name.clone(),
                message: format!(
                    "an import-values entry of dependency {:?} needs `child` and `parent` as strings",
                    d.effective_name()
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
