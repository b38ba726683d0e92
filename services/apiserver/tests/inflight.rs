//! `--max-mutating-requests-inflight`: with the pool held by a request still sending
//! its body, the next write is a 429 with Retry-After, system:masters still gets
//! through, and the pool frees when the held request ends.

mod common;

use std::sync::Arc;

use common::TestCluster;
use http::{Method, StatusCode};
use rustls_pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const CMS: &str = "/api/v1/namespaces/default/configmaps";
const CM: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"c-"}}"#;

#[tokio::test]
async fn a_full_pool_answers_429_except_to_masters() {
    let cluster =
        TestCluster::start_with(&["--max-mutating-requests-inflight=1".to_string()]).await;
    let bob = cluster.add_user("bob", "bob", &[], rudder_pki::Validity::days(1));
    let admin = cluster.client("admin");

    // Bob starts a create and stops half-way through its body, holding the one permit.
    let mut tls = (*cluster.layout().client_tls("bob").client_config().unwrap()).clone();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(("127.0.0.1", cluster.port))
        .await
        .unwrap();
    let mut held = tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let head = format!(
        "POST {CMS} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{{",
        CM.len()
    );
    held.write_all(head.as_bytes()).await.unwrap();
    held.flush().await.unwrap();

    let mut refusal = None;
    assert_eventually!(
        {
            let r = bob.must(Method::POST, CMS, CM).await;
            let full = r.status == StatusCode::TOO_MANY_REQUESTS;
            if full {
                refusal = Some(r);
            }
            full
        },
        std::time::Duration::from_secs(10),
        "a second write never met the full pool"
    );
    let refusal = refusal.unwrap();
    assert_eq!(refusal.headers["retry-after"], "1");
    assert_eq!(refusal.json()["reason"], "TooManyRequests");
    assert_eq!(
        refusal.json()["message"],
        "Too many requests, please try again later."
    );
    assert_eq!(refusal.json()["details"]["retryAfterSeconds"], 1);
    // Reads have their own pool; masters are never refused.
    assert_eq!(bob.get(CMS).await.unwrap().status, StatusCode::OK);
    assert_eq!(
        admin.must(Method::POST, CMS, CM).await.status,
        StatusCode::CREATED
    );

    // Bob gives up: the permit comes back.
    drop(held);
    assert_eventually!(
        bob.must(Method::POST, CMS, CM).await.status == StatusCode::CREATED,
        std::time::Duration::from_secs(10),
        "the pool never freed"
    );
    cluster.stop().await.unwrap();
}
