//! Online, charts see the cluster as `helm install` shows it to them: `.Capabilities` from the
//! API server's discovery (its version, every group/version and Kind it serves, custom
//! resources included) and `lookup` answered from live objects, read-only. Offline (validate,
//! `plan --offline`), helm template's defaults: no custom resources, empty lookups. A Secret a
//! chart looks up never shows in the plan.
#![cfg(feature = "e2e")]

use crate::support;

use std::path::Path;
use std::process::Command;

const LOOKED_UP_SECRET: &str = "looked-up-secret-7d1e0c55b2";

fn project(dir: &Path, name: &str, namespace: &str) {
    std::fs::create_dir_all(dir.join("charts/probe/templates")).unwrap();
    std::fs::write(
        dir.join("charts/probe/Chart.yaml"),
        "apiVersion: v2\nname: probe\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("charts/probe/templates/cm.yaml"),
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-probe
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  stages: {{ .Capabilities.APIVersions.Has "kwok.x-k8s.io/v1alpha1/Stage" | quote }}
  deployments: {{ .Capabilities.APIVersions.Has "apps/v1/Deployment" | quote }}
  color: {{ dig "data" "color" "none" (lookup "v1" "ConfigMap" .Release.Namespace "seed") | quote }}
  seeds: {{ (lookup "v1" "ConfigMap" .Release.Namespace "").items | default list | len | quote }}
  copied: {{ dig "data" "password" "" (lookup "v1" "Secret" .Release.Namespace "lk") | b64dec | quote }}
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("todo.toml"),
        format!(
            "[project]\nname = \"{name}\"\n\n[cluster]\nnamespace = \"{namespace}\"\n\n\
             [state]\nbackend = \"local\"\ndir = \"state\"\n\n[releases.probe]\nchart = \"charts/probe\"\n"
        ),
    )
    .unwrap();
}

fn todoplan(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_todoplan"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(2),
        "todoplan {args:?} failed:\n{text}"
    );
    text
}

fn resource_version(ns: &str, what: &str) -> String {
    support::kubectl([
        "-n",
        ns,
        "get",
        what,
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ])
}

#[test]
fn online_plans_render_with_the_clusters_capabilities_and_live_lookups() {
    support::require_cluster();
    let ns = support::TestNamespace::create("caps");
    support::kubectl([
        "-n",
        &ns.name,
        "create",
        "configmap",
        "seed",
        "--from-literal=color=teal",
    ]);
    support::kubectl([
        "-n",
        &ns.name,
        "create",
        "secret",
        "generic",
        "lk",
        &format!("--from-literal=password={LOOKED_UP_SECRET}"),
    ]);
    let before = (
        resource_version(&ns.name, "configmap/seed"),
        resource_version(&ns.name, "secret/lk"),
    );
    let tmp = tempfile::tempdir().unwrap();
    project(tmp.path(), &support::unique_name("caps"), &ns.name);

    let online = todoplan(tmp.path(), &["plan", "--format", "json"]);
    let server = support::kubectl(["version", "-o", "json"]);
    let server: serde_json::Value = serde_json::from_str(&server).unwrap();
    let git_version = server["serverVersion"]["gitVersion"].as_str().unwrap();
    for expected in [
        format!("\"kube\": \"{git_version}\""),
        "\"stages\": \"true\"".into(),
        "\"deployments\": \"true\"".into(),
        "\"color\": \"teal\"".into(),
        // seed and the namespace's kube-root-ca.crt
        "\"seeds\": \"2\"".into(),
    ] {
        assert!(
            online.contains(&expected),
            "online plan lacks {expected}:\n{online}"
        );
    }
    assert!(
        !online.contains(LOOKED_UP_SECRET),
        "a looked-up Secret value reached the plan:\n{online}"
    );

    let offline = todoplan(tmp.path(), &["plan", "--offline", "--format", "json"]);
    for expected in [
        "\"stages\": \"false\"",
        // helm template's default set names group/versions only, no Kinds
        "\"deployments\": \"false\"",
        "\"color\": \"none\"",
        "\"seeds\": \"0\"",
    ] {
        assert!(
            offline.contains(expected),
            "offline plan lacks {expected}:\n{offline}"
        );
    }
    {
        let expected = format!(
            "\"kube\": \"{}\"",
            todoplan::chart::objects::DEFAULT_KUBE_VERSION
        );
        assert!(
            offline.contains(&expected),
            "offline plan lacks {expected}:\n{offline}"
        );
    }

    // lookup only reads
    assert_eq!(
        before,
        (
            resource_version(&ns.name, "configmap/seed"),
            resource_version(&ns.name, "secret/lk"),
        )
    );
}

/// Every file under `dir`, read.
fn all_files(dir: &Path, out: &mut Vec<(std::path::PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
}

/// A chart that copies a looked-up Secret's value into a ConfigMap, plain, in base64 and in
/// hex: apply writes it to the cluster (as the chart says), but no form of it reaches the
/// plan, the apply output, or any file of the state (state, backup, journal, history).
#[test]
fn a_secret_copied_by_a_chart_reaches_no_output_and_no_state_file_in_any_form() {
    use base64::Engine as _;
    support::require_cluster();
    let ns = support::TestNamespace::create("copies");
    let value = "copied-secret-0d9a61c7e2";
    support::kubectl([
        "-n",
        &ns.name,
        "create",
        "secret",
        "generic",
        "lk",
        &format!("--from-literal=password={value}"),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    project(tmp.path(), &support::unique_name("copies"), &ns.name);
    std::fs::write(
        tmp.path().join("charts/probe/templates/cm.yaml"),
        r#"{{- $s := dig "data" "password" "" (lookup "v1" "Secret" .Release.Namespace "lk") | b64dec }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-copies
  annotations:
    hex: {{ printf "%x" $s | quote }}
data:
  plain: {{ $s | quote }}
  b64: {{ $s | b64enc | quote }}
  upper: {{ printf "%X" $s | quote }}
"#,
    )
    .unwrap();
    let forms = [
        value.to_string(),
        base64::engine::general_purpose::STANDARD.encode(value),
        hex::encode(value),
        hex::encode_upper(value),
    ];
    let plan = todoplan(tmp.path(), &["plan"]);
    let applied = todoplan(tmp.path(), &["apply", "--auto-approve"]);
    let again = todoplan(tmp.path(), &["apply", "--auto-approve"]);
    let history = todoplan(tmp.path(), &["history", "show", "1"]);
    for (what, text) in [
        ("plan", &plan),
        ("apply", &applied),
        ("second apply", &again),
        ("history", &history),
    ] {
        for form in &forms {
            assert!(
                !text.contains(form.as_str()),
                "{what} shows {form}:\n{text}"
            );
        }
    }
    // The cluster has what the chart says.
    let live = support::kubectl([
        "-n",
        &ns.name,
        "get",
        "configmap",
        "probe-copies",
        "-o",
        "jsonpath={.data.plain}",
    ]);
    assert_eq!(live, value);
    let mut files = Vec::new();
    all_files(&tmp.path().join("state"), &mut files);
    assert!(!files.is_empty());
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(&bytes);
        for form in &forms {
            assert!(
                !text.contains(form.as_str()),
                "{} holds {form}",
                path.display()
            );
        }
    }
}
