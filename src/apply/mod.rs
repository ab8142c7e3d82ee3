//! Apply: carry out a plan in dependency order, wait until things work, record every step.

pub use crate::model::progress;
pub mod readiness;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use std::sync::Mutex;

use tokio::sync::Semaphore;

use crate::chart::install_order_rank;
use crate::graph::Address;
use crate::model::object::Metadata;
use crate::model::smoke::SmokeCheck;
use crate::observe::{Cluster, ClusterClient, ObjectKey};
use crate::plan::compute::{Computed, digest_salt};
use crate::plan::desired::DesiredObject;
use crate::plan::redact::redact;
use crate::plan::{Action, ObjectChange};
use crate::state::{
    JournalEntry, LocalBackend, ObjectRecord, Observed, Outcome, Provenance, SecretRecord, State,
    StateStore,
};
use progress::Progress;

pub struct ApplyOptions {
    pub parallelism: usize,
    pub progress: Progress,
    /// Set by Ctrl-C: start nothing new.
    pub cancelled: Arc<AtomicBool>,
    /// Where the run comes from (git commit, saved plan's checksum, `-m` message), recorded in
    /// the revision it ends with.
    pub provenance: Provenance,
}

#[derive(Debug)]
pub struct ApplyReport {
    pub outcome: Outcome,
    /// (node address, rendered error) for each failure.
    pub failures: Vec<(String, String)>,
    /// Nodes not started because something they depend on failed (or Ctrl-C).
    pub skipped: Vec<String>,
    pub written: usize,
    pub deleted: usize,
    pub revision: u64,
    /// The state or history could not be written at the end (the apply itself may have
    /// succeeded): the message names the path and where the unsaved state went.
    pub record_error: Option<String>,
    /// The run was interrupted (Ctrl-C): it started nothing new after that.
    pub interrupted: bool,
    /// What the API server warned about while the run wrote (deprecated versions, ...).
    pub warnings: Vec<String>,
}

/// How often a write of a kind the cluster does not serve is tried again (every 500 ms), for
/// the custom resources of a CRD established a moment before.
const UNKNOWN_KIND_RETRIES: u32 = 20;

/// The node that applies `d`: its release, or itself for namespace and secret nodes.
fn unit_of(d: &DesiredObject) -> Address {
    match &d.release {
        Some(r) => Address::Release(r.clone()),
        None => d.address.clone(),
    }
}

pub use crate::state::manifest_digest;

/// Waiting until an applied object works (the real one watches; see [`readiness`]).
#[allow(async_fn_in_trait)]
pub trait Readiness {
    /// Ok when `key` is ready within `timeout`; the rendered diagnosis otherwise.
    async fn wait_ready(&self, key: &ObjectKey, timeout: std::time::Duration)
    -> Result<(), String>;
    /// One smoke check request: the status and body answered.
    async fn probe(&self, check: &SmokeCheck) -> Result<(u16, String), String>;
    /// What a failed smoke check shows: the pods behind its Service, their events and logs.
    async fn diagnose_service(&self, namespace: &str, service: &str) -> String;
}

impl Readiness for ClusterClient {
    async fn wait_ready(
        &self,
        key: &ObjectKey,
        timeout: std::time::Duration,
    ) -> Result<(), String> {
        readiness::wait_ready(self.watch_client(), key, timeout)
            .await
            .map_err(render_report)
    }
    async fn probe(&self, check: &SmokeCheck) -> Result<(u16, String), String> {
        readiness::proxy_get(self.watch_client(), &check.proxy_path()).await
    }
    async fn diagnose_service(&self, namespace: &str, service: &str) -> String {
        readiness::diagnose_service(self.watch_client(), namespace, service).await
    }
}

/// Runs a release's smoke checks, each retried until it passes or its timeout ends (a Service
/// routes to new pods a moment after they are Ready). The first failure ends the release with
/// the last answer and the Service's pods' events and logs.
async fn run_smoke_checks<C: Readiness>(
    cluster: &C,
    checks: &[&SmokeCheck],
    progress: &progress::NodeProgress,
) -> Result<(), String> {
    for check in checks {
        progress.update(&format!("smoke check: {}", check.describe()));
        let deadline =
            std::time::Instant::now() + std::time::Duration::from_secs(check.timeout_secs);
        let last = loop {
            let answer = cluster.probe(check).await;
            if let Ok((status, body)) = &answer
                && check.passes(*status, body)
            {
                break None;
            }
            if std::time::Instant::now() >= deadline {
                break Some(answer);
            }
            tokio::time::sleep(SMOKE_RETRY_INTERVAL).await;
        };
        let Some(answer) = last else { continue };
        let answered = match answer {
            Ok((status, body)) => format!(
                "the last answer was {status}{}: {}",
                if status == check.expect {
                    ", without the expected text"
                } else {
                    ""
                },
                crate::model::smoke::body_excerpt(&body, SMOKE_BODY_EXCERPT)
            ),
            Err(e) => format!("the last request failed: {e}"),
        };
        let at = check
            .source
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        return Err(format!(
            "smoke check {}{at} failed after {}s; {answered}\n{}",
            check.describe(),
            check.timeout_secs,
            cluster
                .diagnose_service(&check.namespace, &check.service)
                .await
                .trim_end()
        ));
    }
    Ok(())
}

/// Pause between two requests of a smoke check that has not passed yet.
const SMOKE_RETRY_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);
/// Characters of a failed smoke check's response body shown in the error.
const SMOKE_BODY_EXCERPT: usize = 300;

