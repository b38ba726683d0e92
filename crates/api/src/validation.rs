//! Validation of objects on create and update, as kube-apiserver validates them:
//! a list of field errors (path, type, bad value, detail) that the API server
//! turns into a 422 Status with [`crate::status::invalid`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStrategy, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Endpoints, Namespace, Node, Pod, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, Secret, Service, ServiceAccount, Toleration,
};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use crate::defaults::{decode, with_defaults};
use crate::error::Error;
use crate::naming::{
    is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_valid_label_value, is_valid_port_name,
};
use crate::quantity::Quantity;
use crate::resource::ResourceInfo;
use crate::selector::Selector;

/// The type of a field error (upstream's `field.ErrorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorType {
    /// A required field is missing.
    Required,
    /// A value is malformed or out of range.
    Invalid,
    /// A value is not one of the allowed ones.
    NotSupported,
    /// A value appears twice where it must be unique.
    Duplicate,
    /// The field may not be set (or changed) here.
    Forbidden,
    /// A value is too long.
    TooLong,
    /// The field was not found.
    NotFound,
}

impl FieldErrorType {
    /// The `reason` of the Status cause (`FieldValueInvalid` ...).
    pub fn cause_type(self) -> &'static str {
        match self {
            FieldErrorType::Required => "FieldValueRequired",
            FieldErrorType::Invalid => "FieldValueInvalid",
            FieldErrorType::NotSupported => "FieldValueNotSupported",
            FieldErrorType::Duplicate => "FieldValueDuplicate",
            FieldErrorType::Forbidden => "FieldValueForbidden",
            FieldErrorType::TooLong => "FieldValueTooLong",
            FieldErrorType::NotFound => "FieldValueNotFound",
        }
    }

    /// The words upstream prints (`Invalid value`, `Required value` ...).
    pub fn words(self) -> &'static str {
        match self {
            FieldErrorType::Required => "Required value",
            FieldErrorType::Invalid => "Invalid value",
            FieldErrorType::NotSupported => "Unsupported value",
            FieldErrorType::Duplicate => "Duplicate value",
            FieldErrorType::Forbidden => "Forbidden",
            FieldErrorType::TooLong => "Too long",
            FieldErrorType::NotFound => "Not found",
        }
    }
}

/// One validation failure.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// JSON-ish path: `spec.containers[0].image`, `metadata.labels[app]`.
    pub field: String,
    /// What went wrong.
    pub kind: FieldErrorType,
    /// The offending value, printed in the message when present.
    pub bad_value: Option<Value>,
    /// Further explanation.
    pub detail: String,
}

impl FieldError {
    /// `Required value[: detail]`.
    pub fn required(field: &str, detail: &str) -> Self {
        FieldError {
            field: field.to_string(),
            kind: FieldErrorType::Required,
            bad_value: None,
            detail: detail.to_string(),
        }
    }

    /// `Invalid value: <v>: detail`.
    pub fn invalid(field: &str, value: Value, detail: &str) -> Self {
        FieldError {
            field: field.to_string(),
            kind: FieldErrorType::Invalid,
            bad_value: Some(value),
            detail: detail.to_string(),
        }
    }

    /// `Unsupported value: <v>: supported values: "a", "b"`.
    pub fn not_supported(field: &str, value: Value, supported: &[&str]) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            format!(
                "supported values: {}",
                supported
                    .iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        FieldError {
            field: field.to_string(),
            kind: FieldErrorType::NotSupported,
            bad_value: Some(value),
            detail,
        }
    }

    /// `Duplicate value: <v>`.
    pub fn duplicate(field: &str, value: Value) -> Self {
        FieldError {
            field: field.to_string(),
            kind: FieldErrorType::Duplicate,
            bad_value: Some(value),
            detail: String::new(),
        }
    }

    /// `Forbidden: detail`.
    pub fn forbidden(field: &str, detail: &str) -> Self {
        FieldError {
            field: field.to_string(),
            kind: FieldErrorType::Forbidden,
            bad_value: None,
            detail: detail.to_string(),
        }
    }

    /// `Too long: may not be more than N bytes`.
    pub fn too_long(field: &str, max: usize) -> Self {
        FieldError {
            field: field.to_string(),
            kind: FieldErrorType::TooLong,
            bad_value: None,
            detail: format!("may not be more than {max} bytes"),
        }
    }

