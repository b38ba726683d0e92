//! `rudderctl`, the kubectl of Rudder: the same verbs, flags, columns and error lines,
//! over the API server's gRPC `Api` service through `rudder_client`.
//!
//! The binary is a thin `main.rs` over [`main_with`]; tests drive the same function
//! in-process with captured output ([`Io`]) and a fixed clock.

pub mod cli;
pub mod commands;
pub mod error;
pub mod manifest;
pub mod output;
pub mod session;

use std::ffi::OsString;

pub use cli::{Cli, Command, GlobalArgs};
pub use error::{Reported, exit_code_and_message};
pub use session::{Io, Session};

/// Exit code of a failed command, as kubectl's (usage errors included).
pub const EXIT_FAILURE: i32 = 1;

/// Parses `args` (program name first), runs the command, prints errors as kubectl
/// does, and returns the exit code.
pub async fn main_with<I, T>(args: I, io: &mut Io) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    use clap::Parser;
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        // No arguments at all: kubectl prints its help and succeeds.
        Err(err)
            if !err.use_stderr()
                || err.kind()
                    == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            io.print(&err.render().to_string());
            return 0;
        }
        Err(err) => {
            io.eprint(&cli::usage_error(&err, cli::verb_of(&args).as_deref()));
            return EXIT_FAILURE;
        }
    };
    let mut session = Session::new(cli.global.clone(), io);
    match commands::run(cli.command, &mut session).await {
        Ok(()) => 0,
        Err(err) => {
            let (code, message) = exit_code_and_message(&err);
            if let Some(message) = message {
                session.io.eprint(&format!("{message}\n"));
            }
            code
        }
    }
}
