//! Prometheus metrics (`--metrics-listen ADDR`): the run's counters on
//! `GET /metrics` in the Prometheus text format (0.0.4, what `promtool
//! check metrics` checks), encoded by the prometheus crate. Nothing is
//! counted twice: each scrape reads the pipeline's own statistics (the
//! ones the end-of-run report prints) as they stand.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use prometheus::proto::{self, LabelPair, MetricFamily, MetricType};

use crate::aggregate::AggStats;
use crate::decode::Skip;
use crate::stats::CaptureStats;

/// What a scrape reports.
#[derive(Clone, Default)]
pub struct Snapshot {
    pub capture: CaptureStats,
    /// Every aggregator's, added up.
    pub agg: AggStats,
    /// Answer delays in microseconds, every aggregator's.
    pub delays: Option<Histogram<u64>>,
    /// Findings written, by rule.
    pub findings: Vec<(&'static str, u64)>,
    pub kernel_drops: Option<u64>,
}

/// Upper bounds of the answer-delay buckets, in seconds.
const DELAY_BUCKETS: [f64; 12] = [
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<proto::Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.into());
    f.set_help(help.into());
    f.set_field_type(kind);
    f.set_metric(metrics);
    f
}

fn sample(labels: &[(&str, &str)], kind: MetricType, value: f64) -> proto::Metric {
    let mut m = proto::Metric::default();
    m.set_label(
        labels
            .iter()
            .map(|(k, v)| {
                let mut l = LabelPair::default();
                l.set_name((*k).into());
                l.set_value((*v).into());
                l
            })
            .collect(),
    );
    match kind {
        MetricType::COUNTER => {
            let mut c = proto::Counter::default();
            c.set_value(value);
            m.set_counter(c);
        }
        _ => {
            let mut g = proto::Gauge::default();
            g.set_value(value);
            m.set_gauge(g);
        }
    }
    m
}

fn single(name: &str, help: &str, kind: MetricType, value: u64) -> MetricFamily {
    family(name, help, kind, vec![sample(&[], kind, value as f64)])
}

fn labelled(name: &str, help: &str, label: &str, values: &[(&str, u64)]) -> MetricFamily {
    let metrics = values
        .iter()
        .map(|(l, v)| sample(&[(label, l)], MetricType::COUNTER, *v as f64))
        .collect();
    family(name, help, MetricType::COUNTER, metrics)
}

/// The answer delays as a Prometheus histogram: each recorded value (in
/// microseconds) counted in the first bucket that holds it.
fn delay_histogram(h: &Histogram<u64>) -> MetricFamily {
    let mut per_bucket = [0u64; DELAY_BUCKETS.len()];
    for v in h.iter_recorded() {
        let secs = h.highest_equivalent(v.value_iterated_to()) as f64 / 1e6;
        if let Some(i) = DELAY_BUCKETS.iter().position(|&b| secs <= b) {
            per_bucket[i] += v.count_at_value();
        }
    }
    let mut cumulative = 0;
    let buckets = DELAY_BUCKETS
        .iter()
        .zip(per_bucket)
        .map(|(&bound, n)| {
            cumulative += n;
            let mut b = proto::Bucket::default();
            b.set_upper_bound(bound);
            b.set_cumulative_count(cumulative);
            b
        })
        .collect();
    let mut hist = proto::Histogram::default();
    hist.set_sample_count(h.len());
    hist.set_sample_sum(h.mean() * h.len() as f64 / 1e6);
    hist.set_bucket(buckets);
    let mut m = proto::Metric::default();
    m.set_histogram(hist);
    family(
        "picket_answer_delay_seconds",
        "Time from an attempt's first packet to its answer.",
        MetricType::HISTOGRAM,
        vec![m],
    )
}

