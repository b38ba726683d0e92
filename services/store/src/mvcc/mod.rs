//! The MVCC keyspace's deciding logic, free of I/O: revisions, versions, ranges at a revision,
//! txn compares, deletes, leases' keys and compaction, exactly as etcd decides them.
//!
//! The history of values (revision → [`Record`]) lives behind [`History`]; this module reads
//! it but never writes it. Every change is returned in a [`WriteSet`] that the caller makes
//! durable (the state machine: one rocksdb `WriteBatch` per applied raft batch). The key index
//! ([`index::TreeIndex`]) is in memory, as etcd's is.

pub mod hash;
pub mod index;
pub mod types;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

pub use self::index::{KeyAt, TreeIndex, in_range};
pub use self::types::*;
use crate::error::{Error, EtcdError, Result};

/// etcd's `MaxLeaseTTL`: 9,000,000,000 seconds.
pub const MAX_LEASE_TTL: i64 = 9_000_000_000;
/// etcd's default `--max-txn-ops`.
pub const MAX_TXN_OPS: usize = 128;

/// Read access to the durable history: the record written at each revision.
pub trait History {
    /// The record stored at `rev`, if it is still there.
    fn get(&self, rev: Revision) -> Result<Option<Record>>;
    /// Records with `main ≥ from`, in revision order: about `limit` of them, but never part of
    /// a revision (the last revision returned is complete), so a reader can resume at the
    /// next main revision.
    fn scan(&self, from: i64, limit: usize) -> Result<Vec<(Revision, Record)>>;
}

/// A write to the replicated state, as the raft log carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    Put(PutRequest),
    DeleteRange(DeleteRangeRequest),
    Txn(TxnRequest),
    Compact {
        revision: i64,
    },
    /// `id` is chosen by the proposer (never 0), so every member applies the same lease.
    LeaseGrant {
        id: i64,
        ttl: i64,
    },
    LeaseRevoke {
        id: i64,
    },
    /// Concurrent client writes proposed as one raft entry (group commit), applied in order,
    /// each at its own revision as if proposed alone. Never nested.
    Batch(Vec<Request>),
}

/// What applying a [`Request`] answered: the store's revision after it, and the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub revision: i64,
    pub result: Result<ResponseBody, EtcdError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseBody {
    /// A raft entry with no client request (blank or membership).
    Empty,
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
    Compact,
    LeaseGrant {
        id: i64,
        ttl: i64,
    },
    LeaseRevoke,
    /// The answers to a [`Request::Batch`], in its order.
    Batch(Vec<Response>),
}

/// The changes one or more applied requests made, for the caller to persist atomically.
#[derive(Debug, Default)]
pub struct WriteSet {
    /// New history records, by revision.
    pub records: BTreeMap<Revision, Record>,
    /// History records compaction made obsolete.
    pub deleted: Vec<Revision>,
    /// Leases granted (`Some`) or revoked (`None`).
    pub leases: BTreeMap<i64, Option<LeaseRecord>>,
    /// What watchers see, in revision order.
    pub events: Vec<Event>,
}

impl WriteSet {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.deleted.is_empty() && self.leases.is_empty()
    }
}

/// A lease as the keyspace knows it: its granted TTL and the keys attached to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseKeys {
    pub ttl: i64,
    pub keys: BTreeSet<Vec<u8>>,
}

/// The MVCC keyspace: key index, revisions and leases. Values are in the [`History`].
#[derive(Debug, Clone)]
pub struct Mvcc {
    index: TreeIndex,
    /// The revision of the last change; 1 in an empty store, as in etcd.
    current: i64,
    /// Reads below this revision fail with [`EtcdError::Compacted`].
    compacted: i64,
    leases: BTreeMap<i64, LeaseKeys>,
    /// The lease each leased key is attached to.
    key_lease: HashMap<Vec<u8>, i64>,
}

impl Default for Mvcc {
    fn default() -> Self {
        Self {
            index: TreeIndex::default(),
            current: 1,
            compacted: 0,
            leases: BTreeMap::new(),
            key_lease: HashMap::new(),
        }
    }
}

