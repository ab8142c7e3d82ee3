//! Model-based test of the one planner and the one executor, over an in-memory cluster and an
//! in-memory state store, with injected faults.
//!
//! Each case draws a universe of objects (ConfigMaps, claims, Deployments, one Secret), what
//! exists in the cluster before (absent, this instance's and recorded, this instance's but not
//! recorded, another instance's, unlabelled, with an immutable field changed), what todo.toml
//! declares, the plan's options (`--allow-data-loss`, `--replace`), and faults: API errors,
//! 409 conflicts, 422 rejections, stalled connections (the request deadline), a readiness
//! failure, and a crash (the process dies after its Nth write: nothing it does afterwards
//! reaches the cluster or the state). Then it plans, executes, recovers (plans and applies
//! again without faults, from the state the crashed run left) and checks the promises:
//!
//! 1. no data-holding object (a claim, a `protect = true` object) is deleted or replaced without
//!    `--allow-data-loss`;
//! 2. another instance's object is never written;
//! 3. nothing is written that the plan does not list as a change;
//! 4. after any fault or crash, the next plan and apply converge: every declared object exists
//!    once, with this instance's label, and a plan after that has nothing left to do;
//! 5. no secret byte (plain or base64) appears in any rendered plan or in the state.
//!
//! A second model puts two writers on one state in the cluster: the first is stopped (SIGSTOP)
//! at a fence check past its Lease's life, a second takes the Lease and applies other values,
//! then the first resumes. The cluster must keep the second's values and the state must agree
//! with it; switching off the fence or the state write's precondition makes the model find a
//! case where it does not.
//!
//! `TODOPLAN_MODEL_CASES` sets the number of cases (default 10,000; a tenth of it, at least 50,
//! for the two writers).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use todoplan::apply::progress::Progress;
use todoplan::apply::{ApplyOptions, Readiness, StateSink, execute};
use todoplan::graph::{Address, DependencyGraph};
use todoplan::model::smoke::SmokeCheck;
use todoplan::observe::{
    Cluster, DryRunInputs, LABEL_INSTANCE, LABEL_PROJECT, LiveIndex, ObjectKey, ObserveError,
};
use todoplan::plan::compute::{Computed, diff_objects_incrementally};
use todoplan::plan::desired::DesiredObject;
use todoplan::plan::incremental::Basis;
use todoplan::plan::output::{Format, render};
use todoplan::plan::{Action, PlanOptions};
use todoplan::state::{HistoryEntry, JournalEntry, ObjectRecord, Outcome, State, StateError};

const PROJECT: &str = "model";
const NS: &str = "model";
const ME: &str = "instance-me";
const OTHER: &str = "instance-other";
const SECRET_VALUE: &str = "model-secret-value-9f2c1e";

// ---------------------------------------------------------------- the in-memory cluster ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    ServerError,
    Conflict,
    Rejected,
    Stalled,
}

impl Fault {
    fn error(self, what: &str) -> ObserveError {
        match self {
            Fault::ServerError => ObserveError::Request {
                action: "request".into(),
                object: what.into(),
                message: "Internal error (500)".into(),
            },
            Fault::Conflict => ObserveError::Request {
                action: "request".into(),
                object: what.into(),
                message: "the object has been modified; please apply your changes to the latest version (409)".into(),
            },
            Fault::Rejected => ObserveError::Rejected {
                object: what.into(),
                message: "invalid".into(),
                causes: vec![("spec".into(), "invalid value".into())],
                help: String::new(),
                immutable: false,
            },
            Fault::Stalled => ObserveError::Unreachable {
                server: "memory".into(),
                context: "memory".into(),
                message: "request timed out after 30s".into(),
            },
        }
    }
}

#[derive(Default)]
struct MemoryCluster {
    objects: Mutex<BTreeMap<ObjectKey, Value>>,
    uids: AtomicUsize,
    calls: AtomicUsize,
    /// Call index → fault.
    faults: Mutex<BTreeMap<usize, Fault>>,
    /// The process dies after this many writes.
    crash_after_writes: Mutex<Option<usize>>,
    writes: AtomicUsize,
    crashed: AtomicBool,
    /// Keys written (apply, patch, delete), in order.
    written: Mutex<Vec<ObjectKey>>,
    /// Readiness fails for these keys.
    never_ready: Mutex<BTreeSet<ObjectKey>>,
}

