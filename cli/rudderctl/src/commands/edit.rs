//! `rudderctl edit`: the object as YAML in `$KUBE_EDITOR`/`$EDITOR`, then the
//! strategic two-way patch from what was read to what was saved, as kubectl sends
//! it. An empty file or no change cancels; a failed save keeps the edited copy.

use clap::Args;
use rudder_api::patch::{PatchType, create_two_way_merge_patch};
use rudder_client::{Patch, PatchParams};
use serde::Deserialize;
use serde_json::Value;

use super::{Target, api, kind_name, parse_targets};
use crate::error::{Reported, client_error_line};
use crate::output;
use crate::session::Session;

/// The comment kubectl puts above the object.
pub const HEADER: &str = "# Please edit the object below. Lines beginning with a '#' will be ignored,\n\
# and an empty file will abort the edit. If an error occurs while saving this file will be\n\
# reopened with the relevant failures.\n\
#\n";

/// `edit` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct EditArgs {
    /// TYPE NAME or TYPE/NAME.
    #[arg(required = true)]
    pub resources: Vec<String>,
}

/// What an edit comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Edited {
    /// Nothing to send.
    Cancelled,
    /// Send this strategic merge patch.
    Patch(Value),
}

/// Compares the saved text with the original object (pure).
pub fn plan(original: &Value, saved: &str, kind: &str) -> anyhow::Result<Edited> {
    let text: String = saved
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    if text.trim().is_empty() {
        return Ok(Edited::Cancelled);
    }
    let edited = Value::deserialize(serde_norway::Deserializer::from_str(&text))
        .map_err(|e| anyhow::anyhow!("error parsing the edited object: {e}"))?;
    if &edited == original {
        return Ok(Edited::Cancelled);
    }
    if edited.get("kind") != original.get("kind")
        || edited.pointer("/metadata/name") != original.pointer("/metadata/name")
    {
        anyhow::bail!("At least one of apiVersion, kind and name was changed");
    }
    let patch = create_two_way_merge_patch(original, &edited, PatchType::for_kind(kind))?;
    if patch.as_object().is_some_and(|p| p.is_empty()) {
        return Ok(Edited::Cancelled);
    }
    Ok(Edited::Patch(patch))
}

/// Runs `edit`.
pub async fn run(args: EditArgs, session: &mut Session<'_>) -> anyhow::Result<()> {
    let namespace = session.namespace()?;
    let mut failed = false;
    for Target { info, names } in parse_targets(&args.resources)? {
        if names.is_empty() {
            anyhow::bail!("resource(s) were provided, but no name was specified");
        }
        let api = api(session, info, info.namespaced.then_some(namespace.as_str()))?;
        for name in names {
            let original = super::with_type(info, api.get(&name).await?.0);
            let file = tempfile::Builder::new()
                .prefix("rudderctl-edit-")
                .suffix(".yaml")
                .tempfile()?;
            std::fs::write(
                file.path(),
                format!("{HEADER}{}", output::to_yaml(&original)),
            )?;
            let status = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(format!("{} \"$1\"", session.io.editor))
                .arg("rudderctl-edit")
                .arg(file.path())
                .status()
                .await?;
            if !status.success() {
                anyhow::bail!(
                    "there was a problem with the editor \"{}\"",
                    session.io.editor
                );
            }
            let saved = std::fs::read_to_string(file.path())?;
            let result = match plan(&original, &saved, info.kind) {
                Ok(Edited::Cancelled) => {
                    session.eprint("Edit cancelled, no changes made.\n");
                    continue;
                }
                Ok(Edited::Patch(patch)) => api
                    .patch(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                    .await
                    .map_err(|e| anyhow::anyhow!(client_error_line(&e))),
                Err(err) => Err(anyhow::anyhow!("error: {err}")),
            };
            match result {
                Ok(_) => session.print(&format!("{}/{name} edited\n", kind_name(info))),
                Err(err) => {
                    let (_, kept) = file.keep()?;
                    session.eprint(&format!(
                        "A copy of your changes has been stored to \"{}\"\n{err}\n",
                        kept.display()
                    ));
                    failed = true;
                }
            }
        }
    }
    if failed {
        return Err(Reported.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plans() {
        let original = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        let yaml = output::to_yaml(&original);
        assert_eq!(
            plan(&original, &format!("{HEADER}{yaml}"), "ConfigMap").unwrap(),
            Edited::Cancelled
        );
        assert_eq!(
            plan(&original, HEADER, "ConfigMap").unwrap(),
            Edited::Cancelled
        );
        let changed = yaml.replace("a: \"1\"", "a: \"2\"");
        assert_eq!(
            plan(&original, &changed, "ConfigMap").unwrap(),
            Edited::Patch(json!({"data": {"a": "2"}}))
        );
        assert!(plan(&original, &yaml.replace("name: c", "name: d"), "ConfigMap").is_err());
        assert!(plan(&original, "a: [", "ConfigMap").is_err());
    }
}
