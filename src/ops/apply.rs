//! Apply: carry out an approved plan, exactly, or nothing.
//!
//! Two ways in, one way through: a plan shown and confirmed in this process, or a saved plan
//! file. Either way [`carry_out`] delivers the images the plan builds, plans again when that
//! filled in image digests, refuses to go on when the new plan is not the approved one (only the
//! announced digests may differ), and hands the plan to the one carry-out path
//! ([`super::carry::execute`]). `--atomic`'s undo ([`undo`]) takes the same path.

use super::carry::{Interrupts, refuse_plan_errors};
use super::workspace::{Planned, Workspace, make_plan};
use crate::apply::{ApplyOptions, ApplyReport};
use crate::images::ImageStatus;
use crate::observe::ClusterClient;
use crate::plan::Plan;
use crate::plan::approval::FilledImage;
use crate::plan::compute::{Computed, ImageRef};
use crate::plan::planfile::{PlanFile, PlanFileError};
use crate::state::{State, StateBackend};

/// The approved plan could not be carried out as approved; nothing was written.
fn refuse(reason: String) -> miette::Report {
    miette::Report::from(PlanFileError::Stale { reason })
}

/// Reads a saved plan and plans again against the cluster with the options it recorded. The
/// returned plan is the file's plan made now; [`carry_out`] applies it only if it is the same.
pub async fn replan_saved(
    ws: &Workspace,
    cluster: &ClusterClient,
    state: &mut State,
    file: &PlanFile,
    path: &std::path::Path,
) -> miette::Result<Planned> {
    // Sealed under this state's secret key: a file edited (or sealed by another state) is
    // refused before anything else is read.
    file.verify(path, &crate::plan::compute::digest_salt(state))?;
    file.check_state(state)?;
    if file.plan.context.as_deref() != Some(cluster.context.as_str())
        || file.plan.server.as_deref() != Some(cluster.server.as_str())
    {
        return Err(refuse(format!(
            "it was made against context {} ({}), this is {} ({})",
            file.plan.context.as_deref().unwrap_or("(none)"),
            file.plan.server.as_deref().unwrap_or("?"),
            cluster.context,
            cluster.server
        )));
    }
    if state.serial == 0 {
        // Nothing applied yet: the plan chose this state's identity (its instance).
        state.lineage = file.plan.instance.clone();
    }
    let planned = make_plan(ws, Some(cluster), state, &file.plan.options, None).await?;
    file.check_current(&planned.computed, &[])?;
    Ok(planned)
}

/// True when a plan without changes still has something to record: the journal of an apply
/// that was killed, or objects in the cluster, labelled as this instance's, that the state does
/// not list (written just before a kill, before their journal entries were synced).
pub async fn needs_recording(
    ws: &Workspace,
    planned: &Planned,
    state: &State,
) -> miette::Result<bool> {
    Ok(ws.backend.has_journal().await?
        || planned.computed.plan.objects.iter().any(|c| {
            c.action == crate::plan::Action::NoOp && !state.objects.contains_key(&c.address)
        }))
}

/// Carries out `planned`, which must be `approved` (a plan the user confirmed or a saved plan).
pub async fn carry_out(
    ws: &Workspace,
    cluster: &ClusterClient,
    state: &mut State,
    approved: &Plan,
    planned: Planned,
    options: &ApplyOptions,
    interrupts: &Interrupts,
) -> miette::Result<ApplyReport> {
    refuse_plan_errors(&planned.computed)?;
    let needs_delivery = planned
        .images
        .iter()
        .any(|i| !matches!(i.status, ImageStatus::UpToDate { .. }));
    let planned = if needs_delivery {
        let docker = super::workspace::docker().await?;
        let before = image_refs(&planned);
        crate::plan::images::deliver(
            &docker,
            &planned.images,
            &planned.delivery,
            state,
            &options.progress,
        )
        .await?;
        ws.backend.save_state(state).await?;
        let options_then = approved.options.clone();
        let again = make_plan(ws, Some(cluster), state, &options_then, Some(planned)).await?;
        let filled = filled_images(&before, &image_refs(&again))?;
        let differences =
            crate::plan::approval::differences(approved, &again.computed.plan, &filled, 5);
        if !differences.is_empty() {
            return Err(refuse(format!(
                "after pushing the images, the plan is not the approved one (images were delivered; no object was written):{}",
                crate::plan::approval::as_list(&differences)
            )));
        }
        again
    } else {
        planned
    };
    super::carry::execute(ws, cluster, state, &planned.computed, options, interrupts).await
}

/// `--atomic` after a failed apply: the plan back to revision `before` (a plan like any other,
/// behind the protection gate with the options the approved plan was made with), carried out on
/// the same path. Returns the undo plan, for showing, with its report.
pub async fn undo(
    ws: &Workspace,
    cluster: &ClusterClient,
    state: &mut State,
    before: u64,
    approved: &Plan,
    options: &ApplyOptions,
    interrupts: &Interrupts,
) -> miette::Result<(Computed, ApplyReport)> {
    let computed =
        super::rollback::rollback_plan(ws, cluster, state, before, &approved.options).await?;
    // The undo runs the images of revision `before` again: its revision records those.
    let restored = ws.backend.read_history(before).await?;
    let options = &ApplyOptions {
        parallelism: options.parallelism,
        progress: options.progress.clone(),
        cancelled: options.cancelled.clone(),
        provenance: crate::state::Provenance {
            images: restored.provenance.images,
            plan_checksum: None,
            ..options.provenance.clone()
        },
    };
    let report = super::carry::execute(ws, cluster, state, &computed, options, interrupts).await?;
    Ok((computed, report))
}

fn image_refs(planned: &Planned) -> std::collections::BTreeMap<String, ImageRef> {
    crate::plan::images::references(&planned.images, &planned.delivery).0
}

/// The references the push filled in: each must be exactly the approved tag plus its digest.
fn filled_images(
    before: &std::collections::BTreeMap<String, ImageRef>,
    after: &std::collections::BTreeMap<String, ImageRef>,
) -> miette::Result<Vec<FilledImage>> {
    let mut out = Vec::new();
    for (name, then) in before.iter().filter(|(_, r)| !r.known) {
        let Some(now) = after.get(name) else {
            return Err(refuse(format!(
                "image.{name} has no reference after the push"
            )));
        };
        // The tag is content-addressed (a digest of the build context); what the push fills in
        // is the image digest, in the same repository.
        let repository = then
            .reference
            .rsplit_once(':')
            .filter(|(_, tag)| !tag.contains('/'))
            .map(|(repo, _)| repo)
            .unwrap_or(&then.reference);
        let digest = now.reference.strip_prefix(&format!("{repository}@sha256:"));
        if !digest.is_some_and(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(refuse(format!(
                "image.{name} was approved as {} (digest known after apply), but was pushed as {}",
                then.reference, now.reference
            )));
        }
        out.push(FilledImage {
            tagged: then.reference.clone(),
            pushed: now.reference.clone(),
        });
    }
    Ok(out)
}
