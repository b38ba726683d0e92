//! Patches as the API server applies them: JSON patch (RFC 6902, via the
//! `json-patch` crate), JSON merge patch (RFC 7386) and Kubernetes' strategic
//! merge patch, plus the two- and three-way patch builders `kubectl apply` uses.
//!
//! Strategic merge needs each list field's strategy. Upstream reads it from the Go
//! struct tags (`patchStrategy`, `patchMergeKey`); here the same facts live in one
//! table, [`field_strategy`], keyed by (type, field name) and walked from each
//! kind's root, so `spec.template.spec.containers` of a Deployment and
//! `spec.containers` of a Pod share the PodSpec row. Fields not in the table are
//! maps that merge and lists that are replaced, as upstream treats them.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::error::Error;

type JsonMap = Map<String, Value>;
use crate::resource::ResourceInfo;

/// Schema types that carry patch strategies somewhere below them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// Nothing known below: maps merge, lists are replaced.
    Opaque,
    /// A Pod.
    Pod,
    /// A Service.
    Service,
    /// A Node.
    Node,
    /// A Namespace.
    Namespace,
    /// A ServiceAccount.
    ServiceAccount,
    /// A Deployment.
    Deployment,
    /// A ReplicaSet.
    ReplicaSet,
    /// Any other kind: only its metadata has strategies.
    OtherKind,
    /// `metadata`.
    ObjectMeta,
    /// A pod template (`spec.template`).
    PodTemplateSpec,
    /// A pod spec.
    PodSpec,
    /// A pod status.
    PodStatus,
    /// A container (also init and ephemeral containers).
    Container,
    /// A service spec.
    ServiceSpec,
    /// A node spec.
    NodeSpec,
    /// A status whose `conditions` merge by `type` (deployments, replica sets,
    /// namespaces, services).
    ConditionedStatus,
    /// A node status.
    NodeStatus,
    /// A deployment spec.
    DeploymentSpec,
    /// A replica set spec.
    ReplicaSetSpec,
}

impl PatchType {
    /// The root type for objects of a resource.
    pub fn for_resource(resource: &ResourceInfo) -> PatchType {
        PatchType::for_kind(resource.kind)
    }

    /// The root type for objects of a kind (`Pod`, `Deployment` ...).
    pub fn for_kind(kind: &str) -> PatchType {
        match kind {
            "Pod" => PatchType::Pod,
            "Service" => PatchType::Service,
            "Node" => PatchType::Node,
            "Namespace" => PatchType::Namespace,
            "ServiceAccount" => PatchType::ServiceAccount,
            "Deployment" => PatchType::Deployment,
            "ReplicaSet" => PatchType::ReplicaSet,
            _ => PatchType::OtherKind,
        }
    }
}

/// How a list field is patched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// The patch's list replaces the original (upstream's default, "atomic").
    Replace,
    /// Elements are maps merged by the value of this key.
    MergeByKey(&'static str),
    /// A set of primitives: the patch's elements are added (finalizers, podCIDRs).
    MergeSet,
}

/// What the schema says about one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldStrategy {
    /// Type of the field's value (of each element, for lists).
    pub ty: PatchType,
    /// How the field is patched when it is a list.
    pub list: ListStrategy,
    /// Whether the value (each element, for lists) carries `$retainKeys`.
    pub retain_keys: bool,
}

const fn typed(ty: PatchType) -> FieldStrategy {
    FieldStrategy {
        ty,
        list: ListStrategy::Replace,
        retain_keys: false,
    }
}

const fn by_key(ty: PatchType, key: &'static str) -> FieldStrategy {
    FieldStrategy {
        ty,
        list: ListStrategy::MergeByKey(key),
        retain_keys: false,
    }
}

const OPAQUE: FieldStrategy = typed(PatchType::Opaque);
const SET: FieldStrategy = FieldStrategy {
    ty: PatchType::Opaque,
    list: ListStrategy::MergeSet,
    retain_keys: false,
};

