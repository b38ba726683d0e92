//! Walking an object along its schema: the field set of an applied configuration
//! (what its applier owns), and the comparison of two versions of an object (what
//! a write added, modified and removed), which decides ownership on every write.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};

use super::fieldset::{self, FieldPath, FieldSet, PathElement};
use super::schema::{ListKind, Shape, key_default, shape};
use crate::patch::PatchType;

/// The path element of one list item, or why the item cannot be keyed.
pub fn item_element(kind: ListKind, item: &Value) -> Result<PathElement, String> {
    match kind {
        ListKind::Set => Ok(fieldset::value(item)),
        ListKind::Atomic => Err("an atomic list has no items of its own".into()),
        ListKind::Map(keys) => {
            let Value::Object(fields) = item else {
                return Err("an associative list holds an item that is not an object".into());
            };
            let mut key = BTreeMap::new();
            for name in keys {
                match fields
                    .get(*name)
                    .filter(|v| !v.is_null())
                    .cloned()
                    .or_else(|| key_default(name))
                {
                    Some(v) => {
                        key.insert((*name).to_string(), v);
                    }
                    None => {
                        return Err(format!(
                            "associative list with keys has an element that omits key field {name:?} (and doesn't have default value)"
                        ));
                    }
                }
            }
            Ok(fieldset::key(&key))
        }
    }
}

/// The elements of a keyed list's items, in order; an error on a missing key or
/// on two items with the same key.
pub fn item_elements(kind: ListKind, items: &[Value]) -> Result<Vec<PathElement>, String> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let element = item_element(kind, item)?;
        if !seen.insert(element.clone()) {
            return Err(format!(
                "duplicate entries for key {}",
                fieldset::display(std::slice::from_ref(&element))
            ));
        }
        out.push(element);
    }
    Ok(out)
}

/// What a walk records beyond the leaves: with `containers`, the maps, empty
/// structs and lists that appear are owned too (what an update adds, with a
/// `"."` in FieldsV1); an applied configuration owns only what it sets.
#[derive(Clone, Copy)]
struct Walk {
    containers: bool,
}

impl Walk {
    fn map(
        self,
        ty: PatchType,
        map: &Map<String, Value>,
        path: &mut FieldPath,
        out: &mut FieldSet,
    ) -> Result<(), String> {
        for (name, value) in map {
            if value.is_null() {
                continue;
            }
            path.push(fieldset::field(name));
            let result = self.field(ty, name, value, path, out);
            path.pop();
            result?;
        }
        Ok(())
    }

    fn field(
        self,
        parent: PatchType,
        name: &str,
        value: &Value,
        path: &mut FieldPath,
        out: &mut FieldSet,
    ) -> Result<(), String> {
        match (shape(parent, name, value), value) {
            (Shape::Struct(ty), Value::Object(map)) => {
                if self.containers && map.is_empty() {
                    out.insert(path);
                }
                self.map(ty, map, path, out)
            }
            (Shape::Map(ty), Value::Object(map)) => {
                if self.containers {
                    out.insert(path);
                }
                self.map(ty, map, path, out)
            }
            (Shape::List(kind, ty), Value::Array(items)) => {
                if self.containers && items.is_empty() {
                    out.insert(path);
                }
                let elements = item_elements(kind, items)
                    .map_err(|e| format!("{}: {e}", fieldset::display(path)))?;
                for (item, element) in items.iter().zip(elements) {
                    path.push(element);
                    out.insert(path);
                    let result = match item {
                        Value::Object(fields) if matches!(kind, ListKind::Map(_)) => {
                            self.map(ty, fields, path, out)
                        }
                        _ => Ok(()),
                    };
                    path.pop();
                    result?;
                }
                Ok(())
            }
            _ => {
                out.insert(path);
                Ok(())
            }
        }
    }
}

