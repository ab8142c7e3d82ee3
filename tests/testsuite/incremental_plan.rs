//! The incremental plan's rule, proven over a model of the API server: whatever happens to the
//! cluster between two plans, the plan that skips the dry-run of objects unchanged since
//! recorded gives exactly the answer of the plan that dry-runs every object.
//!
//! The model server does what the answer of a server-side apply depends on: field ownership
//! (a forced apply takes a field over; fields another manager owns and todoplan does not declare
//! stay), defaulting that depends on the server's version, a mutating admission webhook, a CRD
//! whose schema default depends on its generation, status and spec written by controllers, uids
//! and generations. Each case draws a sequence of events, hand edits with `kubectl edit` and
//! `kubectl label`, a second server-side applier, a controller writing status or scaling, an
//! object deleted or restored from a backup with a new uid, a cluster upgrade, a webhook
//! installed or changed, a CRD changed, a chart change, and applies. After every event both
//! plans are computed and must agree object by object; right after an apply with nothing in
//! between, the incremental plan must send no dry-run at all.
//!
//! `TODOPLAN_INCREMENTAL_CASES` sets the number of cases (default 800).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use todoplan::apply::progress::Progress;
use todoplan::apply::{ApplyOptions, Readiness, StateSink, execute};
use todoplan::graph::{Address, DependencyGraph};
use todoplan::model::smoke::SmokeCheck;
use todoplan::observe::{
    Cluster, DryRunInputs, LABEL_INSTANCE, LABEL_PROJECT, LiveIndex, ObjectKey, ObserveError,
    is_foreign_field_owner,
};
use todoplan::plan::compute::{Comparison, Computed, diff_objects_incrementally};
use todoplan::plan::desired::DesiredObject;
use todoplan::plan::incremental::Basis;
use todoplan::plan::{Action, ObjectChange, PlanOptions};
use todoplan::state::{JournalEntry, Outcome, State, StateError};

const PROJECT: &str = "incr";
const NS: &str = "incr";
const ME: &str = "instance-incr";
const TODOPLAN: &str = "todoplan";

// ------------------------------------------------------------------ the model server ----

#[derive(Default)]
struct Server {
    objects: Mutex<BTreeMap<ObjectKey, Value>>,
    counter: AtomicUsize,
    version: Mutex<String>,
    /// A mutating webhook injecting this annotation into Deployments, with its configuration's
    /// generation.
    webhook: Mutex<Option<(String, i64)>>,
    /// The Widget CRD's generation: its schema defaults `spec.size` from it.
    crd_generation: Mutex<i64>,
    dry_runs: AtomicUsize,
    /// Readiness never comes (the process is killed while it waits).
    never_ready: AtomicBool,
}

fn next(counter: &AtomicUsize) -> usize {
    counter.fetch_add(1, Ordering::SeqCst) + 1
}

