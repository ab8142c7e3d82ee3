//! The Todo app for real (app/real/todo.toml) on the test environment's real node: real images
//! pulled from the test registry, real processes, real probes, real logs, driven through the
//! todoplan binary. The seeds' failures are reproduced as they happened on minikube.
//!
//! Run with `scripts/test`, or after `scripts/testenv up` and `eval "$(scripts/testenv env)"`:
//! `cargo test --features e2e --test e2e realnode_app::`.
#![cfg(feature = "e2e")]

use crate::support;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;
use support::{
    START_HINT, kubectl_json, pinned_version, poll_until, registry, require_cluster,
    require_docker, run_tool, unique_name,
};

const REAL_NODE: &str = "todoplan-real";
const REAL_NODE_TAINT: &str = "todoplan.dev/real-node";
const JWT_LINE: &str = "JWT_SECRET_KEY = { generate = true, length = 48 }\n";
const BACKEND_IMAGE_LINE: &str = "image.ref = \"${images.backend.ref}\"";
const POD_BOUND: Duration = Duration::from_secs(120);

/// The real node as the API server sees it; panics with instructions when there is none.
fn require_real_node() -> Value {
    require_cluster();
    let out = run_tool("kubectl", ["get", "node", REAL_NODE, "-o", "json"]);
    assert!(
        out.status.success(),
        "the test environment has no real node `{REAL_NODE}` ({}): {START_HINT} \
         (and leave TODOPLAN_TESTENV_REAL_NODE unset)",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    serde_json::from_slice(&out.stdout).expect("kubectl printed JSON")
}

fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("{name} is not set: {START_HINT}"),
    }
}

