//! Kubernetes protobuf bodies (`application/vnd.kubernetes.protobuf`), decoded into
//! the same JSON the JSON path reads.
//!
//! kubectl's typed clients (`create namespace|configmap|secret|deployment|service|
//! role|...`, `create token`, `auth can-i`) send their writes this way. A body is the
//! 4-byte magic `k8s\0` and a `runtime.Unknown` holding the object's apiVersion and
//! kind and its message bytes. The message is walked with the layouts of
//! [`schema`](schema.txt): JSON names, Go's `omitempty` for zero scalars, base64 for
//! bytes, RFC 3339 for times. A field number the schema does not know is an error,
//! never dropped: the caller answers 400 and the client can send JSON instead.

mod schema;
mod wire;

use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value};

use crate::error::Error;
use schema::{Field, Message, Shape, Type, schema};
use wire::{WireValue, fields};

/// The Content-Type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes that open every Kubernetes protobuf body.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Decodes a protobuf body into the object's JSON, `apiVersion` and `kind` included.
///
/// Errors: [`Error::Decode`] (400) for a malformed body or a field this server does
/// not know; [`Error::UnsupportedProtobufKind`] (415) for a kind it has no layout for.
pub fn decode(body: &[u8]) -> Result<Value, Error> {
    let envelope = body.strip_prefix(MAGIC).ok_or_else(|| Error::Decode {
        kind: "Unknown".into(),
        version: "v1".into(),
        message: "a protobuf body must start with the 4 bytes \"k8s\\x00\"".into(),
    })?;
    let unknown = Unknown::read(envelope).map_err(|message| Error::Decode {
        kind: "Unknown".into(),
        version: "v1".into(),
        message: format!("invalid runtime.Unknown envelope: {message}"),
    })?;
    let top = schema()
        .kind(unknown.api_version, unknown.kind)
        .ok_or_else(|| Error::UnsupportedProtobufKind {
            api_version: unknown.api_version.to_string(),
            kind: unknown.kind.to_string(),
        })?;
    let decode_error = |message: String| Error::Decode {
        kind: unknown.kind.to_string(),
        version: unknown
            .api_version
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string(),
        message,
    };
    if !unknown.content_encoding.is_empty() {
        return Err(decode_error(format!(
            "content encoding {:?} is not supported",
            unknown.content_encoding
        )));
    }
    let mut object = Map::new();
    object.insert("apiVersion".into(), unknown.api_version.into());
    object.insert("kind".into(), unknown.kind.into());
    decode_message(top, unknown.raw, &mut object).map_err(|f| decode_error(f.to_string()))?;
    Ok(Value::Object(object))
}

/// The `runtime.Unknown` envelope: `typeMeta` (1: apiVersion, 2: kind), `raw` (2),
/// `contentEncoding` (3), `contentType` (4).
struct Unknown<'a> {
    api_version: &'a str,
    kind: &'a str,
    raw: &'a [u8],
    content_encoding: &'a str,
}

impl<'a> Unknown<'a> {
    fn read(buf: &'a [u8]) -> Result<Self, String> {
        let mut unknown = Unknown {
            api_version: "",
            kind: "",
            raw: &[],
            content_encoding: "",
        };
        for field in fields(buf) {
            match field? {
                (1, WireValue::Bytes(type_meta)) => {
                    for field in fields(type_meta) {
                        match field? {
                            (1, WireValue::Bytes(v)) => unknown.api_version = utf8(v)?,
                            (2, WireValue::Bytes(v)) => unknown.kind = utf8(v)?,
                            (n, v) => return Err(unexpected("TypeMeta", n, &v)),
                        }
                    }
                }
                (2, WireValue::Bytes(raw)) => unknown.raw = raw,
                (3, WireValue::Bytes(v)) => unknown.content_encoding = utf8(v)?,
                (4, WireValue::Bytes(v)) => {
                    utf8(v)?;
                }
                (n, v) => return Err(unexpected("Unknown", n, &v)),
            }
        }
        if unknown.kind.is_empty() || unknown.api_version.is_empty() {
            return Err("typeMeta must carry apiVersion and kind".into());
        }
        Ok(unknown)
    }
}

