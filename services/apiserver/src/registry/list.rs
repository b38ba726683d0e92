//! List options as both front ends receive them (strings), parsed and checked once,
//! and the continue token of paginated lists (upstream's format: base64url of
//! `{"v":"meta.k8s.io/v1","rv":N,"start":"<key after the prefix>\u0000"}`).

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use rudder_api::resource::ResourceInfo;
use rudder_api::selector::{FieldSelector, Selector};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::registry::meta::parse_resource_version;
use crate::watch_cache::CachedObject;

/// Which revision a list reads (upstream's `resourceVersion` + `resourceVersionMatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAt {
    /// Unset: the latest state, read from the store (quorum).
    Latest,
    /// `"0"`: any recent state (served from the watch cache once it exists).
    Any,
    /// `N` (NotOlderThan, the default match): a state at least as new as N.
    NotOlderThan(i64),
    /// `N` with `resourceVersionMatch=Exact`: exactly revision N.
    Exact(i64),
}

/// The options of a list, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOptions {
    /// `labelSelector`.
    pub labels: Selector,
    /// `fieldSelector`, checked against the resource's supported fields.
    pub fields: FieldSelector,
    /// `limit`; 0 means no limit.
    pub limit: i64,
    /// A decoded `continue` token.
    pub continue_from: Option<ContinueToken>,
    /// Which revision to read.
    pub read_at: ReadAt,
}

/// Raw list parameters, as a query string or a gRPC request carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawListOptions {
    /// `labelSelector`.
    pub label_selector: String,
    /// `fieldSelector`.
    pub field_selector: String,
    /// `limit` (as text on REST).
    pub limit: String,
    /// `continue`.
    pub continue_token: String,
    /// `resourceVersion`.
    pub resource_version: String,
    /// `resourceVersionMatch`.
    pub resource_version_match: String,
}

impl ListOptions {
    /// Parses and checks raw options for `resource`, with upstream's 400 messages.
    pub fn parse(resource: &ResourceInfo, raw: &RawListOptions) -> Result<Self> {
        let labels = Selector::parse(&raw.label_selector)?;
        let fields = FieldSelector::parse(&raw.field_selector)?;
        fields.validate_for(resource)?;
        let limit = if raw.limit.is_empty() {
            0
        } else {
            // Upstream ignores a negative limit and refuses text.
            raw.limit
                .parse::<i64>()
                .map_err(|_| {
                    Error::BadRequest(format!(
                        "limit: Invalid value: \"{}\": must be an integer",
                        raw.limit
                    ))
                })?
                .max(0)
        };
        let continue_from = if raw.continue_token.is_empty() {
            None
        } else {
            Some(ContinueToken::decode(&raw.continue_token)?)
        };
        let read_at = match (
            raw.resource_version.as_str(),
            raw.resource_version_match.as_str(),
        ) {
            ("", "") => ReadAt::Latest,
            ("", m) => {
                return Err(Error::BadRequest(format!(
                    "resourceVersionMatch: Forbidden: resourceVersionMatch \"{m}\" is forbidden when resourceVersion is not provided"
                )));
            }
            ("0", "" | "NotOlderThan") => ReadAt::Any,
            (rv, "" | "NotOlderThan") => ReadAt::NotOlderThan(parse_resource_version(rv)?),
            ("0", "Exact") => {
                return Err(Error::BadRequest(
                    "resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"".into(),
                ));
            }
            (rv, "Exact") => ReadAt::Exact(parse_resource_version(rv)?),
            (_, m) => {
                return Err(Error::BadRequest(format!(
                    "resourceVersionMatch: Unsupported value: \"{m}\": supported values: \"Exact\", \"NotOlderThan\""
                )));
            }
        };
        if continue_from.is_some() && !matches!(read_at, ReadAt::Latest | ReadAt::Any) {
            return Err(Error::BadRequest(
                "specifying resource version is not allowed when using continue".into(),
            ));
        }
        Ok(ListOptions {
            labels,
            fields,
            limit,
            continue_from,
            read_at,
        })
    }

    /// Whether any selector filters objects (then upstream gives no
    /// `remainingItemCount`).
    pub fn filters(&self) -> bool {
        !self.labels.is_everything() || !self.fields.terms().is_empty()
    }
}

