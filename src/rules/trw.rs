//! Sequential hypothesis testing (`trw`): Threshold Random Walk (Jung,
//! Paxson, Berger & Balakrishnan, IEEE S&P 2004) over the first contacts
//! of each source outside the home networks to distinct (host, port)
//! pairs in a bin.
//!
//! Each first contact is an observation: answered (a SYN-ACK) is evidence
//! for "benign" (a benign source's contacts succeed with probability
//! theta0 = 0.8), failed (rejected or unanswered) for "scanner" (theta1 =
//! 0.2). The log likelihood ratio moves by ln((1 - theta1) / (1 - theta0))
//! for a failure and ln(theta1 / theta0) for a success; it decides
//! "scanner" when it reaches ln(PD / PF) (detection probability 0.99,
//! false positives 0.01: after four failures in a row with the defaults)
//! and "benign" when it falls to ln((1 - PD) / (1 - PF)), after which the
//! walk starts again, so a source that turns to scanning is still caught.
//!
//! TCP only, as in the paper (a UDP flow without reply is common and
//! benign). Observations are ordered by the time of the attempt; the row
//! says how many the test needed and when its last one was known
//! (`DetectedAt`). Each shard keeps the first `MAX_OBSERVATIONS` first
//! contacts of a (source, bin) by time (its pairs are its own: sharding is
//! by address pair); the merger walks the merged sequence at bin close, so
//! the row never depends on the thread count.

use std::collections::hash_map::Entry;
use std::collections::VecDeque;
use std::net::IpAddr;

use ahash::AHashMap;
use smallvec::SmallVec;

use super::seed::{DEVICE_PRODUCT, DEVICE_VENDOR};
use super::{Judgement, Rule, RuleCounters, RuleShard};
use crate::config::{self, Detection, Limits, NetSet};
use crate::event::{Outcome, TCP};
use crate::finding::{Finding, Value};
use crate::time::{floor_secs, Nanos};

/// First contacts kept per (source, bin), the earliest: far more than the
/// test needs to decide (4 with the defaults), few enough to bound memory.
pub const MAX_OBSERVATIONS: usize = 64;

#[derive(Clone, Debug)]
pub struct Trw {
    /// Probability that a benign source's first contact succeeds.
    pub theta0: f64,
    /// Probability that a scanner's first contact succeeds.
    pub theta1: f64,
    /// Wanted detection probability and false-positive probability.
    pub detection: f64,
    pub false_positive: f64,
    pub bin: Nanos,
    pub home: Vec<ipnet::IpNet>,
    pub allow: Vec<ipnet::IpNet>,
    pub ports_listed: usize,
    pub limits: Limits,
}

/// One first contact: when it was made and known, to what, and whether it
/// failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observation {
    pub first: Nanos,
    pub settled: Nanos,
    pub dst: IpAddr,
    pub port: u16,
    pub failed: bool,
}

impl Observation {
    /// The order of the walk: by attempt time, ties by address and port.
    fn order(&self) -> (Nanos, IpAddr, u16) {
        (self.first, self.dst, self.port)
    }
}

/// One shard's earliest first contacts of a (source, bin).
#[derive(Clone, Debug)]
pub struct TrwPartial {
    pub bin: i64,
    pub src: IpAddr,
    pub obs: Vec<Observation>,
}

/// The walk's verdict on a sequence of observations.
#[derive(Debug, PartialEq)]
pub struct Decision {
    /// Observations read up to the decision (from the first).
    pub needed: usize,
    /// Of those, since the walk last started: failed and answered.
    pub failed: usize,
    pub answered: usize,
}

