//! Observe: what exists in the cluster, through kube-rs.
//!
//! One [`ClusterClient`] per command: it resolves kinds to resources once (discovery cache),
//! reads live objects, and runs server-side apply (dry-run for plan, real for apply).

use std::collections::HashMap;
use std::sync::Arc;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, Preconditions};
use kube::core::ApiResource;
use kube::discovery::{ApiCapabilities, Scope};
use miette::Diagnostic;
use serde_json::Value;
use thiserror::Error;
use tokio::sync::Mutex;

use crate::model::object::Metadata;

mod admission;
mod connection;
pub use connection::multiplexed_client;
mod discovery;
mod listing;
pub mod warnings;
pub use admission::DryRunInputs;
pub use listing::Listing;

/// Field manager for every write todoplan makes (server-side apply).
pub const FIELD_MANAGER: &str = "todoplan";
/// Inventory labels: every object todoplan applies carries them.
pub const LABEL_PROJECT: &str = "todoplan.dev/project";
pub const LABEL_RELEASE: &str = "todoplan.dev/release";
/// The instance (one state, by its lineage) that owns the object: two checkouts or environments
/// of one project are two instances, and none observes, prunes or reports another's objects.
pub const LABEL_INSTANCE: &str = "todoplan.dev/instance";

/// The instance label of a live object, if any.
pub fn instance_of(object: &Value) -> Option<&str> {
    object
        .metadata_field("labels")
        .and_then(|l| l.get(LABEL_INSTANCE))
        .and_then(Value::as_str)
}

#[derive(Debug, Error, Diagnostic)]
pub enum ObserveError {
    #[error("cannot load the Kubernetes configuration: {message}")]
    #[diagnostic(
        code(todoplan::cluster::config),
        help(
            "todoplan reads KUBECONFIG (or ~/.kube/config). For the local test cluster run `scripts/testenv up` and `eval \"$(scripts/testenv env)\"`; otherwise check --context / [cluster].context"
        )
    )]
    Config { message: String },
    #[error("the Kubernetes API server at {server} cannot be reached: {message}")]
    #[diagnostic(
        code(todoplan::cluster::unreachable),
        help(
            "is the cluster running and is this the right context ({context})? For the local test cluster: `scripts/testenv up`. To plan without a cluster, use `todoplan plan --offline`."
        )
    )]
    Unreachable {
        server: String,
        context: String,
        message: String,
    },
    #[error("the cluster does not know {api_version} {kind}")]
    #[diagnostic(
        code(todoplan::cluster::unknown_kind),
        help(
            "check the apiVersion and kind in the chart (the cluster serves its kinds under `kubectl api-resources`), or install the CRD that defines it before this release"
        )
    )]
    UnknownKind { api_version: String, kind: String },
    #[error("forbidden: {action} {object}: {message}")]
    #[diagnostic(
        code(todoplan::cluster::forbidden),
        help(
            "the credentials of this context lack RBAC permission for this; ask a cluster admin for a Role that allows it, or use another --context"
        )
    )]
    Forbidden {
        action: String,
        object: String,
        message: String,
    },
    /// A 403 that is not RBAC's (an admission plugin or webhook: a namespace being terminated,
    /// a policy): no permission would change it.
    #[error("the API server refused to {action} {object}: {message}")]
    #[diagnostic(
        code(todoplan::cluster::refused),
        help(
            "an admission check refused it, not a missing permission: its message says why (a namespace being deleted, a policy); apply again once that is resolved"
        )
    )]
    Refused {
        action: String,
        object: String,
        message: String,
    },
    #[error("the API server rejected {object}: {message}")]
    #[diagnostic(code(todoplan::cluster::rejected), help("{help}"))]
    Rejected {
        object: String,
        message: String,
        /// (field path, message) from the server's 422 causes.
        causes: Vec<(String, String)>,
        help: String,
        immutable: bool,
    },
    #[error("{action} {object} failed: {message}")]
    #[diagnostic(code(todoplan::cluster::request))]
    Request {
        action: String,
        object: String,
        message: String,
    },
}

impl ObserveError {
    /// The same error about `object` (a dry-run made elsewhere reports the real object).
    pub fn naming(self, object: &str) -> ObserveError {
        match self {
            ObserveError::Forbidden {
                action, message, ..
            } => ObserveError::Forbidden {
                action,
                object: object.into(),
                message,
            },
            ObserveError::Rejected {
                message,
                causes,
                help,
                immutable,
                ..
            } => ObserveError::Rejected {
                object: object.into(),
                message,
                causes,
                help,
                immutable,
            },
            ObserveError::Request {
                action, message, ..
            } => ObserveError::Request {
                action,
                object: object.into(),
                message,
            },
            ObserveError::Refused {
                action, message, ..
            } => ObserveError::Refused {
                action,
                object: object.into(),
                message,
            },
            other => other,
        }
    }

    /// A StatefulSet change the API server forbids in place (volumeClaimTemplates,
    /// serviceName, selector, podManagementPolicy): it must be replaced.
    pub fn is_forbidden_statefulset_update(&self) -> bool {
        match self {
            ObserveError::Rejected {
                message, causes, ..
            } => {
                let said =
                    |m: &str| m.contains("updates to statefulset spec for fields other than");
                said(message) || causes.iter().any(|(_, m)| said(m))
            }
            _ => false,
        }
    }

    /// The fields the API server refused and its words for each (`roleRef: cannot change
    /// roleRef`), one short line: the last clause of each cause, without Go struct dumps.
    pub fn refusal(&self) -> String {
        match self {
            ObserveError::Rejected { causes, .. } if !causes.is_empty() => {
                let mut parts: Vec<String> = causes
                    .iter()
                    .map(|(field, message)| {
                        let words = message.rsplit(": ").next().unwrap_or(message).trim();
                        let words = words.trim_end_matches('.');
                        if field.is_empty() {
                            words.to_string()
                        } else {
                            format!("{field}: {words}")
                        }
                    })
                    .collect();
                parts.dedup();
                short(&parts.join("; "), 200)
            }
            other => other.fields_named(),
        }
    }

    /// The field paths the API server named, one short line: no Go struct dumps.
    pub fn fields_named(&self) -> String {
        match self {
            ObserveError::Rejected {
                causes, message, ..
            } => {
                let mut fields: Vec<&str> = causes
                    .iter()
                    .map(|(f, _)| f.as_str())
                    .filter(|f| !f.is_empty())
                    .collect();
                fields.dedup();
                if fields.is_empty() {
                    short(message, 160)
                } else {
                    fields.join(", ")
                }
            }
            other => short(&other.to_string(), 160),
        }
    }

