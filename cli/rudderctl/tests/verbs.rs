//! rudderctl's verbs end to end against the in-process fake `Api` server (real mTLS,
//! real client): exit codes, stdout and stderr compared with literal text.

mod support;

use rudder_testkit::assert_eventually;
use serde_json::{Value, json};
use support::{FakeApiServer, RunRudderctl, T0};

fn pod(name: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
           "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]},
           "status": {"phase": "Running", "podIP": "10.1.0.7",
                      "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "state": {"running": {}}}]}})
}

fn deployment(name: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}})
}

fn service(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
           "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.20", "selector": {"app": name},
                    "ports": [{"port": 80, "protocol": "TCP"}]}})
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const DEPLOY_YAML: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
";

#[tokio::test]
async fn get_prints_tables_and_says_when_nothing_is_found() {
    let server = FakeApiServer::start().await;
    assert_eq!(
        server.rudderctl(&["get", "pods"]).await,
        (
            0,
            String::new(),
            "No resources found in default namespace.\n".to_string()
        )
    );
    assert_eq!(
        server.rudderctl(&["get", "nodes"]).await,
        (0, String::new(), "No resources found.\n".to_string())
    );
    server.put(pod("web-1", "web"));
    server.put(pod("api-1", "api"));
    let (code, out, err) = server.rudderctl(&["get", "po"]).await;
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "NAME    READY   STATUS    RESTARTS   AGE\n\
         api-1   1/1     Running   0          60s\n\
         web-1   1/1     Running   0          60s\n"
    );
    let (_, out, _) = server
        .rudderctl(&[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "wide",
            "--show-labels",
        ])
        .await;
    assert_eq!(
        out,
        "NAME    READY   STATUS    RESTARTS   AGE   IP         NODE   NOMINATED NODE   READINESS GATES   LABELS\n\
         web-1   1/1     Running   0          60s   10.1.0.7   n1     <none>           <none>            app=web\n"
    );
    let (_, out, _) = server
        .rudderctl(&[
            "get",
            "pods",
            "--field-selector",
            "metadata.name=api-1",
            "-A",
        ])
        .await;
    assert_eq!(
        out,
        "NAMESPACE   NAME    READY   STATUS    RESTARTS   AGE\n\
         default     api-1   1/1     Running   0          60s\n"
    );
}

#[tokio::test]
async fn get_errors_are_kubectl_lines_with_exit_1() {
    let server = FakeApiServer::start().await;
    server.put(pod("web-1", "web"));
    let (code, out, err) = server.rudderctl(&["get", "pods", "missing", "web-1"]).await;
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "Error from server (NotFound): pods \"missing\" not found\n"
    );
    assert!(out.contains("web-1   1/1"), "{out}");
    assert_eq!(
        server.rudderctl(&["get", "widgets"]).await,
        (
            1,
            String::new(),
            "error: the server doesn't have a resource type \"widgets\"\n".to_string()
        )
    );
    assert_eq!(
        server.rudderctl(&["get", "pods", "--bogus"]).await,
        (
            1,
            String::new(),
            "error: unknown flag: --bogus\nSee 'rudderctl get --help' for usage.\n".to_string()
        )
    );
    let (code, _, err) = server
        .rudderctl(&["get", "pods", "--field-selector", "spec.bogus=1"])
        .await;
    assert_eq!(code, 1);
    assert!(err.starts_with("Error from server (BadRequest): "), "{err}");
    assert_eq!(
        server
            .rudderctl(&["get", "pods", "missing", "--ignore-not-found"])
            .await,
        (0, String::new(), String::new())
    );
}