/// JSON pointers of the leaves of `v` below `prefix` (what a manager owns when it sets `v`).
fn leaves(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                leaves(
                    child,
                    &format!("{prefix}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

fn set_pointer(target: &mut Value, pointer: &str, value: Value) {
    let mut current = target;
    let parts: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect();
    for (i, part) in parts.iter().enumerate() {
        if !current.is_object() {
            *current = json!({});
        }
        let map = current.as_object_mut().unwrap();
        if i + 1 == parts.len() {
            map.insert(part.clone(), value);
            return;
        }
        current = map.entry(part.clone()).or_insert_with(|| json!({}));
    }
}

/// The fields a manager owns, as this model records them in its managedFields entry.
fn owned(entry: &Value) -> Vec<String> {
    entry["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn declared_fields(object: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for top in ["spec", "data"] {
        if let Some(v) = object.get(top) {
            leaves(v, &format!("/{top}"), &mut out);
        }
    }
    for meta in ["labels", "annotations"] {
        if let Some(v) = object.pointer(&format!("/metadata/{meta}")) {
            leaves(v, &format!("/metadata/{meta}"), &mut out);
        }
    }
    out
}

impl Server {
    fn new() -> Server {
        let s = Server::default();
        *s.version.lock().unwrap() = "v1.33.0".into();
        *s.crd_generation.lock().unwrap() = 1;
        s
    }

    fn inputs(&self) -> DryRunInputs {
        DryRunInputs {
            server_version: self.version.lock().unwrap().clone(),
            admission: Ok(self
                .webhook
                .lock()
                .unwrap()
                .iter()
                .map(|(_, g)| format!("MutatingWebhookConfiguration/inject@{g}"))
                .collect()),
            crds: Ok([(
                "widgets.example.com".to_string(),
                *self.crd_generation.lock().unwrap(),
            )]
            .into()),
        }
    }

    fn basis(&self) -> Basis {
        Basis::new(
            &self.inputs(),
            &[(
                ("example.com".to_string(), "Widget".to_string()),
                Some("widgets".to_string()),
            )]
            .into(),
        )
    }

    /// The inventory LIST: this instance's objects, managedFields kept only where contested.
    fn index(&self) -> LiveIndex {
        let objects = self
            .objects
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, o)| {
                o.pointer(&format!(
                    "/metadata/labels/{}",
                    LABEL_INSTANCE.replace('/', "~1")
                )) == Some(&json!(ME))
            })
            .map(|(k, o)| {
                let mut o = o.clone();
                let contested = o["metadata"]["managedFields"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(is_foreign_field_owner));
                if !contested {
                    o["metadata"]
                        .as_object_mut()
                        .unwrap()
                        .remove("managedFields");
                }
                (k.clone(), o)
            })
            .collect();
        LiveIndex {
            objects,
            requests: 0,
        }
    }

    /// What a server-side apply by `manager` (forced) stores.
    fn answer(&self, object: &Value, manager: &str, live: Option<&Value>) -> Value {
        let mut stored = object.clone();
        let declared = declared_fields(object);
        let mut entries: Vec<Value> = Vec::new();
        if let Some(live) = live {
            // Fields other managers own and this apply does not declare stay; declared ones
            // are taken over (forced).
            for entry in live["metadata"]["managedFields"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                if entry["manager"] == manager && entry["operation"] == "Apply" {
                    continue;
                }
                let kept: Vec<String> = owned(&entry)
                    .into_iter()
                    .filter(|p| !declared.contains(p))
                    .collect();
                for p in &kept {
                    if let Some(v) = live.pointer(p) {
                        set_pointer(&mut stored, p, v.clone());
                    }
                }
                if !kept.is_empty() || entry.get("subresource").is_some() {
                    let mut entry = entry.clone();
                    entry["fields"] = json!(kept);
                    entries.push(entry);
                }
            }
            if let Some(status) = live.get("status") {
                stored["status"] = status.clone();
            }
        }
        // Defaulting by the server's version.
        let version = self.version.lock().unwrap().clone();
        let kind = object["kind"].as_str().unwrap_or_default();
        if kind == "Deployment" {
            if stored.pointer("/spec/progressDeadlineSeconds").is_none() {
                set_pointer(&mut stored, "/spec/progressDeadlineSeconds", json!(600));
            }
            if version.as_str() >= "v1.34" && stored.pointer("/spec/revisionHistoryLimit").is_none()
            {
                set_pointer(&mut stored, "/spec/revisionHistoryLimit", json!(10));
            }
            if let Some((value, _)) = &*self.webhook.lock().unwrap() {
                set_pointer(
                    &mut stored,
                    "/metadata/annotations/webhook.example~1injected",
                    json!(value),
                );
            }
        }
        if kind == "Widget" && stored.pointer("/spec/size").is_none() {
            let size = if *self.crd_generation.lock().unwrap() % 2 == 1 {
                "small"
            } else {
                "medium"
            };
            set_pointer(&mut stored, "/spec/size", json!(size));
        }
        entries.insert(
            0,
            json!({"manager": manager, "operation": "Apply", "fields": declared}),
        );
        let meta = stored["metadata"].as_object_mut().unwrap();
        let (uid, generation, spec_before) = match live {
            Some(l) => (
                l["metadata"]["uid"].clone(),
                l["metadata"]["generation"].as_i64().unwrap_or(1),
                l.get("spec").cloned(),
            ),
            None => (json!(format!("uid-{}", next(&self.counter))), 0, None),
        };
        meta.insert("uid".into(), uid);
        meta.insert("managedFields".into(), json!(entries));
        let spec_changed = spec_before.as_ref() != stored.get("spec") || live.is_none();
        stored["metadata"]["generation"] = json!(generation + i64::from(spec_changed));
        stored
    }

    fn store(&self, mut object: Value) {
        object["metadata"]["resourceVersion"] = json!(next(&self.counter).to_string());
        self.objects
            .lock()
            .unwrap()
            .insert(ObjectKey::of(&object), object);
    }

    /// `kubectl edit` / `kubectl label` / a controller: an update by `manager` of `pointer`.
    fn update(
        &self,
        key: &ObjectKey,
        manager: &str,
        subresource: Option<&str>,
        pointer: &str,
        value: Value,
    ) {
        let Some(mut live) = self.objects.lock().unwrap().get(key).cloned() else {
            return;
        };
        set_pointer(&mut live, pointer, value);
        let entries = live["metadata"]["managedFields"].as_array_mut().unwrap();
        // The field changes hands: no other manager owns it any more.
        for e in entries.iter_mut() {
            let kept: Vec<String> = owned(e).into_iter().filter(|p| p != pointer).collect();
            e["fields"] = json!(kept);
        }
        let mut entry = json!({"manager": manager, "operation": "Update", "fields": [pointer]});
        if let Some(s) = subresource {
            entry["subresource"] = json!(s);
        }
        entries.push(entry);
        if pointer.starts_with("/spec") {
            let g = live["metadata"]["generation"].as_i64().unwrap_or(1);
            live["metadata"]["generation"] = json!(g + 1);
        }
        self.store(live);
    }
}

impl Cluster for Server {
    fn context_name(&self) -> &str {
        "model"
    }
    fn server_url(&self) -> &str {
        "model://"
    }
    async fn get(&self, key: &ObjectKey) -> Result<Option<Value>, ObserveError> {
        Ok(self.objects.lock().unwrap().get(key).cloned())
    }
    async fn apply(&self, object: &Value, dry_run: bool) -> Result<Value, ObserveError> {
        let key = ObjectKey::of(object);
        let live = self.objects.lock().unwrap().get(&key).cloned();
        let stored = self.answer(object, TODOPLAN, live.as_ref());
        if dry_run {
            self.dry_runs.fetch_add(1, Ordering::SeqCst);
        } else {
            self.store(stored.clone());
        }
        Ok(stored)
    }
    async fn json_patch(&self, key: &ObjectKey, ops: Vec<Value>) -> Result<(), ObserveError> {
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops)).unwrap();
        let mut objects = self.objects.lock().unwrap();
        if let Some(o) = objects.get_mut(key) {
            let _ = json_patch::patch(o, &patch);
        }
        Ok(())
    }
    async fn delete(&self, key: &ObjectKey, _uid: Option<&str>) -> Result<(), ObserveError> {
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
    async fn wait_gone(&self, _key: &ObjectKey, _timeout: Duration) -> Result<(), ObserveError> {
        Ok(())
    }
    async fn namespace_contents(&self, ns: &str) -> Result<Vec<ObjectKey>, ObserveError> {
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
        _api_version: &str,
        kind: &str,
    ) -> Result<Vec<ObjectKey>, ObserveError> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.kind == kind)
            .cloned()
            .collect())
    }
}

