//! The loopback HTTP server every service runs for Prometheus and probes:
//! `GET /metrics` (text exposition of a [`prometheus::Registry`]), `GET /healthz`
//! (liveness: the process answers) and `GET /readyz` (readiness: [`Health`] says so).
//! Any other path is 404. HTTP/1.1 and h2c are both accepted.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::TelemetryError;

/// How long open scrapes may take to finish once shutdown is requested.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Readiness of a service, shared between the service (which sets it) and the
/// `/readyz` endpoint (which reports it). Cheap to clone; clones share state.
///
/// A service is ready when it has called [`Health::set_ready`]`(true)` and every named
/// check (e.g. `"store"`, `"informers-synced"`) last reported passing. A service starts
/// not ready, so a load balancer or kubelet does not send it traffic before it can serve.
#[derive(Debug, Clone, Default)]
pub struct Health {
    inner: Arc<HealthState>,
}

#[derive(Debug, Default)]
struct HealthState {
    ready: AtomicBool,
    checks: Mutex<BTreeMap<String, bool>>,
}

impl Health {
    /// A new, not-ready health handle without named checks.
    pub fn new() -> Self {
        Health::default()
    }

    /// Marks the service as able (or no longer able, e.g. while draining) to serve.
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::SeqCst);
    }

    /// Records the latest result of a named readiness check; any failing check makes
    /// `/readyz` answer 503 and name it.
    pub fn set_check(&self, name: &str, passing: bool) {
        self.checks().insert(name.to_owned(), passing);
    }

    /// Forgets a named check (a dependency the service no longer has).
    pub fn remove_check(&self, name: &str) {
        self.checks().remove(name);
    }

    /// Whether `/readyz` would answer 200 now.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::SeqCst) && self.checks().values().all(|ok| *ok)
    }

    /// The `/readyz` verdict and body, in the Kubernetes `[+]name ok` / `[-]name failed`
    /// form, so operators read it as they would kube-apiserver's.
    fn readiness_report(&self) -> (bool, String) {
        let ready = self.inner.ready.load(Ordering::SeqCst);
        let checks = self.checks().clone();
        let mut body = String::new();
        let mut all_ok = ready;
        body.push_str(if ready {
            "[+]ready ok\n"
        } else {
            "[-]ready failed: service not ready\n"
        });
        for (name, ok) in &checks {
            all_ok &= *ok;
            if *ok {
                body.push_str(&format!("[+]{name} ok\n"));
            } else {
                body.push_str(&format!("[-]{name} failed\n"));
            }
        }
        body.push_str(if all_ok {
            "readyz check passed\n"
        } else {
            "readyz check failed\n"
        });
        (all_ok, body)
    }

    fn checks(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, bool>> {
        // A panic while holding the lock cannot leave a map insert half done.
        self.inner
            .checks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `listener` until `shutdown` is
/// cancelled, then stops accepting and gives open requests five seconds to finish.
///
/// Only returns early on an unrecoverable listener error.
pub async fn serve_metrics(
    listener: TcpListener,
    registry: Registry,
    health: Health,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let endpoints = Endpoints { registry, health };
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning, the
                // condition usually clears as other connections close.
                tracing::warn!(%error, "metrics server cannot accept a connection");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        let endpoints = endpoints.clone();
        let service = service_fn(move |request| {
            let response = endpoints.respond(&request);
            async move { Ok::<_, Infallible>(response) }
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(
            async move {
                if let Err(error) = connection.await {
                    tracing::debug!(error = %error, "metrics connection ended with an error");
                }
            }
            .instrument(tracing::debug_span!("metrics.connection", %peer)),
        );
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("metrics connections still open after the shutdown grace period");
    }
    Ok(())
}

fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    )
}

/// A running metrics server started by [`spawn_metrics_server`].
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    task: JoinHandle<std::io::Result<()>>,
}

impl MetricsServer {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits for the server to stop (after its shutdown token is cancelled).
    pub async fn wait(self) -> Result<(), TelemetryError> {
        Ok(self.task.await??)
    }
}

/// Binds `addr` and serves the endpoints on a spawned task (spanned `metrics.server`),
/// returning the bound address right away so callers can use port 0.
pub async fn spawn_metrics_server(
    addr: impl ToSocketAddrs + std::fmt::Debug,
    registry: Registry,
    health: Health,
    shutdown: CancellationToken,
) -> Result<MetricsServer, TelemetryError> {
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| TelemetryError::Bind {
            addr: format!("{addr:?}"),
            source,
        })?;
    let local_addr = listener.local_addr()?;
    let task = tokio::spawn(
        serve_metrics(listener, registry, health, shutdown)
            .instrument(tracing::info_span!("metrics.server", addr = %local_addr)),
    );
    tracing::info!(addr = %local_addr, "serving /metrics, /healthz and /readyz");
    Ok(MetricsServer { local_addr, task })
}

#[derive(Clone)]
struct Endpoints {
    registry: Registry,
    health: Health,
}

impl Endpoints {
    fn respond(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path();
        if !matches!(path, "/metrics" | "/healthz" | "/readyz") {
            return text(StatusCode::NOT_FOUND, "404 page not found\n".into());
        }
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            let mut response = text(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed\n".into(),
            );
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        match path {
            "/metrics" => self.metrics(),
            "/healthz" => text(StatusCode::OK, "ok\n".into()),
            _ => {
                let (ready, body) = self.health.readiness_report();
                let status = if ready {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                text(status, body)
            }
        }
    }

    fn metrics(&self) -> Response<Full<Bytes>> {
        let encoder = TextEncoder::new();
        let mut buffer = Vec::new();
        match encoder.encode(&self.registry.gather(), &mut buffer) {
            Ok(()) => {
                let mut response = Response::new(Full::new(Bytes::from(buffer)));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static(prometheus::TEXT_FORMAT),
                );
                response
            }
            Err(error) => {
                tracing::warn!(%error, "cannot encode metrics");
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot encode metrics: {error}\n"),
                )
            }
        }
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::Health;

    #[test]
    fn readiness_needs_the_flag_and_every_check() {
        let health = Health::new();
        assert!(!health.is_ready());
        health.set_ready(true);
        assert!(health.is_ready());
        health.set_check("store", false);
        let (ready, body) = health.clone().readiness_report();
        assert!(!ready);
        assert!(body.contains("[-]store failed"), "{body}");
        health.set_check("store", true);
        assert!(health.is_ready());
        health.set_check("informers", false);
        health.remove_check("informers");
        assert!(health.is_ready());
    }
}
