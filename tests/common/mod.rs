//! Test traffic: packets built with etherparse, wrapped in any link layer,
//! written as pcap files or run through the pipeline in memory.
#![allow(dead_code)]

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use etherparse::{icmpv4, icmpv6, Icmpv4Type, Icmpv6Type, PacketBuilder};
use picket::capture::memory::MemorySource;
use picket::decode::LinkType;
use picket::output::{Format, RowWriter};
use picket::pipeline::{self, Settings};
use picket::stats::Report;
use picket::time::{Nanos, Precision, NANOS_PER_SEC};

pub const SEC: Nanos = NANOS_PER_SEC;
pub const MS: Nanos = 1_000_000;
/// 2026-11-24T20:00:00Z: a bin boundary (multiple of 300 s).
pub const T0: Nanos = 1_795_550_400 * SEC;

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn v4(a: IpAddr) -> [u8; 4] {
    match a {
        IpAddr::V4(a) => a.octets(),
        _ => panic!("mixed families"),
    }
}

fn v6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(a) => a.octets(),
        _ => panic!("mixed families"),
    }
}

/// A raw IP packet (no link layer) carrying TCP with `flags` from "SAFRPU".
pub fn tcp(src: &str, dst: &str, sport: u16, dport: u16, flags: &str) -> Vec<u8> {
    let (s, d) = (ip(src), ip(dst));
    let b = match s {
        IpAddr::V4(_) => PacketBuilder::ipv4(v4(s), v4(d), 64),
        IpAddr::V6(_) => PacketBuilder::ipv6(v6(s), v6(d), 64),
    };
    let mut t = b.tcp(sport, dport, 1000, 1024);
    for f in flags.chars() {
        t = match f {
            'S' => t.syn(),
            'A' => t.ack(1),
            'F' => t.fin(),
            'R' => t.rst(),
            'P' => t.psh(),
            'U' => t.urg(0),
            other => panic!("flag {other}"),
        };
    }
    let mut out = Vec::new();
    t.write(&mut out, &[]).unwrap();
    out
}

/// A raw IP packet carrying a TCP segment (PSH, ACK) with `data`.
pub fn tcp_data(src: &str, dst: &str, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let (s, d) = (ip(src), ip(dst));
    let b = match s {
        IpAddr::V4(_) => PacketBuilder::ipv4(v4(s), v4(d), 64),
        IpAddr::V6(_) => PacketBuilder::ipv6(v6(s), v6(d), 64),
    };
    let t = b.tcp(sport, dport, 1000, 64240).psh().ack(1);
    let mut out = Vec::new();
    t.write(&mut out, data).unwrap();
    out
}

pub fn udp(src: &str, dst: &str, sport: u16, dport: u16) -> Vec<u8> {
    let (s, d) = (ip(src), ip(dst));
    let b = match s {
        IpAddr::V4(_) => PacketBuilder::ipv4(v4(s), v4(d), 64),
        IpAddr::V6(_) => PacketBuilder::ipv6(v6(s), v6(d), 64),
    };
    let mut out = Vec::new();
    b.udp(sport, dport).write(&mut out, b"probe").unwrap();
    out
}

/// ICMP(v6) destination unreachable from `from`, quoting `original`.
pub fn unreachable(from: &str, to: &str, original: &[u8]) -> Vec<u8> {
    let (s, d) = (ip(from), ip(to));
    // Routers quote the IP header and 8 bytes of transport.
    let ihl = if original[0] >> 4 == 4 {
        (original[0] & 0xf) as usize * 4
    } else {
        40
    };
    let quote = &original[..(ihl + 8).min(original.len())];
    let mut out = Vec::new();
    match s {
        IpAddr::V4(_) => PacketBuilder::ipv4(v4(s), v4(d), 64)
            .icmpv4(Icmpv4Type::DestinationUnreachable(
                icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut out, quote)
            .unwrap(),
        IpAddr::V6(_) => PacketBuilder::ipv6(v6(s), v6(d), 64)
            .icmpv6(Icmpv6Type::DestinationUnreachable(
                icmpv6::DestUnreachableCode::Port,
            ))
            .write(&mut out, quote)
            .unwrap(),
    }
    out
}

pub fn echo_request(src: &str, dst: &str) -> Vec<u8> {
    echo(src, dst, false)
}

pub fn echo_reply(src: &str, dst: &str) -> Vec<u8> {
    echo(src, dst, true)
}

/// An ICMP or ICMPv6 echo request, or reply, by the addresses' family.
fn echo(src: &str, dst: &str, reply: bool) -> Vec<u8> {
    let (s, d) = (ip(src), ip(dst));
    let mut out = Vec::new();
    match (s, reply) {
        (IpAddr::V4(_), false) => PacketBuilder::ipv4(v4(s), v4(d), 64)
            .icmpv4_echo_request(1, 1)
            .write(&mut out, b"ping"),
        (IpAddr::V4(_), true) => PacketBuilder::ipv4(v4(s), v4(d), 64)
            .icmpv4_echo_reply(1, 1)
            .write(&mut out, b"ping"),
        (IpAddr::V6(_), false) => PacketBuilder::ipv6(v6(s), v6(d), 64)
            .icmpv6_echo_request(1, 1)
            .write(&mut out, b"ping"),
        (IpAddr::V6(_), true) => PacketBuilder::ipv6(v6(s), v6(d), 64)
            .icmpv6_echo_reply(1, 1)
            .write(&mut out, b"ping"),
    }
    .unwrap();
    out
}

fn ethertype(ip_packet: &[u8]) -> [u8; 2] {
    if ip_packet[0] >> 4 == 6 {
        [0x86, 0xdd]
    } else {
        [0x08, 0x00]
    }
}

/// Ethernet II around an IP packet.
pub fn ether(ip_packet: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    f.extend_from_slice(&ethertype(ip_packet));
    f.extend_from_slice(ip_packet);
    f
}

/// Ethernet II with the given tag protocol identifiers stacked outermost first.
pub fn ether_tagged(tpids: &[u16], ip_packet: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    for (i, tpid) in tpids.iter().enumerate() {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&(100 + i as u16).to_be_bytes()); // VLAN id
    }
    f.extend_from_slice(&ethertype(ip_packet));
    f.extend_from_slice(ip_packet);
    f
}

