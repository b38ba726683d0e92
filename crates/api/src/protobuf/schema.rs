//! The message layouts the decoder knows, read once from `schema.txt` (whose header
//! describes the notation).

use std::collections::HashMap;
use std::sync::OnceLock;

const SCHEMA: &str = include_str!("schema.txt");

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// UTF-8 string.
    String,
    /// Bytes, base64 in JSON.
    Bytes,
    /// Varint read as a signed 32-bit number.
    Int32,
    /// Varint read as a signed 64-bit number.
    Int64,
    /// Varint 0 or 1.
    Bool,
    /// meta/v1 Time: seconds precision, `null` when zero.
    Time,
    /// meta/v1 MicroTime: microseconds precision, `null` when zero.
    MicroTime,
    /// resource.Quantity: its canonical string.
    Quantity,
    /// intstr.IntOrString: a number or a string.
    IntOrString,
    /// RawExtension / FieldsV1: JSON bytes, embedded as JSON.
    RawJson,
    /// A message wrapping a list of strings (authorization's ExtraValue).
    StringList,
    /// Another message of the schema, by name.
    Message(&'static str),
}

/// How many values a field holds and when it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One value; a zero scalar is left out (Go's `omitempty`).
    OmitZero,
    /// One value, written even when zero (`?` Go pointers, `!` required fields).
    Always,
    /// A JSON array.
    Repeated,
    /// A JSON object of string keys (map entries: key 1, value 2).
    Map,
    /// A message whose fields are written into the parent object.
    Inline,
}

/// One field of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Field number on the wire.
    pub number: u32,
    /// Name in the JSON form.
    pub name: &'static str,
    /// How many values, and when they are written.
    pub shape: Shape,
    /// The value type (of the elements, for repeated fields and maps).
    pub ty: Type,
}

/// One message: its package, name and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Proto package (`k8s.io.api.core.v1`).
    pub package: &'static str,
    /// Message name (`Container`).
    pub name: &'static str,
    /// Whether it is a top-level object (a kind).
    pub kind: bool,
    /// Fields, in schema order.
    pub fields: Vec<Field>,
}

impl Message {
    /// The field numbered `number`.
    pub fn field(&self, number: u32) -> Option<&Field> {
        self.fields.iter().find(|f| f.number == number)
    }

    /// `k8s.io.api.core.v1.Container`.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.package, self.name)
    }
}

/// Every message, by name (names are unique across the packages kept here).
#[derive(Debug)]
pub struct Schema {
    messages: HashMap<&'static str, Message>,
}

impl Schema {
    /// The message called `name`.
    pub fn message(&self, name: &str) -> Option<&Message> {
        self.messages.get(name)
    }

    /// The top-level message for `apiVersion` and `kind`: `apps/v1` maps to the
    /// package `k8s.io.api.apps.v1`, `rbac.authorization.k8s.io/v1` to `…rbac.v1`, `v1`
    /// to `…core.v1` (the package is named after the group's first label).
    pub fn kind(&self, api_version: &str, kind: &str) -> Option<&Message> {
        let package = match api_version.split_once('/') {
            Some((group, version)) => {
                let label = group.split('.').next().unwrap_or(group);
                format!("k8s.io.api.{label}.{version}")
            }
            None => format!("k8s.io.api.core.{api_version}"),
        };
        self.messages
            .get(kind)
            .filter(|m| m.kind && m.package == package)
    }
}

/// The schema of `schema.txt`, parsed on first use (its tests keep it well-formed).
pub fn schema() -> &'static Schema {
    static SCHEMA_CELL: OnceLock<Schema> = OnceLock::new();
    SCHEMA_CELL.get_or_init(|| parse(SCHEMA).unwrap_or_else(|e| panic!("schema.txt: {e}")))
}

fn parse(text: &'static str) -> Result<Schema, String> {
    let mut messages: HashMap<&'static str, Message> = HashMap::new();
    let mut package = "";
    let mut current: Option<Message> = None;
    let mut finish = |message: Option<Message>| -> Result<(), String> {
        if let Some(m) = message
            && let Some(old) = messages.insert(m.name, m)
        {
            return Err(format!("message {} defined twice", old.name));
        }
        Ok(())
    };
    // Lines break only between fields: an indented line continues the message above.
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields_text = if line.starts_with(char::is_whitespace) {
            line
        } else if let Some(p) = line.strip_prefix("package ") {
            finish(current.take())?;
            package = p.trim();
            continue;
        } else {
            finish(current.take())?;
            let (head, body) = line
                .split_once(':')
                .ok_or_else(|| format!("no ':' in {line:?}"))?;
            let (kind, name) = match head.strip_prefix("kind ") {
                Some(name) => (true, name.trim()),
                None => (false, head.trim()),
            };
            current = Some(Message {
                package,
                name,
                kind,
                fields: Vec::new(),
            });
            body
        };
        let message = current
            .as_mut()
            .ok_or_else(|| format!("fields outside a message: {line:?}"))?;
        for field in fields_text
            .split(';')
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            let field = parse_field(field).map_err(|e| format!("{}: {e}", message.name))?;
            message.fields.push(field);
        }
    }
    finish(current.take())?;
    Ok(Schema { messages })
}

