//! The key index: for every key, the revisions at which it changed, grouped in generations
//! (a generation runs from a key's creation to its deletion), as etcd's `keyIndex`.
//!
//! The index lives in memory and is rebuilt from the revision-keyed history at start-up, as
//! etcd rebuilds its `treeIndex`: it answers "which revision of `key` was live at `rev`"
//! without touching the disk, and the disk is read only for the values.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use super::types::Revision;

/// One life of a key: created at `revs[0]`, changed at each later revision; when the key was
/// deleted, the last revision is the tombstone and a new, empty generation follows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Generation {
    /// The version of the key at the last revision of `revs` (counts revisions compacted away).
    version: i64,
    created: Revision,
    revs: Vec<Revision>,
}

impl Generation {
    fn is_empty(&self) -> bool {
        self.revs.is_empty()
    }
}

/// Where a key stood at some revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAt {
    pub modified: Revision,
    pub created: Revision,
    pub version: i64,
}

/// The history of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIndex {
    /// Never empty; the last generation is the live one (empty when the key is deleted).
    generations: Vec<Generation>,
}

impl Default for KeyIndex {
    fn default() -> Self {
        Self {
            generations: vec![Generation::default()],
        }
    }
}

impl KeyIndex {
    fn live(&mut self) -> &mut Generation {
        self.generations
            .last_mut()
            .expect("a key index always has a generation")
    }

    /// Records a new version at `rev`.
    pub fn put(&mut self, rev: Revision) {
        let g = self.live();
        if g.is_empty() {
            g.created = rev;
        }
        g.revs.push(rev);
        g.version += 1;
    }

    /// Rebuilds the index from a stored version whose creation may have been compacted away.
    pub fn restore(&mut self, created: Revision, modified: Revision, version: i64) {
        let g = self.live();
        if g.is_empty() {
            g.created = created;
        }
        g.revs.push(modified);
        g.version = version;
    }

    /// Records the deletion of the key at `rev`; the key must be live.
    pub fn tombstone(&mut self, rev: Revision) {
        self.put(rev);
        self.generations.push(Generation::default());
    }

    /// True when nothing is left: no live version and no history.
    pub fn is_empty(&self) -> bool {
        self.generations.len() == 1 && self.generations[0].is_empty()
    }

    /// The version live at main revision `at`, if the key existed then.
    pub fn get(&self, at: i64) -> Option<KeyAt> {
        let last = self.generations.len() - 1;
        for (i, g) in self.generations.iter().enumerate().rev() {
            if g.is_empty() {
                continue;
            }
            if g.created.main > at {
                continue;
            }
            let closed = i != last;
            let tomb = g.revs[g.revs.len() - 1];
            if closed && tomb.main <= at {
                // deleted at or before `at`; older generations are older still
                return None;
            }
            let n = g.revs.iter().rposition(|r| r.main <= at)?;
            return Some(KeyAt {
                modified: g.revs[n],
                created: g.created,
                version: g.version - (g.revs.len() - 1 - n) as i64,
            });
        }
        None
    }

    /// The live version now, if any.
    pub fn current(&self) -> Option<KeyAt> {
        let g = self.generations.last()?;
        let modified = *g.revs.last()?;
        Some(KeyAt {
            modified,
            created: g.created,
            version: g.version,
        })
    }

    /// Forgets history at or before `at` except the version live at `at`, as etcd's
    /// `keyIndex.compact`; a tombstone is dropped too. Revisions ≤ `at` still needed are
    /// added to `keep`.
    pub fn compact(&mut self, at: i64, keep: &mut BTreeSet<Revision>) {
        let mut gi = 0;
        while gi < self.generations.len() - 1 {
            let g = &self.generations[gi];
            let tomb = g.revs[g.revs.len() - 1];
            if tomb.main > at {
                break;
            }
            gi += 1;
        }
        // generations before `gi` ended (tombstone included) at or before `at`: all obsolete
        let g = &mut self.generations[gi];
        if let Some(n) = g.revs.iter().rposition(|r| r.main <= at) {
            keep.insert(g.revs[n]);
            g.revs.drain(..n);
        }
        self.generations.drain(..gi);
    }

    /// Every revision ≤ `at` the index holds.
    fn revisions_upto(&self, at: i64) -> impl Iterator<Item = Revision> + '_ {
        self.generations
            .iter()
            .flat_map(|g| g.revs.iter().copied())
            .filter(move |r| r.main <= at)
    }
}

/// The in-memory index of every key, ordered by key bytes.
#[derive(Debug, Clone, Default)]
pub struct TreeIndex {
    keys: BTreeMap<Vec<u8>, KeyIndex>,
}

/// The key range `[key, range_end)` in etcd's convention: an empty `range_end` is the one key,
/// `[0]` is every key from `key` on.
pub fn key_range<'a>(key: &'a [u8], range_end: &'a [u8]) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    if range_end.is_empty() {
        (Bound::Included(key), Bound::Included(key))
    } else if range_end == [0] {
        (Bound::Included(key), Bound::Unbounded)
    } else {
        (Bound::Included(key), Bound::Excluded(range_end))
    }
}

/// True when `key` falls in the etcd range `[start, range_end)`.
pub fn in_range(key: &[u8], start: &[u8], range_end: &[u8]) -> bool {
    if range_end.is_empty() {
        key == start
    } else if range_end == [0] {
        key >= start
    } else {
        key >= start && key < range_end
    }
}

fn empty_range(key: &[u8], range_end: &[u8]) -> bool {
    !range_end.is_empty() && range_end != [0] && key >= range_end
}

