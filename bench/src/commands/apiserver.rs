//! `rudder-bench apiserver`: flags named as kubectl names them (`--kubeconfig`,
//! `--server`, `--certificate-authority`, `--client-certificate`, `--client-key`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::store::parse_duration;
use crate::apiserver::{ApiserverConfig, Session, Target, plan_phases};
use crate::driver::Bound;
use crate::result::{Workload, render_apiserver_header, render_phase};
use crate::{Error, Result};

/// Which workloads a run includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiWorkloadArg {
    Create,
    Get,
    Update,
    /// Both lists: from the watch cache and from quorum.
    List,
    ListCache,
    ListQuorum,
    Watch,
}

/// Flags of `rudder-bench apiserver`.
#[derive(Debug, Clone, Args)]
pub struct ApiserverArgs {
    /// Kubeconfig whose current context names the server and the client certificate
    /// (`rudderadm certs` writes `.rudder/admin.conf`) [default: $KUBECONFIG, else
    /// .rudder/admin.conf; not read when the three TLS files are given].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// API server URL (https://host:port); overrides the kubeconfig's.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// CA that the server certificate chains to (with --client-certificate and
    /// --client-key, instead of a kubeconfig).
    #[arg(long, value_name = "FILE")]
    pub certificate_authority: Option<PathBuf>,
    /// Client certificate presented to the server.
    #[arg(long, value_name = "FILE")]
    pub client_certificate: Option<PathBuf>,
    /// Key of the client certificate.
    #[arg(long, value_name = "FILE")]
    pub client_key: Option<PathBuf>,
    /// Name the server certificate must carry [default: the server URL's host].
    #[arg(long, value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// HTTP/2 connections the request clients share (client c uses connection c mod N).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub conns: usize,
    /// Concurrent clients of each create, get and update phase, one phase per value.
    #[arg(
        long,
        value_name = "N,...",
        value_delimiter = ',',
        default_value = "1,16,64"
    )]
    pub clients: Vec<usize>,
    /// Workloads to run (always in the order create, get, update, lists, watch).
    #[arg(
        long,
        value_name = "W,...",
        value_delimiter = ',',
        default_value = "create,get,update,list,watch"
    )]
    pub workloads: Vec<ApiWorkloadArg>,
    /// How long each create, get and update phase runs (500ms, 10s, 2m) [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "total")]
    pub duration: Option<Duration>,
    /// Requests per create, get and update phase, instead of a duration.
    #[arg(long, value_name = "N")]
    pub total: Option<u64>,
    /// Pods the get and update phases work on (each update client owns one).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub pool: usize,
    /// Pods in the namespace the list phases read.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub list_pods: usize,
    /// Lists each list phase makes.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub lists: u64,
    /// Concurrent clients of each list phase.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub list_clients: usize,
    /// Concurrent watchers of the fan-out phase.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub watchers: usize,
    /// Pod creates the watchers see, one at a time.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub watch_writes: usize,
    /// Pause between two of those writes.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "100ms")]
    pub watch_interval: Duration,
    /// Watch streams per HTTP/2 connection.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub streams_per_conn: usize,
    /// Prefix of the run's namespaces (<ns>, <ns>-list, <ns>-watch).
    #[arg(long, value_name = "NAME", default_value = "rudder-bench")]
    pub namespace: String,
    /// What is measured (etcd, rudder, ...): `compare` pairs runs by this label.
    #[arg(long, value_name = "NAME", default_value = "apiserver")]
    pub label: String,
    /// How long to wait for /readyz before the first phase, and for the watchers.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    pub wait: Duration,
    /// Deadline of each request; a later answer counts as an error.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    pub timeout: Duration,
    /// Print the result as JSON on stdout (the table then goes to stderr).
    #[arg(long)]
    pub json: bool,
}

impl ApiserverArgs {
    /// The workloads named, with `list` standing for both lists.
    fn workloads(&self) -> Vec<Workload> {
        self.workloads
            .iter()
            .flat_map(|w| match w {
                ApiWorkloadArg::Create => vec![Workload::Create],
                ApiWorkloadArg::Get => vec![Workload::Get],
                ApiWorkloadArg::Update => vec![Workload::Update],
                ApiWorkloadArg::List => vec![Workload::ListCache, Workload::ListQuorum],
                ApiWorkloadArg::ListCache => vec![Workload::ListCache],
                ApiWorkloadArg::ListQuorum => vec![Workload::ListQuorum],
                ApiWorkloadArg::Watch => vec![Workload::Watch],
            })
            .collect()
    }

    /// Checks the flags (everything but reading the TLS material).
    pub fn to_plan(&self) -> Result<(Vec<crate::load::Phase>, Bound)> {
        let invalid = |why: &str| Err(Error::Invalid(why.to_string()));
        let workloads = self.workloads();
        if self.conns == 0 || self.streams_per_conn == 0 || self.list_clients == 0 {
            return invalid("--conns, --streams-per-conn and --list-clients must be at least 1");
        }
        if self.clients.contains(&0) {
            return invalid("client counts must be at least 1");
        }
        let updates = workloads.contains(&Workload::Update) || workloads.contains(&Workload::Get);
        let most = self.clients.iter().copied().max().unwrap_or(0);
        if updates && self.pool < most.max(1) {
            return invalid(
                "--pool must be at least the largest --clients (each update client owns a pod)",
            );
        }
        let lists =
            workloads.contains(&Workload::ListCache) || workloads.contains(&Workload::ListQuorum);
        if lists && self.lists == 0 {
            return invalid("--lists must be at least 1");
        }
        if workloads.contains(&Workload::Watch) && (self.watchers == 0 || self.watch_writes == 0) {
            return invalid("--watchers and --watch-writes must be at least 1");
        }
        let bound = super::phase_bound(self.total, self.duration)?;
        let phases = plan_phases(&workloads, &self.clients, self.list_clients, self.watchers);
        Ok((phases, bound))
    }

