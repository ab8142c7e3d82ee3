//! The planned and live objects, indexed once by kind, namespace and name, plus every pod
//! template with the path to it, so each check looks things up instead of scanning.

use std::collections::HashMap;

use serde_json::Value;

use super::{CheckInput, CheckObject, Coverage};

/// Where a looked-up object comes from.
#[derive(Clone, Copy)]
pub enum Found<'a> {
    Planned(&'a CheckObject),
    Live(&'a Value),
    /// Neither, and the live view covers its namespace: it does not exist.
    Absent,
    /// Neither, and nothing was listed there (offline, or not a namespace involved).
    Unknown,
}

impl<'a> Found<'a> {
    pub fn object(&self) -> Option<&'a Value> {
        match self {
            Found::Planned(o) => Some(&o.object),
            Found::Live(v) => Some(v),
            _ => None,
        }
    }

    /// "[secrets.app.keys]", "release.backend", "a live object not managed by todoplan".
    pub fn origin(&self) -> String {
        match self {
            Found::Planned(o) => o.origin.clone(),
            Found::Live(_) => "a live object this plan does not manage".to_string(),
            Found::Absent | Found::Unknown => String::new(),
        }
    }
}

/// A pod template inside a workload (or a Pod itself).
pub struct PodTemplate<'a> {
    /// Address of the object holding it (planned), or its `Kind/ns/name` (live).
    pub address: String,
    pub release: Option<&'a str>,
    pub kind: &'a str,
    pub name: &'a str,
    pub namespace: &'a str,
    /// Field path of the template's `spec` (`spec.template.spec`).
    pub spec_path: &'static str,
    pub spec: &'a Value,
    pub labels: Option<&'a serde_json::Map<String, Value>>,
    pub planned: bool,
    /// Init containers then containers, each with its field path (built once).
    containers: Vec<(String, &'a Value)>,
}

impl<'a> PodTemplate<'a> {
    /// Containers and init containers, each with its field path.
    pub fn containers(&self) -> impl Iterator<Item = (&str, &'a Value)> + '_ {
        self.containers.iter().map(|(path, c)| (path.as_str(), *c))
    }
}

fn containers_of<'a>(spec: &'a Value, spec_path: &str) -> Vec<(String, &'a Value)> {
    let mut out = Vec::new();
    for list in ["initContainers", "containers"] {
        for (i, c) in array_at(spec, list).iter().enumerate() {
            out.push((format!("{spec_path}.{list}[{i}]"), c));
        }
    }
    out
}

/// `v` at a JSON pointer made only of object keys (`/spec/template`): the lookups the checks
/// make, without the unescaping and allocation `Value::pointer` does per segment.
pub fn at<'v>(v: &'v Value, pointer: &str) -> Option<&'v Value> {
    pointer
        .split('/')
        .skip(1)
        .try_fold(v, |v, key| v.as_object()?.get(key))
}

type Key<'a> = (&'a str, &'a str, &'a str);

pub struct Index<'a> {
    pub planned: &'a [CheckObject],
    planned_by_key: HashMap<Key<'a>, &'a CheckObject>,
    live_by_key: HashMap<Key<'a>, &'a Value>,
    pub pods: Vec<PodTemplate<'a>>,
    /// Pod templates by (namespace, label, value): a selector starts from its rarest pair
    /// instead of every pod of the namespace.
    pods_by_label: HashMap<(&'a str, &'a str, &'a str), Vec<usize>>,
    coverage: &'a Coverage,
}

pub fn str_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    at(v, pointer).and_then(Value::as_str)
}

pub fn kind(v: &Value) -> &str {
    str_at(v, "/kind").unwrap_or("")
}

pub fn name(v: &Value) -> &str {
    str_at(v, "/metadata/name").unwrap_or("")
}

pub fn namespace(v: &Value) -> &str {
    str_at(v, "/metadata/namespace").unwrap_or("")
}

fn pod_spec_path(kind: &str) -> Option<(&'static str, &'static str)> {
    // (JSON pointer of the template, field path of its spec)
    match kind {
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => Some(("/spec/template", "spec.template.spec")),
        "CronJob" => Some((
            "/spec/jobTemplate/spec/template",
            "spec.jobTemplate.spec.template.spec",
        )),
        "Pod" => Some(("", "spec")),
        _ => None,
    }
}

/// The label for a live object in findings (it has no address).
pub fn live_label(v: &Value) -> String {
    format!("live {}/{}/{}", kind(v), namespace(v), name(v))
}

