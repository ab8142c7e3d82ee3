//! The desired objects: what todo.toml, its charts, images and secrets say should exist.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::chart;
use crate::graph::Address;
use crate::model::object::Metadata;
use crate::observe::{ClusterClient, LABEL_PROJECT, LABEL_RELEASE, ObjectKey};
use crate::plan::normalize::{kind_of, name_of};
use crate::plan::pending_kinds::DeclaredKinds;
use crate::secrets::SecretValues;
use crate::spec::{ReleaseKind, Spec};

pub use crate::model::desired::DesiredObject;

/// Kinds that are cluster-scoped in every Kubernetes release; used when no cluster is at hand.
const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "IngressClass",
    "PriorityClass",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "CSIDriver",
    "RuntimeClass",
    "VolumeAttachment",
];

/// Namespaces todoplan never creates, labels or deletes.
pub fn is_system_namespace(ns: &str) -> bool {
    ns == "default" || ns.starts_with("kube-")
}

/// Whether `object` lives in a namespace: the cluster's discovery says so, or, for a custom
/// resource whose CRD this plan brings (the cluster does not serve it yet), the CRD's scope. A
/// kind neither knows is taken as namespaced and noted: a release rendered later may declare
/// it (see [`DeclaredKinds::settle`]).
async fn namespaced(
    cluster: Option<&ClusterClient>,
    object: &Value,
    declared: &mut DeclaredKinds,
) -> miette::Result<bool> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let pending = declared
        .get(api_version, kind_of(object))
        .map(|k| k.namespaced);
    match cluster {
        Some(c) => match c.is_namespaced(&ObjectKey::of(object)).await {
            Ok(namespaced) => Ok(namespaced),
            Err(crate::observe::ObserveError::UnknownKind { .. }) => {
                if pending.is_none() {
                    declared.unresolved(api_version, kind_of(object));
                }
                Ok(pending.unwrap_or(true))
            }
            Err(e) => Err(e.into()),
        },
        None => Ok(pending.unwrap_or_else(|| !CLUSTER_SCOPED_KINDS.contains(&kind_of(object)))),
    }
}

/// Drops what a controller owns by design from a declared object: an aggregated ClusterRole's
/// `rules` are the aggregation controller's (the chart declares `rules: []` beside its
/// `aggregationRule`); applying them would empty them on every apply, and the controller
/// would fill them again.
fn leave_controller_fields(object: &mut Value) {
    let aggregated = kind_of(object) == "ClusterRole"
        && object.get("aggregationRule").is_some_and(|r| !r.is_null());
    if aggregated && let Some(map) = object.as_object_mut() {
        map.remove("rules");
    }
}

/// A Secret's `stringData` as `data` (base64), as the API server stores it and as Flux's ssa
/// normalises it: server-side apply tracks ownership of `stringData` keys, which the stored
/// object never has, so a key renamed in `stringData` would never be removed from `data`.
fn string_data_as_data(object: &mut Value) {
    use base64::Engine as _;
    if !crate::model::redaction::is_secret(object) {
        return;
    }
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let Some(Value::Object(plain)) = map.remove("stringData") else {
        return;
    };
    let data = map.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    if let Some(data) = data.as_object_mut() {
        for (k, v) in plain {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            data.insert(
                k,
                Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
}

/// Marks an object todo.toml's `keep` covers: the mark travels with the live object, so prune
/// and destroy honour it even once the release is gone from todo.toml (see
/// `plan::compute::keep_policy`).
pub const KEEP_ANNOTATION: &str = "todoplan.dev/keep";

fn keep_annotation(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(annotations) = meta
            .entry("annotations")
            .or_insert_with(|| json!({}))
            .as_object_mut()
    {
        annotations.insert(KEEP_ANNOTATION.into(), Value::String("true".into()));
    }
}

pub fn inventory_labels(object: &mut Value, project: &str, release: &str) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            l.insert(LABEL_PROJECT.into(), Value::String(project.into()));
            if !release.is_empty() {
                l.insert(LABEL_RELEASE.into(), Value::String(release.into()));
            }
        }
    }
}

/// Namespace objects for every namespace a secret or release uses.
pub fn namespace_objects(spec: &Spec) -> Vec<DesiredObject> {
    spec.namespaces()
        .into_iter()
        .filter(|ns| !is_system_namespace(ns))
        .map(|ns| {
            let mut object =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            inventory_labels(&mut object, &spec.project.name, "");
            DesiredObject {
                address: Address::Namespace(ns),
                object,
                release: None,
                // Deleting a namespace deletes everything in it: it is deleted only when
                // everything in it is (see `protection::gate_namespace`), so its own record
                // needs no protection.
                protect: false,
                timeout: Duration::from_secs(60),
            }
        })
        .collect()
}

