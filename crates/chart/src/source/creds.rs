//! Where a chart source's credentials come from, as helm finds them: for OCI registries helm's
//! registry config then Docker's config (both in Docker's `config.json` format, read as oras-go
//! does: `auths`, `identitytoken`, `credHelpers` and `credsStore`), for HTTP repositories the
//! entry of helm's `repositories.yaml` whose `url` is the release's `repository`.
//! A credential never leaves this module in a printable form: `Secret` debug-prints as
//! `<redacted>`, and every message names the host and the files looked at, never a value.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde::Deserialize;

use super::SourceError;

/// How long a credential helper may take before it is called hung.
const HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// A secret string: never shown by `Debug`, so it cannot slip into a diagnostic.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The places credentials are read from; `from_env` is what a run uses, tests build their own.
#[derive(Debug, Clone)]
pub(crate) struct CredEnv {
    pub home: Option<PathBuf>,
    pub helm_registry_config: PathBuf,
    pub docker_config: PathBuf,
    pub helm_repository_config: PathBuf,
    /// `PATH` for `docker-credential-*` helpers when not the process's own.
    pub path: Option<OsString>,
    /// How long a credential helper may take before it is called hung.
    pub helper_timeout: Duration,
}

impl CredEnv {
    /// helm's paths (`HELM_REGISTRY_CONFIG`, `HELM_REPOSITORY_CONFIG`, else under
    /// `HELM_CONFIG_HOME`, `$XDG_CONFIG_HOME/helm` or `~/.config/helm`) and Docker's
    /// (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`).
    pub(crate) fn from_env() -> CredEnv {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home = var("HOME");
        let home_dir = home.clone().unwrap_or_default();
        let helm_home = var("HELM_CONFIG_HOME")
            .or_else(|| var("XDG_CONFIG_HOME").map(|d| d.join("helm")))
            .unwrap_or_else(|| home_dir.join(".config").join("helm"));
        CredEnv {
            helm_registry_config: var("HELM_REGISTRY_CONFIG")
                .unwrap_or_else(|| helm_home.join("registry").join("config.json")),
            docker_config: var("DOCKER_CONFIG")
                .unwrap_or_else(|| home_dir.join(".docker"))
                .join("config.json"),
            helm_repository_config: var("HELM_REPOSITORY_CONFIG")
                .unwrap_or_else(|| helm_home.join("repository").join("repositories.yaml")),
            home,
            path: None,
            helper_timeout: HELPER_TIMEOUT,
        }
    }

    /// A path as the user knows it: `~/...` under the home directory.
    pub(crate) fn show(&self, path: &Path) -> String {
        if let Some(home) = &self.home
            && let Ok(rest) = path.strip_prefix(home)
        {
            return format!("~/{}", rest.display());
        }
        path.display().to_string()
    }
}

/// A registry login: a user name and password, and/or an identity (refresh) token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Credential {
    pub username: String,
    pub password: Secret,
    pub refresh_token: Option<Secret>,
    /// A bearer token for the registry itself (`registrytoken`).
    pub registry_token: Option<Secret>,
}

impl Credential {
    fn is_empty(&self) -> bool {
        self.username.is_empty()
            && self.password.0.is_empty()
            && self.refresh_token.is_none()
            && self.registry_token.is_none()
    }

    pub(crate) fn basic(&self) -> Option<(&str, &str)> {
        (!self.username.is_empty() || !self.password.0.is_empty())
            .then_some((self.username.as_str(), self.password.0.as_str()))
    }
}

/// What a lookup found, and where it looked (for the diagnostic of a refusal).
#[derive(Debug, Clone)]
pub(crate) struct RegistryLogin {
    pub credential: Option<Credential>,
    /// Where the credential came from, said for the user.
    pub from: Option<String>,
    /// Every place looked at, said for the user.
    pub searched: Vec<String>,
}

/// The key a registry's credentials are stored under (oras-go's `ServerAddressFromHostname`:
/// Docker Hub's are under `https://index.docker.io/v1/`).
fn server_address(host: &str) -> String {
    if matches!(
        host,
        "docker.io" | "registry-1.docker.io" | "index.docker.io"
    ) {
        "https://index.docker.io/v1/".to_string()
    } else {
        host.to_string()
    }
}