#[tokio::test]
async fn get_several_kinds_and_output_formats() {
    let server = FakeApiServer::start().await;
    server.put(deployment("web", 2));
    let mut svc = service("web");
    svc["metadata"]["managedFields"] = json!([{"manager": "kubectl-create"}]);
    server.put(svc);
    let (code, out, _) = server.rudderctl(&["get", "deploy,svc"]).await;
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "NAME                  READY   UP-TO-DATE   AVAILABLE   AGE\n\
         deployment.apps/web   0/2     0            0           60s\n\
         \n\
         NAME          TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE\n\
         service/web   ClusterIP   10.96.0.20   <none>        80/TCP    60s\n"
    );
    let (_, out, _) = server.rudderctl(&["get", "deploy,svc", "-o", "name"]).await;
    assert_eq!(out, "deployment.apps/web\nservice/web\n");
    let (_, out, _) = server
        .rudderctl(&[
            "get",
            "deploy/web",
            "-o",
            "jsonpath={.spec.replicas} {.metadata.name}",
        ])
        .await;
    assert_eq!(out, "2 web");
    let (_, out, _) = server
        .rudderctl(&[
            "get",
            "deploy,svc",
            "-o",
            r#"jsonpath={range .items[*]}{.kind}/{.metadata.name}{"\n"}{end}"#,
        ])
        .await;
    assert_eq!(out, "Deployment/web\nService/web\n");
    let (_, out, _) = server
        .rudderctl(&[
            "get",
            "deployments",
            "-o",
            "custom-columns=NAME:.metadata.name,IMAGE:.spec.template.spec.containers[*].image",
        ])
        .await;
    assert_eq!(out, "NAME   IMAGE\nweb    nginx:1.25\n");
    let (_, out, _) = server.rudderctl(&["get", "svc", "web", "-o", "yaml"]).await;
    assert!(
        out.starts_with("apiVersion: v1\nkind: Service\nmetadata:\n  creationTimestamp: \"2024-01-01T00:00:00Z\"\n  name: web\n"),
        "{out}"
    );
    let (_, out, _) = server
        .rudderctl(&["get", "svc", "web", "-o", "yaml", "--show-managed-fields"])
        .await;
    assert!(
        out.contains("  managedFields:\n  - manager: kubectl-create\n"),
        "{out}"
    );
    let (_, out, _) = server.rudderctl(&["get", "svc", "-o", "json"]).await;
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["kind"], "Service");
    assert!(
        out.contains("\n    \"items\": [\n"),
        "four-space indent: {out}"
    );
}

#[tokio::test]
async fn get_watch_streams_rows() {
    let server = std::sync::Arc::new(FakeApiServer::start().await);
    server.put(pod("web-1", "web"));
    let (mut io, out, _err) = rudderctl::Io::captured("", T0 + 60);
    let kubeconfig = server.kubeconfig.display().to_string();
    let task = tokio::spawn(async move {
        rudderctl::main_with(
            [
                "rudderctl",
                "--kubeconfig",
                &kubeconfig,
                "get",
                "pods",
                "-w",
            ],
            &mut io,
        )
        .await
    });
    assert_eventually!(out.text().contains("web-1"));
    server.put(pod("web-2", "web"));
    assert_eventually!(out.text().contains("web-2"));
    task.abort();
    assert_eq!(
        out.text(),
        "NAME    READY   STATUS    RESTARTS   AGE\n\
         web-1   1/1     Running   0          60s\n\
         web-2   1/1     Running   0          60s\n"
    );
}

#[tokio::test]
async fn create_from_files_and_stdin() {
    let server = FakeApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "web.yaml", DEPLOY_YAML);
    assert_eq!(
        server.rudderctl(&["create", "-f", &file]).await,
        (
            0,
            "deployment.apps/web created\nservice/web created\n".to_string(),
            String::new()
        )
    );
    let (code, out, err) = server.rudderctl(&["create", "-f", &file]).await;
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        format!(
            "Error from server (AlreadyExists): error when creating \"{file}\": deployments.apps \"web\" already exists\n\
             Error from server (AlreadyExists): error when creating \"{file}\": services \"web\" already exists\n"
        )
    );
    let cm = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}}"#;
    assert_eq!(
        server.rudderctl_at(&["create", "-f", "-", "--dry-run=client", "-o", "yaml"], cm, T0).await,
        (0, "apiVersion: v1\ndata:\n  a: \"1\"\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: default\n".to_string(), String::new())
    );
    assert_eq!(
        server.rudderctl_at(&["create", "-f", "-"], cm, T0).await,
        (0, "configmap/cfg created\n".to_string(), String::new())
    );
    assert_eq!(
        server.rudderctl(&["create", "-f", "nope.yaml"]).await,
        (
            1,
            String::new(),
            "error: the path \"nope.yaml\" does not exist\n".to_string()
        )
    );
    let pinned = write(
        dir.path(),
        "pinned.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p\n  namespace: a\n",
    );
    assert_eq!(
        server.rudderctl(&["create", "-f", &pinned, "-n", "b"]).await,
        (1, String::new(), "error: the namespace from the provided object \"a\" does not match the namespace \"b\". You must pass '--namespace=a' to perform this operation.\n".to_string())
    );
}