pub fn secret_objects(spec: &Spec, values: &BTreeMap<String, SecretValues>) -> Vec<DesiredObject> {
    values
        .values()
        .map(|v| {
            let mut object = v.manifest();
            inventory_labels(&mut object, &spec.project.name, "");
            let has_generated = spec.secrets.get(&v.set).is_some_and(|s| {
                s.keys.values().any(|k| {
                    matches!(
                        k,
                        crate::spec::SecretSource::Generate { .. }
                            | crate::spec::SecretSource::Existing
                    )
                })
            });
            DesiredObject {
                address: Address::Secret(v.set.clone()),
                object,
                release: None,
                // A generated value (a database password) is the only copy: data.
                protect: has_generated,
                timeout: Duration::from_secs(60),
            }
        })
        .collect()
}

/// A chart error, naming the release whose render met it (two releases may share a chart):
/// the chart's own diagnostic (code, source snippet, labels, help) with the release in front.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("release.{release}: {cause}")]
#[diagnostic(forward(cause))]
pub struct InRelease {
    release: String,
    cause: chart::ChartError,
}

impl InRelease {
    fn new(release: &str, cause: chart::ChartError) -> Self {
        InRelease {
            release: release.to_string(),
            cause,
        }
    }
}

/// Whether rendering `release` is an upgrade (`.Release.IsUpgrade`, and which hooks run): as
/// helm, when the release was installed before, and an install when it is new, even in a project
/// applied before. Plan, validate, render and rbac all render with this one rule.
/// A chart release's documents as apply applies them: the chart's `crds/` files first (unless
/// the release says `crds = "skip"`), as `helm install` installs them, then what its templates
/// rendered.
pub fn release_documents(
    release: &crate::spec::Release,
    rendered: chart::Rendered,
) -> Vec<chart::Manifest> {
    let mut documents = match release.crds {
        crate::spec::CrdPolicy::Apply => rendered.crds,
        crate::spec::CrdPolicy::Skip => Vec::new(),
    };
    documents.extend(rendered.manifests);
    documents
}

pub fn is_upgrade(state: &crate::state::State, release: &str) -> bool {
    state.objects.values().any(|r| r.release == release)
}

/// What every release of one plan renders against: the cluster (None offline), its
/// capabilities, and the custom resource kinds the releases rendered so far declare.
pub struct Rendering<'a> {
    pub cluster: Option<&'a ClusterClient>,
    pub capabilities: &'a chart::Capabilities,
    pub declared: DeclaredKinds,
}

