//! Private chart sources without the network: an HTTP chart repository behind Basic auth and an
//! OCI registry behind the distribution spec's Bearer token flow, both served on loopback by
//! the test, with logins in temporary helm/Docker config files and a fake credential helper.
//! Each checks the anonymous refusal names where logins were looked for, that the login is
//! used, and that no credential reaches an error, charts.lock or the cache.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;

use super::creds::CredEnv;
use super::*;

const USER: &str = "robot";
const PASSWORD: &str = "hunter2-Pa55";
const TOKEN: &str = "tok-7f3e9a";

struct Request {
    path: String,
    headers: BTreeMap<String, String>,
}

impl Request {
    fn basic_is(&self, user: &str, password: &str) -> bool {
        let want = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.headers.get("authorization") == Some(&format!("Basic {want}"))
    }
}

type Handler = dyn Fn(&Request, &str) -> (u16, Vec<(String, String)>, Vec<u8>) + Send + Sync;

/// Serves `handler` on 127.0.0.1 for the life of the test process; returns `127.0.0.1:PORT`.
fn serve(handler: Arc<Handler>) -> String {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let me = addr.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut headers = BTreeMap::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let req = Request {
                path: line.split_whitespace().nth(1).unwrap_or("/").to_string(),
                headers,
            };
            let (status, extra, body) = handler(&req, &me);
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in extra {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    addr
}

/// A packaged chart `demo` at 1.0.0, made as `helm package` lays it out.
fn chart_package() -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, text) in [
        (
            "demo/Chart.yaml",
            "apiVersion: v2\nname: demo\nversion: 1.0.0\n",
        ),
        (
            "demo/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n",
        ),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path, text.as_bytes()).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

fn env_in(home: &Path) -> CredEnv {
    CredEnv {
        home: Some(home.to_path_buf()),
        helm_registry_config: home.join(".config/helm/registry/config.json"),
        docker_config: home.join(".docker/config.json"),
        helm_repository_config: home.join(".config/helm/repository/repositories.yaml"),
        // the helpers' directory first, then the system's (a helper script needs `sleep`)
        path: Some(
            std::env::join_paths(
                std::iter::once(home.join("bin")).chain(std::env::split_paths(
                    &std::env::var_os("PATH").unwrap_or_default(),
                )),
            )
            .unwrap(),
        ),
        helper_timeout: std::time::Duration::from_secs(10),
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A resolver for a project in `dir` with its own cache and logins under `home`.
fn resolver(dir: &Path, home: &Path) -> Resolver {
    let mut r = Resolver::open(dir).unwrap();
    r.cache = home.join("cache");
    r.creds = env_in(home);
    r
}

/// Every file under `dir`, as text: no credential may appear in any.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p: PathBuf = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

fn assert_no_secret(text: &str) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    for s in [PASSWORD, TOKEN, b64.as_str()] {
        assert!(!text.contains(s), "a credential leaked: {text}");
    }
}

#[test]
fn a_private_http_repository_takes_the_login_from_helms_repositories_file() {
    let package = Arc::new(chart_package());
    let digest = hex::encode(Sha256::digest(package.as_slice()));
    let pkg = package.clone();
    let host = serve(Arc::new(move |req: &Request, me: &str| {
        if !req.basic_is(USER, PASSWORD) {
            let h = vec![("WWW-Authenticate".into(), "Basic realm=\"charts\"".into())];
            return (401, h, vec![]);
        }
        match req.path.as_str() {
            "/charts/index.yaml" => (
                200,
                vec![],
                format!(
                    "apiVersion: v1\nentries:\n  demo:\n  - name: demo\n    version: 1.0.0\n    digest: {digest}\n    urls:\n    - http://{me}/charts/demo-1.0.0.tgz\n"
                )
                .into_bytes(),
            ),
            "/charts/demo-1.0.0.tgz" => (200, vec![], pkg.to_vec()),
            _ => (404, vec![], vec![]),
        }
    }));
    let url = format!("http://{host}/charts");
    let source = ChartSource::parse("demo", Some(&url)).unwrap().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, home) = (tmp.path().join("project"), tmp.path().join("home"));
    std::fs::create_dir_all(&dir).unwrap();

    // Anonymous: refused, and the diagnostic says where logins were looked for.
    let mut r = resolver(&dir, &home);
    let e = r.resolve(&source, "^1").unwrap_err();
    let said = format!("{} {}", e.message, e.help);
    assert!(said.contains("401"), "{said}");
    assert!(
        said.contains(&format!(
            "no credentials for {url} in ~/.config/helm/repository/repositories.yaml"
        )),
        "{said}"
    );
    assert!(said.contains("helm repo add"), "{said}");

    // With the repository's entry (as `helm repo add --username` writes it): fetched and locked.
    write(
        &home.join(".config/helm/repository/repositories.yaml"),
        &format!(
            "apiVersion: \"\"\nrepositories:\n- name: private\n  url: {url}/\n  username: {USER}\n  password: {PASSWORD}\n"
        ),
    );
    let mut r = resolver(&dir, &home);
    let path = r.resolve(&source, "^1").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), *package);
    let notes = r.finish().unwrap();
    assert_no_secret(&notes.join("\n"));
    let lock = std::fs::read_to_string(dir.join(LOCK_FILE)).unwrap();
    assert!(lock.contains("version = \"1.0.0\""), "{lock}");
    assert_no_secret(&lock);
    assert_no_secret(&all_text(&home.join("cache")));

    // A wrong password: the host and the file are named, the password is not.
    write(
        &home.join(".config/helm/repository/repositories.yaml"),
        &format!(
            "repositories:\n- name: private\n  url: {url}\n  username: {USER}\n  password: {TOKEN}\n"
        ),
    );
    std::fs::remove_file(dir.join(LOCK_FILE)).unwrap();
    let e = resolver(&dir, &home).resolve(&source, "^1").unwrap_err();
    let said = format!("{} {}", e.message, e.help);
    assert!(said.contains("refused the credentials"), "{said}");
    assert_no_secret(&said);
}

