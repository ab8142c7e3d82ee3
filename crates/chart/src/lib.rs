//! Helm-compatible chart rendering without the helm binary.
//!
//! `render` loads a chart directory (Chart.yaml, values, schema, templates, subcharts), computes
//! values with Helm's precedence, executes every template with a Go text/template engine and
//! Helm's function set (`template`), splits the output into documents and sorts them in Helm's
//! install order, exactly as `helm template` prints them.

pub mod error;
pub mod hooks;
pub mod load;
pub mod manifest;
pub mod objects;
pub mod pattern;
mod schema_subset;
pub mod source;
pub mod template;
pub mod values;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

pub use error::ChartError;
pub use manifest::{Manifest, install_order_rank, render_manifest_dir, to_helm_template_output};
pub use objects::Capabilities;

use objects::{ApiVersions, GoStruct, KubeVersion, kube_major_minor};
use template::{Executor, FuncEnv, TemplateSet, Value};

/// Answers `lookup` in templates; a live cluster implements it, offline it is absent and
/// `lookup` returns an empty map as `helm template` does.
pub trait Lookup: Send + Sync {
    fn lookup(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<serde_json::Value, String>;
}

pub struct RenderRequest<'a> {
    pub chart_dir: &'a Path,
    pub release_name: &'a str,
    pub namespace: &'a str,
    /// `-f` files, lowest precedence first.
    pub values_files: &'a [PathBuf],
    /// Values from todo.toml; they win over the files.
    pub inline_values: serde_json::Value,
    pub revision: u64,
    pub is_upgrade: bool,
    pub capabilities: Capabilities,
    pub lookup: Option<Arc<dyn Lookup>>,
}

/// Extra inputs the CLI has that the library API keeps optional.
#[derive(Debug, Default, Clone)]
pub struct RenderOptions {
    /// `--set` strings, applied after values files and before inline values.
    pub set: Vec<String>,
    /// Print the `crds/` files first, as `helm template --include-crds` does.
    pub include_crds: bool,
}

#[derive(Debug, Clone)]
pub struct Rendered {
    pub manifests: Vec<Manifest>,
    /// The documents of the `crds/` directories of the chart and its enabled subcharts, not
    /// templated, in the order helm installs them (before everything else, `helm install`).
    pub crds: Vec<Manifest>,
    /// The root chart's NOTES.txt, rendered.
    pub notes: Option<String>,
}

pub fn render(req: &RenderRequest) -> Result<Rendered, ChartError> {
    render_with(req, &RenderOptions::default())
}

/// Render on a thread with a generous stack: templates recurse through include/tpl, and a
/// chart's depth should never decide whether we crash.
pub fn render_with(req: &RenderRequest, opts: &RenderOptions) -> Result<Rendered, ChartError> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("chart-render".into())
            .stack_size(64 << 20)
            .spawn_scoped(s, || {
                let documents =
                    render_inner(req, opts, Afterwards::Free, manifest::Objects::Whole)?;
                Ok(Rendered {
                    manifests: documents.manifests,
                    crds: manifest::crd_manifests(&documents.crd_files)?,
                    notes: documents.notes,
                })
            })
            .map_err(|e| ChartError::Io {
                path: req.chart_dir.to_path_buf(),
                message: format!("cannot start the render thread: {e}"),
            })?
            .join()
            .unwrap_or_else(|_| {
                Err(ChartError::Invalid {
                    chart: req.chart_dir.display().to_string(),
                    message: "the renderer panicked (a bug in todoplan)".into(),
                    help: "please report it with the chart".into(),
                })
            })
    })
}

/// What `helm template` prints for a chart, and its rendered NOTES.txt.
#[derive(Debug, Clone)]
pub struct TemplateOutput {
    pub text: String,
    pub notes: Option<String>,
}

/// `helm template`: render on the calling thread (deep include/tpl nesting continues on stack
/// segments from the heap) and print. The CLI uses this to avoid thread
/// hand-offs that dominate short runs. Each rendered document is parsed only for its head
/// (kind, name, hook), which sorting needs; the loaded chart and the parsed templates are not
/// freed: the process ends right after, and freeing their many small allocations one by one
/// costs a short render 3-10 % of its time.
pub fn render_as_helm_template(
    req: &RenderRequest,
    opts: &RenderOptions,
) -> Result<TemplateOutput, ChartError> {
    let rendered = render_inner(
        req,
        opts,
        Afterwards::LeaveToProcessExit,
        manifest::Objects::Head,
    )?;
    // helm prints the trimmed manifests and a newline: a chart without documents prints one.
    // The crds/ files come first, as they are (helm's renderResources).
    let mut text = String::new();
    if opts.include_crds {
        for (source, data) in &rendered.crd_files {
            text.push_str(&format!("---\n# Source: {source}\n{data}\n"));
        }
    }
    text.push_str(&to_helm_template_output(&rendered.manifests));
    if text.is_empty() {
        text.push('\n');
    }
    std::mem::forget(rendered.manifests);
    Ok(TemplateOutput {
        text,
        notes: rendered.notes,
    })
}

