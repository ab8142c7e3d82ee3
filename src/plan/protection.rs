//! The protection gate: the one place that decides whether a plan may destroy data.
//!
//! Every destructive action of every plan passes it: the delete of a prune or a destroy, the
//! delete half of a replace (forced with `--replace` or caused by an immutable field), and the
//! deletes of a rollback or an `--atomic` undo, which are plans too. Objects that hold data are
//! PersistentVolumeClaims, CustomResourceDefinitions (deleting one deletes every custom resource
//! of its kind, declared or not) and every object of a `protect = true` release; without
//! `--allow-data-loss` the gate turns their delete or replace into `Refused`, which the plan
//! shows and the executor never carries out. The executor asks the gate again before it sends
//! any delete ([`permits`]), with the options recorded in the plan, so no flag given later can
//! widen what a reviewer approved.

use super::model::{Action, ObjectChange, PlanOptions};

/// Whether deleting an object of this kind (or of a `protect = true` release) loses data.
pub fn holds_data(kind: &str, protect: bool) -> bool {
    protect || kind == "PersistentVolumeClaim" || kind == "CustomResourceDefinition"
}

/// Passes `change` through the gate: a destructive action on a data-holding object becomes
/// `Refused` (with the reason) unless the plan allows data loss. A replace that orphans its
/// dependents (a StatefulSet keeps its pods and claims) deletes no data and passes.
pub fn gate(change: &mut ObjectChange, options: &PlanOptions) {
    if !change.protected || options.allow_data_loss || !change.action.deletes() {
        return;
    }
    if change.action == Action::Replace && change.orphan_dependents {
        return;
    }
    let what = if change.kind == "PersistentVolumeClaim" {
        "a PersistentVolumeClaim (its volume holds data)"
    } else if change.kind == "CustomResourceDefinition" {
        "a CustomResourceDefinition (deleting it deletes every custom resource of its kind)"
    } else if change.address.starts_with("secret.") {
        "a Secret holding generated values (todoplan keeps no copy of them: deleted, they are gone)"
    } else if change.address.starts_with("namespace.") {
        "a namespace (deleting it deletes every claim and object in it)"
    } else if !change.release.is_empty() {
        "an object of a `protect = true` release"
    } else {
        "an object this state never recorded"
    };
    let consequence = match change.action {
        Action::Replace => format!(
            "replacing it would delete it and create it again ({})",
            change.reason.as_deref().unwrap_or("replace requested")
        ),
        _ => "it is no longer declared, and deleting it would lose its data".to_string(),
    };
    change.reason = Some(format!(
        "{} is {what}: {consequence}; nothing is changed. Pass --allow-data-loss to allow it",
        change.address
    ));
    change.action = Action::Refused;
}

/// Refuses a namespace delete while the namespace holds objects the plan keeps: deleting a
/// namespace deletes everything in it, so it may only go when everything in it goes too.
/// `kept`: labels of the objects in it that this plan does not delete.
pub fn gate_namespace(change: &mut ObjectChange, kept: &[String]) {
    if change.action != Action::Delete || kept.is_empty() {
        return;
    }
    change.reason = Some(format!(
        "namespace {} holds {} object(s) this plan does not delete ({}); deleting the namespace would delete them too, so it is kept",
        change.name,
        kept.len(),
        first_few(kept)
    ));
    change.action = Action::Refused;
}

/// The first five of `labels`, and how many more there are.
pub fn first_few(labels: &[String]) -> String {
    let shown: Vec<&str> = labels.iter().take(5).map(String::as_str).collect();
    let more = if labels.len() > shown.len() {
        format!(" and {} more", labels.len() - shown.len())
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(", "))
}

/// What deleting namespace `ns` would take with it: the objects in it (`contents`) that are not
/// `deleted` by the plan, apart from what the cluster makes in every namespace (already left out
/// of `contents`) and the local state's digest key, which goes with its namespace.
pub fn namespace_leftovers(
    contents: &[crate::observe::ObjectKey],
    deleted: &std::collections::BTreeSet<crate::observe::ObjectKey>,
) -> Vec<String> {
    contents
        .iter()
        .filter(|k| !deleted.contains(*k))
        // The local state's digest key (see ops::digest_key) goes with its namespace.
        .filter(|k| {
            !(k.kind == "Secret"
                && k.name
                    .starts_with(crate::model::object::DIGEST_KEY_SECRET_PREFIX))
        })
        .map(|k| k.to_string())
        .collect()
}

