//! `todoplan rbac`: the printed roles are enough, and no more than enough. A ServiceAccount bound
//! to the `--plan` role plans the root stack; one bound to the `--apply` role applies it, and the
//! next plan (as the planner) is empty; the planner cannot destroy it (the API server's refusal is
//! shown), the applier can.
#![cfg(feature = "e2e")]

use crate::support;

use std::process::Output;

use support::stack::Stack;
use support::{kubectl, run_tool};

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A kubeconfig that talks to the test cluster as `namespace/name`, with a token the API server
/// issued for it.
fn kubeconfig_as(dir: &std::path::Path, namespace: &str, name: &str) -> std::path::PathBuf {
    let token = kubectl(["-n", namespace, "create", "token", name, "--duration", "1h"]);
    let server = kubectl([
        "config",
        "view",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ]);
    let ca = kubectl([
        "config",
        "view",
        "--minify",
        "--raw",
        "-o",
        "jsonpath={.clusters[0].cluster.certificate-authority-data}",
    ]);
    let ca_file = kubectl([
        "config",
        "view",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.certificate-authority}",
    ]);
    let cluster = if !ca.trim().is_empty() {
        format!("certificate-authority-data: {}", ca.trim())
    } else if !ca_file.trim().is_empty() {
        format!("certificate-authority: {}", ca_file.trim())
    } else {
        "insecure-skip-tls-verify: true".to_string()
    };
    let path = dir.join(format!("kubeconfig-{name}"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    {cluster}\nusers:\n- name: {name}\n  user:\n    token: {}\ncontexts:\n- name: {name}\n  context: {{cluster: test, user: {name}}}\ncurrent-context: {name}\n",
            server.trim(),
            token.trim()
        ),
    )
    .unwrap();
    path
}

fn apply_manifest(yaml: &str) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), yaml).unwrap();
    let out = run_tool("kubectl", ["apply", "-f", file.path().to_str().unwrap()]);
    assert!(out.status.success(), "kubectl apply:\n{}", text(&out));
}

#[test]
fn the_printed_roles_let_a_ci_account_plan_or_apply_and_the_plan_role_cannot_delete() {
    let s = Stack::new("e2e-rbac");
    let accounts = format!("{}-ci", s.project);
    kubectl(["create", "namespace", &accounts]);
    for account in ["planner", "applier"] {
        kubectl(["-n", &accounts, "create", "serviceaccount", account]);
    }
    let plan_roles = s.ok(&[
        "rbac",
        "--plan",
        "--service-account",
        &format!("{accounts}/planner"),
    ]);
    let apply_roles = s.ok(&[
        "rbac",
        "--apply",
        "--service-account",
        &format!("{accounts}/applier"),
    ]);
    assert!(
        plan_roles.contains(&format!("name: todoplan-{}-plan", s.project)),
        "{plan_roles}"
    );
    assert!(
        !plan_roles.contains("- delete") && !plan_roles.contains("- update"),
        "the plan role cannot delete or update:\n{plan_roles}"
    );
    apply_manifest(&plan_roles);
    apply_manifest(&apply_roles);

    let planner = kubeconfig_as(s.path(), &accounts, "planner");
    let applier = kubeconfig_as(s.path(), &accounts, "applier");
    let as_account = |kubeconfig: &std::path::Path, args: &[&str]| {
        s.command(args)
            .env("KUBECONFIG", kubeconfig)
            .output()
            .unwrap()
    };

    let plan = as_account(&planner, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(2),
        "the plan account plans (changes pending):\n{}",
        text(&plan)
    );
    let applied = as_account(&applier, &["apply", "--auto-approve"]);
    assert!(
        applied.status.success(),
        "the apply account applies:\n{}",
        text(&applied)
    );
    let again = as_account(&planner, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let refused = as_account(&planner, &["destroy", "--auto-approve"]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("cannot delete resource"),
        "the API server's own refusal is shown:\n{}",
        text(&refused)
    );
    let destroyed = as_account(&applier, &["destroy", "--auto-approve"]);
    assert!(destroyed.status.success(), "{}", text(&destroyed));
    for kind in ["clusterrolebinding", "clusterrole"] {
        for mode in ["plan", "apply"] {
            kubectl(["delete", kind, &format!("todoplan-{}-{mode}", s.project)]);
        }
    }
    kubectl(["delete", "namespace", &accounts, "--wait=false"]);
}

/// A release that ships a Role and a RoleBinding to it (and a RoleBinding to a ClusterRole),
/// planned and applied by a ServiceAccount bound to the printed roles: the API server lets it
/// write RBAC objects only with `escalate` and `bind` (it checks a binding against the role,
/// which the plan has not created yet), so the printed roles grant them for the RBAC kinds the
/// release renders.
#[test]
fn the_printed_roles_let_a_ci_account_manage_roles_and_bindings_in_one_run() {
    support::require_cluster();
    let project = support::unique_name("e2e-rbac-roles");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("todo.toml"),
        format!(
            "[project]\nname = \"{project}\"\n[cluster]\nnamespace = \"{project}\"\n[state]\nbackend = \"local\"\ndir = \"state\"\n\n[releases.access]\nchart = \"access\"\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("access")).unwrap();
    std::fs::write(
        dir.path().join("access/objects.yaml"),
        format!(
            r#"apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: config-writer, namespace: {project}}}
rules: [{{apiGroups: [""], resources: [configmaps], verbs: [get, update, patch]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: app-writes-config, namespace: {project}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: config-writer}}
subjects: [{{kind: ServiceAccount, name: default, namespace: {project}}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: app-views, namespace: {project}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}}
subjects: [{{kind: ServiceAccount, name: default, namespace: {project}}}]
"#
        ),
    )
    .unwrap();
    let accounts = format!("{project}-ci");
    kubectl(["create", "namespace", &accounts]);
    let _cleanup = support::DeleteNamespaceOnDrop(accounts.clone());
    let _project_ns = support::DeleteNamespaceOnDrop(project.clone());
    kubectl(["-n", &accounts, "create", "serviceaccount", "applier"]);
    let roles = support::todoplan_in(
        dir.path(),
        &[
            "rbac",
            "--apply",
            "--service-account",
            &format!("{accounts}/applier"),
        ],
    );
    let roles = text(&roles);
    assert!(
        roles.contains("- escalate") && roles.contains("- bind"),
        "{roles}"
    );
    apply_manifest(&roles);
    let applier = kubeconfig_as(dir.path(), &accounts, "applier");
    let as_applier = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_todoplan"))
            .args(args)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env("KUBECONFIG", &applier)
            .output()
            .unwrap()
    };
    let plan = as_applier(&["plan"]);
    assert!(
        plan.status.success() && !text(&plan).contains("cannot be planned"),
        "{}",
        text(&plan)
    );
    let applied = as_applier(&["apply", "--auto-approve"]);
    assert!(applied.status.success(), "{}", text(&applied));
    let again = as_applier(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    for kind in ["clusterrolebinding", "clusterrole"] {
        kubectl(["delete", kind, &format!("todoplan-{project}-apply")]);
    }
}