/// What becomes of a render's intermediate data (loaded chart, parsed templates, outputs).
#[derive(Clone, Copy, PartialEq)]
enum Afterwards {
    Free,
    LeaveToProcessExit,
}

/// Values the user supplied, in Helm's precedence: files in order, then --set, then inline.
fn user_values(req: &RenderRequest, opts: &RenderOptions) -> Result<values::Map, ChartError> {
    let mut base = values::Map::new();
    for f in req.values_files {
        // the file's bytes, as helm hands them to go-yaml (which reads UTF-16 after its BOM
        // and words its own refusal of invalid UTF-8)
        let bytes = std::fs::read(f).map_err(|e| ChartError::io(f, &e))?;
        let text = template::value::string_from_go_bytes(&bytes);
        let shown = f.display().to_string();
        let m = load::parse_values_text(&text, &shown, &format!("failed to parse {shown}"))?;
        values::merge_user(&mut base, &m);
    }
    for s in &opts.set {
        values::apply_set(&mut base, s)?;
    }
    match &req.inline_values {
        serde_json::Value::Null => {}
        serde_json::Value::Object(_) => {
            if let Value::Map(m) = Value::from_json(&req.inline_values) {
                values::merge_user(&mut base, &m.borrow());
            }
        }
        other => {
            return Err(ChartError::Invalid {
                chart: req.chart_dir.display().to_string(),
                message: format!("inline values must be a table, got {other}"),
                help: "write values as a TOML table".into(),
            });
        }
    }
    Ok(base)
}

/// One template to execute (its chart's `index`th), with the dot its chart's templates see.
struct Job {
    name: String,
    templates: Rc<Vec<(String, String)>>,
    index: usize,
    dot: Rc<BTreeMap<String, Value>>,
    base_path: String,
}

/// What helm's engine renders for a chart: every template but partials and NOTES.txt, by name,
/// before the output is split into manifests (`helm template --debug` prints these when they are
/// not YAML). For tests and tools that compare template output which is not a manifest.
pub fn render_template_files(
    req: &RenderRequest,
    opts: &RenderOptions,
) -> Result<BTreeMap<String, String>, ChartError> {
    Ok(render_files(req, opts, Afterwards::Free)?.outputs)
}

struct RenderedFiles {
    outputs: BTreeMap<String, String>,
    /// The `crds/` files: (path under the release's chart, text).
    crds: Vec<(String, String)>,
    notes: Option<String>,
}

/// A render's documents before `Rendered` parses the crds/ files.
struct RenderedDocuments {
    manifests: Vec<Manifest>,
    crd_files: Vec<(String, String)>,
    notes: Option<String>,
}

fn render_inner(
    req: &RenderRequest,
    opts: &RenderOptions,
    afterwards: Afterwards,
    objects: manifest::Objects,
) -> Result<RenderedDocuments, ChartError> {
    let files = render_files(req, opts, afterwards)?;
    let manifests = manifest::sort_outputs(&files.outputs, objects)?;
    if afterwards == Afterwards::LeaveToProcessExit {
        std::mem::forget(files.outputs);
    }
    Ok(RenderedDocuments {
        manifests,
        crd_files: files.crds,
        notes: files.notes,
    })
}

