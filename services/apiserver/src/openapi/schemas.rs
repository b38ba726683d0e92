//! The definitions of every served kind, in Swagger 2.0 form (`#/definitions/...`
//! references), as upstream names and describes them.
//!
//! The schemas come from k8s-openapi (its `schemars` feature: upstream's names and
//! descriptions for every type). What that output lacks and kubectl reads is added
//! here: `x-kubernetes-group-version-kind` on top-level kinds, the list kinds, and
//! the strategic-merge-patch extensions, taken from the merge-key table the
//! server's own patching uses ([`rudder_api::patch::field_strategy`]).

use std::collections::BTreeSet;

use k8s_openapi::api::{apps, autoscaling, coordination, core, policy, rbac};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use rudder_api::patch::{ListStrategy, PatchType, field_strategy};
use rudder_api::resource::{self, ResourceInfo};
use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// Where Swagger 2.0 keeps definitions; v3 documents rewrite it.
pub const DEFINITIONS_PREFIX: &str = "#/definitions/";
/// `io.k8s.apimachinery.pkg.apis.meta.v1.Status`: deletecollection's answer.
pub const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
/// `io.k8s.apimachinery.pkg.apis.meta.v1.Patch`: the body of every PATCH.
pub const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
/// `io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions`: the body of DELETE.
pub const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
/// Int-or-string types: k8s-openapi gives them no type (only
/// `x-kubernetes-int-or-string`); each document format spells them as upstream's.
pub const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
/// See [`INT_OR_STRING`].
pub const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// Sets `fields` on the definition `name`, if present.
pub fn extend(defs: &mut Map<String, Value>, name: &str, fields: Value) {
    if let (Some(Value::Object(def)), Value::Object(fields)) = (defs.get_mut(name), fields) {
        def.extend(fields);
    }
}

/// A group/version/kind, as the `x-kubernetes-group-version-kind` extension spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gvk {
    /// "" for core.
    pub group: &'static str,
    /// The version.
    pub version: &'static str,
    /// The kind.
    pub kind: String,
}

impl Gvk {
    /// The extension's JSON form.
    pub fn to_json(&self) -> Value {
        json!({"group": self.group, "kind": self.kind, "version": self.version})
    }
}

/// Upstream's definition name of a kind: `io.k8s.api.core.v1.Pod`,
/// `io.k8s.api.rbac.v1.Role`, `io.k8s.api.autoscaling.v1.Scale`.
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let group = match group {
        "" => "core",
        g => g.split('.').next().unwrap_or(g),
    };
    format!("io.k8s.api.{group}.{version}.{kind}")
}

/// A `$ref` to a definition.
pub fn reference(name: &str) -> Value {
    json!({"$ref": format!("{DEFINITIONS_PREFIX}{name}")})
}

/// Adds the schema of a served kind (and everything it references) to `generator`;
/// false for a kind this build has no type for.
fn add_kind(generator: &mut SchemaGenerator, group: &str, kind: &str) -> bool {
    macro_rules! add {
        ($t:ty) => {{
            generator.subschema_for::<$t>();
            true
        }};
    }
    match (group, kind) {
        ("", "ConfigMap") => add!(core::v1::ConfigMap),
        ("", "Endpoints") => add!(core::v1::Endpoints),
        ("", "Event") => add!(core::v1::Event),
        ("", "Namespace") => add!(core::v1::Namespace),
        ("", "Node") => add!(core::v1::Node),
        ("", "Pod") => add!(core::v1::Pod),
        ("", "Secret") => add!(core::v1::Secret),
        ("", "ServiceAccount") => add!(core::v1::ServiceAccount),
        ("", "Service") => add!(core::v1::Service),
        ("", "Binding") => add!(core::v1::Binding),
        ("apps", "Deployment") => add!(apps::v1::Deployment),
        ("apps", "ReplicaSet") => add!(apps::v1::ReplicaSet),
        ("autoscaling", "Scale") => add!(autoscaling::v1::Scale),
        ("coordination.k8s.io", "Lease") => add!(coordination::v1::Lease),
        ("policy", "Eviction") => add!(policy::v1::Eviction),
        ("rbac.authorization.k8s.io", "ClusterRole") => add!(rbac::v1::ClusterRole),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => add!(rbac::v1::ClusterRoleBinding),
        ("rbac.authorization.k8s.io", "Role") => add!(rbac::v1::Role),
        ("rbac.authorization.k8s.io", "RoleBinding") => add!(rbac::v1::RoleBinding),
        _ => false,
    }
}

