//! The binary's flag handling: etcd's names, one line and exit 2 for what it cannot accept.

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rudder-store"))
        .args(args)
        .env_remove("ETCD_NAME")
        .output()
        .expect("run rudder-store")
}

fn assert_refused(args: &[&str], mentions: &str) {
    let out = run(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line, got: {err}");
    assert!(err.contains(mentions), "{args:?}: {err}");
}

#[test]
fn unknown_and_contradictory_flags_exit_2_with_one_line() {
    assert_refused(&["--no-such-flag"], "--no-such-flag");
    assert_refused(&["--cert-file", "/tmp/x.crt"], "missing");
    assert_refused(
        &["--heartbeat-interval", "500", "--election-timeout", "1000"],
        "--election-timeout",
    );
    assert_refused(&["--initial-cluster-state", "sideways"], "sideways");
}

#[test]
fn help_lists_etcd_flag_names() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--name",
        "--data-dir",
        "--listen-client-urls",
        "--advertise-client-urls",
        "--listen-peer-urls",
        "--initial-advertise-peer-urls",
        "--initial-cluster",
        "--initial-cluster-state",
        "--trusted-ca-file",
        "--cert-file",
        "--key-file",
        "--client-cert-auth",
        "--peer-trusted-ca-file",
        "--peer-cert-file",
        "--peer-key-file",
        "--peer-client-cert-auth",
        "--listen-metrics-urls",
        "--snapshot-count",
        "--heartbeat-interval",
        "--election-timeout",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}
