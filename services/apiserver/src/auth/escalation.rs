//! RBAC escalation prevention (upstream `pkg/registry/rbac/escalation_check.go`):
//! a caller may create or update a Role/ClusterRole only with permissions it
//! already holds (or with the `escalate` verb on it), and bind a role only when
//! it holds every permission the role grants in the binding's scope (or has the
//! `bind` verb on that role). Without this, anyone allowed to write roles or
//! bindings could grant themselves cluster-admin.
//!
//! Pure: the caller's permissions are asked through [`Authorizer::decide`], each
//! rule broken into single (verb, group, resource, name) requests; a wildcard in
//! the new rule is covered only by a wildcard the caller holds.

use k8s_openapi::api::rbac::v1::PolicyRule;
use rudder_api::status;
use serde_json::Value;

use crate::admission::{Attributes, Authorizer, RequestContext, Verb};
use crate::auth::rbac::{Request, Target, UserInfo};
use crate::auth::user_groups;
use crate::error::{Error, Result};

const RBAC: &str = "rbac.authorization.k8s.io";

/// Looks up a role's rules: (kind `Role`/`ClusterRole`, namespace, name) → rules,
/// None when it does not exist.
pub type RoleLookup<'a> = dyn Fn(&str, Option<&str>, &str) -> Option<Vec<PolicyRule>> + 'a;

/// The first rule part the caller does not hold, as `verb group/resource[/name]`.
pub fn uncovered(
    authorizer: &dyn Authorizer,
    user: &UserInfo<'_>,
    namespace: Option<&str>,
    rules: &[PolicyRule],
) -> Option<String> {
    for rule in rules {
        let names: Vec<&str> = match rule.resource_names.as_deref() {
            Some(n) if !n.is_empty() => n.iter().map(String::as_str).collect(),
            _ => vec![""],
        };
        for verb in &rule.verbs {
            for group in rule.api_groups.as_deref().unwrap_or_default() {
                for resource in rule.resources.as_deref().unwrap_or_default() {
                    let (resource, sub) = match resource.split_once('/') {
                        Some((r, s)) => (r, Some(s)),
                        None => (resource.as_str(), None),
                    };
                    for name in &names {
                        let held = authorizer.decide(&Request {
                            user: user.clone(),
                            verb,
                            target: Target::Resource {
                                api_group: group,
                                resource,
                                subresource: sub,
                                namespace,
                                name,
                            },
                        });
                        if !held {
                            let sub = sub.map(|s| format!("/{s}")).unwrap_or_default();
                            let name = if name.is_empty() {
                                String::new()
                            } else {
                                format!(" {name}")
                            };
                            return Some(format!("{verb} {group}/{resource}{sub}{name}"));
                        }
                    }
                }
            }
            for url in rule.non_resource_urls.as_deref().unwrap_or_default() {
                let held = authorizer.decide(&Request {
                    user: user.clone(),
                    verb,
                    target: Target::NonResource { path: url },
                });
                if !held {
                    return Some(format!("{verb} {url}"));
                }
            }
        }
    }
    None
}

