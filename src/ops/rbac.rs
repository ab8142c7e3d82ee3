//! `todoplan rbac`: the ClusterRole a CI job needs to plan or to apply this spec, with exactly the
//! verbs and resources todoplan uses for it, and the binding to the job's ServiceAccount.
//!
//! RBAC cannot tell a dry-run from a write: plan's server-side dry-runs are authorized as the
//! create or patch they simulate, so the plan role holds those verbs on the managed kinds too.
//! What it lacks is what only apply does: delete, update, and the watches apply waits with.
//!
//! Resources come from the objects the releases render (offline, as `render` does), todoplan's
//! own Namespaces and Secrets, the objects plan lists for its checks, and what apply watches and
//! reads to say why something failed. todoplan lists managed kinds across all namespaces (so it
//! sees its instance's strays anywhere), which is why the role is cluster-wide.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::spec::Spec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RbacMode {
    /// `plan` (and `drift`, `validate` online): reads, and server-side dry-run PATCHes.
    Plan,
    /// `apply`, `destroy`, `rollback`: plan's rights plus the writes and what apply waits on.
    Apply,
}

impl RbacMode {
    pub fn name(self) -> &'static str {
        match self {
            RbacMode::Plan => "plan",
            RbacMode::Apply => "apply",
        }
    }
}

