//! Remote charts for real: an HTTP chart repository served on loopback by this test (index.yaml
//! made by `helm repo index`) and the testenv's OCI registry (charts uploaded by `helm push`).
//! A release names the chart with a semver range; todoplan resolves it, records the exact version
//! and digest in charts.lock, caches the package, renders it as `helm template` does, works
//! with the network gone once cached, and refuses a tampered cache, a tampered lock and a
//! republished package.
#![cfg(feature = "e2e")]

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use assert_cmd::Command;
use sha2::{Digest, Sha256};

/// A chart `demo` at `version`; its ConfigMap names the version so a render shows which one.
fn write_chart(dir: &Path, version: &str) -> PathBuf {
    let c = dir.join(format!("src-{version}/demo"));
    std::fs::create_dir_all(c.join("templates")).unwrap();
    std::fs::write(
        c.join("Chart.yaml"),
        format!("apiVersion: v2\nname: demo\nversion: {version}\n"),
    )
    .unwrap();
    std::fs::write(c.join("values.yaml"), "greeting: hello\n").unwrap();
    std::fs::write(
        c.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-demo\ndata:\n  \
         version: {{ .Chart.Version | quote }}\n  greeting: {{ .Values.greeting | quote }}\n",
    )
    .unwrap();
    c
}

/// `helm package` of each version into `out`; returns the package paths.
fn package(dir: &Path, out: &Path, versions: &[&str]) -> Vec<PathBuf> {
    std::fs::create_dir_all(out).unwrap();
    versions
        .iter()
        .map(|v| {
            let chart = write_chart(dir, v);
            support::run_ok(
                "helm",
                [
                    "package".as_ref(),
                    chart.as_os_str(),
                    "--destination".as_ref(),
                    out.as_os_str(),
                ],
            );
            out.join(format!("demo-{v}.tgz"))
        })
        .collect()
}

fn sha256(path: &Path) -> String {
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
    )
}

/// A static file server on 127.0.0.1 for `root`, serving until dropped.
struct StaticServer {
    url: String,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl StaticServer {
    fn start(root: &Path) -> StaticServer {
        Self::start_on(root, 0)
    }

    fn start_on(root: &Path, port: u16) -> StaticServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let (root, flag) = (root.to_path_buf(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/");
                let file = root.join(path.trim_start_matches('/'));
                let safe = !path.contains("..");
                match std::fs::read(&file) {
                    Ok(body) if safe => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(&body);
                    }
                    _ => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                    }
                }
            }
        });
        StaticServer {
            url: format!("http://127.0.0.1:{port}"),
            stop,
            port,
        }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // wake the accept loop so it sees the flag
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn project(dir: &Path, release: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("todo.toml"),
        format!("[project]\nname = \"srcs\"\n\n[releases.web]\n{release}\n"),
    )
    .unwrap();
}

