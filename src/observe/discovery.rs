//! The discovery cache on disk: which resource serves each (apiVersion, kind), per API server,
//! kept for a short time so a command does not pay a discovery round trip per kind before its
//! first real request. kubectl keeps such a cache too (`~/.kube/cache/discovery`).
//!
//! Location: `$TODOPLAN_CACHE_DIR`, else `$XDG_CACHE_HOME/todoplan`, else `~/.cache/todoplan`;
//! one file per server under `discovery/`. Entries older than the TTL (10 minutes, or
//! `TODOPLAN_DISCOVERY_TTL` in humantime, `0s` to turn the cache off) are not used. The cache
//! is only an optimisation: a missing, unreadable or damaged file is ignored, a failed write is
//! ignored, and a request that finds a cached resource gone (404) drops the cache and asks the
//! server again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use kube::core::ApiResource;
use kube::discovery::{ApiCapabilities, Scope};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// (apiVersion, kind) → the resource serving it.
pub(super) type Resolved = HashMap<(String, String), (ApiResource, ApiCapabilities)>;

const DEFAULT_TTL: Duration = Duration::from_secs(600);

#[derive(Debug, Serialize, Deserialize)]
struct CachedKind {
    group: String,
    version: String,
    api_version: String,
    kind: String,
    plural: String,
    namespaced: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    server: String,
    written_at: chrono::DateTime<chrono::Utc>,
    kinds: Vec<CachedKind>,
}

/// `.Capabilities.APIVersions` of one server (every group/version and group/version/Kind), as
/// a chart render reads it: asking for it takes a request per group/version.
#[derive(Debug, Serialize, Deserialize)]
struct ApiVersionsFile {
    server: String,
    written_at: chrono::DateTime<chrono::Utc>,
    api_versions: Vec<String>,
}

#[derive(Debug, Clone)]
pub(super) struct DiskCache {
    /// None: caching is off (TTL 0, or no cache directory).
    path: Option<PathBuf>,
    server: String,
    ttl: Duration,
}

fn cache_root() -> Option<PathBuf> {
    let non_empty = |v: std::ffi::OsString| (!v.is_empty()).then(|| PathBuf::from(v));
    std::env::var_os("TODOPLAN_CACHE_DIR")
        .and_then(non_empty)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .and_then(non_empty)
                .map(|p| p.join("todoplan"))
        })
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(non_empty)
                .map(|p| p.join(".cache/todoplan"))
        })
}

impl DiskCache {
    pub(super) fn for_server(server: &str) -> Self {
        let ttl = std::env::var("TODOPLAN_DISCOVERY_TTL")
            .ok()
            .and_then(|v| humantime::parse_duration(&v).ok())
            .unwrap_or(DEFAULT_TTL);
        let name = hex::encode(&Sha256::digest(server.as_bytes())[..12]);
        DiskCache {
            path: cache_root()
                .filter(|_| !ttl.is_zero())
                .map(|root| root.join("discovery").join(format!("{name}.json"))),
            server: server.to_string(),
            ttl,
        }
    }

    /// The fresh entries of this server's cache file; empty when there are none.
    pub(super) async fn load(&self) -> Resolved {
        let Some(path) = &self.path else {
            return Resolved::new();
        };
        let Ok(bytes) = tokio::fs::read(path).await else {
            return Resolved::new();
        };
        let Ok(file) = serde_json::from_slice::<CacheFile>(&bytes) else {
            return Resolved::new();
        };
        if !self.fresh(&file.server, file.written_at) {
            return Resolved::new();
        }
        file.kinds
            .into_iter()
            .map(|k| {
                let key = (k.api_version.clone(), k.kind.clone());
                let resource = ApiResource {
                    group: k.group,
                    version: k.version,
                    api_version: k.api_version,
                    kind: k.kind,
                    plural: k.plural,
                };
                let caps = ApiCapabilities {
                    scope: if k.namespaced {
                        Scope::Namespaced
                    } else {
                        Scope::Cluster
                    },
                    subresources: Vec::new(),
                    operations: Vec::new(),
                };
                (key, (resource, caps))
            })
            .collect()
    }

    /// Writes `resolved` as this server's cache (best effort: the cache is an optimisation).
    pub(super) async fn store(&self, resolved: &Resolved) {
        let Some(path) = self.path.clone() else {
            return;
        };
        let file = CacheFile {
            server: self.server.clone(),
            written_at: chrono::Utc::now(),
            kinds: resolved
                .values()
                .map(|(r, c)| CachedKind {
                    group: r.group.clone(),
                    version: r.version.clone(),
                    api_version: r.api_version.clone(),
                    kind: r.kind.clone(),
                    plural: r.plural.clone(),
                    namespaced: matches!(c.scope, Scope::Namespaced),
                })
                .collect(),
        };
        if let Ok(bytes) = serde_json::to_vec(&file) {
            write_atomically(path, bytes).await;
        }
    }

