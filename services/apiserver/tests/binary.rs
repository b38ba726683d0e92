//! The `rudder-apiserver` binary itself: flag errors are one line and exit 2, and a
//! real process serves until SIGTERM, then exits 0.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::TestCluster;
use http::StatusCode;

const BIN: &str = env!("CARGO_BIN_EXE_rudder-apiserver");

#[test]
fn bad_flags_are_one_line_and_exit_2() {
    for args in [
        &[][..],
        &["--etcd-servers=http://127.0.0.1:1", "--secure-port=http"],
        &["--no-such-flag"],
        &[
            "--etcd-servers=http://127.0.0.1:1",
            "--tls-cert-file=a",
            "--tls-private-key-file=b",
            "--client-ca-file=c",
            "--service-node-port-range=9-1",
        ],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("rudder-apiserver: "), "{stderr}");
    }
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--etcd-servers"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_and_stops_on_sigterm() {
    let (dir, layout, store) = TestCluster::store_only().await;
    let port = common::free_port();
    let serving = layout.apiserver_tls();
    let etcd = layout.apiserver_etcd_client_tls();
    let mut child = Command::new(BIN)
        .env("RUDDER_APISERVER_ETCD_SERVERS", &store.endpoint)
        .args([
            format!("--etcd-cafile={}", etcd.ca.display()),
            format!("--etcd-certfile={}", etcd.cert.display()),
            format!("--etcd-keyfile={}", etcd.key.display()),
            format!("--tls-cert-file={}", serving.cert.display()),
            format!("--tls-private-key-file={}", serving.key.display()),
            format!("--client-ca-file={}", serving.ca.display()),
            "--bind-address=127.0.0.1".into(),
            format!("--secure-port={port}"),
            format!(
                "--audit-log-path={}",
                dir.path().join("audit.log").display()
            ),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = common::ApiClient::new(port, layout.client_tls("admin").client_config().unwrap());
    assert_eventually!(
        client
            .get("/readyz")
            .await
            .is_ok_and(|r| r.status == StatusCode::OK),
        Duration::from_secs(30),
        "the binary never became ready"
    );
    let v = client.get("/version").await.unwrap().json();
    assert_eq!(v["minor"], "33");
    Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the binary did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    let audit = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    let version_line = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["requestUri"] == "/version")
        .unwrap_or_else(|| panic!("no /version line in:\n{audit}"));
    assert_eq!(version_line["user"], "admin");
    assert_eq!(version_line["code"], 200);
    drop(dir);
}
