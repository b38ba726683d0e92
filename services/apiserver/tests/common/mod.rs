//! The harness the API server tests share: a store process (real etcd 3.4, or
//! rudder-store: same etcd-style flags, same mTLS) on loopback ports with fresh
//! certificates and data, an in-process API server on a port of its own, an HTTPS
//! client with the admin certificate, and the real kubectl.
//!
//! `RUDDER_TEST_STORE=etcd` (default) or `rudder-store` picks the store; for the
//! latter `RUDDER_STORE_BIN` names the binary. Every assertion is the same for both.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rudder_apiserver::SecurityHooks;
use rudder_apiserver::config::Config;
use rudder_apiserver::registry::Registry;
use rudder_apiserver::storage::{Storage, StoreConfig};
use rudder_pki::certs::{CertsLayout, CertsOptions, write_cluster_certs};
use rustls_pki_types::pem::PemObject;
use serde_json::Value;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// Polls an async condition until it holds or the timeout passes, then fails.
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
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }};
}

pub const KUBECTL: &str = "/usr/bin/kubectl";
pub const ETCD: &str = "/usr/bin/etcd";

/// Which store the tests run against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    /// Debian's etcd 3.4.
    Etcd,
    /// rudder-store, from the given binary.
    RudderStore(PathBuf),
}

impl StoreKind {
    /// From `RUDDER_TEST_STORE` / `RUDDER_STORE_BIN`.
    pub fn from_env() -> Self {
        match std::env::var("RUDDER_TEST_STORE").as_deref() {
            Ok("rudder-store") => {
                let bin = std::env::var("RUDDER_STORE_BIN")
                    .expect("RUDDER_TEST_STORE=rudder-store needs RUDDER_STORE_BIN");
                StoreKind::RudderStore(PathBuf::from(bin))
            }
            _ => StoreKind::Etcd,
        }
    }

    fn binary(&self) -> &Path {
        match self {
            StoreKind::Etcd => Path::new(ETCD),
            StoreKind::RudderStore(bin) => bin,
        }
    }
}

pub use rudder_testkit::free_port;

/// True, after saying so loudly, when the real kubectl is not installed: kubectl tests
/// then return early rather than fail on a machine without it.
pub fn kubectl_missing() -> bool {
    if Path::new(KUBECTL).exists() {
        return false;
    }
    eprintln!("!!!!!!!! SKIPPED: {KUBECTL} is not installed !!!!!!!!");
    true
}

