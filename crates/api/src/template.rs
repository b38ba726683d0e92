//! Pod-template helpers for rollouts: comparing templates the way the deployment
//! controller must (after defaulting, ignoring `pod-template-hash`, with empty and
//! null fields normalised away), and the stable hash that names ReplicaSets and
//! fills their `pod-template-hash` label.
//!
//! Normalising matters for `kubectl rollout undo`: its JSON patch carries the old
//! template with `creationTimestamp: null` and `resources: {}`, which must compare
//! equal to the stored template or an undo looks like a brand-new revision.
//!
//! The hash is FNV-1a (32 bit) over the normalised template's canonical JSON (keys
//! sorted), plus the collision count when there is one, encoded with upstream's
//! "safe" alphabet (no vowels, no confusable digits). It is stable across
//! releases of Rudder, but not equal to upstream's value for the same template:
//! upstream hashes Go's in-memory dump of the struct, which has no JSON form.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::{Map, Value};

use crate::defaults;

/// Label carrying the template hash on ReplicaSets and their pods.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// Removes nulls, empty maps, empty lists and empty strings, recursively, so that
/// "unset" has one form. Returns `None` when nothing is left.
pub fn normalize(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::Object(m) => {
            let out: Map<String, Value> = m
                .iter()
                .filter_map(|(k, v)| normalize(v).map(|v| (k.clone(), v)))
                .collect();
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(a) => {
            // Elements keep their positions: an empty element is still an element.
            (!a.is_empty()).then(|| {
                Value::Array(
                    a.iter()
                        .map(|v| normalize(v).unwrap_or(Value::Null))
                        .collect(),
                )
            })
        }
        other => Some(other.clone()),
    }
}

/// The template as the controller compares it: defaulted, without the
/// `pod-template-hash` label and `creationTimestamp`, normalised.
pub fn normalized_template(template: &PodTemplateSpec) -> Value {
    let mut t = template.clone();
    defaults::pod_template(&mut t);
    if let Some(meta) = &mut t.metadata {
        meta.creation_timestamp = None;
        if let Some(labels) = &mut meta.labels {
            labels.remove(POD_TEMPLATE_HASH_LABEL);
        }
    }
    serde_json::to_value(&t)
        .ok()
        .and_then(|v| normalize(&v))
        .unwrap_or(Value::Null)
}

/// Whether two templates describe the same pods (upstream's `EqualIgnoreHash`,
/// made robust to defaulting and empty/null differences).
pub fn template_equal(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    normalized_template(a) == normalized_template(b)
}

fn canonical_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = m.get(k) {
                    canonical_json(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn fnv1a_32(data: &[u8], mut hash: u32) -> u32 {
    for b in data {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

const FNV32_OFFSET: u32 = 0x811c_9dc5;

/// Upstream's `rand.SafeEncodeString`: each byte mapped into an alphabet without
/// vowels (no accidental words) and without 0, 1, 3 (no look-alikes).
pub fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// The `pod-template-hash` value for a template. `collision_count` (from the
/// Deployment's status) perturbs the hash when a name clash must be escaped.
pub fn pod_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut text = String::new();
    canonical_json(&normalized_template(template), &mut text);
    let mut hash = fnv1a_32(text.as_bytes(), FNV32_OFFSET);
    if let Some(c) = collision_count {
        hash = fnv1a_32(&c.to_le_bytes(), hash);
    }
    safe_encode(&hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tpl(v: Value) -> PodTemplateSpec {
        serde_json::from_value(v).unwrap()
    }

    fn base() -> Value {
        json!({"metadata": {"labels": {"app": "web"}},
               "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}})
    }

    #[test]
    fn normalizes_empty_and_null() {
        assert_eq!(
            normalize(&json!({"a": null, "b": {}, "c": [], "d": "", "e": {"f": {}}})),
            None
        );
        assert_eq!(
            normalize(&json!({"a": 0, "b": false, "c": [{}, 1]})),
            Some(json!({"a": 0, "b": false, "c": [null, 1]}))
        );
    }

    #[test]
    fn rollout_undo_template_equals_stored_one() {
        // What `kubectl rollout undo` sends back...
        let from_undo = tpl(
            json!({"metadata": {"creationTimestamp": null, "labels": {"app": "web", "pod-template-hash": "abc"}},
                                   "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25", "resources": {}}]}}),
        );
        // ...and the defaulted template stored on the ReplicaSet.
        let mut stored = tpl(base());
        defaults::pod_template(&mut stored);
        assert!(template_equal(&from_undo, &stored));
        assert_eq!(
            pod_template_hash(&from_undo, None),
            pod_template_hash(&stored, None)
        );

        let changed = tpl(json!({"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "nginx", "image": "nginx:1.26"}]}}));
        assert!(!template_equal(&changed, &stored));
        assert_ne!(
            pod_template_hash(&changed, None),
            pod_template_hash(&stored, None)
        );
        let relabeled = tpl(json!({"metadata": {"labels": {"app": "web", "v": "2"}},
                                   "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}));
        assert!(!template_equal(&relabeled, &stored));
    }

    #[test]
    fn hash_is_stable_and_safe() {
        let h = pod_template_hash(&tpl(base()), None);
        assert_eq!(h, pod_template_hash(&tpl(base()), None));
        assert!(!h.is_empty() && h.len() <= 10);
        assert!(
            h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{h}"
        );
        assert_ne!(pod_template_hash(&tpl(base()), Some(1)), h);
        assert_ne!(
            pod_template_hash(&tpl(base()), Some(1)),
            pod_template_hash(&tpl(base()), Some(2))
        );
        // Pinned so an accidental change of the hash input (which would roll every
        // Deployment on upgrade) fails here.
        assert_eq!(h, PINNED_HASH);
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }

    const PINNED_HASH: &str = "57c789cc";
}
