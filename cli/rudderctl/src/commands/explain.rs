//! `rudderctl explain TYPE[.FIELD...]`: a resource's field documentation, printed
//! as kubectl (1.27+) prints it from the API server's OpenAPI v3 document: the
//! KIND/VERSION header, then FIELD/DESCRIPTION/FIELDS with `<type>` and
//! `-required-` markers. The document comes from the `Api` service's `OpenApiV3`
//! call, the one REST serves at `/openapi/v3/...`. The rules (type names, which
//! descriptions are joined, how cycles stop `--recursive`, 76/78-column wrapping)
//! follow kubectl's plaintext template, so both tools print the same text.

use clap::Args;
use serde_json::{Map, Value};

use super::resolve;
use crate::error::Reported;
use crate::session::Session;

/// `explain` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct ExplainArgs {
    /// RESOURCE[.FIELD...], e.g. `pods.spec.containers`.
    pub field: String,
    /// Print the fields of fields, every level, names and types only.
    #[arg(long)]
    pub recursive: bool,
    /// The group/version to explain (default: the one the resource is served at).
    #[arg(long = "api-version")]
    pub api_version: Option<String>,
}

/// A group-version-resource, written as Go's `schema.GroupVersionResource` prints
/// it in kubectl's messages (`apps/v1, Resource=deployments`, `/v1, Resource=pods`).
struct Gvr<'a> {
    group: &'a str,
    version: &'a str,
    resource: &'a str,
}

impl std::fmt::Display for Gvr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}, Resource={}",
            self.group, self.version, self.resource
        )
    }
}

/// Runs `explain`.
pub async fn run(args: ExplainArgs, session: &mut Session<'_>) -> anyhow::Result<()> {
    let input = args.field.strip_suffix('.').unwrap_or(&args.field);
    let parts: Vec<&str> = input.split('.').collect();
    let info = match resolve(parts[0]) {
        Ok(info) => info,
        Err(e) => {
            // kubectl prints this one bare, without `error: ` (its no-match error path).
            session.eprint(&format!("{e}\n"));
            return Err(Reported.into());
        }
    };
    // `deployments.apps.spec`: a group after the resource is the group, not a field.
    let group_parts: Vec<&str> = info.group.split('.').collect();
    let fields = if !info.group.is_empty()
        && parts.len() > group_parts.len()
        && parts[1..=group_parts.len()] == group_parts[..]
    {
        &parts[group_parts.len() + 1..]
    } else {
        &parts[1..]
    };
    let (group, version) = match args.api_version.as_deref() {
        Some(gv) => match gv.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", gv),
        },
        None => (info.group, info.version),
    };
    let gvr = Gvr {
        group,
        version,
        resource: info.plural,
    };
    let document = match session.client()?.openapi_v3(group, version).await {
        Ok(document) => document,
        Err(e) if e.is_not_found() => anyhow::bail!("couldn't find resource for \"{gvr}\""),
        Err(e) => return Err(e.into()),
    };
    let Some(gvk) = kind_of(&document, &gvr) else {
        anyhow::bail!("GVR ({gvr}) not found in OpenAPI schema");
    };
    let mut header = String::new();
    let field = |name: &str| gvk.get(name).and_then(Value::as_str).unwrap_or_default();
    if !field("group").is_empty() {
        header.push_str(&format!("GROUP:      {}\n", field("group")));
    }
    header.push_str(&format!(
        "KIND:       {}\nVERSION:    {}\n\n",
        field("kind"),
        field("version")
    ));
    // As kubectl, the header is out before a missing field is found.
    session.print(&header);
    let Some(schema) = schema_of(&document, gvk) else {
        anyhow::bail!(
            "GVK {}/{}, Kind={} not found in OpenAPI schema",
            field("group"),
            field("version"),
            field("kind")
        );
    };
    let explainer = Explainer {
        document: &document,
        recursive: args.recursive,
    };
    let mut text = String::new();
    if !explainer.output(schema, fields, &[], &mut text) {
        let last = fields.last().copied().unwrap_or_default();
        anyhow::bail!("field \"{last}\" does not exist");
    }
    text.push('\n');
    session.print(&text);
    Ok(())
}

/// The kind a resource's operations name (`x-kubernetes-group-version-kind` of the
/// list or object path, cluster-scoped or namespaced), as kubectl looks it up.
fn kind_of<'d>(document: &'d Value, gvr: &Gvr<'_>) -> Option<&'d Map<String, Value>> {
    let prefix = if gvr.group.is_empty() {
        "/api".to_string()
    } else {
        format!("/apis/{}", gvr.group)
    };
    let (v, r) = (gvr.version, gvr.resource);
    let paths = [
        format!("{prefix}/{v}/{r}"),
        format!("{prefix}/{v}/{r}/{{name}}"),
        format!("{prefix}/{v}/namespaces/{{namespace}}/{r}"),
        format!("{prefix}/{v}/namespaces/{{namespace}}/{r}/{{name}}"),
    ];
    // The last path that has one wins, as in kubectl's template.
    paths
        .iter()
        .rev()
        .filter_map(|p| document["paths"].get(p))
        .filter_map(|item| {
            ["get", "post", "put", "patch", "delete"]
                .iter()
                .find_map(|m| {
                    item.get(*m)?
                        .get("x-kubernetes-group-version-kind")?
                        .as_object()
                })
        })
        .next()
}

