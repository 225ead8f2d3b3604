//! Aggregate stage: one per shard. Resolves attempts to outcomes and counts
//! the failed ones per (source, bin); closes bins as the clock passes them.

pub mod destset;
pub mod failures;
pub mod pending;
pub mod portset;
pub mod prefetch_map;
pub mod sources;
pub mod udp_flows;

use hdrhistogram::Histogram;

use crate::config::{Detection, Limits, NetSet};
use crate::event::{Event, FlowKey, Kind, TCP};
use crate::time::Nanos;
use failures::FailureQueue;
use pending::{Attempt, PendingTable, Probe};
use sources::BinTable;
pub use sources::SourceSummary;
use udp_flows::UdpFlows;

/// Ask the CPU to start fetching the cache line at `p`: the aggregators'
/// tables are read at random, and every lookup known a few steps ahead is
/// fetched this way. A hint only: it never faults, whatever `p` is.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: _mm_prefetch reads nothing architecturally and cannot fault.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// What one aggregator counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AggStats {
    pub events: u64,
    pub attempts_tcp: u64,
    pub attempts_udp: u64,
    pub stealth_probes: u64,
    pub answered: u64,
    pub rejected: u64,
    pub unanswered: u64,
    pub retransmissions: u64,
    pub echo_requests: u64,
    /// Probes from home networks (never candidates).
    pub home_probes: u64,
    /// Probes to port 0 (excluded from the seed rule).
    pub port_zero: u64,
    /// Probes whose bin had already closed (timestamps far out of order).
    pub late_probes: u64,
    pub pending_evicted: u64,
    pub sources_evicted: u64,
    pub udp_flows_evicted: u64,
    pub dest_sets_saturated: u64,
    pub pending_now: u64,
    pub sources_now: u64,
    pub peak_pending: u64,
    pub peak_sources: u64,
    /// Peak heap bytes of port and host sets.
    pub peak_set_bytes: u64,
}

impl AggStats {
    pub fn add(&mut self, o: &AggStats) {
        self.events += o.events;
        self.attempts_tcp += o.attempts_tcp;
        self.attempts_udp += o.attempts_udp;
        self.stealth_probes += o.stealth_probes;
        self.answered += o.answered;
        self.rejected += o.rejected;
        self.unanswered += o.unanswered;
        self.retransmissions += o.retransmissions;
        self.echo_requests += o.echo_requests;
        self.home_probes += o.home_probes;
        self.port_zero += o.port_zero;
        self.late_probes += o.late_probes;
        self.pending_evicted += o.pending_evicted;
        self.sources_evicted += o.sources_evicted;
        self.udp_flows_evicted += o.udp_flows_evicted;
        self.dest_sets_saturated += o.dest_sets_saturated;
        self.pending_now += o.pending_now;
        self.sources_now += o.sources_now;
        self.peak_pending += o.peak_pending;
        self.peak_sources += o.peak_sources;
        self.peak_set_bytes += o.peak_set_bytes;
    }

    pub fn attempts(&self) -> u64 {
        self.attempts_tcp + self.attempts_udp
    }
}

/// Delay from an attempt's first packet to its answer, in microseconds.
pub fn new_delay_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

pub struct Aggregator {
    det: Detection,
    /// `det.home`, for the per-probe check.
    home: NetSet,
    clock: Nanos,
    /// Every bin up to this index is closed.
    closed_through: i64,
    /// The clock value at which the next bin closes.
    next_close_at: Nanos,
    pending: PendingTable,
    flows: UdpFlows,
    bins: BinTable,
    /// Failures on their way into `bins`.
    failed: FailureQueue,
    stats: AggStats,
    delays: Histogram<u64>,
    closed: Vec<SourceSummary>,
    /// Reused by `handle_batch`: one lookup hash per event.
    hashes: Vec<u64>,
}

impl Aggregator {
    /// One of `shards` aggregators, each holding its share of `limits`.
    pub fn new(shards: usize, det: Detection, limits: &Limits) -> Self {
        let shard_limits = limits.per_shard(shards);
        Aggregator {
            clock: Nanos::MIN,
            closed_through: i64::MIN,
            next_close_at: Nanos::MIN,
            pending: PendingTable::new(det.answer_timeout, shard_limits.max_pending),
            flows: UdpFlows::new(det.answer_timeout, shard_limits.max_udp_flows),
            bins: BinTable::new(
                shard_limits.max_sources,
                shard_limits.max_dests_per_source,
                shard_limits.max_set_bytes,
            ),
            home: NetSet::new(&det.home),
            failed: FailureQueue::new(det.bin),
            det,
            stats: AggStats::default(),
            delays: new_delay_histogram(),
            closed: Vec::new(),
            hashes: Vec::new(),
        }
    }

