//! Early alert (`early`; detection contract 6.1): the seed rule's
//! thresholds, checked as the failed attempts of a (source, bin) become
//! known, so a scan is reported the moment it crosses them rather than
//! when its bin closes. One alert per (source, bin), with the seed row's
//! columns as they stood at `DetectedAt`.
//!
//! A failure is *known* at the sensor clock when its rejection was read,
//! at its own first packet for a stealth probe (it can never be answered),
//! and at first packet + answer timeout for an unanswered attempt.
//!
//! Sharding is by address pair, so a source's failures are spread over the
//! shards, and the exact crossing needs all of them in time order. Sending
//! every failure to the merger would cost a message per spoofed packet, so
//! each shard keeps a (source, bin)'s first few failures to itself and
//! only streams them once the piece is *hot*: it holds `ceil(m / shards)`
//! failures, where `m` is the fewest failures that can cross a threshold
//! (10 with the defaults). A crossing needs `m` failures in all, so by the
//! time it happens at least one shard's piece is hot (pigeonhole); the
//! merger then asks every shard for its piece of that (source, bin)
//! (a *want* notice), and judges the failures in capture time order up to
//! the time every shard has reported through. A spoofed flood, one
//! failure per source, never leaves the shards.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, VecDeque};
use std::net::IpAddr;

use ahash::{AHashMap, AHashSet};

use super::fingerprint::{Fingerprint, Votes};
use super::seed::{ScanType, Seed, SourceSummary};
use super::{Judgement, MergeStats, Rule, RuleCounters, RuleShard};
use crate::config::{self, Detection, Limits, NetSet};
use crate::event::{Event, Kind, Outcome, Tool, Verdict, UDP};
use crate::finding::{Finding, Value};
use crate::sketch::portset::PortSet;
use crate::sketch::prefetch_map::PrefetchMap;
use crate::time::Nanos;

#[derive(Clone, Debug)]
pub struct Early {
    /// Thresholds, columns and the allow list are the seed rule's.
    pub seed: Seed,
    /// Open (source, bin)s the merger follows at once; past it, new ones
    /// are dropped (counted).
    pub max_open: usize,
    /// Name the tool in alerts (`Tool`, `ToolConfidence`), from the
    /// failures that made them: set when the fingerprint rule is on.
    pub name_tools: bool,
}

/// One failed attempt, as a shard reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Failure {
    /// When it became known (the order the merger judges in).
    pub known_at: Nanos,
    pub src: IpAddr,
    pub bin: i64,
    pub first: Nanos,
    pub dst: IpAddr,
    pub port: u16,
    pub rejected: bool,
    pub udp: bool,
    pub stealth: bool,
    /// The tool the probe's header fields point to.
    pub tool: Tool,
}

/// What the merger asks of every shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Report every failure of this (source, bin), past and future.
    Want(IpAddr, i64),
    /// Its alert is written (or it is allow-listed): stop reporting.
    Done(IpAddr, i64),
    /// Bins up to this one are judged: forget them.
    Judged(i64),
}

impl Rule for Early {
    const NAME: &'static str = "early";
    type Shard = EarlyShard;
    /// Everything goes through updates: nothing waits for bins to close.
    type Partial = (i64, IpAddr);
    type Update = Failure;
    type Notice = Notice;
    type Live = Judging;

    fn configure(det: &Detection, limits: &Limits) -> Self {
        Early {
            seed: Seed::new(det, limits),
            max_open: limits.max_sources,
            name_tools: false,
        }
    }

    fn shard(&self, shards: usize) -> EarlyShard {
        let d = &self.seed.det;
        // The fewest failures that can meet a threshold: the port
        // threshold alone, or the host threshold with the attempt floor.
        let fewest = u64::from(d.min_ports).min(u64::from(d.min_ips).max(d.min_attempts));
        let shards = shards.max(1) as u64;
        EarlyShard {
            home: NetSet::new(&d.home),
            bin: d.bin,
            hot_at: fewest.div_ceil(shards).max(1) as usize,
            pieces: PrefetchMap::new(),
            log: Vec::new(),
            spare: Vec::new(),
            queue: VecDeque::with_capacity(DEPTH + 1),
            cap: self.seed.limits.per_shard(shards as usize).max_sources,
            judged_through: i64::MIN,
            updates: Vec::new(),
            evicted: 0,
        }
    }

    fn key(p: &(i64, IpAddr)) -> (i64, IpAddr) {
        *p
    }

