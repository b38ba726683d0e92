//! One watch cache per resource: a single store watch on the resource's prefix
//! keeps the current objects and a window of recent events, and every client
//! watch (and every `resourceVersion=0` list) is served from it, so many watchers
//! cost the store nothing extra.
//!
//! Consistency: the cache's state and window change under one lock together with
//! the broadcast of each event, and a watcher subscribes under that lock, so it
//! sees every event after its starting revision exactly once. A watcher that
//! falls behind the broadcast buffer is ended; its client re-watches from the last
//! revision it saw (or relists on 410), as Kubernetes clients do.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use rudder_api::keys;
use rudder_api::resource::ResourceInfo;
use rudder_api::selector::{FieldSelector, Selector};
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::registry::meta;
use crate::storage::{Storage, StoreEvent, StoreWatchMessage};

/// Events kept per resource for watchers that resume from an older revision.
pub const DEFAULT_HISTORY_CAPACITY: usize = 4096;
/// Events buffered per watcher before it is cut off as too slow.
const BROADCAST_CAPACITY: usize = 1024;

/// The type of a watch event, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// A new object (or one that entered the watcher's selection).
    Added,
    /// A changed object.
    Modified,
    /// A removed object (or one that left the watcher's selection).
    Deleted,
    /// A progress marker carrying only a resourceVersion.
    Bookmark,
    /// An error Status; the stream ends after it.
    Error,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
            EventType::Bookmark => "BOOKMARK",
            EventType::Error => "ERROR",
        }
    }
}

/// An object as the cache keeps it: the value, its JSON (encoded once, when its
/// event arrives, and written as-is by every list and watcher that sends it), and
/// its labels and selectable fields, taken out the first time a selector asks (so
/// selectors walk no JSON per request, and writes nobody selects on pay nothing).
#[derive(Debug)]
pub struct CachedObject {
    resource: &'static ResourceInfo,
    value: Arc<Value>,
    /// The object's JSON: `apiVersion` and `kind` first, then the other fields.
    json: Bytes,
    /// Where the fields after `apiVersion` and `kind` start in `json`.
    untyped_from: usize,
    /// `metadata.namespace`, which every namespaced list and watch compares: read
    /// from here, not from the value (whose map lookups were a list's largest cost).
    namespace: String,
    labels: OnceLock<BTreeMap<String, String>>,
    fields: OnceLock<BTreeMap<String, String>>,
}

impl PartialEq for CachedObject {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl CachedObject {
    /// Encodes `value` (an object of `resource`) once.
    pub fn new(resource: &'static ResourceInfo, value: Value) -> Self {
        let (json, untyped_from) = encode(&value);
        CachedObject {
            resource,
            namespace: meta::meta_str(&value, "namespace").to_string(),
            value: Arc::new(value),
            json: Bytes::from(json),
            untyped_from,
            labels: OnceLock::new(),
            fields: OnceLock::new(),
        }
    }

    fn labels(&self) -> &BTreeMap<String, String> {
        self.labels
            .get_or_init(|| rudder_api::selector::labels_of(&self.value))
    }

    fn fields(&self) -> &BTreeMap<String, String> {
        self.fields
            .get_or_init(|| rudder_api::selector::field_set(self.resource, &self.value))
    }

    /// The value, shared.
    pub fn value(&self) -> &Arc<Value> {
        &self.value
    }

    /// The object's JSON.
    pub fn json(&self) -> &Bytes {
        &self.json
    }

    /// Appends the object as a list item: its JSON without `apiVersion` and `kind`,
    /// as upstream encodes list items.
    pub fn write_item(&self, out: &mut Vec<u8>) {
        if self.untyped_from == 0 {
            out.extend_from_slice(&self.json);
        } else {
            out.push(b'{');
            out.extend_from_slice(&self.json[self.untyped_from..]);
        }
    }

