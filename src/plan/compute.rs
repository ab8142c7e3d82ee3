//! Computing a plan: desired objects vs what exists (live, by server-side dry-run; or, offline,
//! what state/ recorded).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

use super::desired::{self, DesiredObject};
use super::model::*;
use super::normalize::{normalize, normalized};
use super::redact::{is_secret, redact, redact_pair};
use crate::chart;
use crate::drift::{self, ForeignField};
use crate::graph::{Address, DependencyGraph};
use crate::model::object::Metadata;
use crate::observe::{Cluster, ClusterClient, LiveIndex, ObjectKey};
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
    /// The flags that shape actions (recorded in the plan).
    pub options: PlanOptions,
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
    /// What kind of run this is, for the history (`rollback to revision 3`, `destroy`); None
    /// for a plain apply.
    pub label: Option<String>,
    pub plan: Plan,
    pub desired: Vec<DesiredObject>,
    pub graph: DependencyGraph,
    pub secrets: BTreeMap<String, SecretValues>,
    /// Recorded objects no longer desired: (address, record), in delete order.
    pub deletions: Vec<(String, ObjectRecord)>,
    /// Per address, fields other managers added that apply removes.
    pub foreign_fields: BTreeMap<String, Vec<ForeignField>>,
    /// Per release rendered, its effective values flattened: recorded when the release applies.
    pub release_values: BTreeMap<String, BTreeMap<String, String>>,
    /// What the cluster's dry-run answers depended on (None offline): apply records it with
    /// every object it writes, so the next plan can skip unchanged ones.
    pub basis: Option<super::incremental::Basis>,
    /// Per address of an object that changes nothing, the fingerprint of its live object.
    pub confirmed: BTreeMap<String, super::incremental::Confirmed>,
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
        if record.hook_deleted {
            // Deleted by its own helm.sh/hook-delete-policy after it ran: absent by design.
            continue;
        }
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
            drift::object_drift(address, &record.manifest.value(), &object, &rules);
        if is_secret(&object)
            && let Some((set, recorded)) = state.secrets.iter().find(|(_, s)| {
                s.k8s_name == record.name && Some(&s.namespace) == record.namespace.as_ref()
            })
        {
            for (k, v) in crate::plan::redact::secret_values(&object) {
                let now = crate::plan::redact::value_digest(&salt, &k, &v);
                if recorded.key_digests.get(&k).is_some_and(|d| *d != now)
                    && !found_items.iter().any(|i| i.field == format!("data.{k}"))
                {
                    let generated = spec
                        .secrets
                        .get(set)
                        .and_then(|s| s.keys.get(&k))
                        .is_some_and(|src| {
                            matches!(src, crate::spec::SecretSource::Generate { .. })
                        });
                    found_items.push(DriftItem {
                        address: address.clone(),
                        field: format!("data.{k}"),
                        kind: DriftKind::Changed,
                        recorded: Some(Value::String("(sensitive value)".into())),
                        live: Some(Value::String("(sensitive value changed)".into())),
                        manager: None,
                        changed_at: None,
                        note: generated.then(|| format!(
                            "a generated value edited by hand: todoplan keeps no copy to restore, so apply keeps it and records it; `--rotate secret.{set}.{k}` generates a new one"
                        )),
                    });
                }
            }
        }
        items.extend(found_items);
        if !removals.is_empty() {
            foreign.insert(address.clone(), removals);
        }
    }
    // Borrowed identities: no copy of every record's key.
    let recorded: BTreeSet<crate::model::object::Identity> =
        state.objects.values().map(ObjectRecord::identity).collect();
    let mut strays: Vec<String> = live
        .objects
        .keys()
        .filter(|k| !recorded.contains(&k.identity()))
        .map(|k| k.to_string())
        .collect();
    strays.sort();
    items.extend(strays.iter().map(|k| drift::unmanaged(k)));
    Ok((items, foreign))
}

/// The key of secret digests: secret (derived from the state backend's digest key), so a
/// published digest cannot be brute-forced; the lineage only where no backend key exists (tests).
pub fn digest_salt(state: &State) -> String {
    state
        .digest_salt
        .clone()
        .unwrap_or_else(|| state.lineage.clone())
}

