//! kubectl's human-readable columns per kind, computed client-side from the objects'
//! JSON (upstream computes them in the API server's `printers.go`; the cells here
//! follow those functions). Pure: the current time is a parameter.

use std::collections::BTreeMap;

use serde_json::Value;

use super::age;

/// One kind's table: header cells and one row per object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Column names (`NAME`, `READY` ...).
    pub header: Vec<String>,
    /// Cells per object, in header order.
    pub rows: Vec<Vec<String>>,
}

/// What a table shows besides the kind's own columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableOptions {
    /// `-o wide`.
    pub wide: bool,
    /// `-A`: a NAMESPACE column first.
    pub with_namespace: bool,
    /// `--show-labels`: a LABELS column last.
    pub show_labels: bool,
    /// Several kinds printed: names as `deployment.apps/web`.
    pub with_kind: bool,
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn i(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn arr<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn or_none(text: String) -> String {
    if text.is_empty() {
        "<none>".to_string()
    } else {
        text
    }
}

/// `k=v,k2=v2` of a string map (sorted), `<none>` when empty.
pub fn format_labels(map: Option<&Value>) -> String {
    let pairs: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    or_none(pairs.join(","))
}

/// A meta/v1 LabelSelector as kubectl prints it (`app=web,tier in (a,b)`).
pub fn format_label_selector(selector: Option<&Value>) -> String {
    let Some(selector) = selector.filter(|v| v.is_object()) else {
        return "<none>".to_string();
    };
    let mut parts: Vec<String> = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    for expr in arr(selector, "/matchExpressions") {
        let key = s(expr, "/key");
        let values: Vec<&str> = arr(expr, "/values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let part = match s(expr, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other} ({})", values.join(",")),
        };
        parts.push(part);
    }
    if parts.is_empty() {
        // An empty selector matches everything.
        return "<none>".to_string();
    }
    parts.join(",")
}

/// The `kind.group` prefix of `-o name` and of names when several kinds print.
pub fn kind_prefix(kind: &str, group: &str) -> String {
    if group.is_empty() {
        kind.to_ascii_lowercase()
    } else {
        format!("{}.{group}", kind.to_ascii_lowercase())
    }
}

/// Main and wide cells (or headers) in kubectl's `-o wide` order: wide ones last,
/// except an Event's SUBOBJECT and SOURCE, which upstream's printer puts before MESSAGE.
fn widened(kind: &str, mut main: Vec<String>, wide: Vec<String>) -> Vec<String> {
    let mut wide = wide.into_iter();
    if kind == "Event"
        && let Some(message) = main.pop()
    {
        main.extend(wide.by_ref().take(2));
        main.push(message);
    }
    main.extend(wide);
    main
}

