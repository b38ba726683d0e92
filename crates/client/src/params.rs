//! Parameters of the verbs, named as kubectl and the REST query strings name them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Preconditions;
use serde::Serialize;

use crate::error::{Error, Result};

/// How to list: selectors, paging and consistency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    /// `-l app=web,tier!=db`.
    pub label_selector: Option<String>,
    /// `--field-selector spec.nodeName=n1`.
    pub field_selector: Option<String>,
    /// Page size; the answer has a continue token when more remain.
    pub limit: Option<i64>,
    /// The continue token of the previous page.
    pub continue_token: Option<String>,
    /// Empty: a quorum read; `"0"`: any cached state; `N`: not older than N.
    pub resource_version: Option<String>,
}

impl ListParams {
    /// Lists only objects whose labels match `selector`.
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }

    /// Lists only objects whose fields match `selector`.
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }

    /// Pages of at most `limit` objects.
    pub fn limit(mut self, limit: i64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Continues a paged list.
    pub fn continue_token(mut self, token: &str) -> Self {
        self.continue_token = Some(token.to_string());
        self
    }
}

/// How to watch: selectors, bookmarks and a server-side timeout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchParams {
    /// Only objects whose labels match.
    pub label_selector: Option<String>,
    /// Only objects whose fields match.
    pub field_selector: Option<String>,
    /// Ask for BOOKMARK events, which advance the resourceVersion to resume from.
    pub bookmarks: bool,
    /// Ask the server to end the stream after this many seconds (the watcher then
    /// resumes); none by default.
    pub timeout_seconds: Option<i64>,
}

impl WatchParams {
    /// The selectors of a [`ListParams`], for a watch that follows a list.
    pub fn from_list(list: &ListParams) -> Self {
        WatchParams {
            label_selector: list.label_selector.clone(),
            field_selector: list.field_selector.clone(),
            bookmarks: true,
            timeout_seconds: None,
        }
    }
}

/// What part of a container's log to read (a PodLogOptions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogParams {
    /// The container; None: the pod's only one (the server refuses when it has several).
    pub container: Option<String>,
    /// Keep streaming as the container writes.
    pub follow: bool,
    /// The previous instance of the container, after a restart.
    pub previous: bool,
    /// Prefix each line with its RFC 3339 time.
    pub timestamps: bool,
    /// Only the last N lines.
    pub tail_lines: Option<i64>,
    /// Only lines newer than this many seconds.
    pub since_seconds: Option<i64>,
    /// Stop after this many bytes.
    pub limit_bytes: Option<i64>,
}

/// Options of create and replace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostParams {
    /// Validate and answer without storing.
    pub dry_run: bool,
    /// The field manager recorded in managedFields (`kubectl-create`, a controller's name).
    pub field_manager: Option<String>,
}

/// Options of patch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchParams {
    /// Validate and answer without storing.
    pub dry_run: bool,
    /// The field manager; required for [`Patch::Apply`].
    pub field_manager: Option<String>,
    /// Server-side apply: take over fields owned by other managers.
    pub force: bool,
}

impl PatchParams {
    /// Server-side apply as `manager`.
    pub fn apply(manager: &str) -> Self {
        PatchParams {
            field_manager: Some(manager.to_string()),
            ..Default::default()
        }
    }

    /// Also take over conflicting fields (server-side apply `--force-conflicts`).
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }
}

/// A patch in one of the four Kubernetes patch types.
#[derive(Debug, Clone, PartialEq)]
pub enum Patch<P: Serialize> {
    /// RFC 6902 JSON patch: a list of operations (`[{"op":"replace",...}]`).
    Json(serde_json::Value),
    /// RFC 7386 merge patch.
    Merge(P),
    /// Strategic merge patch (lists merged by key, as kubectl apply sends).
    Strategic(P),
    /// Server-side apply of a whole (partial) object; needs a field manager.
    Apply(P),
}

