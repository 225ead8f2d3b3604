//! The rules beyond the seed rule (detection contract, section 6), through
//! the whole pipeline in memory: each fires on what it is for, stays
//! silent on what looks like it but is not, and gives the same lines for
//! 1, 2 and 4 threads.

mod common;

use common::*;
use picket::time::Nanos;
use serde_json::Value;

fn rules_of(rows: &[Value]) -> Vec<&str> {
    rows.iter().map(|r| r["Rule"].as_str().unwrap()).collect()
}

/// The same rows whatever the thread count and batch size.
fn run_all_threads(packets: &[(Nanos, Vec<u8>)]) -> Vec<Value> {
    let (one, _) = run_ip(packets, &settings(1));
    for t in [2, 4] {
        let mut s = settings(t);
        s.batch = 3;
        let (rows, _) = run_ip(packets, &s);
        assert_eq!(rows, one, "{t} threads");
    }
    one
}

/// Echo requests from `src` to `n` hosts (v4: 192.0.2.x, v6:
/// 2001:db8:1::x), 10 ms apart; the first `answered` hosts reply.
fn ping_sweep(src: &str, n: u8, answered: u8) -> Vec<(Nanos, Vec<u8>)> {
    let v6 = src.contains(':');
    let mut out = Vec::new();
    for h in 1..=n {
        let host = if v6 {
            format!("2001:db8:1::{h}")
        } else {
            format!("192.0.2.{h}")
        };
        let t = T0 + h as Nanos * 10 * MS;
        out.push((t, echo_request(src, &host)));
        if h <= answered {
            out.push((t + MS, echo_reply(&host, src)));
        }
    }
    out
}

#[test]
fn ping_sweeps_over_v4_and_v6_are_reported_with_answered_hosts() {
    for src in ["203.0.113.9", "2001:db8:bad::9", "10.1.1.1"] {
        let rows = run_all_threads(&ping_sweep(src, 12, 3));
        assert_eq!(rules_of(&rows), ["ping-sweep"], "{src}");
        let r = &rows[0];
        assert_eq!(r["SourceIP"], src);
        assert_eq!(r["ScanType"], "Ping Sweep");
        assert_eq!(
            (
                &r["UniqueDestIPs"],
                &r["TotalAttempts"],
                &r["AnsweredHosts"]
            ),
            (&12.into(), &12.into(), &3.into()),
            "{src}"
        );
        assert_eq!(r["FirstSeen"], "2026-11-24T20:00:00.010000000Z");
        assert_eq!(r["LastSeen"], "2026-11-24T20:00:00.120000000Z");
    }
}

#[test]
fn pinging_nine_hosts_or_one_host_often_is_not_a_sweep() {
    let (rows, _) = run_ip(&ping_sweep("203.0.113.9", 9, 9), &settings(2));
    assert!(rows.is_empty(), "{rows:?}");
    // A monitor pinging one host every second for four minutes.
    let mut mon = Vec::new();
    for i in 0..240 {
        let t = T0 + i * SEC;
        mon.push((t, echo_request("198.51.100.7", "192.0.2.1")));
        mon.push((t + MS, echo_reply("192.0.2.1", "198.51.100.7")));
    }
    let (rows, _) = run_ip(&mon, &settings(2));
    assert!(rows.is_empty(), "{rows:?}");
}

#[test]
fn allow_listed_pingers_are_counted_not_written() {
    let mut s = settings(2);
    s.detection.allow = vec!["203.0.113.9/32".parse().unwrap()];
    let (rows, rep) = run_ip(&ping_sweep("203.0.113.9", 12, 0), &s);
    assert!(rows.is_empty());
    assert_eq!(rep.merge.allow_suppressed, 1);
}

/// One SYN to each of `n` hosts on port 445, unanswered.
fn one_probe_each(src: &str, n: u8) -> Vec<(Nanos, Vec<u8>)> {
    (1..=n)
        .map(|h| {
            (
                T0 + h as Nanos * 50 * MS,
                tcp(src, &format!("192.0.2.{h}"), 40000, 445, "S"),
            )
        })
        .collect()
}

#[test]
fn a_single_probe_sweep_of_ten_hosts_is_a_small_sweep() {
    let rows = run_all_threads(&one_probe_each("203.0.113.20", 10));
    assert_eq!(rules_of(&rows), ["trw", "small-sweep"]);
    let r = &rows[1];
    assert_eq!(
        (&r["UniqueDestIPs"], &r["TotalAttempts"], &r["Technique"]),
        (&10.into(), &10.into(), &"T1595".into())
    );
    // From inside: still a small sweep, with the internal rule's technique.
    let rows = run_all_threads(&one_probe_each("10.9.9.9", 10));
    assert_eq!(rules_of(&rows), ["small-sweep"]);
    assert_eq!(rows[0]["Technique"], "T1046");
    // Nine hosts: no sweep (trw's four failed first contacts only).
    let (rows, _) = run_ip(&one_probe_each("203.0.113.20", 9), &settings(2));
    assert_eq!(rules_of(&rows), ["trw"], "{rows:?}");
    // Only the small-sweep rule chosen: it still sees the sweep.
    let mut s = settings(2);
    s.rules = vec!["small-sweep".into()];
    let (rows, _) = run_ip(&one_probe_each("203.0.113.20", 10), &s);
    assert_eq!(rules_of(&rows), ["small-sweep"]);
    s.rules = vec!["seed".into()];
    let (rows, _) = run_ip(&one_probe_each("203.0.113.20", 10), &s);
    assert!(rows.is_empty(), "{rows:?}");
}

