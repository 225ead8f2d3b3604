//! Attempt tracking: the mechanism under every rule. Probes open attempts,
//! answers settle them, the clock times them out; each attempt ends as one
//! [`Outcome`] (answered, rejected or unanswered), handed to whoever the
//! caller passes as `emit`. No policy here: home networks, ports and
//! thresholds are the rules' business.

mod index;
pub mod pending;
pub mod udp_flows;

use hdrhistogram::Histogram;

use crate::event::{Event, FlowKey, Kind, Outcome, Verdict, TCP};
use crate::time::Nanos;
use pending::{Attempt, PendingTable, Probe};
use udp_flows::UdpFlows;

/// What an event was to attempt tracking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// A probe that opened a new attempt (not a retransmission).
    Opened,
    /// An answer that matched no pending attempt.
    Unmatched,
    Other,
}

impl From<bool> for Handled {
    /// From "opened a new attempt".
    fn from(opened: bool) -> Handled {
        if opened {
            Handled::Opened
        } else {
            Handled::Other
        }
    }
}

/// What attempt tracking counted on one shard.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackStats {
    pub attempts_tcp: u64,
    pub attempts_udp: u64,
    pub stealth_probes: u64,
    pub answered: u64,
    pub rejected: u64,
    pub unanswered: u64,
    pub retransmissions: u64,
    /// Probes whose window had already closed (timestamps far out of order).
    pub late_probes: u64,
}

/// Delay from an attempt's first packet to its answer, in microseconds.
pub fn new_delay_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

pub struct Tracker {
    answer_timeout: Nanos,
    /// Probes older than this belong to a closed window: not tracked.
    window_start: Nanos,
    pending: PendingTable,
    flows: UdpFlows,
    pub stats: TrackStats,
    pub delays: Histogram<u64>,
}

impl Tracker {
    pub fn new(answer_timeout: Nanos, max_pending: usize, max_udp_flows: usize) -> Self {
        Tracker {
            answer_timeout,
            window_start: Nanos::MIN,
            pending: PendingTable::new(answer_timeout, max_pending),
            flows: UdpFlows::new(answer_timeout, max_udp_flows),
            stats: TrackStats::default(),
            delays: new_delay_histogram(),
        }
    }

    /// Windows before `t` are closed: later probes from before it are late.
    pub fn set_window_start(&mut self, t: Nanos) {
        self.window_start = t;
    }

    /// The pending-table key `ev` looks up first: its own tuple for a
    /// probe or a quoted attempt, the reverse for an answer.
    #[inline]
    fn lookup_key(ev: &Event) -> FlowKey {
        match ev.kind {
            Kind::SynAck | Kind::Rst | Kind::RstNoAck | Kind::Udp => ev.key().reversed(),
            _ => ev.key(),
        }
    }

    /// The hash of `ev`'s first lookup (0 for events that look nothing up).
    #[inline]
    pub fn lookup_hash(&self, ev: &Event) -> u64 {
        if ev.kind.is_attempt_free() {
            return 0;
        }
        self.pending.hash(&Self::lookup_key(ev))
    }

    #[inline]
    pub fn prefetch(&self, h: u64) {
        self.pending.prefetch(h);
    }

    #[inline]
    pub fn prefetch_entry(&self, h: u64) {
        self.pending.prefetch_entry(h);
    }

    /// One event whose lookup hashes to `h`, with the sensor at `clock`.
    #[inline]
    pub fn handle(
        &mut self,
        ev: &Event,
        h: u64,
        clock: Nanos,
        emit: &mut impl FnMut(Outcome),
    ) -> Handled {
        let answered = |matched: bool| {
            if matched {
                Handled::Other
            } else {
                Handled::Unmatched
            }
        };
        match ev.kind {
            Kind::Syn => self.probe(ev, h, false, clock, emit).into(),
            Kind::Stealth(_) => self.probe(ev, h, true, clock, emit).into(),
            Kind::SynAck => {
                answered(self.answer(&ev.key().reversed(), h, ev.ts, clock, false, emit))
            }
            Kind::Rst | Kind::RstNoAck => {
                answered(self.answer(&ev.key().reversed(), h, ev.ts, clock, true, emit))
            }
            Kind::Unreachable => answered(self.answer(&ev.key(), h, ev.ts, clock, true, emit)),
            Kind::Udp => self.udp(ev, h, clock, emit).into(),
            Kind::EchoRequest
            | Kind::EchoReply
            | Kind::AckProbe
            | Kind::HttpRequest(_)
            | Kind::HttpStatus(_) => Handled::Other,
        }
    }

