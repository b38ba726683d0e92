//! The client against an in-process fake of the `Api` service over real mTLS: what is
//! tested is the client's logic (errors, retries, resume, relist, cache), not the
//! API server's.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Binding, Container, ObjectReference, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use rudder_client::informer::Informer;
use rudder_client::leader::{LeaderElectionConfig, LeaderElector, Leadership};
use rudder_client::reflector::{self, Store};
use rudder_client::watcher::{Event, WatcherConfig, watcher};
use rudder_client::workqueue::WorkQueue;
use rudder_client::{
    Api, DeleteOutcome, DeleteParams, DynamicObject, Error, ListParams, Object, ObjectKey, Patch,
    PatchParams, PostParams, RetryPolicy,
};
use rudder_testkit::assert_eventually;
use serde_json::json;
use support::{FakeApiServer, certs, fast_backoff};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

fn pod(name: &str, app: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([("app".to_string(), app.to_string())])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".to_string(),
                image: Some("nginx".to_string()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn watcher_config() -> WatcherConfig {
    WatcherConfig {
        page_size: Some(2),
        backoff: fast_backoff(),
        ..WatcherConfig::default()
    }
}

/// Collects a watcher's events on a task, through a reflector cache; returns the
/// shared list, the cache and the token that stops it.
type Events = Arc<Mutex<Vec<Event<Pod>>>>;

fn collect_events(api: Api<Pod>) -> (Events, Store<Pod>, CancellationToken) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let stop = CancellationToken::new();
    let (sink, token) = (Arc::clone(&events), stop.clone());
    let (writer, store) = reflector::store();
    tokio::spawn(async move {
        let stream = reflector::reflector(writer, watcher(api, watcher_config()));
        futures::pin_mut!(stream);
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                item = stream.next() => {
                    if let Some(Ok(event)) = item {
                        sink.lock().unwrap().push(event);
                    }
                }
            }
        }
    });
    (events, store, stop)
}

/// `Apply` events as `name@resourceVersion`.
fn applied(events: &Mutex<Vec<Event<Pod>>>) -> Vec<String> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Apply(p) => Some(format!("{}@{}", p.name()?, p.resource_version()?)),
            _ => None,
        })
        .collect()
}

fn count_inits(events: &Mutex<Vec<Event<Pod>>>) -> usize {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Init))
        .count()
}

#[tokio::test]
async fn typed_crud_round_trip_over_mtls() {
    let server = FakeApiServer::start_in("team").await;
    let client = server.client();
    assert_eq!(
        client.default_namespace(),
        "team",
        "the context's namespace"
    );
    let pods = Api::<Pod>::default_namespaced(client.clone());

    let created = pods
        .create(&PostParams::default(), &pod("web", "shop"))
        .await
        .unwrap();
    assert_eq!(created.metadata.namespace.as_deref(), Some("team"));
    assert_eq!(
        server.last_authorization().as_deref(),
        Some("Bearer test-token")
    );
    pods.create(&PostParams::default(), &pod("db", "store"))
        .await
        .unwrap();

    let fetched = pods.get("web").await.unwrap();
    assert_eq!(fetched, created);
    let shop = pods
        .list(&ListParams::default().labels("app=shop"))
        .await
        .unwrap();
    assert_eq!(shop.items, vec![created.clone()]);
    assert_eq!(shop.resource_version(), server.revision().to_string());

    let patched = pods
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "front"}}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.metadata.labels.as_ref().unwrap()["tier"], "front");

    let mut replaced = patched.clone();
    replaced.spec.as_mut().unwrap().containers[0].image = Some("nginx:2".to_string());
    let replaced = pods
        .replace("web", &PostParams::default(), &replaced)
        .await
        .unwrap();
    assert_ne!(replaced.resource_version(), patched.resource_version());

    let mut with_status = replaced.clone();
    with_status.status = Some(PodStatus {
        phase: Some("Running".to_string()),
        ..Default::default()
    });
    pods.replace_status("web", &PostParams::default(), &with_status)
        .await
        .unwrap();
    let status = pods.get_status("web").await.unwrap();
    assert_eq!(status.status.unwrap().phase.as_deref(), Some("Running"));

    let binding = Binding {
        metadata: ObjectMeta {
            name: Some("web".to_string()),
            ..Default::default()
        },
        target: ObjectReference {
            kind: Some("Node".to_string()),
            name: Some("node-1".to_string()),
            ..Default::default()
        },
    };
    pods.create_binding("web", &PostParams::default(), &binding)
        .await
        .unwrap();
    let bound = pods.get("web").await.unwrap();
    assert_eq!(bound.spec.unwrap().node_name.as_deref(), Some("node-1"));

    // Dynamic: resolved from a short name at run time.
    let dynamic = Api::<DynamicObject>::resolve(client.clone(), "po", Some("team")).unwrap();
    let mut names: Vec<_> = dynamic
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|o| o.name().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["db", "web"]);

    // Scale subresource of a Deployment.
    let deployments = Api::<Deployment>::namespaced(client.clone(), "team");
    let deployment = Deployment {
        metadata: ObjectMeta {
            name: Some("shop".to_string()),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([("app".to_string(), "shop".to_string())])),
                ..Default::default()
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    let scale = deployments
        .patch_scale(
            "shop",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(3));
    assert_eq!(
        deployments
            .get_scale("shop")
            .await
            .unwrap()
            .spec
            .unwrap()
            .replicas,
        Some(3)
    );

    let deleted = pods
        .delete_collection(
            &DeleteParams::background(),
            &ListParams::default().labels("app=store"),
        )
        .await
        .unwrap();
    assert_eq!(deleted.items.len(), 1);
    assert_eq!(deleted.items[0].name(), Some("db"));
    assert_eq!(pods.get_opt("db").await.unwrap(), None);

    let outcome = pods
        .delete("web", &DeleteParams::background())
        .await
        .unwrap();
    assert!(matches!(outcome, DeleteOutcome::Object(p) if p.name() == Some("web")));
    assert_eq!(pods.get_opt("web").await.unwrap(), None);
}

