//! The plan as people and machines read it: text (terminal), markdown (PR comment), JSON.

use owo_colors::OwoColorize;
use serde_json::json;

use super::diff::{DiffLine, diff_lines, unified_text};
use super::model::{Action, DriftKind, ImageAction, ObjectChange, Plan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

const CONTEXT_LINES: usize = 3;

pub fn render(plan: &Plan, format: Format, color: bool) -> String {
    match format {
        Format::Text => render_text(plan, color),
        Format::Markdown => render_markdown(plan),
        Format::Json => render_json(plan),
    }
}

pub fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    let mut line = format!(
        "Plan: {} to add, {} to change, {} to replace, {} to destroy.",
        s.add, s.change, s.replace, s.destroy
    );
    if s.build + s.push > 0 {
        line.push_str(&format!(
            " Images: {} to build, {} to push.",
            s.build, s.push
        ));
    }
    if s.adopt > 0 {
        line.push_str(&format!(" {} to adopt.", s.adopt));
    }
    if s.forget > 0 {
        line.push_str(&format!(" {} to forget (already deleted).", s.forget));
    }
    if s.kept > 0 {
        line.push_str(&format!(
            " {} to release (kept in the cluster by their keep policy).",
            s.kept
        ));
    }
    if s.refused > 0 {
        line.push_str(&format!(
            " {} refused by protection (not changed).",
            s.refused
        ));
    }
    if s.errors > 0 {
        line.push_str(&format!(" {} cannot be planned (errors).", s.errors));
    }
    if !plan.checks.is_empty() {
        line.push_str(&format!(
            " Checks: {}.",
            crate::checks::count_line(&plan.checks)
        ));
    }
    line
}

fn paint(text: &str, action: Action, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    match action {
        Action::Create => text.green().to_string(),
        Action::Update => text.yellow().to_string(),
        Action::Replace | Action::Delete => text.red().to_string(),
        Action::Refused => text.magenta().to_string(),
        Action::Forget => text.cyan().to_string(),
        Action::Error => text.red().bold().to_string(),
        Action::NoOp => text.to_string(),
    }
}

fn render_text(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    for note in &plan.notes {
        out.push_str(&format!("Note: {note}\n"));
    }
    if plan.offline {
        out.push_str(
            "Note: --offline: the cluster was NOT read. Changes are computed against state/ only;\n      edits made in the cluster since the last apply are not shown.\n",
        );
    }
    if !plan.notes.is_empty() || plan.offline {
        out.push('\n');
    }
    if let Some(line) = base_line(plan) {
        out.push_str(&format!("{line}\n\n"));
    }
    out.push_str(&checks_text(plan));
    if !plan.drift.is_empty() {
        out.push_str("Changed outside todoplan (drift since the last apply):\n\n");
        for d in &plan.drift {
            out.push_str(&drift_line(d));
        }
        out.push_str(
            "\nApplying restores the declared state (except where a line says otherwise).\n\n",
        );
    }
    let images: Vec<_> = plan
        .images
        .iter()
        .filter(|i| i.action != ImageAction::UpToDate)
        .collect();
    let changes: Vec<_> = plan
        .objects
        .iter()
        .filter(|o| o.action != Action::NoOp)
        .collect();
    if images.is_empty() && changes.is_empty() {
        out.push_str("No changes. The cluster matches todo.toml.\n");
        return out;
    }
    if !plan.value_changes.is_empty() {
        out.push_str("Why: values changed since the last apply\n");
        for v in &plan.value_changes {
            out.push_str(&format!("  release.{}: {}\n", v.release, v.describe()));
        }
        out.push('\n');
    }
    out.push_str("todoplan will perform the following actions:\n\n");
    for i in &images {
        let (sym, verb) = match i.action {
            ImageAction::Build => ("+", "will be built and delivered"),
            ImageAction::Push => ("^", "will be pushed"),
            ImageAction::UpToDate => (" ", "is up to date"),
        };
        out.push_str(&format!("  # {} {verb}: {}\n", i.address, i.reason));
        for f in i.changed_files.iter().take(20) {
            out.push_str(&format!("      changed: {f}\n"));
        }
        if i.changed_files.len() > 20 {
            out.push_str(&format!(
                "      ... and {} more files\n",
                i.changed_files.len() - 20
            ));
        }
        out.push_str(&format!("  {sym} {}\n\n", i.reference));
    }
    let (hooks, plain): (Vec<_>, Vec<_>) =
        changes.iter().copied().partition(|c| hook_of(c).is_some());
    for c in &plain {
        change_text(&mut out, plan, c, color);
    }
    if !hooks.is_empty() {
        out.push_str(HOOKS_HEADING);
        out.push_str(":\n\n");
        for c in &hooks {
            change_text(&mut out, plan, c, color);
        }
    }
    out.push_str(&smoke_checks_text(plan));
    out.push_str(&summary_line(plan));
    out.push('\n');
    out
}

