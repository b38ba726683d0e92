//! The server's configuration: etcd's flag names, each also read from its `ETCD_*`
//! environment variable, checked into a [`Config`] the server can run without further checks.

use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use rudder_pki::TlsPaths;
use rudder_telemetry::LogFormat;

use crate::error::{Error, Result};
use crate::node::{DEFAULT_SNAPSHOT_COUNT, RaftSettings};
use crate::types::{NodeId, node_id_of};

/// Command-line flags, named as etcd's.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "rudder-store",
    version,
    about = "An etcd v3-compatible replicated key/value store"
)]
pub struct Flags {
    /// Human-readable name for this member.
    #[arg(long, env = "ETCD_NAME", default_value = "default")]
    pub name: String,
    /// Path to the data directory (default: <name>.etcd).
    #[arg(long, env = "ETCD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// URLs to listen on for client traffic, comma-separated.
    #[arg(
        long,
        env = "ETCD_LISTEN_CLIENT_URLS",
        default_value = "http://localhost:2379"
    )]
    pub listen_client_urls: String,
    /// Client URLs of this member advertised to the cluster.
    #[arg(
        long,
        env = "ETCD_ADVERTISE_CLIENT_URLS",
        default_value = "http://localhost:2379"
    )]
    pub advertise_client_urls: String,
    /// URLs to listen on for peer traffic.
    #[arg(
        long,
        env = "ETCD_LISTEN_PEER_URLS",
        default_value = "http://localhost:2380"
    )]
    pub listen_peer_urls: String,
    /// Peer URLs of this member advertised to the cluster.
    #[arg(
        long,
        env = "ETCD_INITIAL_ADVERTISE_PEER_URLS",
        default_value = "http://localhost:2380"
    )]
    pub initial_advertise_peer_urls: String,
    /// Initial cluster configuration: name=peer-url,...
    #[arg(long, env = "ETCD_INITIAL_CLUSTER")]
    pub initial_cluster: Option<String>,
    /// new: form a new cluster; existing: join one.
    #[arg(long, env = "ETCD_INITIAL_CLUSTER_STATE", default_value = "new", value_parser = ["new", "existing"])]
    pub initial_cluster_state: String,
    /// Initial cluster token, mixed into the cluster id.
    #[arg(
        long,
        env = "ETCD_INITIAL_CLUSTER_TOKEN",
        default_value = "etcd-cluster"
    )]
    pub initial_cluster_token: String,
    /// CA that client certificates must chain to.
    #[arg(long, env = "ETCD_TRUSTED_CA_FILE")]
    pub trusted_ca_file: Option<PathBuf>,
    /// Server certificate for the client port.
    #[arg(long, env = "ETCD_CERT_FILE")]
    pub cert_file: Option<PathBuf>,
    /// Server key for the client port.
    #[arg(long, env = "ETCD_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Require client certificates (always on when TLS is).
    #[arg(long, env = "ETCD_CLIENT_CERT_AUTH", num_args = 0..=1, default_missing_value = "true")]
    pub client_cert_auth: Option<bool>,
    /// CA that peer certificates must chain to.
    #[arg(long, env = "ETCD_PEER_TRUSTED_CA_FILE")]
    pub peer_trusted_ca_file: Option<PathBuf>,
    /// Certificate for the peer port (server and client side).
    #[arg(long, env = "ETCD_PEER_CERT_FILE")]
    pub peer_cert_file: Option<PathBuf>,
    /// Key for the peer port.
    #[arg(long, env = "ETCD_PEER_KEY_FILE")]
    pub peer_key_file: Option<PathBuf>,
    /// Require peer client certificates (always on when peer TLS is).
    #[arg(long, env = "ETCD_PEER_CLIENT_CERT_AUTH", num_args = 0..=1, default_missing_value = "true")]
    pub peer_client_cert_auth: Option<bool>,
    /// URLs to serve /metrics and /healthz on (plain HTTP, loopback only).
    #[arg(long, env = "ETCD_LISTEN_METRICS_URLS")]
    pub listen_metrics_urls: Option<String>,
    /// Applied entries between two raft snapshots. etcd's default since 3.2: a snapshot
    /// dumps the whole state, which at 10,000 took a core for seconds in every burst of writes.
    #[arg(long, env = "ETCD_SNAPSHOT_COUNT", default_value_t = DEFAULT_SNAPSHOT_COUNT)]
    pub snapshot_count: u64,
    /// Raft heartbeat interval, in milliseconds.
    #[arg(long, env = "ETCD_HEARTBEAT_INTERVAL", default_value_t = 100)]
    pub heartbeat_interval: u64,
    /// Raft election timeout, in milliseconds.
    #[arg(long, env = "ETCD_ELECTION_TIMEOUT", default_value_t = 1000)]
    pub election_timeout: u64,
    /// How often watches that asked for progress notifications get one (Go duration: 10m, 500ms).
    #[arg(
        long,
        env = "ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL",
        default_value = "10m",
        value_parser = parse_duration
    )]
    pub experimental_watch_progress_notify_interval: Duration,
    /// Log lines as text or json.
    #[arg(long, env = "ETCD_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

