//! Outcomes and the seed rule, through the whole pipeline in memory.

mod common;

use common::*;
use picket::time::Nanos;
use serde_json::Value;

const SCANNER: &str = "203.0.113.66";
const TARGET: &str = "192.0.2.10";

/// SYNs from `src` to each host x port, `gap` apart from `t`.
fn syns(
    src: &str,
    hosts: &[&str],
    ports: impl Iterator<Item = u16> + Clone,
    t: Nanos,
    gap: Nanos,
) -> Vec<(Nanos, Vec<u8>)> {
    let mut out = Vec::new();
    for h in hosts {
        for p in ports.clone() {
            out.push((t + out.len() as Nanos * gap, tcp(src, h, 40000, p, "S")));
        }
    }
    out
}

/// The answer each SYN gets, `delay` later.
fn answers(probes: &[(Nanos, Vec<u8>)], flags: &str, delay: Nanos) -> Vec<(Nanos, Vec<u8>)> {
    probes
        .iter()
        .map(|(t, p)| {
            let ev = picket::decode::decode(picket::decode::LinkType::Raw, p, *t).unwrap();
            let reply = tcp(
                &ev.dst.to_string(),
                &ev.src.to_string(),
                ev.dport,
                ev.sport,
                flags,
            );
            (*t + delay, reply)
        })
        .collect()
}

fn merged(mut parts: Vec<Vec<(Nanos, Vec<u8>)>>) -> Vec<(Nanos, Vec<u8>)> {
    let mut all: Vec<_> = parts.drain(..).flatten().collect();
    all.sort_by_key(|(t, _)| *t);
    all
}

/// Settings with only the seed rule on (`--rules seed`).
fn seed_only(threads: usize) -> picket::pipeline::Settings {
    let mut s = settings(threads);
    s.rules = vec!["seed".into()];
    s
}

fn one_row(rows: &[Value]) -> &Value {
    assert_eq!(rows.len(), 1, "{rows:#?}");
    &rows[0]
}

#[test]
fn syn_answered_by_syn_ack_is_not_a_failure() {
    let probes = syns(SCANNER, &[TARGET], 1..=20, T0, MS);
    let all = merged(vec![answers(&probes, "SA", 2 * MS), probes]);
    let (rows, rep) = run_ip(&all, &seed_only(2));
    assert!(rows.is_empty(), "{rows:?}");
    assert_eq!(
        (rep.agg.answered, rep.agg.rejected, rep.agg.unanswered),
        (20, 0, 0)
    );
    assert_eq!(
        rep.delays.value_at_quantile(0.5),
        2000,
        "2 ms answer delay in us"
    );
}

#[test]
fn syn_rejected_by_rst_or_rst_ack() {
    for flags in ["R", "RA"] {
        let probes = syns(SCANNER, &[TARGET], 1..=20, T0, MS);
        let all = merged(vec![answers(&probes, flags, MS), probes]);
        let (rows, rep) = run_ip(&all, &seed_only(2));
        let r = one_row(&rows);
        assert_eq!(r["ScanType"], "Aggressive Port Scan");
        assert_eq!(r["RejectedAttempts"], 20);
        assert_eq!(rep.agg.rejected, 20);
    }
}

#[test]
fn syn_rejected_by_icmp_unreachable_v4_and_v6() {
    for (src, dst, router) in [
        (SCANNER, TARGET, "198.51.100.1"),
        ("2001:db8:66::1", "2001:db8:1::10", "2001:db8:1::1"),
    ] {
        let probes = syns(src, &[dst], 1..=10, T0, MS);
        let icmp: Vec<_> = probes
            .iter()
            .map(|(t, p)| (*t + MS, unreachable(router, src, p)))
            .collect();
        let (rows, rep) = run_ip(&merged(vec![probes, icmp]), &seed_only(2));
        let r = one_row(&rows);
        assert_eq!(r["SourceIP"], src);
        assert_eq!(r["ScanType"], "Port Scan");
        assert_eq!(r["RejectedAttempts"], 10);
        assert_eq!(rep.agg.rejected, 10);
    }
}

