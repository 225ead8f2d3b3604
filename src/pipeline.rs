//! Wires the stages into threads:
//!
//! ```text
//! capture+decode (this thread) --batches--> aggregator 0..N --summaries--> merger --> output
//! ```
//!
//! The capture thread owns the clock (newest timestamp so far) and stamps it
//! on every event, and ticks every aggregator with it, so all shards close
//! bins at the same capture time whatever the thread count or batch size.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{bounded, Receiver, Sender};
use hdrhistogram::Histogram;

use crate::aggregate::{AggStats, Aggregator};
use crate::capture::{Frame, FrameSource, Pause};
use crate::config::{Detection, Limits, NetSet};
use crate::decode::decode;
use crate::error::Error;
use crate::event::{Event, Kind};
use crate::merge::Merger;
use crate::output::RowWriter;
use crate::rules::{MergeStats, Partials, RuleSet};
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
        }
    }
}

/// Messages (batches or ticks) queued to each aggregator.
const SHARD_QUEUE: usize = 64;
/// Capture time between ticks to every aggregator.
const TICK: Nanos = NANOS_PER_SEC;
/// In live mode the clock may follow the wall clock, less this allowance
/// for packets still in the kernel's buffer.
const LIVE_ALLOWANCE: Nanos = 2 * NANOS_PER_SEC;

enum ToShard {
    Batch(Vec<Event>),
    Tick(Nanos),
}

struct Closed {
    shard: usize,
    partials: Partials,
    through: i64,
}

/// What the aggregators publish for periodic statistics.
#[derive(Default)]
struct Board {
    shards: Mutex<Vec<AggStats>>,
    rows: AtomicU64,
}

/// Run the whole pipeline over `source` until it ends or `stop` is set.
///
/// Generic over the source so that the per-packet read inlines into the
/// capture loop (a virtual call per packet showed in the span profile).
pub fn run<S: FrameSource>(
    source: &mut S,
    settings: &Settings,
    mut writer: RowWriter,
    stop: &AtomicBool,
) -> Result<Report, Error> {
    let shards = settings.threads.max(1);
    let router = Router::new(shards);
    let rules = settings.rule_set()?;
    let started = Instant::now();
    let board = Arc::new(Board {
        shards: Mutex::new(vec![AggStats::default(); shards]),
        rows: AtomicU64::new(0),
    });
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
        let (to_merger, merger_rx) = bounded::<Closed>(256);
        // Emptied batches go back to the capture thread, which fills them
        // again: no allocation per batch on the hot path.
        let (recycle, recycled) = bounded::<Vec<Event>>(4 * SHARD_QUEUE);
        let mut to_shards = Vec::with_capacity(shards);
        let mut workers = Vec::with_capacity(shards);
        for shard in 0..shards {
            let (tx, rx) = bounded::<ToShard>(SHARD_QUEUE);
            to_shards.push(tx);
            let to_merger = to_merger.clone();
            let recycle = recycle.clone();
            let det = &settings.detection;
            let limits = &settings.limits;
            let rules = &rules;
            let board = Arc::clone(&board);
            let pin = &pin;
            workers.push(
                std::thread::Builder::new()
                    .name(format!("aggregate-{shard}"))
                    .spawn_scoped(scope, move || {
                        pin(shard + 1);
                        aggregate(
                            Aggregator::new(shards, det.bin, det.answer_timeout, limits, rules),
                            shard,
                            rx,
                            to_merger,
                            recycle,
                            &board,
                        )
                    })
                    .expect("spawn aggregator"),
            );
        }
        drop(to_merger);
        let merge_board = Arc::clone(&board);
        let rules = &rules;
        let merger = std::thread::Builder::new()
            .name("merge".into())
            .spawn_scoped(scope, move || {
                let mut merger = Merger::new(rules, shards);
                let mut failed = None;
                for c in merger_rx {
                    let rows = merger.accept(c.shard, c.partials, c.through);
                    merge_board
                        .rows
                        .fetch_add(rows.len() as u64, Ordering::Relaxed);
                    if failed.is_none() {
                        failed = writer.write(&rows).err();
                    }
                }
                let rows = merger.finish();
                if failed.is_none() {
                    failed = writer.write(&rows).and_then(|_| writer.flush()).err();
                }
                (merger.stats, failed)
            })
            .expect("spawn merger");

        pin(0);
        drop(recycle);
        let lanes = Lanes {
            to_shards: &to_shards,
            recycled,
        };
        // Home sources' TCP probes can be dropped before aggregation only
        // while no rule counts them.
        let home = if rules.ignores_home_sources() {
            NetSet::new(&settings.detection.home)
        } else {
            NetSet::default()
        };
        let capture = capture_loop(
            source, settings, home, &router, lanes, stop, &board, started,
        );
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
            kernel_drops: source.kernel_drops(),
            damaged_inputs: source.damaged(),
            threads: shards,
        })
    })
}

