//! The `kubernetes` backend: the state kept in Secrets of one namespace, the lock a
//! `coordination.k8s.io/v1` Lease, so a team (and its CI) shares one state.
//!
//! Objects, all named from `[state] name` (`NAME`) and labelled `todoplan.dev/state=NAME`:
//! - `NAME`: the current state, gzip'd JSON. What fits goes in the Secret itself; the rest in
//!   content-addressed part Secrets (`NAME-part-<digest>-<i>`) written first. Every write of
//!   `NAME` carries the resourceVersion last read, so of two writers only one can win; part
//!   Secrets are immutable and referenced only once `NAME` names them, so a write is whole or
//!   not at all.
//! - `NAME-backup`: the state before the last write.
//! - `NAME-journal`: while an apply runs, its journal (see [`super::journal`]), rewritten on
//!   every sync; folded into `NAME` at the end.
//! - `NAME-rev-NNNNNN`: one per history revision, the oldest pruned past [`HISTORY_LIMIT`].
//! - `NAME-key`: the digest key, alone, so read access to it can be denied separately.
//! - `NAME-lock`: the Lease (see [`lease`]).

mod lease;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use sha2::{Digest, Sha256};

use super::journal::{self, JournalEntry, JournalHeader, Replayed};
use super::{
    DigestKey, HistoryEntry, Leftovers, LockGuard, LockOptions, Recovery, State, StateBackend,
    StateError, Unlocked, Unsaved, parse_state, write_new,
};

/// Revisions kept as Secrets; older ones are deleted after each new one.
pub const HISTORY_LIMIT: u64 = 100;
/// Bytes of gzip'd state per Secret, well below the API server's 1 MiB object limit (base64
/// adds a third in transit, and etcd's limit is on the stored object).
const CHUNK_BYTES: usize = 700 * 1024;
/// The data key of a history revision (and of its parts).
const HISTORY_KEY: &str = "entry.json.gz";
/// The label every state object carries, valued with the state's name.
pub const STATE_LABEL: &str = "todoplan.dev/state";
const ROLE_LABEL: &str = "todoplan.dev/state-role";
const REVISION_LABEL: &str = "todoplan.dev/revision";
const PARTS_ANNOTATION: &str = "todoplan.dev/parts";
const SERIAL_ANNOTATION: &str = "todoplan.dev/serial";
const DATA_KEY: &str = "state.json.gz";

/// The lines of the running apply's journal, and how many of its bytes are durable.
type OpenJournal = (Vec<u8>, usize);

#[derive(Clone)]
pub struct KubernetesBackend {
    namespace: String,
    name: String,
    context: Option<String>,
    client: Arc<tokio::sync::OnceCell<kube::Client>>,
    /// resourceVersion of `NAME` as last read or written by this process: the precondition of
    /// the next write (`None`: it did not exist, so the next write is a create).
    seen: Arc<Mutex<Option<Option<String>>>>,
    /// The running apply's journal: every line so far, and how many bytes are durable.
    journal: Arc<Mutex<Option<OpenJournal>>>,
    syncing: Arc<tokio::sync::Mutex<()>>,
    /// The serial of the state last read or written: a save never goes below it (a journal
    /// folded in during the run already bumped it).
    saved_serial: Arc<std::sync::atomic::AtomicU64>,
    /// A command that only looks (plan without --out, drift): where no state exists yet it
    /// creates nothing in the cluster (no namespace, no digest key, no Lease).
    look_only: bool,
    /// The health of the Lease this process holds (none held: None): the executor checks it
    /// before every write (see [`KubernetesBackend::fence`]).
    pub(crate) lease_health: Arc<Mutex<Option<lease::LeaseHealth>>>,
}

/// Annotation on a namespace the kubernetes state backend created to hold the state (its value:
/// the state's base name).
pub const MADE_FOR_STATE: &str = "todoplan.dev/made-for-state";

impl std::fmt::Debug for KubernetesBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesBackend")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .finish()
    }
}

