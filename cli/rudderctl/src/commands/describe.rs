//! `rudderctl describe`: kubectl's describe pages for pods, deployments, replica
//! sets, services, nodes and namespaces, a generic page for other kinds, and the
//! object's events (listed with kubectl's `involvedObject` field selector).
//!
//! Pages are written as kubectl's `PrefixWriter` writes them (`\t`-separated cells,
//! two spaces per level) and aligned by the same tab writer, so sections line up as
//! kubectl's do.

use clap::Args;
use rudder_api::resource::{self, ResourceInfo};
use rudder_client::ListParams;
use serde_json::Value;

use super::{Target, api, name_of, parse_targets};
use crate::error::{Reported, client_error_line};
use crate::output::age;
use crate::output::columns::{format_endpoints, format_label_selector};
use crate::output::tabwriter::DESCRIBE;
use crate::session::Session;

/// `describe` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct DescribeArgs {
    /// TYPE [NAME_PREFIX...] or TYPE/NAME.
    pub resources: Vec<String>,
    /// Only objects matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Across all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Show the object's events.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub show_events: bool,
}

/// Runs `describe`.
pub async fn run(args: DescribeArgs, session: &mut Session<'_>) -> anyhow::Result<()> {
    let targets = parse_targets(&args.resources)?;
    if targets.is_empty() {
        anyhow::bail!(
            "You must specify the type of resource to describe. Use \"rudderctl api-resources\" for a complete list of supported resources."
        );
    }
    let namespace = session.namespace()?;
    let now = session.io.now();
    let mut failed = false;
    let mut pages = Vec::new();
    for Target { info, names } in targets {
        let ns = (info.namespaced && !args.all_namespaces).then(|| namespace.clone());
        let api = api(session, info, ns.as_deref())?;
        let mut objects = Vec::new();
        if names.is_empty() || args.selector.is_some() {
            let params = ListParams {
                label_selector: args.selector.clone(),
                ..Default::default()
            };
            let items = api.list(&params).await?.items;
            // kubectl describe TYPE PREFIX matches names by prefix.
            objects.extend(items.into_iter().map(|o| o.0).filter(|o| {
                names.is_empty() || names.iter().any(|n| name_of(o).starts_with(n.as_str()))
            }));
        } else {
            for name in &names {
                match api.get(name).await {
                    Ok(o) => objects.push(o.0),
                    Err(err) => {
                        session.eprint(&format!("{}\n", client_error_line(&err)));
                        failed = true;
                    }
                }
            }
        }
        for object in objects {
            let events = if args.show_events {
                object_events(session, &object).await.unwrap_or_default()
            } else {
                Vec::new()
            };
            let related = related_objects(session, info, &object)
                .await
                .unwrap_or_default();
            pages.push(describe(
                info,
                &object,
                &related,
                args.show_events.then_some(events.as_slice()),
                now,
            ));
        }
    }
    if pages.is_empty() && !failed {
        session.eprint(&format!("No resources found in {namespace} namespace.\n"));
    }
    session.print(&pages.join("\n\n"));
    if !pages.is_empty() {
        session.print("\n");
    }
    if failed {
        return Err(Reported.into());
    }
    Ok(())
}

/// The events of one object, oldest first, through kubectl's field selector.
async fn object_events(session: &mut Session<'_>, object: &Value) -> anyhow::Result<Vec<Value>> {
    let events =
        resource::by_plural("", "events").ok_or_else(|| anyhow::anyhow!("no events resource"))?;
    let ns = s(object, "/metadata/namespace");
    // Events about cluster-scoped objects may live in any namespace.
    let api = api(session, events, (!ns.is_empty()).then_some(ns))?;
    let mut selector = format!("involvedObject.name={}", name_of(object));
    if !ns.is_empty() {
        selector.push_str(&format!(",involvedObject.namespace={ns}"));
    }
    let uid = s(object, "/metadata/uid");
    if !uid.is_empty() {
        selector.push_str(&format!(",involvedObject.uid={uid}"));
    }
    let list = api.list(&ListParams::default().fields(&selector)).await?;
    let mut items: Vec<Value> = list.items.into_iter().map(|o| o.0).collect();
    items.sort_by_key(|e| last_seen(e).unwrap_or(0));
    Ok(items)
}

