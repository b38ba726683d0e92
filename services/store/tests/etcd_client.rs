//! The `etcd-client` crate (what the API server uses) against a real `rudder-store`.

mod common;

use std::time::Duration;

use common::Member;
use etcd_client::{
    Certificate, Client, Compare, CompareOp, EventType, GetOptions, Identity, PutOptions, Txn,
    TxnOp, WatchOptions,
};

fn started() -> Member {
    let mut m = Member::new();
    m.start();
    m
}

async fn try_connect(m: &Member, with_cert: bool) -> Result<Client, etcd_client::Error> {
    m.client(with_cert).await
}

async fn connect(m: &Member, with_cert: bool) -> Client {
    try_connect(m, with_cert).await.expect("connect")
}

async fn next_message(stream: &mut etcd_client::WatchStream) -> etcd_client::WatchResponse {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("watch response in time")
        .expect("watch stream ok")
        .expect("watch stream open")
}

#[tokio::test]
async fn kv_txn_and_binary_keys() {
    let m = started();
    let mut c = connect(&m, true).await;
    let put = c.put("a", "1", None).await.expect("put");
    let rev = put.header().expect("header").revision();
    assert_eq!(rev, 2);
    let key = vec![0xffu8, 0x00, 0x80];
    c.put(key.clone(), vec![0u8, 0xfe], None)
        .await
        .expect("binary put");
    let got = c.get(key.clone(), None).await.expect("get");
    assert_eq!(got.kvs()[0].value(), &[0u8, 0xfe]);

    let txn = Txn::new()
        .when([Compare::mod_revision("a", CompareOp::Equal, rev)])
        .and_then([TxnOp::put(
            "a",
            "2",
            Some(PutOptions::new().with_prev_key()),
        )])
        .or_else([TxnOp::get("a", None)]);
    let resp = c.txn(txn.clone()).await.expect("txn");
    assert!(resp.succeeded());
    // the same compare now fails: CAS on mod_revision, as the API server does
    let resp = c.txn(txn).await.expect("txn");
    assert!(!resp.succeeded());

    let all = c
        .get(
            "",
            Some(GetOptions::new().with_all_keys().with_count_only()),
        )
        .await
        .expect("count");
    assert_eq!(all.count(), 2);
}

#[tokio::test]
async fn watch_ids_progress_and_compacted_start() {
    let m = started();
    let mut c = connect(&m, true).await;
    c.put("w/a", "1", None).await.expect("put"); // 2
    c.put("w/a", "2", None).await.expect("put"); // 3

    let mut stream = c
        .watch(
            "w/",
            Some(WatchOptions::new().with_prefix().with_prev_key()),
        )
        .await
        .expect("watch");
    let created = next_message(&mut stream).await;
    assert!(created.created());
    assert_eq!(created.watch_id(), 0);

    // a second watch on the same stream, replaying from revision 2
    stream
        .watch("w/a", Some(WatchOptions::new().with_start_revision(2)))
        .await
        .expect("second watch");
    let created = next_message(&mut stream).await;
    assert!(created.created());
    assert_eq!(created.watch_id(), 1);
    let replay = next_message(&mut stream).await;
    assert_eq!(replay.watch_id(), 1);
    let revs: Vec<i64> = replay
        .events()
        .iter()
        .map(|e| e.kv().expect("kv").mod_revision())
        .collect();
    assert_eq!(revs, vec![2, 3]);

    c.delete("w/a", None).await.expect("delete"); // 4
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let resp = next_message(&mut stream).await;
        for e in resp.events() {
            seen.push((
                resp.watch_id(),
                e.event_type(),
                e.kv().map(|kv| kv.value().to_vec()),
                e.prev_kv().map(|kv| kv.value().to_vec()),
            ));
        }
    }
    seen.sort_by_key(|s| s.0);
    assert_eq!(
        seen[0],
        (0, EventType::Delete, Some(Vec::new()), Some(b"2".to_vec()))
    );
    assert_eq!(seen[1].1, EventType::Delete);

    stream.request_progress().await.expect("progress");
    let progress = next_message(&mut stream).await;
    assert_eq!(progress.watch_id(), -1);
    assert_eq!(progress.header().expect("header").revision(), 4);

    c.compact(4, None).await.expect("compact");
    stream
        .watch(
            "w/",
            Some(WatchOptions::new().with_prefix().with_start_revision(2)),
        )
        .await
        .expect("third watch");
    let created = next_message(&mut stream).await;
    assert!(created.created());
    let canceled = next_message(&mut stream).await;
    assert!(canceled.canceled());
    assert_eq!(canceled.compact_revision(), 4);
}

