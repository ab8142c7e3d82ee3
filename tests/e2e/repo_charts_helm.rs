//! The repo's charts (charts/postgres, charts/backend, charts/frontend) checked with the real
//! `helm`: they lint, render with the values todoplan passes, their schemas reject bad values,
//! and the rendered objects have the structure the charts promise. With a cluster in the
//! environment, the API server accepts every rendered object (server-side dry run).
#![cfg(feature = "e2e")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use serde_yaml_ng::Value;

const TESTENV_HINT: &str = "run `scripts/testenv up` and `eval \"$(scripts/testenv env)\"` first";

/// An image reference of the shape todoplan passes after a push.
const BACKEND_REF: &str = "127.0.0.1:5555/todo-backend@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const FRONTEND_REF: &str = "127.0.0.1:5555/todo-frontend@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

fn chart_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("charts")
        .join(name)
}

fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not on PATH: {TESTENV_HINT}"))
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.output()
        .unwrap_or_else(|e| panic!("could not run {shown}: {e}"))
}

/// Writes `values` (YAML text) to a temp file, as todoplan does with a release's inline values.
fn values_file(dir: &tempfile::TempDir, name: &str, values: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, values).expect("write values file");
    path
}

fn helm_lint(chart: &str, values: &Path) -> Output {
    run(Command::new(tool("helm"))
        .arg("lint")
        .arg("--strict")
        .arg(chart_dir(chart))
        .arg("--values")
        .arg(values))
}

fn helm_template(release: &str, chart: &str, values: &Path) -> Output {
    run(Command::new(tool("helm"))
        .args(["template", release])
        .arg(chart_dir(chart))
        .args(["--namespace", "default"])
        .arg("--values")
        .arg(values))
}

fn ok_stdout(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("helm output is UTF-8")
}

fn render(release: &str, chart: &str, values: &str) -> (String, Vec<Value>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = values_file(&dir, "values.yaml", values);
    let lint = helm_lint(chart, &file);
    ok_stdout(lint, &format!("helm lint {chart}"));
    let text = ok_stdout(
        helm_template(release, chart, &file),
        &format!("helm template {chart}"),
    );
    let docs = parse_documents(&text);
    (text, docs)
}

fn parse_documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("helm output parses as YAML"))
        .filter(|doc| !doc.is_null())
        .collect()
}

fn kinds(docs: &[Value]) -> Vec<String> {
    let mut kinds: Vec<String> = docs
        .iter()
        .map(|d| d["kind"].as_str().unwrap_or("<no kind>").to_owned())
        .collect();
    kinds.sort();
    kinds
}

fn object<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {kind}, got {}",
        found.len()
    );
    found[0]
}

fn objects<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect()
}

