//! The Todo app for real (app/real/todo.toml: PostgreSQL, the FastAPI backend, the Next.js
//! frontend) on the test environment's real node, used the way its users use it: in Chromium,
//! driven by scripts/browser-todo (Debian's chromium, chromium-driver and python3-selenium,
//! installed by scripts/testenv). The seeds' browser-visible failures are reproduced and ended by
//! todoplan: a CORS change that the pods never re-read, a sign-in broken by two JWT secrets, a
//! backend URL baked into the frontend's build.
//!
//! Screenshots go to `$CARGO_TARGET_TMPDIR/browser_e2e/` (target/tmp/browser_e2e/); each test
//! prints where.
//!
//! Run with `scripts/test`, or after `scripts/testenv up` and `eval "$(scripts/testenv env)"`:
//! `cargo test --features e2e --test e2e browser_e2e::`.
#![cfg(feature = "e2e")]

use crate::support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;
use support::{
    START_HINT, kubectl_json, registry, require_cluster, require_docker, run_tool, todoplan_cli,
    unique_name,
};

const REAL_NODE: &str = "todoplan-real";
const PASSWORD: &str = "correct horse battery";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("{name} is not set: {START_HINT}"),
    }
}

/// Chromium, its driver and Selenium, as scripts/testenv installs them.
fn require_browser() {
    for path in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: scripts/testenv up installs Debian's chromium and chromium-driver ({START_HINT})"
        );
    }
    let selenium = Command::new("/usr/bin/python3")
        .args(["-c", "import selenium"])
        .output();
    assert!(
        selenium.is_ok_and(|o| o.status.success()),
        "Debian's python3-selenium is missing: scripts/testenv up installs it ({START_HINT})"
    );
}

