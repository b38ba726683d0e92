//! What one `rudder-bench store` or `rudder-bench apiserver` run measured: the JSON
//! documents `--json` prints and `compare` reads, and the human table printed otherwise.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::stats::LatencySummary;
use crate::{Error, Result};

/// The `format` field of a store result document; bumped when its meaning changes.
pub const FORMAT: &str = "rudder-bench/store/v1";
/// The `format` field of an API server result document.
pub const APISERVER_FORMAT: &str = "rudder-bench/apiserver/v1";

/// The requests a phase sends: the store's (etcd v3) and the API server's (REST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// Put of a `value_size`-byte value to a random key of the key space.
    Put,
    /// Linearizable Range of one existing key.
    Range,
    /// POST of a new pod.
    Create,
    /// GET of an existing pod.
    Get,
    /// PUT of a pod with the resourceVersion of its last write.
    Update,
    /// GET of every pod of a namespace with `resourceVersion=0` (the watch cache).
    ListCache,
    /// GET of every pod of a namespace without a resourceVersion (a quorum read).
    ListQuorum,
    /// Events from one write reaching many watchers; latency from the write's answer
    /// to each watcher's receipt.
    Watch,
}

impl Workload {
    /// The name used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Put => "put",
            Workload::Range => "range",
            Workload::Create => "create",
            Workload::Get => "get",
            Workload::Update => "update",
            Workload::ListCache => "list_cache",
            Workload::ListQuorum => "list_quorum",
            Workload::Watch => "watch",
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
        to_json(self)
    }

    /// Parses a result document; `source` names it in the error.
    pub fn from_json(text: &str, source: &Path) -> Result<Self> {
        let result: RunResult = parse(text, source)?;
        check_format(&result.format, FORMAT, source)?;
        Ok(result)
    }

    /// Reads and parses a result file.
    pub fn read(path: &Path) -> Result<Self> {
        Self::from_json(&read_text(path)?, path)
    }
}

/// A whole `rudder-bench apiserver` run: the server, the load's shape, the phases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiserverRunResult {
    /// Always [`APISERVER_FORMAT`].
    pub format: String,
    /// What was measured (`etcd`, `rudder`: the store under the API server).
    pub label: String,
    /// `gitVersion` of the server's `/version`.
    pub server_version: String,
    /// The API server URL.
    pub server: String,
    /// HTTP/2 connections the request clients were spread over.
    pub conns: usize,
    /// Pods the get and update phases work on.
    pub pool: usize,
    /// Pods in the namespace the list phases read.
    pub list_pods: usize,
    /// Concurrent watchers of the watch phase, and the writes they watched.
    pub watchers: usize,
    pub watch_writes: usize,
    /// The bound of each create/get/update phase: seconds, or a request count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    pub phases: Vec<PhaseResult>,
}

impl ApiserverRunResult {
    /// The result as pretty JSON (what `--json` prints).
    pub fn to_json(&self) -> String {
        to_json(self)
    }

    /// Parses a result document; `source` names it in the error.
    pub fn from_json(text: &str, source: &Path) -> Result<Self> {
        let result: ApiserverRunResult = parse(text, source)?;
        check_format(&result.format, APISERVER_FORMAT, source)?;
        Ok(result)
    }
}

/// Any result document, as `compare` reads them (told apart by `format`).
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    Store(RunResult),
    Apiserver(ApiserverRunResult),
}

impl Document {
    /// Parses either kind of result; `source` names it in errors.
    pub fn from_json(text: &str, source: &Path) -> Result<Self> {
        #[derive(Deserialize)]
        struct Format {
            format: String,
        }
        let format: Format = parse(text, source)?;
        match format.format.as_str() {
            APISERVER_FORMAT => {
                ApiserverRunResult::from_json(text, source).map(Document::Apiserver)
            }
            _ => RunResult::from_json(text, source).map(Document::Store),
        }
    }

    /// Reads and parses a result file.
    pub fn read(path: &Path) -> Result<Self> {
        Self::from_json(&read_text(path)?, path)
    }

