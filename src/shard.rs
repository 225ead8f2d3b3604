//! Shard stage: which aggregator sees which event.
//!
//! Sharding is by the unordered pair of addresses: a probe, every answer to
//! it (a TCP answer comes back the other way, an ICMP error quotes the
//! probe) and both directions of a UDP flow meet in one aggregator, which
//! is all that matching answers to attempts needs. A source's failures are
//! spread over the aggregators by destination, so one scanner sweeping many
//! hosts keeps every aggregator busy rather than one; the merger adds the
//! pieces of a (source, bin) together (each destination's failures are in
//! one piece, so distinct hosts add up; port sets are joined).

use std::net::IpAddr;

use crate::event::Event;

#[derive(Clone)]
pub struct Router {
    shards: usize,
    hasher: ahash::RandomState,
}

impl Router {
    pub fn new(shards: usize) -> Self {
        Router {
            shards: shards.max(1),
            // Fixed seeds: the same pair always lands in the same shard,
            // run after run.
            hasher: ahash::RandomState::with_seeds(
                0x7069_636b_6574_0001,
                0x7069_636b_6574_0002,
                0x7069_636b_6574_0003,
                0x7069_636b_6574_0004,
            ),
        }
    }

    pub fn shards(&self) -> usize {
        self.shards
    }

    /// The shard that owns the traffic between `a` and `b`, either way.
    #[inline]
    pub fn shard_of_pair(&self, a: &IpAddr, b: &IpAddr) -> usize {
        if self.shards == 1 {
            return 0;
        }
        let h = match (a, b) {
            // Two IPv4 addresses as one word, the lower first: about half
            // the instructions of ordering and hashing the address enums
            // (30 against 57 a packet).
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let (a, b) = (u32::from(*a), u32::from(*b));
                self.hasher
                    .hash_one(u64::from(a.min(b)) << 32 | u64::from(a.max(b)))
            }
            _ => self.hasher.hash_one(if a <= b { (a, b) } else { (b, a) }),
        };
        crate::sketch::slot(h, self.shards)
    }

    /// The shard that must see `ev`.
    #[inline]
    pub fn route(&self, ev: &Event) -> usize {
        self.shard_of_pair(&ev.src, &ev.dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_pairs_both_ways_and_is_stable() {
        let r = Router::new(4);
        let scanner = IpAddr::from([203, 0, 113, 7]);
        let mut seen = [0usize; 4];
        for i in 0..=255u8 {
            let target = IpAddr::from([192, 0, 2, i]);
            let s = r.shard_of_pair(&scanner, &target);
            assert_eq!(s, r.shard_of_pair(&target, &scanner), "either direction");
            assert_eq!(s, Router::new(4).shard_of_pair(&scanner, &target));
            seen[s] += 1;
        }
        assert!(seen.iter().all(|&n| n > 20), "{seen:?}");
    }
}
