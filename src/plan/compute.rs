//! Computing a plan: desired objects vs what exists (live, by server-side dry-run; or, offline,
//! what state/ recorded).

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::desired::{self, DesiredObject};
use super::model::*;
use super::normalize::normalize;
use super::redact::{is_secret, redact, redact_pair};
use crate::chart;
use crate::drift::{self, ForeignField};
use crate::graph::{Address, DependencyGraph};
use crate::observe::{ClusterClient, LiveIndex, ObjectKey};
use crate::secrets::{self, SecretValues};
use crate::spec::Spec;
use crate::state::{ObjectRecord, State};

/// How many dry-runs/GETs run at once.
const CONCURRENT_REQUESTS: usize = 16;

/// An image reference for `${images.NAME.ref}` and friends.
#[derive(Debug, Clone)]
pub struct ImageRef {
    pub reference: String,
    pub repository: String,
    pub tag: String,
    /// False until the image is pushed: the reference shown is its tag, the digest comes later.
    pub known: bool,
}

pub struct PlanRequest<'a> {
    pub spec: &'a Spec,
    /// None: offline (compare against state only).
    pub cluster: Option<&'a ClusterClient>,
    pub state: &'a State,
    pub allow_data_loss: bool,
    /// (secret set, key) to generate anew.
    pub rotate: BTreeSet<(String, String)>,
    pub images: BTreeMap<String, ImageRef>,
    pub image_changes: Vec<ImageChange>,
    /// Values resolved by an earlier plan in this process (apply reuses them, so generated
    /// values are the ones the plan showed digests of).
    pub reuse_secrets: Option<BTreeMap<String, SecretValues>>,
    /// Lines to show first in the plan (delivery chosen, ...).
    pub notes: Vec<String>,
}

pub struct Computed {
    pub plan: Plan,
    pub desired: Vec<DesiredObject>,
    pub graph: DependencyGraph,
    pub secrets: BTreeMap<String, SecretValues>,
    /// Recorded objects no longer desired: (address, record), in delete order.
    pub deletions: Vec<(String, ObjectRecord)>,
    /// Per address, fields other managers added that apply removes.
    pub foreign_fields: BTreeMap<String, Vec<ForeignField>>,
}

fn remove_pointer(value: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.remove(&last);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < a.len()
            {
                a.remove(i);
            }
        }
        _ => {}
    }
}

/// Drift of every recorded object against the live ones: changed fields (with who changed
/// them), deleted objects, and objects with this project's labels todoplan never applied.
pub async fn detect_drift(
    cluster: &ClusterClient,
    live: &LiveIndex,
    spec: &Spec,
    state: &State,
) -> miette::Result<(Vec<DriftItem>, BTreeMap<String, Vec<ForeignField>>)> {
    let mut items = Vec::new();
    let mut foreign = BTreeMap::new();
    let salt = digest_salt(state);
    for (address, record) in &state.objects {
        let key = record.key();
        let found = match live.objects.get(&key) {
            Some(o) => Some(o.clone()),
            // Its labels may have been removed by hand: look it up by name.
            None => match cluster.get(&key).await {
                Ok(o) => o,
                Err(crate::observe::ObserveError::UnknownKind { .. }) => None,
                Err(e) => return Err(e.into()),
            },
        };
        let Some(object) = found else {
            items.push(drift::deleted(address));
            continue;
        };
        let rules = spec
            .releases
            .get(&record.release)
            .map(|r| r.ignore_rules())
            .unwrap_or_default();
        let (mut found_items, removals) =
            drift::object_drift(address, &record.manifest, &object, &rules);
        if is_secret(&object)
            && let Some(recorded) = state.secrets.values().find(|s| {
                s.k8s_name == record.name && Some(&s.namespace) == record.namespace.as_ref()
            })
        {
            for (k, v) in crate::plan::redact::secret_values(&object) {
                let now = crate::plan::redact::value_digest(&salt, &k, &v);
                if recorded.key_digests.get(&k).is_some_and(|d| *d != now)
                    && !found_items.iter().any(|i| i.field == format!("data.{k}"))
                {
                    found_items.push(DriftItem {
                        address: address.clone(),
                        field: format!("data.{k}"),
                        kind: DriftKind::Changed,
                        recorded: Some(Value::String("(sensitive value)".into())),
                        live: Some(Value::String("(sensitive value changed)".into())),
                        manager: None,
                        changed_at: None,
                    });
                }
            }
        }
        items.extend(found_items);
        if !removals.is_empty() {
            foreign.insert(address.clone(), removals);
        }
    }
    let recorded: BTreeSet<ObjectKey> = state.objects.values().map(ObjectRecord::key).collect();
    let mut strays: Vec<String> = live
        .objects
        .keys()
        .filter(|k| !recorded.contains(*k))
        .map(|k| k.to_string())
        .collect();
    strays.sort();
    items.extend(strays.iter().map(|k| drift::unmanaged(k)));
    Ok((items, foreign))
}