    /// With the sensor at `clock`, every unanswered outcome whose deadline
    /// is at or before the returned time has been handed out (rejections
    /// are handed out as their answers arrive). Later ones may still come.
    #[inline]
    pub fn settled_through(&self, clock: Nanos) -> Nanos {
        clock
            .saturating_sub(1)
            .saturating_sub(self.pending.max_lag())
    }

    /// An attempt that went unanswered (see [`timed_out`]).
    #[inline]
    fn timed_out(&mut self, key: FlowKey, a: Attempt, clock: Nanos) -> Outcome {
        timed_out(&mut self.stats, self.answer_timeout, key, a, clock)
    }

    /// A probe `ev` whose own tuple hashes to `h`.
    fn probe(
        &mut self,
        ev: &Event,
        h: u64,
        stealth: bool,
        clock: Nanos,
        emit: &mut impl FnMut(Outcome),
    ) -> bool {
        if ev.ts < self.window_start {
            self.stats.late_probes += 1;
            return false;
        }
        let key = ev.key();
        let (stats, timeout) = (&mut self.stats, self.answer_timeout);
        let probe = self
            .pending
            .probe(key, h, ev.ts, (stealth, ev.tool), clock, |k, a| {
                emit(timed_out(stats, timeout, k, a, clock))
            });
        match probe {
            Probe::New => {}
            Probe::Retransmission => {
                self.stats.retransmissions += 1;
                return false;
            }
            Probe::ReplacedExpired(old) => {
                let o = self.timed_out(key, old, clock);
                emit(o);
            }
        }
        match key.proto {
            TCP => self.stats.attempts_tcp += 1,
            _ => self.stats.attempts_udp += 1,
        }
        self.stats.stealth_probes += stealth as u64;
        if ev.ts.saturating_add(self.answer_timeout) < clock {
            // Read after its own deadline (input out of time order): no
            // answer can count any more, so it is unanswered now, and now
            // is when the sensor learned it. Settled at its deadline
            // instead, it would be known before moments every shard has
            // already reported through, and the early alert's order (and
            // result) would depend on the threads' timing.
            if let Some(Err(a)) = self.pending.resolve(&key, h, clock, false) {
                self.stats.unanswered += 1;
                emit(Outcome {
                    key,
                    first: a.first,
                    settled: clock,
                    verdict: Verdict::Unanswered,
                    stealth: a.stealth,
                    tool: a.tool,
                });
            }
        }
        true
    }

    /// An answer for the attempt `key` (hash `h`) arrived at `ts`: a
    /// rejection (RST, ICMP unreachable) or an acceptance (SYN-ACK, UDP
    /// reply).
    fn answer(
        &mut self,
        key: &FlowKey,
        h: u64,
        ts: Nanos,
        clock: Nanos,
        rejects: bool,
        emit: &mut impl FnMut(Outcome),
    ) -> bool {
        let o = match self.pending.resolve(key, h, clock, !rejects) {
            None => return false,
            Some(Err(expired)) => self.timed_out(*key, expired, clock),
            Some(Ok(a)) if rejects => {
                self.stats.rejected += 1;
                Outcome {
                    key: *key,
                    first: a.first,
                    settled: clock,
                    verdict: Verdict::Rejected,
                    stealth: a.stealth,
                    tool: a.tool,
                }
            }
            Some(Ok(a)) => {
                self.stats.answered += 1;
                let micros = ((ts - a.first).max(0) / 1000) as u64;
                self.delays.saturating_record(micros.max(1));
                Outcome {
                    key: *key,
                    first: a.first,
                    settled: clock,
                    verdict: Verdict::Answered,
                    stealth: a.stealth,
                    tool: a.tool,
                }
            }
        };
        emit(o);
        true
    }

    /// A datagram: maybe the answer to the reverse attempt (hash `h`), maybe
    /// a new attempt of its own.
    fn udp(&mut self, ev: &Event, h: u64, clock: Nanos, emit: &mut impl FnMut(Outcome)) -> bool {
        let key = ev.key();
        self.answer(&key.reversed(), h, ev.ts, clock, false, emit);
        if self.flows.datagram(key, ev.ts, clock) {
            let own = self.pending.hash(&key);
            return self.probe(ev, own, false, clock, emit);
        }
        false
    }