pub async fn compute(req: PlanRequest<'_>) -> miette::Result<Computed> {
    let spec = req.spec;
    let salt = digest_salt(req.state);
    let mut graph = DependencyGraph::build(spec)?;
    let mut notes = req.notes.clone();
    for name in &spec.disabled_releases {
        let applied = req
            .state
            .objects
            .values()
            .filter(|r| r.release == *name)
            .count();
        notes.push(if applied == 0 {
            format!("release.{name} is disabled (enabled = false): nothing of it is deployed")
        } else {
            format!(
                "release.{name} is disabled (enabled = false): the {applied} object(s) it applied are destroyed (protected ones are kept)"
            )
        });
    }
    let scope = if req.options.targets.is_empty() {
        None
    } else {
        notes.push(format!(
            "--target {}: only part of todo.toml is planned; the rest of the cluster may not match it. Use it for exceptions (a stuck object, a recovery), then plan everything",
            req.options.targets.join(" --target ")
        ));
        Some(target_scope(&graph, req.state, &req.options.targets)?)
    };

    // Secrets: generated values are kept from the live Secret.
    let secrets = match req.reuse_secrets {
        Some(s) => s,
        None => {
            if req.cluster.is_some() {
                secrets::check_sources(spec.secrets.values())?;
            }
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
                let resolved = match req.cluster {
                    Some(_) => secrets::resolve(set, live.as_ref(), &rotate)?,
                    None => secrets::resolve_offline(
                        set,
                        req.state.secrets.get(name).map(|r| &r.key_digests),
                        &rotate,
                    )?,
                };
                out.insert(name.clone(), resolved);
            }
            out
        }
    };

    for values in secrets.values() {
        for v in values.values.values() {
            crate::model::masking::remember(v);
        }
    }
    let mut desired: Vec<DesiredObject> = desired::namespace_objects(spec);
    desired.extend(desired::secret_objects(spec, &secrets));

    // The inventory of the kinds this instance applied before is listed while the releases
    // render: on a project that changes little it is everything the plan needs to read, and
    // the LIST of thousands of objects then costs no time of its own.
    let recorded_kinds: BTreeSet<(String, String)> = req
        .state
        .objects
        .values()
        .map(|r| (r.api_version.clone(), r.kind.clone()))
        .collect();
    let early_inventory = async {
        match req.cluster {
            Some(c) => Some(
                c.live_inventory(&spec.project.name, &req.state.lineage, &recorded_kinds)
                    .await,
            ),
            None => None,
        }
    };
    let mut flat_values: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    // Custom resource kinds the plan's own CRDs declare, releases rendered in apply order (a
    // release that depends on the release of its CRDs sees them).
    let mut declared = super::pending_kinds::DeclaredKinds::default();
    let mut unresolved_images: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let render_releases = async {
        let capabilities = match req.cluster {
            Some(c) => chart::Capabilities {
                kube_version: c.server_version().await?,
                api_versions: c.api_versions().await?,
            },
            None => chart::Capabilities::default(),
        };
        let mut rendering = desired::Rendering {
            cluster: req.cluster,
            capabilities: &capabilities,
            declared: std::mem::take(&mut declared),
        };
        for address in graph.apply_order() {
            let Address::Release(name) = &address else {
                continue;
            };
            let Some(release) = spec.releases.get(name) else {
                continue;
            };
            if scope.as_ref().is_some_and(|s| {
                !s.contains(&address.to_string()) && !s.contains(&format!("{address}#render"))
            }) {
                continue;
            }
            let mut unresolved = Vec::new();
            let values = release_values(spec, release, &req.images, &mut unresolved)?;
            flat_values.insert(
                name.clone(),
                super::values_diff::flatten(
                    &super::values_diff::effective(&release.values_files, &values),
                    &salt,
                ),
            );
            // As helm: an upgrade when the release was installed before (its hooks and
            // .Release.IsUpgrade follow), an install when it is new, even in an applied project.
            let is_upgrade = desired::is_upgrade(req.state, name);
            let objects = desired::release_objects(
                spec,
                name,
                values,
                is_upgrade,
                req.state.revision + 1,
                &mut rendering,
            )
            .await?;
            // Hooks: pre-* before the release's other objects, post-* after, by weight.
            let keys: Vec<(ObjectKey, (chart::hooks::Stage, i64))> = objects
                .iter()
                .map(|d| (d.key(), chart::hooks::order_key(&d.object)))
                .collect();
            graph.add_release_objects_ordered(name, &keys);
            desired.extend(objects);
            for u in unresolved {
                // `image.NAME.ATTR`: one note per image, naming every release that uses it.
                let image = u.split('.').nth(1).unwrap_or_default().to_string();
                unresolved_images
                    .entry(image)
                    .or_default()
                    .insert(name.clone());
            }
        }
        for (image, releases) in std::mem::take(&mut unresolved_images) {
            let releases: Vec<String> = releases.iter().map(|r| format!("release.{r}")).collect();
            unresolved_note(
                &mut notes,
                format!(
                    "image.{image}'s digest is known after apply (the image is pushed first); {} show(s) its tag until then",
                    releases.join(", ")
                ),
            );
        }
        declared = rendering.declared;
        Ok::<_, miette::Report>(())
    };
    let dry_run_inputs = async {
        match req.cluster {
            Some(c) => Some(c.dry_run_inputs().await),
            None => None,
        }
    };
    let (early_inventory, rendered, dry_run_inputs) =
        futures::join!(early_inventory, render_releases, dry_run_inputs);
    rendered?;
    // A custom resource rendered before the release of its CRD: its scope is the CRD's, and
    // its release waits for the CRD's release.
    declared.settle(&mut desired)?;
    if add_custom_resource_dependencies(&mut graph, &desired) {
        // Shown in the order apply writes them: the CRDs' release first.
        let order: BTreeMap<String, usize> = graph
            .apply_order()
            .into_iter()
            .enumerate()
            .filter_map(|(i, a)| match a {
                Address::Release(r) => Some((r, i + 1)),
                _ => None,
            })
            .collect();
        desired.sort_by_key(|d| {
            d.release
                .as_ref()
                .and_then(|r| order.get(r))
                .copied()
                .unwrap_or(0)
        });
    }
    desired::add_config_checksums(&mut desired, &secrets, &salt);

    check_duplicates(&desired)?;
    if let Some(scope) = &scope {
        desired.retain(|d| in_scope(scope, d));
    }
    for d in &mut desired {
        label_instance(&mut d.object, &req.state.lineage);
    }

    let live = match (req.cluster, early_inventory) {
        (Some(c), Some(early)) => {
            let mut live = early?;
            // Kinds this instance never applied before: listed now that the releases say so.
            let new_kinds: BTreeSet<(String, String)> = desired
                .iter()
                .map(|d| d.key())
                .map(|k| (k.api_version, k.kind))
                .filter(|kind| !recorded_kinds.contains(kind))
                .collect();
            if !new_kinds.is_empty() {
                let more = c
                    .live_inventory(&spec.project.name, &req.state.lineage, &new_kinds)
                    .await?;
                live.objects.extend(more.objects);
                live.requests += more.requests;
            }
            live
        }
        _ => LiveIndex::default(),
    };
    // `ignore_changes`: whatever the cluster holds at an ignored path is what apply sends, so
    // apply never sets back what drift does not report.
    for d in &mut desired {
        if let (Some(release), Some(live)) = (
            d.release.as_ref().and_then(|r| spec.releases.get(r)),
            live.objects.get(&d.key()),
        ) {
            crate::drift::keep_ignored_fields(&mut d.object, live, &release.ignore_rules());
        }
    }
    let basis = match (req.cluster, dry_run_inputs) {
        (Some(c), Some(inputs)) => {
            let inputs = inputs?;
            let mut plurals = BTreeMap::new();
            for d in &desired {
                let key = d.key();
                let gk = (key.group().to_string(), key.kind.clone());
                if gk.0.is_empty() || plurals.contains_key(&gk) {
                    continue;
                }
                plurals.insert(gk, c.plural_of(&key).await.ok());
            }
            Some(super::incremental::Basis::new(&inputs, &plurals))
        }
        _ => None,
    };
    // Drift first: the diff takes the live objects it has diffed out of the index.
    let (drift, mut foreign_fields) = match req.cluster {
        Some(c) => detect_drift(c, &live, spec, req.state).await?,
        None => (Vec::new(), BTreeMap::new()),
    };
    let mut live = live;
    let (mut changes, kept_deletions, mut comparison) = diff_objects_incrementally(
        req.cluster,
        &mut live,
        &desired,
        req.state,
        &req.options,
        &salt,
        basis.as_ref(),
    )
    .await?;
    // The declared objects were taken out: what is left is the few the checks and strays read.
    live.objects.shrink_to_fit();
    for (address, fields) in std::mem::take(&mut comparison.removals) {
        foreign_fields.entry(address).or_default().extend(fields);
    }
    if let Some(basis) = &basis {
        let recorded_with_fingerprints = req.state.objects.values().any(|r| r.observed.is_some());
        if comparison.skipped > 0 {
            notes.push(format!(
                "{} object(s) unchanged since revision {} were compared without a dry-run ({} dry-run(s) for the rest); `--refresh full` dry-runs every object",
                comparison.skipped, req.state.revision, comparison.dry_runs
            ));
        } else if recorded_with_fingerprints
            && !req.options.full_refresh
            && let Some(why) =
                basis.why_everything(req.state.dry_run_basis.as_ref(), req.state.revision)
        {
            notes.push(why);
        }
    }
    // Cross-object checks over the planned cluster: what a dry-run accepts object by object
    // but fails together (a Secret key nobody provides, a Service selecting nothing).
    let deleting: Vec<ObjectKey> = changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(ObjectChange::key)
        .collect();
    let checks = super::checks::run(
        spec,
        &mut desired,
        &live,
        deleting,
        req.cluster,
        req.images
            .iter()
            .map(|(n, i)| (n.as_str(), i.reference.as_str())),
    )
    .await?;
    for (address, fields) in &foreign_fields {
        if let Some(c) = changes.iter_mut().find(|c| &c.address == address)
            && matches!(c.action, Action::NoOp | Action::Update)
        {
            let mut after = c.before.as_deref().cloned().unwrap_or_default();
            for f in fields.iter().rev() {
                super::ownership::remove_at(&mut after, &f.pointer);
            }
            if c.action == Action::NoOp {
                c.after = Some(Arc::new(after));
            }
            c.action = Action::Update;
            c.reason
                .get_or_insert_with(|| "removes fields added outside todoplan".to_string());
        }
    }
    for c in changes
        .iter_mut()
        .filter(|c| c.action == Action::Update && c.reason.is_none())
    {
        let changed = changed_config_checksums(c.before.as_deref(), c.after.as_deref());
        if !changed.is_empty() {
            c.reason = Some(format!(
                "pods roll: the checksum of {} changed",
                changed.join(", ")
            ));
        }
    }

    // Only what still changes nothing is recorded as confirmed.
    // (The foreign-field pass above may have turned a no-op into an update.) One set of the
    // unchanged addresses, not a scan of every change per confirmed object.
    let unchanged: BTreeSet<&str> = changes
        .iter()
        .filter(|c| c.action == Action::NoOp)
        .map(|c| c.address.as_str())
        .collect();
    comparison
        .confirmed
        .retain(|address, _| unchanged.contains(address.as_str()));
    notes.extend(super::helm_owners::notes(&changes));
    // What the API server warned about while this plan read and dry-ran (as kubectl shows it).
    notes.extend(
        crate::observe::warnings::take()
            .into_iter()
            .map(|w| format!("the API server warned: {w}")),
    );
    let smoke_checks = planned_smoke_checks(spec, &changes);
    let value_changes = changed_values(spec, &changes, req.state, &flat_values);
    let plan = Plan {
        format_version: PLAN_FORMAT_VERSION.into(),
        todoplan_version: env!("CARGO_PKG_VERSION").into(),
        created_at: chrono::Utc::now(),
        project: spec.project.name.clone(),
        env: spec.env.clone(),
        offline: req.cluster.is_none(),
        context: req.cluster.map(|c| c.context.clone()),
        server: req.cluster.map(|c| c.server.clone()),
        instance: req.state.lineage.clone(),
        options: req.options.clone(),
        lineage: (req.state.serial > 0).then(|| req.state.lineage.clone()),
        serial: req.state.serial,
        notes,
        images: match &scope {
            Some(scope) => req
                .image_changes
                .into_iter()
                .filter(|i| scope.contains(&i.address))
                .collect(),
            None => req.image_changes,
        },
        drift,
        objects: changes,
        checks,
        smoke_checks,
        value_changes,
        base: None,
    };
    Ok(Computed {
        label: None,
        plan,
        desired,
        graph,
        secrets,
        deletions: kept_deletions,
        foreign_fields,
        release_values: flat_values,
        basis,
        confirmed: comparison.confirmed,
    })
}

