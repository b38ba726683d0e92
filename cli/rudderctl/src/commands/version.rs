//! `rudderctl version`: the client's version. The API server's `Api` service has no
//! version call yet, so the server line waits for it.

use clap::Args;
use serde_json::json;

use crate::output;
use crate::session::Session;

/// `version` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct VersionArgs {
    /// Only the client version.
    #[arg(long)]
    pub client: bool,
    /// `yaml` or `json`.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

/// This build's version, as kubectl's `gitVersion` (`v0.1.0`).
pub fn client_version() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}

/// Runs `version`.
pub fn run(args: VersionArgs, session: &mut Session<'_>) -> anyhow::Result<()> {
    let info = json!({"clientVersion": {"gitVersion": client_version(), "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH)}});
    let text = match args.output.as_deref() {
        Some("json") => output::to_json(&info),
        Some("yaml") => output::to_yaml(&info),
        Some(other) => anyhow::bail!("--output must be 'yaml' or 'json', not {other:?}"),
        None => format!("Client Version: {}\n", client_version()),
    };
    session.print(&text);
    Ok(())
}