/// A key of `auths` reduced to its host, as Docker and oras-go match legacy keys such as
/// `https://registry.example.com/v1/`.
fn to_hostname(key: &str) -> &str {
    let k = key
        .strip_prefix("http://")
        .or_else(|| key.strip_prefix("https://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

#[derive(Deserialize, Default)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The login for `host` (`HOST[:PORT]` of an `oci://` chart): helm's registry config first,
/// then Docker's, the first that has one wins (oras-go's store with fallbacks).
pub(crate) fn registry_login(env: &CredEnv, host: &str) -> Result<RegistryLogin, SourceError> {
    let address = server_address(host);
    let mut searched = Vec::new();
    for file in [&env.helm_registry_config, &env.docker_config] {
        let shown = env.show(file);
        searched.push(shown.clone());
        let text = match std::fs::read(file) {
            Ok(t) => t,
            // a missing file is an empty config: the platform's helper may still hold a login
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(SourceError::new(
                    format!("cannot read {shown} for the credentials of {host}: {e}"),
                    "fix its permissions or remove it",
                ));
            }
        };
        let config: DockerConfig = if text.iter().all(u8::is_ascii_whitespace) {
            DockerConfig::default()
        } else {
            // serde_json's message names a line and column, never the text there
            serde_json::from_slice(&text).map_err(|e| {
                SourceError::new(
                    format!("{shown} is not a Docker config file (looking for the credentials of {host}): {e}"),
                    "fix the file, or log in again with `helm registry login`",
                )
            })?
        };
        let configured = config.creds_store.as_ref().is_some_and(|s| !s.is_empty())
            || !config.cred_helpers.is_empty()
            || !config.auths.is_empty();
        // helm asks oras-go to detect the platform's helper for a config that names no login
        // at all (DetectDefaultNativeStore)
        let detected = if configured {
            None
        } else {
            default_helper(env)
        };
        let helper = config
            .cred_helpers
            .get(&address)
            .or(config.creds_store.as_ref())
            .or(detected.as_ref())
            .filter(|h| !h.is_empty());
        let found = if let Some(helper) = helper {
            let origin = if detected.as_ref() == Some(helper) {
                format!("the platform's default, as {shown} names no login")
            } else {
                format!("named in {shown}")
            };
            let cred = run_helper(env, helper, &address, &origin)?;
            cred.map(|c| (c, format!("docker-credential-{helper} ({origin})")))
        } else {
            let entry = config.auths.get(&address).or_else(|| {
                config
                    .auths
                    .iter()
                    .find(|(k, _)| to_hostname(k) == address)
                    .map(|(_, v)| v)
            });
            match entry {
                Some(e) => decode_entry(e, host, &shown)?.map(|c| (c, shown.clone())),
                None => None,
            }
        };
        if let Some((credential, from)) = found {
            return Ok(RegistryLogin {
                credential: Some(credential),
                from: Some(from),
                searched,
            });
        }
    }
    Ok(RegistryLogin {
        credential: None,
        from: None,
        searched,
    })
}

/// oras-go's default native store: the platform's helper, when `docker-credential-NAME` is on
/// PATH (on Linux `pass` when the `pass` program is there, else `secretservice`).
fn default_helper(env: &CredEnv) -> Option<String> {
    let path = env
        .path
        .clone()
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_default();
    let on_path = |name: &str| {
        std::env::split_paths(&path).any(|d| {
            let p = d.join(name);
            p.is_file() && !d.as_os_str().is_empty()
        })
    };
    let name = if cfg!(target_os = "macos") {
        "osxkeychain"
    } else if cfg!(windows) {
        "wincred"
    } else if on_path("pass") {
        "pass"
    } else {
        "secretservice"
    };
    let program = format!("docker-credential-{name}{}", std::env::consts::EXE_SUFFIX);
    on_path(&program).then(|| name.to_string())
}

fn decode_entry(e: &AuthEntry, host: &str, shown: &str) -> Result<Option<Credential>, SourceError> {
    let mut cred = Credential {
        username: e.username.clone().unwrap_or_default(),
        password: Secret(e.password.clone().unwrap_or_default()),
        refresh_token: e
            .identitytoken
            .clone()
            .filter(|t| !t.is_empty())
            .map(Secret),
        registry_token: e
            .registrytoken
            .clone()
            .filter(|t| !t.is_empty())
            .map(Secret),
    };
    if let Some(auth) = e.auth.as_deref().filter(|a| !a.is_empty()) {
        let bad = || {
            SourceError::new(
                format!("the `auth` of {host} in {shown} is not base64 of `user:password`"),
                format!("log in again: `helm registry login {host}`"),
            )
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad())?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
        let (user, pass) = decoded.split_once(':').ok_or_else(bad)?;
        cred.username = user.to_string();
        cred.password = Secret(pass.to_string());
    }
    Ok((!cred.is_empty()).then_some(cred))
}

/// `docker-credential-NAME get` with the server address on stdin; "credentials not found"
/// is no login, anything else that goes wrong is said (without the helper's output, which may
/// hold a secret).
fn run_helper(
    env: &CredEnv,
    helper: &str,
    address: &str,
    origin: &str,
) -> Result<Option<Credential>, SourceError> {
    let program = format!("docker-credential-{helper}");
    let fail = |what: String| {
        SourceError::new(
            format!("the credential helper {program} ({origin}) {what}"),
            format!(
                "check that `echo {address} | {program} get` works, or name another helper (`credsStore`, `credHelpers`) in the config file"
            ),
        )
    };
    let mut cmd = Command::new(&program);
    if let Some(path) = &env.path {
        cmd.env("PATH", path);
    }
    let mut child = cmd
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot be run: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(address.as_bytes());
    }
    // Read the pipes on threads so a chatty helper cannot block on a full pipe.
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.take(1 << 20).read_to_end(&mut b);
        }
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.take(1 << 20).read_to_end(&mut b);
        }
        b
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() >= env.helper_timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "did not answer within {} s for {address}",
                    env.helper_timeout.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(fail(format!("failed: {e}"))),
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    if !status.success() {
        let said = String::from_utf8_lossy(if stdout.is_empty() { &stderr } else { &stdout });
        if said.trim() == "credentials not found in native keychain" {
            return Ok(None);
        }
        return Err(fail(format!("failed ({status}) for {address}")));
    }
    #[derive(Deserialize)]
    struct HelperAnswer {
        #[serde(default, rename = "Username")]
        username: String,
        #[serde(default, rename = "Secret")]
        secret: String,
    }
    let answer: HelperAnswer = serde_json::from_slice(&stdout).map_err(|_| {
        fail(format!(
            "did not answer JSON {{\"Username\",\"Secret\"}} for {address}"
        ))
    })?;
    // Docker's convention: the user `<token>` means the secret is an identity token.
    let cred = if answer.username == "<token>" {
        Credential {
            refresh_token: Some(Secret(answer.secret)),
            ..Credential::default()
        }
    } else {
        Credential {
            username: answer.username,
            password: Secret(answer.secret),
            ..Credential::default()
        }
    };
    Ok((!cred.is_empty()).then_some(cred))
}

