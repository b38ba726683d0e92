//! The reflector: a watch-fed cache with one writer ([`StoreWriter`]) and many
//! readers ([`Store`]), keyed by namespace/name. Components read their world from it
//! instead of asking the API server.
//!
//! The writer turns each watcher [`Event`] into the [`Change`]s it makes to the cache
//! (added, updated with the old and new object, deleted), which is what informer
//! handlers see. A relist (`Init` .. `InitDone`) swaps the whole content at once and
//! reports deletions of objects missed while disconnected, as client-go's `Replace`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use futures::{Stream, StreamExt};
use tokio::sync::watch;

use crate::error::Result;
use crate::object::{Object, ObjectKey};
use crate::watcher::Event;

/// A change the cache went through, with the objects as the cache holds them.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<K> {
    /// A new object.
    Added(Arc<K>),
    /// An object changed (its resourceVersion moved).
    Updated {
        /// What the cache held before.
        old: Arc<K>,
        /// What it holds now.
        new: Arc<K>,
    },
    /// An object went away; its last known state.
    Deleted(Arc<K>),
}

impl<K: Object> Change<K> {
    /// The key of the changed object.
    pub fn key(&self) -> ObjectKey {
        match self {
            Change::Added(obj) | Change::Deleted(obj) => obj.key(),
            Change::Updated { new, .. } => new.key(),
        }
    }

    /// The object as it is now (the last state for a deletion).
    pub fn object(&self) -> &Arc<K> {
        match self {
            Change::Added(obj) | Change::Deleted(obj) => obj,
            Change::Updated { new, .. } => new,
        }
    }
}

type Objects<K> = HashMap<ObjectKey, Arc<K>>;

/// The read side of the cache: cheap to clone, shared by every reader.
#[derive(Debug)]
pub struct Store<K> {
    objects: Arc<RwLock<Objects<K>>>,
    synced: watch::Receiver<bool>,
}

impl<K> Clone for Store<K> {
    fn clone(&self) -> Self {
        Store {
            objects: Arc::clone(&self.objects),
            synced: self.synced.clone(),
        }
    }
}

impl<K: Object> Store<K> {
    /// The object with this key.
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<K>> {
        self.read(|objects| objects.get(key).cloned())
    }

    /// The object `namespace/name` (`namespace` None for cluster-scoped kinds).
    pub fn get_named(&self, namespace: Option<&str>, name: &str) -> Option<Arc<K>> {
        self.get(&ObjectKey {
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        })
    }

