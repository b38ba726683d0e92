//! The table of served resources: one row per kind, the single source for
//! discovery documents (`/api`, `/apis`, `APIResourceList`), storage keys and
//! name resolution in rudderctl (`po`, `deploy.apps`, `Pod` ...).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIGroup, APIGroupList, APIResource, APIResourceList, APIVersions, GroupVersionForDiscovery,
    ServerAddressByClientCIDR,
};

use crate::error::Error;

/// Every verb a fully served resource answers.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// Namespaces cannot be deleted as a collection (as upstream).
const NAMESPACE_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

/// A subresource such as `pods/status` or `deployments/scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subresource {
    /// The part after the slash: `status`, `scale`, `binding`, `log`, `eviction`.
    pub name: &'static str,
    /// Group of the kind the subresource speaks, when it differs from the parent's
    /// (`autoscaling` for `scale`, `policy` for `eviction`).
    pub group: Option<&'static str>,
    /// Version paired with `group`.
    pub version: Option<&'static str>,
    /// Kind of the object sent/returned (`Scale`, `Binding`, `Eviction`, or the parent's).
    pub kind: &'static str,
    /// Verbs the subresource answers.
    pub verbs: &'static [&'static str],
}

const fn status(kind: &'static str) -> Subresource {
    Subresource {
        name: "status",
        group: None,
        version: None,
        kind,
        verbs: STATUS_VERBS,
    }
}

const SCALE: Subresource = Subresource {
    name: "scale",
    group: Some("autoscaling"),
    version: Some("v1"),
    kind: "Scale",
    verbs: STATUS_VERBS,
};

/// One served resource: everything discovery, storage and the CLI need to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group; empty for the core (legacy) group.
    pub group: &'static str,
    /// API version within the group (`v1`).
    pub version: &'static str,
    /// Kind, as in an object's `kind` field.
    pub kind: &'static str,
    /// Plural resource name used in URLs (`pods`).
    pub plural: &'static str,
    /// Singular name (`pod`), accepted by kubectl.
    pub singular: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// kubectl short names (`po`).
    pub short_names: &'static [&'static str],
    /// Verbs on the main resource.
    pub verbs: &'static [&'static str],
    /// Subresources served beside the main resource.
    pub subresources: &'static [Subresource],
    /// Categories (`all`) used by `kubectl get all`.
    pub categories: &'static [&'static str],
}

impl ResourceInfo {
    /// The `apiVersion` field of objects of this kind: `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` or `deployments.apps`: the name the API server uses in messages
    /// (`pods "x" not found`, `deployments.apps "x" not found`).
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The subresource called `name`, if served.
    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// The discovery entry for the resource itself.
    pub fn api_resource(&self) -> APIResource {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        APIResource {
            name: self.plural.to_string(),
            singular_name: self.singular.to_string(),
            namespaced: self.namespaced,
            kind: self.kind.to_string(),
            verbs: strings(self.verbs),
            short_names: (!self.short_names.is_empty()).then(|| strings(self.short_names)),
            categories: (!self.categories.is_empty()).then(|| strings(self.categories)),
            ..Default::default()
        }
    }

    /// Discovery entries for the subresources (`pods/status` ...).
    pub fn subresource_api_resources(&self) -> Vec<APIResource> {
        self.subresources
            .iter()
            .map(|s| APIResource {
                name: format!("{}/{}", self.plural, s.name),
                singular_name: String::new(),
                namespaced: self.namespaced,
                group: s.group.map(str::to_string),
                version: s.version.map(str::to_string),
                kind: s.kind.to_string(),
                verbs: s.verbs.iter().map(|v| v.to_string()).collect(),
                ..Default::default()
            })
            .collect()
    }
}

macro_rules! resource {
    ($group:expr, $kind:expr, $plural:expr, $singular:expr, $namespaced:expr, $short:expr, $verbs:expr, $subs:expr, $cats:expr) => {
        ResourceInfo {
            group: $group,
            version: "v1",
            kind: $kind,
            plural: $plural,
            singular: $singular,
            namespaced: $namespaced,
            short_names: $short,
            verbs: $verbs,
            subresources: $subs,
            categories: $cats,
        }
    };
}

