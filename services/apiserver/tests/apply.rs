//! Server-side apply and managedFields against the real kubectl (`apply
//! --server-side`, `scale`, client-side `apply`), raw REST requests and the gRPC
//! `Api` service: the same behaviour a Kubernetes API server shows.

mod common;

use std::path::PathBuf;

use common::{TestCluster, kubectl_missing, ok};
use http::{Method, StatusCode};
use serde_json::{Value, json};

const APPLY: &str = "application/apply-patch+yaml";

fn deployment(replicas: Option<i64>, labels: &str, image: &str) -> String {
    let replicas = replicas.map_or(String::new(), |r| format!("  replicas: {r}\n"));
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n{labels}\
         spec:\n{replicas}  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    \
         spec:\n      containers:\n      - name: web\n        image: {image}\n        ports:\n        - containerPort: 80\n"
    )
}

fn write(cluster: &TestCluster, name: &str, text: &str) -> PathBuf {
    let path = cluster.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

async fn get_json(cluster: &TestCluster, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&ok(cluster, &all).await).unwrap()
}

fn managers(object: &Value) -> Vec<(String, String, String)> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    let text = |k: &str| e[k].as_str().unwrap_or("").to_string();
                    (text("manager"), text("operation"), text("subresource"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_creates_updates_prunes_and_conflicts() {
    if kubectl_missing() {
        return;
    }
    let cluster = TestCluster::start().await;
    let labels = "    app: web\n    tier: front\n";
    let file = write(
        &cluster,
        "web.yaml",
        &deployment(Some(2), labels, "nginx:1.27"),
    );
    let file = file.to_str().unwrap();

    let out = ok(&cluster, &["apply", "--server-side", "-f", file]).await;
    assert_eq!(out.trim(), "deployment.apps/web serverside-applied");
    let created = get_json(&cluster, &["deploy", "web", "--show-managed-fields"]).await;
    assert_eq!(created["spec"]["replicas"], 2);
    assert_eq!(
        managers(&created),
        vec![("kubectl".to_string(), "Apply".to_string(), String::new())]
    );
    let fields = &created["metadata"]["managedFields"][0]["fieldsV1"];
    assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
    assert_eq!(
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:ports"]
            ["k:{\"containerPort\":80,\"protocol\":\"TCP\"}"],
        json!({".": {}, "f:containerPort": {}})
    );
    // kubectl hides managedFields unless asked.
    let plain = get_json(&cluster, &["deploy", "web"]).await;
    assert_eq!(plain["metadata"].get("managedFields"), None);

    // The same configuration again writes nothing.
    let rv = created["metadata"]["resourceVersion"].clone();
    ok(&cluster, &["apply", "--server-side", "-f", file]).await;
    let again = get_json(&cluster, &["deploy", "web"]).await;
    assert_eq!(again["metadata"]["resourceVersion"], rv);

    // A changed image is applied; a label dropped from the configuration goes.
    std::fs::write(file, deployment(Some(2), "    app: web\n", "nginx:1.28")).unwrap();
    ok(&cluster, &["apply", "--server-side", "-f", file]).await;
    let changed = get_json(&cluster, &["deploy", "web"]).await;
    assert_ne!(changed["metadata"]["resourceVersion"], rv);
    assert_eq!(
        changed["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );
    assert_eq!(changed["metadata"]["labels"], json!({"app": "web"}));

    // `kubectl scale` (manager "kubectl" from its User-Agent) takes spec.replicas;
    // applying another value conflicts.
    ok(&cluster, &["scale", "deploy", "web", "--replicas=5"]).await;
    std::fs::write(file, deployment(Some(3), "    app: web\n", "nginx:1.28")).unwrap();
    let out = cluster
        .kubectl(&["apply", "--server-side", "-f", file])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"
        )
            && err.contains("Please review the fields above--they currently have other managers"),
        "{err}"
    );
    assert_eq!(
        get_json(&cluster, &["deploy", "web"]).await["spec"]["replicas"],
        5
    );

    ok(
        &cluster,
        &["apply", "--server-side", "--force-conflicts", "-f", file],
    )
    .await;
    let forced = get_json(&cluster, &["deploy", "web", "--show-managed-fields"]).await;
    assert_eq!(forced["spec"]["replicas"], 3);
    assert!(
        !managers(&forced).iter().any(|(_, _, sub)| sub == "scale"),
        "{:?}",
        managers(&forced)
    );
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_and_create_record_update_entries_that_apply_conflicts_with() {
    if kubectl_missing() {
        return;
    }
    let cluster = TestCluster::start().await;
    let cm = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: {value}\n"
        )
    };
    let file = write(&cluster, "cm.yaml", &cm("fast"));
    let file = file.to_str().unwrap();
    ok(&cluster, &["apply", "-f", file]).await;
    let cm_json = get_json(&cluster, &["cm", "settings", "--show-managed-fields"]).await;
    assert_eq!(
        managers(&cm_json),
        vec![(
            "kubectl-client-side-apply".to_string(),
            "Update".to_string(),
            String::new()
        )]
    );
    let entry = &cm_json["metadata"]["managedFields"][0];
    assert_eq!(entry["apiVersion"], "v1");
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert!(entry["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(entry["fieldsV1"]["f:data"], json!({".": {}, "f:mode": {}}));

    std::fs::write(file, cm("slow")).unwrap();
    let out = cluster
        .kubectl(&["apply", "--server-side", "-f", file])
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.mode"
        ),
        "{}",
        stderr(&out)
    );
    ok(
        &cluster,
        &["apply", "--server-side", "--force-conflicts", "-f", file],
    )
    .await;
    let taken = get_json(&cluster, &["cm", "settings", "--show-managed-fields"]).await;
    assert_eq!(taken["data"]["mode"], "slow");
    assert!(managers(&taken).contains(&(
        "kubectl".to_string(),
        "Apply".to_string(),
        String::new()
    )));

    // kubectl create records its own Update entry.
    let pod = write(
        &cluster,
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: busybox\n",
    );
    ok(&cluster, &["create", "-f", pod.to_str().unwrap()]).await;
    let created = get_json(&cluster, &["pod", "p", "--show-managed-fields"]).await;
    assert_eq!(
        managers(&created),
        vec![(
            "kubectl-create".to_string(),
            "Update".to_string(),
            String::new()
        )]
    );
    let spec = &created["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"];
    assert!(
        spec["f:containers"]["k:{\"name\":\"c\"}"]["f:image"].is_object(),
        "{spec}"
    );
    cluster.stop().await.unwrap();
}

async fn apply_as(cluster: &TestCluster, path: &str, query: &str, body: &str) -> common::Reply {
    cluster
        .client("admin")
        .request(
            Method::PATCH,
            &format!("{path}?{query}"),
            &[("content-type", APPLY)],
            body.to_string(),
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_over_rest_status_dry_run_strict_and_two_managers() {
    let cluster = TestCluster::start().await;
    let path = "/apis/apps/v1/namespaces/default/deployments/web";

    // fieldManager is required; force is for apply only.
    let r = apply_as(
        &cluster,
        path,
        "",
        &deployment(Some(1), "    app: web\n", "nginx"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json()["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    let r = cluster
        .client("admin")
        .request(
            Method::PATCH,
            &format!("{path}?force=true"),
            &[("content-type", "application/merge-patch+json")],
            "{}",
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json()["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
    );

    // dryRun creates nothing; unknown fields are refused (apply is always strict).
    let body = deployment(Some(1), "    app: web\n", "nginx");
    let r = apply_as(&cluster, path, "fieldManager=a&dryRun=All", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        cluster.client("admin").get(path).await.unwrap().status,
        StatusCode::NOT_FOUND
    );
    let unknown = body.replace("  replicas: 1\n", "  replicas: 1\n  replica: 2\n");
    let r = apply_as(&cluster, path, "fieldManager=a", &unknown).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.replica: field not declared in schema"
    );

    // Team a applies the deployment (JSON is YAML too), team b adds a sidecar:
    // containers merge by name.
    let r = apply_as(&cluster, path, "fieldManager=team-a", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let sidecar = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
        "spec":{"template":{"spec":{"containers":[{"name":"log","image":"fluentd"}]}}}}"#;
    let r = apply_as(&cluster, path, "fieldManager=team-b", sidecar).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let both = r.json();
    let names: Vec<&str> = both["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["web", "log"]);
    assert_eq!(
        both["metadata"]["managedFields"][1]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"],
        json!({"k:{\"name\":\"log\"}": {".": {}, "f:image": {}, "f:name": {}}})
    );

    // Team b changing team a's image conflicts, with upstream's Status.
    let steal = sidecar.replace(
        r#""name":"log","image":"fluentd""#,
        r#""name":"web","image":"httpd""#,
    );
    let r = apply_as(&cluster, path, "fieldManager=team-b", &steal).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let status = r.json();
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["message"],
        "Apply failed with 1 conflict: conflict with \"team-a\": .spec.template.spec.containers[name=\"web\"].image"
    );
    assert_eq!(
        status["details"]["causes"][0],
        json!({"reason": "FieldManagerConflict", "message": "conflict with \"team-a\"",
               "field": ".spec.template.spec.containers[name=\"web\"].image"})
    );

    // The status subresource: an applier owns status fields only.
    let status_body = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
        "spec":{"replicas":9},"status":{"observedGeneration":1,"replicas":1}}"#;
    let r = apply_as(
        &cluster,
        &format!("{path}/status"),
        "fieldManager=ctl",
        status_body,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let applied = r.json();
    assert_eq!(applied["status"]["replicas"], 1);
    assert_eq!(applied["spec"]["replicas"], 1);
    let entry = applied["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "ctl")
        .unwrap()
        .clone();
    assert_eq!(entry["subresource"], "status");
    assert_eq!(
        entry["fieldsV1"],
        json!({"f:status": {"f:observedGeneration": {}, "f:replicas": {}}})
    );
    // Unchanged: no new resourceVersion.
    let again = apply_as(
        &cluster,
        &format!("{path}/status"),
        "fieldManager=ctl",
        status_body,
    )
    .await;
    assert_eq!(
        again.json()["metadata"]["resourceVersion"],
        applied["metadata"]["resourceVersion"]
    );

    // The scale subresource: a Scale owns spec.replicas, recorded for "scale".
    let scale = r#"{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web"},"spec":{"replicas":4}}"#;
    let r = apply_as(
        &cluster,
        &format!("{path}/scale"),
        "fieldManager=hpa&force=true",
        scale,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        (
            r.json()["kind"].as_str(),
            r.json()["spec"]["replicas"].as_i64()
        ),
        (Some("Scale"), Some(4))
    );
    let scaled = cluster.client("admin").get(path).await.unwrap().json();
    let entry = scaled["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "hpa")
        .unwrap()
        .clone();
    assert_eq!(
        (entry["operation"].as_str(), entry["subresource"].as_str()),
        (Some("Apply"), Some("scale"))
    );
    assert_eq!(entry["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));

    // A plain update without managedFields keeps them; `managedFields: []` resets
    // them; garbage in them is a 422.
    let cm_path = "/api/v1/namespaces/default/configmaps";
    let r = cluster
        .client("admin")
        .request(
            Method::POST,
            cm_path,
            &[
                ("content-type", "application/json"),
                ("user-agent", "tool/1.0 (linux)"),
            ],
            r#"{"metadata":{"name":"c"},"data":{"a":"1"}}"#,
        )
        .await
        .unwrap();
    assert_eq!(
        managers(&r.json()),
        vec![("tool".to_string(), "Update".to_string(), String::new())]
    );
    let bad = r#"{"metadata":{"name":"c","managedFields":[{"manager":"x","operation":"Sideways","fieldsType":"FieldsV1","fieldsV1":{}}]},"data":{"a":"2"}}"#;
    let r = cluster
        .client("admin")
        .must(Method::PUT, &format!("{cm_path}/c"), bad)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(
        r.text().contains("metadata.managedFields[0].operation"),
        "{}",
        r.text()
    );
    let not_a_list = r#"{"metadata":{"name":"c","managedFields":"x"},"data":{"a":"2"}}"#;
    let r = cluster
        .client("admin")
        .must(Method::PUT, &format!("{cm_path}/c"), not_a_list)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    // Entries whose fields do not parse are ignored: the stored ones stay.
    let garbage = r#"{"metadata":{"name":"c","managedFields":[{"manager":"x","operation":"Update","fieldsType":"FieldsV1","fieldsV1":{"bogus":1}}]},"data":{"a":"1"}}"#;
    let r = cluster
        .client("admin")
        .must(Method::PUT, &format!("{cm_path}/c"), garbage)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        managers(&r.json()),
        vec![("tool".to_string(), "Update".to_string(), String::new())]
    );
    let reset = r#"{"metadata":{"name":"c","managedFields":[]},"data":{"a":"1"}}"#;
    let r = cluster
        .client("admin")
        .must(Method::PUT, &format!("{cm_path}/c"), reset)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["metadata"].get("managedFields"), None);
    cluster.stop().await.unwrap();
}

/// rudder-client's `Patch::Apply` goes through the gRPC `Api` service to the same
/// registry: create, conflict (409 with causes), force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rudder_client_applies_over_grpc() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use rudder_client::{Api, Patch, PatchParams};

    let cluster = TestCluster::start().await;
    let api = Api::<ConfigMap>::namespaced(cluster.rudder_client("admin"), "default");
    let config = |mode: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "g"}, "data": {"mode": mode}});
    let created = api
        .patch(
            "g",
            &PatchParams::apply("ctl-a"),
            &Patch::Apply(config("fast")),
        )
        .await
        .unwrap();
    assert_eq!(created.data.unwrap()["mode"], "fast");
    let managed = created.metadata.managed_fields.unwrap();
    assert_eq!(
        (
            managed[0].manager.as_deref(),
            managed[0].operation.as_deref()
        ),
        (Some("ctl-a"), Some("Apply"))
    );

    let err = api
        .patch(
            "g",
            &PatchParams::apply("ctl-b"),
            &Patch::Apply(config("slow")),
        )
        .await
        .unwrap_err();
    let rudder_client::Error::Api(server) = &err else {
        panic!("not a server error: {err:?}");
    };
    assert_eq!((server.code(), server.reason()), (409, "Conflict"));
    assert_eq!(
        server.message(),
        "Apply failed with 1 conflict: conflict with \"ctl-a\": .data.mode"
    );
    let causes = server
        .status
        .details
        .as_ref()
        .and_then(|d| d.causes.clone())
        .unwrap();
    assert_eq!(causes[0].field.as_deref(), Some(".data.mode"));
    assert_eq!(causes[0].reason.as_deref(), Some("FieldManagerConflict"));

    let forced = api
        .patch(
            "g",
            &PatchParams::apply("ctl-b").force(),
            &Patch::Apply(config("slow")),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["mode"], "slow");

    // Without a field manager, writes are recorded for the client binary's name.
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "plain"}, "data": {"a": "1"}})).unwrap();
    let created = api.create(&Default::default(), &cm).await.unwrap();
    let binary = std::env::current_exe().unwrap();
    let binary = binary.file_name().unwrap().to_str().unwrap();
    assert_eq!(
        created.metadata.managed_fields.unwrap()[0]
            .manager
            .as_deref(),
        Some(binary)
    );
    let managers: Vec<String> = forced
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .filter_map(|e| e.manager)
        .collect();
    assert_eq!(managers, vec!["ctl-b".to_string()]);
    cluster.stop().await.unwrap();
}

