//! Whole-chart rendering through the library API, on charts written to a temp directory.

use std::path::{Path, PathBuf};

use super::*;

fn write(root: &Path, files: &[(&str, &str)]) {
    for (p, text) in files {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn request<'a>(
    dir: &'a Path,
    files: &'a [PathBuf],
    inline: serde_json::Value,
) -> RenderRequest<'a> {
    RenderRequest {
        chart_dir: dir,
        release_name: "rel",
        namespace: "ns",
        values_files: files,
        inline_values: inline,
        revision: 3,
        is_upgrade: true,
        capabilities: Capabilities {
            kube_version: "v1.33.4".into(),
            api_versions: vec!["apps/v1".into()],
        },
        lookup: None,
    }
}

const CHART: &[(&str, &str)] = &[
    ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.1.0\n"),
    ("values.yaml", "a: chart\nb: chart\nc: chart\nd: chart\n"),
    (
        "templates/cm.yaml",
        "kind: ConfigMap\napiVersion: v1\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  a: {{ .Values.a }}\n  b: {{ .Values.b }}\n  c: {{ .Values.c }}\n  d: {{ .Values.d }}\n  rev: \"{{ .Release.Revision }}\"\n  upg: \"{{ .Release.IsUpgrade }}\"\n  kube: {{ .Capabilities.KubeVersion.Minor | quote }}\n",
    ),
    ("templates/NOTES.txt", "notes for {{ .Release.Name }}"),
];

#[test]
fn values_precedence_chart_files_set_inline() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), CHART);
    write(
        tmp.path(),
        &[
            ("f1.yaml", "b: file1\nc: file1\nd: file1\n"),
            ("f2.yaml", "c: file2\nd: file2\n"),
        ],
    );
    let files = vec![tmp.path().join("f1.yaml"), tmp.path().join("f2.yaml")];
    let req = request(tmp.path(), &files, serde_json::json!({"d": "inline"}));
    let opts = RenderOptions {
        set: vec!["c=set,d=set".into()],
        ..RenderOptions::default()
    };
    let r = render_with(&req, &opts).unwrap();
    let data = &r.manifests[0].object["data"];
    assert_eq!(data["a"], "chart");
    assert_eq!(data["b"], "file1");
    assert_eq!(data["c"], "set");
    assert_eq!(data["d"], "inline");
    assert_eq!(data["rev"], "3");
    assert_eq!(data["upg"], "true");
    assert_eq!(data["kube"], "33");
    assert_eq!(r.notes.as_deref(), Some("notes for rel"));
    assert_eq!(r.manifests[0].source, "app/templates/cm.yaml");
}

#[test]
fn schema_violations_name_value_paths() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), CHART);
    write(
        tmp.path(),
        &[(
            "values.schema.json",
            r#"{"type":"object","properties":{"a":{"type":"string","enum":["chart","ok"]}}}"#,
        )],
    );
    let req = request(tmp.path(), &[], serde_json::json!({"a": "bad"}));
    let e = render(&req).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ChartError::Schema { .. }), "{msg}");
    assert!(msg.contains("app: a:"), "{msg}");
}

#[test]
fn template_errors_carry_file_and_span() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), CHART);
    write(
        tmp.path(),
        &[("templates/bad.yaml", "x: 1\ny: {{ .Values.nope.deeper }}\n")],
    );
    let e = render(&request(tmp.path(), &[], serde_json::Value::Null)).unwrap_err();
    match &e {
        ChartError::Template { message, span, .. } => {
            assert!(message.contains("app/templates/bad.yaml:2:"), "{message}");
            assert!(
                message.contains("nil pointer evaluating interface {}.deeper"),
                "{message}"
            );
            // "x: 1\n" + "y: " + "{{ " puts `.Values` at byte 11: the snippet underlines the
            // whole chain, while the message names `.nope`'s position (2:13), as Go does
            assert_eq!(span.offset(), 11);
            assert!(message.contains("bad.yaml:2:13:"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn inline_values_must_be_a_table() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), CHART);
    let e = render(&request(tmp.path(), &[], serde_json::json!([1]))).unwrap_err();
    assert!(
        e.to_string().contains("inline values must be a table"),
        "{e}"
    );
}

#[test]
fn missing_dependency_and_library_chart_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), CHART);
    write(
        tmp.path(),
        &[(
            "Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: db\n  version: 1.0.0\n",
        )],
    );
    let e = render(&request(tmp.path(), &[], serde_json::Value::Null)).unwrap_err();
    assert!(
        // helm's words (action.CheckDependencies)
        e.to_string()
            .contains("found in Chart.yaml, but missing in charts/ directory: db"),
        "{e}"
    );
    write(
        tmp.path(),
        &[(
            "Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 0.1.0\ntype: library\n",
        )],
    );
    let e = render(&request(tmp.path(), &[], serde_json::Value::Null)).unwrap_err();
    assert!(
        e.to_string().contains("library charts are not installable"),
        "{e}"
    );
}

