//! Server-side apply (`PATCH` with `application/apply-patch+yaml`): the applied
//! configuration is merged into the live object by `rudder_api::apply`, which
//! also keeps managedFields and finds conflicts; this file reads, creates or
//! compare-and-swaps through the registry's one write path.

use std::sync::Arc;

use rudder_api::apply;
use rudder_api::patch::PatchType;
use rudder_api::resource::ResourceInfo;
use serde_json::{Value, json};

use super::{
    Basis, CollectionRef, MAX_RETRIES, ObjectRef, Ownership, Registry, WriteOptions, apply_error,
    is_scale, key_of, meta, ownership_scope, scale, strict,
};
use crate::admission::{RequestContext, Verb};
use crate::error::{Error, Result};

impl Registry {
    /// Applies the configuration in `body` for the request's field manager: to the
    /// stored object, or creating it (authorized as a create) when there is none
    /// (then `true`). An apply that changes nothing writes nothing.
    pub(super) async fn apply(
        &self,
        ctx: &RequestContext,
        r: &ObjectRef,
        body: &[u8],
        options: &WriteOptions,
    ) -> Result<(Value, bool)> {
        let config = if is_scale(r) {
            // A Scale owns the object's spec.replicas (recorded for subresource scale).
            let scale = parse_config(("autoscaling/v1", "Scale"), &r.name, body)?;
            scale_as_object(r.resource, &r.name, &scale)?
        } else {
            let expected = r.resource.api_version();
            parse_config((&expected, r.resource.kind), &r.name, body)?
        };
        check_schema(r, &config)?;
        let precondition = match meta::meta_str(&config, "resourceVersion") {
            "" => None,
            rv => Some(meta::parse_resource_version(rv)?),
        };
        let manager = options.manager();
        let api_version = r.resource.api_version();
        let ty = PatchType::for_resource(r.resource);
        let scope = ownership_scope(r.resource, r.subresource.as_deref());
        let key = key_of(r)?;
        for _ in 0..MAX_RETRIES {
            let now = meta::now_rfc3339();
            let writer = apply::Writer {
                manager: &manager,
                subresource: r.subresource.as_deref().unwrap_or(""),
                api_version: &api_version,
                now: &now,
            };
            let (old, current) = match self.read(r).await {
                Ok(found) => found,
                Err(Error::NotFound { .. })
                    if r.subresource.is_none() && precondition.is_none() =>
                {
                    self.authorize(ctx, Verb::Create, r)?;
                    let object = apply::apply(ty, None, &config, &writer, options.force, scope)
                        .map_err(|e| apply_error(r.resource, &config, e))?;
                    let collection = CollectionRef {
                        resource: r.resource,
                        namespace: r.namespace.clone(),
                    };
                    match self
                        .insert(ctx, &collection, object, options, Ownership::Applied)
                        .await
                    {
                        // Created meanwhile: apply to what is there now.
                        Err(Error::AlreadyExists { .. }) => continue,
                        other => return other.map(|created| (created, true)),
                    }
                }
                Err(e) => return Err(e),
            };
            if precondition.is_some_and(|rv| rv != current) {
                return Err(self.conflict(r));
            }
            let merged = apply::apply(ty, Some(&old), &config, &writer, options.force, scope)
                .map_err(|e| apply_error(r.resource, &config, e))?;
            let main = ObjectRef {
                subresource: None,
                ..r.clone()
            };
            let target = if is_scale(r) { &main } else { r };
            if let Some(done) = self
                .write_update(
                    ctx,
                    target,
                    &key,
                    merged,
                    ((Arc::new(old), current), Basis::Store),
                    options,
                    Ownership::Applied,
                )
                .await?
            {
                let done = if is_scale(r) {
                    scale::to_scale(&done)
                } else {
                    done
                };
                return Ok((done, false));
            }
        }
        Err(self.conflict(r))
    }
}

