//! The admission chain (issue 5), run by the registry before every write, for
//! REST and gRPC alike: mutating plugins first, then validating ones, as
//! kube-apiserver orders them.
//!
//! - **ServiceAccount** (mutating, and validating the account exists): a pod
//!   without `serviceAccountName` runs as `default`; unless
//!   `automountServiceAccountToken: false` (pod, else account) it gets the
//!   projected `kube-api-access-xxxxx` volume (token, cluster CA, namespace)
//!   mounted read-only at `/var/run/secrets/kubernetes.io/serviceaccount` in every
//!   container; a pod naming a missing account is refused (403).
//! - **NamespaceLifecycle** (validating): no creates in a missing namespace (404)
//!   or a terminating one (403); `default`, `kube-system` and `kube-public` cannot
//!   be deleted (403).
//! - **NodeRestriction** (validating): a kubelet may change only its own Node,
//!   and only pods bound to it (status, deletion); it may create only mirror pods.
//! - **RBAC escalation** (validating, upstream does it in the RBAC storage): no
//!   role or binding grants more than its writer holds (`crate::auth::escalation`).
//!
//! Each plugin is a pure function of the request; namespaces and service
//! accounts come from the watch cache, falling back to a store read on a miss so
//! an object created a moment ago is seen.

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

/// Where the ServiceAccount plugin mounts the API credentials in every container.
pub const SERVICE_ACCOUNT_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The prefix of the projected volume's name (upstream's `kube-api-access-xxxxx`).
pub const API_ACCESS_VOLUME_PREFIX: &str = "kube-api-access-";
/// The lifetime the kubelet asks for the projected token: an hour, plus seven
/// seconds that mark it as the admission plugin's (as upstream).
pub const PROJECTED_TOKEN_SECONDS: u64 = 3607;
/// The account a pod runs as when it names none.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// ServiceAccount, first half: the account a new pod runs as (set on the pod as
/// `serviceAccountName`, `default` when it names none), or None when the plugin
/// leaves the request alone (not a pod create, or a mirror pod: a static pod's
/// copy must not reference API objects).
pub fn pod_service_account(attrs: &Attributes<'_>, object: Option<&mut Value>) -> Option<String> {
    if attrs.verb != Verb::Create
        || attrs.subresource.is_some()
        || (attrs.resource.group, attrs.resource.plural) != ("", "pods")
    {
        return None;
    }
    let pod = object?;
    if !pod["metadata"]["annotations"][MIRROR_POD_ANNOTATION].is_null() {
        return None;
    }
    let spec = pod.get_mut("spec").and_then(Value::as_object_mut)?;
    let named = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            spec.get("serviceAccount")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        })
        .unwrap_or(DEFAULT_SERVICE_ACCOUNT)
        .to_string();
    spec.insert("serviceAccountName".into(), named.clone().into());
    Some(named)
}

/// ServiceAccount, second half: with the pod's `account` read (None: it does not
/// exist, which only the implicit `default` may), mounts the API credentials
/// unless `automountServiceAccountToken: false` on the pod or else the account,
/// and copies the account's imagePullSecrets to a pod that has none.
/// `suffix` names a new volume (five random characters).
pub fn admit_service_account(
    attrs: &Attributes<'_>,
    pod: &mut Value,
    name: &str,
    account: Option<&Value>,
    suffix: &str,
) -> Result<()> {
    // No controller creates `default` yet (the controller manager's
    // serviceaccount controller will): until then a missing `default` is assumed.
    if account.is_none() && name != DEFAULT_SERVICE_ACCOUNT {
        let namespace = attrs.namespace.unwrap_or_default();
        return Err(forbidden(
            attrs,
            &format!(
                "error looking up service account {namespace}/{name}: serviceaccount \"{name}\" not found"
            ),
        ));
    }
    let automount = pod["spec"]["automountServiceAccountToken"]
        .as_bool()
        .or_else(|| account.and_then(|a| a["automountServiceAccountToken"].as_bool()))
        .unwrap_or(true);
    if automount {
        mount_api_access(pod, suffix);
    }
    let pull_secrets = account.map(|a| &a["imagePullSecrets"]);
    if let (Some(Value::Array(secrets)), Some(spec)) = (pull_secrets, pod["spec"].as_object_mut()) {
        let has_own = spec
            .get("imagePullSecrets")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if !has_own && !secrets.is_empty() {
            let refs: Vec<Value> = secrets
                .iter()
                .filter_map(|s| s["name"].as_str())
                .map(|n| serde_json::json!({ "name": n }))
                .collect();
            spec.insert("imagePullSecrets".into(), refs.into());
        }
    }
    Ok(())
}

