//! What a reviewer approved is exactly what gets applied, or nothing is.
//!
//! Apply never trusts a plan it did not just make: it plans again (with the options the approved
//! plan recorded) right before writing, and compares the new plan with the approved one, object by
//! object: the same addresses, the same actions, the same live object before (by content and
//! uid), the same object after. Any difference refuses the apply before the first write and names
//! what moved. The only value allowed to differ is an image reference the approved plan announced
//! as "known after apply": its tag gains the digest that was pushed.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{Action, ObjectChange, Plan};
use super::redact::SENSITIVE;

/// One reason the current plan is not the approved one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference(pub String);

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The differences as an indented list, one per line, for a refusal message.
pub fn as_list(differences: &[Difference]) -> String {
    differences.iter().map(|d| format!("\n  - {d}")).collect()
}

/// An image reference filled in after approval: `tagged` (as approved) became `pushed`
/// (`tagged@sha256:...`).
#[derive(Debug, Clone)]
pub struct FilledImage {
    pub tagged: String,
    pub pushed: String,
}

/// Differences between `approved` and `current`, at most `limit` of them (empty: identical).
pub fn differences(
    approved: &Plan,
    current: &Plan,
    filled: &[FilledImage],
    limit: usize,
) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut say = |s: String| out.push(Difference(s));
    if approved.project != current.project {
        say(format!(
            "project `{}` was approved, this is `{}`",
            approved.project, current.project
        ));
    }
    if approved.env != current.env {
        say(format!(
            "it was made for --env {}, this is --env {}",
            approved.env.as_deref().unwrap_or("(none)"),
            current.env.as_deref().unwrap_or("(none)")
        ));
    }
    if approved.context != current.context || approved.server != current.server {
        say(format!(
            "it was made against context {} ({}), this is {} ({})",
            approved.context.as_deref().unwrap_or("(none)"),
            approved.server.as_deref().unwrap_or("?"),
            current.context.as_deref().unwrap_or("(none)"),
            current.server.as_deref().unwrap_or("?"),
        ));
    }
    if approved.instance != current.instance {
        say(format!(
            "it was made for instance {}, this state is instance {}",
            approved.instance, current.instance
        ));
    }
    if approved.options != current.options {
        say(format!(
            "it was made with [{}], this run has [{}]",
            approved.options.as_flags().join(" "),
            current.options.as_flags().join(" ")
        ));
    }
    if approved.smoke_checks != current.smoke_checks {
        let list = |p: &Plan| {
            let items: Vec<String> = p
                .smoke_checks
                .iter()
                .map(|c| format!("release.{}: {}", c.release, c.describe()))
                .collect();
            if items.is_empty() {
                "none".to_string()
            } else {
                items.join("; ")
            }
        };
        say(format!(
            "the smoke checks changed: approved {}, now {}",
            list(approved),
            list(current)
        ));
    }
    if filled.is_empty() {
        let images = |p: &Plan| -> BTreeMap<String, (String, String)> {
            p.images
                .iter()
                .map(|i| {
                    (
                        i.address.clone(),
                        (format!("{:?}", i.action), i.reference.clone()),
                    )
                })
                .collect()
        };
        let (a, c) = (images(approved), images(current));
        for (address, then) in &a {
            match c.get(address) {
                None => say(format!("{address}: no longer planned")),
                Some(now) if now != then => say(format!(
                    "{address}: {} {} was approved, now {} {}",
                    then.0, then.1, now.0, now.1
                )),
                _ => {}
            }
        }
        for address in c.keys().filter(|k| !a.contains_key(*k)) {
            say(format!("{address}: not in the approved plan"));
        }
    }
    let objects = |p: &Plan| -> BTreeMap<String, ObjectChange> {
        p.objects
            .iter()
            .map(|o| (o.address.clone(), o.clone()))
            .collect()
    };
    let (a, c) = (objects(approved), objects(current));
    for (address, then) in &a {
        let Some(now) = c.get(address) else {
            say(format!(
                "{address}: the approved plan says it {}, the current plan does not list it",
                then.action.verb()
            ));
            continue;
        };
        if then.action != now.action {
            say(format!(
                "{address}: approved \"{}\", now it {}",
                then.action.verb(),
                now.action.verb()
            ));
            continue;
        }
        if then.adopt != now.adopt || then.orphan_dependents != now.orphan_dependents {
            say(format!("{address}: how it is applied changed"));
            continue;
        }
        if comparable(then.before.as_deref(), &[]) != comparable(now.before.as_deref(), &[]) {
            say(format!(
                "{address}: the live object changed since the plan was made"
            ));
            continue;
        }
        if comparable(then.after.as_deref(), &[]) != comparable(now.after.as_deref(), filled) {
            say(format!(
                "{address}: what would be written differs from the approved plan"
            ));
        }
    }
    for (address, now) in &c {
        if !a.contains_key(address) && now.action != Action::NoOp {
            say(format!(
                "{address}: not in the approved plan, now it {}",
                now.action.verb()
            ));
        }
    }
    out.truncate(limit);
    out
}