/// The strategy of field `name` inside a value of type `parent`: upstream's
/// `patchStrategy`/`patchMergeKey` tags for the served kinds (Kubernetes 1.33).
pub fn field_strategy(parent: PatchType, name: &str) -> FieldStrategy {
    use PatchType as T;
    match (parent, name) {
        (
            T::Pod
            | T::Service
            | T::Node
            | T::Namespace
            | T::ServiceAccount
            | T::Deployment
            | T::ReplicaSet
            | T::OtherKind
            | T::PodTemplateSpec,
            "metadata",
        ) => typed(T::ObjectMeta),
        (T::ObjectMeta, "finalizers") => SET,
        (T::ObjectMeta, "ownerReferences") => by_key(T::Opaque, "uid"),

        (T::Pod | T::PodTemplateSpec, "spec") => typed(T::PodSpec),
        (T::Pod, "status") => typed(T::PodStatus),
        (T::PodSpec, "containers" | "initContainers" | "ephemeralContainers") => {
            by_key(T::Container, "name")
        }
        (T::PodSpec, "volumes") => FieldStrategy {
            ty: T::Opaque,
            list: ListStrategy::MergeByKey("name"),
            retain_keys: true,
        },
        (T::PodSpec, "resourceClaims") => FieldStrategy {
            ty: T::Opaque,
            list: ListStrategy::MergeByKey("name"),
            retain_keys: true,
        },
        (T::PodSpec, "imagePullSecrets" | "schedulingGates") => by_key(T::Opaque, "name"),
        (T::PodSpec, "hostAliases") => by_key(T::Opaque, "ip"),
        (T::PodSpec, "topologySpreadConstraints") => by_key(T::Opaque, "topologyKey"),
        (T::Container, "ports") => by_key(T::Opaque, "containerPort"),
        (T::Container, "env") => by_key(T::Opaque, "name"),
        (T::Container, "volumeMounts") => by_key(T::Opaque, "mountPath"),
        (T::Container, "volumeDevices") => by_key(T::Opaque, "devicePath"),
        (T::PodStatus, "conditions") => by_key(T::Opaque, "type"),
        (T::PodStatus, "podIPs" | "hostIPs") => by_key(T::Opaque, "ip"),
        (T::PodStatus, "resourceClaimStatuses") => FieldStrategy {
            ty: T::Opaque,
            list: ListStrategy::MergeByKey("name"),
            retain_keys: true,
        },

        (T::Service, "spec") => typed(T::ServiceSpec),
        (T::ServiceSpec, "ports") => by_key(T::Opaque, "port"),
        (T::Service | T::Deployment | T::ReplicaSet | T::Namespace, "status") => {
            typed(T::ConditionedStatus)
        }
        (T::ConditionedStatus | T::NodeStatus, "conditions") => by_key(T::Opaque, "type"),

        (T::Node, "spec") => typed(T::NodeSpec),
        (T::Node, "status") => typed(T::NodeStatus),
        (T::NodeSpec, "podCIDRs") => SET,
        (T::NodeStatus, "addresses") => by_key(T::Opaque, "type"),

        (T::ServiceAccount, "secrets") => by_key(T::Opaque, "name"),

        (T::Deployment, "spec") => typed(T::DeploymentSpec),
        (T::DeploymentSpec, "strategy") => FieldStrategy {
            ty: T::Opaque,
            list: ListStrategy::Replace,
            retain_keys: true,
        },
        (T::DeploymentSpec | T::ReplicaSetSpec, "template") => typed(T::PodTemplateSpec),
        (T::ReplicaSet, "spec") => typed(T::ReplicaSetSpec),
        _ => OPAQUE,
    }
}

fn patch_err(msg: String) -> Error {
    Error::Patch(msg)
}

/// Applies an RFC 6902 JSON patch (a JSON array of operations).
pub fn apply_json_patch(document: &Value, patch: &Value) -> Result<Value, Error> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| patch_err(format!("invalid JSON patch: {e}")))?;
    let mut doc = document.clone();
    json_patch::patch(&mut doc, &ops).map_err(|e| Error::PatchApply(e.to_string()))?;
    Ok(doc)
}

