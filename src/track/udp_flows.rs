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
    next_sweep: usize,
    /// Flows forgotten early because the table was full.
    pub evicted: u64,
}

const MIN_SWEEP: usize = 4096;

impl UdpFlows {
    pub fn new(timeout: Nanos, cap: usize) -> Self {
        UdpFlows {
            last_seen: AHashMap::default(),
            timeout,
            cap: cap.max(2),
            next_sweep: MIN_SWEEP.min(cap.max(2)),
            evicted: 0,
        }
    }

    /// Note a datagram of `key` at `ts`; true if it starts a new flow.
    #[inline]
    pub fn datagram(&mut self, key: FlowKey, ts: Nanos, clock: Nanos) -> bool {
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
        if self.last_seen.len() >= self.next_sweep {
            self.sweep(clock);
        }
        fresh
    }

    /// Forget flows silent for two timeouts (a datagram up to one timeout
    /// out of order still finds its flow); then, if still over 3/8 of the
    /// cap, the longest-silent ones.
    fn sweep(&mut self, clock: Nanos) {
        let horizon = clock - 2 * self.timeout;
        self.last_seen.retain(|_, last| *last >= horizon);
        let keep = self.cap * 3 / 8;
        if self.last_seen.len() > keep {
            let mut times: Vec<Nanos> = self.last_seen.values().copied().collect();
            let cut = times.len() - keep;
            let (_, &mut cutoff, _) = times.select_nth_unstable(cut - 1);
            let before = self.last_seen.len();
            self.last_seen.retain(|_, last| *last > cutoff);
            self.evicted += (before - self.last_seen.len()) as u64;
        }
        let len = self.last_seen.len();
        self.last_seen.shrink_to(len);
        self.next_sweep = (2 * self.last_seen.len()).max(MIN_SWEEP).min(self.cap);
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
}