fn todoplan(dir: &Path, cache: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("todoplan")
        .unwrap()
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("TODOPLAN_CACHE_DIR", cache)
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "todoplan failed:\n{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The diagnostic on stderr as one line: miette wraps long messages and marks the wraps.
fn err(out: &std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected a failure, got:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr)
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn helm_template(package: &Path) -> String {
    support::run_ok(
        "helm",
        [
            "template".as_ref(),
            "web".as_ref(),
            package.as_os_str(),
            "--namespace".as_ref(),
            "default".as_ref(),
        ],
    )
}

#[test]
fn a_chart_from_an_http_repository_is_locked_cached_and_verified() {
    support::run_ok("helm", ["version", "--short"]);
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let packages = package(tmp.path(), &repo, &["1.0.0", "1.2.0", "2.0.0"]);
    let server = StaticServer::start(&repo);
    support::run_ok(
        "helm",
        [
            "repo".as_ref(),
            "index".as_ref(),
            repo.as_os_str(),
            "--url".as_ref(),
            server.url.as_ref(),
        ],
    );
    let proj = tmp.path().join("proj");
    let cache = tmp.path().join("cache");
    project(
        &proj,
        &format!(
            "chart = \"demo\"\nrepository = \"{}\"\nversion = \"^1\"",
            server.url
        ),
    );

    // First use: resolved, explained, locked, cached.
    let out = todoplan(&proj, &cache, &["validate"]);
    ok(&out);
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains("was not in charts.lock") && note.contains("to version 1.2.0"),
        "{note}"
    );
    let lock = std::fs::read_to_string(proj.join("charts.lock")).unwrap();
    let digest = sha256(&packages[1]);
    assert!(
        lock.contains(&format!(
            "source = \"{} demo\"\nconstraint = \"^1\"\nversion = \"1.2.0\"\ndigest = \"{digest}\"",
            server.url
        )),
        "{lock}"
    );
    // It renders exactly as helm renders the package.
    let rendered = ok(&todoplan(&proj, &cache, &["render", "web"]));
    assert_eq!(rendered, helm_template(&packages[1]));

    // Cached: no network, no change to the lock, no note.
    let server_port = server.port;
    drop(server);
    let out = todoplan(&proj, &cache, &["validate"]);
    ok(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("charts.lock"));
    assert_eq!(
        std::fs::read_to_string(proj.join("charts.lock")).unwrap(),
        lock
    );

    // A tampered cache is refused, naming the digests; with the network gone it cannot be
    // fetched again.
    let cached = cache
        .join("charts")
        .join(format!("{}.tgz", digest.replace(':', "-")));
    std::fs::copy(&packages[0], &cached).unwrap();
    let e = err(&todoplan(&proj, &cache, &["render", "web"]));
    assert!(
        e.contains("the chart cache was altered")
            && e.contains(&sha256(&packages[0]))
            && e.contains("cannot reach"),
        "{e}"
    );
    // The repository is back: the locked package is fetched again, checked, and used.
    let server = StaticServer::start_on(&repo, server_port);
    let rendered = ok(&todoplan(&proj, &cache, &["render", "web"]));
    assert_eq!(rendered, helm_template(&packages[1]));
    assert_eq!(sha256(&cached), digest);
    drop(server);

    // A tampered lock (a digest that is not one) is refused with the reason.
    std::fs::write(
        proj.join("charts.lock"),
        lock.replace(&digest, "sha256:abc"),
    )
    .unwrap();
    let e = err(&todoplan(&proj, &cache, &["validate"]));
    assert!(e.contains("not a valid lock file"), "{e}");
}

#[test]
fn a_republished_package_and_a_changed_constraint_are_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let packages = package(tmp.path(), &repo, &["1.0.0", "2.0.0"]);
    let server = StaticServer::start(&repo);
    let index = |_: ()| {
        support::run_ok(
            "helm",
            [
                "repo".as_ref(),
                "index".as_ref(),
                repo.as_os_str(),
                "--url".as_ref(),
                server.url.as_ref(),
            ],
        )
    };
    index(());
    let proj = tmp.path().join("proj");
    let cache = tmp.path().join("cache");
    let release = |v: &str| {
        format!(
            "chart = \"demo\"\nrepository = \"{}\"\nversion = \"{v}\"",
            server.url
        )
    };
    project(&proj, &release("^1"));
    ok(&todoplan(&proj, &cache, &["validate"]));

    // The constraint changes: re-resolved, and the note says what was locked before.
    project(&proj, &release("^2"));
    let out = todoplan(&proj, &cache, &["validate"]);
    ok(&out);
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains("is locked for \"^1\" but todo.toml now asks for \"^2\"")
            && note.contains("to version 2.0.0"),
        "{note}"
    );
    let rendered = ok(&todoplan(&proj, &cache, &["render", "web"]));
    assert!(rendered.contains("version: \"2.0.0\""), "{rendered}");

    // 2.0.0 is republished with other content; with the cache gone, todoplan fetches it again
    // and refuses it: the lock names the old digest.
    std::fs::remove_dir_all(&cache).unwrap();
    let locked = sha256(&packages[1]);
    let src = write_chart(&tmp.path().join("again"), "2.0.0");
    std::fs::write(src.join("values.yaml"), "greeting: changed\n").unwrap();
    support::run_ok(
        "helm",
        [
            "package".as_ref(),
            src.as_os_str(),
            "--destination".as_ref(),
            repo.as_os_str(),
        ],
    );
    assert_ne!(locked, sha256(&repo.join("demo-2.0.0.tgz")));
    index(());
    let e = err(&todoplan(&proj, &cache, &["validate"]));
    assert!(
        e.contains("charts.lock records") && e.contains("republished or altered"),
        "{e}"
    );
}