    fn merge(_into: &mut (i64, IpAddr), _p: (i64, IpAddr)) {}

    fn evaluate(&self, _p: &(i64, IpAddr)) -> Judgement {
        Judgement::Below
    }

    fn absorb_updates(
        &self,
        live: &mut Judging,
        ups: Vec<Failure>,
        notices: &mut Vec<Notice>,
        stats: &mut MergeStats,
    ) {
        for f in ups {
            if f.bin <= live.judged_through {
                stats.updates_dropped += 1;
                continue;
            }
            let open = live.open.len();
            let p = match live.open.entry((f.src, f.bin)) {
                Entry::Occupied(e) => match e.into_mut() {
                    Progress::Counting(p) => p,
                    Progress::Alerted => continue,
                },
                Entry::Vacant(e) => {
                    if open >= self.max_open {
                        stats.updates_dropped += 1;
                        continue;
                    }
                    notices.push(Notice::Want(f.src, f.bin));
                    match e.insert(Progress::Counting(Box::default())) {
                        Progress::Counting(p) => p,
                        Progress::Alerted => unreachable!("just inserted"),
                    }
                }
            };
            if f.known_at > p.crossed_by {
                // Its alert is decided without it.
                continue;
            }
            if f.known_at < p.due_at {
                p.due_at = f.known_at;
                live.due.push(Reverse((f.known_at, f.src, f.bin)));
            }
            p.waiting.push(f);
            if p.waiting.len() >= 2 * p.checked.max(CHECK_FROM) {
                p.bound(&self.seed);
            }
        }
    }

    fn advance_live(
        &self,
        live: &mut Judging,
        through: Nanos,
        out: &mut Vec<Finding>,
        notices: &mut Vec<Notice>,
        stats: &mut MergeStats,
    ) {
        let from = out.len();
        while let Some(&Reverse((t, src, bin))) = live.due.peek() {
            if t > through {
                break;
            }
            live.due.pop();
            let key = (src, bin);
            let Some(Progress::Counting(p)) = live.open.get_mut(&key) else {
                continue;
            };
            if p.due_at != t {
                // Stale: a failure known earlier came in after this entry.
                continue;
            }
            p.due_at = Nanos::MAX;
            let Some((at, scan)) = p.judge_through(&self.seed, through) else {
                if let Some(first) = p.waiting.first() {
                    p.due_at = first.known_at;
                    live.due.push(Reverse((p.due_at, src, bin)));
                }
                continue;
            };
            let summary = p.counts.summary(src, bin);
            let total = p.counts.total;
            let tool = self
                .name_tools
                .then(|| Fingerprint::judge(&p.counts.votes))
                .flatten();
            live.open.insert(key, Progress::Alerted);
            notices.push(Notice::Done(src, bin));
            if config::contains(&self.seed.det.allow, &src) {
                stats.early_allowed += 1;
                continue;
            }
            let mut fields = self.seed.fields(&summary, scan.as_str());
            fields.push(("DetectedAt", Value::Time(at)));
            if let Some((tool, confidence)) = tool {
                fields.push(("Tool", Value::Text(tool.name())));
                fields.push(("ToolConfidence", Value::Text(confidence)));
            }
            out.push(Finding {
                rule: Self::NAME,
                window_start: bin * self.seed.det.bin,
                source: src,
                weight: total,
                detected_at: Some(at),
                fields,
            });
        }
        // Alerts in the order of their moments (then source, bin), as one
        // queue of every failure would have found them.
        out[from..].sort_by_key(|f| (f.detected_at, f.source, f.window_start));
        // Every failure of bin `b` is known by its end + answer timeout
        // (the moment the bin closes): bins whose close has passed are
        // over.
        let d = &self.seed.det;
        let over = through
            .saturating_sub(d.answer_timeout)
            .div_euclid(d.bin)
            .saturating_sub(1);
        if through > Nanos::MIN && over > live.judged_through {
            live.judged_through = over;
            live.open.retain(|&(_, bin), _| bin > over);
            notices.push(Notice::Judged(over));
        }
    }
}

/// A followed (source, bin) works out where its failures so far cross the
/// thresholds once it has this many waiting (and again each time they
/// double): failures known later than that can be let go.
const CHECK_FROM: usize = 16;

