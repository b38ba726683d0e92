//! `rudderadm`: parses the command line, runs the subcommand, maps the outcome to an
//! exit code (0 success, 2 for a bad command line or a failed command). Errors are one
//! line on stderr.

use std::process::ExitCode;

use clap::Parser;
use rudderadm::{Cli, EXIT_FAILURE, one_line_usage_error};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version are "errors" printed to stdout that succeed.
        Err(err) if !err.use_stderr() => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("{}", one_line_usage_error(&err));
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match rudderadm::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