#[test]
fn a_sweep_the_seed_rule_reports_is_not_also_a_small_sweep() {
    // 12 hosts x 3 attempts: the seed rule's IP Block Sweep, nothing else.
    let mut all = Vec::new();
    for k in 0..3u16 {
        for h in 1..=12u8 {
            all.push((
                T0 + (k as Nanos * 12 + h as Nanos) * 10 * MS,
                tcp("203.0.113.20", &format!("192.0.2.{h}"), 40000 + k, 445, "S"),
            ));
        }
    }
    let rows = run_all_threads(&all);
    assert_eq!(rules_of(&rows), ["early", "seed", "trw"]);
    assert_eq!(rows[1]["ScanType"], "IP Block Sweep");
    // The input ends before any probe's 5 s are up: every pending probe
    // is known unanswered at the end (the last probe, 360 ms).
    assert_eq!(rows[0]["DetectedAt"], at(T0 + 360 * MS));
    // With traffic going on, the 30th probe (third round, 6th host) is
    // known unanswered 5 s after it was sent.
    all.extend(answered_later("198.51.100.35", T0 + 20 * SEC));
    let rows = run_all_threads(&all);
    assert_eq!(rules_of(&rows), ["early", "seed", "trw"]);
    assert_eq!(rows[0]["DetectedAt"], at(T0 + 300 * MS + 5 * SEC));
}

/// An answered connection from `src` at `t`: traffic that moves the
/// clock on and reports nothing.
fn answered_later(src: &str, t: Nanos) -> Vec<(Nanos, Vec<u8>)> {
    vec![
        (t, tcp(src, "192.0.2.80", 50000, 443, "S")),
        (t + MS, tcp("192.0.2.80", src, 443, 50000, "SA")),
    ]
}

fn at(t: Nanos) -> String {
    picket::time::rfc3339(t, Some(picket::time::Precision::Nano))
}

/// The `k`-th smallest of `times` (1-based).
fn kth(times: &[Nanos], k: usize) -> Nanos {
    let mut t = times.to_vec();
    t.sort();
    t[k - 1]
}

fn early_line(rows: &[Value]) -> &Value {
    let early: Vec<&Value> = rows.iter().filter(|r| r["Rule"] == "early").collect();
    assert_eq!(early.len(), 1, "one early alert: {rows:#?}");
    early[0]
}

#[test]
fn an_early_alert_comes_at_the_rejection_that_crosses_the_thresholds() {
    // 25 ports of one host, each rejected after a different delay, so the
    // rejections arrive in another order than the probes.
    let mut all = Vec::new();
    let mut known = Vec::new();
    for p in 1..=25u16 {
        let t = T0 + p as Nanos * 10 * MS;
        let rst = t + ((p as Nanos * 7) % 13 + 1) * 7 * MS;
        all.push((t, tcp("203.0.113.30", "192.0.2.10", 41000, p, "S")));
        all.push((rst, tcp("192.0.2.10", "203.0.113.30", p, 41000, "RA")));
        known.push((rst, p));
    }
    all.sort_by_key(|(t, _)| *t);
    let rows = run_all_threads(&all);
    assert_eq!(rules_of(&rows), ["early", "seed", "trw"]);
    let e = early_line(&rows);
    let times: Vec<Nanos> = known.iter().map(|k| k.0).collect();
    let detected = kth(&times, 10);
    assert_eq!(e["DetectedAt"], at(detected));
    let mut ports: Vec<u16> = known
        .iter()
        .filter(|k| k.0 <= detected)
        .map(|k| k.1)
        .collect();
    ports.sort();
    assert_eq!(e["PortsTargeted"], serde_json::json!(ports));
    assert_eq!(
        (&e["ScanType"], &e["UniqueDestPorts"], &e["TotalAttempts"]),
        (&"Port Scan".into(), &10.into(), &10.into())
    );
    assert_eq!(e["RejectedAttempts"], 10);
    // The seed row at bin close is the whole scan.
    assert_eq!(rows[1]["UniqueDestPorts"], 25);
    // Read out of time order (neighbours swapped, and some probes behind
    // their own answers), the alert is still one, the same for any thread
    // count and batch size.
    let mut shuffled = all.clone();
    for pair in shuffled.chunks_mut(2) {
        pair.reverse();
    }
    for three in shuffled.chunks_mut(3) {
        three.rotate_left(1);
    }
    let rows = run_all_threads(&shuffled);
    assert_eq!(rules_of(&rows), ["early", "seed", "trw"]);
}