    /// The message without the field path (upstream's `ErrorBody`): the cause message.
    pub fn body(&self) -> String {
        let mut s = self.kind.words().to_string();
        let prints_value = !matches!(
            self.kind,
            FieldErrorType::Required | FieldErrorType::Forbidden | FieldErrorType::TooLong
        );
        if let (true, Some(v)) = (prints_value, &self.bad_value) {
            s.push_str(": ");
            s.push_str(&v.to_string());
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// Errors collected while validating one object.
pub type FieldErrors = Vec<FieldError>;

/// How a kind's names are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// DNS-1123 subdomain (most kinds).
    Subdomain,
    /// DNS-1123 label (namespaces).
    Label,
    /// DNS-1035 label (services).
    Dns1035,
    /// Any string usable as a URL path segment (RBAC kinds).
    PathSegment,
}

/// The name rule upstream applies to a resource.
pub fn name_rule(resource: &ResourceInfo) -> NameRule {
    match (resource.group, resource.plural) {
        ("", "namespaces") => NameRule::Label,
        ("", "services") => NameRule::Dns1035,
        ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    }
}

fn path_segment_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name == "." || name == ".." {
        errs.push(format!("may not be '{name}'"));
    }
    for bad in ["/", "%"] {
        if name.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

fn name_errors(rule: NameRule, name: &str) -> Vec<String> {
    match rule {
        NameRule::Subdomain => is_dns1123_subdomain(name),
        NameRule::Label => is_dns1123_label(name),
        NameRule::Dns1035 => is_dns1035_label(name),
        NameRule::PathSegment => path_segment_errors(name),
    }
}

fn push_all(errs: &mut FieldErrors, field: &str, value: &str, problems: Vec<String>) {
    for p in problems {
        errs.push(FieldError::invalid(field, json!(value), &p));
    }
}

/// Largest total size of an object's annotations (256 KiB).
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Validates label keys and values; errors are reported on `field` itself, as upstream.
pub fn labels(map: &BTreeMap<String, String>, field: &str, errs: &mut FieldErrors) {
    for (k, v) in map {
        push_all(errs, field, k, is_qualified_name(k));
        push_all(errs, field, v, is_valid_label_value(v));
    }
}

/// Validates metadata on create: name (per `rule`), namespace presence, labels,
/// annotations, finalizers.
pub fn object_meta(meta: &ObjectMeta, namespaced: bool, rule: NameRule, errs: &mut FieldErrors) {
    match meta.name.as_deref() {
        Some(name) if !name.is_empty() => {
            push_all(errs, "metadata.name", name, name_errors(rule, name))
        }
        _ if meta.generate_name.as_deref().is_some_and(|g| !g.is_empty()) => {
            let prefix = meta.generate_name.as_deref().unwrap_or_default();
            // A generated name appends 5 characters; check the prefix with a stand-in suffix.
            let candidate = format!("{prefix}abcde");
            push_all(
                errs,
                "metadata.generateName",
                prefix,
                name_errors(rule, &candidate),
            );
        }
        _ => errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        )),
    }
    match (
        namespaced,
        meta.namespace.as_deref().filter(|n| !n.is_empty()),
    ) {
        (true, None) => errs.push(FieldError::required("metadata.namespace", "")),
        (true, Some(ns)) => push_all(errs, "metadata.namespace", ns, is_dns1123_label(ns)),
        (false, Some(_)) => errs.push(FieldError::forbidden(
            "metadata.namespace",
            "not allowed on this type",
        )),
        (false, None) => {}
    }
    if let Some(l) = &meta.labels {
        labels(l, "metadata.labels", errs);
    }
    if let Some(a) = &meta.annotations {
        let mut total = 0;
        for (k, v) in a {
            push_all(
                errs,
                "metadata.annotations",
                k,
                is_qualified_name(&k.to_ascii_lowercase()),
            );
            total += k.len() + v.len();
        }
        if total > TOTAL_ANNOTATION_SIZE_LIMIT {
            errs.push(FieldError::too_long(
                "metadata.annotations",
                TOTAL_ANNOTATION_SIZE_LIMIT,
            ));
        }
    }
    for (i, f) in meta.finalizers.iter().flatten().enumerate() {
        push_all(
            errs,
            &format!("metadata.finalizers[{i}]"),
            f,
            is_qualified_name(f),
        );
    }
}

fn immutable<T: PartialEq + serde::Serialize>(
    new: &T,
    old: &T,
    field: &str,
    errs: &mut FieldErrors,
) {
    if new != old {
        let v = serde_json::to_value(new).unwrap_or(Value::Null);
        errs.push(FieldError::invalid(field, v, "field is immutable"));
    }
}

/// Validates metadata on update: everything [`object_meta`] checks, plus the
/// immutable identity fields.
pub fn object_meta_update(
    new: &ObjectMeta,
    old: &ObjectMeta,
    namespaced: bool,
    rule: NameRule,
    errs: &mut FieldErrors,
) {
    object_meta(new, namespaced, rule, errs);
    immutable(&new.name, &old.name, "metadata.name", errs);
    immutable(&new.namespace, &old.namespace, "metadata.namespace", errs);
    if new.uid.is_some() {
        immutable(&new.uid, &old.uid, "metadata.uid", errs);
    }
    if new.creation_timestamp.is_some() {
        immutable(
            &new.creation_timestamp,
            &old.creation_timestamp,
            "metadata.creationTimestamp",
            errs,
        );
    }
}

fn not_supported(field: &str, value: &str, supported: &[&str], errs: &mut FieldErrors) {
    if !supported.contains(&value) {
        errs.push(FieldError::not_supported(field, json!(value), supported));
    }
}

fn port_range(field: &str, port: i32, errs: &mut FieldErrors) {
    if !(1..=65535).contains(&port) {
        errs.push(FieldError::invalid(
            field,
            json!(port),
            "must be between 1 and 65535, inclusive",
        ));
    }
}

fn resources(r: &ResourceRequirements, path: &str, errs: &mut FieldErrors) {
    let mut parsed: BTreeMap<(&str, &str), Quantity> = BTreeMap::new();
    for (kind, map) in [("limits", &r.limits), ("requests", &r.requests)] {
        for (name, q) in map.iter().flatten() {
            let field = format!("{path}.{kind}[{name}]");
            push_all(errs, &field, name, is_qualified_name(name));
            match Quantity::parse(&q.0) {
                Ok(v) if v.nanos() < 0 => errs.push(FieldError::invalid(
                    &field,
                    json!(q.0),
                    "must be greater than or equal to 0",
                )),
                Ok(v) => {
                    parsed.insert((kind, name.as_str()), v);
                }
                Err(e) => errs.push(FieldError::invalid(&field, json!(q.0), &e.to_string())),
            }
        }
    }
    for ((kind, name), req) in &parsed {
        if *kind != "requests" {
            continue;
        }
        if let Some(limit) = parsed.get(&("limits", name))
            && req > limit
        {
            errs.push(FieldError::invalid(
                &format!("{path}.requests"),
                json!(req.to_string()),
                &format!("must be less than or equal to {name} limit of {limit}"),
            ));
        }
    }
}

fn port_ref(field: &str, port: &IntOrString, errs: &mut FieldErrors) {
    match port {
        IntOrString::Int(p) => port_range(field, *p, errs),
        IntOrString::String(name) => push_all(errs, field, name, is_valid_port_name(name)),
    }
}

/// Validates a probe: exactly one handler, non-negative timings, and (for
/// liveness and startup probes) a success threshold of 1.
fn probe(p: &Probe, path: &str, success_must_be_one: bool, errs: &mut FieldErrors) {
    let handlers = [
        p.exec.is_some(),
        p.http_get.is_some(),
        p.tcp_socket.is_some(),
        p.grpc.is_some(),
    ]
    .iter()
    .filter(|h| **h)
    .count();
    match handlers {
        0 => errs.push(FieldError::required(path, "must specify a handler type")),
        1 => {}
        _ => errs.push(FieldError::forbidden(
            path,
            "may not specify more than 1 handler type",
        )),
    }
    if let Some(h) = &p.http_get {
        port_ref(&format!("{path}.httpGet.port"), &h.port, errs);
    }
    if let Some(t) = &p.tcp_socket {
        port_ref(&format!("{path}.tcpSocket.port"), &t.port, errs);
    }
    for (name, v) in [
        ("initialDelaySeconds", p.initial_delay_seconds),
        ("timeoutSeconds", p.timeout_seconds),
        ("periodSeconds", p.period_seconds),
        ("successThreshold", p.success_threshold),
        ("failureThreshold", p.failure_threshold),
    ] {
        non_negative(&format!("{path}.{name}"), v, errs);
    }
    if success_must_be_one
        && let Some(t) = p.success_threshold
        && t != 1
    {
        errs.push(FieldError::invalid(
            &format!("{path}.successThreshold"),
            json!(t),
            "must be 1",
        ));
    }
}

fn container(c: &Container, path: &str, volumes: &BTreeSet<&str>, errs: &mut FieldErrors) {
    if c.name.is_empty() {
        errs.push(FieldError::required(&format!("{path}.name"), ""));
    } else {
        push_all(
            errs,
            &format!("{path}.name"),
            &c.name,
            is_dns1123_label(&c.name),
        );
    }
    if c.image.as_deref().is_none_or(|i| i.trim().is_empty()) {
        errs.push(FieldError::required(&format!("{path}.image"), ""));
    }
    if let Some(p) = &c.image_pull_policy {
        not_supported(
            &format!("{path}.imagePullPolicy"),
            p,
            &["Always", "IfNotPresent", "Never"],
            errs,
        );
    }
    if let Some(p) = &c.termination_message_policy {
        not_supported(
            &format!("{path}.terminationMessagePolicy"),
            p,
            &["File", "FallbackToLogsOnError"],
            errs,
        );
    }
    let mut port_names = BTreeSet::new();
    for (i, p) in c.ports.iter().flatten().enumerate() {
        let pp = format!("{path}.ports[{i}]");
        port_range(&format!("{pp}.containerPort"), p.container_port, errs);
        if let Some(h) = p.host_port.filter(|h| *h != 0) {
            port_range(&format!("{pp}.hostPort"), h, errs);
        }
        if let Some(proto) = &p.protocol {
            not_supported(
                &format!("{pp}.protocol"),
                proto,
                &["SCTP", "TCP", "UDP"],
                errs,
            );
        }
        if let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) {
            push_all(errs, &format!("{pp}.name"), name, is_valid_port_name(name));
            if !port_names.insert(name) {
                errs.push(FieldError::duplicate(&format!("{pp}.name"), json!(name)));
            }
        }
    }
    for (i, e) in c.env.iter().flatten().enumerate() {
        let field = format!("{path}.env[{i}].name");
        if e.name.is_empty() {
            errs.push(FieldError::required(&field, ""));
        } else if !e
            .name
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'=')
        {
            errs.push(FieldError::invalid(
                &field,
                json!(e.name),
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
    }
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let mp = format!("{path}.volumeMounts[{i}]");
        if m.name.is_empty() {
            errs.push(FieldError::required(&format!("{mp}.name"), ""));
        } else if !volumes.contains(m.name.as_str()) {
            errs.push(FieldError {
                field: format!("{mp}.name"),
                kind: FieldErrorType::NotFound,
                bad_value: Some(json!(m.name)),
                detail: String::new(),
            });
        }
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(&format!("{mp}.mountPath"), ""));
        }
    }
    if let Some(r) = &c.resources {
        resources(r, &format!("{path}.resources"), errs);
    }
    if let Some(p) = &c.liveness_probe {
        probe(p, &format!("{path}.livenessProbe"), true, errs);
    }
    if let Some(p) = &c.readiness_probe {
        probe(p, &format!("{path}.readinessProbe"), false, errs);
    }
    if let Some(p) = &c.startup_probe {
        probe(p, &format!("{path}.startupProbe"), true, errs);
    }
}

