//! The `picket` binary end to end: pcap files the tests write, full rows,
//! thread-count independence, and every bad-input error with its exit code.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use picket::time::Nanos;

fn picket(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(args)
        .output()
        .unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A port scan of 25 ports (15 rejected, 10 silent) and a 12-host sweep
/// answered by nobody, both from outside; plus answered benign traffic.
fn scan_capture() -> Vec<(Nanos, Vec<u8>)> {
    let mut pk = Vec::new();
    for p in 1..=25u16 {
        let t = T0 + 10 * SEC + p as Nanos * 10 * MS;
        pk.push((t, tcp("203.0.113.7", "192.0.2.10", 51000, p, "S")));
        if p <= 15 {
            pk.push((t + MS, tcp("192.0.2.10", "203.0.113.7", p, 51000, "RA")));
        }
    }
    for h in 1..=12u8 {
        for k in 0..3u16 {
            let t = T0 + 20 * SEC + (h as Nanos * 3 + k as Nanos) * 100 * MS;
            pk.push((
                t,
                tcp(
                    "2001:db8:bad::1",
                    &format!("2001:db8:1::{h}"),
                    60000 + k,
                    445,
                    "S",
                ),
            ));
        }
    }
    for i in 0..20u16 {
        let t = T0 + 30 * SEC + i as Nanos * SEC;
        pk.push((t, tcp("198.51.100.20", "192.0.2.80", 30000 + i, 443, "S")));
        pk.push((
            t + 2 * MS,
            tcp("192.0.2.80", "198.51.100.20", 443, 30000 + i, "SA"),
        ));
    }
    pk.sort_by_key(|(t, _)| *t);
    ethernet_records(&pk)
}

/// `scan_capture()` as a pcap file in `dir`.
fn scan_file(dir: &Path) -> PathBuf {
    write(dir, "scan.pcap", &pcap_bytes(1, false, &scan_capture()))
}

/// The early alerts (contract 6.1): the port scan crosses 10 ports at its
/// 10th rejection (port 10's RST, 10.101 s); the sweep crosses 30 attempts
/// to >= 5 hosts when its 30th probe (10th host, 23.2 s) goes unanswered
/// for the 5 s answer timeout (28.2 s). Both come before the bin closes.
const EARLY_ROWS: &str = r#"{"TimeGenerated":"2026-11-24T20:00:00Z","SourceIP":"203.0.113.7","ScanType":"Port Scan","UniqueDestPorts":10,"UniqueDestIPs":1,"TotalAttempts":10,"AttemptsPerMinute":10,"PortsTargeted":[1,2,3,4,5,6,7,8,9,10],"ScanDurationSeconds":0,"FirstSeen":"2026-11-24T20:00:10.010000Z","LastSeen":"2026-11-24T20:00:10.100000Z","DeviceVendor":"picket","DeviceProduct":"picket T1595 sensor","Technique":"T1595","RejectedAttempts":10,"UnansweredAttempts":0,"UdpAttempts":0,"StealthProbes":0,"UniqueDestIPsIsLowerBound":false,"DetectedAt":"2026-11-24T20:00:10.101000Z","Rule":"early"}
{"TimeGenerated":"2026-11-24T20:00:00Z","SourceIP":"2001:db8:bad::1","ScanType":"IP Block Sweep","UniqueDestPorts":1,"UniqueDestIPs":10,"TotalAttempts":30,"AttemptsPerMinute":30,"PortsTargeted":[445],"ScanDurationSeconds":3,"FirstSeen":"2026-11-24T20:00:20.300000Z","LastSeen":"2026-11-24T20:00:23.200000Z","DeviceVendor":"picket","DeviceProduct":"picket T1595 sensor","Technique":"T1595","RejectedAttempts":0,"UnansweredAttempts":30,"UdpAttempts":0,"StealthProbes":0,"UniqueDestIPsIsLowerBound":false,"DetectedAt":"2026-11-24T20:00:28.200000Z","Rule":"early"}
"#;

/// The seed rows at bin close.
const SEED_ROWS: &str = r#"{"TimeGenerated":"2026-11-24T20:00:00Z","SourceIP":"2001:db8:bad::1","ScanType":"IP Block Sweep","UniqueDestPorts":1,"UniqueDestIPs":12,"TotalAttempts":36,"AttemptsPerMinute":36,"PortsTargeted":[445],"ScanDurationSeconds":3,"FirstSeen":"2026-11-24T20:00:20.300000Z","LastSeen":"2026-11-24T20:00:23.800000Z","DeviceVendor":"picket","DeviceProduct":"picket T1595 sensor","Technique":"T1595","RejectedAttempts":0,"UnansweredAttempts":36,"UdpAttempts":0,"StealthProbes":0,"UniqueDestIPsIsLowerBound":false,"Rule":"seed"}
{"TimeGenerated":"2026-11-24T20:00:00Z","SourceIP":"203.0.113.7","ScanType":"Aggressive Port Scan","UniqueDestPorts":25,"UniqueDestIPs":1,"TotalAttempts":25,"AttemptsPerMinute":25,"PortsTargeted":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25],"ScanDurationSeconds":0,"FirstSeen":"2026-11-24T20:00:10.010000Z","LastSeen":"2026-11-24T20:00:10.250000Z","DeviceVendor":"picket","DeviceProduct":"picket T1595 sensor","Technique":"T1595","RejectedAttempts":15,"UnansweredAttempts":10,"UdpAttempts":0,"StealthProbes":0,"UniqueDestIPsIsLowerBound":false,"Rule":"seed"}
"#;

