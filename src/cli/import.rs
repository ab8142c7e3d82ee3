//! `todoplan import --from-helm RELEASE`: take over a release installed with `helm install`.

use super::GlobalArgs;
use crate::ops::exit::ExitStatus;
use crate::ops::import::{self, ImportOptions, ImportPlan};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Reads the live Helm release (its sh.helm.release.v1.NAME.vN Secret), writes the \
release into todo.toml (created when missing) with the chart found in this repository and the \
values it was installed with; values that feed a Secret the chart renders become a [secrets.*] \
set whose keys are kept from the live Secret, never written. Then, after showing the plan, it \
removes Helm's ownership annotations and field ownership from every object of the release and \
deletes the release's history Secrets (--keep-helm-history keeps them, the latest marked \
uninstalled), so the next `todoplan apply` adopts the objects and helm no longer manages \
them.\n\nExamples:\n  todoplan import --from-helm todo -n todo\n  todoplan import --from-helm web \
-n web --chart charts/web --keep-helm-history --auto-approve"
)]
pub struct Args {
    /// The Helm release to take over.
    #[arg(long = "from-helm", value_name = "RELEASE")]
    pub from_helm: String,
    /// Its namespace (default: `default`, as helm's).
    #[arg(long, short = 'n', value_name = "NS")]
    pub namespace: Option<String>,
    /// The chart's directory (default: the chart in this repository with the release's chart name).
    #[arg(long, value_name = "DIR")]
    pub chart: Option<std::path::PathBuf>,
    /// Keep Helm's history Secrets, the latest marked uninstalled (`helm list --uninstalled`
    /// shows it): the default, so `helm rollback` stays possible until you choose otherwise.
    #[arg(long, conflicts_with = "delete_helm_history")]
    pub keep_helm_history: bool,
    /// Delete Helm's history Secrets instead of keeping them (after every object is taken over).
    #[arg(long)]
    pub delete_helm_history: bool,
    /// Do not ask before changing the cluster.
    #[arg(long)]
    pub auto_approve: bool,
}

pub async fn run(global: &GlobalArgs, args: Args) -> miette::Result<ExitStatus> {
    let cluster = crate::observe::ClusterClient::connect(global.context.as_deref()).await?;
    let opts = ImportOptions {
        release: args.from_helm,
        namespace: args.namespace.unwrap_or_else(|| "default".into()),
        spec_path: global.file.clone(),
        chart: args.chart,
        keep_history: !args.delete_helm_history,
    };
    let plan = import::plan(&cluster, &opts).await?;
    print!("{}", crate::model::masking::mask(&render_plan(&plan)));
    if !args.auto_approve && !super::workspace::confirm("Take this release over from Helm?")? {
        println!("Import cancelled: nothing changed.");
        return Ok(ExitStatus::Cancelled);
    }
    import::execute(&cluster, &plan).await?;
    println!(
        "\nHelm let go of release {}. Next: todoplan plan (it adopts the {} objects), then todoplan apply.",
        plan.release,
        plan.objects.len()
    );
    Ok(ExitStatus::Success)
}

/// The import plan as printed.
pub fn render_plan(p: &ImportPlan) -> String {
    let mut out = format!(
        "Helm release {} in namespace {}: revision {}, chart {}-{} (rendered from {}).\n",
        p.release,
        p.namespace,
        p.revision,
        p.chart_name,
        p.chart_version,
        p.chart_dir.display()
    );
    match &p.toml {
        Some(_) => out.push_str(&format!(
            "\n{} {}: [releases.{}] with the values it was installed with{}.\n",
            if p.creates_spec { "Writes" } else { "Extends" },
            p.spec_path.display(),
            p.release,
            if p.secrets.is_empty() { String::new() } else { ", and secret values as [secrets.*] keys kept from the live Secrets (no value is written)".into() }
        )),
        None => out.push_str(&format!(
            "\n{} already has [releases.{}]: left as written.\n",
            p.spec_path.display(),
            p.release
        )),
    }
    for (set, name, keys) in &p.secrets {
        out.push_str(&format!(
            "  [secrets.{set}] → Secret {name}: {}\n",
            keys.join(", ")
        ));
    }
    out.push_str(&format!(
        "\nObjects todoplan takes over ({}), and what of Helm's is removed from each:\n",
        p.objects.len()
    ));
    for t in &p.objects {
        let what = if t.removed.is_empty() {
            "nothing of Helm's left".to_string()
        } else {
            t.removed.join(", ")
        };
        out.push_str(&format!("  ~ {}: {what}\n", t.key));
    }
    for k in &p.missing {
        out.push_str(&format!(
            "  ? {k}: in the release's manifest but gone from the cluster\n"
        ));
    }
    out.push_str("  (the label app.kubernetes.io/managed-by=Helm stays where the chart renders it: it is chart content, and without the annotations helm refuses to manage the objects)\n");
    out.push_str(&format!(
        "\nHelm's history ({} Secrets):\n",
        p.history.len()
    ));
    for (i, h) in p.history.iter().enumerate() {
        let action = if !p.keep_history {
            "deleted".to_string()
        } else if i + 1 == p.history.len() {
            format!("kept, marked uninstalled (was {})", h.status)
        } else {
            "kept".to_string()
        };
        out.push_str(&format!(
            "  {} (revision {}, {}): {action}\n",
            h.name, h.version, h.status
        ));
    }
    out.push_str(if p.keep_history {
        "  `helm list` no longer shows the release; `helm list --uninstalled` does.\n"
    } else {
        "  `helm list` no longer shows the release; `helm rollback` has nothing to go back to.\n"
    });
    if !p.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for n in &p.notes {
            out.push_str(&format!("  - {n}\n"));
        }
    }
    out
}
