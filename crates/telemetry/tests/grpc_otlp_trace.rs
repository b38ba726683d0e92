//! End to end: service A calls service B over mutual-TLS gRPC, both instrumented with
//! the telemetry layers, and the spans of both reach an in-test OTLP collector as one
//! trace in which B's `grpc.server` span is a child of A's `grpc.client` span.
//!
//! A process has one global subscriber and tracer provider, so this file holds one test
//! that calls [`rudder_telemetry::init`]; A and B share it but are distinct servers on
//! distinct loopback ports, with a real TLS hop between them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span as OtlpSpan;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use rudder_pki::certs::{CertsLayout, CertsOptions, write_cluster_certs};
use rudder_proto::api::v1::api_client::ApiClient;
use rudder_proto::api::v1::api_server::{Api, ApiServer};
use rudder_proto::api::v1::{GetRequest, ObjectResponse, ResourceRef};
use rudder_telemetry::layer::ClientTrace;
use rudder_telemetry::{ClientTraceLayer, ServerTraceLayer, TelemetryError, TelemetryOptions};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};
use tower::Layer;
use tracing::Instrument;

const DEADLINE: Duration = Duration::from_secs(20);
const SERVICE_NAME: &str = "rudder-telemetry-test";

/// A span as the collector received it, with the service that sent it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: OtlpSpan,
}

impl Received {
    fn attr(&self, key: &str) -> Option<String> {
        self.span
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())
            .map(|v| match v {
                any_value::Value::StringValue(s) => s.clone(),
                any_value::Value::IntValue(i) => i.to_string(),
                other => format!("{other:?}"),
            })
    }
}

impl Received {
    fn int_attr(&self, key: &str) -> Option<i64> {
        match self
            .span
            .attributes
            .iter()
            .find(|kv| kv.key == key)?
            .value
            .as_ref()?
            .value
            .as_ref()?
        {
            any_value::Value::IntValue(i) => Some(*i),
            _ => None,
        }
    }
}

/// The OTLP trace collector: keeps every span it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    any_value::Value::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    spans.push(Received {
                        service: service.clone(),
                        span,
                    });
                }
            }
        }
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// Service B: answers `get` with a fixed object, inside its own handler span.
struct ServiceB;

#[tonic::async_trait]
impl Api for ServiceB {
    async fn get(&self, request: Request<GetRequest>) -> Result<Response<ObjectResponse>, Status> {
        let name = request.into_inner().r#ref.unwrap_or_default().name;
        let span = tracing::info_span!("b.get", object = %name);
        async move {
            tracing::info!("B answers");
            Ok(Response::new(ObjectResponse {
                object: format!("{{\"served_by\":\"b\",\"name\":\"{name}\"}}").into_bytes(),
            }))
        }
        .instrument(span)
        .await
    }
}

/// Service A: answers `get` by asking B over mTLS, through the client trace layer.
struct ServiceA {
    b: ApiClient<ClientTrace<Channel>>,
}

#[tonic::async_trait]
impl Api for ServiceA {
    async fn get(&self, request: Request<GetRequest>) -> Result<Response<ObjectResponse>, Status> {
        let name = request.into_inner().r#ref.unwrap_or_default().name;
        let mut b = self.b.clone();
        let span = tracing::info_span!("a.get", object = %name);
        async move {
            let forwarded = GetRequest {
                r#ref: Some(ResourceRef {
                    resource: "pods".into(),
                    name: format!("{name}-via-a"),
                    ..Default::default()
                }),
                resource_version: String::new(),
            };
            let answer = b.get(forwarded).await?;
            Ok(Response::new(answer.into_inner()))
        }
        .instrument(span)
        .await
    }
}

/// Serves `service` over mTLS on a fresh loopback port until `shutdown`.
async fn serve_api<S: Api>(
    service: S,
    tls: ServerTlsConfig,
    shutdown: CancellationToken,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .tls_config(tls)
        .unwrap()
        .layer(ServerTraceLayer::grpc())
        .add_service(ApiServer::new(service))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.cancelled_owned());
    tokio::spawn(
        async move { server.await.unwrap() }
            .instrument(tracing::info_span!("test.api_server", %addr)),
    );
    addr
}

