//! `rudderctl delete`: by names, `-f`, `-l` or `--all`, with kubectl's cascade,
//! grace period and `--wait` (on by default: poll until each object is gone).

use std::time::Duration;

use clap::Args;
use rudder_api::resource::ResourceInfo;
use rudder_client::{Api, DeleteParams, DynamicObject, ListParams, Object, PropagationPolicy};

use super::{Target, api, kind_name, name_of, no_names_with_selector, parse_targets};
use crate::cli::parse_duration;
use crate::error::{Reported, client_error_line, when_error};
use crate::manifest;
use crate::output::progress::{self, Progress};
use crate::session::{Io, Session};

/// `delete` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct DeleteArgs {
    /// TYPE [NAME...] or TYPE/NAME...
    pub resources: Vec<String>,
    /// Files, directories or `-` naming the objects to delete.
    #[arg(short = 'f', long = "filename")]
    pub filenames: Vec<String>,
    /// Process directories of -f recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Delete the objects matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Delete every object of the type in the namespace.
    #[arg(long)]
    pub all: bool,
    /// Across all namespaces (with -l or --all).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// background|foreground|orphan (true = background, false = orphan).
    #[arg(long, default_value = "background")]
    pub cascade: String,
    /// Seconds given to the object to terminate; -1 keeps the object's default.
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub grace_period: i64,
    /// Immediate shutdown (grace period 1).
    #[arg(long)]
    pub now: bool,
    /// With --grace-period=0: delete at once without waiting for confirmation.
    #[arg(long)]
    pub force: bool,
    /// Wait until the objects are gone.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub wait: bool,
    /// How long to wait (0: a week, kubectl's "forever").
    #[arg(long, default_value = "0")]
    pub timeout: String,
    /// Treat "not found" as success.
    #[arg(long)]
    pub ignore_not_found: bool,
}

/// The propagation policy of a `--cascade` value.
pub fn propagation(cascade: &str) -> anyhow::Result<PropagationPolicy> {
    match cascade {
        "background" | "true" => Ok(PropagationPolicy::Background),
        "foreground" => Ok(PropagationPolicy::Foreground),
        "orphan" | "false" => Ok(PropagationPolicy::Orphan),
        other => anyhow::bail!(
            "invalid cascade value ({other}). Must be \"background\", \"foreground\", or \"orphan\""
        ),
    }
}