    pub fn is_immutable_field(&self) -> bool {
        matches!(
            self,
            ObserveError::Rejected {
                immutable: true,
                ..
            }
        )
    }
}

/// Whether the API server's words refuse a field change in place (the object must be replaced):
/// "field is immutable", "may not change once set" (a Service's cluster IP), "cannot change
/// roleRef", "Forbidden: updates to parameters are forbidden" (a StorageClass). A StatefulSet's
/// "updates to statefulset spec for fields other than ..." has its own replace, which keeps
/// the pods and claims (see [`ObserveError::is_forbidden_statefulset_update`]).
pub fn refuses_a_change_in_place(message: &str) -> bool {
    if message.contains("updates to statefulset spec for fields other than") {
        return false;
    }
    message.contains("immutable")
        || message.contains("may not change once set")
        || message.contains("cannot change roleRef")
        || (message.contains("Forbidden: updates to") && message.contains("are forbidden"))
}

/// Every Secret value read from the cluster is remembered, so no output can show it.
fn remember_secret_values(object: Value) -> Value {
    if crate::model::redaction::is_secret(&object) {
        for value in crate::model::redaction::secret_values(&object).values() {
            crate::model::masking::remember(value);
        }
    }
    object
}

/// How long one API request may take before it fails: 30 s, or `TODOPLAN_REQUEST_TIMEOUT`
/// (humantime, e.g. `5s`) for tests that stall a connection on purpose.
pub fn request_timeout() -> std::time::Duration {
    std::env::var("TODOPLAN_REQUEST_TIMEOUT")
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
        .unwrap_or(std::time::Duration::from_secs(30))
}

/// At most `max` characters of `text`, on one line, with an ellipsis when cut.
pub fn short(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let cut: String = one_line.chars().take(max).collect();
    format!("{cut}…")
}

pub use crate::model::object::ObjectKey;

/// (apiVersion, kind) → the resource serving it, and whether that came from the disk cache.
type DiscoveryCache = HashMap<(String, String), (ApiResource, ApiCapabilities)>;

#[derive(Clone)]
pub struct ClusterClient {
    /// Every request has a deadline ([`request_timeout`]): a stalled connection fails the
    /// request instead of hanging the command (and its lock).
    client: kube::Client,
    /// For readiness watches, which stay open while a rollout progresses; every wait on it is
    /// bounded by the release's timeout instead.
    watch_client: kube::Client,
    pub context: String,
    pub server: String,
    discovery: Arc<Mutex<DiscoveryCache>>,
    /// Kinds resolved from the disk cache, not asked of the server in this process.
    from_disk: Arc<Mutex<std::collections::HashSet<(String, String)>>>,
    disk: discovery::DiskCache,
    /// The server's version, asked once per command.
    version: Arc<tokio::sync::OnceCell<String>>,
    /// Count of write requests (apply, delete): the no-op benchmark reads it.
    writes: Arc<std::sync::atomic::AtomicUsize>,
    /// Read requests by kind of request, for `TODOPLAN_STATS=1`.
    stats: Arc<RequestStats>,
}

/// How many requests of each sort a command sent (printed with `TODOPLAN_STATS=1`).
#[derive(Debug, Default)]
pub struct RequestStats {
    /// Discovery requests (one per kind not in the disk cache).
    pub discovery: std::sync::atomic::AtomicUsize,
    pub lists: std::sync::atomic::AtomicUsize,
    pub gets: std::sync::atomic::AtomicUsize,
    pub dry_runs: std::sync::atomic::AtomicUsize,
    /// TCP connections opened to the API server (by the request connection; `None` when kube's
    /// own stack makes them, behind a proxy or a fixed TLS server name).
    pub connections: Option<Arc<std::sync::atomic::AtomicUsize>>,
}

