//! The network side of chart sources: the versions a source offers and a package's bytes.
//! HTTP repositories publish `index.yaml` (helm's repository format); OCI registries speak the
//! distribution API, with the chart as the layer of media type
//! `application/vnd.cncf.helm.chart.content.v1.tar+gzip` (what `helm push` uploads). Requests
//! run on a thread of their own: the blocking client must not run inside the async runtime.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use serde::Deserialize;

use super::{ChartSource, MAX_PACKAGE, SourceError, digest_of};

const HELM_CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MAX_INDEX: u64 = 64 * 1024 * 1024;

/// (version, published digest if the source states one) for every version offered.
pub fn versions(source: &ChartSource) -> Result<Vec<(String, Option<String>)>, SourceError> {
    let source = source.clone();
    off_runtime(move || match &source {
        ChartSource::Repository { url, name } => {
            let index = repo_index(url)?;
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
            let http = Http::new()?;
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
pub fn package(source: &ChartSource, version: &str) -> Result<Vec<u8>, SourceError> {
    let source = source.clone();
    let version = version.to_string();
    off_runtime(move || match &source {
        ChartSource::Repository { url, name } => {
            let index = repo_index(url)?;
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
            Http::new()?.get(&package_url, None, MAX_PACKAGE)
        }
        ChartSource::Oci {
            registry,
            repository,
        } => {
            let http = Http::new()?;
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

fn repo_index(url: &str) -> Result<RepoIndex, SourceError> {
    let index_url = format!("{url}/index.yaml");
    let body = Http::new()?.get(&index_url, None, MAX_INDEX)?;
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

struct Http {
    client: reqwest::blocking::Client,
}

impl Http {
    fn new() -> Result<Http, SourceError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("todoplan/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SourceError::new(format!("cannot start an HTTP client: {e}"), ""))?;
        Ok(Http { client })
    }

    /// GET with at most `cap` bytes of body; an anonymous bearer token is fetched when a
    /// registry asks for one (public registries do).
    fn get(&self, url: &str, accept: Option<&str>, cap: u64) -> Result<Vec<u8>, SourceError> {
        let send = |token: Option<&str>| {
            let mut req = self.client.get(url);
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send().map_err(|e| {
                SourceError::new(
                    format!("cannot reach {url}: {e}"),
                    "check the address and the network; once a chart is in charts.lock and the cache, no network is needed",
                )
            })
        };
        let mut resp = send(None)?;
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED
            && let Some(token) = self.anonymous_token(&resp)
        {
            resp = send(Some(&token))?;
        }
        if !resp.status().is_success() {
            let status = resp.status();
            let help = if status == reqwest::StatusCode::NOT_FOUND {
                "check the chart's name and version"
            } else if status == reqwest::StatusCode::UNAUTHORIZED
                || status == reqwest::StatusCode::FORBIDDEN
            {
                "todoplan fetches charts anonymously; the source needs credentials"
            } else {
                "try again later"
            };
            return Err(SourceError::new(
                format!("GET {url} answered {status}"),
                help,
            ));
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

    /// `WWW-Authenticate: Bearer realm="...",service="...",scope="..."` → an anonymous token.
    fn anonymous_token(&self, resp: &reqwest::blocking::Response) -> Option<String> {
        let header = resp.headers().get("www-authenticate")?.to_str().ok()?;
        let params = header.strip_prefix("Bearer ")?;
        let mut fields = BTreeMap::new();
        for part in params.split(',') {
            let (k, v) = part.trim().split_once('=')?;
            fields.insert(k.to_string(), v.trim_matches('"').to_string());
        }
        let realm = fields.get("realm")?;
        let mut req = self.client.get(realm);
        for k in ["service", "scope"] {
            if let Some(v) = fields.get(k) {
                req = req.query(&[(k, v)]);
            }
        }
        #[derive(Deserialize)]
        struct Token {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
        }
        let t: Token = serde_json::from_slice(&req.send().ok()?.bytes().ok()?).ok()?;
        t.token.or(t.access_token)
    }
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
