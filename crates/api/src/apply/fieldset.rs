//! Sets of field paths in structured-merge-diff's "FieldsV1" form, the shape
//! `metadata.managedFields[].fieldsV1` stores: a trie whose edges are path
//! elements written as `f:<field>`, `k:{"name":"x"}` (an item of an associative
//! list, by its keys), `v:<json>` (an item of a set list) or `i:<n>` (an index),
//! and whose nodes say whether the path itself is in the set (`".": {}` when the
//! node also has children).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One step of a path, in its FieldsV1 spelling (`f:spec`, `k:{"name":"web"}`).
pub type PathElement = String;

/// A field path: the elements from the object's root.
pub type FieldPath = Vec<PathElement>;

/// `f:<name>`: a field of a map or struct.
pub fn field(name: &str) -> PathElement {
    format!("f:{name}")
}

/// `k:{...}`: an item of an associative list, by its key fields (JSON, keys sorted).
pub fn key(fields: &BTreeMap<String, Value>) -> PathElement {
    let mut out = String::from("k:{");
    for (n, (name, value)) in fields.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(name.clone()).to_string());
        out.push(':');
        out.push_str(&canonical_json(value));
    }
    out.push('}');
    out
}

/// `v:<json>`: an item of a set list.
pub fn value(item: &Value) -> PathElement {
    format!("v:{}", canonical_json(item))
}

/// `i:<n>`: an item of a list known only by its position.
pub fn index(n: usize) -> PathElement {
    format!("i:{n}")
}

/// JSON with object keys sorted, whatever map order serde_json was built with.
fn canonical_json(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            let fields: Vec<String> = sorted
                .iter()
                .map(|(k, v)| format!("{}:{}", Value::String((*k).clone()), canonical_json(v)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(canonical_json)
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => other.to_string(),
    }
}

/// A path as upstream prints it in conflicts: `.spec.replicas`,
/// `.spec.containers[name="web"].image`, `.metadata.finalizers[="x"]`, `[0]`.
pub fn display(path: &[PathElement]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(name) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(name);
        } else if let Some(json) = element.strip_prefix("k:") {
            let fields: Vec<String> = serde_json::from_str::<BTreeMap<String, Value>>(json)
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_else(|_| vec![json.to_string()]);
            out.push_str(&format!("[{}]", fields.join(",")));
        } else if let Some(json) = element.strip_prefix("v:") {
            out.push_str(&format!("[={json}]"));
        } else if let Some(n) = element.strip_prefix("i:") {
            out.push_str(&format!("[{n}]"));
        } else {
            out.push_str(element);
        }
    }
    out
}

/// A set of field paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    nodes: BTreeMap<PathElement, Node>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Node {
    member: bool,
    children: FieldSet,
}

