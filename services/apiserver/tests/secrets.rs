//! Secret values never leave through a side door: the real `rudder-apiserver`
//! binary, logging at debug to a file, serves secrets created, read, listed,
//! patched and wrongly patched (REST, kubectl, gRPC) and a bearer token; none of
//! the values, nor their base64, nor the token, appears in its stderr, in the
//! audit log, or in any error message.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use common::{ApiClient, TestCluster};
use http::{Method, StatusCode};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_rudder-apiserver");

/// The binary on a store, killed on drop.
struct ApiServerProcess {
    child: Child,
}

impl Drop for ApiServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts the answer's code, keeping the body of a refusal among `errors`.
fn expect(errors: &mut Vec<String>, r: common::Reply, code: StatusCode) -> common::Reply {
    assert_eq!(r.status, code, "{}", r.text());
    if !r.status.is_success() {
        errors.push(r.text());
    }
    r
}

/// Every form a value may leak in: as sent, and base64 (what `data` holds).
fn forms(value: &str) -> [String; 2] {
    [
        value.to_string(),
        base64::engine::general_purpose::STANDARD.encode(value),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_values_reach_no_log_and_no_error() {
    let (dir, layout, store) = TestCluster::store_only().await;
    let port = common::free_port();
    let stderr_path = dir.path().join("apiserver.stderr");
    let audit_path = dir.path().join("audit.log");
    let pki = layout.pki_dir();
    let _server = ApiServerProcess {
        child: Command::new(BIN)
            .env("RUST_LOG", "debug")
            .args(common::apiserver_flags(&layout, &store.endpoint, port))
            .args([
                "--authorization-mode=Node,RBAC".into(),
                format!(
                    "--service-account-key-file={}",
                    pki.join("sa.pub").display()
                ),
                format!(
                    "--service-account-signing-key-file={}",
                    pki.join("sa.key").display()
                ),
                format!("--audit-log-path={}", audit_path.display()),
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap(),
    };
    let admin = ApiClient::new(port, layout.client_tls("admin").client_config().unwrap());
    assert_eventually!(
        admin
            .get("/readyz")
            .await
            .is_ok_and(|r| r.status == StatusCode::OK),
        Duration::from_secs(30),
        "the binary never became ready"
    );

    let values = [
        "created-sEcReT-0001",
        "data-sEcReT-0002",
        "patched-sEcReT-0003",
        "badpatch-sEcReT-0004",
        "testop-sEcReT-0005",
        "truncated-sEcReT-0006",
        "kubectl-sEcReT-0007",
        "grpc-sEcReT-0008",
    ];
    let secrets = "/api/v1/namespaces/default/secrets";
    let mut errors = Vec::new();
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
        "stringData": {"password": values[0]},
        "data": {"other": forms(values[1])[1]}});
    expect(
        &mut errors,
        admin.must(Method::POST, secrets, &secret.to_string()).await,
        StatusCode::CREATED,
    );
    let read = expect(
        &mut errors,
        admin.must(Method::GET, &format!("{secrets}/db"), "").await,
        StatusCode::OK,
    );
    // stringData is merged into data and never stored.
    assert_eq!(read.json()["data"]["password"], forms(values[0])[1]);
    assert_eq!(read.json().get("stringData"), None);
    expect(
        &mut errors,
        admin.must(Method::GET, secrets, "").await,
        StatusCode::OK,
    );
    let patch = |content_type: &'static str, body: String| {
        let admin = admin.clone();
        async move {
            admin
                .request(
                    Method::PATCH,
                    "/api/v1/namespaces/default/secrets/db",
                    &[("content-type", content_type)],
                    body,
                )
                .await
                .unwrap()
        }
    };
    expect(
        &mut errors,
        patch(
            "application/merge-patch+json",
            json!({"stringData": {"password": values[2]}}).to_string(),
        )
        .await,
        StatusCode::OK,
    );
    // Failing patches: a value that is not base64, a JSON-patch test that does
    // not hold, a body cut short.
    let bad = expect(
        &mut errors,
        patch(
            "application/merge-patch+json",
            json!({"data": {"password": format!("{}!!", values[3])}}).to_string(),
        )
        .await,
        StatusCode::BAD_REQUEST,
    );
    assert_eq!(bad.json()["kind"], "Status");
    let test_op = patch(
        "application/json-patch+json",
        json!([{"op": "test", "path": "/data/password", "value": forms(values[4])[1]},
               {"op": "remove", "path": "/data/password"}])
        .to_string(),
    )
    .await;
    assert!(test_op.status.is_client_error(), "{}", test_op.text());
    errors.push(test_op.text());
    let truncated = patch(
        "application/strategic-merge-patch+json",
        format!(r#"{{"stringData": {{"password": "{}""#, values[5]),
    )
    .await;
    assert_eq!(
        truncated.status,
        StatusCode::BAD_REQUEST,
        "{}",
        truncated.text()
    );
    errors.push(truncated.text());

    // The real kubectl, and gRPC.
    let cluster_dir = dir.path();
    let kubectl = |args: &[&str]| {
        let mut command = tokio::process::Command::new(common::KUBECTL);
        command
            .arg(format!(
                "--kubeconfig={}",
                layout.kubeconfig("admin").display()
            ))
            .arg(format!("--server=https://127.0.0.1:{port}"))
            .arg(format!(
                "--cache-dir={}",
                cluster_dir.join("kube-cache").display()
            ))
            .args(args);
        command
    };
    // (`kubectl create secret generic` sends protobuf, which the server does not
    // read yet: a manifest goes as JSON.)
    let manifest = cluster_dir.join("secret.yaml");
    std::fs::write(
        &manifest,
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web\nstringData:\n  password: {}\n",
            values[6]
        ),
    )
    .unwrap();
    let out = kubectl(&["create", "-f", &manifest.display().to_string()])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kubectl(&["get", "secret", "web", "-o", "yaml"])
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&forms(values[6])[1]));
    let tls = layout
        .client_tls("admin")
        .tonic_client("127.0.0.1")
        .unwrap();
    let channel = common::grpc_channel(port, tls).await;
    let mut grpc = rudder_proto::api::v1::api_client::ApiClient::new(channel);
    let secret_ref = rudder_proto::api::v1::ResourceRef {
        version: "v1".into(),
        resource: "secrets".into(),
        namespace: "default".into(),
        ..Default::default()
    };
    grpc.create(rudder_proto::api::v1::CreateRequest {
        r#ref: Some(secret_ref.clone()),
        object: json!({"metadata": {"name": "g"}, "stringData": {"k": values[7]}})
            .to_string()
            .into_bytes(),
        ..Default::default()
    })
    .await
    .unwrap();
    let refused = grpc
        .create(rudder_proto::api::v1::CreateRequest {
            r#ref: Some(secret_ref),
            object: json!({"metadata": {"name": "g2"}, "data": {"k": format!("{}!!", values[7])}})
                .to_string()
                .into_bytes(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    errors.push(format!("{refused:?}"));

    // A bearer token on the wire, too.
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}});
    expect(
        &mut errors,
        admin
            .must(
                Method::POST,
                "/api/v1/namespaces/default/serviceaccounts",
                &sa.to_string(),
            )
            .await,
        StatusCode::CREATED,
    );
    let r = expect(
        &mut errors,
        admin
            .must(
                Method::POST,
                "/api/v1/namespaces/default/serviceaccounts/bot/token",
                "{}",
            )
            .await,
        StatusCode::CREATED,
    );
    let token = r.json()["status"]["token"].as_str().unwrap().to_string();
    let header = format!("Bearer {token}");
    let bare = {
        rudder_pki::install_crypto_provider();
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::pem::PemObject::pem_file_iter(layout.ca_cert()).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        ApiClient::new(port, std::sync::Arc::new(config))
    };
    let r = bare
        .request(
            Method::GET,
            secrets,
            &[("authorization", header.as_str())],
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    let r = expect(&mut errors, r, StatusCode::FORBIDDEN);
    drop(r);

    // Everything the server wrote by now is on disk once the audit log has the
    // last request's line.
    assert_eventually!(
        std::fs::read_to_string(&audit_path)
            .unwrap_or_default()
            .lines()
            .any(|l| serde_json::from_str::<Value>(l).unwrap()["code"] == 403),
        Duration::from_secs(5),
        "the last request never reached the audit log"
    );
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    let audit = std::fs::read_to_string(&audit_path).unwrap();
    assert!(
        stderr.lines().count() > 10,
        "the server logged almost nothing at debug: {stderr}"
    );
    for value in values {
        for form in forms(value) {
            assert!(!stderr.contains(&form), "{form} in the server's stderr");
            assert!(!audit.contains(&form), "{form} in the audit log");
            for error in &errors {
                assert!(!error.contains(&form), "{form} in an error: {error}");
            }
        }
    }
    assert!(!stderr.contains(&token), "the token in the server's stderr");
    assert!(!audit.contains(&token), "the token in the audit log");
}
