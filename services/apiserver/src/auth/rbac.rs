//! RBAC evaluation as a pure function over Role, ClusterRole, RoleBinding and
//! ClusterRoleBinding objects, with upstream's semantics
//! (`plugin/pkg/auth/authorizer/rbac/rbac.go` and `rbac/v1/evaluation_helpers.go`):
//! a request is allowed when any rule of any role bound to the caller covers it;
//! there are no deny rules. `system:masters` is all-powerful, as kube-apiserver's
//! privileged-group authorizer makes it.
//!
//! No I/O here: [`Policy`] is built from objects (the watch caches feed it, see
//! [`super::RbacAuthorizer`]) and answers [`Policy::authorize`] and
//! [`Policy::rules_for`].

use std::collections::HashMap;

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject,
};

/// The group whose members may do anything (upstream `user.SystemPrivilegedGroup`).
pub const SYSTEM_MASTERS: &str = "system:masters";

/// Who asks: the authenticated user and groups (after impersonation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo<'a> {
    /// User name (`bob`, `system:serviceaccount:ns:name`, `system:node:n1`).
    pub name: &'a str,
    /// Groups, including `system:authenticated`.
    pub groups: &'a [String],
}

/// What is asked, upstream's `authorizer.Attributes` in RBAC's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    /// A request on an API resource.
    Resource {
        /// API group, `""` for core.
        api_group: &'a str,
        /// Plural resource name (`pods`).
        resource: &'a str,
        /// `status`, `scale`, `binding` ...
        subresource: Option<&'a str>,
        /// Namespace, None for cluster-scoped or all-namespace requests.
        namespace: Option<&'a str>,
        /// Object name, empty for collection requests.
        name: &'a str,
    },
    /// A request on a path outside the resource tree (`/healthz`, `/api`).
    NonResource {
        /// The URL path.
        path: &'a str,
    },
}

/// One request in RBAC's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// The caller.
    pub user: UserInfo<'a>,
    /// The verb (`get`, `list`, ..., `impersonate`, or an HTTP verb for non-resource paths).
    pub verb: &'a str,
    /// What the verb is applied to.
    pub target: Target<'a>,
}

/// RBAC's answer. RBAC never denies explicitly upstream (it has "no opinion"); a
/// Deny here means no rule allowed it, and the reason is for logs, not the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, with the binding and role that allowed it.
    Allow(String),
    /// Not allowed by any rule.
    Deny(String),
}

impl Decision {
    /// Whether the request is allowed.
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }
}

/// A binding reduced to what evaluation needs.
#[derive(Debug, Clone, PartialEq)]
struct Binding {
    /// `ClusterRoleBinding/name` or `RoleBinding/ns/name`, for reasons.
    describe: String,
    /// The RoleBinding's namespace; None for ClusterRoleBindings.
    namespace: Option<String>,
    role_kind: String,
    role_name: String,
    subjects: Vec<Subject>,
}

/// Every role and binding of the cluster, indexed for evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    roles: HashMap<(String, String), Vec<PolicyRule>>,
    cluster_roles: HashMap<String, Vec<PolicyRule>>,
    role_bindings: HashMap<String, Vec<Binding>>,
    cluster_role_bindings: Vec<Binding>,
}

