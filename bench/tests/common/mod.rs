//! Real servers for the load generators' tests: etcd (Debian's etcd-server), one
//! member on free loopback ports with a fresh data dir, plaintext or mTLS, killed on
//! drop; and the API server (in this process, on its own port) on such an etcd.

#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rudder_bench::load::TlsFiles;
use rudder_pki::certs::{CertsLayout, CertsOptions, write_cluster_certs};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// Where Debian's etcd-server puts etcd (scripts/install-deps.sh installs it).
pub const ETCD: &str = "/usr/bin/etcd";

/// A running single-member etcd.
pub struct Etcd {
    child: Child,
    /// Client URL, `http://` or `https://127.0.0.1:PORT`.
    pub url: String,
    /// The client identity to use when the member runs mTLS.
    pub tls: Option<TlsFiles>,
    dir: TempDir,
}

use rudder_testkit::free_port;

impl Etcd {
    /// Starts etcd in plaintext, or with mTLS on the client port (`rudderadm certs`
    /// layout: member `default`, client `apiserver-etcd-client`).
    pub fn start(mtls: bool) -> Etcd {
        let dir = tempfile::tempdir().expect("temp dir");
        let certs = mtls.then(|| {
            let certs = dir.path().join("certs");
            let mut options = CertsOptions::new(&certs);
            options.store_members = vec!["default".to_string()];
            write_cluster_certs(&options).expect("write certs");
            CertsLayout::new(&certs)
        });
        Etcd::start_in(dir, certs.as_ref())
    }

    /// Starts etcd in `dir`, with mTLS from `certs` when given.
    pub fn start_in(dir: TempDir, certs: Option<&CertsLayout>) -> Etcd {
        assert!(
            Path::new(ETCD).exists(),
            "{ETCD} is missing: these tests need a real etcd (apt-get install etcd-server, or scripts/install-deps.sh)"
        );
        let (client_port, peer_port) = (free_port(), free_port());
        let scheme = if certs.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let mut command = Command::new(ETCD);
        command
            .arg("--name=default")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={url}"))
            .arg(format!("--advertise-client-urls={url}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=default={peer}"))
            .arg("--logger=zap")
            .arg("--log-outputs=stderr");
        let tls = certs.map(|layout| {
            let (member_cert, member_key) = layout.store_member_pair("default");
            command
                .arg(format!("--cert-file={}", member_cert.display()))
                .arg(format!("--key-file={}", member_key.display()))
                .arg(format!("--trusted-ca-file={}", layout.ca_cert().display()))
                .arg("--client-cert-auth");
            let (cert, key) = layout.pair("apiserver-etcd-client");
            TlsFiles {
                ca: layout.ca_cert(),
                cert,
                key,
            }
        });
        let log = File::create(dir.path().join("etcd.log")).expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        Etcd {
            child,
            url,
            tls,
            dir,
        }
    }

    /// etcd's log, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }

    /// A scratch directory that lives as long as the member.
    pub fn scratch(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// rudder-apiserver on a fresh etcd with mTLS, served from this process on a port of
/// its own, with the certificates and kubeconfigs `rudderadm certs` writes; stopped on
/// drop.
pub struct ApiServer {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    pub layout: CertsLayout,
    shutdown: CancellationToken,
    etcd: Etcd,
}

impl ApiServer {
    /// Starts etcd and the API server (RBAC on, as `rudderadm up` runs it); returns
    /// once the port is bound (the load generator waits for `/readyz` itself).
    pub async fn start() -> ApiServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("https://{}", listener.local_addr().expect("address"));
        let certs = dir.path().join("certs");
        let mut options = CertsOptions::new(&certs);
        options.server_url = url.clone();
        write_cluster_certs(&options).expect("write certs");
        let layout = CertsLayout::new(&certs);
        let etcd = Etcd::start_in(dir, Some(&layout));
        let etcd_tls = layout.apiserver_etcd_client_tls();
        let serving = layout.apiserver_tls();
        let path = |p: &Path| p.display().to_string();
        let config = rudder_apiserver::Config::from_args([
            "rudder-apiserver".to_string(),
            format!("--etcd-servers={}", etcd.url),
            format!("--etcd-cafile={}", path(&etcd_tls.ca)),
            format!("--etcd-certfile={}", path(&etcd_tls.cert)),
            format!("--etcd-keyfile={}", path(&etcd_tls.key)),
            format!("--tls-cert-file={}", path(&serving.cert)),
            format!("--tls-private-key-file={}", path(&serving.key)),
            format!("--client-ca-file={}", path(&serving.ca)),
            "--authorization-mode=Node,RBAC".to_string(),
        ])
        .expect("flags")
        .expect("config");
        let shutdown = CancellationToken::new();
        tokio::spawn(rudder_apiserver::serve(
            config,
            listener,
            rudder_apiserver::SecurityHooks::default(),
            shutdown.clone(),
        ));
        ApiServer {
            url,
            layout,
            shutdown,
            etcd,
        }
    }

    /// The admin kubeconfig (system:masters).
    pub fn kubeconfig(&self) -> PathBuf {
        self.layout.kubeconfig("admin")
    }

    /// etcd's log, for a failing test's message.
    pub fn store_log(&self) -> String {
        self.etcd.log()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
