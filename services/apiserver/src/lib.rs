//! `rudder-apiserver`: the Kubernetes API over the store (issue 4).
//!
//! ```text
//! server     HTTPS port: TLS + client certificates, HTTP/1.1 + h2, identity per connection
//!   └─ rest  Kubernetes paths → registry; discovery, /version, health; Status errors
//!   └─ (grpc, later: the Api service on the same port, same registry)
//! registry   every verb, generic over rudder_api's resource table; calls the
//!            admission seam (authorizer + admission chain) before the store
//! auth       authentication (certificates, service-account tokens), RBAC, the
//!            node authorizer, bootstrap policy, access reviews, impersonation
//! plugins    the admission chain: ServiceAccount, NamespaceLifecycle, NodeRestriction
//! audit      one JSON line per request, rotated by size
//! storage    the etcd v3 API via etcd-client: get, range, compare-and-swap txns
//! ```
//!
//! [`run`] is what the binary calls; [`serve`] takes a bound listener (tests bind
//! port 0 first, to write certificates for the port).

pub mod admission;
pub mod audit;
pub mod auth;
pub mod config;
pub mod error;
pub mod grpc;
pub mod inflight;
pub mod metrics;
pub mod openapi;
pub mod plugins;
pub mod pod_logs;
pub mod registry;
pub mod rest;
pub mod server;
pub mod storage;
pub mod table;
pub mod watch_cache;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use admission::SecurityHooks;
pub use config::Config;
pub use error::{Error, Result};

use admission::RequestContext;
use registry::{CollectionRef, Registry, WriteOptions};
use rest::RestApi;
use rudder_proto::api::v1::api_server::ApiServer;
use storage::Storage;
use watch_cache::WatchCaches;

/// Namespaces every cluster has, created at start-up as kube-apiserver does.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Binds `config.bind` and serves until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<()> {
    let listener = TcpListener::bind(config.bind)
        .await
        .map_err(|e| Error::Startup(format!("cannot listen on {}: {e}", config.bind)))?;
    serve(config, listener, SecurityHooks::default(), shutdown).await
}