impl Policy {
    /// Builds the policy from the cluster's objects. Objects without a name are
    /// skipped (the store never holds such).
    pub fn new(
        roles: impl IntoIterator<Item = Role>,
        cluster_roles: impl IntoIterator<Item = ClusterRole>,
        role_bindings: impl IntoIterator<Item = RoleBinding>,
        cluster_role_bindings: impl IntoIterator<Item = ClusterRoleBinding>,
    ) -> Self {
        let mut policy = Policy::default();
        for role in roles {
            if let (Some(ns), Some(name)) = (role.metadata.namespace, role.metadata.name) {
                policy
                    .roles
                    .insert((ns, name), role.rules.unwrap_or_default());
            }
        }
        for role in cluster_roles {
            if let Some(name) = role.metadata.name {
                policy
                    .cluster_roles
                    .insert(name, role.rules.unwrap_or_default());
            }
        }
        for b in role_bindings {
            if let (Some(ns), Some(name)) = (b.metadata.namespace, b.metadata.name) {
                policy
                    .role_bindings
                    .entry(ns.clone())
                    .or_default()
                    .push(Binding {
                        describe: format!(
                            "RoleBinding \"{name}\" of {} \"{}\" in namespace \"{ns}\"",
                            b.role_ref.kind, b.role_ref.name
                        ),
                        namespace: Some(ns),
                        role_kind: b.role_ref.kind,
                        role_name: b.role_ref.name,
                        subjects: b.subjects.unwrap_or_default(),
                    });
            }
        }
        for b in cluster_role_bindings {
            if let Some(name) = b.metadata.name {
                policy.cluster_role_bindings.push(Binding {
                    describe: format!(
                        "ClusterRoleBinding \"{name}\" of {} \"{}\"",
                        b.role_ref.kind, b.role_ref.name
                    ),
                    namespace: None,
                    role_kind: b.role_ref.kind,
                    role_name: b.role_ref.name,
                    subjects: b.subjects.unwrap_or_default(),
                });
            }
        }
        policy
    }

    /// Decides one request.
    pub fn authorize(&self, request: &Request<'_>) -> Decision {
        if request.user.groups.iter().any(|g| g == SYSTEM_MASTERS) {
            return Decision::Allow(format!("member of {SYSTEM_MASTERS}"));
        }
        let namespace = match &request.target {
            Target::Resource { namespace, .. } => *namespace,
            Target::NonResource { .. } => None,
        };
        for binding in self.bindings_for(namespace) {
            if !binding
                .subjects
                .iter()
                .any(|s| applies_to(s, &request.user, binding.namespace.as_deref()))
            {
                continue;
            }
            if self
                .rules_of(binding)
                .iter()
                .any(|rule| rule_allows(rule, request.verb, &request.target))
            {
                return Decision::Allow(binding.describe.clone());
            }
        }
        Decision::Deny(format!("no RBAC rule allows user {:?}", request.user.name))
    }

    /// The rules that apply to `user` in `namespace` (cluster bindings' rules
    /// included), for SelfSubjectRulesReview. `system:masters` gets the
    /// all-powerful rules.
    pub fn rules_for(&self, user: &UserInfo<'_>, namespace: Option<&str>) -> Vec<PolicyRule> {
        if user.groups.iter().any(|g| g == SYSTEM_MASTERS) {
            return all_powerful_rules();
        }
        let mut rules = Vec::new();
        for binding in self.bindings_for(namespace) {
            if binding
                .subjects
                .iter()
                .any(|s| applies_to(s, user, binding.namespace.as_deref()))
            {
                for rule in self.rules_of(binding) {
                    if !rules.contains(rule) {
                        rules.push(rule.clone());
                    }
                }
            }
        }
        rules
    }

    /// Cluster bindings, then the namespace's bindings.
    fn bindings_for<'s>(&'s self, namespace: Option<&str>) -> impl Iterator<Item = &'s Binding> {
        let namespaced = namespace
            .and_then(|ns| self.role_bindings.get(ns))
            .map(Vec::as_slice)
            .unwrap_or_default();
        self.cluster_role_bindings.iter().chain(namespaced)
    }

    /// The rules a binding grants; a RoleBinding to a ClusterRole grants them in
    /// its namespace only (the caller looked up only that namespace's bindings). A
    /// reference to a missing role grants nothing.
    fn rules_of(&self, binding: &Binding) -> &[PolicyRule] {
        let rules = match (binding.role_kind.as_str(), &binding.namespace) {
            ("ClusterRole", _) => self.cluster_roles.get(&binding.role_name),
            ("Role", Some(ns)) => self.roles.get(&(ns.clone(), binding.role_name.clone())),
            _ => None,
        };
        rules.map(Vec::as_slice).unwrap_or_default()
    }
}

/// The rules of cluster-admin: every verb on everything.
pub fn all_powerful_rules() -> Vec<PolicyRule> {
    vec![
        PolicyRule {
            verbs: vec!["*".into()],
            api_groups: Some(vec!["*".into()]),
            resources: Some(vec!["*".into()]),
            ..Default::default()
        },
        PolicyRule {
            verbs: vec!["*".into()],
            non_resource_urls: Some(vec!["*".into()]),
            ..Default::default()
        },
    ]
}

