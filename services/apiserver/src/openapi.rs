//! `/openapi/v3`: the root index and one OpenAPI 3.0 document per group-version,
//! generated from the resource table. Each document lists every operation of every
//! served resource with kube-apiserver's operation ids, query parameters and
//! `x-kubernetes-group-version-kind` / `x-kubernetes-action` extensions, which is
//! what kubectl reads to learn that the server validates fields
//! (`fieldValidation`) and supports `dryRun`, so `kubectl create/apply` need no
//! `--validate=false` and `--dry-run=server` works.
//!
//! Schemas are not generated yet (components are generic objects): `kubectl
//! explain` needs them, and `/openapi/v2` (protobuf) is not served; see the crate
//! notes. TODO(api): the schema table belongs in rudder_api once it has one.

use rudder_api::resource::{self, ResourceInfo};
use serde_json::{Map, Value, json};

/// The path of a group-version in the v3 index: `api/v1`, `apis/apps/v1`.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Upstream-style operation id stem: `CoreV1`, `AppsV1`, `RbacAuthorizationV1`.
fn op_group(group: &str, version: &str) -> String {
    let group = if group.is_empty() { "core" } else { group };
    let mut out = String::new();
    for part in group
        .trim_end_matches(".k8s.io")
        .split(['.', '-'])
        .filter(|p| !p.is_empty())
    {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    let mut v = version.chars();
    if let Some(first) = v.next() {
        out.extend(first.to_uppercase());
        out.push_str(v.as_str());
    }
    out
}

fn query(name: &str, kind: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": kind, "uniqueItems": true}})
}

fn path_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": format!("{name} of the resource"),
           "schema": {"type": "string", "uniqueItems": true}})
}

fn write_params() -> Vec<Value> {
    vec![
        query(
            "dryRun",
            "string",
            "When present, indicates that modifications should not be persisted. Valid value: All",
        ),
        query(
            "fieldManager",
            "string",
            "a name associated with the actor or entity that is making these changes",
        ),
        query(
            "fieldValidation",
            "string",
            "how the server handles unknown or duplicate fields: Ignore, Warn or Strict",
        ),
        query(
            "pretty",
            "string",
            "If 'true', then the output is pretty printed.",
        ),
    ]
}

fn list_params() -> Vec<Value> {
    vec![
        query(
            "allowWatchBookmarks",
            "boolean",
            "requests watch events with type BOOKMARK",
        ),
        query("continue", "string", "continue token of a paginated list"),
        query(
            "fieldSelector",
            "string",
            "a selector restricting the list by fields",
        ),
        query(
            "labelSelector",
            "string",
            "a selector restricting the list by labels",
        ),
        query("limit", "integer", "maximum number of items to return"),
        query(
            "resourceVersion",
            "string",
            "which resource versions the request may be served from",
        ),
        query(
            "resourceVersionMatch",
            "string",
            "how resourceVersion is applied",
        ),
        query(
            "timeoutSeconds",
            "integer",
            "timeout of the list/watch call",
        ),
        query("watch", "boolean", "watch for changes"),
    ]
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn operation(
    action: &str,
    id: String,
    r: &ResourceInfo,
    kind: &str,
    params: Vec<Value>,
    body: Option<&str>,
) -> Value {
    let mut op = json!({
        "operationId": id,
        "tags": [op_tag(r)],
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref(&schema_name(r, kind))}}},
                      "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": kind},
    });
    if let Some(content_type) = body {
        op["requestBody"] = json!({"required": true, "content": {content_type: {"schema": schema_ref(&schema_name(r, kind))}}});
    }
    op
}

fn op_tag(r: &ResourceInfo) -> String {
    let group = if r.group.is_empty() { "core" } else { r.group };
    format!(
        "{}_{}",
        group.trim_end_matches(".k8s.io").replace('.', "_"),
        r.version
    )
}

/// Upstream's schema names: `io.k8s.api.core.v1.Pod`, `io.k8s.api.apps.v1.Deployment`.
fn schema_name(r: &ResourceInfo, kind: &str) -> String {
    let group = match r.group {
        "" => "core",
        g => g.trim_end_matches(".k8s.io"),
    };
    if kind.ends_with("List") && kind != r.kind {
        return format!("io.k8s.api.{group}.{}.{kind}", r.version);
    }
    format!("io.k8s.api.{group}.{}.{kind}", r.version)
}