impl Readiness for Server {
    async fn wait_ready(&self, _key: &ObjectKey, _timeout: Duration) -> Result<(), String> {
        if self.never_ready.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
    async fn probe(&self, check: &SmokeCheck) -> Result<(u16, String), String> {
        Err(format!("the model has no Service {}", check.service))
    }
    async fn diagnose_service(&self, _namespace: &str, service: &str) -> String {
        format!("the model has no Service {service}")
    }
}

/// Journal entries land in the run's state directly; nothing needs to survive a crash here.
struct Sink;

impl StateSink for Sink {
    async fn begin(&self, _state: &State) -> Result<(), StateError> {
        Ok(())
    }
    fn journal(&self, _entry: &JournalEntry) -> Result<(), StateError> {
        Ok(())
    }
    async fn sync(&self) -> Result<(), StateError> {
        Ok(())
    }
    async fn record_revision(
        &self,
        state: &mut State,
        _summary: String,
        _outcome: Outcome,
        _provenance: &todoplan::state::Provenance,
    ) -> Result<u64, StateError> {
        state.revision += 1;
        state.serial += 1;
        Ok(state.revision)
    }
}

// ------------------------------------------------------------------ the project ----

const OBJECTS: usize = 4;

/// Object i of the project at chart version `values[i]`: a ConfigMap, a Deployment, a Widget
/// (custom resource), a ConfigMap, by i % 4 … (4 objects).
fn desired(values: &[u8; OBJECTS]) -> Vec<DesiredObject> {
    (0..OBJECTS)
        .map(|i| {
            let labels = json!({LABEL_PROJECT: PROJECT, LABEL_INSTANCE: ME, "todoplan.dev/release": "app"});
            let meta = json!({"name": format!("o{i}"), "namespace": NS, "labels": labels});
            let v = values[i];
            let object = match i % 4 {
                1 => json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                    "spec": {"replicas": 1 + (v % 2), "selector": {"matchLabels": {"app": "o1"}},
                        "template": {"metadata": {"labels": {"app": "o1"}},
                            "spec": {"containers": [{"name": "c", "image": format!("img:{v}")}]}}}}),
                2 => {
                    let mut spec = json!({"colour": format!("c{v}")});
                    if v.is_multiple_of(3) {
                        spec["size"] = json!("large");
                    }
                    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta, "spec": spec})
                }
                _ => json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                    "data": {"v": v.to_string()}}),
            };
            let key = ObjectKey::of(&object);
            DesiredObject {
                address: Address::Object {
                    release: "app".into(),
                    api_version: key.api_version,
                    kind: key.kind,
                    namespace: key.namespace,
                    name: key.name,
                },
                object,
                release: Some("app".into()),
                protect: false,
                timeout: Duration::from_secs(1),
            }
        })
        .collect()
}

