//! The operations of every served resource, independent of the document format:
//! paths, upstream operation ids (`patchCoreV1NamespacedPod`), actions, query
//! parameters and body/response kinds. `v2` and `v3` render them.

use rudder_api::resource::ResourceInfo;

use super::schemas::{self, DELETE_OPTIONS, Gvk, PATCH, STATUS};

/// A query parameter: name, type (`string`, `integer`, `boolean`), description.
pub type QueryParam = (&'static str, &'static str, &'static str);

const DRY_RUN: QueryParam = (
    "dryRun",
    "string",
    "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
);
const FIELD_MANAGER: QueryParam = (
    "fieldManager",
    "string",
    "fieldManager is a name associated with the actor or entity that is making these changes.",
);
const FIELD_VALIDATION: QueryParam = (
    "fieldValidation",
    "string",
    "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: - Ignore, - Warn (the default), - Strict: fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present.",
);
const PRETTY: QueryParam = (
    "pretty",
    "string",
    "If 'true', then the output is pretty printed.",
);
const FORCE: QueryParam = (
    "force",
    "boolean",
    "Force is going to \"force\" Apply requests. It must be unset for non-apply patch requests.",
);
const GRACE_PERIOD: QueryParam = (
    "gracePeriodSeconds",
    "integer",
    "The duration in seconds before the object should be deleted.",
);
const PROPAGATION_POLICY: QueryParam = (
    "propagationPolicy",
    "string",
    "Whether and how garbage collection will be performed: Orphan, Background or Foreground.",
);
const LIST: &[QueryParam] = &[
    (
        "allowWatchBookmarks",
        "boolean",
        "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
    ),
    (
        "continue",
        "string",
        "The continue option should be set when retrieving more results from the server.",
    ),
    (
        "fieldSelector",
        "string",
        "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
    ),
    (
        "labelSelector",
        "string",
        "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
    ),
    (
        "limit",
        "integer",
        "limit is a maximum number of responses to return for a list call.",
    ),
    (
        "resourceVersion",
        "string",
        "resourceVersion sets a constraint on what resource versions a request may be served from.",
    ),
    (
        "resourceVersionMatch",
        "string",
        "resourceVersionMatch determines how resourceVersion is applied to list calls.",
    ),
    (
        "timeoutSeconds",
        "integer",
        "Timeout for the list/watch call.",
    ),
    (
        "watch",
        "boolean",
        "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
    ),
];

/// What an operation's request body is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestBody {
    /// An object of the named definition (`*/*`).
    Object(String),
    /// A patch document, in any of the four patch media types.
    Patch,
    /// DeleteOptions, optional.
    DeleteOptions,
}

/// The media types a PATCH accepts.
pub const PATCH_CONTENT_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

/// One operation of one path.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `get`, `post`, `put`, `patch`, `delete`.
    pub method: &'static str,
    /// Upstream's operation id.
    pub id: String,
    /// `x-kubernetes-action`: get, list, post, put, patch, delete, deletecollection.
    pub action: &'static str,
    /// One line saying what it does.
    pub description: String,
    /// The kind it acts on (`x-kubernetes-group-version-kind`).
    pub gvk: Gvk,
    /// Query parameters.
    pub query: Vec<QueryParam>,
    /// The request body, if any.
    pub body: Option<RequestBody>,
    /// The definition of the success response.
    pub response: String,
    /// The status code of the success response besides 200 (201 for create).
    pub created: bool,
    /// The tag upstream groups operations by (`core_v1`, `apps_v1`).
    pub tag: String,
}

/// A path and its operations; `path_params` are `namespace`/`name` as they occur.
#[derive(Debug, Clone)]
pub struct PathItem {
    /// `/api/v1/namespaces/{namespace}/pods/{name}`.
    pub path: String,
    /// The path's parameters, in order.
    pub path_params: Vec<&'static str>,
    /// Its operations.
    pub operations: Vec<Operation>,
}

