//! `todoplan validate` runs the offline checks: the seeds' missing Secret key fails it, an
//! ignore entry with a reason silences it, and a bad ignore entry points at itself.

use std::path::{Path, PathBuf};

use crate::support;

use predicates::prelude::*;
use support::todoplan_cli as todoplan;

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/checks")
        .join(name)
}

/// A copy of a broken stack with `extra` appended to its todo.toml.
fn with_extra(name: &str, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = case(name);
    for entry in std::fs::read_dir(&from).unwrap().flatten() {
        let target = dir.path().join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            for inner in std::fs::read_dir(entry.path()).unwrap().flatten() {
                std::fs::copy(inner.path(), target.join(inner.file_name())).unwrap();
            }
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    let spec = dir.path().join("todo.toml");
    let text = std::fs::read_to_string(&spec).unwrap() + extra;
    std::fs::write(spec, text).unwrap();
    dir
}

#[test]
fn validate_fails_on_the_seeds_missing_secret_key_and_says_where_to_add_it() {
    todoplan()
        .args(["validate", "--file"])
        .arg(case("ref-secret-key/todo.toml"))
        .assert()
        .code(3)
        .stdout(predicate::str::contains("has errors"))
        .stdout(predicate::str::contains(
            "error [ref.secret-key] release.app/apps/v1/Deployment/demo/api spec.template.spec.containers[0].env[1].valueFrom.secretKeyRef.key: Secret `demo-app` (from [secrets.app.keys] in todo.toml) has no key `JWT_SECRET_KEY`; its keys: POSTGRES_PASSWORD (todo.toml:8)",
        ));
}

#[test]
fn validate_passes_with_warnings_listed() {
    todoplan()
        .args(["validate", "--file"])
        .arg(case("value-credential/todo.toml"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("is valid"))
        .stdout(predicate::str::contains("warning [value.credential]"))
        .stdout(predicate::str::contains("gsk_live").not());
}

#[test]
fn an_ignore_entry_with_a_reason_silences_the_finding() {
    let dir = with_extra(
        "ref-secret-key",
        "\n[checks]\nignore = [{ finding = \"ref.secret-key:release.app/apps/v1/Deployment/demo/api\", reason = \"the key is added by hand in this demo\" }]\n",
    );
    todoplan()
        .args(["validate", "--file"])
        .arg(dir.path().join("todo.toml"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("ref.secret-key").not());
}

#[test]
fn a_bad_ignore_entry_points_at_itself() {
    let dir = with_extra(
        "ref-secret-key",
        "\n[checks]\nignore = [\"ref.secret-kye:release.app/*\"]\n",
    );
    todoplan()
        .args(["validate", "--file"])
        .arg(dir.path().join("todo.toml"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "`ref.secret-kye` is not a check id (did you mean `ref.secret-key`?)",
        ))
        .stderr(predicate::str::contains(
            r#"ignore = ["ref.secret-kye:release.app/*"]"#,
        ))
        .stderr(predicate::str::contains("not a check to ignore"));
}
