//! The admission chain (issue 5), run by the registry before every write, for
//! REST and gRPC alike: mutating plugins first, then validating ones, as
//! kube-apiserver orders them.
//!
//! - **ServiceAccount** (mutating): a pod without `serviceAccountName` runs as
//!   `default`. (Projecting the token volume is the kubelet's half, later.)
//! - **NamespaceLifecycle** (validating): no creates in a missing namespace (404)
//!   or a terminating one (403); `default`, `kube-system` and `kube-public` cannot
//!   be deleted (403).
//! - **NodeRestriction** (validating): a kubelet may change only its own Node,
//!   and only pods bound to it (status, deletion); it may create only mirror pods.
//! - **RBAC escalation** (validating, upstream does it in the RBAC storage): no
//!   role or binding grants more than its writer holds (`crate::auth::escalation`).
//!
//! Each plugin is a pure function of the request; namespace state comes from the
//! watch cache, falling back to a store read on a miss so a namespace created a
//! moment ago is seen.

use std::sync::Arc;

use futures::future::BoxFuture;
use rudder_api::status;
use serde_json::Value;

use crate::admission::{AdmissionChain, Attributes, RequestContext, Verb};
use crate::auth::node::node_name;
use crate::auth::rbac::UserInfo;
use crate::error::{Error, Result};
use crate::registry::meta;
use crate::storage::Storage;
use crate::watch_cache::WatchCache;

/// Namespaces that can never be deleted.
pub const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// The annotation that marks a mirror pod (a static pod's API copy).
pub const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// A namespace as NamespaceLifecycle sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceState {
    /// No such namespace.
    Missing,
    /// Exists and takes new content.
    Active,
    /// Being deleted.
    Terminating,
}

impl NamespaceState {
    /// The state of a stored Namespace object.
    pub fn of(namespace: &Value) -> Self {
        let terminating = namespace["status"]["phase"] == "Terminating"
            || !namespace["metadata"]["deletionTimestamp"].is_null();
        if terminating {
            NamespaceState::Terminating
        } else {
            NamespaceState::Active
        }
    }
}

fn forbidden(attrs: &Attributes<'_>, why: &str) -> Error {
    Error::Forbidden(Box::new(status::forbidden(attrs.resource, attrs.name, why)))
}

