//! `picket live` on a veth pair between two network namespaces this test
//! creates (documentation addresses only, nothing routed elsewhere), with
//! real scanners. Needs root, as CI has; without it these tests fail, they
//! do not skip.

mod common;

use common::exited_within;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const SCANNER_MAC: &str = "02:00:00:00:00:10";
const TARGET_MAC: &str = "02:00:00:00:00:01";

fn root() {
    let uid = Command::new("id").arg("-u").output().expect("id");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "live tests need root for network namespaces and capture: run scripts/test.sh as root"
    );
}

fn run(args: &[&str]) {
    let st = Command::new(args[0])
        .args(&args[1..])
        .status()
        .expect(args[0]);
    assert!(st.success(), "{args:?} failed");
}

/// Two namespaces joined by a veth pair; removed on drop.
struct Lab {
    scan: String,
    target: String,
    veth_scan: String,
    veth_target: String,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let id = std::process::id() % 100_000;
        let lab = Lab {
            scan: format!("pkl-{tag}-s-{id}"),
            target: format!("pkl-{tag}-t-{id}"),
            veth_scan: format!("pk{tag}s{id}"),
            veth_target: format!("pk{tag}t{id}"),
        };
        lab.remove();
        run(&["ip", "netns", "add", &lab.scan]);
        run(&["ip", "netns", "add", &lab.target]);
        run(&[
            "ip",
            "link",
            "add",
            &lab.veth_scan,
            "address",
            SCANNER_MAC,
            "type",
            "veth",
            "peer",
            "name",
            &lab.veth_target,
            "address",
            TARGET_MAC,
        ]);
        run(&["ip", "link", "set", &lab.veth_scan, "netns", &lab.scan]);
        run(&["ip", "link", "set", &lab.veth_target, "netns", &lab.target]);
        let ends = [
            (&lab.scan, &lab.veth_scan, "203.0.113.10/24", "192.0.2.0/24"),
            (
                &lab.target,
                &lab.veth_target,
                "192.0.2.10/24",
                "203.0.113.0/24",
            ),
        ];
        for (ns, dev, addr, peer_net) in ends {
            run(&["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            run(&["ip", "-n", ns, "link", "set", dev, "up"]);
            run(&["ip", "-n", ns, "route", "add", peer_net, "dev", dev]);
        }
        // masscan's own stack sends from .11, which the scanner also owns
        // so the target's answers find it.
        run(&[
            "ip",
            "-n",
            &lab.scan,
            "addr",
            "add",
            "203.0.113.11/24",
            "dev",
            &lab.veth_scan,
        ]);
        lab
    }

    fn remove(&self) {
        for ns in [&self.scan, &self.target] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }

    fn in_ns(&self, ns: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).args(args);
        c
    }

    /// Start `picket live` on the target's veth end, writing rows to
    /// `rows` (a file: a pipe nobody reads until the end would fill up).
    fn picket(&self, rows: &Path, extra: &[&str]) -> Child {
        let mut args = vec![
            env!("CARGO_BIN_EXE_picket"),
            "live",
            &self.veth_target,
            "-o",
            rows.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let child = self
            .in_ns(&self.target, &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Let it open the capture before traffic starts.
        std::thread::sleep(Duration::from_millis(1500));
        child
    }

    /// An nmap SYN scan of `ports` on the target, one probe per port.
    fn nmap_syn(&self, ports: &str) {
        self.scan(&[
            "nmap",
            "-n",
            "-Pn",
            "-sS",
            "-p",
            ports,
            "--max-retries",
            "0",
            "192.0.2.10",
        ]);
    }

    /// Replay `file` into the scanner's end as fast as tcpreplay can.
    fn topspeed(&self, file: &Path) {
        self.scan(&[
            "tcpreplay",
            "-q",
            "--topspeed",
            "-i",
            &self.veth_scan,
            file.to_str().unwrap(),
        ]);
    }

    /// Run a bounded command in the scanner namespace.
    fn scan(&self, args: &[&str]) {
        let mut full = vec!["timeout", "120"];
        full.extend_from_slice(args);
        let st = self
            .in_ns(&self.scan, &full)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "{args:?} failed");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.remove();
    }
}

/// picket-gen's `syn` workload of `packets` packets, written in `dir`.
fn syn_workload(dir: &Path, packets: u64) -> PathBuf {
    let file = dir.join("syn.pcap");
    run(&[
        env!("CARGO_BIN_EXE_picket-gen"),
        "syn",
        file.to_str().unwrap(),
        "--packets",
        &packets.to_string(),
    ]);
    file
}

/// SIGTERM picket and collect what it wrote.
fn stop(picket: Child, rows_file: &Path) -> (Vec<Value>, String, Output) {
    std::thread::sleep(Duration::from_millis(1500));
    run(&["kill", "-TERM", &picket.id().to_string()]);
    let out = exited_within(picket, Duration::from_secs(30), "of SIGTERM");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    let text = std::fs::read_to_string(rows_file).unwrap();
    let rows = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (rows, err, out)
}

/// The line `rule` wrote about `src`.
fn row<'a>(rows: &'a [Value], rule: &str, src: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["SourceIP"] == src && r["Rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} line for {src}: {rows:#?}"))
}

