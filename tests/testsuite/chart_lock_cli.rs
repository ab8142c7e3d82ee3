//! charts.lock from the command line, without a network: entries whose packages are already in
//! the cache are used offline, and sources on a closed port (127.0.0.1:9) are never resolved by
//! these tests unless a failure is what they expect. Pruning keeps every entry some environment
//! uses; `--locked` refuses any run that would change the file.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A local chart, so a project has a release with no remote chart.
fn local_chart(dir: &Path) {
    std::fs::create_dir_all(dir.join("charts/web/templates")).unwrap();
    std::fs::write(
        dir.join("charts/web/Chart.yaml"),
        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("charts/web/templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
    )
    .unwrap();
}

fn entry(source: &str, constraint: &str, version: &str, digest: &str) -> String {
    format!(
        "\n[[chart]]\nsource = \"{source}\"\nconstraint = \"{constraint}\"\nversion = \"{version}\"\ndigest = \"{digest}\"\n"
    )
}

fn zero_digest() -> String {
    format!("sha256:{}", "0".repeat(64))
}

fn lock_text(entries: &[String]) -> String {
    format!(
        "# charts.lock: the exact chart versions and package digests todoplan resolved for the\n\
         # remote charts of todo.toml. Written by todoplan; commit it and review its changes.\n\
         version = 1\n{}",
        entries.concat()
    )
}

fn todoplan(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("todoplan")
        .unwrap()
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("TODOPLAN_CACHE_DIR", dir.join("cache"))
        .env("KUBECONFIG", dir.join("no-such-kubeconfig"))
        .env_remove("TODOPLAN_ENV")
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "todoplan failed:\n{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    stderr(out)
}

/// The base and `dev` use only a local chart; `prod` uses two remote charts, one whose range a
/// variable chooses (`TODOPLAN_VAR_demo_range` may set it at run time, so every range of that
/// source is kept); a release switched off everywhere still names one.
const ENVS: &str = r#"[project]
name = "lk"

[variables.demo_range]
default = "^9"

[releases.web]
chart = "charts/web"

[releases.later]
chart = "oci://127.0.0.1:9/charts/later"
version = "~2.1"
enabled = false

[env.dev.releases.web.values]
greeting = "dev"

[env.prod.variables.demo_range]
default = "^1"

[env.prod.releases.web]
chart = "oci://127.0.0.1:9/charts/demo"
version = "${var.demo_range}"

[env.prod.releases.db]
chart = "oci://127.0.0.1:9/charts/db"
version = "^2"
"#;

fn envs_project() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    local_chart(&dir);
    std::fs::write(dir.join("todo.toml"), ENVS).unwrap();
    let lock = lock_text(&[
        entry("oci://127.0.0.1:9/charts/db", "^1", "1.0.0", &zero_digest()),
        entry("oci://127.0.0.1:9/charts/db", "^2", "2.0.0", &zero_digest()),
        entry(
            "oci://127.0.0.1:9/charts/demo",
            "^1",
            "1.0.0",
            &zero_digest(),
        ),
        entry(
            "oci://127.0.0.1:9/charts/demo",
            "^9",
            "9.0.0",
            &zero_digest(),
        ),
        entry(
            "oci://127.0.0.1:9/charts/gone",
            "^1",
            "1.0.0",
            &zero_digest(),
        ),
        entry(
            "oci://127.0.0.1:9/charts/later",
            "~2.1",
            "2.1.0",
            &zero_digest(),
        ),
    ]);
    std::fs::write(dir.join("charts.lock"), lock).unwrap();
    (tmp, dir)
}

/// `SOURCE CONSTRAINT` of every entry of charts.lock, in file order.
fn entries_in(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("charts.lock")).unwrap();
    let field = |l: &str, k: &str| l.strip_prefix(k).map(|v| v.trim_matches('"').to_string());
    let sources = text.lines().filter_map(|l| field(l, "source = "));
    let constraints = text.lines().filter_map(|l| field(l, "constraint = "));
    sources
        .zip(constraints)
        .map(|(s, c)| format!("{s} {c}"))
        .collect()
}

#[test]
fn pruning_keeps_what_any_environment_uses_and_drops_what_none_does() {
    for args in [
        &["validate", "--env", "dev"][..],
        &["render"][..],
        &["render", "--env", "dev"][..],
        &["plan", "--offline", "--env", "dev"][..],
        &["plan", "--offline"][..],
    ] {
        let (_tmp, dir) = envs_project();
        let err = ok(&todoplan(&dir, args));
        assert_eq!(
            entries_in(&dir),
            [
                "oci://127.0.0.1:9/charts/db ^2",
                "oci://127.0.0.1:9/charts/demo ^1",
                "oci://127.0.0.1:9/charts/demo ^9",
                "oci://127.0.0.1:9/charts/later ~2.1",
            ],
            "{args:?}: {err}"
        );
        for gone in ["db \"^1\"", "gone \"^1\""] {
            assert!(
                err.contains(&format!(
                    "charts.lock: removed oci://127.0.0.1:9/charts/{gone}: no release uses it \
                     in the base or any [env.NAME] of todo.toml"
                )),
                "{args:?}: {err}"
            );
        }
        // Once pruned, nothing more changes and nothing is said.
        let err = ok(&todoplan(&dir, args));
        assert!(!err.contains("charts.lock"), "{args:?}: {err}");
    }
}

