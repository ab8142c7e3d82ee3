//! `todoplan state list|show`: what the state records, as `terraform state list|show` prints it.

use std::process::ExitCode;

use super::GlobalArgs;
use super::workspace::{FromGlobalArgs, Workspace};

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
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitCode> {
    let ws = Workspace::load(global)?;
    let state = ws.state()?;
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
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
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
            Ok(ExitCode::SUCCESS)
        }
    }
}
