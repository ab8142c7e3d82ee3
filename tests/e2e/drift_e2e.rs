//! End-to-end: drift made by hand with kubectl is found, attributed and restored.
#![cfg(feature = "e2e")]

use crate::support;

use serde_json::Value;
use support::stack::Stack;

fn drift_json(s: &Stack) -> Vec<Value> {
    let out = s.todoplan(&["drift", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["drift"].as_array().cloned().unwrap_or_default()
}

fn find<'a>(items: &'a [Value], address_part: &str, field_part: &str) -> Option<&'a Value> {
    items.iter().find(|d| {
        d["address"]
            .as_str()
            .is_some_and(|a| a.contains(address_part))
            && d["field"].as_str().is_some_and(|f| f.contains(field_part))
    })
}

fn names(s: &Stack, kind: &str, part: &str) -> String {
    let all = s.kubectl(&["get", kind, "-o", "jsonpath={.items[*].metadata.name}"]);
    all.split_whitespace()
        .find(|n| n.contains(part))
        .unwrap_or_else(|| panic!("no {kind} with {part} in {all}"))
        .to_string()
}

#[test]
fn hand_edits_are_found_with_address_field_and_manager_then_apply_restores_them() {
    let s = Stack::new("e2e-drift");
    s.ok(&["apply", "--auto-approve"]);
    assert!(drift_json(&s).is_empty(), "no drift right after apply");
    let code = s.todoplan(&["drift", "--detailed-exitcode"]).status.code();
    assert_eq!(code, Some(0));

    let backend = names(&s, "deploy", "backend");
    let frontend_svc = names(&s, "svc", "frontend");
    s.kubectl(&["scale", &format!("deployment/{backend}"), "--replicas=3"]);
    s.kubectl(&[
        "set",
        "env",
        &format!("deployment/{backend}"),
        "HAND_MADE=1",
    ]);
    s.kubectl(&["label", &format!("deployment/{backend}"), "edited-by=hand"]);
    s.kubectl(&["delete", "service", &frontend_svc]);

    let items = drift_json(&s);
    let scale = find(
        &items,
        &format!("Deployment/{}/{backend}", s.project),
        "spec.replicas",
    )
    .unwrap_or_else(|| panic!("scale not found: {items:#?}"));
    assert_eq!(scale["recorded"], Value::from(1));
    assert_eq!(scale["live"], Value::from(3));
    assert!(
        scale["manager"]
            .as_str()
            .is_some_and(|m| m.starts_with("kubectl")),
        "{scale}"
    );
    let env = find(&items, &backend, "env[name=HAND_MADE]")
        .unwrap_or_else(|| panic!("set env not found: {items:#?}"));
    assert!(
        env["manager"]
            .as_str()
            .is_some_and(|m| m.starts_with("kubectl")),
        "{env}"
    );
    let label = find(&items, &backend, "metadata.labels.edited-by")
        .unwrap_or_else(|| panic!("label not found: {items:#?}"));
    assert_eq!(label["live"], Value::from("hand"));
    let deleted = items
        .iter()
        .find(|d| d["kind"] == "deleted")
        .unwrap_or_else(|| panic!("deleted service not found: {items:#?}"));
    assert!(deleted["address"].as_str().unwrap().contains(&frontend_svc));
    assert_eq!(
        s.todoplan(&["drift", "--detailed-exitcode"]).status.code(),
        Some(2)
    );

    let plan = s.ok(&["plan"]);
    assert!(
        plan.contains("Changed outside todoplan"),
        "plan shows drift first:\n{plan}"
    );

    s.ok(&["apply", "--auto-approve"]);
    let after = drift_json(&s);
    assert!(after.is_empty(), "apply restores everything: {after:#?}");
    let env_now = s.kubectl(&[
        "get",
        "deploy",
        &backend,
        "-o",
        "jsonpath={.spec.template.spec.containers[*].env[*].name}",
    ]);
    assert!(!env_now.contains("HAND_MADE"), "{env_now}");
}

#[test]
fn controller_owned_replicas_and_ignored_paths_are_not_drift() {
    let s = Stack::new("e2e-nodrift");
    s.edit(
        "[releases.backend]\n",
        "[releases.backend]\nignore_changes = [\"Deployment/*:metadata.annotations.note\"]\n",
    );
    s.edit("replicaCount = 1\nsecretName", "replicaCount = 1\nautoscaling = { enabled = true, minReplicas = 1, maxReplicas = 5, targetCPUUtilizationPercentage = 80 }\nsecretName");
    s.ok(&["apply", "--auto-approve"]);
    let backend = names(&s, "deploy", "backend");
    // The HPA controller writes replicas through the scale subresource as
    // kube-controller-manager. The test cluster has no metrics server to make it do so,
    // so the write is made with that manager's identity.
    s.kubectl(&[
        "patch",
        "deployment",
        &backend,
        "--subresource=scale",
        "--field-manager=kube-controller-manager",
        "--type=merge",
        "-p",
        "{\"spec\":{\"replicas\":4}}",
    ]);
    s.kubectl(&[
        "annotate",
        &format!("deployment/{backend}"),
        "note=ignored-by-spec",
    ]);
    let items = drift_json(&s);
    assert!(
        items.is_empty(),
        "neither HPA replicas nor an ignore_changes path is drift: {items:#?}"
    );
}

#[test]
fn a_namespace_made_with_kubectl_create_is_adopted_without_lasting_drift() {
    let s = Stack::new("e2e-adoptns");
    // The namespace exists before the first apply, made by hand (the API server adds its
    // kubernetes.io/metadata.name label, credited to kubectl-create).
    support::kubectl(["create", "namespace", &s.project]);
    let plan = s.ok(&["plan"]);
    assert!(
        plan.contains(&format!("namespace.{} will be updated in-place", s.project)),
        "{plan}"
    );
    // Only the labels todoplan adds are shown: apiVersion and kind do not move.
    assert!(!plan.contains("- kind: Namespace"), "{plan}");
    s.ok(&["apply", "--auto-approve"]);
    let again = s.todoplan(&["plan", "--detailed-exitcode"]);
    let text = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{text}");
    assert!(!text.contains("Changed outside todoplan"), "{text}");
    assert!(drift_json(&s).is_empty(), "{:?}", drift_json(&s));
}
