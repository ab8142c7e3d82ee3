//! End-to-end tests of todoplan's promises, one per reproduced break (issue "Every safety promise
//! holds by construction"), against the local cluster through the real binary.
#![cfg(feature = "e2e")]

use crate::support;

use std::process::Output;

use support::kubectl;
use support::stack::Stack;

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Puts the test cluster's failure marker (`crashloop`, `never-ready`) on the backend's pods.
fn mark_backend_pods(s: &Stack, marker: &str) -> String {
    let chart = s.path().join("charts/backend/templates/deployment.yaml");
    let good = std::fs::read_to_string(&chart).unwrap();
    let marked = good.replacen(
        "annotations:",
        &format!("annotations:\n        todoplan.dev/test-fail: {marker}"),
        1,
    );
    assert_ne!(
        good, marked,
        "the backend Deployment template has pod annotations"
    );
    std::fs::write(&chart, marked).unwrap();
    good
}

fn uid(s: &Stack, what: &str) -> String {
    s.kubectl(&["get", what, "-o", "jsonpath={.metadata.uid}"])
}

/// The todo.toml stanza of the `uploads` release.
const UPLOADS_RELEASE: &str = "[releases.uploads]\nchart = \"uploads\"\nprotect = true\n\n";

/// Declares a `protect = true` release of one PersistentVolumeClaim, `uploads`.
fn declare_uploads_release(s: &Stack) {
    write_uploads_claim(s, "ReadWriteOnce");
    s.edit(
        "[releases.postgres]",
        &format!("{UPLOADS_RELEASE}[releases.postgres]"),
    );
}

/// The `uploads` release's one manifest: its claim, with `access_mode`.
fn write_uploads_claim(s: &Stack, access_mode: &str) {
    let dir = s.path().join("uploads");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("pvc.yaml"),
        format!(
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: uploads, namespace: {}}}\nspec:\n  accessModes: [{access_mode}]\n  resources: {{requests: {{storage: 1Gi}}}}\n",
            s.project
        ),
    )
    .unwrap();
}

// ---- 1. What was approved is exactly what gets applied, or nothing is. ----

#[test]
fn a_saved_plan_is_refused_when_a_variable_the_registry_or_the_cluster_moved() {
    let s = Stack::new("e2e-exact");
    s.ok(&["apply", "--auto-approve"]);
    s.ok(&["plan", "--out", "p.plan"]);
    let before = s.resource_versions();

    // A variable given only at apply time.
    let out = s
        .command(&["apply", "p.plan"])
        .env("TODOPLAN_VAR_log_level", "debug")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "stale: {}", text(&out));
    assert!(text(&out).contains("stale"), "{}", text(&out));

    // Another registry: the images would be rewritten.
    let out = s
        .command(&["apply", "p.plan"])
        .env("TODOPLAN_VAR_registry", "127.0.0.1:5999")
        .output()
        .unwrap();
    // Refused, as stale or because that registry does not answer: nothing applied either way.
    assert!(matches!(out.status.code(), Some(1 | 6)), "{}", text(&out));

    // A ConfigMap deleted between plan and apply: the reviewed plan did not create it.
    let cm = s.kubectl(&[
        "get",
        "cm",
        "-o",
        "name",
        "-l",
        "todoplan.dev/release=backend",
    ]);
    let cm = cm
        .lines()
        .next()
        .expect("the backend has a ConfigMap")
        .to_string();
    s.kubectl(&["delete", &cm]);
    let out = s.todoplan(&["apply", "p.plan"]);
    assert_eq!(out.status.code(), Some(6), "stale: {}", text(&out));
    assert!(text(&out).contains("moved"), "{}", text(&out));
    let mut after = s.resource_versions();
    let mut expected = before.clone();
    expected.retain(|k, _| !k.starts_with("ConfigMap/"));
    after.retain(|k, _| !k.starts_with("ConfigMap/"));
    assert_eq!(
        after, expected,
        "nothing was written by the refused applies"
    );
}