/// Adds the projected `kube-api-access-<suffix>` volume (token, cluster CA,
/// namespace) and mounts it read-only at [`SERVICE_ACCOUNT_MOUNT_PATH`] in every
/// container and init container that does not mount something there already. A
/// pod that already has such a volume keeps it.
fn mount_api_access(pod: &mut Value, suffix: &str) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .and_then(|vs| {
            vs.iter()
                .filter_map(|v| v["name"].as_str())
                .find(|n| n.starts_with(API_ACCESS_VOLUME_PREFIX))
        })
        .map(str::to_string);
    let volume_name = existing
        .clone()
        .unwrap_or_else(|| format!("{API_ACCESS_VOLUME_PREFIX}{suffix}"));
    let mount = serde_json::json!({
        "name": volume_name,
        "readOnly": true,
        "mountPath": SERVICE_ACCOUNT_MOUNT_PATH,
    });
    let mut mounted = false;
    for field in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(field).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            let mounts = container
                .entry("volumeMounts")
                .or_insert_with(|| Value::Array(Vec::new()));
            let Some(mounts) = mounts.as_array_mut() else {
                continue;
            };
            if mounts
                .iter()
                .any(|m| m["mountPath"] == SERVICE_ACCOUNT_MOUNT_PATH)
            {
                continue;
            }
            mounts.push(mount.clone());
            mounted = true;
        }
    }
    if mounted && existing.is_none() {
        let volumes = spec
            .entry("volumes")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(volumes) = volumes.as_array_mut() {
            volumes.push(api_access_volume(&volume_name));
        }
    }
}