    /// The length [`CachedObject::write_item`] appends.
    pub fn item_len(&self) -> usize {
        match self.untyped_from {
            0 => self.json.len(),
            from => 1 + self.json.len() - from,
        }
    }
}

impl std::ops::Deref for CachedObject {
    type Target = Value;

    fn deref(&self) -> &Value {
        &self.value
    }
}

/// An object's JSON with `apiVersion` and `kind` first (as a sorted map writes them
/// too), and where the other fields start (0 when it has neither, or is no object).
fn encode(value: &Value) -> (Vec<u8>, usize) {
    const TYPE_FIELDS: [&str; 2] = ["apiVersion", "kind"];
    let Some(map) = value.as_object() else {
        return (serde_json::to_vec(value).unwrap_or_default(), 0);
    };
    if !TYPE_FIELDS.iter().any(|f| map.contains_key(*f)) {
        return (serde_json::to_vec(value).unwrap_or_default(), 0);
    }
    let mut out = Vec::with_capacity(1024);
    out.push(b'{');
    let mut first = true;
    let mut field = |out: &mut Vec<u8>, key: &str, v: &Value| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        // Strings and Values always serialize.
        let _ = serde_json::to_writer(&mut *out, key);
        out.push(b':');
        let _ = serde_json::to_writer(&mut *out, v);
    };
    for key in TYPE_FIELDS {
        if let Some(v) = map.get(key) {
            field(&mut out, key, v);
        }
    }
    // Past the comma that follows the type fields, or at the closing brace.
    let mut untyped_from = out.len();
    let mut rest = map
        .iter()
        .filter(|(k, _)| !TYPE_FIELDS.contains(&k.as_str()));
    if let Some((k, v)) = rest.next() {
        field(&mut out, k, v);
        untyped_from += 1;
    }
    for (k, v) in rest {
        field(&mut out, k, v);
    }
    out.push(b'}');
    (out, untyped_from)
}

/// One change in the cache: the object after it (the last state, for a delete,
/// with the deletion's revision) and before it.
#[derive(Debug, PartialEq)]
pub struct CacheEvent {
    /// ADDED, MODIFIED or DELETED.
    pub kind: EventType,
    /// The store key.
    pub key: String,
    /// The object after the change (for a delete: as it was, at the delete's revision).
    pub object: Arc<CachedObject>,
    /// The object before the change.
    pub prev: Option<Arc<CachedObject>>,
    /// The revision of the change.
    pub revision: i64,
}

/// Turns a store event into a cache event; `cached` is the cache's object at the
/// key, which is the event's previous value (decoded again only when the cache has
/// none). Undecodable values are skipped (logged): one corrupt object must not stop
/// a resource's watchers.
pub fn convert(
    resource: &'static ResourceInfo,
    event: &StoreEvent,
    cached: Option<&Arc<CachedObject>>,
) -> Option<CacheEvent> {
    let key = String::from_utf8(event.key.clone()).ok()?;
    let prev = match (&event.prev_value, cached) {
        (None, _) => None,
        (Some(_), Some(cached)) => Some(cached.clone()),
        (Some(bytes), None) => serde_json::from_slice::<Value>(bytes)
            .ok()
            .map(|v| Arc::new(CachedObject::new(resource, v))),
    };
    match &event.value {
        Some(value) => {
            let object = match meta::decode_from_store(value, event.mod_revision) {
                Ok(object) => object,
                Err(e) => {
                    tracing::warn!(key, error = %e, "skipping a stored object that does not decode");
                    return None;
                }
            };
            Some(CacheEvent {
                kind: if prev.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                },
                key,
                object: Arc::new(CachedObject::new(resource, object)),
                prev,
                revision: event.mod_revision,
            })
        }
        None => {
            let mut last = (*prev.as_ref()?.value).clone();
            meta::set_resource_version(&mut last, event.mod_revision);
            Some(CacheEvent {
                kind: EventType::Deleted,
                key,
                object: Arc::new(CachedObject::new(resource, last)),
                prev,
                revision: event.mod_revision,
            })
        }
    }
}