#[test]
fn a_hand_edited_plan_file_is_refused() {
    let s = Stack::new("e2e-tamper");
    s.ok(&["apply", "--auto-approve"]);
    s.edit(
        "replicaCount = 1\nsecretName",
        "replicaCount = 2\nsecretName",
    );
    s.ok(&["plan", "--out", "p.plan"]);
    let path = s.path().join("p.plan");
    let original = std::fs::read_to_string(&path).unwrap();
    assert!(original.contains("\"replicas\": 2"), "{original}");
    std::fs::write(
        &path,
        original.replace("\"replicas\": 2", "\"replicas\": 5"),
    )
    .unwrap();
    let out = s.todoplan(&["apply", "p.plan"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("modified"), "{}", text(&out));
    let replicas = s.kubectl(&[
        "get",
        "deploy",
        "-l",
        "todoplan.dev/release=backend",
        "-o",
        "jsonpath={.items[0].spec.replicas}",
    ]);
    assert_eq!(replicas, "1", "a refused plan writes nothing");
    // The original file applies.
    std::fs::write(&path, original).unwrap();
    s.ok(&["apply", "p.plan"]);
}

// ---- 2. Data is never lost without an explicit flag. ----

#[test]
fn a_protected_claim_refused_in_the_plan_survives_apply_with_the_flag_given_late() {
    let s = Stack::new("e2e-late-flag");
    declare_uploads_release(&s);
    s.ok(&["apply", "--auto-approve"]);
    let claim = uid(&s, "pvc/uploads");
    // The release goes from todo.toml: the plan refuses to delete its claim.
    s.edit(UPLOADS_RELEASE, "");
    let plan = s.ok(&["plan", "--out", "p.plan"]);
    assert!(plan.contains("will NOT be changed (protected)"), "{plan}");
    assert!(plan.contains("0 to destroy"), "{plan}");
    // The flag given at apply time cannot widen what was reviewed.
    let out = s.todoplan(&["apply", "--allow-data-loss", "p.plan"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("cannot be given with a saved plan"),
        "{}",
        text(&out)
    );
    s.ok(&["apply", "p.plan"]);
    assert_eq!(
        uid(&s, "pvc/uploads"),
        claim,
        "the claim is the same object"
    );
}

#[test]
fn a_protected_claim_whose_immutable_field_changes_is_not_replaced() {
    let s = Stack::new("e2e-replace-protect");
    declare_uploads_release(&s);
    s.ok(&["apply", "--auto-approve"]);
    let claim = uid(&s, "pvc/uploads");
    write_uploads_claim(&s, "ReadWriteMany");
    let plan = s.ok(&["plan"]);
    assert!(plan.contains("will NOT be changed (protected)"), "{plan}");
    assert!(plan.contains("replacing it would delete it"), "{plan}");
    s.ok(&["apply", "--auto-approve"]);
    assert_eq!(uid(&s, "pvc/uploads"), claim, "not deleted, not replaced");
    // With the flag, it is replaced, and says why in one line naming the field.
    let plan = s.ok(&["plan", "--allow-data-loss"]);
    assert!(plan.contains("must be replaced"), "{plan}");
    let reason = plan
        .lines()
        .find(|l| l.contains("immutable field"))
        .unwrap_or_else(|| panic!("{plan}"));
    assert!(reason.len() < 400, "one short line: {reason}");
}

#[test]
fn a_statefulset_claim_template_change_is_planned_as_an_orphaning_replace() {
    let s = Stack::new("e2e-sts-size");
    s.ok(&["apply", "--auto-approve"]);
    let claims_before = s.kubectl(&["get", "pvc", "-o", "jsonpath={.items[*].metadata.uid}"]);
    s.edit("persistence.size = \"1Gi\"", "persistence.size = \"2Gi\"");
    for format in ["text", "markdown", "json"] {
        let out = s.todoplan(&["plan", "--format", format]);
        assert_eq!(out.status.code(), Some(0), "{format}: {}", text(&out));
        let shown = text(&out);
        assert!(shown.contains("volumeClaimTemplates"), "{format}: {shown}");
        assert!(
            !shown.contains("Forbidden"),
            "{format}: no raw server text: {shown}"
        );
    }
    s.ok(&["apply", "--auto-approve"]);
    let claims_after = s.kubectl(&["get", "pvc", "-o", "jsonpath={.items[*].metadata.uid}"]);
    assert_eq!(
        claims_after, claims_before,
        "the claims and their data stay"
    );
    let again = s.todoplan(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
}

#[test]
fn destroy_never_deletes_a_namespace_holding_objects_it_does_not_delete() {
    let s = Stack::new("e2e-ns-foreign");
    // The namespace exists before todoplan: todoplan adopts it.
    kubectl(["create", "namespace", &s.project]);
    kubectl([
        "-n",
        &s.project,
        "create",
        "configmap",
        "foreign",
        "--from-literal=a=b",
    ]);
    s.ok(&["apply", "--auto-approve"]);
    let out = s.ok(&["destroy", "--auto-approve", "--allow-data-loss"]);
    assert!(out.contains("holds"), "{out}");
    let left = s.kubectl(&["get", "cm", "foreign", "-o", "name"]);
    assert_eq!(
        left.trim(),
        "configmap/foreign",
        "the foreign ConfigMap survives"
    );
}

// ---- 3. No secret byte leaves the cluster. ----

#[test]
fn a_secret_applied_by_kubectl_never_shows_its_last_applied_annotation() {
    let s = Stack::new("e2e-last-applied");
    s.ok(&["apply", "--auto-approve"]);
    let secret = s.kubectl(&["get", "secret", &format!("{}-app", s.project), "-o", "json"]);
    let mut v: serde_json::Value = serde_json::from_str(&secret).unwrap();
    let meta = v["metadata"].as_object_mut().unwrap();
    for f in [
        "managedFields",
        "resourceVersion",
        "uid",
        "creationTimestamp",
    ] {
        meta.remove(f);
    }
    support::kubectl_apply(&s.project, &v.to_string());
    let values: Vec<String> = v["data"]
        .as_object()
        .unwrap()
        .values()
        .map(|b| b.as_str().unwrap().to_string())
        .collect();
    let mut outputs = Vec::new();
    for args in [
        vec!["drift"],
        vec!["drift", "--format", "json"],
        vec!["plan"],
        vec!["plan", "--format", "markdown"],
        vec!["plan", "--format", "json", "--out", "p.plan"],
    ] {
        outputs.push(text(&s.todoplan(&args)));
    }
    outputs.push(std::fs::read_to_string(s.path().join("p.plan")).unwrap());
    for out in &outputs {
        for b64 in &values {
            assert!(!out.contains(b64.as_str()), "a base64 value leaked:\n{out}");
        }
        assert!(
            !out.contains(support::stack::SECRET_API_KEY),
            "a plain value leaked:\n{out}"
        );
    }
}

// ---- 4. Whatever anyone does by hand, the next plan is true and the next apply converges. ----

#[test]
fn two_env_vars_added_by_hand_are_removed_by_the_next_apply() {
    let s = Stack::new("e2e-set-env");
    s.ok(&["apply", "--auto-approve"]);
    let deploy = format!("deploy/{}-backend", s.project);
    let name = s.kubectl(&[
        "get",
        "deploy",
        "-l",
        "todoplan.dev/release=backend",
        "-o",
        "name",
    ]);
    let deploy = if name.trim().is_empty() {
        deploy
    } else {
        name.trim().to_string()
    };
    s.kubectl(&["set", "env", &deploy, "A=1", "B=2"]);
    s.ok(&["apply", "--auto-approve"]);
    let env = s.kubectl(&[
        "get",
        &deploy,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env[*].name}",
    ]);
    assert!(
        !env.split_whitespace().any(|n| n == "A" || n == "B"),
        "{env}"
    );
    let again = s.todoplan(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
}

#[test]
fn an_ignored_replica_count_is_not_set_back_by_apply() {
    let s = Stack::new("e2e-ignore");
    s.edit(
        "[releases.backend]\nchart = \"charts/backend\"",
        "[releases.backend]\nchart = \"charts/backend\"\nignore_changes = [\"Deployment/*:spec.replicas\"]",
    );
    s.ok(&["apply", "--auto-approve"]);
    let name = s.kubectl(&[
        "get",
        "deploy",
        "-l",
        "todoplan.dev/release=backend",
        "-o",
        "name",
    ]);
    let deploy = name.trim().to_string();
    s.kubectl(&["scale", &deploy, "--replicas=2"]);
    let drift = s.ok(&["drift"]);
    assert!(drift.contains("No drift"), "{drift}");
    s.ok(&["apply", "--auto-approve"]);
    let replicas = s.kubectl(&["get", &deploy, "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "2", "apply keeps what drift ignores");
}

#[test]
fn an_object_deleted_by_hand_and_then_undeclared_is_forgotten() {
    let s = Stack::new("e2e-forget");
    s.ok(&["apply", "--auto-approve"]);
    let name = s.kubectl(&[
        "get",
        "deploy",
        "-l",
        "todoplan.dev/release=frontend",
        "-o",
        "name",
    ]);
    s.kubectl(&["delete", name.trim()]);
    // The frontend release goes from todo.toml (and from the prod overlay, which names it).
    let path = s.path().join("todo.toml");
    let spec = std::fs::read_to_string(&path).unwrap();
    let cut = spec.find("[releases.frontend]").unwrap();
    let resume = spec.find("# `--env prod`").unwrap();
    let overlay = spec.find("[env.prod.releases.frontend]").unwrap();
    let new = format!("{}{}", &spec[..cut], &spec[resume..overlay]);
    std::fs::write(&path, new).unwrap();
    let plan = s.ok(&["plan"]);
    assert!(
        plan.contains("will be removed from state (already deleted)"),
        "{plan}"
    );
    s.ok(&["apply", "--auto-approve"]);
    let drift = s.todoplan(&["drift", "--detailed-exitcode"]);
    assert_eq!(drift.status.code(), Some(0), "{}", text(&drift));
}

#[test]
fn a_rollout_that_never_became_ready_is_waited_for_again() {
    let s = Stack::new("e2e-taint");
    s.ok(&["apply", "--auto-approve"]);
    mark_backend_pods(&s, "never-ready");
    s.edit(
        "timeout = \"3m\"\n\n[releases.backend.values]",
        "timeout = \"8s\"\n\n[releases.backend.values]",
    );
    let out = s.todoplan(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    let plan = s.ok(&["plan"]);
    assert!(
        plan.contains("tainted"),
        "the retry does not say No changes: {plan}"
    );
}

// ---- 6. Two deployments never see or touch each other. ----

#[test]
fn a_second_state_in_the_same_namespace_is_an_error_naming_both_instances() {
    let s = Stack::new("e2e-two-states");
    s.ok(&["apply", "--auto-approve"]);
    let rv = s.resource_versions();
    let out = s
        .command(&["plan"])
        .env("TODOPLAN_FILE", s.path().join("todo.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The same project with its own (empty) state dir.
    std::fs::write(
        s.path().join("second.toml"),
        std::fs::read_to_string(s.path().join("todo.toml"))
            .unwrap()
            .replace("dir = \"state\"", "dir = \"state-second\""),
    )
    .unwrap();
    let out = s.todoplan(&["--file", "second.toml", "plan"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("belongs to another instance"),
        "{}",
        text(&out)
    );
    let out = s.todoplan(&["--file", "second.toml", "apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(
        s.resource_versions(),
        rv,
        "the second instance wrote nothing"
    );
    let out = s.todoplan(&[
        "--file",
        "second.toml",
        "destroy",
        "--auto-approve",
        "--allow-data-loss",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        s.resource_versions(),
        rv,
        "its destroy deleted nothing of the first"
    );
    let drift = s.todoplan(&["drift", "--detailed-exitcode"]);
    assert_eq!(drift.status.code(), Some(0), "{}", text(&drift));
}

#[test]
fn deploying_the_fix_for_a_crashing_revision_succeeds() {
    let s = Stack::new("e2e-fix-crash");
    s.ok(&["apply", "--auto-approve"]);
    let good = mark_backend_pods(&s, "crashloop");
    let out = s.todoplan(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(text(&out).contains("CrashLoopBackOff"), "{}", text(&out));
    // The fix: while the crashing revision's pods still exist, only the new revision counts.
    std::fs::write(
        s.path().join("charts/backend/templates/deployment.yaml"),
        &good,
    )
    .unwrap();
    let out = s.todoplan(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn an_offline_plan_of_an_unchanged_checkout_has_no_changes_and_needs_no_secret_source() {
    let s = Stack::new("e2e-offline");
    s.ok(&["apply", "--auto-approve"]);
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let out = s
            .command(&["plan", "--offline", "--detailed-exitcode"])
            .env_remove("TODO_OPENAI_API_KEY")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        outputs.push(String::from_utf8_lossy(&out.stdout).to_string());
    }
    assert!(outputs[0].contains("No changes"), "{}", outputs[0]);
    assert_eq!(outputs[0], outputs[1], "the same plan every run");
    // A real change still shows offline.
    s.edit(
        "replicaCount = 1\nsecretName",
        "replicaCount = 2\nsecretName",
    );
    let plan = s.ok(&["plan", "--offline"]);
    assert!(plan.contains("1 to change"), "{plan}");
    assert!(
        !plan.contains("pods roll: the checksum of Secret"),
        "{plan}"
    );
}

#[test]
fn dev_and_prod_in_one_cluster_never_see_or_touch_each_other_and_share_image_digests() {
    let s = Stack::new("e2e-envs");
    let prod_ns = format!("{}-prod", s.project);
    s.edit(
        "[env.prod.variables.log_level]",
        &format!("[env.prod.cluster]\nnamespace = \"{prod_ns}\"\n\n[env.prod.variables.log_level]"),
    );
    s.ok(&["apply", "--auto-approve"]);
    s.ok(&["--env", "prod", "apply", "--auto-approve"]);
    assert!(
        s.path()
            .join("state/env/prod/todoplan.state.json")
            .is_file(),
        "prod has its own state"
    );
    // No cross-drift, nothing planned against the other environment.
    for env in [&[][..], &["--env", "prod"][..]] {
        let mut args = env.to_vec();
        args.extend(["drift", "--detailed-exitcode"]);
        let out = s.todoplan(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        let mut args = env.to_vec();
        args.extend(["plan", "--detailed-exitcode"]);
        let out = s.todoplan(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }
    // The same build context: the same image reference in both.
    let image = |ns: &str| {
        kubectl([
            "-n",
            ns,
            "get",
            "deploy",
            "-l",
            "todoplan.dev/release=backend",
            "-o",
            "jsonpath={.items[0].spec.template.spec.containers[0].image}",
        ])
    };
    assert_eq!(
        image(&s.project),
        image(&prod_ns),
        "prod runs what dev tested"
    );
    // Destroying prod leaves dev alone.
    let dev = s.resource_versions();
    s.ok(&[
        "--env",
        "prod",
        "destroy",
        "--auto-approve",
        "--allow-data-loss",
    ]);
    assert_eq!(
        s.resource_versions(),
        dev,
        "dev untouched by prod's destroy"
    );
    let _ = std::process::Command::new("kubectl")
        .args(["delete", "namespace", &prod_ns, "--wait=false"])
        .output();
}

#[test]
fn target_limits_plan_apply_and_destroy_to_an_address_and_its_dependencies() {
    let s = Stack::new("e2e-target");
    let plan = s.ok(&["plan", "--target", "secret.app"]);
    assert!(plan.contains("--target secret.app"), "the warning: {plan}");
    assert!(plan.contains("secret.app will be created"), "{plan}");
    assert!(!plan.contains("release.backend"), "{plan}");
    s.ok(&["apply", "--auto-approve"]);
    let out = s.todoplan(&["plan", "--target", "release.nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("--target release.nope"),
        "{}",
        text(&out)
    );
    s.ok(&["destroy", "--auto-approve", "--target", "release.frontend"]);
    let left = s.kubectl(&["get", "deploy", "-o", "name"]);
    assert!(!left.contains("frontend"), "{left}");
    assert!(left.contains("backend"), "only the target goes: {left}");
}

#[test]
fn a_secret_key_nobody_provides_is_refused_at_plan_time_before_any_write() {
    let s = Stack::new("e2e-missing-key");
    // The backend reads its database password from a key [secrets.app.keys] does not declare:
    // each object is valid alone (a dry-run accepts it), the pod would crash-loop.
    s.edit(
        "database.passwordKey = \"POSTGRES_PASSWORD\"",
        "database.passwordKey = \"DB_PASSWORD\"",
    );
    let out = s.todoplan(&["plan"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("ref.secret-key"), "{}", text(&out));
    assert!(text(&out).contains("DB_PASSWORD"), "{}", text(&out));
    let out = s.todoplan(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        !support::namespace_exists(&s.project),
        "nothing was written, not even the namespace"
    );
}

fn git(s: &Stack, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=test", "-c", "user.email=test@example.test"])
        .args(args)
        .current_dir(s.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
}

/// `plan --base REF` in a pull request: main already carries an unapplied change (the backend's
/// CORS origins); the PR adds another (the frontend's replicas). The comment marks the first as
/// pending on main and leaves the second as this PR's own.
#[test]
fn a_pr_plan_marks_the_changes_already_pending_on_its_base() {
    let s = Stack::new("e2e-base");
    git(&s, &["init", "-q", "-b", "main"]);
    git(&s, &["add", "-A"]);
    git(&s, &["commit", "-qm", "applied"]);
    s.ok(&["apply", "--auto-approve"]);
    s.edit(
        "CORS_ORIGINS = \"http://localhost:3000\"",
        "CORS_ORIGINS = \"https://todo.example.test\"",
    );
    git(&s, &["commit", "-qam", "main: CORS (not applied yet)"]);
    git(&s, &["checkout", "-qb", "pr"]);
    s.edit(
        "replicaCount = 1\nservice.port = 3000",
        "replicaCount = 2\nservice.port = 3000",
    );
    git(&s, &["commit", "-qam", "pr: two frontends"]);

    let comment = s.ok(&["plan", "--base", "main", "--format", "markdown"]);
    let ns = &s.project;
    assert!(
        comment.contains("Compared with main ("),
        "the header names the base:\n{comment}"
    );
    let row = |address: &str| {
        comment
            .lines()
            .find(|l| l.starts_with("| ") && l.contains(&format!("`{address}`")))
            .unwrap_or_else(|| panic!("no table row for {address}:\n{comment}"))
            .to_string()
    };
    assert!(
        row(&format!("release.backend/v1/ConfigMap/{ns}/backend")).contains("_pending on `main`_"),
        "main's change is marked as pending there:\n{comment}"
    );
    assert!(
        !row(&format!(
            "release.frontend/apps/v1/Deployment/{ns}/frontend"
        ))
        .contains("_pending"),
        "the PR's own change is not:\n{comment}"
    );
    // A ref the clone does not have is a diagnostic, not a plan against nothing.
    let out = s.todoplan(&["plan", "--base", "no-such-branch"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("`no-such-branch` is not a commit of this repository"),
        "{}",
        text(&out)
    );
}

/// The plan says why a release changes: the values leaf that differs from the last apply, with
/// the todo.toml line that sets it now. A credential-like value is recorded only as a digest.
#[test]
fn the_plan_names_the_changed_value_and_its_line() {
    let s = Stack::new("e2e-why");
    s.edit(
        "database.host = ",
        "unused.password = \"s3cr3t-literal-pass\"\ndatabase.host = ",
    );
    s.ok(&["apply", "--auto-approve"]);
    for file in support::stack::walk(&s.path().join("state")) {
        let content = std::fs::read(&file).unwrap();
        assert!(
            !String::from_utf8_lossy(&content).contains("s3cr3t-literal-pass"),
            "{} holds the literal password",
            file.display()
        );
    }
    s.edit(
        "CORS_ORIGINS = \"http://localhost:3000\"",
        "CORS_ORIGINS = \"https://todo.example.test\"",
    );
    let line = std::fs::read_to_string(s.path().join("todo.toml"))
        .unwrap()
        .lines()
        .position(|l| l.contains("https://todo.example.test"))
        .unwrap()
        + 1;
    let plan = s.ok(&["plan"]);
    assert!(
        plan.contains(&format!(
            "Why: values changed since the last apply\n  release.backend: values.config.CORS_ORIGINS: \"http://localhost:3000\" → \"https://todo.example.test\" (todo.toml:{line})\n"
        )),
        "{plan}"
    );
    s.edit(
        "unused.password = \"s3cr3t-literal-pass\"",
        "unused.password = \"an0ther-literal-pass\"",
    );
    let plan = s.ok(&["plan"]);
    assert!(
        plan.contains("values.unused.password: (sensitive value) "),
        "a changed credential shows as changed, by digest:\n{plan}"
    );
    assert!(!plan.contains("an0ther-literal-pass") && !plan.contains("s3cr3t-literal-pass"));
}