#[test]
fn a_project_without_remote_charts_writes_no_lock() {
    let tmp = tempfile::tempdir().unwrap();
    local_chart(tmp.path());
    std::fs::write(
        tmp.path().join("todo.toml"),
        "[project]\nname = \"lk\"\n\n[releases.web]\nchart = \"charts/web\"\n",
    )
    .unwrap();
    let err = ok(&todoplan(tmp.path(), &["validate"]));
    assert!(!err.contains("charts.lock"), "{err}");
    assert!(!tmp.path().join("charts.lock").exists());
}

/// A packaged chart `demo` put in the cache under its digest, as a resolution leaves it.
fn cached_demo(dir: &Path) -> String {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, body) in [
        (
            "demo/Chart.yaml",
            "apiVersion: v2\nname: demo\nversion: 1.0.0\n",
        ),
        (
            "demo/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-demo\n",
        ),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, path, body.as_bytes()).unwrap();
    }
    let bytes = tar.into_inner().unwrap().finish().unwrap();
    let hex = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let charts = dir.join("cache/charts");
    std::fs::create_dir_all(&charts).unwrap();
    std::fs::write(charts.join(format!("sha256-{hex}.tgz")), bytes).unwrap();
    format!("sha256:{hex}")
}

/// One release `web` from `oci://127.0.0.1:9/charts/demo` at `range`, locked at `^1` with its
/// package in the cache.
fn locked_project(range: &str) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let digest = cached_demo(tmp.path());
    std::fs::write(
        tmp.path().join("todo.toml"),
        format!(
            "[project]\nname = \"lk\"\n\n[releases.web]\nchart = \"oci://127.0.0.1:9/charts/demo\"\nversion = \"{range}\"\n"
        ),
    )
    .unwrap();
    let lock = lock_text(&[entry(
        "oci://127.0.0.1:9/charts/demo",
        "^1",
        "1.0.0",
        &digest,
    )]);
    std::fs::write(tmp.path().join("charts.lock"), &lock).unwrap();
    (tmp, lock)
}

fn refused(out: &std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected a refusal:\n{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    stderr(out)
}

#[test]
fn locked_runs_use_a_complete_lock_offline() {
    let (tmp, lock) = locked_project("^1");
    for args in [
        &["render", "--locked"][..],
        &["validate", "--locked"][..],
        &["plan", "--offline", "--locked"][..],
    ] {
        let out = todoplan(tmp.path(), args);
        let err = ok(&out);
        assert!(!err.contains("charts.lock"), "{args:?}: {err}");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("charts.lock")).unwrap(),
            lock
        );
    }
    let out = todoplan(tmp.path(), &["render", "--locked"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("name: web-demo"));
}

#[test]
fn locked_refuses_a_range_the_lock_lacks_naming_the_release_and_source() {
    let (tmp, lock) = locked_project("^2");
    for args in [
        &["validate", "--locked"][..],
        &["render", "--locked"][..],
        &["plan", "--offline", "--locked"][..],
        &["apply", "--locked", "--auto-approve"][..],
    ] {
        let err = refused(&todoplan(tmp.path(), args));
        let flat = err.replace(' ', "");
        assert!(
            flat.contains("release`web`")
                && flat.contains("oci://127.0.0.1:9/charts/demo\"^2\"isnotincharts.lock")
                && flat.contains("--locked"),
            "{args:?}: {err}"
        );
        // Refused before any network: the closed port is never reported.
        assert!(!err.contains("cannot reach"), "{args:?}: {err}");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("charts.lock")).unwrap(),
            lock
        );
    }
    // The same from the environment, as CI sets it.
    let out = Command::cargo_bin("todoplan")
        .unwrap()
        .current_dir(tmp.path())
        .env("NO_COLOR", "1")
        .env("TODOPLAN_CACHE_DIR", tmp.path().join("cache"))
        .env("TODOPLAN_LOCKED", "1")
        .args(["validate"])
        .output()
        .unwrap();
    assert!(refused(&out).contains("--locked"));
}

#[test]
fn locked_refuses_a_missing_lock_and_writes_none() {
    let (tmp, _) = locked_project("^1");
    std::fs::remove_file(tmp.path().join("charts.lock")).unwrap();
    let err = refused(&todoplan(tmp.path(), &["validate", "--locked"]));
    assert!(
        err.contains("release `web`") && err.contains("--locked"),
        "{err}"
    );
    assert!(!tmp.path().join("charts.lock").exists());
}

#[test]
fn locked_refuses_entries_to_prune_and_leaves_the_lock_as_it_is() {
    let (_tmp, dir) = envs_project();
    let before = std::fs::read_to_string(dir.join("charts.lock")).unwrap();
    let err = refused(&todoplan(&dir, &["validate", "--env", "dev", "--locked"]));
    // miette may wrap inside a long source: compare without spaces.
    let flat = err.replace(' ', "");
    assert!(
        flat.contains("oci://127.0.0.1:9/charts/gone\"^1\"")
            && flat.contains("oci://127.0.0.1:9/charts/db\"^1\"")
            && err.contains("--locked")
            && !err.contains("charts/demo"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("charts.lock")).unwrap(),
        before
    );
}
