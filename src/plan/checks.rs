//! The checks pass of a plan: gathers what `crate::checks` needs from the cluster (whole
//! namespaces, registry answers) and runs it. `checks::run` itself does no I/O.

use super::desired::DesiredObject;
use crate::checks::{self, Finding, ImageFacts};
use crate::observe::{ClusterClient, LiveIndex, ObjectKey};
use crate::spec::Spec;

/// Findings for `desired`. With a cluster, the namespaces where the checks look objects up are
/// listed whole (so a missing object is proven missing) and loopback registries are asked about images todoplan
/// does not build; offline, only what the plan contradicts itself is an error.
/// `images`: (name, reference) of each image todoplan delivers, as passed to the releases;
/// `deleting`: the live objects this plan deletes.
pub async fn run<'a>(
    spec: &Spec,
    desired: &mut [DesiredObject],
    live: &LiveIndex,
    deleting: impl IntoIterator<Item = ObjectKey>,
    cluster: Option<&ClusterClient>,
    images: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> miette::Result<Vec<Finding>> {
    // The checks read the desired objects themselves, lent for the pass, not a copy of them.
    let mut input = checks::from_desired_lent(spec, desired, live);
    input.delete(deleting);
    let (delivery, _) =
        crate::plan::images::choose_delivery(spec, cluster.map(|c| c.context.as_str()));
    input.images = ImageFacts::delivered(&delivery, images);
    if let Some(c) = cluster {
        // Only namespaces where a planned object looks something up are listed: a plan of
        // ConfigMaps alone sends no LIST here. Planned objects are dropped as they arrive (the
        // plan wins over them), so a listing never holds a second copy of them.
        let lookups = input.lookups();
        let namespaces: Vec<String> = lookups.namespaces.into_iter().collect();
        let lists = !namespaces.is_empty() || lookups.storage_classes;
        // The planned objects' keys, only when there is a listing to skip them in.
        let planned = lists.then(|| input.planned_keys());
        let skip = |kind: &str, ns: &str, name: &str| {
            planned.as_ref().is_some_and(|p| p.contains(kind, ns, name))
        };
        let undelivered = input.undelivered_images();
        let (listing, answers) = futures::join!(
            async {
                if !lists {
                    Ok(crate::observe::Listing::default())
                } else {
                    c.list_for_checks(&namespaces, lookups.storage_classes, &skip)
                        .await
                }
            },
            crate::images::probe::probe(&undelivered)
        );
        match listing {
            Ok(listing) => input.cover(listing),
            Err(e) => {
                input.give_back(desired);
                return Err(e.into());
            }
        }
        input.images.registry = answers;
    }
    let findings = checks::run(&input);
    input.give_back(desired);
    Ok(findings)
}
