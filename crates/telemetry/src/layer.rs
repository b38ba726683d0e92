//! Tower layers that give every request a span and carry W3C trace context across the
//! hop: [`ServerTraceLayer`] for tonic servers and hyper services, [`ClientTraceLayer`]
//! for `tonic::transport::Channel` and hyper-util clients.
//!
//! Spans follow the OpenTelemetry semantic conventions where that is cheap:
//! `grpc.server`/`grpc.client` spans carry `rpc.system`, `rpc.service`, `rpc.method` and
//! `rpc.grpc.status_code`; `http.server`/`http.client` spans carry
//! `http.request.method`, `url.path` (server) or `url.full` (client) and
//! `http.response.status_code`. A span lasts until the response body is finished, so a
//! streaming call's span covers the whole stream, and gRPC status from trailers is seen.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http_body::{Body, Frame, SizeHint};
use tower::{Layer, Service};
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::propagation::{inject_context_from, set_remote_parent};

/// Which protocol's span names and attributes a layer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Grpc,
    Http,
}

/// Which end of the call a span describes; decides what counts as an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    Client,
}

/// Server-side layer: extracts `traceparent` from each request, opens a `grpc.server`
/// or `http.server` span that is a child of the remote context (a new trace when there
/// is none or it is malformed), and runs the inner service inside it.
///
/// tonic: `Server::builder().layer(ServerTraceLayer::grpc()).add_service(..)`.
/// hyper: wrap a tower service, `TowerToHyperService::new(ServerTraceLayer::http().layer(svc))`.
#[derive(Debug, Clone, Copy)]
pub struct ServerTraceLayer {
    protocol: Protocol,
}

impl ServerTraceLayer {
    /// Spans named `grpc.server`, with the RPC's service and method.
    pub fn grpc() -> Self {
        ServerTraceLayer {
            protocol: Protocol::Grpc,
        }
    }

    /// Spans named `http.server`, with the request's method and path.
    pub fn http() -> Self {
        ServerTraceLayer {
            protocol: Protocol::Http,
        }
    }
}

impl<S> Layer<S> for ServerTraceLayer {
    type Service = ServerTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerTrace {
            inner,
            protocol: self.protocol,
        }
    }
}

/// The service [`ServerTraceLayer`] makes.
#[derive(Debug, Clone)]
pub struct ServerTrace<S> {
    inner: S,
    protocol: Protocol,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for ServerTrace<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = TracedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let span = match self.protocol {
            Protocol::Grpc => {
                let (service, method) = grpc_names(request.uri().path());
                tracing::info_span!(
                    "grpc.server",
                    otel.kind = "server",
                    rpc.system = "grpc",
                    rpc.service = service,
                    rpc.method = method,
                    rpc.grpc.status_code = Empty,
                    otel.status_code = Empty,
                )
            }
            Protocol::Http => tracing::info_span!(
                "http.server",
                otel.kind = "server",
                http.request.method = %request.method(),
                url.path = request.uri().path(),
                http.response.status_code = Empty,
                otel.status_code = Empty,
            ),
        };
        set_remote_parent(&span, request.headers());
        let inner = span.in_scope(|| self.inner.call(request));
        TracedFuture {
            inner,
            span,
            protocol: self.protocol,
            side: Side::Server,
        }
    }
}

/// Client-side layer: opens a `grpc.client` or `http.client` span per request (a child
/// of the current span) and sends its context as `traceparent`, so the server's span
/// becomes its child.
///
/// tonic: `ApiClient::new(ClientTraceLayer::grpc().layer(channel))`.
/// hyper-util: `ClientTraceLayer::http().layer(legacy_client)`.
#[derive(Debug, Clone, Copy)]
pub struct ClientTraceLayer {
    protocol: Protocol,
}

impl ClientTraceLayer {
    /// Spans named `grpc.client`, with the RPC's service and method.
    pub fn grpc() -> Self {
        ClientTraceLayer {
            protocol: Protocol::Grpc,
        }
    }

    /// Spans named `http.client`, with the request's method and URL.
    pub fn http() -> Self {
        ClientTraceLayer {
            protocol: Protocol::Http,
        }
    }
}

impl<S> Layer<S> for ClientTraceLayer {
    type Service = ClientTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientTrace {
            inner,
            protocol: self.protocol,
        }
    }
}

