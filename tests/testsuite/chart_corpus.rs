//! The differential test over the public chart corpus (`../shared/charts-corpus`, see its
//! README): every chart, with its default values and with each `ci/*.yaml`, rendered by the
//! pinned helm (v3.17.3) and by `todoplan render`. The outputs must be byte-identical, except
//! values helm draws at random: those are found by rendering with helm twice, and todoplan's
//! value there must have the same shape (same alphabet; same length, or for generated keys and
//! certificates the length range two helm runs show). Where helm refuses, todoplan must too.
//!
//! The corpus is read in place, never copied into the repository. The test fails, with what to
//! do, when helm or the corpus is missing: it never passes by skipping.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("TODOPLAN_CHARTS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/charts-corpus"));
    assert!(
        dir.join("README.md").is_file(),
        "the chart corpus is not at {} (it lives in shared/charts-corpus beside the checkout; \
         set TODOPLAN_CHARTS_CORPUS to its path)",
        dir.display()
    );
    dir
}

fn require_helm() {
    let version = Command::new("helm").args(["version", "--short"]).output();
    let ok = version
        .as_ref()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).starts_with("v3.17.3"))
        .unwrap_or(false);
    assert!(
        ok,
        "this test compares todoplan with helm v3.17.3, which is not first on PATH \
         (found: {:?}). Build the test environment (`scripts/testenv build`, or `up`) and run \
         `eval \"$(scripts/testenv env)\"` first; it puts the pinned helm on PATH.",
        version.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    );
}

struct Case {
    label: String,
    chart: PathBuf,
    values: Option<PathBuf>,
}

fn cases(corpus: &Path) -> Vec<Case> {
    let mut charts = Vec::new();
    for org in std::fs::read_dir(corpus).unwrap().filter_map(|e| e.ok()) {
        let Ok(rd) = std::fs::read_dir(org.path()) else {
            continue;
        };
        for c in rd.filter_map(|e| e.ok()) {
            if c.path().join("Chart.yaml").is_file() {
                charts.push(c.path());
            }
        }
    }
    charts.sort();
    let mut out = Vec::new();
    for chart in charts {
        let name = chart
            .strip_prefix(corpus)
            .unwrap()
            .to_string_lossy()
            .to_string();
        out.push(Case {
            label: name.clone(),
            chart: chart.clone(),
            values: None,
        });
        let mut ci: Vec<PathBuf> = std::fs::read_dir(chart.join("ci"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                    .collect()
            })
            .unwrap_or_default();
        ci.sort();
        for v in ci {
            out.push(Case {
                label: format!("{name} -f ci/{}", v.file_name().unwrap().to_string_lossy()),
                chart: chart.clone(),
                values: Some(v),
            });
        }
    }
    out
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let o = cmd.output().expect("start the renderer");
    Run {
        ok: o.status.success(),
        stdout: String::from_utf8_lossy(&o.stdout).to_string(),
        stderr: String::from_utf8_lossy(&o.stderr).to_string(),
    }
}

fn helm(c: &Case) -> Run {
    let mut cmd = Command::new("helm");
    cmd.args(["template", "rel"])
        .arg(&c.chart)
        .args(["--namespace", "ns"]);
    if let Some(v) = &c.values {
        cmd.arg("-f").arg(v);
    }
    run(&mut cmd)
}

fn todoplan(c: &Case) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_todoplan"));
    cmd.args(["render", "--chart"])
        .arg(&c.chart)
        .args(["--release-name", "rel", "--namespace", "ns"])
        .env("NO_COLOR", "1");
    if let Some(v) = &c.values {
        cmd.arg("--values").arg(v);
    }
    run(&mut cmd)
}

/// The characters a random value drew from: letters and digits as one class (a random draw
/// need not use every letter), every other character as itself.
fn alphabet(s: &str) -> std::collections::BTreeSet<char> {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { 'a' } else { c })
        .collect()
}

