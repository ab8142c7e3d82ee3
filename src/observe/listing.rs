//! Whole-namespace listings for the plan-time checks: with every Secret, ConfigMap, Service,
//! ServiceAccount and workload of a namespace at hand, an object a pod names that is in neither
//! the plan nor the listing is proven not to exist (`checks::Coverage`).

use serde_json::Value;

use super::{ClusterClient, ObserveError};

/// (apiVersion, kind) listed per namespace.
pub const NAMESPACED_KINDS: [(&str, &str); 9] = [
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
];

/// What [`ClusterClient::list_for_checks`] found, and what it proves.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<Value>,
    /// Namespaces every kind of which was listed: absence there is proof.
    pub complete_namespaces: Vec<String>,
    /// StorageClasses were listed.
    pub storage_classes: bool,
}

impl ClusterClient {
    /// Every object of [`NAMESPACED_KINDS`] in `namespaces` and every StorageClass, listed
    /// concurrently (one LIST each). A namespace that does not exist yet lists empty. A LIST
    /// the credentials may not make (RBAC) leaves its namespace unproven instead of failing.
    pub async fn list_for_checks(&self, namespaces: &[String]) -> Result<Listing, ObserveError> {
        let mut lists = Vec::new();
        for ns in namespaces {
            for (api_version, kind) in NAMESPACED_KINDS {
                lists.push(self.list_labelled(api_version, kind, Some(ns.as_str()), ""));
            }
        }
        lists.push(self.list_labelled("storage.k8s.io/v1", "StorageClass", None, ""));
        let mut results = futures::future::join_all(lists).await.into_iter();
        let mut listing = Listing::default();
        let take = |r: Result<Vec<Value>, ObserveError>, objects: &mut Vec<Value>| match r {
            Ok(items) => {
                objects.extend(items);
                Ok(true)
            }
            Err(ObserveError::Forbidden { .. } | ObserveError::UnknownKind { .. }) => Ok(false),
            Err(e) => Err(e),
        };
        for ns in namespaces {
            let mut complete = true;
            for _ in NAMESPACED_KINDS {
                if let Some(r) = results.next() {
                    complete &= take(r, &mut listing.objects)?;
                }
            }
            if complete {
                listing.complete_namespaces.push(ns.clone());
            }
        }
        if let Some(r) = results.next() {
            listing.storage_classes = take(r, &mut listing.objects)?;
        }
        Ok(listing)
    }
}