#[test]
fn answer_timeout_is_inclusive() {
    // Ten SYNs at T0; five SYN-ACKs exactly 5 s later (answered), five at
    // 5 s + 1 ns (too late: unanswered). Only the five late ones fail.
    let probes = syns(SCANNER, &[TARGET], 1..=10, T0, 0);
    let mut replies = answers(&probes[..5], "SA", 5 * SEC);
    replies.extend(answers(&probes[5..], "SA", 5 * SEC + 1));
    let (rows, rep) = run_ip(&merged(vec![probes, replies]), &seed_only(1));
    assert!(rows.is_empty(), "5 failed ports are below the threshold");
    assert_eq!((rep.agg.answered, rep.agg.unanswered), (5, 5));
}

#[test]
fn unanswered_until_timeout_and_pending_at_end_of_input() {
    // 10 SYNs, then traffic 10 s later moves the clock past every deadline.
    let mut all = syns(SCANNER, &[TARGET], 1..=10, T0, MS);
    all.push((T0 + 10 * SEC, tcp("198.51.100.7", TARGET, 1, 80, "A")));
    let (rows, rep) = run_ip(&all, &seed_only(2));
    assert_eq!(one_row(&rows)["UnansweredAttempts"], 10);
    assert_eq!(rep.agg.unanswered, 10);
    // The same SYNs with nothing after them: pending at end of input.
    let (rows, rep) = run_ip(&syns(SCANNER, &[TARGET], 1..=10, T0, MS), &seed_only(2));
    assert_eq!(one_row(&rows)["TotalAttempts"], 10);
    assert_eq!(rep.agg.unanswered, 10);
}

#[test]
fn retransmissions_count_once() {
    let mut all = Vec::new();
    for p in 1..=10u16 {
        for k in 0..3 {
            // Three copies of each SYN within the timeout (1 s apart).
            all.push((
                T0 + k * SEC + p as Nanos,
                tcp(SCANNER, TARGET, 40000, p, "S"),
            ));
        }
    }
    all.sort_by_key(|(t, _)| *t);
    let (rows, rep) = run_ip(&all, &seed_only(2));
    assert_eq!(one_row(&rows)["TotalAttempts"], 10);
    assert_eq!(rep.agg.retransmissions, 20);
    // After the timeout, the same tuple is a new attempt.
    let again: Vec<_> = (0..2)
        .map(|k| (T0 + k * 6 * SEC, tcp(SCANNER, TARGET, 40000, 22, "S")))
        .collect();
    let (_, rep) = run_ip(&again, &seed_only(1));
    assert_eq!((rep.agg.attempts_tcp, rep.agg.retransmissions), (2, 0));
}

#[test]
fn stealth_probes_always_fail() {
    for flags in ["F", "", "FPU"] {
        let probes: Vec<_> = (1..=10u16)
            .map(|p| (T0 + p as Nanos * MS, tcp(SCANNER, TARGET, 40000, p, flags)))
            .collect();
        // Even a SYN-ACK (nonsense) does not answer them; RSTs reject half.
        let mut replies = answers(&probes[..5], "SA", MS);
        replies.extend(answers(&probes[5..], "RA", MS));
        let (rows, rep) = run_ip(&merged(vec![probes, replies]), &seed_only(2));
        let r = one_row(&rows);
        assert_eq!(r["StealthProbes"], 10, "flags {flags:?}");
        assert_eq!(r["RejectedAttempts"], 5);
        assert_eq!(r["UnansweredAttempts"], 5);
        assert_eq!(rep.agg.answered, 0);
    }
}

#[test]
fn udp_answered_rejected_and_unanswered() {
    let probes: Vec<_> = (1..=12u16)
        .map(|p| (T0 + p as Nanos * MS, udp(SCANNER, TARGET, 50000, p)))
        .collect();
    // Ports 1-4 reply, 5-8 answer with port unreachable, 9-12 stay silent.
    let mut replies: Vec<_> = probes[..4]
        .iter()
        .enumerate()
        .map(|(i, (t, _))| (*t + MS, udp(TARGET, SCANNER, 1 + i as u16, 50000)))
        .collect();
    replies.extend(
        probes[4..8]
            .iter()
            .map(|(t, p)| (*t + MS, unreachable(TARGET, SCANNER, p))),
    );
    // A second datagram on an answered flow within the timeout is no new attempt.
    replies.push((T0 + 2 * SEC, udp(SCANNER, TARGET, 50000, 1)));
    for threads in [1, 3] {
        let (rows, rep) = run_ip(
            &merged(vec![probes.clone(), replies.clone()]),
            &seed_only(threads),
        );
        assert!(rows.is_empty(), "8 failed ports: no row");
        assert_eq!(
            (
                rep.agg.attempts_udp,
                rep.agg.answered,
                rep.agg.rejected,
                rep.agg.unanswered
            ),
            (12, 4, 4, 4),
            "{threads} threads"
        );
    }
    // Twelve silent ports are a port scan over UDP.
    let (rows, _) = run_ip(&probes, &seed_only(2));
    let r = one_row(&rows);
    assert_eq!(
        (r["UdpAttempts"].as_u64(), r["UniqueDestPorts"].as_u64()),
        (Some(12), Some(12))
    );
}