fn unexpected(message: &str, number: u32, value: &WireValue<'_>) -> String {
    format!(
        "unexpected field {number} ({}) in {message}",
        value.type_name()
    )
}

fn utf8(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|_| "a string field is not valid UTF-8".to_string())
}

/// A decoding failure and where it happened, as a JSON path built on the way out.
#[derive(Debug)]
struct Failure {
    path: Vec<String>,
    message: String,
}

impl Failure {
    fn new(message: impl Into<String>) -> Self {
        Failure {
            path: Vec::new(),
            message: message.into(),
        }
    }

    fn at(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            return f.write_str(&self.message);
        }
        let mut path = String::new();
        for segment in self.path.iter().rev() {
            if !segment.starts_with('[') && !path.is_empty() {
                path.push('.');
            }
            path.push_str(segment);
        }
        write!(f, "{path}: {}", self.message)
    }
}

/// Decodes the fields of `message` from `buf` into `object`.
fn decode_message(
    message: &Message,
    buf: &[u8],
    object: &mut Map<String, Value>,
) -> Result<(), Failure> {
    for item in fields(buf) {
        let (number, value) = item.map_err(Failure::new)?;
        let field = message.field(number).ok_or_else(|| {
            Failure::new(format!(
                "field number {number} ({}) of protobuf message {} is not known to this server; send the object as application/json",
                value.type_name(),
                message.full_name()
            ))
        })?;
        decode_field(field, value, object).map_err(|f| f.at(field.name.to_string()))?;
    }
    Ok(())
}

fn decode_field(
    field: &Field,
    value: WireValue<'_>,
    object: &mut Map<String, Value>,
) -> Result<(), Failure> {
    match field.shape {
        Shape::OmitZero | Shape::Always => {
            let decoded = decode_value(field.ty, value)?;
            if field.shape == Shape::OmitZero && is_zero_scalar(&decoded) {
                object.remove(field.name);
            } else {
                object.insert(field.name.to_string(), decoded);
            }
        }
        Shape::Repeated => {
            let items = object
                .entry(field.name)
                .or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = items else {
                return Err(Failure::new("field is both a list and a value"));
            };
            match (field.ty, value) {
                (Type::Int32 | Type::Int64 | Type::Bool, WireValue::Bytes(mut packed)) => {
                    while !packed.is_empty() {
                        let n = wire::varint(&mut packed).map_err(Failure::new)?;
                        items.push(decode_value(field.ty, WireValue::Varint(n))?);
                    }
                }
                (ty, value) => {
                    let index = items.len();
                    items.push(decode_value(ty, value).map_err(|f| f.at(format!("[{index}]")))?);
                }
            }
        }
        Shape::Map => {
            let WireValue::Bytes(entry) = value else {
                return Err(wrong_wire_type(field, &value));
            };
            let (key, decoded) = decode_map_entry(field.ty, entry)?;
            let entries = object
                .entry(field.name)
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(entries) = entries else {
                return Err(Failure::new("field is both a map and a value"));
            };
            entries.insert(key, decoded);
        }
        Shape::Inline => {
            let (Type::Message(name), WireValue::Bytes(buf)) = (field.ty, value) else {
                return Err(wrong_wire_type(field, &value));
            };
            decode_message(layout(name)?, buf, object)?;
        }
    }
    Ok(())
}

/// The layout of a message the schema refers to (its tests check every reference).
fn layout(name: &str) -> Result<&'static Message, Failure> {
    schema()
        .message(name)
        .ok_or_else(|| Failure::new(format!("the schema has no message {name}")))
}

fn wrong_wire_type(field: &Field, value: &WireValue<'_>) -> Failure {
    Failure::new(format!(
        "field number {} has wire type {}, not what {:?} takes",
        field.number,
        value.type_name(),
        field.ty
    ))
}

/// A zero scalar: what Go's `omitempty` leaves out.
fn is_zero_scalar(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_i64() == Some(0),
        Value::Bool(b) => !b,
        _ => false,
    }
}

