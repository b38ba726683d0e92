//! The bootstrap RBAC policy every cluster starts with, derived from upstream's
//! `plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go` (and
//! `controller_policy.go` for the controller manager), trimmed to the resources
//! Rudder serves, and written out flat: Rudder has no ClusterRole aggregation, so
//! admin, edit and view carry their rules themselves.
//!
//! [`reconcile`] creates the missing ones at start-up. An existing object is never
//! changed: an operator's narrowing stays, and nothing is widened silently; a
//! stored role lacking bootstrap rules is reported in the log.

use std::time::Duration;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::admission::RequestContext;
use crate::error::Error;
use crate::registry::{CollectionRef, ObjectRef, Registry, WriteOptions};

/// The label upstream puts on bootstrap objects.
pub const BOOTSTRAP_LABEL: (&str, &str) = ("kubernetes.io/bootstrapping", "rbac-defaults");
/// Upstream's annotation on bootstrap objects (`true`: reconciled at start).
pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];
const READ_WRITE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "delete",
    "deletecollection",
    "patch",
    "update",
];
const EVENT_WRITE: &[&str] = &["create", "patch", "update"];

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: strings(verbs),
        api_groups: Some(strings(groups)),
        resources: Some(strings(resources)),
        ..Default::default()
    }
}

fn named(mut rule: PolicyRule, names: &[&str]) -> PolicyRule {
    rule.resource_names = Some(strings(names));
    rule
}

fn urls(verbs: &[&str], urls: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: strings(verbs),
        non_resource_urls: Some(strings(urls)),
        ..Default::default()
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        labels: Some([(BOOTSTRAP_LABEL.0.to_string(), BOOTSTRAP_LABEL.1.to_string())].into()),
        annotations: Some([(AUTOUPDATE_ANNOTATION.to_string(), "true".to_string())].into()),
        ..Default::default()
    }
}

fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: meta(name),
        rules: Some(rules),
        aggregation_rule: None,
    }
}

/// What view grants (upstream's aggregated `system:aggregate-to-view`): reads of
/// everything but secrets and RBAC.
fn view_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            READ,
            &[""],
            &[
                "configmaps",
                "endpoints",
                "events",
                "pods",
                "pods/log",
                "pods/status",
                "services",
                "services/status",
                "serviceaccounts",
                "namespaces",
                "namespaces/status",
            ],
        ),
        rule(
            READ,
            &["apps"],
            &[
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
            ],
        ),
        rule(READ, &["coordination.k8s.io"], &["leases"]),
    ]
}

/// What edit adds (upstream's `system:aggregate-to-edit`).
fn edit_rules() -> Vec<PolicyRule> {
    let mut rules = view_rules();
    rules.extend([
        rule(READ, &[""], &["secrets"]),
        rule(
            WRITE,
            &[""],
            &[
                "configmaps",
                "endpoints",
                "pods",
                "pods/eviction",
                "secrets",
                "services",
                "serviceaccounts",
            ],
        ),
        rule(&["create"], &[""], &["serviceaccounts/token"]),
        rule(&["impersonate"], &[""], &["serviceaccounts"]),
        rule(
            WRITE,
            &["apps"],
            &[
                "deployments",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
            ],
        ),
        rule(WRITE, &["coordination.k8s.io"], &["leases"]),
    ]);
    rules
}

/// What admin adds (upstream's `system:aggregate-to-admin`): RBAC within a namespace.
fn admin_rules() -> Vec<PolicyRule> {
    let mut rules = edit_rules();
    rules.extend([
        rule(
            READ_WRITE,
            &["rbac.authorization.k8s.io"],
            &["roles", "rolebindings"],
        ),
        rule(
            &["create"],
            &["authorization.k8s.io"],
            &["localsubjectaccessreviews"],
        ),
    ]);
    rules
}

