//! `rudderctl rollout status|history|undo|restart|pause|resume` for deployments, as
//! kubectl words them. The decisions (is the rollout done, which revision to go back
//! to, what patch to send) are pure functions; `run` does the calls.

use std::time::Duration;

use clap::{Args, Subcommand};
use futures::StreamExt;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use rudder_api::resource::ResourceInfo;
use rudder_client::{Api, DynamicObject, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use serde_json::{Value, json};

use super::{Target, api, kind_name, parse_targets};
use crate::cli::parse_duration;
use crate::output::age;
use crate::output::progress::{self, Progress};
use crate::output::tabwriter::DESCRIBE;
use crate::session::Session;

/// The annotation carrying a revision number on deployments and replica sets.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// The annotation `kubectl rollout history` shows.
pub const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";
/// The template annotation `rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// `rollout` subcommands.
#[derive(Debug, Clone, Args)]
pub struct RolloutArgs {
    /// The subcommand.
    #[command(subcommand)]
    pub command: RolloutCommand,
}

/// What `rollout` does.
#[derive(Debug, Clone, Subcommand)]
pub enum RolloutCommand {
    /// Show the status of the rollout, following it until done.
    Status {
        /// TYPE NAME or TYPE/NAME.
        resources: Vec<String>,
        /// Follow until done (false: print the status once).
        #[arg(short = 'w', long, default_value_t = true, action = clap::ArgAction::Set)]
        watch: bool,
        /// How long to wait (0: forever).
        #[arg(long, default_value = "0")]
        timeout: String,
    },
    /// View rollout history.
    History {
        /// TYPE NAME or TYPE/NAME.
        resources: Vec<String>,
        /// Show the pod template of this revision.
        #[arg(long, default_value_t = 0)]
        revision: i64,
    },
    /// Undo a previous rollout.
    Undo {
        /// TYPE NAME or TYPE/NAME.
        resources: Vec<String>,
        /// The revision to roll back to (0: the previous one).
        #[arg(long, default_value_t = 0)]
        to_revision: i64,
    },
    /// Restart a resource (new pods through a template annotation).
    Restart {
        /// TYPE NAME or TYPE/NAME.
        resources: Vec<String>,
    },
    /// Mark the resource as paused.
    Pause {
        /// TYPE NAME or TYPE/NAME.
        resources: Vec<String>,
    },
    /// Resume a paused resource.
    Resume {
        /// TYPE NAME or TYPE/NAME.
        resources: Vec<String>,
    },
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn i(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// kubectl's `DeploymentStatusViewer`: the line to print, and whether the rollout
/// is done; an error when the progress deadline was exceeded.
pub fn deployment_status(d: &Value) -> Result<(String, bool), String> {
    let name = s(d, "/metadata/name");
    if i(d, "/metadata/generation") > i(d, "/status/observedGeneration") {
        return Ok((
            "Waiting for deployment spec update to be observed...\n".to_string(),
            false,
        ));
    }
    let timed_out = d
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| s(c, "/type") == "Progressing" && s(c, "/reason") == "ProgressDeadlineExceeded");
    if timed_out {
        return Err(format!(
            "deployment \"{name}\" exceeded its progress deadline"
        ));
    }
    let desired = d
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let updated = i(d, "/status/updatedReplicas");
    let total = i(d, "/status/replicas");
    let available = i(d, "/status/availableReplicas");
    if updated < desired {
        return Ok((
            format!(
                "Waiting for deployment \"{name}\" rollout to finish: {updated} out of {desired} new replicas have been updated...\n"
            ),
            false,
        ));
    }
    if total > updated {
        return Ok((
            format!(
                "Waiting for deployment \"{name}\" rollout to finish: {} old replicas are pending termination...\n",
                total - updated
            ),
            false,
        ));
    }
    if available < updated {
        return Ok((
            format!(
                "Waiting for deployment \"{name}\" rollout to finish: {available} of {updated} updated replicas are available...\n"
            ),
            false,
        ));
    }
    Ok((
        format!("deployment \"{name}\" successfully rolled out\n"),
        true,
    ))
}

/// The replica sets a deployment controls, by revision (ascending).
pub fn revisions(deployment: &Value, replica_sets: &[Value]) -> Vec<(i64, Value)> {
    let uid = s(deployment, "/metadata/uid");
    let mut out: Vec<(i64, Value)> = replica_sets
        .iter()
        .filter(|rs| {
            rs.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|r| {
                    s(r, "/uid") == uid
                        && r.get("controller").and_then(Value::as_bool) == Some(true)
                })
        })
        .filter_map(|rs| {
            let revision = rs
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(REVISION))
                .and_then(Value::as_str)?
                .parse()
                .ok()?;
            Some((revision, rs.clone()))
        })
        .collect();
    out.sort_by_key(|(r, _)| *r);
    out
}

