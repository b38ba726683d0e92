//! `/openapi/v2`: one Swagger 2.0 document for every served group-version, as
//! kube-apiserver serves it (kubectl's validation, `explain` fallback and older
//! kubectl versions read it, usually as protobuf, see `gnostic`).

use rudder_api::resource;
use serde_json::{Map, Value, json};

use super::operations::{self, Operation, PATCH_CONTENT_TYPES, PathItem, RequestBody};
use super::schemas::{self, reference};

const RESPONSE_TYPES: &[&str] = &["application/json", "application/yaml"];

fn operation(op: &Operation) -> Value {
    let mut params: Vec<Value> = Vec::new();
    let body = match &op.body {
        Some(RequestBody::Object(def)) => Some((reference(def), true)),
        Some(RequestBody::Patch) => Some((reference(schemas::PATCH), true)),
        Some(RequestBody::DeleteOptions) => Some((reference(schemas::DELETE_OPTIONS), false)),
        None => None,
    };
    if let Some((schema, required)) = body {
        params.push(json!({"name": "body", "in": "body", "required": required, "schema": schema}));
    }
    params.extend(op.query.iter().map(|(name, ty, description)| {
        json!({"name": name, "in": "query", "type": ty, "uniqueItems": true, "description": description})
    }));
    let consumes: &[&str] = match op.body {
        Some(RequestBody::Patch) => PATCH_CONTENT_TYPES,
        _ => &["*/*"],
    };
    let mut responses = json!({
        "200": {"description": "OK", "schema": reference(&op.response)},
        "401": {"description": "Unauthorized"},
    });
    if op.created {
        responses["201"] = json!({"description": "Created", "schema": reference(&op.response)});
    }
    json!({
        "description": op.description,
        "consumes": consumes,
        "produces": RESPONSE_TYPES,
        "schemes": ["https"],
        "tags": [op.tag],
        "operationId": op.id,
        "parameters": params,
        "responses": responses,
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": op.gvk.to_json(),
    })
}

fn path_item(item: &PathItem) -> Value {
    let mut out = Map::new();
    let params: Vec<Value> = item
        .path_params
        .iter()
        .map(|p| {
            json!({"name": p, "in": "path", "required": true, "type": "string", "uniqueItems": true,
                   "description": format!("{p} of the resource")})
        })
        .collect();
    out.insert("parameters".into(), json!(params));
    for op in &item.operations {
        out.insert(op.method.into(), operation(op));
    }
    Value::Object(out)
}

/// The Swagger 2.0 document of everything served.
pub fn document(defs: &Map<String, Value>) -> Value {
    let mut paths = Map::new();
    for r in resource::all() {
        for item in operations::paths_of(r) {
            paths.insert(item.path.clone(), path_item(&item));
        }
    }
    let mut defs = defs.clone();
    schemas::extend(
        &mut defs,
        schemas::INT_OR_STRING,
        json!({"type": "string", "format": "int-or-string"}),
    );
    schemas::extend(&mut defs, schemas::QUANTITY, json!({"type": "string"}));
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": crate::rest::GIT_VERSION},
        "paths": paths,
        "definitions": defs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_document_for_all_group_versions() {
        let doc = document(&schemas::definitions());
        assert_eq!(doc["swagger"], "2.0");
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(patch["operationId"], "patchAppsV1NamespacedDeployment");
        assert_eq!(patch["x-kubernetes-action"], "patch");
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "kind": "Deployment", "version": "v1"})
        );
        let params = patch["parameters"].as_array().unwrap();
        for name in ["body", "dryRun", "fieldManager", "fieldValidation", "force"] {
            assert!(params.iter().any(|p| p["name"] == name), "{name}");
        }
        assert!(doc["paths"]["/api/v1/nodes/{name}"]["get"].is_object());
        assert!(
            doc["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles"]["post"].is_object()
        );
        let pod = &doc["definitions"]["io.k8s.api.core.v1.Pod"];
        assert_eq!(
            pod["properties"]["spec"]["$ref"],
            "#/definitions/io.k8s.api.core.v1.PodSpec"
        );
        assert!(!doc.to_string().contains("#/components/"));
        let int_or_string = &doc["definitions"][schemas::INT_OR_STRING];
        assert_eq!(
            (&int_or_string["type"], &int_or_string["format"]),
            (&json!("string"), &json!("int-or-string"))
        );
    }
}
