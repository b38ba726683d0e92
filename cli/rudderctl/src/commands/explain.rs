//! `rudderctl explain`: deferred. kubectl reads field documentation from the API
//! server's OpenAPI document, which Rudder's API server does not serve yet; the
//! k8s-openapi types carry their docs only as Rust doc comments, not at run time.

use clap::Args;

use super::resolve;
use crate::session::Session;

/// `explain` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct ExplainArgs {
    /// RESOURCE[.FIELD...], e.g. `pods.spec.containers`.
    pub field: String,
}

/// Runs `explain`: resolves the resource (so typos get kubectl's error) and says
/// what is missing.
pub fn run(args: ExplainArgs, _session: &mut Session<'_>) -> anyhow::Result<()> {
    let resource = args.field.split('.').next().unwrap_or_default();
    let info = resolve(resource)?;
    anyhow::bail!(
        "explain is not available yet: field documentation for {} ({}) needs the API server's OpenAPI document",
        info.kind,
        info.api_version()
    )
}
