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
//! later insert takes them like empty ones, taking back the counts a
//! stale slot had left on its way from its own bucket. Nothing has to
//! walk the index to clean it, and a lookup or an insert touches one
//! line, the bucket.
//!
//! The count of buckets need not be a power of two (a key's bucket is its
//! tag scaled to the count), so the index can be sized to the table's cap
//! rather than to the next power of two above it. Counts left by stale
//! slots that no insert has taken yet only grow, so past a bound the index
//! is cleaned in place; it is cleaned, too, before a slot's 32-bit
//! sequence number could come round into the window again (the pending
//! table sees to that).

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
    /// Inserts that found this bucket full and went on (and whose slots
    /// have not been taken back since).
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
    /// All buckets' overflow counts added up.
    over: usize,
    /// Live entries the index takes within its load.
    room: usize,
}

const MIN_BUCKETS: usize = 128;

/// Live slots per bucket at most, as a fraction of seven: seven
/// sixteenths, so that a bucket is full for about one insert in thirty.
const LOAD_NUM: usize = 7;
const LOAD_DEN: usize = 16;

impl Index {
    pub fn new() -> Self {
        Self::with_buckets(MIN_BUCKETS)
    }

    /// Buckets that hold `live` entries within the load.
    pub fn buckets_for(live: usize) -> usize {
        (live * LOAD_DEN)
            .div_ceil(SLOTS * LOAD_NUM)
            .max(MIN_BUCKETS)
    }

    fn with_buckets(n: usize) -> Self {
        let n = n.clamp(MIN_BUCKETS, u32::MAX as usize);
        Index {
            buckets: vec![Bucket::default(); n],
            over: 0,
            room: n * SLOTS * LOAD_NUM / LOAD_DEN,
        }
    }

    /// Live entries the index takes before it must grow.
    pub fn room(&self) -> usize {
        self.room
    }

    /// Too many overflow counts left behind by stale slots: time to clean
    /// (lookups would go on past too many buckets).
    pub fn worn(&self) -> bool {
        self.over > self.buckets.len() / 8
    }

    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }

    /// Overflow counts left on buckets, in all.
    #[cfg(test)]
    pub fn overflow(&self) -> usize {
        self.over
    }

    /// The bucket of `tag`: the tag scaled to the count of buckets.
    #[inline(always)]
    fn home(&self, tag: u32) -> usize {
        ((u64::from(tag) * self.buckets.len() as u64) >> 32) as usize
    }

    #[inline(always)]
    fn next(&self, b: usize) -> usize {
        if b + 1 == self.buckets.len() {
            0
        } else {
            b + 1
        }
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
            b = self.next(b);
        }
    }

    /// Put `tag -> seq` in the first free slot (empty, or stale by
    /// `live`) from its bucket on. The caller keeps live entries within
    /// [`Index::room`] and cleans a [`Index::worn`] index.
    #[inline(always)]
    pub fn insert(&mut self, tag: u32, seq: u32, live: Window) {
        let mut b = self.home(tag);
        loop {
            let bucket = &mut self.buckets[b];
            if let Some(k) = bucket
                .slots
                .iter()
                .position(|s| s.tag == 0 || !live.holds(s.seq))
            {
                let old = std::mem::replace(&mut bucket.slots[k], Slot { tag, seq });
                if old.tag != 0 {
                    // A stale slot: the counts it left on its way go.
                    self.take_back(old.tag, b);
                }
                return;
            }
            bucket.over += 1;
            self.over += 1;
            b = self.next(b);
        }
    }

    /// A slot of `tag` leaves bucket `b`: take back the overflow counts
    /// its insert left on the buckets from its own up to `b`.
    #[inline(always)]
    fn take_back(&mut self, tag: u32, b: usize) {
        let mut i = self.home(tag);
        while i != b {
            self.buckets[i].over -= 1;
            self.over -= 1;
            i = self.next(i);
        }
    }

    /// Empty the slot at `at` (an entry leaving other than from the head).
    #[inline]
    pub fn remove(&mut self, at: At) {
        let (b, k) = (at / SLOTS, at % SLOTS);
        let old = std::mem::take(&mut self.buckets[b].slots[k]);
        self.take_back(old.tag, b);
    }

    /// Empty the stale slots and count the overflows of the live ones
    /// afresh, in place (no second index in memory at once): what a
    /// [`Index::worn`] index needs.
    #[cold]
    pub fn clean(&mut self, live: Window) {
        for bucket in &mut self.buckets {
            bucket.over = 0;
            for s in &mut bucket.slots {
                if s.tag != 0 && !live.holds(s.seq) {
                    *s = Slot::default();
                }
            }
        }
        self.over = 0;
        for b in 0..self.buckets.len() {
            for k in 0..SLOTS {
                let s = self.buckets[b].slots[k];
                if s.tag == 0 {
                    continue;
                }
                let mut i = self.home(s.tag);
                while i != b {
                    self.buckets[i].over += 1;
                    self.over += 1;
                    i = self.next(i);
                }
            }
        }
    }

    /// A new index of `buckets` buckets holding the live slots of this one
    /// (stale ones and the counts they left go).
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
        // Every tag homes in bucket 0 (under 2^32 / buckets), so the
        // eighth onwards overflow.
        let tag = |i: u32| 2 * i + 1;
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
        let tag = |i: u32| 2 * i + 1;
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
    fn a_stale_slot_taken_again_takes_back_the_count_it_left() {
        let mut ix = Index::new();
        let tag = |i: u32| 2 * i + 1;
        let w = |head: u32| Window { head, count: 10 };
        // Seven fill bucket 0; three more overflow into bucket 1.
        for i in 0..10 {
            ix.insert(tag(i), i, w(0));
        }
        assert_eq!((ix.buckets[0].over, ix.over), (3, 3));
        // All ten leave from the head; new keys of bucket 1 take its
        // stale slots, and with them the counts on bucket 0.
        let bucket1 = |i: u32| (u32::MAX / MIN_BUCKETS as u32 + 1) + 2 * i + 1;
        for i in 0..3 {
            ix.insert(bucket1(i), 10 + i, w(10));
        }
        assert_eq!((ix.buckets[0].over, ix.over), (0, 0));
        assert!(ix.find(bucket1(2), w(10), |s| s == 12).is_some());
    }

    /// Cleaning in place and rebuilding both keep exactly the live slots,
    /// with the overflow counts of those alone.
    #[test]
    fn cleaning_or_rebuilding_keeps_live_slots_and_exact_counts() {
        // Forty keys to each of ten buckets: most of them overflow.
        let tag = |i: u32| 2 * (i % 40) + 1 + (i / 40) * (u32::MAX / 16);
        let (before, after) = (
            Window {
                head: 0,
                count: 400,
            },
            Window {
                head: 150,
                count: 250,
            },
        );
        for rebuild in [false, true] {
            let mut ix = Index::new();
            for i in 0..400 {
                ix.insert(tag(i), i, before);
            }
            if rebuild {
                ix.rebuild(1024, after);
                assert_eq!(ix.buckets(), 1024);
            } else {
                ix.clean(after);
            }
            for i in 0..400 {
                let found = ix.find(tag(i), after, |s| s == i).is_some();
                assert_eq!(found, i >= 150, "{i} (rebuild: {rebuild})");
            }
            // Removing every live slot leaves no count behind.
            for i in 150..400 {
                let at = ix.find(tag(i), after, |s| s == i).unwrap();
                ix.remove(at);
            }
            assert_eq!(ix.over, 0);
            assert!(ix.buckets.iter().all(|b| b.over == 0));
        }
    }
}