#[tokio::test]
async fn apply_creates_then_is_unchanged_then_configures() {
    let server = FakeApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "web.yaml", DEPLOY_YAML);
    assert_eq!(
        server
            .rudderctl(&["apply", "-f", &file, "--dry-run=client"])
            .await,
        (
            0,
            "deployment.apps/web created (dry run)\nservice/web created (dry run)\n".to_string(),
            String::new()
        )
    );
    assert!(server.object("deployments", "default", "web").is_none());
    assert_eq!(
        server
            .rudderctl(&["apply", "-f", &file, "--dry-run=later"])
            .await,
        (
            1,
            String::new(),
            "error: Invalid dry-run value (later). Must be \"none\", \"server\", or \"client\".\n"
                .to_string()
        )
    );
    assert_eq!(
        server.rudderctl(&["apply", "-f", &file]).await,
        (
            0,
            "deployment.apps/web created\nservice/web created\n".to_string(),
            String::new()
        )
    );
    let stored = server.object("deployments", "default", "web").unwrap();
    let last =
        stored["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap();
    assert!(
        last.starts_with("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\"")
            && last.ends_with("}\n"),
        "{last}"
    );
    assert_eq!(
        server.rudderctl(&["apply", "-f", &file]).await,
        (
            0,
            "deployment.apps/web unchanged\nservice/web unchanged\n".to_string(),
            String::new()
        )
    );
    assert!(server.patches().is_empty());
    let changed = DEPLOY_YAML
        .replace("replicas: 2", "replicas: 5")
        .replace("image: nginx:1.25", "image: nginx:1.27");
    write(dir.path(), "web.yaml", &changed);
    assert_eq!(
        server
            .rudderctl(&["apply", "-f", dir.path().to_str().unwrap()])
            .await,
        (
            0,
            "deployment.apps/web configured\nservice/web unchanged\n".to_string(),
            String::new()
        )
    );
    let patches = server.patches();
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0].0, "application/strategic-merge-patch+json");
    assert_eq!(patches[0].1["spec"]["replicas"], 5);
    assert_eq!(
        patches[0].1["spec"]["template"]["spec"]["$setElementOrder/containers"],
        json!([{"name": "nginx"}])
    );
    let stored = server.object("deployments", "default", "web").unwrap();
    assert_eq!(
        stored["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    assert_eq!(stored["spec"]["replicas"], 5);
}

#[tokio::test]
async fn delete_by_name_selector_all_and_file() {
    let server = FakeApiServer::start().await;
    for (name, app) in [("a", "web"), ("b", "web"), ("c", "db")] {
        server.put(pod(name, app));
    }
    assert_eq!(
        server
            .rudderctl(&[
                "delete",
                "pod",
                "a",
                "--cascade=foreground",
                "--grace-period=0"
            ])
            .await,
        (0, "pod \"a\" deleted\n".to_string(), String::new())
    );
    assert_eq!(
        server.delete_options()[0],
        json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0, "propagationPolicy": "Foreground"})
    );
    assert_eq!(
        server.rudderctl(&["delete", "pods", "-l", "app=web"]).await,
        (0, "pod \"b\" deleted\n".to_string(), String::new())
    );
    assert_eq!(
        server.rudderctl(&["delete", "pod", "nope"]).await,
        (
            1,
            String::new(),
            "Error from server (NotFound): pods \"nope\" not found\n".to_string()
        )
    );
    assert_eq!(
        server.rudderctl(&["delete", "pods", "--all"]).await,
        (0, "pod \"c\" deleted\n".to_string(), String::new())
    );
    assert_eq!(
        server.rudderctl(&["delete", "pods", "--all"]).await,
        (0, "No resources found\n".to_string(), String::new())
    );
    assert_eq!(server.rudderctl(&["delete", "pods"]).await.0, 1);
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "web.yaml", DEPLOY_YAML);
    server.rudderctl(&["create", "-f", &file]).await;
    assert_eq!(
        server
            .rudderctl(&["delete", "-f", &file, "--cascade=orphan"])
            .await,
        (
            0,
            "deployment.apps \"web\" deleted\nservice \"web\" deleted\n".to_string(),
            String::new()
        )
    );
    assert_eq!(
        server.delete_options().last().unwrap()["propagationPolicy"],
        "Orphan"
    );
}