#[test]
fn udp_reply_from_a_server_is_not_its_attempt() {
    // A client inside asks 12 external resolvers; their answers must not
    // count as the resolvers' attempts, and the client is a home source.
    let mut all = Vec::new();
    for i in 1..=12u8 {
        let server = format!("198.51.100.{i}");
        all.push((
            T0 + i as Nanos * MS,
            udp("10.0.0.5", &server, 33000 + i as u16, 53),
        ));
        all.push((
            T0 + i as Nanos * MS + 100,
            udp(&server, "10.0.0.5", 53, 33000 + i as u16),
        ));
    }
    let (rows, rep) = run_ip(&all, &seed_only(2));
    assert!(rows.is_empty());
    // The client's 12 queries are its attempts (tracked whoever sends
    // them; rules decide about home sources), all answered; the seed rule
    // leaves them out as home-network attempts.
    assert_eq!(
        (rep.agg.attempts_udp, rep.agg.answered, rep.agg.unanswered),
        (12, 12, 0)
    );
    assert_eq!(rep.agg.home_probes, 12);
}

fn unanswered_scan(src: &str, hosts: &[&str], ports: u16, repeat: u16) -> Vec<(Nanos, Vec<u8>)> {
    let mut out = Vec::new();
    for r in 0..repeat {
        for h in hosts {
            for p in 1..=ports {
                let t = T0 + out.len() as Nanos * MS;
                out.push((t, tcp(src, h, 40000 + r, p, "S")));
            }
        }
    }
    out
}

fn hosts(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("192.0.2.{i}")).collect()
}

fn scan_type(src: &str, n_hosts: usize, ports: u16, repeat: u16) -> Option<String> {
    let hs = hosts(n_hosts);
    let hs: Vec<&str> = hs.iter().map(|s| s.as_str()).collect();
    let (rows, _) = run_ip(&unanswered_scan(src, &hs, ports, repeat), &seed_only(2));
    assert!(rows.len() <= 1);
    rows.first()
        .map(|r| r["ScanType"].as_str().unwrap().to_string())
}

#[test]
fn thresholds_and_every_scan_type() {
    assert_eq!(scan_type(SCANNER, 1, 9, 1), None, "9 ports");
    assert_eq!(scan_type(SCANNER, 1, 10, 1).as_deref(), Some("Port Scan"));
    assert_eq!(scan_type(SCANNER, 1, 19, 1).as_deref(), Some("Port Scan"));
    assert_eq!(
        scan_type(SCANNER, 1, 20, 1).as_deref(),
        Some("Aggressive Port Scan")
    );
    // 4 hosts x 1 port x 8 repeats = 32 attempts: too few hosts.
    assert_eq!(scan_type(SCANNER, 4, 1, 8), None, "4 hosts");
    assert_eq!(
        scan_type(SCANNER, 5, 1, 6).as_deref(),
        Some("Limited IP Sweep"),
        "5 hosts, 30 attempts"
    );
    assert_eq!(scan_type(SCANNER, 5, 1, 5), None, "25 attempts");
    // 29 vs 30 attempts over 10 hosts: 10 hosts x 3 repeats = 30, minus one.
    let hs = hosts(10);
    let hs: Vec<&str> = hs.iter().map(|s| s.as_str()).collect();
    let mut thirty = unanswered_scan(SCANNER, &hs, 1, 3);
    let (rows, _) = run_ip(&thirty, &seed_only(2));
    assert_eq!(one_row(&rows)["ScanType"], "IP Block Sweep");
    assert_eq!(rows[0]["TotalAttempts"], 30);
    thirty.pop();
    let (rows, _) = run_ip(&thirty, &seed_only(2));
    assert!(rows.is_empty(), "29 attempts");
    // The small-sweep rule takes it: 10 hosts, whatever the attempts.
    let mut s = seed_only(2);
    s.rules.push("small-sweep".into());
    let (rows, _) = run_ip(&thirty, &s);
    let r = one_row(&rows);
    assert_eq!(
        (&r["Rule"], &r["ScanType"]),
        (&"small-sweep".into(), &"Small IP Sweep".into())
    );
    assert_eq!(
        (&r["UniqueDestIPs"], &r["TotalAttempts"]),
        (&10.into(), &29.into())
    );
    // Suspicious Probe: unreachable with the defaults (a reported row has
    // >= 10 ports or >= 5 hosts); with --min-hosts 3, 4 hosts x 8 = 32
    // attempts report, below the Limited IP Sweep's 5 hosts.
    let mut s = seed_only(2);
    s.detection.min_ips = 3;
    let hs = hosts(4);
    let hs: Vec<&str> = hs.iter().map(|s| s.as_str()).collect();
    let (rows, _) = run_ip(&unanswered_scan(SCANNER, &hs, 1, 8), &s);
    assert_eq!(one_row(&rows)["ScanType"], "Suspicious Probe");
}