#[tokio::test]
async fn not_found_comes_back_as_a_404_status_with_reason_not_found() {
    let server = FakeApiServer::start_in("team").await;
    let pods = Api::<Pod>::namespaced(server.client(), "team");
    let err = pods.get("x").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let status = err.status().unwrap();
    assert_eq!(status.code, Some(404));
    assert_eq!(status.reason.as_deref(), Some("NotFound"));
    assert_eq!(
        err.to_string(),
        "Error from server (NotFound): pods \"x\" not found"
    );
    assert_eq!(server.calls("get"), 1, "a 404 is not retried");
}

#[tokio::test]
async fn a_stale_update_is_a_409_conflict_and_a_duplicate_create_already_exists() {
    let server = FakeApiServer::start_in("team").await;
    let pods = Api::<Pod>::namespaced(server.client(), "team");
    let first = pods
        .create(&PostParams::default(), &pod("web", "shop"))
        .await
        .unwrap();
    pods.replace("web", &PostParams::default(), &first)
        .await
        .unwrap();

    let err = pods
        .replace("web", &PostParams::default(), &first)
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    assert_eq!((err.code(), err.reason()), (Some(409), Some("Conflict")));
    assert!(err.to_string().starts_with(
        "Error from server (Conflict): Operation cannot be fulfilled on pods \"web\""
    ));

    let err = pods
        .create(&PostParams::default(), &pod("web", "shop"))
        .await
        .unwrap_err();
    assert!(err.is_already_exists(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Error from server (AlreadyExists): pods \"web\" already exists"
    );
}

#[tokio::test]
async fn reads_are_retried_while_the_server_is_briefly_unavailable_but_writes_are_not() {
    let server = FakeApiServer::start_in("team").await;
    let pods = Api::<Pod>::namespaced(server.client(), "team");
    pods.create(&PostParams::default(), &pod("web", "shop"))
        .await
        .unwrap();

    server.fail_next(3);
    let fetched = pods.get("web").await.unwrap();
    assert_eq!(fetched.name(), Some("web"));
    assert_eq!(server.calls("get"), 4, "three failures, then success");

    server.fail_next(3);
    assert_eq!(
        pods.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
    assert_eq!(server.calls("list"), 4);

    // The server may have acted on a write before failing: not repeated.
    server.fail_next(1);
    let err = pods
        .create(&PostParams::default(), &pod("db", "store"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Transient(t) if !t.not_processed),
        "{err:?}"
    );
    assert_eq!(server.calls("create"), 2);

    // Attempts run out: the transient error is returned.
    let once = Api::<Pod>::namespaced(
        server.client().with_retry_policy(RetryPolicy::none()),
        "team",
    );
    server.fail_next(1);
    assert!(once.get("web").await.unwrap_err().is_transient());
}

#[tokio::test]
async fn calls_are_retried_until_a_server_that_was_not_listening_comes_up() {
    // Nothing listening at all: the connection is refused, the write was not sent.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let (_closed_dir, closed_layout) = certs();
    let closed_client = rudder_client::Client::from_kubeconfig(&rudder_client::KubeconfigOptions {
        path: Some(support::write_kubeconfig(
            &closed_layout,
            closed_port,
            Some("team"),
        )),
        ..Default::default()
    })
    .unwrap()
    .with_retry_policy(RetryPolicy::none());
    let err = Api::<Pod>::namespaced(closed_client, "team")
        .create(&PostParams::default(), &pod("p", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Transient(t) if t.not_processed),
        "{err:?}"
    );

    // A port that accepts connections and drops them at once, as a server that is
    // not ready; then the real server takes the port over.
    let refusing = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = refusing.local_addr().unwrap();
    let accepted = Arc::new(Mutex::new(0u32));
    let counter = Arc::clone(&accepted);
    let stop_refusing = CancellationToken::new();
    let stop = stop_refusing.clone();
    let refuser = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return refusing,
                conn = refusing.accept() => {
                    drop(conn);
                    *counter.lock().unwrap() += 1;
                }
            }
        }
    });
    let (dir, layout) = certs();
    let path = support::write_kubeconfig(&layout, addr.port(), Some("team"));
    let client = rudder_client::Client::from_kubeconfig(&rudder_client::KubeconfigOptions {
        path: Some(path),
        ..Default::default()
    })
    .unwrap()
    .with_retry_policy(RetryPolicy {
        max_attempts: 100,
        backoff: fast_backoff(),
    });
    let nodes = Api::<k8s_openapi::api::core::v1::Node>::all(client.clone());
    let call = tokio::spawn(async move { nodes.list(&ListParams::default()).await });

    // A write that could not connect certainly was not processed: safe to retry.
    let once = Api::<Pod>::namespaced(client.with_retry_policy(RetryPolicy::none()), "team");
    let err = once
        .create(&PostParams::default(), &pod("p", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Transient(t) if t.not_processed),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("cannot reach the API server"),
        "{err}"
    );

    assert_eventually!(*accepted.lock().unwrap() >= 2);
    stop_refusing.cancel();
    drop(refuser.await.unwrap());
    let listener = TcpListener::bind(addr).await.unwrap();
    let server = FakeApiServer::start_on(listener, (dir, layout), Some("team")).await;
    let list = call.await.unwrap().unwrap();
    assert!(list.items.is_empty());
    assert!(server.calls("list") >= 1);
}