/// Applies an RFC 7386 JSON merge patch: maps merge, `null` deletes, anything
/// else (lists included) replaces.
pub fn apply_merge_patch(document: &Value, patch: &Value) -> Value {
    let mut doc = document.clone();
    json_patch::merge(&mut doc, patch);
    doc
}

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER_PREFIX: &str = "$setElementOrder/";
const DELETE_PRIMITIVE_PREFIX: &str = "$deleteFromPrimitiveList/";

/// Applies a strategic merge patch to an object of type `ty` (see
/// [`PatchType::for_resource`]). Supports `$patch: replace|delete|merge` on maps
/// and list elements, `$retainKeys`, `$setElementOrder/<list>`,
/// `$deleteFromPrimitiveList/<list>` and `null` to delete a field.
pub fn apply_strategic_merge_patch(
    document: &Value,
    patch: &Value,
    ty: PatchType,
) -> Result<Value, Error> {
    let Value::Object(p) = patch else {
        return Err(patch_err(
            "a strategic merge patch must be a JSON object".to_string(),
        ));
    };
    let original = match document {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    Ok(Value::Object(merge_map(original, p, ty)?))
}

/// Merges `patch` into `original`. As upstream, `$patch: replace` takes the patch
/// map as it is and `$patch: delete` leaves an empty map.
fn merge_map(mut original: JsonMap, patch: &JsonMap, ty: PatchType) -> Result<JsonMap, Error> {
    if let Some(d) = patch.get(DIRECTIVE) {
        match d.as_str() {
            Some("replace") => {
                let mut p = patch.clone();
                p.remove(DIRECTIVE);
                return merge_map(Map::new(), &p, ty);
            }
            Some("delete") => return Ok(Map::new()),
            _ => {
                return Err(patch_err(format!(
                    "unknown patch type: {d} in map: {}",
                    Value::Object(patch.clone())
                )));
            }
        }
    }
    if let Some(rk) = patch.get(RETAIN_KEYS) {
        let keys: Vec<&str> = rk
            .as_array()
            .and_then(|a| a.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
            .ok_or_else(|| {
                patch_err(format!(
                    "invalid patch: $retainKeys must be a list of strings, got {rk}"
                ))
            })?;
        // Nulls (deletions) and directives need not be listed, as upstream.
        for (k, _) in patch
            .iter()
            .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
        {
            if !keys.contains(&k.as_str()) {
                return Err(patch_err(format!(
                    "cannot find key: {k} in $retainKeys list {rk}"
                )));
            }
        }
        original.retain(|k, _| keys.contains(&k.as_str()));
    }
    for (k, v) in patch {
        let Some(field) = k.strip_prefix(DELETE_PRIMITIVE_PREFIX) else {
            continue;
        };
        let del = v
            .as_array()
            .ok_or_else(|| patch_err(format!("invalid patch: {k} must be a list, got {v}")))?;
        if let Some(Value::Array(list)) = original.get_mut(field) {
            let del: HashSet<String> = del.iter().map(Value::to_string).collect();
            list.retain(|x| !del.contains(&x.to_string()));
        }
    }
    for (k, pv) in patch {
        if k.starts_with('$') {
            continue;
        }
        if pv.is_null() {
            original.remove(k);
            continue;
        }
        let fs = field_strategy(ty, k);
        let order = set_order(patch, k)?;
        let merged = match (original.remove(k), pv) {
            (Some(Value::Object(o)), Value::Object(p)) => Value::Object(merge_map(o, p, fs.ty)?),
            (Some(Value::Array(o)), Value::Array(p)) => Value::Array(merge_list(o, p, fs, order)?),
            (_, pv) => fresh(pv, fs, order)?,
        };
        original.insert(k.clone(), merged);
    }
    for k in patch.keys() {
        let Some(field) = k.strip_prefix(SET_ORDER_PREFIX) else {
            continue;
        };
        if patch.contains_key(field) {
            continue;
        }
        let fs = field_strategy(ty, field);
        let order = set_order(patch, field)?;
        if let Some(Value::Array(list)) = original.get_mut(field) {
            let current = std::mem::take(list);
            *list = merge_list(current, &[], fs, order)?;
        }
    }
    Ok(original)
}

fn set_order<'a>(
    patch: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a Vec<Value>>, Error> {
    match patch.get(&format!("{SET_ORDER_PREFIX}{field}")) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(other) => Err(patch_err(format!(
            "invalid patch: {SET_ORDER_PREFIX}{field} must be a list, got {other}"
        ))),
    }
}

/// A patch value for a field the original lacks (or has with another type):
/// taken as is, with directives resolved against nothing.
fn fresh(pv: &Value, fs: FieldStrategy, order: Option<&Vec<Value>>) -> Result<Value, Error> {
    Ok(match pv {
        Value::Object(p) => Value::Object(merge_map(Map::new(), p, fs.ty)?),
        Value::Array(p) => Value::Array(merge_list(Vec::new(), p, fs, order)?),
        other => other.clone(),
    })
}

/// The identity of a list element: its merge key's value, or itself, as text so
/// that lookups hash (lists in patches can be long; quadratic scans would let
/// one request occupy the API server). `None` when the element lacks its key.
fn element_id(v: &Value, list: ListStrategy) -> Option<String> {
    match list {
        ListStrategy::MergeByKey(k) => v.get(k).map(Value::to_string),
        _ => Some(v.to_string()),
    }
}

/// First position of each identity in a list.
fn positions(list: &[Value], strategy: ListStrategy) -> HashMap<String, usize> {
    let mut out = HashMap::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        if let Some(id) = element_id(v, strategy) {
            out.entry(id).or_insert(i);
        }
    }
    out
}