fn container(workload: &Value) -> &Value {
    let containers = workload["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .expect("containers is a list");
    assert_eq!(containers.len(), 1, "one container per pod");
    &containers[0]
}

fn env_var<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"]
        .as_sequence()
        .expect("env is a list")
        .iter()
        .find(|e| e["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("env var {name} missing"))
}

fn checksum(workload: &Value) -> String {
    workload["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        .as_str()
        .expect("checksum/config annotation present")
        .to_owned()
}

fn backend_values(config: &str, autoscaling: bool) -> String {
    format!(
        "image:\n  ref: \"{BACKEND_REF}\"\nsecretName: todo-app\nconfig:\n{config}\ndatabase:\n  host: postgres\n  port: 5432\n  name: todo\n  user: todo\n  passwordKey: DB_PASSWORD\nautoscaling:\n  enabled: {autoscaling}\n  minReplicas: 2\n  maxReplicas: 4\n  targetCPUUtilizationPercentage: 60\nreplicaCount: 3\n"
    )
}

fn frontend_values(config: &str, autoscaling: bool) -> String {
    format!(
        "image:\n  ref: \"{FRONTEND_REF}\"\nconfig:\n{config}\nbackend:\n  serviceName: todo-backend\n  servicePort: 8000\ningress:\n  enabled: true\n  className: nginx\n  host: todo.example\nautoscaling:\n  enabled: {autoscaling}\nreplicaCount: 2\n"
    )
}

const POSTGRES_VALUES: &str = "auth:\n  existingSecret: todo-db\n  passwordKey: DB_PASSWORD\n  username: app\n  database: todos\npersistence:\n  size: 2Gi\n  storageClass: standard\n";

#[test]
fn postgres_renders_statefulset_with_claim_services_and_secret_password() {
    let (_, docs) = render("postgres", "postgres", POSTGRES_VALUES);
    assert_eq!(kinds(&docs), ["Service", "Service", "StatefulSet"]);

    let sts = object(&docs, "StatefulSet");
    assert_eq!(
        sts["metadata"]["name"].as_str(),
        Some("postgres"),
        "release named like the chart keeps its name"
    );
    let claims = sts["spec"]["volumeClaimTemplates"]
        .as_sequence()
        .expect("volumeClaimTemplates");
    assert_eq!(claims.len(), 1);
    assert_eq!(
        claims[0]["spec"]["resources"]["requests"]["storage"].as_str(),
        Some("2Gi")
    );
    assert_eq!(
        claims[0]["spec"]["storageClassName"].as_str(),
        Some("standard")
    );

    let services = objects(&docs, "Service");
    let headless: Vec<_> = services
        .iter()
        .filter(|s| s["spec"]["clusterIP"].as_str() == Some("None"))
        .collect();
    assert_eq!(headless.len(), 1, "one headless Service");
    assert_eq!(
        sts["spec"]["serviceName"], headless[0]["metadata"]["name"],
        "StatefulSet names the headless Service"
    );
    assert!(
        services
            .iter()
            .any(|s| s["metadata"]["name"].as_str() == Some("postgres")
                && s["spec"]["clusterIP"].is_null()),
        "ClusterIP Service named postgres"
    );

    let c = container(sts);
    assert_eq!(c["image"].as_str(), Some("postgres:16.4-alpine"));
    let password = &env_var(c, "POSTGRES_PASSWORD")["valueFrom"]["secretKeyRef"];
    assert_eq!(password["name"].as_str(), Some("todo-db"));
    assert_eq!(password["key"].as_str(), Some("DB_PASSWORD"));
    assert_eq!(env_var(c, "POSTGRES_USER")["value"].as_str(), Some("app"));
    assert_eq!(env_var(c, "POSTGRES_DB")["value"].as_str(), Some("todos"));
    let probe = c["readinessProbe"]["exec"]["command"]
        .as_sequence()
        .expect("exec readiness probe");
    assert!(
        probe
            .iter()
            .any(|arg| arg.as_str().is_some_and(|s| s.contains("pg_isready")))
    );
    assert!(c["resources"]["limits"]["memory"].is_string());
    assert_eq!(
        sts["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true)
    );
}

#[test]
fn postgres_with_default_storage_class_leaves_it_unset() {
    let (_, docs) = render("todo", "postgres", "auth:\n  existingSecret: todo-db\n");
    let sts = object(&docs, "StatefulSet");
    assert_eq!(sts["metadata"]["name"].as_str(), Some("todo-postgres"));
    let claim = &sts["spec"]["volumeClaimTemplates"][0];
    assert!(
        claim["spec"]["storageClassName"].is_null(),
        "\"\" must mean the cluster default"
    );
    assert_eq!(
        claim["spec"]["resources"]["requests"]["storage"].as_str(),
        Some("1Gi")
    );
}

#[test]
fn backend_renders_deployment_service_config_and_database_url_without_the_password() {
    let (text, docs) = render(
        "backend",
        "backend",
        &backend_values("  LOG_LEVEL: debug", false),
    );
    assert_eq!(kinds(&docs), ["ConfigMap", "Deployment", "Service"]);

    let deploy = object(&docs, "Deployment");
    assert_eq!(deploy["spec"]["replicas"].as_u64(), Some(3));
    let c = container(deploy);
    assert_eq!(c["image"].as_str(), Some(BACKEND_REF));
    assert_eq!(
        c["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/health")
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/health")
    );
    assert_eq!(c["ports"][0]["containerPort"].as_u64(), Some(8000));
    assert_eq!(
        deploy["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true)
    );
    assert_eq!(
        c["securityContext"]["allowPrivilegeEscalation"].as_bool(),
        Some(false)
    );
    assert!(c["resources"]["requests"]["cpu"].is_string());

    let env_from = c["envFrom"].as_sequence().expect("envFrom");
    assert!(
        env_from
            .iter()
            .any(|e| e["secretRef"]["name"].as_str() == Some("todo-app"))
    );
    assert!(
        env_from
            .iter()
            .any(|e| e["configMapRef"]["name"] == object(&docs, "ConfigMap")["metadata"]["name"])
    );
    let password = &env_var(c, "POSTGRES_PASSWORD")["valueFrom"]["secretKeyRef"];
    assert_eq!(password["name"].as_str(), Some("todo-app"));
    assert_eq!(password["key"].as_str(), Some("DB_PASSWORD"));
    assert_eq!(
        env_var(c, "DATABASE_URL")["value"].as_str(),
        Some("postgresql://todo:$(POSTGRES_PASSWORD)@postgres:5432/todo")
    );
    // POSTGRES_PASSWORD must be defined before DATABASE_URL: Kubernetes expands $(VAR) only
    // from variables defined earlier in the list.
    let names: Vec<&str> = c["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(pos("POSTGRES_PASSWORD") < pos("DATABASE_URL"));
    assert!(!text.contains("placeholder"), "no placeholder URLs");

    let svc = object(&docs, "Service");
    assert_eq!(svc["metadata"]["name"].as_str(), Some("backend"));
    assert_eq!(svc["spec"]["ports"][0]["port"].as_u64(), Some(8000));
    assert_eq!(
        object(&docs, "ConfigMap")["data"]["LOG_LEVEL"].as_str(),
        Some("debug")
    );
}

#[test]
fn backend_with_autoscaling_has_hpa_and_no_replicas() {
    let (_, docs) = render(
        "todo",
        "backend",
        &backend_values("  LOG_LEVEL: info", true),
    );
    assert_eq!(
        kinds(&docs),
        [
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler",
            "Service"
        ]
    );
    let deploy = object(&docs, "Deployment");
    assert!(
        deploy["spec"].get("replicas").is_none(),
        "the HPA owns replicas: {:?}",
        deploy["spec"]["replicas"]
    );
    let hpa = object(&docs, "HorizontalPodAutoscaler");
    assert_eq!(hpa["apiVersion"].as_str(), Some("autoscaling/v2"));
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["name"],
        deploy["metadata"]["name"]
    );
    assert_eq!(hpa["spec"]["minReplicas"].as_u64(), Some(2));
    assert_eq!(hpa["spec"]["maxReplicas"].as_u64(), Some(4));
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"].as_u64(),
        Some(60)
    );
    assert_eq!(deploy["metadata"]["name"].as_str(), Some("todo-backend"));
}

#[test]
fn config_change_changes_the_checksum_annotation() {
    let deploy_checksum = |chart: &str, values: String| {
        let (_, docs) = render(chart, chart, &values);
        checksum(object(&docs, "Deployment"))
    };
    let backend_a = deploy_checksum(
        "backend",
        backend_values("  CORS_ORIGINS: http://a.example", false),
    );
    let backend_a_again = deploy_checksum(
        "backend",
        backend_values("  CORS_ORIGINS: http://a.example", false),
    );
    let backend_b = deploy_checksum(
        "backend",
        backend_values("  CORS_ORIGINS: http://b.example", false),
    );
    assert_eq!(backend_a.len(), 64, "a sha256 hex digest");
    assert_eq!(backend_a, backend_a_again, "same config, same checksum");
    assert_ne!(
        backend_a, backend_b,
        "config change must roll the backend pods"
    );

    let frontend_a = deploy_checksum(
        "frontend",
        frontend_values("  NEXT_PUBLIC_API_BASE_URL: /api", false),
    );
    let frontend_b = deploy_checksum(
        "frontend",
        frontend_values("  NEXT_PUBLIC_API_BASE_URL: /api/v2", false),
    );
    assert_ne!(
        frontend_a, frontend_b,
        "config change must roll the frontend pods"
    );
}

#[test]
fn frontend_renders_ingress_routing_root_and_api() {
    let (_, docs) = render(
        "frontend",
        "frontend",
        &frontend_values("  NEXT_PUBLIC_API_BASE_URL: /api", false),
    );
    assert_eq!(
        kinds(&docs),
        ["ConfigMap", "Deployment", "Ingress", "Service"]
    );
    let deploy = object(&docs, "Deployment");
    assert_eq!(deploy["spec"]["replicas"].as_u64(), Some(2));
    let c = container(deploy);
    assert_eq!(c["image"].as_str(), Some(FRONTEND_REF));
    assert_eq!(c["ports"][0]["containerPort"].as_u64(), Some(3000));
    assert_eq!(
        c["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/health")
    );

    let ingress = object(&docs, "Ingress");
    assert_eq!(ingress["spec"]["ingressClassName"].as_str(), Some("nginx"));
    let rule = &ingress["spec"]["rules"][0];
    assert_eq!(rule["host"].as_str(), Some("todo.example"));
    let routes: Vec<(String, String, u64)> = rule["http"]["paths"]
        .as_sequence()
        .expect("paths")
        .iter()
        .map(|p| {
            (
                p["path"].as_str().unwrap_or_default().to_owned(),
                p["backend"]["service"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                p["backend"]["service"]["port"]["number"]
                    .as_u64()
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        routes.contains(&("/".into(), "frontend".into(), 3000)),
        "{routes:?}"
    );
    assert!(
        routes.contains(&("/api".into(), "todo-backend".into(), 8000)),
        "{routes:?}"
    );
}

#[test]
fn frontend_with_autoscaling_and_no_ingress() {
    let values = frontend_values("  A: b", true).replace(
        "  enabled: true\n  className",
        "  enabled: false\n  className",
    );
    let (_, docs) = render("todo", "frontend", &values);
    assert_eq!(
        kinds(&docs),
        [
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler",
            "Service"
        ]
    );
    assert!(
        object(&docs, "Deployment")["spec"]
            .get("replicas")
            .is_none()
    );
}

/// Each case: chart, values, a fragment the error must contain (the value path helm names).
#[test]
fn schemas_reject_bad_values() {
    let cases: &[(&str, String, &str)] = &[
        (
            "backend",
            backend_values("  A: b", false).replace(BACKEND_REF, ""),
            "image.ref",
        ),
        (
            "frontend",
            frontend_values("  A: b", false).replace(FRONTEND_REF, ""),
            "image.ref",
        ),
        (
            "postgres",
            format!("{POSTGRES_VALUES}image:\n  ref: \"\"\n"),
            "image.ref",
        ),
        (
            "backend",
            backend_values("  A: b", false).replace(BACKEND_REF, "todo-backend:latest"),
            "image.ref",
        ),
        (
            "frontend",
            frontend_values("  A: b", false).replace(FRONTEND_REF, "127.0.0.1:5555/todo-frontend"),
            "image.ref",
        ),
        (
            "backend",
            backend_values("  A: b", false).replace("port: 5432", "port: 70000"),
            "database.port",
        ),
        (
            "backend",
            backend_values("  A: b", false).replace("port: 5432", "port: \"5432\""),
            "database.port",
        ),
        (
            "frontend",
            frontend_values("  A: b", false).replace("servicePort: 8000", "servicePort: 0"),
            "backend.servicePort",
        ),
        (
            "backend",
            backend_values("  A: b", false).replace("secretName: todo-app", "secretName: \"\""),
            "secretName",
        ),
        (
            "postgres",
            "auth:\n  existingSecret: \"\"\n".to_owned(),
            "auth.existingSecret",
        ),
        (
            "backend",
            backend_values("  A: b", false).replace("  enabled: false", "  enabled: \"no\""),
            "autoscaling.enabled",
        ),
    ];
    for (chart, values, path) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = values_file(&dir, "values.yaml", values);
        let out = helm_template("t", chart, &file);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{chart}: helm template accepted bad {path}:\n{values}"
        );
        assert!(
            stderr.contains(path),
            "{chart}: error should name {path}, got:\n{stderr}"
        );
    }
}

/// The API server (the testenv's kube-apiserver) accepts every object the charts render,
/// in both autoscaling modes: field names, types and enum values are right, not just YAML.
#[test]
fn api_server_accepts_every_rendered_object() {
    let kubectl = tool("kubectl");
    if std::env::var_os("KUBECONFIG").is_none() {
        panic!("KUBECONFIG is not set: {TESTENV_HINT}");
    }
    let renders = [
        ("postgres", "postgres", POSTGRES_VALUES.to_owned()),
        (
            "backend",
            "backend",
            backend_values("  LOG_LEVEL: info", false),
        ),
        ("todo", "backend", backend_values("  LOG_LEVEL: info", true)),
        ("frontend", "frontend", frontend_values("  A: b", false)),
        ("todo", "frontend", frontend_values("  A: b", true)),
    ];
    for (release, chart, values) in renders {
        let (text, docs) = render(release, chart, &values);
        let mut child = Command::new(&kubectl)
            .args([
                "apply",
                "--dry-run=server",
                "--namespace",
                "default",
                "-o",
                "name",
                "-f",
                "-",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn kubectl");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write manifests");
        let out = child.wait_with_output().expect("kubectl finished");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "API server rejected {chart} (release {release}):\n{}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout.lines().count(),
            docs.len(),
            "every object accepted: {stdout}"
        );
    }
}