#[test]
fn scan_straddling_a_bin_boundary_splits_into_two_rows() {
    // 12 ports in the last seconds of a bin, 12 more in the next one.
    let mut all = Vec::new();
    for p in 1..=24u16 {
        let t = T0 + 300 * SEC - 12 * SEC + p as Nanos * SEC;
        all.push((t, tcp(SCANNER, TARGET, 40000, p, "S")));
    }
    let (rows, _) = run_ip(&all, &seed_only(2));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["TimeGenerated"], "2026-11-24T20:00:00Z");
    assert_eq!(rows[0]["UniqueDestPorts"], 11);
    assert_eq!(rows[1]["TimeGenerated"], "2026-11-24T20:05:00Z");
    assert_eq!(rows[1]["UniqueDestPorts"], 13);
    assert_eq!(rows[1]["PortsTargeted"][0], 12);
}

#[test]
fn minutes_and_seconds_count_boundaries_crossed() {
    // 23:00:59.9 to 23:05:01.1 in one 10-minute bin: 5 minute boundaries
    // and 242 second boundaries.
    let base = T0 + 3 * 3600 * SEC; // 23:00:00
    let mut all = Vec::new();
    let first = base + 59 * SEC + 900 * MS;
    let last = base + 5 * 60 * SEC + SEC + 100 * MS;
    for p in 1..=15u16 {
        let t = first + (last - first) * (p as Nanos - 1) / 14;
        all.push((t, tcp(SCANNER, TARGET, 40000, p, "S")));
    }
    let mut s = seed_only(2);
    s.detection.bin = 600 * SEC;
    let (rows, _) = run_ip(&all, &s);
    let r = one_row(&rows);
    assert_eq!(r["FirstSeen"], "2026-11-24T23:00:59.900000000Z");
    assert_eq!(r["LastSeen"], "2026-11-24T23:05:01.100000000Z");
    assert_eq!(r["ScanDurationSeconds"], 242);
    assert_eq!(r["AttemptsPerMinute"], 3, "15 / 5 minutes");
    // Within one minute: divide by 1, not 0.
    let quick = syns(SCANNER, &[TARGET], 1..=12, T0, MS);
    let (rows, _) = run_ip(&quick, &seed_only(1));
    assert_eq!(one_row(&rows)["AttemptsPerMinute"], 12);
    assert_eq!(rows[0]["ScanDurationSeconds"], 0);
}

