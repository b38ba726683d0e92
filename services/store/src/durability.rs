//! Which raft log entries are on disk yet, and the rule that lets a leader replicate an
//! entry while its own fsync of it is still running.
//!
//! openraft 0.9 sends a leader's new entries to followers only once the leader's own
//! `append` reports them flushed, so one write on three members waits for two fsyncs in a
//! row (the leader's, then the followers'). etcd overlaps them (raft thesis §10.2.1). We do
//! the same, safely:
//! - the log store reports a leader's own entries flushed as soon as they are written
//!   ([`EarlyAck`] says when that is allowed), so replication starts at once;
//! - the leader holds every follower's acknowledgement until its own fsync covers the
//!   entries acknowledged ([`LocalDurability::wait_durable`], in the raft transport).
//!
//! A commit needs a quorum, and with early acks only allowed when every quorum of the
//! membership needs at least one follower, any quorum openraft counts includes a held
//! follower acknowledgement: by the time an entry commits, the leader's copy is on disk
//! too, exactly as before. Entries that change membership are never acknowledged early.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::types::{Entry, NodeId, StoredMembership, Vote};

/// Nothing pending: every entry written so far is on disk.
const ALL_DURABLE: u64 = u64::MAX;

/// The log's writes that are not yet covered by an fsync, shared by the log store, its
/// flusher thread and the raft transport.
#[derive(Clone)]
pub struct LocalDurability {
    inner: Arc<Inner>,
}

struct Inner {
    /// (write sequence number, first log index written), oldest first.
    pending: Mutex<Pending>,
    /// The lowest log index not yet on disk (`ALL_DURABLE` when none).
    first_pending: watch::Sender<u64>,
    /// An fsync failed: what was written since may never reach the disk.
    failed: AtomicBool,
}

#[derive(Default)]
struct Pending {
    next_seq: u64,
    writes: VecDeque<(u64, u64)>,
}

impl Default for LocalDurability {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                pending: Mutex::default(),
                first_pending: watch::Sender::new(ALL_DURABLE),
                failed: AtomicBool::new(false),
            }),
        }
    }
}

impl LocalDurability {
    /// Records a write of entries from `first_index` on, not yet fsync'd; returns its
    /// sequence number for [`Self::flushed`]. Writes are recorded in the order they were
    /// issued to rocksdb.
    pub fn written(&self, first_index: u64) -> u64 {
        let mut pending = self.lock();
        let seq = pending.next_seq;
        pending.next_seq += 1;
        if pending.writes.is_empty() {
            self.inner.first_pending.send_replace(first_index);
        }
        pending.writes.push_back((seq, first_index));
        seq
    }

    /// An fsync covered every write up to sequence number `seq`.
    pub fn flushed(&self, seq: u64) {
        let mut pending = self.lock();
        while pending.writes.front().is_some_and(|(s, _)| *s <= seq) {
            pending.writes.pop_front();
        }
        let first = pending.writes.front().map_or(ALL_DURABLE, |(_, i)| *i);
        self.inner.first_pending.send_replace(first);
    }

    /// A synced write (truncate) made everything written before it durable. Needed because
    /// a truncated log is rewritten from a lower index, which the pending list cannot order.
    pub fn all_flushed(&self) {
        self.lock().writes.clear();
        self.inner.first_pending.send_replace(ALL_DURABLE);
    }

    /// An fsync failed. Pending entries stay pending for good, so held acknowledgements are
    /// never released, and the log refuses further appends (etcd stops on this too).
    pub fn fail(&self) {
        self.inner.failed.store(true, Ordering::SeqCst);
    }

    pub fn has_failed(&self) -> bool {
        self.inner.failed.load(Ordering::SeqCst)
    }

    /// Whether every entry up to `index` is on disk.
    pub fn is_durable(&self, index: u64) -> bool {
        index < *self.inner.first_pending.borrow()
    }

    /// Resolves once every entry up to `index` is on disk.
    pub async fn wait_durable(&self, index: u64) {
        let mut rx = self.inner.first_pending.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|first_pending| index < *first_pending).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.inner.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Decides whether an append may be reported flushed before its fsync: only a leader's own
/// entries of its current term, none changing membership, while every configuration of the
/// membership needs a follower to make a quorum.
#[derive(Debug, Clone)]
pub struct EarlyAck {
    own_id: NodeId,
    vote: Option<Vote>,
    quorum_needs_follower: bool,
}

impl EarlyAck {
    /// `membership`: the latest membership in the log (or applied, when the log holds none);
    /// `None` when unknown, which keeps every append synchronous.
    pub fn new(own_id: NodeId, vote: Option<Vote>, membership: Option<&StoredMembership>) -> Self {
        let mut early = Self {
            own_id,
            vote,
            quorum_needs_follower: false,
        };
        early.membership_changed(membership);
        early
    }

    pub fn vote_saved(&mut self, vote: &Vote) {
        self.vote = Some(*vote);
    }

