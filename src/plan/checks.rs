//! The checks pass of a plan: gathers what `crate::checks` needs from the cluster (whole
//! namespaces, registry answers) and runs it. `checks::run` itself does no I/O.

use serde_json::Value;

use super::desired::DesiredObject;
use crate::checks::{self, Finding, ImageFacts};
use crate::observe::{ClusterClient, LiveIndex, ObjectKey};
use crate::spec::Spec;

/// Findings for `desired`. With a cluster, the namespaces involved are listed whole (so a
/// missing object is proven missing) and loopback registries are asked about images todoplan
/// does not build; offline, only what the plan contradicts itself is an error.
/// `images`: (name, reference) of each image todoplan delivers, as passed to the releases;
/// `deleting`: the live objects this plan deletes.
pub async fn run<'a>(
    spec: &Spec,
    desired: &[DesiredObject],
    live: &LiveIndex,
    deleting: impl IntoIterator<Item = ObjectKey>,
    cluster: Option<&ClusterClient>,
    images: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> miette::Result<Vec<Finding>> {
    let mut input = checks::from_desired(spec, desired, live);
    input.delete(deleting);
    let (delivery, _) =
        crate::plan::images::choose_delivery(spec, cluster.map(|c| c.context.as_str()));
    input.images = ImageFacts::delivered(&delivery, images);
    if let Some(c) = cluster {
        let namespaces: Vec<String> = desired
            .iter()
            .filter_map(|d| {
                d.object
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let undelivered = input.undelivered_images();
        let (listing, answers) = futures::join!(
            c.list_for_checks(&namespaces),
            crate::images::probe::probe(&undelivered)
        );
        input.cover(listing?);
        input.images.registry = answers;
    }
    Ok(checks::run(&input))
}
