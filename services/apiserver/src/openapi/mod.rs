//! The OpenAPI documents kube-apiserver serves, for the resources of
//! `rudder_api::resource`:
//!
//! ```text
//! /openapi/v2                    Swagger 2.0, everything; JSON or gnostic protobuf
//! /openapi/v3                    index: where each group-version's document lives
//! /openapi/v3/api/v1?hash=...    OpenAPI 3.0 of one group-version
//! ```
//!
//! kubectl reads them for `explain`, for the strategic-merge-patch metadata of
//! `apply`, and to learn that the server validates fields (`fieldValidation`) and
//! takes `dryRun`. The documents are built once, on first use (off the async
//! workers), and served with an ETag (a quoted SHA-512, as upstream) so clients
//! revalidate with `If-None-Match`; a v3 document fetched by its index URL is
//! immutable for that hash, and a stale hash is redirected to the current one.

pub mod gnostic;
mod operations;
mod schemas;
mod v2;
mod v3;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use bytes::Bytes;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION, VARY};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use prost::Message;
use rudder_api::resource;
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::rest::codec::{self, Body};

/// The media type kubectl asks `/openapi/v2` for (`@` is how clients spell it).
pub const V2_PROTOBUF_ACCEPT: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// The Content-Type of the protobuf answer (Go's mime parser refuses the `@` form).
pub const V2_PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Which document a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentPath<'a> {
    /// `/openapi/v2`.
    V2,
    /// `/openapi/v3`.
    V3Index,
    /// `/openapi/v3/<api/v1 | apis/group/version>`.
    V3(&'a str),
}

/// One encoded document and its ETag.
#[derive(Debug)]
struct Encoded {
    body: Bytes,
    etag: String,
    /// The SHA-512 alone (hex), for v3 index URLs.
    hash: String,
}

impl Encoded {
    fn new(body: Vec<u8>) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA512, &body);
        let hash: String = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
        Encoded {
            body: Bytes::from(body),
            etag: format!("\"{hash}\""),
            hash,
        }
    }

    fn json(value: &Value) -> Self {
        Self::new(serde_json::to_vec(value).unwrap_or_default())
    }
}

#[derive(Debug)]
struct Documents {
    v2_json: Encoded,
    v2_protobuf: Encoded,
    v3_index: Encoded,
    /// By path: `api/v1`, `apis/apps/v1`.
    v3: BTreeMap<String, Encoded>,
}

static DOCUMENTS: OnceLock<Documents> = OnceLock::new();

fn build() -> Documents {
    let started = std::time::Instant::now();
    let defs = schemas::definitions();
    let v2 = v2::document(&defs);
    let v2_protobuf = Encoded::new(gnostic::document(&v2).encode_to_vec());
    let mut gvs: Vec<(&str, &str)> = vec![("", "v1")];
    gvs.extend(resource::GROUPS.iter().map(|g| (*g, "v1")));
    let mut v3 = BTreeMap::new();
    let mut index = Map::new();
    for (group, version) in gvs {
        if let Some(doc) = v3::document(group, version, &defs) {
            let path = operations::gv_path(group, version);
            let encoded = Encoded::json(&doc);
            index.insert(
                path.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", encoded.hash)}),
            );
            v3.insert(path, encoded);
        }
    }
    let documents = Documents {
        v2_json: Encoded::json(&v2),
        v2_protobuf,
        v3_index: Encoded::json(&json!({"paths": index})),
        v3,
    };
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        definitions = defs.len(),
        "OpenAPI documents built"
    );
    documents
}

/// The documents, built on first use on a blocking thread.
async fn documents() -> &'static Documents {
    if let Some(docs) = DOCUMENTS.get() {
        return docs;
    }
    let built = tokio::task::spawn_blocking(|| DOCUMENTS.get_or_init(build)).await;
    match built {
        Ok(docs) => docs,
        // The build panicked (a bug): try again here rather than fail every request.
        Err(_) => DOCUMENTS.get_or_init(build),
    }
}

