//! One file per verb: its clap argument struct and the `run` function that does it.
//! Shared here: resolving what the user typed into resources and objects.

pub mod annotate;
pub mod api_resources;
pub mod apply;
pub mod config;
pub mod create;
pub mod delete;
pub mod describe;
pub mod edit;
pub mod explain;
pub mod get;
pub mod label;
pub mod logs;
pub mod rollout;
pub mod scale;
pub mod version;

use rudder_api::resource::{self, ResourceInfo};
use rudder_client::{Api, DynamicObject};
use serde_json::Value;

use crate::cli::Command;
use crate::output::columns::kind_prefix;
use crate::session::Session;

/// Runs one parsed command.
pub async fn run(command: Command, session: &mut Session<'_>) -> anyhow::Result<()> {
    match command {
        Command::Get(args) => get::run(args, session).await,
        Command::Create(args) => create::run(args, session).await,
        Command::Apply(args) => apply::run(args, session).await,
        Command::Delete(args) => delete::run(args, session).await,
        Command::Scale(args) => scale::run(args, session).await,
        Command::Label(args) => label::run(args, label::Field::Labels, session).await,
        Command::Annotate(args) => annotate::run(args, session).await,
        Command::Describe(args) => describe::run(args, session).await,
        Command::Rollout(args) => rollout::run(args, session).await,
        Command::Edit(args) => edit::run(args, session).await,
        Command::ApiResources(args) => api_resources::run(args, session),
        Command::Explain(args) => explain::run(args, session).await,
        Command::Config(args) => config::run(args, session),
        Command::Version(args) => version::run(args, session).await,
        Command::Logs(args) => logs::run(args, session).await,
    }
}

/// A resource type as the user typed it (`po`, `deployments.apps`), or kubectl's
/// error for an unknown one.
pub fn resolve(name: &str) -> anyhow::Result<&'static ResourceInfo> {
    resource::resolve(name)
        .map_err(|_| anyhow::anyhow!("the server doesn't have a resource type \"{name}\""))
}

/// What a command line names: resource types, each with names (none: all of them).
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The resource.
    pub info: &'static ResourceInfo,
    /// Object names; empty for "every object" (list).
    pub names: Vec<String>,
}

/// Parses kubectl's argument forms: `TYPE [NAME...]`, `TYPE1,TYPE2 [NAME...]`,
/// `TYPE/NAME...`; `all` expands to the `all` category.
pub fn parse_targets(args: &[String]) -> anyhow::Result<Vec<Target>> {
    let Some(first) = args.first() else {
        return Ok(Vec::new());
    };
    let mut targets: Vec<Target> = Vec::new();
    if first.contains('/') {
        for arg in args {
            let (ty, name) = arg.split_once('/').ok_or_else(|| {
                anyhow::anyhow!("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'rudderctl get resource/<resource_name>' instead of 'rudderctl get resource resource/<resource_name>'")
            })?;
            if name.is_empty() {
                anyhow::bail!(
                    "arguments in resource/name form must have a single resource and name"
                );
            }
            let info = resolve(ty)?;
            match targets.iter_mut().find(|t| t.info == info) {
                Some(t) => t.names.push(name.to_string()),
                None => targets.push(Target {
                    info,
                    names: vec![name.to_string()],
                }),
            }
        }
        return Ok(targets);
    }
    let names: Vec<String> = args[1..].to_vec();
    if let Some(bad) = names.iter().find(|n| n.contains('/')) {
        anyhow::bail!(
            "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'rudderctl get resource/<resource_name>' instead of 'rudderctl get resource {bad}')"
        );
    }
    for ty in first.split(',').filter(|t| !t.is_empty()) {
        let infos = if ty == "all" {
            resource::by_category("all")
        } else {
            vec![resolve(ty)?]
        };
        for info in infos {
            if !targets.iter().any(|t| t.info == info) {
                targets.push(Target {
                    info,
                    names: names.clone(),
                });
            }
        }
    }
    Ok(targets)
}

/// The dynamic API of a resource in `namespace` (None: all namespaces).
pub fn api(
    session: &mut Session<'_>,
    info: &ResourceInfo,
    namespace: Option<&str>,
) -> anyhow::Result<Api<DynamicObject>> {
    Ok(Api::dynamic(session.client()?, info, namespace))
}

/// `deployment.apps` / `pod`: how kubectl names a kind in messages.
pub fn kind_name(info: &ResourceInfo) -> String {
    kind_prefix(info.kind, info.group)
}

/// The object's name.
pub fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Sets `apiVersion` and `kind`, which list items often lack.
pub fn with_type(info: &ResourceInfo, mut object: Value) -> Value {
    if let Value::Object(map) = &mut object {
        map.insert("apiVersion".to_string(), Value::String(info.api_version()));
        map.insert("kind".to_string(), Value::String(info.kind.to_string()));
    }
    object
}

/// `--dry-run`: `none`, `client` (nothing sent), `server` (validated, not stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRun {
    /// Really do it.
    None,
    /// Only print what would be sent.
    Client,
    /// Ask the server to validate without storing.
    Server,
}

impl DryRun {
    /// Parses a `--dry-run` value.
    pub fn parse(value: &str) -> anyhow::Result<DryRun> {
        match value {
            "none" | "false" | "" => Ok(DryRun::None),
            "client" => Ok(DryRun::Client),
            "server" => Ok(DryRun::Server),
            other => anyhow::bail!(
                "Invalid dry-run value ({other}). Must be \"none\", \"server\", or \"client\"."
            ),
        }
    }

    /// What kubectl appends to its result lines.
    pub fn suffix(self) -> &'static str {
        match self {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        }
    }
}

/// `-l`/`--all`/names must agree, as kubectl checks.
pub fn no_names_with_selector(
    names: &[String],
    selector: Option<&str>,
    all: bool,
) -> anyhow::Result<()> {
    if !names.is_empty() && (selector.is_some() || all) {
        anyhow::bail!("name cannot be provided when a selector is specified");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plurals(targets: &[Target]) -> Vec<(&str, Vec<&str>)> {
        targets
            .iter()
            .map(|t| (t.info.plural, t.names.iter().map(String::as_str).collect()))
            .collect()
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn argument_forms() {
        let t = parse_targets(&strings(&["deploy,svc", "web"])).unwrap();
        assert_eq!(
            plurals(&t),
            [("deployments", vec!["web"]), ("services", vec!["web"])]
        );
        let t = parse_targets(&strings(&["po/a", "deploy/b", "pod/c"])).unwrap();
        assert_eq!(
            plurals(&t),
            [("pods", vec!["a", "c"]), ("deployments", vec!["b"])]
        );
        let t = parse_targets(&strings(&["all"])).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(
            parse_targets(&strings(&["widgets"]))
                .unwrap_err()
                .to_string(),
            "the server doesn't have a resource type \"widgets\""
        );
        assert!(parse_targets(&strings(&["pod/a", "b"])).is_err());
        assert!(parse_targets(&strings(&["pods", "pod/b"])).is_err());
        assert!(parse_targets(&strings(&["pod/"])).is_err());
    }
}
