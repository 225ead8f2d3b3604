//! Run statistics: what the capture stage saw, what the aggregators and the
//! merger counted, and how to print it for a person on stderr.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::aggregate::AggStats;
use crate::decode::Skip;
use crate::rules::MergeStats;
use crate::time::{rfc3339, Nanos};

#[derive(Clone, Debug, Default)]
pub struct CaptureStats {
    pub packets: u64,
    pub bytes: u64,
    pub events: u64,
    pub skipped: [u64; Skip::COUNT],
    /// Packets whose timestamp was older than the clock (out of order).
    pub out_of_order: u64,
    /// TCP probes from home networks, dropped before aggregation (with
    /// the answers to them: home hosts' attempts are never tracked).
    pub home_probes: u64,
    pub first_ts: Option<Nanos>,
    pub last_clock: Option<Nanos>,
    /// The run was stopped (a signal) before its input ended.
    pub interrupted: bool,
    /// Records skipped for an impossible timestamp (damage).
    pub bad_timestamps: u64,
    /// Batches the capture thread had to wait to hand over, an
    /// aggregator's queue being full: where a live capture's drops come
    /// from when picket, not the link, is the bottleneck.
    pub handover_waits: u64,
    /// Batches a live capture thread kept back a while, an aggregator's
    /// queue being full, instead of waiting; and the most room for events
    /// those held at once (added up over capture threads).
    pub handover_deferred: u64,
    pub handover_peak_held: u64,
}

impl CaptureStats {
    /// Add another capture thread's counters (same run, other socket).
    pub fn add(&mut self, o: &CaptureStats) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.events += o.events;
        for (a, b) in self.skipped.iter_mut().zip(o.skipped) {
            *a += b;
        }
        self.out_of_order += o.out_of_order;
        self.home_probes += o.home_probes;
        self.first_ts = match (self.first_ts, o.first_ts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_clock = self.last_clock.max(o.last_clock);
        self.interrupted |= o.interrupted;
        self.bad_timestamps += o.bad_timestamps;
        self.handover_waits += o.handover_waits;
        self.handover_deferred += o.handover_deferred;
        self.handover_peak_held += o.handover_peak_held;
    }

    pub fn decode_failures(&self) -> u64 {
        Skip::ALL
            .iter()
            .filter(|s| s.is_failure())
            .map(|s| self.skipped[*s as usize])
            .sum()
    }
}

/// Everything a finished run has to say.
pub struct Report {
    pub capture: CaptureStats,
    pub agg: AggStats,
    pub merge: MergeStats,
    pub delays: Histogram<u64>,
    pub elapsed: Duration,
    pub kernel_drops: Option<u64>,
    pub damaged_inputs: usize,
    pub threads: usize,
    /// Packets each capture thread read (one entry per thread).
    pub per_capture_thread: Vec<u64>,
}

fn per_sec(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// "1.23M" style for big counts.
pub fn human(n: f64) -> String {
    match n {
        n if n >= 1e9 => format!("{:.2}G", n / 1e9),
        n if n >= 1e6 => format!("{:.2}M", n / 1e6),
        n if n >= 1e3 => format!("{:.1}k", n / 1e3),
        n => format!("{n:.0}"),
    }
}

/// A byte count in binary units: "512 B", "8.0 KiB", "2.8 MiB".
pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / (1u64 << 10) as f64),
        n => format!("{n} B"),
    }
}

impl Report {
    pub fn render(&self) -> String {
        let c = &self.capture;
        let a = &self.agg;
        let mut s = String::new();
        let _ = writeln!(s, "picket: statistics");
        let _ = writeln!(
            s,
            "  packets        {} ({} bytes) in {:.2} s: {} packets/s with {} aggregator thread(s)",
            c.packets,
            c.bytes,
            self.elapsed.as_secs_f64(),
            human(per_sec(c.packets, self.elapsed)),
            self.threads
        );
        if let (Some(first), Some(last)) = (c.first_ts, c.last_clock) {
            let _ = writeln!(
                s,
                "  capture time   {} .. {}",
                rfc3339(first, None),
                rfc3339(last, None)
            );
        }
        if let Some(d) = self.kernel_drops {
            let _ = writeln!(
                s,
                "  kernel drops   {d} (a full aggregator queue: capture held back {} batches, room for {} events at most, and waited {} times)",
                c.handover_deferred,
                c.handover_peak_held,
                c.handover_waits
            );
        }
        if self.per_capture_thread.len() > 1 {
            let each: Vec<String> = self.per_capture_thread.iter().map(u64::to_string).collect();
            let _ = writeln!(
                s,
                "  capture        {} threads in one fanout group, packets {}",
                self.per_capture_thread.len(),
                each.join(" + ")
            );
        }
        let _ = writeln!(
            s,
            "  attempts       {} (tcp {}, udp {}, stealth {}); retransmissions {}",
            a.attempts(),
            a.attempts_tcp,
            a.attempts_udp,
            a.stealth_probes,
            a.retransmissions
        );
        let _ = writeln!(
            s,
            "  outcomes       answered {}, rejected {}, unanswered {}",
            a.answered, a.rejected, a.unanswered
        );
        if !self.delays.is_empty() {
            let _ = writeln!(
                s,
                "  answer delay   p50 {} us, p99 {} us, max {} us",
                self.delays.value_at_quantile(0.5),
                self.delays.value_at_quantile(0.99),
                self.delays.max()
            );
        }
        let _ = writeln!(
            s,
            "  not counted    home-network probes {}, port 0 {}, late (bin closed) {}, echo requests {}",
            a.home_probes, a.port_zero, a.late_probes, a.echo_requests
        );
        let mut skips = String::new();
        for k in Skip::ALL {
            let n = c.skipped[k as usize];
            if n > 0 {
                let _ = write!(skips, " {}={}", k.name(), n);
            }
        }
        let _ = writeln!(
            s,
            "  decode         {} events, {} failures; skipped:{}",
            c.events,
            c.decode_failures(),
            if skips.is_empty() { " none" } else { &skips }
        );
        if c.bad_timestamps > 0 {
            let _ = writeln!(
                s,
                "  bad times      {} records skipped (impossible timestamps)",
                c.bad_timestamps
            );
        }
        if c.out_of_order > 0 {
            let _ = writeln!(
                s,
                "  out of order   {} packets older than the clock",
                c.out_of_order
            );
        }
        let _ = writeln!(
            s,
            "  state          per-thread peaks added up: (source, bin) entries {}, pending {}, set memory {}; evicted: sources {}, pending {}, udp flows {}, early pieces {}; saturated host sets {}",
            a.peak_sources, a.peak_pending, human_bytes(a.peak_set_bytes), a.sources_evicted, a.pending_evicted, a.udp_flows_evicted, a.early_evicted, a.dest_sets_saturated
        );
        let _ = writeln!(
            s,
            "  rows           {} written, {} suppressed by the allow list (early alerts: {}); early updates dropped {}, slow-scan sources given up {}",
            self.merge.rows, self.merge.allow_suppressed, self.merge.early_allowed, self.merge.updates_dropped, self.merge.horizon_evicted
        );
        if self.damaged_inputs > 0 {
            let _ = writeln!(
                s,
                "  damaged inputs {} (see warnings above)",
                self.damaged_inputs
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(8192), "8.0 KiB");
        assert_eq!(human_bytes(3 << 19), "1.5 MiB");
        assert_eq!(human_bytes(5 << 30), "5.0 GiB");
    }
}