#[tokio::test]
async fn delete_waits_until_the_object_is_gone() {
    let server = std::sync::Arc::new(FakeApiServer::start().await);
    server.put(pod("slow", "web"));
    server.hold_deletes(true);
    assert_eq!(
        server
            .rudderctl(&["delete", "pod", "slow", "--timeout=300ms"])
            .await,
        (
            1,
            "pod \"slow\" deleted\n".to_string(),
            "error: timed out waiting for the condition on pods/slow\n".to_string()
        )
    );
    let finalizer = std::sync::Arc::clone(&server);
    let remover = tokio::spawn(async move {
        assert_eventually!(finalizer.delete_options().len() >= 2);
        finalizer.remove("pods", "default", "slow");
    });
    assert_eq!(
        server
            .rudderctl(&["delete", "pod", "slow", "--timeout=30s"])
            .await,
        (0, "pod \"slow\" deleted\n".to_string(), String::new())
    );
    remover.await.unwrap();
}

#[tokio::test]
async fn scale_label_and_annotate() {
    let server = FakeApiServer::start().await;
    server.put(deployment("web", 2));
    server.put(pod("p", "web"));
    assert_eq!(
        server
            .rudderctl(&["scale", "deploy/web", "--replicas=4"])
            .await,
        (0, "deployment.apps/web scaled\n".to_string(), String::new())
    );
    assert_eq!(
        server.object("deployments", "default", "web").unwrap()["spec"]["replicas"],
        4
    );
    assert_eq!(
        server
            .rudderctl(&[
                "scale",
                "deployment",
                "web",
                "--replicas=1",
                "--current-replicas=3"
            ])
            .await,
        (
            1,
            String::new(),
            "error: Expected replicas to be 3, was 4\n".to_string()
        )
    );
    assert_eq!(
        server
            .rudderctl(&["scale", "pod", "p", "--replicas=2"])
            .await
            .0,
        1
    );

    assert_eq!(
        server
            .rudderctl(&["label", "pods", "p", "tier=front"])
            .await,
        (0, "pod/p labeled\n".to_string(), String::new())
    );
    assert_eq!(
        server.rudderctl(&["label", "pod/p", "app=api"]).await,
        (
            1,
            String::new(),
            "error: 'app' already has a value (web), and --overwrite is false\n".to_string()
        )
    );
    assert_eq!(
        server
            .rudderctl(&["label", "pod/p", "app=api", "--overwrite"])
            .await,
        (0, "pod/p labeled\n".to_string(), String::new())
    );
    assert_eq!(
        server.rudderctl(&["label", "pod/p", "tier-"]).await,
        (0, "pod/p unlabeled\n".to_string(), String::new())
    );
    assert_eq!(
        server.object("pods", "default", "p").unwrap()["metadata"]["labels"],
        json!({"app": "api"})
    );
    assert_eq!(
        server
            .rudderctl(&["annotate", "deploy", "web", "owner=team-a"])
            .await,
        (
            0,
            "deployment.apps/web annotated\n".to_string(),
            String::new()
        )
    );
    assert_eq!(
        server.object("deployments", "default", "web").unwrap()["metadata"]["annotations"],
        json!({"owner": "team-a"})
    );
}

