//! Wires the stages into threads:
//!
//! ```text
//! capture+decode (this thread) --batches--> aggregator 0..N --summaries--> merger --> output
//! ```
//!
//! The capture thread owns the clock (newest timestamp so far) and stamps it
//! on every event, and ticks every aggregator with it, so all shards close
//! bins at the same capture time whatever the thread count or batch size.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{bounded, Receiver, Sender};
use hdrhistogram::Histogram;

use crate::aggregate::{AggStats, Aggregator};
use crate::capture::{Frame, FrameSource, Pause, BAD_TIME};
use crate::config::{Detection, Limits, NetSet};
use crate::decode::{decode_to, Reads, Sink, Skip};
use crate::error::Error;
use crate::event::{Event, Kind};
use crate::handover::Handover;
use crate::merge::{Merger, ShardReport};
use crate::metrics::{Metrics, Snapshot};
use crate::output::RowWriter;
use crate::rules::{MergeStats, Notices, RuleSet};
use crate::shard::Router;
use crate::stats::{human, CaptureStats, Report};
use crate::time::{Nanos, NANOS_PER_SEC};
use crate::track::new_delay_histogram;

#[derive(Clone, Debug)]
pub struct Settings {
    pub detection: Detection,
    pub limits: Limits,
    /// Aggregator threads.
    pub threads: usize,
    /// Events per batch handed to an aggregator.
    pub batch: usize,
    /// Pin threads to cores.
    pub pin: bool,
    /// Print statistics this often (live capture).
    pub stats_every: Option<Duration>,
    /// Show a progress line on stderr (replay, when it is a terminal).
    pub progress: bool,
    /// Rules to run, by name (empty: all).
    pub rules: Vec<String>,
    /// Serve metrics while the run lasts.
    pub metrics: Option<Metrics>,
}

impl Settings {
    /// The rules that are on, with their options.
    pub fn rule_set(&self) -> Result<RuleSet, Error> {
        RuleSet::build(&self.rules, &self.detection, &self.limits).map_err(Error::Usage)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            detection: Detection::default(),
            limits: Limits::default(),
            threads: 1,
            batch: 2048,
            pin: false,
            stats_every: None,
            progress: false,
            rules: Vec::new(),
            metrics: None,
        }
    }
}

/// Messages (batches or ticks) queued to each aggregator.
const SHARD_QUEUE: usize = 64;
/// Capture time between ticks to every aggregator (each tick lets every
/// aggregator report how far it has got).
const TICK: Nanos = NANOS_PER_SEC;
/// The same, capturing live: early alerts must be out within a second of
/// their detection.
const LIVE_TICK: Nanos = NANOS_PER_SEC / 10;
/// In live mode, on a quiet link, the clock follows the wall clock less
/// this allowance: a packet waits in the kernel's ring at most the read
/// timeout (100 ms) before it is handed over, and when the link is quiet
/// nothing is waiting at all.
const LIVE_ALLOWANCE: Nanos = NANOS_PER_SEC / 2;

enum ToShard {
    Batch(Vec<Event>),
    Tick(Nanos),
}

impl ToShard {
    /// The message's weight in the hand-over's backlog, in events' room: a
    /// batch weighs what it holds in memory (its capacity, however few
    /// events a clock tick sent it off with), a tick one, so that the
    /// bound is one of memory even while a stalled aggregator collects
    /// ten ticks a second.
    fn weight(&self) -> usize {
        match self {
            ToShard::Batch(b) => b.capacity().max(1),
            ToShard::Tick(_) => 1,
        }
    }
}

/// Room for events a live capture thread may hold back while an
/// aggregator's queue is full, before it waits (`handover`): half a second
/// at a million packets a second, 32 MiB of 64-byte events.
const LIVE_BACKLOG: usize = 1 << 19;

/// A numbered notice message from the merger to every aggregator.
type NoticeMsg = Arc<(u64, Notices)>;