fn merge_list(
    original: Vec<Value>,
    patch: &[Value],
    fs: FieldStrategy,
    order: Option<&Vec<Value>>,
) -> Result<Vec<Value>, Error> {
    let server_pos = positions(&original, fs.list);
    let merged = match fs.list {
        ListStrategy::Replace => {
            let mut out = Vec::with_capacity(patch.len());
            for v in patch {
                out.push(fresh(v, OPAQUE, None)?);
            }
            if patch.is_empty() && order.is_some() {
                // Only a reorder was asked for; an atomic list keeps its content.
                original
            } else {
                return Ok(out);
            }
        }
        ListStrategy::MergeSet => {
            let mut out = original;
            let mut seen: HashSet<String> = out.iter().map(Value::to_string).collect();
            for v in patch {
                if seen.insert(v.to_string()) {
                    out.push(v.clone());
                }
            }
            out
        }
        ListStrategy::MergeByKey(key) => {
            let no_key = |e: &Value| {
                patch_err(format!(
                    "map: {e} does not contain declared merge key: {key}"
                ))
            };
            let mut out = original;
            // Special elements first, as upstream: deletions, then a possible replace.
            let mut rest = Vec::with_capacity(patch.len());
            let mut deleted = HashSet::new();
            let mut replace = false;
            for e in patch {
                let Value::Object(pm) = e else {
                    return Err(no_key(e));
                };
                let Some(d) = pm.get(DIRECTIVE) else {
                    rest.push((e, pm));
                    continue;
                };
                match d.as_str() {
                    Some("delete") => {
                        let kv = pm.get(key).ok_or_else(|| {
                            patch_err("delete patch type with no merge key defined".to_string())
                        })?;
                        deleted.insert(kv.to_string());
                    }
                    Some("replace") => replace = true,
                    Some("merge") => {
                        return Err(patch_err(
                            "merging lists cannot yet be specified in the patch".to_string(),
                        ));
                    }
                    _ => return Err(patch_err(format!("unknown patch type: {d} in map: {e}"))),
                }
            }
            if !deleted.is_empty() {
                out.retain(|o| o.get(key).is_none_or(|k| !deleted.contains(&k.to_string())));
            }
            if replace {
                return rest
                    .into_iter()
                    .map(|(_, pm)| merge_map(Map::new(), pm, fs.ty).map(Value::Object))
                    .collect();
            }
            let mut index = positions(&out, fs.list);
            for (e, pm) in rest {
                let kv = pm.get(key).ok_or_else(|| no_key(e))?.to_string();
                match index.get(&kv).copied() {
                    Some(i) => {
                        let current = match std::mem::take(&mut out[i]) {
                            Value::Object(om) => om,
                            _ => Map::new(),
                        };
                        out[i] = Value::Object(merge_map(current, pm, fs.ty)?);
                    }
                    None => {
                        index.insert(kv, out.len());
                        out.push(Value::Object(merge_map(Map::new(), pm, fs.ty)?));
                    }
                }
            }
            out
        }
    };
    let Some(order) = order else {
        return Ok(merged);
    };
    let order_pos = positions(order, fs.list);
    let patch_pos = positions(patch, fs.list);
    let (mut patched, server_only): (Vec<Value>, Vec<Value>) = merged.into_iter().partition(|v| {
        element_id(v, fs.list)
            .is_some_and(|id| order_pos.contains_key(&id) || patch_pos.contains_key(&id))
    });
    patched.sort_by_key(|v| {
        element_id(v, fs.list)
            .and_then(|id| order_pos.get(&id).copied())
            .unwrap_or(usize::MAX)
    });
    Ok(merge_sorted(server_only, patched, &server_pos, fs.list))
}

