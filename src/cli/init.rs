//! `todoplan init`: write a commented todo.toml from a repository's Dockerfiles and charts.

use crate::ops::exit::ExitStatus;
use std::path::PathBuf;

use super::GlobalArgs;
use crate::ops::init::{self, InitOptions, InitReport};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Finds Dockerfiles (each an image), chart directories (each a release; an umbrella \
chart with its subcharts is one), values-<env>.yaml files ([env.<env>] overlays), Secrets a chart \
renders from values ([secrets.*] keys that are generated or read from the environment, never \
copied) and image values (wired to the built images). Writes DIR/todo.toml (the name --file \
gives) and says what it could not infer. An existing file is kept unless --force.\n\nExamples:\n  \
todoplan init\n  todoplan init --registry 127.0.0.1:5555\n  todoplan init path/to/repo --name todo \
--namespace todo"
)]
pub struct Args {
    /// The repository to scan; todo.toml is written at its root.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Project name (default: the directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Namespace of the releases and secrets (default: the project name).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Registry the cluster pulls images from (`host:port`); without it, delivery is detected
    /// from the kube context (minikube, kind).
    #[arg(long, value_name = "HOST:PORT")]
    pub registry: Option<String>,
    /// Overwrite an existing todo.toml.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitStatus> {
    let file_name = global
        .file
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("todo.toml"));
    let opts = InitOptions {
        output: args.dir.join(file_name),
        root: args.dir,
        project: args.name,
        namespace: args.namespace,
        registry: args.registry,
        force: args.force,
    };
    let report = tokio::task::block_in_place(|| init::init(&opts))?;
    print!("{}", summary(&report));
    Ok(ExitStatus::Success)
}

/// What init wrote and what it left to the user, as printed.
pub fn summary(r: &InitReport) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let secrets: Vec<String> = r
        .secrets
        .iter()
        .map(|(s, n)| format!("{s} ({n} key{})", if *n == 1 { "" } else { "s" }))
        .collect();
    let mut out = format!(
        "Wrote {} for project {}:\n  images:       {}\n  releases:     {}\n  secrets:      {}\n  environments: {}\n",
        r.path.display(),
        r.project,
        list(&r.images),
        list(&r.releases),
        list(&secrets),
        list(&r.envs),
    );
    if !r.notes.is_empty() {
        out.push_str("\nBefore the first apply:\n");
        for n in &r.notes {
            out.push_str(&format!("  - {n}\n"));
        }
    }
    if !r.not_inferred.is_empty() {
        out.push_str("\nCould not infer (also listed at the top of the file):\n");
        for n in &r.not_inferred {
            out.push_str(&format!("  - {n}\n"));
        }
    }
    out.push_str("\nNext: todoplan validate && todoplan plan\n");
    out
}