/// Kinds spoken by subresources (`scale`, `binding`, `eviction`): (group, version, kind).
fn subresource_kinds() -> BTreeSet<(&'static str, &'static str, &'static str)> {
    resource::all()
        .iter()
        .flat_map(|r| {
            r.subresources.iter().map(move |s| {
                (
                    s.group.unwrap_or(r.group),
                    s.version.unwrap_or(r.version),
                    s.kind,
                )
            })
        })
        .collect()
}

/// Every definition the documents use, keyed by upstream name.
pub fn definitions() -> Map<String, Value> {
    let settings = SchemaSettings::draft07().with(|s| {
        s.definitions_path = "/definitions".into();
        s.meta_schema = None;
        s.transforms = Vec::new();
    });
    let mut generator = settings.into_generator();
    generator.subschema_for::<meta::ListMeta>();
    generator.subschema_for::<meta::Status>();
    generator.subschema_for::<meta::DeleteOptions>();
    let mut kinds: Vec<Gvk> = Vec::new();
    for r in resource::all() {
        if add_kind(&mut generator, r.group, r.kind) {
            kinds.push(gvk(r.group, r.version, r.kind));
        } else {
            tracing::warn!(kind = r.kind, "no schema for a served kind");
        }
    }
    for (group, version, kind) in subresource_kinds() {
        if add_kind(&mut generator, group, kind) {
            kinds.push(gvk(group, version, kind));
        }
    }
    let mut defs = generator.take_definitions(false);
    for k in &kinds {
        set_gvks(
            &mut defs,
            &definition_name(k.group, k.version, &k.kind),
            [k],
        );
    }
    for r in resource::all() {
        add_list(&mut defs, r);
        annotate_patch_strategies(
            &mut defs,
            &definition_name(r.group, r.version, r.kind),
            PatchType::for_resource(r),
            &mut Vec::new(),
        );
    }
    set_gvks(&mut defs, STATUS, [&gvk("", "v1", "Status")]);
    // As upstream: DeleteOptions is the same type in every served group-version.
    let mut groups: Vec<&str> = vec![""];
    groups.extend(resource::GROUPS);
    let delete_options: Vec<Gvk> = groups
        .iter()
        .map(|g| gvk(g, "v1", "DeleteOptions"))
        .collect();
    set_gvks(&mut defs, DELETE_OPTIONS, delete_options.iter());
    defs.insert(
        PATCH.into(),
        json!({"description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.",
               "type": "object"}),
    );
    defs
}

fn gvk(group: &'static str, version: &'static str, kind: &str) -> Gvk {
    Gvk {
        group,
        version,
        kind: kind.to_string(),
    }
}

fn set_gvks<'a>(
    defs: &mut Map<String, Value>,
    name: &str,
    gvks: impl IntoIterator<Item = &'a Gvk>,
) {
    if let Some(Value::Object(def)) = defs.get_mut(name) {
        let list: Vec<Value> = gvks.into_iter().map(Gvk::to_json).collect();
        def.insert("x-kubernetes-group-version-kind".into(), Value::Array(list));
    }
}

