//! Reading todo.toml: parse, overlay the env, resolve static references, check every section.
//!
//! Reading never stops at the first problem: each section is checked as far as it can be and
//! all problems are returned together.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value as Json;

use super::error::{Problem, Span, SpecError, SpecSource, did_you_mean, suggestion_help};
use super::reference::{Piece, Reference, parse_template, span_within};
use super::tree::{self, Key, Node, Table, Value};
use super::{
    ChecksConfig, Cluster, CrdPolicy, DEFAULT_GENERATED_LENGTH, DEFAULT_NAMESPACE, DEFAULT_TIMEOUT,
    Delivery, IMAGE_ATTRIBUTES, IgnoreChange, Image, Project, RELEASE_ATTRIBUTES, Release,
    ReleaseKind, SECRET_ATTRIBUTES, SecretSet, SecretSource, Spec, StateConfig,
    VARIABLE_ENV_PREFIX, is_dns_label, is_dns_subdomain,
};
use crate::model::address::Address;
use crate::model::smoke::{DEFAULT_SMOKE_TIMEOUT_SECS, SmokeCheck};

const SECTIONS: [&str; 9] = [
    "project",
    "cluster",
    "state",
    "variables",
    "images",
    "secrets",
    "releases",
    "checks",
    "env",
];
const REFERENCE_ROOTS: [&str; 6] = ["images", "secrets", "releases", "project", "cluster", "var"];
const MAX_GENERATED_LENGTH: usize = 4096;

/// How a spec is loaded, beyond which file and environment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// `--locked`: a remote chart or range charts.lock lacks, or an entry it would prune, is a
    /// problem, and charts.lock is never written.
    pub locked: bool,
}

/// Reads and checks the spec at `path`, overlaying `[env.NAME]` when `env` is given.
/// `${var.NAME}` takes the environment variable `TODOPLAN_VAR_NAME` over the default.
pub fn load(path: &Path, env: Option<&str>) -> Result<Spec, SpecError> {
    load_with(path, env, LoadOptions::default())
}

/// [`load`] with [`LoadOptions`].
pub fn load_with(path: &Path, env: Option<&str>, options: LoadOptions) -> Result<Spec, SpecError> {
    let name = path.display().to_string();
    let bytes = match crate::model::input::read_regular(path, crate::model::input::SPEC_LIMIT) {
        Ok(bytes) => bytes,
        Err(e) => {
            let source = SpecSource::new(name.clone(), String::new());
            let help = if e.kind() == std::io::ErrorKind::NotFound {
                "run todoplan in the directory that holds todo.toml, or pass `--file PATH`"
                    .to_string()
            } else if e.kind() == std::io::ErrorKind::Other {
                "pass the path of todo.toml itself: a regular file of at most 16 MiB".to_string()
            } else {
                "check the file's permissions".to_string()
            };
            return Err(SpecError::single(
                &source,
                Problem::new("read", format!("cannot read {name}: {e}")).help(help),
            ));
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let source = SpecSource::new(name.clone(), lossy);
            let lossy_at =
                String::from_utf8_lossy(e.as_bytes().get(..at).unwrap_or_default()).len();
            return Err(SpecError::single(
                &source,
                Problem::new("utf8", format!("{name} is not valid UTF-8"))
                    .label(Span::new(lossy_at, lossy_at + 1), "invalid byte here")
                    .help("TOML files must be UTF-8 text"),
            ));
        }
    };
    let dir = path.parent().unwrap_or(Path::new(""));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let base_dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let base_dir = normalize(&base_dir);
    load_text(&text, &name, &base_dir, env, &env_variable, options)
}

fn env_variable(name: &str) -> Option<String> {
    std::env::var(format!("{VARIABLE_ENV_PREFIX}{name}")).ok()
}

/// [`load`] for text already in memory; relative paths resolve against `base_dir`.
pub fn load_str(
    text: &str,
    file_name: &str,
    base_dir: &Path,
    env: Option<&str>,
) -> Result<Spec, SpecError> {
    load_str_with(text, file_name, base_dir, env, &env_variable)
}

/// [`load_str`] with variable overrides looked up by `variable` (given the bare variable name).
pub fn load_str_with(
    text: &str,
    file_name: &str,
    base_dir: &Path,
    env: Option<&str>,
    variable: &dyn Fn(&str) -> Option<String>,
) -> Result<Spec, SpecError> {
    load_text(
        text,
        file_name,
        base_dir,
        env,
        variable,
        LoadOptions::default(),
    )
}

fn load_text(
    text: &str,
    file_name: &str,
    base_dir: &Path,
    env: Option<&str>,
    variable: &dyn Fn(&str) -> Option<String>,
    options: LoadOptions,
) -> Result<Spec, SpecError> {
    let source = SpecSource::new(file_name, text);
    let root = tree::parse(text).map_err(|problems| SpecError::new(&source, problems))?;
    let mut reader = Reader {
        source: &source,
        base_dir,
        options,
        problems: Vec::new(),
        chart_kinds: HashMap::new(),
        charts: None,
        chart_lock_notes: Vec::new(),
        poisoned: Default::default(),
        declared_images: Vec::new(),
        declared_releases: Vec::new(),
        disabled_releases: Vec::new(),
        default_env: None,
    };
    let spec = reader.read(root, env, variable);
    match spec {
        Some(spec) if reader.problems.is_empty() => Ok(spec),
        _ => {
            let poisoned = reader.poisoned;
            let mut problems: Vec<Problem> = reader
                .problems
                .into_iter()
                .filter(|p| {
                    REFERENCE_CODES.contains(&p.code)
                        || p.span().is_none_or(|s| !poisoned.contains(&s))
                })
                .collect();
            problems.sort_by_key(|p| p.span().map(|s| s.start).unwrap_or(0));
            Err(SpecError::new(
                &mask_literal_secrets(&source, &problems),
                problems,
            ))
        }
    }
}