impl<'a> Index<'a> {
    pub fn build(input: &'a CheckInput) -> Index<'a> {
        let mut index = Index {
            planned: &input.planned,
            planned_by_key: HashMap::with_capacity(input.planned.len()),
            live_by_key: HashMap::with_capacity(input.live.len()),
            pods: Vec::new(),
            pods_by_label: HashMap::new(),
            coverage: &input.coverage,
        };
        for o in &input.planned {
            let v = &o.object;
            index
                .planned_by_key
                .insert((kind(v), namespace(v), name(v)), o);
            index.add_pods(v, Some(o));
        }
        for v in &input.live {
            let key = (kind(v), namespace(v), name(v));
            // The plan wins: a live object it replaces or deletes is not what will exist.
            if index.planned_by_key.contains_key(&key)
                || input.deleting.contains(&(
                    key.0.to_string(),
                    key.1.to_string(),
                    key.2.to_string(),
                ))
            {
                continue;
            }
            index.live_by_key.insert(key, v);
            index.add_pods(v, None);
        }
        index
    }

    fn add_pods(&mut self, v: &'a Value, planned: Option<&'a CheckObject>) {
        let Some((template, spec_path)) = pod_spec_path(kind(v)) else {
            return;
        };
        let Some(t) = at(v, template) else {
            return;
        };
        let Some(spec) = t.get("spec") else {
            return;
        };
        // A live Pod owned by a workload is that workload's: checking it again adds nothing.
        if planned.is_none()
            && kind(v) == "Pod"
            && at(v, "/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|o| !o.is_empty())
        {
            return;
        }
        let ns = namespace(v);
        let position = self.pods.len();
        let labels = at(t, "/metadata/labels").and_then(Value::as_object);
        for (k, value) in labels.into_iter().flatten() {
            if let Some(value) = value.as_str() {
                self.pods_by_label
                    .entry((ns, k, value))
                    .or_default()
                    .push(position);
            }
        }
        self.pods.push(PodTemplate {
            address: planned
                .map(|p| p.address.clone())
                .unwrap_or_else(|| live_label(v)),
            release: planned.and_then(|p| p.release.as_deref()),
            kind: kind(v),
            name: name(v),
            namespace: ns,
            spec_path,
            spec,
            labels: at(t, "/metadata/labels").and_then(Value::as_object),
            planned: planned.is_some(),
            containers: containers_of(spec, spec_path),
        });
    }

    /// An object by kind, namespace ("" for cluster-scoped) and name.
    pub fn find(&self, kind: &str, namespace: &str, name: &str) -> Found<'a> {
        let key = (kind, namespace, name);
        if let Some(o) = self.planned_by_key.get(&key) {
            return Found::Planned(o);
        }
        if let Some(v) = self.live_by_key.get(&key) {
            return Found::Live(v);
        }
        let covered = if namespace.is_empty() {
            kind == "StorageClass" && self.coverage.storage_classes
        } else {
            self.coverage.namespaces.contains(namespace)
        };
        if covered {
            Found::Absent
        } else {
            Found::Unknown
        }
    }

    pub fn covers_namespace(&self, namespace: &str) -> bool {
        self.coverage.namespaces.contains(namespace)
    }

    /// Pod templates of `namespace` whose labels include every pair of `selector`.
    pub fn selected(
        &self,
        namespace: &str,
        selector: &serde_json::Map<String, Value>,
    ) -> Vec<&PodTemplate<'a>> {
        let mut rarest: Option<&Vec<usize>> = None;
        for (k, v) in selector {
            let Some(v) = v.as_str() else {
                return Vec::new();
            };
            match self.pods_by_label.get(&(namespace, k.as_str(), v)) {
                None => return Vec::new(),
                Some(list) if rarest.is_none_or(|r| list.len() < r.len()) => rarest = Some(list),
                Some(_) => {}
            }
        }
        rarest
            .into_iter()
            .flatten()
            .map(|i| &self.pods[*i])
            .filter(|p| {
                p.labels
                    .is_some_and(|l| selector.iter().all(|(k, v)| l.get(k) == Some(v)))
            })
            .collect()
    }
}

/// JSON object as a map, or an empty one.
pub fn map_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v serde_json::Map<String, Value>> {
    at(v, pointer).and_then(Value::as_object)
}

pub fn array_at<'v>(v: &'v Value, key: &str) -> &'v [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}