/// For every release this plan changes, the leaves of its effective values that differ from the
/// last apply's, each with the `file:line` that sets it now. Releases applied before values were
/// recorded have nothing to compare with.
fn changed_values(
    spec: &Spec,
    changes: &[ObjectChange],
    state: &State,
    now: &BTreeMap<String, BTreeMap<String, String>>,
) -> Vec<super::values_diff::ValueChange> {
    let changed: BTreeSet<&str> = changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| c.release.as_str())
        .collect();
    let mut out: Vec<super::values_diff::ValueChange> = now
        .iter()
        .filter(|(release, _)| changed.contains(release.as_str()))
        .filter_map(|(release, values)| {
            let before = state.release_values.get(release)?;
            Some(super::values_diff::diff(release, before, values))
        })
        .flatten()
        .collect();
    if out.is_empty() {
        return out;
    }
    // Only now read todo.toml and the values files again, to point at the lines.
    let sources = crate::checks::input::sources(spec);
    let index = crate::checks::source::SourceIndex::build(&sources);
    for change in &mut out {
        let key = change
            .path
            .rsplit('.')
            .next()
            .unwrap_or(&change.path)
            .split('[')
            .next()
            .unwrap_or_default()
            .to_string();
        let value = change
            .after
            .as_deref()
            .map(|v| v.trim_matches('"').to_string());
        change.source = index.locate(Some(&change.release), &key, value.as_deref());
    }
    out
}

/// The smoke checks of every release this plan changes, in todo.toml order: apply runs them once
/// the release is ready. A release the plan leaves alone is not checked again.
fn planned_smoke_checks(
    spec: &Spec,
    changes: &[ObjectChange],
) -> Vec<crate::model::smoke::SmokeCheck> {
    let changed: BTreeSet<&str> = changes
        .iter()
        .filter(|c| {
            matches!(
                c.action,
                Action::Create | Action::Update | Action::Replace | Action::Delete
            )
        })
        .map(|c| c.release.as_str())
        .collect();
    spec.releases
        .values()
        .filter(|r| changed.contains(r.name.as_str()))
        .flat_map(|r| r.smoke_checks.iter().map(|(check, _)| check.clone()))
        .collect()
}

/// Changes for `desired` against the cluster (or state, offline), plus the deletions of recorded
/// objects no longer desired. Every change passes the protection gate. Shared by plan, destroy
/// (nothing desired) and rollback (a recorded revision desired).
///
/// The live copy of each desired object is taken out of `live` and dropped once that object is
/// diffed, so a plan never holds every live object and both diffed copies at once; `live` keeps
/// the objects nothing declares (strays, deletions). Read drift from `live` before.
/// How a plan compared its objects with the cluster (see [`super::incremental`]).
#[derive(Debug, Default)]
pub struct Comparison {
    /// Objects unchanged since recorded: no dry-run was sent.
    pub skipped: usize,
    /// Dry-runs sent.
    pub dry_runs: usize,
    /// Per address, the fingerprint of the live object a dry-run found nothing to change in:
    /// apply records it, so the next plan can skip it. An object skipped is not listed: its
    /// record already holds what apply would record.
    pub confirmed: BTreeMap<String, super::incremental::Confirmed>,
    /// Per address, fields apply removes with a JSON patch after writing: a Secret's data keys
    /// that no field manager owns (applied as `stringData` before), which apply alone never
    /// removes.
    pub removals: BTreeMap<String, Vec<ForeignField>>,
}

pub async fn diff_objects<C: Cluster>(
    cluster: Option<&C>,
    live: &mut LiveIndex,
    desired: &[DesiredObject],
    state: &State,
    options: &PlanOptions,
    salt: &str,
) -> miette::Result<(Vec<ObjectChange>, Vec<(String, ObjectRecord)>)> {
    diff_objects_incrementally(cluster, live, desired, state, options, salt, None)
        .await
        .map(|(changes, deletions, _)| (changes, deletions))
}