/// The bootstrap ClusterRoles.
pub fn cluster_roles() -> Vec<ClusterRole> {
    vec![
        cluster_role(
            "cluster-admin",
            vec![rule(&["*"], &["*"], &["*"]), urls(&["*"], &["*"])],
        ),
        cluster_role("admin", admin_rules()),
        cluster_role("edit", edit_rules()),
        cluster_role("view", view_rules()),
        cluster_role(
            "system:discovery",
            vec![urls(
                &["get"],
                &[
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
            )],
        ),
        cluster_role(
            "system:public-info-viewer",
            vec![urls(
                &["get"],
                &["/healthz", "/livez", "/readyz", "/version", "/version/"],
            )],
        ),
        cluster_role(
            "system:basic-user",
            vec![rule(
                &["create"],
                &["authorization.k8s.io"],
                &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
            )],
        ),
        cluster_role(
            "system:kube-scheduler",
            vec![
                rule(EVENT_WRITE, &["", "events.k8s.io"], &["events"]),
                rule(&["create"], &["coordination.k8s.io"], &["leases"]),
                named(
                    rule(&["get", "update"], &["coordination.k8s.io"], &["leases"]),
                    &["kube-scheduler"],
                ),
                rule(READ, &[""], &["nodes", "namespaces", "services"]),
                rule(&["delete", "get", "list", "watch"], &[""], &["pods"]),
                rule(&["create"], &[""], &["pods/binding", "bindings"]),
                rule(&["patch", "update"], &[""], &["pods/status"]),
                rule(READ, &["apps"], &["replicasets"]),
                rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["subjectaccessreviews"],
                ),
            ],
        ),
        cluster_role(
            "system:kube-controller-manager",
            vec![
                rule(EVENT_WRITE, &["", "events.k8s.io"], &["events"]),
                rule(&["create"], &["coordination.k8s.io"], &["leases"]),
                named(
                    rule(&["get", "update"], &["coordination.k8s.io"], &["leases"]),
                    &["kube-controller-manager"],
                ),
                // The controllers Rudder runs under this one identity (upstream
                // gives each its own service account): deployment, replicaset,
                // endpoints, namespace, node lifecycle, service account, garbage
                // collector.
                rule(READ_WRITE, &["apps"], &["deployments", "replicasets"]),
                rule(
                    &["patch", "update"],
                    &["apps"],
                    &["deployments/status", "replicasets/status"],
                ),
                rule(
                    READ_WRITE,
                    &[""],
                    &[
                        "pods",
                        "endpoints",
                        "serviceaccounts",
                        "configmaps",
                        "secrets",
                        "services",
                    ],
                ),
                rule(
                    &["patch", "update"],
                    &[""],
                    &[
                        "pods/status",
                        "services/status",
                        "namespaces/status",
                        "namespaces/finalize",
                    ],
                ),
                rule(
                    &["get", "list", "watch", "delete", "patch", "update"],
                    &[""],
                    &["namespaces", "nodes"],
                ),
                rule(&["patch", "update"], &[""], &["nodes/status"]),
                rule(
                    &["create"],
                    &[""],
                    &["pods/eviction", "serviceaccounts/token"],
                ),
                // Needed by every shared informer and by the garbage collector.
                rule(
                    &[
                        "get",
                        "list",
                        "watch",
                        "delete",
                        "deletecollection",
                        "patch",
                        "update",
                    ],
                    &["*"],
                    &["*"],
                ),
                rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["subjectaccessreviews"],
                ),
            ],
        ),
        // What the API server's kubelet-client identity may do on kubelets (logs, exec,
        // port-forward, stats), checked by kubelets through SubjectAccessReviews.
        cluster_role(
            "system:kubelet-api-admin",
            vec![
                rule(&["get", "list", "watch", "proxy"], &[""], &["nodes"]),
                rule(
                    &["*"],
                    &[""],
                    &["nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats"],
                ),
            ],
        ),
        cluster_role(
            "system:node-proxier",
            vec![
                rule(&["list", "watch"], &[""], &["services", "endpoints"]),
                rule(READ, &[""], &["nodes"]),
                rule(EVENT_WRITE, &["", "events.k8s.io"], &["events"]),
            ],
        ),
        cluster_role(
            "system:node",
            vec![
                rule(
                    &[
                        "create", "get", "list", "watch", "update", "patch", "delete",
                    ],
                    &[""],
                    &["nodes"],
                ),
                rule(&["patch", "update"], &[""], &["nodes/status"]),
                rule(EVENT_WRITE, &["", "events.k8s.io"], &["events"]),
                rule(
                    &["get", "list", "watch", "create", "delete"],
                    &[""],
                    &["pods"],
                ),
                rule(&["patch", "update"], &[""], &["pods/status"]),
                rule(
                    &["create"],
                    &[""],
                    &["pods/eviction", "serviceaccounts/token"],
                ),
                rule(READ, &[""], &["services", "endpoints"]),
                rule(
                    &["get"],
                    &[""],
                    &["secrets", "configmaps", "serviceaccounts"],
                ),
                rule(
                    &["get", "create", "update", "patch", "delete"],
                    &["coordination.k8s.io"],
                    &["leases"],
                ),
                rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["subjectaccessreviews"],
                ),
            ],
        ),
    ]
}

fn binding(name: &str, role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(name),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: role.into(),
        },
        subjects: Some(subjects),
    }
}

fn subject(kind: &str, name: &str) -> Subject {
    Subject {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: kind.into(),
        name: name.into(),
        namespace: None,
    }
}

