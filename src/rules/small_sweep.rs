//! Small sweep (`small-sweep`; detection contract 6.5): failed attempts
//! from one source to >= 10 distinct hosts in one bin, whatever the number
//! of attempts. The seed rule also wants 30 attempts for a sweep, so a
//! scanner that probes each host once on one port (masscan, zmap, nmap
//! with one port) stays under it.
//!
//! A policy over what the seed and internal rules count (failed attempts
//! per source and bin), in the way Zeek's scan policies sit on one SumStats
//! counter: it keeps no state of its own, and judges each summary that the
//! rule counting it does not report. With this rule on and the seed or
//! internal rule off, that rule still counts (silently) for it.

use super::seed::SourceSummary;

#[derive(Clone, Debug)]
pub struct SmallSweep {
    /// Distinct hosts with failed attempts, at least.
    pub min_hosts: u32,
}

impl SmallSweep {
    pub const NAME: &'static str = "small-sweep";
    pub const SCAN_TYPE: &'static str = "Small IP Sweep";

    pub fn holds(&self, s: &SourceSummary) -> bool {
        s.unique_ips >= self.min_hosts
    }
}

impl SmallSweep {
    pub fn new(det: &crate::config::Detection) -> Self {
        SmallSweep {
            min_hosts: det.small_sweep_hosts,
        }
    }
}
