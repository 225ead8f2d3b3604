//! The small plain types that flow between pipeline stages.
//!
//! `decode` turns a captured frame into an [`Event`]; `shard` routes events
//! to aggregators in batches; attempt tracking (`track`) resolves each
//! attempt, named by its [`FlowKey`], to an [`Outcome`], which the rules
//! observe.

use std::net::IpAddr;

use crate::time::Nanos;

/// What one packet means to the detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// TCP with SYN set and ACK, RST clear: opens an attempt `src -> dst`.
    Syn,
    /// TCP with none of SYN, ACK, RST (FIN, NULL, XMAS probes): an attempt
    /// that no legitimate client makes, so it always counts as failed.
    Stealth(Stealth),
    /// TCP SYN+ACK `src -> dst`: answers `dst`'s SYN attempt.
    SynAck,
    /// TCP RST+ACK `src -> dst`: rejects `dst`'s attempt.
    Rst,
    /// TCP RST without ACK `src -> dst`: rejects `dst`'s attempt like any
    /// RST; it is also how a host answers a segment that carries an ACK
    /// for a connection it does not have (RFC 9293: the reset then takes
    /// its sequence number from that ACK and has no ACK of its own), such
    /// as an ACK probe (nmap -sA, -PA).
    RstNoAck,
    /// A UDP datagram: starts an attempt or answers one, depending on flow state.
    Udp,
    /// ICMP destination unreachable. The event's tuple is the *quoted*
    /// packet's, so it names the rejected attempt in its own direction.
    Unreachable,
    /// ICMP or ICMPv6 echo request (ping sweeps; not part of the seed rule).
    EchoRequest,
    /// ICMP or ICMPv6 echo reply `src -> dst`: `src` answered `dst`'s ping.
    EchoReply,
    /// A bare ACK or FIN+ACK as nmap's ACK, window and Maimon scans send
    /// it (decode's `fingerprint`): only the fingerprint votes on it.
    AckProbe,
    /// A TCP segment to port 80 or 8080 that starts an HTTP request
    /// (`src` is the client).
    HttpRequest(HttpRequest),
    /// A TCP segment from port 80 or 8080 that starts an HTTP response
    /// with this status (`dst` is the client).
    HttpStatus(u16),
}

/// What an HTTP request's first segment shows (decode's `http`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HttpRequest {
    /// 1 + the index of the listed sensitive path it asks for; 0 for none.
    pub path: u8,
    /// 1 + the index of the listed scanner its User-Agent names; 0 for none.
    pub agent: u8,
}

/// Which stealth probe a segment without SYN, ACK or RST is, by the flags
/// it has (nmap's names: -sF, -sN, -sX).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stealth {
    /// FIN alone (PSH or URG may come with it, not both).
    Fin,
    /// No flag at all.
    Null,
    /// FIN, PSH and URG: "lit up like a Christmas tree".
    Xmas,
    /// PSH and/or URG without FIN: no tool's default, still no client's.
    Other,
}

impl Stealth {
    pub const ALL: [Stealth; 4] = [Stealth::Fin, Stealth::Null, Stealth::Xmas, Stealth::Other];

    /// From the TCP flags byte (SYN, ACK and RST known clear).
    #[inline]
    pub fn from_flags(flags: u8) -> Stealth {
        const FIN: u8 = 0x01;
        const PSH: u8 = 0x08;
        const URG: u8 = 0x20;
        match flags & (FIN | PSH | URG) {
            0 => Stealth::Null,
            f if f == FIN | PSH | URG => Stealth::Xmas,
            f if f & FIN != 0 => Stealth::Fin,
            _ => Stealth::Other,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Stealth::Fin => "FIN",
            Stealth::Null => "NULL",
            Stealth::Xmas => "XMAS",
            Stealth::Other => "PSH/URG",
        }
    }
}

/// The scanning tool a probe's header fields point to (decode's
/// `fingerprint`), where they point to one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tool {
    #[default]
    Unknown,
    Nmap,
    Masscan,
    Zmap,
    Hping3,
}

