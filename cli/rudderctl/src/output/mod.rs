//! Everything `get` and friends print: `-o` formats, kubectl's tables, `-o name`,
//! YAML and JSON as kubectl writes them (sorted keys; JSON indented by four spaces).

pub mod age;
pub mod columns;
pub mod jsonpath;
pub mod progress;
pub mod tabwriter;
pub mod yaml;

use serde_json::{Value, json};

use jsonpath::JsonPath;

/// An `-o` value.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputFormat {
    /// No `-o`: the kind's columns.
    Table,
    /// `-o wide`.
    Wide,
    /// `-o yaml`.
    Yaml,
    /// `-o json`.
    Json,
    /// `-o name`: `deployment.apps/web`.
    Name,
    /// `-o jsonpath=TEMPLATE`.
    JsonPath(JsonPath),
    /// `-o custom-columns=HEADER:PATH,...`: headers and their paths.
    CustomColumns(Vec<(String, JsonPath)>),
}

impl OutputFormat {
    /// Parses an `-o` value; errors read as kubectl's.
    pub fn parse(value: Option<&str>) -> Result<OutputFormat, String> {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Ok(OutputFormat::Table);
        };
        let (name, arg) = match value.split_once('=') {
            Some((n, a)) => (n, Some(a)),
            None => (value, None),
        };
        match (name, arg) {
            ("wide", None) => Ok(OutputFormat::Wide),
            ("yaml", None) => Ok(OutputFormat::Yaml),
            ("json", None) => Ok(OutputFormat::Json),
            ("name", None) => Ok(OutputFormat::Name),
            ("jsonpath" | "jsonpath-as-json", Some(template)) => JsonPath::parse(template)
                .map(OutputFormat::JsonPath)
                .map_err(|e| format!("error parsing jsonpath {template}, {e}")),
            ("custom-columns", Some(spec)) => parse_custom_columns(spec),
            ("jsonpath" | "custom-columns", None) => Err(format!(
                "{name} template format specified but no template given"
            )),
            _ => Err(format!(
                "unable to match a printer suitable for the output format \"{value}\", allowed formats are: custom-columns,json,jsonpath,name,wide,yaml"
            )),
        }
    }

    /// Whether the format prints the kind's table (plain or wide).
    pub fn is_table(&self) -> bool {
        matches!(self, OutputFormat::Table | OutputFormat::Wide)
    }
}

fn parse_custom_columns(spec: &str) -> Result<OutputFormat, String> {
    let mut columns = Vec::new();
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        let (header, path) = part.split_once(':').ok_or_else(|| {
            format!("unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>")
        })?;
        let path = JsonPath::parse(&jsonpath::relaxed(path)).map_err(|e| e.to_string())?;
        columns.push((header.to_string(), path));
    }
    if columns.is_empty() {
        return Err("custom-columns format specified but no custom columns given".to_string());
    }
    Ok(OutputFormat::CustomColumns(columns))
}

/// `-o name` of one object: `pod/web`, `deployment.apps/web`.
pub fn resource_name(kind: &str, group: &str, object: &Value) -> String {
    format!(
        "{}/{}",
        columns::kind_prefix(kind, group),
        object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    )
}

/// The `List` kubectl prints for several objects in `-o yaml|json`.
pub fn list_of(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}})
}

/// YAML as kubectl prints it (see [`yaml`]).
pub fn to_yaml(value: &Value) -> String {
    yaml::to_string(value)
}

/// JSON as kubectl prints it: four-space indent, trailing newline.
pub fn to_json(value: &Value) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    if value.serialize(&mut ser).is_err() {
        return String::new();
    }
    let mut text = go_json_escapes(&String::from_utf8(buf).unwrap_or_default());
    text.push('\n');
    text
}

/// JSON text with the escapes Go's encoder adds, as kubectl prints it: `<`, `>`,
/// `&`, U+2028 and U+2029 as `\uXXXX`. They can only occur inside strings, so
/// replacing them in the text keeps it the same JSON.
pub fn go_json_escapes(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// The custom-columns table of `objects`.
pub fn custom_columns(
    columns: &[(String, JsonPath)],
    objects: &[Value],
    no_headers: bool,
) -> String {
    let mut text = String::new();
    if !no_headers {
        let header: Vec<&str> = columns.iter().map(|(h, _)| h.as_str()).collect();
        text.push_str(&header.join("\t"));
        text.push('\n');
    }
    for object in objects {
        let cells: Vec<String> = columns
            .iter()
            .map(|(_, path)| {
                let values = path.values(object);
                if values.is_empty() {
                    "<none>".to_string()
                } else {
                    values
                        .iter()
                        .map(jsonpath::display)
                        .collect::<Vec<_>>()
                        .join(",")
                }
            })
            .collect();
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    tabwriter::TABLE.format(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_formats_parse_like_kubectl() {
        assert_eq!(OutputFormat::parse(None).unwrap(), OutputFormat::Table);
        assert_eq!(
            OutputFormat::parse(Some("wide")).unwrap(),
            OutputFormat::Wide
        );
        assert!(matches!(
            OutputFormat::parse(Some("jsonpath={.a}")).unwrap(),
            OutputFormat::JsonPath(_)
        ));
        assert_eq!(
            OutputFormat::parse(Some("xml")).unwrap_err(),
            "unable to match a printer suitable for the output format \"xml\", allowed formats are: custom-columns,json,jsonpath,name,wide,yaml"
        );
        assert!(OutputFormat::parse(Some("custom-columns=NAME")).is_err());
    }

    #[test]
    fn custom_columns_join_values_and_mark_missing() {
        let OutputFormat::CustomColumns(columns) =
            OutputFormat::parse(Some("custom-columns=NAME:.metadata.name,IMAGES:.spec.containers[*].image,NODE:.spec.nodeName"))
                .unwrap()
        else {
            panic!("not custom columns");
        };
        let pod = json!({"metadata": {"name": "web"}, "spec": {"containers": [{"image": "nginx"}, {"image": "redis"}]}});
        assert_eq!(
            custom_columns(&columns, &[pod], false),
            "NAME   IMAGES        NODE\nweb    nginx,redis   <none>\n"
        );
    }

    #[test]
    fn json_and_yaml_look_like_kubectl() {
        let obj = json!({"metadata": {"name": "a"}, "kind": "Pod", "apiVersion": "v1"});
        assert_eq!(
            to_json(&obj),
            "{\n    \"apiVersion\": \"v1\",\n    \"kind\": \"Pod\",\n    \"metadata\": {\n        \"name\": \"a\"\n    }\n}\n"
        );
        assert_eq!(
            to_yaml(&list_of(vec![obj])),
            "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: a\nkind: List\nmetadata:\n  resourceVersion: \"\"\n"
        );
        assert_eq!(
            resource_name("Deployment", "apps", &json!({"metadata": {"name": "web"}})),
            "deployment.apps/web"
        );
    }
}
