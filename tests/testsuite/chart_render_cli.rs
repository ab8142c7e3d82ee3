//! `todoplan render --chart`: output shape, install order, values flags, errors and exit codes.

use assert_cmd::Command;

fn todoplan() -> Command {
    let mut c = Command::cargo_bin("todoplan").unwrap();
    c.env("NO_COLOR", "1");
    c
}

fn chart(name: &str) -> String {
    format!("{}/tests/charts/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn prints_documents_in_install_order_with_sources() {
    let out = todoplan()
        .args([
            "render",
            "--chart",
            &chart("webapp"),
            "--release-name",
            "todo",
        ])
        .args(["--set", "autoscaling.enabled=true,config.EXTRA=x"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("---\n# Source: webapp/templates/"),
        "{text}"
    );
    let kinds: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("kind: "))
        .collect();
    assert_eq!(
        kinds,
        vec![
            "Secret",
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler"
        ]
    );
    assert!(
        text.contains("  EXTRA: \"x\""),
        "--set reaches the values: {text}"
    );
    assert!(
        !text.contains("replicas:"),
        "autoscaling drops replicas: {text}"
    );
    assert!(text.contains("name: todo-webapp"), "{text}");
}

#[test]
fn values_files_apply_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("a.yaml");
    let second = dir.path().join("b.yaml");
    std::fs::write(&first, "config:\n  LOG_LEVEL: first\n  ONLY_A: a\n").unwrap();
    std::fs::write(&second, "config:\n  LOG_LEVEL: second\n").unwrap();
    let out = todoplan()
        .args(["render", "--chart", &chart("webapp")])
        .arg("--values")
        .arg(&first)
        .arg("--values")
        .arg(&second)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("LOG_LEVEL: \"second\""), "{text}");
    assert!(text.contains("ONLY_A: \"a\""), "{text}");
}

#[test]
fn required_value_missing_exits_1_naming_file_line_and_message() {
    let out = todoplan()
        .args(["render", "--chart", &chart("required-missing")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("execution error at (required-missing/templates/deploy.yaml:6:10)"),
        "{err}"
    );
    assert!(err.contains("database.url is required"), "{err}");
}

#[test]
fn bad_set_syntax_and_missing_chart_are_diagnosed() {
    let out = todoplan()
        .args(["render", "--chart", &chart("webapp"), "--set", "novalue"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --set value \"novalue\""));

    // Without --chart, render reads the releases of todo.toml: none here.
    let empty = tempfile::tempdir().unwrap();
    let out = todoplan()
        .args(["render"])
        .current_dir(empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read todo.toml"));

    let out = todoplan()
        .args(["render", "--chart", "/nonexistent/chart"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Chart.yaml file is missing"));
}

/// A release's `crds/` file is not templated: one that is not YAML (or not a mapping) is a
/// diagnostic naming the file and saying so, and an object whose name YAML reads as a boolean
/// (`name: y`) is refused as that, not as a missing name.
#[test]
fn a_releases_crd_file_and_object_names_are_checked_with_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(
        root.join("todo.toml"),
        "[project]\nname = \"crdcheck\"\n[cluster]\nnamespace = \"crdcheck\"\n[state]\nbackend = \"local\"\ndir = \"state\"\n[releases.app]\nchart = \"app\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("app/crds")).unwrap();
    std::fs::create_dir_all(root.join("app/templates")).unwrap();
    std::fs::write(
        root.join("app/Chart.yaml"),
        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        root.join("app/templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = todoplan().current_dir(root).args(args).output().unwrap();
        (
            out.status.code(),
            crate::support::one_line(&format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )),
        )
    };
    for (text, says) in [
        (
            "metadata:\n  labels: [a\n",
            "did not find expected ',' or ']'",
        ),
        ("- a\n- b\n", "a document is not a mapping"),
    ] {
        std::fs::write(root.join("app/crds/bad.yaml"), text).unwrap();
        for args in [&["render", "app"][..], &["plan", "--offline"][..]] {
            let (code, said) = run(args);
            assert_eq!(code, Some(1), "{args:?}: {said}");
            assert!(
                said.contains("app/crds/bad.yaml is not a Kubernetes object")
                    && said.contains(says)
                    && said.contains("never templated"),
                "{args:?}: {said}"
            );
        }
    }
    std::fs::remove_file(root.join("app/crds/bad.yaml")).unwrap();
    std::fs::write(
        root.join("app/crds/named-y.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n",
    )
    .unwrap();
    let (code, said) = run(&["plan", "--offline"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("metadata.name true, which is not a string") && said.contains("quote it"),
        "{said}"
    );
    assert!(!root.join("state").join("todo.tfstate").exists());
}
