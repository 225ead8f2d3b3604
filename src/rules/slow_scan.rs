//! Slow scan (`slow-scan`): a source outside the home networks whose
//! failed attempts stay under every 5-minute threshold, bin after bin, but
//! reach >= 8 distinct hosts or >= 15 distinct ports within a horizon of
//! hours (6 by default, at most 24). Zeek catches such scans with a long
//! idle expiry, Snort3's "high" profile with a 600 s window; bins of five
//! minutes alone never see them.
//!
//! A policy over what the seed rule counts, like `small-sweep`: it costs
//! nothing per packet. When a (source, bin) summary reaches the merger and
//! no 5-minute rule would report it (under the seed thresholds and under
//! the small-sweep host count), its hosts (as keys) and ports join the
//! source's track here; a bin that a faster rule reports does not count,
//! so the same hosts are not reported twice. A track holds only what is
//! still inside the horizon, and once reported a source stays quiet for
//! one horizon. Judged in the merger, window by window in order, on
//! summaries merged from every shard: the rows do not depend on the
//! thread count. A source must have counted in at least two bins: within
//! one, it is a scan the 5-minute rules' (optional) thresholds let pass.
//!
//! Bounded: a track holds fewer hosts and ports than the thresholds (plus
//! one bin's worth) and at most `MAX_SPANS` bin totals; the merger keeps
//! at most `Limits::max_slow_sources` tracks at any moment and, past that,
//! keeps the widest (a flood of spoofed sources, one probe each, is evicted first)
//! and counts the rest in `MergeStats::horizon_evicted`. Once it has given
//! tracks up, until the window is judged it takes a new track only if it
//! ranks before the first one given up (an admission bar: under pressure
//! the table keeps its best without re-ranking it every few thousand
//! sources); one turned away is counted the same and remembered as below,
//! which loses nothing of a one-probe track. One probe of each
//! track given up stays in a direct-mapped table of four slots per track
//! (24 bytes each) until another source takes the slot, so a slow scanner
//! whose first probe drowned in a flood of one-probe sources picks it up
//! again with its second.

use std::collections::hash_map::Entry;
use std::net::IpAddr;

use ahash::AHashMap;
use smallvec::SmallVec;

use super::seed::{SourceSummary, DEVICE_PRODUCT, DEVICE_VENDOR};
use super::MergeStats;
use crate::config::{self, Detection, Limits};
use crate::finding::{Finding, Value};
use crate::sketch;
use crate::time::Nanos;

