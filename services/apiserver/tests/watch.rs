//! Watches over REST, served from the per-resource watch cache: initial ADDED
//! events (the Python client's watch without resourceVersion), resuming from a
//! resourceVersion, selector transitions, bookmarks, timeouts, 410 for revisions
//! older than the cache keeps, and `resourceVersion=0` lists from the cache.

mod common;

use std::time::Duration;

use common::TestCluster;
use http::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::mpsc::Receiver;

const CMS: &str = "/api/v1/namespaces/default/configmaps";

async fn next(rx: &mut Receiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an event within 10 s")
        .expect("the stream is still open")
}

/// The next event that is not a BOOKMARK.
async fn next_change(rx: &mut Receiver<Value>) -> (String, String) {
    loop {
        let e = next(rx).await;
        let kind = e["type"].as_str().unwrap().to_string();
        if kind != "BOOKMARK" {
            return (
                kind,
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            );
        }
    }
}

async fn create(c: &common::ApiClient, name: &str, app: &str) -> Value {
    let body = format!(r#"{{"metadata":{{"name":"{name}","labels":{{"app":"{app}"}}}}}}"#);
    let r = c.must(Method::POST, CMS, &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_without_resource_version_sends_existing_objects_then_changes() {
    let cluster = TestCluster::start().await;
    let c = cluster.client("admin");
    create(&c, "a", "web").await;
    create(&c, "b", "web").await;

    let (status, mut rx) = c
        .watch(&format!("{CMS}?watch=true&timeoutSeconds=30"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut first = vec![next_change(&mut rx).await, next_change(&mut rx).await];
    first.sort();
    assert_eq!(
        first,
        [("ADDED".into(), "a".into()), ("ADDED".into(), "b".into())]
    );

    let mut selected = c
        .watch(&format!("{CMS}?watch=1&labelSelector=app%3Dweb"))
        .await
        .1;
    assert_eq!(next_change(&mut selected).await.0, "ADDED");
    assert_eq!(next_change(&mut selected).await.0, "ADDED");

    create(&c, "c", "db").await;
    assert_eq!(next_change(&mut rx).await, ("ADDED".into(), "c".into()));

    // b leaves the web selection: the selected watcher sees it DELETED.
    let mut b = c.get(&format!("{CMS}/b")).await.unwrap().json();
    b["metadata"]["labels"]["app"] = "db".into();
    let r = c
        .must(Method::PUT, &format!("{CMS}/b"), &b.to_string())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(next_change(&mut rx).await, ("MODIFIED".into(), "b".into()));
    assert_eq!(
        next_change(&mut selected).await,
        ("DELETED".into(), "b".into())
    );

    let r = c
        .request(Method::DELETE, &format!("{CMS}/a"), &[], "")
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let e = loop {
        let e = next(&mut rx).await;
        if e["type"] != "BOOKMARK" {
            break e;
        }
    };
    assert_eq!(e["type"], "DELETED");
    assert_eq!(e["object"]["metadata"]["name"], "a");
    assert_eq!(e["object"]["kind"], "ConfigMap");
    assert_eq!(
        next_change(&mut selected).await,
        ("DELETED".into(), "a".into())
    );
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_from_a_resource_version_and_ends_at_its_timeout() {
    let cluster = TestCluster::start().await;
    let c = cluster.client("admin");
    create(&c, "one", "web").await;
    let list = c.get(CMS).await.unwrap().json();
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    create(&c, "two", "web").await;
    let mut one = c.get(&format!("{CMS}/one")).await.unwrap().json();
    one["data"] = serde_json::json!({"k": "v"});
    c.must(Method::PUT, &format!("{CMS}/one"), &one.to_string())
        .await;

    let (status, mut rx) = c
        .watch(&format!(
            "{CMS}?watch=true&resourceVersion={rv}&timeoutSeconds=2"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(next_change(&mut rx).await, ("ADDED".into(), "two".into()));
    assert_eq!(
        next_change(&mut rx).await,
        ("MODIFIED".into(), "one".into())
    );
    // The server closes the stream at timeoutSeconds.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while rx.recv().await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "the watch outlived its timeoutSeconds");
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_bookmarks_and_too_old_revisions() {
    let cluster = TestCluster::start().await;
    let c = cluster.client("admin");
    let created = create(&c, "x", "web").await;
    let rv = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();

    let mut rx = c
        .watch(&format!(
            "{CMS}?watch=true&allowWatchBookmarks=true&resourceVersion={rv}"
        ))
        .await
        .1;
    let bookmark = next(&mut rx).await;
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(bookmark["object"]["kind"], "ConfigMap");
    assert_eq!(
        bookmark["object"]["metadata"]["resourceVersion"],
        rv.as_str()
    );

    // The harness keeps 20 events per resource: after 25 more writes, `rv` is older
    // than the window: 200, then one ERROR event.
    for i in 0..25 {
        create(&c, &format!("filler-{i}"), "db").await;
    }
    let (status, mut rx) = c
        .watch(&format!("{CMS}?watch=true&resourceVersion={rv}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let e = next(&mut rx).await;
    assert_eq!(e["type"], "ERROR");
    assert_eq!(e["object"]["code"], 410);
    assert_eq!(e["object"]["reason"], "Expired");
    let message = e["object"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("too old resource version: {rv} (")),
        "{message}"
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .is_none()
    );

    let r = c
        .get(&format!("{CMS}?watch=true&timeoutSeconds=soon"))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_at_resource_version_zero_come_from_the_cache() {
    let cluster = TestCluster::start().await;
    let c = cluster.client("admin");
    let created = create(&c, "cached", "web").await;
    let rv: i64 = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eventually!(
        {
            let list = c
                .get(&format!("{CMS}?resourceVersion=0"))
                .await
                .unwrap()
                .json();
            list["items"].as_array().is_some_and(|i| i.len() == 1)
                && list["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .parse::<i64>()
                    .unwrap()
                    >= rv
        },
        Duration::from_secs(10),
        "the cache never showed the new object"
    );
    let list = c
        .get(&format!("{CMS}?resourceVersion=0&labelSelector=app%3Ddb"))
        .await
        .unwrap()
        .json();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    assert_eq!(list["kind"], "ConfigMapList");
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_replica_reaches_a_watch_on_the_other() {
    let cluster = TestCluster::start().await;
    let first = cluster.client("admin");
    let second = cluster.add_replica().await;
    let (status, mut rx) = second.watch(&format!("{CMS}?watch=true")).await;
    assert_eq!(status, StatusCode::OK);
    create(&first, "replicated", "web").await;
    assert_eq!(
        next_change(&mut rx).await,
        ("ADDED".into(), "replicated".into())
    );
    // And an update through the second with the first's resourceVersion works.
    let mut obj = first
        .get(&format!("{CMS}/replicated"))
        .await
        .unwrap()
        .json();
    obj["data"] = serde_json::json!({"via": "second"});
    let r = second
        .must(Method::PUT, &format!("{CMS}/replicated"), &obj.to_string())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        next_change(&mut rx).await,
        ("MODIFIED".into(), "replicated".into())
    );
    cluster.stop().await.unwrap();
}