/// Interleaves server-only elements (`left`) into the patch-ordered ones
/// (`right`), as upstream's `mergeSortedSlice`: a server-only element goes first
/// only when both are on the server and it was there before the patch element;
/// otherwise the patch element goes first.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_pos: &HashMap<String, usize>,
    list: ListStrategy,
) -> Vec<Value> {
    let index = |v: &Value| element_id(v, list).and_then(|id| server_pos.get(&id).copied());
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut l = left.into_iter().peekable();
    let mut r = right.into_iter().peekable();
    loop {
        let take_left = match (l.peek(), r.peek()) {
            (None, None) => return out,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => matches!((index(a), index(b)), (Some(i), Some(j)) if i < j),
        };
        let next = if take_left { l.next() } else { r.next() };
        out.extend(next);
    }
}

#[derive(Clone, Copy)]
struct DiffOptions {
    ignore_deletions: bool,
    ignore_changes_and_additions: bool,
}

/// The strategic merge patch that turns `original` into `modified` (upstream's
/// `CreateTwoWayMergePatch`), with `$setElementOrder` for changed merge lists.
pub fn create_two_way_merge_patch(
    original: &Value,
    modified: &Value,
    ty: PatchType,
) -> Result<Value, Error> {
    let (o, m) = both_objects(original, modified)?;
    let opts = DiffOptions {
        ignore_deletions: false,
        ignore_changes_and_additions: false,
    };
    Ok(Value::Object(diff_maps(o, m, ty, opts)?))
}

/// The patch `kubectl apply` sends (upstream's `CreateThreeWayMergePatch`): changes
/// and additions from `current` (live) to `modified` (the new configuration), plus
/// deletions of what `original` (the last-applied configuration) had and
/// `modified` no longer has. Fields set by others on the live object are kept.
/// An empty object (`{}`) means "unchanged".
pub fn three_way(
    original: Option<&Value>,
    modified: &Value,
    current: &Value,
    ty: PatchType,
) -> Result<Value, Error> {
    let empty = Value::Object(Map::new());
    let (c, m) = both_objects(current, modified)?;
    let (o, _) = both_objects(original.unwrap_or(&empty), modified)?;
    let delta = diff_maps(
        c,
        m,
        ty,
        DiffOptions {
            ignore_deletions: true,
            ignore_changes_and_additions: false,
        },
    )?;
    let deletions = diff_maps(
        o,
        m,
        ty,
        DiffOptions {
            ignore_deletions: false,
            ignore_changes_and_additions: true,
        },
    )?;
    Ok(Value::Object(combine(deletions, delta, ty)))
}

fn both_objects<'a>(a: &'a Value, b: &'a Value) -> Result<(&'a JsonMap, &'a JsonMap), Error> {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => Ok((a, b)),
        _ => Err(patch_err("both documents must be JSON objects".to_string())),
    }
}

