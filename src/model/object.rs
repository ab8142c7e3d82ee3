//! Reading the identity of a Kubernetes object held as JSON.

use serde_json::Value;

pub fn api_version_of(object: &Value) -> &str {
    object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn kind_of(object: &Value) -> &str {
    object.get("kind").and_then(Value::as_str).unwrap_or("")
}

// These run several times per object on every plan.
pub fn name_of(object: &Value) -> &str {
    metadata_str(object, "name").unwrap_or("")
}

pub fn namespace_of(object: &Value) -> Option<&str> {
    metadata_str(object, "namespace")
}

fn metadata_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.metadata_field(field)?.as_str()
}

/// A field of an object's `metadata` (`uid`, `labels`, …), read without serde_json's
/// `pointer`, which allocates a string per path segment.
pub trait Metadata {
    fn metadata_field(&self, field: &str) -> Option<&Value>;
}

impl Metadata for Value {
    fn metadata_field(&self, field: &str) -> Option<&Value> {
        self.get("metadata")?.get(field)
    }
}

/// Identity of one object in the cluster.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ObjectKey {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    pub fn of(object: &Value) -> Self {
        ObjectKey {
            api_version: api_version_of(object).to_string(),
            kind: kind_of(object).to_string(),
            namespace: namespace_of(object).map(str::to_string),
            name: name_of(object).to_string(),
        }
    }

    pub fn gvk(&self) -> kube::core::GroupVersionKind {
        let (group, version) = match self.api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", self.api_version.as_str()),
        };
        kube::core::GroupVersionKind::gvk(group, version, &self.kind)
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {} {ns}/{}", self.api_version, self.kind, self.name),
            None => write!(f, "{} {} {}", self.api_version, self.kind, self.name),
        }
    }
}
