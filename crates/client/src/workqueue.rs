//! The work queue controllers drain: client-go's rate-limiting queue.
//!
//! - **Dedup**: a key added while it waits is queued once.
//! - **One at a time**: a key handed to a worker is not handed out again until the
//!   worker calls [`WorkQueue::done`]; if it was added meanwhile, it is queued again
//!   then, so the change is not lost.
//! - **Delayed add**: [`WorkQueue::add_after`] queues a key later (the earliest
//!   pending time of a key wins).
//! - **Rate-limited re-queue**: [`WorkQueue::add_rate_limited`] waits `base * 2^n`
//!   (capped) after the key's `n`-th failure; [`WorkQueue::forget`] resets `n` after a
//!   success.
//!
//! ```no_run
//! # async fn reconcile(_: &rudder_client::ObjectKey) -> Result<(), ()> { Ok(()) }
//! # async fn worker(queue: rudder_client::workqueue::WorkQueue<rudder_client::ObjectKey>) {
//! while let Some(key) = queue.get().await {
//!     match reconcile(&key).await {
//!         Ok(()) => queue.forget(&key),
//!         Err(_) => queue.add_rate_limited(key.clone()),
//!     }
//!     queue.done(&key);
//! }
//! # }
//! ```

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Per-key back-off of [`WorkQueue::add_rate_limited`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Delay after the first failure.
    pub base: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for RateLimit {
    /// 5 ms doubling to 1000 s, as client-go's default controller rate limiter.
    fn default() -> Self {
        RateLimit {
            base: Duration::from_millis(5),
            max: Duration::from_secs(1000),
        }
    }
}

impl RateLimit {
    /// The delay after `failures` failures (1 = first).
    pub fn delay(&self, failures: u32) -> Duration {
        crate::backoff::BackoffConfig {
            initial: self.base,
            max: self.max,
            jitter: false,
        }
        .delay_for(failures)
    }
}

#[derive(Debug)]
struct Queue<T> {
    /// Keys ready to be handed out, in order.
    ready: VecDeque<T>,
    /// Keys that need processing: queued, or added again while processing.
    dirty: HashSet<T>,
    /// Keys a worker holds.
    processing: HashSet<T>,
    /// Keys to queue later, by time (and a sequence number to keep order).
    waiting: BTreeMap<(Instant, u64), T>,
    /// When each waiting key is due, to keep only the earliest.
    waiting_since: HashMap<T, (Instant, u64)>,
    sequence: u64,
    failures: HashMap<T, u32>,
    shutting_down: bool,
}

impl<T: Clone + Eq + Hash> Queue<T> {
    fn add(&mut self, item: T) {
        if self.shutting_down || self.dirty.contains(&item) {
            return;
        }
        self.dirty.insert(item.clone());
        if !self.processing.contains(&item) {
            self.ready.push_back(item);
        }
    }

    fn promote_due(&mut self, now: Instant) {
        while let Some(entry) = self.waiting.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let item = entry.remove();
            self.waiting_since.remove(&item);
            self.add(item);
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.waiting.keys().next().map(|(at, _)| *at)
    }
}

/// A deduplicating, rate-limited queue of keys, shared by the event handlers that add
/// and the workers that take. Clones share the queue.
#[derive(Debug)]
pub struct WorkQueue<T> {
    queue: Arc<Mutex<Queue<T>>>,
    changed: Arc<Notify>,
    rate_limit: RateLimit,
}

impl<T> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        WorkQueue {
            queue: Arc::clone(&self.queue),
            changed: Arc::clone(&self.changed),
            rate_limit: self.rate_limit,
        }
    }
}

impl<T: Clone + Eq + Hash + Send + 'static> Default for WorkQueue<T> {
    fn default() -> Self {
        Self::new(RateLimit::default())
    }
}

