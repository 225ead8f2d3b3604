//! The seed rule (detection contract, sections 3-5): per source outside
//! the home networks and 5-minute bin, failed attempts to
//! `UniqueDestPorts >= 10 or (UniqueDestIPs >= 5 and TotalAttempts >= 30)`,
//! written with the Sentinel KQL rule's columns.
//!
//! Its tables are its own: failed attempts pass through a short prefetching
//! queue (`failures`) into a per-(source, bin) table (`bins`) of compact
//! port and host sets.

mod bins;
mod failures;

use std::net::IpAddr;

use super::slow_scan::{Horizon, SlowScan};
use super::small_sweep::SmallSweep;
use super::{record, Judgement, MergeStats, Rule, RuleCounters, RuleShard};
use crate::config::{self, Detection, Limits, NetSet};
use crate::event::Outcome;
use crate::finding::{Finding, Value};
use crate::time::{floor_minutes, floor_secs};
use bins::BinTable;
pub use bins::SourceSummary;
use failures::FailureQueue;

pub const DEVICE_VENDOR: &str = "picket";
pub const DEVICE_PRODUCT: &str = "picket T1595 sensor";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanType {
    AggressivePortScan,
    PortScan,
    IpBlockSweep,
    LimitedIpSweep,
    SuspiciousProbe,
}

impl ScanType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanType::AggressivePortScan => "Aggressive Port Scan",
            ScanType::PortScan => "Port Scan",
            ScanType::IpBlockSweep => "IP Block Sweep",
            ScanType::LimitedIpSweep => "Limited IP Sweep",
            ScanType::SuspiciousProbe => "Suspicious Probe",
        }
    }
}

/// Which sources a seed-style rule counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Population {
    /// Sources outside the home networks (the seed rule).
    Outside,
    /// Sources inside them (the internal rule).
    Inside,
}

/// The seed rule's options. The internal rule is the same computation over
/// the other population, and the small-sweep policy judges what either
/// counted (see `internal.rs`, `small_sweep.rs`).
#[derive(Clone, Debug)]
pub struct Seed {
    pub det: Detection,
    pub limits: Limits,
    /// The `Rule` field of its rows.
    pub name: &'static str,
    /// The `Technique` field of its rows.
    pub technique: &'static str,
    pub population: Population,
    /// Write its own rows (off when it only counts for the small-sweep
    /// policy).
    pub report: bool,
    /// Judge the summaries that stay below the thresholds as small sweeps.
    pub small_sweep: Option<SmallSweep>,
    /// Count the summaries that no 5-minute rule reports over hours.
    pub slow_scan: Option<SlowScan>,
}

impl Seed {
    pub fn new(det: &Detection, limits: &Limits) -> Self {
        Seed {
            det: det.clone(),
            limits: limits.clone(),
            name: "seed",
            technique: "T1595",
            population: Population::Outside,
            report: true,
            small_sweep: None,
            slow_scan: None,
        }
    }

    /// The ScanType of a summary over the thresholds, `None` below them.
    pub fn scan_type(&self, ports: u32, ips: u32, total: u64) -> Option<ScanType> {
        let d = &self.det;
        if !(ports >= d.min_ports || (ips >= d.min_ips && total >= d.min_attempts)) {
            return None;
        }
        Some(if ports >= d.aggressive_ports {
            ScanType::AggressivePortScan
        } else if ports >= d.min_ports {
            ScanType::PortScan
        } else if ips >= d.sweep_ips {
            ScanType::IpBlockSweep
        } else if ips >= d.limited_sweep_ips {
            ScanType::LimitedIpSweep
        } else {
            ScanType::SuspiciousProbe
        })
    }

    /// The row's columns (contract, section 5, and picket's additions).
    pub fn fields(&self, s: &SourceSummary, scan_type: &'static str) -> Vec<(&'static str, Value)> {
        let ports = s.ports.len();
        let total = u64::from(s.total);
        // Kusto datetime_diff counts boundaries crossed, not elapsed time.
        let minutes = (floor_minutes(s.last) - floor_minutes(s.first)).max(1) as u64;
        vec![
            ("TimeGenerated", Value::WindowTime(s.bin * self.det.bin)),
            ("SourceIP", Value::Ip(s.src)),
            ("ScanType", Value::Text(scan_type)),
            ("UniqueDestPorts", Value::Count(ports.into())),
            ("UniqueDestIPs", Value::Count(s.unique_ips.into())),
            ("TotalAttempts", Value::Count(total)),
            ("AttemptsPerMinute", Value::Count(total / minutes)),
            (
                "PortsTargeted",
                Value::Ports(s.ports.smallest(self.det.ports_listed)),
            ),
            (
                "ScanDurationSeconds",
                Value::Signed(floor_secs(s.last) - floor_secs(s.first)),
            ),
            ("FirstSeen", Value::Time(s.first)),
            ("LastSeen", Value::Time(s.last)),
            ("DeviceVendor", Value::Text(DEVICE_VENDOR)),
            ("DeviceProduct", Value::Text(DEVICE_PRODUCT)),
            ("Technique", Value::Text(self.technique)),
            ("RejectedAttempts", Value::Count(s.rejected.into())),
            (
                "UnansweredAttempts",
                Value::Count(total - u64::from(s.rejected)),
            ),
            ("UdpAttempts", Value::Count(s.udp.into())),
            ("StealthProbes", Value::Count(s.stealth.into())),
            ("UniqueDestIPsIsLowerBound", Value::Flag(s.ips_saturated)),
        ]
    }
}

