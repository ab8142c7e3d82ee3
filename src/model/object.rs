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
