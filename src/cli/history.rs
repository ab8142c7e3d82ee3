use super::GlobalArgs;
use super::workspace::{FromGlobalArgs, Workspace};
use crate::ops::exit::ExitStatus;
use crate::state::StateBackend;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitStatus> {
    let ws = Workspace::load(global)?;
    let history = ws.backend.history().await?;
    if args.json {
        let rows: Vec<_> = history
            .iter()
            .map(|h| serde_json::json!({"revision": h.revision, "time": h.time, "who": h.who, "summary": h.summary, "outcome": h.outcome, "objects": h.objects.len()}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(ExitStatus::Success);
    }
    // An apply killed before it recorded its revision: what its journal holds is already the
    // current state (plan reads it), but it is in no revision yet.
    let pending = ws.backend.pending().await?;
    let pending_note = pending.map(|p| {
        format!(
            "An apply started {} did not finish: {} recorded change(s) are in {}, in no revision yet; the next apply records them.",
            p.header.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            p.entries,
            ws.backend.journal_location()
        )
    });
    if history.is_empty() {
        println!("No revisions yet: nothing was applied with this state.");
        if let Some(note) = pending_note {
            println!("{note}");
        }
        return Ok(ExitStatus::Success);
    }
    println!(
        "{:<9} {:<20} {:<24} {:<12} SUMMARY",
        "REVISION", "TIME (UTC)", "WHO", "OUTCOME"
    );
    for h in &history {
        println!(
            "{:<9} {:<20} {:<24} {:<12} {}",
            h.revision,
            h.time.format("%Y-%m-%d %H:%M:%S"),
            h.who,
            h.outcome.to_string(),
            h.summary
        );
    }
    if let Some(note) = pending_note {
        println!("{note}");
    }
    Ok(ExitStatus::Success)
}