#[tokio::test]
async fn lease_keep_alive_stream_and_status() {
    let m = started();
    let mut c = connect(&m, true).await;
    let lease = c.lease_grant(30, None).await.expect("grant");
    let (mut keeper, mut responses) = c.lease_keep_alive(lease.id()).await.expect("keep alive");
    keeper.keep_alive().await.expect("send keep alive");
    let resp = tokio::time::timeout(Duration::from_secs(10), responses.message())
        .await
        .expect("in time")
        .expect("ok")
        .expect("open");
    assert_eq!(resp.ttl(), 30);
    // the server answers an unknown lease with TTL 0, which etcd-client reports as not found
    match c.lease_keep_alive(0x1234).await {
        Err(e) => assert!(e.to_string().contains("lease not found"), "{e}"),
        Ok(_) => panic!("keep-alive of an unknown lease succeeded"),
    }
    let status = c.status().await.expect("status");
    assert!(status.raft_term() >= 1);
    let members = c.member_list().await.expect("members");
    assert_eq!(members.members().len(), 1);
    assert_eq!(members.members()[0].name(), "default");
}

#[tokio::test]
async fn a_client_without_a_certificate_fails_on_its_first_rpc() {
    let m = started();
    // TLS 1.3 lets the handshake finish without a client certificate; the RPC must fail
    if let Ok(mut c) = try_connect(&m, false).await {
        assert!(
            c.get("a", None).await.is_err(),
            "a request without a certificate succeeded"
        );
    }
}

#[tokio::test]
async fn watch_filters_and_progress_notify() {
    let m = started();
    let mut c = connect(&m, true).await;
    let mut stream = c
        .watch(
            "f/",
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_filters([etcd_client::WatchFilterType::NoPut])
                    .with_progress_notify(),
            ),
        )
        .await
        .expect("watch");
    assert!(next_message(&mut stream).await.created());
    c.put("f/a", "1", None).await.expect("put");
    c.delete("f/a", None).await.expect("delete");
    // the put is filtered out: the first events are the delete's; progress notifications
    // (no events, watch id 0) may come in between
    loop {
        let resp = next_message(&mut stream).await;
        if resp.events().is_empty() {
            assert_eq!(resp.watch_id(), 0);
            continue;
        }
        assert_eq!(resp.events().len(), 1);
        assert_eq!(resp.events()[0].event_type(), EventType::Delete);
        break;
    }
    // with nothing happening, progress notifications carry the current revision
    let resp = next_message(&mut stream).await;
    assert!(resp.events().is_empty());
    assert_eq!(resp.header().expect("header").revision(), 3);
}

/// Calls the peer port's Vote with an empty payload, with or without a client certificate.
async fn peer_vote(m: &Member, with_cert: bool) -> tonic::Code {
    use rudder_proto::raft::v1::RaftRequest;
    use rudder_proto::raft::v1::raft_transport_client::RaftTransportClient;
    let mut tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(m.ca_pem()))
        .domain_name("localhost");
    if with_cert {
        let (cert, key) = m.client_pair_pem();
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    let endpoint = tonic::transport::Endpoint::from_shared(m.peer_url())
        .expect("endpoint")
        .tls_config(tls)
        .expect("tls");
    let Ok(channel) = endpoint.connect().await else {
        return tonic::Code::Unavailable;
    };
    match RaftTransportClient::new(channel)
        .vote(RaftRequest {
            payload: Vec::new(),
        })
        .await
    {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test]
async fn the_peer_port_refuses_a_client_without_a_certificate() {
    let m = started();
    // with a certificate the request reaches the service, which refuses the empty payload
    assert_eq!(peer_vote(&m, true).await, tonic::Code::InvalidArgument);
    let code = peer_vote(&m, false).await;
    assert!(
        code != tonic::Code::InvalidArgument && code != tonic::Code::Ok,
        "a peer request without a certificate reached the service ({code:?})"
    );
}
