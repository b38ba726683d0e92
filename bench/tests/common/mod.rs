//! A real etcd (Debian's etcd-server) for the load generator's tests: one member on
//! free loopback ports with a fresh data dir, plaintext or mTLS, killed on drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rudder_bench::load::TlsFiles;
use rudder_pki::certs::{CertsLayout, CertsOptions, write_cluster_certs};
use tempfile::TempDir;

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
        assert!(
            Path::new(ETCD).exists(),
            "{ETCD} is missing: these tests need a real etcd (apt-get install etcd-server, or scripts/install-deps.sh)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let (client_port, peer_port) = (free_port(), free_port());
        let scheme = if mtls { "https" } else { "http" };
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
        let tls = mtls.then(|| {
            let certs = dir.path().join("certs");
            let mut options = CertsOptions::new(&certs);
            options.store_members = vec!["default".to_string()];
            write_cluster_certs(&options).expect("write certs");
            let layout = CertsLayout::new(&certs);
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