fn bump(counter: &std::sync::atomic::AtomicUsize) {
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// apiVersion, then kind, first: the API server writes kind first, a listed item has neither,
/// and a plan's diff of the two must not show them moving.
fn type_fields_first(object: &mut Value) {
    if let Some(fields) = object.as_object_mut() {
        for (at, name) in ["apiVersion", "kind"].into_iter().enumerate() {
            if let Some(value) = fields.shift_remove(name) {
                fields.shift_insert(at, name.to_string(), value);
            }
        }
    }
}

/// Objects per LIST page (kubectl's `--chunk-size` default).
const LIST_PAGE: u32 = 500;

impl ClusterClient {
    /// Connects with KUBECONFIG rules; `context` overrides the current context.
    pub async fn connect(context: Option<&str>) -> Result<Self, ObserveError> {
        let options = kube::config::KubeConfigOptions {
            context: context.map(str::to_string),
            ..Default::default()
        };
        let kubeconfig = kube::config::Kubeconfig::read().map_err(|e| ObserveError::Config {
            message: e.to_string(),
        })?;
        let context_name = context
            .map(str::to_string)
            .or_else(|| kubeconfig.current_context.clone())
            .unwrap_or_default();
        if let Some(wanted) = context
            && !kubeconfig.contexts.iter().any(|c| c.name == wanted)
        {
            let known: Vec<_> = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
            return Err(ObserveError::Config {
                message: format!(
                    "context `{wanted}` is not in the kubeconfig (known contexts: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            });
        }
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| ObserveError::Config {
                message: e.to_string(),
            })?;
        let server = config.cluster_url.to_string();
        let mut config = config;
        config.connect_timeout = Some(request_timeout().min(std::time::Duration::from_secs(10)));
        let mut watch_config = config.clone();
        watch_config.read_timeout = Some(std::time::Duration::from_secs(330));
        let (client, connections) = connection::multiplexed_client(config, request_timeout())
            .map_err(|e| ObserveError::Config {
                message: e.to_string(),
            })?;
        let watch_client =
            kube::Client::try_from(watch_config).map_err(|e| ObserveError::Config {
                message: e.to_string(),
            })?;
        let disk = discovery::DiskCache::for_server(&server);
        let cached = disk.load().await;
        let from_disk = cached.keys().cloned().collect();
        Ok(ClusterClient {
            client,
            watch_client,
            context: context_name,
            server,
            discovery: Arc::new(Mutex::new(cached)),
            from_disk: Arc::new(Mutex::new(from_disk)),
            disk,
            version: Arc::new(tokio::sync::OnceCell::new()),
            writes: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            stats: Arc::new(RequestStats {
                connections,
                ..RequestStats::default()
            }),
        })
    }

    /// The connection, for the kubernetes state backend to share.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The client for readiness watches (long reads; callers bound every wait themselves).
    pub fn watch_client(&self) -> &kube::Client {
        &self.watch_client
    }

    pub fn write_count(&self) -> usize {
        self.writes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// "requests: 0 discovery, 3 LIST, 1 GET, 11 dry-run apply, 0 write".
    pub fn stats_line(&self) -> String {
        let load =
            |c: &std::sync::atomic::AtomicUsize| c.load(std::sync::atomic::Ordering::Relaxed);
        let mut line = format!(
            "requests: {} discovery, {} LIST, {} GET, {} dry-run apply, {} write",
            load(&self.stats.discovery),
            load(&self.stats.lists),
            load(&self.stats.gets),
            load(&self.stats.dry_runs),
            self.write_count()
        );
        if let Some(opened) = &self.stats.connections {
            line.push_str(&format!("; {} connection(s) opened", load(opened)));
        }
        line
    }

    /// "v1.33.4": the server's version, for `.Capabilities.KubeVersion`.
    /// Asked once per command (the first call also proves the server answers).
    pub async fn server_version(&self) -> Result<String, ObserveError> {
        self.version
            .get_or_try_init(|| async {
                self.client
                    .apiserver_version()
                    .await
                    .map(|info| info.git_version)
                    .map_err(|e| self.classify(e, "read the version of", "the API server"))
            })
            .await
            .cloned()
    }

    /// Maps a kube error to a diagnostic about `object`.
    fn classify(&self, error: kube::Error, action: &str, object: &str) -> ObserveError {
        match error {
            kube::Error::Api(status) => {
                // RBAC says who cannot do what ("User \"x\" cannot create resource ...");
                // admission's 403s do not.
                if status.is_forbidden() && !status.message.contains(" cannot ") {
                    return ObserveError::Refused {
                        action: action.to_string(),
                        object: object.to_string(),
                        message: status.message.clone(),
                    };
                }
                if status.is_forbidden() {
                    return ObserveError::Forbidden {
                        action: action.to_string(),
                        object: object.to_string(),
                        message: status.message.clone(),
                    };
                }
                if status.code == 422 || status.reason == "Invalid" {
                    let causes: Vec<(String, String)> = status
                        .details
                        .as_ref()
                        .map(|d| {
                            d.causes
                                .iter()
                                .map(|c| (c.field.clone(), c.message.clone()))
                                .collect()
                        })
                        .unwrap_or_default();
                    let immutable = refuses_a_change_in_place(&status.message)
                        || causes.iter().any(|(_, m)| refuses_a_change_in_place(m));
                    let help = if causes.is_empty() {
                        "fix the object in its chart or values".to_string()
                    } else {
                        let fields: Vec<String> =
                            causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
                        format!("fix in the chart or values: {}", fields.join("; "))
                    };
                    return ObserveError::Rejected {
                        object: object.to_string(),
                        message: status.message.clone(),
                        causes,
                        help,
                        immutable,
                    };
                }
                ObserveError::Request {
                    action: action.to_string(),
                    object: object.to_string(),
                    message: format!("{} ({})", status.message, status.code),
                }
            }
            kube::Error::HyperError(_) | kube::Error::Service(_) => ObserveError::Unreachable {
                server: self.server.clone(),
                context: self.context.clone(),
                message: error.to_string(),
            },
            other => ObserveError::Request {
                action: action.to_string(),
                object: object.to_string(),
                message: other.to_string(),
            },
        }
    }

    /// The resource serving `api_version`/`kind` (cached).
    pub async fn resolve(
        &self,
        key: &ObjectKey,
    ) -> Result<(ApiResource, ApiCapabilities), ObserveError> {
        let cache_key = (key.api_version.clone(), key.kind.clone());
        if let Some(found) = self.discovery.lock().await.get(&cache_key) {
            return Ok(found.clone());
        }
        bump(&self.stats.discovery);
        let found = kube::discovery::pinned_kind(&self.client, &key.gvk())
            .await
            .map_err(|e| match e {
                kube::Error::Api(s) if s.is_not_found() || s.code == 404 => {
                    ObserveError::UnknownKind {
                        api_version: key.api_version.clone(),
                        kind: key.kind.clone(),
                    }
                }
                kube::Error::Discovery(_) => ObserveError::UnknownKind {
                    api_version: key.api_version.clone(),
                    kind: key.kind.clone(),
                },
                other => self.classify(
                    other,
                    "discover",
                    &format!("{} {}", key.api_version, key.kind),
                ),
            })?;
        let snapshot = {
            let mut resolved = self.discovery.lock().await;
            resolved.insert(cache_key, found.clone());
            resolved.clone()
        };
        self.disk.store(&snapshot).await;
        Ok(found)
    }

    /// After a 404 from a request to `key`'s resource: when that resource came from the disk
    /// cache, the cache may be stale (a CRD removed or moved to another version), so it is
    /// dropped and the caller retries once with the server's own answer.
    async fn stale_cache(&self, key: &ObjectKey, error: &kube::Error) -> bool {
        if !matches!(error, kube::Error::Api(s) if s.code == 404) {
            return false;
        }
        let cache_key = (key.api_version.clone(), key.kind.clone());
        if !self.from_disk.lock().await.remove(&cache_key) {
            return false;
        }
        let mut resolved = self.discovery.lock().await;
        let cached: Vec<_> = self.from_disk.lock().await.drain().collect();
        for k in cached.iter().chain([&cache_key]) {
            resolved.remove(k);
        }
        self.disk.forget().await;
        true
    }

    async fn api_for(&self, key: &ObjectKey) -> Result<Api<DynamicObject>, ObserveError> {
        let (resource, caps) = self.resolve(key).await?;
        Ok(match (caps.scope, &key.namespace) {
            (Scope::Namespaced, Some(ns)) => {
                Api::namespaced_with(self.client.clone(), ns, &resource)
            }
            (Scope::Namespaced, None) => {
                Api::default_namespaced_with(self.client.clone(), &resource)
            }
            (Scope::Cluster, _) => Api::all_with(self.client.clone(), &resource),
        })
    }

    pub async fn is_namespaced(&self, key: &ObjectKey) -> Result<bool, ObserveError> {
        Ok(matches!(
            self.resolve(key).await?.1.scope,
            Scope::Namespaced
        ))
    }

    /// The live object, or None.
    pub async fn get(&self, key: &ObjectKey) -> Result<Option<Value>, ObserveError> {
        let api = self.api_for(key).await?;
        bump(&self.stats.gets);
        let found = api
            .get_opt(&key.name)
            .await
            .map_err(|e| self.classify(e, "read", &key.to_string()))?;
        Ok(found.map(|o| remember_secret_values(serde_json::to_value(o).unwrap_or(Value::Null))))
    }

    /// What a chart's `lookup` sees, read-only: one object (`name` given; `Null` when absent)
    /// or a `<Kind>List` of every object of the kind in `namespace` ("" = all namespaces).
    pub async fn lookup(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ObserveError> {
        let key = ObjectKey {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
            name: name.into(),
        };
        if !name.is_empty() {
            if key.namespace.is_none() && self.is_namespaced(&key).await? {
                // helm asks the cluster-wide path for a namespaced kind: nothing is there
                return Ok(Value::Null);
            }
            return Ok(self.get(&key).await?.unwrap_or(Value::Null));
        }
        let items = self
            .list_labelled(api_version, kind, key.namespace.as_deref(), "")
            .await?;
        Ok(serde_json::json!({
            "apiVersion": api_version,
            "kind": format!("{kind}List"),
            "metadata": {},
            "items": items,
        }))
    }

    /// Every group/version the API server serves and every group/version/Kind in them, sorted:
    /// `.Capabilities.APIVersions` as `helm install` reads it from discovery. A group whose
    /// resources cannot be listed (an aggregated API that is down) still counts as served, with
    /// no kinds, as helm tolerates partial discovery failures. Kept in the discovery cache on
    /// disk (same lifetime): a warm command asks nothing, a cold one asks every group at once.
    pub async fn api_versions(&self) -> Result<Vec<String>, ObserveError> {
        if let Some(cached) = self.disk.load_api_versions().await {
            return Ok(cached);
        }
        let mut out = std::collections::BTreeSet::new();
        for served in self.served_versions().await? {
            if let Ok(resources) = &served.resources {
                for r in resources {
                    out.insert(format!("{}/{}", served.group_version, r.kind));
                }
            }
            out.insert(served.group_version);
        }
        let out: Vec<String> = out.into_iter().collect();
        self.disk.store_api_versions(&out).await;
        Ok(out)
    }

    /// Discovery, asked now (never from a cache): every group/version the server lists, with
    /// its resources or the error asking for them gave. One request per group/version, all at
    /// once (they are independent).
    async fn served_versions(&self) -> Result<Vec<ServedVersion>, ObserveError> {
        let fail = |e| self.classify(e, "discover", "the API groups");
        bump(&self.stats.discovery);
        bump(&self.stats.discovery);
        let (core, groups) = futures::join!(
            self.client.list_core_api_versions(),
            self.client.list_api_groups()
        );
        let mut listed: Vec<(String, bool, bool)> = core
            .map_err(fail)?
            .versions
            .into_iter()
            .enumerate()
            .map(|(i, gv)| (gv, i == 0, true))
            .collect();
        for group in groups.map_err(fail)?.groups {
            let preferred = group
                .preferred_version
                .map(|v| v.group_version)
                .or_else(|| group.versions.first().map(|v| v.group_version.clone()));
            for version in group.versions {
                let is_preferred = preferred.as_deref() == Some(version.group_version.as_str());
                listed.push((version.group_version, is_preferred, false));
            }
        }
        let resources = futures::future::join_all(listed.iter().map(|(gv, _, core)| async move {
            bump(&self.stats.discovery);
            if *core {
                self.client.list_core_api_resources(gv).await
            } else {
                self.client.list_api_group_resources(gv).await
            }
        }))
        .await;
        Ok(listed
            .into_iter()
            .zip(resources)
            .map(|((group_version, preferred, _), resources)| ServedVersion {
                group_version,
                preferred,
                resources: resources.map(|list| list.resources),
            })
            .collect())
    }

    /// Objects of one kind carrying `selector` labels, in `namespace` (or all namespaces).
    pub async fn list_labelled(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<Value>, ObserveError> {
        self.list_pages(api_version, kind, namespace, selector, |_| {})
            .await
    }

    /// [`Self::list_labelled`], with `trim` applied to each object as its page arrives.
    async fn list_pages(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        selector: &str,
        trim: fn(&mut Value),
    ) -> Result<Vec<Value>, ObserveError> {
        let key = ObjectKey {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_string),
            name: String::new(),
        };
        // In pages, as kubectl lists: a page is converted and dropped before the next one
        // arrives, so a large inventory is never held as a response body, typed objects and
        // JSON values at once.
        let mut items = Vec::new();
        let mut continue_token: Option<String> = None;
        let mut retried = false;
        let mut restarted = false;
        loop {
            let (resource, caps) = self.resolve(&key).await?;
            let api: Api<DynamicObject> = match (caps.scope, namespace) {
                (Scope::Namespaced, Some(ns)) => {
                    Api::namespaced_with(self.client.clone(), ns, &resource)
                }
                _ => Api::all_with(self.client.clone(), &resource),
            };
            bump(&self.stats.lists);
            let mut params = ListParams::default().labels(selector).limit(LIST_PAGE);
            if let Some(token) = &continue_token {
                params = params.continue_token(token);
            }
            let answer = match kube::core::Request::new(api.resource_url()).list(&params) {
                Ok(request) => self.client.request::<Value>(request).await,
                Err(e) => Err(kube::Error::BuildRequest(e)),
            };
            let mut page = match answer {
                Ok(page) => page,
                Err(e)
                    if !retried && continue_token.is_none() && self.stale_cache(&key, &e).await =>
                {
                    retried = true;
                    continue;
                }
                // The server does not serve this resource (any more): a CRD deleted since
                // discovery. Nothing of it can exist, as for a kind discovery never knew.
                Err(kube::Error::Api(status)) if status.code == 404 && continue_token.is_none() => {
                    return Err(ObserveError::UnknownKind {
                        api_version: api_version.into(),
                        kind: kind.into(),
                    });
                }
                // The continuation expired (the server compacted past it): list again, once.
                Err(kube::Error::Api(status))
                    if status.code == 410 && continue_token.is_some() && !restarted =>
                {
                    restarted = true;
                    continue_token = None;
                    items.clear();
                    continue;
                }
                Err(e) => {
                    return Err(self.classify(e, "list", &format!("{api_version} {kind}")));
                }
            };
            continue_token = page
                .metadata_field("continue")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            let listed = match page.get_mut("items").map(Value::take) {
                Some(Value::Array(listed)) => listed,
                _ => Vec::new(),
            };
            items.extend(listed.into_iter().map(|mut object| {
                // Lists omit apiVersion/kind on items; put them back (first, where a single
                // object has them) so items stand alone.
                if let Some(fields) = object.as_object_mut() {
                    fields.insert("apiVersion".into(), Value::String(api_version.into()));
                    fields.insert("kind".into(), Value::String(kind.into()));
                }
                type_fields_first(&mut object);
                let mut object = remember_secret_values(object);
                trim(&mut object);
                // Held to the end of the plan: without the room parsing and the fields put
                // back or trimmed left in its maps (at 10,000 objects, about 6 MB).
                crate::model::object::shrink_to_fit(&mut object);
                object
            }));
            if continue_token.is_none() {
                return Ok(items);
            }
        }
    }

    /// Server-side apply; `dry_run` for plan. Returns what the server stores (or would).
    pub async fn apply(&self, object: &Value, dry_run: bool) -> Result<Value, ObserveError> {
        let key = ObjectKey::of(object);
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        params.dry_run = dry_run;
        let mut retried = false;
        let result = loop {
            let api = self.api_for(&key).await?;
            if dry_run {
                bump(&self.stats.dry_runs);
            } else {
                self.writes
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            // Straight into JSON: the answer is diffed as a value, so it is not read into
            // typed metadata first.
            let answer = match kube::core::Request::new(api.resource_url()).patch(
                &key.name,
                &params,
                &Patch::Apply(object),
            ) {
                Ok(request) => self.client.request::<Value>(request).await,
                Err(e) => Err(kube::Error::BuildRequest(e)),
            };
            match answer {
                Ok(result) => break result,
                Err(e) if !retried && self.stale_cache(&key, &e).await => retried = true,
                Err(e) => {
                    return Err(self.classify(
                        e,
                        if dry_run { "dry-run apply" } else { "apply" },
                        &key.to_string(),
                    ));
                }
            }
        };
        let mut result = result;
        type_fields_first(&mut result);
        Ok(result)
    }

    /// JSON patch (RFC 6902) of `key`: removes fields other managers added (with `test` ops
    /// guarding against the object having changed since they were found).
    pub async fn json_patch(&self, key: &ObjectKey, ops: Vec<Value>) -> Result<(), ObserveError> {
        let api = self.api_for(key).await?;
        let patch = json_patch_of(key, ops)?;
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        api.patch(
            &key.name,
            &PatchParams::default(),
            &Patch::<Value>::Json(patch),
        )
        .await
        .map(|_| ())
        .map_err(|e| self.classify(e, "patch", &key.to_string()))
    }

    /// A JSON patch sent as a dry-run: what the server would store (its defaults filled in).
    pub async fn json_patch_dry_run(
        &self,
        key: &ObjectKey,
        ops: Vec<Value>,
    ) -> Result<Value, ObserveError> {
        let api = self.api_for(key).await?;
        let patch = json_patch_of(key, ops)?;
        let params = PatchParams {
            dry_run: true,
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        api.patch(&key.name, &params, &Patch::<Value>::Json(patch))
            .await
            .map(|o| serde_json::to_value(o).unwrap_or(Value::Null))
            .map_err(|e| self.classify(e, "dry-run a patch of", &key.to_string()))
    }

    /// Live objects of this project: one LIST per kind (all namespaces, by inventory label)
    /// instead of one GET per object. `kinds`: (apiVersion, kind) pairs to look at.
    pub async fn live_inventory(
        &self,
        project: &str,
        instance: &str,
        kinds: &std::collections::BTreeSet<(String, String)>,
    ) -> Result<LiveIndex, ObserveError> {
        let selector = format!("{LABEL_PROJECT}={project},{LABEL_INSTANCE}={instance}");
        let mut objects = HashMap::new();
        let mut requests = 0;
        // Every kind at once: discovery and LIST of one kind do not wait for another's.
        let lists = futures::future::join_all(kinds.iter().map(|(api_version, kind)| {
            self.list_pages(
                api_version,
                kind,
                None,
                &selector,
                drop_uncontested_field_ownership,
            )
        }))
        .await;
        for listed in lists {
            let items = match listed {
                Ok(items) => items,
                // A kind the cluster no longer serves holds nothing of ours.
                Err(ObserveError::UnknownKind { .. }) => continue,
                Err(e) => return Err(e),
            };
            requests += 1;
            for item in items {
                objects.insert(ObjectKey::of(&item), item);
            }
        }
        Ok(LiveIndex { objects, requests })
    }

    /// Deletes `key`; with `uid`, only that exact object (a precondition). Background
    /// propagation: its dependents (ReplicaSets, Pods) go after it. Already gone counts as done.
    pub async fn delete(&self, key: &ObjectKey, uid: Option<&str>) -> Result<(), ObserveError> {
        self.delete_answer(key, uid, kube::api::PropagationPolicy::Background)
            .await
            .map(|_| ())
    }

    /// Deletes `key` with propagation "orphan": its dependents (a StatefulSet's pods) stay.
    pub async fn delete_orphaning(
        &self,
        key: &ObjectKey,
        uid: Option<&str>,
    ) -> Result<(), ObserveError> {
        self.delete_answer(key, uid, kube::api::PropagationPolicy::Orphan)
            .await
            .map(|_| ())
    }

    /// Deletes `key` (background propagation; with `uid`, only that object) and waits until it
    /// is gone: an object a finalizer holds is not deleted until the finalizer lets go. After
    /// `timeout`, the error names the finalizers still holding it.
    pub async fn delete_and_wait(
        &self,
        key: &ObjectKey,
        uid: Option<&str>,
        timeout: std::time::Duration,
    ) -> Result<(), ObserveError> {
        let terminating = self
            .delete_answer(key, uid, kube::api::PropagationPolicy::Background)
            .await?;
        if terminating {
            self.wait_gone(key, timeout).await?;
        }
        Ok(())
    }

    /// True when the object is still there after the request (a finalizer holds it).
    async fn delete_answer(
        &self,
        key: &ObjectKey,
        uid: Option<&str>,
        propagation: kube::api::PropagationPolicy,
    ) -> Result<bool, ObserveError> {
        let api = self.api_for(key).await?;
        let params = DeleteParams {
            preconditions: uid.map(|u| Preconditions {
                uid: Some(u.to_string()),
                resource_version: None,
            }),
            propagation_policy: Some(propagation),
            ..Default::default()
        };
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match api.delete(&key.name, &params).await {
            // The object itself came back (not a Status): deletion is under way, not done.
            Ok(answer) => Ok(answer.is_left()),
            Err(kube::Error::Api(s)) if s.is_not_found() => Ok(false),
            Err(e) => Err(self.classify(e, "delete", &key.to_string())),
        }
    }

    /// What a namespace holds that deleting it would delete: every object of every namespaced
    /// kind the server lists (from discovery, so ResourceQuotas, NetworkPolicies, Leases and
    /// custom resources count), except what the cluster or a controller makes and removes by
    /// itself (owned objects, Events, Endpoints, the default ServiceAccount, kube-root-ca.crt).
    pub async fn namespace_contents(&self, ns: &str) -> Result<Vec<ObjectKey>, ObserveError> {
        let (kinds, unreadable) = namespaced_kinds(&self.served_versions().await?);
        // A group/version whose kinds could not be read (an aggregated API that is down) may
        // hold something here: it counts as held, and the plan names it.
        let mut out: Vec<ObjectKey> = unreadable
            .into_iter()
            .map(|(api_version, message)| ObjectKey {
                api_version,
                kind: "(any kind)".into(),
                namespace: Some(ns.to_string()),
                name: format!("(could not be discovered: {message})"),
            })
            .collect();
        for (api_version, kind) in &kinds {
            let items = match self.list_labelled(api_version, kind, Some(ns), "").await {
                Ok(items) => items,
                Err(ObserveError::UnknownKind { .. }) => continue,
                // Not allowed to look: it may hold something, so it counts as held (the
                // namespace is kept, and the plan says which kind could not be read).
                Err(ObserveError::Forbidden { .. }) => {
                    out.push(ObjectKey {
                        api_version: api_version.clone(),
                        kind: kind.clone(),
                        namespace: Some(ns.to_string()),
                        name: "(not allowed to list)".into(),
                    });
                    continue;
                }
                Err(e) => return Err(e),
            };
            for item in items {
                let key = ObjectKey::of(&item);
                let owned = item
                    .metadata_field("ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|o| !o.is_empty());
                let made_by_cluster = (key.kind == "ServiceAccount" && key.name == "default")
                    || (key.kind == "ConfigMap" && key.name == "kube-root-ca.crt");
                if !owned && !made_by_cluster {
                    out.push(key);
                }
            }
        }
        Ok(out)
    }

    /// Waits until `key` no longer exists (after a delete), up to `timeout`.
    pub async fn wait_gone(
        &self,
        key: &ObjectKey,
        timeout: std::time::Duration,
    ) -> Result<(), ObserveError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.get(key).await?.is_none() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let holders = match self.get(key).await {
                    Ok(Some(o)) => finalizers_of(&o),
                    _ => Vec::new(),
                };
                return Err(ObserveError::Request {
                    action: "wait for deletion of".into(),
                    object: key.to_string(),
                    message: if holders.is_empty() {
                        format!("still present after {}s", timeout.as_secs())
                    } else {
                        format!(
                            "still present after {}s: held by finalizer(s) {} (the controller that owns them has not let go; it stays recorded, and the next apply waits again)",
                            timeout.as_secs(),
                            holders.join(", ")
                        )
                    },
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
}

/// (apiVersion, kind).
type KindAt = (String, String);
/// (group/version, why its resources could not be read).
type Unreadable = (String, String);

/// One group/version from discovery: its resources, or the error asking for them gave.
struct ServedVersion {
    group_version: String,
    /// The group's preferred version (core: `v1`).
    preferred: bool,
    resources:
        Result<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource>, kube::Error>,
}

/// The namespaced kinds a namespace can hold that a user or chart makes (apiVersion, kind),
/// each kind once at its group's preferred version when served there; and the group/versions
/// whose resources could not be read, with why. A group/version that answers 404 went away
/// between the two discovery requests (a CustomResourceDefinition deleted meanwhile): nothing
/// of it is left, so it is neither listed nor counted as unreadable.
fn namespaced_kinds(served: &[ServedVersion]) -> (Vec<KindAt>, Vec<Unreadable>) {
    let mut seen = std::collections::BTreeSet::new();
    let mut kinds = Vec::new();
    let mut unreadable = Vec::new();
    let preferred_first = served
        .iter()
        .filter(|s| s.preferred)
        .chain(served.iter().filter(|s| !s.preferred));
    for version in preferred_first {
        let resources = match &version.resources {
            Ok(resources) => resources,
            Err(kube::Error::Api(status)) if status.code == 404 => continue,
            Err(e) => {
                unreadable.push((version.group_version.clone(), e.to_string()));
                continue;
            }
        };
        let group = version
            .group_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group);
        for r in resources {
            let subresource = r.name.contains('/');
            let listable = r.verbs.iter().any(|v| v == "list");
            let made_by_cluster = matches!(r.kind.as_str(), "Event" | "Endpoints");
            if r.namespaced
                && listable
                && !subresource
                && !made_by_cluster
                && seen.insert((group.to_string(), r.kind.clone()))
            {
                kinds.push((version.group_version.clone(), r.kind.clone()));
            }
        }
    }
    (kinds, unreadable)
}

/// JSON-patch operations as a patch for `key`.
fn json_patch_of(key: &ObjectKey, ops: Vec<Value>) -> Result<json_patch::Patch, ObserveError> {
    serde_json::from_value(Value::Array(ops)).map_err(|e| ObserveError::Request {
        action: "build a patch for".into(),
        object: key.to_string(),
        message: e.to_string(),
    })
}

/// The finalizers holding an object being deleted: `metadata.finalizers`, and a Namespace's
/// `spec.finalizers` (the namespace controller's, while it deletes what the namespace holds).
pub fn finalizers_of(object: &Value) -> Vec<String> {
    ["/metadata/finalizers", "/spec/finalizers"]
        .iter()
        .filter_map(|p| object.pointer(p).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// How long a delete waits for its object to be gone: 120 s, or `TODOPLAN_DELETE_TIMEOUT`
/// (humantime, e.g. `5s`).
pub fn delete_timeout() -> std::time::Duration {
    std::env::var("TODOPLAN_DELETE_TIMEOUT")
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
        .unwrap_or(std::time::Duration::from_secs(120))
}

/// Managers that are the cluster's own controllers: their fields are never drift.
pub const CONTROLLER_MANAGERS: &[&str] = &[
    "kube-controller-manager",
    // Fills an aggregated ClusterRole's rules.
    "clusterrole-aggregation-controller",
    "kube-scheduler",
    "kube-apiserver",
    "kubelet",
    "kube-proxy",
    "kwok",
    "kwok-controller",
];

/// Whether a managedFields entry is drift's business: fields someone other than todoplan or
/// the cluster's controllers set, outside a status subresource.
pub fn is_foreign_field_owner(entry: &Value) -> bool {
    let manager = entry.get("manager").and_then(Value::as_str).unwrap_or("");
    let subresource = entry
        .get("subresource")
        .and_then(Value::as_str)
        .unwrap_or("");
    manager != FIELD_MANAGER && subresource != "status" && !CONTROLLER_MANAGERS.contains(&manager)
}

/// Managers whose fields move to todoplan: the tools that create objects before a deployment
/// tool takes them over. Hand edits (`kubectl-edit`, `kubectl-set`, `kubectl-label`, `kubectl
/// scale`) are drift, not origin, and stay reported and reverted as such.
const ORIGIN_MANAGERS: &[(&str, Option<&str>)] = &[
    ("kubectl-client-side-apply", None),
    ("kubectl-create", None),
    ("before-first-apply", None),
    ("helm", None),
    // `kubectl apply --server-side` (its default manager); "kubectl" with Update is `kubectl
    // scale` and friends.
    ("kubectl", Some("Apply")),
];

/// Whether a managedFields entry belongs to a tool the object came from (see
/// `plan::ownership`: apply takes these fields over).
pub fn is_origin_entry(entry: &Value) -> bool {
    let manager = entry.get("manager").and_then(Value::as_str).unwrap_or("");
    let operation = entry.get("operation").and_then(Value::as_str).unwrap_or("");
    let subresource = entry
        .get("subresource")
        .and_then(Value::as_str)
        .unwrap_or("");
    subresource.is_empty()
        && ORIGIN_MANAGERS
            .iter()
            .any(|(m, op)| *m == manager && op.is_none_or(|op| op == operation))
}

/// The inventory keeps `metadata.managedFields` only where drift reads it: when some entry is
/// foreign. Otherwise nobody else owns a field and drift has nothing to report, and the entries
/// (a map of every field, per object) are the largest part of a listed object.
fn drop_uncontested_field_ownership(object: &mut Value) {
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let contested = meta
        .get("managedFields")
        .and_then(Value::as_array)
        .is_some_and(|entries| entries.iter().any(is_foreign_field_owner));
    if !contested {
        meta.remove("managedFields");
    }
}

/// Live objects fetched by [`ClusterClient::live_inventory`].
#[derive(Debug, Default)]
pub struct LiveIndex {
    pub objects: HashMap<ObjectKey, Value>,
    /// LIST requests it took (the plan benchmark reports it).
    pub requests: usize,
}

/// What the planner and the executor need from a cluster. [`ClusterClient`] is the real one;
/// tests put an in-memory cluster with injected faults behind it (`tests/testsuite/executor_model.rs`).
#[allow(async_fn_in_trait)]
pub trait Cluster: Sync {
    fn context_name(&self) -> &str;
    fn server_url(&self) -> &str;
    async fn get(&self, key: &ObjectKey) -> Result<Option<Value>, ObserveError>;
    /// Server-side apply (`dry_run`: what the server would store).
    async fn apply(&self, object: &Value, dry_run: bool) -> Result<Value, ObserveError>;
    async fn json_patch(&self, key: &ObjectKey, ops: Vec<Value>) -> Result<(), ObserveError>;
    /// What the server would store after a JSON patch (defaults filled in again). By default
    /// the patch applied to the live object here, without the server's defaulting.
    async fn json_patch_dry_run(
        &self,
        key: &ObjectKey,
        ops: Vec<Value>,
    ) -> Result<Value, ObserveError> {
        let mut live = self.get(key).await?.unwrap_or(Value::Null);
        let patch = json_patch_of(key, ops)?;
        json_patch::patch(&mut live, &patch).map_err(|e| ObserveError::Request {
            action: "patch".into(),
            object: key.to_string(),
            message: e.to_string(),
        })?;
        Ok(live)
    }
    async fn delete(&self, key: &ObjectKey, uid: Option<&str>) -> Result<(), ObserveError>;
    /// Deletes and waits until the object is gone (finalizers done), at most `timeout`.
    async fn delete_and_wait(
        &self,
        key: &ObjectKey,
        uid: Option<&str>,
        timeout: std::time::Duration,
    ) -> Result<(), ObserveError> {
        self.delete(key, uid).await?;
        self.wait_gone(key, timeout).await
    }
    async fn delete_orphaning(
        &self,
        key: &ObjectKey,
        uid: Option<&str>,
    ) -> Result<(), ObserveError>;
    async fn wait_gone(
        &self,
        key: &ObjectKey,
        timeout: std::time::Duration,
    ) -> Result<(), ObserveError>;
    async fn namespace_contents(&self, ns: &str) -> Result<Vec<ObjectKey>, ObserveError>;
    /// Every object of one kind, in every namespace (a CRD's custom resources, which go with
    /// it when it is deleted). A kind the cluster does not serve has none.
    async fn objects_of_kind(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Vec<ObjectKey>, ObserveError>;
}

impl Cluster for ClusterClient {
    fn context_name(&self) -> &str {
        &self.context
    }
    fn server_url(&self) -> &str {
        &self.server
    }
    async fn get(&self, key: &ObjectKey) -> Result<Option<Value>, ObserveError> {
        ClusterClient::get(self, key).await
    }
    async fn apply(&self, object: &Value, dry_run: bool) -> Result<Value, ObserveError> {
        ClusterClient::apply(self, object, dry_run).await
    }
    async fn json_patch(&self, key: &ObjectKey, ops: Vec<Value>) -> Result<(), ObserveError> {
        ClusterClient::json_patch(self, key, ops).await
    }
    async fn json_patch_dry_run(
        &self,
        key: &ObjectKey,
        ops: Vec<Value>,
    ) -> Result<Value, ObserveError> {
        ClusterClient::json_patch_dry_run(self, key, ops).await
    }
    async fn delete(&self, key: &ObjectKey, uid: Option<&str>) -> Result<(), ObserveError> {
        ClusterClient::delete(self, key, uid).await
    }
    async fn delete_and_wait(
        &self,
        key: &ObjectKey,
        uid: Option<&str>,
        timeout: std::time::Duration,
    ) -> Result<(), ObserveError> {
        ClusterClient::delete_and_wait(self, key, uid, timeout).await
    }
    async fn delete_orphaning(
        &self,
        key: &ObjectKey,
        uid: Option<&str>,
    ) -> Result<(), ObserveError> {
        ClusterClient::delete_orphaning(self, key, uid).await
    }
    async fn wait_gone(
        &self,
        key: &ObjectKey,
        timeout: std::time::Duration,
    ) -> Result<(), ObserveError> {
        ClusterClient::wait_gone(self, key, timeout).await
    }
    async fn namespace_contents(&self, ns: &str) -> Result<Vec<ObjectKey>, ObserveError> {
        ClusterClient::namespace_contents(self, ns).await
    }
    async fn objects_of_kind(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Vec<ObjectKey>, ObserveError> {
        match self.list_pages(api_version, kind, None, "", |_| {}).await {
            Ok(items) => Ok(items.iter().map(ObjectKey::of).collect()),
            Err(ObserveError::UnknownKind { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::GroupVersionKind;
    use serde_json::json;

    #[test]
    fn the_inventory_keeps_field_ownership_only_when_someone_else_owns_a_field() {
        let object = |managers: &[(&str, Option<&str>)]| {
            let entries: Vec<Value> = managers
                .iter()
                .map(|(manager, subresource)| {
                    let mut e = json!({"manager": manager, "fieldsV1": {"f:data": {"f:a": {}}}});
                    if let Some(s) = subresource {
                        e["subresource"] = json!(s);
                    }
                    e
                })
                .collect();
            json!({"metadata": {"name": "a", "managedFields": entries}, "data": {"a": "1"}})
        };
        // Only todoplan, the controllers and a status writer: nothing for drift, dropped.
        let mut uncontested = object(&[
            (FIELD_MANAGER, None),
            ("kube-controller-manager", None),
            ("someone", Some("status")),
        ]);
        drop_uncontested_field_ownership(&mut uncontested);
        assert!(uncontested.metadata_field("managedFields").is_none());
        assert_eq!(uncontested["data"]["a"], "1");
        // kubectl edit owns a field: drift reads every entry, ours included, so all stay.
        let mut contested = object(&[(FIELD_MANAGER, None), ("kubectl-edit", None)]);
        let before = contested.clone();
        drop_uncontested_field_ownership(&mut contested);
        assert_eq!(contested, before);
    }

    #[test]
    fn object_key_splits_core_and_grouped_api_versions() {
        let svc = ObjectKey::of(
            &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "n"}}),
        );
        assert_eq!(svc.gvk(), GroupVersionKind::gvk("", "v1", "Service"));
        assert_eq!(svc.to_string(), "v1 Service n/a");
        let dep = ObjectKey::of(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}),
        );
        assert_eq!(dep.gvk(), GroupVersionKind::gvk("apps", "v1", "Deployment"));
    }
}

#[cfg(test)]
mod namespace_kinds_tests {
    use super::{ServedVersion, namespaced_kinds};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource;

    fn resource(name: &str, kind: &str, namespaced: bool, verbs: &[&str]) -> APIResource {
        APIResource {
            name: name.into(),
            kind: kind.into(),
            namespaced,
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            singular_name: String::new(),
            ..Default::default()
        }
    }

    fn served(gv: &str, preferred: bool, resources: Vec<APIResource>) -> ServedVersion {
        ServedVersion {
            group_version: gv.into(),
            preferred,
            resources: Ok(resources),
        }
    }

    fn failed(gv: &str, code: u16, message: &str) -> ServedVersion {
        ServedVersion {
            group_version: gv.into(),
            preferred: true,
            resources: Err(kube::Error::Api(
                kube::core::Status::failure(message, "")
                    .with_code(code)
                    .boxed(),
            )),
        }
    }

    #[test]
    fn each_namespaced_listable_kind_is_listed_once_at_its_preferred_version() {
        let (kinds, unreadable) = namespaced_kinds(&[
            served(
                "example.com/v1beta1",
                false,
                vec![
                    resource("widgets", "Widget", true, &["list", "get"]),
                    resource("gadgets", "Gadget", true, &["list"]),
                ],
            ),
            served(
                "example.com/v1",
                true,
                vec![resource("widgets", "Widget", true, &["list"])],
            ),
            served(
                "v1",
                true,
                vec![
                    resource("configmaps", "ConfigMap", true, &["list"]),
                    resource("pods/log", "Pod", true, &["get"]),
                    resource("pods/status", "Pod", true, &["list"]),
                    resource("nodes", "Node", false, &["list"]),
                    resource("events", "Event", true, &["list"]),
                    resource("bindings", "Binding", true, &["create"]),
                ],
            ),
        ]);
        assert_eq!(
            kinds,
            [
                ("example.com/v1", "Widget"),
                ("v1", "ConfigMap"),
                ("example.com/v1beta1", "Gadget"),
            ]
            .map(|(v, k)| (v.to_string(), k.to_string()))
        );
        assert!(unreadable.is_empty());
    }

    /// A CRD deleted between the two discovery requests answers 404: nothing of it is left in
    /// the namespace, and the answer is not an error (a destroy running beside it failed so).
    #[test]
    fn a_group_version_gone_since_the_group_list_holds_nothing() {
        let (kinds, unreadable) = namespaced_kinds(&[
            failed("gone.example.com/v1", 404, "404 page not found"),
            served(
                "v1",
                true,
                vec![resource("secrets", "Secret", true, &["list"])],
            ),
        ]);
        assert_eq!(kinds, [("v1".to_string(), "Secret".to_string())]);
        assert!(unreadable.is_empty(), "{unreadable:?}");
    }

    /// An aggregated API that is down may hold objects: it is named, never read as empty.
    #[test]
    fn a_group_version_that_cannot_be_read_is_named() {
        let (kinds, unreadable) = namespaced_kinds(&[failed(
            "metrics.example.com/v1",
            503,
            "the server is currently unable to handle the request",
        )]);
        assert!(kinds.is_empty());
        assert_eq!(unreadable.len(), 1);
        assert_eq!(unreadable[0].0, "metrics.example.com/v1");
        assert!(
            unreadable[0].1.contains("unable to handle"),
            "{unreadable:?}"
        );
    }
}

#[cfg(test)]
mod immutable_tests {
    use super::refuses_a_change_in_place;

    /// The API server's own words (v1.33) for changes it refuses in place.
    #[test]
    fn the_servers_refusals_of_a_change_in_place_are_recognised() {
        for message in [
            "spec.selector: Invalid value: v1.LabelSelector{...}: field is immutable",
            "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"r2\"}: cannot change roleRef",
            "parameters: Forbidden: updates to parameters are forbidden.",
            "spec.clusterIPs[0]: Invalid value: []string{\"None\"}: may not change once set",
            "spec: Forbidden: spec is immutable after creation except resources.requests",
        ] {
            assert!(refuses_a_change_in_place(message), "{message}");
        }
        for message in [
            "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "metadata.name: Invalid value: \"A\": a lowercase RFC 1123 subdomain must consist of ...",
        ] {
            assert!(!refuses_a_change_in_place(message), "{message}");
        }
    }
}
