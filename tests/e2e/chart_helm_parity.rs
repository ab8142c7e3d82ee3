//! Proof against the real helm: every chart under charts/, every fixture chart under
//! tests/charts/ (with each of its ci/*.yaml values files) and the scaffold `helm create`
//! generates are rendered by `todoplan render` and by `helm template`; the documents must be the
//! same objects with the same content, from the same source template, in the same order.
//! Functions with random output are masked after their shape is checked.
#![cfg(feature = "e2e")]

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use serde_json::Value;

fn helm() -> String {
    let ok = Command::new("helm")
        .arg("version")
        .arg("--short")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "`helm` is not on PATH. Run `scripts/testenv up` and `eval \"$(scripts/testenv env)\"` \
         to put the pinned helm first on PATH, then rerun the tests."
    );
    "helm".to_string()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Case {
    label: String,
    chart: PathBuf,
    values: Vec<PathBuf>,
    extra: Vec<String>,
}

/// Charts in `dir`, each plain and with each ci/*.yaml and values-*.yaml file.
fn cases_under(dir: &Path, skip: &[&str]) -> Vec<Case> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut charts: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("Chart.yaml").is_file())
        .filter(|p| !skip.iter().any(|s| p.ends_with(s)))
        .collect();
    charts.sort();
    for c in charts {
        let name = c.file_name().unwrap().to_string_lossy().to_string();
        out.push(Case {
            label: name.clone(),
            chart: c.clone(),
            values: vec![],
            extra: vec![],
        });
        let mut variants: Vec<PathBuf> = Vec::new();
        if let Ok(ci) = std::fs::read_dir(c.join("ci")) {
            variants.extend(ci.filter_map(|e| e.ok()).map(|e| e.path()));
        }
        if let Ok(top) = std::fs::read_dir(&c) {
            variants.extend(top.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.starts_with("values-") && (n.ends_with(".yaml") || n.ends_with(".yml"))
            }));
        }
        variants.sort();
        for v in variants {
            out.push(Case {
                label: format!("{name} -f {}", v.file_name().unwrap().to_string_lossy()),
                chart: c.clone(),
                values: vec![v],
                extra: vec![],
            });
        }
    }
    out
}

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run_helm(c: &Case) -> Output {
    let mut cmd = Command::new(helm());
    cmd.args(["template", "rel"])
        .arg(&c.chart)
        .args(["--namespace", "ns"]);
    for v in &c.values {
        cmd.arg("-f").arg(v);
    }
    cmd.args(&c.extra);
    let o = cmd.output().expect("run helm");
    Output {
        ok: o.status.success(),
        stdout: String::from_utf8_lossy(&o.stdout).to_string(),
        stderr: String::from_utf8_lossy(&o.stderr).to_string(),
    }
}

fn run_todoplan(c: &Case) -> Output {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("todoplan"));
    cmd.arg("render")
        .arg("--chart")
        .arg(&c.chart)
        .args(["--release-name", "rel", "--namespace", "ns"])
        .env("NO_COLOR", "1");
    for v in &c.values {
        cmd.arg("--values").arg(v);
    }
    cmd.args(&c.extra);
    let o = cmd.output().expect("run todoplan");
    Output {
        ok: o.status.success(),
        stdout: String::from_utf8_lossy(&o.stdout).to_string(),
        stderr: String::from_utf8_lossy(&o.stderr).to_string(),
    }
}

/// (source, parsed object) per document, in output order.
fn documents(text: &str) -> Vec<(String, Value)> {
    let mut docs = Vec::new();
    let mut chunks: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        if line == "---" {
            chunks.push(Vec::new());
        } else if let Some(c) = chunks.last_mut() {
            c.push(line);
        }
    }
    for c in chunks {
        let source = c
            .first()
            .and_then(|l| l.strip_prefix("# Source: "))
            .unwrap_or("")
            .to_string();
        let body = c.iter().skip(1).copied().collect::<Vec<_>>().join("\n");
        // read as helm reads it: YAML 1.1 scalars, a repeated key keeps its last value
        let v: Value = todoplan::chart::template::yaml_load::load(&body)
            .unwrap_or_else(|e| panic!("document from {source} is not YAML: {e}\n{body}"))
            .to_json();
        docs.push((source, v));
    }
    docs
}

