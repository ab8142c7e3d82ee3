//! `image.pull-never`, `image.unknown`: every image can reach the node (the seeds'
//! ImagePullBackOff and ErrImageNeverPull).

use serde_json::Value;

use super::index::Index;
use super::{DeliveredImage, ImageDelivery, ImageFacts, RegistryAnswer, Severity, Sink};

/// `host:5000/a/b:tag@sha256:..` → `host:5000/a/b`.
pub fn repository_of(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rfind(':') {
        Some(colon) if !no_digest[colon..].contains('/') => &no_digest[..colon],
        _ => no_digest,
    }
}

fn delivered_by<'f>(facts: &'f ImageFacts, image: &str) -> Option<&'f DeliveredImage> {
    let repo = repository_of(image);
    facts.delivered.iter().find(|d| d.repository == repo)
}

/// A declared image this reference seems meant to be (`todo-backend:latest` for
/// `[images.backend]` of project `todo`): the seeds' hand-loaded images.
fn looks_like<'f>(facts: &'f ImageFacts, image: &str) -> Option<&'f DeliveredImage> {
    let repo = repository_of(image);
    let last = repo.rsplit('/').next().unwrap_or(repo);
    facts.delivered.iter().find(|d| {
        let path: Vec<&str> = d.repository.split('/').skip(1).collect();
        last == d.name
            || d.repository.rsplit('/').next() == Some(last)
            || (!path.is_empty() && last == path.join("-"))
    })
}

pub(crate) fn check(index: &Index<'_>, facts: &ImageFacts, sink: &mut Sink<'_>) {
    for pod in index.pods.iter().filter(|p| p.planned) {
        for (path, c) in pod.containers() {
            let Some(image) = c.get("image").and_then(Value::as_str) else {
                continue;
            };
            let never = c.get("imagePullPolicy").and_then(Value::as_str) == Some("Never");
            let delivered = delivered_by(facts, image);
            if never {
                let (severity, why) = match (delivered.is_some(), facts.delivery) {
                    (true, ImageDelivery::NodeLoad) => (None, ""),
                    (true, _) => (
                        Some(Severity::Error),
                        "todoplan pushes it to a registry, and Never forbids the node to pull it (ErrImageNeverPull)",
                    ),
                    (false, ImageDelivery::Registry) => (
                        Some(Severity::Error),
                        "nothing loads it onto the node, and Never forbids pulling it (ErrImageNeverPull)",
                    ),
                    (false, _) => (
                        Some(Severity::Warning),
                        "todoplan does not load it onto the node; the pod starts only if someone did by hand",
                    ),
                };
                if let Some(severity) = severity {
                    sink.push_located(
                        "image.pull-never",
                        severity,
                        &pod.address,
                        pod.release,
                        format!("{path}.imagePullPolicy"),
                        format!("imagePullPolicy is Never: {why}; use IfNotPresent"),
                        "pullPolicy",
                        Some("Never"),
                    );
                }
            }
            if delivered.is_some() {
                continue;
            }
            match facts.registry.get(image) {
                Some(RegistryAnswer::Missing) => sink.push_located(
                    "image.unknown",
                    Severity::Error,
                    &pod.address,
                    pod.release,
                    format!("{path}.image"),
                    format!(
                        "image `{image}` is not one todoplan builds, and its registry has no such manifest (ImagePullBackOff)"
                    ),
                    "image",
                    Some(image),
                ),
                Some(RegistryAnswer::Found) => {}
                Some(RegistryAnswer::Unreachable(_)) | None => {
                    if let Some(meant) = looks_like(facts, image) {
                        sink.push_located(
                            "image.unknown",
                            Severity::Warning,
                            &pod.address,
                            pod.release,
                            format!("{path}.image"),
                            format!(
                                "image `{image}` looks like image.{} but is not the reference todoplan delivers; pass `${{images.{}.ref}}` in the release's values",
                                meant.name, meant.name
                            ),
                            "image",
                            Some(image),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::repository_of;

    #[test]
    fn repository_drops_tag_and_digest_but_not_a_registry_port() {
        assert_eq!(repository_of("postgres:16.4-alpine"), "postgres");
        assert_eq!(
            repository_of("127.0.0.1:5555/todo/backend@sha256:abc"),
            "127.0.0.1:5555/todo/backend"
        );
        assert_eq!(
            repository_of("127.0.0.1:5555/todo/backend:v1"),
            "127.0.0.1:5555/todo/backend"
        );
        assert_eq!(repository_of("127.0.0.1:5555/x"), "127.0.0.1:5555/x");
    }
}