impl MemoryCluster {
    fn fault(&self, what: &str) -> Result<(), ObserveError> {
        if self.crashed.load(Ordering::SeqCst) {
            return Err(Fault::Stalled.error(what));
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        match self.faults.lock().unwrap().get(&n) {
            Some(f) => Err(f.error(what)),
            None => Ok(()),
        }
    }

    /// Counts a write; past the crash point the write is lost and the process is dead.
    fn write(&self, key: &ObjectKey) -> Result<(), ObserveError> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst);
        if let Some(limit) = *self.crash_after_writes.lock().unwrap()
            && n >= limit
        {
            self.crashed.store(true, Ordering::SeqCst);
            return Err(Fault::Stalled.error(&key.to_string()));
        }
        self.written.lock().unwrap().push(key.clone());
        Ok(())
    }

    fn put(&self, mut object: Value) -> Value {
        let key = ObjectKey::of(&object);
        let uid = format!("uid-{}", self.uids.fetch_add(1, Ordering::SeqCst));
        object["metadata"]["uid"] = json!(uid);
        self.objects.lock().unwrap().insert(key, object.clone());
        object
    }

    fn snapshot(&self) -> BTreeMap<ObjectKey, Value> {
        self.objects.lock().unwrap().clone()
    }

    fn heal(&self) {
        self.faults.lock().unwrap().clear();
        *self.crash_after_writes.lock().unwrap() = None;
        self.crashed.store(false, Ordering::SeqCst);
        self.never_ready.lock().unwrap().clear();
        self.written.lock().unwrap().clear();
    }

    fn index(&self) -> LiveIndex {
        let objects = self
            .objects
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, o)| {
                o.pointer("/metadata/labels")
                    .and_then(|l| l.get(LABEL_INSTANCE))
                    .and_then(Value::as_str)
                    == Some(ME)
            })
            .map(|(k, o)| (k.clone(), o.clone()))
            .collect();
        LiveIndex {
            objects,
            requests: 0,
        }
    }
}

fn uid_of(o: &Value) -> Option<String> {
    o.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl Cluster for MemoryCluster {
    fn context_name(&self) -> &str {
        "memory"
    }
    fn server_url(&self) -> &str {
        "memory://"
    }
    async fn get(&self, key: &ObjectKey) -> Result<Option<Value>, ObserveError> {
        self.fault(&key.to_string())?;
        Ok(self.objects.lock().unwrap().get(key).cloned())
    }
    async fn apply(&self, object: &Value, dry_run: bool) -> Result<Value, ObserveError> {
        let key = ObjectKey::of(object);
        self.fault(&key.to_string())?;
        let live = self.objects.lock().unwrap().get(&key).cloned();
        if let Some(live) = &live
            && key.kind == "PersistentVolumeClaim"
            && live.pointer("/spec/accessModes") != object.pointer("/spec/accessModes")
        {
            return Err(ObserveError::Rejected {
                object: key.to_string(),
                message: "spec: Forbidden: spec is immutable after creation".into(),
                causes: vec![("spec".into(), "field is immutable".into())],
                help: String::new(),
                immutable: true,
            });
        }
        let mut stored = object.clone();
        stored["metadata"]["uid"] = match live.as_ref().and_then(uid_of) {
            Some(u) => json!(u),
            None => json!(format!("uid-{}", self.uids.fetch_add(1, Ordering::SeqCst))),
        };
        if dry_run {
            return Ok(stored);
        }
        self.write(&key)?;
        self.objects.lock().unwrap().insert(key, stored.clone());
        Ok(stored)
    }
    async fn json_patch(&self, key: &ObjectKey, ops: Vec<Value>) -> Result<(), ObserveError> {
        self.fault(&key.to_string())?;
        self.write(key)?;
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops)).unwrap();
        let mut objects = self.objects.lock().unwrap();
        if let Some(o) = objects.get_mut(key) {
            json_patch::patch(o, &patch).map_err(|e| Fault::Rejected.error(&e.to_string()))?;
        }
        Ok(())
    }
    async fn delete(&self, key: &ObjectKey, uid: Option<&str>) -> Result<(), ObserveError> {
        self.fault(&key.to_string())?;
        let live_uid = self.objects.lock().unwrap().get(key).and_then(uid_of);
        if let (Some(want), Some(have)) = (uid, &live_uid)
            && want != have
        {
            return Err(Fault::Conflict.error(&key.to_string()));
        }
        self.write(key)?;
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }
    async fn delete_orphaning(
        &self,
        key: &ObjectKey,
        uid: Option<&str>,
    ) -> Result<(), ObserveError> {
        Cluster::delete(self, key, uid).await
    }
    async fn wait_gone(&self, key: &ObjectKey, _timeout: Duration) -> Result<(), ObserveError> {
        self.fault(&key.to_string())?;
        Ok(())
    }
    async fn namespace_contents(&self, ns: &str) -> Result<Vec<ObjectKey>, ObserveError> {
        self.fault(ns)?;
        Ok(self
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.namespace.as_deref() == Some(ns))
            .cloned()
            .collect())
    }
    async fn objects_of_kind(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Vec<ObjectKey>, ObserveError> {
        let group = todoplan::model::object::group_of(api_version);
        Ok(self
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.kind == kind && k.group() == group)
            .cloned()
            .collect())
    }
}

impl Readiness for MemoryCluster {
    async fn wait_ready(&self, key: &ObjectKey, _timeout: Duration) -> Result<(), String> {
        if self.crashed.load(Ordering::SeqCst) {
            return Err("the process is gone".into());
        }
        if self.never_ready.lock().unwrap().contains(key) {
            return Err(format!("{key} did not become ready"));
        }
        Ok(())
    }
    async fn probe(&self, check: &SmokeCheck) -> Result<(u16, String), String> {
        // The model's plans come from diff_objects, which plans no smoke checks.
        Err(format!(
            "the in-memory cluster has no Service {}",
            check.service
        ))
    }
    async fn diagnose_service(&self, _namespace: &str, service: &str) -> String {
        format!("the in-memory cluster has no Service {service}")
    }
}

