//! `rudder-bench`: parses the command line, runs the subcommand on a tokio runtime, and
//! maps its error to an exit code (64 for flags that cannot describe a run).

use std::process::ExitCode;

use clap::Parser;
use rudder_bench::commands::Cli;

// mimalloc, as the servers use: the load generator shares their CPUs, so it should spend little.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("rudder-bench: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rudder-bench: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
