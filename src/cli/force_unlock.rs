use std::process::ExitCode;

use super::GlobalArgs;
use super::workspace::{FromGlobalArgs, Workspace};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The lock ID, as the "state is locked" error printed it.
    pub lock_id: String,
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitCode> {
    let ws = Workspace::load(global)?;
    let holder = ws.backend.force_unlock(&args.lock_id)?;
    println!("Removed {holder}.");
    Ok(ExitCode::SUCCESS)
}