/// `rollout history`'s table (minwidth 0, padding 2, as kubectl's `tabbedString`).
pub fn history_table(revisions: &[(i64, Value)]) -> String {
    let mut text = String::from("REVISION\tCHANGE-CAUSE\n");
    for (revision, rs) in revisions {
        let cause = rs
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(CHANGE_CAUSE))
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .unwrap_or("<none>");
        text.push_str(&format!("{revision}\t{cause}\n"));
    }
    DESCRIBE.format(&text)
}

/// What `rollout undo` does.
#[derive(Debug, Clone, PartialEq)]
pub enum Undo {
    /// Send this JSON patch.
    Patch(Value),
    /// The deployment already runs that revision's template.
    Skip(i64),
}

/// Plans `rollout undo --to-revision=N` (0: the revision before the newest).
pub fn plan_undo(
    deployment: &Value,
    revisions: &[(i64, Value)],
    to_revision: i64,
) -> anyhow::Result<Undo> {
    let name = s(deployment, "/metadata/name");
    let target = if to_revision == 0 {
        if revisions.len() < 2 {
            anyhow::bail!("no rollout history found for deployment \"{name}\"");
        }
        &revisions[revisions.len() - 2]
    } else {
        revisions
            .iter()
            .find(|(r, _)| *r == to_revision)
            .ok_or_else(|| {
                anyhow::anyhow!("unable to find specified revision {to_revision} in history")
            })?
    };
    let mut template = target
        .1
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(json!({}));
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(rudder_api::template::POD_TEMPLATE_HASH_LABEL);
    }
    let typed = |v: &Value| serde_json::from_value::<PodTemplateSpec>(v.clone()).ok();
    let current = deployment
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(json!({}));
    if let (Some(a), Some(b)) = (typed(&template), typed(&current))
        && rudder_api::template::template_equal(&a, &b)
    {
        return Ok(Undo::Skip(target.0));
    }
    let mut annotations = deployment
        .pointer("/metadata/annotations")
        .cloned()
        .unwrap_or(json!({}));
    if let (Some(map), Some(cause)) = (
        annotations.as_object_mut(),
        target
            .1
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(CHANGE_CAUSE)),
    ) {
        map.insert(CHANGE_CAUSE.to_string(), cause.clone());
    }
    Ok(Undo::Patch(json!([
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ])))
}

/// RFC 3339 of Unix seconds (`2024-01-01T00:00:00Z`), for `restartedAt`.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = age::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

fn deployments_only(info: &ResourceInfo) -> anyhow::Result<()> {
    if info.kind != "Deployment" {
        anyhow::bail!(
            "no rollout support for {} (only deployments)",
            super::kind_name(info)
        );
    }
    Ok(())
}

