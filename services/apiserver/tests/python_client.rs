//! The Python `kubernetes` client (PyPI), which does no discovery, may send no
//! Content-Type, patches dicts as strategic merge, and watches without a
//! resourceVersion: list, create, patch, delete, watch. Skipped when the module is
//! not installed (`pip install kubernetes`).

mod common;

use common::TestCluster;

const SCRIPT: &str = r#"
import json, sys
from kubernetes import client, config, watch
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
out = {}
out["namespaces"] = sorted(n.metadata.name for n in v1.list_namespace().items)
cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py", labels={"app": "py"}), data={"a": "1"})
created = v1.create_namespaced_config_map("default", cm)
out["created_rv"] = created.metadata.resource_version
patched = v1.patch_namespaced_config_map("py", "default", {"data": {"b": "2"}})
out["patched"] = patched.data
events = []
w = watch.Watch()
for e in w.stream(v1.list_namespaced_config_map, namespace="default", timeout_seconds=2):
    events.append([e["type"], e["object"].metadata.name])
out["events"] = events
try:
    v1.read_namespaced_config_map("missing", "default")
except client.exceptions.ApiException as e:
    out["missing"] = [e.status, json.loads(e.body)["reason"]]
v1.delete_namespaced_config_map("py", "default")
out["after_delete"] = [c.metadata.name for c in v1.list_namespaced_config_map("default").items]
print(json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_lists_creates_patches_watches_and_deletes() {
    let cluster = TestCluster::start().await;
    let Some(result) = common::python_client(&cluster, SCRIPT).await else {
        return;
    };
    for ns in rudder_apiserver::SYSTEM_NAMESPACES {
        assert!(
            result["namespaces"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n == ns),
            "{result}"
        );
    }
    assert!(
        result["created_rv"]
            .as_str()
            .is_some_and(|rv| !rv.is_empty())
    );
    assert_eq!(result["patched"], serde_json::json!({"a": "1", "b": "2"}));
    assert_eq!(result["events"], serde_json::json!([["ADDED", "py"]]));
    assert_eq!(result["missing"], serde_json::json!([404, "NotFound"]));
    assert_eq!(result["after_delete"], serde_json::json!([]));
    cluster.stop().await.unwrap();
}
