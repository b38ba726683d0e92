//! The subcommands, one file each: clap arguments beside the code that runs them.

pub mod compare;
pub mod store;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::Result;

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
    /// Put the JSON results of `store --json` runs side by side in one table.
    Compare(compare::CompareArgs),
}

impl Cli {
    /// Runs the chosen subcommand; the exit code says whether it met its bar.
    pub async fn run(self) -> Result<ExitCode> {
        match self.command {
            Command::Store(args) => store::run(args).await,
            Command::Compare(args) => compare::run(&args),
        }
    }
}