/// An API error as the user should see it: the request, then the API server's own message.
fn api_error(what: String, e: kube::Error) -> StateError {
    let message = match &e {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    };
    StateError::Cluster { what, message }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

impl KubernetesBackend {
    pub fn new(namespace: &str, name: &str, context: Option<String>) -> Self {
        KubernetesBackend {
            namespace: namespace.to_string(),
            name: name.to_string(),
            context,
            client: Arc::new(tokio::sync::OnceCell::new()),
            seen: Arc::new(Mutex::new(None)),
            journal: Arc::new(Mutex::new(None)),
            syncing: Arc::new(tokio::sync::Mutex::new(())),
            saved_serial: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            look_only: false,
            lease_health: Arc::new(Mutex::new(None)),
        }
    }

    /// Ok while this process may still write: it holds the Lease, renewed recently enough that
    /// no other run can have taken it over. A holder that was paused (SIGSTOP, a frozen VM) or
    /// cut off from the API server past the Lease's life, or whose renewal was refused, stops
    /// writing: a second run may hold the Lease by then, and two writers would leave the
    /// cluster and the state disagreeing.
    pub fn fence(&self) -> Result<(), String> {
        let health = self.lease_health.lock().unwrap_or_else(|p| p.into_inner());
        match health.as_ref() {
            Some(h) => h.check(),
            None => Ok(()),
        }
    }

    /// For a command that only looks: see [`KubernetesBackend::look_only`].
    pub fn set_look_only(&mut self) {
        self.look_only = true;
    }

    pub fn is_look_only(&self) -> bool {
        self.look_only
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn object(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.name)
    }

    /// `secrets/NS/NAME`, for messages.
    fn at(&self, name: &str) -> String {
        format!("Secret {}/{name}", self.namespace)
    }

    fn path(&self, name: &str) -> PathBuf {
        PathBuf::from(self.at(name))
    }

    /// The connection: the plan's own when shared, else one made from the kubeconfig.
    async fn connection(&self) -> Result<&kube::Client, StateError> {
        self.client
            .get_or_try_init(|| async {
                let config = load_config(self.context.as_deref()).await?;
                kube::Client::try_from(config).map_err(|e| StateError::Cluster {
                    what: "cannot reach the cluster holding the state".into(),
                    message: e.to_string(),
                })
            })
            .await
    }

    /// Uses `client` (the cluster connection of the command) instead of opening another.
    pub fn share_connection(&self, client: kube::Client) {
        let _ = self.client.set(client);
    }

    pub(crate) fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    async fn secrets(&self) -> Result<Api<Secret>, StateError> {
        Ok(Api::namespaced(
            self.connection().await?.clone(),
            &self.namespace,
        ))
    }

    fn labels(&self, role: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (STATE_LABEL.to_string(), self.name.clone()),
            (ROLE_LABEL.to_string(), role.to_string()),
            (
                "app.kubernetes.io/managed-by".to_string(),
                "todoplan".to_string(),
            ),
        ])
    }

    fn secret(&self, name: &str, role: &str, data: BTreeMap<String, Vec<u8>>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(self.namespace.clone()),
                labels: Some(self.labels(role)),
                ..Default::default()
            },
            type_: Some("todoplan.dev/state".to_string()),
            data: Some(data.into_iter().map(|(k, v)| (k, ByteString(v))).collect()),
            ..Default::default()
        }
    }

    async fn get(&self, name: &str) -> Result<Option<Secret>, StateError> {
        self.secrets()
            .await?
            .get_opt(name)
            .await
            .map_err(|e| api_error(format!("cannot read {}", self.at(name)), e))
    }

    /// Creates the namespace of the state when it does not exist yet (the first command that
    /// writes). It carries [`MADE_FOR_STATE`] and todoplan's field manager, so the plan that
    /// follows labels it as this instance's instead of adopting it as someone else's.
    async fn ensure_namespace(&self) -> Result<(), StateError> {
        let api: Api<Namespace> = Api::all(self.connection().await?.clone());
        let what = || format!("cannot create the state's namespace {}", self.namespace);
        match api.get_opt(&self.namespace).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => {
                let ns = Namespace {
                    metadata: ObjectMeta {
                        name: Some(self.namespace.clone()),
                        annotations: Some(BTreeMap::from([(
                            MADE_FOR_STATE.to_string(),
                            self.name.clone(),
                        )])),
                        ..Default::default()
                    },
                    ..Default::default()
                };
                let params = PostParams {
                    field_manager: Some(crate::observe::FIELD_MANAGER.to_string()),
                    ..Default::default()
                };
                match api.create(&params, &ns).await {
                    Ok(_) => Ok(()),
                    Err(e) if is_status(&e, 409) => Ok(()),
                    Err(e) => Err(api_error(what(), e)),
                }
            }
            Err(e) => Err(api_error(what(), e)),
        }
    }

    /// Create, or replace when `resource_version` is given (a precondition).
    async fn put(
        &self,
        mut secret: Secret,
        resource_version: Option<String>,
    ) -> Result<Secret, StateError> {
        let api = self.secrets().await?;
        let name = secret.metadata.name.clone().unwrap_or_default();
        let result = match resource_version {
            Some(rv) => {
                secret.metadata.resource_version = Some(rv);
                api.replace(&name, &PostParams::default(), &secret).await
            }
            None => {
                let first = api.create(&PostParams::default(), &secret).await;
                match first {
                    Err(e) if is_status(&e, 404) => {
                        self.ensure_namespace().await?;
                        api.create(&PostParams::default(), &secret).await
                    }
                    other => other,
                }
            }
        };
        result.map_err(|e| {
            if is_status(&e, 409) {
                StateError::Conflict {
                    location: self.at(&name),
                }
            } else {
                api_error(format!("cannot write {}", self.at(&name)), e)
            }
        })
    }

    /// Create or overwrite, without a precondition (objects only the lock holder writes).
    async fn overwrite(&self, secret: Secret) -> Result<(), StateError> {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let rv = self
            .get(&name)
            .await?
            .and_then(|s| s.metadata.resource_version);
        self.put(secret, rv).await.map(|_| ())
    }

    async fn delete(&self, name: &str) -> Result<(), StateError> {
        match self
            .secrets()
            .await?
            .delete(name, &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) => Err(api_error(format!("cannot delete {}", self.at(name)), e)),
        }
    }

    async fn list(&self, role: &str) -> Result<Vec<Secret>, StateError> {
        let selector = format!("{STATE_LABEL}={},{ROLE_LABEL}={role}", self.name);
        match self
            .secrets()
            .await?
            .list(&ListParams::default().labels(&selector))
            .await
        {
            Ok(list) => Ok(list.items),
            Err(e) => Err(api_error(
                format!("cannot list the {role} Secrets of state {}", self.name),
                e,
            )),
        }
    }

    /// The state in `secret` (its parts read too).
    async fn decode(&self, secret: &Secret) -> Result<State, StateError> {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let corrupt = |message: String| StateError::Corrupt {
            path: self.path(&name),
            message,
        };
        let data = secret.data.clone().unwrap_or_default();
        let mut bytes = data
            .get(DATA_KEY)
            .map(|b| b.0.clone())
            .ok_or_else(|| corrupt(format!("it has no `{DATA_KEY}`")))?;
        for part in parts_of(secret) {
            let found = self
                .get(&part)
                .await?
                .ok_or_else(|| corrupt(format!("its part {part} is missing")))?;
            let chunk = found
                .data
                .and_then(|d| d.get(DATA_KEY).map(|b| b.0.clone()))
                .ok_or_else(|| corrupt(format!("its part {part} has no `{DATA_KEY}`")))?;
            bytes.extend(chunk);
        }
        let text = gunzip(&bytes).map_err(|e| corrupt(format!("not gzip: {e}")))?;
        let text = String::from_utf8(text).map_err(|e| corrupt(e.to_string()))?;
        parse_state(&self.path(&name), &text)
    }

    /// `state` as the Secret `name` (plus part Secrets when it is large).
    async fn encode(&self, name: &str, role: &str, state: &State) -> Result<Secret, StateError> {
        let json = serde_json::to_vec(state).map_err(|e| StateError::Write {
            path: self.path(name),
            source: std::io::Error::other(e),
        })?;
        let packed = gzip(&json);
        let mut chunks = packed.chunks(CHUNK_BYTES);
        let first = chunks.next().unwrap_or_default().to_vec();
        let digest = hex::encode(&Sha256::digest(&packed)[..6]);
        let mut parts = Vec::new();
        for (i, chunk) in chunks.enumerate() {
            let part = format!("{}-part-{digest}-{}", self.name, i + 1);
            let secret = self.secret(
                &part,
                "part",
                BTreeMap::from([(DATA_KEY.to_string(), chunk.to_vec())]),
            );
            match self.put(secret, None).await {
                // Content-addressed: one already there holds these very bytes.
                Ok(_) | Err(StateError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
            parts.push(part);
        }
        let mut secret = self.secret(name, role, BTreeMap::from([(DATA_KEY.to_string(), first)]));
        let mut annotations =
            BTreeMap::from([(SERIAL_ANNOTATION.to_string(), state.serial.to_string())]);
        if !parts.is_empty() {
            annotations.insert(PARTS_ANNOTATION.to_string(), parts.join(","));
        }
        secret.metadata.annotations = Some(annotations);
        Ok(secret)
    }

    /// Deletes part Secrets neither the state nor its backup names.
    async fn prune_parts(&self) -> Result<(), StateError> {
        let mut kept = Vec::new();
        for name in [self.name.clone(), self.object("-backup")] {
            if let Some(s) = self.get(&name).await? {
                kept.extend(parts_of(&s));
            }
        }
        for part in self.list("part").await? {
            let name = part.metadata.name.unwrap_or_default();
            if !kept.contains(&name) {
                self.delete(&name).await?;
            }
        }
        Ok(())
    }

    /// The state Secret alone, remembering its resourceVersion for the next write.
    async fn load_main(&self) -> Result<Option<State>, StateError> {
        let found = self.get(&self.name).await?;
        let rv = found
            .as_ref()
            .and_then(|s| s.metadata.resource_version.clone());
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(rv);
        let state = match found {
            Some(secret) => Some(self.decode(&secret).await?),
            None => None,
        };
        self.saved_serial.store(
            state.as_ref().map_or(0, |s| s.serial),
            std::sync::atomic::Ordering::SeqCst,
        );
        Ok(state)
    }

    async fn journal_bytes(&self) -> Result<Option<Vec<u8>>, StateError> {
        let name = self.object("-journal");
        let Some(secret) = self.get(&name).await? else {
            return Ok(None);
        };
        let packed = secret
            .data
            .and_then(|d| d.get("journal.gz").map(|b| b.0.clone()))
            .unwrap_or_default();
        gunzip(&packed).map(Some).map_err(|e| StateError::Corrupt {
            path: self.path(&name),
            message: format!("not gzip: {e}"),
        })
    }

    /// The journal of an apply that did not finish, replayed onto the state Secret.
    pub async fn pending(&self) -> Result<Option<Replayed>, StateError> {
        let found = self.load_main().await?;
        self.replay_onto(found.as_ref()).await
    }

    async fn replay_onto(&self, found: Option<&State>) -> Result<Option<Replayed>, StateError> {
        match self.journal_bytes().await? {
            Some(bytes) => journal::replay(found, &self.path(&self.object("-journal")), &bytes),
            None => Ok(None),
        }
    }

    pub async fn has_journal(&self) -> Result<bool, StateError> {
        Ok(self.get(&self.object("-journal")).await?.is_some())
    }

    /// Where the journal lives, for messages.
    pub fn journal_location(&self) -> String {
        self.at(&self.object("-journal"))
    }

    /// Writes `state` as it is (serial included), the previous one becoming the backup.
    async fn write_main(&self, state: &State) -> Result<(), StateError> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let precondition = match seen {
            Some(rv) => rv,
            // Never read in this process: read now (the lock holder is the only writer).
            None => {
                self.load_main().await?;
                self.seen
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone()
                    .flatten()
            }
        };
        if let Some(previous) = self.get(&self.name).await? {
            let mut backup = previous.clone();
            backup.metadata = ObjectMeta {
                name: Some(self.object("-backup")),
                namespace: Some(self.namespace.clone()),
                labels: Some(self.labels("backup")),
                annotations: previous.metadata.annotations.clone(),
                ..Default::default()
            };
            self.overwrite(backup).await?;
        }
        let secret = self.encode(&self.name, "state", state).await?;
        let written = self.put(secret, precondition).await?;
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(written.metadata.resource_version);
        self.saved_serial
            .store(state.serial, std::sync::atomic::Ordering::SeqCst);
        self.prune_parts().await
    }

    /// Starts an apply's journal on top of `state` (as opened): a pending journal is folded
    /// into the state first; the new journal's header is durable before this returns.
    pub async fn begin_journal(&self, state: &State) -> Result<(), StateError> {
        *self.journal.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if self.has_journal().await? {
            if self.pending().await?.is_some() {
                self.write_main(state).await?;
            }
            self.delete(&self.object("-journal")).await?;
        }
        let mut bytes = serde_json::to_vec(&JournalHeader::for_state(state)).map_err(|e| {
            StateError::Write {
                path: self.path(&self.object("-journal")),
                source: std::io::Error::other(e),
            }
        })?;
        bytes.push(b'\n');
        *self.journal.lock().unwrap_or_else(|p| p.into_inner()) = Some((bytes, 0));
        self.sync_journal().await
    }

    /// Appends to the running journal; durable after [`KubernetesBackend::sync_journal`].
    pub fn journal(&self, entry: &JournalEntry) -> Result<(), StateError> {
        let mut open = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        let path = self.path(&self.object("-journal"));
        let Some((bytes, _)) = open.as_mut() else {
            return Err(StateError::Write {
                path,
                source: std::io::Error::other("no apply journal is open"),
            });
        };
        let line = serde_json::to_vec(entry).map_err(|e| StateError::Write {
            path,
            source: std::io::Error::other(e),
        })?;
        bytes.extend(line);
        bytes.push(b'\n');
        Ok(())
    }

    /// Makes every journal entry so far durable: one write of the journal Secret.
    pub async fn sync_journal(&self) -> Result<(), StateError> {
        // One sync at a time: each rewrites the whole journal Secret.
        let _one = self.syncing.lock().await;
        let snapshot = {
            let open = self.journal.lock().unwrap_or_else(|p| p.into_inner());
            match open.as_ref() {
                Some((bytes, synced)) if bytes.len() > *synced => Some(bytes.clone()),
                _ => None,
            }
        };
        let Some(bytes) = snapshot else {
            return Ok(());
        };
        let packed = gzip(&bytes);
        if packed.len() > CHUNK_BYTES {
            return self.fold_journal(&bytes).await;
        }
        let name = self.object("-journal");
        let secret = self.secret(
            &name,
            "journal",
            BTreeMap::from([("journal.gz".to_string(), packed)]),
        );
        self.overwrite(secret).await?;
        if let Some((_, synced)) = self
            .journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            *synced = (*synced).max(bytes.len());
        }
        Ok(())
    }

    /// A journal grown past one Secret: the state with it replayed becomes the saved state
    /// (serial bumped), and the journal starts again on top of it with what was appended since.
    /// Killed in between, the old journal no longer matches the saved state and is ignored.
    async fn fold_journal(&self, bytes: &[u8]) -> Result<(), StateError> {
        let path = self.path(&self.object("-journal"));
        let base = self.load_main().await?;
        let replayed =
            journal::replay(base.as_ref(), &path, bytes)?.ok_or_else(|| StateError::Corrupt {
                path: path.clone(),
                message: "the running apply's journal does not apply to the saved state".into(),
            })?;
        self.write_main(&replayed.state).await?;
        let mut header =
            serde_json::to_vec(&JournalHeader::for_state(&replayed.state)).map_err(|e| {
                StateError::Write {
                    path: path.clone(),
                    source: std::io::Error::other(e),
                }
            })?;
        header.push(b'\n');
        let restarted = {
            let mut open = self.journal.lock().unwrap_or_else(|p| p.into_inner());
            let Some((all, synced)) = open.as_mut() else {
                return Ok(());
            };
            let mut next = header;
            next.extend_from_slice(&all[bytes.len().min(all.len())..]);
            *all = next.clone();
            *synced = 0;
            next
        };
        let secret = self.secret(
            &self.object("-journal"),
            "journal",
            BTreeMap::from([("journal.gz".to_string(), gzip(&restarted))]),
        );
        self.overwrite(secret).await?;
        if let Some((_, synced)) = self
            .journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            *synced = (*synced).max(restarted.len());
        }
        Ok(())
    }

    fn revision_name(&self, revision: u64) -> String {
        format!("{}-rev-{revision:06}", self.name)
    }

    /// Deletes the oldest revisions past [`HISTORY_LIMIT`].
    async fn prune_history(&self) -> Result<(), StateError> {
        let revisions = self.revisions().await?;
        let excess = revisions.len().saturating_sub(HISTORY_LIMIT as usize);
        for revision in &revisions[..excess] {
            let name = self.revision_name(*revision);
            let parts = match self.get(&name).await? {
                Some(secret) => parts_of(&secret),
                None => Vec::new(),
            };
            self.delete(&name).await?;
            for part in parts {
                self.delete(&part).await?;
            }
        }
        Ok(())
    }

    async fn digest_key_secret(&self) -> Result<DigestKey, StateError> {
        let name = self.object("-key");
        let read = |secret: Secret| {
            secret
                .data
                .and_then(|d| {
                    d.get("key")
                        .map(|b| String::from_utf8_lossy(&b.0).to_string())
                })
                .and_then(|hex| DigestKey::from_hex(&hex))
                .ok_or_else(|| StateError::BadDigestKey {
                    path: self.path(&name),
                })
        };
        if let Some(secret) = self.get(&name).await? {
            return read(secret);
        }
        let key = DigestKey::generate();
        if self.look_only {
            // Nothing was applied yet, so no digest made with it is ever compared with one of
            // a later run; the first command that writes makes and keeps the real key.
            return Ok(key);
        }
        let secret = self.secret(
            &name,
            "key",
            BTreeMap::from([("key".to_string(), key.to_hex().into_bytes())]),
        );
        match self.put(secret, None).await {
            Ok(_) => Ok(key),
            // Another process made one first: use the winner's.
            Err(StateError::Conflict { .. }) => match self.get(&name).await? {
                Some(secret) => read(secret),
                None => Err(StateError::BadDigestKey {
                    path: self.path(&name),
                }),
            },
            Err(e) => Err(e),
        }
    }

    /// Writes a migrated state, its history and digest key into an empty backend, keeping
    /// lineage and serial.
    pub async fn import(
        &self,
        state: &State,
        history: &[HistoryEntry],
        key: &DigestKey,
    ) -> Result<(), StateError> {
        let name = self.object("-key");
        let secret = self.secret(
            &name,
            "key",
            BTreeMap::from([("key".to_string(), key.to_hex().into_bytes())]),
        );
        match self.put(secret, None).await {
            Ok(_) => {}
            // A migration stopped part way wrote it: the same key is resumed over.
            Err(StateError::Conflict { location }) => {
                if self.digest_key_secret().await? != *key {
                    return Err(StateError::Conflict { location });
                }
            }
            Err(e) => return Err(e),
        }
        for entry in history {
            match self.write_history(entry).await {
                Ok(()) => {}
                Err(StateError::HistoryExists { revision, path })
                    if self.read_history(revision).await.ok().as_ref() != Some(entry) =>
                {
                    return Err(StateError::HistoryExists { revision, path });
                }
                // The same revision, written by a migration stopped part way.
                Err(StateError::HistoryExists { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(None);
        self.write_main(state).await
    }

    /// A revision: its Secret's `entry.json.gz`, followed by its part Secrets' (a revision
    /// larger than one Secret holds is split as the state is).
    async fn decode_history(&self, secret: Secret) -> Result<HistoryEntry, StateError> {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let corrupt = |message: String| StateError::Corrupt {
            path: self.path(&name),
            message,
        };
        let parts = parts_of(&secret);
        let mut packed = secret
            .data
            .and_then(|d| d.get(HISTORY_KEY).map(|b| b.0.clone()))
            .ok_or_else(|| corrupt(format!("it has no `{HISTORY_KEY}`")))?;
        for part in parts {
            let chunk = self
                .get(&part)
                .await?
                .and_then(|s| s.data)
                .and_then(|d| d.get(HISTORY_KEY).map(|b| b.0.clone()))
                .ok_or_else(|| corrupt(format!("its part {part} is missing")))?;
            packed.extend(chunk);
        }
        let json = gunzip(&packed).map_err(|e| corrupt(format!("not gzip: {e}")))?;
        serde_json::from_slice(&json).map_err(|e| corrupt(e.to_string()))
    }

    pub(crate) async fn lease_api(&self) -> Result<kube::Client, StateError> {
        self.connection().await.cloned()
    }
}

/// The kubeconfig's cluster for `context`, with todoplan's request deadlines.
pub(crate) async fn load_config(context: Option<&str>) -> Result<kube::Config, StateError> {
    let fail = |message: String| StateError::Cluster {
        what: "cannot reach the cluster holding the state".into(),
        message,
    };
    let kubeconfig = kube::config::Kubeconfig::read().map_err(|e| fail(e.to_string()))?;
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let timeout = crate::observe::request_timeout();
    config.connect_timeout = Some(timeout.min(std::time::Duration::from_secs(10)));
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    Ok(config)
}

fn parts_of(secret: &Secret) -> Vec<String> {
    secret
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PARTS_ANNOTATION))
        .map(|p| {
            p.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[async_trait]
impl StateBackend for KubernetesBackend {
    fn location(&self) -> String {
        self.at(&self.name)
    }

    async fn read_state(&self) -> Result<Option<State>, StateError> {
        // Two round trips at once: they do not depend on each other.
        let (found, journal) = tokio::join!(self.load_main(), self.journal_bytes());
        let found = found?;
        let replayed = match journal? {
            Some(bytes) => {
                journal::replay(found.as_ref(), &self.path(&self.object("-journal")), &bytes)?
            }
            None => None,
        };
        Ok(match replayed {
            Some(replayed) => Some(replayed.state),
            None => found,
        })
    }

    async fn save_state(&self, state: &mut State) -> Result<(), StateError> {
        let mut next = state.clone();
        let saved = self.saved_serial.load(std::sync::atomic::Ordering::SeqCst);
        next.serial = next.serial.max(saved) + 1;
        next.todoplan_version = env!("CARGO_PKG_VERSION").to_string();
        self.write_main(&next).await?;
        *self.journal.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.delete(&self.object("-journal")).await?;
        *state = next;
        Ok(())
    }

    async fn lock_state(&self, options: &LockOptions) -> Result<LockGuard, StateError> {
        lease::acquire(self, options).await
    }

    async fn break_lock(&self, id: &str) -> Result<Unlocked, StateError> {
        lease::force_unlock(self, id).await
    }

    async fn write_history(&self, entry: &HistoryEntry) -> Result<(), StateError> {
        let name = self.revision_name(entry.revision);
        let json = serde_json::to_vec(entry).map_err(|e| StateError::Write {
            path: self.path(&name),
            source: std::io::Error::other(e),
        })?;
        let packed = gzip(&json);
        // Parts first (a revision larger than one Secret holds), then the revision naming them.
        let mut chunks = packed.chunks(CHUNK_BYTES);
        let first = chunks.next().unwrap_or_default().to_vec();
        let mut parts = Vec::new();
        for (i, chunk) in chunks.enumerate() {
            let part = format!("{name}-part-{}", i + 1);
            let secret = self.secret(
                &part,
                "history-part",
                BTreeMap::from([(HISTORY_KEY.to_string(), chunk.to_vec())]),
            );
            match self.put(secret, None).await {
                // Left by a run that died before writing the revision: replace it.
                Err(StateError::Conflict { .. }) => {
                    self.delete(&part).await?;
                    let secret = self.secret(
                        &part,
                        "history-part",
                        BTreeMap::from([(HISTORY_KEY.to_string(), chunk.to_vec())]),
                    );
                    self.put(secret, None).await?;
                }
                other => {
                    other?;
                }
            }
            parts.push(part);
        }
        let mut secret = self.secret(
            &name,
            "history",
            BTreeMap::from([(HISTORY_KEY.to_string(), first)]),
        );
        if let Some(labels) = secret.metadata.labels.as_mut() {
            labels.insert(REVISION_LABEL.to_string(), entry.revision.to_string());
        }
        if !parts.is_empty() {
            secret
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(PARTS_ANNOTATION.to_string(), parts.join(","));
        }
        match self.put(secret, None).await {
            Ok(_) => {}
            Err(StateError::Conflict { .. }) => {
                return Err(StateError::HistoryExists {
                    path: self.path(&name),
                    revision: entry.revision,
                });
            }
            Err(e) => return Err(e),
        }
        self.prune_history().await
    }

    /// One LIST for every revision, not a GET each.
    async fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        let mut out = Vec::new();
        for secret in self.list("history").await? {
            out.push(self.decode_history(secret).await?);
        }
        out.sort_by_key(|e| e.revision);
        Ok(out)
    }

    async fn read_history(&self, revision: u64) -> Result<HistoryEntry, StateError> {
        let name = self.revision_name(revision);
        let secret = self
            .get(&name)
            .await?
            .ok_or(StateError::NoRevision { revision })?;
        self.decode_history(secret).await
    }

    async fn revisions(&self) -> Result<Vec<u64>, StateError> {
        let mut out: Vec<u64> = self
            .list("history")
            .await?
            .iter()
            .filter_map(|s| {
                s.metadata
                    .labels
                    .as_ref()?
                    .get(REVISION_LABEL)?
                    .parse()
                    .ok()
            })
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    async fn leftovers(&self) -> Result<Leftovers, StateError> {
        let mut found = Vec::new();
        let mut restore = String::new();
        if let Some(backup) = self.get(&self.object("-backup")).await? {
            let what = match self.decode(&backup).await {
                Ok(s) => format!(" (revision {}, serial {})", s.revision, s.serial),
                Err(_) => String::new(),
            };
            found.push(format!(
                "its backup {}{what} exists",
                self.at(&self.object("-backup"))
            ));
            restore = format!(
                "restore the backup: `kubectl -n {ns} get secret {b} -o json | jq '.metadata={{name:\"{n}\",labels:.metadata.labels,annotations:.metadata.annotations}}' | kubectl -n {ns} create -f -`",
                ns = self.namespace,
                b = self.object("-backup"),
                n = self.name
            );
        }
        if self.has_journal().await? {
            found.push(format!(
                "the journal {} of an unfinished apply exists",
                self.journal_location()
            ));
        }
        let revisions = self.revisions().await?;
        if let Some(last) = revisions.last() {
            found.push(format!(
                "its history (Secrets {}-rev-*) records revisions up to {last}",
                self.name
            ));
        }
        if restore.is_empty() && !found.is_empty() {
            restore = "no backup remains: if you have a copy of the state, put it back".into();
        }
        Ok(Leftovers { found, restore })
    }

    async fn archive_leftovers(&self) -> Result<String, StateError> {
        let stamp = chrono::Utc::now().format("%Y%m%dt%H%M%S").to_string();
        let archive = format!("{}-archive-{stamp}", self.name);
        let moved = |mut secret: Secret, to: String, role: &str| {
            let labels = secret.metadata.labels.clone().unwrap_or_default();
            secret.metadata = ObjectMeta {
                name: Some(to),
                namespace: Some(self.namespace.clone()),
                labels: Some(
                    labels
                        .into_iter()
                        .map(|(k, v)| match k.as_str() {
                            STATE_LABEL => (k, archive.clone()),
                            ROLE_LABEL => (k, role.to_string()),
                            _ => (k, v),
                        })
                        .collect(),
                ),
                annotations: secret.metadata.annotations.clone(),
                ..Default::default()
            };
            secret
        };
        let mut names = vec![self.object("-backup"), self.object("-journal")];
        names.extend(
            self.revisions()
                .await?
                .into_iter()
                .map(|r| self.revision_name(r)),
        );
        for name in names {
            if let Some(secret) = self.get(&name).await? {
                let role = secret
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(ROLE_LABEL).cloned())
                    .unwrap_or_default();
                let to = format!("{archive}{}", name.trim_start_matches(&self.name));
                // Copied first, deleted after: never lost in between.
                self.put(moved(secret, to, &role), None).await?;
                self.delete(&name).await?;
            }
        }
        Ok(format!("the Secrets {}/{archive}-*", self.namespace))
    }

    async fn write_recovery(&self, unsaved: Unsaved<'_>) -> Result<Recovery, StateError> {
        // The cluster refused the write: keep it on this machine, as a local state directory
        // that `state migrate` can move back.
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let dir = std::env::temp_dir().join(format!("todoplan-recovery-{}-{stamp}", self.name));
        let (path, bytes) = match unsaved {
            Unsaved::State(state) => (
                dir.join(super::STATE_FILE),
                serde_json::to_vec_pretty(state),
            ),
            Unsaved::History(entry) => (
                dir.join("history")
                    .join(format!("{:06}.json", entry.revision)),
                serde_json::to_vec_pretty(entry),
            ),
        };
        let bytes = bytes.map_err(|e| StateError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_new(&path, &bytes).map_err(|source| StateError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(Recovery {
            location: path.display().to_string(),
            // Nothing in the cluster names it: the next apply finds this run's objects by their
            // instance labels and records them again.
            restore: format!(
                "todoplan apply (it records again what this run wrote; {} shows what that was)",
                dir.display()
            ),
        })
    }

    async fn digest_key(&self) -> Result<DigestKey, StateError> {
        self.digest_key_secret().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_round_trips_and_shrinks_a_state() {
        let mut state = State::new("todo");
        for i in 0..200 {
            state.release_values.insert(
                format!("release{i}"),
                BTreeMap::from([("config.LOG_LEVEL".into(), "\"info\"".into())]),
            );
        }
        let json = serde_json::to_vec(&state).unwrap();
        let packed = gzip(&json);
        assert!(
            packed.len() * 4 < json.len(),
            "{} vs {}",
            packed.len(),
            json.len()
        );
        assert_eq!(gunzip(&packed).unwrap(), json);
    }

    #[test]
    fn parts_are_read_from_the_annotation_in_order() {
        let mut s = Secret::default();
        s.metadata.annotations = Some(BTreeMap::from([(
            PARTS_ANNOTATION.to_string(),
            "a-part-1,a-part-2".to_string(),
        )]));
        assert_eq!(parts_of(&s), vec!["a-part-1", "a-part-2"]);
        assert!(parts_of(&Secret::default()).is_empty());
    }
}
