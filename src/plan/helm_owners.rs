//! A live Helm release that still owns objects a plan touches: helm's next upgrade would write
//! them back, so the plan says so and names the release.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{Action, ObjectChange};
use crate::model::object::Metadata;

/// One note per Helm release (name, namespace) owning objects the plan creates over, changes
/// or adopts; Secrets are redacted whole, so the other objects of the release speak for them.
pub fn notes(changes: &[ObjectChange]) -> Vec<String> {
    let mut owners: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for c in changes {
        if matches!(c.action, Action::Delete | Action::Forget) || c.kind == "Secret" {
            continue;
        }
        let Some(annotations) = c
            .before
            .as_ref()
            .and_then(|b| b.metadata_field("annotations"))
            .and_then(Value::as_object)
        else {
            continue;
        };
        let Some(release) = annotations
            .get("meta.helm.sh/release-name")
            .and_then(Value::as_str)
        else {
            continue;
        };
        let namespace = annotations
            .get("meta.helm.sh/release-namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        owners
            .entry((release.to_string(), namespace.to_string()))
            .or_default()
            .push(c.address.clone());
    }
    owners
        .into_iter()
        .map(|((release, namespace), addresses)| {
            format!(
                "Helm release {release} (namespace {namespace}) still owns {} object(s) this plan touches ({}): the next `helm upgrade` would write them back. Take it over with `todoplan import --from-helm {release} -n {namespace}`, or `helm uninstall {release} -n {namespace} --keep-history` after the apply",
                addresses.len(),
                addresses.join(", ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(address: &str, action: Action) -> ObjectChange {
        ObjectChange {
            address: address.into(),
            release: "web".into(),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("ns".into()),
            name: "a".into(),
            action,
            reason: None,
            before: None,
            after: None,
            protected: false,
            adopt: false,
            orphan_dependents: false,
            migrate_from: Vec::new(),
            live_uid: None,
        }
    }

    #[test]
    fn names_each_owning_release_once() {
        let mut a = change("release.web/v1/ConfigMap/ns/a", Action::Update);
        a.before = Some(
            serde_json::json!({"metadata": {"annotations": {
            "meta.helm.sh/release-name": "web", "meta.helm.sh/release-namespace": "ns"}}})
            .into(),
        );
        let mut b = a.clone();
        b.address = "release.web/v1/Service/ns/b".into();
        let plain = change("release.web/v1/Service/ns/c", Action::NoOp);
        let mut secret = a.clone();
        secret.kind = "Secret".into();
        let notes = notes(&[a, b, plain, secret]);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("Helm release web (namespace ns) still owns 2 object(s)"));
        assert!(notes[0].contains("todoplan import --from-helm web -n ns"));
    }
}