#[test]
fn an_early_alert_for_an_unanswered_sweep_comes_when_the_30th_probe_times_out() {
    // 40 hosts, one probe each, nobody answers: known failed 5 s after
    // each probe; >= 5 hosts and 30 attempts at the 30th.
    let mut all = one_probe_each("203.0.113.31", 40);
    all.extend(answered_later("198.51.100.35", T0 + 20 * SEC));
    let rows = run_all_threads(&all);
    assert_eq!(rules_of(&rows), ["early", "seed", "trw"]);
    let e = early_line(&rows);
    assert_eq!(e["DetectedAt"], at(T0 + 30 * 50 * MS + 5 * SEC));
    assert_eq!(
        (&e["ScanType"], &e["UniqueDestIPs"], &e["TotalAttempts"]),
        (&"IP Block Sweep".into(), &30.into(), &30.into())
    );
    assert_eq!(e["UnansweredAttempts"], 30);
    assert_eq!(e["LastSeen"], at(T0 + 30 * 50 * MS));
}

#[test]
fn an_early_alert_for_a_stealth_scan_comes_at_the_tenth_probe_itself() {
    // FIN probes to 12 ports; the target answers half of them with RST a
    // second later, which changes nothing: a stealth probe fails when sent.
    let mut all = Vec::new();
    for p in 1..=12u16 {
        let t = T0 + p as Nanos * 100 * MS;
        all.push((t, tcp("203.0.113.32", "192.0.2.10", 42000, p, "F")));
        if p % 2 == 0 {
            all.push((t + SEC, tcp("192.0.2.10", "203.0.113.32", p, 42000, "RA")));
        }
    }
    all.sort_by_key(|(t, _)| *t);
    let rows = run_all_threads(&all);
    assert_eq!(rules_of(&rows), ["early", "seed", "stealth-scan", "trw"]);
    let e = early_line(&rows);
    assert_eq!(e["DetectedAt"], at(T0 + SEC));
    assert_eq!(
        (&e["UniqueDestPorts"], &e["StealthProbes"]),
        (&10.into(), &10.into())
    );
}

#[test]
fn an_early_alert_adds_up_failures_spread_over_every_shard() {
    // One port on each of 10 hosts (10 address pairs, so spread over the
    // shards): 9 rejected at once, the 10th host silent, so the crossing
    // is the silent probe's timeout, and a late rejection (6 s) counts as
    // nothing more.
    let mut all = Vec::new();
    for h in 1..=10u16 {
        let host = format!("192.0.2.{h}");
        let t = T0 + h as Nanos * 10 * MS;
        all.push((t, tcp("203.0.113.33", &host, 43000, 1000 + h, "S")));
        if h < 10 {
            all.push((t + MS, tcp(&host, "203.0.113.33", 1000 + h, 43000, "RA")));
        }
    }
    all.push((
        T0 + 100 * MS + 6 * SEC,
        tcp("192.0.2.10", "203.0.113.33", 1010, 43000, "RA"),
    ));
    all.sort_by_key(|(t, _)| *t);
    let rows = run_all_threads(&all);
    let e = early_line(&rows);
    assert_eq!(e["DetectedAt"], at(T0 + 100 * MS + 5 * SEC));
    assert_eq!(
        (
            &e["UniqueDestPorts"],
            &e["UniqueDestIPs"],
            &e["RejectedAttempts"],
            &e["UnansweredAttempts"]
        ),
        (&10.into(), &10.into(), &9.into(), &1.into())
    );
}

#[test]
fn one_early_alert_per_source_and_bin() {
    // 100 ports just before a bin boundary and 100 just after: two bins,
    // two alerts, both detected before the first bin closes (its end + 5 s)
    // and so written before either row.
    let bin = 300 * SEC;
    let start = (T0 / bin + 1) * bin - 500 * MS;
    let mut all = Vec::new();
    for p in 1..=200u16 {
        let t = start + p as Nanos * 5 * MS;
        all.push((t, tcp("203.0.113.34", "192.0.2.10", 44000, p, "S")));
        all.push((t + MS, tcp("192.0.2.10", "203.0.113.34", p, 44000, "R")));
    }
    all.sort_by_key(|(t, _)| *t);
    let rows = run_all_threads(&all);
    assert_eq!(
        rules_of(&rows),
        ["early", "early", "seed", "trw", "seed", "trw"]
    );
    assert_eq!(rows[0]["DetectedAt"], at(start + 10 * 5 * MS + MS));
    // The second bin's 10th port is port 109 (ports 1-99 fall before).
    let first_after = (1..=200)
        .find(|p| start + p * 5 * MS >= start + 500 * MS)
        .unwrap();
    assert_eq!(
        rows[1]["DetectedAt"],
        at(start + (first_after + 9) * 5 * MS + MS)
    );
}