const RBAC: &str = "rbac.authorization.k8s.io";

/// Every served resource, core group first, in the order discovery lists them.
pub static RESOURCES: &[ResourceInfo] = &[
    resource!(
        "",
        "ConfigMap",
        "configmaps",
        "configmap",
        true,
        &["cm"],
        ALL_VERBS,
        &[],
        &[]
    ),
    resource!(
        "",
        "Endpoints",
        "endpoints",
        "endpoints",
        true,
        &["ep"],
        ALL_VERBS,
        &[],
        &[]
    ),
    resource!(
        "",
        "Event",
        "events",
        "event",
        true,
        &["ev"],
        ALL_VERBS,
        &[],
        &[]
    ),
    resource!(
        "",
        "Namespace",
        "namespaces",
        "namespace",
        false,
        &["ns"],
        NAMESPACE_VERBS,
        &[status("Namespace")],
        &[]
    ),
    resource!(
        "",
        "Node",
        "nodes",
        "node",
        false,
        &["no"],
        ALL_VERBS,
        &[status("Node")],
        &[]
    ),
    resource!(
        "",
        "Pod",
        "pods",
        "pod",
        true,
        &["po"],
        ALL_VERBS,
        &[
            Subresource {
                name: "binding",
                group: None,
                version: None,
                kind: "Binding",
                verbs: &["create"]
            },
            Subresource {
                name: "eviction",
                group: Some("policy"),
                version: Some("v1"),
                kind: "Eviction",
                verbs: &["create"],
            },
            Subresource {
                name: "log",
                group: None,
                version: None,
                kind: "Pod",
                verbs: &["get"]
            },
            status("Pod"),
        ],
        &["all"]
    ),
    resource!(
        "",
        "Secret",
        "secrets",
        "secret",
        true,
        &[],
        ALL_VERBS,
        &[],
        &[]
    ),
    resource!(
        "",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        true,
        &["sa"],
        ALL_VERBS,
        &[],
        &[]
    ),
    resource!(
        "",
        "Service",
        "services",
        "service",
        true,
        &["svc"],
        ALL_VERBS,
        &[status("Service")],
        &["all"]
    ),
    resource!(
        "apps",
        "Deployment",
        "deployments",
        "deployment",
        true,
        &["deploy"],
        ALL_VERBS,
        &[SCALE, status("Deployment")],
        &["all"]
    ),
    resource!(
        "apps",
        "ReplicaSet",
        "replicasets",
        "replicaset",
        true,
        &["rs"],
        ALL_VERBS,
        &[SCALE, status("ReplicaSet")],
        &["all"]
    ),
    resource!(
        "coordination.k8s.io",
        "Lease",
        "leases",
        "lease",
        true,
        &[],
        ALL_VERBS,
        &[],
        &[]
    ),
    resource!(
        RBAC,
        "ClusterRoleBinding",
        "clusterrolebindings",
        "clusterrolebinding",
        false,
        &[],
        ALL_VERBS,
        &[],
        &[]
    ),
    resource!(
        RBAC,
        "ClusterRole",
        "clusterroles",
        "clusterrole",
        false,
        &[],
        ALL_VERBS,
        &[],
        &[]
    ),
    resource!(
        RBAC,
        "RoleBinding",
        "rolebindings",
        "rolebinding",
        true,
        &[],
        ALL_VERBS,
        &[],
        &[]
    ),
    resource!(
        RBAC,
        "Role",
        "roles",
        "role",
        true,
        &[],
        ALL_VERBS,
        &[],
        &[]
    ),
];

/// Served API groups other than core, in discovery order (each serves only `v1`).
pub const GROUPS: &[&str] = &["apps", "coordination.k8s.io", RBAC];

/// All served resources.
pub fn all() -> &'static [ResourceInfo] {
    RESOURCES
}

/// The resource with this plural in this group (the URL form: `("apps", "deployments")`).
pub fn by_plural(group: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.plural == plural)
}

