//! `rudderadm certs` run as a real binary: the kubeadm layout, modes, re-runs,
//! `--force`, errors, and kubeconfigs the real kubectl accepts.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use rudder_pki::kubeconfig::Kubeconfig;
use rudder_pki::{Identity, IssuedCert};

const KUBECTL: &str = "/usr/bin/kubectl";

fn rudderadm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rudderadm"))
        .args(args)
        .env_clear()
        .output()
        .unwrap()
}

fn certs(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["certs", "--dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    rudderadm(&args)
}

#[track_caller]
fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "rudderadm failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Asserts exit code 2 and exactly one line on stderr; returns that line.
#[track_caller]
fn assert_one_line_failure(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "stderr is not one line: {stderr:?}"
    );
    stderr.trim_end().to_string()
}

/// Every file under `dir` with its bytes and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let modified = fs::metadata(&path).unwrap().modified().unwrap();
                files.insert(path.clone(), (fs::read(&path).unwrap(), modified));
            }
        }
    }
    files
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn identity_of(cert: &Path) -> Identity {
    IssuedCert::load(cert, &cert.with_extension("key"))
        .unwrap()
        .identity()
        .unwrap()
}

#[test]
fn certs_writes_the_kubeadm_layout_with_private_files_0600() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let output = certs(
        d,
        &[
            "--node",
            "node-1",
            "--store-member",
            "s1,s2",
            "--store-san",
            "store.example",
        ],
    );
    assert_success(&output);

    let public = [
        "pki/ca.crt",
        "pki/apiserver.crt",
        "pki/apiserver-etcd-client.crt",
        "pki/apiserver-kubelet-client.crt",
        "pki/sa.pub",
        "pki/store/s1.crt",
        "pki/store/s2.crt",
        "pki/admin.crt",
        "pki/kubelet-node-1.crt",
    ];
    let private = [
        "pki/ca.key",
        "pki/apiserver.key",
        "pki/apiserver-etcd-client.key",
        "pki/apiserver-kubelet-client.key",
        "pki/sa.key",
        "pki/store/s1.key",
        "pki/store/s2.key",
        "pki/admin.key",
        "pki/controller-manager.key",
        "pki/scheduler.key",
        "pki/proxy.key",
        "pki/kubelet-node-1.key",
        "admin.conf",
        "controller-manager.conf",
        "scheduler.conf",
        "proxy.conf",
        "kubelet-node-1.conf",
    ];
    for file in public {
        assert_eq!(mode(&d.join(file)), 0o644, "{file}");
    }
    for file in private {
        assert_eq!(mode(&d.join(file)), 0o600, "{file}");
    }
    assert!(!d.join("pki/store/default.crt").exists());

    let expected = [
        ("admin", "admin", &["system:masters"][..]),
        ("controller-manager", "system:kube-controller-manager", &[]),
        ("scheduler", "system:kube-scheduler", &[]),
        ("proxy", "system:kube-proxy", &[]),
        ("kubelet-node-1", "system:node:node-1", &["system:nodes"]),
        ("apiserver-etcd-client", "kube-apiserver-etcd-client", &[]),
        (
            "apiserver-kubelet-client",
            "kube-apiserver-kubelet-client",
            &[],
        ),
    ];
    for (name, user, groups) in expected {
        let cert = d.join(format!("pki/{name}.crt"));
        assert_eq!(
            identity_of(&cert),
            Identity::new(user, groups.iter().copied())
        );
    }
    let credentials = Kubeconfig::load(&d.join("kubelet-node-1.conf"))
        .unwrap()
        .client_credentials()
        .unwrap();
    assert_eq!(credentials.server, "https://127.0.0.1:6443");
    assert_eq!(
        credentials.tls.identity().unwrap(),
        Identity::new("system:node:node-1", ["system:nodes"])
    );
}

#[test]
fn rerunning_keeps_every_file_and_force_replaces_them() {
    let dir = tempfile::tempdir().unwrap();
    assert_success(&certs(dir.path(), &[]));
    let first = snapshot(dir.path());

    assert_success(&certs(dir.path(), &[]));
    assert_eq!(snapshot(dir.path()), first, "a re-run changed files");

    assert_success(&certs(dir.path(), &["--force"]));
    let forced = snapshot(dir.path());
    assert_eq!(
        forced.keys().collect::<Vec<_>>(),
        first.keys().collect::<Vec<_>>()
    );
    for (path, (bytes, _)) in &first {
        assert_ne!(&forced[path].0, bytes, "--force kept {}", path.display());
    }
}