/// Whether a binding subject names the user (upstream `appliesToUser`). A
/// ServiceAccount subject without a namespace means the binding's namespace.
fn applies_to(subject: &Subject, user: &UserInfo<'_>, binding_namespace: Option<&str>) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let namespace = subject
                .namespace
                .as_deref()
                .filter(|ns| !ns.is_empty())
                .or(binding_namespace)
                .unwrap_or_default();
            !namespace.is_empty() && user.name == service_account_user(namespace, &subject.name)
        }
        _ => false,
    }
}

/// `system:serviceaccount:<namespace>:<name>`, the user name of a service account.
pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// Whether one rule covers the request (upstream `RuleAllows`).
pub fn rule_allows(rule: &PolicyRule, verb: &str, target: &Target<'_>) -> bool {
    if !matches_any(&rule.verbs, verb) {
        return false;
    }
    match target {
        Target::Resource {
            api_group,
            resource,
            subresource,
            name,
            ..
        } => {
            let groups = rule.api_groups.as_deref().unwrap_or_default();
            if !matches_any(groups, api_group) {
                return false;
            }
            let resources = rule.resources.as_deref().unwrap_or_default();
            let combined = match subresource {
                Some(sub) => format!("{resource}/{sub}"),
                None => (*resource).to_string(),
            };
            let resource_ok = resources.iter().any(|r| {
                r == "*"
                    || *r == combined
                    || subresource.is_some_and(|sub| r.strip_prefix("*/") == Some(sub))
            });
            if !resource_ok {
                return false;
            }
            match rule.resource_names.as_deref() {
                None | Some([]) => true,
                Some(names) => !name.is_empty() && names.iter().any(|n| n == name),
            }
        }
        Target::NonResource { path } => rule
            .non_resource_urls
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|url| {
                url == "*"
                    || url == path
                    || url
                        .strip_suffix('*')
                        .is_some_and(|prefix| path.starts_with(prefix))
            }),
    }
}