/// What one watcher selects: a namespace and label/field selectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchFilter {
    /// The resource (for field sets).
    pub resource: &'static ResourceInfo,
    /// Only this namespace, when set.
    pub namespace: Option<String>,
    /// Label selector.
    pub labels: Selector,
    /// Field selector.
    pub fields: FieldSelector,
}

impl WatchFilter {
    /// Whether an object is selected.
    pub fn matches(&self, object: &CachedObject) -> bool {
        if let Some(ns) = &self.namespace
            && object.namespace != *ns
        {
            return false;
        }
        self.selects(object)
    }

    /// Whether the selectors select an object (its namespace known to match).
    fn selects(&self, object: &CachedObject) -> bool {
        (self.labels.is_everything() || self.labels.matches(object.labels()))
            && (self.fields.terms().is_empty() || self.fields.matches(object.fields()))
    }

    /// What this watcher sees of an event, as upstream's cache computes it: an
    /// object that enters the selection is ADDED, one that leaves it is DELETED.
    pub fn view(&self, event: &CacheEvent) -> Option<EventType> {
        let now = self.matches(&event.object);
        let before = event.prev.as_deref().is_some_and(|p| self.matches(p));
        match event.kind {
            EventType::Deleted => before.then_some(EventType::Deleted),
            EventType::Added => now.then_some(EventType::Added),
            _ => match (before, now) {
                (true, true) => Some(EventType::Modified),
                (false, true) => Some(EventType::Added),
                (true, false) => Some(EventType::Deleted),
                (false, false) => None,
            },
        }
    }
}

/// The cached state of one resource.
#[derive(Debug)]
struct State {
    /// Current objects by key.
    objects: BTreeMap<String, Arc<CachedObject>>,
    /// The revision `objects` is current at.
    revision: i64,
    /// Recent events in revision order.
    history: VecDeque<Arc<CacheEvent>>,
    /// Every event after this revision is in `history`.
    complete_after: i64,
    /// Live watchers' feed; replaced (ending them) when the cache restarts.
    sender: broadcast::Sender<Arc<CacheEvent>>,
    /// How many events `history` keeps.
    capacity: usize,
}

impl State {
    fn new(capacity: usize) -> Self {
        State {
            capacity: capacity.max(1),
            objects: BTreeMap::new(),
            revision: 0,
            history: VecDeque::new(),
            complete_after: 0,
            sender: broadcast::channel(BROADCAST_CAPACITY).0,
        }
    }