#[test]
fn lookup_uses_the_given_cluster_view() {
    struct OneSecret;
    impl Lookup for OneSecret {
        fn lookup(
            &self,
            api: &str,
            kind: &str,
            ns: &str,
            name: &str,
        ) -> Result<serde_json::Value, String> {
            if (api, kind, ns, name) == ("v1", "Secret", "ns", "s") {
                Ok(serde_json::json!({"data": {"k": "djE="}}))
            } else {
                Ok(serde_json::Value::Null)
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), CHART);
    write(
        tmp.path(),
        &[(
            "templates/cm.yaml",
            "kind: ConfigMap\napiVersion: v1\nmetadata:\n  name: x\ndata:\n  found: {{ (lookup \"v1\" \"Secret\" .Release.Namespace \"s\").data.k }}\n  none: {{ lookup \"v1\" \"Secret\" \"ns\" \"other\" | len | quote }}\n",
        )],
    );
    let mut req = request(tmp.path(), &[], serde_json::Value::Null);
    req.lookup = Some(Arc::new(OneSecret));
    let r = render(&req).unwrap();
    assert_eq!(r.manifests[0].object["data"]["found"], "djE=");
    assert_eq!(r.manifests[0].object["data"]["none"], "0");
}

#[test]
fn manifest_directories_render_sorted() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        &[
            (
                "b.yaml",
                "kind: Deployment\napiVersion: apps/v1\nmetadata: {name: d}\n",
            ),
            (
                "a/ns.yml",
                "kind: Namespace\napiVersion: v1\nmetadata: {name: n}\n---\n",
            ),
            ("notes.txt", "not a manifest"),
        ],
    );
    let ms = render_manifest_dir(tmp.path()).unwrap();
    let kinds: Vec<&str> = ms.iter().map(|m| m.kind()).collect();
    assert_eq!(kinds, vec!["Namespace", "Deployment"]);
    assert_eq!(ms[0].source, "a/ns.yml");
    let empty = tempfile::tempdir().unwrap();
    assert!(render_manifest_dir(empty.path()).is_err());
}

// ------------------------------------------------------------------ untrusted charts

const SMALL: &[(&str, &str)] = &[
    ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.1.0\n"),
    (
        "templates/cm.yaml",
        "kind: ConfigMap\napiVersion: v1\nmetadata:\n  name: x\ndata:\n  f: {{ .Files.Get \"files/link\" | quote }}\n",
    ),
];

fn render_dir(dir: &Path) -> Result<Rendered, ChartError> {
    render(&request(dir, &[], serde_json::Value::Null))
}

fn refused(dir: &Path, what: &str) -> String {
    let e = render_dir(dir).expect_err("the chart must be refused");
    let shown = e.to_string();
    assert!(
        matches!(e, ChartError::Unsafe { .. }),
        "{what}: wrong error kind: {shown}"
    );
    shown
}

#[test]
fn a_link_to_a_file_outside_the_chart_is_refused_unread() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "root:x:0:0").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), SMALL);
    std::fs::create_dir_all(tmp.path().join("files")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), tmp.path().join("files/link"))
        .unwrap();
    let msg = refused(tmp.path(), "file link");
    assert!(
        msg.contains("files/link") && msg.contains("outside the chart"),
        "{msg}"
    );
    assert!(!msg.contains("root:x"), "{msg}");
}