/// Reads the record at `rev`: first the not-yet-persisted writes, then the history.
fn fetch<H: History + ?Sized>(
    history: &H,
    ws: Option<&WriteSet>,
    rev: Revision,
) -> Result<KeyValue> {
    if let Some(ws) = ws
        && let Some(rec) = ws.records.get(&rev)
    {
        return match rec {
            Record::Put(kv) => Ok(kv.clone()),
            Record::Tombstone { .. } => {
                Err(Error::corrupt(format!("revision {rev:?} is a tombstone")))
            }
        };
    }
    match history.get(rev)? {
        Some(Record::Put(kv)) => Ok(kv),
        Some(Record::Tombstone { .. }) => {
            Err(Error::corrupt(format!("revision {rev:?} is a tombstone")))
        }
        None => Err(Error::corrupt(format!(
            "revision {rev:?} missing from history"
        ))),
    }
}

fn compare_values<T: Ord + ?Sized>(actual: &T, result: CompareResult, expected: &T) -> bool {
    let ord = actual.cmp(expected);
    match result {
        CompareResult::Equal => ord.is_eq(),
        CompareResult::NotEqual => ord.is_ne(),
        CompareResult::Greater => ord.is_gt(),
        CompareResult::Less => ord.is_lt(),
    }
}

fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
    match &c.target {
        CompareTarget::Version(v) => compare_values(&kv.version, c.result, v),
        CompareTarget::Create(v) => compare_values(&kv.create_revision, c.result, v),
        CompareTarget::Mod(v) => compare_values(&kv.mod_revision, c.result, v),
        CompareTarget::Value(v) => compare_values(kv.value.as_slice(), c.result, v.as_slice()),
        CompareTarget::Lease(v) => compare_values(&kv.lease, c.result, v),
    }
}

/// Checks a txn before it is proposed, as etcd's API layer does: not too many operations, and
/// no key written twice within one branch.
pub fn validate_txn(txn: &TxnRequest) -> Result<(), EtcdError> {
    if txn.compare.len() > MAX_TXN_OPS
        || txn.success.len() > MAX_TXN_OPS
        || txn.failure.len() > MAX_TXN_OPS
    {
        return Err(EtcdError::TooManyOps);
    }
    for branch in [&txn.success, &txn.failure] {
        let mut puts: BTreeSet<&[u8]> = BTreeSet::new();
        let mut deletes: Vec<(&[u8], &[u8])> = Vec::new();
        for op in branch {
            match op {
                TxnOp::Put(p) => {
                    if !puts.insert(&p.key) {
                        return Err(EtcdError::DuplicateKey);
                    }
                }
                TxnOp::DeleteRange(d) => deletes.push((&d.key, &d.range_end)),
                TxnOp::Txn(inner) => validate_txn(inner)?,
                TxnOp::Range(_) => {}
            }
        }
        for key in &puts {
            if deletes.iter().any(|(start, end)| in_range(key, start, end)) {
                return Err(EtcdError::DuplicateKey);
            }
        }
    }
    Ok(())
}

/// Whether no branch of `txn`, nested ones included, writes: such a txn is a read, served
/// from the applied state after a read index instead of through the raft log (as etcd's
/// `IsTxnReadonly`).
pub fn is_read_only(txn: &TxnRequest) -> bool {
    txn.success.iter().chain(&txn.failure).all(|op| match op {
        TxnOp::Range(_) => true,
        TxnOp::Put(_) | TxnOp::DeleteRange(_) => false,
        TxnOp::Txn(inner) => is_read_only(inner),
    })
}

impl Mvcc {
    /// A keyspace rebuilt from persisted counters; feed it the history with
    /// [`Mvcc::restore_record`] and the leases with [`Mvcc::restore_lease`].
    pub fn restored(current: i64, compacted: i64) -> Self {
        Self {
            current: current.max(1),
            compacted,
            ..Self::default()
        }
    }

    /// Replays one history record into the index; records must come in revision order, after
    /// the leases.
    pub fn restore_record(&mut self, rev: Revision, record: &Record) {
        match record {
            Record::Put(kv) => {
                self.index.restore(
                    &kv.key,
                    Revision::new(kv.create_revision, 0),
                    rev,
                    kv.version,
                );
                self.attach(&kv.key, kv.lease);
            }
            Record::Tombstone { key } => {
                self.index.tombstone(key, rev);
                self.detach(key);
            }
        }
        self.current = self.current.max(rev.main);
    }

    pub fn restore_lease(&mut self, lease: &LeaseRecord) {
        self.leases.entry(lease.id).or_default().ttl = lease.ttl;
    }

