//! Distinct destination addresses of one source in one bin.
//!
//! A sweep walks address blocks, so IPv4 addresses are kept as 256-bit
//! maps of their /24: a source sweeping a /24 costs one 32-byte block, not
//! 256 hashed 17-byte `IpAddr`s scattered over a table (the per-address
//! set was a tenth of the syn benchmark's time, in cache misses). The first
//! few addresses stay inline, then a single /24's map stays inline too (a
//! source sweeping one block never leaves its entry); past that, the maps
//! go to a hash table by /24, and IPv6 addresses, which sweeps rarely walk
//! densely, to a plain hash set.

use std::net::{IpAddr, Ipv6Addr};

use ahash::{AHashMap, AHashSet};

const INLINE: usize = 4;

#[derive(Clone, Debug)]
pub enum DestSet {
    Inline {
        len: u8,
        addrs: [IpAddr; INLINE],
    },
    /// IPv4 addresses all in one /24 (one sweep of one block): kept in
    /// place, so counting them costs no pointer to follow.
    Block {
        count: u32,
        /// The top 24 bits of the addresses.
        prefix: u32,
        bits: [u64; 4],
    },
    /// Boxed: every (source, bin) entry holds a `DestSet`, most of them
    /// inline, and the hash tables would triple the entry's size.
    Spread(Box<Spread>),
}

#[derive(Clone, Debug, Default)]
pub struct Spread {
    count: u32,
    /// Keyed by the address's top 24 bits; bit `a & 255` of the map.
    v4: AHashMap<u32, [u64; 4]>,
    v6: AHashSet<Ipv6Addr>,
}

impl DestSet {
    pub fn new(first: IpAddr) -> Self {
        DestSet::Inline {
            len: 1,
            addrs: [first; INLINE],
        }
    }

