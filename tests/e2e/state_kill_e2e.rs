//! End-to-end: apply of 1,000 objects killed with SIGKILL at random points; after each kill
//! the next plan shows exactly what is missing from the cluster (no more, no less), and the
//! apply after the last kill converges. Objects land on kwok's fake node (scripts/testenv).
#![cfg(feature = "e2e")]

use crate::support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CONFIGMAPS: usize = 960;
const DEPLOYMENTS: usize = 20;
/// ConfigMaps, Deployments and their Services.
const OBJECTS: usize = CONFIGMAPS + 2 * DEPLOYMENTS;

fn todoplan(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_todoplan"));
    c.args(args).current_dir(dir).env("NO_COLOR", "1");
    c
}

fn write_stack(dir: &Path, project: &str) {
    let toml = format!(
        r#"[project]
name = "{project}"
[cluster]
namespace = "{project}"
[releases.config]
chart = "config"
[releases.apps]
chart = "apps"
depends_on = ["release.config"]
"#
    );
    std::fs::write(dir.join("todo.toml"), toml).unwrap();
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::create_dir_all(dir.join("apps")).unwrap();
    let mut config = String::new();
    for i in 0..CONFIGMAPS {
        config.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:04}\n  namespace: {project}\ndata:\n  key: \"value-{i}\"\n"
        ));
    }
    std::fs::write(dir.join("config/objects.yaml"), config).unwrap();
    let mut apps = String::new();
    for i in 0..DEPLOYMENTS {
        apps.push_str(&format!(
            r#"---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{i:02}, namespace: {project}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: app-{i:02}}}}}
  template:
    metadata: {{labels: {{app: app-{i:02}}}}}
    spec: {{containers: [{{name: c, image: "busybox:1.35.0"}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: app-{i:02}, namespace: {project}}}
spec:
  selector: {{app: app-{i:02}}}
  ports: [{{port: 80}}]
"#
        ));
    }
    std::fs::write(dir.join("apps/objects.yaml"), apps).unwrap();
}

/// "Kind/name" of this project's objects in the cluster.
fn live(project: &str) -> BTreeSet<String> {
    let out = support::kubectl([
        "get",
        "configmap,deployment,service",
        "-n",
        project,
        "-l",
        &format!("todoplan.dev/project={project}"),
        "-o",
        "jsonpath={range .items[*]}{.kind}/{.metadata.name}{\"\\n\"}{end}",
    ]);
    out.lines().map(str::to_string).collect()
}

fn desired() -> BTreeSet<String> {
    (0..CONFIGMAPS)
        .map(|i| format!("ConfigMap/cm-{i:04}"))
        .chain((0..DEPLOYMENTS).map(|i| format!("Deployment/app-{i:02}")))
        .chain((0..DEPLOYMENTS).map(|i| format!("Service/app-{i:02}")))
        .collect()
}

/// What the plan creates, and everything else it would change ("Kind/name action").
fn planned(dir: &Path) -> (BTreeSet<String>, Vec<String>) {
    let out = todoplan(dir, &["plan", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "plan after a kill failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut creates = BTreeSet::new();
    let mut others = Vec::new();
    for c in plan["resource_changes"].as_array().unwrap() {
        let id = format!(
            "{}/{}",
            c["kind"].as_str().unwrap(),
            c["name"].as_str().unwrap()
        );
        let actions: Vec<&str> = c["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        match actions.as_slice() {
            ["create"] => {
                creates.insert(id);
            }
            ["no-op"] => {}
            other => others.push(format!("{id} {other:?}")),
        }
    }
    (creates, others)
}

#[test]
fn kill_9_at_random_points_of_a_1000_object_apply_then_plan_shows_exactly_what_is_missing() {
    support::require_cluster();
    let project = support::unique_name("e2e-kill1k");
    let _namespace_cleanup = Cleanup(project.clone());
    let dir = tempfile::tempdir().unwrap();
    write_stack(dir.path(), &project);
    let desired = desired();
    assert_eq!(desired.len(), OBJECTS);
    let mut seed = std::process::id() as u64 ^ 0x9e37_79b9_7f4a_7c15;
    let mut random = move |below: usize| {
        // xorshift: a different schedule every run, printed for reproduction.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % below as u64) as usize
    };
    let mut kills = 0;
    // Kills come at a random time after the apply starts, below this budget. An apply that
    // finishes before its kill (the machine was faster than the budget) teaches the budget its
    // own duration; until one kill has happened, the cluster is then emptied and it goes again.
    let mut budget = Duration::from_millis(2500);
    let mut finished_early = 0;
    let mut round = 0;
    while round < 4 {
        let before = live(&project).len();
        if before >= OBJECTS - 5 {
            break;
        }
        // (Round 0, one time in four) at a random moment before any write.
        let immediate = round == 0 && random(4) == 0;
        let kill_after = if immediate {
            Duration::from_millis(random(300) as u64)
        } else {
            Duration::from_millis(random(budget.as_millis() as usize) as u64)
        };
        // Its output goes to a file: an apply that ends before it is killed must have succeeded,
        // and if it failed, the failure is what this test shows.
        let log_path = dir
            .path()
            .join(format!("apply-{round}-{finished_early}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let started = Instant::now();
        let mut child = todoplan(dir.path(), &["apply", "--auto-approve"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut finished = None;
        while started.elapsed() < kill_after {
            finished = child.try_wait().unwrap();
            if finished.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let took = started.elapsed();
        child.kill().ok();
        child.wait().unwrap();
        if let Some(status) = finished {
            assert!(
                status.success(),
                "round {round}: the apply failed before it was killed:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            if kills > 0 {
                break;
            }
            finished_early += 1;
            assert!(
                finished_early < 6,
                "six applies in a row finished before their kill (last one took {took:?})"
            );
            eprintln!(
                "round {round}: the apply finished in {took:?}, before its kill; again with a shorter budget on an empty namespace"
            );
            budget = took.mul_f64(0.75).max(Duration::from_millis(50));
            support::kubectl(["delete", "namespace", &project, "--wait", "--timeout=180s"]);
            continue;
        }
        let target = kill_after;
        kills += 1;
        let in_cluster = live(&project);
        let missing: BTreeSet<String> = desired.difference(&in_cluster).cloned().collect();
        if dir.path().join("state/todoplan.journal").exists() {
            let history = todoplan(dir.path(), &["history"]).output().unwrap();
            let text = String::from_utf8_lossy(&history.stdout);
            assert!(
                history.status.success() && text.contains("did not finish"),
                "history names the unfinished apply:\n{text}"
            );
        }
        let (creates, others) = planned(dir.path());
        let mut expected = missing.clone();
        if !support::namespace_exists(&project) {
            expected.insert(format!("Namespace/{project}"));
        }
        eprintln!(
            "round {round}: killed at {} of {OBJECTS} objects ({target:?} after the start), plan creates {}",
            in_cluster.len(),
            creates.len()
        );
        assert_eq!(
            creates, expected,
            "round {round}: the plan after kill -9 must create exactly what is missing"
        );
        assert!(
            others.is_empty(),
            "round {round}: nothing else may change: {others:?}"
        );
        round += 1;
    }
    assert!(kills > 0, "no apply was ever killed mid-way");
    let out = todoplan(dir.path(), &["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the apply after the kills failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(live(&project), desired);
    let again = todoplan(dir.path(), &["plan", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(0),
        "converged: {}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert!(
        !dir.path().join("state/todoplan.journal").exists(),
        "a finished apply folds its journal into the state file"
    );
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("state/todoplan.state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        state["objects"].as_object().unwrap().len(),
        OBJECTS + 1,
        "every object and the namespace are recorded"
    );
}

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("kubectl")
            .args(["delete", "namespace", &self.0, "--wait=false"])
            .output();
    }
}