#[test]
fn ports_targeted_lists_the_smallest_fifty() {
    let all = syns(
        SCANNER,
        &[TARGET],
        (1..=120u16).rev().map(|p| p * 10),
        T0,
        MS,
    );
    let (rows, _) = run_ip(&all, &seed_only(2));
    let r = one_row(&rows);
    let ports: Vec<u64> = r["PortsTargeted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(ports, (1..=50u64).map(|p| p * 10).collect::<Vec<_>>());
    assert_eq!(r["UniqueDestPorts"], 120);
}

#[test]
fn home_networks_and_the_allow_list() {
    let scan = |src| syns(src, &[TARGET], 1..=10, T0, MS);
    let (rows, rep) = run_ip(&scan("172.20.1.1"), &seed_only(2));
    assert!(rows.is_empty(), "172.16.0.0/12 is home");
    assert_eq!(rep.agg.home_probes, 10);
    // The internal rule reports it, with the seed rule's columns.
    let with_internal = |threads| {
        let mut s = seed_only(threads);
        s.rules.push("internal".into());
        s
    };
    let (rows, _) = run_ip(&scan("172.20.1.1"), &with_internal(2));
    let r = one_row(&rows);
    assert_eq!(
        (&r["Rule"], &r["Technique"], &r["ScanType"]),
        (&"internal".into(), &"T1046".into(), &"Port Scan".into())
    );
    let (rows, _) = run_ip(&scan("172.32.1.1"), &seed_only(2));
    assert_eq!(
        one_row(&rows)["SourceIP"],
        "172.32.1.1",
        "outside 172.16.0.0/12"
    );
    for home in ["10.1.2.3", "192.168.1.1", "127.0.0.1", "169.254.1.1"] {
        let (rows, _) = run_ip(&scan(home), &seed_only(1));
        assert!(rows.is_empty(), "{home}");
        let (rows, _) = run_ip(&scan(home), &with_internal(1));
        assert_eq!(one_row(&rows)["Rule"], "internal", "{home}");
    }
    // No home networks: the same scan is the seed rule's.
    let mut s = seed_only(2);
    s.detection.home = Vec::new();
    let (rows, _) = run_ip(&scan("10.1.2.3"), &s);
    assert_eq!(one_row(&rows)["Rule"], "seed");
    let mut s = seed_only(2);
    s.detection.allow = vec!["203.0.113.0/24".parse().unwrap()];
    let mut all = scan(SCANNER);
    all.extend(syns("198.51.100.9", &[TARGET], 1..=10, T0 + SEC, MS));
    all.sort_by_key(|(t, _)| *t);
    let (rows, rep) = run_ip(&all, &s);
    assert_eq!(one_row(&rows)["SourceIP"], "198.51.100.9");
    assert_eq!(rep.merge.allow_suppressed, 1);
}

#[test]
fn rows_sort_by_attempts_then_address() {
    let mut all = Vec::new();
    all.extend(syns("2001:db8::9", &["2001:db8:1::1"], 1..=12, T0, MS));
    all.extend(syns("203.0.113.9", &[TARGET], 1..=12, T0, MS));
    all.extend(syns("198.51.100.9", &[TARGET], 1..=12, T0, MS));
    all.extend(syns("203.0.113.200", &[TARGET], 1..=30, T0, MS));
    all.sort_by_key(|(t, _)| *t);
    let (rows, _) = run_ip(&all, &seed_only(3));
    let order: Vec<&str> = rows
        .iter()
        .map(|r| r["SourceIP"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "203.0.113.200",
            "198.51.100.9",
            "203.0.113.9",
            "2001:db8::9"
        ]
    );
}

/// A deterministic mix: scanners, answers, UDP, noise, out-of-order steps.
fn mixed_traffic() -> Vec<(Nanos, Vec<u8>)> {
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = Vec::new();
    let mut t = T0 + 250 * SEC;
    for i in 0..40_000u32 {
        t += (rnd() % 20_000_000) as Nanos; // up to 20 ms apart: spans several bins
        let src = format!("203.0.113.{}", rnd() % 40);
        let dst = format!("192.0.2.{}", rnd() % 30);
        let port = (rnd() % 200) as u16 + 1;
        let jitter = if i % 97 == 0 {
            -((rnd() % 2_000_000_000) as Nanos)
        } else {
            0
        };
        let ts = t + jitter;
        match rnd() % 10 {
            0..=4 => out.push((ts, tcp(&src, &dst, 40000 + (rnd() % 3) as u16, port, "S"))),
            5 => out.push((ts, tcp(&dst, &src, port, 40000 + (rnd() % 3) as u16, "SA"))),
            6 => out.push((ts, tcp(&dst, &src, port, 40000 + (rnd() % 3) as u16, "RA"))),
            7 => out.push((ts, udp(&src, &dst, 50000, port))),
            8 => out.push((ts, udp(&dst, &src, port, 50000))),
            _ => out.push((ts, tcp(&src, &dst, 40000, port, "F"))),
        }
    }
    out
}

#[test]
fn same_rows_whatever_the_threads_and_batch_size() {
    let traffic = mixed_traffic();
    let reference = run_ip(&traffic, &seed_only(1)).0;
    assert!(
        reference.len() >= 10,
        "the mix must report rows: {}",
        reference.len()
    );
    for (threads, batch) in [(1, 1), (2, 7), (4, 512), (3, 64)] {
        let mut s = seed_only(threads);
        s.batch = batch;
        let rows = run_ip(&traffic, &s).0;
        assert_eq!(rows, reference, "{threads} threads, batch {batch}");
    }
}

#[test]
fn sources_spreading_probes_over_ports_stay_under_the_set_memory_cap() {
    // 3000 sources, each 20 probes to ports 3000 apart (20 port chunks of
    // 128 bytes each), and one real scanner; 1 MiB of set memory per shard.
    let mut all = Vec::new();
    let mut t = T0;
    for i in 0..3000u32 {
        let b = i.to_be_bytes();
        let src = format!("198.18.{}.{}", b[2], b[3]);
        for p in 0..20u16 {
            t += 1000;
            all.push((t, tcp(&src, TARGET, 1024, 1 + p * 3000, "S")));
        }
        if i % 10 == 0 {
            all.push((t, tcp(SCANNER, TARGET, 40000, (i / 10) as u16 + 1, "S")));
        }
    }
    let mut s = seed_only(2);
    s.limits.max_set_bytes = 2 << 20;
    let (rows, rep) = run_ip(&all, &s);
    assert!(
        rep.agg.peak_set_bytes <= 2 << 20,
        "{}",
        rep.agg.peak_set_bytes
    );
    assert!(rep.agg.sources_evicted > 0);
    let scanner = rows
        .iter()
        .find(|r| r["SourceIP"] == SCANNER)
        .expect("the scanner's row");
    assert_eq!(scanner["UniqueDestPorts"], 300);
}

#[test]
fn spoofed_flood_stays_under_the_caps_and_keeps_the_scanner() {
    let mut all = Vec::new();
    let mut t = T0;
    for i in 0..200_000u32 {
        t += 1000;
        let b = i.to_be_bytes();
        let spoofed = format!("198.{}.{}.{}", 18 + (b[1] & 1), b[2], b[3]);
        all.push((t, tcp(&spoofed, TARGET, 1024, 80, "S")));
        if i % 1000 == 0 {
            all.push((t, tcp(SCANNER, TARGET, 40000, (i / 1000) as u16 + 1, "S")));
        }
    }
    let mut s = seed_only(2);
    s.limits.max_sources = 20_000;
    s.limits.max_pending = 20_000;
    let (rows, rep) = run_ip(&all, &s);
    assert!(rep.agg.peak_sources <= 20_000, "{}", rep.agg.peak_sources);
    assert!(rep.agg.peak_pending <= 20_000, "{}", rep.agg.peak_pending);
    assert!(rep.agg.sources_evicted > 0 && rep.agg.pending_evicted > 0);
    let r = one_row(&rows);
    assert_eq!(r["SourceIP"], SCANNER);
    assert_eq!(r["UniqueDestPorts"], 200);
}

/// The periodic statistics line reads each aggregator's counters at a
/// tick: failures still waiting in the seed rule's prefetch queue must be
/// counted by then (they were not, so a scanner stayed out of `sources`).
#[test]
fn a_tick_counts_the_failures_still_queued() {
    use picket::aggregate::Aggregator;
    use picket::config::{Detection, Limits};
    use picket::event::{Event, Kind, TCP};
    use picket::rules::RuleSet;
    let det = Detection::default();
    let limits = Limits::default();
    let rules = RuleSet::build(&["seed".into()], &det, &limits).unwrap();
    let mut agg = Aggregator::new(1, det.bin, det.answer_timeout, &limits, &rules);
    let (scanner, target) = (ip(SCANNER), ip(TARGET));
    for p in 1..=3u16 {
        let t = T0 + p as Nanos * MS;
        let mut syn = Event::decoded(t, Kind::Syn, TCP, scanner, target, 40000, p);
        syn.clock = t;
        agg.handle(&syn);
        let mut rst = Event::decoded(t + 1, Kind::Rst, TCP, target, scanner, p, 40000);
        rst.clock = t + 1;
        agg.handle(&rst);
    }
    let s = agg.stats();
    assert_eq!(
        (s.rejected, s.sources_now),
        (3, 0),
        "queued, not yet counted"
    );
    agg.tick(T0 + 10 * MS);
    assert_eq!(agg.stats().sources_now, 1);
}
