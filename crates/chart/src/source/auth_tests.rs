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
    serve_with(handler, None)
}

/// [`serve`], over TLS when `tls` is given.
fn serve_with(handler: Arc<Handler>, tls: Option<Arc<rustls::ServerConfig>>) -> String {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let me = addr.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            match &tls {
                None => answer(stream, handler.as_ref(), &me),
                Some(config) => {
                    let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                        continue;
                    };
                    answer(
                        rustls::StreamOwned::new(conn, stream),
                        handler.as_ref(),
                        &me,
                    );
                }
            }
        }
    });
    addr
}

/// Reads one request from `stream` and writes `handler`'s answer.
fn answer<S: Read + Write>(stream: S, handler: &Handler, me: &str) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
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
    let (status, extra, body) = handler(&req, me);
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let stream = reader.get_mut();
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
    let _ = stream.flush();
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

/// A CA and a certificate it signed (for 127.0.0.1, or for a client), in PEM.
struct Pki {
    ca_pem: String,
    ca_der: rustls::pki_types::CertificateDer<'static>,
    leaf_der: rustls::pki_types::CertificateDer<'static>,
    leaf_pem: String,
    leaf_key_pem: String,
    leaf_key_der: Vec<u8>,
}

fn pki(client: bool) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "todoplan test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut leaf_params = if client {
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        p
    } else {
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap()
    };
    leaf_params.distinguished_name.push(
        rcgen::DnType::CommonName,
        if client { "ci" } else { "charts" },
    );
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        leaf_der: leaf.der().clone(),
        leaf_pem: leaf.pem(),
        leaf_key_pem: leaf_key.serialize_pem(),
        leaf_key_der: leaf_key.serialize_der(),
    }
}

/// An HTTPS chart repository with the server certificate of `server`, asking for a client
/// certificate signed by `client_ca` when given.
fn https_repository(server: &Pki, client_ca: Option<&Pki>) -> String {
    let package = Arc::new(chart_package());
    let digest = hex::encode(Sha256::digest(package.as_slice()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.ca_der.clone()).unwrap();
            builder.with_client_cert_verifier(
                rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .unwrap(),
            )
        }
    };
    let key = rustls::pki_types::PrivateKeyDer::try_from(server.leaf_key_der.clone()).unwrap();
    let config = builder
        .with_single_cert(vec![server.leaf_der.clone()], key)
        .unwrap();
    serve_with(
        Arc::new(move |req: &Request, me: &str| {
            match req.path.as_str() {
            "/charts/index.yaml" => (
                200,
                vec![],
                format!(
                    "apiVersion: v1\nentries:\n  demo:\n  - name: demo\n    version: 1.0.0\n    digest: {digest}\n    urls:\n    - https://{me}/charts/demo-1.0.0.tgz\n"
                )
                .into_bytes(),
            ),
            "/charts/demo-1.0.0.tgz" => (200, vec![], package.to_vec()),
            _ => (404, vec![], vec![]),
        }
        }),
        Some(Arc::new(config)),
    )
}

/// helm's repositories file in `home` with one entry for `url` carrying `settings` lines.
fn repositories_file(home: &Path, url: &str, settings: &[String]) {
    let mut entry = format!("apiVersion: \"\"\nrepositories:\n- name: private\n  url: {url}\n");
    for line in settings {
        entry.push_str(&format!("  {line}\n"));
    }
    write(&env_in(home).helm_repository_config, &entry);
}