// ---------------------------------------------------------------- the in-memory state ----

/// The journal as the real one keeps it: appended entries become durable only at a sync.
#[derive(Default)]
struct MemoryState {
    /// What a restarted process would read: the state the run began from, with every synced
    /// journal entry applied.
    saved: Mutex<Option<State>>,
    unsynced: Mutex<Vec<JournalEntry>>,
    history: Mutex<Vec<HistoryEntry>>,
    /// Set when the process "died": nothing it writes afterwards lands.
    dead: AtomicBool,
}

impl StateSink for MemoryState {
    async fn begin(&self, state: &State) -> Result<(), StateError> {
        if !self.dead.load(Ordering::SeqCst) {
            let mut begun = state.clone();
            // A replayed journal has the serial of a saved state.
            begun.serial += 1;
            *self.saved.lock().unwrap() = Some(begun);
        }
        Ok(())
    }
    fn journal(&self, entry: &JournalEntry) -> Result<(), StateError> {
        if !self.dead.load(Ordering::SeqCst) {
            self.unsynced.lock().unwrap().push(entry.clone());
        }
        Ok(())
    }
    async fn sync(&self) -> Result<(), StateError> {
        if !self.dead.load(Ordering::SeqCst) {
            let entries = std::mem::take(&mut *self.unsynced.lock().unwrap());
            if let Some(saved) = self.saved.lock().unwrap().as_mut() {
                for e in &entries {
                    e.apply_to(saved);
                }
            }
        }
        Ok(())
    }
    async fn record_revision(
        &self,
        state: &mut State,
        summary: String,
        outcome: Outcome,
        provenance: &todoplan::state::Provenance,
    ) -> Result<u64, StateError> {
        state.revision += 1;
        if !self.dead.load(Ordering::SeqCst) {
            state.serial += 1;
            *self.saved.lock().unwrap() = Some(state.clone());
            self.unsynced.lock().unwrap().clear();
            self.history.lock().unwrap().push(HistoryEntry {
                revision: state.revision,
                time: chrono::Utc::now(),
                who: "model".into(),
                summary,
                outcome,
                provenance: provenance.clone(),
                objects: state.objects.clone(),
                secrets: state.secrets.clone(),
            });
        }
        Ok(state.revision)
    }
}

// ---------------------------------------------------------------- the cases ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ConfigMap,
    Claim,
    Deployment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Before {
    Absent,
    OursRecorded,
    OursUnrecorded,
    OtherInstance,
    Unlabelled,
    /// Ours and recorded, but a claim's access mode differs (an immutable field).
    OursImmutableChanged,
}

#[derive(Debug, Clone)]
struct Item {
    kind: Kind,
    release: &'static str,
    before: Before,
    declared: bool,
    value: u8,
    /// Carries a keep policy (`todoplan.dev/keep`, what todo.toml's `keep` marks).
    kept: bool,
}

#[derive(Debug, Clone)]
struct Case {
    items: Vec<Item>,
    protect_a: bool,
    allow_data_loss: bool,
    replace_first: bool,
    faults: Vec<(usize, Fault)>,
    crash_after_writes: Option<usize>,
    never_ready_first_deployment: bool,
}

fn item() -> impl Strategy<Value = Item> {
    (
        prop_oneof![
            Just(Kind::ConfigMap),
            Just(Kind::Claim),
            Just(Kind::Deployment)
        ],
        prop_oneof![Just("a"), Just("b")],
        prop_oneof![
            3 => Just(Before::Absent),
            3 => Just(Before::OursRecorded),
            1 => Just(Before::OursUnrecorded),
            1 => Just(Before::OtherInstance),
            1 => Just(Before::Unlabelled),
            1 => Just(Before::OursImmutableChanged),
        ],
        prop::bool::weighted(0.75),
        0u8..3,
        prop::bool::weighted(0.2),
    )
        .prop_map(|(kind, release, before, declared, value, kept)| Item {
            kind,
            release,
            before,
            declared,
            value,
            kept,
        })
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        Just(Fault::ServerError),
        Just(Fault::Conflict),
        Just(Fault::Rejected),
        Just(Fault::Stalled)
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(item(), 1..7),
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.2),
        prop::collection::vec((0usize..40, fault()), 0..3),
        prop::option::weighted(0.4, 0usize..12),
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(items, protect_a, allow_data_loss, replace_first, faults, crash, never_ready)| Case {
                items,
                protect_a,
                allow_data_loss,
                replace_first,
                faults,
                crash_after_writes: crash,
                never_ready_first_deployment: never_ready,
            },
        )
}

fn name(i: usize, item: &Item) -> String {
    format!("{}-{i}", format!("{:?}", item.kind).to_lowercase())
}

