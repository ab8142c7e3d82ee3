//! spec: todo.toml read into typed values, every value keeping where it was written.
//!
//! [`load`] parses the file, merges the `[env.NAME]` overlay, resolves `${var.*}`,
//! `${project.name}` and `${cluster.namespace}`, checks every section, path and reference, and
//! returns all problems together as one [`SpecError`]. References to graph nodes
//! (`${images.*}`, `${secrets.*}`, `${releases.*}`) stay in release values until apply time,
//! when [`interpolate`] fills them in.

pub mod checks_config;
mod error;
mod load;
pub mod reference;
mod tree;

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;

pub use error::{Label, Problem, Span, SpecError, SpecSource, did_you_mean, suggestion_help};
pub use load::{LoadOptions, load, load_str, load_str_with, load_with};
pub use reference::{Reference, interpolate, interpolate_str, references_in};

use crate::model::address::Address;

/// Prefix of environment variables that override `[variables.NAME]` defaults.
pub const VARIABLE_ENV_PREFIX: &str = "TODOPLAN_VAR_";
/// Namespace used when `[cluster].namespace` is not set (the same default as kubectl and Helm).
pub const DEFAULT_NAMESPACE: &str = "default";
/// Wait timeout of a release when `timeout` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// Length of a generated secret value when `length` is not set.
pub const DEFAULT_GENERATED_LENGTH: usize = 32;

#[derive(Debug, Clone)]
pub struct Spec {
    pub project: Project,
    pub cluster: Cluster,
    pub state: StateConfig,
    /// Every `[variables.NAME]` with its value (environment override or default).
    pub variables: IndexMap<String, String>,
    pub images: IndexMap<String, Image>,
    pub secrets: IndexMap<String, SecretSet>,
    pub releases: IndexMap<String, Release>,
    /// The directory holding todo.toml; relative paths in the spec are resolved against it.
    pub base_dir: PathBuf,
    pub source: SpecSource,
    /// The overlay applied (`--env`), if any.
    pub env: Option<String>,
    /// Every `[env.NAME]` defined in the file, in file order.
    pub envs: Vec<String>,
    /// `[checks]`: findings of the plan-time checks to silence.
    pub checks: ChecksConfig,
    /// Releases switched off with `enabled = false` (usually in an `[env.NAME]` overlay): not
    /// rendered; what they applied before is destroyed.
    pub disabled_releases: Vec<String>,
    /// What resolving remote charts changed in charts.lock, and why (empty when nothing did).
    pub chart_lock_notes: Vec<String>,
    /// Loaded with `--locked` (charts.lock must not change): other environments' specs loaded
    /// for the same run are loaded so too.
    pub locked: bool,
}

/// `[checks]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChecksConfig {
    /// `ignore = ["svc.selector:release.x/v1/Service/todo/x", { finding = "...", reason = "..." }]`
    pub ignore: Vec<checks_config::IgnoreRule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// kube context; `None` means the current context of the kubeconfig.
    pub context: Option<String>,
    /// Default namespace of secrets and releases; [`DEFAULT_NAMESPACE`] when unset.
    pub namespace: String,
    /// How images reach the cluster; `None` means detect from the context name.
    pub delivery: Option<Delivery>,
    /// Registry address (`host:port[/path]`), set when delivery is `registry`.
    pub registry: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Registry,
    Minikube,
    Kind,
    None,
}

