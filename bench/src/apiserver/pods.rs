//! The objects and paths the API server load is made of, and the bookkeeping of the
//! watch fan-out: pure, so the shapes and the arithmetic are unit-tested.

use std::collections::HashMap;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::Result;
use crate::stats::Latencies;

/// Label every pod of a run carries, so a person can find and delete them.
pub const APP_LABEL: &str = "rudder-bench";
/// Annotation the update phase rewrites on every PUT.
pub const SEQUENCE_ANNOTATION: &str = "rudder-bench/sequence";

/// `/api/v1/namespaces/<ns>/pods`.
pub fn pods_path(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods")
}

/// `/api/v1/namespaces/<ns>/pods/<name>`.
pub fn pod_path(namespace: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods/{name}")
}

/// A namespace object.
pub fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// `/api/v1/namespaces/<ns>/serviceaccounts`.
pub fn service_accounts_path(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/serviceaccounts")
}

/// The `default` ServiceAccount the serviceaccount controller makes in every
/// namespace, and that admission looks up for every pod created there.
pub fn default_service_account(namespace: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ServiceAccount",
           "metadata": {"name": "default", "namespace": namespace}})
}

/// A small pod as a Deployment would stamp it: one container with requests, labels,
/// no node. About 1 KiB once the server has defaulted it.
pub fn pod(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": APP_LABEL, "tier": "bench"},
        },
        "spec": {
            "containers": [{
                "name": "app",
                "image": "registry.k8s.io/pause:3.10",
                "ports": [{"containerPort": 8080, "name": "http"}],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
            }],
        },
    })
}

/// The pods get and update work on: `pool-00000` ...
pub fn pool_name(i: usize) -> String {
    format!("pool-{i:05}")
}

/// The pods the list phases read: `list-00000` ...
pub fn list_name(i: usize) -> String {
    format!("list-{i:05}")
}

/// `object` with the sequence annotation set to `sequence` (the change of an update).
pub fn with_sequence(mut object: Value, sequence: u64) -> Value {
    let metadata = &mut object["metadata"];
    if !metadata["annotations"].is_object() {
        metadata["annotations"] = json!({});
    }
    metadata["annotations"][SEQUENCE_ANNOTATION] = json!(sequence.to_string());
    object
}

/// `metadata.resourceVersion` of an object or list.
pub fn resource_version(object: &Value) -> Option<&str> {
    object["metadata"]["resourceVersion"]
        .as_str()
        .filter(|rv| !rv.is_empty())
}

/// How many items a list answer holds, without building them.
pub fn count_items(body: &[u8]) -> Result<usize, String> {
    #[derive(Deserialize)]
    struct List {
        items: Vec<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<List>(body)
        .map(|list| list.items.len())
        .map_err(|e| format!("not a list: {e}"))
}

/// One line of a watch stream, as far as the fan-out needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK`, `ERROR`.
    pub kind: String,
    /// `metadata.name` of the object (empty for an ERROR's Status).
    pub name: String,
}

/// Parses one newline-delimited watch event.
pub fn parse_event(line: &[u8]) -> Result<WatchEvent, String> {
    #[derive(Deserialize)]
    struct Line {
        #[serde(rename = "type")]
        kind: String,
        object: Object,
    }
    #[derive(Deserialize)]
    struct Object {
        #[serde(default)]
        metadata: Metadata,
        #[serde(default)]
        message: String,
    }
    #[derive(Deserialize, Default)]
    struct Metadata {
        #[serde(default)]
        name: String,
    }
    let line: Line = serde_json::from_slice(line).map_err(|e| {
        format!(
            "watch line {:?}: {e}",
            String::from_utf8_lossy(&line[..line.len().min(120)])
        )
    })?;
    if line.kind == "ERROR" {
        return Err(format!("watch ERROR event: {}", line.object.message));
    }
    Ok(WatchEvent {
        kind: line.kind,
        name: line.object.metadata.name,
    })
}

/// Cuts a byte stream into lines as chunks of it arrive (a line may span chunks).
#[derive(Debug, Default)]
pub struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    /// The complete lines `chunk` ends, without their newline; empty lines skipped.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..end]);
            let line = std::mem::take(&mut self.partial);
            if !line.iter().all(u8::is_ascii_whitespace) {
                lines.push(line);
            }
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
        lines
    }
}

/// What the watchers' receipts add up to against the writes' acknowledgements.
#[derive(Debug)]
pub struct Delivery {
    /// Receipt minus acknowledgement, per (watcher, write) pair received.
    pub latencies: Latencies,
    /// Pairs whose event came before the write's answer (recorded as 0).
    pub before_ack: u64,
    /// Pairs never received: each watcher should see every acknowledged write.
    pub missed: u64,
    /// The last receipt of all.
    pub last_receipt: Option<Instant>,
}