impl Trw {
    /// Run the walk over `obs` (in order); `Some` once it decides
    /// "scanner".
    pub fn walk(&self, obs: &[Observation]) -> Option<Decision> {
        let up = ((1.0 - self.theta1) / (1.0 - self.theta0)).ln();
        let down = (self.theta1 / self.theta0).ln();
        let scanner = (self.detection / self.false_positive).ln();
        let benign = ((1.0 - self.detection) / (1.0 - self.false_positive)).ln();
        let (mut llr, mut failed, mut answered) = (0.0, 0, 0);
        for (i, o) in obs.iter().enumerate() {
            if o.failed {
                llr += up;
                failed += 1;
            } else {
                llr += down;
                answered += 1;
            }
            if llr >= scanner {
                return Some(Decision {
                    needed: i + 1,
                    failed,
                    answered,
                });
            }
            if llr <= benign {
                (llr, failed, answered) = (0.0, 0, 0);
            }
        }
        None
    }
}

impl Rule for Trw {
    const NAME: &'static str = "trw";
    type Shard = TrwShard;
    type Partial = TrwPartial;
    type Update = ();
    type Notice = ();
    type Live = ();

    fn configure(det: &Detection, limits: &Limits) -> Self {
        Trw {
            theta0: det.trw_theta0,
            theta1: det.trw_theta1,
            detection: det.trw_detection,
            false_positive: det.trw_false_positive,
            bin: det.bin,
            home: det.home.clone(),
            allow: det.allow.clone(),
            ports_listed: det.ports_listed,
            limits: limits.clone(),
        }
    }

    fn shard(&self, shards: usize) -> TrwShard {
        // A sixteenth of the seed rule's (source, bin) cap: a source
        // needs several first contacts to be decided at all, and under a
        // spoofed flood the table holds one-contact sources.
        let cap = self.limits.share(self.limits.max_sources / 16, shards);
        TrwShard::new(NetSet::new(&self.home), self.bin, cap)
    }

    fn key(p: &TrwPartial) -> (i64, IpAddr) {
        (p.bin, p.src)
    }

    fn merge(into: &mut TrwPartial, p: TrwPartial) {
        into.obs.extend(p.obs);
    }

    fn evaluate(&self, p: &TrwPartial) -> Judgement {
        let mut obs = p.obs.clone();
        obs.sort_by_key(Observation::order);
        obs.truncate(MAX_OBSERVATIONS);
        let Some(d) = self.walk(&obs) else {
            return Judgement::Below;
        };
        if config::contains(&self.allow, &p.src) {
            return Judgement::Allowed;
        }
        let used = &obs[..d.needed];
        let (first, last) = (used[0].first, used[d.needed - 1].first);
        let detected = used.iter().map(|o| o.settled).max().unwrap_or(first);
        let mut hosts: Vec<IpAddr> = used.iter().map(|o| o.dst).collect();
        hosts.sort();
        hosts.dedup();
        let mut ports: Vec<u16> = used.iter().map(|o| o.port).collect();
        ports.sort();
        ports.dedup();
        Judgement::Report(Finding {
            rule: Self::NAME,
            window_start: p.bin * self.bin,
            source: p.src,
            weight: d.needed as u64,
            detected_at: None,
            fields: vec![
                ("TimeGenerated", Value::WindowTime(p.bin * self.bin)),
                ("SourceIP", Value::Ip(p.src)),
                ("ScanType", Value::Text("TRW Scanner")),
                ("Observations", Value::Count(d.needed as u64)),
                ("FailedObservations", Value::Count(d.failed as u64)),
                ("AnsweredObservations", Value::Count(d.answered as u64)),
                ("UniqueDestIPs", Value::Count(hosts.len() as u64)),
                ("UniqueDestPorts", Value::Count(ports.len() as u64)),
                (
                    "PortsTargeted",
                    Value::Ports(ports.iter().copied().take(self.ports_listed).collect()),
                ),
                ("FirstSeen", Value::Time(first)),
                ("LastSeen", Value::Time(last)),
                ("DetectedAt", Value::Time(detected)),
                (
                    "SecondsToDetect",
                    Value::Signed(floor_secs(detected) - floor_secs(first)),
                ),
                ("DeviceVendor", Value::Text(DEVICE_VENDOR)),
                ("DeviceProduct", Value::Text(DEVICE_PRODUCT)),
                ("Technique", Value::Text("T1595")),
            ],
        })
    }
}