impl<P: Serialize> Patch<P> {
    /// The REST Content-Type naming the patch type, as the `Patch` RPC takes it.
    pub fn content_type(&self) -> &'static str {
        match self {
            Patch::Json(_) => "application/json-patch+json",
            Patch::Merge(_) => "application/merge-patch+json",
            Patch::Strategic(_) => "application/strategic-merge-patch+json",
            Patch::Apply(_) => "application/apply-patch+yaml",
        }
    }

    /// The patch body as JSON (JSON is valid YAML for apply patches).
    pub fn to_json(&self) -> Result<Vec<u8>> {
        match self {
            Patch::Json(ops) => serde_json::to_vec(ops),
            Patch::Merge(p) | Patch::Strategic(p) | Patch::Apply(p) => serde_json::to_vec(p),
        }
        .map_err(Error::Encode)
    }
}

/// What happens to dependents of a deleted object (ownerReferences).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropagationPolicy {
    /// Dependents are left without their owner.
    Orphan,
    /// The owner goes at once; the garbage collector deletes dependents after.
    Background,
    /// The owner stays (with the `foregroundDeletion` finalizer) until dependents are gone.
    Foreground,
}

impl PropagationPolicy {
    /// The wire name: `Orphan`, `Background`, `Foreground`.
    pub fn as_str(&self) -> &'static str {
        match self {
            PropagationPolicy::Orphan => "Orphan",
            PropagationPolicy::Background => "Background",
            PropagationPolicy::Foreground => "Foreground",
        }
    }
}

/// Options of delete and deletecollection: a meta/v1 `DeleteOptions`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeleteParams {
    /// Seconds a pod gets to stop; 0 deletes at once.
    pub grace_period_seconds: Option<i64>,
    /// What happens to dependents; the resource's default when None.
    pub propagation_policy: Option<PropagationPolicy>,
    /// Delete only if the object still has this uid / resourceVersion.
    pub preconditions: Option<Preconditions>,
    /// Validate and answer without deleting.
    pub dry_run: bool,
}

impl DeleteParams {
    /// Background propagation, as `kubectl delete` sends it.
    pub fn background() -> Self {
        DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        }
    }

    /// The `DeleteOptions` JSON the `Delete` RPC takes; empty for all defaults.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        if *self == DeleteParams::default() {
            return Ok(Vec::new());
        }
        let mut options = serde_json::json!({"kind": "DeleteOptions", "apiVersion": "v1"});
        if let Some(grace) = self.grace_period_seconds {
            options["gracePeriodSeconds"] = grace.into();
        }
        if let Some(policy) = self.propagation_policy {
            options["propagationPolicy"] = policy.as_str().into();
        }
        if let Some(pre) = &self.preconditions {
            options["preconditions"] = serde_json::to_value(pre).map_err(Error::Encode)?;
        }
        if self.dry_run {
            options["dryRun"] = serde_json::json!(["All"]);
        }
        serde_json::to_vec(&options).map_err(Error::Encode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_options_are_kubernetes_json() {
        assert!(DeleteParams::default().to_json().unwrap().is_empty());
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            propagation_policy: Some(PropagationPolicy::Foreground),
            preconditions: Some(Preconditions {
                resource_version: Some("5".into()),
                uid: None,
            }),
            dry_run: true,
        };
        let json: serde_json::Value = serde_json::from_slice(&params.to_json().unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                "propagationPolicy": "Foreground", "preconditions": {"resourceVersion": "5"},
                "dryRun": ["All"]})
        );
    }

    #[test]
    fn patch_types_name_their_content_type() {
        let merge = Patch::Merge(serde_json::json!({"spec": {"replicas": 3}}));
        assert_eq!(merge.content_type(), "application/merge-patch+json");
        assert_eq!(merge.to_json().unwrap(), br#"{"spec":{"replicas":3}}"#);
        let json: Patch<()> = Patch::Json(serde_json::json!([]));
        assert_eq!(json.content_type(), "application/json-patch+json");
    }
}