#[test]
fn a_link_to_a_directory_outside_the_chart_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("a.conf"), "x").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), SMALL);
    std::os::unix::fs::symlink(outside.path(), tmp.path().join("files")).unwrap();
    let msg = refused(tmp.path(), "directory link");
    assert!(msg.contains("outside the chart"), "{msg}");
}

#[test]
fn a_link_to_a_device_is_refused_without_reading_it() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), SMALL);
    std::fs::create_dir_all(tmp.path().join("files")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", tmp.path().join("files/link")).unwrap();
    let msg = refused(tmp.path(), "/dev/zero");
    assert!(msg.contains("/dev/zero"), "{msg}");
}

#[test]
fn a_fifo_in_the_chart_is_refused_without_waiting_on_it() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), SMALL);
    std::fs::create_dir_all(tmp.path().join("files")).unwrap();
    let fifo = std::ffi::CString::new(tmp.path().join("files/link").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads a valid NUL-terminated path and touches no Rust memory.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    // Opening a FIFO with no writer blocks forever: run the render on a thread with a deadline.
    let dir = tmp.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(render_dir(&dir).map(|_| ()).map_err(|e| e.to_string()));
    });
    let result = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("rendering a chart with a FIFO hung");
    let msg = result.expect_err("a FIFO must be refused");
    assert!(msg.contains("not a regular file"), "{msg}");
}

#[test]
fn links_inside_the_chart_are_followed_and_loops_refused() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), SMALL);
    write(tmp.path(), &[("data/real.txt", "inside")]);
    std::fs::create_dir_all(tmp.path().join("files")).unwrap();
    std::os::unix::fs::symlink(
        tmp.path().join("data/real.txt"),
        tmp.path().join("files/link"),
    )
    .unwrap();
    let r = render_dir(tmp.path()).unwrap();
    assert_eq!(r.manifests[0].object["data"]["f"], "inside");

    std::os::unix::fs::symlink(tmp.path().join("data"), tmp.path().join("data/again")).unwrap();
    let msg = refused(tmp.path(), "loop");
    assert!(msg.contains("endless loop"), "{msg}");
}

#[test]
fn a_packaged_subchart_cannot_reach_outside_the_chart() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), SMALL);
    let mut gz = Vec::new();
    {
        let enc = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
        let mut tar = tar::Builder::new(enc);
        for (name, body) in [
            (
                "sub/Chart.yaml",
                "apiVersion: v2\nname: sub\nversion: 1.0.0\n",
            ),
            ("sub/../../evil.yaml", "x: 1\n"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append(&h, body.as_bytes()).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
    }
    std::fs::create_dir_all(tmp.path().join("charts")).unwrap();
    std::fs::write(tmp.path().join("charts/sub-1.0.0.tgz"), gz).unwrap();
    std::fs::create_dir_all(tmp.path().join("files")).unwrap();
    std::fs::write(tmp.path().join("files/link"), "ok").unwrap();
    let msg = refused(tmp.path(), "tar traversal");
    assert!(msg.contains("outside the chart directory"), "{msg}");
}

#[test]
fn runaway_string_building_stops_with_an_error_not_an_abort() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.1.0\n"),
            (
                "templates/bomb.yaml",
                "{{ $s := \"xxxxxxxx\" }}{{ range until 60 }}{{ $s = print $s $s }}{{ end }}{{ len $s }}",
            ),
        ],
    );
    let msg = render_dir(tmp.path()).unwrap_err().to_string();
    assert!(
        msg.contains("error calling print") && msg.contains("16777216 bytes"),
        "{msg}"
    );

    // Many strings under the per-string cap still exhaust the render's total budget.
    write(
        tmp.path(),
        &[(
            "templates/bomb.yaml",
            "{{ $s := repeat 8000000 \"x\" }}{{ range until 100 }}{{ $_ := print $s $s }}{{ end }}",
        )],
    );
    let msg = render_dir(tmp.path()).unwrap_err().to_string();
    assert!(msg.contains("bytes of strings in this render"), "{msg}");

    // Serialising or joining many references to one large string is refused before it is built.
    write(
        tmp.path(),
        &[(
            "templates/bomb.yaml",
            "{{ $s := repeat 8000000 \"x\" }}{{ $l := list }}{{ range until 1000 }}{{ $l = append $l $s }}{{ end }}{{ toYaml $l | len }}",
        )],
    );
    let msg = render_dir(tmp.path()).unwrap_err().to_string();
    assert!(
        msg.contains("error calling toYaml: its arguments hold more than"),
        "{msg}"
    );
    write(
        tmp.path(),
        &[(
            "templates/bomb.yaml",
            "{{ replace \"\" (repeat 1000 \"y\") (repeat 1000000 \"x\") | len }}",
        )],
    );
    let msg = render_dir(tmp.path()).unwrap_err().to_string();
    assert!(
        msg.contains("error calling replace: the result would be"),
        "{msg}"
    );

    // Output that keeps growing is cut off too.
    write(
        tmp.path(),
        &[(
            "templates/bomb.yaml",
            "{{ $s := repeat 8000000 \"x\" }}{{ range until 100 }}{{ $s }}{{ end }}",
        )],
    );
    let msg = render_dir(tmp.path()).unwrap_err().to_string();
    assert!(msg.contains("a template may render"), "{msg}");
}

