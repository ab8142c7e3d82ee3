use std::path::PathBuf;

use super::GlobalArgs;
use super::workspace::{FromGlobalArgs, PlanningArgs, Workspace, color, confirm, make_plan};
use crate::apply::progress::Progress;
use crate::apply::{ApplyOptions, ApplyReport};
use crate::ops::carry::{Interrupts, Session};
use crate::ops::exit::ExitStatus;
use crate::plan::output::{Format, render};
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
    /// A note recorded with the revision (`todoplan history` shows it), e.g. `-m "release 1.4"`.
    #[arg(long, short = 'm', value_name = "TEXT")]
    pub message: Option<String>,
    #[command(flatten)]
    pub planning: PlanningArgs,
}

/// Prints failures and skipped nodes; the exit status of an apply-like command.
pub fn report_errors(report: &ApplyReport) -> ExitStatus {
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
    ExitStatus::of_apply(report)
}

/// The global options with the saved plan's environment: given with `--env`, it must be the same.
fn with_env_of(
    global: &GlobalArgs,
    file: &PlanFile,
    path: &std::path::Path,
) -> miette::Result<GlobalArgs> {
    match (&global.env, &file.plan.env) {
        (Some(given), saved) if saved.as_ref() != Some(given) => Err(miette::miette!(
            help = format!(
                "apply it without --env (it applies to {}), or make a plan for --env {given}",
                saved
                    .as_deref()
                    .map(|e| format!("--env {e}"))
                    .unwrap_or_else(|| "the base".into())
            ),
            "{} was made for {}, not --env {given}",
            path.display(),
            saved
                .as_deref()
                .map(|e| format!("--env {e}"))
                .unwrap_or_else(|| "the base (no --env)".into())
        )),
        _ => Ok(GlobalArgs {
            env: file.plan.env.clone(),
            ..global.clone()
        }),
    }
}

pub fn report(report: &ApplyReport) -> ExitStatus {
    report_as("Apply", report)
}

/// The closing line of a run that writes, named `what` ("Apply", "Undo (--atomic)").
fn report_as(what: &str, report: &ApplyReport) -> ExitStatus {
    report_as_planned(what, report, None)
}

/// [`report_as`]; a run that succeeded also says what its plan was (`3 to add, 1 to change,
/// …`), so it ends with one summary, not two.
fn report_as_planned(
    what: &str,
    report: &ApplyReport,
    plan: Option<&crate::plan::Plan>,
) -> ExitStatus {
    let code = report_errors(report);
    for warning in &report.warnings {
        eprintln!("Warning from the API server: {warning}");
    }
    match (plan, &report.record_error) {
        (Some(p), None) if report.outcome == Outcome::Succeeded => {
            let s = p.summary();
            println!(
                "\n{what} {}: {} added, {} changed, {} replaced, {} destroyed ({} write(s)). Revision {}.",
                report.outcome,
                s.add,
                s.change,
                s.replace,
                report.deleted,
                report.written,
                report.revision
            );
        }
        (_, None) => println!(
            "\n{what} {}: {} object(s) written, {} destroyed. Revision {}.",
            report.outcome, report.written, report.deleted, report.revision
        ),
        (_, Some(_)) => println!(
            "\n{what} {} but NOT recorded: {} object(s) written, {} destroyed.",
            report.outcome, report.written, report.deleted
        ),
    }
    code
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitStatus> {
    // A saved plan names its environment: `apply FILE` applies it to that one.
    let saved = match &args.plan_file {
        Some(path) => Some((path, PlanFile::read(path)?)),
        None => None,
    };
    let global = &match &saved {
        Some((path, file)) => with_env_of(global, file, path)?,
        None => global.clone(),
    };
    let ws = Workspace::load(global)?;
    let mut session = Session::open(ws, "todoplan apply", args.planning.lock_timeout).await?;
    let Session {
        ws, cluster, state, ..
    } = &mut session;
    let planned = match &saved {
        Some((path, file)) => {
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
            let planned = crate::ops::apply::replan_saved(ws, cluster, state, file, path).await?;
            if !planned.computed.plan.has_changes() {
                println!("No changes. The cluster matches the saved plan.");
                return Ok(ExitStatus::Success);
            }
            planned
        }
        None => {
            let planned =
                make_plan(ws, Some(cluster), state, &args.planning.options(), None).await?;
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
                return Ok(ExitStatus::PlanHasErrors);
            }
            if !planned.computed.plan.has_changes() {
                if !crate::ops::apply::needs_recording(ws, &planned, state).await? {
                    super::plan::print_stats(Some(cluster));
                    return Ok(ExitStatus::Success);
                }
                println!(
                    "\nAn earlier apply stopped before recording everything it wrote: recording it (no write to the cluster)."
                );
            } else if !args.auto_approve && !confirm("\nDo you want to perform these actions?")? {
                eprintln!("Apply cancelled.");
                return Ok(ExitStatus::Cancelled);
            }
            planned
        }
    };
    let approved = planned.computed.plan.clone();
    let interrupts = Interrupts::on_ctrl_c();
    let options = ApplyOptions {
        parallelism: usize::from(args.parallelism),
        progress: Progress::detect(),
        cancelled: interrupts.cancelled.clone(),
        provenance: crate::ops::history::provenance(
            ws,
            args.message.clone(),
            saved.as_ref().map(|(_, file)| file.checksum.clone()),
        ),
    };
    let before = state.revision;
    let result = crate::ops::apply::carry_out(
        ws,
        cluster,
        state,
        &approved,
        planned,
        &options,
        &interrupts,
    )
    .await?;
    // One closing line: what the plan said, then what was done.
    let status = report_as_planned("Apply", &result, Some(&approved));
    if result.outcome != Outcome::Succeeded && args.atomic && before > 0 {
        eprintln!("\n--atomic: rolling back to revision {before}.");
        let (undo, rolled) =
            crate::ops::apply::undo(ws, cluster, state, before, &approved, &options, &interrupts)
                .await?;
        print!(
            "{}",
            crate::model::masking::mask(&render(&undo.plan, Format::Text, color(global)))
        );
        let undo_status = report_as("Undo (--atomic)", &rolled);
        if undo_status == ExitStatus::Success {
            println!(
                "The failed apply was undone (revision {}); the apply itself failed (exit {}).",
                rolled.revision,
                status.code()
            );
        }
        // The apply failed whatever the undo did: its status is the run's.
        return Ok(status);
    }
    super::plan::print_stats(Some(cluster));
    Ok(status)
}