fn ready(object: &Value) -> bool {
    object["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            // A state directory left by someone running app/real by hand is not part of the app.
            if entry.file_name() != "state" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A private copy of app/real (and the charts it names as ../../charts) with its own project
/// and namespace.
struct RealApp {
    // Holds the copy of app/real; removed when the test ends.
    _root: tempfile::TempDir,
    dir: std::path::PathBuf,
    namespace: String,
    cors_origins: String,
}

impl RealApp {
    fn new(prefix: &str) -> RealApp {
        require_real_node();
        require_docker();
        let namespace = unique_name(prefix);
        let root = tempfile::tempdir().unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = root.path().join("app/real");
        copy_dir(&repo.join("app/real"), &dir);
        copy_dir(&repo.join("charts"), &root.path().join("charts"));
        let spec = std::fs::read_to_string(dir.join("todo.toml")).unwrap();
        let spec = spec
            .replacen(
                "name = \"todo-real\"",
                &format!("name = \"{namespace}\""),
                1,
            )
            .replacen(
                "namespace = \"todo-real\"",
                &format!("namespace = \"{namespace}\""),
                1,
            );
        std::fs::write(dir.join("todo.toml"), spec).unwrap();
        RealApp {
            _root: root,
            dir,
            namespace,
            cors_origins: "http://localhost:3000".to_owned(),
        }
    }

    fn todoplan(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_todoplan"))
            .args(args)
            .current_dir(&self.dir)
            .env("TODOPLAN_VAR_registry", registry())
            .env(
                "TODOPLAN_VAR_python_base",
                required_env("TODOPLAN_VAR_python_base"),
            )
            .env(
                "TODOPLAN_VAR_postgres_base",
                required_env("TODOPLAN_VAR_postgres_base"),
            )
            .env(
                "TODOPLAN_VAR_node_base",
                required_env("TODOPLAN_VAR_node_base"),
            )
            .env("TODOPLAN_VAR_cors_origins", &self.cors_origins)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    /// `todoplan apply`; its output and duration go to the test's log (`--nocapture` shows them).
    fn apply(&self) -> Output {
        let started = std::time::Instant::now();
        let out = self.todoplan(&["apply", "--auto-approve"]);
        eprintln!(
            "--- todoplan apply ({:.1}s, {}):\n{}",
            started.elapsed().as_secs_f64(),
            out.status,
            text(&out)
        );
        out
    }

    fn append(&self, text: &str) {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("todo.toml"))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn edit(&self, from: &str, to: &str) {
        let path = self.dir.join("todo.toml");
        let spec = std::fs::read_to_string(&path).unwrap();
        assert!(spec.contains(from), "todo.toml has no `{from}`");
        std::fs::write(&path, spec.replacen(from, to, 1)).unwrap();
    }

    fn proxy_path(&self, service: &str, port: u16, path: &str) -> String {
        format!(
            "/api/v1/namespaces/{}/services/{service}:{port}/proxy{path}",
            self.namespace
        )
    }

    /// GET through the API server's service proxy: no port-forward, no route to the pods.
    /// GET through the API server's service proxy. Service routing is eventually consistent
    /// (kube-proxy learns of a new pod's endpoint a moment after it is Ready, and a backend may
    /// briefly lose its database during a restart), so a failed request is retried for up to
    /// 30 s before its error is returned.
    fn get(&self, service: &str, port: u16, path: &str) -> Result<String, String> {
        let started = std::time::Instant::now();
        loop {
            let out = run_tool(
                "kubectl",
                ["get", "--raw", &self.proxy_path(service, port, path)],
            );
            if out.status.success() {
                return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(text(&out));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// A request as a signed-in user, sent from inside the backend's pod to `service` by its
    /// name: /api/todos needs a session JWT, signed with the pod's own JWT_SECRET_KEY here (as the
    /// frontend signs them at sign-in), and `kubectl --raw` cannot send the header. Retried for
    /// up to 30 s like [`RealApp::get`].
    fn as_user(
        &self,
        method: &str,
        service: &str,
        port: u16,
        path: &str,
        body: Option<&Value>,
    ) -> Result<String, String> {
        const SCRIPT: &str = "import base64, hashlib, hmac, json, os, sys, time, urllib.request\n\
            b64 = lambda d: base64.urlsafe_b64encode(d).rstrip(b'=').decode()\n\
            head = b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())\n\
            claims = b64(json.dumps({'sub': 'realnode-test', 'exp': int(time.time()) + 300}).encode())\n\
            sig = b64(hmac.new(os.environ['JWT_SECRET_KEY'].encode(), f'{head}.{claims}'.encode(), hashlib.sha256).digest())\n\
            data = sys.argv[3].encode() if len(sys.argv) > 3 else None\n\
            req = urllib.request.Request(sys.argv[2], data=data, method=sys.argv[1], headers={'Authorization': f'Bearer {head}.{claims}.{sig}', 'Content-Type': 'application/json'})\n\
            print(urllib.request.urlopen(req, timeout=10).read().decode())\n";
        let url = format!("http://{service}:{port}{path}");
        let mut args = vec![
            "-n".to_owned(),
            self.namespace.clone(),
            "exec".to_owned(),
            "deploy/backend".to_owned(),
            "-c".to_owned(),
            "backend".to_owned(),
            "--".to_owned(),
            "python3".to_owned(),
            "-c".to_owned(),
            SCRIPT.to_owned(),
            method.to_owned(),
            url,
        ];
        args.extend(body.map(Value::to_string));
        let started = std::time::Instant::now();
        loop {
            let out = run_tool("kubectl", &args);
            if out.status.success() {
                return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(text(&out));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The backend's pods, newest first.
    fn backend_pods(&self) -> Vec<Value> {
        let pods = kubectl_json([
            "-n",
            &self.namespace,
            "get",
            "pods",
            "-l",
            "app.kubernetes.io/name=backend",
            "--sort-by=.metadata.creationTimestamp",
        ]);
        let mut items = pods["items"].as_array().cloned().unwrap_or_default();
        items.reverse();
        items
    }
}

impl Drop for RealApp {
    fn drop(&mut self) {
        // Deleting the namespace releases the claim; the environment's recycler then empties the
        // volume's directory on the real node.
        let _ = Command::new("kubectl")
            .args(["delete", "namespace", &self.namespace, "--wait=false"])
            .output();
    }
}

#[test]
fn real_node_is_ready_tainted_and_runs_the_pinned_kubelet_on_containerd() {
    let node = require_real_node();
    assert!(ready(&node), "node {REAL_NODE} is not Ready: {node:#}");
    assert_eq!(
        node["status"]["nodeInfo"]["kubeletVersion"],
        pinned_version("KUBERNETES_VERSION").as_str()
    );
    let runtime = node["status"]["nodeInfo"]["containerRuntimeVersion"]
        .as_str()
        .unwrap_or_default();
    assert!(runtime.starts_with("containerd://"), "runtime {runtime}");
    let taints = node["spec"]["taints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        taints
            .iter()
            .any(|t| t["key"] == REAL_NODE_TAINT && t["effect"] == "NoSchedule"),
        "the real node must keep unpinned workloads off (they belong to kwok's fake node): {taints:?}"
    );
    // kwok manages only its own node: the real node's status comes from the kubelet.
    assert!(
        node["metadata"]["annotations"]["kwok.x-k8s.io/node"].is_null(),
        "{node:#}"
    );
}

/// The seeds' first failure: the Secret lacks JWT_SECRET_KEY. PostgreSQL comes up, the backend
/// exits at start-up, and apply fails fast on that pod, showing the log line the kubelet serves.
#[test]
fn missing_jwt_secret_key_fails_apply_on_the_crashing_pod_with_its_log_line() {
    let app = RealApp::new("tp-real-jwt");
    let ns = app.namespace.clone();
    app.edit(JWT_LINE, "");
    // The frontend names the key (it signs sessions with it), so the plan's checks refuse first.
    let refused = app.apply();
    assert!(
        !refused.status.success() && text(&refused).contains("ref.secret-key"),
        "the plan-time check names the missing key:\n{}",
        text(&refused)
    );
    app.append(
        "\n[checks]\nignore = [{ finding = \"ref.secret-key\", reason = \"this test wants the backend's real crash\" }]\n",
    );
    let out = app.apply();
    let printed = text(&out);
    assert!(
        !out.status.success(),
        "apply must fail while the backend crashes:\n{printed}"
    );
    assert!(
        printed.contains("Deployment") && printed.contains("/backend failed"),
        "the failure names the backend's Deployment:\n{printed}"
    );
    assert!(
        printed.contains("CrashLoopBackOff") || printed.contains("Error"),
        "the failure says how the pod fails:\n{printed}"
    );
    assert!(
        printed.contains("JWT_SECRET_KEY Field required"),
        "apply's diagnosis shows the crashing container's log line:\n{printed}"
    );
    // The same line, straight from the kubelet, as `kubectl logs` shows it.
    let pod = app
        .backend_pods()
        .into_iter()
        .next()
        .expect("a backend pod");
    let pod_name = pod["metadata"]["name"].as_str().unwrap().to_owned();
    let log = poll_until(
        &format!("the log of crashing pod {pod_name}"),
        POD_BOUND,
        || {
            let out = run_tool("kubectl", ["-n", &ns, "logs", &pod_name, "--previous"]);
            let log = String::from_utf8_lossy(&out.stdout).into_owned();
            log.contains("Field required").then_some(log)
        },
    );
    assert!(log.contains("JWT_SECRET_KEY Field required"), "{log}");
    // The fix: the key is declared again. The crashing revision's pods still exist while the new
    // one rolls out; fail-fast looks only at the new revision's, so this apply succeeds.
    app.edit(
        "[secrets.app.keys]\n",
        &format!("[secrets.app.keys]\n{JWT_LINE}"),
    );
    let fixed = app.apply();
    assert!(
        fixed.status.success(),
        "deploying the fix succeeds:\n{}",
        text(&fixed)
    );
    // PostgreSQL itself really runs: its readiness probe (pg_isready) passed on the real node.
    let postgres = kubectl_json(["-n", &ns, "get", "pod", "postgres-0"]);
    assert!(ready(&postgres), "{postgres:#}");
    assert_eq!(postgres["spec"]["nodeName"], REAL_NODE);
}

/// The app working end to end on the real node, then the seeds' other failures on it: a CORS
/// change that only takes effect when the pods restart, a rotated database password, and an image
/// the registry lacks.
#[test]
fn todo_app_serves_todos_survives_cors_change_and_password_rotation_and_fails_on_a_missing_image() {
    let mut app = RealApp::new("tp-real-app");
    let ns = app.namespace.clone();
    let out = app.apply();
    assert!(out.status.success(), "apply of the app:\n{}", text(&out));

    // Ready through the real readiness probe, which queries PostgreSQL.
    let health = app
        .get("backend", 8000, "/health")
        .expect("backend /health");
    assert!(health.contains("\"database\":\"ok\""), "{health}");

    // A todo created through the frontend (which reaches the backend by its Service name, through
    // cluster DNS and kube-proxy) is read back from both Services.
    let title = format!("buy milk {}", std::process::id());
    let created = app
        .as_user(
            "POST",
            "frontend",
            3000,
            "/api/todos",
            Some(&serde_json::json!({ "title": title })),
        )
        .expect("POST /api/todos through the frontend");
    assert!(created.contains(&title), "{created}");
    let from_backend = app
        .as_user("GET", "backend", 8000, "/api/todos", None)
        .unwrap();
    assert!(from_backend.contains(&title), "{from_backend}");
    let from_frontend = app
        .as_user("GET", "frontend", 3000, "/api/todos", None)
        .unwrap();
    assert!(from_frontend.contains(&title), "{from_frontend}");
    assert_eq!(
        app.get("frontend", 3000, "/api/health").unwrap().trim(),
        "ok"
    );

    // A CORS change lives in the backend's ConfigMap: the pods roll and serve the new value.
    let before = app.backend_pods()[0]["metadata"]["name"].clone();
    app.cors_origins = "https://todo.example.test".to_owned();
    let out = app.apply();
    assert!(
        out.status.success(),
        "apply of the CORS change:\n{}",
        text(&out)
    );
    let settings = app.get("backend", 8000, "/api/settings").unwrap();
    assert!(settings.contains("https://todo.example.test"), "{settings}");
    assert_ne!(
        app.backend_pods()[0]["metadata"]["name"],
        before,
        "the ConfigMap change rolled the pods"
    );
    // The data outlived the backend's pods (it lives in PostgreSQL on the real node's volume).
    assert!(
        app.as_user("GET", "backend", 8000, "/api/todos", None)
            .unwrap()
            .contains(&title)
    );

    // The database password rotated: PostgreSQL restarts with the new one (its data stays on the
    // real node's volume), then the backend rolls and connects with it.
    let postgres_before = kubectl_json(["-n", &ns, "get", "pod", "postgres-0"]);
    let out = app.todoplan(&[
        "apply",
        "--auto-approve",
        "--rotate",
        "secret.app.POSTGRES_PASSWORD",
    ]);
    assert!(out.status.success(), "apply --rotate:\n{}", text(&out));
    let postgres_after = kubectl_json(["-n", &ns, "get", "pod", "postgres-0"]);
    assert_ne!(
        postgres_after["metadata"]["uid"], postgres_before["metadata"]["uid"],
        "the rotation restarted PostgreSQL"
    );
    // kube-proxy learns of the restarted pods' endpoints a moment after they are Ready (Service
    // routing is eventually consistent), so the first request may meet a refused connection.
    let health = poll_until(
        "the backend's /health after the rotation",
        POD_BOUND,
        || {
            app.get("backend", 8000, "/health")
                .ok()
                .filter(|h| h.contains("\"database\":\"ok\""))
        },
    );
    assert!(health.contains("\"database\":\"ok\""), "{health}");
    let todos = poll_until(
        "the todos through the frontend after the rotation",
        POD_BOUND,
        || {
            app.as_user("GET", "frontend", 3000, "/api/todos", None)
                .ok()
        },
    );
    assert!(
        todos.contains(&title),
        "the todo survived PostgreSQL's restart: {todos}"
    );

    // An image the registry does not have: a real pull failure, diagnosed from the kubelet.
    let missing = format!("{}/{ns}-missing:never-pushed", registry());
    app.edit(BACKEND_IMAGE_LINE, &format!("image.ref = \"{missing}\""));
    // The plan's checks ask the registry first: refused before anything is written.
    let refused = app.apply();
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("image.unknown"),
        "the plan-time check names the image:\n{}",
        text(&refused)
    );
    // Past the check (ignored with a reason), the kubelet's own pull failure.
    app.append(
        "\n[checks]\nignore = [{ finding = \"image.unknown\", reason = \"this test wants the kubelet's real pull failure\" }]\n",
    );
    let out = app.apply();
    let printed = text(&out);
    assert!(
        !out.status.success(),
        "apply must fail on the missing image:\n{printed}"
    );
    assert!(
        printed.contains("ImagePullBackOff") || printed.contains("ErrImagePull"),
        "apply names the pull failure:\n{printed}"
    );
    let pull_event = poll_until("the kubelet's pull failure event", POD_BOUND, || {
        let events = kubectl_json([
            "-n",
            &ns,
            "get",
            "events",
            "--field-selector",
            "reason=Failed,involvedObject.kind=Pod",
        ]);
        events["items"].as_array()?.iter().find_map(|e| {
            let message = e["message"].as_str()?;
            message.contains(&missing).then(|| message.to_owned())
        })
    });
    assert!(pull_event.contains("not found"), "{pull_event}");
    // Diagnostics wrap long lines; compare with the wrapping undone.
    let unwrapped = printed.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        unwrapped.contains(&format!("{missing}: not found")),
        "apply's diagnosis carries the puller's message:\n{printed}"
    );
    assert!(
        unwrapped.contains("has no logs: its container never started (ImagePullBackOff)")
            || unwrapped.contains("has no logs: its container never started (ErrImagePull)"),
        "apply says why the pod has no logs:\n{printed}"
    );
    // The old revision keeps serving while the new one cannot start.
    let health = app
        .get("backend", 8000, "/health")
        .expect("the old pods still serve");
    assert!(health.contains("\"database\":\"ok\""), "{health}");
}

/// Smoke checks on real pods: the plan lists them, apply runs them through the service proxy and
/// they pass on the working app. Then a frontend pointed at a backend name that does not resolve:
/// its pods are Ready (their probe is local) but the chain is broken, so the frontend's check fails
/// the release with the 502 it answered and the pods' logs, and `--atomic` rolls back to the
/// working revision, whose check passes again.
#[test]
fn a_failing_smoke_check_fails_the_release_and_atomic_rolls_back() {
    let app = RealApp::new("tp-real-smoke");
    let plan = app.todoplan(&["plan"]);
    let planned = text(&plan);
    assert!(
        planned.contains("release.backend: GET /health on service backend:8000, expects 200 with a body containing")
            && planned.contains("release.frontend: GET /api/ready on service frontend:3000, expects 200"),
        "the plan lists both releases' smoke checks:\n{planned}"
    );
    let out = app.apply();
    let printed = text(&out);
    assert!(out.status.success(), "apply of the app:\n{printed}");
    assert!(
        printed.contains("smoke check: GET /api/ready on service frontend:3000"),
        "apply ran the frontend's check:\n{printed}"
    );

    app.edit(
        "BACKEND_URL = \"http://${releases.backend.name}:8000\"",
        "BACKEND_URL = \"http://no-such-backend:8000\"",
    );
    app.edit(
        "checks = [{ http = \"/api/ready\", service = \"frontend\", port = 3000 }]",
        "checks = [{ http = \"/api/ready\", service = \"frontend\", port = 3000, timeout = \"15s\" }]",
    );
    let plan = app.todoplan(&["plan"]);
    let planned = text(&plan);
    assert!(
        planned.contains(
            "release.frontend: GET /api/ready on service frontend:3000, expects 200 (within 15s)"
        ) && !planned.contains("release.backend: GET"),
        "only the changed release's check is planned:\n{planned}"
    );
    let out = app.todoplan(&["apply", "--auto-approve", "--atomic"]);
    let printed = text(&out);
    eprintln!("--- todoplan apply --atomic:\n{printed}");
    assert!(
        !out.status.success(),
        "the failed check fails apply:\n{printed}"
    );
    let unwrapped = printed.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        unwrapped.contains("smoke check GET /api/ready on service frontend:3000, expects 200 (todo.toml:")
            && unwrapped.contains("failed after 15s; the last answer was 502: backend http://no-such-backend:8000 unreachable"),
        "the failure names the check and the last answer:\n{printed}"
    );
    assert!(
        unwrapped.contains("last log lines of pod frontend-"),
        "the failure shows the frontend pods' logs:\n{printed}"
    );
    assert!(
        printed.contains("--atomic: rolling back to revision 1"),
        "--atomic rolls back:\n{printed}"
    );
    // The working revision serves again: the frontend reaches the backend by its real name.
    let todos = poll_until(
        "the frontend's /api/ready after the rollback",
        POD_BOUND,
        || app.get("frontend", 3000, "/api/ready").ok(),
    );
    assert!(todos.contains("\"database\":\"ok\""), "{todos}");
    let history = text(&app.todoplan(&["history"]));
    assert!(history.contains("rollback to revision 1"), "{history}");
}

/// The machine's own address on its default-route interface (read from the routing table; no
/// packet is sent).
fn machine_address() -> String {
    let out = run_tool("ip", ["-4", "-o", "route", "show", "default"]);
    let route = String::from_utf8_lossy(&out.stdout).into_owned();
    let device = route
        .split_whitespace()
        .skip_while(|w| *w != "dev")
        .nth(1)
        .unwrap_or_else(|| panic!("no default route: {route}"))
        .to_owned();
    let out = run_tool("ip", ["-4", "-o", "addr", "show", "dev", &device]);
    let addr = String::from_utf8_lossy(&out.stdout).into_owned();
    addr.split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .unwrap_or_else(|| panic!("no IPv4 address on {device}: {addr}"))
        .to_owned()
}

/// Pods on the real node reach the pod network and the node's own address, and nothing else:
/// not even the machine's address on its real interface (the chain TODOPLAN-REALNODE rejects it
/// before it could be routed anywhere).
#[test]
fn real_pods_reach_the_node_address_but_not_the_machines_own_interfaces() {
    require_real_node();
    require_docker();
    // The Python base image: busybox's static wget crashes resolving even a literal address.
    let base = required_env("TODOPLAN_VAR_python_base");
    let image = format!("{}/{}", registry(), base.replace(':', "-probe:"));
    support::run_ok("docker", ["tag", &base, &image]);
    support::run_ok("docker", ["push", &image]);
    let ns = support::TestNamespace::create("tp-real-net");
    let target = machine_address();
    // kubelet's health endpoint listens on the node address; on the machine's own address
    // nothing needs to listen: without the rule the answer would be "connection refused".
    let script = format!(
        "import socket, urllib.request\n\
         print(urllib.request.urlopen('http://10.213.255.1:10248/healthz', timeout=5).read().decode())\n\
         s = socket.socket()\n\
         s.settimeout(5)\n\
         try:\n    s.connect(('{target}', 1))\n    print('connected')\n\
         except OSError as err:\n    print(err)\n"
    );
    let manifest = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe"},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": {"todoplan.dev/node": "real"},
            "tolerations": [{"key": REAL_NODE_TAINT, "operator": "Exists"}],
            "containers": [{"name": "probe", "image": image, "command": ["python3", "-c", script]}]
        }
    });
    support::kubectl_apply(&ns.name, &manifest.to_string());
    poll_until("pod probe to finish", POD_BOUND, || {
        let pod = kubectl_json(["-n", &ns.name, "get", "pod", "probe"]);
        (pod["status"]["phase"] == "Succeeded").then_some(())
    });
    let log = support::kubectl(["-n", &ns.name, "logs", "probe"]);
    let mut lines = log.lines();
    assert_eq!(lines.next(), Some("ok"), "the node address answers: {log}");
    let refused_by_rule = log.to_lowercase();
    assert!(
        refused_by_rule.contains("unreachable") && !refused_by_rule.contains("refused"),
        "traffic to {target} must be rejected as unreachable by TODOPLAN-REALNODE: {log}"
    );
}