/// The sequential test's rows at bin close (`trw`): both sources
/// fail their first four contacts; the port scan's fourth is known at its
/// RST (10.041 s), the sweep's when its fourth probe (21.2 s) has gone
/// unanswered for the 5 s answer timeout.
const TRW_ROWS: &str = r#"{"TimeGenerated":"2026-11-24T20:00:00Z","SourceIP":"203.0.113.7","ScanType":"TRW Scanner","Observations":4,"FailedObservations":4,"AnsweredObservations":0,"UniqueDestIPs":1,"UniqueDestPorts":4,"PortsTargeted":[1,2,3,4],"FirstSeen":"2026-11-24T20:00:10.010000Z","LastSeen":"2026-11-24T20:00:10.040000Z","DetectedAt":"2026-11-24T20:00:10.041000Z","SecondsToDetect":0,"DeviceVendor":"picket","DeviceProduct":"picket T1595 sensor","Technique":"T1595","Rule":"trw"}
{"TimeGenerated":"2026-11-24T20:00:00Z","SourceIP":"2001:db8:bad::1","ScanType":"TRW Scanner","Observations":4,"FailedObservations":4,"AnsweredObservations":0,"UniqueDestIPs":4,"UniqueDestPorts":1,"PortsTargeted":[445],"FirstSeen":"2026-11-24T20:00:20.300000Z","LastSeen":"2026-11-24T20:00:21.200000Z","DetectedAt":"2026-11-24T20:00:26.200000Z","SecondsToDetect":6,"DeviceVendor":"picket","DeviceProduct":"picket T1595 sensor","Technique":"T1595","Rule":"trw"}
"#;

/// Everything a default replay writes.
static EXPECTED: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{EARLY_ROWS}{SEED_ROWS}{TRW_ROWS}"));

#[test]
fn replay_writes_the_full_rows() {
    let dir = tempfile::tempdir().unwrap();
    let f = scan_file(dir.path());
    let out = picket(&["replay", "-q", f.to_str().unwrap()]);
    assert_ok(&out);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), *EXPECTED);
}

#[test]
fn one_and_four_threads_write_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let f = scan_file(dir.path());
    let f = f.to_str().unwrap();
    let one = picket(&["replay", "-q", "--threads", "1", f]);
    let four = picket(&["replay", "-q", "--threads", "4", "--batch", "3", f]);
    assert_eq!(one.status.code(), Some(0));
    assert!(!one.stdout.is_empty());
    assert_eq!(one.stdout, four.stdout);
}

#[test]
fn nanosecond_pcaps_print_nanoseconds() {
    let dir = tempfile::tempdir().unwrap();
    let mut recs = scan_capture();
    recs.iter_mut().for_each(|(t, _)| *t += 123);
    let f = write(dir.path(), "ns.pcap", &pcap_bytes(1, true, &recs));
    let out = picket(&["replay", "-q", f.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(r#""FirstSeen":"2026-11-24T20:00:10.010000123Z""#),
        "{text}"
    );
}

#[test]
fn several_files_merge_in_timestamp_order_and_stdin_works() {
    let dir = tempfile::tempdir().unwrap();
    let recs = scan_capture();
    // Alternate records between two files: only a timestamp merge gives the
    // answers after their probes.
    let (a, b): (Vec<_>, Vec<_>) = recs
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let a: Vec<_> = a.into_iter().map(|(_, r)| r).collect();
    let b: Vec<_> = b.into_iter().map(|(_, r)| r).collect();
    let fa = write(dir.path(), "a.pcap", &pcap_bytes(1, false, &a));
    let fb = write(dir.path(), "b.pcap", &pcap_bytes(1, false, &b));
    let out = picket(&["replay", "-q", fb.to_str().unwrap(), fa.to_str().unwrap()]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), *EXPECTED);

    let mut child = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["replay", "-q", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&pcap_bytes(1, false, &recs))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), *EXPECTED);
}

