use std::collections::BTreeMap;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use super::GlobalArgs;
use super::workspace::{PlanningArgs, Workspace, color, confirm};
use crate::apply::progress::Progress;
use crate::apply::{ApplyOptions, ApplyReport, execute};
use crate::graph::{Address, DependencyGraph};
use crate::observe::{ClusterClient, ObjectKey};
use crate::plan::compute::{Computed, diff_objects, digest_salt};
use crate::plan::desired::DesiredObject;
use crate::plan::model::Plan;
use crate::plan::output::{Format, render};
use crate::plan::redact::{secret_values, value_digest};
use crate::state::State;

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

/// The desired objects of revision `revision`. Secrets are restored only when their current
/// values (live, or from their sources) still have the recorded digests.
async fn recorded_objects(
    ws: &Workspace,
    cluster: &ClusterClient,
    state: &State,
    revision: u64,
) -> miette::Result<Vec<DesiredObject>> {
    let entry = ws.backend.history_entry(revision)?;
    let salt = digest_salt(state);
    let mut out = Vec::new();
    for (address, record) in &entry.objects {
        let parsed = Address::from_str(address).map_err(|e| {
            miette::miette!("revision {revision} records an unreadable address {address}: {e}")
        })?;
        let key = record.key();
        let object = if record.kind == "Secret" && record.api_version == "v1" {
            let set = match &parsed {
                Address::Secret(s) => s.clone(),
                _ => address.clone(),
            };
            let recorded = entry
                .secrets
                .get(&set)
                .map(|s| s.key_digests.clone())
                .unwrap_or_default();
            let live = cluster.get(&key).await?;
            let live_values = live.as_ref().map(secret_values).unwrap_or_default();
            let live_digests: BTreeMap<String, String> = live_values
                .iter()
                .map(|(k, v)| (k.clone(), value_digest(&salt, k, v)))
                .collect();
            if recorded.is_empty() || live_digests != recorded {
                return Err(miette::miette!(
                    help = "restore the secret's sources (environment variables, files) to the values of that revision, or roll back to a revision with the current values",
                    "secret {address} cannot be restored to revision {revision}: its recorded values are not available (todoplan keeps only digests)"
                ));
            }
            // Same values as recorded: keep the live Secret's data, with the recorded metadata.
            let mut o = record.manifest.clone();
            if let (Some(map), Some(live)) = (o.as_object_mut(), live) {
                map.insert("data".into(), live.get("data").cloned().unwrap_or_default());
                map.remove("stringData");
            }
            o
        } else {
            record.manifest.clone()
        };
        let timeout = ws
            .spec
            .releases
            .get(&record.release)
            .map(|r| r.timeout)
            .unwrap_or(Duration::from_secs(300));
        out.push(DesiredObject {
            address: parsed,
            object,
            release: (!record.release.is_empty()).then(|| record.release.clone()),
            protect: record.protect,
            timeout,
        });
    }
    Ok(out)
}

/// Plans and applies revision `revision`'s objects as a new revision (Helm's semantics).
pub async fn restore(
    ws: &Workspace,
    cluster: &ClusterClient,
    state: &mut State,
    revision: u64,
    planning: &PlanningArgs,
    options: &ApplyOptions,
) -> miette::Result<ApplyReport> {
    let computed = rollback_plan(ws, cluster, state, revision, planning).await?;
    Ok(execute(cluster, &computed, &ws.backend, state, options).await)
}

async fn rollback_plan(
    ws: &Workspace,
    cluster: &ClusterClient,
    state: &State,
    revision: u64,
    planning: &PlanningArgs,
) -> miette::Result<Computed> {
    let desired = recorded_objects(ws, cluster, state, revision).await?;
    let salt = digest_salt(state);
    let kinds = desired
        .iter()
        .map(|d| d.key())
        .map(|k| (k.api_version, k.kind))
        .chain(
            state
                .objects
                .values()
                .map(|r| (r.api_version.clone(), r.kind.clone())),
        )
        .collect();
    let live = cluster
        .live_inventory(&ws.spec.project.name, &kinds)
        .await?;
    let (objects, deletions) = diff_objects(
        Some(cluster),
        &live,
        &desired,
        state,
        planning.allow_data_loss,
        &salt,
    )
    .await?;
    let mut graph = DependencyGraph::build(&ws.spec)?;
    let mut by_release: BTreeMap<String, Vec<ObjectKey>> = BTreeMap::new();
    for d in &desired {
        if let Some(r) = &d.release {
            by_release.entry(r.clone()).or_default().push(d.key());
        }
    }
    for (r, keys) in &by_release {
        if ws.spec.releases.contains_key(r) {
            graph.add_release_objects(r, keys);
        }
    }
    let plan = Plan {
        notes: vec![format!(
            "rollback: restoring the objects recorded in revision {revision}"
        )],
        objects,
        ..Plan::against(state, &ws.spec.project.name, ws.spec.env.clone())
    };
    Ok(Computed {
        plan,
        desired,
        graph,
        secrets: BTreeMap::new(),
        deletions,
        foreign_fields: BTreeMap::new(),
    })
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitCode> {
    let ws = Workspace::load(global)?;
    let _lock = ws.lock("todoplan rollback", args.planning.lock_timeout)?;
    let mut state = ws.state()?;
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
    let cluster = ws.connect(global).await?;
    let computed = rollback_plan(&ws, &cluster, &state, target, &args.planning).await?;
    print!("{}", render(&computed.plan, Format::Text, color(global)));
    if !computed.plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    if !args.auto_approve && !confirm(&format!("\nRoll back to revision {target}?"))? {
        eprintln!("Rollback cancelled.");
        return Ok(ExitCode::from(1));
    }
    let options = ApplyOptions {
        parallelism: usize::from(args.parallelism),
        progress: Progress::detect(),
        cancelled: super::apply::cancel_on_ctrl_c(),
    };
    let report = execute(&cluster, &computed, &ws.backend, &mut state, &options).await;
    Ok(super::apply::report(&report))
}
