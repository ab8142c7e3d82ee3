//! The history as a team reads it: where each revision was deployed from (the git commit of the
//! project, the images its objects run, the saved plan's checksum, a message), one revision in
//! full, and what changed between two.
//!
//! The git commit is read with the `git` binary, as `plan --base` reads its ref: it is already
//! required there, it sees exactly what the user's git sees (worktrees, `safe.directory`,
//! `.gitignore` and `core.excludesFile`), and a library reimplementing git would be a large
//! dependency for three questions. Any failure (no git, not a work tree, no commit yet) means no
//! commit is recorded, never a failed apply.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use miette::Diagnostic;
use serde_json::Value;
use thiserror::Error;

use super::workspace::Workspace;
use crate::plan::diff::{DiffLine, diff_lines};
use crate::state::{GitSource, HistoryEntry, Provenance, StateBackend, StateError, StateStore};

/// Lines of context around each change in a revision diff.
const DIFF_CONTEXT: usize = 3;

#[derive(Debug, Error, Diagnostic)]
pub enum HistoryError {
    #[error("revision {revision} is not in the history{}", recorded(.first_last))]
    #[diagnostic(
        code(todoplan::history::no_revision),
        help("{}", advice(.first_last))
    )]
    NoRevision {
        revision: u64,
        /// The first and last recorded revisions, if any.
        first_last: Option<(u64, u64)>,
    },
    #[error("revision {revision} is the first recorded: there is no earlier one to compare with")]
    #[diagnostic(
        code(todoplan::history::first_revision),
        help("`todoplan history show {revision}` lists everything it applied")
    )]
    FirstRevision { revision: u64 },
    #[error("revision {revision} is given twice: a revision has no changes against itself")]
    #[diagnostic(
        code(todoplan::history::same_revision),
        help(
            "name two revisions, or one: `todoplan history diff {revision}` shows what it changed"
        )
    )]
    SameRevision { revision: u64 },
}

fn recorded(first_last: &Option<(u64, u64)>) -> String {
    match first_last {
        Some((first, last)) if first == last => format!(" (only revision {first} is recorded)"),
        Some((first, last)) => format!(" (revisions {first} to {last} are recorded)"),
        None => " (nothing was applied with this state yet)".into(),
    }
}

fn advice(first_last: &Option<(u64, u64)>) -> String {
    match first_last {
        Some(_) => "`todoplan history` lists the revisions".into(),
        None => "`todoplan apply` records revision 1".into(),
    }
}

/// `-m` as recorded: trimmed, and none when empty.
fn message_of(message: Option<String>) -> Option<String> {
    message
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
}

/// Where a run that writes comes from: the git commit of the project directory, `plan_checksum`
/// (of the saved plan it applies) and `message`. The images are filled in when the revision is
/// recorded, from what the objects run.
pub fn provenance(
    ws: &Workspace,
    message: Option<String>,
    plan_checksum: Option<String>,
) -> Provenance {
    // The whole local state directory: an environment's state (`state/env/NAME`) sits inside
    // the base's, and each environment's apply rewrites its own.
    let state_dir = match &ws.backend {
        StateStore::Local(b) => {
            let dir = b.dir();
            let env_dir = ws.spec.env.as_ref().map(|env| Path::new("env").join(env));
            Some(match env_dir {
                Some(e) if dir.ends_with(&e) => dir
                    .parent()
                    .and_then(Path::parent)
                    .unwrap_or(dir)
                    .to_path_buf(),
                _ => dir.to_path_buf(),
            })
        }
        StateStore::Kubernetes(_) => None,
    };
    Provenance {
        git: git_source(&ws.spec.base_dir, state_dir.as_deref()),
        images: BTreeMap::new(),
        plan_checksum,
        message: message_of(message),
    }
}

/// A rollback's provenance: the restored revision's images are what its objects run again.
pub async fn rollback_provenance(
    ws: &Workspace,
    target: u64,
    message: Option<String>,
) -> miette::Result<Provenance> {
    let restored = ws.backend.read_history(target).await?;
    Ok(Provenance {
        images: restored.provenance.images,
        ..provenance(ws, message, None)
    })
}

/// `git` in `dir` (hooks and fsmonitor off: reading the commit runs nothing of the repository's),
/// its stdout when it succeeded.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        // `status` refreshes the index only if it may: never a lock another git waits for.
        .arg("--no-optional-locks")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "core.fsmonitor=false",
            "-c",
            "core.hooksPath=/dev/null",
        ])
        .args(args)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The commit checked out where `dir` is, its branch and whether the work tree differs from it;
