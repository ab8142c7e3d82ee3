//! `todoplan history`: the applied revisions, one in full (`show N`), or what changed between two
//! (`diff A B`). What is recorded and compared is `crate::ops::history`'s.

use serde_json::{Value, json};

use super::GlobalArgs;
use super::workspace::{FromGlobalArgs, Workspace};
use crate::ops::exit::ExitStatus;
use crate::ops::history::{Change, RevisionDiff};
use crate::plan::diff::unified_text;
use crate::state::{GitSource, HistoryEntry};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<HistoryCommand>,
    /// Output format of the list: text (a table) or json (machines).
    #[arg(long, value_enum, default_value = "text")]
    pub format: HistoryFormat,
    /// The same as `--format json` (kept for scripts written before `--format`).
    #[arg(long, hide = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum HistoryCommand {
    /// One revision in full: who, when, the git commit, the images, the message, the objects.
    Show {
        /// The revision (`todoplan history` lists them); default: the latest.
        revision: Option<u64>,
        /// text (for people) or json (machines).
        #[arg(long, value_enum, default_value = "text")]
        format: HistoryFormat,
    },
    /// What changed between two revisions: their objects' manifests (secret values are never
    /// recorded), images, secret keys and commit.
    Diff {
        /// The earlier revision; alone, the revision whose changes to show (against the one
        /// recorded before it).
        from: u64,
        /// The later revision.
        to: Option<u64>,
        /// text (for people) or json (machines).
        #[arg(long, value_enum, default_value = "text")]
        format: HistoryFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HistoryFormat {
    Text,
    Json,
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitStatus> {
    let ws = Workspace::load(global)?;
    let out = match args.command {
        Some(HistoryCommand::Show { revision, format }) => {
            let entry = match revision {
                Some(revision) => crate::ops::history::show(&ws, revision).await?,
                None => crate::ops::history::latest(&ws).await?,
            };
            match format {
                HistoryFormat::Text => show_text(&entry),
                HistoryFormat::Json => pretty(&show_json(&entry)),
            }
        }
        Some(HistoryCommand::Diff { from, to, format }) => {
            let diff = match to {
                Some(to) => crate::ops::history::diff(&ws, from, to).await?,
                None => crate::ops::history::diff_with_previous(&ws, from).await?,
            };
            match format {
                HistoryFormat::Text => diff_text(&diff),
                HistoryFormat::Json => pretty(&diff_json(&diff)),
            }
        }
        None if args.json || args.format == HistoryFormat::Json => {
            let history = crate::ops::history::list(&ws).await?;
            pretty(&Value::Array(history.iter().map(list_json).collect()))
        }
        None => list_text(&ws).await?,
    };
    print!("{}", crate::model::masking::mask(&out));
    Ok(ExitStatus::Success)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// `1a2b3c4d5e6f (main, dirty)`, or `(not recorded)`.
fn commit(git: Option<&GitSource>) -> String {
    git.map(GitSource::describe)
        .unwrap_or_else(|| "(not recorded)".into())
}

async fn list_text(ws: &Workspace) -> miette::Result<String> {
    let history = crate::ops::history::list(ws).await?;
    // An apply killed before it recorded its revision: what its journal holds is already the
    // current state (plan reads it), but it is in no revision yet.
    let pending = ws.backend.pending().await?;
    let pending_note = pending.map(|p| {
        format!(
            "An apply started {} did not finish: {} recorded change(s) are in {}, in no revision yet; the next apply records them.\n",
            p.header.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            p.entries,
            ws.backend.journal_location()
        )
    });
    let mut s = String::new();
    if history.is_empty() {
        let revision = ws.state(None).await.map(|s| s.revision).unwrap_or(0);
        if revision > 0 {
            s.push_str(&format!(
                "No revision is recorded, but the state is at revision {revision}: its history (in {}) is missing or was deleted.\n",
                ws.backend.history_location()
            ));
            s.push_str(&pending_note.unwrap_or_default());
            return Ok(s);
        }
        s.push_str("No revisions yet: nothing was applied with this state.\n");
        s.push_str(&pending_note.unwrap_or_default());
        return Ok(s);
    }
    s.push_str(&format!(
        "{:<9} {:<20} {:<24} {:<12} {:<14} SUMMARY\n",
        "REVISION", "TIME (UTC)", "WHO", "OUTCOME", "COMMIT"
    ));
    for h in &history {
        let short = h.provenance.git.as_ref().map_or_else(
            || "-".to_string(),
            |g| {
                let c: String = g.commit.chars().take(8).collect();
                if g.dirty { format!("{c}-dirty") } else { c }
            },
        );
        let message = h
            .provenance
            .message
            .as_deref()
            .map(|m| format!(" ({})", m.lines().next().unwrap_or_default()))
            .unwrap_or_default();
        s.push_str(&format!(
            "{:<9} {:<20} {:<24} {:<12} {:<14} {}{message}\n",
            h.revision,
            h.time.format("%Y-%m-%d %H:%M:%S"),
            h.who,
            h.outcome.to_string(),
            short,
            h.summary
        ));
    }
    s.push_str(&pending_note.unwrap_or_default());
    Ok(s)
}

/// What every JSON form says about a revision: who, when, what, where from.
fn header_json(h: &HistoryEntry) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("revision".into(), json!(h.revision));
    m.insert("time".into(), json!(h.time));
    m.insert("who".into(), json!(h.who));
    m.insert("summary".into(), json!(h.summary));
    m.insert("outcome".into(), json!(h.outcome));
    m.insert("git".into(), json!(h.provenance.git));
    m.insert("images".into(), json!(h.provenance.images));
    m.insert("plan_checksum".into(), json!(h.provenance.plan_checksum));
    m.insert("message".into(), json!(h.provenance.message));
    m
}

fn list_json(h: &HistoryEntry) -> Value {
    let mut m = header_json(h);
    m.insert("objects".into(), json!(h.objects.len()));
    Value::Object(m)
}

fn show_json(h: &HistoryEntry) -> Value {
    let mut m = header_json(h);
    m.insert(
        "objects".into(),
        h.objects
            .iter()
            .map(|(address, r)| {
                (
                    address.clone(),
                    json!({
                        "release": r.release,
                        "api_version": r.api_version,
                        "kind": r.kind,
                        "namespace": r.namespace,
                        "name": r.name,
                        "uid": r.uid,
                        "digest": r.digest,
                        "protected": r.protect,
                        "tainted": r.tainted,
                        "manifest": r.manifest,
                    }),
                )
            })
            .collect(),
    );
    // Secret sets by their keys: not even the digests of their values are printed.
    m.insert(
        "secrets".into(),
        h.secrets
            .iter()
            .map(|(set, s)| {
                (
                    set.clone(),
                    json!({
                        "name": s.k8s_name,
                        "namespace": s.namespace,
                        "keys": s.key_digests.keys().collect::<Vec<_>>(),
                    }),
                )
            })
            .collect(),
    );
    Value::Object(m)
}

fn show_text(h: &HistoryEntry) -> String {
    let p = &h.provenance;
    let mut s = format!("Revision {} ({})\n\n", h.revision, h.outcome);
    let mut field = |name: &str, value: &str| s.push_str(&format!("  {name:<10}{value}\n"));
    field("When:", &h.time.format("%Y-%m-%d %H:%M:%S UTC").to_string());
    field("Who:", &h.who);
    field("Summary:", &h.summary);
    if let Some(m) = &p.message {
        field("Message:", &m.replace('\n', "\n            "));
    }
    field(
        "Commit:",
        &p.git.as_ref().map_or_else(
            || "not recorded (not a git work tree, or recorded before commits were)".into(),
            |g| {
                let mut line = g.commit.clone();
                let notes: Vec<String> = g
                    .branch
                    .iter()
                    .map(|b| format!("branch {b}"))
                    .chain(g.dirty.then(|| "with changes not committed".to_string()))
                    .collect();
                if !notes.is_empty() {
                    line.push_str(&format!(" ({})", notes.join(", ")));
                }
                line
            },
        ),
    );
    if let Some(sum) = &p.plan_checksum {
        field("Plan:", &format!("saved plan file, checksum {sum}"));
    }
    if !p.images.is_empty() {
        s.push_str("\n  Images:\n");
        let width = p.images.keys().map(|k| k.len() + 6).max().unwrap_or(0);
        for (name, reference) in &p.images {
            s.push_str(&format!(
                "    {:<width$}  {reference}\n",
                format!("image.{name}")
            ));
        }
    }
    if !h.secrets.is_empty() {
        s.push_str("\n  Secrets (keys only: values are never recorded):\n");
        for (set, secret) in &h.secrets {
            let keys: Vec<&str> = secret.key_digests.keys().map(String::as_str).collect();
            s.push_str(&format!(
                "    secret.{set} ({}/{}): {}\n",
                secret.namespace,
                secret.k8s_name,
                keys.join(", ")
            ));
        }
    }
    s.push_str(&format!("\n  Objects ({}):\n", h.objects.len()));
    for (address, r) in &h.objects {
        let mut marks = Vec::new();
        if r.protect {
            marks.push("protected");
        }
        if r.tainted {
            marks.push("tainted");
        }
        let marks = if marks.is_empty() {
            String::new()
        } else {
            format!("  ({})", marks.join(", "))
        };
        s.push_str(&format!("    {address}{marks}\n"));
    }
    s.push_str(&format!(
        "\n`todoplan history diff {}` shows what this revision changed; `todoplan state show ADDRESS` an object as it is now.\n",
        h.revision
    ));
    s
}

fn diff_json(d: &RevisionDiff) -> Value {
    json!({
        "from": header_json(&d.from),
        "to": header_json(&d.to),
        "images": d.images.iter().map(|(name, (from, to))| json!({
            "name": name, "from": from, "to": to,
        })).collect::<Vec<_>>(),
        "secrets": d.secrets.iter().map(|k| json!({
            "set": k.set, "key": k.key, "change": k.change,
        })).collect::<Vec<_>>(),
        "objects": d.objects.iter().map(|o| json!({
            "address": o.address, "change": o.change, "diff": unified_text(&o.lines),
        })).collect::<Vec<_>>(),
    })
}

fn diff_text(d: &RevisionDiff) -> String {
    let (a, b) = (&d.from, &d.to);
    let mut s = format!(
        "Revision {} ({}) → revision {} ({})\n\n",
        a.revision,
        a.time.format("%Y-%m-%d %H:%M:%S UTC"),
        b.revision,
        b.time.format("%Y-%m-%d %H:%M:%S UTC")
    );
    let (ca, cb) = (
        commit(a.provenance.git.as_ref()),
        commit(b.provenance.git.as_ref()),
    );
    if ca != cb {
        s.push_str(&format!("  commit: {ca} → {cb}\n"));
    } else {
        s.push_str(&format!("  commit: {ca} (both)\n"));
    }
    for (name, (x, y)) in &d.images {
        // Revisions recorded before images were record none at all.
        let show = |r: &Option<String>, h: &HistoryEntry| match r {
            Some(r) => r.clone(),
            None if h.provenance.images.is_empty() => "(not recorded)".into(),
            None => "(not run)".into(),
        };
        s.push_str(&format!(
            "  image.{name}: {} → {}\n",
            show(x, a),
            show(y, b)
        ));
    }
    for k in &d.secrets {
        let what = match k.change {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "value changed",
        };
        s.push_str(&format!("  secret.{} {}: {what}\n", k.set, k.key));
    }
    let count = |c: Change| d.objects.iter().filter(|o| o.change == c).count();
    if d.objects.is_empty() {
        s.push_str(&format!(
            "\nThe objects of revisions {} and {} are the same.\n",
            a.revision, b.revision
        ));
        return s;
    }
    for o in &d.objects {
        s.push_str(&format!("\n{} {}\n", o.change.symbol(), o.address));
        for line in unified_text(&o.lines).lines() {
            s.push_str(&format!("    {line}\n"));
        }
    }
    s.push_str(&format!(
        "\nFrom revision {} to {}: {} object(s) added, {} changed, {} removed.\n",
        a.revision,
        b.revision,
        count(Change::Added),
        count(Change::Changed),
        count(Change::Removed)
    ));
    s
}