/// Runs `delete`.
pub async fn run(args: DeleteArgs, session: &mut Session<'_>) -> anyhow::Result<()> {
    let mut params = DeleteParams {
        propagation_policy: Some(propagation(&args.cascade)?),
        ..Default::default()
    };
    if args.now {
        params.grace_period_seconds = Some(1);
    }
    if args.grace_period >= 0 {
        params.grace_period_seconds = Some(args.grace_period);
    }
    let timeout = parse_duration(&args.timeout)
        .map_err(anyhow::Error::msg)?
        .unwrap_or(Duration::from_secs(7 * 24 * 3600));
    let namespace = session.namespace()?;
    // (resource, namespace, name, the file it came from) of every object to delete.
    let mut doomed: Vec<(
        &'static ResourceInfo,
        Option<String>,
        String,
        Option<String>,
    )> = Vec::new();
    let mut failed = false;
    if !args.filenames.is_empty() {
        let manifests = manifest::read(&args.filenames, args.recursive, session.io)?;
        for m in &manifests {
            let info = m.resource()?;
            let ns = m.target_namespace(info, &namespace, session.global.namespace.as_deref())?;
            doomed.push((info, ns, m.name().to_string(), Some(m.source.clone())));
        }
    } else {
        let targets = parse_targets(&args.resources)?;
        if targets.is_empty() {
            anyhow::bail!(
                "You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'"
            );
        }
        for Target { info, names } in targets {
            no_names_with_selector(&names, args.selector.as_deref(), args.all)?;
            let ns = info.namespaced.then(|| namespace.clone());
            if names.is_empty() {
                if args.selector.is_none() && !args.all {
                    anyhow::bail!("resource(s) were provided, but no name was specified");
                }
                let list_ns = if args.all_namespaces {
                    None
                } else {
                    ns.as_deref()
                };
                let api = api(session, info, list_ns)?;
                let list = ListParams {
                    label_selector: args.selector.clone(),
                    ..Default::default()
                };
                for item in api.list(&list).await?.items {
                    let item_ns = item.namespace().map(str::to_string).or(ns.clone());
                    doomed.push((
                        info,
                        item_ns.filter(|_| info.namespaced),
                        name_of(&item.0).to_string(),
                        None,
                    ));
                }
            } else {
                for name in names {
                    doomed.push((info, ns.clone(), name, None));
                }
            }
        }
        if doomed.is_empty() {
            session.print("No resources found\n");
            return Ok(());
        }
    }
    let mut waiting: Vec<(Api<DynamicObject>, String, Option<String>, &ResourceInfo)> = Vec::new();
    for (info, ns, name, source) in doomed {
        let api = api(session, info, ns.as_deref())?;
        match api.delete(&name, &params).await {
            Ok(outcome) => {
                let uid = match &outcome {
                    rudder_client::DeleteOutcome::Object(o) => o.uid().map(str::to_string),
                    rudder_client::DeleteOutcome::Status(_) => None,
                };
                session.print(&format!("{} \"{name}\" deleted\n", kind_name(info)));
                if args.wait {
                    waiting.push((api, name, uid, info));
                }
            }
            Err(err) if err.is_not_found() && args.ignore_not_found => {}
            Err(err) => {
                let line = match &source {
                    Some(file) => when_error(&err.into(), "deleting", file),
                    None => client_error_line(&err),
                };
                session.eprint(&format!("{line}\n"));
                failed = true;
            }
        }
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut progress = Progress::new();
    for (api, name, uid, info) in waiting {
        let what = format!("waiting for {}/{name} to be deleted", kind_name(info));
        let gone = wait_gone(
            &api,
            &name,
            uid.as_deref(),
            deadline,
            session.io,
            (&mut progress, &what),
        )
        .await;
        progress.clear(session.io);
        if !gone? {
            session.eprint(&format!(
                "error: timed out waiting for the condition on {}/{name}\n",
                info.group_resource()
            ));
            failed = true;
        }
    }
    if failed {
        return Err(Reported.into());
    }
    Ok(())
}

/// Polls until `name` is gone (or replaced by an object with another uid); false
/// when the deadline passes first. While it waits, `progress` says so as `what`.
pub async fn wait_gone(
    api: &Api<DynamicObject>,
    name: &str,
    uid: Option<&str>,
    deadline: tokio::time::Instant,
    io: &mut Io,
    (progress, what): (&mut Progress, &str),
) -> anyhow::Result<bool> {
    let mut delay = Duration::from_millis(50);
    loop {
        match api.get_opt(name).await? {
            None => return Ok(true),
            Some(object) if uid.is_some() && object.uid() != uid => return Ok(true),
            Some(_) => {}
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        let until = now + delay.min(deadline - now);
        while tokio::time::Instant::now() < until {
            progress.tick(io, what);
            tokio::time::sleep_until(until.min(tokio::time::Instant::now() + progress::TICK)).await;
        }
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cascade_values() {
        assert_eq!(propagation("true").unwrap(), PropagationPolicy::Background);
        assert_eq!(
            propagation("foreground").unwrap(),
            PropagationPolicy::Foreground
        );
        assert_eq!(propagation("false").unwrap(), PropagationPolicy::Orphan);
        assert_eq!(
            propagation("x").unwrap_err().to_string(),
            "invalid cascade value (x). Must be \"background\", \"foreground\", or \"orphan\""
        );
    }
}