fn object(i: usize, item: &Item, instance: Option<&str>, access: &str) -> Value {
    let mut labels = serde_json::Map::new();
    if let Some(inst) = instance {
        labels.insert(LABEL_PROJECT.into(), json!(PROJECT));
        labels.insert(LABEL_INSTANCE.into(), json!(inst));
        labels.insert("todoplan.dev/release".into(), json!(item.release));
    }
    let mut meta = json!({"name": name(i, item), "namespace": NS, "labels": labels});
    if item.kept {
        meta["annotations"] = json!({"todoplan.dev/keep": "true"});
    }
    match item.kind {
        Kind::ConfigMap => json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
            "data": {"v": item.value.to_string()}}),
        Kind::Claim => {
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
            "spec": {"accessModes": [access], "resources": {"requests": {"storage": "1Gi"}}}})
        }
        Kind::Deployment => json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": item.value + 1, "selector": {"matchLabels": {"app": name(i, item)}},
                "template": {"metadata": {"labels": {"app": name(i, item)}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}),
    }
}

fn secret(instance: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app", "namespace": NS,
        "labels": {LABEL_PROJECT: PROJECT, LABEL_INSTANCE: instance}},
        "data": {"KEY": base64::engine::general_purpose::STANDARD.encode(SECRET_VALUE)}})
}

fn address(o: &Value, release: &str) -> Address {
    let key = ObjectKey::of(o);
    Address::Object {
        release: release.into(),
        api_version: key.api_version,
        kind: key.kind,
        namespace: key.namespace,
        name: key.name,
    }
}

fn record(o: &Value, release: &str, protect: bool) -> ObjectRecord {
    let key = ObjectKey::of(o);
    ObjectRecord {
        release: release.into(),
        api_version: key.api_version,
        kind: key.kind,
        namespace: key.namespace,
        name: key.name,
        uid: uid_of(o),
        digest: String::new(),
        manifest: todoplan::plan::redact::redact(o, "salt").into(),
        protect,
        tainted: false,
        hook_deleted: false,
        observed: None,
    }
}

struct World {
    cluster: MemoryCluster,
    state: State,
    desired: Vec<DesiredObject>,
    options: PlanOptions,
    /// Keys of data-holding objects, and of another instance's objects, before the run.
    protected_before: BTreeMap<ObjectKey, String>,
    foreign_before: BTreeMap<ObjectKey, Value>,
    /// Objects of this instance with a keep policy that nothing declares any more: prune may
    /// forget them, never delete them, with or without --allow-data-loss.
    kept_before: BTreeMap<ObjectKey, String>,
}

fn world(case: &Case) -> World {
    let cluster = MemoryCluster::default();
    let mut state = State::new(PROJECT);
    state.lineage = ME.into();
    let mut desired = Vec::new();
    let mut protected_before = BTreeMap::new();
    let mut foreign_before = BTreeMap::new();
    let mut kept_before = BTreeMap::new();
    for (i, it) in case.items.iter().enumerate() {
        let protect = it.release == "a" && case.protect_a;
        let holds_data = protect || it.kind == Kind::Claim;
        let live = match it.before {
            Before::Absent => None,
            Before::OursRecorded | Before::OursUnrecorded => {
                Some(cluster.put(object(i, it, Some(ME), "ReadWriteOnce")))
            }
            Before::OursImmutableChanged => {
                Some(cluster.put(object(i, it, Some(ME), "ReadWriteMany")))
            }
            Before::OtherInstance => Some(cluster.put(object(i, it, Some(OTHER), "ReadWriteOnce"))),
            Before::Unlabelled => Some(cluster.put(object(i, it, None, "ReadWriteOnce"))),
        };
        if let Some(live) = &live {
            let key = ObjectKey::of(live);
            if matches!(it.before, Before::OtherInstance) {
                foreign_before.insert(key.clone(), live.clone());
            }
            if holds_data && !matches!(it.before, Before::OtherInstance) {
                protected_before.insert(key.clone(), uid_of(live).unwrap());
            }
            if it.kept
                && !it.declared
                && matches!(
                    it.before,
                    Before::OursRecorded | Before::OursUnrecorded | Before::OursImmutableChanged
                )
            {
                kept_before.insert(key.clone(), uid_of(live).unwrap());
            }
            if matches!(
                it.before,
                Before::OursRecorded | Before::OursImmutableChanged
            ) {
                let o = object(i, it, Some(ME), "ReadWriteOnce");
                state.objects.insert(
                    address(&o, it.release).to_string(),
                    record(live, it.release, protect),
                );
            }
        }
        if it.declared {
            let o = object(i, it, Some(ME), "ReadWriteOnce");
            desired.push(DesiredObject {
                address: address(&o, it.release),
                object: o,
                release: Some(it.release.into()),
                protect,
                timeout: Duration::from_secs(1),
            });
        }
    }
    let s = secret(ME);
    desired.push(DesiredObject {
        address: address(&s, "a"),
        object: s,
        release: Some("a".into()),
        protect: case.protect_a,
        timeout: Duration::from_secs(1),
    });
    let replace = if case.replace_first {
        desired
            .iter()
            .find(|d| d.object["kind"] != "Secret")
            .map(|d| vec![d.address.to_string()])
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    World {
        cluster,
        state,
        desired,
        options: PlanOptions {
            allow_data_loss: case.allow_data_loss,
            replace,
            ..Default::default()
        },
        protected_before,
        foreign_before,
        kept_before,
    }
}

fn graph() -> DependencyGraph {
    static GRAPH: std::sync::OnceLock<DependencyGraph> = std::sync::OnceLock::new();
    GRAPH.get_or_init(build_graph).clone()
}

fn build_graph() -> DependencyGraph {
    static SPEC: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = SPEC.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        for r in ["a", "b"] {
            std::fs::create_dir_all(dir.path().join(r)).unwrap();
            std::fs::write(
                dir.path().join(r).join("cm.yaml"),
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {r}}}\n"),
            )
            .unwrap();
        }
        std::fs::write(
            dir.path().join("todo.toml"),
            format!(
                "[project]\nname = \"{PROJECT}\"\n\n[cluster]\nnamespace = \"{NS}\"\n\n[releases.a]\nchart = \"a\"\n\n[releases.b]\nchart = \"b\"\ndepends_on = [\"release.a\"]\n"
            ),
        )
        .unwrap();
        dir
    });
    let spec = todoplan::spec::load(&dir.path().join("todo.toml"), None).expect("model spec");
    DependencyGraph::build(&spec).expect("model graph")
}