/// The component schema declaring `gvk` (the first by name, as kubectl).
fn schema_of<'d>(document: &'d Value, gvk: &Map<String, Value>) -> Option<&'d Value> {
    let schemas = document.pointer("/components/schemas")?.as_object()?;
    let mut names: Vec<&String> = schemas.keys().collect();
    names.sort();
    names.into_iter().map(|n| &schemas[n]).find(|s| {
        s.get("x-kubernetes-group-version-kind")
            .and_then(Value::as_array)
            .is_some_and(|kinds| kinds.iter().any(|k| k.as_object() == Some(gvk)))
    })
}

/// Renders schemas of one document.
struct Explainer<'d> {
    document: &'d Value,
    recursive: bool,
}

fn object_schema(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
}

impl<'d> Explainer<'d> {
    /// The schema a `#/components/schemas/...` reference names.
    fn resolve_ref(&self, reference: &str) -> Option<&'d Value> {
        let fragment = reference.strip_prefix('#')?;
        let mut current = self.document;
        for key in fragment.split('/').filter(|k| !k.is_empty()) {
            current = current.get(key).filter(|v| v.is_object())?;
        }
        Some(current)
    }

    fn reference(schema: &Value) -> &str {
        schema
            .get("$ref")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The schema itself, or what its `$ref` names.
    fn resolved<'s>(&self, schema: &'s Value) -> &'s Value
    where
        'd: 's,
    {
        self.resolve_ref(Self::reference(schema)).unwrap_or(schema)
    }

    /// Follows `path` and appends the FIELD/DESCRIPTION/FIELDS of where it ends;
    /// false when a field on the way does not exist.
    fn output(&self, schema: &Value, path: &[&str], history: &[&str], out: &mut String) -> bool {
        let reference = Self::reference(schema);
        let resolved = self.resolved(schema);
        let mut history = history.to_vec();
        history.push(reference);
        let Some((first, rest)) = path.split_first() else {
            out.push_str("DESCRIPTION:\n");
            let mut description = String::new();
            self.description(resolved, &mut description);
            if description.is_empty() {
                description = "<empty>".to_string();
            }
            out.push_str(&indent(4, &wrap(76, &description)));
            out.push('\n');
            if let Some(docs) = external_docs(resolved, 0) {
                out.push('\n');
                out.push_str(&docs);
            }
            let mut fields = String::new();
            self.field_list(resolved, 1, &[], &mut fields);
            if !fields.is_empty() {
                out.push_str("FIELDS:\n");
                out.push_str(&fields);
            }
            return true;
        };
        if !reference.is_empty() && history[..history.len() - 1].contains(&reference) {
            return false;
        }
        if let Some(sub) = resolved.get("properties").and_then(|p| p.get(*first)) {
            if rest.is_empty() {
                out.push_str(&format!("FIELD: {first} <{}>\n", self.type_guess(sub)));
                out.push_str(&enum_long(sub));
                out.push_str("\n\n");
            }
            return self.output(sub, rest, &[], out);
        }
        if let Some(items) = object_schema(resolved.get("items")) {
            return self.output(items, path, &history, out);
        }
        if let Some(values) = object_schema(resolved.get("additionalProperties")) {
            return self.output(values, path, &history, out);
        }
        for alternative in all_of(resolved) {
            let mut text = String::new();
            if self.output(alternative, path, &history, &mut text) && !text.is_empty() {
                out.push_str(&text);
                return true;
            }
        }
        false
    }

    /// The schema's description, then those of what it wraps (`allOf`, items, map
    /// values), one per line.
    fn description(&self, schema: &Value, out: &mut String) {
        let schema = self.resolved(schema);
        if let Some(text) = schema.get("description").and_then(Value::as_str)
            && !text.is_empty()
        {
            out.push_str(text);
            out.push('\n');
        }
        for alternative in all_of(schema) {
            self.description(alternative, out);
        }
        if let Some(items) = object_schema(schema.get("items")) {
            self.description(items, out);
        }
        if let Some(values) = object_schema(schema.get("additionalProperties")) {
            self.description(values, out);
        }
    }

    /// The fields of a schema at `level` (indent 2 per level); with `--recursive`
    /// their fields too, a reference already on the path ending the descent.
    fn field_list(&self, schema: &Value, level: usize, history: &[&str], out: &mut String) {
        let reference = Self::reference(schema);
        if !reference.is_empty() && history.contains(&reference) {
            return;
        }
        let mut history = history.to_vec();
        history.push(reference);
        let resolved = self.resolved(schema);
        if let Some(properties) = resolved.get("properties").and_then(Value::as_object) {
            let mut names: Vec<&String> = properties.keys().collect();
            names.sort();
            for name in names {
                self.field_detail(resolved, name, level, out);
                if self.recursive {
                    self.field_list(&properties[name], level + 1, &history, out);
                }
            }
        }
        for alternative in all_of(resolved) {
            self.field_list(alternative, level, &history, out);
        }
        if let Some(items) = object_schema(resolved.get("items")) {
            self.field_list(items, level, &history, out);
        }
        if let Some(values) = object_schema(resolved.get("additionalProperties")) {
            self.field_list(values, level, &history, out);
        }
    }

    /// `name\t<type> -required-`, its enum, and (not recursive) its description.
    fn field_detail(&self, parent: &Value, name: &str, level: usize, out: &mut String) {
        let indent_by = level * 2;
        let field = &parent["properties"][name];
        let required = parent
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|n| n == name));
        out.push_str(&" ".repeat(indent_by));
        out.push_str(&format!("{name}\t<{}>", self.type_guess(field)));
        if required {
            out.push_str(" -required-");
        }
        out.push_str(&enum_short(field, indent_by));
        out.push('\n');
        if self.recursive {
            return;
        }
        let description = field
            .get("description")
            .and_then(Value::as_str)
            .filter(|d| !d.is_empty())
            .unwrap_or("<no description>");
        out.push_str(&indent(indent_by + 2, &wrap(78 - indent_by, description)));
        out.push('\n');
        if let Some(docs) = external_docs(field, indent_by + 2) {
            out.push('\n');
            out.push_str(&docs);
        }
        out.push('\n');
    }

    /// kubectl's type hint: `string`, `Object`, `[]Container`, `map[string]string`,
    /// a referenced object's short name, or the type of a referenced primitive.
    fn type_guess(&self, schema: &Value) -> String {
        if let Some(items) = object_schema(schema.get("items")) {
            return format!("[]{}", self.type_guess(items));
        }
        if let Some(values) = object_schema(schema.get("additionalProperties")) {
            return format!("map[string]{}", self.type_guess(values));
        }
        let all_of = all_of(schema);
        if all_of.len() == 1 && object_schema(schema.get("properties")).is_none() {
            return self.type_guess(&all_of[0]);
        }
        let reference = Self::reference(schema);
        if !reference.is_empty() {
            let ty = self
                .resolve_ref(reference)
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty());
            return match ty {
                Some(t) if t != "object" => t.to_string(),
                _ => {
                    let name = reference.rsplit('/').next().unwrap_or_default();
                    let short = name.rsplit('.').next().unwrap_or_default();
                    if short.is_empty() { "Object" } else { short }.to_string()
                }
            };
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("object") | None | Some("") => "Object".to_string(),
            Some(t) => t.to_string(),
        }
    }
}