/// Where a paginated list goes on: the revision of its first page and the key (after
/// the list prefix) to start from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinueToken {
    /// Format version, `meta.k8s.io/v1`.
    pub v: String,
    /// The revision every page is read at.
    pub rv: i64,
    /// The first key to read, relative to the list prefix.
    pub start: String,
}

const TOKEN_VERSION: &str = "meta.k8s.io/v1";

impl ContinueToken {
    /// The token for the page after `last_key` (relative to the prefix) at `rv`.
    pub fn after(rv: i64, last_key_relative: &str) -> Self {
        ContinueToken {
            v: TOKEN_VERSION.to_string(),
            rv,
            start: format!("{last_key_relative}\u{0}"),
        }
    }

    /// The token's text.
    pub fn encode(&self) -> String {
        // Serialising three plain fields cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE.encode(json)
    }

    /// Parses a token, refusing what this server would not have issued.
    pub fn decode(text: &str) -> Result<Self> {
        let invalid = |why: &str| Error::BadRequest(format!("continue key is not valid: {why}"));
        let bytes = URL_SAFE
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .map_err(|_| invalid("illegal base64 data"))?;
        let token: ContinueToken =
            serde_json::from_slice(&bytes).map_err(|_| invalid("not a JSON continue token"))?;
        if token.v != TOKEN_VERSION {
            return Err(invalid(
                "incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            ));
        }
        if token.rv <= 0 {
            return Err(invalid(
                "incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            ));
        }
        if token.start.is_empty() || token.start.starts_with('/') || token.start.contains("..") {
            return Err(invalid("encoded start key is not valid"));
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_api::resource::resolve;

    fn raw() -> RawListOptions {
        RawListOptions::default()
    }

    #[test]
    fn parses_options() {
        let pods = resolve("pods").unwrap();
        let o = ListOptions::parse(pods, &raw()).unwrap();
        assert_eq!(
            (o.limit, o.read_at, o.filters()),
            (0, ReadAt::Latest, false)
        );
        let o = ListOptions::parse(
            pods,
            &RawListOptions {
                label_selector: "app=web,tier in (a,b)".into(),
                field_selector: "spec.nodeName=n1".into(),
                limit: "5".into(),
                resource_version: "0".into(),
                ..raw()
            },
        )
        .unwrap();
        assert_eq!((o.limit, o.read_at, o.filters()), (5, ReadAt::Any, true));
        let exact = RawListOptions {
            resource_version: "7".into(),
            resource_version_match: "Exact".into(),
            ..raw()
        };
        assert_eq!(
            ListOptions::parse(pods, &exact).unwrap().read_at,
            ReadAt::Exact(7)
        );
        let newer = RawListOptions {
            resource_version: "7".into(),
            ..raw()
        };
        assert_eq!(
            ListOptions::parse(pods, &newer).unwrap().read_at,
            ReadAt::NotOlderThan(7)
        );
    }

    #[test]
    fn refuses_bad_options_with_400() {
        let cm = resolve("configmaps").unwrap();
        let cases = [
            RawListOptions {
                label_selector: "a in (".into(),
                ..raw()
            },
            RawListOptions {
                field_selector: "spec.nodeName=x".into(),
                ..raw()
            },
            RawListOptions {
                limit: "ten".into(),
                ..raw()
            },
            RawListOptions {
                continue_token: "!!!".into(),
                ..raw()
            },
            RawListOptions {
                resource_version: "abc".into(),
                ..raw()
            },
            RawListOptions {
                resource_version_match: "Exact".into(),
                ..raw()
            },
            RawListOptions {
                resource_version: "1".into(),
                resource_version_match: "Newest".into(),
                ..raw()
            },
        ];
        for case in cases {
            let err = ListOptions::parse(cm, &case).unwrap_err();
            assert_eq!(err.code(), 400, "{case:?}");
        }
        let err = ListOptions::parse(
            cm,
            &RawListOptions {
                field_selector: "spec.nodeName=x".into(),
                ..raw()
            },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "field label not supported: spec.nodeName");
    }

    #[test]
    fn cached_lists_splice_the_same_list_as_they_serialize() {
        use crate::watch_cache::CachedObject;
        use serde_json::json;
        use std::sync::Arc;
        let pods = resolve("pods").unwrap();
        let items: Vec<_> = ["a", "b"]
            .iter()
            .map(|name| {
                Arc::new(CachedObject::new(
                    pods,
                    json!({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": name, "namespace": "x", "resourceVersion": "3"},
                           "spec": {"containers": [{"name": "c", "image": "i"}]}}),
                ))
            })
            .collect();
        for items in [items.clone(), Vec::new()] {
            let list = CachedList {
                resource: pods,
                revision: 42,
                items,
            };
            let expected = serde_json::to_vec(&list).unwrap();
            assert_eq!(collect(list.into_body()), expected);
        }
        let list = CachedList {
            resource: resolve("deploy").unwrap(),
            revision: 7,
            items: Vec::new(),
        };
        let value: serde_json::Value = serde_json::from_slice(&collect(list.into_body())).unwrap();
        assert_eq!(
            value,
            json!({"apiVersion": "apps/v1", "items": [], "kind": "DeploymentList",
                   "metadata": {"resourceVersion": "7"}})
        );
    }

    /// A cached list body's bytes, checking each chunk's size and the announced length.
    fn collect(mut body: CachedListBody) -> Vec<u8> {
        use http_body::Body;
        let announced = body.size_hint().exact().unwrap() as usize;
        let mut out = Vec::new();
        while let Some(chunk) = body.next_chunk() {
            assert!(!chunk.is_empty());
            out.extend_from_slice(&chunk);
        }
        assert!(body.is_end_stream());
        assert_eq!(out.len(), announced);
        out
    }

    #[test]
    fn cached_lists_stream_in_bounded_chunks_of_whole_items() {
        use crate::watch_cache::CachedObject;
        use serde_json::json;
        use std::sync::Arc;
        let pods = resolve("pods").unwrap();
        // Enough items for many chunks, and one bigger than a chunk on its own.
        let items: Vec<_> = (0..600)
            .map(|n| {
                let note = "x".repeat(if n == 300 { 3 * LIST_CHUNK_BYTES } else { 500 });
                Arc::new(CachedObject::new(
                    pods,
                    json!({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": format!("p{n}"), "namespace": "x",
                                        "annotations": {"note": note}}}),
                ))
            })
            .collect();
        let list = CachedList {
            resource: pods,
            revision: 9,
            items: items.clone(),
        };
        let expected = serde_json::to_vec(&list).unwrap();
        let mut body = list.into_body();
        let mut chunks = Vec::new();
        while let Some(chunk) = body.next_chunk() {
            chunks.push(chunk);
        }
        assert_eq!(chunks.concat(), expected);
        assert!(chunks.len() > 5, "{} chunks", chunks.len());
        // Only the chunk holding the big item outgrows the chunk size.
        let oversized: Vec<_> = chunks
            .iter()
            .filter(|c| c.len() > LIST_CHUNK_BYTES)
            .collect();
        assert_eq!(oversized.len(), 1);
        assert!(oversized[0].len() < 4 * LIST_CHUNK_BYTES);
    }

    /// What decoding a stored object makes of it as a list item.
    fn decoded_item(stored: &[u8], rev: i64) -> serde_json::Value {
        let mut object = crate::registry::meta::decode_from_store(stored, rev).unwrap();
        object.as_object_mut().unwrap().remove("kind");
        object.as_object_mut().unwrap().remove("apiVersion");
        object
    }

    #[test]
    fn stored_objects_splice_as_decoded_list_items() {
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"annotations": {"a": "}{\"]["}, "name": "web", "namespace": "x",
                         "uid": "u-1", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}],
                     "nodeName": null, "x": [true, false, 1.5e3, -2]},
            "status": {}});
        let cases: Vec<Vec<u8>> = vec![
            serde_json::to_vec(&pod).unwrap(),
            serde_json::to_vec_pretty(&pod).unwrap(),
            br#"{"metadata":{"resourceVersion":"3","name":"a"},"kind":"Pod"}"#.to_vec(),
            br#"{"metadata":{}}"#.to_vec(),
            br#"{"metadata":{"zz":1},"apiVersion":"v1"}"#.to_vec(),
            br#" { "metadata" : { "name" : "a" } , "b" : "q\"x\\" } "#.to_vec(),
        ];
        for stored in &cases {
            let mut out = b"[".to_vec();
            assert!(splice_stored_item(&mut out, stored, 42), "{stored:?}");
            out.push(b']');
            let items: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
            assert_eq!(items[0], decoded_item(stored, 42));
            assert_eq!(items[0]["metadata"]["resourceVersion"], "42");
        }
        // Compact input in sorted order comes out as a sorted map would write it.
        let mut out = Vec::new();
        assert!(splice_stored_item(&mut out, &cases[0], 42));
        assert_eq!(
            out,
            serde_json::to_vec(&decoded_item(&cases[0], 42)).unwrap()
        );
        // What the splice cannot vouch for is left to the decoder, nothing appended.
        for odd in [
            &br#"{"spec":{}}"#[..],
            br#"{"metadata":null}"#,
            br#"{"metadata":{"na\u006de":"a"}}"#,
            br#"[1]"#,
            br#"{"metadata":{"name":"a"}"#,
            br#"{"metadata":{"name":"a"}} x"#,
            br#"{"metadata":{"name":[}}"#,
            b"",
        ] {
            let mut out = b"[".to_vec();
            assert!(!splice_stored_item(&mut out, odd, 1), "{odd:?}");
            assert_eq!(out, b"[");
        }
    }

