//! `init` as a service's `main` calls it: logs on stderr in the chosen format, level from
//! `RUST_LOG`, a second call refused, OTLP outside a runtime refused. Each case runs in a
//! child process (this test binary re-run with an environment variable naming the case),
//! because a process has one global subscriber and its environment is shared.

use std::process::{Command, Output};

use rudder_telemetry::{LogFormat, TelemetryError, TelemetryOptions};

const CASE: &str = "RUDDER_TELEMETRY_INIT_CASE";

/// Runs `test` in a child with `case` set, a clean RUST_LOG/OTEL_* environment and `envs`.
fn run_child(test: &str, case: &str, envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--exact", test, "--test-threads=1", "--nocapture"]);
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    command.env(CASE, case).envs(envs.iter().copied());
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "child {case} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "the child ran {test}"
    );
    output
}

fn child_case() -> Option<String> {
    std::env::var(CASE).ok()
}

fn log_sample() {
    let span = tracing::info_span!("reconcile", key = "default/web");
    let _entered = span.enter();
    tracing::debug!("hidden at the default level");
    tracing::info!(replicas = 3, "scaled replicaset");
}

#[test]
fn json_logs_go_to_stderr_one_object_per_line() {
    if child_case().is_some() {
        let guard = rudder_telemetry::init(
            "rudder-test",
            TelemetryOptions::with_log_format(LogFormat::Json),
        )
        .unwrap();
        assert!(!guard.is_exporting());
        log_sample();
        return;
    }
    let output = run_child("json_logs_go_to_stderr_one_object_per_line", "json", &[]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!String::from_utf8_lossy(&output.stdout).contains("scaled replicaset"));
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let line = lines
        .iter()
        .find(|v| v["fields"]["message"] == "scaled replicaset")
        .unwrap_or_else(|| panic!("no JSON log line in {stderr}"));
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["replicas"], 3);
    assert_eq!(line["span"]["name"], "reconcile");
    assert_eq!(line["span"]["key"], "default/web");
    assert!(!stderr.contains("hidden at the default level"), "{stderr}");
}

#[test]
fn text_logs_follow_rust_log() {
    if child_case().is_some() {
        let _guard = rudder_telemetry::init("rudder-test", TelemetryOptions::default()).unwrap();
        log_sample();
        return;
    }
    let output = run_child(
        "text_logs_follow_rust_log",
        "text",
        &[("RUST_LOG", "debug")],
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("scaled replicaset"), "{stderr}");
    assert!(stderr.contains("hidden at the default level"), "{stderr}");
    assert!(
        !stderr.trim_start().starts_with('{'),
        "text, not JSON: {stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no colours when stderr is not a terminal"
    );
}

#[test]
fn second_init_is_refused_not_a_panic() {
    if child_case().is_some() {
        let _guard = rudder_telemetry::init("rudder-test", TelemetryOptions::default()).unwrap();
        let again = rudder_telemetry::init("rudder-test", TelemetryOptions::default());
        assert!(matches!(again, Err(TelemetryError::AlreadyInitialized)));
        return;
    }
    run_child("second_init_is_refused_not_a_panic", "twice", &[]);
}

#[test]
fn bad_rust_log_is_a_configuration_error() {
    if child_case().is_some() {
        let error = rudder_telemetry::init("rudder-test", TelemetryOptions::default()).unwrap_err();
        assert!(matches!(error, TelemetryError::InvalidFilter(_)), "{error}");
        return;
    }
    run_child(
        "bad_rust_log_is_a_configuration_error",
        "bad-filter",
        &[("RUST_LOG", "info,rudder=loud")],
    );
}

#[test]
fn otlp_outside_a_runtime_is_refused() {
    if child_case().is_some() {
        let error = rudder_telemetry::init("rudder-test", TelemetryOptions::default()).unwrap_err();
        assert!(matches!(error, TelemetryError::NoRuntime), "{error}");
        // Nothing was installed: a retry meets the same check, not "already initialised".
        let again = rudder_telemetry::init("rudder-test", TelemetryOptions::default()).unwrap_err();
        assert!(matches!(again, TelemetryError::NoRuntime), "{again}");
        return;
    }
    run_child(
        "otlp_outside_a_runtime_is_refused",
        "no-runtime",
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")],
    );
}
