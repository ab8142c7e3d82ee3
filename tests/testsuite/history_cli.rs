//! `todoplan history` as a team reads it (golden): the list with the commit each revision was
//! deployed from, one revision in full (`show N`, text and JSON), what changed between two
//! (`diff A B`), and clear errors for a revision that is not recorded. The history files are
//! written here as apply records them, one of them as recorded before provenance existed (it
//! must still load). No cluster: the local state backend needs none to read its history.

use std::fs;
use std::path::Path;

use serde_json::{Value, json};

use crate::support::todoplan_cli;

pub(crate) fn todoplan(dir: &Path, args: &[&str]) -> std::process::Output {
    todoplan_cli().current_dir(dir).args(args).output().unwrap()
}

pub(crate) fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The diagnostic as one line (miette wraps at 80 columns).
fn unwrapped(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    regex::Regex::new(r"\s*\n[\s│]*")
        .unwrap()
        .replace_all(&text, " ")
        .into_owned()
}

fn deployment(image: &str, replicas: u32) -> Value {
    json!({"release": "backend", "api_version": "apps/v1", "kind": "Deployment",
        "namespace": "todo", "name": "backend", "uid": "u-2", "digest": "d-deploy",
        "manifest": {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "backend", "namespace": "todo"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "backend", "image": image}]}}}}})
}

fn config(level: &str) -> Value {
    json!({"release": "backend", "api_version": "v1", "kind": "ConfigMap", "namespace": "todo",
        "name": "backend-config", "uid": "u-1", "digest": format!("d-{level}"),
        "manifest": {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "backend-config", "namespace": "todo"},
            "data": {"CORS_ORIGINS": "http://localhost:3000", "LOG_LEVEL": level}}})
}

fn secret() -> Value {
    json!({"release": "", "api_version": "v1", "kind": "Secret", "namespace": "todo",
        "name": "todo-app", "digest": "d-secret", "protect": true,
        "manifest": {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "todo-app", "namespace": "todo"},
            "data": {"JWT_SECRET_KEY": "(sensitive value)"}}})
}

fn secrets(jwt_digest: &str) -> Value {
    json!({"app": {"k8s_name": "todo-app", "namespace": "todo",
        "key_digests": {"JWT_SECRET_KEY": jwt_digest}}})
}

const DIGEST_1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const DIGEST_2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

/// A project whose state has three revisions: 1 recorded before provenance, 2 from a clean
/// checkout of `main` with a message, 3 a saved plan applied from a dirty detached checkout.
pub(crate) fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    fs::create_dir_all(state.join("history")).unwrap();
    fs::write(dir.path().join("todo.toml"), "[project]\nname = \"todo\"\n").unwrap();
    fs::write(
        state.join("todoplan.state.json"),
        json!({"format_version": 1, "lineage": "lineage-1", "serial": 9, "revision": 3,
            "todoplan_version": "0.1.0", "project": "todo", "objects": {}, "secrets": {},
            "images": {}})
        .to_string(),
    )
    .unwrap();
    let image = |digest: &str| format!("127.0.0.1:5000/todo-backend@sha256:{digest}");
    let revisions = [
        json!({"revision": 1, "time": "2026-11-30T10:00:00Z", "who": "dev@laptop",
            "summary": "3 added, 0 changed, 0 replaced, 0 destroyed", "outcome": "succeeded",
            "objects": {
                "release.backend/v1/ConfigMap/todo/backend-config": config("info"),
                "release.backend/apps/v1/Deployment/todo/backend": deployment(&image(DIGEST_1), 1),
                "secret.app": secret()},
            "secrets": secrets("digest-a")}),
        json!({"revision": 2, "time": "2026-11-30T11:00:00Z", "who": "dev@laptop",
            "summary": "0 added, 1 changed, 0 replaced, 0 destroyed", "outcome": "succeeded",
            "git": {"commit": "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d", "branch": "main",
                "dirty": false},
            "images": {"backend": image(DIGEST_1)},
            "message": "debug logs for the login bug",
            "objects": {
                "release.backend/v1/ConfigMap/todo/backend-config": config("debug"),
                "release.backend/apps/v1/Deployment/todo/backend": deployment(&image(DIGEST_1), 1),
                "secret.app": secret()},
            "secrets": secrets("digest-a")}),
        json!({"revision": 3, "time": "2026-11-30T12:00:00Z", "who": "ci@runner",
            "summary": "1 added, 1 changed, 0 replaced, 1 destroyed", "outcome": "partial",
            "git": {"commit": "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c", "dirty": true},
            "images": {"backend": image(DIGEST_2)},
            "plan_checksum": "5d41402abc4b2a76b9719d911017c592",
            "message": "release 1.4\nrotates the JWT key",
            "objects": {
                "release.backend/apps/v1/Deployment/todo/backend": deployment(&image(DIGEST_2), 2),
                "release.backend/v1/Service/todo/backend": {"release": "backend",
                    "api_version": "v1", "kind": "Service", "namespace": "todo",
                    "name": "backend", "digest": "d-svc", "tainted": true,
                    "manifest": {"apiVersion": "v1", "kind": "Service",
                        "metadata": {"name": "backend", "namespace": "todo"},
                        "spec": {"ports": [{"port": 8000}]}}},
                "secret.app": secret()},
            "secrets": secrets("digest-b")}),
    ];
    for r in revisions {
        fs::write(
            state.join(format!(
                "history/{:06}.json",
                r["revision"].as_u64().unwrap()
            )),
            serde_json::to_string_pretty(&r).unwrap(),
        )
        .unwrap();
    }
    dir
}