fn count_rule(rows: &[Value], rule: &str) -> usize {
    rows.iter().filter(|r| r["Rule"] == rule).count()
}

/// Watches a growing output file and notes the wall-clock time at which
/// each line appeared (polled every 10 ms).
struct Watcher {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<(String, SystemTime)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    fn new(file: PathBuf) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (st, se) = (Arc::clone(&stop), Arc::clone(&seen));
        let thread = std::thread::spawn(move || {
            let mut done = 0;
            while !st.load(Ordering::Relaxed) {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                let now = SystemTime::now();
                let complete = text.rfind('\n').map_or(0, |i| i + 1);
                if complete < done {
                    // The file is gone (the test is ending).
                    break;
                }
                for l in text[done..complete].lines() {
                    se.lock().unwrap().push((l.to_string(), now));
                }
                done = complete;
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Watcher {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// Wait (at most `limit`) until the line `rule` writes about `src` is
    /// out.
    fn wait_for(&self, rule: &str, src: &str, limit: Duration) {
        let needle = (
            format!(r#""SourceIP":"{src}""#),
            format!(r#""Rule":"{rule}""#),
        );
        let start = Instant::now();
        while start.elapsed() < limit {
            let seen = self.seen.lock().unwrap();
            if seen
                .iter()
                .any(|(l, _)| l.contains(&needle.0) && l.contains(&needle.1))
            {
                return;
            }
            drop(seen);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// When the line `rule` wrote about `src` appeared.
    fn appeared(&mut self, rule: &str, src: &str) -> SystemTime {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let needle = (
            format!(r#""SourceIP":"{src}""#),
            format!(r#""Rule":"{rule}""#),
        );
        self.seen
            .lock()
            .unwrap()
            .iter()
            .find(|(l, _)| l.contains(&needle.0) && l.contains(&needle.1))
            .map(|(_, t)| *t)
            .unwrap_or_else(|| panic!("no {rule} line for {src} while running"))
    }
}

/// An RFC 3339 UTC time as picket writes it ("2026-11-24T20:00:10.101Z").
fn parse_time(s: &str) -> SystemTime {
    let num = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (num(0, 4), num(5, 7), num(8, 10));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + num(11, 13) * 3600 + num(14, 16) * 60 + num(17, 19);
    let frac = s[19..s.len() - 1].trim_start_matches('.');
    let nanos = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}")[..9].parse::<u64>().unwrap()
    };
    UNIX_EPOCH + Duration::from_secs(secs as u64) + Duration::from_nanos(nanos)
}

#[test]
fn rfc3339_parses_as_written() {
    assert_eq!(
        parse_time("2026-11-24T20:00:10.101Z"),
        UNIX_EPOCH + Duration::from_millis(1_795_550_410_101)
    );
    assert_eq!(parse_time("1970-01-01T00:00:00Z"), UNIX_EPOCH);
}

/// How long after its `DetectedAt` the early alert about `src` was on the
/// output.
fn alert_latency(w: &mut Watcher, rows: &[Value], src: &str) -> Duration {
    let alert = row(rows, "early", src);
    let at = parse_time(alert["DetectedAt"].as_str().unwrap());
    w.appeared("early", src)
        .duration_since(at)
        .unwrap_or(Duration::ZERO)
}

/// A number from the statistics block, e.g. `stat(err, "kernel drops")`.
fn stat(err: &str, label: &str) -> u64 {
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("{label}: {err}"));
    line.trim_start()[label.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn live_capture_reports_nmap_and_masscan_and_flushes_on_sigterm() {
    root();
    let lab = Lab::new("a");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rows.json");
    let picket = lab.picket(&out, &["--stats-interval", "1"]);
    let mut watch = Watcher::new(out.clone());
    // 100 closed ports, each probed once: the target's kernel answers RST.
    lab.nmap_syn("1-100");
    // Two ports over a /26: only 192.0.2.10 exists (RST), the rest is silent.
    lab.scan(&[
        "masscan",
        "--interface",
        &lab.veth_scan,
        "--adapter-ip",
        "203.0.113.11",
        "--adapter-mac",
        SCANNER_MAC,
        "--router-mac",
        TARGET_MAC,
        "--rate",
        "1000",
        "--wait",
        "1",
        "-p",
        "80,8080",
        "192.0.2.0/26",
    ]);
    // Masscan's probes are known unanswered 5 s after they were sent:
    // let picket run until then (stopping it earlier would make them
    // known at the end of input).
    watch.wait_for("early", "203.0.113.11", Duration::from_secs(15));
    let (rows, err, _) = stop(picket, &out);
    // It said at start what it watches and how.
    let banner = format!(
        "picket: capturing on {} (link type EN10MB, snap length 256, filter none); rules: early, seed, internal, ping-sweep, ack-scan, stealth-scan, trw, web-probe, fingerprint, small-sweep, slow-scan; writing json to {}",
        lab.veth_target,
        out.display()
    );
    assert!(err.starts_with(&banner), "{err}");
    assert_eq!(count_rule(&rows, "seed"), 2, "{rows:#?}\n{err}");
    let nmap = row(&rows, "seed", "203.0.113.10");
    assert_eq!(nmap["ScanType"], "Aggressive Port Scan");
    assert_eq!(nmap["UniqueDestPorts"], 100, "{nmap}");
    assert_eq!(nmap["RejectedAttempts"], 100, "{nmap}");
    let masscan = row(&rows, "seed", "203.0.113.11");
    assert_eq!(masscan["ScanType"], "IP Block Sweep");
    assert_eq!(masscan["UniqueDestIPs"], 64, "{masscan}");
    assert_eq!(masscan["UniqueDestPorts"], 2, "{masscan}");
    assert_eq!(masscan["TotalAttempts"], 128, "{masscan}");
    assert_eq!(masscan["RejectedAttempts"], 2, "{masscan}");
    // Each scanner named by the fields it sets.
    assert_eq!(
        (&nmap["Tool"], &masscan["Tool"]),
        (&"nmap".into(), &"masscan".into())
    );
    assert_eq!(masscan["ToolConfidence"], "high");
    assert_eq!(stat(&err, "kernel drops"), 0, "{err}");
    // Both fail their first four contacts: trw's scanners too.
    assert_eq!(count_rule(&rows, "trw"), 2, "{rows:#?}");
    assert_eq!(row(&rows, "trw", "203.0.113.10")["FailedObservations"], 4);
    assert!(err.contains("rows           6 written"), "{err}");
    assert!(
        err.contains("picket: 1 s: packets"),
        "periodic statistics: {err}"
    );
    // Early alerts, on the output while picket runs: nmap's at its 10th
    // RST (the capture clock passes it with the next packet), masscan's
    // when its 30th probe has waited 5 s in vain; on a link gone quiet
    // the capture clock follows the wall clock 0.5 s behind.
    let early = row(&rows, "early", "203.0.113.10");
    assert_eq!(
        (&early["UniqueDestPorts"], &early["RejectedAttempts"]),
        (&10.into(), &10.into()),
        "{early}"
    );
    let early = row(&rows, "early", "203.0.113.11");
    assert_eq!(early["TotalAttempts"], 30, "{early}");
    // Named from the failures that made the alert, before the bin closes.
    assert_eq!(
        (&early["Tool"], &early["ToolConfidence"]),
        (&"masscan".into(), &"high".into()),
        "{early}"
    );
    let nmap = alert_latency(&mut watch, &rows, "203.0.113.10");
    let masscan = alert_latency(&mut watch, &rows, "203.0.113.11");
    eprintln!("early alert latency: nmap {nmap:?}, masscan {masscan:?}");
    assert!(nmap < Duration::from_secs(1), "nmap alert {nmap:?} late");
    assert!(
        masscan < Duration::from_millis(1500),
        "masscan alert {masscan:?} late"
    );
}

#[test]
fn live_capture_under_tcpreplay_topspeed() {
    root();
    let dir = tempfile::tempdir().unwrap();
    let packets = 300_000u64;
    let file = syn_workload(dir.path(), packets);
    let lab = Lab::new("b");
    let out = dir.path().join("rows.json");
    let picket = lab.picket(&out, &["--stats-interval", "0"]);
    lab.topspeed(&file);
    let (rows, err, _) = stop(picket, &out);
    let seen = stat(&err, "packets");
    let drops = stat(&err, "kernel drops");
    eprintln!("tcpreplay --topspeed of {packets} packets: picket saw {seen}, kernel dropped {drops}, {} rows", rows.len());
    // Every packet sent is either seen or counted as dropped.
    assert!(
        seen + drops >= packets,
        "seen {seen} + dropped {drops} < sent {packets}\n{err}"
    );
    // The whole burst (about 150 full batches) fits in the capture
    // thread's backlog (room for 512 k events) with room to spare for the
    // part-filled batches a clock tick sends off: it never waits for the
    // aggregators with the kernel's ring filling.
    let (held, waits) = handover(&err);
    eprintln!("batches held back {held}, waits {waits}");
    assert_eq!(waits, 0, "{err}");
    // The eight heavy scanners of the workload are reported.
    for i in 1..=8 {
        let r = row(&rows, "seed", &format!("203.0.113.{i}"));
        assert_eq!(r["ScanType"], "Aggressive Port Scan", "{r}");
    }
}

/// Batches held back and waits for a full aggregator queue, from the
/// final statistics' kernel drops line.
fn handover(err: &str) -> (u64, u64) {
    let line = err
        .lines()
        .find(|l| l.contains("capture held back"))
        .unwrap_or_else(|| panic!("no hand-over counts: {err}"));
    let number_after = |what: &str| -> u64 {
        let (_, rest) = line.split_once(what).unwrap();
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    (number_after("held back "), number_after("and waited "))
}

/// The packets each capture thread read, from the final statistics.
fn per_capture_thread(err: &str) -> Vec<u64> {
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("capture ") && l.contains("fanout group"))
        .unwrap_or_else(|| panic!("no capture threads line: {err}"));
    let (_, counts) = line.split_once("packets ").unwrap();
    counts
        .split(" + ")
        .map(|n| n.trim().parse().unwrap())
        .collect()
}

#[test]
fn live_capture_across_two_sockets_in_a_fanout_group() {
    root();
    let dir = tempfile::tempdir().unwrap();
    let packets = 200_000u64;
    let file = syn_workload(dir.path(), packets);
    let lab = Lab::new("f");
    let out = dir.path().join("rows.json");
    let picket = lab.picket(&out, &["--capture-threads", "2", "--stats-interval", "1"]);
    // Thousands of flows, spread over both sockets by flow hash.
    lab.topspeed(&file);
    // A scan whose every probe is answered (RST): a probe and its answer
    // must meet in one aggregator, in order, whichever socket read them.
    lab.nmap_syn("1-100");
    let (rows, err, _) = stop(picket, &out);
    assert!(
        err.contains("2 capture threads in one fanout group"),
        "banner: {err}"
    );
    let each = per_capture_thread(&err);
    let seen = stat(&err, "packets");
    let drops = stat(&err, "kernel drops");
    eprintln!("two capture threads: packets {each:?}, kernel drops {drops}");
    assert_eq!(each.len(), 2, "{err}");
    assert!(each.iter().all(|&n| n > 1000), "one socket idle: {each:?}");
    assert_eq!(each.iter().sum::<u64>(), seen, "{err}");
    assert!(
        seen + drops >= packets + 200,
        "seen {seen} + dropped {drops} < sent\n{err}"
    );
    assert!(
        err.contains("picket: 1 s: packets"),
        "periodic statistics: {err}"
    );
    for i in 1..=8 {
        let r = row(&rows, "seed", &format!("203.0.113.{i}"));
        assert_eq!(r["ScanType"], "Aggressive Port Scan", "{r}");
    }
    let nmap = row(&rows, "seed", "203.0.113.10");
    assert_eq!(nmap["UniqueDestPorts"], 100, "{nmap}");
    assert_eq!(nmap["RejectedAttempts"], 100, "{nmap}");
}

#[test]
fn live_capture_without_privilege_is_refused() {
    root();
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .args([env!("CARGO_BIN_EXE_picket"), "live", "lo"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.starts_with("picket: error: interface lo:"), "{err}");
    assert!(err.contains("CAP_NET_RAW"), "{err}");
}

#[test]
fn live_capture_with_a_bad_filter_is_a_usage_error() {
    root();
    let lab = Lab::new("c");
    let out = lab
        .in_ns(
            &lab.target,
            &[
                env!("CARGO_BIN_EXE_picket"),
                "live",
                &lab.veth_target,
                "--filter",
                "tcp port (((",
            ],
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.starts_with("picket: error: bad BPF filter"), "{err}");
}

/// A live sensor whose output is gone (here a full disk: /dev/full; a
/// closed pipe is the same error) stops at once with exit 1 and one line,
/// instead of capturing on and counting rows it cannot write.
#[test]
fn live_capture_stops_when_its_output_fails() {
    root();
    let lab = Lab::new("c");
    let picket = lab.picket(Path::new("/dev/full"), &[]);
    lab.nmap_syn("1-30");
    // The early alert comes within a second of the scan; writing it fails.
    let out = exited_within(picket, Duration::from_secs(15), "of its output failing");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.starts_with("picket: error: cannot write output"),
        "{err}"
    );
}

/// The value of the sample `name` (with its labels, as written) in a
/// Prometheus text exposition.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn live_metrics_pass_promtool_and_count_the_scan() {
    root();
    let lab = Lab::new("m");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rows.json");
    let picket = lab.picket(&out, &["--metrics-listen", "127.0.0.1:9464"]);
    let watch = Watcher::new(out.clone());
    lab.nmap_syn("1-100");
    watch.wait_for("early", "203.0.113.10", Duration::from_secs(15));
    // Scrape from inside the sensor's namespace, as a local Prometheus would.
    let scrape = |path: &str| {
        lab.in_ns(
            &lab.target,
            &[
                "curl",
                "-s",
                "-m",
                "10",
                "-w",
                "\n%{http_code}",
                &format!("http://127.0.0.1:9464{path}"),
            ],
        )
        .output()
        .unwrap()
    };
    // Statistics reach the listener on the aggregators' next tick.
    std::thread::sleep(Duration::from_millis(500));
    let got = scrape("/metrics");
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    let got = String::from_utf8(got.stdout).unwrap();
    let (text, code) = got.rsplit_once('\n').unwrap();
    assert_eq!(code, "200");
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package)");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let verdict = check.wait_with_output().unwrap();
    assert!(
        verdict.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&verdict.stdout),
        String::from_utf8_lossy(&verdict.stderr)
    );
    // What it says is what happened: 100 probes, each rejected by a RST.
    assert!(metric(text, "picket_packets_total") >= 200.0, "{text}");
    assert!(
        metric(text, "picket_attempts_total{outcome=\"rejected\"}") >= 100.0,
        "{text}"
    );
    assert_eq!(
        metric(text, "picket_findings_total{rule=\"early\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(metric(text, "picket_kernel_drops_total"), 0.0, "{text}");
    // A couple of hundred packets never fill an aggregator's queue.
    assert_eq!(metric(text, "picket_handover_waits_total"), 0.0, "{text}");
    // Nothing accepted the probes: an answer-delay histogram, empty.
    assert_eq!(
        metric(text, "picket_answer_delay_seconds_count"),
        0.0,
        "{text}"
    );
    let other = String::from_utf8(scrape("/").stdout).unwrap();
    assert!(other.ends_with("\n404"), "{other}");
    let (rows, err, _) = stop(picket, &out);
    assert_eq!(count_rule(&rows, "seed"), 1, "{rows:#?}\n{err}");
}

/// A field of /proc/PID/status, its values split on whitespace.
fn proc_status(pid: u32, field: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn live_capture_drops_root_after_opening_the_interface() {
    root();
    let lab = Lab::new("u");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rows.json");
    let picket = lab.picket(&out, &["--user", "nobody"]);
    // `ip netns exec` execs picket: the child is picket itself.
    let pid = picket.id();
    assert!(
        std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .unwrap()
            .contains("picket"),
        "not picket's pid"
    );
    let nobody = ["65534"; 4].map(String::from).to_vec();
    assert_eq!(
        proc_status(pid, "Uid"),
        nobody,
        "real, effective, saved, fs uid"
    );
    assert_eq!(proc_status(pid, "Gid"), nobody);
    assert_eq!(proc_status(pid, "Groups"), vec!["65534".to_string()]);
    for caps in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(proc_status(pid, caps), vec!["0000000000000000"], "{caps}");
    }
    // The capture opened as root goes on: a scan after the drop is seen.
    lab.nmap_syn("1-100");
    let (rows, err, _) = stop(picket, &out);
    assert!(
        err.contains("picket: running as nobody (uid 65534"),
        "{err}"
    );
    assert_eq!(count_rule(&rows, "seed"), 1, "{rows:#?}\n{err}");
}
