//! The gRPC `Api` service on the REST port: same registry, same answers; errors
//! carry a stable gRPC code and the Kubernetes Status in the details.

mod common;

use std::time::Duration;

use common::TestCluster;
use http::StatusCode;
use rudder_proto::api::v1::api_client::ApiClient;
use rudder_proto::api::v1::{
    CreateRequest, DeleteRequest, GetRequest, ListRequest, PatchRequest, ResourceRef,
    UpdateRequest, WatchRequest,
};
use serde_json::{Value, json};
use tonic::transport::Channel;

async fn client(cluster: &TestCluster, identity: &str) -> ApiClient<Channel> {
    let tls = cluster
        .layout()
        .client_tls(identity)
        .tonic_client("127.0.0.1")
        .unwrap();
    let channel = Channel::from_shared(format!("https://127.0.0.1:{}", cluster.port))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    ApiClient::new(channel)
}

fn cm_ref(name: &str) -> Option<ResourceRef> {
    Some(ResourceRef {
        group: String::new(),
        version: "v1".into(),
        resource: "configmaps".into(),
        namespace: "default".into(),
        name: name.into(),
        subresource: String::new(),
    })
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_verbs_share_the_registry_with_rest() {
    let cluster = TestCluster::start().await;
    let mut api = client(&cluster, "controller-manager").await;

    let mut watch = api
        .watch(WatchRequest {
            r#ref: cm_ref(""),
            timeout_seconds: 30,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    let created = api
        .create(CreateRequest {
            r#ref: cm_ref(""),
            object: br#"{"metadata":{"name":"g"},"data":{"a":"1"}}"#.to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let created = json(&created.object);
    assert_eq!(created["metadata"]["namespace"], "default");

    let event = tokio::time::timeout(Duration::from_secs(10), watch.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(event.r#type, "ADDED");
    // The event carries the watch cache's bytes of the object: the object created.
    assert_eq!(json(&event.object), created);

    // REST sees what gRPC wrote.
    let rest = cluster.client("admin");
    let r = rest
        .get("/api/v1/namespaces/default/configmaps/g")
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), created);

    let got = api
        .get(GetRequest {
            r#ref: cm_ref("g"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(json(&got.into_inner().object), created);

    let patched = api
        .patch(PatchRequest {
            r#ref: cm_ref("g"),
            patch_type: "application/merge-patch+json".into(),
            patch: br#"{"data":{"b":"2"}}"#.to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        json(&patched.into_inner().object)["data"],
        json!({"a": "1", "b": "2"})
    );

    // A stale update: Aborted, with the Kubernetes Status in the details.
    let err = api
        .update(UpdateRequest {
            r#ref: cm_ref("g"),
            object: serde_json::to_vec(&created).unwrap(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Aborted);
    let status = rudder_proto::grpc_error::decode(&err).unwrap();
    assert_eq!(json(&status)["reason"], "Conflict");

    let list = api
        .list(ListRequest {
            r#ref: cm_ref(""),
            label_selector: String::new(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        json(&list.into_inner().list)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let deleted = api
        .delete(DeleteRequest {
            r#ref: cm_ref("g"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(json(&deleted.into_inner().object)["metadata"]["name"], "g");
    let err = api
        .get(GetRequest {
            r#ref: cm_ref("g"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    assert_eq!(err.message(), "configmaps \"g\" not found");

    let mut unknown = cm_ref("x").unwrap();
    unknown.resource = "widgets".into();
    let err = api
        .get(GetRequest {
            r#ref: Some(unknown),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let err = api
        .create(CreateRequest {
            r#ref: cm_ref(""),
            object: b"{bad".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    cluster.stop().await.unwrap();
}

/// rudder-client reads the server's errors whole: reason, causes and details.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_reach_rudder_client_with_reason_causes_and_details() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::ConfigMap;
    use rudder_client::{Api, PostParams};

    let cluster = TestCluster::start().await;
    let client = cluster.rudder_client("admin");

    // 422: a deployment without a selector or containers.
    let bad: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "bad"},
        "spec": {"template": {"spec": {}}}
    }))
    .unwrap();
    let err = Api::<Deployment>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &bad)
        .await
        .unwrap_err();
    let rudder_client::Error::Api(server) = &err else {
        panic!("not a server error: {err:?}");
    };
    assert_eq!((server.code(), server.reason()), (422, "Invalid"));
    assert!(
        server
            .message()
            .starts_with("Deployment.apps \"bad\" is invalid: "),
        "{}",
        server.message()
    );
    let details = server.status.details.as_ref().expect("details");
    assert_eq!(details.name.as_deref(), Some("bad"));
    assert_eq!(details.group.as_deref(), Some("apps"));
    assert_eq!(details.kind.as_deref(), Some("Deployment"));
    let fields: Vec<_> = details
        .causes
        .iter()
        .flatten()
        .map(|c| (c.reason.as_deref().unwrap(), c.field.as_deref().unwrap()))
        .collect();
    assert!(
        fields.contains(&("FieldValueRequired", "spec.selector")),
        "{fields:?}"
    );

    // 404, with the object named in the details.
    let err = Api::<ConfigMap>::namespaced(client, "default")
        .get("missing")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Error from server (NotFound): configmaps \"missing\" not found"
    );
    let rudder_client::Error::Api(server) = &err else {
        unreachable!()
    };
    let details = server.status.details.as_ref().expect("details");
    assert_eq!(details.name.as_deref(), Some("missing"));
    assert_eq!(details.kind.as_deref(), Some("configmaps"));
}
