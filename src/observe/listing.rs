//! Whole-namespace listings for the plan-time checks: with every Secret, ConfigMap, Service,
//! ServiceAccount and workload of a namespace at hand, an object a pod names that is in neither
//! the plan nor the listing is proven not to exist (`checks::Coverage`).
//!
//! The kinds are built in, so they are listed through k8s-openapi's types: no discovery round
//! trip per kind (which cost more than the LISTs themselves in a measured cold run).

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::{ClusterClient, ObserveError, bump};

/// What [`ClusterClient::list_for_checks`] found, and what it proves.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<Value>,
    /// Namespaces every kind of which was listed: absence there is proof.
    pub complete_namespaces: Vec<String>,
    /// StorageClasses were listed.
    pub storage_classes: bool,
}

/// One LIST; `Ok(None)` when the credentials may not make it (RBAC).
async fn list<K>(
    client: &ClusterClient,
    api: Api<K>,
    what: &str,
) -> Result<Option<Vec<Value>>, ObserveError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    bump(&client.stats.lists);
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(Some(
            list.items
                .iter()
                .map(|o| serde_json::to_value(o).unwrap_or(Value::Null))
                .collect(),
        )),
        Err(e) => match client.classify(e, "list", what) {
            ObserveError::Forbidden { .. } => Ok(None),
            other => Err(other),
        },
    }
}

impl ClusterClient {
    /// Every Secret, ConfigMap, Service, ServiceAccount, Deployment, StatefulSet, DaemonSet,
    /// Job and CronJob of `namespaces`, and every StorageClass: one LIST each, all at once. A
    /// namespace that does not exist yet lists empty. A LIST the credentials may not make
    /// leaves its namespace unproven instead of failing the plan.
    pub async fn list_for_checks(&self, namespaces: &[String]) -> Result<Listing, ObserveError> {
        let c = self.client.clone();
        let per_namespace = namespaces.iter().map(|ns| {
            let c = c.clone();
            async move {
                let lists = futures::join!(
                    list(self, Api::<Secret>::namespaced(c.clone(), ns), "Secrets"),
                    list(
                        self,
                        Api::<ConfigMap>::namespaced(c.clone(), ns),
                        "ConfigMaps"
                    ),
                    list(self, Api::<Service>::namespaced(c.clone(), ns), "Services"),
                    list(
                        self,
                        Api::<ServiceAccount>::namespaced(c.clone(), ns),
                        "ServiceAccounts"
                    ),
                    list(
                        self,
                        Api::<Deployment>::namespaced(c.clone(), ns),
                        "Deployments"
                    ),
                    list(
                        self,
                        Api::<StatefulSet>::namespaced(c.clone(), ns),
                        "StatefulSets"
                    ),
                    list(
                        self,
                        Api::<DaemonSet>::namespaced(c.clone(), ns),
                        "DaemonSets"
                    ),
                    list(self, Api::<Job>::namespaced(c.clone(), ns), "Jobs"),
                    list(self, Api::<CronJob>::namespaced(c.clone(), ns), "CronJobs"),
                );
                let (a, b, c2, d, e, f, g, h, i) = lists;
                let all = [a?, b?, c2?, d?, e?, f?, g?, h?, i?];
                let complete = all.iter().all(Option::is_some);
                Ok::<_, ObserveError>((ns.clone(), complete, all.into_iter().flatten().flatten()))
            }
        });
        let (namespaced, classes) = futures::join!(
            futures::future::join_all(per_namespace),
            list(self, Api::<StorageClass>::all(c.clone()), "StorageClasses")
        );
        let mut listing = Listing::default();
        for result in namespaced {
            let (ns, complete, objects) = result?;
            listing.objects.extend(objects);
            if complete {
                listing.complete_namespaces.push(ns);
            }
        }
        if let Some(classes) = classes? {
            listing.objects.extend(classes);
            listing.storage_classes = true;
        }
        Ok(listing)
    }
}