/// None outside a git work tree or before its first commit. Files under `state_dir` (the local
/// state, which every apply rewrites) do not make it dirty.
pub fn git_source(dir: &Path, state_dir: Option<&Path>) -> Option<GitSource> {
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?.trim());
    let commit = git(&top, &["rev-parse", "--verify", "--quiet", "HEAD"])?
        .trim()
        .to_string();
    let branch = git(&top, &["symbolic-ref", "--quiet", "--short", "HEAD"])
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty());
    let state = state_dir
        .and_then(|s| std::fs::canonicalize(s).ok())
        .zip(std::fs::canonicalize(&top).ok())
        .and_then(|(s, t)| s.strip_prefix(t).ok().map(Path::to_path_buf));
    // Paths in porcelain output are relative to the top of the work tree.
    let status = git(&top, &["status", "--porcelain=v1", "-z"])?;
    let mut dirty = false;
    let mut entries = status.split('\0').filter(|e| !e.is_empty());
    while let Some(entry) = entries.next() {
        let (code, path) = entry.split_at(entry.len().min(3));
        if code.starts_with('R') || code.starts_with('C') {
            // A rename or copy names its source next.
            entries.next();
        }
        let inside_state = state
            .as_ref()
            .is_some_and(|s| !s.as_os_str().is_empty() && Path::new(path).starts_with(s));
        if !inside_state {
            dirty = true;
            break;
        }
    }
    Some(GitSource {
        commit,
        branch,
        dirty,
    })
}

/// The recorded revisions, oldest first.
pub async fn list(ws: &Workspace) -> miette::Result<Vec<HistoryEntry>> {
    Ok(ws.backend.history().await?)
}

/// One recorded revision, or an error naming the revisions there are.
pub async fn show(ws: &Workspace, revision: u64) -> miette::Result<HistoryEntry> {
    let revisions = ws.backend.revisions().await?;
    if !revisions.contains(&revision) {
        return Err(no_revision(revision, &revisions));
    }
    match ws.backend.read_history(revision).await {
        Err(StateError::NoRevision { .. }) => Err(no_revision(revision, &revisions)),
        other => Ok(other?),
    }
}

/// The latest recorded revision: what is live (unless an apply since did not finish).
pub async fn latest(ws: &Workspace) -> miette::Result<HistoryEntry> {
    let revisions = ws.backend.revisions().await?;
    match revisions.last() {
        Some(last) => show(ws, *last).await,
        None => Err(miette::miette!(
            code = "todoplan::history::empty",
            help = "`todoplan apply` records revision 1",
            "no revision is recorded: nothing was applied with this state yet"
        )),
    }
}

/// What revision `revision` changed: the diff from the revision recorded before it.
pub async fn diff_with_previous(ws: &Workspace, revision: u64) -> miette::Result<RevisionDiff> {
    let revisions = ws.backend.revisions().await?;
    if !revisions.contains(&revision) {
        return Err(no_revision(revision, &revisions));
    }
    match revisions.iter().rev().find(|r| **r < revision) {
        Some(previous) => diff(ws, *previous, revision).await,
        None => Err(HistoryError::FirstRevision { revision }.into()),
    }
}

fn no_revision(revision: u64, revisions: &[u64]) -> miette::Report {
    HistoryError::NoRevision {
        revision,
        first_last: revisions.first().copied().zip(revisions.last().copied()),
    }
    .into()
}

/// What happened to one address between two revisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Changed,
    Removed,
}

impl Change {
    pub fn symbol(self) -> &'static str {
        match self {
            Change::Added => "+",
            Change::Changed => "~",
            Change::Removed => "-",
        }
    }
}

/// One object that differs between two revisions: its manifests' YAML diff (redacted as
/// recorded: secret values are never in a record).
#[derive(Debug, Clone)]
pub struct ObjectDiff {
    pub address: String,
    pub change: Change,
    pub lines: Vec<DiffLine>,
}

/// One key of a secret set whose value differs (only digests are recorded: never a value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretKeyDiff {
    pub set: String,
    pub key: String,
    pub change: Change,
}

/// Two revisions compared: provenance (commit, images), secret keys, objects.
#[derive(Debug, Clone)]
pub struct RevisionDiff {
    pub from: HistoryEntry,
    pub to: HistoryEntry,
    /// Image name → (from, to) where they differ; None where a revision runs no such image.
    pub images: BTreeMap<String, (Option<String>, Option<String>)>,
    pub secrets: Vec<SecretKeyDiff>,
    pub objects: Vec<ObjectDiff>,
}

