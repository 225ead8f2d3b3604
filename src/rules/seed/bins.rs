//! Failed attempts per (source, bin): the state behind one seed-rule row.

use std::collections::hash_map::Entry;
use std::net::IpAddr;

use ahash::AHashMap;

use crate::event::UDP;
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
    pub total: u64,
    pub first: Nanos,
    pub last: Nanos,
    pub rejected: u64,
    pub udp: u64,
    pub stealth: u64,
}

impl SourceSummary {
    /// Add the piece of the same (source, bin) that another aggregator
    /// held: its destinations are its own (sharding is by address pair),
    /// so distinct hosts add up; ports may overlap and are joined.
    pub fn absorb(&mut self, o: SourceSummary) {
        debug_assert_eq!((self.src, self.bin), (o.src, o.bin));
        self.ports.union_with(&o.ports);
        self.unique_ips += o.unique_ips;
        self.ips_saturated |= o.ips_saturated;
        self.total += o.total;
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        self.rejected += o.rejected;
        self.udp += o.udp;
        self.stealth += o.stealth;
    }
}

pub struct BinTable {
    /// Keyed by (source, bin), from a source's second failure in the bin;
    /// bins close by a scan (once per bin, cold).
    entries: PrefetchMap<(IpAddr, i64), SourceBin>,
    /// (source, bin)s with one failure so far. Under a flood of spoofed
    /// SYNs that is nearly every source, and a full entry written per
    /// packet is what made the flood slow; a 64-byte bucket does instead.
    singles: AHashMap<(IpAddr, i64), OneFailure>,
    /// Held in `entries` and `singles` together.
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
}

/// Eviction keeps this share of the cap (the heaviest entries): well under
/// half, so the hash table can reuse freed slots without growing.
const KEEP_NUM: usize = 3;
const KEEP_DEN: usize = 8;

impl BinTable {
    pub fn new(cap: usize, max_dests: usize, max_set_bytes: usize) -> Self {
        let cap = cap.max(8);
        BinTable {
            entries: PrefetchMap::new(),
            singles: AHashMap::default(),
            cap,
            max_dests: max_dests.max(4),
            set_bytes: 0,
            max_set_bytes,
            peak_set_bytes: 0,
            evicted: 0,
            saturated: 0,
            peak: 0,
        }
    }

    /// (source, bin) entries held.
    pub fn len(&self) -> usize {
        self.entries.len() + self.singles.len()
    }

    /// The hash [`BinTable::record`] and the prefetches take for `(src, bin)`.
    #[inline]
    pub fn hash(&self, src: IpAddr, bin: i64) -> u64 {
        self.entries.hash(&(src, bin))
    }

    /// A failure of `(src, bin)` (hash `h`) is coming: start fetching its
    /// entry.
    #[inline]
    pub fn prefetch(&self, h: u64) {
        self.entries.prefetch(h);
    }

    /// Once the entry has arrived: start fetching the word of its port set
    /// that counting `dport` touches.
    #[inline]
    pub fn prefetch_port(&self, src: IpAddr, bin: i64, h: u64, dport: u16) {
        if let Some(e) = self.entries.get(&(src, bin), h) {
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
        let grown = if let Some(e) = self.entries.get_mut(&key, h) {
            let held = Self::set_bytes_of(e);
            self.saturated += e.add(&one, self.max_dests) as u64;
            // Sets only grow.
            Self::set_bytes_of(e) - held
        } else {
            // A full table evicts before the lookup below (one lookup for a
            // flood's every packet); the extra check runs only at the cap.
            if self.len() >= self.cap && !self.singles.contains_key(&key) {
                self.evict_lightest();
            }
            match self.singles.entry(key) {
                Entry::Occupied(o) => {
                    let earlier = o.remove();
                    let mut e = SourceBin::new(earlier.dst, earlier.first);
                    e.add(&earlier, self.max_dests);
                    self.saturated += e.add(&one, self.max_dests) as u64;
                    let grown = Self::set_bytes_of(&e);
                    self.entries.insert(key, h, e);
                    grown
                }
                Entry::Vacant(v) => {
                    v.insert(one);
                    self.peak = self.peak.max(self.len());
                    0
                }
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

    fn set_bytes_of(e: &SourceBin) -> usize {
        e.ports.heap_bytes() + e.dests.heap_bytes()
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
            if cut <= self.singles.len() {
                // The usual case under a flood: single failures are the
                // lightest; drop `cut` of them.
                let mut to_drop = cut;
                self.singles.retain(|_, _| {
                    if to_drop == 0 {
                        return true;
                    }
                    to_drop -= 1;
                    false
                });
            } else {
                let cut = cut - self.singles.len();
                self.singles.clear();
                let mut totals: Vec<u32> = self.entries.values().map(|e| e.total).collect();
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
                .map(|e| (e.total, Self::set_bytes_of(e)))
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
        // Fresh tables: erased slots left as tombstones would make them grow
        // past their bound instead of being reused.
        let singles = self.singles.len();
        self.singles.shrink_to(singles);
    }

    /// Drop about `count` entries: every one lighter than `cutoff`, and
    /// ties with it until `count` are gone.
    fn drop_lighter(&mut self, cutoff: u32, count: usize) {
        let mut to_drop = count;
        let mut freed = 0;
        self.entries.retain(|_, e| {
            let drop = e.total < cutoff || (e.total == cutoff && to_drop > 0);
            if drop {
                to_drop = to_drop.saturating_sub(1);
                freed += Self::set_bytes_of(e);
            }
            !drop
        });
        self.set_bytes -= freed;
    }

    /// Remove every bin up to and including `through`, as summaries.
    pub fn close_through(&mut self, through: i64, out: &mut Vec<SourceSummary>) {
        if self.singles.keys().any(|(_, bin)| *bin <= through) {
            self.singles.retain(|&(src, bin), one| {
                if bin > through {
                    return true;
                }
                let mut e = SourceBin::new(one.dst, one.first);
                e.add(one, usize::MAX);
                out.push(SourceSummary {
                    bin,
                    src,
                    unique_ips: 1,
                    ips_saturated: false,
                    ports: e.ports,
                    total: 1,
                    first: one.first,
                    last: one.first,
                    rejected: e.rejected.into(),
                    udp: e.udp.into(),
                    stealth: e.stealth.into(),
                });
                false
            });
        }
        if !self.entries.keys().any(|(_, bin)| *bin <= through) {
            return;
        }
        let mut freed = 0;
        self.entries.retain(|&(src, bin), e| {
            if bin > through {
                return true;
            }
            freed += Self::set_bytes_of(e);
            out.push(SourceSummary {
                bin,
                src,
                unique_ips: e.dests.len(),
                ips_saturated: e.dests_saturated,
                ports: std::mem::take(&mut e.ports),
                total: e.total.into(),
                first: e.first,
                last: e.last,
                rejected: e.rejected.into(),
                udp: e.udp.into(),
                stealth: e.stealth.into(),
            });
            false
        });
        self.set_bytes -= freed;
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
        // Every tracked (source, bin) costs this much under a flood of
        // spoofed sources: sets that grow live behind a pointer.
        let size = std::mem::size_of::<((IpAddr, i64), SourceBin)>();
        assert!(size <= 192, "{size} bytes");
        // What nearly every spoofed source costs: one failure.
        let size = std::mem::size_of::<((IpAddr, i64), OneFailure)>();
        assert!(size <= 64, "{size} bytes");
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
