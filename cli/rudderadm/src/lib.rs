//! `rudderadm`: sets a cluster up. Each subcommand is one file under `commands/`: its
//! clap arguments and the function that runs them; `main.rs` only parses and maps
//! the outcome to an exit code.

pub mod cluster;
pub mod commands;

use clap::{Parser, Subcommand};

/// Exit code of a bad command line (clap's own) and of a failed command, e.g. a
/// missing or corrupt input file.
pub const EXIT_FAILURE: u8 = 2;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "rudderadm",
    version,
    about = "Set up a Rudder cluster: certificates, kubeconfigs, a single-node cluster"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make the cluster CA, a certificate per component and identity, and kubeconfigs.
    Certs(commands::certs::CertsArgs),
    /// Start a single-node cluster here, as child processes, until Ctrl-C or `down`.
    Up(commands::up::UpArgs),
    /// Stop the cluster `up` runs from a directory.
    Down(commands::down::DownArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Certs(args) => commands::certs::run(&args),
        Command::Up(args) => commands::up::run(&args),
        Command::Down(args) => commands::down::run(&args),
    }
}

/// clap's usage error as one line: the error and its tip, without the usage block, so
/// scripts and logs get one line per failure. A missing subcommand shows the whole help
/// instead: there is no one-line way to say what the choices are.
pub fn one_line_usage_error(err: &clap::Error) -> String {
    if err.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return err.render().to_string().trim_end().to_string();
    }
    let rendered = err.render().to_string();
    let mut parts: Vec<&str> = rendered
        .lines()
        .take_while(|line| !line.starts_with("Usage:"))
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("For more information"))
        .map(|line| line.strip_prefix("tip: ").unwrap_or(line))
        .collect();
    parts.push("(see 'rudderadm --help')");
    parts.join("; ").replacen("; (see", " (see", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_are_one_line_with_the_tip() {
        let err = Cli::try_parse_from(["rudderadm", "certs", "--forse"]).unwrap_err();
        let line = one_line_usage_error(&err);
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.starts_with("error: unexpected argument '--forse'"),
            "{line}"
        );
        assert!(line.contains("--force"), "{line}");
    }
}
