//! Authorization (issue 5): RBAC over the cluster's roles and bindings, read from
//! the API server's own watch caches (no store read per request), behind the
//! registry's [`Authorizer`] seam; and the bootstrap policy every cluster starts
//! with ([`bootstrap`]).
//!
//! `--authorization-mode` is a comma list evaluated in order as upstream's union
//! authorizer: the first authorizer that allows wins; when none does, the request
//! is 403 with kube-apiserver's wording.

pub mod authn;
pub mod bootstrap;
pub mod escalation;
pub mod impersonation;
pub mod node;
pub mod rbac;
pub mod review;
pub mod token;
pub mod token_request;
pub mod x509;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use rudder_api::status;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::admission::{AllowAll, Attributes, Authorizer, RequestContext};
use crate::error::{Error, Result};
use crate::watch_cache::{WatchCache, WatchCaches, WatchFrom};
use rbac::{Decision, Policy, Request, Target, UserInfo};

/// The group every authenticated caller is in (upstream `user.AllAuthenticated`).
pub const SYSTEM_AUTHENTICATED: &str = "system:authenticated";

/// One `--authorization-mode` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Allow everything (tests and single-user setups).
    AlwaysAllow,
    /// Role-based access control.
    Rbac,
    /// The node authorizer (kubelets).
    Node,
}

impl Mode {
    /// Parses upstream's mode names.
    pub fn parse(name: &str) -> Option<Mode> {
        match name {
            "AlwaysAllow" => Some(Mode::AlwaysAllow),
            "RBAC" => Some(Mode::Rbac),
            "Node" => Some(Mode::Node),
            _ => None,
        }
    }
}

/// The caller's user and groups as authorizers see them: the authenticated
/// groups plus `system:authenticated`.
pub fn user_groups(ctx: &RequestContext) -> Vec<String> {
    let mut groups = ctx.identity.groups.clone();
    if !groups.iter().any(|g| g == SYSTEM_AUTHENTICATED) {
        groups.push(SYSTEM_AUTHENTICATED.to_string());
    }
    groups
}

/// The RBAC request of a resource request.
fn rbac_request<'a>(
    ctx: &'a RequestContext,
    groups: &'a [String],
    attrs: &'a Attributes<'a>,
) -> Request<'a> {
    Request {
        user: UserInfo {
            name: ctx.user(),
            groups,
        },
        verb: attrs.verb.as_str(),
        target: Target::Resource {
            api_group: attrs.resource.group,
            resource: attrs.resource.plural,
            subresource: attrs.subresource,
            namespace: attrs.namespace.filter(|_| attrs.resource.namespaced),
            name: attrs.name,
        },
    }
}

/// The 403 of a denied resource request, worded as kube-apiserver's.
pub fn denial(ctx: &RequestContext, attrs: &Attributes<'_>) -> Error {
    let why = status::rbac_denial(
        ctx.user(),
        attrs.verb.as_str(),
        attrs.resource,
        attrs.subresource,
        attrs.namespace.filter(|_| attrs.resource.namespaced),
    );
    Error::Forbidden(Box::new(status::forbidden(
        attrs.resource,
        attrs.name,
        &why,
    )))
}

/// The 403 of a denied non-resource request: `forbidden: User "bob" cannot get path "/metrics"`.
pub fn path_denial(ctx: &RequestContext, verb: &str, path: &str) -> Error {
    Error::Forbidden(Box::new(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Status {
            status: Some("Failure".into()),
            code: Some(403),
            reason: Some("Forbidden".into()),
            message: Some(format!(
                "forbidden: User \"{}\" cannot {verb} path \"{path}\"",
                ctx.user()
            )),
            details: Some(Default::default()),
            ..Default::default()
        },
    ))
}

/// RBAC over a policy kept current from the watch caches of roles and bindings.
/// Until the caches have listed, only `system:masters` is allowed.
#[derive(Debug, Default)]
pub struct RbacAuthorizer {
    policy: RwLock<Arc<Policy>>,
}

impl RbacAuthorizer {
    /// An authorizer over a fixed policy (tests).
    pub fn with_policy(policy: Policy) -> Self {
        RbacAuthorizer {
            policy: RwLock::new(Arc::new(policy)),
        }
    }

    /// An authorizer fed by `caches`, rebuilding its policy on every change of a
    /// role or binding until `shutdown`.
    pub fn start(caches: &WatchCaches, shutdown: &CancellationToken) -> Arc<Self> {
        let authorizer = Arc::new(RbacAuthorizer::default());
        let feed = PolicyFeed::new(caches);
        match feed {
            Some(feed) => {
                tokio::spawn(
                    feed.run(authorizer.clone(), shutdown.clone())
                        .instrument(tracing::info_span!("rbac-policy")),
                );
            }
            None => tracing::error!("RBAC resources are missing from the watch caches"),
        }
        authorizer
    }

    /// The current policy.
    pub fn policy(&self) -> Arc<Policy> {
        match self.policy.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, policy: Policy) {
        let policy = Arc::new(policy);
        match self.policy.write() {
            Ok(mut p) => *p = policy,
            Err(poisoned) => *poisoned.into_inner() = policy,
        }
    }