/// Objects a page mentions: a deployment's replica sets, a namespace's nothing.
async fn related_objects(
    session: &mut Session<'_>,
    info: &ResourceInfo,
    object: &Value,
) -> anyhow::Result<Vec<Value>> {
    if info.kind == "Service" {
        // The Endpoints of the same name give the `Endpoints:` lines.
        let Some(endpoints) = resource::by_plural("", "endpoints") else {
            return Ok(Vec::new());
        };
        let ns = s(object, "/metadata/namespace").to_string();
        let api = api(session, endpoints, Some(ns.as_str()))?;
        return Ok(api
            .get_opt(name_of(object))
            .await?
            .into_iter()
            .map(|o| o.0)
            .collect());
    }
    if info.kind != "Deployment" {
        return Ok(Vec::new());
    }
    let Some(rs) = resource::by_plural("apps", "replicasets") else {
        return Ok(Vec::new());
    };
    let ns = s(object, "/metadata/namespace").to_string();
    let api = api(session, rs, Some(ns.as_str()))?;
    let uid = s(object, "/metadata/uid");
    let items = api.list(&ListParams::default()).await?.items;
    Ok(items
        .into_iter()
        .map(|o| o.0)
        .filter(|rs| {
            arr(rs, "/metadata/ownerReferences").iter().any(|r| {
                s(r, "/uid") == uid && r.get("controller").and_then(Value::as_bool) == Some(true)
            })
        })
        .collect())
}

