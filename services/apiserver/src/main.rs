//! `rudder-apiserver`: parse kube-apiserver-style flags, start telemetry, serve until a signal.

use std::process::ExitCode;

use rudder_apiserver::Config;
use rudder_telemetry::TelemetryOptions;
use tokio_util::sync::CancellationToken;

// mimalloc: a request is many small JSON allocations, which glibc malloc serves slowly.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let config = match Config::from_args(std::env::args_os()) {
        Ok(Ok(config)) => config,
        Ok(Err(e)) => return usage_error(&e.to_string()),
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => return usage_error(&e.to_string()),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rudder-apiserver: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rudder-apiserver: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One line on stderr and exit code 2, as for any bad flag.
fn usage_error(message: &str) -> ExitCode {
    let line = message.lines().next().unwrap_or("invalid arguments");
    eprintln!("rudder-apiserver: {}", line.trim_start_matches("error: "));
    ExitCode::from(2)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let _telemetry = rudder_telemetry::init(
        "rudder-apiserver",
        TelemetryOptions::with_log_format(config.log_format),
    )?;
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        on_signal.cancel();
    });
    rudder_apiserver::run(config, shutdown).await?;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