fn check_random_shape(key: &str, v: &str) {
    let re = |p: &str| regex::Regex::new(p).unwrap().is_match(v);
    let b64 = |s: &str| {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .unwrap_or_else(|e| panic!("{key}: {s:?} is not base64: {e}")),
        )
        .unwrap()
    };
    let ok = match key {
        "random/alphanum24" => re("^[A-Za-z0-9]{24}$"),
        "random/alpha8" => re("^[A-Za-z]{8}$"),
        "random/numeric6" => re("^[0-9]{6}$"),
        "random/ascii10" => {
            let d = b64(v);
            d.len() == 10 && d.bytes().all(|b| (32..127).contains(&b))
        }
        "random/uuid" => {
            re("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        }
        "random/now-date" => re(r"^\d{4}-\d{2}-\d{2}$"),
        "random/int" => v.parse::<i64>().is_ok_and(|n| (5..10).contains(&n)),
        "random.b64" => {
            let d = b64(v);
            regex::Regex::new("^[A-Za-z0-9]{24}$").unwrap().is_match(&d)
        }
        other => panic!("unknown random key {other}: add a shape check"),
    };
    assert!(ok, "{key}: {v:?} does not have the expected shape");
}

/// Check and blank out values produced by random functions (keys starting with `random`).
fn mask_random(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if k.starts_with("random") {
                    let s = val
                        .as_str()
                        .unwrap_or_else(|| panic!("{k} is not a string"));
                    check_random_shape(k, s);
                    *val = Value::String("<random>".into());
                } else {
                    mask_random(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_random),
        _ => {}
    }
}

struct Tally {
    cases: usize,
    both_rejected: usize,
    byte_identical: usize,
    documents: usize,
}

fn compare(c: &Case, tally: &mut Tally) {
    let h = run_helm(c);
    let t = run_todoplan(c);
    if !h.ok {
        // A chart whose defaults are deliberately incomplete (values the user must give):
        // todoplan must refuse it too.
        assert!(
            !t.ok,
            "{}: helm refused the chart but todoplan rendered it.\nhelm: {}",
            c.label, h.stderr
        );
        tally.both_rejected += 1;
        return;
    }
    assert!(
        t.ok,
        "{}: todoplan failed where helm succeeded:\n{}",
        c.label, t.stderr
    );
    tally.cases += 1;
    if h.stdout == t.stdout {
        tally.byte_identical += 1;
    }
    let mut hd = documents(&h.stdout);
    let mut td = documents(&t.stdout);
    hd.iter_mut().for_each(|(_, v)| mask_random(v));
    td.iter_mut().for_each(|(_, v)| mask_random(v));
    assert_eq!(
        hd.len(),
        td.len(),
        "{}: helm printed {} documents, todoplan {}",
        c.label,
        hd.len(),
        td.len()
    );
    tally.documents += hd.len();
    for (i, (a, b)) in hd.iter().zip(td.iter()).enumerate() {
        assert_eq!(
            a.0, b.0,
            "{}: document {i} comes from a different template (install order differs?)",
            c.label
        );
        assert_eq!(
            a.1,
            b.1,
            "{}: document {i} from {} differs\nhelm:\n{}\ntodoplan:\n{}",
            c.label,
            a.0,
            serde_yaml_ng::to_string(&a.1).unwrap(),
            serde_yaml_ng::to_string(&b.1).unwrap()
        );
    }
}

#[test]
fn todoplan_renders_the_same_objects_as_helm_template() {
    helm();
    let mut cases = Vec::new();
    cases.extend(cases_under(&repo().join("charts"), &[]));
    cases.extend(cases_under(
        &repo().join("tests/charts"),
        &["schema-violation", "required-missing"],
    ));
    let kinds = repo().join("tests/charts/kinds");
    cases.push(Case {
        label: "kinds --kube-version v1.33.4 --api-versions example.com/v1/Widget".into(),
        chart: kinds,
        values: vec![],
        extra: vec![
            "--kube-version".into(),
            "v1.33.4".into(),
            "--api-versions".into(),
            "example.com/v1/Widget".into(),
        ],
    });
    // crds/ files printed first, as they are (nested, JSON, upper-case extensions, subcharts,
    // a disabled subchart's left out, then switched on)
    let crd_dirs = repo().join("tests/charts/crd-dirs");
    for values in [vec![], vec![crd_dirs.join("ci/opt-enabled.yaml")]] {
        cases.push(Case {
            label: format!("crd-dirs --include-crds {values:?}"),
            chart: crd_dirs.clone(),
            values,
            extra: vec!["--include-crds".into()],
        });
    }

    let tmp = tempfile::tempdir().unwrap();
    let status = Command::new(helm())
        .current_dir(tmp.path())
        .args(["create", "scaffold"])
        .output()
        .expect("helm create");
    assert!(status.status.success(), "helm create failed");
    let scaffold = tmp.path().join("scaffold");
    let variants = tmp.path().join("scaffold-all-on.yaml");
    std::fs::write(
        &variants,
        "replicaCount: 3\ningress:\n  enabled: true\n  tls:\n  - secretName: t\n    hosts: [a.example.com]\n\
         autoscaling:\n  enabled: true\nserviceAccount:\n  create: false\n  name: custom\n\
         podAnnotations: {a: b}\nresources: {limits: {cpu: 100m}}\nnodeSelector: {disk: ssd}\n\
         volumes:\n- name: foo\n  secret: {secretName: mysecret}\nhttpRoute:\n  enabled: true\n",
    )
    .unwrap();
    cases.push(Case {
        label: "helm create scaffold".into(),
        chart: scaffold.clone(),
        values: vec![],
        extra: vec![],
    });
    cases.push(Case {
        label: "helm create scaffold, everything switched on".into(),
        chart: scaffold,
        values: vec![variants],
        extra: vec![],
    });

    let fixtures = cases
        .iter()
        .filter(|c| c.chart.starts_with(repo().join("tests/charts")))
        .map(|c| c.chart.clone())
        .collect::<std::collections::BTreeSet<_>>();
    assert!(
        fixtures.len() >= 5,
        "expected at least five fixture charts, found {fixtures:?}"
    );

    let mut tally = Tally {
        cases: 0,
        both_rejected: 0,
        byte_identical: 0,
        documents: 0,
    };
    for c in &cases {
        compare(c, &mut tally);
    }
    eprintln!(
        "parity: {} renders, {} documents equal as objects, {} renders byte-identical to helm, \
         {} value sets rejected by both",
        tally.cases, tally.documents, tally.byte_identical, tally.both_rejected
    );
    assert!(
        tally.cases > tally.both_rejected,
        "most cases must render, not only fail"
    );
}

#[test]
fn errors_happen_where_helm_errors_and_name_the_place() {
    helm();
    let schema = Case {
        label: "schema-violation".into(),
        chart: repo().join("tests/charts/schema-violation"),
        values: vec![],
        extra: vec![],
    };
    let (h, t) = (run_helm(&schema), run_todoplan(&schema));
    assert!(
        !h.ok && !t.ok,
        "both must reject values that break the schema"
    );
    for path in ["replicas", "image.tag", "image"] {
        assert!(
            h.stderr.contains(&format!("- {path}:")),
            "helm: {}",
            h.stderr
        );
        assert!(
            t.stderr.contains(&format!(": {path}:")),
            "todoplan names {path}: {}",
            t.stderr
        );
    }

    let required = Case {
        label: "required-missing".into(),
        chart: repo().join("tests/charts/required-missing"),
        values: vec![],
        extra: vec![],
    };
    let (h, t) = (run_helm(&required), run_todoplan(&required));
    assert!(!h.ok && !t.ok, "both must fail on a missing required value");
    let location = "execution error at (required-missing/templates/deploy.yaml:6:10)";
    assert!(h.stderr.contains(location), "helm: {}", h.stderr);
    assert!(t.stderr.contains(location), "todoplan: {}", t.stderr);
    assert!(
        t.stderr
            .contains("database.url is required: set it in values")
    );
}
