//! The node authorizer (upstream `plugin/pkg/auth/authorizer/node`), simplified
//! to Rudder's resources. A kubelet is user `system:node:<name>` in group
//! `system:nodes`; it may:
//! - get a secret, configmap or service account only when a pod bound to it
//!   references it (volumes, env, envFrom, imagePullSecrets, serviceAccountName),
//!   and create tokens only for those service accounts;
//! - touch only its own Lease in `kube-node-lease`;
//! - otherwise do what the `system:node` ClusterRole lists (read nodes,
//!   services, endpoints, pods; write nodes, node and pod status, events).
//!
//! Which Node and which pods' status it may change is NodeRestriction's job
//! (admission), as upstream. Anyone else gets no opinion from this authorizer.
//! The deciding function is pure; pods come from the watch cache.

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::Value;

use crate::admission::{Attributes, Authorizer, RequestContext};
use crate::auth::rbac::{Request, Target, UserInfo, rule_allows};
use crate::auth::{bootstrap, denial, path_denial, user_groups};
use crate::error::Result;
use crate::watch_cache::WatchCache;

/// The group of every kubelet.
pub const NODES_GROUP: &str = "system:nodes";
/// The namespace node heartbeats (Leases) live in.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// The node a caller is, if it is one.
pub fn node_name<'a>(user: &UserInfo<'a>) -> Option<&'a str> {
    let name = user.name.strip_prefix("system:node:")?;
    (!name.is_empty() && user.groups.iter().any(|g| g == NODES_GROUP)).then_some(name)
}

/// The node authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeDecision {
    /// Not a node: other authorizers decide.
    NoOpinion,
    /// Allowed.
    Allow,
    /// A node asking for what its job does not need.
    Deny(String),
}

/// Decides a node's request; `pods_on_node` lists the pods bound to it (read
/// only when a reference check needs them).
pub fn decide(
    request: &Request<'_>,
    node_rules: &[PolicyRule],
    pods_on_node: &dyn Fn(&str) -> Vec<Arc<Value>>,
) -> NodeDecision {
    let Some(node) = node_name(&request.user) else {
        return NodeDecision::NoOpinion;
    };
    if let Target::Resource {
        api_group,
        resource,
        subresource,
        namespace,
        name,
    } = &request.target
    {
        match (*api_group, *resource, *subresource) {
            ("", kind @ ("secrets" | "configmaps" | "serviceaccounts"), None) => {
                if request.verb != "get" || name.is_empty() {
                    return NodeDecision::Deny(format!("node may only get individual {kind}"));
                }
                let ns = namespace.unwrap_or_default();
                return if pods_on_node(node)
                    .iter()
                    .any(|pod| references(pod, kind, ns, name))
                {
                    NodeDecision::Allow
                } else {
                    NodeDecision::Deny(format!(
                        "no relationship found between node '{node}' and this object"
                    ))
                };
            }
            ("", "serviceaccounts", Some("token")) => {
                let ns = namespace.unwrap_or_default();
                return if request.verb == "create"
                    && pods_on_node(node)
                        .iter()
                        .any(|pod| references(pod, "serviceaccounts", ns, name))
                {
                    NodeDecision::Allow
                } else {
                    NodeDecision::Deny(format!(
                        "no relationship found between node '{node}' and this object"
                    ))
                };
            }
            ("coordination.k8s.io", "leases", None) => {
                let own = *namespace == Some(NODE_LEASE_NAMESPACE)
                    && (*name == node || (request.verb == "create" && name.is_empty()));
                return if own
                    && matches!(
                        request.verb,
                        "get" | "create" | "update" | "patch" | "delete"
                    ) {
                    NodeDecision::Allow
                } else {
                    NodeDecision::Deny(format!("node may only access its own lease \"{node}\""))
                };
            }
            _ => {}
        }
    }
    if node_rules
        .iter()
        .any(|r| rule_allows(r, request.verb, &request.target))
    {
        NodeDecision::Allow
    } else {
        NodeDecision::Deny("not in the node's rules".into())
    }
}