/// The fields an applied configuration sets: its leaves, atomic values and list
/// items. Errors name a list whose items cannot be keyed.
pub fn set_of(ty: PatchType, object: &Value) -> Result<FieldSet, String> {
    let mut out = FieldSet::new();
    if let Value::Object(map) = object {
        Walk { containers: false }.map(ty, map, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

/// Fields of `input` that `known` (the same object as the schema keeps it) lacks,
/// as server-side apply prints paths (`.spec.containers[name="web"].colour`).
pub fn unknown_fields(ty: PatchType, input: &Value, known: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let (Value::Object(i), Value::Object(k)) = (input, known) {
        unknown_in_map(ty, i, k, &mut Vec::new(), &mut out);
    }
    out
}

fn unknown_in_map(
    ty: PatchType,
    input: &Map<String, Value>,
    known: &Map<String, Value>,
    path: &mut FieldPath,
    out: &mut Vec<String>,
) {
    for (name, value) in input {
        if value.is_null() {
            continue;
        }
        path.push(fieldset::field(name));
        match (known.get(name), shape(ty, name, value)) {
            (None, _) => out.push(fieldset::display(path)),
            (Some(Value::Object(k)), Shape::Struct(t) | Shape::Map(t)) => {
                if let Value::Object(i) = value {
                    unknown_in_map(t, i, k, path, out);
                }
            }
            (Some(Value::Array(k)), Shape::List(kind, t)) => {
                for (n, (item, known_item)) in
                    value.as_array().into_iter().flatten().zip(k).enumerate()
                {
                    path.push(item_element(kind, item).unwrap_or_else(|_| fieldset::index(n)));
                    if let (Value::Object(i), Value::Object(k)) = (item, known_item) {
                        unknown_in_map(t, i, k, path, out);
                    }
                    path.pop();
                }
            }
            _ => {}
        }
        path.pop();
    }
}

/// What changed between two versions of an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Paths only the new version has.
    pub added: FieldSet,
    /// Leaves (and atomic values) whose value changed.
    pub modified: FieldSet,
    /// Paths only the old version had.
    pub removed: FieldSet,
}

impl Comparison {
    /// Added and modified: what the writer now sets.
    pub fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }

    /// The comparison restricted to what `keep` accepts at the top level.
    pub fn retain_top(&self, keep: impl Fn(&str) -> bool + Copy) -> Comparison {
        Comparison {
            added: self.added.retain_top(keep),
            modified: self.modified.retain_top(keep),
            removed: self.removed.retain_top(keep),
        }
    }

    /// A field that appeared (`added`) or went away, with all below it. An item
    /// that cannot be keyed is owned as a whole.
    fn whole(
        &mut self,
        parent: PatchType,
        name: &str,
        value: &Value,
        path: &mut FieldPath,
        added: bool,
    ) {
        let mut below = FieldSet::new();
        if (Walk { containers: true })
            .field(parent, name, value, path, &mut below)
            .is_err()
            || !added
        {
            below.insert(path);
        }
        let into = if added {
            &mut self.added
        } else {
            &mut self.removed
        };
        into.extend(&below);
    }

    fn maps(
        &mut self,
        ty: PatchType,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        path: &mut FieldPath,
    ) {
        fn present<'v>(m: &'v Map<String, Value>, k: &str) -> Option<&'v Value> {
            m.get(k).filter(|v| !v.is_null())
        }
        let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
        names.sort();
        names.dedup();
        for name in names {
            path.push(fieldset::field(name));
            match (present(old, name), present(new, name)) {
                (None, Some(n)) => self.whole(ty, name, n, path, true),
                (Some(o), None) => self.whole(ty, name, o, path, false),
                (Some(o), Some(n)) => self.values(ty, name, o, n, path),
                (None, None) => {}
            }
            path.pop();
        }
    }

    fn values(
        &mut self,
        parent: PatchType,
        name: &str,
        old: &Value,
        new: &Value,
        path: &mut FieldPath,
    ) {
        if old == new {
            return;
        }
        match (shape(parent, name, new), old, new) {
            (Shape::Struct(ty) | Shape::Map(ty), Value::Object(o), Value::Object(n)) => {
                self.maps(ty, o, n, path);
            }
            (Shape::List(kind, ty), Value::Array(o), Value::Array(n)) => {
                match (item_elements(kind, o), item_elements(kind, n)) {
                    (Ok(old_keys), Ok(new_keys)) => {
                        self.lists(kind, ty, (o, &old_keys), (n, &new_keys), path);
                    }
                    // Items without usable keys: the list changes as a whole.
                    _ => self.modified.insert(path),
                }
            }
            _ => self.modified.insert(path),
        }
    }

    fn lists(
        &mut self,
        kind: ListKind,
        ty: PatchType,
        (old, old_keys): (&[Value], &[PathElement]),
        (new, new_keys): (&[Value], &[PathElement]),
        path: &mut FieldPath,
    ) {
        let old_items: BTreeMap<&PathElement, &Value> = old_keys.iter().zip(old).collect();
        let new_items: BTreeMap<&PathElement, &Value> = new_keys.iter().zip(new).collect();
        for (element, item) in &new_items {
            path.push((*element).clone());
            match old_items.get(element) {
                None => self.item(kind, ty, item, path, true),
                Some(before) => {
                    if let (Value::Object(o), Value::Object(n)) = (before, item)
                        && matches!(kind, ListKind::Map(_))
                    {
                        self.maps(ty, o, n, path);
                    }
                }
            }
            path.pop();
        }
        for (element, item) in &old_items {
            if !new_items.contains_key(element) {
                path.push((*element).clone());
                self.item(kind, ty, item, path, false);
                path.pop();
            }
        }
    }

    fn item(
        &mut self,
        kind: ListKind,
        ty: PatchType,
        item: &Value,
        path: &mut FieldPath,
        added: bool,
    ) {
        let mut set = FieldSet::new();
        set.insert(path);
        if let (Value::Object(fields), ListKind::Map(_)) = (item, kind) {
            // Keyed items were keyed already; their fields walk without error.
            let _ = (Walk { containers: true }).map(ty, fields, path, &mut set);
        }
        let into = if added {
            &mut self.added
        } else {
            &mut self.removed
        };
        into.extend(&set);
    }
}

