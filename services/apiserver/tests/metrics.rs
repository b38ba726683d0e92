//! `/metrics` on the API server's port: after real requests, the request counters
//! carry kube-apiserver's labels and codes (201, 404, 403, 401, dry runs), watches
//! show as long-running while open, store latencies are recorded by operation and
//! resource, and gRPC calls by method and grpc-status.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{ApiClient, TestCluster};
use http::{Method, StatusCode};
use rudder_pki::Validity;

/// One sample of the Prometheus text format: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let value: f64 = value.parse().ok()?;
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .filter_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    Some((k.to_string(), v.trim_matches('"').to_string()))
                })
                .collect();
            Some((name.to_string(), labels, value))
        })
        .collect()
}

/// The value of the series `name` whose labels include all of `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
}

async fn grpc_client(
    cluster: &TestCluster,
) -> rudder_proto::api::v1::api_client::ApiClient<tonic::transport::Channel> {
    let tls = cluster
        .layout()
        .client_tls("admin")
        .tonic_client("127.0.0.1")
        .unwrap();
    let channel = common::grpc_channel(cluster.port, tls).await;
    rudder_proto::api::v1::api_client::ApiClient::new(channel)
}

async fn scrape(client: &ApiClient) -> Vec<Sample> {
    let reply = client.get("/metrics").await.expect("scrape");
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    parse(&reply.text())
}