#[test]
fn internal_scanners_are_reported_by_the_internal_rule_only() {
    let mut all = Vec::new();
    for p in 1..=25u16 {
        let t = T0 + p as Nanos * 10 * MS;
        all.push((t, tcp("192.168.7.7", "192.168.7.1", 50000, p, "S")));
        all.push((t + MS, tcp("192.168.7.1", "192.168.7.7", p, 50000, "RA")));
    }
    let rows = run_all_threads(&all);
    assert_eq!(rules_of(&rows), ["internal"]);
    let r = &rows[0];
    assert_eq!(
        (
            &r["ScanType"],
            &r["UniqueDestPorts"],
            &r["RejectedAttempts"]
        ),
        (&"Aggressive Port Scan".into(), &25.into(), &25.into())
    );
    assert_eq!(r["Technique"], "T1046");
}

#[test]
fn floods_backscatter_and_a_dead_server_stay_silent() {
    let mut all = Vec::new();
    // A SYN flood from 2,000 spoofed sources at one web server.
    for i in 0..2000u32 {
        let src = format!("198.51.{}.{}", 100 + (i / 250) % 2, i % 250 + 1);
        all.push((
            T0 + i as Nanos * MS,
            tcp(&src, "192.0.2.80", 1024 + i as u16, 80, "S"),
        ));
    }
    // Backscatter: SYN-ACKs and RSTs from a victim of someone else's flood.
    for i in 0..500u32 {
        let dst = format!("203.0.113.{}", i % 200 + 1);
        all.push((
            T0 + i as Nanos * MS,
            tcp("198.51.100.200", &dst, 80, 2000 + i as u16, "SA"),
        ));
        all.push((
            T0 + i as Nanos * MS + 1,
            tcp("198.51.100.201", &dst, 80, 3000 + i as u16, "RA"),
        ));
    }
    // A client whose resolved server is down: 8 tries to one host.
    for i in 0..8u16 {
        all.push((
            T0 + i as Nanos * SEC,
            tcp("10.0.0.5", "192.0.2.99", 51000 + i, 443, "S"),
        ));
    }
    all.sort_by_key(|(t, _)| *t);
    let (rows, _) = run_ip(&all, &settings(2));
    assert!(rows.is_empty(), "{rows:#?}");
}

/// Bare ACKs from `src` to each (host, port), each answered by a RST
/// without ACK (what a host says to an ACK for no connection of its own)
/// when `reset`.
fn ack_probes(src: &str, targets: &[(String, u16)], reset: bool) -> Vec<(Nanos, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, (host, port)) in targets.iter().enumerate() {
        let t = T0 + i as Nanos * 20 * MS;
        out.push((t, tcp(src, host, 45000, *port, "A")));
        if reset {
            out.push((t + MS, tcp(host, src, *port, 45000, "R")));
        }
    }
    out
}

#[test]
fn ack_scans_and_sweeps_are_reported_from_the_resets_they_draw() {
    // nmap -sA: 15 ports of one host.
    let ports: Vec<(String, u16)> = (1..=15).map(|p| ("192.0.2.10".to_string(), p)).collect();
    let rows = run_all_threads(&ack_probes("203.0.113.50", &ports, true));
    assert_eq!(rules_of(&rows), ["ack-scan"]);
    let r = &rows[0];
    assert_eq!(
        (
            &r["ScanType"],
            &r["UniqueDestPorts"],
            &r["UniqueDestIPs"],
            &r["TotalAttempts"]
        ),
        (&"ACK Scan".into(), &15.into(), &1.into(), &15.into())
    );
    // nmap -PA: port 80 of 12 hosts, v6, from inside (T1046).
    let hosts: Vec<(String, u16)> = (1..=12).map(|h| (format!("fd00::{h}"), 80)).collect();
    let rows = run_all_threads(&ack_probes("fd00::99", &hosts, true));
    assert_eq!(rules_of(&rows), ["ack-scan"]);
    assert_eq!(
        (
            &rows[0]["ScanType"],
            &rows[0]["UniqueDestIPs"],
            &rows[0]["Technique"]
        ),
        (&"ACK Sweep".into(), &12.into(), &"T1046".into())
    );
    // Nine hosts: nothing. The same ACKs unanswered (a filtered network,
    // or the answers' direction missing from the link): nothing.
    let nine: Vec<(String, u16)> = (1..=9).map(|h| (format!("192.0.2.{h}"), 80)).collect();
    let (rows, _) = run_ip(&ack_probes("203.0.113.51", &nine, true), &settings(2));
    assert!(rows.is_empty(), "{rows:?}");
    let many: Vec<(String, u16)> = (1..=40).map(|h| (format!("192.0.2.{h}"), 443)).collect();
    let (rows, _) = run_ip(&ack_probes("203.0.113.52", &many, false), &settings(2));
    assert!(rows.is_empty(), "{rows:?}");
}