#[test]
fn a_chart_from_the_oci_registry_is_locked_and_rendered_as_helm_does() {
    let registry = support::registry();
    let tmp = tempfile::tempdir().unwrap();
    let packages = package(tmp.path(), &tmp.path().join("out"), &["1.0.0", "1.3.1"]);
    let path = support::unique_name("chart-sources");
    for p in &packages {
        support::run_ok(
            "helm",
            [
                "push".as_ref(),
                p.as_os_str(),
                format!("oci://{registry}/{path}").as_ref(),
                "--plain-http".as_ref(),
            ],
        );
    }
    let proj = tmp.path().join("proj");
    let cache = tmp.path().join("cache");
    let source = format!("oci://{registry}/{path}/demo");
    project(&proj, &format!("chart = \"{source}\"\nversion = \"~1.3\""));
    let out = todoplan(&proj, &cache, &["validate"]);
    ok(&out);
    let lock = std::fs::read_to_string(proj.join("charts.lock")).unwrap();
    assert!(
        lock.contains(&format!(
            "source = \"{source}\"\nconstraint = \"~1.3\"\nversion = \"1.3.1\"\ndigest = \"{}\"",
            sha256(&packages[1])
        )),
        "{lock}"
    );
    let rendered = ok(&todoplan(&proj, &cache, &["render", "web"]));
    assert_eq!(rendered, helm_template(&packages[1]));

    // A version nobody pushed: the versions there are listed.
    project(&proj, &format!("chart = \"{source}\"\nversion = \"^4\""));
    let e = err(&todoplan(&proj, &cache, &["validate"]));
    assert!(
        e.contains("no version matches \"^4\"") && e.contains("1.3.1, 1.0.0"),
        "{e}"
    );
}

/// An HTTP repository offering demo 1.0.0 and 2.0.0, served until the returned server drops.
fn demo_repository(tmp: &Path) -> (StaticServer, Vec<PathBuf>) {
    let repo = tmp.join("repo");
    let packages = package(tmp, &repo, &["1.0.0", "2.0.0"]);
    let server = StaticServer::start(&repo);
    support::run_ok(
        "helm",
        [
            "repo".as_ref(),
            "index".as_ref(),
            repo.as_os_str(),
            "--url".as_ref(),
            server.url.as_ref(),
        ],
    );
    (server, packages)
}

