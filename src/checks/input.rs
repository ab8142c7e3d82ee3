//! Building a [`CheckInput`] from what a plan already has: the desired objects, the live index,
//! the spec, the image references. The only part of `checks` that reads files (the values files
//! and todo.toml, to point findings at lines); everything else is handed in.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::source::{SourceFile, SourceKind};
use super::{CheckInput, CheckObject, DeliveredImage, ImageDelivery, ImageFacts, images};
use crate::graph::Address;
use crate::model::desired::DesiredObject;
use crate::observe::LiveIndex;
use crate::spec::Spec;

/// A Secret with its keys but every value blanked: the checks need the keys only, and a copy
/// that holds no plaintext cannot leak it.
fn keys_only(secret: &Value) -> Value {
    let mut out = secret.clone();
    for field in ["data", "stringData"] {
        if let Some(map) = out.get_mut(field).and_then(Value::as_object_mut) {
            for v in map.values_mut() {
                *v = Value::String(String::new());
            }
        }
    }
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("annotations");
    }
    out
}

fn line_of(spec: &Spec, offset: usize) -> usize {
    spec.source.text[..offset.min(spec.source.text.len())]
        .matches('\n')
        .count()
        + 1
}

fn display_path(spec: &Spec, path: &Path) -> String {
    path.strip_prefix(&spec.base_dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn spec_file(spec: &Spec) -> String {
    Path::new(&spec.source.name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| spec.source.name.clone())
}

/// Where the object comes from, in words and as `file:line`.
fn origin(spec: &Spec, d: &DesiredObject) -> (String, Option<String>) {
    match &d.address {
        Address::Secret(set) => {
            let source = spec
                .secrets
                .get(set)
                .map(|s| format!("{}:{}", spec_file(spec), line_of(spec, s.span.start)));
            (
                format!("from [secrets.{set}.keys] in {}", spec_file(spec)),
                source,
            )
        }
        Address::Object { release, .. } => {
            let chart = spec
                .releases
                .get(release)
                .map(|r| display_path(spec, &r.chart))
                .unwrap_or_default();
            (
                format!("rendered by release.{release}, chart {chart}"),
                None,
            )
        }
        other => (other.to_string(), None),
    }
}

/// The planned objects as the checks see them (Secrets reduced to their keys).
pub fn planned_objects(spec: &Spec, desired: &[DesiredObject]) -> Vec<CheckObject> {
    desired
        .iter()
        .map(|d| {
            let object = if d.object.get("kind").and_then(Value::as_str) == Some("Secret") {
                keys_only(&d.object)
            } else {
                d.object.clone()
            };
            check_object(spec, d, object)
        })
        .collect()
}

/// As [`planned_objects`], but every object other than a Secret is moved out of `desired`
/// instead of copied (a plan of thousands of objects then holds one copy); give them back with
/// [`CheckInput::give_back`].
fn planned_objects_lent(spec: &Spec, desired: &mut [DesiredObject]) -> Vec<CheckObject> {
    desired
        .iter_mut()
        .map(|d| {
            let object = if d.object.get("kind").and_then(Value::as_str) == Some("Secret") {
                keys_only(&d.object)
            } else {
                std::mem::take(&mut d.object)
            };
            check_object(spec, d, object)
        })
        .collect()
}

fn check_object(spec: &Spec, d: &DesiredObject, object: Value) -> CheckObject {
    let (origin, origin_source) = origin(spec, d);
    CheckObject {
        address: d.address.to_string(),
        object,
        release: d.release.clone(),
        origin,
        origin_source,
    }
}

/// Keys-only Secrets for every `[secrets.NAME]`, for checking without resolving any value
/// (`validate`, offline).
pub fn secret_stubs(spec: &Spec) -> Vec<DesiredObject> {
    spec.secrets
        .values()
        .map(|s| {
            let data: serde_json::Map<String, Value> = s
                .keys
                .keys()
                .map(|k| (k.clone(), Value::String(String::new())))
                .collect();
            DesiredObject {
                address: Address::Secret(s.name.clone()),
                object: serde_json::json!({
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": s.k8s_name, "namespace": s.namespace},
                    "type": "Opaque",
                    "data": data,
                }),
                release: None,
                protect: false,
                timeout: std::time::Duration::from_secs(60),
            }
        })
        .collect()
}

/// todo.toml, every values file of every release and each chart's values.yaml, as read now.
/// Unreadable files are skipped: the render already reported them.
pub fn sources(spec: &Spec) -> Vec<SourceFile> {
    let mut out = vec![SourceFile {
        path: spec_file(spec),
        text: spec.source.text.to_string(),
        release: None,
        kind: SourceKind::Spec,
    }];
    for r in spec.releases.values() {
        for f in &r.values_files {
            if let Ok(text) = std::fs::read_to_string(f) {
                out.push(SourceFile {
                    path: display_path(spec, f),
                    text,
                    release: Some(r.name.clone()),
                    kind: SourceKind::ValuesFile,
                });
            }
        }
        let chart_values = r.chart.join("values.yaml");
        if let Ok(text) = std::fs::read_to_string(&chart_values) {
            out.push(SourceFile {
                path: display_path(spec, &chart_values),
                text,
                release: Some(r.name.clone()),
                kind: SourceKind::ChartValues,
            });
        }
    }
    out
}

impl ImageFacts {
    /// The images todoplan delivers: `(name, reference)` as passed to the releases.
    pub fn delivered<'a>(
        delivery: &crate::images::Delivery,
        references: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> ImageFacts {
        ImageFacts {
            delivery: match delivery {
                crate::images::Delivery::Registry { .. } => ImageDelivery::Registry,
                crate::images::Delivery::Minikube | crate::images::Delivery::Kind { .. } => {
                    ImageDelivery::NodeLoad
                }
                crate::images::Delivery::None => ImageDelivery::None,
            },
            delivered: references
                .into_iter()
                .map(|(name, reference)| DeliveredImage {
                    name: name.to_string(),
                    repository: images::repository_of(reference).to_string(),
                })
                .collect(),
            registry: BTreeMap::new(),
        }
    }
}

/// The input for a plan: the desired objects, the live objects the plan does not touch, and
/// everything the spec says (sources, env, `[checks] ignore`). Images: set
/// [`CheckInput::images`] with [`ImageFacts::delivered`] (and a registry probe, when made).
///
/// `live` holds what the inventory LIST found (this project's labelled objects): objects found
/// count, but nothing missing from it is proven absent, so `coverage` stays empty. Widen it
/// with [`CheckInput::cover_namespaces`] after listing whole namespaces.
pub fn from_desired(spec: &Spec, desired: &[DesiredObject], live: &LiveIndex) -> CheckInput {
    let desired_keys: std::collections::HashSet<crate::observe::ObjectKey> =
        desired.iter().map(DesiredObject::key).collect();
    with_planned(spec, planned_objects(spec, desired), &desired_keys, live)
}

/// As [`from_desired`], but the desired objects are lent to the checks rather than copied:
/// until [`CheckInput::give_back`], `desired` holds `null` in place of every object but Secrets.
pub fn from_desired_lent(
    spec: &Spec,
    desired: &mut [DesiredObject],
    live: &LiveIndex,
) -> CheckInput {
    let desired_keys: std::collections::HashSet<crate::observe::ObjectKey> =
        desired.iter().map(DesiredObject::key).collect();
    with_planned(
        spec,
        planned_objects_lent(spec, desired),
        &desired_keys,
        live,
    )
}

fn with_planned(
    spec: &Spec,
    planned: Vec<CheckObject>,
    desired_keys: &std::collections::HashSet<crate::observe::ObjectKey>,
    live: &LiveIndex,
) -> CheckInput {
    let live: Vec<Value> = live
        .objects
        .iter()
        .filter(|(k, _)| !desired_keys.contains(*k))
        .map(|(_, v)| {
            if v.get("kind").and_then(Value::as_str) == Some("Secret") {
                keys_only(v)
            } else {
                v.clone()
            }
        })
        .collect();
    CheckInput {
        planned,
        live,
        deleting: Default::default(),
        coverage: Default::default(),
        images: ImageFacts::default(),
        sources: sources(spec),
        env: spec.env.clone(),
        ignore: spec.checks.ignore.clone(),
        smoke_checks: spec
            .releases
            .values()
            .flat_map(|r| r.smoke_checks.iter().map(|(c, _)| c.clone()))
            .collect(),
    }
}

impl CheckInput {
    /// Adds live objects from complete listings of `namespaces` (Secrets, ConfigMaps, Services,
    /// ServiceAccounts, workloads): from then on, an object missing there does not exist.
    pub fn cover_namespaces(
        &mut self,
        namespaces: impl IntoIterator<Item = String>,
        listed: impl IntoIterator<Item = Value>,
    ) {
        let mut listed = listed.into_iter().peekable();
        if listed.peek().is_some() {
            self.add_listed(listed);
        }
        self.coverage.namespaces.extend(namespaces);
    }

    /// Adds `listed` to the live objects, but those planned or already there.
    fn add_listed(&mut self, listed: impl Iterator<Item = Value>) {
        // Borrowed from the planned objects: no copy of every planned object's key.
        let planned: std::collections::HashSet<(&str, &str, &str)> =
            self.planned.iter().map(|o| key_ref(&o.object)).collect();
        let mut seen: std::collections::HashSet<(String, String, String)> =
            self.live.iter().map(key_of).collect();
        for v in listed {
            let key = key_of(&v);
            if planned.contains(&(key.0.as_str(), key.1.as_str(), key.2.as_str()))
                || !seen.insert(key)
            {
                continue;
            }
            let v = if v.get("kind").and_then(Value::as_str) == Some("Secret") {
                keys_only(&v)
            } else {
                v
            };
            self.live.push(v);
        }
    }
}

impl CheckInput {
    /// Gives the objects [`from_desired_lent`] took back to `desired` (the same slice).
    pub fn give_back(self, desired: &mut [DesiredObject]) {
        for (d, o) in desired.iter_mut().zip(self.planned) {
            if d.object.is_null() {
                d.object = o.object;
            }
        }
    }

    /// Marks live objects the plan deletes: they count as gone.
    pub fn delete(&mut self, keys: impl IntoIterator<Item = crate::observe::ObjectKey>) {
        self.deleting.extend(
            keys.into_iter()
                .map(|k| (k.kind, k.namespace.unwrap_or_default(), k.name)),
        );
    }

    /// Adds a whole-namespace listing (see [`crate::observe::Listing`]).
    pub fn cover(&mut self, listing: crate::observe::Listing) {
        self.coverage.storage_classes |= listing.storage_classes;
        self.cover_namespaces(listing.complete_namespaces, listing.objects);
    }

    /// What the checks can look up in the cluster for this plan: the namespaces where a planned
    /// object (a pod template, a Service, an Ingress, an HPA) or a smoke check names other
    /// objects, and whether a StorageClass is named (a PVC or a StatefulSet's claim templates).
    /// Every check starts from a planned object and looks only in its namespace, so listing
    /// nothing else leaves the findings as they would be with every namespace listed.
    pub fn lookups(&self) -> Lookups {
        let mut out = Lookups::default();
        for o in &self.planned {
            let v = &o.object;
            let kind = super::index::kind(v);
            if matches!(kind, "PersistentVolumeClaim" | "StatefulSet") {
                out.storage_classes = true;
            }
            if matches!(
                kind,
                "Deployment"
                    | "StatefulSet"
                    | "DaemonSet"
                    | "ReplicaSet"
                    | "Job"
                    | "ReplicationController"
                    | "CronJob"
                    | "Pod"
                    | "Service"
                    | "Ingress"
                    | "HorizontalPodAutoscaler"
            ) {
                let ns = super::index::namespace(v);
                if !ns.is_empty() {
                    out.namespaces.insert(ns.to_string());
                }
            }
        }
        out.namespaces
            .extend(self.smoke_checks.iter().map(|c| c.namespace.clone()));
        out
    }

    /// The keys of the planned objects: a listing need not keep live objects with these (the
    /// plan wins over them in every check).
    pub fn planned_keys(&self) -> PlannedKeys {
        PlannedKeys(
            self.planned
                .iter()
                .map(|o| {
                    let (kind, ns, name) = key_of(&o.object);
                    PlannedKeys::join(&kind, &ns, &name)
                })
                .collect(),
        )
    }

    /// Images the planned pods name that todoplan does not deliver: what to ask registries.
    pub fn undelivered_images(&self) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        let index = super::index::Index::build(self);
        for pod in index.pods.iter().filter(|p| p.planned) {
            for (_, c) in pod.containers() {
                if let Some(image) = c.get("image").and_then(Value::as_str) {
                    let repo = images::repository_of(image);
                    if !self.images.delivered.iter().any(|d| d.repository == repo) {
                        out.insert(image.to_string());
                    }
                }
            }
        }
        out
    }
}

fn key_of(v: &Value) -> (String, String, String) {
    let (kind, namespace, name) = key_ref(v);
    (kind.to_string(), namespace.to_string(), name.to_string())
}

fn key_ref(v: &Value) -> (&str, &str, &str) {
    (
        super::index::kind(v),
        super::index::namespace(v),
        super::index::name(v),
    )
}

/// See [`CheckInput::lookups`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Lookups {
    pub namespaces: std::collections::BTreeSet<String>,
    pub storage_classes: bool,
}

/// See [`CheckInput::planned_keys`].
#[derive(Debug, Default)]
pub struct PlannedKeys(std::collections::HashSet<String>);

impl PlannedKeys {
    fn join(kind: &str, namespace: &str, name: &str) -> String {
        format!("{kind}\0{namespace}\0{name}")
    }

    /// `namespace` is "" for a cluster-scoped object.
    pub fn contains(&self, kind: &str, namespace: &str, name: &str) -> bool {
        self.0.contains(&Self::join(kind, namespace, name))
    }
}