/// What the aggregators publish for periodic statistics.
#[derive(Default)]
struct Board {
    shards: Mutex<Vec<AggStats>>,
    rows: AtomicU64,
    /// Findings written, by rule.
    findings: Mutex<BTreeMap<&'static str, u64>>,
    /// Kept up to date only for a metrics listener (they cost a copy).
    metrics: bool,
    /// Each capture thread's counters and its socket's drops, published
    /// for a metrics listener or, with several capture threads, for the
    /// periodic statistics line.
    capture: Mutex<Vec<CaptureStats>>,
    kernel_drops: Mutex<Vec<Option<u64>>>,
    delays: Mutex<Vec<Option<Histogram<u64>>>>,
}

impl Board {
    /// What a metrics scrape reports now.
    fn snapshot(&self) -> Snapshot {
        let mut agg = AggStats::default();
        if let Ok(shards) = self.shards.lock() {
            for s in shards.iter() {
                agg.add(s);
            }
        }
        let (capture, kernel_drops) = self.capture_totals();
        agg.home_probes += capture.home_probes;
        let delays = self.delays.lock().ok().map(|d| {
            let mut all = new_delay_histogram();
            for h in d.iter().flatten() {
                let _ = all.add(h);
            }
            all
        });
        Snapshot {
            capture,
            agg,
            delays,
            findings: self
                .findings
                .lock()
                .map(|f| f.iter().map(|(k, v)| (*k, *v)).collect())
                .unwrap_or_default(),
            kernel_drops,
        }
    }

    /// Every capture thread's counters added up, and the drops of every
    /// socket (known if any socket tells).
    fn capture_totals(&self) -> (CaptureStats, Option<u64>) {
        let mut all = CaptureStats::default();
        if let Ok(c) = self.capture.lock() {
            for st in c.iter() {
                all.add(st);
            }
        }
        let drops = self
            .kernel_drops
            .lock()
            .ok()
            .and_then(|d| sum_drops(d.iter().copied()));
        (all, drops)
    }
}

/// Drops of several sockets: the sum of those that tell.
fn sum_drops(each: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    each.fold(None, |sum, d| match (sum, d) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    })
}

/// A source type for a run without extra capture threads (never made).
enum NoSource {}

impl FrameSource for NoSource {
    fn next_frame(&mut self) -> crate::capture::Next<'_> {
        match *self {}
    }
}

/// Run the whole pipeline over `source` until it ends or `stop` is set.
///
/// Generic over the source so that the per-packet read inlines into the
/// capture loop (a virtual call per packet showed in the span profile).
pub fn run<S: FrameSource>(
    source: &mut S,
    settings: &Settings,
    writer: RowWriter,
    stop: &AtomicBool,
) -> Result<Report, Error> {
    run_all::<S, NoSource>(source, &mut [], settings, writer, stop)
}

/// The same over several sources read at once, one capture thread each
/// (live capture: sockets in one fanout group), all feeding the same
/// aggregators. Each thread keeps its own clock and stamps its own events;
/// an aggregator's clock is the newest it has been handed, and a probe
/// that comes in behind it (from a thread a little behind the others) is
/// tracked like any probe read late, so nothing it settles is reported
/// before it is known.
pub fn run_many<S: FrameSource + Send>(
    sources: &mut [S],
    settings: &Settings,
    writer: RowWriter,
    stop: &AtomicBool,
) -> Result<Report, Error> {
    let (first, more) = sources
        .split_first_mut()
        .ok_or_else(|| Error::Usage("no capture source".into()))?;
    run_all(first, more, settings, writer, stop)
}

