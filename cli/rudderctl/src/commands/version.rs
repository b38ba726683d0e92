//! `rudderctl version`: the client's version and the API server's, as kubectl
//! prints them (`Client Version: ...`, `Server Version: ...`); the server's comes
//! from the `Api` service's `Version` call, the document REST serves at `/version`.

use clap::Args;
use serde_json::{Value, json};

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

/// Runs `version`. As kubectl, the client's line is printed even when the server
/// cannot be asked, and the failure to ask it is the command's error.
pub async fn run(args: VersionArgs, session: &mut Session<'_>) -> anyhow::Result<()> {
    let format = match args.output.as_deref() {
        None => None,
        Some(f @ ("json" | "yaml")) => Some(f),
        Some(other) => anyhow::bail!("--output must be 'yaml' or 'json', not {other:?}"),
    };
    let client = json!({
        "gitVersion": client_version(),
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    });
    let server: Option<anyhow::Result<Value>> = if args.client {
        None
    } else {
        Some(async { Ok(session.client()?.server_version().await?) }.await)
    };
    let mut info = json!({ "clientVersion": client });
    if let Some(Ok(server)) = &server {
        info["serverVersion"] = server.clone();
    }
    let text = match format {
        Some("json") => output::to_json(&info),
        Some(_) => output::to_yaml(&info),
        None => {
            let mut text = format!("Client Version: {}\n", client_version());
            if let Some(Ok(server)) = &server {
                let version = server["gitVersion"].as_str().unwrap_or_default();
                text.push_str(&format!("Server Version: {version}\n"));
            }
            text
        }
    };
    session.print(&text);
    match server {
        Some(Err(err)) => Err(err),
        _ => Ok(()),
    }
}
