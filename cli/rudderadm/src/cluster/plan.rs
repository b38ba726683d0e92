//! What `rudderadm up` runs: each component's program, flags and health check, derived
//! from the cluster directory and the ports. Pure: nothing here touches the system, so
//! the command lines are unit-tested as literal lists.

use std::path::{Path, PathBuf};

use rudder_pki::TlsPaths;
use rudder_pki::certs::{CertsLayout, DEFAULT_STORE_MEMBER};

/// The ports of a single-node cluster; the defaults are the well-known ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub store_client: u16,
    pub store_peer: u16,
    pub store_metrics: u16,
    pub apiserver: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            store_client: 2379,
            store_peer: 2380,
            store_metrics: 2381,
            apiserver: 6443,
        }
    }
}

impl Ports {
    /// The API server URL clients are given.
    pub fn server_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.apiserver)
    }
}

/// How `up` knows a component is serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheck {
    /// A plain-HTTP GET on a loopback metrics port answers 200.
    Http { port: u16, path: &'static str },
    /// An HTTPS GET, presenting a client certificate, answers 200.
    Https {
        port: u16,
        path: &'static str,
        tls: TlsPaths,
    },
}

/// One component of the cluster as `up` starts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentSpec {
    /// The binary's name, which also names its log file and pid file.
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Ports it listens on, with what each is for: checked free before the start.
    pub ports: Vec<(u16, &'static str)>,
    pub health: HealthCheck,
}

/// The cluster's directories under `dir` (the certificates' layout is `CertsLayout`'s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDirs {
    pub dir: PathBuf,
}

impl ClusterDirs {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ClusterDirs { dir: dir.into() }
    }
    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }
    pub fn run(&self) -> PathBuf {
        self.dir.join("run")
    }
    pub fn data(&self, component: &str) -> PathBuf {
        self.dir.join("data").join(component)
    }
    /// The pid of the `rudderadm up` that owns the cluster: what `down` signals.
    pub fn supervisor_pid_file(&self) -> PathBuf {
        self.run().join("rudderadm.pid")
    }
    pub fn component_pid_file(&self, component: &str) -> PathBuf {
        self.run().join(format!("{component}.pid"))
    }
    pub fn log_file(&self, component: &str) -> PathBuf {
        self.logs().join(format!("{component}.log"))
    }
    pub fn admin_kubeconfig(&self) -> PathBuf {
        CertsLayout::new(&self.dir).kubeconfig("admin")
    }
}

