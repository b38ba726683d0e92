//! Server-side apply and field ownership, as kube-apiserver's field manager keeps
//! them: every write records in `metadata.managedFields` which manager owns which
//! fields ([`record_update`] for create, update and non-apply patches), and an
//! apply ([`apply`]) merges a manager's configuration into the live object,
//! removes what that manager applied before and no longer does, and refuses to
//! change fields another manager owns unless forced.
//!
//! Pure functions over object JSON; the API server calls them from its one write
//! path. Field sets are structured-merge-diff's ([`fieldset`]), the schema facts
//! come from the strategic-merge table ([`schema`]).

pub mod fieldset;
pub mod managed;
pub mod merge;
pub mod schema;
pub mod walk;

use serde_json::Value;

pub use fieldset::{FieldPath, FieldSet};
pub use managed::{ManagedEntry, Operation};

use crate::patch::PatchType;
use crate::validation::FieldError;

/// Who writes, and when.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    /// The field manager.
    pub manager: &'a str,
    /// `status`, `scale` ..., or "" for the main resource.
    pub subresource: &'a str,
    /// The apiVersion of the request.
    pub api_version: &'a str,
    /// The time entries get when they change (RFC 3339).
    pub now: &'a str,
}

/// Which top-level fields a write may own: a write to the main resource of a kind
/// with a status subresource does not own `status`, a status write owns only it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every field.
    Whole,
    /// Everything but `status`.
    AllButStatus,
    /// Only `status`.
    StatusOnly,
}

impl Scope {
    /// The scope of a write to `subresource` of a kind that has (or lacks) a
    /// status subresource.
    pub fn new(has_status_subresource: bool, subresource: Option<&str>) -> Scope {
        match subresource {
            Some("status") => Scope::StatusOnly,
            Some(_) => Scope::Whole,
            None if has_status_subresource => Scope::AllButStatus,
            None => Scope::Whole,
        }
    }

    fn keeps(self, element: &str) -> bool {
        match self {
            Scope::Whole => true,
            Scope::AllButStatus => element != "f:status",
            Scope::StatusOnly => element == "f:status",
        }
    }
}

/// Fields the server sets: nobody owns them (upstream strips them from every set).
const SERVER_FIELDS: &[&[&str]] = &[
    &["f:apiVersion"],
    &["f:kind"],
    &["f:metadata"],
    &["f:metadata", "f:name"],
    &["f:metadata", "f:namespace"],
    &["f:metadata", "f:creationTimestamp"],
    &["f:metadata", "f:selfLink"],
    &["f:metadata", "f:uid"],
    &["f:metadata", "f:clusterName"],
    &["f:metadata", "f:generation"],
    &["f:metadata", "f:managedFields"],
    &["f:metadata", "f:resourceVersion"],
];

fn ownable(set: &FieldSet, scope: Scope) -> FieldSet {
    let mut out = set.retain_top(|e| scope.keeps(e));
    for path in SERVER_FIELDS {
        let path: FieldPath = path.iter().map(|e| e.to_string()).collect();
        out.remove(&path);
    }
    out
}

/// Why a write cannot record or apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Invalid `managedFields` in the request (422).
    Invalid(Vec<FieldError>),
    /// A configuration that cannot be applied (400).
    BadRequest(String),
    /// Fields other managers own would change (409).
    Conflicts(Conflicts),
}

/// The conflicts of an apply: each a field and the manager that owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflicts {
    /// (manager as printed, field path as printed), managers in upstream's order.
    pub fields: Vec<(String, String)>,
}

impl Conflicts {
    /// Upstream's message: `Apply failed with 1 conflict: conflict with "m": .a.b`,
    /// or with several, one `conflicts with "m":` line per manager and `- .a.b` per
    /// field.
    pub fn message(&self) -> String {
        if let [(manager, path)] = self.fields.as_slice() {
            return format!("Apply failed with 1 conflict: conflict with {manager}: {path}");
        }
        let mut lines = Vec::new();
        let mut last: Option<&str> = None;
        for (manager, path) in &self.fields {
            if last != Some(manager) {
                lines.push(format!("conflicts with {manager}:"));
                last = Some(manager);
            }
            lines.push(format!("- {path}"));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            self.fields.len(),
            lines.join("\n")
        )
    }
}

