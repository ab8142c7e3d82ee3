//! Helm hooks (`helm.sh/hook` annotations) as todoplan applies them: install and upgrade hooks
//! are objects of their release applied in their phase, `pre-*` before the release's other
//! objects (and waited for: a Job until it completes), `post-*` after them, each phase ordered
//! by `helm.sh/hook-weight` (then kind, as helm sorts). Like every object, a hook is applied when
//! its rendered form changes, so an unchanged hook does not run again (helm runs upgrade hooks on
//! every upgrade). `test` hooks are never applied, nor delete and rollback hooks. The executor
//! honours `helm.sh/hook-delete-policy` (`hook-succeeded`, `hook-failed`) and records a hook it
//! deleted so, so the planner neither reports it as drift nor creates it again unchanged.

use serde_json::Value;

/// One object's hook annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// `pre-install`, `post-upgrade`, `test`, ... as written (trimmed), in order.
    pub phases: Vec<String>,
    /// `helm.sh/hook-weight` (helm reads it with strconv.Atoi; anything else is 0).
    pub weight: i64,
    /// `helm.sh/hook-delete-policy` entries.
    pub delete_policies: Vec<String>,
}

/// Where an object runs relative to its release's other objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Pre,
    Main,
    Post,
}

impl Hook {
    /// The hook annotations of a rendered object, if it is a hook.
    pub fn of(object: &Value) -> Option<Hook> {
        let annotations = object.get("metadata")?.get("annotations")?;
        let list = |key: &str| -> Vec<String> {
            annotations
                .get(key)
                .and_then(Value::as_str)
                .map(|s| {
                    s.split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let phases = list("helm.sh/hook");
        if phases.is_empty() {
            return None;
        }
        let weight = annotations
            .get("helm.sh/hook-weight")
            .and_then(Value::as_str)
            .and_then(|w| w.trim().parse::<i64>().ok())
            .unwrap_or(0);
        Some(Hook {
            phases,
            weight,
            delete_policies: list("helm.sh/hook-delete-policy"),
        })
    }

    /// The stage this hook is applied in, or None when apply never applies it (test, delete and
    /// rollback hooks).
    pub fn stage(&self) -> Option<Stage> {
        let has = |names: [&str; 2]| self.phases.iter().any(|p| names.contains(&p.as_str()));
        if has(["pre-install", "pre-upgrade"]) {
            Some(Stage::Pre)
        } else if has(["post-install", "post-upgrade"]) {
            Some(Stage::Post)
        } else {
            None
        }
    }

    /// How a plan names the hook: `pre-install,pre-upgrade (weight -5)`.
    pub fn describe(&self) -> String {
        let mut s = self.phases.join(",");
        if self.weight != 0 {
            s.push_str(&format!(" (weight {})", self.weight));
        }
        s
    }
}

/// Apply order of an object in its release: stage, then hook weight (0 for plain objects).
pub fn order_key(object: &Value) -> (Stage, i64) {
    match Hook::of(object).and_then(|h| Some((h.stage()?, h.weight))) {
        Some(k) => k,
        None => (Stage::Main, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(annotations: Value) -> Value {
        json!({"kind": "Job", "metadata": {"name": "x", "annotations": annotations}})
    }

    #[test]
    fn phases_weights_and_policies_are_read_as_helm_writes_them() {
        let h = Hook::of(&obj(json!({
            "helm.sh/hook": "pre-install, pre-upgrade",
            "helm.sh/hook-weight": "-5",
            "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"
        })))
        .unwrap();
        assert_eq!(h.phases, ["pre-install", "pre-upgrade"]);
        assert_eq!(h.weight, -5);
        assert_eq!(
            h.delete_policies,
            ["before-hook-creation", "hook-succeeded"]
        );
        assert_eq!(h.describe(), "pre-install,pre-upgrade (weight -5)");
        assert_eq!(h.stage(), Some(Stage::Pre));
        assert!(Hook::of(&obj(json!({"a": "b"}))).is_none());
        let odd = Hook::of(&obj(
            json!({"helm.sh/hook": "post-install", "helm.sh/hook-weight": "x"}),
        ))
        .unwrap();
        assert_eq!(odd.weight, 0);
    }

    #[test]
    fn only_install_and_upgrade_hooks_are_applied_each_in_its_phase() {
        let stage = |phases: &str| {
            Hook::of(&obj(json!({"helm.sh/hook": phases})))
                .unwrap()
                .stage()
        };
        assert_eq!(stage("post-install"), Some(Stage::Post));
        assert_eq!(stage("pre-upgrade"), Some(Stage::Pre));
        assert_eq!(stage("post-upgrade,pre-install"), Some(Stage::Pre));
        assert_eq!(stage("test"), None);
        assert_eq!(stage("test-success"), None);
        assert_eq!(stage("pre-delete,post-rollback"), None);
        assert_eq!(
            order_key(&obj(
                json!({"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "3"})
            )),
            (Stage::Pre, 3)
        );
        assert_eq!(order_key(&json!({"kind": "Service"})), (Stage::Main, 0));
    }
}