/// What changed from revision `from` to revision `to` (either order).
pub async fn diff(ws: &Workspace, from: u64, to: u64) -> miette::Result<RevisionDiff> {
    if from == to {
        return Err(HistoryError::SameRevision { revision: from }.into());
    }
    let a = show(ws, from).await?;
    let b = show(ws, to).await?;
    Ok(compare(a, b))
}

/// The differences between two recorded revisions.
pub fn compare(from: HistoryEntry, to: HistoryEntry) -> RevisionDiff {
    let mut images = BTreeMap::new();
    for name in from
        .provenance
        .images
        .keys()
        .chain(to.provenance.images.keys())
    {
        let (a, b) = (
            from.provenance.images.get(name),
            to.provenance.images.get(name),
        );
        if a != b {
            images.insert(name.clone(), (a.cloned(), b.cloned()));
        }
    }
    let mut secrets = Vec::new();
    for set in from.secrets.keys().chain(to.secrets.keys()) {
        let none = BTreeMap::new();
        let (a, b) = (
            from.secrets.get(set).map_or(&none, |s| &s.key_digests),
            to.secrets.get(set).map_or(&none, |s| &s.key_digests),
        );
        for key in a.keys().chain(b.keys()) {
            let change = match (a.get(key), b.get(key)) {
                (None, Some(_)) => Change::Added,
                (Some(_), None) => Change::Removed,
                (Some(x), Some(y)) if x != y => Change::Changed,
                _ => continue,
            };
            let d = SecretKeyDiff {
                set: set.clone(),
                key: key.clone(),
                change,
            };
            if !secrets.contains(&d) {
                secrets.push(d);
            }
        }
    }
    let mut objects = Vec::new();
    let addresses: std::collections::BTreeSet<&String> =
        from.objects.keys().chain(to.objects.keys()).collect();
    for address in addresses {
        let (a, b) = (
            from.objects.get(address).map(|r| &r.manifest),
            to.objects.get(address).map(|r| &r.manifest),
        );
        let change = match (a, b) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(x), Some(y)) if x != y => Change::Changed,
            _ => continue,
        };
        objects.push(ObjectDiff {
            address: address.clone(),
            change,
            lines: diff_lines(
                a.map(|m| sorted(&m.value())).as_ref(),
                b.map(|m| sorted(&m.value())).as_ref(),
                DIFF_CONTEXT,
            ),
        });
    }
    RevisionDiff {
        from,
        to,
        images,
        secrets,
        objects,
    }
}

