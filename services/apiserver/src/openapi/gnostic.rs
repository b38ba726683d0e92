//! The protobuf form of `/openapi/v2`: gnostic's `openapi.v2.Document` message
//! (github.com/google/gnostic, `openapiv2/OpenAPIv2.proto`), which kubectl and
//! client-go decode. Only the messages and fields we emit are declared, with
//! upstream's field numbers; vendor extensions are `NamedAny` whose `Any` carries
//! the value as YAML, as gnostic writes them.
//!
//! The document is converted from its JSON form, so both encodings say the same.

use serde_json::{Map, Value};

/// `openapi.v2.Document`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Document {
    #[prost(string, tag = "1")]
    pub swagger: String,
    #[prost(message, optional, tag = "2")]
    pub info: Option<Info>,
    #[prost(message, optional, tag = "8")]
    pub paths: Option<Paths>,
    #[prost(message, optional, tag = "9")]
    pub definitions: Option<Definitions>,
}

/// `openapi.v2.Info`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Info {
    #[prost(string, tag = "1")]
    pub title: String,
    #[prost(string, tag = "2")]
    pub version: String,
}

/// `openapi.v2.Paths`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Paths {
    #[prost(message, repeated, tag = "2")]
    pub path: Vec<NamedPathItem>,
}

/// `openapi.v2.NamedPathItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedPathItem {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<PathItem>,
}

/// `openapi.v2.PathItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PathItem {
    #[prost(message, optional, tag = "2")]
    pub get: Option<Operation>,
    #[prost(message, optional, tag = "3")]
    pub put: Option<Operation>,
    #[prost(message, optional, tag = "4")]
    pub post: Option<Operation>,
    #[prost(message, optional, tag = "5")]
    pub delete: Option<Operation>,
    #[prost(message, optional, tag = "8")]
    pub patch: Option<Operation>,
    #[prost(message, repeated, tag = "9")]
    pub parameters: Vec<ParametersItem>,
}

/// `openapi.v2.Operation`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Operation {
    #[prost(string, repeated, tag = "1")]
    pub tags: Vec<String>,
    #[prost(string, tag = "3")]
    pub description: String,
    #[prost(string, tag = "5")]
    pub operation_id: String,
    #[prost(string, repeated, tag = "6")]
    pub produces: Vec<String>,
    #[prost(string, repeated, tag = "7")]
    pub consumes: Vec<String>,
    #[prost(message, repeated, tag = "8")]
    pub parameters: Vec<ParametersItem>,
    #[prost(message, optional, tag = "9")]
    pub responses: Option<Responses>,
    #[prost(string, repeated, tag = "10")]
    pub schemes: Vec<String>,
    #[prost(message, repeated, tag = "13")]
    pub vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.ParametersItem` (only its `parameter` case).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ParametersItem {
    #[prost(message, optional, tag = "1")]
    pub parameter: Option<Parameter>,
}

/// `openapi.v2.Parameter`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Parameter {
    #[prost(oneof = "parameter::Oneof", tags = "1, 2")]
    pub oneof: Option<parameter::Oneof>,
}

/// The cases of [`Parameter`].
pub mod parameter {
    /// `Parameter.oneof`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Oneof {
        #[prost(message, boxed, tag = "1")]
        BodyParameter(Box<super::BodyParameter>),
        #[prost(message, tag = "2")]
        NonBodyParameter(super::NonBodyParameter),
    }
}

/// `openapi.v2.BodyParameter`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BodyParameter {
    #[prost(string, tag = "1")]
    pub description: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub r#in: String,
    #[prost(bool, tag = "4")]
    pub required: bool,
    #[prost(message, optional, tag = "5")]
    pub schema: Option<Schema>,
}

/// `openapi.v2.NonBodyParameter`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NonBodyParameter {
    #[prost(oneof = "non_body_parameter::Oneof", tags = "3, 4")]
    pub oneof: Option<non_body_parameter::Oneof>,
}

/// The cases of [`NonBodyParameter`] we emit.
pub mod non_body_parameter {
    /// `NonBodyParameter.oneof`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Oneof {
        #[prost(message, tag = "3")]
        QueryParameterSubSchema(super::QueryParameterSubSchema),
        #[prost(message, tag = "4")]
        PathParameterSubSchema(super::PathParameterSubSchema),
    }
}

/// `openapi.v2.QueryParameterSubSchema`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryParameterSubSchema {
    #[prost(bool, tag = "1")]
    pub required: bool,
    #[prost(string, tag = "2")]
    pub r#in: String,
    #[prost(string, tag = "3")]
    pub description: String,
    #[prost(string, tag = "4")]
    pub name: String,
    #[prost(string, tag = "6")]
    pub r#type: String,
    #[prost(bool, tag = "20")]
    pub unique_items: bool,
}

/// `openapi.v2.PathParameterSubSchema`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PathParameterSubSchema {
    #[prost(bool, tag = "1")]
    pub required: bool,
    #[prost(string, tag = "2")]
    pub r#in: String,
    #[prost(string, tag = "3")]
    pub description: String,
    #[prost(string, tag = "4")]
    pub name: String,
    #[prost(string, tag = "5")]
    pub r#type: String,
    #[prost(bool, tag = "19")]
    pub unique_items: bool,
}

/// `openapi.v2.Responses`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Responses {
    #[prost(message, repeated, tag = "1")]
    pub response_code: Vec<NamedResponseValue>,
}

/// `openapi.v2.NamedResponseValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedResponseValue {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<ResponseValue>,
}