/// The bootstrap ClusterRoleBindings. `system:node` is bound to no one, as
/// upstream: kubelets are authorized by the node authorizer.
pub fn cluster_role_bindings() -> Vec<ClusterRoleBinding> {
    vec![
        binding(
            "cluster-admin",
            "cluster-admin",
            vec![subject("Group", "system:masters")],
        ),
        binding(
            "system:discovery",
            "system:discovery",
            vec![subject("Group", "system:authenticated")],
        ),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            vec![
                subject("Group", "system:authenticated"),
                subject("Group", "system:unauthenticated"),
            ],
        ),
        binding(
            "system:basic-user",
            "system:basic-user",
            vec![subject("Group", "system:authenticated")],
        ),
        binding(
            "system:kube-scheduler",
            "system:kube-scheduler",
            vec![subject("User", "system:kube-scheduler")],
        ),
        binding(
            "system:kube-controller-manager",
            "system:kube-controller-manager",
            vec![subject("User", "system:kube-controller-manager")],
        ),
        binding(
            "system:node-proxier",
            "system:node-proxier",
            vec![subject("User", "system:kube-proxy")],
        ),
        binding("system:node", "system:node", vec![]),
        binding(
            "system:kube-apiserver-kubelet-client",
            "system:kubelet-api-admin",
            vec![subject("User", "kube-apiserver-kubelet-client")],
        ),
    ]
}

/// The objects to create, as (plural, JSON body).
fn objects() -> Vec<(&'static str, String, Value)> {
    let mut out = Vec::new();
    for role in cluster_roles() {
        let name = role.metadata.name.clone().unwrap_or_default();
        let mut v = serde_json::to_value(&role).unwrap_or(Value::Null);
        v["apiVersion"] = "rbac.authorization.k8s.io/v1".into();
        v["kind"] = "ClusterRole".into();
        out.push(("clusterroles", name, v));
    }
    for b in cluster_role_bindings() {
        let name = b.metadata.name.clone().unwrap_or_default();
        let mut v = serde_json::to_value(&b).unwrap_or(Value::Null);
        v["apiVersion"] = "rbac.authorization.k8s.io/v1".into();
        v["kind"] = "ClusterRoleBinding".into();
        out.push(("clusterrolebindings", name, v));
    }
    out
}