/// Validates a pod spec at `path` (`spec`, `spec.template.spec`).
/// `restart_policies` lists the allowed restart policies (templates of
/// controllers allow only `Always`).
pub fn pod_spec(spec: &PodSpec, path: &str, restart_policies: &[&str], errs: &mut FieldErrors) {
    let mut volumes = BTreeSet::new();
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        let vp = format!("{path}.volumes[{i}]");
        if v.name.is_empty() {
            errs.push(FieldError::required(&format!("{vp}.name"), ""));
        } else {
            push_all(
                errs,
                &format!("{vp}.name"),
                &v.name,
                is_dns1123_label(&v.name),
            );
            if !volumes.insert(v.name.as_str()) {
                errs.push(FieldError::duplicate(&format!("{vp}.name"), json!(v.name)));
            }
        }
        let sources = serde_json::to_value(v)
            .ok()
            .and_then(|j| {
                j.as_object()
                    .map(|m| m.keys().filter(|k| *k != "name").count())
            })
            .unwrap_or(0);
        match sources {
            0 => errs.push(FieldError::required(&vp, "must specify a volume type")),
            1 => {}
            _ => errs.push(FieldError::forbidden(
                &vp,
                "may not specify more than 1 volume type",
            )),
        }
    }
    if spec.containers.is_empty() {
        errs.push(FieldError::required(&format!("{path}.containers"), ""));
    }
    let mut names = BTreeSet::new();
    let all = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("{path}.containers[{i}]"), c))
        .chain(
            spec.init_containers
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, c)| (format!("{path}.initContainers[{i}]"), c)),
        );
    for (cp, c) in all {
        container(c, &cp, &volumes, errs);
        if !c.name.is_empty() && !names.insert(c.name.as_str()) {
            errs.push(FieldError::duplicate(&format!("{cp}.name"), json!(c.name)));
        }
    }
    let restart = spec.restart_policy.as_deref().unwrap_or("");
    if restart.is_empty() {
        errs.push(FieldError::required(&format!("{path}.restartPolicy"), ""));
    } else {
        not_supported(
            &format!("{path}.restartPolicy"),
            restart,
            restart_policies,
            errs,
        );
    }
    if let Some(d) = &spec.dns_policy {
        not_supported(
            &format!("{path}.dnsPolicy"),
            d,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
            errs,
        );
    }
    if let Some(t) = spec.termination_grace_period_seconds
        && t < 0
    {
        errs.push(FieldError::invalid(
            &format!("{path}.terminationGracePeriodSeconds"),
            json!(t),
            "must be greater than or equal to 0",
        ));
    }
    if let Some(a) = spec.active_deadline_seconds
        && !(1..=i64::from(i32::MAX)).contains(&a)
    {
        errs.push(FieldError::invalid(
            &format!("{path}.activeDeadlineSeconds"),
            json!(a),
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    if let Some(n) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        push_all(
            errs,
            &format!("{path}.nodeName"),
            n,
            is_dns1123_subdomain(n),
        );
    }
    if let Some(sel) = &spec.node_selector {
        labels(sel, &format!("{path}.nodeSelector"), errs);
    }
    for (i, t) in spec.tolerations.iter().flatten().enumerate() {
        toleration(t, &format!("{path}.tolerations[{i}]"), errs);
    }
}

fn toleration(t: &Toleration, path: &str, errs: &mut FieldErrors) {
    if let Some(k) = t.key.as_deref().filter(|k| !k.is_empty()) {
        push_all(errs, &format!("{path}.key"), k, is_qualified_name(k));
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Equal" | "" => {}
        "Exists" => {
            if t.value.as_deref().is_some_and(|v| !v.is_empty()) {
                errs.push(FieldError::invalid(
                    &format!("{path}.operator"),
                    json!(t.value),
                    "value must be empty when `operator` is 'Exists'",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            &format!("{path}.operator"),
            json!(other),
            &["Equal", "Exists"],
        )),
    }
    if let Some(e) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        not_supported(
            &format!("{path}.effect"),
            e,
            &["NoExecute", "NoSchedule", "PreferNoSchedule"],
            errs,
        );
    }
}

/// Validates a pod on create.
pub fn pod(p: &Pod) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta(&p.metadata, true, NameRule::Subdomain, &mut errs);
    match &p.spec {
        Some(spec) => pod_spec(spec, "spec", &["Always", "OnFailure", "Never"], &mut errs),
        None => errs.push(FieldError::required("spec", "")),
    }
    errs
}

/// The message upstream gives when a pod update touches a field it may not.
pub const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn same_toleration(a: &Toleration, b: &Toleration) -> bool {
    let strip = |t: &Toleration| Toleration {
        toleration_seconds: None,
        ..t.clone()
    };
    strip(a) == strip(b)
}

/// Validates a pod update: metadata, plus the pod spec's immutability (only
/// images, activeDeadlineSeconds, toleration additions and a negative grace
/// period may change).
pub fn pod_update(new: &Pod, old: &Pod) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta_update(
        &new.metadata,
        &old.metadata,
        true,
        NameRule::Subdomain,
        &mut errs,
    );
    let (Some(ns), Some(os)) = (&new.spec, &old.spec) else {
        if new.spec != old.spec {
            errs.push(FieldError::forbidden("spec", POD_UPDATE_FORBIDDEN));
        }
        return errs;
    };
    pod_spec(ns, "spec", &["Always", "OnFailure", "Never"], &mut errs);
    match (ns.active_deadline_seconds, os.active_deadline_seconds) {
        (None, Some(_)) => errs.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            Value::Null,
            "must not update from a positive integer to nil value",
        )),
        (Some(n), Some(o)) if n > o => errs.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            json!(n),
            "must be less than or equal to previous value",
        )),
        _ => {}
    }
    let new_tol = ns.tolerations.clone().unwrap_or_default();
    for old_t in os.tolerations.iter().flatten() {
        if !new_tol.iter().any(|t| same_toleration(t, old_t)) {
            errs.push(FieldError::forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            break;
        }
    }
    // Overlay what may change onto a copy of the old spec; anything else differing is forbidden.
    let mut allowed = os.clone();
    for (a, n) in allowed.containers.iter_mut().zip(&ns.containers) {
        a.image = n.image.clone();
    }
    if let (Some(a), Some(n)) = (&mut allowed.init_containers, &ns.init_containers) {
        for (a, n) in a.iter_mut().zip(n) {
            a.image = n.image.clone();
        }
    }
    allowed.active_deadline_seconds = ns.active_deadline_seconds;
    allowed.tolerations = ns.tolerations.clone();
    if os.termination_grace_period_seconds.is_some_and(|t| t < 0)
        && ns.termination_grace_period_seconds == Some(1)
    {
        allowed.termination_grace_period_seconds = Some(1);
    }
    if &allowed != ns {
        errs.push(FieldError::forbidden("spec", POD_UPDATE_FORBIDDEN));
    }
    errs
}