/// [`diff_objects`], skipping the dry-run of objects unchanged since recorded under `basis`
/// (None, or `--refresh full`: every object is dry-run).
pub async fn diff_objects_incrementally<C: Cluster>(
    cluster: Option<&C>,
    live: &mut LiveIndex,
    desired: &[DesiredObject],
    state: &State,
    options: &PlanOptions,
    salt: &str,
    basis: Option<&super::incremental::Basis>,
) -> miette::Result<(Vec<ObjectChange>, Vec<(String, ObjectRecord)>, Comparison)> {
    let skipped = std::sync::atomic::AtomicUsize::new(0);
    let dry_runs = std::sync::atomic::AtomicUsize::new(0);
    let confirmed = std::sync::Mutex::new(BTreeMap::new());
    let removals = std::sync::Mutex::new(BTreeMap::new());
    let basis = basis.filter(|_| !options.full_refresh);
    let req_cluster = cluster;
    if !options.replace.is_empty() {
        let known = desired
            .iter()
            .map(|d| d.address.to_string())
            .collect::<BTreeSet<_>>();
        if let Some(unknown) = options.replace.iter().find(|a| !known.contains(*a)) {
            return Err(miette::miette!(
                help = "`todoplan plan` lists every object's address; pass one of them",
                "--replace {unknown}: no declared object has this address"
            ));
        }
    }
    let creates_namespace: BTreeSet<String> = match req_cluster {
        Some(c) => {
            let mut missing = BTreeSet::new();
            // Every Namespace the plan creates, the project's own and those a release declares
            // (a chart shipping its Namespace with the objects in it): what goes in one is
            // dry-run elsewhere, since the server knows no such namespace yet.
            for d in desired.iter().filter(|d| {
                matches!(d.address, Address::Namespace(_))
                    || (d.object.get("kind").and_then(Value::as_str) == Some("Namespace")
                        && d.object.get("apiVersion").and_then(Value::as_str) == Some("v1"))
            }) {
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
    // Custom resources whose CRD this plan brings: planned from the CRD until it is served.
    let mut declared = super::pending_kinds::DeclaredKinds::default();
    for d in desired {
        declared.add(&d.object);
    }
    let ownership = Ownership {
        instance: &state.lineage,
        adopt_instance: options.adopt_instance.as_deref(),
        recorded: state.objects.values().map(ObjectRecord::identity).collect(),
        tainted: state
            .objects
            .values()
            .filter(|r| r.tainted)
            .map(ObjectRecord::identity)
            .collect(),
    };
    let found: Vec<Option<Value>> = desired
        .iter()
        .map(|d| live.objects.remove(&d.key()))
        .collect();
    let live: &LiveIndex = live;
    // Unordered: a slow answer does not hold back the requests behind it (ordered buffering
    // keeps a slot per finished-but-not-yet-yielded answer); the order is restored after.
    let mut numbered: Vec<(usize, ObjectChange)> = futures::stream::iter(
        desired
            .iter()
            .zip(found)
            .enumerate()
            .map(|(i, (d, found))| {
                let context = LiveContext {
                    creates_namespace: &creates_namespace,
                    declared: &declared,
                    ownership: &ownership,
                    salt,
                    record: state.objects.get(&d.address.to_string()),
                    basis: basis.and_then(|b| b.for_key(&d.key())),
                    skipped: &skipped,
                    dry_runs: &dry_runs,
                    confirmed: &confirmed,
                    removals: &removals,
                };
                async move {
                    let change = match req_cluster {
                        Some(c) => diff_live(c, found, d, &context).await,
                        None => Ok(diff_recorded(
                            d,
                            state.objects.get(&d.address.to_string()).or_else(|| {
                                // Recorded at another version's address: the same object.
                                let key = d.key();
                                state.objects.values().find(|r| r.is(&key))
                            }),
                            salt,
                        )),
                    }?;
                    Ok::<_, miette::Report>((i, change))
                }
            }),
    )
    .buffer_unordered(CONCURRENT_REQUESTS)
    // Sized once: one change per declared object (collected, it grew to up to twice that).
    .try_fold(
        Vec::with_capacity(desired.len()),
        |mut numbered, answer| async move {
            numbered.push(answer);
            Ok(numbered)
        },
    )
    .await?;
    numbered.sort_unstable_by_key(|(i, _)| *i);
    let mut changes: Vec<ObjectChange> = numbered.into_iter().map(|(_, c)| c).collect();
    // A hook its delete policy removed after it ran is not created again until it changes
    // (todoplan runs a hook when its rendered form changes, see chart::hooks).
    for (c, d) in changes.iter_mut().zip(desired) {
        if c.action != Action::Create {
            continue;
        }
        let Some(r) = state.objects.get(&c.address) else {
            continue;
        };
        // Compared as recorded: masked where it holds a copy of a secret value.
        let mut declared = redact(&normalize(&d.object), salt);
        crate::model::masking::mask_leaves(&mut declared);
        if r.hook_deleted && !r.tainted && normalize(&r.manifest.value()) == declared {
            c.action = Action::NoOp;
            c.before = c.after.clone();
            c.reason = Some("hook ran and was deleted by its helm.sh/hook-delete-policy".into());
        }
    }
    for c in &mut changes {
        if options.replace.contains(&c.address) && matches!(c.action, Action::Update | Action::NoOp)
        {
            c.action = Action::Replace;
            c.reason = Some("replace requested with --replace".into());
        }
        super::protection::gate(c, options);
    }

    // Deletions: recorded but no longer desired, and live objects of this instance that state
    // does not know (an apply killed between its write and its record). The sets borrow the
    // addresses and identities they hold: no copy of every declared and recorded object's.
    let (mut deletions, strays) = {
        // One change per declared object so far, at its address.
        let wanted: BTreeSet<&str> = changes.iter().map(|c| c.address.as_str()).collect();
        let wanted_keys: BTreeSet<crate::model::object::Identity> = desired
            .iter()
            .map(|d| crate::model::object::identity_of(&d.object))
            .collect();
        let deletions: Vec<(String, ObjectRecord)> = state
            .objects
            .iter()
            // A record whose object is still declared at another version (autoscaling/v1 →
            // v2) is the same object: its record moves to the new address when apply records it.
            .filter(|(a, r)| !wanted.contains(a.as_str()) && !wanted_keys.contains(&r.identity()))
            .filter(|(a, r)| options.targets_record(a, &r.release))
            .map(|(a, r)| (a.clone(), r.clone()))
            .collect();
        let mut strays: Vec<(&ObjectKey, &Value)> = live
            .objects
            .iter()
            .filter(|(k, _)| {
                !ownership.recorded.contains(&k.identity()) && !wanted_keys.contains(&k.identity())
            })
            .collect();
        strays.sort_by_key(|(k, _)| (*k).clone());
        (deletions, strays)
    };
    let mut stray_addresses = BTreeSet::new();
    for (key, object) in strays {
        let mut record = stray_record(key, object);
        let address = stray_address(&record);
        if !options.targets_record(&address, &record.release) {
            continue;
        }
        // This state never recorded it: its labels say it is this instance's, but labels can
        // be copied or edited by hand (another environment's object relabelled). It is never
        // deleted without --allow-data-loss.
        record.protect = true;
        stray_addresses.insert(address.clone());
        deletions.push((address, record));
    }
    deletions.sort_by_key(|(_, r)| std::cmp::Reverse(chart::install_order_rank(&r.kind)));
    let mut kept_deletions = Vec::new();
    let first_deletion = changes.len();
    for (address, record) in deletions {
        let key = record.key();
        let live = match req_cluster {
            Some(_) if live.objects.contains_key(&key) => live.objects.get(&key).cloned(),
            Some(c) => match c.get(&key).await {
                Ok(l) => l,
                Err(crate::observe::ObserveError::UnknownKind { .. }) => None,
                Err(e) => return Err(e.into()),
            },
            None => Some(record.manifest.value()),
        };
        // A namespace this state made holds data only through what is in it: it goes when
        // everything in it goes, which is checked against its contents below (and by the
        // executor again right before the delete). Offline, its contents are not known, and a
        // namespace this state never recorded is never deleted without the flag.
        let namespace_of_this_state = record.kind == "Namespace"
            && req_cluster.is_some()
            && !stray_addresses.contains(&address);
        let protected =
            !namespace_of_this_state && super::protection::holds_data(&record.kind, record.protect);
        let mut change = ObjectChange {
            address: address.clone(),
            release: record.release.clone(),
            api_version: record.api_version.clone(),
            kind: record.kind.clone(),
            namespace: record.namespace.clone(),
            name: record.name.clone(),
            action: Action::Delete,
            reason: None,
            before: None,
            after: None,
            protected,
            adopt: false,
            orphan_dependents: false,
            migrate_from: Vec::new(),
            live_uid: None,
        };
        match live {
            Some(live) => {
                change.live_uid = live
                    .metadata_field("uid")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                // Set for a kept object too: it is still there, and the executor releases it.
                change.before = Some(Arc::new(redact(&normalize(&live), salt)));
                if let Some(why) = keep_policy(&live) {
                    // Kept by its own annotation: no longer managed, never deleted (as helm and
                    // Argo CD do on uninstall and prune).
                    change.action = Action::Forget;
                    change.reason = Some(format!(
                        "kept in the cluster ({why}): todoplan stops managing it (drops its labels) and never deletes it"
                    ));
                } else {
                    super::protection::gate(&mut change, options);
                    if change.action == Action::Refused && stray_addresses.contains(&address) {
                        change.reason = Some(format!(
                            "{address} carries this instance's labels but this state never recorded it (written by a run killed before recording it, or labelled by hand): it is not deleted without --allow-data-loss"
                        ));
                    }
                }
            }
            None => {
                change.action = Action::Forget;
                change.reason = Some(if record.hook_deleted {
                    "a hook its delete policy already removed".into()
                } else {
                    "already deleted outside todoplan".into()
                });
            }
        }
        changes.push(change);
        kept_deletions.push((address, record));
    }
    // A StatefulSet's claims (made from its volumeClaimTemplates, so never in state) are listed
    // with it when it goes: deleting them loses data, so they pass the gate themselves.
    if let Some(c) = req_cluster {
        let mut claims = Vec::new();
        for (change, (address, _)) in changes[first_deletion..]
            .iter()
            .zip(&kept_deletions)
            .filter(|(c, _)| c.kind == "StatefulSet" && c.action == Action::Delete)
        {
            let Some(ns) = &change.namespace else {
                continue;
            };
            let templates: Vec<String> = change
                .before
                .as_ref()
                .and_then(|b| b.pointer("/spec/volumeClaimTemplates"))
                .and_then(Value::as_array)
                .map(|t| {
                    t.iter()
                        .filter_map(|t| t.metadata_field("name").and_then(Value::as_str))
                        .map(|t| format!("{t}-{}-", change.name))
                        .collect()
                })
                .unwrap_or_default();
            if templates.is_empty() {
                continue;
            }
            for key in c.namespace_contents(ns).await? {
                let is_claim = key.kind == "PersistentVolumeClaim"
                    && templates.iter().any(|p| {
                        key.name
                            .strip_prefix(p.as_str())
                            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    });
                if is_claim {
                    claims.push((
                        format!("{address}/claims/{}", key.name),
                        key,
                        change.release.clone(),
                    ));
                }
            }
        }
        for (address, key, release) in claims {
            let live = c.get(&key).await?;
            let Some(live) = live else { continue };
            let mut change = ObjectChange {
                address: address.clone(),
                release: release.clone(),
                api_version: key.api_version.clone(),
                kind: key.kind.clone(),
                namespace: key.namespace.clone(),
                name: key.name.clone(),
                action: Action::Delete,
                reason: Some("a claim of the StatefulSet deleted above".into()),
                before: Some(Arc::new(redact(&normalize(&live), salt))),
                after: None,
                protected: true,
                adopt: false,
                orphan_dependents: false,
                migrate_from: Vec::new(),
                live_uid: live
                    .metadata_field("uid")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            };
            super::protection::gate(&mut change, options);
            let mut record = stray_record(&key, &live);
            record.release = release;
            record.protect = true;
            changes.push(change);
            kept_deletions.push((address, record));
        }
        kept_deletions.sort_by_key(|(_, r)| std::cmp::Reverse(chart::install_order_rank(&r.kind)));
    }
    // A namespace goes only when everything in it goes.
    if let Some(c) = req_cluster {
        let deleted: BTreeSet<ObjectKey> = changes[first_deletion..]
            .iter()
            .filter(|c| c.action == Action::Delete)
            .map(ObjectChange::key)
            .collect();
        for change in changes[first_deletion..]
            .iter_mut()
            .filter(|c| c.kind == "Namespace" && c.action == Action::Delete)
        {
            let contents = c.namespace_contents(&change.name).await?;
            let kept = super::protection::namespace_leftovers(&contents, &deleted);
            super::protection::gate_namespace(change, &kept);
        }
    }
    if let Some(c) = req_cluster {
        name_custom_resources_at_stake(c, &mut changes).await?;
    }
    let comparison = Comparison {
        skipped: skipped.into_inner(),
        dry_runs: dry_runs.into_inner(),
        confirmed: confirmed.into_inner().unwrap_or_default(),
        removals: removals.into_inner().unwrap_or_default(),
    };
    Ok((changes, kept_deletions, comparison))
}

/// A release holding custom resources of a CRD that another release of the plan declares is
/// applied after that release (the CRD must be established first), unless the CRD's release
/// already depends on it (then todo.toml's order stands, and apply retries the kind).
/// True when it added one.
fn add_custom_resource_dependencies(
    graph: &mut DependencyGraph,
    desired: &[DesiredObject],
) -> bool {
    let mut crd_release: BTreeMap<(String, String), String> = BTreeMap::new();
    for d in desired {
        if let (Some(release), Some(group), Some(kind)) = (
            &d.release,
            d.object.pointer("/spec/group").and_then(Value::as_str),
            d.object.pointer("/spec/names/kind").and_then(Value::as_str),
        ) && d.key().kind == "CustomResourceDefinition"
        {
            crd_release.insert((group.to_string(), kind.to_string()), release.clone());
        }
    }
    if crd_release.is_empty() {
        return false;
    }
    let mut pairs = BTreeSet::new();
    for d in desired {
        let key = d.key();
        if let (Some(release), Some(crd_release)) = (
            &d.release,
            crd_release.get(&(key.group().to_string(), key.kind.clone())),
        ) && release != crd_release
        {
            pairs.insert((crd_release.clone(), release.clone()));
        }
    }
    let mut added = false;
    for (before, after) in pairs {
        added |= graph.add_ordering(
            &Address::Release(before),
            &Address::Release(after),
            crate::graph::EdgeReason::CustomResources,
        );
    }
    added
}

/// Why a live object must never be deleted by a prune or destroy, if it says so itself: Helm's
/// `helm.sh/resource-policy: keep`, or Argo CD's `Prune=false` / `Delete=false` sync options.
pub fn keep_policy(live: &Value) -> Option<&'static str> {
    let annotations = live.metadata_field("annotations")?.as_object()?;
    if annotations
        .get("helm.sh/resource-policy")
        .and_then(Value::as_str)
        .is_some_and(|p| p.trim() == "keep")
    {
        return Some("helm.sh/resource-policy: keep");
    }
    if annotations
        .get(desired::KEEP_ANNOTATION)
        .and_then(Value::as_str)
        == Some("true")
    {
        return Some("keep in todo.toml");
    }
    let argo = annotations
        .get("argocd.argoproj.io/sync-options")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if argo
        .split(',')
        .any(|o| matches!(o.trim(), "Prune=false" | "Delete=false"))
    {
        return Some("argocd.argoproj.io/sync-options: Prune=false");
    }
    None
}

/// A CRD whose delete or replace is planned (or refused) takes its custom resources with it:
/// the change's reason says how many there are, declared by this project or not.
async fn name_custom_resources_at_stake<C: Cluster>(
    c: &C,
    changes: &mut [ObjectChange],
) -> miette::Result<()> {
    for change in changes.iter_mut().filter(|ch| {
        ch.kind == "CustomResourceDefinition"
            && (ch.action.deletes() || ch.action == Action::Refused)
    }) {
        let Some(crd) = change.before.clone() else {
            continue;
        };
        let group = crd.pointer("/spec/group").and_then(Value::as_str);
        let kind = crd.pointer("/spec/names/kind").and_then(Value::as_str);
        let version = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .and_then(|vs| {
                vs.iter()
                    .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                    .or_else(|| vs.first())
            })
            .and_then(|v| v.get("name"))
            .and_then(Value::as_str);
        let (Some(group), Some(kind), Some(version)) = (group, kind, version) else {
            continue;
        };
        let resources = c
            .objects_of_kind(&format!("{group}/{version}"), kind)
            .await?;
        let at_stake = format!(
            "{} custom resource(s) of kind {kind}.{group} exist and would be deleted with it",
            resources.len()
        );
        change.reason = Some(match change.reason.take() {
            Some(r) => format!("{r} ({at_stake})"),
            None => at_stake,
        });
    }
    Ok(())
}

/// The address of a live object of this instance that state does not record.
fn stray_address(record: &ObjectRecord) -> String {
    let ns = record.namespace.as_deref().unwrap_or("_");
    let node = if record.release.is_empty() {
        "unrecorded".to_string()
    } else {
        format!("release.{}", record.release)
    };
    format!(
        "{node}/{}/{}/{ns}/{}",
        record.api_version, record.kind, record.name
    )
}

fn stray_record(key: &ObjectKey, object: &Value) -> ObjectRecord {
    let release = object
        .metadata_field("labels")
        .and_then(|l| l.get(crate::observe::LABEL_RELEASE))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    ObjectRecord {
        release,
        api_version: key.api_version.clone(),
        kind: key.kind.clone(),
        namespace: key.namespace.clone(),
        name: key.name.clone(),
        uid: object
            .metadata_field("uid")
            .and_then(Value::as_str)
            .map(str::to_string),
        digest: String::new(),
        manifest: Default::default(),
        // Unknown provenance: treat as data-holding if its kind is.
        protect: false,
        tainted: false,
        hook_deleted: false,
        observed: None,
    }
}

/// Which live objects this instance may write.
struct Ownership<'a> {
    instance: &'a str,
    adopt_instance: Option<&'a str>,
    recorded: BTreeSet<crate::model::object::Identity<'a>>,
    /// Written by an earlier apply but never seen ready.
    tainted: BTreeSet<crate::model::object::Identity<'a>>,
}

impl Ownership<'_> {
    /// None: ours, or free to adopt. Some(other): labelled with another instance.
    fn foreign_owner<'v>(&self, key: &ObjectKey, live: &'v Value) -> Option<&'v str> {
        let owner = crate::observe::instance_of(live)?;
        if owner == self.instance
            || Some(owner) == self.adopt_instance
            || self.recorded.contains(&key.identity())
        {
            return None;
        }
        Some(owner)
    }
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

