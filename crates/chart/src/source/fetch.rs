//! The network side of chart sources: the versions a source offers and a package's bytes.
//! HTTP repositories publish `index.yaml` (helm's repository format); OCI registries speak the
//! distribution API, with the chart as the layer of media type
//! `application/vnd.cncf.helm.chart.content.v1.tar+gzip` (what `helm push` uploads). Requests
//! run on a thread of their own: the blocking client must not run inside the async runtime.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use serde::Deserialize;

use super::creds::{self, CredEnv, Credential, RegistryLogin, RepoLogin, RepoTls};
use super::{ChartSource, MAX_PACKAGE, SourceError, digest_of};

const HELM_CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MAX_INDEX: u64 = 64 * 1024 * 1024;

/// (version, published digest if the source states one) for every version offered.
pub(crate) fn versions(
    source: &ChartSource,
    env: &CredEnv,
) -> Result<Vec<(String, Option<String>)>, SourceError> {
    let source = source.clone();
    let env = env.clone();
    off_runtime(move || match &source {
        ChartSource::Repository { url, name } => {
            let index = repo_index(&Http::for_repository(&env, url)?, url)?;
            Ok(index
                .entries
                .get(name)
                .map(|list| {
                    list.iter()
                        .map(|e| {
                            (
                                e.version.clone(),
                                e.digest.as_ref().map(|d| format!("sha256:{d}")),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default())
        }
        ChartSource::Oci {
            registry,
            repository,
        } => {
            let http = Http::for_registry(&env, registry)?;
            let url = format!("{}/v2/{repository}/tags/list", base(registry));
            let body = http.get(&url, None, MAX_INDEX)?;
            #[derive(Deserialize)]
            struct Tags {
                #[serde(default)]
                tags: Option<Vec<String>>,
            }
            let tags: Tags = serde_json::from_slice(&body).map_err(|e| {
                SourceError::new(
                    format!("{url} did not answer a tag list: {e}"),
                    "check that the chart reference names an OCI repository",
                )
            })?;
            // helm stores `+` of a version as `_` in the tag
            Ok(tags
                .tags
                .unwrap_or_default()
                .into_iter()
                .map(|t| (t.replace('_', "+"), None))
                .collect())
        }
    })
}

/// The package of one exact version.
pub(crate) fn package(
    source: &ChartSource,
    version: &str,
    env: &CredEnv,
) -> Result<Vec<u8>, SourceError> {
    let source = source.clone();
    let version = version.to_string();
    let env = env.clone();
    off_runtime(move || match &source {
        ChartSource::Repository { url, name } => {
            let http = Http::for_repository(&env, url)?;
            let index = repo_index(&http, url)?;
            let entry = index
                .entries
                .get(name)
                .and_then(|l| l.iter().find(|e| e.version == version))
                .ok_or_else(|| {
                    SourceError::new(
                        format!("{url} no longer offers {name} version {version}"),
                        "delete its entry from charts.lock to resolve the constraint again",
                    )
                })?;
            let Some(first) = entry.urls.first() else {
                return Err(SourceError::new(
                    format!("{url}/index.yaml lists {name} {version} without a download URL"),
                    "ask the repository's owner to regenerate index.yaml (`helm repo index`)",
                ));
            };
            let package_url = if first.starts_with("http://") || first.starts_with("https://") {
                first.clone()
            } else {
                format!("{url}/{}", first.trim_start_matches("./"))
            };
            http.get(&package_url, None, MAX_PACKAGE)
        }
        ChartSource::Oci {
            registry,
            repository,
        } => {
            let http = Http::for_registry(&env, registry)?;
            let tag = version.replace('+', "_");
            let url = format!("{}/v2/{repository}/manifests/{tag}", base(registry));
            let body = http.get(&url, Some(OCI_MANIFEST), MAX_INDEX)?;
            #[derive(Deserialize)]
            struct Layer {
                #[serde(rename = "mediaType")]
                media_type: String,
                digest: String,
            }
            #[derive(Deserialize)]
            struct Manifest {
                #[serde(default)]
                layers: Vec<Layer>,
            }
            let manifest: Manifest = serde_json::from_slice(&body).map_err(|e| {
                SourceError::new(
                    format!("{url} did not answer an OCI manifest: {e}"),
                    "check that the reference names a chart pushed with `helm push`",
                )
            })?;
            let layer = manifest
                .layers
                .iter()
                .find(|l| l.media_type == HELM_CHART_LAYER)
                .ok_or_else(|| {
                    SourceError::new(
                        format!("oci://{registry}/{repository}:{tag} is not a Helm chart (no layer of type {HELM_CHART_LAYER})"),
                        "point `chart` at a chart pushed with `helm push`",
                    )
                })?;
            let blob = http.get(
                &format!("{}/v2/{repository}/blobs/{}", base(registry), layer.digest),
                None,
                MAX_PACKAGE,
            )?;
            if digest_of(&blob) != layer.digest {
                return Err(SourceError::new(
                    format!(
                        "the registry served oci://{registry}/{repository}:{tag} with digest {}, not the {} its manifest names",
                        digest_of(&blob),
                        layer.digest
                    ),
                    "the registry's storage is damaged or something altered the download; try again",
                ));
            }
            Ok(blob)
        }
    })
}

#[derive(Deserialize)]
struct RepoIndex {
    #[serde(default)]
    entries: BTreeMap<String, Vec<RepoEntry>>,
}

#[derive(Deserialize)]
struct RepoEntry {
    version: String,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    urls: Vec<String>,
}

fn repo_index(http: &Http, url: &str) -> Result<RepoIndex, SourceError> {
    let index_url = format!("{url}/index.yaml");
    let body = http.get(&index_url, None, MAX_INDEX)?;
    serde_yaml_ng::from_slice(&body).map_err(|e| {
        SourceError::new(
            format!("{index_url} is not a chart repository index: {e}"),
            "check `repository`: it is the URL that holds index.yaml",
        )
    })
}

/// Registries on the loopback interface are spoken to in plain HTTP (as docker and the testenv
/// registry do); every other registry over HTTPS.
fn base(registry: &str) -> String {
    let host = registry
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map(|(h, _)| h)
        .unwrap_or(registry);
    if matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        format!("http://{registry}")
    } else {
        format!("https://{registry}")
    }
}

/// Who a request speaks for: nobody, a chart repository's login, or a registry's (looked up
/// when the registry first asks, as oras-go does).
enum Auth {
    Repository {
        url: String,
        login: Option<RepoLogin>,
        file: String,
    },
    Registry {
        host: String,
        login: RefCell<Option<RegistryLogin>>,
        /// How the registry last accepted a request: sent first on the next one.
        scheme: RefCell<Option<Scheme>>,
    },
}

#[derive(Clone)]
enum Scheme {
    Basic,
    Bearer(String),
}

struct Http {
    client: reqwest::blocking::Client,
    env: CredEnv,
    auth: Auth,
}

impl Http {
    /// A redirect never carries a login to another host: reqwest drops `Authorization` when a
    /// redirect changes host or port (registries send blob downloads to object storage).
    fn client() -> Result<reqwest::blocking::Client, SourceError> {
        Self::client_with(Self::builder())
    }

    fn builder() -> reqwest::blocking::ClientBuilder {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("todoplan/", env!("CARGO_PKG_VERSION")))
    }

    fn client_with(
        builder: reqwest::blocking::ClientBuilder,
    ) -> Result<reqwest::blocking::Client, SourceError> {
        builder
            .build()
            .map_err(|e| SourceError::new(format!("cannot start an HTTP client: {e}"), ""))
    }

    /// A client with a repository's TLS settings from helm's repositories file, as helm's
    /// getter applies them: `caFile` is the only trusted root (the system's are not used),
    /// `certFile`/`keyFile` are sent when the server asks for a client certificate,
    /// `insecure_skip_tls_verify` accepts any server certificate.
    fn repository_client(
        env: &CredEnv,
        url: &str,
        tls: &RepoTls,
    ) -> Result<reqwest::blocking::Client, SourceError> {
        if tls.is_default() {
            return Self::client();
        }
        let file = env.show(&env.helm_repository_config);
        let read = |setting: &str, path: &std::path::Path| {
            std::fs::read(path).map_err(|e| {
                SourceError::new(
                    format!(
                        "cannot read {} ({setting} of {url} in {file}): {e}",
                        path.display()
                    ),
                    "fix the path in that file, or add the repository again with `helm repo add`",
                )
            })
        };
        let bad = |setting: &str, path: &std::path::Path, e: reqwest::Error| {
            SourceError::new(
                format!(
                    "{} ({setting} of {url} in {file}) is not usable: {}",
                    path.display(),
                    error_chain(&e)
                ),
                "it must hold PEM: certificates for caFile and certFile, a private key for keyFile",
            )
        };
        let mut builder = Self::builder();
        if let Some(ca) = &tls.ca_file {
            let certs = reqwest::Certificate::from_pem_bundle(&read("caFile", ca)?)
                .map_err(|e| bad("caFile", ca, e))?;
            if certs.is_empty() {
                return Err(SourceError::new(
                    format!(
                        "{} (caFile of {url} in {file}) holds no certificate",
                        ca.display()
                    ),
                    "it must hold the repository's CA certificates in PEM",
                ));
            }
            builder = builder.tls_built_in_root_certs(false);
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        match (&tls.cert_file, &tls.key_file) {
            (Some(cert), Some(key)) => {
                let mut pem = read("certFile", cert)?;
                pem.push(b'\n');
                pem.extend(read("keyFile", key)?);
                let identity =
                    reqwest::Identity::from_pem(&pem).map_err(|e| bad("certFile", cert, e))?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            (Some(_), None) | (None, Some(_)) => {
                return Err(SourceError::new(
                    format!("{url} in {file} has only one of certFile and keyFile"),
                    "a client certificate needs both: set the other, or remove the one",
                ));
            }
        }
        if tls.insecure_skip_tls_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        Self::client_with(builder)
    }

    fn for_repository(env: &CredEnv, url: &str) -> Result<Http, SourceError> {
        let settings = creds::repo_settings(env, url)?;
        Ok(Http {
            client: Self::repository_client(env, url, &settings.tls)?,
            env: env.clone(),
            auth: Auth::Repository {
                url: url.to_string(),
                login: settings.login,
                file: env.show(&env.helm_repository_config),
            },
        })
    }

    fn for_registry(env: &CredEnv, registry: &str) -> Result<Http, SourceError> {
        Ok(Http {
            client: Self::client()?,
            env: env.clone(),
            auth: Auth::Registry {
                host: registry.to_string(),
                login: RefCell::new(None),
                scheme: RefCell::new(None),
            },
        })
    }

    /// The registry's login, looked up once.
    fn registry_login(&self) -> Result<Option<Credential>, SourceError> {
        let Auth::Registry { host, login, .. } = &self.auth else {
            return Ok(None);
        };
        if login.borrow().is_none() {
            *login.borrow_mut() = Some(creds::registry_login(&self.env, host)?);
        }
        Ok(login.borrow().as_ref().and_then(|l| l.credential.clone()))
    }

    /// GET with at most `cap` bytes of body, answering a registry's challenge (Basic, or the
    /// Bearer token flow of the distribution spec) with the login found for it.
    fn get(&self, url: &str, accept: Option<&str>, cap: u64) -> Result<Vec<u8>, SourceError> {
        let send = |scheme: Option<&Scheme>| -> Result<reqwest::blocking::Response, SourceError> {
            let mut req = self.client.get(url);
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            match &self.auth {
                Auth::Repository { login: Some(l), .. } if l.applies_to(url) => {
                    req = req.basic_auth(&l.username, Some(l.password.expose()));
                }
                _ => {}
            }
            match scheme {
                Some(Scheme::Bearer(t)) => req = req.bearer_auth(t),
                Some(Scheme::Basic) => {
                    if let Some((u, p)) = self.registry_login()?.as_ref().and_then(|c| c.basic()) {
                        req = req.basic_auth(u, Some(p));
                    }
                }
                None => {}
            }
            req.send().map_err(|e| {
                let cause = error_chain(&e);
                let help = if cause.contains("certificate") {
                    format!(
                        "the server's certificate is not trusted, or it asked for a client certificate: for a chart repository set caFile (its CA), certFile and keyFile, or insecure_skip_tls_verify for its entry in {} (`helm repo add --ca-file ... --cert-file ... --key-file ...`)",
                        self.env.show(&self.env.helm_repository_config)
                    )
                } else {
                    "check the address and the network; once a chart is in charts.lock and the cache, no network is needed".to_string()
                };
                SourceError::new(format!("cannot reach {url}: {cause}"), help)
            })
        };
        let remembered = match &self.auth {
            Auth::Registry { scheme, .. } => scheme.borrow().clone(),
            Auth::Repository { .. } => None,
        };
        let mut resp = send(remembered.as_ref())?;
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED
            && let Auth::Registry { scheme, .. } = &self.auth
            && let Some(answer) = self.challenge(&resp)?
        {
            resp = send(Some(&answer))?;
            if resp.status().is_success() {
                *scheme.borrow_mut() = Some(answer);
            }
        }
        if !resp.status().is_success() {
            return Err(self.refused(url, resp.status()));
        }
        let mut body = Vec::new();
        resp.take(cap + 1)
            .read_to_end(&mut body)
            .map_err(|e| SourceError::new(format!("reading {url} failed: {e}"), "try again"))?;
        if body.len() as u64 > cap {
            return Err(SourceError::new(
                format!("{url} is larger than {} MiB", cap >> 20),
                "a chart package may be at most 100 MiB, as in helm",
            ));
        }
        Ok(body)
    }

    /// The answer to a registry's `WWW-Authenticate`: `Basic` with the login, or a token from
    /// `Bearer realm=...,service=...,scope=...` (asked for with the login, or anonymously).
    fn challenge(&self, resp: &reqwest::blocking::Response) -> Result<Option<Scheme>, SourceError> {
        let Some(header) = resp
            .headers()
            .get("www-authenticate")
            .and_then(|h| h.to_str().ok())
        else {
            return Ok(None);
        };
        let (kind, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        if kind.eq_ignore_ascii_case("basic") {
            let has = self.registry_login()?.is_some_and(|c| c.basic().is_some());
            return Ok(has.then_some(Scheme::Basic));
        }
        if !kind.eq_ignore_ascii_case("bearer") {
            return Ok(None);
        }
        let fields = challenge_params(params);
        let Some(realm) = fields.get("realm") else {
            return Ok(None);
        };
        let service = fields.get("service").map(String::as_str).unwrap_or("");
        let scope = fields.get("scope").map(String::as_str).unwrap_or("");
        let login = self.registry_login()?;
        // a `registrytoken` is a bearer token already (oras-go's access token)
        if let Some(token) = login.as_ref().and_then(|c| c.registry_token.as_ref()) {
            return Ok(Some(Scheme::Bearer(token.expose().to_string())));
        }
        let req = match login.as_ref().and_then(|c| c.refresh_token.as_ref()) {
            // an identity token is exchanged as an OAuth2 refresh token (oras-go, docker)
            Some(refresh) => {
                let mut form = vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.expose()),
                    ("service", service),
                    ("client_id", "todoplan"),
                ];
                if !scope.is_empty() {
                    form.push(("scope", scope));
                }
                self.client
                    .post(realm)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(form_encode(&form))
            }
            None => {
                let mut req = self.client.get(realm);
                for (k, v) in [("service", service), ("scope", scope)] {
                    if !v.is_empty() {
                        req = req.query(&[(k, v)]);
                    }
                }
                if let Some((u, p)) = login.as_ref().and_then(|c| c.basic()) {
                    req = req.basic_auth(u, Some(p));
                }
                req
            }
        };
        let resp = req.send().map_err(|e| {
            SourceError::new(
                format!(
                    "cannot reach the token service {realm}: {}",
                    error_chain(&e)
                ),
                "check the network",
            )
        })?;
        if !resp.status().is_success() {
            return Err(self.refused(realm, resp.status()));
        }
        #[derive(Deserialize)]
        struct Token {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
        }
        let body = resp.bytes().map_err(|e| {
            SourceError::new(
                format!("reading a token from {realm} failed: {e}"),
                "try again",
            )
        })?;
        let t: Token = serde_json::from_slice(&body).map_err(|_| {
            SourceError::new(
                format!("the token service {realm} did not answer a token"),
                "check the registry's authentication setup",
            )
        })?;
        Ok(t.token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .map(Scheme::Bearer))
    }

    /// A failed request, said with the host that refused and where logins were looked for.
    fn refused(&self, url: &str, status: reqwest::StatusCode) -> SourceError {
        let denied =
            status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN;
        if !denied {
            let help = if status == reqwest::StatusCode::NOT_FOUND {
                "check the chart's name and version"
            } else {
                "try again later"
            };
            return SourceError::new(format!("GET {url} answered {status}"), help);
        }
        match &self.auth {
            Auth::Registry { host, login, .. } => {
                let login = login.borrow();
                match login.as_ref() {
                    Some(RegistryLogin {
                        credential: Some(_),
                        from: Some(from),
                        ..
                    }) => SourceError::new(
                        format!(
                            "{host} refused the credentials from {from} ({url} answered {status})"
                        ),
                        format!("log in again: `helm registry login {host}`"),
                    ),
                    _ => {
                        let searched =
                            login
                                .as_ref()
                                .map(|l| l.searched.clone())
                                .unwrap_or_else(|| {
                                    vec![
                                        self.env.show(&self.env.helm_registry_config),
                                        self.env.show(&self.env.docker_config),
                                    ]
                                });
                        SourceError::new(
                            format!(
                                "{host} requires credentials ({url} answered {status}): no credentials for {host} in {}",
                                searched.join(" or ")
                            ),
                            format!("run `helm registry login {host}`"),
                        )
                    }
                }
            }
            Auth::Repository {
                url: repo,
                login,
                file,
            } => match login {
                Some(l) if l.applies_to(url) => SourceError::new(
                    format!(
                        "{url} answered {status}: it refused the credentials of {repo} from {file}"
                    ),
                    format!(
                        "update them: `helm repo add NAME {repo} --username USER --password-stdin --force-update`"
                    ),
                ),
                Some(_) => SourceError::new(
                    format!(
                        "{url} answered {status}: the credentials of {repo} from {file} go to {repo}'s host only"
                    ),
                    "if that host may see them, set `pass_credentials_all: true` for the repository in that file (`helm repo add --pass-credentials`)",
                ),
                None => SourceError::new(
                    format!(
                        "{url} answered {status}: there are no credentials for {repo} in {file}"
                    ),
                    format!(
                        "add the repository with its credentials: `helm repo add NAME {repo} --username USER --password-stdin`"
                    ),
                ),
            },
        }
    }
}

/// reqwest's error without the URL it carries (said by the caller already).
/// A request's error with its causes (a TLS refusal is only in the causes), without the URL
/// reqwest appends (it is named by the caller; a URL may carry a login).
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(i) = text.find(" for url (") {
        text.truncate(i);
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// `realm="...",service="...",scope="a,b"`: quoted values may hold commas.
fn challenge_params(params: &str) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let mut rest = params.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (&q[..end], q.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        fields.insert(key, value.to_string());
        rest = next.trim_start().trim_start_matches(',');
    }
    fields
}

/// `application/x-www-form-urlencoded` of some pairs.
fn form_encode(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SourceError> + Send + 'static,
) -> Result<T, SourceError> {
    std::thread::Builder::new()
        .name("chart-fetch".into())
        .spawn(f)
        .map_err(|e| SourceError::new(format!("cannot start a fetch thread: {e}"), ""))?
        .join()
        .unwrap_or_else(|_| {
            Err(SourceError::new(
                "the chart download panicked (a bug in todoplan)",
                "please report it",
            ))
        })
}

#[cfg(test)]
pub(super) fn challenge_params_for_test(params: &str) -> BTreeMap<String, String> {
    challenge_params(params)
}