    pub fn current_revision(&self) -> i64 {
        self.current
    }

    pub fn compacted_revision(&self) -> i64 {
        self.compacted
    }

    /// Number of keys the index holds (live or with history).
    pub fn key_count(&self) -> usize {
        self.index.len()
    }

    pub fn lease(&self, id: i64) -> Option<&LeaseKeys> {
        self.leases.get(&id)
    }

    pub fn leases(&self) -> impl Iterator<Item = (i64, &LeaseKeys)> {
        self.leases.iter().map(|(id, l)| (*id, l))
    }

    /// Where `key` stood at revision `at`.
    pub fn key_at(&self, key: &[u8], at: i64) -> Option<KeyAt> {
        self.index.get(key, at)
    }

    /// Checks a read revision as etcd does: ≤ 0 is "now", above now is the future, below the
    /// compaction point is gone. Returns the revision to read at.
    pub fn read_revision(&self, requested: i64) -> Result<i64, EtcdError> {
        check_revision(requested, self.current, self.compacted)
    }

    /// A Range against the persisted state.
    pub fn range<H: History + ?Sized>(
        &self,
        history: &H,
        req: &RangeRequest,
    ) -> Result<RangeResponse> {
        self.range_in(history, None, req, self.current)
    }

    /// A read-only txn ([`is_read_only`]) against the persisted state.
    pub fn read_txn<H: History + ?Sized>(
        &self,
        history: &H,
        txn: &TxnRequest,
    ) -> Result<TxnResponse> {
        let reader = TxnReader {
            mvcc: self,
            history,
            ws: None,
            view: self.current,
        };
        let path = reader.decide(txn)?;
        reader.run_reads(txn, &path, &mut 0)
    }

    fn range_in<H: History + ?Sized>(
        &self,
        history: &H,
        ws: Option<&WriteSet>,
        req: &RangeRequest,
        current: i64,
    ) -> Result<RangeResponse> {
        let at = check_revision(req.revision, current, self.compacted)?;
        let prune = req.min_mod_revision != 0
            || req.max_mod_revision != 0
            || req.min_create_revision != 0
            || req.max_create_revision != 0;
        // etcd fetches one more than the limit to learn `more`, and everything when it must
        // sort or filter before cutting
        let fetch_limit = if req.sort_order != SortOrder::None || prune || req.limit <= 0 {
            usize::MAX
        } else {
            req.limit as usize + 1
        };
        let mut count = 0i64;
        let mut revs = Vec::new();
        for (_, key_at) in self.index.range(&req.key, &req.range_end, at) {
            count += 1;
            if !req.count_only && revs.len() < fetch_limit {
                revs.push(key_at.modified);
            }
        }
        if req.count_only {
            return Ok(RangeResponse {
                kvs: Vec::new(),
                more: false,
                count,
            });
        }
        let mut kvs = Vec::with_capacity(revs.len());
        for rev in revs {
            let mut kv = fetch(history, ws, rev)?;
            if req.keys_only {
                kv.value = Vec::new();
            }
            kvs.push(kv);
        }
        if prune {
            kvs.retain(|kv| {
                (req.max_mod_revision == 0 || kv.mod_revision <= req.max_mod_revision)
                    && (req.min_mod_revision == 0 || kv.mod_revision >= req.min_mod_revision)
                    && (req.max_create_revision == 0
                        || kv.create_revision <= req.max_create_revision)
                    && (req.min_create_revision == 0
                        || kv.create_revision >= req.min_create_revision)
            });
        }
        let order = if req.sort_target != SortTarget::Key && req.sort_order == SortOrder::None {
            SortOrder::Ascend
        } else {
            req.sort_order
        };
        if order != SortOrder::None {
            match req.sort_target {
                SortTarget::Key => {} // the index yields key order
                SortTarget::Version => kvs.sort_by_key(|kv| kv.version),
                SortTarget::Create => kvs.sort_by_key(|kv| kv.create_revision),
                SortTarget::Mod => kvs.sort_by_key(|kv| kv.mod_revision),
                SortTarget::Value => kvs.sort_by(|a, b| a.value.cmp(&b.value)),
            }
            if order == SortOrder::Descend {
                kvs.reverse();
            }
        }
        let mut more = false;
        if req.limit > 0 && kvs.len() > req.limit as usize {
            kvs.truncate(req.limit as usize);
            more = true;
        }
        Ok(RangeResponse { kvs, more, count })
    }

