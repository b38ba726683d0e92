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
            assert_eq!(list.to_json(), serde_json::to_vec(&list).unwrap());
        }
        let list = CachedList {
            resource: resolve("deploy").unwrap(),
            revision: 7,
            items: Vec::new(),
        };
        let value: serde_json::Value = serde_json::from_slice(&list.to_json()).unwrap();
        assert_eq!(
            value,
            json!({"apiVersion": "apps/v1", "items": [], "kind": "DeploymentList",
                   "metadata": {"resourceVersion": "7"}})
        );
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
    /// The list's JSON, the items spliced from the JSON each object was cached with
    /// (a 10,000-pod list is 12 MB: encoding it again per request was most of its
    /// cost). Keys in the order a `Value` map writes them (sorted), as the
    /// [`serde::Serialize`] form.
    pub fn to_json(&self) -> Vec<u8> {
        let head = format!(
            "{{\"apiVersion\":{},\"items\":[",
            serde_json::Value::from(self.resource.api_version())
        );
        let tail = format!(
            "],\"kind\":{},\"metadata\":{{\"resourceVersion\":\"{}\"}}}}",
            serde_json::Value::from(format!("{}List", self.resource.kind)),
            self.revision
        );
        let items: usize = self.items.iter().map(|i| i.item_len() + 1).sum();
        let mut out = Vec::with_capacity(head.len() + items + tail.len());
        out.extend_from_slice(head.as_bytes());
        for (n, item) in self.items.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            item.write_item(&mut out);
        }
        out.extend_from_slice(tail.as_bytes());
        out
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