/// Every label of a resource request's counter.
fn request(
    verb: &'static str,
    dry_run: &'static str,
    resource: &'static str,
    scope: &'static str,
    code: &'static str,
) -> Vec<(&'static str, &'static str)> {
    vec![
        ("verb", verb),
        ("dry_run", dry_run),
        ("group", ""),
        ("version", if resource.is_empty() { "" } else { "v1" }),
        ("resource", resource),
        ("subresource", ""),
        ("scope", scope),
        ("component", "apiserver"),
        ("code", code),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_counters_latencies_watches_and_store() {
    let cluster = TestCluster::start_with(&["--authorization-mode=Node,RBAC".to_string()]).await;
    let admin = cluster.client("admin");
    let bob = cluster.add_user("bob", "bob", &[], Validity::days(1));

    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"counted"}}"#;
    let json = [("content-type", "application/json")];
    let created = admin
        .request(
            Method::POST,
            "/api/v1/namespaces/default/configmaps",
            &json,
            cm,
        )
        .await
        .unwrap();
    assert_eq!(created.status, StatusCode::CREATED);
    let dry = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry"}}"#;
    let dry_run = admin
        .request(
            Method::POST,
            "/api/v1/namespaces/default/configmaps?dryRun=All",
            &json,
            dry,
        )
        .await
        .unwrap();
    assert_eq!(dry_run.status, StatusCode::CREATED);
    let missing = admin
        .get("/api/v1/namespaces/default/configmaps/nope")
        .await
        .unwrap();
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        admin.get("/nope").await.unwrap().status,
        StatusCode::NOT_FOUND
    );
    let forbidden = bob.get("/api/v1/namespaces/default/pods").await.unwrap();
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    // Metrics are a non-resource path under RBAC, as upstream's.
    assert_eq!(
        bob.get("/metrics").await.unwrap().status,
        StatusCode::FORBIDDEN
    );

    // Refused before any front end: no credential at all.
    let nobody = cluster.client_without_certificate();
    let refused = nobody
        .request(
            Method::GET,
            "/api/v1/namespaces/default/secrets",
            &[],
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    // Two gRPC calls: one answered, one NotFound.
    let mut grpc = grpc_client(&cluster).await;
    let cm = |name: &str| rudder_proto::api::v1::GetRequest {
        r#ref: Some(rudder_proto::api::v1::ResourceRef {
            version: "v1".into(),
            resource: "configmaps".into(),
            namespace: "default".into(),
            name: name.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    grpc.get(cm("counted")).await.expect("grpc get");
    let err = grpc.get(cm("nope")).await.expect_err("missing");
    assert_eq!(err.code(), tonic::Code::NotFound);

    let (status, _events) = admin
        .watch("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=3")
        .await;
    assert_eq!(status, StatusCode::OK);
    let watching = [
        ("verb", "WATCH"),
        ("resource", "configmaps"),
        ("scope", "namespace"),
        ("component", "apiserver"),
    ];
    let samples = scrape(&admin).await;
    assert_eq!(
        value(&samples, "apiserver_longrunning_requests", &watching),
        Some(1.0)
    );

    let total = "apiserver_request_total";
    for (labels, what) in [
        (
            request("POST", "", "configmaps", "resource", "201"),
            "create",
        ),
        (
            request("POST", "All", "configmaps", "resource", "201"),
            "dry-run create",
        ),
        (
            request("GET", "", "configmaps", "resource", "404"),
            "missing object",
        ),
        (request("GET", "", "", "", "404"), "unknown path"),
        (
            request("LIST", "", "pods", "namespace", "403"),
            "forbidden list",
        ),
        (
            request("LIST", "", "secrets", "namespace", "401"),
            "unauthenticated list",
        ),
    ] {
        assert_eq!(
            value(&samples, total, &labels),
            Some(1.0),
            "{what}: {labels:?}"
        );
    }
    assert_eq!(
        value(
            &samples,
            total,
            &[
                ("verb", "WATCH"),
                ("resource", "configmaps"),
                ("code", "200")
            ]
        ),
        Some(1.0)
    );
    for (code, count) in [("OK", 1.0), ("NotFound", 1.0)] {
        let labels = [
            ("grpc_type", "unary"),
            ("grpc_service", "rudder.api.v1.Api"),
            ("grpc_method", "Get"),
            ("grpc_code", code),
        ];
        assert_eq!(
            value(&samples, "grpc_server_handled_total", &labels),
            Some(count),
            "{labels:?}"
        );
    }
    assert_eq!(
        value(
            &samples,
            "grpc_server_handling_seconds_count",
            &[
                ("grpc_service", "rudder.api.v1.Api"),
                ("grpc_method", "Get")
            ]
        ),
        Some(2.0)
    );
    let latency = value(
        &samples,
        "apiserver_request_duration_seconds_count",
        &request("POST", "", "configmaps", "resource", "")[..8],
    );
    assert_eq!(latency, Some(1.0));
    let buckets = samples
        .iter()
        .filter(|(n, l, _)| {
            n == "apiserver_request_duration_seconds_bucket"
                && l.get("verb").map(String::as_str) == Some("POST")
                && l.get("dry_run").map(String::as_str) == Some("")
                && l.get("resource").map(String::as_str) == Some("configmaps")
        })
        .count();
    assert_eq!(buckets, 24, "upstream's 23 buckets and +Inf");
    let store_creates = value(
        &samples,
        "etcd_request_duration_seconds_count",
        &[("operation", "create"), ("type", "configmaps")],
    )
    .unwrap_or(0.0);
    assert!(store_creates >= 1.0, "store creates: {store_creates}");
    assert!(
        value(
            &samples,
            "etcd_request_duration_seconds_count",
            &[("operation", "create"), ("type", "namespaces")],
        )
        .is_some(),
        "system namespaces are created through the store"
    );

    // The watch ends at its timeout: no longer long-running, and its duration
    // (the stream's life) is observed.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let samples = scrape(&admin).await;
        if value(&samples, "apiserver_longrunning_requests", &watching) == Some(0.0) {
            let watched = value(
                &samples,
                "apiserver_request_duration_seconds_sum",
                &[("verb", "WATCH"), ("resource", "configmaps")],
            )
            .unwrap();
            assert!(watched >= 2.5, "watch duration {watched}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the watch never ended"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.stop().await.unwrap();
}
