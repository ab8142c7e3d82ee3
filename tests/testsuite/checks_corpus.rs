//! The plan-time checks against small broken stacks, one per check (tests/checks/*/), and
//! against real stacks that must stay clean: the repo's todo.toml (every overlay) and every
//! chart of the shared charts corpus rendered with its default values.
//!
//! A broken stack is a todo.toml with its chart or manifests, an `expect.toml` naming the one
//! finding it must produce, and for checks that need to know what exists, `live/` objects and
//! `cover` (namespaces listed whole: absence there is proof).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use todoplan::checks::{self, CheckInput, CheckObject, Finding, RegistryAnswer, Severity};
use todoplan::graph::DependencyGraph;
use todoplan::ops::validate::{offline_checks, offline_input};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("tests/checks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expect.toml").exists())
        .collect();
    dirs.sort();
    dirs
}

fn expectation(dir: &Path) -> toml::Table {
    toml::from_str(&std::fs::read_to_string(dir.join("expect.toml")).unwrap()).unwrap()
}

fn strings(t: &toml::Table, key: &str) -> Vec<String> {
    t.get(key)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn findings_of(dir: &Path) -> Vec<Finding> {
    let spec = todoplan::spec::load(&dir.join("todo.toml"), None)
        .unwrap_or_else(|e| panic!("{}: {e:?}", dir.display()));
    let graph = DependencyGraph::build(&spec).unwrap();
    let mut input = offline_input(&spec, &graph)
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", dir.display()));
    let expect = expectation(dir);
    let live: Vec<Value> = if dir.join("live").exists() {
        todoplan::chart::render_manifest_dir(&dir.join("live"))
            .unwrap()
            .into_iter()
            .map(|m| m.object)
            .collect()
    } else {
        Vec::new()
    };
    input.cover_namespaces(strings(&expect, "cover"), live);
    input.coverage.storage_classes = expect
        .get("storage_classes")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    for image in strings(&expect, "registry_missing") {
        input.images.registry.insert(image, RegistryAnswer::Missing);
    }
    checks::run(&input)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_broken_stack_produces_exactly_its_one_finding() {
    let mut failures = Vec::new();
    for dir in cases() {
        let expect = expectation(&dir);
        let found = findings_of(&dir).await;
        let want = |k: &str| expect.get(k).and_then(|v| v.as_str()).unwrap_or("");
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let ok = found.len() == 1 && {
            let f = &found[0];
            f.id == want("id")
                && f.severity.as_str() == want("severity")
                && f.address == want("address")
                && f.field == want("field")
                && (want("source").is_empty() || f.source.as_deref() == Some(want("source")))
                && (want("secret").is_empty() || !f.message.contains(want("secret")))
        };
        if !ok {
            failures.push(format!("{name}: expected {expect:?}\n  found {found:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_check_has_a_broken_stack() {
    let covered: Vec<String> = cases()
        .iter()
        .map(|d| expectation(d)["id"].as_str().unwrap().to_string())
        .collect();
    let missing: Vec<&str> = checks::check_ids()
        .filter(|id| !covered.iter().any(|c| c == id))
        .collect();
    assert!(missing.is_empty(), "no broken stack for {missing:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_repo_todo_toml_has_no_error_in_any_overlay() {
    let path = root().join("todo.toml");
    let base = todoplan::spec::load(&path, None).unwrap();
    let envs: Vec<Option<String>> = std::iter::once(None)
        .chain(base.envs.iter().cloned().map(Some))
        .collect();
    for env in envs {
        let spec = todoplan::spec::load(&path, env.as_deref()).unwrap();
        let graph = DependencyGraph::build(&spec).unwrap();
        let found = offline_checks(&spec, &graph).await.unwrap();
        let errors: Vec<&Finding> = found
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "env {env:?}: {errors:#?}");
    }
}

/// Kinds a chart may render that have no namespace (as the plan places objects offline).
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "StorageClass",
    "PersistentVolume",
    "CustomResourceDefinition",
    "IngressClass",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
];

fn corpus_charts() -> Vec<PathBuf> {
    let corpus = root().join("../shared/charts-corpus");
    let Ok(groups) = std::fs::read_dir(&corpus) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for g in groups.flatten().filter(|g| g.path().is_dir()) {
        for c in std::fs::read_dir(g.path()).unwrap().flatten() {
            let p = c.path();
            let is_library = std::fs::read_to_string(p.join("Chart.yaml"))
                .is_ok_and(|t| t.contains("type: library"));
            if p.join("Chart.yaml").exists() && !is_library {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A chart rendered with its defaults, as planned objects of release `corpus` in `checks`;
/// None when todoplan cannot render it (the chart tests own that).
fn planned_from_chart(chart: &Path, values_files: &[PathBuf]) -> Option<Vec<CheckObject>> {
    let request = todoplan::chart::RenderRequest {
        chart_dir: chart,
        release_name: "corpus",
        namespace: "checks",
        values_files,
        inline_values: Value::Null,
        revision: 1,
        is_upgrade: false,
        capabilities: todoplan::chart::Capabilities::default(),
        lookup: None,
    };
    let rendered = match todoplan::chart::render(&request) {
        Ok(r) => r,
        // The checks judge objects: a schema the renderer cannot read yet, or a template using
        // the certificate generators todoplan leaves out (README, "Not supported"; off by
        // default in these charts), should not hide the chart's other objects from them.
        Err(_) if !chart.starts_with(std::env::temp_dir()) => {
            let copy = tempfile::tempdir().unwrap();
            let dir = copy.path().join(chart.file_name().unwrap());
            copy_supported(chart, &dir);
            return planned_from_chart(&dir, values_files);
        }
        Err(e) => {
            eprintln!("skipped {}: it does not render: {e}", chart.display());
            return None;
        }
    };
    let objects = rendered
        .manifests
        .into_iter()
        .filter(|m| m.object.is_object())
        .map(|m| {
            let mut object = m.object;
            let kind = object["kind"].as_str().unwrap_or("").to_string();
            if !CLUSTER_SCOPED.contains(&kind.as_str()) && object["metadata"]["namespace"].is_null()
            {
                object["metadata"]["namespace"] = json!("checks");
            }
            let ns = object["metadata"]["namespace"].as_str().map(str::to_string);
            let address = format!(
                "release.corpus/{}/{kind}/{}{}",
                object["apiVersion"].as_str().unwrap_or(""),
                ns.map(|n| format!("{n}/")).unwrap_or_default(),
                object["metadata"]["name"].as_str().unwrap_or("")
            );
            CheckObject {
                address,
                object,
                release: Some("corpus".into()),
                origin: "release.corpus".into(),
                origin_source: None,
            }
        })
        .collect();
    Some(objects)
}

const UNSUPPORTED: &[&str] = &[
    "genCA",
    "genSelfSignedCert",
    "genSignedCert",
    "genPrivateKey",
];

fn copy_supported(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_supported(&path, &target);
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if entry.file_name() != "values.schema.json"
            && !UNSUPPORTED.iter().any(|f| text.contains(f))
        {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn every_corpus_chart_with_default_values_has_no_error() {
    let charts = corpus_charts();
    assert!(
        charts.len() >= 8,
        "the shared charts corpus is missing: {charts:?}"
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for (chart, values) in charts.iter().flat_map(|c| {
        // Each ci/ values file switches on more of the chart (HPAs, DaemonSets, probes, ...).
        let mut variants = vec![(c.clone(), Vec::new())];
        if let Ok(ci) = std::fs::read_dir(c.join("ci")) {
            let mut files: Vec<PathBuf> = ci.flatten().map(|e| e.path()).collect();
            files.sort();
            variants.extend(files.into_iter().map(|f| (c.clone(), vec![f])));
        }
        variants
    }) {
        let Some(planned) = planned_from_chart(&chart, &values) else {
            continue;
        };
        checked += 1;
        let input = CheckInput {
            planned,
            ..Default::default()
        };
        let errors: Vec<Finding> = checks::run(&input)
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        if !errors.is_empty() {
            failures.push(format!("{} {values:?}: {errors:#?}", chart.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 40, "only {checked} corpus renders checked");
}