/// The projected volume upstream's plugin adds (with the API's default mode).
fn api_access_volume(name: &str) -> Value {
    serde_json::json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": PROJECTED_TOKEN_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace",
                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        },
    })
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
    service_accounts: Option<Arc<WatchCache>>,
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
    /// Reads namespaces from `namespaces` and service accounts from
    /// `service_accounts`, and from `storage` on a cache miss.
    pub fn new(
        namespaces: Option<Arc<WatchCache>>,
        service_accounts: Option<Arc<WatchCache>>,
        storage: Storage,
    ) -> Self {
        AdmissionPlugins {
            namespaces,
            service_accounts,
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
        Ok(
            match self
                .read(&self.namespaces, "namespaces", None, name)
                .await?
            {
                Some(ns) => NamespaceState::of(&ns),
                None => NamespaceState::Missing,
            },
        )
    }

    /// The stored object `plural` `namespace/name` from `cache`, or from the store
    /// on a miss (an object created a moment ago may not be cached yet).
    async fn read(
        &self,
        cache: &Option<Arc<WatchCache>>,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>> {
        let Some(resource) = rudder_api::resource::by_plural("", plural) else {
            return Ok(None);
        };
        let key = rudder_api::keys::object_key(resource, namespace, name).map_err(|_| {
            Error::BadRequest(format!("invalid {} name {name:?}", resource.singular))
        })?;
        if let Some(object) = cache.as_ref().and_then(|c| c.get(&key)) {
            return Ok(Some((*object).clone()));
        }
        match self.storage.get(key.as_bytes()).await? {
            Some(stored) => Ok(Some(meta::decode_from_store(
                &stored.value,
                stored.mod_revision,
            )?)),
            None => Ok(None),
        }
    }

    /// The ServiceAccount plugin on one request.
    async fn service_account(
        &self,
        attrs: &Attributes<'_>,
        object: Option<&mut Value>,
    ) -> Result<()> {
        let Some(pod) = object else {
            return Ok(());
        };
        let Some(name) = pod_service_account(attrs, Some(&mut *pod)) else {
            return Ok(());
        };
        let account = self
            .read(
                &self.service_accounts,
                "serviceaccounts",
                attrs.namespace,
                &name,
            )
            .await?;
        let mut entropy = [0u8; 5];
        getrandom::fill(&mut entropy).map_err(|e| Error::Internal(format!("random: {e}")))?;
        let suffix = meta::generated_name("", &entropy);
        admit_service_account(attrs, pod, &name, account.as_ref(), &suffix)
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
            self.service_account(attrs, object.as_deref_mut()).await?;
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
        assert_eq!(
            pod_service_account(&a, Some(&mut pod)).as_deref(),
            Some("default")
        );
        assert_eq!(pod["spec"]["serviceAccountName"], "default");
        let mut named = json!({"spec": {"serviceAccountName": "web"}});
        assert_eq!(
            pod_service_account(&a, Some(&mut named)).as_deref(),
            Some("web")
        );
        let mut update = json!({"spec": {}});
        let u = attrs(Verb::Update, "pods", None, Some("d"), "p");
        assert_eq!(pod_service_account(&u, Some(&mut update)), None);
        assert_eq!(update["spec"].get("serviceAccountName"), None);
        let mut mirror =
            json!({"metadata": {"annotations": {MIRROR_POD_ANNOTATION: "x"}}, "spec": {}});
        assert_eq!(pod_service_account(&a, Some(&mut mirror)), None);
    }

    fn api_access_mount(name: &str) -> Value {
        json!({"name": name, "readOnly": true, "mountPath": SERVICE_ACCOUNT_MOUNT_PATH})
    }

    #[test]
    fn the_api_access_volume_is_projected_into_every_container() {
        let a = attrs(Verb::Create, "pods", None, Some("d"), "p");
        let mut pod = json!({"spec": {
            "serviceAccountName": "default",
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "a", "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                           {"name": "b", "volumeMounts": [{"name": "own", "mountPath": SERVICE_ACCOUNT_MOUNT_PATH}]}],
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "own", "emptyDir": {}}]}});
        admit_service_account(&a, &mut pod, "default", Some(&json!({})), "x7k2q").unwrap();
        let spec = &pod["spec"];
        assert_eq!(
            spec["initContainers"][0]["volumeMounts"],
            json!([api_access_mount("kube-api-access-x7k2q")])
        );
        assert_eq!(
            spec["containers"][0]["volumeMounts"],
            json!([{"name": "data", "mountPath": "/data"}, api_access_mount("kube-api-access-x7k2q")])
        );
        // A container mounting something of its own there keeps it.
        assert_eq!(
            spec["containers"][1]["volumeMounts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            spec["volumes"][2],
            json!({
            "name": "kube-api-access-x7k2q",
            "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace",
                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}})
        );
    }

    #[test]
    fn automount_false_on_pod_or_account_and_missing_accounts() {
        let a = attrs(Verb::Create, "pods", None, Some("d"), "p");
        let pod = json!({"spec": {"containers": [{"name": "a"}]}});
        let mounted = |pod: &Value| pod["spec"].get("volumes").is_some();
        let off = json!({"automountServiceAccountToken": false});
        let on = json!({"automountServiceAccountToken": true});

        let mut p = pod.clone();
        admit_service_account(&a, &mut p, "bot", Some(&off), "aaaaa").unwrap();
        assert!(!mounted(&p));
        // The pod's word beats the account's.
        let mut p = pod.clone();
        p["spec"]["automountServiceAccountToken"] = true.into();
        admit_service_account(&a, &mut p, "bot", Some(&off), "aaaaa").unwrap();
        assert!(mounted(&p));
        let mut p = pod.clone();
        p["spec"]["automountServiceAccountToken"] = false.into();
        admit_service_account(&a, &mut p, "bot", Some(&on), "aaaaa").unwrap();
        assert!(!mounted(&p));

        let mut p = pod.clone();
        let err = admit_service_account(&a, &mut p, "ghost", None, "aaaaa").unwrap_err();
        assert_eq!(
            (err.code(), err.to_string().as_str()),
            (
                403,
                "pods \"p\" is forbidden: error looking up service account d/ghost: serviceaccount \"ghost\" not found"
            )
        );
        // Until a controller creates it, `default` is assumed.
        let mut p = pod.clone();
        admit_service_account(&a, &mut p, "default", None, "aaaaa").unwrap();
        assert!(mounted(&p));
        // The account's pull secrets, for a pod without its own.
        let mut p = pod.clone();
        let account = json!({"imagePullSecrets": [{"name": "registry"}]});
        admit_service_account(&a, &mut p, "bot", Some(&account), "aaaaa").unwrap();
        assert_eq!(p["spec"]["imagePullSecrets"], json!([{"name": "registry"}]));
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
