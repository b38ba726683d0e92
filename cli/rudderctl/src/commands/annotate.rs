//! `rudderctl annotate`: `label`'s logic on `metadata.annotations`.

use super::label::{Field, LabelArgs, run as run_label};
use crate::session::Session;

/// Runs `annotate`.
pub async fn run(args: LabelArgs, session: &mut Session<'_>) -> anyhow::Result<()> {
    run_label(args, Field::Annotations, session).await
}