/// Creates every missing bootstrap ClusterRole and ClusterRoleBinding, retrying
/// while the store is unreachable, until done or shut down. Existing objects are
/// left as they are.
pub async fn reconcile(registry: Registry, shutdown: CancellationToken) {
    let ctx = RequestContext::new(rudder_pki::Identity::new(
        "system:apiserver",
        ["system:masters"],
    ));
    for (plural, name, body) in objects() {
        let Some(resource) = rudder_api::resource::by_plural("rbac.authorization.k8s.io", plural)
        else {
            tracing::error!(plural, "RBAC resources are missing from the resource table");
            return;
        };
        let collection = CollectionRef {
            resource,
            namespace: None,
        };
        loop {
            match registry
                .create(&ctx, &collection, body.clone(), &WriteOptions::internal())
                .await
            {
                Ok(_) => {
                    tracing::info!(kind = plural, %name, "created bootstrap RBAC object");
                    break;
                }
                Err(Error::AlreadyExists { .. }) => {
                    report_drift(&registry, &ctx, resource, &name, &body).await;
                    break;
                }
                Err(e @ (Error::Storage(_) | Error::Timeout(_))) => {
                    tracing::warn!(kind = plural, %name, error = %e, "cannot reconcile yet; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
                Err(e) => {
                    tracing::error!(kind = plural, %name, error = %e, "bootstrap RBAC object refused");
                    break;
                }
            }
        }
    }
}

/// Whether the watch caches hold every bootstrap object: from then on the RBAC
/// authorizer, which reads the caches, grants what the bootstrap policy grants.
pub fn visible_in(caches: &crate::watch_cache::WatchCaches) -> bool {
    objects().iter().all(|(plural, name, _)| {
        rudder_api::resource::by_plural("rbac.authorization.k8s.io", plural)
            .and_then(|resource| caches.get(resource))
            .is_some_and(|cache| {
                rudder_api::keys::object_key(cache.resource(), None, name)
                    .is_ok_and(|key| cache.get(&key).is_some())
            })
    })
}

/// Logs when a stored bootstrap object differs from the bootstrap one; never
/// rewrites it (an operator's change is deliberate).
async fn report_drift(
    registry: &Registry,
    ctx: &RequestContext,
    resource: &'static rudder_api::resource::ResourceInfo,
    name: &str,
    wanted: &Value,
) {
    let r = ObjectRef {
        resource,
        namespace: None,
        name: name.to_string(),
        subresource: None,
    };
    if let Ok(stored) = registry.get(ctx, &r).await {
        for field in ["rules", "subjects", "roleRef"] {
            if wanted.get(field).is_some() && stored.get(field) != wanted.get(field) {
                tracing::warn!(
                    kind = resource.plural,
                    name,
                    field,
                    "bootstrap RBAC object differs from the default; left unchanged"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::rbac::{Policy, Request, Target, UserInfo};

    fn policy() -> Policy {
        Policy::new([], cluster_roles(), [], cluster_role_bindings())
    }

    fn allowed(
        policy: &Policy,
        user: &str,
        groups: &[&str],
        verb: &str,
        target: Target<'_>,
    ) -> bool {
        let mut groups: Vec<String> = groups.iter().map(|s| s.to_string()).collect();
        groups.push("system:authenticated".into());
        policy
            .authorize(&Request {
                user: UserInfo {
                    name: user,
                    groups: &groups,
                },
                verb,
                target,
            })
            .allowed()
    }

    fn res<'a>(
        group: &'a str,
        resource: &'a str,
        sub: Option<&'a str>,
        name: &'a str,
    ) -> Target<'a> {
        Target::Resource {
            api_group: group,
            resource,
            subresource: sub,
            namespace: Some("default"),
            name,
        }
    }

    #[test]
    fn components_get_what_their_job_needs() {
        let p = policy();
        let sched = "system:kube-scheduler";
        let kcm = "system:kube-controller-manager";
        let proxy = "system:kube-proxy";
        let cases = [
            (sched, "create", res("", "pods", Some("binding"), "p"), true),
            (sched, "watch", res("", "pods", None, ""), true),
            (sched, "update", res("", "pods", None, "p"), false),
            (sched, "get", res("", "secrets", None, "s"), false),
            (
                sched,
                "update",
                res("coordination.k8s.io", "leases", None, "kube-scheduler"),
                true,
            ),
            (
                sched,
                "update",
                res(
                    "coordination.k8s.io",
                    "leases",
                    None,
                    "kube-controller-manager",
                ),
                false,
            ),
            (kcm, "create", res("apps", "replicasets", None, ""), true),
            (
                kcm,
                "update",
                res("apps", "deployments", Some("status"), "d"),
                true,
            ),
            (kcm, "create", res("", "pods", None, ""), true),
            (
                kcm,
                "create",
                res("rbac.authorization.k8s.io", "clusterroles", None, ""),
                false,
            ),
            (proxy, "watch", res("", "endpoints", None, ""), true),
            (proxy, "get", res("", "secrets", None, "s"), false),
            (proxy, "create", res("", "services", None, ""), false),
            (
                "nobody",
                "get",
                Target::NonResource { path: "/version" },
                true,
            ),
            (
                "nobody",
                "get",
                Target::NonResource {
                    path: "/apis/apps/v1",
                },
                true,
            ),
            (
                "nobody",
                "create",
                res("authorization.k8s.io", "selfsubjectaccessreviews", None, ""),
                true,
            ),
            ("nobody", "get", res("", "pods", None, "p"), false),
            ("system:node:n1", "get", res("", "pods", None, "p"), false),
        ];
        for (user, verb, target, want) in cases {
            assert_eq!(
                allowed(&p, user, &[], verb, target.clone()),
                want,
                "{user} {verb} {target:?}"
            );
        }
    }

    #[test]
    fn view_edit_admin_nest() {
        let p = Policy::new(
            [],
            cluster_roles(),
            [],
            [
                binding("v", "view", vec![subject("User", "v")]),
                binding("e", "edit", vec![subject("User", "e")]),
                binding("a", "admin", vec![subject("User", "a")]),
            ],
        );
        let secret = || res("", "secrets", None, "s");
        assert!(!allowed(&p, "v", &[], "get", secret()));
        assert!(allowed(&p, "e", &[], "get", secret()));
        assert!(allowed(
            &p,
            "v",
            &[],
            "list",
            res("apps", "deployments", None, "")
        ));
        assert!(!allowed(
            &p,
            "v",
            &[],
            "patch",
            res("apps", "deployments", Some("scale"), "d")
        ));
        assert!(allowed(
            &p,
            "e",
            &[],
            "patch",
            res("apps", "deployments", Some("scale"), "d")
        ));
        assert!(!allowed(
            &p,
            "e",
            &[],
            "create",
            res("rbac.authorization.k8s.io", "rolebindings", None, "")
        ));
        assert!(allowed(
            &p,
            "a",
            &[],
            "create",
            res("rbac.authorization.k8s.io", "rolebindings", None, "")
        ));
        assert!(allowed(
            &p,
            "admin",
            &["system:masters"],
            "delete",
            res("", "nodes", None, "n")
        ));
    }

    #[test]
    fn every_object_is_labelled_and_serialises() {
        for (_, name, body) in objects() {
            assert_eq!(
                body["metadata"]["labels"][BOOTSTRAP_LABEL.0], BOOTSTRAP_LABEL.1,
                "{name}"
            );
            assert!(body["kind"].is_string());
        }
    }
}