/// The service [`ClientTraceLayer`] makes.
#[derive(Debug, Clone)]
pub struct ClientTrace<S> {
    inner: S,
    protocol: Protocol,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for ClientTrace<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = TracedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let span = match self.protocol {
            Protocol::Grpc => {
                let (service, method) = grpc_names(request.uri().path());
                tracing::info_span!(
                    "grpc.client",
                    otel.kind = "client",
                    rpc.system = "grpc",
                    rpc.service = service,
                    rpc.method = method,
                    rpc.grpc.status_code = Empty,
                    otel.status_code = Empty,
                )
            }
            Protocol::Http => tracing::info_span!(
                "http.client",
                otel.kind = "client",
                http.request.method = %request.method(),
                url.full = %request.uri(),
                http.response.status_code = Empty,
                otel.status_code = Empty,
            ),
        };
        inject_context_from(&span.context(), request.headers_mut());
        let inner = span.in_scope(|| self.inner.call(request));
        TracedFuture {
            inner,
            span,
            protocol: self.protocol,
            side: Side::Client,
        }
    }
}

/// `/pkg.Service/Method` → (`pkg.Service`, `Method`); anything else is reported whole.
fn grpc_names(path: &str) -> (&str, &str) {
    path.trim_start_matches('/')
        .split_once('/')
        .unwrap_or((path, ""))
}

pin_project_lite::pin_project! {
    /// Response future of [`ServerTrace`] and [`ClientTrace`]: polls the inner future
    /// inside the request span and records the response status on it.
    pub struct TracedFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        protocol: Protocol,
        side: Side,
    }
}

impl<F, ResBody, E> Future for TracedFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = Result<http::Response<TracedBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let result = ready!(this.inner.poll(cx));
        Poll::Ready(match result {
            Ok(response) => {
                match this.protocol {
                    Protocol::Http => record_http_status(this.span, *this.side, response.status()),
                    // A trailers-only gRPC response (most errors) has its status here.
                    Protocol::Grpc => record_grpc_status(this.span, *this.side, response.headers()),
                }
                let span = this.span.clone();
                let (protocol, side) = (*this.protocol, *this.side);
                Ok(response.map(|inner| TracedBody {
                    inner,
                    span,
                    protocol,
                    side,
                }))
            }
            Err(error) => {
                this.span.record("otel.status_code", "error");
                Err(error)
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// Response body of [`ServerTrace`] and [`ClientTrace`]: keeps the request span open
    /// until the body ends and records a gRPC status sent in trailers.
    pub struct TracedBody<B> {
        #[pin]
        inner: B,
        span: Span,
        protocol: Protocol,
        side: Side,
    }
}

impl<B: Body> Body for TracedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let _entered = this.span.enter();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) if *this.protocol == Protocol::Grpc => {
                if let Some(trailers) = frame.trailers_ref() {
                    record_grpc_status(this.span, *this.side, trailers);
                }
            }
            Some(Err(_)) => {
                this.span.record("otel.status_code", "error");
            }
            _ => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn record_http_status(span: &Span, side: Side, status: http::StatusCode) {
    // As i64: tracing-opentelemetry exports u64 fields as strings.
    span.record("http.response.status_code", i64::from(status.as_u16()));
    // Semantic conventions: 4xx is the client's fault, so only a client span fails on it.
    let failed = status.is_server_error() || (side == Side::Client && status.is_client_error());
    if failed {
        span.record("otel.status_code", "error");
    }
}

fn record_grpc_status(span: &Span, side: Side, headers: &http::HeaderMap) {
    let Some(code) = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
    else {
        return;
    };
    span.record("rpc.grpc.status_code", i64::from(code));
    // Semantic conventions: a server span fails only on codes that blame the server.
    let failed = match side {
        Side::Client => code != 0,
        Side::Server => matches!(code, 2 | 4 | 12 | 13 | 14 | 15),
    };
    if failed {
        span.record("otel.status_code", "error");
    }
}

#[cfg(test)]
mod tests {
    use super::grpc_names;

    #[test]
    fn grpc_path_splits_into_service_and_method() {
        assert_eq!(
            grpc_names("/rudder.api.v1.Api/Get"),
            ("rudder.api.v1.Api", "Get")
        );
        assert_eq!(grpc_names("/odd"), ("/odd", ""));
    }
}