/// A chart repository's login from helm's repositories file.
#[derive(Debug, Clone)]
pub(crate) struct RepoLogin {
    pub username: String,
    pub password: Secret,
    /// helm's `pass_credentials_all`: send the login to chart URLs on other hosts too.
    pub pass_all: bool,
    pub repo_url: String,
}

impl RepoLogin {
    /// Whether the login goes with a request to `url` (helm's getter: same scheme and
    /// host:port as the repository, unless `pass_credentials_all`).
    pub(crate) fn applies_to(&self, url: &str) -> bool {
        self.pass_all || origin(url).is_some() && origin(url) == origin(&self.repo_url)
    }
}

/// `scheme://host[:port]` of a URL, lower-cased.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

/// How helm's repositories file says to reach one repository: its login and its TLS settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct RepoSettings {
    pub login: Option<RepoLogin>,
    pub tls: RepoTls,
}

/// A repository's TLS settings as `helm repo add --ca-file/--cert-file/--key-file
/// --insecure-skip-tls-verify` records them (paths as written in the file).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RepoTls {
    /// Trust only this CA bundle for the repository (helm replaces the system's roots).
    pub ca_file: Option<PathBuf>,
    /// A client certificate and its key, for a repository that asks for one.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub insecure_skip_tls_verify: bool,
}

