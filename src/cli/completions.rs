//! `todoplan completions SHELL` and `todoplan man`: generated from the clap definitions, so they
//! never fall behind the verbs and flags.

use crate::ops::exit::ExitStatus;
use clap::CommandFactory;
use miette::IntoDiagnostic;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> miette::Result<ExitStatus> {
    let mut cmd = super::Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "todoplan", &mut std::io::stdout());
    Ok(ExitStatus::Success)
}

/// The man page (roff) on standard output: `todoplan man > todoplan.1`.
pub fn man() -> miette::Result<ExitStatus> {
    let cmd = super::Cli::command();
    clap_mangen::Man::new(cmd)
        .render(&mut std::io::stdout())
        .into_diagnostic()?;
    Ok(ExitStatus::Success)
}
