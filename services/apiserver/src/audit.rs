//! `--audit-log-path`: one JSON line per request (who, groups, what, answer,
//! latency, trace id; 401s with the user the credential claimed, or none),
//! written by one task so request handlers never wait on the disk, rotated by
//! size (`--audit-log-maxsize` MB, `--audit-log-maxbackup` files kept).
//!
//! Lines carry metadata only: never a request or response body, never a header,
//! so no secret value or token can reach the file.

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
    /// The identity the request ran as, when it impersonated one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impersonated_user: Option<UserRecord>,
    /// The W3C trace id the caller sent, joining this line to its trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Why authentication failed (401 lines only); never the credential itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_error: Option<String>,
}

/// A user and groups, for impersonation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRecord {
    /// User name.
    pub username: String,
    /// Groups.
    pub groups: Vec<String>,
}

/// The line of a request refused with 401: the user the credential claimed (a
/// token of a deleted service account names it), or none.
pub fn failed_entry(
    failure: &crate::auth::authn::AuthnFailure,
    seen: &Observed<'_>,
    now: String,
) -> AuditEntry {
    let nobody = RequestContext::new(rudder_pki::Identity::new(
        failure.claimed_user.clone().unwrap_or_default(),
        Vec::<String>::new(),
    ));
    let mut e = entry(&nobody, seen, now);
    e.authentication_error = Some(failure.reason.clone());
    e
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
        impersonated_user: None,
        trace_id: None,
        authentication_error: None,
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

/// Size-based rotation of the audit file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate before a line would take the file past this many bytes; 0: never.
    pub max_bytes: u64,
    /// Rotated files kept (`audit.log.1` newest); 0: all.
    pub max_backups: usize,
}

impl Rotation {
    /// Whether a file of `size` bytes must rotate before a line of `line` bytes.
    pub fn due(&self, size: u64, line: usize) -> bool {
        self.max_bytes > 0 && size > 0 && size + line as u64 > self.max_bytes
    }
}

/// The renames that rotate `path` (`path.N-1` → `path.N` ... `path` → `path.1`),
/// oldest first, given the backups that exist; and the file to delete past
/// `max_backups` (pure).
pub fn rotation_plan(
    path: &Path,
    existing_backups: usize,
    max_backups: usize,
) -> (
    Option<std::path::PathBuf>,
    Vec<(std::path::PathBuf, std::path::PathBuf)>,
) {
    let numbered = |n: usize| {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{n}"));
        std::path::PathBuf::from(p)
    };
    let keep = if max_backups == 0 {
        usize::MAX
    } else {
        max_backups
    };
    let delete = (existing_backups >= keep).then(|| numbered(keep));
    let mut renames = Vec::new();
    for n in (1..=existing_backups.min(keep.saturating_sub(1))).rev() {
        renames.push((numbered(n), numbered(n + 1)));
    }
    renames.push((path.to_path_buf(), numbered(1)));
    (delete, renames)
}

async fn open_append(path: &Path) -> std::io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
}

/// Rotates `path` and opens a fresh file there.
async fn rotate(path: &Path, max_backups: usize) -> std::io::Result<tokio::fs::File> {
    let mut existing = 0;
    loop {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{}", existing + 1));
        if tokio::fs::metadata(&p).await.is_err() {
            break;
        }
        existing += 1;
    }
    let (delete, renames) = rotation_plan(path, existing, max_backups);
    if let Some(old) = delete {
        tokio::fs::remove_file(old).await?;
    }
    for (from, to) in renames {
        tokio::fs::rename(from, to).await?;
    }
    open_append(path).await
}

/// The audit sink.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Vec<u8>>,
}

impl AuditLog {
    /// Opens (appends to) `path` and starts the writer task, which flushes and ends
    /// on `shutdown`.
    pub async fn open(
        path: &Path,
        rotation: Rotation,
        shutdown: CancellationToken,
    ) -> Result<Self> {
        let mut file = open_append(path)
            .await
            .map_err(|e| Error::Startup(format!("--audit-log-path {}: {e}", path.display())))?;
        let mut size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
        let path = path.to_path_buf();
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(BUFFER);
        tokio::spawn(
            async move {
                loop {
                    let line = tokio::select! {
                        line = rx.recv() => line,
                        () = shutdown.cancelled() => None,
                    };
                    let Some(line) = line else { break };
                    if rotation.due(size, line.len()) {
                        let _ = file.flush().await;
                        match rotate(&path, rotation.max_backups).await {
                            Ok(fresh) => {
                                file = fresh;
                                size = 0;
                            }
                            Err(e) => tracing::warn!(error = %e, "audit log rotation failed"),
                        }
                    }
                    size += line.len() as u64;
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
    use std::path::PathBuf;

    #[test]
    fn rotation_shifts_and_trims() {
        let p = Path::new("/l/audit.log");
        let f = |s: &str| PathBuf::from(s);
        assert_eq!(
            rotation_plan(p, 0, 3),
            (None, vec![(f("/l/audit.log"), f("/l/audit.log.1"))])
        );
        assert_eq!(
            rotation_plan(p, 2, 3),
            (
                None,
                vec![
                    (f("/l/audit.log.2"), f("/l/audit.log.3")),
                    (f("/l/audit.log.1"), f("/l/audit.log.2")),
                    (f("/l/audit.log"), f("/l/audit.log.1")),
                ]
            )
        );
        assert_eq!(
            rotation_plan(p, 3, 3),
            (
                Some(f("/l/audit.log.3")),
                vec![
                    (f("/l/audit.log.2"), f("/l/audit.log.3")),
                    (f("/l/audit.log.1"), f("/l/audit.log.2")),
                    (f("/l/audit.log"), f("/l/audit.log.1")),
                ]
            )
        );
        assert_eq!(
            rotation_plan(p, 1, 1),
            (
                Some(f("/l/audit.log.1")),
                vec![(f("/l/audit.log"), f("/l/audit.log.1"))]
            )
        );
        let r = Rotation {
            max_bytes: 100,
            max_backups: 1,
        };
        assert!(!r.due(0, 500), "an empty file takes any line");
        assert!(!r.due(50, 50));
        assert!(r.due(50, 51));
        assert!(!Rotation::default().due(u64::MAX / 2, 10));
    }

    #[tokio::test]
    async fn rotates_by_size_keeping_max_backups() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("audit.log");
        let shutdown = CancellationToken::new();
        let log = AuditLog::open(
            &path,
            Rotation {
                max_bytes: 400,
                max_backups: 2,
            },
            shutdown.clone(),
        )
        .await
        .unwrap();
        let ctx = RequestContext::new(Identity::new("bob", ["devs"]));
        for _ in 0..20 {
            log.record(&entry(
                &ctx,
                &Observed {
                    method: &Method::GET,
                    path: "/api/v1/pods",
                    query: None,
                    protocol: "rest",
                    code: 200,
                    latency: Duration::ZERO,
                },
                "t".into(),
            ));
        }
        drop(log);
        tokio::time::sleep(Duration::from_millis(300)).await;
        shutdown.cancel();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let exists = |s: &str| dir.path().join(s).exists();
        assert!(exists("audit.log") && exists("audit.log.1") && exists("audit.log.2"));
        assert!(!exists("audit.log.3"));
        for f in ["audit.log", "audit.log.1", "audit.log.2"] {
            let len = std::fs::metadata(dir.path().join(f)).unwrap().len();
            assert!(len <= 400, "{f} is {len} bytes");
        }
    }

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