fn run_all<S: FrameSource, M: FrameSource + Send>(
    source: &mut S,
    more: &mut [M],
    settings: &Settings,
    mut writer: RowWriter,
    stop: &AtomicBool,
) -> Result<Report, Error> {
    let shards = settings.threads.max(1);
    let captures = 1 + more.len();
    let router = Router::new(shards);
    let rules = settings.rule_set()?;
    let started = Instant::now();
    let board = Arc::new(Board {
        shards: Mutex::new(vec![AggStats::default(); shards]),
        rows: AtomicU64::new(0),
        findings: Mutex::new(BTreeMap::new()),
        metrics: settings.metrics.is_some(),
        capture: Mutex::new(vec![CaptureStats::default(); captures]),
        kernel_drops: Mutex::new(vec![None; captures]),
        delays: Mutex::new(vec![None; shards]),
    });
    let serving = AtomicBool::new(true);
    let cores = if settings.pin {
        core_affinity::get_core_ids().unwrap_or_default()
    } else {
        Vec::new()
    };
    if settings.pin && cores.len() < shards + 1 {
        eprintln!(
            "picket: warning: --pin with {} aggregator thread(s) and the capture thread on {} core(s): threads will share cores; use --threads {}",
            shards,
            cores.len(),
            cores.len().saturating_sub(1).max(1)
        );
    }
    let pin = |i: usize| {
        if !cores.is_empty() {
            core_affinity::set_for_current(cores[i % cores.len()]);
        }
    };

    std::thread::scope(|scope| {
        if let Some(m) = &settings.metrics {
            let (board, serving) = (&board, &serving);
            std::thread::Builder::new()
                .name("metrics".into())
                .spawn_scoped(scope, move || m.0.serve(|| board.snapshot(), serving))
                .map_err(|e| Error::System(format!("cannot start the metrics thread: {e}")))?;
        }
        // However the run ends, the metrics listener ends with it.
        struct EndServing<'a>(&'a AtomicBool);
        impl Drop for EndServing<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Relaxed);
            }
        }
        let _end_serving = EndServing(&serving);
        let (to_merger, merger_rx) = bounded::<ShardReport>(256);
        let mut notice_txs = Vec::with_capacity(shards);
        // Emptied batches go back to the capture thread, which fills them
        // again: no allocation per batch on the hot path.
        let (recycle, recycled) = bounded::<Vec<Event>>(4 * SHARD_QUEUE);
        let mut to_shards = Vec::with_capacity(shards);
        let mut workers = Vec::with_capacity(shards);
        for shard in 0..shards {
            let (tx, rx) = bounded::<ToShard>(SHARD_QUEUE);
            to_shards.push(tx);
            let (notice_tx, notices) = crossbeam_channel::unbounded::<NoticeMsg>();
            notice_txs.push(notice_tx);
            let to_merger = to_merger.clone();
            let recycle = recycle.clone();
            let det = &settings.detection;
            let limits = &settings.limits;
            let rules = &rules;
            let board = Arc::clone(&board);
            let pin = &pin;
            let spawned = std::thread::Builder::new()
                .name(format!("aggregate-{shard}"))
                .spawn_scoped(scope, move || {
                    pin(shard + 1);
                    aggregate(
                        Aggregator::new(shards, det.bin, det.answer_timeout, limits, rules),
                        shard,
                        Lines {
                            rx,
                            notices,
                            to_merger,
                            recycle,
                        },
                        &board,
                    )
                });
            match spawned {
                Ok(w) => workers.push(w),
                // Threads started so far end once their queues close.
                Err(e) => {
                    return Err(Error::System(format!(
                        "cannot start an aggregator thread: {e}"
                    )))
                }
            }
        }
        drop(to_merger);
        let merge_board = Arc::clone(&board);
        let rules = &rules;
        let det = &settings.detection;
        let merger = std::thread::Builder::new()
            .name("merge".into())
            .spawn_scoped(scope, move || {
                let mut merger = Merger::new(rules, shards, det.bin, det.answer_timeout);
                let mut failed = None;
                let mut finished = vec![false; shards];
                let mut notice_txs = Some(notice_txs);
                for r in merger_rx {
                    finished[r.shard] |= r.watermark == Nanos::MAX;
                    let (rows, notices) = merger.accept(r);
                    if let (Some(n), Some(txs)) = (notices, &notice_txs) {
                        let n = Arc::new(n);
                        for tx in txs {
                            let _ = tx.send(Arc::clone(&n));
                        }
                    }
                    // Aggregators that have finished wait for notices
                    // until there can be no more.
                    if finished.iter().all(|&f| f) && merger.settled() {
                        notice_txs = None;
                    }
                    merge_board
                        .rows
                        .fetch_add(rows.len() as u64, Ordering::Relaxed);
                    if !rows.is_empty() {
                        if let Ok(mut f) = merge_board.findings.lock() {
                            for r in &rows {
                                *f.entry(r.rule).or_default() += 1;
                            }
                        }
                    }
                    if failed.is_none() {
                        failed = writer.write(&rows).err();
                        if failed.is_some() {
                            // Output gone (a closed pipe, a full disk): a
                            // sensor that cannot report must stop and say
                            // so, not go on capturing.
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
                let rows = merger.finish();
                if failed.is_none() {
                    failed = writer.write(&rows).and_then(|_| writer.flush()).err();
                }
                (merger.stats, failed)
            });
        let merger = match merger {
            Ok(m) => m,
            Err(e) => {
                return Err(Error::System(format!(
                    "cannot start the merger thread: {e}"
                )));
            }
        };

        pin(0);
        drop(recycle);
        let lanes = Lanes {
            to_shards: &to_shards,
            recycled,
        };
        // Home sources' TCP probes can be dropped before aggregation only
        // while no rule counts them; session segments need no look for
        // ACK probes or HTTP while no rule reads those.
        let leave_out = LeaveOut {
            home: if rules.ignores_home_sources() {
                NetSet::new(&settings.detection.home)
            } else {
                NetSet::default()
            },
            reads: Reads {
                session_segments: rules.reads_session_segments(),
                tools: rules.reads_tools(),
            },
        };
        let mut others = Vec::with_capacity(more.len());
        for (k, src) in more.iter_mut().enumerate() {
            let (senders, recycled) = (to_shards.clone(), lanes.recycled.clone());
            let (leave_out, router, board) = (leave_out.clone(), &router, &board);
            let spawned = std::thread::Builder::new()
                .name(format!("capture-{}", k + 1))
                .spawn_scoped(scope, move || {
                    let lanes = Lanes {
                        to_shards: &senders,
                        recycled,
                    };
                    let at = Seat {
                        index: k + 1,
                        of: captures,
                    };
                    let st = capture_loop(
                        src, settings, leave_out, router, lanes, stop, board, started, at,
                    );
                    // One socket that ends (an error, said on stderr)
                    // ends the capture: the others must not go on alone.
                    stop.store(true, Ordering::Relaxed);
                    (st, src.kernel_drops(), src.damaged())
                });
            match spawned {
                Ok(t) => others.push(t),
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(Error::System(format!("cannot start a capture thread: {e}")));
                }
            }
        }
        let seat = Seat {
            index: 0,
            of: captures,
        };
        let mut capture = capture_loop(
            source, settings, leave_out, &router, lanes, stop, &board, started, seat,
        );
        let mut per_capture_thread = vec![capture.packets];
        let mut kernel_drops = source.kernel_drops();
        let mut damaged_inputs = source.damaged();
        if !others.is_empty() {
            stop.store(true, Ordering::Relaxed);
        }
        for t in others {
            let (st, drops, damaged) = t.join().expect("capture thread panicked");
            per_capture_thread.push(st.packets);
            capture.add(&st);
            kernel_drops = sum_drops([kernel_drops, drops].into_iter());
            damaged_inputs += damaged;
        }
        drop(to_shards);

        // Home probes dropped by the capture stage count with the ones the
        // aggregators saw (UDP).
        let mut agg = AggStats {
            home_probes: capture.home_probes,
            ..AggStats::default()
        };
        let mut delays = new_delay_histogram();
        for w in workers {
            let (s, h) = w.join().expect("aggregator thread panicked");
            agg.add(&s);
            delays.add(&h).expect("same histogram bounds");
        }
        let (merge, failed): (MergeStats, Option<std::io::Error>) =
            merger.join().expect("merger thread panicked");
        if let Some(e) = failed {
            return Err(Error::Output(e.to_string()));
        }
        Ok(Report {
            capture,
            agg,
            merge,
            delays,
            elapsed: started.elapsed(),
            kernel_drops,
            damaged_inputs,
            threads: shards,
            per_capture_thread,
        })
    })
}