pub struct TrwShard {
    home: NetSet,
    bin: Nanos,
    cap: usize,
    /// The earliest first contacts per (source, bin), with per-process
    /// random hash keys (sources are the attacker's choice).
    pieces: AHashMap<(IpAddr, i64), Piece>,
    /// One bit per hash of a (source, bin) given a piece since the bits
    /// were last rebuilt (sixteen bits per piece the cap allows, so it
    /// stays cached): a clear bit says "no piece" without a look into
    /// `pieces`, whose misses under a spoofed flood are cache misses.
    held: Vec<u64>,
    /// Bits set since the last rebuild (evicted pieces leave theirs).
    marked: usize,
    /// Direct-mapped, by the key's hash: (hash | 1, attempt time of the
    /// latest contact) of pieces that are full. A later contact changes
    /// nothing (a scan goes on in time order), and is dismissed here
    /// without a look into `pieces`. A piece's latest only moves earlier,
    /// so a stale time dismisses less, never wrongly; cleared when pieces
    /// go.
    full: Vec<(u64, Nanos)>,
    /// When `pieces` is full: a new source's first contact waits here,
    /// one per slot (four slots per piece), for its second, which earns
    /// it a piece. A spoofed flood's one-contact sources then cost a slot
    /// write each, not a piece and their share of an eviction. Slots are
    /// known by the key's hash (64 bits, per-process random). Empty until
    /// first full.
    waiting: Vec<Option<(u64, Observation)>>,
    /// Contacts on their way to `pieces`, whose `full` slot (and, under a
    /// flood, `waiting` slot) are fetched while they queue: each is a
    /// cache miss, the tables are megabytes.
    staged: VecDeque<Staged>,
    hasher: ahash::RandomState,
    evicted: u64,
    peak: usize,
}

/// A contact queued on its way to its piece.
struct Staged {
    key: (IpAddr, i64),
    hash: u64,
    obs: Observation,
}

/// Contacts in flight.
const STAGED: usize = 8;

impl TrwShard {
    fn new(home: NetSet, bin: Nanos, cap: usize) -> TrwShard {
        TrwShard {
            home,
            bin,
            cap,
            pieces: AHashMap::default(),
            held: vec![0; (16 * cap).next_power_of_two().max(1024) / 64],
            marked: 0,
            full: vec![(0, 0); (2 * cap).next_power_of_two()],
            waiting: Vec::new(),
            staged: VecDeque::with_capacity(STAGED + 1),
            hasher: ahash::RandomState::new(),
            evicted: 0,
            peak: 0,
        }
    }

    /// The word and bit of `held` for hash `h`.
    #[inline]
    fn held_bit(&self, h: u64) -> (usize, u64) {
        let i = h as usize & (self.held.len() * 64 - 1);
        (i / 64, 1 << (i % 64))
    }

    #[inline]
    fn maybe_held(&self, h: u64) -> bool {
        let (w, b) = self.held_bit(h);
        self.held[w] & b != 0
    }

    fn mark_held(&mut self, h: u64) {
        let (w, b) = self.held_bit(h);
        self.held[w] |= b;
        self.marked += 1;
        if self.marked > 2 * self.cap {
            self.rebuild_held();
        }
    }

    /// Set the bits of the pieces held now, and only those.
    fn rebuild_held(&mut self) {
        self.held.fill(0);
        self.marked = 0;
        let keys: Vec<u64> = self
            .pieces
            .keys()
            .map(|k| self.hasher.hash_one(k))
            .collect();
        for h in keys {
            let (w, b) = self.held_bit(h);
            self.held[w] |= b;
            self.marked += 1;
        }
    }

    /// The slot of hash `h` in `waiting`.
    #[inline]
    fn slot(&self, h: u64) -> usize {
        crate::sketch::slot(h, self.waiting.len())
    }

