//! `todoplan render`: print a chart's manifests as `helm template` would.

use crate::ops::exit::ExitStatus;
use std::path::PathBuf;

use super::GlobalArgs;
use crate::chart::{self, Capabilities, RenderOptions, RenderRequest};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A release of todo.toml to render (all of them when omitted and no --chart is given).
    pub release: Option<String>,
    /// Chart directory to render.
    #[arg(long, value_name = "DIR")]
    pub chart: Option<PathBuf>,
    /// Values file, lowest precedence first (repeatable). `-f` names todo.toml, so this is
    /// long-only.
    #[arg(long = "values", value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// Set a value: `a.b=c,d=e` (repeatable; after values files).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    #[arg(long, default_value = "release-name")]
    pub release_name: String,
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// Kubernetes version for .Capabilities (default: what `helm template` assumes offline).
    #[arg(long)]
    pub kube_version: Option<String>,
    /// Extra API versions for .Capabilities.APIVersions (repeatable).
    #[arg(long = "api-versions", value_name = "GROUP/VERSION[/KIND]")]
    pub api_versions: Vec<String>,
    /// Print the NOTES.txt of the chart after the manifests.
    #[arg(long)]
    pub notes: bool,
    /// With --chart: print the chart's crds/ files first, as `helm template --include-crds`
    /// (a release of todo.toml always shows them unless it says `crds = "skip"`).
    #[arg(long)]
    pub include_crds: bool,
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitStatus> {
    if args.chart.is_some() {
        // `cli::main` runs this case before starting a runtime; here only for completeness.
        return run_chart_dir(args);
    }
    // The releases of todo.toml, rendered as apply renders them (without todoplan's labels).
    let ws = <super::workspace::Workspace as super::workspace::FromGlobalArgs>::load(global)?;
    let manifests = super::workspace::render_releases(&ws, args.release.as_deref()).await?;
    print!("{}", chart::to_helm_template_output(&manifests));
    Ok(ExitStatus::Success)
}

/// `render --chart DIR`: one chart directory, offline, like `helm template`. Needs no runtime:
/// `cli::main` calls it on the main thread before starting one.
pub fn run_chart_dir(args: Args) -> miette::Result<ExitStatus> {
    let Some(chart_dir) = args.chart else {
        return Err(miette::miette!("render: no chart directory given"));
    };
    let mut caps = Capabilities::default();
    if let Some(v) = args.kube_version {
        caps.kube_version = v;
    }
    caps.api_versions.extend(args.api_versions);
    let opts = RenderOptions {
        set: args.set,
        include_crds: args.include_crds,
    };
    let req = RenderRequest {
        chart_dir: &chart_dir,
        release_name: &args.release_name,
        namespace: &args.namespace,
        values_files: &args.values,
        inline_values: serde_json::Value::Null,
        revision: 1,
        is_upgrade: false,
        capabilities: caps,
        lookup: None,
    };
    let rendered = chart::render_as_helm_template(&req, &opts)?;
    print!("{}", rendered.text);
    if args.notes
        && let Some(n) = rendered.notes
    {
        println!("\nNOTES:\n{n}");
    }
    Ok(ExitStatus::Success)
}