#[test]
fn connections_and_syn_scans_are_not_ack_scans() {
    let mut all = Vec::new();
    // A client with open connections to 20 servers: handshake, then ACKs
    // and data both ways, closed by RST+ACK.
    for h in 1..=20u16 {
        let s = format!("192.0.2.{h}");
        let t = T0 + h as Nanos * 10 * MS;
        all.push((t, tcp("198.51.100.60", &s, 50000 + h, 443, "S")));
        all.push((t + MS, tcp(&s, "198.51.100.60", 443, 50000 + h, "SA")));
        all.push((t + 2 * MS, tcp("198.51.100.60", &s, 50000 + h, 443, "A")));
        all.push((t + 3 * MS, tcp(&s, "198.51.100.60", 443, 50000 + h, "PA")));
        all.push((t + 4 * MS, tcp("198.51.100.60", &s, 50000 + h, 443, "A")));
        all.push((t + 5 * MS, tcp(&s, "198.51.100.60", 443, 50000 + h, "RA")));
    }
    all.sort_by_key(|(t, _)| *t);
    let (rows, _) = run_ip(&all, &settings(2));
    assert!(rows.is_empty(), "{rows:#?}");
    // A SYN scan of 15 closed ports answered by RST+ACK: the seed rule's
    // (and the early alert's), not an ACK scan.
    let mut scan = Vec::new();
    for p in 1..=15u16 {
        let t = T0 + p as Nanos * 10 * MS;
        scan.push((t, tcp("203.0.113.53", "192.0.2.10", 46000, p, "S")));
        scan.push((t + MS, tcp("192.0.2.10", "203.0.113.53", p, 46000, "RA")));
    }
    let rows = run_all_threads(&scan);
    assert_eq!(rules_of(&rows), ["early", "seed", "trw"]);
}

/// One stealth probe (TCP `flags`) from `src` to each (host, port), 30 ms
/// apart; each sent `times` times (a retransmission within the answer
/// timeout is the same probe).
fn stealth_probes(src: &str, targets: &[(&str, u16, &str)], times: usize) -> Vec<(Nanos, Vec<u8>)> {
    let mut out = Vec::new();
    for k in 0..times {
        for (i, (host, port, flags)) in targets.iter().enumerate() {
            let t = T0 + (k * targets.len() + i) as Nanos * 30 * MS;
            out.push((t, tcp(src, host, 47000, *port, flags)));
        }
    }
    out
}

#[test]
fn stealth_scans_are_reported_with_their_probe_types() {
    // nmap -sX of 6 ports: under the seed rule's 10 ports, over this
    // rule's 5.
    let xmas: Vec<(&str, u16, &str)> = (1..=6).map(|p| ("192.0.2.10", p, "FPU")).collect();
    let rows = run_all_threads(&stealth_probes("203.0.113.60", &xmas, 1));
    assert_eq!(rules_of(&rows), ["stealth-scan", "trw"]);
    let r = &rows[0];
    assert_eq!(
        (
            &r["ScanType"],
            &r["ProbeTypes"],
            &r["UniqueDestPorts"],
            &r["XmasProbes"]
        ),
        (&"XMAS Scan".into(), &"XMAS".into(), &6.into(), &6.into())
    );
    assert_eq!(r["Technique"], "T1595");
    // FIN and NULL probes to port 22 of 5 hosts, from inside: a sweep
    // of mixed types, lateral movement.
    let hosts = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];
    let mixed: Vec<(&str, u16, &str)> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (*h, 22, if i % 2 == 0 { "F" } else { "" }))
        .collect();
    let rows = run_all_threads(&stealth_probes("10.0.0.99", &mixed, 1));
    assert_eq!(rules_of(&rows), ["stealth-scan"]);
    let r = &rows[0];
    assert_eq!(
        (
            &r["ScanType"],
            &r["ProbeTypes"],
            &r["UniqueDestIPs"],
            &r["Technique"]
        ),
        (
            &"Stealth Scan".into(),
            &"FIN,NULL".into(),
            &5.into(),
            &"T1046".into()
        )
    );
    assert_eq!((&r["FinProbes"], &r["NullProbes"]), (&3.into(), &2.into()));
    // Four ports, each probe sent twice: four attempts, no stealth scan
    // (four failed first contacts: trw's scanner).
    let four: Vec<(&str, u16, &str)> = (1..=4).map(|p| ("192.0.2.10", p, "F")).collect();
    let (rows, report) = run_ip(&stealth_probes("203.0.113.61", &four, 2), &settings(2));
    assert_eq!(rules_of(&rows), ["trw"], "{rows:?}");
    assert_eq!(report.agg.retransmissions, 4);
}

