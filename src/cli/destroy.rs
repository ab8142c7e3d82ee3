use std::process::ExitCode;

use super::GlobalArgs;
use super::workspace::{FromGlobalArgs, PlanningArgs, Workspace, color, confirm};
use crate::apply::ApplyOptions;
use crate::apply::progress::Progress;
use crate::ops::destroy::destroy_plan;
use crate::plan::output::{Format, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub planning: PlanningArgs,
}

/// Deletes everything this instance applied, in reverse install order, behind the same
/// protection gate as apply: PVCs, `protect = true` releases and namespaces that hold anything
/// this plan keeps stay unless --allow-data-loss (namespaces stay while they hold anything).
pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitCode> {
    let ws = Workspace::load(global)?;
    // First: a state in the cluster then shares this connection.
    let cluster = ws.connect_cluster().await?;
    let _lock = ws
        .lock("todoplan destroy", args.planning.lock_timeout)
        .await?;
    let mut state = ws.state().await?;
    let computed = destroy_plan(&ws, &cluster, &state, &args.planning.options()).await?;
    print!(
        "{}",
        crate::model::masking::mask(&render(&computed.plan, Format::Text, color(global)))
    );
    if !computed.plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    if !args.auto_approve && !confirm("\nDestroy these objects?")? {
        eprintln!("Destroy cancelled.");
        return Ok(ExitCode::from(1));
    }
    let (cancelled, _abort) = super::apply::cancel_on_ctrl_c();
    let exec = ApplyOptions {
        parallelism: 1,
        progress: Progress::detect(),
        cancelled,
    };
    let report = crate::apply::execute(&cluster, &computed, &ws.backend, &mut state, &exec).await;
    let kept = computed.plan.summary().refused;
    println!(
        "\nDestroy {}: {} destroyed, {kept} protected and kept. Revision {}.",
        report.outcome, report.deleted, report.revision
    );
    Ok(super::apply::report_errors(&report))
}