/// Renders one release to its objects, namespaced and labelled.
pub async fn release_objects(
    spec: &Spec,
    release_name: &str,
    values: Value,
    is_upgrade: bool,
    revision: u64,
    rendering: &mut Rendering<'_>,
) -> miette::Result<Vec<DesiredObject>> {
    let (cluster, capabilities) = (rendering.cluster, rendering.capabilities);
    let Some(release) = spec.releases.get(release_name) else {
        return Err(miette::miette!(
            "release.{release_name} is not in todo.toml"
        ));
    };
    let manifests = match release.kind {
        ReleaseKind::Chart => {
            // Online, `lookup` reads the live cluster; the render runs off the runtime so those
            // reads can run on it.
            let lookup = cluster.map(|c| {
                Arc::new(LiveLookup {
                    cluster: c.clone(),
                    runtime: tokio::runtime::Handle::current(),
                }) as Arc<dyn chart::Lookup>
            });
            let (chart_dir, name, namespace, files) = (
                release.chart.clone(),
                release.name.clone(),
                release.namespace.clone(),
                release.values_files.clone(),
            );
            let capabilities = capabilities.clone();
            let render = move || {
                chart::render(&chart::RenderRequest {
                    chart_dir: &chart_dir,
                    release_name: &name,
                    namespace: &namespace,
                    values_files: &files,
                    inline_values: values,
                    revision,
                    is_upgrade,
                    capabilities,
                    lookup,
                })
            };
            let rendered = if cluster.is_some() {
                tokio::task::spawn_blocking(render)
                    .await
                    .map_err(|e| miette::miette!("the chart renderer stopped: {e}"))?
            } else {
                render()
            };
            let rendered = rendered.map_err(|cause| InRelease::new(release_name, cause))?;
            release_documents(release, rendered)
        }
        ReleaseKind::Manifests => chart::render_manifest_dir(&release.chart)
            .map_err(|cause| InRelease::new(release_name, cause))?,
    };
    // The release's own CRDs first: its custom resources are planned from them.
    for m in &manifests {
        rendering.declared.add(&m.object);
    }
    let mut out = Vec::new();
    for m in manifests {
        let mut object = m.object;
        if !object.is_object() || kind_of(&object).is_empty() {
            continue;
        }
        // Test hooks (todoplan never runs them), delete and rollback hooks are not applied.
        if chart::hooks::Hook::of(&object).is_some_and(|h| h.stage().is_none()) {
            continue;
        }
        if name_of(&object).is_empty() {
            let generated = object
                .pointer("/metadata/generateName")
                .and_then(Value::as_str);
            let what = format!(
                "{} {}",
                object
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("?"),
                kind_of(&object)
            );
            if let Some(name) = object.pointer("/metadata/name").filter(|n| !n.is_null()) {
                return Err(miette::miette!(
                    help = "quote it (`name: \"y\"`): YAML reads y, yes, on, off, no, true, false and numbers as other types, as helm's YAML reader does",
                    "release.{release_name}: a {what} has metadata.name {name}, which is not a string",
                ));
            }
            return Err(match generated {
                Some(prefix) => miette::miette!(
                    help = format!(
                        "give it a name, e.g. `name: {prefix}{{{{ .Release.Revision }}}}` for one per apply"
                    ),
                    "release.{release_name}: a {what} with generateName `{prefix}` and no name: todoplan plans, records and prunes every object by its name, and the server draws a new one at each create"
                ),
                None => miette::miette!(
                    help = "every object of a chart needs metadata.name",
                    "release.{release_name}: a {what} has no metadata.name"
                ),
            });
        }
        if namespaced(cluster, &object, &mut rendering.declared).await? {
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
                && !meta.contains_key("namespace")
            {
                meta.insert("namespace".into(), Value::String(release.namespace.clone()));
            }
        } else if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("namespace");
        }
        string_data_as_data(&mut object);
        leave_controller_fields(&mut object);
        inventory_labels(&mut object, &spec.project.name, &release.name);
        if release.keeps(kind_of(&object), name_of(&object)) {
            keep_annotation(&mut object);
        }
        let key = ObjectKey::of(&object);
        let protect = release.protect || key.kind == "PersistentVolumeClaim";
        out.push(DesiredObject {
            address: Address::Object {
                release: release.name.clone(),
                api_version: key.api_version,
                kind: key.kind,
                namespace: key.namespace,
                name: key.name,
            },
            object,
            release: Some(release.name.clone()),
            protect,
            timeout: release.timeout,
        });
    }
    Ok(out)
}

/// `lookup` in templates, answered by the live cluster (GET and LIST only). Secret values it
/// reads are remembered for masking, as every other read of a Secret is.
struct LiveLookup {
    cluster: ClusterClient,
    runtime: tokio::runtime::Handle,
}

impl chart::Lookup for LiveLookup {
    fn lookup(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, String> {
        self.runtime
            .block_on(self.cluster.lookup(api_version, kind, namespace, name))
            .map_err(|e| e.to_string())
    }
}

/// Annotation key for the checksum of a config object, within the 63-character name limit.
fn checksum_annotation(kind: &str, name: &str) -> String {
    let base = format!("{}-{name}", kind.to_lowercase());
    let base = if base.len() <= 63 {
        base
    } else {
        let h = hex::encode(&Sha256::digest(base.as_bytes())[..4]);
        format!("{}-{h}", &base[..54])
    };
    format!("checksum.todoplan.dev/{base}")
}

/// Names of Secrets and ConfigMaps a pod spec uses (env, envFrom, volumes, projected).
fn referenced_config(pod_spec: &Value) -> BTreeSet<(&'static str, String)> {
    let mut out = BTreeSet::new();
    let containers = ["containers", "initContainers"]
        .iter()
        .filter_map(|c| pod_spec.get(*c).and_then(Value::as_array))
        .flatten();
    for c in containers {
        for ef in c
            .get("envFrom")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = ef.pointer("/secretRef/name").and_then(Value::as_str) {
                out.insert(("Secret", n.to_string()));
            }
            if let Some(n) = ef.pointer("/configMapRef/name").and_then(Value::as_str) {
                out.insert(("ConfigMap", n.to_string()));
            }
        }
        for e in c.get("env").and_then(Value::as_array).into_iter().flatten() {
            if let Some(n) = e
                .pointer("/valueFrom/secretKeyRef/name")
                .and_then(Value::as_str)
            {
                out.insert(("Secret", n.to_string()));
            }
            if let Some(n) = e
                .pointer("/valueFrom/configMapKeyRef/name")
                .and_then(Value::as_str)
            {
                out.insert(("ConfigMap", n.to_string()));
            }
        }
    }
    for v in pod_spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(n) = v.pointer("/secret/secretName").and_then(Value::as_str) {
            out.insert(("Secret", n.to_string()));
        }
        if let Some(n) = v.pointer("/configMap/name").and_then(Value::as_str) {
            out.insert(("ConfigMap", n.to_string()));
        }
        for s in v
            .pointer("/projected/sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = s.pointer("/secret/name").and_then(Value::as_str) {
                out.insert(("Secret", n.to_string()));
            }
            if let Some(n) = s.pointer("/configMap/name").and_then(Value::as_str) {
                out.insert(("ConfigMap", n.to_string()));
            }
        }
    }
    out
}