fn managed_fields(object: &Value) -> Option<&Value> {
    object
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .filter(|v| !v.is_null())
}

fn set_managed_fields(object: &mut Value, entries: &[ManagedEntry]) {
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    match managed::encode(entries) {
        Value::Array(list) if list.is_empty() => {
            meta.remove("managedFields");
        }
        list => {
            meta.insert("managedFields".into(), list);
        }
    }
}

/// The entries a write starts from: the live object's, unless the request set its
/// own (`[]` resets them; entries that do not decode are ignored, as upstream).
fn starting_entries(
    request: Option<&Value>,
    live: Option<&Value>,
) -> Result<Vec<ManagedEntry>, Error> {
    let live_entries = || {
        live.and_then(managed_fields)
            .and_then(|l| managed::decode(l).ok())
            .unwrap_or_default()
    };
    match request {
        None => Ok(live_entries()),
        Some(Value::Array(list)) if list.is_empty() => Ok(Vec::new()),
        Some(list) => {
            let errors = managed::validate(list);
            if !errors.is_empty() {
                return Err(Error::Invalid(errors));
            }
            Ok(managed::decode(list)
                .ok()
                .filter(|e| !e.is_empty())
                .unwrap_or_else(live_entries))
        }
    }
}

/// Records a create (`old` = None), update or non-apply patch by `writer` in
/// `new`'s managedFields: the writer's Update entry gains the fields it added or
/// changed, other entries lose them, and removed fields leave every entry.
pub fn record_update(
    ty: PatchType,
    new: &mut Value,
    old: Option<&Value>,
    writer: &Writer,
    scope: Scope,
) -> Result<(), Error> {
    let request = if writer.subresource.is_empty() {
        managed_fields(new)
    } else {
        None
    };
    let mut entries = starting_entries(request.or_else(|| old.and_then(managed_fields)), old)?;
    // managedFields compare as one leaf, and nobody owns them (SERVER_FIELDS).
    let none = Value::Object(Default::default());
    let comparison = walk::compare(ty, old.unwrap_or(&none), new);
    let changed = ownable(&comparison.changed(), scope);
    let removed = ownable(&comparison.removed, scope);
    for entry in &mut entries {
        entry.fields = entry.fields.difference(&changed).difference(&removed);
    }
    if !changed.is_empty() {
        let position = entries
            .iter()
            .position(|e| e.is(writer.manager, Operation::Update, writer.subresource));
        let entry = match position {
            Some(at) => &mut entries[at],
            None => {
                entries.push(ManagedEntry {
                    manager: writer.manager.to_string(),
                    operation: Operation::Update,
                    api_version: writer.api_version.to_string(),
                    time: None,
                    subresource: writer.subresource.to_string(),
                    fields: FieldSet::new(),
                });
                entries.last_mut().expect("just pushed")
            }
        };
        entry.fields = entry.fields.union(&changed);
        entry.api_version = writer.api_version.to_string();
        entry.time = Some(writer.now.to_string());
    }
    cap_update_entries(&mut entries);
    set_managed_fields(new, &entries);
    Ok(())
}

/// Most Update entries an object keeps (upstream's default).
const MAX_UPDATE_ENTRIES: usize = 10;

/// The manager the oldest Update entries are folded into past the cap.
const ANCIENT_CHANGES: &str = "ancient-changes";

