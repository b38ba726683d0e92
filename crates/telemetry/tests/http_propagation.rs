//! Trace context across a real hyper hop (HTTP/1.1 and h2c over loopback): the server's
//! `http.server` span is a child of the client's span, and a malformed `traceparent`
//! starts a new trace instead of failing the request.
//!
//! Each test runs on a current-thread runtime with a thread-local subscriber exporting
//! to memory, so the client, the server and their spawned tasks share one provider
//! without touching the process-global one.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use opentelemetry::trace::{SpanId, SpanKind, TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry::{Key, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use rudder_telemetry::{ClientTraceLayer, ServerTraceLayer, inject_context};
use tokio::net::TcpListener;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing::subscriber::DefaultGuard;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

const DEADLINE: Duration = Duration::from_secs(10);

/// A provider exporting synchronously to memory, installed for this thread only.
struct MemoryTracing {
    exporter: InMemorySpanExporter,
    _provider: SdkTracerProvider,
    _guard: DefaultGuard,
}

fn memory_tracing() -> MemoryTracing {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("http-test")));
    MemoryTracing {
        exporter,
        _provider: provider,
        _guard: tracing::subscriber::set_default(subscriber),
    }
}

impl MemoryTracing {
    /// Waits until a finished span named `name` matching `pred` is exported.
    async fn wait_for_span(&self, name: &str, pred: impl Fn(&SpanData) -> bool) -> SpanData {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let spans = self.exporter.get_finished_spans().unwrap();
            if let Some(span) = spans.into_iter().find(|s| s.name == name && pred(s)) {
                return span;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no finished {name} span before the deadline"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn attribute(span: &SpanData, key: &'static str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == Key::from_static_str(key))
        .map(|kv| kv.value.clone())
}

/// The server's handler: answers with the trace id it runs under, proving the handler
/// runs inside the request span.
async fn handler(
    _request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let trace_id = tracing::Span::current()
        .context()
        .span()
        .span_context()
        .trace_id();
    Ok(Response::new(Full::new(Bytes::from(trace_id.to_string()))))
}

/// A hyper server (HTTP/1.1 and h2c) with [`ServerTraceLayer::http`] around `handler`.
async fn traced_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let service = TowerToHyperService::new(
                    ServerTraceLayer::http().layer(tower::service_fn(handler)),
                );
                tokio::spawn(
                    async move {
                        let _ = auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                    .instrument(tracing::debug_span!("test.connection")),
                );
            }
        }
        .instrument(tracing::debug_span!("test.server")),
    );
    addr
}

fn span_id_of(span: &tracing::Span) -> (TraceId, SpanId) {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    (sc.trace_id(), sc.span_id())
}

#[tokio::test(flavor = "current_thread")]
async fn http1_server_span_is_child_of_the_injected_client_span() {
    let tracing = memory_tracing();
    let addr = traced_server().await;

    let client_span = tracing::info_span!("test.client");
    let (trace_id, client_span_id) = span_id_of(&client_span);
    let body = async {
        let mut request = Request::get(format!("http://{addr}/api/v1/pods?watch=1"))
            .body(Empty::<Bytes>::new())
            .unwrap();
        inject_context(request.headers_mut());
        assert!(request.headers().contains_key("traceparent"));
        let client = Client::builder(TokioExecutor::new()).build_http();
        let response = tokio::time::timeout(DEADLINE, client.request(request))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.into_body().collect().await.unwrap().to_bytes()
    }
    .instrument(client_span.clone())
    .await;
    assert_eq!(
        String::from_utf8(body.to_vec()).unwrap(),
        trace_id.to_string()
    );

    let server = tracing
        .wait_for_span("http.server", |s| s.span_context.trace_id() == trace_id)
        .await;
    assert_eq!(server.parent_span_id, client_span_id);
    assert!(server.parent_span_is_remote);
    assert_eq!(server.span_kind, SpanKind::Server);
    assert_eq!(
        attribute(&server, "http.request.method"),
        Some("GET".into())
    );
    assert_eq!(attribute(&server, "url.path"), Some("/api/v1/pods".into()));
    assert_eq!(
        attribute(&server, "http.response.status_code"),
        Some(Value::I64(200))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn h2_client_trace_layer_parents_the_server_span() {
    let tracing = memory_tracing();
    let addr = traced_server().await;

    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Empty<Bytes>>();
    let mut client = ClientTraceLayer::http().layer(client);
    let parent = tracing::info_span!("test.caller");
    let (trace_id, _) = span_id_of(&parent);
    let response = async {
        let request = Request::get(format!("http://{addr}/healthz"))
            .body(Empty::new())
            .unwrap();
        tokio::time::timeout(DEADLINE, client.call(request))
            .await
            .unwrap()
            .unwrap()
    }
    .instrument(parent.clone())
    .await;
    assert_eq!(response.version(), http::Version::HTTP_2);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        String::from_utf8(body.to_vec()).unwrap(),
        trace_id.to_string()
    );

    let client_span = tracing
        .wait_for_span("http.client", |s| s.span_context.trace_id() == trace_id)
        .await;
    let server_span = tracing
        .wait_for_span("http.server", |s| s.span_context.trace_id() == trace_id)
        .await;
    assert_eq!(client_span.span_kind, SpanKind::Client);
    assert_eq!(client_span.parent_span_id, span_id_of(&parent).1);
    assert_eq!(
        attribute(&client_span, "http.response.status_code"),
        Some(Value::I64(200))
    );
    assert_eq!(
        server_span.parent_span_id,
        client_span.span_context.span_id()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn malformed_traceparent_starts_a_new_trace() {
    let tracing = memory_tracing();
    let addr = traced_server().await;

    let caller = tracing::info_span!("test.caller");
    let (caller_trace, _) = span_id_of(&caller);
    let body = async {
        let request = Request::get(format!("http://{addr}/x"))
            .header("traceparent", "00-not-a-trace-id-01")
            .header("tracestate", "===")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let client = Client::builder(TokioExecutor::new()).build_http();
        let response = tokio::time::timeout(DEADLINE, client.request(request))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.into_body().collect().await.unwrap().to_bytes()
    }
    .instrument(caller)
    .await;
    let server_trace = String::from_utf8(body.to_vec()).unwrap();

    let server = tracing
        .wait_for_span("http.server", |s| {
            s.span_context.trace_id().to_string() == server_trace
        })
        .await;
    assert!(server.span_context.is_valid());
    assert_ne!(server.span_context.trace_id(), caller_trace);
    assert_eq!(server.parent_span_id, SpanId::INVALID, "a new root span");
}

#[test]
fn tonic_interceptor_sends_the_current_span_context() {
    use tonic::service::Interceptor;

    let _tracing = memory_tracing();
    let span = tracing::info_span!("test.rpc");
    let (trace_id, span_id) = span_id_of(&span);
    let request = span
        .in_scope(|| rudder_telemetry::TraceContextInterceptor.call(tonic::Request::new(())))
        .unwrap();
    let cx = rudder_telemetry::extract_metadata_context(request.metadata());
    assert_eq!(cx.span().span_context().trace_id(), trace_id);
    assert_eq!(cx.span().span_context().span_id(), span_id);

    // Outside any span there is nothing to send.
    let bare = rudder_telemetry::TraceContextInterceptor
        .call(tonic::Request::new(()))
        .unwrap();
    assert!(bare.metadata().get("traceparent").is_none());
}