impl TreeIndex {
    pub fn put(&mut self, key: &[u8], rev: Revision) {
        match self.keys.get_mut(key) {
            Some(ki) => ki.put(rev),
            None => {
                let mut ki = KeyIndex::default();
                ki.put(rev);
                self.keys.insert(key.to_vec(), ki);
            }
        }
    }

    pub fn restore(&mut self, key: &[u8], created: Revision, modified: Revision, version: i64) {
        self.keys
            .entry(key.to_vec())
            .or_default()
            .restore(created, modified, version);
    }

    /// Records a deletion; a no-op for a key that is not live.
    pub fn tombstone(&mut self, key: &[u8], rev: Revision) {
        if let Some(ki) = self.keys.get_mut(key)
            && ki.current().is_some()
        {
            ki.tombstone(rev);
        }
    }

    pub fn get(&self, key: &[u8], at: i64) -> Option<KeyAt> {
        self.keys.get(key)?.get(at)
    }

    /// Keys in the range live at `at`, in key order, with where they stood.
    pub fn range<'a>(
        &'a self,
        key: &'a [u8],
        range_end: &'a [u8],
        at: i64,
    ) -> impl Iterator<Item = (&'a [u8], KeyAt)> + 'a {
        let iter = if empty_range(key, range_end) {
            None
        } else {
            Some(self.keys.range::<[u8], _>(key_range(key, range_end)))
        };
        iter.into_iter()
            .flatten()
            .filter_map(move |(k, ki)| ki.get(at).map(|at| (k.as_slice(), at)))
    }

    /// Compacts every key at `at`; returns the revisions ≤ `at` that are no longer needed, in
    /// order, for the caller to delete from the history.
    pub fn compact(&mut self, at: i64) -> Vec<Revision> {
        let mut obsolete = Vec::new();
        let mut keep = BTreeSet::new();
        self.keys.retain(|_, ki| {
            keep.clear();
            let before: Vec<Revision> = ki.revisions_upto(at).collect();
            ki.compact(at, &mut keep);
            obsolete.extend(before.into_iter().filter(|r| !keep.contains(r)));
            !ki.is_empty()
        });
        obsolete.sort_unstable();
        obsolete
    }

    /// Number of keys with any history.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The revision each key live at `at` had then: what a compaction at `at` keeps.
    pub fn live_revisions_at(&self, at: i64) -> impl Iterator<Item = Revision> + '_ {
        self.keys
            .values()
            .filter_map(move |ki| ki.get(at).map(|k| k.modified))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(main: i64) -> Revision {
        Revision::new(main, 0)
    }

    #[test]
    fn get_walks_generations() {
        let mut ki = KeyIndex::default();
        ki.put(rev(2));
        ki.put(rev(4));
        ki.tombstone(rev(6));
        ki.put(rev(8));
        assert_eq!(ki.get(1), None);
        let at3 = ki.get(3).unwrap();
        assert_eq!(
            (at3.modified, at3.created, at3.version),
            (rev(2), rev(2), 1)
        );
        let at5 = ki.get(5).unwrap();
        assert_eq!((at5.modified, at5.version), (rev(4), 2));
        assert_eq!(ki.get(6), None);
        assert_eq!(ki.get(7), None);
        let at9 = ki.get(9).unwrap();
        assert_eq!(
            (at9.modified, at9.created, at9.version),
            (rev(8), rev(8), 1)
        );
    }

    #[test]
    fn compact_keeps_the_version_live_at_the_revision() {
        let mut ki = KeyIndex::default();
        ki.put(rev(2));
        ki.put(rev(4));
        ki.put(rev(6));
        let mut keep = BTreeSet::new();
        ki.compact(5, &mut keep);
        assert_eq!(keep, BTreeSet::from([rev(4)]));
        assert_eq!(ki.get(5).unwrap().version, 2);
        assert_eq!(ki.get(7).unwrap().version, 3);
        assert_eq!(ki.get(3), None, "history before the kept version is gone");
    }

    #[test]
    fn compact_drops_a_deleted_key() {
        let mut tree = TreeIndex::default();
        tree.put(b"a", rev(2));
        tree.tombstone(b"a", rev(3));
        tree.put(b"b", rev(4));
        let obsolete = tree.compact(3);
        assert_eq!(obsolete, vec![rev(2), rev(3)]);
        assert_eq!(tree.len(), 1);
        assert!(tree.get(b"b", 4).is_some());
    }

    #[test]
    fn compact_at_tombstone_of_older_generation_keeps_the_new_one() {
        let mut ki = KeyIndex::default();
        ki.put(rev(2));
        ki.tombstone(rev(3));
        ki.put(rev(5));
        let mut keep = BTreeSet::new();
        ki.compact(4, &mut keep);
        assert!(keep.is_empty());
        assert_eq!(ki.get(5).unwrap().created, rev(5));
        assert_eq!(ki.get(4), None);
    }

    #[test]
    fn ranges_follow_etcd_conventions() {
        let mut tree = TreeIndex::default();
        for (i, k) in [b"a", b"b", b"c"].iter().enumerate() {
            tree.put(*k, rev(i as i64 + 2));
        }
        let keys = |k: &[u8], end: &[u8]| -> Vec<Vec<u8>> {
            tree.range(k, end, 10).map(|(k, _)| k.to_vec()).collect()
        };
        assert_eq!(keys(b"b", b""), vec![b"b".to_vec()]);
        assert_eq!(keys(b"b", &[0]), vec![b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(keys(&[0], &[0]).len(), 3);
        assert_eq!(keys(b"a", b"c"), vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(keys(b"c", b"a").is_empty());
    }
}
