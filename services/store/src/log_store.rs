//! The raft log and vote on rocksdb: openraft's [`RaftLogStorage`].
//!
//! Durability contract:
//! - `save_vote` returns only once the vote is fsync'd.
//! - `append` writes the entries to rocksdb (readable at once) and returns; the
//!   [`LogFlushed`] callback fires only after an fsync of the write-ahead log that covers
//!   them. A dedicated flusher thread performs that fsync for every append queued while the
//!   previous one ran (group commit): under load, many appends share one fsync, and the raft
//!   core never blocks on the disk. The one exception: a leader's own entries, which
//!   [`EarlyAck`] lets it report at once so replication overlaps its fsync; the transport
//!   then holds followers' acknowledgements until [`LocalDurability`] says the fsync is done
//!   (see [`crate::durability`]).
//! - `truncate` and `purge` are fsync'd too (they are rare), keeping the log free of holes.
//! - Writes are serialised: each is issued to rocksdb in call order before the call returns,
//!   and rocksdb's write-ahead log keeps that order.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, EntryPayload, LogState, OptionalSend, RaftLogReader, StorageIOError};
use prometheus::IntCounter;
use rocksdb::{DB, Direction, IteratorMode, WriteBatch};
use tracing::{error, info_span};

use crate::db::{self, CF_LOG, CF_RAFT};
use crate::durability::{EarlyAck, LocalDurability};
use crate::error::Error;
use crate::metrics::StoreMetrics;
use crate::state_machine;
use crate::types::{Entry, LogId, NodeId, StorageError, StoredMembership, TypeConfig, Vote};

const KEY_VOTE: &[u8] = b"vote";
const KEY_LAST_PURGED: &[u8] = b"last_purged";
const KEY_COMMITTED: &[u8] = b"committed";

fn io_err(e: impl std::error::Error + 'static) -> AnyError {
    AnyError::new(&e)
}

fn read_logs_err(e: Error) -> StorageError {
    StorageIOError::read_logs(io_err(e)).into()
}