/// Folds the oldest Update entries into one `ancient-changes` entry so that an
/// object written by many managers keeps at most [`MAX_UPDATE_ENTRIES`] of them.
fn cap_update_entries(entries: &mut Vec<ManagedEntry>) {
    let updates = entries
        .iter()
        .filter(|e| e.operation == Operation::Update)
        .count();
    if updates <= MAX_UPDATE_ENTRIES {
        return;
    }
    // Oldest first, a previous fold before all: it is folded again with the next.
    entries.sort_by_key(|e| {
        (
            e.operation == Operation::Apply,
            e.manager != ANCIENT_CHANGES,
            e.time.clone(),
        )
    });
    let mut folded: Option<ManagedEntry> = None;
    let mut kept = Vec::with_capacity(entries.len());
    let mut to_fold = updates - MAX_UPDATE_ENTRIES + 1;
    for entry in entries.drain(..) {
        if entry.operation == Operation::Update && to_fold > 0 {
            to_fold -= 1;
            folded = Some(match folded {
                None => ManagedEntry {
                    manager: ANCIENT_CHANGES.to_string(),
                    subresource: String::new(),
                    ..entry
                },
                Some(f) => ManagedEntry {
                    fields: f.fields.union(&entry.fields),
                    time: f.time.max(entry.time),
                    ..f
                },
            });
        } else {
            kept.push(entry);
        }
    }
    kept.extend(folded);
    *entries = kept;
}

/// Applies `config` (a partial object of type `ty`) by `writer` to `live` (None:
/// the object does not exist yet) and returns the object to store, managedFields
/// included. Conflicts with other managers' fields fail unless `force`, which takes
/// them over.
pub fn apply(
    ty: PatchType,
    live: Option<&Value>,
    config: &Value,
    writer: &Writer,
    force: bool,
    scope: Scope,
) -> Result<Value, Error> {
    if managed_fields(config).is_some() {
        return Err(Error::BadRequest(
            "metadata.managedFields must be nil".into(),
        ));
    }
    let none = Value::Object(Default::default());
    let live_object = live.unwrap_or(&none);
    let mut entries = live
        .and_then(managed_fields)
        .and_then(|l| managed::decode(l).ok())
        .unwrap_or_default();
    let applied = ownable(&walk::set_of(ty, config).map_err(Error::BadRequest)?, scope);
    let mine = match entries
        .iter()
        .position(|e| e.is(writer.manager, Operation::Apply, writer.subresource))
    {
        Some(at) => at,
        None => {
            entries.push(ManagedEntry {
                manager: writer.manager.to_string(),
                operation: Operation::Apply,
                api_version: writer.api_version.to_string(),
                time: None,
                subresource: writer.subresource.to_string(),
                fields: FieldSet::new(),
            });
            entries.len() - 1
        }
    };
    let last = std::mem::replace(&mut entries[mine].fields, applied.clone());

    let mut merged = merge::merge(ty, live_object, config);
    let owned = entries
        .iter()
        .fold(FieldSet::new(), |all, e| all.union(&e.fields));
    for path in last.difference(&applied).paths() {
        if !owned.touches(&path) {
            merge::remove(ty, &mut merged, &path);
        }
    }

    let comparison = walk::compare(ty, live_object, &merged);
    let changed = ownable(&comparison.changed(), scope);
    let removed = ownable(&comparison.removed, scope);
    let mut conflicts: Vec<(String, String, String)> = Vec::new();
    for (n, entry) in entries.iter().enumerate() {
        if n == mine {
            continue;
        }
        for path in entry.fields.intersection(&changed).paths() {
            conflicts.push((entry.identity(), entry.describe(), fieldset::display(&path)));
        }
    }
    if !conflicts.is_empty() && !force {
        conflicts.sort_by(|a, b| a.0.cmp(&b.0));
        return Err(Error::Conflicts(Conflicts {
            fields: conflicts.into_iter().map(|(_, m, p)| (m, p)).collect(),
        }));
    }
    for (n, entry) in entries.iter_mut().enumerate() {
        if n != mine {
            entry.fields = entry.fields.difference(&changed).difference(&removed);
        }
    }
    let entry = &mut entries[mine];
    // Changes out of scope (a status apply's spec, which the status write drops) do
    // not count: the object stays as it was, so its entry's time must too.
    if entry.time.is_none() || !changed.is_empty() || !removed.is_empty() || entry.fields != last {
        entry.time = Some(writer.now.to_string());
    }
    entry.api_version = writer.api_version.to_string();
    set_managed_fields(&mut merged, &entries);
    Ok(merged)
}

#[cfg(test)]
mod tests;
