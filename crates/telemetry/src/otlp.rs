//! The OpenTelemetry tracer provider, with OTLP/gRPC export when a collector is configured.
//!
//! The provider is installed even when nothing is exported: the `tracing-opentelemetry`
//! layer then still gives every span a trace and span id, so a service that does not
//! export still forwards the caller's `traceparent` and the trace stays whole across it.

use opentelemetry::Key;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::{EnvResourceDetector, ResourceDetector};
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::TelemetryError;

const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";

fn env_set(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether spans leave the process: always with an explicit endpoint; otherwise when
/// `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` is set and neither `OTEL_SDK_DISABLED=true`
/// nor `OTEL_TRACES_EXPORTER=none` says otherwise.
pub(crate) fn export_enabled(explicit_endpoint: Option<&str>) -> bool {
    if explicit_endpoint.is_some() {
        return true;
    }
    if env_set(OTEL_SDK_DISABLED).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return false;
    }
    if env_set(OTEL_TRACES_EXPORTER).is_some_and(|v| v.eq_ignore_ascii_case("none")) {
        return false;
    }
    env_set(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).is_some()
        || env_set(OTEL_EXPORTER_OTLP_ENDPOINT).is_some()
}

/// The resource describing this process. `service_name` is only a default:
/// `OTEL_SERVICE_NAME` or a `service.name` in `OTEL_RESOURCE_ATTRIBUTES` wins, as the
/// OpenTelemetry spec requires (the SDK's detectors read both).
pub(crate) fn resource(service_name: &str) -> Resource {
    let env_names_service = env_set(OTEL_SERVICE_NAME).is_some()
        || EnvResourceDetector::new()
            .detect()
            .get(&Key::from_static_str("service.name"))
            .is_some();
    let builder = Resource::builder();
    if env_names_service {
        builder.build()
    } else {
        builder.with_service_name(service_name.to_owned()).build()
    }
}

/// Builds the process's tracer provider.
///
/// Sampler, span limits and batch settings are left to the SDK's defaults, which read
/// `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_SPAN_*_LIMIT` and `OTEL_BSP_*`; the exporter reads
/// `OTEL_EXPORTER_OTLP_*` (headers, timeout, compression, certificates). Must run inside a
/// Tokio runtime when exporting: tonic's lazy channel spawns its worker there.
pub(crate) fn tracer_provider(
    service_name: &str,
    explicit_endpoint: Option<&str>,
) -> Result<SdkTracerProvider, TelemetryError> {
    let builder = SdkTracerProvider::builder().with_resource(resource(service_name));
    if !export_enabled(explicit_endpoint) {
        return Ok(builder.build());
    }
    let mut exporter = SpanExporter::builder().with_tonic();
    if let Some(endpoint) = explicit_endpoint {
        exporter = exporter.with_endpoint(endpoint);
    }
    Ok(builder.with_batch_exporter(exporter.build()?).build())
}

#[cfg(test)]
mod tests {
    //! The environment is process-wide (and `set_var` is unsafe), so each case re-runs
    //! this test binary as a child with the variables it needs.

    use std::process::Command;

    use super::*;

    const CHILD: &str = "RUDDER_TELEMETRY_OTLP_CHILD";

    /// Runs `test` alone in a child process with a clean OTEL_* environment plus `envs`.
    fn in_child(test: &str, envs: &[(&str, &str)]) {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.args(["--exact", test, "--test-threads=1"]);
        for (key, _) in std::env::vars() {
            if key.starts_with("OTEL_") {
                command.env_remove(key);
            }
        }
        command.env(CHILD, "1").envs(envs.iter().copied());
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{test} failed in the child:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("1 passed"),
            "the child ran {test}"
        );
    }

    fn service_name_of(resource: &Resource) -> String {
        resource
            .get(&Key::from_static_str("service.name"))
            .unwrap()
            .to_string()
    }

    #[test]
    fn service_name_defaults_to_the_given_one() {
        if std::env::var(CHILD).is_err() {
            return in_child("otlp::tests::service_name_defaults_to_the_given_one", &[]);
        }
        assert_eq!(service_name_of(&resource("rudder-x")), "rudder-x");
        assert!(!export_enabled(None));
        assert!(export_enabled(Some("http://127.0.0.1:4317")));
    }

    #[test]
    fn otel_service_name_overrides_the_given_one() {
        if std::env::var(CHILD).is_err() {
            return in_child(
                "otlp::tests::otel_service_name_overrides_the_given_one",
                &[
                    ("OTEL_SERVICE_NAME", "from-env"),
                    (
                        "OTEL_RESOURCE_ATTRIBUTES",
                        "deployment.environment.name=lab",
                    ),
                ],
            );
        }
        let resource = resource("rudder-x");
        assert_eq!(service_name_of(&resource), "from-env");
        assert_eq!(
            resource
                .get(&Key::from_static_str("deployment.environment.name"))
                .unwrap()
                .to_string(),
            "lab"
        );
    }

    #[test]
    fn resource_attributes_service_name_overrides_the_given_one() {
        if std::env::var(CHILD).is_err() {
            return in_child(
                "otlp::tests::resource_attributes_service_name_overrides_the_given_one",
                &[("OTEL_RESOURCE_ATTRIBUTES", "service.name=attr-name")],
            );
        }
        assert_eq!(service_name_of(&resource("rudder-x")), "attr-name");
    }

    #[test]
    fn endpoint_variables_enable_export_unless_disabled() {
        if std::env::var(CHILD).is_err() {
            in_child(
                "otlp::tests::endpoint_variables_enable_export_unless_disabled",
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")],
            );
            in_child(
                "otlp::tests::endpoint_variables_enable_export_unless_disabled",
                &[(
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://127.0.0.1:4317",
                )],
            );
            return;
        }
        assert!(export_enabled(None));
    }

    #[test]
    fn sdk_disabled_or_exporter_none_turns_export_off() {
        if std::env::var(CHILD).is_err() {
            for off in [
                ("OTEL_SDK_DISABLED", "true"),
                ("OTEL_TRACES_EXPORTER", "none"),
            ] {
                in_child(
                    "otlp::tests::sdk_disabled_or_exporter_none_turns_export_off",
                    &[
                        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
                        off,
                    ],
                );
            }
            return;
        }
        assert!(!export_enabled(None));
    }
}