/// Runs `rollout`.
pub async fn run(args: RolloutArgs, session: &mut Session<'_>) -> anyhow::Result<()> {
    let resources = match &args.command {
        RolloutCommand::Status { resources, .. }
        | RolloutCommand::History { resources, .. }
        | RolloutCommand::Undo { resources, .. }
        | RolloutCommand::Restart { resources }
        | RolloutCommand::Pause { resources }
        | RolloutCommand::Resume { resources } => resources.clone(),
    };
    let namespace = session.namespace()?;
    let mut objects = Vec::new();
    for Target { info, names } in parse_targets(&resources)? {
        deployments_only(info)?;
        if names.is_empty() {
            anyhow::bail!("required resource not specified");
        }
        for name in names {
            objects.push((info, name));
        }
    }
    if objects.is_empty() {
        anyhow::bail!("required resource not specified");
    }
    for (info, name) in objects {
        let api = api(session, info, Some(namespace.as_str()))?;
        match &args.command {
            RolloutCommand::Status { watch, timeout, .. } => {
                let timeout = parse_duration(timeout).map_err(anyhow::Error::msg)?;
                status(session, &api, &name, *watch, timeout).await?;
            }
            RolloutCommand::History { revision, .. } => {
                let deployment = api.get(&name).await?.0;
                let revs = revisions(&deployment, &replica_sets(session, &namespace).await?);
                let header = format!("{}/{name}", kind_name(info));
                if *revision > 0 {
                    let (_, rs) = revs
                        .iter()
                        .find(|(r, _)| r == revision)
                        .ok_or_else(|| anyhow::anyhow!("unable to find the specified revision"))?;
                    let template = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
                    session.print(&format!(
                        "{header} with revision #{revision}\n{}\n",
                        super::describe::pod_template_page(&template)
                    ));
                } else {
                    session.print(&format!("{header} \n{}\n", history_table(&revs)));
                }
            }
            RolloutCommand::Undo { to_revision, .. } => {
                let deployment = api.get(&name).await?.0;
                if deployment.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
                    anyhow::bail!(
                        "you cannot rollback a paused deployment; resume it first with 'rudderctl rollout resume' and try again"
                    );
                }
                let revs = revisions(&deployment, &replica_sets(session, &namespace).await?);
                match plan_undo(&deployment, &revs, *to_revision)? {
                    Undo::Skip(revision) => session.print(&format!(
                        "{}/{name} skipped rollback (current template already matches revision {revision})\n",
                        kind_name(info)
                    )),
                    Undo::Patch(patch) => {
                        let _: DynamicObject = api.patch(&name, &PatchParams::default(), &Patch::<Value>::Json(patch)).await?;
                        session.print(&format!("{}/{name} rolled back\n", kind_name(info)));
                    }
                }
            }
            RolloutCommand::Restart { .. } => {
                let deployment = api.get(&name).await?.0;
                if deployment.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
                    anyhow::bail!("can't restart paused deployment (run rollout resume first)");
                }
                let now = rfc3339(session.io.now());
                let patch = json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}});
                api.patch(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                    .await?;
                session.print(&format!("{}/{name} restarted\n", kind_name(info)));
            }
            RolloutCommand::Pause { .. } | RolloutCommand::Resume { .. } => {
                let pause = matches!(args.command, RolloutCommand::Pause { .. });
                let deployment = api.get(&name).await?.0;
                let paused =
                    deployment.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
                if paused == pause {
                    let state = if pause {
                        "already paused"
                    } else {
                        "not paused"
                    };
                    anyhow::bail!("{} \"{name}\" is {state}", info.group_resource());
                }
                let patch = json!({"spec": {"paused": pause}});
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
                let verb = if pause { "paused" } else { "resumed" };
                session.print(&format!("{}/{name} {verb}\n", kind_name(info)));
            }
        }
    }
    Ok(())
}

async fn replica_sets(session: &mut Session<'_>, namespace: &str) -> anyhow::Result<Vec<Value>> {
    let info = rudder_api::resource::by_plural("apps", "replicasets")
        .ok_or_else(|| anyhow::anyhow!("no replicasets resource"))?;
    let api = api(session, info, Some(namespace))?;
    Ok(api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .map(|o| o.0)
        .collect())
}