/// Whether `pod` references the object `kind/namespace/name`.
pub fn references(pod: &Value, kind: &str, namespace: &str, name: &str) -> bool {
    if crate::registry::meta::meta_str(pod, "namespace") != namespace {
        return false;
    }
    let spec = &pod["spec"];
    let is = |v: &Value| v.as_str() == Some(name);
    match kind {
        "serviceaccounts" => {
            let sa = spec["serviceAccountName"]
                .as_str()
                .filter(|s| !s.is_empty());
            sa.unwrap_or("default") == name
        }
        "secrets" | "configmaps" => {
            let (volume_key, projected_key, ref_key, env_key, name_key) = if kind == "secrets" {
                (
                    "secret",
                    "secret",
                    "secretRef",
                    "secretKeyRef",
                    "secretName",
                )
            } else {
                (
                    "configMap",
                    "configMap",
                    "configMapRef",
                    "configMapKeyRef",
                    "name",
                )
            };
            let items = |v: &Value| v.as_array().cloned().unwrap_or_default();
            if kind == "secrets"
                && items(&spec["imagePullSecrets"])
                    .iter()
                    .any(|s| is(&s["name"]))
            {
                return true;
            }
            for volume in items(&spec["volumes"]) {
                if is(&volume[volume_key][name_key]) {
                    return true;
                }
                for source in items(&volume["projected"]["sources"]) {
                    if is(&source[projected_key]["name"]) {
                        return true;
                    }
                }
            }
            let containers = items(&spec["containers"])
                .into_iter()
                .chain(items(&spec["initContainers"]));
            for c in containers {
                if items(&c["envFrom"]).iter().any(|e| is(&e[ref_key]["name"]))
                    || items(&c["env"])
                        .iter()
                        .any(|e| is(&e["valueFrom"][env_key]["name"]))
                {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

/// The node authorizer over the pods watch cache.
pub struct NodeAuthorizer {
    pods: Option<Arc<WatchCache>>,
    rules: Vec<PolicyRule>,
}

impl std::fmt::Debug for NodeAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeAuthorizer").finish_non_exhaustive()
    }
}

impl NodeAuthorizer {
    /// Reads pods from `pods` (None: no pod is bound anywhere).
    pub fn new(pods: Option<Arc<WatchCache>>) -> Self {
        let rules = bootstrap::cluster_roles()
            .into_iter()
            .find(|r| r.metadata.name.as_deref() == Some("system:node"))
            .and_then(|r| r.rules)
            .unwrap_or_default();
        NodeAuthorizer { pods, rules }
    }

    fn pods_on(&self, node: &str) -> Vec<Arc<Value>> {
        self.pods
            .as_ref()
            .map(|c| {
                c.objects()
                    .into_iter()
                    .filter(|p| p["spec"]["nodeName"].as_str() == Some(node))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn decide_request(&self, request: &Request<'_>) -> NodeDecision {
        decide(request, &self.rules, &|node| self.pods_on(node))
    }
}

impl Authorizer for NodeAuthorizer {
    fn authorize(&self, ctx: &RequestContext, attrs: &Attributes<'_>) -> Result<()> {
        let groups = user_groups(ctx);
        let request = Request {
            user: UserInfo {
                name: ctx.user(),
                groups: &groups,
            },
            verb: attrs.verb.as_str(),
            target: Target::Resource {
                api_group: attrs.resource.group,
                resource: attrs.resource.plural,
                subresource: attrs.subresource,
                namespace: attrs.namespace.filter(|_| attrs.resource.namespaced),
                name: attrs.name,
            },
        };
        match self.decide_request(&request) {
            NodeDecision::Allow => Ok(()),
            NodeDecision::NoOpinion | NodeDecision::Deny(_) => Err(denial(ctx, attrs)),
        }
    }

    fn authorize_path(&self, ctx: &RequestContext, verb: &str, path: &str) -> Result<()> {
        Err(path_denial(ctx, verb, path))
    }

    fn decide(&self, request: &Request<'_>) -> bool {
        self.decide_request(request) == NodeDecision::Allow
    }

    fn rules(&self, user: &UserInfo<'_>, _namespace: Option<&str>) -> Vec<PolicyRule> {
        if node_name(user).is_some() {
            self.rules.clone()
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ns: &str, node: &str, spec: Value) -> Arc<Value> {
        let mut spec = spec;
        spec["nodeName"] = node.into();
        Arc::new(json!({"metadata": {"namespace": ns, "name": "p"}, "spec": spec}))
    }

    #[test]
    fn nodes_reach_only_what_their_pods_reference() {
        let rules = NodeAuthorizer::new(None).rules;
        let pods = [
            pod(
                "a",
                "n1",
                json!({
                    "serviceAccountName": "web",
                    "imagePullSecrets": [{"name": "pull"}],
                    "volumes": [{"name": "v", "secret": {"secretName": "tls"}},
                                {"name": "c", "configMap": {"name": "conf"}},
                                {"name": "x", "projected": {"sources": [{"configMap": {"name": "proj"}}]}}],
                    "containers": [{"name": "c", "env": [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "k"}}}],
                                    "envFrom": [{"configMapRef": {"name": "env-conf"}}]}]
                }),
            ),
            pod(
                "a",
                "n2",
                json!({"volumes": [{"name": "v", "secret": {"secretName": "other"}}]}),
            ),
        ];
        let on = |node: &str| {
            pods.iter()
                .filter(|p| p["spec"]["nodeName"] == node)
                .cloned()
                .collect::<Vec<_>>()
        };
        let nodes = vec!["system:nodes".to_string()];
        let ask = |user: &str,
                   verb: &str,
                   group: &str,
                   resource: &str,
                   sub: Option<&str>,
                   ns: Option<&str>,
                   name: &str| {
            decide(
                &Request {
                    user: UserInfo {
                        name: user,
                        groups: &nodes,
                    },
                    verb,
                    target: Target::Resource {
                        api_group: group,
                        resource,
                        subresource: sub,
                        namespace: ns,
                        name,
                    },
                },
                &rules,
                &on,
            )
        };
        let n1 = "system:node:n1";
        let allow = NodeDecision::Allow;
        for (kind, name) in [
            ("secrets", "tls"),
            ("secrets", "pull"),
            ("secrets", "env-secret"),
            ("configmaps", "conf"),
            ("configmaps", "proj"),
            ("configmaps", "env-conf"),
            ("serviceaccounts", "web"),
        ] {
            assert_eq!(
                ask(n1, "get", "", kind, None, Some("a"), name),
                allow,
                "{kind}/{name}"
            );
        }
        assert_ne!(
            ask(n1, "get", "", "secrets", None, Some("a"), "other"),
            allow,
            "n2's secret"
        );
        assert_ne!(
            ask(n1, "get", "", "secrets", None, Some("b"), "tls"),
            allow,
            "same name elsewhere"
        );
        assert_ne!(ask(n1, "list", "", "secrets", None, Some("a"), ""), allow);
        assert_eq!(
            ask(
                n1,
                "create",
                "",
                "serviceaccounts",
                Some("token"),
                Some("a"),
                "web"
            ),
            allow
        );
        assert_ne!(
            ask(
                n1,
                "create",
                "",
                "serviceaccounts",
                Some("token"),
                Some("a"),
                "admin"
            ),
            allow
        );
        assert_eq!(
            ask(
                n1,
                "update",
                "coordination.k8s.io",
                "leases",
                None,
                Some("kube-node-lease"),
                "n1"
            ),
            allow
        );
        assert_ne!(
            ask(
                n1,
                "update",
                "coordination.k8s.io",
                "leases",
                None,
                Some("kube-node-lease"),
                "n2"
            ),
            allow
        );
        assert_ne!(
            ask(
                n1,
                "update",
                "coordination.k8s.io",
                "leases",
                None,
                Some("kube-system"),
                "n1"
            ),
            allow
        );
        assert_eq!(ask(n1, "watch", "", "pods", None, None, ""), allow);
        assert_eq!(
            ask(n1, "update", "", "pods", Some("status"), Some("a"), "p"),
            allow
        );
        assert_eq!(ask(n1, "create", "", "events", None, Some("a"), ""), allow);
        assert_ne!(
            ask(n1, "create", "apps", "deployments", None, Some("a"), ""),
            allow
        );
        assert_ne!(ask(n1, "delete", "", "namespaces", None, None, "a"), allow);
        // Not a node: the CN alone is not enough, the group is needed too.
        let none: Vec<String> = vec![];
        let d = decide(
            &Request {
                user: UserInfo {
                    name: n1,
                    groups: &none,
                },
                verb: "get",
                target: Target::Resource {
                    api_group: "",
                    resource: "pods",
                    subresource: None,
                    namespace: None,
                    name: "",
                },
            },
            &rules,
            &on,
        );
        assert_eq!(d, NodeDecision::NoOpinion);
    }
}