/// The salt for secret digests: the state's lineage (fixed for the life of the state).
pub fn digest_salt(state: &State) -> String {
    state.lineage.clone()
}

pub async fn compute(req: PlanRequest<'_>) -> miette::Result<Computed> {
    let spec = req.spec;
    let salt = digest_salt(req.state);
    let mut graph = DependencyGraph::build(spec)?;
    let mut notes = req.notes.clone();

    // Secrets: generated values are kept from the live Secret.
    let secrets = match req.reuse_secrets {
        Some(s) => s,
        None => {
            let mut out = BTreeMap::new();
            for (name, set) in &spec.secrets {
                let live = match req.cluster {
                    Some(c) => {
                        let key = ObjectKey {
                            api_version: "v1".into(),
                            kind: "Secret".into(),
                            namespace: Some(set.namespace.clone()),
                            name: set.k8s_name.clone(),
                        };
                        c.get(&key).await?
                    }
                    None => None,
                };
                let rotate: BTreeSet<String> = req
                    .rotate
                    .iter()
                    .filter(|(s, _)| s == name)
                    .map(|(_, k)| k.clone())
                    .collect();
                out.insert(name.clone(), secrets::resolve(set, live.as_ref(), &rotate)?);
            }
            out
        }
    };

    let mut desired: Vec<DesiredObject> = desired::namespace_objects(spec);
    desired.extend(desired::secret_objects(spec, &secrets));

    let capabilities = match req.cluster {
        Some(c) => chart::Capabilities {
            kube_version: c.server_version().await?,
            ..Default::default()
        },
        None => chart::Capabilities::default(),
    };
    let is_upgrade = req.state.revision > 0;
    for address in graph.apply_order() {
        let Address::Release(name) = &address else {
            continue;
        };
        let Some(release) = spec.releases.get(name) else {
            continue;
        };
        let mut unresolved = Vec::new();
        let values = release_values(spec, release, &req.images, &mut unresolved)?;
        let objects = desired::release_objects(
            spec,
            name,
            values,
            req.cluster,
            &capabilities,
            is_upgrade,
            req.state.revision + 1,
        )
        .await?;
        let keys: Vec<ObjectKey> = objects.iter().map(DesiredObject::key).collect();
        graph.add_release_objects(name, &keys);
        desired.extend(objects);
        for u in unresolved {
            unresolved_note(
                &mut notes,
                format!(
                    "{u} is known after apply (the image is pushed first); release.{name} shows the image's tag"
                ),
            );
        }
    }
    let rolled = desired::add_config_checksums(&mut desired, &secrets, &salt);

    check_duplicates(&desired)?;

    let live = match req.cluster {
        Some(c) => {
            let kinds = desired
                .iter()
                .map(|d| d.key())
                .chain(req.state.objects.values().map(ObjectRecord::key))
                .map(|k| (k.api_version, k.kind))
                .collect();
            c.live_inventory(&spec.project.name, &kinds).await?
        }
        None => LiveIndex::default(),
    };
    let (mut changes, kept_deletions) = diff_objects(
        req.cluster,
        &live,
        &desired,
        req.state,
        req.allow_data_loss,
        &salt,
    )
    .await?;
    let (drift, foreign_fields) = match req.cluster {
        Some(c) => detect_drift(c, &live, spec, req.state).await?,
        None => (Vec::new(), BTreeMap::new()),
    };
    for (address, fields) in &foreign_fields {
        if let Some(c) = changes.iter_mut().find(|c| &c.address == address)
            && matches!(c.action, Action::NoOp | Action::Update)
        {
            let mut after = c.before.clone().unwrap_or_default();
            for f in fields.iter().rev() {
                remove_pointer(&mut after, &f.pointer);
            }
            if c.action == Action::NoOp {
                c.after = Some(after);
            }
            c.action = Action::Update;
            c.reason
                .get_or_insert_with(|| "removes fields added outside todoplan".to_string());
        }
    }
    for (workload, config) in &rolled {
        if let Some(c) = changes
            .iter_mut()
            .find(|c| c.address == workload.to_string())
            && c.action == Action::Update
            && c.reason.is_none()
        {
            c.reason = Some(format!("pods roll: the checksum of {config} changed"));
        }
    }

    let inputs_digest = inputs_digest(spec, &req.images);
    let plan = Plan {
        format_version: PLAN_FORMAT_VERSION.into(),
        todoplan_version: env!("CARGO_PKG_VERSION").into(),
        created_at: chrono::Utc::now(),
        project: spec.project.name.clone(),
        env: spec.env.clone(),
        offline: req.cluster.is_none(),
        lineage: (req.state.serial > 0).then(|| req.state.lineage.clone()),
        serial: req.state.serial,
        inputs_digest,
        notes,
        images: req.image_changes,
        drift,
        objects: changes,
        checks: Vec::new(),
    };
    Ok(Computed {
        plan,
        desired,
        graph,
        secrets,
        deletions: kept_deletions,
        foreign_fields,
    })
}

