use std::process::ExitCode;

use super::GlobalArgs;
use super::workspace::{FromGlobalArgs, PlanningArgs, Workspace, color, confirm};
use crate::apply::ApplyOptions;
use crate::apply::progress::Progress;
use crate::ops::rollback::rollback_plan;
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
    #[command(flatten)]
    pub planning: PlanningArgs,
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitCode> {
    let ws = Workspace::load(global)?;
    // First: a state in the cluster then shares this connection.
    let cluster = ws.connect_cluster().await?;
    let _lock = ws
        .lock("todoplan rollback", args.planning.lock_timeout)
        .await?;
    let mut state = ws.state().await?;
    let target = match args.to {
        Some(n) => n,
        None if state.revision >= 2 => state.revision - 1,
        None => {
            return Err(miette::miette!(
                help = "`todoplan history` lists the revisions",
                "there is no earlier revision to roll back to (current revision {})",
                state.revision
            ));
        }
    };
    let options = args.planning.options();
    let computed = rollback_plan(&ws, &cluster, &state, target, &options).await?;
    print!(
        "{}",
        crate::model::masking::mask(&render(&computed.plan, Format::Text, color(global)))
    );
    if computed.plan.has_errors() {
        return Ok(ExitCode::from(1));
    }
    if !computed.plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    if !args.auto_approve && !confirm(&format!("\nRoll back to revision {target}?"))? {
        eprintln!("Rollback cancelled.");
        return Ok(ExitCode::from(1));
    }
    let (cancelled, _abort) = super::apply::cancel_on_ctrl_c();
    let exec = ApplyOptions {
        parallelism: usize::from(args.parallelism),
        progress: Progress::detect(),
        cancelled,
    };
    let report = crate::apply::execute(&cluster, &computed, &ws.backend, &mut state, &exec).await;
    Ok(super::apply::report(&report))
}