fn selector_and_template(
    selector: Option<&LabelSelector>,
    template: Option<&PodTemplateSpec>,
    kind: &str,
    errs: &mut FieldErrors,
) {
    let empty = selector.is_none_or(|s| s.match_labels.is_none() && s.match_expressions.is_none());
    let parsed = if empty {
        errs.push(FieldError::required("spec.selector", ""));
        None
    } else {
        match Selector::from_label_selector(selector) {
            Ok(s) if s.is_everything() => {
                errs.push(FieldError::invalid(
                    "spec.selector",
                    serde_json::to_value(selector).unwrap_or(Value::Null),
                    &format!("empty selector is invalid for {kind}"),
                ));
                None
            }
            Ok(s) => Some(s),
            Err(e) => {
                errs.push(FieldError::invalid(
                    "spec.selector",
                    serde_json::to_value(selector).unwrap_or(Value::Null),
                    &e.to_string(),
                ));
                None
            }
        }
    };
    let Some(t) = template else {
        errs.push(FieldError::required("spec.template", ""));
        return;
    };
    let tpl_labels = t
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    if let Some(s) = parsed
        && !s.matches(&tpl_labels)
    {
        errs.push(FieldError::invalid(
            "spec.template.metadata.labels",
            json!(tpl_labels),
            "`selector` does not match template `labels`",
        ));
    }
    if let Some(m) = &t.metadata
        && let Some(l) = &m.labels
    {
        labels(l, "spec.template.metadata.labels", errs);
    }
    match &t.spec {
        Some(spec) => pod_spec(spec, "spec.template.spec", &["Always"], errs),
        None => errs.push(FieldError::required("spec.template.spec", "")),
    }
}

fn non_negative(field: &str, v: Option<i32>, errs: &mut FieldErrors) {
    if let Some(v) = v
        && v < 0
    {
        errs.push(FieldError::invalid(
            field,
            json!(v),
            "must be greater than or equal to 0",
        ));
    }
}

