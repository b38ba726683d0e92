//! `rudder-bench store`: flags named as etcd's `benchmark` and `etcdctl` name them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::load::{LoadConfig, Session, TlsFiles, plan_phases};
use crate::result::{render_header, render_phase};
use crate::{Error, Result};

/// Which workloads a run includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkloadArg {
    Put,
    Range,
}

/// Flags of `rudder-bench store`.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Client URLs of the cluster, comma-separated (http:// or https://).
    #[arg(long, value_name = "URL,...", value_delimiter = ',', required = true)]
    pub endpoints: Vec<String>,
    /// CA that the server certificates chain to (with --cert and --key: mTLS).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate presented to the server.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Key of the client certificate.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// gRPC connections the clients are spread over (connection i goes to endpoint i mod N).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub conns: usize,
    /// Concurrent clients of each put phase, one phase per value.
    #[arg(
        long,
        value_name = "N,...",
        value_delimiter = ',',
        default_value = "1,16,64,256"
    )]
    pub clients: Vec<usize>,
    /// Concurrent clients of each linearizable range phase.
    #[arg(
        long,
        value_name = "N,...",
        value_delimiter = ',',
        default_value = "16"
    )]
    pub range_clients: Vec<usize>,
    /// Workloads to run, in this order: put, range.
    #[arg(
        long,
        value_name = "W,...",
        value_delimiter = ',',
        default_value = "put,range"
    )]
    pub workloads: Vec<WorkloadArg>,
    /// How long each phase runs (e.g. 500ms, 10s, 2m) [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "total")]
    pub duration: Option<Duration>,
    /// Requests per phase, instead of a duration.
    #[arg(long, value_name = "N")]
    pub total: Option<u64>,
    /// Bytes of each put value.
    #[arg(long, value_name = "BYTES", default_value_t = 256)]
    pub value_size: usize,
    /// Distinct keys the puts pick from at random.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub key_space: u64,
    /// What is measured (etcd, rudder, ...): `compare` pairs runs by this label.
    #[arg(long, value_name = "NAME", default_value = "store")]
    pub label: String,
    /// How long to wait for the endpoints to answer before the first phase.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    pub wait: Duration,
    /// Deadline of each request; a later answer counts as an error.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// Print the result as JSON on stdout (the table then goes to stderr).
    #[arg(long)]
    pub json: bool,
}

/// Parses `250ms`, `10s`, `2m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 500ms, 10s or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("{text:?}: unit must be ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

impl StoreArgs {
    /// Checks the flags into a run description; contradictions are [`Error::Invalid`].
    pub fn to_config(&self) -> Result<LoadConfig> {
        let invalid = |why: String| Err(Error::Invalid(why));
        let tls = match (&self.cacert, &self.cert, &self.key) {
            (Some(ca), Some(cert), Some(key)) => Some(TlsFiles {
                ca: ca.clone(),
                cert: cert.clone(),
                key: key.clone(),
            }),
            (None, None, None) => None,
            _ => return invalid("--cacert, --cert and --key go together".into()),
        };
        let scheme = if tls.is_some() { "https://" } else { "http://" };
        if let Some(bad) = self.endpoints.iter().find(|e| !e.starts_with(scheme)) {
            return invalid(format!(
                "endpoint {bad:?} must start with {scheme} ({})",
                if tls.is_some() {
                    "TLS flags given"
                } else {
                    "no --cacert/--cert/--key given"
                }
            ));
        }
        if self.conns == 0 || self.key_space == 0 || self.value_size == 0 {
            return invalid("--conns, --key-space and --value-size must be at least 1".into());
        }
        let put_clients = if self.workloads.contains(&WorkloadArg::Put) {
            &self.clients[..]
        } else {
            &[]
        };
        let range_clients = if self.workloads.contains(&WorkloadArg::Range) {
            &self.range_clients[..]
        } else {
            &[]
        };
        if put_clients.iter().chain(range_clients).any(|&c| c == 0) {
            return invalid("client counts must be at least 1".into());
        }
        let bound = super::phase_bound(self.total, self.duration)?;
        Ok(LoadConfig {
            label: self.label.clone(),
            endpoints: self.endpoints.clone(),
            tls,
            conns: self.conns,
            phases: plan_phases(put_clients, range_clients),
            bound,
            value_size: self.value_size,
            key_space: self.key_space,
            wait: self.wait,
            request_timeout: self.timeout,
        })
    }
}

/// Runs the phases, printing each line as it ends, then the JSON result if asked.
pub async fn run(args: StoreArgs) -> Result<ExitCode> {
    let config = args.to_config()?;
    let session = Session::connect(config).await?;
    let emit = |line: String| {
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    let mut result = session.result();
    emit(render_header(&result));
    for phase in session.phases() {
        let done = session.run_phase(phase).await?;
        emit(render_phase(&done));
        result.phases.push(done);
    }
    if args.json {
        println!("{}", result.to_json());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{Cli, Command};
    use crate::driver::Bound;
    use crate::result::Workload;
    use clap::Parser;

    fn args(line: &str) -> StoreArgs {
        let argv = std::iter::once("rudder-bench").chain(line.split_whitespace());
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Store(args) => args,
            other => panic!("not store: {other:?}"),
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("10h").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn defaults_are_the_issue_workload() {
        let config = args("store --endpoints http://127.0.0.1:2379")
            .to_config()
            .unwrap();
        let phases: Vec<(Workload, usize)> = config
            .phases
            .iter()
            .map(|p| (p.workload, p.clients))
            .collect();
        assert_eq!(
            phases,
            vec![
                (Workload::Put, 1),
                (Workload::Put, 16),
                (Workload::Put, 64),
                (Workload::Put, 256),
                (Workload::Range, 16)
            ]
        );
        assert_eq!(config.bound, Bound::Duration(Duration::from_secs(10)));
        assert_eq!((config.conns, config.value_size), (4, 256));
        assert_eq!(config.tls, None);
    }

    #[test]
    fn total_workloads_and_tls() {
        let config = args(
            "store --endpoints https://127.0.0.1:1,https://127.0.0.1:2 --cacert ca --cert c --key k \
             --total 500 --workloads range --range-clients 4,8",
        )
        .to_config()
        .unwrap();
        assert_eq!(config.bound, Bound::Total(500));
        assert_eq!(config.phases.len(), 2);
        assert!(config.phases.iter().all(|p| p.workload == Workload::Range));
        assert_eq!(config.tls.unwrap().ca, PathBuf::from("ca"));
    }

    #[test]
    fn contradictions_are_refused() {
        for (line, why) in [
            ("store --endpoints http://a:1 --cacert ca", "go together"),
            (
                "store --endpoints http://a:1 --cacert ca --cert c --key k",
                "https://",
            ),
            ("store --endpoints https://a:1", "http://"),
            ("store --endpoints http://a:1 --clients 1,0", "at least 1"),
            ("store --endpoints http://a:1 --total 0", "--total"),
            ("store --endpoints http://a:1 --conns 0", "--conns"),
            ("store --endpoints http://a:1 --duration 0s", "--duration"),
        ] {
            let err = args(line).to_config().unwrap_err();
            assert!(err.to_string().contains(why), "{line}: {err}");
            assert_eq!(err.exit_code(), 64);
        }
        let argv = [
            "rudder-bench",
            "store",
            "--endpoints",
            "http://a:1",
            "--total",
            "5",
            "--duration",
            "1s",
        ];
        assert!(Cli::try_parse_from(argv).is_err());
    }
}
