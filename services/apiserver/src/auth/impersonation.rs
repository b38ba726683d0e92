//! Impersonation (`Impersonate-User`, `Impersonate-Group` headers, what
//! `kubectl --as`/`--as-group` send), honoured only when the caller may
//! `impersonate` the named user (`users`, or `serviceaccounts` in its namespace
//! for a service-account user) and each group (`groups`), as upstream's
//! `WithImpersonation` filter. The request then runs as the impersonated identity.

use http::HeaderMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusDetails};
use rudder_pki::Identity;

use crate::admission::{Authorizer, RequestContext};
use crate::auth::rbac::{Request, Target, UserInfo};
use crate::auth::user_groups;
use crate::error::{Error, Result};

/// The header naming the user to act as.
pub const IMPERSONATE_USER: &str = "impersonate-user";
/// The header naming a group to act in (repeatable).
pub const IMPERSONATE_GROUP: &str = "impersonate-group";

/// The context the request runs with: `None` when it asks no impersonation, the
/// impersonated identity when allowed, 403 (or 400 for groups without a user)
/// otherwise.
pub fn impersonate(
    authorizer: &dyn Authorizer,
    ctx: &RequestContext,
    headers: &HeaderMap,
) -> Result<Option<RequestContext>> {
    let user = headers
        .get(IMPERSONATE_USER)
        .map(|v| v.to_str().unwrap_or_default().to_string());
    let groups: Vec<String> = headers
        .get_all(IMPERSONATE_GROUP)
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .collect();
    let Some(user) = user else {
        if groups.is_empty() {
            return Ok(None);
        }
        return Err(Error::BadRequest(
            "requested impersonation of groups without impersonating a user".into(),
        ));
    };
    if user.is_empty() {
        return Err(Error::BadRequest(
            "Impersonate-User must not be empty".into(),
        ));
    }
    let caller_groups = user_groups(ctx);
    let allowed = |resource: &str, namespace: Option<&str>, name: &str| {
        authorizer.decide(&Request {
            user: UserInfo {
                name: ctx.user(),
                groups: &caller_groups,
            },
            verb: "impersonate",
            target: Target::Resource {
                api_group: "",
                resource,
                subresource: None,
                namespace,
                name,
            },
        })
    };
    let user_ok = match service_account(&user) {
        Some((ns, name)) => allowed("serviceaccounts", Some(ns), name),
        None => allowed("users", None, &user),
    };
    if !user_ok {
        let (resource, name, scope) = match service_account(&user) {
            Some((ns, name)) => (
                "serviceaccounts",
                name,
                format!("in the namespace \"{ns}\""),
            ),
            None => ("users", user.as_str(), "at the cluster scope".to_string()),
        };
        return Err(denied(ctx, resource, name, &scope));
    }
    for group in &groups {
        if !allowed("groups", None, group) {
            return Err(denied(ctx, "groups", group, "at the cluster scope"));
        }
    }
    Ok(Some(RequestContext::new(Identity::new(user, groups))))
}

fn service_account(user: &str) -> Option<(&str, &str)> {
    user.strip_prefix("system:serviceaccount:")?.split_once(':')
}

fn denied(ctx: &RequestContext, resource: &str, name: &str, scope: &str) -> Error {
    Error::Forbidden(Box::new(Status {
        status: Some("Failure".into()),
        code: Some(403),
        reason: Some("Forbidden".into()),
        message: Some(format!(
            "{resource} \"{name}\" is forbidden: User \"{}\" cannot impersonate resource \"{resource}\" in API group \"\" {scope}",
            ctx.user()
        )),
        details: Some(StatusDetails {
            name: Some(name.into()),
            kind: Some(resource.into()),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::RbacAuthorizer;
    use crate::auth::bootstrap;
    use crate::auth::rbac::Policy;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn only_with_the_impersonate_verb() {
        let a = RbacAuthorizer::with_policy(Policy::new(
            [],
            bootstrap::cluster_roles(),
            [],
            bootstrap::cluster_role_bindings(),
        ));
        let admin = RequestContext::new(Identity::new("admin", ["system:masters"]));
        let bob = RequestContext::new(Identity::new("bob", Vec::<String>::new()));
        assert_eq!(impersonate(&a, &admin, &HeaderMap::new()).unwrap(), None);
        let as_carol = headers(&[("Impersonate-User", "carol"), ("Impersonate-Group", "devs")]);
        let got = impersonate(&a, &admin, &as_carol).unwrap().unwrap();
        assert_eq!(got.identity, Identity::new("carol", ["devs"]));
        let err = impersonate(&a, &bob, &as_carol).unwrap_err();
        assert_eq!(
            err.to_string(),
            "users \"carol\" is forbidden: User \"bob\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        );
        let sa = headers(&[("Impersonate-User", "system:serviceaccount:ci:bot")]);
        assert_eq!(
            impersonate(&a, &bob, &sa).unwrap_err().to_string(),
            "serviceaccounts \"bot\" is forbidden: User \"bob\" cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"ci\""
        );
        let groups_only = headers(&[("Impersonate-Group", "devs")]);
        assert_eq!(
            impersonate(&a, &admin, &groups_only).unwrap_err().code(),
            400
        );
    }
}