/// The nodes and objects inside `--target`: each target (a node such as `release.backend` or
/// `secret.app`, or one object's address) and every node it depends on.
fn target_scope(
    graph: &DependencyGraph,
    state: &State,
    targets: &[String],
) -> miette::Result<BTreeSet<String>> {
    let nodes: BTreeSet<String> = graph.nodes().iter().map(ToString::to_string).collect();
    let mut scope: BTreeSet<String> = BTreeSet::new();
    let mut stack: Vec<Address> = Vec::new();
    for t in targets {
        let parsed = t.parse::<Address>().ok();
        let start = match &parsed {
            Some(Address::Object { release, .. }) => Some(Address::Release(release.clone())),
            Some(other) => Some(other.clone()),
            None => None,
        };
        let known = nodes.contains(t)
            || state.objects.contains_key(t)
            || start
                .as_ref()
                .is_some_and(|s| nodes.contains(&s.to_string()));
        if !known {
            return Err(miette::miette!(
                help = "a target is a node (`release.NAME`, `secret.NAME`, `namespace.NAME`, `image.NAME`) or an object address as `todoplan plan` prints it",
                "--target {t}: nothing in todo.toml or the state has this address"
            ));
        }
        scope.insert(t.clone());
        if let Some(Address::Object { release, .. }) = &parsed {
            // The object's own release is rendered, but only the object is planned.
            scope.insert(format!("release.{release}#render"));
        }
        stack.extend(start);
    }
    let mut seen = BTreeSet::new();
    while let Some(a) = stack.pop() {
        if !seen.insert(a.clone()) {
            continue;
        }
        for dep in graph.dependencies(&a) {
            if !matches!(dep, Address::Object { .. }) {
                scope.insert(dep.to_string());
            }
            stack.push(dep);
        }
    }
    Ok(scope)
}

