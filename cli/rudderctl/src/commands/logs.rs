//! `rudderctl logs [-f] [-p] POD|pod/NAME [-c CONTAINER]`: a container's log,
//! streamed by the API server from the pod's kubelet (the `Api` service's `Logs`
//! call, REST's `pods/<name>/log`). As kubectl, the pod is read first to pick the
//! container when none is named: the `kubectl.kubernetes.io/default-container`
//! annotation, else the first, saying so on stderr when there was a choice.

use clap::Args;
use futures::StreamExt;
use rudder_client::LogParams;
use serde_json::Value;

use super::{api, resolve};
use crate::cli::parse_duration;
use crate::session::Session;

/// The annotation naming the container kubectl picks by default.
pub const DEFAULT_CONTAINER_ANNOTATION: &str = "kubectl.kubernetes.io/default-container";

/// `logs` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct LogsArgs {
    /// POD or pod/NAME, optionally followed by the container.
    pub target: Vec<String>,
    /// The container.
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Keep streaming new lines.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// The previous instance of the container, after a restart.
    #[arg(short = 'p', long)]
    pub previous: bool,
    /// Lines from the end to show; -1 for all.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub tail: i64,
    /// Only lines newer than this duration (`5s`, `2m`, `3h`).
    #[arg(long)]
    pub since: Option<String>,
    /// Prefix each line with its time.
    #[arg(long)]
    pub timestamps: bool,
    /// Stop after this many bytes (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub limit_bytes: i64,
}

/// kubectl's list of a pod's containers: regular, then ephemeral and init ones
/// marked as such.
pub fn all_container_names(pod: &Value) -> String {
    let names = |list: &str, mark: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("name").and_then(Value::as_str))
            .map(|n| format!("{n}{mark}"))
            .collect()
    };
    let mut all = names("containers", "");
    all.extend(names("ephemeralContainers", " (ephem)"));
    all.extend(names("initContainers", " (init)"));
    all.join(", ")
}

/// Whether the pod has a container (regular, init or ephemeral) of that name.
pub fn has_container(pod: &Value, name: &str) -> bool {
    ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .filter_map(|list| pod.pointer(&format!("/spec/{list}")))
        .filter_map(Value::as_array)
        .flatten()
        .any(|c| c.get("name").and_then(Value::as_str) == Some(name))
}

/// The container kubectl asks for when none is named, and the stderr note it
/// prints about the choice (if any).
pub fn default_container(pod: &Value) -> (String, Option<String>) {
    let pod_name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let containers: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let mut note = String::new();
    if let Some(annotated) = pod
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(DEFAULT_CONTAINER_ANNOTATION))
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
    {
        if has_container(pod, annotated) {
            return (annotated.to_string(), None);
        }
        note.push_str(&format!(
            "Default container name \"{annotated}\" not found in pod {pod_name}\n"
        ));
    }
    let first = containers.first().copied().unwrap_or_default().to_string();
    let others = containers.len() > 1
        || ["initContainers", "ephemeralContainers"]
            .iter()
            .any(|list| {
                pod.pointer(&format!("/spec/{list}"))
                    .and_then(Value::as_array)
                    .is_some_and(|l| !l.is_empty())
            });
    if others {
        note.push_str(&format!(
            "Defaulted container \"{first}\" out of: {}\n",
            all_container_names(pod)
        ));
    }
    (first, Some(note).filter(|n| !n.is_empty()))
}

/// Runs `logs`.
pub async fn run(args: LogsArgs, session: &mut Session<'_>) -> anyhow::Result<()> {
    let (pod_name, positional_container) = match args.target.as_slice() {
        [] => anyhow::bail!(
            "expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or TYPE/NAME is a required argument for the logs command"
        ),
        [pod] => (pod.clone(), None),
        [pod, container] => (pod.clone(), Some(container.clone())),
        _ => anyhow::bail!(
            "expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or TYPE/NAME is a required argument for the logs command"
        ),
    };
    let pod_name = match pod_name.split_once('/') {
        None => pod_name,
        Some((ty, name)) => {
            let info = resolve(ty)?;
            if info.plural != "pods" || !info.group.is_empty() {
                anyhow::bail!("rudderctl logs takes pods only, not {}", info.plural);
            }
            name.to_string()
        }
    };
    let since_seconds = match args.since.as_deref() {
        None => None,
        Some(text) => parse_duration(text)
            .map_err(anyhow::Error::msg)?
            .map(|d| i64::try_from(d.as_secs().max(1)).unwrap_or(i64::MAX)),
    };
    let namespace = session.namespace()?;
    let pods = api(session, resolve("pods")?, Some(&namespace))?;
    let pod = match pods.get(&pod_name).await {
        Ok(pod) => pod.0,
        // kubectl words a missing pod its own way here.
        Err(err) if err.is_not_found() => anyhow::bail!(
            "error from server (NotFound): pods \"{pod_name}\" not found in namespace \"{namespace}\""
        ),
        Err(err) => return Err(err.into()),
    };
    let container = match args.container.or(positional_container) {
        // kubectl checks a named container before asking the server.
        Some(c) if !has_container(&pod, &c) => {
            anyhow::bail!("container {c} is not valid for pod {pod_name}")
        }
        Some(c) => c,
        None => {
            let (container, note) = default_container(&pod);
            if let Some(note) = note {
                session.eprint(&note);
            }
            container
        }
    };
    let params = LogParams {
        container: Some(container),
        follow: args.follow,
        previous: args.previous,
        timestamps: args.timestamps,
        tail_lines: Some(args.tail).filter(|t| *t >= 0),
        since_seconds,
        limit_bytes: Some(args.limit_bytes).filter(|l| *l > 0),
    };
    let mut log = session
        .client()?
        .logs(&namespace, &pod_name, &params)
        .await?
        .boxed();
    while let Some(chunk) = log.next().await {
        session.print(&String::from_utf8_lossy(&chunk?));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_default_container_is_chosen_and_told_as_kubectl() {
        let one = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app"}]}});
        assert_eq!(default_container(&one), ("app".to_string(), None));
        let several = json!({"metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "app"}, {"name": "side"}],
            "initContainers": [{"name": "setup"}]}});
        assert_eq!(
            default_container(&several),
            (
                "app".to_string(),
                Some("Defaulted container \"app\" out of: app, side, setup (init)\n".to_string())
            )
        );
        let mut annotated = several.clone();
        annotated["metadata"]["annotations"] = json!({DEFAULT_CONTAINER_ANNOTATION: "side"});
        assert_eq!(default_container(&annotated), ("side".to_string(), None));
    }
}