/// `openapi.v2.ResponseValue` (only its `response` case).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResponseValue {
    #[prost(message, optional, tag = "1")]
    pub response: Option<Response>,
}

/// `openapi.v2.Response`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Response {
    #[prost(string, tag = "1")]
    pub description: String,
    #[prost(message, optional, tag = "2")]
    pub schema: Option<SchemaItem>,
}

/// `openapi.v2.SchemaItem` (only its `schema` case).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SchemaItem {
    #[prost(message, optional, tag = "1")]
    pub schema: Option<Schema>,
}

/// `openapi.v2.Definitions`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Definitions {
    #[prost(message, repeated, tag = "1")]
    pub additional_properties: Vec<NamedSchema>,
}

/// `openapi.v2.NamedSchema`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedSchema {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<Schema>,
}

/// `openapi.v2.Schema`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Schema {
    #[prost(string, tag = "1")]
    pub r#ref: String,
    #[prost(string, tag = "2")]
    pub format: String,
    #[prost(string, tag = "3")]
    pub title: String,
    #[prost(string, tag = "4")]
    pub description: String,
    #[prost(message, optional, tag = "5")]
    pub default: Option<Any>,
    #[prost(string, repeated, tag = "19")]
    pub required: Vec<String>,
    #[prost(message, repeated, tag = "20")]
    pub r#enum: Vec<Any>,
    #[prost(message, optional, tag = "21")]
    pub additional_properties: Option<AdditionalPropertiesItem>,
    #[prost(message, optional, tag = "22")]
    pub r#type: Option<TypeItem>,
    #[prost(message, optional, tag = "23")]
    pub items: Option<ItemsItem>,
    #[prost(message, repeated, tag = "24")]
    pub all_of: Vec<Schema>,
    #[prost(message, optional, tag = "25")]
    pub properties: Option<Properties>,
    #[prost(message, repeated, tag = "31")]
    pub vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.AdditionalPropertiesItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AdditionalPropertiesItem {
    #[prost(oneof = "additional_properties_item::Oneof", tags = "1, 2")]
    pub oneof: Option<additional_properties_item::Oneof>,
}

/// The cases of [`AdditionalPropertiesItem`].
pub mod additional_properties_item {
    /// `AdditionalPropertiesItem.oneof`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Oneof {
        #[prost(message, boxed, tag = "1")]
        Schema(Box<super::Schema>),
        #[prost(bool, tag = "2")]
        Boolean(bool),
    }
}

/// `openapi.v2.TypeItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeItem {
    #[prost(string, repeated, tag = "1")]
    pub value: Vec<String>,
}

/// `openapi.v2.ItemsItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ItemsItem {
    #[prost(message, repeated, tag = "1")]
    pub schema: Vec<Schema>,
}

/// `openapi.v2.Properties`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Properties {
    #[prost(message, repeated, tag = "1")]
    pub additional_properties: Vec<NamedSchema>,
}

/// `openapi.v2.NamedAny`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedAny {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<Any>,
}

/// `openapi.v2.Any` (the `yaml` form; `value`, a protobuf Any, is never set).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Any {
    #[prost(string, tag = "2")]
    pub yaml: String,
}