/// The merger's view: each followed (source, bin)'s counts so far and the
/// failures that wait for every shard to report through their time, and
/// when each is next due.
pub struct Judging {
    /// (earliest waiting failure's time, source, bin), earliest first; an
    /// entry whose time is no longer its (source, bin)'s `due_at` is stale.
    due: BinaryHeap<Reverse<(Nanos, IpAddr, i64)>>,
    open: AHashMap<(IpAddr, i64), Progress>,
    judged_through: i64,
}

impl Default for Judging {
    fn default() -> Self {
        Judging {
            due: BinaryHeap::new(),
            open: AHashMap::default(),
            judged_through: i64::MIN,
        }
    }
}

enum Progress {
    Counting(Box<Following>),
    Alerted,
}

/// A (source, bin) the merger follows. Each (source, bin) is judged on its
/// own failures alone, so it keeps them itself: one queue of every
/// failure (the first design) held every failure streamed while the
/// slowest shard caught up, and at a crossing moment hundreds per source
/// in the unanswered benchmark.
struct Following {
    /// Failures judged so far (known at or before the last `through`).
    counts: Counts,
    /// Failures not yet judged, in no particular order.
    waiting: Vec<Failure>,
    /// The earliest time in `waiting` that has an entry in `due`
    /// (`Nanos::MAX`: none).
    due_at: Nanos,
    /// The thresholds are crossed by this time with the failures received
    /// so far (`Nanos::MAX`: not yet); more failures can only bring the
    /// crossing earlier, so later ones are of no use.
    crossed_by: Nanos,
    /// `waiting`'s length when `crossed_by` was last worked out.
    checked: usize,
}

impl Default for Following {
    fn default() -> Self {
        Following {
            counts: Counts::default(),
            waiting: Vec::new(),
            due_at: Nanos::MAX,
            crossed_by: Nanos::MAX,
            checked: 0,
        }
    }
}

impl Following {
    /// Work out `crossed_by` from what has come in so far, and let go of
    /// the failures known after it.
    fn bound(&mut self, seed: &Seed) {
        self.waiting.sort_unstable_by_key(|f| f.known_at);
        let mut trial = self.counts.clone();
        if let (n, Some((at, _))) = count_until_crossed(seed, &self.waiting, Nanos::MAX, &mut trial)
        {
            self.crossed_by = self.crossed_by.min(at);
            self.waiting.truncate(n);
        }
        self.checked = self.waiting.len();
    }

    /// Count the waiting failures known by `through`, in time order, up to
    /// the first moment the thresholds are met: that moment and the scan
    /// type, with `counts` as they stand at it; `None` if they are not met
    /// by `through`.
    fn judge_through(&mut self, seed: &Seed, through: Nanos) -> Option<(Nanos, ScanType)> {
        self.waiting.sort_unstable_by_key(|f| f.known_at);
        let (n, at) = count_until_crossed(seed, &self.waiting, through, &mut self.counts);
        if at.is_none() {
            self.waiting.drain(..n);
            self.checked = self.checked.min(self.waiting.len());
        }
        at
    }
}

/// Add `sorted`'s failures known by `through` to `counts` a moment at a
/// time (every failure known at the same moment, then the thresholds),
/// stopping at the first moment the thresholds are met: how many were
/// counted, and that moment (with the scan type) if there was one.
fn count_until_crossed(
    seed: &Seed,
    sorted: &[Failure],
    through: Nanos,
    counts: &mut Counts,
) -> (usize, Option<(Nanos, ScanType)>) {
    let mut i = 0;
    while let Some(at) = sorted.get(i).map(|f| f.known_at).filter(|&t| t <= through) {
        while let Some(f) = sorted.get(i).filter(|f| f.known_at == at) {
            counts.add(f);
            i += 1;
        }
        if let Some(scan) = seed.scan_type(counts.ports.len(), counts.ips(), counts.total) {
            return (i, Some((at, scan)));
        }
    }
    (i, None)
}

/// A (source, bin)'s failures counted so far. Before a crossing there are
/// fewer than 10 ports and, unless there are fewer than 5 hosts, fewer
/// than 30 failures; but the moment of a crossing can bring hundreds at
/// once (when the pending table is full, the attempts it evicts all
/// become known as unanswered at the same clock).
#[derive(Clone, Default)]
struct Counts {
    ports: PortSet,
    /// Distinct destinations (hashed with per-process random keys: they
    /// are the sender's choice, and a sweep's can be many).
    dsts: AHashSet<IpAddr>,
    total: u64,
    first: Nanos,
    last: Nanos,
    rejected: u64,
    udp: u64,
    stealth: u64,
    /// The failures' votes for each named tool.
    votes: Votes,
}

