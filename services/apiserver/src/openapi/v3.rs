//! `/openapi/v3/<api/v1 | apis/group/version>`: one OpenAPI 3.0 document per
//! group-version, with the operations of its resources and the schemas they
//! reference (`#/components/schemas/...`).

use rudder_api::resource;
use serde_json::{Map, Value, json};

use super::operations::{self, Operation, PATCH_CONTENT_TYPES, PathItem, RequestBody};
use super::schemas::{self, DEFINITIONS_PREFIX};

const COMPONENTS_PREFIX: &str = "#/components/schemas/";
const RESPONSE_TYPES: &[&str] = &["application/json", "application/yaml"];

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("{COMPONENTS_PREFIX}{name}")})
}

/// A Swagger 2.0 schema as OpenAPI 3 writes it: references under
/// `#/components/schemas/`, and a reference with siblings (a field's own
/// description) wrapped in `allOf`, as upstream's v3 documents do.
fn to_v3(value: &Value) -> Value {
    match value {
        Value::Object(obj) => {
            let mut out: Map<String, Value> = obj
                .iter()
                .filter(|(k, _)| k.as_str() != "$ref")
                .map(|(k, v)| (k.clone(), to_v3(v)))
                .collect();
            if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
                let target = r.replacen(DEFINITIONS_PREFIX, COMPONENTS_PREFIX, 1);
                if out.is_empty() {
                    out.insert("$ref".into(), json!(target));
                } else {
                    out.insert("allOf".into(), json!([{"$ref": target}]));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(to_v3).collect()),
        other => other.clone(),
    }
}

fn parameter(name: &str, location: &str, ty: &str, description: &str, required: bool) -> Value {
    let mut p = json!({"name": name, "in": location, "description": description,
                       "schema": {"type": ty, "uniqueItems": true}});
    if required {
        p["required"] = json!(true);
    }
    p
}

fn content(types: &[&str], schema: &Value) -> Value {
    Value::Object(
        types
            .iter()
            .map(|t| (t.to_string(), json!({"schema": schema})))
            .collect(),
    )
}

fn operation(op: &Operation) -> Value {
    let params: Vec<Value> = op
        .query
        .iter()
        .map(|(name, ty, description)| parameter(name, "query", ty, description, false))
        .collect();
    let ok =
        json!({"description": "OK", "content": content(RESPONSE_TYPES, &schema_ref(&op.response))});
    let mut responses = json!({"200": ok, "401": {"description": "Unauthorized"}});
    if op.created {
        responses["201"] = json!({"description": "Created", "content": content(RESPONSE_TYPES, &schema_ref(&op.response))});
    }
    let mut out = json!({
        "tags": [op.tag],
        "description": op.description,
        "operationId": op.id,
        "parameters": params,
        "responses": responses,
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": op.gvk.to_json(),
    });
    let body = match &op.body {
        Some(RequestBody::Object(def)) => {
            Some(json!({"required": true, "content": content(&["*/*"], &schema_ref(def))}))
        }
        Some(RequestBody::Patch) => Some(json!({"required": true,
            "content": content(PATCH_CONTENT_TYPES, &schema_ref(schemas::PATCH))})),
        Some(RequestBody::DeleteOptions) => {
            Some(json!({"content": content(&["*/*"], &schema_ref(schemas::DELETE_OPTIONS))}))
        }
        None => None,
    };
    if let Some(body) = body {
        out["requestBody"] = body;
    }
    out
}

fn path_item(item: &PathItem) -> Value {
    let mut out = Map::new();
    let params: Vec<Value> = item
        .path_params
        .iter()
        .map(|p| parameter(p, "path", "string", &format!("{p} of the resource"), true))
        .collect();
    out.insert("parameters".into(), json!(params));
    for op in &item.operations {
        out.insert(op.method.into(), operation(op));
    }
    Value::Object(out)
}

/// The OpenAPI 3.0 document of one group-version, or None when it is not served.
pub fn document(group: &str, version: &str, defs: &Map<String, Value>) -> Option<Value> {
    let resources = resource::by_group_version(group, version)?;
    let mut paths = Map::new();
    let mut roots = Vec::new();
    for r in resources {
        for item in operations::paths_of(r) {
            roots.extend(
                item.operations
                    .iter()
                    .flat_map(operations::referenced_definitions),
            );
            paths.insert(item.path.clone(), path_item(&item));
        }
    }
    let mut schemas: Map<String, Value> = schemas::closure(defs, roots)
        .into_iter()
        .filter_map(|name| defs.get(&name).map(|d| (name, to_v3(d))))
        .collect();
    // No single type, so kubectl explain names them (`<IntOrString>`), as upstream.
    schemas::extend(
        &mut schemas,
        schemas::INT_OR_STRING,
        json!({"oneOf": [{"type": "integer"}, {"type": "string"}]}),
    );
    schemas::extend(
        &mut schemas,
        schemas::QUANTITY,
        json!({"oneOf": [{"type": "string"}, {"type": "number"}]}),
    );
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": crate::rest::GIT_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_version_documents() {
        let defs = schemas::definitions();
        assert!(document("batch", "v1", &defs).is_none());
        let core = document("", "v1", &defs).unwrap();
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
        assert!(
            patch["requestBody"]["content"]["application/strategic-merge-patch+json"].is_object()
        );
        assert!(
            core["paths"]["/api/v1/namespaces"]["delete"].is_null(),
            "namespaces have no deletecollection"
        );

        let schemas = &core["components"]["schemas"];
        let container = &schemas["io.k8s.api.core.v1.Container"];
        assert!(
            container["properties"]["image"]["description"]
                .as_str()
                .unwrap()
                .starts_with("Container image name.")
        );
        // A reference with a description of its own is wrapped, as upstream.
        assert_eq!(
            container["properties"]["lifecycle"]["allOf"],
            json!([{"$ref": "#/components/schemas/io.k8s.api.core.v1.Lifecycle"}])
        );
        assert_eq!(
            schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]["items"],
            json!({"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"})
        );
        assert!(schemas["io.k8s.api.apps.v1.Deployment"].is_null());
        assert!(!core.to_string().contains("#/definitions/"));

        let apps = document("apps", "v1", &defs).unwrap();
        assert!(apps["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"].is_object());
        assert!(apps["components"]["schemas"]["io.k8s.api.autoscaling.v1.Scale"].is_object());
    }
}
