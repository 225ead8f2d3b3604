//! A set of 16-bit port numbers that is small while it is small.
//!
//! Most sources touch a handful of ports, a scanner hundreds or thousands.
//! The set starts as an inline array (no allocation), then becomes a
//! two-level bitset: a 64-bit map of which 1024-port chunks exist, and only
//! those 128-byte chunks, in order. Ports a scanner sweeps cluster, so a few
//! chunks hold them: thousands of sources' sets stay in the cache where
//! 8 KiB flat bitsets each would not. Insert and count stay O(1).

const INLINE: usize = 14;
/// Ports per chunk, and 64-bit words per chunk.
const CHUNK_BITS: usize = 1024;
const CHUNK_WORDS: usize = CHUNK_BITS / 64;

type Chunk = [u64; CHUNK_WORDS];

#[derive(Clone, Debug)]
pub enum PortSet {
    Inline {
        len: u8,
        ports: [u16; INLINE],
    },
    Chunked {
        count: u32,
        /// Bit `c` set: chunk `c` (ports `c*1024 ..`) is in `chunks`, at the
        /// index given by the number of lower bits set.
        present: u64,
        chunks: Vec<Chunk>,
    },
}

impl Default for PortSet {
    fn default() -> Self {
        PortSet::Inline {
            len: 0,
            ports: [0; INLINE],
        }
    }
}

/// Set `port` in a chunked set; true if it was not there before.
#[inline]
fn set_chunked(present: &mut u64, chunks: &mut Vec<Chunk>, port: u16) -> bool {
    let c = port as usize / CHUNK_BITS;
    let bit = 1u64 << c;
    let idx = (*present & (bit - 1)).count_ones() as usize;
    if *present & bit == 0 {
        chunks.insert(idx, [0; CHUNK_WORDS]);
        *present |= bit;
    }
    let word = &mut chunks[idx][(port as usize / 64) % CHUNK_WORDS];
    let mask = 1u64 << (port % 64);
    let new = *word & mask == 0;
    *word |= mask;
    new
}

impl PortSet {
    /// Add `port`; true if it was not there before.
    #[inline]
    pub fn insert(&mut self, port: u16) -> bool {
        match self {
            PortSet::Inline { len, ports } => {
                let n = *len as usize;
                if ports[..n].contains(&port) {
                    return false;
                }
                if n < INLINE {
                    ports[n] = port;
                    *len += 1;
                    return true;
                }
                let (mut present, mut chunks) = (0u64, Vec::new());
                for &p in ports.iter() {
                    set_chunked(&mut present, &mut chunks, p);
                }
                set_chunked(&mut present, &mut chunks, port);
                *self = PortSet::Chunked {
                    count: INLINE as u32 + 1,
                    present,
                    chunks,
                };
                true
            }
            PortSet::Chunked {
                count,
                present,
                chunks,
            } => {
                let new = set_chunked(present, chunks, port);
                *count += new as u32;
                new
            }
        }
    }

    /// Add every port of `other` (the merger joins the pieces of one
    /// source's set that different aggregators hold).
    pub fn union_with(&mut self, other: &PortSet) {
        match other {
            PortSet::Inline { len, ports } => {
                for &p in &ports[..*len as usize] {
                    self.insert(p);
                }
            }
            PortSet::Chunked {
                present: theirs,
                chunks: their_chunks,
                ..
            } => {
                if let PortSet::Inline { .. } = self {
                    let mine = std::mem::replace(self, other.clone());
                    self.union_with(&mine);
                    return;
                }
                let PortSet::Chunked {
                    count,
                    present,
                    chunks,
                } = self
                else {
                    unreachable!("inline handled above")
                };
                let mut bits = *theirs;
                for chunk in their_chunks {
                    let c = bits.trailing_zeros();
                    bits &= bits - 1;
                    let bit = 1u64 << c;
                    let idx = (*present & (bit - 1)).count_ones() as usize;
                    if *present & bit == 0 {
                        chunks.insert(idx, *chunk);
                        *present |= bit;
                    } else {
                        for (w, &o) in chunks[idx].iter_mut().zip(chunk) {
                            *w |= o;
                        }
                    }
                }
                *count = chunks.iter().flatten().map(|w| w.count_ones()).sum();
            }
        }
    }

    /// Start fetching the word that inserting `port` will touch.
    #[inline]
    pub fn prefetch(&self, port: u16) {
        if let PortSet::Chunked {
            present, chunks, ..
        } = self
        {
            let c = port as usize / CHUNK_BITS;
            let bit = 1u64 << c;
            if present & bit != 0 {
                let idx = (present & (bit - 1)).count_ones() as usize;
                crate::sketch::prefetch(&chunks[idx][(port as usize / 64) % CHUNK_WORDS]);
            }
        }
    }