#[test]
fn a_node_added_later_gets_its_files_and_nothing_else_changes() {
    let dir = tempfile::tempdir().unwrap();
    assert_success(&certs(dir.path(), &[]));
    let before = snapshot(dir.path());

    assert_success(&certs(dir.path(), &["--node", "late"]));

    let after = snapshot(dir.path());
    for (path, content) in &before {
        assert_eq!(&after[path], content, "{} changed", path.display());
    }
    let added: Vec<_> = after
        .keys()
        .filter(|path| !before.contains_key(*path))
        .map(|path| path.strip_prefix(dir.path()).unwrap().to_path_buf())
        .collect();
    assert_eq!(
        added,
        [
            PathBuf::from("kubelet-late.conf"),
            PathBuf::from("pki/kubelet-late.crt"),
            PathBuf::from("pki/kubelet-late.key"),
        ]
    );
}

#[test]
fn flags_also_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_rudderadm"))
        .arg("certs")
        .env_clear()
        .env("RUDDER_DIR", dir.path())
        .env("RUDDER_NODES", "a,b")
        .env("RUDDER_SERVER", "https://10.0.0.7:6443")
        .output()
        .unwrap();
    assert_success(&output);

    assert!(dir.path().join("kubelet-a.conf").exists());
    assert!(dir.path().join("kubelet-b.conf").exists());
    let admin = Kubeconfig::load(&dir.path().join("admin.conf")).unwrap();
    assert_eq!(admin.clusters[0].cluster.server, "https://10.0.0.7:6443");
}

#[test]
fn an_unknown_flag_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let line = assert_one_line_failure(&certs(dir.path(), &["--no-such-flag"]));
    assert!(line.contains("--no-such-flag"), "{line}");
}

#[test]
fn a_corrupt_ca_key_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_success(&certs(dir.path(), &[]));
    let ca_key = dir.path().join("pki/ca.key");
    fs::write(&ca_key, "garbage\n").unwrap();

    let line = assert_one_line_failure(&certs(dir.path(), &["--node", "n1"]));

    assert!(line.contains("ca.key"), "{line}");
    assert!(!dir.path().join("kubelet-n1.conf").exists());
}

#[test]
fn a_missing_ca_key_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_success(&certs(dir.path(), &[]));
    fs::remove_file(dir.path().join("pki/ca.key")).unwrap();

    let line = assert_one_line_failure(&certs(dir.path(), &[]));

    assert!(line.contains("ca.key is missing"), "{line}");
}

#[test]
fn a_rerun_that_contradicts_kept_files_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_success(&certs(dir.path(), &[]));
    let before = snapshot(dir.path());

    let new_san = certs(dir.path(), &["--apiserver-san", "new.example"]);
    let line = assert_one_line_failure(&new_san);
    assert!(
        line.contains("apiserver.crt: exists without SANs new.example"),
        "{line}"
    );

    // localhost is in the API server certificate already: only the kubeconfigs differ.
    let moved = certs(dir.path(), &["--server", "https://localhost:7443"]);
    let line = assert_one_line_failure(&moved);
    assert!(line.contains("admin.conf"), "{line}");
    assert!(line.contains("https://127.0.0.1:6443"), "{line}");

    assert_eq!(snapshot(dir.path()), before);
    assert_success(&certs(
        dir.path(),
        &["--force", "--apiserver-san", "new.example"],
    ));
}

#[test]
fn a_bad_name_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let line = assert_one_line_failure(&certs(dir.path(), &["--node", "../escape"]));
    assert!(line.contains("invalid node name"), "{line}");
}

fn kubectl(args: &[&str]) -> Option<Output> {
    if !Path::new(KUBECTL).exists() {
        eprintln!(
            "!!!!!!!! SKIPPED: {KUBECTL} is not installed; kubeconfigs were not checked with kubectl !!!!!!!!"
        );
        return None;
    }
    Some(Command::new(KUBECTL).args(args).output().unwrap())
}

#[test]
fn the_real_kubectl_accepts_the_generated_kubeconfigs() {
    let dir = tempfile::tempdir().unwrap();
    assert_success(&certs(dir.path(), &["--node", "node-1"]));

    for (file, user) in [
        ("admin.conf", "admin"),
        ("kubelet-node-1.conf", "system:node:node-1"),
    ] {
        let conf = dir.path().join(file);
        let conf = conf.to_str().unwrap();
        let Some(view) = kubectl(&["config", "view", "--raw", "--kubeconfig", conf]) else {
            return;
        };
        let view_text = String::from_utf8_lossy(&view.stdout);
        assert!(
            view.status.success(),
            "{}",
            String::from_utf8_lossy(&view.stderr)
        );
        assert!(view_text.contains(&format!("name: {user}")), "{view_text}");
        assert!(view_text.contains("name: rudder"), "{view_text}");
        assert!(
            view_text.contains("server: https://127.0.0.1:6443"),
            "{view_text}"
        );
        assert!(
            view_text.contains(&format!("current-context: {user}@rudder")),
            "{view_text}"
        );
        assert!(view_text.contains("client-key-data: "), "{view_text}");

        let Some(version) = kubectl(&["--kubeconfig", conf, "version", "--client"]) else {
            return;
        };
        assert!(
            version.status.success(),
            "kubectl version --client: {}",
            String::from_utf8_lossy(&version.stderr)
        );
    }
}
