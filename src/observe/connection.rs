//! The connection for requests that answer at once (reads, dry-runs, writes): HTTP/2 when the
//! API server offers it (ALPN), so the requests a plan keeps in flight share one connection and
//! one TLS handshake. kube's own connector offers HTTP/1.1 only, which opens a connection (and a
//! handshake) per request in flight. Watches keep kube's default client: a long-lived stream
//! gains nothing from sharing.
//!
//! The stack is kube's own (`ClientBuilder::try_from`) with the connector swapped: the base URI,
//! kube's retry of throttled and unavailable answers, authentication and extra headers, in that
//! order. Instead of a read timeout on the socket (which would cut an idle shared connection),
//! every request has a deadline for its answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::client::ConfigExt;
use tower::ServiceBuilder;

/// A client that speaks HTTP/2 to an `https://` API server that offers it, and HTTP/1.1
/// otherwise. Proxies, plain `http://` servers and a fixed TLS server name are left to kube's
/// own stack. Every TCP connection it opens is counted in `connections` (kube's own stack does not
/// say, so it leaves `connections` at `None`).
pub fn multiplexed_client(
    config: kube::Config,
    answer_deadline: Duration,
) -> Result<(kube::Client, Option<Arc<AtomicUsize>>), kube::Error> {
    if config.proxy_url.is_some()
        || config.tls_server_name.is_some()
        || config.cluster_url.scheme_str() != Some("https")
    {
        let mut config = config;
        config.read_timeout = Some(answer_deadline);
        config.write_timeout = Some(answer_deadline);
        return Ok((kube::Client::try_from(config)?, None));
    }
    let connections = Arc::new(AtomicUsize::new(0));
    let opened = connections.clone();
    let count = move |uri: http::Uri| {
        opened.fetch_add(1, Ordering::Relaxed);
        uri
    };
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(config.connect_timeout);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.rustls_client_config()?)
        .https_only()
        .enable_all_versions()
        .wrap_connector(ServiceBuilder::new().map_request(count).service(tcp));
    let hyper_client: hyper_util::client::legacy::Client<_, kube::client::Body> =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(https);
    let retry = config
        .default_retry
        .then(|| tower::retry::RetryLayer::new(kube::client::retry::RetryPolicy::server_retry()));
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(retry)
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .layer(tower::timeout::TimeoutLayer::new(answer_deadline))
        .map_err(tower::BoxError::from)
        .service(hyper_client);
    Ok((
        kube::Client::new(service, config.default_namespace),
        Some(connections),
    ))
}
