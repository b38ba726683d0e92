//! Lists bigger than gRPC's default 4 MiB message: a quorum list reads the whole
//! range from the store in one answer, as kube-apiserver does, and must not fail.

mod common;

use common::TestCluster;
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_quorum_list_past_four_mebibytes_is_served() {
    let cluster = TestCluster::start().await;
    let admin = cluster.client("admin");
    let megabyte = "x".repeat(1024 * 1024);
    for i in 0..6 {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": format!("big-{i}")}, "data": {"blob": megabyte}});
        let r = admin
            .must(
                Method::POST,
                "/api/v1/namespaces/default/configmaps",
                &cm.to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    for query in ["", "?resourceVersion=0"] {
        let r = admin
            .get(&format!("/api/v1/namespaces/default/configmaps{query}"))
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text());
        let items = r.json()["items"].as_array().unwrap().len();
        assert_eq!(items, 6, "{query}");
    }
    cluster.stop().await.unwrap();
}
