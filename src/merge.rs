//! Merge stage: adds up the partials of each closed (window, source) that
//! the aggregators hand over, lets each rule judge them, and releases each
//! window's findings, sorted, once every aggregator is past it; rules that
//! alert while windows are open are judged in capture time order up to
//! the time every aggregator has reported through. Either way the output
//! never depends on thread timing.

use crate::finding::Finding;
use crate::rules::{MergeStats, Notices, Partials, Pools, RuleSet, Updates};
use crate::time::Nanos;

/// What an aggregator hands the merger.
pub struct ShardReport {
    pub shard: usize,
    /// Partials of windows it closed since its last report.
    pub partials: Partials,
    /// The window through which it is final.
    pub through: i64,
    pub updates: Updates,
    /// The capture time through which its updates are complete.
    pub watermark: Nanos,
    /// The number of the last notice message it applied.
    pub acked: u64,
}

pub struct Merger {
    pools: Pools,
    bin: Nanos,
    answer_timeout: Nanos,
    /// Per aggregator: the window through which it is final.
    final_through: Vec<i64>,
    /// Per aggregator: its watermark and the last notice it applied.
    watermark: Vec<Nanos>,
    acked: Vec<u64>,
    /// Notice messages sent so far.
    sent: u64,
    /// Rules that alert early are judged through this capture time.
    live_through: Nanos,
    pub stats: MergeStats,
}

impl Merger {
    pub fn new(rules: &RuleSet, shards: usize, bin: Nanos, answer_timeout: Nanos) -> Self {
        Merger {
            pools: rules.pools(),
            bin,
            answer_timeout,
            final_through: vec![i64::MIN; shards],
            watermark: vec![Nanos::MIN; shards],
            acked: vec![0; shards],
            sent: 0,
            live_through: Nanos::MIN,
            stats: MergeStats::default(),
        }
    }

    /// Take one aggregator's report; return the findings that are now
    /// complete, in output order, and the notices (numbered) to send to
    /// every aggregator, if any.
    pub fn accept(&mut self, r: ShardReport) -> (Vec<Finding>, Option<(u64, Notices)>) {
        self.pools.accept(r.partials);
        let s = r.shard;
        self.final_through[s] = self.final_through[s].max(r.through);
        self.watermark[s] = self.watermark[s].max(r.watermark);
        self.acked[s] = self.acked[s].max(r.acked);
        let mut notices = Notices::default();
        self.pools
            .absorb_updates(r.updates, &mut notices, &mut self.stats);
        // Numbered before judging: what they ask for must be in first.
        let asked = !notices.is_empty();
        self.sent += asked as u64;
        let out = self.release(&mut notices);
        if notices.is_empty() {
            return (out, None);
        }
        self.sent += !asked as u64;
        (out, Some((self.sent, notices)))
    }

    /// Every aggregator has applied every notice sent.
    pub fn settled(&self) -> bool {
        self.acked.iter().all(|&a| a >= self.sent)
    }

    /// The moment window `w` closes: its end plus the answer timeout.
    fn close_time(&self, w: i64) -> Nanos {
        w.saturating_add(1)
            .saturating_mul(self.bin)
            .saturating_add(self.answer_timeout)
    }

    /// Judge early alerts and windows, interleaved in capture time: the
    /// alerts detected before a window closes come before its findings.
    fn release(&mut self, notices: &mut Notices) -> Vec<Finding> {
        let ready = *self.final_through.iter().min().unwrap_or(&i64::MAX);
        // While a notice is not applied everywhere, a shard may still owe
        // reports from before its watermark: hold.
        let time = if self.settled() {
            *self.watermark.iter().min().unwrap_or(&Nanos::MAX)
        } else {
            self.live_through
        };
        let mut out = Vec::new();
        loop {
            let next = self.pools.first_window().filter(|&w| w <= ready);
            let until = next.map_or(time, |w| time.min(self.close_time(w)));
            if until > self.live_through {
                self.live_through = until;
                out.extend(self.pools.advance_live(until, notices, &mut self.stats));
            }
            match next {
                Some(w) if time >= self.close_time(w) => {
                    out.extend(self.pools.release_through(w, &mut self.stats));
                }
                _ => break,
            }
        }
        out
    }

    /// Everything left (every aggregator has finished and applied every
    /// notice).
    pub fn finish(&mut self) -> Vec<Finding> {
        self.final_through.fill(i64::MAX);
        self.watermark.fill(Nanos::MAX);
        self.acked.fill(self.sent);
        let mut notices = Notices::default();
        self.release(&mut notices)
    }
}