fn parse_field(text: &'static str) -> Result<Field, String> {
    let mut words = text.split_whitespace();
    let (Some(number), Some(name), Some(spec), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(format!("field {text:?} is not `number name type`"));
    };
    let number: u32 = number
        .parse()
        .map_err(|_| format!("bad field number in {text:?}"))?;
    let (shape, base) = if let Some(inner) = spec.strip_prefix('{') {
        (Shape::Map, inner.strip_suffix('}').ok_or("unclosed map")?)
    } else if let Some(inner) = spec.strip_prefix('*') {
        (Shape::Repeated, inner)
    } else if let Some(inner) = spec.strip_prefix('^') {
        (Shape::Inline, inner)
    } else if let Some(inner) = spec.strip_suffix('?').or_else(|| spec.strip_suffix('!')) {
        (Shape::Always, inner)
    } else {
        (Shape::OmitZero, spec)
    };
    let ty = match base {
        "s" => Type::String,
        "b" => Type::Bytes,
        "i" => Type::Int32,
        "l" => Type::Int64,
        "t" => Type::Bool,
        "T" => Type::Time,
        "M" => Type::MicroTime,
        "Q" => Type::Quantity,
        "I" => Type::IntOrString,
        "R" => Type::RawJson,
        "L" => Type::StringList,
        m if m.len() > 1 && m.starts_with(|c: char| c.is_ascii_uppercase()) => Type::Message(m),
        other => return Err(format!("unknown type {other:?} in {text:?}")),
    };
    Ok(Field {
        number,
        name,
        shape,
        ty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn schema_is_well_formed() {
        let schema = parse(SCHEMA).unwrap();
        for message in schema.messages.values() {
            let mut numbers = HashSet::new();
            for field in &message.fields {
                assert!(
                    numbers.insert(field.number),
                    "{}: field {} twice",
                    message.name,
                    field.number
                );
                if let Type::Message(name) = field.ty {
                    assert!(
                        schema.message(name).is_some(),
                        "{}.{} refers to unknown message {name}",
                        message.name,
                        field.name
                    );
                }
                if field.shape == Shape::Inline {
                    assert!(matches!(field.ty, Type::Message(_)), "{}", message.name);
                }
            }
        }
    }

    #[test]
    fn every_served_kind_has_a_layout() {
        let schema = schema();
        for info in crate::resource::RESOURCES {
            let subresource_kinds = info.subresources.iter().map(|s| {
                let api_version = match (s.group, s.version) {
                    (Some(group), Some(version)) => format!("{group}/{version}"),
                    _ => info.api_version(),
                };
                (api_version, s.kind)
            });
            for (api_version, kind) in
                std::iter::once((info.api_version(), info.kind)).chain(subresource_kinds)
            {
                assert!(
                    schema.kind(&api_version, kind).is_some(),
                    "no protobuf layout for {api_version} {kind}"
                );
            }
        }
        assert_eq!(
            schema.kind("v1", "Pod").map(Message::full_name).as_deref(),
            Some("k8s.io.api.core.v1.Pod")
        );
        assert!(schema.kind("apps/v1", "Pod").is_none());
        assert!(schema.kind("v1", "PodSpec").is_none());
        assert!(schema.kind("batch/v1", "Job").is_none());
        let rbac = schema.kind("rbac.authorization.k8s.io/v1", "Role").unwrap();
        assert_eq!(rbac.package, "k8s.io.api.rbac.v1");
    }

    #[test]
    fn field_notation() {
        let f = |t| parse_field(t).unwrap();
        assert_eq!(f("3 port i!").shape, Shape::Always);
        assert_eq!(f("1 replicas i?").shape, Shape::Always);
        assert_eq!(f("2 image s").shape, Shape::OmitZero);
        assert_eq!(f("11 labels {s}").shape, Shape::Map);
        assert_eq!(
            f("6 ports *ContainerPort").ty,
            Type::Message("ContainerPort")
        );
        assert_eq!(f("2 volumeSource ^VolumeSource").shape, Shape::Inline);
        assert!(parse_field("x name s").is_err());
        assert!(parse_field("1 name").is_err());
        assert!(parse_field("1 name q").is_err());
    }
}