    /// Give `o` to its source's piece: an existing one, a new one while
    /// there is room, else the waiting slots.
    fn place(&mut self, key: (IpAddr, i64), h: u64, o: Observation) {
        let full = self.pieces.len() >= self.cap;
        match self.pieces.entry(key) {
            Entry::Occupied(e) => {
                let piece = e.into_mut();
                piece.keep(o);
                if let Some(latest) = piece.latest() {
                    let at = self.full_slot(h);
                    self.full[at] = (h | 1, latest);
                }
            }
            Entry::Vacant(e) if !full => {
                e.insert(Piece::default()).keep(o);
                self.mark_held(h);
            }
            // Full (spoofed sources): a source earns a piece with its
            // second contact.
            Entry::Vacant(_) => self.wait_or_admit(key, h, o),
        }
        self.peak = self.peak.max(self.pieces.len());
    }

    /// Queue a contact, fetching what placing it will read first (the
    /// full-piece slot; the waiting slot if its source has no piece and
    /// the table is full); place the one that has waited longest.
    #[inline]
    fn stage(&mut self, key: (IpAddr, i64), h: u64, o: Observation) {
        crate::sketch::prefetch(self.full.as_ptr().wrapping_add(self.full_slot(h)));
        if self.pieces.len() >= self.cap && !self.maybe_held(h) {
            if self.waiting.is_empty() {
                self.waiting = vec![None; (4 * self.cap).next_power_of_two()];
            }
            // Both lines a slot may straddle.
            let slot = self.waiting.as_ptr().wrapping_add(self.slot(h));
            crate::sketch::prefetch_write(slot);
            crate::sketch::prefetch_write(slot.wrapping_add(1).cast::<u8>().wrapping_sub(1));
        }
        self.staged.push_back(Staged {
            key,
            hash: h,
            obs: o,
        });
        if self.staged.len() > STAGED {
            let s = self.staged.pop_front().expect("queue is not empty");
            self.place_staged(s);
        }
    }

    /// The slot of hash `h` in `full`.
    #[inline]
    fn full_slot(&self, h: u64) -> usize {
        crate::sketch::slot(h, self.full.len())
    }

    /// Place a staged contact: dismissed if its piece is full of earlier
    /// ones; straight to its waiting slot if its source has no piece and
    /// the table is full.
    #[inline]
    fn place_staged(&mut self, s: Staged) {
        let (tag, latest) = self.full[self.full_slot(s.hash)];
        if tag == s.hash | 1 && s.obs.first > latest {
            return;
        }
        if self.pieces.len() >= self.cap && !self.maybe_held(s.hash) {
            self.wait_or_admit(s.key, s.hash, s.obs);
        } else {
            self.place(s.key, s.hash, s.obs);
        }
    }

    /// Place every staged contact.
    fn drain(&mut self) {
        while let Some(s) = self.staged.pop_front() {
            self.place_staged(s);
        }
    }

    /// A contact of a source with no piece while the table is full: the
    /// first waits in its slot (pushing out, uncounted, whoever waited
    /// there: counted as evicted); the second makes a piece of both.
    fn wait_or_admit(&mut self, key: (IpAddr, i64), h: u64, o: Observation) {
        if self.waiting.is_empty() {
            self.waiting = vec![None; (4 * self.cap).next_power_of_two()];
        }
        let at = self.slot(h);
        match self.waiting[at].take() {
            Some((k, first)) if k == h => {
                // Room for it: a one-contact piece goes (the table stays
                // full, so one-contact sources keep waiting), or, if none
                // is among the first few looked at, the lightest five
                // eighths (a bounded look: two-contact floods cannot make
                // every admission walk the table).
                let single = self
                    .pieces
                    .iter()
                    .take(32)
                    .find(|(_, p)| p.obs.len() <= 1)
                    .map(|(k, _)| *k);
                match single {
                    Some(k) => {
                        self.pieces.remove(&k);
                        self.evicted += 1;
                    }
                    None => {
                        self.evicted +=
                            super::evict_lightest(&mut self.pieces, self.cap * 3 / 8, |p| {
                                p.obs.len() as u64
                            });
                        // Evicted full pieces must not dismiss contacts.
                        self.full.fill((0, 0));
                    }
                }
                let piece = self.pieces.entry(key).or_default();
                piece.keep(first);
                piece.keep(o);
                self.mark_held(h);
            }
            other => {
                self.evicted += other.is_some() as u64;
                self.waiting[at] = Some((h, o));
            }
        }
    }
}