/// Apply is strict whatever `fieldValidation` says, as upstream: a field the
/// kind's schema does not know is a 400 in server-side apply's words.
fn check_schema(r: &ObjectRef, config: &Value) -> Result<()> {
    let Some(known) = strict::typed(r.resource, config)? else {
        return Ok(());
    };
    let unknown = apply::walk::unknown_fields(PatchType::for_resource(r.resource), config, &known);
    if unknown.is_empty() {
        return Ok(());
    }
    let object = match &r.namespace {
        Some(ns) => format!("{ns}/{}", r.name),
        None => r.name.clone(),
    };
    Err(Error::BadRequest(format!(
        "failed to create typed patch object ({object}; {}, Kind={}): {}",
        r.resource.api_version(),
        r.resource.kind,
        unknown
            .iter()
            .map(|f| format!("{f}: field not declared in schema"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// The object a Scale configuration stands for: the kind's type, its name and the
/// Scale's `spec.replicas`.
fn scale_as_object(resource: &ResourceInfo, name: &str, scale: &Value) -> Result<Value> {
    let mut object = json!({"apiVersion": resource.api_version(), "kind": resource.kind,
                            "metadata": {"name": name}});
    if let Some(replicas) = scale.pointer("/spec/replicas").filter(|v| !v.is_null()) {
        if replicas.as_i64().is_none_or(|n| n < 0) {
            return Err(Error::BadRequest(format!(
                "spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
            )));
        }
        object["spec"] = json!({"replicas": replicas});
    }
    Ok(object)
}

/// The applied configuration: a YAML (or JSON) object of the expected
/// (apiVersion, kind), named as the URL names it (the name may be left out). A key
/// twice in one map is a 400, as upstream's strict YAML decoding has it.
fn parse_config((expected, expected_kind): (&str, &str), name: &str, body: &[u8]) -> Result<Value> {
    let UniqueKeys(mut config) = serde_norway::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("error decoding YAML: {e}")))?;
    if !config.is_object() {
        return Err(Error::BadRequest(
            "the body of an apply patch must be an object".into(),
        ));
    }
    let version = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if version != expected {
        return Err(Error::BadRequest(format!(
            "Incorrect version specified in apply patch. Specified patch version: {version}, expected: {expected}"
        )));
    }
    let kind = config.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != expected_kind {
        return Err(Error::BadRequest(format!(
            "Incorrect kind specified in apply patch. Specified patch kind: {kind}, expected: {expected_kind}"
        )));
    }
    match meta::meta_str(&config, "name") {
        "" => {
            meta::metadata_mut(&mut config)?.insert("name".into(), json!(name));
        }
        given if given != name => {
            return Err(Error::BadRequest(format!(
                "the name of the object ({given}) does not match the name on the URL ({name})"
            )));
        }
        _ => {}
    }
    Ok(config)
}

/// A JSON value decoded from YAML that refuses maps with a key twice (a YAML
/// decoder would keep the last silently).
struct UniqueKeys(Value);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor).map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(json!(v))
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(json!(v))
    }

    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(json!(v))
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some((key, UniqueKeys(value))) = map.next_entry::<String, UniqueKeys>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "key {key:?} already set in map"
                )));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: (&str, &str) = ("apps/v1", "Deployment");

    #[test]
    fn configurations_must_name_the_urls_kind_version_and_object() {
        let ok = parse_config(
            DEPLOYMENT,
            "web",
            b"apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: 2\n",
        )
        .unwrap();
        assert_eq!(ok["metadata"]["name"], "web");
        assert_eq!(ok["spec"]["replicas"], 2);
        let json = parse_config(
            DEPLOYMENT,
            "web",
            br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"}}"#,
        );
        assert!(json.is_ok());
        for (body, message) in [
            (
                &b"apiVersion: v1\nkind: Deployment\n"[..],
                "Incorrect version specified in apply patch. Specified patch version: v1, expected: apps/v1",
            ),
            (
                b"apiVersion: apps/v1\nkind: Pod\n",
                "Incorrect kind specified in apply patch. Specified patch kind: Pod, expected: Deployment",
            ),
            (
                b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: other\n",
                "the name of the object (other) does not match the name on the URL (web)",
            ),
            (b"- 1\n", "the body of an apply patch must be an object"),
        ] {
            let err = parse_config(DEPLOYMENT, "web", body).unwrap_err();
            assert_eq!((err.code(), err.to_string()), (400, message.to_string()));
        }
        let dup = parse_config(
            DEPLOYMENT,
            "web",
            b"apiVersion: apps/v1\nkind: Deployment\nkind: Deployment\n",
        );
        assert_eq!(dup.unwrap_err().code(), 400);
    }
}
