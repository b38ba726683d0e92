//! The store load generator: etcd v3 requests from many concurrent clients over a few
//! gRPC connections, as etcd's own `benchmark` tool sends them.
//!
//! Connection `i` goes to endpoint `i mod endpoints` and client `c` uses connection
//! `c mod conns`, so load spreads over members and HTTP/2 connections alike. Each client
//! is a task with one request in flight at a time (closed loop): throughput at N clients
//! is what N callers waiting on their answers get, and latency is measured per request.
//! Every phase is bounded, by a duration or by a request count, and every request by a
//! timeout, so a run always ends, even against a dead server.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Certificate, Client, ConnectOptions, Identity, KvClient, TlsOptions};

pub use crate::driver::Bound;
use crate::driver::{KeyPicker, Requester, run_closed_loop};
use crate::result::{FORMAT, PhaseResult, RunResult, Workload};
use crate::{Error, Result};

/// The key every range phase reads; written once before the phases.
pub const RANGE_KEY: &str = "/rudder-bench/range";
/// Put keys are this prefix and a zero-padded index into the key space.
pub const PUT_PREFIX: &str = "/rudder-bench/put/";

/// Client TLS material: all three or none (the CA verifies the server, the pair is
/// our identity for the server's client-cert-auth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// One workload at one concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    pub workload: Workload,
    pub clients: usize,
}

/// A checked description of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadConfig {
    /// What is measured (`etcd`, `rudder`), recorded in the result for `compare`.
    pub label: String,
    pub endpoints: Vec<String>,
    pub tls: Option<TlsFiles>,
    pub conns: usize,
    pub phases: Vec<Phase>,
    pub bound: Bound,
    pub value_size: usize,
    pub key_space: u64,
    /// How long to wait for every connection to answer a first read.
    pub wait: Duration,
    /// Deadline of each request; a request past it counts as an error.
    pub request_timeout: Duration,
}

/// The phases a run makes: puts at each of `put_clients`, then linearizable ranges at
/// each of `range_clients`, in the order given.
pub fn plan_phases(put_clients: &[usize], range_clients: &[usize]) -> Vec<Phase> {
    let puts = put_clients.iter().map(|&clients| Phase {
        workload: Workload::Put,
        clients,
    });
    let ranges = range_clients.iter().map(|&clients| Phase {
        workload: Workload::Range,
        clients,
    });
    puts.chain(ranges).collect()
}

/// The put key with index `n`: fixed width, so every put carries the same bytes.
pub fn put_key(n: u64) -> String {
    format!("{PUT_PREFIX}{n:012}")
}

/// Connections to the endpoints, checked to answer, ready to run phases.
pub struct Session {
    config: LoadConfig,
    conns: Vec<KvClient>,
    members: usize,
    server_version: String,
    value: Arc<Vec<u8>>,
}