/// A (source, bin)'s earliest first contacts on one shard.
#[derive(Default)]
struct Piece {
    /// Inline up to two (what a spoofed flood's sources, one contact
    /// each, and many clients need) without an allocation each. Once it
    /// holds `MAX_OBSERVATIONS`, a max-heap by [`Observation::order`]: the
    /// latest on top, where an earlier contact replaces it in a few steps.
    obs: SmallVec<[Observation; 2]>,
    /// One bit per (host, port) held, by a hash of the pair (512 bits: a
    /// twelfth full at 64 pairs): a pair whose bit is clear is new, and
    /// needs no look through `obs`.
    seen: [u64; 8],
}

/// The word and bit of `Piece::seen` for a (host, port) pair.
#[inline]
fn pair_bit(dst: &IpAddr, port: u16) -> (usize, u64) {
    let h =
        (crate::sketch::fold_ip(dst) ^ u64::from(port) << 32).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((h >> 61) as usize, 1 << ((h >> 55) & 63))
}

impl Piece {
    fn is_full(&self) -> bool {
        self.obs.len() == MAX_OBSERVATIONS
    }

    /// Once full: the attempt time of the latest contact held. A contact
    /// after it changes nothing (the common case: a scan goes on in time
    /// order).
    fn latest(&self) -> Option<Nanos> {
        self.is_full().then(|| self.obs[0].first)
    }

    /// Keep `o` among the earliest distinct (host, port) contacts: in
    /// whatever order contacts come, the piece ends as the
    /// `MAX_OBSERVATIONS` earliest first contacts.
    fn keep(&mut self, o: Observation) {
        let full = self.is_full();
        if full && o.order() >= self.obs[0].order() {
            return;
        }
        let (word, bit) = pair_bit(&o.dst, o.port);
        if self.seen[word] & bit != 0 {
            let pair = (o.dst, o.port);
            if let Some(i) = self.obs.iter().position(|x| (x.dst, x.port) == pair) {
                // A second attempt to the same pair: the first contact is
                // the earlier one.
                if o.order() < self.obs[i].order() {
                    self.obs[i] = o;
                    if full {
                        sift_down(&mut self.obs, i);
                    }
                }
                return;
            }
        }
        self.seen[word] |= bit;
        if !full {
            self.obs.push(o);
            if self.is_full() {
                for i in (0..MAX_OBSERVATIONS / 2).rev() {
                    sift_down(&mut self.obs, i);
                }
            }
        } else {
            // Earlier than the latest held: it takes the latest's place.
            self.obs[0] = o;
            sift_down(&mut self.obs, 0);
        }
    }
}

/// Restore the max-heap order of `heap` below `i`, whose contact may be
/// earlier than its children's.
fn sift_down(heap: &mut [Observation], mut i: usize) {
    loop {
        let (l, r) = (2 * i + 1, 2 * i + 2);
        let mut top = i;
        if l < heap.len() && heap[l].order() > heap[top].order() {
            top = l;
        }
        if r < heap.len() && heap[r].order() > heap[top].order() {
            top = r;
        }
        if top == i {
            return;
        }
        heap.swap(i, top);
        i = top;
    }
}

impl RuleShard for TrwShard {
    type Partial = TrwPartial;
    type Update = ();
    type Notice = ();