    fn apply(&mut self, event: CacheEvent) {
        if event.revision <= self.revision {
            return;
        }
        match event.kind {
            EventType::Deleted => {
                self.objects.remove(&event.key);
            }
            _ => {
                self.objects.insert(event.key.clone(), event.object.clone());
            }
        }
        self.revision = event.revision;
        let event = Arc::new(event);
        self.history.push_back(event.clone());
        while self.history.len() > self.capacity {
            if let Some(old) = self.history.pop_front() {
                self.complete_after = old.revision;
            }
        }
        // No receivers is fine: nobody watches right now.
        let _ = self.sender.send(event);
    }
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchFrom {
    /// The current state as ADDED events, then changes (no resourceVersion, or "0").
    Now,
    /// Changes after this revision.
    After(i64),
}

/// A watcher's start: the events to send first, then the live feed.
#[derive(Debug)]
pub struct Subscription {
    /// Events to send before the live ones.
    pub initial: Vec<Arc<CacheEvent>>,
    /// Live events; only those after `revision` are new.
    pub live: broadcast::Receiver<Arc<CacheEvent>>,
    /// The revision `initial` brings the watcher to.
    pub revision: i64,
}

/// The watch cache of one resource.
#[derive(Debug)]
pub struct WatchCache {
    resource: &'static ResourceInfo,
    state: Mutex<State>,
    /// The cache's revision, 0 until the first list completes (readiness).
    revision: watch::Sender<i64>,
}

impl WatchCache {
    /// Starts the cache of `resource` on a task that lists, then watches the store,
    /// and starts over (ending current watchers) whenever the store watch breaks.
    pub fn start(
        resource: &'static ResourceInfo,
        storage: Storage,
        history_capacity: usize,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let cache = Arc::new(WatchCache {
            resource,
            state: Mutex::new(State::new(history_capacity)),
            revision: watch::channel(0).0,
        });
        let runner = cache.clone();
        tokio::spawn(
            async move { runner.run(storage, shutdown).await }.instrument(tracing::info_span!(
                "watch_cache",
                resource = resource.plural
            )),
        );
        cache
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way
        // that matters more than stopping: keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn run(self: Arc<Self>, storage: Storage, shutdown: CancellationToken) {
        let prefix = match keys::list_prefix(self.resource, None) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "no key prefix");
                return;
            }
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            let result = tokio::select! {
                () = shutdown.cancelled() => return,
                r = self.sync(&storage, &prefix) => r,
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "store watch ended; relisting");
            }
            {
                // End every watcher: they resume from their last revision elsewhere.
                let mut state = self.lock();
                state.sender = broadcast::channel(BROADCAST_CAPACITY).0;
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Lists the prefix, then follows the store watch until it fails.
    async fn sync(&self, storage: &Storage, prefix: &str) -> Result<()> {
        let end = keys::prefix_range_end(prefix.as_bytes());
        let page = storage.range(prefix.as_bytes(), &end, 0, 0).await?;
        let mut objects = BTreeMap::new();
        for item in &page.items {
            if let (Ok(key), Ok(object)) = (
                String::from_utf8(item.key.clone()),
                meta::decode_from_store(&item.value, item.mod_revision),
            ) {
                objects.insert(key, Arc::new(CachedObject::new(self.resource, object)));
            }
        }
        let mut watch = storage
            .watch_prefix(prefix.as_bytes(), page.revision + 1)
            .await?;
        {
            let mut state = self.lock();
            state.objects = objects;
            state.revision = page.revision;
            state.history.clear();
            state.complete_after = page.revision;
        }
        self.revision.send_replace(page.revision);
        tracing::debug!(
            revision = page.revision,
            objects = page.items.len(),
            "synced"
        );
        loop {
            match watch.next().await? {
                None => return Err(Error::Storage("the store ended the watch".into())),
                Some(StoreWatchMessage::Progress(_)) => {}
                Some(StoreWatchMessage::Events(events)) => {
                    let mut last = 0;
                    {
                        let mut state = self.lock();
                        for event in &events {
                            let cached = std::str::from_utf8(&event.key)
                                .ok()
                                .and_then(|key| state.objects.get(key));
                            if let Some(e) = convert(self.resource, event, cached) {
                                state.apply(e);
                            }
                            last = event.mod_revision;
                        }
                    }
                    self.revision.send_replace(last);
                }
            }
        }
    }

    /// Waits until the cache has listed (at most `timeout`).
    pub async fn wait_ready(&self, timeout: Duration) -> Result<i64> {
        let mut rx = self.revision.subscribe();
        match tokio::time::timeout(timeout, rx.wait_for(|r| *r > 0)).await {
            Ok(Ok(r)) => Ok(*r),
            _ => Err(Error::Timeout(format!(
                "the watch cache of {} is not ready yet",
                self.resource.group_resource()
            ))),
        }
    }

    /// The cache's revision (0 before the first list).
    pub fn revision(&self) -> i64 {
        *self.revision.borrow()
    }

    /// Current objects the filter selects, in key order, and the revision they are
    /// current at.
    pub fn snapshot(&self, filter: &WatchFilter) -> (Vec<Arc<CachedObject>>, i64) {
        // One namespace's objects are one run of keys: read only that run (its keys
        // say the namespace, so the filter need not compare it again).
        let namespace_prefix = filter
            .namespace
            .as_deref()
            .filter(|_| self.resource.namespaced)
            .and_then(|ns| keys::list_prefix(self.resource, Some(ns)).ok());
        let prefix = namespace_prefix.as_deref().unwrap_or_default();
        let state = self.lock();
        let items = state
            .objects
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(_, o)| o)
            .filter(|o| match namespace_prefix {
                Some(_) => filter.selects(o),
                None => filter.matches(o),
            })
            .cloned()
            .collect();
        (items, state.revision)
    }

    /// The resource this cache holds.
    pub fn resource(&self) -> &'static ResourceInfo {
        self.resource
    }

    /// Every current object (shared, not copied).
    pub fn objects(&self) -> Vec<Arc<Value>> {
        self.lock()
            .objects
            .values()
            .map(|o| o.value.clone())
            .collect()
    }

    /// The current object at `key`, if any.
    pub fn get(&self, key: &str) -> Option<Arc<Value>> {
        self.lock().objects.get(key).map(|o| o.value.clone())
    }

    /// The object at `key` once the cache has reached `revision`, waiting for it at
    /// most `patience`; `None` when it has not got there in time (or has no object).
    pub async fn get_once_at(
        &self,
        key: &str,
        revision: i64,
        patience: Duration,
    ) -> Option<Arc<Value>> {
        let mut rx = self.revision.subscribe();
        if *rx.borrow() < revision {
            tokio::time::timeout(patience, rx.wait_for(|r| *r >= revision))
                .await
                .ok()?
                .ok()?;
        }
        self.get(key)
    }

    /// Starts a watcher. `After(N)` older than the window is a 410 `Expired`.
    pub fn subscribe(&self, from: WatchFrom) -> Result<Subscription> {
        let state = self.lock();
        let live = state.sender.subscribe();
        match from {
            WatchFrom::Now => {
                let initial = state
                    .objects
                    .iter()
                    .map(|(key, object)| {
                        Arc::new(CacheEvent {
                            kind: EventType::Added,
                            key: key.clone(),
                            object: object.clone(),
                            prev: None,
                            revision: state.revision,
                        })
                    })
                    .collect();
                Ok(Subscription {
                    initial,
                    live,
                    revision: state.revision,
                })
            }
            WatchFrom::After(rv) => {
                if rv < state.complete_after {
                    return Err(Error::Expired(format!(
                        "too old resource version: {rv} ({})",
                        state.complete_after
                    )));
                }
                let initial: Vec<_> = state
                    .history
                    .iter()
                    .filter(|e| e.revision > rv)
                    .cloned()
                    .collect();
                Ok(Subscription {
                    initial,
                    live,
                    revision: state.revision.max(rv),
                })
            }
        }
    }
}

