//! End-to-end: against the real cluster and registry, a namespace listed whole proves what is
//! missing from it, and the registry answers for images todoplan does not build. Read-only:
//! nothing is created.
#![cfg(feature = "e2e")]

use crate::support;

use std::time::Instant;

use serde_json::json;
use todoplan::checks::{self, CheckInput, CheckObject, RegistryAnswer, Severity};
use todoplan::observe::ClusterClient;

/// A namespace no test creates: it lists empty, so every name looked up there is missing.
const ABSENT_NAMESPACE: &str = "todoplan-checks-e2e-absent";

#[tokio::test(flavor = "multi_thread")]
async fn a_listed_namespace_proves_absence_and_the_registry_answers_for_images() {
    support::require_cluster();
    let registry = support::registry();
    let cluster = ClusterClient::connect(None).await.unwrap();

    let started = Instant::now();
    let listing = cluster
        .list_for_checks(
            &[ABSENT_NAMESPACE.to_string()],
            true,
            &|_: &str, _: &str, _: &str| false,
        )
        .await
        .unwrap();
    let listed_in = started.elapsed();
    // Again, on open connections (as in a plan, which has made requests before).
    let started = Instant::now();
    let again = cluster
        .list_for_checks(
            &[ABSENT_NAMESPACE.to_string()],
            true,
            &|_: &str, _: &str, _: &str| false,
        )
        .await
        .unwrap();
    let listed_warm_in = started.elapsed();
    assert_eq!(again.objects.len(), listing.objects.len());
    assert_eq!(listing.complete_namespaces, vec![ABSENT_NAMESPACE]);
    assert!(listing.storage_classes);
    assert!(
        listing
            .objects
            .iter()
            .any(|o| o["kind"] == "StorageClass" && o["metadata"]["name"] == "standard"),
        "the test cluster's default StorageClass is listed"
    );

    let image = format!("{registry}/todoplan-checks-e2e/absent:1");
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": ABSENT_NAMESPACE},
        "spec": {"template": {"metadata": {"labels": {"app": "api"}}, "spec": {
            "containers": [{"name": "api", "image": image,
                            "envFrom": [{"secretRef": {"name": "api-secrets"}}]}]}}}});
    let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": ABSENT_NAMESPACE},
        "spec": {"storageClassName": "standard", "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}}});
    let planned = [deployment, claim]
        .into_iter()
        .map(|object| CheckObject {
            address: format!(
                "release.e2e/{}/{}",
                object["kind"].as_str().unwrap(),
                object["metadata"]["name"].as_str().unwrap()
            ),
            object,
            release: Some("e2e".into()),
            origin: "release.e2e".into(),
            origin_source: None,
        })
        .collect();
    let mut input = CheckInput {
        planned,
        ..Default::default()
    };
    input.cover(listing);
    let started = Instant::now();
    input.images.registry = todoplan::images::probe::probe(&input.undelivered_images()).await;
    let probed_in = started.elapsed();
    assert_eq!(input.images.registry[&image], RegistryAnswer::Missing);

    let found = checks::run(&input);
    let ids: Vec<(&str, Severity)> = found.iter().map(|f| (f.id.as_str(), f.severity)).collect();
    assert_eq!(
        ids,
        vec![
            ("ref.secret", Severity::Error),
            ("image.unknown", Severity::Error)
        ],
        "the claim's class `standard` exists, the Secret and the image do not: {found:#?}"
    );
    eprintln!(
        "list_for_checks (10 LISTs): {listed_in:?} first (new connections), {listed_warm_in:?} again; registry probe (1 HEAD): {probed_in:?}"
    );
}

/// The pass `plan` runs (`plan::checks::run`), with the cluster: the seeds' missing
/// JWT_SECRET_KEY is an error, and the namespace (absent from the cluster) is listed whole.
#[tokio::test(flavor = "multi_thread")]
async fn the_plan_pass_finds_the_seeds_missing_key_with_the_cluster_read() {
    support::require_cluster();
    let cluster = ClusterClient::connect(None).await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/checks/ref-secret-key");
    let spec = todoplan::spec::load(&dir.join("todo.toml"), None).unwrap();
    let graph = todoplan::graph::DependencyGraph::build(&spec).unwrap();
    let (mut desired, delivered) = todoplan::ops::validate::offline_desired(&spec, &graph)
        .await
        .unwrap();
    let found = todoplan::plan::checks::run(
        &spec,
        &mut desired,
        &todoplan::observe::LiveIndex::default(),
        [],
        Some(&cluster),
        delivered.iter().map(|(n, r)| (n.as_str(), r.as_str())),
    )
    .await
    .unwrap();
    let ids: Vec<(&str, &str)> = found
        .iter()
        .map(|f| (f.id.as_str(), f.field.as_str()))
        .collect();
    assert_eq!(
        ids,
        vec![(
            "ref.secret-key",
            "spec.template.spec.containers[0].env[1].valueFrom.secretKeyRef.key"
        )],
        "{found:#?}"
    );
}