/// Where the executor records what it did: every object write, and the revision at the end.
///
/// Writes are journaled, not saved one by one: [`StateSink::journal`] appends, and
/// [`StateSink::sync`] makes a batch durable before anything that depends on it is written, so
/// apply stays linear in the number of objects and the state stays true after a kill at any
/// point (see `state::journal`).
#[allow(async_fn_in_trait)]
pub trait StateSink: Sync {
    /// Before the first write of a run: `state` (as opened) is durable and the run's journal
    /// is open.
    async fn begin(&self, state: &State) -> Result<(), crate::state::StateError>;
    /// One change to the state's records; durable after the next [`StateSink::sync`].
    fn journal(&self, entry: &JournalEntry) -> Result<(), crate::state::StateError>;
    /// Makes everything journaled so far durable.
    async fn sync(&self) -> Result<(), crate::state::StateError>;
    /// Ends a run: a new revision in the state and its history (with where it came from), or
    /// an error naming what was not written and where the unsaved content went.
    async fn record_revision(
        &self,
        state: &mut State,
        summary: String,
        outcome: Outcome,
        provenance: &Provenance,
    ) -> Result<u64, crate::state::StateError>;
    /// Ok while this run may write to the cluster: the state lock is still its own (a Lease
    /// can be lost; see `KubernetesBackend::fence`). Asked before every write.
    fn fence(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Either backend a spec names: the local directory or Secrets in the cluster.
impl StateSink for StateStore {
    fn fence(&self) -> Result<(), String> {
        match self {
            StateStore::Kubernetes(backend) => backend.fence(),
            // A local lock is held for as long as its holder's process lives, paused or not.
            StateStore::Local(_) => Ok(()),
        }
    }
    async fn begin(&self, state: &State) -> Result<(), crate::state::StateError> {
        self.begin_journal(state).await
    }
    fn journal(&self, entry: &JournalEntry) -> Result<(), crate::state::StateError> {
        StateStore::journal(self, entry)
    }
    async fn sync(&self) -> Result<(), crate::state::StateError> {
        self.sync_journal().await
    }
    async fn record_revision(
        &self,
        state: &mut State,
        summary: String,
        outcome: Outcome,
        provenance: &Provenance,
    ) -> Result<u64, crate::state::StateError> {
        crate::state::record_revision_with(self, state, summary, outcome, provenance).await
    }
}

impl StateSink for LocalBackend {
    async fn begin(&self, state: &State) -> Result<(), crate::state::StateError> {
        let (me, state) = (self.clone(), state.clone());
        match tokio::task::spawn_blocking(move || me.begin_journal(&state)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(crate::state::StateError::Write {
                path: self.journal_path(),
                source: std::io::Error::other(e),
            }),
        }
    }
    fn journal(&self, entry: &JournalEntry) -> Result<(), crate::state::StateError> {
        LocalBackend::journal(self, entry)
    }
    async fn sync(&self) -> Result<(), crate::state::StateError> {
        let me = self.clone();
        match tokio::task::spawn_blocking(move || me.sync_journal()).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(crate::state::StateError::Write {
                path: self.journal_path(),
                source: std::io::Error::other(e),
            }),
        }
    }
    async fn record_revision(
        &self,
        state: &mut State,
        summary: String,
        outcome: Outcome,
        provenance: &Provenance,
    ) -> Result<u64, crate::state::StateError> {
        crate::state::record_revision_with(self, state, summary, outcome, provenance).await
    }
}

/// Objects of one install-order rank written at once within a release (they do not depend on
/// each other); the same bound as the plan's dry-runs.
const OBJECTS_IN_FLIGHT: usize = 16;

struct Shared<'a, C, B> {
    cluster: &'a C,
    /// The options the plan was made with: the protection gate's input at execution.
    options: &'a crate::plan::PlanOptions,
    backend: &'a B,
    /// A plain (not async) lock, only ever held in synchronous sections: an async mutex hands
    /// itself to a waiting future at release, and a unit future waiting inside the executor's
    /// FuturesUnordered is not polled while the loop around it waits for the same lock: every
    /// unit then waits forever (the apply hang of 10,000 objects over 100 releases).
    state: Mutex<&'a mut State>,
    salt: String,
    /// What the cluster's dry-run answers depended on at plan time: recorded with every write,
    /// so the next plan can skip objects unchanged since (see `plan::incremental`).
    basis: Option<&'a crate::plan::incremental::Basis>,
    /// Fingerprints of live objects the plan found nothing to change in.
    confirmed: &'a BTreeMap<String, crate::plan::incremental::Confirmed>,
    /// Every write made so far, also by units that failed afterwards (a release whose objects
    /// were written and then never became ready): the report counts what really happened.
    writes: std::sync::atomic::AtomicUsize,
}

