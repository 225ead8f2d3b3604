//! The pending table's index: from an attempt's hash to its sequence
//! number in the ring, in buckets of one cache line.
//!
//! A key hashes to one bucket (seven 8-byte slots: a 32-bit tag and the
//! low 32 bits of the sequence number) and is looked for there; a bucket
//! whose slots are all taken sends an insert on to the next one, and
//! counts it (`over`), so a lookup goes on past a bucket only while that
//! count is not zero. Entries that leave from the ring's head (nearly
//! every probe of a scan) are not removed: their slots are *stale*, known
//! from the sequence number alone (outside the ring's window), and a
//! later insert takes them like empty ones. Nothing has to walk the index
//! to clean it, and a lookup or an insert touches one line, the bucket.
//!
//! The overflow counts only grow when entries leave from the head (the
//! slot stays, its count with it), so past a bound the index is rebuilt;
//! it is rebuilt, too, before a slot's 32-bit sequence number could come
//! round into the window again.

/// Slots per bucket: seven and the bucket's count fill one cache line.
pub const SLOTS: usize = 7;

#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Slot {
    /// 0: empty.
    pub tag: u32,
    pub seq: u32,
}

#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket {
    /// Inserts that found this bucket full and went on.
    over: u32,
    _pad: u32,
    slots: [Slot; SLOTS],
}

const _: () = assert!(std::mem::size_of::<Bucket>() == 64);

/// The ring's window: the sequence numbers of live entries are
/// `head..head + count` (modulo 2^32).
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub head: u32,
    pub count: u32,
}

impl Window {
    #[inline(always)]
    pub fn holds(self, seq: u32) -> bool {
        seq.wrapping_sub(self.head) < self.count
    }
}

/// Where a slot is: bucket * SLOTS + place.
pub type At = usize;

pub struct Index {
    buckets: Vec<Bucket>,
    mask: usize,
    /// Overflow counts added since the last rebuild, less those removed.
    over: usize,
    /// Slots the index may fill with live entries before it grows.
    room: usize,
}

const MIN_BUCKETS: usize = 128;

impl Index {
    pub fn new() -> Self {
        Self::with_buckets(MIN_BUCKETS)
    }

    fn with_buckets(n: usize) -> Self {
        let n = n.next_power_of_two().max(MIN_BUCKETS);
        Index {
            buckets: vec![Bucket::default(); n],
            mask: n - 1,
            over: 0,
            // At most three eighths full of live slots: a bucket is then
            // full for about one insert in fifty.
            room: n * SLOTS * 3 / 8,
        }
    }

    /// Live entries the index takes before [`Index::rebuild`] must grow it.
    pub fn room(&self) -> usize {
        self.room
    }

    /// Too many overflow counts left behind by entries gone from the head:
    /// time to rebuild (lookups would go on past too many buckets).
    pub fn worn(&self) -> bool {
        self.over > self.buckets.len() / 8
    }

    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }

    #[inline(always)]
    fn home(&self, tag: u32) -> usize {
        (tag >> 1) as usize & self.mask
    }

    /// Start fetching the bucket of `tag`.
    #[inline(always)]
    pub fn prefetch(&self, tag: u32) {
        crate::sketch::prefetch(self.buckets.as_ptr().wrapping_add(self.home(tag)));
    }

    #[inline(always)]
    pub fn get(&self, at: At) -> Slot {
        self.buckets[at / SLOTS].slots[at % SLOTS]
    }

    /// The first live slot with `tag` whose sequence number `matches`.
    #[inline(always)]
    pub fn find(&self, tag: u32, live: Window, mut matches: impl FnMut(u32) -> bool) -> Option<At> {
        let mut b = self.home(tag);
        loop {
            let bucket = &self.buckets[b];
            for (k, s) in bucket.slots.iter().enumerate() {
                if s.tag == tag && live.holds(s.seq) && matches(s.seq) {
                    return Some(b * SLOTS + k);
                }
            }
            if bucket.over == 0 {
                return None;
            }
            b = (b + 1) & self.mask;
        }
    }

    /// Put `tag -> seq` in the first free slot (empty, or stale by
    /// `live`) from its bucket on. The caller keeps live entries within
    /// [`Index::room`].
    #[inline(always)]
    pub fn insert(&mut self, tag: u32, seq: u32, live: Window) {
        let mut b = self.home(tag);
        loop {
            let bucket = &mut self.buckets[b];
            for s in bucket.slots.iter_mut() {
                if s.tag == 0 || !live.holds(s.seq) {
                    *s = Slot { tag, seq };
                    return;
                }
            }
            bucket.over += 1;
            self.over += 1;
            b = (b + 1) & self.mask;
        }
    }

    /// Empty the slot at `at` (an entry leaving other than from the head),
    /// taking back the overflow counts its insert left on the way.
    #[inline]
    pub fn remove(&mut self, at: At) {
        let (b, k) = (at / SLOTS, at % SLOTS);
        let home = self.home(self.buckets[b].slots[k].tag);
        self.buckets[b].slots[k] = Slot::default();
        let mut i = home;
        while i != b {
            self.buckets[i].over -= 1;
            self.over -= 1;
            i = (i + 1) & self.mask;
        }
    }

    /// A new index of at least `buckets` buckets holding the live slots
    /// of this one (stale ones and overflow counts left behind go).
    #[cold]
    pub fn rebuild(&mut self, buckets: usize, live: Window) {
        let old = std::mem::replace(self, Self::with_buckets(buckets));
        for bucket in &old.buckets {
            for s in &bucket.slots {
                if s.tag != 0 && live.holds(s.seq) {
                    self.insert(s.tag, s.seq, live);
                }
            }
        }
    }
}