impl Tool {
    /// Every tool that can be named, in vote-table order (`index`).
    pub const NAMED: [Tool; 4] = [Tool::Nmap, Tool::Masscan, Tool::Zmap, Tool::Hping3];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Unknown => "",
            Tool::Nmap => "nmap",
            Tool::Masscan => "masscan",
            Tool::Zmap => "zmap",
            Tool::Hping3 => "hping3",
        }
    }

    /// Its place in `NAMED` (`None` for `Unknown`).
    #[inline]
    pub fn index(self) -> Option<usize> {
        match self {
            Tool::Unknown => None,
            Tool::Nmap => Some(0),
            Tool::Masscan => Some(1),
            Tool::Zmap => Some(2),
            Tool::Hping3 => Some(3),
        }
    }

    /// The evidence is a value the tool computes (masscan's IP ID from the
    /// target and sequence number, zmap's constant 54321), which a chance
    /// packet matches once in 65536; the others' are default window sizes
    /// and options, which a hand-made packet can share.
    pub fn exact(self) -> bool {
        matches!(self, Tool::Masscan | Tool::Zmap)
    }
}

/// Transport protocol numbers as on the wire.
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const ICMP: u8 = 1;
pub const ICMPV6: u8 = 58;

/// One decoded packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The packet's own capture timestamp.
    pub ts: Nanos,
    /// The sensor clock when this packet was read: the newest timestamp seen
    /// so far, including this one. Set by the capture stage, so every shard
    /// expires state at the same capture time whatever the batching.
    pub clock: Nanos,
    pub kind: Kind,
    /// IP protocol of the tuple (for `Unreachable`, of the quoted packet).
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    /// For a probe (SYN or stealth), the tool its headers point to.
    pub tool: Tool,
}

impl Event {
    /// A freshly decoded event: its clock is its own timestamp until the
    /// capture stage stamps the sensor clock on it.
    #[inline]
    pub fn decoded(
        ts: Nanos,
        kind: Kind,
        proto: u8,
        src: IpAddr,
        dst: IpAddr,
        sport: u16,
        dport: u16,
    ) -> Event {
        Event {
            ts,
            clock: ts,
            kind,
            proto,
            src,
            dst,
            sport,
            dport,
            tool: Tool::Unknown,
        }
    }

    /// The 5-tuple in the packet's own direction.
    pub fn key(&self) -> FlowKey {
        FlowKey {
            proto: self.proto,
            src: self.src,
            sport: self.sport,
            dst: self.dst,
            dport: self.dport,
        }
    }
}

/// A directed 5-tuple: one attempt is identified by its initiator's tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub proto: u8,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
}

impl Default for FlowKey {
    fn default() -> Self {
        let unspecified = IpAddr::from([0, 0, 0, 0]);
        FlowKey {
            proto: 0,
            src: unspecified,
            sport: 0,
            dst: unspecified,
            dport: 0,
        }
    }
}

impl FlowKey {
    /// The same flow seen from the other end.
    pub fn reversed(&self) -> FlowKey {
        FlowKey {
            proto: self.proto,
            src: self.dst,
            sport: self.dport,
            dst: self.src,
            dport: self.sport,
        }
    }

    /// One name for both directions of a flow (the smaller endpoint first).
    pub fn canonical(&self) -> FlowKey {
        if (self.src, self.sport) <= (self.dst, self.dport) {
            *self
        } else {
            self.reversed()
        }
    }
}

/// How an attempt ended (detection contract, section 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// SYN-ACK or UDP reply within the answer timeout.
    Answered,
    /// RST or ICMP destination unreachable within the answer timeout.
    Rejected,
    /// Nothing within the answer timeout (or the input ended first).
    Unanswered,
}

/// One attempt, resolved: what attempt tracking hands the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The initiator's 5-tuple.
    pub key: FlowKey,
    /// Timestamp of the attempt's first packet.
    pub first: Nanos,
    /// Capture time at which the outcome became known: the sensor clock
    /// when the answer was read (its own timestamp, unless it came out of
    /// time order), or first + answer timeout for an unanswered attempt
    /// (earlier if it was given up to free memory or the input ended).
    pub settled: Nanos,
    pub verdict: Verdict,
    /// A FIN/NULL/XMAS probe (never answered, so always failed).
    pub stealth: bool,
    /// The tool its first packet's header fields point to.
    pub tool: Tool,
}

impl Kind {
    /// Events that are not part of an attempt: rules see them as they are.
    #[inline]
    pub fn is_attempt_free(self) -> bool {
        matches!(
            self,
            Kind::EchoRequest
                | Kind::EchoReply
                | Kind::AckProbe
                | Kind::HttpRequest(_)
                | Kind::HttpStatus(_)
        )
    }
}

impl Outcome {
    /// Rejected or unanswered: the packet analogue of a firewall deny.
    #[inline]
    pub fn failed(&self) -> bool {
        self.verdict != Verdict::Answered
    }
}
