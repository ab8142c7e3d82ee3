//! What a plan is: per address an action with redacted before/after, plus images and drift.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// Bumped when the JSON plan schema (docs/reference.md, "Plan JSON schema") changes incompatibly.
pub const PLAN_FORMAT_VERSION: &str = "1.0";

/// What changes the actions of a plan. A saved plan records these; they cannot be given again
/// when it is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlanOptions {
    /// Let the protection gate pass deletes and replaces of data-holding objects.
    #[serde(default)]
    pub allow_data_loss: bool,
    /// `secret.NAME.KEY` to generate anew.
    #[serde(default)]
    pub rotate: Vec<String>,
    /// Addresses to replace (delete and create again) even though nothing immutable changed.
    #[serde(default)]
    pub replace: Vec<String>,
    /// Take over objects labelled with this other instance (its state was lost for good).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopt_instance: Option<String>,
    /// Plan only these addresses (and what they depend on); empty: everything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// `--refresh full`: dry-run every object, also those unchanged since recorded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full_refresh: bool,
}

impl PlanOptions {
    /// Whether a recorded object (its address and release) is inside `--target`.
    pub fn targets_record(&self, address: &str, release: &str) -> bool {
        self.targets.is_empty()
            || self.targets.iter().any(|t| {
                t == address || (!release.is_empty() && *t == format!("release.{release}"))
            })
    }

