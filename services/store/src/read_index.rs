//! Read-index batching: every linearizable read that arrives while a read index is being
//! obtained waits for the next one, and that one serves them all, as etcd's `readwaitc`.
//!
//! Getting a read index costs a heartbeat round to a quorum (or an RPC to the leader on a
//! follower); under load, one round per batch instead of one per read is what lets reads
//! scale. A batch is only answered by a read index obtained after every read in it arrived,
//! so no read can miss a write acknowledged before it started.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tracing::Instrument;

use crate::error::EtcdError;

/// A read index: the log index every write acknowledged so far is at or below.
pub type ReadIndex = Result<Option<u64>, EtcdError>;

type Fetch = dyn Fn() -> Pin<Box<dyn Future<Output = ReadIndex> + Send>> + Send + Sync;

/// Coalesces concurrent read-index requests onto one fetch at a time.
#[derive(Clone)]
pub struct ReadIndexBatcher {
    name: &'static str,
    fetch: Arc<Fetch>,
    pending: Arc<Mutex<Pending>>,
}

#[derive(Default)]
struct Pending {
    /// A task is fetching, and will take the waiters below when it is done.
    running: bool,
    waiters: Vec<oneshot::Sender<ReadIndex>>,
}

impl ReadIndexBatcher {
    /// A batcher whose read indexes come from `fetch`.
    pub fn new<F, Fut>(name: &'static str, fetch: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ReadIndex> + Send + 'static,
    {
        Self {
            name,
            fetch: Arc::new(move || Box::pin(fetch())),
            pending: Arc::default(),
        }
    }

    /// A read index obtained after this call began.
    pub async fn read_index(&self) -> ReadIndex {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.waiters.push(tx);
            !std::mem::replace(&mut pending.running, true)
        };
        if start {
            // A task of its own, so that a reader giving up does not strand the others.
            let this = self.clone();
            let span = tracing::debug_span!("read_index_batch", name = self.name);
            tokio::spawn(async move { this.drive().await }.instrument(span));
        }
        rx.await.unwrap_or(Err(EtcdError::Stopped))
    }

    /// Fetches read indexes for successive batches until no reader is waiting.
    async fn drive(&self) {
        loop {
            let batch = {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                if pending.waiters.is_empty() {
                    pending.running = false;
                    return;
                }
                std::mem::take(&mut pending.waiters)
            };
            let index = (self.fetch)().await;
            for waiter in batch {
                // a reader that gave up no longer listens
                let _ = waiter.send(index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::*;

    /// Each fetch answers the number of fetches begun so far, after a pause.
    fn counting() -> (ReadIndexBatcher, Arc<AtomicU64>) {
        let fetches = Arc::new(AtomicU64::new(0));
        let counter = fetches.clone();
        let batcher = ReadIndexBatcher::new("test", move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(Some(n))
            }
        });
        (batcher, fetches)
    }

    #[tokio::test]
    async fn concurrent_reads_share_fetches() {
        let (batcher, fetches) = counting();
        let reads: Vec<_> = (0..50)
            .map(|_| {
                let b = batcher.clone();
                tokio::spawn(async move { b.read_index().await })
            })
            .collect();
        for read in reads {
            assert!(read.await.unwrap().unwrap().is_some());
        }
        // the first read starts a fetch; all that came while it ran share at most one more
        assert!(fetches.load(Ordering::SeqCst) <= 2, "one fetch per read");
    }

    #[tokio::test]
    async fn a_read_is_answered_by_a_fetch_begun_after_it() {
        let (batcher, fetches) = counting();
        let first = {
            let b = batcher.clone();
            tokio::spawn(async move { b.read_index().await })
        };
        // wait until the first fetch is under way, then read again
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while fetches.load(Ordering::SeqCst) == 0 {
            assert!(tokio::time::Instant::now() < deadline, "no fetch started");
            tokio::task::yield_now().await;
        }
        let second = batcher.read_index().await.unwrap();
        assert_eq!(first.await.unwrap().unwrap(), Some(1));
        assert_eq!(
            second,
            Some(2),
            "a read joined a fetch that began before it"
        );
    }

    #[tokio::test]
    async fn errors_reach_every_reader_of_the_batch() {
        let batcher = ReadIndexBatcher::new("test", || async { Err(EtcdError::NoLeader) });
        assert_eq!(batcher.read_index().await, Err(EtcdError::NoLeader));
        // the batcher is not stuck after an error
        assert_eq!(batcher.read_index().await, Err(EtcdError::NoLeader));
    }
}