/// Whether `mine` could be a value helm drew at random where its two runs wrote `a` and `b`.
fn same_shape(a: &str, b: &str, mine: &str) -> bool {
    let (a, b, mine): (Vec<char>, Vec<char>, Vec<char>) = (
        a.chars().collect(),
        b.chars().collect(),
        mine.chars().collect(),
    );
    let mut prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    // the random value starts after the last character that cannot be part of it
    while prefix > 0 && (a[prefix - 1].is_ascii_alphanumeric() || "+/".contains(a[prefix - 1])) {
        prefix -= 1;
    }
    // the key and indentation before the value must be identical
    if mine.len() < prefix || a[..prefix] != mine[..prefix] {
        return false;
    }
    let tail = |s: &[char]| s[prefix..].iter().collect::<String>();
    let (ta, tb, tm) = (tail(&a), tail(&b), tail(&mine));
    let drawn: std::collections::BTreeSet<char> =
        alphabet(&ta).union(&alphabet(&tb)).copied().collect();
    if !alphabet(&tm).is_subset(&drawn) {
        return false;
    }
    let (lo, hi) = (ta.len().min(tb.len()), ta.len().max(tb.len()));
    if hi < 256 {
        return (lo..=hi).contains(&tm.len());
    }
    // Generated keys and certificates: their DER integers (serial numbers, key parts) are a
    // byte longer or shorter from one draw to the next, so lengths vary by a few characters.
    let slack = hi / 100;
    tm.len() + slack >= lo && tm.len() <= hi + slack
}

/// Byte-identical, or identical but for the lines helm itself renders differently each time.
fn compare(h1: &str, h2: &str, t: &str) -> Result<bool, String> {
    if t == h1 {
        return Ok(true);
    }
    let (a, b, m): (Vec<&str>, Vec<&str>, Vec<&str>) = (
        h1.split('\n').collect(),
        h2.split('\n').collect(),
        t.split('\n').collect(),
    );
    if a.len() != m.len() || a.len() != b.len() {
        return Err(format!(
            "helm printed {} lines, todoplan {}",
            a.len(),
            m.len()
        ));
    }
    for (n, ((x, y), z)) in a.iter().zip(&b).zip(&m).enumerate() {
        let ok = if x == y { x == z } else { same_shape(x, y, z) };
        if !ok {
            return Err(format!(
                "line {}: helm {x:?}{}, todoplan {z:?}",
                n + 1,
                if x == y {
                    String::new()
                } else {
                    format!(" (random; a second helm run: {y:?})")
                }
            ));
        }
    }
    Ok(false)
}

