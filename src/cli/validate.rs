use std::process::ExitCode;

use super::GlobalArgs;
use crate::graph::DependencyGraph;
use crate::spec::{self, Spec};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Checks syntax, types, references, cycles and paths. Without --env, the base \
and every [env.NAME] overlay are checked.\n\nExamples:\n  todoplan validate\n  todoplan validate --env prod\n  todoplan validate --file deploy/todo.toml"
)]
pub struct Args {}

pub async fn run(global: &GlobalArgs, _args: Args) -> miette::Result<ExitCode> {
    let (spec, graph) = load_and_build(global, global.env.as_deref())?;
    let mut checked_envs = Vec::new();
    if global.env.is_none() {
        for env in &spec.envs {
            load_and_build(global, Some(env))
                .map_err(|report| report.wrap_err(format!("with --env {env}")))?;
            checked_envs.push(env.clone());
        }
    }
    println!("{}", summary(&spec, &graph, &checked_envs));
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn load_and_build(
    global: &GlobalArgs,
    env: Option<&str>,
) -> miette::Result<(Spec, DependencyGraph)> {
    let spec = spec::load(&global.file, env)?;
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