/// Builds the table of `objects` (all of one kind) at time `now` (Unix seconds).
pub fn table(kind: &str, group: &str, objects: &[Value], options: TableOptions, now: i64) -> Table {
    let (mut header, wide_header) = headers(kind);
    if options.wide {
        header = widened(kind, header, wide_header);
    }
    let mut rows = Vec::with_capacity(objects.len());
    for object in objects {
        let (mut row, wide) = cells(kind, object, now);
        if options.wide {
            row = widened(kind, row, wide);
        }
        if options.with_kind
            && let Some(name) = row.first_mut()
        {
            *name = format!("{}/{name}", kind_prefix(kind, group));
        }
        if options.with_namespace {
            row.insert(0, s(object, "/metadata/namespace").to_string());
        }
        if options.show_labels {
            row.push(format_labels(object.pointer("/metadata/labels")));
        }
        rows.push(row);
    }
    if options.with_namespace {
        header.insert(0, "NAMESPACE".to_string());
    }
    if options.show_labels {
        header.push("LABELS".to_string());
    }
    Table { header, rows }
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// Headers and wide-only headers of a kind.
fn headers(kind: &str) -> (Vec<String>, Vec<String>) {
    let (main, wide): (&[&str], &[&str]) = match kind {
        "Pod" => (
            &["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
            &["IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
        ),
        "Deployment" => (
            &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
            &["CONTAINERS", "IMAGES", "SELECTOR"],
        ),
        "ReplicaSet" => (
            &["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
            &["CONTAINERS", "IMAGES", "SELECTOR"],
        ),
        "Service" => (
            &[
                "NAME",
                "TYPE",
                "CLUSTER-IP",
                "EXTERNAL-IP",
                "PORT(S)",
                "AGE",
            ],
            &["SELECTOR"],
        ),
        "Node" => (
            &["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
            &[
                "INTERNAL-IP",
                "EXTERNAL-IP",
                "OS-IMAGE",
                "KERNEL-VERSION",
                "CONTAINER-RUNTIME",
            ],
        ),
        "Namespace" => (&["NAME", "STATUS", "AGE"], &[]),
        "ConfigMap" => (&["NAME", "DATA", "AGE"], &[]),
        "Secret" => (&["NAME", "TYPE", "DATA", "AGE"], &[]),
        "ServiceAccount" => (&["NAME", "SECRETS", "AGE"], &[]),
        "Endpoints" => (&["NAME", "ENDPOINTS", "AGE"], &[]),
        "Event" => (
            &["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
            &["SUBOBJECT", "SOURCE", "FIRST SEEN", "COUNT", "NAME"],
        ),
        "Lease" => (&["NAME", "HOLDER", "AGE"], &[]),
        "Role" | "ClusterRole" => (&["NAME", "CREATED AT"], &[]),
        "RoleBinding" | "ClusterRoleBinding" => (
            &["NAME", "ROLE", "AGE"],
            &["USERS", "GROUPS", "SERVICEACCOUNTS"],
        ),
        _ => (&["NAME", "AGE"], &[]),
    };
    (strings(main), strings(wide))
}

/// Cells and wide-only cells of one object. The name cell comes first except for
/// events, whose table has no NAME (the name is a wide column).
fn cells(kind: &str, o: &Value, now: i64) -> (Vec<String>, Vec<String>) {
    let name = s(o, "/metadata/name").to_string();
    let age = age::since(o.pointer("/metadata/creationTimestamp"), now);
    match kind {
        "Pod" => pod_cells(o, name, age, now),
        "Deployment" => {
            let desired = i(o, "/spec/replicas");
            (
                vec![
                    name,
                    format!("{}/{desired}", i(o, "/status/readyReplicas")),
                    i(o, "/status/updatedReplicas").to_string(),
                    i(o, "/status/availableReplicas").to_string(),
                    age,
                ],
                template_wide(o),
            )
        }
        "ReplicaSet" => (
            vec![
                name,
                i(o, "/spec/replicas").to_string(),
                i(o, "/status/replicas").to_string(),
                i(o, "/status/readyReplicas").to_string(),
                age,
            ],
            template_wide(o),
        ),
        "Service" => service_cells(o, name, age),
        "Node" => node_cells(o, name, age),
        "Namespace" => (vec![name, s(o, "/status/phase").to_string(), age], vec![]),
        "ConfigMap" => {
            let count = |p| {
                o.pointer(p)
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len())
            };
            let data = count("/data") + count("/binaryData");
            (vec![name, data.to_string(), age], vec![])
        }
        "Secret" => {
            let data = o
                .pointer("/data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len());
            let ty = match s(o, "/type") {
                "" => "Opaque",
                t => t,
            };
            (vec![name, ty.to_string(), data.to_string(), age], vec![])
        }
        "ServiceAccount" => (
            vec![name, arr(o, "/secrets").len().to_string(), age],
            vec![],
        ),
        "Endpoints" => (vec![name, format_endpoints(o), age], vec![]),
        "Event" => event_cells(o, name, now),
        "Lease" => (
            vec![name, s(o, "/spec/holderIdentity").to_string(), age],
            vec![],
        ),
        "Role" | "ClusterRole" => (
            vec![name, s(o, "/metadata/creationTimestamp").to_string()],
            vec![],
        ),
        "RoleBinding" | "ClusterRoleBinding" => {
            let role = format!("{}/{}", s(o, "/roleRef/kind"), s(o, "/roleRef/name"));
            let subjects = |want: &str| {
                arr(o, "/subjects")
                    .iter()
                    .filter(|sub| s(sub, "/kind") == want)
                    .map(|sub| {
                        if want == "ServiceAccount" {
                            format!("{}/{}", s(sub, "/namespace"), s(sub, "/name"))
                        } else {
                            s(sub, "/name").to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            (
                vec![name, role, age],
                vec![
                    subjects("User"),
                    subjects("Group"),
                    subjects("ServiceAccount"),
                ],
            )
        }
        _ => (vec![name, age], vec![]),
    }
}

fn template_wide(o: &Value) -> Vec<String> {
    let containers = arr(o, "/spec/template/spec/containers");
    let names: Vec<&str> = containers.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| s(c, "/image")).collect();
    vec![
        names.join(","),
        images.join(","),
        format_label_selector(o.pointer("/spec/selector")),
    ]
}

/// The STATUS cell of a pod (upstream `printPod`).
pub fn pod_status(o: &Value) -> String {
    let mut reason = s(o, "/status/phase").to_string();
    if !s(o, "/status/reason").is_empty() {
        reason = s(o, "/status/reason").to_string();
    }
    let init_statuses = arr(o, "/status/initContainerStatuses");
    let init_count = arr(o, "/spec/initContainers").len();
    let mut initializing = false;
    for (idx, c) in init_statuses.iter().enumerate() {
        let exit = c
            .pointer("/state/terminated/exitCode")
            .and_then(Value::as_i64);
        if exit == Some(0) {
            continue;
        }
        if let Some(t) = c.pointer("/state/terminated") {
            let r = s(t, "/reason");
            reason = if r.is_empty() {
                match t.get("signal").and_then(Value::as_i64).filter(|s| *s != 0) {
                    Some(sig) => format!("Init:Signal:{sig}"),
                    None => format!("Init:ExitCode:{}", exit.unwrap_or(0)),
                }
            } else {
                format!("Init:{r}")
            };
        } else if !s(c, "/state/waiting/reason").is_empty()
            && s(c, "/state/waiting/reason") != "PodInitializing"
        {
            reason = format!("Init:{}", s(c, "/state/waiting/reason"));
        } else {
            reason = format!("Init:{idx}/{init_count}");
        }
        initializing = true;
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in arr(o, "/status/containerStatuses").iter().rev() {
            let waiting = s(c, "/state/waiting/reason");
            let terminated = c.pointer("/state/terminated");
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(t) = terminated {
                let r = s(t, "/reason");
                reason = if !r.is_empty() {
                    r.to_string()
                } else if let Some(sig) =
                    t.get("signal").and_then(Value::as_i64).filter(|s| *s != 0)
                {
                    format!("Signal:{sig}")
                } else {
                    format!("ExitCode:{}", i(t, "/exitCode"))
                };
            } else if c.get("ready").and_then(Value::as_bool) == Some(true)
                && c.pointer("/state/running").is_some()
            {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            let ready = arr(o, "/status/conditions")
                .iter()
                .any(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True");
            reason = if ready { "Running" } else { "NotReady" }.to_string();
        }
    }
    if o.pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        reason = if s(o, "/status/reason") == "NodeLost" {
            "Unknown".to_string()
        } else {
            "Terminating".to_string()
        };
    }
    reason
}

fn pod_cells(o: &Value, name: String, age: String, now: i64) -> (Vec<String>, Vec<String>) {
    let total = arr(o, "/spec/containers").len();
    let statuses = arr(o, "/status/containerStatuses");
    let ready = statuses
        .iter()
        .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
        .count();
    let mut restarts = 0;
    let mut last_restart: Option<i64> = None;
    for c in statuses {
        restarts += i(c, "/restartCount");
        if let Some(t) = c
            .pointer("/lastState/terminated/finishedAt")
            .and_then(age::parse_timestamp)
        {
            last_restart = Some(last_restart.map_or(t, |l: i64| l.max(t)));
        }
    }
    let restarts = match last_restart {
        Some(t) if restarts > 0 => {
            format!("{restarts} ({} ago)", age::human_duration(now - t))
        }
        _ => restarts.to_string(),
    };
    let gates = arr(o, "/spec/readinessGates");
    let gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_conditions = gates
            .iter()
            .filter(|g| {
                arr(o, "/status/conditions")
                    .iter()
                    .any(|c| s(c, "/type") == s(g, "/conditionType") && s(c, "/status") == "True")
            })
            .count();
        format!("{true_conditions}/{}", gates.len())
    };
    (
        vec![
            name,
            format!("{ready}/{total}"),
            pod_status(o),
            restarts,
            age,
        ],
        vec![
            or_none(s(o, "/status/podIP").to_string()),
            or_none(s(o, "/spec/nodeName").to_string()),
            or_none(s(o, "/status/nominatedNodeName").to_string()),
            gates,
        ],
    )
}

fn service_cells(o: &Value, name: String, age: String) -> (Vec<String>, Vec<String>) {
    let ty = match s(o, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = or_none(s(o, "/spec/clusterIP").to_string());
    let external: Vec<String> = arr(o, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let external_ip = match ty {
        "LoadBalancer" => {
            let mut ips: Vec<String> = arr(o, "/status/loadBalancer/ingress")
                .iter()
                .map(|ing| match s(ing, "/ip") {
                    "" => s(ing, "/hostname").to_string(),
                    ip => ip.to_string(),
                })
                .filter(|v| !v.is_empty())
                .collect();
            ips.extend(external);
            if ips.is_empty() {
                "<pending>".to_string()
            } else {
                ips.join(",")
            }
        }
        "ExternalName" => s(o, "/spec/externalName").to_string(),
        _ => or_none(external.join(",")),
    };
    let ports: Vec<String> = arr(o, "/spec/ports")
        .iter()
        .map(|p| {
            let protocol = match s(p, "/protocol") {
                "" => "TCP",
                p => p,
            };
            match i(p, "/nodePort") {
                0 => format!("{}/{protocol}", i(p, "/port")),
                node_port => format!("{}:{node_port}/{protocol}", i(p, "/port")),
            }
        })
        .collect();
    (
        vec![
            name,
            ty.to_string(),
            cluster_ip,
            external_ip,
            or_none(ports.join(",")),
            age,
        ],
        vec![format_labels(o.pointer("/spec/selector"))],
    )
}

fn node_cells(o: &Value, name: String, age: String) -> (Vec<String>, Vec<String>) {
    let mut status: Vec<String> = arr(o, "/status/conditions")
        .iter()
        .filter(|c| s(c, "/type") == "Ready")
        .take(1)
        .map(|c| {
            if s(c, "/status") == "True" {
                "Ready".to_string()
            } else {
                "NotReady".to_string()
            }
        })
        .collect();
    if status.is_empty() {
        status.push("Unknown".to_string());
    }
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled".to_string());
    }
    let mut roles: Vec<String> = Vec::new();
    if let Some(labels) = o.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.push(role.to_string());
                }
            } else if k == "kubernetes.io/role" && v.as_str().is_some_and(|v| !v.is_empty()) {
                roles.push(v.as_str().unwrap_or_default().to_string());
            }
        }
    }
    roles.sort();
    roles.dedup();
    let address = |ty: &str| {
        or_none(
            arr(o, "/status/addresses")
                .iter()
                .find(|a| s(a, "/type") == ty)
                .map(|a| s(a, "/address").to_string())
                .unwrap_or_default(),
        )
    };
    let info = |field: &str| {
        let v = s(o, &format!("/status/nodeInfo/{field}"));
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v.to_string()
        }
    };
    (
        vec![
            name,
            status.join(","),
            or_none(roles.join(",")),
            age,
            s(o, "/status/nodeInfo/kubeletVersion").to_string(),
        ],
        vec![
            address("InternalIP"),
            address("ExternalIP"),
            info("osImage"),
            info("kernelVersion"),
            info("containerRuntimeVersion"),
        ],
    )
}

/// The ENDPOINTS cell: `ip:port` pairs, at most three, then ` + N more...`.
pub fn format_endpoints(o: &Value) -> String {
    let mut list = Vec::new();
    let mut count = 0;
    let max = 3;
    for subset in arr(o, "/subsets") {
        let ports = arr(subset, "/ports");
        for address in arr(subset, "/addresses") {
            let ip = s(address, "/ip");
            if ports.is_empty() {
                count += 1;
                if list.len() < max {
                    list.push(ip.to_string());
                }
            }
            for port in ports {
                count += 1;
                if list.len() < max {
                    list.push(format!("{ip}:{}", i(port, "/port")));
                }
            }
        }
    }
    let mut text = list.join(",");
    if count > max {
        text.push_str(&format!(" + {} more...", count - max));
    }
    or_none(text)
}

/// As the API server's Event Table (upstream's printer): LAST SEEN is the last
/// occurrence alone; the `(x3 over 10m)` form belongs to `describe`, not `get`.
fn event_cells(o: &Value, name: String, now: i64) -> (Vec<String>, Vec<String>) {
    let set = |pointer: &str| {
        o.pointer(pointer)
            .filter(|v| v.as_str().is_some_and(|t| !t.is_empty()))
    };
    let first = age::since(set("/firstTimestamp").or_else(|| set("/eventTime")), now);
    let (last, count) = match o.get("series").filter(|v| v.is_object()) {
        Some(_) => (
            age::since(set("/series/lastObservedTime"), now),
            i(o, "/series/count"),
        ),
        None => (
            set("/lastTimestamp").map_or_else(|| first.clone(), |t| age::since(Some(t), now)),
            match i(o, "/count") {
                0 => 1,
                count => count,
            },
        ),
    };
    let kind = s(o, "/involvedObject/kind").to_ascii_lowercase();
    let object = match s(o, "/involvedObject/name") {
        "" => kind,
        named => format!("{kind}/{named}"),
    };
    let either = |a: &str, b: &str| match s(o, a) {
        "" => s(o, b),
        set => set,
    };
    let source = match (
        either("/source/component", "/reportingComponent"),
        either("/source/host", "/reportingInstance"),
    ) {
        (component, "") => component.to_string(),
        (component, instance) => format!("{component}, {instance}"),
    };
    (
        vec![
            last,
            s(o, "/type").to_string(),
            s(o, "/reason").to_string(),
            object,
            s(o, "/message").trim().to_string(),
        ],
        vec![
            s(o, "/involvedObject/fieldPath").to_string(),
            source,
            first,
            count.to_string(),
            name,
        ],
    )
}

/// Renders a table (header unless `no_headers`) through kubectl's tab writer.
pub fn render(table: &Table, no_headers: bool) -> String {
    let mut text = String::new();
    if !no_headers {
        text.push_str(&table.header.join("\t"));
        text.push('\n');
    }
    for row in &table.rows {
        text.push_str(&row.join("\t"));
        text.push('\n');
    }
    super::tabwriter::TABLE.format(&text)
}

/// A string map of a JSON object, for callers that want the labels as a map.
pub fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