#[test]
fn every_corpus_chart_renders_as_helm_template_does() {
    let corpus = corpus_dir();
    require_helm();
    let cases = cases(&corpus);
    assert!(
        cases.len() >= 60,
        "expected the corpus's 9 charts and their ci values, found {} cases",
        cases.len()
    );
    let (mut exact, mut random_only, mut refused) = (0, 0, 0);
    let mut failures = Vec::new();
    for c in &cases {
        let h1 = helm(c);
        let t = todoplan(c);
        if !h1.ok {
            if t.ok {
                failures.push(format!(
                    "{}: helm refused it but todoplan rendered it\nhelm: {}",
                    c.label, h1.stderr
                ));
            } else {
                refused += 1;
            }
            continue;
        }
        if !t.ok {
            failures.push(format!(
                "{}: todoplan failed where helm rendered:\n{}",
                c.label, t.stderr
            ));
            continue;
        }
        let h2 = if h1.stdout == t.stdout {
            // nothing to tell apart: no need for a second helm run
            Run {
                ok: true,
                stdout: h1.stdout.clone(),
                stderr: String::new(),
            }
        } else {
            helm(c)
        };
        match compare(&h1.stdout, &h2.stdout, &t.stdout) {
            Ok(true) => exact += 1,
            Ok(false) => random_only += 1,
            Err(e) => failures.push(format!("{}: {e}", c.label)),
        }
    }
    eprintln!(
        "corpus: {} cases; {exact} byte-identical, {random_only} identical but for values helm draws \
         at random (same shape), {refused} refused by both, {} different",
        cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from helm:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().filter_map(|e| e.ok()) {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The chart as `helm dependency build` leaves it: each subchart packaged by `helm package`
/// (which applies the subchart's .helmignore) as charts/NAME-VERSION.tgz.
fn with_packaged_subcharts(chart: &Path, into: &Path) -> bool {
    let mut packed = false;
    std::fs::create_dir_all(into).unwrap();
    for e in std::fs::read_dir(chart).unwrap().filter_map(|e| e.ok()) {
        if e.file_name() != "charts" {
            let target = into.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_dir(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), &target).unwrap();
            }
        }
    }
    let Ok(subs) = std::fs::read_dir(chart.join("charts")) else {
        return false;
    };
    std::fs::create_dir_all(into.join("charts")).unwrap();
    for sub in subs.filter_map(|e| e.ok()) {
        if !sub.path().join("Chart.yaml").is_file() {
            continue;
        }
        let out = Command::new("helm")
            .arg("package")
            .arg(sub.path())
            .arg("-d")
            .arg(into.join("charts"))
            .output()
            .expect("run helm package");
        assert!(
            out.status.success(),
            "helm package {}: {}",
            sub.path().display(),
            String::from_utf8_lossy(&out.stderr)
        );
        packed = true;
    }
    packed
}

#[test]
fn corpus_charts_with_packaged_subcharts_render_as_helm_template_does() {
    let corpus = corpus_dir();
    require_helm();
    let tmp = tempfile::tempdir().unwrap();
    let mut rendered = 0;
    let mut failures = Vec::new();
    for c in cases(&corpus).into_iter().filter(|c| c.values.is_none()) {
        let packaged = tmp.path().join(c.label.replace('/', "_"));
        if !with_packaged_subcharts(&c.chart, &packaged) {
            continue;
        }
        let case = Case {
            label: format!("{} (subcharts as .tgz)", c.label),
            chart: packaged,
            values: None,
        };
        let (h1, t) = (helm(&case), todoplan(&case));
        if !h1.ok {
            if t.ok {
                failures.push(format!("{}: helm refused, todoplan rendered", case.label));
            }
            continue;
        }
        if !t.ok {
            failures.push(format!("{}: todoplan failed:\n{}", case.label, t.stderr));
            continue;
        }
        let h2 = helm(&case);
        if let Err(e) = compare(&h1.stdout, &h2.stdout, &t.stdout) {
            failures.push(format!("{}: {e}", case.label));
        }
        rendered += 1;
    }
    eprintln!(
        "corpus with packaged subcharts: {rendered} charts rendered, {} different",
        failures.len()
    );
    assert!(
        rendered >= 3,
        "expected bitnami postgresql, redis and nginx (the charts with subcharts), rendered {rendered}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn shape_comparison_accepts_only_random_differences() {
    let h1 = "a: 1\npassword: \"Xk3j\"\nb: 2";
    let h2 = "a: 1\npassword: \"p9Qa\"\nb: 2";
    assert_eq!(compare(h1, h2, h1), Ok(true));
    assert_eq!(compare(h1, h2, "a: 1\npassword: \"zzzz\"\nb: 2"), Ok(false));
    assert!(compare(h1, h2, "a: 1\npassword: \"zz\"\nb: 2").is_err());
    assert!(compare(h1, h2, "a: 1\npassword: \"z-zz\"\nb: 2").is_err());
    assert!(compare(h1, h2, "a: 1\npassword: \"zzzz\"\nb: 3").is_err());
    assert!(compare(h1, h2, "a: 1\npasswort: \"zzzz\"\nb: 2").is_err());
    // two helm runs that happen to share a first letter still leave the whole value random
    let (p1, p2) = ("k: \"RWhZ\"", "k: \"RklM\"");
    assert_eq!(compare(p1, p2, "k: \"Vk9P\""), Ok(false));
}
