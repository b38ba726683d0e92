//! The patch target: a patch document applied to a stored object, as
//! `PATCH .../<name>` does it (`rudder_api::patch`: JSON patch, merge patch,
//! strategic merge patch, server-side apply), then prepared as the update it becomes (defaulting,
//! validation). The first input byte picks the patch type, the second the stored
//! object, the rest is the document. A strategic result is also diffed back against
//! the original (`create_two_way_merge_patch`, what `apply` sends).

use std::sync::LazyLock;

use rudder_api::apply;
use rudder_api::patch::{self, PatchType};
use rudder_api::resource::{self, ResourceInfo};
use rudder_apiserver::registry::PatchKind;
use rudder_apiserver::registry::meta::{self, Stamp};
use serde_json::{Value, json};

use crate::checked;

/// Stored objects of the kinds whose patch strategies differ, as the server keeps them.
static SAMPLES: LazyLock<Vec<(&'static ResourceInfo, Value)>> = LazyLock::new(|| {
    let stamp = Stamp {
        now: "2026-01-02T03:04:05Z".to_string(),
        uid: "00000000-0000-4000-8000-000000000000".to_string(),
        entropy: Default::default(),
    };
    let container = json!({
        "name": "app", "image": "nginx:1.27",
        "ports": [{"containerPort": 80, "name": "http"}],
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
    });
    let pod_spec = json!({
        "containers": [container],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "tolerations": [{"key": "k", "operator": "Exists"}],
    });
    let labels = json!({"app": "web"});
    let objects = [
        (
            "",
            "pods",
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web", "namespace": "default", "labels": labels,
                             "finalizers": ["example.com/keep"],
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": "web-1", "uid": "u1", "controller": true}]},
                "spec": pod_spec,
            }),
        ),
        (
            "apps",
            "deployments",
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels}, "spec": pod_spec}},
            }),
        ),
        (
            "",
            "services",
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"selector": labels, "clusterIP": "10.96.0.10",
                         "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]},
            }),
        ),
        (
            "",
            "nodes",
            json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
                "spec": {"podCIDRs": ["10.244.0.0/24"]},
                "status": {"conditions": [{"type": "Ready", "status": "True"}],
                           "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]},
            }),
        ),
        (
            "",
            "configmaps",
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "cfg", "namespace": "default"},
                "data": {"a": "1", "b": "2"},
            }),
        ),
    ];
    objects
        .into_iter()
        .filter_map(|(group, plural, object)| {
            let resource = resource::by_plural(group, plural)?;
            let namespace = object["metadata"]["namespace"].as_str().map(str::to_string);
            let stored =
                meta::prepare_create(resource, namespace.as_deref(), object, &stamp).ok()?;
            Some((resource, stored))
        })
        .collect()
});

/// Runs one input: `[patch type, sample, document...]`.
pub fn exercise(data: &[u8]) {
    let [kind, sample, document @ ..] = data else {
        return;
    };
    let kind = match kind % 4 {
        0 => PatchKind::Json,
        1 => PatchKind::Merge,
        2 => PatchKind::Strategic,
        _ => PatchKind::Apply,
    };
    let samples = &*SAMPLES;
    assert!(!samples.is_empty(), "the sample objects must prepare");
    let (resource, stored) = &samples[usize::from(*sample) % samples.len()];
    apply(resource, stored, kind, document);
}

/// What a PATCH of `resource` does to its sample object (the request target's path).
pub fn apply_to_sample(resource: &'static ResourceInfo, kind: PatchKind, document: &[u8]) {
    let sample = SAMPLES
        .iter()
        .find(|(r, _)| std::ptr::eq(*r, resource))
        .or_else(|| SAMPLES.first());
    if let Some((_, stored)) = sample {
        apply(resource, stored, kind, document);
    }
}

fn apply(resource: &'static ResourceInfo, stored: &Value, kind: PatchKind, document: &[u8]) {
    let Ok(document) = serde_json::from_slice::<Value>(document) else {
        return;
    };
    let ty = PatchType::for_resource(resource);
    let patched = match kind {
        PatchKind::Json => checked(
            "JSON patch",
            patch::apply_json_patch(stored, &document).map_err(Into::into),
        ),
        PatchKind::Merge if document.is_object() => {
            Some(patch::apply_merge_patch(stored, &document))
        }
        PatchKind::Merge => None,
        PatchKind::Strategic => checked(
            "strategic merge patch",
            patch::apply_strategic_merge_patch(stored, &document, ty).map_err(Into::into),
        ),
        PatchKind::Apply => {
            let api_version = resource.api_version();
            let writer = apply::Writer {
                manager: "fuzz",
                subresource: "",
                api_version: &api_version,
                now: "2026-01-02T03:04:05Z",
            };
            // Every apply error is the client's (400, 422, 409): none is a finding.
            apply::apply(
                ty,
                Some(stored),
                &document,
                &writer,
                true,
                apply::Scope::Whole,
            )
            .ok()
        }
    };
    let Some(patched) = patched.filter(Value::is_object) else {
        return;
    };
    if kind == PatchKind::Strategic {
        checked(
            "two-way merge patch",
            patch::create_two_way_merge_patch(stored, &patched, ty).map_err(Into::into),
        );
    }
    let name = meta::meta_str(stored, "name").to_string();
    let namespace = stored["metadata"]["namespace"].as_str();
    checked(
        "preparing the patched object",
        meta::prepare_update(resource, None, &name, namespace, patched, stored),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_prepares() {
        assert_eq!(SAMPLES.len(), 5);
        for (resource, stored) in SAMPLES.iter() {
            assert_eq!(stored["kind"], resource.kind);
        }
    }
}
