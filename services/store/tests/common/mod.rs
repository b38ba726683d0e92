//! The harness the server tests share: a real `rudder-store` process on loopback ports with
//! fresh certificates and a fresh data directory, and the real `etcdctl` pointed at it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rudder_pki::certs::{CertsLayout, CertsOptions, write_cluster_certs};
use tempfile::TempDir;

/// Polls `cond` until it holds or `timeout` passes, then fails with the message.
#[macro_export]
macro_rules! assert_eventually {
    ($cond:expr, $timeout:expr, $($msg:tt)+) => {{
        let deadline = std::time::Instant::now() + $timeout;
        loop {
            if $cond {
                break;
            }
            if std::time::Instant::now() > deadline {
                panic!($($msg)+);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }};
}

pub const ETCDCTL: &str = "/usr/bin/etcdctl";
/// The real etcd (Debian's etcd-server 3.4), for side-by-side checks: it takes the same flags.
pub const ETCD: &str = "/usr/bin/etcd";

pub use rudder_testkit::free_port;

/// One member and its files; a process while started.
pub struct Member {
    /// Where the certificates (`pki/`) are; shared by a cluster's members.
    pub dir: PathBuf,
    _guard: Option<TempDir>,
    pub name: String,
    pub client_port: u16,
    pub peer_port: u16,
    pub metrics_port: u16,
    /// `--initial-cluster`; just this member when empty.
    pub initial_cluster: String,
    /// `--initial-cluster-state`: `new` or `existing`.
    pub cluster_state: &'static str,
    /// Flags added after the usual ones.
    pub extra_args: Vec<String>,
    /// The server binary: rudder-store, or [`ETCD`] to compare with.
    pub program: PathBuf,
    child: Option<Child>,
}

impl Member {
    /// Certificates for a single member named `default`, under a new temp dir.
    pub fn new() -> Self {
        let guard = TempDir::new().expect("temp dir");
        let mut opts = CertsOptions::new(guard.path());
        opts.store_members = vec!["default".into()];
        write_cluster_certs(&opts).expect("certs");
        let mut m = Self::in_dir(guard.path(), "default");
        m._guard = Some(guard);
        m
    }

    /// Like [`Member::new`], but a real etcd.
    pub fn etcd() -> Self {
        let mut m = Self::new();
        m.program = ETCD.into();
        m
    }

    /// A member whose certificates are already under `dir`.
    pub fn in_dir(dir: &Path, name: &str) -> Self {
        Self {
            dir: dir.to_path_buf(),
            _guard: None,
            name: name.into(),
            client_port: free_port(),
            peer_port: free_port(),
            metrics_port: free_port(),
            initial_cluster: String::new(),
            cluster_state: "new",
            extra_args: Vec::new(),
            program: env!("CARGO_BIN_EXE_rudder-store").into(),
            child: None,
        }
    }

    pub fn peer_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.peer_port)
    }

    pub fn layout(&self) -> CertsLayout {
        CertsLayout::new(&self.dir)
    }

    pub fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}", self.client_port)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join(format!("data-{}", self.name))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.name))
    }

    /// The server's flags, etcd-style.
    pub fn args(&self) -> Vec<String> {
        let tls = self.layout().store_member_tls(&self.name);
        let peer = self.peer_url();
        let cluster = if self.initial_cluster.is_empty() {
            format!("{}={peer}", self.name)
        } else {
            self.initial_cluster.clone()
        };
        vec![
            format!("--name={}", self.name),
            format!("--data-dir={}", self.data_dir().display()),
            format!("--listen-client-urls={}", self.endpoint()),
            format!("--advertise-client-urls={}", self.endpoint()),
            format!("--listen-peer-urls={peer}"),
            format!("--initial-advertise-peer-urls={peer}"),
            format!("--initial-cluster={cluster}"),
            format!("--initial-cluster-state={}", self.cluster_state),
            format!("--trusted-ca-file={}", tls.ca.display()),
            format!("--cert-file={}", tls.cert.display()),
            format!("--key-file={}", tls.key.display()),
            "--client-cert-auth".into(),
            format!("--peer-trusted-ca-file={}", tls.ca.display()),
            format!("--peer-cert-file={}", tls.cert.display()),
            format!("--peer-key-file={}", tls.key.display()),
            "--peer-client-cert-auth".into(),
            format!(
                "--listen-metrics-urls=http://127.0.0.1:{}",
                self.metrics_port
            ),
            "--experimental-watch-progress-notify-interval=500ms".into(),
            "--heartbeat-interval=50".into(),
            "--election-timeout=500".into(),
        ]
        .into_iter()
        .chain(self.extra_args.iter().cloned())
        .collect()
    }

    /// Starts the binary and waits until it answers a linearizable read.
    pub fn start(&mut self) {
        self.spawn();
        self.wait_healthy();
    }

    /// Starts the binary without waiting (a cluster's members need each other to be healthy).
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let child = Command::new(&self.program)
            .args(self.args())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.program.display()));
        self.child = Some(child);
    }

    /// Waits until the member answers a linearizable read.
    pub fn wait_healthy(&self) {
        assert_eventually!(
            self.etcdctl(&["endpoint", "health"]).status.success(),
            Duration::from_secs(30),
            "rudder-store never became healthy; log:\n{}",
            self.log()
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Stops the process with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Freezes the process (SIGSTOP), as a partition or a long pause would: it neither
    /// answers nor notices time passing until [`Member::resume`].
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a process frozen by [`Member::pause`] (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let child = self.child.as_ref().expect("running");
        let status = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {sig} failed");
    }

    /// Stops the process with SIGTERM and waits for a clean exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("rudder-store did not stop on SIGTERM; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The etcdctl command with this member's endpoint and the API server's client identity.
    pub fn etcdctl_cmd(&self, args: &[&str]) -> Command {
        let tls = self.layout().apiserver_etcd_client_tls();
        let mut cmd = Command::new(ETCDCTL);
        cmd.env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.endpoint()))
            .arg(format!("--cacert={}", tls.ca.display()))
            .arg(format!("--cert={}", tls.cert.display()))
            .arg(format!("--key={}", tls.key.display()))
            .arg("--dial-timeout=3s")
            .arg("--command-timeout=10s")
            .args(args);
        cmd
    }

    /// Runs `etcdctl txn` with `script` on its stdin and returns its stdout, failing the test
    /// if it failed.
    pub fn must_txn(&self, script: &str) -> String {
        use std::io::Write;
        let mut child = self
            .etcdctl_cmd(&["txn", "--interactive=false"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("etcdctl txn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("write script");
        let out = child.wait_with_output().expect("txn output");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    pub fn etcdctl(&self, args: &[&str]) -> Output {
        self.etcdctl_cmd(args).output().expect("run etcdctl")
    }

    /// Runs etcdctl and returns its stdout, failing the test if it failed.
    pub fn must(&self, args: &[&str]) -> String {
        let out = self.etcdctl(args);
        assert!(
            out.status.success(),
            "etcdctl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// An `etcd-client` connection to this member over TLS, presenting the client
    /// certificate when `with_cert`.
    pub async fn client(&self, with_cert: bool) -> Result<etcd_client::Client, etcd_client::Error> {
        use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};
        let mut tls = TlsOptions::new()
            .ca_certificate(Certificate::from_pem(self.ca_pem()))
            .domain_name("localhost");
        if with_cert {
            let (cert, key) = self.client_pair_pem();
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        let opts = ConnectOptions::new()
            .with_tls(tls)
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(10));
        etcd_client::Client::connect([self.endpoint()], Some(opts)).await
    }

    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.layout().ca_cert()).expect("ca")
    }

    pub fn client_pair_pem(&self) -> (String, String) {
        let tls = self.layout().apiserver_etcd_client_tls();
        (
            std::fs::read_to_string(tls.cert).expect("cert"),
            std::fs::read_to_string(tls.key).expect("key"),
        )
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// A cluster of members sharing one CA, started together.
pub struct Cluster {
    pub members: Vec<Member>,
    /// How many of `members` form the cluster at start.
    pub founders: usize,
    _guard: TempDir,
}

impl Cluster {
    /// `n` members named m0, m1, ... with their certificates; not started.
    pub fn new(n: usize) -> Self {
        Self::with_spares(n, 0)
    }

    /// `n` founding members and `spares` more with certificates (m<n>, ...) that can be added
    /// at runtime; only the founders are in `--initial-cluster`.
    pub fn with_spares(n: usize, spares: usize) -> Self {
        let guard = TempDir::new().expect("temp dir");
        let names: Vec<String> = (0..n + spares).map(|i| format!("m{i}")).collect();
        let mut opts = CertsOptions::new(guard.path());
        opts.store_members = names.clone();
        write_cluster_certs(&opts).expect("certs");
        let mut members: Vec<Member> = names
            .iter()
            .map(|n| Member::in_dir(guard.path(), n))
            .collect();
        let initial = members[..n]
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        for m in &mut members {
            m.initial_cluster = initial.clone();
        }
        Self {
            members,
            founders: n,
            _guard: guard,
        }
    }

    /// Starts every founding member, then waits for each to serve linearizable reads.
    pub fn start(&mut self) {
        let n = self.founders;
        for m in &mut self.members[..n] {
            m.spawn();
        }
        for m in &self.members[..n] {
            m.wait_healthy();
        }
    }

    /// The index of the member every running member names as leader, once they agree.
    pub fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(leader) = self.agreed_leader() {
                return leader;
            }
            assert!(
                Instant::now() < deadline,
                "the members never agreed on a leader"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn agreed_leader(&self) -> Option<usize> {
        let mut leader_ids = Vec::new();
        let mut member_ids = Vec::new();
        for m in self.members.iter().filter(|m| m.is_running()) {
            let out = m.etcdctl(&["endpoint", "status", "-w", "json"]);
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            let status = &v[0]["Status"];
            leader_ids.push(status["leader"].as_u64()?);
            member_ids.push(status["header"]["member_id"].as_u64()?);
        }
        let first = *leader_ids.first()?;
        if first == 0 || leader_ids.iter().any(|l| *l != first) {
            return None;
        }
        let idx = member_ids.iter().position(|id| *id == first)?;
        let running: Vec<usize> = (0..self.members.len())
            .filter(|i| self.members[*i].is_running())
            .collect();
        Some(running[idx])
    }
}
