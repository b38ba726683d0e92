//! One member's raft node and what the client-facing services ask of it: propose a write,
//! confirm leadership for a linearizable read, and fill etcd's response header.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::proto::PbResponseHeader;
use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use rocksdb::DB;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, EtcdError, Result};
use crate::log_store::LogStore;
use crate::metrics::StoreMetrics;
use crate::mvcc::{Request, Response};
use crate::network::{ForwardReply, Forwarded, MemberChange, PeerNetwork};
use crate::proposer::Proposer;
use crate::read_index::{ReadIndex, ReadIndexBatcher};
use crate::state_machine::StateMachine;
use crate::types::{Member, NodeId, Raft};

/// How long a member waits before publishing itself again after a failed attempt.
const PUBLISH_RETRY: Duration = Duration::from_millis(200);

/// Pause between two rounds of leadership confirmation for a read index.
const READ_INDEX_RETRY: Duration = Duration::from_millis(10);

/// Timing and snapshot settings for raft, from etcd's flags.
/// Applied entries between two snapshots unless `--snapshot-count` says otherwise (etcd's default).
pub const DEFAULT_SNAPSHOT_COUNT: u64 = 100_000;

#[derive(Debug, Clone)]
pub struct RaftSettings {
    pub heartbeat_ms: u64,
    pub election_timeout_ms: u64,
    /// Applied entries between two snapshots (etcd's `--snapshot-count`).
    pub snapshot_count: u64,
}

impl Default for RaftSettings {
    fn default() -> Self {
        Self {
            heartbeat_ms: 100,
            election_timeout_ms: 1000,
            snapshot_count: DEFAULT_SNAPSHOT_COUNT,
        }
    }
}

/// What a member needs to start its raft node.
#[derive(Debug)]
pub struct NodeStart<'a> {
    pub id: NodeId,
    pub cluster_id: u64,
    pub snapshot_dir: &'a std::path::Path,
    pub settings: &'a RaftSettings,
    /// The members of a cluster this member forms (with `bootstrap`).
    pub initial: BTreeMap<NodeId, Member>,
    /// Form a new cluster if the log is empty (etcd's `--initial-cluster-state new`).
    pub bootstrap: bool,
    /// How to reach the other members.
    pub peers: PeerNetwork,
}

/// A running member: raft, its state machine, and the ids etcd clients expect.
#[derive(Clone)]
pub struct RaftNode {
    pub id: NodeId,
    pub cluster_id: u64,
    pub raft: Raft,
    pub sm: StateMachine,
    pub db: Arc<DB>,
    pub metrics: StoreMetrics,
    peers: PeerNetwork,
    /// How long a request waits for a leader to appear or a read index to be applied.
    request_timeout: Duration,
    /// Read indexes confirmed by this member as leader (its own reads and followers').
    leader_reads: ReadIndexBatcher,
    /// Read indexes for this member's linearizable reads: from itself when it leads, else
    /// asked of the leader, one request per batch of reads.
    reads: ReadIndexBatcher,
    /// Batches the writes this member proposes as leader (group commit).
    proposer: Proposer,
}