impl Delivery {
    pub const NAMES: [&'static str; 4] = ["registry", "minikube", "kind", "none"];
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateConfig {
    Local { dir: PathBuf },
    Kubernetes { namespace: String, name: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub name: String,
    /// Build context, absolute.
    pub context: PathBuf,
    /// Dockerfile, absolute; `context/Dockerfile` unless set (relative to the context).
    pub dockerfile: PathBuf,
    pub build_args: IndexMap<String, String>,
    pub target: Option<String>,
    pub platform: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSet {
    /// The table key (`[secrets.app]` → `app`).
    pub name: String,
    /// Name of the Kubernetes Secret; `<project>-<name>` unless set.
    pub k8s_name: String,
    pub namespace: String,
    pub keys: IndexMap<String, SecretSource>,
    /// Where each key's source is written.
    pub key_spans: IndexMap<String, Span>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The value of an environment variable of the todoplan process.
    Env { var: String },
    /// The contents of a file (absolute path).
    File { path: PathBuf },
    /// Random, created once and kept in the cluster.
    Generate { length: usize },
    /// The value the Secret in the cluster holds (what `import --from-helm` adopts for a key
    /// that is not a password: a URL, an API key). Never made up: when the Secret or the key is
    /// not there, the plan is an error asking for a source.
    Existing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseKind {
    /// A Helm-layout chart directory (has Chart.yaml).
    Chart,
    /// A directory of plain YAML manifests.
    Manifests,
}

/// `crds = "apply" | "skip"`: the custom resource definitions of a chart's `crds/` directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CrdPolicy {
    /// Objects of the release like any other, applied before the rest (as `helm install` does),
    /// then kept as the chart has them: a changed CRD is updated, one the chart drops is pruned,
    /// and, holding custom resources, a delete or replace needs `--allow-data-loss`.
    #[default]
    Apply,
    /// Left out, as `helm install --skip-crds`: the cluster's CRDs are managed elsewhere.
    Skip,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    /// The table key, which is also the Helm release name.
    pub name: String,
    /// Chart or manifests directory, absolute.
    pub chart: PathBuf,
    pub kind: ReleaseKind,
    /// The inline `values` table as JSON. Node references (`${images.backend.ref}`) are kept
    /// as written, with `$${` escapes intact; run [`interpolate`] over it before rendering.
    pub values: serde_json::Value,
    /// Values files in the order they apply (later wins), absolute; inline values apply last.
    pub values_files: Vec<PathBuf>,
    pub namespace: String,
    pub depends_on: Vec<Address>,
    /// Where each `depends_on` entry is written (same order as `depends_on`).
    pub depends_on_spans: Vec<Span>,
    /// Never delete the data of this release (PVCs, StatefulSet volumes).
    pub protect: bool,
    /// What becomes of the chart's `crds/` files (and its subcharts').
    pub crds: CrdPolicy,
    /// `keep`: objects prune and destroy never delete (todoplan stops managing them instead),
    /// as `Kind/NAME` selectors (NAME may be `*`), or `*` for every object (`keep = true`).
    pub keep: Vec<String>,
    pub timeout: Duration,
    /// Field paths whose live values are not changed back; see [`IgnoreChange`].
    pub ignore_changes: Vec<String>,
    /// `checks`: HTTP smoke checks apply runs through the service proxy once the release is
    /// ready, each with where it is written.
    pub smoke_checks: Vec<(crate::model::smoke::SmokeCheck, Span)>,
    /// Every node reference in `values`, with its span in todo.toml.
    pub references: Vec<Reference>,
    pub chart_span: Span,
    pub span: Span,
}

impl Release {
    /// Whether todo.toml's `keep` covers the object `kind`/`name` of this release.
    pub fn keeps(&self, kind: &str, name: &str) -> bool {
        self.keep.iter().any(|selector| {
            selector == "*"
                || selector
                    .split_once('/')
                    .is_some_and(|(k, n)| k == kind && (n == "*" || n == name))
        })
    }

    /// [`interpolate`] over this release's values, handing the resolver references that carry
    /// their span in todo.toml (so its errors can point at them).
    pub fn interpolate_values<E>(
        &self,
        resolve: &mut dyn FnMut(&Reference) -> Result<String, E>,
    ) -> Result<serde_json::Value, E> {
        interpolate(&self.values, &mut |r: &Reference| {
            let located = self
                .references
                .iter()
                .find(|known| known.target == r.target && known.attribute == r.attribute)
                .unwrap_or(r);
            resolve(located)
        })
    }

    /// The parsed `ignore_changes` entries (all were checked at load).
    pub fn ignore_rules(&self) -> Vec<IgnoreChange> {
        self.ignore_changes
            .iter()
            .filter_map(|s| IgnoreChange::parse(s).ok())
            .collect()
    }
}

/// One `ignore_changes` entry: `spec.replicas` (every object of the release) or
/// `Deployment/todo-backend:spec.replicas` (one kind and name; name may be `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreChange {
    pub kind: Option<String>,
    /// `None` means any name (`*` or no selector).
    pub name: Option<String>,
    /// Field path segments, e.g. `["spec", "replicas"]`.
    pub path: Vec<String>,
}

impl IgnoreChange {
    pub fn parse(s: &str) -> Result<IgnoreChange, String> {
        let (selector, path) = match s.split_once(':') {
            Some((sel, path)) => (Some(sel), path),
            None => (None, s),
        };
        let (kind, name) = match selector {
            None => (None, None),
            Some(sel) => {
                let (kind, name) = sel.split_once('/').ok_or_else(|| {
                    format!("the selector `{sel}` must be `Kind/name` (name may be `*`)")
                })?;
                let kind_ok = kind.starts_with(|c: char| c.is_ascii_uppercase())
                    && kind.chars().all(|c| c.is_ascii_alphanumeric());
                if !kind_ok {
                    return Err(format!(
                        "`{kind}` is not a Kubernetes kind (kinds are like `Deployment`)"
                    ));
                }
                let name = if name == "*" {
                    None
                } else if is_dns_subdomain(name) {
                    Some(name.to_string())
                } else {
                    return Err(format!(
                        "`{name}` is not an object name (lower-case letters, digits, `-`, `.`) or `*`"
                    ));
                };
                (Some(kind.to_string()), name)
            }
        };
        if path.is_empty() {
            return Err("the field path is empty: write e.g. `spec.replicas`".into());
        }
        let segments: Vec<String> = path.split('.').map(str::to_string).collect();
        for segment in &segments {
            let (name, index) = match segment.split_once('[') {
                Some((name, rest)) => (name, Some(rest)),
                None => (segment.as_str(), None),
            };
            let name_ok = name == "*"
                || (!name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
            // `[0]`, `[*]`, or `[name=web]` (the element whose field has that value), as drift
            // prints list elements.
            let index_ok = index.is_none_or(|rest| {
                rest.strip_suffix(']').is_some_and(|inner| {
                    inner == "*"
                        || (!inner.is_empty() && inner.chars().all(|c| c.is_ascii_digit()))
                        || inner.split_once('=').is_some_and(|(f, v)| {
                            !f.is_empty()
                                && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                                && !v.is_empty()
                                && !v.contains(['[', ']'])
                        })
                })
            });
            if !name_ok || !index_ok {
                return Err(format!(
                    "`{path}` is not a field path: write dot-separated field names such as `spec.replicas`, with list elements as `containers[0]`, `containers[name=web]` or `containers[*]`"
                ));
            }
        }
        if segments
            .first()
            .is_some_and(|s| matches!(s.as_str(), "apiVersion" | "kind" | "status"))
        {
            return Err(format!(
                "`{path}` cannot be ignored: apiVersion and kind identify the object and status is never applied"
            ));
        }
        Ok(IgnoreChange {
            kind,
            name,
            path: segments,
        })
    }
}

impl Spec {
    /// The value of a reference known from the spec alone: every attribute except an image's
    /// `ref`/`repository`/`tag`, which depend on the build and delivery.
    pub fn static_attribute(&self, reference: &Reference) -> Option<String> {
        match (&reference.target, reference.attribute.as_str()) {
            (Address::Secret(n), "name") => self.secrets.get(n).map(|s| s.k8s_name.clone()),
            (Address::Secret(n), "namespace") => self.secrets.get(n).map(|s| s.namespace.clone()),
            (Address::Release(n), "name") => self.releases.get(n).map(|r| r.name.clone()),
            (Address::Release(n), "namespace") => self.releases.get(n).map(|r| r.namespace.clone()),
            _ => None,
        }
    }

    /// Every namespace a secret or release is placed in, in first-use order.
    pub fn namespaces(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        let used = self
            .secrets
            .values()
            .map(|s| &s.namespace)
            .chain(self.releases.values().map(|r| &r.namespace));
        for ns in used {
            if !seen.contains(ns) {
                seen.push(ns.clone());
            }
        }
        seen
    }

    /// A diagnostic pointing into this spec's file, for later stages.
    pub fn error_at(&self, problem: Problem) -> SpecError {
        SpecError::single(&self.source, problem)
    }

    pub fn path(&self) -> PathBuf {
        self.base_dir
            .join(Path::new(&self.source.name).file_name().unwrap_or_default())
    }
}

/// The valid attributes of each referenceable node kind.
pub const IMAGE_ATTRIBUTES: [&str; 3] = ["ref", "repository", "tag"];
pub const SECRET_ATTRIBUTES: [&str; 2] = ["name", "namespace"];
pub const RELEASE_ATTRIBUTES: [&str; 2] = ["name", "namespace"];

/// A DNS label (RFC 1123): namespaces, and the base of most object names.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS subdomain (RFC 1123): names of Secrets, ConfigMaps and most objects.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_change_accepts_plain_and_selected_paths() {
        assert_eq!(
            IgnoreChange::parse("spec.replicas").unwrap(),
            IgnoreChange {
                kind: None,
                name: None,
                path: vec!["spec".into(), "replicas".into()]
            }
        );
        assert_eq!(
            IgnoreChange::parse("Deployment/todo-backend:spec.replicas").unwrap(),
            IgnoreChange {
                kind: Some("Deployment".into()),
                name: Some("todo-backend".into()),
                path: vec!["spec".into(), "replicas".into()]
            }
        );
        assert_eq!(
            IgnoreChange::parse("Deployment/*:spec.template.spec.containers[0].image")
                .unwrap()
                .name,
            None
        );
    }

    #[test]
    fn ignore_change_rejects_malformed_entries() {
        for bad in [
            "",
            "spec..replicas",
            "deployment/x:spec.replicas",
            "Deployment:spec.replicas",
            "Deployment/X_Y:spec.replicas",
            "Deployment/x:",
            "spec.containers[a]",
            "status.replicas",
            "spec replicas",
        ] {
            assert!(
                IgnoreChange::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn dns_names() {
        assert!(is_dns_label("todo-backend"));
        assert!(!is_dns_label("Todo"));
        assert!(!is_dns_label("-x"));
        assert!(!is_dns_label(&"a".repeat(64)));
        assert!(is_dns_subdomain("todo.app-1"));
        assert!(!is_dns_subdomain("todo_app"));
    }
}
