//! Decode stage: a captured frame in, an [`Event`] (or the reason for none) out.
//!
//! Link layers are peeled in [`link`]; IP and transport headers are read with
//! etherparse's zero-copy slices, in their lax form so that frames cut short
//! by a snap length still yield their headers.

pub mod fast;
pub mod fingerprint;
pub mod http;
pub mod link;

use etherparse::err::ipv6_exts;
use etherparse::{Icmpv4Slice, Icmpv6Slice, IpNumber, LaxIpSlice, TcpHeaderSlice, UdpHeaderSlice};

pub use link::LinkType;

use crate::event::{Event, Kind, Stealth, Tool, ICMP, ICMPV6, TCP, UDP};
use crate::time::Nanos;

/// Why a frame produced no event. The first group is damage (counted as
/// decode failures); the rest is traffic the detector has no use for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Skip {
    /// The link-layer header is cut short.
    TruncatedLink,
    /// The IP header is cut short or malformed.
    BadIp,
    /// The TCP/UDP/ICMP header is cut short or malformed.
    BadTransport,
    /// An ICMP unreachable whose quoted packet cannot be read.
    BadIcmpQuote,
    /// Not IP (ARP, LLDP, ...).
    NotIp,
    /// A later IP fragment: it carries no ports.
    LaterFragment,
    /// An IP protocol other than TCP, UDP, ICMP.
    OtherProtocol,
    /// TCP that is neither a probe nor an answer (ACK, data, FIN+ACK).
    TcpSession,
    /// ICMP other than echo request / reply and destination unreachable.
    OtherIcmp,
    /// An ICMP unreachable about a packet without ports (a protocol other
    /// than TCP/UDP, a later fragment): well formed, but no attempt.
    UnreachableNoPorts,
}

impl Skip {
    pub const ALL: [Skip; 10] = [
        Skip::TruncatedLink,
        Skip::BadIp,
        Skip::BadTransport,
        Skip::BadIcmpQuote,
        Skip::NotIp,
        Skip::LaterFragment,
        Skip::OtherProtocol,
        Skip::TcpSession,
        Skip::OtherIcmp,
        Skip::UnreachableNoPorts,
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub fn name(self) -> &'static str {
        match self {
            Skip::TruncatedLink => "truncated_link",
            Skip::BadIp => "bad_ip",
            Skip::BadTransport => "bad_transport",
            Skip::BadIcmpQuote => "bad_icmp_quote",
            Skip::NotIp => "not_ip",
            Skip::LaterFragment => "later_fragment",
            Skip::OtherProtocol => "other_protocol",
            Skip::TcpSession => "tcp_session",
            Skip::OtherIcmp => "other_icmp",
            Skip::UnreachableNoPorts => "unreachable_no_ports",
        }
    }

    /// Damaged input, as opposed to traffic that is simply not of interest.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Skip::TruncatedLink | Skip::BadIp | Skip::BadTransport | Skip::BadIcmpQuote
        )
    }
}

/// Decode one frame captured at `ts`. `Event::clock` is left equal to `ts`;
/// the capture stage owns the clock.
#[inline]
pub fn decode(link: LinkType, frame: &[u8], ts: Nanos) -> Result<Event, Skip> {
    decode_for(link, frame, ts, Reads::ALL)
}

/// What the rules that are on read from frames besides their attempts:
/// the capture stage's decode looks for no more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reads {
    /// What TCP session segments carry (nmap's ACK probes, HTTP): when
    /// false, the common case skips a session's segment at once.
    pub session_segments: bool,
    /// The tool a probe's header fields point to (`Event::tool`): when
    /// false, the fast path leaves it unknown.
    pub tools: bool,
}

impl Reads {
    pub const ALL: Reads = Reads {
        session_segments: true,
        tools: true,
    };
}

/// [`decode`] for rules that read only `reads` (frames the fast path
/// leaves to the general one are decoded in full).
#[inline(always)]
pub fn decode_for(link: LinkType, frame: &[u8], ts: Nanos, reads: Reads) -> Result<Event, Skip> {
    if link == LinkType::Ethernet {
        if let Some(decided) = fast::ethernet_ipv4(frame, ts, reads) {
            return decided;
        }
    }
    decode_general(link, frame, ts)
}

/// Where the capture stage's decode goes: an event, or the reason for none.
pub trait Sink {
    fn event(&mut self, ev: Event);
    fn skip(&mut self, why: Skip);
}

