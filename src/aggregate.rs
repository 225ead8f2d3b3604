//! Aggregate stage: one per shard. Attempt tracking turns the shard's
//! events into outcomes, the rules observe them, and windows close as the
//! clock passes them.

use hdrhistogram::Histogram;

use crate::config::Limits;
use crate::event::{Event, Kind};
use crate::rules::{Notices, Partials, RuleCounters, RuleSet, ShardRules, Updates};
use crate::time::Nanos;
use crate::track::{Handled, TrackStats, Tracker};

/// What one aggregator counted: attempt tracking's and the rules' counters.
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
    /// Probes from home networks (left out by the seed rule).
    pub home_probes: u64,
    /// Probes to port 0 (left out by the seed rule).
    pub port_zero: u64,
    /// Probes whose bin had already closed (timestamps far out of order).
    pub late_probes: u64,
    pub pending_evicted: u64,
    pub sources_evicted: u64,
    pub udp_flows_evicted: u64,
    /// (source, bin) pieces the early rule gave up.
    pub early_evicted: u64,
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
        self.early_evicted += o.early_evicted;
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

pub struct Aggregator {
    /// Window (bin) length and answer timeout: windows close once the
    /// clock passes their end plus the timeout.
    bin: Nanos,
    answer_timeout: Nanos,
    clock: Nanos,
    /// Every window up to this index is closed.
    closed_through: i64,
    /// The clock value at which the next window closes.
    next_close_at: Nanos,
    tracker: Tracker,
    rules: ShardRules,
    echo_requests: u64,
    events: u64,
    closed: Partials,
    /// Reused by `handle_batch`: one lookup hash per event.
    hashes: Vec<u64>,
    /// Notices from the merger applied so far.
    acked: u64,
    finished: bool,
}

impl Aggregator {
    /// One of `shards` aggregators, each holding its share of `limits`.
    pub fn new(
        shards: usize,
        bin: Nanos,
        answer_timeout: Nanos,
        limits: &Limits,
        rules: &RuleSet,
    ) -> Self {
        let shard_limits = limits.per_shard(shards);
        Aggregator {
            bin,
            answer_timeout,
            clock: Nanos::MIN,
            closed_through: i64::MIN,
            next_close_at: Nanos::MIN,
            tracker: Tracker::new(
                answer_timeout,
                shard_limits.max_pending,
                shard_limits.max_udp_flows,
            ),
            rules: rules.shard(shards),
            echo_requests: 0,
            events: 0,
            closed: Partials::default(),
            hashes: Vec::new(),
            acked: 0,
            finished: false,
        }
    }

    /// The last window that can close at `clock`: window `b` closes once
    /// the clock passes its end plus the answer timeout, when none of its
    /// attempts can still be answered.
    fn closable_through(&self, clock: Nanos) -> i64 {
        (clock - self.answer_timeout - 1).div_euclid(self.bin) - 1
    }

    /// Move the clock forward (never back), closing windows it passes.
    /// The tests inline (once per event), the work a call of its own.
    #[inline(always)]
    pub fn advance(&mut self, clock: Nanos) {
        if clock <= self.clock {
            return;
        }
        self.clock = clock;
        if self.tracker.expiry_due(clock) || clock >= self.next_close_at {
            self.settle();
        }
    }

    /// Expire what the clock has passed, and close the windows it has.
    #[inline(never)]
    fn settle(&mut self) {
        if self.tracker.expiry_due(self.clock) {
            let rules = &mut self.rules;
            self.tracker.expire(self.clock, &mut |o| rules.observe(&o));
        }
        if self.clock >= self.next_close_at {
            self.close_windows();
        }
    }

    #[cold]
    fn close_windows(&mut self) {
        let through = self.closable_through(self.clock);
        if self.closed_through == i64::MIN {
            // First packet: windows before it hold nothing.
            self.closed_through = through;
        } else if through > self.closed_through {
            let rules = &mut self.rules;
            self.tracker.sweep(self.clock, &mut |o| rules.observe(&o));
            self.rules.close_through(through, &mut self.closed);
            self.closed_through = through;
        }
        self.tracker
            .set_window_start((self.closed_through + 1).saturating_mul(self.bin));
        self.next_close_at = (self.closed_through + 2) * self.bin + self.answer_timeout + 1;
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
        hashes.extend(events.iter().map(|ev| self.tracker.lookup_hash(ev)));
        for &h in hashes.iter().take(AHEAD) {
            self.tracker.prefetch(h);
        }
        for (i, ev) in events.iter().enumerate() {
            if let Some(&h) = hashes.get(i + AHEAD) {
                self.tracker.prefetch(h);
            }
            if let Some(&h) = hashes.get(i + AHEAD2) {
                self.tracker.prefetch_entry(h);
            }
            self.handle_hashed(ev, hashes[i]);
        }
        self.hashes = hashes;
    }

