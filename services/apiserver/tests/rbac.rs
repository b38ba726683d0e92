//! RBAC against a running API server (`--authorization-mode=Node,RBAC`): the
//! bootstrap policy, denials worded as kube-apiserver's, bindings taking effect
//! from the watch cache, and every component identity limited to its job.

mod common;

use std::time::Duration;

use common::TestCluster;
use http::{Method, StatusCode};
use rudder_pki::Validity;
use serde_json::{Value, json};

/// The user name each matrix identity authenticates as.
fn user_of(who: &str) -> &'static str {
    match who {
        "admin" => "admin",
        "scheduler" => "system:kube-scheduler",
        "controller-manager" => "system:kube-controller-manager",
        "proxy" => "system:kube-proxy",
        "viewer" => "viewer",
        "bot" => "system:serviceaccount:default:bot",
        other => panic!("unknown identity {other}"),
    }
}

/// A service account `bot` in default bound to `edit` there, its token, and a
/// kubeconfig `bot.conf` that presents the token (no certificate).
async fn service_account_with_kubeconfig(cluster: &TestCluster) -> String {
    let admin = cluster.client("admin");
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}});
    let r = admin
        .must(
            Method::POST,
            "/api/v1/namespaces/default/serviceaccounts",
            &sa.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "bot-edit", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "default"}]
    });
    let r = admin
        .must(
            Method::POST,
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
            &binding.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = admin
        .must(
            Method::POST,
            "/api/v1/namespaces/default/serviceaccounts/bot/token",
            "{}",
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let token = r.json()["status"]["token"].as_str().unwrap().to_string();
    cluster.token_kubeconfig("bot", &token);
    token
}

#[tokio::test]
async fn bootstrap_policy_and_denials() {
    let cluster = TestCluster::start_secured().await;
    let admin = cluster.client("admin");
    assert_eventually!(
        admin
            .get("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:basic-user")
            .await
            .is_ok_and(|r| r.status == StatusCode::OK),
        Duration::from_secs(20),
        "bootstrap bindings never appeared"
    );
    let view = admin
        .get("/apis/rbac.authorization.k8s.io/v1/clusterroles/view")
        .await
        .unwrap()
        .json();
    assert_eq!(
        view["metadata"]["labels"]["kubernetes.io/bootstrapping"],
        "rbac-defaults"
    );

    let bob = cluster.add_user("bob", "bob", &[], Validity::days(1));
    // Discovery and version: any authenticated user.
    for path in ["/version", "/api", "/apis", "/api/v1", "/healthz"] {
        assert_eventually!(
            bob.get(path)
                .await
                .is_ok_and(|r| r.status == StatusCode::OK),
            Duration::from_secs(10),
            "bob cannot GET {path}"
        );
    }
    let r = bob.get("/api/v1/namespaces/default/pods").await.unwrap();
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let s = r.json();
    assert_eq!(s["kind"], "Status");
    assert_eq!(s["reason"], "Forbidden");
    assert_eq!(
        s["message"],
        "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
    );
    let r = bob.get("/api/v1/nodes/n1").await.unwrap();
    assert_eq!(
        r.json()["message"],
        "nodes \"n1\" is forbidden: User \"bob\" cannot get resource \"nodes\" in API group \"\" at the cluster scope"
    );

    // A RoleBinding to view in default takes effect without a restart.
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "bob-view", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]
    });
    let r = admin
        .must(
            Method::POST,
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
            &binding.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eventually!(
        bob.get("/api/v1/namespaces/default/pods")
            .await
            .is_ok_and(|r| r.status == StatusCode::OK),
        Duration::from_secs(10),
        "the binding never took effect"
    );
    // view reads, but neither writes nor reads secrets, nor other namespaces.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    let r = bob
        .must(
            Method::POST,
            "/api/v1/namespaces/default/configmaps",
            &cm.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.json()["message"],
        "configmaps is forbidden: User \"bob\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"default\""
    );
    let r = bob.get("/api/v1/namespaces/default/secrets").await.unwrap();
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = bob
        .get("/api/v1/namespaces/kube-system/pods")
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Deleting the binding takes the access away again.
    let r = admin
        .must(
            Method::DELETE,
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/bob-view",
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eventually!(
        bob.get("/api/v1/namespaces/default/pods")
            .await
            .is_ok_and(|r| r.status == StatusCode::FORBIDDEN),
        Duration::from_secs(10),
        "the deleted binding still grants access"
    );
}

/// One row of the matrix: who, what `kubectl auth can-i` is asked, the request
/// that really tries it, and whether it is allowed.
struct Case {
    who: &'static str,
    can_i: &'static [&'static str],
    method: Method,
    path: &'static str,
    body: &'static str,
    allowed: bool,
}

