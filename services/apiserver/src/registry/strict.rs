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

use rudder_api::validation::FieldError;

use crate::error::{Error, Result};

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(
    resource: &ResourceInfo,
    value: &Value,
) -> Result<Value> {
    let typed: T = rudder_api::defaults::decode(resource, value)?;
    serde_json::to_value(typed)
        .map_err(|e| Error::Internal(format!("encoding {}: {e}", resource.kind)))
}

/// `value` as the kind's schema keeps it (unknown fields dropped); `None` for
/// kinds without a typed form here.
pub fn typed(resource: &ResourceInfo, value: &Value) -> Result<Option<Value>> {
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

/// Unknown fields of `object` as upstream's strict decoding error (`strict decoding
/// error: unknown field "a", unknown field "b"`), or `None` when all are known.
fn decoding_error(resource: &ResourceInfo, object: &Value) -> Result<Option<String>> {
    let Some(known) = typed(resource, object)? else {
        return Ok(None);
    };
    let mut unknown = Vec::new();
    unknown_fields(object, &known, "", &mut unknown);
    if unknown.is_empty() {
        return Ok(None);
    }
    let fields = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect::<Vec<_>>();
    Ok(Some(format!(
        "strict decoding error: {}",
        fields.join(", ")
    )))
}

/// Create and update: a 400 worded as upstream's body decoder words it, naming the
/// body's kind and version (`Pod in version "v1" cannot be handled as a Pod: strict
/// decoding error: unknown field "spec.containers[0].colour"`).
pub fn check(resource: &ResourceInfo, object: &Value) -> Result<()> {
    let Some(error) = decoding_error(resource, object)? else {
        return Ok(());
    };
    let named = |field: &str| {
        object
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let kind = named("kind").unwrap_or(resource.kind);
    let version = named("apiVersion")
        .and_then(|v| v.rsplit('/').next())
        .unwrap_or(resource.version);
    Err(Error::BadRequest(format!(
        "{kind} in version \"{version}\" cannot be handled as a {}: {error}",
        resource.kind
    )))
}

/// Patch: upstream decodes the patched object and answers a 422 on the field `patch`
/// whose value is the patched object's JSON (JSON and merge patches) or the patch as
/// Go prints a map (strategic merge patches), detailed by the strict decoding error.
pub fn check_patched(
    resource: &ResourceInfo,
    patched: &Value,
    strategic_patch: Option<&Value>,
) -> Result<()> {
    let Some(error) = decoding_error(resource, patched)? else {
        return Ok(());
    };
    let value = match strategic_patch {
        Some(patch) => go_text(patch),
        None => patched.to_string(),
    };
    Err(Error::InvalidPatch(FieldError::invalid(
        "patch",
        Value::String(value),
        &error,
    )))
}

/// A JSON value as Go's `%+v` prints the `map[string]interface{}` it decodes to
/// (`map[spec:map[replicas:2]]`): keys sorted, strings bare, `<nil>` for null.
fn go_text(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(go_text).collect::<Vec<_>>().join(" ")
            )
        }
        Value::Object(fields) => {
            let mut keys: Vec<_> = fields.keys().collect();
            keys.sort();
            let pairs = keys
                .iter()
                .map(|k| format!("{k}:{}", go_text(&fields[k.as_str()])))
                .collect::<Vec<_>>();
            format!("map[{}]", pairs.join(" "))
        }
    }
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
            "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: \
             unknown field \"bogus\", unknown field \"spec.containers[0].colour\""
        );
        let deployments = resolve("deployments").unwrap();
        let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replica": 2}});
        assert_eq!(
            check(deployments, &bad).unwrap_err().to_string(),
            "Deployment in version \"v1\" cannot be handled as a Deployment: \
             strict decoding error: unknown field \"spec.replica\""
        );
        let wrong_type = json!({"metadata": {"name": 5}});
        assert_eq!(check(pods, &wrong_type).unwrap_err().code(), 400);
    }

    #[test]
    fn a_patch_with_unknown_fields_is_invalid_on_the_patch() {
        let deployments = resolve("deployments").unwrap();
        let patched = json!({"kind": "Deployment", "spec": {"replica": 2}});
        let err = check_patched(deployments, &patched, None).unwrap_err();
        assert_eq!(err.code(), 422);
        assert_eq!(
            err.to_status().message.unwrap(),
            " \"\" is invalid: patch: Invalid value: \"{\\\"kind\\\":\\\"Deployment\\\",\\\"spec\\\":{\\\"replica\\\":2}}\": \
             strict decoding error: unknown field \"spec.replica\""
        );
        let patch = json!({"spec": {"replica": 2, "template": {"metadata": {"labels": {"b": "x", "a": null}}}}});
        let err = check_patched(deployments, &patched, Some(&patch)).unwrap_err();
        assert_eq!(
            err.to_status().message.unwrap(),
            " \"\" is invalid: patch: Invalid value: \"map[spec:map[replica:2 template:map[metadata:map[labels:map[a:<nil> b:x]]]]]\": \
             strict decoding error: unknown field \"spec.replica\""
        );
    }
}