/// The Kubernetes resource (plural) of a kind: the built-in kinds todoplan meets by name, others
/// by the API server's own guess for a kind it does not know (lower case, plural by suffix).
pub fn resource_of(kind: &str) -> String {
    let known = match kind {
        "Endpoints" => Some("endpoints"),
        "Ingress" => Some("ingresses"),
        "NetworkPolicy" => Some("networkpolicies"),
        "PodDisruptionBudget" => Some("poddisruptionbudgets"),
        "StorageClass" => Some("storageclasses"),
        "IngressClass" => Some("ingressclasses"),
        "PriorityClass" => Some("priorityclasses"),
        _ => None,
    };
    if let Some(known) = known {
        return known.to_string();
    }
    let lower = kind.to_ascii_lowercase();
    if lower.ends_with('s')
        || lower.ends_with("ch")
        || lower.ends_with("sh")
        || lower.ends_with('x')
    {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

/// (API group, resource) → verbs.
type Rules = BTreeMap<(String, String), BTreeSet<&'static str>>;

fn grant(rules: &mut Rules, group: &str, resource: &str, verbs: &[&'static str]) {
    rules
        .entry((group.to_string(), resource.to_string()))
        .or_default()
        .extend(verbs.iter().copied());
}

/// The rules for `mode`, given the (apiVersion, kind) of every object the spec renders.
pub fn rules_for(spec: &Spec, rendered: &BTreeSet<(String, String)>, mode: RbacMode) -> Rules {
    let mut rules = Rules::new();
    // A server-side dry-run is authorized as the write it simulates: a dry-run apply of an
    // object that does not exist yet needs `create`, of one that does `patch`.
    let managed_plan: &[&'static str] = &["get", "list", "create", "patch"];
    let managed_apply: &[&'static str] = &["update", "delete", "watch"];
    let mut managed: BTreeSet<(String, String)> = rendered.clone();
    managed.insert(("v1".into(), "Namespace".into()));
    if !spec.secrets.is_empty() {
        managed.insert(("v1".into(), "Secret".into()));
    }
    for (api_version, kind) in &managed {
        let group = api_version
            .rsplit_once('/')
            .map(|(group, _)| group)
            .unwrap_or("");
        let resource = resource_of(kind);
        grant(&mut rules, group, &resource, managed_plan);
        if mode == RbacMode::Apply {
            grant(&mut rules, group, &resource, managed_apply);
        }
    }
    // RBAC objects: the API server lets a ServiceAccount write a Role only with the rights in it
    // (or `escalate`), and a binding only to a role whose rights it holds (or `bind`), which it
    // checks against the role itself, so a RoleBinding to a Role created in the same plan
    // could not even be dry-run. Dry-runs are checked as the writes they simulate.
    let rbac = |kind: &str| {
        managed
            .iter()
            .any(|(v, k)| k == kind && v.starts_with("rbac.authorization.k8s.io/"))
    };
    for (role, binding, resource) in [
        ("Role", "RoleBinding", "roles"),
        ("ClusterRole", "ClusterRoleBinding", "clusterroles"),
    ] {
        if rbac(role) {
            grant(
                &mut rules,
                "rbac.authorization.k8s.io",
                resource,
                &["escalate"],
            );
        }
        if rbac(binding) {
            grant(&mut rules, "rbac.authorization.k8s.io", resource, &["bind"]);
        }
    }
    // A RoleBinding may also name a ClusterRole.
    if rbac("RoleBinding") {
        grant(
            &mut rules,
            "rbac.authorization.k8s.io",
            "clusterroles",
            &["bind"],
        );
    }
    // The plan-time checks list whole namespaces (a missing object is then proven missing).
    for resource in ["secrets", "configmaps", "services", "serviceaccounts"] {
        grant(&mut rules, "", resource, &["list"]);
    }
    for resource in ["deployments", "statefulsets", "daemonsets"] {
        grant(&mut rules, "apps", resource, &["list"]);
    }
    for resource in ["jobs", "cronjobs"] {
        grant(&mut rules, "batch", resource, &["list"]);
    }
    grant(&mut rules, "storage.k8s.io", "storageclasses", &["list"]);
    // The incremental plan skips a dry-run only while the cluster's admission configuration
    // and CRDs are unchanged: it lists their names and generations.
    for resource in [
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
        "mutatingadmissionpolicies",
        "mutatingadmissionpolicybindings",
    ] {
        grant(
            &mut rules,
            "admissionregistration.k8s.io",
            resource,
            &["list"],
        );
    }
    grant(
        &mut rules,
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        &["list"],
    );
    if mode == RbacMode::Apply {
        // Readiness: watched workloads and claims, their pods and ReplicaSets, and why they fail.
        for resource in ["deployments", "statefulsets", "daemonsets"] {
            grant(&mut rules, "apps", resource, &["get", "watch"]);
        }
        grant(&mut rules, "apps", "replicasets", &["list"]);
        grant(&mut rules, "batch", "jobs", &["get", "watch"]);
        grant(
            &mut rules,
            "",
            "persistentvolumeclaims",
            &["get", "list", "watch", "delete"],
        );
        grant(&mut rules, "", "pods", &["get", "list"]);
        grant(&mut rules, "", "pods/log", &["get"]);
        grant(&mut rules, "", "events", &["list"]);
        if spec.releases.values().any(|r| !r.smoke_checks.is_empty()) {
            grant(&mut rules, "", "services", &["get"]);
            grant(&mut rules, "", "services/proxy", &["get"]);
        }
    }
    rules
}

/// The ClusterRole and its ClusterRoleBinding to `service_account` (`NAMESPACE/NAME`).
pub fn rbac_objects(
    spec: &Spec,
    rules: &Rules,
    mode: RbacMode,
    service_account: (&str, &str),
) -> Vec<Value> {
    let name = format!("todoplan-{}-{}", spec.project.name, mode.name());
    // One rule per API group and verb set, resources sorted: short, stable, reviewable.
    let mut grouped: BTreeMap<(String, Vec<&str>), Vec<String>> = BTreeMap::new();
    for ((group, resource), verbs) in rules {
        let mut verbs: Vec<&str> = verbs.iter().copied().collect();
        verbs.sort_by_key(|v| VERB_ORDER.iter().position(|o| o == v).unwrap_or(usize::MAX));
        grouped
            .entry((group.clone(), verbs))
            .or_default()
            .push(resource.clone());
    }
    let rules: Vec<Value> = grouped
        .into_iter()
        .map(|((group, verbs), resources)| {
            json!({"apiGroups": [group], "resources": resources, "verbs": verbs})
        })
        .collect();
    let labels = json!({"app.kubernetes.io/managed-by": "todoplan", "todoplan.dev/project": spec.project.name});
    vec![
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name, "labels": labels},
            "rules": rules,
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "namespace": service_account.0, "name": service_account.1}],
        }),
    ]
}

