//! Failed attempts per (source, bin): the state behind one seed-rule row.

use std::net::IpAddr;

use crate::event::UDP;
use crate::rules::slow_scan::host_key;
use crate::sketch::destset::DestSet;
use crate::sketch::portset::PortSet;
use crate::sketch::prefetch_map::PrefetchMap;
use crate::time::Nanos;

/// How a failed attempt failed, and what it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    pub rejected: bool,
    pub proto: u8,
    pub stealth: bool,
}

/// One source's failed attempts in one bin.
#[derive(Clone, Debug)]
pub struct SourceBin {
    ports: PortSet,
    dests: DestSet,
    dests_saturated: bool,
    total: u32,
    rejected: u32,
    udp: u32,
    stealth: u32,
    first: Nanos,
    last: Nanos,
}

/// A (source, bin)'s only failure so far: 32 bytes where a full
/// [`SourceBin`] takes 152.
#[derive(Clone, Copy, Debug)]
struct OneFailure {
    dst: IpAddr,
    first: Nanos,
    dport: u16,
    f: Failure,
}

impl OneFailure {
    /// A placeholder for a value moved out.
    const NONE: OneFailure = OneFailure {
        dst: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        first: 0,
        dport: 0,
        f: Failure {
            rejected: false,
            proto: 0,
            stealth: false,
        },
    };
}

impl SourceBin {
    fn new(dst: IpAddr, first: Nanos) -> Self {
        SourceBin {
            ports: PortSet::default(),
            dests: DestSet::new(dst),
            dests_saturated: false,
            total: 0,
            rejected: 0,
            udp: 0,
            stealth: 0,
            first,
            last: first,
        }
    }

    /// Count one failure; true if it made the host set saturate.
    #[inline]
    fn add(&mut self, one: &OneFailure, max_dests: usize) -> bool {
        self.ports.insert(one.dport);
        let saturates = !self.dests.insert(one.dst, max_dests) && !self.dests_saturated;
        self.dests_saturated |= saturates;
        // u32 counts: 4 billion failed attempts per source and bin is more
        // than a 5-minute bin can hold at line rate; saturate regardless.
        self.total = self.total.saturating_add(1);
        self.first = self.first.min(one.first);
        self.last = self.last.max(one.first);
        self.rejected = self.rejected.saturating_add(one.f.rejected as u32);
        self.udp = self.udp.saturating_add((one.f.proto == UDP) as u32);
        self.stealth = self.stealth.saturating_add(one.f.stealth as u32);
        saturates
    }
}

/// What the aggregate stage hands the merger for one (source, bin): this
/// aggregator's piece, final for the destinations it owns (the merger adds
/// the pieces up).
#[derive(Clone, Debug)]
pub struct SourceSummary {
    /// Bin index: bin start = `bin * bin_length`.
    pub bin: i64,
    pub src: IpAddr,
    pub ports: PortSet,
    pub unique_ips: u32,
    /// `unique_ips` stopped growing at the per-source cap: a lower bound.
    pub ips_saturated: bool,
    /// Counts as the shards keep them (32 bits, which five minutes of one
    /// source at line rate does not fill); added up saturating.
    pub total: u32,
    pub first: Nanos,
    pub last: Nanos,
    pub rejected: u32,
    pub udp: u32,
    pub stealth: u32,
    /// Its hosts, as keys, when there were few (at most the table's
    /// `sample_hosts`): the slow-scan policy counts distinct hosts over
    /// hours. Complete if and only if it holds `unique_ips` keys.
    pub hosts: HostKeys,
}

/// A few hosts' keys (`slow_scan::host_key`), in place.
pub type HostKeys = smallvec::SmallVec<[u32; 4]>;

impl SourceSummary {
    /// True if `hosts` holds every host of the (source, bin).
    pub fn hosts_complete(&self) -> bool {
        self.hosts.len() == self.unique_ips as usize && !self.ips_saturated
    }

