//! `rudder-bench compare`: the one table of `make bench-store` and `make bench-apiserver`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::compare::{Targets, compare, render};
use crate::result::Document;
use crate::{Error, Result};

/// Flags of `rudder-bench compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Result files written by `rudder-bench store --json` or `apiserver --json`.
    #[arg(value_name = "RESULT.json", required = true)]
    pub files: Vec<PathBuf>,
    /// Label of the runs the candidate is held against.
    #[arg(long, default_value = "etcd")]
    pub baseline: String,
    /// Label of the runs being judged.
    #[arg(long, default_value = "rudder")]
    pub candidate: String,
    /// Least candidate ops/s as a multiple of the baseline's [default: 1.0 for store
    /// runs; none for API server runs, which are held to absolute p99 limits].
    #[arg(long, value_name = "RATIO")]
    pub min_throughput_ratio: Option<f64>,
    /// Most candidate p99 as a multiple of the baseline's [default: 1.2 for store runs;
    /// none for API server runs].
    #[arg(long, value_name = "RATIO")]
    pub max_p99_ratio: Option<f64>,
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
        .map(|path| Document::read(path))
        .collect::<Result<Vec<_>>>()?;
    let mut targets = Targets::for_documents(&runs);
    if args.min_throughput_ratio.is_some() {
        targets.min_throughput_ratio = args.min_throughput_ratio;
    }
    if args.max_p99_ratio.is_some() {
        targets.max_p99_ratio = args.max_p99_ratio;
    }
    let comparison = compare(&runs, &args.baseline, &args.candidate, targets);
    print!("{}", render(&comparison));
    Ok(if args.check && comparison.any_failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
