//! Command-line interface: one file per verb, each with its clap `Args` and a `run` function.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::ops::exit::ExitStatus;

use clap::{Parser, Subcommand};

pub mod apply;
pub mod completions;
pub mod destroy;
pub mod drift;
pub mod force_unlock;
pub mod graph;
pub mod history;
pub mod import;
pub mod init;
pub mod plan;
pub mod rbac;
pub mod render;
pub mod rollback;
pub mod state;
pub mod validate;
pub mod workspace;

/// Options every verb shares.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// The spec to read.
    #[arg(
        long,
        short = 'f',
        global = true,
        default_value = "todo.toml",
        env = "TODOPLAN_FILE"
    )]
    pub file: PathBuf,
    /// Overlay `[env.NAME]` of the spec over its base (e.g. `--env prod`).
    #[arg(long, global = true, env = "TODOPLAN_ENV")]
    pub env: Option<String>,
    /// Kubernetes context; overrides `[cluster].context` (KUBECONFIG rules apply otherwise).
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Start a new state even though an old one left a backup or history (they are moved
    /// aside, never overwritten). Without it, a missing state file is refused.
    #[arg(long, global = true)]
    pub new_state: bool,
    /// Never colour output, even on a terminal.
    #[arg(long, global = true, env = "NO_COLOR", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_color: bool,
    /// Refuse any run that would change charts.lock (a remote chart or range not in it, an
    /// entry no environment uses) instead of writing it, as `cargo --locked`. For CI.
    #[arg(long, global = true, env = "TODOPLAN_LOCKED", value_parser = clap::builder::FalseyValueParser::new())]
    pub locked: bool,
}

impl GlobalArgs {
    /// How the flags say todo.toml is loaded.
    pub fn load_options(&self) -> crate::spec::LoadOptions {
        crate::spec::LoadOptions {
            locked: self.locked,
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "todoplan",
    version,
    about = "Plan and apply the Todo app stack on Kubernetes from one todo.toml",
    after_help = "Examples:\n  todoplan validate\n  todoplan graph --format dot | dot -Tsvg > graph.svg\n  todoplan plan -out release.plan\n  todoplan apply release.plan\n  todoplan plan --env prod --format markdown"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented todo.toml from this repository's Dockerfiles and Helm charts.
    Init(init::Args),
    /// Take over a release installed with `helm install`: todo.toml gets it, Helm lets go of it.
    Import(import::Args),
    /// Check todo.toml: syntax, types, references, cycles, paths. Exit 0 valid, 1 not.
    Validate(validate::Args),
    /// Print the dependency graph as a text tree or Graphviz DOT.
    Graph(graph::Args),
    /// Render the releases' charts to Kubernetes manifests, like `helm template`.
    Render(render::Args),
    /// Show what apply would change.
    Plan(plan::Args),
    /// Apply the changes (asks first), or exactly a saved plan file.
    Apply(apply::Args),
    /// Delete everything todoplan applied, in reverse order (data kept unless --allow-data-loss).
    Destroy(destroy::Args),
    /// Show what changed in the cluster outside todoplan since the last apply.
    Drift(drift::Args),
    /// List the applied revisions (commit, outcome, message); `show [N]` one in full, `diff A [B]`
    /// what changed between two.
    History(history::Args),
    /// Restore the objects of an earlier revision as a new revision.
    Rollback(rollback::Args),
    /// Print the ClusterRole and binding a CI job needs to plan (`--plan`) or apply (`--apply`).
    Rbac(rbac::Args),
    /// Read the state: `state list [PREFIX]`, `state show ADDRESS`.
    State(state::Args),
    /// Remove a state lock left behind by a todoplan that is gone.
    ForceUnlock(force_unlock::Args),
    /// Print shell completions, e.g. `todoplan completions bash > /etc/bash_completion.d/todoplan`.
    Completions(completions::Args),
    /// Print the man page (roff), e.g. `todoplan man > todoplan.1`.
    Man,
}

/// Terraform users type `-out FILE` / `-out=FILE`; accept it as `--out`.
fn terraform_style_args() -> Vec<std::ffi::OsString> {
    std::env::args_os()
        .map(|a| match a.to_str() {
            Some("-out") => "--out".into(),
            Some(s) if s.starts_with("-out=") => format!("-{s}").into(),
            _ => a,
        })
        .collect()
}

/// `todoplan render …` parsed against a command that holds only the global options and
/// `render`: clap builds every verb's arguments before it parses, which was a tenth of the CPU
/// of rendering a small chart. Whatever this reduced parser does not take cleanly (help,
/// version, any error) is left to the full one (`None`), so output and errors are unchanged.
fn parse_render(args: &[std::ffi::OsString]) -> Option<Cli> {
    use clap::{Args, FromArgMatches};
    if args.get(1)?.to_str()? != "render" {
        return None;
    }
    let command = GlobalArgs::augment_args(clap::Command::new("todoplan"))
        .subcommand(render::Args::augment_args(clap::Command::new("render")));
    let mut matches = command.try_get_matches_from(args).ok()?;
    Cli::from_arg_matches_mut(&mut matches).ok()
}

pub fn main() -> ExitCode {
    let args = terraform_style_args();
    let cli = match parse_render(&args).map_or_else(|| Cli::try_parse_from(args), Ok) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and --version are answers, not errors.
            return if e.use_stderr() {
                ExitStatus::UsageError.into()
            } else {
                ExitStatus::Success.into()
            };
        }
    };
    // Commands that never reach a cluster or registry run on this thread: starting a runtime's
    // worker threads and I/O driver costs more than rendering a small chart.
    let cli = match cli.command {
        Command::Render(args) if args.chart.is_some() => {
            return finish(render::run_chart_dir(args));
        }
        Command::Completions(args) => return finish(completions::run(args)),
        Command::Man => return finish(completions::man()),
        command => Cli { command, ..cli },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitStatus::Failure.into();
        }
    };
    finish(runtime.block_on(dispatch(cli)))
}

