//! `rudderadm up`: a single-node cluster on this machine. Makes the certificates if
//! missing, starts every Rudder component built beside rudderadm as a child process,
//! waits until each is healthy, and runs until Ctrl-C, SIGTERM or `rudderadm down`,
//! then stops them all. Data stays in `--dir` for the next `up`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use rudder_pki::certs::{CertsOptions, write_cluster_certs};
use tokio::signal::unix::{SignalKind, signal};

use crate::cluster::pids;
use crate::cluster::plan::{ClusterDirs, ComponentSpec, Ports, plan};
use crate::cluster::supervisor::{Supervisor, check_ports_free, check_programs_exist};

/// How long a component may take to become healthy.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long a component may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Flags of `rudderadm up`.
#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Directory of the cluster: certificates, kubeconfigs, data, logs.
    #[arg(
        long,
        env = "RUDDER_DIR",
        value_name = "DIR",
        default_value = ".rudder"
    )]
    pub dir: PathBuf,

    /// Where the component binaries are [default: the directory of rudderadm].
    #[arg(long, env = "RUDDER_BIN_DIR", value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,

    /// API server port.
    #[arg(long, env = "RUDDER_APISERVER_PORT", default_value_t = Ports::default().apiserver)]
    pub apiserver_port: u16,

    /// Store client port (etcd v3 API).
    #[arg(long, env = "RUDDER_STORE_CLIENT_PORT", default_value_t = Ports::default().store_client)]
    pub store_client_port: u16,

    /// Store peer port (raft).
    #[arg(long, env = "RUDDER_STORE_PEER_PORT", default_value_t = Ports::default().store_peer)]
    pub store_peer_port: u16,

    /// Store metrics and health port (plain HTTP, loopback).
    #[arg(long, env = "RUDDER_STORE_METRICS_PORT", default_value_t = Ports::default().store_metrics)]
    pub store_metrics_port: u16,
}

impl UpArgs {
    fn ports(&self) -> Ports {
        Ports {
            store_client: self.store_client_port,
            store_peer: self.store_peer_port,
            store_metrics: self.store_metrics_port,
            apiserver: self.apiserver_port,
        }
    }
}

pub fn run(args: &UpArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(up(args))
}

async fn up(args: &UpArgs) -> anyhow::Result<()> {
    let dirs = ClusterDirs::new(&args.dir);
    let ports = args.ports();
    prepare_dirs(&dirs)?;
    if let Some(pid) = pids::read(&dirs.supervisor_pid_file())
        && pids::is_running(pid, "rudderadm")
    {
        bail!(
            "a cluster is already running from {} (rudderadm pid {pid}); stop it with: rudderadm down --dir {}",
            args.dir.display(),
            args.dir.display()
        );
    }

    let mut certs = CertsOptions::new(&args.dir);
    certs.server_url = ports.server_url();
    let report = write_cluster_certs(&certs)?;
    if !report.written.is_empty() {
        println!(
            "[up] wrote certificates and kubeconfigs in {}",
            args.dir.display()
        );
    }

    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => own_dir()?,
    };
    let specs = plan(&dirs, &bin_dir, ports, &|path: &Path| path.is_file());
    check_programs_exist(&specs)?;
    check_ports_free(&specs)?;

    fs::write(
        dirs.supervisor_pid_file(),
        format!("{}\n", std::process::id()),
    )?;
    let outcome = supervise(&dirs, ports, specs).await;
    let _ = fs::remove_file(dirs.supervisor_pid_file());
    outcome
}

/// Starts the components, prints how to reach them, and waits for the end.
async fn supervise(
    dirs: &ClusterDirs,
    ports: Ports,
    specs: Vec<ComponentSpec>,
) -> anyhow::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut supervisor = Supervisor::new(dirs.clone());
    let names: Vec<&str> = specs.iter().map(|s| s.name).collect();

    for spec in specs {
        println!("[up] starting {}", spec.name);
        let name = spec.name;
        let started = tokio::select! {
            started = supervisor.start(spec, START_DEADLINE) => started,
            _ = interrupt.recv() => Err(anyhow::anyhow!("interrupted while starting {name}")),
            _ = terminate.recv() => Err(anyhow::anyhow!("terminated while starting {name}")),
        };
        if let Err(err) = started {
            supervisor.stop(STOP_GRACE).await;
            return Err(err);
        }
    }
    print_welcome(dirs, ports, &names);

    let outcome = tokio::select! {
        _ = interrupt.recv() => Ok(()),
        _ = terminate.recv() => Ok(()),
        (name, status) = supervisor.first_exit() => {
            let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
            Err(anyhow::anyhow!("{name} exited ({status}); see {}", dirs.log_file(name).display()))
        }
    };
    println!("[up] stopping the cluster");
    supervisor.stop(STOP_GRACE).await;
    outcome
}

fn print_welcome(dirs: &ClusterDirs, ports: Ports, names: &[&str]) {
    let dir = dirs.dir.display();
    println!("[up] cluster is up: {}", names.join(", "));
    println!("[up] logs: {}", dirs.logs().display());
    println!(
        "[up] admin kubeconfig: {}",
        dirs.admin_kubeconfig().display()
    );
    println!();
    if names.contains(&"rudder-apiserver") {
        println!(
            "  kubectl --kubeconfig {} get namespaces",
            dirs.admin_kubeconfig().display()
        );
    }
    println!(
        "  ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:{} --cacert={dir}/pki/ca.crt \\\n    --cert={dir}/pki/apiserver-etcd-client.crt --key={dir}/pki/apiserver-etcd-client.key endpoint status -w table",
        ports.store_client
    );
    println!();
    println!("[up] Ctrl-C or `rudderadm down --dir {dir}` stops it; data stays in {dir}/data");
}

fn prepare_dirs(dirs: &ClusterDirs) -> anyhow::Result<()> {
    for dir in [
        dirs.dir.clone(),
        dirs.logs(),
        dirs.run(),
        dirs.dir.join("data"),
    ] {
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let probe = dirs.run().join(".writable");
    fs::write(&probe, b"").with_context(|| format!("cannot write in {}", dirs.run().display()))?;
    let _ = fs::remove_file(probe);
    Ok(())
}

fn own_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot tell where rudderadm is")?;
    Ok(exe.parent().map(Path::to_path_buf).unwrap_or_default())
}
