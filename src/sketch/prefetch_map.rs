//! A hash map whose memory can be fetched ahead of a lookup.
//!
//! The per-source table is read at random, once per failed attempt, and
//! failed attempts are known a few steps before they are counted (see
//! `failures`). A std/hashbrown map gives no address to prefetch, so this
//! one keeps 8-byte slots (a 32-bit hash tag and an item index, open
//! addressing, at most half full) over a dense array of items: the item
//! a key's slot points at can be asked for before it is needed.

use std::hash::Hash;

use crate::sketch::prefetch;

#[derive(Clone, Copy, Default)]
struct Slot {
    /// 0: empty.
    tag: u32,
    item: u32,
}

struct Item<K, V> {
    hash: u64,
    key: K,
    value: V,
}

pub struct PrefetchMap<K, V> {
    slots: Vec<Slot>,
    mask: usize,
    items: Vec<Item<K, V>>,
    hasher: ahash::RandomState,
}

const MIN_SLOTS: usize = 64;

#[inline]
fn tag(h: u64) -> u32 {
    (h >> 32) as u32 | 1
}

impl<K: Hash + Eq, V> PrefetchMap<K, V> {
    pub fn new() -> Self {
        PrefetchMap {
            slots: vec![Slot::default(); MIN_SLOTS],
            mask: MIN_SLOTS - 1,
            items: Vec::new(),
            // Keys are addresses an attacker chooses: a per-process
            // random hash key keeps them from being built to collide.
            hasher: ahash::RandomState::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The hash every other method takes with `key`.
    #[inline]
    pub fn hash(&self, key: &K) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn home(&self, tag: u32) -> usize {
        (tag >> 1) as usize & self.mask
    }

    /// The item index of `key` (hash `h`).
    #[inline(always)]
    fn find(&self, key: &K, h: u64) -> Option<usize> {
        let t = tag(h);
        let mut i = self.home(t);
        loop {
            let s = self.slots[i];
            if s.tag == 0 {
                return None;
            }
            if s.tag == t && self.items[s.item as usize].key == *key {
                return Some(s.item as usize);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Lookups are always inlined: they sit in every rule's per-event
    /// path, and the inliner left some of them as calls (40 instructions
    /// more per packet in an unanswered scan).
    #[inline(always)]
    pub fn get(&self, key: &K, h: u64) -> Option<&V> {
        self.find(key, h).map(|i| &self.items[i].value)
    }

    #[inline(always)]
    pub fn get_mut(&mut self, key: &K, h: u64) -> Option<&mut V> {
        let i = self.find(key, h)?;
        Some(&mut self.items[i].value)
    }

    /// Insert `key` (hash `h`), which must not be present.
    pub fn insert(&mut self, key: K, h: u64, value: V) {
        debug_assert!(self.find(&key, h).is_none());
        if (self.items.len() + 1) * 2 > self.slots.len() {
            self.rebuild(self.slots.len() * 2);
        }
        let item = self.items.len() as u32;
        self.items.push(Item {
            hash: h,
            key,
            value,
        });
        self.place(tag(h), item);
    }

    fn place(&mut self, t: u32, item: u32) {
        let mut i = self.home(t);
        while self.slots[i].tag != 0 {
            i = (i + 1) & self.mask;
        }
        self.slots[i] = Slot { tag: t, item };
    }

    /// Rebuild the slots (`n` of them) from the items' stored hashes.
    fn rebuild(&mut self, n: usize) {
        self.slots = vec![Slot::default(); n.max(MIN_SLOTS)];
        self.mask = self.slots.len() - 1;
        for i in 0..self.items.len() {
            self.place(tag(self.items[i].hash), i as u32);
        }
    }

    /// Keep the items `keep` approves of. The memory stays: eviction
    /// makes room for new items that come at once, and giving it back
    /// only to fault it in again was a tenth of a spoofed flood's time.
    /// [`PrefetchMap::shrink`] gives it back.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.items.retain_mut(|it| keep(&it.key, &mut it.value));
        self.slots.fill(Slot::default());
        for i in 0..self.items.len() {
            self.place(tag(self.items[i].hash), i as u32);
        }
    }

    /// Give back memory that more than twice the items do not need (after
    /// a window closes and its items are gone).
    pub fn shrink(&mut self) {
        let want = (self.items.len() * 2).next_power_of_two().max(MIN_SLOTS);
        if self.slots.len() > want * 2 {
            self.items.shrink_to(self.items.len() * 2);
            self.rebuild(want);
        }
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.items.iter().map(|it| &it.value)
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.items.iter().map(|it| &it.key)
    }

    /// Start fetching the slot a lookup of hash `h` begins at: the first
    /// of two steps ahead of a lookup in a table larger than the cache
    /// (reads nothing, so it never waits).
    #[inline]
    pub fn prefetch_slot(&self, h: u64) {
        prefetch(self.slots.as_ptr().wrapping_add(self.home(tag(h))));
    }

    /// Start fetching the item that a lookup of hash `h` will land on (its
    /// first two cache lines). Reads the slots (fetched by
    /// [`PrefetchMap::prefetch_slot`] a few steps before, or small enough
    /// to be cached); no key comparison: a wrong guess costs a wasted fetch.
    #[inline]
    pub fn prefetch(&self, h: u64) {
        let t = tag(h);
        let mut i = self.home(t);
        loop {
            let s = self.slots[i];
            if s.tag == 0 {
                return;
            }
            if s.tag == t {
                let p = self.items.as_ptr().wrapping_add(s.item as usize);
                prefetch(p);
                prefetch((p as *const u8).wrapping_add(64));
                return;
            }
            i = (i + 1) & self.mask;
        }
    }
}

impl<K: Hash + Eq, V> Default for PrefetchMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn hash_keys_differ_between_maps() {
        let (a, b): (PrefetchMap<u32, ()>, PrefetchMap<u32, ()>) =
            (PrefetchMap::new(), PrefetchMap::new());
        assert_ne!(a.hash(&7), b.hash(&7));
    }

    #[test]
    fn behaves_like_a_hash_map() {
        let mut m: PrefetchMap<u32, u64> = PrefetchMap::new();
        let mut model: HashMap<u32, u64> = HashMap::new();
        let mut x: u64 = 88172645463325252;
        for step in 0..100_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x % 3000) as u32;
            let h = m.hash(&k);
            m.prefetch(h);
            match x >> 61 {
                0..=5 => match m.get_mut(&k, h) {
                    Some(v) => {
                        *v += step;
                        *model.get_mut(&k).unwrap() += step;
                    }
                    None => {
                        assert!(!model.contains_key(&k));
                        m.insert(k, h, step);
                        model.insert(k, step);
                    }
                },
                6 => {
                    if step % 7 == 0 {
                        m.retain(|k, v| !(k + *v as u32).is_multiple_of(3));
                        if step % 2 == 0 {
                            m.shrink();
                        }
                        model.retain(|k, v| !(k + *v as u32).is_multiple_of(3));
                    }
                }
                _ => assert_eq!(m.get(&k, h), model.get(&k)),
            }
            assert_eq!(m.len(), model.len());
        }
        for (k, v) in &model {
            assert_eq!(m.get(k, m.hash(k)), Some(v));
        }
        let mut keys: Vec<u32> = m.keys().copied().collect();
        keys.sort();
        let mut want: Vec<u32> = model.keys().copied().collect();
        want.sort();
        assert_eq!(keys, want);
        assert_eq!(m.values().count(), model.len());
    }
}