impl Rule for Seed {
    const NAME: &'static str = "seed";
    type Shard = SeedShard;
    type Partial = SourceSummary;
    type Update = ();
    type Notice = ();
    type Live = Horizon;

    fn configure(det: &Detection, limits: &Limits) -> Self {
        Seed::new(det, limits)
    }

    fn shard(&self, shards: usize) -> SeedShard {
        let l = self.limits.per_shard(shards);
        let mut bins = BinTable::new(l.max_sources, l.max_dests_per_source, l.max_set_bytes);
        if self.slow_scan.is_some() {
            bins.sample_hosts = SlowScan::hosts_per_bin(&self.det);
        }
        SeedShard {
            home: NetSet::new(&self.det.home),
            inside: self.population == Population::Inside,
            closed_through: i64::MIN,
            bins,
            failed: FailureQueue::new(self.det.bin),
            home_probes: 0,
            port_zero: 0,
        }
    }

    fn key(p: &SourceSummary) -> (i64, IpAddr) {
        (p.bin, p.src)
    }

    fn merge(into: &mut SourceSummary, p: SourceSummary) {
        into.absorb(p);
    }

    fn judge_window(
        &self,
        horizon: &mut Horizon,
        window: i64,
        partials: impl Iterator<Item = SourceSummary>,
        out: &mut Vec<Finding>,
        stats: &mut MergeStats,
    ) {
        let Some(slow) = &self.slow_scan else {
            partials.for_each(|p| record(self.evaluate(&p), out, stats));
            return;
        };
        for p in partials {
            let quiet = self
                .scan_type(p.ports.len(), p.unique_ips, p.total.into())
                .is_none();
            slow.count(horizon, &p, quiet);
            record(self.evaluate(&p), out, stats);
        }
        slow.close_window(horizon, window, self.technique, out, stats);
    }

    fn evaluate(&self, s: &SourceSummary) -> Judgement {
        let (rule, scan_type) = match self.scan_type(s.ports.len(), s.unique_ips, s.total.into()) {
            Some(t) if self.report => (self.name, t.as_str()),
            _ => match &self.small_sweep {
                Some(sweep) if sweep.holds(s) => (SmallSweep::NAME, SmallSweep::SCAN_TYPE),
                _ => return Judgement::Below,
            },
        };
        if config::contains(&self.det.allow, &s.src) {
            return Judgement::Allowed;
        }
        Judgement::Report(Finding {
            rule,
            window_start: s.bin * self.det.bin,
            source: s.src,
            weight: s.total.into(),
            detected_at: None,
            fields: self.fields(s, scan_type),
        })
    }
}

/// The seed rule on one shard.
pub struct SeedShard {
    home: NetSet,
    /// Count sources inside the home networks instead of outside.
    inside: bool,
    /// Bins up to this one are closed.
    closed_through: i64,
    bins: BinTable,
    /// Failures on their way into `bins`.
    failed: FailureQueue,
    home_probes: u64,
    port_zero: u64,
}

impl SeedShard {
    #[inline(never)]
    fn count_failure(&mut self, o: &Outcome) {
        self.failed.push(&mut self.bins, self.closed_through, o);
    }
}

impl RuleShard for SeedShard {
    type Partial = SourceSummary;
    type Update = ();
    type Notice = ();

    /// The quick refusals inline (the internal rule refuses most outcomes
    /// the seed rule takes, and the other way round), the counting of a
    /// failure a call of its own.
    #[inline(always)]
    fn observe(&mut self, o: &Outcome) {
        if o.key.dport == 0 {
            self.port_zero += 1;
            return;
        }
        if self.home.contains(&o.key.src) != self.inside {
            // Counted once, by the rule that leaves home sources out.
            self.home_probes += !self.inside as u64;
            return;
        }
        if o.failed() {
            self.count_failure(o);
        }
    }

    fn close_through(&mut self, through: i64, out: &mut Vec<SourceSummary>) {
        self.failed.flush(&mut self.bins, self.closed_through);
        if through > self.closed_through {
            self.bins.close_through(through, out);
            self.closed_through = through;
        }
    }

    fn flush(&mut self) {
        self.failed.flush(&mut self.bins, self.closed_through);
    }

    fn count(&self, c: &mut RuleCounters) {
        c.home_probes += self.home_probes;
        c.port_zero += self.port_zero;
        c.sources_evicted += self.bins.evicted;
        c.dest_sets_saturated += self.bins.saturated;
        c.sources_now += self.bins.len() as u64;
        c.peak_sources += self.bins.peak as u64;
        c.peak_set_bytes += self.bins.peak_set_bytes as u64;
    }
}
