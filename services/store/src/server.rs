//! Running a member: open the disk, start raft, serve etcd's API and metrics, and stop in
//! order on shutdown (listeners, then raft, then disk).

use std::collections::BTreeMap;
use std::time::Duration;

use etcd_client::proto::{
    PbClusterServer, PbKvServer, PbLeaseServer, PbMaintenanceServer, PbWatchServer,
};
use rudder_proto::raft::v1::raft_transport_server::RaftTransportServer;
use rudder_telemetry::Health;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;
use tracing::{Instrument, info, info_span, warn};

use crate::config::{ClusterState, Config};
use crate::db;
use crate::error::{Error, Result};
use crate::grpc::{ClusterService, KvService, LeaseService, MaintenanceService};
use crate::lease::Lessor;
use crate::metrics::StoreMetrics;
use crate::network::PeerNetwork;
use crate::node::{NodeStart, RaftNode};
use crate::raft_service::RaftService;
use crate::types::Member;
use crate::watch::WatchService;

/// How long listeners get to finish in-flight requests after shutdown is asked.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);

/// Runs the member until `shutdown` is cancelled, then stops it cleanly.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<()> {
    rudder_pki::install_crypto_provider();
    let registry = prometheus::Registry::new();
    let metrics = StoreMetrics::new();
    metrics
        .register(&registry)
        .map_err(|e| Error::Config(format!("metrics: {e}")))?;

    let member_dir = config.data_dir.join("member");
    check_member_id(&member_dir, config.id)?;
    let db = db::open(&member_dir.join("db"))?;
    let initial: BTreeMap<_, _> = config
        .initial_cluster
        .iter()
        // The same on every founder (each writes it as the log's first entry); client URLs
        // are published through raft once the members run.
        .map(|m| {
            (
                m.id,
                Member {
                    name: m.name.clone(),
                    peer_urls: m.peer_urls.clone(),
                    client_urls: Vec::new(),
                },
            )
        })
        .collect();
    let snapshot_dir = member_dir.join("snap");
    let start = NodeStart {
        id: config.id,
        cluster_id: config.cluster_id,
        snapshot_dir: &snapshot_dir,
        settings: &config.raft,
        initial,
        bootstrap: config.cluster_state == ClusterState::New,
        peers: PeerNetwork::new(config.peer_tls.as_ref())?,
    };
    let node = RaftNode::start(start, db, metrics.clone()).await?;
    info!(name = %config.name, id = format_args!("{:x}", config.id), "raft started");

    let workers = shutdown.child_token();
    let listeners = CancellationToken::new();
    let lessor = Lessor::new(
        node.clone(),
        Duration::from_millis(config.raft.election_timeout_ms),
    );
    let lessor_task = lessor.spawn(workers.clone());
    let raft_metrics_task = spawn_raft_metrics(node.clone(), workers.clone());
    // As etcd, clients are served once this member is published in the membership: before
    // that, the publishing membership changes would race the first requests.
    let (published_tx, published) = tokio::sync::watch::channel(false);
    let publish_task = {
        let (node, stop) = (node.clone(), workers.clone());
        let (name, urls) = (config.name.clone(), config.advertise_client_urls.clone());
        tokio::spawn(
            async move { node.publish(name, urls, published_tx, stop).await }
                .instrument(info_span!("publish")),
        )
    };

    let health = Health::new();
    let mut metrics_servers = Vec::new();
    for addr in &config.metrics {
        let server = rudder_telemetry::spawn_metrics_server(
            *addr,
            registry.clone(),
            health.clone(),
            listeners.clone(),
        )
        .await
        .map_err(|e| Error::Config(format!("metrics listener {addr}: {e}")))?;
        info!(addr = %server.local_addr(), "serving metrics");
        metrics_servers.push(server);
    }

    let mut servers = Vec::new();
    for ep in &config.listen_client {
        let listener = TcpListener::bind(ep.addr)
            .await
            .map_err(|e| Error::Config(format!("listen {}: {e}", ep.url)))?;
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = &config.client_tls {
            let tls = tls
                .tonic_server()
                .map_err(|e| Error::Config(format!("client TLS: {e}")))?;
            builder = builder
                .tls_config(tls)
                .map_err(|e| Error::Config(format!("client TLS: {e}")))?;
        }
        let router = builder
            .add_service(PbKvServer::new(KvService { node: node.clone() }))
            .add_service(PbWatchServer::new(WatchService::new(
                node.clone(),
                config.progress_notify_interval,
                listeners.clone(),
            )))
            .add_service(PbLeaseServer::new(LeaseService {
                node: node.clone(),
                lessor: lessor.clone(),
            }))
            .add_service(PbMaintenanceServer::new(MaintenanceService {
                node: node.clone(),
            }))
            .add_service(PbClusterServer::new(ClusterService { node: node.clone() }));
        let stop = listeners.clone();
        let url = ep.url.clone();
        let mut published = published.clone();
        servers.push(tokio::spawn(
            async move {
                tokio::select! {
                    _ = stop.cancelled() => return Ok(()),
                    p = published.wait_for(|p| *p) => if p.is_err() { return Ok(()) },
                }
                info!("serving client requests");
                router
                    .serve_with_incoming_shutdown(incoming(listener), stop.cancelled_owned())
                    .await
            }
            .instrument(info_span!("client_listener", url = %url)),
        ));
    }
    for ep in &config.listen_peer {
        let listener = TcpListener::bind(ep.addr)
            .await
            .map_err(|e| Error::Config(format!("listen {}: {e}", ep.url)))?;
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = &config.peer_tls {
            let tls = tls
                .tonic_server()
                .map_err(|e| Error::Config(format!("peer TLS: {e}")))?;
            builder = builder
                .tls_config(tls)
                .map_err(|e| Error::Config(format!("peer TLS: {e}")))?;
        }
        let router = builder.add_service(
            RaftTransportServer::new(RaftService {
                node: node.clone(),
                lessor: lessor.clone(),
            })
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20),
        );
        let stop = listeners.clone();
        let url = ep.url.clone();
        info!(url = %url, "serving peers");
        servers.push(tokio::spawn(
            async move {
                router
                    .serve_with_incoming_shutdown(incoming(listener), stop.cancelled_owned())
                    .await
            }
            .instrument(info_span!("peer_listener", url = %url)),
        ));
    }
    health.set_ready(true);

    shutdown.cancelled().await;
    info!("shutting down");
    health.set_ready(false);
    listeners.cancel();
    for server in servers {
        match tokio::time::timeout(DRAIN_DEADLINE, server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => warn!(error = %e, "client listener failed"),
            Ok(Err(e)) => warn!(error = %e, "client listener panicked"),
            Err(_) => warn!("client listener did not drain in time"),
        }
    }
    for server in metrics_servers {
        if let Err(e) = server.wait().await {
            warn!(error = %e, "metrics listener failed");
        }
    }
    workers.cancel();
    let _ = lessor_task.await;
    let _ = raft_metrics_task.await;
    let _ = publish_task.await;
    node.shutdown().await;
    // the database closes when the last handle (node, log store, state machine) drops
    drop(node);
    info!("stopped");
    Ok(())
}