/// The Role (and its RoleBinding) the kubernetes state backend needs in its namespace: the
/// state, history, journal and digest-key Secrets, and the Lease that is the lock. Plan takes the
/// lock too, and makes the digest key on first use; only apply rewrites and prunes Secrets.
/// `None` for the local backend.
pub fn state_rbac_objects(
    spec: &Spec,
    mode: RbacMode,
    service_account: (&str, &str),
) -> Option<Vec<Value>> {
    let crate::spec::StateConfig::Kubernetes { namespace, .. } = &spec.state else {
        return None;
    };
    let name = format!("todoplan-{}-{}-state", spec.project.name, mode.name());
    let secret_verbs: &[&str] = match mode {
        RbacMode::Plan => &["get", "list", "create"],
        RbacMode::Apply => &["get", "list", "create", "update", "delete"],
    };
    let labels = json!({"app.kubernetes.io/managed-by": "todoplan", "todoplan.dev/project": spec.project.name});
    Some(vec![
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "rules": [
                {"apiGroups": [""], "resources": ["secrets"], "verbs": secret_verbs},
                {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update", "delete"]},
            ],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "namespace": service_account.0, "name": service_account.1}],
        }),
    ])
}

/// Verbs in the order kubectl prints them.
const VERB_ORDER: [&str; 9] = [
    "get", "list", "watch", "create", "update", "patch", "delete", "escalate", "bind",
];

/// The RBAC objects for `mode` for the workspace's spec: its releases rendered offline, plus the
/// kinds its state recorded (a plan deletes those when they are no longer declared).
pub async fn rbac_for(
    ws: &super::workspace::Workspace,
    mode: RbacMode,
    service_account: (&str, &str),
) -> miette::Result<Vec<Value>> {
    let manifests = super::workspace::render_releases(ws, None).await?;
    let mut kinds: BTreeSet<(String, String)> = manifests
        .iter()
        .filter(|m| !m.object.is_null())
        .map(|m| {
            (
                crate::model::object::api_version_of(&m.object).to_string(),
                crate::model::object::kind_of(&m.object).to_string(),
            )
        })
        .collect();
    let state = ws.state(None).await?;
    kinds.extend(
        state
            .objects
            .values()
            .map(|r| (r.api_version.clone(), r.kind.clone())),
    );
    let rules = rules_for(&ws.spec, &kinds, mode);
    let mut objects = rbac_objects(&ws.spec, &rules, mode, service_account);
    objects.extend(state_rbac_objects(&ws.spec, mode, service_account).unwrap_or_default());
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubernetes_state_backend_gets_a_role_in_its_namespace_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("todo.toml");
        std::fs::write(
            &file,
            "[project]\nname = \"todo\"\n[cluster]\nnamespace = \"todo\"\n[state]\nbackend = \"kubernetes\"\nnamespace = \"ci-state\"\n",
        )
        .unwrap();
        let spec = crate::spec::load(&file, None).unwrap();
        let plan = state_rbac_objects(&spec, RbacMode::Plan, ("ci", "deployer")).unwrap();
        assert_eq!(plan[0]["kind"], "Role");
        assert_eq!(plan[0]["metadata"]["namespace"], "ci-state");
        assert_eq!(
            plan[0]["rules"][0]["verbs"],
            json!(["get", "list", "create"]),
            "plan never rewrites or deletes state Secrets"
        );
        assert_eq!(plan[0]["rules"][1]["resources"], json!(["leases"]));
        let apply = state_rbac_objects(&spec, RbacMode::Apply, ("ci", "deployer")).unwrap();
        assert_eq!(
            apply[0]["rules"][0]["verbs"],
            json!(["get", "list", "create", "update", "delete"])
        );
        assert_eq!(apply[1]["subjects"][0]["name"], "deployer");
        std::fs::write(&file, "[project]\nname = \"todo\"\n").unwrap();
        let local = crate::spec::load(&file, None).unwrap();
        assert!(state_rbac_objects(&local, RbacMode::Apply, ("ci", "d")).is_none());
    }

    #[test]
    fn resources_are_the_plural_the_api_server_uses() {
        for (kind, resource) in [
            ("Deployment", "deployments"),
            ("Ingress", "ingresses"),
            ("NetworkPolicy", "networkpolicies"),
            ("StorageClass", "storageclasses"),
            ("Endpoints", "endpoints"),
            ("ConfigMap", "configmaps"),
            ("HorizontalPodAutoscaler", "horizontalpodautoscalers"),
            ("Gateway", "gateways"),
            ("Policy", "policies"),
        ] {
            assert_eq!(resource_of(kind), resource, "{kind}");
        }
    }
}