/// Joins each watcher's receipts (object name, when it arrived) with the writes'
/// acknowledgements. Receipts of objects no write acknowledged are not counted;
/// a write seen twice by one watcher counts once.
pub fn delivery(
    acks: &HashMap<String, Instant>,
    receipts_per_watcher: &[Vec<(String, Instant)>],
) -> Result<Delivery> {
    let mut latencies = Latencies::new()?;
    let (mut before_ack, mut received) = (0, 0u64);
    let mut last_receipt: Option<Instant> = None;
    for receipts in receipts_per_watcher {
        let mut seen = std::collections::HashSet::new();
        for (name, at) in receipts {
            let Some(acked) = acks.get(name) else {
                continue;
            };
            if !seen.insert(name.as_str()) {
                continue;
            }
            received += 1;
            last_receipt = Some(last_receipt.map_or(*at, |last| last.max(*at)));
            match at.checked_duration_since(*acked) {
                Some(latency) => latencies.record(latency),
                None => {
                    before_ack += 1;
                    latencies.record(std::time::Duration::ZERO);
                }
            }
        }
    }
    let expected = acks.len() as u64 * receipts_per_watcher.len() as u64;
    Ok(Delivery {
        latencies,
        before_ack,
        missed: expected.saturating_sub(received),
        last_receipt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pods_and_paths() {
        let p = pod("bench", &pool_name(7));
        assert_eq!(p["metadata"]["name"], "pool-00007");
        assert_eq!(p["metadata"]["namespace"], "bench");
        assert_eq!(p["spec"]["containers"][0]["name"], "app");
        assert_eq!(pods_path("bench"), "/api/v1/namespaces/bench/pods");
        assert_eq!(
            pod_path("bench", &list_name(12)),
            "/api/v1/namespaces/bench/pods/list-00012"
        );
        assert_eq!(namespace("x")["kind"], "Namespace");
    }

    #[test]
    fn updates_rewrite_one_annotation_and_keep_the_rest() {
        let mut p = pod("bench", "a");
        p["metadata"]["resourceVersion"] = json!("41");
        let once = with_sequence(p, 1);
        let twice = with_sequence(once, 2);
        assert_eq!(twice["metadata"]["annotations"][SEQUENCE_ANNOTATION], "2");
        assert_eq!(resource_version(&twice), Some("41"));
        assert_eq!(twice["metadata"]["labels"]["app"], APP_LABEL);
        assert_eq!(resource_version(&json!({"metadata": {}})), None);
    }

    #[test]
    fn list_items_are_counted() {
        let body = br#"{"kind":"PodList","metadata":{"resourceVersion":"9"},"items":[{"a":1},{"b":[2]},{}]}"#;
        assert_eq!(count_items(body), Ok(3));
        assert!(count_items(b"{\"kind\":\"Status\"}").is_err());
    }

    #[test]
    fn events_parse_and_errors_are_errors() {
        let line = br#"{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"w-1","resourceVersion":"5"}}}"#;
        assert_eq!(
            parse_event(line).unwrap(),
            WatchEvent {
                kind: "ADDED".into(),
                name: "w-1".into()
            }
        );
        let error = br#"{"type":"ERROR","object":{"kind":"Status","message":"too old resource version","code":410}}"#;
        assert!(
            parse_event(error)
                .unwrap_err()
                .contains("too old resource version")
        );
        assert!(parse_event(b"{not json").is_err());
    }

    #[test]
    fn lines_span_chunks() {
        let mut lines = Lines::default();
        assert!(lines.push(b"{\"a\":").is_empty());
        assert_eq!(lines.push(b"1}\n{\"b\""), vec![b"{\"a\":1}".to_vec()]);
        assert_eq!(
            lines.push(b":2}\n\n{\"c\":3}\n"),
            vec![b"{\"b\":2}".to_vec(), b"{\"c\":3}".to_vec()]
        );
        assert!(lines.push(b"").is_empty());
    }

    #[test]
    fn delivery_joins_receipts_with_acknowledgements() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let acks: HashMap<String, Instant> =
            [("a".to_string(), ms(10)), ("b".to_string(), ms(20))].into();
        let watchers = vec![
            // both, one twice, one unrelated name
            vec![
                ("a".to_string(), ms(12)),
                ("a".to_string(), ms(13)),
                ("zzz".to_string(), ms(14)),
                ("b".to_string(), ms(25)),
            ],
            // "b" arrived before its write was answered; "a" never arrived
            vec![("b".to_string(), ms(19))],
        ];
        let d = delivery(&acks, &watchers).unwrap();
        assert_eq!(d.latencies.count(), 3);
        assert_eq!((d.before_ack, d.missed), (1, 1));
        assert_eq!(d.last_receipt, Some(ms(25)));
        let summary = d.latencies.summary();
        assert_eq!(summary.max_us / 1000, 5);
        assert_eq!(summary.p50_us / 1000, 2);
    }
}