/// `<Kind>List`: apiVersion, kind, metadata (ListMeta) and items, as upstream's
/// list types; the field descriptions are the kind's own.
fn add_list(defs: &mut Map<String, Value>, r: &ResourceInfo) {
    let item = definition_name(r.group, r.version, r.kind);
    let Some(item_def) = defs.get(&item) else {
        return;
    };
    let field = |name: &str| item_def["properties"][name].clone();
    let list_kind = format!("{}List", r.kind);
    let list = json!({
        "description": format!("{list_kind} is a list of {} objects.", r.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": field("apiVersion"),
            "kind": field("kind"),
            "items": {"description": format!("List of {}.", r.plural), "type": "array", "items": reference(&item)},
            "metadata": {"description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                         "$ref": format!("{DEFINITIONS_PREFIX}{LIST_META}")},
        },
        "x-kubernetes-group-version-kind": [gvk(r.group, r.version, &list_kind).to_json()],
    });
    defs.insert(definition_name(r.group, r.version, &list_kind), list);
}

/// List fields whose upstream `listMapKey`s are more than the merge key.
const LIST_MAP_KEYS: &[(&str, &str, &[&str])] = &[
    (
        "io.k8s.api.core.v1.Container",
        "ports",
        &["containerPort", "protocol"],
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "ports",
        &["port", "protocol"],
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        &["topologyKey", "whenUnsatisfiable"],
    ),
];

/// Walks the definitions from a kind's root as the server's strategic merge
/// walks objects, writing each field's strategy as upstream's extensions
/// (`x-kubernetes-patch-strategy`, `-patch-merge-key`, `-list-type`, `-list-map-keys`).
fn annotate_patch_strategies(
    defs: &mut Map<String, Value>,
    name: &str,
    ty: PatchType,
    seen: &mut Vec<(String, PatchType)>,
) {
    if ty == PatchType::Opaque || seen.iter().any(|(n, t)| n == name && *t == ty) {
        return;
    }
    seen.push((name.to_string(), ty));
    let fields: Vec<String> = match defs.get(name).and_then(|d| d["properties"].as_object()) {
        Some(props) => props.keys().cloned().collect(),
        None => return,
    };
    for field in fields {
        let strategy = field_strategy(ty, &field);
        let Some(Value::Object(prop)) = defs
            .get_mut(name)
            .and_then(|d| d.get_mut("properties"))
            .and_then(|p| p.get_mut(&field))
        else {
            continue;
        };
        let mut strategies = Vec::new();
        match strategy.list {
            ListStrategy::MergeByKey(key) => {
                strategies.push("merge");
                prop.insert("x-kubernetes-patch-merge-key".into(), json!(key));
                let keys = LIST_MAP_KEYS
                    .iter()
                    .find(|(d, f, _)| *d == name && *f == field)
                    .map_or_else(|| vec![key], |(_, _, keys)| keys.to_vec());
                prop.insert("x-kubernetes-list-type".into(), json!("map"));
                prop.insert("x-kubernetes-list-map-keys".into(), json!(keys));
            }
            ListStrategy::MergeSet => {
                strategies.push("merge");
                prop.insert("x-kubernetes-list-type".into(), json!("set"));
            }
            ListStrategy::Replace => {}
        }
        if strategy.retain_keys {
            strategies.push("retainKeys");
        }
        if !strategies.is_empty() {
            prop.insert(
                "x-kubernetes-patch-strategy".into(),
                json!(strategies.join(",")),
            );
        }
        let target = prop
            .get("$ref")
            .or_else(|| prop.get("items").and_then(|i| i.get("$ref")))
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(DEFINITIONS_PREFIX))
            .map(str::to_string);
        if let Some(target) = target {
            annotate_patch_strategies(defs, &target, strategy.ty, seen);
        }
    }
}

/// The names of `roots` and of every definition they reference, transitively.
pub fn closure(
    defs: &Map<String, Value>,
    roots: impl IntoIterator<Item = String>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = roots.into_iter().collect();
    while let Some(name) = todo.pop() {
        if !out.insert(name.clone()) {
            continue;
        }
        if let Some(def) = defs.get(&name) {
            collect_refs(def, &mut todo);
        }
    }
    out
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(obj) => {
            for (k, v) in obj {
                match (k.as_str(), v.as_str()) {
                    ("$ref", Some(r)) => {
                        if let Some(name) = r.strip_prefix(DEFINITIONS_PREFIX) {
                            out.push(name.to_string());
                        }
                    }
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_kind_has_its_upstream_schema_and_list() {
        let defs = definitions();
        for r in resource::all() {
            let name = definition_name(r.group, r.version, r.kind);
            let def = defs.get(&name).unwrap_or_else(|| panic!("{name} missing"));
            assert!(
                def["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{name}"
            );
            assert_eq!(
                def["x-kubernetes-group-version-kind"],
                json!([{"group": r.group, "kind": r.kind, "version": r.version}]),
                "{name}"
            );
            let list = &defs[&format!("{name}List")];
            assert_eq!(list["properties"]["items"]["items"], reference(&name));
        }
        let mut missing: Vec<String> = closure(&defs, defs.keys().cloned())
            .into_iter()
            .filter(|n| !defs.contains_key(n))
            .collect();
        missing.sort();
        assert!(missing.is_empty(), "dangling references: {missing:?}");
        assert!(defs.contains_key("io.k8s.api.autoscaling.v1.Scale"));
    }

    #[test]
    fn merge_keys_come_from_the_patch_table() {
        let defs = definitions();
        let containers = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-list-type"], "map");
        assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
        let volumes = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"];
        assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
        let ports = &defs["io.k8s.api.core.v1.Container"]["properties"]["ports"];
        assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
        assert_eq!(
            ports["x-kubernetes-list-map-keys"],
            json!(["containerPort", "protocol"])
        );
        let strategy = &defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
        assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
        let finalizers =
            &defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["finalizers"];
        assert_eq!(finalizers["x-kubernetes-list-type"], "set");
    }
}
