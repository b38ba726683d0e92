//! HashKV as etcd 3.4 computes it, so that `etcdctl endpoint hashkv` gives the same value on
//! a rudder-store and on an etcd that saw the same writes.
//!
//! etcd hashes its bolt "key" bucket: CRC-32C over the bucket name, then, in revision order,
//! each stored revision's key (8-byte big-endian main, `_`, 8-byte big-endian sub, plus `t`
//! for a tombstone) and value (the marshaled `mvccpb.KeyValue`; a tombstone's holds only the
//! key). Revisions above the requested one are left out, and so are revisions at or below the
//! compaction point that a compaction at the requested revision would remove, unless nothing
//! would be kept at all (etcd's quirk, kept for equal hashes).

use std::collections::HashSet;

use etcd_client::proto::PbKeyValue;
use prost::Message;

use super::{History, Mvcc, Record, Revision};
use crate::error::{EtcdError, Result};

/// What HashKV answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvHash {
    pub hash: u32,
    /// The revision hashed up to.
    pub revision: i64,
    pub compacted: i64,
}

/// Records read from the history per step.
const SCAN_BATCH: usize = 1000;

impl Mvcc {
    /// etcd's `HashByRev`: the hash of the history up to `revision` (0: the current one).
    pub fn hash_kv<H: History + ?Sized>(&self, history: &H, revision: i64) -> Result<KvHash> {
        let (current, compacted) = (self.current_revision(), self.compacted_revision());
        if revision > 0 && revision <= compacted {
            return Err(EtcdError::Compacted.into());
        }
        if revision > current {
            return Err(EtcdError::FutureRevision.into());
        }
        let upto = if revision > 0 { revision } else { current };
        let keep: HashSet<Revision> = self.index.live_revisions_at(upto).collect();
        let mut crc = Crc32c::new();
        crc.update(b"key");
        let mut from = 0;
        'scan: loop {
            let records = history.scan(from, SCAN_BATCH)?;
            let Some((last, _)) = records.last() else {
                break;
            };
            from = last.main + 1;
            for (rev, rec) in &records {
                if rev.main > upto {
                    break 'scan;
                }
                if rev.main <= compacted && !keep.is_empty() && !keep.contains(rev) {
                    continue;
                }
                crc.update(&bucket_key(*rev, matches!(rec, Record::Tombstone { .. })));
                crc.update(&marshal(rec));
            }
        }
        Ok(KvHash {
            hash: crc.finish(),
            revision: upto,
            compacted,
        })
    }
}

/// A revision as a key of etcd's "key" bucket.
fn bucket_key(rev: Revision, tombstone: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(18);
    out.extend_from_slice(&(rev.main as u64).to_be_bytes());
    out.push(b'_');
    out.extend_from_slice(&(rev.sub as u64).to_be_bytes());
    if tombstone {
        out.push(b't');
    }
    out
}

/// The record as etcd stores it: a marshaled `mvccpb.KeyValue`.
fn marshal(rec: &Record) -> Vec<u8> {
    let pb = match rec {
        Record::Put(kv) => PbKeyValue {
            key: kv.key.clone(),
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            value: kv.value.clone(),
            lease: kv.lease,
        },
        Record::Tombstone { key } => PbKeyValue {
            key: key.clone(),
            ..Default::default()
        },
    };
    pb.encode_to_vec()
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven.
struct Crc32c {
    state: u32,
}

const CASTAGNOLI: u32 = 0x82F6_3B78;

const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ CASTAGNOLI
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

impl Crc32c {
    fn new() -> Self {
        Self { state: !0 }
    }

    fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.state = TABLE[((self.state ^ u32::from(*b)) & 0xff) as usize] ^ (self.state >> 8);
        }
    }

    fn finish(&self) -> u32 {
        !self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        // the standard check value of CRC-32C
        let mut crc = Crc32c::new();
        crc.update(b"123456789");
        assert_eq!(crc.finish(), 0xE306_9283);
    }

    #[test]
    fn bucket_keys_are_etcds_revision_bytes() {
        assert_eq!(
            bucket_key(Revision::new(2, 1), false),
            [0, 0, 0, 0, 0, 0, 0, 2, b'_', 0, 0, 0, 0, 0, 0, 0, 1]
        );
        assert_eq!(bucket_key(Revision::new(3, 0), true).last(), Some(&b't'));
    }
}
