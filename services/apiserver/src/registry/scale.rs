//! The `scale` subresource of deployments and replica sets: an autoscaling/v1
//! `Scale` view of the object (what `kubectl scale` reads and patches), and the
//! way a changed Scale writes back into `spec.replicas`.

use rudder_api::resource::ResourceInfo;
use rudder_api::selector::Selector;
use rudder_api::validation::FieldError;
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// The Scale of an object.
pub fn to_scale(object: &Value) -> Value {
    let meta = object.get("metadata").cloned().unwrap_or(json!({}));
    let mut scale_meta = Map::new();
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(field) {
            scale_meta.insert(field.to_string(), v.clone());
        }
    }
    let selector = object
        .pointer("/spec/selector")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .and_then(|s| Selector::from_label_selector(Some(&s)).ok())
        .map(|s| s.to_string())
        .unwrap_or_default();
    let mut status = json!({
        "replicas": object.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
    });
    if !selector.is_empty() {
        status["selector"] = json!(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0)},
        "status": status,
    })
}

/// `object` with the replicas a client's Scale asks for; 422 for a missing or
/// negative count, as upstream validates Scale.
pub fn apply_scale(
    resource: &'static ResourceInfo,
    object: &Value,
    scale: &Value,
) -> Result<Value> {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let replicas = match scale.pointer("/spec/replicas") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_i64()
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| {
                Error::BadRequest(format!("Scale.spec.replicas must be an integer, got {v}"))
            })?,
    };
    if replicas < 0 {
        return Err(Error::Invalid {
            resource,
            name,
            errors: vec![FieldError::invalid(
                "spec.replicas",
                json!(replicas),
                "must be greater than or equal to 0",
            )],
        });
    }
    let mut out = object.clone();
    if let Some(spec) = out.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("replicas".into(), json!(replicas));
    }
    if let Some(rv) = scale
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        && let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.insert("resourceVersion".into(), json!(rv));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_api::resource::resolve;

    #[test]
    fn scale_view_and_write_back() {
        let d = json!({"metadata": {"name": "web", "namespace": "a", "uid": "u", "resourceVersion": "5", "labels": {"x": "y"}},
                       "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
                       "status": {"replicas": 2}});
        assert_eq!(
            to_scale(&d),
            json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
                   "metadata": {"name": "web", "namespace": "a", "uid": "u", "resourceVersion": "5"},
                   "spec": {"replicas": 3}, "status": {"replicas": 2, "selector": "app=web"}})
        );
        let deploy = resolve("deploy").unwrap();
        let scaled = apply_scale(deploy, &d, &json!({"spec": {"replicas": 5}})).unwrap();
        assert_eq!(scaled["spec"]["replicas"], 5);
        assert_eq!(scaled["metadata"]["labels"], d["metadata"]["labels"]);
        let err = apply_scale(deploy, &d, &json!({"spec": {"replicas": -1}})).unwrap_err();
        assert_eq!(err.code(), 422);
        assert_eq!(
            apply_scale(deploy, &d, &json!({"spec": {"replicas": "x"}}))
                .unwrap_err()
                .code(),
            400
        );
    }
}
