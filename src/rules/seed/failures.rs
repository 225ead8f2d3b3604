//! Failed attempts on their way to the per-source table.
//!
//! Counting a failure touches its source's table slot, entry, counts and
//! port set: for a random one of thousands of sources, four cache misses
//! in a row. The failures pass through a short queue instead, in order:
//! entering it fetches the slot, a few places on the entry the slot points
//! at, then the counts the entry points at, then the port-set word, and
//! only at its end is the failure counted, with all four (most of the
//! time) already cached.

use std::collections::VecDeque;

use super::bins::{BinTable, Failure};
use crate::event::{FlowKey, Outcome, Verdict};
use crate::time::Nanos;

/// Failures in flight.
const DEPTH: usize = 8;
/// Where the entry is fetched: this many places after entering.
const ENTRY_STAGE: usize = 2;
/// Where a source's full counts are fetched (from its second failure on,
/// they are behind a pointer in the entry).
const COUNTS_STAGE: usize = 4;
/// Where the port-set word is fetched: this many places after entering.
const PORT_STAGE: usize = 6;

struct Failed {
    key: FlowKey,
    first: Nanos,
    how: Failure,
    bin: i64,
    /// The per-source table's hash of (source, bin).
    hash: u64,
}

pub struct FailureQueue {
    queue: VecDeque<Failed>,
    bin_len: Nanos,
}

impl FailureQueue {
    pub fn new(bin_len: Nanos) -> Self {
        FailureQueue {
            queue: VecDeque::with_capacity(DEPTH + 1),
            bin_len,
        }
    }

    /// Queue a failed attempt; count the one that has waited longest if
    /// the queue is full. `closed_through`: bins up to it are closed (none
    /// of the queued failures may belong to them).
    #[inline]
    pub fn push(&mut self, bins: &mut BinTable, closed_through: i64, o: &Outcome) {
        let bin = o.first.div_euclid(self.bin_len);
        let hash = bins.hash(o.key.src, bin);
        bins.prefetch_slot(hash);
        self.queue.push_back(Failed {
            key: o.key,
            first: o.first,
            how: Failure {
                rejected: o.verdict == Verdict::Rejected,
                proto: o.key.proto,
                stealth: o.stealth,
            },
            bin,
            hash,
        });
        let at = |stage: usize| self.queue.len().checked_sub(stage + 1);
        if let Some(i) = at(ENTRY_STAGE) {
            bins.prefetch(self.queue[i].hash);
        }
        if let Some(i) = at(COUNTS_STAGE) {
            let f = &self.queue[i];
            bins.prefetch_counts(f.key.src, f.bin, f.hash);
        }
        if let Some(i) = at(PORT_STAGE) {
            let f = &self.queue[i];
            bins.prefetch_port(f.key.src, f.bin, f.hash, f.key.dport);
        }
        if self.queue.len() > DEPTH {
            let f = self.queue.pop_front().expect("queue is not empty");
            count(bins, closed_through, f);
        }
    }

    /// Count everything queued (before bins close, at the end, before
    /// statistics are read).
    pub fn flush(&mut self, bins: &mut BinTable, closed_through: i64) {
        while let Some(f) = self.queue.pop_front() {
            count(bins, closed_through, f);
        }
    }
}

/// Count a failed attempt in its source's bin.
#[inline]
fn count(bins: &mut BinTable, closed_through: i64, f: Failed) {
    if f.bin <= closed_through {
        debug_assert!(false, "attempt resolved after its bin closed");
        return;
    }
    bins.record(
        f.bin,
        f.key.src,
        f.key.dst,
        f.key.dport,
        f.first,
        f.how,
        f.hash,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::TCP;

    #[test]
    fn failures_are_counted_in_order_once_through_the_queue() {
        let mut bins = BinTable::new(100, 100, usize::MAX);
        let mut q = FailureQueue::new(10);
        for i in 0..20u16 {
            let key = FlowKey {
                proto: TCP,
                src: std::net::IpAddr::from([203, 0, 113, (i % 3) as u8]),
                sport: 40000,
                dst: "192.0.2.1".parse().unwrap(),
                dport: i,
            };
            let o = Outcome {
                key,
                first: 5,
                settled: 6,
                verdict: if i % 2 == 0 {
                    Verdict::Rejected
                } else {
                    Verdict::Unanswered
                },
                stealth: false,
                tool: crate::event::Tool::Unknown,
            };
            q.push(&mut bins, -1, &o);
        }
        let counted = |bins: &mut BinTable| {
            let mut out = Vec::new();
            bins.close_through(0, &mut out);
            out.sort_by_key(|s| s.src);
            out
        };
        assert_eq!(
            counted(&mut bins)
                .iter()
                .map(|s| u64::from(s.total))
                .sum::<u64>(),
            20 - DEPTH as u64
        );
        q.flush(&mut bins, -1);
        let out = counted(&mut bins);
        assert_eq!(
            out.iter().map(|s| u64::from(s.total)).sum::<u64>(),
            DEPTH as u64
        );
        let mut bins = BinTable::new(100, 100, usize::MAX);
        for i in 0..20u16 {
            let o = Outcome {
                key: FlowKey {
                    proto: TCP,
                    src: std::net::IpAddr::from([203, 0, 113, (i % 3) as u8]),
                    sport: 40000,
                    dst: "192.0.2.1".parse().unwrap(),
                    dport: i,
                },
                first: 5,
                settled: 6,
                verdict: Verdict::Rejected,
                stealth: false,
                tool: crate::event::Tool::Unknown,
            };
            q.push(&mut bins, -1, &o);
        }
        q.flush(&mut bins, -1);
        let out = counted(&mut bins);
        let totals: Vec<u64> = out.iter().map(|s| u64::from(s.total)).collect();
        assert_eq!(totals, vec![7, 7, 6]);
        assert_eq!(out[0].rejected, 7);
        assert_eq!(out[0].ports.smallest(3), vec![0, 3, 6]);
    }
}