    fn fresh(&self, server: &str, written_at: chrono::DateTime<chrono::Utc>) -> bool {
        let age = chrono::Utc::now() - written_at;
        age >= chrono::Duration::zero()
            && age.to_std().is_ok_and(|a| a < self.ttl)
            && server == self.server
    }

    /// Where this server's API versions are kept, next to its kinds.
    fn api_versions_path(&self) -> Option<PathBuf> {
        self.path
            .as_ref()
            .map(|p| p.with_extension("api-versions.json"))
    }

    /// This server's cached API versions, when fresh.
    pub(super) async fn load_api_versions(&self) -> Option<Vec<String>> {
        let bytes = tokio::fs::read(self.api_versions_path()?).await.ok()?;
        let file = serde_json::from_slice::<ApiVersionsFile>(&bytes).ok()?;
        self.fresh(&file.server, file.written_at)
            .then_some(file.api_versions)
    }

    /// Keeps `api_versions` as this server's (best effort).
    pub(super) async fn store_api_versions(&self, api_versions: &[String]) {
        let Some(path) = self.api_versions_path() else {
            return;
        };
        let file = ApiVersionsFile {
            server: self.server.clone(),
            written_at: chrono::Utc::now(),
            api_versions: api_versions.to_vec(),
        };
        if let Ok(bytes) = serde_json::to_vec(&file) {
            write_atomically(path, bytes).await;
        }
    }

    /// Drops this server's cache files (a cached resource turned out to be gone).
    pub(super) async fn forget(&self) {
        if let Some(path) = &self.path {
            let _ = tokio::fs::remove_file(path).await;
        }
        if let Some(path) = self.api_versions_path() {
            let _ = tokio::fs::remove_file(path).await;
        }
    }
}

/// Best effort: a cache file that cannot be written is simply not there next time.
async fn write_atomically(path: PathBuf, bytes: Vec<u8>) {
    let _ = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, &bytes)?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved() -> Resolved {
        let mut r = Resolved::new();
        r.insert(
            ("apps/v1".into(), "Deployment".into()),
            (
                ApiResource {
                    group: "apps".into(),
                    version: "v1".into(),
                    api_version: "apps/v1".into(),
                    kind: "Deployment".into(),
                    plural: "deployments".into(),
                },
                ApiCapabilities {
                    scope: Scope::Namespaced,
                    subresources: Vec::new(),
                    operations: Vec::new(),
                },
            ),
        );
        r
    }

    fn cache(dir: &std::path::Path, server: &str, ttl: Duration) -> DiskCache {
        DiskCache {
            path: Some(dir.join("discovery").join("x.json")),
            server: server.into(),
            ttl,
        }
    }

    #[tokio::test]
    async fn a_stored_cache_is_read_back_while_fresh_for_its_server_only() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path(), "https://a", Duration::from_secs(60));
        c.store(&resolved()).await;
        let back = c.load().await;
        let (r, caps) = &back[&("apps/v1".to_string(), "Deployment".to_string())];
        assert_eq!(r.plural, "deployments");
        assert!(matches!(caps.scope, Scope::Namespaced));
        // The same file read for another server, or after the TTL, gives nothing.
        assert!(
            cache(dir.path(), "https://b", Duration::from_secs(60))
                .load()
                .await
                .is_empty()
        );
        assert!(
            cache(dir.path(), "https://a", Duration::ZERO)
                .load()
                .await
                .is_empty()
        );
        let versions = vec!["apps/v1".to_string(), "apps/v1/Deployment".to_string()];
        c.store_api_versions(&versions).await;
        assert_eq!(c.load_api_versions().await, Some(versions));
        assert_eq!(
            cache(dir.path(), "https://b", Duration::from_secs(60))
                .load_api_versions()
                .await,
            None
        );
        c.forget().await;
        assert!(c.load().await.is_empty());
        assert_eq!(c.load_api_versions().await, None);
    }

    #[tokio::test]
    async fn a_damaged_cache_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let c = cache(dir.path(), "https://a", Duration::from_secs(60));
        std::fs::create_dir_all(dir.path().join("discovery")).unwrap();
        std::fs::write(dir.path().join("discovery/x.json"), b"{ not json").unwrap();
        assert!(c.load().await.is_empty());
    }
}