/// One aggregator thread: events in, closed summaries out.
fn aggregate(
    mut agg: Aggregator,
    shard: usize,
    rx: Receiver<ToShard>,
    to_merger: Sender<Closed>,
    recycle: Sender<Vec<Event>>,
    board: &Board,
) -> (AggStats, Histogram<u64>) {
    let mut through = agg.closed_through();
    let send = |agg: &mut Aggregator, through: &mut i64| {
        if agg.has_closed() || agg.closed_through() > *through {
            let (partials, t) = agg.take_closed();
            *through = t;
            // The merger only goes away if output failed; keep draining.
            let _ = to_merger.send(Closed {
                shard,
                partials,
                through: t,
            });
        }
    };
    for msg in rx {
        match msg {
            ToShard::Batch(mut events) => {
                agg.handle_batch(&events);
                events.clear();
                // Full (or the capture thread is gone): let it drop.
                let _ = recycle.try_send(events);
            }
            ToShard::Tick(clock) => {
                agg.advance(clock);
                if let Ok(mut b) = board.shards.lock() {
                    b[shard] = agg.stats();
                }
            }
        }
        send(&mut agg, &mut through);
    }
    agg.finish();
    send(&mut agg, &mut through);
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

struct Capturer<'a> {
    router: &'a Router,
    home: NetSet,
    lanes: Lanes<'a>,
    batch: usize,
    batches: Vec<Vec<Event>>,
    st: CaptureStats,
    clock: Nanos,
    next_tick: Nanos,
}

impl Capturer<'_> {
    /// One frame: count it, move the clock, decode, route. Inlined into the
    /// reader's loop: this is the per-packet path of a replay.
    #[inline(always)]
    fn on_frame(&mut self, f: Frame<'_>) {
        self.st.packets += 1;
        self.st.bytes += f.wire_len as u64;
        if f.ts > self.clock {
            self.clock = f.ts;
        } else if f.ts < self.clock {
            self.st.out_of_order += 1;
        }
        match decode(f.link, f.data, f.ts) {
            Ok(ev) if self.concerns_home(&ev) => {}
            Ok(mut ev) => {
                self.st.events += 1;
                ev.clock = self.clock;
                let shard = self.router.route(&ev);
                self.push(shard, ev);
            }
            Err(skip) => self.st.skipped[skip as usize] += 1,
        }
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
            Kind::Syn | Kind::Stealth | Kind::Unreachable => &ev.src,
            Kind::SynAck | Kind::Rst => &ev.dst,
            Kind::Udp | Kind::EchoRequest | Kind::EchoReply => return false,
        };
        if !self.home.contains(initiator) {
            return false;
        }
        self.st.home_probes += matches!(ev.kind, Kind::Syn | Kind::Stealth) as u64;
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
        self.next_tick = self.clock.saturating_add(TICK);
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
            .lanes
            .recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(self.batch));
        let full = std::mem::replace(&mut self.batches[i], empty);
        let _ = self.lanes.to_shards[i].send(ToShard::Batch(full));
    }

    /// Send every open batch, then the clock.
    fn flush(&mut self) {
        for i in 0..self.batches.len() {
            if !self.batches[i].is_empty() {
                self.send(i);
            }
            if self.clock != Nanos::MIN {
                let _ = self.lanes.to_shards[i].send(ToShard::Tick(self.clock));
            }
        }
    }
}

/// Read, decode, stamp the clock, route into batches. Runs on the caller's
/// thread.
#[allow(clippy::too_many_arguments)]
fn capture_loop<S: FrameSource>(
    source: &mut S,
    settings: &Settings,
    home: NetSet,
    router: &Router,
    lanes: Lanes<'_>,
    stop: &AtomicBool,
    board: &Board,
    started: Instant,
) -> CaptureStats {
    let batch = settings.batch.max(1);
    let mut cap = Capturer {
        router,
        home,
        batch,
        batches: (0..lanes.to_shards.len())
            .map(|_| Vec::with_capacity(batch))
            .collect(),
        lanes,
        st: CaptureStats::default(),
        clock: Nanos::MIN,
        next_tick: Nanos::MIN,
    };
    let live = source.is_live();
    let mut next_report = settings.stats_every.map(|d| started + d);
    let progress = settings.progress && std::io::stderr().is_terminal();
    let mut next_progress = started + Duration::from_secs(1);

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
            break;
        }
        let now = Instant::now();
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
            periodic(&cap.st, board, source, started);
        }
    }
    if progress {
        eprintln!();
    }
    cap.flush();
    let mut st = cap.st;
    st.last_clock = (cap.clock != Nanos::MIN).then_some(cap.clock);
    st
}

/// One line of statistics during a long live run.
fn periodic<S: FrameSource>(st: &CaptureStats, board: &Board, source: &mut S, started: Instant) {
    let mut a = AggStats::default();
    if let Ok(shards) = board.shards.lock() {
        for s in shards.iter() {
            a.add(s);
        }
    }
    let drops = source
        .kernel_drops()
        .map(|d| d.to_string())
        .unwrap_or_else(|| "n/a".into());
    eprintln!(
        "picket: {} s: packets {}, attempts {} (answered {}, rejected {}, unanswered {}), sources {}, pending {}, evicted {}, rows {}, kernel drops {}",
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