fn render_files(
    req: &RenderRequest,
    opts: &RenderOptions,
    afterwards: Afterwards,
) -> Result<RenderedFiles, ChartError> {
    let chart = load::load_chart(req.chart_dir)?;
    load::validate_release_name(req.release_name)?;
    if chart.is_library() {
        return Err(ChartError::Invalid {
            chart: chart.name.clone(),
            message: "library charts are not installable".into(),
            help: "render an application chart that depends on this library".into(),
        });
    }
    let user = user_values(req, opts)?;
    let chart = Rc::new(RefCell::new(chart));
    load::link_parents(&chart);
    values::process_dependencies(&chart, &user);
    values::process_import_values(&chart)?;
    let vals = values::coalesce_user(&chart.borrow(), &user);
    values::validate_schemas(&chart.borrow(), &vals)?;

    let caps = capabilities_value(&req.capabilities)?;
    let release = Value::map(BTreeMap::from([
        ("Name".to_string(), Value::str(req.release_name)),
        ("Namespace".to_string(), Value::str(req.namespace)),
        ("IsInstall".to_string(), Value::Bool(!req.is_upgrade)),
        ("IsUpgrade".to_string(), Value::Bool(req.is_upgrade)),
        ("Revision".to_string(), Value::Int(req.revision as i64)),
        ("Service".to_string(), Value::str("Helm")),
    ]));

    let root_values = Value::map(vals);
    // helm's recAllTpls: templates by their chart's full path, a later chart at a path taking
    // the place of an earlier one (a subchart two copies of its parent share renders once)
    let mut by_name = BTreeMap::new();
    collect_jobs(&chart, &root_values, &release, &caps, &mut by_name);
    let mut jobs: Vec<Job> = by_name.into_values().collect();

    // Helm parses deepest paths first so a parent's defines win over a subchart's.
    jobs.sort_by(|a, b| {
        let (ca, cb) = (a.name.matches('/').count(), b.name.matches('/').count());
        cb.cmp(&ca).then_with(|| b.name.cmp(&a.name))
    });
    let mut set = TemplateSet::new();
    for j in &jobs {
        let text = j.templates.get(j.index).map_or("", |(_, t)| t.as_str());
        set.add_file(&j.name, text)
            .map_err(|e| ChartError::from_template(&e))?;
    }

    let env = FuncEnv::new(req.lookup.clone());
    let mut outputs: BTreeMap<String, String> = BTreeMap::new();
    let mut notes = None;
    let notes_name = format!("{}/templates/NOTES.txt", chart.borrow().name);
    for j in &jobs {
        let rel = j.name.rsplit("/templates/").next().unwrap_or(&j.name);
        let base = rel.rsplit('/').next().unwrap_or(rel);
        if base.starts_with('_') {
            continue;
        }
        // Only library partials render (they only define); a library's other files do not.
        let mut dot = (*j.dot).clone();
        dot.insert(
            "Template".to_string(),
            Value::map(BTreeMap::from([
                ("Name".to_string(), Value::str(&j.name)),
                ("BasePath".to_string(), Value::str(&j.base_path)),
            ])),
        );
        let dot = Value::map(dot);
        *env.render_dot.borrow_mut() = dot.as_map();
        let mut ex = Executor::new(&set, &env);
        let out = ex
            .execute(&j.name, &dot)
            .map_err(|e| ChartError::from_template(&e))?;
        let out = template::value::go_output(out.replace("<no value>", ""));
        if j.name.ends_with("/NOTES.txt") {
            if j.name == notes_name {
                notes = Some(out);
            }
            continue;
        }
        outputs.insert(j.name.clone(), out);
    }
    if afterwards == Afterwards::LeaveToProcessExit {
        std::mem::forget((set, jobs, root_values));
    }
    let mut crds = Vec::new();
    crd_files(&chart, &mut crds);
    if afterwards == Afterwards::LeaveToProcessExit {
        std::mem::forget(chart);
    }
    Ok(RenderedFiles {
        outputs,
        crds,
        notes,
    })
}

/// The files of `crds/` in the chart and in its enabled subcharts (helm's `CRDObjects`): each
/// chart's own in the order helm's loader walks them, then its subcharts'. Each is named by its
/// path under the release's chart (`CHART/charts/SUB/crds/x.yaml`, helm's `ChartFullPath`).
fn crd_files(chart: &load::ChartRef, out: &mut Vec<(String, String)>) {
    // filepath.Ext compared case-insensitively, as helm's hasManifestExtension does
    let manifest = |name: &str| {
        let base = name.rsplit('/').next().unwrap_or(name);
        base.rfind('.').is_some_and(|dot| {
            let ext = &base[dot..];
            [".yaml", ".yml", ".json"]
                .iter()
                .any(|e| e.eq_ignore_ascii_case(ext))
        })
    };
    let c = chart.borrow();
    let path = c.full_path();
    let mut own: Vec<_> = c
        .files
        .0
        .iter()
        .filter(|(name, _)| name.starts_with("crds/") && manifest(name))
        .collect();
    // a directory's entries in name order, each directory's files where its name sorts
    own.sort_by(|a, b| a.0.split('/').cmp(b.0.split('/')));
    for (name, data) in own {
        out.push((
            format!("{path}/{name}"),
            template::value::go_output(template::value::string_from_go_bytes(data)),
        ));
    }
    for sub in &c.dependencies {
        crd_files(sub, out);
    }
}

