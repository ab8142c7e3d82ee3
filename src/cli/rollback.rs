use super::GlobalArgs;
use super::workspace::{
    FromGlobalArgs, PlanningArgs, Workspace, color, confirm_without_saved_plan,
};
use crate::apply::ApplyOptions;
use crate::apply::progress::Progress;
use crate::ops::carry::{Interrupts, Session};
use crate::ops::exit::ExitStatus;
use crate::ops::rollback::{rollback_plan, rollback_target};
use crate::plan::output::{Format, render};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The revision to restore (`todoplan history` lists them); default: the one before the current.
    #[arg(long)]
    pub to: Option<u64>,
    #[arg(long)]
    pub auto_approve: bool,
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: u16,
    /// A note recorded with the revision (`todoplan history` shows it), e.g. why.
    #[arg(long, short = 'm', value_name = "TEXT")]
    pub message: Option<String>,
    #[command(flatten)]
    pub planning: PlanningArgs,
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitStatus> {
    let ws = Workspace::load(global)?;
    let mut session = Session::open(ws, "todoplan rollback", args.planning.lock_timeout).await?;
    let target = rollback_target(&session.state, args.to)?;
    let options = args.planning.options();
    let computed = rollback_plan(
        &session.ws,
        &session.cluster,
        &session.state,
        target,
        &options,
    )
    .await?;
    print!(
        "{}",
        crate::model::masking::mask(&render(&computed.plan, Format::Text, color(global)))
    );
    if computed.plan.has_errors() || crate::checks::has_errors(&computed.plan.checks) {
        return Ok(ExitStatus::PlanHasErrors);
    }
    if !computed.plan.has_changes() {
        return Ok(ExitStatus::Success);
    }
    if !args.auto_approve
        && !confirm_without_saved_plan(&format!("\nRoll back to revision {target}?"))?
    {
        eprintln!("Rollback cancelled.");
        return Ok(ExitStatus::Cancelled);
    }
    let interrupts = Interrupts::on_ctrl_c();
    let exec = ApplyOptions {
        parallelism: usize::from(args.parallelism),
        progress: Progress::detect(),
        cancelled: interrupts.cancelled.clone(),
        provenance: crate::ops::history::rollback_provenance(&session.ws, target, args.message)
            .await?,
    };
    let report = session.execute(&computed, &exec, &interrupts).await?;
    Ok(super::apply::report(&report))
}
