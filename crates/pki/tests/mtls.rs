//! Mutual TLS end to end with the certificates `rudderadm certs` writes: a tonic `Api`
//! service and a hyper server over tokio-rustls, each telling the client who it is.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rudder_pki::certs::{CertsLayout, CertsOptions, write_cluster_certs};
use rudder_pki::{CertificateAuthority, Identity, TlsPaths, Validity, peer_identity};
use rudder_proto::api::v1::api_client::ApiClient;
use rudder_proto::api::v1::api_server::{Api, ApiServer};
use rudder_proto::api::v1::{GetRequest, ObjectResponse};
use rustls_pki_types::ServerName;
use tempfile::TempDir;
use tokio::net::{TcpListener, TcpStream};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Server};
use tonic::{Request, Response, Status};

/// Answers `get` with the caller's identity as JSON.
struct WhoAmI;

#[tonic::async_trait]
impl Api for WhoAmI {
    async fn get(&self, request: Request<GetRequest>) -> Result<Response<ObjectResponse>, Status> {
        let identity = peer_identity(&request)
            .ok_or_else(|| Status::unauthenticated("no client certificate"))?;
        let object =
            serde_json::to_vec(&identity).map_err(|err| Status::internal(err.to_string()))?;
        Ok(Response::new(ObjectResponse { object }))
    }
}

/// A fresh cluster directory with one node, `node-1`.
fn cluster() -> (TempDir, CertsLayout) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = CertsOptions::new(dir.path());
    options.nodes = vec!["node-1".to_string()];
    write_cluster_certs(&options).unwrap();
    let layout = CertsLayout::new(dir.path());
    (dir, layout)
}

/// Serves `WhoAmI` with the API server certificate on a loopback port.
async fn serve_who_am_i(layout: &CertsLayout) -> SocketAddr {
    let tls = layout.apiserver_tls().tonic_server().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .tls_config(tls)
        .unwrap()
        .add_service(ApiServer::new(WhoAmI));
    tokio::spawn(server.serve_with_incoming(TcpListenerStream::new(listener)));
    addr
}

/// Connects and calls `get`; any failure, at connect or at the RPC, is `Err`. Under
/// TLS 1.3 a refused client certificate may only show at the first RPC.
async fn who_am_i(addr: SocketAddr, tls: ClientTlsConfig) -> Result<Identity, String> {
    let channel = Endpoint::from_shared(format!("https://127.0.0.1:{}", addr.port()))
        .unwrap()
        .tls_config(tls)
        .map_err(|err| format!("tls config: {err:?}"))?
        .connect()
        .await
        .map_err(|err| format!("connect: {err:?}"))?;
    let response = ApiClient::new(channel)
        .get(GetRequest::default())
        .await
        .map_err(|status| format!("rpc: {status:?}"))?;
    Ok(serde_json::from_slice(&response.into_inner().object).unwrap())
}

/// Asserts the server refused the client during the handshake with TLS alert `alert`.
fn assert_refused_with(result: Result<Identity, String>, alert: &str) {
    match result {
        Ok(identity) => panic!("the server accepted the client as {identity:?}"),
        Err(err) => assert!(
            err.contains(&format!("received fatal alert: {alert}")),
            "expected alert {alert}, got: {err}"
        ),
    }
}

#[tokio::test]
async fn admin_is_seen_as_admin_in_system_masters() {
    let (_dir, layout) = cluster();
    let addr = serve_who_am_i(&layout).await;

    let tls = layout
        .client_tls("admin")
        .tonic_client("localhost")
        .unwrap();
    let identity = who_am_i(addr, tls).await.unwrap();

    assert_eq!(identity, Identity::new("admin", ["system:masters"]));
}

#[tokio::test]
async fn a_node_is_seen_as_system_node_in_system_nodes() {
    let (_dir, layout) = cluster();
    let addr = serve_who_am_i(&layout).await;

    let tls = layout
        .client_tls("kubelet-node-1")
        .tonic_client("localhost")
        .unwrap();
    let identity = who_am_i(addr, tls).await.unwrap();

    assert_eq!(
        identity,
        Identity::new("system:node:node-1", ["system:nodes"])
    );
}

