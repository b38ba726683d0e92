//! Defaulting, as kube-apiserver applies it before validation and storage
//! (upstream's `SetDefaults_*` for the served kinds, plus the create-time
//! defaults its strategies add, such as a namespace's `kubernetes` finalizer).
//!
//! The typed functions work on `k8s-openapi` objects; [`apply`] does the same on
//! an object's JSON for the API server, which keeps objects as JSON, and
//! [`with_defaults`] lets validation share the typed form.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentStrategy, ReplicaSet, RollingUpdateDeployment,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ClientIPConfig, ConfigMap, Container, Endpoints, Namespace, NamespaceSpec, NamespaceStatus,
    Node, Pod, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, Secret,
    Service, ServiceAccount, SessionAffinityConfig,
};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;
use crate::resource::ResourceInfo;

/// The RBAC API group, defaulted into role refs and user/group subjects.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn set<T>(field: &mut Option<T>, value: T) {
    if field.is_none() {
        *field = Some(value);
    }
}

fn set_str(field: &mut Option<String>, value: &str) {
    if field.as_deref().is_none_or(str::is_empty) {
        *field = Some(value.to_string());
    }
}

/// The tag of an image reference, `latest` when it has neither tag nor digest
/// (as the container runtime would pull it), "" when it has only a digest.
pub fn image_tag(image: &str) -> &str {
    let (name, has_digest) = match image.split_once('@') {
        Some((n, _)) => (n, true),
        None => (image, false),
    };
    let last_segment_start = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_segment_start..].rsplit_once(':') {
        Some((_, tag)) => tag,
        None if has_digest => "",
        None => "latest",
    }
}

fn default_probe(p: &mut Option<Probe>) {
    if let Some(p) = p {
        set(&mut p.timeout_seconds, 1);
        set(&mut p.period_seconds, 10);
        set(&mut p.success_threshold, 1);
        set(&mut p.failure_threshold, 3);
        if let Some(h) = &mut p.http_get {
            set_str(&mut h.scheme, "HTTP");
        }
    }
}

/// Defaults one container: pull policy from the image tag, termination message,
/// port protocols, probe timings, env field-ref API version.
pub fn container(c: &mut Container) {
    if c.image_pull_policy.as_deref().is_none_or(str::is_empty) {
        let tag = image_tag(c.image.as_deref().unwrap_or_default());
        c.image_pull_policy = Some(
            if tag == "latest" {
                "Always"
            } else {
                "IfNotPresent"
            }
            .to_string(),
        );
    }
    set_str(&mut c.termination_message_path, "/dev/termination-log");
    set_str(&mut c.termination_message_policy, "File");
    set(&mut c.resources, ResourceRequirements::default());
    for p in c.ports.iter_mut().flatten() {
        set_str(&mut p.protocol, "TCP");
    }
    for e in c.env.iter_mut().flatten() {
        if let Some(f) = e.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            set_str(&mut f.api_version, "v1");
        }
    }
    default_probe(&mut c.liveness_probe);
    default_probe(&mut c.readiness_probe);
    default_probe(&mut c.startup_probe);
}

/// Defaults a pod spec (also the one inside templates).
pub fn pod_spec(spec: &mut PodSpec) {
    set_str(&mut spec.restart_policy, "Always");
    set(&mut spec.termination_grace_period_seconds, 30);
    set_str(&mut spec.dns_policy, "ClusterFirst");
    set_str(&mut spec.scheduler_name, "default-scheduler");
    set(&mut spec.security_context, PodSecurityContext::default());
    set(&mut spec.enable_service_links, true);
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        container(c);
    }
    for v in spec.volumes.iter_mut().flatten() {
        if let Some(s) = &mut v.secret {
            set(&mut s.default_mode, 0o644);
        }
        if let Some(s) = &mut v.config_map {
            set(&mut s.default_mode, 0o644);
        }
        if let Some(s) = &mut v.downward_api {
            set(&mut s.default_mode, 0o644);
        }
        if let Some(s) = &mut v.projected {
            set(&mut s.default_mode, 0o644);
        }
        if let Some(h) = &mut v.host_path {
            set(&mut h.type_, String::new());
        }
    }
}