    /// The flags as a user would type them, for messages.
    pub fn as_flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.allow_data_loss {
            out.push("--allow-data-loss".to_string());
        }
        out.extend(self.rotate.iter().map(|r| format!("--rotate {r}")));
        out.extend(self.replace.iter().map(|r| format!("--replace {r}")));
        if let Some(i) = &self.adopt_instance {
            out.push(format!("--adopt-instance {i}"));
        }
        out.extend(self.targets.iter().map(|t| format!("--target {t}")));
        if self.full_refresh {
            out.push("--refresh full".to_string());
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Delete and create again: an immutable field changes.
    Replace,
    Delete,
    NoOp,
    /// A delete or replace that the protection gate refuses (a PVC, `protect = true`, a
    /// namespace holding objects this plan keeps) without `--allow-data-loss`. Never carried out.
    Refused,
    /// Recorded in state, already gone from the cluster, no longer declared: only the record goes.
    Forget,
    /// The object cannot be planned (the API server rejected it); the reason says why.
    Error,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NoOp => " ",
            Action::Refused => "!",
            Action::Forget => "x",
            Action::Error => "E",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "will be created",
            Action::Update => "will be updated in-place",
            Action::Replace => "must be replaced",
            Action::Delete => "will be destroyed",
            Action::NoOp => "is up to date",
            Action::Refused => "will NOT be changed (protected)",
            Action::Forget => "will be removed from state (already deleted)",
            Action::Error => "cannot be planned",
        }
    }

    pub fn is_change(self) -> bool {
        !matches!(self, Action::NoOp | Action::Refused | Action::Error)
    }

    /// Whether carrying it out deletes the live object (all of it, or the delete half).
    pub fn deletes(self) -> bool {
        matches!(self, Action::Replace | Action::Delete)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectChange {
    pub address: String,
    pub release: String,
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub action: Action,
    /// Why: the immutable field for a replace, the protection for a refusal, what rolled pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Live object, normalised and redacted. None when it does not exist.
    pub before: Option<Arc<Value>>,
    /// What the API server will store (server-side dry-run), normalised and redacted. For a
    /// change that changes nothing it is the same allocation as `before`: a plan of thousands
    /// of unchanged objects holds each once.
    pub after: Option<Arc<Value>>,
    /// Holds data: a PersistentVolumeClaim or an object of a `protect = true` release.
    #[serde(default)]
    pub protected: bool,
    /// The object exists in the cluster but todoplan did not make it: apply takes it over.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,
    /// A replace that deletes with propagation "orphan": dependents (a StatefulSet's pods and
    /// claims) stay and the new object takes them over.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub orphan_dependents: bool,
    /// Managers of the tool the object came from (`kubectl-client-side-apply`, `helm`, ...)
    /// whose fields apply makes todoplan's before it writes (see `plan::ownership`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub migrate_from: Vec<String>,
    /// The uid of the live object the plan saw (a saved plan's precondition; not shown).
    #[serde(skip)]
    pub live_uid: Option<String>,
}

impl ObjectChange {
    /// What happens to it, as the plan's header line says it: the action's verb, except for a
    /// forgotten object that is still there (kept by its own keep policy).
    pub fn verb(&self) -> &'static str {
        if self.action == Action::Forget && self.before.is_some() {
            "will be removed from state (kept in the cluster)"
        } else {
            self.action.verb()
        }
    }

    /// The identity of the object this change is about.
    pub fn key(&self) -> crate::observe::ObjectKey {
        crate::observe::ObjectKey {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    pub fn object_label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {} {ns}/{}", self.api_version, self.kind, self.name),
            None => format!("{} {} {}", self.api_version, self.kind, self.name),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageAction {
    Build,
    Push,
    UpToDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageChange {
    pub address: String,
    pub action: ImageAction,
    pub reason: String,
    #[serde(default)]
    pub changed_files: Vec<String>,
    /// The immutable reference when known; "(known after apply)" otherwise.
    pub reference: String,
}

pub use crate::model::drift::{DriftItem, DriftKind};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
    pub refused: usize,
    #[serde(default)]
    pub forget: usize,
    /// Forgotten but still in the cluster: kept by their own keep policy.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub kept: usize,
    #[serde(default)]
    pub adopt: usize,
    #[serde(default)]
    pub errors: usize,
    pub build: usize,
    pub push: usize,
    pub drift: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: String,
    pub todoplan_version: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub project: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// True when the cluster was not read (`--offline`): changes are against state/ only.
    pub offline: bool,
    /// The kube context and API server the plan read (None offline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The instance this plan's objects belong to (the state's lineage).
    #[serde(default)]
    pub instance: String,
    /// The flags that shaped the actions; a saved plan is applied with exactly these.
    #[serde(default)]
    pub options: PlanOptions,
    /// The state this plan was made against; apply refuses the plan when either moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<String>,
    pub serial: u64,
    /// Lines the reader should see first (delivery chosen, offline warning, ...).
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub images: Vec<ImageChange>,
    #[serde(default)]
    pub drift: Vec<DriftItem>,
    pub objects: Vec<ObjectChange>,
    /// Findings of the plan-time checks (`crate::checks`); errors make `plan` exit 3.
    #[serde(default)]
    pub checks: Vec<crate::checks::Finding>,
    /// Smoke checks apply runs after their release is ready: those of every release this plan
    /// changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub smoke_checks: Vec<crate::model::smoke::SmokeCheck>,
    /// Why releases change: the leaves of their effective values that differ from the last
    /// apply's, with where each is set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value_changes: Vec<super::values_diff::ValueChange>,
    /// `--base REF`: which changes the base's spec plans too (informational; not approved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseComparison>,
}

/// The plan compared with the one the spec at a git ref makes (`plan --base REF`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseComparison {
    /// The ref as given (`origin/main`) and the commit it named.
    pub reference: String,
    pub commit: String,
    /// Addresses of the changes (objects and images) the base plans identically: already
    /// pending there, not added by this change.
    pub pending: Vec<String>,
}

impl Plan {
    /// Whether `address` is a change already pending on the `--base` ref.
    pub fn pending_on_base(&self, address: &str) -> bool {
        self.base
            .as_ref()
            .is_some_and(|b| b.pending.iter().any(|p| p == address))
    }
}

impl Plan {
    /// An empty plan against `state` (its lineage and serial), to be filled with changes.
    pub fn against(state: &crate::state::State, project: &str, env: Option<String>) -> Plan {
        Plan {
            format_version: PLAN_FORMAT_VERSION.into(),
            todoplan_version: env!("CARGO_PKG_VERSION").into(),
            created_at: chrono::Utc::now(),
            project: project.to_string(),
            env,
            offline: false,
            context: None,
            server: None,
            instance: state.lineage.clone(),
            options: PlanOptions::default(),
            lineage: (state.serial > 0).then(|| state.lineage.clone()),
            serial: state.serial,
            notes: Vec::new(),
            images: Vec::new(),
            drift: Vec::new(),
            objects: Vec::new(),
            checks: Vec::new(),
            smoke_checks: Vec::new(),
            value_changes: Vec::new(),
            base: None,
        }
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for o in &self.objects {
            match o.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.destroy += 1,
                Action::Refused => s.refused += 1,
                Action::Forget if o.before.is_some() => s.kept += 1,
                Action::Forget => s.forget += 1,
                Action::Error => s.errors += 1,
                Action::NoOp => {}
            }
            if o.adopt {
                s.adopt += 1;
            }
        }
        for i in &self.images {
            match i.action {
                ImageAction::Build => s.build += 1,
                ImageAction::Push => s.push += 1,
                ImageAction::UpToDate => {}
            }
        }
        s.drift = self.drift.len();
        s
    }

    /// Objects that could not be planned: the plan is shown, but cannot be applied.
    pub fn has_errors(&self) -> bool {
        self.objects.iter().any(|o| o.action == Action::Error)
    }

    /// Anything for apply to do (what `--detailed-exitcode` reports as 2).
    pub fn has_changes(&self) -> bool {
        self.objects.iter().any(|o| o.action.is_change() || o.adopt)
            || self
                .images
                .iter()
                .any(|i| i.action != ImageAction::UpToDate)
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
