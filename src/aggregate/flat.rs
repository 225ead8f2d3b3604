//! A flat open-addressing hash map for the pending-attempt table.
//!
//! Why not hashbrown: with millions of attempts pending, every probe and
//! every answer is a cache miss, and hashbrown's separate control bytes
//! make it two. Here the hash tag sits in the slot beside the key and value,
//! so a lookup touches one cache line, and [`FlatMap::prefetch`] lets the
//! aggregator ask for that line a few events ahead. Linear probing with
//! backward-shift deletion leaves no tombstones behind.

use std::hash::Hash;

/// One slot; a whole cache line for the pending table's key and value.
#[derive(Clone, Copy, Default)]
#[repr(align(64))]
struct Slot<K, V> {
    /// Hash with the low bit set; 0 marks an empty slot.
    tag: u64,
    key: K,
    value: V,
}

impl<K, V> Slot<K, V> {
    #[inline]
    fn occupied(&self) -> bool {
        self.tag != 0
    }
}

pub struct FlatMap<K, V> {
    slots: Vec<Slot<K, V>>,
    mask: usize,
    len: usize,
    /// Reused by `retain`, so sweeps do not allocate (and fault in) memory.
    scratch: Vec<Slot<K, V>>,
    hasher: ahash::RandomState,
}

const MIN_SLOTS: usize = 1024;

impl<K: Hash + Eq + Copy + Default, V: Copy + Default> FlatMap<K, V> {
    pub fn new() -> Self {
        FlatMap {
            slots: vec![Slot::default(); MIN_SLOTS],
            mask: MIN_SLOTS - 1,
            len: 0,
            scratch: Vec::new(),
            hasher: ahash::RandomState::with_seeds(1, 2, 3, 4),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn hash(&self, key: &K) -> u64 {
        self.hasher.hash_one(key) | 1
    }

    /// Ask the CPU for the cache line where `hash` starts probing.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        #[cfg(target_arch = "x86_64")]
        {
            let p = self.slots.as_ptr().wrapping_add(hash as usize & self.mask);
            // SAFETY: prefetch is a hint; it never faults, and the address
            // is inside the slot array.
            unsafe {
                std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0)
            };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = hash;
    }

    #[inline]
    fn find(&self, key: &K, tag: u64) -> Option<usize> {
        let mut i = tag as usize & self.mask;
        loop {
            let s = &self.slots[i];
            if s.tag == tag && s.key == *key {
                return Some(i);
            }
            if !s.occupied() {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The value for `key`, whose [`FlatMap::hash`] is `tag`.
    #[inline]
    pub fn get(&self, key: &K, tag: u64) -> Option<&V> {
        self.find(key, tag).map(|i| &self.slots[i].value)
    }

    /// The value for `key` (hash `tag`), inserting `value` if absent; true
    /// if it was inserted.
    #[inline]
    pub fn get_mut_or_insert(&mut self, key: K, tag: u64, value: V) -> (&mut V, bool) {
        if let Some(i) = self.find(&key, tag) {
            return (&mut self.slots[i].value, false);
        }
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.resize(self.slots.len() * 2);
        }
        let mut i = tag as usize & self.mask;
        while self.slots[i].occupied() {
            i = (i + 1) & self.mask;
        }
        self.slots[i] = Slot { tag, key, value };
        self.len += 1;
        (&mut self.slots[i].value, true)
    }

    /// Remove `key` (hash `tag`).
    #[inline]
    pub fn remove(&mut self, key: &K, tag: u64) -> Option<V> {
        let i = self.find(key, tag)?;
        let v = std::mem::take(&mut self.slots[i]).value;
        self.len -= 1;
        // Backward shift: pull later entries of the run into the hole when
        // the hole lies between their home slot and where they sit.
        let mut hole = i;
        let mut j = (i + 1) & self.mask;
        while self.slots[j].occupied() {
            let home = self.slots[j].tag as usize & self.mask;
            if (j.wrapping_sub(home) & self.mask) >= (j.wrapping_sub(hole) & self.mask) {
                self.slots[hole] = std::mem::take(&mut self.slots[j]);
                hole = j;
            }
            j = (j + 1) & self.mask;
        }
        Some(v)
    }

    /// Keep the entries `keep` approves of: the kept ones are set aside,
    /// the table cleared in place and refilled (no tombstones, no new
    /// memory).
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        let mut kept = std::mem::take(&mut self.scratch);
        kept.clear();
        for s in self.slots.iter_mut() {
            if s.occupied() {
                if keep(&s.key, &s.value) {
                    kept.push(*s);
                }
                *s = Slot::default();
            }
        }
        self.len = 0;
        for s in kept.drain(..) {
            self.place(s);
        }
        self.scratch = kept;
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().filter(|s| s.occupied()).map(|s| &s.value)
    }

    /// Remove everything, handing each entry to `f`.
    pub fn drain(&mut self, mut f: impl FnMut(K, V)) {
        for s in self.slots.iter_mut().filter(|s| s.occupied()) {
            let s = std::mem::take(s);
            f(s.key, s.value);
        }
        self.len = 0;
    }

    fn resize(&mut self, slots: usize) {
        let all: Vec<Slot<K, V>> = self
            .slots
            .iter()
            .filter(|s| s.occupied())
            .copied()
            .collect();
        self.slots = vec![Slot::default(); slots];
        self.mask = slots - 1;
        self.len = 0;
        for s in all {
            self.place(s);
        }
    }

    fn place(&mut self, s: Slot<K, V>) {
        let mut i = s.tag as usize & self.mask;
        while self.slots[i].occupied() {
            i = (i + 1) & self.mask;
        }
        self.slots[i] = s;
        self.len += 1;
    }
}

impl<K: Hash + Eq + Copy + Default, V: Copy + Default> Default for FlatMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn behaves_like_a_hash_map_under_random_operations() {
        let mut flat: FlatMap<u32, u64> = FlatMap::new();
        let mut std_map: HashMap<u32, u64> = HashMap::new();
        let mut x: u64 = 88172645463325252;
        for step in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x % 5000) as u32;
            match x >> 60 {
                0..=7 => {
                    let h = flat.hash(&k);
                    let (v, new) = flat.get_mut_or_insert(k, h, step);
                    assert_eq!(new, !std_map.contains_key(&k));
                    if !new {
                        *v = step;
                    }
                    std_map.insert(k, step);
                }
                8..=13 => assert_eq!(flat.remove(&k, flat.hash(&k)), std_map.remove(&k)),
                14 => {
                    flat.retain(|k, _| k % 3 != 0);
                    std_map.retain(|k, _| k % 3 != 0);
                }
                _ => assert_eq!(flat.get(&k, flat.hash(&k)), std_map.get(&k)),
            }
            assert_eq!(flat.len(), std_map.len());
        }
        for (k, v) in &std_map {
            assert_eq!(flat.get(k, flat.hash(k)), Some(v));
        }
        let mut drained = 0;
        flat.drain(|_, _| drained += 1);
        assert_eq!(drained, std_map.len());
        assert!(flat.is_empty());
    }
}
