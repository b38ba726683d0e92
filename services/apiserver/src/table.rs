//! meta.k8s.io/v1 `Table` output for `kubectl get`: the columns kube-apiserver's
//! printers show for each kind (priority 1 columns are `-o wide`), computed from
//! object JSON. Pure: the caller passes the clock.

use rudder_api::resource::ResourceInfo;
use serde_json::{Value, json};

/// What each row carries besides its cells (`?includeObject=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// A PartialObjectMetadata (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses `?includeObject=`; unknown values fall back to the default.
    pub fn parse(value: &str) -> Self {
        match value {
            "None" => IncludeObject::None,
            "Object" => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// One column: name, type, and priority (0 always shown, 1 with `-o wide`).
struct Column(&'static str, &'static str, u8);

const NAME: Column = Column("Name", "string", 0);
const AGE: Column = Column("Age", "string", 0);

fn columns(resource: &ResourceInfo) -> Vec<Column> {
    match (resource.group, resource.kind) {
        ("", "Pod") => vec![
            NAME,
            Column("Ready", "string", 0),
            Column("Status", "string", 0),
            Column("Restarts", "string", 0),
            AGE,
            Column("IP", "string", 1),
            Column("Node", "string", 1),
            Column("Nominated Node", "string", 1),
            Column("Readiness Gates", "string", 1),
        ],
        ("", "Namespace") => vec![NAME, Column("Status", "string", 0), AGE],
        ("", "Node") => vec![
            NAME,
            Column("Status", "string", 0),
            Column("Roles", "string", 0),
            AGE,
            Column("Version", "string", 0),
            Column("Internal-IP", "string", 1),
            Column("External-IP", "string", 1),
            Column("OS-Image", "string", 1),
            Column("Kernel-Version", "string", 1),
            Column("Container-Runtime", "string", 1),
        ],
        ("", "Service") => vec![
            NAME,
            Column("Type", "string", 0),
            Column("Cluster-IP", "string", 0),
            Column("External-IP", "string", 0),
            Column("Port(s)", "string", 0),
            AGE,
            Column("Selector", "string", 1),
        ],
        ("", "Endpoints") => vec![NAME, Column("Endpoints", "string", 0), AGE],
        ("", "ConfigMap") => vec![NAME, Column("Data", "integer", 0), AGE],
        ("", "Secret") => vec![
            NAME,
            Column("Type", "string", 0),
            Column("Data", "integer", 0),
            AGE,
        ],
        ("", "ServiceAccount") => vec![NAME, Column("Secrets", "integer", 0), AGE],
        ("", "Event") => vec![
            Column("Last Seen", "string", 0),
            Column("Type", "string", 0),
            Column("Reason", "string", 0),
            Column("Object", "string", 0),
            Column("Subobject", "string", 1),
            Column("Source", "string", 1),
            Column("Message", "string", 0),
            Column("First Seen", "string", 1),
            Column("Count", "string", 1),
            Column("Name", "string", 1),
        ],
        ("apps", "Deployment") => vec![
            NAME,
            Column("Ready", "string", 0),
            Column("Up-to-date", "string", 0),
            Column("Available", "string", 0),
            AGE,
            Column("Containers", "string", 1),
            Column("Images", "string", 1),
            Column("Selector", "string", 1),
        ],
        ("apps", "ReplicaSet") => vec![
            NAME,
            Column("Desired", "integer", 0),
            Column("Current", "integer", 0),
            Column("Ready", "integer", 0),
            AGE,
            Column("Containers", "string", 1),
            Column("Images", "string", 1),
            Column("Selector", "string", 1),
        ],
        ("coordination.k8s.io", "Lease") => vec![NAME, Column("Holder", "string", 0), AGE],
        (_, "Role" | "ClusterRole") => vec![NAME, Column("Created At", "date", 0)],
        (_, "RoleBinding" | "ClusterRoleBinding") => vec![
            NAME,
            Column("Role", "string", 0),
            AGE,
            Column("Users", "string", 1),
            Column("Groups", "string", 1),
            Column("ServiceAccounts", "string", 1),
        ],
        _ => vec![NAME, AGE],
    }
}

pub use rudder_api::duration::human_duration;

fn parse_time(text: &str) -> Option<i64> {
    text.parse::<k8s_openapi::jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

/// `translateTimestampSince`: the age of an RFC 3339 time, `<unknown>` without one.
fn since(time: Option<&Value>, now: i64) -> String {
    match time.and_then(Value::as_str).and_then(parse_time) {
        Some(t) => human_duration(now - t),
        None => "<unknown>".into(),
    }
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn n(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn arr<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn or_none(text: String) -> String {
    if text.is_empty() {
        "<none>".into()
    } else {
        text
    }
}

fn selector_text(map: Option<&Value>) -> String {
    let pairs: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    pairs.join(",")
}

/// Label selector of a workload: matchLabels as `k=v`, expressions as upstream prints.
fn label_selector_text(selector: Option<&Value>) -> String {
    let Some(sel) = selector else {
        return "<none>".into();
    };
    let mut parts = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        parts.extend(
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))),
        );
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = s(e, "/key");
        let values: Vec<&str> = arr(e, "/values").iter().filter_map(Value::as_str).collect();
        parts.push(match s(e, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other}"),
        });
    }
    or_none(parts.join(","))
}

