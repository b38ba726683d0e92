//! The real `etcdctl` (Debian's 3.4) against a real `rudder-store` over mTLS.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use common::Member;
use serde_json::Value;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not json ({e}): {out}"))
}

fn started() -> Member {
    let mut m = Member::new();
    m.start();
    m
}

#[test]
fn put_and_get_with_prefix_rev_limit_keys_only_and_json() {
    let m = started();
    assert_eq!(m.must(&["put", "foo", "bar"]).trim(), "OK");
    assert_eq!(m.must(&["get", "foo"]), "foo\nbar\n");
    m.must(&["put", "/p/a", "1"]);
    m.must(&["put", "/p/b", "2"]);
    m.must(&["put", "/p/a", "3"]);
    assert_eq!(m.must(&["get", "--prefix", "/p"]), "/p/a\n3\n/p/b\n2\n");
    assert_eq!(
        m.must(&["get", "--prefix", "/p", "--keys-only"]),
        "/p/a\n\n/p/b\n\n"
    );

    let v = json(&m.must(&["get", "--prefix", "/p", "--limit", "1", "-w", "json"]));
    assert_eq!(v["count"], 2, "count is every match: {v}");
    assert_eq!(v["more"], true);
    assert_eq!(v["kvs"][0]["key"], b64("/p/a"));
    assert_eq!(v["kvs"][0]["create_revision"], 3);
    assert_eq!(v["kvs"][0]["mod_revision"], 5);
    assert_eq!(v["kvs"][0]["version"], 2);
    assert_eq!(v["header"]["revision"], 5);

    // /p/a as it was at revision 3
    let v = json(&m.must(&["get", "/p/a", "--rev", "3", "-w", "json"]));
    assert_eq!(v["kvs"][0]["value"], b64("1"));
    let future = m.etcdctl(&["get", "foo", "--rev", "99"]);
    assert!(!future.status.success());
    assert!(
        String::from_utf8_lossy(&future.stderr).contains("required revision is a future revision"),
        "{}",
        String::from_utf8_lossy(&future.stderr)
    );
}

#[test]
fn delete_with_prefix_and_prev_kv() {
    let m = started();
    m.must(&["put", "/d/a", "1"]);
    m.must(&["put", "/d/b", "2"]);
    m.must(&["put", "/e", "3"]);
    assert_eq!(
        m.must(&["del", "--prefix", "/d", "--prev-kv"]),
        "2\n/d/a\n1\n/d/b\n2\n"
    );
    assert_eq!(m.must(&["get", "--prefix", "/d"]), "");
    assert_eq!(m.must(&["del", "/nothing"]).trim(), "0");
    assert_eq!(m.must(&["get", "/e"]), "/e\n3\n");
}

#[test]
fn txn_from_stdin() {
    let m = started();
    m.must(&["put", "foo", "bar"]);
    let run = |script: &str| m.must_txn(script);
    let out = run("value(\"foo\") = \"bar\"\n\nput foo baz\n\nput foo nope\n\n");
    assert_eq!(out, "SUCCESS\n\nOK\n");
    assert_eq!(m.must(&["get", "foo", "--print-value-only"]), "baz\n");
    let out = run("value(\"foo\") = \"bar\"\n\nput foo baz2\n\nget foo\n\n");
    assert_eq!(out, "FAILURE\n\nfoo\nbaz\n");
    let out = run("mod(\"missing\") = \"0\"\n\nput created 1\n\n\n");
    assert!(out.starts_with("SUCCESS"), "{out}");
}

/// Reads an etcdctl watch's stdout lines in the background.
fn watch_lines(m: &Member, args: &[&str]) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = m
        .etcdctl_cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcdctl watch");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

fn expect_lines(rx: &mpsc::Receiver<String>, want: &[&str]) {
    for w in want {
        let got = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("watch output ended before {w:?}"));
        assert_eq!(got, *w);
    }
}