const PYTHON_APPLY: &str = r#"
import json, sys
from kubernetes import client, config, dynamic
config.load_kube_config(config_file=sys.argv[1])
api = dynamic.DynamicClient(client.ApiClient()).resources.get(api_version="v1", kind="ConfigMap")
body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "py"}, "data": {"a": "1"}}
out = {}
created = api.server_side_apply(body=body, name="py", namespace="default", field_manager="py-app")
out["created"] = [created.data.a, created.metadata.managedFields[0].manager]
body["data"]["a"] = "2"
try:
    api.server_side_apply(body=body, name="py", namespace="default", field_manager="other")
except client.exceptions.ApiException as e:
    out["conflict"] = [e.status, json.loads(e.body)["message"]]
forced = api.server_side_apply(body=body, name="py", namespace="default", field_manager="other", force_conflicts=True)
out["forced"] = forced.data.a
print(json.dumps(out))
"#;

/// The Python client's dynamic `server_side_apply`: create, conflict, force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_dynamic_client_server_side_applies() {
    let cluster = TestCluster::start().await;
    let Some(result) = common::python_client(&cluster, PYTHON_APPLY).await else {
        return;
    };
    assert_eq!(result["created"], json!(["1", "py-app"]));
    assert_eq!(
        result["conflict"],
        json!([
            409,
            "Apply failed with 1 conflict: conflict with \"py-app\": .data.a"
        ])
    );
    assert_eq!(result["forced"], "2");
    cluster.stop().await.unwrap();
}

