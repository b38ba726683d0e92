//! Prometheus metrics on `/metrics`, with kube-apiserver's names and labels so
//! dashboards and alerts written for it work unchanged:
//!
//! ```text
//! apiserver_request_total{verb,dry_run,group,version,resource,subresource,scope,component,code}
//! apiserver_request_duration_seconds{verb,dry_run,group,version,resource,subresource,scope,component}
//! apiserver_longrunning_requests{verb,group,version,resource,subresource,scope,component}
//! etcd_request_duration_seconds{operation,type}
//! grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
//! grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method}
//! ```
//!
//! Verbs are upstream's: GET, LIST, WATCH, POST, PUT, PATCH, APPLY, DELETE,
//! DELETECOLLECTION; scope is `resource` (a named object, or a create),
//! `namespace` or `cluster`. A watch counts as long-running while its stream is
//! open, and its duration is observed when the stream ends. Requests refused
//! before they reach a front end (401, 403 on impersonation, 429) count too.
//! Calls of the gRPC `Api` have go-grpc-prometheus' metrics instead: codes are
//! grpc-status names, and a stream is observed when it ends.
//!
//! The registry is process-wide, as upstream's: the store client and the REST
//! front end report into it without being handed a handle.

use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Method, Response};
use http_body::Frame;
use http_body_util::BodyExt;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use rudder_api::keys::REGISTRY_ROOT;
use rudder_api::resource;

use crate::admission::Verb;
use crate::auth::review::REVIEWS;
use crate::rest::codec::{self, Body, BoxError};
use crate::rest::request::{Route, Routed};

/// `component` of every request metric.
const COMPONENT: &str = "apiserver";

/// Upstream's latency buckets (seconds), the same for requests and the store.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    longrunning: IntGaugeVec,
    store: HistogramVec,
    grpc_handled: IntCounterVec,
    grpc_durations: HistogramVec,
}

impl Metrics {
    fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let labels = [
            "verb",
            "dry_run",
            "group",
            "version",
            "resource",
            "subresource",
            "scope",
            "component",
        ];
        let mut with_code = labels.to_vec();
        with_code.push("code");
        let long_running_labels: Vec<&str> =
            labels.into_iter().filter(|l| *l != "dry_run").collect();
        let requests = IntCounterVec::new(
            Opts::new(
                "apiserver_request_total",
                "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
            ),
            &with_code,
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "apiserver_request_duration_seconds",
                "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &labels,
        )?;
        let longrunning = IntGaugeVec::new(
            Opts::new(
                "apiserver_longrunning_requests",
                "Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component.",
            ),
            &long_running_labels,
        )?;
        let store = HistogramVec::new(
            HistogramOpts::new(
                "etcd_request_duration_seconds",
                "Etcd request latency in seconds for each operation and object type.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation", "type"],
        )?;
        let grpc_handled = IntCounterVec::new(
            Opts::new(
                "grpc_server_handled_total",
                "Total number of RPCs completed on the server, regardless of success or failure.",
            ),
            &["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
        )?;
        let grpc_durations = HistogramVec::new(
            HistogramOpts::new(
                "grpc_server_handling_seconds",
                "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["grpc_type", "grpc_service", "grpc_method"],
        )?;
        registry.register(Box::new(grpc_handled.clone()))?;
        registry.register(Box::new(grpc_durations.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        registry.register(Box::new(longrunning.clone()))?;
        registry.register(Box::new(store.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            durations,
            longrunning,
            store,
            grpc_handled,
            grpc_durations,
        })
    }
}

/// None only if the (constant) definitions were refused, which the unit tests
/// rule out; requests are then served without metrics rather than failing.
static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| {
    Metrics::new()
        .inspect_err(|e| tracing::error!(error = %e, "cannot register the metrics"))
        .ok()
});

/// `/metrics`: the Prometheus text exposition of every metric.
pub fn response() -> Response<Body> {
    let mut buffer = Vec::new();
    if let Some(m) = METRICS.as_ref()
        && let Err(e) = TextEncoder::new().encode(&m.registry.gather(), &mut buffer)
    {
        tracing::warn!(error = %e, "cannot encode metrics");
    }
    let mut response = Response::new(codec::full(buffer));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(prometheus::TEXT_FORMAT),
    );
    response
}

/// What a request is, in the request metrics' labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLabels {
    verb: String,
    dry_run: &'static str,
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    subresource: String,
    scope: &'static str,
}

