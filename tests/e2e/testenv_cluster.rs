//! The local test environment behaves like the real cluster, engine and registry todoplan needs.
//! Run with `scripts/test`, or after `scripts/testenv up` and `eval "$(scripts/testenv env)"`:
//! `cargo test --features e2e --test e2e testenv_cluster::`.
#![cfg(feature = "e2e")]

use crate::support;

use serde_json::Value;
use std::time::Duration;
use support::{
    TestNamespace, kubectl, kubectl_apply, kubectl_json, pinned_version, poll_until, registry,
    require_cluster, require_docker, run_ok, run_tool, unique_name,
};

const ROLLOUT_BOUND: Duration = Duration::from_secs(60);
const STATUS_BOUND: Duration = Duration::from_secs(90);

fn condition_status<'a>(object: &'a Value, kind: &str) -> Option<&'a str> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)?
        .get("status")?
        .as_str()
}

/// The single pod selected by `app=<app>` in the namespace, once it exists and has any
/// container status.
fn pod_with_container_status(ns: &str, app: &str) -> Option<Value> {
    let pods = kubectl_json(["-n", ns, "get", "pods", "-l", &format!("app={app}")]);
    let pod = pods["items"].as_array()?.first()?.clone();
    pod["status"]["containerStatuses"].as_array()?.first()?;
    Some(pod)
}

/// Waits for a Warning event with `reason` about the pod, as a kubelet would record it.
fn wait_for_pod_event(ns: &str, pod: &Value, reason: &str) {
    let name = pod["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    poll_until(
        &format!("a {reason} event for pod {name}"),
        STATUS_BOUND,
        || {
            let events = kubectl_json([
                "-n",
                ns,
                "get",
                "events",
                "--field-selector",
                &format!("involvedObject.kind=Pod,involvedObject.name={name}"),
            ]);
            events["items"]
                .as_array()?
                .iter()
                .any(|e| e["reason"] == reason && e["type"] == "Warning")
                .then_some(())
        },
    );
}

fn deployment(name: &str, replicas: u32, image: &str, annotations: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
      annotations: {{{annotations}}}
    spec:
      containers:
      - name: main
        image: {image}
"#
    )
}

#[test]
fn node_is_ready() {
    require_cluster();
    let nodes = kubectl_json(["get", "nodes"]);
    let items = nodes["items"].as_array().cloned().unwrap_or_default();
    assert!(
        items
            .iter()
            .any(|n| condition_status(n, "Ready") == Some("True")),
        "no node is Ready: {nodes:#}"
    );
}

#[test]
fn server_and_kubectl_report_the_pinned_kubernetes_version() {
    require_cluster();
    let pinned = pinned_version("KUBERNETES_VERSION");
    let version = kubectl_json(["version"]);
    assert_eq!(
        version["serverVersion"]["gitVersion"],
        pinned.as_str(),
        "{version:#}"
    );
    assert_eq!(
        version["clientVersion"]["gitVersion"],
        pinned.as_str(),
        "{version:#}"
    );
}

#[test]
fn helm_reports_the_pinned_version() {
    let pinned = pinned_version("HELM_VERSION");
    let version = run_ok("helm", ["version", "--template", "{{.Version}}"]);
    assert_eq!(version.trim(), pinned);
}

#[test]
fn deployment_rolls_out_to_available() {
    require_cluster();
    let ns = TestNamespace::create("tp-testenv-deploy");
    kubectl_apply(&ns.name, &deployment("web", 2, "busybox:1.35.0", ""));
    poll_until(
        "deployment web to be Available with 2 replicas",
        ROLLOUT_BOUND,
        || {
            let d = kubectl_json(["-n", &ns.name, "get", "deployment", "web"]);
            (condition_status(&d, "Available") == Some("True")
                && d["status"]["availableReplicas"] == 2
                && d["status"]["updatedReplicas"] == 2)
                .then_some(())
        },
    );
}

#[test]
fn statefulset_with_claim_template_becomes_ready_and_its_claim_binds() {
    require_cluster();
    let ns = TestNamespace::create("tp-testenv-sts");
    kubectl_apply(
        &ns.name,
        r#"apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 1
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: main
        image: busybox:1.35.0
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"#,
    );
    poll_until(
        "statefulset db to have 1 ready replica",
        STATUS_BOUND,
        || {
            let s = kubectl_json(["-n", &ns.name, "get", "statefulset", "db"]);
            (s["status"]["readyReplicas"] == 1).then_some(())
        },
    );
    let claim = kubectl_json(["-n", &ns.name, "get", "pvc", "data-db-0"]);
    assert_eq!(claim["status"]["phase"], "Bound", "{claim:#}");
    assert_eq!(
        claim["spec"]["storageClassName"], "standard",
        "the default StorageClass was not applied: {claim:#}"
    );
}

