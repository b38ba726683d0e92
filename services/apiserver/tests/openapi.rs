//! The OpenAPI documents read by real clients: the machine's kubectl 1.33 (through
//! the /usr/bin/kubectl dispatcher, OpenAPI v3 first) and its kubectl 1.27 binary
//! run directly (the dispatcher picks by the server's minor, which is 33), which
//! reads `/openapi/v2` as gnostic protobuf for `explain --output=plaintext-openapiv2`
//! and for apply's patch metadata.

mod common;

use std::path::Path;
use std::process::Output;

use common::{KUBECTL, TestCluster};
use http::{Method, StatusCode};
use prost::Message;
use rudder_apiserver::openapi::gnostic;
use rudder_apiserver::openapi::{V2_PROTOBUF_ACCEPT, V2_PROTOBUF_CONTENT_TYPE};
use serde_json::Value;

/// The versioned binaries the dispatcher chooses from.
const KUBECTL_1_27: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.27";

fn skip() -> bool {
    for bin in [KUBECTL, KUBECTL_1_27] {
        if !Path::new(bin).exists() {
            eprintln!("!!!!!!!! SKIPPED: {bin} is not installed !!!!!!!!");
            return true;
        }
    }
    false
}

/// Runs `binary` with the admin kubeconfig and a cache of its own per binary.
async fn run(cluster: &TestCluster, binary: &str, args: &[&str]) -> Output {
    let name = Path::new(binary)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("kubectl");
    tokio::process::Command::new(binary)
        .arg("--kubeconfig")
        .arg(cluster.layout().kubeconfig("admin"))
        .arg(format!(
            "--cache-dir={}",
            cluster.dir.path().join(format!("cache-{name}")).display()
        ))
        .arg("--request-timeout=30s")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run kubectl")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs and requires success; returns stdout.
async fn ok(cluster: &TestCluster, binary: &str, args: &[&str]) -> Output {
    let out = run(cluster, binary, args).await;
    assert!(
        out.status.success(),
        "{binary} {args:?} failed:\nstdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn write(cluster: &TestCluster, name: &str, text: &str) -> String {
    let path = cluster.dir.path().join(name);
    std::fs::write(&path, text).expect("write manifest");
    path.display().to_string()
}

fn deployment(name: &str, first_image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  \
         selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        \
         app: {name}\n    spec:\n      containers:\n      - name: first\n        image: {first_image}\n      \
         - name: second\n        image: busybox\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_prints_upstream_fields_from_v3_and_v2() {
    if skip() {
        return;
    }
    let cluster = TestCluster::start().await;

    let containers = stdout(&ok(&cluster, KUBECTL, &["explain", "pods.spec.containers"]).await);
    for want in [
        "KIND:       Pod",
        "FIELD: containers <[]Container>",
        "List of containers belonging to the pod.",
        "A single application container that you want to run within a pod.",
        "imagePullPolicy\t<string>",
        "name\t<string> -required-",
        "livenessProbe\t<Probe>",
    ] {
        assert!(containers.contains(want), "{want:?} not in:\n{containers}");
    }
    let rolling = stdout(
        &ok(
            &cluster,
            KUBECTL,
            &["explain", "deployment.spec.strategy.rollingUpdate"],
        )
        .await,
    );
    assert!(rolling.contains("maxSurge\t<IntOrString>"), "{rolling}");
    let strategy = stdout(&ok(&cluster, KUBECTL, &["explain", "deployment.spec.strategy"]).await);
    for want in [
        "GROUP:      apps",
        "The deployment strategy to use to replace existing pods with new ones.",
        "rollingUpdate\t<RollingUpdateDeployment>",
        "type\t<string>",
    ] {
        assert!(strategy.contains(want), "{want:?} not in:\n{strategy}");
    }

    // The same from the v2 document, as protobuf: kubectl's v2 client only
    // asks for protobuf and fails on anything it cannot unmarshal.
    for binary in [KUBECTL, KUBECTL_1_27] {
        let v2 = stdout(
            &ok(
                &cluster,
                binary,
                &[
                    "explain",
                    "--output=plaintext-openapiv2",
                    "pods.spec.containers",
                ],
            )
            .await,
        );
        for want in [
            "KIND:",
            "Pod",
            "List of containers belonging to the pod.",
            "imagePullPolicy",
            "livenessProbe",
        ] {
            assert!(v2.contains(want), "{binary}: {want:?} not in:\n{v2}");
        }
        let recursive = stdout(
            &ok(
                &cluster,
                binary,
                &[
                    "explain",
                    "--output=plaintext-openapiv2",
                    "--recursive",
                    "deployment.spec.strategy",
                ],
            )
            .await,
        );
        assert!(
            recursive.contains("maxSurge") && recursive.contains("maxUnavailable"),
            "{binary}:\n{recursive}"
        );
    }
    // Every served kind explains with its own kind and group.
    for r in rudder_api::resource::all() {
        let out = stdout(&ok(&cluster, KUBECTL, &["explain", r.plural]).await);
        assert!(
            out.contains(&format!("KIND:       {}\n", r.kind))
                && out.contains(&format!("VERSION:    {}\n", r.version))
                && (r.group.is_empty() || out.contains(&format!("GROUP:      {}\n", r.group)))
                && out.contains("metadata\t<ObjectMeta>"),
            "{}:\n{out}",
            r.plural
        );
    }
    let rbac = stdout(&ok(&cluster, KUBECTL_1_27, &["explain", "clusterrole.rules"]).await);
    assert!(rbac.contains("verbs"), "{rbac}");
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_protobuf_decodes_with_gnostic_messages() {
    let cluster = TestCluster::start().await;
    let client = cluster.client("admin");
    let accept = [("accept", V2_PROTOBUF_ACCEPT)];
    let reply = client
        .request(Method::GET, "/openapi/v2", &accept, "")
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], V2_PROTOBUF_CONTENT_TYPE);
    let etag = reply.headers["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.len() > 100, "{etag}");

    let doc = gnostic::Document::decode(reply.body.as_ref()).expect("gnostic Document");
    assert_eq!(doc.swagger, "2.0");
    let defs = doc.definitions.unwrap().additional_properties;
    let pod = defs
        .iter()
        .find(|d| d.name == "io.k8s.api.core.v1.Pod")
        .and_then(|d| d.value.as_ref())
        .expect("Pod definition");
    assert!(
        pod.description
            .starts_with("Pod is a collection of containers")
    );
    let gvk = pod
        .vendor_extension
        .iter()
        .find(|e| e.name == "x-kubernetes-group-version-kind")
        .and_then(|e| e.value.as_ref())
        .unwrap();
    let gvk: Value = serde_norway::from_str(&gvk.yaml).unwrap();
    assert_eq!(
        gvk,
        serde_json::json!([{"group": "", "kind": "Pod", "version": "v1"}])
    );
    let pod_spec = defs
        .iter()
        .find(|d| d.name == "io.k8s.api.core.v1.PodSpec")
        .and_then(|d| d.value.as_ref())
        .unwrap();
    let containers = pod_spec
        .properties
        .as_ref()
        .unwrap()
        .additional_properties
        .iter()
        .find(|p| p.name == "containers")
        .and_then(|p| p.value.as_ref())
        .unwrap();
    let ext = |name: &str| {
        containers
            .vendor_extension
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.value.as_ref())
            .map(|a| a.yaml.trim().to_string())
    };
    assert_eq!(ext("x-kubernetes-patch-merge-key").as_deref(), Some("name"));
    assert_eq!(ext("x-kubernetes-patch-strategy").as_deref(), Some("merge"));

    let paths = doc.paths.unwrap().path;
    let item = paths
        .iter()
        .find(|p| p.name == "/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        .and_then(|p| p.value.as_ref())
        .unwrap();
    let patch = item.patch.as_ref().unwrap();
    assert_eq!(patch.operation_id, "patchAppsV1NamespacedDeployment");
    let params: Vec<String> = patch
        .parameters
        .iter()
        .filter_map(|p| match p.parameter.as_ref()?.oneof.as_ref()? {
            gnostic::parameter::Oneof::NonBodyParameter(n) => match n.oneof.as_ref()? {
                gnostic::non_body_parameter::Oneof::QueryParameterSubSchema(q) => {
                    Some(q.name.clone())
                }
                gnostic::non_body_parameter::Oneof::PathParameterSubSchema(_) => None,
            },
            gnostic::parameter::Oneof::BodyParameter(_) => None,
        })
        .collect();
    assert!(
        params.contains(&"dryRun".to_string()) && params.contains(&"fieldValidation".to_string()),
        "{params:?}"
    );

    // Revalidation answers 304 without a body; JSON is served to those who ask.
    let revalidate = client
        .request(
            Method::GET,
            "/openapi/v2",
            &[("accept", V2_PROTOBUF_ACCEPT), ("if-none-match", &etag)],
            "",
        )
        .await
        .unwrap();
    assert_eq!(revalidate.status, StatusCode::NOT_MODIFIED);
    assert!(revalidate.body.is_empty());
    let json = client
        .request(
            Method::GET,
            "/openapi/v2",
            &[("accept", "application/json")],
            "",
        )
        .await
        .unwrap();
    assert_eq!(json.headers["content-type"], "application/json");
    assert_eq!(
        json.json()["definitions"]["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"]
            [0]["kind"],
        "Deployment"
    );
    assert_ne!(json.headers["etag"].to_str().unwrap(), etag);

    let index = client.get("/openapi/v3").await.unwrap().json();
    let url = index["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    let v3 = client.get(&url).await.unwrap();
    assert_eq!(v3.headers["cache-control"], "public, immutable");
    assert!(
        v3.json()["components"]["schemas"]["io.k8s.api.core.v1.Container"]["properties"]
            ["image"]["description"]
            .as_str()
            .unwrap()
            .starts_with("Container image name.")
    );
    cluster.stop().await.unwrap();
}

/// Waits until the audit log shows a 200 for `path` (lines are written behind
/// the responses).
async fn assert_fetched(cluster: &TestCluster, path: &str) {
    let log = cluster.dir.path().join("audit.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let fetched = text.lines().any(|line| {
            serde_json::from_str::<Value>(line)
                .is_ok_and(|entry| entry["requestUri"] == path && entry["code"] == 200)
        });
        if fetched {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} was never fetched; audit log:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_merges_containers_by_name_without_warnings() {
    if skip() {
        return;
    }
    let cluster = TestCluster::start_with(&["--audit-log-path={dir}/audit.log".to_string()]).await;
    // kubectl 1.33 takes the patch metadata from the v3 document of apps/v1,
    // 1.27 from the v2 document (protobuf).
    for (binary, name, document) in [
        (KUBECTL, "web", "/openapi/v3/apis/apps/v1"),
        (KUBECTL_1_27, "old", "/openapi/v2"),
    ] {
        let manifest = write(
            &cluster,
            &format!("{name}.yaml"),
            &deployment(name, "nginx:1.25"),
        );
        let created = ok(&cluster, binary, &["apply", "-f", &manifest]).await;
        assert!(
            stdout(&created).contains(&format!("deployment.apps/{name} created")),
            "{}",
            stdout(&created)
        );
        // Someone else adds an env var to the second container; apply must keep it.
        ok(
            &cluster,
            binary,
            &[
                "patch",
                "deployment",
                name,
                "--type=strategic",
                "-p",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"second","env":[{"name":"MODE","value":"fast"}]}]}}}}"#,
            ],
        )
        .await;

        let unchanged = ok(&cluster, binary, &["apply", "-f", &manifest]).await;
        assert!(
            stdout(&unchanged).contains("unchanged"),
            "{}",
            stdout(&unchanged)
        );
        let changed = write(
            &cluster,
            &format!("{name}.yaml"),
            &deployment(name, "nginx:1.27"),
        );
        let applied = ok(&cluster, binary, &["apply", "-f", &changed]).await;
        assert!(
            stdout(&applied).contains(&format!("deployment.apps/{name} configured")),
            "{}",
            stdout(&applied)
        );
        assert_fetched(&cluster, document).await;
        let warnings = stderr(&applied);
        assert!(
            !warnings.contains("unable to find api field") && !warnings.contains("warning"),
            "{binary}: {warnings}"
        );

        let got: Value = serde_json::from_slice(
            &ok(&cluster, binary, &["get", "deployment", name, "-o", "json"])
                .await
                .stdout,
        )
        .unwrap();
        let containers = got["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        let names: Vec<&str> = containers
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["first", "second"], "{binary}");
        assert_eq!(containers[0]["image"], "nginx:1.27", "{binary}");
        assert_eq!(
            containers[1]["env"],
            serde_json::json!([{"name": "MODE", "value": "fast"}]),
            "{binary}: the merge by name kept the other container's fields"
        );
    }
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_dry_run_persists_nothing() {
    if skip() {
        return;
    }
    let cluster = TestCluster::start().await;
    for (binary, name) in [(KUBECTL, "dry"), (KUBECTL_1_27, "dry-old")] {
        let manifest = write(
            &cluster,
            &format!("{name}.yaml"),
            &deployment(name, "nginx:1.25"),
        );
        let out = ok(
            &cluster,
            binary,
            &["create", "--dry-run=server", "-f", &manifest],
        )
        .await;
        assert!(
            stdout(&out).contains(&format!("deployment.apps/{name} created (server dry run)")),
            "{}",
            stdout(&out)
        );
        let out = ok(
            &cluster,
            binary,
            &["apply", "--dry-run=server", "-f", &manifest],
        )
        .await;
        assert!(
            stdout(&out).contains(&format!("deployment.apps/{name} created (server dry run)")),
            "{}",
            stdout(&out)
        );
        let missing = run(&cluster, binary, &["get", "deployment", name]).await;
        assert!(
            stderr(&missing).contains(&format!(
                "Error from server (NotFound): deployments.apps \"{name}\" not found"
            )),
            "{binary}: a server dry run stored the object: {}",
            stderr(&missing)
        );

        // A dry-run apply of a change to a stored object changes nothing.
        ok(&cluster, binary, &["apply", "-f", &manifest]).await;
        let changed = write(
            &cluster,
            &format!("{name}-changed.yaml"),
            &deployment(name, "nginx:1.27"),
        );
        let out = ok(
            &cluster,
            binary,
            &["apply", "--dry-run=server", "-f", &changed],
        )
        .await;
        assert!(
            stdout(&out).contains(&format!(
                "deployment.apps/{name} configured (server dry run)"
            )),
            "{}",
            stdout(&out)
        );
        let image = ok(
            &cluster,
            binary,
            &[
                "get",
                "deployment",
                name,
                "-o",
                "jsonpath={.spec.template.spec.containers[0].image}",
            ],
        )
        .await;
        assert_eq!(stdout(&image), "nginx:1.25", "{binary}");
    }
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_validation_refuses_unknown_fields() {
    if skip() {
        return;
    }
    let cluster = TestCluster::start().await;
    let manifest = write(
        &cluster,
        "colour.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: colour\nspec:\n  containers:\n  - name: web\n    image: nginx\n    colour: blue\n",
    );
    for binary in [KUBECTL, KUBECTL_1_27] {
        let out = run(
            &cluster,
            binary,
            &["create", "--validate=strict", "-f", &manifest],
        )
        .await;
        assert!(!out.status.success(), "{binary} created an invalid pod");
        let err = stderr(&out);
        assert!(
            err.contains("Error from server (BadRequest)")
                && err
                    .contains("strict decoding error: unknown field \"spec.containers[0].colour\""),
            "{binary}: {err}"
        );
    }
    let missing = run(&cluster, KUBECTL, &["get", "pod", "colour"]).await;
    assert!(!missing.status.success());
    // The same manifest without the field is created: validation is on the field.
    let fine = write(
        &cluster,
        "fine.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: fine\nspec:\n  containers:\n  - name: web\n    image: nginx\n",
    );
    let out = ok(
        &cluster,
        KUBECTL,
        &["create", "--validate=strict", "-f", &fine],
    )
    .await;
    assert!(
        stdout(&out).contains("pod/fine created"),
        "{}",
        stdout(&out)
    );
    cluster.stop().await.unwrap();
}
