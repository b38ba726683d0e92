//! Authentication against a running API server: service-account tokens from the
//! TokenRequest API, and every way to be refused (401 or a TLS rejection), each
//! with its audit line; secrets never in the audit log.

mod common;

use std::time::Duration;

use common::TestCluster;
use http::{Method, StatusCode};
use rudder_apiserver::auth::token::{Claims, TokenSigner};
use rudder_pki::Validity;
use rudder_pki::certs::{CertsLayout, CertsOptions, write_cluster_certs};
use serde_json::{Value, json};

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

async fn cluster() -> TestCluster {
    TestCluster::start_with(&[
        "--authorization-mode=Node,RBAC".to_string(),
        "--service-account-key-file={dir}/pki/sa.pub".to_string(),
        "--service-account-signing-key-file={dir}/pki/sa.key".to_string(),
        "--audit-log-path={dir}/audit.log".to_string(),
    ])
    .await
}

fn audit_lines(cluster: &TestCluster) -> Vec<Value> {
    std::fs::read_to_string(cluster.dir.path().join("audit.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

#[tokio::test]
async fn tokens_and_every_refusal_with_audit_lines() {
    let cluster = cluster().await;
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
    let uid = r.json()["metadata"]["uid"].as_str().unwrap().to_string();

    // TokenRequest, the upstream way.
    let r = admin
        .must(
            Method::POST,
            "/api/v1/namespaces/default/serviceaccounts/bot/token",
            r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600}}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let token = r.json()["status"]["token"].as_str().unwrap().to_string();
    assert_eq!(r.json()["kind"], "TokenRequest");
    // Too short a lifetime is refused, as upstream.
    let r = admin
        .must(
            Method::POST,
            "/api/v1/namespaces/default/serviceaccounts/bot/token",
            r#"{"spec":{"expirationSeconds":60}}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let bare = cluster.client_without_certificate();
    let bearer = |t: &str| format!("Bearer {t}");
    let get = |path: &'static str, auth: Option<String>| {
        let bare = bare.clone();
        async move {
            let headers: Vec<(&str, &str)> = match &auth {
                Some(a) => vec![("authorization", a.as_str())],
                None => vec![],
            };
            bare.request(Method::GET, path, &headers, bytes::Bytes::new())
                .await
                .expect("answer")
        }
    };
    // The token authenticates; RBAC then decides (nothing bound yet).
    let r = get("/api/v1/namespaces/default/pods", Some(bearer(&token))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "pods is forbidden: User \"system:serviceaccount:default:bot\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
    );
    let r = get("/version", Some(bearer(&token))).await;
    assert_eq!(r.status, StatusCode::OK);
    // Bound to view through its group, it may list.
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "sa-view", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "bot"}]
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
        get("/api/v1/namespaces/default/pods", Some(bearer(&token)))
            .await
            .status
            == StatusCode::OK,
        Duration::from_secs(10),
        "the service account's binding never took effect"
    );

    // No credential, a tampered token, an expired one: 401 Status.
    let r = get("/api/v1/namespaces/default/pods", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["reason"], "Unauthorized");
    assert_eq!(r.json()["kind"], "Status");
    // Tampered: the claims say another account, the signature is the original's.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = "system:serviceaccount:kube-system:admin".into();
    claims["kubernetes.io"]["namespace"] = "kube-system".into();
    claims["kubernetes.io"]["serviceaccount"]["name"] = "admin".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    assert_eq!(
        get("/api/v1/namespaces/default/pods", Some(bearer(&tampered)))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let signer = TokenSigner::from_pem(
        &std::fs::read(cluster.dir.path().join("pki/sa.key")).unwrap(),
        ISSUER,
    )
    .unwrap();
    let now = rudder_apiserver::auth::token::now();
    let expired = signer
        .sign(&Claims::new(
            ISSUER,
            vec![ISSUER.into()],
            "default",
            "bot",
            &uid,
            now - 7200,
            3600,
        ))
        .unwrap();
    assert_eq!(
        get("/api/v1/namespaces/default/pods", Some(bearer(&expired)))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(
            "/api/v1/namespaces/default/pods",
            Some("Basic YWRtaW46YWRtaW4=".into())
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );

    // A certificate from another CA, or an expired one from ours: rustls refuses
    // the handshake (the client sees a TLS error; no HTTP request exists to answer).
    let other = tempfile::TempDir::new().unwrap();
    write_cluster_certs(&CertsOptions::new(other.path())).unwrap();
    let foreign = CertsLayout::new(other.path())
        .client_tls("admin")
        .load()
        .unwrap();
    let foreign = rudder_pki::TlsMaterial::from_pem(
        std::fs::read_to_string(cluster.layout().ca_cert()).unwrap(),
        foreign.cert_pem,
        foreign.key,
    )
    .unwrap();
    let foreign = common::ApiClient::new(cluster.port, foreign.client_config().unwrap());
    assert!(foreign.get("/api/v1/namespaces").await.is_err());
    let old = cluster.add_user("old", "old-admin", &["system:masters"], Validity::expired());
    assert!(old.get("/api/v1/namespaces").await.is_err());

    // A deleted service account's token stops working.
    let r = admin
        .must(
            Method::DELETE,
            "/api/v1/namespaces/default/serviceaccounts/bot",
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eventually!(
        get("/api/v1/namespaces/default/pods", Some(bearer(&token)))
            .await
            .status
            == StatusCode::UNAUTHORIZED,
        Duration::from_secs(10),
        "the deleted account's token still works"
    );
    // Recreated under the same name, it has another uid: the old token stays dead.
    let r = admin
        .must(
            Method::POST,
            "/api/v1/namespaces/default/serviceaccounts",
            &sa.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        get("/api/v1/namespaces/default/pods", Some(bearer(&token)))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // A secret's value never reaches the audit log.
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                        "stringData": {"password": "hunter2-very-secret"}});
    let r = admin
        .must(
            Method::POST,
            "/api/v1/namespaces/default/secrets",
            &secret.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // Nor does a malformed one come back in the error.
    let bad = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad"},
                     "data": {"password": "hunter2-very-secret!!"}});
    let r = admin
        .must(
            Method::POST,
            "/api/v1/namespaces/default/secrets",
            &bad.to_string(),
        )
        .await;
    assert!(r.status.is_client_error());
    assert!(!r.text().contains("hunter2"), "{}", r.text());

    assert_eventually!(
        audit_lines(&cluster)
            .iter()
            .filter(|l| l["code"] == 401)
            .count()
            >= 6,
        Duration::from_secs(5),
        "401 lines missing from the audit log: {:#?}",
        audit_lines(&cluster)
    );
    let lines = audit_lines(&cluster);
    let unauthorized: Vec<&Value> = lines.iter().filter(|l| l["code"] == 401).collect();
    assert!(
        unauthorized
            .iter()
            .any(|l| l["user"] == "" && l["authenticationError"] == "no credentials")
    );
    assert!(
        unauthorized
            .iter()
            .any(|l| l["authenticationError"] == "invalid signature")
    );
    assert!(
        unauthorized
            .iter()
            .any(|l| l["authenticationError"] == "token expired")
    );
    assert!(
        unauthorized
            .iter()
            .any(|l| l["user"] == "system:serviceaccount:default:bot"
                && l["authenticationError"] == "service account not found")
    );
    assert!(
        lines
            .iter()
            .any(|l| l["user"] == "system:serviceaccount:default:bot"
                && l["code"] == 403
                && l["groups"]
                    == json!(["system:serviceaccounts", "system:serviceaccounts:default"]))
    );
    assert!(
        lines
            .iter()
            .any(|l| l["user"] == "system:serviceaccount:default:bot" && l["code"] == 200)
    );
    let raw = std::fs::read_to_string(cluster.dir.path().join("audit.log")).unwrap();
    assert!(!raw.contains("hunter2-very-secret"));
    assert!(!raw.contains("aHVudGVyMi12ZXJ5LXNlY3JldA"));
    assert!(!raw.contains(&token), "a token reached the audit log");
}