/// Changes for `desired` against the cluster (or state, offline), plus the deletions of recorded
/// objects no longer desired. Shared by plan and rollback.
pub async fn diff_objects(
    cluster: Option<&ClusterClient>,
    live: &LiveIndex,
    desired: &[DesiredObject],
    state: &State,
    allow_data_loss: bool,
    salt: &str,
) -> miette::Result<(Vec<ObjectChange>, Vec<(String, ObjectRecord)>)> {
    let req_cluster = cluster;
    let creates_namespace: BTreeSet<String> = match req_cluster {
        Some(c) => {
            let mut missing = BTreeSet::new();
            for d in desired
                .iter()
                .filter(|d| matches!(d.address, Address::Namespace(_)))
            {
                // Labelled namespaces came with the LIST; only an unlabelled one needs a GET.
                let key = d.key();
                if !live.objects.contains_key(&key) && c.get(&key).await?.is_none() {
                    missing.insert(crate::plan::normalize::name_of(&d.object).to_string());
                }
            }
            missing
        }
        None => BTreeSet::new(),
    };
    let mut changes: Vec<ObjectChange> = futures::stream::iter(desired.iter().map(|d| {
        let creates_namespace = &creates_namespace;
        async move {
            match req_cluster {
                Some(c) => diff_live(c, live, d, creates_namespace, salt).await,
                None => Ok(diff_recorded(
                    d,
                    state.objects.get(&d.address.to_string()),
                    salt,
                )),
            }
        }
    }))
    .buffered(CONCURRENT_REQUESTS)
    .try_collect::<Vec<_>>()
    .await?;

    // Deletions: recorded but no longer desired.
    let wanted: BTreeSet<String> = desired.iter().map(|d| d.address.to_string()).collect();
    let mut deletions: Vec<(String, ObjectRecord)> = state
        .objects
        .iter()
        .filter(|(a, _)| !wanted.contains(*a))
        .map(|(a, r)| (a.clone(), r.clone()))
        .collect();
    deletions.sort_by_key(|(_, r)| std::cmp::Reverse(chart::install_order_rank(&r.kind)));
    let mut kept_deletions = Vec::new();
    for (address, record) in deletions {
        let key = record.key();
        let live = match req_cluster {
            Some(_) if live.objects.contains_key(&key) => live.objects.get(&key).cloned(),
            Some(c) => match c.get(&key).await {
                Ok(l) => l,
                Err(crate::observe::ObserveError::UnknownKind { .. }) => None,
                Err(e) => return Err(e.into()),
            },
            None => Some(record.manifest.clone()),
        };
        let Some(live) = live else { continue };
        let protected = record.protect || record.kind == "PersistentVolumeClaim";
        let (action, reason) = if protected && !allow_data_loss {
            (
                Action::Refused,
                Some(format!(
                    "{address} holds data (protect = true, a PersistentVolumeClaim, a namespace or a generated secret); pass --allow-data-loss to delete it"
                )),
            )
        } else {
            (Action::Delete, None)
        };
        let before = redact(&normalize(&live), salt);
        changes.push(ObjectChange {
            address: address.clone(),
            release: record.release.clone(),
            api_version: record.api_version.clone(),
            kind: record.kind.clone(),
            namespace: record.namespace.clone(),
            name: record.name.clone(),
            action,
            reason,
            before: Some(before),
            after: None,
            protected,
        });
        kept_deletions.push((address, record));
    }
    Ok((changes, kept_deletions))
}

