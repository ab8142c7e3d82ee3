use super::GlobalArgs;
use super::validate::load_and_build;
use crate::ops::exit::ExitStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A tree like `cargo tree`: each node with what it needs below it.
    Text,
    /// Graphviz DOT.
    Dot,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  todoplan graph\n  todoplan graph --env prod\n  todoplan graph --format dot | dot -Tsvg > graph.svg"
)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitStatus> {
    let (_, graph) = load_and_build(global, global.env.as_deref())?;
    match args.format {
        Format::Text => print!("{}", graph.to_text_tree()),
        Format::Dot => print!("{}", graph.to_dot()),
    }
    Ok(ExitStatus::Success)
}
