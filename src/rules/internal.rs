//! Internal scan (`internal`, MITRE T1046; detection contract 6.2): the
//! seed rule's thresholds, ScanType and columns over the sources *inside*
//! the home networks, which the seed rule leaves out by design. A sensor
//! on a span port sees internal hosts scanning each other: lateral
//! movement. Same computation as the seed rule, other population, so it
//! shares the seed rule's tables' code and keeps tables of its own.

use std::net::IpAddr;

use super::seed::{Population, Seed, SeedShard, SourceSummary};
use super::{Judgement, Rule};
use crate::config::{Detection, Limits};

#[derive(Clone, Debug)]
pub struct Internal(pub Seed);

impl Rule for Internal {
    const NAME: &'static str = "internal";
    type Shard = SeedShard;
    type Partial = SourceSummary;
    type Update = ();
    type Notice = ();
    type Live = ();

    fn configure(det: &Detection, limits: &Limits) -> Self {
        Internal(Seed {
            name: Self::NAME,
            technique: "T1046",
            population: Population::Inside,
            ..Seed::new(det, limits)
        })
    }

    fn shard(&self, shards: usize) -> SeedShard {
        self.0.shard(shards)
    }

    fn key(p: &SourceSummary) -> (i64, IpAddr) {
        Seed::key(p)
    }

    fn merge(into: &mut SourceSummary, p: SourceSummary) {
        Seed::merge(into, p)
    }

    fn evaluate(&self, p: &SourceSummary) -> Judgement {
        self.0.evaluate(p)
    }
}