fn matches_any(items: &[String], wanted: &str) -> bool {
    items.iter().any(|i| i == "*" || i == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::RoleRef;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
            resources: Some(resources.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    fn named(mut r: PolicyRule, names: &[&str]) -> PolicyRule {
        r.resource_names = Some(names.iter().map(|s| s.to_string()).collect());
        r
    }

    fn urls(verbs: &[&str], urls: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            non_resource_urls: Some(urls.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    fn meta(ns: Option<&str>, name: &str) -> ObjectMeta {
        ObjectMeta {
            namespace: ns.map(str::to_string),
            name: Some(name.to_string()),
            ..Default::default()
        }
    }

    fn subject(kind: &str, name: &str, ns: Option<&str>) -> Subject {
        Subject {
            kind: kind.into(),
            name: name.into(),
            namespace: ns.map(str::to_string),
            api_group: None,
        }
    }

    fn role_ref(kind: &str, name: &str) -> RoleRef {
        RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: kind.into(),
            name: name.into(),
        }
    }

    fn res<'a>(
        group: &'a str,
        resource: &'a str,
        sub: Option<&'a str>,
        ns: Option<&'a str>,
        name: &'a str,
    ) -> Target<'a> {
        Target::Resource {
            api_group: group,
            resource,
            subresource: sub,
            namespace: ns,
            name,
        }
    }

    /// Single rules against single requests (rule × request → allowed).
    #[test]
    fn rule_matching_table() {
        let pods = || res("", "pods", None, Some("default"), "");
        let cases: Vec<(&str, PolicyRule, &str, Target<'_>, bool)> = vec![
            (
                "exact",
                rule(&["get"], &[""], &["pods"]),
                "get",
                pods(),
                true,
            ),
            (
                "other verb",
                rule(&["get"], &[""], &["pods"]),
                "list",
                pods(),
                false,
            ),
            (
                "verb *",
                rule(&["*"], &[""], &["pods"]),
                "deletecollection",
                pods(),
                true,
            ),
            (
                "group mismatch",
                rule(&["get"], &["apps"], &["pods"]),
                "get",
                pods(),
                false,
            ),
            (
                "group *",
                rule(&["get"], &["*"], &["pods"]),
                "get",
                pods(),
                true,
            ),
            (
                "resource *",
                rule(&["get"], &[""], &["*"]),
                "get",
                pods(),
                true,
            ),
            (
                "resource rule does not cover sub",
                rule(&["get"], &[""], &["pods"]),
                "get",
                res("", "pods", Some("log"), Some("d"), "x"),
                false,
            ),
            (
                "resource/sub",
                rule(&["get"], &[""], &["pods/log"]),
                "get",
                res("", "pods", Some("log"), Some("d"), "x"),
                true,
            ),
            (
                "sub rule does not cover parent",
                rule(&["get"], &[""], &["pods/log"]),
                "get",
                res("", "pods", None, Some("d"), "x"),
                false,
            ),
            (
                "*/sub",
                rule(&["update"], &["*"], &["*/status"]),
                "update",
                res("apps", "deployments", Some("status"), Some("d"), "x"),
                true,
            ),
            (
                "*/sub other sub",
                rule(&["update"], &["*"], &["*/status"]),
                "update",
                res("apps", "deployments", Some("scale"), Some("d"), "x"),
                false,
            ),
            (
                "resource * covers sub",
                rule(&["get"], &[""], &["*"]),
                "get",
                res("", "pods", Some("status"), Some("d"), "x"),
                true,
            ),
            (
                "resourceNames hit",
                named(rule(&["get"], &[""], &["configmaps"]), &["a"]),
                "get",
                res("", "configmaps", None, Some("d"), "a"),
                true,
            ),
            (
                "resourceNames miss",
                named(rule(&["get"], &[""], &["configmaps"]), &["a"]),
                "get",
                res("", "configmaps", None, Some("d"), "b"),
                false,
            ),
            (
                "resourceNames never cover list",
                named(rule(&["list"], &[""], &["configmaps"]), &["a"]),
                "list",
                res("", "configmaps", None, Some("d"), ""),
                false,
            ),
            (
                "resourceNames never cover create",
                named(rule(&["create"], &[""], &["configmaps"]), &["a"]),
                "create",
                res("", "configmaps", None, Some("d"), ""),
                false,
            ),
            (
                "url exact",
                urls(&["get"], &["/healthz"]),
                "get",
                Target::NonResource { path: "/healthz" },
                true,
            ),
            (
                "url other",
                urls(&["get"], &["/healthz"]),
                "get",
                Target::NonResource { path: "/version" },
                false,
            ),
            (
                "url prefix *",
                urls(&["get"], &["/apis/*"]),
                "get",
                Target::NonResource {
                    path: "/apis/apps/v1",
                },
                true,
            ),
            (
                "url prefix * no parent",
                urls(&["get"], &["/apis/*"]),
                "get",
                Target::NonResource { path: "/apis" },
                false,
            ),
            (
                "url *",
                urls(&["*"], &["*"]),
                "post",
                Target::NonResource { path: "/anything" },
                true,
            ),
            (
                "url rule is not a resource rule",
                urls(&["*"], &["*"]),
                "get",
                pods(),
                false,
            ),
            (
                "resource rule is not a url rule",
                rule(&["*"], &["*"], &["*"]),
                "get",
                Target::NonResource { path: "/healthz" },
                false,
            ),
        ];
        for (what, rule, verb, target, want) in cases {
            assert_eq!(rule_allows(&rule, verb, &target), want, "{what}");
        }
    }

    fn cluster() -> Policy {
        Policy::new(
            [
                Role {
                    metadata: meta(Some("team"), "pod-reader"),
                    rules: Some(vec![rule(&["get", "list"], &[""], &["pods"])]),
                },
                Role {
                    metadata: meta(Some("other"), "secret-writer"),
                    rules: Some(vec![rule(&["*"], &[""], &["secrets"])]),
                },
            ],
            [
                ClusterRole {
                    metadata: meta(None, "view"),
                    rules: Some(vec![rule(
                        &["get", "list", "watch"],
                        &["", "apps"],
                        &["pods", "deployments"],
                    )]),
                    ..Default::default()
                },
                ClusterRole {
                    metadata: meta(None, "edit"),
                    rules: Some(vec![rule(&["*"], &[""], &["configmaps"])]),
                    ..Default::default()
                },
                ClusterRole {
                    metadata: meta(None, "discovery"),
                    rules: Some(vec![urls(&["get"], &["/api", "/api/*"])]),
                    ..Default::default()
                },
            ],
            [
                RoleBinding {
                    metadata: meta(Some("team"), "readers"),
                    role_ref: role_ref("Role", "pod-reader"),
                    subjects: Some(vec![
                        subject("User", "alice", None),
                        subject("ServiceAccount", "bot", None),
                    ]),
                },
                RoleBinding {
                    metadata: meta(Some("team"), "editors"),
                    role_ref: role_ref("ClusterRole", "edit"),
                    subjects: Some(vec![subject("Group", "devs", None)]),
                },
                RoleBinding {
                    // Binds a Role of another namespace by name: grants nothing.
                    metadata: meta(Some("team"), "cross"),
                    role_ref: role_ref("Role", "secret-writer"),
                    subjects: Some(vec![subject("User", "alice", None)]),
                },
                RoleBinding {
                    metadata: meta(Some("team"), "dangling"),
                    role_ref: role_ref("ClusterRole", "missing"),
                    subjects: Some(vec![subject("User", "alice", None)]),
                },
            ],
            [
                ClusterRoleBinding {
                    metadata: meta(None, "viewers"),
                    role_ref: role_ref("ClusterRole", "view"),
                    subjects: Some(vec![
                        subject("User", "bob", None),
                        subject("ServiceAccount", "watcher", Some("ops")),
                        subject("Group", "system:serviceaccounts:ci", None),
                    ]),
                },
                ClusterRoleBinding {
                    metadata: meta(None, "discovery"),
                    role_ref: role_ref("ClusterRole", "discovery"),
                    subjects: Some(vec![subject("Group", "system:authenticated", None)]),
                },
            ],
        )
    }

    /// The whole policy (roles × bindings × requests → decision).
    #[test]
    fn policy_table() {
        let policy = cluster();
        let g = |groups: &[&str]| groups.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let authed = g(&["system:authenticated"]);
        let devs = g(&["devs", "system:authenticated"]);
        let masters = g(&["system:masters"]);
        let ci_sa = g(&[
            "system:serviceaccounts",
            "system:serviceaccounts:ci",
            "system:authenticated",
        ]);
        let none: Vec<String> = vec![];
        let bot = service_account_user("team", "bot");
        let watcher = service_account_user("ops", "watcher");
        type Case<'a> = (&'a str, &'a str, &'a Vec<String>, &'a str, Target<'a>, bool);
        let cases: Vec<Case<'_>> = vec![
            (
                "role in its namespace",
                "alice",
                &authed,
                "get",
                res("", "pods", None, Some("team"), "p"),
                true,
            ),
            (
                "role not in another namespace",
                "alice",
                &authed,
                "get",
                res("", "pods", None, Some("other"), "p"),
                false,
            ),
            (
                "role not cluster-wide",
                "alice",
                &authed,
                "list",
                res("", "pods", None, None, ""),
                false,
            ),
            (
                "role verb missing",
                "alice",
                &authed,
                "delete",
                res("", "pods", None, Some("team"), "p"),
                false,
            ),
            (
                "cross-namespace Role ref grants nothing",
                "alice",
                &authed,
                "get",
                res("", "secrets", None, Some("team"), "s"),
                false,
            ),
            (
                "cluster role via rolebinding in ns",
                "carol",
                &devs,
                "delete",
                res("", "configmaps", None, Some("team"), "c"),
                true,
            ),
            (
                "cluster role via rolebinding not elsewhere",
                "carol",
                &devs,
                "delete",
                res("", "configmaps", None, Some("other"), "c"),
                false,
            ),
            (
                "cluster role via rolebinding not cluster-wide",
                "carol",
                &devs,
                "list",
                res("", "configmaps", None, None, ""),
                false,
            ),
            (
                "clusterrolebinding everywhere",
                "bob",
                &authed,
                "watch",
                res("apps", "deployments", None, Some("x"), ""),
                true,
            ),
            (
                "clusterrolebinding all namespaces",
                "bob",
                &authed,
                "list",
                res("", "pods", None, None, ""),
                true,
            ),
            (
                "view does not write",
                "bob",
                &authed,
                "create",
                res("", "pods", None, Some("x"), ""),
                false,
            ),
            (
                "view no secrets",
                "bob",
                &authed,
                "get",
                res("", "secrets", None, Some("x"), "s"),
                false,
            ),
            (
                "user name is not a group",
                "devs",
                &authed,
                "delete",
                res("", "configmaps", None, Some("team"), "c"),
                false,
            ),
            (
                "sa subject without ns takes binding ns",
                &bot,
                &ci_sa,
                "get",
                res("", "pods", None, Some("team"), "p"),
                true,
            ),
            (
                "sa subject with ns",
                &watcher,
                &authed,
                "get",
                res("", "pods", None, Some("a"), "p"),
                true,
            ),
            (
                "sa group",
                "system:serviceaccount:ci:builder",
                &ci_sa,
                "list",
                res("", "pods", None, Some("a"), ""),
                true,
            ),
            (
                "same sa name other ns",
                "system:serviceaccount:dev:watcher",
                &authed,
                "get",
                res("", "pods", None, Some("a"), "p"),
                false,
            ),
            (
                "masters anything",
                "admin",
                &masters,
                "deletecollection",
                res("", "secrets", None, Some("a"), ""),
                true,
            ),
            (
                "masters urls",
                "admin",
                &masters,
                "get",
                Target::NonResource { path: "/metrics" },
                true,
            ),
            (
                "discovery url",
                "bob",
                &authed,
                "get",
                Target::NonResource { path: "/api/v1" },
                true,
            ),
            (
                "discovery needs the group",
                "bob",
                &none,
                "get",
                Target::NonResource { path: "/api/v1" },
                false,
            ),
            (
                "url not granted",
                "bob",
                &authed,
                "get",
                Target::NonResource { path: "/metrics" },
                false,
            ),
            (
                "stranger",
                "eve",
                &none,
                "get",
                res("", "pods", None, Some("team"), "p"),
                false,
            ),
        ];
        for (what, user, groups, verb, target, want) in cases {
            let request = Request {
                user: UserInfo { name: user, groups },
                verb,
                target,
            };
            assert_eq!(policy.authorize(&request).allowed(), want, "{what}");
        }
    }

    #[test]
    fn allow_names_the_binding() {
        let policy = cluster();
        let groups = vec![];
        let d = policy.authorize(&Request {
            user: UserInfo {
                name: "alice",
                groups: &groups,
            },
            verb: "get",
            target: res("", "pods", None, Some("team"), "p"),
        });
        assert_eq!(
            d,
            Decision::Allow(
                "RoleBinding \"readers\" of Role \"pod-reader\" in namespace \"team\"".into()
            )
        );
    }

    #[test]
    fn rules_for_lists_cluster_and_namespace_rules() {
        let policy = cluster();
        let groups = vec!["devs".to_string(), "system:authenticated".to_string()];
        let user = UserInfo {
            name: "alice",
            groups: &groups,
        };
        let rules = policy.rules_for(&user, Some("team"));
        assert_eq!(
            rules,
            vec![
                urls(&["get"], &["/api", "/api/*"]),
                rule(&["get", "list"], &[""], &["pods"]),
                rule(&["*"], &[""], &["configmaps"]),
            ]
        );
        assert_eq!(
            policy.rules_for(&user, Some("other")),
            vec![urls(&["get"], &["/api", "/api/*"])]
        );
        let masters = vec![SYSTEM_MASTERS.to_string()];
        assert_eq!(
            policy
                .rules_for(
                    &UserInfo {
                        name: "root",
                        groups: &masters
                    },
                    None
                )
                .len(),
            2
        );
    }
}
