//! `rudderadm down`: stops the cluster an `up` runs from `--dir`, from any shell. Asks
//! that `up` to stop (SIGTERM), which stops its components in order; then makes sure
//! no component is left, even one an `up` killed with SIGKILL could not stop.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::cluster::pids;
use crate::cluster::plan::ClusterDirs;

/// How long `up` may take to stop its components.
const STOP_DEADLINE: Duration = Duration::from_secs(30);
/// Components `down` looks for when cleaning up after an `up` that is gone.
const COMPONENTS: [&str; 2] = ["rudder-apiserver", "rudder-store"];

/// Flags of `rudderadm down`.
#[derive(Debug, Clone, Args)]
pub struct DownArgs {
    /// Directory of the cluster, as given to `up`.
    #[arg(
        long,
        env = "RUDDER_DIR",
        value_name = "DIR",
        default_value = ".rudder"
    )]
    pub dir: PathBuf,
}

pub fn run(args: &DownArgs) -> anyhow::Result<()> {
    let dirs = ClusterDirs::new(&args.dir);
    let mut stopped_any = false;

    let supervisor_file = dirs.supervisor_pid_file();
    if let Some(pid) = pids::read(&supervisor_file)
        && pids::is_running(pid, "rudderadm")
    {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        if !wait_gone(pid, "rudderadm", STOP_DEADLINE) {
            bail!(
                "rudderadm up (pid {pid}) is still running {}s after SIGTERM",
                STOP_DEADLINE.as_secs()
            );
        }
        stopped_any = true;
    }
    let _ = fs::remove_file(&supervisor_file);

    for name in COMPONENTS {
        let file = dirs.component_pid_file(name);
        if let Some(pid) = pids::read(&file)
            && pids::is_running(pid, name)
        {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            wait_gone(pid, name, Duration::from_secs(5));
            println!("[down] killed a leftover {name} (pid {pid})");
            stopped_any = true;
        }
        let _ = fs::remove_file(&file);
    }

    if stopped_any {
        println!(
            "[down] cluster in {} stopped; its data stays",
            args.dir.display()
        );
    } else {
        println!("[down] no cluster is running from {}", args.dir.display());
    }
    Ok(())
}

fn wait_gone(pid: i32, name: &str, deadline: Duration) -> bool {
    let until = Instant::now() + deadline;
    while pids::is_running(pid, name) {
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}