impl<C: Cluster + Readiness, B: StateSink> Shared<'_, C, B> {
    /// Records a written object. One the apply then waits for is recorded tainted until it is
    /// seen ready ([`Self::seen_ready`]): killed during the wait, the next plan applies it again
    /// and waits, instead of saying "No changes" about a rollout nobody saw finish.
    async fn record(&self, d: &DesiredObject, applied: &Value) -> Result<(), String> {
        let waited = readiness::waits_for(crate::plan::normalize::kind_of(&d.object));
        self.record_with(d, applied, waited).await
    }

    /// A written object the apply waited for became ready: its record is no longer tainted.
    async fn seen_ready(&self, d: &DesiredObject) -> Result<(), String> {
        self.amend(&d.address.to_string(), |r| {
            (r.tainted && !r.hook_deleted).then(|| ObjectRecord {
                tainted: false,
                ..r.clone()
            })
        })
    }

    /// Records `d`; `tainted`: written, but not seen ready (the next plan waits for it again).
    async fn record_with(
        &self,
        d: &DesiredObject,
        applied: &Value,
        tainted: bool,
    ) -> Result<(), String> {
        let uid = applied
            .metadata_field("uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        // What the server answered to this write is what the next plan's dry-run would answer
        // while nothing moves (a tainted record is never skipped, whatever it holds).
        let observed = match (&uid, self.basis) {
            (Some(_), Some(basis)) => basis.for_key(&d.key()).map(|basis| Observed {
                live: crate::plan::incremental::live_fingerprint(applied, &self.salt),
                basis,
            }),
            _ => None,
        };
        self.put(d, uid, tainted, false, observed).await
    }

    /// A recorded object the plan found nothing to change in: its record learns the live
    /// object's fingerprint (the dry-run proved it is the answer), so the next plan can skip
    /// the dry-run. Only when the record is of this very manifest; otherwise nothing changes.
    async fn confirm(&self, d: &DesiredObject) -> Result<(), String> {
        let address = d.address.to_string();
        let (Some(confirmed), Some(basis)) = (
            self.confirmed.get(&address),
            self.basis.and_then(|b| b.for_key(&d.key())),
        ) else {
            return Ok(());
        };
        let observed = Observed {
            live: confirmed.live.clone(),
            basis,
        };
        self.amend(&address, |r| {
            let changed = r.observed.as_ref() != Some(&observed) || r.uid != confirmed.uid;
            // The digest last: most unchanged objects are already confirmed.
            (changed
                && confirmed.uid.is_some()
                && !r.tainted
                && !r.hook_deleted
                && r.digest == manifest_digest(&d.object, &self.salt))
            .then(|| ObjectRecord {
                observed: Some(observed),
                uid: confirmed.uid.clone(),
                ..r.clone()
            })
        })
    }

    /// Records a hook its delete policy removed after it ran (tainted when it failed).
    async fn record_hook_deleted(
        &self,
        d: &DesiredObject,
        uid: Option<String>,
        failed: bool,
    ) -> Result<(), String> {
        self.put(d, uid, failed, true, None).await
    }

    /// Journals the record of `d` and keeps it in the run's state.
    async fn put(
        &self,
        d: &DesiredObject,
        uid: Option<String>,
        tainted: bool,
        hook_deleted: bool,
        observed: Option<Observed>,
    ) -> Result<(), String> {
        let key = d.key();
        // Secrets are redacted field by field; any other object may hold a copy of a secret
        // value (a chart's `lookup`): no form of it reaches the state.
        let mut manifest = redact(&d.object, &self.salt);
        crate::model::masking::mask_leaves(&mut manifest);
        let record = ObjectRecord {
            release: d.release.clone().unwrap_or_default(),
            api_version: key.api_version,
            kind: key.kind,
            namespace: key.namespace,
            name: key.name,
            uid,
            digest: manifest_digest(&d.object, &self.salt),
            manifest: manifest.into(),
            protect: d.protect,
            tainted,
            hook_deleted,
            observed,
        };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.journal(
            &mut state,
            JournalEntry::Put {
                address: d.address.to_string(),
                record: Box::new(record),
            },
        )
    }

    /// Replaces the record at `address` with what `change` makes of it (None: unchanged), under
    /// one hold of the state's lock.
    fn amend(
        &self,
        address: &str,
        change: impl FnOnce(&ObjectRecord) -> Option<ObjectRecord>,
    ) -> Result<(), String> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(record) = state.objects.get(address).and_then(change) else {
            return Ok(());
        };
        self.journal(
            &mut state,
            JournalEntry::Put {
                address: address.to_string(),
                record: Box::new(record),
            },
        )
    }

    /// Keeps `record` in state at `address` if state does not hold it yet.
    fn remember(&self, address: &str, record: &ObjectRecord) -> Result<(), String> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.objects.contains_key(address) {
            return Ok(());
        }
        self.journal(
            &mut state,
            JournalEntry::Put {
                address: address.to_string(),
                record: Box::new(record.clone()),
            },
        )
    }

    async fn forget(&self, address: &str) -> Result<(), String> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.journal(
            &mut state,
            JournalEntry::Forget {
                address: address.to_string(),
            },
        )
    }

    /// Appends `entry` to the journal, then applies it to the run's state (held by the caller).
    fn journal(&self, state: &mut State, entry: JournalEntry) -> Result<(), String> {
        self.backend
            .journal(&entry)
            .map_err(|e| format!("{:?}", miette::Report::from(e)))?;
        entry.apply_to(state);
        Ok(())
    }

    /// What was journaled so far is durable: called before dependents are written.
    async fn sync(&self) -> Result<(), String> {
        self.backend
            .sync()
            .await
            .map_err(|e| format!("{:?}", miette::Report::from(e)))
    }
}

/// Drops todoplan's ownership labels from an object it no longer manages but must not delete.
async fn release_kept<C: Cluster>(cluster: &C, key: &ObjectKey) -> Result<(), String> {
    let Some(live) = cluster.get(key).await.map_err(render_report)? else {
        return Ok(());
    };
    let ops: Vec<Value> = [
        crate::observe::LABEL_PROJECT,
        crate::observe::LABEL_INSTANCE,
        crate::observe::LABEL_RELEASE,
    ]
    .iter()
    .map(|l| format!("/metadata/labels/{}", l.replace('/', "~1")))
    .filter(|path| live.pointer(path).is_some())
    .map(|path| serde_json::json!({"op": "remove", "path": path}))
    .collect();
    if ops.is_empty() {
        return Ok(());
    }
    cluster.json_patch(key, ops).await.map_err(render_report)
}

fn render_report(e: impl Into<miette::Report>) -> String {
    format!("{:?}", e.into())
}

/// Awaits `wait` while still driving the running units. A unit future queued for a lock that
/// `wait` also takes (the state backend's sync) may be handed that lock while nobody polls it;
/// the loop must keep polling them, or `wait` and the unit wait for each other forever. Units
/// that finish meanwhile are queued in `finished`.
async fn while_driving<F, S>(
    wait: F,
    running: &mut S,
    finished: &mut std::collections::VecDeque<S::Item>,
) -> F::Output
where
    F: std::future::Future,
    S: futures::Stream + Unpin,
{
    use futures::StreamExt;
    tokio::pin!(wait);
    let mut drained = false;
    loop {
        tokio::select! {
            biased;
            out = &mut wait => return out,
            next = running.next(), if !drained => match next {
                Some(item) => finished.push_back(item),
                None => drained = true,
            },
        }
    }
}