#[test]
fn released_volume_becomes_available_again() {
    require_cluster();
    let ns = TestNamespace::create("tp-testenv-pv");
    kubectl_apply(
        &ns.name,
        r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: scratch
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
"#,
    );
    let volume = poll_until("claim scratch to bind", STATUS_BOUND, || {
        let c = kubectl_json(["-n", &ns.name, "get", "pvc", "scratch"]);
        (c["status"]["phase"] == "Bound")
            .then(|| c["spec"]["volumeName"].as_str().map(str::to_owned))
            .flatten()
    });
    kubectl(["-n", &ns.name, "delete", "pvc", "scratch", "--wait=true"]);
    poll_until(
        &format!("volume {volume} to be Available after its claim was deleted"),
        STATUS_BOUND,
        || {
            let pv = kubectl_json(["get", "pv", &volume]);
            (pv["status"]["phase"] == "Available" && pv["spec"]["claimRef"].is_null()).then_some(())
        },
    );
}

#[test]
fn service_gets_a_cluster_ip() {
    require_cluster();
    let ns = TestNamespace::create("tp-testenv-svc");
    kubectl_apply(
        &ns.name,
        r#"apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: 8000}]
"#,
    );
    let svc = kubectl_json(["-n", &ns.name, "get", "service", "api"]);
    let ip = svc["spec"]["clusterIP"].as_str().unwrap_or_default();
    assert!(
        ip.parse::<std::net::IpAddr>().is_ok(),
        "service api has no ClusterIP: {svc:#}"
    );
}

#[test]
fn hpa_v2_and_ingress_are_accepted() {
    require_cluster();
    let ns = TestNamespace::create("tp-testenv-hpa");
    kubectl_apply(
        &ns.name,
        &(deployment("api", 1, "busybox:1.35.0", "")
            + r#"---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: api
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 70}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  ingressClassName: nginx
  rules:
  - host: todo.local
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: api, port: {number: 80}}
"#),
    );
    let hpa = kubectl_json([
        "-n",
        &ns.name,
        "get",
        "horizontalpodautoscalers.v2.autoscaling",
        "api",
    ]);
    assert_eq!(hpa["apiVersion"], "autoscaling/v2", "{hpa:#}");
    assert_eq!(hpa["spec"]["maxReplicas"], 3, "{hpa:#}");
    let ingress = kubectl_json(["-n", &ns.name, "get", "ingress", "web"]);
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx", "{ingress:#}");
    let class = kubectl_json(["get", "ingressclass", "nginx"]);
    assert_eq!(
        class["spec"]["controller"], "k8s.io/ingress-nginx",
        "{class:#}"
    );
}

