//! Service accounts as pods and clients meet them: the ServiceAccount admission
//! plugin (default account, the projected `kube-api-access-xxxxx` volume, missing
//! accounts refused) and the TokenRequest API driven by the real
//! `kubectl create token`, with tokens bound to a pod or a secret dying with it.

mod common;

use std::time::Duration;

use base64::Engine;
use common::TestCluster;
use http::{Method, StatusCode};
use serde_json::{Value, json};

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Creates `body` under `path` as admin and returns the stored object.
async fn must_create(cluster: &TestCluster, path: &str, body: Value) -> Value {
    let r = cluster
        .client("admin")
        .must(Method::POST, path, &body.to_string())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.text());
    r.json()
}

fn pod(name: &str, spec: Value) -> Value {
    let mut spec = spec;
    spec["containers"] = json!([{"name": "app", "image": "nginx"}]);
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})
}

fn service_account(name: &str, extra: Value) -> Value {
    let mut sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}});
    if let (Some(sa), Some(extra)) = (sa.as_object_mut(), extra.as_object()) {
        sa.extend(extra.clone());
    }
    sa
}

const PODS: &str = "/api/v1/namespaces/default/pods";
const ACCOUNTS: &str = "/api/v1/namespaces/default/serviceaccounts";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_get_their_account_and_its_credentials_projected() {
    let cluster = TestCluster::start_secured().await;
    must_create(&cluster, ACCOUNTS, service_account("default", json!({}))).await;
    must_create(
        &cluster,
        ACCOUNTS,
        service_account("quiet", json!({"automountServiceAccountToken": false})),
    )
    .await;

    let mut web = pod(
        "web",
        json!({"initContainers": [{"name": "init", "image": "busybox"}]}),
    );
    web["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "sidecar", "image": "envoy"}));
    let web = must_create(&cluster, PODS, web).await;
    let spec = &web["spec"];
    assert_eq!(spec["serviceAccountName"], "default");
    let volumes = spec["volumes"].as_array().unwrap();
    assert_eq!(volumes.len(), 1, "{volumes:?}");
    let name = volumes[0]["name"].as_str().unwrap();
    let suffix = name.strip_prefix("kube-api-access-").unwrap();
    assert!(
        suffix.len() == 5
            && suffix
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
        "{name}"
    );
    assert_eq!(
        volumes[0]["projected"]["sources"],
        json!([
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ])
    );
    for container in spec["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(spec["containers"].as_array().unwrap())
    {
        assert_eq!(
            container["volumeMounts"],
            json!([{"name": name, "readOnly": true, "mountPath": MOUNT_PATH}]),
            "{container}"
        );
    }

    // automountServiceAccountToken: false on the account, or on the pod.
    let quiet = must_create(
        &cluster,
        PODS,
        pod("quiet", json!({"serviceAccountName": "quiet"})),
    )
    .await;
    assert_eq!(quiet["spec"].get("volumes"), None, "{quiet}");
    let opted_out = must_create(
        &cluster,
        PODS,
        pod("opted-out", json!({"automountServiceAccountToken": false})),
    )
    .await;
    assert_eq!(opted_out["spec"].get("volumes"), None, "{opted_out}");
    assert_eq!(opted_out["spec"]["serviceAccountName"], "default");

    // A missing account is refused, in upstream's words, for REST and kubectl.
    let r = cluster
        .client("admin")
        .must(
            Method::POST,
            PODS,
            &pod("ghostly", json!({"serviceAccountName": "ghost"})).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.json()["message"],
        "pods \"ghostly\" is forbidden: error looking up service account default/ghost: serviceaccount \"ghost\" not found"
    );
    let out = cluster
        .kubectl(&[
            "run",
            "haunted",
            "--image=nginx",
            "--overrides",
            r#"{"spec":{"serviceAccountName":"ghost"}}"#,
        ])
        .await;
    assert_kubectl_error(
        &out,
        "Error from server (Forbidden): pods \"haunted\" is forbidden: error looking up service account default/ghost",
    );
}

/// The claims of a JWT, unverified.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Asserts kubectl failed saying `message` on stderr.
fn assert_kubectl_error(out: &std::process::Output, message: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains(message),
        "{stderr}"
    );
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// What the API server answers `token` on a namespaced list: 401, or the 403
/// naming who it authenticated as.
async fn answer_to(cluster: &TestCluster, token: &str) -> (StatusCode, Value) {
    let header = format!("Bearer {token}");
    let r = cluster
        .client_without_certificate()
        .request(
            Method::GET,
            "/api/v1/namespaces/default/configmaps",
            &[("authorization", header.as_str())],
            bytes::Bytes::new(),
        )
        .await
        .expect("an answer");
    (r.status, r.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_token_and_tokens_bound_to_pods_and_secrets() {
    let cluster = TestCluster::start_secured().await;
    // What the controller manager's serviceaccount controller will create.
    let account = must_create(&cluster, ACCOUNTS, service_account("default", json!({}))).await;

    let token = stdout(&cluster.kubectl(&["create", "token", "default"]).await);
    let c = claims(&token);
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["sub"], "system:serviceaccount:default:default");
    assert_eq!(c["aud"], json!([ISSUER]));
    assert_eq!(
        c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
        3600
    );
    assert_eq!(c["nbf"], c["iat"]);
    assert_eq!(
        c["kubernetes.io"],
        json!({"namespace": "default",
               "serviceaccount": {"name": "default", "uid": account["metadata"]["uid"]}})
    );

    // The real kubectl with only the token authenticates as the account; curl too.
    cluster.token_kubeconfig("default-token", &token);
    let out = cluster
        .kubectl_as("default-token", &["get", "pods", "-n", "default"])
        .await;
    assert_kubectl_error(
        &out,
        "pods is forbidden: User \"system:serviceaccount:default:default\" cannot list resource \"pods\"",
    );
    let curl = tokio::process::Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(cluster.layout().ca_cert())
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!(
            "https://127.0.0.1:{}/api/v1/namespaces/default/secrets",
            cluster.port
        ))
        .output()
        .await
        .expect("run curl");
    let answer: Value = serde_json::from_slice(&curl.stdout).expect("a Status from curl");
    assert_eq!(answer["code"], 403, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("User \"system:serviceaccount:default:default\"")
    );
    let out = cluster
        .kubectl_as(
            "default-token",
            &["auth", "can-i", "list", "pods", "-n", "default"],
        )
        .await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no");

    // Lifetimes: at least ten minutes.
    let c = claims(&stdout(
        &cluster
            .kubectl(&["create", "token", "default", "--duration=15m"])
            .await,
    ));
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 900);
    let out = cluster
        .kubectl(&["create", "token", "default", "--duration=5m"])
        .await;
    assert_kubectl_error(&out, "may not specify a duration less than 10 minutes");
    // RBAC: asking for a token is `create serviceaccounts/token`.
    let out = cluster
        .kubectl(&["create", "token", "default", "--as=bob"])
        .await;
    assert_kubectl_error(
        &out,
        "serviceaccounts \"default\" is forbidden: User \"bob\" cannot create resource \"serviceaccounts/token\" in API group \"\" in the namespace \"default\"",
    );

    // Bound to a pod: works while that pod lives, dies with it, stays dead when
    // a pod of the same name comes back.
    let web = must_create(&cluster, PODS, pod("web", json!({}))).await;
    let bound = stdout(
        &cluster
            .kubectl(&[
                "create",
                "token",
                "default",
                "--bound-object-kind=Pod",
                "--bound-object-name=web",
            ])
            .await,
    );
    assert_eq!(
        claims(&bound)["kubernetes.io"]["pod"],
        json!({"name": "web", "uid": web["metadata"]["uid"]})
    );
    assert_eq!(answer_to(&cluster, &bound).await.0, StatusCode::FORBIDDEN);
    let admin = cluster.client("admin");
    let r = admin.must(Method::DELETE, &format!("{PODS}/web"), "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eventually!(
        answer_to(&cluster, &bound).await.0 == StatusCode::UNAUTHORIZED,
        Duration::from_secs(10),
        "a token bound to a deleted pod still works"
    );
    must_create(&cluster, PODS, pod("web", json!({}))).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while std::time::Instant::now() < deadline {
        assert_eq!(
            answer_to(&cluster, &bound).await.0,
            StatusCode::UNAUTHORIZED
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Binding to a pod of another account, or with a stale uid, is refused.
    must_create(&cluster, ACCOUNTS, service_account("other", json!({}))).await;
    let out = cluster
        .kubectl(&[
            "create",
            "token",
            "other",
            "--bound-object-kind=Pod",
            "--bound-object-name=web",
        ])
        .await;
    assert_kubectl_error(
        &out,
        "cannot bind token for serviceaccount \"other\" to pod running with different serviceaccount name.",
    );
    let stale = json!({"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web",
                                                    "uid": web["metadata"]["uid"]}}});
    let r = admin
        .must(
            Method::POST,
            &format!("{ACCOUNTS}/default/token"),
            &stale.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());

    // Bound to a secret: the same.
    let secret = must_create(
        &cluster,
        "/api/v1/namespaces/default/secrets",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "key"}}),
    )
    .await;
    let r = admin
        .must(
            Method::POST,
            &format!("{ACCOUNTS}/default/token"),
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                    "spec": {"boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "key"}}})
                .to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        r.json()["spec"]["boundObjectRef"],
        json!({"kind": "Secret", "apiVersion": "v1", "name": "key", "uid": secret["metadata"]["uid"]})
    );
    let bound = r.json()["status"]["token"].as_str().unwrap().to_string();
    assert_eq!(answer_to(&cluster, &bound).await.0, StatusCode::FORBIDDEN);
    let r = admin
        .must(Method::DELETE, "/api/v1/namespaces/default/secrets/key", "")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eventually!(
        answer_to(&cluster, &bound).await.0 == StatusCode::UNAUTHORIZED,
        Duration::from_secs(10),
        "a token bound to a deleted secret still works"
    );

    let refused_for = |reason: &str| {
        cluster.audit_lines().iter().any(|l| {
            l["code"] == 401
                && l["user"] == "system:serviceaccount:default:default"
                && l["authenticationError"] == reason
        })
    };
    for reason in [
        "pod not found",
        "pod uid does not match",
        "secret not found",
    ] {
        assert_eventually!(
            refused_for(reason),
            Duration::from_secs(5),
            "no 401 line for {reason}"
        );
    }
    let audit = std::fs::read_to_string(cluster.dir.path().join("audit.log")).unwrap();
    assert!(!audit.contains(&token), "a token reached the audit log");
}
