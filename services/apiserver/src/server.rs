//! The one HTTPS port: TLS requesting client certificates (judged per request
//! against the cluster CA; bearer tokens otherwise, see `auth::authn`), HTTP/1.1
//! and h2 (hyper-util's auto builder), the presented certificate kept per
//! connection and authenticated on every request, REST and gRPC told apart by
//! Content-Type (a refusal answered in each one's terms), and a graceful drain on
//! shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rudder_telemetry::ServerTraceLayer;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::Layer;
use tracing::Instrument;

use crate::admission::RequestContext;
use crate::auth::x509::PeerCertificate;
use crate::error::{Error, Result};
use crate::grpc::ApiService;
use crate::rest::codec::{self, Body, BoxError};
use crate::rest::request::Routed;
use crate::rest::{RestApi, is_grpc};
use http_body_util::BodyExt;
use rudder_proto::api::v1::api_server::ApiServer;
use tower::Service;

/// The front ends sharing the port.
#[derive(Debug, Clone)]
pub struct Services {
    /// Kubernetes REST.
    pub rest: RestApi,
    /// The gRPC `Api` service.
    pub grpc: ApiServer<ApiService>,
    /// Where request lines go (`--audit-log-path`).
    pub audit: Option<crate::audit::AuditLog>,
    /// Who requests come from: certificates, service-account tokens.
    pub authn: Arc<crate::auth::authn::Authenticator>,
    /// `--max-requests-inflight`, `--max-mutating-requests-inflight`.
    pub inflight: crate::inflight::InflightLimits,
}

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open requests may take to finish once shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `api` on `listener` until `shutdown` is cancelled, then drains.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    api: Services,
    shutdown: CancellationToken,
) -> Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    let local = listener
        .local_addr()
        .map_err(|e| Error::Startup(format!("listener address: {e}")))?;
    tracing::info!(address = %local, "serving HTTPS");
    loop {
        let (tcp, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Nagle off, as Go's net package (kube-apiserver) has it: a response written
        // as a headers record and a data record must not wait on the client's ACK.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not turn Nagle's algorithm off");
        }
        let acceptor = acceptor.clone();
        let api = api.clone();
        let watcher = graceful.watcher();
        let conn_shutdown = shutdown.clone();
        tokio::spawn(
            async move {
                serve_connection(tcp, peer, acceptor, api, watcher, conn_shutdown).await;
            }
            .instrument(tracing::info_span!("connection", %peer)),
        );
    }
    drop(listener);
    tracing::info!("draining connections");
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain deadline; closing them");
    }
    Ok(())
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    api: Services,
    watcher: hyper_util::server::graceful::Watcher,
    shutdown: CancellationToken,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            return;
        }
    };
    let certificate = PeerCertificate::of(tls.get_ref().1).map(Arc::new);
    tracing::debug!(%peer, certificate = certificate.is_some(), "connected");
    let service = tower::service_fn(move |request: Request<Incoming>| {
        let api = api.clone();
        let certificate = certificate.clone();
        let shutdown = shutdown.clone();
        async move { Ok::<_, Infallible>(route(api, certificate, shutdown, request).await) }
    });
    let service = TowerToHyperService::new(ServerTraceLayer::http().layer(service));
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
    if let Err(e) = watcher.watch(conn.into_owned()).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

