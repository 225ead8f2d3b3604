//! Merge stage: adds up the partials of each closed (window, source) that
//! the aggregators hand over, lets each rule judge them, and releases each
//! window's findings, sorted, once every aggregator is past it, so the
//! output never depends on thread timing.

use crate::finding::Finding;
use crate::rules::{MergeStats, Partials, Pools, RuleSet};

pub struct Merger {
    pools: Pools,
    /// Per aggregator: the window through which it is final.
    final_through: Vec<i64>,
    pub stats: MergeStats,
}

impl Merger {
    pub fn new(rules: &RuleSet, shards: usize) -> Self {
        Merger {
            pools: rules.pools(),
            final_through: vec![i64::MIN; shards],
            stats: MergeStats::default(),
        }
    }

    /// Take `partials` from aggregator `shard`, final through window
    /// `through`; return the findings of the windows that are now
    /// complete, in output order.
    pub fn accept(&mut self, shard: usize, partials: Partials, through: i64) -> Vec<Finding> {
        self.pools.accept(partials);
        let f = &mut self.final_through[shard];
        *f = (*f).max(through);
        let ready = *self.final_through.iter().min().unwrap_or(&i64::MAX);
        self.pools.release_through(ready, &mut self.stats)
    }

    /// Everything left (all aggregators finished).
    pub fn finish(&mut self) -> Vec<Finding> {
        self.pools.release_through(i64::MAX, &mut self.stats)
    }
}
