//! Flags, named as kube-apiserver's so an operator's command line carries over, each
//! also read from `RUDDER_APISERVER_<FLAG>` (e.g. `RUDDER_APISERVER_ETCD_SERVERS`),
//! checked into a [`Config`] the server runs without further checks.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Parser;
use rudder_pki::TlsPaths;
use rudder_telemetry::LogFormat;

use crate::storage::StoreConfig;

/// Command-line flags of `rudder-apiserver`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "rudder-apiserver",
    version,
    about = "Rudder's Kubernetes API server"
)]
pub struct Flags {
    /// Store client URLs, comma-separated (rudder-store or etcd).
    #[arg(
        long,
        env = "RUDDER_APISERVER_ETCD_SERVERS",
        value_delimiter = ',',
        required = true
    )]
    pub etcd_servers: Vec<String>,
    /// CA that signed the store's certificates.
    #[arg(long, env = "RUDDER_APISERVER_ETCD_CAFILE")]
    pub etcd_cafile: Option<PathBuf>,
    /// Client certificate for the store.
    #[arg(long, env = "RUDDER_APISERVER_ETCD_CERTFILE")]
    pub etcd_certfile: Option<PathBuf>,
    /// Client key for the store.
    #[arg(long, env = "RUDDER_APISERVER_ETCD_KEYFILE")]
    pub etcd_keyfile: Option<PathBuf>,
    /// HTTPS port for REST and gRPC.
    #[arg(long, env = "RUDDER_APISERVER_SECURE_PORT", default_value_t = 6443)]
    pub secure_port: u16,
    /// Address to listen on.
    #[arg(long, env = "RUDDER_APISERVER_BIND_ADDRESS", default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// Serving certificate.
    #[arg(long, env = "RUDDER_APISERVER_TLS_CERT_FILE", required = true)]
    pub tls_cert_file: PathBuf,
    /// Serving key.
    #[arg(long, env = "RUDDER_APISERVER_TLS_PRIVATE_KEY_FILE", required = true)]
    pub tls_private_key_file: PathBuf,
    /// CA that client certificates must chain to.
    #[arg(long, env = "RUDDER_APISERVER_CLIENT_CA_FILE", required = true)]
    pub client_ca_file: PathBuf,
    /// Public key(s) that verify service-account tokens.
    #[arg(long, env = "RUDDER_APISERVER_SERVICE_ACCOUNT_KEY_FILE")]
    pub service_account_key_file: Option<PathBuf>,
    /// Private key that signs service-account tokens.
    #[arg(long, env = "RUDDER_APISERVER_SERVICE_ACCOUNT_SIGNING_KEY_FILE")]
    pub service_account_signing_key_file: Option<PathBuf>,
    /// `iss` of issued service-account tokens.
    #[arg(
        long,
        env = "RUDDER_APISERVER_SERVICE_ACCOUNT_ISSUER",
        default_value = "https://kubernetes.default.svc.cluster.local"
    )]
    pub service_account_issuer: String,
    /// CIDR ClusterIPs are allocated from.
    #[arg(
        long,
        env = "RUDDER_APISERVER_SERVICE_CLUSTER_IP_RANGE",
        default_value = "10.96.0.0/12"
    )]
    pub service_cluster_ip_range: String,
    /// Range NodePorts are allocated from (`30000-32767`).
    #[arg(
        long,
        env = "RUDDER_APISERVER_SERVICE_NODE_PORT_RANGE",
        default_value = "30000-32767"
    )]
    pub service_node_port_range: String,
    /// Authorizers in order, comma-separated: AlwaysAllow, RBAC, Node.
    #[arg(
        long,
        env = "RUDDER_APISERVER_AUTHORIZATION_MODE",
        value_delimiter = ',',
        default_value = "AlwaysAllow"
    )]
    pub authorization_mode: Vec<String>,
    /// Audit log file (one JSON line per request).
    #[arg(long, env = "RUDDER_APISERVER_AUDIT_LOG_PATH")]
    pub audit_log_path: Option<PathBuf>,
    /// Size in megabytes at which the audit log is rotated; 0: never.
    #[arg(long, env = "RUDDER_APISERVER_AUDIT_LOG_MAXSIZE", default_value_t = 0)]
    pub audit_log_maxsize: u64,
    /// Rotated audit files kept; 0: all.
    #[arg(
        long,
        env = "RUDDER_APISERVER_AUDIT_LOG_MAXBACKUP",
        default_value_t = 0
    )]
    pub audit_log_maxbackup: usize,
    /// Read-only requests served at once before 429s (0: no limit); watches and
    /// other long-running requests do not count.
    #[arg(
        long,
        env = "RUDDER_APISERVER_MAX_REQUESTS_INFLIGHT",
        default_value_t = 400
    )]
    pub max_requests_inflight: usize,
    /// Mutating requests served at once before 429s (0: no limit).
    #[arg(
        long,
        env = "RUDDER_APISERVER_MAX_MUTATING_REQUESTS_INFLIGHT",
        default_value_t = 200
    )]
    pub max_mutating_requests_inflight: usize,
    /// Client certificate the API server presents to kubelets.
    #[arg(long, env = "RUDDER_APISERVER_KUBELET_CLIENT_CERTIFICATE")]
    pub kubelet_client_certificate: Option<PathBuf>,
    /// Key of `--kubelet-client-certificate`.
    #[arg(long, env = "RUDDER_APISERVER_KUBELET_CLIENT_KEY")]
    pub kubelet_client_key: Option<PathBuf>,
    /// CA bundle kubelets' serving certificates are verified against (default:
    /// `--client-ca-file`; upstream skips verification without it, Rudder does not).
    #[arg(long, env = "RUDDER_APISERVER_KUBELET_CERTIFICATE_AUTHORITY")]
    pub kubelet_certificate_authority: Option<PathBuf>,
    /// `text` or `json` log lines on stderr.
    #[arg(long, env = "RUDDER_APISERVER_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