impl Default for Index {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_sends_inserts_on_and_lookups_after_them() {
        let mut ix = Index::new();
        let live = Window {
            head: 0,
            count: 1000,
        };
        // Every tag homes in bucket 0 (tag >> 1 is a multiple of the
        // bucket count), so the eighth onwards overflow.
        let tag = |i: u32| ((i * MIN_BUCKETS as u32) << 1) | 1;
        for i in 0..20 {
            ix.insert(tag(i), i, live);
        }
        for i in 0..20 {
            let at = ix.find(tag(i), live, |s| s == i).expect("found");
            assert_eq!(
                ix.get(at),
                Slot {
                    tag: tag(i),
                    seq: i
                }
            );
        }
        assert_eq!(ix.find(tag(20), live, |_| true), None);
        // Removing the overflowed ones takes their counts back: the home
        // bucket no longer sends lookups on.
        for i in (SLOTS as u32)..20 {
            let at = ix.find(tag(i), live, |s| s == i).unwrap();
            ix.remove(at);
        }
        assert_eq!(ix.over, 0);
        assert_eq!(ix.buckets[0].over, 0);
        for i in 0..SLOTS as u32 {
            assert!(ix.find(tag(i), live, |s| s == i).is_some());
        }
    }

    #[test]
    fn stale_slots_are_taken_by_inserts_and_never_found() {
        let mut ix = Index::new();
        let tag = |i: u32| ((i * MIN_BUCKETS as u32) << 1) | 1;
        let early = Window {
            head: 0,
            count: SLOTS as u32,
        };
        for i in 0..SLOTS as u32 {
            ix.insert(tag(i), i, early);
        }
        // The first four left from the head.
        let later = Window {
            head: 4,
            count: SLOTS as u32,
        };
        for i in 0..4 {
            assert_eq!(ix.find(tag(i), later, |_| true), None);
        }
        // New entries take the stale slots: the bucket does not overflow.
        for i in SLOTS as u32..SLOTS as u32 + 4 {
            ix.insert(tag(i), i, later);
        }
        assert_eq!(ix.over, 0);
        for i in 4..SLOTS as u32 + 4 {
            assert!(ix.find(tag(i), later, |s| s == i).is_some(), "{i}");
        }
    }

    #[test]
    fn rebuild_keeps_live_slots_only() {
        let mut ix = Index::new();
        let tag = |i: u32| i.wrapping_mul(0x9e37_79b1) | 1;
        let before = Window {
            head: 0,
            count: 300,
        };
        for i in 0..300 {
            ix.insert(tag(i), i, before);
        }
        let after = Window {
            head: 100,
            count: 200,
        };
        ix.rebuild(1024, after);
        assert_eq!(ix.buckets(), 1024);
        // 200 spread keys in 1024 buckets of seven: none full.
        assert_eq!(ix.over, 0);
        for i in 0..300 {
            let found = ix.find(tag(i), after, |s| s == i).is_some();
            assert_eq!(found, i >= 100, "{i}");
        }
    }
}