/// Defaults a pod: its spec, and requests copied from limits where a container
/// sets a limit without a request (so the scheduler counts what will be used).
pub fn pod(p: &mut Pod) {
    let spec = p.spec.get_or_insert_with(Default::default);
    pod_spec(spec);
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        if let Some(r) = &mut c.resources
            && let Some(limits) = &r.limits
        {
            let requests = r.requests.get_or_insert_with(BTreeMap::new);
            for (k, v) in limits {
                requests.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
}

/// Defaults a pod template's spec.
pub fn pod_template(t: &mut PodTemplateSpec) {
    pod_spec(t.spec.get_or_insert_with(Default::default));
}

/// Defaults a deployment: replicas 1, RollingUpdate 25%/25%, revisionHistoryLimit 10,
/// progressDeadlineSeconds 600, and its template.
pub fn deployment(d: &mut Deployment) {
    let spec = d.spec.get_or_insert_with(Default::default);
    set(&mut spec.replicas, 1);
    let strategy = spec
        .strategy
        .get_or_insert_with(DeploymentStrategy::default);
    set_str(&mut strategy.type_, "RollingUpdate");
    if strategy.type_.as_deref() == Some("RollingUpdate") {
        let ru = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDeployment::default);
        set(
            &mut ru.max_unavailable,
            IntOrString::String("25%".to_string()),
        );
        set(&mut ru.max_surge, IntOrString::String("25%".to_string()));
    }
    set(&mut spec.revision_history_limit, 10);
    set(&mut spec.progress_deadline_seconds, 600);
    pod_template(&mut spec.template);
}

/// Defaults a replica set: replicas 1 and its template.
pub fn replica_set(r: &mut ReplicaSet) {
    let spec = r.spec.get_or_insert_with(Default::default);
    set(&mut spec.replicas, 1);
    if let Some(t) = &mut spec.template {
        pod_template(t);
    }
}

/// Defaults a service: type ClusterIP, sessionAffinity None, port protocol TCP,
/// targetPort = port, traffic policies, ClientIP affinity timeout 10800 s.
pub fn service(s: &mut Service) {
    let spec = s.spec.get_or_insert_with(Default::default);
    set_str(&mut spec.session_affinity, "None");
    match spec.session_affinity.as_deref() {
        Some("None") => spec.session_affinity_config = None,
        Some("ClientIP") => {
            let cfg = spec
                .session_affinity_config
                .get_or_insert_with(SessionAffinityConfig::default);
            let ip = cfg.client_ip.get_or_insert_with(ClientIPConfig::default);
            set(&mut ip.timeout_seconds, 10800);
        }
        _ => {}
    }
    set_str(&mut spec.type_, "ClusterIP");
    for p in spec.ports.iter_mut().flatten() {
        set_str(&mut p.protocol, "TCP");
        let unset = match &p.target_port {
            None => true,
            Some(IntOrString::Int(0)) => true,
            Some(IntOrString::String(s)) => s.is_empty(),
            Some(IntOrString::Int(_)) => false,
        };
        if unset {
            p.target_port = Some(IntOrString::Int(p.port));
        }
    }
    let ty = spec.type_.clone().unwrap_or_default();
    let externally_accessible = ty == "LoadBalancer"
        || ty == "NodePort"
        || (ty == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|v| !v.is_empty()));
    if externally_accessible {
        set_str(&mut spec.external_traffic_policy, "Cluster");
    }
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP") {
        set_str(&mut spec.internal_traffic_policy, "Cluster");
    }
    if ty == "LoadBalancer" {
        set(&mut spec.allocate_load_balancer_node_ports, true);
    }
}