/// The exit code of a command, its error drawn on stderr (secrets masked).
fn finish(result: miette::Result<ExitStatus>) -> ExitCode {
    match result {
        Ok(status) => status.into(),
        Err(report) => {
            eprintln!("{}", crate::model::masking::mask(&render_report(&report)));
            match report.downcast_ref::<crate::plan::planfile::PlanFileError>() {
                Some(crate::plan::planfile::PlanFileError::Stale { .. }) => {
                    ExitStatus::PlanStale.into()
                }
                _ => ExitStatus::Failure.into(),
            }
        }
    }
}

async fn dispatch(cli: Cli) -> miette::Result<ExitStatus> {
    let global = cli.global;
    match cli.command {
        Command::Init(args) => init::run(&global, args).await,
        Command::Import(args) => import::run(&global, args).await,
        Command::Validate(args) => validate::run(&global, args).await,
        Command::Graph(args) => graph::run(&global, args).await,
        Command::Render(args) => render::run(&global, args).await,
        Command::Plan(args) => plan::run(&global, args).await,
        Command::Apply(args) => apply::run(&global, args).await,
        Command::Destroy(args) => destroy::run(&global, args).await,
        Command::Drift(args) => drift::run(&global, args).await,
        Command::History(args) => history::run(&global, args).await,
        Command::Rbac(args) => rbac::run(&global, args).await,
        Command::State(args) => state::run(&global, args).await,
        Command::Rollback(args) => rollback::run(&global, args).await,
        Command::ForceUnlock(args) => force_unlock::run(&global, args).await,
        Command::Completions(args) => completions::run(args),
        Command::Man => completions::man(),
    }
}

/// Past this, a rendered diagnostic is not something a person reads (a 10 MB line of input).
const MAX_RENDERED: usize = 64 * 1024;

/// The report as miette draws it; when that fails (miette's renderer panics on a label past
/// column 65,535) or would print a huge excerpt, a plain rendering that names the place by line
/// and column instead of quoting it.
pub fn render_report(report: &miette::Report) -> String {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let drawn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| format!("{report:?}")));
    std::panic::set_hook(previous);
    match drawn {
        Ok(text) if text.len() <= MAX_RENDERED => text,
        _ => plain_report(report),
    }
}

fn plain_report(report: &miette::Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let cut = |s: String| -> String {
        if s.chars().count() > 300 {
            format!("{}…", s.chars().take(300).collect::<String>())
        } else {
            s
        }
    };
    if let Some(code) = report.code() {
        let _ = writeln!(out, "{code}");
    }
    let _ = writeln!(out, "  × {}", cut(report.to_string()));
    if let (Some(labels), Some(source)) = (report.labels(), report.source_code()) {
        for label in labels {
            let place = source
                .read_span(label.inner(), 0, 0)
                .map(|c| {
                    format!(
                        "{}:{}:{}",
                        c.name().unwrap_or("input"),
                        c.line() + 1,
                        c.column() + 1
                    )
                })
                .unwrap_or_else(|_| format!("offset {}", label.offset()));
            let _ = writeln!(
                out,
                "  at {place}{}",
                label
                    .label()
                    .map(|l| format!(": {}", cut(l.to_string())))
                    .unwrap_or_default()
            );
        }
    }
    for related in report.related().into_iter().flatten() {
        let _ = writeln!(out, "  × {}", cut(related.to_string()));
    }
    if let Some(help) = report.help() {
        let _ = writeln!(out, "  help: {}", cut(help.to_string()));
    }
    out
}

#[cfg(test)]
mod parse_render_tests {
    use super::{Cli, parse_render};
    use clap::Parser;

    fn argv(line: &str) -> Vec<std::ffi::OsString> {
        line.split(' ').map(Into::into).collect()
    }

    #[test]
    fn the_reduced_parser_reads_render_as_the_full_one_does() {
        for line in [
            "todoplan render",
            "todoplan render --chart charts/backend --release-name rel --values a.yaml --values b.yaml",
            "todoplan render --chart c --namespace ns --set a=1 --set b=2 --kube-version 1.30.0 --notes",
            "todoplan render --chart c --api-versions x/v1 --no-color --new-state",
            "todoplan render backend --env prod --context kind-dev",
            "todoplan render -f other.toml --chart c",
        ] {
            let fast = parse_render(&argv(line)).unwrap_or_else(|| panic!("{line}: not taken"));
            let full = Cli::try_parse_from(argv(line)).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{line}");
        }
    }

    #[test]
    fn help_errors_and_other_verbs_go_to_the_full_parser() {
        for line in [
            "todoplan render --help",
            "todoplan render -h",
            "todoplan render --no-such-flag",
            "todoplan render --chart",
            "todoplan render one two",
            "todoplan plan",
            "todoplan --version",
            "todoplan",
        ] {
            assert!(parse_render(&argv(line)).is_none(), "{line}");
        }
    }
}