/// `api/v1` or `apis/apps/v1`.
pub fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Upstream-style operation id stem: `CoreV1`, `AppsV1`, `RbacAuthorizationV1`.
fn id_stem(group: &str, version: &str) -> String {
    let group = if group.is_empty() { "core" } else { group };
    let mut out = String::new();
    let parts = group.trim_end_matches(".k8s.io").split(['.', '-']);
    for part in parts.chain([version]).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

fn tag(r: &ResourceInfo) -> String {
    let group = if r.group.is_empty() { "core" } else { r.group };
    format!(
        "{}_{}",
        group.trim_end_matches(".k8s.io").replace('.', "_"),
        r.version
    )
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Every path of a resource: the collection, the object, its status and scale
/// subresources, and (for namespaced resources) the all-namespaces list.
pub fn paths_of(r: &ResourceInfo) -> Vec<PathItem> {
    let gv = gv_path(r.group, r.version);
    let stem = id_stem(r.group, r.version);
    let scope = if r.namespaced { "Namespaced" } else { "" };
    let prefix = if r.namespaced {
        format!("/{gv}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("/{gv}/{}", r.plural)
    };
    let ns_params: Vec<&'static str> = if r.namespaced {
        vec!["namespace"]
    } else {
        vec![]
    };
    let kind_def = schemas::definition_name(r.group, r.version, r.kind);
    let list_kind = format!("{}List", r.kind);
    let has = |verb: &str| r.verbs.contains(&verb);
    let op =
        |method, action, id: String, description: String, kind: &str, response: String| Operation {
            method,
            id,
            action,
            description,
            gvk: Gvk {
                group: r.group,
                version: r.version,
                kind: kind.to_string(),
            },
            query: vec![PRETTY],
            body: None,
            response,
            created: false,
            tag: tag(r),
        };
    let writes = |mut o: Operation, body: RequestBody| {
        o.query.extend([DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION]);
        o.body = Some(body);
        o
    };
    let deletes = |mut o: Operation| {
        o.query.extend([DRY_RUN, GRACE_PERIOD, PROPAGATION_POLICY]);
        o.body = Some(RequestBody::DeleteOptions);
        o
    };
    let list_op = |id: String| {
        let mut o = op(
            "get",
            "list",
            id,
            format!("list or watch objects of kind {}", r.kind),
            r.kind,
            schemas::definition_name(r.group, r.version, &list_kind),
        );
        o.query.extend_from_slice(LIST);
        o
    };

    let mut collection = Vec::new();
    if has("list") {
        collection.push(list_op(format!("list{stem}{scope}{}", r.kind)));
    }
    if has("create") {
        let mut o = writes(
            op(
                "post",
                "post",
                format!("create{stem}{scope}{}", r.kind),
                format!("create a {}", r.kind),
                r.kind,
                kind_def.clone(),
            ),
            RequestBody::Object(kind_def.clone()),
        );
        o.created = true;
        collection.push(o);
    }
    if has("deletecollection") {
        let mut o = deletes(op(
            "delete",
            "deletecollection",
            format!("deletecollection{stem}{scope}{}", r.kind),
            format!("delete collection of {}", r.kind),
            r.kind,
            STATUS.to_string(),
        ));
        o.query.extend_from_slice(LIST);
        collection.push(o);
    }

    let item_ops =
        |sub: &str, kind: &str, group: &'static str, version: &'static str, verbs: &[&str]| {
            let sub_id = capitalized(sub);
            let def = schemas::definition_name(group, version, kind);
            let what = if sub.is_empty() {
                format!("the specified {}", r.kind)
            } else {
                format!("{sub} of the specified {}", r.kind)
            };
            let mut ops = Vec::new();
            let with_gvk = |mut o: Operation| {
                o.gvk = Gvk {
                    group,
                    version,
                    kind: kind.to_string(),
                };
                o
            };
            if verbs.contains(&"get") {
                ops.push(with_gvk(op(
                    "get",
                    "get",
                    format!("read{stem}{scope}{}{sub_id}", r.kind),
                    format!("read {what}"),
                    kind,
                    def.clone(),
                )));
            }
            if verbs.contains(&"update") {
                ops.push(with_gvk(writes(
                    op(
                        "put",
                        "put",
                        format!("replace{stem}{scope}{}{sub_id}", r.kind),
                        format!("replace {what}"),
                        kind,
                        def.clone(),
                    ),
                    RequestBody::Object(def.clone()),
                )));
            }
            if verbs.contains(&"patch") {
                let mut o = writes(
                    op(
                        "patch",
                        "patch",
                        format!("patch{stem}{scope}{}{sub_id}", r.kind),
                        format!("partially update {what}"),
                        kind,
                        def.clone(),
                    ),
                    RequestBody::Patch,
                );
                o.query.push(FORCE);
                ops.push(with_gvk(o));
            }
            if sub.is_empty() && verbs.contains(&"delete") {
                ops.push(deletes(op(
                    "delete",
                    "delete",
                    format!("delete{stem}{scope}{}", r.kind),
                    format!("delete a {}", r.kind),
                    kind,
                    def.clone(),
                )));
            }
            ops
        };

    let mut item_params = ns_params.clone();
    item_params.insert(0, "name");
    let mut out = vec![
        PathItem {
            path: prefix.clone(),
            path_params: ns_params,
            operations: collection,
        },
        PathItem {
            path: format!("{prefix}/{{name}}"),
            path_params: item_params.clone(),
            operations: item_ops("", r.kind, r.group, r.version, r.verbs),
        },
    ];
    for s in r
        .subresources
        .iter()
        .filter(|s| matches!(s.name, "status" | "scale"))
    {
        out.push(PathItem {
            path: format!("{prefix}/{{name}}/{}", s.name),
            path_params: item_params.clone(),
            operations: item_ops(
                s.name,
                s.kind,
                s.group.unwrap_or(r.group),
                s.version.unwrap_or(r.version),
                s.verbs,
            ),
        });
    }
    if r.namespaced && has("list") {
        out.push(PathItem {
            path: format!("/{gv}/{}", r.plural),
            path_params: vec![],
            operations: vec![list_op(format!("list{stem}{}ForAllNamespaces", r.kind))],
        });
    }
    out
}

/// The definitions an operation's body and response name.
pub fn referenced_definitions(op: &Operation) -> Vec<String> {
    let mut out = vec![op.response.clone()];
    match &op.body {
        Some(RequestBody::Object(def)) => out.push(def.clone()),
        Some(RequestBody::Patch) => out.push(PATCH.to_string()),
        Some(RequestBody::DeleteOptions) => out.push(DELETE_OPTIONS.to_string()),
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_api::resource;

    #[test]
    fn upstream_operation_ids() {
        let pods = resource::by_plural("", "pods").unwrap();
        let paths = paths_of(pods);
        let ids: Vec<(&str, &str)> = paths
            .iter()
            .flat_map(|p| {
                p.operations
                    .iter()
                    .map(|o| (p.path.as_str(), o.id.as_str()))
            })
            .collect();
        for want in [
            (
                "/api/v1/namespaces/{namespace}/pods",
                "listCoreV1NamespacedPod",
            ),
            (
                "/api/v1/namespaces/{namespace}/pods",
                "createCoreV1NamespacedPod",
            ),
            (
                "/api/v1/namespaces/{namespace}/pods/{name}",
                "patchCoreV1NamespacedPod",
            ),
            (
                "/api/v1/namespaces/{namespace}/pods/{name}/status",
                "readCoreV1NamespacedPodStatus",
            ),
            ("/api/v1/pods", "listCoreV1PodForAllNamespaces"),
        ] {
            assert!(ids.contains(&want), "{want:?} not in {ids:?}");
        }
        let deployments = resource::by_plural("apps", "deployments").unwrap();
        let scale = paths_of(deployments)
            .into_iter()
            .find(|p| p.path.ends_with("/scale"))
            .unwrap();
        let patch = scale
            .operations
            .iter()
            .find(|o| o.method == "patch")
            .unwrap();
        assert_eq!(patch.id, "patchAppsV1NamespacedDeploymentScale");
        assert_eq!(
            (patch.gvk.group, patch.gvk.kind.as_str()),
            ("autoscaling", "Scale")
        );
        let roles = resource::by_plural("rbac.authorization.k8s.io", "clusterroles").unwrap();
        assert!(
            paths_of(roles)
                .iter()
                .flat_map(|p| &p.operations)
                .any(|o| o.id == "readRbacAuthorizationV1ClusterRole")
        );
    }
}
