//! Images in the plan: which need a build or push, and the reference releases will use.

use std::collections::BTreeMap;

use super::compute::ImageRef;
use super::model::{ImageAction, ImageChange};
use crate::images::{self, ContextDigest, Delivery, ImageBuild, ImageStatus};
use crate::spec::Spec;
use crate::state::{ImageRecord, State};

/// One image's plan: what to do at apply and the reference to render with.
#[derive(Debug, Clone)]
pub struct ImagePlan {
    pub name: String,
    pub build: ImageBuild,
    pub digest: ContextDigest,
    pub local_tag: String,
    pub status: ImageStatus,
}

/// The delivery todo.toml asks for, or the one detected from the context name (Skaffold's
/// rules), with a note saying which and why.
pub fn choose_delivery(spec: &Spec, context_name: Option<&str>) -> (Delivery, String) {
    use crate::spec::Delivery as D;
    let registry = || {
        spec.cluster
            .registry
            .clone()
            .unwrap_or_else(|| "127.0.0.1:5555".into())
    };
    match spec.cluster.delivery {
        Some(D::Registry) => (Delivery::Registry { address: registry() }, format!("images are delivered by pushing to the registry {} ([cluster].delivery)", registry())),
        Some(D::Minikube) => (Delivery::Minikube, "images are built in minikube's Docker ([cluster].delivery)".into()),
        Some(D::Kind) => {
            let cluster = context_name.and_then(|c| c.strip_prefix("kind-")).unwrap_or("kind").to_string();
            (Delivery::Kind { cluster: cluster.clone() }, format!("images are loaded into kind cluster {cluster} ([cluster].delivery)"))
        }
        Some(D::None) => (Delivery::None, "images are used from the local engine, which the cluster shares ([cluster].delivery)".into()),
        None => match context_name.and_then(images::detect_delivery) {
            Some(d) => {
                let note = format!("image delivery {d:?} detected from the context name {}", context_name.unwrap_or_default());
                (d, note)
            }
            None => match &spec.cluster.registry {
                Some(r) => (Delivery::Registry { address: r.clone() }, format!("images are pushed to {r} (from [cluster].registry; context {} is not a local cluster)", context_name.unwrap_or("?"))),
                None => (Delivery::None, "no registry configured and the context is not minikube/kind: images are used from the local engine".into()),
            },
        },
    }
}

/// Why no delivery can be chosen for a cluster: todo.toml names none, no registry, and the
/// context is not one whose nodes share or load the local engine's images (minikube, kind,
/// Docker Desktop, …). Guessing would plan images the nodes cannot pull (ImagePullBackOff).
pub fn undecided_delivery(spec: &Spec, context_name: &str) -> Option<miette::Report> {
    if spec.images.is_empty()
        || spec.cluster.delivery.is_some()
        || spec.cluster.registry.is_some()
        || images::detect_delivery(context_name).is_some()
    {
        return None;
    }
    Some(miette::miette!(
        code = "todoplan::images::no_delivery",
        help = "set how images reach the cluster in todo.toml's [cluster]: `registry = \"HOST:PORT\"` (pushed there, pulled by the nodes), `delivery = \"kind\"` or `\"minikube\"`, or `delivery = \"none\"` when the nodes use this machine's Docker engine (Docker Desktop)",
        "todo.toml declares {} image(s) but says nothing about how they reach context {context_name}, which is not a local cluster todoplan recognises: the nodes could not pull them",
        spec.images.len()
    ))
}

fn build_of(spec: &Spec, name: &str) -> Option<ImageBuild> {
    let i = spec.images.get(name)?;
    Some(ImageBuild {
        project: spec.project.name.clone(),
        name: name.to_string(),
        context: i.context.clone(),
        dockerfile: i.dockerfile.clone(),
        build_args: i.build_args.clone(),
        target: i.target.clone(),
        platform: i.platform.clone(),
    })
}

