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
    assert_eq!(rules_of(&rows), ["small-sweep"]);
    let r = &rows[0];
    assert_eq!(
        (&r["UniqueDestIPs"], &r["TotalAttempts"], &r["Technique"]),
        (&10.into(), &10.into(), &"T1595".into())
    );
    // From inside: still a small sweep, with the internal rule's technique.
    let rows = run_all_threads(&one_probe_each("10.9.9.9", 10));
    assert_eq!(rules_of(&rows), ["small-sweep"]);
    assert_eq!(rows[0]["Technique"], "T1046");
    // Nine hosts: nothing.
    let (rows, _) = run_ip(&one_probe_each("203.0.113.20", 9), &settings(2));
    assert!(rows.is_empty(), "{rows:?}");
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
    assert_eq!(rules_of(&rows), ["seed"]);
    assert_eq!(rows[0]["ScanType"], "IP Block Sweep");
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
