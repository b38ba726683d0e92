//! The one error type of this crate.

/// Everything that can go wrong while setting up or running telemetry.
///
/// Set-up errors (`InvalidLogFormat`, `InvalidFilter`, `Exporter`) are configuration
/// mistakes: a service's `main` should report them and exit with code 64.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `--log-format` (parsed by [`crate::LogFormat`]'s `FromStr`) got
    /// something other than `text` or `json`.
    #[error("invalid log format {0:?}: expected \"text\" or \"json\"")]
    InvalidLogFormat(String),

    /// `RUST_LOG` does not parse as a `tracing_subscriber::EnvFilter` directive list.
    #[error("invalid RUST_LOG filter: {0}")]
    InvalidFilter(#[from] tracing_subscriber::filter::FromEnvError),

    /// [`crate::init`] ran before in this process (a process has one global
    /// subscriber and one global tracer provider).
    #[error("telemetry is already initialised in this process")]
    AlreadyInitialized,

    /// OTLP export was asked for outside a Tokio runtime; the gRPC exporter needs one.
    #[error("telemetry::init must run inside a Tokio runtime when exporting over OTLP")]
    NoRuntime,

    /// The OTLP span exporter could not be built (bad endpoint, bad OTEL_* value).
    #[error("cannot build the OTLP span exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),

    /// Flushing or shutting down the tracer provider failed.
    #[error("tracer provider: {0}")]
    Provider(#[from] opentelemetry_sdk::error::OTelSdkError),

    /// The metrics/health server could not bind its address.
    #[error("cannot bind the metrics server to {addr}: {source}")]
    Bind {
        /// The address we tried, as given.
        addr: String,
        /// Why the bind failed.
        source: std::io::Error,
    },

    /// The metrics/health server stopped with an I/O error.
    #[error("metrics server: {0}")]
    Serve(#[from] std::io::Error),

    /// The metrics/health server task panicked or was aborted.
    #[error("metrics server task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}