#[test]
fn maimon_probes_are_counted_by_the_ack_scan_rule() {
    // nmap -sM: FIN+ACK to 12 ports; a closed port answers with a RST
    // without ACK, as to any ACK for no connection. The segment itself
    // looks like the end of a connection, so the stealth rule (which
    // counts probes as sent) does not see it; the ACK rule counts the
    // resets.
    let mut all = Vec::new();
    for p in 1..=12u16 {
        let t = T0 + p as Nanos * 20 * MS;
        all.push((t, tcp("203.0.113.62", "192.0.2.10", 48000, p, "FA")));
        all.push((t + MS, tcp("192.0.2.10", "203.0.113.62", p, 48000, "R")));
    }
    let rows = run_all_threads(&all);
    assert_eq!(rules_of(&rows), ["ack-scan"]);
    assert_eq!(rows[0]["UniqueDestPorts"], 12);
}

/// Every default rule (`trw` among them), for 1 to 4 threads.
fn with_trw(packets: &[(Nanos, Vec<u8>)]) -> Vec<Value> {
    let mut one = settings(1);
    one.rules = vec!["default".into()];
    let (rows, _) = run_ip(packets, &one);
    for t in [2, 4] {
        let mut s = one.clone();
        s.threads = t;
        assert_eq!(run_ip(packets, &s).0, rows, "{t} threads");
    }
    rows
}

#[test]
fn the_sequential_test_catches_a_scan_below_every_threshold_and_says_when() {
    // Five closed ports probed, one every 2 s, none answered: under the
    // seed rule's 10 ports and the small sweep's 10 hosts.
    let mut all = Vec::new();
    for p in 1..=5u16 {
        let t = T0 + p as Nanos * 2 * SEC;
        all.push((t, tcp("203.0.113.70", "192.0.2.20", 49000, p * 100, "S")));
    }
    // A later packet carries the clock past every timeout.
    all.push((T0 + 30 * SEC, tcp("198.51.100.9", "192.0.2.9", 1, 2, "A")));
    let rows = with_trw(&all);
    assert_eq!(rules_of(&rows), ["trw"]);
    let r = &rows[0];
    assert_eq!(
        (
            &r["Observations"],
            &r["FailedObservations"],
            &r["UniqueDestPorts"]
        ),
        (&4.into(), &4.into(), &4.into())
    );
    assert_eq!(r["FirstSeen"], at(T0 + 2 * SEC));
    // The fourth probe (at 8 s) was known unanswered 5 s later.
    assert_eq!(r["DetectedAt"], at(T0 + 13 * SEC));
    assert_eq!(r["SecondsToDetect"], 11);
}

#[test]
fn the_sequential_test_stays_silent_on_a_dead_server_and_mixed_clients() {
    let mut all = Vec::new();
    // A client whose server is down: ten retries to one (host, port),
    // each from a new port; one first contact.
    for i in 0..10u16 {
        let t = T0 + i as Nanos * SEC;
        all.push((t, tcp("198.51.100.71", "192.0.2.30", 50000 + i, 443, "S")));
        all.push((
            t + MS,
            tcp("192.0.2.30", "198.51.100.71", 443, 50000 + i, "RA"),
        ));
    }
    // A client that reaches most servers it tries and fails at five, one
    // in three: enough failures to decide if successes did not count.
    for h in 1..=15u16 {
        let s = format!("192.0.2.{}", 100 + h);
        let t = T0 + h as Nanos * 100 * MS;
        all.push((t, tcp("198.51.100.72", &s, 51000 + h, 443, "S")));
        let answer = if h % 3 == 0 { "RA" } else { "SA" };
        all.push((t + MS, tcp(&s, "198.51.100.72", 443, 51000 + h, answer)));
    }
    all.sort_by_key(|(t, _)| *t);
    let rows = with_trw(&all);
    assert!(rows.is_empty(), "{rows:#?}");
}

