//! The common case by fixed offsets: Ethernet II, IPv4 without options or
//! fragmentation, TCP or UDP. Anything else (or anything damaged) returns
//! `None` and takes the general etherparse path, which stays the reference:
//! tests check that both give the same answer on every frame this accepts.

use std::net::{IpAddr, Ipv4Addr};

use super::{fingerprint, http, tcp_kind, Reads, Skip};
use crate::event::{Event, Kind, Tool, TCP, UDP};
use crate::time::Nanos;

const ETH: usize = 14;
const IPV4: usize = 20;
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const RST: u8 = 0x04;

/// The IPv4 header (from its first byte) and the transport bytes of an
/// Ethernet II frame that carries IPv4 with a 20-byte header and is not a
/// fragment; `None` leaves the frame to the general path.
#[inline(always)]
pub(super) fn ipv4_parts(frame: &[u8]) -> Option<(&[u8], &[u8])> {
    // Ethernet II carrying IPv4 with a 20-byte header (version 4, IHL 5).
    let eth = frame.get(..ETH + IPV4)?;
    if eth[12] != 0x08 || eth[13] != 0x00 || eth[ETH] != 0x45 {
        return None;
    }
    let ip = &frame[ETH..];
    // More-fragments flag or an offset: the general path decides.
    if ip[6] & 0x3f != 0 || ip[7] != 0 {
        return None;
    }
    // As the lax parser does: the payload ends at the total length when the
    // frame holds it (Ethernet padding beyond it is not payload).
    let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
    let end = if total >= IPV4 && total <= ip.len() {
        total
    } else {
        ip.len()
    };
    Some((ip, &ip[IPV4..end]))
}

/// A transport header's source and destination ports (its first four
/// bytes, which the caller has checked are there). A function, not a
/// closure: the closure was left as a call per frame.
#[inline(always)]
fn ports(l4: &[u8]) -> (u16, u16) {
    (
        u16::from_be_bytes([l4[0], l4[1]]),
        u16::from_be_bytes([l4[2], l4[3]]),
    )
}

/// A whole TCP header's length and flags byte.
#[inline(always)]
fn tcp_parts(l4: &[u8]) -> Option<(usize, u8)> {
    let header = (*l4.get(12)? >> 4) as usize * 4;
    if header < 20 || l4.len() < header {
        return None;
    }
    Some((header, l4[13]))
}

/// True if `ip` and `l4` (from [`ipv4_parts`]) are a TCP session's
/// segment, which [`from_parts`] skips when session segments are not read.
#[inline(always)]
pub(super) fn is_session(ip: &[u8], l4: &[u8]) -> bool {
    ip[9] == 6 && tcp_parts(l4).is_some_and(|(_, flags)| session_flags(flags))
}

/// ACK without SYN or RST (what `tcp_kind` calls none): a session's
/// segment, most of what a span port carries, told apart with one mask.
#[inline(always)]
fn session_flags(flags: u8) -> bool {
    flags & (SYN | ACK | RST) == ACK
}

/// True if [`ethernet_ipv4`] would skip `frame` as a TCP session's segment
/// when session segments are not read (what `decode_to` tells first).
pub fn is_session_segment(frame: &[u8]) -> bool {
    ipv4_parts(frame).is_some_and(|(ip, l4)| is_session(ip, l4))
}

/// Always inlined into the capture loop: when the RST split made it grow
/// past the inliner's limit, the call per frame slowed span replay by a
/// third.
#[inline(always)]
pub fn ethernet_ipv4(frame: &[u8], ts: Nanos, reads: Reads) -> Option<Result<Event, Skip>> {
    let (ip, l4) = ipv4_parts(frame)?;
    from_parts(ip, l4, ts, reads)
}

/// [`ethernet_ipv4`] once [`ipv4_parts`] has found the headers.
#[inline(always)]
pub(super) fn from_parts(
    ip: &[u8],
    l4: &[u8],
    ts: Nanos,
    reads: Reads,
) -> Option<Result<Event, Skip>> {
    let (kind, proto, (sport, dport)) = match ip[9] {
        6 => {
            let (header, flags) = tcp_parts(l4)?;
            if !session_flags(flags) {
                let kind = tcp_kind(flags)?;
                (kind, TCP, ports(l4))
            } else if !reads.session_segments {
                return Some(Err(Skip::TcpSession));
            } else {
                // A session's segment: a few compares, unless it is
                // nmap's ACK probe or HTTP's.
                let (sport, dport) = ports(l4);
                let data = l4.len() - header;
                // Pure ACKs without options first: most session
                // segments carry data, timestamps or PSH.
                if flags & !0x01 == 0x10
                    && header == 20
                    && data == 0
                    && fingerprint::nmap_ack(
                        flags,
                        ip[6] & 0x40 != 0,
                        u16::from_be_bytes([l4[14], l4[15]]),
                        header,
                        data,
                    )
                {
                    let src = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
                    let dst = IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
                    let mut ev = Event::decoded(ts, Kind::AckProbe, TCP, src, dst, sport, dport);
                    ev.tool = Tool::Nmap;
                    return Some(Ok(ev));
                }
                if data == 0 || !(http::is_http_port(sport) || http::is_http_port(dport)) {
                    return Some(Err(Skip::TcpSession));
                }
                match http::classify(&l4[header..], sport, dport) {
                    Some(kind) => (kind, TCP, (sport, dport)),
                    None => return Some(Err(Skip::TcpSession)),
                }
            }
        }
        17 if l4.len() >= 8 => (Kind::Udp, UDP, ports(l4)),
        _ => return None,
    };
    // Addresses only now: most segments of a span port are sessions,
    // skipped above.
    let src = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
    let mut ev = Event::decoded(ts, kind, proto, src, dst, sport, dport);
    if reads.tools && matches!(kind, Kind::Syn | Kind::Stealth(_)) {
        ev.tool = fingerprint::of(kind, ip, l4);
    }
    Some(Ok(ev))
}
