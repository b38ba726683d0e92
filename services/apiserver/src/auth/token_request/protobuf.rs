//! The protobuf body `kubectl create token` sends (client-go asks for
//! `application/vnd.kubernetes.protobuf` for core types): Kubernetes' envelope,
//! the magic `k8s\0` then a `runtime.Unknown` whose `raw` (field 2) holds the
//! TokenRequest. Only the spec is read, into the JSON shape the rest of the
//! module takes. Field numbers are k8s.io/api's authentication/v1 ones:
//! TokenRequest.spec 2; TokenRequestSpec audiences 1, boundObjectRef 3,
//! expirationSeconds 4; BoundObjectReference kind 1, apiVersion 2, name 3, uid 4.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\0";

/// Whether the request body is Kubernetes protobuf.
pub fn is_protobuf(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(MEDIA_TYPE))
}

fn malformed() -> Error {
    Error::BadRequest("the body of the request is not a protobuf TokenRequest".into())
}

/// One field's value: what the spec uses of the wire types.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Other,
}

fn varint(buf: &mut &[u8]) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first().ok_or_else(malformed)?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(malformed())
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if buf.len() < n {
        return Err(malformed());
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Ok(head)
}

/// The fields of one message, in order.
fn fields(mut buf: &[u8]) -> Result<Vec<(u64, Wire<'_>)>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let value = match key & 7 {
            0 => Wire::Varint(varint(&mut buf)?),
            1 => {
                take(&mut buf, 8)?;
                Wire::Other
            }
            2 => {
                let len = usize::try_from(varint(&mut buf)?).map_err(|_| malformed())?;
                Wire::Bytes(take(&mut buf, len)?)
            }
            5 => {
                take(&mut buf, 4)?;
                Wire::Other
            }
            _ => return Err(malformed()),
        };
        out.push((key >> 3, value));
    }
    Ok(out)
}

/// The last length-delimited field `number` of a message.
fn bytes_field(message: &[u8], number: u64) -> Result<Option<&[u8]>> {
    Ok(fields(message)?
        .into_iter()
        .filter_map(|(n, w)| match w {
            Wire::Bytes(b) if n == number => Some(b),
            _ => None,
        })
        .next_back())
}

fn text(bytes: &[u8]) -> Result<Value> {
    std::str::from_utf8(bytes)
        .map(|s| Value::String(s.to_string()))
        .map_err(|_| malformed())
}

/// The `spec` of an enveloped protobuf TokenRequest, as JSON (Null when absent).
pub fn token_request_spec(body: &[u8]) -> Result<Value> {
    let unknown = body.strip_prefix(MAGIC).ok_or_else(malformed)?;
    let raw = bytes_field(unknown, 2)?.unwrap_or_default();
    let Some(spec) = bytes_field(raw, 2)? else {
        return Ok(Value::Null);
    };
    let mut out = Map::new();
    let mut audiences = Vec::new();
    for (number, value) in fields(spec)? {
        match (number, value) {
            (1, Wire::Bytes(b)) => audiences.push(text(b)?),
            // int64 on the wire: two's complement, so a negative stays negative.
            (4, Wire::Varint(v)) => {
                out.insert(
                    "expirationSeconds".into(),
                    Value::from(i64::from_ne_bytes(v.to_ne_bytes())),
                );
            }
            (3, Wire::Bytes(b)) => {
                let mut reference = Map::new();
                for (number, value) in fields(b)? {
                    let key = match number {
                        1 => "kind",
                        2 => "apiVersion",
                        3 => "name",
                        4 => "uid",
                        _ => continue,
                    };
                    if let Wire::Bytes(b) = value {
                        reference.insert(key.into(), text(b)?);
                    }
                }
                out.insert("boundObjectRef".into(), Value::Object(reference));
            }
            _ => {}
        }
    }
    if !audiences.is_empty() {
        out.insert("audiences".into(), Value::Array(audiences));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(number: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![
            u8::try_from(number << 3 | 2).unwrap(),
            u8::try_from(bytes.len()).unwrap(),
        ];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn reads_the_spec_kubectl_sends() {
        let reference = [field(1, b"Pod"), field(2, b"v1"), field(3, b"web")].concat();
        // expirationSeconds 900 = varint 0x84 0x07.
        let spec = [
            field(1, b"vault"),
            field(3, &reference),
            vec![4 << 3, 0x84, 0x07],
        ]
        .concat();
        let request = [field(1, b""), field(2, &spec)].concat();
        let unknown = [
            field(
                1,
                &[
                    field(1, b"authentication.k8s.io/v1"),
                    field(2, b"TokenRequest"),
                ]
                .concat(),
            ),
            field(2, &request),
        ]
        .concat();
        let body = [MAGIC, &unknown].concat();
        assert_eq!(
            token_request_spec(&body).unwrap(),
            json!({"audiences": ["vault"], "expirationSeconds": 900,
                   "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web"}})
        );
        let empty = [MAGIC, &field(2, &field(2, b""))].concat();
        assert_eq!(token_request_spec(&empty).unwrap(), json!({}));
        for junk in [&b"{}"[..], b"k8s\0\x12\x05ab", b"k8s\0\xff"] {
            assert_eq!(token_request_spec(junk).unwrap_err().code(), 400);
        }
    }
}