#[tokio::test]
async fn a_client_issued_later_by_the_loaded_ca_is_seen_with_all_its_groups() {
    let (dir, layout) = cluster();
    let addr = serve_who_am_i(&layout).await;
    let ca = CertificateAuthority::load(&layout.pki_dir()).unwrap();
    let issued = ca
        .issue_client("alice", &["dev", "ops"], Validity::days(1))
        .unwrap();
    let (cert, key) = (dir.path().join("alice.crt"), dir.path().join("alice.key"));
    issued.write(&cert, &key).unwrap();

    let tls = TlsPaths::new(layout.ca_cert(), cert, key)
        .tonic_client("localhost")
        .unwrap();
    let identity = who_am_i(addr, tls).await.unwrap();

    assert_eq!(identity, Identity::new("alice", ["dev", "ops"]));
}

#[tokio::test]
async fn a_client_without_certificate_is_rejected() {
    let (_dir, layout) = cluster();
    let addr = serve_who_am_i(&layout).await;
    let ca_pem = std::fs::read_to_string(layout.ca_cert()).unwrap();

    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    let result = who_am_i(addr, tls).await;

    assert_refused_with(result, "CertificateRequired");
}

#[tokio::test]
async fn a_client_with_a_certificate_of_another_ca_is_rejected() {
    // Both CAs are named `rudder-ca`, so the server finds an issuer by name and the
    // signature check fails: rustls answers DecryptError.
    let (_dir, layout) = cluster();
    let (_other_dir, other) = cluster();
    let addr = serve_who_am_i(&layout).await;

    let (cert, key) = other.pair("admin");
    let tls = TlsPaths::new(layout.ca_cert(), cert, key)
        .tonic_client("localhost")
        .unwrap();
    let result = who_am_i(addr, tls).await;

    assert_refused_with(result, "DecryptError");
}

#[tokio::test]
async fn a_client_with_an_expired_certificate_is_rejected() {
    let (dir, layout) = cluster();
    let addr = serve_who_am_i(&layout).await;
    let ca = CertificateAuthority::load(&layout.pki_dir()).unwrap();
    let expired = ca
        .issue_client("admin", &["system:masters"], Validity::expired())
        .unwrap();
    let (cert, key) = (
        dir.path().join("expired.crt"),
        dir.path().join("expired.key"),
    );
    expired.write(&cert, &key).unwrap();

    let tls = TlsPaths::new(layout.ca_cert(), cert, key)
        .tonic_client("localhost")
        .unwrap();
    let result = who_am_i(addr, tls).await;

    assert_refused_with(result, "CertificateExpired");
}

/// Serves HTTP over tokio-rustls with the API server certificate; every response
/// body is the JSON of `connection_identity` for its connection.
async fn serve_hyper_who_am_i(layout: &CertsLayout) -> SocketAddr {
    let acceptor = tokio_rustls::TlsAcceptor::from(layout.apiserver_tls().server_config().unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let body =
                    serde_json::to_vec(&rudder_pki::connection_identity(tls.get_ref().1)).unwrap();
                let service = hyper::service::service_fn(move |_request| {
                    let body = Bytes::from(body.clone());
                    async move { Ok::<_, Infallible>(hyper::Response::new(Full::new(body))) }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_hyper_server_sees_the_identity_of_the_connection() {
    let (_dir, layout) = cluster();
    let addr = serve_hyper_who_am_i(&layout).await;

    let connector = tokio_rustls::TlsConnector::from(
        layout.client_tls("kubelet-node-1").client_config().unwrap(),
    );
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::get("https://localhost/whoami")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();

    let identity: Option<Identity> = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        identity,
        Some(Identity::new("system:node:node-1", ["system:nodes"]))
    );
}
