use super::GlobalArgs;
use super::workspace::{FromGlobalArgs, Workspace};
use crate::ops::exit::ExitStatus;
use crate::state::StateBackend;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The lock ID, as the "state is locked" error printed it.
    pub lock_id: String,
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitStatus> {
    let ws = Workspace::load(global)?;
    let holder = ws.backend.break_lock(&args.lock_id).await?;
    println!("Removed {holder}.");
    Ok(ExitStatus::Success)
}
