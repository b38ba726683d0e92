//! The pod subresources that are created, not read: `pods/binding`, with which the
//! scheduler assigns a pod to a node, and `pods/eviction`, the polite delete that
//! `kubectl drain` uses. Both answer with a `Success` Status, as upstream.
//!
//! Upstream runs PodDisruptionBudget checks before an eviction; Rudder serves no
//! PodDisruptionBudgets, so an eviction is a delete with the eviction's options.

use serde_json::{Value, json};

use super::{DeleteOptions, MAX_RETRIES, ObjectRef, Registry, Swap, key_of, meta};
use crate::admission::{RequestContext, Verb};
use crate::error::{Error, Result};

/// The subresources this module serves.
pub const CREATED_SUBRESOURCES: [&str; 2] = ["binding", "eviction"];

impl Registry {
    /// `POST .../pods/<name>/<binding|eviction>`: authorized as `create` on the
    /// subresource (the evicting user needs no `delete` on pods, as upstream).
    pub async fn create_subresource(
        &self,
        ctx: &RequestContext,
        r: &ObjectRef,
        body: Value,
        dry_run: bool,
    ) -> Result<Value> {
        let sub = r.subresource.as_deref().unwrap_or("");
        if r.resource.plural != "pods" || !CREATED_SUBRESOURCES.contains(&sub) {
            return Err(Error::PathNotFound);
        }
        self.authorize(ctx, Verb::Create, r)?;
        let named = meta::meta_str(&body, "name");
        if !named.is_empty() && named != r.name {
            return Err(Error::BadRequest(format!(
                "name in URL does not match name in {} object",
                if sub == "binding" {
                    "Binding"
                } else {
                    "Eviction"
                }
            )));
        }
        match sub {
            "binding" => self.bind(r, &body, dry_run).await?,
            _ => self.evict(ctx, r, &body, dry_run).await?,
        }
        Ok(json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }))
    }

    /// Sets `spec.nodeName` once, copies the binding's annotations and marks the
    /// pod `PodScheduled=True`; a pod already bound or being deleted is a 409.
    async fn bind(&self, r: &ObjectRef, binding: &Value, dry_run: bool) -> Result<()> {
        let target = binding.get("target").cloned().unwrap_or(Value::Null);
        let node = target.get("name").and_then(Value::as_str).unwrap_or("");
        let kind = target.get("kind").and_then(Value::as_str).unwrap_or("");
        let mut errors = Vec::new();
        if node.is_empty() {
            errors.push(rudder_api::validation::FieldError::required(
                "target.name",
                "",
            ));
        }
        if !kind.is_empty() && kind != "Node" {
            errors.push(rudder_api::validation::FieldError::not_supported(
                "target.kind",
                json!(kind),
                &["Node", "<empty>"],
            ));
        }
        if !errors.is_empty() {
            return Err(Error::Invalid {
                resource: r.resource,
                name: r.name.clone(),
                errors,
            });
        }
        let uid = binding.pointer("/metadata/uid").and_then(Value::as_str);
        let key = key_of(r)?;
        let conflict = |why: String| Error::Conflict {
            resource: r.resource,
            name: r.name.clone(),
            why,
        };
        for _ in 0..MAX_RETRIES {
            let (mut pod, current) = self.read(r).await?;
            if uid.is_some_and(|uid| {
                Some(uid) != pod.pointer("/metadata/uid").and_then(Value::as_str)
            }) {
                return Err(conflict(format!(
                    "Precondition failed: UID in precondition: {}, UID in object meta: {}",
                    uid.unwrap_or(""),
                    pod.pointer("/metadata/uid")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                )));
            }
            if pod.pointer("/metadata/deletionTimestamp").is_some() {
                return Err(conflict(format!(
                    "pod {} is being deleted, cannot be assigned to a host",
                    r.name
                )));
            }
            match pod.pointer("/spec/nodeName").and_then(Value::as_str) {
                Some(bound) if !bound.is_empty() => {
                    return Err(conflict(format!(
                        "pod {} is already assigned to node \"{bound}\"",
                        r.name
                    )));
                }
                _ => {}
            }
            pod["spec"]["nodeName"] = json!(node);
            if let Some(annotations) = binding
                .pointer("/metadata/annotations")
                .and_then(Value::as_object)
            {
                let meta = meta::metadata_mut(&mut pod)?;
                let into = meta.entry("annotations").or_insert_with(|| json!({}));
                for (k, v) in annotations {
                    into[k] = v.clone();
                }
            }
            set_scheduled(&mut pod);
            if dry_run {
                return Ok(());
            }
            match self
                .storage
                .swap(key.as_bytes(), meta::encode_for_store(&pod)?, current)
                .await?
            {
                Swap::Done(_) => return Ok(()),
                Swap::Mismatch(None) => {
                    return Err(Error::NotFound {
                        resource: r.resource,
                        name: r.name.clone(),
                    });
                }
                // Raced with another writer: read again (the checks above still hold
                // the line against a second binding).
                Swap::Mismatch(Some(_)) => continue,
            }
        }
        Err(conflict(
            rudder_api::status::OPTIMISTIC_LOCK_MESSAGE.to_string(),
        ))
    }

    /// Deletes the pod with the eviction's `deleteOptions`.
    async fn evict(
        &self,
        ctx: &RequestContext,
        r: &ObjectRef,
        eviction: &Value,
        dry_run: bool,
    ) -> Result<()> {
        let mut options: DeleteOptions = match eviction.get("deleteOptions") {
            Some(o) if !o.is_null() => serde_json::from_value(o.clone())
                .map_err(|e| Error::BadRequest(format!("deleteOptions: {e}")))?,
            _ => DeleteOptions::default(),
        };
        if dry_run {
            options.dry_run = Some(vec!["All".to_string()]);
        }
        let pod = ObjectRef {
            subresource: None,
            ..r.clone()
        };
        self.remove_admitted(ctx, &pod, &options).await.map(drop)
    }
}

/// Upstream's `PodScheduled` condition after a binding: True, with a fresh
/// transition time when it was not True before.
fn set_scheduled(pod: &mut Value) {
    let now = meta::now_rfc3339();
    let status = &mut pod["status"];
    if !status.is_object() {
        *status = json!({});
    }
    let conditions = status
        .as_object_mut()
        .expect("status was made an object above")
        .entry("conditions")
        .or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let list = conditions.as_array_mut().expect("made an array above");
    match list
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("PodScheduled"))
    {
        Some(c) if c.get("status").and_then(Value::as_str) == Some("True") => {}
        Some(c) => {
            c["status"] = json!("True");
            c["lastTransitionTime"] = json!(now);
            if let Some(o) = c.as_object_mut() {
                o.remove("reason");
                o.remove("message");
            }
        }
        None => list.push(json!({
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": null,
            "lastTransitionTime": now,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_condition_is_added_once_and_flipped_to_true() {
        let mut pod = json!({"spec": {}});
        set_scheduled(&mut pod);
        assert_eq!(pod["status"]["conditions"][0]["type"], "PodScheduled");
        assert_eq!(pod["status"]["conditions"][0]["status"], "True");
        let mut pending = json!({"status": {"conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes"}
        ]}});
        set_scheduled(&mut pending);
        let c = &pending["status"]["conditions"];
        assert_eq!(c.as_array().unwrap().len(), 1);
        assert_eq!(c[0]["status"], "True");
        assert!(c[0].get("reason").is_none());
    }
}
