//! Kubernetes semantics as the best apply engines test them, ported to todoplan projects on the
//! real cluster: object identity across API versions (Flux ssa `TestApply_MigrateAPIVersion`,
//! kapp's group-kind scoping), custom resources served at two versions, and a CRD whose replace
//! or delete would take its custom resources with it (kapp refuses scope changes in preflight;
//! todoplan's protection gate refuses it without `--allow-data-loss`). Each scenario ends with the
//! next plan being "No changes".
#![cfg(feature = "e2e")]

use std::path::Path;
use std::process::{Command, Output};

use crate::support;

/// A throwaway project: one release `objects` of plain manifests, its own namespace and local
/// state; the namespace and the CRDs it names are deleted on drop.
struct Project {
    dir: tempfile::TempDir,
    name: String,
    crds: Vec<String>,
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
            name,
            crds: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces the release's manifests (`{ns}` stands for the project's namespace).
    fn objects(&self, yaml: &str) {
        std::fs::write(
            self.path().join("objects/objects.yaml"),
            yaml.replace("{ns}", &self.name),
        )
        .unwrap();
    }

    /// Adds a release `name` of plain manifests (`{ns}` as in [`Self::objects`]).
    fn add_release(&self, name: &str, yaml: &str) {
        let toml = self.path().join("todo.toml");
        let mut text = std::fs::read_to_string(&toml).unwrap();
        text.push_str(&format!("\n[releases.{name}]\nchart = \"{name}\"\n"));
        std::fs::write(&toml, text).unwrap();
        std::fs::create_dir_all(self.path().join(name)).unwrap();
        std::fs::write(
            self.path().join(name).join("objects.yaml"),
            yaml.replace("{ns}", &self.name),
        )
        .unwrap();
    }

    fn run(&self, args: &[&str]) -> Output {
        support::todoplan_in(self.path(), args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let said = text(&out);
        assert!(out.status.success(), "todoplan {args:?} failed:\n{said}");
        said
    }

    /// The plan after: nothing to do (exit 0 with --detailed-exitcode).
    fn assert_no_changes(&self, after: &str) {
        let out = self.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "the plan after {after} is not 'No changes':\n{}",
            text(&out)
        );
    }

    /// `kubectl -n NS get WHAT... -o jsonpath=PATH` in the project's namespace.
    fn jsonpath(&self, what: &[&str], path: &str) -> String {
        let mut args = vec!["-n", self.name.as_str(), "get"];
        args.extend_from_slice(what);
        let path = format!("jsonpath={path}");
        args.extend(["-o", path.as_str()]);
        support::kubectl(args)
    }

    fn uid(&self, what: &str) -> String {
        support::kubectl([
            "-n",
            &self.name,
            "get",
            what,
            "-o",
            "jsonpath={.metadata.uid}",
        ])
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = Command::new("kubectl")
            .args([
                "delete",
                "namespace",
                &self.name,
                "--wait=false",
                "--ignore-not-found",
            ])
            .output();
        for crd in &self.crds {
            let _ = Command::new("kubectl")
                .args(["delete", "crd", crd, "--wait=false", "--ignore-not-found"])
                .output();
        }
    }
}

use support::output_text as text;

const HPA_V1: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: "{ns}"}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: "busybox:1.35.0", resources: {requests: {cpu: 10m}}}]}
---
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: "{ns}"}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
  targetCPUUtilizationPercentage: 70
"#;

const HPA_V2: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: "{ns}"}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: "busybox:1.35.0", resources: {requests: {cpu: 10m}}}]}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: "{ns}"}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
"#;

/// Flux `TestApply_MigrateAPIVersion`: the chart moves an HPA from autoscaling/v1 to v2. The
/// object is the same (group, kind, namespace, name): it is updated in place, never deleted,
/// and its record moves to the new address.
#[test]
fn an_api_version_change_updates_the_same_object_and_never_deletes_it() {
    let p = Project::new("sem-apiver");
    p.objects(HPA_V1);
    p.ok(&["apply", "--auto-approve"]);
    let uid = p.uid("hpa/web");
    assert!(!uid.is_empty());

    p.objects(HPA_V2);
    let plan = p.ok(&["plan"]);
    // Only the version moved, and the server stores the same object at either version.
    assert!(
        plan.contains("No changes") || plan.contains("0 to destroy"),
        "{plan}"
    );
    assert!(
        !plan.contains("never applied it"),
        "the v2 object is not a stranger: {plan}"
    );
    p.ok(&["apply", "--auto-approve"]);
    assert_eq!(p.uid("hpa/web"), uid, "the HPA was deleted and made again");
    let listed = p.ok(&["state", "list"]);
    assert!(
        listed.contains("autoscaling/v2/HorizontalPodAutoscaler")
            && !listed.contains("autoscaling/v1/"),
        "the record moved to the new address: {listed}"
    );
    p.assert_no_changes("moving the HPA to autoscaling/v2");
}

fn widget_crd(group: &str, scope: &str) -> String {
    format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: widgets.{group}}}
spec:
  group: {group}
  scope: {scope}
  names: {{plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}}
  versions:
  - name: v1beta1
    served: true
    storage: false
    schema: {{openAPIV3Schema: {{type: object, properties: {{spec: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}}}}}
  - name: v1
    served: true
    storage: true
    schema: {{openAPIV3Schema: {{type: object, properties: {{spec: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}}}}}
"#
    )
}

fn wait_established(crd: &str) {
    support::kubectl([
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        &format!("crd/{crd}"),
    ]);
}

/// Custom resources of one kind declared at two served versions: listed at either version, each
/// is one object, so no apply ever deletes one as a stranger (kapp scopes by group and kind).
#[test]
fn custom_resources_declared_at_two_served_versions_stay() {
    let mut p = Project::new("sem-twover");
    let group = format!("{}.todoplan.test", p.name);
    let crd = format!("widgets.{group}");
    support::kubectl_apply("default", &widget_crd(&group, "Namespaced"));
    p.crds.push(crd.clone());
    wait_established(&crd);
    p.objects(&format!(
        "apiVersion: {group}/v1beta1\nkind: Widget\nmetadata: {{name: old, namespace: \"{{ns}}\"}}\nspec: {{size: 1}}\n---\napiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: new, namespace: \"{{ns}}\"}}\nspec: {{size: 2}}\n"
    ));
    p.ok(&["apply", "--auto-approve"]);
    // Other tests' CRDs may also be called widgets: name the group.
    let (old_name, new_name) = (
        format!("widgets.{group}/old"),
        format!("widgets.{group}/new"),
    );
    let (old, new) = (p.uid(&old_name), p.uid(&new_name));
    for round in 0..2 {
        let said = p.ok(&["apply", "--auto-approve"]);
        assert!(
            !said.contains("destroyed ") || said.contains("0 destroyed"),
            "round {round}: {said}"
        );
        assert_eq!(p.uid(&old_name), old, "round {round}: old was deleted");
        assert_eq!(p.uid(&new_name), new, "round {round}: new was deleted");
    }
    p.assert_no_changes("two applies of custom resources at two versions");
}