/// The manifest with every map's keys sorted, so a diff shows changed values, never keys that
/// moved.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(list) => Value::Array(list.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ObjectRecord, Outcome, SecretRecord};
    use serde_json::json;

    fn run(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    #[test]
    fn the_commit_branch_and_dirtiness_of_the_project_are_read_and_the_state_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path();
        assert_eq!(git_source(repo, None), None, "not a git work tree");
        run(repo, &["init", "-q", "-b", "main"]);
        std::fs::write(repo.join("todo.toml"), "[project]\nname = \"t\"\n").unwrap();
        assert_eq!(git_source(repo, None), None, "no commit yet");
        run(repo, &["add", "todo.toml"]);
        run(repo, &["commit", "-q", "-m", "one"]);
        let head = git(repo, &["rev-parse", "HEAD"])
            .unwrap()
            .trim()
            .to_string();
        let clean = git_source(repo, Some(&repo.join("state"))).unwrap();
        assert_eq!(
            clean,
            GitSource {
                commit: head.clone(),
                branch: Some("main".into()),
                dirty: false
            }
        );
        // The local state is rewritten by every apply: it does not make the tree dirty.
        std::fs::create_dir_all(repo.join("state/history")).unwrap();
        std::fs::write(repo.join("state/todoplan.state.json"), "{}").unwrap();
        assert!(!git_source(repo, Some(&repo.join("state"))).unwrap().dirty);
        assert!(
            git_source(repo, None).unwrap().dirty,
            "untracked files count"
        );
        std::fs::write(repo.join("todo.toml"), "[project]\nname = \"u\"\n").unwrap();
        assert!(git_source(repo, Some(&repo.join("state"))).unwrap().dirty);
        run(repo, &["checkout", "-q", "--detach"]);
        let detached = git_source(repo, Some(&repo.join("state"))).unwrap();
        assert_eq!(detached.branch, None);
        assert_eq!(detached.commit, head);
    }

    #[test]
    fn an_environments_apply_leaves_the_tree_clean_for_the_next_environment() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path();
        run(repo, &["init", "-q", "-b", "main"]);
        std::fs::write(
            repo.join("todo.toml"),
            "[project]\nname = \"t\"\n[env.dev]\n[env.prod]\n",
        )
        .unwrap();
        run(repo, &["add", "todo.toml"]);
        run(repo, &["commit", "-q", "-m", "one"]);
        // What applies to dev and to the base left behind (the state is not committed here).
        for state in ["state/env/dev", "state"] {
            std::fs::create_dir_all(repo.join(state)).unwrap();
            std::fs::write(repo.join(state).join("todoplan.state.json"), "{}").unwrap();
        }
        let ws = Workspace::open(&repo.join("todo.toml"), Some("prod"), None).unwrap();
        let p = provenance(&ws, Some("  ship it \n".into()), Some("sum".into()));
        let git = p.git.unwrap();
        assert!(!git.dirty, "the state directories do not count");
        assert_eq!(git.branch.as_deref(), Some("main"));
        assert_eq!(p.message.as_deref(), Some("ship it"));
        assert_eq!(p.plan_checksum.as_deref(), Some("sum"));
        assert_eq!(provenance(&ws, Some(" ".into()), None).message, None);
    }

    fn record(manifest: Value) -> ObjectRecord {
        ObjectRecord {
            release: "web".into(),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("todo".into()),
            name: "web".into(),
            uid: None,
            digest: "d".into(),
            manifest: manifest.into(),
            protect: false,
            tainted: false,
            hook_deleted: false,
            observed: None,
        }
    }

    fn entry(
        revision: u64,
        objects: &[(&str, Value)],
        secret: &[(&str, &str)],
        image: &str,
    ) -> HistoryEntry {
        HistoryEntry {
            revision,
            time: chrono::Utc::now(),
            who: "dev@host".into(),
            summary: "x".into(),
            outcome: Outcome::Succeeded,
            provenance: Provenance {
                images: [("backend".to_string(), image.to_string())].into(),
                ..Provenance::default()
            },
            objects: objects
                .iter()
                .map(|(a, m)| (a.to_string(), record(m.clone())))
                .collect(),
            secrets: [(
                "app".to_string(),
                SecretRecord {
                    k8s_name: "app".into(),
                    namespace: "todo".into(),
                    key_digests: secret
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                },
            )]
            .into(),
        }
    }

    #[test]
    fn two_revisions_differ_by_object_image_and_secret_key_without_values() {
        let a = entry(
            1,
            &[
                ("cm.kept", json!({"data": {"A": "1"}})),
                ("cm.changed", json!({"data": {"A": "1", "B": "2"}})),
                ("cm.gone", json!({"data": {}})),
            ],
            &[("JWT", "d1"), ("OLD", "d2"), ("SAME", "d3")],
            "r@sha256:aa",
        );
        let b = entry(
            2,
            &[
                ("cm.kept", json!({"data": {"A": "1"}})),
                // Same content, keys in another order: only the value change shows.
                ("cm.changed", json!({"data": {"B": "3", "A": "1"}})),
                ("cm.new", json!({"data": {}})),
            ],
            &[("JWT", "d9"), ("NEW", "d4"), ("SAME", "d3")],
            "r@sha256:bb",
        );
        let d = compare(a, b);
        let objects: Vec<(&str, Change)> = d
            .objects
            .iter()
            .map(|o| (o.address.as_str(), o.change))
            .collect();
        assert_eq!(
            objects,
            [
                ("cm.changed", Change::Changed),
                ("cm.gone", Change::Removed),
                ("cm.new", Change::Added)
            ]
        );
        let changed = &d.objects[0].lines;
        assert!(
            changed.contains(&DiffLine::Removed("  B: '2'".into())),
            "{changed:?}"
        );
        assert!(
            changed.contains(&DiffLine::Added("  B: '3'".into())),
            "{changed:?}"
        );
        assert_eq!(
            d.images["backend"],
            (Some("r@sha256:aa".into()), Some("r@sha256:bb".into()))
        );
        let secrets: Vec<(&str, Change)> = d
            .secrets
            .iter()
            .map(|s| (s.key.as_str(), s.change))
            .collect();
        assert_eq!(
            secrets,
            [
                ("JWT", Change::Changed),
                ("OLD", Change::Removed),
                ("NEW", Change::Added)
            ]
        );
    }

    #[test]
    fn a_missing_revision_names_the_recorded_ones() {
        let e = no_revision(99, &[1, 2, 3]);
        assert_eq!(
            e.to_string(),
            "revision 99 is not in the history (revisions 1 to 3 are recorded)"
        );
        let e = no_revision(2, &[]);
        assert!(e.to_string().contains("nothing was applied"), "{e}");
    }
}