/// Serves on an already bound listener. `hooks` are the defaults: the
/// authorizer is replaced by the `--authorization-mode` chain unless that is
/// `AlwaysAllow`, and the admission chain is always the server's plugins
/// (NamespaceLifecycle, ServiceAccount, NodeRestriction, see [`plugins`]).
pub async fn serve(
    config: Config,
    listener: TcpListener,
    hooks: SecurityHooks,
    shutdown: CancellationToken,
) -> Result<()> {
    rudder_pki::install_crypto_provider();
    let (tls, client_ca) = auth::authn::server_tls(&config.tls)?;
    let signer = match &config.service_account_signing_key_file {
        Some(path) => Some(auth::token::TokenSigner::from_pem(
            &read_key_file(path, "--service-account-signing-key-file")?,
            &config.service_account_issuer,
        )?),
        None => None,
    };
    let verifier = match (&config.service_account_key_file, &signer) {
        (Some(path), _) => Some(auth::token::TokenVerifier::from_pem(
            &read_key_file(path, "--service-account-key-file")?,
            &config.service_account_issuer,
            vec![config.service_account_issuer.clone()],
        )?),
        (None, Some(signer)) => Some(auth::token::TokenVerifier::from_points(
            vec![signer.public_point()],
            &config.service_account_issuer,
            vec![config.service_account_issuer.clone()],
        )),
        (None, None) => None,
    };
    let audit = match &config.audit_log_path {
        Some(path) => {
            Some(audit::AuditLog::open(path, config.audit_rotation, shutdown.clone()).await?)
        }
        None => None,
    };
    let storage = Storage::connect(&config.store).await?;
    let caches = WatchCaches::start(&storage, config.watch_history, &shutdown);
    let modes: Vec<auth::Mode> = config
        .authorization_modes
        .iter()
        .filter_map(|m| auth::Mode::parse(m))
        .collect();
    let rbac = modes.contains(&auth::Mode::Rbac);
    let mut hooks = hooks;
    if modes.iter().any(|m| *m != auth::Mode::AlwaysAllow) {
        hooks.authorizer =
            std::sync::Arc::new(auth::UnionAuthorizer::for_modes(&modes, &caches, &shutdown));
    }
    let service_accounts =
        rudder_api::resource::by_plural("", "serviceaccounts").and_then(|r| caches.get(r).cloned());
    let authn = match verifier {
        Some(verifier) => {
            auth::authn::Authenticator::with_tokens(client_ca, verifier, caches.clone())
        }
        None => auth::authn::Authenticator::certificates_only(client_ca),
    };
    let namespaces =
        rudder_api::resource::by_plural("", "namespaces").and_then(|r| caches.get(r).cloned());
    let rbac_cache = |plural| {
        rudder_api::resource::by_plural("rbac.authorization.k8s.io", plural)
            .and_then(|r| caches.get(r).cloned())
    };
    hooks.admission = std::sync::Arc::new(
        plugins::AdmissionPlugins::new(namespaces, service_accounts, storage.clone())
            .with_escalation_checks(
                hooks.authorizer.clone(),
                rbac_cache("roles"),
                rbac_cache("clusterroles"),
            ),
    );
    let ranges = registry::ServiceRanges::new(
        &config.service_cluster_ip_range,
        config.service_node_port_range,
    )
    .map_err(|e| Error::Startup(format!("--service-cluster-ip-range: {e}")))?;
    let registry = Registry::new(storage, hooks)
        .with_watch_caches(caches.clone())
        .with_service_ranges(ranges);
    // Not ready until the bootstrap policy is in place and visible to the
    // authorizer: otherwise the first requests after start race it and get 403s
    // (upstream's poststarthook/rbac/bootstrap-roles).
    let bootstrapped = Arc::new(AtomicBool::new(!rbac));
    if rbac {
        let (registry, shutdown, done) = (registry.clone(), shutdown.clone(), bootstrapped.clone());
        tokio::spawn(
            async move {
                auth::bootstrap::reconcile(registry, shutdown.clone()).await;
                while !auth::bootstrap::visible_in(&caches) {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_millis(20)) => {}
                    }
                }
                done.store(true, Ordering::Release);
            }
            .instrument(tracing::info_span!("bootstrap", what = "rbac")),
        );
    }
    let address = listener
        .local_addr()
        .map_err(|e| Error::Startup(format!("listener address: {e}")))?;
    let kubelet = pod_logs::KubeletClient::new(
        &config.kubelet.ca,
        config
            .kubelet
            .identity
            .as_ref()
            .map(|(cert, key)| (cert.as_path(), key.as_path())),
    )?;
    let api = server::Services {
        rest: RestApi::new(
            registry.clone(),
            address.to_string(),
            shutdown.clone(),
            config.watch_bookmark_interval,
        )
        .with_token_issuer(signer.map(|s| std::sync::Arc::new(auth::authn::TokenIssuer::new(s))))
        .with_bootstrap_gate(bootstrapped)
        .with_kubelet_client(kubelet.clone()),
        grpc: ApiServer::new(
            grpc::ApiService::new(
                registry.clone(),
                shutdown.clone(),
                config.watch_bookmark_interval,
            )
            .with_kubelet_client(kubelet),
        ),
        audit,
        authn: std::sync::Arc::new(authn),
        inflight: inflight::InflightLimits::new(config.max_inflight.0, config.max_inflight.1),
    };
    tokio::spawn(
        ensure_system_namespaces(registry, shutdown.clone())
            .instrument(tracing::info_span!("bootstrap", what = "namespaces")),
    );
    server::serve(listener, tls, api, shutdown).await
}

/// Reads a key file named by a flag; the error names the flag and path, never
/// the content.
fn read_key_file(path: &std::path::Path, flag: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Startup(format!("{flag} {}: {e}", path.display())))
}

/// Creates the system namespaces that are missing, retrying while the store is
/// unreachable, until done or shut down.
async fn ensure_system_namespaces(registry: Registry, shutdown: CancellationToken) {
    let ctx = RequestContext::new(rudder_pki::Identity::new(
        "system:apiserver",
        ["system:masters"],
    ));
    let Some(resource) = rudder_api::resource::by_plural("", "namespaces") else {
        tracing::error!("namespaces are missing from the resource table");
        return;
    };
    let namespaces = CollectionRef {
        resource,
        namespace: None,
    };
    for name in SYSTEM_NAMESPACES {
        loop {
            let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            match registry
                .create(&ctx, &namespaces, body, &WriteOptions::internal())
                .await
            {
                Ok(_) => {
                    tracing::info!(namespace = name, "created");
                    break;
                }
                Err(Error::AlreadyExists { .. }) => break,
                Err(e) => {
                    tracing::warn!(namespace = name, error = %e, "cannot create yet; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }
}
