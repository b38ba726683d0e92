//! Request bodies in (JSON, YAML or Kubernetes protobuf, at most 3 MiB) and responses
//! out (JSON, or YAML when asked), with the Status of every failure.

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::registry::list::ListJson;

/// Largest request body (upstream's limit).
pub const MAX_BODY_BYTES: usize = rudder_api::status::MAX_REQUEST_BODY_BYTES;

/// Error type of response bodies (streams may fail mid-way).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Every response body: a full buffer or a stream (watch), boxed.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A body of the given bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// The media types a request body may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json` (also a missing Content-Type, as the Python client sends).
    Json,
    /// `application/yaml`.
    Yaml,
    /// `application/vnd.kubernetes.protobuf`, what kubectl's typed clients send on
    /// create and update; decoded to the same JSON (answers stay JSON, which they accept).
    Protobuf,
}

/// The format of the request body from its Content-Type; 415 for anything else.
pub fn body_format(headers: &HeaderMap) -> Result<BodyFormat> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(BodyFormat::Json);
    };
    let text = value.to_str().unwrap_or("");
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "" | "application/json" | "*/*" => Ok(BodyFormat::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" => Ok(BodyFormat::Yaml),
        rudder_api::protobuf::CONTENT_TYPE => Ok(BodyFormat::Protobuf),
        _ => Err(Error::UnsupportedMediaType(format!(
            "accepted media types include: application/json, application/yaml, {} (got {text:?})",
            rudder_api::protobuf::CONTENT_TYPE
        ))),
    }
}

/// Reads a body up to [`MAX_BODY_BYTES`]; 413 past it.
pub async fn read_body<B>(headers: &HeaderMap, body: B) -> Result<Bytes>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(Error::TooLarge(MAX_BODY_BYTES));
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(Error::TooLarge(MAX_BODY_BYTES))
        }
        Err(e) => Err(Error::BadRequest(format!("reading the request body: {e}"))),
    }
}

/// Decodes a body as an object's JSON.
pub fn decode_object(format: BodyFormat, bytes: &[u8]) -> Result<Value> {
    let value: Value = match format {
        BodyFormat::Json => serde_json::from_slice(bytes).map_err(|e| {
            Error::BadRequest(format!("couldn't get version/kind; json parse error: {e}"))
        })?,
        BodyFormat::Yaml => serde_norway::from_slice(bytes)
            .map_err(|e| Error::BadRequest(format!("error converting YAML to JSON: {e}")))?,
        BodyFormat::Protobuf => rudder_api::protobuf::decode(bytes)?,
    };
    if !value.is_object() {
        return Err(Error::BadRequest(
            "the body of the request must be a JSON object".into(),
        ));
    }
    Ok(value)
}

/// What the client accepts back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
    /// A meta.k8s.io/v1 Table (JSON), what `kubectl get` asks for.
    Table,
}

/// The Content-Type of Table responses, as upstream labels them.
pub const TABLE_CONTENT_TYPE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// Picks the response format from `Accept`: the first listed type this server
/// produces. kubectl's `as=Table` and protobuf offers fall through to its JSON
/// fallback; an Accept with nothing producible is a 406.
pub fn response_format(headers: &HeaderMap) -> Result<ResponseFormat> {
    let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(ResponseFormat::Json);
    };
    if accept.trim().is_empty() {
        return Ok(ResponseFormat::Json);
    }
    for offer in accept.split(',') {
        let mut params = offer.split(';');
        let essence = params.next().unwrap_or("").trim().to_ascii_lowercase();
        let params: Vec<&str> = params.map(str::trim).collect();
        if params.iter().any(|p| p.starts_with("as=")) {
            let table = params.contains(&"as=Table")
                && params.contains(&"g=meta.k8s.io")
                && (params.contains(&"v=v1") || params.contains(&"v=v1beta1"));
            if table && essence == "application/json" {
                return Ok(ResponseFormat::Table);
            }
            // Other conversions (aggregated discovery, PartialObjectMetadata): not served.
            continue;
        }
        match essence.as_str() {
            "application/json" | "application/*" | "*/*" => return Ok(ResponseFormat::Json),
            "application/yaml" => return Ok(ResponseFormat::Yaml),
            _ => {}
        }
    }
    Err(Error::NotAcceptable(
        "application/json, application/yaml".into(),
    ))
}