/// app/real/frontend/dist/, the Next.js build the image copies: built by scripts/testenv up, and
/// again here when the sources changed since (cached: a second or two when nothing did).
fn build_frontend() {
    let started = Instant::now();
    let out = Command::new(repo().join("app/real/frontend/build"))
        .output()
        .unwrap_or_else(|err| panic!("cannot run app/real/frontend/build: {err}"));
    assert!(
        out.status.success(),
        "app/real/frontend/build failed:\n{}",
        text(&out)
    );
    eprintln!(
        "--- app/real/frontend/build ({:.1}s): {}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        // app/real's state (left by someone running it by hand) and a developer's `npm install`
        // or `next dev` output are not part of the app; dist/'s own node_modules and .next are.
        let leftover = name == "state"
            || ((name == "node_modules" || name == ".next") && from.ends_with("frontend"));
        if leftover {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Where a test's screenshots go.
fn screenshot(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser_e2e");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{name}.png"))
}

/// A private copy of app/real (and ../../charts) with its own project and namespace, and one
/// browser profile: the browser keeps its session cookie between runs, as a user's does across
/// a deploy.
struct BrowserApp {
    root: tempfile::TempDir,
    dir: PathBuf,
    namespace: String,
    cors_origins: String,
}

impl BrowserApp {
    fn new(prefix: &str) -> BrowserApp {
        require_cluster();
        let node = run_tool("kubectl", ["get", "node", REAL_NODE]);
        assert!(
            node.status.success(),
            "the test environment has no real node `{REAL_NODE}` ({}): {START_HINT} \
             (and leave TODOPLAN_TESTENV_REAL_NODE unset)",
            String::from_utf8_lossy(&node.stderr).trim()
        );
        require_docker();
        require_browser();
        build_frontend();
        let namespace = unique_name(prefix);
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("app/real");
        copy_dir(&repo().join("app/real"), &dir);
        copy_dir(&repo().join("charts"), &root.path().join("charts"));
        let app = BrowserApp {
            root,
            dir,
            namespace: namespace.clone(),
            cors_origins: "http://localhost:3000".to_owned(),
        };
        app.edit("name = \"todo-real\"", &format!("name = \"{namespace}\""));
        app.edit(
            "namespace = \"todo-real\"",
            &format!("namespace = \"{namespace}\""),
        );
        app
    }

    fn todoplan(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_todoplan"))
            .args(args)
            .current_dir(&self.dir)
            .env_remove("TODOPLAN_ENV")
            .env_remove("TODOPLAN_FILE")
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

    /// `todoplan apply --auto-approve ARGS`, which must succeed; its output and duration go to
    /// the test's log.
    fn apply(&self, args: &[&str]) -> String {
        let started = Instant::now();
        let mut all = vec!["apply", "--auto-approve"];
        all.extend_from_slice(args);
        let out = self.todoplan(&all);
        let printed = text(&out);
        eprintln!(
            "--- todoplan {} ({:.1}s, {}):\n{printed}",
            all.join(" "),
            started.elapsed().as_secs_f64(),
            out.status
        );
        assert!(
            out.status.success(),
            "todoplan {}:\n{printed}",
            all.join(" ")
        );
        printed
    }

    fn edit(&self, from: &str, to: &str) {
        let path = self.dir.join("todo.toml");
        let spec = std::fs::read_to_string(&path).unwrap();
        assert!(spec.contains(from), "todo.toml has no `{from}`");
        std::fs::write(&path, spec.replacen(from, to, 1)).unwrap();
    }

    /// The frontend's Service address as the browser uses it: its ClusterIP, which kube-proxy's
    /// rules on this machine route to whichever pod is ready, before and after a rollout.
    fn frontend_url(&self) -> String {
        let service = kubectl_json(["-n", &self.namespace, "get", "service", "frontend"]);
        let ip = service["spec"]["clusterIP"]
            .as_str()
            .unwrap_or_else(|| panic!("Service frontend has no clusterIP: {service:#}"));
        format!("http://{ip}:3000/")
    }

    /// Runs scripts/browser-todo on the frontend with this app's browser profile; panics with
    /// its report (error, page text, console) unless every step passed.
    fn browser(&self, shot: &str, steps: &[&str]) -> Value {
        let started = Instant::now();
        let path = screenshot(shot);
        let profile = self.root.path().join("browser-profile");
        let out = Command::new(repo().join("scripts/browser-todo"))
            .arg(self.frontend_url())
            .arg("--profile")
            .arg(&profile)
            .arg("--screenshot")
            .arg(&path)
            .args(steps)
            .output()
            .unwrap_or_else(|err| panic!("cannot run scripts/browser-todo: {err}"));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
            panic!("browser-todo printed no report ({err}):\n{}", text(&out))
        });
        eprintln!(
            "--- browser ({:.1}s): {} -> screenshot {}",
            started.elapsed().as_secs_f64(),
            steps.join(" "),
            path.display()
        );
        assert!(
            out.status.success() && report["ok"] == true,
            "the browser failed (screenshot {}):\n{report:#}",
            path.display()
        );
        report
    }

    /// The uid of each pod of a release's Deployment (`app.kubernetes.io/name=NAME`).
    fn pod_uids(&self, name: &str) -> Vec<String> {
        let pods = kubectl_json([
            "-n",
            &self.namespace,
            "get",
            "pods",
            "-l",
            &format!("app.kubernetes.io/name={name}"),
        ]);
        pods["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .filter_map(|p| p["metadata"]["uid"].as_str().map(str::to_owned))
            .collect()
    }

    /// The image reference of a Deployment's first container.
    fn deployment_image(&self, name: &str) -> String {
        let d = kubectl_json(["-n", &self.namespace, "get", "deployment", name]);
        d["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// GET through the API server's service proxy.
    fn proxy_get(&self, service: &str, port: u16, path: &str) -> Option<String> {
        let out = run_tool(
            "kubectl",
            [
                "get",
                "--raw",
                &format!(
                    "/api/v1/namespaces/{}/services/{service}:{port}/proxy{path}",
                    self.namespace
                ),
            ],
        );
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for BrowserApp {
    fn drop(&mut self) {
        let _ = Command::new("kubectl")
            .args(["delete", "namespace", &self.namespace, "--wait=false"])
            .output();
    }
}

fn titles(report: &Value) -> Vec<String> {
    report["todos"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect()
}

/// (a) The demo's path: sign in, create a todo, see it listed, reload, still see it. Then (b)
/// the seeds' CORS failure: CORS_ORIGINS changes in todo.toml, the backend's pods roll (its
/// ConfigMap's checksum is in their template) and serve the new value, and the browser, signed in
/// from before, keeps working through the new pods. Then (d) the backend's address is runtime
/// configuration: changing BACKEND_URL rolls the frontend with the same image (nothing rebuilt,
/// nothing baked), and the browser still works.
#[test]
fn browser_signs_in_creates_a_todo_that_outlives_a_reload_a_cors_change_and_a_new_backend_url() {
    let mut app = BrowserApp::new("tp-browser");
    let ns = app.namespace.clone();
    app.apply(&[]);

    let user = format!("ada{}", std::process::id());
    let first = "water the plants";
    let report = app.browser(
        "sign-in-create-reload",
        &[
            "open",
            "expect-sign-in",
            "create-account",
            &user,
            PASSWORD,
            "add",
            first,
            "reload",
            "expect-user",
            &user,
            "expect-todo",
            first,
        ],
    );
    assert_eq!(titles(&report), [first], "{report:#}");

    // (b) A CORS change: the backend rolls, the frontend does not, the browser keeps working.
    let backend_before = app.pod_uids("backend");
    let frontend_before = app.pod_uids("frontend");
    app.cors_origins = "https://todo.example.test".to_owned();
    app.apply(&[]);
    let settings = app
        .proxy_get("backend", 8000, "/api/settings")
        .expect("the backend's /api/settings");
    assert!(settings.contains("https://todo.example.test"), "{settings}");
    let backend_after = app.pod_uids("backend");
    assert!(
        backend_after
            .iter()
            .all(|uid| !backend_before.contains(uid)),
        "the CORS change rolled the backend's pods: {backend_before:?} -> {backend_after:?}"
    );
    assert_eq!(
        app.pod_uids("frontend"),
        frontend_before,
        "the frontend does not read CORS_ORIGINS: it keeps its pods"
    );
    let second = "call the plumber";
    let report = app.browser(
        "after-cors-change",
        &[
            "open",
            "expect-user",
            &user,
            "expect-todo",
            first,
            "add",
            second,
            "complete",
            first,
        ],
    );
    assert_eq!(titles(&report), [first, second], "{report:#}");

    // (d) BACKEND_URL is read by the frontend's server per request: another correct address for
    // the same backend rolls the frontend's pods with the very same image.
    let image_before = app.deployment_image("frontend");
    let frontend_before = app.pod_uids("frontend");
    app.edit(
        "BACKEND_URL = \"http://${releases.backend.name}:8000\"",
        &format!("BACKEND_URL = \"http://${{releases.backend.name}}.{ns}.svc.cluster.local:8000\""),
    );
    let printed = app.apply(&[]);
    assert!(
        !printed.contains("image.frontend: building")
            && !printed.contains("# image.frontend will be built"),
        "a runtime setting rebuilds nothing:\n{printed}"
    );
    assert_eq!(
        app.deployment_image("frontend"),
        image_before,
        "same image, new configuration"
    );
    let frontend_after = app.pod_uids("frontend");
    assert!(
        frontend_after
            .iter()
            .all(|uid| !frontend_before.contains(uid)),
        "the ConfigMap change rolled the frontend: {frontend_before:?} -> {frontend_after:?}"
    );
    let report = app.browser(
        "after-backend-url-change",
        &[
            "open",
            "expect-user",
            &user,
            "delete",
            second,
            "reload",
            "expect-todo",
            first,
        ],
    );
    assert_eq!(titles(&report), [first], "{report:#}");
}

/// (c) `--rotate secret.app.JWT_SECRET_KEY`: frontend and backend read the one key, so both roll
/// and agree on the new one. Sessions signed with the old key end (the browser is sent to the
/// sign-in page, not shown a broken list), and signing in again works, with the todos kept.
#[test]
fn a_rotated_jwt_secret_rolls_frontend_and_backend_and_sign_in_still_works() {
    let app = BrowserApp::new("tp-browser-jwt");
    app.apply(&[]);
    let user = format!("grace{}", std::process::id());
    let title = "renew the passport";
    app.browser(
        "before-rotation",
        &["open", "create-account", &user, PASSWORD, "add", title],
    );

    let backend_before = app.pod_uids("backend");
    let frontend_before = app.pod_uids("frontend");
    app.apply(&["--rotate", "secret.app.JWT_SECRET_KEY"]);
    let backend_after = app.pod_uids("backend");
    let frontend_after = app.pod_uids("frontend");
    assert!(
        backend_after
            .iter()
            .all(|uid| !backend_before.contains(uid)),
        "the rotation rolled the backend: {backend_before:?} -> {backend_after:?}"
    );
    assert!(
        frontend_after
            .iter()
            .all(|uid| !frontend_before.contains(uid)),
        "the rotation rolled the frontend: {frontend_before:?} -> {frontend_after:?}"
    );

    let report = app.browser(
        "after-rotation",
        &[
            "open",
            "expect-sign-in",
            "sign-in-fails",
            &user,
            "not the password",
            "sign-in",
            &user,
            PASSWORD,
            "expect-todo",
            title,
            "reload",
            "expect-todo",
            title,
        ],
    );
    let refused = report["steps"][2]["error"].as_str().unwrap_or_default();
    assert!(
        refused.contains("wrong user name or password"),
        "a wrong password is refused by the backend: {report:#}"
    );
    assert_eq!(titles(&report), [title], "{report:#}");
}

/// (d) A backend URL baked into the frontend's build (the seeds' NEXT_PUBLIC_API_URL, pointing at
/// localhost) cannot be right in a cluster: the image build refuses it before anything is
/// deployed, and so does app/real/frontend/build. The build that ships reads no NEXT_PUBLIC_
/// variable and its browser JavaScript names no backend.
#[test]
fn a_build_time_backend_url_is_refused_and_the_browser_code_names_no_backend() {
    require_cluster();
    require_docker();
    build_frontend();
    let namespace = unique_name("tp-browser-url");
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("app/real");
    copy_dir(&repo().join("app/real"), &dir);
    copy_dir(&repo().join("charts"), &root.path().join("charts"));
    let spec_path = dir.join("todo.toml");
    let spec = std::fs::read_to_string(&spec_path)
        .unwrap()
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
    let baked = "build_args = { BASE_IMAGE = \"${var.node_base}\", NEXT_PUBLIC_API_URL = \"http://localhost:8000\" }";
    assert!(spec.contains("build_args = { BASE_IMAGE = \"${var.node_base}\" }"));
    let spec = spec.replacen(
        "build_args = { BASE_IMAGE = \"${var.node_base}\" }",
        baked,
        1,
    );
    // Only the image is applied; the smoke checks' Service check does not follow --target (it
    // looks for the releases' Services, which this run does not plan).
    let spec = spec
        + "\n[checks]\nignore = [{ finding = \"smoke.service\", reason = \"only image.frontend is applied\" }]\n";
    std::fs::write(&spec_path, spec).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_todoplan"))
        .args(["apply", "--auto-approve", "--target", "image.frontend"])
        .current_dir(&dir)
        .env("TODOPLAN_VAR_registry", registry())
        .env(
            "TODOPLAN_VAR_node_base",
            required_env("TODOPLAN_VAR_node_base"),
        )
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let printed = text(&out);
    eprintln!("--- todoplan apply --target image.frontend:\n{printed}");
    assert!(
        !out.status.success(),
        "the build must be refused:\n{printed}"
    );
    let unwrapped = printed.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        unwrapped.contains("refused: a NEXT_PUBLIC_ backend URL build argument"),
        "the refusal says why:\n{printed}"
    );
    assert!(
        !support::namespace_exists(&namespace),
        "nothing was deployed"
    );

    // The same refusal where a Next.js build could bake it: the build script.
    let out = Command::new(repo().join("app/real/frontend/build"))
        .env("NEXT_PUBLIC_API_URL", "http://localhost:8000")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("refusing to build with NEXT_PUBLIC_API_URL set"),
        "{}",
        text(&out)
    );

    // What the browser downloads (the build's static JavaScript) calls relative /api URLs only.
    let mut files = vec![repo().join("app/real/frontend/dist/.next/static")];
    let mut scanned = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "js") {
            let js = std::fs::read_to_string(&path).unwrap();
            scanned += 1;
            for needle in [":8000", "BACKEND_URL", "backend.", "localhost:"] {
                assert!(
                    !js.contains(needle),
                    "{} contains `{needle}`: the browser's code must not know the backend",
                    path.display()
                );
            }
        }
    }
    assert!(scanned > 3, "scanned {scanned} JavaScript files");
}

/// The seeds' other sign-in failure, caught before anything runs: a todo.toml in which the
/// frontend signs sessions with another key than the one the backend verifies them with (Better
/// Auth's BETTER_AUTH_SECRET) fails the plan-time check `ref.secret-key`, which names the
/// frontend's Deployment, the key and where todo.toml names it. `todoplan validate` runs the same
/// checks as `plan`, without a cluster.
#[test]
fn frontend_and_backend_reading_different_jwt_keys_fail_the_plan_time_checks() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("app/real");
    copy_dir(&repo().join("app/real"), &dir);
    copy_dir(&repo().join("charts"), &root.path().join("charts"));
    let spec_path = dir.join("todo.toml");
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    assert!(spec.contains("auth.secretKey = \"JWT_SECRET_KEY\""));
    todoplan_cli()
        .current_dir(&dir)
        .arg("validate")
        .assert()
        .success();
    std::fs::write(
        &spec_path,
        spec.replacen(
            "auth.secretKey = \"JWT_SECRET_KEY\"",
            "auth.secretKey = \"BETTER_AUTH_SECRET\"",
            1,
        ),
    )
    .unwrap();
    let out = todoplan_cli()
        .current_dir(&dir)
        .arg("validate")
        .output()
        .unwrap();
    let printed = text(&out);
    assert!(!out.status.success(), "{printed}");
    let unwrapped = printed.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        unwrapped.contains(
            "error [ref.secret-key] release.frontend/apps/v1/Deployment/todo-real/frontend"
        ) && unwrapped.contains(
            "has no key `BETTER_AUTH_SECRET`; its keys: JWT_SECRET_KEY, POSTGRES_PASSWORD"
        ),
        "the check names the frontend and the key:\n{printed}"
    );
}
