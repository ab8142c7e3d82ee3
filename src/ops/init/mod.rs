//! `todoplan init`: a commented todo.toml for a repository that already has Dockerfiles and
//! Helm charts, so a team starts from what it has instead of from the reference.
//!
//! Each Dockerfile becomes an image, each chart (an umbrella chart with its subcharts is one) a
//! release, each `values-<env>.yaml` an `[env.<env>]` overlay naming that file. A Secret a chart
//! renders from values becomes a `[secrets.*]` set whose keys are generated or read from the
//! environment (never a value copied from a file), and the chart's own Secret is switched off
//! through the value that guards its template. Image values are wired to the built images.
//! Whatever could not be worked out is said, in the report and at the top of the file.

pub mod chart_facts;
pub mod scan;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use chart_facts::{ChartFacts, ValuePath, dotted};
use scan::{Found, sanitize, unique};

#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// The repository to scan; relative paths in the written file are relative to it.
    pub root: PathBuf,
    /// The file to write, e.g. `<root>/todo.toml`.
    pub output: PathBuf,
    /// `[project].name`; default: the root directory's name.
    pub project: Option<String>,
    /// `[cluster].namespace`; default: the project name.
    pub namespace: Option<String>,
    /// Registry the cluster pulls from (`host:port`); without it delivery is detected from the
    /// kube context at plan time.
    pub registry: Option<String>,
    /// Overwrite an existing file.
    pub force: bool,
}

#[derive(Debug, Clone, Default)]
pub struct InitReport {
    pub path: PathBuf,
    /// The todo.toml text written.
    pub text: String,
    pub project: String,
    pub images: Vec<String>,
    pub releases: Vec<String>,
    /// `(secret set, number of keys)`.
    pub secrets: Vec<(String, usize)>,
    pub envs: Vec<String>,
    /// What init could not work out; each says what to do.
    pub not_inferred: Vec<String>,
    /// What init did that the user should know before the first apply.
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum InitError {
    #[error("{} already exists", path.display())]
    #[diagnostic(
        code(todoplan::init::exists),
        help("pass --force to overwrite it, or --file to write another file")
    )]
    Exists { path: PathBuf },
    #[error("{} is not a directory", path.display())]
    #[diagnostic(code(todoplan::init::root))]
    NotADirectory { path: PathBuf },
    #[error("nothing to deploy found under {}", path.display())]
    #[diagnostic(
        code(todoplan::init::empty),
        help(
            "init looks for Dockerfiles (images) and directories holding Chart.yaml (releases); run it at the repository's root"
        )
    )]
    Empty { path: PathBuf },
    #[error("cannot write {}: {message}", path.display())]
    #[diagnostic(code(todoplan::init::write))]
    Write { path: PathBuf, message: String },
}

/// Scans, writes the file (never over an existing one without `force`), and reports.
pub fn init(opts: &InitOptions) -> Result<InitReport, InitError> {
    if opts.output.exists() && !opts.force {
        return Err(InitError::Exists {
            path: opts.output.clone(),
        });
    }
    let report = generate(opts)?;
    crate::state::replace_file(&opts.output, report.text.as_bytes()).map_err(|e| {
        InitError::Write {
            path: opts.output.clone(),
            message: e.to_string(),
        }
    })?;
    Ok(report)
}

/// What init would write, without writing.
pub fn generate(opts: &InitOptions) -> Result<InitReport, InitError> {
    let root = &opts.root;
    if !root.is_dir() {
        return Err(InitError::NotADirectory { path: root.clone() });
    }
    let found = scan::scan(root);
    if found.images.is_empty() && found.charts.is_empty() {
        return Err(InitError::Empty { path: root.clone() });
    }
    let dir_name = std::fs::canonicalize(root)
        .ok()
        .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
        .unwrap_or_default();
    let project = opts
        .project
        .as_deref()
        .and_then(|p| sanitize(p, 40))
        .or_else(|| sanitize(&dir_name, 40))
        .unwrap_or_else(|| "app".into());
    let namespace = opts
        .namespace
        .as_deref()
        .and_then(|n| sanitize(n, 63))
        .unwrap_or_else(|| project.clone());
    Ok(Writer::new(opts, &found, project, namespace).write())
}