#[tokio::test]
async fn describe_shows_the_page_and_the_objects_events() {
    let server = FakeApiServer::start().await;
    let stored = server.put(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "default"}, "data": {"k": "v"}}));
    let uid = stored["metadata"]["uid"].as_str().unwrap().to_string();
    server.put(json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "cfg.1", "namespace": "default"},
        "involvedObject": {"kind": "ConfigMap", "name": "cfg", "namespace": "default", "uid": uid},
        "type": "Normal", "reason": "Synced", "message": "configuration synced", "count": 1,
        "source": {"component": "sync-controller"}, "lastTimestamp": "2024-01-01T00:00:30Z"}));
    server.put(json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "other.1", "namespace": "default"},
        "involvedObject": {"kind": "ConfigMap", "name": "other", "namespace": "default"},
        "type": "Warning", "reason": "Nope", "message": "not this one"}));
    let (code, out, err) = server.rudderctl(&["describe", "cm", "cfg"]).await;
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "Name:         cfg\n\
         Namespace:    default\n\
         Labels:       <none>\n\
         Annotations:  <none>\n\
         \n\
         Data\n\
         ====\n\
         k:\n\
         ----\n\
         v\n\
         \n\
         \n\
         BinaryData\n\
         ====\n\
         \n\
         Events:\n\
         \x20 Type    Reason  Age   From             Message\n\
         \x20 ----    ------  ----  ----             -------\n\
         \x20 Normal  Synced  30s   sync-controller  configuration synced\n"
    );
    assert_eq!(
        server.rudderctl(&["describe", "pods", "nope"]).await,
        (
            1,
            String::new(),
            "Error from server (NotFound): pods \"nope\" not found\n".to_string()
        )
    );
}

#[tokio::test]
async fn config_and_local_commands() {
    let server = FakeApiServer::start().await;
    let (code, current, _) = server.rudderctl(&["config", "current-context"]).await;
    assert_eq!(code, 0);
    let current = current.trim().to_string();
    let (_, out, _) = server.rudderctl(&["config", "view"]).await;
    assert!(
        out.contains("certificate-authority-data: DATA+OMITTED"),
        "{out}"
    );
    assert!(out.contains("token: REDACTED"), "{out}");
    assert!(
        out.contains(&format!("current-context: {current}")),
        "{out}"
    );
    let (_, out, _) = server
        .rudderctl(&["config", "get-contexts", "-o", "name"])
        .await;
    assert_eq!(out, format!("{current}\n"));
    assert_eq!(
        server.rudderctl(&["config", "use-context", "nope"]).await,
        (
            1,
            String::new(),
            "error: no context exists with the name: \"nope\"\n".to_string()
        )
    );
    assert_eq!(
        server.rudderctl(&["config", "use-context", &current]).await,
        (
            0,
            format!("Switched to context \"{current}\".\n"),
            String::new()
        )
    );
    assert_eq!(
        server
            .rudderctl(&["config", "set-context", "--current", "--namespace=team"])
            .await,
        (
            0,
            format!("Context \"{current}\" modified.\n"),
            String::new()
        )
    );
    server.put(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "in-team", "namespace": "team"}}));
    let (_, out, _) = server.rudderctl(&["get", "cm", "-o", "name"]).await;
    assert_eq!(out, "configmap/in-team\n");
    let (_, out, _) = server
        .rudderctl(&["api-resources", "--api-group=apps"])
        .await;
    assert_eq!(
        out,
        "NAME          SHORTNAMES   APIVERSION   NAMESPACED   KIND\n\
         deployments   deploy       apps/v1      true         Deployment\n\
         replicasets   rs           apps/v1      true         ReplicaSet\n"
    );
    assert_eq!(
        server.rudderctl(&["version", "--client"]).await,
        (0, "Client Version: v0.1.0\n".to_string(), String::new())
    );
}

#[tokio::test]
async fn an_unreachable_server_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("gone.conf");
    {
        let server = FakeApiServer::start().await;
        std::fs::copy(&server.kubeconfig, &kubeconfig).unwrap();
    }
    let (mut io, out, err) = rudderctl::Io::captured("", T0);
    let code = rudderctl::main_with(
        [
            "rudderctl",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "get",
            "pods",
            "--request-timeout=2s",
        ],
        &mut io,
    )
    .await;
    assert_eq!((code, out.text()), (1, String::new()));
    let err = err.text();
    assert!(
        err.starts_with("error: ") && err.lines().count() == 1,
        "{err}"
    );
    let (mut io, _, err) = rudderctl::Io::captured("", T0);
    let code = rudderctl::main_with(
        ["rudderctl", "--kubeconfig", "/nonexistent", "get", "pods"],
        &mut io,
    )
    .await;
    assert_eq!(code, 1);
    assert!(
        err.text().starts_with("error: kubeconfig: "),
        "{}",
        err.text()
    );
}