/// Plans every image. `docker`: None plans against state/ only (offline).
pub async fn plan_images(
    spec: &Spec,
    state: &State,
    docker: Option<&bollard::Docker>,
    delivery: &Delivery,
) -> miette::Result<Vec<ImagePlan>> {
    let mut out = Vec::new();
    for name in spec.images.keys() {
        let Some(build) = build_of(spec, name) else {
            continue;
        };
        let digest = images::context_digest(&build)?;
        let local_tag = images::tag_for(&build, &digest);
        let previous = state.images.get(name);
        let previous_digest: Option<ContextDigest> = previous.map(|p| p.context.clone());
        let status = match docker {
            Some(d) => {
                images::status(d, &build, &digest, delivery, previous_digest.as_ref()).await?
            }
            None => match previous {
                Some(p) if p.context.digest == digest.digest => ImageStatus::UpToDate {
                    reference: p.reference.clone().unwrap_or_else(|| p.local_tag.clone()),
                },
                Some(p) => ImageStatus::BuildNeeded {
                    reason: "the build context changed since the last apply".into(),
                    changed_files: digest.changed_files(&p.context),
                },
                None => ImageStatus::BuildNeeded {
                    reason: "never built by todoplan".into(),
                    changed_files: vec![],
                },
            },
        };
        out.push(ImagePlan {
            name: name.clone(),
            build,
            digest,
            local_tag,
            status,
        });
    }
    Ok(out)
}

/// The references releases render with, and the plan lines for images.
pub fn references(
    plans: &[ImagePlan],
    delivery: &Delivery,
) -> (BTreeMap<String, ImageRef>, Vec<ImageChange>) {
    let mut refs = BTreeMap::new();
    let mut changes = Vec::new();
    for p in plans {
        let (repository, tag) = p
            .local_tag
            .rsplit_once(':')
            .map(|(r, t)| (r.to_string(), t.to_string()))
            .unwrap_or((p.local_tag.clone(), String::new()));
        let registry_repo = match delivery {
            Delivery::Registry { address } => format!("{address}/{repository}"),
            _ => repository.clone(),
        };
        let (reference, known) = match (&p.status, delivery) {
            (ImageStatus::UpToDate { reference }, _) => (reference.clone(), true),
            // Content-addressed tags are known before the build when nothing is pushed.
            (_, Delivery::Registry { .. }) => (format!("{registry_repo}:{tag}"), false),
            _ => (p.local_tag.clone(), true),
        };
        let (action, reason, files) = match &p.status {
            ImageStatus::UpToDate { .. } => {
                (ImageAction::UpToDate, "up to date".to_string(), vec![])
            }
            ImageStatus::BuildNeeded {
                reason,
                changed_files,
            } => (ImageAction::Build, reason.clone(), changed_files.clone()),
            ImageStatus::PushNeeded { .. } => (
                ImageAction::Push,
                "built locally but not in the registry".to_string(),
                vec![],
            ),
        };
        changes.push(ImageChange {
            address: format!("image.{}", p.name),
            action,
            reason,
            changed_files: files,
            reference: if known {
                reference.clone()
            } else {
                format!("{reference} (digest known after apply)")
            },
        });
        refs.insert(
            p.name.clone(),
            ImageRef {
                reference,
                repository: registry_repo,
                tag,
                known,
            },
        );
    }
    (refs, changes)
}

/// Builds and delivers what the plan says; records each image in state. Independent images
/// build concurrently.
pub async fn deliver(
    docker: &bollard::Docker,
    plans: &[ImagePlan],
    delivery: &Delivery,
    state: &mut State,
    progress: &crate::model::progress::Progress,
) -> miette::Result<()> {
    let work = plans.iter().map(|p| async move {
        let node = progress.start(&format!("image.{}", p.name), "checking");
        let result: miette::Result<String> = async {
            if matches!(p.status, ImageStatus::BuildNeeded { .. }) {
                node.update("building");
                let mut last = String::new();
                images::build(docker, &p.build, &p.digest, &mut |line: &str| {
                    last = line.to_string();
                })
                .await?;
            }
            match (&p.status, delivery) {
                (ImageStatus::UpToDate { reference }, _) => Ok(reference.clone()),
                (_, Delivery::Registry { address }) => {
                    node.update("pushing");
                    Ok(images::push(docker, &p.local_tag, address).await?)
                }
                (_, Delivery::Kind { cluster }) => {
                    node.update(&format!("loading into kind cluster {cluster}"));
                    images::kind_load(&p.local_tag, cluster).await?;
                    Ok(p.local_tag.clone())
                }
                _ => Ok(p.local_tag.clone()),
            }
        }
        .await;
        match &result {
            Ok(r) => node.finish(true, r),
            Err(_) => node.finish(false, "failed"),
        }
        (p, result)
    });
    let results = futures::future::join_all(work).await;
    let mut first_error = None;
    for (p, r) in results {
        match r {
            Ok(reference) => {
                state.images.insert(
                    p.name.clone(),
                    ImageRecord {
                        context: p.digest.clone(),
                        local_tag: p.local_tag.clone(),
                        reference: Some(reference),
                    },
                );
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