async fn route(
    api: Services,
    certificate: Option<Arc<PeerCertificate>>,
    _shutdown: CancellationToken,
    mut request: Request<Incoming>,
) -> Response<Body> {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let grpc_request = is_grpc(&request);
    let trace_id = trace_id(request.headers());
    // Taken before the request is consumed; refusals below count as well.
    // A REST request is parsed and routed once, for its metrics and its dispatch.
    let mut routed = (!grpc_request).then(|| Routed::of(&method, &path, query.as_deref()));
    let labels = routed
        .as_ref()
        .map(|routed| crate::metrics::RequestLabels::of(&method, &path, routed, request.headers()));
    let authenticated = api
        .authn
        .authenticate(certificate.as_deref(), request.headers());
    // A refusal's code, for the audit line: a gRPC answer is HTTP 200 whatever
    // its grpc-status.
    let mut refused = None;
    let (response, who) = match authenticated {
        Err(failure) => {
            tracing::debug!(reason = %failure.reason, "authentication failed");
            refused = Some(Error::Unauthorized.code());
            (
                refusal(grpc_request, &Error::Unauthorized),
                Who::Failed(failure),
            )
        }
        Ok(ctx) => {
            let ctx = Arc::new(ctx);
            match crate::auth::impersonation::impersonate(
                api.rest.registry().authorizer(),
                &ctx,
                request.headers(),
            ) {
                Err(e) => {
                    refused = Some(e.code());
                    (refusal(grpc_request, &e), Who::User(ctx, None))
                }
                Ok(impersonated) => {
                    let effective = impersonated.map(Arc::new);
                    let acting = effective.clone().unwrap_or_else(|| ctx.clone());
                    let class =
                        crate::inflight::classify(&method, &path, query.as_deref(), grpc_request);
                    match api.inflight.admit(class, &ctx) {
                        Err(e) => {
                            refused = Some(e.code());
                            let mut response = refusal(grpc_request, &e);
                            response
                                .headers_mut()
                                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(1));
                            (response, Who::User(ctx, effective))
                        }
                        // The permit is held until the response head is produced, as
                        // upstream's filter holds it.
                        Ok(_permit) => {
                            let response = if grpc_request {
                                request.extensions_mut().insert(acting.clone());
                                let mut grpc = api.grpc.clone();
                                let span = tracing::info_span!("grpc", user = %acting.user());
                                match grpc.call(request).instrument(span).await {
                                    Ok(response) => {
                                        response.map(|b| b.map_err(BoxError::from).boxed_unsync())
                                    }
                                    Err(never) => match never {},
                                }
                            } else {
                                let span = tracing::info_span!("rest", user = %acting.user());
                                let routed = routed.take().unwrap_or_else(|| {
                                    Routed::of(&method, &path, query.as_deref())
                                });
                                api.rest
                                    .handle(&acting, request, routed)
                                    .instrument(span)
                                    .await
                            };
                            (response, Who::User(ctx, effective))
                        }
                    }
                }
            }
        }
    };
    if let Some(audit) = &api.audit {
        let observed = crate::audit::Observed {
            method: &method,
            path: &path,
            query: query.as_deref(),
            protocol: if grpc_request { "grpc" } else { "rest" },
            code: refused.unwrap_or_else(|| response.status().as_u16()),
            latency: started.elapsed(),
        };
        let now = crate::registry::meta::now_rfc3339();
        let mut entry = match &who {
            Who::User(ctx, _) => crate::audit::entry(ctx, &observed, now),
            Who::Failed(failure) => crate::audit::failed_entry(failure, &observed, now),
        };
        if let Who::User(_, Some(impersonated)) = &who {
            entry.impersonated_user = Some(crate::audit::UserRecord {
                username: impersonated.identity.user.clone(),
                groups: impersonated.identity.groups.clone(),
            });
        }
        entry.trace_id = trace_id;
        audit.record(&entry);
    }
    match labels {
        Some(labels) => crate::metrics::observe_request(labels, started, response),
        None => crate::metrics::observe_grpc(&path, started, response),
    }
}

/// The answer to a request refused before it reached REST or gRPC: a Status for
/// REST, the matching gRPC status (UNAUTHENTICATED, PERMISSION_DENIED) for gRPC.
fn refusal(grpc_request: bool, error: &Error) -> Response<Body> {
    if grpc_request {
        error
            .to_grpc_status()
            .into_http::<tonic::body::Body>()
            .map(|b| b.map_err(BoxError::from).boxed_unsync())
    } else {
        codec::error_response(error)
    }
}

/// Who a request ran as, for the audit line.
enum Who {
    /// Authenticated, and the impersonated identity if any.
    User(Arc<RequestContext>, Option<Arc<RequestContext>>),
    /// Refused with 401.
    Failed(crate::auth::authn::AuthnFailure),
}

/// The trace id of the caller's W3C `traceparent`, if it sent one.
fn trace_id(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get("traceparent")?.to_str().ok()?;
    let id = value.split('-').nth(1)?;
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
}