    /// The version of `key` just before revision `rev` (a watch event's `prev_kv`).
    pub fn prev_kv<H: History + ?Sized>(
        &self,
        history: &H,
        key: &[u8],
        rev: i64,
    ) -> Result<Option<KeyValue>> {
        match self.index.get(key, rev - 1) {
            Some(at) => match history.get(at.modified)? {
                Some(Record::Put(kv)) => Ok(Some(kv)),
                _ => Ok(None), // compacted away meanwhile
            },
            None => Ok(None),
        }
    }

    /// Applies one replicated write. Client-visible refusals are in `Response::result` (the
    /// state is then unchanged); an `Err` is a storage failure.
    pub fn apply<H: History + ?Sized>(
        &mut self,
        history: &H,
        ws: &mut WriteSet,
        req: &Request,
    ) -> Result<Response> {
        let result = match req {
            Request::Put(put) => self
                .write(history, ws, |w| {
                    w.reader().check_put(put).and_then(|()| w.put(put))
                })
                .map(|r| r.map(ResponseBody::Put)),
            Request::DeleteRange(del) => self
                .write(history, ws, |w| w.delete_range(del))
                .map(|r| r.map(ResponseBody::DeleteRange)),
            Request::Txn(txn) => self
                .write(history, ws, |w| w.txn(txn))
                .map(|r| r.map(ResponseBody::Txn)),
            Request::Compact { revision } => {
                Ok(self.compact(ws, *revision).map(|()| ResponseBody::Compact))
            }
            Request::LeaseGrant { id, ttl } => Ok(self.grant(ws, *id, *ttl)),
            Request::LeaseRevoke { id } => self.revoke(history, ws, *id),
            Request::Batch(requests) => {
                let mut responses = Vec::with_capacity(requests.len());
                for req in requests {
                    if matches!(req, Request::Batch(_)) {
                        return Err(Error::corrupt("a batch nested in a batch"));
                    }
                    responses.push(self.apply(history, ws, req)?);
                }
                Ok(Ok(ResponseBody::Batch(responses)))
            }
        }?;
        Ok(Response {
            revision: self.current,
            result,
        })
    }