/// A map entry: key 1 (string), value 2 (of type `ty`; absent means zero).
fn decode_map_entry(ty: Type, buf: &[u8]) -> Result<(String, Value), Failure> {
    let mut key = String::new();
    let mut value = None;
    for item in fields(buf) {
        match item.map_err(Failure::new)? {
            (1, WireValue::Bytes(k)) => key = utf8(k).map_err(Failure::new)?.to_string(),
            (2, v) => value = Some(v),
            (n, v) => return Err(Failure::new(unexpected("a map entry", n, &v))),
        }
    }
    let decoded = match value {
        Some(v) => decode_value(ty, v),
        None => decode_value(ty, zero_of(ty)),
    }
    .map_err(|f| f.at(key.clone()))?;
    Ok((key, decoded))
}

/// The wire value a missing map value stands for.
fn zero_of(ty: Type) -> WireValue<'static> {
    match ty {
        Type::Int32 | Type::Int64 | Type::Bool => WireValue::Varint(0),
        _ => WireValue::Bytes(&[]),
    }
}

/// One value of type `ty`.
fn decode_value(ty: Type, value: WireValue<'_>) -> Result<Value, Failure> {
    let bad = || {
        Failure::new(format!(
            "wire type {} does not fit {ty:?}",
            value.type_name()
        ))
    };
    Ok(match (ty, value) {
        (Type::String, WireValue::Bytes(b)) => Value::String(utf8(b).map_err(Failure::new)?.into()),
        (Type::Bytes, WireValue::Bytes(b)) => to_json(ByteString(b.to_vec()))?,
        // int32 travels as a sign-extended 64-bit varint.
        (Type::Int32, WireValue::Varint(n)) => Value::from(n as i64 as i32),
        (Type::Int64, WireValue::Varint(n)) => Value::from(n as i64),
        (Type::Bool, WireValue::Varint(n)) => Value::Bool(n != 0),
        (Type::Time | Type::MicroTime, WireValue::Bytes(b)) => decode_time(ty, b)?,
        (Type::Quantity, WireValue::Bytes(b)) => {
            let mut quantity = String::new();
            for item in fields(b) {
                match item.map_err(Failure::new)? {
                    (1, WireValue::Bytes(s)) => quantity = utf8(s).map_err(Failure::new)?.into(),
                    (n, v) => return Err(Failure::new(unexpected("Quantity", n, &v))),
                }
            }
            Value::String(quantity)
        }
        (Type::IntOrString, WireValue::Bytes(b)) => decode_int_or_string(b)?,
        (Type::RawJson, WireValue::Bytes(b)) => {
            let mut json = Value::Null;
            for item in fields(b) {
                match item.map_err(Failure::new)? {
                    (1, WireValue::Bytes(raw)) => {
                        json = serde_json::from_slice(raw)
                            .map_err(|e| Failure::new(format!("raw bytes are not JSON: {e}")))?;
                    }
                    (n, v) => return Err(Failure::new(unexpected("RawExtension", n, &v))),
                }
            }
            json
        }
        (Type::StringList, WireValue::Bytes(b)) => {
            let mut items = Vec::new();
            for item in fields(b) {
                match item.map_err(Failure::new)? {
                    (1, WireValue::Bytes(s)) => {
                        items.push(Value::String(utf8(s).map_err(Failure::new)?.into()));
                    }
                    (n, v) => return Err(Failure::new(unexpected("ExtraValue", n, &v))),
                }
            }
            Value::Array(items)
        }
        (Type::Message(name), WireValue::Bytes(b)) => {
            let mut object = Map::new();
            decode_message(layout(name)?, b, &mut object)?;
            Value::Object(object)
        }
        _ => return Err(bad()),
    })
}

/// meta/v1 Time and MicroTime: seconds (1, int64) and nanos (2, int32); the zero
/// time is `null`, as Go writes it.
fn decode_time(ty: Type, buf: &[u8]) -> Result<Value, Failure> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    for item in fields(buf) {
        match item.map_err(Failure::new)? {
            (1, WireValue::Varint(n)) => seconds = n as i64,
            (2, WireValue::Varint(n)) => nanos = n as i64 as i32,
            (n, v) => return Err(Failure::new(unexpected("Time", n, &v))),
        }
    }
    if seconds == 0 && nanos == 0 {
        return Ok(Value::Null);
    }
    let at = Timestamp::new(seconds, nanos)
        .map_err(|e| Failure::new(format!("time out of range: {e}")))?;
    match ty {
        Type::MicroTime => to_json(MicroTime(at)),
        _ => to_json(Time(at)),
    }
}