/// A response carrying `value`.
pub fn object_response(
    status: StatusCode,
    format: ResponseFormat,
    value: &Value,
) -> Response<Body> {
    let (bytes, content_type) = match format {
        ResponseFormat::Table => (
            serde_json::to_vec(value).unwrap_or_default(),
            TABLE_CONTENT_TYPE,
        ),
        ResponseFormat::Json => (
            serde_json::to_vec(value).unwrap_or_default(),
            "application/json",
        ),
        ResponseFormat::Yaml => (
            serde_norway::to_string(value)
                .unwrap_or_default()
                .into_bytes(),
            "application/yaml",
        ),
    };
    with_content_type(status, bytes, content_type)
}

/// A list's JSON response, streamed when it comes from the watch cache.
pub fn list_response(list: ListJson) -> Response<Body> {
    let body = match list {
        ListJson::Whole(bytes) => full(bytes),
        ListJson::Cached(body) => body.map_err(|never| match never {}).boxed_unsync(),
    };
    with_body(StatusCode::OK, body, "application/json")
}

fn with_content_type(
    status: StatusCode,
    bytes: Vec<u8>,
    content_type: &'static str,
) -> Response<Body> {
    with_body(status, full(bytes), content_type)
}

fn with_body(status: StatusCode, body: Body, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The Status response of an error (always JSON: every client reads it).
pub fn error_response(err: &Error) -> Response<Body> {
    let status = err.to_status();
    let code = StatusCode::from_u16(err.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let value = serde_json::to_value(&status).unwrap_or(Value::Null);
    object_response(code, ResponseFormat::Json, &value)
}

/// A plain-text response (health endpoints).
pub fn text_response(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(full(text.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderName;

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn content_types() {
        assert_eq!(body_format(&headers(&[])).unwrap(), BodyFormat::Json);
        assert_eq!(
            body_format(&headers(&[(
                CONTENT_TYPE,
                "application/json; charset=utf-8"
            )]))
            .unwrap(),
            BodyFormat::Json
        );
        assert_eq!(
            body_format(&headers(&[(CONTENT_TYPE, "application/yaml")])).unwrap(),
            BodyFormat::Yaml
        );
        assert_eq!(
            body_format(&headers(&[(CONTENT_TYPE, "text/plain")]))
                .unwrap_err()
                .code(),
            415
        );
        assert_eq!(
            body_format(&headers(&[(
                CONTENT_TYPE,
                "application/vnd.kubernetes.protobuf"
            )]))
            .unwrap(),
            BodyFormat::Protobuf
        );
    }

    #[test]
    fn accept_headers() {
        let kubectl_get = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            response_format(&headers(&[(ACCEPT, kubectl_get)])).unwrap(),
            ResponseFormat::Table
        );
        let discovery =
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
        assert_eq!(
            response_format(&headers(&[(ACCEPT, discovery)])).unwrap(),
            ResponseFormat::Json
        );
        assert_eq!(
            response_format(&headers(&[(
                ACCEPT,
                "application/vnd.kubernetes.protobuf, */*"
            )]))
            .unwrap(),
            ResponseFormat::Json
        );
        assert_eq!(
            response_format(&headers(&[(ACCEPT, "application/yaml")])).unwrap(),
            ResponseFormat::Yaml
        );
        assert_eq!(
            response_format(&headers(&[(ACCEPT, "application/vnd.kubernetes.protobuf")]))
                .unwrap_err()
                .code(),
            406
        );
        assert_eq!(
            response_format(&headers(&[])).unwrap(),
            ResponseFormat::Json
        );
    }

    #[test]
    fn bodies_decode_or_give_400() {
        assert_eq!(
            decode_object(
                BodyFormat::Yaml,
                b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n"
            )
            .unwrap()["metadata"]["name"],
            "a"
        );
        for (format, body) in [
            (BodyFormat::Json, &b"{"[..]),
            (BodyFormat::Json, b"[]"),
            (BodyFormat::Json, b""),
            (BodyFormat::Yaml, b"- a"),
            (BodyFormat::Yaml, b"a: [b"),
            (BodyFormat::Protobuf, b"{}"),
            (BodyFormat::Protobuf, b"k8s\0\x0a\x04\x0a\x02v1"),
        ] {
            assert_eq!(decode_object(format, body).unwrap_err().code(), 400);
        }
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_413() {
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        let err = read_body(&HeaderMap::new(), Full::new(Bytes::from(big)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), 413);
        let declared = headers(&[(CONTENT_LENGTH, "99999999")]);
        let err = read_body(&declared, Full::new(Bytes::new()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), 413);
        let ok = read_body(&HeaderMap::new(), Full::new(Bytes::from_static(b"{}")))
            .await
            .unwrap();
        assert_eq!(&ok[..], b"{}");
    }
}
