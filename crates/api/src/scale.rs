//! The `scale` subresource of Deployments and ReplicaSets: the autoscaling/v1
//! `Scale` view of an object, and writing a Scale's replicas back, as
//! kube-apiserver does for `kubectl scale` (which PATCHes `.../scale` with a merge
//! patch and expects a Scale back).

use k8s_openapi::api::autoscaling::v1::{Scale, ScaleSpec, ScaleStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde_json::{Value, json};

use crate::error::Error;
use crate::resource::ResourceInfo;
use crate::selector::Selector;
use crate::validation::{FieldError, FieldErrors};

fn no_scale(resource: &ResourceInfo) -> Error {
    Error::UnknownResource(format!("{}/scale", resource.plural))
}

/// The Scale of an object of a resource that serves `scale`: identity metadata,
/// `spec.replicas`, `status.replicas` and the selector in its string form.
pub fn scale_of(resource: &ResourceInfo, object: &Value) -> Result<Scale, Error> {
    if resource.subresource("scale").is_none() {
        return Err(no_scale(resource));
    }
    let meta: ObjectMeta = serde_json::from_value(
        object.get("metadata").cloned().unwrap_or(json!({})),
    )
    .map_err(|e| Error::Decode {
        kind: resource.kind.to_string(),
        version: resource.api_version(),
        message: e.to_string(),
    })?;
    let int = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_i64)
            .and_then(|v| i32::try_from(v).ok())
    };
    let selector = match object.pointer("/spec/selector") {
        Some(s) => {
            let ls: LabelSelector = serde_json::from_value(s.clone())
                .map_err(|e| Error::LabelSelector(e.to_string()))?;
            Selector::from_label_selector(Some(&ls))?.to_string()
        }
        None => String::new(),
    };
    Ok(Scale {
        metadata: ObjectMeta {
            name: meta.name,
            namespace: meta.namespace,
            uid: meta.uid,
            resource_version: meta.resource_version,
            creation_timestamp: meta.creation_timestamp,
            ..Default::default()
        },
        spec: Some(ScaleSpec {
            replicas: Some(int("/spec/replicas").unwrap_or(1)),
        }),
        status: Some(ScaleStatus {
            replicas: int("/status/replicas").unwrap_or(0),
            selector: Some(selector),
        }),
    })
}

/// Checks a Scale sent by a client (`spec.replicas` must be non-negative).
pub fn validate_scale(scale: &Scale) -> FieldErrors {
    match scale.spec.as_ref().and_then(|s| s.replicas) {
        Some(r) if r < 0 => vec![FieldError::invalid(
            "spec.replicas",
            json!(r),
            "must be greater than or equal to 0",
        )],
        _ => Vec::new(),
    }
}

/// Writes a Scale's `spec.replicas` into the object (nothing else changes).
pub fn apply_scale(
    resource: &ResourceInfo,
    object: &mut Value,
    scale: &Scale,
) -> Result<(), Error> {
    if resource.subresource("scale").is_none() {
        return Err(no_scale(resource));
    }
    let replicas = scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let Value::Object(obj) = object else {
        return Err(Error::Decode {
            kind: resource.kind.to_string(),
            version: resource.api_version(),
            message: "object is not a JSON object".to_string(),
        });
    };
    let spec = obj.entry("spec").or_insert_with(|| json!({}));
    if !spec.is_object() {
        *spec = json!({});
    }
    spec["replicas"] = json!(replicas);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::apply_merge_patch;
    use crate::resource::resolve;

    fn deployment() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "42",
                            "labels": {"app": "web"}, "creationTimestamp": "2026-01-01T00:00:00Z"},
               "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "Exists"}]}},
               "status": {"replicas": 2}})
    }

    #[test]
    fn kubectl_scale_round_trip() {
        let deploy = resolve("deploy").unwrap();
        let scale = scale_of(deploy, &deployment()).unwrap();
        assert_eq!(
            serde_json::to_value(&scale).unwrap(),
            json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
                   "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "42",
                                "creationTimestamp": "2026-01-01T00:00:00Z"},
                   "spec": {"replicas": 3},
                   "status": {"replicas": 2, "selector": "app=web,tier"}})
        );
        // What `kubectl scale --replicas=5` sends.
        let patched = apply_merge_patch(
            &serde_json::to_value(&scale).unwrap(),
            &json!({"spec": {"replicas": 5}}),
        );
        let new_scale: Scale = serde_json::from_value(patched).unwrap();
        assert_eq!(validate_scale(&new_scale), Vec::new());
        let mut obj = deployment();
        apply_scale(deploy, &mut obj, &new_scale).unwrap();
        assert_eq!(obj["spec"]["replicas"], 5);
        assert_eq!(obj["spec"]["selector"], deployment()["spec"]["selector"]);

        let negative = Scale {
            spec: Some(ScaleSpec { replicas: Some(-1) }),
            ..Default::default()
        };
        assert_eq!(
            validate_scale(&negative)[0].to_string(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
    }

    #[test]
    fn only_scalable_kinds() {
        let pods = resolve("pods").unwrap();
        assert_eq!(
            scale_of(pods, &json!({})),
            Err(Error::UnknownResource("pods/scale".into()))
        );
        assert!(apply_scale(pods, &mut json!({}), &Scale::default()).is_err());
        let rs = resolve("rs").unwrap();
        let s = scale_of(rs, &json!({"metadata": {"name": "r"}})).unwrap();
        assert_eq!(s.spec.unwrap().replicas, Some(1));
        assert!(scale_of(rs, &json!({"metadata": 5})).is_err());
        assert!(scale_of(rs, &json!({"spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Bad"}]}}})).is_err());
        let mut not_object = json!([1]);
        assert!(apply_scale(rs, &mut not_object, &Scale::default()).is_err());
        let mut no_spec = json!({"spec": 7});
        apply_scale(rs, &mut no_spec, &Scale::default()).unwrap();
        assert_eq!(no_spec, json!({"spec": {"replicas": 0}}));
    }
}