const fn case(
    who: &'static str,
    can_i: &'static [&'static str],
    method: Method,
    path: &'static str,
    body: &'static str,
    allowed: bool,
) -> Case {
    Case {
        who,
        can_i,
        method,
        path,
        body,
        allowed,
    }
}

const CM: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"matrix"}}"#;
const SECRET: &str = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"matrix"}}"#;
const RS: &str = r#"{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"matrix"}}"#;
const CR: &str = r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"matrix"}}"#;

fn matrix() -> Vec<Case> {
    use Method as M;
    vec![
        case(
            "admin",
            &["create", "secrets", "-n", "default"],
            M::POST,
            "/api/v1/namespaces/default/secrets",
            SECRET,
            true,
        ),
        case(
            "admin",
            &["delete", "nodes/nope"],
            M::DELETE,
            "/api/v1/nodes/nope",
            "",
            true,
        ),
        case(
            "scheduler",
            &["list", "pods", "-A"],
            M::GET,
            "/api/v1/pods",
            "",
            true,
        ),
        case(
            "scheduler",
            &["list", "nodes"],
            M::GET,
            "/api/v1/nodes",
            "",
            true,
        ),
        case(
            "scheduler",
            &["delete", "pods/nope", "-n", "default"],
            M::DELETE,
            "/api/v1/namespaces/default/pods/nope",
            "",
            true,
        ),
        case(
            "scheduler",
            &["get", "secrets/nope", "-n", "default"],
            M::GET,
            "/api/v1/namespaces/default/secrets/nope",
            "",
            false,
        ),
        case(
            "scheduler",
            &["create", "configmaps", "-n", "default"],
            M::POST,
            "/api/v1/namespaces/default/configmaps",
            CM,
            false,
        ),
        case(
            "scheduler",
            &["update", "pods/nope", "-n", "default"],
            M::PUT,
            "/api/v1/namespaces/default/pods/nope",
            "{}",
            false,
        ),
        case(
            "controller-manager",
            &["create", "replicasets.apps", "-n", "default"],
            M::POST,
            "/apis/apps/v1/namespaces/default/replicasets",
            RS,
            true,
        ),
        case(
            "controller-manager",
            &[
                "update",
                "deployments.apps/nope",
                "--subresource=status",
                "-n",
                "default",
            ],
            M::PUT,
            "/apis/apps/v1/namespaces/default/deployments/nope/status",
            "{}",
            true,
        ),
        case(
            "controller-manager",
            &["create", "clusterroles"],
            M::POST,
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            CR,
            false,
        ),
        case(
            "proxy",
            &["list", "endpoints", "-A"],
            M::GET,
            "/api/v1/endpoints",
            "",
            true,
        ),
        case(
            "proxy",
            &["list", "services", "-A"],
            M::GET,
            "/api/v1/services",
            "",
            true,
        ),
        case(
            "proxy",
            &["get", "secrets/nope", "-n", "default"],
            M::GET,
            "/api/v1/namespaces/default/secrets/nope",
            "",
            false,
        ),
        case(
            "proxy",
            &["delete", "pods/nope", "-n", "default"],
            M::DELETE,
            "/api/v1/namespaces/default/pods/nope",
            "",
            false,
        ),
        case(
            "viewer",
            &["list", "pods", "-n", "default"],
            M::GET,
            "/api/v1/namespaces/default/pods",
            "",
            true,
        ),
        case(
            "viewer",
            &["get", "deployments.apps/nope", "-n", "default"],
            M::GET,
            "/apis/apps/v1/namespaces/default/deployments/nope",
            "",
            true,
        ),
        case(
            "viewer",
            &["get", "secrets/nope", "-n", "default"],
            M::GET,
            "/api/v1/namespaces/default/secrets/nope",
            "",
            false,
        ),
        case(
            "viewer",
            &["create", "configmaps", "-n", "default"],
            M::POST,
            "/api/v1/namespaces/default/configmaps",
            CM,
            false,
        ),
        case(
            "viewer",
            &["delete", "pods/nope", "-n", "default"],
            M::DELETE,
            "/api/v1/namespaces/default/pods/nope",
            "",
            false,
        ),
    ]
}