/// One release's values that init writes, with the comment each gets.
struct Setting {
    path: ValuePath,
    value: Value,
    comment: String,
}

struct SecretSet {
    key: String,
    k8s_name: String,
    comment: String,
    keys: Vec<(String, String, String)>,
}

struct Writer<'a> {
    opts: &'a InitOptions,
    found: &'a Found,
    project: String,
    namespace: String,
    report: InitReport,
    secret_sets: Vec<SecretSet>,
    releases: Vec<ReleaseOut>,
}

/// One release init writes.
struct ReleaseOut {
    name: String,
    chart: PathBuf,
    settings: Vec<Setting>,
    depends_on: Vec<String>,
    /// `values-<env>.yaml` files: (env, path).
    env_files: Vec<(String, PathBuf)>,
}

impl<'a> Writer<'a> {
    fn new(opts: &'a InitOptions, found: &'a Found, project: String, namespace: String) -> Self {
        Writer {
            opts,
            found,
            project,
            namespace,
            report: InitReport::default(),
            secret_sets: Vec::new(),
            releases: Vec::new(),
        }
    }

    fn write(mut self) -> InitReport {
        self.report.project = self.project.clone();
        self.report.path = self.opts.output.clone();
        self.report.images = self.found.images.iter().map(|i| i.name.clone()).collect();
        for lib in &self.found.library_charts {
            self.report.notes.push(format!(
                "{} is a library chart (it renders nothing on its own): not a release",
                slash(lib)
            ));
        }
        if self.found.images.is_empty() {
            self.report.not_inferred.push(
                "no Dockerfile was found: add [images.NAME] tables for the images todoplan should build"
                    .into(),
            );
        }
        if self.found.charts.is_empty() {
            self.report.not_inferred.push(
                "no chart (a directory holding Chart.yaml) was found: add [releases.NAME] tables"
                    .into(),
            );
        }
        let mut release_names = Vec::new();
        let mut secret_keys = Vec::new();
        for chart in &self.found.charts {
            self.release(chart, &mut release_names, &mut secret_keys);
        }
        if self.opts.registry.is_none() {
            self.report.not_inferred.push(
                "how images reach the cluster: left to detection from the kube context's name (minikube, kind-NAME, docker-desktop); for any other cluster set [cluster].registry (or rerun init with --registry HOST:PORT)".into(),
            );
        }
        let mut envs: Vec<String> = self
            .releases
            .iter()
            .flat_map(|r| r.env_files.iter().map(|(e, _)| e.clone()))
            .collect();
        envs.sort();
        envs.dedup();
        self.report.envs = envs;
        self.report.releases = self.releases.iter().map(|r| r.name.clone()).collect();
        self.report.secrets = self
            .secret_sets
            .iter()
            .map(|s| (s.key.clone(), s.keys.len()))
            .collect();
        self.report.text = self.render_toml();
        self.report
    }

    fn release(
        &mut self,
        chart: &scan::FoundChart,
        release_names: &mut Vec<String>,
        secret_keys: &mut Vec<String>,
    ) {
        let root = &self.opts.root;
        let env_files: Vec<PathBuf> = chart.env_values.iter().map(|(_, p)| root.join(p)).collect();
        // The release's name first: the chart is examined as that release, so the names its
        // templates derive from the release name are the ones apply will see.
        let chart_name = crate::chart::load::load_chart(&root.join(&chart.dir))
            .map(|c| c.meta.name.clone())
            .unwrap_or_default();
        let base = sanitize(&chart_name, 53)
            .or_else(|| {
                chart
                    .dir
                    .file_name()
                    .and_then(|n| sanitize(&n.to_string_lossy(), 53))
            })
            .unwrap_or_else(|| "app".into());
        let name = unique(release_names, &base);
        let facts = match chart_facts::examine(&root.join(&chart.dir), &env_files, &name) {
            Ok(f) => f,
            Err(e) => {
                self.report.not_inferred.push(format!(
                    "chart {} could not be read ({e}): it is left out",
                    slash(&chart.dir)
                ));
                release_names.retain(|n| n != &name);
                return;
            }
        };
        if let Some(problem) = &facts.problem {
            self.report
                .not_inferred
                .push(format!("release {name}: {problem}"));
        }
        let mut settings = Vec::new();
        let mut depends_on = Vec::new();
        self.wire_secrets(
            &name,
            chart,
            &facts,
            secret_keys,
            &mut settings,
            &mut depends_on,
        );
        self.wire_images(&name, &facts, &mut settings);
        self.check_renders(&name, &root.join(&chart.dir), &settings);
        self.releases.push(ReleaseOut {
            name,
            chart: chart.dir.clone(),
            settings,
            depends_on,
            env_files: chart.env_values.clone(),
        });
    }

