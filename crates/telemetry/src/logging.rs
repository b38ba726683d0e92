//! Log output: the `--log-format` choice and the `tracing` layers that write to stderr.

use std::fmt;
use std::io::IsTerminal;
use std::str::FromStr;

use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::registry::LookupSpan;

use crate::TelemetryError;

/// How log lines are written to stderr.
///
/// Services expose it as `--log-format text|json`; it parses with [`FromStr`] (case
/// insensitive) so a clap argument can use it without this crate depending on clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines, coloured when stderr is a terminal. For laptops.
    #[default]
    Text,
    /// One JSON object per line, with the current span's fields. For log shippers.
    Json,
}

impl LogFormat {
    /// The flag value that names this format.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl FromStr for LogFormat {
    type Err = TelemetryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(TelemetryError::InvalidLogFormat(s.to_owned())),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Crates whose `info` chatter (e.g. "global tracer provider is set") is noise in a
/// service's log; quieted unless `RUST_LOG` asks for them.
const QUIET_BY_DEFAULT: [&str; 3] = ["opentelemetry", "opentelemetry_sdk", "opentelemetry_otlp"];

/// The log filter: `RUST_LOG` when set, otherwise `default_level` for everything (with
/// the OpenTelemetry SDK's own logs at `warn`).
///
/// An unparsable `RUST_LOG` is an error rather than silently ignored, so a typo does not
/// hide the logs someone asked for.
pub(crate) fn env_filter(default_level: LevelFilter) -> Result<EnvFilter, TelemetryError> {
    let builder = EnvFilter::builder().with_default_directive(default_level.into());
    let rust_log = std::env::var(EnvFilter::DEFAULT_ENV).unwrap_or_default();
    if !rust_log.trim().is_empty() {
        return Ok(builder.from_env()?);
    }
    let mut filter = builder.parse_lossy("");
    for target in QUIET_BY_DEFAULT {
        let directive = format!("{target}={}", LevelFilter::WARN.min(default_level));
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    Ok(filter)
}

/// The stderr layer in the chosen format.
pub(crate) fn stderr_layer<S>(format: LogFormat) -> Box<dyn Layer<S> + Send + Sync + 'static>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_format_parses_flag_values() {
        assert_eq!("text".parse::<LogFormat>().unwrap(), LogFormat::Text);
        assert_eq!("JSON".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert!(matches!(
            "yaml".parse::<LogFormat>(),
            Err(TelemetryError::InvalidLogFormat(s)) if s == "yaml"
        ));
        assert_eq!(LogFormat::Json.to_string(), "json");
    }
}