/// `Compared with main (1a2b3c4d): 2 of 5 changes are already pending there; this change adds 3.`
fn base_line(plan: &Plan) -> Option<String> {
    let base = plan.base.as_ref()?;
    let total = plan
        .objects
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .count()
        + plan
            .images
            .iter()
            .filter(|i| i.action != ImageAction::UpToDate)
            .count();
    let pending = base.pending.len();
    let short: String = base.commit.chars().take(8).collect();
    Some(format!(
        "Compared with {} ({short}): {pending} of {total} changes are already pending there; this change adds {}.",
        base.reference,
        total.saturating_sub(pending)
    ))
}

/// The smoke checks apply will run, per release, after the release is ready.
fn smoke_checks_text(plan: &Plan) -> String {
    if plan.smoke_checks.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "Smoke checks, run through the API server's service proxy once their release is ready:\n",
    );
    for c in &plan.smoke_checks {
        out.push_str(&format!(
            "  release.{}: {} (within {}s){}\n",
            c.release,
            c.describe(),
            c.timeout_secs,
            c.source
                .as_deref()
                .map(|s| format!(", {s}"))
                .unwrap_or_default()
        ));
    }
    out.push('\n');
    out
}

/// Hooks get their own section: they are not plain objects of the release.
const HOOKS_HEADING: &str = "Hooks (helm.sh/hook: pre-* run before their release's other objects \
and are waited for, post-* after, each phase by hook-weight)";

/// The hook annotations of a change's object, if it is a helm hook.
fn hook_of(c: &ObjectChange) -> Option<crate::chart::hooks::Hook> {
    crate::chart::hooks::Hook::of(c.after.as_deref().or(c.before.as_deref())?)
}

fn change_text(out: &mut String, plan: &Plan, c: &ObjectChange, color: bool) {
    let header = format!("  # {} {}", c.address, c.verb());
    out.push_str(&paint(&header, c.action, color));
    out.push('\n');
    if let Some(reason) = &c.reason {
        out.push_str(&format!("  #   {reason}\n"));
    }
    if let Some(hook) = hook_of(c) {
        out.push_str(&format!("  #   hook: {}\n", hook.describe()));
    }
    if plan.pending_on_base(&c.address) {
        out.push_str(&format!(
            "  #   (already pending on {}: not added by this change)\n",
            plan.base
                .as_ref()
                .map(|b| b.reference.as_str())
                .unwrap_or("")
        ));
    }
    out.push_str(&format!(
        "  {} {}\n",
        paint(c.action.symbol(), c.action, color),
        c.object_label()
    ));
    if c.adopt {
        out.push_str("      (adopt: todoplan takes over this existing object)\n");
    }
    // A deletion is one line: what goes is named above, its whole body is noise.
    if !matches!(
        c.action,
        Action::Refused | Action::Error | Action::Forget | Action::Delete
    ) {
        for line in diff_lines(c.before.as_deref(), c.after.as_deref(), CONTEXT_LINES) {
            let text = match &line {
                DiffLine::Context(t) => format!("        {t}"),
                DiffLine::Added(t) => paint(&format!("      + {t}"), Action::Create, color),
                DiffLine::Removed(t) => paint(&format!("      - {t}"), Action::Delete, color),
                DiffLine::Skip => "        ...".to_string(),
            };
            out.push_str(&text);
            out.push('\n');
        }
    }
    out.push('\n');
}