/// An aggregator thread's channels.
struct Lines {
    rx: Receiver<ToShard>,
    notices: Receiver<NoticeMsg>,
    to_merger: Sender<ShardReport>,
    recycle: Sender<Vec<Event>>,
}

/// One aggregator thread: events in, closed summaries and updates out.
fn aggregate(
    mut agg: Aggregator,
    shard: usize,
    lines: Lines,
    board: &Board,
) -> (AggStats, Histogram<u64>) {
    let mut through = agg.closed_through();
    let mut acked = 0;
    // Report what changed (or, when `force`d, at least the watermark).
    let report = |agg: &mut Aggregator, through: &mut i64, acked: &mut u64, force: bool| {
        while let Ok(n) = lines.notices.try_recv() {
            agg.notice(&n.1, n.0);
        }
        let updates = agg.take_updates();
        if force
            || agg.has_closed()
            || agg.closed_through() > *through
            || !updates.is_empty()
            || agg.acked() > *acked
        {
            let (partials, t) = agg.take_closed();
            *through = t;
            *acked = agg.acked();
            // The merger only goes away if output failed; keep draining.
            let _ = lines.to_merger.send(ShardReport {
                shard,
                partials,
                through: t,
                updates,
                watermark: agg.watermark(),
                acked: agg.acked(),
            });
        }
    };
    let mut notices = lines.notices.clone();
    loop {
        // A notice is answered at once (an early alert waits for every
        // aggregator's answer), events and ticks as they come.
        let msg = crossbeam_channel::select! {
            recv(lines.rx) -> msg => match msg {
                Ok(m) => m,
                Err(_) => break,
            },
            recv(notices) -> n => {
                match n {
                    Ok(n) => {
                        agg.notice(&n.1, n.0);
                        report(&mut agg, &mut through, &mut acked, false);
                    }
                    // The merger is gone: no more notices.
                    Err(_) => notices = crossbeam_channel::never(),
                }
                continue;
            }
        };
        let tick = match msg {
            ToShard::Batch(mut events) => {
                agg.handle_batch(&events);
                events.clear();
                // Full (or the capture thread is gone): let it drop.
                let _ = lines.recycle.try_send(events);
                false
            }
            ToShard::Tick(clock) => {
                agg.tick(clock);
                if let Ok(mut b) = board.shards.lock() {
                    b[shard] = agg.stats();
                }
                if board.metrics {
                    if let Ok(mut d) = board.delays.lock() {
                        d[shard] = Some(agg.delays().clone());
                    }
                }
                true
            }
        };
        report(&mut agg, &mut through, &mut acked, tick);
    }
    agg.finish();
    report(&mut agg, &mut through, &mut acked, true);
    // The merger may still want this shard's share of what others
    // reported last: answer its notices until it has no more.
    for n in &lines.notices {
        agg.notice(&n.1, n.0);
        report(&mut agg, &mut through, &mut acked, true);
    }
    (agg.stats(), agg.delays().clone())
}