/// The resource for an object's `apiVersion` and `kind` (`("apps/v1", "Deployment")`).
pub fn by_api_version_kind(api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    let (group, version) = split_api_version(api_version);
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// Resources of one group/version, or `None` when that group/version is not served.
pub fn by_group_version(group: &str, version: &str) -> Option<Vec<&'static ResourceInfo>> {
    let found: Vec<_> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    (!found.is_empty()).then_some(found)
}

/// Resources in a category (`all`), as `kubectl get all` expands it.
pub fn by_category(category: &str) -> Vec<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .filter(|r| r.categories.contains(&category))
        .collect()
}

/// Splits `apps/v1` into `("apps", "v1")` and `v1` into `("", "v1")`.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// Resolves what a user typed, as kubectl does: plural, singular, short name or kind,
/// case-insensitively, optionally qualified by group (`deploy.apps`,
/// `roles.rbac.authorization.k8s.io`).
pub fn resolve(name: &str) -> Result<&'static ResourceInfo, Error> {
    let lower = name.to_ascii_lowercase();
    let (res, group) = match lower.split_once('.') {
        Some((r, g)) => (r, Some(g)),
        None => (lower.as_str(), None),
    };
    RESOURCES
        .iter()
        .find(|r| {
            group.is_none_or(|g| g == r.group)
                && (r.plural == res
                    || r.singular == res
                    || r.kind.eq_ignore_ascii_case(res)
                    || r.short_names.contains(&res))
        })
        .ok_or_else(|| Error::UnknownResource(name.to_string()))
}

/// `GET /api`: the core group's versions. `server_address` is `host:port` as
/// clients should reach this server.
pub fn api_versions(server_address: &str) -> APIVersions {
    APIVersions {
        versions: vec!["v1".to_string()],
        server_address_by_client_cidrs: vec![ServerAddressByClientCIDR {
            client_cidr: "0.0.0.0/0".to_string(),
            server_address: server_address.to_string(),
        }],
    }
}

/// `GET /apis/<group>`: one named group.
pub fn api_group(name: &str) -> Option<APIGroup> {
    if !GROUPS.contains(&name) {
        return None;
    }
    let gv = GroupVersionForDiscovery {
        group_version: format!("{name}/v1"),
        version: "v1".to_string(),
    };
    Some(APIGroup {
        name: name.to_string(),
        preferred_version: Some(gv.clone()),
        versions: vec![gv],
        server_address_by_client_cidrs: None,
    })
}

/// `GET /apis`: every named group.
pub fn api_group_list() -> APIGroupList {
    APIGroupList {
        groups: GROUPS.iter().filter_map(|g| api_group(g)).collect(),
    }
}

