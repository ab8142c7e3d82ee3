use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::GlobalArgs;
use super::workspace::{FromGlobalArgs, PlanningArgs, Workspace, color, confirm, make_plan};
use crate::apply::progress::Progress;
use crate::apply::{ApplyOptions, ApplyReport};
use crate::plan::output::{Format, render, summary_line};
use crate::plan::planfile::PlanFile;
use crate::state::Outcome;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved by `todoplan plan --out FILE`: apply exactly it (refused if anything moved).
    pub plan_file: Option<PathBuf>,
    /// Apply without asking for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// How many independent nodes run at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: u16,
    /// When the apply fails, roll back to the revision before it.
    #[arg(long)]
    pub atomic: bool,
    #[command(flatten)]
    pub planning: PlanningArgs,
}

/// Ctrl-C: start nothing new, let in-flight writes finish, save state, release the lock. A second
/// Ctrl-C stops waiting at once (state is saved after every write, so it is already true).
pub fn cancel_on_ctrl_c() -> (Arc<AtomicBool>, Arc<tokio::sync::Notify>) {
    let flag = Arc::new(AtomicBool::new(false));
    let abort = Arc::new(tokio::sync::Notify::new());
    let (f, a) = (flag.clone(), abort.clone());
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!(
            "\nInterrupt: starting nothing new; waiting for in-flight steps, then saving state. Press Ctrl-C again to stop waiting now."
        );
        f.store(true, Ordering::SeqCst);
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nSecond interrupt: stopping now; saving state.");
            a.notify_one();
        }
    });
    (flag, abort)
}

/// Prints failures and skipped nodes; the exit code of an apply-like command.
pub fn report_errors(report: &ApplyReport) -> ExitCode {
    for (node, error) in &report.failures {
        eprintln!(
            "\nError: {node} failed:\n{}",
            crate::model::masking::mask(error)
        );
    }
    if !report.skipped.is_empty() {
        eprintln!(
            "\nNot started because something they depend on failed or apply was interrupted:"
        );
        for s in &report.skipped {
            eprintln!("  {s}");
        }
    }
    if let Some(e) = &report.record_error {
        eprintln!("\nError: the result could not be recorded:\n{e}");
    }
    if report.outcome == Outcome::Succeeded && report.record_error.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub fn report(report: &ApplyReport) -> ExitCode {
    let code = report_errors(report);
    if report.record_error.is_none() {
        println!(
            "\nApply {}: {} object(s) written, {} destroyed. Revision {}.",
            report.outcome, report.written, report.deleted, report.revision
        );
    } else {
        println!(
            "\nApply {} but NOT recorded: {} object(s) written, {} destroyed.",
            report.outcome, report.written, report.deleted
        );
    }
    code
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitCode> {
    let ws = Workspace::load(global)?;
    // First: a state in the cluster then shares this connection.
    let cluster = ws.connect_cluster().await?;
    let _lock = ws
        .lock("todoplan apply", args.planning.lock_timeout)
        .await?;
    let mut state = ws.state().await?;
    let planned = match &args.plan_file {
        Some(path) => {
            let given = args.planning.options().as_flags();
            if !given.is_empty() {
                return Err(miette::miette!(
                    help = format!(
                        "make a new plan with these flags (`todoplan plan {} --out FILE`), review it, and apply that",
                        given.join(" ")
                    ),
                    "{} cannot be given with a saved plan: the flags that shape a plan are part of it, and it is applied exactly as it was reviewed",
                    given.join(" ")
                ));
            }
            let file = PlanFile::read(path)?;
            let planned = crate::ops::apply::replan_saved(&ws, &cluster, &mut state, &file).await?;
            if !planned.computed.plan.has_changes() {
                println!("No changes. The cluster matches the saved plan.");
                return Ok(ExitCode::SUCCESS);
            }
            planned
        }
        None => {
            let planned =
                make_plan(&ws, Some(&cluster), &state, &args.planning.options(), None).await?;
            print!(
                "{}",
                crate::model::masking::mask(&render(
                    &planned.computed.plan,
                    Format::Text,
                    color(global)
                ))
            );
            if planned.computed.plan.has_errors()
                || crate::checks::has_errors(&planned.computed.plan.checks)
            {
                eprintln!(
                    "\nThe plan has errors (lines marked E, or the Checks section); nothing was applied."
                );
                return Ok(ExitCode::from(1));
            }
            if !planned.computed.plan.has_changes() {
                if !crate::ops::apply::needs_recording(&ws, &planned, &state).await? {
                    super::plan::print_stats(Some(&cluster));
                    return Ok(ExitCode::SUCCESS);
                }
                println!(
                    "\nAn earlier apply stopped before recording everything it wrote: recording it (no write to the cluster)."
                );
            } else if !args.auto_approve && !confirm("\nDo you want to perform these actions?")? {
                eprintln!("Apply cancelled.");
                return Ok(ExitCode::from(1));
            }
            planned
        }
    };
    let approved = planned.computed.plan.clone();
    let (cancelled, abort) = cancel_on_ctrl_c();
    let options = ApplyOptions {
        parallelism: usize::from(args.parallelism),
        progress: Progress::detect(),
        cancelled,
    };
    let before = state.revision;
    let result = crate::ops::apply::carry_out(
        &ws, &cluster, &mut state, &approved, planned, &options, abort,
    )
    .await?;
    let code = report(&result);
    if result.outcome != Outcome::Succeeded && args.atomic && before > 0 {
        eprintln!("\n--atomic: rolling back to revision {before}.");
        // The undo is a plan like any other: the protection gate refuses what approval did not
        // allow (the options the approved plan was made with).
        let computed =
            crate::ops::rollback::rollback_plan(&ws, &cluster, &state, before, &approved.options)
                .await?;
        let rolled =
            crate::apply::execute(&cluster, &computed, &ws.backend, &mut state, &options).await;
        report(&rolled);
        return Ok(ExitCode::from(1));
    }
    super::plan::print_stats(Some(&cluster));
    if result.outcome == Outcome::Succeeded {
        println!("{}", summary_line(&approved).replace("Plan:", "Applied:"));
    }
    Ok(code)
}
