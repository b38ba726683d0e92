//! Telemetry for every Rudder service: logs, traces, trace-context propagation, metrics
//! and health endpoints (DESIGN.md §7).
//!
//! # Public API
//!
//! ```text
//! // Set-up: once per process, first thing in main, inside the Tokio runtime.
//! init(service_name: &str, options: TelemetryOptions) -> Result<TelemetryGuard, TelemetryError>
//! TelemetryOptions { log_format: LogFormat, default_level: LevelFilter,
//!                    trace_level: LevelFilter, otlp_endpoint: Option<String> }   Default; ::with_log_format(f)
//! LogFormat::{Text, Json}        FromStr ("text" | "json", any case), Display, as_str()
//! TelemetryGuard                 .force_flush() / .shutdown() -> Result<(), TelemetryError>;
//!                                .is_exporting() -> bool; .tracer_provider(); flush + shutdown on drop
//!
//! // Trace context (W3C traceparent/tracestate) across every hop.
//! ServerTraceLayer::grpc() | ::http()   tower Layer -> ServerTrace<S>   span grpc.server / http.server
//! ClientTraceLayer::grpc() | ::http()   tower Layer -> ClientTrace<S>   span grpc.client / http.client
//! TraceContextInterceptor               tonic Interceptor: sends the current span's context
//! extract_context(&http::HeaderMap) -> opentelemetry::Context
//! extract_metadata_context(&tonic::metadata::MetadataMap) -> opentelemetry::Context
//! inject_context(&mut http::HeaderMap)                       the current tracing span's context
//! inject_context_from(&Context, &mut http::HeaderMap)
//! inject_metadata_context_from(&Context, &mut MetadataMap)
//! set_remote_parent(&tracing::Span, &http::HeaderMap)        parent a fresh span on the caller
//!
//! // Metrics and probes on the service's loopback metrics port.
//! serve_metrics(listener: TcpListener, registry: prometheus::Registry, health: Health,
//!               shutdown: CancellationToken) -> std::io::Result<()>
//! spawn_metrics_server(addr: impl ToSocketAddrs, registry, health, shutdown)
//!     -> Result<MetricsServer, TelemetryError>       MetricsServer: .local_addr(), .wait().await
//! Health   Clone, shared: new(), set_ready(bool), set_check(&str, bool), remove_check(&str), is_ready()
//!
//! TelemetryError                 the crate's one error enum
//! ```
//!
//! - **Logs** go to stderr, text or one JSON object per line; the level comes from
//!   `RUST_LOG` (default [`TelemetryOptions::default_level`], `info`). A bad `RUST_LOG`
//!   is an error, not silently ignored.
//! - **Traces**: every `tracing` span up to [`TelemetryOptions::trace_level`] (`info`,
//!   whatever `RUST_LOG` says) becomes an OpenTelemetry span. They are exported over
//!   OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`, or
//!   [`TelemetryOptions::otlp_endpoint`]) is set, unless `OTEL_SDK_DISABLED=true` or
//!   `OTEL_TRACES_EXPORTER=none`. The standard variables are honoured: `OTEL_SERVICE_NAME`
//!   and `service.name` in `OTEL_RESOURCE_ATTRIBUTES` override `service_name`;
//!   `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_{HEADERS,TIMEOUT,...}`
//!   go to the SDK untouched. The tracer provider exists even when nothing is exported,
//!   so a service that does not export still forwards the caller's trace.
//! - **A second [`init`]** returns [`TelemetryError::AlreadyInitialized`]; nothing panics.
//! - **Propagation** is always W3C trace context, whatever global propagator is set.
//!   A missing or malformed `traceparent` makes the server span a new root.
//! - **Request spans** follow the OpenTelemetry semantic conventions: `rpc.system`,
//!   `rpc.service`, `rpc.method`, `rpc.grpc.status_code` (also from trailers);
//!   `http.request.method`, `url.path` / `url.full`, `http.response.status_code`;
//!   `otel.kind` server/client and `otel.status_code` error on failures. A span ends when
//!   the response body ends, so a streaming call's span covers the stream.
//! - **`/metrics`** is the Prometheus text format of the given registry; `/healthz` is 200
//!   while the process serves; `/readyz` is 200 once `set_ready(true)` and every named
//!   check passes, else 503 listing them (`[+]name ok` / `[-]name failed`); other paths
//!   404, other methods 405. HTTP/1.1 and h2c. Cancelling the token stops accepting and
//!   gives open requests 5 s.
//!
//! # Example
//!
//! ```no_run
//! use rudder_telemetry::{Health, LogFormat, TelemetryOptions};
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn run() -> Result<(), rudder_telemetry::TelemetryError> {
//! let format: LogFormat = "json".parse()?;
//! let _telemetry = rudder_telemetry::init("rudder-scheduler", TelemetryOptions::with_log_format(format))?;
//! let registry = prometheus::Registry::new();
//! let health = Health::new();
//! let shutdown = CancellationToken::new();
//! let metrics = rudder_telemetry::spawn_metrics_server(
//!     "127.0.0.1:10259", registry.clone(), health.clone(), shutdown.clone()).await?;
//! // ... start serving, then:
//! health.set_ready(true);
//! # shutdown.cancel();
//! metrics.wait().await?;
//! # Ok(()) }
//! ```

mod error;
mod init;
pub mod layer;
mod logging;
pub mod metrics_server;
mod otlp;
pub mod propagation;

pub use error::TelemetryError;
pub use init::{TelemetryGuard, TelemetryOptions, init};
pub use layer::{ClientTraceLayer, ServerTraceLayer};
pub use logging::LogFormat;
pub use metrics_server::{Health, MetricsServer, serve_metrics, spawn_metrics_server};
pub use propagation::{
    TraceContextInterceptor, extract_context, extract_metadata_context, inject_context,
    inject_context_from, inject_metadata_context_from, set_remote_parent,
};
