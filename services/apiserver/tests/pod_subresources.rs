//! pods/binding and pods/eviction over REST, with the identities that use them: the
//! scheduler binds, an unprivileged user may not, and an eviction deletes.

mod common;

use common::TestCluster;
use http::{Method, StatusCode};
use serde_json::{Value, json};

const PODS: &str = "/api/v1/namespaces/default/pods";

fn pod(name: &str) -> String {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    .to_string()
}

fn binding(name: &str, node: &str) -> String {
    json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
           "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
    .to_string()
}

fn scheduled_condition(pod: &Value) -> Option<&Value> {
    pod["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "PodScheduled")
}

#[tokio::test]
async fn the_scheduler_binds_a_pod_once() {
    let cluster = TestCluster::start_secured().await;
    let admin = cluster.client("admin");
    let scheduler = cluster.client("scheduler");
    let r = admin.must(Method::POST, PODS, &pod("web")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    let r = scheduler
        .must(
            Method::POST,
            &format!("{PODS}/web/binding"),
            &binding("web", "n1"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        (
            r.json()["kind"].clone(),
            r.json()["status"].clone(),
            r.json()["code"].clone()
        ),
        (json!("Status"), json!("Success"), json!(201))
    );
    let stored = admin.get(&format!("{PODS}/web")).await.unwrap().json();
    assert_eq!(stored["spec"]["nodeName"], "n1");
    let condition = scheduled_condition(&stored).expect("PodScheduled condition");
    assert_eq!(condition["status"], "True");

    // A second binding is a conflict worded as upstream's, and changes nothing.
    let r = scheduler
        .must(
            Method::POST,
            &format!("{PODS}/web/binding"),
            &binding("web", "n2"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .ends_with("pod web is already assigned to node \"n1\""),
        "{}",
        r.text()
    );
    let stored = admin.get(&format!("{PODS}/web")).await.unwrap().json();
    assert_eq!(stored["spec"]["nodeName"], "n1");

    // Bad bindings: no target, a name that is not the URL's, a pod that does not exist.
    admin.must(Method::POST, PODS, &pod("db")).await;
    let no_target =
        json!({"kind": "Binding", "metadata": {"name": "db"}, "target": {}}).to_string();
    let r = scheduler
        .must(Method::POST, &format!("{PODS}/db/binding"), &no_target)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["details"]["causes"][0]["field"], "target.name");
    let r = scheduler
        .must(
            Method::POST,
            &format!("{PODS}/db/binding"),
            &binding("web", "n1"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "name in URL does not match name in Binding object"
    );
    let r = scheduler
        .must(
            Method::POST,
            &format!("{PODS}/nope/binding"),
            &binding("nope", "n1"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let stored = admin.get(&format!("{PODS}/db")).await.unwrap().json();
    assert!(stored["spec"].get("nodeName").is_none(), "{stored}");

    // Binding is `create pods/binding`: a user without it is refused.
    let bob = cluster.add_user("bob", "bob", &[], rudder_pki::Validity::days(1));
    let r = bob
        .must(
            Method::POST,
            &format!("{PODS}/db/binding"),
            &binding("db", "n1"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("cannot create resource \"pods/binding\""),
        "{}",
        r.text()
    );
    cluster.stop().await.unwrap();
}

#[tokio::test]
async fn an_eviction_deletes_the_pod() {
    let cluster = TestCluster::start_secured().await;
    let admin = cluster.client("admin");
    admin.must(Method::POST, PODS, &pod("web")).await;
    let eviction = |name: &str, dry_run: bool| {
        let mut e = json!({"apiVersion": "policy/v1", "kind": "Eviction",
                           "metadata": {"name": name, "namespace": "default"}});
        if dry_run {
            e["deleteOptions"] = json!({"dryRun": ["All"]});
        }
        e.to_string()
    };

    let r = admin
        .must(
            Method::POST,
            &format!("{PODS}/web/eviction"),
            &eviction("web", true),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        admin.get(&format!("{PODS}/web")).await.unwrap().status,
        StatusCode::OK,
        "a dry-run eviction keeps the pod"
    );
    let r = admin
        .must(
            Method::POST,
            &format!("{PODS}/web/eviction"),
            &eviction("web", false),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["status"], "Success");
    assert_eq!(
        admin.get(&format!("{PODS}/web")).await.unwrap().status,
        StatusCode::NOT_FOUND
    );
    let r = admin
        .must(
            Method::POST,
            &format!("{PODS}/web/eviction"),
            &eviction("web", false),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    // Other subresources cannot be created.
    let r = admin
        .must(Method::POST, &format!("{PODS}/web/status"), "{}")
        .await;
    assert!(r.status.is_client_error(), "{}", r.text());
    cluster.stop().await.unwrap();
}
