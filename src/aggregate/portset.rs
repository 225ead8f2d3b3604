//! A set of 16-bit port numbers that is small while it is small.
//!
//! Most sources touch a handful of ports, a scanner thousands. The set starts
//! as an inline array (no allocation) and turns into a dense 8 KiB bitset with
//! a running count once it outgrows it, so insert and count stay O(1).

const INLINE: usize = 14;
const WORDS: usize = 65536 / 64;

#[derive(Clone, Debug)]
pub enum PortSet {
    Inline { len: u8, ports: [u16; INLINE] },
    Dense { count: u32, bits: Box<[u64; WORDS]> },
}

impl Default for PortSet {
    fn default() -> Self {
        PortSet::Inline {
            len: 0,
            ports: [0; INLINE],
        }
    }
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
                let mut bits = Box::new([0u64; WORDS]);
                for &p in ports.iter() {
                    bits[p as usize >> 6] |= 1 << (p & 63);
                }
                bits[port as usize >> 6] |= 1 << (port & 63);
                *self = PortSet::Dense {
                    count: INLINE as u32 + 1,
                    bits,
                };
                true
            }
            PortSet::Dense { count, bits } => {
                let word = &mut bits[port as usize >> 6];
                let mask = 1u64 << (port & 63);
                let new = *word & mask == 0;
                *word |= mask;
                *count += new as u32;
                new
            }
        }
    }

    pub fn len(&self) -> u32 {
        match self {
            PortSet::Inline { len, .. } => *len as u32,
            PortSet::Dense { count, .. } => *count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
            PortSet::Dense { bits, .. } => {
                let mut v = Vec::with_capacity(n.min(64));
                for (w, &word) in bits.iter().enumerate() {
                    let mut word = word;
                    while word != 0 && v.len() < n {
                        v.push((w * 64) as u16 + word.trailing_zeros() as u16);
                        word &= word - 1;
                    }
                    if v.len() >= n {
                        break;
                    }
                }
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
        assert!(matches!(set, PortSet::Dense { .. }));
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