#[test]
fn history_lists_each_revision_with_its_commit_and_message() {
    let dir = project();
    insta::assert_snapshot!("history_list", stdout(&todoplan(dir.path(), &["history"])));
    let json = stdout(&todoplan(dir.path(), &["history", "--format", "json"]));
    insta::assert_snapshot!("history_list_json", json);
    assert_eq!(
        stdout(&todoplan(dir.path(), &["history", "--json"])),
        json,
        "--json is --format json"
    );
}

#[test]
fn history_show_prints_one_revision_in_full() {
    let dir = project();
    insta::assert_snapshot!(
        "history_show",
        stdout(&todoplan(dir.path(), &["history", "show", "3"]))
    );
    insta::assert_snapshot!(
        "history_show_json",
        stdout(&todoplan(
            dir.path(),
            &["history", "show", "3", "--format", "json"]
        ))
    );
    // Recorded before provenance existed: loads, and says no commit was recorded.
    let old = stdout(&todoplan(dir.path(), &["history", "show", "1"]));
    assert!(old.contains("Commit:   not recorded"), "{old}");
    // Never a digest of a secret value, let alone a value.
    for out in [
        old,
        stdout(&todoplan(
            dir.path(),
            &["history", "show", "3", "--format", "json"],
        )),
    ] {
        assert!(
            !out.contains("digest-a") && !out.contains("digest-b"),
            "{out}"
        );
    }
}

#[test]
fn history_diff_shows_what_changed_between_two_revisions() {
    let dir = project();
    insta::assert_snapshot!(
        "history_diff",
        stdout(&todoplan(dir.path(), &["history", "diff", "1", "3"]))
    );
    insta::assert_snapshot!(
        "history_diff_json",
        stdout(&todoplan(
            dir.path(),
            &["history", "diff", "1", "3", "--format", "json"]
        ))
    );
    let same = stdout(&todoplan(dir.path(), &["history", "diff", "1", "2"]));
    assert!(same.contains("LOG_LEVEL"), "{same}");
    assert!(!same.contains("JWT_SECRET_KEY"), "{same}");
    // One revision alone: what it changed, against the one before.
    assert_eq!(
        stdout(&todoplan(dir.path(), &["history", "diff", "2"])),
        same
    );
}

#[test]
fn history_show_without_a_revision_shows_the_latest() {
    let dir = project();
    assert_eq!(
        stdout(&todoplan(dir.path(), &["history", "show"])),
        stdout(&todoplan(dir.path(), &["history", "show", "3"]))
    );
}

#[test]
fn a_revision_that_is_not_recorded_is_a_clear_error() {
    let dir = project();
    let out = todoplan(dir.path(), &["history", "show", "99"]);
    assert_eq!(out.status.code(), Some(1));
    let err = unwrapped(&out.stderr);
    assert!(
        err.contains("revision 99 is not in the history (revisions 1 to 3 are recorded)"),
        "{err}"
    );
    assert!(err.contains("todoplan::history::no_revision"), "{err}");
    let out = todoplan(dir.path(), &["history", "diff", "2", "7"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        unwrapped(&out.stderr).contains("revision 7 is not in the history"),
        "{}",
        unwrapped(&out.stderr)
    );
    let out = todoplan(dir.path(), &["history", "diff", "2", "2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        unwrapped(&out.stderr).contains("revision 2 is given twice"),
        "{}",
        unwrapped(&out.stderr)
    );
    let out = todoplan(dir.path(), &["history", "diff", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        unwrapped(&out.stderr).contains("revision 1 is the first recorded"),
        "{}",
        unwrapped(&out.stderr)
    );
    let empty = tempfile::tempdir().unwrap();
    fs::write(
        empty.path().join("todo.toml"),
        "[project]\nname = \"todo\"\n",
    )
    .unwrap();
    for args in [&["history", "show", "1"][..], &["history", "show"]] {
        let out = todoplan(empty.path(), args);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            unwrapped(&out.stderr).contains("nothing was applied with this state yet"),
            "{args:?}: {}",
            unwrapped(&out.stderr)
        );
    }
}

/// A state at revision 3 whose history directory is gone does not say "nothing was applied".
#[test]
fn a_missing_history_is_not_reported_as_no_revisions() {
    let dir = project();
    fs::remove_dir_all(dir.path().join("state/history")).unwrap();
    let out = stdout(&todoplan(dir.path(), &["history"]));
    assert!(
        out.contains("the state is at revision 3") && out.contains("missing or was deleted"),
        "{out}"
    );
    assert!(!out.contains("nothing was applied"), "{out}");
}