fn graph() -> DependencyGraph {
    static SPEC: std::sync::OnceLock<DependencyGraph> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("app")).unwrap();
        std::fs::write(
            dir.path().join("app/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("todo.toml"),
            format!("[project]\nname = \"{PROJECT}\"\n\n[cluster]\nnamespace = \"{NS}\"\n\n[releases.app]\nchart = \"app\"\n"),
        )
        .unwrap();
        let spec = todoplan::spec::load(&dir.path().join("todo.toml"), None).unwrap();
        DependencyGraph::build(&spec).unwrap()
    })
    .clone()
}

/// A plan over the model server: its changes, deletions, how it compared, and the dry-runs
/// the server counted.
struct Planned {
    changes: Vec<ObjectChange>,
    deletions: Vec<(String, todoplan::state::ObjectRecord)>,
    comparison: Comparison,
    dry_runs: usize,
}

async fn plan_with(
    server: &Server,
    desired: &[DesiredObject],
    state: &State,
    options: &PlanOptions,
) -> Planned {
    let before = server.dry_runs.load(Ordering::SeqCst);
    let basis = server.basis();
    let (changes, deletions, comparison) = diff_objects_incrementally(
        Some(server),
        &mut server.index(),
        desired,
        state,
        options,
        &todoplan::plan::compute::digest_salt(state),
        Some(&basis),
    )
    .await
    .expect("the model never fails a plan");
    Planned {
        changes,
        deletions,
        comparison,
        dry_runs: server.dry_runs.load(Ordering::SeqCst) - before,
    }
}

async fn plan(
    server: &Server,
    desired: &[DesiredObject],
    state: &State,
    full: bool,
) -> (Vec<ObjectChange>, Comparison, usize) {
    let options = PlanOptions {
        full_refresh: full,
        ..Default::default()
    };
    let p = plan_with(server, desired, state, &options).await;
    (p.changes, p.comparison, p.dry_runs)
}

/// What the executor carries out for `planned`.
fn computed(
    server: &Server,
    state: &State,
    desired: &[DesiredObject],
    graph: DependencyGraph,
    planned: Planned,
    options: PlanOptions,
) -> Computed {
    Computed {
        label: None,
        plan: todoplan::plan::Plan {
            objects: planned.changes,
            options,
            ..todoplan::plan::Plan::against(state, PROJECT, None)
        },
        desired: desired.to_vec(),
        graph,
        secrets: BTreeMap::new(),
        deletions: planned.deletions,
        foreign_fields: BTreeMap::new(),
        release_values: BTreeMap::new(),
        basis: Some(server.basis()),
        confirmed: planned.comparison.confirmed,
    }
}

fn exec_options(parallelism: usize) -> ApplyOptions {
    ApplyOptions {
        parallelism,
        progress: Progress::silent(),
        cancelled: std::sync::Arc::new(AtomicBool::new(false)),
        provenance: Default::default(),
    }
}

async fn apply(server: &Server, desired: &[DesiredObject], state: &mut State) {
    let options = PlanOptions::default();
    let planned = plan_with(server, desired, state, &options).await;
    let computed = computed(server, state, desired, graph(), planned, options);
    let report = execute(server, &computed, &Sink, state, &exec_options(2)).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
}