/// Linux cooked capture v1.
pub fn sll(ip_packet: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    f.extend_from_slice(&ethertype(ip_packet));
    f.extend_from_slice(ip_packet);
    f
}

/// Linux cooked capture v2.
pub fn sll2(ip_packet: &[u8]) -> Vec<u8> {
    let mut f = ethertype(ip_packet).to_vec();
    f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
    f.extend_from_slice(ip_packet);
    f
}

/// BSD loopback: address family in host (little-endian) byte order.
pub fn null(ip_packet: &[u8]) -> Vec<u8> {
    let af: u32 = if ip_packet[0] >> 4 == 6 { 30 } else { 2 };
    let mut f = af.to_le_bytes().to_vec();
    f.extend_from_slice(ip_packet);
    f
}

/// A classic pcap file image.
pub fn pcap_bytes(linktype: u32, nano: bool, records: &[(Nanos, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let magic: u32 = if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    out.extend_from_slice(&magic.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    for (ts, data) in records {
        let secs = ts.div_euclid(SEC) as u32;
        let sub = ts.rem_euclid(SEC);
        let sub = if nano { sub } else { sub / 1000 } as u32;
        out.extend_from_slice(&secs.to_le_bytes());
        out.extend_from_slice(&sub.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

/// Records of Ethernet frames from raw IP packets.
pub fn ethernet_records(packets: &[(Nanos, Vec<u8>)]) -> Vec<(Nanos, Vec<u8>)> {
    packets.iter().map(|(t, p)| (*t, ether(p))).collect()
}

#[derive(Clone, Default)]
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Run raw IP packets through the whole pipeline in memory; rows as JSON.
pub fn run_ip(
    packets: &[(Nanos, Vec<u8>)],
    settings: &Settings,
) -> (Vec<serde_json::Value>, Report) {
    let mut src = MemorySource::new(LinkType::Raw, packets.to_vec());
    let buf = SharedBuf::default();
    let writer = RowWriter::new(Box::new(buf.clone()), Format::Json, Precision::Nano);
    let report = pipeline::run(&mut src, settings, writer, &AtomicBool::new(false)).unwrap();
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let rows = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (rows, report)
}

pub fn settings(threads: usize) -> Settings {
    Settings {
        threads,
        ..Settings::default()
    }
}

/// A port scan from `src` rejected by RSTs at `t`, then a quiet packet two
/// seconds later: the capture clock passes the early alert and every
/// aggregator is told so (a tick a second of capture time).
pub fn rejected_scan(src: &str, t: Nanos) -> Vec<(Nanos, Vec<u8>)> {
    let mut pk = Vec::new();
    for p in 1..=12u16 {
        let at = t + Nanos::from(p) * MS;
        pk.push((at, tcp(src, "192.0.2.1", 40000, p, "S")));
        pk.push((at + MS / 2, tcp("192.0.2.1", src, p, 40000, "RA")));
    }
    pk.push((t + 2 * SEC, udp("192.0.2.50", "192.0.2.51", 5000, 5001)));
    ethernet_records(&pk)
}

/// Wait for `child` (a picket) to exit by itself within `limit` (killed
/// and failed otherwise, saying `after` what); what it wrote.
pub fn exited_within(
    mut child: std::process::Child,
    limit: std::time::Duration,
    after: &str,
) -> std::process::Output {
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("picket did not stop within {limit:?} {after}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