fn paths_of(r: &ResourceInfo, paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    let gv = gv_path(r.group, r.version);
    let stem = op_group(r.group, r.version);
    let scope = if r.namespaced { "Namespaced" } else { "" };
    let (collection, item) = if r.namespaced {
        (
            format!("/{gv}/namespaces/{{namespace}}/{}", r.plural),
            format!("/{gv}/namespaces/{{namespace}}/{}/{{name}}", r.plural),
        )
    } else {
        (
            format!("/{gv}/{}", r.plural),
            format!("/{gv}/{}/{{name}}", r.plural),
        )
    };
    let list_kind = format!("{}List", r.kind);
    let mut coll_params = vec![];
    if r.namespaced {
        coll_params.push(path_param("namespace"));
    }
    let mut item_params = coll_params.clone();
    item_params.push(path_param("name"));

    let has = |verb: &str| r.verbs.contains(&verb);
    let mut coll = Map::new();
    coll.insert("parameters".into(), json!(coll_params));
    if has("list") {
        coll.insert(
            "get".into(),
            operation(
                "list",
                format!("list{stem}{scope}{}", r.kind),
                r,
                &list_kind,
                list_params(),
                None,
            ),
        );
    }
    if has("create") {
        coll.insert(
            "post".into(),
            operation(
                "post",
                format!("create{stem}{scope}{}", r.kind),
                r,
                r.kind,
                write_params(),
                Some("*/*"),
            ),
        );
    }
    if has("deletecollection") {
        let mut params = list_params();
        params.extend(write_params());
        coll.insert(
            "delete".into(),
            operation(
                "deletecollection",
                format!("deletecollection{stem}{scope}{}", r.kind),
                r,
                r.kind,
                params,
                None,
            ),
        );
    }
    paths.insert(collection, Value::Object(coll));

    let mut it = Map::new();
    it.insert("parameters".into(), json!(item_params));
    it.insert(
        "get".into(),
        operation(
            "get",
            format!("read{stem}{scope}{}", r.kind),
            r,
            r.kind,
            vec![],
            None,
        ),
    );
    it.insert(
        "put".into(),
        operation(
            "put",
            format!("replace{stem}{scope}{}", r.kind),
            r,
            r.kind,
            write_params(),
            Some("*/*"),
        ),
    );
    let mut patch_params = write_params();
    patch_params.push(query("force", "boolean", "force apply requests"));
    it.insert(
        "patch".into(),
        operation(
            "patch",
            format!("patch{stem}{scope}{}", r.kind),
            r,
            r.kind,
            patch_params,
            Some("application/strategic-merge-patch+json"),
        ),
    );
    it.insert(
        "delete".into(),
        operation(
            "delete",
            format!("delete{stem}{scope}{}", r.kind),
            r,
            r.kind,
            write_params(),
            None,
        ),
    );
    paths.insert(item, Value::Object(it));

    // Until schemas are generated: open objects, so clients that look them up
    // find the kind and accept any field.
    for kind in [r.kind, list_kind.as_str()] {
        schemas.insert(
            schema_name(r, kind),
            json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                   "x-kubernetes-group-version-kind": [{"group": r.group, "version": r.version, "kind": kind}]}),
        );
    }
}

/// The OpenAPI 3.0 document of one group-version, or None when it is not served.
pub fn group_version_document(group: &str, version: &str) -> Option<Value> {
    let resources = resource::by_group_version(group, version)?;
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for r in resources {
        paths_of(r, &mut paths, &mut schemas);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": crate::rest::GIT_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// A stable content hash (FNV-1a, hex) clients cache documents by.
fn hash(value: &Value) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016X}")
}

/// `/openapi/v3`: where each group-version's document lives.
pub fn root_index() -> Value {
    let mut paths = Map::new();
    let mut gvs: Vec<(&str, &str)> = vec![("", "v1")];
    gvs.extend(resource::GROUPS.iter().map(|g| (*g, "v1")));
    for (group, version) in gvs {
        if let Some(doc) = group_version_document(group, version) {
            let path = gv_path(group, version);
            paths.insert(
                path.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", hash(&doc))}),
            );
        }
    }
    json!({"paths": paths})
}

/// The document a `/openapi/v3/...` path names (`api/v1`, `apis/apps/v1`).
pub fn document_for_path(path: &str) -> Option<Value> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["api", version] => group_version_document("", version),
        ["apis", group, version] => group_version_document(group, version),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_documents() {
        let root = root_index();
        let url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
        assert!(root["paths"]["api/v1"].is_object());
        assert!(document_for_path("apis/batch/v1").is_none());
        assert!(document_for_path("nope").is_none());

        let core = document_for_path("api/v1").unwrap();
        let patch = &core["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"];
        assert_eq!(patch["operationId"], "patchCoreV1NamespacedConfigMap");
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "", "version": "v1", "kind": "ConfigMap"})
        );
        let names: Vec<_> = patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"fieldValidation") && names.contains(&"dryRun"));
        assert!(core["paths"]["/api/v1/nodes/{name}"]["patch"].is_object());
        assert!(
            core["paths"]["/api/v1/namespaces"]["delete"].is_null(),
            "namespaces have no deletecollection"
        );

        let rbac = document_for_path("/apis/rbac.authorization.k8s.io/v1").unwrap();
        assert_eq!(
            rbac["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"]["get"]["operationId"],
            "readRbacAuthorizationV1ClusterRole"
        );
        assert!(core["components"]["schemas"]["io.k8s.api.core.v1.Pod"].is_object());
    }
}