fn in_scope(scope: &BTreeSet<String>, d: &DesiredObject) -> bool {
    scope.contains(&d.address.to_string())
        || d.release
            .as_ref()
            .is_some_and(|r| scope.contains(&format!("release.{r}")))
}

/// Marks `object` as this instance's (see [`crate::observe::LABEL_INSTANCE`]).
pub fn label_instance(object: &mut Value, instance: &str) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let labels = meta
            .entry("labels")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(l) = labels.as_object_mut() {
            l.insert(
                crate::observe::LABEL_INSTANCE.into(),
                Value::String(instance.into()),
            );
        }
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
    let protected = super::protection::holds_data(&key.kind, d.protect);
    let before = before.map(Arc::new);
    // An unchanged object is held once, as both its before and after.
    let after = match (action, &before, after) {
        (Action::NoOp, Some(b), Some(a)) if **b == a => Some(b.clone()),
        (_, _, a) => a.map(Arc::new),
    };
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
        protected,
        adopt: false,
        orphan_dependents: false,
        migrate_from: Vec::new(),
        live_uid: None,
    }
}

/// The namespace does not exist yet, so the server cannot dry-run into it. Validation and
/// defaulting do not depend on the namespace: dry-run in `default` instead, unless an object of
/// that name lives there (the dry-run would merge with it); then show the object as declared.
async fn dry_run_elsewhere<C: Cluster>(
    c: &C,
    d: &DesiredObject,
) -> Result<Value, crate::observe::ObserveError> {
    let mut probe = d.object.clone();
    let real_ns = d.key().namespace;
    if let Some(meta) = probe.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("namespace".into(), Value::String("default".into()));
    }
    let mut key = ObjectKey::of(&probe);
    key.namespace = Some("default".into());
    // One request, not a GET first: a dry-run that created the object returns no
    // resourceVersion, one that met an object of that name in the borrowed namespace returns
    // its version, and then the desired object is shown as it is.
    let mut after = match c.apply(&probe, true).await {
        Ok(after)
            if after
                .metadata_field("resourceVersion")
                .is_some_and(|v| v.as_str().is_some_and(|v| !v.is_empty())) =>
        {
            return Ok(d.object.clone());
        }
        Ok(after) => after,
        Err(_) if c.get(&key).await?.is_some() => return Ok(d.object.clone()),
        // Errors name the object where it will live, not the namespace borrowed for the dry-run.
        Err(e) => return Err(e.naming(&d.key().to_string())),
    };
    if let (Some(meta), Some(ns)) = (
        after.get_mut("metadata").and_then(Value::as_object_mut),
        real_ns,
    ) {
        meta.insert("namespace".into(), Value::String(ns));
    }
    Ok(after)
}

/// One desired object against the cluster. A failure that concerns only this object (the API
/// server rejects it, the kind is unknown, access is forbidden) is a line of the plan with action
/// `Error`; only a cluster that stops answering aborts the plan.
async fn diff_live<C: Cluster>(
    c: &C,
    found: Option<Value>,
    d: &DesiredObject,
    context: &LiveContext<'_>,
) -> miette::Result<ObjectChange> {
    use crate::observe::ObserveError;
    match diff_live_object(c, found, d, context).await {
        Ok(change) => Ok(change),
        Err(e @ (ObserveError::Unreachable { .. } | ObserveError::Config { .. })) => Err(e.into()),
        // Its CRD is in this plan and not served yet: what the server will store, from the
        // CRD's schema; apply writes it once the CRD is established.
        Err(ObserveError::UnknownKind { api_version, kind })
            if context.declared.get(&api_version, &kind).is_some() =>
        {
            let declared = context.declared.get(&api_version, &kind);
            let crd = declared.map(|k| k.crd.clone()).unwrap_or_default();
            let after = declared
                .map(|k| k.stored_form(&d.object))
                .unwrap_or_else(|| d.object.clone());
            let after = redact(&normalize(&after), context.salt);
            Ok(change_of(
                d,
                Action::Create,
                None,
                Some(after),
                Some(format!(
                    "its CustomResourceDefinition {crd} is created in this plan: planned from the CRD's schema, dry-run and written once the CRD is established"
                )),
            ))
        }
        Err(e) => {
            let report = miette::Report::from(e);
            let help = report.help().map(|h| format!(" ({h})")).unwrap_or_default();
            Ok(change_of(
                d,
                Action::Error,
                None,
                None,
                Some(crate::observe::short(&format!("{report}{help}"), 600)),
            ))
        }
    }
}

/// What one object's comparison with the cluster reads and reports besides the object.
struct LiveContext<'a> {
    creates_namespace: &'a BTreeSet<String>,
    /// Custom resource kinds the plan's own CRDs declare.
    declared: &'a super::pending_kinds::DeclaredKinds,
    ownership: &'a Ownership<'a>,
    salt: &'a str,
    /// The object's record, if this state has one at its address.
    record: Option<&'a ObjectRecord>,
    /// The dry-run basis of its kind; None: it is dry-run whatever it looks like.
    basis: Option<String>,
    skipped: &'a std::sync::atomic::AtomicUsize,
    dry_runs: &'a std::sync::atomic::AtomicUsize,
    confirmed: &'a std::sync::Mutex<BTreeMap<String, super::incremental::Confirmed>>,
    removals: &'a std::sync::Mutex<BTreeMap<String, Vec<ForeignField>>>,
}

impl LiveContext<'_> {
    fn dry_run_sent(&self) {
        self.dry_runs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn confirm(&self, address: String, live: String, uid: Option<String>) {
        if let Ok(mut confirmed) = self.confirmed.lock() {
            confirmed.insert(address, super::incremental::Confirmed { live, uid });
        }
    }
}

