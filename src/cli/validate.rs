use super::GlobalArgs;
use crate::checks::{self, Finding, ImageFacts};
use crate::graph::{Address, DependencyGraph};
use crate::observe::LiveIndex;
use crate::ops::exit::ExitStatus;
use crate::plan::{compute, desired, images};
use crate::spec::{self, Spec, StateConfig};
use crate::state::{LocalBackend, State};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Checks syntax, types, references, cycles and paths, then renders every release \
(no cluster) and runs the plan-time checks that need no cluster (Secret keys, Service selectors and \
ports, Ingress backends, HPA targets and requests, probe ports, image pull policy, placeholders and \
credentials). Exit 1 on any error; warnings are listed. Without --env, the base and every \
[env.NAME] overlay are checked.\n\nExamples:\n  todoplan validate\n  todoplan validate --env prod\n  todoplan validate --file deploy/todo.toml"
)]
pub struct Args {}

pub async fn run(global: &GlobalArgs, _args: Args) -> miette::Result<ExitStatus> {
    let (spec, graph) = load_and_build(global, global.env.as_deref())?;
    let mut findings = vec![(spec.env.clone(), offline_checks(&spec, &graph).await?)];
    let mut checked_envs = Vec::new();
    if global.env.is_none() {
        for env in &spec.envs {
            let (overlay, graph) = load_and_build(global, Some(env))
                .map_err(|report| report.wrap_err(format!("with --env {env}")))?;
            let found = offline_checks(&overlay, &graph)
                .await
                .map_err(|report| report.wrap_err(format!("with --env {env}")))?;
            findings.push((Some(env.clone()), found));
            checked_envs.push(env.clone());
        }
    }
    let mut failed = false;
    let mut report = String::new();
    for (env, found) in &findings {
        if found.is_empty() {
            continue;
        }
        failed |= checks::has_errors(found);
        let which = match env {
            Some(e) => format!(" with --env {e}"),
            None => String::new(),
        };
        report.push_str(&format!(
            "\nChecks{which} ({}):\n",
            checks::count_line(found)
        ));
        for f in found {
            report.push_str(&format!("  {}\n", checks::finding_line(f)));
        }
    }
    if failed {
        println!(
            "{} has errors: the checks found problems that would fail once applied.{report}",
            spec.source.name
        );
        return Ok(ExitStatus::PlanHasErrors);
    }
    print!("{}\n{report}", summary(&spec, &graph, &checked_envs));
    Ok(ExitStatus::Success)
}

pub(crate) fn load_and_build(
    global: &GlobalArgs,
    env: Option<&str>,
) -> miette::Result<(Spec, DependencyGraph)> {
    let spec = spec::load(&global.file, env)?;
    super::workspace::print_lock_notes(&spec.chart_lock_notes);
    let graph = DependencyGraph::build(&spec)?;
    Ok((spec, graph))
}

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
            None,
            &capabilities,
            state.revision > 0,
            state.revision + 1,
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

fn summary(spec: &Spec, graph: &DependencyGraph, checked_envs: &[String]) -> String {
    let keys: usize = spec.secrets.values().map(|s| s.keys.len()).sum();
    let env = match &spec.env {
        Some(e) => format!(" (env {e})"),
        None => String::new(),
    };
    let mut line = format!(
        "{} is valid{env}: project {}, {} images, {} secret sets ({keys} keys), {} releases; {} nodes in {} waves",
        spec.source.name,
        spec.project.name,
        spec.images.len(),
        spec.secrets.len(),
        spec.releases.len(),
        graph.node_count(),
        graph.waves().len(),
    );
    if !checked_envs.is_empty() {
        line.push_str(&format!("; overlays checked: {}", checked_envs.join(", ")));
    }
    line
}
