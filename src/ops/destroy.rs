//! Destroy: the plan against an empty spec. Every recorded object (and every live object of
//! this instance) is planned for deletion through the same planner and protection gate as apply,
//! and carried out by the same executor.

use std::collections::BTreeMap;

use super::workspace::{PlanOptions, Workspace};
use crate::graph::DependencyGraph;
use crate::observe::ClusterClient;
use crate::plan::compute::{Computed, diff_objects, digest_salt};
use crate::plan::model::Plan;
use crate::state::{ObjectRecord, State};

pub async fn destroy_plan(
    ws: &Workspace,
    cluster: &ClusterClient,
    state: &State,
    options: &PlanOptions,
) -> miette::Result<Computed> {
    let salt = digest_salt(state);
    let kinds = state
        .objects
        .values()
        .map(ObjectRecord::key)
        .map(|k| (k.api_version, k.kind))
        .collect();
    let mut live = cluster
        .live_inventory(&ws.spec.project.name, &state.lineage, &kinds)
        .await?;
    let (objects, deletions) =
        diff_objects(Some(cluster), &mut live, &[], state, options, &salt).await?;
    let plan = Plan {
        notes: vec!["destroy: every object this instance applied is planned for deletion".into()],
        objects,
        context: Some(cluster.context.clone()),
        server: Some(cluster.server.clone()),
        options: options.clone(),
        ..Plan::against(state, &ws.spec.project.name, ws.spec.env.clone())
    };
    Ok(Computed {
        label: Some("destroy".into()),
        plan,
        desired: Vec::new(),
        graph: DependencyGraph::build(&ws.spec)?,
        secrets: BTreeMap::new(),
        deletions,
        foreign_fields: BTreeMap::new(),
        release_values: Default::default(),
        basis: None,
        confirmed: BTreeMap::new(),
    })
}