    /// Applies the body of a write at the next revision; the revision advances only if
    /// something changed.
    fn write<H: History + ?Sized, T>(
        &mut self,
        history: &H,
        ws: &mut WriteSet,
        f: impl FnOnce(&mut WriteTxn<'_, H>) -> Result<T>,
    ) -> Result<Result<T, EtcdError>> {
        let mut txn = WriteTxn {
            main: self.current + 1,
            sub: 0,
            mvcc: self,
            history,
            ws,
        };
        let out = f(&mut txn);
        let changed = txn.sub > 0;
        let main = txn.main;
        match out {
            Ok(v) => {
                if changed {
                    self.current = main;
                }
                Ok(Ok(v))
            }
            // checks run before any change, so a refusal leaves nothing behind
            Err(Error::Etcd(e)) => {
                debug_assert!(!changed, "refused a write after changing state");
                Ok(Err(e))
            }
            Err(other) => Err(other),
        }
    }

    fn compact(&mut self, ws: &mut WriteSet, revision: i64) -> Result<(), EtcdError> {
        if revision <= self.compacted {
            return Err(EtcdError::Compacted);
        }
        if revision > self.current {
            return Err(EtcdError::FutureRevision);
        }
        for rev in self.index.compact(revision) {
            ws.records.remove(&rev);
            ws.deleted.push(rev);
        }
        self.compacted = revision;
        Ok(())
    }

    fn grant(&mut self, ws: &mut WriteSet, id: i64, ttl: i64) -> Result<ResponseBody, EtcdError> {
        if ttl > MAX_LEASE_TTL {
            return Err(EtcdError::LeaseTtlTooLarge);
        }
        if id <= 0 {
            return Err(EtcdError::LeaseNotFound);
        }
        if self.leases.contains_key(&id) {
            return Err(EtcdError::LeaseExists);
        }
        self.leases.insert(
            id,
            LeaseKeys {
                ttl,
                keys: BTreeSet::new(),
            },
        );
        ws.leases.insert(id, Some(LeaseRecord { id, ttl }));
        Ok(ResponseBody::LeaseGrant { id, ttl })
    }

    /// Revokes a lease, deleting its keys in one revision (in key order, as etcd's lessor).
    fn revoke<H: History + ?Sized>(
        &mut self,
        history: &H,
        ws: &mut WriteSet,
        id: i64,
    ) -> Result<Result<ResponseBody, EtcdError>> {
        let Some(lease) = self.leases.get(&id) else {
            return Ok(Err(EtcdError::LeaseNotFound));
        };
        let keys: Vec<Vec<u8>> = lease.keys.iter().cloned().collect();
        let out = self.write(history, ws, |w| {
            for key in &keys {
                w.delete_range(&DeleteRangeRequest {
                    key: key.clone(),
                    range_end: Vec::new(),
                    prev_kv: false,
                })?;
            }
            Ok(())
        })?;
        if let Err(e) = out {
            return Ok(Err(e));
        }
        self.leases.remove(&id);
        ws.leases.insert(id, None);
        Ok(Ok(ResponseBody::LeaseRevoke))
    }

    fn attach(&mut self, key: &[u8], lease: i64) {
        self.detach(key);
        // a key only ever names a granted lease (puts are checked, revoke deletes its keys)
        if let Some(l) = self.leases.get_mut(&lease) {
            l.keys.insert(key.to_vec());
            self.key_lease.insert(key.to_vec(), lease);
        }
    }

    fn detach(&mut self, key: &[u8]) {
        if let Some(old) = self.key_lease.remove(key)
            && let Some(l) = self.leases.get_mut(&old)
        {
            l.keys.remove(key);
        }
    }
}

fn check_revision(requested: i64, current: i64, compacted: i64) -> Result<i64, EtcdError> {
    if requested > current {
        return Err(EtcdError::FutureRevision);
    }
    if requested <= 0 {
        return Ok(current);
    }
    if requested < compacted {
        return Err(EtcdError::Compacted);
    }
    Ok(requested)
}

/// One write in progress: every change gets revision `(main, sub)` with `sub` counting up.
struct WriteTxn<'a, H: ?Sized> {
    mvcc: &'a mut Mvcc,
    history: &'a H,
    ws: &'a mut WriteSet,
    main: i64,
    sub: i64,
}