/// A release's inline values with every `${...}` resolved. Image references not known yet
/// (pushed at apply) are pushed onto `unresolved`.
pub fn release_values(
    spec: &Spec,
    release: &crate::spec::Release,
    images: &BTreeMap<String, ImageRef>,
    unresolved: &mut Vec<String>,
) -> miette::Result<Value> {
    release.interpolate_values(&mut |r| -> Result<String, miette::Report> {
        if let Some(v) = spec.static_attribute(r) {
            return Ok(v);
        }
        match (&r.target, r.attribute.as_str()) {
            (Address::Image(img), attr) => {
                let Some(i) = images.get(img) else {
                    return Err(miette::miette!("image.{img} has no reference yet"));
                };
                if !i.known {
                    unresolved.push(format!("image.{img}.{attr}"));
                }
                Ok(match attr {
                    "repository" => i.repository.clone(),
                    "tag" => i.tag.clone(),
                    _ => i.reference.clone(),
                })
            }
            (t, a) => Err(miette::miette!("`${{{t}.{a}}}` cannot be resolved")),
        }
    })
}

fn unresolved_note(notes: &mut Vec<String>, note: String) {
    if !notes.contains(&note) {
        notes.push(note);
    }
}

/// Two releases (or a release and a secret) producing the same object would fight over it.
fn check_duplicates(desired: &[DesiredObject]) -> miette::Result<()> {
    let mut seen: BTreeMap<ObjectKey, &Address> = BTreeMap::new();
    for d in desired {
        if let Some(first) = seen.insert(d.key(), &d.address) {
            return Err(miette::miette!(
                help = "give one of them another name (values, or `name` of the secret set)",
                "{} and {} both declare {}",
                first,
                d.address,
                d.key()
            ));
        }
    }
    Ok(())
}

fn change_of(
    d: &DesiredObject,
    action: Action,
    before: Option<Value>,
    after: Option<Value>,
    reason: Option<String>,
) -> ObjectChange {
    let key = d.key();
    ObjectChange {
        address: d.address.to_string(),
        release: d.release.clone().unwrap_or_default(),
        api_version: key.api_version,
        kind: key.kind,
        namespace: key.namespace,
        name: key.name,
        action,
        reason,
        before,
        after,
        protected: d.protect,
    }
}

/// The namespace does not exist yet, so the server cannot dry-run into it. Validation and
/// defaulting do not depend on the namespace: dry-run in `default` instead, unless an object of
/// that name lives there (the dry-run would merge with it); then show the object as declared.
async fn dry_run_elsewhere(c: &ClusterClient, d: &DesiredObject) -> miette::Result<Value> {
    let mut probe = d.object.clone();
    let real_ns = d.key().namespace;
    if let Some(meta) = probe.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("namespace".into(), Value::String("default".into()));
    }
    let mut key = ObjectKey::of(&probe);
    key.namespace = Some("default".into());
    if c.get(&key).await?.is_some() {
        return Ok(d.object.clone());
    }
    let mut after = c.apply(&probe, true).await?;
    if let (Some(meta), Some(ns)) = (
        after.get_mut("metadata").and_then(Value::as_object_mut),
        real_ns,
    ) {
        meta.insert("namespace".into(), Value::String(ns));
    }
    Ok(after)
}

