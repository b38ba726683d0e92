//! The real kubectl authenticates with a kubeconfig from `write_cluster_certs` against
//! a server built on `TlsPaths::server_config`: both sides of the mTLS are verified,
//! and the server reads kubectl's identity from the connection.

use std::convert::Infallible;
use std::path::Path;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rudder_pki::certs::{CertsLayout, CertsOptions, write_cluster_certs};
use rudder_pki::{Identity, connection_identity};
use tokio::net::TcpListener;

const KUBECTL: &str = "/usr/bin/kubectl";

#[tokio::test]
async fn kubectl_presents_the_admin_certificate_and_trusts_the_apiserver_certificate() {
    if !Path::new(KUBECTL).exists() {
        eprintln!("!!!!!!!! SKIPPED: {KUBECTL} is not installed !!!!!!!!");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut options = CertsOptions::new(dir.path());
    options.server_url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    write_cluster_certs(&options).unwrap();
    let layout = CertsLayout::new(dir.path());

    let acceptor = tokio_rustls::TlsAcceptor::from(layout.apiserver_tls().server_config().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let body = serde_json::to_vec(&connection_identity(tls.get_ref().1)).unwrap();
                let service = hyper::service::service_fn(move |_request| {
                    let body = Bytes::from(body.clone());
                    async move { Ok::<_, Infallible>(hyper::Response::new(Full::new(body))) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });

    let output = tokio::process::Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(layout.kubeconfig("admin"))
        .args(["--request-timeout=30s", "get", "--raw", "/whoami"])
        .output()
        .await
        .unwrap();

    assert!(
        output.status.success(),
        "kubectl get --raw failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let identity: Option<Identity> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(identity, Some(Identity::new("admin", ["system:masters"])));
}