impl RaftNode {
    /// Starts raft on an opened database; when `start.bootstrap` is set and the log is empty,
    /// forms a new cluster of `start.initial` members.
    pub async fn start(start: NodeStart<'_>, db: Arc<DB>, metrics: StoreMetrics) -> Result<Self> {
        let NodeStart {
            id,
            cluster_id,
            snapshot_dir,
            settings,
            initial,
            bootstrap,
            peers,
        } = start;
        let config = openraft::Config {
            cluster_name: format!("rudder-store-{cluster_id:x}"),
            heartbeat_interval: settings.heartbeat_ms,
            election_timeout_min: settings.election_timeout_ms,
            election_timeout_max: settings.election_timeout_ms * 2,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(settings.snapshot_count),
            max_in_snapshot_log_to_keep: settings.snapshot_count.min(5_000),
            max_payload_entries: 1_000,
            ..Default::default()
        }
        .validate()
        .map_err(|e| Error::Raft(e.to_string()))?;
        let log = LogStore::new(db.clone(), id, &metrics)?;
        let peers = peers.holding_acks_until_durable(log.durability());
        let sm = StateMachine::open(db.clone(), snapshot_dir, metrics.clone())?;
        let raft = Raft::new(id, Arc::new(config), peers.clone(), log, sm.clone())
            .await
            .map_err(|e| Error::Raft(e.to_string()))?;
        if bootstrap
            && !raft
                .is_initialized()
                .await
                .map_err(|e| Error::Raft(e.to_string()))?
        {
            raft.initialize(initial)
                .await
                .map_err(|e| Error::Raft(e.to_string()))?;
        }
        let request_timeout = Duration::from_millis(settings.election_timeout_ms * 5);
        let leader_reads = {
            let raft = raft.clone();
            ReadIndexBatcher::new("leader", move || {
                let raft = raft.clone();
                async move { leader_read_index(&raft, request_timeout).await }
            })
        };
        let reads = {
            let (raft, peers, local) = (raft.clone(), peers.clone(), leader_reads.clone());
            ReadIndexBatcher::new("member", move || {
                let (raft, peers, local) = (raft.clone(), peers.clone(), local.clone());
                async move {
                    let (leader, member) = wait_for_leader(&raft, request_timeout).await?;
                    if leader == id {
                        return local.read_index().await;
                    }
                    match peers.forward(&member, Forwarded::ReadIndex).await {
                        Ok(ForwardReply::ReadIndex(index)) => Ok(index),
                        Ok(other) => Err(Error::corrupt(format!(
                            "leader answered a read index with {other:?}"
                        ))
                        .into_etcd()),
                        Err(e) => Err(e.into_etcd()),
                    }
                }
            })
        };
        Ok(Self {
            id,
            cluster_id,
            proposer: Proposer::start(raft.clone()),
            raft,
            sm,
            db,
            metrics,
            peers,
            request_timeout,
            leader_reads,
            reads,
        })
    }

    /// The leader as this member knows it, waiting up to the request timeout for one to be
    /// elected.
    pub async fn leader(&self) -> Result<(NodeId, Member)> {
        Ok(wait_for_leader(&self.raft, self.request_timeout).await?)
    }

    /// Proposes a write and waits until it is applied (hence durable on a quorum). A follower
    /// forwards it to the leader.
    pub async fn write(&self, req: Request) -> Result<Response> {
        let (leader, member) = self.leader().await?;
        if leader == self.id {
            match self.write_local(req.clone()).await {
                Err(Error::Etcd(EtcdError::NoLeader)) => {} // lost leadership meanwhile
                other => return other,
            }
            let (leader, member) = self.leader().await?;
            if leader == self.id {
                return self.write_local(req).await;
            }
            return self.forward_write(&member, req).await;
        }
        self.forward_write(&member, req).await
    }

    /// Sends a request to the current leader (which must not be this member).
    pub async fn forward(&self, req: Forwarded) -> Result<ForwardReply> {
        let (_, member) = self.leader().await?;
        self.peers.forward(&member, req).await
    }

    async fn forward_write(&self, leader: &Member, req: Request) -> Result<Response> {
        match self.peers.forward(leader, Forwarded::Write(req)).await? {
            ForwardReply::Write(resp) => Ok(resp),
            other => Err(Error::corrupt(format!(
                "leader answered a write with {other:?}"
            ))),
        }
    }

    /// Proposes a write on this member, which must lead, batched with the writes proposed
    /// at the same time.
    pub async fn write_local(&self, req: Request) -> Result<Response> {
        Ok(self.proposer.propose(req).await?)
    }

