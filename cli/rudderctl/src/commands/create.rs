//! `rudderctl create -f`: create every object of the manifests.

use clap::{Args, Subcommand};
use rudder_client::{DynamicObject, PostParams};

use super::{DryRun, api, kind_name};
use crate::error::{Reported, when_error};
use crate::manifest;
use crate::output::{self, OutputFormat};
use crate::session::Session;

/// `create` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct CreateArgs {
    /// An object made from arguments instead of a file (`create namespace NAME`).
    #[command(subcommand)]
    pub what: Option<CreateWhat>,
    /// Files, directories or `-` (stdin) with the objects to create.
    #[arg(short = 'f', long = "filename")]
    pub filenames: Vec<String>,
    /// Process directories of -f recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Output format: name|yaml|json (default: `kind/name created`).
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// `none`, `client` (print only) or `server` (validate without storing).
    #[arg(long, default_value = "none")]
    pub dry_run: String,
}

/// The objects `create` builds from its arguments.
#[derive(Debug, Clone, Subcommand)]
pub enum CreateWhat {
    /// Create a namespace with the specified name.
    #[command(visible_alias = "ns")]
    Namespace {
        /// The namespace's name.
        name: String,
        /// `none`, `client` (print only) or `server` (validate without storing).
        #[arg(long, default_value = "none")]
        dry_run: String,
    },
}

/// Runs `create`.
pub async fn run(args: CreateArgs, session: &mut Session<'_>) -> anyhow::Result<()> {
    if let Some(CreateWhat::Namespace { name, dry_run }) = args.what {
        return create_namespace(&name, &dry_run, session).await;
    }
    let format = OutputFormat::parse(args.output.as_deref()).map_err(anyhow::Error::msg)?;
    let manifests = manifest::read(&args.filenames, args.recursive, session.io)?;
    let namespace = session.namespace()?;
    let dry_run = DryRun::parse(&args.dry_run)?;
    let params = PostParams {
        dry_run: dry_run == DryRun::Server,
        field_manager: Some("kubectl-create".to_string()),
    };
    let suffix = dry_run.suffix();
    let mut failed = false;
    for m in &manifests {
        let info = m.resource()?;
        let ns = m.target_namespace(info, &namespace, session.global.namespace.as_deref())?;
        let api = api(session, info, ns.as_deref())?;
        let mut object = m.object.clone();
        if let Some(ns) = &ns {
            object["metadata"]["namespace"] = ns.clone().into();
        }
        let result = if dry_run == DryRun::Client {
            Ok(DynamicObject(object))
        } else {
            api.create(&params, &DynamicObject(object)).await
        };
        match result {
            Ok(created) => {
                let text = match &format {
                    OutputFormat::Yaml => output::to_yaml(&created.0),
                    OutputFormat::Json => output::to_json(&created.0),
                    OutputFormat::Name => format!(
                        "{}\n",
                        output::resource_name(info.kind, info.group, &created.0)
                    ),
                    _ => format!("{}/{} created{suffix}\n", kind_name(info), m.name()),
                };
                session.print(&text);
            }
            Err(err) => {
                session.eprint(&format!(
                    "{}\n",
                    when_error(&err.into(), "creating", &m.source)
                ));
                failed = true;
            }
        }
    }
    if failed {
        return Err(Reported.into());
    }
    Ok(())
}

/// `create namespace NAME`: `namespace/NAME created`, as kubectl.
async fn create_namespace(
    name: &str,
    dry_run: &str,
    session: &mut Session<'_>,
) -> anyhow::Result<()> {
    let dry_run = DryRun::parse(dry_run)?;
    let info = rudder_api::resource::by_api_version_kind("v1", "Namespace")
        .ok_or_else(|| anyhow::anyhow!("the server does not serve namespaces"))?;
    let api = api(session, info, None)?;
    let object =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    if dry_run != DryRun::Client {
        let params = PostParams {
            dry_run: dry_run == DryRun::Server,
            field_manager: Some("kubectl-create".to_string()),
        };
        api.create(&params, &DynamicObject(object)).await?;
    }
    let suffix = dry_run.suffix();
    session.print(&format!("{}/{name} created{suffix}\n", kind_name(info)));
    Ok(())
}
