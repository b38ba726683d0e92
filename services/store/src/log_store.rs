//! The raft log and vote on rocksdb: openraft's [`RaftLogStorage`].
//!
//! Durability contract:
//! - `save_vote` returns only once the vote is fsync'd.
//! - `append` writes the entries to rocksdb (readable at once) and returns; the
//!   [`LogFlushed`] callback fires only after an fsync of the write-ahead log that covers
//!   them. A dedicated flusher thread performs that fsync for every append queued while the
//!   previous one ran (group commit): under load, many appends share one fsync, and the raft
//!   core never blocks on the disk.
//! - `truncate` and `purge` are fsync'd too (they are rare), keeping the log free of holes.
//! - Writes are serialised: each is issued to rocksdb in call order before the call returns,
//!   and rocksdb's write-ahead log keeps that order.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, LogState, OptionalSend, RaftLogReader, StorageIOError};
use rocksdb::{DB, Direction, IteratorMode, WriteBatch};
use tracing::{error, info_span};

use crate::db::{self, CF_LOG, CF_RAFT};
use crate::error::Error;
use crate::metrics::StoreMetrics;
use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote};

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

/// The raft log of one member. Cloning gives another handle on the same log (the log reader).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    flusher: Arc<Flusher>,
}

/// The group-commit thread. When the last handle drops, the thread finishes the fsyncs it
/// was asked for and is joined, so the database is closed once every store is dropped.
struct Flusher {
    tx: Option<mpsc::Sender<LogFlushed<TypeConfig>>>,
    thread: Option<std::thread::JoinHandle<()>>,
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
    /// Opens the log in `db` and starts its flusher thread.
    pub fn new(db: Arc<DB>, metrics: &StoreMetrics) -> Result<Self, Error> {
        let (tx, rx) = mpsc::channel::<LogFlushed<TypeConfig>>();
        let flush_db = db.clone();
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
                    if let Err(e) = &result {
                        error!(error = %e, "fsync of the raft log failed");
                    }
                    for cb in waiting {
                        cb.log_io_completed(
                            result
                                .as_ref()
                                .map(|_| ())
                                .map_err(|e| std::io::Error::other(e.to_string())),
                        );
                    }
                }
            })?;
        Ok(Self {
            db,
            flusher: Arc::new(Flusher {
                tx: Some(tx),
                thread: Some(thread),
            }),
        })
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
            .map_err(|e| StorageIOError::write_vote(io_err(e)).into())
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
        let cf = db::cf(&self.db, CF_LOG);
        let mut batch = WriteBatch::default();
        for entry in entries {
            let value = db::encode(&entry).map_err(write_logs_err)?;
            batch.put_cf(cf, index_key(entry.log_id.index), value);
        }
        self.db
            .write_opt(batch, &db::unsynced())
            .map_err(|e| write_logs_err(e.into()))?;
        // Readable now; durable when the flusher's fsync completes the callback.
        let sent = match &self.flusher.tx {
            Some(tx) => tx.send(callback).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        Err(write_logs_err(Error::Io(std::io::Error::other(
            "raft log flusher has stopped",
        ))))
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
            .map_err(|e| write_logs_err(e.into()))
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