/// A CRD's scope change is a replace, and replacing a CRD deletes every custom resource of its
/// kind, declared here or not: the protection gate refuses it without --allow-data-loss and says
/// how many would go.
#[test]
fn a_crd_replace_that_would_delete_its_custom_resources_is_refused_without_the_flag() {
    let mut p = Project::new("sem-crdscope");
    let group = format!("{}.todoplan.test", p.name);
    let crd = format!("widgets.{group}");
    p.crds.push(crd.clone());
    p.objects(&widget_crd(&group, "Namespaced"));
    p.ok(&["apply", "--auto-approve"]);
    wait_established(&crd);
    // A custom resource the release does not declare.
    support::kubectl_apply(
        &p.name,
        &format!(
            "apiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: precious}}\nspec: {{size: 9}}\n"
        ),
    );
    let precious_name = format!("widgets.{group}/precious");
    let precious = p.uid(&precious_name);

    p.objects(&widget_crd(&group, "Cluster"));
    let plan = p.run(&["plan"]);
    let said = text(&plan);
    assert!(said.contains("CustomResourceDefinition"), "{said}");
    assert!(said.contains("--allow-data-loss"), "{said}");
    assert!(
        said.contains("1 custom resource(s) of kind Widget"),
        "the plan says what goes with the CRD: {said}"
    );
    let out = p.run(&["apply", "--auto-approve"]);
    let said = text(&out);
    assert_eq!(
        p.uid(&precious_name),
        precious,
        "the custom resource survived the apply:\n{said}"
    );
    assert_eq!(
        support::kubectl(["get", "crd", &crd, "-o", "jsonpath={.spec.scope}"]),
        "Namespaced",
        "the CRD was not replaced:\n{said}"
    );
}

/// Helm's `helm.sh/resource-policy: keep` and Argo CD's `Prune=false`: an object that says so is
/// never deleted by a prune or a destroy; todoplan forgets it and says so.
#[test]
fn objects_with_a_keep_policy_survive_prune_and_destroy() {
    let p = Project::new("sem-keep");
    let objects = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: kept-by-helm
  namespace: "{ns}"
  annotations: {helm.sh/resource-policy: keep}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: kept-by-argo
  namespace: "{ns}"
  annotations: {argocd.argoproj.io/sync-options: "Prune=false"}
data: {b: "2"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: plain, namespace: "{ns}"}
data: {c: "3"}
"#;
    p.objects(objects);
    p.ok(&["apply", "--auto-approve"]);
    let kept = p.uid("configmap/kept-by-helm");

    // Pruned: only the plain one goes.
    p.objects(
        &objects
            .split("---\n")
            .last()
            .unwrap()
            .replace("name: plain", "name: other"),
    );
    let plan = p.ok(&["plan"]);
    assert!(plan.contains("helm.sh/resource-policy: keep"), "{plan}");
    p.ok(&["apply", "--auto-approve"]);
    assert_eq!(p.uid("configmap/kept-by-helm"), kept);
    assert!(!p.uid("configmap/kept-by-argo").is_empty());
    let gone = support::run_tool("kubectl", ["-n", &p.name, "get", "configmap", "plain"]);
    assert!(!gone.status.success(), "the plain ConfigMap was pruned");
    p.assert_no_changes("a prune that kept two objects");

    // Destroy: the namespace holds the kept objects, so it stays too.
    p.ok(&["destroy", "--auto-approve"]);
    assert_eq!(p.uid("configmap/kept-by-helm"), kept);
}

/// Flux stages Namespaces before what lives in them: a release that ships a Namespace and
/// objects in it plans in one run (the objects against nothing) and applies in order.
#[test]
fn a_namespace_and_the_objects_in_it_plan_and_apply_in_one_run() {
    let p = Project::new("sem-nsstage");
    let inner = format!("{}-inner", p.name);
    let _cleanup = support::DeleteNamespaceOnDrop(inner.clone());
    p.objects(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {inner}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {inner}}}\ndata: {{mode: staged}}\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: {inner}}}\nspec: {{ports: [{{port: 80}}]}}\n"
    ));
    let plan = p.ok(&["plan"]);
    assert!(
        plan.contains(&format!("+ v1 ConfigMap {inner}/settings"))
            && plan.contains(&format!("+ v1 Service {inner}/web"))
            && !plan.contains("cannot be planned"),
        "{plan}"
    );
    p.ok(&["apply", "--auto-approve"]);
    let mode = support::kubectl([
        "-n",
        &inner,
        "get",
        "configmap",
        "settings",
        "-o",
        "jsonpath={.data.mode}",
    ]);
    assert_eq!(mode, "staged");
    p.assert_no_changes("a staged namespace apply");
}

