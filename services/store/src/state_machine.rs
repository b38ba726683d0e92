//! The replicated state machine on rocksdb: openraft's [`RaftStateMachine`].
//!
//! Applying a batch of committed entries runs them through the [`Mvcc`] keyspace and writes
//! every resulting change, with the new last-applied log id, in one rocksdb `WriteBatch`.
//!
//! Durability contract: that write is not fsync'd. It sits in the write-ahead log the raft
//! log shares (see [`crate::db`]), so the next fsync'd log append or purge makes it durable;
//! until then a crash loses only entries the log still holds and openraft re-applies from the
//! last-applied id the state machine reports. Snapshots are files, written then renamed and
//! fsync'd; installing one replaces the keyspace in one fsync'd batch.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use openraft::storage::RaftStateMachine;
use openraft::{AnyError, EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageIOError};
use rocksdb::{DB, Direction, IteratorMode, WriteBatch};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::db::{self, CF_KV, CF_LEASE, CF_SM};
use crate::error::{Error, Result};
use crate::metrics::StoreMetrics;
use crate::mvcc::{
    Event, History, LeaseRecord, Mvcc, RangeRequest, RangeResponse, Record, Response, ResponseBody,
    Revision, WriteSet,
};
use crate::types::{
    Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

const KEY_APPLIED: &[u8] = b"applied";
const KEY_MEMBERSHIP: &[u8] = b"membership";
const KEY_REVISION: &[u8] = b"revision";
const KEY_COMPACTED: &[u8] = b"compacted";

const SNAPSHOT_FILE: &str = "current.snap";

fn any(e: Error) -> AnyError {
    AnyError::new(&e)
}

fn sm_read_err(e: Error) -> StorageError {
    StorageIOError::read_state_machine(any(e)).into()
}

fn sm_write_err(e: Error) -> StorageError {
    StorageIOError::write_state_machine(any(e)).into()
}

fn snapshot_err(e: Error) -> StorageError {
    StorageIOError::write_snapshot(None, any(e)).into()
}

/// The history as rocksdb holds it (column family `kv`).
pub struct RocksHistory<'a> {
    db: &'a DB,
}

