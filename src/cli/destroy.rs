use super::GlobalArgs;
use super::workspace::{
    FromGlobalArgs, PlanningArgs, Workspace, color, confirm_without_saved_plan,
};
use crate::apply::ApplyOptions;
use crate::apply::progress::Progress;
use crate::ops::carry::{Interrupts, Session};
use crate::ops::destroy::destroy_plan;
use crate::ops::exit::ExitStatus;
use crate::plan::output::{Format, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub auto_approve: bool,
    /// A note recorded with the revision (`todoplan history` shows it).
    #[arg(long, short = 'm', value_name = "TEXT")]
    pub message: Option<String>,
    #[command(flatten)]
    pub planning: PlanningArgs,
}

/// Deletes everything this instance applied, in reverse install order, behind the same
/// protection gate as apply: PVCs, `protect = true` releases and namespaces that hold anything
/// this plan keeps stay unless --allow-data-loss (namespaces stay while they hold anything).
pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitStatus> {
    let ws = Workspace::load(global)?;
    let mut session = Session::open(ws, "todoplan destroy", args.planning.lock_timeout).await?;
    let computed = destroy_plan(
        &session.ws,
        &session.cluster,
        &session.state,
        &args.planning.options(),
    )
    .await?;
    print!(
        "{}",
        crate::model::masking::mask(&render(&computed.plan, Format::Text, color(global)))
    );
    if !computed.plan.has_changes() {
        return Ok(ExitStatus::Success);
    }
    if !args.auto_approve && !confirm_without_saved_plan("\nDestroy these objects?")? {
        eprintln!("Destroy cancelled.");
        return Ok(ExitStatus::Cancelled);
    }
    let interrupts = Interrupts::on_ctrl_c();
    let exec = ApplyOptions {
        parallelism: 1,
        progress: Progress::detect(),
        cancelled: interrupts.cancelled.clone(),
        provenance: crate::ops::history::provenance(&session.ws, args.message, None),
    };
    let report = session.execute(&computed, &exec, &interrupts).await?;
    let kept = computed.plan.summary().refused;
    println!(
        "\nDestroy {}: {} destroyed, {kept} protected and kept. Revision {}.",
        report.outcome, report.deleted, report.revision
    );
    Ok(super::apply::report_errors(&report))
}