    /// Add the piece of the same (source, bin) that another aggregator
    /// held: its destinations are its own (sharding is by address pair),
    /// so distinct hosts add up; ports may overlap and are joined.
    pub fn absorb(&mut self, o: SourceSummary) {
        debug_assert_eq!((self.src, self.bin), (o.src, o.bin));
        if self.hosts_complete() && o.hosts_complete() {
            self.hosts.extend_from_slice(&o.hosts);
        } else {
            self.hosts.clear();
        }
        self.ports.union_with(&o.ports);
        self.unique_ips += o.unique_ips;
        self.ips_saturated |= o.ips_saturated;
        self.total = self.total.saturating_add(o.total);
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        self.rejected = self.rejected.saturating_add(o.rejected);
        self.udp = self.udp.saturating_add(o.udp);
        self.stealth = self.stealth.saturating_add(o.stealth);
    }
}

/// A (source, bin)'s failures: the first alone, from the second on the
/// full counts behind a pointer. Under a flood of spoofed SYNs nearly
/// every source has one failure, and 40 bytes in place does for it where
/// a full entry would write 152 per packet.
#[derive(Clone, Debug)]
enum Tally {
    One(OneFailure),
    Many(Box<SourceBin>),
}

impl Tally {
    fn total(&self) -> u32 {
        match self {
            Tally::One(_) => 1,
            Tally::Many(e) => e.total,
        }
    }

    fn set_bytes(&self) -> usize {
        match self {
            Tally::One(_) => 0,
            Tally::Many(e) => e.ports.heap_bytes() + e.dests.heap_bytes(),
        }
    }

    /// The summary, with its hosts' keys if it has at most `sample` hosts.
    fn summary(self, src: IpAddr, bin: i64, sample: usize) -> SourceSummary {
        let e = match self {
            Tally::Many(e) => *e,
            Tally::One(one) => {
                let mut e = SourceBin::new(one.dst, one.first);
                e.add(&one, usize::MAX);
                e
            }
        };
        let mut hosts = HostKeys::new();
        if e.dests.len() as usize <= sample && !e.dests_saturated {
            e.dests.for_each(|a| hosts.push(host_key(a)));
        }
        SourceSummary {
            hosts,
            bin,
            src,
            unique_ips: e.dests.len(),
            ips_saturated: e.dests_saturated,
            ports: e.ports,
            total: e.total,
            first: e.first,
            last: e.last,
            rejected: e.rejected,
            udp: e.udp,
            stealth: e.stealth,
        }
    }
}

pub struct BinTable {
    /// Keyed by (source, bin): one lookup per failure, whatever the
    /// source's weight; bins close by a scan (once per bin, cold).
    entries: PrefetchMap<(IpAddr, i64), Tally>,
    cap: usize,
    max_dests: usize,
    /// Heap bytes of all entries' port and destination sets, and its cap:
    /// without it, sources that each spread a few probes over many port
    /// chunks or address blocks could hold gigabytes within the entry cap.
    set_bytes: usize,
    max_set_bytes: usize,
    pub peak_set_bytes: usize,
    /// (source, bin) entries dropped to stay under `cap` or `max_set_bytes`.
    pub evicted: u64,
    /// Entries whose destination set hit `max_dests`.
    pub saturated: u64,
    pub peak: usize,
    /// Summaries with at most this many hosts carry their keys (0: none).
    pub sample_hosts: usize,
}

/// Eviction keeps this share of the cap (the heaviest entries): well under
/// half, so the table does not fill again at once.
const KEEP_NUM: usize = 3;
const KEEP_DEN: usize = 8;

impl BinTable {
    pub fn new(cap: usize, max_dests: usize, max_set_bytes: usize) -> Self {
        let cap = cap.max(8);
        BinTable {
            entries: PrefetchMap::new(),
            cap,
            max_dests: max_dests.max(4),
            set_bytes: 0,
            max_set_bytes,
            peak_set_bytes: 0,
            evicted: 0,
            saturated: 0,
            peak: 0,
            sample_hosts: 0,
        }
    }

