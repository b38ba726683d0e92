//! What one `rudder-bench store` run measured: the JSON document `--json` prints and
//! `compare` reads, and the human table printed otherwise.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::stats::LatencySummary;
use crate::{Error, Result};

/// The `format` field of a result document; bumped when its meaning changes.
pub const FORMAT: &str = "rudder-bench/store/v1";

/// The requests a phase sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// Put of a `value_size`-byte value to a random key of the key space.
    Put,
    /// Linearizable Range of one existing key.
    Range,
}

impl Workload {
    /// The name used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Put => "put",
            Workload::Range => "range",
        }
    }
}

/// One phase: a workload at one concurrency, and what it achieved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    pub workload: Workload,
    /// Concurrent clients, each with one request in flight at a time.
    pub clients: usize,
    /// Requests that succeeded; the latencies are theirs.
    pub ops: u64,
    /// Requests that failed (not in the latencies, not in ops/s).
    pub errors: u64,
    /// The first error seen, to tell a timeout from a refused certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Wall time from the first request sent to the last answer received.
    pub elapsed_secs: f64,
    /// `ops / elapsed_secs`.
    pub ops_per_sec: f64,
    pub latency: LatencySummary,
}

/// A whole run: where it ran, how, and its phases in the order run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Always [`FORMAT`].
    pub format: String,
    /// What was measured (`etcd`, `rudder`): `compare` pairs runs by it.
    pub label: String,
    /// Cluster size, from MemberList (the endpoint count when that fails).
    pub members: usize,
    /// The server's version from Maintenance/Status.
    pub server_version: String,
    pub endpoints: Vec<String>,
    pub tls: bool,
    /// gRPC connections the clients were spread over.
    pub conns: usize,
    pub value_size: usize,
    pub key_space: u64,
    /// The bound of each phase: a duration in seconds, or a request count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    pub phases: Vec<PhaseResult>,
}

impl RunResult {
    /// The result as pretty JSON (what `--json` prints).
    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and vectors always serializes.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Parses a result document; `source` names it in the error.
    pub fn from_json(text: &str, source: &Path) -> Result<Self> {
        let result: RunResult = serde_json::from_str(text).map_err(|e| Error::Parse {
            path: source.to_path_buf(),
            source: e,
        })?;
        if result.format != FORMAT {
            return Err(Error::Invalid(format!(
                "{}: format {:?}, expected {FORMAT:?}",
                source.display(),
                result.format
            )));
        }
        Ok(result)
    }

    /// Reads and parses a result file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Read {
            path: path.to_path_buf(),
            source: e,
        })?;
        Self::from_json(&text, path)
    }
}

/// The line above the table: what was measured and with which load.
pub fn render_header(run: &RunResult) -> String {
    let bound = match (run.duration_secs, run.total) {
        (Some(secs), _) => format!("{secs}s per phase"),
        (None, Some(total)) => format!("{total} requests per phase"),
        (None, None) => "unbounded".to_string(),
    };
    format!(
        "{label}: {version}, {members} member(s), {endpoints}, {tls}, {conns} conns, {size}-byte values, {keys} keys, {bound}\n{columns}",
        label = run.label,
        version = run.server_version,
        members = run.members,
        endpoints = run.endpoints.join(","),
        tls = if run.tls { "mTLS" } else { "plaintext" },
        conns = run.conns,
        size = run.value_size,
        keys = run.key_space,
        columns = format_args!(
            "{:<8} {:>7} {:>9} {:>6} {:>10} {:>9} {:>9} {:>9} {:>9}",
            "workload",
            "clients",
            "ops",
            "errors",
            "ops/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms"
        ),
    )
}

/// One table line for a phase, printed as soon as the phase ends.
pub fn render_phase(phase: &PhaseResult) -> String {
    let ms = |us: u64| us as f64 / 1000.0;
    let mut line = format!(
        "{:<8} {:>7} {:>9} {:>6} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
        phase.workload.name(),
        phase.clients,
        phase.ops,
        phase.errors,
        phase.ops_per_sec,
        ms(phase.latency.p50_us),
        ms(phase.latency.p99_us),
        ms(phase.latency.p999_us),
        ms(phase.latency.max_us),
    );
    if let Some(error) = &phase.first_error {
        let _ = write!(line, "  first error: {error}");
    }
    line
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// A result with one phase per `(workload, clients, ops/s, p99 µs)`.
    pub fn run(label: &str, members: usize, phases: &[(Workload, usize, f64, u64)]) -> RunResult {
        RunResult {
            format: FORMAT.to_string(),
            label: label.to_string(),
            members,
            server_version: "3.4.23".to_string(),
            endpoints: vec!["https://127.0.0.1:2379".to_string()],
            tls: true,
            conns: 4,
            value_size: 256,
            key_space: 10_000,
            duration_secs: Some(10.0),
            total: None,
            phases: phases
                .iter()
                .map(|&(workload, clients, ops_per_sec, p99_us)| PhaseResult {
                    workload,
                    clients,
                    ops: (ops_per_sec * 10.0) as u64,
                    errors: 0,
                    first_error: None,
                    elapsed_secs: 10.0,
                    ops_per_sec,
                    latency: LatencySummary {
                        p50_us: p99_us / 2,
                        p99_us,
                        p999_us: p99_us * 2,
                        max_us: p99_us * 3,
                        mean_us: p99_us / 2,
                    },
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::run;
    use super::*;

    #[test]
    fn json_round_trips() {
        let original = run("etcd", 3, &[(Workload::Put, 16, 1234.5, 9000)]);
        let parsed = RunResult::from_json(&original.to_json(), Path::new("x.json")).unwrap();
        assert_eq!(parsed, original);
    }

    #[test]
    fn json_names_workloads_in_snake_case() {
        let json = run("etcd", 1, &[(Workload::Range, 16, 1.0, 1)]).to_json();
        assert!(json.contains(r#""workload": "range""#), "{json}");
    }

    #[test]
    fn other_formats_are_refused() {
        let mut other = run("etcd", 1, &[]);
        other.format = "something/else".to_string();
        let err = RunResult::from_json(&other.to_json(), Path::new("o.json")).unwrap_err();
        assert!(err.to_string().contains("o.json"), "{err}");
        let err = RunResult::from_json("{}", Path::new("e.json")).unwrap_err();
        assert!(matches!(err, Error::Parse { .. }), "{err}");
    }

    #[test]
    fn phase_line_in_milliseconds() {
        let result = run("etcd", 1, &[(Workload::Put, 64, 2500.0, 12_340)]);
        let line = render_phase(&result.phases[0]);
        assert_eq!(
            line,
            "put           64     25000      0     2500.0      6.17     12.34     24.68     37.02"
        );
        assert!(render_header(&result).starts_with("etcd: 3.4.23, 1 member(s)"));
    }
}