/// Plan on a pull request, apply on merge: a saved plan that creates a Job (the API server
/// draws its selector's controller-uid at every dry-run) and a Service (a cluster IP drawn at
/// every dry-run) applies, because values the server generates were never part of what was
/// approved; the plan shows them as known after apply.
#[test]
fn a_saved_plan_that_creates_a_job_and_a_service_is_not_stale() {
    let p = Project::new("sem-savedjob");
    p.objects(
        r#"apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: "{ns}"}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      restartPolicy: Never
      containers: [{name: m, image: "busybox:1.35.0", command: ["true"]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: "{ns}"}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"#,
    );
    let plan = p.ok(&["plan", "--out", "p.plan"]);
    assert!(plan.contains("(known after apply)"), "{plan}");
    let out = p.run(&["apply", "p.plan"]);
    assert!(
        out.status.success(),
        "the saved plan was refused:\n{}",
        text(&out)
    );
    assert!(!p.uid("job/migrate").is_empty());
    assert!(!p.uid("service/web").is_empty());
}

/// `ignore_changes` reaches list elements as drift prints them: by index, by key field, or all.
/// A `kubectl set image` on an ignored container image is neither drift nor undone by apply.
#[test]
fn ignore_changes_with_a_list_index_or_key_hides_and_keeps_a_hand_set_image() {
    for (round, rule) in [
        "Deployment/web:spec.template.spec.containers[0].image",
        "Deployment/*:spec.template.spec.containers[name=c].image",
    ]
    .into_iter()
    .enumerate()
    {
        let p = Project::new(&format!("sem-ignore{round}"));
        let toml = p.path().join("todo.toml");
        let text = std::fs::read_to_string(&toml).unwrap();
        std::fs::write(
            &toml,
            text.replace(
                "chart = \"objects\"\n",
                &format!("chart = \"objects\"\nignore_changes = [\"{rule}\"]\n"),
            ),
        )
        .unwrap();
        p.objects(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: \"{ns}\"}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: \"busybox:1.35.0\"}]}\n",
        );
        p.ok(&["apply", "--auto-approve"]);
        support::kubectl([
            "-n",
            &p.name,
            "set",
            "image",
            "deployment/web",
            "c=busybox:1.36.0",
        ]);
        p.assert_no_changes(&format!("kubectl set image with {rule}"));
        p.ok(&["apply", "--auto-approve"]);
        let image = p.jsonpath(
            &["deployment", "web"],
            "{.spec.template.spec.containers[0].image}",
        );
        assert_eq!(
            image, "busybox:1.36.0",
            "{rule}: apply undid the hand-set image"
        );
    }
}

/// A CRD is applied once the API server serves it (Established), as Flux and kapp wait for it;
/// one whose names the server refuses fails the apply with the server's own condition message.
#[test]
fn a_crd_is_waited_for_until_established_and_refused_names_fail_the_apply() {
    let mut p = Project::new("sem-crdwait");
    let group = format!("{}.todoplan.test", p.name);
    p.crds.push(format!("widgets.{group}"));
    p.crds.push(format!("gadgets.{group}"));
    support::kubectl_apply("default", &widget_crd(&group, "Namespaced"));
    // Another CRD of the same group whose kind is already taken by the first.
    p.objects(
        &widget_crd(&group, "Namespaced")
            .replace(
                &format!("name: widgets.{group}"),
                &format!("name: gadgets.{group}"),
            )
            .replace(
                "plural: widgets, singular: widget",
                "plural: gadgets, singular: gadget",
            ),
    );
    let out = p.run(&["apply", "--auto-approve"]);
    let said = text(&out);
    assert_eq!(
        out.status.code(),
        Some(5),
        "written, then not established:\n{said}"
    );
    assert!(
        said.contains("already in use"),
        "the server's message is shown:\n{said}"
    );

    // A valid CRD is waited for and applied.
    p.objects(&widget_crd(&format!("ok.{group}"), "Cluster"));
    p.crds.push(format!("widgets.ok.{group}"));
    p.ok(&["apply", "--auto-approve"]);
    let established = support::kubectl([
        "get",
        "crd",
        &format!("widgets.ok.{group}"),
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Established\")].status}",
    ]);
    assert_eq!(established, "True");
}

/// What a namespace holds comes from discovery (every namespaced, listable kind), not a fixed
/// list: a ResourceQuota, a NetworkPolicy or a Lease someone else made keeps the namespace alive
/// through `destroy --allow-data-loss`.
#[test]
fn destroy_keeps_a_namespace_that_holds_foreign_objects_of_any_kind() {
    let p = Project::new("sem-nsforeign");
    p.objects("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: \"{ns}\"}\ndata: {a: \"1\"}\n");
    p.ok(&["apply", "--auto-approve"]);
    support::kubectl_apply(
        &p.name,
        "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: team-quota}\nspec: {hard: {pods: \"10\"}}\n---\napiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: someone-elses}\nspec: {holderIdentity: x}\n",
    );
    let said = p.ok(&["destroy", "--allow-data-loss", "--auto-approve"]);
    assert!(
        said.contains("ResourceQuota"),
        "the plan names what keeps the namespace:\n{said}"
    );
    assert!(
        support::namespace_exists(&p.name),
        "the namespace was deleted:\n{said}"
    );
    assert!(!p.uid("resourcequota/team-quota").is_empty());
    let gone = support::run_tool("kubectl", ["-n", &p.name, "get", "configmap", "settings"]);
    assert!(
        !gone.status.success(),
        "todoplan's own object was destroyed"
    );
}

/// A replace of an object that also drifted: the new object has none of the old one's foreign
/// fields, so nothing is patched after the replace (the patch used to be sent to the new
/// object and the apply exited 1 after the replace had happened).
#[test]
fn a_replace_of_a_drifted_object_succeeds_and_converges() {
    let p = Project::new("sem-replacedrift");
    p.objects("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: \"{ns}\"}\ndata: {a: \"1\"}\n");
    p.ok(&["apply", "--auto-approve"]);
    let before = p.uid("configmap/settings");
    support::kubectl([
        "-n",
        &p.name,
        "label",
        "configmap",
        "settings",
        "added-by=hand",
    ]);
    let address = format!("release.objects/v1/ConfigMap/{}/settings", p.name);
    let out = p.run(&["apply", "--auto-approve", "--replace", &address]);
    assert!(out.status.success(), "{}", text(&out));
    assert_ne!(p.uid("configmap/settings"), before, "it was replaced");
    p.assert_no_changes("a replace of a drifted object");
}

/// A CRD with a schema default (`spec.size: 3`), scope as given.
fn gadget_crd(group: &str, scope: &str) -> String {
    format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: gadgets.{group}}}
spec:
  group: {group}
  scope: {scope}
  names: {{plural: gadgets, singular: gadget, kind: Gadget, listKind: GadgetList}}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {{openAPIV3Schema: {{type: object, properties: {{spec: {{type: object, properties: {{size: {{type: integer, default: 3}}, color: {{type: string}}}}}}}}}}}}
"#
    )
}