impl History for RocksHistory<'_> {
    fn get(&self, rev: Revision) -> Result<Option<Record>> {
        match self
            .db
            .get_pinned_cf(db::cf(self.db, CF_KV), rev.to_bytes())?
        {
            Some(bytes) => Ok(Some(db::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    fn scan(&self, from: i64, limit: usize) -> Result<Vec<(Revision, Record)>> {
        let start = Revision::new(from, 0).to_bytes();
        let iter = self.db.iterator_cf(
            db::cf(self.db, CF_KV),
            IteratorMode::From(&start, Direction::Forward),
        );
        let mut out: Vec<(Revision, Record)> = Vec::new();
        for item in iter {
            let (key, value) = item?;
            let rev =
                Revision::from_bytes(&key).ok_or_else(|| Error::corrupt("bad revision key"))?;
            if out.len() >= limit && out.last().is_some_and(|(last, _)| last.main != rev.main) {
                break;
            }
            out.push((rev, db::decode(&value)?));
        }
        Ok(out)
    }
}

/// What the state machine holds in memory, guarded as one.
#[derive(Debug)]
pub struct SmState {
    pub mvcc: Mvcc,
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
}

/// The changes one applied batch made, as watchers receive them.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The store's revision after the batch.
    pub revision: i64,
    pub events: Vec<Event>,
    /// The state was replaced by a snapshot: the events in between are only in the history,
    /// so watchers must replay from there.
    pub resync: bool,
}

struct Shared {
    db: Arc<DB>,
    /// Held for writing from the index update until the rocksdb write is done, so readers
    /// never see an index naming revisions the history lacks.
    state: RwLock<SmState>,
    snapshot_dir: PathBuf,
    applied: broadcast::Sender<Arc<Applied>>,
    metrics: StoreMetrics,
}

/// The store's state machine. Cloning gives another handle on the same state.
#[derive(Clone)]
pub struct StateMachine {
    shared: Arc<Shared>,
}

/// The body of a snapshot: the raw history and lease rows, and the counters.
#[derive(Serialize, Deserialize)]
struct SnapshotBody {
    revision: i64,
    compacted: i64,
    kv: Vec<(Vec<u8>, Vec<u8>)>,
    leases: Vec<(Vec<u8>, Vec<u8>)>,
}

impl StateMachine {
    /// Opens the state machine in `db`, rebuilding the key index from the history.
    pub fn open(db: Arc<DB>, snapshot_dir: &Path, metrics: StoreMetrics) -> Result<Self> {
        std::fs::create_dir_all(snapshot_dir)?;
        let state = load_state(&db)?;
        metrics.revision.set(state.mvcc.current_revision());
        let (applied, _) = broadcast::channel(1024);
        Ok(Self {
            shared: Arc::new(Shared {
                db,
                state: RwLock::new(state),
                snapshot_dir: snapshot_dir.to_path_buf(),
                applied,
                metrics,
            }),
        })
    }

    /// Watchers' feed: every applied batch's events. A receiver that lags behind reads what it
    /// missed from the history instead.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Applied>> {
        self.shared.applied.subscribe()
    }

    fn read_state(&self) -> RwLockReadGuard<'_, SmState> {
        self.shared.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on a consistent view of the keyspace and its history.
    pub fn read<T>(&self, f: impl FnOnce(&SmState, &RocksHistory<'_>) -> T) -> T {
        let state = self.read_state();
        f(
            &state,
            &RocksHistory {
                db: &self.shared.db,
            },
        )
    }

    /// A Range against the applied state.
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse> {
        self.read(|st, h| st.mvcc.range(h, req))
    }

    pub fn current_revision(&self) -> i64 {
        self.read_state().mvcc.current_revision()
    }

    pub fn last_applied(&self) -> Option<LogId> {
        self.read_state().last_applied
    }

    fn apply_entries(&self, entries: Vec<Entry>) -> Result<Vec<Response>> {
        let sh = &*self.shared;
        let mut state = sh.state.write().unwrap_or_else(|p| p.into_inner());
        let history = RocksHistory { db: &sh.db };
        let mut ws = WriteSet::default();
        let mut responses = Vec::with_capacity(entries.len());
        let count = entries.len() as u64;
        for entry in entries {
            state.last_applied = Some(entry.log_id);
            let resp = match entry.payload {
                EntryPayload::Normal(req) => state.mvcc.apply(&history, &mut ws, &req)?,
                EntryPayload::Blank => empty_response(&state.mvcc),
                EntryPayload::Membership(m) => {
                    state.membership = StoredMembership::new(Some(entry.log_id), m);
                    empty_response(&state.mvcc)
                }
            };
            responses.push(resp);
        }
        let mut batch = WriteBatch::default();
        let kv = db::cf(&sh.db, CF_KV);
        for (rev, record) in &ws.records {
            batch.put_cf(kv, rev.to_bytes(), db::encode(record)?);
        }
        for rev in &ws.deleted {
            batch.delete_cf(kv, rev.to_bytes());
        }
        let lease_cf = db::cf(&sh.db, CF_LEASE);
        for (id, lease) in &ws.leases {
            match lease {
                Some(l) => batch.put_cf(lease_cf, id.to_be_bytes(), db::encode(l)?),
                None => batch.delete_cf(lease_cf, id.to_be_bytes()),
            }
        }
        put_counters(&sh.db, &mut batch, &state)?;
        sh.db.write_opt(batch, &db::unsynced())?;
        let revision = state.mvcc.current_revision();
        drop(state);

        sh.metrics.proposals_applied.inc_by(count);
        sh.metrics.revision.set(revision);
        if !ws.events.is_empty() {
            // no receivers is fine: nobody watches
            let _ = sh.applied.send(Arc::new(Applied {
                revision,
                events: ws.events,
                resync: false,
            }));
        }
        Ok(responses)
    }

    fn snapshot_path(&self) -> PathBuf {
        self.shared.snapshot_dir.join(SNAPSHOT_FILE)
    }

    /// A consistent copy of the applied state: last applied id, membership, and the body.
    fn dump(&self) -> Result<(Option<LogId>, StoredMembership, SnapshotBody)> {
        let sh = &*self.shared;
        // the rocksdb snapshot is taken under the lock, so it matches last_applied exactly
        let state = self.read_state();
        let snap = sh.db.snapshot();
        let last_applied = state.last_applied;
        let membership = state.membership.clone();
        let revision = state.mvcc.current_revision();
        let compacted = state.mvcc.compacted_revision();
        drop(state);
        let dump = |cf: &str| -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
            snap.iterator_cf(db::cf(&sh.db, cf), IteratorMode::Start)
                .map(|item| {
                    let (k, v) = item?;
                    Ok((k.to_vec(), v.to_vec()))
                })
                .collect()
        };
        let body = SnapshotBody {
            revision,
            compacted,
            kv: dump(CF_KV)?,
            leases: dump(CF_LEASE)?,
        };
        Ok((last_applied, membership, body))
    }

    /// The applied state as one blob, for Maintenance/Snapshot (`etcdctl snapshot save`).
    /// It does not touch raft's current snapshot.
    pub fn export(&self) -> Result<Vec<u8>> {
        let (last_applied, membership, body) = self.dump()?;
        db::encode(&(last_applied, membership, body))
    }

    /// Builds a snapshot of the applied state and makes it the current one.
    fn build(&self) -> Result<Snapshot> {
        let (last_applied, membership, body) = self.dump()?;
        let snapshot_id = match last_applied {
            Some(id) => format!(
                "{}-{}-{}",
                id.leader_id.term,
                id.index,
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0)
            ),
            None => "empty".to_string(),
        };
        let meta = SnapshotMeta {
            last_log_id: last_applied,
            last_membership: membership,
            snapshot_id,
        };
        let data = db::encode(&body)?;
        write_snapshot_file(&self.snapshot_path(), &meta, &data)?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(std::io::Cursor::new(data)),
        })
    }

    /// Replaces the whole state with a snapshot's, durably, and makes it the current one.
    fn install(&self, meta: &SnapshotMeta, data: Vec<u8>) -> Result<()> {
        let sh = &*self.shared;
        let body: SnapshotBody = db::decode(&data)?;
        let mut batch = WriteBatch::default();
        let kv = db::cf(&sh.db, CF_KV);
        let lease_cf = db::cf(&sh.db, CF_LEASE);
        clear_cf(&sh.db, &mut batch, CF_KV)?;
        clear_cf(&sh.db, &mut batch, CF_LEASE)?;
        for (k, v) in &body.kv {
            batch.put_cf(kv, k, v);
        }
        for (k, v) in &body.leases {
            batch.put_cf(lease_cf, k, v);
        }
        let mut mvcc = Mvcc::restored(body.revision, body.compacted);
        for (_, v) in &body.leases {
            mvcc.restore_lease(&db::decode::<LeaseRecord>(v)?);
        }
        for (k, v) in &body.kv {
            let rev = Revision::from_bytes(k).ok_or_else(|| Error::corrupt("bad revision key"))?;
            mvcc.restore_record(rev, &db::decode(v)?);
        }
        let new_state = SmState {
            mvcc,
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
        };
        write_snapshot_file(&self.snapshot_path(), meta, &data)?;
        let mut state = sh.state.write().unwrap_or_else(|p| p.into_inner());
        put_counters(&sh.db, &mut batch, &new_state)?;
        sh.db.write_opt(batch, &db::synced())?;
        *state = new_state;
        sh.metrics.revision.set(state.mvcc.current_revision());
        let revision = state.mvcc.current_revision();
        drop(state);
        tracing::info!(last_log_id = ?meta.last_log_id, revision, "installed snapshot");
        let _ = sh.applied.send(Arc::new(Applied {
            revision,
            events: Vec::new(),
            resync: true,
        }));
        Ok(())
    }

    fn current_snapshot(&self) -> Result<Option<Snapshot>> {
        let path = self.snapshot_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let len_bytes: [u8; 8] = bytes
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::corrupt("snapshot file too short"))?;
        let meta_len = u64::from_be_bytes(len_bytes) as usize;
        let meta_end = 8usize
            .checked_add(meta_len)
            .filter(|end| *end <= bytes.len())
            .ok_or_else(|| Error::corrupt("snapshot header out of bounds"))?;
        let meta = db::decode(&bytes[8..meta_end])?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(std::io::Cursor::new(bytes[meta_end..].to_vec())),
        }))
    }
}

