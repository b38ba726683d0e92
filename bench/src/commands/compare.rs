//! `rudder-bench compare`: the one table of `make bench-store`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::compare::{Targets, compare, render};
use crate::result::RunResult;
use crate::{Error, Result};

/// Flags of `rudder-bench compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Result files written by `rudder-bench store --json`.
    #[arg(value_name = "RESULT.json", required = true)]
    pub files: Vec<PathBuf>,
    /// Label of the runs the candidate is held against.
    #[arg(long, default_value = "etcd")]
    pub baseline: String,
    /// Label of the runs being judged.
    #[arg(long, default_value = "rudder")]
    pub candidate: String,
    /// Least candidate ops/s as a multiple of the baseline's.
    #[arg(long, value_name = "RATIO", default_value_t = Targets::default().min_throughput_ratio)]
    pub min_throughput_ratio: f64,
    /// Most candidate p99 as a multiple of the baseline's.
    #[arg(long, value_name = "RATIO", default_value_t = Targets::default().max_p99_ratio)]
    pub max_p99_ratio: f64,
    /// Exit 1 when a row misses its targets (the table is printed either way).
    #[arg(long)]
    pub check: bool,
}

/// Reads every file, prints the table, and with `--check` fails on a missed target.
pub fn run(args: &CompareArgs) -> Result<ExitCode> {
    if args.baseline == args.candidate {
        return Err(Error::Invalid(
            "--baseline and --candidate must differ".into(),
        ));
    }
    let runs = args
        .files
        .iter()
        .map(|path| RunResult::read(path))
        .collect::<Result<Vec<_>>>()?;
    let targets = Targets {
        min_throughput_ratio: args.min_throughput_ratio,
        max_p99_ratio: args.max_p99_ratio,
    };
    let comparison = compare(&runs, &args.baseline, &args.candidate, targets);
    print!("{}", render(&comparison));
    Ok(if args.check && comparison.any_failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
