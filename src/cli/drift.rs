use super::GlobalArgs;
use super::workspace::{FromGlobalArgs, Workspace};
use crate::ops::exit::ExitStatus;
use crate::plan::compute::detect_drift;
use crate::plan::model::{DriftItem, DriftKind, PLAN_FORMAT_VERSION};
use crate::plan::output::Format;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Exit 0 when nothing drifted, 2 when something did, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

fn value(v: &Option<serde_json::Value>) -> String {
    v.as_ref()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "(absent)".into())
}

fn who(d: &DriftItem) -> String {
    match (&d.manager, &d.changed_at) {
        (Some(m), Some(t)) => format!("{m} at {t}"),
        (Some(m), None) => m.clone(),
        _ => "unknown".into(),
    }
}

pub fn render(items: &[DriftItem], format: Format) -> String {
    match format {
        Format::Json => {
            serde_json::to_string_pretty(
                &serde_json::json!({"format_version": PLAN_FORMAT_VERSION, "drift": items}),
            )
            .unwrap_or_default()
                + "\n"
        }
        Format::Markdown => {
            if items.is_empty() {
                return "### todoplan drift\n\nNo drift: the cluster matches what todoplan last applied.\n".into();
            }
            let mut s = format!(
                "### todoplan drift\n\n**{} change(s) made outside todoplan**\n\n| Address | Field | Applied | Live | Changed by |\n|---|---|---|---|---|\n",
                items.len()
            );
            for d in items {
                s.push_str(&format!(
                    "| `{}` | `{}` | `{}` | `{}` | {} |\n",
                    d.address,
                    d.field,
                    value(&d.recorded),
                    value(&d.live),
                    who(d)
                ));
            }
            s
        }
        Format::Text => {
            if items.is_empty() {
                return "No drift: the cluster matches what todoplan last applied.\n".into();
            }
            let mut s = String::from("Changed outside todoplan:\n\n");
            for d in items {
                s.push_str(&match d.kind {
                    DriftKind::Changed => format!("  ~ {}\n      {}: {} -> {}  (by {})\n{}", d.address, d.field, value(&d.recorded), value(&d.live), who(d), d.note.as_ref().map(|n| format!("      {n}\n")).unwrap_or_default()),
                    DriftKind::Deleted => format!("  - {}\n      deleted outside todoplan\n", d.address),
                    DriftKind::Unmanaged => format!("  ? {}\n      carries this project's labels but todoplan never applied it\n", d.address),
                });
            }
            s.push_str(&format!(
                "\n{} drifted. `todoplan apply` restores the declared state (except where a line says otherwise).\n",
                items.len()
            ));
            s
        }
    }
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitStatus> {
    let mut ws = Workspace::load(global)?;
    ws.backend.set_look_only();
    // First: a state in the cluster then shares this connection.
    let cluster = ws.connect_cluster().await?;
    let state = ws.state(Some(&cluster)).await?;
    let kinds = state
        .objects
        .values()
        .map(|r| (r.api_version.clone(), r.kind.clone()))
        .collect();
    let live = cluster
        .live_inventory(&ws.spec.project.name, &state.lineage, &kinds)
        .await?;
    let (items, _) = detect_drift(&cluster, &live, &ws.spec, &state).await?;
    print!(
        "{}",
        crate::model::masking::mask(&render(&items, args.format))
    );
    super::plan::print_stats(Some(&cluster));
    Ok(if args.detailed_exitcode && !items.is_empty() {
        ExitStatus::ChangesPresent
    } else {
        ExitStatus::Success
    })
}