fn text(obj: &Map<String, Value>, key: &str) -> String {
    obj.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn strings(obj: &Map<String, Value>, key: &str) -> Vec<String> {
    obj.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn any(value: &Value) -> Any {
    Any {
        yaml: serde_norway::to_string(value).unwrap_or_default(),
    }
}

/// The `x-` keys of a JSON object, in order.
fn vendor_extensions(obj: &Map<String, Value>) -> Vec<NamedAny> {
    obj.iter()
        .filter(|(k, _)| k.starts_with("x-"))
        .map(|(k, v)| NamedAny {
            name: k.clone(),
            value: Some(any(v)),
        })
        .collect()
}

fn named_schemas(value: Option<&Value>) -> Vec<NamedSchema> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(name, s)| NamedSchema {
                    name: name.clone(),
                    value: Some(schema(s)),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A JSON schema as gnostic's `Schema`.
pub fn schema(value: &Value) -> Schema {
    let empty = Map::new();
    let obj = value.as_object().unwrap_or(&empty);
    let r#type = match obj.get("type") {
        Some(Value::String(t)) => Some(TypeItem {
            value: vec![t.clone()],
        }),
        Some(Value::Array(_)) => Some(TypeItem {
            value: strings(obj, "type"),
        }),
        _ => None,
    };
    let items = match obj.get("items") {
        Some(Value::Array(list)) => Some(ItemsItem {
            schema: list.iter().map(schema).collect(),
        }),
        Some(item @ Value::Object(_)) => Some(ItemsItem {
            schema: vec![schema(item)],
        }),
        _ => None,
    };
    let additional_properties = match obj.get("additionalProperties") {
        Some(Value::Bool(b)) => Some(additional_properties_item::Oneof::Boolean(*b)),
        Some(s @ Value::Object(_)) => Some(additional_properties_item::Oneof::Schema(Box::new(
            schema(s),
        ))),
        _ => None,
    }
    .map(|oneof| AdditionalPropertiesItem { oneof: Some(oneof) });
    Schema {
        r#ref: text(obj, "$ref"),
        format: text(obj, "format"),
        title: text(obj, "title"),
        description: text(obj, "description"),
        default: obj.get("default").map(any),
        required: strings(obj, "required"),
        r#enum: obj
            .get("enum")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(any).collect())
            .unwrap_or_default(),
        additional_properties,
        r#type,
        items,
        all_of: obj
            .get("allOf")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(schema).collect())
            .unwrap_or_default(),
        properties: obj.get("properties").map(|p| Properties {
            additional_properties: named_schemas(Some(p)),
        }),
        vendor_extension: vendor_extensions(obj),
    }
}

fn parameter(value: &Value) -> ParametersItem {
    let empty = Map::new();
    let obj = value.as_object().unwrap_or(&empty);
    let location = text(obj, "in");
    let oneof = match location.as_str() {
        "body" => parameter::Oneof::BodyParameter(Box::new(BodyParameter {
            description: text(obj, "description"),
            name: text(obj, "name"),
            r#in: location,
            required: obj.get("required") == Some(&Value::Bool(true)),
            schema: obj.get("schema").map(schema),
        })),
        "path" => parameter::Oneof::NonBodyParameter(NonBodyParameter {
            oneof: Some(non_body_parameter::Oneof::PathParameterSubSchema(
                PathParameterSubSchema {
                    required: true,
                    r#in: location,
                    description: text(obj, "description"),
                    name: text(obj, "name"),
                    r#type: text(obj, "type"),
                    unique_items: obj.get("uniqueItems") == Some(&Value::Bool(true)),
                },
            )),
        }),
        _ => parameter::Oneof::NonBodyParameter(NonBodyParameter {
            oneof: Some(non_body_parameter::Oneof::QueryParameterSubSchema(
                QueryParameterSubSchema {
                    required: obj.get("required") == Some(&Value::Bool(true)),
                    r#in: location,
                    description: text(obj, "description"),
                    name: text(obj, "name"),
                    r#type: text(obj, "type"),
                    unique_items: obj.get("uniqueItems") == Some(&Value::Bool(true)),
                },
            )),
        }),
    };
    ParametersItem {
        parameter: Some(Parameter { oneof: Some(oneof) }),
    }
}

fn parameters(value: Option<&Value>) -> Vec<ParametersItem> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().map(parameter).collect())
        .unwrap_or_default()
}

fn operation(value: Option<&Value>) -> Option<Operation> {
    let obj = value?.as_object()?;
    let responses = obj
        .get("responses")
        .and_then(Value::as_object)
        .map(|r| Responses {
            response_code: r
                .iter()
                .map(|(code, response)| NamedResponseValue {
                    name: code.clone(),
                    value: Some(ResponseValue {
                        response: Some(Response {
                            description: response["description"].as_str().unwrap_or("").to_string(),
                            schema: response.get("schema").map(|s| SchemaItem {
                                schema: Some(schema(s)),
                            }),
                        }),
                    }),
                })
                .collect(),
        });
    Some(Operation {
        tags: strings(obj, "tags"),
        description: text(obj, "description"),
        operation_id: text(obj, "operationId"),
        produces: strings(obj, "produces"),
        consumes: strings(obj, "consumes"),
        parameters: parameters(obj.get("parameters")),
        responses,
        schemes: strings(obj, "schemes"),
        vendor_extension: vendor_extensions(obj),
    })
}

