//! Kinds the plan itself brings: the custom resources of a CustomResourceDefinition declared in
//! the same plan (a chart shipping its CRDs with resources of them, or a release that
//! `depends_on` the release of the CRDs).
//!
//! The API server cannot dry-run a custom resource whose CRD it does not serve yet. As Flux's
//! `ApplyAllStaged` and Argo CD's `SkipDryRunOnMissingResource` do, such an object is planned
//! from its CRD: its scope decides whether it is namespaced, and the CRD's structural schema
//! gives what the server will store (defaults filled in, unknown fields pruned). Apply writes
//! the CRD, waits until it is `Established`, and only then writes the custom resources.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::model::address::Address;
use crate::model::desired::DesiredObject;

/// The custom resource kinds declared by CRDs among the desired objects, by
/// `(apiVersion, kind)` of every served version.
#[derive(Debug, Default, Clone)]
pub struct DeclaredKinds {
    kinds: BTreeMap<(String, String), DeclaredKind>,
    /// Kinds the cluster did not know while a release rendered, and no CRD rendered before it
    /// declared: taken as namespaced until every release is rendered (see [`Self::settle`]).
    unresolved: BTreeSet<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct DeclaredKind {
    /// The CRD's name (`plural.group`).
    pub crd: String,
    pub namespaced: bool,
    /// The version's `openAPIV3Schema`, if it has one.
    pub schema: Option<Value>,
}

impl DeclaredKinds {
    /// Adds the kinds a desired object declares, if it is a CRD (apiextensions.k8s.io/v1).
    pub fn add(&mut self, object: &Value) {
        if object.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition")
            || object.get("apiVersion").and_then(Value::as_str) != Some("apiextensions.k8s.io/v1")
        {
            return;
        }
        let spec = object.get("spec");
        let group = spec.and_then(|s| s.get("group")).and_then(Value::as_str);
        let kind = spec
            .and_then(|s| s.pointer("/names/kind"))
            .and_then(Value::as_str);
        let (Some(group), Some(kind)) = (group, kind) else {
            return;
        };
        let namespaced = spec
            .and_then(|s| s.get("scope"))
            .and_then(Value::as_str)
            .is_none_or(|s| s != "Cluster");
        let crd = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        for version in spec
            .and_then(|s| s.get("versions"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| v.get("served").and_then(Value::as_bool) != Some(false))
        {
            let Some(name) = version.get("name").and_then(Value::as_str) else {
                continue;
            };
            self.kinds.insert(
                (format!("{group}/{name}"), kind.to_string()),
                DeclaredKind {
                    crd: crd.clone(),
                    namespaced,
                    schema: version.pointer("/schema/openAPIV3Schema").cloned(),
                },
            );
        }
    }

    pub fn get(&self, api_version: &str, kind: &str) -> Option<&DeclaredKind> {
        self.kinds.get(&(api_version.to_string(), kind.to_string()))
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// Notes a kind the cluster does not serve and no CRD seen so far declares.
    pub fn unresolved(&mut self, api_version: &str, kind: &str) {
        self.unresolved
            .insert((api_version.to_string(), kind.to_string()));
    }

    /// Once every release is rendered: each object of a kind that was unresolved while it
    /// rendered takes its CRD's scope (a cluster-scoped custom resource loses the namespace it
    /// was given); a kind no CRD of the plan declares is one the cluster does not know.
    pub fn settle(
        &self,
        desired: &mut [DesiredObject],
    ) -> Result<(), crate::observe::ObserveError> {
        if self.unresolved.is_empty() {
            return Ok(());
        }
        for d in desired {
            let api_version = d
                .object
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let kind = crate::model::object::kind_of(&d.object).to_string();
            if !self
                .unresolved
                .contains(&(api_version.clone(), kind.clone()))
            {
                continue;
            }
            let Some(declared) = self.get(&api_version, &kind) else {
                return Err(crate::observe::ObserveError::UnknownKind { api_version, kind });
            };
            if declared.namespaced {
                continue;
            }
            if let Some(meta) = d.object.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("namespace");
            }
            if let Address::Object { namespace, .. } = &mut d.address {
                *namespace = None;
            }
        }
        Ok(())
    }
}

impl DeclaredKind {
    /// What the API server stores for `object` once the CRD is served: the schema's defaults
    /// filled in and fields the schema does not know pruned (structural schemas, as the
    /// apiextensions server does), `metadata`, `apiVersion` and `kind` kept as they are.
    pub fn stored_form(&self, object: &Value) -> Value {
        let mut out = object.clone();
        let (Some(schema), Some(fields)) = (&self.schema, out.as_object_mut()) else {
            return out;
        };
        let properties = schema.get("properties").and_then(Value::as_object);
        let keep_unknown = preserves_unknown(schema);
        fields.retain(|name, _| {
            matches!(name.as_str(), "apiVersion" | "kind" | "metadata")
                || keep_unknown
                || properties.is_some_and(|p| p.contains_key(name))
        });
        if let Some(properties) = properties {
            for (name, sub) in properties {
                if matches!(name.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                fill(fields, name, sub);
            }
        }
        out
    }
}

fn preserves_unknown(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
}

/// Sets `fields[name]` to its schema default when absent, then shapes what is there.
fn fill(fields: &mut Map<String, Value>, name: &str, schema: &Value) {
    if !fields.contains_key(name)
        && let Some(default) = schema.get("default")
    {
        fields.insert(name.to_string(), default.clone());
    }
    if let Some(value) = fields.get_mut(name) {
        shape(value, schema);
    }
}

/// Prunes and defaults `value` by `schema`, recursively.
fn shape(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            if !preserves_unknown(schema) && additional.is_none() {
                if let Some(properties) = properties {
                    fields.retain(|k, _| properties.contains_key(k));
                } else if schema.get("type").and_then(Value::as_str) == Some("object")
                    && schema.get("x-kubernetes-embedded-resource").is_none()
                    && schema.get("x-kubernetes-int-or-string").is_none()
                {
                    // An object with no properties and no additionalProperties keeps nothing.
                    fields.clear();
                }
            }
            if let Some(properties) = properties {
                for (name, sub) in properties {
                    fill(fields, name, sub);
                }
            }
            if let Some(additional) = additional {
                for v in fields.values_mut() {
                    shape(v, additional);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    shape(item, item_schema);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(scope: &str) -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "gadgets.example.test"},
            "spec": {
                "group": "example.test",
                "scope": scope,
                "names": {"plural": "gadgets", "kind": "Gadget"},
                "versions": [
                    {"name": "v1alpha1", "served": false, "storage": false},
                    {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {
                                "size": {"type": "integer", "default": 3},
                                "color": {"type": "string"},
                                "ports": {"type": "array", "items": {"type": "object", "properties": {
                                    "port": {"type": "integer"},
                                    "protocol": {"type": "string", "default": "TCP"}
                                }}},
                                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                            }}
                        }
                    }}}
                ]
            }
        })
    }

    #[test]
    fn a_crd_declares_its_served_versions_with_its_scope() {
        let mut kinds = DeclaredKinds::default();
        kinds.add(&crd("Namespaced"));
        let v1 = kinds.get("example.test/v1", "Gadget").unwrap();
        assert!(v1.namespaced);
        assert_eq!(v1.crd, "gadgets.example.test");
        assert!(
            kinds.get("example.test/v1alpha1", "Gadget").is_none(),
            "a version that is not served declares nothing"
        );
        let mut cluster = DeclaredKinds::default();
        cluster.add(&crd("Cluster"));
        assert!(!cluster.get("example.test/v1", "Gadget").unwrap().namespaced);
        let mut none = DeclaredKinds::default();
        none.add(&json!({"apiVersion": "v1", "kind": "ConfigMap"}));
        assert!(none.is_empty());
    }

    #[test]
    fn the_stored_form_has_the_schema_defaults_and_no_unknown_fields() {
        let mut kinds = DeclaredKinds::default();
        kinds.add(&crd("Namespaced"));
        let kind = kinds.get("example.test/v1", "Gadget").unwrap();
        let declared = json!({
            "apiVersion": "example.test/v1", "kind": "Gadget",
            "metadata": {"name": "one", "labels": {"a": "b"}},
            "spec": {
                "color": "red", "typo": 1,
                "ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "x": 1}],
                "labels": {"k": "v"},
                "free": {"anything": {"goes": true}}
            },
            "status": {"phase": "made up"}
        });
        assert_eq!(
            kind.stored_form(&declared),
            json!({
                "apiVersion": "example.test/v1", "kind": "Gadget",
                "metadata": {"name": "one", "labels": {"a": "b"}},
                "spec": {
                    "color": "red", "size": 3,
                    "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
                    "labels": {"k": "v"},
                    "free": {"anything": {"goes": true}}
                }
            })
        );
    }
}