fn int_or_percent(field: &str, v: &IntOrString, errs: &mut FieldErrors) -> Option<i64> {
    match v {
        IntOrString::Int(i) => {
            non_negative(field, Some(*i), errs);
            Some(i64::from(*i))
        }
        IntOrString::String(s) => {
            let pct = s.strip_suffix('%').and_then(|n| n.parse::<i64>().ok());
            match pct {
                None => {
                    errs.push(FieldError::invalid(field, json!(s), "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
                    None
                }
                Some(p) if p > 100 => {
                    errs.push(FieldError::invalid(
                        field,
                        json!(s),
                        "must not be greater than 100%",
                    ));
                    None
                }
                Some(p) => Some(p),
            }
        }
    }
}

fn deployment_strategy(s: &DeploymentStrategy, errs: &mut FieldErrors) {
    match s.type_.as_deref() {
        Some("Recreate") => {
            if s.rolling_update.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        Some("RollingUpdate") => {
            let Some(ru) = &s.rolling_update else { return };
            let unavailable = ru.max_unavailable.as_ref().and_then(|v| {
                int_or_percent("spec.strategy.rollingUpdate.maxUnavailable", v, errs)
            });
            let surge = ru
                .max_surge
                .as_ref()
                .and_then(|v| int_or_percent("spec.strategy.rollingUpdate.maxSurge", v, errs));
            if unavailable == Some(0) && surge == Some(0) {
                errs.push(FieldError::invalid(
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    serde_json::to_value(&ru.max_unavailable).unwrap_or(Value::Null),
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
        }
        Some(other) => errs.push(FieldError::not_supported(
            "spec.strategy.type",
            json!(other),
            &["Recreate", "RollingUpdate"],
        )),
        None => errs.push(FieldError::required("spec.strategy.type", "")),
    }
}

/// Validates a deployment on create (after defaulting).
pub fn deployment(d: &Deployment) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta(&d.metadata, true, NameRule::Subdomain, &mut errs);
    let Some(spec) = &d.spec else {
        errs.push(FieldError::required("spec", ""));
        return errs;
    };
    non_negative("spec.replicas", spec.replicas, &mut errs);
    non_negative("spec.minReadySeconds", spec.min_ready_seconds, &mut errs);
    non_negative(
        "spec.revisionHistoryLimit",
        spec.revision_history_limit,
        &mut errs,
    );
    non_negative(
        "spec.progressDeadlineSeconds",
        spec.progress_deadline_seconds,
        &mut errs,
    );
    if let Some(p) = spec.progress_deadline_seconds
        && p <= spec.min_ready_seconds.unwrap_or(0)
    {
        errs.push(FieldError::invalid(
            "spec.progressDeadlineSeconds",
            json!(p),
            "must be greater than minReadySeconds",
        ));
    }
    if let Some(s) = &spec.strategy {
        deployment_strategy(s, &mut errs);
    }
    selector_and_template(
        Some(&spec.selector),
        Some(&spec.template),
        "deployment",
        &mut errs,
    );
    errs
}

/// Validates a deployment update: as on create, and the selector is immutable.
pub fn deployment_update(new: &Deployment, old: &Deployment) -> FieldErrors {
    let mut errs = deployment(new);
    errs.retain(|e| !e.field.starts_with("metadata."));
    object_meta_update(
        &new.metadata,
        &old.metadata,
        true,
        NameRule::Subdomain,
        &mut errs,
    );
    if let (Some(n), Some(o)) = (&new.spec, &old.spec) {
        immutable(&n.selector, &o.selector, "spec.selector", &mut errs);
    }
    errs
}

/// Validates a replica set on create (after defaulting).
pub fn replica_set(r: &ReplicaSet) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta(&r.metadata, true, NameRule::Subdomain, &mut errs);
    let Some(spec) = &r.spec else {
        errs.push(FieldError::required("spec", ""));
        return errs;
    };
    non_negative("spec.replicas", spec.replicas, &mut errs);
    non_negative("spec.minReadySeconds", spec.min_ready_seconds, &mut errs);
    selector_and_template(
        Some(&spec.selector),
        spec.template.as_ref(),
        "replicaset",
        &mut errs,
    );
    errs
}

/// Validates a replica set update: as on create, and the selector is immutable.
pub fn replica_set_update(new: &ReplicaSet, old: &ReplicaSet) -> FieldErrors {
    let mut errs = replica_set(new);
    errs.retain(|e| !e.field.starts_with("metadata."));
    object_meta_update(
        &new.metadata,
        &old.metadata,
        true,
        NameRule::Subdomain,
        &mut errs,
    );
    if let (Some(n), Some(o)) = (&new.spec, &old.spec) {
        immutable(&n.selector, &o.selector, "spec.selector", &mut errs);
    }
    errs
}

/// Validates a service on create (after defaulting).
pub fn service(s: &Service) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta(&s.metadata, true, NameRule::Dns1035, &mut errs);
    let Some(spec) = &s.spec else {
        errs.push(FieldError::required("spec", ""));
        return errs;
    };
    let ty = spec.type_.as_deref().unwrap_or("ClusterIP");
    not_supported(
        "spec.type",
        ty,
        &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        &mut errs,
    );
    if let Some(a) = &spec.session_affinity {
        not_supported("spec.sessionAffinity", a, &["ClientIP", "None"], &mut errs);
    }
    let headless = spec.cluster_ip.as_deref() == Some("None");
    if let Some(c) = spec
        .cluster_ip
        .as_deref()
        .filter(|c| !c.is_empty() && *c != "None")
    {
        ip("spec.clusterIPs[0]", c, &mut errs);
    }
    let ports = spec.ports.clone().unwrap_or_default();
    if ports.is_empty() && ty != "ExternalName" && !headless {
        errs.push(FieldError::required("spec.ports", ""));
    }
    if ty == "ExternalName" && spec.external_name.as_deref().is_none_or(str::is_empty) {
        errs.push(FieldError::required("spec.externalName", ""));
    }
    let mut names = BTreeSet::new();
    let mut port_protocols = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let pp = format!("spec.ports[{i}]");
        match p.name.as_deref().filter(|n| !n.is_empty()) {
            None if ports.len() > 1 => errs.push(FieldError::required(&format!("{pp}.name"), "")),
            None => {}
            Some(n) => {
                push_all(&mut errs, &format!("{pp}.name"), n, is_dns1123_label(n));
                if !names.insert(n.to_string()) {
                    errs.push(FieldError::duplicate(&format!("{pp}.name"), json!(n)));
                }
            }
        }
        port_range(&format!("{pp}.port"), p.port, &mut errs);
        let proto = p.protocol.clone().unwrap_or_else(|| "TCP".to_string());
        not_supported(
            &format!("{pp}.protocol"),
            &proto,
            &["SCTP", "TCP", "UDP"],
            &mut errs,
        );
        if !port_protocols.insert((p.port, proto.clone())) {
            errs.push(FieldError::duplicate(
                &pp,
                json!({"port": p.port, "protocol": proto}),
            ));
        }
        match &p.target_port {
            Some(IntOrString::Int(t)) => port_range(&format!("{pp}.targetPort"), *t, &mut errs),
            Some(IntOrString::String(t)) => push_all(
                &mut errs,
                &format!("{pp}.targetPort"),
                t,
                is_valid_port_name(t),
            ),
            None => {}
        }
        if let Some(np) = p.node_port.filter(|n| *n != 0) {
            if !matches!(ty, "NodePort" | "LoadBalancer") {
                errs.push(FieldError::forbidden(
                    &format!("{pp}.nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
            port_range(&format!("{pp}.nodePort"), np, &mut errs);
        }
    }
    if let Some(sel) = &spec.selector {
        labels(sel, "spec.selector", &mut errs);
    }
    errs
}

/// Validates a service update: as on create, and a set clusterIP is immutable.
pub fn service_update(new: &Service, old: &Service) -> FieldErrors {
    let mut errs = service(new);
    errs.retain(|e| !e.field.starts_with("metadata."));
    object_meta_update(
        &new.metadata,
        &old.metadata,
        true,
        NameRule::Dns1035,
        &mut errs,
    );
    let new_ip = new
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.clone())
        .unwrap_or_default();
    let old_ip = old
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.clone())
        .unwrap_or_default();
    if !old_ip.is_empty() && new_ip != old_ip {
        errs.push(FieldError::invalid(
            "spec.clusterIP",
            json!(new_ip),
            "field is immutable",
        ));
    }
    errs
}

/// Validates a namespace.
pub fn namespace(n: &Namespace) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta(&n.metadata, false, NameRule::Label, &mut errs);
    for (i, f) in n
        .spec
        .iter()
        .flat_map(|s| s.finalizers.iter().flatten())
        .enumerate()
    {
        push_all(
            &mut errs,
            &format!("spec.finalizers[{i}]"),
            f,
            is_qualified_name(f),
        );
    }
    errs
}

/// Largest total size of a ConfigMap's or Secret's data (1 MiB).
pub const MAX_DATA_SIZE: usize = 1024 * 1024;

const CONFIG_KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

fn config_key(key: &str, field: &str, errs: &mut FieldErrors) {
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        errs.push(FieldError::invalid(field, json!(key), CONFIG_KEY_MSG));
    } else if key.len() > 253 {
        errs.push(FieldError::invalid(
            field,
            json!(key),
            "must be no more than 253 characters",
        ));
    } else if key == "." || key == ".." || key.starts_with("..") {
        errs.push(FieldError::invalid(
            field,
            json!(key),
            "must not be '.' or '..', or start with '..'",
        ));
    }
}

/// Validates a config map: keys, no key in both data and binaryData, size.
pub fn config_map(c: &ConfigMap) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta(&c.metadata, true, NameRule::Subdomain, &mut errs);
    let mut total = 0;
    for (k, v) in c.data.iter().flatten() {
        config_key(k, &format!("data[{k}]"), &mut errs);
        total += v.len();
    }
    for (k, v) in c.binary_data.iter().flatten() {
        config_key(k, &format!("binaryData[{k}]"), &mut errs);
        if c.data.as_ref().is_some_and(|d| d.contains_key(k)) {
            errs.push(FieldError::invalid(
                &format!("binaryData[{k}]"),
                json!(k),
                "duplicate of key present in data",
            ));
        }
        total += v.0.len();
    }
    if total > MAX_DATA_SIZE {
        errs.push(FieldError::too_long("", MAX_DATA_SIZE));
    }
    errs
}

fn immutable_data<T: PartialEq>(
    new: &T,
    old: &T,
    old_immutable: Option<bool>,
    field: &str,
    errs: &mut FieldErrors,
) {
    if old_immutable == Some(true) && new != old {
        errs.push(FieldError::forbidden(
            field,
            "field is immutable when `immutable` is set",
        ));
    }
}

/// Validates a config map update: data is frozen once `immutable` is set.
pub fn config_map_update(new: &ConfigMap, old: &ConfigMap) -> FieldErrors {
    let mut errs = config_map(new);
    errs.retain(|e| !e.field.starts_with("metadata."));
    object_meta_update(
        &new.metadata,
        &old.metadata,
        true,
        NameRule::Subdomain,
        &mut errs,
    );
    immutable_data(&new.data, &old.data, old.immutable, "data", &mut errs);
    immutable_data(
        &new.binary_data,
        &old.binary_data,
        old.immutable,
        "binaryData",
        &mut errs,
    );
    if old.immutable == Some(true) && new.immutable != Some(true) {
        errs.push(FieldError::forbidden(
            "immutable",
            "field is immutable when `immutable` is set",
        ));
    }
    errs
}

/// Validates a secret: keys, size, and the keys its type requires.
pub fn secret(s: &Secret) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta(&s.metadata, true, NameRule::Subdomain, &mut errs);
    let mut total = 0;
    for (k, v) in s.data.iter().flatten() {
        config_key(k, &format!("data[{k}]"), &mut errs);
        total += v.0.len();
    }
    if total > MAX_DATA_SIZE {
        errs.push(FieldError::too_long("data", MAX_DATA_SIZE));
    }
    let has = |k: &str| s.data.as_ref().is_some_and(|d| d.contains_key(k));
    let required: &[&str] = match s.type_.as_deref().unwrap_or("Opaque") {
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/basic-auth" | "kubernetes.io/ssh-auth" | "Opaque" | "" => &[],
        "kubernetes.io/service-account-token" => {
            let annotated = s.metadata.annotations.as_ref().is_some_and(|a| {
                a.get("kubernetes.io/service-account.name")
                    .is_some_and(|v| !v.is_empty())
            });
            if !annotated {
                errs.push(FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
            &[]
        }
        _ => &[],
    };
    for k in required {
        if !has(k) {
            errs.push(FieldError::required(&format!("data[{k}]"), ""));
        }
    }
    errs
}

/// Validates a secret update: the type is immutable, data frozen once `immutable`.
pub fn secret_update(new: &Secret, old: &Secret) -> FieldErrors {
    let mut errs = secret(new);
    errs.retain(|e| !e.field.starts_with("metadata."));
    object_meta_update(
        &new.metadata,
        &old.metadata,
        true,
        NameRule::Subdomain,
        &mut errs,
    );
    immutable(&new.type_, &old.type_, "type", &mut errs);
    immutable_data(&new.data, &old.data, old.immutable, "data", &mut errs);
    errs
}

/// Validates a service account.
pub fn service_account(s: &ServiceAccount) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta(&s.metadata, true, NameRule::Subdomain, &mut errs);
    errs
}

/// Validates a node: name, taints.
pub fn node(n: &Node) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta(&n.metadata, false, NameRule::Subdomain, &mut errs);
    for (i, t) in n
        .spec
        .iter()
        .flat_map(|s| s.taints.iter().flatten())
        .enumerate()
    {
        let tp = format!("spec.taints[{i}]");
        push_all(
            &mut errs,
            &format!("{tp}.key"),
            &t.key,
            is_qualified_name(&t.key),
        );
        if let Some(v) = &t.value {
            push_all(
                &mut errs,
                &format!("{tp}.value"),
                v,
                is_valid_label_value(v),
            );
        }
        not_supported(
            &format!("{tp}.effect"),
            &t.effect,
            &["NoExecute", "NoSchedule", "PreferNoSchedule"],
            &mut errs,
        );
    }
    if let Some(spec) = &n.spec {
        if let Some(c) = spec.pod_cidr.as_deref().filter(|c| !c.is_empty()) {
            cidr("spec.podCIDR", c, &mut errs);
        }
        for (i, c) in spec.pod_cidrs.iter().flatten().enumerate() {
            cidr(&format!("spec.podCIDRs[{i}]"), c, &mut errs);
        }
    }
    errs
}