#[test]
fn a_private_oci_registry_takes_a_bearer_token_for_the_login_of_a_credential_helper() {
    let package = Arc::new(chart_package());
    let layer = digest_of(&package);
    let (pkg, served) = (package.clone(), layer.clone());
    let host = serve(Arc::new(move |req: &Request, me: &str| {
        let path = req.path.as_str();
        if let Some(query) = path.strip_prefix("/token?") {
            // the token service: a token only for the helper's login
            if !req.basic_is(USER, PASSWORD) {
                return (401, vec![], b"{\"details\":\"denied\"}".to_vec());
            }
            assert!(
                query.contains("scope=repository%3Acharts%2Fdemo%3Apull"),
                "{query}"
            );
            return (
                200,
                vec![],
                format!("{{\"token\":\"{TOKEN}\"}}").into_bytes(),
            );
        }
        if req.headers.get("authorization") != Some(&format!("Bearer {TOKEN}")) {
            let challenge = format!(
                "Bearer realm=\"http://{me}/token\",service=\"{me}\",scope=\"repository:charts/demo:pull\""
            );
            return (401, vec![("WWW-Authenticate".into(), challenge)], vec![]);
        }
        match path {
            "/v2/charts/demo/tags/list" => (
                200,
                vec![],
                b"{\"name\":\"charts/demo\",\"tags\":[\"1.0.0\"]}".to_vec(),
            ),
            "/v2/charts/demo/manifests/1.0.0" => (
                200,
                vec![],
                format!(
                    "{{\"schemaVersion\":2,\"layers\":[{{\"mediaType\":\"application/vnd.cncf.helm.chart.content.v1.tar+gzip\",\"digest\":\"{served}\",\"size\":{}}}]}}",
                    pkg.len()
                )
                .into_bytes(),
            ),
            p if p == format!("/v2/charts/demo/blobs/{served}") => (200, vec![], pkg.to_vec()),
            _ => (404, vec![], vec![]),
        }
    }));
    let source = ChartSource::parse(&format!("oci://{host}/charts/demo"), None)
        .unwrap()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, home) = (tmp.path().join("project"), tmp.path().join("home"));
    std::fs::create_dir_all(&dir).unwrap();

    // Anonymous: the token service refuses; the diagnostic names both config files.
    let e = resolver(&dir, &home).resolve(&source, "^1").unwrap_err();
    let said = format!("{} {}", e.message, e.help);
    assert!(
        said.contains(&format!(
            "no credentials for {host} in ~/.config/helm/registry/config.json or ~/.docker/config.json"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!("helm registry login {host}")),
        "{said}"
    );

    // Docker's config names a credential helper for the registry; the helper knows the login.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let helper = home.join("bin/docker-credential-fake");
        write(
            &helper,
            &format!(
                "#!/bin/sh\nread host\nif [ \"$host\" = \"{host}\" ]; then echo '{{\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'; else echo 'credentials not found in native keychain'; exit 1; fi\n"
            ),
        );
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        write(
            &home.join(".docker/config.json"),
            &format!("{{\"credHelpers\":{{\"{host}\":\"fake\"}}}}"),
        );
    }
    #[cfg(not(unix))]
    write(
        &home.join(".docker/config.json"),
        &format!(
            "{{\"auths\":{{\"{host}\":{{\"auth\":\"{}\"}}}}}}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
        ),
    );
    let mut r = resolver(&dir, &home);
    let path = r.resolve(&source, "^1").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), *package);
    assert_no_secret(&r.finish().unwrap().join("\n"));
    let lock = std::fs::read_to_string(dir.join(LOCK_FILE)).unwrap();
    assert!(lock.contains(&layer), "{lock}");
    assert_no_secret(&lock);
    assert_no_secret(&all_text(&home.join("cache")));

    // helm's own registry config comes first: a wrong login there is used, refused and named.
    write(
        &home.join(".config/helm/registry/config.json"),
        &format!(
            "{{\"auths\":{{\"{host}\":{{\"auth\":\"{}\"}}}}}}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{TOKEN}"))
        ),
    );
    std::fs::remove_file(dir.join(LOCK_FILE)).unwrap();
    let e = resolver(&dir, &home).resolve(&source, "^1").unwrap_err();
    let said = format!("{} {}", e.message, e.help);
    assert!(
        said.contains(&format!(
            "{host} refused the credentials from ~/.config/helm/registry/config.json"
        )),
        "{said}"
    );
    assert_no_secret(&said);
}

#[test]
fn challenge_parameters_keep_commas_inside_quotes() {
    let p = fetch::challenge_params_for_test(
        "realm=\"https://auth.example.com/token\",service=\"reg\",scope=\"repository:a/b:pull,push\"",
    );
    assert_eq!(p["realm"], "https://auth.example.com/token");
    assert_eq!(p["service"], "reg");
    assert_eq!(p["scope"], "repository:a/b:pull,push");
}
