//! The lessor: when leases expire. The replicated state knows each lease's granted TTL and
//! keys; the deadlines live only on the leader, in memory, on its monotonic clock, as in etcd.
//! A member that becomes leader gives every lease a fresh full TTL (etcd's `Promote`), so a
//! leader change never expires a lease that was being kept alive. Expired leases are revoked
//! through raft, like any other write.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info_span, warn};

use crate::error::{EtcdError, Result};
use crate::mvcc::{Request, ResponseBody};
use crate::network::{ForwardReply, Forwarded};
use crate::node::RaftNode;

/// Leader-side lease deadlines.
#[derive(Clone)]
pub struct Lessor {
    inner: Arc<LessorInner>,
}

struct LessorInner {
    node: RaftNode,
    /// The smallest TTL a lease gets (etcd: 1.5 election timeouts, rounded up to seconds).
    min_ttl: i64,
    deadlines: Mutex<HashMap<i64, Instant>>,
    /// The term in which `deadlines` were last reset.
    term: AtomicU64,
    ids: AtomicU64,
}

/// What TimeToLive answers for a live lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseTtl {
    pub remaining: i64,
    pub granted: i64,
    pub keys: Vec<Vec<u8>>,
}

impl Lessor {
    pub fn new(node: RaftNode, election_timeout: Duration) -> Self {
        let min_ttl = ((election_timeout.as_millis() * 3).div_ceil(2000) as i64).max(1);
        Self {
            inner: Arc::new(LessorInner {
                node,
                min_ttl,
                deadlines: Mutex::new(HashMap::new()),
                term: AtomicU64::new(0),
                ids: AtomicU64::new(0),
            }),
        }
    }