#[tokio::test]
async fn matrix_of_identities_asked_and_tried() {
    let cluster = TestCluster::start_secured().await;
    let admin = cluster.client("admin");
    cluster.add_user("viewer", "viewer", &[], Validity::days(1));
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "viewer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"}]
    });
    let r = admin
        .must(
            Method::POST,
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            &binding.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let token = service_account_with_kubeconfig(&cluster).await;
    let bearer = format!("Bearer {token}");
    let viewer = cluster.client("viewer");
    let scheduler = cluster.client("scheduler");
    assert_eventually!(
        viewer
            .get("/api/v1/namespaces/default/pods")
            .await
            .is_ok_and(|r| r.status == StatusCode::OK)
            && scheduler
                .get("/api/v1/nodes")
                .await
                .is_ok_and(|r| r.status == StatusCode::OK),
        Duration::from_secs(20),
        "bindings never took effect"
    );
    let mut failures = Vec::new();
    for c in matrix() {
        let out = cluster
            .kubectl_as(c.who, &[&["auth", "can-i"][..], c.can_i].concat())
            .await;
        let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let asked = answer == "yes";
        if asked != c.allowed || !(answer == "yes" || answer == "no") {
            failures.push(format!(
                "ASKED {} can-i {:?}: {answer:?} {}",
                c.who,
                c.can_i,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let (client, auth) = if c.who == "bot" {
            (
                cluster.client_without_certificate(),
                Some(("authorization", bearer.as_str())),
            )
        } else {
            (cluster.client(c.who), None)
        };
        let headers: Vec<(&str, &str)> = [("content-type", "application/json")]
            .into_iter()
            .chain(auth)
            .collect();
        let reply = client
            .request(c.method.clone(), c.path, &headers, c.body.to_string())
            .await
            .unwrap();
        let tried =
            reply.status != StatusCode::FORBIDDEN && reply.status != StatusCode::UNAUTHORIZED;
        if tried != c.allowed {
            failures.push(format!(
                "TRIED {} {} {}: {} {}",
                c.who,
                c.method,
                c.path,
                reply.status,
                reply.text()
            ));
        }
        if !c.allowed {
            assert_eq!(reply.json()["reason"], "Forbidden", "{} {}", c.who, c.path);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Every try left an audit line naming its user, with the code it got (the
    // writer is a task of its own: wait for it).
    let audit_path = cluster.dir.path().join("audit.log");
    let missing = || {
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&audit_path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        matrix()
            .into_iter()
            .filter(|c| {
                !lines.iter().any(|l| {
                    l["requestUri"] == c.path
                        && l["user"] == user_of(c.who)
                        && (l["code"] == 403) != c.allowed
                })
            })
            .map(|c| format!("{} {} {}", c.who, c.method, c.path))
            .collect::<Vec<_>>()
    };
    assert_eventually!(
        missing().is_empty(),
        Duration::from_secs(5),
        "no audit line for {:?}",
        missing()
    );
    let audit = std::fs::read_to_string(&audit_path).unwrap();
    assert!(!audit.contains(&token), "a token reached the audit log");

    // --list (SelfSubjectRulesReview) and --as (impersonation) through kubectl.
    let out = cluster
        .kubectl_as("proxy", &["auth", "can-i", "--list", "-n", "default"])
        .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("endpoints") && text.contains("services"),
        "{text}"
    );
    assert!(!text.contains("secrets"), "{text}");
    let out = cluster
        .kubectl(&[
            "auth", "can-i", "get", "secrets", "-n", "default", "--as", "viewer",
        ])
        .await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no");
    let out = cluster
        .kubectl(&[
            "auth", "can-i", "get", "pods", "-n", "default", "--as", "viewer",
        ])
        .await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "yes");
    // Impersonation needs the verb: the viewer may not act as admin.
    let out = cluster
        .kubectl_as(
            "viewer",
            &[
                "get",
                "secrets",
                "-n",
                "default",
                "--as",
                "admin",
                "--as-group",
                "system:masters",
            ],
        )
        .await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "users \"admin\" is forbidden: User \"viewer\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Kubelets: the node authorizer and NodeRestriction. n1 updates its own Node and
/// the status of its own pod, reads the secret its pod mounts; it cannot change
/// n2, n2's pod, nor read an unreferenced secret. Asked (kubectl) and tried.
#[tokio::test]
async fn nodes_touch_only_their_own_node_and_pods() {
    let cluster = TestCluster::start_secured().await;
    let admin = cluster.client("admin");
    let n1 = cluster.add_user(
        "kubelet-n1",
        "system:node:n1",
        &["system:nodes"],
        Validity::days(1),
    );
    cluster.add_user(
        "kubelet-n2",
        "system:node:n2",
        &["system:nodes"],
        Validity::days(1),
    );
    let mut pod_uids = std::collections::BTreeMap::new();
    for node in ["n1", "n2"] {
        let body = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}});
        let r = admin
            .must(Method::POST, "/api/v1/nodes", &body.to_string())
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("on-{node}")},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}],
                     "volumes": [{"name": "s", "secret": {"secretName": format!("secret-{node}")}}]}});
        let r = admin
            .must(
                Method::POST,
                "/api/v1/namespaces/default/pods",
                &pod.to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert_eq!(r.json()["spec"]["serviceAccountName"], "default");
        pod_uids.insert(node, r.json()["metadata"]["uid"].clone());
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": format!("secret-{node}")}});
        let r = admin
            .must(
                Method::POST,
                "/api/v1/namespaces/default/secrets",
                &secret.to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    // The pods cache sees the pods before the node's secret reads are judged.
    assert_eventually!(
        n1.get("/api/v1/namespaces/default/secrets/secret-n1")
            .await
            .is_ok_and(|r| r.status == StatusCode::OK),
        Duration::from_secs(10),
        "n1 never got its pod's secret"
    );
    let status_patch = r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#;
    let pod_status = r#"{"status":{"phase":"Running"}}"#;
    let tries: Vec<(Method, &str, &str, StatusCode)> = vec![
        (Method::GET, "/api/v1/nodes", "", StatusCode::OK),
        (Method::GET, "/api/v1/pods", "", StatusCode::OK),
        (
            Method::PATCH,
            "/api/v1/nodes/n1/status",
            status_patch,
            StatusCode::OK,
        ),
        (
            Method::PATCH,
            "/api/v1/nodes/n2/status",
            status_patch,
            StatusCode::FORBIDDEN,
        ),
        (
            Method::PATCH,
            "/api/v1/nodes/n2",
            r#"{"metadata":{"labels":{"x":"y"}}}"#,
            StatusCode::FORBIDDEN,
        ),
        (
            Method::DELETE,
            "/api/v1/nodes/n2",
            "",
            StatusCode::FORBIDDEN,
        ),
        (
            Method::PATCH,
            "/api/v1/namespaces/default/pods/on-n1/status",
            pod_status,
            StatusCode::OK,
        ),
        (
            Method::PATCH,
            "/api/v1/namespaces/default/pods/on-n2/status",
            pod_status,
            StatusCode::FORBIDDEN,
        ),
        (
            Method::DELETE,
            "/api/v1/namespaces/default/pods/on-n2",
            "",
            StatusCode::FORBIDDEN,
        ),
        (
            Method::GET,
            "/api/v1/namespaces/default/secrets/secret-n2",
            "",
            StatusCode::FORBIDDEN,
        ),
        (
            Method::GET,
            "/api/v1/namespaces/default/secrets",
            "",
            StatusCode::FORBIDDEN,
        ),
        (
            Method::POST,
            "/apis/apps/v1/namespaces/default/deployments",
            "{}",
            StatusCode::FORBIDDEN,
        ),
    ];
    let mut failures = Vec::new();
    for (method, path, body, want) in tries {
        // Also for the POST, whose endpoint refuses this body type with 415:
        // authorization answers first, as upstream.
        let content_type = "application/merge-patch+json";
        let r = n1
            .request(
                method.clone(),
                path,
                &[("content-type", content_type)],
                body.to_string(),
            )
            .await
            .unwrap();
        if r.status != want {
            failures.push(format!("{method} {path}: {} {}", r.status, r.text()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // TokenRequests (NodeRestriction): only bound, by uid, to a pod on the node.
    let account =
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}});
    let r = admin
        .must(
            Method::POST,
            "/api/v1/namespaces/default/serviceaccounts",
            &account.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let token_for = |bound: Value| {
        let n1 = n1.clone();
        async move {
            n1.must(
                Method::POST,
                "/api/v1/namespaces/default/serviceaccounts/default/token",
                &json!({"spec": {"boundObjectRef": bound}}).to_string(),
            )
            .await
        }
    };
    let bound_to = |node: &str| json!({"kind": "Pod", "apiVersion": "v1", "name": format!("on-{node}"), "uid": pod_uids[node]});
    let refused = |why: &str| format!("serviceaccounts \"default\" is forbidden: {why}");
    let r = token_for(Value::Null).await;
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (
            StatusCode::FORBIDDEN,
            Some(refused("node requested token not bound to a pod").as_str())
        )
    );
    let r = token_for(bound_to("n2")).await;
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (
            StatusCode::FORBIDDEN,
            Some(
                refused("node requested token bound to a pod scheduled on a different node")
                    .as_str()
            )
        )
    );
    let r = token_for(bound_to("n1")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = n1
        .request(
            Method::PATCH,
            "/api/v1/nodes/n2/status",
            &[("content-type", "application/merge-patch+json")],
            status_patch.to_string(),
        )
        .await
        .unwrap();
    assert_eq!(
        r.json()["message"],
        "nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node \"n2\""
    );
    // Asked: what the authorizer grants (which node is NodeRestriction's, as upstream).
    for (args, want) in [
        (&["get", "secrets/secret-n1", "-n", "default"][..], "yes"),
        (&["get", "secrets/secret-n2", "-n", "default"], "no"),
        (&["list", "pods", "-A"], "yes"),
        (&["create", "deployments.apps", "-n", "default"], "no"),
        (
            &[
                "update",
                "leases.coordination.k8s.io/n1",
                "-n",
                "kube-node-lease",
            ],
            "yes",
        ),
        (
            &[
                "update",
                "leases.coordination.k8s.io/n2",
                "-n",
                "kube-node-lease",
            ],
            "no",
        ),
    ] {
        let out = cluster
            .kubectl_as("kubelet-n1", &[&["auth", "can-i"][..], args].concat())
            .await;
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            want,
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// NamespaceLifecycle through the API: no content in a missing namespace, and
/// the system namespaces stay.
#[tokio::test]
async fn namespace_lifecycle() {
    let cluster = TestCluster::start_secured().await;
    let admin = cluster.client("admin");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    let r = admin
        .must(
            Method::POST,
            "/api/v1/namespaces/nowhere/configmaps",
            &cm.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["message"], "namespaces \"nowhere\" not found");
    for ns in ["default", "kube-system", "kube-public"] {
        let r = admin
            .must(Method::DELETE, &format!("/api/v1/namespaces/{ns}"), "")
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(
            r.json()["message"],
            format!("namespaces \"{ns}\" is forbidden: this namespace may not be deleted")
        );
    }
    // A namespace created a moment ago takes content at once.
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}});
    let r = admin
        .must(Method::POST, "/api/v1/namespaces", &ns.to_string())
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = admin
        .must(
            Method::POST,
            "/api/v1/namespaces/fresh/configmaps",
            &cm.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}

/// No escalation through RBAC writes: a namespace admin may bind `view` there
/// but not `cluster-admin`, nor write a role with more than it holds.
#[tokio::test]
async fn rbac_writes_cannot_escalate() {
    let cluster = TestCluster::start_secured().await;
    let admin = cluster.client("admin");
    let ann = cluster.add_user("ann", "ann", &[], Validity::days(1));
    let binding = |name: &str, role: &str, user: &str| {
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": "default"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]
        })
        .to_string()
    };
    let path = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings";
    let r = admin
        .must(Method::POST, path, &binding("ann-admin", "admin", "ann"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eventually!(
        ann.get(path)
            .await
            .is_ok_and(|r| r.status == StatusCode::OK),
        Duration::from_secs(10),
        "ann's admin binding never took effect"
    );
    let r = ann
        .must(Method::POST, path, &binding("m-view", "view", "mallory"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = ann
        .must(
            Method::POST,
            path,
            &binding("m-root", "cluster-admin", "mallory"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert_eq!(r.json()["reason"], "Forbidden");
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "nodes", "namespace": "default"},
        "rules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]});
    let r = ann
        .must(
            Method::POST,
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
            &role.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
}