    #[test]
    fn continue_tokens_round_trip_and_reject_forgeries() {
        let t = ContinueToken::after(42, "default/web");
        let text = t.encode();
        assert_eq!(ContinueToken::decode(&text).unwrap(), t);
        assert_eq!(t.start, "default/web\u{0}");
        let forged = |json: &str| URL_SAFE.encode(json.as_bytes());
        for bad in [
            forged(r#"{"v":"meta.k8s.io/v1","rv":0,"start":"a"}"#),
            forged(r#"{"v":"x","rv":3,"start":"a"}"#),
            forged(r#"{"v":"meta.k8s.io/v1","rv":3,"start":"/etc"}"#),
            forged(r#"{"v":"meta.k8s.io/v1","rv":3,"start":"../x"}"#),
            forged("[]"),
            "%%%".to_string(),
        ] {
            assert_eq!(
                ContinueToken::decode(&bad).unwrap_err().code(),
                400,
                "{bad}"
            );
        }
    }
}

/// A list's JSON as REST sends it: spliced whole (read from the store), or streamed
/// from the watch cache's objects.
#[derive(Debug)]
pub enum ListJson {
    /// The whole list.
    Whole(Vec<u8>),
    /// A cached list, built as it is sent.
    Cached(CachedListBody),
}

/// A list answered from the watch cache: the cache's own objects, shared. It
/// serializes as the `<Kind>List` upstream sends, items without kind and apiVersion.
#[derive(Debug)]
pub struct CachedList {
    /// The resource listed.
    pub resource: &'static rudder_api::resource::ResourceInfo,
    /// The cache's revision.
    pub revision: i64,
    /// The matching objects.
    pub items: Vec<std::sync::Arc<CachedObject>>,
}

impl CachedList {
    /// The list's JSON as a body built chunk by chunk while the connection sends it:
    /// the items spliced from the JSON each object was cached with (a 10,000-pod list
    /// is 20 MB: encoding it again per request was most of its cost, and building it
    /// whole before the first byte left the wire was most of what remained). Keys in
    /// the order a `Value` map writes them (sorted), as the [`serde::Serialize`] form.
    pub fn into_body(self) -> CachedListBody {
        let metadata = serde_json::json!({"resourceVersion": self.revision.to_string()});
        let (head, tail) = list_frame(self.resource, &metadata);
        let items_len: usize = self.items.iter().map(|i| i.item_len()).sum();
        let commas = self.items.len().saturating_sub(1);
        CachedListBody {
            remaining: head.len() + items_len + commas + tail.len(),
            head: Some(head),
            items: self.items.into_iter().peekable(),
            first: true,
            tail: Some(tail),
        }
    }
}

/// Bytes per chunk of a [`CachedListBody`]: big enough that per-chunk costs vanish
/// beside the copying, small enough to stay clear of malloc's mmap threshold.
const LIST_CHUNK_BYTES: usize = 64 * 1024;

/// A cached list's JSON as an HTTP body of [`LIST_CHUNK_BYTES`] chunks, each built when
/// the connection asks for it, with its exact length known up front (Content-Length).
#[derive(Debug)]
pub struct CachedListBody {
    head: Option<Vec<u8>>,
    items: std::iter::Peekable<std::vec::IntoIter<std::sync::Arc<CachedObject>>>,
    first: bool,
    tail: Option<Vec<u8>>,
    remaining: usize,
}

impl CachedListBody {
    /// The next chunk: whole items up to the chunk size (or one larger item).
    fn next_chunk(&mut self) -> Option<bytes::Bytes> {
        let mut out = Vec::with_capacity(LIST_CHUNK_BYTES);
        if let Some(head) = self.head.take() {
            out.extend_from_slice(&head);
        }
        while let Some(item) = self.items.peek() {
            let len = item.item_len() + usize::from(!self.first);
            if !out.is_empty() && out.len() + len > LIST_CHUNK_BYTES {
                break;
            }
            if !std::mem::take(&mut self.first) {
                out.push(b',');
            }
            item.write_item(&mut out);
            self.items.next();
        }
        if self.items.peek().is_none()
            && let Some(tail) = self.tail.take()
        {
            out.extend_from_slice(&tail);
        }
        self.remaining -= out.len();
        (!out.is_empty()).then(|| bytes::Bytes::from(out))
    }
}

impl http_body::Body for CachedListBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(
            self.get_mut()
                .next_chunk()
                .map(|c| Ok(http_body::Frame::data(c))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining as u64)
    }
}

impl serde::Serialize for CachedList {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        // Keys in the order a `Value` map writes them (sorted), so both paths agree.
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("apiVersion", &self.resource.api_version())?;
        map.serialize_entry("items", &ItemsWithoutType(&self.items))?;
        map.serialize_entry("kind", &format!("{}List", self.resource.kind))?;
        map.serialize_entry(
            "metadata",
            &serde_json::json!({"resourceVersion": self.revision.to_string()}),
        )?;
        map.end()
    }
}

struct ItemsWithoutType<'a>(&'a [std::sync::Arc<CachedObject>]);

impl serde::Serialize for ItemsWithoutType<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|item| WithoutType(item)))
    }
}