async fn tls_channel(addr: SocketAddr, tls: ClientTlsConfig) -> Channel {
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calls_b_over_mtls_and_the_collector_sees_one_trace() {
    rudder_pki::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    write_cluster_certs(&CertsOptions::new(dir.path())).unwrap();
    let layout = CertsLayout::new(dir.path());
    let server_tls = || layout.apiserver_tls().tonic_server().unwrap();

    let shutdown = CancellationToken::new();
    let collector = Collector::default();
    let collector_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_addr = collector_listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming_shutdown(
                TcpListenerStream::new(collector_listener),
                shutdown.clone().cancelled_owned(),
            )
            .instrument(tracing::info_span!("test.collector")),
    );

    let telemetry = rudder_telemetry::init(
        SERVICE_NAME,
        TelemetryOptions {
            otlp_endpoint: Some(format!("http://{collector_addr}")),
            ..TelemetryOptions::default()
        },
    )
    .unwrap();
    assert!(telemetry.is_exporting());
    assert!(matches!(
        rudder_telemetry::init("again", TelemetryOptions::default()),
        Err(TelemetryError::AlreadyInitialized)
    ));

    let b_addr = serve_api(ServiceB, server_tls(), shutdown.clone()).await;
    let to_b = tls_channel(
        b_addr,
        layout
            .client_tls("controller-manager")
            .tonic_client("localhost")
            .unwrap(),
    )
    .await;
    let a = ServiceA {
        b: ApiClient::new(ClientTraceLayer::grpc().layer(to_b)),
    };
    let a_addr = serve_api(a, server_tls(), shutdown.clone()).await;

    // The test is an untraced client, so A's server span is the root of the trace.
    let mut to_a = ApiClient::new(
        tls_channel(
            a_addr,
            layout
                .client_tls("admin")
                .tonic_client("localhost")
                .unwrap(),
        )
        .await,
    );
    let answer = to_a
        .get(GetRequest {
            r#ref: Some(ResourceRef {
                resource: "pods".into(),
                name: "web".into(),
                ..Default::default()
            }),
            resource_version: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        String::from_utf8(answer.object).unwrap(),
        r#"{"served_by":"b","name":"web-via-a"}"#
    );

    // Poll the collector, flushing each round, until the whole chain has arrived.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let spans = loop {
        telemetry.force_flush().unwrap();
        let spans = collector.spans.lock().unwrap().clone();
        let names: Vec<&str> = spans.iter().map(|s| s.span.name.as_str()).collect();
        let count = |n: &str| names.iter().filter(|x| **x == n).count();
        if count("grpc.server") >= 2
            && count("grpc.client") >= 1
            && count("a.get") >= 1
            && count("b.get") >= 1
        {
            break spans;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "collector did not receive the spans in time; got {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let by_id: HashMap<Vec<u8>, &Received> =
        spans.iter().map(|s| (s.span.span_id.clone(), s)).collect();
    let parent_of = |s: &Received| by_id.get(&s.span.parent_span_id).copied();
    let one = |name: &str| {
        let found: Vec<&Received> = spans.iter().filter(|s| s.span.name == name).collect();
        assert_eq!(found.len(), 1, "exactly one {name} span: {found:#?}");
        found[0]
    };

    let a_get = one("a.get");
    let b_get = one("b.get");
    let a_client = one("grpc.client");
    let a_server = parent_of(a_get).expect("a.get has a parent");
    let b_server = parent_of(b_get).expect("b.get has a parent");

    // The chain: A grpc.server -> a.get -> A grpc.client -> B grpc.server -> b.get.
    assert_eq!(a_server.span.name, "grpc.server");
    assert_eq!(b_server.span.name, "grpc.server");
    assert_ne!(
        a_server.span.span_id, b_server.span.span_id,
        "distinct server spans"
    );
    assert!(
        a_server.span.parent_span_id.is_empty(),
        "A's server span is the root"
    );
    assert_eq!(a_client.span.parent_span_id, a_get.span.span_id);
    assert_eq!(
        hex(&b_server.span.parent_span_id),
        hex(&a_client.span.span_id),
        "B's server span is a child of A's client span"
    );

    // The name given to init, unless the environment names the service (as it may).
    let expected_service = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| SERVICE_NAME.to_owned());
    let trace_id = &a_server.span.trace_id;
    assert_eq!(trace_id.len(), 16);
    for span in [a_server, a_get, a_client, b_server, b_get] {
        assert_eq!(
            &span.span.trace_id, trace_id,
            "{} is in the same trace",
            span.span.name
        );
        assert_eq!(span.service, expected_service);
    }

    assert_eq!(a_server.span.kind, SpanKind::Server as i32);
    assert_eq!(b_server.span.kind, SpanKind::Server as i32);
    assert_eq!(a_client.span.kind, SpanKind::Client as i32);
    for span in [a_server, a_client, b_server] {
        assert_eq!(span.attr("rpc.system").as_deref(), Some("grpc"));
        assert_eq!(
            span.attr("rpc.service").as_deref(),
            Some("rudder.api.v1.Api")
        );
        assert_eq!(span.attr("rpc.method").as_deref(), Some("Get"));
        assert_eq!(
            span.int_attr("rpc.grpc.status_code"),
            Some(0),
            "{}",
            span.span.name
        );
    }

    shutdown.cancel();
    telemetry.shutdown().unwrap();
}