/// Adds to every workload's pod template a checksum annotation per Secret/ConfigMap it uses that
/// todoplan manages, so a config change rolls the pods. Returns (workload address, config) pairs.
pub fn add_config_checksums(
    desired: &mut [DesiredObject],
    secrets: &BTreeMap<String, SecretValues>,
    salt: &str,
) -> Vec<(Address, String)> {
    let mut sums: BTreeMap<(String, &'static str, String), String> = BTreeMap::new();
    for v in secrets.values() {
        sums.insert(
            (v.namespace.clone(), "Secret", v.k8s_name.clone()),
            v.checksum(salt),
        );
    }
    for d in desired.iter() {
        if kind_of(&d.object) == "ConfigMap" {
            let ns = d
                .object
                .metadata_field("namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let mut h = Sha256::new();
            h.update(serde_json::to_vec(&d.object.get("data")).unwrap_or_default());
            h.update(serde_json::to_vec(&d.object.get("binaryData")).unwrap_or_default());
            sums.insert(
                (ns, "ConfigMap", name_of(&d.object).to_string()),
                hex::encode(&h.finalize()[..8]),
            );
        }
    }
    let mut touched = Vec::new();
    for d in desired.iter_mut() {
        let kind = kind_of(&d.object).to_string();
        let template = match kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => "/spec/template",
            "CronJob" => "/spec/jobTemplate/spec/template",
            _ => continue,
        };
        let ns = d
            .object
            .metadata_field("namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let Some(pod_spec) = d.object.pointer(&format!("{template}/spec")) else {
            continue;
        };
        let refs = referenced_config(pod_spec);
        let mut add = Vec::new();
        for (k, n) in refs {
            if let Some(sum) = sums.get(&(ns.clone(), k, n.clone())) {
                add.push((checksum_annotation(k, &n), sum.clone(), format!("{k}/{n}")));
            }
        }
        if add.is_empty() {
            continue;
        }
        let Some(tmpl) = d
            .object
            .pointer_mut(template)
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let meta = tmpl.entry("metadata").or_insert_with(|| json!({}));
        let Some(meta) = meta.as_object_mut() else {
            continue;
        };
        let ann = meta.entry("annotations").or_insert_with(|| json!({}));
        let Some(ann) = ann.as_object_mut() else {
            continue;
        };
        for (key, sum, what) in add {
            ann.insert(key, Value::String(sum));
            touched.push((d.address.clone(), what));
        }
    }
    touched
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(env_from_secret: &str) -> DesiredObject {
        DesiredObject {
            address: Address::Release("backend".into()),
            object: json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "todo"},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "envFrom": [{"secretRef": {"name": env_from_secret}}, {"configMapRef": {"name": "cfg"}}]}]}}}}),
            release: Some("backend".into()),
            protect: false,
            timeout: Duration::from_secs(1),
        }
    }

    fn config_map(value: &str) -> DesiredObject {
        DesiredObject {
            address: Address::Release("backend".into()),
            object: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "todo"}, "data": {"CORS": value}}),
            release: Some("backend".into()),
            protect: false,
            timeout: Duration::from_secs(1),
        }
    }

    fn annotations(d: &DesiredObject) -> serde_json::Map<String, Value> {
        d.object
            .pointer("/spec/template/metadata/annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn a_config_map_change_changes_the_pod_template_checksum() {
        let mut a = vec![config_map("http://a"), workload("other")];
        let mut b = vec![config_map("http://b"), workload("other")];
        add_config_checksums(&mut a, &BTreeMap::new(), "salt");
        let touched = add_config_checksums(&mut b, &BTreeMap::new(), "salt");
        let key = "checksum.todoplan.dev/configmap-cfg";
        assert!(
            annotations(&a[1]).contains_key(key),
            "{:?}",
            annotations(&a[1])
        );
        assert_ne!(annotations(&a[1])[key], annotations(&b[1])[key]);
        assert_eq!(
            touched.len(),
            1,
            "the unmanaged Secret `other` gets no checksum"
        );
    }

    #[test]
    fn long_names_stay_within_the_annotation_limit() {
        let key = checksum_annotation("ConfigMap", &"x".repeat(200));
        let name = key.split('/').nth(1).unwrap();
        assert!(name.len() <= 63, "{name}");
    }
}