/// Flux `ApplyAllStaged`, Argo CD `SkipDryRunOnMissingResource`: a release shipping CRDs and
/// custom resources of them (one namespaced, one cluster-scoped) plans in one run, each custom
/// resource from its CRD's schema (the default shown as planned); a saved plan of it applies
/// (the CRD is established first), and the next plan is "No changes".
#[test]
fn crds_and_their_custom_resources_plan_and_apply_in_one_run() {
    let mut p = Project::new("sem-crdstage");
    let (ns_group, cluster_group) = (
        format!("{}.todoplan.test", p.name),
        format!("c.{}.todoplan.test", p.name),
    );
    p.crds.push(format!("gadgets.{ns_group}"));
    p.crds.push(format!("gadgets.{cluster_group}"));
    p.objects(&format!(
        "{}---\n{}---\napiVersion: {ns_group}/v1\nkind: Gadget\nmetadata: {{name: here}}\nspec: {{color: red}}\n---\napiVersion: {cluster_group}/v1\nkind: Gadget\nmetadata: {{name: everywhere-{}}}\nspec: {{color: blue, size: 5}}\n",
        gadget_crd(&ns_group, "Namespaced"),
        gadget_crd(&cluster_group, "Cluster"),
        p.name
    ));
    let plan = p.ok(&["plan", "--out", "crds.plan"]);
    assert!(
        plan.contains(&format!("+ {ns_group}/v1 Gadget {}/here", p.name))
            && plan.contains(&format!(
                "+ {cluster_group}/v1 Gadget everywhere-{}",
                p.name
            ))
            && plan.contains("planned from the CRD's schema")
            && plan.contains("size: 3")
            && !plan.contains("cannot be planned"),
        "{plan}"
    );
    p.ok(&["apply", "crds.plan"]);
    let size = p.jsonpath(&[&format!("gadgets.{ns_group}"), "here"], "{.spec.size}");
    assert_eq!(size, "3", "the schema default the plan showed");
    let cluster_scoped = support::kubectl([
        "get",
        &format!("gadgets.{cluster_group}"),
        &format!("everywhere-{}", p.name),
        "-o",
        "jsonpath={.metadata.namespace}:{.spec.color}",
    ]);
    assert_eq!(cluster_scoped, ":blue");
    p.assert_no_changes("CRDs and their custom resources applied in one run");
}

/// A chart's `crds/` directory, and its subchart's, as `helm install` installs them: not
/// templated, applied before the chart's objects, so a custom resource of the chart plans and
/// applies in the same run. Unlike helm, they stay managed: a changed CRD file updates the CRD,
/// and dropping it (custom resources still there) is refused without --allow-data-loss.
/// `crds = "skip"` leaves them out, as `helm install --skip-crds`.
#[test]
fn a_charts_crds_directory_is_applied_before_the_chart_and_kept_as_the_chart_has_it() {
    let mut p = Project::new("sem-crddir");
    let (group, sub_group) = (
        format!("{}.todoplan.test", p.name),
        format!("s.{}.todoplan.test", p.name),
    );
    p.crds.push(format!("gadgets.{group}"));
    p.crds.push(format!("gadgets.{sub_group}"));
    p.objects("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain, namespace: \"{ns}\"}\n");
    let chart = p.path().join("app");
    let write = |rel: &str, text: &str| {
        let path = chart.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: sub\n  version: 0.1.0\n",
    );
    // not templated: helm would fail on this line if it were
    write(
        "crds/gadgets.yaml",
        &format!(
            "# {{{{ not a template }}}}\n{}",
            gadget_crd(&group, "Namespaced")
        ),
    );
    write("crds/README.md", "not a manifest\n");
    write(
        "templates/gadget.yaml",
        &format!(
            "apiVersion: {group}/v1\nkind: Gadget\nmetadata: {{name: g1}}\nspec: {{color: red}}\n"
        ),
    );
    write(
        "charts/sub/Chart.yaml",
        "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
    );
    write(
        "charts/sub/crds/gadgets.yaml",
        &gadget_crd(&sub_group, "Cluster"),
    );
    write(
        "charts/sub/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-sub}\ndata: {a: \"1\"}\n",
    );
    let toml = p.path().join("todo.toml");
    let base = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{base}\n[releases.app]\nchart = \"app\"\n")).unwrap();

    let plan = p.ok(&["plan"]);
    for line in [
        format!("+ apiextensions.k8s.io/v1 CustomResourceDefinition gadgets.{group}"),
        format!("+ apiextensions.k8s.io/v1 CustomResourceDefinition gadgets.{sub_group}"),
        format!("+ {group}/v1 Gadget {}/g1", p.name),
    ] {
        assert!(plan.contains(&line), "{line}:\n{plan}");
    }
    assert!(plan.contains("planned from the CRD's schema"), "{plan}");
    p.ok(&["apply", "--auto-approve"]);
    let size = p.jsonpath(&[&format!("gadgets.{group}"), "g1"], "{.spec.size}");
    assert_eq!(size, "3", "the CRD's default, so the CRD came first");
    p.assert_no_changes("a chart's crds/ applied");

    // The chart changes its CRD: the CRD is updated (helm install would leave it).
    write(
        "crds/gadgets.yaml",
        &gadget_crd(&group, "Namespaced").replace("default: 3", "default: 4"),
    );
    let plan = p.ok(&["plan"]);
    assert!(
        plan.contains(&format!(
            "~ apiextensions.k8s.io/v1 CustomResourceDefinition gadgets.{group}"
        )),
        "{plan}"
    );
    p.ok(&["apply", "--auto-approve"]);
    let default = support::kubectl([
        "get",
        "crd",
        &format!("gadgets.{group}"),
        "-o",
        "jsonpath={.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.size.default}",
    ]);
    assert_eq!(default, "4");
    p.assert_no_changes("a changed CRD applied");

    // The chart drops its CRD while a custom resource of it lives: refused without the flag.
    std::fs::remove_file(chart.join("crds/gadgets.yaml")).unwrap();
    std::fs::remove_file(chart.join("templates/gadget.yaml")).unwrap();
    support::kubectl_apply(
        &p.name,
        &format!(
            "apiVersion: {group}/v1\nkind: Gadget\nmetadata: {{name: precious}}\nspec: {{size: 9}}\n"
        ),
    );
    let out = p.run(&["apply", "--auto-approve"]);
    let said = text(&out);
    assert!(said.contains("--allow-data-loss"), "{said}");
    assert_eq!(
        support::kubectl(["get", "crd", &format!("gadgets.{group}"), "-o", "name"]).trim(),
        format!("customresourcedefinition.apiextensions.k8s.io/gadgets.{group}"),
        "the CRD is still there:\n{said}"
    );

    // crds = "skip": the subchart's CRD is no longer the release's, and none is planned.
    std::fs::write(
        &toml,
        format!("{base}\n[releases.app]\nchart = \"app\"\ncrds = \"skip\"\n"),
    )
    .unwrap();
    let rendered = p.ok(&["render", "app"]);
    assert!(
        !rendered.contains("CustomResourceDefinition") && rendered.contains("from-sub"),
        "{rendered}"
    );
}