/// Kinds with server-set fields: a Service keeps its allocated ClusterIP and a Pod
/// its admitted service-account volume across applies, which change nothing when
/// the configuration did not; `--dry-run=server` stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_of_services_and_pods() {
    if kubectl_missing() {
        return;
    }
    let cluster = TestCluster::start().await;
    let service = |port: u16| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - name: http\n    port: {port}\n    targetPort: 8080\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels:\n    app: web\nspec:\n  containers:\n  - name: web\n    image: nginx\n    ports:\n    - containerPort: 8080\n"
        )
    };
    let file = write(&cluster, "svc.yaml", &service(80));
    let file = file.to_str().unwrap();
    let out = ok(
        &cluster,
        &["apply", "--server-side", "--dry-run=server", "-f", file],
    )
    .await;
    assert!(
        out.contains("service/web serverside-applied (server dry run)"),
        "{out}"
    );
    assert!(
        !cluster
            .kubectl(&["get", "svc", "web"])
            .await
            .status
            .success()
    );

    ok(&cluster, &["apply", "--server-side", "-f", file]).await;
    let svc = get_json(&cluster, &["svc", "web", "--show-managed-fields"]).await;
    let pod = get_json(&cluster, &["pod", "web"]).await;
    let ip = svc["spec"]["clusterIP"].clone();
    assert!(ip.as_str().is_some_and(|ip| ip.starts_with("10.")), "{svc}");
    assert_eq!(
        svc["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:ports"],
        json!({"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}, "f:targetPort": {}}})
    );

    ok(&cluster, &["apply", "--server-side", "-f", file]).await;
    let svc_again = get_json(&cluster, &["svc", "web"]).await;
    let pod_again = get_json(&cluster, &["pod", "web"]).await;
    assert_eq!(
        svc_again["metadata"]["resourceVersion"],
        svc["metadata"]["resourceVersion"]
    );
    assert_eq!(
        pod_again["metadata"]["resourceVersion"],
        pod["metadata"]["resourceVersion"]
    );

    std::fs::write(file, service(8000)).unwrap();
    ok(&cluster, &["apply", "--server-side", "-f", file]).await;
    let moved = get_json(&cluster, &["svc", "web"]).await;
    assert_eq!(moved["spec"]["clusterIP"], ip);
    assert_eq!(
        moved["spec"]["ports"].as_array().unwrap().len(),
        1,
        "{moved}"
    );
    assert_eq!(moved["spec"]["ports"][0]["port"], 8000);
    cluster.stop().await.unwrap();
}
