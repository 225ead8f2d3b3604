//! How widely one source spread one kind of probe in one bin: the hosts
//! (a capped set) and ports it reached, how many probes, when, and how
//! many of each type. The table rules like `ack-scan` and `stealth-scan`
//! keep per shard, bounded under spoofed sources.

use std::collections::hash_map::Entry;
use std::net::IpAddr;

use ahash::{AHashMap, AHashSet};

use super::seed::{DEVICE_PRODUCT, DEVICE_VENDOR};
use super::RuleCounters;
use crate::finding::{Finding, Value};
use crate::sketch::portset::PortSet;
use crate::time::Nanos;

/// Probe types a rule may tell apart (`kinds` counts each; a rule with
/// one type uses the first).
pub const KINDS: usize = 4;

/// One shard's piece of a (source, bin). Its hosts are its own (sharding
/// is by address pair, so two shards never see one host of one source);
/// its ports may overlap other pieces'.
#[derive(Clone, Debug)]
pub struct SpreadPartial {
    pub bin: i64,
    pub src: IpAddr,
    pub hosts: u32,
    pub ports: PortSet,
    pub probes: u64,
    pub kinds: [u64; KINDS],
    pub first: Nanos,
    pub last: Nanos,
    pub hosts_saturated: bool,
}

impl SpreadPartial {
    /// The (window, source) it belongs to.
    pub fn key(&self) -> (i64, IpAddr) {
        (self.bin, self.src)
    }