/// The checks' findings, errors first: what would fail once applied, seen before applying.
fn checks_text(plan: &Plan) -> String {
    if plan.checks.is_empty() {
        return String::new();
    }
    let mut out = format!("Checks ({}):\n", crate::checks::count_line(&plan.checks));
    for f in &plan.checks {
        out.push_str(&format!("  {}\n", crate::checks::finding_line(f)));
    }
    if crate::checks::has_errors(&plan.checks) {
        out.push_str("\nFix the errors (or silence one in todo.toml [checks] ignore, with a reason) before applying.\n");
    }
    out.push('\n');
    out
}

fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn checks_markdown(plan: &Plan) -> String {
    if plan.checks.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "#### Risks: checks ({})\n\n| | Check | Object | Field | Problem | Change at |\n|---|---|---|---|---|---|\n",
        crate::checks::count_line(&plan.checks)
    );
    for f in &plan.checks {
        let icon = match f.severity {
            crate::checks::Severity::Error => ":x: error",
            crate::checks::Severity::Warning => ":warning: warning",
        };
        out.push_str(&format!(
            "| {icon} | `{}` | `{}` | `{}` | {} | {} |\n",
            f.id,
            markdown_cell(&f.address),
            markdown_cell(&f.field),
            markdown_cell(&f.message),
            f.source
                .as_deref()
                .map(|s| format!("`{}`", markdown_cell(s)))
                .unwrap_or_default()
        ));
    }
    out.push('\n');
    out
}

fn drift_line(d: &super::model::DriftItem) -> String {
    let who = match (&d.manager, &d.changed_at) {
        (Some(m), Some(t)) => format!(" by {m} at {t}"),
        (Some(m), None) => format!(" by {m}"),
        _ => String::new(),
    };
    let show = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map(|v| v.to_string())
            .unwrap_or_else(|| "(absent)".into())
    };
    let note = d
        .note
        .as_ref()
        .map(|n| format!("      {n}\n"))
        .unwrap_or_default();
    match d.kind {
        DriftKind::Changed => format!(
            "  ~ {} {}: {} -> {}{who}\n{note}",
            d.address,
            d.field,
            show(&d.recorded),
            show(&d.live)
        ),
        DriftKind::Deleted => format!("  - {} was deleted{who}\n", d.address),
        DriftKind::Unmanaged => format!(
            "  ? {} carries this project's labels but todoplan never applied it{who}\n",
            d.address
        ),
    }
}

/// Most characters a plan comment may have: GitHub refuses comments over 65,536; GitLab allows
/// 1,000,000. Past this, diffs are left out with a note (the saved plan file has them all).
pub const COMMENT_LIMIT: usize = 60_000;

/// Who reads what, in one line: project, environment, cluster, state, version.
fn markdown_header(plan: &Plan) -> String {
    let mut facts = vec![format!("project `{}`", plan.project)];
    facts.push(match &plan.env {
        Some(env) => format!("env `{env}`"),
        None => "no `--env`".to_string(),
    });
    match (&plan.context, &plan.server) {
        (Some(context), Some(server)) => facts.push(format!("context `{context}` (`{server}`)")),
        (Some(context), None) => facts.push(format!("context `{context}`")),
        _ => facts.push("cluster not read".to_string()),
    }
    facts.push(format!(
        "state serial {} (instance `{}`)",
        plan.serial, plan.instance
    ));
    facts.push(format!("todoplan {}", plan.todoplan_version));
    let flags = plan.options.as_flags();
    if !flags.is_empty() {
        facts.push(format!("flags `{}`", flags.join(" ")));
    }
    format!("{}\n\n", facts.join(" · "))
}

