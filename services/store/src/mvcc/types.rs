//! The store's domain types: what a client asks the MVCC keyspace to do and what it answers.
//!
//! They mirror etcd's `etcdserverpb`/`mvccpb` messages field for field, but are plain serde
//! types: they travel inside raft log entries (postcard-encoded) and are converted to and from
//! the wire messages in one place (`convert`), so the deciding code never sees protobuf.

use serde::{Deserialize, Serialize};

/// A point in the store's history: `main` is the revision a client sees, `sub` orders the
/// changes one transaction makes within it (etcd's `revision{main, sub}`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Revision {
    pub main: i64,
    pub sub: i64,
}

impl Revision {
    pub const fn new(main: i64, sub: i64) -> Self {
        Self { main, sub }
    }

    /// Big-endian bytes, so that rocksdb's byte order is revision order.
    pub fn to_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&(self.main as u64).to_be_bytes());
        out[8..].copy_from_slice(&(self.sub as u64).to_be_bytes());
        out
    }

    /// Inverse of [`Revision::to_bytes`]; `None` for a key of the wrong length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let main: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
        let sub: [u8; 8] = bytes.get(8..16)?.try_into().ok()?;
        (bytes.len() == 16).then(|| Self {
            main: u64::from_be_bytes(main) as i64,
            sub: u64::from_be_bytes(sub) as i64,
        })
    }
}

/// One version of a key, exactly etcd's `mvccpb.KeyValue`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub value: Vec<u8>,
    pub lease: i64,
}

/// What the history holds at one revision: a new version of a key, or its deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    Put(KeyValue),
    /// The key was deleted at this revision (etcd's tombstone).
    Tombstone {
        key: Vec<u8>,
    },
}

impl Record {
    pub fn key(&self) -> &[u8] {
        match self {
            Record::Put(kv) => &kv.key,
            Record::Tombstone { key } => key,
        }
    }
}

/// A change a watcher sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// For a delete: only `key` and `mod_revision` are set, as etcd sends it.
    pub kv: KeyValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

impl Event {
    /// The event a history record stands for.
    pub fn from_record(rev: Revision, record: Record) -> Self {
        match record {
            Record::Put(kv) => Event {
                kind: EventKind::Put,
                kv,
            },
            Record::Tombstone { key } => Event {
                kind: EventKind::Delete,
                kv: KeyValue {
                    key,
                    mod_revision: rev.main,
                    ..KeyValue::default()
                },
            },
        }
    }
}

/// etcd's sort order for Range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SortOrder {
    #[default]
    None,
    Ascend,
    Descend,
}

/// etcd's sort target for Range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SortTarget {
    #[default]
    Key,
    Version,
    Create,
    Mod,
    Value,
}

/// etcd's `RangeRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RangeRequest {
    pub key: Vec<u8>,
    /// Empty: just `key`. `[0]`: every key ≥ `key`. Otherwise the half-open `[key, range_end)`.
    pub range_end: Vec<u8>,
    pub limit: i64,
    /// ≤ 0 means the current revision.
    pub revision: i64,
    pub sort_order: SortOrder,
    pub sort_target: SortTarget,
    pub serializable: bool,
    pub keys_only: bool,
    pub count_only: bool,
    pub min_mod_revision: i64,
    pub max_mod_revision: i64,
    pub min_create_revision: i64,
    pub max_create_revision: i64,
}

/// etcd's `RangeResponse` without the header.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RangeResponse {
    pub kvs: Vec<KeyValue>,
    /// More keys matched than `limit` let through.
    pub more: bool,
    /// Every key that matched, even those `limit` cut.
    pub count: i64,
}

/// etcd's `PutRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PutRequest {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub lease: i64,
    pub prev_kv: bool,
    pub ignore_value: bool,
    pub ignore_lease: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PutResponse {
    pub prev_kv: Option<KeyValue>,
}

/// etcd's `DeleteRangeRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeleteRangeRequest {
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    pub prev_kv: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeleteRangeResponse {
    pub deleted: i64,
    pub prev_kvs: Vec<KeyValue>,
}

/// What a txn compare looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareTarget {
    Version(i64),
    Create(i64),
    Mod(i64),
    Value(Vec<u8>),
    Lease(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareResult {
    Equal,
    Greater,
    Less,
    NotEqual,
}

/// etcd's `Compare`: `target(key) result value`, over every key in the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    pub result: CompareResult,
    pub target: CompareTarget,
}

/// One operation of a txn branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOp {
    Range(RangeRequest),
    Put(PutRequest),
    DeleteRange(DeleteRangeRequest),
    Txn(TxnRequest),
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnRequest {
    pub compare: Vec<Compare>,
    pub success: Vec<TxnOp>,
    pub failure: Vec<TxnOp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOpResponse {
    Range(RangeResponse),
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnResponse {
    pub succeeded: bool,
    pub responses: Vec<TxnOpResponse>,
}

/// A lease as the replicated state knows it: its id and granted TTL. When it expires is the
/// leader's business (its clock), not the state machine's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub id: i64,
    pub ttl: i64,
}