const POD_CIDR_UPDATE: &str = "node updates may not change podCIDR except from \"\" to valid";

/// Validates a node update: as on create, and pod CIDRs, once set, never change.
pub fn node_update(new: &Node, old: &Node) -> FieldErrors {
    let mut errs = node(new);
    errs.retain(|e| !e.field.starts_with("metadata."));
    object_meta_update(
        &new.metadata,
        &old.metadata,
        false,
        NameRule::Subdomain,
        &mut errs,
    );
    let (ns, os) = (
        new.spec.clone().unwrap_or_default(),
        old.spec.clone().unwrap_or_default(),
    );
    if os.pod_cidr.as_deref().is_some_and(|c| !c.is_empty()) && ns.pod_cidr != os.pod_cidr {
        errs.push(FieldError::forbidden("spec.podCIDR", POD_CIDR_UPDATE));
    }
    if os.pod_cidrs.as_ref().is_some_and(|c| !c.is_empty()) && ns.pod_cidrs != os.pod_cidrs {
        errs.push(FieldError::forbidden("spec.podCIDRs", POD_CIDR_UPDATE));
    }
    errs
}

fn ip(field: &str, value: &str, errs: &mut FieldErrors) {
    if value.parse::<std::net::IpAddr>().is_err() {
        errs.push(FieldError::invalid(
            field,
            json!(value),
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ));
    }
}

