//! Saved plans (`todoplan plan --out FILE`, `todoplan apply FILE`).
//!
//! The file is self-contained and safe to keep as a CI artifact: the plan as shown (secret values
//! redacted), the options that shaped it, the uid of every live object it saw, digests of the
//! sourced secret values it was made with, and a checksum over all of it. Apply refuses a file
//! whose checksum does not match (edited by hand or damaged), one made against another state,
//! context or instance, and one whose plan, made again right before writing, differs in any
//! object (see [`super::approval`]).

use std::collections::BTreeMap;
use std::path::Path;

use miette::Diagnostic;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

use super::approval::{self, FilledImage};
use super::compute::Computed;
use super::model::Plan;
use crate::state::State;

pub const PLAN_FILE_FORMAT: u32 = 2;

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
    #[error(
        "the plan file {path} was modified after todoplan wrote it (its checksum does not match)"
    )]
    #[diagnostic(
        code(todoplan::planfile::tampered),
        help(
            "nothing was changed. A saved plan is applied exactly as written or not at all: make a new plan (`todoplan plan --out FILE`), review it, and apply that"
        )
    )]
    Tampered { path: String },
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
pub struct PlanFile {
    pub plan_file_format: u32,
    pub todoplan_version: String,
    pub plan: Plan,
    /// Address → uid of the live object the plan saw: apply requires the same objects.
    #[serde(default)]
    pub live_uids: BTreeMap<String, String>,
    /// Random per file: salts the secret digests below so they cannot be looked up.
    pub salt: String,
    /// Secret set → key → salted digest of each sourced (env, file) value the plan was made with.
    pub secret_digests: BTreeMap<String, BTreeMap<String, String>>,
    /// HMAC-SHA256 over the file's content without this field, keyed by the state's secret
    /// digest key: whoever can read the file but not the state's key cannot forge one (an edited
    /// `allow_data_loss` with a recomputed plain checksum was accepted before).
    #[serde(default)]
    pub checksum: String,
}

impl PlanFile {
    /// A plan file sealed with `seal_key` (the state's secret digest salt,
    /// [`crate::plan::compute::digest_salt`]): [`PlanFile::verify`] with the same key accepts it.
    pub fn new(computed: &Computed, seal_key: &str) -> Self {
        Self::with_salt(computed, uuid::Uuid::new_v4().to_string(), seal_key)
    }

    fn with_salt(computed: &Computed, salt: String, seal_key: &str) -> Self {
        let mut file = PlanFile {
            plan_file_format: PLAN_FILE_FORMAT,
            todoplan_version: env!("CARGO_PKG_VERSION").into(),
            plan: computed.plan.clone(),
            live_uids: live_uids(&computed.plan),
            secret_digests: sourced_secret_digests(computed, &salt),
            salt,
            checksum: String::new(),
        };
        file.checksum = file.seal(seal_key);
        file
    }

    fn seal(&self, seal_key: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut unsealed = self.clone();
        unsealed.checksum = String::new();
        let bytes = serde_json::to_vec(&unsealed).unwrap_or_default();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(seal_key.as_bytes())
            .expect("HMAC accepts any key length");
        mac.update(b"todoplan-plan-file-seal\0");
        mac.update(&bytes);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Refuses a file whose seal is not this state's: edited after todoplan wrote it, or sealed
    /// under another state's key. Checked once the state (and so its key) is read.
    pub fn verify(&self, path: &Path, seal_key: &str) -> Result<(), PlanFileError> {
        let expected = self.seal(seal_key);
        // Constant-time comparison: the seal is an authenticator.
        let same = expected.len() == self.checksum.len()
            && expected
                .bytes()
                .zip(self.checksum.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            Ok(())
        } else {
            Err(PlanFileError::Tampered {
                path: path.display().to_string(),
            })
        }
    }

    pub fn write(&self, path: &Path) -> Result<(), PlanFileError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| PlanFileError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        if crate::model::masking::mask(&text) != text {
            // Redaction happens field by field before this; a known secret value here means
            // one escaped it. Refuse rather than write it.
            return Err(PlanFileError::Write {
                path: path.display().to_string(),
                message: "the plan would contain a secret value; nothing was written (please report this as a todoplan bug)".into(),
            });
        }
        let text = text.into_bytes();
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
        let text = crate::model::input::read_regular(path, crate::model::input::PLAN_FILE_LIMIT)
            .map_err(|e| err(e.to_string()))?;
        let raw: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| err(format!("not a todoplan plan file ({e})")))?;
        if raw.get("plan_file_format").and_then(|v| v.as_u64()) != Some(u64::from(PLAN_FILE_FORMAT))
        {
            return Err(err(format!(
                "not a plan file of format {PLAN_FILE_FORMAT} (made by another todoplan version?)"
            )));
        }
        let file: PlanFile = serde_json::from_value(raw).map_err(|e| err(e.to_string()))?;
        Ok(file)
    }

    /// Refuses the plan unless the state is the one it was made against. Checked before the
    /// cluster is read again.
    pub fn check_state(&self, state: &State) -> Result<(), PlanFileError> {
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
        Ok(())
    }

    /// Refuses the plan unless `now` (planned again, with the file's options) is the same plan:
    /// same objects, actions, live objects (content and uid), written objects and secret sources.
    pub fn check_current(
        &self,
        now: &Computed,
        filled: &[FilledImage],
    ) -> Result<(), PlanFileError> {
        let stale = |reason: String| Err(PlanFileError::Stale { reason });
        let differences = approval::differences(&self.plan, &now.plan, filled, 5);
        if !differences.is_empty() {
            return stale(format!(
                "the cluster or the inputs moved since the plan was made:{}",
                crate::plan::approval::as_list(&differences)
            ));
        }
        let uids_now = live_uids(&now.plan);
        for (address, uid) in &self.live_uids {
            if uids_now.get(address) != Some(uid) {
                return stale(format!(
                    "{address} was deleted and created again since the plan was made (another uid)"
                ));
            }
        }
        let now_digests = sourced_secret_digests(now, &self.salt);
        if now_digests != self.secret_digests {
            let changed: Vec<_> = self
                .secret_digests
                .keys()
                .chain(now_digests.keys())
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

fn live_uids(plan: &Plan) -> BTreeMap<String, String> {
    plan.objects
        .iter()
        .filter_map(|o| Some((o.address.clone(), o.live_uid.clone()?)))
        .collect()
}

/// Digests of the values that come from outside (environment, files); generated values are
/// drawn at apply time and kept in the cluster, so they are not part of the approval.
fn sourced_secret_digests(
    computed: &Computed,
    salt: &str,
) -> BTreeMap<String, BTreeMap<String, String>> {
    computed
        .secrets
        .iter()
        .map(|(name, v)| {
            let keys = v
                .digests(salt)
                .into_iter()
                .filter(|(k, _)| {
                    v.provenance.get(k).is_some_and(|p| {
                        !matches!(
                            p,
                            crate::secrets::Provenance::Generated
                                | crate::secrets::Provenance::Kept
                        )
                    })
                })
                .collect();
            (name.clone(), keys)
        })
        .collect()
}