impl Counts {
    fn add(&mut self, f: &Failure) {
        if self.total == 0 {
            (self.first, self.last) = (f.first, f.first);
        }
        self.ports.insert(f.port);
        self.dsts.insert(f.dst);
        self.total += 1;
        self.first = self.first.min(f.first);
        self.last = self.last.max(f.first);
        self.rejected += f.rejected as u64;
        self.udp += f.udp as u64;
        self.stealth += f.stealth as u64;
        if let Some(i) = f.tool.index() {
            self.votes[i] = self.votes[i].saturating_add(1);
        }
    }

    fn ips(&self) -> u32 {
        self.dsts.len() as u32
    }

    fn summary(&self, src: IpAddr, bin: i64) -> SourceSummary {
        SourceSummary {
            bin,
            src,
            ports: self.ports.clone(),
            unique_ips: self.ips(),
            ips_saturated: false,
            total: saturate(self.total),
            first: self.first,
            last: self.last,
            rejected: saturate(self.rejected),
            udp: saturate(self.udp),
            stealth: saturate(self.stealth),
            hosts: Default::default(),
        }
    }
}

/// A count in a summary's 32 bits.
fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Where a piece stands on its shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Fewer failures than make it hot: kept here, in the log.
    Cold,
    /// Streamed to the merger as they come.
    Hot,
    /// The merger has judged it: nothing more to say.
    Done,
}

/// One shard's piece of a (source, bin): a count and, while cold, its
/// failures as a chain through the shard's log (no allocation per piece:
/// under a spoofed flood every failure is a piece of its own).
#[derive(Clone, Copy, Debug)]
struct Piece {
    count: u32,
    head: u32,
    tail: u32,
    state: State,
}

/// A kept failure and the next of its piece (`END`: none).
struct Logged {
    f: Failure,
    next: u32,
}

const END: u32 = u32::MAX;

/// Failures waiting for their piece's memory to arrive (see
/// `seed/failures.rs` for the same idea): the table slot is fetched on
/// entering the queue, the piece it points at `PIECE_STAGE` places on.
const DEPTH: usize = 8;
const PIECE_STAGE: usize = 3;

/// The early rule on one shard.
pub struct EarlyShard {
    home: NetSet,
    bin: Nanos,
    /// A piece with this many failures is hot.
    hot_at: usize,
    pieces: PrefetchMap<(IpAddr, i64), Piece>,
    log: Vec<Logged>,
    /// Where `compact` writes the next log.
    spare: Vec<Logged>,
    queue: VecDeque<(u64, Failure)>,
    cap: usize,
    /// Bins up to this one are judged by the merger.
    judged_through: i64,
    updates: Vec<Failure>,
    evicted: u64,
}

impl EarlyShard {
    #[inline(always)]
    fn add(&mut self, f: Failure) {
        if f.bin <= self.judged_through {
            return;
        }
        let h = self.pieces.hash(&(f.src, f.bin));
        self.pieces.prefetch_slot(h);
        self.queue.push_back((h, f));
        if let Some(i) = self.queue.len().checked_sub(PIECE_STAGE + 1) {
            self.pieces.prefetch(self.queue[i].0);
        }
        if self.queue.len() > DEPTH {
            if let Some((h, f)) = self.queue.pop_front() {
                self.count(h, f);
            }
        }
    }

    /// Count every failure still queued.
    fn flush(&mut self) {
        while let Some((h, f)) = self.queue.pop_front() {
            self.count(h, f);
        }
    }

    /// Always inlined (into `add`), with a new piece's set-up a call of
    /// its own: as one call per failure it cost 18 instructions of call
    /// alone.
    #[inline(always)]
    fn count(&mut self, h: u64, f: Failure) {
        let key = (f.src, f.bin);
        let Some(p) = self.pieces.get_mut(&key, h) else {
            self.new_piece(h, f);
            return;
        };
        match p.state {
            State::Cold => {
                let at = self.log.len() as u32;
                self.log.push(Logged { f, next: END });
                self.log[p.tail as usize].next = at;
                p.tail = at;
                p.count += 1;
                if p.count as usize >= self.hot_at {
                    p.state = State::Hot;
                    let head = p.head;
                    self.send_chain(head);
                }
            }
            State::Hot => self.updates.push(f),
            State::Done => {}
        }
    }

