use super::GlobalArgs;
use crate::checks;
use crate::graph::DependencyGraph;
use crate::ops::exit::ExitStatus;
use crate::ops::validate::offline_checks;
use crate::spec::{self, Spec};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Checks syntax, types, references, cycles and paths, then renders every release \
(no cluster) and runs the plan-time checks that need no cluster (Secret keys, Service selectors and \
ports, Ingress backends, HPA targets and requests, probe ports, image pull policy, placeholders and \
credentials). Exit 3 when the checks find an error, 1 when todo.toml itself is wrong; warnings are listed. Without --env, the base and every \
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
    let spec = spec::load_with(&global.file, env, global.load_options())?;
    super::workspace::print_lock_notes(&spec.chart_lock_notes);
    let graph = DependencyGraph::build(&spec)?;
    Ok((spec, graph))
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