    fn wire_secrets(
        &mut self,
        release: &str,
        chart: &scan::FoundChart,
        facts: &ChartFacts,
        secret_keys: &mut Vec<String>,
        settings: &mut Vec<Setting>,
        depends_on: &mut Vec<String>,
    ) {
        let env_prefix = self.project.to_ascii_uppercase().replace('-', "_");
        for secret in &facts.secrets {
            let key = unique(
                secret_keys,
                &sanitize(&secret.name, 53).unwrap_or_else(|| "app".into()),
            );
            let mut keys = Vec::new();
            for (k, paths) in &secret.keys {
                let from = paths
                    .iter()
                    .map(|p| dotted(p))
                    .collect::<Vec<_>>()
                    .join(", ");
                if paths.is_empty() {
                    self.report.not_inferred.push(format!(
                        "Secret {} key {k} is not made from values (a constant or computed in the template): set its source in [secrets.{key}.keys]; it is read from the environment variable {env_prefix}_{} meanwhile",
                        secret.name,
                        env_var_part(k)
                    ));
                }
                let (source, comment) = if generated_kind(k) {
                    (
                        "{ generate = true }".to_string(),
                        format!("was {from}; generated once, then kept in the cluster"),
                    )
                } else {
                    let var = format!("{env_prefix}_{}", env_var_part(k));
                    self.report.notes.push(format!(
                        "Secret {} key {k}: export {var} before `todoplan plan` (it was {})",
                        secret.name,
                        if from.is_empty() {
                            "not from values".into()
                        } else {
                            format!("the value {from}")
                        }
                    ));
                    (
                        format!("{{ env = {} }}", toml_str(&var)),
                        if from.is_empty() {
                            "not from values: check".to_string()
                        } else {
                            format!("was {from}")
                        },
                    )
                };
                keys.push((k.clone(), source, comment));
            }
            // Values files that hold a secret value: todoplan no longer reads it from there,
            // and it should leave git. The value itself is never repeated.
            for (file, leaves) in &facts.env_leaves {
                for (path, v) in leaves {
                    let feeds = secret.keys.iter().any(|(_, ps)| ps.contains(path));
                    if feeds && v.as_str().is_some_and(|s| !s.is_empty()) {
                        let shown = file
                            .strip_prefix(&self.opts.root)
                            .map(slash)
                            .unwrap_or_else(|_| slash(file));
                        self.report.notes.push(format!(
                            "{shown} sets {} (a value of Secret {}): todoplan's [secrets.{key}] replaces it; delete it from that file and from git history",
                            dotted(path),
                            secret.name
                        ));
                    }
                }
            }
            let comment = format!(
                "Secret `{}`: rendered by {}/{} from values until now; todoplan creates it.",
                secret.name,
                slash(&chart.dir),
                secret.template
            );
            match &secret.guard {
                Some((path, positive)) => settings.push(Setting {
                    path: path.clone(),
                    value: if *positive {
                        Value::Bool(false)
                    } else {
                        Value::String(format!("${{secrets.{key}.name}}"))
                    },
                    comment: format!(
                        "the chart's own Secret `{}` is off: [secrets.{key}] creates it",
                        secret.name
                    ),
                }),
                None => self.report.not_inferred.push(format!(
                    "{}/{} renders Secret {} from values with no `if .Values...` around it, so the chart and [secrets.{key}] would both write it: wrap the template in `{{{{- if .Values.secrets.create }}}}` and set secrets.create = false in [releases.{release}.values]",
                    slash(&chart.dir),
                    secret.template,
                    secret.name
                )),
            }
            // Values that carry the Secret's name now name todoplan's Secret (and order the
            // release after it).
            let mut wired = false;
            for (path, v) in &facts.leaves {
                if v.as_str() == Some(secret.name.as_str())
                    && !settings.iter().any(|s| &s.path == path)
                {
                    settings.push(Setting {
                        path: path.clone(),
                        value: Value::String(format!("${{secrets.{key}.name}}")),
                        comment: String::new(),
                    });
                    wired = true;
                }
            }
            if !wired && !matches!(&secret.guard, Some((_, false))) {
                depends_on.push(format!("secret.{key}"));
            }
            self.secret_sets.push(SecretSet {
                key,
                k8s_name: secret.name.clone(),
                comment,
                keys,
            });
        }
    }

