//! The properties the fuzz targets (`fuzz/`, cargo-fuzz on nightly)
//! check, here so that `tests/fuzz_corpora.rs` can replay their saved
//! corpora on stable in every test run. Each takes the fuzzer's bytes and
//! panics if the property fails.

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::capture::file::{FileSet, Reader};
use crate::capture::memory::MemorySource;
use crate::capture::{FrameSource, Next};
use crate::config::Limits;
use crate::decode::{decode, decode_general, LinkType};
use crate::output::{Format, RowWriter};
use crate::pipeline::{self, Settings};
use crate::time::{Nanos, Precision, NANOS_PER_SEC};

const LINKS: [LinkType; 5] = [
    LinkType::Ethernet,
    LinkType::Null,
    LinkType::Raw,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
];

/// Decode: the first byte picks the link type, the rest is the frame.
/// Never panics, and the fast path agrees with the general decoder.
pub fn decode_agrees(data: &[u8]) {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link = LINKS[pick as usize % LINKS.len()];
    assert_eq!(
        decode(link, frame, 7),
        decode_general(link, frame, 7),
        "{link:?}"
    );
    decode_to_agrees(link, frame);
}

/// The capture stage's decode (`decode_to`, which skips a session's
/// segment before anything else when no rule reads them) hands its sink
/// exactly what `decode_for` returns, whatever the rules read.
pub fn decode_to_agrees(link: LinkType, frame: &[u8]) {
    use crate::decode::{decode_for, decode_to, Reads, Sink, Skip};
    use crate::event::Event;
    struct Last(Option<Result<Event, Skip>>);
    impl Sink for Last {
        fn event(&mut self, ev: Event) {
            self.0 = Some(Ok(ev));
        }
        fn skip(&mut self, why: Skip) {
            self.0 = Some(Err(why));
        }
    }
    for session_segments in [false, true] {
        for tools in [false, true] {
            let reads = Reads {
                session_segments,
                tools,
            };
            let mut last = Last(None);
            decode_to(link, frame, 7, reads, &mut last);
            assert_eq!(last.0, Some(decode_for(link, frame, 7, reads)), "{reads:?}");
        }
    }
}

/// A record as a reader hands it out: time, bytes, wire length.
type Record = (Nanos, Vec<u8>, u32);

/// Every record a capture file hands out, and whether it ended damaged;
/// `None` if it cannot be opened.
fn read_all(path: &str, reader: Reader) -> Option<(Vec<Record>, bool)> {
    let mut set = FileSet::open(&[path.to_string()], reader).ok()?;
    let mut out = Vec::new();
    while let Next::Frame(f) = set.next_frame() {
        out.push((f.ts, f.data.to_vec(), f.wire_len));
    }
    Some((out, set.damaged() > 0))
}

/// Readers: the bytes as a capture file. Neither reader panics, and
/// where both open it and read it to its end undamaged, they hand out the
/// same records.
pub fn readers_agree(data: &[u8]) {
    let dir = std::env::temp_dir();
    let path = dir.join(format!(
        "picket-fuzz-{}-{:?}.pcap",
        std::process::id(),
        std::thread::current().id()
    ));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let p = path.to_string_lossy().into_owned();
    let mapped = read_all(&p, Reader::Auto);
    let libpcap = read_all(&p, Reader::Libpcap);
    let _ = std::fs::remove_file(&path);
    if let (Some((a, false)), Some((b, false))) = (mapped, libpcap) {
        assert_eq!(a, b, "the readers disagree");
    }
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::ErrorKind::Other)?
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A small capture from the bytes: records of `[gap][length][packet]`
/// (raw IP), the gap in steps of 40 ms, backwards when its top bit is
/// set, so bins close, answers time out and timestamps run out of order.
fn records(data: &[u8]) -> Vec<(Nanos, Vec<u8>)> {
    let mut t: Nanos = 1_795_550_400 * NANOS_PER_SEC;
    let mut out = Vec::new();
    let mut rest = data;
    while let [gap, len, tail @ ..] = rest {
        let n = (*len as usize).min(tail.len());
        let step = (*gap & 0x7f) as Nanos * 40_000_000;
        t += if gap & 0x80 != 0 { -step } else { step };
        out.push((t, tail[..n].to_vec()));
        rest = &tail[n..];
    }
    out
}

/// The whole pipeline with caps small enough to evict: never panics, and
/// unless something was evicted (then results may depend on each
/// thread's share of the caps, as documented) the rows are the same for
/// 1 and 3 threads: with the default rules (every rule), and with the
/// seed rule alone (the capture stage then drops home sources' probes).
pub fn pipeline_threads_agree(data: &[u8]) {
    let frames = records(data);
    for rules in [Vec::new(), vec!["seed".to_string()]] {
        threads_agree(&frames, &rules);
    }
}

fn threads_agree(frames: &[(Nanos, Vec<u8>)], rules: &[String]) {
    let run = |threads: usize| {
        let settings = Settings {
            threads,
            rules: rules.to_vec(),
            batch: 2,
            limits: Limits {
                max_sources: 12,
                max_pending: 12,
                max_udp_flows: 12,
                max_dests_per_source: 4,
                max_set_bytes: 4096,
                max_slow_sources: 8,
                min_share: 4,
            },
            ..Settings::default()
        };
        let mut src = MemorySource::new(LinkType::Raw, frames.to_vec());
        let buf = Shared::default();
        let writer = RowWriter::new(Box::new(buf.clone()), Format::Json, Precision::Nano);
        let report = pipeline::run(&mut src, &settings, writer, &AtomicBool::new(false))
            .expect("in-memory pipeline runs");
        let evicted = report.agg.pending_evicted
            + report.agg.sources_evicted
            + report.agg.udp_flows_evicted
            + report.agg.early_evicted
            + report.agg.dest_sets_saturated
            + report.merge.updates_dropped
            + report.merge.horizon_evicted;
        let rows = buf.0.lock().map(|b| b.clone()).unwrap_or_default();
        (rows, evicted)
    };
    let (one, e1) = run(1);
    let (three, e3) = run(3);
    if e1 == 0 && e3 == 0 {
        assert_eq!(
            String::from_utf8_lossy(&one),
            String::from_utf8_lossy(&three),
            "1 and 3 threads disagree (rules {rules:?})"
        );
    }
}
