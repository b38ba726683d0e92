//! The object side of an apply: merging an applied configuration into the live
//! object (structs field by field, associative lists by key, sets by value,
//! atomic values replaced), and removing the fields an applier dropped.

use serde_json::{Map, Value};

use super::fieldset::PathElement;
use super::schema::{ListKind, Shape, shape};
use super::walk::{item_element, item_elements};
use crate::patch::PatchType;

/// `config` merged into `live` (both objects of type `ty`); nulls in `config` set
/// nothing.
pub fn merge(ty: PatchType, live: &Value, config: &Value) -> Value {
    let mut out = live.clone();
    if let (Value::Object(target), Value::Object(source)) = (&mut out, config) {
        merge_map(ty, target, source);
    } else if config.is_object() {
        out = config.clone();
    }
    out
}

fn merge_map(ty: PatchType, target: &mut Map<String, Value>, source: &Map<String, Value>) {
    for (name, value) in source {
        if value.is_null() {
            continue;
        }
        match target.get_mut(name) {
            Some(existing) if !existing.is_null() => merge_value(ty, name, existing, value),
            _ => {
                target.insert(name.clone(), without_nulls(value));
            }
        }
    }
}

fn merge_value(parent: PatchType, name: &str, target: &mut Value, source: &Value) {
    match (shape(parent, name, source), &mut *target, source) {
        (Shape::Struct(ty) | Shape::Map(ty), Value::Object(t), Value::Object(s)) => {
            merge_map(ty, t, s);
        }
        (Shape::List(kind, ty), Value::Array(t), Value::Array(s)) => {
            if !merge_list(kind, ty, t, s) {
                *target = without_nulls(source);
            }
        }
        _ => *target = without_nulls(source),
    }
}

/// Merges keyed or set items; `false` when the items cannot be keyed (the list is
/// then replaced).
fn merge_list(kind: ListKind, ty: PatchType, target: &mut Vec<Value>, source: &[Value]) -> bool {
    let (Ok(target_keys), Ok(source_keys)) =
        (item_elements(kind, target), item_elements(kind, source))
    else {
        return false;
    };
    for (item, element) in source.iter().zip(source_keys) {
        match target_keys.iter().position(|k| *k == element) {
            Some(at) => {
                if let (Value::Object(t), Value::Object(s)) = (&mut target[at], item)
                    && matches!(kind, ListKind::Map(_))
                {
                    merge_map(ty, t, s);
                }
            }
            None => target.push(without_nulls(item)),
        }
    }
    true
}

/// `v` with every null field left out, at any depth: Kubernetes reads a null field as an
/// absent one (Go writes a nil list as `null`; on the wire it is simply not there).
pub fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Removes the value at `path` from `object` (of type `ty`); containers left empty
/// by the removal go too. A path that is not there is no error.
pub fn remove(ty: PatchType, object: &mut Value, path: &[PathElement]) {
    if let Value::Object(map) = object {
        remove_in_map(ty, map, path);
    }
}

/// Returns whether something was removed.
fn remove_in_map(ty: PatchType, map: &mut Map<String, Value>, path: &[PathElement]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let Some(name) = first.strip_prefix("f:") else {
        return false;
    };
    if rest.is_empty() {
        return map.remove(name).is_some();
    }
    let Some(value) = map.get_mut(name) else {
        return false;
    };
    let removed = match (shape(ty, name, value), &mut *value) {
        (Shape::Struct(t) | Shape::Map(t), Value::Object(inner)) => remove_in_map(t, inner, rest),
        (Shape::List(kind, t), Value::Array(items)) => remove_in_list(kind, t, items, rest),
        _ => false,
    };
    let emptied = match value {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    if removed && emptied {
        map.remove(name);
    }
    removed
}

fn remove_in_list(
    kind: ListKind,
    ty: PatchType,
    items: &mut Vec<Value>,
    path: &[PathElement],
) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let Some(at) = items
        .iter()
        .position(|item| item_element(kind, item).is_ok_and(|e| e == *first))
    else {
        return false;
    };
    if rest.is_empty() {
        items.remove(at);
        return true;
    }
    match &mut items[at] {
        Value::Object(fields) => remove_in_map(ty, fields, rest),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merges_structs_keyed_lists_and_sets() {
        let live = json!({"metadata": {"labels": {"a": "1"}, "finalizers": ["x"]},
                          "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web", "old": "y"}},
                                   "template": {"spec": {"containers": [
                                       {"name": "web", "image": "nginx", "args": ["a", "b"]},
                                       {"name": "side", "image": "busybox"}]}}}});
        let config = json!({"metadata": {"labels": {"b": "2"}, "finalizers": ["y", "x"]},
                            "spec": {"replicas": 3, "paused": null, "selector": {"matchLabels": {"app": "web"}},
                                     "template": {"spec": {"containers": [
                                         {"name": "web", "args": ["c"]},
                                         {"name": "new", "image": "redis"}]}}}});
        let merged = merge(PatchType::Deployment, &live, &config);
        assert_eq!(
            merged,
            json!({"metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x", "y"]},
                   "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                            "template": {"spec": {"containers": [
                                {"name": "web", "image": "nginx", "args": ["c"]},
                                {"name": "side", "image": "busybox"},
                                {"name": "new", "image": "redis"}]}}}})
        );
    }

    #[test]
    fn removes_fields_items_and_emptied_parents() {
        let mut obj = json!({"metadata": {"labels": {"a": "1"}},
                             "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]},
                                                     {"name": "side"}]}});
        let path = |p: &[&str]| p.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        remove(
            PatchType::Pod,
            &mut obj,
            &path(&["f:metadata", "f:labels", "f:a"]),
        );
        remove(
            PatchType::Pod,
            &mut obj,
            &path(&[
                "f:spec",
                "f:containers",
                "k:{\"name\":\"web\"}",
                "f:ports",
                "k:{\"containerPort\":80,\"protocol\":\"TCP\"}",
            ]),
        );
        remove(
            PatchType::Pod,
            &mut obj,
            &path(&["f:spec", "f:containers", "k:{\"name\":\"side\"}"]),
        );
        remove(PatchType::Pod, &mut obj, &path(&["f:spec", "f:nothing"]));
        assert_eq!(
            obj,
            json!({"spec": {"containers": [{"name": "web", "image": "nginx"}]}})
        );
    }
}