    /// Renders the release as the written file would (images and Secret names filled in with
    /// stand-ins) and says so when the chart still needs values init could not know.
    fn check_renders(&mut self, release: &str, chart_dir: &Path, settings: &[Setting]) {
        let mut values = Value::Object(Default::default());
        for s in settings {
            let v = match &s.value {
                Value::String(text) if text.starts_with("${images.") => {
                    let image = text
                        .trim_start_matches("${images.")
                        .split('.')
                        .next()
                        .unwrap_or("app");
                    Value::String(if text.ends_with(".tag}") {
                        "init".into()
                    } else if text.ends_with(".repository}") {
                        format!("registry.invalid/{image}")
                    } else {
                        format!("registry.invalid/{image}:init")
                    })
                }
                Value::String(text) if text.starts_with("${secrets.") => {
                    let set = text
                        .trim_start_matches("${secrets.")
                        .trim_end_matches(".name}");
                    Value::String(
                        self.secret_sets
                            .iter()
                            .find(|s| s.key == set)
                            .map(|s| s.k8s_name.clone())
                            .unwrap_or_default(),
                    )
                }
                other => other.clone(),
            };
            chart_facts::set_path(&mut values, &s.path, v);
        }
        if let Err(e) = chart_facts::render(chart_dir, values, release) {
            self.report.not_inferred.push(format!(
                "release {release} does not render yet; set what it needs in [releases.{release}.values]: {}",
                e.replace('\n', " ")
            ));
        }
    }

    fn wire_images(&mut self, release: &str, facts: &ChartFacts, settings: &mut Vec<Setting>) {
        let leaf = |path: &[String]| {
            facts
                .leaves
                .iter()
                .find(|(p, _)| p.as_slice() == path)
                .map(|(_, v)| v.clone())
        };
        for (path, value) in &facts.leaves {
            let Some(text) = value.as_str() else {
                continue;
            };
            let last = path.last().map(String::as_str).unwrap_or("");
            let parent = &path[..path.len().saturating_sub(1)];
            let parent_is_image = parent
                .last()
                .is_some_and(|p| p.to_ascii_lowercase().ends_with("image"));
            let (repo, attrs): (&str, Vec<(ValuePath, &str)>) = if last == "repository" {
                let mut attrs = vec![(path.clone(), "repository")];
                let mut tag = parent.to_vec();
                tag.push("tag".into());
                if leaf(&tag).is_some() {
                    attrs.push((tag, "tag"));
                }
                (text, attrs)
            } else if (last.to_ascii_lowercase().ends_with("image") && looks_like_image(text))
                || (parent_is_image
                    && matches!(last, "ref" | "reference")
                    && (text.is_empty() || looks_like_image(text)))
            {
                (text, vec![(path.clone(), "ref")])
            } else {
                continue;
            };
            let matches: Vec<&str> = self
                .found
                .images
                .iter()
                .map(|i| i.name.as_str())
                .filter(|name| {
                    image_matches(name, path, repo)
                        || (path.len() <= 2 && sanitize(&facts.name, 63).as_deref() == Some(*name))
                })
                .collect();
            match matches.as_slice() {
                [image] => {
                    for (p, attr) in attrs {
                        if settings.iter().any(|s| s.path == p) {
                            continue;
                        }
                        settings.push(Setting {
                            path: p,
                            value: Value::String(format!("${{images.{image}.{attr}}}")),
                            comment: String::new(),
                        });
                    }
                }
                [] if repo.is_empty() => {}
                [] => self.report.notes.push(format!(
                    "release {release}: {} = {repo} names an image no Dockerfile here builds; left as the chart has it",
                    dotted(path)
                )),
                many => self.report.not_inferred.push(format!(
                    "release {release}: {} = {repo} could be any of the images {}: wire it by hand (`\"${{images.NAME.ref}}\"`)",
                    dotted(path),
                    many.join(", ")
                )),
            }
        }
    }