#[derive(Debug, Clone)]
enum Event {
    Apply,
    /// `kubectl edit` of a declared field of object i.
    HandEdit(usize),
    /// `kubectl label` of object i.
    HandLabel(usize),
    /// Another tool server-side applies a declared field of object i, with todoplan's value.
    CoOwner(usize),
    /// A controller writes object i's status.
    Status(usize),
    /// The HPA (a controller) scales the Deployment.
    Scale,
    /// Object i deleted by hand.
    Delete(usize),
    /// Object i restored from a backup: the same content, a new uid.
    Restore(usize),
    Upgrade,
    /// A mutating webhook installed or reconfigured (injecting this value).
    Webhook(u8),
    CrdChange,
    /// The chart changes object i.
    Chart(usize, u8),
}

fn event() -> impl Strategy<Value = Event> {
    let i = 0..OBJECTS;
    prop_oneof![
        3 => Just(Event::Apply),
        1 => i.clone().prop_map(Event::HandEdit),
        1 => i.clone().prop_map(Event::HandLabel),
        1 => i.clone().prop_map(Event::CoOwner),
        2 => i.clone().prop_map(Event::Status),
        1 => Just(Event::Scale),
        1 => i.clone().prop_map(Event::Delete),
        1 => i.clone().prop_map(Event::Restore),
        1 => Just(Event::Upgrade),
        1 => (0u8..3).prop_map(Event::Webhook),
        1 => Just(Event::CrdChange),
        1 => (i, 0u8..6).prop_map(|(i, v)| Event::Chart(i, v)),
    ]
}

fn key(i: usize, values: &[u8; OBJECTS]) -> ObjectKey {
    desired(values)[i].key()
}