    /// Where the server is and who we are: the three files, or a kubeconfig.
    pub fn target(&self) -> Result<Target> {
        match (
            &self.certificate_authority,
            &self.client_certificate,
            &self.client_key,
        ) {
            (Some(ca), Some(cert), Some(key)) => {
                let Some(server) = &self.server else {
                    return Err(Error::Invalid(
                        "--server is needed with the TLS files (there is no kubeconfig to name it)"
                            .into(),
                    ));
                };
                Target::from_files(server, ca, cert, key, self.tls_server_name.as_deref())
            }
            (None, None, None) => {
                let path = self.kubeconfig.clone().unwrap_or_else(|| {
                    std::env::var_os("KUBECONFIG")
                        .map(PathBuf::from)
                        .unwrap_or_else(|| PathBuf::from(".rudder/admin.conf"))
                });
                Target::from_kubeconfig(&path, self.server.as_deref())
            }
            _ => Err(Error::Invalid(
                "--certificate-authority, --client-certificate and --client-key go together".into(),
            )),
        }
    }

    /// The whole run description.
    pub fn to_config(&self) -> Result<ApiserverConfig> {
        let (phases, bound) = self.to_plan()?;
        Ok(ApiserverConfig {
            label: self.label.clone(),
            target: self.target()?,
            conns: self.conns,
            phases,
            bound,
            pool: self.pool,
            list_pods: self.list_pods,
            lists: self.lists,
            watch_writes: self.watch_writes,
            watch_interval: self.watch_interval,
            streams_per_conn: self.streams_per_conn,
            namespace: self.namespace.clone(),
            wait: self.wait,
            request_timeout: self.timeout,
        })
    }
}

/// Prepares, runs the phases printing each line as it ends, then the JSON if asked.
pub async fn run(args: ApiserverArgs) -> Result<ExitCode> {
    let config = args.to_config()?;
    let session = Session::connect(config).await?;
    let emit = |line: String| {
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    session
        .prepare(|line| eprintln!("rudder-bench: {line}"))
        .await?;
    let mut result = session.result();
    emit(render_apiserver_header(&result));
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
    use clap::Parser;

    fn args(line: &str) -> ApiserverArgs {
        let argv = std::iter::once("rudder-bench").chain(line.split_whitespace());
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Apiserver(args) => args,
            other => panic!("not apiserver: {other:?}"),
        }
    }

    #[test]
    fn defaults_are_the_issue_workload() {
        let (phases, bound) = args("apiserver").to_plan().unwrap();
        let shape: Vec<(Workload, usize)> =
            phases.iter().map(|p| (p.workload, p.clients)).collect();
        assert_eq!(
            shape,
            vec![
                (Workload::Create, 1),
                (Workload::Create, 16),
                (Workload::Create, 64),
                (Workload::Get, 1),
                (Workload::Get, 16),
                (Workload::Get, 64),
                (Workload::Update, 1),
                (Workload::Update, 16),
                (Workload::Update, 64),
                (Workload::ListCache, 1),
                (Workload::ListQuorum, 1),
                (Workload::Watch, 1000),
            ]
        );
        assert_eq!(bound, Bound::Duration(Duration::from_secs(10)));
        let a = args("apiserver");
        assert_eq!((a.list_pods, a.lists, a.watch_writes), (10_000, 20, 50));
    }

    #[test]
    fn contradictions_are_refused() {
        for (line, why) in [
            ("apiserver --clients 1,0", "at least 1"),
            ("apiserver --clients 128", "--pool"),
            ("apiserver --total 0", "--total"),
            ("apiserver --conns 0", "--conns"),
            ("apiserver --duration 0s", "--duration"),
            ("apiserver --workloads watch --watchers 0", "--watchers"),
            ("apiserver --workloads list --lists 0", "--lists"),
        ] {
            let err = args(line).to_plan().unwrap_err();
            assert!(err.to_string().contains(why), "{line}: {err}");
            assert_eq!(err.exit_code(), 64);
        }
        for (line, why) in [
            ("apiserver --certificate-authority ca", "go together"),
            (
                "apiserver --certificate-authority ca --client-certificate c --client-key k",
                "--server",
            ),
        ] {
            let err = args(line).target().unwrap_err();
            assert!(err.to_string().contains(why), "{line}: {err}");
        }
        assert!(
            args("apiserver --clients 128 --workloads create")
                .to_plan()
                .is_ok()
        );
    }

    #[test]
    fn a_missing_kubeconfig_is_named() {
        let err = args("apiserver --kubeconfig /nonexistent/admin.conf")
            .target()
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/admin.conf"), "{err}");
    }
}