/// A host as a 32-bit key: an IPv4 address itself, an IPv6 address folded
/// by a fixed hash (the key only tells hosts of one source apart; two
/// colliding would count one host fewer).
#[inline]
pub fn host_key(a: IpAddr) -> u32 {
    match a {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(_) => (sketch::fold_ip(&a).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as u32,
    }
}

/// Bin totals a track keeps; past it the two oldest are joined (their
/// attempts then expire with the later bin).
const MAX_SPANS: usize = 12;

#[derive(Clone, Debug)]
pub struct SlowScan {
    /// Distinct hosts with failed attempts within the horizon, at least...
    pub min_hosts: u32,
    /// ...or distinct ports.
    pub min_ports: u32,
    /// The horizon, in bins.
    pub horizon_bins: i64,
    /// Tracks the merger keeps.
    pub max_sources: usize,
    pub bin: Nanos,
    pub ports_listed: usize,
    pub allow: Vec<ipnet::IpNet>,
}

impl SlowScan {
    pub const NAME: &'static str = "slow-scan";

    pub fn new(det: &Detection, limits: &Limits) -> Self {
        SlowScan {
            min_hosts: det.slow_scan_hosts,
            min_ports: det.slow_scan_ports,
            horizon_bins: (det.slow_scan_horizon / det.bin.max(1)).max(1),
            max_sources: limits.max_slow_sources.max(8),
            bin: det.bin,
            ports_listed: det.ports_listed,
            allow: det.allow.clone(),
        }
    }

    /// Hosts a summary may have and still count (one fewer than the
    /// small-sweep rule reports in a bin): also how many hosts' keys the
    /// seed rule's summaries carry.
    pub fn hosts_per_bin(det: &Detection) -> usize {
        det.small_sweep_hosts.saturating_sub(1) as usize
    }

    /// Count a summary that no 5-minute rule reports (`quiet`: under the
    /// seed thresholds; its hosts' keys, complete, are then within
    /// `hosts_per_bin`) into its source's track.
    pub fn count(&self, h: &mut Horizon, s: &SourceSummary, quiet: bool) {
        if !quiet || !s.hosts_complete() || s.hosts.is_empty() {
            return;
        }
        let bin_len = self.bin;
        match h.tracks.entry(s.src) {
            Entry::Occupied(e) => {
                let t = e.into_mut();
                if t.quiet_through >= s.bin {
                    return;
                }
                t.add(s);
            }
            Entry::Vacant(e) => {
                let mut t = Track::default();
                if let Some(m) = h.remembered.recall(&s.src) {
                    // Given up under pressure, remembered by one probe:
                    // the track starts from it again.
                    let bin = m.first.div_euclid(bin_len);
                    if bin < s.bin {
                        t.hosts.push((m.host, bin));
                        t.ports.push((m.port, bin));
                        t.spans.push(Span {
                            bin,
                            bins: 1,
                            attempts: 1,
                            first: m.first,
                            last: m.first,
                        });
                    }
                }
                t.add(s);
                // The table has given tracks up and this one ranks no
                // better than the first of them (any further eviction
                // would drop it): remembered, not tracked. A flood's
                // one-probe sources then cost no evictions after the first.
                if h.bar.is_some_and(|bar| rank(&s.src, &t) >= bar) {
                    h.remembered.keep(&s.src, &t, self.max_sources);
                    h.stats_evicted += 1;
                    return;
                }
                e.insert(t);
            }
        }
        h.touched.push(s.src);
        if h.tracks.len() > self.max_sources {
            // Within a window too, or a flood's one-probe sources would
            // all be tracks until the window is judged.
            h.stats_evicted += h.evict(self.max_sources * 3 / 4, self.max_sources);
        }
    }

    /// Window `window` is counted: judge the tracks it touched, forget
    /// what left the horizon, and stay within the cap.
    pub fn close_window(
        &self,
        h: &mut Horizon,
        window: i64,
        technique: &'static str,
        out: &mut Vec<Finding>,
        stats: &mut MergeStats,
    ) {
        let start = window - self.horizon_bins + 1;
        let mut touched = std::mem::take(&mut h.touched);
        for src in touched.drain(..) {
            let Some(t) = h.tracks.get_mut(&src) else {
                continue;
            };
            t.expire(start);
            // Spread over one bin only, it is a scan that the 5-minute
            // rules were told to let pass (their thresholds are options).
            let spread = t.spans.len() > 1 || t.spans.first().is_some_and(|s| s.bins > 1);
            if !spread
                || (t.hosts.len() as u32) < self.min_hosts
                    && (t.ports.len() as u32) < self.min_ports
            {
                continue;
            }
            if config::contains(&self.allow, &src) {
                stats.allow_suppressed += 1;
            } else {
                out.push(self.finding(src, window, t, technique));
            }
            *t = Track {
                quiet_through: window + self.horizon_bins - 1,
                ..Track::default()
            };
        }
        h.touched = touched;
        if h.last_sweep != window {
            h.last_sweep = window;
            h.tracks.retain(|_, t| {
                t.expire(start);
                !t.spans.is_empty() || t.quiet_through >= window
            });
        }
        // Reported tracks started over and others expired: ranks fell.
        h.bar = None;
        if h.tracks.len() > self.max_sources {
            h.stats_evicted += h.evict(self.max_sources * 3 / 4, self.max_sources);
        }
        stats.horizon_evicted += std::mem::take(&mut h.stats_evicted);
    }

    fn finding(&self, src: IpAddr, window: i64, t: &Track, technique: &'static str) -> Finding {
        let attempts: u64 = t.spans.iter().map(|s| s.attempts).sum();
        let bins: u64 = t.spans.iter().map(|s| s.bins).sum();
        let first = t.spans.iter().map(|s| s.first).min().unwrap_or(0);
        let last = t.spans.iter().map(|s| s.last).max().unwrap_or(0);
        let mut ports: Vec<u16> = t.ports.iter().map(|(p, _)| *p).collect();
        ports.sort_unstable();
        ports.truncate(self.ports_listed);
        let scan_type = if t.ports.len() as u32 >= self.min_ports {
            "Slow Port Scan"
        } else {
            "Slow Sweep"
        };
        Finding {
            rule: Self::NAME,
            window_start: window * self.bin,
            source: src,
            weight: attempts,
            detected_at: None,
            fields: vec![
                ("TimeGenerated", Value::WindowTime(window * self.bin)),
                ("SourceIP", Value::Ip(src)),
                ("ScanType", Value::Text(scan_type)),
                ("UniqueDestPorts", Value::Count(t.ports.len() as u64)),
                ("UniqueDestIPs", Value::Count(t.hosts.len() as u64)),
                ("TotalAttempts", Value::Count(attempts)),
                ("ActiveBins", Value::Count(bins)),
                ("PortsTargeted", Value::Ports(ports)),
                ("FirstSeen", Value::Time(first)),
                ("LastSeen", Value::Time(last)),
                ("DetectedAt", Value::Time(last)),
                (
                    "HorizonSeconds",
                    Value::Count((self.horizon_bins * self.bin / 1_000_000_000) as u64),
                ),
                ("DeviceVendor", Value::Text(DEVICE_VENDOR)),
                ("DeviceProduct", Value::Text(DEVICE_PRODUCT)),
                ("Technique", Value::Text(technique)),
            ],
        }
    }
}

/// One source's failed attempts within the horizon, in bins no 5-minute
/// rule reported.
#[derive(Clone, Debug)]
struct Track {
    /// Distinct hosts (keys) and the last bin each was seen in.
    hosts: SmallVec<[(u32, i64); 2]>,
    /// Distinct ports and the last bin each was seen in.
    ports: SmallVec<[(u16, i64); 2]>,
    /// Per-bin totals, oldest first.
    spans: SmallVec<[Span; 1]>,
    /// Reported: nothing counts through this bin.
    quiet_through: i64,
}

impl Default for Track {
    fn default() -> Self {
        Track {
            hosts: SmallVec::new(),
            ports: SmallVec::new(),
            spans: SmallVec::new(),
            quiet_through: i64::MIN,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Span {
    /// The (latest) bin it counts.
    bin: i64,
    /// Bins joined into it.
    bins: u64,
    attempts: u64,
    first: Nanos,
    last: Nanos,
}

impl Track {
    /// Count a (source, bin) summary in.
    fn add(&mut self, s: &SourceSummary) {
        for &k in &s.hosts {
            match self.hosts.iter_mut().find(|(key, _)| *key == k) {
                Some(held) => held.1 = s.bin,
                None => self.hosts.push((k, s.bin)),
            }
        }
        s.ports.for_each(
            |p| match self.ports.iter_mut().find(|(port, _)| *port == p) {
                Some(held) => held.1 = s.bin,
                None => self.ports.push((p, s.bin)),
            },
        );
        if self.spans.len() == MAX_SPANS {
            let older = self.spans.remove(0);
            let next = &mut self.spans[0];
            next.attempts += older.attempts;
            next.bins += older.bins;
            next.first = older.first;
        }
        self.spans.push(Span {
            bin: s.bin,
            bins: 1,
            attempts: s.total.into(),
            first: s.first,
            last: s.last,
        });
    }

    /// Forget what was last seen before bin `start`.
    fn expire(&mut self, start: i64) {
        self.hosts.retain(|(_, b)| *b >= start);
        self.ports.retain(|(_, b)| *b >= start);
        self.spans.retain(|s| s.bin >= start);
    }

    /// How far it spread: what eviction keeps.
    fn width(&self) -> usize {
        self.hosts.len() + self.ports.len()
    }
}

/// How eviction orders tracks, least first, most kept: the widest, then
/// the latest, then by address (so the choice never depends on table
/// order).
type Rank = (std::cmp::Reverse<usize>, std::cmp::Reverse<i64>, IpAddr);

fn rank(src: &IpAddr, t: &Track) -> Rank {
    let latest = t.spans.last().map_or(i64::MIN, |s| s.bin);
    (
        std::cmp::Reverse(t.width()),
        std::cmp::Reverse(latest),
        *src,
    )
}

/// The slow-scan policy's tracks, in the merger.
#[derive(Debug)]
pub struct Horizon {
    tracks: AHashMap<IpAddr, Track>,
    /// One probe of each track given up, while no other source takes its
    /// slot: under a flood of one-probe sources, a slow scanner's first
    /// probe (as narrow as theirs) is evicted with them, and its second
    /// finds it here.
    remembered: Remembered,
    /// Sources counted in the window being judged.
    touched: Vec<IpAddr>,
    /// The rank of the first track the last eviction gave up, until the
    /// window is judged: every track kept ranks before it, and a track's
    /// rank only rises until its window is judged (it may gain hosts and
    /// ports, and a later bin), so any further eviction would give up a
    /// new track at or past it. Such a track is not taken.
    bar: Option<Rank>,
    last_sweep: i64,
    /// Tracks given up in the window being judged (not yet in the stats).
    stats_evicted: u64,
}

impl Default for Horizon {
    fn default() -> Self {
        Horizon {
            tracks: AHashMap::new(),
            remembered: Remembered::default(),
            touched: Vec::new(),
            bar: None,
            last_sweep: i64::MIN,
            stats_evicted: 0,
        }
    }
}

/// A direct-mapped table of one probe per evicted source: a slot by a
/// keyed hash of the source (per-process random keys: an attacker cannot
/// aim at one scanner's slot), a tag from the same hash to tell sources
/// apart.
#[derive(Debug, Default)]
struct Remembered {
    slots: Vec<Memory>,
    hasher: ahash::RandomState,
}

#[derive(Clone, Copy, Debug, Default)]
struct Memory {
    tag: u32,
    host: u32,
    port: u16,
    first: Nanos,
}

impl Remembered {
    fn place(&self, src: &IpAddr) -> Option<(usize, u32)> {
        if self.slots.is_empty() {
            return None;
        }
        let h = self.hasher.hash_one(src);
        let slot = sketch::slot(h, self.slots.len());
        // Tag 0 marks an empty slot.
        Some((slot, (h as u32) | 1))
    }

    fn keep(&mut self, src: &IpAddr, t: &Track, slots: usize) {
        if self.slots.is_empty() {
            self.slots = vec![Memory::default(); (4 * slots).next_power_of_two()];
        }
        let (Some((slot, tag)), Some(&(host, _)), Some(&(port, _)), Some(span)) = (
            self.place(src),
            t.hosts.last(),
            t.ports.last(),
            t.spans.last(),
        ) else {
            return;
        };
        self.slots[slot] = Memory {
            tag,
            host,
            port,
            first: span.last,
        };
    }

    fn recall(&mut self, src: &IpAddr) -> Option<Memory> {
        let (slot, tag) = self.place(src)?;
        let m = self.slots[slot];
        if m.tag != tag {
            return None;
        }
        self.slots[slot] = Memory::default();
        Some(m)
    }
}

impl Horizon {
    /// Keep the `keep` widest tracks (then the latest, then by address, so
    /// the choice never depends on table order) and remember one probe of
    /// each other in `slots` slots; how many went.
    fn evict(&mut self, keep: usize, slots: usize) -> u64 {
        let mut order: Vec<_> = self.tracks.iter().map(|(s, t)| rank(s, t)).collect();
        if order.len() <= keep {
            return 0;
        }
        order.select_nth_unstable(keep);
        let cutoff = order[keep];
        self.bar = Some(cutoff);
        let before = self.tracks.len();
        let remembered = &mut self.remembered;
        self.tracks.retain(|s, t| {
            let stays = rank(s, t) < cutoff;
            if !stays {
                remembered.keep(s, t, slots);
            }
            stays
        });
        (before - self.tracks.len()) as u64
    }

    /// Tracks held.
    pub fn len(&self) -> usize {
        self.tracks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(src: &str, bin: i64, hosts: &[u32], port: u16) -> SourceSummary {
        let mut ports = crate::sketch::portset::PortSet::default();
        ports.insert(port);
        SourceSummary {
            bin,
            src: src.parse().unwrap(),
            ports,
            unique_ips: hosts.len() as u32,
            ips_saturated: false,
            total: hosts.len() as u32,
            first: bin * 300_000_000_000,
            last: bin * 300_000_000_000 + 1,
            rejected: 0,
            udp: 0,
            stealth: 0,
            hosts: hosts.iter().copied().collect(),
        }
    }

    /// The policy with a cap of 8 tracks, and a horizon whose remembered
    /// probes are placed by fixed keys: which slots evicted sources take
    /// is then known (apart, for the sources of these tests).
    fn small() -> (SlowScan, Horizon) {
        let slow = SlowScan {
            max_sources: 8,
            ..SlowScan::new(&Detection::default(), &Limits::default())
        };
        let mut h = Horizon::default();
        h.remembered.hasher = ahash::RandomState::with_seeds(1, 2, 3, 4);
        (slow, h)
    }

    #[test]
    fn a_track_given_up_is_picked_up_again_from_the_probe_remembered() {
        let (slow, mut h) = small();
        let (mut out, mut stats) = (Vec::new(), MergeStats::default());
        // Bin 0: the scanner's first host among 8 other one-probe sources,
        // all as narrow: the cap keeps 6, the scanner (highest address)
        // goes with two others.
        slow.count(&mut h, &summary("203.0.113.250", 0, &[1], 445), true);
        for i in 0..8 {
            slow.count(
                &mut h,
                &summary(&format!("198.51.100.{i}"), 0, &[2], 80),
                true,
            );
        }
        slow.close_window(&mut h, 0, "T1595", &mut out, &mut stats);
        assert_eq!((h.len(), stats.horizon_evicted), (6, 3));
        assert!(!h
            .tracks
            .contains_key(&"203.0.113.250".parse::<IpAddr>().unwrap()));
        // Bins 1-7: one new host each; the first host comes back with it.
        for b in 1..=7 {
            slow.count(
                &mut h,
                &summary("203.0.113.250", b, &[1 + b as u32], 445),
                true,
            );
            slow.close_window(&mut h, b, "T1595", &mut out, &mut stats);
        }
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].get("UniqueDestIPs"), Some(&Value::Count(8)));
        assert_eq!(out[0].get("FirstSeen"), Some(&Value::Time(1)));
    }

    #[test]
    fn once_full_a_new_track_below_the_last_given_up_is_remembered_not_tracked() {
        let (slow, mut h) = small();
        let (mut out, mut stats) = (Vec::new(), MergeStats::default());
        // Nine one-probe sources: the ninth overfills the table, which
        // keeps the six lowest addresses.
        for i in 0..9 {
            slow.count(
                &mut h,
                &summary(&format!("198.51.100.{i}"), 0, &[2], 80),
                true,
            );
        }
        assert_eq!((h.len(), h.stats_evicted), (6, 3));
        // As narrow as those given up, and past them: not taken.
        slow.count(&mut h, &summary("198.51.100.9", 0, &[3], 80), true);
        assert_eq!((h.len(), h.stats_evicted), (6, 4));
        // As narrow, but before them (a lower address): taken.
        slow.count(&mut h, &summary("192.0.2.1", 0, &[3], 80), true);
        // Wider: taken.
        slow.count(&mut h, &summary("203.0.113.7", 0, &[4, 5, 6], 22), true);
        assert_eq!((h.len(), h.stats_evicted), (8, 4));
        slow.close_window(&mut h, 0, "T1595", &mut out, &mut stats);
        assert_eq!(stats.horizon_evicted, 4);
        // The source left out comes back with its remembered probe.
        let late: IpAddr = "198.51.100.9".parse().unwrap();
        slow.count(&mut h, &summary("198.51.100.9", 1, &[7], 80), true);
        assert_eq!(h.tracks[&late].hosts.len(), 2, "{:?}", h.tracks[&late]);
        assert!(out.is_empty(), "{out:?}");
    }
}