fn write_logs_err(e: Error) -> StorageError {
    StorageIOError::write_logs(io_err(e)).into()
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The raft log of one member. Cloning gives another handle on the same log (the log
/// reader, which only reads: the early-ack state it copies is never consulted).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    flusher: Arc<Flusher>,
    durability: LocalDurability,
    early: EarlyAck,
    acked_early: IntCounter,
    /// Index of the latest membership entry in the log, if it holds one.
    membership_index: Option<u64>,
}

/// The group-commit thread. When the last handle drops, the thread finishes the fsyncs it
/// was asked for and is joined, so the database is closed once every store is dropped.
struct Flusher {
    tx: Option<mpsc::Sender<FlushRequest>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// One append for the flusher to cover: its write sequence number, and the callback to
/// complete after the fsync (none when the append was acknowledged early).
struct FlushRequest {
    seq: u64,
    callback: Option<LogFlushed<TypeConfig>>,
}

impl Drop for Flusher {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl LogStore {
    /// Opens the log of member `own_id` in `db` and starts its flusher thread.
    pub fn new(db: Arc<DB>, own_id: NodeId, metrics: &StoreMetrics) -> Result<Self, Error> {
        let (tx, rx) = mpsc::channel::<FlushRequest>();
        let flush_db = db.clone();
        let durability = LocalDurability::default();
        let flushed = durability.clone();
        let fsync = metrics.wal_fsync_seconds.clone();
        let thread = std::thread::Builder::new()
            .name("raft-log-flusher".into())
            .spawn(move || {
                let _span = info_span!("raft_log_flusher").entered();
                // Each round takes every append queued so far and covers them with one fsync.
                while let Ok(first) = rx.recv() {
                    let mut waiting = vec![first];
                    waiting.extend(rx.try_iter());
                    let started = Instant::now();
                    let result = flush_db.flush_wal(true);
                    fsync.observe(started.elapsed().as_secs_f64());
                    match &result {
                        Ok(()) => flushed.flushed(waiting.iter().map(|r| r.seq).max().unwrap_or(0)),
                        Err(e) => {
                            error!(error = %e, "fsync of the raft log failed");
                            flushed.fail();
                        }
                    }
                    for cb in waiting.into_iter().filter_map(|r| r.callback) {
                        cb.log_io_completed(
                            result
                                .as_ref()
                                .map(|_| ())
                                .map_err(|e| std::io::Error::other(e.to_string())),
                        );
                    }
                }
            })?;
        let mut store = Self {
            db,
            flusher: Arc::new(Flusher {
                tx: Some(tx),
                thread: Some(thread),
            }),
            durability,
            early: EarlyAck::new(own_id, None, None),
            acked_early: metrics.log_appends_acked_early.clone(),
            membership_index: None,
        };
        if let Some(vote) = store.get_meta::<Vote>(KEY_VOTE)? {
            store.early.vote_saved(&vote);
        }
        store.reload_membership()?;
        Ok(store)
    }

    /// What the log has on disk, for the transport to hold followers' acknowledgements.
    pub fn durability(&self) -> LocalDurability {
        self.durability.clone()
    }

    /// Finds the latest membership: the last membership entry in the log, or else the one
    /// the state machine applied (the log's may have been purged into a snapshot).
    fn reload_membership(&mut self) -> Result<(), Error> {
        let iter = self
            .db
            .iterator_cf(db::cf(&self.db, CF_LOG), IteratorMode::End);
        for item in iter {
            let (_, value) = item?;
            let entry: Entry = db::decode(&value)?;
            if let EntryPayload::Membership(m) = entry.payload {
                self.membership_index = Some(entry.log_id.index);
                self.early
                    .membership_changed(Some(&StoredMembership::new(Some(entry.log_id), m)));
                return Ok(());
            }
        }
        self.membership_index = None;
        let applied = state_machine::applied_membership(&self.db)?;
        self.early.membership_changed(applied.as_ref());
        Ok(())
    }

    fn get_meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, Error> {
        match self.db.get_cf(db::cf(&self.db, CF_RAFT), key)? {
            Some(bytes) => Ok(Some(db::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    fn put_meta<T: serde::Serialize>(
        &self,
        key: &[u8],
        value: &T,
        sync: bool,
    ) -> Result<(), Error> {
        let opts = if sync { db::synced() } else { db::unsynced() };
        self.db
            .put_cf_opt(db::cf(&self.db, CF_RAFT), key, db::encode(value)?, &opts)?;
        Ok(())
    }

    fn last_entry_id(&self) -> Result<Option<LogId>, Error> {
        let mut iter = self
            .db
            .iterator_cf(db::cf(&self.db, CF_LOG), IteratorMode::End);
        match iter.next() {
            Some(item) => {
                let (_, value) = item?;
                let entry: Entry = db::decode(&value)?;
                Ok(Some(entry.log_id))
            }
            None => Ok(None),
        }
    }

    fn read_range(&self, start: u64, end: Bound<u64>) -> Result<Vec<Entry>, Error> {
        let from = index_key(start);
        let iter = self.db.iterator_cf(
            db::cf(&self.db, CF_LOG),
            IteratorMode::From(&from, Direction::Forward),
        );
        let mut out = Vec::new();
        for item in iter {
            let (key, value) = item?;
            let index = u64::from_be_bytes(
                key.as_ref()
                    .try_into()
                    .map_err(|_| Error::corrupt("log key is not 8 bytes"))?,
            );
            let past_end = match end {
                Bound::Included(e) => index > e,
                Bound::Excluded(e) => index >= e,
                Bound::Unbounded => false,
            };
            if past_end {
                break;
            }
            out.push(db::decode::<Entry>(&value)?);
        }
        Ok(out)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(s) => *s,
            Bound::Excluded(s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        };
        self.read_range(start, range.end_bound().cloned())
            .map_err(read_logs_err)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = self.get_meta(KEY_LAST_PURGED).map_err(read_logs_err)?;
        let last = self.last_entry_id().map_err(read_logs_err)?;
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last.or(last_purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.put_meta(KEY_VOTE, vote, true)
            .map_err(|e| StorageIOError::write_vote(io_err(e)))?;
        self.early.vote_saved(vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.get_meta(KEY_VOTE)
            .map_err(|e| StorageIOError::read_vote(io_err(e)).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not fsync'd: losing it only means re-learning the commit index from the leader.
        self.put_meta(KEY_COMMITTED, &committed, false)
            .map_err(write_logs_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self
            .get_meta::<Option<LogId>>(KEY_COMMITTED)
            .map_err(read_logs_err)?
            .flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let stopped =
            |what: &str| write_logs_err(Error::Io(std::io::Error::other(what.to_string())));
        if self.durability.has_failed() {
            return Err(stopped(
                "an fsync of the raft log failed; refusing further writes",
            ));
        }
        let entries: Vec<Entry> = entries.into_iter().collect();
        let Some(first_index) = entries.first().map(|e| e.log_id.index) else {
            callback.log_io_completed(Ok(()));
            return Ok(());
        };
        let early = self.early.allows(&entries);
        let cf = db::cf(&self.db, CF_LOG);
        let mut batch = WriteBatch::default();
        for entry in &entries {
            let value = db::encode(entry).map_err(write_logs_err)?;
            batch.put_cf(cf, index_key(entry.log_id.index), value);
        }
        self.db
            .write_opt(batch, &db::unsynced())
            .map_err(|e| write_logs_err(e.into()))?;
        let seq = self.durability.written(first_index);
        for entry in entries {
            if let EntryPayload::Membership(m) = entry.payload {
                self.membership_index = Some(entry.log_id.index);
                self.early
                    .membership_changed(Some(&StoredMembership::new(Some(entry.log_id), m)));
            }
        }
        // Readable now; durable when the flusher's fsync completes (the callback, unless
        // acknowledged early).
        let callback = if early {
            self.acked_early.inc();
            callback.log_io_completed(Ok(()));
            None
        } else {
            Some(callback)
        };
        let sent = match &self.flusher.tx {
            Some(tx) => tx.send(FlushRequest { seq, callback }).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        Err(stopped("raft log flusher has stopped"))
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(
            db::cf(&self.db, CF_LOG),
            index_key(log_id.index),
            index_key(u64::MAX),
        );
        batch.delete_cf(db::cf(&self.db, CF_LOG), index_key(u64::MAX));
        self.db
            .write_opt(batch, &db::synced())
            .map_err(|e| write_logs_err(e.into()))?;
        // Make every earlier unsynced append durable too, so no pending write outlives the
        // truncate (the log is rewritten from a lower index next).
        self.db
            .flush_wal(true)
            .map_err(|e| write_logs_err(e.into()))?;
        self.durability.all_flushed();
        if self.membership_index.is_some_and(|i| i >= log_id.index) {
            self.reload_membership().map_err(write_logs_err)?;
        }
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        let last_purged = db::encode(&log_id).map_err(write_logs_err)?;
        // the purge point first, so the log never claims entries it no longer has
        batch.put_cf(db::cf(&self.db, CF_RAFT), KEY_LAST_PURGED, last_purged);
        batch.delete_range_cf(
            db::cf(&self.db, CF_LOG),
            index_key(0),
            index_key(log_id.index + 1),
        );
        self.db
            .write_opt(batch, &db::synced())
            .map_err(|e| write_logs_err(e.into()))
    }
}
