//! Helm hooks applied for real: pre-install hooks before the release's other objects (by
//! weight), post-install hooks after, test hooks never; the plan lists hooks in their own
//! section, and a second plan after apply shows no changes.
#![cfg(feature = "e2e")]

use crate::support;

use std::path::Path;
use std::process::Command;

fn hook(name: &str, phases: &str, weight: i32) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  annotations:\n    \
         helm.sh/hook: {phases}\n    helm.sh/hook-weight: \"{weight}\"\ndata:\n  a: b\n"
    )
}

/// `charts/hooked` with its Chart.yaml; returns its templates directory.
fn hooked_chart(dir: &Path) -> std::path::PathBuf {
    let t = dir.join("charts/hooked/templates");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::write(
        dir.join("charts/hooked/Chart.yaml"),
        "apiVersion: v2\nname: hooked\nversion: 0.1.0\n",
    )
    .unwrap();
    t
}

fn project(dir: &Path, name: &str) {
    let t = hooked_chart(dir);
    std::fs::write(
        t.join("main.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: main\ndata:\n  a: b\n",
    )
    .unwrap();
    std::fs::write(
        t.join("pre-late.yaml"),
        hook("pre-late", "pre-install,pre-upgrade", 5),
    )
    .unwrap();
    std::fs::write(
        t.join("pre-early.yaml"),
        hook("pre-early", "pre-install", -5),
    )
    .unwrap();
    // A Job hook between the two: applied after pre-early, waited for until it completes
    // (kwok's node completes Job pods), and only then pre-late.
    std::fs::write(
        t.join("migrate.yaml"),
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    \
         helm.sh/hook: pre-install,pre-upgrade\nspec:\n  template:\n    spec:\n      \
         restartPolicy: Never\n      containers:\n      - name: m\n        image: busybox:1.35.0\n",
    )
    .unwrap();
    std::fs::write(
        t.join("post.yaml"),
        hook("post", "post-install,post-upgrade", 0),
    )
    .unwrap();
    std::fs::write(
        t.join("test.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: tester\n  annotations:\n    \
         helm.sh/hook: test\nspec:\n  containers:\n  - name: t\n    image: busybox:1.35.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("todo.toml"),
        format!(
            "[project]\nname = \"{name}\"\n\n[cluster]\nnamespace = \"{name}\"\n\n\
             [releases.hooked]\nchart = \"charts/hooked\"\n"
        ),
    )
    .unwrap();
}

fn todoplan(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_todoplan"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

struct Cleanup(String);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("kubectl")
            .args([
                "delete",
                "namespace",
                &self.0,
                "--wait=false",
                "--ignore-not-found",
            ])
            .output();
    }
}

#[test]
fn hooks_run_in_their_phase_by_weight_and_test_hooks_never() {
    support::require_cluster();
    let name = support::unique_name("hooks");
    let _cleanup = Cleanup(name.clone());
    let tmp = tempfile::tempdir().unwrap();
    project(tmp.path(), &name);

    let (code, plan) = todoplan(tmp.path(), &["plan"]);
    assert_eq!(code, Some(0), "{plan}");
    let hooks_at = plan.find("Hooks (helm.sh/hook").expect("a Hooks section");
    let (objects, hooks) = plan.split_at(hooks_at);
    assert!(
        objects.contains("ConfigMap/") && objects.contains("/main will be created"),
        "{plan}"
    );
    for h in ["pre-early", "pre-late", "post", "migrate"] {
        assert!(
            hooks.contains(&format!("/{h} will be created")),
            "{h}:\n{plan}"
        );
        assert!(
            !objects.contains(&format!("/{h} will be created")),
            "{h}:\n{plan}"
        );
    }
    assert!(hooks.contains("hook: pre-install (weight -5)"), "{plan}");
    assert!(!plan.contains("tester"), "a test hook is planned:\n{plan}");

    let (code, out) = todoplan(tmp.path(), &["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    let rv = |cm: &str| -> u64 {
        support::kubectl([
            "-n",
            &name,
            "get",
            "configmap",
            cm,
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .trim()
        .parse()
        .unwrap()
    };
    let job = |path: &str| {
        support::kubectl([
            "-n",
            &name,
            "get",
            "job",
            "migrate",
            "-o",
            &format!("jsonpath={path}"),
        ])
    };
    assert!(
        job("{.status.conditions[?(@.type==\"Complete\")].status}").contains("True"),
        "the Job hook did not complete"
    );
    // The Job's last write is its completion: everything after it waited for it.
    let job_done: u64 = job("{.metadata.resourceVersion}").trim().parse().unwrap();
    let order = [
        rv("pre-early"),
        job_done,
        rv("pre-late"),
        rv("main"),
        rv("post"),
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "out of order (pre-early, migrate done, pre-late, main, post): {order:?}"
    );
    let pods = support::kubectl(["-n", &name, "get", "pods", "-o", "name"]);
    assert!(
        !pods.contains("tester"),
        "the test hook was applied: {pods}"
    );

    let (code, again) = todoplan(tmp.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "a second plan shows changes:\n{again}");
}

/// `helm.sh/hook-delete-policy: hook-succeeded`: the Job hook runs, completes and is deleted;
/// the next plan shows no changes (it is not drift, and it does not run again) until the hook
/// changes, when it runs again and is deleted again. Drift stays quiet about it.
#[test]
fn a_hook_succeeded_policy_deletes_the_hook_after_it_ran_and_it_runs_again_when_it_changes() {
    support::require_cluster();
    let name = support::unique_name("hookdel");
    let _cleanup = Cleanup(name.clone());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let t = hooked_chart(dir);
    std::fs::write(
        t.join("main.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: main\ndata:\n  a: {{ .Values.round | quote }}\n",
    )
    .unwrap();
    std::fs::write(
        t.join("migrate.yaml"),
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    \
         helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\n\
         spec:\n  template:\n    metadata:\n      annotations:\n        round: {{ .Values.round | quote }}\n    spec:\n      \
         restartPolicy: Never\n      containers:\n      - name: m\n        image: busybox:1.35.0\n",
    )
    .unwrap();
    let spec = |round: u32| {
        std::fs::write(
            dir.join("todo.toml"),
            format!(
                "[project]\nname = \"{name}\"\n\n[cluster]\nnamespace = \"{name}\"\n\n\
                 [releases.hooked]\nchart = \"charts/hooked\"\nvalues = {{ round = \"{round}\" }}\n"
            ),
        )
        .unwrap();
    };
    let job_exists = || {
        let out = Command::new("kubectl")
            .args([
                "-n",
                &name,
                "get",
                "job",
                "migrate",
                "--ignore-not-found",
                "-o",
                "name",
            ])
            .output()
            .unwrap();
        !String::from_utf8_lossy(&out.stdout).trim().is_empty()
    };
    spec(1);
    let (code, out) = todoplan(dir, &["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("deleting hook batch/v1 Job")
            && out.contains("succeeded per its delete policy"),
        "{out}"
    );
    assert!(!job_exists(), "the succeeded hook was deleted");
    let (code, again) = todoplan(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        code,
        Some(0),
        "a deleted hook is neither drift nor run again:\n{again}"
    );
    let (code, drift) = todoplan(dir, &["drift", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{drift}");

    spec(2);
    let (code, plan) = todoplan(dir, &["plan"]);
    assert_eq!(code, Some(0), "{plan}");
    assert!(
        plan.contains("/Job/") && plan.contains("/migrate will be created"),
        "{plan}"
    );
    let (code, out) = todoplan(dir, &["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!job_exists(), "deleted again after its second run");
    let (code, again) = todoplan(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{again}");
}
