//! Process-wide set-up: the global `tracing` subscriber and tracer provider, and the
//! guard that flushes them at exit.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::{LogFormat, TelemetryError, logging, otlp};

/// Instrumentation scope of the spans Rudder's `tracing` spans become.
const TRACER_NAME: &str = "rudder";

/// Set once the first [`init`] got past its checks; a process has one global subscriber.
static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// What a service chooses about its telemetry; everything else comes from the
/// environment (`RUST_LOG`, `OTEL_*`).
#[derive(Debug, Clone)]
pub struct TelemetryOptions {
    /// Text or JSON lines on stderr (the service's `--log-format`).
    pub log_format: LogFormat,
    /// Log level used when `RUST_LOG` is unset. Defaults to `INFO`.
    pub default_level: LevelFilter,
    /// The most verbose spans (and span events) sent to the tracer provider. Defaults to
    /// `INFO`, the level of the request spans of [`crate::layer`]. Independent of
    /// `RUST_LOG`, so quieting the logs does not cut holes in traces; which traces are
    /// kept is the sampler's business (`OTEL_TRACES_SAMPLER`).
    pub trace_level: LevelFilter,
    /// OTLP/gRPC collector endpoint (e.g. `http://127.0.0.1:4317`). `None` (the default)
    /// reads `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` and
    /// exports nothing when neither is set. `Some` overrides the environment; it exists
    /// for tests and for services that take the endpoint as a flag.
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetryOptions {
    fn default() -> Self {
        TelemetryOptions {
            log_format: LogFormat::Text,
            default_level: LevelFilter::INFO,
            trace_level: LevelFilter::INFO,
            otlp_endpoint: None,
        }
    }
}

impl TelemetryOptions {
    /// Options with the given log format and defaults for the rest.
    pub fn with_log_format(log_format: LogFormat) -> Self {
        TelemetryOptions {
            log_format,
            ..TelemetryOptions::default()
        }
    }
}

/// Initialises telemetry for the whole process; call it once, first thing in `main`,
/// inside the Tokio runtime, and keep the guard alive until the end of `main`.
///
/// Installs the global `tracing` subscriber (level from `RUST_LOG`, default
/// [`TelemetryOptions::default_level`]; lines on stderr in
/// [`TelemetryOptions::log_format`]), a `tracing-opentelemetry` layer over an
/// OpenTelemetry tracer provider (batch OTLP/gRPC export when an endpoint is configured,
/// see [`TelemetryOptions::otlp_endpoint`]), the global tracer provider, and the W3C
/// trace-context propagator. `service_name` is the default `service.name`;
/// `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` override it. Sampling, batching and
/// exporter settings follow the standard `OTEL_*` variables.
///
/// A second call returns [`TelemetryError::AlreadyInitialized`] and changes nothing.
pub fn init(
    service_name: &str,
    options: TelemetryOptions,
) -> Result<TelemetryGuard, TelemetryError> {
    if INITIALIZED.swap(true, Ordering::SeqCst) {
        return Err(TelemetryError::AlreadyInitialized);
    }
    let result = install(service_name, &options);
    if result.is_err() {
        // A configuration error leaves nothing installed, so a corrected retry may succeed.
        INITIALIZED.store(false, Ordering::SeqCst);
    }
    result
}

fn install(
    service_name: &str,
    options: &TelemetryOptions,
) -> Result<TelemetryGuard, TelemetryError> {
    let log_filter = logging::env_filter(options.default_level)?;
    let exporting = otlp::export_enabled(options.otlp_endpoint.as_deref());
    if exporting && tokio::runtime::Handle::try_current().is_err() {
        return Err(TelemetryError::NoRuntime);
    }
    let provider = otlp::tracer_provider(service_name, options.otlp_endpoint.as_deref())?;
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(TRACER_NAME))
        .with_filter(options.trace_level);

    let installed = tracing_subscriber::registry()
        .with(logging::stderr_layer(options.log_format).with_filter(log_filter))
        .with(otel_layer)
        .try_init();
    if installed.is_err() {
        // Someone else owns the global subscriber; ours would never see a span.
        let _ = provider.shutdown();
        return Err(TelemetryError::AlreadyInitialized);
    }

    opentelemetry::global::set_tracer_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    tracing::debug!(service = service_name, exporting, "telemetry initialised");
    Ok(TelemetryGuard {
        provider: Some(provider),
        exporting,
    })
}

/// Keeps the tracer provider alive; dropping it flushes pending spans and shuts the
/// exporter down, so the last spans of a run reach the collector.
///
/// Drop it (or call [`TelemetryGuard::shutdown`]) while the Tokio runtime is still
/// running: the exporter's gRPC channel lives on it. On a multi-thread runtime the
/// blocking flush is wrapped in `block_in_place`; on a current-thread runtime it can
/// only complete when exporting is disabled or times out (`OTEL_EXPORTER_OTLP_TIMEOUT`).
#[derive(Debug)]
#[must_use = "dropping the guard shuts down span export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    exporting: bool,
}

impl TelemetryGuard {
    /// Whether spans are exported over OTLP (an endpoint was configured).
    pub fn is_exporting(&self) -> bool {
        self.exporting
    }

    /// The process's tracer provider, e.g. to build extra tracers.
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.provider.as_ref()
    }

    /// Exports every finished span now; tests use it before asking the collector.
    pub fn force_flush(&self) -> Result<(), TelemetryError> {
        match &self.provider {
            Some(provider) => Ok(blocking(|| provider.force_flush())?),
            None => Ok(()),
        }
    }

    /// Flushes and shuts the exporter down, reporting failures that `drop` would swallow.
    pub fn shutdown(mut self) -> Result<(), TelemetryError> {
        match self.provider.take() {
            Some(provider) => Ok(blocking(|| provider.shutdown())?),
            None => Ok(()),
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = blocking(|| provider.shutdown())
        {
            eprintln!("rudder-telemetry: tracer provider shutdown failed: {error}");
        }
    }
}

/// Runs a blocking provider call without starving the runtime the exporter needs.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
