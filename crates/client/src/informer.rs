//! Informers: a watcher feeding a reflector cache, plus handlers told of every change.
//! Handlers should only enqueue keys (level-triggered controllers read the cache when
//! they work a key); [`Informer::enqueue_into`] is that handler.
//!
//! ```no_run
//! # async fn f(client: rudder_client::Client) {
//! use k8s_openapi::api::apps::v1::ReplicaSet;
//! use rudder_client::{Api, informer::Informer, watcher::WatcherConfig, workqueue::WorkQueue};
//! let queue = WorkQueue::default();
//! let mut informer = Informer::new(Api::<ReplicaSet>::all(client), WatcherConfig::default());
//! informer.enqueue_into(queue.clone());
//! let store = informer.store();
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! informer.spawn(shutdown.clone());
//! store.wait_until_synced().await;
//! while let Some(key) = queue.get().await {
//!     let _current = store.get(&key); // None: it was deleted
//!     queue.done(&key);
//! }
//! # }
//! ```

use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::api::Api;
use crate::object::{Object, ObjectKey};
use crate::reflector::{Change, Store, StoreWriter, store};
use crate::watcher::{WatcherConfig, watcher};
use crate::workqueue::WorkQueue;

type Handler<K> = Box<dyn Fn(&Change<K>) + Send + Sync>;

/// A watch-fed cache of one resource with change handlers.
pub struct Informer<K: Object> {
    api: Api<K>,
    config: WatcherConfig,
    writer: StoreWriter<K>,
    store: Store<K>,
    handlers: Vec<Handler<K>>,
}

impl<K: Object> std::fmt::Debug for Informer<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Informer")
            .field("resource", &self.api.target().plural)
            .field("handlers", &self.handlers.len())
            .finish_non_exhaustive()
    }
}

impl<K: Object> Informer<K> {
    /// An informer over the objects of `api` selected by `config`.
    pub fn new(api: Api<K>, config: WatcherConfig) -> Self {
        let (writer, store) = store();
        Informer {
            api,
            config,
            writer,
            store,
            handlers: Vec::new(),
        }
    }

    /// A reader of the cache (usable before and after the informer runs).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Calls `handler` with every change of the cache, in order, from the informer's
    /// task. Keep it short: enqueue, do not work.
    pub fn on_change(&mut self, handler: impl Fn(&Change<K>) + Send + Sync + 'static) {
        self.handlers.push(Box::new(handler));
    }

    /// Adds the key of every changed object to `queue`.
    pub fn enqueue_into(&mut self, queue: WorkQueue<ObjectKey>) {
        self.on_change(move |change| queue.add(change.key()));
    }

    /// Adds a key derived from each change (e.g. the owner of a changed pod) to
    /// `queue`; changes mapped to `None` are skipped.
    pub fn enqueue_mapped<T>(
        &mut self,
        queue: WorkQueue<T>,
        map: impl Fn(&Change<K>) -> Option<T> + Send + Sync + 'static,
    ) where
        T: Clone + Eq + std::hash::Hash + Send + 'static,
    {
        self.on_change(move |change| {
            if let Some(key) = map(change) {
                queue.add(key);
            }
        });
    }

    /// Runs until `shutdown`: watches, keeps the cache, calls the handlers.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let events = watcher(self.api.clone(), self.config.clone());
        futures::pin_mut!(events);
        loop {
            let item = tokio::select! {
                _ = shutdown.cancelled() => return,
                item = events.next() => item,
            };
            match item {
                Some(Ok(event)) => {
                    for change in self.writer.apply(event) {
                        for handler in &self.handlers {
                            handler(&change);
                        }
                    }
                }
                Some(Err(err)) => tracing::warn!(error = %err, "watch failed; the watcher retries"),
                None => return,
            }
        }
    }

    /// Runs the informer on its own task (in a span naming the resource).
    pub fn spawn(self, shutdown: CancellationToken) -> JoinHandle<()> {
        let span = tracing::info_span!(
            "informer",
            resource = %self.api.target().plural,
            namespace = self.api.namespace().unwrap_or("")
        );
        tokio::spawn(self.run(shutdown).instrument(span))
    }
}