    /// True when some pending attempt's deadline has passed at `clock`.
    #[inline]
    pub fn expiry_due(&self, clock: Nanos) -> bool {
        self.pending.expiry_due(clock)
    }

    /// Settle the attempts whose deadline passed at `clock` (from the head
    /// of the pending ring: cheap, in deadline order).
    pub fn expire(&mut self, clock: Nanos, emit: &mut impl FnMut(Outcome)) {
        let (stats, timeout) = (&mut self.stats, self.answer_timeout);
        self.pending
            .expire(clock, |k, a| emit(timed_out(stats, timeout, k, a, clock)));
    }

    /// Settle every attempt expired at `clock`, wherever it sits (before a
    /// window closes: none of its attempts may stay pending).
    pub fn sweep(&mut self, clock: Nanos, emit: &mut impl FnMut(Outcome)) {
        let (stats, timeout) = (&mut self.stats, self.answer_timeout);
        self.pending
            .sweep(clock, |k, a| emit(timed_out(stats, timeout, k, a, clock)));
    }

    /// End of input: everything still pending is unanswered, known now.
    pub fn drain(&mut self, clock: Nanos, emit: &mut impl FnMut(Outcome)) {
        let (stats, timeout) = (&mut self.stats, self.answer_timeout);
        self.pending
            .drain(|k, a| emit(timed_out(stats, timeout, k, a, clock)));
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub fn peak_pending(&self) -> usize {
        self.pending.peak
    }

    pub fn pending_evicted(&self) -> u64 {
        self.pending.evicted
    }

    pub fn udp_flows_evicted(&self) -> u64 {
        self.flows.evicted
    }
}

/// An attempt that went unanswered: known at its deadline, or at `clock`
/// if that came first (given up early to free memory, or the input ended).
#[inline]
fn timed_out(
    stats: &mut TrackStats,
    timeout: Nanos,
    key: FlowKey,
    a: Attempt,
    clock: Nanos,
) -> Outcome {
    stats.unanswered += 1;
    Outcome {
        key,
        first: a.first,
        settled: clock.min(a.first.saturating_add(timeout)),
        verdict: Verdict::Unanswered,
        stealth: a.stealth,
        tool: a.tool,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Kind;

    const SEC: Nanos = 1_000_000_000;

    fn syn(ts: Nanos, dport: u16) -> Event {
        Event::decoded(
            ts,
            Kind::Syn,
            TCP,
            "203.0.113.7".parse().unwrap(),
            "192.0.2.1".parse().unwrap(),
            40000,
            dport,
        )
    }

    #[test]
    fn a_probe_read_after_its_deadline_is_unanswered_when_read() {
        let mut t = Tracker::new(5 * SEC, 100, 100);
        let mut out = Vec::new();
        // Read with the sensor at 100 s; the answer timeout runs from the
        // probe's own time. One probe in time, one read 20 s late.
        for (ts, port) in [(100 * SEC, 1), (80 * SEC, 2)] {
            let ev = syn(ts, port);
            let h = t.lookup_hash(&ev);
            t.handle(&ev, h, 100 * SEC, &mut |o| out.push(o));
        }
        assert_eq!(out.len(), 1, "only the late one is settled at once");
        let o = out[0];
        assert_eq!((o.key.dport, o.verdict), (2, Verdict::Unanswered));
        assert_eq!(o.first, 80 * SEC);
        // Not at 85 s: every shard may have reported 85 s long before this
        // packet was read.
        assert_eq!(o.settled, 100 * SEC);
        assert!(t.settled_through(100 * SEC) < o.settled);
        assert_eq!((t.stats.attempts_tcp, t.stats.unanswered), (2, 1));
        // Its answer, if one comes, finds nothing to answer.
        let mut ack = syn(80 * SEC, 0);
        ack.kind = Kind::SynAck;
        (ack.src, ack.dst, ack.sport, ack.dport) = (ack.dst, ack.src, 2, 40000);
        let h = t.lookup_hash(&ack);
        t.handle(&ack, h, 100 * SEC, &mut |o| out.push(o));
        assert_eq!(out.len(), 1);
    }
}
