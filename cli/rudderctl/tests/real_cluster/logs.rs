//! `logs` end to end: rudderctl (gRPC `Logs`) and kubectl (REST `pods/log`) against
//! the real API server, which proxies to the node's kubelet over HTTPS. No kubelet
//! exists yet, so a small HTTPS server with a certificate from the cluster CA plays
//! it: the one stand-in here, for a component not built yet. As a kubelet, it demands
//! a client certificate from the cluster CA; it records who asked what and answers
//! as the kubelet does.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rudder_pki::{CertRequest, CertUsage, CertificateAuthority, Validity};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// The stand-in kubelet: `/containerLogs/<ns>/<pod>/<container>` answers.
struct FakeKubelet {
    port: u16,
    /// Path and query of every request, in order.
    requests: Arc<Mutex<Vec<String>>>,
    /// The user of each request's client certificate, in order.
    clients: Arc<Mutex<Vec<String>>>,
    /// A follow stream sends its second line once released.
    release: Arc<tokio::sync::Semaphore>,
    runtime: tokio::runtime::Runtime,
}

impl FakeKubelet {
    fn start(cluster_dir: &Path) -> FakeKubelet {
        rudder_pki::install_crypto_provider();
        let ca = CertificateAuthority::load(&cluster_dir.join("pki")).unwrap();
        let cert = ca
            .issue(&CertRequest {
                common_name: "system:node:n1".into(),
                organizations: vec!["system:nodes".into()],
                sans: vec!["127.0.0.1".into()],
                usage: CertUsage::Server,
                validity: Validity::days(1),
            })
            .unwrap();
        let chain = CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(cert.key.expose_pem().as_bytes()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for ca_cert in CertificateDer::pem_file_iter(cluster_dir.join("pki/ca.crt")).unwrap() {
            roots.add(ca_cert.unwrap()).unwrap();
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .unwrap();
        let tls = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let port = free_port();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
            .unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let clients = Arc::new(Mutex::new(Vec::new()));
        let release = Arc::new(tokio::sync::Semaphore::new(0));
        let (seen, who, gate) = (requests.clone(), clients.clone(), release.clone());
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, seen, who, gate) =
                    (acceptor.clone(), seen.clone(), who.clone(), gate.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let user = rudder_pki::connection_identity(tls.get_ref().1)
                        .map(|identity| identity.user)
                        .unwrap_or_default();
                    who.lock().unwrap().push(user);
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if tls.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let target = head.split(' ').nth(1).unwrap_or_default().to_string();
                    seen.lock().unwrap().push(target.clone());
                    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                    let reply = |code: &str, body: &str| {
                        format!(
                            "HTTP/1.1 {code}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    let answer = match path.rsplit('/').next().unwrap_or_default() {
                        "b" => reply(
                            "400 Bad Request",
                            "container \"b\" in pod \"pair\" is waiting to start: ContainerCreating",
                        ),
                        container if query.contains("follow=true") => {
                            let start = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";
                            let _ = tls.write_all(start.as_bytes()).await;
                            let _ = tls.write_all(format!("{container}: first\n").as_bytes()).await;
                            let _ = tls.flush().await;
                            if let Ok(permit) = gate.acquire().await {
                                permit.forget();
                            }
                            let _ = tls.write_all(format!("{container}: second\n").as_bytes()).await;
                            let _ = tls.shutdown().await;
                            return;
                        }
                        _ if query.contains("previous=true") => {
                            reply("200 OK", "the previous instance's last words\n")
                        }
                        container => reply(
                            "200 OK",
                            &format!("{container}: line 1\n{container}: line 2\n"),
                        ),
                    };
                    let _ = tls.write_all(answer.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        FakeKubelet {
            port,
            requests,
            clients,
            release,
            runtime,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    fn clients(&self) -> Vec<String> {
        self.clients.lock().unwrap().clone()
    }
}

impl Drop for FakeKubelet {
    fn drop(&mut self) {
        self.release.close();
        let _ = &self.runtime;
    }
}

fn node_and_pods(port: u16) -> String {
    format!(
        "apiVersion: v1
kind: Namespace
metadata:
  name: logs
---
apiVersion: v1
kind: Node
metadata:
  name: n1
---
apiVersion: v1
kind: Pod
metadata:
  name: bound
  namespace: logs
spec:
  nodeName: n1
  containers:
  - name: app
    image: busybox:1.36
---
apiVersion: v1
kind: Pod
metadata:
  name: pair
  namespace: logs
spec:
  nodeName: n1
  containers:
  - name: a
    image: busybox:1.36
  - name: b
    image: busybox:1.36
---
apiVersion: v1
kind: Pod
metadata:
  name: pending
  namespace: logs
spec:
  containers:
  - name: app
    image: busybox:1.36
# kubelet port {port}
"
    )
}

#[test]
fn logs_come_from_the_nodes_kubelet_through_the_api_server() {
    let mut cluster = Cluster::up();
    let kubelet = FakeKubelet::start(&cluster.dir);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("logs.yaml");
    std::fs::write(&file, node_and_pods(kubelet.port)).unwrap();
    ok(
        &cluster,
        Tool::Kubectl,
        &["apply", "-f", file.to_str().unwrap()],
    );
    // Where the node's kubelet listens: its status, as a kubelet reports it.
    let status = format!(
        "{{\"status\":{{\"addresses\":[{{\"type\":\"InternalIP\",\"address\":\"127.0.0.1\"}},{{\"type\":\"Hostname\",\"address\":\"n1\"}}],\"daemonEndpoints\":{{\"kubeletEndpoint\":{{\"Port\":{}}}}}}}}}",
        kubelet.port
    );
    ok(
        &cluster,
        Tool::Kubectl,
        &[
            "patch",
            "node",
            "n1",
            "--subresource=status",
            "--type=merge",
            "-p",
            &status,
        ],
    );

    let both = |args: &[&str]| -> [Run; 2] {
        [Tool::Rudderctl, Tool::Kubectl].map(|tool| run(&cluster, tool, args))
    };
    let expect_both = |args: &[&str], code: i32, stdout: &str, stderr: &str| {
        for (tool, out) in [Tool::Rudderctl, Tool::Kubectl].iter().zip(both(args)) {
            assert_eq!(
                (out.code, out.stdout.as_str(), out.stderr.as_str()),
                (code, stdout, stderr),
                "{tool:?} {args:?}"
            );
        }
    };

    // The only container's log, fetched from the kubelet of the pod's node.
    expect_both(
        &["-n", "logs", "logs", "bound"],
        0,
        "app: line 1\napp: line 2\n",
        "",
    );
    // The API server comes as itself: its kubelet-client certificate.
    let clients = kubelet.clients();
    assert!(
        !clients.is_empty() && clients.iter().all(|u| u == "kube-apiserver-kubelet-client"),
        "{clients:?}"
    );
    let asked = kubelet.requests();
    assert_eq!(
        asked[asked.len() - 2..],
        [
            "/containerLogs/logs/bound/app".to_string(),
            "/containerLogs/logs/bound/app".to_string()
        ]
    );
    // Options travel to the kubelet.
    expect_both(
        &[
            "-n",
            "logs",
            "logs",
            "pod/bound",
            "--previous",
            "--tail=5",
            "--timestamps",
        ],
        0,
        "the previous instance's last words\n",
        "",
    );
    let asked = kubelet.requests();
    for query in &asked[asked.len() - 2..] {
        for part in ["previous=true", "tailLines=5", "timestamps=true"] {
            assert!(query.contains(part), "{query}");
        }
    }
    // Several containers: both clients default to the first and say so.
    expect_both(
        &["-n", "logs", "logs", "pair"],
        0,
        "a: line 1\na: line 2\n",
        "Defaulted container \"a\" out of: a, b\n",
    );
    // The server's own answers: a wrong container, the kubelet's refusal, a pod
    // not scheduled yet (empty), a pod that does not exist.
    expect_both(
        &["-n", "logs", "logs", "pair", "-c", "nope"],
        1,
        "",
        "error: container nope is not valid for pod pair\n",
    );
    expect_both(
        &["-n", "logs", "logs", "pair", "-c", "b"],
        1,
        "",
        "Error from server (BadRequest): container \"b\" in pod \"pair\" is waiting to start: ContainerCreating\n",
    );
    expect_both(&["-n", "logs", "logs", "pending"], 0, "", "");
    expect_both(
        &["-n", "logs", "logs", "nope"],
        1,
        "",
        "error: error from server (NotFound): pods \"nope\" not found in namespace \"logs\"\n",
    );
    // REST without a container on a pod with several: upstream's 400.
    let raw = run(
        &cluster,
        Tool::Kubectl,
        &["get", "--raw", "/api/v1/namespaces/logs/pods/pair/log"],
    );
    assert_eq!(
        (raw.code, raw.stderr.as_str()),
        (
            1,
            "Error from server (BadRequest): a container name must be specified for pod pair, choose one of: [a b]\n"
        )
    );
    let raw = run(
        &cluster,
        Tool::Kubectl,
        &[
            "get",
            "--raw",
            "/api/v1/namespaces/logs/pods/pair/log?container=nope",
        ],
    );
    assert_eq!(
        (raw.code, raw.stderr.as_str()),
        (
            1,
            "Error from server (BadRequest): container nope is not valid for pod pair\n"
        )
    );

    // -f streams: the first line is printed while the kubelet still holds the second.
    for tool in [Tool::Rudderctl, Tool::Kubectl] {
        let mut child = Command::new(program(tool))
            .arg("--kubeconfig")
            .arg(cluster.kubeconfig())
            .args(["-n", "logs", "logs", "-f", "bound"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "app: first", "{tool:?}");
        kubelet.release.add_permits(1);
        assert_eq!(lines.next().unwrap().unwrap(), "app: second", "{tool:?}");
        assert!(lines.next().is_none(), "{tool:?}");
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{tool:?} logs -f did not end");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{tool:?}");
    }
    assert!(kubelet.requests().last().unwrap().contains("follow=true"));

    // The kubelet gone: a clear server error, not a hang.
    drop(kubelet);
    for out in both(&["-n", "logs", "logs", "bound"]) {
        assert_eq!(out.code, 1, "{out:?}");
        assert!(
            out.stderr.starts_with("Error from server"),
            "{:?}",
            out.stderr
        );
    }
    cluster.down();
}
