//! authorization.k8s.io/v1: SelfSubjectAccessReview, SubjectAccessReview and
//! SelfSubjectRulesReview (create-only, never stored), what `kubectl auth can-i`
//! (with `--list` and `--as`) sends. The answers come from the same authorizer
//! that guards requests, so "asked" and "tried" cannot disagree.
//!
//! The functions here are pure: a request body and the caller in, the response
//! object out.

use k8s_openapi::api::rbac::v1::PolicyRule;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIGroup, APIResource, APIResourceList, GroupVersionForDiscovery, Status, StatusDetails,
};
use serde_json::{Value, json};

use crate::admission::{Authorizer, RequestContext};
use crate::auth::rbac::{Request, Target, UserInfo};
use crate::auth::user_groups;
use crate::error::{Error, Result};

/// The API group of the reviews.
pub const GROUP: &str = "authorization.k8s.io";

/// The review kinds served, by plural.
pub const REVIEWS: &[(&str, &str)] = &[
    ("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
    ("selfsubjectrulesreviews", "SelfSubjectRulesReview"),
    ("subjectaccessreviews", "SubjectAccessReview"),
];

/// `GET /apis/authorization.k8s.io`.
pub fn api_group() -> APIGroup {
    let gv = GroupVersionForDiscovery {
        group_version: format!("{GROUP}/v1"),
        version: "v1".into(),
    };
    APIGroup {
        name: GROUP.into(),
        preferred_version: Some(gv.clone()),
        versions: vec![gv],
        server_address_by_client_cidrs: None,
    }
}

/// `GET /apis/authorization.k8s.io/v1`.
pub fn api_resource_list() -> APIResourceList {
    APIResourceList {
        group_version: format!("{GROUP}/v1"),
        resources: REVIEWS
            .iter()
            .map(|(plural, kind)| APIResource {
                name: (*plural).into(),
                kind: (*kind).into(),
                namespaced: false,
                singular_name: String::new(),
                verbs: vec!["create".into()],
                ..Default::default()
            })
            .collect(),
    }
}

/// The 403 for a caller who may not create a review.
fn review_denied(ctx: &RequestContext, plural: &str) -> Error {
    Error::Forbidden(Box::new(Status {
        status: Some("Failure".into()),
        code: Some(403),
        reason: Some("Forbidden".into()),
        message: Some(format!(
            "{plural}.{GROUP} is forbidden: User \"{}\" cannot create resource \"{plural}\" in API group \"{GROUP}\" at the cluster scope",
            ctx.user()
        )),
        details: Some(StatusDetails {
            group: Some(GROUP.into()),
            kind: Some(plural.into()),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

/// Answers a `POST` of a review of kind `plural` by `ctx`; the response is the
/// request object with its `status` filled in (201 on the wire).
pub fn create(
    authorizer: &dyn Authorizer,
    ctx: &RequestContext,
    plural: &str,
    format: crate::rest::codec::BodyFormat,
    body: &[u8],
) -> Result<Value> {
    let Some((_, kind)) = REVIEWS.iter().find(|(p, _)| *p == plural) else {
        return Err(Error::PathNotFound);
    };
    let caller_groups = user_groups(ctx);
    let may_create = authorizer.decide(&Request {
        user: UserInfo {
            name: ctx.user(),
            groups: &caller_groups,
        },
        verb: "create",
        target: Target::Resource {
            api_group: GROUP,
            resource: plural,
            subresource: None,
            namespace: None,
            name: "",
        },
    });
    if !may_create {
        return Err(review_denied(ctx, plural));
    }
    let mut object = crate::rest::codec::decode_object(format, body)?;
    let spec = object.get("spec").cloned().unwrap_or(Value::Null);
    let status = match plural {
        "selfsubjectrulesreviews" => {
            let namespace = spec.get("namespace").and_then(Value::as_str).unwrap_or("");
            let user = UserInfo {
                name: ctx.user(),
                groups: &caller_groups,
            };
            rules_status(&authorizer.rules(&user, Some(namespace).filter(|n| !n.is_empty())))
        }
        _ => {
            let (name, groups) = if plural == "subjectaccessreviews" {
                let user = spec.get("user").and_then(Value::as_str).unwrap_or("");
                let groups: Vec<String> = spec
                    .get("groups")
                    .and_then(Value::as_array)
                    .map(|g| {
                        g.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                if user.is_empty() && groups.is_empty() {
                    return Err(invalid(
                        kind,
                        "spec.user",
                        "at least one of user or group must be specified",
                    ));
                }
                (user.to_string(), groups)
            } else {
                (ctx.user().to_string(), caller_groups.clone())
            };
            let allowed = access(authorizer, &name, &groups, &spec, kind)?;
            if allowed {
                json!({"allowed": true, "reason": "allowed by the authorizer"})
            } else {
                json!({"allowed": false})
            }
        }
    };
    object["status"] = status;
    object["apiVersion"] = format!("{GROUP}/v1").into();
    object["kind"] = (*kind).into();
    Ok(object)
}

fn invalid(kind: &str, field: &str, why: &str) -> Error {
    Error::BadRequest(format!("{kind} is invalid: {field}: Invalid value: {why}"))
}

/// Whether the subject may do what `spec` describes.
fn access(
    authorizer: &dyn Authorizer,
    user: &str,
    groups: &[String],
    spec: &Value,
    kind: &str,
) -> Result<bool> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let user_info = UserInfo { name: user, groups };
    if let Some(r) = spec.get("resourceAttributes").filter(|v| v.is_object()) {
        let (verb, group, resource, sub, ns, name) = (
            s(r, "verb"),
            s(r, "group"),
            s(r, "resource"),
            s(r, "subresource"),
            s(r, "namespace"),
            s(r, "name"),
        );
        return Ok(authorizer.decide(&Request {
            user: user_info,
            verb: &verb,
            target: Target::Resource {
                api_group: &group,
                resource: &resource,
                subresource: Some(sub.as_str()).filter(|s| !s.is_empty()),
                namespace: Some(ns.as_str()).filter(|s| !s.is_empty()),
                name: &name,
            },
        }));
    }
    if let Some(n) = spec.get("nonResourceAttributes").filter(|v| v.is_object()) {
        let (verb, path) = (s(n, "verb"), s(n, "path"));
        return Ok(authorizer.decide(&Request {
            user: user_info,
            verb: &verb,
            target: Target::NonResource { path: &path },
        }));
    }
    Err(invalid(
        kind,
        "spec.resourceAttributes",
        "exactly one of nonResourceAttributes or resourceAttributes must be specified",
    ))
}

/// A SelfSubjectRulesReview status from rules.
pub fn rules_status(rules: &[PolicyRule]) -> Value {
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for rule in rules {
        if rule
            .non_resource_urls
            .as_ref()
            .is_some_and(|u| !u.is_empty())
        {
            non_resource_rules.push(json!({
                "verbs": rule.verbs,
                "nonResourceURLs": rule.non_resource_urls,
            }));
        } else {
            let mut r = json!({
                "verbs": rule.verbs,
                "apiGroups": rule.api_groups.clone().unwrap_or_default(),
                "resources": rule.resources.clone().unwrap_or_default(),
            });
            if let Some(names) = rule.resource_names.as_ref().filter(|n| !n.is_empty()) {
                r["resourceNames"] = json!(names);
            }
            resource_rules.push(r);
        }
    }
    json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::RbacAuthorizer;
    use crate::auth::bootstrap;
    use crate::auth::rbac::Policy;
    use rudder_pki::Identity;

    const J: crate::rest::codec::BodyFormat = crate::rest::codec::BodyFormat::Json;

    fn authorizer() -> RbacAuthorizer {
        RbacAuthorizer::with_policy(Policy::new(
            [],
            bootstrap::cluster_roles(),
            [],
            bootstrap::cluster_role_bindings(),
        ))
    }

    fn ctx(user: &str, groups: &[&str]) -> RequestContext {
        RequestContext::new(Identity::new(user, groups.iter().copied()))
    }

    fn ssar(verb: &str, resource: &str, ns: &str) -> Vec<u8> {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
               "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "namespace": ns}}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn self_access_reviews_answer_for_the_caller() {
        let a = authorizer();
        let sched = ctx("system:kube-scheduler", &[]);
        let r = create(
            &a,
            &sched,
            "selfsubjectaccessreviews",
            J,
            &ssar("list", "pods", ""),
        )
        .unwrap();
        assert_eq!(r["status"]["allowed"], true);
        assert_eq!(r["kind"], "SelfSubjectAccessReview");
        let r = create(
            &a,
            &sched,
            "selfsubjectaccessreviews",
            J,
            &ssar("get", "secrets", "default"),
        )
        .unwrap();
        assert_eq!(r["status"]["allowed"], false);
        let body = json!({"spec": {"nonResourceAttributes": {"verb": "get", "path": "/version"}}})
            .to_string();
        let r = create(
            &a,
            &ctx("bob", &[]),
            "selfsubjectaccessreviews",
            J,
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(r["status"]["allowed"], true);
        assert_eq!(
            create(&a, &sched, "selfsubjectaccessreviews", J, b"{\"spec\":{}}")
                .unwrap_err()
                .code(),
            400
        );
        assert_eq!(
            create(&a, &sched, "selfsubjectaccessreviews", J, b"[1")
                .unwrap_err()
                .code(),
            400
        );
    }

    #[test]
    fn subject_access_reviews_need_permission() {
        let a = authorizer();
        let body = json!({"spec": {"user": "system:kube-scheduler",
            "resourceAttributes": {"verb": "create", "resource": "pods", "subresource": "binding", "namespace": "d"}}})
        .to_string();
        let err = create(
            &a,
            &ctx("bob", &[]),
            "subjectaccessreviews",
            J,
            body.as_bytes(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "subjectaccessreviews.authorization.k8s.io is forbidden: User \"bob\" cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope"
        );
        let r = create(
            &a,
            &ctx("admin", &["system:masters"]),
            "subjectaccessreviews",
            J,
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(r["status"]["allowed"], true);
    }

    #[test]
    fn rules_reviews_list_the_callers_rules() {
        let a = authorizer();
        let body = json!({"spec": {"namespace": "default"}}).to_string();
        let r = create(
            &a,
            &ctx("system:kube-proxy", &[]),
            "selfsubjectrulesreviews",
            J,
            body.as_bytes(),
        )
        .unwrap();
        let rules = r["status"]["resourceRules"].as_array().unwrap();
        assert!(
            rules
                .iter()
                .any(|r| r["resources"] == json!(["services", "endpoints"]))
        );
        assert!(
            r["status"]["nonResourceRules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["nonResourceURLs"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("/version")))
        );
        assert_eq!(r["status"]["incomplete"], false);
    }
}
