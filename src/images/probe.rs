//! Asking registries whether they can serve the images a plan's pods name (a HEAD on each
//! manifest), for the `image.unknown` check. Only loopback registries are asked: they are the
//! ones reachable over plain HTTP without credentials (the local test registry); any other
//! image is left unjudged rather than guessed about.

use std::collections::{BTreeMap, BTreeSet};

/// What a registry said about one image reference (a HEAD on its manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryAnswer {
    Found,
    Missing,
    /// Not asked (offline) or could not be reached: the image is not judged.
    Unreachable(String),
}

/// `host:port/repo/name:tag` → (registry address, repository, tag or digest). None for images
/// on the default registry (no host part).
pub fn split_reference(image: &str) -> Option<(&str, &str, &str)> {
    let (host, rest) = image.split_once('/')?;
    let is_host = host.contains('.') || host.contains(':') || host == "localhost";
    if !is_host {
        return None;
    }
    if let Some((repository, digest)) = rest.split_once('@') {
        return Some((host, repository, digest));
    }
    match rest.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => Some((host, repository, tag)),
        _ => Some((host, rest, "latest")),
    }
}

/// What the registry of each image says; images of registries not asked are `Unreachable`
/// with the reason, so the checks skip them.
pub async fn probe(images: &BTreeSet<String>) -> BTreeMap<String, RegistryAnswer> {
    let asks = images.iter().map(|image| async move {
        let answer = match split_reference(image) {
            Some((address, repository, reference)) if super::registry::is_loopback(address) => {
                match super::registry::manifest_digest(address, repository, reference).await {
                    Ok(Some(_)) => RegistryAnswer::Found,
                    Ok(None) => RegistryAnswer::Missing,
                    Err(e) => RegistryAnswer::Unreachable(e.to_string()),
                }
            }
            _ => RegistryAnswer::Unreachable(
                "not a loopback registry: not asked (it may need credentials or TLS)".into(),
            ),
        };
        (image.clone(), answer)
    });
    futures::future::join_all(asks).await.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::split_reference;

    #[test]
    fn references_split_into_registry_repository_and_reference() {
        assert_eq!(
            split_reference("127.0.0.1:5555/todo/backend:abc"),
            Some(("127.0.0.1:5555", "todo/backend", "abc"))
        );
        assert_eq!(
            split_reference("localhost/x@sha256:00"),
            Some(("localhost", "x", "sha256:00"))
        );
        assert_eq!(
            split_reference("registry.invalid/acme/api"),
            Some(("registry.invalid", "acme/api", "latest"))
        );
        assert_eq!(split_reference("postgres:16.4-alpine"), None);
        assert_eq!(split_reference("bitnami/postgresql:16"), None);
    }
}
