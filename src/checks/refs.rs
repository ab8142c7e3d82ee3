//! `ref.secret`, `ref.secret-key`, `ref.configmap`, `ref.configmap-key`: every Secret and
//! ConfigMap a pod reads (env, envFrom, volumes, projected volumes) will exist, with the keys it
//! names, unless the reference is `optional: true`.

use serde_json::Value;

use super::index::{Found, Index, PodTemplate, array_at, at, str_at};
use super::{Severity, Sink};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Secret,
    ConfigMap,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Secret => "Secret",
            Kind::ConfigMap => "ConfigMap",
        }
    }

    fn ids(self) -> (&'static str, &'static str) {
        match self {
            Kind::Secret => ("ref.secret", "ref.secret-key"),
            Kind::ConfigMap => ("ref.configmap", "ref.configmap-key"),
        }
    }

    fn key_fields(self) -> [&'static str; 2] {
        match self {
            Kind::Secret => ["data", "stringData"],
            Kind::ConfigMap => ["data", "binaryData"],
        }
    }
}

/// One reference: the object, the keys it needs (empty for envFrom and whole volumes).
struct Reference<'v> {
    kind: Kind,
    name: &'v str,
    /// (key, field path of the key).
    keys: Vec<(&'v str, String)>,
    /// Field path of the name.
    field: String,
}

fn optional(v: &Value) -> bool {
    v.get("optional").and_then(Value::as_bool).unwrap_or(false)
}

fn references<'v>(pod: &PodTemplate<'v>) -> Vec<Reference<'v>> {
    let mut out = Vec::new();
    for (path, c) in pod.containers() {
        for (i, e) in array_at(c, "env").iter().enumerate() {
            for (field, kind) in [
                ("secretKeyRef", Kind::Secret),
                ("configMapKeyRef", Kind::ConfigMap),
            ] {
                let Some(r) = at(e, &format!("/valueFrom/{field}")) else {
                    continue;
                };
                let (Some(name), Some(key)) = (str_at(r, "/name"), str_at(r, "/key")) else {
                    continue;
                };
                if optional(r) {
                    continue;
                }
                let base = format!("{path}.env[{i}].valueFrom.{field}");
                out.push(Reference {
                    kind,
                    name,
                    keys: vec![(key, format!("{base}.key"))],
                    field: format!("{base}.name"),
                });
            }
        }
        for (i, e) in array_at(c, "envFrom").iter().enumerate() {
            for (field, kind) in [
                ("secretRef", Kind::Secret),
                ("configMapRef", Kind::ConfigMap),
            ] {
                let Some(r) = e.get(field) else { continue };
                let Some(name) = str_at(r, "/name") else {
                    continue;
                };
                if !optional(r) {
                    out.push(Reference {
                        kind,
                        name,
                        keys: Vec::new(),
                        field: format!("{path}.envFrom[{i}].{field}.name"),
                    });
                }
            }
        }
    }
    let items = |v: &'v Value, base: &str| -> Vec<(&'v str, String)> {
        array_at(v, "items")
            .iter()
            .enumerate()
            .filter_map(|(j, item)| {
                str_at(item, "/key").map(|k| (k, format!("{base}.items[{j}].key")))
            })
            .collect()
    };
    for (i, vol) in array_at(pod.spec, "volumes").iter().enumerate() {
        let base = format!("{}.volumes[{i}]", pod.spec_path);
        if let Some(s) = vol.get("secret")
            && let Some(name) = str_at(s, "/secretName")
            && !optional(s)
        {
            out.push(Reference {
                kind: Kind::Secret,
                name,
                keys: items(s, &format!("{base}.secret")),
                field: format!("{base}.secret.secretName"),
            });
        }
        if let Some(s) = vol.get("configMap")
            && let Some(name) = str_at(s, "/name")
            && !optional(s)
        {
            out.push(Reference {
                kind: Kind::ConfigMap,
                name,
                keys: items(s, &format!("{base}.configMap")),
                field: format!("{base}.configMap.name"),
            });
        }
        for (j, source) in at(vol, "/projected/sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            for (field, kind) in [("secret", Kind::Secret), ("configMap", Kind::ConfigMap)] {
                let Some(s) = source.get(field) else { continue };
                let Some(name) = str_at(s, "/name") else {
                    continue;
                };
                if optional(s) {
                    continue;
                }
                let inner = format!("{base}.projected.sources[{j}].{field}");
                out.push(Reference {
                    kind,
                    name,
                    keys: items(s, &inner),
                    field: format!("{inner}.name"),
                });
            }
        }
    }
    out
}

fn has_key(object: &Value, kind: Kind, key: &str) -> bool {
    kind.key_fields()
        .iter()
        .any(|f| object.get(*f).and_then(|d| d.get(key)).is_some())
}

fn key_list(object: &Value, kind: Kind) -> String {
    let mut keys: Vec<&str> = kind
        .key_fields()
        .iter()
        .filter_map(|f| object.get(*f).and_then(Value::as_object))
        .flat_map(|m| m.keys().map(String::as_str))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        "it has no keys".to_string()
    } else {
        format!("its keys: {}", keys.join(", "))
    }
}

pub(crate) fn check(index: &Index<'_>, sink: &mut Sink<'_>) {
    for pod in index.pods.iter().filter(|p| p.planned) {
        for r in references(pod) {
            let (missing_id, key_id) = r.kind.ids();
            let found = index.find(r.kind.name(), pod.namespace, r.name);
            match found {
                Found::Unknown => {}
                Found::Absent => sink.push_located(
                    missing_id,
                    Severity::Error,
                    &pod.address,
                    pod.release,
                    r.field.clone(),
                    format!(
                        "{} `{}` does not exist in namespace `{}` and this plan does not create it",
                        r.kind.name(),
                        r.name,
                        pod.namespace
                    ),
                    "",
                    Some(r.name),
                ),
                Found::Planned(_) | Found::Live(_) => {
                    let Some(object) = found.object() else {
                        continue;
                    };
                    // Its keys are filled in by the token controller after it is created.
                    if str_at(object, "/type") == Some("kubernetes.io/service-account-token") {
                        continue;
                    }
                    for (key, field) in &r.keys {
                        if has_key(object, r.kind, key) {
                            continue;
                        }
                        let message = format!(
                            "{} `{}` ({}) has no key `{key}`; {}",
                            r.kind.name(),
                            r.name,
                            found.origin(),
                            key_list(object, r.kind)
                        );
                        // The fix is where the Secret's keys are declared when todo.toml
                        // declares them; otherwise where the key name was set.
                        match found {
                            Found::Planned(o) if o.release.is_none() => {
                                // Either side may be the typo: say where the key is named too.
                                let named = sink
                                    .sources
                                    .locate(pod.release, "", Some(key))
                                    .map(|at| format!(" (`{key}` is named at {at})"))
                                    .unwrap_or_default();
                                let message = format!("{message}{named}");
                                sink.findings.push(super::Finding {
                                    id: key_id.to_string(),
                                    severity: Severity::Error,
                                    address: pod.address.clone(),
                                    field: field.clone(),
                                    message,
                                    source: o.origin_source.clone(),
                                })
                            }
                            _ => sink.push_located(
                                key_id,
                                Severity::Error,
                                &pod.address,
                                pod.release,
                                field.clone(),
                                message,
                                "",
                                Some(key),
                            ),
                        }
                    }
                }
            }
        }
    }
}
