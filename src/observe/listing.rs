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

/// Tells a listing which live objects it need not keep, by kind, namespace ("" when
/// cluster-scoped) and name: those the plan declares, which the checks read from the plan.
pub type Skip<'a> = &'a (dyn Fn(&str, &str, &str) -> bool + Sync);

/// One LIST; `Ok(None)` when the credentials may not make it (RBAC).
async fn list<K>(
    client: &ClusterClient,
    api: Api<K>,
    what: &str,
    skip: Skip<'_>,
) -> Result<Option<Vec<Value>>, ObserveError>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    bump(&client.stats.lists);
    match api.list(&ListParams::default()).await {
        Ok(list) => {
            let kind = K::kind(&());
            Ok(Some(
                list.items
                    .into_iter()
                    .filter(|o| {
                        let meta = o.meta();
                        !skip(
                            &kind,
                            meta.namespace.as_deref().unwrap_or(""),
                            meta.name.as_deref().unwrap_or(""),
                        )
                    })
                    .map(|o| serde_json::to_value(o).unwrap_or(Value::Null))
                    .collect(),
            ))
        }
        Err(e) => match client.classify(e, "list", what) {
            ObserveError::Forbidden { .. } => Ok(None),
            other => Err(other),
        },
    }
}

impl ClusterClient {
    /// Every Secret, ConfigMap, Service, ServiceAccount, Deployment, StatefulSet, DaemonSet,
    /// Job and CronJob of `namespaces`, and every StorageClass when `storage_classes`: one LIST
    /// each, all at once. A namespace that does not exist yet lists empty. A LIST the
    /// credentials may not make leaves its namespace unproven instead of failing the plan.
    /// Objects `skip` names are not kept (nor converted).
    pub async fn list_for_checks(
        &self,
        namespaces: &[String],
        storage_classes: bool,
        skip: Skip<'_>,
    ) -> Result<Listing, ObserveError> {
        let c = self.client.clone();
        let per_namespace = namespaces.iter().map(|ns| {
            let c = c.clone();
            async move {
                let lists = futures::join!(
                    list(
                        self,
                        Api::<Secret>::namespaced(c.clone(), ns),
                        "Secrets",
                        skip
                    ),
                    list(
                        self,
                        Api::<ConfigMap>::namespaced(c.clone(), ns),
                        "ConfigMaps",
                        skip
                    ),
                    list(
                        self,
                        Api::<Service>::namespaced(c.clone(), ns),
                        "Services",
                        skip
                    ),
                    list(
                        self,
                        Api::<ServiceAccount>::namespaced(c.clone(), ns),
                        "ServiceAccounts",
                        skip
                    ),
                    list(
                        self,
                        Api::<Deployment>::namespaced(c.clone(), ns),
                        "Deployments",
                        skip
                    ),
                    list(
                        self,
                        Api::<StatefulSet>::namespaced(c.clone(), ns),
                        "StatefulSets",
                        skip
                    ),
                    list(
                        self,
                        Api::<DaemonSet>::namespaced(c.clone(), ns),
                        "DaemonSets",
                        skip
                    ),
                    list(self, Api::<Job>::namespaced(c.clone(), ns), "Jobs", skip),
                    list(
                        self,
                        Api::<CronJob>::namespaced(c.clone(), ns),
                        "CronJobs",
                        skip
                    ),
                );
                let (a, b, c2, d, e, f, g, h, i) = lists;
                let all = [a?, b?, c2?, d?, e?, f?, g?, h?, i?];
                let complete = all.iter().all(Option::is_some);
                Ok::<_, ObserveError>((ns.clone(), complete, all.into_iter().flatten().flatten()))
            }
        });
        let (namespaced, classes) =
            futures::join!(futures::future::join_all(per_namespace), async {
                if storage_classes {
                    list(
                        self,
                        Api::<StorageClass>::all(c.clone()),
                        "StorageClasses",
                        skip,
                    )
                    .await
                } else {
                    Ok(None)
                }
            });
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