impl<H: History + ?Sized> WriteTxn<'_, H> {
    /// The revision reads see: this write's own changes once it has made any (as etcd).
    fn view(&self) -> i64 {
        if self.sub > 0 {
            self.main
        } else {
            self.mvcc.current
        }
    }

    fn next_rev(&mut self) -> Revision {
        let rev = Revision::new(self.main, self.sub);
        self.sub += 1;
        rev
    }

    fn current_kv(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        match self.mvcc.index.get(key, self.view()) {
            Some(at) => fetch(self.history, Some(&*self.ws), at.modified).map(Some),
            None => Ok(None),
        }
    }

    fn put(&mut self, put: &PutRequest) -> Result<PutResponse> {
        let view = self.view();
        let prev_at = self.mvcc.index.get(&put.key, view);
        let prev = if put.prev_kv || put.ignore_value || put.ignore_lease {
            self.current_kv(&put.key)?
        } else {
            None
        };
        let value = match (&prev, put.ignore_value) {
            (Some(p), true) => p.value.clone(),
            _ => put.value.clone(),
        };
        let lease = match (&prev, put.ignore_lease) {
            (Some(p), true) => p.lease,
            _ => put.lease,
        };
        let rev = self.next_rev();
        let kv = KeyValue {
            key: put.key.clone(),
            create_revision: prev_at.map_or(rev.main, |a| a.created.main),
            mod_revision: rev.main,
            version: prev_at.map_or(1, |a| a.version + 1),
            value,
            lease,
        };
        self.mvcc.index.put(&put.key, rev);
        self.mvcc.attach(&put.key, lease);
        self.ws.events.push(Event {
            kind: EventKind::Put,
            kv: kv.clone(),
        });
        self.ws.records.insert(rev, Record::Put(kv));
        Ok(PutResponse {
            prev_kv: if put.prev_kv { prev } else { None },
        })
    }

    fn delete_range(&mut self, del: &DeleteRangeRequest) -> Result<DeleteRangeResponse> {
        let view = self.view();
        let targets: Vec<(Vec<u8>, KeyAt)> = self
            .mvcc
            .index
            .range(&del.key, &del.range_end, view)
            .map(|(k, at)| (k.to_vec(), at))
            .collect();
        let mut resp = DeleteRangeResponse {
            deleted: targets.len() as i64,
            prev_kvs: Vec::new(),
        };
        for (key, at) in targets {
            if del.prev_kv {
                resp.prev_kvs
                    .push(fetch(self.history, Some(&*self.ws), at.modified)?);
            }
            let rev = self.next_rev();
            self.mvcc.index.tombstone(&key, rev);
            self.mvcc.detach(&key);
            self.ws.events.push(Event::from_record(
                rev,
                Record::Tombstone { key: key.clone() },
            ));
            self.ws.records.insert(rev, Record::Tombstone { key });
        }
        Ok(resp)
    }

    /// What a txn's reads see: the state as this write has left it so far.
    fn reader(&self) -> TxnReader<'_, H> {
        TxnReader {
            mvcc: &*self.mvcc,
            history: self.history,
            ws: Some(&*self.ws),
            view: self.view(),
        }
    }

    fn txn(&mut self, txn: &TxnRequest) -> Result<TxnResponse> {
        let path = self.reader().decide(txn)?;
        self.run_path(txn, &path, &mut 0)
    }

    fn run_path(
        &mut self,
        txn: &TxnRequest,
        path: &[bool],
        pos: &mut usize,
    ) -> Result<TxnResponse> {
        let (succeeded, branch) = take_branch(txn, path, pos);
        let mut responses = Vec::with_capacity(branch.len());
        for op in branch {
            responses.push(match op {
                TxnOp::Range(r) => TxnOpResponse::Range(self.reader().range(r)?),
                TxnOp::Put(p) => TxnOpResponse::Put(self.put(p)?),
                TxnOp::DeleteRange(d) => TxnOpResponse::DeleteRange(self.delete_range(d)?),
                TxnOp::Txn(inner) => TxnOpResponse::Txn(self.run_path(inner, path, pos)?),
            });
        }
        Ok(TxnResponse {
            succeeded,
            responses,
        })
    }
}

/// The reading side of a txn: compares, checks and ranges, at `view` over the history and
/// the not-yet-persisted writes of the batch being applied.
struct TxnReader<'a, H: ?Sized> {
    mvcc: &'a Mvcc,
    history: &'a H,
    ws: Option<&'a WriteSet>,
    view: i64,
}