/// Accepted connections with Nagle's algorithm off. tonic's own `tcp_nodelay` does not apply
/// to an incoming stream, and with Nagle on a reply written in several pieces waits for the
/// client's delayed ACK (40 ms on Linux).
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Records which member a data directory belongs to, and refuses to start another member
/// (another peer URL) on it: its raft log and vote are that member's.
fn check_member_id(member_dir: &std::path::Path, id: u64) -> Result<()> {
    std::fs::create_dir_all(member_dir)?;
    let path = member_dir.join("id");
    match std::fs::read_to_string(&path) {
        Ok(stored) if stored.trim() == format!("{id:x}") => Ok(()),
        Ok(stored) => Err(Error::Config(format!(
            "data dir {} belongs to member {}, not {id:x} (the member id comes from its first peer URL)",
            member_dir.display(),
            stored.trim()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::write(&path, format!("{id:x}\n"))?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Mirrors raft's own metrics into Prometheus: term, leader changes, pending proposals,
/// leadership, and the database size.
fn spawn_raft_metrics(node: RaftNode, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(
        async move {
            let mut rx = node.raft.metrics();
            let mut last_leader = None;
            let mut size_tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    changed = rx.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let m = rx.borrow_and_update().clone();
                        let metrics = &node.metrics;
                        metrics.raft_term.set(m.current_term as i64);
                        if m.current_leader != last_leader {
                            if m.current_leader.is_some() {
                                metrics.leader_changes.inc();
                            }
                            last_leader = m.current_leader;
                        }
                        metrics.is_leader.set(i64::from(m.current_leader == Some(node.id)));
                        let applied = m.last_applied.map_or(0, |l| l.index);
                        let pending = m.last_log_index.unwrap_or(0).saturating_sub(applied);
                        metrics.proposals_pending.set(pending as i64);
                    }
                    _ = size_tick.tick() => {
                        let db = node.db.clone();
                        if let Ok(size) = tokio::task::spawn_blocking(move || db::size_bytes(&db)).await {
                            node.metrics.db_size.set(size as i64);
                        }
                    }
                }
            }
        }
        .instrument(info_span!("raft_metrics")),
    )
}