/// The components in start order (stop order is the reverse). `available` says which
/// binaries exist beside `rudderadm`; the store is required, the rest join as their
/// issues land.
pub fn plan(
    dirs: &ClusterDirs,
    bin_dir: &Path,
    ports: Ports,
    available: &dyn Fn(&Path) -> bool,
) -> Vec<ComponentSpec> {
    let layout = CertsLayout::new(&dirs.dir);
    let path = |p: PathBuf| p.display().to_string();
    let mut components = Vec::new();

    let member = DEFAULT_STORE_MEMBER;
    let store_tls = layout.store_member_tls(member);
    let client_url = format!("https://127.0.0.1:{}", ports.store_client);
    let peer_url = format!("https://127.0.0.1:{}", ports.store_peer);
    components.push(ComponentSpec {
        name: "rudder-store",
        program: bin_dir.join("rudder-store"),
        args: vec![
            format!("--name={member}"),
            format!("--data-dir={}", path(dirs.data("store"))),
            format!("--listen-client-urls={client_url}"),
            format!("--advertise-client-urls={client_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster={member}={peer_url}"),
            "--initial-cluster-state=new".to_string(),
            format!("--trusted-ca-file={}", path(store_tls.ca.clone())),
            format!("--cert-file={}", path(store_tls.cert.clone())),
            format!("--key-file={}", path(store_tls.key.clone())),
            "--client-cert-auth".to_string(),
            format!("--peer-trusted-ca-file={}", path(store_tls.ca.clone())),
            format!("--peer-cert-file={}", path(store_tls.cert.clone())),
            format!("--peer-key-file={}", path(store_tls.key.clone())),
            "--peer-client-cert-auth".to_string(),
            format!(
                "--listen-metrics-urls=http://127.0.0.1:{}",
                ports.store_metrics
            ),
        ],
        ports: vec![
            (ports.store_client, "rudder-store client"),
            (ports.store_peer, "rudder-store peer"),
            (ports.store_metrics, "rudder-store metrics"),
        ],
        health: HealthCheck::Http {
            port: ports.store_metrics,
            path: "/healthz",
        },
    });

    let apiserver = bin_dir.join("rudder-apiserver");
    if available(&apiserver) {
        let serving = layout.apiserver_tls();
        let etcd = layout.apiserver_etcd_client_tls();
        let kubelet = layout.apiserver_kubelet_client_tls();
        let (sa_key, sa_pub) = layout.service_account_pair();
        components.push(ComponentSpec {
            name: "rudder-apiserver",
            program: apiserver,
            args: vec![
                format!("--etcd-servers={client_url}"),
                format!("--etcd-cafile={}", path(etcd.ca.clone())),
                format!("--etcd-certfile={}", path(etcd.cert.clone())),
                format!("--etcd-keyfile={}", path(etcd.key.clone())),
                "--bind-address=127.0.0.1".to_string(),
                format!("--secure-port={}", ports.apiserver),
                format!("--tls-cert-file={}", path(serving.cert.clone())),
                format!("--tls-private-key-file={}", path(serving.key.clone())),
                format!("--client-ca-file={}", path(serving.ca.clone())),
                format!("--kubelet-client-certificate={}", path(kubelet.cert)),
                format!("--kubelet-client-key={}", path(kubelet.key)),
                format!("--service-account-key-file={}", path(sa_pub)),
                format!("--service-account-signing-key-file={}", path(sa_key)),
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_string(),
                // kube-apiserver's default is AlwaysAllow; a cluster people use is not.
                "--authorization-mode=Node,RBAC".to_string(),
            ],
            ports: vec![(ports.apiserver, "rudder-apiserver")],
            health: HealthCheck::Https {
                port: ports.apiserver,
                path: "/readyz",
                tls: layout.client_tls("admin"),
            },
        });
    }
    components
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_runs_alone_until_the_apiserver_is_built() {
        let dirs = ClusterDirs::new("/c");
        let specs = plan(&dirs, Path::new("/bin"), Ports::default(), &|_| false);
        assert_eq!(specs.len(), 1);
        let store = &specs[0];
        assert_eq!(store.program, PathBuf::from("/bin/rudder-store"));
        assert_eq!(
            store.args,
            vec![
                "--name=default",
                "--data-dir=/c/data/store",
                "--listen-client-urls=https://127.0.0.1:2379",
                "--advertise-client-urls=https://127.0.0.1:2379",
                "--listen-peer-urls=https://127.0.0.1:2380",
                "--initial-advertise-peer-urls=https://127.0.0.1:2380",
                "--initial-cluster=default=https://127.0.0.1:2380",
                "--initial-cluster-state=new",
                "--trusted-ca-file=/c/pki/ca.crt",
                "--cert-file=/c/pki/store/default.crt",
                "--key-file=/c/pki/store/default.key",
                "--client-cert-auth",
                "--peer-trusted-ca-file=/c/pki/ca.crt",
                "--peer-cert-file=/c/pki/store/default.crt",
                "--peer-key-file=/c/pki/store/default.key",
                "--peer-client-cert-auth",
                "--listen-metrics-urls=http://127.0.0.1:2381",
            ]
        );
        assert_eq!(
            store.health,
            HealthCheck::Http {
                port: 2381,
                path: "/healthz"
            }
        );
    }

    #[test]
    fn the_apiserver_follows_the_store_and_reaches_it_on_its_client_port() {
        let dirs = ClusterDirs::new("/c");
        let ports = Ports {
            store_client: 12379,
            store_peer: 12380,
            store_metrics: 12381,
            apiserver: 16443,
        };
        let specs = plan(&dirs, Path::new("/bin"), ports, &|_| true);
        let names: Vec<_> = specs.iter().map(|s| s.name).collect();
        assert_eq!(names, ["rudder-store", "rudder-apiserver"]);
        let apiserver = &specs[1];
        assert!(
            apiserver
                .args
                .contains(&"--etcd-servers=https://127.0.0.1:12379".to_string())
        );
        assert!(apiserver.args.contains(&"--secure-port=16443".to_string()));
        assert!(
            apiserver
                .args
                .contains(&"--authorization-mode=Node,RBAC".to_string())
        );
        assert!(
            apiserver
                .args
                .contains(&"--etcd-certfile=/c/pki/apiserver-etcd-client.crt".to_string())
        );
        assert_eq!(apiserver.ports, vec![(16443, "rudder-apiserver")]);
        assert_eq!(ports.server_url(), "https://127.0.0.1:16443");
    }
}