/// [`decode_for`], handing the outcome to `sink`. Each way out calls the
/// sink itself, so a session's segment that no rule reads (most of what
/// a span port carries) costs a few compares: through the returned
/// `Result`, a skip shared its exit with the events and paid for writing
/// one.
#[inline(always)]
pub fn decode_to<S: Sink>(link: LinkType, frame: &[u8], ts: Nanos, reads: Reads, sink: &mut S) {
    if link == LinkType::Ethernet {
        if let Some((ip, l4)) = fast::ipv4_parts(frame) {
            if !reads.session_segments && fast::is_session(ip, l4) {
                return sink.skip(Skip::TcpSession);
            }
            if let Some(decided) = fast::from_parts(ip, l4, ts, reads) {
                return match decided {
                    Ok(ev) => sink.event(ev),
                    Err(why) => sink.skip(why),
                };
            }
        }
    }
    match decode_general(link, frame, ts) {
        Ok(ev) => sink.event(ev),
        Err(why) => sink.skip(why),
    }
}

/// The general decoder (every link type, etherparse's lax slices): the
/// reference the fast path is checked against.
pub fn decode_general(link: LinkType, frame: &[u8], ts: Nanos) -> Result<Event, Skip> {
    let ip = link::ip_payload(link, frame)?;
    let (ip, ext_err) = LaxIpSlice::from_slice(ip).map_err(|_| Skip::BadIp)?;
    if is_malformed(&ext_err) {
        return Err(Skip::BadIp);
    }
    let payload = ip.payload();
    if is_later_fragment(&ip) {
        return Err(Skip::LaterFragment);
    }
    let (src, dst) = (ip.source_addr(), ip.destination_addr());
    let bytes = payload.payload;
    let event = |kind, proto, sport, dport| Event::decoded(ts, kind, proto, src, dst, sport, dport);
    match payload.ip_number {
        IpNumber::TCP => {
            let tcp = TcpHeaderSlice::from_slice(bytes).map_err(|_| Skip::BadTransport)?;
            let flags = tcp.slice()[13];
            let (sport, dport) = (tcp.source_port(), tcp.destination_port());
            let Some(kind) = tcp_kind(flags) else {
                let data = bytes.get(tcp.slice().len()..).unwrap_or(&[]);
                let df = match &ip {
                    LaxIpSlice::Ipv4(v4) => v4.header().dont_fragment(),
                    LaxIpSlice::Ipv6(_) => false,
                };
                let header = tcp.slice().len();
                if fingerprint::nmap_ack(flags, df, tcp.window_size(), header, data.len()) {
                    let mut ev = event(Kind::AckProbe, TCP, sport, dport);
                    ev.tool = Tool::Nmap;
                    return Ok(ev);
                }
                return http::classify(data, sport, dport)
                    .map(|kind| event(kind, TCP, sport, dport))
                    .ok_or(Skip::TcpSession);
            };
            let mut ev = event(kind, TCP, sport, dport);
            if matches!(kind, Kind::Syn | Kind::Stealth(_)) {
                let header = match &ip {
                    LaxIpSlice::Ipv4(v4) => v4.header().slice(),
                    LaxIpSlice::Ipv6(v6) => v6.header().slice(),
                };
                ev.tool = fingerprint::of(kind, header, tcp.slice());
            }
            Ok(ev)
        }
        IpNumber::UDP => {
            let udp = UdpHeaderSlice::from_slice(bytes).map_err(|_| Skip::BadTransport)?;
            Ok(event(
                Kind::Udp,
                UDP,
                udp.source_port(),
                udp.destination_port(),
            ))
        }
        IpNumber::ICMP => {
            let icmp = Icmpv4Slice::from_slice(bytes).map_err(|_| Skip::BadTransport)?;
            match icmp.type_u8() {
                8 => Ok(fingerprint::echo(
                    event(Kind::EchoRequest, ICMP, 0, 0),
                    icmp.payload(),
                )),
                0 => Ok(event(Kind::EchoReply, ICMP, 0, 0)),
                3 => quoted_attempt(icmp.payload(), ts),
                _ => Err(Skip::OtherIcmp),
            }
        }
        IpNumber::IPV6_ICMP => {
            let icmp = Icmpv6Slice::from_slice(bytes).map_err(|_| Skip::BadTransport)?;
            match icmp.type_u8() {
                128 => Ok(fingerprint::echo(
                    event(Kind::EchoRequest, ICMPV6, 0, 0),
                    icmp.payload(),
                )),
                129 => Ok(event(Kind::EchoReply, ICMPV6, 0, 0)),
                1 => quoted_attempt(icmp.payload(), ts),
                _ => Err(Skip::OtherIcmp),
            }
        }
        _ => Err(Skip::OtherProtocol),
    }
}