/// ServiceAccount: defaults a new pod's service account to `default`.
pub fn service_account_defaults(attrs: &Attributes<'_>, object: Option<&mut Value>) {
    if attrs.verb != Verb::Create
        || attrs.subresource.is_some()
        || (attrs.resource.group, attrs.resource.plural) != ("", "pods")
    {
        return;
    }
    let Some(spec) = object
        .and_then(|o| o.get_mut("spec"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let named = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if !named {
        let legacy = spec
            .get("serviceAccount")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("default")
            .to_string();
        spec.insert("serviceAccountName".into(), legacy.into());
    }
}

/// NamespaceLifecycle: `state` is the state of the request's namespace (asked
/// only for namespaced creates).
pub fn namespace_lifecycle(
    attrs: &Attributes<'_>,
    state: impl FnOnce(&str) -> NamespaceState,
) -> Result<()> {
    let is_namespaces = (attrs.resource.group, attrs.resource.plural) == ("", "namespaces");
    if is_namespaces && attrs.verb == Verb::Delete && IMMORTAL_NAMESPACES.contains(&attrs.name) {
        return Err(forbidden(attrs, "this namespace may not be deleted"));
    }
    if attrs.verb != Verb::Create || !attrs.resource.namespaced || attrs.subresource.is_some() {
        return Ok(());
    }
    let Some(namespace) = attrs.namespace.filter(|n| !n.is_empty()) else {
        return Ok(());
    };
    match state(namespace) {
        NamespaceState::Active => Ok(()),
        NamespaceState::Missing => {
            let namespaces = rudder_api::resource::by_plural("", "namespaces")
                .ok_or_else(|| Error::Internal("namespaces missing from the table".into()))?;
            Err(Error::NotFound {
                resource: namespaces,
                name: namespace.to_string(),
            })
        }
        NamespaceState::Terminating => Err(forbidden(
            attrs,
            &format!(
                "unable to create new content in namespace {namespace} because it is being terminated"
            ),
        )),
    }
}

/// NodeRestriction: what a kubelet may change.
pub fn node_restriction(
    ctx: &RequestContext,
    attrs: &Attributes<'_>,
    object: Option<&Value>,
    old: Option<&Value>,
) -> Result<()> {
    let groups = crate::auth::user_groups(ctx);
    let Some(node) = node_name(&UserInfo {
        name: ctx.user(),
        groups: &groups,
    }) else {
        return Ok(());
    };
    match (attrs.resource.group, attrs.resource.plural) {
        ("", "nodes") => {
            if attrs.name != node {
                return Err(forbidden(
                    attrs,
                    &format!(
                        "node \"{node}\" is not allowed to modify node \"{}\"",
                        attrs.name
                    ),
                ));
            }
            Ok(())
        }
        ("", "pods") => {
            let bound_to = |pod: Option<&Value>| {
                pod.and_then(|p| p["spec"]["nodeName"].as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            match (attrs.verb, attrs.subresource) {
                (Verb::Create, None) => {
                    let mirror = object.is_some_and(|p| {
                        !p["metadata"]["annotations"][MIRROR_POD_ANNOTATION].is_null()
                    });
                    if !mirror {
                        return Err(forbidden(
                            attrs,
                            &format!(
                                "pod does not have \"{MIRROR_POD_ANNOTATION}\" annotation, node \"{node}\" can only create mirror pods"
                            ),
                        ));
                    }
                    if bound_to(object) != node {
                        return Err(forbidden(
                            attrs,
                            &format!(
                                "node \"{node}\" can only create pods with spec.nodeName set to itself"
                            ),
                        ));
                    }
                    Ok(())
                }
                (Verb::Update | Verb::Patch, Some("status")) => {
                    if bound_to(old) != node {
                        return Err(forbidden(
                            attrs,
                            &format!(
                                "node \"{node}\" can only update pod status for pods with spec.nodeName set to itself"
                            ),
                        ));
                    }
                    Ok(())
                }
                (Verb::Delete, _) => {
                    if bound_to(old) != node {
                        return Err(forbidden(
                            attrs,
                            &format!(
                                "node \"{node}\" can only delete pods with spec.nodeName set to itself"
                            ),
                        ));
                    }
                    Ok(())
                }
                _ => Err(forbidden(
                    attrs,
                    &format!("node \"{node}\" may not change pods other than their status"),
                )),
            }
        }
        _ => Ok(()),
    }
}

/// What escalation checks read: the authorizer, and the Role and ClusterRole caches.
type EscalationChecks = (
    Arc<dyn crate::admission::Authorizer>,
    Option<Arc<WatchCache>>,
    Option<Arc<WatchCache>>,
);

/// The chain the server runs.
pub struct AdmissionPlugins {
    namespaces: Option<Arc<WatchCache>>,
    storage: Storage,
    /// The authorizer (escalation checks ask it what the writer holds) and the
    /// caches of Roles and ClusterRoles (what a binding would grant).
    rbac: Option<EscalationChecks>,
}

impl std::fmt::Debug for AdmissionPlugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdmissionPlugins").finish_non_exhaustive()
    }
}

impl AdmissionPlugins {
    /// Reads namespaces from `namespaces`, and from `storage` on a cache miss.
    pub fn new(namespaces: Option<Arc<WatchCache>>, storage: Storage) -> Self {
        AdmissionPlugins {
            namespaces,
            storage,
            rbac: None,
        }
    }

    /// The same chain refusing RBAC escalation, judged by `authorizer`, with
    /// bound roles read from `roles` and `cluster_roles`.
    pub fn with_escalation_checks(
        mut self,
        authorizer: Arc<dyn crate::admission::Authorizer>,
        roles: Option<Arc<WatchCache>>,
        cluster_roles: Option<Arc<WatchCache>>,
    ) -> Self {
        self.rbac = Some((authorizer, roles, cluster_roles));
        self
    }

    fn check_escalation(
        &self,
        ctx: &RequestContext,
        attrs: &Attributes<'_>,
        object: Option<&Value>,
    ) -> Result<()> {
        let Some((authorizer, roles, cluster_roles)) = &self.rbac else {
            return Ok(());
        };
        let lookup = |kind: &str, namespace: Option<&str>, name: &str| {
            let cache = if kind == "ClusterRole" {
                cluster_roles
            } else {
                roles
            };
            let cache = cache.as_ref()?;
            let key = rudder_api::keys::object_key(cache.resource(), namespace, name).ok()?;
            let role = cache.get(&key)?;
            serde_json::from_value(role["rules"].clone()).ok()
        };
        crate::auth::escalation::check(authorizer.as_ref(), ctx, attrs, object, &lookup)
    }

    async fn namespace_state(&self, name: &str) -> Result<NamespaceState> {
        let Some(resource) = rudder_api::resource::by_plural("", "namespaces") else {
            return Ok(NamespaceState::Missing);
        };
        let key = rudder_api::keys::object_key(resource, None, name)
            .map_err(|_| Error::BadRequest(format!("invalid namespace name {name:?}")))?;
        if let Some(ns) = self.namespaces.as_ref().and_then(|c| c.get(&key)) {
            return Ok(NamespaceState::of(&ns));
        }
        match self.storage.get(key.as_bytes()).await? {
            Some(stored) => Ok(NamespaceState::of(&meta::decode_from_store(
                &stored.value,
                stored.mod_revision,
            )?)),
            None => Ok(NamespaceState::Missing),
        }
    }
}

impl AdmissionChain for AdmissionPlugins {
    fn admit<'a>(
        &'a self,
        ctx: &'a RequestContext,
        attrs: &'a Attributes<'a>,
        mut object: Option<&'a mut Value>,
        old: Option<&'a Value>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            // Mutating.
            service_account_defaults(attrs, object.as_deref_mut());
            // Validating.
            let needs_namespace = attrs.verb == Verb::Create
                && attrs.resource.namespaced
                && attrs.subresource.is_none()
                && attrs.namespace.is_some_and(|n| !n.is_empty());
            let state = match (needs_namespace, attrs.namespace) {
                (true, Some(ns)) => self.namespace_state(ns).await?,
                _ => NamespaceState::Active,
            };
            namespace_lifecycle(attrs, |_| state)?;
            node_restriction(ctx, attrs, object.as_deref(), old)?;
            self.check_escalation(ctx, attrs, object.as_deref())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_pki::Identity;
    use serde_json::json;

    fn res(plural: &str) -> &'static rudder_api::resource::ResourceInfo {
        rudder_api::resource::by_plural("", plural).unwrap()
    }

    fn attrs<'a>(
        verb: Verb,
        plural: &str,
        sub: Option<&'a str>,
        ns: Option<&'a str>,
        name: &'a str,
    ) -> Attributes<'a> {
        Attributes {
            verb,
            resource: res(plural),
            subresource: sub,
            namespace: ns,
            name,
        }
    }

    #[test]
    fn namespace_lifecycle_as_upstream() {
        let active = |_: &str| NamespaceState::Active;
        let err = namespace_lifecycle(
            &attrs(Verb::Delete, "namespaces", None, None, "kube-system"),
            active,
        )
        .unwrap_err();
        assert_eq!(
            (err.code(), err.to_string().as_str()),
            (
                403,
                "namespaces \"kube-system\" is forbidden: this namespace may not be deleted"
            )
        );
        assert!(
            namespace_lifecycle(
                &attrs(Verb::Delete, "namespaces", None, None, "team"),
                active
            )
            .is_ok()
        );
        let err = namespace_lifecycle(
            &attrs(Verb::Create, "pods", None, Some("gone"), "p"),
            |_| NamespaceState::Missing,
        )
        .unwrap_err();
        assert_eq!(
            (err.code(), err.to_string().as_str()),
            (404, "namespaces \"gone\" not found")
        );
        let err = namespace_lifecycle(
            &attrs(Verb::Create, "configmaps", None, Some("old"), "c"),
            |_| NamespaceState::Terminating,
        )
        .unwrap_err();
        assert_eq!(
            (err.code(), err.to_string().as_str()),
            (
                403,
                "configmaps \"c\" is forbidden: unable to create new content in namespace old because it is being terminated"
            )
        );
        // Updates and deletes in a terminating namespace go on (finalizers need them).
        assert!(
            namespace_lifecycle(
                &attrs(Verb::Update, "configmaps", None, Some("old"), "c"),
                |_| NamespaceState::Terminating
            )
            .is_ok()
        );
        assert!(
            namespace_lifecycle(&attrs(Verb::Create, "nodes", None, None, "n"), |_| {
                NamespaceState::Missing
            })
            .is_ok()
        );
        assert_eq!(
            NamespaceState::of(&json!({"status": {"phase": "Terminating"}})),
            NamespaceState::Terminating
        );
        assert_eq!(
            NamespaceState::of(&json!({"status": {"phase": "Active"}})),
            NamespaceState::Active
        );
    }

    #[test]
    fn pods_default_to_the_default_service_account() {
        let a = attrs(Verb::Create, "pods", None, Some("d"), "p");
        let mut pod = json!({"spec": {"containers": []}});
        service_account_defaults(&a, Some(&mut pod));
        assert_eq!(pod["spec"]["serviceAccountName"], "default");
        let mut named = json!({"spec": {"serviceAccountName": "web"}});
        service_account_defaults(&a, Some(&mut named));
        assert_eq!(named["spec"]["serviceAccountName"], "web");
        let mut update = json!({"spec": {}});
        service_account_defaults(
            &attrs(Verb::Update, "pods", None, Some("d"), "p"),
            Some(&mut update),
        );
        assert_eq!(update["spec"].get("serviceAccountName"), None);
    }

    #[test]
    fn nodes_change_only_themselves_and_their_pods() {
        let n1 = RequestContext::new(Identity::new("system:node:n1", ["system:nodes"]));
        let other = RequestContext::new(Identity::new("bob", Vec::<String>::new()));
        let pod_on = |node: &str| json!({"metadata": {"name": "p"}, "spec": {"nodeName": node}});
        type Case<'a> = (
            &'a RequestContext,
            Attributes<'a>,
            Option<Value>,
            Option<Value>,
            Option<&'a str>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                &n1,
                attrs(Verb::Update, "nodes", Some("status"), None, "n1"),
                None,
                None,
                None,
            ),
            (
                &n1,
                attrs(Verb::Patch, "nodes", None, None, "n1"),
                None,
                None,
                None,
            ),
            (
                &n1,
                attrs(Verb::Update, "nodes", Some("status"), None, "n2"),
                None,
                None,
                Some("nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node \"n2\""),
            ),
            (
                &n1,
                attrs(Verb::Delete, "nodes", None, None, "n2"),
                None,
                None,
                Some("nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node \"n2\""),
            ),
            (
                &n1,
                attrs(Verb::Update, "pods", Some("status"), Some("d"), "p"),
                None,
                Some(pod_on("n1")),
                None,
            ),
            (
                &n1,
                attrs(Verb::Update, "pods", Some("status"), Some("d"), "p"),
                None,
                Some(pod_on("n2")),
                Some(
                    "pods \"p\" is forbidden: node \"n1\" can only update pod status for pods with spec.nodeName set to itself",
                ),
            ),
            (
                &n1,
                attrs(Verb::Delete, "pods", None, Some("d"), "p"),
                None,
                Some(pod_on("n2")),
                Some(
                    "pods \"p\" is forbidden: node \"n1\" can only delete pods with spec.nodeName set to itself",
                ),
            ),
            (
                &n1,
                attrs(Verb::Create, "pods", None, Some("d"), "p"),
                Some(pod_on("n1")),
                None,
                Some(
                    "pods \"p\" is forbidden: pod does not have \"kubernetes.io/config.mirror\" annotation, node \"n1\" can only create mirror pods",
                ),
            ),
            (
                &other,
                attrs(Verb::Update, "nodes", None, None, "n2"),
                None,
                None,
                None,
            ),
        ];
        for (ctx, a, object, old, want) in cases {
            let got = node_restriction(ctx, &a, object.as_ref(), old.as_ref())
                .err()
                .map(|e| e.to_string());
            assert_eq!(got.as_deref(), want, "{} {:?}", ctx.user(), a);
        }
    }
}
