//! The incremental plan on the real cluster: after each kind of change made by hand or by the
//! cluster, the plan that skips dry-runs of unchanged objects says exactly what the plan that
//! dry-runs every object (`--refresh full`) says, and right after an apply it sends no dry-run.
#![cfg(feature = "e2e")]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support;

struct Project {
    dir: tempfile::TempDir,
    name: String,
    /// Cluster-scoped objects the test made (kind, name): deleted on drop.
    cluster_objects: Vec<(String, String)>,
    _namespace: support::DeleteNamespaceOnDrop,
}

impl Project {
    fn new(prefix: &str) -> Project {
        support::require_cluster();
        let name = support::unique_name(prefix);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("todo.toml"),
            format!(
                "[project]\nname = \"{name}\"\n[cluster]\nnamespace = \"{name}\"\n[state]\nbackend = \"local\"\ndir = \"state\"\n\n[releases.objects]\nchart = \"objects\"\n"
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("objects")).unwrap();
        Project {
            dir,
            _namespace: support::DeleteNamespaceOnDrop(name.clone()),
            name,
            cluster_objects: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn objects(&self, yaml: &str) {
        std::fs::write(
            self.path().join("objects/objects.yaml"),
            yaml.replace("{ns}", &self.name),
        )
        .unwrap();
    }

    fn run(&self, args: &[&str]) -> Output {
        support::todoplan_in(self.path(), args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let said = support::output_text(&out);
        assert!(out.status.success(), "todoplan {args:?} failed:\n{said}");
        said
    }

    /// The plan as JSON, and how many dry-runs it sent (`TODOPLAN_STATS=1`).
    fn plan(&self, refresh: &str) -> (Value, usize) {
        let out = Command::new(env!("CARGO_BIN_EXE_todoplan"))
            .current_dir(self.path())
            .env("TODOPLAN_STATS", "1")
            .args(["plan", "--format", "json", "--refresh", refresh])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let plan: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "plan --refresh {refresh} printed no JSON ({e}):\n{}\n{stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        let dry_runs = stderr
            .lines()
            .find(|l| l.starts_with("requests:"))
            .and_then(|l| {
                l.split(',')
                    .find(|p| p.contains("dry-run"))
                    .and_then(|p| p.split_whitespace().next())
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or_else(|| panic!("no request counts in:\n{stderr}"));
        (plan, dry_runs)
    }

    /// Both plans agree on every object and on drift; returns the incremental one's dry-runs.
    fn assert_plans_agree(&self, after: &str) -> usize {
        let (full, full_dry_runs) = self.plan("full");
        let (incremental, dry_runs) = self.plan("incremental");
        assert!(
            full_dry_runs >= 4,
            "the full plan dry-runs every object ({full_dry_runs})"
        );
        assert_eq!(
            incremental["resource_changes"], full["resource_changes"],
            "after {after}, the incremental plan differs from the full plan"
        );
        assert_eq!(incremental["drift"], full["drift"], "drift after {after}");
        dry_runs
    }

    fn kubectl(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        support::kubectl(all)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        for (kind, name) in &self.cluster_objects {
            let _ = Command::new("kubectl")
                .args(["delete", kind, name, "--wait=false", "--ignore-not-found"])
                .output();
        }
    }
}

const OBJECTS: &str = r#"apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: "{ns}"}
data: {LOG_LEVEL: info}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: "{ns}"}
stringData: {TOKEN: incremental-e2e-token}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: "{ns}"}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: "{ns}"}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: "busybox:1.35.0", command: ["sleep", "3600"]}]}
"#;