/// intstr.IntOrString: type (1: 0 int, 1 string), intVal (2), strVal (3).
fn decode_int_or_string(buf: &[u8]) -> Result<Value, Failure> {
    let (mut is_string, mut int, mut string) = (false, 0i32, String::new());
    for item in fields(buf) {
        match item.map_err(Failure::new)? {
            (1, WireValue::Varint(t)) => is_string = t == 1,
            (2, WireValue::Varint(n)) => int = n as i64 as i32,
            (3, WireValue::Bytes(s)) => string = utf8(s).map_err(Failure::new)?.into(),
            (n, v) => return Err(Failure::new(unexpected("IntOrString", n, &v))),
        }
    }
    Ok(if is_string {
        Value::String(string)
    } else {
        Value::from(int)
    })
}

fn to_json(value: impl serde::Serialize) -> Result<Value, Failure> {
    serde_json::to_value(value).map_err(|e| Failure::new(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::wire::encode::Msg;
    use super::*;
    use serde_json::json;

    fn body(api_version: &str, kind: &str, raw: Msg) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        let unknown = Msg::new()
            .msg(1, Msg::new().str(1, api_version).str(2, kind))
            .msg(2, raw)
            .str(3, "")
            .str(4, "");
        out.extend(unknown.0);
        out
    }

    /// ObjectMeta as Go writes it: every non-pointer field, zero or not.
    fn meta(name: &str) -> Msg {
        Msg::new()
            .str(1, name)
            .str(2, "")
            .str(3, "")
            .str(4, "")
            .str(5, "")
            .str(6, "")
            .int(7, 0)
            .msg(8, Msg::new())
    }

    #[test]
    fn namespace_as_go_writes_it() {
        let raw = Msg::new()
            .msg(1, meta("x"))
            .msg(2, Msg::new())
            .msg(3, Msg::new().str(1, ""));
        assert_eq!(
            decode(&body("v1", "Namespace", raw)).unwrap(),
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "x", "creationTimestamp": null},
                   "spec": {}, "status": {}})
        );
    }

    #[test]
    fn maps_bytes_times_and_pointers() {
        let meta = meta("s")
            .entry(11, "app", b"web")
            .entry(12, "note", b"")
            .msg(9, Msg::new().int(1, 1_767_323_045).int(2, 5))
            .int(10, 0)
            .str(14, "a")
            .str(14, "b");
        let raw = Msg::new()
            .msg(1, meta)
            .entry(2, "key", b"\x00\xffbin")
            .entry(4, "plain", b"text")
            .str(3, "Opaque")
            .int(5, 0);
        assert_eq!(
            decode(&body("v1", "Secret", raw)).unwrap(),
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "s", "creationTimestamp": null,
                                "deletionTimestamp": "2026-01-02T03:04:05Z",
                                "deletionGracePeriodSeconds": 0,
                                "labels": {"app": "web"}, "annotations": {"note": ""},
                                "finalizers": ["a", "b"]},
                   "data": {"key": "AP9iaW4="}, "stringData": {"plain": "text"},
                   "type": "Opaque", "immutable": false})
        );
    }

    #[test]
    fn deployment_with_quantities_int_or_string_and_inline_fields() {
        let container = Msg::new()
            .str(1, "web")
            .str(2, "nginx:1.27")
            .str(3, "sleep")
            .str(3, "100")
            .msg(6, Msg::new().str(1, "").int(2, 0).int(3, 80).str(4, "TCP"))
            .msg(
                8,
                Msg::new().msg(
                    1,
                    Msg::new().str(1, "cpu").msg(2, Msg::new().str(1, "250m")),
                ),
            )
            .msg(
                10,
                Msg::new()
                    .msg(
                        1,
                        Msg::new().msg(
                            2,
                            Msg::new()
                                .str(1, "/healthz")
                                .msg(2, Msg::new().int(1, 1).str(3, "http")),
                        ),
                    )
                    .int(2, 0)
                    .int(3, 5),
            )
            .int(16, 0);
        let volume = Msg::new()
            .str(1, "cache")
            .msg(2, Msg::new().msg(2, Msg::new().str(1, "")));
        let pod_spec = Msg::new()
            .msg(1, volume)
            .msg(2, container)
            .str(3, "Always")
            .int(4, 30);
        let template = Msg::new()
            .msg(1, meta("").entry(11, "app", b"web"))
            .msg(2, pod_spec);
        let strategy = Msg::new().str(1, "RollingUpdate").msg(
            2,
            Msg::new()
                .msg(1, Msg::new().int(1, 1).str(3, "25%"))
                .msg(2, Msg::new().int(2, 2)),
        );
        let spec = Msg::new()
            .int(1, 0)
            .msg(2, Msg::new().entry(1, "app", b"web"))
            .msg(3, template)
            .msg(4, strategy)
            .int(5, 0)
            .int(7, 0);
        let raw = Msg::new()
            .msg(1, meta("web"))
            .msg(2, spec)
            .msg(3, Msg::new());
        let v = decode(&body("apps/v1", "Deployment", raw)).unwrap();
        assert_eq!(v["spec"]["replicas"], 0, "a set pointer keeps its zero");
        assert_eq!(v["spec"].get("paused"), None, "omitempty drops false");
        assert_eq!(
            v["spec"]["selector"],
            json!({"matchLabels": {"app": "web"}})
        );
        assert_eq!(
            v["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 2}})
        );
        let pod = &v["spec"]["template"]["spec"];
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["volumes"], json!([{"name": "cache", "emptyDir": {}}]));
        assert_eq!(
            pod["containers"][0],
            json!({"name": "web", "image": "nginx:1.27", "command": ["sleep", "100"],
                   "ports": [{"containerPort": 80, "protocol": "TCP"}],
                   "resources": {"limits": {"cpu": "250m"}},
                   "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "timeoutSeconds": 5}})
        );
    }

    #[test]
    fn unknown_fields_are_errors_naming_message_number_and_path() {
        let container = Msg::new().str(1, "web").str(99, "?");
        let spec = Msg::new().msg(2, container);
        let raw = Msg::new().msg(1, meta("p")).msg(2, spec);
        let err = decode(&body("v1", "Pod", raw)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("Pod in version \"v1\" cannot be handled as a Pod")
                && text.contains("spec.containers[0]: field number 99 (length-delimited) of protobuf message k8s.io.api.core.v1.Container is not known")
                && text.contains("application/json"),
            "{text}"
        );
        assert_eq!(crate::status::from_error(&err).code, Some(400));
    }

    #[test]
    fn kinds_without_a_layout_are_unsupported_media() {
        let err = decode(&body("batch/v1", "Job", Msg::new())).unwrap_err();
        assert!(matches!(err, Error::UnsupportedProtobufKind { .. }));
        assert_eq!(crate::status::from_error(&err).code, Some(415));
        assert!(err.to_string().contains("batch/v1 Job"), "{err}");
    }

    #[test]
    fn garbage_is_a_400_never_a_panic() {
        let cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"{}".to_vec(),
            b"k8s\0".to_vec(),
            b"k8s\0\x0a\xff".to_vec(),
            body("v1", "ConfigMap", Msg::new().bytes(2, b"\x0a\x01")),
            body("v1", "ConfigMap", Msg::new().int(1, 3)),
            body(
                "v1",
                "ConfigMap",
                Msg::new().msg(1, Msg::new().str(1, "\u{0}").bytes(2, &[0xff])),
            ),
            body(
                "v1",
                "Secret",
                Msg::new().msg(1, Msg::new().msg(8, Msg::new().int(1, i64::MAX))),
            ),
            body(
                "v1",
                "Service",
                Msg::new().msg(
                    2,
                    Msg::new().msg(1, Msg::new().msg(4, Msg::new().int(9, 1))),
                ),
            ),
        ];
        for case in cases {
            let err = decode(&case).unwrap_err();
            assert_eq!(
                crate::status::from_error(&err).code,
                Some(400),
                "{case:?}: {err}"
            );
        }
    }
}