    fn render_toml(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "# Written by `todoplan init` from the repository in this directory. Review it, then:"
        );
        let _ = writeln!(
            t,
            "#   todoplan validate     check this file (and every [env.*] overlay)"
        );
        let _ = writeln!(t, "#   todoplan plan         what apply would change");
        let _ = writeln!(
            t,
            "# Every key is explained in todoplan's docs/reference.md."
        );
        if !self.report.not_inferred.is_empty() {
            let _ = writeln!(t, "#\n# init could not infer:");
            for n in &self.report.not_inferred {
                let _ = writeln!(t, "#   - {}", n.replace('\n', " "));
            }
        }
        let _ = writeln!(t, "\n[project]\nname = {}", toml_str(&self.project));
        let _ = writeln!(t, "\n[cluster]\nnamespace = {}", toml_str(&self.namespace));
        match &self.opts.registry {
            Some(_) => {
                let _ = writeln!(
                    t,
                    "# Images are pushed here and pulled by the cluster; TODOPLAN_VAR_registry overrides it.\nregistry = \"${{var.registry}}\""
                );
            }
            None => {
                let _ = writeln!(
                    t,
                    "# How images reach the cluster: detected from the kube context's name (minikube, kind-NAME).\n# For a cluster that pulls from a registry: registry = \"host:port\"\n# delivery = \"minikube\""
                );
            }
        }
        if let Some(registry) = &self.opts.registry {
            let _ = writeln!(
                t,
                "\n[variables.registry]\ndefault = {}\ndescription = \"Registry the cluster pulls images from (host:port, no scheme)\"",
                toml_str(registry)
            );
        }
        for image in &self.found.images {
            let _ = writeln!(t, "\n[images.{}]", key(&image.name));
            let _ = writeln!(t, "context = {}", toml_str(&dir_str(&image.context)));
            if let Some(f) = &image.dockerfile {
                let _ = writeln!(t, "dockerfile = {}", toml_str(f));
            }
        }
        for set in &self.secret_sets {
            let _ = writeln!(
                t,
                "\n# {}\n# No value is written here: each key names where its value comes from.",
                set.comment
            );
            let _ = writeln!(t, "[secrets.{}]", key(&set.key));
            let _ = writeln!(t, "name = {}", toml_str(&set.k8s_name));
            let _ = writeln!(t, "\n[secrets.{}.keys]", key(&set.key));
            for (k, source, comment) in &set.keys {
                let _ = writeln!(t, "{} = {source}    # {comment}", key(k));
            }
        }
        for ReleaseOut {
            name,
            chart: dir,
            settings,
            depends_on,
            ..
        } in &self.releases
        {
            let _ = writeln!(t, "\n[releases.{}]", key(name));
            let _ = writeln!(t, "chart = {}", toml_str(&dir_str(dir)));
            if !depends_on.is_empty() {
                let list: Vec<String> = depends_on.iter().map(|d| toml_str(d)).collect();
                let _ = writeln!(t, "depends_on = [{}]", list.join(", "));
            }
            if !settings.is_empty() {
                let _ = writeln!(t, "\n[releases.{}.values]", key(name));
                for s in settings {
                    let value = match &s.value {
                        Value::String(v) => toml_str(v),
                        other => other.to_string(),
                    };
                    let keypath: Vec<String> = s.path.iter().map(|p| key(p)).collect();
                    if s.comment.is_empty() {
                        let _ = writeln!(t, "{} = {value}", keypath.join("."));
                    } else {
                        let _ = writeln!(t, "{} = {value}    # {}", keypath.join("."), s.comment);
                    }
                }
            }
        }
        for env in &self.report.envs {
            let _ = writeln!(
                t,
                "\n# `--env {env}`: the chart's values-{env}.yaml, merged over the chart's values.yaml."
            );
            for ReleaseOut {
                name,
                env_files: files,
                ..
            } in &self.releases
            {
                if let Some((_, file)) = files.iter().find(|(e, _)| e == env) {
                    let _ = writeln!(t, "[env.{}.releases.{}]", key(env), key(name));
                    let _ = writeln!(t, "values_files = [{}]", toml_str(&slash(file)));
                }
            }
        }
        t
    }
}

