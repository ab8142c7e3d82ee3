//! Private registries from the command line, without a network: an OCI registry behind Basic
//! auth served on loopback by the test, the login in a Docker config whose `credsStore` names a
//! fake credential helper on PATH, and HOME, HELM_REGISTRY_CONFIG and DOCKER_CONFIG in a temp
//! directory. Anonymous runs are refused naming where logins were looked for; with the login the
//! chart is locked and rendered; the login appears in no output, charts.lock or the cache.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::Engine;

const USER: &str = "ci-robot";
const SECRET: &str = "pa55-Wd-9c1e";

fn package() -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, body) in [
        (
            "demo/Chart.yaml",
            "apiVersion: v2\nname: demo\nversion: 1.2.0\n",
        ),
        (
            "demo/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-private\n",
        ),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, path, body.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// A registry holding `charts/demo:1.2.0` that answers only requests with the Basic login.
fn registry(pkg: Vec<u8>) -> String {
    let digest = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&pkg))
    );
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let login = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{SECRET}"))
    );
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
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, body): (&str, Vec<u8>) = if headers.get("authorization") != Some(&login) {
                ("401 Unauthorized", vec![])
            } else if path == "/v2/charts/demo/tags/list" {
                ("200 OK", br#"{"tags":["1.2.0"]}"#.to_vec())
            } else if path == "/v2/charts/demo/manifests/1.2.0" {
                let m = format!(
                    r#"{{"schemaVersion":2,"layers":[{{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip","digest":"{digest}","size":{}}}]}}"#,
                    pkg.len()
                );
                ("200 OK", m.into_bytes())
            } else if path == format!("/v2/charts/demo/blobs/{digest}") {
                ("200 OK", pkg.clone())
            } else {
                ("404 Not Found", vec![])
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nWWW-Authenticate: Basic realm=\"registry\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    host
}

fn todoplan(dir: &Path, home: &Path, args: &[&str]) -> std::process::Output {
    let path = std::env::join_paths(std::iter::once(home.join("bin")).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    Command::cargo_bin("todoplan")
        .unwrap()
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("HOME", home)
        .env("PATH", path)
        .env("TODOPLAN_CACHE_DIR", home.join("cache"))
        .env("KUBECONFIG", dir.join("no-such-kubeconfig"))
        .env("HELM_REGISTRY_CONFIG", home.join("helm/config.json"))
        .env("DOCKER_CONFIG", home.join("docker"))
        .env_remove("HELM_CONFIG_HOME")
        .env_remove("TODOPLAN_ENV")
        .args(args)
        .output()
        .unwrap()
}

fn one_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn files_text(dir: &Path) -> String {
    let mut all = String::new();
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                all.push_str(&String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()));
            }
        }
    }
    all
}

fn assert_no_secret(what: &str, text: &str) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{SECRET}"));
    assert!(
        !text.contains(SECRET) && !text.contains(&b64),
        "the login leaked into {what}: {text}"
    );
}

#[test]
fn a_private_registry_is_read_with_the_login_of_a_docker_credential_helper() {
    use std::os::unix::fs::PermissionsExt;
    let host = registry(package());
    let tmp = tempfile::tempdir().unwrap();
    let (dir, home) = (tmp.path().join("project"), tmp.path().join("home"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(home.join("bin")).unwrap();
    std::fs::write(
        dir.join("todo.toml"),
        format!(
            "[project]\nname = \"priv\"\n\n[releases.web]\nchart = \"oci://{host}/charts/demo\"\nversion = \"^1\"\n"
        ),
    )
    .unwrap();

    let out = todoplan(&dir, &home, &["render"]);
    assert_eq!(out.status.code(), Some(1), "{}", one_line(&out));
    let said = one_line(&out);
    assert!(
        said.contains(&format!(
            "no credentials for {host} in ~/helm/config.json or ~/docker/config.json"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!("helm registry login {host}")),
        "{said}"
    );
    assert!(!dir.join("charts.lock").exists());

    let helper = home.join("bin/docker-credential-fake");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread host\nif [ \"$host\" = \"{host}\" ]; then printf '{{\"Username\":\"{USER}\",\"Secret\":\"{SECRET}\"}}'; else echo 'credentials not found in native keychain'; exit 1; fi\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(home.join("docker")).unwrap();
    std::fs::write(home.join("docker/config.json"), r#"{"credsStore":"fake"}"#).unwrap();

    let out = todoplan(&dir, &home, &["render"]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", one_line(&out));
    assert!(stdout.contains("name: web-private"), "{stdout}");
    let lock = std::fs::read_to_string(dir.join("charts.lock")).unwrap();
    assert!(lock.contains("version = \"1.2.0\""), "{lock}");
    assert_no_secret("the output", &format!("{stdout}{}", one_line(&out)));
    assert_no_secret("charts.lock", &lock);
    assert_no_secret("the cache", &files_text(&home.join("cache")));
}