impl<T: Clone + Eq + Hash + Send + 'static> WorkQueue<T> {
    /// An empty queue whose re-queues back off as `rate_limit` says.
    pub fn new(rate_limit: RateLimit) -> Self {
        WorkQueue {
            queue: Arc::new(Mutex::new(Queue {
                ready: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashSet::new(),
                waiting: BTreeMap::new(),
                waiting_since: HashMap::new(),
                sequence: 0,
                failures: HashMap::new(),
                shutting_down: false,
            })),
            changed: Arc::new(Notify::new()),
            rate_limit,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        // Every critical section leaves the queue consistent, so poisoning is ignored.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a key now (once, however often it is added before a worker takes it).
    pub fn add(&self, item: T) {
        self.lock().add(item);
        self.changed.notify_waiters();
    }

    /// Queues a key after `delay`; a key already waiting keeps the earlier time.
    pub fn add_after(&self, item: T, delay: Duration) {
        if delay.is_zero() {
            return self.add(item);
        }
        let at = Instant::now() + delay;
        {
            let mut queue = self.lock();
            if queue.shutting_down {
                return;
            }
            if let Some(&(existing, seq)) = queue.waiting_since.get(&item) {
                if existing <= at {
                    return;
                }
                queue.waiting.remove(&(existing, seq));
            }
            queue.sequence += 1;
            let slot = (at, queue.sequence);
            queue.waiting.insert(slot, item.clone());
            queue.waiting_since.insert(item, slot);
        }
        self.changed.notify_waiters();
    }

    /// Queues a key after its back-off delay, and counts one more failure for it.
    pub fn add_rate_limited(&self, item: T) {
        let delay = {
            let mut queue = self.lock();
            let failures = queue.failures.entry(item.clone()).or_insert(0);
            *failures = failures.saturating_add(1);
            self.rate_limit.delay(*failures)
        };
        self.add_after(item, delay);
    }

    /// Forgets a key's failures (call it after the key was processed successfully).
    pub fn forget(&self, item: &T) {
        self.lock().failures.remove(item);
    }

    /// How many times the key was re-queued with back-off since it was last forgotten.
    pub fn num_requeues(&self, item: &T) -> u32 {
        self.lock().failures.get(item).copied().unwrap_or(0)
    }

    /// Takes the next key, waiting for one; `None` once the queue is shut down and
    /// drained. The caller must call [`WorkQueue::done`] with the key afterwards.
    pub async fn get(&self) -> Option<T> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before looking, so an add between the look and the wait wakes us.
            changed.as_mut().enable();
            let next_due = {
                let mut queue = self.lock();
                queue.promote_due(Instant::now());
                if let Some(item) = queue.ready.pop_front() {
                    queue.dirty.remove(&item);
                    queue.processing.insert(item.clone());
                    return Some(item);
                }
                if queue.shutting_down {
                    return None;
                }
                queue.next_due()
            };
            match next_due {
                Some(at) => {
                    tokio::select! {
                        _ = &mut changed => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// Takes the next key if one is ready now, without waiting.
    pub fn try_get(&self) -> Option<T> {
        let mut queue = self.lock();
        queue.promote_due(Instant::now());
        let item = queue.ready.pop_front()?;
        queue.dirty.remove(&item);
        queue.processing.insert(item.clone());
        Some(item)
    }

    /// Marks a key processed; if it was added while processing, it is queued again.
    pub fn done(&self, item: &T) {
        {
            let mut queue = self.lock();
            queue.processing.remove(item);
            if queue.dirty.contains(item) {
                queue.ready.push_back(item.clone());
            }
        }
        self.changed.notify_waiters();
    }

    /// Keys ready to be handed out now (not counting waiting or processing ones).
    pub fn len(&self) -> usize {
        self.lock().ready.len()
    }

    /// Whether no key is ready now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops accepting keys; workers drain what is ready, then `get` answers `None`.
    pub fn shut_down(&self) {
        {
            let mut queue = self.lock();
            queue.shutting_down = true;
            queue.waiting.clear();
            queue.waiting_since.clear();
        }
        self.changed.notify_waiters();
    }

    /// Whether [`WorkQueue::shut_down`] was called.
    pub fn is_shut_down(&self) -> bool {
        self.lock().shutting_down
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> WorkQueue<&'static str> {
        WorkQueue::new(RateLimit {
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
        })
    }

    #[tokio::test]
    async fn a_key_added_twice_is_queued_once() {
        let q = queue();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().await, Some("a"));
        assert_eq!(q.get().await, Some("b"));
        assert_eq!(q.try_get(), None);
    }

    #[tokio::test]
    async fn a_key_being_processed_is_not_handed_out_again_until_done() {
        let q = queue();
        q.add("a");
        assert_eq!(q.get().await, Some("a"));
        q.add("a");
        q.add("a");
        assert_eq!(q.try_get(), None, "a is still being processed");
        q.done(&"a");
        assert_eq!(q.try_get(), Some("a"), "re-queued once by done");
        q.done(&"a");
        assert_eq!(q.try_get(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_adds_come_due_in_time_and_keep_the_earliest() {
        let q = queue();
        let start = Instant::now();
        q.add_after("late", Duration::from_secs(10));
        q.add_after("soon", Duration::from_secs(5));
        q.add_after("late", Duration::from_secs(2));
        q.add_after("soon", Duration::from_secs(60));
        assert_eq!(q.try_get(), None);
        assert_eq!(q.get().await, Some("late"));
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert_eq!(q.get().await, Some("soon"));
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limited_requeues_back_off_exponentially_until_forgotten() {
        let q = queue();
        let mut waited = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            q.add_rate_limited("a");
            assert_eq!(q.get().await, Some("a"));
            q.done(&"a");
            waited.push(start.elapsed().as_millis());
        }
        assert_eq!(waited, [10, 20, 40, 50, 50]);
        assert_eq!(q.num_requeues(&"a"), 5);
        q.forget(&"a");
        assert_eq!(q.num_requeues(&"a"), 0);
    }

    #[tokio::test]
    async fn shut_down_drains_then_answers_none_and_wakes_waiters() {
        let q = queue();
        q.add("a");
        q.shut_down();
        q.add("b");
        assert_eq!(q.get().await, Some("a"));
        assert_eq!(q.get().await, None);

        let q = queue();
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        tokio::task::yield_now().await;
        q.shut_down();
        assert_eq!(waiter.await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_waiting_worker_wakes_on_add() {
        let q = queue();
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        tokio::task::yield_now().await;
        q.add("x");
        assert_eq!(waiter.await.unwrap(), Some("x"));
    }
}
