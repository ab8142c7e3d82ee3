//! Checks: cross-object mistakes a server-side dry-run accepts, found before anything is applied.
//!
//! Every object is valid on its own in each case the seeds hit: a Deployment reading a Secret key
//! that the Secret does not have, a Service selecting no pods, an Ingress naming a port that does
//! not exist, an image the cluster cannot pull, a placeholder or a password written into a values
//! file. Only the whole planned cluster shows them, so the checks run over all of it at once:
//! the planned objects, plus the live objects of the namespaces involved that the plan leaves
//! alone.
//!
//! The pass is pure and synchronous: [`run`] reads a [`CheckInput`] and returns findings. What
//! needs I/O (live objects, a registry probe, values files) is gathered by the caller; `input`
//! holds the helpers that do it from the plan's own data.
//!
//! Families, one file each: `refs` (Secret/ConfigMap references), `services` (Service, Ingress,
//! HPA), `pods` (probes and the names a pod or claim needs), `images`, `values` (placeholders
//! and credentials). Each walks the objects once over an [`index::Index`] built once, so the
//! pass stays linear in the number of objects.

mod images;
mod index;
pub mod input;
mod pods;
mod refs;
mod services;
pub mod source;
mod values;
pub use values::looks_like_credential;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use input::{Lookups, PlannedKeys, from_desired, from_desired_lent, secret_stubs};
pub use source::SourceFile;

pub use crate::spec::checks_config::{CHECKS, IgnoreRule, check_ids, is_check_id};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Will fail once applied: `plan` exits 3, "the plan has errors" (the plan is still printed).
    Error,
    /// Likely a mistake, or a risk; listed.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem found. `message` never holds a value the check flags as a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub severity: Severity,
    /// The object (`release.backend/apps/v1/Deployment/todo/backend`), or the release for a
    /// values file.
    pub address: String,
    /// Field path inside the object (`spec.template.spec.containers[0].env[1]...`), or the
    /// dotted key in a values file.
    pub field: String,
    pub message: String,
    /// `file:line` in todo.toml or a values file to change, when known.
    #[serde(default)]
    pub source: Option<String>,
}

/// One planned object: what the plan will apply.
#[derive(Debug, Clone)]
pub struct CheckObject {
    pub address: String,
    pub object: Value,
    /// The release that renders it; None for todoplan's own Secrets and Namespaces.
    pub release: Option<String>,
    /// Where its content comes from, in words (`[secrets.app.keys]`, `release.backend`).
    pub origin: String,
    /// `file:line` of that origin, when known.
    pub origin_source: Option<String>,
}

/// What the absence of an object from planned and live proves.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    /// Namespaces whose Secrets, ConfigMaps, Services, ServiceAccounts and workloads were all
    /// listed into `live`: an object missing there does not exist.
    pub namespaces: BTreeSet<String>,
    /// StorageClasses were listed into `live`.
    pub storage_classes: bool,
}

/// How todoplan gets its images onto the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageDelivery {
    /// Pushed to a registry the cluster pulls from.
    #[default]
    Registry,
    /// Loaded straight into the node's image store (minikube, kind).
    NodeLoad,
    /// todoplan does not deliver images.
    None,
}

/// One image todoplan builds and delivers.
#[derive(Debug, Clone)]
pub struct DeliveredImage {
    /// The `[images.NAME]` name.
    pub name: String,
    /// Repository the references start with (`127.0.0.1:5555/todo/backend`).
    pub repository: String,
}

pub use crate::images::probe::RegistryAnswer;

#[derive(Debug, Clone, Default)]
pub struct ImageFacts {
    pub delivery: ImageDelivery,
    pub delivered: Vec<DeliveredImage>,
    /// Per image reference as written in a pod, what its registry said; absent = not asked.
    pub registry: BTreeMap<String, RegistryAnswer>,
}

/// Everything the checks look at. Build it with [`input::from_desired`] in a plan.
#[derive(Debug, Clone, Default)]
pub struct CheckInput {
    pub planned: Vec<CheckObject>,
    /// Live objects of the namespaces involved that the plan does not touch.
    pub live: Vec<Value>,
    /// (kind, namespace, name) of live objects this plan deletes: they will not exist.
    pub deleting: BTreeSet<(String, String, String)>,
    pub coverage: Coverage,
    pub images: ImageFacts,
    /// Values files and todo.toml, to scan for credentials and to point findings at a line.
    pub sources: Vec<SourceFile>,
    /// The `--env` overlay in use (`example.com` is a placeholder only in a prod one).
    pub env: Option<String>,
    pub ignore: Vec<IgnoreRule>,
    /// Every release's smoke checks (`checks = [...]` in todo.toml).
    pub smoke_checks: Vec<crate::model::smoke::SmokeCheck>,
}

/// Where findings are collected, with the context every family needs.
pub(crate) struct Sink<'a> {
    pub findings: Vec<Finding>,
    pub sources: source::SourceIndex<'a>,
}

impl Sink<'_> {
    pub fn push(
        &mut self,
        id: &'static str,
        severity: Severity,
        address: &str,
        field: String,
        message: String,
    ) {
        self.findings.push(Finding {
            id: id.to_string(),
            severity,
            address: address.to_string(),
            field,
            message,
            source: None,
        });
    }

    /// As [`push`](Self::push), pointing at the line of `key` (or `value`) in the release's
    /// values files or todo.toml.
    #[allow(clippy::too_many_arguments)]
    pub fn push_located(
        &mut self,
        id: &'static str,
        severity: Severity,
        address: &str,
        release: Option<&str>,
        field: String,
        message: String,
        key: &str,
        value: Option<&str>,
    ) {
        let source = self.sources.locate(release, key, value);
        self.findings.push(Finding {
            id: id.to_string(),
            severity,
            address: address.to_string(),
            field,
            message,
            source,
        });
    }
}

/// Runs every check; findings sorted errors first, then by address and field, minus the ignored.
pub fn run(input: &CheckInput) -> Vec<Finding> {
    let index = index::Index::build(input);
    let mut sink = Sink {
        findings: Vec::new(),
        sources: source::SourceIndex::build(&input.sources),
    };
    refs::check(&index, &mut sink);
    services::check(&index, &mut sink);
    services::check_smoke(&index, &input.smoke_checks, &mut sink);
    pods::check(&index, &mut sink);
    images::check(&index, &input.images, &mut sink);
    values::check(&index, input, &mut sink);
    let mut findings: Vec<Finding> = sink
        .findings
        .into_iter()
        .filter(|f| {
            !input
                .ignore
                .iter()
                .any(|rule| rule.matches(&f.id, &f.address))
        })
        .collect();
    findings.sort_by(|a, b| {
        (a.severity, &a.address, &a.field, &a.id).cmp(&(b.severity, &b.address, &b.field, &b.id))
    });
    findings.dedup();
    findings
}

/// True when any finding is an error (plan and validate exit 3).
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

/// "2 errors, 1 warning".
pub fn count_line(findings: &[Finding]) -> String {
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

/// One line per finding, as text and markdown show it.
pub fn finding_line(f: &Finding) -> String {
    let mut line = format!(
        "{} [{}] {} {}: {}",
        f.severity.as_str(),
        f.id,
        f.address,
        f.field,
        f.message
    );
    if let Some(s) = &f.source {
        line.push_str(&format!(" ({s})"));
    }
    line
}

#[cfg(test)]
mod tests;
