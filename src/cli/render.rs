use std::process::ExitCode;

use super::GlobalArgs;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_global: &GlobalArgs, _args: Args) -> miette::Result<ExitCode> {
    Err(miette::miette!("`todoplan render` is not built yet"))
}