/// Runs the real kubectl with the admin kubeconfig; it must succeed. Returns stdout.
pub async fn ok(cluster: &TestCluster, args: &[&str]) -> String {
    let out = cluster.kubectl(args).await;
    assert!(
        out.status.success(),
        "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a Python script with the admin kubeconfig as its argument; it must succeed
/// and print JSON, which is returned. `None`, after saying so loudly, when the
/// Python `kubernetes` client is not installed.
pub async fn python_client(cluster: &TestCluster, script: &str) -> Option<Value> {
    let probe = Command::new("python3")
        .args(["-c", "import kubernetes"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("!!!!!!!! SKIPPED: the Python kubernetes client is not installed !!!!!!!!");
        return None;
    }
    let out = tokio::process::Command::new("python3")
        .args(["-c", script])
        .arg(cluster.layout().kubeconfig("admin"))
        .output()
        .await
        .expect("run python3");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("the script prints JSON"))
}

/// One store process with mTLS, killed on drop.
pub struct TestStore {
    pub endpoint: String,
    dir: PathBuf,
    child: Child,
}

impl TestStore {
    /// Starts the store with the member certificate from `layout` and waits until it
    /// answers a read.
    pub async fn start(kind: &StoreKind, layout: &CertsLayout, dir: &Path) -> Self {
        let client_port = free_port();
        let peer_port = free_port();
        let metrics_port = free_port();
        let tls = layout.store_member_tls("default");
        let endpoint = format!("https://127.0.0.1:{client_port}");
        let peer = format!("https://127.0.0.1:{peer_port}");
        let data = dir.join("store-data");
        let log = std::fs::File::create(dir.join("store.log")).expect("log file");
        let child = Command::new(kind.binary())
            .args([
                "--name=default".to_string(),
                format!("--data-dir={}", data.display()),
                format!("--listen-client-urls={endpoint}"),
                format!("--advertise-client-urls={endpoint}"),
                format!("--listen-peer-urls={peer}"),
                format!("--initial-advertise-peer-urls={peer}"),
                format!("--initial-cluster=default={peer}"),
                "--initial-cluster-state=new".into(),
                format!("--trusted-ca-file={}", tls.ca.display()),
                format!("--cert-file={}", tls.cert.display()),
                format!("--key-file={}", tls.key.display()),
                "--client-cert-auth".into(),
                format!("--peer-trusted-ca-file={}", tls.ca.display()),
                format!("--peer-cert-file={}", tls.cert.display()),
                format!("--peer-key-file={}", tls.key.display()),
                "--peer-client-cert-auth".into(),
                format!("--listen-metrics-urls=http://127.0.0.1:{metrics_port}"),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", kind.binary().display()));
        let store = TestStore {
            endpoint,
            dir: dir.to_path_buf(),
            child,
        };
        let config = store.config(layout);
        let mut ready = false;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(storage) = Storage::connect(&config).await
                && storage.current_revision().await.is_ok()
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "store never became ready; log:\n{}", store.log());
        store
    }

    /// How the API server reaches this store.
    pub fn config(&self, layout: &CertsLayout) -> StoreConfig {
        StoreConfig {
            endpoints: vec![self.endpoint.clone()],
            tls: Some(layout.apiserver_etcd_client_tls()),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("store.log")).unwrap_or_default()
    }

    /// Stops the store with SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The flags an API server on `port` needs to reach the store at `endpoint` and
/// to serve with the certificates of `layout` (what `rudderadm up` passes).
pub fn apiserver_flags(layout: &CertsLayout, endpoint: &str, port: u16) -> Vec<String> {
    let serving = layout.apiserver_tls();
    let etcd = layout.apiserver_etcd_client_tls();
    let kubelet = layout.apiserver_kubelet_client_tls();
    vec![
        format!("--etcd-servers={endpoint}"),
        format!("--etcd-cafile={}", layout.ca_cert().display()),
        format!("--etcd-certfile={}", etcd.cert.display()),
        format!("--etcd-keyfile={}", etcd.key.display()),
        format!("--tls-cert-file={}", serving.cert.display()),
        format!("--tls-private-key-file={}", serving.key.display()),
        format!("--client-ca-file={}", serving.ca.display()),
        format!("--kubelet-client-certificate={}", kubelet.cert.display()),
        format!("--kubelet-client-key={}", kubelet.key.display()),
        "--bind-address=127.0.0.1".into(),
        format!("--secure-port={port}"),
    ]
}

/// A gRPC channel to the API server on `port`, with `tls`'s identity.
pub async fn grpc_channel(
    port: u16,
    tls: tonic::transport::ClientTlsConfig,
) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(format!("https://127.0.0.1:{port}"))
        .expect("uri")
        .tls_config(tls)
        .expect("tls")
        .connect()
        .await
        .expect("connect")
}

/// Certificates, a store and (optionally) an API server, torn down on drop.
pub struct TestCluster {
    pub dir: TempDir,
    pub store: TestStore,
    pub port: u16,
    config: Config,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<rudder_apiserver::Result<()>>>,
}

impl TestCluster {
    /// Certificates and a store, no API server.
    pub async fn store_only() -> (TempDir, CertsLayout, TestStore) {
        let dir = TempDir::new().expect("temp dir");
        write_cluster_certs(&CertsOptions::new(dir.path())).expect("certs");
        let layout = CertsLayout::new(dir.path());
        let store = TestStore::start(&StoreKind::from_env(), &layout, dir.path()).await;
        (dir, layout, store)
    }

    /// A registry over a fresh store, for the registry suite.
    pub async fn registry() -> (TempDir, TestStore, Registry) {
        let (dir, layout, store) = Self::store_only().await;
        let storage = Storage::connect(&store.config(&layout))
            .await
            .expect("connect");
        (dir, store, Registry::new(storage, SecurityHooks::default()))
    }

    /// Certificates for the API server's port, a store, and the API server, ready.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// [`TestCluster::start`] with extra API server flags
    /// (`--authorization-mode=Node,RBAC`, `--audit-log-path=...`); `{dir}` in a
    /// flag is the cluster's directory (certificates are under `{dir}/pki`).
    pub async fn start_with(extra_flags: &[String]) -> Self {
        let dir = TempDir::new().expect("temp dir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut options = CertsOptions::new(dir.path());
        options.server_url = format!("https://127.0.0.1:{port}");
        write_cluster_certs(&options).expect("certs");
        let layout = CertsLayout::new(dir.path());
        let store = TestStore::start(&StoreKind::from_env(), &layout, dir.path()).await;
        let config = Config::from_args(
            std::iter::once("rudder-apiserver".to_string())
                .chain(apiserver_flags(&layout, &store.endpoint, port))
                .chain(
                    extra_flags
                        .iter()
                        .map(|f| f.replace("{dir}", &dir.path().display().to_string())),
                ),
        )
        .expect("flags")
        .expect("config");
        let config = Config {
            watch_bookmark_interval: Duration::from_millis(500),
            watch_history: 20,
            ..config
        };
        let shutdown = CancellationToken::new();
        let server = tokio::spawn({
            let served = rudder_apiserver::serve(
                config.clone(),
                listener,
                SecurityHooks::default(),
                shutdown.clone(),
            );
            async move {
                let result = served.await;
                if let Err(e) = &result {
                    eprintln!("the API server stopped: {e}");
                }
                result
            }
        });
        let cluster = TestCluster {
            dir,
            store,
            port,
            config,
            shutdown,
            server: Some(server),
        };
        let client = cluster.client("admin");
        assert_eventually!(
            client
                .get("/readyz")
                .await
                .is_ok_and(|r| r.status == StatusCode::OK)
                && client
                    .get("/api/v1/namespaces/default")
                    .await
                    .is_ok_and(|r| r.status == StatusCode::OK),
            Duration::from_secs(30),
            "the API server never became ready with the default namespace"
        );
        cluster
    }

    /// [`TestCluster::start_with`] the security flags `rudderadm up` passes:
    /// `--authorization-mode=Node,RBAC`, the service-account key pair, and an
    /// audit log (read it with [`TestCluster::audit_lines`]).
    pub async fn start_secured() -> Self {
        Self::start_with(&[
            "--authorization-mode=Node,RBAC".to_string(),
            "--service-account-key-file={dir}/pki/sa.pub".to_string(),
            "--service-account-signing-key-file={dir}/pki/sa.key".to_string(),
            "--audit-log-path={dir}/audit.log".to_string(),
        ])
        .await
    }

    /// The audit log's lines so far (see [`TestCluster::start_secured`]).
    pub fn audit_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("audit.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
            .collect()
    }

    /// Writes the kubeconfig `<name>.conf`: admin's server and CA, with `token` as
    /// its only credential (use it with [`TestCluster::kubectl_as`]).
    pub fn token_kubeconfig(&self, name: &str, token: &str) {
        let layout = self.layout();
        let mut kubeconfig = rudder_pki::kubeconfig::Kubeconfig::load(&layout.kubeconfig("admin"))
            .expect("admin.conf");
        kubeconfig.users[0].user = rudder_pki::kubeconfig::AuthInfo {
            token: Some(rudder_pki::kubeconfig::Secret(token.to_string())),
            ..Default::default()
        };
        kubeconfig
            .save(&layout.kubeconfig(name))
            .expect("save kubeconfig");
    }

    pub fn layout(&self) -> CertsLayout {
        CertsLayout::new(self.dir.path())
    }

    /// A second API server on the same store (another port, same certificates),
    /// stopped with the cluster. Returns a client of it.
    pub async fn add_replica(&self) -> ApiClient {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(rudder_apiserver::serve(
            self.config.clone(),
            listener,
            SecurityHooks::default(),
            self.shutdown.child_token(),
        ));
        let tls = self.layout().client_tls("admin");
        let client = ApiClient {
            port,
            tls: tls.client_config().expect("client tls"),
        };
        assert_eventually!(
            client
                .get("/readyz")
                .await
                .is_ok_and(|r| r.status == StatusCode::OK),
            Duration::from_secs(30),
            "the replica never became ready"
        );
        client
    }

    /// A direct store connection (with the API server's store identity).
    pub async fn storage(&self) -> Storage {
        Storage::connect(&self.store.config(&self.layout()))
            .await
            .expect("store")
    }

    /// An HTTPS client presenting the certificate of `identity` (`admin`, `scheduler` ...).
    pub fn client(&self, identity: &str) -> ApiClient {
        let tls = self.layout().client_tls(identity);
        ApiClient {
            port: self.port,
            tls: tls.client_config().expect("client tls"),
        }
    }

    /// Issues a client certificate for `user` in `groups` from the cluster CA with
    /// `validity`, written as `pki/<name>.crt|key` with a kubeconfig `<name>.conf`
    /// (use [`TestCluster::client`] and [`TestCluster::kubectl_as`] with `name`).
    pub fn add_user(
        &self,
        name: &str,
        user: &str,
        groups: &[&str],
        validity: rudder_pki::Validity,
    ) -> ApiClient {
        let layout = self.layout();
        let ca = rudder_pki::CertificateAuthority::load(&layout.pki_dir()).expect("CA");
        let cert = ca.issue_client(user, groups, validity).expect("issue");
        let (crt, key) = layout.pair(name);
        cert.write(&crt, &key).expect("write cert");
        let ca_pem = std::fs::read_to_string(layout.ca_cert()).expect("ca pem");
        rudder_pki::kubeconfig::Kubeconfig::for_identity(
            "rudder",
            &format!("https://127.0.0.1:{}", self.port),
            &ca_pem,
            user,
            &cert,
        )
        .save(&layout.kubeconfig(name))
        .expect("kubeconfig");
        self.client(name)
    }

    /// A client that trusts the cluster CA but presents no certificate (for
    /// bearer tokens, or nothing at all).
    pub fn client_without_certificate(&self) -> ApiClient {
        rudder_pki::install_crypto_provider();
        let ca = std::fs::read(self.layout().ca_cert()).expect("ca");
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&ca) {
            roots.add(cert.expect("ca pem")).expect("root");
        }
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        ApiClient::new(self.port, Arc::new(config))
    }

    /// rudder-client (gRPC) with the kubeconfig `<name>.conf`, without retries.
    pub fn rudder_client(&self, name: &str) -> rudder_client::Client {
        rudder_client::Client::from_kubeconfig(&rudder_client::KubeconfigOptions {
            path: Some(self.layout().kubeconfig(name)),
            ..Default::default()
        })
        .unwrap()
        .with_retry_policy(rudder_client::RetryPolicy::none())
    }

    /// Runs the real kubectl with the admin kubeconfig.
    pub async fn kubectl(&self, args: &[&str]) -> std::process::Output {
        self.kubectl_as("admin", args).await
    }

    /// Runs the real kubectl with the kubeconfig `<name>.conf`.
    pub async fn kubectl_as(&self, name: &str, args: &[&str]) -> std::process::Output {
        tokio::process::Command::new(KUBECTL)
            .arg("--kubeconfig")
            .arg(self.layout().kubeconfig(name))
            .arg(format!(
                "--cache-dir={}",
                self.dir.path().join("kube-cache").display()
            ))
            .arg("--request-timeout=30s")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run kubectl")
    }

    /// Stops the API server and waits for it to drain.
    pub async fn stop(mut self) -> rudder_apiserver::Result<()> {
        self.shutdown.cancel();
        match self.server.take() {
            Some(handle) => handle.await.expect("server task"),
            None => Ok(()),
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// One answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A minimal HTTPS/1.1 client with a client certificate: one connection per request.
#[derive(Clone)]
pub struct ApiClient {
    port: u16,
    tls: Arc<rustls::ClientConfig>,
}

impl ApiClient {
    /// A client of the API server on `port` with this TLS identity.
    pub fn new(port: u16, tls: Arc<rustls::ClientConfig>) -> Self {
        ApiClient { port, tls }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<Reply, String> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .map_err(|e| e.to_string())?;
        let mut tls = (*self.tls).clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("name");
        let stream = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder
            .body(Full::new(body.into()))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// Starts a streaming GET (a watch) and returns its status and a channel of the
    /// body's lines, parsed as JSON; the channel closes when the stream ends.
    pub async fn watch(&self, path: &str) -> (StatusCode, tokio::sync::mpsc::Receiver<Value>) {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        let mut tls = (*self.tls).clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("name");
        let stream = connector.connect(name, tcp).await.expect("tls");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let request = Request::get(path)
            .header("host", "127.0.0.1")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = sender.send_request(request).await.expect("response");
        let status = response.status();
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let mut body = response.into_body();
        tokio::spawn(async move {
            let _keep = sender;
            let mut buffer = Vec::new();
            while let Some(Ok(frame)) = body.frame().await {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                buffer.extend_from_slice(&data);
                while let Some(pos) = buffer.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=pos).collect();
                    let value: Value = serde_json::from_slice(&line).expect("event line is JSON");
                    if tx.send(value).await.is_err() {
                        return;
                    }
                }
            }
        });
        (status, rx)
    }

    pub async fn get(&self, path: &str) -> Result<Reply, String> {
        self.request(Method::GET, path, &[], Bytes::new()).await
    }

    /// A request that must get an answer (any status).
    pub async fn must(&self, method: Method, path: &str, body: &str) -> Reply {
        self.request(
            method.clone(),
            path,
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }
}
