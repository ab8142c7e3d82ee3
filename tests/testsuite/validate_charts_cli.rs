//! `todoplan validate` renders every release's chart without a cluster: a broken template or a
//! broken Chart.yaml fails it with a diagnostic at the file and line (insta snapshots).

use std::path::Path;

use assert_cmd::Command;

fn project(dir: &Path, template: &str, chart_yaml: &str) {
    std::fs::create_dir_all(dir.join("charts/web/templates")).unwrap();
    std::fs::create_dir_all(dir.join("charts/web/charts/child")).unwrap();
    std::fs::write(dir.join("charts/web/Chart.yaml"), chart_yaml).unwrap();
    std::fs::write(dir.join("charts/web/templates/cm.yaml"), template).unwrap();
    std::fs::write(
        dir.join("charts/web/charts/child/Chart.yaml"),
        "apiVersion: v2\nname: child\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("todo.toml"),
        "[project]\nname = \"vt\"\n\n[releases.web]\nchart = \"charts/web\"\n\n\
         [releases.web.values]\ngreeting = \"hi\"\n",
    )
    .unwrap();
}

const CHART: &str = "apiVersion: v2\nname: web\nversion: 0.1.0\n";
const GOOD: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n";

fn validate(dir: &Path) -> std::process::Output {
    Command::cargo_bin("todoplan")
        .unwrap()
        .current_dir(dir)
        .env("NO_COLOR", "1")
        // no cluster may be needed: point at a kubeconfig that does not exist
        .env("KUBECONFIG", dir.join("no-such-kubeconfig"))
        .args(["validate"])
        .output()
        .unwrap()
}

#[test]
fn a_valid_chart_validates_without_a_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    project(tmp.path(), GOOD, CHART);
    let out = validate(tmp.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_broken_template_fails_validate_at_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let broken = GOOD.replace(
        "  greeting:",
        "  oops: {{ .Values.missing.deeper }}\n  greeting:",
    );
    project(tmp.path(), &broken, CHART);
    let out = validate(tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("web/templates/cm.yaml:6:"), "{err}");
    insta::assert_snapshot!(err);
}

#[test]
fn a_broken_dependency_declaration_fails_validate_at_chart_yaml() {
    let tmp = tempfile::tempdir().unwrap();
    let chart = format!(
        "{CHART}dependencies:\n  - name: child\n    version: 0.1.0\n    import-values:\n      - parent: x\n"
    );
    project(tmp.path(), GOOD, &chart);
    let out = validate(tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).replace(
        &format!("{}/", tmp.path().canonicalize().unwrap().display()),
        "<project>/",
    );
    insta::assert_snapshot!(err.replace(&format!("{}/", tmp.path().display()), "<project>/"));
}

fn validate_toml(release: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    project(tmp.path(), GOOD, CHART);
    std::fs::write(
        tmp.path().join("todo.toml"),
        format!("[project]\nname = \"vt\"\n\n[releases.web]\n{release}\n"),
    )
    .unwrap();
    let out = Command::cargo_bin("todoplan")
        .unwrap()
        .current_dir(tmp.path())
        .env("NO_COLOR", "1")
        .env("TODOPLAN_CACHE_DIR", tmp.path().join("cache"))
        .args(["validate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !tmp.path().join("charts.lock").exists(),
        "a failed resolution must not write the lock"
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn remote_chart_mistakes_point_at_todo_toml() {
    insta::assert_snapshot!(
        "bad_oci_reference",
        validate_toml("chart = \"oci://Registry/../web\"\nversion = \"^1\"")
    );
    insta::assert_snapshot!(
        "version_on_a_local_chart",
        validate_toml("chart = \"charts/web\"\nversion = \"^1\"")
    );
    // Checked before any network: the address here is never contacted.
    let bad_range =
        validate_toml("chart = \"oci://127.0.0.1:9/charts/web\"\nversion = \"not a range\"");
    assert!(
        bad_range.contains("\"not a range\" is not a version constraint"),
        "{bad_range}"
    );
    // Port 9 on loopback (discard) is closed here: the repository cannot be reached.
    let unreachable =
        validate_toml("chart = \"web\"\nrepository = \"http://127.0.0.1:9\"\nversion = \"^1\"");
    assert!(
        unreachable.contains("cannot reach http://127.0.0.1:9/index.yaml"),
        "{unreachable}"
    );
}

#[test]
fn of_two_releases_sharing_a_chart_the_error_names_the_one_that_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let fails_when_asked = GOOD.replace(
        "  greeting:",
        "  oops: {{ if .Values.broken }}{{ fail \"broken is set\" }}{{ end }}x\n  greeting:",
    );
    project(tmp.path(), &fails_when_asked, CHART);
    let mut spec = std::fs::read_to_string(tmp.path().join("todo.toml")).unwrap();
    spec.push_str("\n[releases.second]\nchart = \"charts/web\"\nvalues = { broken = true }\n");
    std::fs::write(tmp.path().join("todo.toml"), spec).unwrap();
    let out = validate(tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).replace('\n', " ");
    assert!(err.contains("release.second: execution error"), "{err}");
    assert!(err.contains("broken is set"), "{err}");
}