async fn plan(
    cluster: &MemoryCluster,
    desired: &[DesiredObject],
    state: &State,
    options: &PlanOptions,
) -> Result<Computed, String> {
    let mut live = cluster.index();
    // The incremental comparison (objects unchanged since recorded are not dry-run): the
    // model's promises must hold with it, across crashes and faults.
    let basis = memory_basis();
    let (objects, deletions, comparison) = diff_objects_incrementally(
        Some(cluster),
        &mut live,
        desired,
        state,
        options,
        &todoplan::plan::compute::digest_salt(state),
        Some(&basis),
    )
    .await
    .map_err(|e| format!("{e:?}"))?;
    let plan = todoplan::plan::Plan {
        objects,
        options: options.clone(),
        ..todoplan::plan::Plan::against(state, PROJECT, None)
    };
    Ok(Computed {
        label: None,
        plan,
        desired: desired.to_vec(),
        graph: graph(),
        secrets: BTreeMap::new(),
        deletions,
        foreign_fields: BTreeMap::new(),
        release_values: BTreeMap::new(),
        basis: Some(basis),
        confirmed: comparison.confirmed,
    })
}

/// The in-memory cluster's dry-run basis: one version, no admission webhooks, no CRDs.
fn memory_basis() -> Basis {
    Basis::new(
        &DryRunInputs {
            server_version: "v1.33.0-memory".into(),
            admission: Ok(Vec::new()),
            crds: Ok(BTreeMap::new()),
        },
        &BTreeMap::new(),
    )
}

fn exec_options() -> ApplyOptions {
    ApplyOptions {
        parallelism: 4,
        progress: Progress::silent(),
        cancelled: std::sync::Arc::new(AtomicBool::new(false)),
        provenance: todoplan::state::Provenance {
            message: Some("model run".into()),
            plan_checksum: Some("model-plan".into()),
            ..Default::default()
        },
    }
}

fn check_no_secret(text: &str, what: &str) -> Result<(), TestCaseError> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET_VALUE);
    prop_assert!(
        !text.contains(SECRET_VALUE) && !text.contains(&b64),
        "a secret value in {what}:\n{text}"
    );
    Ok(())
}