/// Whether the client accepts gnostic protobuf (over JSON) for `/openapi/v2`.
fn wants_protobuf(headers: &HeaderMap) -> Result<bool> {
    let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(false);
    };
    if accept.trim().is_empty() {
        return Ok(false);
    }
    for offer in accept.split(',') {
        let essence = offer
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            V2_PROTOBUF_ACCEPT | V2_PROTOBUF_CONTENT_TYPE => return Ok(true),
            "application/json" | "application/*" | "*/*" => return Ok(false),
            _ => {}
        }
    }
    Err(Error::NotAcceptable(format!(
        "application/json, {V2_PROTOBUF_ACCEPT}"
    )))
}

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn respond(doc: &Encoded, content_type: &str, headers: &HeaderMap) -> Response<Body> {
    let unchanged = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|t| t.trim() == doc.etag || t.trim() == "*")
        });
    let mut response = if unchanged {
        let mut r = Response::new(codec::full(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(codec::full(doc.body.clone()));
        r.headers_mut().insert(CONTENT_TYPE, header(content_type));
        r
    };
    response.headers_mut().insert(ETAG, header(&doc.etag));
    response
        .headers_mut()
        .insert(VARY, HeaderValue::from_static("Accept"));
    response
}

/// Serves a document; `hash` is the `?hash=` of a v3 request ("" when absent).
pub async fn serve(
    path: DocumentPath<'_>,
    headers: &HeaderMap,
    hash: &str,
) -> Result<Response<Body>> {
    match path {
        DocumentPath::V2 => {
            let protobuf = wants_protobuf(headers)?;
            let docs = documents().await;
            Ok(if protobuf {
                respond(&docs.v2_protobuf, V2_PROTOBUF_CONTENT_TYPE, headers)
            } else {
                respond(&docs.v2_json, "application/json", headers)
            })
        }
        DocumentPath::V3Index => Ok(respond(
            &documents().await.v3_index,
            "application/json",
            headers,
        )),
        DocumentPath::V3(path) => {
            let path = path.trim_matches('/');
            let doc = documents().await.v3.get(path).ok_or(Error::PathNotFound)?;
            if hash.is_empty() {
                return Ok(respond(doc, "application/json", headers));
            }
            if hash != doc.hash {
                // As upstream: a stale hash moves permanently to the current one.
                let mut response = Response::new(codec::full(Bytes::new()));
                *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
                response.headers_mut().insert(
                    LOCATION,
                    header(&format!("/openapi/v3/{path}?hash={}", doc.hash)),
                );
                response.headers_mut().insert(
                    CACHE_CONTROL,
                    HeaderValue::from_static("no-cache, no-store, must-revalidate"),
                );
                return Ok(response);
            }
            let mut response = respond(doc, "application/json", headers);
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("public, immutable"));
            Ok(response)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, header(value));
        headers
    }

    #[test]
    fn v2_negotiation() {
        assert!(wants_protobuf(&accept(V2_PROTOBUF_ACCEPT)).unwrap());
        assert!(
            wants_protobuf(&accept(&format!("{V2_PROTOBUF_ACCEPT}, application/json"))).unwrap()
        );
        assert!(!wants_protobuf(&accept("application/json")).unwrap());
        assert!(!wants_protobuf(&HeaderMap::new()).unwrap());
        assert_eq!(
            wants_protobuf(&accept("text/html")).unwrap_err().code(),
            406
        );
    }

    #[tokio::test]
    async fn etags_revalidate_and_stale_hashes_redirect() {
        let first = serve(DocumentPath::V2, &accept(V2_PROTOBUF_ACCEPT), "")
            .await
            .unwrap();
        assert_eq!(first.headers()[CONTENT_TYPE], V2_PROTOBUF_CONTENT_TYPE);
        let etag = first.headers()[ETAG].clone();
        let mut again = accept(V2_PROTOBUF_ACCEPT);
        again.insert(IF_NONE_MATCH, etag);
        let second = serve(DocumentPath::V2, &again, "").await.unwrap();
        assert_eq!(second.status(), StatusCode::NOT_MODIFIED);

        let docs = documents().await;
        let index: Value = serde_json::from_slice(&docs.v3_index.body).unwrap();
        let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        let hash = url.split_once("?hash=").unwrap().1;
        let current = serve(DocumentPath::V3("apis/apps/v1"), &HeaderMap::new(), hash)
            .await
            .unwrap();
        assert_eq!(current.headers()[CACHE_CONTROL], "public, immutable");
        let stale = serve(DocumentPath::V3("apis/apps/v1"), &HeaderMap::new(), "0BAD")
            .await
            .unwrap();
        assert_eq!(stale.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(stale.headers()[LOCATION], url);
        let missing = serve(DocumentPath::V3("apis/batch/v1"), &HeaderMap::new(), "").await;
        assert_eq!(missing.unwrap_err().code(), 404);
    }
}