    /// (source, bin) entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The hash [`BinTable::record`] and the prefetches take for `(src, bin)`.
    #[inline]
    pub fn hash(&self, src: IpAddr, bin: i64) -> u64 {
        self.entries.hash(&(src, bin))
    }

    /// A failure of `(src, bin)` (hash `h`) is coming: start fetching the
    /// table slot that points at its entry.
    #[inline]
    pub fn prefetch_slot(&self, h: u64) {
        self.entries.prefetch_slot(h);
    }

    /// The slot has arrived: start fetching the entry.
    #[inline]
    pub fn prefetch(&self, h: u64) {
        self.entries.prefetch(h);
    }

    /// The entry has arrived: start fetching the full counts it points at.
    #[inline]
    pub fn prefetch_counts(&self, src: IpAddr, bin: i64, h: u64) {
        if let Some(Tally::Many(e)) = self.entries.get(&(src, bin), h) {
            crate::sketch::prefetch(&**e);
        }
    }

    /// The counts have arrived: start fetching the word of their port set
    /// that counting `dport` touches.
    #[inline]
    pub fn prefetch_port(&self, src: IpAddr, bin: i64, h: u64, dport: u16) {
        if let Some(Tally::Many(e)) = self.entries.get(&(src, bin), h) {
            e.ports.prefetch(dport);
        }
    }