fn run_case(rt: &tokio::runtime::Runtime, case: &Case) -> Result<(), TestCaseError> {
    let w = world(case);
    let World {
        cluster,
        mut state,
        desired,
        options,
        protected_before,
        foreign_before,
        kept_before,
    } = w;
    let sink = MemoryState::default();

    // Plan (faults may hit the plan itself: then it is an error and nothing is written).
    *cluster.faults.lock().unwrap() = case.faults.iter().copied().collect();
    *cluster.crash_after_writes.lock().unwrap() = case.crash_after_writes;
    if case.never_ready_first_deployment
        && let Some(d) = desired.iter().find(|d| d.object["kind"] == "Deployment")
    {
        cluster.never_ready.lock().unwrap().insert(d.key());
    }
    let planned = rt.block_on(plan(&cluster, &desired, &state, &options));
    if let Ok(computed) = &planned {
        for format in [Format::Text, Format::Markdown, Format::Json] {
            check_no_secret(&render(&computed.plan, format, false), "a rendered plan")?;
        }
        let changing: BTreeSet<ObjectKey> = computed
            .plan
            .objects
            .iter()
            // Forgetting an object that is still there (a keep policy) releases it: one write.
            .filter(|c| c.action.is_change() && (c.action != Action::Forget || c.before.is_some()))
            .map(|c| c.key())
            .collect();
        if !computed.plan.has_errors() {
            rt.block_on(execute(
                &cluster,
                computed,
                &sink,
                &mut state,
                &exec_options(),
            ));
        }
        // 3. Nothing written that the plan does not list as a change.
        for key in cluster.written.lock().unwrap().iter() {
            prop_assert!(changing.contains(key), "{key} was written but not planned");
        }
    }
    if cluster.crashed.load(Ordering::SeqCst) {
        // The process died: the next run starts from what it had saved.
        sink.dead.store(true, Ordering::SeqCst);
        state = sink
            .saved
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| world(case).state);
    }
    check_promises(
        &cluster,
        &protected_before,
        &foreign_before,
        &kept_before,
        &options,
    )?;

    // 4. Recovery: without faults, the next plan and apply converge (`--replace` is a one-off
    // request, not part of what is declared: the recovery run does not repeat it).
    cluster.heal();
    let sink = MemoryState::default();
    let options = PlanOptions {
        replace: Vec::new(),
        ..options
    };
    let computed = rt
        .block_on(plan(&cluster, &desired, &state, &options))
        .map_err(TestCaseError::fail)?;
    if computed.plan.has_errors() {
        // Only another instance's objects may block a plan; they stay as they were.
        for c in computed
            .plan
            .objects
            .iter()
            .filter(|c| c.action == Action::Error)
        {
            prop_assert!(
                c.reason
                    .as_deref()
                    .unwrap_or("")
                    .contains("another instance"),
                "unexpected plan error: {c:?}"
            );
        }
        check_promises(
            &cluster,
            &protected_before,
            &foreign_before,
            &kept_before,
            &options,
        )?;
        return Ok(());
    }
    let report = rt.block_on(execute(
        &cluster,
        &computed,
        &sink,
        &mut state,
        &exec_options(),
    ));
    prop_assert!(
        report.failures.is_empty(),
        "recovery failed: {:?}",
        report.failures
    );
    // The revision records where the run came from, as the run was given it.
    let recorded = sink
        .history
        .lock()
        .unwrap()
        .last()
        .map(|h| h.provenance.clone());
    prop_assert_eq!(
        recorded.map(|p| (p.message, p.plan_checksum)),
        Some((Some("model run".into()), Some("model-plan".into())))
    );
    check_promises(
        &cluster,
        &protected_before,
        &foreign_before,
        &kept_before,
        &options,
    )?;
    // Everything declared exists once, labelled as this instance's (unless protection keeps
    // the old one, which also carries this instance's label or was adopted).
    let live = cluster.snapshot();
    for d in &desired {
        let o = live.get(&d.key());
        prop_assert!(o.is_some(), "{} is missing after recovery", d.address);
    }
    check_no_secret(&serde_json::to_string(&state).unwrap(), "the state")?;
    // A plan after that has nothing left to do but what protection refuses.
    let left = left_to_do(rt, &cluster, &desired, &state, &options)?;
    prop_assert!(left.is_empty(), "not converged: {left:?}");
    Ok(())
}

/// What a plan of `desired` from `state` still has to do: changes and adoptions.
fn left_to_do(
    rt: &tokio::runtime::Runtime,
    cluster: &MemoryCluster,
    desired: &[DesiredObject],
    state: &State,
    options: &PlanOptions,
) -> Result<Vec<String>, TestCaseError> {
    let again = rt
        .block_on(plan(cluster, desired, state, options))
        .map_err(TestCaseError::fail)?;
    Ok(again
        .plan
        .objects
        .iter()
        .filter(|c| c.action.is_change() || c.adopt)
        .map(|c| format!("{} {:?}", c.address, c.action))
        .collect())
}

fn check_promises(
    cluster: &MemoryCluster,
    protected_before: &BTreeMap<ObjectKey, String>,
    foreign_before: &BTreeMap<ObjectKey, Value>,
    kept_before: &BTreeMap<ObjectKey, String>,
    options: &PlanOptions,
) -> Result<(), TestCaseError> {
    let now = cluster.snapshot();
    // 0. Objects with a keep policy that nothing declares: never deleted, flag or not.
    for (key, uid) in kept_before {
        let live_uid = now.get(key).and_then(uid_of);
        prop_assert_eq!(
            live_uid.as_deref(),
            Some(uid.as_str()),
            "{} has a keep policy and was deleted",
            key
        );
    }
    // 1. Data-holding objects: never deleted or replaced without the flag.
    if !options.allow_data_loss {
        for (key, uid) in protected_before {
            let o = now.get(key);
            prop_assert!(o.is_some(), "{key} holds data and was deleted");
            let live_uid = o.and_then(uid_of);
            prop_assert_eq!(
                live_uid.as_deref(),
                Some(uid.as_str()),
                "{} holds data and was replaced",
                key
            );
        }
    }
    // 2. Another instance's objects: untouched.
    for (key, o) in foreign_before {
        prop_assert_eq!(
            now.get(key),
            Some(o),
            "another instance's {} was written",
            key
        );
    }
    Ok(())
}

