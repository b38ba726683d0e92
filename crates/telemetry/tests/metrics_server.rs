//! The metrics/health server over real loopback HTTP: `/metrics` exposes the registry,
//! `/healthz` and `/readyz` answer probes, other paths are 404, and cancellation stops it.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use prometheus::{IntCounter, Registry};
use rudder_telemetry::{Health, serve_metrics, spawn_metrics_server};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

const DEADLINE: Duration = Duration::from_secs(10);

struct Reply {
    status: StatusCode,
    content_type: String,
    body: String,
}

async fn request(addr: SocketAddr, method: Method, path: &str) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .body(Empty::new())
        .unwrap();
    let response = tokio::time::timeout(DEADLINE, client.request(request))
        .await
        .expect("metrics server answers in time")
        .expect("request succeeds");
    let status = response.status();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        content_type,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

async fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, Method::GET, path).await
}

#[tokio::test]
async fn metrics_exposes_a_counter_the_service_increments() {
    let registry = Registry::new();
    let counter =
        IntCounter::new("rudder_test_requests_total", "Requests seen by the test.").unwrap();
    registry.register(Box::new(counter.clone())).unwrap();
    counter.inc_by(3);
    let shutdown = CancellationToken::new();
    let server = spawn_metrics_server("127.0.0.1:0", registry, Health::new(), shutdown.clone())
        .await
        .unwrap();
    assert_ne!(server.local_addr().port(), 0);

    let reply = get(server.local_addr(), "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type, prometheus::TEXT_FORMAT);
    assert!(
        reply
            .body
            .lines()
            .any(|l| l == "rudder_test_requests_total 3"),
        "{}",
        reply.body
    );
    assert!(
        reply
            .body
            .contains("# TYPE rudder_test_requests_total counter")
    );

    counter.inc();
    let reply = get(server.local_addr(), "/metrics").await;
    assert!(
        reply
            .body
            .lines()
            .any(|l| l == "rudder_test_requests_total 4"),
        "{}",
        reply.body
    );

    shutdown.cancel();
    tokio::time::timeout(DEADLINE, server.wait())
        .await
        .expect("server stops after cancellation")
        .unwrap();
}

#[tokio::test]
async fn healthz_readyz_and_unknown_paths() {
    let health = Health::new();
    let shutdown = CancellationToken::new();
    let server = spawn_metrics_server(
        "127.0.0.1:0",
        Registry::new(),
        health.clone(),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let addr = server.local_addr();

    assert_eq!(get(addr, "/healthz").await.status, StatusCode::OK);

    let not_ready = get(addr, "/readyz").await;
    assert_eq!(not_ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        not_ready.body.contains("readyz check failed"),
        "{}",
        not_ready.body
    );

    health.set_ready(true);
    let ready = get(addr, "/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);

    health.set_check("store", false);
    let failing = get(addr, "/readyz").await;
    assert_eq!(failing.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(failing.body.contains("[-]store failed"), "{}", failing.body);
    health.set_check("store", true);
    assert_eq!(get(addr, "/readyz").await.status, StatusCode::OK);

    health.set_ready(false);
    assert_eq!(
        get(addr, "/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // Liveness does not follow readiness: a draining service is still alive.
    assert_eq!(get(addr, "/healthz").await.status, StatusCode::OK);

    for path in ["/", "/metricsx", "/healthz/extra", "/favicon.ico"] {
        assert_eq!(
            get(addr, path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        request(addr, Method::POST, "/healthz").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );

    shutdown.cancel();
    tokio::time::timeout(DEADLINE, server.wait())
        .await
        .expect("server stops after cancellation")
        .unwrap();
}

#[tokio::test]
async fn serve_metrics_on_a_given_listener_stops_accepting_on_cancel() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(
        serve_metrics(listener, Registry::new(), Health::new(), shutdown.clone())
            .instrument(tracing::info_span!("test.metrics_server")),
    );
    assert_eq!(get(addr, "/healthz").await.status, StatusCode::OK);

    shutdown.cancel();
    tokio::time::timeout(DEADLINE, task)
        .await
        .expect("server stops after cancellation")
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed after shutdown"
    );
}

#[tokio::test]
async fn binding_a_taken_address_is_an_error() {
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let error = spawn_metrics_server(
        addr,
        Registry::new(),
        Health::new(),
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, rudder_telemetry::TelemetryError::Bind { .. }),
        "{error}"
    );
}
