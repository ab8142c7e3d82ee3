//! Validate: the plan made without a cluster. Every release is rendered by the one desired-state
//! builder (`plan::desired`, as plan renders it), and the plan-time checks that need no cluster
//! run over the result.

use crate::checks::{self, Finding, ImageFacts};
use crate::graph::{Address, DependencyGraph};
use crate::observe::LiveIndex;
use crate::plan::{compute, desired, images};
use crate::spec::{Spec, StateConfig};
use crate::state::{LocalBackend, State};

/// The checks that need no cluster, over the releases rendered as a plan renders them (image
/// references from the last apply, or their tags) and todoplan's Secrets reduced to their keys.
/// Nothing missing is proven absent offline, so only what the plan itself contradicts is an
/// error.
pub async fn offline_checks(spec: &Spec, graph: &DependencyGraph) -> miette::Result<Vec<Finding>> {
    Ok(checks::run(&offline_input(spec, graph).await?))
}

/// What [`offline_checks`] checks: no live objects, no registry answers.
pub async fn offline_input(
    spec: &Spec,
    graph: &DependencyGraph,
) -> miette::Result<checks::CheckInput> {
    let (planned, delivered) = offline_desired(spec, graph).await?;
    let (delivery, _) = images::choose_delivery(spec, None);
    let mut input = checks::from_desired(spec, &planned, &LiveIndex::default());
    input.images = ImageFacts::delivered(
        &delivery,
        delivered.iter().map(|(n, r)| (n.as_str(), r.as_str())),
    );
    Ok(input)
}

/// The objects a plan would apply, made without a cluster: namespaces, keys-only Secrets and
/// every release rendered with the image references of the last apply (or their tags). With
/// them, (image name, reference) of each image todoplan delivers.
pub async fn offline_desired(
    spec: &Spec,
    graph: &DependencyGraph,
) -> miette::Result<(Vec<desired::DesiredObject>, Vec<(String, String)>)> {
    let state = match &spec.state {
        StateConfig::Local { dir } => {
            LocalBackend::new(dir.clone()).load_or_new(&spec.project.name)?
        }
        StateConfig::Kubernetes { .. } => State::new(&spec.project.name),
    };
    let (delivery, _) = images::choose_delivery(spec, None);
    let image_plans = images::plan_images(spec, &state, None, &delivery).await?;
    let (refs, _) = images::references(&image_plans, &delivery);
    let mut planned = desired::namespace_objects(spec);
    planned.extend(checks::secret_stubs(spec));
    let capabilities = crate::chart::Capabilities::default();
    let mut rendering = desired::Rendering {
        cluster: None,
        capabilities: &capabilities,
        declared: Default::default(),
    };
    for address in graph.apply_order() {
        let Address::Release(name) = &address else {
            continue;
        };
        let Some(release) = spec.releases.get(name) else {
            continue;
        };
        let values = compute::release_values(spec, release, &refs, &mut Vec::new())?;
        let objects = desired::release_objects(
            spec,
            name,
            values,
            desired::is_upgrade(&state, name),
            state.revision + 1,
            &mut rendering,
        )
        .await?;
        planned.extend(objects);
    }
    let delivered = refs
        .into_iter()
        .map(|(name, r)| (name, r.reference))
        .collect();
    Ok((planned, delivered))
}