#[test]
fn crashloop_marker_gives_crashloopbackoff_and_no_available_replica() {
    require_cluster();
    let ns = TestNamespace::create("tp-testenv-crash");
    kubectl_apply(
        &ns.name,
        &deployment(
            "crash",
            1,
            "busybox:1.35.0",
            "todoplan.dev/test-fail: crashloop",
        ),
    );
    let pod = poll_until("a crash pod in CrashLoopBackOff", STATUS_BOUND, || {
        let pod = pod_with_container_status(&ns.name, "crash")?;
        (pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff")
            .then_some(pod)
    });
    let container = &pod["status"]["containerStatuses"][0];
    assert!(
        container["restartCount"].as_u64().unwrap_or(0) > 0,
        "{pod:#}"
    );
    assert_eq!(container["ready"], false, "{pod:#}");
    assert_eq!(condition_status(&pod, "Ready"), Some("False"), "{pod:#}");
    let d = kubectl_json(["-n", &ns.name, "get", "deployment", "crash"]);
    assert!(
        d["status"]["availableReplicas"].as_u64().unwrap_or(0) == 0,
        "a crash-looping pod counted as available: {d:#}"
    );
    wait_for_pod_event(&ns.name, &pod, "BackOff");
}

#[test]
fn never_ready_marker_keeps_the_pod_running_but_not_ready() {
    require_cluster();
    let ns = TestNamespace::create("tp-testenv-unready");
    kubectl_apply(
        &ns.name,
        &deployment(
            "unready",
            1,
            "busybox:1.35.0",
            "todoplan.dev/test-fail: never-ready",
        ),
    );
    let pod = poll_until("the unready pod to be Running", STATUS_BOUND, || {
        let pod = pod_with_container_status(&ns.name, "unready")?;
        (pod["status"]["phase"] == "Running").then_some(pod)
    });
    let container = &pod["status"]["containerStatuses"][0];
    assert!(container["state"]["running"].is_object(), "{pod:#}");
    assert_eq!(container["ready"], false, "{pod:#}");
    assert_eq!(condition_status(&pod, "Ready"), Some("False"), "{pod:#}");
    wait_for_pod_event(&ns.name, &pod, "Unhealthy");
}

#[test]
fn image_name_marker_gives_imagepullbackoff() {
    require_cluster();
    let ns = TestNamespace::create("tp-testenv-pull");
    let image = format!("{}/fail-imagepull/app:1", registry());
    kubectl_apply(&ns.name, &deployment("pull", 1, &image, ""));
    let pod = poll_until("the pull pod in ImagePullBackOff", STATUS_BOUND, || {
        let pod = pod_with_container_status(&ns.name, "pull")?;
        (pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff")
            .then_some(pod)
    });
    assert_eq!(pod["status"]["phase"], "Pending", "{pod:#}");
    assert_eq!(condition_status(&pod, "Ready"), Some("False"), "{pod:#}");
    wait_for_pod_event(&ns.name, &pod, "Failed");
}

#[test]
fn deleted_namespace_goes_away_with_its_pods() {
    require_cluster();
    let name = unique_name("tp-testenv-nsdel");
    kubectl(["create", "namespace", &name]);
    let ns = TestNamespace { name };
    kubectl_apply(&ns.name, &deployment("web", 1, "busybox:1.35.0", ""));
    poll_until("a web pod to exist", STATUS_BOUND, || {
        pod_with_container_status(&ns.name, "web")
    });
    kubectl(["delete", "namespace", &ns.name, "--wait=false"]);
    poll_until(
        &format!("namespace {} to be deleted", ns.name),
        STATUS_BOUND,
        || {
            let out = run_tool("kubectl", ["get", "namespace", &ns.name]);
            (!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("NotFound"))
                .then_some(())
        },
    );
}

/// Removes the image tags it names when dropped, so test images do not pile up in the engine.
struct ImageTags(Vec<String>);

impl Drop for ImageTags {
    fn drop(&mut self) {
        for tag in &self.0 {
            let _ = run_tool("docker", ["rmi", "--force", tag]);
        }
    }
}

#[test]
fn docker_builds_from_busybox_pushes_and_runs_without_network() {
    require_docker();
    let context = tempfile::tempdir().expect("create a temporary build context");
    std::fs::write(context.path().join("greeting.txt"), "hello from COPY\n")
        .expect("write greeting.txt");
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM busybox:1.35.0\n\
         COPY greeting.txt /greeting.txt\n\
         RUN echo \"hello from RUN\" > /run.txt\n\
         CMD [\"cat\", \"/greeting.txt\", \"/run.txt\"]\n",
    )
    .expect("write Dockerfile");

    let tag = format!("{}/{}:1", registry(), unique_name("tp-testenv-image"));
    let _cleanup = ImageTags(vec![tag.clone()]);
    let context_path = context.path().to_string_lossy().into_owned();
    run_ok("docker", ["build", "--tag", &tag, &context_path]);
    run_ok("docker", ["push", &tag]);

    // Pulling back what was pushed proves the registry holds it.
    run_ok("docker", ["rmi", &tag]);
    run_ok("docker", ["pull", &tag]);
    let printed = run_ok("docker", ["run", "--rm", "--network", "none", &tag]);
    assert_eq!(printed, "hello from COPY\nhello from RUN\n");
}

/// The run directory of the loaded environment: KUBECONFIG is `<run dir>/kubeconfig`.
fn run_dir() -> std::path::PathBuf {
    let kubeconfig = std::env::var_os("KUBECONFIG")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("KUBECONFIG is not set: {}", support::START_HINT));
    std::path::Path::new(&kubeconfig)
        .parent()
        .expect("KUBECONFIG has a parent directory")
        .to_owned()
}

fn live_pid(pidfile: &std::path::Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()?;
    std::path::Path::new(&format!("/proc/{pid}"))
        .exists()
        .then_some(pid)
}

/// kube-scheduler exits on its own when it loses its leader lease (the API server paused for
/// half a minute is enough); the environment's watchdog starts it again, as systemd would.
#[test]
fn an_exited_scheduler_is_restarted_and_pods_are_scheduled_again() {
    require_cluster();
    let pidfile = run_dir().join("kwok/clusters/todoplan/pids/kube-scheduler.pid");
    let before = live_pid(&pidfile)
        .unwrap_or_else(|| panic!("no running kube-scheduler in {}", pidfile.display()));
    run_ok("kill", ["-KILL", &before.to_string()]);
    let after = poll_until(
        "the control-plane watchdog to start kube-scheduler again (scripts/testenv.d/control-plane-watchdog)",
        Duration::from_secs(60),
        || live_pid(&pidfile).filter(|pid| *pid != before),
    );
    assert_ne!(after, before);
    let ns = TestNamespace::create("tp-testenv-resched");
    kubectl_apply(&ns.name, &deployment("web", 1, "busybox:1.35.0", ""));
    poll_until(
        "a pod scheduled by the restarted kube-scheduler",
        ROLLOUT_BOUND,
        || {
            let d = kubectl_json(["-n", &ns.name, "get", "deployment", "web"]);
            (d["status"]["availableReplicas"] == 1).then_some(())
        },
    );
}