impl RequestLabels {
    /// Labels of a request, from what it asks (as upstream's RequestInfo).
    pub fn of(method: &Method, path: &str, routed: &Routed, headers: &HeaderMap) -> Self {
        let dry_run = if routed.query.get("dryRun") == "All" {
            "All"
        } else {
            ""
        };
        let non_resource = RequestLabels {
            verb: method.as_str().to_ascii_uppercase(),
            dry_run,
            group: "",
            version: "",
            resource: "",
            subresource: String::new(),
            scope: "",
        };
        // Access reviews are served beside the resource table, create-only.
        if let Some(plural) = path.strip_prefix("/apis/authorization.k8s.io/v1/")
            && let Some((review, _)) = REVIEWS.iter().find(|(p, _)| *p == plural)
        {
            return RequestLabels {
                group: "authorization.k8s.io",
                version: "v1",
                resource: review,
                scope: "resource",
                ..non_resource
            };
        }
        let Ok(Route::Resource(req)) = &routed.route else {
            return non_resource;
        };
        let apply = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/apply-patch"));
        let verb = match req.verb {
            Verb::Get => "GET",
            Verb::List => "LIST",
            Verb::Watch => "WATCH",
            Verb::Create => "POST",
            Verb::Update => "PUT",
            Verb::Patch if apply => "APPLY",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
            Verb::DeleteCollection => "DELETECOLLECTION",
        };
        let scope = if req.name.is_some() || req.verb == Verb::Create {
            "resource"
        } else if req.namespace.is_some() {
            "namespace"
        } else {
            "cluster"
        };
        RequestLabels {
            verb: verb.to_string(),
            dry_run,
            group: req.resource.group,
            version: req.resource.version,
            resource: req.resource.plural,
            subresource: req.subresource.clone().unwrap_or_default(),
            scope,
        }
    }

    fn values(&self) -> [&str; 8] {
        [
            &self.verb,
            self.dry_run,
            self.group,
            self.version,
            self.resource,
            &self.subresource,
            self.scope,
            COMPONENT,
        ]
    }

    /// The labels without `dry_run`, as upstream's long-running gauge has them.
    fn long_running_values(&self) -> Vec<&str> {
        let mut values = self.values().to_vec();
        values.remove(1);
        values
    }
}

/// Counts a served request and observes its latency; a successful watch is
/// long-running until its stream ends, when its duration is observed.
pub fn observe_request(
    labels: RequestLabels,
    started: Instant,
    response: Response<Body>,
) -> Response<Body> {
    let Some(m) = METRICS.as_ref() else {
        return response;
    };
    let code = response.status().as_u16().to_string();
    let mut with_code = labels.values().to_vec();
    with_code.push(&code);
    m.requests.with_label_values(&with_code).inc();
    if labels.verb == "WATCH" && response.status().is_success() {
        m.longrunning
            .with_label_values(&labels.long_running_values())
            .inc();
        let guard = Guard::Watch {
            _open: LongRunning { labels, started },
        };
        return response.map(|body| Tracked { body, guard }.boxed_unsync());
    }
    m.durations
        .with_label_values(&labels.values())
        .observe(started.elapsed().as_secs_f64());
    response
}

/// An open long-running request; dropping it (the stream ended) closes it.
struct LongRunning {
    labels: RequestLabels,
    started: Instant,
}

impl Drop for LongRunning {
    fn drop(&mut self) {
        if let Some(m) = METRICS.as_ref() {
            m.longrunning
                .with_label_values(&self.labels.long_running_values())
                .dec();
            m.durations
                .with_label_values(&self.labels.values())
                .observe(self.started.elapsed().as_secs_f64());
        }
    }
}

/// What a response body carries until it is dropped.
enum Guard {
    /// An open watch, closed when dropped.
    Watch { _open: LongRunning },
    /// A gRPC call, whose grpc-status arrives in the trailers.
    Grpc(GrpcCall),
}

