//! The real-scanner corpus in pcaps/: every capture replays to its golden
//! rows (tests/golden/NAME.jsonl, checked by hand; see pcaps/README.md),
//! whatever the reader and the thread count.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    assert!(files.len() >= 19, "corpus incomplete: {files:?}");
    files
}

fn replay(file: &Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["replay", "-q"])
        .args(extra)
        .arg(file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn golden(file: &Path) -> String {
    let name = file.file_stem().unwrap().to_str().unwrap();
    let g = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.jsonl"));
    std::fs::read_to_string(&g)
        .unwrap_or_else(|_| panic!("no golden rows for {name}: {}", g.display()))
}

/// `--rules seed` writes exactly the seed rule's golden rows.
#[test]
fn every_capture_replays_to_its_golden_rows() {
    for f in corpus() {
        let want = golden(&f);
        for extra in [
            &["--rules", "seed", "--threads", "1"][..],
            &["--rules", "seed", "--threads", "2"],
            &["--rules", "seed", "--threads", "2", "--reader", "libpcap"],
        ] {
            assert_eq!(replay(&f, extra), want, "{} with {extra:?}", f.display());
        }
    }
}

/// A non-seed line: (Rule, ScanType, UniqueDestIPs).
type Line = (&'static str, &'static str, u64);

const TRW: &str = "TRW Scanner";

/// With every rule on (the default), the seed rule's lines are still the
/// golden rows; the other rules add what each capture shows, and nothing
/// on the benign captures; the same bytes for 1, 2 and 4 threads.
#[test]
fn all_rules_add_only_what_each_capture_shows() {
    // Capture -> (rule, ScanType, UniqueDestIPs) of each non-seed line.
    let extra: &[(&str, &[Line])] = &[
        ("nmap-sn-sweep", &[("ping-sweep", "Ping Sweep", 64)]),
        ("nmap-6-ping", &[("ping-sweep", "Ping Sweep", 16)]),
        ("nmap-sA", &[("ack-scan", "ACK Scan", 1)]),
        // Maimon's FIN+ACK probes: counted by the resets they draw.
        ("nmap-sM", &[("ack-scan", "ACK Scan", 1)]),
        (
            "nmap-10-hosts",
            &[("trw", TRW, 4), ("small-sweep", "Small IP Sweep", 10)],
        ),
        ("nmap-internal", &[("internal", "Aggressive Port Scan", 1)]),
        (
            "nmap-sF",
            &[("stealth-scan", "FIN Scan", 1), ("trw", TRW, 1)],
        ),
        (
            "nmap-sN",
            &[("stealth-scan", "NULL Scan", 1), ("trw", TRW, 1)],
        ),
        (
            "nmap-sX",
            &[("stealth-scan", "XMAS Scan", 1), ("trw", TRW, 1)],
        ),
        // Every TCP scan from outside fails its first four contacts
        // (hosts: those four contacts'), the slow -T2 one too, which the
        // seed rule misses.
        ("hping3-syn", &[("trw", TRW, 1)]),
        ("masscan-sweep", &[("trw", TRW, 3)]),
        ("nmap-6", &[("trw", TRW, 1)]),
        ("nmap-T2-slow", &[("trw", TRW, 1)]),
        ("nmap-sS-1024-hosts", &[("trw", TRW, 4)]),
        ("nmap-sS-top1000", &[("trw", TRW, 1)]),
        ("nmap-sT", &[("trw", TRW, 1)]),
        ("zmap-sweep", &[("trw", TRW, 6)]),
        // Eight failed hosts within six hours: counted when the eighth
        // fails, then quiet for a horizon (one probe per bin: too few
        // for trw).
        ("nmap-slow-hours", &[("slow-scan", "Slow Sweep", 8)]),
        // Web rows have no UniqueDestIPs (0 here).
        (
            "nmap-http-enum",
            &[("web-probe", "Web Vulnerability Scan", 0)],
        ),
        (
            "curl-nikto-agent",
            &[("web-probe", "Web Scanner User Agent", 0)],
        ),
    ];
    for f in corpus() {
        let name = f.file_stem().unwrap().to_str().unwrap();
        let out = replay(&f, &["--threads", "1"]);
        for t in ["2", "4"] {
            assert_eq!(
                replay(&f, &["--threads", t]),
                out,
                "{name} with {t} threads"
            );
        }
        let (seed, others): (Vec<&str>, Vec<&str>) =
            out.lines().partition(|l| l.ends_with(r#","Rule":"seed"}"#));
        let (early, others): (Vec<&str>, Vec<&str>) = others
            .into_iter()
            .partition(|l| l.ends_with(r#","Rule":"early"}"#));
        check_early_alerts(name, &early, &seed);
        // The golden rows are the seed contract's columns: the tool the
        // fingerprint names is checked on its own below.
        let seed: String = seed
            .iter()
            .map(|l| format!("{}\n", without_tool(l)))
            .collect();
        assert_eq!(seed, golden(&f), "{name}: seed lines");
        let got: Vec<(String, String, u64)> = others
            .iter()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["Rule"].as_str().unwrap().to_string(),
                    v["ScanType"].as_str().unwrap().to_string(),
                    v["UniqueDestIPs"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        let want: Vec<(String, String, u64)> = extra
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, w)| {
                w.iter()
                    .map(|(r, s, h)| (r.to_string(), s.to_string(), *h))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(got, want, "{name}: lines of the other rules");
        if name.starts_with("benign") {
            assert!(out.is_empty(), "{name} must stay silent: {out}");
        }
    }
}

/// A JSON line without the `Tool` and `ToolConfidence` the fingerprint
/// adds (just before `Rule`).
fn without_tool(line: &str) -> String {
    match (line.find(r#","Tool":""#), line.find(r#","Rule":""#)) {
        (Some(i), Some(j)) if i < j => format!("{}{}", &line[..i], &line[j..]),
        _ => line.to_string(),
    }
}

/// One early alert per seed row, for the same (bin, source), written in
/// DetectedAt order, with counts that met the seed thresholds and are at
/// most the row's.
fn check_early_alerts(name: &str, early: &[&str], seed: &[&str]) {
    let parse = |l: &&str| serde_json::from_str::<serde_json::Value>(l).unwrap();
    let early: Vec<serde_json::Value> = early.iter().map(parse).collect();
    let seed: Vec<serde_json::Value> = seed.iter().map(parse).collect();
    let key = |v: &serde_json::Value| (v["TimeGenerated"].to_string(), v["SourceIP"].to_string());
    let mut ek: Vec<_> = early.iter().map(key).collect();
    let mut sk: Vec<_> = seed.iter().map(key).collect();
    ek.sort();
    sk.sort();
    assert_eq!(ek, sk, "{name}: one early alert per seed row");
    let at: Vec<String> = early
        .iter()
        .map(|e| e["DetectedAt"].as_str().unwrap().to_string())
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] <= w[1]),
        "{name}: in DetectedAt order"
    );
    let n = |v: &serde_json::Value, f: &str| v[f].as_u64().unwrap();
    for e in &early {
        let s = seed.iter().find(|s| key(s) == key(e)).unwrap();
        let (ports, ips, total) = (
            n(e, "UniqueDestPorts"),
            n(e, "UniqueDestIPs"),
            n(e, "TotalAttempts"),
        );
        assert!(ports >= 10 || (ips >= 5 && total >= 30), "{name}: {e}");
        assert!(ports <= n(s, "UniqueDestPorts") && total <= n(s, "TotalAttempts"));
        assert!(
            e["DetectedAt"].as_str() >= e["LastSeen"].as_str(),
            "{name}: {e}"
        );
    }
}

/// ScanType, UniqueDestPorts, UniqueDestIPs, TotalAttempts of one row.
type Expected = Option<(&'static str, u64, u64, u64)>;

/// What each capture must show, independent of the golden bytes: the
/// scan type and the counts tcpdump's own filters give (pcaps/README.md).
#[test]
fn scans_are_reported_with_the_right_type_and_benign_traffic_is_silent() {
    let expect: &[(&str, Expected)] = &[
        ("benign-dns", None),
        ("benign-downloads", None),
        ("benign-health", None),
        ("benign-retry", None),
        ("benign-web", None),
        ("hping3-syn", Some(("Aggressive Port Scan", 148, 1, 148))),
        ("masscan-sweep", Some(("IP Block Sweep", 4, 64, 244))),
        ("nmap-6", Some(("Aggressive Port Scan", 98, 1, 98))),
        ("nmap-T2-slow", None),
        ("nmap-slow-hours", None),
        ("nmap-http-enum", None),
        ("curl-nikto-agent", None),
        ("nmap-sF", Some(("Aggressive Port Scan", 100, 1, 102))),
        ("nmap-sN", Some(("Aggressive Port Scan", 100, 1, 102))),
        (
            "nmap-sS-1024-hosts",
            Some(("Aggressive Port Scan", 1021, 4, 4184)),
        ),
        (
            "nmap-sS-top1000",
            Some(("Aggressive Port Scan", 997, 1, 1083)),
        ),
        ("nmap-sT", Some(("Aggressive Port Scan", 298, 1, 298))),
        ("nmap-sU", Some(("Aggressive Port Scan", 39, 1, 39))),
        ("nmap-sX", Some(("Aggressive Port Scan", 100, 1, 102))),
        ("nmap-sn-sweep", None),
        ("zmap-sweep", Some(("IP Block Sweep", 1, 60, 60))),
        // Not the seed rule's: the other rules' lines are checked above.
        ("nmap-sA", None),
        ("nmap-sM", None),
        ("nmap-6-ping", None),
        ("nmap-10-hosts", None),
        ("nmap-internal", None),
    ];
    let files = corpus();
    assert_eq!(
        files.len(),
        expect.len(),
        "every capture has an expectation"
    );
    for (name, want) in expect {
        let f = files
            .iter()
            .find(|p| p.file_stem().unwrap() == *name)
            .unwrap_or_else(|| panic!("{name}.pcap missing"));
        let rows: Vec<serde_json::Value> = golden(f)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        match want {
            None => assert!(rows.is_empty(), "{name} must stay silent: {rows:?}"),
            Some((scan_type, ports, hosts, attempts)) => {
                assert_eq!(rows.len(), 1, "{name}");
                let r = &rows[0];
                let src = r["SourceIP"].as_str().unwrap();
                assert!(
                    src.starts_with("203.0.113.") || src.starts_with("2001:db8:1::"),
                    "{name}: {src}"
                );
                assert_eq!(r["ScanType"], *scan_type, "{name}");
                assert_eq!(r["UniqueDestPorts"], *ports, "{name}");
                assert_eq!(r["UniqueDestIPs"], *hosts, "{name}");
                assert_eq!(r["TotalAttempts"], *attempts, "{name}");
            }
        }
    }
}

/// The sequential test (`--rules trw`) on every capture:
/// it decides every TCP scan from outside within a few first contacts
/// (the slow -T2 scan the seed rule misses too), and nothing else: not
/// the UDP scan (TCP only), not the ACK or Maimon scans (no attempts),
/// not the internal one (home source), no benign capture. The same bytes
/// for 1, 2 and 4 threads.
#[test]
fn the_sequential_test_decides_every_tcp_scan_from_outside_and_nothing_else() {
    // Capture -> (Observations, UniqueDestIPs) of its one trw line.
    let decided: &[(&str, u64, u64)] = &[
        ("hping3-syn", 4, 1),
        ("masscan-sweep", 4, 3),
        ("nmap-10-hosts", 4, 4),
        ("nmap-6", 8, 1),
        ("nmap-T2-slow", 8, 1),
        ("nmap-sF", 4, 1),
        ("nmap-sN", 4, 1),
        ("nmap-sS-1024-hosts", 4, 4),
        ("nmap-sS-top1000", 4, 1),
        ("nmap-sT", 6, 1),
        ("nmap-sX", 4, 1),
        ("zmap-sweep", 6, 6),
    ];
    for f in corpus() {
        let name = f.file_stem().unwrap().to_str().unwrap();
        let out = replay(&f, &["--rules", "trw", "--threads", "1"]);
        for t in ["2", "4"] {
            let again = replay(&f, &["--rules", "trw", "--threads", t]);
            assert_eq!(again, out, "{name} with {t} threads");
        }
        let got: Vec<(u64, u64)> = out
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                assert_eq!(v["Rule"], "trw");
                assert!(v["FailedObservations"].as_u64().unwrap() >= 4, "{l}");
                (
                    v["Observations"].as_u64().unwrap(),
                    v["UniqueDestIPs"].as_u64().unwrap(),
                )
            })
            .collect();
        let want: Vec<(u64, u64)> = decided
            .iter()
            .filter(|(n, ..)| *n == name)
            .map(|&(_, o, h)| (o, h))
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

/// The slow-scan rule on the stretched nmap sweep (10 hosts over 2.4 hours,
/// one probe each): reported when the eighth host failed, in that bin,
/// with the whole scan so far; silent with a one-hour horizon (never more
/// than six hosts within an hour); at the tenth host when asked for ten.
#[test]
fn a_sweep_spread_over_hours_is_a_slow_scan() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/nmap-slow-hours.pcap");
    let rows = |extra: &[&str]| -> Vec<serde_json::Value> {
        replay(&f, extra)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let r = rows(&[]);
    assert_eq!(r.len(), 1, "{r:?}");
    let r = &r[0];
    assert_eq!(r["Rule"], "slow-scan");
    assert_eq!(r["SourceIP"], "203.0.113.10");
    assert_eq!(r["PortsTargeted"], serde_json::json!([445]));
    assert_eq!(
        (&r["UniqueDestIPs"], &r["TotalAttempts"], &r["ActiveBins"]),
        (&8.into(), &8.into(), &8.into())
    );
    // tcpdump -r: the first probe, and the eighth that failed (192.0.2.12,
    // rejected at once); five silent hosts and three resets before it.
    assert_eq!(r["FirstSeen"], "2026-11-30T19:16:38.741641Z");
    assert_eq!(r["DetectedAt"], "2026-11-30T21:18:30.371641Z");
    assert_eq!(r["TimeGenerated"], "2026-11-30T21:15:00Z");
    assert_eq!(r["HorizonSeconds"], 21600);
    assert!(rows(&["--slow-scan-horizon", "1"]).is_empty());
    let ten = rows(&["--slow-scan-hosts", "10"]);
    assert_eq!(ten.len(), 1);
    assert_eq!(ten[0]["UniqueDestIPs"], 10);
    assert_eq!(ten[0]["DetectedAt"], "2026-11-30T21:38:59.228041Z");
    assert!(rows(&["--rules", "seed,small-sweep,early"]).is_empty());
}

/// The fingerprint names the tool that made each capture (the corpus
/// script ran it) in every row, early alerts too (from the failures that
/// made them), where the headers allow it: not for nmap's connect()
/// scan (-sT, the kernel's SYNs) or its UDP scan; and in no benign
/// capture.
#[test]
fn every_tool_is_named_where_its_headers_allow_and_nothing_else_is() {
    let tools: &[(&str, &str, &str)] = &[
        ("hping3-syn", "hping3", "medium"),
        ("masscan-sweep", "masscan", "high"),
        ("zmap-sweep", "zmap", "high"),
        ("nmap-10-hosts", "nmap", "medium"),
        ("nmap-6", "nmap", "medium"),
        // Its only row is trw's.
        ("nmap-T2-slow", "nmap", "medium"),
        ("nmap-6-ping", "nmap", "medium"),
        ("nmap-internal", "nmap", "medium"),
        ("nmap-sF", "nmap", "medium"),
        ("nmap-sN", "nmap", "medium"),
        ("nmap-sX", "nmap", "medium"),
        ("nmap-sS-1024-hosts", "nmap", "medium"),
        ("nmap-sS-top1000", "nmap", "medium"),
        ("nmap-sn-sweep", "nmap", "medium"),
        ("nmap-sA", "nmap", "medium"),
        // web-probe rows, named by their User-Agent.
        ("nmap-http-enum", "nmap", "medium"),
        ("curl-nikto-agent", "nikto", "medium"),
        ("nmap-sM", "nmap", "medium"),
        // One probe in the bin that crossed: named, without much weight.
        ("nmap-slow-hours", "nmap", "low"),
    ];
    for f in corpus() {
        let name = f.file_stem().unwrap().to_str().unwrap();
        let want = tools.iter().find(|(n, ..)| *n == name);
        // Benign captures with every threshold at its lowest, so their
        // failures (benign-retry's refused connections) make rows too.
        let low = ["--min-ports", "1", "--small-sweep-hosts", "1"];
        let extra: &[&str] = if name.starts_with("benign") {
            &low
        } else {
            &[]
        };
        let out = replay(&f, extra);
        if name == "benign-retry" {
            assert!(!out.is_empty(), "with the lowest thresholds, a row");
        }
        for l in out.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let got = (v.get("Tool"), v.get("ToolConfidence"));
            match want {
                Some((_, tool, confidence)) => {
                    assert_eq!(
                        got,
                        (Some(&(*tool).into()), Some(&(*confidence).into())),
                        "{name}: {l}"
                    )
                }
                _ => assert_eq!(got, (None, None), "{name}: {l}"),
            }
        }
    }
}

/// The web-probe rule on nmap's http-enum script (1847 requests, 404 for
/// nearly all, "Nmap Scripting Engine" as the agent) and on curl sending
/// Nikto's agent (4 requests, one for /.env).
#[test]
fn web_probing_is_reported_from_requests_agents_and_answers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let web = |name: &str| -> serde_json::Value {
        let out = replay(&dir.join(name), &["--rules", "web-probe"]);
        let rows: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 1, "{name}: {out}");
        rows[0].clone()
    };
    let nse = web("nmap-http-enum.pcap");
    assert_eq!(nse["ScanType"], "Web Vulnerability Scan");
    assert_eq!(nse["ScannerAgent"], "Nmap Scripting Engine");
    // Counted from the capture by segment start (pcaps/README.md): 1847
    // requests; answers 1834 x 404, 10 x 200, 3 x 301.
    assert_eq!(
        (&nse["Requests"], &nse["ErrorAnswers"]),
        (&1847.into(), &1834.into())
    );
    assert!(nse["SensitivePaths"].as_u64().unwrap() >= 20, "{nse}");
    let nikto = web("curl-nikto-agent.pcap");
    assert_eq!(nikto["ScanType"], "Web Scanner User Agent");
    assert_eq!(nikto["ScannerAgent"], "Nikto");
    assert_eq!(nikto["PathsRequested"], serde_json::json!(["/.env"]));
    assert_eq!(
        (
            &nikto["Requests"],
            &nikto["Answers"],
            &nikto["ErrorAnswers"]
        ),
        (&4.into(), &4.into(), &3.into())
    );
}
