//! rudder-store: an etcd v3-compatible key/value store, replicated with openraft, on rocksdb.
//!
//! Storage:
//! - [`mvcc`]: the pure deciding logic of the keyspace (revisions, ranges, txns, leases'
//!   keys, compaction), with no I/O.
//! - [`db`]: the one rocksdb instance and its column families, shared by the raft log and
//!   the state machine so that one fsync'd log write also makes earlier state writes durable.
//! - [`log_store`]: openraft's `RaftLogStorage` (log entries, vote) with group commit;
//!   [`durability`]: which entries are on disk, and when a leader may replicate before its
//!   own fsync.
//! - [`state_machine`]: openraft's `RaftStateMachine`: applies committed entries to the MVCC
//!   keyspace and persists them; builds and installs snapshots.
//! - [`types`]: the openraft type configuration.
//!
//! Serving:
//! - [`node`]: one member's raft node (propose, read index, response headers);
//!   [`proposer`]: concurrent writes share one raft entry (group commit);
//!   [`read_index`]: concurrent linearizable reads share one read index.
//! - [`grpc`], [`watch`], [`lease`]: the etcd v3 services; [`convert`]: wire ↔ domain.
//! - [`network`], [`raft_service`]: the raft transport between members (gRPC, mTLS), which
//!   also carries writes and read-index requests followers forward to the leader.
//! - [`config`], [`server`]: etcd's flags, and `run(config, shutdown)`.

pub mod config;
pub mod convert;
pub mod db;
pub mod durability;
pub mod error;
pub mod grpc;
pub mod lease;
pub mod log_store;
pub mod metrics;
pub mod mvcc;
pub mod network;
pub mod node;
pub mod proposer;
pub mod raft_service;
pub mod read_index;
pub mod server;
pub mod state_machine;
pub mod types;
pub mod watch;

pub use config::Config;
pub use error::{Error, EtcdError, Result};
pub use server::run;