fn empty_response(mvcc: &Mvcc) -> Response {
    Response {
        revision: mvcc.current_revision(),
        result: Ok(ResponseBody::Empty),
    }
}

fn put_counters(db: &DB, batch: &mut WriteBatch, state: &SmState) -> Result<()> {
    let sm = db::cf(db, CF_SM);
    batch.put_cf(sm, KEY_APPLIED, db::encode(&state.last_applied)?);
    batch.put_cf(sm, KEY_MEMBERSHIP, db::encode(&state.membership)?);
    batch.put_cf(
        sm,
        KEY_REVISION,
        db::encode(&state.mvcc.current_revision())?,
    );
    batch.put_cf(
        sm,
        KEY_COMPACTED,
        db::encode(&state.mvcc.compacted_revision())?,
    );
    Ok(())
}

fn clear_cf(db: &DB, batch: &mut WriteBatch, name: &str) -> Result<()> {
    let cf = db::cf(db, name);
    for item in db.iterator_cf(cf, IteratorMode::Start) {
        let (k, _) = item?;
        batch.delete_cf(cf, k);
    }
    Ok(())
}

/// The membership last applied, as persisted (`None` before any was applied).
pub fn applied_membership(db: &DB) -> Result<Option<StoredMembership>> {
    get_sm(db, KEY_MEMBERSHIP)
}