fn happen(server: &Server, event: &Event, values: &mut [u8; OBJECTS]) {
    match event {
        Event::Apply => {}
        Event::HandEdit(i) => {
            let k = key(*i, values);
            let pointer = match k.kind.as_str() {
                "Deployment" => "/spec/template/spec/containers",
                "Widget" => "/spec/colour",
                _ => "/data/v",
            };
            let value = if pointer.ends_with("containers") {
                json!([{"name": "c", "image": "hand:edited"}])
            } else {
                json!("hand")
            };
            server.update(&k, "kubectl-edit", None, pointer, value);
        }
        Event::HandLabel(i) => server.update(
            &key(*i, values),
            "kubectl-label",
            None,
            "/metadata/labels/team",
            json!("x"),
        ),
        Event::CoOwner(i) => {
            let k = key(*i, values);
            let Some(live) = server.objects.lock().unwrap().get(&k).cloned() else {
                return;
            };
            let pointer = "/metadata/labels/todoplan.dev~1release";
            let mut entries = live["metadata"]["managedFields"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            entries.push(
                json!({"manager": "other-applier", "operation": "Apply", "fields": [pointer]}),
            );
            let mut live = live;
            live["metadata"]["managedFields"] = json!(entries);
            server.store(live);
        }
        Event::Status(i) => {
            let n = next(&server.counter);
            server.update(
                &key(*i, values),
                "kube-controller-manager",
                Some("status"),
                "/status/observed",
                json!(n),
            );
        }
        Event::Scale => {
            server.update(
                &key(1, values),
                "kube-controller-manager",
                Some("scale"),
                "/spec/replicas",
                json!(5),
            );
        }
        Event::Delete(i) => {
            server.objects.lock().unwrap().remove(&key(*i, values));
        }
        Event::Restore(i) => {
            let k = key(*i, values);
            let Some(mut live) = server.objects.lock().unwrap().get(&k).cloned() else {
                return;
            };
            live["metadata"]["uid"] = json!(format!("uid-{}", next(&server.counter)));
            server.store(live);
        }
        Event::Upgrade => {
            let mut v = server.version.lock().unwrap();
            *v = if v.as_str() == "v1.33.0" {
                "v1.34.1".into()
            } else {
                "v1.33.0".into()
            };
        }
        Event::Webhook(value) => {
            let mut w = server.webhook.lock().unwrap();
            let generation = w.as_ref().map(|(_, g)| g + 1).unwrap_or(1);
            *w = Some((format!("inject-{value}"), generation));
        }
        Event::CrdChange => *server.crd_generation.lock().unwrap() += 1,
        Event::Chart(i, v) => values[*i] = *v,
    }
}

fn summary(changes: &[ObjectChange]) -> Vec<(String, Action, Option<Value>, Option<Value>)> {
    changes
        .iter()
        .map(|c| {
            (
                c.address.clone(),
                c.action,
                c.before.as_deref().cloned(),
                c.after.as_deref().cloned(),
            )
        })
        .collect()
}

fn run_case(rt: &tokio::runtime::Runtime, events: &[Event]) -> Result<bool, TestCaseError> {
    rt.block_on(async {
        let server = Server::new();
        let mut state = State::new(PROJECT);
        state.lineage = ME.into();
        let mut values = [0u8; OBJECTS];
        apply(&server, &desired(&values), &mut state).await;
        let mut skipped_any = false;
        let mut just_applied = true;
        for event in events {
            happen(&server, event, &mut values);
            let wanted = desired(&values);
            if matches!(event, Event::Apply) {
                apply(&server, &wanted, &mut state).await;
                just_applied = true;
            } else {
                just_applied = false;
            }
            let (full, _, full_dry_runs) = plan(&server, &wanted, &state, true).await;
            let (incremental, comparison, dry_runs) = plan(&server, &wanted, &state, false).await;
            prop_assert_eq!(
                full_dry_runs,
                wanted.len(),
                "the full plan dry-runs every object"
            );
            prop_assert_eq!(
                summary(&incremental),
                summary(&full),
                "after {:?} (events {:?}) the incremental plan differs from the full one",
                event,
                events
            );
            prop_assert_eq!(comparison.skipped + comparison.dry_runs, wanted.len());
            prop_assert_eq!(comparison.dry_runs, dry_runs);
            skipped_any |= comparison.skipped > 0;
            if just_applied {
                let converged = full.iter().all(|c| c.action == Action::NoOp);
                prop_assert!(
                    converged,
                    "an apply leaves nothing to do: {:?}",
                    summary(&full)
                );
                // Right after an apply nothing moved: only objects another manager co-owns
                // (a field todoplan does not declare, which stays) are dry-run.
                let contested = server
                    .index()
                    .objects
                    .values()
                    .filter(|o| o.pointer("/metadata/managedFields").is_some())
                    .count();
                prop_assert_eq!(
                    dry_runs,
                    contested,
                    "right after an apply only co-owned objects are dry-run (events {:?})",
                    events
                );
            }
        }
        let _ = just_applied;
        Ok(skipped_any)
    })
}

#[test]
fn incremental_plan_answers_as_the_full_plan_after_any_event() {
    let cases: u32 = std::env::var("TODOPLAN_INCREMENTAL_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(800);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let skipped = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(event(), 1..12), |events| {
            if run_case(&rt, &events)? {
                skipped.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        })
        .unwrap();
    // The rule is not vacuous: most cases skipped dry-runs somewhere.
    assert!(
        skipped.load(Ordering::SeqCst) * 2 > cases as usize,
        "only {} of {cases} cases skipped any dry-run",
        skipped.load(Ordering::SeqCst)
    );
}

#[test]
fn each_kind_of_change_forces_a_dry_run_of_what_it_touches() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // (event, objects whose dry-run it must force)
    let table: Vec<(Event, BTreeSet<usize>)> = vec![
        (Event::Status(0), BTreeSet::new()),
        (Event::Status(1), BTreeSet::new()),
        (Event::HandEdit(0), [0].into()),
        (Event::HandLabel(3), [3].into()),
        (Event::CoOwner(2), [2].into()),
        (Event::Scale, [1].into()),
        (Event::Restore(0), [0].into()),
        (Event::Chart(3, 5), [3].into()),
        (Event::CrdChange, [2].into()),
        (Event::Upgrade, (0..OBJECTS).collect()),
        (Event::Webhook(1), (0..OBJECTS).collect()),
    ];
    rt.block_on(async {
        for (event, forced) in table {
            let server = Server::new();
            let mut state = State::new(PROJECT);
            state.lineage = ME.into();
            let mut values = [0u8; OBJECTS];
            apply(&server, &desired(&values), &mut state).await;
            happen(&server, &event, &mut values);
            let wanted = desired(&values);
            let (changes, comparison, _) = plan(&server, &wanted, &state, false).await;
            let skipped: BTreeSet<usize> = (0..OBJECTS).filter(|i| !forced.contains(i)).collect();
            assert_eq!(
                comparison.skipped,
                skipped.len(),
                "{event:?}: dry-run exactly {forced:?}; plan: {:?}",
                summary(&changes)
            );
        }
    });
}

