//! `plan --base REF`: the same plan made from the spec as it is at a git ref (the branch a pull
//! request merges into), against the same cluster and state, so the comment can say which changes
//! this pull request adds and which were already pending on the base.

use std::path::{Path, PathBuf};
use std::process::Command;

use miette::{IntoDiagnostic, miette};

use super::workspace::{PlanOptions, Workspace, make_plan};
use crate::observe::ClusterClient;
use crate::plan::{Action, Plan};
use crate::state::State;

/// A read-only copy of the repository at a ref, removed when dropped.
pub struct BaseTree {
    pub dir: tempfile::TempDir,
    /// The spec file inside the copy.
    pub file: PathBuf,
    /// The ref as given, and the commit it named.
    pub reference: String,
    pub commit: String,
}

fn git(dir: &Path, args: &[&str]) -> miette::Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| {
            miette!(
                help = "--base needs git on PATH",
                "git could not be run: {e}"
            )
        })?;
    if !out.status.success() {
        return Err(miette!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Copies the repository holding `spec_file` as it is at `reference` (`git archive`) and finds
/// the spec file at the same path inside it.
pub fn check_out(spec_file: &Path, reference: &str) -> miette::Result<BaseTree> {
    let spec_file = std::fs::canonicalize(spec_file).into_diagnostic()?;
    let spec_dir = spec_file.parent().unwrap_or(Path::new("/"));
    let top = PathBuf::from(
        git(spec_dir, &["rev-parse", "--show-toplevel"]).map_err(|e| {
            miette!(
                help = "--base compares with a git ref: run it inside the repository",
                "{e}"
            )
        })?,
    );
    let commit = git(&top, &["rev-parse", "--verify", &format!("{reference}^{{commit}}")])
        .map_err(|_| {
            miette!(
                help = "fetch it first (e.g. `git fetch origin main`) or name a branch, tag or commit this clone has",
                "`{reference}` is not a commit of this repository"
            )
        })?;
    let relative = spec_file
        .strip_prefix(std::fs::canonicalize(&top).into_diagnostic()?)
        .into_diagnostic()?
        .to_path_buf();
    let dir = tempfile::tempdir().into_diagnostic()?;
    let archive = Command::new("git")
        .arg("-C")
        .arg(&top)
        .args(["archive", "--format=tar", &commit])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .into_diagnostic()?;
    let untar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(dir.path())
        .stdin(
            archive
                .stdout
                .ok_or_else(|| miette!("git archive gave no output"))?,
        )
        .output()
        .into_diagnostic()?;
    if !untar.status.success() {
        return Err(miette!(
            "unpacking {reference} failed: {}",
            String::from_utf8_lossy(&untar.stderr).trim()
        ));
    }
    let file = dir.path().join(&relative);
    if !file.is_file() {
        return Err(miette!(
            "{} does not exist at {reference}: there is nothing to compare with",
            relative.display()
        ));
    }
    Ok(BaseTree {
        dir,
        file,
        reference: reference.to_string(),
        commit,
    })
}

/// The plan the base's spec would make now, against the same state and cluster.
pub async fn plan_base(
    ws: &Workspace,
    base: &BaseTree,
    cluster: Option<&ClusterClient>,
    state: &State,
    options: &PlanOptions,
) -> miette::Result<Plan> {
    let spec = crate::spec::load(&base.file, ws.spec.env.as_deref())?;
    let base_ws = Workspace {
        spec,
        backend: ws.backend.clone(),
        context_override: ws.context_override.clone(),
        allow_new_state: ws.allow_new_state,
    };
    Ok(make_plan(&base_ws, cluster, state, options, None)
        .await?
        .computed
        .plan)
}

/// Marks the changes of `plan` that `base` plans identically (same address, action and written
/// object): pending on the base already, not added by this change.
pub fn mark_pending(plan: &mut Plan, base: &Plan, reference: &str, commit: &str) {
    let pending: Vec<String> = plan
        .objects
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .filter(|c| {
            base.objects
                .iter()
                .any(|b| b.address == c.address && b.action == c.action && b.after == c.after)
        })
        .map(|c| c.address.clone())
        .collect();
    let images: Vec<String> = plan
        .images
        .iter()
        .filter(|i| {
            base.images.iter().any(|b| {
                b.address == i.address && b.action == i.action && b.reference == i.reference
            })
        })
        .map(|i| i.address.clone())
        .collect();
    plan.base = Some(crate::plan::BaseComparison {
        reference: reference.to_string(),
        commit: commit.to_string(),
        pending: pending.into_iter().chain(images).collect(),
    });
}