#[test]
fn incremental_plan_answers_as_the_full_plan_after_each_kind_of_change() {
    let mut p = Project::new("incr");
    p.objects(OBJECTS);
    p.ok(&["apply", "--auto-approve"]);
    // Right after an apply nothing moved: no dry-run at all, and the plan says so.
    assert_eq!(p.assert_plans_agree("an apply"), 0);
    let said = p.ok(&["plan"]);
    assert!(
        said.contains("unchanged since revision 1 were compared without a dry-run (0 dry-run(s)"),
        "{said}"
    );

    // A label added by hand (a foreign manager now owns a field): that object is dry-run.
    p.kubectl(&["label", "configmap", "settings", "team=payments"]);
    assert_eq!(p.assert_plans_agree("kubectl label"), 1);
    p.ok(&["apply", "--auto-approve"]);
    p.assert_plans_agree("the apply that removed the label");

    // A value edited by hand.
    p.kubectl(&[
        "patch",
        "configmap",
        "settings",
        "--type=merge",
        "-p",
        r#"{"data":{"LOG_LEVEL":"debug"}}"#,
    ]);
    p.assert_plans_agree("kubectl patch of a ConfigMap");
    // A secret value changed by hand.
    p.kubectl(&[
        "patch",
        "secret",
        "creds",
        "--type=merge",
        "-p",
        r#"{"stringData":{"TOKEN":"changed-by-hand"}}"#,
    ]);
    p.assert_plans_agree("a secret changed by hand");
    // The Deployment scaled (as an autoscaler would).
    p.kubectl(&["scale", "deployment", "web", "--replicas=2"]);
    p.assert_plans_agree("kubectl scale");
    p.ok(&["apply", "--auto-approve"]);
    let settled = p.assert_plans_agree("the apply that set everything back");
    assert!(
        settled <= 1,
        "after an apply at most a co-owned object is dry-run ({settled})"
    );

    // A saved plan keeps its promise: the Service was compared without a dry-run when the plan
    // was saved; changed by hand before the apply, the apply refuses the plan.
    p.objects(&OBJECTS.replace("LOG_LEVEL: info", "LOG_LEVEL: warn"));
    p.ok(&["plan", "--out", "saved.plan"]);
    p.kubectl(&["annotate", "service", "web", "team=payments"]);
    let out = p.run(&["apply", "saved.plan"]);
    let said = support::one_line(&support::output_text(&out));
    assert!(
        !out.status.success(),
        "a plan whose skipped object changed must be refused:\n{said}"
    );
    assert!(
        said.contains("v1/Service/")
            && said.contains("approved \"is up to date\", now it will be updated"),
        "the refusal names the Service:\n{said}"
    );
    assert_eq!(
        p.kubectl(&[
            "get",
            "configmap",
            "settings",
            "-o",
            "jsonpath={.data.LOG_LEVEL}"
        ]),
        "info",
        "nothing of the refused plan was applied"
    );
    p.objects(OBJECTS);
    p.ok(&["apply", "--auto-approve"]);

    // The cluster's admission configuration changes: a policy that refuses this ConfigMap.
    // The incremental plan must not say "no changes" where the full one shows the refusal.
    let policy = format!("{}-deny", p.name);
    let manifest = format!(
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: {policy}}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{{apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [configmaps]}}]
  validations: [{{expression: "!has(object.data) || !('LOG_LEVEL' in object.data)", message: "LOG_LEVEL is refused here"}}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: {policy}}}
spec:
  policyName: {policy}
  validationActions: [Deny]
  matchResources:
    namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {ns}}}}}
"#,
        ns = p.name
    );
    p.cluster_objects
        .push(("validatingadmissionpolicy".into(), policy.clone()));
    p.cluster_objects
        .push(("validatingadmissionpolicybinding".into(), policy.clone()));
    let file = p.path().join("policy.yaml");
    std::fs::write(&file, manifest).unwrap();
    support::kubectl(["apply", "-f", file.to_str().unwrap()]);
    // The policy takes effect once the API server has loaded it.
    let (full, dry_runs) = support::poll_until(
        "the admission policy to refuse the ConfigMap",
        std::time::Duration::from_secs(60),
        || {
            let (full, _) = p.plan("full");
            let refused = full["resource_changes"].as_array().is_some_and(|objects| {
                objects.iter().any(|o| {
                    o["actions"] == serde_json::json!(["error"])
                        && o["reason"]
                            .as_str()
                            .is_some_and(|r| r.contains("LOG_LEVEL is refused"))
                })
            });
            refused.then(|| {
                let (incremental, dry_runs) = p.plan("incremental");
                assert_eq!(
                    incremental["resource_changes"], full["resource_changes"],
                    "after an admission policy was added"
                );
                (full, dry_runs)
            })
        },
    );
    assert!(
        dry_runs >= 4,
        "a changed admission configuration dry-runs everything ({dry_runs})"
    );
    let _ = full;
    let said = support::output_text(&p.run(&["plan"]));
    assert!(
        said.contains("admission webhooks or policies changed since revision"),
        "the plan says why it dry-runs everything:\n{said}"
    );
}
