//! Runs the planned components as child processes: checks the ports are free, starts
//! each in turn once the one before it is healthy, sends their output to log files,
//! and stops them in reverse order, SIGTERM first and SIGKILL after a grace period.

use std::fs::{self, File, OpenOptions};
use std::net::TcpListener;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use super::plan::{ClusterDirs, ComponentSpec};
use super::probe::probe;

/// How often `up` asks a starting component whether it is healthy.
const PROBE_INTERVAL: Duration = Duration::from_millis(200);

/// A started component.
struct Running {
    spec: ComponentSpec,
    child: Child,
}

/// The running cluster: its children, in start order.
pub struct Supervisor {
    dirs: ClusterDirs,
    running: Vec<Running>,
}

/// Fails with one line naming the first port some other process holds.
pub fn check_ports_free(specs: &[ComponentSpec]) -> anyhow::Result<()> {
    for spec in specs {
        for (port, what) in &spec.ports {
            if let Err(err) = TcpListener::bind(("127.0.0.1", *port)) {
                bail!(
                    "port {port} ({what}) is not free: {err}; is another cluster running? (rudderadm down)"
                );
            }
        }
    }
    Ok(())
}

/// Fails with one line naming the first program that is missing.
pub fn check_programs_exist(specs: &[ComponentSpec]) -> anyhow::Result<()> {
    for spec in specs {
        if !spec.program.is_file() {
            bail!(
                "{} not found at {}; build the binaries first (make release)",
                spec.name,
                spec.program.display()
            );
        }
    }
    Ok(())
}

impl Supervisor {
    pub fn new(dirs: ClusterDirs) -> Self {
        Supervisor {
            dirs,
            running: Vec::new(),
        }
    }

    /// Starts `spec` and waits until its health check passes, or fails with a line
    /// pointing at its log when it exits or the deadline passes first.
    pub async fn start(&mut self, spec: ComponentSpec, deadline: Duration) -> anyhow::Result<()> {
        let log_path = self.dirs.log_file(spec.name);
        let log = open_log(&log_path)?;
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own process group: a Ctrl-C in the terminal reaches only rudderadm,
            // which then stops the components in order.
            .process_group(0)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", spec.program.display()))?;
        if let Some(pid) = child.id() {
            fs::write(self.dirs.component_pid_file(spec.name), format!("{pid}\n"))?;
        }
        let name = spec.name;
        let check = spec.health.clone();
        self.running.push(Running { spec, child });

        let until = Instant::now() + deadline;
        loop {
            let last = match probe(&check).await {
                Ok(()) => return Ok(()),
                Err(err) => err,
            };
            let running = self.running.last_mut().expect("just pushed");
            if let Some(status) = running.child.try_wait()? {
                bail!(
                    "{name} exited ({status}) while starting; see {}",
                    log_path.display()
                );
            }
            if Instant::now() >= until {
                bail!(
                    "{name} is not healthy after {}s ({last:#}); see {}",
                    deadline.as_secs(),
                    log_path.display()
                );
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    /// Waits until some component exits on its own, and says which and how.
    pub async fn first_exit(&mut self) -> (&'static str, std::io::Result<ExitStatus>) {
        if self.running.is_empty() {
            return std::future::pending().await;
        }
        let waits = self
            .running
            .iter_mut()
            .map(|r| Box::pin(async move { (r.spec.name, r.child.wait().await) }));
        futures::future::select_all(waits).await.0
    }

    /// Stops every component, the last started first: SIGTERM, then SIGKILL for one
    /// still running after `grace`. Removes the pid files.
    pub async fn stop(mut self, grace: Duration) {
        while let Some(mut running) = self.running.pop() {
            let name = running.spec.name;
            if let Some(pid) = running.child.id() {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
            }
            match tokio::time::timeout(grace, running.child.wait()).await {
                Ok(_) => eprintln!("[up] stopped {name}"),
                Err(_) => {
                    let _ = running.child.kill().await;
                    eprintln!(
                        "[up] killed {name}: still running {}s after SIGTERM",
                        grace.as_secs()
                    );
                }
            }
            let _ = fs::remove_file(self.dirs.component_pid_file(name));
        }
    }
}

fn open_log(path: &std::path::Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|err| anyhow!("cannot write {}: {err}", path.display()))
}