/// An IPv4 or IPv6 CIDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network address.
    pub address: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("invalid CIDR address: {s}");
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let address: IpAddr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { address, prefix })
    }
}

/// The checked configuration `run` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where to listen.
    pub bind: SocketAddr,
    /// Serving TLS: CA for client certificates, serving certificate and key.
    pub tls: TlsPaths,
    /// How to reach the store.
    pub store: StoreConfig,
    /// `--service-account-key-file`, for token authentication (issue 5).
    pub service_account_key_file: Option<PathBuf>,
    /// `--service-account-signing-key-file` (issue 5).
    pub service_account_signing_key_file: Option<PathBuf>,
    /// `--service-account-issuer`.
    pub service_account_issuer: String,
    /// `--service-cluster-ip-range`.
    pub service_cluster_ip_range: Cidr,
    /// `--service-node-port-range`, inclusive.
    pub service_node_port_range: (u16, u16),
    /// `--authorization-mode`.
    pub authorization_modes: Vec<String>,
    /// `--max-requests-inflight`, `--max-mutating-requests-inflight`.
    pub max_inflight: (usize, usize),
    /// How to reach kubelets: their CA and this server's client identity, if any.
    pub kubelet: KubeletTls,
    /// `--audit-log-path`.
    pub audit_log_path: Option<PathBuf>,
    /// When and how the audit log rotates.
    pub audit_rotation: crate::audit::Rotation,
    /// Log format.
    pub log_format: LogFormat,
    /// How often watches that allow bookmarks get one (not a flag; tests shorten it).
    pub watch_bookmark_interval: std::time::Duration,
    /// Events each watch cache keeps for resuming watchers (not a flag; tests shrink it).
    pub watch_history: usize,
}

