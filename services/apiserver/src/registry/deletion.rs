//! What a DELETE does to an object, as kube-apiserver decides it: remove it now, or
//! mark it (deletionTimestamp, deletionGracePeriodSeconds, finalizers) and leave the
//! rest to whoever holds the finalizers or the grace period.
//!
//! - `propagationPolicy: Orphan` adds the `orphan` finalizer and `Foreground` adds
//!   `foregroundDeletion`; the garbage collector (controller-manager) acts on them and
//!   removes them. `Background` (the default) removes the object now and the collector
//!   deletes its dependents afterwards.
//! - A pod bound to a node is deleted gracefully: it gets a deletionTimestamp
//!   `gracePeriodSeconds` (default its `terminationGracePeriodSeconds`) ahead and stays
//!   until the kubelet, having stopped its containers, deletes it with grace 0. An
//!   unbound or finished pod goes at once, as upstream.

use rudder_api::resource::ResourceInfo;
use serde_json::{Value, json};

use super::DeleteOptions;
use super::meta;
use crate::error::Result;

/// The finalizer `propagationPolicy: Orphan` adds.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// The finalizer `propagationPolicy: Foreground` adds.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// The outcome of a DELETE.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Remove the object from the store now.
    Remove,
    /// Store this marked object and answer with it.
    Mark(Value),
    /// Already being deleted as asked: answer with the object as stored.
    Unchanged,
}

/// Decides a DELETE of `old` with `options` at `now` (Unix seconds).
pub fn plan(
    resource: &'static ResourceInfo,
    old: &Value,
    options: &DeleteOptions,
    now: i64,
) -> Result<Plan> {
    options.validate()?;
    let added = match options.propagation_policy.as_deref() {
        Some("Orphan") => Some(ORPHAN_FINALIZER),
        Some("Foreground") => Some(FOREGROUND_FINALIZER),
        _ => None,
    };
    let grace = grace_period(resource, old, options);
    let mut finalizers: Vec<String> = old
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let adds_finalizer = added.is_some_and(|f| !finalizers.iter().any(|have| have == f));
    if let Some(f) = added.filter(|_| adds_finalizer) {
        finalizers.push(f.to_string());
    }
    let marked_grace = old
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    let being_deleted = old.pointer("/metadata/deletionTimestamp").is_some();

    if finalizers.is_empty() && grace == 0 {
        return Ok(Plan::Remove);
    }
    // Already marked: only a new finalizer or a shorter grace period changes anything.
    let shortens = being_deleted && marked_grace.is_some_and(|g| grace < g);
    if being_deleted && !adds_finalizer && !shortens {
        return Ok(Plan::Unchanged);
    }
    let mut marked = old.clone();
    let meta = meta::metadata_mut(&mut marked)?;
    if !being_deleted || shortens {
        meta.insert(
            "deletionTimestamp".into(),
            json!(meta::rfc3339(now.saturating_add(grace))),
        );
        meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
    }
    meta.insert("finalizers".into(), json!(finalizers));
    Ok(Plan::Mark(marked))
}

/// Whether an update leaves `object` to be removed: it is being deleted, its last
/// finalizer is gone and no grace period is running.
pub fn finished(object: &Value) -> bool {
    object.pointer("/metadata/deletionTimestamp").is_some()
        && object
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        && object
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            == 0
}