/// Defaults a namespace: the `kubernetes.io/metadata.name` label, the
/// `kubernetes` finalizer and phase Active.
pub fn namespace(n: &mut Namespace) {
    if let Some(name) = n.metadata.name.clone() {
        n.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert("kubernetes.io/metadata.name".to_string(), name);
    }
    let spec = n.spec.get_or_insert_with(NamespaceSpec::default);
    set(&mut spec.finalizers, vec!["kubernetes".to_string()]);
    let status = n.status.get_or_insert_with(NamespaceStatus::default);
    set_str(&mut status.phase, "Active");
}

/// Defaults a secret's type to Opaque, and merges the write-only `stringData`
/// into `data` (winning on a shared key) so it is validated as data and never
/// stored, as upstream's conversion does.
pub fn secret(s: &mut Secret) {
    set_str(&mut s.type_, "Opaque");
    if let Some(strings) = s.string_data.take() {
        let data = s.data.get_or_insert_with(BTreeMap::new);
        for (key, value) in strings {
            data.insert(key, k8s_openapi::ByteString(value.into_bytes()));
        }
    }
}

/// Defaults a node: allocatable = capacity when unset.
pub fn node(n: &mut Node) {
    if let Some(status) = &mut n.status
        && status.allocatable.is_none()
    {
        status.allocatable = status.capacity.clone();
    }
}

/// Defaults endpoints' port protocols to TCP.
pub fn endpoints(e: &mut Endpoints) {
    for s in e.subsets.iter_mut().flatten() {
        for p in s.ports.iter_mut().flatten() {
            set_str(&mut p.protocol, "TCP");
        }
    }
}

fn role_ref(r: &mut RoleRef) {
    if r.api_group.is_empty() {
        r.api_group = RBAC_GROUP.to_string();
    }
}

fn subjects(s: &mut Option<Vec<Subject>>) {
    for s in s.iter_mut().flatten() {
        if s.api_group.as_deref().is_none_or(str::is_empty)
            && matches!(s.kind.as_str(), "User" | "Group")
        {
            s.api_group = Some(RBAC_GROUP.to_string());
        }
    }
}

/// Defaults a role binding's roleRef and user/group subjects to the RBAC group.
pub fn role_binding(b: &mut RoleBinding) {
    role_ref(&mut b.role_ref);
    subjects(&mut b.subjects);
}

/// Defaults a cluster role binding like [`role_binding`].
pub fn cluster_role_binding(b: &mut ClusterRoleBinding) {
    role_ref(&mut b.role_ref);
    subjects(&mut b.subjects);
}

/// Decodes an object's JSON as the typed form of `resource`'s kind.
pub fn decode<T: DeserializeOwned>(resource: &ResourceInfo, object: &Value) -> Result<T, Error> {
    // From the borrowed value: no copy of the whole object to consume.
    T::deserialize(object).map_err(|e| decode_error(resource, &e))
}

fn decode_error(resource: &ResourceInfo, e: &serde_json::Error) -> Error {
    Error::Decode {
        kind: resource.kind.to_string(),
        version: resource.api_version(),
        message: e.to_string(),
    }
}

/// A served kind and its defaults (upstream's `SetDefaults_<Kind>`). Kinds without
/// any say so, and their JSON is then read as it is, never rewritten.
pub trait Defaulted: Serialize + DeserializeOwned {
    /// Whether the kind has defaults; only those go through their typed form and back.
    const HAS_DEFAULTS: bool = true;

    /// Fills the fields upstream defaults.
    fn set_defaults(&mut self);
}

macro_rules! defaulted {
    ($($t:ty => $f:path),* $(,)?) => {
        $(impl Defaulted for $t {
            fn set_defaults(&mut self) {
                $f(self)
            }
        })*
    };
}

defaulted! {
    Pod => pod,
    Service => service,
    Namespace => namespace,
    Secret => secret,
    Node => node,
    Endpoints => endpoints,
    Deployment => deployment,
    ReplicaSet => replica_set,
    RoleBinding => role_binding,
    ClusterRoleBinding => cluster_role_binding,
}

macro_rules! without_defaults {
    ($($t:ty),* $(,)?) => {
        $(impl Defaulted for $t {
            const HAS_DEFAULTS: bool = false;

            fn set_defaults(&mut self) {}
        })*
    };
}