fn wall_clock() -> Nanos {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as Nanos)
        .unwrap_or(0)
}

/// Frames the capture loop takes from its source between checks of the
/// stop flag, progress and periodic statistics.
const BLOCK: usize = 4096;

/// The capture stage's state: the clock, counters and one open batch per
/// aggregator.
/// Where the capture thread's batches go, and come back from.
struct Lanes<'a> {
    to_shards: &'a [Sender<ToShard>],
    recycled: Receiver<Vec<Event>>,
}

/// What the capture stage may leave out because no rule that is on reads
/// it.
#[derive(Clone)]
struct LeaveOut {
    /// Home sources' TCP probes and the answers to them.
    home: NetSet,
    /// What only some rules read: session segments' content, probes'
    /// tools.
    reads: Reads,
}

struct Capturer<'a> {
    router: &'a Router,
    home: NetSet,
    /// What decode must look for (`LeaveOut`).
    reads: Reads,
    handover: Handover<'a, ToShard>,
    /// Emptied batches the aggregators give back.
    recycled: Receiver<Vec<Event>>,
    batch: usize,
    batches: Vec<Vec<Event>>,
    st: CaptureStats,
    clock: Nanos,
    next_tick: Nanos,
    /// Capture time between ticks.
    tick: Nanos,
}

