//! Shard stage: which aggregator sees which event.
//!
//! Sharding is by the initiator's address, so a source's attempts and every
//! answer to them meet in one aggregator and its rows are final there.
//! TCP answers travel back to the initiator (their destination), ICMP errors
//! quote it as their source. A UDP datagram may start an attempt of its
//! sender or answer one of its receiver, which only flow state can tell, so
//! it goes to both endpoints' shards; each keeps the same flow state.

use std::net::IpAddr;

use crate::event::{Event, Kind};

#[derive(Clone)]
pub struct Router {
    shards: usize,
    hasher: ahash::RandomState,
}

impl Router {
    pub fn new(shards: usize) -> Self {
        Router {
            shards: shards.max(1),
            // Fixed seeds: the same address always lands in the same shard,
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

    /// The shard that owns `addr`'s attempts.
    #[inline]
    pub fn shard_of(&self, addr: &IpAddr) -> usize {
        if self.shards == 1 {
            return 0;
        }
        let h = self.hasher.hash_one(addr);
        ((h as u128 * self.shards as u128) >> 64) as usize
    }

    /// The shard(s) that must see `ev`: a second one only for UDP whose
    /// endpoints live in different shards.
    #[inline]
    pub fn route(&self, ev: &Event) -> (usize, Option<usize>) {
        match ev.kind {
            Kind::Syn | Kind::Stealth | Kind::Unreachable | Kind::EchoRequest => {
                (self.shard_of(&ev.src), None)
            }
            Kind::SynAck | Kind::Rst => (self.shard_of(&ev.dst), None),
            Kind::Udp => {
                let a = self.shard_of(&ev.src);
                let b = self.shard_of(&ev.dst);
                (a, (a != b).then_some(b))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_addresses_and_is_stable() {
        let r = Router::new(4);
        let mut seen = [0usize; 4];
        for i in 0..=255u8 {
            let a = IpAddr::from([203, 0, 113, i]);
            let s = r.shard_of(&a);
            assert_eq!(s, Router::new(4).shard_of(&a));
            seen[s] += 1;
        }
        assert!(seen.iter().all(|&n| n > 20), "{seen:?}");
    }
}