fn rollout_deployment(updated: i64, available: i64) -> Value {
    let mut d = deployment("web", 3);
    d["metadata"]["uid"] = json!("d1");
    d["metadata"]["generation"] = json!(2);
    d["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "2"});
    d["status"] = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": updated, "availableReplicas": available});
    d
}

#[tokio::test]
async fn rollout_status_follows_the_deployment_until_done() {
    let server = std::sync::Arc::new(FakeApiServer::start().await);
    server.put(rollout_deployment(1, 1));
    let (mut io, out, err) = rudderctl::Io::captured("", T0);
    let kubeconfig = server.kubeconfig.display().to_string();
    let task = tokio::spawn(async move {
        rudderctl::main_with(
            [
                "rudderctl",
                "--kubeconfig",
                &kubeconfig,
                "rollout",
                "status",
                "deployment/web",
            ],
            &mut io,
        )
        .await
    });
    assert_eventually!(out.text().contains("1 out of 3"));
    server.put(rollout_deployment(3, 2));
    assert_eventually!(out.text().contains("2 of 3 updated"));
    server.put(rollout_deployment(3, 3));
    assert_eq!(task.await.unwrap(), 0, "{}", err.text());
    assert_eq!(
        out.text(),
        "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated...\n\
         Waiting for deployment \"web\" rollout to finish: 2 of 3 updated replicas are available...\n\
         deployment \"web\" successfully rolled out\n"
    );
    let mut stuck = rollout_deployment(1, 1);
    stuck["status"]["conditions"] =
        json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]);
    server.put(stuck);
    assert_eq!(
        server
            .rudderctl(&["rollout", "status", "deploy", "web"])
            .await,
        (
            1,
            String::new(),
            "error: deployment \"web\" exceeded its progress deadline\n".to_string()
        )
    );
    let (code, out, _) = server
        .rudderctl(&["rollout", "status", "deploy/web", "--watch=false"])
        .await;
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(server.rudderctl(&["rollout", "status", "pod/x"]).await.0, 1);
}