/// Replicas of a workload as planned (1 when unset, as the API server defaults it).
/// Why rolling this workload's pods leaves no pod serving for a while, from its real update
/// strategy: a Deployment's Recreate, or a RollingUpdate whose maxUnavailable (rounded down) covers
/// every replica, or whose maxSurge (rounded up) is 0 with one replica; a StatefulSet's single
/// replica. None when some pod keeps serving (a default RollingUpdate of one replica surges one
/// new pod first: no downtime).
fn downtime_of(object: Option<&serde_json::Value>) -> Option<String> {
    use serde_json::Value;
    let object = object?;
    let replicas = replicas_of(Some(object))?;
    if replicas == 0 {
        return None;
    }
    // An int, or a percentage of the replicas (Kubernetes' intstr: maxUnavailable rounds down,
    // maxSurge up).
    let resolve = |v: Option<&Value>, default_percent: u64, round_up: bool| -> u64 {
        match v {
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
            Some(Value::String(s)) => {
                let percent = s
                    .trim_end_matches('%')
                    .parse::<u64>()
                    .unwrap_or(default_percent);
                let scaled = percent * replicas;
                if round_up {
                    scaled.div_ceil(100)
                } else {
                    scaled / 100
                }
            }
            _ => {
                let scaled = default_percent * replicas;
                if round_up {
                    scaled.div_ceil(100)
                } else {
                    scaled / 100
                }
            }
        }
    };
    match object.get("kind").and_then(Value::as_str)? {
        "Deployment" => {
            let strategy = object.pointer("/spec/strategy");
            let kind = strategy
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("RollingUpdate");
            if kind == "Recreate" {
                return Some("strategy Recreate stops every pod before starting new ones".into());
            }
            let rolling = strategy.and_then(|s| s.get("rollingUpdate"));
            let unavailable = resolve(rolling.and_then(|r| r.get("maxUnavailable")), 25, false);
            let surge = resolve(rolling.and_then(|r| r.get("maxSurge")), 25, true);
            if unavailable >= replicas {
                Some(format!(
                    "maxUnavailable {unavailable} of {replicas} replica(s) lets every pod stop at once"
                ))
            } else if surge == 0 && replicas == 1 {
                Some("1 replica and maxSurge 0: the old pod stops before the new one starts".into())
            } else {
                None
            }
        }
        "StatefulSet" => {
            let kind = object
                .pointer("/spec/updateStrategy/type")
                .and_then(Value::as_str)
                .unwrap_or("RollingUpdate");
            (kind == "RollingUpdate" && replicas == 1)
                .then(|| "1 replica: a StatefulSet replaces its pod in place".to_string())
        }
        _ => None,
    }
}

fn replicas_of(object: Option<&serde_json::Value>) -> Option<u64> {
    let object = object?;
    match object.get("kind").and_then(serde_json::Value::as_str)? {
        "Deployment" | "StatefulSet" => Some(
            object
                .pointer("/spec/replicas")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(1),
        ),
        _ => None,
    }
}

