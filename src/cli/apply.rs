use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::GlobalArgs;
use super::workspace::{PlanningArgs, Workspace, color, confirm, docker, make_plan};
use crate::apply::progress::Progress;
use crate::apply::{ApplyOptions, ApplyReport, execute};
use crate::plan::output::{Format, render, summary_line};
use crate::plan::planfile::PlanFile;
use crate::state::Outcome;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved by `todoplan plan --out FILE`: apply exactly it (refused if stale).
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

/// Ctrl-C: start nothing new, let in-flight writes finish, save state, release the lock.
pub fn cancel_on_ctrl_c() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\nInterrupt: starting nothing new; waiting for in-flight steps, then saving state."
            );
            f.store(true, Ordering::SeqCst);
        }
    });
    flag
}

pub fn report(report: &ApplyReport) -> ExitCode {
    for (node, error) in &report.failures {
        eprintln!("\nError: {node} failed:\n{error}");
    }
    if !report.skipped.is_empty() {
        eprintln!(
            "\nNot started because something they depend on failed or apply was interrupted:"
        );
        for s in &report.skipped {
            eprintln!("  {s}");
        }
    }
    println!(
        "\nApply {}: {} object(s) written, {} destroyed. Revision {}.",
        report.outcome, report.written, report.deleted, report.revision
    );
    if report.outcome == Outcome::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitCode> {
    let ws = Workspace::load(global)?;
    let _lock = ws.lock("todoplan apply", args.planning.lock_timeout)?;
    let mut state = ws.state()?;
    let cluster = ws.connect(global).await?;
    let saved = match &args.plan_file {
        Some(p) => Some(PlanFile::read(p)?),
        None => None,
    };
    let planned = make_plan(&ws, Some(&cluster), &state, &args.planning, None).await?;
    match &saved {
        Some(file) => file.check_current(&state, &planned)?,
        None => {
            print!(
                "{}",
                render(&planned.computed.plan, Format::Text, color(global))
            );
            if !planned.computed.plan.has_changes() {
                super::plan::print_stats(Some(&cluster));
                return Ok(ExitCode::SUCCESS);
            }
            if !args.auto_approve && !confirm("\nDo you want to perform these actions?")? {
                eprintln!("Apply cancelled.");
                return Ok(ExitCode::from(1));
            }
        }
    }
    if saved.is_some() && !planned.computed.plan.has_changes() {
        println!("No changes. The cluster matches the saved plan.");
        return Ok(ExitCode::SUCCESS);
    }
    let progress = Progress::detect();
    let cancelled = cancel_on_ctrl_c();
    // Images first: releases render with their pushed references.
    let planned = if planned
        .images
        .iter()
        .any(|i| !matches!(i.status, crate::images::ImageStatus::UpToDate { .. }))
    {
        let docker = docker().await?;
        crate::plan::images::deliver(
            &docker,
            &planned.images,
            &planned.delivery,
            &mut state,
            &progress,
        )
        .await?;
        ws.backend.save(&mut state)?;
        make_plan(&ws, Some(&cluster), &state, &args.planning, Some(planned)).await?
    } else {
        planned
    };
    let before = state.revision;
    let options = ApplyOptions {
        parallelism: usize::from(args.parallelism),
        progress,
        cancelled,
    };
    let result = execute(
        &cluster,
        &planned.computed,
        &ws.backend,
        &mut state,
        &options,
    )
    .await;
    let code = report(&result);
    if result.outcome != Outcome::Succeeded && args.atomic && before > 0 {
        eprintln!("\n--atomic: rolling back to revision {before}.");
        let rolled =
            super::rollback::restore(&ws, &cluster, &mut state, before, &args.planning, &options)
                .await?;
        report(&rolled);
        return Ok(ExitCode::from(1));
    }
    super::plan::print_stats(Some(&cluster));
    if result.outcome == Outcome::Succeeded {
        println!(
            "{}",
            summary_line(&planned.computed.plan).replace("Plan:", "Applied:")
        );
    }
    Ok(code)
}