impl Capturer<'_> {
    /// One frame: count it, move the clock, decode, route. Inlined into the
    /// reader's loop: this is the per-packet path of a replay.
    #[inline(always)]
    fn on_frame(&mut self, f: Frame<'_>) {
        if f.ts > self.clock {
            self.clock = f.ts;
        } else if f.ts == BAD_TIME {
            // Below every clock, so tested only here, off the common path.
            self.st.bad_timestamps += 1;
            return;
        } else if f.ts < self.clock {
            self.st.out_of_order += 1;
        }
        self.st.packets += 1;
        self.st.bytes += f.wire_len as u64;
        decode_to(f.link, f.data, f.ts, self.reads, self);
        if self.clock >= self.next_tick {
            self.tick(f.ts);
        }
    }

    /// A TCP probe from a home network, or an answer to one (an ICMP error
    /// quotes it): home hosts are never candidates, so aggregators need not
    /// see these; on a span port they are most of the SYNs and answers.
    /// (UDP goes on: only flow state tells who started a flow.)
    #[inline]
    fn concerns_home(&mut self, ev: &Event) -> bool {
        let initiator = match ev.kind {
            Kind::Syn | Kind::Stealth(_) | Kind::Unreachable => &ev.src,
            Kind::SynAck | Kind::Rst | Kind::RstNoAck => &ev.dst,
            Kind::Udp
            | Kind::EchoRequest
            | Kind::EchoReply
            | Kind::AckProbe
            | Kind::HttpRequest(_)
            | Kind::HttpStatus(_) => return false,
        };
        if !self.home.contains(initiator) {
            return false;
        }
        self.st.home_probes += matches!(ev.kind, Kind::Syn | Kind::Stealth(_)) as u64;
        true
    }

    /// Every second of capture time: hand over open batches and tick every
    /// aggregator with the clock.
    #[cold]
    fn tick(&mut self, ts: Nanos) {
        if self.next_tick == Nanos::MIN {
            self.st.first_ts = Some(ts);
        } else {
            self.flush();
        }
        self.next_tick = self.clock.saturating_add(self.tick);
    }

    #[inline]
    fn push(&mut self, shard: usize, ev: Event) {
        self.batches[shard].push(ev);
        if self.batches[shard].len() >= self.batch {
            self.send(shard);
        }
    }

    /// Hand shard `i` its open batch, and open another (a recycled one if
    /// an aggregator has given one back).
    fn send(&mut self, i: usize) {
        let empty = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(self.batch));
        let full = std::mem::replace(&mut self.batches[i], empty);
        self.handover.send(i, ToShard::Batch(full));
    }

    /// Send every open batch, then the clock.
    fn flush(&mut self) {
        self.handover.retry_all();
        for i in 0..self.batches.len() {
            if !self.batches[i].is_empty() {
                self.send(i);
            }
            if self.clock != Nanos::MIN {
                self.handover.send(i, ToShard::Tick(self.clock));
            }
        }
        self.note_handover();
    }

    /// The hand-over's counts, in the capture thread's.
    fn note_handover(&mut self) {
        let c = self.handover.counts;
        self.st.handover_waits = c.waits;
        self.st.handover_deferred = c.deferred;
        self.st.handover_peak_held = c.peak_held;
    }
}

/// Decode's outcomes, on the capture thread.
impl Sink for Capturer<'_> {
    #[inline(always)]
    fn event(&mut self, mut ev: Event) {
        if self.concerns_home(&ev) {
            return;
        }
        self.st.events += 1;
        ev.clock = self.clock;
        let shard = self.router.route(&ev);
        self.push(shard, ev);
    }

    #[inline(always)]
    fn skip(&mut self, why: Skip) {
        self.st.skipped[why as usize] += 1;
    }
}