    #[inline]
    fn observe(&mut self, o: &Outcome) {
        if o.key.proto != TCP || o.key.dport == 0 || self.home.contains(&o.key.src) {
            return;
        }
        let key = (o.key.src, o.first.div_euclid(self.bin));
        let obs = Observation {
            first: o.first,
            settled: o.settled,
            dst: o.key.dst,
            port: o.key.dport,
            failed: o.failed(),
        };
        let h = self.hasher.hash_one(key);
        self.stage(key, h, obs);
    }

    fn close_through(&mut self, through: i64, out: &mut Vec<TrwPartial>) {
        self.drain();
        // Contacts still waiting for a second are given up with their bin.
        let bin = self.bin;
        for w in &mut self.waiting {
            if w.as_ref()
                .is_some_and(|(_, o)| o.first.div_euclid(bin) <= through)
            {
                *w = None;
                self.evicted += 1;
            }
        }
        self.pieces.retain(|&(src, bin), p| {
            if bin > through {
                return true;
            }
            out.push(TrwPartial {
                bin,
                src,
                obs: std::mem::take(&mut p.obs).into_vec(),
            });
            false
        });
        self.rebuild_held();
        self.full.fill((0, 0));
    }

    fn flush(&mut self) {
        self.drain();
    }

    fn count(&self, c: &mut RuleCounters) {
        c.sources_evicted += self.evicted;
        c.sources_now += self.pieces.len() as u64;
        c.peak_sources += self.peak as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trw() -> Trw {
        let det = Detection::default();
        Trw::configure(&det, &Limits::default())
    }

    fn seq(pattern: &str) -> Vec<Observation> {
        pattern
            .chars()
            .enumerate()
            .map(|(i, c)| Observation {
                first: i as Nanos,
                settled: i as Nanos + 10,
                dst: IpAddr::from([192, 0, 2, i as u8]),
                port: 80,
                failed: c == 'F',
            })
            .collect()
    }

    #[test]
    fn the_paper_defaults_decide_after_four_failures_in_a_row() {
        let t = trw();
        assert_eq!(t.walk(&seq("FFF")), None);
        assert_eq!(
            t.walk(&seq("FFFF")),
            Some(Decision {
                needed: 4,
                failed: 4,
                answered: 0
            })
        );
        // Each success cancels a failure (theta1/theta0 = 1/4, and
        // (1-theta1)/(1-theta0) = 4).
        assert_eq!(t.walk(&seq("FSFFF")), None);
        assert_eq!(t.walk(&seq("FSFFFF")).map(|d| d.needed), Some(6));
        // Four successes decide "benign" and the walk starts again.
        assert_eq!(t.walk(&seq("SSSSFFF")), None);
        assert_eq!(t.walk(&seq("SSSSFFFF")).map(|d| d.needed), Some(8));
        assert_eq!(t.walk(&seq("SSSSSSSSSSSSSSSSSSSF")), None);
    }

    #[test]
    fn a_piece_keeps_the_earliest_first_contacts_whatever_the_arrival_order() {
        let mut all = seq(&"F".repeat(MAX_OBSERVATIONS + 20));
        // A repeat to pair 3, later: not a first contact.
        all.push(Observation {
            first: 500,
            failed: false,
            ..all[3]
        });
        let (mut forward, mut backward) = (Piece::default(), Piece::default());
        for o in &all {
            forward.keep(*o);
        }
        for o in all.iter().rev() {
            backward.keep(*o);
        }
        let (mut forward, mut backward) = (forward.obs.into_vec(), backward.obs.into_vec());
        forward.sort_by_key(Observation::order);
        backward.sort_by_key(Observation::order);
        assert_eq!(forward, backward);
        assert_eq!(forward.len(), MAX_OBSERVATIONS);
        assert_eq!(forward[3].first, 3);
        assert_eq!(forward.last().unwrap().first, MAX_OBSERVATIONS as Nanos - 1);
    }
    #[test]
    fn a_piece_holds_what_a_plain_model_holds_in_any_order() {
        // Random contacts to a few hundred pairs, repeats included, in
        // random time order; the model: each pair's earliest contact, the
        // earliest MAX_OBSERVATIONS of those.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..50 {
            let pairs = [10u64, 70, 400][round % 3];
            let mut piece = Piece::default();
            let mut model: std::collections::HashMap<(IpAddr, u16), Observation> =
                std::collections::HashMap::new();
            for _ in 0..2000 {
                let r = next();
                let pair = r % pairs;
                let o = Observation {
                    first: (r >> 20) as Nanos % 100_000,
                    settled: 0,
                    dst: IpAddr::from([192, 0, 2, (pair % 200) as u8]),
                    port: 80 + (pair / 200) as u16,
                    failed: r & 1 == 0,
                };
                piece.keep(o);
                let e = model.entry((o.dst, o.port)).or_insert(o);
                if o.order() < e.order() {
                    *e = o;
                }
            }
            let mut want: Vec<Observation> = model.into_values().collect();
            want.sort_by_key(Observation::order);
            want.truncate(MAX_OBSERVATIONS);
            let mut got = piece.obs.into_vec();
            got.sort_by_key(Observation::order);
            assert_eq!(got, want, "round {round}");
        }
    }
}