fn containers_and_images(o: &Value) -> (String, String) {
    let cs = arr(o, "/spec/template/spec/containers");
    let names: Vec<&str> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

fn pod_status(o: &Value) -> String {
    let mut reason = s(o, "/status/phase").to_string();
    if !s(o, "/status/reason").is_empty() {
        reason = s(o, "/status/reason").to_string();
    }
    let mut running = false;
    for c in arr(o, "/status/containerStatuses").iter().rev() {
        let waiting = s(c, "/state/waiting/reason");
        let terminated = s(c, "/state/terminated/reason");
        if !waiting.is_empty() {
            reason = waiting.to_string();
        } else if !terminated.is_empty() {
            reason = terminated.to_string();
        } else if c.pointer("/state/terminated").is_some() {
            let signal = n(c, "/state/terminated/signal");
            reason = if signal != 0 {
                format!("Signal:{signal}")
            } else {
                format!("ExitCode:{}", n(c, "/state/terminated/exitCode"))
            };
        } else if c.pointer("/state/running").is_some()
            && c.get("ready").and_then(Value::as_bool) == Some(true)
        {
            running = true;
        }
    }
    if reason == "Completed" && running {
        reason = "Running".into();
    }
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        reason = if s(o, "/status/reason") == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    if reason.is_empty() {
        "Pending".into()
    } else {
        reason
    }
}

fn node_status(o: &Value) -> String {
    let ready = arr(o, "/status/conditions")
        .iter()
        .find(|c| s(c, "/type") == "Ready");
    let mut status = match ready.map(|c| s(c, "/status")) {
        Some("True") => "Ready".to_string(),
        Some("False") => "NotReady".to_string(),
        _ => "Unknown".to_string(),
    };
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    status
}

fn node_address(o: &Value, kind: &str) -> String {
    or_none(
        arr(o, "/status/addresses")
            .iter()
            .find(|a| s(a, "/type") == kind)
            .map(|a| s(a, "/address").to_string())
            .unwrap_or_default(),
    )
}

fn service_ports(o: &Value) -> String {
    let ports: Vec<String> = arr(o, "/spec/ports")
        .iter()
        .map(|p| {
            let proto = match s(p, "/protocol") {
                "" => "TCP",
                other => other,
            };
            match n(p, "/nodePort") {
                0 => format!("{}/{proto}", n(p, "/port")),
                node => format!("{}:{node}/{proto}", n(p, "/port")),
            }
        })
        .collect();
    or_none(ports.join(","))
}

fn service_external_ip(o: &Value) -> String {
    let external: Vec<&str> = arr(o, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match s(o, "/spec/type") {
        "LoadBalancer" => {
            let mut ips: Vec<String> = arr(o, "/status/loadBalancer/ingress")
                .iter()
                .map(|i| {
                    if s(i, "/ip").is_empty() {
                        s(i, "/hostname").to_string()
                    } else {
                        s(i, "/ip").to_string()
                    }
                })
                .collect();
            ips.extend(external.iter().map(|e| e.to_string()));
            if ips.is_empty() {
                "<pending>".into()
            } else {
                ips.join(",")
            }
        }
        "ExternalName" => s(o, "/spec/externalName").to_string(),
        _ => or_none(external.join(",")),
    }
}

fn endpoints_text(o: &Value) -> String {
    let mut all = Vec::new();
    for subset in arr(o, "/subsets") {
        let ports = arr(subset, "/ports");
        for addr in arr(subset, "/addresses") {
            let ip = s(addr, "/ip");
            if ports.is_empty() {
                all.push(ip.to_string());
            }
            for p in ports {
                all.push(format!("{ip}:{}", n(p, "/port")));
            }
        }
    }
    if all.is_empty() {
        return "<none>".into();
    }
    if all.len() > 3 {
        return format!("{} + {} more...", all[..3].join(","), all.len() - 3);
    }
    all.join(",")
}

fn subjects(o: &Value, kind: &str) -> String {
    let names: Vec<String> = arr(o, "/subjects")
        .iter()
        .filter(|sub| s(sub, "/kind") == kind)
        .map(|sub| {
            if kind == "ServiceAccount" {
                format!("{}/{}", s(sub, "/namespace"), s(sub, "/name"))
            } else {
                s(sub, "/name").to_string()
            }
        })
        .collect();
    names.join(", ")
}

/// An Event's row as upstream's printer makes it: LAST SEEN is the series' last
/// observation, else `lastTimestamp`, else FIRST SEEN (`firstTimestamp`, else
/// `eventTime`); COUNT is the series' count, else `count`, and 1 for a singleton.
/// (The `5m (x3 over 10m)` form is `kubectl events` and `describe`, not the Table.)
fn event_cells(o: &Value, name: Value, now: i64) -> Vec<Value> {
    let set = |pointer: &str| {
        o.pointer(pointer)
            .filter(|v| v.as_str().is_some_and(|t| !t.is_empty()))
    };
    let first = since(set("/firstTimestamp").or_else(|| set("/eventTime")), now);
    let (last, count) = match o.get("series").filter(|v| v.is_object()) {
        Some(_) => (
            since(set("/series/lastObservedTime"), now),
            n(o, "/series/count"),
        ),
        None => (
            set("/lastTimestamp").map_or_else(|| first.clone(), |t| since(Some(t), now)),
            match n(o, "/count") {
                0 => 1,
                count => count,
            },
        ),
    };
    let kind = s(o, "/involvedObject/kind").to_lowercase();
    let object = match s(o, "/involvedObject/name") {
        "" => kind,
        named => format!("{kind}/{named}"),
    };
    let either = |a: &str, b: &str| {
        let first = s(o, a);
        if first.is_empty() { s(o, b) } else { first }
    };
    let source = match (
        either("/source/component", "/reportingComponent"),
        either("/source/host", "/reportingInstance"),
    ) {
        (component, "") => component.to_string(),
        (component, instance) => format!("{component}, {instance}"),
    };
    vec![
        json!(last),
        json!(s(o, "/type")),
        json!(s(o, "/reason")),
        json!(object),
        json!(s(o, "/involvedObject/fieldPath")),
        json!(source),
        json!(s(o, "/message").trim()),
        json!(first),
        json!(count),
        name,
    ]
}

fn cells(resource: &ResourceInfo, o: &Value, now: i64) -> Vec<Value> {
    let name = json!(s(o, "/metadata/name"));
    let age = json!(since(o.pointer("/metadata/creationTimestamp"), now));
    match (resource.group, resource.kind) {
        ("", "Pod") => {
            let total = arr(o, "/spec/containers").len();
            let statuses = arr(o, "/status/containerStatuses");
            let ready = statuses
                .iter()
                .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
                .count();
            let restarts: i64 = statuses.iter().map(|c| n(c, "/restartCount")).sum();
            let gates = arr(o, "/spec/readinessGates");
            let gates_text = if gates.is_empty() {
                "<none>".to_string()
            } else {
                let met = gates
                    .iter()
                    .filter(|g| {
                        arr(o, "/status/conditions").iter().any(|c| {
                            s(c, "/type") == s(g, "/conditionType") && s(c, "/status") == "True"
                        })
                    })
                    .count();
                format!("{met}/{}", gates.len())
            };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(o)),
                json!(restarts.to_string()),
                age,
                json!(or_none(s(o, "/status/podIP").to_string())),
                json!(or_none(s(o, "/spec/nodeName").to_string())),
                json!(or_none(s(o, "/status/nominatedNodeName").to_string())),
                json!(gates_text),
            ]
        }
        ("", "Namespace") => vec![name, json!(s(o, "/status/phase")), age],
        ("", "Node") => {
            let mut roles: Vec<String> = o
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.keys()
                        .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                        .filter(|r| !r.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            roles.sort();
            vec![
                name,
                json!(node_status(o)),
                json!(or_none(roles.join(","))),
                age,
                json!(s(o, "/status/nodeInfo/kubeletVersion")),
                json!(node_address(o, "InternalIP")),
                json!(node_address(o, "ExternalIP")),
                json!(or_none(s(o, "/status/nodeInfo/osImage").to_string())),
                json!(or_none(s(o, "/status/nodeInfo/kernelVersion").to_string())),
                json!(or_none(
                    s(o, "/status/nodeInfo/containerRuntimeVersion").to_string()
                )),
            ]
        }
        ("", "Service") => vec![
            name,
            json!(match s(o, "/spec/type") {
                "" => "ClusterIP",
                t => t,
            }),
            json!(or_none(s(o, "/spec/clusterIP").to_string())),
            json!(service_external_ip(o)),
            json!(service_ports(o)),
            age,
            json!(or_none(selector_text(o.pointer("/spec/selector")))),
        ],
        ("", "Endpoints") => vec![name, json!(endpoints_text(o)), age],
        ("", "ConfigMap") => {
            let count = o
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len())
                + o.get("binaryData")
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len());
            vec![name, json!(count), age]
        }
        ("", "Secret") => {
            let count = o
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len())
                + o.get("stringData")
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len());
            vec![name, json!(s(o, "/type")), json!(count), age]
        }
        ("", "ServiceAccount") => vec![name, json!(arr(o, "/secrets").len()), age],
        ("", "Event") => event_cells(o, name, now),
        ("apps", "Deployment") => {
            let (containers, images) = containers_and_images(o);
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    n(o, "/status/readyReplicas"),
                    o.pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                )),
                json!(n(o, "/status/updatedReplicas").to_string()),
                json!(n(o, "/status/availableReplicas").to_string()),
                age,
                json!(containers),
                json!(images),
                json!(label_selector_text(o.pointer("/spec/selector"))),
            ]
        }
        ("apps", "ReplicaSet") => {
            let (containers, images) = containers_and_images(o);
            vec![
                name,
                json!(
                    o.pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                ),
                json!(n(o, "/status/replicas")),
                json!(n(o, "/status/readyReplicas")),
                age,
                json!(containers),
                json!(images),
                json!(label_selector_text(o.pointer("/spec/selector"))),
            ]
        }
        ("coordination.k8s.io", "Lease") => {
            vec![name, json!(s(o, "/spec/holderIdentity")), age]
        }
        (_, "Role" | "ClusterRole") => {
            vec![name, json!(s(o, "/metadata/creationTimestamp"))]
        }
        (_, "RoleBinding" | "ClusterRoleBinding") => vec![
            name,
            json!(format!(
                "{}/{}",
                s(o, "/roleRef/kind"),
                s(o, "/roleRef/name")
            )),
            age,
            json!(subjects(o, "User")),
            json!(subjects(o, "Group")),
            json!(subjects(o, "ServiceAccount")),
        ],
        _ => vec![name, age],
    }
}

