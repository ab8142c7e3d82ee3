//! `todoplan validate` and `todoplan graph` as a user runs them.

use std::path::{Path, PathBuf};

use crate::support;

use predicates::prelude::*;
use support::todoplan_cli as todoplan;

fn spec(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/specs")
        .join(rel)
}

#[test]
fn validate_accepts_a_valid_spec_and_checks_every_overlay() {
    todoplan()
        .args(["validate", "--file"])
        .arg(spec("valid/full.toml"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "is valid: project todo, 2 images, 2 secret sets (5 keys), 4 releases",
        ))
        .stdout(predicate::str::contains("overlays checked: prod, dev"));
}

#[test]
fn validate_rejects_a_broken_spec_with_a_source_snippet() {
    todoplan()
        .args(["validate", "--file"])
        .arg(spec("broken/18-unknown-image-reference-did-you-mean.toml"))
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(
            "refers to image `wbe`, which is not defined",
        ))
        .stderr(predicate::str::contains(
            r#"values = { image.ref = "${images.wbe.ref}" }"#,
        ))
        .stderr(predicate::str::contains("did you mean `web`?"));
}

#[test]
fn validate_reports_an_unknown_env() {
    todoplan()
        .args(["validate", "--env", "staging", "--file"])
        .arg(spec("valid/full.toml"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "there is no environment `staging`",
        ))
        .stderr(predicate::str::contains(
            "defined environments: `prod`, `dev`",
        ));
}

#[test]
fn validate_names_a_missing_file() {
    todoplan()
        .args(["validate", "--file", "/nonexistent/todo.toml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "cannot read /nonexistent/todo.toml",
        ));
}

#[test]
fn graph_prints_a_text_tree_by_default_and_dot_on_request() {
    todoplan()
        .args(["graph", "--file"])
        .arg(spec("valid/full.toml"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "release.web\n├── namespace.web  (namespace)",
        ))
        .stdout(predicate::str::contains("└── release.api  (depends_on)"));
    todoplan()
        .args(["graph", "--format", "dot", "--file"])
        .arg(spec("valid/full.toml"))
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("digraph todoplan {"))
        .stdout(predicate::str::contains(
            r#""release.db" -> "release.api" [label="${releases.db.name}"];"#,
        ));
}

#[test]
fn graph_refuses_a_cycle() {
    todoplan()
        .args(["graph", "--file"])
        .arg(spec("broken/29-cycle-through-references.toml"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "dependency cycle: release.web → release.api → release.web",
        ));
}

#[test]
fn help_shows_examples() {
    todoplan()
        .args(["graph", "--help"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "todoplan graph --format dot | dot -Tsvg",
        ));
}

#[test]
fn a_literal_secret_is_not_echoed_back() {
    todoplan()
        .args(["validate", "--file"])
        .arg(spec("broken/39-literal-secret-value.toml"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "secret value `JWT_SECRET_KEY` is written in the file",
        ))
        .stderr(predicate::str::contains(
            r#"JWT_SECRET_KEY = "******************""#,
        ))
        .stderr(predicate::str::contains("hunter2").not());
}

#[test]
fn an_error_past_column_65535_is_a_short_diagnostic_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let long = "a".repeat(70_000);
    std::fs::write(
        dir.path().join("todo.toml"),
        format!(
            "[project]\nname = \"todo\"\n[cluster]\nnamespace = \"todo\"\n[variables.x]\ndefault = \"{long}\" bogus = 1\n"
        ),
    )
    .unwrap();
    let out = todoplan()
        .args(["validate", "--file"])
        .arg(dir.path().join("todo.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "exit 1, not a panic (101)");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.len() < 4096, "no 70 KB excerpt: {} bytes", text.len());
    assert!(text.contains("todo.toml:6:"), "names the line: {text}");
}

#[test]
fn completions_and_the_man_page_are_generated_from_every_verb() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef todoplan"),
        ("fish", "complete -c todoplan"),
    ] {
        let out = todoplan().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(marker), "{shell}: {text}");
        for verb in ["plan", "apply", "destroy", "rollback", "drift"] {
            assert!(text.contains(verb), "{shell} completes {verb}");
        }
    }
    let out = todoplan().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH todoplan"),
        "{page}"
    );
    assert!(page.contains("apply"), "{page}");
    let out = todoplan().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(64),
        "an unknown shell is a usage error"
    );
}

/// `todoplan rbac` for the repo's own todo.toml, offline: the ClusterRoles a CI job applies
/// (golden), and a bad `--service-account` as a diagnostic.
#[test]
fn rbac_prints_the_roles_for_the_repos_spec() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(repo.join("todo.toml"), dir.path().join("todo.toml")).unwrap();
    for sub in ["charts", "app"] {
        let out = std::process::Command::new("cp")
            .arg("-r")
            .arg(repo.join(sub))
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    for mode in ["plan", "apply"] {
        let out = todoplan()
            .current_dir(dir.path())
            .env("TODO_OPENAI_API_KEY", "not-read-by-rbac")
            .args([
                "rbac",
                &format!("--{mode}"),
                "--service-account",
                "ci/todoplan",
            ])
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{printed}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        insta::assert_snapshot!(format!("rbac_{mode}"), printed);
    }
    todoplan()
        .current_dir(dir.path())
        .args(["rbac", "--plan", "--service-account", "todoplan"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "`todoplan` is not a ServiceAccount",
        ));
    todoplan()
        .current_dir(dir.path())
        .arg("rbac")
        .assert()
        .code(64)
        .stderr(predicate::str::contains("--plan"));
}

/// A FIFO or a device given as todo.toml, a plan file or a secret's `file =` is refused at once
/// (it hung, or read /dev/zero until memory ran out), naming the file.
#[test]
fn a_fifo_or_a_device_is_refused_at_once_wherever_a_file_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("pipe");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads a valid NUL-terminated path and touches no Rust memory.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    // Its diagnostic on one line (miette wraps it).
    let refused = |args: &[&std::ffi::OsStr], dir: &Path| -> String {
        let out = todoplan()
            .timeout(std::time::Duration::from_secs(20))
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        support::one_line(&String::from_utf8_lossy(&out.stderr))
    };
    for path in [fifo.as_path(), Path::new("/dev/zero")] {
        let said = refused(
            &["validate".as_ref(), "--file".as_ref(), path.as_os_str()],
            tmp.path(),
        );
        assert!(
            said.contains("not a regular file")
                && said.contains("a regular file of at most 16 MiB"),
            "{said}"
        );
    }
    // A saved plan read from a device.
    let said = refused(&["apply".as_ref(), "/dev/zero".as_ref()], tmp.path());
    assert!(said.contains("not a regular file"), "{said}");
    // A secret's file source that is a FIFO.
    std::fs::write(
        tmp.path().join("todo.toml"),
        "[project]\nname = \"todo\"\n[cluster]\nnamespace = \"todo\"\n[secrets.app.keys]\nTOKEN = { file = \"pipe\" }\n",
    )
    .unwrap();
    let said = refused(&["plan".as_ref(), "--offline".as_ref()], tmp.path());
    assert!(
        said.contains("cannot read file") && said.contains("not a regular file"),
        "{said}"
    );
}