    /// Every object, in no particular order.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.read(|objects| objects.values().cloned().collect())
    }

    /// Every object matching `filter`.
    pub fn filter(&self, filter: impl Fn(&K) -> bool) -> Vec<Arc<K>> {
        self.read(|objects| objects.values().filter(|o| filter(o)).cloned().collect())
    }

    /// A consistent snapshot of the whole cache, which later changes do not touch.
    /// It copies the map of pointers (not the objects), so writes stay O(1).
    pub fn snapshot(&self) -> HashMap<ObjectKey, Arc<K>> {
        self.read(|objects| objects.clone())
    }

    /// The number of objects.
    pub fn len(&self) -> usize {
        self.read(|objects| objects.len())
    }

    /// Whether the cache holds no object.
    pub fn is_empty(&self) -> bool {
        self.read(|objects| objects.is_empty())
    }

    /// Whether the first full list has arrived.
    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Waits until the first full list has arrived. Controllers call it before their
    /// workers start, so they never act on a partial view. Returns at once if synced;
    /// never returns if the writer is dropped before syncing.
    pub async fn wait_until_synced(&self) {
        let mut synced = self.synced.clone();
        if synced.wait_for(|s| *s).await.is_err() {
            // The writer is gone without ever syncing: nothing will come.
            std::future::pending::<()>().await;
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Objects<K>) -> T) -> T {
        // A panic elsewhere while holding the lock leaves the map itself consistent
        // (every write is one insert, remove or swap), so poisoning is ignored.
        f(&self.objects.read().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The write side: the only one that changes the cache. Not `Clone` on purpose.
#[derive(Debug)]
pub struct StoreWriter<K> {
    objects: Arc<RwLock<Objects<K>>>,
    synced: watch::Sender<bool>,
    /// The objects of a relist under way (between `Init` and `InitDone`).
    buffer: Option<Objects<K>>,
}

/// A new, empty cache: its one writer and a first reader.
pub fn store<K: Object>() -> (StoreWriter<K>, Store<K>) {
    let objects = Arc::new(RwLock::new(HashMap::new()));
    let (synced_tx, synced_rx) = watch::channel(false);
    (
        StoreWriter {
            objects: Arc::clone(&objects),
            synced: synced_tx,
            buffer: None,
        },
        Store {
            objects,
            synced: synced_rx,
        },
    )
}

impl<K: Object> StoreWriter<K> {
    /// Another reader of this cache.
    pub fn store(&self) -> Store<K> {
        Store {
            objects: Arc::clone(&self.objects),
            synced: self.synced.subscribe(),
        }
    }

    /// Applies one watcher event; returns the changes it made, in order.
    pub fn apply(&mut self, event: Event<K>) -> Vec<Change<K>> {
        match event {
            Event::Init => {
                self.buffer = Some(HashMap::new());
                Vec::new()
            }
            Event::InitApply(obj) => {
                self.buffer
                    .get_or_insert_with(HashMap::new)
                    .insert(obj.key(), Arc::new(obj));
                Vec::new()
            }
            Event::InitDone => {
                let new = self.buffer.take().unwrap_or_default();
                let changes = {
                    let mut objects = self.write();
                    let changes = diff(&objects, &new);
                    *objects = new;
                    changes
                };
                self.synced.send_replace(true);
                changes
            }
            Event::Apply(obj) => {
                let obj = Arc::new(obj);
                let key = obj.key();
                let previous = self.write().insert(key, Arc::clone(&obj));
                match previous {
                    Some(old) => vec![Change::Updated { old, new: obj }],
                    None => vec![Change::Added(obj)],
                }
            }
            Event::Delete(obj) => {
                let removed = self.write().remove(&obj.key());
                vec![Change::Deleted(removed.unwrap_or_else(|| Arc::new(obj)))]
            }
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Objects<K>> {
        self.objects.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a relist changed: added and updated objects, and deletions of objects no
/// longer listed. Objects with an unchanged resourceVersion are not reported.
fn diff<K: Object>(old: &Objects<K>, new: &Objects<K>) -> Vec<Change<K>> {
    let mut changes = Vec::new();
    let mut keys: Vec<_> = new.keys().collect();
    keys.sort();
    for key in keys {
        let obj = &new[key];
        match old.get(key) {
            None => changes.push(Change::Added(Arc::clone(obj))),
            Some(prev) if prev.resource_version() != obj.resource_version() => {
                changes.push(Change::Updated {
                    old: Arc::clone(prev),
                    new: Arc::clone(obj),
                })
            }
            Some(_) => {}
        }
    }
    let mut gone: Vec<_> = old.keys().filter(|k| !new.contains_key(*k)).collect();
    gone.sort();
    changes.extend(
        gone.into_iter()
            .map(|k| Change::Deleted(Arc::clone(&old[k]))),
    );
    changes
}

/// Passes a watcher stream through, applying every event to `writer` on the way, so a
/// caller can both keep a cache and react to its events.
pub fn reflector<K: Object>(
    mut writer: StoreWriter<K>,
    events: impl Stream<Item = Result<Event<K>>> + Send,
) -> impl Stream<Item = Result<Event<K>>> + Send {
    events.map(move |item| {
        if let Ok(event) = &item {
            writer.apply(event.clone());
        }
        item
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(name: &str, rv: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn names(changes: &[Change<Pod>]) -> Vec<String> {
        changes
            .iter()
            .map(|c| {
                let what = match c {
                    Change::Added(_) => "added",
                    Change::Updated { .. } => "updated",
                    Change::Deleted(_) => "deleted",
                };
                format!("{what} {}", c.key())
            })
            .collect()
    }

    #[test]
    fn the_cache_follows_events_and_a_relist_reports_what_was_missed() {
        let (mut writer, store) = store::<Pod>();
        assert!(!store.is_synced());
        let mut changes = Vec::new();
        for event in [
            Event::Init,
            Event::InitApply(pod("a", "1")),
            Event::InitApply(pod("b", "2")),
        ] {
            changes.extend(writer.apply(event));
        }
        assert!(
            store.is_empty() && changes.is_empty(),
            "nothing shows before InitDone"
        );
        changes.extend(writer.apply(Event::InitDone));
        assert!(store.is_synced());
        assert_eq!(names(&changes), ["added ns/a", "added ns/b"]);

        let snapshot = store.snapshot();
        assert_eq!(
            names(&writer.apply(Event::Apply(pod("a", "3")))),
            ["updated ns/a"]
        );
        assert_eq!(snapshot.len(), 2);
        assert_eq!(
            snapshot[&ObjectKey::namespaced("ns", "a")].resource_version(),
            Some("1")
        );
        assert_eq!(
            store.get_named(Some("ns"), "a").unwrap().resource_version(),
            Some("3")
        );
        assert_eq!(
            names(&writer.apply(Event::Delete(pod("b", "4")))),
            ["deleted ns/b"]
        );
        assert_eq!(store.len(), 1);

        // A relist after a 410: c is new, a changed, and d (applied meanwhile) is gone.
        writer.apply(Event::Apply(pod("d", "5")));
        let mut changes = Vec::new();
        for event in [
            Event::Init,
            Event::InitApply(pod("a", "7")),
            Event::InitApply(pod("c", "6")),
            Event::InitDone,
        ] {
            changes.extend(writer.apply(event));
        }
        assert_eq!(
            names(&changes),
            ["updated ns/a", "added ns/c", "deleted ns/d"]
        );
        let mut listed: Vec<_> = store.list().iter().map(|p| p.key().to_string()).collect();
        listed.sort();
        assert_eq!(listed, ["ns/a", "ns/c"]);
    }
}
