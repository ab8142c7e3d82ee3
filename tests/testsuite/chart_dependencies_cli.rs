//! Chart.yaml `dependencies` a user can get wrong: the diagnostic `todoplan render` prints
//! (insta snapshots), exit code 1, and no hang where helm itself never finishes.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;

/// A parent chart with one subchart `child` (settings table) and the given dependency entry.
fn chart_in(dir: &Path, dependency: &str) {
    std::fs::create_dir_all(dir.join("chart/templates")).unwrap();
    std::fs::create_dir_all(dir.join("chart/charts/child/templates")).unwrap();
    std::fs::write(
        dir.join("chart/Chart.yaml"),
        format!("apiVersion: v2\nname: demo\nversion: 0.1.0\ndependencies:\n{dependency}"),
    )
    .unwrap();
    std::fs::write(
        dir.join("chart/templates/cm.yaml"),
        "kind: ConfigMap\napiVersion: v1\nmetadata:\n  name: x\ndata:\n  v: {{ toJson .Values | quote }}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("chart/charts/child/Chart.yaml"),
        "apiVersion: v2\nname: child\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("chart/charts/child/values.yaml"),
        "settings:\n  color: blue\n",
    )
    .unwrap();
}

fn render(dir: &Path) -> std::process::Output {
    Command::cargo_bin("todoplan")
        .unwrap()
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(["render", "--chart", "chart", "--release-name", "r"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap()
}

fn failure(dependency: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    chart_in(tmp.path(), dependency);
    let out = render(tmp.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty());
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// helm v3.17.3 panics ("interface conversion") on a map entry without a string `parent`.
#[test]
fn an_import_values_map_without_parent_points_at_chart_yaml() {
    let err = failure(
        "  - name: child\n    version: 0.1.0\n    import-values:\n      - child: settings\n",
    );
    insta::assert_snapshot!(err);
}

/// helm v3.17.3 never finishes: the second import puts the table inside itself.
#[test]
fn an_import_that_nests_a_table_in_itself_is_refused_not_a_hang() {
    let err = failure(
        "  - name: child\n    version: 0.1.0\n    import-values:\n      - child: settings\n        parent: p\n      - child: settings\n        parent: p.self\n",
    );
    insta::assert_snapshot!(err);
}

/// The string form reads the child's `exports`; a name missing there is skipped, as helm does.
#[test]
fn an_import_naming_nothing_is_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    chart_in(
        tmp.path(),
        "  - name: child\n    version: 0.1.0\n    import-values:\n      - nothing\n      - child: settings\n        parent: got\n",
    );
    let out = render(tmp.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r#"\"got\":{\"color\":\"blue\"}"#), "{text}");
}