fn get_sm<T: serde::de::DeserializeOwned>(db: &DB, key: &[u8]) -> Result<Option<T>> {
    match db.get_cf(db::cf(db, CF_SM), key)? {
        Some(bytes) => Ok(Some(db::decode(&bytes)?)),
        None => Ok(None),
    }
}

/// Rebuilds the in-memory state from rocksdb: counters, leases, then the history in order.
fn load_state(db: &DB) -> Result<SmState> {
    let last_applied: Option<LogId> = get_sm::<Option<LogId>>(db, KEY_APPLIED)?.flatten();
    let membership: StoredMembership = get_sm(db, KEY_MEMBERSHIP)?.unwrap_or_default();
    let revision: i64 = get_sm(db, KEY_REVISION)?.unwrap_or(1);
    let compacted: i64 = get_sm(db, KEY_COMPACTED)?.unwrap_or(0);
    let mut mvcc = Mvcc::restored(revision, compacted);
    for item in db.iterator_cf(db::cf(db, CF_LEASE), IteratorMode::Start) {
        let (_, v) = item?;
        mvcc.restore_lease(&db::decode(&v)?);
    }
    for item in db.iterator_cf(db::cf(db, CF_KV), IteratorMode::Start) {
        let (k, v) = item?;
        let rev = Revision::from_bytes(&k).ok_or_else(|| Error::corrupt("bad revision key"))?;
        mvcc.restore_record(rev, &db::decode(&v)?);
    }
    Ok(SmState {
        mvcc,
        last_applied,
        membership,
    })
}

/// Writes `[meta length][meta][data]` to a temporary file, fsyncs it, and renames it over
/// `path`, so a crash leaves either the old snapshot or the new one.
fn write_snapshot_file(path: &Path, meta: &SnapshotMeta, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let meta_bytes = db::encode(meta)?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&(meta_bytes.len() as u64).to_be_bytes())?;
        f.write_all(&meta_bytes)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Runs blocking rocksdb or file work off the async runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let sm = self.clone();
        blocking(move || sm.build()).await.map_err(snapshot_err)
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let state = self.read_state();
        Ok((state.last_applied, state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // An unsynced rocksdb write is a memtable insert and a buffered WAL append: cheap
        // enough for the state machine's own task.
        self.apply_entries(entries.into_iter().collect())
            .map_err(sm_write_err)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<std::io::Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(std::io::Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<std::io::Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let sm = self.clone();
        let meta = meta.clone();
        let data = snapshot.into_inner();
        blocking(move || sm.install(&meta, data))
            .await
            .map_err(snapshot_err)
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let sm = self.clone();
        blocking(move || sm.current_snapshot())
            .await
            .map_err(sm_read_err)
    }
}
