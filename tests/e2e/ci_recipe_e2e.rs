//! The README's CI recipe, run as written: `examples/ci/todoplan-ci` (what its GitHub Actions
//! and GitLab jobs call) against a bare git remote, with the state in the cluster. A pull
//! request is planned from a shallow checkout (the base branch fetched for `--base`), the
//! comment names the head commit, the run and how the merge applies; the merge applies exactly
//! that plan; a plan that went stale before its merge (another pull request was applied first)
//! applies nothing, and the job plans again and posts that plan instead of deploying nothing
//! in silence.
#![cfg(feature = "e2e")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support;

use support::{DeleteNamespaceOnDrop as Cleanup, output_text as text};

const RUN_URL: &str = "https://ci.example/runs/42";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The recipe's script, as a CI job runs it in its checkout.
fn ci(checkout: &Path, args: &[&str]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci/todoplan-ci");
    Command::new("sh")
        .arg(script)
        .args(args)
        .current_dir(checkout)
        .env("TODOPLAN", env!("CARGO_BIN_EXE_todoplan"))
        .env("CI_RUN_URL", RUN_URL)
        // As the recipe's jobs set it.
        .env("TODOPLAN_LOCKED", "1")
        .env("NO_COLOR", "1")
        .env_remove("TODOPLAN_ENV")
        .env_remove("TODOPLAN_FILE")
        .output()
        .unwrap()
}

/// A CI job's checkout: shallow, of one branch, as `actions/checkout` makes it by default.
fn checkout(root: &Path, remote: &Path, branch: &str, name: &str) -> PathBuf {
    let to = root.join(name);
    git(
        root,
        &[
            "clone",
            "--quiet",
            "--depth",
            "1",
            "--branch",
            branch,
            &format!("file://{}", remote.display()),
            name,
        ],
    );
    to
}

