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

use std::pin::Pin;
use std::task::{Context, Poll};

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
        .map_response(move |response: http::Response<hyper::body::Incoming>| {
            for warning in response.headers().get_all(http::header::WARNING) {
                if let Ok(text) = warning.to_str() {
                    super::warnings::record(text);
                }
            }
            response.map(|body| DeadlineBody::new(body, answer_deadline))
        })
        .service(hyper_client);
    Ok((
        kube::Client::new(service, config.default_namespace),
        Some(connections),
    ))
}

/// An answer's body that fails when no part of it arrives for `deadline`. The request deadline
/// ends when the answer's headers arrive; without this, a body whose data never comes (a
/// connection whose flow control stalled) would be waited for forever, with no timer left to
/// end the wait.
pub struct DeadlineBody<B> {
    inner: B,
    deadline: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl<B> DeadlineBody<B> {
    pub fn new(inner: B, deadline: Duration) -> Self {
        DeadlineBody {
            inner,
            deadline,
            timer: Box::pin(tokio::time::sleep(deadline)),
        }
    }
}

/// The error of a body that stopped arriving.
#[derive(Debug)]
pub struct BodyStalled(Duration);

impl std::fmt::Display for BodyStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the API server sent the answer's headers, then no data for {:?}",
            self.0
        )
    }
}

impl std::error::Error for BodyStalled {}

impl<B> http_body::Body for DeadlineBody<B>
where
    B: http_body::Body + Unpin,
    B::Error: Into<tower::BoxError>,
{
    type Data = B::Data;
    type Error = tower::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = tokio::time::Instant::now() + this.deadline;
                this.timer.as_mut().reset(next);
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyStalled(this.deadline))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// A body whose data never comes.
    struct Silent;

    impl http_body::Body for Silent {
        type Data = bytes::Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn a_body_that_stops_arriving_fails_after_the_deadline() {
        let body = DeadlineBody::new(Silent, Duration::from_millis(200));
        let error = body.collect().await.expect_err("a stalled body fails");
        assert!(error.to_string().contains("then no data for"), "{error}");
    }

    #[tokio::test]
    async fn a_body_that_arrives_is_read_whole() {
        let body = DeadlineBody::new(
            http_body_util::Full::new(bytes::Bytes::from_static(b"answer")),
            Duration::from_secs(30),
        );
        assert_eq!(&body.collect().await.unwrap().to_bytes()[..], b"answer");
    }
}