    /// The latest membership in the log changed (appended, or truncated away).
    pub fn membership_changed(&mut self, membership: Option<&StoredMembership>) {
        self.quorum_needs_follower = membership.is_some_and(|m| {
            m.membership()
                .get_joint_config()
                .iter()
                .all(|voters| voters.len() >= 2)
        });
    }

    /// Whether `entries` (about to be appended) may be acknowledged before their fsync.
    pub fn allows(&self, entries: &[Entry]) -> bool {
        let Some(vote) = self.vote.filter(|v| v.is_committed()) else {
            return false;
        };
        self.quorum_needs_follower
            && vote.leader_id.voted_for() == Some(self.own_id)
            && entries.iter().all(|e| {
                e.log_id.leader_id == vote.leader_id
                    && !matches!(e.payload, openraft::EntryPayload::Membership(_))
            })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use openraft::{CommittedLeaderId, EntryPayload, LogId, Membership};

    use super::*;
    use crate::types::{Member, Request};

    fn membership(configs: Vec<Vec<NodeId>>) -> StoredMembership {
        let nodes: BTreeMap<NodeId, Member> = configs
            .iter()
            .flatten()
            .map(|id| (*id, Member::default()))
            .collect();
        let configs = configs
            .into_iter()
            .map(|c| c.into_iter().collect::<BTreeSet<_>>())
            .collect();
        StoredMembership::new(None, Membership::new(configs, nodes))
    }

    fn leader_vote(term: u64, id: NodeId) -> Vote {
        Vote::new_committed(term, id)
    }

    fn entry(term: u64, leader: NodeId, index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, leader), index),
            payload: EntryPayload::Normal(Request::Compact { revision: 1 }),
        }
    }

    #[test]
    fn a_leader_acks_its_own_entries_early_when_a_quorum_needs_a_follower() {
        let three = membership(vec![vec![1, 2, 3]]);
        let early = EarlyAck::new(1, Some(leader_vote(2, 1)), Some(&three));
        assert!(early.allows(&[entry(2, 1, 7), entry(2, 1, 8)]));
        // a follower's copy of another leader's entries waits for its fsync
        let follower = EarlyAck::new(2, Some(leader_vote(2, 1)), Some(&three));
        assert!(!follower.allows(&[entry(2, 1, 7)]));
        // entries of an older term of ours, replicated back by a later leader
        assert!(!early.allows(&[entry(1, 1, 7)]));
        // a candidate's vote for itself is not leadership
        let candidate = EarlyAck::new(1, Some(Vote::new(3, 1)), Some(&three));
        assert!(!candidate.allows(&[entry(3, 1, 7)]));
    }

    #[test]
    fn a_leader_alone_in_a_quorum_always_waits_for_its_fsync() {
        let vote = Some(leader_vote(2, 1));
        let one = membership(vec![vec![1]]);
        assert!(!EarlyAck::new(1, vote, Some(&one)).allows(&[entry(2, 1, 7)]));
        // joint consensus into a single voter: the new configuration alone commits
        let joint = membership(vec![vec![1, 2, 3], vec![1]]);
        assert!(!EarlyAck::new(1, vote, Some(&joint)).allows(&[entry(2, 1, 7)]));
        assert!(!EarlyAck::new(1, vote, None).allows(&[entry(2, 1, 7)]));
        let mut early = EarlyAck::new(1, vote, Some(&membership(vec![vec![1, 2]])));
        assert!(early.allows(&[entry(2, 1, 7)]));
        early.membership_changed(Some(&one));
        assert!(!early.allows(&[entry(2, 1, 8)]));
    }

    #[test]
    fn membership_entries_are_never_acked_early() {
        let three = membership(vec![vec![1, 2, 3]]);
        let early = EarlyAck::new(1, Some(leader_vote(2, 1)), Some(&three));
        let change = Entry {
            log_id: LogId::new(CommittedLeaderId::new(2, 1), 9),
            payload: EntryPayload::Membership(three.membership().clone()),
        };
        assert!(!early.allows(&[entry(2, 1, 8), change]));
    }

    #[tokio::test]
    async fn durability_follows_fsyncs_in_write_order() {
        let d = LocalDurability::default();
        assert!(d.is_durable(100));
        let first = d.written(5);
        let second = d.written(8);
        assert!(d.is_durable(4));
        assert!(!d.is_durable(5));
        d.flushed(first);
        assert!(d.is_durable(7));
        assert!(!d.is_durable(8));
        let waiter = tokio::spawn({
            let d = d.clone();
            async move { d.wait_durable(9).await }
        });
        d.flushed(second);
        waiter.await.expect("waiter finishes once flushed");
        assert!(d.is_durable(1_000));
    }

    #[test]
    fn a_truncate_forgets_writes_it_made_durable() {
        let d = LocalDurability::default();
        let stale = d.written(10);
        d.all_flushed();
        // the log is rewritten from a lower index after the truncate
        let rewrite = d.written(8);
        d.flushed(stale);
        assert!(!d.is_durable(8), "the rewrite is not on disk yet");
        d.flushed(rewrite);
        assert!(d.is_durable(9));
    }
}