/// `GET /api/v1` or `GET /apis/<group>/<version>`: the resources and subresources
/// of one group/version, or `None` (→ 404) when it is not served.
pub fn api_resource_list(group: &str, version: &str) -> Option<APIResourceList> {
    let resources = by_group_version(group, version)?;
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut entries = Vec::new();
    for r in resources {
        entries.push(r.api_resource());
        entries.extend(r.subresource_api_resources());
    }
    Some(APIResourceList {
        group_version,
        resources: entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolves_names_like_kubectl() {
        let cases = [
            ("po", "pods"),
            ("pod", "pods"),
            ("Pods", "pods"),
            ("Pod", "pods"),
            ("no", "nodes"),
            ("ns", "namespaces"),
            ("svc", "services"),
            ("ep", "endpoints"),
            ("endpoints", "endpoints"),
            ("cm", "configmaps"),
            ("sa", "serviceaccounts"),
            ("ev", "events"),
            ("rs", "replicasets"),
            ("deploy", "deployments"),
            ("deploy.apps", "deployments"),
            ("Deployment", "deployments"),
            ("lease", "leases"),
            ("clusterrolebindings", "clusterrolebindings"),
            ("roles.rbac.authorization.k8s.io", "roles"),
            ("secret", "secrets"),
        ];
        for (input, plural) in cases {
            assert_eq!(resolve(input).map(|r| r.plural), Ok(plural), "{input}");
        }
        for bad in ["", "foo", "deploy.core", "pods.apps", ".", "ñ"] {
            assert_eq!(
                resolve(bad),
                Err(Error::UnknownResource(bad.to_string())),
                "{bad}"
            );
        }
        assert_eq!(
            Error::UnknownResource("foo".into()).to_string(),
            "the server doesn't have a resource type \"foo\""
        );
    }

    #[test]
    fn lookups() {
        assert_eq!(
            by_plural("apps", "deployments").map(|r| r.kind),
            Some("Deployment")
        );
        assert_eq!(by_plural("", "deployments"), None);
        assert_eq!(
            by_api_version_kind("v1", "Pod").map(|r| r.plural),
            Some("pods")
        );
        assert_eq!(
            by_api_version_kind("rbac.authorization.k8s.io/v1", "Role").map(|r| r.plural),
            Some("roles")
        );
        assert_eq!(by_api_version_kind("apps/v1", "Pod"), None);
        assert_eq!(by_group_version("apps", "v1").map(|v| v.len()), Some(2));
        assert_eq!(by_group_version("apps", "v2"), None);
        let all: Vec<_> = by_category("all").iter().map(|r| r.plural).collect();
        assert_eq!(all, ["pods", "services", "deployments", "replicasets"]);
        let pods = resolve("po").unwrap();
        assert_eq!(pods.api_version(), "v1");
        assert_eq!(pods.group_resource(), "pods");
        assert_eq!(resolve("rs").unwrap().group_resource(), "replicasets.apps");
        assert_eq!(
            pods.subresource("eviction").and_then(|s| s.group),
            Some("policy")
        );
        assert!(pods.subresource("scale").is_none());
    }

    #[test]
    fn every_row_is_consistent() {
        for r in RESOURCES {
            assert_eq!(r.version, "v1");
            assert!(
                r.group.is_empty() || GROUPS.contains(&r.group),
                "{}",
                r.plural
            );
            assert_eq!(resolve(r.plural), Ok(r));
            assert_eq!(resolve(r.kind), Ok(r));
            assert_eq!(resolve(r.singular), Ok(r));
            for s in r.short_names {
                assert_eq!(resolve(s), Ok(r));
            }
        }
    }

    #[test]
    fn discovery_documents() {
        assert_eq!(
            serde_json::to_value(api_versions("10.0.0.1:6443")).unwrap(),
            json!({"kind": "APIVersions", "apiVersion": "v1", "versions": ["v1"],
                   "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}]})
        );
        let groups = serde_json::to_value(api_group_list()).unwrap();
        assert_eq!(groups["kind"], "APIGroupList");
        assert_eq!(
            groups["groups"][0],
            json!({"kind": "APIGroup", "apiVersion": "v1", "name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                   "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}})
        );
        assert_eq!(groups["groups"].as_array().map(Vec::len), Some(3));

        let apps = serde_json::to_value(api_resource_list("apps", "v1").unwrap()).unwrap();
        assert_eq!(apps["kind"], "APIResourceList");
        assert_eq!(apps["groupVersion"], "apps/v1");
        assert_eq!(
            apps["resources"][0],
            json!({"name": "deployments", "singularName": "deployment", "namespaced": true,
                   "kind": "Deployment", "shortNames": ["deploy"], "categories": ["all"],
                   "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]})
        );
        assert_eq!(
            apps["resources"][1],
            json!({"name": "deployments/scale", "singularName": "", "namespaced": true,
                   "group": "autoscaling", "version": "v1", "kind": "Scale",
                   "verbs": ["get", "patch", "update"]})
        );
        let core = api_resource_list("", "v1").unwrap();
        assert_eq!(core.group_version, "v1");
        let names: Vec<_> = core.resources.iter().map(|r| r.name.as_str()).collect();
        for n in [
            "pods",
            "pods/binding",
            "pods/eviction",
            "pods/log",
            "pods/status",
            "nodes/status",
            "services/status",
        ] {
            assert!(names.contains(&n), "{n}");
        }
        assert!(api_resource_list("batch", "v1").is_none());
        assert!(api_group("batch").is_none());
    }
}
