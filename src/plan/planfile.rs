//! Saved plans (`todoplan plan --out FILE`, `todoplan apply FILE`).
//!
//! The file is self-contained and safe to keep as a CI artifact: the plan as shown, every desired
//! object (secret values redacted: apply reads them again from their sources and checks their
//! digests), the state lineage and serial it was made against, and a digest of its inputs.

use std::collections::BTreeSet;
use std::path::Path;

use miette::Diagnostic;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::model::Plan;
use super::redact::redact;
use crate::cli::workspace::Planned;
use crate::state::State;

pub const PLAN_FILE_FORMAT: u32 = 1;

#[derive(Debug, Error, Diagnostic)]
pub enum PlanFileError {
    #[error("cannot read the plan file {path}: {message}")]
    #[diagnostic(
        code(todoplan::planfile::read),
        help("make a plan with `todoplan plan --out FILE`")
    )]
    Read { path: String, message: String },
    #[error("cannot write the plan file {path}: {message}")]
    #[diagnostic(code(todoplan::planfile::write))]
    Write { path: String, message: String },
    #[error("the saved plan is stale: {reason}")]
    #[diagnostic(
        code(todoplan::planfile::stale),
        help(
            "nothing was changed. Make a new plan (`todoplan plan --out FILE`), review it, and apply that"
        )
    )]
    Stale { reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedObject {
    pub address: String,
    /// The object to apply, secret values redacted.
    pub object: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanFile {
    pub plan_file_format: u32,
    pub todoplan_version: String,
    pub plan: Plan,
    pub desired: Vec<PlannedObject>,
    /// Random per file: salts the secret digests below so they cannot be looked up.
    pub salt: String,
    /// Secret set → key → salted digest of the value the plan was made with.
    pub secret_digests:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
}

impl PlanFile {
    pub fn new(planned: &Planned) -> Self {
        Self::with_salt(planned, uuid::Uuid::new_v4().to_string())
    }

    fn with_salt(planned: &Planned, salt: String) -> Self {
        PlanFile {
            plan_file_format: PLAN_FILE_FORMAT,
            todoplan_version: env!("CARGO_PKG_VERSION").into(),
            plan: planned.computed.plan.clone(),
            desired: planned
                .computed
                .desired
                .iter()
                .map(|d| PlannedObject {
                    address: d.address.to_string(),
                    object: redact(&d.object, &salt),
                })
                .collect(),
            secret_digests: planned
                .computed
                .secrets
                .iter()
                .map(|(name, v)| {
                    let keys = v
                        .digests(&salt)
                        .into_iter()
                        .filter(|(k, _)| {
                            v.provenance
                                .get(k)
                                .is_some_and(|p| *p != crate::secrets::Provenance::Generated)
                        })
                        .collect();
                    (name.clone(), keys)
                })
                .collect(),
            salt,
        }
    }

    pub fn write(&self, path: &Path) -> Result<(), PlanFileError> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| PlanFileError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        crate::state::write_atomically(path, &text).map_err(|e| PlanFileError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    pub fn read(path: &Path) -> Result<Self, PlanFileError> {
        let err = |message: String| PlanFileError::Read {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let raw: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| err(format!("not a todoplan plan file ({e})")))?;
        if raw.get("plan_file_format").and_then(|v| v.as_u64()) != Some(u64::from(PLAN_FILE_FORMAT))
        {
            return Err(err(format!("not a plan file of format {PLAN_FILE_FORMAT}")));
        }
        serde_json::from_value(raw).map_err(|e| err(e.to_string()))
    }

    /// Refuses the plan when the state or the inputs moved since it was made.
    pub fn check_current(&self, state: &State, now: &Planned) -> Result<(), PlanFileError> {
        let stale = |reason: String| Err(PlanFileError::Stale { reason });
        if self.todoplan_version != env!("CARGO_PKG_VERSION") {
            return stale(format!(
                "it was made by todoplan {}, this is {}",
                self.todoplan_version,
                env!("CARGO_PKG_VERSION")
            ));
        }
        let lineage_now = (state.serial > 0).then(|| state.lineage.clone());
        if self.plan.lineage.is_none() && lineage_now.is_some() {
            return stale(format!(
                "the state moved since the plan was made: it was made before anything was applied, and the state is at serial {} now",
                state.serial
            ));
        }
        if self.plan.lineage != lineage_now {
            return stale("it was made against another state (lineage differs)".into());
        }
        if self.plan.serial != state.serial {
            return stale(format!(
                "the state moved since the plan was made (serial {} then, {} now): someone applied in between",
                self.plan.serial, state.serial
            ));
        }
        if self.plan.env != now.computed.plan.env {
            return stale(format!(
                "it was made for --env {:?}, not {:?}",
                self.plan.env, now.computed.plan.env
            ));
        }
        if self.plan.inputs_digest != now.computed.plan.inputs_digest {
            return stale("todo.toml, a chart, a values file, a build context or a secret source changed since the plan was made".into());
        }
        let then: BTreeSet<&str> = self.desired.iter().map(|d| d.address.as_str()).collect();
        let later: BTreeSet<String> = now
            .computed
            .desired
            .iter()
            .map(|d| d.address.to_string())
            .collect();
        let later: BTreeSet<&str> = later.iter().map(String::as_str).collect();
        if then != later {
            let diff: Vec<_> = then.symmetric_difference(&later).take(5).collect();
            return stale(format!("the set of objects differs: {diff:?}"));
        }
        let now_digests = PlanFile::with_salt(now, self.salt.clone()).secret_digests;
        if now_digests != self.secret_digests {
            let changed: Vec<_> = self
                .secret_digests
                .keys()
                .filter(|k| now_digests.get(*k) != self.secret_digests.get(*k))
                .map(|k| format!("secret.{k}"))
                .collect();
            return stale(format!(
                "a secret value changed since the plan was made ({})",
                changed.join(", ")
            ));
        }
        Ok(())
    }
}
