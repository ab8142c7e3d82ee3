//! The little of the registry HTTP API v2 that planning needs: does a tag exist, and what
//! digest does it name. Plain HTTP, for registries on loopback (the only ones Docker itself
//! talks to without TLS); others are asked through the engine (see `engine::status`).

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::ImageError;

/// Every manifest type a `docker push` may have stored; without them the registry converts
/// or refuses, and the digest would not be the one the engine pulls.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json";

const TIMEOUT: Duration = Duration::from_secs(10);

/// A manifest as stored: its digest (`sha256:...`) and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub digest: String,
    pub media_type: Option<String>,
    pub body: Vec<u8>,
}

/// Whether `address` (`host:port`) is a loopback registry, reachable over plain HTTP.
pub fn is_loopback(address: &str) -> bool {
    let host = match address.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => address.rsplit_once(':').map_or(address, |(host, _)| host),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The digest of `repository:reference` in the registry (HEAD, nothing downloaded), or
/// `None` when the registry does not have it.
pub async fn manifest_digest(
    address: &str,
    repository: &str,
    reference: &str,
) -> Result<Option<String>, ImageError> {
    Ok(request(Method::HEAD, address, repository, reference)
        .await?
        .map(|m| m.digest))
}

/// The manifest of `repository:reference` (a tag or a `sha256:` digest), or `None`.
pub async fn fetch_manifest(
    address: &str,
    repository: &str,
    reference: &str,
) -> Result<Option<Manifest>, ImageError> {
    request(Method::GET, address, repository, reference).await
}

async fn request(
    method: Method,
    address: &str,
    repository: &str,
    reference: &str,
) -> Result<Option<Manifest>, ImageError> {
    let fail = |message: String| ImageError::Registry {
        address: address.to_owned(),
        message,
    };
    let uri = format!("http://{address}/v2/{repository}/manifests/{reference}");
    let request = Request::builder()
        .method(method.clone())
        .uri(&uri)
        .header(ACCEPT, HeaderValue::from_static(MANIFEST_TYPES))
        .body(Empty::<Bytes>::new())
        .map_err(|e| fail(format!("bad request {uri}: {e}")))?;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = tokio::time::timeout(TIMEOUT, client.request(request))
        .await
        .map_err(|_| {
            fail(format!(
                "no answer within {}s to {method} {uri}",
                TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| fail(format!("{method} {uri}: {e}")))?;
    let status = response.status();
    if status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(fail(format!("{method} {uri} answered {status}")));
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let media_type = header("content-type");
    let digest = header("docker-content-digest")
        .ok_or_else(|| fail(format!("{method} {uri}: no Docker-Content-Digest header")))?;
    let body = tokio::time::timeout(TIMEOUT, response.into_body().collect())
        .await
        .map_err(|_| {
            fail(format!(
                "body of {uri} not received within {}s",
                TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| fail(format!("reading {uri}: {e}")))?
        .to_bytes()
        .to_vec();
    Ok(Some(Manifest {
        digest,
        media_type,
        body,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses() {
        for address in [
            "127.0.0.1:5555",
            "localhost:5000",
            "[::1]:5000",
            "127.0.0.2:80",
            "localhost",
        ] {
            assert!(is_loopback(address), "{address}");
        }
        for address in [
            "registry.example.com:5000",
            "10.0.0.1:5000",
            "[2001:db8::1]:5000",
            "ghcr.io",
        ] {
            assert!(!is_loopback(address), "{address}");
        }
    }

    #[tokio::test]
    async fn unreachable_registry_is_an_error_naming_it() {
        // Port 9 (discard) on loopback: nothing listens there in a test environment.
        let err = manifest_digest("127.0.0.1:9", "todo-backend", "abc")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
    }
}
