//! The TokenRequest API (`POST .../serviceaccounts/<name>/token`,
//! authentication.k8s.io/v1): a signed token for a service account, never stored,
//! optionally bound to a Pod or Secret so it dies with that object. What
//! `kubectl create token` calls (with a protobuf body, decoded by the REST codec), and what
//! the kubelet asks for projected volumes.

use rudder_api::resource::{self, ResourceInfo};
use rudder_pki::Identity;
use serde_json::{Value, json};

use crate::admission::{Attributes, RequestContext, Verb};
use crate::auth::authn::{DEFAULT_TOKEN_SECONDS, TokenIssuer};
use crate::auth::token::{BoundTo, NamedObject};
use crate::error::{Error, Result};
use crate::registry::{ObjectRef, Registry, meta};
use crate::rest::codec;

fn service_accounts() -> Result<&'static ResourceInfo> {
    resource::by_plural("", "serviceaccounts").ok_or(Error::PathNotFound)
}

/// Whether `ctx` may ask tokens for `namespace/name`: `create` on
/// `serviceaccounts/token`, as upstream.
pub fn authorize(
    registry: &Registry,
    ctx: &RequestContext,
    namespace: &str,
    name: &str,
) -> Result<()> {
    registry.authorizer().authorize(
        ctx,
        &Attributes {
            verb: Verb::Create,
            resource: service_accounts()?,
            subresource: Some("token"),
            namespace: Some(namespace),
            name,
        },
    )
}

/// What a TokenRequest asks (its `spec`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Spec {
    audiences: Option<Vec<String>>,
    expiration_seconds: Option<u64>,
    bound: Option<BoundRef>,
}

/// `spec.boundObjectRef`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BoundRef {
    kind: String,
    name: String,
    uid: String,
}

fn invalid(field: &str, why: &str) -> Error {
    Error::BadRequest(format!("TokenRequest is invalid: spec.{field}: {why}"))
}

impl Spec {
    fn parse(spec: &Value) -> Result<Self> {
        let audiences = spec.get("audiences").and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect::<Vec<_>>()
        });
        let expiration_seconds = match spec.get("expirationSeconds") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                invalid(
                    "expirationSeconds",
                    "Invalid value: must be a positive integer",
                )
            })?),
        };
        let bound = match spec.get("boundObjectRef") {
            None | Some(Value::Null) => None,
            Some(r) => {
                let text = |f: &str| r[f].as_str().unwrap_or_default().to_string();
                let bound = BoundRef {
                    kind: text("kind"),
                    name: text("name"),
                    uid: text("uid"),
                };
                if bound.name.is_empty() {
                    return Err(invalid("boundObjectRef.name", "Required value"));
                }
                let api_version = r["apiVersion"].as_str().unwrap_or("v1");
                if api_version != "v1" || !matches!(bound.kind.as_str(), "Pod" | "Secret") {
                    return Err(Error::BadRequest(format!(
                        "cannot bind token to object of type {api_version}, Kind={}",
                        bound.kind
                    )));
                }
                Some(bound)
            }
        };
        Ok(Spec {
            audiences,
            expiration_seconds,
            bound,
        })
    }
}

/// NodeRestriction on TokenRequests, as upstream: a kubelet (`node`) may only
/// ask for tokens bound, by uid, to a pod scheduled on it. `pod` is the bound
/// pod once read (None: check the request alone).
fn node_may_ask(
    account: &str,
    bound: Option<&BoundRef>,
    pod: Option<&Value>,
    node: &str,
) -> Result<()> {
    let refuse = |why: &str| {
        Err(Error::Forbidden(Box::new(rudder_api::status::forbidden(
            service_accounts()?,
            account,
            why,
        ))))
    };
    let Some(bound) = bound.filter(|b| b.kind == "Pod") else {
        return refuse("node requested token not bound to a pod");
    };
    if bound.uid.is_empty() {
        return refuse("node requested token with a pod binding without a uid");
    }
    if let Some(pod) = pod
        && pod["spec"]["nodeName"].as_str() != Some(node)
    {
        return refuse("node requested token bound to a pod scheduled on a different node");
    }
    Ok(())
}