#[tokio::test]
async fn watch_resumes_after_dropped_streams_without_missing_or_duplicating_events() {
    let server = FakeApiServer::start_in("team").await;
    let pods = Api::<Pod>::namespaced(server.client(), "team");
    for name in ["a", "b", "c"] {
        pods.create(&PostParams::default(), &pod(name, "x"))
            .await
            .unwrap();
    }
    let (events, store, stop) = collect_events(pods.clone());
    assert_eventually!(events.lock().unwrap().contains(&Event::InitDone));
    let listed: Vec<_> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::InitApply(p) => p.name().map(str::to_string),
            _ => None,
        })
        .collect();
    assert_eq!(listed, ["a", "b", "c"], "a paged list (pages of 2) in full");

    let mut expected = Vec::new();
    for round in 0..4 {
        assert_eventually!(server.calls("watch") > round);
        let name = format!("p{round}");
        let created = pods
            .create(&PostParams::default(), &pod(&name, "x"))
            .await
            .unwrap();
        expected.push(format!("{name}@{}", created.resource_version().unwrap()));
        server.drop_watches();
        // Changes while the watcher is disconnected arrive on resume.
        let patched = pods
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"round": round.to_string()}}})),
            )
            .await
            .unwrap();
        expected.push(format!("{name}@{}", patched.resource_version().unwrap()));
    }
    assert_eventually!(applied(&events).len() >= expected.len());
    assert_eq!(applied(&events), expected);
    assert_eq!(count_inits(&events), 1, "resuming never relists");
    assert_eq!(store.len(), 7);
    assert_eq!(
        store
            .get_named(Some("team"), "p3")
            .unwrap()
            .metadata
            .labels
            .as_ref()
            .unwrap()["round"],
        "3"
    );
    assert!(server.calls("watch") >= 5);
    stop.cancel();
}

