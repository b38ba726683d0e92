//! The real kubectl (the machine's /usr/bin/kubectl dispatcher, which picks its
//! 1.33 binary from our /version) with the admin kubeconfig from rudder-pki.
//! `create`/`apply -f` run as a user types them: kubectl validates against our
//! /openapi/v2 (and v3) documents.

mod common;

use common::{TestCluster, kubectl_missing, ok};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_version_get_create_delete() {
    if kubectl_missing() {
        return;
    }
    let cluster = TestCluster::start().await;

    let version: Value =
        serde_json::from_str(&ok(&cluster, &["version", "-o", "json"]).await).unwrap();
    assert_eq!(version["serverVersion"]["minor"], "33");
    assert_eq!(version["serverVersion"]["gitVersion"], "v1.33.0-rudder");

    let ns = ok(&cluster, &["get", "ns"]).await;
    for want in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            ns.lines().any(|l| l.starts_with(want)),
            "{want} not in:\n{ns}"
        );
    }
    assert!(ns.starts_with("NAME"), "{ns}");

    let manifest = cluster.dir.path().join("objects.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels:\n    app: web\ndata:\n  mode: fast\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: web\n    image: nginx\n",
    )
    .unwrap();
    let created = ok(&cluster, &["create", "-f", manifest.to_str().unwrap()]).await;
    assert!(created.contains("configmap/settings created"), "{created}");
    assert!(created.contains("pod/web created"), "{created}");

    let out = cluster
        .kubectl(&["create", "-f", manifest.to_str().unwrap()])
        .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Error from server (AlreadyExists)")
            && stderr.contains("configmaps \"settings\" already exists"),
        "{stderr}"
    );

    let cm: Value =
        serde_json::from_str(&ok(&cluster, &["get", "configmap", "settings", "-o", "json"]).await)
            .unwrap();
    assert_eq!(cm["data"]["mode"], "fast");
    assert_eq!(cm["metadata"]["labels"]["app"], "web");

    let pods: Value =
        serde_json::from_str(&ok(&cluster, &["get", "pods", "-o", "json"]).await).unwrap();
    assert_eq!(pods["kind"], "List");
    assert_eq!(pods["items"][0]["metadata"]["name"], "web");
    assert_eq!(pods["items"][0]["status"]["phase"], "Pending");
    let by_label = ok(&cluster, &["get", "cm", "-l", "app=web", "-o", "name"]).await;
    assert_eq!(by_label.trim(), "configmap/settings");

    let deleted = ok(&cluster, &["delete", "configmap", "settings"]).await;
    assert!(
        deleted.contains("configmap \"settings\" deleted"),
        "{deleted}"
    );
    let out = cluster.kubectl(&["get", "configmap", "settings"]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Error from server (NotFound): configmaps \"settings\" not found"),
        "{stderr}"
    );
    ok(&cluster, &["delete", "pod", "web", "--wait=true"]).await;

    // --dry-run=server stores nothing.
    let plain = cluster.dir.path().join("plain.yaml");
    std::fs::write(
        &plain,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: validated\n",
    )
    .unwrap();
    let out = ok(
        &cluster,
        &["create", "--dry-run=server", "-f", plain.to_str().unwrap()],
    )
    .await;
    assert!(
        out.contains("configmap/validated created (server dry run)"),
        "{out}"
    );
    let out = cluster.kubectl(&["get", "configmap", "validated"]).await;
    assert!(!out.status.success(), "a server dry run stored the object");
    let out = ok(&cluster, &["create", "-f", plain.to_str().unwrap()]).await;
    assert!(out.contains("configmap/validated created"), "{out}");
    let left = ok(&cluster, &["get", "pods", "-o", "name"]).await;
    assert_eq!(left.trim(), "");
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_prints_upstream_columns_from_tables() {
    if kubectl_missing() {
        return;
    }
    let cluster = TestCluster::start().await;
    let manifest = cluster.dir.path().join("objects.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels:\n    app: web\nspec:\n  nodeName: n1\n  containers:\n  - name: web\n    image: nginx\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: api\n  template:\n    metadata:\n      labels:\n        app: api\n    spec:\n      containers:\n      - name: api\n        image: busybox\n",
    )
    .unwrap();
    ok(&cluster, &["create", "-f", manifest.to_str().unwrap()]).await;

    let pods = ok(&cluster, &["get", "pods"]).await;
    let header: Vec<&str> = pods.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{pods}"
    );
    let row: Vec<&str> = pods.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], ["web", "0/1", "Pending", "0"], "{pods}");

    let wide = ok(&cluster, &["get", "pods", "-o", "wide"]).await;
    assert!(
        wide.lines().next().unwrap().contains("NOMINATED NODE"),
        "{wide}"
    );
    assert!(wide.lines().nth(1).unwrap().contains("n1"), "{wide}");

    let deploys = ok(&cluster, &["get", "deployments"]).await;
    let header: Vec<&str> = deploys.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{deploys}"
    );
    assert!(
        deploys.lines().nth(1).unwrap().starts_with("api"),
        "{deploys}"
    );
    let out = ok(&cluster, &["scale", "deployment", "api", "--replicas=4"]).await;
    assert!(out.contains("deployment.apps/api scaled"), "{out}");
    let d: Value =
        serde_json::from_str(&ok(&cluster, &["get", "deploy", "api", "-o", "json"]).await).unwrap();
    assert_eq!(d["spec"]["replicas"], 4);
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    let all_ns = ok(&cluster, &["get", "pods", "-A", "-l", "app=web"]).await;
    assert!(all_ns.starts_with("NAMESPACE"), "{all_ns}");

    let ns = ok(&cluster, &["get", "ns", "default"]).await;
    let header: Vec<&str> = ns.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "AGE"], "{ns}");
    assert!(ns.lines().nth(1).unwrap().contains("Active"), "{ns}");
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_watch_streams_table_rows() {
    if kubectl_missing() {
        return;
    }
    let cluster = TestCluster::start().await;
    let mut child = tokio::process::Command::new(common::KUBECTL)
        .arg("--kubeconfig")
        .arg(cluster.layout().kubeconfig("admin"))
        .arg(format!(
            "--cache-dir={}",
            cluster.dir.path().join("kube-cache").display()
        ))
        .args(["get", "configmaps", "-w", "--request-timeout=0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout);
    let c = cluster.client("admin");
    // Create until the watch prints it: kubectl may not have subscribed yet at first.
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut i = 0;
    while !seen.contains("watched-") {
        assert!(
            std::time::Instant::now() < deadline,
            "kubectl get -w printed:\n{seen}"
        );
        let body = format!(r#"{{"metadata":{{"name":"watched-{i}"}},"data":{{"a":"b"}}}}"#);
        c.must(
            http::Method::POST,
            "/api/v1/namespaces/default/configmaps",
            &body,
        )
        .await;
        i += 1;
        let mut line = String::new();
        if let Ok(Ok(_)) = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            tokio::io::AsyncBufReadExt::read_line(&mut lines, &mut line),
        )
        .await
        {
            seen.push_str(&line);
        }
    }
    let row = seen.lines().find(|l| l.starts_with("watched-")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], "1", "DATA column: {seen}");
    child.kill().await.unwrap();
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_label_and_patch() {
    if kubectl_missing() {
        return;
    }
    let cluster = TestCluster::start().await;
    let manifest = cluster.dir.path().join("cm.yaml");
    let write = |mode: &str| {
        std::fs::write(
            &manifest,
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\ndata:\n  mode: {mode}\n"
            ),
        )
        .unwrap()
    };
    let path = manifest.to_str().unwrap().to_string();
    write("fast");
    let out = ok(&cluster, &["apply", "-f", &path]).await;
    assert!(out.contains("configmap/conf created"), "{out}");
    let out = ok(&cluster, &["apply", "-f", &path]).await;
    assert!(out.contains("configmap/conf unchanged"), "{out}");
    write("slow");
    let out = ok(&cluster, &["apply", "-f", &path]).await;
    assert!(out.contains("configmap/conf configured"), "{out}");
    let cm: Value =
        serde_json::from_str(&ok(&cluster, &["get", "cm", "conf", "-o", "json"]).await).unwrap();
    assert_eq!(cm["data"]["mode"], "slow");

    let out = ok(&cluster, &["label", "cm", "conf", "tier=gold"]).await;
    assert!(out.contains("configmap/conf labeled"), "{out}");
    let out = ok(
        &cluster,
        &[
            "patch",
            "cm",
            "conf",
            "--type=merge",
            "-p",
            r#"{"data":{"extra":"1"}}"#,
        ],
    )
    .await;
    assert!(out.contains("configmap/conf patched"), "{out}");
    let out = ok(
        &cluster,
        &[
            "patch",
            "cm",
            "conf",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/data/extra"}]"#,
        ],
    )
    .await;
    assert!(out.contains("configmap/conf patched"), "{out}");
    let cm: Value =
        serde_json::from_str(&ok(&cluster, &["get", "cm", "conf", "-o", "json"]).await).unwrap();
    assert_eq!(cm["metadata"]["labels"]["tier"], "gold");
    assert_eq!(cm["data"], serde_json::json!({"mode": "slow"}));
    cluster.stop().await.unwrap();
}

/// Manifests kubectl cannot use fail with kubectl's own lines, as against
/// kube-apiserver: an unknown field under `--validate=strict` is the server's 400, a
/// kind no API serves is kubectl's mapping error (validation left on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reports_unknown_fields_and_kinds_as_upstream() {
    if kubectl_missing() {
        return;
    }
    let cluster = TestCluster::start().await;
    let write = |name: &str, text: &str| {
        let path = cluster.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let colour = write(
        "colour.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: colour\nspec:\n  containers:\n  - name: web\n    image: nginx\n    colour: blue\n",
    );
    let out = cluster
        .kubectl(&["create", "--validate=strict", "-f", &colour])
        .await;
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error from server (BadRequest): error when creating \"{colour}\": Pod in version \
             \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \
             \"spec.containers[0].colour\"\n"
        )
    );

    let widget = write(
        "widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
    );
    for verb in ["create", "apply"] {
        let out = cluster.kubectl(&[verb, "-f", &widget]).await;
        assert!(!out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "error: resource mapping not found for name: \"w\" namespace: \"\" from \
                 \"{widget}\": no matches for kind \"Widget\" in version \"example.com/v1\"\n\
                 ensure CRDs are installed first\n"
            ),
            "kubectl {verb}"
        );
    }
    cluster.stop().await.unwrap();
}

