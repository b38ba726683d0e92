//! `--audit-log-path`: one JSON line per request (who, what, answer, latency),
//! written by one task so request handlers never wait on the disk. Rotation,
//! groups-aware policies and trace ids come with the security issue (issue 5).

use std::path::Path;
use std::time::Duration;

use http::Method;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::admission::RequestContext;
use crate::error::{Error, Result};
use crate::rest::request::{self, Query, Route};

/// Lines buffered before new ones are dropped (and counted in the log).
const BUFFER: usize = 4096;

/// One audit line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// RFC 3339 time the answer was sent.
    pub timestamp: String,
    /// The authenticated user.
    pub user: String,
    /// Their groups.
    pub groups: Vec<String>,
    /// `get`, `list`, `create` ... for resource requests; the HTTP method otherwise.
    pub verb: String,
    /// The resource (`pods`, `deployments.apps`), empty for non-resource paths.
    pub resource: String,
    /// The subresource, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subresource: String,
    /// The namespace, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The object's name, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The request path (no query: it may carry selectors, never secrets, but keep lines short).
    pub request_uri: String,
    /// `rest` or `grpc`.
    pub protocol: &'static str,
    /// The HTTP status code answered.
    pub code: u16,
    /// Time to the response head, in milliseconds.
    pub latency_ms: u64,
}

/// What the server saw of one request and its answer.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// The HTTP method.
    pub method: &'a Method,
    /// The path.
    pub path: &'a str,
    /// The query string.
    pub query: Option<&'a str>,
    /// `rest` or `grpc`.
    pub protocol: &'static str,
    /// The HTTP status answered.
    pub code: u16,
    /// Time to the response head.
    pub latency: Duration,
}

/// Builds the line of one request (pure).
pub fn entry(ctx: &RequestContext, seen: &Observed<'_>, now: String) -> AuditEntry {
    let Observed {
        method,
        path,
        query,
        protocol,
        code,
        latency,
    } = *seen;
    let mut e = AuditEntry {
        timestamp: now,
        user: ctx.identity.user.clone(),
        groups: ctx.identity.groups.clone(),
        verb: method.as_str().to_ascii_lowercase(),
        resource: String::new(),
        subresource: String::new(),
        namespace: String::new(),
        name: String::new(),
        request_uri: path.to_string(),
        protocol,
        code,
        latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
    };
    if protocol == "grpc" {
        e.verb = path.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
        return e;
    }
    if let Ok(Route::Resource(r)) = request::route(method, path, &Query::parse(query)) {
        e.verb = r.verb.as_str().to_string();
        e.resource = r.resource.group_resource();
        e.subresource = r.subresource.unwrap_or_default();
        e.namespace = r.namespace.unwrap_or_default();
        e.name = r.name.unwrap_or_default();
    }
    e
}

/// The audit sink.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Vec<u8>>,
}

impl AuditLog {
    /// Opens (appends to) `path` and starts the writer task, which flushes and ends
    /// on `shutdown`.
    pub async fn open(path: &Path, shutdown: CancellationToken) -> Result<Self> {
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .map_err(|e| Error::Startup(format!("--audit-log-path {}: {e}", path.display())))?;
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(BUFFER);
        tokio::spawn(
            async move {
                loop {
                    let line = tokio::select! {
                        line = rx.recv() => line,
                        () = shutdown.cancelled() => None,
                    };
                    let Some(line) = line else { break };
                    if let Err(e) = file.write_all(&line).await {
                        tracing::warn!(error = %e, "audit write failed");
                    }
                }
                // Drain what is queued, then flush.
                while let Ok(line) = rx.try_recv() {
                    let _ = file.write_all(&line).await;
                }
                let _ = file.flush().await;
            }
            .instrument(tracing::info_span!("audit")),
        );
        Ok(AuditLog { tx })
    }

    /// Queues one line; drops it (with a warning) when the writer is far behind.
    pub fn record(&self, entry: &AuditEntry) {
        let mut line = serde_json::to_vec(entry).unwrap_or_default();
        line.push(b'\n');
        if self.tx.try_send(line).is_err() {
            tracing::warn!("audit log behind; a line was dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_pki::Identity;

    #[test]
    fn lines_name_user_verb_and_resource() {
        let ctx = RequestContext::new(Identity::new("bob", ["devs"]));
        let seen =
            |method: &'static Method, path: &'static str, query, protocol, latency| Observed {
                method,
                path,
                query,
                protocol,
                code: 200,
                latency,
            };
        let e = entry(
            &ctx,
            &seen(
                &Method::DELETE,
                "/apis/apps/v1/namespaces/a/deployments/web",
                None,
                "rest",
                Duration::from_millis(7),
            ),
            "2026-01-02T03:04:05Z".into(),
        );
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"timestamp": "2026-01-02T03:04:05Z", "user": "bob", "groups": ["devs"],
                "verb": "delete", "resource": "deployments.apps", "namespace": "a", "name": "web",
                "requestUri": "/apis/apps/v1/namespaces/a/deployments/web", "protocol": "rest",
                "code": 200, "latencyMs": 7})
        );
        let w = entry(
            &ctx,
            &seen(
                &Method::GET,
                "/api/v1/pods",
                Some("watch=1"),
                "rest",
                Duration::ZERO,
            ),
            String::new(),
        );
        assert_eq!((w.verb.as_str(), w.resource.as_str()), ("watch", "pods"));
        let g = entry(
            &ctx,
            &seen(
                &Method::POST,
                "/rudder.api.v1.Api/Create",
                None,
                "grpc",
                Duration::ZERO,
            ),
            String::new(),
        );
        assert_eq!(g.verb, "create");
        let v = entry(
            &ctx,
            &seen(&Method::GET, "/version", None, "rest", Duration::ZERO),
            String::new(),
        );
        assert_eq!((v.verb.as_str(), v.resource.as_str()), ("get", ""));
    }
}