#[cfg(test)]
mod flood_tests {
    use super::*;
    use crate::event::{FlowKey, Verdict};

    fn failed(src: [u8; 4], dst: u8, t: Nanos) -> Outcome {
        Outcome {
            key: FlowKey {
                proto: TCP,
                src: IpAddr::from(src),
                sport: 40000,
                dst: IpAddr::from([192, 0, 2, dst]),
                dport: 445,
            },
            first: t,
            settled: t + 1,
            verdict: Verdict::Unanswered,
            stealth: false,
            tool: crate::event::Tool::Unknown,
        }
    }

    #[test]
    fn when_full_a_source_earns_a_piece_with_its_second_contact() {
        let limits = Limits {
            max_sources: 16 * 64,
            min_share: 1,
            ..Limits::default()
        };
        let rule = Trw::configure(&Detection::default(), &limits);
        let mut shard = rule.shard(1);
        // Fixed keys: which slots the sources take is then known.
        shard.hasher = ahash::RandomState::with_seeds(1, 2, 3, 4);
        // 64 pieces fill the table; then 10,000 one-contact sources and,
        // among them, a scanner's ten contacts, one every 50 sources.
        for i in 0..64u8 {
            shard.observe(&failed([198, 51, 100, i], 1, 1));
        }
        shard.flush();
        assert_eq!(shard.pieces.len(), 64);
        for i in 0..10_000u32 {
            let [_, _, a, b] = i.to_be_bytes();
            shard.observe(&failed([203, 0, a, b], 2, 10 + i as Nanos));
            if i % 50 == 49 && i < 500 {
                shard.observe(&failed([192, 0, 2, 250], (i / 50) as u8, 10 + i as Nanos));
            }
        }
        shard.flush();
        // The one-contact sources never got a piece; the scanner did,
        // with its first contact too unless another source took its slot
        // (256 slots, 50 sources between contacts).
        let scanner = (IpAddr::from([192, 0, 2, 250]), 0);
        let got = shard.pieces.get(&scanner).map_or(0, |p| p.obs.len());
        assert!(got >= 8, "{got}");
        assert!(shard.pieces.len() <= 64, "{}", shard.pieces.len());
        let flood =
            |(src, _): &(IpAddr, i64)| matches!(src, IpAddr::V4(a) if a.octets()[..2] == [203, 0]);
        assert!(
            !shard.pieces.keys().any(flood),
            "a one-contact source got a piece"
        );
        assert!(shard.evicted > 9_000, "{}", shard.evicted);
        let mut out = Vec::new();
        shard.close_through(0, &mut out);
        assert!(out.iter().any(|p| p.src == scanner.0 && p.obs.len() == got));
        assert!(shard.waiting.iter().all(Option::is_none));
    }
}
