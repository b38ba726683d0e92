//! The store's Prometheus metrics. They are created unregistered, so tests and libraries can
//! make as many stores as they like; the server registers them once in its registry.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Registry};

/// Metrics the storage layer and the server update.
#[derive(Clone)]
pub struct StoreMetrics {
    /// Time one group-commit fsync of the raft log took.
    pub wal_fsync_seconds: Histogram,
    /// Appends of a leader's own entries reported flushed before their fsync, so that
    /// replication overlaps it (see `durability`).
    pub log_appends_acked_early: IntCounter,
    /// Raft entries applied to the state machine.
    pub proposals_applied: IntCounter,
    /// The store's current revision.
    pub revision: IntGauge,
    /// Open watches across all streams.
    pub watchers: IntGauge,
    /// The raft term this member is in.
    pub raft_term: IntGauge,
    /// Times this member saw a new leader.
    pub leader_changes: IntCounter,
    /// Log entries appended but not yet applied.
    pub proposals_pending: IntGauge,
    /// 1 while this member leads.
    pub is_leader: IntGauge,
    /// Bytes of the database's files on disk.
    pub db_size: IntGauge,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl StoreMetrics {
    pub fn new() -> Self {
        let buckets = prometheus::exponential_buckets(0.0001, 2.0, 16).expect("static buckets");
        Self {
            wal_fsync_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "rudder_store_wal_fsync_duration_seconds",
                    "Duration of one group-commit fsync of the raft log.",
                )
                .buckets(buckets),
            )
            .expect("static metric"),
            log_appends_acked_early: IntCounter::new(
                "rudder_store_log_appends_acked_early_total",
                "Appends of the leader's own entries replicated while their fsync still ran.",
            )
            .expect("static metric"),
            proposals_applied: IntCounter::new(
                "rudder_store_proposals_applied_total",
                "Raft entries applied to the state machine.",
            )
            .expect("static metric"),
            revision: IntGauge::new(
                "rudder_store_mvcc_revision",
                "The store's current revision.",
            )
            .expect("static metric"),
            watchers: IntGauge::new("rudder_store_watchers", "Open watches across all streams.")
                .expect("static metric"),
            raft_term: IntGauge::new("rudder_store_raft_term", "The raft term this member is in.")
                .expect("static metric"),
            leader_changes: IntCounter::new(
                "rudder_store_leader_changes_seen_total",
                "Times this member saw a new leader.",
            )
            .expect("static metric"),
            proposals_pending: IntGauge::new(
                "rudder_store_proposals_pending",
                "Log entries appended but not yet applied.",
            )
            .expect("static metric"),
            is_leader: IntGauge::new("rudder_store_is_leader", "1 while this member leads.")
                .expect("static metric"),
            db_size: IntGauge::new(
                "rudder_store_db_total_size_in_bytes",
                "Bytes of the database's files on disk.",
            )
            .expect("static metric"),
        }
    }

    /// Registers every metric in `registry`.
    pub fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.wal_fsync_seconds.clone()))?;
        registry.register(Box::new(self.log_appends_acked_early.clone()))?;
        registry.register(Box::new(self.proposals_applied.clone()))?;
        registry.register(Box::new(self.revision.clone()))?;
        registry.register(Box::new(self.watchers.clone()))?;
        registry.register(Box::new(self.raft_term.clone()))?;
        registry.register(Box::new(self.leader_changes.clone()))?;
        registry.register(Box::new(self.proposals_pending.clone()))?;
        registry.register(Box::new(self.is_leader.clone()))?;
        registry.register(Box::new(self.db_size.clone()))?;
        Ok(())
    }
}
