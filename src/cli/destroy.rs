use std::process::ExitCode;

use super::GlobalArgs;
use super::workspace::{PlanningArgs, Workspace, color, confirm};
use crate::apply::progress::Progress;
use crate::plan::model::{Action, ObjectChange, Plan};
use crate::plan::normalize::normalize;
use crate::plan::output::{Format, render};
use crate::plan::redact::redact;
use crate::state::Outcome;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub planning: PlanningArgs,
}

/// Deletes everything in the inventory, in reverse install order, with the same protections
/// as apply: PVCs, generated secrets, namespaces and `protect = true` releases stay unless
/// --allow-data-loss.
pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitCode> {
    let ws = Workspace::load(global)?;
    let _lock = ws.lock("todoplan destroy", args.planning.lock_timeout)?;
    let mut state = ws.state()?;
    let cluster = ws.connect(global).await?;
    let salt = state.lineage.clone();
    let mut records: Vec<(String, crate::state::ObjectRecord)> =
        state.objects.clone().into_iter().collect();
    records.sort_by_key(|(_, r)| std::cmp::Reverse(crate::chart::install_order_rank(&r.kind)));
    let mut changes = Vec::new();
    for (address, r) in &records {
        let key = r.key();
        let live = cluster.get(&key).await?;
        let protected = r.protect || r.kind == "PersistentVolumeClaim";
        let action = if protected && !args.planning.allow_data_loss {
            Action::Refused
        } else {
            Action::Delete
        };
        changes.push(ObjectChange {
            address: address.clone(),
            release: r.release.clone(),
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            action,
            reason: (action == Action::Refused)
                .then(|| "holds data; pass --allow-data-loss to delete it".to_string()),
            before: live.as_ref().map(|l| redact(&normalize(l), &salt)),
            after: None,
            protected,
        });
    }
    let plan = Plan {
        objects: changes,
        ..Plan::against(&state, &ws.spec.project.name, ws.spec.env.clone())
    };
    print!("{}", render(&plan, Format::Text, color(global)));
    if !plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    if !args.auto_approve && !confirm("\nDestroy these objects?")? {
        eprintln!("Destroy cancelled.");
        return Ok(ExitCode::from(1));
    }
    let progress = Progress::detect();
    let mut failures = 0;
    let mut deleted = 0;
    for c in plan.objects.iter().filter(|c| c.action == Action::Delete) {
        let Some(record) = state.objects.get(&c.address).cloned() else {
            continue;
        };
        let node = progress.start(&c.address, "destroying");
        match cluster.delete(&record.key(), record.uid.as_deref()).await {
            Ok(()) => {
                state.objects.remove(&c.address);
                ws.backend.save(&mut state)?;
                deleted += 1;
                node.finish(true, "destroyed");
            }
            Err(e) => {
                failures += 1;
                node.finish(false, "failed");
                eprintln!("{:?}", miette::Report::from(e));
            }
        }
    }
    if state.objects.is_empty() {
        state.secrets.clear();
    }
    let outcome = if failures == 0 {
        Outcome::Succeeded
    } else {
        Outcome::Partial
    };
    let kept = plan
        .objects
        .iter()
        .filter(|c| c.action == Action::Refused)
        .count();
    let revision = crate::apply::record_revision(
        &ws.backend,
        &mut state,
        format!("destroy: {deleted} destroyed, {kept} kept (protected)"),
        outcome,
    )?;
    println!(
        "\nDestroy {outcome}: {deleted} destroyed, {kept} protected and kept. Revision {revision}."
    );
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