/// The custom resources in one release and their CRD in another that todo.toml does not order
/// (the custom resources' release even comes first by name): the plan orders them, `--target`
/// of the CRD's release plans alone, and one apply does both.
#[test]
fn custom_resources_in_another_release_than_their_crd_wait_for_it() {
    let mut p = Project::new("sem-crdrel");
    let group = format!("{}.todoplan.test", p.name);
    p.crds.push(format!("gadgets.{group}"));
    // Release `objects` (from Project::new) holds the custom resource; `zz-crds` the CRD.
    p.objects(&format!(
        "apiVersion: {group}/v1\nkind: Gadget\nmetadata: {{name: g1}}\nspec: {{color: green}}\n"
    ));
    p.add_release("zz-crds", &gadget_crd(&group, "Namespaced"));
    let targeted = p.ok(&["plan", "--target", "release.zz-crds"]);
    assert!(
        targeted.contains("CustomResourceDefinition")
            && !targeted.contains(&format!("Gadget {}/g1", p.name)),
        "{targeted}"
    );
    let plan = p.ok(&["plan"]);
    assert!(
        plan.contains(&format!("+ {group}/v1 Gadget {}/g1", p.name)),
        "{plan}"
    );
    let applied = p.ok(&["apply", "--auto-approve"]);
    // The plan shows the CRD's release first, and apply writes it first.
    for said in [&plan, &applied] {
        let crd_at = said
            .find("+ apiextensions.k8s.io/v1 CustomResourceDefinition")
            .unwrap_or(usize::MAX);
        let cr_at = said.find(&format!("Gadget {}/g1", p.name)).unwrap_or(0);
        assert!(crd_at < cr_at, "the CRD comes first:\n{said}");
    }
    let written = |what: &str| applied.find(&format!("release.{what}: + ")).unwrap_or(0);
    assert!(
        written("zz-crds") < written("objects") && written("zz-crds") > 0,
        "the CRD is written first:\n{applied}"
    );
    p.assert_no_changes("custom resources applied after their CRD's release");
}

/// A kind that neither the cluster nor any CRD of the plan declares is still refused by name.
#[test]
fn a_kind_nobody_declares_is_refused_with_the_clusters_words() {
    let p = Project::new("sem-nokind");
    p.objects("apiVersion: nowhere.todoplan.test/v1\nkind: Phantom\nmetadata: {name: boo}\n");
    let out = p.run(&["plan"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        support::one_line(&said)
            .contains("the cluster does not know nowhere.todoplan.test/v1 Phantom"),
        "{said}"
    );
}

const MADE_BY_KUBECTL: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: "{ns}"}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: "busybox:1.35.0", command: [sleep, "3600"]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: "{ns}"}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: "{ns}"}
data: {a: "1"}
"#;

/// Flux `TestApply_Cleanup`: objects first made by `kubectl apply` (client-side) and `kubectl
/// create` are taken over with the fields those tools set, in one apply: the server's defaults
/// stay, kubectl's managers and its last-applied annotation go, and the next plan is "No
/// changes" (it showed ~20 drift lines forever before). A later `kubectl apply` by hand is drift
/// again, reverted by the next apply, after which the plan is "No changes" again.
#[test]
fn objects_made_by_kubectl_are_taken_over_and_converge_in_one_apply() {
    let p = Project::new("sem-owners");
    support::kubectl(["create", "namespace", &p.name]);
    support::kubectl_apply(&p.name, &MADE_BY_KUBECTL.replace("{ns}", &p.name));
    support::kubectl([
        "-n",
        &p.name,
        "create",
        "configmap",
        "made",
        "--from-literal=x=1",
    ]);
    p.objects(&format!(
        "{MADE_BY_KUBECTL}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: made, namespace: \"{{ns}}\"}}\ndata: {{x: \"1\"}}\n"
    ));
    let plan = p.ok(&["plan"]);
    assert!(
        plan.contains("with the fields kubectl-client-side-apply set")
            && plan.contains("with the fields kubectl-create set"),
        "the plan says whose fields apply takes over:\n{plan}"
    );
    assert!(
        !plan.contains("-   type: ClusterIP") && !plan.contains("revisionHistoryLimit"),
        "defaults the server fills in again are not shown as removed:\n{plan}"
    );
    p.ok(&["apply", "--auto-approve"]);
    p.assert_no_changes("taking over objects made by kubectl");
    let out = p.run(&["plan", "--refresh", "full", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let managers = p.jsonpath(
        &[
            "deployment/web",
            "service/web",
            "configmap/settings",
            "configmap/made",
            "--show-managed-fields",
        ],
        "{.items[*].metadata.managedFields[*].manager}",
    );
    assert!(
        !managers.contains("kubectl-client-side-apply") && !managers.contains("kubectl-create"),
        "kubectl's managers are gone: {managers}"
    );
    let annotation = p.jsonpath(
        &["deployment", "web"],
        "{.metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration}",
    );
    assert_eq!(annotation, "", "kubectl's last-applied annotation is gone");
    let defaulted = p.jsonpath(&["deployment", "web"], "{.spec.revisionHistoryLimit}");
    assert_eq!(defaulted, "10", "the server's default stays");

    // A `kubectl apply` by hand afterwards is drift, and the next apply reverts it.
    support::kubectl_apply(
        &p.name,
        &MADE_BY_KUBECTL
            .replace("{ns}", &p.name)
            .replace("replicas: 1", "replicas: 2"),
    );
    let plan = p.ok(&["plan"]);
    assert!(
        plan.contains("spec.replicas: 1 -> 2 by kubectl-client-side-apply"),
        "{plan}"
    );
    p.ok(&["apply", "--auto-approve"]);
    let replicas = p.jsonpath(&["deployment", "web"], "{.spec.replicas}");
    assert_eq!(replicas, "1");
    p.assert_no_changes("reverting a kubectl apply by hand");
}

/// Changes the API server refuses in place in words other than "field is immutable" (a
/// RoleBinding's `roleRef`, a StorageClass's `parameters`, a Service's cluster IP set to `None`)
/// are planned as a replace with the server's reason, as kapp's fallback-on-replace and Argo
/// CD's `Replace=true` do, and converge.
#[test]
fn changes_the_server_refuses_in_place_are_replaced() {
    let p = Project::new("sem-immut");
    let class = format!("{}-class", p.name);
    let manifests = |role: &str, parameter: &str, cluster_ip: &str| {
        format!(
            r#"apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: reader, namespace: "{{ns}}"}}
rules: [{{apiGroups: [""], resources: [configmaps], verbs: [get]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: writer, namespace: "{{ns}}"}}
rules: [{{apiGroups: [""], resources: [configmaps], verbs: [get, update]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: app, namespace: "{{ns}}"}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: {role}}}
subjects: [{{kind: ServiceAccount, name: default, namespace: "{{ns}}"}}]
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {{name: {class}}}
provisioner: example.com/none
parameters: {{tier: "{parameter}"}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: "{{ns}}"}}
spec: {{ports: [{{port: 80}}]{cluster_ip}}}
"#
        )
    };
    let cleanup = ClusterScopedOnDrop("storageclass", class.clone());
    p.objects(&manifests("reader", "fast", ""));
    p.ok(&["apply", "--auto-approve"]);
    p.objects(&manifests("writer", "slow", ", clusterIP: None"));
    let plan = p.ok(&["plan"]);
    for (what, words) in [
        ("RoleBinding", "cannot change roleRef"),
        ("StorageClass", "updates to parameters are forbidden"),
        ("Service", "may not change once set"),
    ] {
        assert!(
            plan.contains(&format!("{what} ")) && plan.contains(words),
            "{what} is replaced with the server's reason ({words}):\n{plan}"
        );
    }
    assert!(
        plan.contains("3 to replace") && !plan.contains("cannot be planned"),
        "{plan}"
    );
    p.ok(&["apply", "--auto-approve"]);
    let role = p.jsonpath(&["rolebinding", "app"], "{.roleRef.name}");
    assert_eq!(role, "writer");
    p.assert_no_changes("replacing objects the server refuses to change in place");
    drop(cleanup);
}

/// Deletes a cluster-scoped object (the project's namespace does not take it along).
struct ClusterScopedOnDrop(&'static str, String);

impl Drop for ClusterScopedOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kubectl")
            .args(["delete", self.0, &self.1, "--ignore-not-found"])
            .output();
    }
}

/// Flux waits for termination and names the finalizer: an object a finalizer holds is not
/// "destroyed" until it is gone. Past the wait, the apply fails naming the finalizer and the
/// object stays recorded (no stray `?` line next time); once the finalizer lets go while apply
/// waits, the prune completes and the next plan is "No changes".
#[test]
fn a_prune_waits_for_finalizers_and_names_the_one_that_holds_it() {
    let p = Project::new("sem-final");
    let held = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, namespace: \"{ns}\", finalizers: [todoplan.test/hold]}\ndata: {a: \"1\"}\n";
    let other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: \"{ns}\"}\ndata: {a: \"1\"}\n";
    p.objects(&format!("{held}---\n{other}"));
    p.ok(&["apply", "--auto-approve"]);
    p.objects(other);
    let out = Command::new(env!("CARGO_BIN_EXE_todoplan"))
        .args(["apply", "--auto-approve"])
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .env("TODOPLAN_DELETE_TIMEOUT", "3s")
        .output()
        .unwrap();
    let said = support::one_line(&text(&out));
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("held by finalizer(s) todoplan.test/hold"),
        "the apply names the finalizer: {said}"
    );
    let plan = p.ok(&["plan"]);
    assert!(
        plan.contains(&format!("v1 ConfigMap {}/held", p.name)) && !plan.contains("never applied"),
        "still recorded, planned for deletion again (not a stray):\n{plan}"
    );
    // The finalizer's controller lets go while apply waits.
    let name = p.name.clone();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(2));
        support::kubectl([
            "-n",
            &name,
            "patch",
            "configmap",
            "held",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ]);
    });
    p.ok(&["apply", "--auto-approve"]);
    release.join().unwrap();
    let left = support::kubectl([
        "-n",
        &p.name,
        "get",
        "configmaps",
        "--ignore-not-found",
        "-o",
        "name",
    ]);
    assert!(!left.contains("configmap/held"), "{left}");
    p.assert_no_changes("a prune that waited for a finalizer");
}