#[test]
fn other_link_types_in_files() {
    let dir = tempfile::tempdir().unwrap();
    let ips: Vec<(Nanos, Vec<u8>)> = (1..=12u16)
        .map(|p| {
            (
                T0 + p as Nanos * MS,
                tcp("203.0.113.9", "192.0.2.1", 40000, p, "S"),
            )
        })
        .collect();
    for (dlt, wrap) in [
        (113u32, sll as fn(&[u8]) -> Vec<u8>),
        (276, sll2),
        (0, null),
        (101, |p: &[u8]| p.to_vec()),
    ] {
        let recs: Vec<_> = ips.iter().map(|(t, p)| (*t, wrap(p))).collect();
        let f = write(
            dir.path(),
            &format!("l{dlt}.pcap"),
            &pcap_bytes(dlt, false, &recs),
        );
        let out = picket(&["replay", "-q", f.to_str().unwrap()]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(r#""SourceIP":"203.0.113.9","ScanType":"Port Scan""#),
            "dlt {dlt}: {text}"
        );
    }
}

#[test]
fn table_format_and_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = scan_file(dir.path());
    let o = dir.path().join("rows.txt");
    let out = picket(&[
        "replay",
        "--format",
        "table",
        "-o",
        o.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let table = std::fs::read_to_string(&o).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 7, "{table}");
    assert!(lines[0].starts_with("BIN"));
    assert!(
        lines[1].contains("early") && lines[1].contains("20:00:10  20:00:10"),
        "the port scan's early alert, first seen and detected at 20:00:10: {table}"
    );
    assert_eq!(
        lines[0].split("  ").filter(|h| h.trim() == "PORTS").count(),
        1,
        "one column headed PORTS: {}",
        lines[0]
    );
    assert!(lines[4].contains("203.0.113.7") && lines[4].contains("Aggressive Port Scan"));
    // trw's row says when it decided (its fourth failed contact, 20:00:10);
    // no tool is named for these crafted probes.
    assert!(
        lines[5].contains("trw") && lines[5].contains("20:00:10  20:00:10  -"),
        "{table}"
    );
    assert!(lines[0].contains("DETECTED  TOOL"), "{}", lines[0]);
    let stats = String::from_utf8(out.stderr).unwrap();
    assert!(stats.contains("rows           6 written"), "{stats}");
}

/// Exit 0, or the failure shows what picket said.
fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_error(out: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    let first = err.lines().next().unwrap_or("");
    assert!(
        first.starts_with("picket: error: ") && first.contains(needle),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_inputs_give_one_line_and_an_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pcap");
    assert_error(
        &picket(&["replay", missing.to_str().unwrap()]),
        3,
        "no such file",
    );

    let text = write(dir.path(), "notes.txt", b"this is not a capture file\n");
    assert_error(
        &picket(&["replay", text.to_str().unwrap()]),
        3,
        "not a pcap or pcapng capture",
    );

    let tiny = write(dir.path(), "tiny.pcap", &[0xd4, 0xc3]);
    assert_error(&picket(&["replay", tiny.to_str().unwrap()]), 3, "too short");

    let mut header_cut = pcap_bytes(1, false, &[]);
    header_cut.truncate(12);
    let hc = write(dir.path(), "header.pcap", &header_cut);
    assert_error(
        &picket(&["replay", hc.to_str().unwrap()]),
        3,
        "truncated pcap file header",
    );
    assert_error(
        &picket(&["replay", "--reader", "libpcap", hc.to_str().unwrap()]),
        3,
        "header.pcap",
    );

    let wifi = write(
        dir.path(),
        "wifi.pcap",
        &pcap_bytes(105, false, &scan_capture()),
    );
    assert_error(
        &picket(&["replay", wifi.to_str().unwrap()]),
        3,
        "unsupported link type 105",
    );

    assert_error(
        &picket(&["replay", dir.path().to_str().unwrap()]),
        3,
        "directory",
    );

    assert_error(&picket(&["live", "pk-no-such0"]), 3, "no such interface");

    assert_error(
        &picket(&["replay", "--bin", "0", text.to_str().unwrap()]),
        2,
        "--bin",
    );
    let usage = picket(&["replay"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn damaged_files_keep_the_rows_read_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let whole = pcap_bytes(1, false, &scan_capture());
    let cut = write(dir.path(), "cut.pcap", &whole[..whole.len() - 30]);
    // A record claiming 3 GB: an absurd length.
    let mut absurd = whole.clone();
    let first_record = 24;
    absurd[first_record + 8..first_record + 12].copy_from_slice(&3_000_000_000u32.to_le_bytes());
    let absurd = write(dir.path(), "absurd.pcap", &absurd);
    for reader in ["auto", "libpcap"] {
        // Cut the last record in half: everything before it still counts.
        let out = picket(&["replay", "-q", "--reader", reader, cut.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{reader}: {err}");
        assert!(
            err.contains("cut.pcap") && err.contains("truncated"),
            "{reader}: {err}"
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            *EXPECTED,
            "{reader}"
        );

        let out = picket(&["replay", "-q", "--reader", reader, absurd.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{reader}: {err}");
        assert!(
            err.contains("absurd.pcap") && !err.contains("panicked"),
            "{reader}: {err}"
        );
    }
}

#[test]
fn records_longer_than_the_snap_length_are_damage() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = pcap_bytes(1, false, &scan_capture());
    // Declare a 60-byte snap length: the 54-byte IPv4 frames fit, the first
    // longer record (a 74-byte IPv6 SYN) does not.
    bytes[16..20].copy_from_slice(&60u32.to_le_bytes());
    let f = write(dir.path(), "snap.pcap", &bytes);
    let out = picket(&["replay", "-q", f.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("snap.pcap") && err.contains("more than the snap length of 60"),
        "{err}"
    );
    let rows = String::from_utf8(out.stdout).unwrap();
    assert!(
        rows.contains(r#""SourceIP":"203.0.113.7""#),
        "rows before the bad record: {rows}"
    );
}

#[test]
fn memory_mapped_and_libpcap_readers_agree() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        write(
            dir.path(),
            "us.pcap",
            &pcap_bytes(1, false, &scan_capture()),
        ),
        write(dir.path(), "ns.pcap", &pcap_bytes(1, true, &scan_capture())),
    ];
    for f in files {
        let f = f.to_str().unwrap();
        let mapped = picket(&["replay", "-q", "--reader", "auto", f]);
        let libpcap = picket(&["replay", "-q", "--reader", "libpcap", f]);
        assert_eq!(mapped.status.code(), Some(0), "{f}");
        assert!(!mapped.stdout.is_empty(), "{f} reports rows");
        assert_eq!(mapped.stdout, libpcap.stdout, "{f}");
    }
}

#[test]
fn help_explains_the_commands() {
    let out = picket(&["--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("replay") && text.contains("live") && text.contains("Exit codes"),
        "{text}"
    );
    let out = picket(&["replay", "--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    for opt in [
        "--threads",
        "--answer-timeout",
        "--min-ports",
        "--allow",
        "--max-sources",
        "--format",
        "--rules",
    ] {
        assert!(text.contains(opt), "{opt} missing from replay --help");
    }
    // Every capture the examples name is one that exists.
    let out = picket(&["--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let named: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.starts_with("pcaps/"))
        .collect();
    assert!(!named.is_empty(), "{text}");
    for p in named {
        assert!(
            root.join(p).exists(),
            "--help names {p}, which does not exist"
        );
    }
}

#[test]
fn a_closed_standard_output_is_an_error_not_silence() {
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/nmap-sS-top1000.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["replay", "-q"])
        .arg(&pcap)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "null is a fine output");
    // `>&-`: descriptor 1 closed in the child.
    let out = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" replay -q \"$1\" >&-")
        .arg(env!("CARGO_BIN_EXE_picket"))
        .arg(&pcap)
        .output()
        .unwrap();
    assert_error(&out, 1, "standard output");
}

/// Random damage to a capture file: never a panic, always an exit code
/// picket documents.
#[test]
fn damaged_captures_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let whole = pcap_bytes(1, false, &scan_capture());
    let mut x: u64 = 0x1357_9bdf_2468_ace0;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..40 {
        let mut bytes = whole.clone();
        for _ in 0..1 + rnd() % 8 {
            let at = 4 + rnd() as usize % (bytes.len() - 4); // keep the magic
            bytes[at] = rnd() as u8;
        }
        bytes.truncate(bytes.len() - rnd() as usize % 200);
        let f = write(dir.path(), &format!("bad{i}.pcap"), &bytes);
        for reader in ["auto", "libpcap"] {
            let out = picket(&["replay", "-q", "--reader", reader, f.to_str().unwrap()]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains("panicked"), "{reader} bad{i}: {err}");
            assert!(
                matches!(out.status.code(), Some(0 | 3 | 4)),
                "{reader} bad{i}: {:?} {err}",
                out.status
            );
        }
    }
}

/// A file large enough for the memory-mapped reader's pager thread: the
/// same rows and counts as libpcap's reading, and damage at its end still
/// reported after everything before it.
#[test]
fn a_large_paged_file_reads_like_libpcap_and_reports_damage_at_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("syn.pcap");
    let gen = Command::new(env!("CARGO_BIN_EXE_picket-gen"))
        .args(["syn", f.to_str().unwrap(), "--packets", "400000"])
        .output()
        .unwrap();
    assert!(gen.status.success());
    assert!(
        std::fs::metadata(&f).unwrap().len() > 24 << 20,
        "big enough to be paged"
    );
    let f = f.to_str().unwrap();
    let packets = |o: &Output| {
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let line = err
            .lines()
            .find(|l| l.trim_start().starts_with("packets"))
            .unwrap_or("")
            .to_string();
        line.split_whitespace().nth(1).unwrap_or("").to_string()
    };
    let mapped = picket(&["replay", "--threads", "2", f]);
    let libpcap = picket(&["replay", "--threads", "2", "--reader", "libpcap", f]);
    assert_eq!(mapped.status.code(), Some(0));
    assert_eq!(packets(&mapped), "400000");
    assert_eq!(packets(&libpcap), "400000");
    assert!(mapped.stdout.len() > 1000);
    assert_eq!(mapped.stdout, libpcap.stdout);

    // A record header cut short after the last whole record.
    let mut bytes = std::fs::read(f).unwrap();
    bytes.extend_from_slice(&[0; 9]);
    let damaged = write(dir.path(), "cut.pcap", &bytes);
    let out = picket(&["replay", "--threads", "2", damaged.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(packets(&out), "400000");
    assert_eq!(out.stdout, mapped.stdout);
}

/// One crafted IPv6 frame (Hop-by-Hop naming Hop-by-Hop again) as the last
/// record of a file that ends on a page boundary: it once read past the
/// frame and segfaulted. Now it is one decode failure, and the scan in the
/// same file is still reported, by both readers.
#[test]
fn a_crafted_extension_chain_at_the_end_of_a_file_is_a_skip_not_a_crash() {
    let mut ip6 = tcp("2001:db8::5", "2001:db8:1::1", 40000, 443, "S")[..40].to_vec();
    ip6[6] = 0; // next header: Hop-by-Hop
    ip6[4..6].copy_from_slice(&8u16.to_be_bytes());
    ip6.extend_from_slice(&[0; 8]); // Hop-by-Hop, next header Hop-by-Hop
    let hostile = ether(&ip6);
    let mut records = scan_capture();
    let last = records.last().unwrap().0 + SEC;
    let base = pcap_bytes(1, false, &records).len();
    // A non-IP filler record sized so that the file ends at a page end.
    let used = base + 2 * 16 + hostile.len();
    let mut filler_len = (4096 - used % 4096) % 4096;
    if filler_len < 14 {
        filler_len += 4096;
    }
    let mut filler = vec![0u8; filler_len];
    filler[12..14].copy_from_slice(&[0x08, 0x06]); // ARP
    records.push((last, filler));
    records.push((last, hostile));
    let bytes = pcap_bytes(1, false, &records);
    assert_eq!(bytes.len() % 4096, 0, "the file must end at a page end");
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "hostile.pcap", &bytes);
    for reader in ["auto", "libpcap"] {
        let out = picket(&["replay", "--reader", reader, f.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{reader}: {err}");
        assert!(err.contains("bad_ip=1"), "{reader}: {err}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), *EXPECTED, "{reader}");
    }
}

#[test]
fn rules_are_chosen_by_name_and_home_networks_can_be_none() {
    let dir = tempfile::tempdir().unwrap();
    let f = scan_file(dir.path());
    let f = f.to_str().unwrap();
    let out = picket(&["replay", "--rules", "seed,bogus", f]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bogus") && err.contains("ping-sweep"),
        "names the known rules: {err}"
    );
    // A bare address is a /32 for --allow and --home.
    let out = picket(&["replay", "-q", "--allow", "203.0.113.7", f]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.lines().count(),
        3,
        "the sweep's alert, seed row and trw row: {text}"
    );
    assert!(!text.contains("203.0.113.7"), "{text}");
    let out = picket(&["replay", "-q", "--home", "203.0.113.7,2001:db8:bad::1", f]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(r#""Rule":"internal""#), "{text}");
    assert!(!text.contains(r#""Rule":"seed""#), "{text}");
    let out = picket(&["replay", "-q", "--home", "none", f]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), *EXPECTED);
    let out = picket(&["replay", "-q", "--home", "10.0.0.0/33", f]);
    assert_error(&out, 2, "--home");
}

/// A FIFO or a process substitution as FILE is read as a stream, like
/// standard input (it cannot be mapped or rewound).
#[test]
fn fifos_and_process_substitution_are_read_as_streams() {
    let dir = tempfile::tempdir().unwrap();
    let f = scan_file(dir.path());
    let f = f.to_str().unwrap();
    let out = Command::new("bash")
        .args([
            "-c",
            &format!(
                "{} replay -q <(cat {f}) --reader auto",
                env!("CARGO_BIN_EXE_picket")
            ),
        ])
        .output()
        .unwrap();
    assert_ok(&out);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), *EXPECTED);
    let fifo = dir.path().join("fifo.pcap");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let bytes = std::fs::read(f).unwrap();
    let fifo2 = fifo.clone();
    let feeder = std::thread::spawn(move || std::fs::write(fifo2, bytes).unwrap());
    let out = picket(&[
        "replay",
        "-q",
        "--reader",
        "libpcap",
        fifo.to_str().unwrap(),
    ]);
    feeder.join().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), *EXPECTED);
}

/// Files libpcap rejects, opened again and again (as a library user or a
/// fuzzer does): no descriptor is left behind, from a path or a stream.
#[test]
fn files_libpcap_rejects_leave_no_descriptor_open() {
    use picket::capture::file::{FileSet, Reader};
    let dir = tempfile::tempdir().unwrap();
    // A classic pcap magic, then a header cut short.
    let bad = write(
        dir.path(),
        "short.pcap",
        &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0],
    );
    let bad = bad.to_str().unwrap().to_string();
    let open_fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let before = open_fds();
    for _ in 0..300 {
        let err = FileSet::open(std::slice::from_ref(&bad), Reader::Libpcap).err();
        assert!(err.is_some(), "libpcap must reject it");
    }
    let fifo = dir.path().join("fifo.pcap");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // In a thread of its own, watched: a FIFO open that finds no writer
    // blocks for ever (a stale reader of ours once took the writer's
    // bytes), and a test must fail rather than hang.
    let (done, finished) = std::sync::mpsc::channel();
    let (fifo_path, bad_path) = (fifo.clone(), bad.clone());
    std::thread::spawn(move || {
        for _ in 0..50 {
            let (path, bytes) = (fifo_path.clone(), std::fs::read(&bad_path).unwrap());
            let feeder = std::thread::spawn(move || std::fs::write(path, bytes).unwrap());
            let err = FileSet::open(&[fifo_path.to_str().unwrap().to_string()], Reader::Auto).err();
            feeder.join().unwrap();
            assert!(err.is_some(), "libpcap must reject it");
        }
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("50 FIFO opens within a minute (a stream reader left the FIFO open?)");
    // Give the stream feeders time to finish and drop their pipe ends.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let after = open_fds();
    assert!(
        after <= before + 5,
        "{before} descriptors before, {after} after"
    );
}

/// With a sub-second `--bin`, each bin's TimeGenerated says which it is
/// (it once printed whole seconds, so two bins shared one).
#[test]
fn sub_second_bins_print_distinct_times() {
    let mut pk = Vec::new();
    for k in 0..4i64 {
        for p in 1..=12u16 {
            let t = T0 + 10 * SEC + k * 500 * MS + p as Nanos * 10 * MS;
            pk.push((t, tcp("203.0.113.7", "192.0.2.10", 52000, p, "S")));
            pk.push((t + MS, tcp("192.0.2.10", "203.0.113.7", p, 52000, "RA")));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "fast.pcap",
        &pcap_bytes(1, false, &ethernet_records(&pk)),
    );
    let out = picket(&[
        "replay",
        "-q",
        "--rules",
        "seed",
        "--bin",
        "0.5",
        f.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let times: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["TimeGenerated"].to_string())
        .collect();
    assert_eq!(
        times,
        [
            r#""2026-11-24T20:00:10Z""#,
            r#""2026-11-24T20:00:10.500Z""#,
            r#""2026-11-24T20:00:11Z""#,
            r#""2026-11-24T20:00:11.500Z""#
        ],
        "{text}"
    );
}

/// `--threads` is bounded by the cores (a thread per aggregator beyond
/// that only shares them), and a thread the system refuses is a clear
/// error, not a panic. Needs root to run picket as `nobody` under a
/// process limit of 1 (root ignores the limit), as CI does.
#[test]
fn thread_counts_are_bounded_and_refused_threads_are_an_error() {
    let out = picket(&["replay", "--threads", "10000", "pcaps/nmap-sF.pcap"]);
    assert_error(&out, 2, "--threads 10000: at most");
    assert!(out.stdout.is_empty());

    assert!(
        unsafe { libc::geteuid() } == 0,
        "this test needs root (CI runs as root)"
    );
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let f = dir.path().join("scan.pcap");
    std::fs::copy("pcaps/nmap-sF.pcap", &f).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(["prlimit", "--nproc=1"])
        .arg(env!("CARGO_BIN_EXE_picket"))
        .args(["replay", "--threads", "2", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_error(&out, 1, "cannot start an aggregator thread");
}

/// SIGTERM while standard input stalls stops picket at once (it used to
/// wait for the input to close), and a replay stopped before the end of
/// its input says so, with its own exit code (6), after writing the rows
/// for what it read.
#[test]
fn a_stopped_replay_says_it_is_incomplete_even_when_its_input_stalls() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["replay", "-q", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(&pcap_bytes(1, false, &scan_capture()))
        .unwrap();
    stdin.flush().unwrap();
    // The input stays open, with nothing more to come.
    std::thread::sleep(std::time::Duration::from_millis(800));
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = exited_within(child, std::time::Duration::from_secs(10), "of SIGTERM");
    drop(stdin);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(
        err.contains("interrupted before the end of the input") && !err.contains("warning"),
        "{err}"
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), *EXPECTED);
}

/// A file stored out of time order (newest first, as bro-simple-scan's
/// 445_scan.pcap is) used to lose its scan silently: probes older than a
/// closed bin are not counted. A file that fits the sorting budget is now
/// read sorted by time (a note says so), with both readers; a stream,
/// which cannot be, gets a warning naming it and the fix, and exit 4.
#[test]
fn a_file_out_of_time_order_is_sorted_or_warned_about() {
    // A 445 sweep over 20 minutes: 30 hosts in each 5-minute bin.
    let mut pk = Vec::new();
    for i in 0..120u16 {
        let t = T0 + i as Nanos * 10 * SEC;
        pk.push((
            t,
            tcp(
                "203.0.113.9",
                &format!("192.0.2.{}", i + 1),
                40000,
                445,
                "S",
            ),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let in_order = write(
        dir.path(),
        "sorted.pcap",
        &pcap_bytes(1, false, &ethernet_records(&pk)),
    );
    let expected = picket(&["replay", "-q", in_order.to_str().unwrap()]);
    assert_eq!(expected.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&expected.stdout)
            .lines()
            .filter(|l| l.contains("IP Block Sweep") && l.contains("\"Rule\":\"seed\""))
            .count()
            == 4,
        "the sweep's bins: {}",
        String::from_utf8_lossy(&expected.stdout)
    );
    assert!(!String::from_utf8_lossy(&expected.stderr).contains("note"));
    pk.reverse();
    let bytes = pcap_bytes(1, false, &ethernet_records(&pk));
    let f = write(dir.path(), "newest-first.pcap", &bytes);
    for reader in ["auto", "libpcap"] {
        let out = picket(&["replay", "-q", "--reader", reader, f.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{reader}: {err}");
        assert_eq!(
            out.stdout, expected.stdout,
            "{reader}: the same rows as in order"
        );
        assert!(
            err.contains("newest-first.pcap is not stored in time order")
                && err.contains("120 records are read sorted"),
            "{err}"
        );
    }
    // From a stream nothing can be sorted: warned, exit 4.
    let mut child = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["replay", "-q", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("<stdin>")
            && err.contains("reordercap")
            && err.contains("probes came after their bin had closed"),
        "{err}"
    );
}

/// Replay `f` with both readers; both outputs must be the same bytes.
fn both_readers(f: &Path) -> Output {
    let mapped = picket(&["replay", "-q", "--reader", "auto", f.to_str().unwrap()]);
    let libpcap = picket(&["replay", "-q", "--reader", "libpcap", f.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&mapped.stdout),
        String::from_utf8_lossy(&libpcap.stdout),
        "the readers disagree on {f:?}"
    );
    assert_eq!(mapped.status.code(), libpcap.status.code());
    assert_eq!(
        String::from_utf8_lossy(&mapped.stderr),
        String::from_utf8_lossy(&libpcap.stderr)
    );
    mapped
}

/// Headers where the two readers once disagreed: seconds from 2^31 on
/// (unsigned: 2038 and later; libpcap read them as 1901 on), a
/// sub-second field of a second or more (impossible: skipped as damage),
/// and files before version 2.3 (captured and wire lengths swapped, as
/// libpcap reads them).
#[test]
fn both_readers_agree_on_odd_record_headers() {
    let dir = tempfile::tempdir().unwrap();
    // 2038 and later.
    let shift = (1i64 << 31) * SEC - T0 + 1000 * SEC;
    let late: Vec<_> = scan_capture()
        .into_iter()
        .map(|(t, d)| (t + shift, d))
        .collect();
    let f = write(dir.path(), "y2038.pcap", &pcap_bytes(1, false, &late));
    let out = both_readers(&f);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(r#""TimeGenerated":"2038-01-19T03:"#),
        "{text}"
    );
    assert_eq!(text.lines().count(), 6);

    // A record whose microsecond field is 1,500,000: skipped by both.
    let mut bytes = pcap_bytes(1, false, &scan_capture());
    bytes[24 + 4..24 + 8].copy_from_slice(&1_500_000u32.to_le_bytes());
    let f = write(dir.path(), "usec.pcap", &bytes);
    let out = both_readers(&f);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("1 records in") && err.contains("impossible timestamps"),
        "{err}"
    );

    // Version 2.2: lengths swapped in every record (captured 60 of more).
    let mut old = Vec::new();
    old.extend_from_slice(&bytes[..24]);
    old[6..8].copy_from_slice(&2u16.to_le_bytes());
    old[16..20].copy_from_slice(&96u32.to_le_bytes());
    for (t, d) in scan_capture() {
        let d = &d[..d.len().min(96)];
        old.extend_from_slice(&((t / SEC) as u32).to_le_bytes());
        old.extend_from_slice(&((t % SEC / 1000) as u32).to_le_bytes());
        old.extend_from_slice(&(d.len() as u32 + 100).to_le_bytes());
        old.extend_from_slice(&(d.len() as u32).to_le_bytes());
        old.extend_from_slice(d);
    }
    let f = write(dir.path(), "v2.2.pcap", &old);
    let out = both_readers(&f);
    assert_ok(&out);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), *EXPECTED);
}

/// A pcapng file with one-second timestamp resolution and a time of 1e10
/// seconds (past what 64-bit nanoseconds hold): the record is skipped as
/// damage, with a warning and exit 4, instead of wrapping round to 1702.
#[test]
fn a_timestamp_past_2262_is_damage_not_1702() {
    let block = |kind: u32, body: &[u8]| {
        let len = 12 + body.len().div_ceil(4) * 4;
        let mut b = Vec::new();
        b.extend_from_slice(&kind.to_le_bytes());
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b.extend_from_slice(body);
        b.resize(len - 4, 0);
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b
    };
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes()); // Ethernet
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&0u32.to_le_bytes());
    idb.extend_from_slice(&[9, 0, 1, 0, 0, 0, 0, 0]); // if_tsresol = 10^0
    idb.extend_from_slice(&[0, 0, 0, 0]); // end of options
    let epb = |secs: u64, data: &[u8]| {
        let mut b = Vec::new();
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&((secs >> 32) as u32).to_le_bytes());
        b.extend_from_slice(&(secs as u32).to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(data);
        block(6, &b)
    };
    let mut file = block(0x0a0d_0d0a, &shb);
    file.extend(block(1, &idb));
    let frame = ether(&tcp("203.0.113.7", "192.0.2.10", 51000, 80, "S"));
    file.extend(epb((T0 / SEC) as u64, &frame));
    file.extend(epb(10_000_000_000, &frame));
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "far.pcapng", &file);
    let out = picket(&["replay", f.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("1 records in") && err.contains("impossible timestamps"),
        "{err}"
    );
    assert!(err.contains("bad times      1 records skipped"), "{err}");
    assert!(!err.contains("1702"), "{err}");
    let packets = err
        .lines()
        .find(|l| l.trim_start().starts_with("packets"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(packets, "1", "{err}");
}

/// Each rule's threshold is an option: `--ping-sweep-hosts`,
/// `--small-sweep-hosts` (defaults 10, from one place).
#[test]
fn per_rule_thresholds_are_options() {
    let mut pk = Vec::new();
    for h in 1..=12u8 {
        let t = T0 + h as Nanos * 10 * MS;
        pk.push((t, echo_request("203.0.113.40", &format!("192.0.2.{h}"))));
    }
    for h in 1..=10u8 {
        let t = T0 + SEC + h as Nanos * 10 * MS;
        pk.push((
            t,
            tcp("203.0.113.41", &format!("192.0.2.{h}"), 40000, 445, "S"),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "sweeps.pcap",
        &pcap_bytes(1, false, &ethernet_records(&pk)),
    );
    let f = f.to_str().unwrap();
    let rules = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["replay", "-q"];
        all.extend_from_slice(args);
        all.push(f);
        let out = picket(&all);
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["Rule"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    // The ten unanswered SYNs also fail trw's first four contacts.
    assert_eq!(rules(&[]), ["ping-sweep", "trw", "small-sweep"]);
    assert_eq!(rules(&["--ping-sweep-hosts", "13"]), ["trw", "small-sweep"]);
    assert_eq!(rules(&["--small-sweep-hosts", "11"]), ["ping-sweep", "trw"]);
    let help = picket(&["replay", "--help"]);
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("--ping-sweep-hosts") && help.contains("[default: 10]"),
        "{help}"
    );
    assert!(
        help.contains("--bin <SECS>") && help.contains("[default: 300]"),
        "{help}"
    );
    let top = String::from_utf8(picket(&["--help"]).stdout).unwrap();
    assert!(
        top.contains("6 replay stopped before the end of its input") && top.contains("early alert"),
        "every exit code and the rules in --help: {top}"
    );
}

#[test]
fn output_file_is_appended_to_unless_truncate_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = scan_file(dir.path());
    let out = dir.path().join("rows.json");
    let run = |extra: &[&str]| {
        let mut args = vec!["replay", "-q", "-o", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(pcap.to_str().unwrap());
        assert_ok(&picket(&args));
        std::fs::read_to_string(&out).unwrap()
    };
    let once = run(&[]);
    assert!(!once.is_empty());
    assert_eq!(run(&[]), format!("{once}{once}"), "a second run appends");
    assert_eq!(run(&["--truncate"]), once, "--truncate starts afresh");
    let err = picket(&["replay", "--truncate", pcap.to_str().unwrap()]);
    assert_eq!(err.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&err.stderr).contains("--output"));
}

#[test]
fn sighup_reopens_the_output_file_and_capture_goes_on() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rows.json");
    let rotated = dir.path().join("rows.json.1");
    let mut child = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args([
            "replay",
            "-q",
            "--batch",
            "1",
            "-o",
            out.to_str().unwrap(),
            "-",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let first = pcap_bytes(1, false, &rejected_scan("203.0.113.7", T0 + 10 * SEC));
    stdin.write_all(&first).unwrap();
    stdin.flush().unwrap();
    // The first scan's early alert is written while the input stays open.
    let start = Instant::now();
    while !std::fs::read_to_string(&out)
        .unwrap_or_default()
        .contains("203.0.113.7")
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no early alert yet"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // What logrotate does: move the file away, then SIGHUP.
    std::fs::rename(&out, &rotated).unwrap();
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "SIGHUP stopped picket");
    // A second scan, records only (the file header came first).
    let second = pcap_bytes(1, false, &rejected_scan("203.0.113.8", T0 + 20 * SEC));
    stdin.write_all(&second[24..]).unwrap();
    drop(stdin);
    let done = exited_within(child, Duration::from_secs(20), "of its input's end");
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(0), "{err}");
    assert!(err.contains("reopened"), "{err}");
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&out).unwrap();
    assert!(
        old.contains("203.0.113.7") && !old.contains("203.0.113.8"),
        "{old}"
    );
    assert!(
        new.contains("203.0.113.8"),
        "the new file has what came after: {new}"
    );
    // Nothing lost, nothing twice: one early alert and one seed row each.
    let all = format!("{old}{new}");
    for src in ["203.0.113.7", "203.0.113.8"] {
        for rule in ["early", "seed"] {
            let n = all
                .lines()
                .filter(|l| l.contains(src) && l.contains(&format!("\"Rule\":\"{rule}\"")))
                .count();
            assert_eq!(n, 1, "{src} {rule}: {all}");
        }
    }
}

#[test]
fn a_config_file_sets_options_and_the_command_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = scan_file(dir.path());
    let conf = write(
        dir.path(),
        "picket.toml",
        b"# a sensor's settings\nformat = \"table\"\nthreads = 1\nallow = [\"198.51.100.0/24\"]\nfilter = \"not port 22\"  # live only: left out of a replay\nquiet = true\n",
    );
    let (pcap, conf) = (pcap.to_str().unwrap(), conf.to_str().unwrap());
    let from_file = picket(&["replay", "--config", conf, pcap]);
    assert_ok(&from_file);
    let text = String::from_utf8_lossy(&from_file.stdout);
    assert!(text.starts_with("BIN "), "the file's format: {text}");
    assert!(from_file.stderr.is_empty(), "quiet = true");
    // Given on the command line too: the command line's wins.
    let json = picket(&["replay", "--config", conf, "--format", "json", pcap]);
    assert_ok(&json);
    assert_eq!(json.stdout, picket(&["replay", "-q", pcap]).stdout);
    let ok = picket(&["check-config", conf]);
    assert_ok(&ok);
    assert!(String::from_utf8_lossy(&ok.stdout).contains("5 keys, all valid"));
    // Faults name the file, the line and the key; exit 2.
    for (body, needle) in [
        (
            &b"threads = 1\n\nthreadz = 2\n"[..],
            ":3: unknown key \"threadz\"",
        ),
        (b"threads = \"many\"\n", ":1: threads: invalid value 'many'"),
        (b"format = \"xml\"\n", ":1: format: invalid value 'xml'"),
        (
            b"home = [1.5]\n",
            ":1: home: a list may hold strings and numbers only",
        ),
        (b"threads = [1\n", ":2: invalid array"),
    ] {
        let bad = write(dir.path(), "bad.toml", body);
        for args in [
            vec!["replay", "--config", bad.to_str().unwrap(), pcap],
            vec!["check-config", bad.to_str().unwrap()],
        ] {
            let out = picket(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(
                err.contains(needle) && err.lines().count() == 1,
                "{needle}: {err}"
            );
            assert!(err.contains("bad.toml"), "{err}");
        }
    }
}