fn greeting(ns: &str) -> String {
    support::kubectl_json(["-n", ns, "get", "configmap", "settings"])["data"]["greeting"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn set_greeting(dev: &Path, value: &str) {
    let path = dev.join("web/settings.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    let line = yaml.lines().find(|l| l.contains("greeting:")).unwrap();
    std::fs::write(&path, yaml.replace(line, &format!("  greeting: {value}"))).unwrap();
}

/// A pull request: a branch off main with one commit, pushed.
fn pull_request(dev: &Path, branch: &str, change: impl FnOnce(&Path)) -> String {
    git(dev, &["checkout", "--quiet", "main"]);
    git(dev, &["checkout", "--quiet", "-b", branch]);
    change(dev);
    git(dev, &["add", "-A"]);
    git(dev, &["commit", "--quiet", "-m", branch]);
    git(dev, &["push", "--quiet", "origin", branch]);
    git(dev, &["rev-parse", "HEAD"])
}

fn merge(dev: &Path, branch: &str) {
    git(dev, &["checkout", "--quiet", "main"]);
    git(dev, &["pull", "--quiet", "--no-rebase", "origin", "main"]);
    git(dev, &["merge", "--quiet", "--no-ff", "-m", branch, branch]);
    git(dev, &["push", "--quiet", "origin", "main"]);
}

#[test]
fn the_ci_recipe_plans_pull_requests_applies_merges_and_replans_a_stale_plan() {
    support::require_cluster();
    let ns = support::unique_name("ci-recipe");
    let _cleanup = Cleanup(ns.clone());
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let remote = root.join("remote.git");
    git(
        root,
        &["init", "--quiet", "--bare", "-b", "main", "remote.git"],
    );
    let dev = root.join("dev");
    std::fs::create_dir_all(&dev).unwrap();
    let toml = format!(
        "[project]\nname = \"{ns}\"\n\n[cluster]\nnamespace = \"{ns}\"\n\n[env.prod.state]\nbackend = \"kubernetes\"\nnamespace = \"{ns}\"\n"
    );
    std::fs::write(dev.join("todo.toml"), &toml).unwrap();
    git(root, &["init", "--quiet", "-b", "main", "dev"]);
    git(&dev, &["add", "-A"]);
    git(&dev, &["commit", "--quiet", "-m", "the stack"]);
    git(
        &dev,
        &[
            "remote",
            "add",
            "origin",
            &format!("file://{}", remote.display()),
        ],
    );
    git(&dev, &["push", "--quiet", "origin", "main"]);

    // The first pull request creates everything.
    let head = pull_request(&dev, "first", |d| {
        std::fs::write(
            d.join("todo.toml"),
            format!("{toml}\n[releases.web]\nchart = \"web\"\n"),
        )
        .unwrap();
        std::fs::create_dir_all(d.join("web")).unwrap();
        std::fs::write(
            d.join("web/settings.yaml"),
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {ns}\ndata:\n  greeting: v1\n"
            ),
        )
        .unwrap();
    });
    let job = checkout(root, &remote, "first", "plan-first");
    let out = ci(&job, &["plan", "prod", "main"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let planned = text(&out);
    let comment = std::fs::read_to_string(job.join("comment.md")).unwrap();
    assert!(comment.contains("to add"), "{comment}");
    assert!(
        comment.contains(&format!("Planned at commit `{head}` against `origin/main`"))
            && comment.contains(RUN_URL)
            && comment.contains("todoplan apply --env prod --atomic prod.plan"),
        "{comment}"
    );
    merge(&dev, "first");
    let job_apply = checkout(root, &remote, "main", "apply-first");
    std::fs::copy(job.join("prod.plan"), job_apply.join("prod.plan")).unwrap();
    let out = ci(&job_apply, &["apply", "prod", "prod.plan"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(greeting(&ns), "v1");
    // The checksum plan --out printed is the one history records for the revision applying it.
    let printed = regex::Regex::new(r"Saved the plan to prod.plan \(checksum ([0-9a-f]+)\)")
        .unwrap()
        .captures(&planned)
        .unwrap_or_else(|| panic!("no checksum printed: {planned}"))[1]
        .to_string();
    let history = support::todoplan_in(
        &job_apply,
        &["history", "--env", "prod", "--format", "json"],
    );
    let history: serde_json::Value = serde_json::from_slice(&history.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&history)));
    let recorded = history
        .as_array()
        .and_then(|revisions| revisions.last())
        .and_then(|r| r["plan_checksum"].as_str())
        .unwrap_or_default()
        .to_string();
    assert_eq!(recorded, printed, "{history}");

    // Two pull requests planned side by side; the second merged is stale by then.
    let head_a = pull_request(&dev, "greeting", |d| set_greeting(d, "v2"));
    let head_b = pull_request(&dev, "extra", |d| {
        std::fs::write(
            d.join("web/extra.yaml"),
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: {ns}\ndata:\n  k: v\n"
            ),
        )
        .unwrap()
    });
    let job_a = checkout(root, &remote, "greeting", "plan-greeting");
    let out = ci(&job_a, &["plan", "prod", "main"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let comment_a = std::fs::read_to_string(job_a.join("comment.md")).unwrap();
    assert!(
        comment_a.contains("greeting") && comment_a.contains(&head_a),
        "{comment_a}"
    );
    let job_b = checkout(root, &remote, "extra", "plan-extra");
    let out = ci(&job_b, &["plan", "prod", "main"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        std::fs::read_to_string(job_b.join("comment.md"))
            .unwrap()
            .contains(&head_b)
    );

    merge(&dev, "extra");
    let apply_b = checkout(root, &remote, "main", "apply-extra");
    std::fs::copy(job_b.join("prod.plan"), apply_b.join("prod.plan")).unwrap();
    let out = ci(&apply_b, &["apply", "prod", "prod.plan"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    merge(&dev, "greeting");
    let apply_a = checkout(root, &remote, "main", "apply-greeting");
    std::fs::copy(job_a.join("prod.plan"), apply_a.join("prod.plan")).unwrap();
    let out = ci(&apply_a, &["apply", "prod", "prod.plan"]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "a stale plan exits 6: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("the saved plan is stale"),
        "{}",
        text(&out)
    );
    assert_eq!(greeting(&ns), "v1", "nothing was applied");
    let comment = std::fs::read_to_string(apply_a.join("comment.md")).unwrap();
    let merged = git(&apply_a, &["rev-parse", "HEAD"]);
    assert!(
        comment.contains("Nothing was applied at the merge")
            && comment.contains(&format!("the plan at commit `{merged}` now"))
            && comment.contains("greeting")
            && comment.contains(RUN_URL),
        "{comment}"
    );
    // The new plan, reviewed, is applied as the recipe says; then nothing is left.
    let out = ci(&apply_a, &["apply", "prod", "prod.plan"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(greeting(&ns), "v2");
    let out = support::todoplan_in(&apply_a, &["plan", "--env", "prod", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