/// Whether the member forms a new cluster or joins an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    New,
    Existing,
}

/// One URL a member listens on or advertises: `http` or `https`, and an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub tls: bool,
    pub addr: SocketAddr,
}

/// A member named in `--initial-cluster`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialMember {
    pub name: String,
    pub id: NodeId,
    pub peer_urls: Vec<String>,
}

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    pub id: NodeId,
    pub cluster_id: u64,
    pub data_dir: PathBuf,
    pub listen_client: Vec<Endpoint>,
    pub advertise_client_urls: Vec<String>,
    pub listen_peer: Vec<Endpoint>,
    pub advertise_peer_urls: Vec<String>,
    pub initial_cluster: Vec<InitialMember>,
    pub cluster_state: ClusterState,
    pub client_tls: Option<TlsPaths>,
    pub peer_tls: Option<TlsPaths>,
    pub metrics: Vec<SocketAddr>,
    pub raft: RaftSettings,
    pub log_format: LogFormat,
    /// How often watches that asked for progress notifications get one (etcd: 10 minutes).
    pub progress_notify_interval: Duration,
}

fn fnv(parts: &[&str]) -> u64 {
    node_id_of(&parts.join("\u{0}"))
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect()
}

/// Parses a Go-style duration with one unit: `500ms`, `10s`, `10m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("duration {s:?} has no unit (ms, s, m, h)"))?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("duration {s:?} has no number"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(format!("duration {s:?}: unknown unit {unit:?}")),
    };
    if d.is_zero() {
        return Err(format!("duration {s:?} must be positive"));
    }
    Ok(d)
}