    /// The first failure of a (source, bin) on this shard.
    #[inline(never)]
    fn new_piece(&mut self, h: u64, f: Failure) {
        if self.pieces.len() >= self.cap {
            self.evict();
        }
        let piece = if self.hot_at <= 1 {
            self.updates.push(f);
            Piece {
                count: 1,
                head: END,
                tail: END,
                state: State::Hot,
            }
        } else {
            let at = self.log.len() as u32;
            self.log.push(Logged { f, next: END });
            Piece {
                count: 1,
                head: at,
                tail: at,
                state: State::Cold,
            }
        };
        self.pieces.insert((f.src, f.bin), h, piece);
    }

    /// Hand the merger a cold piece's kept failures.
    fn send_chain(&mut self, mut at: u32) {
        while at != END {
            let l = &self.log[at as usize];
            self.updates.push(l.f);
            at = l.next;
        }
    }

    /// Keep only the log entries of cold pieces (the rest are failures
    /// sent on, or of pieces given up): the log stays as small as the
    /// pieces it serves.
    #[cold]
    fn compact(&mut self) {
        // Into the spare buffer, which becomes the log: no fresh memory
        // (and page faults) per compaction.
        let old = std::mem::take(&mut self.log);
        let mut log = std::mem::take(&mut self.spare);
        log.clear();
        self.pieces.retain(|_, p| {
            if p.state == State::Cold {
                let mut at = p.head;
                p.head = log.len() as u32;
                while at != END {
                    let l = &old[at as usize];
                    log.push(Logged {
                        f: l.f,
                        next: log.len() as u32 + 1,
                    });
                    at = l.next;
                }
                p.tail = log.len() as u32 - 1;
                log[p.tail as usize].next = END;
            }
            true
        });
        self.log = log;
        self.spare = old;
    }

    /// Make room: cold pieces of a single failure go first (a spoofed
    /// flood's), then every cold piece if that freed too little.
    #[cold]
    fn evict(&mut self) {
        let before = self.pieces.len();
        self.pieces
            .retain(|_, p| !(p.state == State::Cold && p.count <= 1));
        if self.pieces.len() * 8 > self.cap * 7 {
            self.pieces.retain(|_, p| p.state != State::Cold);
        }
        self.evicted += (before - self.pieces.len()) as u64;
        self.compact();
    }
}

impl RuleShard for EarlyShard {
    type Partial = (i64, IpAddr);
    type Update = Failure;
    type Notice = Notice;

    #[inline]
    fn observe(&mut self, o: &Outcome) {
        // Stealth probes were counted when they were sent.
        if !o.failed() || o.stealth || o.key.dport == 0 || self.home.contains(&o.key.src) {
            return;
        }
        self.add(Failure {
            known_at: o.settled,
            src: o.key.src,
            bin: o.first.div_euclid(self.bin),
            first: o.first,
            dst: o.key.dst,
            port: o.key.dport,
            rejected: o.verdict == Verdict::Rejected,
            udp: o.key.proto == UDP,
            stealth: false,
            tool: o.tool,
        });
    }

    #[inline]
    fn observe_opened(&mut self, ev: &Event, clock: Nanos) {
        if !matches!(ev.kind, Kind::Stealth(_)) || ev.dport == 0 || self.home.contains(&ev.src) {
            return;
        }
        // A stealth probe is failed from the moment it is read; whether a
        // RST comes later only decides rejected or unanswered, which the
        // seed row counts and the alert does not wait for.
        self.add(Failure {
            known_at: clock,
            src: ev.src,
            bin: ev.ts.div_euclid(self.bin),
            first: ev.ts,
            dst: ev.dst,
            port: ev.dport,
            rejected: false,
            udp: false,
            stealth: true,
            tool: ev.tool,
        });
    }

    fn close_through(&mut self, _through: i64, _out: &mut Vec<(i64, IpAddr)>) {}

    fn take_updates(&mut self, out: &mut Vec<Failure>) {
        self.flush();
        out.append(&mut self.updates);
    }