/// An object as a list item: without `kind` and `apiVersion`, as upstream encodes
/// list items.
struct WithoutType<'a>(&'a serde_json::Value);

impl serde::Serialize for WithoutType<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(object) = self.0.as_object() else {
            return self.0.serialize(serializer);
        };
        let fields = object
            .iter()
            .filter(|(k, _)| k.as_str() != "kind" && k.as_str() != "apiVersion");
        let mut map = serializer.serialize_map(None)?;
        for (k, v) in fields {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// The JSON of a `<Kind>List` around items already encoded, keys in the order a
/// `Value` map writes them; `metadata` is the list's metadata object.
pub fn list_json(
    resource: &rudder_api::resource::ResourceInfo,
    metadata: &serde_json::Value,
    items_len: usize,
    write_items: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let (head, tail) = list_frame(resource, metadata);
    let mut out = Vec::with_capacity(head.len() + items_len + tail.len());
    out.extend_from_slice(&head);
    write_items(&mut out);
    out.extend_from_slice(&tail);
    out
}

/// What comes before a `<Kind>List`'s items (up to the items' `[`) and after them.
fn list_frame(
    resource: &rudder_api::resource::ResourceInfo,
    metadata: &serde_json::Value,
) -> (Vec<u8>, Vec<u8>) {
    let head = format!(
        "{{\"apiVersion\":{},\"items\":[",
        serde_json::Value::from(resource.api_version())
    );
    let tail = format!(
        "],\"kind\":{},\"metadata\":{metadata}}}",
        serde_json::Value::from(format!("{}List", resource.kind)),
    );
    (head.into_bytes(), tail.into_bytes())
}

/// Appends a stored object as a list item without decoding it: its JSON without
/// `apiVersion` and `kind`, `metadata.resourceVersion` set to the key's revision
/// (placed as a sorted map places it). `false`, with nothing appended, when the
/// bytes are not the plain JSON object this server stores; the caller decodes them.
pub fn splice_stored_item(out: &mut Vec<u8>, stored: &[u8], mod_revision: i64) -> bool {
    let start = out.len();
    let spliced = splice(out, stored, mod_revision).is_some();
    if !spliced {
        out.truncate(start);
    }
    spliced
}

fn splice(out: &mut Vec<u8>, stored: &[u8], mod_revision: i64) -> Option<()> {
    // The scan below trusts the JSON to be well formed: check that first (without
    // building anything), so that corrupt bytes reach the decoder and its error.
    serde_json::from_slice::<serde::de::IgnoredAny>(stored).ok()?;
    let mut scan = Scan {
        bytes: stored,
        at: 0,
    };
    let members = scan.object()?;
    scan.space();
    if scan.at != stored.len() {
        return None;
    }
    let mut has_metadata = false;
    out.push(b'{');
    let mut first = true;
    for (key, value) in members {
        let name = &stored[key.0 + 1..key.1 - 1];
        if name == b"apiVersion" || name == b"kind" {
            continue;
        }
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        out.extend_from_slice(&stored[key.0..key.1]);
        out.push(b':');
        if name == b"metadata" {
            has_metadata = true;
            let mut inner = Scan {
                bytes: stored,
                at: value.0,
            };
            write_metadata(out, stored, &inner.object()?, mod_revision)?;
        } else {
            out.extend_from_slice(&stored[value.0..value.1]);
        }
    }
    out.push(b'}');
    // Without a metadata object, decoding makes one: leave that to the decoder.
    has_metadata.then_some(())
}

/// `metadata`'s members with `resourceVersion` put (or replaced) in sorted place.
fn write_metadata(
    out: &mut Vec<u8>,
    bytes: &[u8],
    members: &[(Span, Span)],
    mod_revision: i64,
) -> Option<()> {
    const FIELD: &[u8] = b"resourceVersion";
    let version = format!("\"resourceVersion\":\"{mod_revision}\"");
    let mut written = false;
    let mut first = true;
    let mut comma = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
    };
    out.push(b'{');
    for &(key, value) in members {
        let name = &bytes[key.0 + 1..key.1 - 1];
        // An escaped key cannot be compared raw: decode instead.
        if name.contains(&b'\\') {
            return None;
        }
        if name == FIELD {
            continue;
        }
        if !written && name > FIELD {
            comma(out);
            out.extend_from_slice(version.as_bytes());
            written = true;
        }
        comma(out);
        out.extend_from_slice(&bytes[key.0..value.1]);
    }
    if !written {
        comma(out);
        out.extend_from_slice(version.as_bytes());
    }
    out.push(b'}');
    Some(())
}