    /// Bytes held on the heap (for the aggregator's memory budget).
    #[inline]
    pub fn heap_bytes(&self) -> usize {
        match self {
            PortSet::Inline { .. } => 0,
            PortSet::Chunked { chunks, .. } => chunks.capacity() * std::mem::size_of::<Chunk>(),
        }
    }

    pub fn len(&self) -> u32 {
        match self {
            PortSet::Inline { len, .. } => *len as u32,
            PortSet::Chunked { count, .. } => *count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Call `f` with every port held (in no particular order).
    pub fn for_each(&self, mut f: impl FnMut(u16)) {
        self.walk(|p| {
            f(p);
            true
        });
    }

    /// Call `f` with the ports held (a chunked set's in ascending order)
    /// until it returns false.
    fn walk(&self, mut f: impl FnMut(u16) -> bool) {
        match self {
            PortSet::Inline { len, ports } => {
                for &p in &ports[..*len as usize] {
                    if !f(p) {
                        return;
                    }
                }
            }
            PortSet::Chunked {
                present, chunks, ..
            } => {
                let mut bits = *present;
                for chunk in chunks {
                    let c = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    for (w, &word) in chunk.iter().enumerate() {
                        let mut word = word;
                        while word != 0 {
                            if !f((c * CHUNK_BITS + w * 64) as u16 + word.trailing_zeros() as u16) {
                                return;
                            }
                            word &= word - 1;
                        }
                    }
                }
            }
        }
    }

    /// The `n` smallest ports, ascending.
    pub fn smallest(&self, n: usize) -> Vec<u16> {
        match self {
            PortSet::Inline { len, ports } => {
                let mut v = ports[..*len as usize].to_vec();
                v.sort_unstable();
                v.truncate(n);
                v
            }
            PortSet::Chunked { .. } => {
                let mut v = Vec::with_capacity(n.min(64));
                self.walk(|p| {
                    if v.len() < n {
                        v.push(p);
                    }
                    v.len() < n
                });
                v
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_ports_across_the_inline_to_dense_switch() {
        let mut set = PortSet::default();
        for round in 0..3 {
            for p in (0..200u16).rev() {
                assert_eq!(set.insert(p * 300), round == 0, "port {p} round {round}");
            }
        }
        assert_eq!(set.len(), 200);
        assert!(matches!(set, PortSet::Chunked { .. }));
        assert_eq!(set.smallest(3), vec![0, 300, 600]);
        assert_eq!(set.smallest(500).len(), 200);
    }

    #[test]
    fn inline_set_lists_smallest_sorted() {
        let mut set = PortSet::default();
        for p in [443, 22, 80, 22, 65535] {
            set.insert(p);
        }
        assert_eq!(set.len(), 4);
        assert!(matches!(set, PortSet::Inline { .. }));
        assert_eq!(set.smallest(50), vec![22, 80, 443, 65535]);
        assert_eq!(set.smallest(2), vec![22, 80]);
    }
}

#[cfg(test)]
mod chunked_tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn union_agrees_with_a_btreeset() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for (a_n, b_n) in [
            (0, 0),
            (3, 5),
            (10, 10),
            (14, 1),
            (40, 3),
            (2, 300),
            (500, 700),
        ] {
            let (mut a, mut b) = (PortSet::default(), PortSet::default());
            let mut model = BTreeSet::new();
            for (set, n) in [(&mut a, a_n), (&mut b, b_n)] {
                for _ in 0..n {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Clustered low ports and a spread over the whole range.
                    let p = if x & 1 == 0 {
                        (x >> 8) as u16 % 200
                    } else {
                        (x >> 16) as u16
                    };
                    set.insert(p);
                    model.insert(p);
                }
            }
            a.union_with(&b);
            assert_eq!(a.len() as usize, model.len(), "{a_n} + {b_n}");
            assert_eq!(
                a.smallest(usize::MAX),
                model.iter().copied().collect::<Vec<_>>()
            );
            let mut held = BTreeSet::new();
            a.for_each(|p| assert!(held.insert(p), "{p} twice"));
            assert_eq!(held, model, "{a_n} + {b_n}");
        }
    }

    #[test]
    fn agrees_with_a_btreeset_over_the_whole_port_range() {
        let mut set = PortSet::default();
        let mut reference = BTreeSet::new();
        let mut x: u32 = 2463534242;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // Mostly clustered, sometimes anywhere, including 0 and 65535.
            let port = match x % 4 {
                0 => (x >> 8) as u16,
                1 => 65535 - (x >> 20) as u16 % 3,
                _ => (x >> 8) as u16 % 3000,
            };
            assert_eq!(set.insert(port), reference.insert(port), "port {port}");
            assert_eq!(set.len() as usize, reference.len());
        }
        let want: Vec<u16> = reference.iter().copied().collect();
        assert_eq!(set.smallest(usize::MAX), want);
        assert_eq!(set.smallest(50), want[..50].to_vec());
    }
}
