//! `todoplan state list|show`: what the state records, as `terraform state list|show` prints it.

use super::GlobalArgs;
use super::workspace::{FromGlobalArgs, Workspace};
use crate::ops::exit::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// Every recorded address (images, secrets, objects), optionally only those starting with
    /// a prefix such as `release.backend`.
    List {
        prefix: Option<String>,
        /// One JSON object per address instead of a list of addresses.
        #[arg(long)]
        json: bool,
    },
    /// One recorded object: its identity, uid, digest and the applied manifest (secret values
    /// redacted), or a secret set's keys, or an image's reference.
    Show {
        address: String,
        /// JSON instead of YAML.
        #[arg(long)]
        json: bool,
    },
    /// Move the state, its history and digest key from the backend todo.toml names to another
    /// (lineage and serial kept; a non-empty target is refused); then point `[state]` at it.
    Migrate {
        /// The backend to move to.
        #[arg(long, value_enum)]
        to: BackendKind,
        /// (kubernetes) namespace of the state Secrets; default: the cluster namespace.
        #[arg(long, value_name = "NAMESPACE")]
        namespace: Option<String>,
        /// (kubernetes) base name of the state Secrets; default: `<project>-state`.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// (local) the state directory, relative to todo.toml; default: `state`.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
        /// Wait this long for a command holding either state's lock (e.g. 30s, 2m).
        #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
        lock_timeout: std::time::Duration,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BackendKind {
    Kubernetes,
    Local,
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitStatus> {
    let ws = Workspace::load(global)?;
    if let StateCommand::Migrate {
        to,
        namespace,
        name,
        dir,
        lock_timeout,
    } = &args.command
    {
        let to = match to {
            BackendKind::Kubernetes => "kubernetes",
            BackendKind::Local => "local",
        };
        let target = crate::ops::state_migrate::target_backend(
            &ws,
            to,
            namespace.as_deref(),
            name.as_deref(),
            dir.as_deref(),
        );
        let done = crate::ops::state_migrate::migrate(&ws, &target, *lock_timeout).await?;
        println!(
            "Moved the state (lineage {}, serial {}, revision {}) and {} history revision(s) from {} to {}.",
            done.lineage, done.serial, done.revision, done.history, done.from, done.to
        );
        let (namespace, name) = match &target {
            crate::state::StateStore::Kubernetes(b) => {
                (b.namespace().to_string(), b.name().to_string())
            }
            crate::state::StateStore::Local(_) => (String::new(), String::new()),
        };
        match to {
            "kubernetes" => println!(
                "Now set in todo.toml:\n  [state]\n  backend = \"kubernetes\"\n  namespace = \"{namespace}\"\n  name = \"{}\"",
                name.trim_end_matches(
                    &ws.spec
                        .env
                        .as_ref()
                        .map(|e| format!("-env-{e}"))
                        .unwrap_or_default()
                )
            ),
            _ => println!(
                "Now set in todo.toml:\n  [state]\n  backend = \"local\"\n  dir = \"{}\"",
                dir.as_deref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|| "state".into())
            ),
        }
        println!(
            "The old state is left where it was: remove it once todo.toml points at the new one."
        );
        return Ok(ExitStatus::Success);
    }
    let state = ws.state(None).await?;
    let rows = crate::ops::state_view::entries(&state);
    match args.command {
        StateCommand::List { prefix, json } => {
            let shown: Vec<_> = rows
                .iter()
                .filter(|e| prefix.as_deref().is_none_or(|p| e.address.starts_with(p)))
                .collect();
            if json {
                for e in &shown {
                    println!(
                        "{}",
                        serde_json::json!({"address": e.address, "kind": e.kind, "tainted": e.tainted, "protected": e.protected})
                    );
                }
            } else {
                for e in &shown {
                    let mut flags = Vec::new();
                    if e.tainted {
                        flags.push("tainted");
                    }
                    if e.protected {
                        flags.push("protected");
                    }
                    if flags.is_empty() {
                        println!("{}", e.address);
                    } else {
                        println!("{}  ({})", e.address, flags.join(", "));
                    }
                }
            }
            if shown.is_empty() && prefix.is_some() {
                return Ok(ExitStatus::Failure);
            }
            Ok(ExitStatus::Success)
        }
        // Handled above, before the state is opened.
        StateCommand::Migrate { .. } => Ok(ExitStatus::Success),
        StateCommand::Show { address, json } => {
            let Some(value) = crate::ops::state_view::show(&state, &address) else {
                let known: Vec<&str> = rows.iter().map(|e| e.address.as_str()).collect();
                let help = crate::spec::did_you_mean(&address, known.iter().copied())
                    .map(|best| {
                        format!("did you mean `{best}`? `todoplan state list` shows every address")
                    })
                    .unwrap_or_else(|| "`todoplan state list` shows every recorded address".into());
                return Err(miette::miette!(
                    help = help,
                    "the state (serial {}) records nothing at `{address}`",
                    state.serial
                ));
            };
            let text = if json {
                serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
            } else {
                serde_yaml_ng::to_string(&value).map_err(|e| miette::miette!("{e}"))?
            };
            print!("{}", crate::model::masking::mask(&text));
            Ok(ExitStatus::Success)
        }
    }
}