/// Parses `http(s)://host:port` into an address to bind.
pub fn parse_endpoint(url: &str) -> Result<Endpoint> {
    let bad = |why: &str| Error::Config(format!("invalid URL {url:?}: {why}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("missing scheme"))?;
    let tls = match scheme {
        "https" => true,
        "http" => false,
        _ => return Err(bad("scheme must be http or https")),
    };
    let hostport = rest.trim_end_matches('/');
    let addr = hostport
        .to_socket_addrs()
        .map_err(|e| bad(&e.to_string()))?
        .next()
        .ok_or_else(|| bad("host does not resolve"))?;
    Ok(Endpoint {
        url: url.to_string(),
        tls,
        addr,
    })
}

fn endpoints(list: &str, flag: &str) -> Result<Vec<Endpoint>> {
    let urls = split_list(list);
    if urls.is_empty() {
        return Err(Error::Config(format!("--{flag} is empty")));
    }
    urls.iter().map(|u| parse_endpoint(u)).collect()
}

fn tls_paths(
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    prefix: &str,
) -> Result<Option<TlsPaths>> {
    TlsPaths::from_flags(ca, cert, key).map_err(|e| Error::Config(format!("{prefix}{e}")))
}

impl Config {
    /// Parses the process's arguments and environment.
    pub fn from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let flags = Flags::try_parse_from(args)?;
        Self::from_flags(flags)
            .map_err(|e| clap::Error::raw(clap::error::ErrorKind::ValueValidation, e.to_string()))
    }

    /// Checks flags for contradictions and resolves defaults, as etcd does.
    pub fn from_flags(f: Flags) -> Result<Self> {
        if f.heartbeat_interval == 0 || f.election_timeout < 5 * f.heartbeat_interval {
            return Err(Error::Config(format!(
                "--election-timeout[{}ms] should be at least as 5 times as --heartbeat-interval[{}ms]",
                f.election_timeout, f.heartbeat_interval
            )));
        }
        if f.snapshot_count == 0 {
            return Err(Error::Config("--snapshot-count must be positive".into()));
        }
        let listen_client = endpoints(&f.listen_client_urls, "listen-client-urls")?;
        let listen_peer = endpoints(&f.listen_peer_urls, "listen-peer-urls")?;
        let advertise_peer_urls = split_list(&f.initial_advertise_peer_urls);
        let advertise_client_urls = split_list(&f.advertise_client_urls);
        if advertise_peer_urls.is_empty() {
            return Err(Error::Config(
                "--initial-advertise-peer-urls is empty".into(),
            ));
        }
        let client_tls = tls_paths(f.trusted_ca_file, f.cert_file, f.key_file, "client ")?;
        let peer_tls = tls_paths(
            f.peer_trusted_ca_file,
            f.peer_cert_file,
            f.peer_key_file,
            "peer ",
        )?;
        if f.client_cert_auth == Some(false) && client_tls.is_some() {
            return Err(Error::Config(
                "--client-cert-auth=false: rudder-store always requires client certificates".into(),
            ));
        }
        if f.peer_client_cert_auth == Some(false) && peer_tls.is_some() {
            return Err(Error::Config(
                "--peer-client-cert-auth=false: rudder-store always requires peer certificates"
                    .into(),
            ));
        }
        for (eps, tls, what) in [
            (&listen_client, &client_tls, "client"),
            (&listen_peer, &peer_tls, "peer"),
        ] {
            for ep in eps {
                if ep.tls && tls.is_none() {
                    return Err(Error::Config(format!(
                        "{} is https but no {what} certificate, key and CA are given",
                        ep.url
                    )));
                }
                if !ep.tls && tls.is_some() {
                    return Err(Error::Config(format!(
                        "{} is http but {what} TLS files are given; use https",
                        ep.url
                    )));
                }
                if !ep.tls && !ep.addr.ip().is_loopback() {
                    return Err(Error::Config(format!(
                        "{} would serve without TLS beyond loopback; use https",
                        ep.url
                    )));
                }
            }
        }
        let cluster = f.initial_cluster.unwrap_or_else(|| {
            format!(
                "{}={}",
                f.name,
                advertise_peer_urls.join(&format!(",{}=", f.name))
            )
        });
        let mut initial: Vec<InitialMember> = Vec::new();
        for part in split_list(&cluster) {
            let (name, url) = part.split_once('=').ok_or_else(|| {
                Error::Config(format!("--initial-cluster entry {part:?} is not name=url"))
            })?;
            parse_endpoint(url)?;
            match initial.iter_mut().find(|m| m.name == name) {
                Some(m) => m.peer_urls.push(url.to_string()),
                None => initial.push(InitialMember {
                    name: name.to_string(),
                    id: node_id_of(url),
                    peer_urls: vec![url.to_string()],
                }),
            }
        }
        let me = initial.iter().find(|m| m.name == f.name).ok_or_else(|| {
            Error::Config(format!(
                "--initial-cluster has no member named {:?}",
                f.name
            ))
        })?;
        if me
            .peer_urls
            .iter()
            .all(|u| !advertise_peer_urls.contains(u))
        {
            return Err(Error::Config(format!(
                "--initial-cluster gives {} the peer URLs {:?} but --initial-advertise-peer-urls says {:?}",
                f.name, me.peer_urls, advertise_peer_urls
            )));
        }
        let id = me.id;
        let mut cluster_parts: Vec<String> = initial
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_urls.join(",")))
            .collect();
        cluster_parts.sort();
        cluster_parts.push(f.initial_cluster_token.clone());
        let cluster_id = fnv(&cluster_parts.iter().map(String::as_str).collect::<Vec<_>>());
        let metrics = match &f.listen_metrics_urls {
            Some(list) => endpoints(list, "listen-metrics-urls")?
                .into_iter()
                .map(|ep| {
                    if ep.tls {
                        Err(Error::Config(format!(
                            "{}: metrics are served over plain http",
                            ep.url
                        )))
                    } else {
                        Ok(ep.addr)
                    }
                })
                .collect::<Result<Vec<_>>>()?,
            None => Vec::new(),
        };
        Ok(Config {
            data_dir: f
                .data_dir
                .unwrap_or_else(|| PathBuf::from(format!("{}.etcd", f.name))),
            name: f.name,
            id,
            cluster_id,
            listen_client,
            advertise_client_urls,
            listen_peer,
            advertise_peer_urls,
            initial_cluster: initial,
            cluster_state: if f.initial_cluster_state == "existing" {
                ClusterState::Existing
            } else {
                ClusterState::New
            },
            client_tls,
            peer_tls,
            metrics,
            raft: RaftSettings {
                heartbeat_ms: f.heartbeat_interval,
                election_timeout_ms: f.election_timeout,
                snapshot_count: f.snapshot_count,
            },
            log_format: f.log_format,
            progress_notify_interval: f.experimental_watch_progress_notify_interval,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        let mut all = vec!["rudder-store"];
        all.extend_from_slice(args);
        Config::from_args(all)
    }

    #[test]
    fn defaults_form_a_single_member_cluster() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.name, "default");
        assert_eq!(c.data_dir, PathBuf::from("default.etcd"));
        assert_eq!(c.initial_cluster.len(), 1);
        assert_eq!(c.initial_cluster[0].id, c.id);
        assert_eq!(c.cluster_state, ClusterState::New);
    }

    #[test]
    fn unknown_and_contradictory_flags_are_refused() {
        assert!(parse(&["--no-such-flag"]).is_err());
        assert!(parse(&["--heartbeat-interval", "500", "--election-timeout", "1000"]).is_err());
        assert!(parse(&["--cert-file", "/x.crt"]).is_err(), "partial TLS");
        assert!(
            parse(&["--listen-client-urls", "https://127.0.0.1:2379"]).is_err(),
            "https without certs"
        );
        assert!(
            parse(&["--initial-cluster", "other=http://127.0.0.1:2380"]).is_err(),
            "self missing"
        );
        assert!(parse(&["--initial-cluster-state", "maybe"]).is_err());
        assert!(
            parse(&["--listen-client-urls", "http://0.0.0.0:2379"]).is_err(),
            "plaintext beyond loopback"
        );
    }

    #[test]
    fn durations_parse_as_go_writes_them() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("0s").is_err());
        let c = parse(&["--experimental-watch-progress-notify-interval", "2s"]).unwrap();
        assert_eq!(c.progress_notify_interval, Duration::from_secs(2));
    }

    #[test]
    fn three_members_share_a_cluster_id() {
        let cluster = "a=http://127.0.0.1:2380,b=http://127.0.0.1:2381,c=http://127.0.0.1:2382";
        let a = parse(&[
            "--name",
            "a",
            "--initial-cluster",
            cluster,
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:2380",
        ])
        .unwrap();
        let b = parse(&[
            "--name",
            "b",
            "--initial-cluster",
            cluster,
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:2381",
        ])
        .unwrap();
        assert_eq!(a.cluster_id, b.cluster_id);
        assert_ne!(a.id, b.id);
        assert_eq!(a.initial_cluster.len(), 3);
    }
}
