//! `rudderadm up` and `down` with the real component binaries: the cluster comes up,
//! the real etcdctl reaches the store through the generated certificates, `down` from
//! another process stops everything, and a second `up` finds the data of the first.
//!
//! The component binaries are the workspace's, built beside rudderadm by
//! `cargo test --workspace` (what `make test` runs).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const RUDDERADM: &str = env!("CARGO_BIN_EXE_rudderadm");

fn bin_dir() -> PathBuf {
    Path::new(RUDDERADM).parent().unwrap().to_path_buf()
}

use rudder_testkit::free_port;

struct Ports {
    apiserver: u16,
    client: u16,
    peer: u16,
    metrics: u16,
}

/// A running `rudderadm up`, its stdout lines arriving on a channel.
struct Up {
    child: Child,
    lines: mpsc::Receiver<String>,
    dir: PathBuf,
}

impl Up {
    fn start(dir: &Path, ports: &Ports) -> Up {
        let store = bin_dir().join("rudder-store");
        assert!(
            store.is_file(),
            "{} is missing: build the workspace binaries first (make test does)",
            store.display()
        );
        let mut child = Command::new(RUDDERADM)
            .arg("up")
            .arg("--dir")
            .arg(dir)
            .arg("--bin-dir")
            .arg(bin_dir())
            .arg(format!("--apiserver-port={}", ports.apiserver))
            .arg(format!("--store-client-port={}", ports.client))
            .arg(format!("--store-peer-port={}", ports.peer))
            .arg(format!("--store-metrics-port={}", ports.metrics))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Up {
            child,
            lines,
            dir: dir.to_path_buf(),
        }
    }

    /// Waits for the last line of the welcome `up` prints once every component is
    /// healthy; fails on exit or deadline.
    fn wait_up(&mut self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    let done = line.starts_with("[up] Ctrl-C");
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("rudderadm up exited ({status}) before the cluster was up: {seen:?}");
            }
        }
        panic!("the cluster was not up in time: {seen:?}");
    }

    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "rudderadm up still running");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Up {
    /// A failed test must not leave components behind: `down` stops them through the
    /// pid files (killing `up` alone would orphan them in their own process group).
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = down(&self.dir);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn etcdctl(dir: &Path, port: u16, args: &[&str]) -> Output {
    let pki = dir.join("pki");
    Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints=https://127.0.0.1:{port}"))
        .arg(format!("--cacert={}", pki.join("ca.crt").display()))
        .arg(format!(
            "--cert={}",
            pki.join("apiserver-etcd-client.crt").display()
        ))
        .arg(format!(
            "--key={}",
            pki.join("apiserver-etcd-client.key").display()
        ))
        .arg("--command-timeout=10s")
        .args(args)
        .output()
        .expect("etcdctl runs (Debian etcd-client)")
}

fn down(dir: &Path) -> Output {
    Command::new(RUDDERADM)
        .arg("down")
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap()
}

fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| stat.contains(") Z "))
            .unwrap_or(true)
}

#[test]
fn up_serves_down_stops_everything_and_data_survives_a_second_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    let ports = Ports {
        apiserver: free_port(),
        client: free_port(),
        peer: free_port(),
        metrics: free_port(),
    };

    let mut up = Up::start(&dir, &ports);
    let lines = up.wait_up();
    assert!(
        lines
            .iter()
            .any(|l| l == "[up] cluster is up: rudder-store, rudder-apiserver"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("admin kubeconfig") && l.contains("admin.conf")),
        "{lines:?}"
    );
    assert!(dir.join("admin.conf").is_file());

    // The printed kubeconfig reaches the API server, under RBAC, with both CLIs.
    let kubeconfig = dir.join("admin.conf");
    let namespaces = Command::new(bin_dir().join("rudderctl"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["get", "ns", "-o", "name"])
        .output()
        .unwrap();
    assert!(
        namespaces.status.success(),
        "{}",
        String::from_utf8_lossy(&namespaces.stderr)
    );
    assert!(String::from_utf8_lossy(&namespaces.stdout).contains("namespace/default\n"));
    let can_i = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["auth", "can-i", "delete", "nodes"])
        .output()
        .expect("kubectl runs");
    assert_eq!(String::from_utf8_lossy(&can_i.stdout).trim(), "yes");

    let put = etcdctl(
        &dir,
        ports.client,
        &["put", "/registry/test/kept", "across-restarts"],
    );
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );

    let store_pid: i32 = std::fs::read_to_string(dir.join("run/rudder-store.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pid_alive(store_pid));

    let stopped = down(&dir);
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    assert!(String::from_utf8_lossy(&stopped.stdout).contains("stopped"));
    assert!(up.wait_exit(Duration::from_secs(30)).success());
    assert!(!pid_alive(store_pid), "rudder-store outlived down");
    assert!(!dir.join("run/rudder-store.pid").exists());
    assert!(dir.join("logs/rudder-store.log").is_file());

    // Nothing runs now: a second down says so and succeeds.
    let again = down(&dir);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("no cluster is running"));

    let mut up = Up::start(&dir, &ports);
    up.wait_up();
    let get = etcdctl(
        &dir,
        ports.client,
        &["get", "/registry/test/kept", "--print-value-only"],
    );
    assert_eq!(
        String::from_utf8_lossy(&get.stdout).trim(),
        "across-restarts"
    );
    assert!(down(&dir).status.success());
    assert!(up.wait_exit(Duration::from_secs(30)).success());
}

#[test]
fn a_second_up_on_a_running_cluster_is_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    let ports = Ports {
        apiserver: free_port(),
        client: free_port(),
        peer: free_port(),
        metrics: free_port(),
    };
    let mut up = Up::start(&dir, &ports);
    up.wait_up();

    let second = Command::new(RUDDERADM)
        .arg("up")
        .arg("--dir")
        .arg(&dir)
        .arg("--bin-dir")
        .arg(bin_dir())
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("already running"), "{stderr}");

    assert!(down(&dir).status.success());
    assert!(up.wait_exit(Duration::from_secs(30)).success());
}

#[test]
fn a_port_in_use_is_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(RUDDERADM)
        .arg("up")
        .arg("--dir")
        .arg(tmp.path())
        .arg("--bin-dir")
        .arg(bin_dir())
        .arg(format!("--store-client-port={port}"))
        .arg(format!("--apiserver-port={}", free_port()))
        .arg(format!("--store-peer-port={}", free_port()))
        .arg(format!("--store-metrics-port={}", free_port()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("port {port} (rudder-store client) is not free")),
        "{stderr}"
    );
}