/// kubectl and kapp show what the API server warns about; so do plan and apply: a custom
/// resource written at a CRD version marked deprecated carries the CRD's deprecationWarning.
#[test]
fn api_server_warnings_are_shown_in_plan_and_apply() {
    let mut p = Project::new("sem-warn");
    let group = format!("{}.todoplan.test", p.name);
    let crd = format!("gadgets.{group}");
    p.crds.push(crd.clone());
    support::kubectl_apply(
        "default",
        &format!(
            r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: {crd}}}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: gadgets, singular: gadget, kind: Gadget, listKind: GadgetList}}
  versions:
  - name: v1beta1
    served: true
    storage: false
    deprecated: true
    deprecationWarning: "{group}/v1beta1 Gadget is going away: use v1"
    schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}
  - name: v1
    served: true
    storage: true
    schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}
"#
        ),
    );
    wait_established(&crd);
    p.objects(&format!(
        "apiVersion: {group}/v1beta1\nkind: Gadget\nmetadata: {{name: old}}\nspec: {{size: 1}}\n"
    ));
    let warning = format!("{group}/v1beta1 Gadget is going away: use v1");
    let plan = p.ok(&["plan"]);
    assert!(
        plan.contains(&format!("Note: the API server warned: {warning}")),
        "{plan}"
    );
    let applied = p.ok(&["apply", "--auto-approve"]);
    assert!(
        applied.contains(&format!("Warning from the API server: {warning}")),
        "{applied}"
    );
}

/// todo.toml's own keep policy: `keep = ["ConfigMap/settings"]` marks the object, so removing
/// it from the chart, and destroying the release, leave it in the cluster (released: no longer
/// labelled as this instance's), as Helm's resource-policy and Argo CD's Prune=false do.
#[test]
fn objects_todo_toml_keeps_survive_prune_and_destroy() {
    let p = Project::new("sem-tomlkeep");
    let toml = p.path().join("todo.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replace(
            "chart = \"objects\"\n",
            "chart = \"objects\"\nkeep = [\"ConfigMap/settings\", \"Secret/*\"]\n",
        ),
    )
    .unwrap();
    let settings = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: \"{ns}\"}\ndata: {a: \"1\"}\n";
    let token = "apiVersion: v1\nkind: Secret\nmetadata: {name: token, namespace: \"{ns}\"}\nstringData: {t: \"x\"}\n";
    let scratch = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: scratch, namespace: \"{ns}\"}\ndata: {a: \"1\"}\n";
    p.objects(&format!("{settings}---\n{token}---\n{scratch}"));
    p.ok(&["apply", "--auto-approve"]);
    p.objects(&format!("{token}---\n{scratch}"));
    let plan = p.ok(&["plan"]);
    assert!(plan.contains("keep in todo.toml"), "{plan}");
    p.ok(&["apply", "--auto-approve"]);
    let exists = |what: &str| {
        support::kubectl([
            "-n",
            &p.name,
            "get",
            what,
            "--ignore-not-found",
            "-o",
            "name",
        ])
        .trim()
        .to_string()
    };
    assert_eq!(exists("configmap/settings"), "configmap/settings");
    p.assert_no_changes("a pruned object todo.toml keeps");
    p.ok(&["destroy", "--auto-approve"]);
    assert_eq!(exists("secret/token"), "secret/token", "kept by Secret/*");
    assert_eq!(exists("configmap/scratch"), "", "not kept: destroyed");
}

