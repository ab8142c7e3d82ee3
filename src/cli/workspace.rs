//! Argument groups and terminal helpers every verb shares; the operations live in `crate::ops`.

use std::time::Duration;

use miette::IntoDiagnostic;
use std::io::IsTerminal;

use super::GlobalArgs;
pub use crate::ops::workspace::{
    PlanOptions, Planned, Workspace, docker, make_plan, render_releases,
};

/// Options shared by plan, apply, destroy and rollback.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanningArgs {
    /// Plan the deletion or replacement of PersistentVolumeClaims, generated secrets and
    /// `protect = true` releases (refused otherwise).
    #[arg(long)]
    pub allow_data_loss: bool,
    /// Generate one generated secret key anew, e.g. `--rotate secret.app.JWT_SECRET_KEY`.
    #[arg(long, value_name = "secret.NAME.KEY")]
    pub rotate: Vec<String>,
    /// Replace this object (delete and create it again) even though nothing immutable changed,
    /// e.g. `--replace release.backend/apps/v1/Deployment/todo/todo-backend`.
    #[arg(long, value_name = "ADDRESS")]
    pub replace: Vec<String>,
    /// Take over objects labelled with another instance of this project whose state is lost
    /// for good (the plan error names the instance).
    #[arg(long, value_name = "INSTANCE")]
    pub adopt_instance: Option<String>,
    /// Plan only this address and what it depends on (a node such as `release.backend`, or an
    /// object's address); repeatable. For exceptions: the rest of todo.toml is not planned.
    #[arg(long, value_name = "ADDRESS")]
    pub target: Vec<String>,
    /// Wait this long for another todoplan holding the state lock (e.g. 30s, 2m).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub lock_timeout: Duration,
    /// How objects are compared with the cluster: `incremental` dry-runs only objects that
    /// changed since todoplan recorded them (the rendered manifest, the live object, the
    /// cluster's version, admission webhooks or CRD); `full` dry-runs every object.
    #[arg(long, value_enum, default_value_t = Refresh::Incremental, value_name = "MODE")]
    pub refresh: Refresh,
}

/// `--refresh`: how a plan compares objects with the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Refresh {
    Incremental,
    Full,
}

impl PlanningArgs {
    pub fn options(&self) -> PlanOptions {
        PlanOptions {
            allow_data_loss: self.allow_data_loss,
            rotate: self.rotate.clone(),
            replace: self.replace.clone(),
            adopt_instance: self.adopt_instance.clone(),
            targets: self.target.clone(),
            full_refresh: self.refresh == Refresh::Full,
        }
    }
}

/// Opening the workspace from the global flags.
pub trait FromGlobalArgs: Sized {
    fn load(global: &GlobalArgs) -> miette::Result<Self>;
}

impl FromGlobalArgs for Workspace {
    fn load(global: &GlobalArgs) -> miette::Result<Self> {
        let mut ws = Workspace::open_with(
            &global.file,
            global.env.as_deref(),
            global.context.clone(),
            global.load_options(),
        )?;
        print_lock_notes(&ws.spec.chart_lock_notes);
        if global.env.is_none()
            && let Some(env) = &ws.spec.env
        {
            eprintln!(
                "note: environment `{env}` ([project] default_env of {}); --env NAME chooses another",
                ws.spec.source.name
            );
        }
        ws.allow_new_state = global.new_state;
        Ok(ws)
    }
}

/// What resolving remote charts changed in charts.lock (on stderr: stdout may be a plan file
/// or JSON a machine reads).
pub fn print_lock_notes(notes: &[String]) {
    for n in notes {
        eprintln!("{n}");
    }
}

pub fn color(global: &GlobalArgs) -> bool {
    !global.no_color && std::io::stdout().is_terminal()
}

/// Asks for "yes" on a terminal; refuses to prompt without one. `saved_plan`: whether the
/// command can be reviewed as a saved plan (apply can; destroy and rollback cannot).
pub fn confirm(question: &str) -> miette::Result<bool> {
    confirm_with(question, true)
}

/// [`confirm`] for a command a saved plan cannot express (destroy, rollback).
pub fn confirm_without_saved_plan(question: &str) -> miette::Result<bool> {
    confirm_with(question, false)
}

fn confirm_with(question: &str, saved_plan: bool) -> miette::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(if saved_plan {
            miette::miette!(
                help = "pass --auto-approve, or save a plan with `todoplan plan --out FILE` and run `todoplan apply FILE`",
                "refusing to ask for confirmation: standard input is not a terminal"
            )
        } else {
            miette::miette!(
                help = "review what the command printed above and run it again with --auto-approve (a saved plan cannot express it)",
                "refusing to ask for confirmation: standard input is not a terminal"
            )
        });
    }
    eprint!("{question}\n  Only 'yes' will be accepted: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).into_diagnostic()?;
    Ok(answer.trim() == "yes")
}