/// `found`: the object as the inventory LIST found it (labelled as this instance's).
async fn diff_live_object<C: Cluster>(
    c: &C,
    found: Option<Value>,
    d: &DesiredObject,
    context: &LiveContext<'_>,
) -> Result<ObjectChange, crate::observe::ObserveError> {
    let (creates_namespace, ownership, salt) =
        (context.creates_namespace, context.ownership, context.salt);
    let key = d.key();
    // Unchanged since recorded: the live object is the answer a dry-run would give.
    let mut found = found;
    if let (Some(record), Some(basis), Some(listed)) = (context.record, &context.basis, &found)
        && crate::model::object::api_version_of(listed) == key.api_version
        && !key
            .namespace
            .as_ref()
            .is_some_and(|ns| creates_namespace.contains(ns))
        && super::incremental::unchanged_since_recorded(
            record,
            &d.object,
            listed,
            Some(basis),
            salt,
        )
    {
        context
            .skipped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Not confirmed again: its record already holds this uid and this fingerprint under
        // today's basis (the rule above), which is all apply would record of it. At 10,000
        // objects, a copy of each was 3 MB held to the end of the plan.
        // Normalised in place, redacted as a dry-run's unchanged answer is; held once as both
        // before and after, to the end of the plan: compacted (the server's metadata it no
        // longer holds left room in its maps).
        let normalized_found = normalized(found.take().unwrap_or_default());
        let mut before = if crate::model::redaction::is_secret(&normalized_found) {
            redact_pair(Some(&normalized_found), Some(&normalized_found), salt)
                .0
                .unwrap_or_default()
        } else {
            normalized_found
        };
        crate::model::object::shrink_to_fit(&mut before);
        let before = Arc::new(before);
        let mut change = change_of(d, Action::NoOp, None, None, None);
        change.before = Some(before.clone());
        change.after = Some(before);
        change.live_uid = record.uid.clone();
        return Ok(change);
    }
    let namespace_pending = key
        .namespace
        .as_ref()
        .is_some_and(|ns| creates_namespace.contains(ns));
    let (live, labelled_ours) = if namespace_pending {
        (None, false)
    } else if let Some(found) = found {
        if crate::model::object::api_version_of(&found) == key.api_version {
            (Some(found), true)
        } else {
            // Listed at the version it was recorded at; the chart now declares another
            // (autoscaling/v1 → v2): the same object, read at the declared version to diff.
            (c.get(&key).await?.or(Some(found)), true)
        }
    } else {
        // Not labelled as this instance's: it may still exist (made by hand, or by another
        // instance).
        (c.get(&key).await?, false)
    };
    if let Some(l) = &live
        && let Some(owner) = ownership.foreign_owner(&key, l)
    {
        return Ok(change_of(
            d,
            Action::Error,
            None,
            None,
            Some(format!(
                "{key} belongs to another instance of this project ({owner}; this is {}): another checkout or environment applied it. Two instances never share objects: give this one its own namespace or release names; if instance {owner}'s state is lost for good, take its objects over with --adopt-instance {owner}",
                ownership.instance
            )),
        ));
    }
    // A namespace todoplan's state backend made (to hold the state and its lock, right before
    // this plan) is this instance's to label, not someone else's to adopt.
    let made_for_state = live.as_ref().is_some_and(|l| {
        key.kind == "Namespace"
            && l.pointer(&format!(
                "/metadata/annotations/{}",
                crate::state::kubernetes::MADE_FOR_STATE.replace('/', "~1")
            ))
            .is_some()
    });
    let adopt = live.is_some()
        && !labelled_ours
        && !made_for_state
        && !ownership.recorded.contains(&key.identity());
    context.dry_run_sent();
    let (mut after, replace) = if namespace_pending {
        (dry_run_elsewhere(c, d).await?, None)
    } else {
        match c.apply(&d.object, true).await {
            Ok(after) => (after, None),
            Err(e) if e.is_immutable_field() && live.is_some() => (
                d.object.clone(),
                Some((
                    format!(
                        "an immutable field changes ({}), so it is deleted and created again",
                        e.refusal()
                    ),
                    false,
                )),
            ),
            Err(e) if e.is_forbidden_statefulset_update() && live.is_some() => {
                let fields = changed_spec_fields(live.as_ref(), &d.object);
                (
                    d.object.clone(),
                    Some((
                        format!(
                            "{} cannot change in place on a StatefulSet: it is deleted with its pods and claims orphaned (they keep running and keep their data) and created again, taking them over; existing claims keep their size (resize them in place where the StorageClass allows expansion)",
                            fields
                        ),
                        true,
                    )),
                )
            }
            // The cluster itself is gone: no plan line could say anything true.
            Err(e) => return Err(e),
        }
    };
    // Fields the tool the object came from set (kubectl, helm) become todoplan's at apply:
    // those it does not declare go, and the server's defaults come back (the dry-run of their
    // removal says which).
    let mut migrate_from = Vec::new();
    if live.is_some() && replace.is_none() && !namespace_pending {
        let origin = super::ownership::origin_managers(&after);
        if !origin.is_empty() {
            let fields = super::ownership::undeclared_origin_fields(&after);
            let removals: Vec<Value> = fields
                .iter()
                .map(|(pointer, _)| serde_json::json!({"op": "remove", "path": pointer}))
                .collect();
            let defaulted = if removals.is_empty() {
                Ok(Value::Null)
            } else {
                context.dry_run_sent();
                c.json_patch_dry_run(&key, removals).await
            };
            // A field the server will not let go of (required, no default): ownership stays
            // where it is, as before the migration existed.
            if let Ok(defaulted) = defaulted {
                super::ownership::after_migration(&mut after, &fields, &defaulted);
                migrate_from = origin;
            }
        }
    }
    // Fields apply alone would leave behind: removed with a patch after it writes.
    let (unowned_keys, left_by_others) =
        if live.is_some() && replace.is_none() && !namespace_pending {
            (
                unowned_secret_keys(&mut after, &d.object),
                co_owned_leftovers(&mut after, &d.object, context.record),
            )
        } else {
            (Vec::new(), Vec::new())
        };
    let (unowned_count, left_count) = (unowned_keys.len(), left_by_others.len());
    let mut co_owners: Vec<String> = Vec::new();
    for (_, manager) in &left_by_others {
        if !co_owners.contains(manager) {
            co_owners.push(manager.clone());
        }
    }
    let removals: Vec<ForeignField> = unowned_keys
        .into_iter()
        .chain(left_by_others.into_iter().map(|(f, _)| f))
        .collect();
    if !removals.is_empty()
        && let Ok(mut all) = context.removals.lock()
    {
        all.insert(d.address.to_string(), removals);
    }
    let live_uid = live
        .as_ref()
        .and_then(|l| l.metadata_field("uid"))
        .and_then(Value::as_str)
        .map(str::to_string);
    // both are this function's own: normalised in place, not copied
    let before_n = live.map(normalized);
    let mut after_n = normalized(after);
    if before_n.is_none() {
        mark_server_generated(&mut after_n, &d.object);
    }
    // A replace shows the object as declared, its keys in the chart's order, and a dry-run may
    // order them otherwise than the live object (after a hand edit): put them in the live
    // object's order, so the diff shows what changes, not what moved.
    if let Some(before) = &before_n {
        super::normalize::align_key_order(&mut after_n, before);
    }
    let (before_r, after_r) = redact_pair(before_n.as_ref(), Some(&after_n), salt);
    let (action, reason, orphan) = match (&before_n, replace) {
        (_, Some((why, orphan))) => (Action::Replace, Some(why), orphan),
        (None, None) => (Action::Create, None, false),
        (Some(b), None) if *b == after_n => (Action::NoOp, None, false),
        (Some(_), None) => (Action::Update, None, false),
    };
    let (action, reason) = if action == Action::NoOp && ownership.tainted.contains(&key.identity())
    {
        (
            Action::Update,
            Some("tainted: the last apply wrote it but never saw it ready, so apply waits for it again".to_string()),
        )
    } else if !migrate_from.is_empty() && !adopt {
        let what = if action == Action::NoOp {
            "no value changes"
        } else {
            "the fields the chart does not declare are removed, the server's defaults stay"
        };
        (
            Action::Update,
            reason.or(Some(format!(
                "takes over the fields {} set (todoplan owns them from now on; {what})",
                migrate_from.join(", ")
            ))),
        )
    } else {
        (action, reason)
    };
    if action == Action::NoOp
        && let Some(before) = &before_n
    {
        context.confirm(
            d.address.to_string(),
            super::incremental::normalized_fingerprint(before, salt),
            live_uid.clone(),
        );
    }
    let mut change = change_of(d, action, before_r, after_r, reason);
    change.adopt = adopt;
    change.orphan_dependents = orphan;
    change.live_uid = live_uid;
    change.migrate_from = migrate_from;
    if left_count > 0 && change.reason.is_none() {
        change.reason = Some(format!(
            "removes {} field(s) the chart no longer declares that {} also set (apply alone would leave them to {})",
            left_count,
            co_owners.join(", "),
            if co_owners.len() == 1 { "it" } else { "them" }
        ));
    }
    if unowned_count > 0 && change.reason.is_none() {
        change.reason = Some(format!(
            "removes {} data key(s) no field manager owns (applied as stringData before: server-side apply never removes them)",
            unowned_count
        ));
    }
    if made_for_state && !labelled_ours && change.reason.is_none() {
        change.reason = Some(
            "made by todoplan to hold the state and its lock (`[state] backend = \"kubernetes\"`): apply labels it as this instance's".into(),
        );
    }
    if adopt && change.reason.is_none() {
        change.reason = Some(if change.migrate_from.is_empty() {
            "exists in the cluster but was not made by todoplan: apply takes it over".into()
        } else {
            format!(
                "exists in the cluster but was not made by todoplan: apply takes it over, with the fields {} set (those the chart does not declare are removed, the server's defaults stay)",
                change.migrate_from.join(", ")
            )
        });
    }
    Ok(change)
}