/// TLS towards kubelets (`--kubelet-certificate-authority`,
/// `--kubelet-client-certificate`, `--kubelet-client-key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeletTls {
    /// CA bundle for kubelets' serving certificates.
    pub ca: PathBuf,
    /// Certificate and key presented to kubelets.
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// A flag combination that parses but makes no sense; one line, exit 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn port_range(s: &str) -> Result<(u16, u16), ConfigError> {
    let bad = || {
        ConfigError(format!(
            "invalid --service-node-port-range {s:?}: want <low>-<high>"
        ))
    };
    let (lo, hi) = s.split_once('-').ok_or_else(bad)?;
    let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
    if lo == 0 || lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

impl Config {
    /// Parses flags (clap's own errors for unknown or malformed flags), then checks them.
    pub fn from_args<I, T>(args: I) -> Result<Result<Config, ConfigError>, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let flags = Flags::try_parse_from(args)?;
        Ok(Config::from_flags(flags))
    }

    /// Checks parsed flags.
    pub fn from_flags(flags: Flags) -> Result<Config, ConfigError> {
        if flags.etcd_servers.iter().all(|s| s.trim().is_empty()) {
            return Err(ConfigError(
                "--etcd-servers must name at least one URL".into(),
            ));
        }
        for url in &flags.etcd_servers {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError(format!(
                    "--etcd-servers: {url:?} is not an http:// or https:// URL"
                )));
            }
        }
        let etcd_tls =
            TlsPaths::from_flags(flags.etcd_cafile, flags.etcd_certfile, flags.etcd_keyfile)
                .map_err(|e| {
                    ConfigError(format!("--etcd-cafile/--etcd-certfile/--etcd-keyfile: {e}"))
                })?;
        let service_cluster_ip_range = flags
            .service_cluster_ip_range
            .parse::<Cidr>()
            .map_err(|e| ConfigError(format!("--service-cluster-ip-range: {e}")))?;
        let service_node_port_range = port_range(&flags.service_node_port_range)?;
        crate::registry::ServiceRanges::new(&service_cluster_ip_range, service_node_port_range)
            .map_err(|e| ConfigError(format!("--service-cluster-ip-range: {e}")))?;
        for mode in &flags.authorization_mode {
            if !matches!(mode.as_str(), "AlwaysAllow" | "RBAC" | "Node") {
                return Err(ConfigError(format!(
                    "--authorization-mode: unknown authorization mode {mode:?}: supported AlwaysAllow, Node, RBAC"
                )));
            }
        }
        let kubelet_identity = match (flags.kubelet_client_certificate, flags.kubelet_client_key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(ConfigError(
                    "--kubelet-client-certificate and --kubelet-client-key go together".into(),
                ));
            }
        };
        let kubelet = KubeletTls {
            ca: flags
                .kubelet_certificate_authority
                .unwrap_or_else(|| flags.client_ca_file.clone()),
            identity: kubelet_identity,
        };
        Ok(Config {
            bind: SocketAddr::new(flags.bind_address, flags.secure_port),
            tls: TlsPaths::new(
                flags.client_ca_file,
                flags.tls_cert_file,
                flags.tls_private_key_file,
            ),
            store: StoreConfig {
                endpoints: flags.etcd_servers,
                tls: etcd_tls,
            },
            service_account_key_file: flags.service_account_key_file,
            service_account_signing_key_file: flags.service_account_signing_key_file,
            service_account_issuer: flags.service_account_issuer,
            service_cluster_ip_range,
            service_node_port_range,
            authorization_modes: flags.authorization_mode,
            max_inflight: (
                flags.max_requests_inflight,
                flags.max_mutating_requests_inflight,
            ),
            kubelet,
            audit_log_path: flags.audit_log_path,
            audit_rotation: crate::audit::Rotation {
                max_bytes: flags.audit_log_maxsize.saturating_mul(1024 * 1024),
                max_backups: flags.audit_log_maxbackup,
            },
            log_format: flags.log_format,
            watch_bookmark_interval: std::time::Duration::from_secs(30),
            watch_history: crate::watch_cache::DEFAULT_HISTORY_CAPACITY,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &[&str] = &[
        "rudder-apiserver",
        "--etcd-servers=http://127.0.0.1:2379,http://127.0.0.1:22379",
        "--tls-cert-file=a.crt",
        "--tls-private-key-file=a.key",
        "--client-ca-file=ca.crt",
    ];

    fn parse(extra: &[&str]) -> Result<Result<Config, ConfigError>, clap::Error> {
        Config::from_args(BASE.iter().chain(extra))
    }

    #[test]
    fn defaults_match_kube_apiserver() {
        let c = parse(&[]).unwrap().unwrap();
        assert_eq!(c.bind, "0.0.0.0:6443".parse().unwrap());
        assert_eq!(c.store.endpoints.len(), 2);
        assert_eq!(c.store.tls, None);
        assert_eq!(c.service_node_port_range, (30000, 32767));
        assert_eq!(c.service_cluster_ip_range, "10.96.0.0/12".parse().unwrap());
        assert_eq!(c.authorization_modes, ["AlwaysAllow"]);
        assert_eq!(
            c.kubelet,
            KubeletTls {
                ca: PathBuf::from("ca.crt"),
                identity: None
            }
        );
    }

    #[test]
    fn takes_every_flag() {
        let c = parse(&[
            "--secure-port=7443",
            "--bind-address=127.0.0.1",
            "--etcd-cafile=ca",
            "--etcd-certfile=c",
            "--etcd-keyfile=k",
            "--service-account-key-file=sa.pub",
            "--service-account-signing-key-file=sa.key",
            "--service-account-issuer=https://x",
            "--service-cluster-ip-range=10.100.0.0/16",
            "--service-node-port-range=31000-31010",
            "--authorization-mode=Node,RBAC",
            "--audit-log-path=/tmp/audit.log",
            "--audit-log-maxsize=100",
            "--audit-log-maxbackup=3",
            "--kubelet-client-certificate=k.crt",
            "--kubelet-client-key=k.key",
            "--kubelet-certificate-authority=kubelet-ca.crt",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.bind, "127.0.0.1:7443".parse().unwrap());
        assert!(c.store.tls.is_some());
        assert_eq!(c.service_node_port_range, (31000, 31010));
        assert_eq!(c.authorization_modes, ["Node", "RBAC"]);
        assert_eq!(c.audit_log_path, Some(PathBuf::from("/tmp/audit.log")));
        assert_eq!(
            c.kubelet,
            KubeletTls {
                ca: PathBuf::from("kubelet-ca.crt"),
                identity: Some((PathBuf::from("k.crt"), PathBuf::from("k.key")))
            }
        );
        assert_eq!(
            c.audit_rotation,
            crate::audit::Rotation {
                max_bytes: 100 * 1024 * 1024,
                max_backups: 3
            }
        );
    }

    #[test]
    fn refuses_bad_flags() {
        assert!(parse(&["--secure-port=http"]).is_err());
        assert!(parse(&["--no-such-flag"]).is_err());
        assert!(Config::from_args(["rudder-apiserver"]).is_err());
        for bad in [
            &["--etcd-cafile=ca"][..],
            &["--service-cluster-ip-range=10.0.0.0/33"],
            &["--service-cluster-ip-range=banana"],
            &["--service-cluster-ip-range=fd00::/108"],
            &["--service-cluster-ip-range=10.0.0.0/31"],
            &["--service-node-port-range=5-1"],
            &["--authorization-mode=ABAC"],
            &["--kubelet-client-certificate=k.crt"],
            &["--kubelet-client-key=k.key"],
        ] {
            assert!(parse(bad).unwrap().is_err(), "{bad:?}");
        }
        assert!(
            Config::from_args([
                "rudder-apiserver",
                "--etcd-servers=127.0.0.1:2379",
                "--tls-cert-file=a",
                "--tls-private-key-file=b",
                "--client-ca-file=c"
            ])
            .unwrap()
            .is_err()
        );
    }
}
