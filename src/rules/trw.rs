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
        TrwShard {
            home: NetSet::new(&self.home),
            bin: self.bin,
            // A sixteenth of the seed rule's (source, bin) cap: a source
            // needs several first contacts to be decided at all, and
            // under a spoofed flood the table holds one-contact sources.
            cap: (self.limits.per_shard(shards).max_sources / 16).max(self.limits.min_share),
            pieces: AHashMap::default(),
            waiting: Vec::new(),
            hasher: ahash::RandomState::new(),
            evicted: 0,
            peak: 0,
        }
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
    /// When `pieces` is full: a new source's first contact waits here,
    /// one per slot (four slots per piece), for its second, which earns
    /// it a piece. A spoofed
    /// flood's one-contact sources then cost a slot write each, not a
    /// piece and their share of an eviction. Empty until first full.
    waiting: Vec<Option<((IpAddr, i64), Observation)>>,
    hasher: ahash::RandomState,
    evicted: u64,
    peak: usize,
}

impl TrwShard {
    /// The slot of `key` in `waiting`.
    fn slot(&self, key: &(IpAddr, i64)) -> usize {
        let h = self.hasher.hash_one(key);
        crate::sketch::slot(h, self.waiting.len())
    }

    /// A contact of a source with no piece while the table is full: the
    /// first waits in its slot (pushing out, uncounted, whoever waited
    /// there: counted as evicted); the second makes a piece of both.
    fn wait_or_admit(&mut self, key: (IpAddr, i64), o: Observation) {
        if self.waiting.is_empty() {
            self.waiting = vec![None; (4 * self.cap).next_power_of_two()];
        }
        let at = self.slot(&key);
        match self.waiting[at].take() {
            Some((k, first)) if k == key => {
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
                    }
                }
                let piece = self.pieces.entry(key).or_default();
                piece.keep(first);
                piece.keep(o);
            }
            other => {
                self.evicted += other.is_some() as u64;
                self.waiting[at] = Some((key, o));
            }
        }
    }
}

/// A (source, bin)'s earliest first contacts on one shard.
#[derive(Default)]
struct Piece {
    /// Inline up to four: what a spoofed flood's sources (one contact
    /// each) and most clients need, without an allocation each.
    obs: SmallVec<[Observation; 2]>,
    /// Once `obs` is full: the latest of them. A contact after it can
    /// change nothing (the common case: a scan goes on in time order), and
    /// is dismissed without a look at the others.
    latest: Option<(Nanos, IpAddr, u16)>,
    /// One bit per (host, port) held, by a hash of the pair: a pair whose
    /// bit is clear is new, and needs no look through `obs`.
    seen: u64,
}

/// The bit of `seen` for a (host, port) pair.
#[inline]
fn pair_bit(dst: &IpAddr, port: u16) -> u64 {
    let h =
        (crate::sketch::fold_ip(dst) ^ u64::from(port) << 32).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    1 << (h >> 58)
}

impl Piece {
    fn keep(&mut self, o: Observation) {
        if self.latest.is_some_and(|l| o.order() >= l) {
            return;
        }
        let bit = pair_bit(&o.dst, o.port);
        if self.seen & bit == 0 && self.obs.len() < MAX_OBSERVATIONS {
            self.obs.push(o);
        } else {
            TrwShard::keep(&mut self.obs, o);
        }
        self.seen |= bit;
        if self.obs.len() == MAX_OBSERVATIONS {
            self.latest = self.obs.iter().map(Observation::order).max();
        }
    }
}

impl TrwShard {
    /// Keep `o` among the earliest distinct (host, port) contacts of its
    /// piece: whatever order outcomes come in, the piece ends as the
    /// `MAX_OBSERVATIONS` earliest first contacts.
    fn keep(obs: &mut SmallVec<[Observation; 2]>, o: Observation) {
        if let Some(same) = obs.iter_mut().find(|x| (x.dst, x.port) == (o.dst, o.port)) {
            // A second attempt to the same pair: the first contact is the
            // earlier one.
            if o.order() < same.order() {
                *same = o;
            }
            return;
        }
        if obs.len() < MAX_OBSERVATIONS {
            obs.push(o);
            return;
        }
        let (at, latest) = obs
            .iter()
            .enumerate()
            .max_by_key(|(_, x)| x.order())
            .map(|(i, x)| (i, x.order()))
            .expect("a full piece");
        if o.order() < latest {
            obs[at] = o;
        }
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
        let full = self.pieces.len() >= self.cap;
        match self.pieces.entry(key) {
            Entry::Occupied(e) => e.into_mut().keep(obs),
            Entry::Vacant(e) if !full => e.insert(Piece::default()).keep(obs),
            // Full (spoofed sources): a source earns a piece with its
            // second contact.
            Entry::Vacant(_) => self.wait_or_admit(key, obs),
        }
        self.peak = self.peak.max(self.pieces.len());
    }

    fn close_through(&mut self, through: i64, out: &mut Vec<TrwPartial>) {
        // Contacts still waiting for a second are given up with their bin.
        for w in &mut self.waiting {
            if w.as_ref().is_some_and(|((_, bin), _)| *bin <= through) {
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
        assert_eq!(shard.pieces.len(), 64);
        for i in 0..10_000u32 {
            let [_, _, a, b] = i.to_be_bytes();
            shard.observe(&failed([203, 0, a, b], 2, 10 + i as Nanos));
            if i % 50 == 49 && i < 500 {
                shard.observe(&failed([192, 0, 2, 250], (i / 50) as u8, 10 + i as Nanos));
            }
        }
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