    /// Waits until this member's state machine reflects every write committed before the call
    /// (raft's read index): what a linearizable read needs. A follower asks the leader for
    /// the index, then waits for its own state machine to reach it.
    pub async fn linearizable(&self) -> Result<()> {
        let index = self.reads.read_index().await?;
        if index.is_some() {
            self.raft
                .wait(Some(self.request_timeout))
                .applied_index_at_least(index, "read index")
                .await
                .map_err(|_| Error::Etcd(EtcdError::Timeout))?;
        }
        Ok(())
    }

    /// The read index on this member, which must lead: the log index every earlier write is
    /// at or below, once a quorum has confirmed this member still leads.
    pub async fn read_index_local(&self) -> Result<Option<u64>> {
        Ok(self.leader_reads.read_index().await?)
    }

    /// Changes the cluster's membership through raft; a follower forwards it to the leader.
    pub async fn change_members(&self, change: MemberChange) -> Result<()> {
        let (leader, member) = self.leader().await?;
        if leader == self.id {
            return self.change_members_local(change).await;
        }
        match self
            .peers
            .forward(&member, Forwarded::ChangeMembers(change))
            .await?
        {
            ForwardReply::Done => Ok(()),
            other => Err(Error::corrupt(format!(
                "leader answered a membership change with {other:?}"
            ))),
        }
    }

    /// Changes membership on this member, which must lead. A learner is added without waiting
    /// for it to catch up (it may not be running yet, as with etcd's `member add`).
    pub async fn change_members_local(&self, change: MemberChange) -> Result<()> {
        use std::collections::BTreeSet;

        use openraft::ChangeMembers;
        let (voters, nodes): (BTreeSet<NodeId>, BTreeSet<NodeId>) = {
            let m = self.raft.metrics();
            let m = m.borrow();
            let membership = m.membership_config.membership();
            (
                membership.voter_ids().collect(),
                membership.nodes().map(|(id, _)| *id).collect(),
            )
        };
        let known = |id: NodeId| -> Result<Member> {
            let m = self.raft.metrics();
            let m = m.borrow();
            let member = m.membership_config.membership().get_node(&id).cloned();
            member.ok_or_else(|| EtcdError::MemberNotFound.into())
        };
        let set_node = |id: NodeId, member: Member| {
            self.raft.change_membership(
                ChangeMembers::SetNodes(BTreeMap::from([(id, member)])),
                true,
            )
        };
        let result = match change {
            MemberChange::Add {
                id,
                member,
                learner,
            } => {
                if nodes.contains(&id) {
                    return Err(EtcdError::PeerUrlExists.into());
                }
                let added = self.raft.add_learner(id, member, false).await;
                match (added, learner) {
                    (Ok(_), false) => {
                        self.raft
                            .change_membership(
                                ChangeMembers::AddVoterIds(BTreeSet::from([id])),
                                true,
                            )
                            .await
                    }
                    (other, _) => other,
                }
            }
            MemberChange::Promote { id } => {
                if !nodes.contains(&id) {
                    return Err(EtcdError::MemberNotFound.into());
                }
                if voters.contains(&id) {
                    return Err(EtcdError::MemberNotLearner.into());
                }
                self.raft
                    .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), true)
                    .await
            }
            MemberChange::Publish {
                id,
                name,
                client_urls,
            } => {
                let member = Member {
                    name,
                    client_urls,
                    ..known(id)?
                };
                set_node(id, member).await
            }
            MemberChange::UpdatePeers { id, peer_urls } => {
                let member = Member {
                    peer_urls,
                    ..known(id)?
                };
                set_node(id, member).await
            }
            MemberChange::Remove { id } => {
                if !nodes.contains(&id) {
                    return Err(EtcdError::MemberNotFound.into());
                }
                let change = if voters.contains(&id) {
                    ChangeMembers::RemoveVoters(BTreeSet::from([id]))
                } else {
                    ChangeMembers::RemoveNodes(BTreeSet::from([id]))
                };
                self.raft.change_membership(change, false).await
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {
                Err(EtcdError::NoLeader.into())
            }
            Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(e))) => {
                tracing::warn!(error = %e, "membership change refused");
                Err(EtcdError::MembershipChange.into())
            }
            Err(RaftError::Fatal(_)) => Err(EtcdError::Stopped.into()),
        }
    }

    /// etcd's publish: records this member's name and client URLs in the membership, through
    /// the leader, whenever this member sees itself there without them (a member added at
    /// runtime is known by its peer URLs only; founders know only their own client URLs).
    /// Runs until `stop` is cancelled.
    /// `published` turns true the first time the membership shows them.
    pub async fn publish(
        &self,
        name: String,
        client_urls: Vec<String>,
        published: tokio::sync::watch::Sender<bool>,
        stop: CancellationToken,
    ) {
        let mut metrics = self.raft.metrics();
        loop {
            let done = {
                let m = metrics.borrow_and_update();
                let me = m.membership_config.membership().get_node(&self.id);
                me.map(|me| me.name == name && me.client_urls == client_urls)
            };
            if done == Some(true) {
                published.send_replace(true);
            }
            match done {
                // Looked at again when the membership changes: a founder's own view of it
                // may be replaced by the one the elected leader's log carries.
                // (Metrics change with every applied write: at most one look per retry period.)
                Some(true) | None => {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        changed = metrics.changed() => if changed.is_err() { return },
                    }
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(PUBLISH_RETRY) => {}
                    }
                    continue;
                }
                Some(false) => {}
            }
            let change = MemberChange::Publish {
                id: self.id,
                name: name.clone(),
                client_urls: client_urls.clone(),
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                result = self.change_members(change) => match result {
                    Ok(()) => tracing::info!(%name, "published name and client URLs"),
                    // e.g. another membership change in progress, or no leader yet
                    Err(e) => tracing::debug!(error = %e, "publish failed; retrying"),
                },
            }
            // then look again, once this member's view of the membership may have caught up
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(PUBLISH_RETRY) => {}
            }
        }
    }

    pub fn term(&self) -> u64 {
        self.raft.metrics().borrow().current_term
    }

    /// etcd's response header at `revision`.
    pub fn header(&self, revision: i64) -> PbResponseHeader {
        PbResponseHeader {
            cluster_id: self.cluster_id,
            member_id: self.id,
            revision,
            raft_term: self.term(),
        }
    }

    /// The header at the state machine's current revision.
    pub fn current_header(&self) -> PbResponseHeader {
        self.header(self.sm.current_revision())
    }

    /// Stops raft; the database closes when the last handle drops.
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft did not stop cleanly");
        }
    }
}