impl Session {
    /// Opens `conns` connections, waits until each answers a linearizable read, learns
    /// the cluster size and server version, and writes the key the range phases read.
    pub async fn connect(config: LoadConfig) -> Result<Session> {
        // tonic's rustls needs a process-wide crypto provider; a second install is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        if config.endpoints.is_empty() || config.conns == 0 {
            return Err(Error::Invalid(
                "a run needs an endpoint and a connection".into(),
            ));
        }
        let options = connect_options(&config)?;
        let mut clients = Vec::with_capacity(config.conns);
        for i in 0..config.conns {
            let endpoint = &config.endpoints[i % config.endpoints.len()];
            let client = Client::connect([endpoint.as_str()], Some(options.clone()))
                .await
                .map_err(|source| Error::Connect {
                    endpoint: endpoint.clone(),
                    source,
                })?;
            clients.push((endpoint.clone(), client));
        }
        for (endpoint, client) in &clients {
            wait_until_answering(endpoint, client.kv_client(), config.wait).await?;
        }
        let mut first = clients[0].1.clone();
        let members = match first.member_list().await {
            Ok(list) if !list.members().is_empty() => list.members().len(),
            _ => config.endpoints.len(),
        };
        let server_version = match first.status().await {
            Ok(status) => status.version().to_string(),
            Err(_) => "unknown".to_string(),
        };
        let value = Arc::new(vec![b'v'; config.value_size]);
        first
            .put(RANGE_KEY, value.as_slice(), None)
            .await
            .map_err(|source| Error::Rpc {
                what: "writing the range key",
                source,
            })?;
        Ok(Session {
            conns: clients.into_iter().map(|(_, c)| c.kv_client()).collect(),
            config,
            members,
            server_version,
            value,
        })
    }

    /// The result document so far: everything but the phases.
    pub fn result(&self) -> RunResult {
        let (duration_secs, total) = match self.config.bound {
            Bound::Duration(d) => (Some(d.as_secs_f64()), None),
            Bound::Total(n) => (None, Some(n)),
        };
        RunResult {
            format: FORMAT.to_string(),
            label: self.config.label.clone(),
            members: self.members,
            server_version: self.server_version.clone(),
            endpoints: self.config.endpoints.clone(),
            tls: self.config.tls.is_some(),
            conns: self.config.conns,
            value_size: self.config.value_size,
            key_space: self.config.key_space,
            duration_secs,
            total,
            phases: Vec::new(),
        }
    }

    /// The configured phases, in order.
    pub fn phases(&self) -> Vec<Phase> {
        self.config.phases.clone()
    }

    /// Runs one phase to its bound and reports what it achieved.
    pub async fn run_phase(&self, phase: Phase) -> Result<PhaseResult> {
        let clients = (0..phase.clients.max(1))
            .map(|c| ClientTask {
                kv: self.conns[c % self.conns.len()].clone(),
                workload: phase.workload,
                value: self.value.clone(),
                key_space: self.config.key_space,
                keys: KeyPicker(((c as u64) << 32) ^ phase.clients as u64),
            })
            .collect();
        run_closed_loop(phase.workload, clients, self.config.bound).await
    }
}

fn connect_options(config: &LoadConfig) -> Result<ConnectOptions> {
    let mut options = ConnectOptions::new()
        .with_connect_timeout(config.request_timeout)
        .with_timeout(config.request_timeout);
    if let Some(tls) = &config.tls {
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })
        };
        let identity = Identity::from_pem(read(&tls.cert)?, read(&tls.key)?);
        options = options.with_tls(
            TlsOptions::new()
                .ca_certificate(Certificate::from_pem(read(&tls.ca)?))
                .identity(identity),
        );
    }
    Ok(options)
}

/// Retries a linearizable read until it succeeds: a freshly started cluster may not
/// have a leader yet, and the first request also completes the TLS handshake.
async fn wait_until_answering(endpoint: &str, mut kv: KvClient, wait: Duration) -> Result<()> {
    let deadline = Instant::now() + wait;
    loop {
        let last = match kv.get(RANGE_KEY, None).await {
            Ok(_) => return Ok(()),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(Error::NotReady {
                endpoint: endpoint.to_string(),
                waited: wait,
                last,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One closed-loop etcd client: its connection and what it sends.
struct ClientTask {
    kv: KvClient,
    workload: Workload,
    value: Arc<Vec<u8>>,
    key_space: u64,
    keys: KeyPicker,
}

impl Requester for ClientTask {
    async fn request(&mut self) -> Result<(), String> {
        match self.workload {
            Workload::Put => {
                let key = put_key(self.keys.next(self.key_space));
                self.kv
                    .put(key, self.value.as_slice(), None)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            Workload::Range => {
                let found = self
                    .kv
                    .get(RANGE_KEY, None)
                    .await
                    .map_err(|e| e.to_string())?;
                match found.kvs().len() {
                    1 => Ok(()),
                    n => Err(format!("range of {RANGE_KEY} returned {n} keys, not 1")),
                }
            }
            other => Err(format!("{} is not a store workload", other.name())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_puts_then_ranges_in_order() {
        let phases = plan_phases(&[1, 16, 64, 256], &[16]);
        let described: Vec<(Workload, usize)> =
            phases.iter().map(|p| (p.workload, p.clients)).collect();
        assert_eq!(
            described,
            vec![
                (Workload::Put, 1),
                (Workload::Put, 16),
                (Workload::Put, 64),
                (Workload::Put, 256),
                (Workload::Range, 16),
            ]
        );
    }

    #[test]
    fn put_keys_have_one_width() {
        assert_eq!(put_key(7), "/rudder-bench/put/000000000007");
        assert_eq!(put_key(7).len(), put_key(999_999).len());
    }
}