/// `kubectl get events` prints upstream's Event columns: LAST SEEN is the last
/// occurrence alone (COUNT and FIRST SEEN are wide columns).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_events_prints_upstream_columns() {
    if kubectl_missing() {
        return;
    }
    let cluster = TestCluster::start().await;
    // Half a unit past whole minutes and hours, so the ages print the same for a while.
    let ago = |seconds: i64| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        k8s_openapi::jiff::Timestamp::from_second(now - seconds)
            .unwrap()
            .to_string()
    };
    let event = serde_json::json!({
        "metadata": {"name": "web.1"}, "type": "Warning", "reason": "BackOff",
        "message": "Back-off restarting failed container", "count": 3,
        "firstTimestamp": ago(50 * 3600 + 1800), "lastTimestamp": ago(30 * 60 + 30),
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default",
                           "fieldPath": "spec.containers{web}"},
        "source": {"component": "kubelet", "host": "n1"}
    });
    let created = cluster
        .client("admin")
        .must(
            http::Method::POST,
            "/api/v1/namespaces/default/events",
            &event.to_string(),
        )
        .await;
    assert_eq!(
        created.status,
        http::StatusCode::CREATED,
        "{}",
        created.text()
    );
    let words = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect()
    };
    assert_eq!(
        words(&ok(&cluster, &["get", "events"]).await),
        words(
            "LAST SEEN   TYPE      REASON    OBJECT    MESSAGE\n\
             30m         Warning   BackOff   pod/web   Back-off restarting failed container\n"
        )
    );
    assert_eq!(
        words(&ok(&cluster, &["get", "events", "-o", "wide"]).await),
        words(
            "LAST SEEN   TYPE      REASON    OBJECT    SUBOBJECT              SOURCE        MESSAGE                                FIRST SEEN   COUNT   NAME\n\
             30m         Warning   BackOff   pod/web   spec.containers{web}   kubelet, n1   Back-off restarting failed container   2d2h         3       web.1\n"
        )
    );
    cluster.stop().await.unwrap();
}
