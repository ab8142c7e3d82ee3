//! `todoplan import --from-helm` against releases installed with the test environment's real
//! `helm install`: the seeds-like umbrella chart installed with secret values on the command
//! line, one of the repository's charts (charts/backend) and a public chart of the corpus
//! (bitnami/nginx). Each is imported, applied, planned again (no changes), and `helm list` no
//! longer shows it (kept uninstalled by default, deleted with --delete-helm-history); no secret value of the
//! release reaches a file todoplan writes, and the live Secret keeps its value.
#![cfg(feature = "e2e")]

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::cargo::CommandCargoExt;
use support::{TestNamespace, run_ok};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/init-repo");
const JWT: &str = "jwt-import-V7qPz2LmXc";
const PG: &str = "pg-import-Rt5Wn8Kd";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn todoplan(root: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("todoplan")
        .unwrap()
        .current_dir(root)
        .env_remove("TODOPLAN_FILE")
        .env_remove("TODOPLAN_ENV")
        .env("TODO_OPENAI_API_KEY", "openai-import-test")
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(root: &Path, args: &[&str]) -> String {
    let out = todoplan(root, args);
    assert!(
        out.status.success(),
        "todoplan {args:?} failed:\n{}",
        text(&out)
    );
    text(&out)
}

/// Every file under `dir` (todo.toml, state/, anything todoplan wrote).
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn assert_no_secret_in_files(root: &Path, values: &[&str]) {
    use base64::Engine as _;
    let mut all = Vec::new();
    files(root, &mut all);
    for f in all {
        // The fixture's own values files are the team's, not todoplan's.
        if f.to_string_lossy().contains("/helm/") {
            continue;
        }
        let bytes = std::fs::read(&f).unwrap();
        let hay = String::from_utf8_lossy(&bytes);
        for v in values {
            let b64 = base64::engine::general_purpose::STANDARD.encode(v);
            assert!(
                !hay.contains(v) && !hay.contains(&b64),
                "a secret value of the Helm release is in {}",
                f.display()
            );
        }
    }
}

fn helm_list(ns: &str, extra: &[&str]) -> String {
    let mut args = vec!["list", "-n", ns, "-q"];
    args.extend_from_slice(extra);
    run_ok("helm", args)
}

fn assert_plan_is_empty(root: &Path) {
    let out = todoplan(root, &["plan", "--no-color", "--detailed-exitcode"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "plan after apply:\n{}",
        text(&out)
    );
    assert!(text(&out).contains("No changes."), "{}", text(&out));
}

#[test]
fn an_umbrella_release_with_secret_values_is_taken_over() {
    support::require_cluster();
    let ns = TestNamespace::create("import-umbrella");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    copy_dir(Path::new(FIXTURE), &root);
    let chart = root.join("helm/todo-app").to_string_lossy().into_owned();
    let jwt = format!("secrets.jwtSecretKey={JWT}");
    let pg = format!("secrets.postgresPassword={PG}");
    run_ok(
        "helm",
        [
            "install",
            "todo-app",
            chart.as_str(),
            "-n",
            &ns.name,
            "--set",
            &jwt,
            "--set",
            &pg,
            "--set",
            "secrets.openaiApiKey=",
            "--set",
            "config.logLevel=warn",
            "--set",
            "backend.replicaCount=2",
        ],
    );

    // Declared by hand (init) while helm still owns the objects: the plan names the release.
    ok(
        &root,
        &[
            "init",
            "--name",
            "todo",
            "-n",
            &ns.name,
            "--registry",
            &support::registry(),
        ],
    );
    let out = todoplan(&root, &["plan", "--no-color"]);
    let warning = format!(
        "Helm release todo-app (namespace {}) still owns 5 object(s)",
        ns.name
    );
    assert!(text(&out).contains(&warning), "{}", text(&out));
    assert!(text(&out).contains(&format!(
        "todoplan import --from-helm todo-app -n {}",
        ns.name
    )));
    std::fs::remove_file(root.join("todo.toml")).unwrap();

    let out = ok(
        &root,
        &[
            "import",
            "--from-helm",
            "todo-app",
            "-n",
            &ns.name,
            "--delete-helm-history",
            "--auto-approve",
        ],
    );
    insta::assert_snapshot!(
        "import_umbrella_plan",
        out.replace(&ns.name, "<ns>")
            .replace(&root.display().to_string(), "<repo>")
    );
    let written = std::fs::read_to_string(root.join("todo.toml")).unwrap();
    insta::assert_snapshot!(
        "import_umbrella_todo_toml",
        written.replace(&ns.name, "<ns>")
    );
    assert!(
        helm_list(&ns.name, &["--all"]).trim().is_empty(),
        "the history is deleted"
    );

    let out = ok(&root, &["apply", "--auto-approve", "--no-color"]);
    assert!(out.contains("to adopt"), "{out}");
    assert_plan_is_empty(&root);
    let live = support::kubectl_json(["-n", &ns.name, "get", "secret", "todo-secrets"]);
    use base64::Engine as _;
    let jwt = base64::engine::general_purpose::STANDARD
        .decode(live["data"]["JWT_SECRET_KEY"].as_str().unwrap())
        .unwrap();
    assert_eq!(jwt, JWT.as_bytes(), "the live secret value is kept");
    let deploy = support::kubectl_json(["-n", &ns.name, "get", "deployment", "todo-app-backend"]);
    assert!(
        deploy["metadata"]["annotations"]
            .get("meta.helm.sh/release-name")
            .is_none()
    );
    assert_eq!(
        deploy["spec"]["replicas"], 2,
        "the release's values are kept"
    );
    assert_no_secret_in_files(&root, &[JWT, PG]);

    // An API key is not a password: import keeps its live value (`existing`) and never makes
    // one up. With the Secret deleted by hand, the plan says what to do instead of generating
    // a random API key (a password would be generated anew: the only keys left to ask for are
    // the kept ones).
    assert!(
        written.contains("OPENAI_API_KEY = { existing = true }")
            && written.contains("JWT_SECRET_KEY = { generate = true }"),
        "{written}"
    );
    support::kubectl(["-n", &ns.name, "delete", "secret", "todo-secrets"]);
    let out = todoplan(&root, &["plan", "--no-color"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // miette wraps long lines (marking continued ones with │), also inside a namespace name.
    let said = text(&out)
        .split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
        .replace("- 0/", "-0/");
    assert!(
        said.contains("secret.todo-secrets key OPENAI_API_KEY keeps the value in the cluster (`existing = true`), but there is no Secret")
            && said.contains("/todo-secrets")
            && said.contains("never makes up a value"),
        "{said}"
    );
}

#[test]
fn a_repo_chart_and_a_corpus_chart_are_taken_over() {
    support::require_cluster();
    let ns = TestNamespace::create("import-charts");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&here.join("charts/backend"), &root.join("charts/backend"));
    let corpus = here.join("../shared/charts-corpus/bitnami/nginx");
    let corpus = if corpus.is_dir() {
        corpus
    } else {
        PathBuf::from("/work/shared/charts-corpus/bitnami/nginx")
    };
    assert!(
        corpus.is_dir(),
        "the charts corpus (../shared/charts-corpus) is missing"
    );
    copy_dir(&corpus, &root.join("vendor-charts/nginx"));
    let secret_value = "backend-import-Qe4Jx9";
    support::kubectl([
        "-n",
        &ns.name,
        "create",
        "secret",
        "generic",
        "backend-secret",
        &format!("--from-literal=JWT_SECRET_KEY={secret_value}"),
        &format!("--from-literal=POSTGRES_PASSWORD={secret_value}"),
    ]);
    let backend = root.join("charts/backend").to_string_lossy().into_owned();
    run_ok(
        "helm",
        [
            "install",
            "backend",
            backend.as_str(),
            "-n",
            &ns.name,
            "--set",
            "image.ref=ghcr.io/todo/todo-backend:1.0.0",
            "--set",
            "secretName=backend-secret",
            "--set",
            "replicaCount=2",
        ],
    );
    let nginx = root
        .join("vendor-charts/nginx")
        .to_string_lossy()
        .into_owned();
    // No resource preset: the kwok node has no ephemeral storage to give the preset's request.
    // No TLS: its certificate is drawn at random on every render (helm keeps it with `lookup`,
    // which todoplan's offline render answers empty), so that chart never plans empty.
    run_ok(
        "helm",
        [
            "install",
            "web",
            nginx.as_str(),
            "-n",
            &ns.name,
            "--set",
            "replicaCount=2",
            "--set",
            "resourcesPreset=none",
            "--set",
            "tls.enabled=false",
        ],
    );

    let out = ok(
        &root,
        &[
            "import",
            "--from-helm",
            "backend",
            "-n",
            &ns.name,
            "--delete-helm-history",
            "--auto-approve",
        ],
    );
    assert!(out.contains("Writes todo.toml"), "{out}");
    let out = ok(
        &root,
        &[
            "import",
            "--from-helm",
            "web",
            "-n",
            &ns.name,
            // The default: Helm's history kept, marked uninstalled.
            "--auto-approve",
        ],
    );
    assert!(out.contains("Extends todo.toml"), "{out}");
    assert!(out.contains("kept, marked uninstalled"), "{out}");
    let written = std::fs::read_to_string(root.join("todo.toml")).unwrap();
    for expected in [
        "[releases.backend]\nchart = \"charts/backend\"",
        "secretName = \"backend-secret\"",
        "[releases.web]\nchart = \"vendor-charts/nginx\"",
    ] {
        assert!(written.contains(expected), "{expected} in:\n{written}");
    }
    ok(&root, &["validate"]);
    let out = ok(&root, &["apply", "--auto-approve", "--no-color"]);
    assert!(out.contains("to adopt"), "{out}");
    assert_plan_is_empty(&root);
    assert!(
        helm_list(&ns.name, &[]).trim().is_empty(),
        "helm list shows neither release"
    );
    assert_eq!(helm_list(&ns.name, &["--uninstalled"]).trim(), "web");
    // A second import of a release that is gone is an error that says how to find releases.
    let out = todoplan(
        &root,
        &[
            "import",
            "--from-helm",
            "backend",
            "-n",
            &ns.name,
            "--auto-approve",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("there is no Helm release `backend`"),
        "{}",
        text(&out)
    );
    // Nor is one whose history was kept: it is uninstalled, not live.
    let out = todoplan(
        &root,
        &[
            "import",
            "--from-helm",
            "web",
            "-n",
            &ns.name,
            "--auto-approve",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("todoplan::import::uninstalled"),
        "{}",
        text(&out)
    );
    assert_no_secret_in_files(&root, &[secret_value]);
}