    /// RBAC's decision on a resource request.
    pub fn decide(&self, ctx: &RequestContext, attrs: &Attributes<'_>) -> Decision {
        let groups = user_groups(ctx);
        self.policy().authorize(&rbac_request(ctx, &groups, attrs))
    }
}

/// The four caches RBAC reads.
struct PolicyFeed {
    roles: Arc<WatchCache>,
    cluster_roles: Arc<WatchCache>,
    role_bindings: Arc<WatchCache>,
    cluster_role_bindings: Arc<WatchCache>,
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

impl PolicyFeed {
    fn new(caches: &WatchCaches) -> Option<Self> {
        let get = |plural| {
            rudder_api::resource::by_plural(RBAC_GROUP, plural).and_then(|r| caches.get(r).cloned())
        };
        Some(PolicyFeed {
            roles: get("roles")?,
            cluster_roles: get("clusterroles")?,
            role_bindings: get("rolebindings")?,
            cluster_role_bindings: get("clusterrolebindings")?,
        })
    }

    /// Subscribes to the four caches, builds the policy from their current objects,
    /// and starts over on any change (or when a cache restarts).
    async fn run(self, authorizer: Arc<RbacAuthorizer>, shutdown: CancellationToken) {
        for cache in [
            &self.roles,
            &self.cluster_roles,
            &self.role_bindings,
            &self.cluster_role_bindings,
        ] {
            loop {
                if shutdown.is_cancelled() {
                    return;
                }
                if cache.wait_ready(Duration::from_secs(10)).await.is_ok() {
                    break;
                }
            }
        }
        loop {
            let subscribe = |c: &WatchCache| c.subscribe(WatchFrom::Now);
            let (Ok(mut r), Ok(mut cr), Ok(mut rb), Ok(mut crb)) = (
                subscribe(&self.roles),
                subscribe(&self.cluster_roles),
                subscribe(&self.role_bindings),
                subscribe(&self.cluster_role_bindings),
            ) else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            authorizer.replace(Policy::new(
                decode_all::<Role>(&r.initial),
                decode_all::<ClusterRole>(&cr.initial),
                decode_all::<RoleBinding>(&rb.initial),
                decode_all::<ClusterRoleBinding>(&crb.initial),
            ));
            let changed = tokio::select! {
                () = shutdown.cancelled() => return,
                e = r.live.recv() => e.is_ok(),
                e = cr.live.recv() => e.is_ok(),
                e = rb.live.recv() => e.is_ok(),
                e = crb.live.recv() => e.is_ok(),
            };
            if !changed {
                // A cache restarted or this feed fell behind: resubscribe after a
                // breath, so a restarting cache is not spun on.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

fn decode_all<T: DeserializeOwned>(events: &[Arc<crate::watch_cache::CacheEvent>]) -> Vec<T> {
    events
        .iter()
        .filter_map(|e| match serde_json::from_value((*e.object).clone()) {
            Ok(v) => Some(v),
            Err(err) => {
                tracing::warn!(key = %e.key, error = %err, "skipping an RBAC object that does not decode");
                None
            }
        })
        .collect()
}

impl Authorizer for RbacAuthorizer {
    fn authorize(&self, ctx: &RequestContext, attrs: &Attributes<'_>) -> Result<()> {
        match self.decide(ctx, attrs) {
            Decision::Allow(_) => Ok(()),
            Decision::Deny(_) => Err(denial(ctx, attrs)),
        }
    }

    fn authorize_path(&self, ctx: &RequestContext, verb: &str, path: &str) -> Result<()> {
        let groups = user_groups(ctx);
        let request = Request {
            user: UserInfo {
                name: ctx.user(),
                groups: &groups,
            },
            verb,
            target: Target::NonResource { path },
        };
        if self.policy().authorize(&request).allowed() {
            Ok(())
        } else {
            Err(path_denial(ctx, verb, path))
        }
    }

    fn decide(&self, request: &Request<'_>) -> bool {
        self.policy().authorize(request).allowed()
    }

    fn rules(
        &self,
        user: &UserInfo<'_>,
        namespace: Option<&str>,
    ) -> Vec<k8s_openapi::api::rbac::v1::PolicyRule> {
        self.policy().rules_for(user, namespace)
    }
}

/// Upstream's union authorizer: the modes in order; the first to allow wins, and
/// the last denial is the answer.
pub struct UnionAuthorizer {
    authorizers: Vec<Arc<dyn Authorizer>>,
}

impl std::fmt::Debug for UnionAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnionAuthorizer")
            .field("authorizers", &self.authorizers.len())
            .finish()
    }
}

impl UnionAuthorizer {
    /// The authorizer of `modes`, reading RBAC objects from `caches`.
    pub fn for_modes(modes: &[Mode], caches: &WatchCaches, shutdown: &CancellationToken) -> Self {
        let mut authorizers: Vec<Arc<dyn Authorizer>> = Vec::new();
        for mode in modes {
            match mode {
                Mode::AlwaysAllow => authorizers.push(Arc::new(AllowAll)),
                Mode::Rbac => authorizers.push(RbacAuthorizer::start(caches, shutdown)),
                Mode::Node => {
                    let pods = rudder_api::resource::by_plural("", "pods")
                        .and_then(|r| caches.get(r).cloned());
                    authorizers.push(Arc::new(node::NodeAuthorizer::new(pods)));
                }
            }
        }
        UnionAuthorizer { authorizers }
    }

    /// A union of the given authorizers.
    pub fn new(authorizers: Vec<Arc<dyn Authorizer>>) -> Self {
        UnionAuthorizer { authorizers }
    }
}

impl Authorizer for UnionAuthorizer {
    fn authorize(&self, ctx: &RequestContext, attrs: &Attributes<'_>) -> Result<()> {
        let mut last = denial(ctx, attrs);
        for a in &self.authorizers {
            match a.authorize(ctx, attrs) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn authorize_path(&self, ctx: &RequestContext, verb: &str, path: &str) -> Result<()> {
        let mut last = path_denial(ctx, verb, path);
        for a in &self.authorizers {
            match a.authorize_path(ctx, verb, path) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn decide(&self, request: &Request<'_>) -> bool {
        self.authorizers.iter().any(|a| a.decide(request))
    }

    fn rules(
        &self,
        user: &UserInfo<'_>,
        namespace: Option<&str>,
    ) -> Vec<k8s_openapi::api::rbac::v1::PolicyRule> {
        let mut rules = Vec::new();
        for a in &self.authorizers {
            for rule in a.rules(user, namespace) {
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
        }
        rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::Verb;
    use rudder_pki::Identity;

    fn ctx(user: &str, groups: &[&str]) -> RequestContext {
        RequestContext::new(Identity::new(user, groups.iter().copied()))
    }

    #[test]
    fn denials_are_worded_as_kube_apiserver() {
        let authorizer = RbacAuthorizer::with_policy(Policy::default());
        let pods = rudder_api::resource::by_plural("", "pods").unwrap();
        let deployments = rudder_api::resource::by_plural("apps", "deployments").unwrap();
        let nodes = rudder_api::resource::by_plural("", "nodes").unwrap();
        let bob = ctx("bob", &[]);
        let cases = [
            (
                Attributes {
                    verb: Verb::List,
                    resource: pods,
                    subresource: None,
                    namespace: Some("default"),
                    name: "",
                },
                "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"",
            ),
            (
                Attributes {
                    verb: Verb::List,
                    resource: pods,
                    subresource: None,
                    namespace: None,
                    name: "",
                },
                "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" at the cluster scope",
            ),
            (
                Attributes {
                    verb: Verb::Get,
                    resource: pods,
                    subresource: None,
                    namespace: Some("default"),
                    name: "web",
                },
                "pods \"web\" is forbidden: User \"bob\" cannot get resource \"pods\" in API group \"\" in the namespace \"default\"",
            ),
            (
                Attributes {
                    verb: Verb::Patch,
                    resource: deployments,
                    subresource: Some("scale"),
                    namespace: Some("d"),
                    name: "web",
                },
                "deployments.apps \"web\" is forbidden: User \"bob\" cannot patch resource \"deployments/scale\" in API group \"apps\" in the namespace \"d\"",
            ),
            (
                Attributes {
                    verb: Verb::Update,
                    resource: nodes,
                    subresource: Some("status"),
                    namespace: None,
                    name: "n2",
                },
                "nodes \"n2\" is forbidden: User \"bob\" cannot update resource \"nodes/status\" in API group \"\" at the cluster scope",
            ),
        ];
        for (attrs, message) in cases {
            let err = authorizer.authorize(&bob, &attrs).unwrap_err();
            let s = err.to_status();
            assert_eq!(
                (s.code, s.reason.as_deref(), s.message.as_deref()),
                (Some(403), Some("Forbidden"), Some(message))
            );
        }
        let err = authorizer
            .authorize_path(&bob, "get", "/metrics")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "forbidden: User \"bob\" cannot get path \"/metrics\""
        );
        let admin = ctx("admin", &["system:masters"]);
        assert!(
            authorizer
                .authorize(
                    &admin,
                    &Attributes {
                        verb: Verb::Delete,
                        resource: nodes,
                        subresource: None,
                        namespace: None,
                        name: "n"
                    }
                )
                .is_ok()
        );
    }

    #[test]
    fn union_takes_the_first_allow() {
        let union = UnionAuthorizer::new(vec![
            Arc::new(RbacAuthorizer::with_policy(Policy::default())),
            Arc::new(AllowAll),
        ]);
        let pods = rudder_api::resource::by_plural("", "pods").unwrap();
        let attrs = Attributes {
            verb: Verb::List,
            resource: pods,
            subresource: None,
            namespace: None,
            name: "",
        };
        assert!(union.authorize(&ctx("bob", &[]), &attrs).is_ok());
        let rbac_only = UnionAuthorizer::new(vec![Arc::new(RbacAuthorizer::with_policy(
            Policy::default(),
        ))]);
        assert_eq!(
            rbac_only
                .authorize(&ctx("bob", &[]), &attrs)
                .unwrap_err()
                .code(),
            403
        );
    }
}