/// Compares two versions of an object of type `ty` (`{}` for "no object").
pub fn compare(ty: PatchType, old: &Value, new: &Value) -> Comparison {
    let mut out = Comparison::default();
    let empty = Map::new();
    fn as_map<'v>(v: &'v Value, empty: &'v Map<String, Value>) -> &'v Map<String, Value> {
        v.as_object().unwrap_or(empty)
    }
    out.maps(
        ty,
        as_map(old, &empty),
        as_map(new, &empty),
        &mut Vec::new(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(image: &str, replicas: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "labels": {"app": "web"}},
               "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "web", "image": image,
                                                              "ports": [{"containerPort": 80}]}]}}}})
    }

    #[test]
    fn an_applied_configuration_owns_its_leaves_and_keyed_items() {
        let set = set_of(PatchType::Deployment, &deployment("nginx", 2)).unwrap();
        assert_eq!(
            set.to_fields_v1(),
            json!({"f:apiVersion": {}, "f:kind": {},
                   "f:metadata": {"f:labels": {"f:app": {}}, "f:name": {}},
                   "f:spec": {"f:replicas": {}, "f:selector": {},
                              "f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
                                             "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                                                 ".": {}, "f:image": {}, "f:name": {},
                                                 "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                                                     ".": {}, "f:containerPort": {}}}}}}}}})
        );
        let dup = json!({"spec": {"containers": [{"name": "a"}, {"name": "a"}]}});
        assert_eq!(
            set_of(PatchType::Pod, &dup).unwrap_err(),
            ".spec.containers: duplicate entries for key [name=\"a\"]"
        );
        let typo = json!({"spec": {"replica": 1, "template": {"spec": {"containers": [{"name": "web", "colour": "red"}]}}}});
        let known = json!({"spec": {"template": {"spec": {"containers": [{"name": "web"}]}}}});
        assert_eq!(
            unknown_fields(PatchType::Deployment, &typo, &known),
            vec![
                ".spec.replica",
                ".spec.template.spec.containers[name=\"web\"].colour"
            ]
        );
        let keyless = json!({"spec": {"containers": [{"image": "a"}]}});
        assert!(
            set_of(PatchType::Pod, &keyless)
                .unwrap_err()
                .contains("omits key field \"name\"")
        );
    }

    #[test]
    fn a_comparison_finds_added_modified_and_removed_fields() {
        let created = compare(PatchType::Deployment, &json!({}), &deployment("nginx", 2));
        // Added maps and list items are owned themselves ("."); structs are not.
        assert_eq!(
            created.added.to_fields_v1()["f:metadata"],
            json!({"f:labels": {".": {}, "f:app": {}}, "f:name": {}})
        );
        assert!(created.modified.is_empty() && created.removed.is_empty());

        let mut changed = deployment("nginx:2", 3);
        changed["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "side", "image": "busybox"}));
        changed["metadata"]["labels"] = json!({"tier": "front"});
        let c = compare(PatchType::Deployment, &deployment("nginx", 2), &changed);
        let paths: Vec<String> = c
            .modified
            .paths()
            .iter()
            .map(|p| fieldset::display(p))
            .collect();
        assert_eq!(
            paths,
            vec![
                ".spec.replicas",
                ".spec.template.spec.containers[name=\"web\"].image"
            ]
        );
        let added: Vec<String> = c
            .added
            .paths()
            .iter()
            .map(|p| fieldset::display(p))
            .collect();
        assert_eq!(
            added,
            vec![
                ".metadata.labels.tier",
                ".spec.template.spec.containers[name=\"side\"]",
                ".spec.template.spec.containers[name=\"side\"].image",
                ".spec.template.spec.containers[name=\"side\"].name",
            ]
        );
        assert_eq!(
            c.removed
                .paths()
                .iter()
                .map(|p| fieldset::display(p))
                .collect::<Vec<_>>(),
            vec![".metadata.labels.app"]
        );
    }
}