#[test]
fn planner_and_executor_keep_every_promise_under_faults() {
    let cases: u32 = std::env::var("TODOPLAN_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&case(), |c| run_case(&rt, &c));
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ------------------------------------------------ two writers and a Lease that expires ----

/// One state in the cluster, as the kubernetes backend keeps it: every write carries the
/// version its writer last saw (the state Secret's resourceVersion), so a writer that lost the
/// race is refused.
#[derive(Default)]
struct SharedStore {
    saved: Mutex<Option<State>>,
    version: AtomicUsize,
    /// Who recorded each revision, in order.
    recorded_by: Mutex<Vec<&'static str>>,
}

/// Where the first writer's process stops (SIGSTOP) for longer than its Lease lives: at its
/// Nth look at the Lease, the fence check before a write. Its thread blocks there, with every
/// unit it was running, until the second writer has finished.
struct PausePoint {
    at: usize,
    checks: AtomicUsize,
    paused: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    resume: Mutex<std::sync::mpsc::Receiver<()>>,
}

/// What guards the state and the cluster, switched off one by one to show the model sees
/// what each prevents.
#[derive(Debug, Clone, Copy)]
struct Guards {
    /// Writes to the cluster ask the Lease first (`StateSink::fence`).
    fence: bool,
    /// Writes of the state carry the version last seen (the Secret's resourceVersion).
    precondition: bool,
}

/// The Lease: who holds it now.
struct Lease {
    holder: Mutex<&'static str>,
}

/// One writer's view of the store and the Lease (what `StateStore::Kubernetes` is to a run).
struct LeasedSink<'a> {
    who: &'static str,
    store: &'a SharedStore,
    lease: &'a Lease,
    /// The store's version this writer last read or wrote.
    seen: AtomicUsize,
    unsynced: Mutex<Vec<JournalEntry>>,
    guards: Guards,
    pause: Option<&'a PausePoint>,
}

impl<'a> LeasedSink<'a> {
    fn new(
        who: &'static str,
        store: &'a SharedStore,
        lease: &'a Lease,
        guards: Guards,
        pause: Option<&'a PausePoint>,
    ) -> Self {
        LeasedSink {
            who,
            store,
            lease,
            seen: AtomicUsize::new(store.version.load(Ordering::SeqCst)),
            unsynced: Mutex::new(Vec::new()),
            guards,
            pause,
        }
    }

    /// A write of the state, refused when another writer wrote since this one last looked.
    fn write_state(&self, change: impl FnOnce(&mut Option<State>)) -> Result<(), StateError> {
        let mut saved = self.store.saved.lock().unwrap();
        let now = self.store.version.load(Ordering::SeqCst);
        if self.guards.precondition && now != self.seen.load(Ordering::SeqCst) {
            return Err(StateError::Conflict {
                location: format!("the state (written by {} after another writer)", self.who),
            });
        }
        change(&mut saved);
        self.store.version.store(now + 1, Ordering::SeqCst);
        self.seen.store(now + 1, Ordering::SeqCst);
        Ok(())
    }
}

impl StateSink for LeasedSink<'_> {
    fn fence(&self) -> Result<(), String> {
        if let Some(p) = self.pause
            && p.checks.fetch_add(1, Ordering::SeqCst) + 1 == p.at
            && let Some(paused) = p.paused.lock().unwrap().take()
        {
            // Stopped here past the Lease's life: the second writer takes it meanwhile.
            let _ = paused.send(());
            let _ = p.resume.lock().unwrap().recv();
        }
        if !self.guards.fence || *self.lease.holder.lock().unwrap() == self.who {
            Ok(())
        } else {
            Err(format!("{} no longer holds the Lease", self.who))
        }
    }
    async fn begin(&self, state: &State) -> Result<(), StateError> {
        let mut begun = state.clone();
        begun.serial += 1;
        self.write_state(|saved| *saved = Some(begun))
    }
    fn journal(&self, entry: &JournalEntry) -> Result<(), StateError> {
        self.unsynced.lock().unwrap().push(entry.clone());
        Ok(())
    }
    async fn sync(&self) -> Result<(), StateError> {
        let entries = std::mem::take(&mut *self.unsynced.lock().unwrap());
        self.write_state(|saved| {
            if let Some(saved) = saved.as_mut() {
                for e in &entries {
                    e.apply_to(saved);
                }
            }
        })
    }
    async fn record_revision(
        &self,
        state: &mut State,
        _summary: String,
        _outcome: Outcome,
        _provenance: &todoplan::state::Provenance,
    ) -> Result<u64, StateError> {
        let mut next = state.clone();
        next.revision += 1;
        next.serial += 1;
        self.write_state(|saved| *saved = Some(next.clone()))?;
        self.store.recorded_by.lock().unwrap().push(self.who);
        *state = next;
        Ok(state.revision)
    }
}

#[derive(Debug, Clone)]
struct TwoWriters {
    /// (a Deployment (release b) rather than a ConfigMap (release a), recorded before, the
    /// first writer's value).
    items: Vec<(bool, bool, u8)>,
    /// The first writer is paused at this fence check.
    pause_at: usize,
}

fn two_writers() -> impl Strategy<Value = TwoWriters> {
    (
        prop::collection::vec((any::<bool>(), any::<bool>(), 0u8..3), 1..8),
        1usize..10,
    )
        .prop_map(|(items, pause_at)| TwoWriters { items, pause_at })
}

fn two_writer_world(case: &TwoWriters, bump: u8) -> World {
    world(&Case {
        items: case
            .items
            .iter()
            .map(|&(deployment, recorded, value)| Item {
                kind: if deployment {
                    Kind::Deployment
                } else {
                    Kind::ConfigMap
                },
                release: if deployment { "b" } else { "a" },
                before: if recorded {
                    Before::OursRecorded
                } else {
                    Before::Absent
                },
                declared: true,
                value: value + bump,
                kept: false,
            })
            .collect(),
        protect_a: false,
        allow_data_loss: false,
        replace_first: false,
        faults: Vec::new(),
        crash_after_writes: None,
        never_ready_first_deployment: false,
    })
}

