//! Shared helpers for end-to-end tests against the local test environment (`scripts/testenv`).
//!
//! Use from a test file with `mod support;`. Every `require_*` function panics with instructions
//! when its part of the environment is missing: end-to-end tests fail, they never skip.
//!
//! The tools (`kubectl`, `docker`, `helm`) are taken from PATH, which
//! `eval "$(scripts/testenv env)"` points at the pinned builds.

// Each test crate that includes this module uses a different subset of it.
#![allow(dead_code)]

pub mod stack;

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The todoplan binary as a user runs it: no `TODOPLAN_ENV`/`TODOPLAN_FILE` inherited from the
/// shell running the tests, no colour.
pub fn todoplan_cli() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("todoplan").unwrap();
    cmd.env_remove("TODOPLAN_ENV")
        .env_remove("TODOPLAN_FILE")
        .env("NO_COLOR", "1");
    cmd
}

/// What to run when the environment is missing; part of every failure message below.
pub const START_HINT: &str = "start the test environment with `scripts/testenv up` and load it with `eval \"$(scripts/testenv env)\"`";

/// Panics unless KUBECONFIG is set and the API server behind it answers `/readyz`.
pub fn require_cluster() {
    let Some(kubeconfig) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) else {
        panic!("KUBECONFIG is not set: {START_HINT}");
    };
    let output = run_tool(
        "kubectl",
        ["get", "--raw", "/readyz", "--request-timeout=10s"],
    );
    assert!(
        output.status.success(),
        "the Kubernetes API server of KUBECONFIG={} is not reachable ({}): {START_HINT}",
        kubeconfig.to_string_lossy(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

/// Panics unless DOCKER_HOST is set and the Docker engine behind it answers.
pub fn require_docker() {
    let Some(host) = std::env::var_os("DOCKER_HOST").filter(|v| !v.is_empty()) else {
        panic!("DOCKER_HOST is not set: {START_HINT}");
    };
    let output = run_tool("docker", ["version", "--format", "{{.Server.Version}}"]);
    assert!(
        output.status.success(),
        "the Docker engine at DOCKER_HOST={} is not reachable ({}): {START_HINT}",
        host.to_string_lossy(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

/// The test registry as `host:port` (TODOPLAN_TEST_REGISTRY); panics when it is not set.
pub fn registry() -> String {
    match std::env::var("TODOPLAN_TEST_REGISTRY") {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("TODOPLAN_TEST_REGISTRY is not set: {START_HINT}"),
    }
}

/// Runs a tool from PATH; panics (with the hint) when it cannot be started at all.
pub fn run_tool<I, S>(program: &str, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run `{program}` ({err}): {START_HINT}"))
}

/// Runs a tool and returns its stdout; panics with its stderr when it fails.
pub fn run_ok<I, S>(program: &str, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let output = run_tool(program, &args);
    assert!(
        output.status.success(),
        "`{program} {}` failed: {}{}",
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `kubectl ARGS`, panicking on failure; returns stdout.
pub fn kubectl<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_ok("kubectl", args)
}

/// `kubectl ARGS -o json`, parsed. Panics when kubectl fails or prints something that is not JSON.
pub fn kubectl_json<I, S>(args: I) -> serde_json::Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    args.push("-o".into());
    args.push("json".into());
    let text = kubectl(&args);
    serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("kubectl printed invalid JSON ({err}): {text}"))
}

/// `kubectl apply -f -` of `manifest` in `namespace`.
pub fn kubectl_apply(namespace: &str, manifest: &str) {
    use std::io::Write as _;
    let mut child = Command::new("kubectl")
        .args(["apply", "--namespace", namespace, "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run kubectl ({err}): {START_HINT}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(manifest.as_bytes())
            .unwrap_or_else(|err| panic!("writing the manifest to kubectl failed: {err}"));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|err| panic!("waiting for kubectl failed: {err}"));
    assert!(
        output.status.success(),
        "kubectl apply failed: {}\n--- manifest ---\n{manifest}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Whether the namespace exists in the test cluster.
pub fn namespace_exists(name: &str) -> bool {
    run_tool("kubectl", ["get", "namespace", name])
        .status
        .success()
}

/// A name no other test (in this run or a concurrent one) uses: `prefix-<pid>-<time>-<counter>`,
/// lower case and at most 63 characters, valid as a namespace or object name.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let mut name = String::new();
    let _ = write!(
        name,
        "{}-{}-{:x}-{}",
        prefix.to_ascii_lowercase(),
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    name.truncate(63);
    name.trim_end_matches('-').to_owned()
}

/// A namespace created for one test and deleted (without waiting) when dropped, also on panic.
pub struct TestNamespace {
    pub name: String,
}

impl TestNamespace {
    pub fn create(prefix: &str) -> Self {
        let name = unique_name(prefix);
        kubectl(["create", "namespace", &name]);
        // Pods are refused until the namespace's default ServiceAccount exists.
        poll_until(
            &format!("the default ServiceAccount of namespace {name}"),
            Duration::from_secs(30),
            || {
                run_tool("kubectl", ["-n", &name, "get", "serviceaccount", "default"])
                    .status
                    .success()
                    .then_some(())
            },
        );
        TestNamespace { name }
    }
}

impl Drop for TestNamespace {
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
    }
}

/// Deletes a namespace (without waiting) when dropped, also on panic: for the namespaces a
/// test's todoplan run creates.
pub struct DeleteNamespaceOnDrop(pub String);

impl Drop for DeleteNamespaceOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kubectl")
            .args([
                "delete",
                "namespace",
                &self.0,
                "--wait=false",
                "--ignore-not-found",
            ])
            .output();
    }
}

/// `todoplan ARGS` run in `dir` as a user runs it (no inherited TODOPLAN_ENV/TODOPLAN_FILE, no
/// colour); its output is returned whatever the exit code.
pub fn todoplan_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_todoplan"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TODOPLAN_ENV")
        .env_remove("TODOPLAN_FILE")
        .output()
        .unwrap_or_else(|err| panic!("cannot run todoplan: {err}"))
}

/// A command's stdout and stderr, one after the other.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `text` on one line, without miette's frame: miette wraps long diagnostics, so a phrase is
/// looked for in this.
pub fn one_line(text: &str) -> String {
    text.split_whitespace()
        .map(|w| w.trim_start_matches('│'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Calls `check` every 250 ms until it returns `Some`, and returns that value. Panics after
/// `timeout`, naming `what`. The timeout is a bound for declaring failure, not a speed target.
pub fn poll_until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Reads `NAME=value` from scripts/testenv.d/versions.sh, the one place versions are pinned.
pub fn pinned_version(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/testenv.d/versions.sh");
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {path}: {err}"));
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
        .map(|rest| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{name} is not set in {path}"))
}
