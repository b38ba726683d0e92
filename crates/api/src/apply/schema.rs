//! What server-side apply needs to know of a field: whether a list is atomic, a
//! set or an associative list (and by which keys), and whether a map is atomic or
//! a granular `map[string]...`. It is the strategic-merge table of
//! [`crate::patch::field_strategy`] read with Kubernetes' `x-kubernetes-list-*`
//! markers where they differ from the patch tags (container ports are keyed by
//! port *and* protocol, ...). Lists the table does not name are atomic, as
//! upstream's built-in types without a list-type marker are.

use serde_json::Value;

use crate::patch::{ListStrategy, PatchType, field_strategy};

/// How a list field merges and is owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// Owned and replaced as a whole.
    Atomic,
    /// A set of scalars; each value is owned on its own (`v:`).
    Set,
    /// Items are maps identified by these key fields (`k:`).
    Map(&'static [&'static str]),
}

/// The shape of one field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A scalar, or a value owned whole (an atomic list or map).
    Leaf,
    /// A struct: its fields are owned one by one (value type given).
    Struct(PatchType),
    /// A `map[string]...`: each entry is owned, and the map itself when added.
    Map(PatchType),
    /// A list of items owned one by one (item type given).
    List(ListKind, PatchType),
}

/// Maps keyed by arbitrary strings (rather than structs with known fields).
const GRANULAR_MAPS: &[&str] = &[
    "labels",
    "annotations",
    "data",
    "binaryData",
    "stringData",
    "nodeSelector",
    "matchLabels",
    "limits",
    "requests",
    "capacity",
    "allocatable",
];

/// Structs marked `+structType=atomic` upstream (label selectors, node selectors).
fn atomic_struct(parent: PatchType, name: &str) -> bool {
    matches!(
        (parent, name),
        (
            PatchType::DeploymentSpec | PatchType::ReplicaSetSpec,
            "selector"
        ) | (
            _,
            "labelSelector"
                | "namespaceSelector"
                | "requiredDuringSchedulingIgnoredDuringExecution"
        )
    )
}

/// Associative lists whose list-map keys are not (only) the patch merge key.
fn list_map_keys(parent: PatchType, name: &str) -> Option<&'static [&'static str]> {
    match (parent, name) {
        (PatchType::Container, "ports") => Some(&["containerPort", "protocol"]),
        (PatchType::ServiceSpec, "ports") => Some(&["port", "protocol"]),
        (PatchType::PodSpec, "topologySpreadConstraints") => {
            Some(&["topologyKey", "whenUnsatisfiable"])
        }
        _ => None,
    }
}

/// The default of a list-map key field an item may omit (upstream fills these
/// from the schema's defaults before keying the item).
pub fn key_default(key: &str) -> Option<Value> {
    match key {
        "protocol" => Some(Value::String("TCP".into())),
        _ => None,
    }
}

/// The shape of field `name` (holding `value`) inside a value of type `parent`.
pub fn shape(parent: PatchType, name: &str, value: &Value) -> Shape {
    let strategy = field_strategy(parent, name);
    match value {
        Value::Object(_) if atomic_struct(parent, name) => Shape::Leaf,
        Value::Object(_) if GRANULAR_MAPS.contains(&name) => Shape::Map(PatchType::Opaque),
        Value::Object(_) => Shape::Struct(strategy.ty),
        Value::Array(_) => match (list_map_keys(parent, name), strategy.list) {
            (Some(keys), _) => Shape::List(ListKind::Map(keys), strategy.ty),
            (None, ListStrategy::MergeByKey(k)) => {
                Shape::List(ListKind::Map(single_key(k)), strategy.ty)
            }
            (None, ListStrategy::MergeSet) => Shape::List(ListKind::Set, strategy.ty),
            (None, ListStrategy::Replace) => Shape::Leaf,
        },
        _ => Shape::Leaf,
    }
}

/// The merge keys of the patch table as one-key lists.
fn single_key(key: &'static str) -> &'static [&'static str] {
    const KEYS: &[&[&str]] = &[
        &["name"],
        &["uid"],
        &["ip"],
        &["type"],
        &["mountPath"],
        &["devicePath"],
        &["containerPort"],
        &["port"],
        &["topologyKey"],
    ];
    KEYS.iter().find(|k| k[0] == key).copied().unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_follow_the_patch_table_and_list_map_keys() {
        assert_eq!(
            shape(PatchType::PodSpec, "containers", &json!([])),
            Shape::List(ListKind::Map(&["name"]), PatchType::Container)
        );
        assert_eq!(
            shape(PatchType::Container, "ports", &json!([])),
            Shape::List(
                ListKind::Map(&["containerPort", "protocol"]),
                PatchType::Opaque
            )
        );
        assert_eq!(
            shape(PatchType::ObjectMeta, "finalizers", &json!([])),
            Shape::List(ListKind::Set, PatchType::Opaque)
        );
        assert_eq!(shape(PatchType::Container, "args", &json!([])), Shape::Leaf);
        assert_eq!(
            shape(PatchType::DeploymentSpec, "selector", &json!({})),
            Shape::Leaf
        );
        assert_eq!(
            shape(PatchType::ObjectMeta, "labels", &json!({})),
            Shape::Map(PatchType::Opaque)
        );
        assert_eq!(
            shape(PatchType::Deployment, "spec", &json!({})),
            Shape::Struct(PatchType::DeploymentSpec)
        );
        // Every merge key of the table has its one-key list.
        for (parent, name) in [
            (PatchType::ObjectMeta, "ownerReferences"),
            (PatchType::PodSpec, "hostAliases"),
            (PatchType::Container, "volumeMounts"),
            (PatchType::Container, "volumeDevices"),
            (PatchType::NodeStatus, "addresses"),
        ] {
            match shape(parent, name, &json!([])) {
                Shape::List(ListKind::Map(keys), _) => assert!(!keys.is_empty(), "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
