//! The subcommands, one file each: clap arguments beside the code that runs them.

pub mod apiserver;
pub mod compare;
pub mod store;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::driver::Bound;
use crate::{Error, Result};

/// rudder-bench: loads that measure Rudder side by side with a baseline.
#[derive(Debug, Parser)]
#[command(name = "rudder-bench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What to run.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load an etcd v3 endpoint (rudder-store or etcd): puts at several concurrencies,
    /// then linearizable single-key ranges; prints ops/s and latency percentiles.
    Store(store::StoreArgs),
    /// Load a Kubernetes API server over HTTPS: pod create/get/update at several
    /// concurrencies, 10,000-pod lists from the cache and from quorum, watch fan-out.
    Apiserver(apiserver::ApiserverArgs),
    /// Put the JSON results of `store --json` or `apiserver --json` runs side by side
    /// in one table.
    Compare(compare::CompareArgs),
}

impl Cli {
    /// Runs the chosen subcommand; the exit code says whether it met its bar.
    pub async fn run(self) -> Result<ExitCode> {
        match self.command {
            Command::Store(args) => store::run(args).await,
            Command::Apiserver(args) => apiserver::run(args).await,
            Command::Compare(args) => compare::run(&args),
        }
    }
}

/// The bound of a phase from `--total` and `--duration` (clap keeps them apart):
/// 10 s when neither is given.
pub fn phase_bound(total: Option<u64>, duration: Option<Duration>) -> Result<Bound> {
    match (total, duration) {
        (Some(0), _) => Err(Error::Invalid("--total must be at least 1".into())),
        (Some(total), _) => Ok(Bound::Total(total)),
        (None, Some(d)) if d.is_zero() => Err(Error::Invalid("--duration must be above 0".into())),
        (None, Some(d)) => Ok(Bound::Duration(d)),
        (None, None) => Ok(Bound::Duration(Duration::from_secs(10))),
    }
}