fn cidr(field: &str, value: &str, errs: &mut FieldErrors) {
    let ok = value.split_once('/').is_some_and(|(addr, len)| {
        let max = match addr.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(_)) => 32,
            Ok(std::net::IpAddr::V6(_)) => 128,
            Err(_) => return false,
        };
        !len.is_empty()
            && len.bytes().all(|b| b.is_ascii_digit())
            && len.parse::<u8>().is_ok_and(|l| l <= max)
    });
    if !ok {
        errs.push(FieldError::invalid(
            field,
            json!(value),
            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        ));
    }
}

/// Validates endpoints: address IPs, port numbers, protocols, and port names
/// (required and unique when a subset has several ports).
pub fn endpoints(e: &Endpoints) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta(&e.metadata, true, NameRule::Subdomain, &mut errs);
    for (i, subset) in e.subsets.iter().flatten().enumerate() {
        let sp = format!("subsets[{i}]");
        for (kind, list) in [
            ("addresses", &subset.addresses),
            ("notReadyAddresses", &subset.not_ready_addresses),
        ] {
            for (j, a) in list.iter().flatten().enumerate() {
                ip(&format!("{sp}.{kind}[{j}].ip"), &a.ip, &mut errs);
            }
        }
        let ports = subset.ports.clone().unwrap_or_default();
        let mut names = BTreeSet::new();
        for (j, p) in ports.iter().enumerate() {
            let pp = format!("{sp}.ports[{j}]");
            match p.name.as_deref().filter(|n| !n.is_empty()) {
                None if ports.len() > 1 => {
                    errs.push(FieldError::required(&format!("{pp}.name"), ""))
                }
                None => {}
                Some(n) => {
                    push_all(&mut errs, &format!("{pp}.name"), n, is_dns1123_label(n));
                    if !names.insert(n.to_string()) {
                        errs.push(FieldError::duplicate(&format!("{pp}.name"), json!(n)));
                    }
                }
            }
            port_range(&format!("{pp}.port"), p.port, &mut errs);
            if let Some(proto) = &p.protocol {
                not_supported(
                    &format!("{pp}.protocol"),
                    proto,
                    &["SCTP", "TCP", "UDP"],
                    &mut errs,
                );
            }
        }
    }
    errs
}

/// Validates a lease: positive duration, non-negative transitions.
pub fn lease(l: &Lease) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta(&l.metadata, true, NameRule::Subdomain, &mut errs);
    if let Some(spec) = &l.spec {
        if let Some(d) = spec.lease_duration_seconds
            && d <= 0
        {
            errs.push(FieldError::invalid(
                "spec.leaseDurationSeconds",
                json!(d),
                "must be greater than 0",
            ));
        }
        non_negative("spec.leaseTransitions", spec.lease_transitions, &mut errs);
    }
    errs
}