#[test]
fn trw_probabilities_are_options_and_checked() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_picket"))
        .args([
            "replay",
            "--rules",
            "trw",
            "--trw-theta1",
            "0.9",
            "pcaps/nmap-sT.pcap",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--trw-theta1"));
}

/// Probes from `src` to each (host, port), `gap` apart from T0, none
/// answered.
fn spaced(src: &str, targets: &[(String, u16)], gap: Nanos) -> Vec<(Nanos, Vec<u8>)> {
    targets
        .iter()
        .enumerate()
        .map(|(i, (h, p))| {
            (
                T0 + i as Nanos * gap,
                tcp(src, h, 40000 + i as u16, *p, "S"),
            )
        })
        .collect()
}

fn hosts(n: u8, port: u16) -> Vec<(String, u16)> {
    (1..=n).map(|h| (format!("192.0.2.{h}"), port)).collect()
}

const MIN: Nanos = 60 * SEC;

#[test]
fn a_sweep_or_port_scan_spread_over_hours_is_a_slow_scan() {
    // 445/tcp to 9 hosts, one every 12 minutes (1 h 36 min): reported at
    // the eighth host, the ninth falls in the quiet hours after.
    let rows = run_all_threads(&spaced("203.0.113.80", &hosts(9, 445), 12 * MIN));
    assert_eq!(rules_of(&rows), ["slow-scan"]);
    let r = &rows[0];
    assert_eq!(r["ScanType"], "Slow Sweep");
    assert_eq!(
        (
            &r["UniqueDestIPs"],
            &r["UniqueDestPorts"],
            &r["TotalAttempts"]
        ),
        (&8.into(), &1.into(), &8.into())
    );
    assert_eq!(r["FirstSeen"], at(T0));
    assert_eq!(r["DetectedAt"], at(T0 + 7 * 12 * MIN));
    // 15 ports of one host, one every 20 minutes (4 h 40 min).
    let ports: Vec<(String, u16)> = (1..=15).map(|p| ("192.0.2.7".into(), p * 10)).collect();
    let rows = run_all_threads(&spaced("203.0.113.81", &ports, 20 * MIN));
    assert_eq!(rules_of(&rows), ["slow-scan"]);
    assert_eq!(rows[0]["ScanType"], "Slow Port Scan");
    assert_eq!(rows[0]["UniqueDestPorts"], 15);
    assert_eq!(rows[0]["ActiveBins"], 15);
}

#[test]
fn slow_but_narrow_or_spread_beyond_the_horizon_is_not_a_slow_scan() {
    let mut all = Vec::new();
    // A client retrying a dead server every 5 minutes for 8 hours.
    all.extend(spaced(
        "198.51.100.81",
        &vec![("192.0.2.99".into(), 443); 96],
        5 * MIN,
    ));
    // Seven hosts in six hours.
    all.extend(spaced("198.51.100.82", &hosts(7, 22), 50 * MIN));
    // Eight hosts an hour apart: never eight within six hours.
    all.extend(spaced("198.51.100.83", &hosts(8, 23), 61 * MIN));
    // 14 ports in four hours.
    let ports: Vec<(String, u16)> = (1..=14).map(|p| ("192.0.2.8".into(), p)).collect();
    all.extend(spaced("198.51.100.84", &ports, 17 * MIN));
    // A port scan of one host that the seed rule reports, then seven more
    // hosts slowly: the reported bin's host is the seed rule's, not
    // counted again (with it, eight).
    for p in 1..=12u16 {
        all.push((
            T0 + p as Nanos * MS,
            tcp("198.51.100.85", "192.0.2.50", 41000, p, "S"),
        ));
    }
    all.extend(
        spaced("198.51.100.85", &hosts(7, 80), 30 * MIN)
            .into_iter()
            .map(|(t, p)| (t + 10 * MIN, p)),
    );
    all.sort_by_key(|(t, _)| *t);
    let rows = run_all_threads(&all);
    let slow: Vec<&Value> = rows.iter().filter(|r| r["Rule"] == "slow-scan").collect();
    assert!(slow.is_empty(), "{slow:#?}");
    assert_eq!(
        rules_of(&rows),
        ["early", "seed", "trw"],
        "the port scan only"
    );
    // With a horizon of eight hours, the hourly sweep is one.
    let mut s = settings(2);
    s.detection.slow_scan_horizon = 8 * 60 * MIN;
    let (rows, _) = run_ip(&spaced("198.51.100.83", &hosts(8, 23), 61 * MIN), &s);
    assert_eq!(rules_of(&rows), ["slow-scan"]);
}

#[test]
fn slow_scan_tracks_stay_under_their_cap_and_the_widest_survive() {
    // 400 spoofed sources a bin, one probe each, for 10 bins, and one
    // sweep of 8 hosts among them, two hosts a bin: wider from its first
    // bin on, it outlasts them.
    let mut all = Vec::new();
    for b in 0..10u32 {
        let t = T0 + b as Nanos * 5 * MIN;
        for i in 0..400u32 {
            let src = format!("198.51.{}.{}", 100 + i / 250, i % 250 + 1);
            let src = if b % 2 == 0 {
                src
            } else {
                format!("203.0.113.{}", i % 200 + 1)
            };
            all.push((
                t + i as Nanos * MS,
                tcp(&src, "192.0.2.80", 2000 + i as u16, 80, "S"),
            ));
        }
        if b < 4 {
            for h in [2 * b + 1, 2 * b + 2] {
                let dst = format!("2001:db8:2::{h}");
                all.push((t + 500 * MS, tcp("2001:db8:9::9", &dst, 40000, 445, "S")));
            }
        }
    }
    all.sort_by_key(|(t, _)| *t);
    let mut s = settings(1);
    s.limits.max_slow_sources = 100;
    let (rows, report) = run_ip(&all, &s);
    let slow: Vec<&Value> = rows.iter().filter(|r| r["Rule"] == "slow-scan").collect();
    assert_eq!(slow.len(), 1, "{slow:#?}");
    assert_eq!(slow[0]["SourceIP"], "2001:db8:9::9");
    assert!(report.merge.horizon_evicted >= 300, "{:?}", report.merge);
    for t in [2, 4] {
        s.threads = t;
        assert_eq!(run_ip(&all, &s).0, rows, "{t} threads");
    }
}

/// HTTP requests from `client` to 192.0.2.80 (2001:db8:2::80):`port` for `paths`, 100 ms
/// apart, with User-Agent `agent`, each answered with `status`.
fn http(
    client: &str,
    port: u16,
    paths: &[&str],
    agent: &str,
    status: u16,
) -> Vec<(Nanos, Vec<u8>)> {
    let server = if client.contains(':') {
        "2001:db8:2::80"
    } else {
        "192.0.2.80"
    };
    let mut out = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let t = T0 + i as Nanos * 100 * MS;
        let sport = 45000 + i as u16;
        let req = format!("GET {path} HTTP/1.1\r\nHost: 192.0.2.80\r\nUser-Agent: {agent}\r\n\r\n");
        out.push((t, tcp_data(client, server, sport, port, req.as_bytes())));
        let resp = format!("HTTP/1.1 {status} Whatever\r\nContent-Length: 0\r\n\r\n");
        out.push((
            t + MS,
            tcp_data(server, client, port, sport, resp.as_bytes()),
        ));
    }
    out
}

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