/// Answers a TokenRequest for `namespace/name` whose body is `body` (JSON, YAML
/// or protobuf, as `headers` say): the TokenRequest with `status.token` and
/// `status.expirationTimestamp`.
pub async fn create(
    registry: &Registry,
    issuer: &TokenIssuer,
    ctx: &RequestContext,
    namespace: &str,
    name: &str,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<Value> {
    let spec = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        codec::decode_object(codec::body_format(headers)?, body)?
            .get("spec")
            .cloned()
            .unwrap_or(Value::Null)
    };
    let spec = Spec::parse(&spec)?;
    let node = {
        let groups = crate::auth::user_groups(ctx);
        crate::auth::node::node_name(&crate::auth::rbac::UserInfo {
            name: ctx.user(),
            groups: &groups,
        })
        .map(str::to_string)
    };
    if let Some(node) = &node {
        node_may_ask(name, spec.bound.as_ref(), None, node)?;
    }
    // Objects are read with the server's own authority: the caller was
    // authorized for the token subresource, as upstream.
    let system = RequestContext::new(Identity::new("system:apiserver", ["system:masters"]));
    let read = |plural: &'static str, object: &str| {
        let r = resource::by_plural("", plural).map(|resource| ObjectRef {
            resource,
            namespace: Some(namespace.to_string()),
            name: object.to_string(),
            subresource: None,
        });
        let system = &system;
        async move { registry.get(system, &r.ok_or(Error::PathNotFound)?).await }
    };
    let account = read("serviceaccounts", name).await?;
    let uid = meta::meta_str(&account, "uid").to_string();
    let bound = match &spec.bound {
        None => None,
        Some(b) => {
            let plural = if b.kind == "Pod" { "pods" } else { "secrets" };
            let object = read(plural, &b.name).await?;
            if b.kind == "Pod" && object["spec"]["serviceAccountName"] != name {
                return Err(Error::BadRequest(format!(
                    "cannot bind token for serviceaccount \"{name}\" to pod running with different serviceaccount name."
                )));
            }
            if let Some(node) = &node {
                node_may_ask(name, Some(b), Some(&object), node)?;
            }
            let stored_uid = meta::meta_str(&object, "uid").to_string();
            if !b.uid.is_empty() && b.uid != stored_uid {
                return Err(Error::Conflict {
                    resource: resource::by_plural("", plural).ok_or(Error::PathNotFound)?,
                    name: b.name.clone(),
                    why: format!(
                        "the UID in the bound object reference ({}) does not match the UID in record. The object might have been deleted and then recreated",
                        b.uid
                    ),
                });
            }
            let object = NamedObject {
                name: b.name.clone(),
                uid: stored_uid,
            };
            Some(if b.kind == "Pod" {
                BoundTo::Pod(object)
            } else {
                BoundTo::Secret(object)
            })
        }
    };
    let (token, exp) = issuer.issue(
        namespace,
        name,
        &uid,
        spec.audiences.clone(),
        spec.expiration_seconds,
        bound.clone(),
    )?;
    let mut answer_spec = json!({
        "audiences": spec.audiences.unwrap_or_else(|| issuer.default_audiences().to_vec()),
        "expirationSeconds": spec.expiration_seconds.unwrap_or(DEFAULT_TOKEN_SECONDS),
    });
    if let Some(BoundTo::Pod(object) | BoundTo::Secret(object)) = &bound {
        let kind = spec
            .bound
            .as_ref()
            .map(|b| b.kind.as_str())
            .unwrap_or_default();
        answer_spec["boundObjectRef"] =
            json!({"kind": kind, "apiVersion": "v1", "name": object.name, "uid": object.uid});
    }
    Ok(json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace,
                     "creationTimestamp": meta::now_rfc3339()},
        "spec": answer_spec,
        "status": {
            "token": token,
            "expirationTimestamp": meta::rfc3339(i64::try_from(exp).unwrap_or(i64::MAX)),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_ask_only_for_tokens_bound_to_their_pods() {
        let pod = |uid: &str| BoundRef {
            kind: "Pod".into(),
            name: "web".into(),
            uid: uid.into(),
        };
        let secret = BoundRef {
            kind: "Secret".into(),
            ..pod("u")
        };
        let on = |node: &str| json!({"spec": {"nodeName": node}});
        let why = |r: Result<()>| r.err().map(|e| e.to_string());
        let refused =
            |what: &str| Some(format!("serviceaccounts \"default\" is forbidden: {what}"));
        assert_eq!(
            why(node_may_ask("default", None, None, "n1")),
            refused("node requested token not bound to a pod")
        );
        assert_eq!(
            why(node_may_ask("default", Some(&secret), None, "n1")),
            refused("node requested token not bound to a pod")
        );
        assert_eq!(
            why(node_may_ask("default", Some(&pod("")), None, "n1")),
            refused("node requested token with a pod binding without a uid")
        );
        assert_eq!(
            why(node_may_ask(
                "default",
                Some(&pod("u")),
                Some(&on("n1")),
                "n1"
            )),
            None
        );
        assert_eq!(
            why(node_may_ask(
                "default",
                Some(&pod("u")),
                Some(&on("n2")),
                "n1"
            )),
            refused("node requested token bound to a pod scheduled on a different node")
        );
    }

    #[test]
    fn specs_as_upstream_reads_them() {
        assert_eq!(Spec::parse(&Value::Null).unwrap(), Spec::default());
        let s = Spec::parse(&json!({"audiences": ["vault"], "expirationSeconds": 900,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": "u"}}))
        .unwrap();
        assert_eq!(s.audiences, Some(vec!["vault".to_string()]));
        assert_eq!(s.expiration_seconds, Some(900));
        assert_eq!(
            s.bound,
            Some(BoundRef {
                kind: "Pod".into(),
                name: "web".into(),
                uid: "u".into()
            })
        );
        let cases = [
            (
                json!({"expirationSeconds": -5}),
                "TokenRequest is invalid: spec.expirationSeconds: Invalid value: must be a positive integer",
            ),
            (
                json!({"boundObjectRef": {"kind": "Node", "apiVersion": "v1", "name": "n1"}}),
                "cannot bind token to object of type v1, Kind=Node",
            ),
            (
                json!({"boundObjectRef": {"kind": "Pod"}}),
                "TokenRequest is invalid: spec.boundObjectRef.name: Required value",
            ),
        ];
        for (spec, message) in cases {
            let err = Spec::parse(&spec).unwrap_err();
            assert_eq!((err.code(), err.to_string()), (400, message.to_string()));
        }
    }
}