/// Read, decode, stamp the clock, route into batches. Runs on the caller's
/// thread.
#[allow(clippy::too_many_arguments)]
fn capture_loop<S: FrameSource>(
    source: &mut S,
    settings: &Settings,
    leave_out: LeaveOut,
    router: &Router,
    lanes: Lanes<'_>,
    stop: &AtomicBool,
    board: &Board,
    started: Instant,
    seat: Seat,
) -> CaptureStats {
    let batch = settings.batch.max(1);
    let live = source.is_live();
    let mut cap = Capturer {
        router,
        home: leave_out.home,
        reads: leave_out.reads,
        batch,
        batches: (0..lanes.to_shards.len())
            .map(|_| Vec::with_capacity(batch))
            .collect(),
        handover: Handover::new(
            lanes.to_shards,
            if live { LIVE_BACKLOG } else { 0 },
            ToShard::weight,
        ),
        recycled: lanes.recycled,
        st: CaptureStats::default(),
        clock: Nanos::MIN,
        next_tick: Nanos::MIN,
        tick: if live { LIVE_TICK } else { TICK },
    };
    let mut next_report = settings.stats_every.map(|d| started + d);
    let progress = settings.progress && std::io::stderr().is_terminal();
    let mut next_progress = started + Duration::from_secs(1);
    let mut next_metrics = started;
    // Several capture threads: the statistics line adds up what each
    // published.
    let publish_all = board.metrics || seat.of > 1;

    loop {
        match source.frames(BLOCK, &mut |f| cap.on_frame(f)) {
            Pause::More => {}
            Pause::Idle => {
                if live {
                    cap.clock = cap.clock.max(wall_clock() - LIVE_ALLOWANCE);
                }
                cap.flush();
            }
            Pause::End => break,
        }
        if stop.load(Ordering::Relaxed) {
            cap.st.interrupted = true;
            break;
        }
        let now = Instant::now();
        if publish_all && now >= next_metrics {
            next_metrics = now + METRICS_EVERY;
            publish(&cap.st, board, source, seat.index);
        }
        if seat.index > 0 {
            // Progress and statistics lines are the first thread's.
            continue;
        }
        if progress && now >= next_progress {
            next_progress = now + Duration::from_secs(1);
            let el = now - started;
            eprint!(
                "\rpicket: {} packets, {} packets/s, {} rows   ",
                human(cap.st.packets as f64),
                human(cap.st.packets as f64 / el.as_secs_f64()),
                board.rows.load(Ordering::Relaxed)
            );
        }
        if next_report.is_some_and(|t| now >= t) {
            next_report = settings.stats_every.map(|d| now + d);
            if seat.of > 1 {
                let (all, drops) = board.capture_totals();
                periodic(&all, drops, board, started);
            } else {
                let drops = source.kernel_drops();
                periodic(&cap.st, drops, board, started);
            }
        }
    }
    if progress {
        eprintln!();
    }
    cap.flush();
    cap.handover.finish();
    cap.note_handover();
    if publish_all {
        publish(&cap.st, board, source, seat.index);
    }
    let mut st = cap.st;
    // A stream cut short by the stop ends like a finished one.
    st.interrupted |= stop.load(Ordering::Relaxed);
    st.last_clock = (cap.clock != Nanos::MIN).then_some(cap.clock);
    st
}

/// How often the capture thread hands its counters to a metrics listener.
const METRICS_EVERY: Duration = Duration::from_millis(250);

/// Which of the run's capture threads this is (0 prints progress and
/// statistics).
#[derive(Clone, Copy)]
struct Seat {
    index: usize,
    of: usize,
}

/// A capture thread's counters, for a metrics scrape or the statistics
/// line.
#[cold]
fn publish<S: FrameSource>(st: &CaptureStats, board: &Board, source: &mut S, index: usize) {
    if let Ok(mut c) = board.capture.lock() {
        c[index] = st.clone();
    }
    let drops = source.kernel_drops();
    if let Ok(mut d) = board.kernel_drops.lock() {
        d[index] = drops;
    }
}

/// One line of statistics during a long live run.
fn periodic(st: &CaptureStats, drops: Option<u64>, board: &Board, started: Instant) {
    let mut a = AggStats::default();
    if let Ok(shards) = board.shards.lock() {
        for s in shards.iter() {
            a.add(s);
        }
    }
    let drops = drops.map(|d| d.to_string()).unwrap_or_else(|| "n/a".into());
    eprintln!(
        "picket: {} s: packets {}, attempts {} (answered {}, rejected {}, unanswered {}), (source, bin) entries {}, pending {}, evicted {}, rows {}, kernel drops {}",
        started.elapsed().as_secs(),
        st.packets,
        a.attempts(),
        a.answered,
        a.rejected,
        a.unanswered,
        a.sources_now,
        a.pending_now,
        a.sources_evicted + a.pending_evicted,
        board.rows.load(Ordering::Relaxed),
        drops
    );
}
