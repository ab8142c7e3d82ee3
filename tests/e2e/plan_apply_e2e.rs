//! End-to-end: plan and apply the repo's Todo stack on the local cluster (scripts/testenv).
//! Each test works on its own copy of the stack, with its own project name and namespace.
#![cfg(feature = "e2e")]

use crate::support;

use support::stack::{SECRET_API_KEY, Stack, walk};

use std::process::Command;

#[test]
fn apply_makes_everything_ready_and_a_second_plan_shows_no_changes() {
    let s = Stack::new("e2e-noop");
    // Before the first push, each image's digest is unknown: one note per image, naming the
    // releases that show its tag (it was one per reference and release).
    let first = s.ok(&["plan"]);
    for image in ["backend", "frontend"] {
        let note = format!("image.{image}'s digest is known after apply");
        assert_eq!(first.matches(&note).count(), 1, "{note} once:\n{first}");
    }
    let text = s.ok(&["apply", "--auto-approve"]);
    assert!(text.contains("Apply succeeded"), "{text}");
    let plan = s.todoplan(&["plan", "--detailed-exitcode"]);
    let plan_text = String::from_utf8_lossy(&plan.stdout).to_string();
    assert_eq!(
        plan.status.code(),
        Some(0),
        "second plan must show no changes:\n{plan_text}{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    assert!(plan_text.contains("No changes"), "{plan_text}");
    // Everything is ready: deployments available, the StatefulSet ready, its claim bound.
    let ready = s.kubectl(&[
        "get",
        "deploy,sts",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.status.readyReplicas}{\"\\n\"}{end}",
    ]);
    assert!(
        ready.lines().count() >= 3 && ready.lines().all(|l| !l.ends_with('=')),
        "{ready}"
    );
    let pvc = s.kubectl(&["get", "pvc", "-o", "jsonpath={.items[*].status.phase}"]);
    assert!(pvc.contains("Bound"), "{pvc}");
}

#[test]
fn changing_one_value_writes_only_that_object() {
    let s = Stack::new("e2e-one");
    s.ok(&["apply", "--auto-approve"]);
    let before = s.resource_versions();
    s.edit(
        "replicaCount = 1\nsecretName",
        "replicaCount = 2\nsecretName",
    );
    let plan = s.ok(&["plan"]);
    assert!(
        plan.contains("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy."),
        "{plan}"
    );
    assert!(
        plan.contains("-   replicas: 1") && plan.contains("+   replicas: 2"),
        "{plan}"
    );
    s.ok(&["apply", "--auto-approve"]);
    let after = s.resource_versions();
    let changed: Vec<_> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    assert!(
        changed
            .iter()
            .all(|k| k.starts_with("Deployment/") && k.contains("backend")),
        "only the backend Deployment may change: {changed:?}"
    );
    assert!(!changed.is_empty());
}

#[test]
fn a_config_change_rolls_the_pods_and_the_plan_says_so() {
    let s = Stack::new("e2e-cors");
    s.ok(&["apply", "--auto-approve"]);
    s.edit(
        "CORS_ORIGINS = \"http://localhost:3000\"",
        "CORS_ORIGINS = \"https://todo.example\"",
    );
    let plan = s.ok(&["plan"]);
    assert!(
        plan.contains("ConfigMap") && plan.contains("https://todo.example"),
        "{plan}"
    );
    assert!(
        plan.contains("pods roll"),
        "the Deployment must change with its ConfigMap:\n{plan}"
    );
}

#[test]
fn saved_plan_applies_and_a_stale_one_is_refused() {
    let s = Stack::new("e2e-planfile");
    s.ok(&["plan", "--out", "first.plan"]);
    s.ok(&["apply", "first.plan"]);
    s.ok(&["plan", "-out", "second.plan"]);
    s.edit(
        "replicaCount = 1\nsecretName",
        "replicaCount = 3\nsecretName",
    );
    let out = s.todoplan(&["apply", "second.plan"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(6),
        "a stale plan has its own exit status"
    );
    assert!(text.contains("stale"), "{text}");
    // The first plan file was applied already: the state moved on.
    let out = s.todoplan(&["apply", "first.plan"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("state moved"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn destroy_keeps_data_unless_allowed() {
    let s = Stack::new("e2e-destroy");
    s.ok(&["apply", "--auto-approve"]);
    let text = s.ok(&["destroy", "--auto-approve"]);
    assert!(text.contains("protected and kept"), "{text}");
    let left = s.kubectl(&["get", "sts,deploy,secret,pvc", "-o", "name"]);
    assert!(
        left.contains("secret/") && left.contains("persistentvolumeclaim/"),
        "data must survive: {left}"
    );
    assert!(
        left.contains("statefulset"),
        "postgres has protect = true: {left}"
    );
    assert!(
        !left.contains("deployment.apps/"),
        "unprotected workloads go: {left}"
    );
    s.ok(&["destroy", "--auto-approve", "--allow-data-loss"]);
    let state = std::fs::read_to_string(s.path().join("state/todoplan.state.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(
        v["objects"].as_object().map(|o| o.len()),
        Some(0),
        "{state}"
    );
}

#[test]
fn history_and_rollback_restore_an_earlier_revision() {
    let s = Stack::new("e2e-rollback");
    s.ok(&["apply", "--auto-approve"]);
    s.edit(
        "replicaCount = 1\nsecretName",
        "replicaCount = 2\nsecretName",
    );
    s.ok(&["apply", "--auto-approve", "-m", "two backend replicas"]);
    let history = s.ok(&["history"]);
    assert!(
        history.lines().filter(|l| l.contains("succeeded")).count() >= 2,
        "{history}"
    );
    assert!(history.contains("(two backend replicas)"), "{history}");
    // The revision names the images its objects run, and what changed since revision 1.
    let shown = s.ok(&["history", "show", "2"]);
    assert!(
        shown.contains("Message:  two backend replicas") && shown.contains("image.backend"),
        "{shown}"
    );
    let diff = s.ok(&["history", "diff", "1", "2"]);
    assert!(
        diff.contains("-   replicas: 1") && diff.contains("+   replicas: 2"),
        "{diff}"
    );
    s.ok(&["rollback", "--to", "1", "--auto-approve"]);
    let replicas = s.kubectl(&[
        "get",
        "deploy",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.spec.replicas}{\"\\n\"}{end}",
    ]);
    assert!(
        replicas
            .lines()
            .any(|l| l.contains("backend") && l.ends_with("=1")),
        "{replicas}"
    );
    let history = s.ok(&["history"]);
    assert!(
        history.lines().count() >= 4,
        "rollback is a new revision:\n{history}"
    );
    assert!(
        history.contains("rollback to revision 1"),
        "the revision says it is a rollback:\n{history}"
    );
    // todo.toml still says 2 replicas: the next plan undoes the rollback, and says so.
    let plan = s.ok(&["plan"]);
    assert!(
        plan.contains("was a rollback to revision 1: this plan undoes it"),
        "{plan}"
    );
}

#[test]
fn a_failing_pod_fails_the_apply_fast_with_its_reason_and_atomic_rolls_back() {
    let s = Stack::new("e2e-fail");
    s.ok(&["apply", "--auto-approve"]);
    // Make the backend's pods crash (the test cluster's failure marker).
    let chart = s.path().join("charts/backend/templates/deployment.yaml");
    let t = std::fs::read_to_string(&chart).unwrap();
    let marked = t.replacen(
        "annotations:",
        "annotations:\n        todoplan.dev/test-fail: crashloop",
        1,
    );
    assert_ne!(
        t, marked,
        "the backend Deployment template has pod annotations"
    );
    std::fs::write(&chart, marked).unwrap();
    let started = std::time::Instant::now();
    let out = s.todoplan(&["apply", "--auto-approve", "--atomic"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("CrashLoopBackOff"), "{text}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(170),
        "failed fast, not at the 3m timeout"
    );
    assert!(text.contains("rolling back to revision 1"), "{text}");
    // The last word is about the undo, not an "Apply succeeded" that contradicts the exit code.
    assert!(
        text.contains("Undo (--atomic) succeeded") && !text.contains("Apply succeeded"),
        "{text}"
    );
    let ann = s.kubectl(&[
        "get",
        "deploy",
        "-o",
        "jsonpath={.items[*].spec.template.metadata.annotations}",
    ]);
    assert!(
        !ann.contains("test-fail"),
        "--atomic must restore the previous pod template: {ann}"
    );
}

#[test]
fn secrets_never_appear_outside_the_cluster() {
    let s = Stack::new("e2e-leak");
    let mut outputs = String::new();
    let mut run = |s: &Stack, args: &[&str]| {
        let out = s.todoplan(args);
        outputs.push_str(&String::from_utf8_lossy(&out.stdout));
        outputs.push_str(&String::from_utf8_lossy(&out.stderr));
    };
    // A full cycle with known values: plan in every format, apply a plan file, drift in every
    // format, a rotation, a rollback (refused for the rotated secret: its old value is gone),
    // history, destroy. Errors are output too, and are searched as well.
    for args in [
        &["plan"][..],
        &["plan", "--format", "json"],
        &["plan", "--format", "markdown"],
        &["plan", "--out", "p.plan"],
        &["apply", "p.plan"],
        &["plan", "--offline"],
    ] {
        run(&s, args);
    }
    let mut values = vec![SECRET_API_KEY.to_string()];
    values.extend(secret_values(&s));
    for args in [
        &["drift"][..],
        &["drift", "--format", "json"],
        &["drift", "--format", "markdown"],
        &[
            "apply",
            "--auto-approve",
            "--rotate",
            "secret.app.JWT_SECRET_KEY",
        ],
        &["rollback", "--to", "1", "--auto-approve"],
        &["history"],
        &["destroy", "--auto-approve"],
    ] {
        run(&s, args);
    }
    values.extend(secret_values(&s));
    let mut files = String::new();
    for entry in walk(s.path()) {
        if entry
            .extension()
            .is_some_and(|e| e == "json" || e == "plan" || e == "backup" || e == "lock")
            || entry.to_string_lossy().contains("state")
        {
            files.push_str(&std::fs::read_to_string(&entry).unwrap_or_default());
        }
    }
    assert!(
        outputs.contains("JWT_SECRET_KEY"),
        "the cycle ran and talked about the secret"
    );
    for v in &values {
        assert!(
            !outputs.contains(v.as_str()),
            "a secret value leaked into command output"
        );
        assert!(
            !files.contains(v.as_str()),
            "a secret value leaked into state/ or a plan file"
        );
    }
    assert!(
        files.contains("(sensitive value)"),
        "the redaction marker is there"
    );
}

/// Every value of the stack's Secret, base64 and decoded, read from the cluster.
fn secret_values(s: &Stack) -> Vec<String> {
    use base64::Engine;
    let secret_name = format!("{}-app", s.project);
    let mut values = Vec::new();
    for key in ["JWT_SECRET_KEY", "POSTGRES_PASSWORD", "OPENAI_API_KEY"] {
        let b64 = s.kubectl(&[
            "get",
            "secret",
            &secret_name,
            "-o",
            &format!("jsonpath={{.data.{key}}}"),
        ]);
        assert!(!b64.is_empty(), "secret key {key} exists in the cluster");
        let plain = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(&b64)
                .unwrap(),
        )
        .unwrap();
        values.push(b64);
        values.push(plain);
    }
    values
}

#[test]
fn unreachable_cluster_is_a_diagnostic_and_offline_plan_says_it_did_not_look() {
    let s = Stack::new("e2e-offline");
    let kubeconfig = s.path().join("dead-kubeconfig");
    std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\ncurrent-context: dead\ncontexts: [{name: dead, context: {cluster: dead, user: u}}]\nclusters: [{name: dead, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: x}}]\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_todoplan"))
        .args(["plan"])
        .current_dir(s.path())
        .env("KUBECONFIG", &kubeconfig)
        .env("TODO_OPENAI_API_KEY", SECRET_API_KEY)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot be reached") && err.contains("--offline"),
        "{err}"
    );
    assert!(
        !s.path().join("state/todoplan.state.json").exists(),
        "plan writes nothing"
    );
    let offline = s.ok(&["plan", "--offline"]);
    assert!(offline.contains("the cluster was NOT read"), "{offline}");
}

#[test]
fn a_missing_secret_source_stops_the_plan_before_anything_changes() {
    let s = Stack::new("e2e-missing");
    let out = Command::new(env!("CARGO_BIN_EXE_todoplan"))
        .args(["apply", "--auto-approve"])
        .current_dir(s.path())
        .env_remove("TODO_OPENAI_API_KEY")
        .env("TODOPLAN_VAR_registry", support::registry())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("secret.app")
            && err.contains("OPENAI_API_KEY")
            && err.contains("TODO_OPENAI_API_KEY"),
        "{err}"
    );
    assert!(
        !support::namespace_exists(&s.project),
        "nothing was created"
    );
}

#[test]
fn kill_9_during_apply_then_apply_again_converges_and_recovers_the_lock() {
    let s = Stack::new("e2e-kill");
    let mut child = s
        .command(&["apply", "--auto-approve"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = s.path().join("state/todoplan.lock");
    let state = s.path().join("state/todoplan.state.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    // Kill it once it has written part of the state: mid-apply.
    let held = |lock: &std::path::Path| std::fs::read(lock).is_ok_and(|b| !b.is_empty());
    while !(held(&lock) && state.exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "apply never got going"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        held(&lock),
        "kill -9 leaves the lock file naming its holder"
    );
    let text = s.ok(&["apply", "--auto-approve"]);
    assert!(text.contains("took over the state lock"), "{text}");
    assert!(!held(&lock), "a normal exit releases the lock");
    let plan = s.todoplan(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "converged:\n{}",
        String::from_utf8_lossy(&plan.stdout)
    );
}

#[test]
fn a_second_todoplan_waits_for_or_names_the_lock_holder() {
    let s = Stack::new("e2e-lock");
    std::fs::create_dir_all(s.path().join("state")).unwrap();
    let holder = serde_json::json!({"id": "held-by-test", "pid": 1, "host": "another-host", "command": "todoplan apply", "started_at": "2026-11-22T00:00:00Z"});
    std::fs::write(s.path().join("state/todoplan.lock"), holder.to_string()).unwrap();
    let out = s.todoplan(&["plan", "--lock-timeout", "1s"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("another-host") && err.contains("force-unlock held-by-test"),
        "{err}"
    );
    s.ok(&["force-unlock", "held-by-test"]);
    s.ok(&["plan"]);
}

#[test]
fn an_immutable_field_change_is_a_replace_that_names_the_field() {
    let s = Stack::new("e2e-replace");
    s.ok(&["apply", "--auto-approve"]);
    // A new selector label: Deployment.spec.selector is immutable.
    let helpers = s.path().join("charts/backend/templates/_helpers.tpl");
    let text = std::fs::read_to_string(&helpers).unwrap();
    let marked = text.replacen(
        "app.kubernetes.io/instance: {{ .Release.Name }}",
        "app.kubernetes.io/instance: {{ .Release.Name }}\ntier: api",
        1,
    );
    assert_ne!(
        text, marked,
        "the backend chart's selector labels name the instance"
    );
    std::fs::write(&helpers, marked).unwrap();
    let plan = s.ok(&["plan"]);
    assert!(
        plan.contains("must be replaced") && plan.contains("-/+ apps/v1 Deployment"),
        "{plan}"
    );
    assert!(
        plan.contains("spec.selector"),
        "the reason names the immutable field:\n{plan}"
    );
    s.ok(&["apply", "--auto-approve"]);
    let selector = s.kubectl(&[
        "get",
        "deploy",
        "-o",
        "jsonpath={.items[*].spec.selector.matchLabels.tier}",
    ]);
    assert!(selector.contains("api"), "{selector}");
    let again = s.todoplan(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

#[test]
fn hpa_and_ingress_also_plan_no_changes_after_apply() {
    let s = Stack::new("e2e-kinds");
    s.edit("replicaCount = 1\nsecretName", "replicaCount = 1\nautoscaling = { enabled = true, minReplicas = 1, maxReplicas = 4, targetCPUUtilizationPercentage = 70 }\nsecretName");
    s.edit(
        "ingress.enabled = false",
        "ingress.enabled = true\ningress.host = \"todo.local\"",
    );
    s.ok(&["apply", "--auto-approve"]);
    let kinds = s.kubectl(&["get", "hpa,ingress", "-o", "name"]);
    assert!(
        kinds.contains("horizontalpodautoscaler") && kinds.contains("ingress"),
        "{kinds}"
    );
    let plan = s.todoplan(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "no-op invariant with HPA and Ingress:\n{}",
        String::from_utf8_lossy(&plan.stdout)
    );
}

#[test]
fn a_rejected_object_names_the_field_and_an_unknown_kind_says_what_to_do() {
    let s = Stack::new("e2e-reject");
    let manifests = s.path().join("extra");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(
        manifests.join("svc.yaml"),
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: broken, namespace: {}}}\nspec:\n  ports: [{{port: 70000}}]\n", s.project),
    )
    .unwrap();
    s.edit(
        "[releases.postgres]",
        "[releases.extra]\nchart = \"extra\"\n\n[releases.postgres]",
    );
    // The namespace does not exist yet: the plan still has the server validate every object.
    // A rejected object is an error line of the plan, which is still shown; the exit code says
    // the plan has errors (3).
    let out = s.todoplan(&["plan"]);
    let err = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("rejected") && err.contains("spec.ports[0].port"),
        "{err}"
    );
    assert!(err.contains("cannot be planned"), "{err}");

    std::fs::write(
        manifests.join("svc.yaml"),
        format!(
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w, namespace: {}}}\n",
            s.project
        ),
    )
    .unwrap();
    let out = s.todoplan(&["plan"]);
    let err = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("does not know example.com/v1 Widget") && err.contains("CRD"),
        "{err}"
    );
}

#[test]
fn an_unknown_context_is_a_diagnostic_listing_the_known_ones() {
    let s = Stack::new("e2e-context");
    let out = s.todoplan(&["plan", "--context", "no-such-context"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no-such-context") && err.contains("known contexts"),
        "{err}"
    );
}

#[test]
fn ctrl_c_finishes_in_flight_work_saves_state_and_releases_the_lock() {
    let s = Stack::new("e2e-sigint");
    let child = s
        .command(&["apply", "--auto-approve"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let state = s.path().join("state/todoplan.state.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !state.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "apply never got going"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read(s.path().join("state/todoplan.lock")).map_or(true, |b| b.is_empty()),
        "the lock is released:\n{text}"
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(
        saved["serial"].as_u64().unwrap_or(0) >= 1,
        "state was saved"
    );
    // Whatever was done is recorded: the next apply converges.
    s.ok(&["apply", "--auto-approve"]);
    let plan = s.todoplan(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plan.stdout)
    );
}

#[test]
fn rotate_regenerates_only_the_named_key_and_the_plan_shows_it() {
    let s = Stack::new("e2e-rotate");
    s.ok(&["apply", "--auto-approve"]);
    let secret = format!("{}-app", s.project);
    let read = |key: &str| {
        s.kubectl(&[
            "get",
            "secret",
            &secret,
            "-o",
            &format!("jsonpath={{.data.{key}}}"),
        ])
    };
    let (jwt, pg) = (read("JWT_SECRET_KEY"), read("POSTGRES_PASSWORD"));
    // Without --rotate a generated value is never regenerated.
    s.ok(&["apply", "--auto-approve"]);
    assert_eq!(read("JWT_SECRET_KEY"), jwt);
    let plan = s.ok(&["plan", "--rotate", "secret.app.JWT_SECRET_KEY"]);
    assert!(
        plan.contains("JWT_SECRET_KEY: (sensitive value changed)"),
        "{plan}"
    );
    assert!(
        plan.contains("POSTGRES_PASSWORD: (sensitive value)"),
        "{plan}"
    );
    assert!(
        plan.contains("pods roll"),
        "workloads using the Secret roll:\n{plan}"
    );
    s.ok(&[
        "apply",
        "--auto-approve",
        "--rotate",
        "secret.app.JWT_SECRET_KEY",
    ]);
    assert_ne!(read("JWT_SECRET_KEY"), jwt);
    assert_eq!(read("POSTGRES_PASSWORD"), pg);
    let bad = s.todoplan(&["plan", "--rotate", "secret.app.OPENAI_API_KEY"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not generated"));
}

#[test]
fn a_plan_keeps_its_requests_on_one_http2_connection() {
    let s = Stack::new("e2e-http2");
    s.ok(&["apply", "--auto-approve"]);
    let out = s
        .command(&["plan", "--detailed-exitcode"])
        .env("TODOPLAN_STATS", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let stats = err
        .lines()
        .find(|l| l.starts_with("requests: "))
        .unwrap_or_else(|| panic!("no request statistics in:\n{err}"));
    // "requests: 0 discovery, 16 LIST, 1 GET, 11 dry-run apply, 0 write; ...": every count.
    let requests: usize = stats
        .trim_start_matches("requests: ")
        .split(';')
        .next()
        .unwrap_or_default()
        .split(", ")
        .filter_map(|part| {
            part.split_once(' ')
                .and_then(|(n, _)| n.parse::<usize>().ok())
        })
        .sum();
    // More requests than a plan keeps in flight (16): over HTTP/1.1 the ones in flight at once
    // would each need a connection, over HTTP/2 they share one.
    assert!(requests > 16, "{stats}");
    assert!(stats.ends_with("; 1 connection(s) opened"), "{stats}");
}