impl RepoTls {
    pub(crate) fn is_default(&self) -> bool {
        *self == RepoTls::default()
    }
}

/// The repositories-file entry whose `url` is `repo_url` (trailing slashes aside, as helm's
/// `urlutil.Equal`): its login when it has both a user name and a password (helm sends none
/// otherwise), and its TLS settings.
pub(crate) fn repo_settings(env: &CredEnv, repo_url: &str) -> Result<RepoSettings, SourceError> {
    let shown = env.show(&env.helm_repository_config);
    let text = match std::fs::read(&env.helm_repository_config) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RepoSettings::default()),
        Err(e) => {
            return Err(SourceError::new(
                format!("cannot read {shown} for the credentials of {repo_url}: {e}"),
                "fix its permissions or remove it",
            ));
        }
    };
    #[derive(Deserialize, Default)]
    struct File {
        #[serde(default)]
        repositories: Option<Vec<Entry>>,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(default)]
        url: String,
        #[serde(default)]
        username: String,
        #[serde(default)]
        password: String,
        #[serde(default)]
        pass_credentials_all: bool,
        #[serde(default, rename = "caFile")]
        ca_file: String,
        #[serde(default, rename = "certFile")]
        cert_file: String,
        #[serde(default, rename = "keyFile")]
        key_file: String,
        #[serde(default)]
        insecure_skip_tls_verify: bool,
    }
    let file: File = if text.iter().all(u8::is_ascii_whitespace) {
        File::default()
    } else {
        serde_yaml_ng::from_slice(&text).map_err(|e| {
            // a location only: serde_yaml's message may quote the offending text
            let at = e
                .location()
                .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
                .unwrap_or_default();
            SourceError::new(
                format!("{shown} is not a helm repositories file{at}"),
                "fix the file, or add the repository again with `helm repo add`",
            )
        })?
    };
    let want = repo_url.trim_end_matches('/');
    let Some(entry) = file
        .repositories
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.url.trim_end_matches('/') == want)
    else {
        return Ok(RepoSettings::default());
    };
    let path = |p: String| (!p.is_empty()).then(|| PathBuf::from(p));
    let login = (!entry.username.is_empty() && !entry.password.is_empty()).then(|| RepoLogin {
        username: entry.username,
        password: Secret(entry.password),
        pass_all: entry.pass_credentials_all,
        repo_url: want.to_string(),
    });
    Ok(RepoSettings {
        login,
        tls: RepoTls {
            ca_file: path(entry.ca_file),
            cert_file: path(entry.cert_file),
            key_file: path(entry.key_file),
            insecure_skip_tls_verify: entry.insecure_skip_tls_verify,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_in(dir: &Path) -> CredEnv {
        CredEnv {
            home: Some(dir.to_path_buf()),
            helm_registry_config: dir.join(".config/helm/registry/config.json"),
            docker_config: dir.join(".docker/config.json"),
            helm_repository_config: dir.join(".config/helm/repository/repositories.yaml"),
            // the helpers' directory first, then the system's (a helper script needs `sleep`)
            path: Some(
                std::env::join_paths(std::iter::once(dir.join("bin")).chain(
                    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
                ))
                .unwrap(),
            ),
            helper_timeout: Duration::from_secs(1),
        }
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn helm_registry_config_wins_over_docker_and_legacy_keys_match_by_host() {
        let tmp = tempfile::tempdir().unwrap();
        let env = env_in(tmp.path());
        let none = registry_login(&env, "r.example.com").unwrap();
        assert!(none.credential.is_none());
        assert_eq!(
            none.searched,
            [
                "~/.config/helm/registry/config.json",
                "~/.docker/config.json"
            ]
        );
        write(
            &env.docker_config,
            &format!(
                r#"{{"auths":{{"https://r.example.com/v1/":{{"auth":"{}"}},"https://index.docker.io/v1/":{{"auth":"{}"}},"other.example.com":{{"identitytoken":"tok"}},"third.example.com":{{"registrytoken":"rt"}}}}}}"#,
                b64("dock:er"),
                b64("hub:pw")
            ),
        );
        let l = registry_login(&env, "r.example.com").unwrap();
        let c = l.credential.unwrap();
        assert_eq!(c.basic(), Some(("dock", "er")));
        assert_eq!(l.from.as_deref(), Some("~/.docker/config.json"));
        let hub = registry_login(&env, "registry-1.docker.io").unwrap();
        assert_eq!(hub.credential.unwrap().basic(), Some(("hub", "pw")));
        let tok = registry_login(&env, "other.example.com").unwrap();
        assert_eq!(
            tok.credential.unwrap().refresh_token.unwrap().expose(),
            "tok"
        );
        let rt = registry_login(&env, "third.example.com").unwrap();
        assert_eq!(
            rt.credential.unwrap().registry_token.unwrap().expose(),
            "rt"
        );
        write(
            &env.helm_registry_config,
            &format!(
                r#"{{"auths":{{"r.example.com":{{"auth":"{}"}}}}}}"#,
                b64("helm:s3cr3t")
            ),
        );
        let l = registry_login(&env, "r.example.com").unwrap();
        assert!(!format!("{l:?}").contains("s3cr3t"), "{l:?}");
        assert_eq!(l.credential.unwrap().basic(), Some(("helm", "s3cr3t")));
    }

    #[test]
    fn a_bad_auth_or_file_is_said_without_its_content() {
        let tmp = tempfile::tempdir().unwrap();
        let env = env_in(tmp.path());
        write(
            &env.docker_config,
            r#"{"auths":{"r.example.com":{"auth":"c2VjcmV0cGFzcw=="}}}"#,
        );
        let e = registry_login(&env, "r.example.com").unwrap_err();
        assert!(e.message.contains("not base64 of `user:password`"), "{e:?}");
        assert!(!format!("{e:?}").contains("secretpass"), "{e:?}");
        write(&env.docker_config, "{\"auths\": hunter2");
        let e = registry_login(&env, "r.example.com").unwrap_err();
        assert!(!format!("{e:?}").contains("hunter2"), "{e:?}");
    }

    #[cfg(unix)]
    fn helper(dir: &Path, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("bin").join(format!("docker-credential-{name}"));
        write(&p, &format!("#!/bin/sh\n{body}\n"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn credential_helpers_answer_not_found_fail_and_hang_clearly() {
        let tmp = tempfile::tempdir().unwrap();
        let env = env_in(tmp.path());
        helper(
            tmp.path(),
            "fake",
            r#"read host; if [ "$host" = r.example.com ]; then echo '{"ServerURL":"r.example.com","Username":"u","Secret":"s3cret"}'; else echo "credentials not found in native keychain"; exit 1; fi"#,
        );
        helper(tmp.path(), "broken", "echo 'leaked s3cret' >&2; exit 3");
        helper(tmp.path(), "slow", "sleep 30");
        write(
            &env.docker_config,
            r#"{"credsStore":"fake","credHelpers":{"b.example.com":"broken","s.example.com":"slow"}}"#,
        );
        let l = registry_login(&env, "r.example.com").unwrap();
        assert_eq!(l.credential.unwrap().basic(), Some(("u", "s3cret")));
        assert!(l.from.unwrap().contains("docker-credential-fake"));
        assert!(
            registry_login(&env, "x.example.com")
                .unwrap()
                .credential
                .is_none()
        );
        let e = registry_login(&env, "b.example.com").unwrap_err();
        assert!(e.message.contains("docker-credential-broken"), "{e:?}");
        assert!(!format!("{e:?}").contains("s3cret"), "{e:?}");
        let start = Instant::now();
        let e = registry_login(&env, "s.example.com").unwrap_err();
        assert!(e.message.contains("did not answer within 1 s"), "{e:?}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn the_platform_helper_is_asked_only_when_a_config_names_no_login() {
        let tmp = tempfile::tempdir().unwrap();
        let mut env = env_in(tmp.path());
        // only the temp directory on PATH: no `pass`, so the default is secretservice
        env.path = Some(tmp.path().join("bin").into_os_string());
        helper(
            tmp.path(),
            "secretservice",
            r#"read host; echo '{"Username":"keyring","Secret":"k"}'"#,
        );
        let l = registry_login(&env, "r.example.com").unwrap();
        assert_eq!(l.credential.unwrap().basic(), Some(("keyring", "k")));
        assert!(l.from.unwrap().contains("docker-credential-secretservice"));
        // a config with any login configured is not second-guessed
        write(
            &env.helm_registry_config,
            r#"{"auths":{"other.example.com":{"auth":"dTpw"}}}"#,
        );
        write(
            &env.docker_config,
            r#"{"auths":{"other.example.com":{"auth":"dTpw"}}}"#,
        );
        assert!(
            registry_login(&env, "r.example.com")
                .unwrap()
                .credential
                .is_none()
        );
    }

    #[test]
    fn repository_logins_match_the_url_and_go_to_the_same_origin_only() {
        let tmp = tempfile::tempdir().unwrap();
        let env = env_in(tmp.path());
        assert!(
            repo_settings(&env, "https://c.example.com/charts")
                .unwrap()
                .login
                .is_none()
        );
        write(
            &env.helm_repository_config,
            "apiVersion: \"\"\nrepositories:\n- name: a\n  url: https://c.example.com/charts/\n  username: u\n  password: p\n- name: b\n  url: https://d.example.com\n  username: u\n  password: \"\"\n- name: c\n  url: https://e.example.com\n  username: u\n  password: p\n  pass_credentials_all: true\n",
        );
        let l = repo_settings(&env, "https://c.example.com/charts")
            .unwrap()
            .login
            .unwrap();
        assert_eq!((l.username.as_str(), l.password.expose()), ("u", "p"));
        assert!(l.applies_to("https://c.example.com/charts/a-1.0.0.tgz"));
        assert!(l.applies_to("https://C.example.com/other/a.tgz"));
        assert!(!l.applies_to("http://c.example.com/charts/a-1.0.0.tgz"));
        assert!(!l.applies_to("https://c.example.com:8443/a.tgz"));
        assert!(!l.applies_to("https://cdn.example.com/a.tgz"));
        assert!(
            repo_settings(&env, "https://d.example.com")
                .unwrap()
                .login
                .is_none()
        );
        let all = repo_settings(&env, "https://e.example.com")
            .unwrap()
            .login
            .unwrap();
        assert!(all.applies_to("https://cdn.example.com/a.tgz"));
    }

    #[test]
    fn repository_tls_settings_are_read_as_helm_repo_add_writes_them() {
        let tmp = tempfile::tempdir().unwrap();
        let env = env_in(tmp.path());
        write(
            &env.helm_repository_config,
            "apiVersion: \"\"\nrepositories:\n- name: a\n  url: https://c.example.com/charts\n  caFile: /etc/ca.pem\n  certFile: /etc/me.pem\n  keyFile: /etc/me.key\n  insecure_skip_tls_verify: true\n- name: b\n  url: https://d.example.com\n  caFile: \"\"\n",
        );
        let a = repo_settings(&env, "https://c.example.com/charts/").unwrap();
        assert!(a.login.is_none());
        assert_eq!(
            a.tls,
            RepoTls {
                ca_file: Some("/etc/ca.pem".into()),
                cert_file: Some("/etc/me.pem".into()),
                key_file: Some("/etc/me.key".into()),
                insecure_skip_tls_verify: true,
            }
        );
        assert!(
            repo_settings(&env, "https://d.example.com")
                .unwrap()
                .tls
                .is_default()
        );
        assert!(
            repo_settings(&env, "https://x.example.com")
                .unwrap()
                .tls
                .is_default()
        );
    }
}