/// Follows one deployment (list by name, then watch from the list's
/// resourceVersion) printing each new status line until done, failed, or the
/// deadline.
async fn status(
    session: &mut Session<'_>,
    api: &Api<DynamicObject>,
    name: &str,
    watch: bool,
    timeout: Option<Duration>,
) -> anyhow::Result<()> {
    let deadline =
        tokio::time::Instant::now() + timeout.unwrap_or(Duration::from_secs(7 * 24 * 3600));
    // As kubectl, a missing deployment is the server's NotFound.
    api.get(name).await?;
    let selector = format!("metadata.name={name}");
    let list = api.list(&ListParams::default().fields(&selector)).await?;
    let Some(first) = list.items.first() else {
        anyhow::bail!("deployments.apps \"{name}\" not found");
    };
    let mut last = String::new();
    let mut show = |session: &mut Session<'_>, d: &Value| -> anyhow::Result<bool> {
        let (line, done) = deployment_status(d).map_err(anyhow::Error::msg)?;
        if line != last {
            session.print(&line);
            last = line;
        }
        Ok(done)
    };
    if show(session, &first.0)? || !watch {
        return Ok(());
    }
    let params = WatchParams {
        field_selector: Some(selector),
        ..Default::default()
    };
    let mut stream = api.watch(&params, list.resource_version()).await?.boxed();
    let mut progress = Progress::new();
    let mut ticker = tokio::time::interval(progress::TICK);
    let what = format!("waiting for deployment \"{name}\" rollout to finish");
    loop {
        let event = tokio::select! {
            event = tokio::time::timeout_at(deadline, stream.next()) => event,
            _ = ticker.tick() => {
                progress.tick(session.io, &what);
                continue;
            }
        };
        progress.clear(session.io);
        let event = event.map_err(|_| anyhow::anyhow!("timed out waiting for the condition"))?;
        match event {
            None => {
                anyhow::bail!("the watch of deployment \"{name}\" ended before the rollout did")
            }
            Some(Ok(WatchEvent::Added(d) | WatchEvent::Modified(d))) => {
                if show(session, &d.0)? {
                    return Ok(());
                }
            }
            Some(Ok(WatchEvent::Deleted(_))) => anyhow::bail!("deployment \"{name}\" was deleted"),
            Some(Ok(WatchEvent::Bookmark { .. })) => {}
            Some(Ok(WatchEvent::Error(status))) => anyhow::bail!(
                "Error from server ({}): {}",
                status.reason.unwrap_or_default(),
                status.message.unwrap_or_default()
            ),
            Some(Err(err)) => return Err(err.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(generation: i64, observed: i64, mut status: Value) -> Value {
        status["observedGeneration"] = json!(observed);
        json!({"metadata": {"name": "web", "uid": "d1", "generation": generation},
               "spec": {"replicas": 3}, "status": status})
    }

    #[test]
    fn status_lines_follow_kubectl() {
        let line = |d: &Value| deployment_status(d).unwrap();
        assert_eq!(
            line(&deployment(2, 1, json!({}))),
            (
                "Waiting for deployment spec update to be observed...\n".to_string(),
                false
            )
        );
        assert_eq!(
            line(&deployment(2, 2, json!({"updatedReplicas": 1}))).0,
            "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated...\n"
        );
        assert_eq!(
            line(&deployment(
                2,
                2,
                json!({"updatedReplicas": 3, "replicas": 4})
            ))
            .0,
            "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination...\n"
        );
        assert_eq!(
            line(&deployment(
                2,
                2,
                json!({"updatedReplicas": 3, "replicas": 3, "availableReplicas": 2})
            ))
            .0,
            "Waiting for deployment \"web\" rollout to finish: 2 of 3 updated replicas are available...\n"
        );
        assert_eq!(
            line(&deployment(
                2,
                2,
                json!({"updatedReplicas": 3, "replicas": 3, "availableReplicas": 3})
            )),
            (
                "deployment \"web\" successfully rolled out\n".to_string(),
                true
            )
        );
        let stuck = deployment(
            2,
            2,
            json!({"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}),
        );
        assert_eq!(
            deployment_status(&stuck).unwrap_err(),
            "deployment \"web\" exceeded its progress deadline"
        );
    }

    fn rs(name: &str, revision: &str, image: &str, cause: Option<&str>) -> Value {
        let mut annotations = json!({REVISION: revision});
        if let Some(c) = cause {
            annotations[CHANGE_CAUSE] = json!(c);
        }
        json!({"metadata": {"name": name, "annotations": annotations,
                            "ownerReferences": [{"uid": "d1", "controller": true, "kind": "Deployment", "name": "web"}]},
               "spec": {"template": {"metadata": {"labels": {"app": "web", "pod-template-hash": name}},
                                     "spec": {"containers": [{"name": "c", "image": image}]}}}})
    }

    #[test]
    fn history_and_undo_plans() {
        let d = json!({"metadata": {"name": "web", "uid": "d1", "annotations": {REVISION: "2"}},
                       "spec": {"template": {"metadata": {"labels": {"app": "web"}},
                                             "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}});
        let stranger = json!({"metadata": {"name": "x", "annotations": {REVISION: "9"}}});
        let revs = revisions(
            &d,
            &[
                rs("b", "2", "nginx:2", None),
                rs("a", "1", "nginx:1", Some("first")),
                stranger,
            ],
        );
        assert_eq!(revs.iter().map(|(r, _)| *r).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(
            history_table(&revs),
            "REVISION  CHANGE-CAUSE\n1         first\n2         <none>\n"
        );
        let Undo::Patch(patch) = plan_undo(&d, &revs, 0).unwrap() else {
            panic!("expected a patch");
        };
        assert_eq!(patch[0]["path"], "/spec/template");
        assert_eq!(
            patch[0]["value"]["metadata"]["labels"],
            json!({"app": "web"})
        );
        assert_eq!(
            patch[0]["value"]["spec"]["containers"][0]["image"],
            "nginx:1"
        );
        assert_eq!(patch[1]["value"][CHANGE_CAUSE], "first");
        assert_eq!(plan_undo(&d, &revs, 2).unwrap(), Undo::Skip(2));
        assert_eq!(
            plan_undo(&d, &revs, 7).unwrap_err().to_string(),
            "unable to find specified revision 7 in history"
        );
        assert_eq!(
            plan_undo(&d, &revs[..1], 0).unwrap_err().to_string(),
            "no rollout history found for deployment \"web\""
        );
        assert_eq!(rfc3339(1_704_067_200 + 3661), "2024-01-01T01:01:01Z");
    }
}