fn diff_maps(
    original: &Map<String, Value>,
    modified: &Map<String, Value>,
    ty: PatchType,
    opts: DiffOptions,
) -> Result<Map<String, Value>, Error> {
    let mut patch = Map::new();
    if !opts.ignore_deletions {
        for k in original.keys() {
            if !modified.contains_key(k) {
                patch.insert(k.clone(), Value::Null);
            }
        }
    }
    for (k, mv) in modified {
        let fs = field_strategy(ty, k);
        match (original.get(k), mv) {
            (None, _) => {
                if !opts.ignore_changes_and_additions {
                    patch.insert(k.clone(), mv.clone());
                }
            }
            (Some(ov), _) if ov == mv => {}
            (Some(Value::Object(o)), Value::Object(m)) => {
                let sub = diff_child_map(o, m, fs, opts)?;
                if !sub.is_empty() {
                    patch.insert(k.clone(), Value::Object(sub));
                }
            }
            (Some(Value::Array(o)), Value::Array(m)) => diff_lists(k, o, m, fs, opts, &mut patch)?,
            _ => {
                if !opts.ignore_changes_and_additions {
                    patch.insert(k.clone(), mv.clone());
                }
            }
        }
    }
    Ok(patch)
}

/// Diffs a nested map; for `retainKeys` fields adds `$retainKeys` (the keys of
/// `modified`) when there is a change or `modified` gained a field, as upstream.
fn diff_child_map(
    original: &JsonMap,
    modified: &JsonMap,
    fs: FieldStrategy,
    opts: DiffOptions,
) -> Result<JsonMap, Error> {
    let mut sub = diff_maps(original, modified, fs.ty, opts)?;
    let gained = modified
        .iter()
        .any(|(k, v)| !v.is_null() && !original.contains_key(k));
    if fs.retain_keys && (!sub.is_empty() || gained) {
        sub.insert(RETAIN_KEYS.to_string(), retain_keys_of(modified));
    }
    Ok(sub)
}

fn retain_keys_of(m: &Map<String, Value>) -> Value {
    let mut keys: Vec<&String> = m
        .iter()
        .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    Value::Array(keys.into_iter().map(|k| Value::String(k.clone())).collect())
}