/// A key renamed in a Secret's `stringData` is removed from the cluster (server-side apply
/// tracks `stringData` keys, which the stored object never has, so the old key stayed while the
/// plan said "No changes"): todoplan applies `stringData` as `data`, as Flux normalises it.
#[test]
fn a_key_renamed_in_string_data_is_removed() {
    let p = Project::new("sem-strdata");
    p.objects("apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: \"{ns}\"}\nstringData: {old_name: \"s3cr3t-value\"}\n");
    p.ok(&["apply", "--auto-approve"]);
    p.objects("apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: \"{ns}\"}\nstringData: {new_name: \"s3cr3t-value\"}\n");
    let plan = p.ok(&["plan"]);
    assert!(
        plan.contains("-   old_name: (sensitive value)")
            && plan.contains("+   new_name: (sensitive value)"),
        "{plan}"
    );
    assert!(!plan.contains("s3cr3t-value"), "no secret byte in the plan");
    p.ok(&["apply", "--auto-approve"]);
    let keys = p.jsonpath(&["secret", "creds"], "{.data}");
    assert!(
        keys.contains("new_name") && !keys.contains("old_name"),
        "{keys}"
    );
    p.assert_no_changes("a renamed stringData key");
}

/// An aggregated ClusterRole's rules are the aggregation controller's by design: apply never
/// empties them (it did on every apply, and the controller filled them again), and they are not
/// drift.
#[test]
fn an_aggregated_cluster_roles_rules_are_left_to_its_controller() {
    let p = Project::new("sem-aggr");
    let (aggregate, part) = (format!("{}-all", p.name), format!("{}-part", p.name));
    let _cleanup = (
        ClusterScopedOnDrop("clusterrole", aggregate.clone()),
        ClusterScopedOnDrop("clusterrole", part.clone()),
    );
    p.objects(&format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {aggregate}}}\naggregationRule:\n  clusterRoleSelectors: [{{matchLabels: {{{label}: \"true\"}}}}]\nrules: []\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {part}, labels: {{{label}: \"true\"}}}}\nrules: [{{apiGroups: [\"\"], resources: [pods], verbs: [get]}}]\n",
        label = format!("{}.todoplan.test/aggregate", p.name)
    ));
    p.ok(&["apply", "--auto-approve"]);
    let rules = || {
        support::kubectl([
            "get",
            "clusterrole",
            &aggregate,
            "-o",
            "jsonpath={.rules[*].resources}",
        ])
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !rules().contains("pods") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(
        rules().contains("pods"),
        "the controller aggregated the rules"
    );
    p.assert_no_changes("the aggregation controller filled the rules");
    p.ok(&["apply", "--auto-approve", "--refresh", "full"]);
    assert!(rules().contains("pods"), "apply left the rules alone");
}

/// A field todoplan applied that another manager also set (co-owned): when the chart stops
/// declaring it, one apply removes it (apply alone only drops todoplan's ownership and leaves
/// the field to the other manager; the plan said "No changes").
#[test]
fn a_co_owned_field_the_chart_drops_is_removed_in_one_apply() {
    let p = Project::new("sem-coown");
    p.objects("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: \"{ns}\"}\ndata: {a: \"1\", b: \"2\"}\n");
    p.ok(&["apply", "--auto-approve"]);
    let mut child = Command::new("kubectl")
        .args([
            "apply",
            "--server-side",
            "--field-manager=other-tool",
            "-f",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(
                format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: {}}}\ndata: {{b: \"2\"}}\n",
                    p.name
                )
                .as_bytes(),
            )
            .unwrap();
    }
    assert!(child.wait().unwrap().success());
    p.objects("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: \"{ns}\"}\ndata: {a: \"1\"}\n");
    let plan = p.ok(&["plan"]);
    assert!(
        plan.contains("that other-tool also set") && plan.contains("-   b: '2'"),
        "{plan}"
    );
    p.ok(&["apply", "--auto-approve"]);
    let data = p.jsonpath(&["configmap", "c"], "{.data}");
    assert_eq!(data, r#"{"a":"1"}"#);
    p.assert_no_changes("removing a co-owned field");
}

/// A 403 from admission (a namespace being terminated) is not a permission problem: the plan
/// line says so instead of sending the user to ask for RBAC.
#[test]
fn an_admission_refusal_is_not_reported_as_missing_permissions() {
    let p = Project::new("sem-adm403");
    let doomed = format!("{}-doomed", p.name);
    struct Unblock(String);
    impl Drop for Unblock {
        fn drop(&mut self) {
            let _ = Command::new("kubectl")
                .args([
                    "-n",
                    &self.0,
                    "patch",
                    "configmap",
                    "blocker",
                    "--type=merge",
                    "-p",
                    r#"{"metadata":{"finalizers":null}}"#,
                ])
                .output();
        }
    }
    support::kubectl(["create", "namespace", &doomed]);
    let _unblock = Unblock(doomed.clone());
    support::kubectl_apply(
        &doomed,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: blocker, finalizers: [todoplan.test/hold]}\n",
    );
    support::kubectl(["delete", "namespace", &doomed, "--wait=false"]);
    p.objects(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: late, namespace: {doomed}}}\ndata: {{a: \"1\"}}\n"
    ));
    let out = p.run(&["plan"]);
    let said = support::one_line(&text(&out));
    assert!(
        said.contains("because it is being terminated")
            && said.contains("an admission check refused it, not a missing permission")
            && !said.contains("RBAC"),
        "{said}"
    );
}

/// An object with `generateName` and no name cannot be tracked by name: the plan refuses it
/// naming the release, the object and what to write instead (it named namespace `default` and
/// a request-building error).
#[test]
fn a_generate_name_object_is_refused_with_what_to_write_instead() {
    let p = Project::new("sem-genname");
    p.objects("apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-}\nspec:\n  template:\n    spec: {restartPolicy: Never, containers: [{name: c, image: \"busybox:1.35.0\"}]}\n");
    let out = p.run(&["plan"]);
    let said = support::one_line(&text(&out));
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("release.objects: a batch/v1 Job with generateName `migrate-` and no name")
            && said.contains("name: migrate-{{ .Release.Revision }}")
            && !said.contains("default/"),
        "{said}"
    );
}

/// A label, an annotation or a data key removed by hand (the instance label among them) is
/// drift, not "No drift" while the plan shows a change; the plan's diff shows only the keys that
/// come back, not the others moving; apply restores them and drift is clean again.
#[test]
fn keys_removed_by_hand_are_drift_and_restored() {
    let p = Project::new("sem-rmkeys");
    p.objects("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: \"{ns}\", annotations: {team: a}}\ndata: {a: \"1\", b: \"2\"}\n");
    p.ok(&["apply", "--auto-approve"]);
    support::kubectl([
        "-n",
        &p.name,
        "label",
        "configmap",
        "c",
        "todoplan.dev/instance-",
    ]);
    support::kubectl(["-n", &p.name, "annotate", "configmap", "c", "team-"]);
    support::kubectl([
        "-n",
        &p.name,
        "patch",
        "configmap",
        "c",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/data/b"}]"#,
    ]);
    let drift = p.run(&["drift"]);
    let said = text(&drift);
    for field in [
        "metadata.labels.todoplan.dev/instance",
        "metadata.annotations.team",
        "data.b",
    ] {
        assert!(said.contains(field), "drift names {field}:\n{said}");
    }
    let plan = p.ok(&["plan"]);
    assert!(
        plan.contains("+   b: '2'") && !plan.contains(&format!("-   namespace: {}", p.name)),
        "{plan}"
    );
    p.ok(&["apply", "--auto-approve"]);
    let clean = p.run(&["drift"]);
    assert!(text(&clean).contains("No drift"), "{}", text(&clean));
    p.assert_no_changes("restoring keys removed by hand");
}

/// Every missing secret source is named at once (a user exported them one run at a time).
#[test]
fn every_missing_secret_source_is_named_at_once() {
    let p = Project::new("sem-envs");
    let toml = p.path().join("todo.toml");
    let spec = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!(
            "{spec}\n[secrets.app.keys]\nA_KEY = {{ env = \"SEM_ENVS_UNSET_A\" }}\nB_KEY = {{ env = \"SEM_ENVS_UNSET_B\" }}\n[secrets.files.keys]\nCERT = {{ file = \"no-such.pem\" }}\n"
        ),
    )
    .unwrap();
    p.objects("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: \"{ns}\"}\ndata: {a: \"1\"}\n");
    let out = p.run(&["plan"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("3 secret sources are missing"), "{said}");
    for name in ["SEM_ENVS_UNSET_A", "SEM_ENVS_UNSET_B", "no-such.pem"] {
        assert!(said.contains(name), "{name}:\n{said}");
    }
}

/// Planning without `--env` objects another environment applied: the plan says which
/// environment owns them ("did you forget `--env dev`?") instead of only naming a lineage.
#[test]
fn forgetting_env_names_the_environment_that_owns_the_objects() {
    let p = Project::new("sem-forgotenv");
    let toml = p.path().join("todo.toml");
    let spec = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{spec}\n[env.dev]\n")).unwrap();
    p.objects("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: \"{ns}\"}\ndata: {a: \"1\"}\n");
    p.ok(&["apply", "--env", "dev", "--auto-approve"]);
    let out = p.run(&["plan"]);
    let said = support::one_line(&text(&out));
    assert!(said.contains("did you forget `--env dev`?"), "{said}");
}

/// Rollback to a revision whose secret values the sources give again (the environment variable
/// restored to that revision's value) restores it; before, it was refused whenever the live
/// Secret had moved on, although the help said to restore the sources.
#[test]
fn rollback_restores_a_secret_whose_source_holds_that_revisions_value_again() {
    let p = Project::new("sem-rbsecret");
    let toml = p.path().join("todo.toml");
    let spec = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!("{spec}\n[secrets.app.keys]\nTOKEN = {{ env = \"SEM_RB_TOKEN\" }}\n"),
    )
    .unwrap();
    p.objects("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: \"{ns}\"}\ndata: {a: \"1\"}\n");
    let run = |token: &str, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_todoplan"))
            .args(args)
            .current_dir(p.path())
            .env("NO_COLOR", "1")
            .env("SEM_RB_TOKEN", token)
            .output()
            .unwrap();
        let said = text(&out);
        assert!(out.status.success(), "{args:?}:\n{said}");
        said
    };
    run("first-token-value", &["apply", "--auto-approve"]);
    run("second-token-value", &["apply", "--auto-approve"]);
    let said = run(
        "first-token-value",
        &["rollback", "--to", "1", "--auto-approve"],
    );
    assert!(!said.contains("first-token-value"), "no secret byte shown");
    let live = p.jsonpath(&["secret", &format!("{}-app", p.name)], "{.data.TOKEN}");
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(live.trim())
            .unwrap(),
        b"first-token-value"
    );
}

