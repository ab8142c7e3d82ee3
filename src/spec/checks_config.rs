//! The `[checks]` section's vocabulary: which check ids exist (so todo.toml's `ignore` entries
//! are validated where they are written) and what an ignore rule silences. The checks themselves
//! live in `checks`, which reads these rules; the catalogue sits here so that loading todo.toml
//! needs nothing from the stages that run later.

/// Every check id, with what it finds (for `[checks] ignore` and docs/checks.md).
pub const CHECKS: &[(&str, &str)] = &[
    (
        "ref.secret",
        "a Secret named by env, envFrom or a volume exists",
    ),
    ("ref.secret-key", "a Secret key named by a pod exists"),
    (
        "ref.configmap",
        "a ConfigMap named by env, envFrom or a volume exists",
    ),
    ("ref.configmap-key", "a ConfigMap key named by a pod exists"),
    (
        "svc.selector",
        "a Service's selector matches the pods of a workload",
    ),
    (
        "svc.target-port",
        "a Service's targetPort is a port of the selected containers",
    ),
    (
        "ingress.backend",
        "an Ingress backend names an existing Service and port",
    ),
    ("hpa.target", "an HPA's scaleTargetRef exists"),
    (
        "hpa.requests",
        "containers scaled on CPU/memory utilization request it",
    ),
    ("probe.port", "a probe's port is declared by its container"),
    ("ref.service-account", "a pod's service account exists"),
    ("ref.pull-secret", "a pod's imagePullSecrets exist"),
    ("pvc.storage-class", "a claim's StorageClass exists"),
    ("sts.service-name", "a StatefulSet's serviceName exists"),
    (
        "image.pull-never",
        "imagePullPolicy Never only where images are loaded into the node",
    ),
    (
        "image.unknown",
        "an image is delivered by todoplan or served by its registry",
    ),
    (
        "value.placeholder",
        "no placeholder values in ConfigMaps, env or values",
    ),
    (
        "value.credential",
        "no literal credentials in ConfigMaps, env or values",
    ),
    (
        "smoke.service",
        "a release's smoke check names one of its Services and a port of it",
    ),
];

pub fn is_check_id(id: &str) -> bool {
    CHECKS.iter().any(|(known, _)| *known == id)
}

pub fn check_ids() -> impl Iterator<Item = &'static str> {
    CHECKS.iter().map(|(id, _)| *id)
}

/// `[checks] ignore` entry: a check id, optionally limited to one address (`*` at the end
/// matches a prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreRule {
    pub id: String,
    pub address: Option<String>,
    pub reason: Option<String>,
}

impl IgnoreRule {
    /// `svc.selector` or `svc.selector:release.x/v1/Service/todo/x` (`*` suffix for a prefix).
    pub fn parse(entry: &str) -> Result<IgnoreRule, String> {
        let (id, address) = match entry.split_once(':') {
            Some((id, address)) => (id, Some(address)),
            None => (entry, None),
        };
        if !is_check_id(id) {
            let ids: Vec<&str> = check_ids().collect();
            let hint = super::did_you_mean(id, ids.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(format!("`{id}` is not a check id{hint}"));
        }
        if let Some(a) = address {
            let bare = a.strip_suffix('*').unwrap_or(a);
            if bare.is_empty() {
                return Err(format!(
                    "`{entry}` has no address after `{id}:`; write `{id}` alone to silence it everywhere"
                ));
            }
            if !a.ends_with('*') && a.parse::<crate::model::address::Address>().is_err() {
                return Err(format!(
                    "`{a}` is not an address (e.g. `release.backend/v1/Service/todo/backend`, or a prefix ending in `*`)"
                ));
            }
        }
        Ok(IgnoreRule {
            id: id.to_string(),
            address: address.map(str::to_string),
            reason: None,
        })
    }

    /// Whether a finding of check `id` at `address` is silenced by this rule.
    pub fn matches(&self, id: &str, address: &str) -> bool {
        if self.id != id {
            return false;
        }
        match &self.address {
            None => true,
            Some(a) => match a.strip_suffix('*') {
                Some(prefix) => address.starts_with(prefix),
                None => a == address,
            },
        }
    }
}