/// The watch caches of every served resource.
#[derive(Debug, Clone)]
pub struct WatchCaches {
    caches: Arc<BTreeMap<(&'static str, &'static str), Arc<WatchCache>>>,
}

impl WatchCaches {
    /// Starts one cache per resource in the table, each keeping `history_capacity`
    /// events.
    pub fn start(storage: &Storage, history_capacity: usize, shutdown: &CancellationToken) -> Self {
        let caches = rudder_api::resource::all()
            .iter()
            .filter(|r| r.verbs.contains(&"watch"))
            .map(|r| {
                (
                    (r.group, r.plural),
                    WatchCache::start(r, storage.clone(), history_capacity, shutdown.clone()),
                )
            })
            .collect();
        WatchCaches {
            caches: Arc::new(caches),
        }
    }

    /// The cache of `resource`.
    pub fn get(&self, resource: &ResourceInfo) -> Option<&Arc<WatchCache>> {
        self.caches.get(&(resource.group, resource.plural))
    }

    /// Whether every cache has listed.
    pub fn ready(&self) -> bool {
        self.caches.values().all(|c| c.revision() > 0)
    }
}

/// The JSON line of one event of a cached object for the wire: its JSON as
/// encoded once for every watcher.
pub fn cached_event_line(kind: EventType, object: &CachedObject) -> Vec<u8> {
    const OPEN: &[u8] = b"{\"type\":\"";
    const OBJECT: &[u8] = b"\",\"object\":";
    let kind = kind.as_str().as_bytes();
    let mut line =
        Vec::with_capacity(OPEN.len() + kind.len() + OBJECT.len() + object.json.len() + 2);
    line.extend_from_slice(OPEN);
    line.extend_from_slice(kind);
    line.extend_from_slice(OBJECT);
    line.extend_from_slice(&object.json);
    line.extend_from_slice(b"}\n");
    line
}

