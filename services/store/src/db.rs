//! The one rocksdb instance a member keeps, and how keys are laid out in it.
//!
//! The raft log and the state machine share it, in separate column families, on purpose:
//! rocksdb has one write-ahead log for all column families, written in order, so the fsync
//! that makes a log append durable also makes every earlier state-machine write durable. The
//! state machine can therefore write without fsync (its writes are replayable from the log)
//! and still never be behind a purged log after a crash, because purging is itself a write
//! that follows them in the WAL.

use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, DB, Options};

use crate::error::Result;

/// Raft log entries: big-endian index → postcard `Entry`.
pub const CF_LOG: &str = "log";
/// Raft's own state: vote, last purged log id, committed log id.
pub const CF_RAFT: &str = "raft";
/// The MVCC history: 16-byte revision → postcard `Record`.
pub const CF_KV: &str = "kv";
/// Leases: big-endian id → postcard `LeaseRecord`.
pub const CF_LEASE: &str = "lease";
/// State-machine counters: last applied log id, membership, revision, compacted revision.
pub const CF_SM: &str = "sm";

const ALL_CFS: [&str; 5] = [CF_LOG, CF_RAFT, CF_KV, CF_LEASE, CF_SM];

/// Opens (creating if needed) the member's database under `dir`.
pub fn open(dir: &Path) -> Result<Arc<DB>> {
    std::fs::create_dir_all(dir)?;
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_max_background_jobs(2);
    // Bigger memtables than the default 64 MiB would only delay flushes on a small machine.
    let cfs = ALL_CFS
        .iter()
        .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
    let db = DB::open_cf_descriptors(&opts, dir, cfs)?;
    Ok(Arc::new(db))
}

/// The column family `name`; every one is created at open, so its absence is a bug.
pub fn cf<'a>(db: &'a DB, name: &str) -> &'a rocksdb::ColumnFamily {
    db.cf_handle(name)
        .unwrap_or_else(|| panic!("column family {name} is created at open"))
}

/// Write options for writes that must be on disk before the call returns.
pub fn synced() -> rocksdb::WriteOptions {
    let mut w = rocksdb::WriteOptions::default();
    w.set_sync(true);
    w
}

/// Write options for writes the raft log can replay, made durable by the next synced write.
pub fn unsynced() -> rocksdb::WriteOptions {
    let mut w = rocksdb::WriteOptions::default();
    w.set_sync(false);
    w
}

pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    Ok(postcard::to_stdvec(value)?)
}

pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    Ok(postcard::from_bytes(bytes)?)
}

/// The on-disk size of the database's files (tables, write-ahead log, manifest), for Status
/// and metrics: what etcd reports as the size of its bolt file.
pub fn size_bytes(db: &DB) -> u64 {
    std::fs::read_dir(db.path())
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