/// A byte range `[start, end)` of the scanned JSON.
type Span = (usize, usize);

/// Just enough of a JSON reader to find an object's members: strings, nesting and
/// scalars are skipped over, not decoded. Anything malformed is `None`.
struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scan<'_> {
    fn space(&mut self) {
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
        {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.space();
        (self.bytes.get(self.at) == Some(&byte)).then(|| self.at += 1)
    }

    /// The members of the object at the cursor: (key with its quotes, value).
    fn object(&mut self) -> Option<Vec<(Span, Span)>> {
        self.eat(b'{')?;
        let mut members = Vec::new();
        if self.eat(b'}').is_some() {
            return Some(members);
        }
        loop {
            self.space();
            let key = self.string()?;
            self.eat(b':')?;
            self.space();
            let start = self.at;
            self.value()?;
            members.push((key, (start, self.at)));
            if self.eat(b',').is_none() {
                self.eat(b'}')?;
                return Some(members);
            }
        }
    }

    fn string(&mut self) -> Option<Span> {
        let start = self.at;
        (self.bytes.get(self.at) == Some(&b'"')).then_some(())?;
        self.at += 1;
        loop {
            match self.bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some((start, self.at));
                }
                b'\\' => self.at += 2,
                _ => self.at += 1,
            }
        }
    }

    /// Skips one value (whose first byte is at the cursor).
    fn value(&mut self) -> Option<()> {
        match self.bytes.get(self.at)? {
            b'"' => self.string().map(drop),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.bytes.get(self.at)? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                let start = self.at;
                while self.bytes.get(self.at).is_some_and(|b| {
                    !matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                }) {
                    self.at += 1;
                }
                (self.at > start).then_some(())
            }
        }
    }
}