#[test]
fn an_old_todoplan_lock_is_read_then_renamed_to_charts_lock_and_the_state_lock_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, _) = demo_repository(tmp.path());
    let proj = tmp.path().join("proj");
    let cache = tmp.path().join("cache");
    let release = |v: &str| {
        format!(
            "chart = \"demo\"\nrepository = \"{}\"\nversion = \"{v}\"",
            server.url
        )
    };
    project(&proj, &release("^1"));
    ok(&todoplan(&proj, &cache, &["validate"]));
    // What an older todoplan wrote: the same lock under the state lock's name.
    let old = proj.join("todoplan.lock");
    let old_text = std::fs::read_to_string(proj.join("charts.lock"))
        .unwrap()
        .replace("# charts.lock:", "# todoplan.lock:");
    std::fs::remove_file(proj.join("charts.lock")).unwrap();
    std::fs::write(&old, &old_text).unwrap();
    // The state's own lock file, which shares the old name, is never touched.
    std::fs::create_dir_all(proj.join("state")).unwrap();
    let state_lock = proj.join("state/todoplan.lock");
    std::fs::write(&state_lock, "").unwrap();

    // Nothing changes: read from the old file, nothing written, nothing said.
    let out = todoplan(&proj, &cache, &["validate"]);
    ok(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains(".lock"));
    assert_eq!(std::fs::read_to_string(&old).unwrap(), old_text);
    assert!(!proj.join("charts.lock").exists());

    // The first change writes charts.lock and removes the old file, in one line on stderr.
    project(&proj, &release("^2"));
    let out = todoplan(&proj, &cache, &["validate"]);
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l == "renamed todoplan.lock to charts.lock: commit both"),
        "{stderr}"
    );
    assert!(!old.exists());
    let lock = std::fs::read_to_string(proj.join("charts.lock")).unwrap();
    assert!(
        lock.starts_with("# charts.lock:") && lock.contains("version = \"2.0.0\""),
        "{lock}"
    );
    assert_eq!(std::fs::read_to_string(&state_lock).unwrap(), "");

    // Both there: charts.lock wins, and the old one is named unused.
    std::fs::write(&old, &old_text).unwrap();
    let out = todoplan(&proj, &cache, &["render", "web"]);
    assert!(ok(&out).contains("version: \"2.0.0\""));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("todoplan.lock beside todo.toml is unused"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&old).unwrap(), old_text);
    assert_eq!(
        std::fs::read_to_string(proj.join("charts.lock")).unwrap(),
        lock
    );
}

/// A real registry (the testenv's `docker-registry`, Docker's distribution) that requires a
/// login, on a free loopback port, until it drops.
struct LoginRegistry {
    addr: String,
    child: std::process::Child,
}