/// A namespace todoplan made goes with the last of its objects, without `--allow-data-loss`,
/// when nothing else is in it: deleting it loses nothing (before, destroy always kept it,
/// "deleting it would lose its data", a false risk). With a claim the gate keeps, or an object
/// someone else put there, it is kept, naming what it holds, with the flag or without.
#[test]
fn a_namespace_goes_with_its_last_object_and_stays_while_it_holds_others() {
    let p = Project::new("nsgo");
    p.objects(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: {ns}}\ndata: {k: v}\n",
    );
    p.ok(&["apply", "--auto-approve"]);
    let out = p.ok(&["destroy", "--auto-approve", "--no-color"]);
    assert!(
        out.contains("will be destroyed") && !out.contains("will NOT be changed (protected)"),
        "{out}"
    );
    assert!(out.contains("2 destroyed, 0 protected and kept"), "{out}");
    assert!(!support::namespace_exists(&p.name), "{out}");

    // Again, with an object of someone else in the namespace: kept, even with the flag.
    p.ok(&["apply", "--auto-approve"]);
    support::kubectl([
        "-n",
        p.name.as_str(),
        "create",
        "configmap",
        "by-hand",
        "--from-literal=k=v",
    ]);
    for flags in [&[][..], &["--allow-data-loss"][..]] {
        let mut args = vec!["destroy", "--auto-approve", "--no-color"];
        args.extend_from_slice(flags);
        let out = p.ok(&args);
        let said = out.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            said.contains("holds 1 object(s) this plan does not delete (v1 ConfigMap")
                && said.contains("by-hand"),
            "{flags:?}: {out}"
        );
        assert!(support::namespace_exists(&p.name), "{flags:?}: {out}");
    }
    assert_eq!(p.jsonpath(&["configmap", "by-hand"], "{.data.k}"), "v");
}