#[tokio::test]
async fn rollout_history_undo_restart_pause_resume() {
    let server = FakeApiServer::start().await;
    let mut d = rollout_deployment(3, 3);
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    server.put(d);
    for (name, revision, image) in [("web-a", "1", "nginx:1"), ("web-b", "2", "nginx:2")] {
        server.put(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "default",
                         "annotations": {"deployment.kubernetes.io/revision": revision},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1", "controller": true}]},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": name}},
                                  "spec": {"containers": [{"name": "nginx", "image": image}]}}}}));
    }
    assert_eq!(
        server
            .rudderctl(&["rollout", "history", "deploy/web"])
            .await,
        (
            0,
            "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
                .to_string(),
            String::new()
        )
    );
    assert_eq!(
        server
            .rudderctl(&["rollout", "undo", "deploy/web", "--to-revision=2"])
            .await,
        (
            0,
            "deployment.apps/web skipped rollback (current template already matches revision 2)\n"
                .to_string(),
            String::new()
        )
    );
    assert_eq!(
        server.rudderctl(&["rollout", "undo", "deploy/web"]).await,
        (
            0,
            "deployment.apps/web rolled back\n".to_string(),
            String::new()
        )
    );
    let stored = server.object("deployments", "default", "web").unwrap();
    assert_eq!(
        stored["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1"
    );
    assert_eq!(
        stored["spec"]["template"]["metadata"]["labels"],
        json!({"app": "web"})
    );
    assert_eq!(
        server.patches().last().unwrap().0,
        "application/json-patch+json"
    );
    assert_eq!(
        server
            .rudderctl(&["rollout", "restart", "deploy/web"])
            .await,
        (
            0,
            "deployment.apps/web restarted\n".to_string(),
            String::new()
        )
    );
    let stored = server.object("deployments", "default", "web").unwrap();
    assert_eq!(
        stored["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
        "2024-01-01T00:01:00Z"
    );
    assert_eq!(
        server.rudderctl(&["rollout", "pause", "deploy/web"]).await,
        (0, "deployment.apps/web paused\n".to_string(), String::new())
    );
    assert_eq!(
        server.rudderctl(&["rollout", "pause", "deploy/web"]).await,
        (
            1,
            String::new(),
            "error: deployments.apps \"web\" is already paused\n".to_string()
        )
    );
    assert_eq!(
        server.rudderctl(&["rollout", "undo", "deploy/web"]).await.0,
        1
    );
    assert_eq!(
        server.rudderctl(&["rollout", "resume", "deploy/web"]).await,
        (
            0,
            "deployment.apps/web resumed\n".to_string(),
            String::new()
        )
    );
}

#[tokio::test]
async fn edit_patches_what_the_editor_changed() {
    let server = FakeApiServer::start().await;
    server.put(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"}, "data": {"a": "1"}}));
    let edit = |editor: &str| {
        let editor = editor.to_string();
        let kubeconfig = server.kubeconfig.display().to_string();
        async move {
            let (mut io, out, err) = rudderctl::Io::captured("", T0);
            io.editor = editor;
            let code = rudderctl::main_with(
                [
                    "rudderctl",
                    "--kubeconfig",
                    &kubeconfig,
                    "edit",
                    "cm",
                    "cfg",
                ],
                &mut io,
            )
            .await;
            (code, out.text(), err.text())
        }
    };
    assert_eq!(
        edit("true").await,
        (
            0,
            String::new(),
            "Edit cancelled, no changes made.\n".to_string()
        )
    );
    assert_eq!(
        edit("sed -i 's/a: \"1\"/a: \"2\"/'").await,
        (0, "configmap/cfg edited\n".to_string(), String::new())
    );
    assert_eq!(
        server.object("configmaps", "default", "cfg").unwrap()["data"]["a"],
        "2"
    );
    assert_eq!(
        server.patches().last().unwrap(),
        &(
            "application/strategic-merge-patch+json".to_string(),
            json!({"data": {"a": "2"}})
        )
    );
    let (code, _, err) = edit("false").await;
    assert_eq!(
        (code, err.as_str()),
        (1, "error: there was a problem with the editor \"false\"\n")
    );
}

/// The README's walk-through on the repository's examples/: apply, get, scale, delete.
#[tokio::test]
async fn the_examples_apply_get_scale_and_delete() {
    let server = FakeApiServer::start().await;
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    assert_eq!(
        server.rudderctl(&["apply", "-f", examples]).await,
        (
            0,
            "namespace/demo created\nconfigmap/web-config created\ndeployment.apps/web created\nservice/web created\n".to_string(),
            String::new()
        )
    );
    let (_, out, _) = server
        .rudderctl(&["get", "deploy,svc,cm", "-n", "demo", "-o", "name"])
        .await;
    assert_eq!(
        out,
        "deployment.apps/web\nservice/web\nconfigmap/web-config\n"
    );
    assert_eq!(
        server
            .rudderctl(&["scale", "-n", "demo", "deployment", "web", "--replicas=5"])
            .await,
        (0, "deployment.apps/web scaled\n".to_string(), String::new())
    );
    let (_, out, _) = server
        .rudderctl(&["get", "ns", "demo", "--show-labels"])
        .await;
    assert_eq!(
        out,
        "NAME   STATUS   AGE   LABELS\ndemo            60s   team=platform\n"
    );
    assert_eq!(
        server.rudderctl(&["delete", "-f", examples]).await,
        (
            0,
            "namespace \"demo\" deleted\nconfigmap \"web-config\" deleted\ndeployment.apps \"web\" deleted\nservice \"web\" deleted\n".to_string(),
            String::new()
        )
    );
}

#[tokio::test]
async fn create_namespace_from_arguments() {
    let server = FakeApiServer::start().await;
    assert_eq!(
        server.rudderctl(&["create", "namespace", "team-a"]).await,
        (0, "namespace/team-a created\n".to_string(), String::new())
    );
    assert!(server.object("namespaces", "", "team-a").is_some());
    assert_eq!(
        server
            .rudderctl(&["create", "ns", "team-b", "--dry-run=client"])
            .await,
        (
            0,
            "namespace/team-b created (dry run)\n".to_string(),
            String::new()
        )
    );
    assert!(server.object("namespaces", "", "team-b").is_none());
    let (code, out, err) = server.rudderctl(&["create", "namespace", "team-a"]).await;
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "Error from server (AlreadyExists): namespaces \"team-a\" already exists\n"
    );
}