without_defaults!(ConfigMap, ServiceAccount, Lease, Role, ClusterRole);

/// Runs `check` on the typed, defaulted form of `object`, and leaves `object` the
/// defaulted JSON of that form (so fields the type does not know are dropped, as
/// upstream drops them). Defaulting and validation share this one decode: decoding
/// a pod is much of the CPU an update costs. A kind without defaults is only
/// decoded, its JSON left as it is. A body that does not decode as the kind is an
/// error (400), and leaves `object` null.
pub fn with_defaults<T: Defaulted, R>(
    resource: &ResourceInfo,
    object: &mut Value,
    check: impl FnOnce(&T) -> Result<R, Error>,
) -> Result<R, Error> {
    if !T::HAS_DEFAULTS {
        return check(&decode(resource, object)?);
    }
    // Consumed, not borrowed: its strings move into the typed form instead of being copied.
    let mut typed: T =
        serde_json::from_value(object.take()).map_err(|e| decode_error(resource, &e))?;
    typed.set_defaults();
    let checked = check(&typed);
    *object = serde_json::to_value(&typed).map_err(|e| decode_error(resource, &e))?;
    checked
}

/// Defaults an object's JSON by its resource (see [`with_defaults`]); kinds with no
/// defaults are left untouched.
pub fn apply(resource: &ResourceInfo, object: &mut Value) -> Result<(), Error> {
    fn typed<T: Defaulted>(resource: &ResourceInfo, object: &mut Value) -> Result<(), Error> {
        with_defaults::<T, ()>(resource, object, |_| Ok(()))
    }
    match (resource.group, resource.kind) {
        ("", "Pod") => typed::<Pod>(resource, object),
        ("", "Service") => typed::<Service>(resource, object),
        ("", "Namespace") => typed::<Namespace>(resource, object),
        ("", "Secret") => typed::<Secret>(resource, object),
        ("", "Node") => typed::<Node>(resource, object),
        ("", "Endpoints") => typed::<Endpoints>(resource, object),
        ("apps", "Deployment") => typed::<Deployment>(resource, object),
        ("apps", "ReplicaSet") => typed::<ReplicaSet>(resource, object),
        ("rbac.authorization.k8s.io", "RoleBinding") => typed::<RoleBinding>(resource, object),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            typed::<ClusterRoleBinding>(resource, object)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::resolve;
    use serde_json::json;

    #[test]
    fn image_tags() {
        let cases = [
            ("nginx", "latest"),
            ("nginx:1.25", "1.25"),
            ("nginx:latest", "latest"),
            ("registry:5000/app", "latest"),
            ("registry:5000/app:v1", "v1"),
            ("app@sha256:abc", ""),
            ("app:v2@sha256:abc", "v2"),
            ("", "latest"),
        ];
        for (image, tag) in cases {
            assert_eq!(image_tag(image), tag, "{image}");
        }
    }

    #[test]
    fn pod_defaults_match_upstream() {
        let mut obj = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
            "spec": {"containers": [
                {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}],
                 "resources": {"limits": {"cpu": "1"}},
                 "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                 "livenessProbe": {"httpGet": {"port": 80}}},
                {"name": "b", "image": "nginx:1.25", "imagePullPolicy": "Never"}],
              "volumes": [{"name": "s", "secret": {"secretName": "x"}}]}});
        apply(resolve("pods").unwrap(), &mut obj).unwrap();
        assert_eq!(
            obj["spec"],
            json!({
                "containers": [
                    {"name": "a", "image": "nginx", "imagePullPolicy": "Always",
                     "ports": [{"containerPort": 80, "protocol": "TCP"}],
                     "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}},
                     "env": [{"name": "N", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                     "livenessProbe": {"httpGet": {"port": 80, "scheme": "HTTP"}, "timeoutSeconds": 1,
                                       "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                     "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"},
                    {"name": "b", "image": "nginx:1.25", "imagePullPolicy": "Never", "resources": {},
                     "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
                "volumes": [{"name": "s", "secret": {"secretName": "x", "defaultMode": 420}}],
                "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                "schedulerName": "default-scheduler", "securityContext": {}, "enableServiceLinks": true
            })
        );
        let once = obj.clone();
        apply(resolve("pods").unwrap(), &mut obj).unwrap();
        assert_eq!(obj, once, "defaulting is idempotent");
    }

    #[test]
    fn secret_string_data_becomes_data() {
        let mut secret = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls",
            "data": {"a": "eA==", "tls.crt": "eQ=="}, "stringData": {"tls.crt": "z", "tls.key": "k"}});
        apply(resolve("secrets").unwrap(), &mut secret).unwrap();
        assert_eq!(secret.get("stringData"), None);
        assert_eq!(
            secret["data"],
            json!({"a": "eA==", "tls.crt": "eg==", "tls.key": "aw=="})
        );
    }

    #[test]
    fn deployment_defaults() {
        let mut obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"app": "d"}},
                     "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}});
        apply(resolve("deploy").unwrap(), &mut obj).unwrap();
        let spec = &obj["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        assert_eq!(spec["template"]["spec"]["restartPolicy"], "Always");
        assert_eq!(
            spec["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );

        let mut recreate =
            json!({"spec": {"strategy": {"type": "Recreate"}, "replicas": 0, "template": {}}});
        apply(resolve("deploy").unwrap(), &mut recreate).unwrap();
        assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(recreate["spec"]["replicas"], 0);

        let mut rs = json!({"spec": {"selector": {}, "template": {"spec": {"containers": []}}}});
        apply(resolve("rs").unwrap(), &mut rs).unwrap();
        assert_eq!(rs["spec"]["replicas"], 1);
        assert_eq!(rs["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
    }

    #[test]
    fn other_kinds() {
        let mut svc = json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}, {"port": 443, "targetPort": "https", "protocol": "UDP"}], "selector": {"app": "x"}}});
        apply(resolve("svc").unwrap(), &mut svc).unwrap();
        assert_eq!(
            svc["spec"],
            json!({"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}, {"port": 443, "protocol": "UDP", "targetPort": "https"}],
                   "selector": {"app": "x"}, "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"})
        );
        let mut np = json!({"spec": {"type": "NodePort", "sessionAffinity": "ClientIP"}});
        apply(resolve("svc").unwrap(), &mut np).unwrap();
        assert_eq!(np["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(
            np["spec"]["sessionAffinityConfig"],
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );

        let mut ns = json!({"metadata": {"name": "team-a"}});
        apply(resolve("ns").unwrap(), &mut ns).unwrap();
        assert_eq!(
            ns,
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        );
        let mut secret = json!({"metadata": {"name": "s"}});
        apply(resolve("secret").unwrap(), &mut secret).unwrap();
        assert_eq!(secret["type"], "Opaque");

        let mut rb = json!({"metadata": {"name": "b"}, "roleRef": {"kind": "Role", "name": "r"},
                            "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "n"}]});
        apply(resolve("rolebindings").unwrap(), &mut rb).unwrap();
        assert_eq!(rb["roleRef"]["apiGroup"], RBAC_GROUP);
        assert_eq!(rb["subjects"][0]["apiGroup"], RBAC_GROUP);
        assert_eq!(rb["subjects"][1].get("apiGroup"), None);

        let mut node = json!({"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "4"}}});
        apply(resolve("nodes").unwrap(), &mut node).unwrap();
        assert_eq!(node["status"]["allocatable"], json!({"cpu": "4"}));

        let mut cm = json!({"metadata": {"name": "c"}, "data": {"a": "b"}, "unknown": 1});
        let before = cm.clone();
        apply(resolve("cm").unwrap(), &mut cm).unwrap();
        assert_eq!(cm, before, "kinds without defaults are untouched");

        assert!(
            apply(
                resolve("pods").unwrap(),
                &mut json!({"spec": {"containers": "nope"}})
            )
            .is_err()
        );
        assert!(apply(resolve("pods").unwrap(), &mut json!([1])).is_err());
    }
}