    /// Count one failed attempt `src -> dst:dport` that began at `first`;
    /// `h` is [`BinTable::hash`] of `(src, bin)`.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        bin: i64,
        src: IpAddr,
        dst: IpAddr,
        dport: u16,
        first: Nanos,
        f: Failure,
        h: u64,
    ) {
        let one = OneFailure {
            dst,
            first,
            dport,
            f,
        };
        let key = (src, bin);
        let grown = match self.entries.get_mut(&key, h) {
            Some(Tally::Many(e)) => {
                let held = e.ports.heap_bytes() + e.dests.heap_bytes();
                self.saturated += e.add(&one, self.max_dests) as u64;
                // Sets only grow.
                e.ports.heap_bytes() + e.dests.heap_bytes() - held
            }
            Some(t) => {
                let Tally::One(earlier) = *t else {
                    unreachable!("matched above")
                };
                let mut e = Box::new(SourceBin::new(earlier.dst, earlier.first));
                e.add(&earlier, self.max_dests);
                self.saturated += e.add(&one, self.max_dests) as u64;
                *t = Tally::Many(e);
                t.set_bytes()
            }
            None => {
                if self.len() >= self.cap {
                    self.evict_lightest();
                }
                self.entries.insert(key, h, Tally::One(one));
                self.peak = self.peak.max(self.len());
                0
            }
        };
        if grown > 0 {
            self.set_bytes += grown;
            if self.set_bytes > self.max_set_bytes {
                self.evict_lightest();
            }
            self.peak_set_bytes = self.peak_set_bytes.max(self.set_bytes);
        }
    }

    /// Keep the heaviest entries (by failed attempts) within 3/8 of the
    /// entry cap and 3/8 of the set memory cap, so the heaviest scanners
    /// survive a flood of light sources. Amortised O(1) per insert: it frees
    /// most of what triggered it.
    #[cold]
    fn evict_lightest(&mut self) {
        let before = self.len();
        let keep = self.cap * KEEP_NUM / KEEP_DEN;
        if self.len() > keep {
            let cut = self.len() - keep;
            let singles = self
                .entries
                .values()
                .filter(|t| matches!(t, Tally::One(_)))
                .count();
            if cut <= singles {
                // The usual case under a flood: single failures are the
                // lightest; drop `cut` of them, the oldest first.
                let mut to_drop = cut;
                self.entries.retain(|_, t| {
                    let drop = to_drop > 0 && matches!(t, Tally::One(_));
                    to_drop -= drop as usize;
                    !drop
                });
            } else {
                let mut totals: Vec<u32> = self.entries.values().map(Tally::total).collect();
                // The `cut`-th lightest total: drop entries below it, and
                // ties with it only until `cut` entries are gone.
                let (_, &mut cutoff, _) = totals.select_nth_unstable(cut - 1);
                self.drop_lighter(cutoff, cut);
            }
        }
        let keep_bytes = self.max_set_bytes * KEEP_NUM / KEEP_DEN;
        if self.set_bytes > keep_bytes {
            // Rare (hostile traffic): sort by weight, keep what fits.
            let mut weights: Vec<(u32, usize)> = self
                .entries
                .values()
                .filter(|t| matches!(t, Tally::Many(_)))
                .map(|t| (t.total(), t.set_bytes()))
                .collect();
            weights.sort_unstable_by(|a, b| b.cmp(a));
            let mut held = 0;
            let fits = weights
                .iter()
                .take_while(|(_, bytes)| {
                    held += bytes;
                    held <= keep_bytes
                })
                .count();
            if let Some(&(cutoff, _)) = weights.get(fits) {
                self.drop_lighter(cutoff, weights.len() - fits);
            }
        }
        self.evicted += (before - self.len()) as u64;
    }

    /// Drop about `count` entries: every one lighter than `cutoff`, and
    /// ties with it until `count` are gone.
    fn drop_lighter(&mut self, cutoff: u32, count: usize) {
        let mut to_drop = count;
        let mut freed = 0;
        self.entries.retain(|_, t| {
            let total = t.total();
            let drop = total < cutoff || (total == cutoff && to_drop > 0);
            if drop {
                to_drop = to_drop.saturating_sub(1);
                freed += t.set_bytes();
            }
            !drop
        });
        self.set_bytes -= freed;
    }

    /// Remove every bin up to and including `through`, as summaries.
    pub fn close_through(&mut self, through: i64, out: &mut Vec<SourceSummary>) {
        if !self.entries.keys().any(|(_, bin)| *bin <= through) {
            return;
        }
        let mut freed = 0;
        let sample = self.sample_hosts;
        self.entries.retain(|&(src, bin), t| {
            if bin > through {
                return true;
            }
            freed += t.set_bytes();
            let t = std::mem::replace(t, Tally::One(OneFailure::NONE));
            out.push(t.summary(src, bin, sample));
            false
        });
        self.set_bytes -= freed;
        self.entries.shrink();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Failure = Failure {
        rejected: false,
        proto: 6,
        stealth: false,
    };

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn rec(
        t: &mut BinTable,
        bin: i64,
        src: IpAddr,
        dst: IpAddr,
        port: u16,
        first: Nanos,
        f: Failure,
    ) {
        let h = t.hash(src, bin);
        t.record(bin, src, dst, port, first, f, h);
    }

    #[test]
    fn aggregates_ports_hosts_and_times() {
        let mut t = BinTable::new(100, 100, usize::MAX);
        for (i, host) in ["192.0.2.1", "192.0.2.2", "192.0.2.1"].iter().enumerate() {
            rec(
                &mut t,
                7,
                ip("203.0.113.9"),
                ip(host),
                80 + i as u16,
                100 - i as Nanos,
                F,
            );
        }
        let mut out = Vec::new();
        t.close_through(6, &mut out);
        assert!(out.is_empty());
        t.close_through(7, &mut out);
        assert_eq!(out.len(), 1);
        let s = &out[0];
        assert_eq!((s.bin, s.total, s.unique_ips, s.ports.len()), (7, 3, 2, 3));
        assert_eq!((s.first, s.last), (98, 100));
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn eviction_keeps_the_heaviest_sources() {
        let mut t = BinTable::new(8, 100, usize::MAX);
        let heavy = ip("203.0.113.200");
        for p in 0..50 {
            rec(&mut t, 0, heavy, ip("192.0.2.1"), p, 1, F);
        }
        for i in 0..100u8 {
            let src = IpAddr::from([198, 51, 100, i]);
            rec(&mut t, 0, src, ip("192.0.2.1"), 1, 1, F);
        }
        assert!(t.len() <= 8);
        assert!(t.evicted >= 92);
        let mut out = Vec::new();
        t.close_through(0, &mut out);
        let h = out
            .iter()
            .find(|s| s.src == heavy)
            .expect("heavy scanner kept");
        assert_eq!(h.total, 50);
    }

    #[test]
    fn set_memory_stays_under_its_cap_and_keeps_the_heaviest() {
        // Each light source spreads 20 probes over 20 port chunks (2.5 KiB
        // of chunks each); the cap is 64 KiB.
        let cap = 64 << 10;
        let mut t = BinTable::new(1 << 20, 100, cap);
        let heavy = ip("203.0.113.200");
        for p in 0..200u16 {
            rec(&mut t, 0, heavy, ip("192.0.2.1"), p * 300, 1, F);
        }
        for i in 0..2000u32 {
            let src = IpAddr::from((0xc633_0000 | i).to_be_bytes());
            for p in 0..20u16 {
                rec(&mut t, 0, src, ip("192.0.2.1"), p * 3000 + 1, 1, F);
            }
            assert!(t.set_bytes <= cap, "{} bytes", t.set_bytes);
        }
        assert!(t.evicted > 1000, "{}", t.evicted);
        assert!(t.peak_set_bytes <= cap);
        let mut out = Vec::new();
        t.close_through(0, &mut out);
        assert_eq!(t.set_bytes, 0, "closing frees what was counted");
        let h = out
            .iter()
            .find(|s| s.src == heavy)
            .expect("heavy scanner kept");
        assert_eq!((h.total, h.ports.len()), (200, 200));
    }

    #[test]
    fn a_single_failure_sums_up_like_any_other() {
        let mut t = BinTable::new(100, 100, usize::MAX);
        let f = Failure {
            rejected: true,
            proto: UDP,
            stealth: false,
        };
        rec(&mut t, 3, ip("203.0.113.9"), ip("192.0.2.1"), 53, 42, f);
        assert_eq!(t.len(), 1);
        let mut out = Vec::new();
        t.close_through(3, &mut out);
        let s = &out[0];
        assert_eq!(
            (s.bin, s.src, s.total, s.unique_ips),
            (3, ip("203.0.113.9"), 1, 1)
        );
        assert_eq!(s.ports.smallest(10), vec![53]);
        assert_eq!(
            (s.first, s.last, s.rejected, s.udp, s.stealth),
            (42, 42, 1, 1, 0)
        );
        assert!(!s.ips_saturated);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn an_entry_stays_small() {
        // What every tracked (source, bin) costs in place, and nearly every
        // spoofed source in all: one failure.
        let size = std::mem::size_of::<((IpAddr, i64), Tally)>();
        assert!(size <= 72, "{size} bytes");
        // From the second failure on, behind the pointer: sets that grow
        // live behind pointers of their own.
        let size = std::mem::size_of::<SourceBin>();
        assert!(size <= 160, "{size} bytes");
    }

    #[test]
    fn destination_set_saturates_at_its_cap() {
        let mut t = BinTable::new(10, 8, usize::MAX);
        for i in 0..20u8 {
            rec(
                &mut t,
                0,
                ip("203.0.113.1"),
                IpAddr::from([192, 0, 2, i]),
                80,
                1,
                F,
            );
        }
        let mut out = Vec::new();
        t.close_through(0, &mut out);
        assert_eq!(out[0].unique_ips, 8);
        assert!(out[0].ips_saturated);
        assert_eq!(t.saturated, 1);
    }
}