    /// The run's label (`etcd`, `rudder`).
    pub fn label(&self) -> &str {
        match self {
            Document::Store(run) => &run.label,
            Document::Apiserver(run) => &run.label,
        }
    }

    /// Store members behind the figures: an API server run always has one store.
    pub fn members(&self) -> usize {
        match self {
            Document::Store(run) => run.members,
            Document::Apiserver(_) => 1,
        }
    }

    pub fn phases(&self) -> &[PhaseResult] {
        match self {
            Document::Store(run) => &run.phases,
            Document::Apiserver(run) => &run.phases,
        }
    }
}

fn to_json<T: Serialize>(document: &T) -> String {
    // Structs of strings, numbers and vectors always serialize.
    serde_json::to_string_pretty(document).unwrap_or_default()
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, source: &Path) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Parse {
        path: source.to_path_buf(),
        source: e,
    })
}

fn check_format(found: &str, expected: &str, source: &Path) -> Result<()> {
    if found == expected {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "{}: format {found:?}, expected {expected:?}",
        source.display()
    )))
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::Read {
        path: path.to_path_buf(),
        source: e,
    })
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
        columns = columns(),
    )
}

/// The line above an API server run's table.
pub fn render_apiserver_header(run: &ApiserverRunResult) -> String {
    let bound = match (run.duration_secs, run.total) {
        (Some(secs), _) => format!("{secs}s per phase"),
        (None, Some(total)) => format!("{total} requests per phase"),
        (None, None) => "unbounded".to_string(),
    };
    format!(
        "{label}: {version} at {server}, {conns} h2 conns, {pool} pods for get/update, lists of {list} pods, {watchers} watchers of {writes} writes, {bound}\n{columns}",
        label = run.label,
        version = run.server_version,
        server = run.server,
        conns = run.conns,
        pool = run.pool,
        list = run.list_pods,
        watchers = run.watchers,
        writes = run.watch_writes,
        columns = columns(),
    )
}

fn columns() -> String {
    format!(
        "{:<11} {:>7} {:>9} {:>6} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "workload", "clients", "ops", "errors", "ops/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms"
    )
}

/// One table line for a phase, printed as soon as the phase ends.
pub fn render_phase(phase: &PhaseResult) -> String {
    let ms = |us: u64| us as f64 / 1000.0;
    let mut line = format!(
        "{:<11} {:>7} {:>9} {:>6} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
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

    /// An API server result with one phase per `(workload, clients, ops/s, p99 µs)`.
    pub fn apiserver_run(
        label: &str,
        phases: &[(Workload, usize, f64, u64)],
    ) -> ApiserverRunResult {
        ApiserverRunResult {
            format: APISERVER_FORMAT.to_string(),
            label: label.to_string(),
            server_version: "v1.33.0-rudder".to_string(),
            server: "https://127.0.0.1:6443".to_string(),
            conns: 4,
            pool: 100,
            list_pods: 10_000,
            watchers: 1000,
            watch_writes: 50,
            duration_secs: Some(10.0),
            total: None,
            phases: run(label, 1, phases).phases,
        }
    }

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
    fn documents_are_told_apart_by_format() {
        let store = run("etcd", 3, &[(Workload::Put, 1, 1.0, 1)]);
        let parsed = Document::from_json(&store.to_json(), Path::new("s.json")).unwrap();
        assert_eq!((parsed.label(), parsed.members()), ("etcd", 3));
        let apiserver = fixtures::apiserver_run("rudder", &[(Workload::ListCache, 1, 9.0, 50)]);
        let parsed = Document::from_json(&apiserver.to_json(), Path::new("a.json")).unwrap();
        assert_eq!(parsed, Document::Apiserver(apiserver));
        assert_eq!(parsed.members(), 1);
        assert_eq!(parsed.phases()[0].workload, Workload::ListCache);
        let err = Document::from_json(r#"{"format": "x"}"#, Path::new("x.json")).unwrap_err();
        assert!(matches!(err, Error::Parse { .. }), "{err}");
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
            "put              64     25000      0     2500.0      6.17     12.34     24.68     37.02"
        );
        assert!(render_header(&result).starts_with("etcd: 3.4.23, 1 member(s)"));
    }
}