/// Refuses (403) a write of a role or binding that would grant more than the
/// caller holds, unless it has `escalate` on the role (or `bind` on the bound
/// role). Other writes pass. `role_rules` finds a bound role's rules.
pub fn check(
    authorizer: &dyn Authorizer,
    ctx: &RequestContext,
    attrs: &Attributes<'_>,
    object: Option<&Value>,
    role_rules: &RoleLookup<'_>,
) -> Result<()> {
    if attrs.resource.group != RBAC
        || !matches!(attrs.verb, Verb::Create | Verb::Update | Verb::Patch)
    {
        return Ok(());
    }
    let Some(object) = object else {
        return Ok(());
    };
    let groups = user_groups(ctx);
    let user = UserInfo {
        name: ctx.user(),
        groups: &groups,
    };
    let namespace = attrs.namespace.filter(|_| attrs.resource.namespaced);
    let may = |verb: &str, resource: &str, ns: Option<&str>, name: &str| {
        authorizer.decide(&Request {
            user: user.clone(),
            verb,
            target: Target::Resource {
                api_group: RBAC,
                resource,
                subresource: None,
                namespace: ns,
                name,
            },
        })
    };
    let name = crate::registry::meta::meta_str(object, "name");
    let (rules, exempt, what) = match attrs.resource.plural {
        plural @ ("roles" | "clusterroles") => {
            let rules: Vec<PolicyRule> =
                serde_json::from_value(object["rules"].clone()).unwrap_or_default();
            let exempt = may("escalate", plural, namespace, name);
            (
                rules,
                exempt,
                "attempting to grant RBAC permissions not currently held",
            )
        }
        "rolebindings" | "clusterrolebindings" => {
            let kind = object["roleRef"]["kind"].as_str().unwrap_or_default();
            let role = object["roleRef"]["name"].as_str().unwrap_or_default();
            let (plural, role_ns) = match kind {
                "ClusterRole" => ("clusterroles", None),
                _ => ("roles", namespace),
            };
            let exempt = may("bind", plural, role_ns, role);
            let rules = role_rules(kind, role_ns, role).unwrap_or_default();
            (
                rules,
                exempt,
                "user does not hold every permission of the role it binds",
            )
        }
        _ => return Ok(()),
    };
    if exempt {
        return Ok(());
    }
    match uncovered(authorizer, &user, namespace, &rules) {
        None => Ok(()),
        Some(missing) => Err(Error::Forbidden(Box::new(status::forbidden(
            attrs.resource,
            name,
            &format!(
                "user \"{}\" (groups={:?}) is {what}: missing {missing}",
                ctx.user(),
                ctx.identity.groups
            ),
        )))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::rbac::Policy;
    use crate::auth::{RbacAuthorizer, bootstrap};
    use rudder_pki::Identity;
    use serde_json::json;

    #[test]
    fn nobody_grants_more_than_they_hold() {
        let a = RbacAuthorizer::with_policy(Policy::new(
            [],
            bootstrap::cluster_roles(),
            [serde_json::from_value(json!({
                "metadata": {"name": "ann-admin", "namespace": "team"},
                "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "admin"},
                "subjects": [{"kind": "User", "name": "ann"}]
            }))
            .unwrap()],
            bootstrap::cluster_role_bindings(),
        ));
        let roles = bootstrap::cluster_roles();
        let lookup = |kind: &str, _ns: Option<&str>, name: &str| {
            (kind == "ClusterRole")
                .then(|| {
                    roles
                        .iter()
                        .find(|r| r.metadata.name.as_deref() == Some(name))
                })
                .flatten()
                .and_then(|r| r.rules.clone())
        };
        let ann = RequestContext::new(Identity::new("ann", Vec::<String>::new()));
        let admin = RequestContext::new(Identity::new("root", ["system:masters"]));
        let res = |p| rudder_api::resource::by_plural(RBAC, p).unwrap();
        let create = |plural, ns| Attributes {
            verb: Verb::Create,
            resource: res(plural),
            subresource: None,
            namespace: ns,
            name: "x",
        };
        let binding = |role: &str| {
            json!({"metadata": {"name": "x"}, "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
                                           "subjects": [{"kind": "User", "name": "mallory"}]})
        };
        // ann (admin in team) may bind edit in team, not cluster-admin.
        assert!(
            check(
                &a,
                &ann,
                &create("rolebindings", Some("team")),
                Some(&binding("edit")),
                &lookup
            )
            .is_ok()
        );
        let err = check(
            &a,
            &ann,
            &create("rolebindings", Some("team")),
            Some(&binding("cluster-admin")),
            &lookup,
        )
        .unwrap_err();
        assert_eq!(err.code(), 403);
        assert!(
            err.to_string().starts_with(
                "rolebindings.rbac.authorization.k8s.io \"x\" is forbidden: user \"ann\""
            ),
            "{err}"
        );
        // A role with what ann holds is fine; with nodes or a wildcard it is not.
        let role = |rules: Value| json!({"metadata": {"name": "x"}, "rules": rules});
        assert!(check(&a, &ann, &create("roles", Some("team")), Some(&role(json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "pods/log"]}]))), &lookup).is_ok());
        assert!(
            check(
                &a,
                &ann,
                &create("roles", Some("team")),
                Some(&role(
                    json!([{"verbs": ["*"], "apiGroups": [""], "resources": ["pods"]}])
                )),
                &lookup
            )
            .is_err()
        );
        assert!(
            check(
                &a,
                &ann,
                &create("roles", Some("other")),
                Some(&role(
                    json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}])
                )),
                &lookup
            )
            .is_err()
        );
        // system:masters holds everything.
        assert!(
            check(
                &a,
                &admin,
                &create("clusterrolebindings", None),
                Some(&binding("cluster-admin")),
                &lookup
            )
            .is_ok()
        );
    }
}
