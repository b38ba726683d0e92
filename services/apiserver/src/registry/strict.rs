//! `?fieldValidation=Strict`: fields the kind's schema does not know are a 400, as
//! upstream's strict decoding words it. The schema is the k8s-openapi type: a body
//! is decoded into it and encoded back, and any non-null input field missing from
//! the result is unknown. TODO(api): move to rudder_api beside `defaults::decode`.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, Namespace, Node, Pod, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use rudder_api::resource::ResourceInfo;
use serde_json::Value;

use crate::error::{Error, Result};

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(
    resource: &ResourceInfo,
    value: &Value,
) -> Result<Value> {
    let typed: T = rudder_api::defaults::decode(resource, value)?;
    serde_json::to_value(typed)
        .map_err(|e| Error::Internal(format!("encoding {}: {e}", resource.kind)))
}

fn typed(resource: &ResourceInfo, value: &Value) -> Result<Option<Value>> {
    let out = match (resource.group, resource.kind) {
        ("", "ConfigMap") => round_trip::<ConfigMap>(resource, value)?,
        ("", "Endpoints") => round_trip::<Endpoints>(resource, value)?,
        ("", "Event") => round_trip::<Event>(resource, value)?,
        ("", "Namespace") => round_trip::<Namespace>(resource, value)?,
        ("", "Node") => round_trip::<Node>(resource, value)?,
        ("", "Pod") => round_trip::<Pod>(resource, value)?,
        ("", "Secret") => round_trip::<Secret>(resource, value)?,
        ("", "Service") => round_trip::<Service>(resource, value)?,
        ("", "ServiceAccount") => round_trip::<ServiceAccount>(resource, value)?,
        ("apps", "Deployment") => round_trip::<Deployment>(resource, value)?,
        ("apps", "ReplicaSet") => round_trip::<ReplicaSet>(resource, value)?,
        ("coordination.k8s.io", "Lease") => round_trip::<Lease>(resource, value)?,
        (_, "Role") => round_trip::<Role>(resource, value)?,
        (_, "ClusterRole") => round_trip::<ClusterRole>(resource, value)?,
        (_, "RoleBinding") => round_trip::<RoleBinding>(resource, value)?,
        (_, "ClusterRoleBinding") => round_trip::<ClusterRoleBinding>(resource, value)?,
        _ => return Ok(None),
    };
    Ok(Some(out))
}

/// Paths of input fields the typed form dropped (`spec.foo`, `spec.containers[0].bar`).
pub fn unknown_fields(input: &Value, known: &Value, path: &str, out: &mut Vec<String>) {
    match (input, known) {
        (Value::Object(i), Value::Object(k)) => {
            for (key, value) in i {
                if value.is_null() {
                    continue;
                }
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    Some(kv) => unknown_fields(value, kv, &here, out),
                    None => out.push(here),
                }
            }
        }
        (Value::Array(i), Value::Array(k)) if i.len() == k.len() => {
            for (n, (iv, kv)) in i.iter().zip(k).enumerate() {
                unknown_fields(iv, kv, &format!("{path}[{n}]"), out);
            }
        }
        _ => {}
    }
}

/// A 400 listing every unknown field of `object`, as upstream's strict decoding.
pub fn check(resource: &ResourceInfo, object: &Value) -> Result<()> {
    let Some(known) = typed(resource, object)? else {
        return Ok(());
    };
    let mut unknown = Vec::new();
    unknown_fields(object, &known, "", &mut unknown);
    if unknown.is_empty() {
        return Ok(());
    }
    Err(Error::BadRequest(format!(
        "strict decoding error: {}",
        unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_api::resource::resolve;
    use serde_json::json;

    #[test]
    fn finds_unknown_fields_and_ignores_nulls() {
        let pods = resolve("pods").unwrap();
        let ok = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "creationTimestamp": null},
                        "spec": {"containers": [{"name": "c", "image": "i", "resources": {}}]}});
        assert!(check(pods, &ok).is_ok());
        let bad = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "bogus": 1,
                         "spec": {"containers": [{"name": "c", "image": "i", "colour": "red"}]}});
        let err = check(pods, &bad).unwrap_err();
        assert_eq!(err.code(), 400);
        assert_eq!(
            err.to_string(),
            "strict decoding error: unknown field \"bogus\", unknown field \"spec.containers[0].colour\""
        );
        let wrong_type = json!({"metadata": {"name": 5}});
        assert_eq!(check(pods, &wrong_type).unwrap_err().code(), 400);
    }
}