    /// Distinct addresses held.
    pub fn len(&self) -> u32 {
        match self {
            DestSet::Inline { len, .. } => *len as u32,
            DestSet::Block { count, .. } => *count,
            DestSet::Spread(s) => s.count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Call `f` with every address held (in no particular order).
    pub fn for_each(&self, mut f: impl FnMut(IpAddr)) {
        let block = |f: &mut dyn FnMut(IpAddr), prefix: u32, bits: &[u64; 4]| {
            for (w, &word) in bits.iter().enumerate() {
                let mut word = word;
                while word != 0 {
                    let low = (w as u32) << 6 | word.trailing_zeros();
                    f(IpAddr::from((prefix << 8 | low).to_be_bytes()));
                    word &= word - 1;
                }
            }
        };
        match self {
            DestSet::Inline { len, addrs } => addrs[..*len as usize].iter().for_each(|&a| f(a)),
            DestSet::Block { prefix, bits, .. } => block(&mut f, *prefix, bits),
            DestSet::Spread(s) => {
                for (prefix, bits) in &s.v4 {
                    block(&mut f, *prefix, bits);
                }
                s.v6.iter().for_each(|&a| f(IpAddr::V6(a)));
            }
        }
    }

    /// Bytes held on the heap, roughly (for the aggregator's memory
    /// budget): each hash table slot with its control byte.
    #[inline]
    pub fn heap_bytes(&self) -> usize {
        match self {
            DestSet::Inline { .. } | DestSet::Block { .. } => 0,
            DestSet::Spread(s) => {
                std::mem::size_of::<Spread>()
                    + s.v4.capacity() * (std::mem::size_of::<(u32, [u64; 4])>() + 1)
                    + s.v6.capacity() * (std::mem::size_of::<Ipv6Addr>() + 1)
            }
        }
    }

    /// Insert unless `cap` distinct addresses are already held; false if
    /// the address was new and dropped for that reason.
    #[inline]
    pub fn insert(&mut self, addr: IpAddr, cap: usize) -> bool {
        match self {
            DestSet::Inline { len, addrs } => {
                let n = *len as usize;
                if addrs[..n].contains(&addr) {
                    return true;
                }
                if n < INLINE && n < cap {
                    addrs[n] = addr;
                    *len += 1;
                    return true;
                }
                if n >= cap {
                    return false;
                }
                let prefix = |a: &IpAddr| match a {
                    IpAddr::V4(a) => Some(u32::from(*a) >> 8),
                    IpAddr::V6(_) => None,
                };
                let one_block = prefix(&addrs[0])
                    .filter(|p| addrs.iter().chain([&addr]).all(|a| prefix(a) == Some(*p)));
                let mut grown = match one_block {
                    Some(prefix) => DestSet::Block {
                        count: 0,
                        prefix,
                        bits: [0; 4],
                    },
                    None => DestSet::Spread(Box::default()),
                };
                for a in addrs.iter() {
                    grown.insert(*a, usize::MAX);
                }
                *self = grown;
                self.insert(addr, cap)
            }
            DestSet::Block {
                count,
                prefix,
                bits,
            } => match addr {
                IpAddr::V4(a) if u32::from(a) >> 8 == *prefix => {
                    let (word, bit) = position(u32::from(a));
                    if bits[word] & bit != 0 {
                        true
                    } else if *count as usize >= cap {
                        false
                    } else {
                        bits[word] |= bit;
                        *count += 1;
                        true
                    }
                }
                _ => {
                    let mut spread = Spread {
                        count: *count,
                        ..Spread::default()
                    };
                    spread.v4.insert(*prefix, *bits);
                    *self = DestSet::Spread(Box::new(spread));
                    self.insert(addr, cap)
                }
            },
            DestSet::Spread(s) => {
                let Spread { count, v4, v6 } = &mut **s;
                let full = *count as usize >= cap;
                let new = match addr {
                    IpAddr::V4(a) => {
                        let a = u32::from(a);
                        let (word, bit) = position(a);
                        match v4.get_mut(&(a >> 8)) {
                            Some(block) if block[word] & bit != 0 => false,
                            _ if full => return false,
                            Some(block) => {
                                block[word] |= bit;
                                true
                            }
                            None => {
                                let mut block = [0u64; 4];
                                block[word] = bit;
                                v4.insert(a >> 8, block);
                                true
                            }
                        }
                    }
                    IpAddr::V6(a) => {
                        if v6.contains(&a) {
                            false
                        } else if full {
                            return false;
                        } else {
                            v6.insert(a)
                        }
                    }
                };
                *count += new as u32;
                true
            }
        }
    }
}

/// Where IPv4 address `a` sits in the 256-bit map of its /24.
#[inline]
fn position(a: u32) -> (usize, u64) {
    ((a as usize >> 6) & 3, 1u64 << (a & 63))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn counts_like_a_set_of_addresses() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        for round in 0..50 {
            let first = IpAddr::from([192, 0, 2, 1]);
            let mut d = DestSet::new(first);
            let mut model = BTreeSet::from([first]);
            for _ in 0..(round * 37 % 2000) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Clustered v4 (two /24s, a few /16 neighbours) and some v6.
                let a = match x % 10 {
                    0 => IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, (x >> 8) as u16 % 64]),
                    1..=3 => IpAddr::from([198, 51, (x >> 8) as u8 % 4, (x >> 16) as u8]),
                    _ => IpAddr::from([192, 0, 2, (x >> 8) as u8]),
                };
                assert!(d.insert(a, usize::MAX));
                model.insert(a);
                assert_eq!(d.len() as usize, model.len());
            }
            let mut held = BTreeSet::new();
            d.for_each(|a| assert!(held.insert(a), "{a} twice"));
            assert_eq!(held, model, "round {round}");
        }
    }

    #[test]
    fn one_block_stays_in_place_until_another_address_comes() {
        let mut d = DestSet::new(IpAddr::from([192, 0, 2, 0]));
        let mut model = BTreeSet::from([IpAddr::from([192, 0, 2, 0])]);
        for i in (0..=255u8).rev().chain(0..=255) {
            let a = IpAddr::from([192, 0, 2, i]);
            assert!(d.insert(a, usize::MAX));
            model.insert(a);
            assert_eq!(d.len() as usize, model.len());
        }
        assert!(matches!(d, DestSet::Block { .. }));
        // Another /24, then IPv6: the block moves into the spread set.
        for a in [
            IpAddr::from([192, 0, 3, 1]),
            "2001:db8::1".parse().unwrap(),
            IpAddr::from([192, 0, 2, 9]),
            IpAddr::from([192, 0, 3, 1]),
        ] {
            assert!(d.insert(a, usize::MAX));
            model.insert(a);
            assert_eq!(d.len() as usize, model.len());
        }
        assert!(matches!(d, DestSet::Spread(_)));
        // An IPv6 address among the first few: never a block.
        let mut d = DestSet::new(IpAddr::from([192, 0, 2, 0]));
        for a in ["192.0.2.1", "2001:db8::1", "192.0.2.2", "192.0.2.3"] {
            d.insert(a.parse().unwrap(), usize::MAX);
        }
        assert!(matches!(d, DestSet::Spread(_)));
        assert_eq!(d.len(), 5);
    }

    #[test]
    fn a_block_stops_growing_at_the_cap() {
        let mut d = DestSet::new(IpAddr::from([192, 0, 2, 0]));
        for i in 1..=20u8 {
            assert_eq!(d.insert(IpAddr::from([192, 0, 2, i]), 10), i < 10, "{i}");
        }
        assert!(matches!(d, DestSet::Block { .. }));
        assert_eq!(d.len(), 10);
        assert!(d.insert(IpAddr::from([192, 0, 2, 5]), 10));
    }

    #[test]
    fn stops_growing_at_the_cap_but_knows_what_it_holds() {
        let mut d = DestSet::new(IpAddr::from([192, 0, 2, 0]));
        for i in 1..=9u8 {
            let a = IpAddr::from([192, 0, 2, i]);
            assert_eq!(d.insert(a, 8), i < 8, "address {i}");
        }
        assert_eq!(d.len(), 8);
        // Already held: still true at the cap.
        assert!(d.insert(IpAddr::from([192, 0, 2, 3]), 8));
        let v6 = "2001:db8::1".parse().unwrap();
        assert!(!d.insert(v6, 8));
        assert_eq!(d.len(), 8);
    }
}
