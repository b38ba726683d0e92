//! The API server load generator against a real rudder-apiserver on a real etcd:
//! tiny count-bounded runs whose numbers must add up (requests = answers, pods on the
//! server = pods the phases made, every watcher saw every write), and the binary's
//! JSON must parse and feed `compare`. Timing decides nothing here.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::ApiServer;
use http::{Method, StatusCode};
use rudder_bench::apiserver::pods::{self, SEQUENCE_ANNOTATION};
use rudder_bench::apiserver::{ApiserverConfig, Session, Target, plan_phases};
use rudder_bench::driver::Bound;
use rudder_bench::result::{ApiserverRunResult, Workload};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_rudder-bench");

fn config(target: Target, namespace: &str) -> ApiserverConfig {
    let all = [
        Workload::Create,
        Workload::Get,
        Workload::Update,
        Workload::ListCache,
        Workload::ListQuorum,
        Workload::Watch,
    ];
    ApiserverConfig {
        label: "etcd".to_string(),
        target,
        conns: 2,
        phases: plan_phases(&all, &[1, 4], 1, 20),
        bound: Bound::Total(20),
        pool: 8,
        list_pods: 30,
        lists: 3,
        watch_writes: 5,
        watch_interval: Duration::from_millis(10),
        // 20 watchers over three connections: the split is exercised too.
        streams_per_conn: 8,
        namespace: namespace.to_string(),
        wait: Duration::from_secs(60),
        request_timeout: Duration::from_secs(30),
    }
}

async fn pods_in(target: &Target, namespace: &str) -> Vec<Value> {
    let conn = target.connect(Duration::from_secs(10)).await.unwrap();
    let answer = conn
        .send(Method::GET, &pods::pods_path(namespace), None)
        .await
        .unwrap()
        .expect(StatusCode::OK)
        .unwrap();
    let list: Value = serde_json::from_slice(&answer.body).unwrap();
    list["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_phase_adds_up_against_a_real_api_server() {
    let server = ApiServer::start().await;
    let target = Target::from_kubeconfig(&server.kubeconfig(), None).expect("admin kubeconfig");
    let config = config(target.clone(), "bench");
    let session = Session::connect(config)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.store_log()));
    session.prepare(|line| eprintln!("{line}")).await.unwrap();
    assert_eq!(pods_in(&target, "bench-list").await.len(), 30);
    assert_eq!(pods_in(&target, "bench").await.len(), 8);

    let mut result = session.result();
    for phase in session.phases() {
        result.phases.push(session.run_phase(phase).await.unwrap());
    }
    let shape: Vec<(Workload, usize)> = result
        .phases
        .iter()
        .map(|p| (p.workload, p.clients))
        .collect();
    assert_eq!(
        shape,
        vec![
            (Workload::Create, 1),
            (Workload::Create, 4),
            (Workload::Get, 1),
            (Workload::Get, 4),
            (Workload::Update, 1),
            (Workload::Update, 4),
            (Workload::ListCache, 1),
            (Workload::ListQuorum, 1),
            (Workload::Watch, 20),
        ]
    );
    for phase in &result.phases {
        assert_eq!(phase.errors, 0, "{phase:?}");
        let expected = match phase.workload {
            Workload::ListCache | Workload::ListQuorum => 3,
            // every watcher saw every write
            Workload::Watch => 20 * 5,
            _ => 20,
        };
        assert_eq!(phase.ops, expected, "{phase:?}");
        let l = phase.latency;
        assert!(
            0 < l.p50_us && l.p50_us <= l.p99_us && l.p99_us <= l.p999_us && l.p999_us <= l.max_us,
            "{l:?}"
        );
    }
    // The pool plus one pod per create; the updates rewrote the pods they own.
    let made = pods_in(&target, "bench").await;
    assert_eq!(made.len(), 8 + 2 * 20);
    let first = made
        .iter()
        .find(|p| p["metadata"]["name"] == pods::pool_name(0))
        .expect("pool-00000");
    let sequence = first["metadata"]["annotations"][SEQUENCE_ANNOTATION]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok());
    assert!(sequence.is_some_and(|n| n >= 1), "{first}");
    assert_eq!(pods_in(&target, "bench-watch").await.len(), 5);
    assert!(result.server_version.starts_with("v1."), "{result:?}");

    let parsed = ApiserverRunResult::from_json(&result.to_json(), Path::new("run.json")).unwrap();
    assert_eq!(parsed.phases.len(), result.phases.len());
    assert_eq!(
        (parsed.watchers, parsed.list_pods, parsed.total),
        (20, 30, Some(20))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_writes_json_that_compare_reads() {
    let server = ApiServer::start().await;
    let kubeconfig = server.kubeconfig();
    let output = tokio::process::Command::new(BIN)
        .arg("apiserver")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "--label",
            "etcd",
            "--json",
            "--total",
            "10",
            "--clients",
            "2",
        ])
        .args(["--pool", "4", "--list-pods", "10", "--lists", "2"])
        .args(["--watchers", "5", "--watch-writes", "3"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}\n{}", server.store_log());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let run = ApiserverRunResult::from_json(&stdout, Path::new("stdout")).unwrap();
    assert_eq!(run.server, server.url);
    assert_eq!(run.phases.len(), 6);
    for phase in &run.phases {
        assert_eq!(phase.errors, 0, "{phase:?}");
    }
    // The human table went to stderr: a header and one line per phase.
    assert!(stderr.contains("etcd: v1."), "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("list_cache ") || l.starts_with("watch "))
            .count(),
        2,
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let etcd_file = dir.path().join("etcd-r1.json");
    let rudder_file = dir.path().join("rudder-r1.json");
    std::fs::write(&etcd_file, &stdout).unwrap();
    std::fs::write(
        &rudder_file,
        stdout.replace(r#""label": "etcd""#, r#""label": "rudder""#),
    )
    .unwrap();
    let output = Command::new(BIN)
        .arg("compare")
        .arg(&etcd_file)
        .arg(&rudder_file)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{table}");
    // Same figures on both sides: every ratio is 1.00×.
    for row in [
        "| create | 2 | 1 |",
        "| list_cache | 1 | 1 |",
        "| watch | 5 | 1 |",
    ] {
        let line = table
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no row {row}:\n{table}"));
        assert_eq!(line.matches("1.00×").count(), 2, "{line}");
    }
    assert!(
        table.contains("rudder create p99 < 25 ms") && table.contains("list_cache p99 < 100 ms"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_fails_the_run_after_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = rudder_pki::certs::CertsOptions::new(dir.path());
    let port = rudder_testkit::free_port();
    options.server_url = format!("https://127.0.0.1:{port}");
    rudder_pki::certs::write_cluster_certs(&options).unwrap();
    let layout = rudder_pki::certs::CertsLayout::new(dir.path());
    let target = Target::from_kubeconfig(&layout.kubeconfig("admin"), None).unwrap();
    let mut config = config(target, "dead");
    config.wait = Duration::from_millis(500);
    config.request_timeout = Duration::from_millis(300);
    let err = Session::connect(config)
        .await
        .err()
        .expect("nothing listens there");
    assert!(err.to_string().contains("did not answer"), "{err}");
}