#[test]
fn requests_for_sensitive_paths_refused_or_a_scanner_agent_are_web_probing() {
    let probing = ["/.env", "/.git/config", "/wp-login.php", "/index.html"];
    let rows = run_all_threads(&http("203.0.113.90", 80, &probing, BROWSER, 404));
    assert_eq!(rules_of(&rows), ["web-probe"]);
    let r = &rows[0];
    assert_eq!(r["ScanType"], "Web Vulnerability Scan");
    assert_eq!(
        r["PathsRequested"],
        serde_json::json!(["/.env", "/.git/", "/wp-login.php"])
    );
    assert_eq!(
        (
            &r["Requests"],
            &r["SensitivePaths"],
            &r["Answers"],
            &r["ErrorAnswers"]
        ),
        (&4.into(), &3.into(), &4.into(), &4.into())
    );
    assert!(r.get("ScannerAgent").is_none());
    assert_eq!(r["Technique"], "T1595.003");
    // One plain request with sqlmap's agent, on 8080, from IPv6.
    let rows = run_all_threads(&http(
        "2001:db8:7::9",
        8080,
        &["/"],
        "sqlmap/1.7.2#stable (https://sqlmap.org)",
        200,
    ));
    assert_eq!(rules_of(&rows), ["web-probe"]);
    assert_eq!(rows[0]["ScanType"], "Web Scanner User Agent");
    assert_eq!(rows[0]["ScannerAgent"], "sqlmap");
    assert_eq!(
        (&rows[0]["Tool"], &rows[0]["ToolConfidence"]),
        (&"sqlmap".into(), &"medium".into())
    );
}

#[test]
fn a_site_that_has_the_paths_few_paths_or_other_ports_are_not_web_probing() {
    let mut all = Vec::new();
    // The paths exist (200): an admin at work.
    all.extend(http(
        "198.51.100.91",
        80,
        &["/wp-admin/", "/wp-login.php", "/xmlrpc.php"],
        BROWSER,
        200,
    ));
    // Two sensitive paths refused.
    all.extend(http(
        "198.51.100.92",
        80,
        &["/.env", "/admin/", "/a", "/b"],
        BROWSER,
        404,
    ));
    // Many refused, none listed (a broken link checker).
    let pages: Vec<String> = (0..40).map(|i| format!("/page{i}.html")).collect();
    let pages: Vec<&str> = pages.iter().map(String::as_str).collect();
    all.extend(http("198.51.100.93", 80, &pages, BROWSER, 404));
    // A scanner on a port that is not read (TLS would hide it anyway).
    all.extend(http(
        "198.51.100.94",
        443,
        &["/.env", "/.git/", "/pma/"],
        "Nikto",
        404,
    ));
    all.sort_by_key(|(t, _)| *t);
    let rows = run_all_threads(&all);
    assert!(rows.is_empty(), "{rows:#?}");
    // With the threshold at two, the second client is reported.
    let mut s = settings(2);
    s.detection.web_probe_paths = 2;
    let (rows, _) = run_ip(&all, &s);
    assert_eq!(rules_of(&rows), ["web-probe"]);
    assert_eq!(rows[0]["SourceIP"], "198.51.100.92");
}