/// The grace period a DELETE gives `old`: pods only, and only those a kubelet may be
/// running (bound and not finished).
fn grace_period(resource: &ResourceInfo, old: &Value, options: &DeleteOptions) -> i64 {
    if resource.plural != "pods" || !resource.group.is_empty() {
        return 0;
    }
    let bound = old
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        old.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if !bound || finished {
        return 0;
    }
    options.grace_period_seconds.unwrap_or_else(|| {
        old.pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_api::resource;

    const NOW: i64 = 1_800_000_000;

    fn pods() -> &'static ResourceInfo {
        resource::by_plural("", "pods").unwrap()
    }

    fn configmaps() -> &'static ResourceInfo {
        resource::by_plural("", "configmaps").unwrap()
    }

    fn options(policy: Option<&str>, grace: Option<i64>) -> DeleteOptions {
        DeleteOptions {
            propagation_policy: policy.map(String::from),
            grace_period_seconds: grace,
            ..Default::default()
        }
    }

    fn marked(plan: Plan) -> Value {
        match plan {
            Plan::Mark(v) => v,
            other => panic!("expected a mark, got {other:?}"),
        }
    }

    #[test]
    fn plain_objects_go_at_once_unless_a_policy_or_finalizer_holds_them() {
        let cm = json!({"metadata": {"name": "c"}});
        assert_eq!(
            plan(configmaps(), &cm, &options(None, None), NOW).unwrap(),
            Plan::Remove
        );
        assert_eq!(
            plan(
                configmaps(),
                &cm,
                &options(Some("Background"), Some(30)),
                NOW
            )
            .unwrap(),
            Plan::Remove,
            "a grace period means nothing outside pods"
        );
        let orphan = marked(plan(configmaps(), &cm, &options(Some("Orphan"), None), NOW).unwrap());
        assert_eq!(orphan["metadata"]["finalizers"], json!(["orphan"]));
        assert_eq!(orphan["metadata"]["deletionGracePeriodSeconds"], 0);
        assert_eq!(
            orphan["metadata"]["deletionTimestamp"],
            meta::rfc3339(NOW).as_str()
        );
        let fg = marked(plan(configmaps(), &cm, &options(Some("Foreground"), None), NOW).unwrap());
        assert_eq!(fg["metadata"]["finalizers"], json!(["foregroundDeletion"]));
        // Asked again: nothing new to do.
        assert_eq!(
            plan(
                configmaps(),
                &fg,
                &options(Some("Foreground"), None),
                NOW + 5
            )
            .unwrap(),
            Plan::Unchanged
        );
        // A user finalizer holds a background delete too.
        let held = json!({"metadata": {"name": "c", "finalizers": ["example.com/x"]}});
        let m = marked(plan(configmaps(), &held, &options(None, None), NOW).unwrap());
        assert_eq!(m["metadata"]["finalizers"], json!(["example.com/x"]));
    }

    #[test]
    fn bound_pods_are_deleted_gracefully_and_the_kubelet_finishes_them() {
        let pod = json!({"metadata": {"name": "p"},
                         "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 30}});
        let m = marked(plan(pods(), &pod, &options(None, None), NOW).unwrap());
        assert_eq!(m["metadata"]["deletionGracePeriodSeconds"], 30);
        assert_eq!(
            m["metadata"]["deletionTimestamp"],
            meta::rfc3339(NOW + 30).as_str()
        );
        assert!(!finished(&m), "a running grace period keeps the pod");
        // Deleting again with the same grace changes nothing; a shorter one moves it.
        assert_eq!(
            plan(pods(), &m, &options(None, None), NOW + 1).unwrap(),
            Plan::Unchanged
        );
        let shorter = marked(plan(pods(), &m, &options(None, Some(5)), NOW + 1).unwrap());
        assert_eq!(shorter["metadata"]["deletionGracePeriodSeconds"], 5);
        // The kubelet's (or --force's) grace 0 removes it.
        assert_eq!(
            plan(pods(), &m, &options(None, Some(0)), NOW + 2).unwrap(),
            Plan::Remove
        );
    }

    #[test]
    fn unbound_or_finished_pods_go_at_once() {
        let pending =
            json!({"metadata": {"name": "p"}, "spec": {"terminationGracePeriodSeconds": 30}});
        assert_eq!(
            plan(pods(), &pending, &options(None, None), NOW).unwrap(),
            Plan::Remove
        );
        let done = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1"},
                          "status": {"phase": "Succeeded"}});
        assert_eq!(
            plan(pods(), &done, &options(None, None), NOW).unwrap(),
            Plan::Remove
        );
    }

    #[test]
    fn bad_options_are_invalid() {
        let cm = json!({"metadata": {"name": "c"}});
        for bad in [options(Some("Sometimes"), None), options(None, Some(-1))] {
            let err = plan(configmaps(), &cm, &bad, NOW).unwrap_err();
            assert_eq!(err.code(), 400, "{err}");
        }
    }

    #[test]
    fn removal_after_the_last_finalizer_waits_for_the_grace_period() {
        let gone = json!({"metadata": {"deletionTimestamp": "x", "deletionGracePeriodSeconds": 0}});
        assert!(finished(&gone));
        let held = json!({"metadata": {"deletionTimestamp": "x", "finalizers": ["orphan"]}});
        assert!(!finished(&held));
        let graceful =
            json!({"metadata": {"deletionTimestamp": "x", "deletionGracePeriodSeconds": 30}});
        assert!(!finished(&graceful));
        assert!(!finished(&json!({"metadata": {}})));
    }
}