/// Whether the change rolls the workload's pods (its pod template changes).
fn restarts_pods(c: &ObjectChange) -> bool {
    c.action == Action::Update
        && matches!(c.kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet")
        && c.before
            .as_deref()
            .and_then(|b| b.pointer("/spec/template"))
            != c.after.as_deref().and_then(|a| a.pointer("/spec/template"))
}

/// The Risks block: what a reviewer must not miss, each on one line with its reason.
fn risks_markdown(plan: &Plan, changes: &[&ObjectChange]) -> String {
    let mut lines = Vec::new();
    for rotated in &plan.options.rotate {
        lines.push(format!(
            "- `{rotated}` is rotated: a new random value replaces the live one"
        ));
    }
    for c in changes {
        let reason = c
            .reason
            .as_deref()
            .map(|r| format!(": {}", markdown_cell(r)))
            .unwrap_or_default();
        let line = if c.protected && c.action.deletes() {
            Some(format!(
                "- **data at risk**: `{}` {}{reason}",
                c.address,
                c.verb()
            ))
        } else if c.adopt && c.action == Action::Update {
            Some(format!("- `{}` will be adopted{reason}", c.address))
        } else if matches!(
            c.action,
            Action::Error | Action::Refused | Action::Replace | Action::Delete
        ) || c.adopt
        {
            Some(format!("- `{}` {}{reason}", c.address, c.verb()))
        } else if restarts_pods(c) {
            let downtime = match downtime_of(c.after.as_deref()) {
                Some(why) => format!(" **(downtime: {why})**"),
                None => String::new(),
            };
            Some(format!(
                "- `{}` restarts its pods{downtime}{reason}",
                c.address
            ))
        } else {
            None
        };
        lines.extend(line);
    }
    if lines.is_empty() {
        return String::new();
    }
    format!("**Risks**\n\n{}\n\n", lines.join("\n"))
}

/// `_pending on `main`_ ` before the reason of a change the base plans too.
fn pending_mark(plan: &Plan, address: &str) -> String {
    match &plan.base {
        Some(base) if plan.pending_on_base(address) => {
            format!("_pending on `{}`_ ", markdown_cell(&base.reference))
        }
        _ => String::new(),
    }
}

/// Why an image is rebuilt: the reason and the first changed files.
fn image_why(i: &super::model::ImageChange) -> String {
    let mut why = markdown_cell(&i.reason);
    if !i.changed_files.is_empty() {
        let shown: Vec<String> = i
            .changed_files
            .iter()
            .take(5)
            .map(|f| format!("`{}`", markdown_cell(f)))
            .collect();
        why.push_str(&format!(": {}", shown.join(", ")));
        if i.changed_files.len() > 5 {
            why.push_str(&format!(" and {} more", i.changed_files.len() - 5));
        }
    }
    why
}

fn render_markdown(plan: &Plan) -> String {
    let mut out = String::from("### todoplan plan\n\n");
    out.push_str(&markdown_header(plan));
    if let Some(line) = base_line(plan) {
        out.push_str(&format!("{line}\n\n"));
    }
    if plan.offline {
        out.push_str("> **Offline plan**: the cluster was not read; changes are against recorded state only.\n\n");
    }
    for note in &plan.notes {
        out.push_str(&format!("> {note}\n"));
    }
    if !plan.notes.is_empty() {
        out.push('\n');
    }
    out.push_str(&format!("**{}**\n\n", summary_line(plan)));
    out.push_str(&checks_markdown(plan));
    if !plan.drift.is_empty() {
        out.push_str("<details><summary>Changed outside todoplan (");
        out.push_str(&plan.drift.len().to_string());
        out.push_str(")</summary>\n\n```\n");
        for d in &plan.drift {
            out.push_str(&drift_line(d));
        }
        out.push_str("```\n</details>\n\n");
    }
    let changes: Vec<_> = plan
        .objects
        .iter()
        .filter(|o| o.action != Action::NoOp)
        .collect();
    let images: Vec<_> = plan
        .images
        .iter()
        .filter(|i| i.action != ImageAction::UpToDate)
        .collect();
    if changes.is_empty() && images.is_empty() {
        out.push_str("No changes.\n");
        return out;
    }
    out.push_str(&risks_markdown(plan, &changes));
    if !plan.value_changes.is_empty() {
        out.push_str("**Why: values changed since the last apply**\n\n");
        for v in &plan.value_changes {
            out.push_str(&format!(
                "- `release.{}` {}\n",
                v.release,
                markdown_cell(&v.describe())
            ));
        }
        out.push('\n');
    }
    if !plan.smoke_checks.is_empty() {
        out.push_str("**Smoke checks after apply**\n\n");
        for c in &plan.smoke_checks {
            out.push_str(&format!(
                "- `release.{}`: {}{}\n",
                c.release,
                markdown_cell(&c.describe()),
                c.source
                    .as_deref()
                    .map(|s| format!(" (`{}`)", markdown_cell(s)))
                    .unwrap_or_default()
            ));
        }
        out.push('\n');
    }
    let hooks: Vec<_> = changes
        .iter()
        .filter_map(|c| Some((c, hook_of(c)?)))
        .collect();
    if !hooks.is_empty() {
        out.push_str(&format!("**{HOOKS_HEADING}**\n\n"));
        for (c, h) in &hooks {
            out.push_str(&format!(
                "- `{}` {}: {}\n",
                c.address,
                c.verb(),
                h.describe()
            ));
        }
        out.push('\n');
    }
    out.push_str("| Action | Address | Why |\n|---|---|---|\n");
    for i in &images {
        out.push_str(&format!(
            "| {:?} | `{}` | {}{} |\n",
            i.action,
            i.address,
            pending_mark(plan, &i.address),
            image_why(i)
        ));
    }
    for c in &changes {
        out.push_str(&format!(
            "| {} {:?} | `{}` | {}{} |\n",
            c.action.symbol(),
            c.action,
            c.address,
            pending_mark(plan, &c.address),
            c.reason.as_deref().map(markdown_cell).unwrap_or_default()
        ));
    }
    out.push('\n');
    let diffs: Vec<&&ObjectChange> = changes
        .iter()
        .filter(|c| {
            !matches!(
                c.action,
                Action::Delete | Action::Forget | Action::Refused | Action::Error
            )
        })
        .collect();
    for (shown, c) in diffs.iter().enumerate() {
        let mut block = format!(
            "<details><summary><code>{} {}</code> {}</summary>\n\n",
            c.action.symbol(),
            c.address,
            c.verb()
        );
        if let Some(reason) = &c.reason {
            block.push_str(&format!("{reason}\n\n"));
        }
        block.push_str("```diff\n");
        block.push_str(&unified_text(&diff_lines(
            c.before.as_deref(),
            c.after.as_deref(),
            CONTEXT_LINES,
        )));
        block.push_str("```\n</details>\n\n");
        // Room for the note below, whatever the counts.
        if out.len() + block.len() > COMMENT_LIMIT - 400 {
            out.push_str(&format!(
                "> **{} of {} diffs are not shown**: this comment stays under {COMMENT_LIMIT} characters (GitHub's limit is 65,536). Every change is listed in the table above; the full diffs are in `todoplan plan --format text` and in the saved plan (`todoplan plan --out FILE`).\n",
                diffs.len() - shown,
                diffs.len()
            ));
            break;
        }
        out.push_str(&block);
    }
    out
}

fn render_json(plan: &Plan) -> String {
    let summary = plan.summary();
    let value = json!({
        "format_version": plan.format_version,
        "todoplan_version": plan.todoplan_version,
        "created_at": plan.created_at,
        "project": plan.project,
        "env": plan.env,
        "offline": plan.offline,
        "context": plan.context,
        "server": plan.server,
        "instance": plan.instance,
        "options": plan.options,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "summary": summary,
        "notes": plan.notes,
        "checks": plan.checks,
        "smoke_checks": plan.smoke_checks,
        "value_changes": plan.value_changes,
        "base": plan.base,
        "drift": plan.drift,
        "image_changes": plan.images,
        "resource_changes": plan.objects.iter().map(|c| json!({
            "address": c.address,
            "release": c.release,
            "api_version": c.api_version,
            "kind": c.kind,
            "namespace": c.namespace,
            "name": c.name,
            "actions": actions_of(c.action),
            "reason": c.reason,
            "protected": c.protected,
            "adopt": c.adopt,
            "orphan_dependents": c.orphan_dependents,
            "hook": hook_of(c).map(|h| json!({
                "phases": h.phases,
                "weight": h.weight,
                "delete_policies": h.delete_policies,
            })),
            "before": c.before,
            "after": c.after,
        })).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

/// Terraform's convention: a replace is ["delete", "create"].
fn actions_of(a: Action) -> Vec<&'static str> {
    match a {
        Action::Create => vec!["create"],
        Action::Update => vec!["update"],
        Action::Replace => vec!["delete", "create"],
        Action::Delete => vec!["delete"],
        Action::NoOp => vec!["no-op"],
        Action::Refused => vec!["refused"],
        Action::Forget => vec!["forget"],
        Action::Error => vec!["error"],
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::*;
    use super::*;

    fn deployment(replicas: u64, strategy: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"kind": "Deployment", "spec": {"replicas": replicas, "strategy": strategy}})
    }

    #[test]
    fn downtime_is_claimed_only_where_the_strategy_leaves_no_pod_serving() {
        // The default RollingUpdate (25 %/25 %) of one replica surges a new pod first.
        assert_eq!(
            downtime_of(Some(&deployment(1, serde_json::json!({})))),
            None
        );
        let default_rolling = serde_json::json!({"type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}});
        assert_eq!(
            downtime_of(Some(&deployment(1, default_rolling.clone()))),
            None
        );
        assert_eq!(downtime_of(Some(&deployment(4, default_rolling))), None);
        assert!(
            downtime_of(Some(&deployment(
                3,
                serde_json::json!({"type": "Recreate"})
            )))
            .is_some()
        );
        let all_at_once = serde_json::json!({"type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": "100%", "maxSurge": 0}});
        assert!(downtime_of(Some(&deployment(2, all_at_once))).is_some());
        let no_surge = serde_json::json!({"type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}});
        assert!(downtime_of(Some(&deployment(1, no_surge.clone()))).is_some());
        assert_eq!(downtime_of(Some(&deployment(2, no_surge))), None);
        let sts = |replicas: u64, kind: &str| {
            serde_json::json!({"kind": "StatefulSet",
                "spec": {"replicas": replicas, "updateStrategy": {"type": kind}}})
        };
        assert!(downtime_of(Some(&sts(1, "RollingUpdate"))).is_some());
        assert_eq!(downtime_of(Some(&sts(3, "RollingUpdate"))), None);
        assert_eq!(downtime_of(Some(&sts(1, "OnDelete"))), None);
    }
    use serde_json::json;

    fn plan_with(objects: Vec<ObjectChange>) -> Plan {
        Plan {
            format_version: PLAN_FORMAT_VERSION.into(),
            todoplan_version: "0".into(),
            created_at: chrono::Utc::now(),
            project: "todo".into(),
            env: None,
            offline: false,
            context: None,
            server: None,
            instance: "instance-1".into(),
            options: PlanOptions::default(),
            lineage: None,
            serial: 0,
            notes: vec![],
            images: vec![],
            drift: vec![],
            objects,
            checks: vec![],
            smoke_checks: vec![],
            value_changes: vec![],
            base: None,
        }
    }

    fn change(
        action: Action,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> ObjectChange {
        ObjectChange {
            address: "release.backend/apps/v1/Deployment/todo/web".into(),
            release: "backend".into(),
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("todo".into()),
            name: "web".into(),
            action,
            reason: None,
            before: before.map(Into::into),
            after: after.map(Into::into),
            protected: false,
            adopt: false,
            orphan_dependents: false,
            migrate_from: Vec::new(),
            live_uid: None,
        }
    }

    #[test]
    fn text_shows_header_diff_and_summary_without_colour_codes() {
        let p = plan_with(vec![change(
            Action::Update,
            Some(json!({"spec": {"replicas": 1}})),
            Some(json!({"spec": {"replicas": 3}})),
        )]);
        let text = render(&p, Format::Text, false);
        assert!(
            text.contains("# release.backend/apps/v1/Deployment/todo/web will be updated in-place"),
            "{text}"
        );
        assert!(
            text.contains("-   replicas: 1") && text.contains("+   replicas: 3"),
            "{text}"
        );
        assert!(
            text.contains("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy."),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'), "no ANSI codes off a terminal");
    }

    #[test]
    fn no_changes_says_so_in_every_format() {
        let p = plan_with(vec![change(Action::NoOp, Some(json!({})), Some(json!({})))]);
        assert!(render(&p, Format::Text, false).contains("No changes."));
        assert!(render(&p, Format::Markdown, false).contains("No changes."));
        let j: serde_json::Value = serde_json::from_str(&render(&p, Format::Json, false)).unwrap();
        assert_eq!(j["summary"]["change"], 0);
        assert_eq!(j["resource_changes"][0]["actions"], json!(["no-op"]));
    }

    #[test]
    fn markdown_has_table_and_one_collapsible_block_per_change() {
        let p = plan_with(vec![
            change(Action::Create, None, Some(json!({"a": 1}))),
            change(
                Action::Replace,
                Some(json!({"a": 1})),
                Some(json!({"a": 2})),
            ),
        ]);
        let md = render(&p, Format::Markdown, false);
        assert!(md.contains("| Action | Address |"));
        assert_eq!(md.matches("<details>").count(), 2, "{md}");
        assert!(md.contains("```diff"));
    }
}