async fn diff_live(
    c: &ClusterClient,
    index: &LiveIndex,
    d: &DesiredObject,
    creates_namespace: &BTreeSet<String>,
    salt: &str,
) -> miette::Result<ObjectChange> {
    let key = d.key();
    let namespace_pending = key
        .namespace
        .as_ref()
        .is_some_and(|ns| creates_namespace.contains(ns));
    let live = if namespace_pending {
        None
    } else if let Some(found) = index.objects.get(&key) {
        Some(found.clone())
    } else {
        // Not labelled as ours: it may still exist (made by hand); apply will adopt it.
        c.get(&key).await?
    };
    let (after, replace_reason) = if namespace_pending {
        (dry_run_elsewhere(c, d).await?, None)
    } else {
        match c.apply(&d.object, true).await {
            Ok(after) => (after, None),
            Err(e) if e.is_immutable_field() && live.is_some() => {
                let why = match &e {
                    crate::observe::ObserveError::Rejected {
                        causes, message, ..
                    } => {
                        let fields: Vec<String> =
                            causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
                        if fields.is_empty() {
                            message.clone()
                        } else {
                            fields.join("; ")
                        }
                    }
                    other => other.to_string(),
                };
                (
                    d.object.clone(),
                    Some(format!(
                        "immutable field changes, so it is deleted and created again: {why}"
                    )),
                )
            }
            Err(e) => return Err(e.into()),
        }
    };
    let before_n = live.as_ref().map(normalize);
    let after_n = normalize(&after);
    let (before_r, after_r) = redact_pair(before_n.as_ref(), Some(&after_n), salt);
    let (action, reason) = match (&before_n, replace_reason) {
        (_, Some(why)) => (Action::Replace, Some(why)),
        (None, None) => (Action::Create, None),
        (Some(b), None) if *b == after_n => (Action::NoOp, None),
        (Some(_), None) => (Action::Update, None),
    };
    Ok(change_of(d, action, before_r, after_r, reason))
}

fn diff_recorded(d: &DesiredObject, recorded: Option<&ObjectRecord>, salt: &str) -> ObjectChange {
    let after = normalize(&d.object);
    let after_r = redact(&after, salt);
    match recorded {
        None => change_of(d, Action::Create, None, Some(after_r), None),
        Some(r) => {
            let before = normalize(&r.manifest);
            // Recorded manifests are already redacted; compare redacted forms.
            if before == after_r {
                change_of(d, Action::NoOp, Some(before), Some(after_r), None)
            } else {
                let (b, a) = if is_secret(&after) {
                    (Some(before), Some(after_r))
                } else {
                    redact_pair(Some(&before), Some(&after), salt)
                };
                change_of(d, Action::Update, b, a, None)
            }
        }
    }
}

/// Digest of everything the plan was made from: a plan file is refused when it moved.
fn inputs_digest(spec: &Spec, images: &BTreeMap<String, ImageRef>) -> String {
    let mut h = Sha256::new();
    h.update(spec.source.text.as_bytes());
    h.update(spec.env.clone().unwrap_or_default().as_bytes());
    for release in spec.releases.values() {
        hash_dir(&mut h, &release.chart);
        for f in &release.values_files {
            h.update(std::fs::read(f).unwrap_or_default());
        }
    }
    for (name, i) in images {
        h.update(name.as_bytes());
        h.update(i.tag.as_bytes());
    }
    // Secret values are not part of it: the plan file checks them with its own salted
    // digests (a digest over public inputs and a weak secret could be brute-forced).
    hex::encode(h.finalize())
}

fn hash_dir(h: &mut Sha256, dir: &std::path::Path) {
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    for f in files {
        h.update(
            f.strip_prefix(dir)
                .unwrap_or(&f)
                .to_string_lossy()
                .as_bytes(),
        );
        h.update(std::fs::read(&f).unwrap_or_default());
    }
}
