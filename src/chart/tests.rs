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
            // "x: 1\n" + "y: " + "{{ " puts `.Values` at byte 11
            assert_eq!(span.offset(), 11);
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
        e.to_string()
            .contains("\"db\" is declared in Chart.yaml but missing"),
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