    /// Handle one event (its clock first).
    #[inline]
    pub fn handle(&mut self, ev: &Event) {
        let h = self.tracker.lookup_hash(ev);
        self.handle_hashed(ev, h);
    }

    /// Handle one event whose lookup key hashes to `h`.
    #[inline]
    fn handle_hashed(&mut self, ev: &Event, h: u64) {
        self.advance(ev.clock);
        self.events += 1;
        if ev.kind.is_attempt_free() {
            self.echo_requests += (ev.kind == Kind::EchoRequest) as u64;
            self.rules.observe_event(ev);
            return;
        }
        let rules = &mut self.rules;
        match self
            .tracker
            .handle(ev, h, self.clock, &mut |o| rules.observe(&o))
        {
            Handled::Opened => self.rules.observe_opened(ev, self.clock),
            // A RST that answers no probe of ours: the rules that look
            // for other probes (ACK scans) see it.
            Handled::Unmatched if ev.kind == Kind::RstNoAck => self.rules.observe_event(ev),
            _ => {}
        }
    }

    /// End of input: everything still pending is unanswered, every window
    /// closes.
    pub fn finish(&mut self) {
        let rules = &mut self.rules;
        self.tracker.drain(self.clock, &mut |o| rules.observe(&o));
        self.rules.close_through(i64::MAX, &mut self.closed);
        self.closed_through = i64::MAX;
        self.finished = true;
    }

    /// The capture time through which everything this shard will ever
    /// report has been reported (see [`Tracker::settled_through`]).
    pub fn watermark(&self) -> Nanos {
        if self.finished {
            Nanos::MAX
        } else if self.clock == Nanos::MIN {
            Nanos::MIN
        } else {
            self.tracker.settled_through(self.clock)
        }
    }

    /// What the rules have for the merger now.
    pub fn take_updates(&mut self) -> Updates {
        let mut u = Updates::default();
        self.rules.take_updates(&mut u);
        u
    }

    /// Apply the merger's notice message number `seq`.
    pub fn notice(&mut self, n: &Notices, seq: u64) {
        self.rules.notice(n);
        self.acked = self.acked.max(seq);
    }

    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Partials of windows closed since the last call, and the window
    /// index through which this aggregator is final.
    pub fn take_closed(&mut self) -> (Partials, i64) {
        let mut closed = std::mem::take(&mut self.closed);
        closed.sort();
        (closed, self.closed_through)
    }

    pub fn has_closed(&self) -> bool {
        !self.closed.is_empty()
    }

    pub fn closed_through(&self) -> i64 {
        self.closed_through
    }

    /// A tick of the clock from the capture stage: move on, and count
    /// what waits in the rules' queues, so that a statistics snapshot
    /// taken now is up to date.
    pub fn tick(&mut self, clock: Nanos) {
        self.advance(clock);
        self.rules.flush();
    }

    pub fn stats(&self) -> AggStats {
        let t: &TrackStats = &self.tracker.stats;
        let mut r = RuleCounters::default();
        self.rules.count(&mut r);
        AggStats {
            events: self.events,
            attempts_tcp: t.attempts_tcp,
            attempts_udp: t.attempts_udp,
            stealth_probes: t.stealth_probes,
            answered: t.answered,
            rejected: t.rejected,
            unanswered: t.unanswered,
            retransmissions: t.retransmissions,
            echo_requests: self.echo_requests,
            home_probes: r.home_probes,
            port_zero: r.port_zero,
            late_probes: t.late_probes,
            pending_evicted: self.tracker.pending_evicted(),
            sources_evicted: r.sources_evicted,
            udp_flows_evicted: self.tracker.udp_flows_evicted(),
            early_evicted: r.early_evicted,
            dest_sets_saturated: r.dest_sets_saturated,
            pending_now: self.tracker.pending_len() as u64,
            sources_now: r.sources_now,
            peak_pending: self.tracker.peak_pending() as u64,
            peak_sources: r.peak_sources,
            peak_set_bytes: r.peak_set_bytes,
        }
    }

    pub fn delays(&self) -> &Histogram<u64> {
        &self.tracker.delays
    }
}
