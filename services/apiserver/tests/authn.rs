//! Authentication against a running API server: service-account tokens from the
//! TokenRequest API, and every way to be refused with a 401 (no credential, a
//! certificate from another CA or expired, a tampered, expired or orphaned
//! token), each with its audit line; the token never in the audit log (secrets:
//! see `secrets.rs`).

mod common;

use std::time::Duration;

use common::TestCluster;
use http::{Method, StatusCode};
use rudder_apiserver::auth::token::{Claims, TokenSigner};
use rudder_pki::Validity;
use rudder_pki::certs::{CertsLayout, CertsOptions, write_cluster_certs};
use serde_json::{Value, json};

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

#[tokio::test]
async fn tokens_and_every_refusal_with_audit_lines() {
    let cluster = TestCluster::start_secured().await;
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

    // A certificate from another CA, or an expired one from ours: the handshake
    // completes and the request gets a 401 Status, as from kube-apiserver.
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
    let foreign_client = common::ApiClient::new(cluster.port, foreign.client_config().unwrap());
    let old = cluster.add_user("old", "old-admin", &["system:masters"], Validity::expired());
    for client in [&foreign_client, &old] {
        let r = client
            .get("/api/v1/namespaces")
            .await
            .expect("an HTTP answer");
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
        assert_eq!(
            (&r.json()["kind"], &r.json()["reason"], &r.json()["message"]),
            (
                &json!("Status"),
                &json!("Unauthorized"),
                &json!("Unauthorized")
            )
        );
    }
    // A refused certificate does not stop a good token on the same connection
    // (upstream's union of authenticators).
    let r = foreign_client
        .request(
            Method::GET,
            "/api/v1/namespaces/default/pods",
            &[("authorization", bearer(&token).as_str())],
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // gRPC on the same port: UNAUTHENTICATED, the Status in the details.
    let channel =
        common::grpc_channel(cluster.port, foreign.tonic_client("127.0.0.1").unwrap()).await;
    let err = rudder_proto::api::v1::api_client::ApiClient::new(channel)
        .list(rudder_proto::api::v1::ListRequest {
            r#ref: Some(rudder_proto::api::v1::ResourceRef {
                version: "v1".into(),
                resource: "namespaces".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");
    // The cluster's own certificates still work.
    assert_eq!(
        admin.get("/api/v1/namespaces").await.unwrap().status,
        StatusCode::OK
    );

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

    assert_eventually!(
        cluster
            .audit_lines()
            .iter()
            .filter(|l| l["code"] == 401)
            .count()
            >= 9,
        Duration::from_secs(5),
        "401 lines missing from the audit log: {:#?}",
        cluster.audit_lines()
    );
    let lines = cluster.audit_lines();
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
    // Certificates: a foreign one names nobody (its CN is anyone's claim), an
    // expired one of ours names its user; gRPC's line too.
    assert!(unauthorized.iter().any(|l| l["user"] == ""
        && l["protocol"] == "rest"
        && l["authenticationError"] == "x509: certificate signed by unknown authority"));
    assert!(unauthorized.iter().any(|l| l["user"] == ""
        && l["protocol"] == "grpc"
        && l["authenticationError"] == "x509: certificate signed by unknown authority"));
    assert!(unauthorized.iter().any(|l| l["user"] == "old-admin"
        && l["authenticationError"] == "x509: certificate has expired or is not yet valid"));
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
    assert!(!raw.contains(&token), "a token reached the audit log");
}