/// A state backend whose sync, like the kubernetes backend's, lets one caller at a time write
/// (an async lock held across the write).
#[derive(Default)]
struct SerialSink {
    syncing: tokio::sync::Mutex<()>,
    syncs: AtomicUsize,
}

impl StateSink for SerialSink {
    async fn begin(&self, _state: &State) -> Result<(), StateError> {
        Ok(())
    }
    fn journal(&self, _entry: &JournalEntry) -> Result<(), StateError> {
        Ok(())
    }
    async fn sync(&self) -> Result<(), StateError> {
        let _one = self.syncing.lock().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn record_revision(
        &self,
        state: &mut State,
        _summary: String,
        _outcome: Outcome,
        _provenance: &todoplan::state::Provenance,
    ) -> Result<u64, StateError> {
        state.revision += 1;
        Ok(state.revision)
    }
}

/// Many releases applied at once, their syncs and the executor's own contending for the state
/// backend's lock: the apply finishes. (It hung: a unit handed the lock inside the executor's
/// set of running units was not polled while the executor itself waited for the lock.)
#[test]
fn many_releases_at_once_never_hang_on_the_state_backends_lock() {
    const RELEASES: usize = 12;
    const PER_RELEASE: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let mut toml = format!("[project]\nname = \"{PROJECT}\"\n\n[cluster]\nnamespace = \"{NS}\"\n");
    for r in 0..RELEASES {
        std::fs::create_dir_all(dir.path().join(format!("c{r}"))).unwrap();
        std::fs::write(
            dir.path().join(format!("c{r}/cm.yaml")),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        )
        .unwrap();
        toml.push_str(&format!("\n[releases.r{r}]\nchart = \"c{r}\"\n"));
    }
    std::fs::write(dir.path().join("todo.toml"), toml).unwrap();
    let spec = todoplan::spec::load(&dir.path().join("todo.toml"), None).unwrap();
    let mut graph = DependencyGraph::build(&spec).unwrap();
    let mut wanted = Vec::new();
    for r in 0..RELEASES {
        let release = format!("r{r}");
        let mut keys = Vec::new();
        for i in 0..PER_RELEASE {
            let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("{release}-{i}"), "namespace": NS,
                    "labels": {LABEL_PROJECT: PROJECT, LABEL_INSTANCE: ME}},
                "data": {"v": "1"}});
            let key = ObjectKey::of(&object);
            keys.push(key.clone());
            wanted.push(DesiredObject {
                address: Address::Object {
                    release: release.clone(),
                    api_version: key.api_version,
                    kind: key.kind,
                    namespace: key.namespace,
                    name: key.name,
                },
                object,
                release: Some(release.clone()),
                protect: false,
                timeout: Duration::from_secs(1),
            });
        }
        graph.add_release_objects(&release, &keys);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for round in 0..5 {
            let server = Server::new();
            let mut state = State::new(PROJECT);
            state.lineage = ME.into();
            let options = PlanOptions::default();
            let planned = plan_with(&server, &wanted, &state, &options).await;
            let computed = computed(&server, &state, &wanted, graph.clone(), planned, options);
            let sink = SerialSink::default();
            let options = exec_options(8);
            let report = tokio::time::timeout(
                Duration::from_secs(60),
                execute(&server, &computed, &sink, &mut state, &options),
            )
            .await
            .unwrap_or_else(|_| panic!("round {round}: the apply hung"));
            assert!(report.failures.is_empty(), "{:?}", report.failures);
            assert_eq!(state.objects.len(), RELEASES * PER_RELEASE);
            assert!(sink.syncs.load(Ordering::SeqCst) > RELEASES);
        }
    });
}

