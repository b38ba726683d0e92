//! The load generator against a real etcd: short count-bounded runs whose numbers must
//! add up (requests sent = answered + failed; puts = revisions the server made), and the
//! binary's JSON must parse and feed `compare`. Timing decides nothing here.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::Etcd;
use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use rudder_bench::load::{Bound, LoadConfig, RANGE_KEY, Session, TlsFiles, plan_phases};
use rudder_bench::result::{RunResult, Workload};

const BIN: &str = env!("CARGO_BIN_EXE_rudder-bench");

fn config(etcd: &Etcd, bound: Bound, puts: &[usize], ranges: &[usize]) -> LoadConfig {
    LoadConfig {
        label: "etcd".to_string(),
        endpoints: vec![etcd.url.clone()],
        tls: etcd.tls.clone(),
        conns: 3,
        phases: plan_phases(puts, ranges),
        bound,
        value_size: 256,
        key_space: 50,
        wait: Duration::from_secs(30),
        request_timeout: Duration::from_secs(10),
    }
}

async fn revision(etcd: &Etcd) -> i64 {
    let mut options = ConnectOptions::new();
    if let Some(TlsFiles { ca, cert, key }) = &etcd.tls {
        let read = |p: &Path| std::fs::read(p).unwrap();
        options = options.with_tls(
            TlsOptions::new()
                .ca_certificate(Certificate::from_pem(read(ca)))
                .identity(Identity::from_pem(read(cert), read(key))),
        );
    }
    let mut client = Client::connect([etcd.url.as_str()], Some(options))
        .await
        .unwrap();
    let answer = client.get(RANGE_KEY, None).await.unwrap();
    answer.header().unwrap().revision()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_bound_phases_add_up_against_etcd() {
    let etcd = Etcd::start(false);
    let total = 200;
    let session = Session::connect(config(&etcd, Bound::Total(total), &[1, 8], &[8]))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", etcd.log()));
    let before = revision(&etcd).await;
    let mut result = session.result();
    for phase in session.phases() {
        result.phases.push(session.run_phase(phase).await.unwrap());
    }
    let after = revision(&etcd).await;

    let shape: Vec<(Workload, usize)> = result
        .phases
        .iter()
        .map(|p| (p.workload, p.clients))
        .collect();
    assert_eq!(
        shape,
        vec![(Workload::Put, 1), (Workload::Put, 8), (Workload::Range, 8)]
    );
    for phase in &result.phases {
        assert_eq!(phase.errors, 0, "{phase:?}");
        assert_eq!(phase.ops + phase.errors, total, "{phase:?}");
        let l = phase.latency;
        assert!(
            0 < l.p50_us && l.p50_us <= l.p99_us && l.p99_us <= l.p999_us && l.p999_us <= l.max_us,
            "{l:?}"
        );
        assert!(
            phase.ops_per_sec > 0.0 && phase.elapsed_secs > 0.0,
            "{phase:?}"
        );
    }
    // Every acknowledged put made exactly one revision; ranges made none.
    assert_eq!(after - before, 2 * total as i64);
    assert_eq!(result.members, 1);
    assert!(
        result.server_version.starts_with("3."),
        "{}",
        result.server_version
    );

    // JSON keeps every count and latency exactly; rates and times to within rounding.
    let parsed = RunResult::from_json(&result.to_json(), Path::new("run.json")).unwrap();
    assert_eq!(parsed.phases.len(), result.phases.len());
    for (got, sent) in parsed.phases.iter().zip(&result.phases) {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
        assert!(
            close(got.ops_per_sec, sent.ops_per_sec) && close(got.elapsed_secs, sent.elapsed_secs)
        );
        assert_eq!(
            (got.workload, got.clients, got.ops, got.errors),
            (sent.workload, sent.clients, sent.ops, sent.errors)
        );
        assert_eq!(got.latency, sent.latency);
    }
    assert_eq!(
        (parsed.label, parsed.members, parsed.total),
        (result.label, result.members, result.total)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_bound_phase_ends_by_itself() {
    let etcd = Etcd::start(false);
    let bound = Bound::Duration(Duration::from_millis(300));
    let session = Session::connect(config(&etcd, bound, &[4], &[]))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", etcd.log()));
    let phase = tokio::time::timeout(
        Duration::from_secs(30),
        session.run_phase(session.phases()[0]),
    )
    .await
    .expect("a 300 ms phase ends well within 30 s")
    .unwrap();
    assert_eq!(phase.errors, 0, "{phase:?}");
    assert!(phase.ops > 0, "{phase:?}");
    assert!(phase.elapsed_secs >= 0.3, "{phase:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_fails_the_run_after_the_wait() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = LoadConfig {
        label: "nobody".to_string(),
        endpoints: vec![format!("http://127.0.0.1:{port}")],
        tls: None,
        conns: 1,
        phases: plan_phases(&[1], &[]),
        bound: Bound::Total(1),
        value_size: 1,
        key_space: 1,
        wait: Duration::from_millis(500),
        request_timeout: Duration::from_millis(200),
    };
    let err = Session::connect(config)
        .await
        .err()
        .expect("nothing listens there");
    assert!(err.to_string().contains("did not answer"), "{err}");
}

#[test]
fn binary_over_mtls_writes_json_that_compare_reads() {
    let etcd = Etcd::start(true);
    let tls = etcd.tls.clone().unwrap();
    let output = Command::new(BIN)
        .args([
            "store",
            "--endpoints",
            &etcd.url,
            "--label",
            "etcd",
            "--json",
        ])
        .args([
            "--total",
            "150",
            "--clients",
            "1,4",
            "--range-clients",
            "4",
            "--conns",
            "2",
        ])
        .arg("--cacert")
        .arg(&tls.ca)
        .arg("--cert")
        .arg(&tls.cert)
        .arg("--key")
        .arg(&tls.key)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}\n{}", etcd.log());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let run = RunResult::from_json(&stdout, Path::new("stdout")).unwrap();
    assert!(run.tls);
    assert_eq!(run.phases.len(), 3);
    for phase in &run.phases {
        assert_eq!((phase.ops, phase.errors), (150, 0), "{phase:?}");
    }
    // The human table went to stderr, one line per phase under a header.
    assert!(stderr.contains("etcd: 3."), "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("put ") || l.starts_with("range "))
            .count(),
        3
    );

    // Two labels of the same figures compare as equal: ratios 1.00×, every row passing.
    let dir = etcd.scratch();
    let etcd_file = dir.join("etcd-1.json");
    let rudder_file = dir.join("rudder-1.json");
    std::fs::write(&etcd_file, &stdout).unwrap();
    std::fs::write(
        &rudder_file,
        stdout.replace(r#""label": "etcd""#, r#""label": "rudder""#),
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["compare", "--check"])
        .arg(&etcd_file)
        .arg(&rudder_file)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        table
            .lines()
            .filter(|l| l.ends_with("| pass | 1+1 |"))
            .count(),
        3,
        "{table}"
    );
    assert!(table.contains("| put | 4 | 1 |"), "{table}");
}

#[test]
fn https_without_a_client_identity_is_a_flag_error() {
    let etcd = Etcd::start(true);
    let output = Command::new(BIN)
        .args([
            "store",
            "--endpoints",
            &etcd.url,
            "--total",
            "1",
            "--wait",
            "1s",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("must start with http://"), "{stderr}");
}