/// The source with every literal secret value blanked out, so showing the problem does not
/// copy the secret into terminals and CI logs. Byte offsets are kept, so spans stay valid.
fn mask_literal_secrets(source: &SpecSource, problems: &[Problem]) -> SpecSource {
    let spans: Vec<Span> = problems
        .iter()
        .filter(|p| p.code == "literal-secret")
        .filter_map(Problem::span)
        .collect();
    if spans.is_empty() {
        return source.clone();
    }
    let mut bytes = source.text.as_bytes().to_vec();
    for span in spans {
        // Keep the quotes so the line still reads as a string value.
        let quoted = matches!(bytes.get(span.start), Some(b'"' | b'\''));
        let inner = if quoted {
            span.start.saturating_add(1)..span.end.saturating_sub(1)
        } else {
            span.start..span.end
        };
        for b in bytes.get_mut(inner).into_iter().flatten() {
            *b = b'*';
        }
    }
    SpecSource::new(
        source.name.clone(),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// `a/./b/../c` → `a/c`, without touching the filesystem (paths may not exist yet).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The remote charts the releases of `root` name, in the base and under every `[env.NAME]`
/// (each overlay merged over the base as `--env NAME` merges it), enabled or not. `None` when
/// that cannot be known from the file (a `${...}` in a release's `chart` or `repository`):
/// nothing is pruned then.
fn chart_uses(root: &Table) -> Option<crate::chart::source::ChartUses> {
    let mut uses = crate::chart::source::ChartUses::default();
    let mut base = root.clone();
    let overlays = match base.remove("env").map(|(_, node)| node.value) {
        Some(Value::Table(envs)) => envs.entries,
        _ => Vec::new(),
    };
    let mut views = vec![base.clone()];
    for (_, node) in overlays {
        if let Value::Table(mut overlay) = node.value {
            overlay.entries.retain(|(k, _)| k.name != "env");
            let mut view = base.clone();
            view.merge(overlay);
            views.push(view);
        }
    }
    for view in &views {
        let Some(Value::Table(releases)) = view.get("releases").map(|n| &n.value) else {
            continue;
        };
        for (_, node) in &releases.entries {
            let Value::Table(release) = &node.value else {
                continue;
            };
            let string = |key: &str| match release.get(key).map(|n| &n.value) {
                Some(Value::String(s)) => Some(s.as_str()),
                _ => None,
            };
            let Some(chart) = string("chart") else {
                continue;
            };
            let repository = string("repository");
            if chart.contains('$') || repository.is_some_and(|r| r.contains('$')) {
                return None;
            }
            let Ok(Some(source)) = crate::chart::source::ChartSource::parse(chart, repository)
            else {
                continue;
            };
            match string("version") {
                Some(v) if v.contains('$') => {
                    uses.any_range.insert(source.key());
                }
                v => {
                    uses.exact
                        .insert((source.key(), v.unwrap_or("*").to_string()));
                }
            }
        }
    }
    Some(uses)
}

/// A node reference written in release values, before its target is checked.
struct RawNodeRef {
    release: String,
    path: Vec<String>,
    span: Span,
}

/// Values known before any section is read, for `${var.*}`, `${project.name}`, `${cluster.namespace}`.
struct Statics {
    vars: IndexMap<String, String>,
    /// Variables whose default is a number or boolean: a values string that is exactly
    /// `${var.NAME}` takes this typed value, so `replicaCount = "${var.replicas}"` stays a number.
    typed_vars: HashMap<String, Value>,
    project_name: Option<String>,
    cluster_namespace: Option<String>,
}

struct Reader<'a> {
    source: &'a SpecSource,
    base_dir: &'a Path,
    options: LoadOptions,
    problems: Vec<Problem>,
    chart_kinds: HashMap<PathBuf, Result<ReleaseKind, String>>,
    /// Remote charts (`oci://`, `repository`): resolved through charts.lock and the cache,
    /// opened at the first one.
    charts: Option<Result<crate::chart::source::Resolver, crate::chart::source::SourceError>>,
    chart_lock_notes: Vec<String>,
    /// Values whose references could not be resolved: other checks of them would only repeat
    /// the reference problem in other words.
    poisoned: std::collections::HashSet<Span>,
    /// Every image and release table, valid or not, so a reference to one that has its own
    /// problem is not also reported as a reference to nothing.
    declared_images: Vec<String>,
    declared_releases: Vec<String>,
    /// Releases switched off with `enabled = false` (after the env overlay), with where.
    disabled_releases: Vec<(String, Span)>,
    /// `[project] default_env`, when it chose the overlay (no --env given).
    default_env: Option<String>,
}

/// Keys of one smoke check in a release's `checks`.
const SMOKE_CHECK_KEYS: [&str; 6] = ["http", "service", "port", "expect", "contains", "timeout"];

/// An IANA service name, as Kubernetes accepts for a named port.
fn is_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.chars().any(|c| c.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// Codes of problems found while resolving references; they are kept when a value is poisoned.
const REFERENCE_CODES: [&str; 7] = [
    "reference-syntax",
    "unknown-variable",
    "reference-shape",
    "reference-self",
    "unknown-attribute",
    "reference-place",
    "unknown-reference",
];

impl Reader<'_> {
    fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    fn read(
        &mut self,
        mut root: Table,
        env: Option<&str>,
        variable: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Spec> {
        self.check_keys(&root, &SECTIONS, "the top level", "sections of todo.toml");
        // Before any overlay: the chart lock keeps what every environment uses.
        let chart_uses = chart_uses(&root);
        let envs = self.apply_env(&mut root, env);
        self.take_disabled_releases(&mut root);

        let (vars, typed_vars) = self.read_variables(&root, variable);
        let project_name = root
            .get("project")
            .and_then(|p| match &p.value {
                Value::Table(t) => t.get("name"),
                _ => None,
            })
            .and_then(|n| match &n.value {
                Value::String(s) if !s.contains('$') => Some(s.clone()),
                _ => None,
            });
        let mut statics = Statics {
            vars,
            typed_vars,
            project_name,
            cluster_namespace: None,
        };
        // cluster.namespace may use ${var.*}; resolve it first so others can use it.
        // It is taken out while the rest is substituted so it is not substituted twice.
        let mut cluster_namespace = None;
        if let Some(Value::Table(cluster)) = root.get_mut("cluster").map(|n| &mut n.value)
            && let Some((key, mut ns)) = cluster.remove("namespace")
        {
            let mut ignored = Vec::new();
            let mut path = vec!["cluster".to_string(), "namespace".to_string()];
            self.substitute_node(&mut ns, &mut path, &statics, &mut ignored);
            if let Value::String(s) = &ns.value {
                statics.cluster_namespace = Some(s.clone());
            }
            cluster_namespace = Some((key, ns));
        }
        let mut node_refs = Vec::new();
        let mut path = Vec::new();
        for (key, node) in root.entries.iter_mut() {
            if matches!(key.name.as_str(), "variables" | "env") {
                continue;
            }
            path.push(key.name.clone());
            self.substitute_node(node, &mut path, &statics, &mut node_refs);
            path.pop();
        }
        if let (Some(Value::Table(cluster)), Some(entry)) = (
            root.get_mut("cluster").map(|n| &mut n.value),
            cluster_namespace,
        ) {
            cluster.entries.push(entry);
        }

        let project = self.read_project(&root);
        let project_name = project.as_ref().map(|p| p.name.clone());
        let cluster = self.read_cluster(&root);
        let state = self.read_state(&root, &cluster, project_name.as_deref());
        let images = self.read_images(&root);
        let secrets = self.read_secrets(&root, &cluster, project_name.as_deref());
        let mut releases = self.read_releases(&root, &cluster);
        if self.charts.is_none() && crate::chart::source::lock_exists(self.base_dir) {
            self.charts = Some(self.open_chart_lock());
        }
        if let (Some(Ok(resolver)), Some(uses)) = (&mut self.charts, &chart_uses)
            && let Err(e) = resolver.prune(uses)
        {
            self.push(Problem::new("chart-lock-locked", e.message).help(e.help));
        }
        if let Some(Ok(resolver)) = self.charts.take() {
            match resolver.finish() {
                Ok(notes) => self.chart_lock_notes.extend(notes),
                Err(e) => self.push(
                    Problem::new("chart-lock", e.message)
                        .label(Span::new(0, 0), "while writing charts.lock")
                        .help(e.help),
                ),
            }
        }
        self.check_node_refs(node_refs, &secrets, &mut releases);
        self.check_depends_on(&root, &secrets, &mut releases);
        let checks = self.read_checks(&root);
        let disabled_releases = self
            .disabled_releases
            .iter()
            .map(|(name, _)| name.clone())
            .collect();

        Some(Spec {
            disabled_releases,
            project: project?,
            cluster,
            state,
            variables: statics.vars,
            images,
            secrets,
            releases,
            base_dir: self.base_dir.to_path_buf(),
            source: self.source.clone(),
            env: env.map(str::to_string).or(self.default_env.clone()),
            envs,
            checks,
            chart_lock_notes: std::mem::take(&mut self.chart_lock_notes),
            locked: self.options.locked,
        })
    }

    // ---- generic readers -------------------------------------------------------------------

    fn check_keys(&mut self, table: &Table, allowed: &[&str], section: &str, what: &str) {
        for (key, _) in &table.entries {
            if !allowed.contains(&key.name.as_str()) {
                let help = suggestion_help(&key.name, allowed, &format!("the {what} are"));
                self.push(
                    Problem::new(
                        "unknown-key",
                        format!("unknown key `{}` in {section}", key.name),
                    )
                    .label(key.span, "unknown key")
                    .maybe_help(help),
                );
            }
        }
    }

    fn wrong_type(&mut self, key: &Key, node: &Node, section: &str, expected: &str) {
        self.push(
            Problem::new(
                "type",
                format!(
                    "`{}` in {section} must be {expected}, found {}",
                    key.name,
                    node.value.type_name()
                ),
            )
            .label(node.span, format!("expected {expected}")),
        );
    }

    fn table_of<'t>(&mut self, key: &Key, node: &'t Node, section: &str) -> Option<&'t Table> {
        match &node.value {
            Value::Table(t) => Some(t),
            _ => {
                self.wrong_type(key, node, section, "a table");
                None
            }
        }
    }

    fn string(&mut self, table: &Table, name: &str, section: &str) -> Option<(String, Span)> {
        let (key, node) = table.get_entry(name)?;
        match &node.value {
            Value::String(s) => Some((s.clone(), node.span)),
            _ => {
                self.wrong_type(key, node, section, "a string");
                None
            }
        }
    }

    fn required_string(
        &mut self,
        table: &Table,
        name: &str,
        section: &str,
        at: Span,
        help: &str,
    ) -> Option<(String, Span)> {
        if table.get(name).is_none() {
            let misspelt = table
                .entries
                .iter()
                .any(|(k, _)| did_you_mean(&k.name, [name]).is_some());
            if misspelt {
                // The unknown-key problem already says "did you mean `name`?".
                return None;
            }
            self.push(
                Problem::new("missing-key", format!("{section} needs `{name}`"))
                    .label(at, format!("`{name}` is missing here"))
                    .help(help.to_string()),
            );
            return None;
        }
        self.string(table, name, section)
    }

    /// `name = "5m"` in `table`: Ok(None) when absent, Err(()) when reported as a problem (not a
    /// duration, a bare number, another type).
    fn duration(
        &mut self,
        table: &Table,
        name: &str,
        section: &str,
    ) -> Result<Option<Duration>, ()> {
        let Some((k, node)) = table.get_entry(name) else {
            return Ok(None);
        };
        match &node.value {
            Value::String(s) => match parse_duration(s) {
                Ok(d) => Ok(Some(d)),
                Err(why) => {
                    self.push(
                        Problem::new("duration", format!("{name} `{s}` is not a duration: {why}"))
                            .label(node.span, "invalid duration")
                            .help("write a duration such as \"90s\", \"5m\" or \"1h 30m\""),
                    );
                    Err(())
                }
            },
            Value::Integer(n) => {
                self.push(
                    Problem::new("duration", format!("{name} needs a unit"))
                        .label(node.span, "a bare number")
                        .help(format!(
                            "write it as a string with a unit, e.g. {name} = \"{n}s\""
                        )),
                );
                Err(())
            }
            _ => {
                self.wrong_type(k, node, section, "a duration string such as \"5m\"");
                Err(())
            }
        }
    }

    fn bool(&mut self, table: &Table, name: &str, section: &str) -> Option<bool> {
        let (key, node) = table.get_entry(name)?;
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.wrong_type(key, node, section, "a boolean (true or false)");
                None
            }
        }
    }

    /// A release's `keep`: `true` (every object), `false`, or `Kind/NAME` selectors.
    fn keep(&mut self, table: &Table, section: &str) -> Vec<String> {
        let Some((_, node)) = table.get_entry("keep") else {
            return Vec::new();
        };
        if let Value::Bool(all) = node.value {
            return if all {
                vec!["*".to_string()]
            } else {
                Vec::new()
            };
        }
        let mut out = Vec::new();
        for (entry, span) in self.string_array(table, "keep", section) {
            let valid = entry == "*"
                || entry.split_once('/').is_some_and(|(kind, name)| {
                    kind.starts_with(|c: char| c.is_ascii_uppercase())
                        && kind.chars().all(|c| c.is_ascii_alphanumeric())
                        && !name.is_empty()
                        && !name.contains('/')
                });
            if valid {
                out.push(entry);
            } else {
                self.push(
                    Problem::new("keep", format!("bad keep entry `{entry}`"))
                        .label(span, "not a `Kind/NAME` selector")
                        .help("write `keep = true` (every object of the release) or `keep = [\"ConfigMap/settings\", \"Secret/*\"]`"),
                );
            }
        }
        out
    }

    fn string_array(&mut self, table: &Table, name: &str, section: &str) -> Vec<(String, Span)> {
        let Some((key, node)) = table.get_entry(name) else {
            return Vec::new();
        };
        let Value::Array(items) = &node.value else {
            self.wrong_type(key, node, section, "an array of strings");
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                Value::String(s) => out.push((s.clone(), item.span)),
                other => self.push(
                    Problem::new(
                        "type",
                        format!(
                            "`{name}` in {section} must hold strings, found {}",
                            other.type_name()
                        ),
                    )
                    .label(item.span, "expected a string"),
                ),
            }
        }
        out
    }

    fn entries_of<'t>(&mut self, root: &'t Table, section: &str) -> Vec<(&'t Key, &'t Table)> {
        let Some((key, node)) = root.get_entry(section) else {
            return Vec::new();
        };
        let Some(table) = self.table_of(key, node, "the top level") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in &table.entries {
            let label = format!("[{section}]");
            if let Some(t) = self.table_of(k, v, &label) {
                out.push((k, t));
            }
        }
        out
    }

    fn resolve_path(&self, relative: &str) -> PathBuf {
        normalize(&self.base_dir.join(relative))
    }

    // ---- env overlays ----------------------------------------------------------------------

    fn apply_env(&mut self, root: &mut Table, env: Option<&str>) -> Vec<String> {
        let mut envs = Vec::new();
        let mut overlays: Vec<(Key, Table)> = Vec::new();
        if let Some((env_key, env_node)) = root.remove("env")
            && let Some(table) = self.table_of(&env_key, &env_node, "the top level")
        {
            for (name, node) in &table.entries {
                let section = format!("[env.{}]", name.name);
                if let Some(overlay) = self.table_of(name, node, "[env]") {
                    let allowed: Vec<&str> =
                        SECTIONS.iter().copied().filter(|s| *s != "env").collect();
                    self.check_keys(overlay, &allowed, &section, "sections an overlay can set");
                    envs.push(name.name.clone());
                    overlays.push((name.clone(), overlay.clone()));
                }
            }
        }
        // Without --env, `[project] default_env` names the overlay a bare run uses.
        let mut default_span = None;
        let default_env = match env {
            Some(_) => None,
            None => root
                .get("project")
                .and_then(|p| match &p.value {
                    Value::Table(t) => t.get("default_env"),
                    _ => None,
                })
                .and_then(|n| match &n.value {
                    Value::String(s) => {
                        default_span = Some(n.span);
                        Some(s.clone())
                    }
                    _ => None,
                }),
        };
        self.default_env = default_env.clone();
        if let Some(wanted) = env.or(default_env.as_deref()) {
            match overlays.iter().position(|(k, _)| k.name == wanted) {
                Some(i) => {
                    let (_, mut overlay) = overlays.swap_remove(i);
                    overlay.entries.retain(|(k, _)| k.name != "env");
                    root.merge(overlay);
                }
                None => {
                    let names: Vec<&str> = envs.iter().map(String::as_str).collect();
                    let from = match default_span {
                        Some(_) => "[project] default_env",
                        None => "--env",
                    };
                    let mut problem = Problem::new(
                        "unknown-env",
                        format!("there is no environment `{wanted}` (from {from}) in this file"),
                    );
                    if let Some(span) = default_span {
                        problem = problem.label(span, "no [env.NAME] of this name");
                    }
                    for (key, _) in &overlays {
                        problem = problem.label(key.span, "an environment defined here");
                    }
                    let help = if names.is_empty() {
                        "this file defines no [env.NAME] overlays: drop --env, or add e.g. [env.prod]"
                            .to_string()
                    } else {
                        let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                        match did_you_mean(wanted, names.iter().copied()) {
                            Some(best) => format!(
                                "did you mean `{best}`? defined environments: {}",
                                list.join(", ")
                            ),
                            None => format!("defined environments: {}", list.join(", ")),
                        }
                    };
                    self.push(problem.help(help));
                }
            }
        }
        envs
    }

    // ---- variables -------------------------------------------------------------------------

    fn read_variables(
        &mut self,
        root: &Table,
        variable: &dyn Fn(&str) -> Option<String>,
    ) -> (IndexMap<String, String>, HashMap<String, Value>) {
        let mut vars = IndexMap::new();
        let mut typed = HashMap::new();
        for (key, table) in self.entries_of(root, "variables") {
            let section = format!("[variables.{}]", key.name);
            self.check_keys(
                table,
                &["default", "description"],
                &section,
                "keys of a variable",
            );
            let valid_name = key
                .name
                .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && key
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                self.push(
                    Problem::new("variable-name", format!("`{}` is not a valid variable name", key.name))
                        .label(key.span, "invalid name")
                        .help("variable names are letters, digits and `_`, starting with a letter or `_`, so they can be set as environment variables"),
                );
                continue;
            }
            let _ = self.string(table, "description", &section);
            let default = match table.get_entry("default") {
                None => None,
                Some((k, node)) => match &node.value {
                    Value::String(s) => {
                        if super::reference::has_reference(s) {
                            self.push(
                                Problem::new(
                                    "variable-reference",
                                    format!("the default of variable `{}` uses a reference", key.name),
                                )
                                .label(node.span, "references are not resolved here")
                                .help("variable defaults are plain values; write `$${` for a literal `${`"),
                            );
                        }
                        Some(s.replace("$${", "${"))
                    }
                    Value::Integer(i) => Some(i.to_string()),
                    Value::Float(f) => Some(f.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => {
                        self.wrong_type(k, node, &section, "a string, number or boolean");
                        None
                    }
                },
            };
            let default_node = table.get("default");
            let value = variable(&key.name).or(default);
            match value {
                Some(v) => {
                    if let Some(node) = default_node {
                        let parsed = match node.value {
                            Value::Integer(_) => {
                                Some(v.trim().parse::<i64>().ok().map(Value::Integer))
                            }
                            Value::Float(_) => Some(
                                v.trim()
                                    .parse::<f64>()
                                    .ok()
                                    .filter(|f| f.is_finite())
                                    .map(Value::Float),
                            ),
                            Value::Bool(_) => Some(v.trim().parse::<bool>().ok().map(Value::Bool)),
                            _ => None,
                        };
                        match parsed {
                            Some(Some(value)) => {
                                typed.insert(key.name.clone(), value);
                            }
                            Some(None) => self.push(
                                Problem::new(
                                    "variable-type",
                                    format!(
                                        "{VARIABLE_ENV_PREFIX}{} is `{v}`, but variable `{}` holds {}",
                                        key.name,
                                        key.name,
                                        node.value.type_name()
                                    ),
                                )
                                .label(node.span, "the default sets the type")
                                .help(format!("set {VARIABLE_ENV_PREFIX}{} to {}", key.name, node.value.type_name())),
                            ),
                            None => {}
                        }
                    }
                    vars.insert(key.name.clone(), v);
                }
                None => self.push(
                    Problem::new(
                        "variable-unset",
                        format!("variable `{}` has no value", key.name),
                    )
                    .label(key.span, "no default and not set in the environment")
                    .help(format!(
                        "export {VARIABLE_ENV_PREFIX}{}=VALUE, or give it a `default`",
                        key.name
                    )),
                ),
            }
        }
        (vars, typed)
    }

    // ---- static references -----------------------------------------------------------------

    /// Resolves `${var.*}`, `${project.name}`, `${cluster.namespace}` in every string under
    /// `node`, and records node references written in release values for later checks.
    fn substitute_node(
        &mut self,
        node: &mut Node,
        path: &mut Vec<String>,
        statics: &Statics,
        node_refs: &mut Vec<RawNodeRef>,
    ) {
        match &mut node.value {
            Value::String(s) if s.contains('$') => {
                let in_values = path.len() >= 3
                    && path.first().is_some_and(|p| p == "releases")
                    && path.get(2).is_some_and(|p| p == "values");
                let whole_var = s
                    .strip_prefix("${var.")
                    .and_then(|rest| rest.strip_suffix('}'))
                    .and_then(|name| statics.typed_vars.get(name));
                if in_values && let Some(typed) = whole_var {
                    node.value = typed.clone();
                } else if let Some(new) =
                    self.substitute_string(s, node.span, path, in_values, statics, node_refs)
                {
                    *s = new;
                }
            }
            Value::Array(items) => {
                for item in items.iter_mut() {
                    self.substitute_node(item, path, statics, node_refs);
                }
            }
            Value::Table(table) => {
                for (key, child) in table.entries.iter_mut() {
                    path.push(key.name.clone());
                    self.substitute_node(child, path, statics, node_refs);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    fn substitute_string(
        &mut self,
        s: &str,
        span: Span,
        path: &[String],
        in_values: bool,
        statics: &Statics,
        node_refs: &mut Vec<RawNodeRef>,
    ) -> Option<String> {
        let text = self.source.text.clone();
        let problems_before = self.problems.len();
        let pieces = match parse_template(s) {
            Ok(p) => p,
            Err(e) => {
                self.push(
                    Problem::new("reference-syntax", e.message.clone())
                        .label(span_within(&text, span, s, &e.range), "malformed reference")
                        .help("references look like `${images.backend.ref}`; write `$${` for a literal `${`"),
                );
                self.poisoned.insert(span);
                return None;
            }
        };
        // Inside values the string is interpolated again at apply time, so literal text keeps
        // its `$${` escapes there and only there.
        let escape = |t: &str| {
            if in_values {
                t.replace("${", "$${")
            } else {
                t.to_string()
            }
        };
        let mut out = String::with_capacity(s.len());
        for piece in pieces {
            let (ref_path, range) = match piece {
                Piece::Literal(t) => {
                    out.push_str(&escape(&t));
                    continue;
                }
                Piece::Reference { path, range } => (path, range),
            };
            let at = span_within(&text, span, s, &range);
            let written = s.get(range.clone()).unwrap_or_default().to_string();
            let root = ref_path.first().map(String::as_str).unwrap_or_default();
            match root {
                "var" => match ref_path.as_slice() {
                    [_, name] => match statics.vars.get(name) {
                        Some(v) => out.push_str(&escape(v)),
                        None => {
                            let names: Vec<&str> =
                                statics.vars.keys().map(String::as_str).collect();
                            let help = suggestion_help(name, &names, "defined variables are")
                                .unwrap_or_else(|| {
                                    format!("declare it: [variables.{name}] with a `default`")
                                });
                            self.push(
                                Problem::new(
                                    "unknown-variable",
                                    format!("`{written}` names no variable"),
                                )
                                .label(at, "unknown variable")
                                .help(help),
                            );
                        }
                    },
                    _ => self.push(
                        Problem::new(
                            "reference-shape",
                            format!("`{written}` is not a variable reference"),
                        )
                        .label(at, "expected `${var.NAME}`"),
                    ),
                },
                "project" | "cluster" => {
                    let (attribute, value) = if root == "project" {
                        ("name", statics.project_name.clone())
                    } else {
                        (
                            "namespace",
                            statics
                                .cluster_namespace
                                .clone()
                                .or(Some(super::DEFAULT_NAMESPACE.to_string())),
                        )
                    };
                    let in_itself = path.first().is_some_and(|p| p == root)
                        && path.get(1).is_some_and(|p| p == attribute);
                    match ref_path.as_slice() {
                        [_, a] if a == attribute && !in_itself => match value {
                            Some(v) => out.push_str(&escape(&v)),
                            None => out.push_str(&written),
                        },
                        [_, a] if a == attribute => self.push(
                            Problem::new("reference-self", format!("`{written}` refers to itself"))
                                .label(at, "write the value here"),
                        ),
                        [_, a] => self.push(
                            Problem::new("unknown-attribute", format!("`{root}` has no attribute `{a}`"))
                                .label(at, "unknown attribute")
                                .help(format!("the attribute of `{root}` is `{attribute}`: `${{{root}.{attribute}}}`")),
                        ),
                        _ => self.push(
                            Problem::new("reference-shape", format!("`{written}` is not a reference to {root}"))
                                .label(at, format!("expected `${{{root}.{attribute}}}`")),
                        ),
                    }
                }
                "images" | "secrets" | "releases" => {
                    if in_values {
                        node_refs.push(RawNodeRef {
                            release: path.get(1).cloned().unwrap_or_default(),
                            path: ref_path,
                            span: at,
                        });
                        out.push_str(&written);
                    } else {
                        self.push(
                            Problem::new(
                                "reference-place",
                                format!("`{written}` can only be used inside [releases.NAME.values]"),
                            )
                            .label(at, "not allowed here")
                            .help("images, secrets and releases are known only while applying; outside release values use `${var.NAME}`, `${project.name}` or `${cluster.namespace}`"),
                        );
                    }
                }
                other => {
                    let help = suggestion_help(other, &REFERENCE_ROOTS, "references start with");
                    self.push(
                        Problem::new(
                            "unknown-reference",
                            format!("`{written}` refers to unknown `{other}`"),
                        )
                        .label(at, "unknown reference target")
                        .maybe_help(help),
                    );
                }
            }
        }
        if self.problems.len() > problems_before {
            self.poisoned.insert(span);
            return None;
        }
        Some(out)
    }

    fn check_node_refs(
        &mut self,
        refs: Vec<RawNodeRef>,
        secrets: &IndexMap<String, SecretSet>,
        releases: &mut IndexMap<String, Release>,
    ) {
        let declared_images = self.declared_images.clone();
        let declared_releases = self.declared_releases.clone();
        let image_set: HashSet<&str> = declared_images.iter().map(String::as_str).collect();
        let release_set: HashSet<&str> = declared_releases.iter().map(String::as_str).collect();
        for raw in refs {
            let written = format!("${{{}}}", raw.path.join("."));
            let root = raw.path.first().map(String::as_str).unwrap_or_default();
            let (attributes, singular): (&[&str], &str) = match root {
                "images" => (&IMAGE_ATTRIBUTES, "image"),
                "secrets" => (&SECRET_ATTRIBUTES, "secret"),
                _ => (&RELEASE_ATTRIBUTES, "release"),
            };
            let Some(name) = raw.path.get(1) else {
                self.push(
                    Problem::new(
                        "reference-shape",
                        format!("`{written}` names no {singular}"),
                    )
                    .label(raw.span, format!("expected `${{{root}.NAME.ATTRIBUTE}}`")),
                );
                continue;
            };
            let declared = match root {
                "images" => image_set.contains(name.as_str()),
                "secrets" => secrets.contains_key(name.as_str()),
                _ => release_set.contains(name.as_str()),
            };
            if !declared && root == "releases" && self.disabled_span(name).is_some() {
                let at = self.disabled_span(name).unwrap_or(raw.span);
                self.push(
                    Problem::new(
                        "disabled-target",
                        format!("`{written}` refers to release `{name}`, which is disabled (enabled = false)"),
                    )
                    .label(raw.span, "this release would use it")
                    .label(at, "disabled here")
                    .help(format!("enable `{name}` here too, or disable release `{}` as well", raw.release)),
                );
                continue;
            }
            if !declared {
                let names: Vec<&str> = match root {
                    "images" => declared_images.iter().map(String::as_str).collect(),
                    "secrets" => secrets.keys().map(String::as_str).collect(),
                    _ => declared_releases.iter().map(String::as_str).collect(),
                };
                let help = suggestion_help(name, &names, &format!("defined {root} are"))
                    .unwrap_or_else(|| format!("there are no [{root}.NAME] tables in this file"));
                self.push(
                    Problem::new(
                        "unknown-target",
                        format!("`{written}` refers to {singular} `{name}`, which is not defined"),
                    )
                    .label(raw.span, format!("no [{root}.{name}]"))
                    .help(help),
                );
                continue;
            }
            let valid: Vec<String> = attributes.iter().map(|a| format!("`{a}`")).collect();
            let attribute = match raw.path.as_slice() {
                [_, _, attribute] => attribute.clone(),
                [_, _] => {
                    self.push(
                        Problem::new(
                            "missing-attribute",
                            format!("`{written}` names no attribute"),
                        )
                        .label(raw.span, "which attribute?")
                        .help(format!(
                            "{} has {}: e.g. `${{{root}.{name}.{}}}`",
                            with_article(singular),
                            valid.join(", "),
                            attributes.first().copied().unwrap_or("name")
                        )),
                    );
                    continue;
                }
                _ => {
                    self.push(
                        Problem::new(
                            "unknown-attribute",
                            format!(
                                "`{written}` goes deeper than {}'s attributes",
                                with_article(singular)
                            ),
                        )
                        .label(raw.span, "too many parts")
                        .help(secret_key_help(root, name, &valid)),
                    );
                    continue;
                }
            };
            if !attributes.contains(&attribute.as_str()) {
                let help = match did_you_mean(&attribute, attributes.iter().copied()) {
                    Some(best) => format!(
                        "did you mean `{best}`? {} has {}",
                        with_article(singular),
                        valid.join(", ")
                    ),
                    None => secret_key_help(root, name, &valid),
                };
                self.push(
                    Problem::new(
                        "unknown-attribute",
                        format!("{singular} `{name}` has no attribute `{attribute}`"),
                    )
                    .label(raw.span, "unknown attribute")
                    .help(help),
                );
                continue;
            }
            let target = match root {
                "images" => Address::Image(name.clone()),
                "secrets" => Address::Secret(name.clone()),
                _ => Address::Release(name.clone()),
            };
            if let (Address::Secret(s), Some(release)) = (&target, releases.get(&raw.release))
                && let Some(secret) = secrets.get(s)
                && secret.namespace != release.namespace
            {
                self.push(
                    Problem::new(
                        "namespace-mismatch",
                        format!(
                            "release `{}` (namespace `{}`) uses secret `{s}` from namespace `{}`",
                            release.name, release.namespace, secret.namespace
                        ),
                    )
                    .label(raw.span, "a pod cannot read a Secret in another namespace")
                    .label(
                        secret.span,
                        format!("secret `{s}` is in `{}`", secret.namespace),
                    )
                    .help("put the secret and the release in the same namespace"),
                );
            }
            if let Some(release) = releases.get_mut(&raw.release) {
                release.references.push(Reference {
                    target,
                    attribute,
                    span: raw.span,
                });
            }
        }
    }

    fn check_depends_on(
        &mut self,
        root: &Table,
        secrets: &IndexMap<String, SecretSet>,
        releases: &mut IndexMap<String, Release>,
    ) {
        let mut known: Vec<String> = self
            .declared_images
            .iter()
            .map(|n| format!("image.{n}"))
            .chain(secrets.keys().map(|n| format!("secret.{n}")))
            .chain(
                self.declared_releases
                    .iter()
                    .map(|n| format!("release.{n}")),
            )
            .collect();
        let namespaces: Vec<String> = secrets
            .values()
            .map(|s| s.namespace.clone())
            .chain(releases.values().map(|r| r.namespace.clone()))
            .collect();
        let mut known_set: HashSet<String> = known.iter().cloned().collect();
        for ns in namespaces {
            let a = format!("namespace.{ns}");
            if known_set.insert(a.clone()) {
                known.push(a);
            }
        }
        let known_refs: Vec<&str> = known.iter().map(String::as_str).collect();
        let Some(Value::Table(release_tables)) = root.get("releases").map(|n| &n.value) else {
            return;
        };
        for (key, node) in &release_tables.entries {
            let Value::Table(table) = &node.value else {
                continue;
            };
            let section = format!("[releases.{}]", key.name);
            for (written, span) in self.string_array(table, "depends_on", &section) {
                let address = match written.parse::<Address>() {
                    Ok(a) => a,
                    Err(e) => {
                        let same_name = known_refs
                            .iter()
                            .find(|a| a.split_once('.').is_some_and(|(_, n)| n == written))
                            .copied();
                        let help = match same_name
                            .or_else(|| did_you_mean(&written, known_refs.iter().copied()))
                        {
                            Some(best) => format!("did you mean `{best}`?"),
                            None => "write an address such as `release.postgres`, `image.backend` or `secret.app`".into(),
                        };
                        self.push(
                            Problem::new(
                                "depends-on-address",
                                format!("depends_on entry `{written}` is not an address"),
                            )
                            .label(span, e.message)
                            .help(help),
                        );
                        continue;
                    }
                };
                if matches!(address, Address::Object { .. }) {
                    self.push(
                        Problem::new(
                            "depends-on-object",
                            "depends_on names whole nodes, not objects inside a release",
                        )
                        .label(span, "an object address")
                        .help(format!(
                            "depend on the release instead: `release.{}`",
                            address.release().unwrap_or_default()
                        )),
                    );
                    continue;
                }
                let text = address.to_string();
                if let Address::Release(target) = &address
                    && let Some(at) = self.disabled_span(target)
                {
                    self.push(
                        Problem::new(
                            "disabled-target",
                            format!(
                                "depends_on names `{text}`, which is disabled (enabled = false)"
                            ),
                        )
                        .label(span, "depends on it")
                        .label(at, "disabled here")
                        .help(format!(
                            "enable `{target}` here too, or remove it from depends_on"
                        )),
                    );
                    continue;
                }
                if !known_set.contains(&text) {
                    let help = suggestion_help(&text, &known_refs, "nodes are")
                        .unwrap_or_else(|| "this spec defines no nodes of that kind".into());
                    self.push(
                        Problem::new(
                            "depends-on-unknown",
                            format!("depends_on names `{text}`, which is not defined"),
                        )
                        .label(span, "unknown node")
                        .help(help),
                    );
                    continue;
                }
                if let Some(release) = releases.get_mut(&key.name) {
                    release.depends_on.push(address);
                    release.depends_on_spans.push(span);
                }
            }
        }
    }

    // ---- sections --------------------------------------------------------------------------

    fn read_project(&mut self, root: &Table) -> Option<Project> {
        let Some((key, node)) = root.get_entry("project") else {
            self.push(
                Problem::new(
                    "missing-section",
                    "todo.toml needs a [project] table with a `name`",
                )
                .label(Span::new(0, 0), "add [project] here")
                .help("[project]\nname = \"todo\""),
            );
            return None;
        };
        let table = self.table_of(key, node, "the top level")?;
        self.check_keys(
            table,
            &["name", "default_env"],
            "[project]",
            "keys of [project]",
        );
        if let Some((k, n)) = table.get_entry("default_env")
            && !matches!(n.value, Value::String(_))
        {
            self.wrong_type(k, n, "[project]", "a string naming an [env.NAME]");
        }
        let (name, span) = self.required_string(
            table,
            "name",
            "[project]",
            key.span,
            "name = \"todo\" (used in labels, image names and state)",
        )?;
        if !is_dns_label(&name) || name.len() > 40 {
            self.push(
                Problem::new("project-name", format!("project name `{name}` cannot be used in Kubernetes names"))
                    .label(span, "invalid project name")
                    .help("use 1-40 lower-case letters, digits and `-`, starting and ending with a letter or digit"),
            );
            return None;
        }
        Some(Project { name })
    }

    fn read_cluster(&mut self, root: &Table) -> Cluster {
        let mut cluster = Cluster {
            context: None,
            namespace: DEFAULT_NAMESPACE.to_string(),
            delivery: None,
            registry: None,
        };
        let Some((key, node)) = root.get_entry("cluster") else {
            return cluster;
        };
        let Some(table) = self.table_of(key, node, "the top level") else {
            return cluster;
        };
        let section = "[cluster]";
        self.check_keys(
            table,
            &["context", "namespace", "delivery", "registry"],
            section,
            "keys of [cluster]",
        );
        cluster.context = self.string(table, "context", section).map(|(s, _)| s);
        if let Some((ns, span)) = self.string(table, "namespace", section) {
            self.check_namespace(&ns, span);
            cluster.namespace = ns;
        }
        let registry = self.string(table, "registry", section);
        if let Some((registry, span)) = &registry {
            let valid = !registry.is_empty()
                && !registry.contains("://")
                && !registry.chars().any(|c| c.is_whitespace())
                && !registry.ends_with('/');
            if !valid {
                self.push(
                    Problem::new("registry", format!("`{registry}` is not a registry address"))
                        .label(*span, "expected HOST[:PORT][/PATH]")
                        .help("write the address without a scheme, e.g. \"127.0.0.1:5555\" or \"ghcr.io/acme\""),
                );
            }
            cluster.registry = Some(registry.clone());
        }
        if let Some((delivery, span)) = self.string(table, "delivery", section) {
            let parsed = match delivery.as_str() {
                "registry" => Some(Delivery::Registry),
                "minikube" => Some(Delivery::Minikube),
                "kind" => Some(Delivery::Kind),
                "none" => Some(Delivery::None),
                _ => None,
            };
            match parsed {
                None => {
                    let help = suggestion_help(&delivery, &Delivery::NAMES, "delivery is one of");
                    self.push(
                        Problem::new("delivery", format!("`{delivery}` is not an image delivery"))
                            .label(span, "unknown delivery")
                            .maybe_help(help),
                    );
                }
                Some(Delivery::Registry) if registry.is_none() => self.push(
                    Problem::new(
                        "registry-missing",
                        "delivery = \"registry\" needs a `registry` address",
                    )
                    .label(span, "no registry given")
                    .help("add e.g. registry = \"127.0.0.1:5555\" to [cluster]"),
                ),
                Some(other) if other != Delivery::Registry && registry.is_some() => {
                    let at = registry.as_ref().map(|(_, s)| *s).unwrap_or(span);
                    self.push(
                        Problem::new("registry-unused", format!("`registry` is only used with delivery = \"registry\", not \"{delivery}\""))
                            .label(at, "ignored with this delivery")
                            .label(span, "delivery set here")
                            .help("remove `registry`, or set delivery = \"registry\""),
                    );
                }
                Some(d) => cluster.delivery = Some(d),
            }
        } else if cluster.registry.is_some() {
            cluster.delivery = Some(Delivery::Registry);
        }
        cluster
    }

    fn check_namespace(&mut self, ns: &str, span: Span) -> bool {
        if is_dns_label(ns) {
            return true;
        }
        self.push(
            Problem::new("namespace-name", format!("`{ns}` is not a valid namespace name"))
                .label(span, "invalid namespace")
                .help("namespaces are 1-63 lower-case letters, digits and `-`, starting and ending with a letter or digit"),
        );
        false
    }

    fn read_state(
        &mut self,
        root: &Table,
        cluster: &Cluster,
        project: Option<&str>,
    ) -> StateConfig {
        let default_dir = self.resolve_path("state");
        let Some((key, node)) = root.get_entry("state") else {
            return StateConfig::Local { dir: default_dir };
        };
        let Some(table) = self.table_of(key, node, "the top level") else {
            return StateConfig::Local { dir: default_dir };
        };
        let section = "[state]";
        let backend = self.string(table, "backend", section);
        match backend.as_ref().map(|(b, s)| (b.as_str(), *s)) {
            None | Some(("local", _)) => {
                self.check_keys(
                    table,
                    &["backend", "dir"],
                    section,
                    "keys of a local [state]",
                );
                let dir = self
                    .string(table, "dir", section)
                    .map(|(d, _)| self.resolve_path(&d))
                    .unwrap_or(default_dir);
                StateConfig::Local { dir }
            }
            Some(("kubernetes", _)) => {
                self.check_keys(
                    table,
                    &["backend", "namespace", "name"],
                    section,
                    "keys of a kubernetes [state]",
                );
                let namespace = match self.string(table, "namespace", section) {
                    Some((ns, span)) => {
                        self.check_namespace(&ns, span);
                        ns
                    }
                    None => cluster.namespace.clone(),
                };
                let name = match self.string(table, "name", section) {
                    Some((name, span)) => {
                        if !is_dns_subdomain(&name) {
                            self.push(
                                Problem::new(
                                    "state-name",
                                    format!("`{name}` is not a valid Secret name"),
                                )
                                .label(span, "invalid name"),
                            );
                        }
                        name
                    }
                    None => format!("{}-state", project.unwrap_or("todoplan")),
                };
                StateConfig::Kubernetes { namespace, name }
            }
            Some((other, span)) => {
                let help = suggestion_help(other, &["local", "kubernetes"], "backends are");
                self.push(
                    Problem::new("state-backend", format!("`{other}` is not a state backend"))
                        .label(span, "unknown backend")
                        .maybe_help(help),
                );
                StateConfig::Local { dir: default_dir }
            }
        }
    }

    fn read_checks(&mut self, root: &Table) -> ChecksConfig {
        let mut config = ChecksConfig::default();
        let Some((key, node)) = root.get_entry("checks") else {
            return config;
        };
        let Some(table) = self.table_of(key, node, "the top level") else {
            return config;
        };
        let section = "[checks]";
        self.check_keys(table, &["ignore"], section, "keys of [checks]");
        let Some((key, node)) = table.get_entry("ignore") else {
            return config;
        };
        let Value::Array(items) = &node.value else {
            self.wrong_type(key, node, section, "an array");
            return config;
        };
        let ids: Vec<&str> = super::checks_config::check_ids().collect();
        let entry_help = format!(
            "write \"ID\" or \"ID:ADDRESS\" (ADDRESS may end in `*`), or {{ finding = \"ID:ADDRESS\", reason = \"why\" }}; check ids: {}",
            ids.join(", ")
        );
        for item in items {
            let (entry, span, reason) = match &item.value {
                Value::String(s) => (s.clone(), item.span, None),
                Value::Table(t) => {
                    self.check_keys(
                        t,
                        &["finding", "reason"],
                        "an ignore entry",
                        "keys of an ignore entry",
                    );
                    let reason = self.string(t, "reason", "an ignore entry").map(|(r, _)| r);
                    match self.string(t, "finding", "an ignore entry") {
                        Some((f, span)) => (f, span, reason),
                        None => {
                            self.push(
                                Problem::new("checks-ignore", "an ignore entry needs `finding`")
                                    .label(item.span, "no `finding` here")
                                    .help(entry_help.clone()),
                            );
                            continue;
                        }
                    }
                }
                other => {
                    self.push(
                        Problem::new(
                            "type",
                            format!(
                                "`ignore` in [checks] must hold strings or tables, found {}",
                                other.type_name()
                            ),
                        )
                        .label(item.span, "expected a string")
                        .help(entry_help.clone()),
                    );
                    continue;
                }
            };
            match super::checks_config::IgnoreRule::parse(&entry) {
                Ok(mut rule) => {
                    rule.reason = reason;
                    config.ignore.push(rule);
                }
                Err(message) => self.push(
                    Problem::new("checks-ignore", message)
                        .label(span, "not a check to ignore")
                        .help(entry_help.clone()),
                ),
            }
        }
        config
    }

    fn read_images(&mut self, root: &Table) -> IndexMap<String, Image> {
        let mut images = IndexMap::new();
        for (key, table) in self.entries_of(root, "images") {
            let section = format!("[images.{}]", key.name);
            self.declared_images.push(key.name.clone());
            self.check_keys(
                table,
                &["context", "dockerfile", "build_args", "target", "platform"],
                &section,
                "keys of an image",
            );
            let name_ok = key.name.len() <= 128
                && key
                    .name
                    .starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && key
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
            if !name_ok {
                self.push(
                    Problem::new("image-name", format!("`{}` cannot name an image", key.name))
                        .label(key.span, "invalid image name")
                        .help("image names are lower-case letters, digits, `.`, `_` and `-`, starting with a letter or digit"),
                );
            }
            let context = self.required_string(
                table,
                "context",
                &section,
                key.span,
                "context = \"app/backend\" (the directory sent to the image build)",
            );
            let context = context.and_then(|(c, span)| {
                let path = self.resolve_path(&c);
                if path.is_dir() {
                    Some(path)
                } else {
                    self.push(
                        Problem::new(
                            "missing-context",
                            format!("build context `{c}` is not a directory"),
                        )
                        .label(span, format!("{} does not exist", path.display()))
                        .help("paths are relative to the directory holding todo.toml"),
                    );
                    None
                }
            });
            let dockerfile = match (self.string(table, "dockerfile", &section), &context) {
                (Some((d, span)), Some(ctx)) => {
                    let path = normalize(&ctx.join(&d));
                    if path.is_file() {
                        Some(path)
                    } else {
                        self.push(
                            Problem::new(
                                "missing-dockerfile",
                                format!("dockerfile `{d}` does not exist"),
                            )
                            .label(span, format!("{} is not a file", path.display()))
                            .help("`dockerfile` is relative to the build context"),
                        );
                        None
                    }
                }
                (None, Some(ctx)) => {
                    let path = ctx.join("Dockerfile");
                    if path.is_file() {
                        Some(path)
                    } else {
                        self.push(
                            Problem::new("missing-dockerfile", format!("the build context of image `{}` has no Dockerfile", key.name))
                                .label(table.get("context").map(|n| n.span).unwrap_or(key.span), format!("no {}", path.display()))
                                .help("add a Dockerfile there, or set `dockerfile` (relative to the context)"),
                        );
                        None
                    }
                }
                _ => None,
            };
            let mut build_args = IndexMap::new();
            if let Some((k, node)) = table.get_entry("build_args")
                && let Some(args) = self.table_of(k, node, &section)
            {
                for (arg, value) in &args.entries {
                    let v = match &value.value {
                        Value::String(s) => s.clone(),
                        Value::Integer(i) => i.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Float(f) => f.to_string(),
                        _ => {
                            self.wrong_type(
                                arg,
                                value,
                                &format!("{section}.build_args"),
                                "a string",
                            );
                            continue;
                        }
                    };
                    build_args.insert(arg.name.clone(), v);
                }
            }
            let target = self.string(table, "target", &section).map(|(s, _)| s);
            let platform = self.string(table, "platform", &section).map(|(s, _)| s);
            if let (Some(context), Some(dockerfile)) = (context, dockerfile) {
                images.insert(
                    key.name.clone(),
                    Image {
                        name: key.name.clone(),
                        context,
                        dockerfile,
                        build_args,
                        target,
                        platform,
                        span: key.span,
                    },
                );
            }
        }
        images
    }

    fn read_secrets(
        &mut self,
        root: &Table,
        cluster: &Cluster,
        project: Option<&str>,
    ) -> IndexMap<String, SecretSet> {
        let mut secrets: IndexMap<String, SecretSet> = IndexMap::new();
        let mut k8s_names: HashMap<(String, String), (String, Span)> = HashMap::new();
        for (key, table) in self.entries_of(root, "secrets") {
            let section = format!("[secrets.{}]", key.name);
            self.check_keys(
                table,
                &["name", "namespace", "keys"],
                &section,
                "keys of a secret set",
            );
            let namespace = match self.string(table, "namespace", &section) {
                Some((ns, span)) => {
                    self.check_namespace(&ns, span);
                    ns
                }
                None => cluster.namespace.clone(),
            };
            let (k8s_name, name_span) = match self.string(table, "name", &section) {
                Some((n, span)) => (n, span),
                None => (
                    format!("{}-{}", project.unwrap_or("todo"), key.name),
                    key.span,
                ),
            };
            if !is_dns_subdomain(&k8s_name) {
                let help = if table.get("name").is_some() {
                    "Secret names are lower-case letters, digits, `-` and `.`".to_string()
                } else {
                    format!(
                        "the Secret would be named `{k8s_name}` (project name + table key); set `name = \"...\"` to a valid name"
                    )
                };
                self.push(
                    Problem::new(
                        "secret-name",
                        format!("`{k8s_name}` is not a valid Kubernetes Secret name"),
                    )
                    .label(name_span, "invalid Secret name")
                    .help(help),
                );
            } else if let Some((other, other_span)) =
                k8s_names.get(&(namespace.clone(), k8s_name.clone()))
            {
                self.push(
                    Problem::new(
                        "duplicate-secret",
                        format!("secrets `{other}` and `{}` both create Secret `{k8s_name}` in namespace `{namespace}`", key.name),
                    )
                    .label(name_span, "second use of the name")
                    .label(*other_span, "first defined here")
                    .help("give one of them a different `name`"),
                );
            } else {
                k8s_names.insert(
                    (namespace.clone(), k8s_name.clone()),
                    (key.name.clone(), name_span),
                );
            }
            let mut keys = IndexMap::new();
            let mut key_spans = IndexMap::new();
            match table.get_entry("keys") {
                None => self.push(
                    Problem::new("secret-no-keys", format!("{section} has no `keys`"))
                        .label(key.span, "no keys")
                        .help(format!("add [secrets.{}.keys] with e.g. JWT_SECRET_KEY = {{ generate = true }}", key.name)),
                ),
                Some((k, node)) => {
                    if let Some(entries) = self.table_of(k, node, &section) {
                        if entries.entries.is_empty() {
                            self.push(
                                Problem::new("secret-no-keys", format!("{section} has an empty `keys` table"))
                                    .label(node.span, "no keys")
                                    .help("a Secret needs at least one key"),
                            );
                        }
                        for (data_key, source) in &entries.entries {
                            if let Some(parsed) = self.read_secret_source(&key.name, data_key, source) {
                                keys.insert(data_key.name.clone(), parsed);
                                key_spans.insert(data_key.name.clone(), source.span);
                            }
                        }
                    }
                }
            }
            secrets.insert(
                key.name.clone(),
                SecretSet {
                    name: key.name.clone(),
                    k8s_name,
                    namespace,
                    keys,
                    key_spans,
                    span: key.span,
                },
            );
        }
        secrets
    }

    fn read_secret_source(&mut self, set: &str, key: &Key, node: &Node) -> Option<SecretSource> {
        let section = format!("[secrets.{set}.keys]");
        let key_ok = !key.name.is_empty()
            && key.name.len() <= 253
            && key
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
        if !key_ok {
            self.push(
                Problem::new(
                    "secret-key-name",
                    format!("`{}` cannot be a Secret key", key.name),
                )
                .label(key.span, "invalid key")
                .help("Secret keys are letters, digits, `-`, `_` and `.`"),
            );
        }
        let table = match &node.value {
            Value::Table(t) => t,
            Value::String(_) | Value::Integer(_) | Value::Float(_) | Value::Bool(_) => {
                self.push(
                    Problem::new(
                        "literal-secret",
                        format!("secret value `{}` is written in the file", key.name),
                    )
                    .label(node.span, "a literal secret would be committed to git")
                    .help(format!(
                        "name where the value comes from instead: {} = {{ env = \"VAR\" }} (an environment variable), {{ file = \"path\" }} (a file kept out of git), or {{ generate = true }} (random, created once)",
                        key.name
                    )),
                );
                return None;
            }
            _ => {
                self.wrong_type(key, node, &section, "a table such as { env = \"VAR\" }");
                return None;
            }
        };
        let inner = format!("{section} {}", key.name);
        self.check_keys(
            table,
            &["env", "file", "generate", "existing", "length"],
            &inner,
            "sources of a secret key",
        );
        let sources: Vec<&str> = ["env", "file", "generate", "existing"]
            .into_iter()
            .filter(|s| table.get(s).is_some())
            .collect();
        let has_unknown = table.entries.iter().any(|(k, _)| {
            !["env", "file", "generate", "existing", "length"].contains(&k.name.as_str())
        });
        match sources.as_slice() {
            // The unknown-key problem already explains why no source was found.
            [] if has_unknown => None,
            [] => {
                self.push(
                    Problem::new(
                        "secret-source",
                        format!("secret key `{}` names no source", key.name),
                    )
                    .label(node.span, "no env, file, generate or existing")
                    .help("give exactly one of: env = \"VAR\", file = \"path\", generate = true, existing = true"),
                );
                None
            }
            [_, second, ..] => {
                let span = table
                    .get_entry(second)
                    .map(|(k, _)| k.span)
                    .unwrap_or(node.span);
                self.push(
                    Problem::new(
                        "secret-source",
                        format!("secret key `{}` names more than one source", key.name),
                    )
                    .label(span, "second source")
                    .help("give exactly one of: env, file, generate, existing"),
                );
                None
            }
            [one] => {
                if *one != "generate"
                    && let Some((k, _)) = table.get_entry("length")
                {
                    self.push(
                        Problem::new("secret-length", "`length` only applies to generated values")
                            .label(k.span, "not used with this source")
                            .help("remove `length`, or use generate = true"),
                    );
                }
                match *one {
                    "env" => {
                        let (var, span) = self.string(table, "env", &inner)?;
                        let ok = !var.is_empty()
                            && !var.contains('=')
                            && !var.contains('\0')
                            && !var.chars().any(char::is_whitespace);
                        if !ok {
                            self.push(
                                Problem::new(
                                    "secret-env",
                                    format!("`{var}` is not an environment variable name"),
                                )
                                .label(span, "invalid name"),
                            );
                            return None;
                        }
                        Some(SecretSource::Env { var })
                    }
                    "file" => {
                        let (path, _) = self.string(table, "file", &inner)?;
                        Some(SecretSource::File {
                            path: self.resolve_path(&path),
                        })
                    }
                    "existing" => {
                        self.source_switch(table, "existing", &inner, "use existing = true to keep the value the cluster's Secret holds, or env/file/generate")?;
                        Some(SecretSource::Existing)
                    }
                    _ => {
                        self.source_switch(
                            table,
                            "generate",
                            &inner,
                            "use generate = true, or env/file instead",
                        )?;
                        let length = match table.get_entry("length") {
                            None => DEFAULT_GENERATED_LENGTH,
                            Some((lk, ln)) => match ln.value {
                                Value::Integer(l)
                                    if l >= 16 && l as u64 <= MAX_GENERATED_LENGTH as u64 =>
                                {
                                    l as usize
                                }
                                Value::Integer(_) => {
                                    self.push(
                                        Problem::new("secret-length", format!("`length` must be between 16 and {MAX_GENERATED_LENGTH}"))
                                            .label(ln.span, "out of range")
                                            .help("generated secrets shorter than 16 characters are too easy to guess"),
                                    );
                                    return None;
                                }
                                _ => {
                                    self.wrong_type(lk, ln, &inner, "an integer");
                                    return None;
                                }
                            },
                        };
                        Some(SecretSource::Generate { length })
                    }
                }
            }
        }
    }

    /// A source named by a switch (`generate = true`, `existing = true`): `Some` when it is
    /// on; off (it names no source) or not a boolean is a problem at the value.
    fn source_switch(&mut self, table: &Table, name: &str, inner: &str, help: &str) -> Option<()> {
        let (k, n) = table.get_entry(name)?;
        match n.value {
            Value::Bool(true) => Some(()),
            Value::Bool(false) => {
                self.push(
                    Problem::new("secret-source", format!("{name} = false names no source"))
                        .label(n.span, "false")
                        .help(help),
                );
                None
            }
            _ => {
                self.wrong_type(k, n, inner, "true");
                None
            }
        }
    }

    /// Takes every release whose `enabled` is false out of the tree, so nothing of it is read,
    /// rendered or applied (what it applied before is destroyed like a removed release's).
    fn take_disabled_releases(&mut self, root: &mut Table) {
        let Some(Value::Table(releases)) = root.get_mut("releases").map(|n| &mut n.value) else {
            return;
        };
        let mut disabled = Vec::new();
        for (key, node) in &releases.entries {
            let Value::Table(table) = &node.value else {
                continue;
            };
            let Some((k, enabled)) = table.get_entry("enabled") else {
                continue;
            };
            match enabled.value {
                Value::Bool(true) => {}
                Value::Bool(false) => disabled.push((key.name.clone(), enabled.span)),
                _ => {
                    let section = format!("[releases.{}]", key.name);
                    self.wrong_type(k, enabled, &section, "a boolean (true or false)");
                }
            }
        }
        releases
            .entries
            .retain(|(key, _)| !disabled.iter().any(|(name, _)| *name == key.name));
        self.disabled_releases = disabled;
    }

    fn disabled_span(&self, release: &str) -> Option<Span> {
        self.disabled_releases
            .iter()
            .find(|(name, _)| name == release)
            .map(|(_, span)| *span)
    }

    fn read_releases(&mut self, root: &Table, cluster: &Cluster) -> IndexMap<String, Release> {
        let mut releases = IndexMap::new();
        for (key, table) in self.entries_of(root, "releases") {
            let section = format!("[releases.{}]", key.name);
            self.declared_releases.push(key.name.clone());
            self.check_keys(
                table,
                &[
                    "chart",
                    "version",
                    "repository",
                    "values",
                    "values_files",
                    "namespace",
                    "depends_on",
                    "protect",
                    "crds",
                    "keep",
                    "timeout",
                    "ignore_changes",
                    "checks",
                    "enabled",
                ],
                &section,
                "keys of a release",
            );
            let mut ok = true;
            if !is_dns_label(&key.name) || key.name.len() > 53 {
                self.push(
                    Problem::new("release-name", format!("`{}` cannot be a release name", key.name))
                        .label(key.span, "invalid release name")
                        .help("release names are 1-53 lower-case letters, digits and `-` (Helm's rule), starting and ending with a letter or digit"),
                );
                ok = false;
            }
            let chart = self.required_string(
                table,
                "chart",
                &section,
                key.span,
                "chart = \"charts/backend\" (a Helm chart directory or a directory of manifests)",
            );
            let repository = self.string(table, "repository", &section);
            let version = self.string(table, "version", &section);
            let chart = chart.and_then(|(c, span)| {
                let path = match crate::chart::source::ChartSource::parse(
                    &c,
                    repository.as_ref().map(|(r, _)| r.as_str()),
                ) {
                    Err(why) => {
                        self.push(
                            Problem::new("chart-source", format!("chart `{c}` of release `{}`: {why}", key.name))
                                .label(span, "not a chart this release can use")
                                .help("a chart is a directory relative to todo.toml, `oci://HOST/PATH/NAME` with `version`, or a name with `repository = \"https://...\"` and `version`"),
                        );
                        return None;
                    }
                    Ok(None) => {
                        if let Some((_, vspan)) = &version {
                            self.push(
                                Problem::new("chart-version", "`version` applies to a chart from a repository")
                                    .label(*vspan, "a local chart directory has no version to choose")
                                    .help("remove `version`, or name a chart with `oci://...` or `repository`"),
                            );
                        }
                        self.resolve_path(&c)
                    }
                    Ok(Some(source)) => {
                        let (constraint, cspan) = version
                            .clone()
                            .unwrap_or_else(|| ("*".to_string(), span));
                        match self.remote_chart(&source, &constraint) {
                            Ok(path) => path,
                            Err(e) if e.locked => {
                                self.push(
                                    Problem::new("chart-lock-locked", format!("release `{}`: {}", key.name, e.message))
                                        .label(if version.is_some() { cspan } else { span }, format!("{constraint:?} is not locked"))
                                        .help(e.help),
                                );
                                return None;
                            }
                            Err(e) => {
                                self.push(
                                    Problem::new("chart-source", e.message)
                                        .label(if version.is_some() { cspan } else { span }, format!("resolving {constraint:?}"))
                                        .help(e.help),
                                );
                                return None;
                            }
                        }
                    }
                };
                match self.chart_kind(&path) {
                    Ok(kind) => Some((path, kind, span)),
                    Err(why) => {
                        self.push(
                            Problem::new("missing-chart", format!("chart `{c}` of release `{}` {why}", key.name))
                                .label(span, format!("{} {why}", path.display()))
                                .help("`chart` is a directory with Chart.yaml (Helm layout) or with plain .yaml manifests, relative to todo.toml"),
                        );
                        None
                    }
                }
            });
            let values = match table.get_entry("values") {
                None => Json::Object(serde_json::Map::new()),
                Some((k, node)) => match &node.value {
                    Value::Table(_) => self.values_json(node),
                    _ => {
                        self.wrong_type(k, node, &section, "a table");
                        Json::Null
                    }
                },
            };
            let mut values_files = Vec::new();
            for (file, span) in self.string_array(table, "values_files", &section) {
                let path = self.resolve_path(&file);
                if path.is_file() {
                    values_files.push(path);
                } else {
                    self.push(
                        Problem::new(
                            "missing-values-file",
                            format!("values file `{file}` does not exist"),
                        )
                        .label(span, format!("{} is not a file", path.display()))
                        .help("values files are relative to the directory holding todo.toml"),
                    );
                }
            }
            let namespace = match self.string(table, "namespace", &section) {
                Some((ns, span)) => {
                    self.check_namespace(&ns, span);
                    ns
                }
                None => cluster.namespace.clone(),
            };
            let protect = self.bool(table, "protect", &section).unwrap_or(false);
            let crds = match self.string(table, "crds", &section) {
                None => CrdPolicy::Apply,
                Some((policy, span)) => match policy.as_str() {
                    "apply" => CrdPolicy::Apply,
                    "skip" => CrdPolicy::Skip,
                    other => {
                        self.push(
                            Problem::new("crds", format!("`crds = {other:?}` is not a CRD policy"))
                                .label(span, "expected \"apply\" or \"skip\"")
                                .help("\"apply\" (the default) applies the chart's crds/ files before its other objects and keeps them as the chart has them; \"skip\" leaves them out, as `helm install --skip-crds`"),
                        );
                        CrdPolicy::Apply
                    }
                },
            };
            let keep = self.keep(table, &section);
            let timeout = self
                .duration(table, "timeout", &section)
                .ok()
                .flatten()
                .unwrap_or(DEFAULT_TIMEOUT);
            let mut ignore_changes = Vec::new();
            for (entry, span) in self.string_array(table, "ignore_changes", &section) {
                match IgnoreChange::parse(&entry) {
                    Ok(_) => ignore_changes.push(entry),
                    Err(why) => self.push(
                        Problem::new("ignore-changes", format!("bad ignore_changes entry `{entry}`"))
                            .label(span, why)
                            .help("write `spec.replicas` (every object of the release) or `Deployment/NAME:spec.replicas` (NAME may be `*`)"),
                    ),
                }
            }
            let smoke_checks = self.smoke_checks(table, &key.name, &namespace, timeout, &section);
            if let (true, Some((chart, kind, chart_span))) = (ok, chart) {
                releases.insert(
                    key.name.clone(),
                    Release {
                        name: key.name.clone(),
                        chart,
                        kind,
                        values,
                        values_files,
                        namespace,
                        depends_on: Vec::new(),
                        depends_on_spans: Vec::new(),
                        protect,
                        crds,
                        keep,
                        timeout,
                        ignore_changes,
                        smoke_checks,
                        references: Vec::new(),
                        chart_span,
                        span: key.span,
                    },
                );
            }
        }
        releases
    }

    /// `checks = [{ http = "/health", service = "backend", port = 8000, expect = 200 }]`: smoke
    /// checks apply runs through the service proxy once the release is ready.
    fn smoke_checks(
        &mut self,
        table: &Table,
        release: &str,
        namespace: &str,
        release_timeout: Duration,
        section: &str,
    ) -> Vec<(SmokeCheck, Span)> {
        let Some((key, node)) = table.get_entry("checks") else {
            return Vec::new();
        };
        let Value::Array(items) = &node.value else {
            self.wrong_type(key, node, section, "an array of checks, e.g. [{ http = \"/health\", service = \"backend\", port = 8000 }]");
            return Vec::new();
        };
        let file = Path::new(&self.source.name)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.source.name.clone());
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let section = format!("{section} checks[{i}]");
            let Value::Table(check) = &item.value else {
                self.push(
                    Problem::new("type", format!("{section} must be a table, found {}", item.value.type_name()))
                        .label(item.span, "expected a table")
                        .help("write a check as { http = \"/health\", service = \"backend\", port = 8000, expect = 200 }"),
                );
                continue;
            };
            self.check_keys(check, &SMOKE_CHECK_KEYS, &section, "keys of a smoke check");
            let path = self.required_string(
                check,
                "http",
                &section,
                item.span,
                "http = \"/health\" (the path of the GET request)",
            );
            let service = self.required_string(
                check,
                "service",
                &section,
                item.span,
                "service = \"backend\" (the name of a Service of this release)",
            );
            let port = match check.get_entry("port") {
                None => {
                    self.push(
                        Problem::new("missing-key", format!("{section} has no `port`"))
                            .label(item.span, "no port")
                            .help("write port = 8000 (a port of the Service, by number or name)"),
                    );
                    None
                }
                Some((k, n)) => match &n.value {
                    Value::Integer(p) if (1..=65535).contains(p) => Some(p.to_string()),
                    Value::Integer(_) => {
                        self.push(
                            Problem::new("smoke-check", "a port is between 1 and 65535")
                                .label(n.span, "out of range"),
                        );
                        None
                    }
                    Value::String(name) if is_port_name(name) => Some(name.clone()),
                    Value::String(_) => {
                        self.push(
                            Problem::new("smoke-check", "a port name is 1-15 lower-case letters, digits and `-`, with at least one letter")
                                .label(n.span, "not a port name")
                                .help("write the port's number, or the `name` of one of the Service's ports"),
                        );
                        None
                    }
                    _ => {
                        self.wrong_type(k, n, &section, "a port number or name");
                        None
                    }
                },
            };
            let expect = match check.get_entry("expect") {
                None => Some(200),
                Some((k, n)) => match &n.value {
                    Value::Integer(code) if (100..=599).contains(code) => Some(*code as u16),
                    Value::Integer(_) => {
                        self.push(
                            Problem::new(
                                "smoke-check",
                                "`expect` is an HTTP status between 100 and 599",
                            )
                            .label(n.span, "not an HTTP status")
                            .help("write the status a healthy Service answers, e.g. expect = 200"),
                        );
                        None
                    }
                    _ => {
                        self.wrong_type(k, n, &section, "an HTTP status such as 200");
                        None
                    }
                },
            };
            let contains = self.string(check, "contains", &section).map(|(s, _)| s);
            let timeout = match self.duration(check, "timeout", &section) {
                Ok(None) => {
                    Some(Duration::from_secs(DEFAULT_SMOKE_TIMEOUT_SECS).min(release_timeout))
                }
                Ok(Some(d)) if d >= Duration::from_secs(1) => Some(d),
                Ok(Some(_)) => {
                    let span = check.get("timeout").map(|n| n.span).unwrap_or(item.span);
                    self.push(
                        Problem::new("duration", "a smoke check's timeout is at least 1s")
                            .label(span, "too short"),
                    );
                    None
                }
                Err(()) => None,
            };
            let path = path.and_then(|(p, span)| {
                // No `.`/`..` segments (plain or percent-encoded): the request must stay inside
                // the Service's proxy, never reach another API server path.
                let escapes = p
                    .split(['/', '?'])
                    .map(|seg| seg.to_ascii_lowercase().replace("%2e", "."))
                    .any(|seg| seg == "." || seg == "..")
                    || p.to_ascii_lowercase().contains("%2f");
                let valid = p.starts_with('/')
                    && !escapes
                    && !p.chars().any(|c| c.is_whitespace() || c.is_control() || c == '#');
                if !valid {
                    self.push(
                        Problem::new("smoke-check", format!("`{p}` is not a request path"))
                            .label(span, "must start with `/` and hold no spaces, `#`, `.` or `..` segments")
                            .help("write the path the Service answers, e.g. http = \"/health\" or \"/api/todos?limit=1\""),
                    );
                    return None;
                }
                Some(p)
            });
            let service = service.and_then(|(s, span)| {
                if !is_dns_label(&s) {
                    self.push(
                        Problem::new("smoke-check", format!("`{s}` cannot be a Service name"))
                            .label(span, "not a Service name")
                            .help("Service names are lower-case letters, digits and `-` (a DNS label)"),
                    );
                    return None;
                }
                Some(s)
            });
            if let (Some(path), Some(service), Some(port), Some(expect), Some(timeout)) =
                (path, service, port, expect, timeout)
            {
                let (line, _) = self.source.line_col(item.span.start);
                out.push((
                    SmokeCheck {
                        release: release.to_string(),
                        namespace: namespace.to_string(),
                        service,
                        port,
                        path,
                        expect,
                        contains,
                        timeout_secs: timeout.as_secs(),
                        source: Some(format!("{file}:{line}")),
                    },
                    item.span,
                ));
            }
        }
        out
    }

    fn open_chart_lock(
        &self,
    ) -> Result<crate::chart::source::Resolver, crate::chart::source::SourceError> {
        let mut resolver = crate::chart::source::Resolver::open(self.base_dir)?;
        resolver.set_locked(self.options.locked);
        Ok(resolver)
    }

    /// The cached package of a remote chart (see `chart::source`).
    fn remote_chart(
        &mut self,
        source: &crate::chart::source::ChartSource,
        constraint: &str,
    ) -> Result<PathBuf, crate::chart::source::SourceError> {
        let resolver = match self.charts.take() {
            Some(opened) => opened,
            None => self.open_chart_lock(),
        };
        match self.charts.insert(resolver) {
            Ok(r) => r.resolve(source, constraint),
            Err(e) => Err(e.clone()),
        }
    }

    /// Chart if the directory has Chart.yaml, Manifests if it has YAML files; cached because
    /// generated specs point many releases at one directory.
    fn chart_kind(&mut self, path: &Path) -> Result<ReleaseKind, String> {
        if let Some(known) = self.chart_kinds.get(path) {
            return known.clone();
        }
        let kind = if path.is_file() && path.extension().is_some_and(|e| e == "tgz") {
            Ok(ReleaseKind::Chart)
        } else if !path.is_dir() {
            Err("is not a directory".to_string())
        } else if path.join("Chart.yaml").is_file() {
            Ok(ReleaseKind::Chart)
        } else {
            let has_manifests = std::fs::read_dir(path)
                .map(|entries| {
                    entries.flatten().any(|e| {
                        let name = e.file_name();
                        let name = name.to_string_lossy();
                        name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json")
                    })
                })
                .unwrap_or(false);
            if has_manifests {
                Ok(ReleaseKind::Manifests)
            } else {
                Err("has neither Chart.yaml nor .yaml manifests".to_string())
            }
        };
        self.chart_kinds.insert(path.to_path_buf(), kind.clone());
        kind
    }

    fn values_json(&mut self, node: &Node) -> Json {
        match &node.value {
            Value::String(s) => Json::String(s.clone()),
            Value::Integer(i) => Json::from(*i),
            Value::Float(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => Json::Number(n),
                None => {
                    self.push(
                        Problem::new("float", "nan and inf cannot be passed to a chart")
                            .label(node.span, "not a finite number"),
                    );
                    Json::Null
                }
            },
            Value::Bool(b) => Json::Bool(*b),
            Value::Datetime(d) => Json::String(d.clone()),
            Value::Array(items) => Json::Array(items.iter().map(|i| self.values_json(i)).collect()),
            Value::Table(t) => Json::Object(
                t.entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), self.values_json(v)))
                    .collect(),
            ),
        }
    }
}

fn with_article(noun: &str) -> String {
    if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {noun}")
    } else {
        format!("a {noun}")
    }
}

fn secret_key_help(root: &str, name: &str, valid: &[String]) -> String {
    if root == "secrets" {
        format!(
            "secret values are never put into values: pass the Secret's name (`${{secrets.{name}.name}}`) and let the chart read its keys; a secret has {}",
            valid.join(", ")
        )
    } else {
        format!("valid attributes are {}", valid.join(", "))
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("it is zero".into());
    }
    if d > Duration::from_secs(24 * 3600) {
        return Err("it is longer than 24h".into());
    }
    Ok(d)
}