#[test]
fn an_https_repository_with_a_private_ca_is_trusted_through_its_ca_file_only() {
    let server = pki(false);
    let other = pki(false);
    let url = format!("https://{}/charts", https_repository(&server, None));
    let source = ChartSource::parse("demo", Some(&url)).unwrap().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("project");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(tmp.path().join("ca.pem"), &server.ca_pem).unwrap();
    std::fs::write(tmp.path().join("other-ca.pem"), &other.ca_pem).unwrap();
    let ca = tmp.path().join("ca.pem").display().to_string();
    let other_ca = tmp.path().join("other-ca.pem").display().to_string();

    // No setting: the system's roots do not know the CA; the help names caFile.
    let home = tmp.path().join("home-none");
    let e = resolver(&dir, &home).resolve(&source, "1.0.0").unwrap_err();
    let said = format!("{} {}", e.message, e.help);
    assert!(
        said.contains("certificate") && said.contains("caFile"),
        "{said}"
    );

    // caFile: trusted, resolved and fetched (the index and the package).
    let home = tmp.path().join("home-ca");
    repositories_file(&home, &url, &[format!("caFile: {ca}")]);
    let resolved = resolver(&dir, &home).resolve(&source, "1.0.0").unwrap();
    assert_eq!(std::fs::read(&resolved).unwrap(), chart_package());

    // Another CA's file: refused (only the named CA is trusted).
    let home = tmp.path().join("home-other");
    repositories_file(&home, &url, &[format!("caFile: {other_ca}")]);
    let e = resolver(&dir, &home).resolve(&source, "1.0.0").unwrap_err();
    assert!(e.message.contains("certificate"), "{}", e.message);

    // insecure_skip_tls_verify: any certificate.
    let home = tmp.path().join("home-insecure");
    repositories_file(&home, &url, &["insecure_skip_tls_verify: true".into()]);
    resolver(&dir, &home).resolve(&source, "1.0.0").unwrap();

    // A caFile that is not there: named with its setting, its repository and the file.
    let home = tmp.path().join("home-missing");
    repositories_file(&home, &url, &["caFile: /nonexistent/ca.pem".into()]);
    let e = resolver(&dir, &home).resolve(&source, "1.0.0").unwrap_err();
    assert!(
        e.message.contains("/nonexistent/ca.pem")
            && e.message.contains("caFile of")
            && e.message.contains("repositories.yaml"),
        "{}",
        e.message
    );
    // A caFile that holds no certificate.
    std::fs::write(tmp.path().join("empty.pem"), "not a certificate\n").unwrap();
    let home = tmp.path().join("home-empty");
    let empty = tmp.path().join("empty.pem").display().to_string();
    repositories_file(&home, &url, &[format!("caFile: {empty}")]);
    let e = resolver(&dir, &home).resolve(&source, "1.0.0").unwrap_err();
    assert!(e.message.contains("holds no certificate"), "{}", e.message);
}

#[test]
fn an_https_repository_that_asks_for_a_client_certificate_gets_cert_file_and_key_file() {
    let server = pki(false);
    let client = pki(true);
    let url = format!(
        "https://{}/charts",
        https_repository(&server, Some(&client))
    );
    let source = ChartSource::parse("demo", Some(&url)).unwrap().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("project");
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, text: &str| {
        std::fs::write(tmp.path().join(name), text).unwrap();
        tmp.path().join(name).display().to_string()
    };
    let ca = file("ca.pem", &server.ca_pem);
    let cert = file("client.pem", &client.leaf_pem);
    let key = file("client.key", &client.leaf_key_pem);

    // The CA alone: the server refuses the connection without a client certificate.
    let home = tmp.path().join("home-ca");
    repositories_file(&home, &url, &[format!("caFile: {ca}")]);
    let e = resolver(&dir, &home).resolve(&source, "1.0.0").unwrap_err();
    assert!(e.message.contains("cannot reach"), "{}", e.message);

    // With the client certificate and its key: resolved and fetched.
    let home = tmp.path().join("home-mtls");
    repositories_file(
        &home,
        &url,
        &[
            format!("caFile: {ca}"),
            format!("certFile: {cert}"),
            format!("keyFile: {key}"),
        ],
    );
    resolver(&dir, &home).resolve(&source, "1.0.0").unwrap();

    // One of the two: a clear error before any request.
    let home = tmp.path().join("home-half");
    repositories_file(
        &home,
        &url,
        &[format!("caFile: {ca}"), format!("certFile: {cert}")],
    );
    let e = resolver(&dir, &home).resolve(&source, "1.0.0").unwrap_err();
    assert!(
        e.message.contains("only one of certFile and keyFile"),
        "{}",
        e.message
    );
    // The private key never appears in an error.
    let home = tmp.path().join("home-badcert");
    let bad = file(
        "bad.pem",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    repositories_file(
        &home,
        &url,
        &[format!("certFile: {bad}"), format!("keyFile: {key}")],
    );
    let e = resolver(&dir, &home).resolve(&source, "1.0.0").unwrap_err();
    let said = format!("{} {}", e.message, e.help);
    let key_body: String = client
        .leaf_key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!said.contains(&key_body[..20]), "{said}");
}
