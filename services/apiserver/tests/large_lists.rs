//! Lists bigger than gRPC's default 4 MiB message: a quorum list reads the whole
//! range from the store in one answer, as kube-apiserver does, and must not fail; a
//! cached one (resourceVersion=0) is written from the cache's shared objects.

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
        let list = r.json();
        assert_eq!(list["kind"], "ConfigMapList", "{query}");
        assert_eq!(list["apiVersion"], "v1", "{query}");
        assert!(list["metadata"]["resourceVersion"].is_string(), "{query}");
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 6, "{query}");
        for item in items {
            // List items carry no type, from the cache as from the store.
            assert!(item.get("kind").is_none() && item.get("apiVersion").is_none());
            assert_eq!(
                item["data"]["blob"].as_str().map(str::len),
                Some(1024 * 1024)
            );
        }
    }
    cluster.stop().await.unwrap();
}