fn policy_rules(rules: &[PolicyRule], namespaced: bool, errs: &mut FieldErrors) {
    for (i, r) in rules.iter().enumerate() {
        let rp = format!("rules[{i}]");
        if r.verbs.is_empty() {
            errs.push(FieldError::required(
                &format!("{rp}.verbs"),
                "verbs must contain at least one value",
            ));
        }
        let urls = r.non_resource_urls.as_ref().is_some_and(|u| !u.is_empty());
        if urls && namespaced {
            errs.push(FieldError::invalid(
                &format!("{rp}.nonResourceURLs"),
                json!(r.non_resource_urls),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        let has_resources = r.resources.as_ref().is_some_and(|v| !v.is_empty());
        if urls && has_resources {
            errs.push(FieldError::invalid(
                &format!("{rp}.nonResourceURLs"),
                json!(r.non_resource_urls),
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        if !urls {
            if r.api_groups.as_ref().is_none_or(Vec::is_empty) {
                errs.push(FieldError::required(
                    &format!("{rp}.apiGroups"),
                    "resource rules must supply at least one api group",
                ));
            }
            if !has_resources {
                errs.push(FieldError::required(
                    &format!("{rp}.resources"),
                    "resource rules must supply at least one resource",
                ));
            }
        }
    }
}

/// Validates a role.
pub fn role(r: &Role) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta(&r.metadata, true, NameRule::PathSegment, &mut errs);
    policy_rules(r.rules.as_deref().unwrap_or_default(), true, &mut errs);
    errs
}

/// Validates a cluster role.
pub fn cluster_role(r: &ClusterRole) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta(&r.metadata, false, NameRule::PathSegment, &mut errs);
    policy_rules(r.rules.as_deref().unwrap_or_default(), false, &mut errs);
    errs
}

fn binding(
    role_ref: &RoleRef,
    subjects: &[Subject],
    allowed_kinds: &[&str],
    cluster: bool,
    errs: &mut FieldErrors,
) {
    if role_ref.api_group != crate::defaults::RBAC_GROUP {
        errs.push(FieldError::not_supported(
            "roleRef.apiGroup",
            json!(role_ref.api_group),
            &[crate::defaults::RBAC_GROUP],
        ));
    }
    if role_ref.kind.is_empty() {
        errs.push(FieldError::required("roleRef.kind", ""));
    } else {
        not_supported("roleRef.kind", &role_ref.kind, allowed_kinds, errs);
    }
    if role_ref.name.is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    } else {
        push_all(
            errs,
            "roleRef.name",
            &role_ref.name,
            path_segment_errors(&role_ref.name),
        );
    }
    for (i, s) in subjects.iter().enumerate() {
        let sp = format!("subjects[{i}]");
        if s.name.is_empty() {
            errs.push(FieldError::required(&format!("{sp}.name"), ""));
        }
        match s.kind.as_str() {
            "ServiceAccount" => {
                if s.api_group.as_deref().is_some_and(|g| !g.is_empty()) {
                    errs.push(FieldError::not_supported(
                        &format!("{sp}.apiGroup"),
                        json!(s.api_group),
                        &[""],
                    ));
                }
                if cluster && s.namespace.as_deref().is_none_or(str::is_empty) {
                    errs.push(FieldError::required(&format!("{sp}.namespace"), ""));
                }
            }
            "User" | "Group" => {
                if s.api_group.as_deref() != Some(crate::defaults::RBAC_GROUP) {
                    errs.push(FieldError::not_supported(
                        &format!("{sp}.apiGroup"),
                        json!(s.api_group),
                        &[crate::defaults::RBAC_GROUP],
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                &format!("{sp}.kind"),
                json!(other),
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
}

/// Validates a role binding (after defaulting).
pub fn role_binding(b: &RoleBinding) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta(&b.metadata, true, NameRule::PathSegment, &mut errs);
    binding(
        &b.role_ref,
        b.subjects.as_deref().unwrap_or_default(),
        &["Role", "ClusterRole"],
        false,
        &mut errs,
    );
    errs
}

/// Validates a cluster role binding (after defaulting).
pub fn cluster_role_binding(b: &ClusterRoleBinding) -> FieldErrors {
    let mut errs = Vec::new();
    object_meta(&b.metadata, false, NameRule::PathSegment, &mut errs);
    binding(
        &b.role_ref,
        b.subjects.as_deref().unwrap_or_default(),
        &["ClusterRole"],
        true,
        &mut errs,
    );
    errs
}

fn role_ref_immutable(new: &RoleRef, old: &RoleRef, errs: &mut FieldErrors) {
    if new != old {
        errs.push(FieldError::invalid(
            "roleRef",
            serde_json::to_value(new).unwrap_or(Value::Null),
            "cannot change roleRef",
        ));
    }
}

fn generic_update<T>(
    resource: &ResourceInfo,
    new: &T,
    old: &T,
    create: fn(&T) -> FieldErrors,
    meta: fn(&T) -> &ObjectMeta,
) -> FieldErrors {
    let mut errs = create(new);
    errs.retain(|e| !e.field.starts_with("metadata."));
    object_meta_update(
        meta(new),
        meta(old),
        resource.namespaced,
        name_rule(resource),
        &mut errs,
    );
    errs
}

fn generic_meta(resource: &ResourceInfo, object: &Value) -> Result<FieldErrors, Error> {
    let meta: ObjectMeta = match object.get("metadata") {
        Some(m) => decode(resource, m)?,
        None => ObjectMeta::default(),
    };
    let mut errs = Vec::new();
    object_meta(&meta, resource.namespaced, name_rule(resource), &mut errs);
    Ok(errs)
}

/// Defaults a new object's JSON and validates it, by resource, through one typed
/// decode (see [`defaults::with_defaults`]). A body that does not decode as the
/// kind is an `Err` (400), not a field error.
pub fn default_and_validate_create(
    resource: &ResourceInfo,
    object: &mut Value,
) -> Result<FieldErrors, Error> {
    macro_rules! create {
        ($t:ty, $f:expr) => {
            with_defaults(resource, object, |n: &$t| Ok($f(n)))?
        };
    }
    Ok(match (resource.group, resource.kind) {
        ("", "Pod") => create!(Pod, pod),
        ("", "Service") => create!(Service, service),
        ("", "Namespace") => create!(Namespace, namespace),
        ("", "ConfigMap") => create!(ConfigMap, config_map),
        ("", "Secret") => create!(Secret, secret),
        ("", "ServiceAccount") => create!(ServiceAccount, service_account),
        ("", "Node") => create!(Node, node),
        ("", "Endpoints") => create!(Endpoints, endpoints),
        ("apps", "Deployment") => create!(Deployment, deployment),
        ("apps", "ReplicaSet") => create!(ReplicaSet, replica_set),
        ("coordination.k8s.io", "Lease") => create!(Lease, lease),
        ("rbac.authorization.k8s.io", "Role") => create!(Role, role),
        ("rbac.authorization.k8s.io", "ClusterRole") => create!(ClusterRole, cluster_role),
        ("rbac.authorization.k8s.io", "RoleBinding") => create!(RoleBinding, role_binding),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            create!(ClusterRoleBinding, cluster_role_binding)
        }
        _ => generic_meta(resource, object)?,
    })
}

/// Defaults an updated object's JSON and validates it against the stored one, by
/// resource; the new object is decoded once (see [`defaults::with_defaults`]).
pub fn default_and_validate_update(
    resource: &ResourceInfo,
    new: &mut Value,
    old: &Value,
) -> Result<FieldErrors, Error> {
    macro_rules! upd {
        ($t:ty, $f:expr) => {
            with_defaults(resource, new, |n: &$t| {
                let o: $t = decode(resource, old)?;
                Ok($f(n, &o))
            })?
        };
    }
    macro_rules! gen_upd {
        ($t:ty, $create:expr) => {
            upd!($t, |n: &$t, o: &$t| generic_update(
                resource,
                n,
                o,
                $create,
                |x: &$t| &x.metadata
            ))
        };
    }
    Ok(match (resource.group, resource.kind) {
        ("", "Pod") => upd!(Pod, pod_update),
        ("", "Service") => upd!(Service, service_update),
        ("", "ConfigMap") => upd!(ConfigMap, config_map_update),
        ("", "Secret") => upd!(Secret, secret_update),
        ("", "Namespace") => gen_upd!(Namespace, namespace),
        ("", "ServiceAccount") => gen_upd!(ServiceAccount, service_account),
        ("", "Node") => upd!(Node, node_update),
        ("", "Endpoints") => gen_upd!(Endpoints, endpoints),
        ("apps", "Deployment") => upd!(Deployment, deployment_update),
        ("apps", "ReplicaSet") => upd!(ReplicaSet, replica_set_update),
        ("coordination.k8s.io", "Lease") => gen_upd!(Lease, lease),
        ("rbac.authorization.k8s.io", "Role") => gen_upd!(Role, role),
        ("rbac.authorization.k8s.io", "ClusterRole") => gen_upd!(ClusterRole, cluster_role),
        ("rbac.authorization.k8s.io", "RoleBinding") => {
            upd!(RoleBinding, |n: &RoleBinding, o: &RoleBinding| {
                let mut errs = generic_update(resource, n, o, role_binding, |x| &x.metadata);
                role_ref_immutable(&n.role_ref, &o.role_ref, &mut errs);
                errs
            })
        }
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            upd!(
                ClusterRoleBinding,
                |n: &ClusterRoleBinding, o: &ClusterRoleBinding| {
                    let mut errs =
                        generic_update(resource, n, o, cluster_role_binding, |x| &x.metadata);
                    role_ref_immutable(&n.role_ref, &o.role_ref, &mut errs);
                    errs
                }
            )
        }
        _ => {
            let mut errs = generic_meta(resource, new)?;
            let meta = |v: &Value| -> Result<ObjectMeta, Error> {
                match v.get("metadata") {
                    Some(m) => decode(resource, m),
                    None => Ok(ObjectMeta::default()),
                }
            };
            let (n, o) = (meta(new)?, meta(old)?);
            errs.clear();
            object_meta_update(&n, &o, resource.namespaced, name_rule(resource), &mut errs);
            errs
        }
    })
}

#[cfg(test)]
mod tests;