/// A rollout killed while apply waits for it (kill -9, a second Ctrl-C) is not forgotten: the
/// workload was recorded as written-not-ready before the wait, so the next plan applies it
/// again and waits, instead of "No changes" about a rollout nobody saw finish.
#[test]
fn a_rollout_killed_during_its_readiness_wait_is_planned_again() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = Server::new();
        let mut state = State::new(PROJECT);
        state.lineage = ME.into();
        let mut values = [0u8; OBJECTS];
        apply(&server, &desired(&values), &mut state).await;
        assert!(
            state.objects.values().all(|r| !r.tainted),
            "seen ready: not tainted"
        );
        // A new image for the Deployment; the apply is killed while it waits.
        values[1] = 1;
        let wanted = desired(&values);
        server.never_ready.store(true, Ordering::SeqCst);
        let options = PlanOptions::default();
        let planned = plan_with(&server, &wanted, &state, &options).await;
        let computed = computed(&server, &state, &wanted, graph(), planned, options);
        let options = exec_options(2);
        let killed = tokio::time::timeout(
            Duration::from_millis(300),
            execute(&server, &computed, &Sink, &mut state, &options),
        )
        .await;
        assert!(
            killed.is_err(),
            "the apply was still waiting when it was killed"
        );
        let deployment = &wanted[1];
        let record = &state.objects[&deployment.address.to_string()];
        assert!(record.tainted, "written, never seen ready: tainted");
        server.never_ready.store(false, Ordering::SeqCst);
        for full in [true, false] {
            let (changes, _, _) = plan(&server, &wanted, &state, full).await;
            let change = changes
                .iter()
                .find(|c| c.address == deployment.address.to_string())
                .unwrap();
            assert_eq!(
                change.action,
                Action::Update,
                "the next plan waits for it again"
            );
            assert!(change.reason.as_deref().unwrap_or("").contains("tainted"));
        }
        apply(&server, &wanted, &mut state).await;
        assert!(!state.objects[&deployment.address.to_string()].tainted);
        let (changes, _, _) = plan(&server, &wanted, &state, false).await;
        assert!(changes.iter().all(|c| c.action == Action::NoOp));
    });
}

/// A claim of a deleted StatefulSet that the protection gate kept is not lost to todoplan: it
/// is recorded, so a later run with --allow-data-loss can still delete it (it used to be
/// dropped, and then no command could delete it or its namespace).
#[test]
fn a_refused_claim_of_a_deleted_statefulset_stays_in_state_until_deleted_with_the_flag() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = Server::new();
        let mut state = State::new(PROJECT);
        state.lineage = ME.into();
        let labels = json!({LABEL_PROJECT: PROJECT, LABEL_INSTANCE: ME, "todoplan.dev/release": "app"});
        let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": NS, "labels": labels},
            "spec": {"serviceName": "db", "replicas": 1,
                "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "c", "image": "postgres"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}}}}]}});
        let key = ObjectKey::of(&sts);
        let declared = vec![DesiredObject {
            address: Address::Object {
                release: "app".into(),
                api_version: key.api_version,
                kind: key.kind,
                namespace: key.namespace,
                name: key.name,
            },
            object: sts,
            release: Some("app".into()),
            protect: false,
            timeout: Duration::from_secs(1),
        }];
        apply(&server, &declared, &mut state).await;
        // The StatefulSet's controller made its claim.
        server.store(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data-db-0", "namespace": NS, "uid": "claim-uid"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}));
        let claim = ObjectKey {
            api_version: "v1".into(),
            kind: "PersistentVolumeClaim".into(),
            namespace: Some(NS.into()),
            name: "data-db-0".into(),
        };
        // The StatefulSet is no longer declared: it goes, its claim is refused.
        async fn prune(server: &Server, state: &mut State, allow_data_loss: bool) -> Vec<ObjectChange> {
            let options = PlanOptions {
                allow_data_loss,
                ..Default::default()
            };
            let planned = plan_with(server, &[], state, &options).await;
            let objects = planned.changes.clone();
            let computed = computed(server, state, &[], graph(), planned, options);
            let report = execute(server, &computed, &Sink, state, &exec_options(1)).await;
            assert!(report.failures.is_empty(), "{:?}", report.failures);
            objects
        }
        let first = prune(&server, &mut state, false).await;
        let claim_line = first
            .iter()
            .find(|c| c.name == "data-db-0")
            .expect("the claim is planned with its StatefulSet");
        assert_eq!(claim_line.action, Action::Refused);
        assert!(server.objects.lock().unwrap().contains_key(&claim), "kept");
        assert!(
            state.objects.values().any(|r| r.name == "data-db-0"),
            "the kept claim is recorded"
        );
        // Without the flag, it stays refused; with it, it goes.
        let again = prune(&server, &mut state, false).await;
        assert!(again.iter().any(|c| c.name == "data-db-0" && c.action == Action::Refused));
        let last = prune(&server, &mut state, true).await;
        assert!(last.iter().any(|c| c.name == "data-db-0" && c.action == Action::Delete));
        assert!(!server.objects.lock().unwrap().contains_key(&claim), "deleted with the flag");
        assert!(state.objects.is_empty(), "nothing left in state");
    });
}