fn row(resource: &ResourceInfo, object: &Value, include: IncludeObject, now: i64) -> Value {
    let mut row = json!({"cells": cells(resource, object, now)});
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": object.get("metadata").cloned().unwrap_or(json!({})),
            });
        }
        IncludeObject::Object => {
            let mut full = object.clone();
            if let Some(map) = full.as_object_mut() {
                map.entry("kind").or_insert_with(|| json!(resource.kind));
                map.entry("apiVersion")
                    .or_insert_with(|| json!(resource.api_version()));
            }
            row["object"] = full;
        }
    }
    row
}

/// A Table of one object, or of a list's items (keeping the list's metadata).
pub fn to_table(resource: &ResourceInfo, value: &Value, include: IncludeObject, now: i64) -> Value {
    let definitions: Vec<Value> = columns(resource)
        .iter()
        .map(|Column(name, kind, priority)| {
            let mut d = json!({"name": name, "type": kind, "format": "", "description": "", "priority": priority});
            if *name == "Name" {
                d["format"] = json!("name");
            }
            d
        })
        .collect();
    let (rows, metadata) = match value.get("items").and_then(Value::as_array) {
        Some(items) => (
            items
                .iter()
                .map(|o| row(resource, o, include, now))
                .collect(),
            value.get("metadata").cloned().unwrap_or(json!({})),
        ),
        None => (
            vec![row(resource, value, include, now)],
            json!({"resourceVersion": s(value, "/metadata/resourceVersion")}),
        ),
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_api::resource::resolve;

    const NOW: i64 = 1_767_323_045; // 2026-01-02T03:04:05Z

    #[test]
    fn event_rows_are_upstreams() {
        let events = resolve("events").unwrap();
        let cells = |event: Value| {
            to_table(events, &event, IncludeObject::None, NOW)["rows"][0]["cells"].clone()
        };
        let repeated = json!({"metadata": {"name": "web.1"}, "type": "Warning", "reason": "BackOff",
            "message": " Back-off restarting failed container\n", "count": 3,
            "firstTimestamp": "2026-01-02T02:54:05Z", "lastTimestamp": "2026-01-02T03:02:05Z",
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
            "source": {"component": "kubelet", "host": "n1"}});
        assert_eq!(
            cells(repeated),
            json!([
                "2m",
                "Warning",
                "BackOff",
                "pod/web",
                "spec.containers{web}",
                "kubelet, n1",
                "Back-off restarting failed container",
                "10m",
                3,
                "web.1"
            ])
        );
        // The events.k8s.io form: eventTime, reporting controller and instance, no count.
        let singleton = json!({"metadata": {"name": "n1.1"}, "type": "Normal", "reason": "Starting",
            "eventTime": "2026-01-02T03:03:05.123456Z", "involvedObject": {"kind": "Node"},
            "reportingComponent": "kubelet", "reportingInstance": "n1"});
        assert_eq!(
            cells(singleton),
            json!([
                "60s",
                "Normal",
                "Starting",
                "node",
                "",
                "kubelet, n1",
                "",
                "60s",
                1,
                "n1.1"
            ])
        );
        let series = json!({"metadata": {"name": "s"}, "eventTime": "2026-01-02T02:04:05.000000Z",
            "series": {"count": 7, "lastObservedTime": "2026-01-02T03:04:00.000000Z"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "source": {"component": "scheduler"}});
        assert_eq!(
            cells(series),
            json!(["5s", "", "", "pod/p", "", "scheduler", "", "60m", 7, "s"])
        );
    }

    #[test]
    fn pod_rows_have_upstream_columns() {
        let pod = json!({"metadata": {"name": "web", "creationTimestamp": "2026-01-02T03:00:00Z", "resourceVersion": "7"},
            "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.5", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let t = to_table(resolve("pods").unwrap(), &pod, IncludeObject::Metadata, NOW);
        assert_eq!(t["kind"], "Table");
        let names: Vec<_> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        assert_eq!(t["columnDefinitions"][5]["priority"], 1);
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "web",
                "1/2",
                "CrashLoopBackOff",
                "3",
                "4m5s",
                "10.0.0.5",
                "n1",
                "<none>",
                "<none>"
            ])
        );
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["metadata"]["resourceVersion"], "7");

        let mut terminating = pod.clone();
        terminating["metadata"]["deletionTimestamp"] = json!("2026-01-02T03:04:00Z");
        assert_eq!(pod_status(&terminating), "Terminating");
        assert_eq!(
            pod_status(&json!({"status": {"phase": "Pending"}})),
            "Pending"
        );
    }

    #[test]
    fn lists_and_other_kinds() {
        let deploy = json!({"metadata": {"name": "d", "creationTimestamp": "2026-01-01T03:04:05Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let list =
            json!({"metadata": {"resourceVersion": "9", "continue": "x"}, "items": [deploy]});
        let t = to_table(resolve("deploy").unwrap(), &list, IncludeObject::None, NOW);
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["d", "2/3", "3", "2", "24h", "web", "nginx:1", "app=web"])
        );
        assert_eq!(t["rows"][0].get("object"), None);
        assert_eq!(
            t["metadata"],
            json!({"resourceVersion": "9", "continue": "x"})
        );

        let svc = json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.10",
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}], "selector": {"app": "web"}}});
        let t = to_table(resolve("svc").unwrap(), &svc, IncludeObject::Metadata, NOW);
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "s",
                "NodePort",
                "10.96.0.10",
                "<none>",
                "80:30080/TCP,53/UDP",
                "<unknown>",
                "app=web"
            ])
        );

        let cm = json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        let t = to_table(resolve("cm").unwrap(), &cm, IncludeObject::Metadata, NOW);
        assert_eq!(t["rows"][0]["cells"], json!(["c", 2, "<unknown>"]));

        let node = json!({"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.33.0"},
                       "addresses": [{"type": "InternalIP", "address": "192.168.1.2"}]}});
        let t = to_table(
            resolve("nodes").unwrap(),
            &node,
            IncludeObject::Metadata,
            NOW,
        );
        assert_eq!(t["rows"][0]["cells"][1], "Ready,SchedulingDisabled");
        assert_eq!(t["rows"][0]["cells"][2], "control-plane");
        assert_eq!(t["rows"][0]["cells"][5], "192.168.1.2");

        let ep = json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "1.1.1.1"}, {"ip": "1.1.1.2"}, {"ip": "1.1.1.3"}, {"ip": "1.1.1.4"}], "ports": [{"port": 80}]}]});
        assert_eq!(
            endpoints_text(&ep),
            "1.1.1.1:80,1.1.1.2:80,1.1.1.3:80 + 1 more..."
        );
        let rb = json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "bob"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]});
        let t = to_table(
            resolve("rolebindings").unwrap(),
            &rb,
            IncludeObject::Metadata,
            NOW,
        );
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["rb", "ClusterRole/view", "<unknown>", "bob", "", "ns/sa"])
        );
    }
}