fn diff_lists(
    key: &str,
    original: &[Value],
    modified: &[Value],
    fs: FieldStrategy,
    opts: DiffOptions,
    patch: &mut Map<String, Value>,
) -> Result<(), Error> {
    let merge_key = match fs.list {
        ListStrategy::MergeByKey(mk)
            if modified.iter().chain(original).all(|v| v.get(mk).is_some()) =>
        {
            Some(mk)
        }
        ListStrategy::MergeSet
            if modified
                .iter()
                .chain(original)
                .all(|v| !v.is_object() && !v.is_array()) =>
        {
            None
        }
        _ => {
            if !opts.ignore_changes_and_additions {
                patch.insert(key.to_string(), Value::Array(modified.to_vec()));
            }
            return Ok(());
        }
    };
    if original.is_empty() {
        if !modified.is_empty() && !opts.ignore_changes_and_additions {
            patch.insert(key.to_string(), Value::Array(modified.to_vec()));
        }
        return Ok(());
    }
    let order_key = format!("{SET_ORDER_PREFIX}{key}");
    match merge_key {
        None => {
            let in_original = positions(original, fs.list);
            let in_modified = positions(modified, fs.list);
            let additions: Vec<Value> = modified
                .iter()
                .filter(|v| !in_original.contains_key(&v.to_string()))
                .cloned()
                .collect();
            let mut seen = HashSet::new();
            let deletions: Vec<Value> = original
                .iter()
                .filter(|v| {
                    let id = v.to_string();
                    !in_modified.contains_key(&id) && seen.insert(id)
                })
                .cloned()
                .collect();
            if !opts.ignore_changes_and_additions && !additions.is_empty() {
                patch.insert(key.to_string(), Value::Array(additions));
            }
            if !opts.ignore_deletions && !deletions.is_empty() {
                patch.insert(
                    format!("{DELETE_PRIMITIVE_PREFIX}{key}"),
                    Value::Array(deletions.clone()),
                );
            }
            if (!opts.ignore_deletions && !deletions.is_empty())
                || (!opts.ignore_changes_and_additions && original != modified)
            {
                patch.insert(order_key, Value::Array(modified.to_vec()));
            }
        }
        Some(mk) => {
            let in_original = positions(original, fs.list);
            let in_modified = positions(modified, fs.list);
            let mut items = Vec::new();
            for me in modified {
                let kv = me.get(mk);
                let found = element_id(me, fs.list)
                    .and_then(|id| in_original.get(&id))
                    .and_then(|&i| original.get(i));
                match found {
                    None => {
                        if !opts.ignore_changes_and_additions {
                            items.push(me.clone());
                        }
                    }
                    Some(oe) if oe == me => {}
                    Some(oe) => {
                        let (Value::Object(o), Value::Object(m)) = (oe, me) else {
                            continue;
                        };
                        let mut sub = diff_child_map(o, m, fs, opts)?;
                        if !sub.is_empty() {
                            sub.insert(mk.to_string(), kv.cloned().unwrap_or(Value::Null));
                            items.push(Value::Object(sub));
                        }
                    }
                }
            }
            if !opts.ignore_deletions {
                for oe in original {
                    let kv = oe.get(mk);
                    if element_id(oe, fs.list).is_some_and(|id| !in_modified.contains_key(&id)) {
                        let mut d = Map::new();
                        d.insert(DIRECTIVE.to_string(), Value::String("delete".to_string()));
                        d.insert(mk.to_string(), kv.cloned().unwrap_or(Value::Null));
                        items.push(Value::Object(d));
                    }
                }
            }
            let order_same = original.len() == modified.len()
                && original
                    .iter()
                    .zip(modified)
                    .all(|(o, m)| o.get(mk) == m.get(mk));
            let want_order = (!opts.ignore_changes_and_additions
                && (!items.is_empty() || !order_same))
                || (!opts.ignore_deletions && !items.is_empty());
            if !items.is_empty() {
                patch.insert(key.to_string(), Value::Array(items));
            }
            if want_order {
                let order = modified
                    .iter()
                    .map(|m| {
                        let mut e = Map::new();
                        e.insert(mk.to_string(), m.get(mk).cloned().unwrap_or(Value::Null));
                        Value::Object(e)
                    })
                    .collect();
                patch.insert(order_key, Value::Array(order));
            }
        }
    }
    Ok(())
}

/// Combines the deletions patch with the changes patch (changes win; merge
/// lists are unioned by key; primitive deletions are unioned).
fn combine(
    mut deletions: Map<String, Value>,
    delta: Map<String, Value>,
    ty: PatchType,
) -> Map<String, Value> {
    for (k, dv) in delta {
        let fs = field_strategy(ty, &k);
        let merged = match (deletions.remove(&k), dv) {
            (Some(Value::Object(a)), Value::Object(b)) => Value::Object(combine(a, b, fs.ty)),
            (Some(Value::Array(a)), Value::Array(b)) if k.starts_with(DELETE_PRIMITIVE_PREFIX) => {
                let mut out = a;
                let mut seen: HashSet<String> = out.iter().map(Value::to_string).collect();
                for v in b {
                    if seen.insert(v.to_string()) {
                        out.push(v);
                    }
                }
                Value::Array(out)
            }
            (Some(Value::Array(a)), Value::Array(b)) => match fs.list {
                ListStrategy::MergeByKey(mk) if !k.starts_with('$') => {
                    let mut out = b;
                    let present = positions(&out, fs.list);
                    for d in a {
                        if d.get(mk)
                            .is_none_or(|kv| !present.contains_key(&kv.to_string()))
                        {
                            out.push(d);
                        }
                    }
                    Value::Array(out)
                }
                _ => Value::Array(b),
            },
            (_, dv) => dv,
        };
        deletions.insert(k, merged);
    }
    deletions
}

#[cfg(test)]
mod tests;
