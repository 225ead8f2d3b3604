//! Merge stage: adds up the pieces of each closed (source, bin) that the
//! aggregators hand over, applies the seed rule's thresholds and releases
//! each bin's rows, sorted, once every aggregator is past it, so the output
//! never depends on thread timing.

use std::collections::hash_map::Entry;
use std::collections::BTreeMap;
use std::net::IpAddr;

use ahash::AHashMap;

use crate::aggregate::SourceSummary;
use crate::config::{self, Detection};
use crate::time::{floor_minutes, floor_secs, Nanos};

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

/// One seed-rule result: a source that scanned within one bin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Start of the bin.
    pub time_generated: Nanos,
    pub source_ip: IpAddr,
    pub scan_type: ScanType,
    pub unique_dest_ports: u32,
    pub unique_dest_ips: u32,
    pub unique_dest_ips_is_lower_bound: bool,
    pub total_attempts: u64,
    pub attempts_per_minute: u64,
    pub ports_targeted: Vec<u16>,
    pub scan_duration_seconds: i64,
    pub first_seen: Nanos,
    pub last_seen: Nanos,
    pub rejected_attempts: u64,
    pub unanswered_attempts: u64,
    pub udp_attempts: u64,
    pub stealth_probes: u64,
}

/// The seed rule: `UniqueDestPorts >= 10 or (UniqueDestIPs >= 5 and
/// TotalAttempts >= 30)`, then the first matching ScanType.
pub fn evaluate(s: &SourceSummary, det: &Detection) -> Option<Row> {
    let ports = s.ports.len();
    let ips = s.unique_ips;
    if !(ports >= det.min_ports || (ips >= det.min_ips && s.total >= det.min_attempts)) {
        return None;
    }
    let scan_type = if ports >= det.aggressive_ports {
        ScanType::AggressivePortScan
    } else if ports >= det.min_ports {
        ScanType::PortScan
    } else if ips >= det.sweep_ips {
        ScanType::IpBlockSweep
    } else if ips >= det.limited_sweep_ips {
        ScanType::LimitedIpSweep
    } else {
        ScanType::SuspiciousProbe
    };
    // Kusto datetime_diff counts boundaries crossed, not elapsed time.
    let minutes = (floor_minutes(s.last) - floor_minutes(s.first)).max(1) as u64;
    Some(Row {
        time_generated: s.bin * det.bin,
        source_ip: s.src,
        scan_type,
        unique_dest_ports: ports,
        unique_dest_ips: ips,
        unique_dest_ips_is_lower_bound: s.ips_saturated,
        total_attempts: s.total,
        attempts_per_minute: s.total / minutes,
        ports_targeted: s.ports.smallest(det.ports_listed),
        scan_duration_seconds: floor_secs(s.last) - floor_secs(s.first),
        first_seen: s.first,
        last_seen: s.last,
        rejected_attempts: s.rejected,
        unanswered_attempts: s.total - s.rejected,
        udp_attempts: s.udp,
        stealth_probes: s.stealth,
    })
}

/// Rows within a bin: most attempts first, then by address (IPv4 first).
pub fn sort_rows(rows: &mut [Row]) {
    rows.sort_by(|a, b| {
        b.total_attempts
            .cmp(&a.total_attempts)
            .then(a.source_ip.cmp(&b.source_ip))
    });
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeStats {
    pub rows: u64,
    /// Rows from allow-listed sources, not written.
    pub allow_suppressed: u64,
    /// (source, bin) summaries that met no threshold.
    pub below_threshold: u64,
}

pub struct Merger {
    det: Detection,
    /// Per aggregator: the bin through which it is final.
    final_through: Vec<i64>,
    /// Per bin, per source: the pieces received so far, added together.
    waiting: BTreeMap<i64, AHashMap<IpAddr, SourceSummary>>,
    pub stats: MergeStats,
}

impl Merger {
    pub fn new(det: Detection, shards: usize) -> Self {
        Merger {
            det,
            final_through: vec![i64::MIN; shards],
            waiting: BTreeMap::new(),
            stats: MergeStats::default(),
        }
    }

    /// Take `summaries` from aggregator `shard`, final through bin
    /// `through`; return the bins that are now complete, in order, each
    /// sorted.
    pub fn accept(
        &mut self,
        shard: usize,
        summaries: Vec<SourceSummary>,
        through: i64,
    ) -> Vec<Row> {
        for s in summaries {
            match self.waiting.entry(s.bin).or_default().entry(s.src) {
                Entry::Occupied(mut e) => e.get_mut().absorb(s),
                Entry::Vacant(e) => {
                    e.insert(s);
                }
            }
        }
        let f = &mut self.final_through[shard];
        *f = (*f).max(through);
        let ready = *self.final_through.iter().min().unwrap_or(&i64::MAX);
        self.release_through(ready)
    }

    fn release_through(&mut self, ready: i64) -> Vec<Row> {
        let mut out = Vec::new();
        while let Some(entry) = self.waiting.first_entry() {
            if *entry.key() > ready {
                break;
            }
            let mut rows = Vec::new();
            for s in entry.remove().into_values() {
                match evaluate(&s, &self.det) {
                    None => self.stats.below_threshold += 1,
                    Some(_) if config::contains(&self.det.allow, &s.src) => {
                        self.stats.allow_suppressed += 1
                    }
                    Some(row) => rows.push(row),
                }
            }
            sort_rows(&mut rows);
            self.stats.rows += rows.len() as u64;
            out.extend(rows);
        }
        out
    }

    /// Everything left (all aggregators finished).
    pub fn finish(&mut self) -> Vec<Row> {
        self.release_through(i64::MAX)
    }
}