/// Applies one object per its planned action. Returns whether a write was sent.
async fn apply_object<C: Cluster + Readiness, B: StateSink>(
    shared: &Shared<'_, C, B>,
    d: &DesiredObject,
    change: Option<&ObjectChange>,
) -> Result<bool, String> {
    let action = change.map(|c| c.action).unwrap_or(Action::Create);
    let key = d.key();
    match action {
        Action::NoOp => {
            // Adopted or already applied: make sure state knows it, without writing to the cluster.
            let known = shared
                .state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .objects
                .contains_key(&d.address.to_string());
            if known {
                shared.confirm(d).await?;
            } else {
                let live = shared
                    .cluster
                    .get(&key)
                    .await
                    .map_err(render_report)?
                    .unwrap_or(Value::Null);
                // Read after the plan, not what the dry-run saw: recorded without a fingerprint.
                let uid = live
                    .metadata_field("uid")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                shared.put(d, uid, false, false, None).await?;
            }
            Ok(false)
        }
        Action::Replace => {
            let change = change.ok_or("a replace without its planned change")?;
            crate::plan::protection::permits(change, shared.options)?;
            let live = shared.cluster.get(&key).await.map_err(render_report)?;
            if let Some(live) = live {
                let uid = live
                    .metadata_field("uid")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                // The object the plan saw, not one made since.
                if change.live_uid.is_some() && uid != change.live_uid {
                    return Err(format!(
                        "{key} was deleted and created again since the plan was made; nothing replaced"
                    ));
                }
                if change.orphan_dependents {
                    shared
                        .cluster
                        .delete_orphaning(&key, uid.as_deref())
                        .await
                        .map_err(render_report)?;
                } else {
                    shared
                        .cluster
                        .delete(&key, uid.as_deref())
                        .await
                        .map_err(render_report)?;
                }
                shared
                    .cluster
                    .wait_gone(&key, d.timeout)
                    .await
                    .map_err(render_report)?;
            }
            let applied = shared
                .cluster
                .apply(&d.object, false)
                .await
                .map_err(render_report)?;
            shared.record(d, &applied).await?;
            Ok(true)
        }
        Action::Create | Action::Update => {
            if let Some(change) = change.filter(|c| !c.migrate_from.is_empty()) {
                take_over_fields(shared.cluster, d, change).await?;
                shared.writes.fetch_add(1, Ordering::SeqCst);
            }
            // A custom resource whose CRD was established a moment ago: the API server's
            // discovery may not serve its kind yet; ask again for a little while.
            let mut attempts = 0;
            let applied = loop {
                match shared.cluster.apply(&d.object, false).await {
                    Err(crate::observe::ObserveError::UnknownKind { .. })
                        if attempts < UNKNOWN_KIND_RETRIES =>
                    {
                        attempts += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                    other => break other.map_err(render_report)?,
                }
            };
            shared.record(d, &applied).await?;
            Ok(true)
        }
        Action::Delete | Action::Refused | Action::Forget => Ok(false),
        Action::Error => Err(format!(
            "{key} could not be planned: {}",
            change.and_then(|c| c.reason.as_deref()).unwrap_or("")
        )),
    }
}

/// Makes the fields of the tool the object came from todoplan's (see `plan::ownership`), right
/// before todoplan's apply removes those it does not declare. Guarded by the live object's
/// resourceVersion: an object changed since this read is not rewritten.
async fn take_over_fields<C: Cluster>(
    cluster: &C,
    d: &DesiredObject,
    change: &ObjectChange,
) -> Result<(), String> {
    let key = d.key();
    let Some(live) = cluster.get(&key).await.map_err(render_report)? else {
        return Ok(());
    };
    if change.live_uid.is_some()
        && live.metadata_field("uid").and_then(Value::as_str) != change.live_uid.as_deref()
    {
        return Err(format!(
            "{key} was deleted and created again since the plan was made; nothing taken over"
        ));
    }
    let managed = crate::plan::ownership::migrated_managed_fields(&live, &key.api_version);
    let version = live
        .metadata_field("resourceVersion")
        .cloned()
        .unwrap_or(Value::Null);
    cluster
        .json_patch(
            &key,
            vec![
                serde_json::json!({"op": "test", "path": "/metadata/resourceVersion", "value": version}),
                serde_json::json!({"op": "replace", "path": "/metadata/managedFields", "value": managed}),
            ],
        )
        .await
        .map_err(render_report)
}

/// Writes one object of a unit (and removes fields added outside todoplan from it); returns
/// how many writes that took.
async fn write_object<C: Cluster + Readiness, B: StateSink>(
    shared: &Shared<'_, C, B>,
    d: &DesiredObject,
    changes: &BTreeMap<String, &ObjectChange>,
    foreign: &BTreeMap<String, Vec<crate::drift::ForeignField>>,
    progress: &progress::NodeProgress,
) -> Result<usize, String> {
    let mut written = 0;
    let change = changes.get(&d.address.to_string()).copied();
    // Nothing is written by a run that may no longer hold the state lock.
    shared.backend.fence()?;
    if change.is_some_and(|c| c.action != Action::NoOp) {
        progress.update(&format!(
            "{} {}",
            change.map(|c| c.action.symbol()).unwrap_or("+"),
            d.key()
        ));
    }
    // Each write is counted when it is made: a failure after it (the removal patch, a
    // readiness wait) does not make the run report fewer writes than it made.
    if apply_object(shared, d, change).await? {
        written += 1;
        shared.writes.fetch_add(1, Ordering::SeqCst);
    }
    // A replaced object is new: the fields others added to the old one went with it.
    let replaced = change.is_some_and(|c| c.action == Action::Replace);
    if let Some(fields) = foreign.get(&d.address.to_string()).filter(|_| !replaced) {
        let ops: Vec<Value> = fields.iter().flat_map(|f| f.patch_ops()).collect();
        progress.update(&format!(
            "removing {} field(s) todoplan does not declare from {}",
            fields.len(),
            d.key()
        ));
        shared.backend.fence()?;
        shared
            .cluster
            .json_patch(&d.key(), ops)
            .await
            .map_err(render_report)?;
        written += 1;
        shared.writes.fetch_add(1, Ordering::SeqCst);
    }
    Ok(written)
}

/// Applies a unit's objects in Helm's install order, then waits for them to be ready. Helm hooks
/// go in their own steps: pre-install/upgrade hooks first (each weight applied and waited for,
/// a Job until it completes), then the other objects, then post-install/upgrade hooks.
async fn run_unit<C: Cluster + Readiness, B: StateSink>(
    shared: &Shared<'_, C, B>,
    objects: Vec<&DesiredObject>,
    changes: &BTreeMap<String, &ObjectChange>,
    foreign: &BTreeMap<String, Vec<crate::drift::ForeignField>>,
    smoke_checks: &[&SmokeCheck],
    progress: &progress::NodeProgress,
) -> Result<usize, String> {
    let mut steps: BTreeMap<(crate::chart::hooks::Stage, i64), Vec<&DesiredObject>> =
        BTreeMap::new();
    for d in objects {
        steps
            .entry(crate::chart::hooks::order_key(&d.object))
            .or_default()
            .push(d);
    }
    let mut written = 0;
    for (_, step) in steps {
        written += run_step(shared, step, changes, foreign, progress).await?;
    }
    // The release is in place, hooks included: does it answer?
    run_smoke_checks(shared.cluster, smoke_checks, progress).await?;
    Ok(written)
}

/// One step of a unit: its objects applied in install order, then waited for.
async fn run_step<C: Cluster + Readiness, B: StateSink>(
    shared: &Shared<'_, C, B>,
    objects: Vec<&DesiredObject>,
    changes: &BTreeMap<String, &ObjectChange>,
    foreign: &BTreeMap<String, Vec<crate::drift::ForeignField>>,
    progress: &progress::NodeProgress,
) -> Result<usize, String> {
    let mut objects = objects;
    let rank = |d: &DesiredObject| install_order_rank(crate::plan::normalize::kind_of(&d.object));
    objects.sort_by_key(|d| rank(d));
    let mut written = 0;
    // Objects of one rank are written concurrently; before the next rank (which may depend on
    // them: a namespace, then what lives in it) what was written is made durable.
    let stop = AtomicBool::new(false);
    for group in objects.chunk_by(|a, b| rank(a) == rank(b)) {
        use futures::StreamExt;
        let results: Vec<Result<usize, String>> = futures::stream::iter(group.iter().map(|d| {
            let stop = &stop;
            async move {
                if stop.load(Ordering::SeqCst) {
                    return Ok(0);
                }
                let result = write_object(shared, d, changes, foreign, progress).await;
                if result.is_err() {
                    // Start nothing more; what is in flight finishes and is recorded.
                    stop.store(true, Ordering::SeqCst);
                }
                result
            }
        }))
        .buffer_unordered(OBJECTS_IN_FLIGHT)
        .collect()
        .await;
        shared.sync().await?;
        for result in results {
            written += result?;
        }
        // A CRD is served only once established: the custom resources ranked after it (in
        // this step, or in a release that depends on this one) are written after that.
        let crds: Vec<&DesiredObject> = group.iter().copied().filter(|d| is_crd(d)).collect();
        wait_until_ready(shared, &crds, changes, progress).await?;
    }
    // CRDs were waited for before the custom resources ranked after them.
    let rest: Vec<&DesiredObject> = objects.iter().copied().filter(|d| !is_crd(d)).collect();
    wait_until_ready(shared, &rest, changes, progress).await?;
    for d in &objects {
        if hook_deleted_on(d, "hook-succeeded", changes) {
            delete_hook(shared, d, false, progress).await?;
        }
    }
    Ok(written)
}

fn is_crd(d: &DesiredObject) -> bool {
    crate::plan::normalize::kind_of(&d.object) == "CustomResourceDefinition"
}

/// Waits until the objects of `objects` that have a readiness are ready; one not seen ready is
/// recorded tainted (the next plan waits for it again) and its error returned.
async fn wait_until_ready<C: Cluster + Readiness, B: StateSink>(
    shared: &Shared<'_, C, B>,
    objects: &[&DesiredObject],
    changes: &BTreeMap<String, &ObjectChange>,
    progress: &progress::NodeProgress,
) -> Result<(), String> {
    // A hook its delete policy removed after an earlier run is not there to wait for.
    let gone: BTreeSet<String> = {
        let state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        objects
            .iter()
            .map(|d| d.address.to_string())
            .filter(|a| state.objects.get(a).is_some_and(|r| r.hook_deleted))
            .collect()
    };
    let waitable = |d: &&&DesiredObject| {
        readiness::waits_for(crate::plan::normalize::kind_of(&d.object))
            && !gone.contains(&d.address.to_string())
    };
    let waits: Vec<_> = objects
        .iter()
        .filter(waitable)
        .map(|d| {
            let key = d.key();
            let timeout = d.timeout;
            let cluster = shared.cluster;
            async move { cluster.wait_ready(&key, timeout).await }
        })
        .collect();
    if !waits.is_empty() {
        progress.update(&format!(
            "waiting for {} object(s) to be ready",
            waits.len()
        ));
        let results = futures::future::join_all(waits).await;
        let waited: Vec<&&DesiredObject> = objects.iter().filter(waitable).collect();
        let mut errors = Vec::new();
        for (d, result) in waited.into_iter().zip(results) {
            if result.is_ok() {
                shared.seen_ready(d).await?;
            }
            if let Err(e) = result {
                errors.push(e);
                if hook_deleted_on(d, "hook-failed", changes) {
                    delete_hook(shared, d, true, progress).await?;
                    continue;
                }
                // Written but never seen ready: recorded as tainted, so the next plan waits
                // for it again instead of saying "no changes".
                let live = shared
                    .cluster
                    .get(&d.key())
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or(Value::Null);
                shared.record_with(d, &live, true).await?;
            }
        }
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
    }
    Ok(())
}

/// Whether `d` is a hook written in this run whose `helm.sh/hook-delete-policy` names `policy`.
fn hook_deleted_on(
    d: &DesiredObject,
    policy: &str,
    changes: &BTreeMap<String, &ObjectChange>,
) -> bool {
    let written = changes
        .get(&d.address.to_string())
        .is_some_and(|c| matches!(c.action, Action::Create | Action::Update | Action::Replace));
    written
        && crate::chart::hooks::Hook::of(&d.object)
            .is_some_and(|h| h.stage().is_some() && h.delete_policies.iter().any(|p| p == policy))
}

/// Deletes a hook after it ran, as its delete policy asks, and records it as deleted by policy
/// (tainted when it failed, so the next apply runs it again).
async fn delete_hook<C: Cluster + Readiness, B: StateSink>(
    shared: &Shared<'_, C, B>,
    d: &DesiredObject,
    failed: bool,
    progress: &progress::NodeProgress,
) -> Result<(), String> {
    let key = d.key();
    progress.update(&format!(
        "deleting hook {key} ({} per its delete policy)",
        if failed { "failed" } else { "succeeded" }
    ));
    let live = shared.cluster.get(&key).await.map_err(render_report)?;
    let uid = live
        .as_ref()
        .and_then(|l| l.metadata_field("uid"))
        .and_then(Value::as_str)
        .map(str::to_string);
    if live.is_some() {
        shared
            .cluster
            .delete(&key, uid.as_deref())
            .await
            .map_err(render_report)?;
    }
    shared.record_hook_deleted(d, uid, failed).await
}

/// Walks the plan's graph: a node starts once everything it depends on has succeeded; a failure
/// stops its dependents; independent branches finish. Prunes after everything is ready.
pub async fn execute<C: Cluster + Readiness, B: StateSink>(
    cluster: &C,
    computed: &Computed,
    backend: &B,
    state: &mut State,
    options: &ApplyOptions,
) -> ApplyReport {
    let salt = digest_salt(state);
    let previous_revision = state.revision;
    if let Some(basis) = &computed.basis {
        state.dry_run_basis = Some(basis.recorded());
    }
    let changes: BTreeMap<String, &ObjectChange> = computed
        .plan
        .objects
        .iter()
        .map(|c| (c.address.clone(), c))
        .collect();
    let mut units: BTreeMap<Address, Vec<&DesiredObject>> = BTreeMap::new();
    for d in &computed.desired {
        units.entry(unit_of(d)).or_default().push(d);
    }
    // Dependencies between units, from the graph (images are done before apply starts).
    let mut deps: BTreeMap<Address, BTreeSet<Address>> = BTreeMap::new();
    for u in units.keys() {
        let mut mine = BTreeSet::new();
        let mut stack = vec![u.clone()];
        let mut seen = BTreeSet::new();
        while let Some(a) = stack.pop() {
            for dep in computed.graph.dependencies(&a) {
                if !seen.insert(dep.clone()) {
                    continue;
                }
                if units.contains_key(&dep) && &dep != u {
                    mine.insert(dep);
                } else if !matches!(dep, Address::Image(_)) && !units.contains_key(&dep) {
                    // Walk through nodes that are not units (e.g. a release's object nodes).
                    stack.push(dep);
                }
            }
        }
        deps.insert(u.clone(), mine);
    }

    // The journal is durable before the first write, so a kill at any point leaves a state
    // the next run reads (with this run's lineage, even on the first run).
    let begun = backend.begin(state).await;
    let shared = Shared {
        cluster,
        options: &computed.plan.options,
        backend,
        state: Mutex::new(state),
        salt: salt.clone(),
        basis: computed.basis.as_ref(),
        confirmed: &computed.confirmed,
        writes: std::sync::atomic::AtomicUsize::new(0),
    };
    if let Err(e) = begun {
        let state = shared.state.into_inner().unwrap_or_else(|p| p.into_inner());
        return ApplyReport {
            outcome: Outcome::Failed,
            failures: vec![("state".into(), format!("{:?}", miette::Report::from(e)))],
            skipped: units.keys().map(|a| a.to_string()).collect(),
            written: 0,
            deleted: 0,
            revision: state.revision,
            record_error: None,
            interrupted: false,
            warnings: crate::observe::warnings::take(),
        };
    }
    for (name, values) in &computed.secrets {
        let entry = JournalEntry::Secret {
            name: name.clone(),
            record: SecretRecord {
                k8s_name: values.k8s_name.clone(),
                namespace: values.namespace.clone(),
                key_digests: values.digests(&salt),
            },
        };
        let mut st = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        // A failed append is found again by the sync before the first dependent write.
        let _ = backend.journal(&entry);
        entry.apply_to(&mut st);
    }
    let semaphore = Arc::new(Semaphore::new(options.parallelism.max(1)));
    let mut done: BTreeSet<Address> = BTreeSet::new();
    let mut failed: BTreeSet<Address> = BTreeSet::new();
    let mut skipped: BTreeSet<Address> = BTreeSet::new();
    let mut started: BTreeSet<Address> = BTreeSet::new();
    let mut failures = Vec::new();
    let mut running = futures::stream::FuturesUnordered::new();
    // Units that finished while the loop waited for something else (see `while_driving`).
    let mut finished_meanwhile = std::collections::VecDeque::new();
    let mut state_broken = false;
    loop {
        // Skip the dependents of failures.
        let mut changed = true;
        while changed {
            changed = false;
            for (u, d) in &deps {
                if !started.contains(u)
                    && !skipped.contains(u)
                    && d.iter().any(|x| failed.contains(x) || skipped.contains(x))
                {
                    skipped.insert(u.clone());
                    changed = true;
                }
            }
        }
        if !options.cancelled.load(Ordering::SeqCst) && !state_broken {
            let ready: Vec<Address> = deps
                .iter()
                .filter(|(u, d)| {
                    !started.contains(*u)
                        && !skipped.contains(*u)
                        && d.iter().all(|x| done.contains(x))
                })
                .map(|(u, _)| u.clone())
                .collect();
            for u in ready {
                started.insert(u.clone());
                let objects = units.get(&u).cloned().unwrap_or_default();
                let semaphore = semaphore.clone();
                let shared = &shared;
                let changes = &changes;
                let progress = &options.progress;
                running.push(async move {
                    let _permit = semaphore.acquire_owned().await;
                    let changing = objects
                        .iter()
                        .filter(|d| {
                            changes
                                .get(&d.address.to_string())
                                .is_some_and(|c| c.action != Action::NoOp)
                        })
                        .count();
                    let node = if changing == 0 {
                        progress.start_quiet(&u.to_string())
                    } else {
                        progress.start(&u.to_string(), &format!("{changing} change(s)"))
                    };
                    let smoke: Vec<&SmokeCheck> = computed
                        .plan
                        .smoke_checks
                        .iter()
                        .filter(|c| u == Address::Release(c.release.clone()))
                        .collect();
                    let result = run_unit(
                        shared,
                        objects,
                        changes,
                        &computed.foreign_fields,
                        &smoke,
                        &node,
                    )
                    .await;
                    match &result {
                        Ok(n) => node.finish(true, &format!("ready ({n} written)")),
                        Err(_) => node.finish(false, "failed"),
                    }
                    (u, result)
                });
            }
        }
        use futures::StreamExt;
        let next = match finished_meanwhile.pop_front() {
            Some(finished) => Some(finished),
            None => running.next().await,
        };
        if next.is_some()
            && let Err(e) =
                while_driving(shared.sync(), &mut running, &mut finished_meanwhile).await
        {
            // Nothing more starts: its dependents' writes would not be recorded durably.
            failures.push(("state".to_string(), e));
            state_broken = true;
        }
        match next {
            Some((u, Ok(_))) => {
                if let Address::Release(name) = &u {
                    // What the next plan's "why" compares with: the values this release now
                    // runs with (unknown after a rollback, which records none).
                    let mut st = shared.state.lock().unwrap_or_else(|p| p.into_inner());
                    match computed.release_values.get(name) {
                        Some(values) => st.release_values.insert(name.clone(), values.clone()),
                        None => st.release_values.remove(name),
                    };
                }
                done.insert(u);
            }
            Some((u, Err(e))) => {
                failures.push((u.to_string(), e));
                failed.insert(u);
            }
            None => break,
        }
    }
    drop(running);
    let cancelled = options.cancelled.load(Ordering::SeqCst) || state_broken;
    for u in deps.keys() {
        if !started.contains(u) {
            skipped.insert(u.clone());
        }
    }

    // Prune: only once everything new is in place.
    let mut deleted = 0;
    let mut cancelled = cancelled;
    let mut not_deleted: Vec<String> = Vec::new();
    if failures.is_empty() && !cancelled {
        for (address, record) in &computed.deletions {
            // Ctrl-C during a prune or destroy: delete nothing more (each delete so far is
            // already recorded).
            if options.cancelled.load(Ordering::SeqCst) {
                cancelled = true;
                not_deleted.push(address.clone());
                continue;
            }
            let Some(change) = changes.get(address) else {
                continue;
            };
            if change.action == Action::Forget {
                // A kept object (helm.sh/resource-policy: keep) is still there: release it, so
                // it is no longer this instance's (no drift, no stray), then forget it.
                let released = match &change.before {
                    Some(_) => match shared.backend.fence() {
                        Ok(()) => release_kept(cluster, &record.key()).await,
                        Err(e) => Err(e),
                    },
                    None => Ok(()),
                };
                let forgotten = match released {
                    Ok(()) => shared.forget(address).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = forgotten {
                    failures.push((address.clone(), e));
                }
                continue;
            }
            if change.action == Action::Refused
                && record.kind == "PersistentVolumeClaim"
                && address.contains("/claims/")
            {
                // A claim of a deleted StatefulSet (made by its controller, so never recorded)
                // that the gate kept: recorded now, so a later run with --allow-data-loss can
                // still delete it, and its namespace after it.
                if let Err(e) = shared.remember(address, record) {
                    failures.push((address.clone(), e));
                }
                continue;
            }
            if change.action != Action::Delete {
                continue;
            }
            let key = record.key();
            let node = options.progress.start(address, "destroying");
            let result = async {
                crate::plan::protection::permits(change, &computed.plan.options)?;
                if record.kind == "Namespace" {
                    // Deleting a namespace deletes what is in it: what appeared in it since
                    // the plan (a claim made by hand) keeps it, whatever the flags.
                    let contents = cluster
                        .namespace_contents(&record.name)
                        .await
                        .map_err(render_report)?;
                    let left = crate::plan::protection::namespace_leftovers(
                        &contents,
                        &BTreeSet::new(),
                    );
                    if !left.is_empty() {
                        return Err(format!(
                            "namespace {} is kept: it holds {} object(s) this run did not delete ({}), which deleting it would delete too",
                            record.name,
                            left.len(),
                            crate::plan::protection::first_few(&left)
                        ));
                    }
                }
                shared.backend.fence()?;
                let uid = record.uid.as_deref().or(change.live_uid.as_deref());
                // Gone, not only accepted: an object a finalizer holds stays recorded until the
                // finalizer lets go (it would come back as a stray otherwise).
                node.update("deleting (waiting until it is gone)");
                cluster
                    .delete_and_wait(&key, uid, crate::observe::delete_timeout())
                    .await
                    .map_err(render_report)?;
                shared.forget(address).await
            }
            .await;
            match result {
                Ok(()) => {
                    deleted += 1;
                    node.finish(true, "destroyed");
                }
                Err(e) => {
                    node.finish(false, "failed");
                    failures.push((address.clone(), e));
                }
            }
        }
    }

    if let Err(e) = shared.sync().await {
        failures.push(("state".to_string(), e));
    }
    let written = shared.writes.load(Ordering::SeqCst);
    let outcome = match (failures.is_empty() && !cancelled, written + deleted > 0) {
        (true, _) => Outcome::Succeeded,
        (false, true) => Outcome::Partial,
        (false, false) => Outcome::Failed,
    };
    let state = shared.state.into_inner().unwrap_or_else(|p| p.into_inner());
    if state.objects.is_empty() {
        state.secrets.clear();
    }
    // A release with nothing left applied has no values in force.
    let applied: BTreeSet<String> = state.objects.values().map(|r| r.release.clone()).collect();
    state
        .release_values
        .retain(|release, _| applied.contains(release));
    let s = computed.plan.summary();
    let counts = format!(
        "{} added, {} changed, {} replaced, {} destroyed",
        s.add, s.change, s.replace, deleted
    );
    let summary = match &computed.label {
        Some(label) => format!("{label}: {counts}"),
        None => counts,
    };
    let (revision, record_error) = match backend
        .record_revision(state, summary, outcome, &options.provenance)
        .await
    {
        Ok(r) => (r, None),
        Err(e) => (
            previous_revision,
            Some(format!("{:?}", miette::Report::from(e))),
        ),
    };
    ApplyReport {
        outcome,
        failures,
        skipped: skipped
            .into_iter()
            .map(|a| a.to_string())
            .chain(not_deleted)
            .collect(),
        written,
        deleted,
        revision,
        record_error,
        interrupted: options.cancelled.load(Ordering::SeqCst),
        warnings: crate::observe::warnings::take(),
    }
}

#[cfg(test)]
mod smoke_tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    /// Answers each probe from a script (the last answer repeats), counting requests.
    struct Scripted {
        answers: StdMutex<Vec<Result<(u16, String), String>>>,
        asked: std::sync::atomic::AtomicUsize,
    }

    impl Readiness for Scripted {
        async fn wait_ready(&self, _: &ObjectKey, _: std::time::Duration) -> Result<(), String> {
            Ok(())
        }
        async fn probe(&self, _: &SmokeCheck) -> Result<(u16, String), String> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            let mut answers = self.answers.lock().unwrap();
            if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0].clone()
            }
        }
        async fn diagnose_service(&self, _: &str, service: &str) -> String {
            format!("last log lines of the pods of {service}:\n  | database is down\n")
        }
    }

    fn check(timeout_secs: u64) -> SmokeCheck {
        SmokeCheck {
            release: "backend".into(),
            namespace: "todo".into(),
            service: "backend".into(),
            port: "8000".into(),
            path: "/health".into(),
            expect: 200,
            contains: None,
            timeout_secs,
            source: Some("todo.toml:12".into()),
        }
    }

    fn scripted(answers: Vec<Result<(u16, String), String>>) -> Scripted {
        Scripted {
            answers: StdMutex::new(answers),
            asked: Default::default(),
        }
    }

    #[tokio::test]
    async fn a_check_is_retried_until_the_service_answers_as_expected() {
        let cluster = scripted(vec![
            Err("no endpoints available for service \"backend\"".into()),
            Ok((503, "starting".into())),
            Ok((200, "ok".into())),
        ]);
        let c = check(30);
        let node = Progress::silent().start("release.backend", "");
        run_smoke_checks(&cluster, &[&c], &node).await.unwrap();
        assert_eq!(cluster.asked.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_check_names_the_last_answer_and_shows_the_pods_logs() {
        let cluster = scripted(vec![Ok((
            503,
            format!("{{\"db\":\"down\"}}{}", "x".repeat(400)),
        ))]);
        let c = check(1);
        let node = Progress::silent().start("release.backend", "");
        let e = run_smoke_checks(&cluster, &[&c], &node).await.unwrap_err();
        assert!(
            e.starts_with("smoke check GET /health on service backend:8000, expects 200 (todo.toml:12) failed after 1s; the last answer was 503: {\"db\":\"down\"}"),
            "{e}"
        );
        assert!(e.contains(" …\n"), "the body is cut: {e}");
        assert!(e.contains("| database is down"), "{e}");
        assert!(
            cluster.asked.load(Ordering::SeqCst) >= 2,
            "retried within the timeout"
        );
    }

    #[tokio::test]
    async fn the_expected_status_without_the_expected_text_fails() {
        let cluster = scripted(vec![Ok((200, "{\"status\":\"degraded\"}".into()))]);
        let mut c = check(1);
        c.contains = Some("\"status\":\"ok\"".into());
        let node = Progress::silent().start("release.backend", "");
        let e = run_smoke_checks(&cluster, &[&c], &node).await.unwrap_err();
        assert!(
            e.contains(
                "the last answer was 200, without the expected text: {\"status\":\"degraded\"}"
            ),
            "{e}"
        );
    }
}