    fn notice(&mut self, n: &Notice) {
        self.flush();
        match *n {
            Notice::Want(src, bin) if bin > self.judged_through => {
                let h = self.pieces.hash(&(src, bin));
                match self.pieces.get_mut(&(src, bin), h) {
                    Some(p) if p.state == State::Cold => {
                        p.state = State::Hot;
                        let head = p.head;
                        self.send_chain(head);
                    }
                    Some(_) => {}
                    None => self.pieces.insert(
                        (src, bin),
                        h,
                        Piece {
                            count: 0,
                            head: END,
                            tail: END,
                            state: State::Hot,
                        },
                    ),
                }
            }
            Notice::Want(..) => {}
            Notice::Done(src, bin) => {
                let h = self.pieces.hash(&(src, bin));
                if let Some(p) = self.pieces.get_mut(&(src, bin), h) {
                    p.state = State::Done;
                }
            }
            Notice::Judged(through) => {
                if through > self.judged_through {
                    self.judged_through = through;
                    self.pieces.retain(|&(_, bin), _| bin > through);
                    self.compact();
                    // A judged window's memory goes back.
                    self.pieces.shrink();
                    self.spare = Vec::new();
                    self.log.shrink_to(self.log.len() * 2);
                }
            }
        }
    }

    fn flush(&mut self) {
        EarlyShard::flush(self);
    }

    fn count(&self, c: &mut RuleCounters) {
        c.early_evicted += self.evicted;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::NANOS_PER_SEC;

    /// A few hosts and ports, times with repeats: crossings that come by
    /// ports, by hosts, and with several failures at one moment.
    fn failures(seed: u64) -> Vec<Failure> {
        let mut x = seed | 1;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        (0..240)
            .map(|_| {
                let src = IpAddr::from([203, 0, 113, 1 + next(3) as u8]);
                let first = next(40) as Nanos * NANOS_PER_SEC / 4;
                Failure {
                    known_at: first + next(3) as Nanos * NANOS_PER_SEC,
                    src,
                    bin: 0,
                    first,
                    dst: IpAddr::from([192, 0, 2, next(7) as u8]),
                    port: 20 + next(12) as u16,
                    rejected: next(2) == 0,
                    udp: false,
                    stealth: false,
                    tool: Tool::Unknown,
                }
            })
            .collect()
    }

    /// The plain model: every failure in time order, a moment at a time.
    fn plain(early: &Early, all: &[Failure]) -> Vec<Finding> {
        let mut all = all.to_vec();
        all.sort();
        let mut counts: AHashMap<(IpAddr, i64), Counts> = AHashMap::default();
        let mut done = Vec::new();
        let mut out = Vec::new();
        for (i, f) in all.iter().enumerate() {
            let key = (f.src, f.bin);
            if done.contains(&key) {
                continue;
            }
            let c = counts.entry(key).or_default();
            c.add(f);
            let moment_ends = all
                .get(i + 1)
                .is_none_or(|g| (g.known_at, g.src, g.bin) != (f.known_at, f.src, f.bin));
            let seed = &early.seed;
            if !moment_ends {
                continue;
            }
            let Some(scan) = seed.scan_type(c.ports.len(), c.ips(), c.total) else {
                continue;
            };
            done.push(key);
            let mut fields = seed.fields(&c.summary(f.src, f.bin), scan.as_str());
            fields.push(("DetectedAt", Value::Time(f.known_at)));
            out.push(Finding {
                rule: Early::NAME,
                window_start: 0,
                source: f.src,
                weight: c.total,
                detected_at: Some(f.known_at),
                fields,
            });
        }
        out
    }

    #[test]
    fn alerts_are_the_plain_models_whatever_the_arrival_order() {
        let early = Early::configure(&Detection::default(), &Limits::default());
        for seed in 1..40u64 {
            let all = failures(seed * 0x9e37_79b9);
            let want = plain(&early, &all);
            assert!(!want.is_empty());
            // Arrival: shards report out of time order, in chunks; the
            // merger judges up to just before the earliest failure still
            // to come.
            let mut arrival = all.clone();
            let mut x = seed;
            for i in (1..arrival.len()).rev() {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                arrival.swap(i, (x >> 33) as usize % (i + 1));
            }
            let (mut live, mut stats) = (Judging::default(), MergeStats::default());
            let (mut got, mut notices) = (Vec::new(), Vec::new());
            let chunk = 1 + seed as usize % 37;
            for (k, part) in arrival.chunks(chunk).enumerate() {
                early.absorb_updates(&mut live, part.to_vec(), &mut notices, &mut stats);
                let rest = &arrival[((k + 1) * chunk).min(arrival.len())..];
                let through = rest
                    .iter()
                    .map(|f| f.known_at)
                    .min()
                    .map_or(Nanos::MAX - 1, |t| t - 1);
                early.advance_live(&mut live, through, &mut got, &mut notices, &mut stats);
            }
            assert_eq!(got, want, "seed {seed}");
        }
    }
}