    /// The last bin that can close at `clock`: bin `b` closes once the clock
    /// passes its end plus the answer timeout, when none of its attempts can
    /// still be answered.
    fn closable_through(&self, clock: Nanos) -> i64 {
        (clock - self.det.answer_timeout - 1).div_euclid(self.det.bin) - 1
    }

    #[inline]
    fn bin_of(&self, t: Nanos) -> i64 {
        t.div_euclid(self.det.bin)
    }

    /// Move the clock forward (never back), closing bins it passes.
    #[inline]
    pub fn advance(&mut self, clock: Nanos) {
        if clock <= self.clock {
            return;
        }
        self.clock = clock;
        if self.pending.expiry_due(clock) {
            self.expire_pending();
        }
        if clock >= self.next_close_at {
            self.close_bins();
        }
    }

    /// Count the attempts whose deadline passed as unanswered.
    fn expire_pending(&mut self) {
        let (bins, stats, failed) = (&mut self.bins, &mut self.stats, &mut self.failed);
        let closed = self.closed_through;
        self.pending.expire(self.clock, |k, a| {
            failed.push(bins, stats, closed, &k, a, false)
        });
    }

    #[cold]
    fn close_bins(&mut self) {
        let through = self.closable_through(self.clock);
        if self.closed_through == i64::MIN {
            // First packet: bins before it hold nothing.
            self.closed_through = through;
        } else if through > self.closed_through {
            self.sweep_pending();
            self.bins.close_through(through, &mut self.closed);
            self.closed_through = through;
        }
        self.next_close_at = (self.closed_through + 2) * self.det.bin + self.det.answer_timeout + 1;
    }

    /// Handle a batch of events in order. Each event's pending-table slot
    /// is prefetched a few events ahead: with millions of attempts pending
    /// every lookup is a cache miss, and this overlaps them. Each event's
    /// lookup is hashed once, here.
    pub fn handle_batch(&mut self, events: &[Event]) {
        // Two stages: the index slot 16 events ahead, then (once it has
        // arrived) the ring entry it points at, 8 ahead.
        const AHEAD: usize = 16;
        const AHEAD2: usize = 8;
        let mut hashes = std::mem::take(&mut self.hashes);
        hashes.clear();
        hashes.extend(events.iter().map(|ev| self.lookup_hash(ev)));
        for &h in hashes.iter().take(AHEAD) {
            self.pending.prefetch(h);
        }
        for (i, ev) in events.iter().enumerate() {
            if let Some(&h) = hashes.get(i + AHEAD) {
                self.pending.prefetch(h);
            }
            if let Some(&h) = hashes.get(i + AHEAD2) {
                self.pending.prefetch_entry(h);
            }
            self.handle_hashed(ev, hashes[i]);
        }
        self.hashes = hashes;
    }

    /// The pending-table key `ev` looks up first: its own tuple for a
    /// probe or a quoted attempt, the reverse for an answer.
    #[inline]
    fn lookup_key(ev: &Event) -> FlowKey {
        match ev.kind {
            Kind::SynAck | Kind::Rst | Kind::Udp => ev.key().reversed(),
            _ => ev.key(),
        }
    }

    #[inline]
    fn lookup_hash(&self, ev: &Event) -> u64 {
        match ev.kind {
            Kind::EchoRequest => 0,
            _ => self.pending.hash(&Self::lookup_key(ev)),
        }
    }

    /// Handle one event (its clock first).
    #[inline]
    pub fn handle(&mut self, ev: &Event) {
        let h = self.lookup_hash(ev);
        self.handle_hashed(ev, h);
    }

    /// Handle one event whose lookup key hashes to `h`.
    #[inline]
    fn handle_hashed(&mut self, ev: &Event, h: u64) {
        self.advance(ev.clock);
        self.stats.events += 1;
        match ev.kind {
            Kind::Syn => self.probe(ev, h, false),
            Kind::Stealth => self.probe(ev, h, true),
            Kind::SynAck => self.answer(&ev.key().reversed(), h, ev.ts, false),
            Kind::Rst => self.answer(&ev.key().reversed(), h, ev.ts, true),
            Kind::Unreachable => self.answer(&ev.key(), h, ev.ts, true),
            Kind::Udp => self.udp(ev, h),
            Kind::EchoRequest => self.stats.echo_requests += 1,
        }
    }

