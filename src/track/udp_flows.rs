//! When each UDP flow (both directions as one) last carried a datagram.
//!
//! A datagram starts a new attempt only if its flow was silent for longer
//! than the answer timeout before it (detection contract, sec. 1).

use ahash::AHashMap;

use crate::event::FlowKey;
use crate::time::Nanos;

pub struct UdpFlows {
    last_seen: AHashMap<FlowKey, Nanos>,
    timeout: Nanos,
    cap: usize,
    /// The next capture-time boundary (a multiple of the timeout) at which
    /// silent flows are forgotten.
    next_forget: Nanos,
    /// Flows forgotten early because the table was full.
    pub evicted: u64,
}

impl UdpFlows {
    pub fn new(timeout: Nanos, cap: usize) -> Self {
        UdpFlows {
            last_seen: AHashMap::default(),
            timeout: timeout.max(1),
            cap: cap.max(2),
            next_forget: Nanos::MIN,
            evicted: 0,
        }
    }

    /// Note a datagram of `key` at `ts`; true if it starts a new flow.
    #[inline]
    pub fn datagram(&mut self, key: FlowKey, ts: Nanos, clock: Nanos) -> bool {
        if clock >= self.next_forget {
            self.forget(clock);
        }
        let timeout = self.timeout;
        let fresh = match self.last_seen.entry(key.canonical()) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let last = *e.get();
                *e.get_mut() = last.max(ts);
                ts - last > timeout
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(ts);
                true
            }
        };
        if self.last_seen.len() >= self.cap {
            self.evict();
        }
        fresh
    }

    /// Forget flows silent for two timeouts before the last boundary the
    /// clock passed (a datagram up to one timeout out of order still finds
    /// its flow). Boundaries are fixed points of capture time, so every
    /// aggregator forgets the same flows by the time it next looks one up,
    /// whichever flows each holds: which flows are known never depends on
    /// the thread count.
    #[cold]
    fn forget(&mut self, clock: Nanos) {
        let boundary = clock.div_euclid(self.timeout).saturating_mul(self.timeout);
        let horizon = boundary.saturating_sub(2 * self.timeout);
        self.last_seen.retain(|_, last| *last >= horizon);
        let len = self.last_seen.len();
        if self.last_seen.capacity() > 4 * len.max(1024) {
            self.last_seen.shrink_to(2 * len);
        }
        self.next_forget = boundary.saturating_add(self.timeout);
    }

    /// A full table: keep the 3/8 of the cap heard from last (counted).
    #[cold]
    fn evict(&mut self) {
        let keep = self.cap * 3 / 8;
        let mut times: Vec<Nanos> = self.last_seen.values().copied().collect();
        let cut = times.len().saturating_sub(keep);
        if cut == 0 {
            return;
        }
        let (_, &mut cutoff, _) = times.select_nth_unstable(cut - 1);
        let before = self.last_seen.len();
        self.last_seen.retain(|_, last| *last > cutoff);
        self.evicted += (before - self.last_seen.len()) as u64;
    }

    pub fn len(&self) -> usize {
        self.last_seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last_seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::UDP;

    #[test]
    fn both_directions_are_one_flow_and_silence_restarts_it() {
        let mut f = UdpFlows::new(5, 100);
        let k = FlowKey {
            proto: UDP,
            src: "203.0.113.1".parse().unwrap(),
            sport: 5000,
            dst: "192.0.2.1".parse().unwrap(),
            dport: 53,
        };
        assert!(f.datagram(k, 0, 0));
        assert!(!f.datagram(k.reversed(), 5, 5), "reply within the timeout");
        assert!(!f.datagram(k, 10, 10), "5 after the reply: still the flow");
        assert!(f.datagram(k, 16, 16), "silent for 6 > 5: new");
    }

    #[test]
    fn which_flows_are_known_depends_on_capture_time_not_on_the_table() {
        // One aggregator holds a flow alone, another holds it among 5,000
        // (as with more threads or fewer): a datagram out of order must get
        // the same answer from both.
        let key = |i: u32| FlowKey {
            proto: UDP,
            src: std::net::IpAddr::from(0xcb00_7100u32.wrapping_add(i).to_be_bytes()),
            sport: 5000,
            dst: "192.0.2.1".parse().unwrap(),
            dport: 53,
        };
        let t = 5;
        let (mut alone, mut crowded) = (UdpFlows::new(t, 1 << 20), UdpFlows::new(t, 1 << 20));
        assert_eq!(alone.datagram(key(0), 0, 0), crowded.datagram(key(0), 0, 0));
        for i in 1..5000 {
            crowded.datagram(key(i), 3 * t, 3 * t);
        }
        for (ts, clock) in [(t / 2, 3 * t), (3 * t, 3 * t), (2 * t, 4 * t)] {
            assert_eq!(
                alone.datagram(key(0), ts, clock),
                crowded.datagram(key(0), ts, clock),
                "datagram at {ts}, clock {clock}"
            );
        }
        assert_eq!(crowded.evicted, 0);
    }
}