/// The JSON line of one event for the wire.
pub fn event_line(kind: EventType, object: &Value) -> Vec<u8> {
    /// Field order as upstream writes it: type first.
    #[derive(serde::Serialize)]
    struct Line<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        object: &'a Value,
    }
    let mut line = serde_json::to_vec(&Line {
        kind: kind.as_str(),
        object,
    })
    .unwrap_or_default();
    line.push(b'\n');
    line
}

/// A BOOKMARK object: the resource's type and only a resourceVersion.
pub fn bookmark(resource: &ResourceInfo, revision: i64) -> Value {
    json!({
        "kind": resource.kind,
        "apiVersion": resource.api_version(),
        "metadata": {"resourceVersion": revision.to_string()},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_api::resource::resolve;

    fn put(key: &str, value: &Value, prev: Option<&Value>, rev: i64) -> StoreEvent {
        StoreEvent {
            key: key.as_bytes().to_vec(),
            value: Some(serde_json::to_vec(value).unwrap()),
            prev_value: prev.map(|p| serde_json::to_vec(p).unwrap()),
            mod_revision: rev,
        }
    }

    fn cm(ns: &str, name: &str, app: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": ns, "labels": {"app": app}}})
    }

    fn cms() -> &'static ResourceInfo {
        resolve("cm").unwrap()
    }

    /// What `convert` makes of a store event when the cache holds nothing at its key.
    fn conv(event: &StoreEvent) -> Option<CacheEvent> {
        convert(cms(), event, None)
    }

    fn filter(ns: Option<&str>, labels: &str) -> WatchFilter {
        WatchFilter {
            resource: resolve("cm").unwrap(),
            namespace: ns.map(str::to_string),
            labels: Selector::parse(labels).unwrap(),
            fields: FieldSelector::default(),
        }
    }

    #[test]
    fn converts_store_events() {
        let a = cm("x", "a", "web");
        let added = conv(&put("/registry/configmaps/x/a", &a, None, 5)).unwrap();
        assert_eq!(added.kind, EventType::Added);
        assert_eq!(added.object["metadata"]["resourceVersion"], "5");
        let modified = conv(&put("/registry/configmaps/x/a", &a, Some(&a), 6)).unwrap();
        assert_eq!(modified.kind, EventType::Modified);
        let deleted = conv(&StoreEvent {
            key: b"/registry/configmaps/x/a".to_vec(),
            value: None,
            prev_value: Some(serde_json::to_vec(&a).unwrap()),
            mod_revision: 7,
        })
        .unwrap();
        assert_eq!(deleted.kind, EventType::Deleted);
        assert_eq!(deleted.object["metadata"]["resourceVersion"], "7");
        assert_eq!(deleted.object["metadata"]["name"], "a");
        let corrupt = StoreEvent {
            key: b"k".to_vec(),
            value: Some(b"{".to_vec()),
            prev_value: None,
            mod_revision: 8,
        };
        assert_eq!(conv(&corrupt), None);
    }

    #[test]
    fn watchers_see_objects_enter_and_leave_their_selection() {
        let web = cm("x", "a", "web");
        let db = cm("x", "a", "db");
        let f = filter(None, "app=web");
        let ev = |obj: &Value, prev: Option<&Value>| {
            conv(&put("/registry/configmaps/x/a", obj, prev, 9)).unwrap()
        };
        assert_eq!(f.view(&ev(&web, None)), Some(EventType::Added));
        assert_eq!(f.view(&ev(&db, None)), None);
        assert_eq!(f.view(&ev(&web, Some(&web))), Some(EventType::Modified));
        assert_eq!(f.view(&ev(&web, Some(&db))), Some(EventType::Added));
        assert_eq!(f.view(&ev(&db, Some(&web))), Some(EventType::Deleted));
        assert_eq!(f.view(&ev(&db, Some(&db))), None);
        let other_ns = filter(Some("y"), "");
        assert_eq!(other_ns.view(&ev(&web, None)), None);
    }

    #[test]
    fn history_window_and_subscriptions() {
        let cache = WatchCache {
            resource: resolve("cm").unwrap(),
            state: Mutex::new(State::new(2)),
            revision: watch::channel(0).0,
        };
        {
            let mut s = cache.lock();
            s.revision = 10;
            s.complete_after = 10;
            for rev in 11..=13 {
                let obj = cm("x", &format!("o{rev}"), "web");
                s.apply(
                    conv(&put(
                        &format!("/registry/configmaps/x/o{rev}"),
                        &obj,
                        None,
                        rev,
                    ))
                    .unwrap(),
                );
            }
            // Replays of old revisions change nothing.
            let old = cm("x", "zombie", "web");
            s.apply(conv(&put("/registry/configmaps/x/zombie", &old, None, 12)).unwrap());
        }
        let now = cache.subscribe(WatchFrom::Now).unwrap();
        assert_eq!(now.initial.len(), 3);
        assert_eq!(now.revision, 13);
        let after = cache.subscribe(WatchFrom::After(11)).unwrap();
        let revs: Vec<_> = after.initial.iter().map(|e| e.revision).collect();
        assert_eq!(revs, [12, 13]);
        assert_eq!(
            cache.subscribe(WatchFrom::After(12)).unwrap().initial.len(),
            1
        );
        // Capacity 2: the event at 11 fell out, so 11 is the oldest resumable revision.
        let err = cache.subscribe(WatchFrom::After(10)).unwrap_err();
        assert_eq!(err.code(), 410);
        assert_eq!(err.to_string(), "too old resource version: 10 (11)");
        let (items, rev) = cache.snapshot(&filter(Some("x"), ""));
        assert_eq!((items.len(), rev), (3, 13));
        assert_eq!(cache.snapshot(&filter(Some("y"), "")).0.len(), 0);
        assert_eq!(cache.snapshot(&filter(None, "app=db")).0.len(), 0);
    }

    fn typed(ns: &str, name: &str, app: &str, node: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
               "spec": {"nodeName": node}, "status": {"phase": "Running"}})
    }

    fn item(object: &CachedObject) -> Value {
        let mut out = Vec::new();
        object.write_item(&mut out);
        assert_eq!(out.len(), object.item_len());
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn cached_json_is_the_object_and_items_drop_the_type() {
        let pods = resolve("pods").unwrap();
        let pod = typed("x", "a", "web", "n1");
        let cached = CachedObject::new(pods, pod.clone());
        // As a Value map writes it: same bytes, so lists and watches keep their shape.
        assert_eq!(&cached.json()[..], &serde_json::to_vec(&pod).unwrap()[..]);
        let mut untyped = pod.clone();
        untyped.as_object_mut().unwrap().remove("kind");
        untyped.as_object_mut().unwrap().remove("apiVersion");
        assert_eq!(item(&cached), untyped);
        for odd in [
            json!({"kind": "Pod"}),
            json!({"apiVersion": "v1"}),
            json!({"apiVersion": "v1", "kind": "Pod"}),
            json!({"metadata": {"name": "a"}}),
            json!({}),
            json!({"Zeta": 1, "apiVersion": "v1", "kind": "Pod", "x\"y": [1, 2]}),
        ] {
            let cached = CachedObject::new(pods, odd.clone());
            assert_eq!(serde_json::from_slice::<Value>(cached.json()).unwrap(), odd);
            let mut untyped = odd.clone();
            untyped.as_object_mut().unwrap().remove("kind");
            untyped.as_object_mut().unwrap().remove("apiVersion");
            assert_eq!(item(&cached), untyped, "{odd}");
        }
        let line = cached_event_line(EventType::Modified, &cached);
        assert_eq!(line, event_line(EventType::Modified, &pod));
    }

    #[test]
    fn cached_objects_follow_modifications_and_deletes() {
        let pods = resolve("pods").unwrap();
        let key = "/registry/pods/x/a";
        let mut state = State::new(8);
        let v1 = typed("x", "a", "web", "n1");
        let v2 = typed("x", "a", "db", "n2");
        let event = |value: Option<&Value>, prev: Option<&Value>, rev: i64| StoreEvent {
            key: key.as_bytes().to_vec(),
            value: value.map(|v| serde_json::to_vec(v).unwrap()),
            prev_value: prev.map(|p| serde_json::to_vec(p).unwrap()),
            mod_revision: rev,
        };
        let mut feed = state.sender.subscribe();
        for (value, prev, rev) in [
            (Some(&v1), None, 5),
            (Some(&v2), Some(&v1), 6),
            (None, Some(&v2), 7),
        ] {
            let e = convert(pods, &event(value, prev, rev), state.objects.get(key)).unwrap();
            state.apply(e);
        }
        let added = feed.try_recv().unwrap();
        let modified = feed.try_recv().unwrap();
        let deleted = feed.try_recv().unwrap();
        let decoded = |o: &CachedObject| serde_json::from_slice::<Value>(o.json()).unwrap();
        // Each event's bytes are its object, resourceVersion included.
        for (e, rv) in [(&added, "5"), (&modified, "6"), (&deleted, "7")] {
            assert_eq!(decoded(&e.object), **e.object.value());
            assert_eq!(e.object["metadata"]["resourceVersion"], rv);
        }
        assert_eq!(modified.kind, EventType::Modified);
        assert_eq!(modified.object["metadata"]["labels"]["app"], "db");
        // The previous object is the cache's own, not decoded again.
        assert!(Arc::ptr_eq(modified.prev.as_ref().unwrap(), &added.object));
        assert_eq!(deleted.kind, EventType::Deleted);
        assert_eq!(deleted.object["metadata"]["labels"]["app"], "db");
        assert!(state.objects.is_empty());
        // Selectors read the labels and fields taken out when the object arrived.
        let f = |labels: &str, fields: &str| WatchFilter {
            resource: pods,
            namespace: Some("x".into()),
            labels: Selector::parse(labels).unwrap(),
            fields: FieldSelector::parse(fields).unwrap(),
        };
        assert_eq!(f("app=web", "").view(&modified), Some(EventType::Deleted));
        assert_eq!(f("app=db", "").view(&modified), Some(EventType::Added));
        assert_eq!(
            f("", "spec.nodeName=n2").view(&modified),
            Some(EventType::Added)
        );
        assert_eq!(
            f("", "spec.nodeName=n1,status.phase=Running").view(&deleted),
            None
        );
        assert_eq!(
            f("", "spec.nodeName!=n1").view(&deleted),
            Some(EventType::Deleted)
        );
    }

    #[test]
    fn wire_lines() {
        let line = event_line(EventType::Added, &json!({"a": 1}));
        assert_eq!(line, b"{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n");
        let b = bookmark(resolve("deploy").unwrap(), 42);
        assert_eq!(
            b,
            json!({"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"resourceVersion": "42"}})
        );
    }
}