/// What a Deployment or ConfigMap of the model declares that differs between the two writers.
fn value_of(o: &Value) -> Value {
    json!([o.pointer("/data/v"), o.pointer("/spec/replicas")])
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The first writer applies its plan on its own thread and is stopped at a fence check for
/// longer than its Lease; a second writer takes the expired Lease, plans and applies other
/// values; then the first resumes. Fenced, it writes nothing more, and its state write is
/// refused: the cluster keeps every value of the second writer, and the state agrees with the
/// cluster (a plan of the second writer's todo.toml has nothing to do).
fn run_two_writers(case: &TwoWriters, guards: Guards) -> Result<(), TestCaseError> {
    let first = two_writer_world(case, 0);
    let second_desired = two_writer_world(case, 10).desired;
    let cluster = first.cluster;
    let store = SharedStore::default();
    *store.saved.lock().unwrap() = Some(first.state.clone());
    let lease = Lease {
        holder: Mutex::new("first"),
    };
    let (paused_tx, paused_rx) = std::sync::mpsc::channel();
    let (resume_tx, resume_rx) = std::sync::mpsc::channel();
    let pause = PausePoint {
        at: case.pause_at,
        checks: AtomicUsize::new(0),
        paused: Mutex::new(Some(paused_tx)),
        resume: Mutex::new(resume_rx),
    };
    let options = first.options.clone();
    let mut state_first = first.state.clone();
    let computed_first = runtime()
        .block_on(plan(&cluster, &first.desired, &state_first, &options))
        .map_err(TestCaseError::fail)?;

    let second: Result<(), String> = std::thread::scope(|scope| {
        let first_thread = scope.spawn(|| {
            let sink = LeasedSink::new("first", &store, &lease, guards, Some(&pause));
            runtime().block_on(execute(
                &cluster,
                &computed_first,
                &sink,
                &mut state_first,
                &exec_options(),
            ));
            // Never stopped (fewer writes than the pause point): the second runs after it.
            drop(pause.paused.lock().unwrap().take());
        });
        // Stopped, or finished without reaching its pause point.
        let _ = paused_rx.recv();
        *lease.holder.lock().unwrap() = "second";
        let rt = runtime();
        let sink = LeasedSink::new("second", &store, &lease, guards, None);
        let mut state_second = store.saved.lock().unwrap().clone().unwrap();
        let result = rt
            .block_on(plan(&cluster, &second_desired, &state_second, &options))
            .and_then(|computed| {
                let report = rt.block_on(execute(
                    &cluster,
                    &computed,
                    &sink,
                    &mut state_second,
                    &exec_options(),
                ));
                match report.failures.is_empty() {
                    true => Ok(()),
                    false => Err(format!("the second writer failed: {:?}", report.failures)),
                }
            });
        let _ = resume_tx.send(());
        first_thread.join().unwrap();
        result
    });
    second.map_err(TestCaseError::fail)?;

    // The cluster keeps the second writer's values.
    let live = cluster.snapshot();
    for d in &second_desired {
        let o = live.get(&d.key());
        prop_assert!(o.is_some(), "{} is missing", d.address);
        prop_assert_eq!(
            value_of(o.unwrap()),
            value_of(&d.object),
            "{} holds the first writer's value after the second applied",
            d.address
        );
    }
    // The state is the second writer's and agrees with the cluster.
    prop_assert_eq!(
        store.recorded_by.lock().unwrap().last().copied(),
        Some("second")
    );
    let state = store.saved.lock().unwrap().clone().unwrap();
    let left = left_to_do(&runtime(), &cluster, &second_desired, &state, &options)?;
    prop_assert!(left.is_empty(), "state and cluster disagree: {left:?}");
    Ok(())
}

fn two_writer_runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn a_writer_paused_past_its_lease_never_overwrites_the_next_holder() {
    let cases: u32 = std::env::var("TODOPLAN_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(|n: u32| (n / 10).max(50))
        .unwrap_or(1_000);
    let guards = Guards {
        fence: true,
        precondition: true,
    };
    if let Err(e) = two_writer_runner(cases).run(&two_writers(), |c| run_two_writers(&c, guards)) {
        panic!("{e}");
    }
}

/// The model sees what each guard prevents: without the fence, the paused writer overwrites
/// the next holder's objects once it resumes; without the state's precondition, its stale
/// state replaces the next holder's.
#[test]
fn without_either_guard_the_model_finds_two_writers() {
    for guards in [
        Guards {
            fence: false,
            precondition: true,
        },
        Guards {
            fence: true,
            precondition: false,
        },
    ] {
        let result = two_writer_runner(300).run(&two_writers(), |c| run_two_writers(&c, guards));
        assert!(
            result.is_err(),
            "with {guards:?}, no case showed two writers: the model cannot see what that guard prevents"
        );
    }
}