    /// Add another shard's piece of the same (source, bin).
    /// The finding a spread rule writes about this (source, bin): the
    /// seed rule's kind of columns (counted over the rule's own probes),
    /// with the rule's own after ScanType (`typed`) and after
    /// TotalAttempts (`counts`). `inside`: the source is in the home
    /// networks (T1046).
    #[allow(clippy::too_many_arguments)]
    pub fn finding(
        &self,
        rule: &'static str,
        bin_len: Nanos,
        scan_type: &'static str,
        typed: Vec<(&'static str, Value)>,
        counts: Vec<(&'static str, Value)>,
        ports_listed: usize,
        inside: bool,
    ) -> Finding {
        let mut fields = vec![
            ("TimeGenerated", Value::WindowTime(self.bin * bin_len)),
            ("SourceIP", Value::Ip(self.src)),
            ("ScanType", Value::Text(scan_type)),
        ];
        fields.extend(typed);
        fields.extend([
            ("UniqueDestPorts", Value::Count(self.ports.len().into())),
            ("UniqueDestIPs", Value::Count(self.hosts.into())),
            ("TotalAttempts", Value::Count(self.probes)),
        ]);
        fields.extend(counts);
        fields.extend([
            (
                "PortsTargeted",
                Value::Ports(self.ports.smallest(ports_listed)),
            ),
            ("FirstSeen", Value::Time(self.first)),
            ("LastSeen", Value::Time(self.last)),
            ("DeviceVendor", Value::Text(DEVICE_VENDOR)),
            ("DeviceProduct", Value::Text(DEVICE_PRODUCT)),
            (
                "Technique",
                Value::Text(if inside { "T1046" } else { "T1595" }),
            ),
            (
                "UniqueDestIPsIsLowerBound",
                Value::Flag(self.hosts_saturated),
            ),
        ]);
        Finding {
            rule,
            window_start: self.bin * bin_len,
            source: self.src,
            weight: self.probes,
            detected_at: None,
            fields,
        }
    }

    pub fn merge(&mut self, p: SpreadPartial) {
        self.hosts += p.hosts;
        self.ports.union_with(&p.ports);
        self.probes += p.probes;
        for (a, b) in self.kinds.iter_mut().zip(p.kinds) {
            *a += b;
        }
        self.first = self.first.min(p.first);
        self.last = self.last.max(p.last);
        self.hosts_saturated |= p.hosts_saturated;
    }
}

struct Spread {
    hosts: AHashSet<IpAddr>,
    ports: PortSet,
    probes: u64,
    kinds: [u64; KINDS],
    first: Nanos,
    last: Nanos,
    saturated: bool,
}

pub struct SpreadTable {
    bin: Nanos,
    /// (source, bin) entries kept, at most.
    cap: usize,
    /// Hosts remembered per entry, at most (beyond: counted as saturated).
    max_hosts: usize,
    /// Keyed by what a spoofer chooses: per-process random hash keys.
    map: AHashMap<(IpAddr, i64), Spread>,
    evicted: u64,
    saturated: u64,
    peak: usize,
}

impl SpreadTable {
    /// One of `shards` shards' table: its share of the (source, bin) cap,
    /// the per-source host cap.
    pub fn for_shard(bin: Nanos, limits: &crate::config::Limits, shards: usize) -> Self {
        Self::new(
            bin,
            limits.per_shard(shards).max_sources,
            limits.max_dests_per_source,
        )
    }

    pub fn new(bin: Nanos, cap: usize, max_hosts: usize) -> Self {
        SpreadTable {
            bin,
            cap: cap.max(1),
            max_hosts: max_hosts.max(1),
            map: AHashMap::default(),
            evicted: 0,
            saturated: 0,
            peak: 0,
        }
    }

    /// A probe of type `kind` from `src` to `dst`:`port` at `ts`.
    pub fn record(&mut self, src: IpAddr, dst: IpAddr, port: u16, ts: Nanos, kind: usize) {
        let key = (src, ts.div_euclid(self.bin));
        if self.map.len() >= self.cap && !self.map.contains_key(&key) {
            // Full: keep the busiest sources (a spoofed flood's sources
            // send one probe each), drop the rest, and count them.
            self.evicted += super::evict_lightest(&mut self.map, self.cap * 3 / 8, |s| s.probes);
        }
        let s = match self.map.entry(key) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(Spread {
                hosts: AHashSet::default(),
                ports: PortSet::default(),
                probes: 0,
                kinds: [0; KINDS],
                first: ts,
                last: ts,
                saturated: false,
            }),
        };
        s.probes += 1;
        s.kinds[kind.min(KINDS - 1)] += 1;
        s.first = s.first.min(ts);
        s.last = s.last.max(ts);
        s.ports.insert(port);
        if s.hosts.len() < self.max_hosts {
            s.hosts.insert(dst);
        } else if !s.saturated && !s.hosts.contains(&dst) {
            s.saturated = true;
            self.saturated += 1;
        }
        self.peak = self.peak.max(self.map.len());
    }

    /// Hand over the pieces of every bin up to `through`.
    pub fn close_through(&mut self, through: i64, out: &mut Vec<SpreadPartial>) {
        self.map.retain(|&(src, bin), s| {
            if bin > through {
                return true;
            }
            out.push(SpreadPartial {
                bin,
                src,
                hosts: s.hosts.len() as u32,
                ports: std::mem::take(&mut s.ports),
                probes: s.probes,
                kinds: s.kinds,
                first: s.first,
                last: s.last,
                hosts_saturated: s.saturated,
            });
            false
        });
    }

    pub fn count(&self, c: &mut RuleCounters) {
        c.sources_evicted += self.evicted;
        c.dest_sets_saturated += self.saturated;
        c.sources_now += self.map.len() as u64;
        c.peak_sources += self.peak as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_table_keeps_its_busiest_sources_and_counts_the_rest() {
        let mut t = SpreadTable::new(100, 8, 2);
        let dst = |i: u8| IpAddr::from([192, 0, 2, i]);
        // One busy source, then a spoofed flood of one probe each.
        for i in 0..5 {
            t.record(IpAddr::from([203, 0, 113, 1]), dst(i), 80, 1, 0);
        }
        for i in 0..50u8 {
            t.record(IpAddr::from([198, 51, 100, i]), dst(1), 80, 2, 1);
        }
        let mut c = RuleCounters::default();
        t.count(&mut c);
        assert!(c.sources_evicted > 0);
        assert!(c.sources_now <= 8);
        assert_eq!(c.dest_sets_saturated, 1, "the busy source's third host");
        let mut out = Vec::new();
        t.close_through(0, &mut out);
        let busy = out
            .iter()
            .find(|p| p.src == IpAddr::from([203, 0, 113, 1]))
            .expect("the busy source is kept");
        assert_eq!((busy.probes, busy.hosts, busy.kinds[0]), (5, 2, 5));
        assert!(busy.hosts_saturated);
    }
}