impl Node {
    fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        FieldSet::default()
    }

    /// Whether no path is in the set.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Adds `path` (a non-empty path).
    pub fn insert(&mut self, path: &[PathElement]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let node = self.nodes.entry(first.clone()).or_default();
        if rest.is_empty() {
            node.member = true;
        } else {
            node.children.insert(rest);
        }
    }

    /// Removes `path` itself (not what is below it).
    pub fn remove(&mut self, path: &[PathElement]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if let Some(node) = self.nodes.get_mut(first) {
            if rest.is_empty() {
                node.member = false;
            } else {
                node.children.remove(rest);
            }
            if node.is_empty() {
                self.nodes.remove(first);
            }
        }
    }

    /// Whether `path` is in the set.
    pub fn contains(&self, path: &[PathElement]) -> bool {
        match path.split_first() {
            None => false,
            Some((first, rest)) => self.nodes.get(first).is_some_and(|n| {
                if rest.is_empty() {
                    n.member
                } else {
                    n.children.contains(rest)
                }
            }),
        }
    }

    /// Whether `path` or a path below it is in the set.
    pub fn touches(&self, path: &[PathElement]) -> bool {
        match path.split_first() {
            None => !self.is_empty(),
            Some((first, rest)) => self.nodes.get(first).is_some_and(|n| {
                if rest.is_empty() {
                    true
                } else {
                    n.children.touches(rest)
                }
            }),
        }
    }

    /// The subset at and below `path`'s first element named `element` (as a set of
    /// the paths below it).
    pub fn child(&self, element: &str) -> Option<&FieldSet> {
        self.nodes.get(element).map(|n| &n.children)
    }

    /// Every path of either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.extend(other);
        out
    }

    /// Adds every path of `other`.
    pub fn extend(&mut self, other: &FieldSet) {
        for (element, node) in &other.nodes {
            match self.nodes.get_mut(element) {
                Some(mine) => {
                    mine.member |= node.member;
                    mine.children.extend(&node.children);
                }
                None => {
                    self.nodes.insert(element.clone(), node.clone());
                }
            }
        }
    }

    /// The paths of `self` that `other` does not hold.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for (element, node) in &self.nodes {
            let result = match other.nodes.get(element) {
                None => node.clone(),
                Some(theirs) => Node {
                    member: node.member && !theirs.member,
                    children: node.children.difference(&theirs.children),
                },
            };
            if !result.is_empty() {
                out.nodes.insert(element.clone(), result);
            }
        }
        out
    }

    /// The paths both sets hold.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for (element, node) in &self.nodes {
            if let Some(theirs) = other.nodes.get(element) {
                let result = Node {
                    member: node.member && theirs.member,
                    children: node.children.intersection(&theirs.children),
                };
                if !result.is_empty() {
                    out.nodes.insert(element.clone(), result);
                }
            }
        }
        out
    }

    /// The set without the first-level elements `keep` rejects (and all below them).
    pub fn retain_top(&self, keep: impl Fn(&str) -> bool) -> FieldSet {
        FieldSet {
            nodes: self
                .nodes
                .iter()
                .filter(|(e, _)| keep(e))
                .map(|(e, n)| (e.clone(), n.clone()))
                .collect(),
        }
    }

    /// Every path in the set, parents before children, elements in order.
    pub fn paths(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut FieldPath, out: &mut Vec<FieldPath>) {
        for (element, node) in &self.nodes {
            prefix.push(element.clone());
            if node.member {
                out.push(prefix.clone());
            }
            node.children.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The FieldsV1 JSON of the set.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        for (element, node) in &self.nodes {
            let mut inner = match node.children.to_fields_v1() {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            if node.member && !inner.is_empty() {
                inner.insert(".".into(), Value::Object(Map::new()));
            }
            map.insert(element.clone(), Value::Object(inner));
        }
        Value::Object(map)
    }

    /// Parses FieldsV1 JSON; the error names what is malformed.
    pub fn from_fields_v1(v: &Value) -> Result<FieldSet, String> {
        let Value::Object(map) = v else {
            return Err("fieldsV1 must be a JSON object".into());
        };
        let mut out = FieldSet::new();
        for (element, inner) in map {
            if element == "." {
                continue;
            }
            if !["f:", "k:", "v:", "i:"]
                .iter()
                .any(|p| element.starts_with(p))
            {
                return Err(format!("unexpected path element {element:?}"));
            }
            if let Some(json) = element
                .strip_prefix("k:")
                .or_else(|| element.strip_prefix("v:"))
            {
                serde_json::from_str::<Value>(json)
                    .map_err(|e| format!("path element {element:?}: {e}"))?;
            }
            let Value::Object(fields) = inner else {
                return Err(format!("the value of {element:?} must be an object"));
            };
            let children = FieldSet::from_fields_v1(inner)?;
            let node = Node {
                member: fields.is_empty() || fields.contains_key("."),
                children,
            };
            out.nodes.insert(element.clone(), node);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(elements: &[&str]) -> FieldPath {
        elements.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn fields_v1_round_trips_with_dot_for_owned_parents() {
        let v = json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                       "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}},
                                  "f:replicas": {}}});
        let set = FieldSet::from_fields_v1(&v).unwrap();
        assert!(set.contains(&path(&["f:metadata", "f:labels"])));
        assert!(!set.contains(&path(&["f:metadata"])));
        assert!(set.contains(&path(&["f:spec", "f:containers", "k:{\"name\":\"web\"}"])));
        assert!(set.touches(&path(&["f:spec", "f:containers"])));
        assert_eq!(set.to_fields_v1(), v);
        assert_eq!(set.paths().len(), 5);
        assert!(FieldSet::from_fields_v1(&json!({"x:y": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"f:y": 1})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"k:{bad": {}})).is_err());
    }

    #[test]
    fn set_algebra() {
        let mut a = FieldSet::new();
        a.insert(&path(&["f:spec", "f:replicas"]));
        a.insert(&path(&["f:spec", "f:paused"]));
        let mut b = FieldSet::new();
        b.insert(&path(&["f:spec", "f:replicas"]));
        b.insert(&path(&["f:data"]));
        assert_eq!(
            a.intersection(&b).paths(),
            vec![path(&["f:spec", "f:replicas"])]
        );
        assert_eq!(
            a.difference(&b).paths(),
            vec![path(&["f:spec", "f:paused"])]
        );
        assert_eq!(a.union(&b).paths().len(), 3);
        let mut c = a.clone();
        c.remove(&path(&["f:spec", "f:paused"]));
        c.remove(&path(&["f:spec", "f:replicas"]));
        assert!(c.is_empty());
        assert_eq!(
            b.retain_top(|e| e == "f:data").paths(),
            vec![path(&["f:data"])]
        );
    }

    #[test]
    fn paths_print_as_upstream() {
        let mut keys = BTreeMap::new();
        keys.insert("protocol".to_string(), json!("TCP"));
        keys.insert("containerPort".to_string(), json!(80));
        let k = key(&keys);
        assert_eq!(k, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}");
        assert_eq!(
            display(&path(&["f:spec", "f:ports", &k, "f:name"])),
            ".spec.ports[containerPort=80,protocol=\"TCP\"].name"
        );
        assert_eq!(
            display(&path(&[
                "f:metadata",
                "f:finalizers",
                &value(&json!("a/b"))
            ])),
            ".metadata.finalizers[=\"a/b\"]"
        );
        assert_eq!(display(&path(&["f:x", &index(2)])), ".x[2]");
    }
}
