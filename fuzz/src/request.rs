//! The request target: bytes read as an HTTP request in text form,
//!
//! ```text
//! METHOD /path?query
//! Header-Name: value
//! ...
//!
//! body
//! ```
//!
//! and taken through everything the API server decides before it reaches the store:
//! the route (`rest::request`), the query, the media types and body decoding
//! (`rest::codec`), list options with their selectors, delete options, the patch
//! media type, and the preparation (type, namespace, defaulting, validation, strict
//! field checks) of a create or update body. Inputs hyper itself refuses (a method or
//! URI that does not parse, an invalid header) end early, as they never reach us.

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use rudder_apiserver::admission::Verb;
use rudder_apiserver::registry::list::{ListOptions, RawListOptions};
use rudder_apiserver::registry::meta::{self, Stamp};
use rudder_apiserver::registry::{DeleteOptions, PatchKind, strict};
use rudder_apiserver::rest::codec::{self, BodyFormat};
use rudder_apiserver::rest::request::{self, Query, ResourceRequest, Route};
use serde_json::Value;

use crate::checked;

/// A request in text form, cut into its parts.
#[derive(Debug, PartialEq, Eq)]
pub struct Parts<'a> {
    pub method: &'a [u8],
    pub target: &'a [u8],
    pub headers: Vec<(&'a [u8], &'a [u8])>,
    pub body: &'a [u8],
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Cuts `data` into request line, headers (to the first empty line) and body.
pub fn split(data: &[u8]) -> Parts<'_> {
    let mut rest = data;
    let mut next_line = || -> Option<&[u8]> {
        if rest.is_empty() {
            return None;
        }
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = trim_cr(&rest[..end]);
        rest = rest.get(end + 1..).unwrap_or_default();
        Some(line)
    };
    let request_line = next_line().unwrap_or_default();
    let mut words = request_line.splitn(3, |&b| b == b' ');
    let method = words.next().unwrap_or_default();
    let target = words.next().unwrap_or_default();
    let mut headers = Vec::new();
    while let Some(line) = next_line() {
        if line.is_empty() {
            break;
        }
        let colon = line.iter().position(|&b| b == b':').unwrap_or(line.len());
        let value = line.get(colon + 1..).unwrap_or_default();
        let value = value.strip_prefix(b" ").unwrap_or(value);
        headers.push((&line[..colon], value));
    }
    Parts {
        method,
        target,
        headers,
        body: rest,
    }
}

/// A fixed stamp: the fuzzer must see the same behaviour for the same input.
fn stamp() -> Stamp {
    Stamp {
        now: "2026-01-02T03:04:05Z".to_string(),
        uid: "00000000-0000-4000-8000-000000000000".to_string(),
        entropy: Default::default(),
    }
}

fn raw_list_options(query: &Query) -> RawListOptions {
    RawListOptions {
        label_selector: query.get("labelSelector").to_string(),
        field_selector: query.get("fieldSelector").to_string(),
        limit: query.get("limit").to_string(),
        continue_token: query.get("continue").to_string(),
        resource_version: query.get("resourceVersion").to_string(),
        resource_version_match: query.get("resourceVersionMatch").to_string(),
    }
}

/// Runs one input through the request path.
pub fn exercise(data: &[u8]) {
    let parts = split(data);
    let Ok(method) = Method::from_bytes(parts.method) else {
        return;
    };
    let Ok(uri) = Uri::try_from(parts.target) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    let query = Query::parse(uri.query());
    checked("Accept", codec::response_format(&headers));
    let body_format = checked("Content-Type", codec::body_format(&headers));
    for format in [BodyFormat::Json, BodyFormat::Yaml] {
        checked(
            "decoding the body",
            codec::decode_object(format, parts.body),
        );
    }
    let Some(Route::Resource(req)) = checked("route", request::route(&method, uri.path(), &query))
    else {
        return;
    };
    let object = || body_format.and_then(|f| checked("body", codec::decode_object(f, parts.body)));
    match req.verb {
        Verb::List | Verb::Watch | Verb::DeleteCollection => {
            checked(
                "list options",
                ListOptions::parse(req.resource, &raw_list_options(&query)),
            );
            if req.verb == Verb::DeleteCollection {
                checked("delete options", DeleteOptions::from_json(parts.body));
            }
        }
        Verb::Delete => {
            checked("delete options", DeleteOptions::from_json(parts.body));
        }
        Verb::Create => {
            if let Some(object) = object() {
                create(&req, object);
            }
        }
        Verb::Update => {
            if let Some(object) = object() {
                update(&req, object);
            }
        }
        Verb::Patch => {
            let content_type = headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if let Some(kind) = checked("patch type", PatchKind::from_content_type(content_type)) {
                crate::patch::apply_to_sample(req.resource, kind, parts.body);
            }
        }
        Verb::Get => {}
    }
}

/// What the registry does to a create body before the store (strict checks too).
fn create(req: &ResourceRequest, object: Value) {
    checked(
        "strict field validation",
        strict::check(req.resource, &object),
    );
    checked(
        "preparing a create",
        meta::prepare_create(req.resource, req.namespace.as_deref(), object, &stamp()),
    );
}

/// An update of the body's own create form (the old object the body replaces).
fn update(req: &ResourceRequest, object: Value) {
    let name = req.name.clone().unwrap_or_default();
    let mut old = object.clone();
    if let Some(metadata) = old.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("name".into(), Value::String(name.clone()));
    }
    let Ok(old) = meta::prepare_create(req.resource, req.namespace.as_deref(), old, &stamp())
    else {
        return;
    };
    checked(
        "preparing an update",
        meta::prepare_update(
            req.resource,
            req.subresource.as_deref(),
            &name,
            req.namespace.as_deref(),
            object,
            &old,
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_split_into_their_parts() {
        let parts = split(
            b"POST /api/v1/namespaces/a/pods?dryRun=All HTTP/1.1\r\nContent-Type: application/json\r\nX-Empty:\r\n\r\n{\"a\":\n1}",
        );
        assert_eq!(parts.method, b"POST");
        assert_eq!(parts.target, b"/api/v1/namespaces/a/pods?dryRun=All");
        assert_eq!(
            parts.headers,
            vec![
                (&b"Content-Type"[..], &b"application/json"[..]),
                (b"X-Empty", b""),
            ]
        );
        assert_eq!(parts.body, b"{\"a\":\n1}");
        let bare = split(b"GET");
        assert_eq!((bare.method, bare.target), (&b"GET"[..], &b""[..]));
        assert!(bare.headers.is_empty() && bare.body.is_empty());
        assert_eq!(split(b"").method, b"");
    }
}
