//! Attempts waiting for an answer, keyed by the initiator's 5-tuple.
//!
//! Expiry is lazy and exact: every lookup checks the attempt's deadline
//! against the clock, so an outcome never depends on when a sweep ran.
//! Sweeps only reclaim memory; they run when the table has doubled since the
//! last one (amortised O(1) per insert) and before a bin closes.

use super::flat::FlatMap;
use crate::event::FlowKey;
use crate::time::Nanos;

/// One pending attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attempt {
    /// Timestamp of its first packet.
    pub first: Nanos,
    /// A FIN/NULL/XMAS probe: can be rejected, never answered.
    pub stealth: bool,
}

/// What a probe packet turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    /// A new attempt, now pending.
    New,
    /// It repeats a still-pending attempt.
    Retransmission,
    /// A new attempt that took the place of an expired one with the same
    /// tuple; the expired one is returned to be counted unanswered.
    ReplacedExpired(Attempt),
}

pub struct PendingTable {
    map: FlatMap<FlowKey, Attempt>,
    timeout: Nanos,
    cap: usize,
    next_sweep: usize,
    /// Attempts forced out early because the table was full.
    pub evicted: u64,
    pub peak: usize,
}

const MIN_SWEEP: usize = 4096;

impl PendingTable {
    pub fn new(timeout: Nanos, cap: usize) -> Self {
        PendingTable {
            map: FlatMap::new(),
            timeout,
            cap: cap.max(2),
            next_sweep: MIN_SWEEP.min(cap.max(2)),
            evicted: 0,
            peak: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    #[inline]
    fn live(&self, a: &Attempt, clock: Nanos) -> bool {
        a.first + self.timeout >= clock
    }

    /// The hash every lookup of `key` takes (computed once per event).
    #[inline]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        self.map.hash(key)
    }

    /// Register a probe for `key` (hash `h`) seen at `ts` with the sensor at
    /// `clock`.
    #[inline]
    pub fn probe(&mut self, key: FlowKey, h: u64, ts: Nanos, stealth: bool, clock: Nanos) -> Probe {
        let timeout = self.timeout;
        let fresh = Attempt { first: ts, stealth };
        let (slot, new) = self.map.get_mut_or_insert(key, h, fresh);
        if new {
            self.peak = self.peak.max(self.map.len());
            Probe::New
        } else if slot.first + timeout >= clock {
            Probe::Retransmission
        } else {
            Probe::ReplacedExpired(std::mem::replace(slot, fresh))
        }
    }

    /// Remove the attempt for `key` (hash `h`). `Ok` if it was still live
    /// at `clock` (the answer counts), `Err` if it had already expired.
    #[inline]
    pub fn resolve(
        &mut self,
        key: &FlowKey,
        h: u64,
        clock: Nanos,
    ) -> Option<Result<Attempt, Attempt>> {
        let a = self.map.remove(key, h)?;
        Some(if self.live(&a, clock) { Ok(a) } else { Err(a) })
    }

    /// Start fetching the memory a lookup with hash `h` will touch.
    #[inline]
    pub fn prefetch(&self, h: u64) {
        self.map.prefetch(h);
    }

    /// Is the attempt for `key` still live? (Used for stealth attempts,
    /// which a SYN-ACK must not resolve.)
    #[inline]
    pub fn peek(&self, key: &FlowKey, h: u64) -> Option<&Attempt> {
        self.map.get(key, h)
    }

    /// True when the table has grown enough that a sweep is due.
    #[inline]
    pub fn sweep_due(&self) -> bool {
        self.map.len() >= self.next_sweep
    }

    /// Hand every attempt expired at `clock` to `expired`, then, if the
    /// table is still over 3/8 of its cap, the oldest attempts too (counted
    /// in `evicted`): under a flood the effective timeout shrinks rather
    /// than memory growing. (Under half, so freed slots are reused in place.)
    pub fn sweep(&mut self, clock: Nanos, mut expired: impl FnMut(FlowKey, Attempt)) {
        let timeout = self.timeout;
        self.map.retain(|k, a| {
            let live = a.first + timeout >= clock;
            if !live {
                expired(*k, *a);
            }
            live
        });
        let keep = self.cap * 3 / 8;
        if self.map.len() > keep {
            let mut firsts: Vec<Nanos> = self.map.values().map(|a| a.first).collect();
            let cut = firsts.len() - keep;
            let (_, &mut cutoff, _) = firsts.select_nth_unstable(cut - 1);
            let mut evicted = 0;
            self.map.retain(|k, a| {
                let keep = a.first > cutoff;
                if !keep {
                    expired(*k, *a);
                    evicted += 1;
                }
                keep
            });
            self.evicted += evicted;
        }
        self.next_sweep = (2 * self.map.len()).max(MIN_SWEEP).min(self.cap);
    }

    /// Hand over everything (end of input: all still pending are unanswered).
    pub fn drain(&mut self, expired: impl FnMut(FlowKey, Attempt)) {
        self.map.drain(expired);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::TCP;

    fn key(port: u16) -> FlowKey {
        FlowKey {
            proto: TCP,
            src: "203.0.113.1".parse().unwrap(),
            sport: 40000,
            dst: "192.0.2.1".parse().unwrap(),
            dport: port,
        }
    }

    #[test]
    fn retransmission_until_deadline_then_new_attempt() {
        let mut t = PendingTable::new(5, 100);
        let h = t.hash(&key(1));
        assert_eq!(t.probe(key(1), h, 10, false, 10), Probe::New);
        assert_eq!(t.probe(key(1), h, 15, false, 15), Probe::Retransmission);
        assert_eq!(
            t.probe(key(1), h, 16, false, 16),
            Probe::ReplacedExpired(Attempt {
                first: 10,
                stealth: false
            })
        );
        assert_eq!(
            t.resolve(&key(1), h, 21),
            Some(Ok(Attempt {
                first: 16,
                stealth: false
            }))
        );
        assert_eq!(t.resolve(&key(1), h, 21), None);
    }

    #[test]
    fn answer_after_deadline_is_expired() {
        let mut t = PendingTable::new(5, 100);
        let h = t.hash(&key(1));
        t.probe(key(1), h, 10, false, 10);
        assert!(matches!(t.resolve(&key(1), h, 16), Some(Err(_))));
    }

    #[test]
    fn sweep_expires_and_caps_by_evicting_the_oldest() {
        let mut t = PendingTable::new(5, 10);
        for p in 0..10 {
            t.probe(
                key(p),
                t.hash(&key(p)),
                p as Nanos * 100,
                false,
                p as Nanos * 100,
            );
        }
        let mut out = Vec::new();
        // At clock 904 only the last attempt (first = 900) is live.
        t.sweep(904, |k, _| out.push(k.dport));
        out.sort();
        assert_eq!(out, (0..9).collect::<Vec<_>>());
        assert_eq!(t.len(), 1);
        assert_eq!(t.evicted, 0);

        let mut t = PendingTable::new(1_000_000, 10);
        for p in 0..10 {
            t.probe(key(p), t.hash(&key(p)), p as Nanos, false, p as Nanos);
        }
        let mut out = Vec::new();
        t.sweep(10, |k, _| out.push(k.dport));
        out.sort();
        assert_eq!(out, vec![0, 1, 2, 3, 4, 5, 6], "all but the newest 3/8 go");
        assert_eq!(t.evicted, 7);
    }
}
