//! `rudder-store`: parse etcd-style flags, start telemetry, run the member until a signal.

use std::process::ExitCode;

use rudder_store::Config;
use rudder_telemetry::TelemetryOptions;
use tokio_util::sync::CancellationToken;

// mimalloc: many small per-request allocations (gRPC, raft entries), served faster than by glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let config = match Config::from_args(std::env::args_os()) {
        Ok(config) => config,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let msg = e.to_string();
            let line = msg.lines().next().unwrap_or("invalid arguments");
            eprintln!("rudder-store: {}", line.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rudder-store: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rudder-store: {e:#}");
            let bad_config = matches!(
                e.downcast_ref::<rudder_store::Error>(),
                Some(rudder_store::Error::Config(_))
            );
            // 64 (EX_USAGE) for a configuration the server could not use
            ExitCode::from(if bad_config { 64 } else { 1 })
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let _telemetry = rudder_telemetry::init(
        "rudder-store",
        TelemetryOptions::with_log_format(config.log_format),
    )?;
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        on_signal.cancel();
    });
    rudder_store::run(config, shutdown).await?;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