fn last_seen(event: &Value) -> Option<i64> {
    [
        "/lastTimestamp",
        "/eventTime",
        "/firstTimestamp",
        "/metadata/creationTimestamp",
    ]
    .iter()
    .find_map(|p| event.pointer(p).and_then(age::parse_timestamp))
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn i(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// A probe as kubectl's `DescribeProbe` words it.
fn describe_probe(probe: &Value) -> String {
    let attrs = format!(
        "delay={}s timeout={}s period={}s #success={} #failure={}",
        i(probe, "/initialDelaySeconds"),
        i(probe, "/timeoutSeconds"),
        i(probe, "/periodSeconds"),
        i(probe, "/successThreshold"),
        i(probe, "/failureThreshold")
    );
    let port = |v: Option<&Value>| v.map(crate::output::jsonpath::display).unwrap_or_default();
    if let Some(exec) = probe.get("exec") {
        let command: Vec<&str> = arr(exec, "/command")
            .iter()
            .map(|c| c.as_str().unwrap_or_default())
            .collect();
        format!("exec [{}] {attrs}", command.join(" "))
    } else if let Some(get) = probe.get("httpGet") {
        let scheme = s(get, "/scheme").to_lowercase();
        let host = s(get, "/host");
        let port = port(get.get("port"));
        let host = match (host.contains(':'), port.is_empty()) {
            (_, true) => host.to_string(),
            (true, false) => format!("[{host}]:{port}"),
            (false, false) => format!("{host}:{port}"),
        };
        let path = s(get, "/path");
        let url = if scheme.is_empty() {
            format!("//{host}{path}")
        } else {
            format!("{scheme}://{host}{path}")
        };
        format!("http-get {url} {attrs}")
    } else if let Some(tcp) = probe.get("tcpSocket") {
        format!(
            "tcp-socket {}:{} {attrs}",
            s(tcp, "/host"),
            port(tcp.get("port"))
        )
    } else if let Some(grpc) = probe.get("grpc") {
        format!(
            "grpc <pod>:{} {} {attrs}",
            i(grpc, "/port"),
            s(grpc, "/service")
        )
    } else {
        format!("unknown {attrs}")
    }
}

fn arr<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn or_none(text: &str) -> &str {
    if text.is_empty() { "<none>" } else { text }
}

/// kubectl's `PrefixWriter`: lines of `\t`-separated cells, two spaces per level.
#[derive(Default)]
struct Page {
    text: String,
}

impl Page {
    fn line(&mut self, level: usize, text: &str) {
        for _ in 0..level {
            self.text.push_str("  ");
        }
        self.text.push_str(text);
        self.text.push('\n');
    }

    /// `Title:\tvalue`.
    fn field(&mut self, level: usize, title: &str, value: &str) {
        self.line(level, &format!("{title}:\t{value}"));
    }

    /// kubectl's multi-line label/annotation map: first pair beside the title, the
    /// rest in the value column.
    fn map(&mut self, level: usize, title: &str, map: Option<&Value>, annotations: bool) {
        let pairs: Vec<(String, String)> = map
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    // kubectl never shows the applied configuration it keeps.
                    .filter(|(k, _)| !annotations || k.as_str() != super::apply::LAST_APPLIED)
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        if pairs.is_empty() {
            self.field(level, title, "<none>");
            return;
        }
        for (idx, (k, v)) in pairs.iter().enumerate() {
            let pair = if annotations {
                let mut value = v.trim_end().to_string();
                if value.chars().count() > 140 {
                    value = value.chars().take(137).collect::<String>() + "...";
                }
                format!("{k}: {value}")
            } else {
                format!("{k}={v}")
            };
            if idx == 0 {
                self.field(level, title, &pair);
            } else {
                // kubectl writes the continuation without the level's indent.
                self.line(0, &format!("\t{pair}"));
            }
        }
    }

    fn finish(self) -> String {
        DESCRIBE.format(self.text.trim_end_matches('\n'))
    }
}

/// The page of one object (pure; `events` None when `--show-events=false`).
pub fn describe(
    info: &ResourceInfo,
    o: &Value,
    related: &[Value],
    events: Option<&[Value]>,
    now: i64,
) -> String {
    let mut p = Page::default();
    p.field(0, "Name", s(o, "/metadata/name"));
    if info.namespaced {
        p.field(0, "Namespace", s(o, "/metadata/namespace"));
    }
    match info.kind {
        "Pod" => describe_pod(&mut p, o),
        "Deployment" => describe_deployment(&mut p, o, related),
        "ReplicaSet" => describe_replica_set(&mut p, o),
        "Service" => describe_service(&mut p, o, related.first()),
        "Node" => describe_node(&mut p, o),
        "Namespace" => {
            p.map(0, "Labels", o.pointer("/metadata/labels"), false);
            p.map(0, "Annotations", o.pointer("/metadata/annotations"), true);
            p.field(0, "Status", s(o, "/status/phase"));
            // No quota or limit-range lines: the server serves neither resource,
            // and kubectl leaves them out then. kubectl shows no events here.
            return p.finish();
        }
        "ConfigMap" => describe_config_map(&mut p, o),
        "Secret" => {
            describe_secret(&mut p, o);
            // kubectl shows no events for secrets.
            return p.finish();
        }
        _ => describe_generic(&mut p, o),
    }
    if let Some(events) = events {
        write_events(&mut p, events, now);
    }
    p.finish()
}

fn created(p: &mut Page, o: &Value) {
    let ts = o
        .pointer("/metadata/creationTimestamp")
        .and_then(age::rfc1123)
        .unwrap_or_else(|| "<unknown>".to_string());
    p.field(0, "CreationTimestamp", &ts);
}

fn controlled_by(p: &mut Page, o: &Value) {
    if let Some(owner) = arr(o, "/metadata/ownerReferences")
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
    {
        p.field(
            0,
            "Controlled By",
            &format!("{}/{}", s(owner, "/kind"), s(owner, "/name")),
        );
    }
}

fn describe_pod(p: &mut Page, o: &Value) {
    if let Some(priority) = o.pointer("/spec/priority").and_then(Value::as_i64) {
        p.field(0, "Priority", &priority.to_string());
    }
    let sa = s(o, "/spec/serviceAccountName");
    p.field(
        0,
        "Service Account",
        if sa.is_empty() { "default" } else { sa },
    );
    let node = s(o, "/spec/nodeName");
    let host_ip = s(o, "/status/hostIP");
    let node = match (node, host_ip) {
        ("", _) => "<none>".to_string(),
        (n, "") => n.to_string(),
        (n, ip) => format!("{n}/{ip}"),
    };
    p.field(0, "Node", &node);
    if let Some(start) = o.pointer("/status/startTime").and_then(age::rfc1123) {
        p.field(0, "Start Time", &start);
    }
    p.map(0, "Labels", o.pointer("/metadata/labels"), false);
    p.map(0, "Annotations", o.pointer("/metadata/annotations"), true);
    if let Some(ts) = o
        .pointer("/metadata/deletionTimestamp")
        .and_then(age::rfc1123)
    {
        p.field(0, "Status", &format!("Terminating (lasts {})", ts));
    } else {
        p.field(0, "Status", s(o, "/status/phase"));
    }
    if !s(o, "/status/reason").is_empty() {
        p.field(0, "Reason", s(o, "/status/reason"));
    }
    if !s(o, "/status/message").is_empty() {
        p.field(0, "Message", s(o, "/status/message"));
    }
    p.field(0, "IP", s(o, "/status/podIP"));
    let ips = arr(o, "/status/podIPs");
    if ips.is_empty() {
        p.field(0, "IPs", "<none>");
    } else {
        p.line(0, "IPs:");
        for ip in ips {
            p.field(1, "IP", s(ip, "/ip"));
        }
    }
    controlled_by(p, o);
    let statuses = arr(o, "/status/containerStatuses");
    containers(
        p,
        0,
        "Containers",
        arr(o, "/spec/containers"),
        Some(statuses),
        false,
    );
    let conditions = arr(o, "/status/conditions");
    if !conditions.is_empty() {
        p.line(0, "Conditions:");
        p.line(1, "Type\tStatus");
        for c in conditions {
            p.line(1, &format!("{} \t{} ", s(c, "/type"), s(c, "/status")));
        }
    }
    volumes(p, 0, o.pointer("/spec/volumes"));
    let qos = pod_qos(o);
    p.field(0, "QoS Class", qos);
    p.map(0, "Node-Selectors", o.pointer("/spec/nodeSelector"), false);
    tolerations(p, o);
}

/// The QoS class the status carries, else upstream's rule on requests/limits.
fn pod_qos(o: &Value) -> &str {
    let qos = s(o, "/status/qosClass");
    if !qos.is_empty() {
        return qos;
    }
    let containers = arr(o, "/spec/containers");
    let any = containers.iter().any(|c| {
        c.pointer("/resources/requests")
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
            || c.pointer("/resources/limits")
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty())
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        ["cpu", "memory"].iter().all(|r| {
            let limit = limits.and_then(|l| l.get(*r));
            limit.is_some()
                && requests
                    .and_then(|q| q.get(*r))
                    .is_none_or(|q| Some(q) == limit)
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn tolerations(p: &mut Page, o: &Value) {
    let list = arr(o, "/spec/tolerations");
    if list.is_empty() {
        p.field(0, "Tolerations", "<none>");
        return;
    }
    for (idx, t) in list.iter().enumerate() {
        let mut text = s(t, "/key").to_string();
        let value = s(t, "/value");
        if !value.is_empty() {
            text.push_str(&format!("={value}"));
        }
        let effect = s(t, "/effect");
        if !effect.is_empty() {
            text.push_str(&format!(":{effect}"));
        }
        if s(t, "/operator") == "Exists" && value.is_empty() {
            text.push_str(" op=Exists");
        }
        if let Some(secs) = t.get("tolerationSeconds").and_then(Value::as_i64) {
            text.push_str(&format!(" for {secs}s"));
        }
        if idx == 0 {
            p.field(0, "Tolerations", &text);
        } else {
            p.line(0, &format!("\t{text}"));
        }
    }
}

fn volumes(p: &mut Page, level: usize, list: Option<&Value>) {
    let list = list
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if list.is_empty() {
        p.field(level, "Volumes", "<none>");
        return;
    }
    p.line(level, "Volumes:");
    for v in list {
        p.line(level + 1, &format!("{}:", s(v, "/name")));
        let source = v
            .as_object()
            .and_then(|m| m.iter().find(|(k, _)| k.as_str() != "name"))
            .map(|(k, _)| k.as_str())
            .unwrap_or("");
        if source == "projected" {
            projected(p, level + 2, v.get("projected"));
        } else {
            p.field(level + 2, "Type", source);
        }
    }
}

/// A projected volume as kubectl describes it: one line or two per source.
fn projected(p: &mut Page, level: usize, volume: Option<&Value>) {
    p.field(
        level,
        "Type",
        "Projected (a volume that contains injected data from multiple sources)",
    );
    let sources = volume
        .and_then(|v| v.get("sources"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let optional = |v: &Value| v.get("optional").and_then(Value::as_bool).unwrap_or(false);
    for source in sources {
        if let Some(secret) = source.get("secret") {
            p.field(level, "SecretName", s(secret, "/name"));
            p.field(level, "Optional", &optional(secret).to_string());
        } else if source.get("downwardAPI").is_some() {
            p.field(level, "DownwardAPI", "true");
        } else if let Some(cm) = source.get("configMap") {
            p.field(level, "ConfigMapName", s(cm, "/name"));
            p.field(level, "Optional", &optional(cm).to_string());
        } else if let Some(token) = source.get("serviceAccountToken") {
            let seconds = token
                .get("expirationSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(3600);
            p.field(level, "TokenExpirationSeconds", &seconds.to_string());
        }
    }
}

/// The containers section of a pod or pod template.
fn containers(
    p: &mut Page,
    level: usize,
    title: &str,
    list: &[Value],
    statuses: Option<&[Value]>,
    template: bool,
) {
    if list.is_empty() {
        p.field(level, title, "<none>");
        return;
    }
    p.line(level, &format!("{title}:"));
    // kubectl writes a template's container names one space in, and its fields one
    // level shallower than a pod's.
    let body = if template { level } else { level + 1 };
    for c in list {
        let name = s(c, "/name");
        if template {
            p.line(level, &format!(" {name}:"));
        } else {
            p.line(level + 1, &format!("{name}:"));
        }
        let status = statuses.and_then(|st| st.iter().find(|x| s(x, "/name") == name));
        if let Some(st) = status {
            let id = s(st, "/containerID");
            if !id.is_empty() {
                p.field(body + 1, "Container ID", id);
            }
        }
        p.field(body + 1, "Image", s(c, "/image"));
        if let Some(st) = status {
            p.field(body + 1, "Image ID", s(st, "/imageID"));
        }
        let ports = arr(c, "/ports");
        if ports.is_empty() {
            p.field(body + 1, "Port", "<none>");
            p.field(body + 1, "Host Port", "<none>");
        } else {
            let fmt = |key: &str| {
                ports
                    .iter()
                    .map(|port| {
                        let proto = match s(port, "/protocol") {
                            "" => "TCP",
                            x => x,
                        };
                        format!("{}/{proto}", i(port, key))
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            p.field(body + 1, "Port", &fmt("/containerPort"));
            p.field(body + 1, "Host Port", &fmt("/hostPort"));
        }
        let command = arr(c, "/command");
        if !command.is_empty() {
            p.line(body + 1, "Command:");
            for part in command {
                p.line(body + 2, part.as_str().unwrap_or_default());
            }
        }
        let args = arr(c, "/args");
        if !args.is_empty() {
            p.line(body + 1, "Args:");
            for part in args {
                p.line(body + 2, part.as_str().unwrap_or_default());
            }
        }
        if let Some(st) = status {
            state(p, body + 1, "State", st.get("state"));
            if st
                .pointer("/lastState")
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty())
            {
                state(p, body + 1, "Last State", st.get("lastState"));
            }
            let ready = if st.get("ready").and_then(Value::as_bool) == Some(true) {
                "True"
            } else {
                "False"
            };
            p.field(body + 1, "Ready", ready);
            p.field(
                body + 1,
                "Restart Count",
                &i(st, "/restartCount").to_string(),
            );
        }
        for kind in ["limits", "requests"] {
            if let Some(map) = c
                .pointer(&format!("/resources/{kind}"))
                .and_then(Value::as_object)
                .filter(|m| !m.is_empty())
            {
                let title = if kind == "limits" {
                    "Limits"
                } else {
                    "Requests"
                };
                p.line(body + 1, &format!("{title}:"));
                for (k, v) in map {
                    p.field(body + 2, k, &crate::output::jsonpath::display(v));
                }
            }
        }
        for (key, title) in [
            ("livenessProbe", "Liveness"),
            ("readinessProbe", "Readiness"),
            ("startupProbe", "Startup"),
        ] {
            if let Some(probe) = c.get(key).filter(|v| v.is_object()) {
                p.field(body + 1, title, &describe_probe(probe));
            }
        }
        let env = arr(c, "/env");
        if env.is_empty() {
            p.field(body + 1, "Environment", "<none>");
        } else {
            p.line(body + 1, "Environment:");
            for e in env {
                let value = match e.get("value").and_then(Value::as_str) {
                    Some(v) => v.to_string(),
                    None if e.get("valueFrom").is_some() => "<set from a reference>".to_string(),
                    None => String::new(),
                };
                p.field(body + 2, s(e, "/name"), &value);
            }
        }
        let mounts = arr(c, "/volumeMounts");
        if mounts.is_empty() {
            p.field(body + 1, "Mounts", "<none>");
        } else {
            p.line(body + 1, "Mounts:");
            for m in mounts {
                let mode = if m.get("readOnly").and_then(Value::as_bool) == Some(true) {
                    "ro"
                } else {
                    "rw"
                };
                p.line(
                    body + 2,
                    &format!("{} from {} ({mode})", s(m, "/mountPath"), s(m, "/name")),
                );
            }
        }
    }
}

fn state(p: &mut Page, level: usize, title: &str, state: Option<&Value>) {
    let state = state.cloned().unwrap_or(Value::Null);
    if let Some(running) = state.get("running") {
        p.field(level, title, "Running");
        if let Some(ts) = running.get("startedAt").and_then(age::rfc1123) {
            p.field(level + 1, "Started", &ts);
        }
    } else if let Some(waiting) = state.get("waiting") {
        p.field(level, title, "Waiting");
        if !s(waiting, "/reason").is_empty() {
            p.field(level + 1, "Reason", s(waiting, "/reason"));
        }
    } else if let Some(t) = state.get("terminated") {
        p.field(level, title, "Terminated");
        if !s(t, "/reason").is_empty() {
            p.field(level + 1, "Reason", s(t, "/reason"));
        }
        p.field(level + 1, "Exit Code", &i(t, "/exitCode").to_string());
        if let Some(ts) = t.get("startedAt").and_then(age::rfc1123) {
            p.field(level + 1, "Started", &ts);
        }
        if let Some(ts) = t.get("finishedAt").and_then(age::rfc1123) {
            p.field(level + 1, "Finished", &ts);
        }
    } else {
        p.field(level, title, "Waiting");
    }
}

fn pod_template(p: &mut Page, template: Option<&Value>) {
    let t = template.cloned().unwrap_or(Value::Null);
    p.line(0, "Pod Template:");
    p.map(1, "Labels", t.pointer("/metadata/labels"), false);
    if t.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
    {
        p.map(1, "Annotations", t.pointer("/metadata/annotations"), true);
    }
    let sa = s(&t, "/spec/serviceAccountName");
    if !sa.is_empty() {
        p.field(1, "Service Account", sa);
    }
    containers(p, 1, "Containers", arr(&t, "/spec/containers"), None, true);
    volumes(p, 1, t.pointer("/spec/volumes"));
    p.map(1, "Node-Selectors", t.pointer("/spec/nodeSelector"), false);
    let tol = arr(&t, "/spec/tolerations");
    p.field(
        1,
        "Tolerations",
        if tol.is_empty() { "<none>" } else { "<set>" },
    );
}

/// The "Pod Template:" section alone, as `rollout history --revision` prints it:
/// kubectl writes it unaligned, its columns still separated by tabs.
pub fn pod_template_page(template: &Value) -> String {
    let mut p = Page::default();
    pod_template(&mut p, Some(template));
    p.text
}

fn conditions(p: &mut Page, o: &Value) {
    let list = arr(o, "/status/conditions");
    if list.is_empty() {
        return;
    }
    p.line(0, "Conditions:");
    p.line(1, "Type\tStatus\tReason");
    p.line(1, "----\t------\t------");
    for c in list {
        p.line(
            1,
            &format!(
                "{}\t{}\t{}",
                s(c, "/type"),
                s(c, "/status"),
                s(c, "/reason")
            ),
        );
    }
}

fn describe_deployment(p: &mut Page, o: &Value, replica_sets: &[Value]) {
    created(p, o);
    p.map(0, "Labels", o.pointer("/metadata/labels"), false);
    p.map(0, "Annotations", o.pointer("/metadata/annotations"), true);
    p.field(
        0,
        "Selector",
        &format_label_selector(o.pointer("/spec/selector")),
    );
    let desired = o
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    p.field(
        0,
        "Replicas",
        &format!(
            "{desired} desired | {} updated | {} total | {} available | {} unavailable",
            i(o, "/status/updatedReplicas"),
            i(o, "/status/replicas"),
            i(o, "/status/availableReplicas"),
            i(o, "/status/unavailableReplicas")
        ),
    );
    let strategy = match s(o, "/spec/strategy/type") {
        "" => "RollingUpdate",
        t => t,
    };
    p.field(0, "StrategyType", strategy);
    p.field(
        0,
        "MinReadySeconds",
        &i(o, "/spec/minReadySeconds").to_string(),
    );
    if strategy == "RollingUpdate" {
        let value = |key: &str| match o.pointer(&format!("/spec/strategy/rollingUpdate/{key}")) {
            Some(v) => crate::output::jsonpath::display(v),
            None => "25%".to_string(),
        };
        p.field(
            0,
            "RollingUpdateStrategy",
            &format!(
                "{} max unavailable, {} max surge",
                value("maxUnavailable"),
                value("maxSurge")
            ),
        );
    }
    pod_template(p, o.pointer("/spec/template"));
    conditions(p, o);
    let revision = |v: &Value| {
        s(
            v,
            "/metadata/annotations/deployment.kubernetes.io~1revision",
        )
        .to_string()
    };
    let current = revision(o);
    let format_rs = |rs: &Value| {
        format!(
            "{} ({}/{} replicas created)",
            s(rs, "/metadata/name"),
            i(rs, "/status/replicas"),
            i(rs, "/spec/replicas")
        )
    };
    let (new, old): (Vec<&Value>, Vec<&Value>) = replica_sets
        .iter()
        .partition(|rs| !current.is_empty() && revision(rs) == current);
    let old_text = old
        .iter()
        .map(|rs| format_rs(rs))
        .collect::<Vec<_>>()
        .join(", ");
    // kubectl prints each line only when there are such replica sets (a Deployment
    // no controller has acted on has neither line).
    if !old.is_empty() || !new.is_empty() {
        p.field(0, "OldReplicaSets", or_none(&old_text));
        let new_text = new.first().map(|rs| format_rs(rs)).unwrap_or_default();
        p.field(0, "NewReplicaSet", or_none(&new_text));
    }
}

fn describe_replica_set(p: &mut Page, o: &Value) {
    p.field(
        0,
        "Selector",
        &format_label_selector(o.pointer("/spec/selector")),
    );
    p.map(0, "Labels", o.pointer("/metadata/labels"), false);
    p.map(0, "Annotations", o.pointer("/metadata/annotations"), true);
    controlled_by(p, o);
    p.field(
        0,
        "Replicas",
        &format!(
            "{} current / {} desired",
            i(o, "/status/replicas"),
            i(o, "/spec/replicas")
        ),
    );
    p.field(
        0,
        "Pods Status",
        &format!(
            "{} Running / 0 Waiting / 0 Succeeded / 0 Failed",
            i(o, "/status/readyReplicas")
        ),
    );
    pod_template(p, o.pointer("/spec/template"));
    conditions(p, o);
}

fn describe_service(p: &mut Page, o: &Value, endpoints: Option<&Value>) {
    p.map(0, "Labels", o.pointer("/metadata/labels"), false);
    p.map(0, "Annotations", o.pointer("/metadata/annotations"), true);
    let selector = crate::output::columns::format_labels(o.pointer("/spec/selector"));
    p.field(0, "Selector", &selector);
    let ty = match s(o, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    p.field(0, "Type", ty);
    let strings = |pointer: &str| -> String {
        arr(o, pointer)
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(",")
    };
    if let Some(policy) = o.pointer("/spec/ipFamilyPolicy").and_then(Value::as_str) {
        p.field(0, "IP Family Policy", policy);
    }
    p.field(0, "IP Families", or_none(&strings("/spec/ipFamilies")));
    p.field(0, "IP", s(o, "/spec/clusterIP"));
    p.field(0, "IPs", or_none(&strings("/spec/clusterIPs")));
    if !strings("/spec/externalIPs").is_empty() {
        p.field(0, "External IPs", &strings("/spec/externalIPs"));
    }
    for port in arr(o, "/spec/ports") {
        let name = match s(port, "/name") {
            "" => "<unset>",
            n => n,
        };
        let proto = match s(port, "/protocol") {
            "" => "TCP",
            x => x,
        };
        p.field(0, "Port", &format!("{name}\t{}/{proto}", i(port, "/port")));
        let target = port
            .get("targetPort")
            .map(crate::output::jsonpath::display)
            .unwrap_or_else(|| i(port, "/port").to_string());
        p.field(0, "TargetPort", &format!("{target}/{proto}"));
        if i(port, "/nodePort") != 0 {
            p.field(
                0,
                "NodePort",
                &format!("{name}\t{}/{proto}", i(port, "/nodePort")),
            );
        }
        p.field(0, "Endpoints", &endpoint_list(endpoints, s(port, "/name")));
    }
    let affinity = match s(o, "/spec/sessionAffinity") {
        "" => "None",
        a => a,
    };
    p.field(0, "Session Affinity", affinity);
    if let Some(policy) = o
        .pointer("/spec/externalTrafficPolicy")
        .and_then(Value::as_str)
    {
        p.field(0, "External Traffic Policy", policy);
    }
    if let Some(policy) = o
        .pointer("/spec/internalTrafficPolicy")
        .and_then(Value::as_str)
    {
        p.field(0, "Internal Traffic Policy", policy);
    }
}

/// `ip:port` of the ready addresses behind the service port named `port_name`,
/// three at most then `+ N more...`, as kubectl; `<none>` when there are none.
fn endpoint_list(endpoints: Option<&Value>, port_name: &str) -> String {
    let mut all = Vec::new();
    for subset in endpoints.map(|e| arr(e, "/subsets")).unwrap_or_default() {
        for port in arr(subset, "/ports") {
            if s(port, "/name") != port_name {
                continue;
            }
            for address in arr(subset, "/addresses") {
                all.push(format!("{}:{}", s(address, "/ip"), i(port, "/port")));
            }
        }
    }
    match all.len() {
        0 => "<none>".to_string(),
        1..=3 => all.join(","),
        n => format!("{} + {} more...", all[..3].join(","), n - 3),
    }
}

fn describe_node(p: &mut Page, o: &Value) {
    let roles: Vec<&str> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .collect()
        })
        .unwrap_or_default();
    p.field(0, "Roles", or_none(&roles.join(",")));
    p.map(0, "Labels", o.pointer("/metadata/labels"), false);
    p.map(0, "Annotations", o.pointer("/metadata/annotations"), true);
    created(p, o);
    let taints = arr(o, "/spec/taints");
    if taints.is_empty() {
        p.field(0, "Taints", "<none>");
    } else {
        for (idx, t) in taints.iter().enumerate() {
            let value = s(t, "/value");
            let text = if value.is_empty() {
                format!("{}:{}", s(t, "/key"), s(t, "/effect"))
            } else {
                format!("{}={value}:{}", s(t, "/key"), s(t, "/effect"))
            };
            if idx == 0 {
                p.field(0, "Taints", &text);
            } else {
                p.line(0, &format!("\t{text}"));
            }
        }
    }
    let unschedulable = o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true);
    p.field(
        0,
        "Unschedulable",
        if unschedulable { "true" } else { "false" },
    );
    let list = arr(o, "/status/conditions");
    p.line(0, "Conditions:");
    p.line(
        1,
        "Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage",
    );
    p.line(
        1,
        "----\t------\t-----------------\t------------------\t------\t-------",
    );
    for c in list {
        let time = |key: &str| c.get(key).and_then(age::rfc1123).unwrap_or_default();
        p.line(
            1,
            &format!(
                "{} \t{} \t{} \t{} \t{} \t{}",
                s(c, "/type"),
                s(c, "/status"),
                time("lastHeartbeatTime"),
                time("lastTransitionTime"),
                s(c, "/reason"),
                s(c, "/message")
            ),
        );
    }
    p.line(0, "Addresses:");
    for a in arr(o, "/status/addresses") {
        p.field(1, s(a, "/type"), s(a, "/address"));
    }
    for (title, key) in [("Capacity", "capacity"), ("Allocatable", "allocatable")] {
        if let Some(map) = o
            .pointer(&format!("/status/{key}"))
            .and_then(Value::as_object)
        {
            p.line(0, &format!("{title}:"));
            for (k, v) in map {
                p.field(1, k, &crate::output::jsonpath::display(v));
            }
        }
    }
    p.line(0, "System Info:");
    for (title, key) in [
        ("Machine ID", "machineID"),
        ("System UUID", "systemUUID"),
        ("Boot ID", "bootID"),
        ("Kernel Version", "kernelVersion"),
        ("OS Image", "osImage"),
        ("Operating System", "operatingSystem"),
        ("Architecture", "architecture"),
        ("Container Runtime Version", "containerRuntimeVersion"),
        ("Kubelet Version", "kubeletVersion"),
        ("Kube-Proxy Version", "kubeProxyVersion"),
    ] {
        p.field(1, title, s(o, &format!("/status/nodeInfo/{key}")));
    }
    if !s(o, "/spec/podCIDR").is_empty() {
        p.field(0, "PodCIDR", s(o, "/spec/podCIDR"));
    }
}

fn describe_config_map(p: &mut Page, o: &Value) {
    p.map(0, "Labels", o.pointer("/metadata/labels"), false);
    p.map(0, "Annotations", o.pointer("/metadata/annotations"), true);
    p.line(0, "");
    p.line(0, "Data");
    p.line(0, "====");
    if let Some(data) = o.get("data").and_then(Value::as_object) {
        for (k, v) in data {
            p.line(0, &format!("{k}:"));
            p.line(0, "----");
            p.line(0, v.as_str().unwrap_or_default());
            p.line(0, "");
        }
    }
    p.line(0, "");
    p.line(0, "BinaryData");
    p.line(0, "====");
    if let Some(data) = o.get("binaryData").and_then(Value::as_object) {
        for (k, v) in data {
            p.line(
                0,
                &format!("{k}: {} bytes", base64_len(v.as_str().unwrap_or_default())),
            );
        }
    }
    p.line(0, "");
}

/// The decoded length of base64 text (secret and binary data are base64 in JSON).
fn base64_len(text: &str) -> usize {
    let text = text.trim();
    let padding = text.chars().rev().take_while(|c| *c == '=').count();
    (text.len() / 4 * 3 + (text.len() % 4) * 3 / 4).saturating_sub(padding)
}

fn describe_secret(p: &mut Page, o: &Value) {
    p.map(0, "Labels", o.pointer("/metadata/labels"), false);
    p.map(0, "Annotations", o.pointer("/metadata/annotations"), true);
    p.line(0, "");
    let ty = match s(o, "/type") {
        "" => "Opaque",
        t => t,
    };
    p.field(0, "Type", ty);
    p.line(0, "");
    p.line(0, "Data");
    p.line(0, "====");
    if let Some(data) = o.get("data").and_then(Value::as_object) {
        for (k, v) in data {
            p.field(
                0,
                k,
                &format!("{} bytes", base64_len(v.as_str().unwrap_or_default())),
            );
        }
    }
}

/// Kinds without a page of their own: metadata, then the other top-level fields
/// as indented YAML.
fn describe_generic(p: &mut Page, o: &Value) {
    p.map(0, "Labels", o.pointer("/metadata/labels"), false);
    p.map(0, "Annotations", o.pointer("/metadata/annotations"), true);
    if s(o, "/kind") == "Endpoints" {
        p.line(0, "Subsets:");
        p.field(1, "Addresses", &format_endpoints(o));
        return;
    }
    if let Some(map) = o.as_object() {
        for (key, value) in map {
            if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            let mut title = key.clone();
            if let Some(first) = title.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            match value {
                Value::Object(_) | Value::Array(_) => {
                    p.line(0, &format!("{title}:"));
                    for line in crate::output::to_yaml(value).lines() {
                        p.line(1, line);
                    }
                }
                other => p.field(0, &title, &crate::output::jsonpath::display(other)),
            }
        }
    }
}

fn write_events(p: &mut Page, events: &[Value], now: i64) {
    if events.is_empty() {
        p.field(0, "Events", "<none>");
        return;
    }
    p.line(0, "Events:");
    p.line(1, "Type\tReason\tAge\tFrom\tMessage");
    p.line(1, "----\t------\t----\t----\t-------");
    for e in events {
        let first = ["/firstTimestamp", "/eventTime"]
            .iter()
            .find_map(|k| e.pointer(k).and_then(age::parse_timestamp));
        let last = last_seen(e);
        let age_of = |t: Option<i64>| {
            t.map(|t| age::human_duration(now - t))
                .unwrap_or_else(|| "<unknown>".to_string())
        };
        let count = i(e, "/count");
        let when = if count > 1 {
            format!("{} (x{count} over {})", age_of(last), age_of(first))
        } else {
            age_of(last)
        };
        let component = match s(e, "/source/component") {
            "" => s(e, "/reportingComponent"),
            c => c,
        };
        let host = s(e, "/source/host");
        let from = if host.is_empty() {
            component.to_string()
        } else {
            format!("{component}, {host}")
        };
        p.line(
            1,
            &format!(
                "{}\t{}\t{when}\t{from}\t{}",
                s(e, "/type"),
                s(e, "/reason"),
                s(e, "/message").trim()
            ),
        );
    }
}

/// Whether a resource has a page of its own (the rest use the generic page).
pub fn has_page(info: &ResourceInfo) -> bool {
    matches!(
        info.kind,
        "Pod"
            | "Deployment"
            | "ReplicaSet"
            | "Service"
            | "Node"
            | "Namespace"
            | "ConfigMap"
            | "Secret"
    )
}

#[cfg(test)]
mod tests;