#[tokio::test]
async fn gone_on_resume_relists_and_the_reflector_follows() {
    let server = FakeApiServer::start_in("team").await;
    let pods = Api::<Pod>::namespaced(server.client(), "team");
    pods.create(&PostParams::default(), &pod("a", "x"))
        .await
        .unwrap();
    let (events, store, stop) = collect_events(pods.clone());
    assert_eventually!(events.lock().unwrap().contains(&Event::InitDone));
    assert_eventually!(server.calls("watch") >= 1);

    let mut hidden = serde_json::to_value(pod("hidden", "x")).unwrap();
    hidden["metadata"]["namespace"] = json!("team");
    server.change_unseen_and_compact("team", hidden);

    // The watch from the old resourceVersion gets 410: the watcher lists again.
    assert_eventually!(count_inits(&events) == 2);
    assert_eventually!(
        events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| **e == Event::InitDone)
            .count()
            == 2
    );
    let relisted: Vec<_> = {
        let events = events.lock().unwrap();
        let restart = events.iter().rposition(|e| *e == Event::Init).unwrap();
        events[restart..]
            .iter()
            .filter_map(|e| match e {
                Event::InitApply(p) => p.name().map(str::to_string),
                _ => None,
            })
            .collect()
    };
    assert_eq!(relisted, ["a", "hidden"]);
    assert_eventually!(store.get_named(Some("team"), "hidden").is_some());
    assert_eq!(store.len(), 2);
    assert_eq!(server.calls("list"), 2);
    stop.cancel();
}

#[tokio::test]
async fn an_informer_syncs_follows_changes_and_enqueues_keys() {
    let server = FakeApiServer::start_in("team").await;
    let pods = Api::<Pod>::namespaced(server.client(), "team");
    pods.create(&PostParams::default(), &pod("a", "x"))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("b", "x"))
        .await
        .unwrap();

    let queue = WorkQueue::default();
    let mut informer = Informer::new(pods.clone(), watcher_config());
    informer.enqueue_into(queue.clone());
    let store = informer.store();
    let shutdown = CancellationToken::new();
    let task = informer.spawn(shutdown.clone());

    tokio::time::timeout(Duration::from_secs(10), store.wait_until_synced())
        .await
        .expect("synced");
    assert_eq!(store.len(), 2);
    let mut keys = vec![queue.get().await.unwrap(), queue.get().await.unwrap()];
    keys.sort();
    assert_eq!(
        keys,
        [
            ObjectKey::namespaced("team", "a"),
            ObjectKey::namespaced("team", "b")
        ]
    );
    for key in &keys {
        queue.done(key);
    }

    pods.delete("a", &DeleteParams::default()).await.unwrap();
    let c = pods
        .create(&PostParams::default(), &pod("c", "x"))
        .await
        .unwrap();
    assert_eventually!(store.get_named(Some("team"), "a").is_none());
    assert_eventually!(store.get_named(Some("team"), "c").is_some_and(|p| *p == c));
    let mut keys = vec![queue.get().await.unwrap(), queue.get().await.unwrap()];
    keys.sort();
    assert_eq!(
        keys,
        [
            ObjectKey::namespaced("team", "a"),
            ObjectKey::namespaced("team", "c")
        ]
    );

    shutdown.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn one_candidate_leads_and_hands_over_on_release() {
    let server = FakeApiServer::start_in("team").await;
    let config = |identity: &str| LeaderElectionConfig {
        lease_duration: Duration::from_secs(30),
        renew_deadline: Duration::from_secs(20),
        retry_period: Duration::from_millis(50),
        ..LeaderElectionConfig::new("kube-system", "rudder-scheduler", identity)
    };
    let first = LeaderElector::new(server.client(), config("first"));
    let mut first_state = first.leadership();
    let stop_first = CancellationToken::new();
    let first_task = tokio::spawn(first.run(stop_first.clone()));
    tokio::time::timeout(
        Duration::from_secs(10),
        first_state.wait_for(|l| *l == Leadership::Leading),
    )
    .await
    .unwrap()
    .unwrap();

    let second = LeaderElector::new(server.client(), config("second"));
    let mut second_state = second.leadership();
    let stop_second = CancellationToken::new();
    let second_task = tokio::spawn(second.run(stop_second.clone()));
    tokio::time::timeout(
        Duration::from_secs(10),
        second_state.wait_for(|l| *l == Leadership::Following(Some("first".to_string()))),
    )
    .await
    .unwrap()
    .unwrap();

    // The first steps down and releases: the second takes over well before 30 s.
    stop_first.cancel();
    first_task.await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        second_state.wait_for(|l| *l == Leadership::Leading),
    )
    .await
    .unwrap()
    .unwrap();
    let lease = Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(
        server.client(),
        "kube-system",
    )
    .get("rudder-scheduler")
    .await
    .unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("second"));
    assert_eq!(spec.lease_transitions, Some(1));
    stop_second.cancel();
    second_task.await.unwrap();
}
