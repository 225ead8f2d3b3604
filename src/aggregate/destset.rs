//! Distinct destination addresses of one source in one bin.
//!
//! A sweep walks address blocks, so IPv4 addresses are kept as 256-bit
//! maps of their /24: a source sweeping a /24 costs one 32-byte block, not
//! 256 hashed 17-byte `IpAddr`s scattered over a table (the per-address
//! set was a tenth of the syn benchmark's time, in cache misses). The first
//! few addresses stay inline; IPv6 addresses, which sweeps rarely walk
//! densely, go to a plain hash set.

use std::net::{IpAddr, Ipv6Addr};

use ahash::{AHashMap, AHashSet};

const INLINE: usize = 4;

#[derive(Clone, Debug)]
pub enum DestSet {
    Inline {
        len: u8,
        addrs: [IpAddr; INLINE],
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
            DestSet::Spread(s) => s.count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
                let mut spread = DestSet::Spread(Box::default());
                for a in addrs.iter() {
                    spread.insert(*a, usize::MAX);
                }
                *self = spread;
                self.insert(addr, cap)
            }
            DestSet::Spread(s) => {
                let Spread { count, v4, v6 } = &mut **s;
                let full = *count as usize >= cap;
                let new = match addr {
                    IpAddr::V4(a) => {
                        let a = u32::from(a);
                        let bit = 1u64 << (a & 63);
                        let word = (a as usize >> 6) & 3;
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
        }
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