#[test]
fn a_repeated_key_in_rendered_output_keeps_the_last_value() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.1.0\n"),
            (
                "templates/cm.yaml",
                "kind: ConfigMap\napiVersion: v1\nmetadata:\n  name: x\ndata:\n  a: \"1\"\n  a: \"2\"\n",
            ),
        ],
    );
    let r = render_dir(tmp.path()).unwrap();
    assert_eq!(r.manifests[0].object["data"]["a"], "2");
    assert!(r.manifests[0].text.contains("a: \"1\"\n  a: \"2\""));
}

#[test]
fn an_error_far_along_a_huge_line_shows_a_window_of_it() {
    let tmp = tempfile::tempdir().unwrap();
    let line = format!("data: {}{{{{ fail \"boom\" }}}}\n", "x".repeat(100_000));
    write(
        tmp.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.1.0\n"),
            ("templates/cm.yaml", &line),
        ],
    );
    let e = render_dir(tmp.path()).unwrap_err();
    assert!(e.to_string().contains("cm.yaml:1:100009"), "{e}");
    // miette panicked on columns past 65,535 and printed the whole line
    let mut shown = String::new();
    miette::GraphicalReportHandler::new()
        .render_report(&mut shown, &e)
        .unwrap();
    assert!(shown.contains("{{ fail \"boom\" }}"), "{shown}");
    assert!(shown.len() < 2_000, "{} bytes shown", shown.len());
}

#[test]
fn a_cached_package_is_checked_against_the_digest_it_is_stored_under() {
    let packed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join("tests/charts/packaged-subchart/charts/packed-0.2.0.tgz");
    let bytes = std::fs::read(&packed).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let right = source::cached_package(tmp.path(), &source::digest_of(&bytes));
    std::fs::create_dir_all(right.parent().unwrap()).unwrap();
    std::fs::write(&right, &bytes).unwrap();
    assert_eq!(load::load_chart(&right).unwrap().name, "packed");

    let wrong = source::cached_package(tmp.path(), &format!("sha256:{}", "0".repeat(64)));
    std::fs::write(&wrong, &bytes).unwrap();
    let e = load::load_chart(&wrong).unwrap_err().to_string();
    assert!(e.contains("the chart cache was altered"), "{e}");
}

#[test]
fn charts_whose_file_dependencies_name_each_other_are_refused_not_read_forever() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        &[
            (
                "a/Chart.yaml",
                "apiVersion: v2\nname: a\nversion: 0.1.0\ndependencies:\n- name: b\n  version: 0.1.0\n  repository: file://../b\n",
            ),
            (
                "b/Chart.yaml",
                "apiVersion: v2\nname: b\nversion: 0.1.0\ndependencies:\n- name: a\n  version: 0.1.0\n  repository: file://../a\n",
            ),
        ],
    );
    let e = render_dir(&tmp.path().join("a"))
        .expect_err("a chart depending on itself must be refused")
        .to_string();
    assert!(e.contains("lead back to it"), "{e}");
}