/// A list-valued keyword of a schema (`allOf`, `enum`); empty when absent.
fn list<'v>(schema: &'v Value, keyword: &str) -> &'v [Value] {
    schema
        .get(keyword)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn all_of(schema: &Value) -> &[Value] {
    list(schema, "allOf")
}

/// One enum value as Go's template prints it (`""` for the empty string).
fn enum_value(value: &Value) -> String {
    match value {
        Value::String(s) if s.is_empty() => "\"\"".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn enum_values(schema: &Value) -> &[Value] {
    list(schema, "enum")
}

/// Under a FIELD line: `ENUM:` and one value per line.
fn enum_long(schema: &Value) -> String {
    let values = enum_values(schema);
    if values.is_empty() {
        return String::new();
    }
    let mut out = "ENUM:".to_string();
    for v in values {
        out.push_str("\n    ");
        out.push_str(&enum_value(v));
    }
    out
}

/// After a field's type: `enum: a, b, c, d, ....` (four at most) on its own line.
fn enum_short(schema: &Value, indent_by: usize) -> String {
    let values = enum_values(schema);
    if values.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = values.iter().take(4).map(enum_value).collect();
    let more = if values.len() > 4 { ", ...." } else { "" };
    format!(
        "\n{}enum: {}{more}",
        " ".repeat(indent_by),
        shown.join(", ")
    )
}

/// `EXTERNAL DOCS:` with the description and URL, indented by `by`.
fn external_docs(schema: &Value, by: usize) -> Option<String> {
    let docs = object_schema(schema.get("externalDocs"))?;
    let mut out = indent(by, "EXTERNAL DOCS:");
    out.push('\n');
    if let Some(d) = docs.get("description").and_then(Value::as_str) {
        out.push_str(&indent(by + 2, &wrap(76 - by, d)));
        out.push('\n');
    }
    if let Some(url) = docs.get("url").and_then(Value::as_str) {
        out.push_str(&indent(by + 2, &format!("URL: {url}")));
        out.push('\n');
    }
    Some(out)
}

/// Every line prefixed by `by` spaces (as kubectl's template: after each newline too).
fn indent(by: usize, text: &str) -> String {
    let pad = " ".repeat(by);
    format!("{pad}{}", text.replace('\n', &format!("\n{pad}")))
}

/// kubectl's `wrap`: greedy word wrapping at `limit` columns, line breaks kept,
/// a word longer than the limit left whole (go-wordwrap's rules).
fn wrap(limit: usize, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / limit.max(1));
    let mut line_len = 0usize;
    let mut spaces = String::new();
    let mut word = String::new();
    let len = |s: &str| s.chars().count();
    // Ending a line: trailing spaces are kept only while they fit.
    let flush = |out: &mut String, spaces: &str, word: &str, line_len: usize| {
        if !word.is_empty() || line_len + len(spaces) <= limit {
            out.push_str(spaces);
        }
        out.push_str(word);
    };
    for c in text.chars() {
        if c == '\n' {
            flush(&mut out, &spaces, &word, line_len);
            spaces.clear();
            word.clear();
            out.push('\n');
            line_len = 0;
        } else if c.is_whitespace() && c != '\u{a0}' {
            if spaces.is_empty() || !word.is_empty() {
                line_len += len(&spaces) + len(&word);
                out.push_str(&spaces);
                out.push_str(&word);
                spaces.clear();
                word.clear();
            }
            spaces.push(c);
        } else {
            word.push(c);
            if line_len + len(&spaces) + len(&word) > limit && len(&word) < limit {
                out.push('\n');
                line_len = 0;
                spaces.clear();
            }
        }
    }
    flush(&mut out, &spaces, &word, line_len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wraps_as_kubectl() {
        assert_eq!(wrap(10, "aaa bbb ccc ddd"), "aaa bbb\nccc ddd");
        assert_eq!(wrap(5, "abcdefgh ij"), "abcdefgh\nij");
        assert_eq!(wrap(76, "one.\ntwo\n"), "one.\ntwo\n");
        assert_eq!(indent(2, "a\nb"), "  a\n  b");
    }

    #[test]
    fn type_names() {
        let document = json!({"components": {"schemas": {
            "io.k8s.A": {"type": "object"},
            "io.k8s.Q": {"type": "string"},
        }}});
        let e = Explainer {
            document: &document,
            recursive: false,
        };
        let guess = |s: Value| e.type_guess(&s);
        assert_eq!(guess(json!({"type": "string"})), "string");
        assert_eq!(guess(json!({"type": "object"})), "Object");
        assert_eq!(guess(json!({})), "Object");
        assert_eq!(
            guess(json!({"items": {"$ref": "#/components/schemas/io.k8s.A"}})),
            "[]A"
        );
        assert_eq!(
            guess(json!({"additionalProperties": {"type": "string"}})),
            "map[string]string"
        );
        assert_eq!(
            guess(json!({"allOf": [{"$ref": "#/components/schemas/io.k8s.Q"}]})),
            "string"
        );
        assert_eq!(
            guess(json!({"$ref": "#/components/schemas/io.k8s.Missing"})),
            "Missing"
        );
    }

    #[test]
    fn fields_required_enums_and_cycles() {
        let document = json!({"components": {"schemas": {
            "io.k8s.Node": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string", "description": "The name."},
                "mode": {"type": "string", "enum": ["", "A", "B", "C", "D"]},
                "next": {"description": "The next node.",
                         "allOf": [{"$ref": "#/components/schemas/io.k8s.Node"}]},
            }},
        }}});
        let node = &document["components"]["schemas"]["io.k8s.Node"];
        let explain = |recursive: bool, path: &[&str]| {
            let e = Explainer {
                document: &document,
                recursive,
            };
            let mut out = String::new();
            e.output(node, path, &[], &mut out).then_some(out)
        };
        assert_eq!(
            explain(true, &[]).unwrap(),
            "DESCRIPTION:\n    <empty>\nFIELDS:\n  mode\t<string>\n  enum: \"\", A, B, C, ....\n  \
             name\t<string> -required-\n  next\t<Node>\n    mode\t<string>\n    enum: \"\", A, B, C, ....\n    \
             name\t<string> -required-\n    next\t<Node>\n"
        );
        let next = explain(false, &["next", "name"]).unwrap();
        assert!(next.starts_with("FIELD: name <string>\n\n\nDESCRIPTION:\n    The name.\n"));
        assert!(explain(false, &["next", "nope"]).is_none());
    }
}
