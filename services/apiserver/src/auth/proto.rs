//! Just enough of Kubernetes' protobuf encoding to read the access reviews kubectl
//! sends as `application/vnd.kubernetes.protobuf` (its typed clients do): the
//! `k8s\0` envelope, `runtime.Unknown`, and the review specs, decoded into the same
//! JSON the JSON path reads. Answers go back as JSON, which kubectl accepts.
//!
//! Field numbers are those of `k8s.io/api/authorization/v1/generated.proto`.

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// The four bytes that open every Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\0";

fn bad(what: &str) -> Error {
    Error::BadRequest(format!("invalid protobuf body: {what}"))
}

/// One field of a message: number and value (varints are ignored by callers).
enum Field<'a> {
    Bytes(u32, &'a [u8]),
    Other,
}

fn varint(buf: &mut &[u8]) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first().ok_or_else(|| bad("truncated varint"))?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(bad("varint too long"))
}

/// The fields of one message, in order.
fn fields(mut buf: &[u8]) -> Result<Vec<Field<'_>>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let number = u32::try_from(key >> 3).map_err(|_| bad("field number"))?;
        match key & 7 {
            0 => {
                varint(&mut buf)?;
                out.push(Field::Other);
            }
            1 => {
                buf = buf.get(8..).ok_or_else(|| bad("truncated fixed64"))?;
                out.push(Field::Other);
            }
            2 => {
                let len = usize::try_from(varint(&mut buf)?).map_err(|_| bad("length"))?;
                if len > buf.len() {
                    return Err(bad("truncated field"));
                }
                let (value, rest) = buf.split_at(len);
                buf = rest;
                out.push(Field::Bytes(number, value));
            }
            5 => {
                buf = buf.get(4..).ok_or_else(|| bad("truncated fixed32"))?;
                out.push(Field::Other);
            }
            _ => return Err(bad("unsupported wire type")),
        }
    }
    Ok(out)
}

/// The first length-delimited field `number`.
fn field(buf: &[u8], number: u32) -> Result<Option<&[u8]>> {
    Ok(fields(buf)?.into_iter().find_map(|f| match f {
        Field::Bytes(n, v) if n == number => Some(v),
        _ => None,
    }))
}

fn string(bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| bad("string is not UTF-8"))
}

/// A message of string fields as a JSON object, by field number → name;
/// repeated names listed in `repeated` become arrays.
fn strings(buf: &[u8], names: &[(u32, &str)], repeated: &[u32]) -> Result<Value> {
    let mut object = Map::new();
    for f in fields(buf)? {
        if let Field::Bytes(n, v) = f
            && let Some((_, name)) = names.iter().find(|(num, _)| *num == n)
        {
            let s = Value::String(string(v)?);
            if repeated.contains(&n) {
                if let Some(items) = object
                    .entry(name.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()))
                    .as_array_mut()
                {
                    items.push(s);
                }
            } else {
                object.insert(name.to_string(), s);
            }
        }
    }
    Ok(Value::Object(object))
}

const RESOURCE_ATTRIBUTES: &[(u32, &str)] = &[
    (1, "namespace"),
    (2, "verb"),
    (3, "group"),
    (4, "version"),
    (5, "resource"),
    (6, "subresource"),
    (7, "name"),
];
const NON_RESOURCE_ATTRIBUTES: &[(u32, &str)] = &[(1, "path"), (2, "verb")];

/// Decodes a protobuf access review of `kind` into its JSON form (spec only:
/// metadata and status do not change the answer).
pub fn decode_review(kind: &str, body: &[u8]) -> Result<Value> {
    let unknown = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("missing k8s envelope"))?;
    let raw = field(unknown, 2)?.unwrap_or_default();
    let spec_bytes = field(raw, 2)?.unwrap_or_default();
    let mut spec = Map::new();
    if kind == "SelfSubjectRulesReview" {
        if let Some(ns) = field(spec_bytes, 1)? {
            spec.insert("namespace".into(), Value::String(string(ns)?));
        }
    } else {
        if let Some(r) = field(spec_bytes, 1)? {
            spec.insert(
                "resourceAttributes".into(),
                strings(r, RESOURCE_ATTRIBUTES, &[])?,
            );
        }
        if let Some(n) = field(spec_bytes, 2)? {
            spec.insert(
                "nonResourceAttributes".into(),
                strings(n, NON_RESOURCE_ATTRIBUTES, &[])?,
            );
        }
        if kind == "SubjectAccessReview"
            && let Value::Object(subject) =
                strings(spec_bytes, &[(3, "user"), (4, "groups"), (6, "uid")], &[4])?
        {
            spec.extend(subject);
        }
    }
    Ok(json!({"apiVersion": "authorization.k8s.io/v1", "kind": kind, "spec": spec}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(fields: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, v) in fields {
            out.push(u8::try_from(n << 3 | 2).unwrap());
            out.push(u8::try_from(v.len()).unwrap());
            out.extend_from_slice(v);
        }
        out
    }

    #[test]
    fn decodes_what_kubectl_sends() {
        let attrs = msg(&[
            (1, b"default".to_vec()),
            (2, b"get".to_vec()),
            (5, b"pods".to_vec()),
            (7, b"web".to_vec()),
        ]);
        let spec = msg(&[(1, attrs)]);
        let review = msg(&[(1, vec![]), (2, spec)]);
        let type_meta = msg(&[
            (1, b"authorization.k8s.io/v1".to_vec()),
            (2, b"SelfSubjectAccessReview".to_vec()),
        ]);
        let mut body = MAGIC.to_vec();
        body.extend(msg(&[(1, type_meta), (2, review)]));
        let v = decode_review("SelfSubjectAccessReview", &body).unwrap();
        assert_eq!(
            v["spec"],
            json!({"resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods", "name": "web"}})
        );
        let spec = msg(&[
            (3, b"bob".to_vec()),
            (4, b"a".to_vec()),
            (4, b"b".to_vec()),
            (2, msg(&[(1, b"/x".to_vec()), (2, b"get".to_vec())])),
        ]);
        let mut body = MAGIC.to_vec();
        body.extend(msg(&[(2, msg(&[(2, spec)]))]));
        let v = decode_review("SubjectAccessReview", &body).unwrap();
        assert_eq!(
            v["spec"],
            json!({"nonResourceAttributes": {"path": "/x", "verb": "get"}, "user": "bob", "groups": ["a", "b"]})
        );
    }

    #[test]
    fn refuses_garbage_without_panicking() {
        for body in [
            &b""[..],
            b"k8s\0\x12\xff",
            b"k8s\0\x12\x05ab",
            b"k8s\0\x0f",
            b"json",
        ] {
            let _ = decode_review("SelfSubjectAccessReview", body);
        }
        assert!(decode_review("SelfSubjectAccessReview", b"{}").is_err());
    }
}