/// recAllTpls: the dot of `chart`'s templates (`values` is the parent's `.Values`, or the
/// root's values), its subcharts' first; each template goes in `jobs` under its chart's full
/// path.
fn collect_jobs(
    chart: &load::ChartRef,
    values: &Value,
    release: &Value,
    caps: &Value,
    jobs: &mut BTreeMap<String, Job>,
) -> Value {
    let c = chart.borrow();
    let is_root = c.parent.is_none();
    let deps = objects::dependency_list(c.decls.as_deref());
    let chart_obj = GoStruct::chart(&c.chart_object, deps, is_root);
    // helm looks the table up as the path `Values.<name>`: a name with dots steps through
    // tables
    let own_values = if is_root {
        values.clone()
    } else {
        c.name
            .split('.')
            .try_fold(values.clone(), |t, step| {
                t.as_map()
                    .and_then(|m| m.borrow().get(step).cloned())
                    .filter(|v| matches!(v, Value::Map(_)))
            })
            .unwrap_or_else(Value::empty_map)
    };
    let subcharts = Value::empty_map();
    let mut dot = BTreeMap::from([
        ("Chart".to_string(), Value::Object(Rc::new(chart_obj))),
        ("Files".to_string(), Value::Object(Rc::new(c.files.clone()))),
        ("Release".to_string(), release.clone()),
        ("Capabilities".to_string(), caps.clone()),
        ("Values".to_string(), own_values.clone()),
        ("Subcharts".to_string(), subcharts.clone()),
    ]);
    for sub in &c.dependencies {
        let sub_dot = collect_jobs(sub, &own_values, release, caps, jobs);
        if let Some(m) = subcharts.as_map() {
            m.borrow_mut().insert(sub.borrow().name.clone(), sub_dot);
        }
    }
    dot.insert("Subcharts".to_string(), subcharts);
    let dot = Rc::new(dot);
    let path = c.full_path();
    for (index, (rel, _)) in c.templates.iter().enumerate() {
        let base = rel.rsplit('/').next().unwrap_or(rel);
        if c.is_library() && !base.starts_with('_') {
            continue;
        }
        let name = format!("{path}/{rel}");
        jobs.insert(
            name.clone(),
            Job {
                name,
                templates: c.templates.clone(),
                index,
                dot: dot.clone(),
                base_path: format!("{path}/templates"),
            },
        );
    }
    Value::map((*dot).clone())
}

fn capabilities_value(c: &Capabilities) -> Result<Value, ChartError> {
    let Some((major, minor)) = kube_major_minor(&c.kube_version) else {
        return Err(ChartError::Invalid {
            chart: String::new(),
            message: format!("kube version {:?} is not a version", c.kube_version),
            help: "give a version like v1.33.4".into(),
        });
    };
    let version = if c.kube_version.starts_with('v') {
        c.kube_version.clone()
    } else {
        format!("v{}", c.kube_version)
    };
    let helm_fields = [
        ("Version", Value::str("v3.17.3")),
        ("GitCommit", Value::str("")),
        // helm's release builds are made from a clean tree; the commit and the Go version
        // describe one build of helm, so they stay empty
        ("GitTreeState", Value::str("clean")),
        ("GoVersion", Value::str("")),
    ];
    let helm_map = Value::map(
        helm_fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    );
    let helm = Value::Object(Rc::new(GoStruct {
        type_name: "version.BuildInfo",
        fields: helm_fields
            .into_iter()
            .map(|(k, v)| (k, v, objects::JsonKey::Field))
            .collect(),
        embedded: None,
        pointer: false,
        data: Some(helm_map),
    }));
    let caps = Value::map(BTreeMap::from([
        (
            "KubeVersion".to_string(),
            Value::Object(Rc::new(KubeVersion {
                version,
                major,
                minor,
            })),
        ),
        (
            "APIVersions".to_string(),
            Value::Object(Rc::new(ApiVersions(c.api_versions.clone()))),
        ),
        ("HelmVersion".to_string(), helm),
    ]));
    let field = |k: &str| caps.as_map().and_then(|m| m.borrow().get(k).cloned());
    let fields = ["KubeVersion", "APIVersions", "HelmVersion"]
        .map(|k| (k, field(k).unwrap_or(Value::Nil), objects::JsonKey::Field))
        .into();
    Ok(Value::Object(Rc::new(GoStruct {
        type_name: "*chartutil.Capabilities",
        fields,
        embedded: None,
        pointer: true,
        data: Some(caps),
    })))
}

#[cfg(test)]
mod tests;