/// The Swagger 2.0 document (JSON) as gnostic's `Document`.
pub fn document(doc: &Value) -> Document {
    let paths = doc["paths"].as_object().map(|paths| Paths {
        path: paths
            .iter()
            .map(|(name, item)| NamedPathItem {
                name: name.clone(),
                value: Some(PathItem {
                    get: operation(item.get("get")),
                    put: operation(item.get("put")),
                    post: operation(item.get("post")),
                    delete: operation(item.get("delete")),
                    patch: operation(item.get("patch")),
                    parameters: parameters(item.get("parameters")),
                }),
            })
            .collect(),
    });
    Document {
        swagger: doc["swagger"].as_str().unwrap_or("2.0").to_string(),
        info: Some(Info {
            title: doc["info"]["title"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            version: doc["info"]["version"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }),
        paths,
        definitions: Some(Definitions {
            additional_properties: named_schemas(doc.get("definitions")),
        }),
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use serde_json::json;

    use super::*;

    #[test]
    fn schemas_and_extensions_survive_the_wire() {
        let doc = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": {"/api/v1/namespaces/{namespace}/pods/{name}": {
                "parameters": [{"name": "namespace", "in": "path", "required": true, "type": "string"}],
                "patch": {"operationId": "patchCoreV1NamespacedPod",
                          "parameters": [{"name": "body", "in": "body", "required": true, "schema": {"$ref": "#/definitions/P"}},
                                         {"name": "dryRun", "in": "query", "type": "string", "uniqueItems": true}],
                          "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/P"}}},
                          "x-kubernetes-action": "patch",
                          "x-kubernetes-group-version-kind": {"group": "", "kind": "Pod", "version": "v1"}}}},
            "definitions": {"P": {"type": "object", "description": "a pod",
                "properties": {"labels": {"type": "object", "additionalProperties": {"type": "string"}},
                               "containers": {"type": "array", "items": {"$ref": "#/definitions/C"},
                                              "x-kubernetes-patch-merge-key": "name"}},
                "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}]}},
        });
        let bytes = document(&doc).encode_to_vec();
        let decoded = Document::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded.swagger, "2.0");
        let def = &decoded.definitions.unwrap().additional_properties[0];
        assert_eq!(def.name, "P");
        let p = def.value.as_ref().unwrap();
        assert_eq!(p.description, "a pod");
        assert_eq!(p.r#type.as_ref().unwrap().value, ["object"]);
        let gvk = &p.vendor_extension[0];
        assert_eq!(gvk.name, "x-kubernetes-group-version-kind");
        let yaml: Value = serde_norway::from_str(&gvk.value.as_ref().unwrap().yaml).unwrap();
        assert_eq!(yaml, json!([{"group": "", "kind": "Pod", "version": "v1"}]));
        let props = &p.properties.as_ref().unwrap().additional_properties;
        let containers = props.iter().find(|n| n.name == "containers").unwrap();
        let containers = containers.value.as_ref().unwrap();
        assert_eq!(
            containers.items.as_ref().unwrap().schema[0].r#ref,
            "#/definitions/C"
        );
        assert_eq!(
            containers.vendor_extension[0]
                .value
                .as_ref()
                .unwrap()
                .yaml
                .trim(),
            "name"
        );
        let labels = props.iter().find(|n| n.name == "labels").unwrap();
        assert!(matches!(
            labels.value.as_ref().unwrap().additional_properties.as_ref(),
            Some(AdditionalPropertiesItem { oneof: Some(additional_properties_item::Oneof::Schema(s)) })
                if s.r#type.as_ref().unwrap().value == ["string"]
        ));

        let item = &decoded.paths.unwrap().path[0];
        let patch = item.value.as_ref().unwrap().patch.as_ref().unwrap();
        assert_eq!(patch.operation_id, "patchCoreV1NamespacedPod");
        let names: Vec<String> = patch
            .parameters
            .iter()
            .map(
                |p| match p.parameter.as_ref().unwrap().oneof.as_ref().unwrap() {
                    parameter::Oneof::BodyParameter(b) => b.name.clone(),
                    parameter::Oneof::NonBodyParameter(n) => match n.oneof.as_ref().unwrap() {
                        non_body_parameter::Oneof::QueryParameterSubSchema(q) => q.name.clone(),
                        non_body_parameter::Oneof::PathParameterSubSchema(q) => q.name.clone(),
                    },
                },
            )
            .collect();
        assert_eq!(names, ["body", "dryRun"]);
        assert_eq!(patch.vendor_extension.len(), 2);
    }
}