    /// A probe `ev` whose own tuple hashes to `h`.
    fn probe(&mut self, ev: &Event, h: u64, stealth: bool) {
        if ev.dport == 0 {
            self.stats.port_zero += 1;
            return;
        }
        if self.home.contains(&ev.src) {
            self.stats.home_probes += 1;
            return;
        }
        if self.bin_of(ev.ts) <= self.closed_through {
            self.stats.late_probes += 1;
            return;
        }
        let key = ev.key();
        let (bins, stats, failed) = (&mut self.bins, &mut self.stats, &mut self.failed);
        let closed = self.closed_through;
        let evicted = |k: FlowKey, a| failed.push(bins, stats, closed, &k, a, false);
        match self
            .pending
            .probe(key, h, ev.ts, stealth, self.clock, evicted)
        {
            Probe::New => {}
            Probe::Retransmission => {
                self.stats.retransmissions += 1;
                return;
            }
            Probe::ReplacedExpired(old) => self.fail(&key, old, false),
        }
        match key.proto {
            TCP => self.stats.attempts_tcp += 1,
            _ => self.stats.attempts_udp += 1,
        }
        self.stats.stealth_probes += stealth as u64;
    }

    /// An answer for the attempt `key` (hash `h`) arrived at `ts`: a
    /// rejection (RST, ICMP unreachable) or an acceptance (SYN-ACK, UDP
    /// reply).
    fn answer(&mut self, key: &FlowKey, h: u64, ts: Nanos, rejects: bool) {
        match self.pending.resolve(key, h, self.clock, !rejects) {
            None => {}
            Some(Err(expired)) => self.fail(key, expired, false),
            Some(Ok(a)) if rejects => self.fail(key, a, true),
            Some(Ok(a)) => {
                self.stats.answered += 1;
                let micros = ((ts - a.first).max(0) / 1000) as u64;
                self.delays.saturating_record(micros.max(1));
            }
        }
    }

    /// A datagram: maybe the answer to the reverse attempt (hash `h`), maybe
    /// a new attempt of its own.
    fn udp(&mut self, ev: &Event, h: u64) {
        let key = ev.key();
        self.answer(&key.reversed(), h, ev.ts, false);
        let fresh = self.flows.datagram(key, ev.ts, self.clock);
        if fresh {
            let own = self.pending.hash(&key);
            self.probe(ev, own, false);
        }
    }

    /// Count a failed attempt in its source's bin.
    fn fail(&mut self, key: &FlowKey, a: Attempt, rejected: bool) {
        let closed = self.closed_through;
        self.failed
            .push(&mut self.bins, &mut self.stats, closed, key, a, rejected);
    }

    /// Count every attempt expired by now, all the way into `bins` (before
    /// bins close).
    fn sweep_pending(&mut self) {
        let (bins, stats, failed) = (&mut self.bins, &mut self.stats, &mut self.failed);
        let closed = self.closed_through;
        self.pending.sweep(self.clock, |k, a| {
            failed.push(bins, stats, closed, &k, a, false)
        });
        failed.flush(bins, stats, closed);
    }

    /// End of input: everything still pending is unanswered, every bin closes.
    pub fn finish(&mut self) {
        let (bins, stats, failed) = (&mut self.bins, &mut self.stats, &mut self.failed);
        let closed = self.closed_through;
        self.pending
            .drain(|k, a| failed.push(bins, stats, closed, &k, a, false));
        failed.flush(bins, stats, closed);
        self.bins.close_through(i64::MAX, &mut self.closed);
        self.closed_through = i64::MAX;
    }

    /// Summaries of bins closed since the last call, and the bin index
    /// through which this aggregator is final.
    pub fn take_closed(&mut self) -> (Vec<SourceSummary>, i64) {
        (std::mem::take(&mut self.closed), self.closed_through)
    }

    pub fn has_closed(&self) -> bool {
        !self.closed.is_empty()
    }

    pub fn closed_through(&self) -> i64 {
        self.closed_through
    }

    pub fn stats(&self) -> AggStats {
        let mut s = self.stats.clone();
        s.pending_evicted = self.pending.evicted;
        s.sources_evicted = self.bins.evicted;
        s.udp_flows_evicted = self.flows.evicted;
        s.dest_sets_saturated = self.bins.saturated;
        s.pending_now = self.pending.len() as u64;
        s.sources_now = self.bins.len() as u64;
        s.peak_pending = self.pending.peak as u64;
        s.peak_sources = self.bins.peak as u64;
        s.peak_set_bytes = self.bins.peak_set_bytes as u64;
        s
    }

    pub fn delays(&self) -> &Histogram<u64> {
        &self.delays
    }
}