/// Keys whose value is best made at random once (a password, a signing key) rather than
/// brought from elsewhere (an API key issued by someone else, a URL).
pub(crate) fn generated_kind(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    let external = [
        "API_KEY", "APIKEY", "TOKEN", "URL", "URI", "DSN", "USER", "HOST",
    ];
    if external.iter().any(|e| k.contains(e)) {
        return false;
    }
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "SIGNING_KEY",
        "ENCRYPTION_KEY",
        "SALT",
    ]
    .iter()
    .any(|g| k.contains(g))
}

fn env_var_part(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn looks_like_image(s: &str) -> bool {
    !s.is_empty()
        && !s.contains(char::is_whitespace)
        && !s.contains("://")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "./:-_@".contains(c))
}

/// Whether value `path = repo` names image `name`: by a path segment (`backend.image.tag`) or
/// the repository's last component (`todo-backend`, `myorg/backend`).
fn image_matches(name: &str, path: &[String], repo: &str) -> bool {
    let repo_last = repo
        .rsplit('/')
        .next()
        .unwrap_or(repo)
        .split(['@', ':'])
        .next()
        .unwrap_or("");
    let repo_last = repo_last.to_ascii_lowercase();
    path.iter().any(|s| s.eq_ignore_ascii_case(name))
        || repo_last == name
        || repo_last.ends_with(&format!("-{name}"))
        || repo_last.starts_with(&format!("{name}-"))
}

fn slash(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

fn dir_str(p: &Path) -> String {
    let s = slash(p);
    if s.is_empty() { ".".into() } else { s }
}

/// A TOML basic string.
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when it can be, quoted otherwise.
pub fn key(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        s.to_string()
    } else {
        toml_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_strings_are_valid_toml() {
        assert_eq!(key("app.kubernetes.io/name"), "\"app.kubernetes.io/name\"");
        assert_eq!(key("image"), "image");
        let text = format!("{} = {}", key("a b\"c"), toml_str("x\"\\\n\u{1}"));
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(parsed["a b\"c"].as_str(), Some("x\"\\\n\u{1}"));
    }

    #[test]
    fn generated_or_from_the_environment() {
        assert!(generated_kind("JWT_SECRET_KEY"));
        assert!(generated_kind("POSTGRES_PASSWORD"));
        assert!(!generated_kind("OPENAI_API_KEY"));
        assert!(!generated_kind("DATABASE_URL"));
        assert!(!generated_kind("GITHUB_TOKEN"));
    }

    #[test]
    fn image_values_match_by_path_or_repository() {
        let p = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
        assert!(image_matches(
            "backend",
            &p("backend.image.repository"),
            "x"
        ));
        assert!(image_matches(
            "backend",
            &p("api.image.repository"),
            "todo-backend"
        ));
        assert!(image_matches(
            "backend",
            &p("image"),
            "reg:5000/org/backend:1.0"
        ));
        assert!(!image_matches(
            "backend",
            &p("frontend.image.repository"),
            "todo-frontend"
        ));
    }
}