/// A response body carrying its [`Guard`] until the body is dropped.
struct Tracked {
    body: Body,
    guard: Guard,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if let Guard::Grpc(call) = &mut this.guard
            && let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(code) = frame.trailers_ref().and_then(grpc_code)
        {
            call.code = Some(code);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// One gRPC call, observed when its response body ends or is dropped.
struct GrpcCall {
    kind: &'static str,
    service: String,
    method: String,
    /// The grpc-status name once the headers or trailers carried one.
    code: Option<&'static str>,
    started: Instant,
}

impl Drop for GrpcCall {
    fn drop(&mut self) {
        if let Some(m) = METRICS.as_ref() {
            // No status at all: the client went away before the call ended.
            let code = self.code.unwrap_or("Canceled");
            m.grpc_handled
                .with_label_values(&[self.kind, &self.service, &self.method, code])
                .inc();
            m.grpc_durations
                .with_label_values(&[self.kind, &self.service, &self.method])
                .observe(self.started.elapsed().as_secs_f64());
        }
    }
}

/// The name of the grpc-status in `headers`, as Go's `codes.Code` prints it.
fn grpc_code(headers: &HeaderMap) -> Option<&'static str> {
    const NAMES: [&str; 17] = [
        "OK",
        "Canceled",
        "Unknown",
        "InvalidArgument",
        "DeadlineExceeded",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "ResourceExhausted",
        "FailedPrecondition",
        "Aborted",
        "OutOfRange",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
        "Unauthenticated",
    ];
    let status: usize = headers.get("grpc-status")?.to_str().ok()?.parse().ok()?;
    Some(NAMES.get(status).copied().unwrap_or("Unknown"))
}

/// Observes a call of the gRPC `Api` at `path` (`/<service>/<method>`) once its
/// response ends.
pub fn observe_grpc(path: &str, started: Instant, response: Response<Body>) -> Response<Body> {
    if METRICS.is_none() {
        return response;
    }
    let (service, method) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or(("", path));
    let kind = if matches!(method, "Watch" | "Logs") {
        "server_stream"
    } else {
        "unary"
    };
    let call = GrpcCall {
        kind,
        service: service.to_string(),
        method: method.to_string(),
        code: grpc_code(response.headers()),
        started,
    };
    response.map(|body| {
        Tracked {
            body,
            guard: Guard::Grpc(call),
        }
        .boxed_unsync()
    })
}

/// Times one store request; the latency is observed when it is dropped.
#[derive(Debug)]
pub struct StoreTimer {
    operation: &'static str,
    kind: String,
    started: Instant,
}

/// Starts timing a store `operation` (get, list, create, update, delete) on
/// `key`; the `type` label is the key's resource (`pods`, `deployments.apps`).
pub fn store_request(operation: &'static str, key: &[u8]) -> StoreTimer {
    StoreTimer {
        operation,
        kind: store_type(key),
        started: Instant::now(),
    }
}

impl Drop for StoreTimer {
    fn drop(&mut self) {
        if let Some(m) = METRICS.as_ref() {
            m.store
                .with_label_values(&[self.operation, self.kind.as_str()])
                .observe(self.started.elapsed().as_secs_f64());
        }
    }
}

fn store_type(key: &[u8]) -> String {
    let plural = key
        .strip_prefix(REGISTRY_ROOT.as_bytes())
        .and_then(|rest| rest.split(|b| *b == b'/').next())
        .and_then(|p| std::str::from_utf8(p).ok())
        .unwrap_or("");
    resource::all()
        .iter()
        .find(|r| r.plural == plural)
        .map_or_else(|| "unknown".to_string(), |r| r.group_resource())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(method: Method, path_and_query: &str) -> RequestLabels {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        RequestLabels::of(
            &method,
            path,
            &Routed::of(&method, path, Some(query)),
            &HeaderMap::new(),
        )
    }

    #[test]
    fn definitions_register() {
        assert!(METRICS.is_some());
    }

    #[test]
    fn labels_as_upstream() {
        let l = labels(Method::GET, "/api/v1/namespaces/default/pods?watch=1");
        assert_eq!(
            l.values(),
            ["WATCH", "", "", "v1", "pods", "", "namespace", "apiserver"]
        );
        let l = labels(
            Method::POST,
            "/apis/apps/v1/namespaces/a/deployments?dryRun=All",
        );
        assert_eq!(
            l.values(),
            [
                "POST",
                "All",
                "apps",
                "v1",
                "deployments",
                "",
                "resource",
                "apiserver"
            ]
        );
        let l = labels(Method::PUT, "/api/v1/nodes/n1/status");
        assert_eq!(
            l.values(),
            [
                "PUT",
                "",
                "",
                "v1",
                "nodes",
                "status",
                "resource",
                "apiserver"
            ]
        );
        let l = labels(Method::GET, "/api/v1/pods");
        assert_eq!(l.scope, "cluster");
        let l = labels(
            Method::POST,
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        );
        assert_eq!(
            l.values(),
            [
                "POST",
                "",
                "authorization.k8s.io",
                "v1",
                "selfsubjectaccessreviews",
                "",
                "resource",
                "apiserver"
            ]
        );
        let l = labels(Method::GET, "/nope");
        assert_eq!(l.values(), ["GET", "", "", "", "", "", "", "apiserver"]);
        assert_eq!(store_type(b"/registry/deployments/a/b"), "deployments.apps");
        assert_eq!(store_type(b"/registry/pods/a/b"), "pods");
        assert_eq!(store_type(b"\0"), "unknown");
    }
}