impl<H: History + ?Sized> TxnReader<'_, H> {
    /// The branch taken at each txn along the way (pre-order), once checked as etcd checks
    /// it before running anything.
    fn decide(&self, txn: &TxnRequest) -> Result<Vec<bool>> {
        let mut path = Vec::new();
        self.compare_path(txn, &mut path)?;
        self.check_path(txn, &path, &mut 0)?;
        Ok(path)
    }

    /// etcd's `checkPut`: the lease exists, and a key whose value or lease is kept exists.
    fn check_put(&self, put: &PutRequest) -> Result<()> {
        if put.key.is_empty() {
            return Err(EtcdError::EmptyKey.into());
        }
        if (put.ignore_value || put.ignore_lease)
            && self.mvcc.index.get(&put.key, self.view).is_none()
        {
            return Err(EtcdError::KeyNotFound.into());
        }
        if !put.ignore_lease && put.lease != 0 && !self.mvcc.leases.contains_key(&put.lease) {
            return Err(EtcdError::LeaseNotFound.into());
        }
        Ok(())
    }

    fn range(&self, r: &RangeRequest) -> Result<RangeResponse> {
        self.mvcc.range_in(self.history, self.ws, r, self.view)
    }

    /// Runs the chosen branches of a txn without writes.
    fn run_reads(&self, txn: &TxnRequest, path: &[bool], pos: &mut usize) -> Result<TxnResponse> {
        let (succeeded, branch) = take_branch(txn, path, pos);
        let mut responses = Vec::with_capacity(branch.len());
        for op in branch {
            responses.push(match op {
                TxnOp::Range(r) => TxnOpResponse::Range(self.range(r)?),
                TxnOp::Txn(inner) => TxnOpResponse::Txn(self.run_reads(inner, path, pos)?),
                TxnOp::Put(_) | TxnOp::DeleteRange(_) => {
                    return Err(Error::corrupt("a write in a read-only txn"));
                }
            });
        }
        Ok(TxnResponse {
            succeeded,
            responses,
        })
    }

    /// Evaluates every compare of `txn` and its nested txns against the state before any
    /// change, in pre-order, as etcd's `compareToPath`.
    fn compare_path(&self, txn: &TxnRequest, path: &mut Vec<bool>) -> Result<()> {
        let mut ok = true;
        for c in &txn.compare {
            if !self.compare(c)? {
                ok = false;
                break;
            }
        }
        path.push(ok);
        let branch = if ok { &txn.success } else { &txn.failure };
        for op in branch {
            if let TxnOp::Txn(inner) = op {
                self.compare_path(inner, path)?;
            }
        }
        Ok(())
    }

    fn compare(&self, c: &Compare) -> Result<bool> {
        let view = self.view;
        let needs_value = matches!(c.target, CompareTarget::Value(_) | CompareTarget::Lease(_));
        let mut any = false;
        for (key, at) in self.mvcc.index.range(&c.key, &c.range_end, view) {
            any = true;
            let kv = if needs_value {
                fetch(self.history, self.ws, at.modified)?
            } else {
                KeyValue {
                    key: key.to_vec(),
                    create_revision: at.created.main,
                    mod_revision: at.modified.main,
                    version: at.version,
                    ..KeyValue::default()
                }
            };
            if !compare_kv(c, &kv) {
                return Ok(false);
            }
        }
        if !any {
            // no way to tell a missing value from an empty one: etcd fails VALUE compares
            if matches!(c.target, CompareTarget::Value(_)) {
                return Ok(false);
            }
            return Ok(compare_kv(c, &KeyValue::default()));
        }
        Ok(true)
    }

    /// etcd's `checkRequests` along the chosen path: puts' leases and kept keys, ranges'
    /// revisions.
    fn check_path(&self, txn: &TxnRequest, path: &[bool], pos: &mut usize) -> Result<()> {
        let ok = path[*pos];
        *pos += 1;
        for op in if ok { &txn.success } else { &txn.failure } {
            match op {
                TxnOp::Put(p) => self.check_put(p)?,
                TxnOp::Range(r) => {
                    check_revision(r.revision, self.mvcc.current, self.mvcc.compacted)?;
                }
                TxnOp::DeleteRange(_) => {}
                TxnOp::Txn(inner) => self.check_path(inner, path, pos)?,
            }
        }
        Ok(())
    }
}

/// The branch `path` chose for `txn`, the next one in pre-order at `pos`.
fn take_branch<'t>(txn: &'t TxnRequest, path: &[bool], pos: &mut usize) -> (bool, &'t [TxnOp]) {
    let succeeded = path[*pos];
    *pos += 1;
    (
        succeeded,
        if succeeded {
            &txn.success
        } else {
            &txn.failure
        },
    )
}

/// Replays history for a watch: the events in `[key, range_end)` among `records`, in order.
pub fn replay_events(records: Vec<(Revision, Record)>, key: &[u8], range_end: &[u8]) -> Vec<Event> {
    records
        .into_iter()
        .filter(|(_, rec)| in_range(rec.key(), key, range_end))
        .map(|(rev, rec)| Event::from_record(rev, rec))
        .collect()
}

/// An in-memory [`History`]: the fake the unit tests use, and a reference for the rocksdb one.
#[derive(Debug, Default, Clone)]
pub struct MemHistory {
    pub records: BTreeMap<Revision, Record>,
}

impl MemHistory {
    /// Persists a write set, as the state machine does with rocksdb.
    pub fn commit(&mut self, ws: WriteSet) -> Vec<Event> {
        self.records.extend(ws.records);
        for rev in ws.deleted {
            self.records.remove(&rev);
        }
        ws.events
    }
}

impl History for MemHistory {
    fn get(&self, rev: Revision) -> Result<Option<Record>> {
        Ok(self.records.get(&rev).cloned())
    }

    fn scan(&self, from: i64, limit: usize) -> Result<Vec<(Revision, Record)>> {
        let mut out: Vec<(Revision, Record)> = Vec::new();
        for (rev, rec) in self.records.range(Revision::new(from, 0)..) {
            if out.len() >= limit && out.last().is_some_and(|(last, _)| last.main != rev.main) {
                break;
            }
            out.push((*rev, rec.clone()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