/// The leader as `raft` knows it, waiting up to `timeout` for one to be elected.
async fn wait_for_leader(raft: &Raft, timeout: Duration) -> Result<(NodeId, Member), EtcdError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut metrics = raft.metrics();
    loop {
        {
            let m = metrics.borrow_and_update();
            if let Some(leader) = m.current_leader
                && let Some(member) = m.membership_config.membership().get_node(&leader)
            {
                return Ok((leader, member.clone()));
            }
        }
        match tokio::time::timeout_at(deadline, metrics.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(EtcdError::Stopped),
            Err(_) => return Err(EtcdError::NoLeader),
        }
    }
}

/// A read index from `raft`, which must lead: its commit index once a quorum has confirmed
/// that it still leads. openraft gives each confirming heartbeat one heartbeat interval; a
/// round that misses it on a busy machine is retried until `timeout`, as etcd's read index
/// waits up to its request timeout.
async fn leader_read_index(raft: &Raft, timeout: Duration) -> ReadIndex {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match raft.get_read_log_id().await {
            Ok((read, _applied)) => return Ok(read.map(|l| l.index)),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(_))) => {
                return Err(EtcdError::NoLeader);
            }
            Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_))) => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(EtcdError::Timeout);
                }
                // a peer that refuses at once must not turn this into a busy loop
                tokio::time::sleep(READ_INDEX_RETRY).await;
            }
            Err(RaftError::Fatal(_)) => return Err(EtcdError::Stopped),
        }
    }
}