/// The executor's check before it sends a delete: the same rule, with the plan's own options.
pub fn permits(change: &ObjectChange, options: &PlanOptions) -> Result<(), String> {
    let mut probe = change.clone();
    gate(&mut probe, options);
    if probe.action == Action::Refused && change.action != Action::Refused {
        return Err(probe.reason.unwrap_or_default());
    }
    if change.action == Action::Refused {
        return Err(format!(
            "{} is refused by the protection gate and is never carried out",
            change.address
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(kind: &str, action: Action, protected: bool) -> ObjectChange {
        ObjectChange {
            address: format!("release.db/v1/{kind}/todo/x"),
            release: "db".into(),
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some("todo".into()),
            name: "x".into(),
            action,
            reason: Some("spec.accessModes changed".into()),
            before: None,
            after: None,
            protected,
            adopt: false,
            orphan_dependents: false,
            migrate_from: Vec::new(),
            live_uid: None,
        }
    }

    #[test]
    fn every_destructive_action_on_data_is_refused_without_the_flag() {
        for action in [Action::Delete, Action::Replace] {
            let mut c = change("PersistentVolumeClaim", action, true);
            gate(&mut c, &PlanOptions::default());
            assert_eq!(c.action, Action::Refused, "{action:?}");
            assert!(c.reason.unwrap().contains("--allow-data-loss"));
        }
    }

    #[test]
    fn the_refusal_names_the_real_reason() {
        for (address, release, kind, says) in [
            ("secret.app", "", "Secret", "generated values"),
            ("namespace.todo", "", "Namespace", "a namespace"),
            (
                "release.db/v1/ConfigMap/todo/x",
                "db",
                "ConfigMap",
                "`protect = true` release",
            ),
            (
                "release.db/v1/PersistentVolumeClaim/todo/x",
                "db",
                "PersistentVolumeClaim",
                "PersistentVolumeClaim",
            ),
        ] {
            let mut c = change(kind, Action::Delete, true);
            c.address = address.into();
            c.release = release.into();
            gate(&mut c, &PlanOptions::default());
            let reason = c.reason.unwrap();
            assert!(reason.contains(says), "{address}: {reason}");
        }
    }

    #[test]
    fn the_flag_lets_it_through_and_unprotected_objects_pass() {
        let mut c = change("PersistentVolumeClaim", Action::Replace, true);
        let allow = PlanOptions {
            allow_data_loss: true,
            ..Default::default()
        };
        gate(&mut c, &allow);
        assert_eq!(c.action, Action::Replace);
        let mut c = change("ConfigMap", Action::Delete, false);
        gate(&mut c, &PlanOptions::default());
        assert_eq!(c.action, Action::Delete);
    }

    #[test]
    fn an_orphaning_replace_keeps_data_and_passes() {
        let mut c = change("StatefulSet", Action::Replace, true);
        c.orphan_dependents = true;
        gate(&mut c, &PlanOptions::default());
        assert_eq!(c.action, Action::Replace);
    }

    #[test]
    fn the_executor_check_uses_the_plans_options_not_later_flags() {
        let c = change("PersistentVolumeClaim", Action::Delete, true);
        assert!(permits(&c, &PlanOptions::default()).is_err());
        let refused = change("PersistentVolumeClaim", Action::Refused, true);
        let allow = PlanOptions {
            allow_data_loss: true,
            ..Default::default()
        };
        assert!(
            permits(&refused, &allow).is_err(),
            "a refused action stays refused whatever the flags"
        );
    }

    #[test]
    fn a_namespace_with_kept_objects_is_not_deleted() {
        let mut ns = change("Namespace", Action::Delete, false);
        gate_namespace(&mut ns, &["v1 ConfigMap todo/foreign".into()]);
        assert_eq!(ns.action, Action::Refused);
        assert!(ns.reason.unwrap().contains("ConfigMap todo/foreign"));
    }
}