impl LoginRegistry {
    fn start(dir: &Path, user: &str, password: &str) -> LoginRegistry {
        let hash = bcrypt::hash(password, 5).unwrap();
        std::fs::create_dir_all(dir.join("storage")).unwrap();
        std::fs::write(dir.join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: {addr}\nauth:\n  htpasswd:\n    realm: todoplan-test\n    path: {}\n",
                dir.join("storage").display(),
                dir.join("htpasswd").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = std::process::Command::new("docker-registry")
            .args(["serve".as_ref(), config.as_os_str()])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect(
                "docker-registry is not installed: run `scripts/testenv up` (it installs Debian's \
                 docker-registry package)",
            );
        let registry = LoginRegistry { addr, child };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            // Up when /v2/ answers, with 401: it asks for a login.
            if let Ok(mut s) = std::net::TcpStream::connect(&registry.addr) {
                let _ = write!(s, "GET /v2/ HTTP/1.0\r\n\r\n");
                let mut line = String::new();
                if BufReader::new(s).read_line(&mut line).is_ok() && line.contains("401") {
                    return registry;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the registry did not start; see {}",
                dir.join("registry.log").display()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for LoginRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs helm with its registry config at `registry_config`, returning the output.
fn helm_with(registry_config: &Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new("helm")
        .env("HELM_REGISTRY_CONFIG", registry_config)
        .args(args)
        .output()
        .unwrap()
}

/// todoplan with only the given credential files (helm's registry config, Docker's config dir).
fn todoplan_with_credentials(
    dir: &Path,
    cache: &Path,
    helm_registry_config: &Path,
    docker_config: &Path,
    args: &[&str],
) -> std::process::Output {
    Command::cargo_bin("todoplan")
        .unwrap()
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("TODOPLAN_CACHE_DIR", cache)
        .env("HELM_REGISTRY_CONFIG", helm_registry_config)
        .env("DOCKER_CONFIG", docker_config)
        .args(args)
        .output()
        .unwrap()
}

/// The credentials `helm registry login` saves, or Docker's `config.json`, open a real registry
/// that refuses anonymous pulls; without them, or with a wrong password, the plan stops with a
/// diagnostic that says how to log in and never shows the password.
#[test]
fn a_chart_in_a_registry_that_requires_a_login_is_read_with_helms_or_dockers_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let (user, password) = ("ci-bot", "s3cret-registry-pass");
    let registry = LoginRegistry::start(&tmp.path().join("registry"), user, password);
    let addr = registry.addr.clone();
    let packages = package(tmp.path(), &tmp.path().join("out"), &["2.1.0"]);
    let helm_config = tmp.path().join("helm-registry.json");
    let oci = format!("oci://{addr}/charts");

    // The registry really refuses anonymous pushes.
    let anonymous = helm_with(
        &helm_config,
        &[
            "push".as_ref(),
            packages[0].as_os_str(),
            oci.as_ref(),
            "--plain-http".as_ref(),
        ],
    );
    assert!(
        !anonymous.status.success(),
        "the registry took an anonymous push"
    );

    let login = helm_with(
        &helm_config,
        &[
            "registry".as_ref(),
            "login".as_ref(),
            addr.as_ref(),
            "--insecure".as_ref(),
            "--username".as_ref(),
            user.as_ref(),
            "--password".as_ref(),
            password.as_ref(),
        ],
    );
    assert!(
        login.status.success(),
        "helm registry login: {}",
        String::from_utf8_lossy(&login.stderr)
    );
    let push = helm_with(
        &helm_config,
        &[
            "push".as_ref(),
            packages[0].as_os_str(),
            oci.as_ref(),
            "--plain-http".as_ref(),
        ],
    );
    assert!(
        push.status.success(),
        "helm push: {}",
        String::from_utf8_lossy(&push.stderr)
    );

    let proj = tmp.path().join("proj");
    project(
        &proj,
        &format!("chart = \"{oci}/demo\"\nversion = \"2.1.0\""),
    );
    let no_docker = tmp.path().join("no-docker");

    // With helm's login: the chart is resolved, locked and rendered as helm renders it.
    let rendered = ok(&todoplan_with_credentials(
        &proj,
        &tmp.path().join("cache-helm"),
        &helm_config,
        &no_docker,
        &["render", "web"],
    ));
    assert_eq!(rendered, helm_template(&packages[0]));

    // With Docker's config.json only (as `docker login` writes it).
    std::fs::remove_file(proj.join("charts.lock")).unwrap();
    let docker = tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let auth = base64_of(&format!("{user}:{password}"));
    std::fs::write(
        docker.join("config.json"),
        format!("{{\"auths\": {{\"{addr}\": {{\"auth\": \"{auth}\"}}}}}}"),
    )
    .unwrap();
    let rendered = ok(&todoplan_with_credentials(
        &proj,
        &tmp.path().join("cache-docker"),
        &tmp.path().join("no-helm.json"),
        &docker,
        &["render", "web"],
    ));
    assert_eq!(rendered, helm_template(&packages[0]));

    // Without credentials: refused, and the diagnostic says how to log in.
    std::fs::remove_file(proj.join("charts.lock")).unwrap();
    let e = err(&todoplan_with_credentials(
        &proj,
        &tmp.path().join("cache-none"),
        &tmp.path().join("no-helm.json"),
        &no_docker,
        &["plan", "--offline"],
    ));
    assert!(
        e.contains(&addr) && e.contains("helm registry login"),
        "{e}"
    );

    // A wrong password: refused; neither password is shown.
    let wrong = tmp.path().join("docker-wrong");
    std::fs::create_dir_all(&wrong).unwrap();
    std::fs::write(
        wrong.join("config.json"),
        format!(
            "{{\"auths\": {{\"{addr}\": {{\"auth\": \"{}\"}}}}}}",
            base64_of(&format!("{user}:not-the-{password}"))
        ),
    )
    .unwrap();
    let out = todoplan_with_credentials(
        &proj,
        &tmp.path().join("cache-wrong"),
        &tmp.path().join("no-helm.json"),
        &wrong,
        &["plan", "--offline"],
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let e = err(&out);
    assert!(e.contains(&addr), "{e}");
    for secret in [
        password.to_string(),
        base64_of(&format!("{user}:not-the-{password}")),
    ] {
        assert!(
            !all.contains(&secret),
            "the output shows a credential: {all}"
        );
    }
    assert!(
        !all.contains("not-the-"),
        "the output shows the password: {all}"
    );
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