impl Snapshot {
    /// The metric families a scrape returns.
    pub fn families(&self) -> Vec<MetricFamily> {
        let (c, a) = (&self.capture, &self.agg);
        let mut out = vec![
            single(
                "picket_packets_total",
                "Packets read.",
                MetricType::COUNTER,
                c.packets,
            ),
            single(
                "picket_bytes_total",
                "Bytes read (as captured).",
                MetricType::COUNTER,
                c.bytes,
            ),
        ];
        if let Some(d) = self.kernel_drops {
            out.push(single(
                "picket_kernel_drops_total",
                "Packets the kernel dropped before picket read them.",
                MetricType::COUNTER,
                d,
            ));
        }
        out.push(single(
            "picket_handover_waits_total",
            "Times a capture thread waited for room in an aggregator's queue.",
            MetricType::COUNTER,
            c.handover_waits,
        ));
        out.push(single(
            "picket_handover_deferred_total",
            "Batches a live capture thread held back while an aggregator's queue was full, instead of waiting.",
            MetricType::COUNTER,
            c.handover_deferred,
        ));
        let skips: Vec<(&str, u64)> = Skip::ALL
            .iter()
            .map(|k| (k.name(), c.skipped[*k as usize]))
            .collect();
        out.push(labelled(
            "picket_decode_skips_total",
            "Packets decoded to no event, by reason.",
            "reason",
            &skips,
        ));
        out.push(labelled(
            "picket_attempts_total",
            "Connection attempts settled, by outcome.",
            "outcome",
            &[
                ("answered", a.answered),
                ("rejected", a.rejected),
                ("unanswered", a.unanswered),
            ],
        ));
        if !self.findings.is_empty() {
            out.push(labelled(
                "picket_findings_total",
                "Findings written, by rule.",
                "rule",
                &self.findings,
            ));
        }
        out.push(single(
            "picket_tracked_sources",
            "(source, bin) entries held (per aggregator, added up).",
            MetricType::GAUGE,
            a.sources_now,
        ));
        out.push(single(
            "picket_pending_attempts",
            "Attempts waiting for an answer.",
            MetricType::GAUGE,
            a.pending_now,
        ));
        out.push(labelled(
            "picket_evictions_total",
            "Entries given up to stay within a memory cap, by table.",
            "table",
            &[
                ("sources", a.sources_evicted),
                ("pending", a.pending_evicted),
                ("udp_flows", a.udp_flows_evicted),
                ("early_pieces", a.early_evicted),
            ],
        ));
        if let Some(h) = &self.delays {
            out.push(delay_histogram(h));
        }
        out
    }
}

/// A metrics listener as the pipeline's settings carry it.
#[derive(Clone)]
pub struct Metrics(pub Arc<MetricsServer>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Metrics({:?})", self.0.local_addr())
    }
}

/// A bound listener, serving until the run ends.
pub struct MetricsServer {
    server: tiny_http::Server,
}

impl MetricsServer {
    /// Listen on `addr` (before capture starts: a bad address is a usage
    /// error, not a surprise later).
    pub fn bind(addr: SocketAddr) -> Result<Self, String> {
        let server =
            tiny_http::Server::http(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        Ok(MetricsServer { server })
    }

    /// The address it listens on (with the port the system chose for 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.server_addr().to_ip()
    }

    /// Answer scrapes with `snapshot()` while `running` is set.
    pub fn serve(&self, snapshot: impl Fn() -> Snapshot, running: &AtomicBool) {
        while running.load(Ordering::Relaxed) {
            let req = match self.server.recv_timeout(Duration::from_millis(200)) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(_) => break,
            };
            let path = req.url().split('?').next().unwrap_or("");
            let response = if path == "/metrics" {
                let encoder = prometheus::TextEncoder::new();
                let body = encoder
                    .encode_to_string(&snapshot().families())
                    .unwrap_or_else(|e| format!("# picket: metrics could not be encoded: {e}\n"));
                let header = tiny_http::Header::from_bytes("Content-Type", prometheus::TEXT_FORMAT)
                    .expect("a valid header");
                tiny_http::Response::from_string(body).with_header(header)
            } else {
                tiny_http::Response::from_string("picket: metrics are at /metrics\n")
                    .with_status_code(404)
            };
            let _ = req.respond(response);
        }
    }
}
