//! Rollback: a plan whose desired objects are those a recorded revision applied (Helm's
//! semantics: the restore is a new revision). It passes the same planner, protection gate and
//! executor as every other plan.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use super::workspace::{PlanOptions, Workspace};
use crate::graph::{Address, DependencyGraph};
use crate::observe::{ClusterClient, ObjectKey};
use crate::plan::compute::{Computed, diff_objects, digest_salt};
use crate::plan::desired::DesiredObject;
use crate::plan::model::Plan;
use crate::plan::redact::{secret_values, value_digest};
use crate::state::{State, StateBackend};

/// The revision `rollback --to` names, or the one before the current.
pub fn rollback_target(state: &State, to: Option<u64>) -> miette::Result<u64> {
    match to {
        Some(n) => Ok(n),
        None if state.revision >= 2 => Ok(state.revision - 1),
        None => Err(miette::miette!(
            help = "`todoplan history` lists the revisions",
            "there is no earlier revision to roll back to (current revision {})",
            state.revision
        )),
    }
}

/// The desired objects of revision `revision`. Secrets are restored only when their current
/// values (live, or from their sources) still have the recorded digests.
async fn recorded_objects(
    ws: &Workspace,
    cluster: &ClusterClient,
    state: &State,
    revision: u64,
) -> miette::Result<Vec<DesiredObject>> {
    let entry = ws.backend.read_history(revision).await?;
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
            let digests = |values: &BTreeMap<String, Vec<u8>>| -> BTreeMap<String, String> {
                values
                    .iter()
                    .map(|(k, v)| (k.clone(), value_digest(&salt, k, v)))
                    .collect()
            };
            let live_values = live.as_ref().map(secret_values).unwrap_or_default();
            // The values of that revision: still live, or what the set's sources give now
            // (an environment variable or file restored to that revision's value).
            let data = if !recorded.is_empty() && digests(&live_values) == recorded {
                live.as_ref()
                    .and_then(|l| l.get("data"))
                    .cloned()
                    .unwrap_or_default()
            } else {
                let from_sources = ws.spec.secrets.get(&set).and_then(|s| {
                    crate::secrets::resolve(s, live.as_ref(), &Default::default()).ok()
                });
                match from_sources {
                    Some(resolved)
                        if !recorded.is_empty() && digests(&resolved.values) == recorded =>
                    {
                        for v in resolved.values.values() {
                            crate::model::masking::remember(v);
                        }
                        resolved.manifest().get("data").cloned().unwrap_or_default()
                    }
                    _ => {
                        return Err(miette::miette!(
                            help = "restore the secret's sources (environment variables, files) to the values of that revision, or roll back to a revision with the current values",
                            "secret {address} cannot be restored to revision {revision}: neither the live Secret nor its sources hold the values it recorded (todoplan keeps only digests)"
                        ));
                    }
                }
            };
            // The recorded metadata, with those values.
            let mut o = record.manifest.value();
            if let Some(map) = o.as_object_mut() {
                map.insert("data".into(), data);
                map.remove("stringData");
            }
            o
        } else {
            // A copy of a secret value was masked before it reached the state: the revision
            // cannot give it back.
            if record
                .manifest
                .as_str()
                .contains(crate::model::masking::MASK)
            {
                return Err(miette::miette!(
                    help = "apply the chart of that revision instead (check it out and run `todoplan apply`): rendering it reads the secret again",
                    "{address} cannot be restored to revision {revision}: it held a copy of a secret value, which the state records masked"
                ));
            }
            record.manifest.value()
        };
        let timeout = ws
            .spec
            .releases
            .get(&record.release)
            .map(|r| r.timeout)
            .unwrap_or(Duration::from_secs(300));
        out.push(DesiredObject {
            address: parsed,
            object: {
                let mut o = object;
                crate::plan::compute::label_instance(&mut o, &state.lineage);
                o
            },
            release: (!record.release.is_empty()).then(|| record.release.clone()),
            protect: record.protect,
            timeout,
        });
    }
    Ok(out)
}

pub async fn rollback_plan(
    ws: &Workspace,
    cluster: &ClusterClient,
    state: &State,
    revision: u64,
    options: &PlanOptions,
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
    let mut live = cluster
        .live_inventory(&ws.spec.project.name, &state.lineage, &kinds)
        .await?;
    let (objects, deletions) =
        diff_objects(Some(cluster), &mut live, &desired, state, options, &salt).await?;
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
        context: Some(cluster.context.clone()),
        server: Some(cluster.server.clone()),
        options: options.clone(),
        ..Plan::against(state, &ws.spec.project.name, ws.spec.env.clone())
    };
    Ok(Computed {
        label: Some(format!("rollback to revision {revision}")),
        plan,
        desired,
        graph,
        secrets: BTreeMap::new(),
        deletions,
        foreign_fields: BTreeMap::new(),
        release_values: Default::default(),
        basis: None,
        confirmed: BTreeMap::new(),
    })
}