#[test]
fn watch_prefix_live_with_prev_kv() {
    let m = started();
    m.must(&["put", "/w/a", "0"]);
    let now = json(&m.must(&["get", "/w/a", "-w", "json"]))["header"]["revision"]
        .as_i64()
        .expect("revision");
    // from the next revision on: no race with the watch's registration
    let next = (now + 1).to_string();
    let (mut child, rx) = watch_lines(
        &m,
        &["watch", "--prefix", "/w", "--prev-kv", "--rev", &next],
    );
    m.must(&["put", "/w/a", "1"]);
    // the event, the previous kv, then the new kv
    expect_lines(&rx, &["PUT", "/w/a", "0", "/w/a", "1"]);
    m.must(&["put", "/x", "ignored"]);
    m.must(&["del", "/w/a"]);
    expect_lines(&rx, &["DELETE", "/w/a", "1", "/w/a", ""]);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn watch_from_a_revision_replays_history() {
    let m = started();
    m.must(&["put", "k", "v1"]); // 2
    m.must(&["put", "k", "v2"]); // 3
    m.must(&["del", "k"]); // 4
    let (mut child, rx) = watch_lines(&m, &["watch", "k", "--rev", "2"]);
    // a DELETE prints its key and an empty value, as etcdctl shows real etcd's
    expect_lines(
        &rx,
        &["PUT", "k", "v1", "PUT", "k", "v2", "DELETE", "k", ""],
    );
    m.must(&["put", "k", "v3"]);
    expect_lines(&rx, &["PUT", "k", "v3"]);
    let _ = child.kill();
    let _ = child.wait();
}

fn lease_id(granted: &str) -> String {
    // "lease 694d7e5a9d5c0a05 granted with TTL(60s)"
    granted
        .split_whitespace()
        .nth(1)
        .expect("lease id")
        .to_string()
}

#[test]
fn leases_grant_keep_alive_time_to_live_list_and_revoke() {
    let m = started();
    let out = m.must(&["lease", "grant", "60"]);
    assert!(out.ends_with("granted with TTL(60s)\n"), "{out}");
    let id = lease_id(&out);
    m.must(&["put", "--lease", &id, "lk", "v"]);
    let ttl = m.must(&["lease", "timetolive", &id, "--keys"]);
    assert!(
        ttl.starts_with(&format!("lease {id} granted with TTL(60s), remaining(")),
        "{ttl}"
    );
    assert!(ttl.trim_end().ends_with("attached keys([lk])"), "{ttl}");
    let list = m.must(&["lease", "list"]);
    assert_eq!(list, format!("found 1 leases\n{id}\n"));
    assert_eq!(
        m.must(&["lease", "keep-alive", "--once", &id]),
        format!("lease {id} keepalived with TTL(60)\n")
    );
    assert_eq!(
        m.must(&["lease", "revoke", &id]),
        format!("lease {id} revoked\n")
    );
    assert_eq!(m.must(&["get", "lk"]), "", "revoke deletes attached keys");
    assert_eq!(
        m.must(&["lease", "timetolive", &id]),
        format!("lease {id} already expired\n")
    );
    let missing = m.etcdctl(&["lease", "revoke", &id]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("requested lease not found"));
}

#[test]
fn a_lease_that_is_not_kept_alive_expires_and_takes_its_keys() {
    let m = started();
    let id = lease_id(&m.must(&["lease", "grant", "2"]));
    m.must(&["put", "--lease", &id, "short", "v"]);
    assert_eventually!(
        m.must(&["get", "short"]).is_empty(),
        Duration::from_secs(15),
        "lease {id} never expired"
    );
}

#[test]
fn endpoint_status_and_health() {
    let m = started();
    // etcdctl prints the health line on stderr
    let out = m.etcdctl(&["endpoint", "health"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("is healthy"),
        "{text}"
    );
    let v = json(&m.must(&["endpoint", "status", "-w", "json"]));
    let status = &v[0]["Status"];
    assert_eq!(status["leader"], status["header"]["member_id"], "{v}");
    assert!(status["raftTerm"].as_u64().unwrap_or(0) >= 1, "{v}");
    assert!(status["dbSize"].as_u64().unwrap_or(0) > 0, "{v}");
    assert!(status["raftIndex"].as_u64().unwrap_or(0) >= 1, "{v}");
    let metrics = std::process::Command::new("curl")
        .args([
            "-sf",
            &format!("http://127.0.0.1:{}/metrics", m.metrics_port),
        ])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&metrics.stdout);
    for name in [
        "rudder_store_raft_term",
        "rudder_store_wal_fsync_duration_seconds",
        "rudder_store_proposals_applied_total",
        "rudder_store_watchers",
    ] {
        assert!(text.contains(name), "/metrics lacks {name}:\n{text}");
    }
}

#[test]
fn compaction_makes_old_revisions_unreadable() {
    let m = started();
    m.must(&["put", "c", "1"]); // 2
    m.must(&["put", "c", "2"]); // 3
    m.must(&["put", "c", "3"]); // 4
    assert_eq!(m.must(&["compaction", "3"]), "compacted revision 3\n");
    let old = m.etcdctl(&["get", "c", "--rev", "2"]);
    assert!(!old.status.success());
    assert!(
        String::from_utf8_lossy(&old.stderr)
            .contains("etcdserver: mvcc: required revision has been compacted"),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
    assert_eq!(
        m.must(&["get", "c", "--rev", "3", "--print-value-only"]),
        "2\n"
    );
}

#[test]
fn snapshot_save_writes_a_file() {
    let m = started();
    m.must(&["put", "s", "v"]);
    let path = m.dir.join("backup.db");
    let out = m.must(&["snapshot", "save", &path.display().to_string()]);
    assert!(out.contains("Snapshot saved at"), "{out}");
    assert!(
        std::fs::metadata(&path)
            .map(|md| md.len() > 0)
            .unwrap_or(false)
    );
}

#[test]
fn a_client_without_a_certificate_is_refused() {
    let m = started();
    let ca = m.layout().ca_cert();
    let out = std::process::Command::new(common::ETCDCTL)
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", m.endpoint()))
        .arg(format!("--cacert={}", ca.display()))
        .args(["--dial-timeout=2s", "--command-timeout=3s", "get", "foo"])
        .output()
        .expect("etcdctl");
    assert!(
        !out.status.success(),
        "a request without a client certificate succeeded"
    );
}

#[test]
fn sigterm_stops_cleanly_and_data_survives_a_restart() {
    let mut m = started();
    m.must(&["put", "durable", "yes"]);
    assert!(m.stop().success(), "exit status; log:\n{}", m.log());
    m.start();
    assert_eq!(m.must(&["get", "durable", "--print-value-only"]), "yes\n");
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let mut m = started();
    for i in 0..20 {
        m.must(&["put", &format!("k{i:02}"), &i.to_string()]);
    }
    m.kill();
    m.start();
    let v = json(&m.must(&["get", "--prefix", "k", "-w", "json"]));
    assert_eq!(v["count"], 20, "{v}");
}

#[test]
fn member_list_names_this_member() {
    let m = started();
    // the member publishes its client URLs through raft once it runs, as etcd's does
    let list = || json(&m.must(&["member", "list", "-w", "json"]));
    assert_eventually!(
        list()["members"][0]["clientURLs"][0] == m.endpoint().as_str(),
        Duration::from_secs(10),
        "the member never published its client URLs: {}",
        list()
    );
    let v = list();
    let members = v["members"].as_array().expect("members");
    assert_eq!(members.len(), 1, "{v}");
    assert_eq!(members[0]["name"], "default");
    assert_eq!(members[0]["clientURLs"][0], m.endpoint());
    assert_eq!(members[0]["ID"], v["header"]["member_id"]);
}

/// `etcdctl check perf --load=s` against one member (50 clients at 150 writes/s for 60 s;
/// fails when the slowest request takes ≥ 0.5 s, the stddev ≥ 0.1 s or the rate < 90%).
/// It judges the machine as much as the server, so a real etcd runs it first as a control:
/// rudder-store must pass wherever etcd passes. Needs an idle machine, so `make test` runs
/// it alone once every other test is done:
/// `cargo test -p rudder-store --test etcdctl check_perf -- --ignored`
/// (`make bench-store` prints both verdicts too, on release builds).
#[test]
#[ignore = "two 60 s latency benchmarks that need an idle machine: `make test` runs them alone, last"]
fn check_perf_passes_where_etcd_passes() {
    let check_perf = |m: &Member| {
        let out = m
            .etcdctl_cmd(&["check", "perf", "--load=s"])
            .env_remove("ETCDCTL_COMMAND_TIMEOUT")
            .output()
            .expect("etcdctl check perf");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // the progress bar redraws with carriage returns; keep the verdict lines
        let verdict: Vec<&str> = text
            .split(['\r', '\n'])
            .filter(|l| l.contains("PASS") || l.contains("FAIL") || l.contains("Slowest"))
            .collect();
        (
            out.status.success() && !text.contains("FAIL"),
            verdict.join("\n"),
        )
    };
    let (etcd_passed, etcd) = {
        let mut m = Member::etcd();
        m.start();
        check_perf(&m)
    };
    let (passed, ours) = check_perf(&started());
    eprintln!("etcd:\n{etcd}\nrudder-store:\n{ours}");
    assert!(
        etcd_passed,
        "the machine is too busy for check perf: etcd fails it too\netcd:\n{etcd}\nrudder-store:\n{ours}"
    );
    assert!(
        passed,
        "etcd passes, rudder-store fails\netcd:\n{etcd}\nrudder-store:\n{ours}"
    );
}

/// The same writes on a real etcd 3.4 and on rudder-store give the same `endpoint hashkv`,
/// now, at an older revision and after a compaction.
#[test]
fn hashkv_equals_etcds() {
    let members = [started(), {
        let mut etcd = Member::etcd();
        etcd.start();
        etcd
    }];
    let hash = |m: &Member, rev: &str| {
        let v = json(&m.must(&["endpoint", "hashkv", "--rev", rev, "-w", "json"]));
        v[0]["HashKV"]["hash"]
            .as_u64()
            .unwrap_or_else(|| panic!("no hash: {v}"))
    };
    let mut seen = Vec::new();
    for m in &members {
        m.must(&["put", "a", "1"]);
        m.must(&["put", "b", "2"]);
        m.must(&["put", "a", "3"]);
        m.must(&["put", "/dir/x", ""]);
        m.must(&["put", "/dir/y", "y"]);
        m.must(&["del", "b"]);
        m.must_txn("value(\"a\") = \"3\"\n\nput a 4\nput c 5\ndel /dir/x\n\n\n");
        m.must(&["del", "--prefix", "/dir"]);
        m.must(&["put", "b", "again"]);
        let before = (hash(m, "0"), hash(m, "5"));
        m.must(&["compaction", "8"]);
        m.must(&["put", "a", "after"]);
        seen.push((before, hash(m, "0"), hash(m, "9")));
    }
    assert_eq!(seen[0], seen[1], "rudder-store's hashes, then etcd's");
}
