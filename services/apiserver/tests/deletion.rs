//! DELETE as kube-apiserver does it: a bound pod is deleted gracefully and stays
//! until a grace-0 delete (the kubelet's, or `kubectl delete --force`); Orphan and
//! Foreground propagation leave the object behind a finalizer for the collector.

mod common;

use common::TestCluster;
use http::{Method, StatusCode};
use serde_json::json;

const PODS: &str = "/api/v1/namespaces/default/pods";
const CMS: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn a_bound_pod_terminates_gracefully() {
    let cluster = TestCluster::start().await;
    let admin = cluster.client("admin");
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                     "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    admin.must(Method::POST, PODS, &pod.to_string()).await;
    let binding = json!({"kind": "Binding", "metadata": {"name": "web"},
                         "target": {"kind": "Node", "name": "n1"}});
    let r = admin
        .must(
            Method::POST,
            &format!("{PODS}/web/binding"),
            &binding.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    let r = admin.must(Method::DELETE, &format!("{PODS}/web"), "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["metadata"]["deletionGracePeriodSeconds"], 30);
    assert!(r.json()["metadata"]["deletionTimestamp"].is_string());
    let stored = admin.get(&format!("{PODS}/web")).await.unwrap();
    assert_eq!(
        stored.status,
        StatusCode::OK,
        "the pod waits for its kubelet"
    );

    // The kubelet reports the pod's end: a status write does not remove it.
    let mut status = stored.json();
    status["status"]["phase"] = json!("Succeeded");
    let r = admin
        .must(
            Method::PUT,
            &format!("{PODS}/web/status"),
            &status.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        admin.get(&format!("{PODS}/web")).await.unwrap().status,
        StatusCode::OK
    );

    // kubectl's force delete (grace 0) removes it.
    let out = cluster
        .kubectl(&["delete", "pod", "web", "--grace-period=0", "--force"])
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        admin.get(&format!("{PODS}/web")).await.unwrap().status,
        StatusCode::NOT_FOUND
    );
    cluster.stop().await.unwrap();
}

#[tokio::test]
async fn orphan_and_foreground_deletes_wait_behind_their_finalizer() {
    let cluster = TestCluster::start().await;
    let admin = cluster.client("admin");
    for (name, policy, finalizer) in [
        ("kept", "Orphan", "orphan"),
        ("fg", "Foreground", "foregroundDeletion"),
    ] {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
        admin.must(Method::POST, CMS, &cm.to_string()).await;
        let options =
            json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy});
        let r = admin
            .must(
                Method::DELETE,
                &format!("{CMS}/{name}"),
                &options.to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["metadata"]["finalizers"], json!([finalizer]));
        assert_eq!(
            admin.get(&format!("{CMS}/{name}")).await.unwrap().status,
            StatusCode::OK
        );
        // The collector's part: drop the finalizer, and the object goes.
        let r = admin
            .request(
                Method::PATCH,
                &format!("{CMS}/{name}"),
                &[("content-type", "application/merge-patch+json")],
                json!({"metadata": {"finalizers": null}}).to_string(),
            )
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(
            admin.get(&format!("{CMS}/{name}")).await.unwrap().status,
            StatusCode::NOT_FOUND
        );
    }

    // kubectl's --cascade=orphan says it and leaves the object to the collector.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "k"}});
    admin.must(Method::POST, CMS, &cm.to_string()).await;
    let out = cluster
        .kubectl(&[
            "delete",
            "configmap",
            "k",
            "--cascade=orphan",
            "--wait=false",
        ])
        .await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "configmap \"k\" deleted\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = admin.get(&format!("{CMS}/k")).await.unwrap().json();
    assert_eq!(stored["metadata"]["finalizers"], json!(["orphan"]));

    let bad = json!({"propagationPolicy": "Sometimes"});
    let r = admin
        .must(Method::DELETE, &format!("{CMS}/k"), &bad.to_string())
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    cluster.stop().await.unwrap();
}