/// Fields todoplan applied before (in its record) and no longer declares, that another manager
/// also owns: server-side apply drops todoplan's ownership and leaves them to that manager, so
/// they would stay. Taken out of `applied` (what the plan shows) and returned, with the
/// manager, for apply to remove.
fn co_owned_leftovers(
    applied: &mut Value,
    declared: &Value,
    record: Option<&ObjectRecord>,
) -> Vec<(ForeignField, String)> {
    let Some(record) = record else {
        return Vec::new();
    };
    let entries: Vec<Value> = applied
        .metadata_field("managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out: Vec<(ForeignField, String)> = Vec::new();
    // Parsed once, and only when another manager owns a field.
    let mut recorded: Option<Value> = None;
    for e in entries.iter().filter(|e| {
        crate::observe::is_foreign_field_owner(e) && !crate::observe::is_origin_entry(e)
    }) {
        let manager = e.get("manager").and_then(Value::as_str).unwrap_or("");
        for path in crate::drift::leaf_paths(e.get("fieldsV1").unwrap_or(&Value::Null)) {
            let recorded = recorded.get_or_insert_with(|| record.manifest.value());
            if crate::drift::resolve(recorded, &path).is_none()
                || crate::drift::resolve(declared, &path).is_some()
            {
                continue;
            }
            if let Some((pointer, value)) = crate::drift::resolve(applied, &path)
                && !out.iter().any(|(f, _)| pointer.starts_with(&f.pointer))
            {
                out.push((
                    ForeignField {
                        pointer,
                        value: value.clone(),
                    },
                    manager.to_string(),
                ));
            }
        }
    }
    // Deepest and highest-indexed first, as one JSON patch removes them.
    out.sort_by(|a, b| crate::drift::pointer_order(&b.0.pointer, &a.0.pointer));
    for (f, _) in &out {
        super::ownership::remove_at(applied, &f.pointer);
    }
    out
}

/// A Secret's data keys that are not declared and that no field manager owns (under `f:data`):
/// server-side apply leaves them forever. Taken out of `applied` (what the plan shows) and
/// returned for apply to remove.
fn unowned_secret_keys(applied: &mut Value, declared: &Value) -> Vec<ForeignField> {
    if !crate::model::redaction::is_secret(applied) {
        return Vec::new();
    }
    let owned: BTreeSet<String> = applied
        .metadata_field("managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.pointer("/fieldsV1/f:data").and_then(Value::as_object))
        .flat_map(|m| m.keys())
        .filter_map(|k| k.strip_prefix("f:"))
        .map(str::to_string)
        .collect();
    let declared = declared.get("data").and_then(Value::as_object);
    let Some(data) = applied.get_mut("data").and_then(Value::as_object_mut) else {
        return Vec::new();
    };
    let unowned: Vec<String> = data
        .keys()
        .filter(|k| !owned.contains(*k) && !declared.is_some_and(|d| d.contains_key(*k)))
        .cloned()
        .collect();
    unowned
        .into_iter()
        .filter_map(|k| {
            let value = data.remove(&k)?;
            Some(ForeignField {
                pointer: format!("/data/{}", k.replace('~', "~0").replace('/', "~1")),
                value,
            })
        })
        .collect()
}

/// The ConfigMaps and Secrets whose checksum annotation differs between the workload's pod
/// template before and after: the ones that really roll its pods (a replicas-only change, or a
/// rotation of a secret it does not read, rolls nothing and names nothing).
fn changed_config_checksums(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    const PREFIX: &str = "checksum.todoplan.dev/";
    let annotations = |o: Option<&Value>| -> BTreeMap<String, Value> {
        let Some(o) = o else {
            return BTreeMap::new();
        };
        ["/spec/template", "/spec/jobTemplate/spec/template"]
            .iter()
            .filter_map(|t| o.pointer(&format!("{t}/metadata/annotations")))
            .filter_map(Value::as_object)
            .flat_map(|m| m.iter())
            .filter(|(k, _)| k.starts_with(PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let (then, now) = (annotations(before), annotations(after));
    let mut changed: Vec<String> = now
        .iter()
        .filter(|(k, v)| then.get(*k) != Some(*v))
        .filter_map(|(k, _)| {
            let rest = k.strip_prefix(PREFIX)?;
            if let Some(name) = rest.strip_prefix("configmap-") {
                Some(format!("ConfigMap/{name}"))
            } else {
                rest.strip_prefix("secret-")
                    .map(|name| format!("Secret/{name}"))
            }
        })
        .collect();
    changed.sort();
    changed
}

/// What a dry-run of a create fills in that the real create will draw again: a Service's
/// cluster IPs and a Job's generated selector (`controller-uid`). Not declared by the object,
/// they are not part of what a reviewer approves: shown as known after apply, so a saved plan
/// that creates a Job or a Service stays exact.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

fn mark_server_generated(after: &mut Value, declared: &Value) {
    let kind = after
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let group = crate::model::object::group_of(
        after
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    match (group, kind) {
        ("", "Service") => {
            for field in ["clusterIP", "clusterIPs"] {
                let pointer = format!("/spec/{field}");
                if declared.pointer(&pointer).is_none()
                    && let Some(v) = after.pointer_mut(&pointer)
                    && *v != Value::String("None".into())
                {
                    *v = Value::String(KNOWN_AFTER_APPLY.into());
                }
            }
        }
        ("batch", "Job") if declared.pointer("/spec/selector").is_none() => {
            for labels in [
                "/spec/selector/matchLabels",
                "/spec/template/metadata/labels",
            ] {
                if let Some(Value::Object(map)) = after.pointer_mut(labels) {
                    for key in ["controller-uid", "batch.kubernetes.io/controller-uid"] {
                        if let Some(v) = map.get_mut(key) {
                            *v = Value::String(KNOWN_AFTER_APPLY.into());
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// The top-level `spec` fields that differ between the live and the desired object.
fn changed_spec_fields(live: Option<&Value>, desired: &Value) -> String {
    let empty = serde_json::Map::new();
    let live_spec = live
        .and_then(|l| l.get("spec"))
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let desired_spec = desired
        .get("spec")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let fields: Vec<String> = desired_spec
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "replicas"
                    | "template"
                    | "updateStrategy"
                    | "minReadySeconds"
                    | "ordinals"
                    | "persistentVolumeClaimRetentionPolicy"
            )
        })
        .filter(|(k, v)| !spec_field_matches(live_spec.get(*k), v))
        .map(|(k, _)| format!("spec.{k}"))
        .collect();
    if fields.is_empty() {
        "spec".into()
    } else {
        fields.join(", ")
    }
}

/// Whether every value the desired field sets is the same live (the server adds defaults).
fn spec_field_matches(live: Option<&Value>, desired: &Value) -> bool {
    match (live, desired) {
        (Some(Value::Object(l)), Value::Object(d)) => {
            d.iter().all(|(k, v)| spec_field_matches(l.get(k), v))
        }
        (Some(Value::Array(l)), Value::Array(d)) => {
            l.len() == d.len() && l.iter().zip(d).all(|(l, d)| spec_field_matches(Some(l), d))
        }
        (Some(l), d) => l == d,
        (None, _) => false,
    }
}

fn diff_recorded(d: &DesiredObject, recorded: Option<&ObjectRecord>, salt: &str) -> ObjectChange {
    let after = normalize(&d.object);
    let after_r = redact(&after, salt);
    match recorded {
        None => change_of(d, Action::Create, None, Some(after_r), None),
        Some(r) => {
            let before = normalize(&r.manifest.value());
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_config_whose_checksum_changed_rolls_pods() {
        let workload = |cm: &str, secret: &str, replicas: u64| {
            json!({"kind": "Deployment", "spec": {"replicas": replicas, "template": {"metadata": {
                "annotations": {"checksum.todoplan.dev/configmap-web": cm,
                    "checksum.todoplan.dev/secret-app": secret}}}}})
        };
        let before = workload("a", "s1", 1);
        assert_eq!(
            changed_config_checksums(Some(&before), Some(&workload("a", "s2", 1))),
            vec!["Secret/app".to_string()]
        );
        assert_eq!(
            changed_config_checksums(Some(&before), Some(&workload("b", "s1", 1))),
            vec!["ConfigMap/web".to_string()]
        );
        // Replicas only: nothing rolls.
        assert!(changed_config_checksums(Some(&before), Some(&workload("a", "s1", 3))).is_empty());
    }
}