    fn deadlines(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Instant>> {
        self.inner
            .deadlines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh lease id: member id bits, clock and a counter, positive and never 0, so ids
    /// from different members do not collide.
    fn next_id(&self) -> i64 {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let n = self.inner.ids.fetch_add(1, Ordering::Relaxed);
        let id =
            ((self.inner.node.id & 0x7fff) << 48) | ((millis & 0xff_ffff) << 24) | (n & 0xff_ffff);
        (id as i64).max(1)
    }

    /// Grants a lease (`id` 0: pick one) and starts its clock.
    pub async fn grant(&self, id: i64, ttl: i64) -> Result<(i64, i64, i64)> {
        let id = if id == 0 { self.next_id() } else { id };
        let ttl = ttl.max(self.inner.min_ttl);
        let resp = self
            .inner
            .node
            .write(Request::LeaseGrant { id, ttl })
            .await?;
        match resp.result? {
            ResponseBody::LeaseGrant { id, ttl } => {
                self.deadlines()
                    .insert(id, Instant::now() + Duration::from_secs(ttl as u64));
                Ok((id, ttl, resp.revision))
            }
            other => Err(crate::Error::corrupt(format!(
                "lease grant answered {other:?}"
            ))),
        }
    }

    /// Revokes a lease and deletes its keys; returns the revision after.
    pub async fn revoke(&self, id: i64) -> Result<i64> {
        let resp = self.inner.node.write(Request::LeaseRevoke { id }).await?;
        resp.result?;
        self.deadlines().remove(&id);
        Ok(resp.revision)
    }

    /// Renews a lease to its full TTL on the leader (a follower forwards); returns the TTL,
    /// or 0 when the lease does not exist (what etcd's keep-alive answers).
    pub async fn keep_alive(&self, id: i64) -> Result<i64> {
        let node = &self.inner.node;
        let (leader, _) = node.leader().await?;
        if leader == node.id {
            return self.keep_alive_local(id).await;
        }
        match node.forward(Forwarded::LeaseKeepAlive(id)).await? {
            ForwardReply::Ttl(ttl) => Ok(ttl),
            other => Err(crate::Error::corrupt(format!(
                "leader answered a keep-alive with {other:?}"
            ))),
        }
    }

    /// [`Lessor::keep_alive`] on the leader.
    pub async fn keep_alive_local(&self, id: i64) -> Result<i64> {
        self.inner.node.linearizable().await?;
        let ttl = self
            .inner
            .node
            .sm
            .read(|st, _| st.mvcc.lease(id).map(|l| l.ttl));
        match ttl {
            Some(ttl) => {
                self.deadlines()
                    .insert(id, Instant::now() + Duration::from_secs(ttl as u64));
                Ok(ttl)
            }
            None => Ok(0),
        }
    }

    /// Seconds left on a lease by the leader's clock (a follower asks the leader); -1 when
    /// there is no such lease.
    pub async fn remaining(&self, id: i64) -> Result<i64> {
        let node = &self.inner.node;
        let (leader, _) = node.leader().await?;
        if leader == node.id {
            return Ok(self.remaining_local(id));
        }
        match node.forward(Forwarded::LeaseRemaining(id)).await? {
            ForwardReply::Ttl(ttl) => Ok(ttl),
            other => Err(crate::Error::corrupt(format!(
                "leader answered a lease TTL with {other:?}"
            ))),
        }
    }

    /// [`Lessor::remaining`] on the leader.
    pub fn remaining_local(&self, id: i64) -> i64 {
        self.time_to_live_here(id, false)
            .map_or(-1, |t| t.remaining)
    }

    /// The remaining (by the leader's clock) and granted TTL of a lease, with its keys if
    /// asked.
    pub async fn time_to_live(&self, id: i64, with_keys: bool) -> Result<LeaseTtl> {
        let mut ttl = self.time_to_live_here(id, with_keys)?;
        let remaining = self.remaining(id).await?;
        if remaining < 0 {
            return Err(EtcdError::LeaseNotFound.into());
        }
        ttl.remaining = remaining;
        Ok(ttl)
    }

    /// TimeToLive by this member's state and clock.
    fn time_to_live_here(&self, id: i64, with_keys: bool) -> Result<LeaseTtl> {
        let (granted, keys) = self
            .inner
            .node
            .sm
            .read(|st, _| {
                st.mvcc.lease(id).map(|l| {
                    let keys = if with_keys {
                        l.keys.iter().cloned().collect()
                    } else {
                        Vec::new()
                    };
                    (l.ttl, keys)
                })
            })
            .ok_or(EtcdError::LeaseNotFound)?;
        let now = Instant::now();
        let deadline = *self
            .deadlines()
            .entry(id)
            .or_insert_with(|| now + Duration::from_secs(granted as u64));
        let remaining = deadline.saturating_duration_since(now);
        // etcd rounds the remaining time up to whole seconds
        let remaining = remaining.as_millis().div_ceil(1000) as i64;
        Ok(LeaseTtl {
            remaining,
            granted,
            keys,
        })
    }

    /// Every lease id the state machine holds.
    pub fn leases(&self) -> Vec<i64> {
        self.inner
            .node
            .sm
            .read(|st, _| st.mvcc.leases().map(|(id, _)| id).collect())
    }

    /// Runs expiry until `shutdown`: while this member leads, revokes every lease past its
    /// deadline; on becoming leader, restarts every lease's clock.
    pub fn spawn(&self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(
            async move {
                let mut tick = tokio::time::interval(Duration::from_millis(500));
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tick.tick() => this.expire_once().await,
                    }
                }
            }
            .instrument(info_span!("lessor")),
        )
    }

    async fn expire_once(&self) {
        let node = &self.inner.node;
        let (leader, term) = {
            let m = node.raft.metrics();
            let m = m.borrow();
            (m.current_leader == Some(node.id), m.current_term)
        };
        if !leader {
            return;
        }
        let now = Instant::now();
        let leases: Vec<(i64, i64)> = node
            .sm
            .read(|st, _| st.mvcc.leases().map(|(id, l)| (id, l.ttl)).collect());
        let expired: Vec<i64> = {
            let mut deadlines = self.deadlines();
            if self.inner.term.swap(term, Ordering::Relaxed) != term {
                // a new leadership: every lease starts a full TTL from now
                deadlines.clear();
            }
            deadlines.retain(|id, _| leases.iter().any(|(l, _)| l == id));
            leases
                .iter()
                .filter(|(id, ttl)| {
                    let deadline = *deadlines
                        .entry(*id)
                        .or_insert_with(|| now + Duration::from_secs(*ttl as u64));
                    deadline <= now
                })
                .map(|(id, _)| *id)
                .collect()
        };
        for id in expired {
            match self.revoke(id).await {
                Ok(_) | Err(crate::Error::Etcd(EtcdError::LeaseNotFound)) => {}
                Err(e) => warn!(lease = id, error = %e, "revoking an expired lease failed"),
            }
        }
    }
}
