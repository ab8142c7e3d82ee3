use crate::ops::exit::ExitStatus;
use std::path::PathBuf;

use super::GlobalArgs;
use super::workspace::{FromGlobalArgs, PlanningArgs, Workspace, color, make_plan};
use crate::plan::output::{Format, render};
use crate::plan::planfile::PlanFile;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format: text (terminal), markdown (pull-request comment), json (machines).
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Save the plan to FILE for `todoplan apply FILE` (also accepted as `-out FILE`).
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Plan against state/ only, without reading the cluster (for CI without credentials).
    #[arg(long)]
    pub offline: bool,
    /// Also plan todo.toml as it is at this git ref (e.g. `origin/main`), against the same
    /// cluster and state, and mark the changes already pending there (not added by this one).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    #[command(flatten)]
    pub planning: PlanningArgs,
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitStatus> {
    let mut ws = Workspace::load(global)?;
    if args.out.is_none() {
        ws.backend.set_look_only();
    }
    // First: a state in the cluster then shares this connection.
    let cluster = if args.offline {
        None
    } else {
        Some(ws.connect_cluster().await?)
    };
    let _lock = if args.offline {
        crate::ops::workspace::lock_or_read_beside(&ws, "todoplan plan", args.planning.lock_timeout)
            .await?
    } else {
        Some(ws.lock("todoplan plan", args.planning.lock_timeout).await?)
    };
    let state = ws.state(cluster.as_ref()).await?;
    let planned = make_plan(
        &ws,
        cluster.as_ref(),
        &state,
        &args.planning.options(),
        None,
    )
    .await?;
    let mut planned = planned;
    if let Some(reference) = &args.base {
        let tree = crate::ops::base::check_out(&global.file, reference)?;
        let base_plan = crate::ops::base::plan_base(
            &ws,
            &tree,
            cluster.as_ref(),
            &state,
            &args.planning.options(),
        )
        .await?;
        crate::ops::base::mark_pending(
            &mut planned.computed.plan,
            &base_plan,
            &tree.reference,
            &tree.commit,
        );
    }
    let plan = &planned.computed.plan;
    print!(
        "{}",
        crate::model::masking::mask(&render(
            plan,
            args.format,
            color(global) && args.format == Format::Text
        ))
    );
    if let Some(path) = &args.out {
        if args.offline {
            return Err(miette::miette!(
                help = "run the plan against the cluster to save it",
                "an --offline plan cannot be saved for apply: it did not read the cluster"
            ));
        }
        let file = PlanFile::new(
            &planned.computed,
            &crate::plan::compute::digest_salt(&state),
        );
        file.write(path)?;
        // The checksum `todoplan history` records for the revision that applies this file.
        eprintln!(
            "Saved the plan to {} (checksum {}). Apply exactly it with: todoplan apply {}",
            path.display(),
            file.checksum,
            path.display()
        );
    }
    print_stats(cluster.as_ref());
    if plan.has_errors() || crate::checks::has_errors(&plan.checks) {
        return Ok(ExitStatus::PlanHasErrors);
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        ExitStatus::ChangesPresent
    } else {
        ExitStatus::Success
    })
}

/// With `TODOPLAN_STATS=1`, how many requests the command sent (for benchmarks).
pub fn print_stats(cluster: Option<&crate::observe::ClusterClient>) {
    if std::env::var_os("TODOPLAN_STATS").is_some_and(|v| v == "1")
        && let Some(c) = cluster
    {
        eprintln!("{}", c.stats_line());
    }
}
