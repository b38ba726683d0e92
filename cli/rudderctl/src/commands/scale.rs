//! `rudderctl scale`: sets `spec.replicas` through the `scale` subresource with a
//! merge patch, as kubectl does.

use clap::Args;
use rudder_client::{Patch, PatchParams};
use serde_json::json;

use super::{Target, api, kind_name, parse_targets};
use crate::error::{Reported, client_error_line};
use crate::manifest;
use crate::session::Session;

/// `scale` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct ScaleArgs {
    /// TYPE NAME... or TYPE/NAME...
    pub resources: Vec<String>,
    /// The new number of replicas.
    #[arg(long)]
    pub replicas: i32,
    /// Only scale if the current replica count is this.
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub current_replicas: i32,
    /// Files naming the objects to scale.
    #[arg(short = 'f', long = "filename")]
    pub filenames: Vec<String>,
}

/// Runs `scale`.
pub async fn run(args: ScaleArgs, session: &mut Session<'_>) -> anyhow::Result<()> {
    if args.replicas < 0 {
        anyhow::bail!(
            "The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0"
        );
    }
    let namespace = session.namespace()?;
    let mut objects = Vec::new();
    if !args.filenames.is_empty() {
        for m in manifest::read(&args.filenames, false, session.io)? {
            let info = m.resource()?;
            let ns = m.target_namespace(info, &namespace, session.global.namespace.as_deref())?;
            objects.push((info, ns, m.name().to_string()));
        }
    } else {
        for Target { info, names } in parse_targets(&args.resources)? {
            if names.is_empty() {
                anyhow::bail!("resource(s) were provided, but no name was specified");
            }
            for name in names {
                objects.push((info, info.namespaced.then(|| namespace.clone()), name));
            }
        }
    }
    if objects.is_empty() {
        anyhow::bail!("no objects passed to scale");
    }
    // As kubectl, every object is read before any is scaled: one missing, none scaled.
    for (info, ns, name) in &objects {
        if info.subresource("scale").is_none() {
            continue;
        }
        if let Err(err) = api(session, info, ns.as_deref())?.get(name).await {
            match &err {
                rudder_client::Error::Api(server) => {
                    anyhow::bail!("no objects passed to scale {}", server.message())
                }
                _ => return Err(err.into()),
            }
        }
    }
    let mut failed = false;
    for (info, ns, name) in objects {
        if info.subresource("scale").is_none() {
            session.eprint(
                "Error from server (NotFound): the server could not find the requested resource\n",
            );
            failed = true;
            continue;
        }
        let api = api(session, info, ns.as_deref())?;
        if args.current_replicas >= 0 {
            match api.get_scale(&name).await {
                Ok(scale) => {
                    let current = scale.spec.and_then(|s| s.replicas).unwrap_or(0);
                    if current != args.current_replicas {
                        session.eprint(&format!(
                            "error: Expected replicas to be {}, was {current}\n",
                            args.current_replicas
                        ));
                        failed = true;
                        continue;
                    }
                }
                Err(err) => {
                    session.eprint(&format!("{}\n", client_error_line(&err)));
                    failed = true;
                    continue;
                }
            }
        }
        let patch = json!({"spec": {"replicas": args.replicas}});
        match api
            .patch_scale(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => session.print(&format!("{}/{name} scaled\n", kind_name(info))),
            Err(err) => {
                session.eprint(&format!("{}\n", client_error_line(&err)));
                failed = true;
            }
        }
    }
    if failed {
        return Err(Reported.into());
    }
    Ok(())
}