/// A value as compared: secret markers without their digests (a generated value is drawn again
/// by the apply-time plan; a sourced one is checked by digest separately), and pushed image
/// references read back as the tag that was approved.
fn comparable(value: Option<&Value>, filled: &[FilledImage]) -> Option<Value> {
    fn walk(v: &mut Value, filled: &[FilledImage]) {
        match v {
            Value::String(s) => {
                if s.starts_with("(sensitive value changed)") {
                    *s = "(sensitive value changed)".into();
                } else if s.starts_with(SENSITIVE) {
                    *s = SENSITIVE.into();
                } else if let Some(f) = filled.iter().find(|f| f.pushed == *s) {
                    *s = f.tagged.clone();
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, filled)),
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if k.starts_with("checksum.todoplan.dev/secret-") {
                        // A digest of secret values, generated ones included: drawn again at
                        // apply time. Whether it changes shows as the workload's action.
                        *v = Value::String("(checksum of secret values)".into());
                    } else {
                        walk(v, filled);
                    }
                }
            }
            _ => {}
        }
    }
    value.map(|v| {
        let mut v = v.clone();
        walk(&mut v, filled);
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::model::PlanOptions;
    use serde_json::json;

    fn change(address: &str, action: Action, after: Value) -> ObjectChange {
        ObjectChange {
            address: address.into(),
            release: "r".into(),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("todo".into()),
            name: "c".into(),
            action,
            reason: None,
            before: Some(json!({"data": {"a": "1"}}).into()),
            after: Some(after.into()),
            protected: false,
            adopt: false,
            orphan_dependents: false,
            migrate_from: Vec::new(),
            live_uid: None,
        }
    }

    fn plan(objects: Vec<ObjectChange>) -> Plan {
        let state = crate::state::State::new("todo");
        Plan {
            objects,
            ..Plan::against(&state, "todo", None)
        }
    }

    #[test]
    fn identical_plans_have_no_difference() {
        let a = plan(vec![change(
            "c",
            Action::Update,
            json!({"data": {"a": "2"}}),
        )]);
        let mut b = a.clone();
        b.created_at = chrono::Utc::now();
        assert!(differences(&a, &b, &[], 10).is_empty());
    }

    #[test]
    fn a_changed_action_value_or_option_is_a_difference() {
        let a = plan(vec![change(
            "c",
            Action::Update,
            json!({"data": {"a": "2"}}),
        )]);
        let mut b = plan(vec![change(
            "c",
            Action::Create,
            json!({"data": {"a": "2"}}),
        )]);
        b.instance = a.instance.clone();
        let d = differences(&a, &b, &[], 10);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].0.contains("approved \"will be updated in-place\""),
            "{d:?}"
        );

        let mut b = a.clone();
        b.objects[0].after = Some(json!({"data": {"a": "3"}}).into());
        assert_eq!(differences(&a, &b, &[], 10).len(), 1);

        let mut b = a.clone();
        b.options = PlanOptions {
            allow_data_loss: true,
            ..Default::default()
        };
        let d = differences(&a, &b, &[], 10);
        assert!(d[0].0.contains("--allow-data-loss"), "{d:?}");

        let mut b = a.clone();
        b.objects.push(change("d", Action::Create, json!({})));
        assert_eq!(differences(&a, &b, &[], 10).len(), 1);
    }

    #[test]
    fn only_an_announced_image_digest_may_be_filled_in() {
        let tagged = "127.0.0.1:5555/todo-backend:abc";
        let pushed = format!("{tagged}@sha256:{}", "0".repeat(64));
        let a = plan(vec![change("c", Action::Update, json!({"image": tagged}))]);
        let b = plan(vec![change("c", Action::Update, json!({"image": pushed}))]);
        let mut b = b;
        b.instance = a.instance.clone();
        let filled = [FilledImage {
            tagged: tagged.into(),
            pushed: pushed.clone(),
        }];
        assert!(differences(&a, &b, &filled, 10).is_empty());
        assert_eq!(differences(&a, &b, &[], 10).len(), 1);
        let other = [FilledImage {
            tagged: "elsewhere:abc".into(),
            pushed,
        }];
        assert_eq!(differences(&a, &b, &other, 10).len(), 1);
    }
}