/// Classify TCP by its flags byte: SYN, ACK and RST decide; FIN, PSH and
/// URG only tell stealth probes apart. Extra flags (FIN, PSH, URG, ECE,
/// CWR) beside SYN do not change a SYN-only probe.
#[inline(always)]
pub(crate) fn tcp_kind(flags: u8) -> Option<Kind> {
    let (syn, ack, rst) = (flags & 0x02 != 0, flags & 0x10 != 0, flags & 0x04 != 0);
    match (syn, ack, rst) {
        (_, true, true) => Some(Kind::Rst),
        (_, false, true) => Some(Kind::RstNoAck),
        (true, false, false) => Some(Kind::Syn),
        (true, true, false) => Some(Kind::SynAck),
        (false, false, false) => Some(Kind::Stealth(Stealth::from_flags(flags))),
        (false, true, false) => None,
    }
}

/// Only the first fragment (offset 0) carries the transport header.
#[inline]
fn is_later_fragment(ip: &LaxIpSlice) -> bool {
    match ip {
        LaxIpSlice::Ipv4(v4) => v4.header().fragments_offset().value() != 0,
        LaxIpSlice::Ipv6(v6) => {
            let exts = v6.extensions();
            exts_later_fragment(exts.first_header(), exts.slice())
        }
    }
}

/// Whether an IPv6 extension chain holds a fragment header with a non-zero
/// offset. Walks the bytes the lax parser accepted, with picket's own bounds
/// checks: etherparse's extension iterator (0.18 to 0.21) trusts the chain
/// and reads past the frame when the chain names Hop-by-Hop twice, which the
/// lax parser reports as an error but still hands over.
fn exts_later_fragment(first: Option<IpNumber>, mut chain: &[u8]) -> bool {
    let Some(mut next) = first else {
        return false;
    };
    // Every header is at least 8 bytes long, so this ends.
    while let [next_header, len, rest @ ..] = chain {
        let header_len = match next {
            IpNumber::IPV6_HEADER_HOP_BY_HOP
            | IpNumber::IPV6_ROUTE_HEADER
            | IpNumber::IPV6_DESTINATION_OPTIONS => (*len as usize + 1) * 8,
            IpNumber::IPV6_FRAGMENTATION_HEADER => {
                // RFC 8200: the offset is the top 13 bits of bytes 2-3.
                let Some(offset) = rest.get(..2) else {
                    return false;
                };
                if u16::from_be_bytes([offset[0], offset[1]]) >> 3 != 0 {
                    return true;
                }
                8
            }
            IpNumber::AUTHENTICATION_HEADER => (*len as usize + 2) * 4,
            _ => return false,
        };
        next = IpNumber(*next_header);
        let Some(after) = chain.get(header_len..) else {
            return false;
        };
        chain = after;
    }
    false
}

/// A malformed extension chain (Hop-by-Hop anywhere but first, a bad
/// authentication header) as opposed to one cut short by a snap length,
/// which the lax parser reads as far as it goes.
#[inline]
fn is_malformed(ext_err: &Option<(ipv6_exts::HeaderSliceError, etherparse::err::Layer)>) -> bool {
    matches!(ext_err, Some((ipv6_exts::HeaderSliceError::Content(_), _)))
}

/// The attempt an ICMP unreachable quotes: its IP header and the first
/// 8 bytes of its transport header, which hold both ports.
fn quoted_attempt(quote: &[u8], ts: Nanos) -> Result<Event, Skip> {
    let (ip, ext_err) = LaxIpSlice::from_slice(quote).map_err(|_| Skip::BadIcmpQuote)?;
    if is_malformed(&ext_err) {
        return Err(Skip::BadIcmpQuote);
    }
    let payload = ip.payload();
    let proto = match payload.ip_number {
        IpNumber::TCP => TCP,
        IpNumber::UDP => UDP,
        _ => return Err(Skip::UnreachableNoPorts),
    };
    if is_later_fragment(&ip) {
        return Err(Skip::UnreachableNoPorts);
    }
    let ports = payload.payload.get(..4).ok_or(Skip::BadIcmpQuote)?;
    Ok(Event::decoded(
        ts,
        Kind::Unreachable,
        proto,
        ip.source_addr(),
        ip.destination_addr(),
        u16::from_be_bytes([ports[0], ports[1]]),
        u16::from_be_bytes([ports[2], ports[3]]),
    ))
}
