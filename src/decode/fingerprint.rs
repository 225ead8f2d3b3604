//! Which scanner sent a probe, from the header fields each tool sets its
//! own way. Facts from the tools' sources and the bundled captures
//! (pcaps/README.md):
//!
//! - masscan: IPv4 identification = the low 16 bits of (target address
//!   XOR target port XOR sequence number), window 1024;
//! - zmap: IPv4 identification 54321, window 65535;
//! - nmap's raw scans (-sS, -sF, -sN, -sX): window 1024, 2048, 3072 or
//!   4096, IPv4 without DF; a SYN carries exactly one option, MSS 1460, a
//!   stealth probe none;
//! - hping3: window 512, no options, IPv4 without DF;
//! - nmap's host discovery (-sn -PE): an ICMP or ICMPv6 echo request with
//!   no data (Snort's "ICMP PING NMAP" signature, dsize 0; ping sends 56
//!   bytes, Windows 32; `hping3 -1` sends none either, and is named nmap).
//!
//! A connect() scan (nmap -sT) is the operating system's SYN and is not
//! named, nor is UDP. Called for probes only, once per probe; nmap's ACK
//! probes (`nmap_ack`) become events of their own for this alone.

use crate::event::{Event, Kind, Tool};

/// The fields a fingerprint reads, from the IP and TCP headers.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    /// IPv4 identification and DF; `None` for IPv6.
    pub v4: Option<(u16, bool)>,
    /// IPv4 destination address (0 for IPv6).
    pub dst_v4: u32,
    pub dport: u16,
    pub seq: u32,
    pub window: u16,
    /// The TCP options bytes.
    pub options: [u8; 4],
    pub options_len: usize,
}

const MSS_1460: [u8; 4] = [2, 4, 0x05, 0xb4];

/// The tool `p`, a probe of kind `kind`, points to.
#[inline]
pub fn tool(kind: Kind, p: &Probe) -> Tool {
    let syn = matches!(kind, Kind::Syn);
    if !syn && !matches!(kind, Kind::Stealth(_)) {
        return Tool::Unknown;
    }
    if let Some((id, _)) = p.v4 {
        let masscan = (p.dst_v4 ^ u32::from(p.dport) ^ p.seq) as u16;
        if id == masscan && p.window == 1024 {
            return Tool::Masscan;
        }
        if id == 54321 && p.window == 65535 {
            return Tool::Zmap;
        }
    }
    let df = matches!(p.v4, Some((_, true)));
    if df {
        return Tool::Unknown;
    }
    let only_mss = p.options_len == 4 && p.options == MSS_1460;
    match p.window {
        1024 | 2048 | 3072 | 4096 if (syn && only_mss) || (!syn && p.options_len == 0) => {
            Tool::Nmap
        }
        512 if p.options_len == 0 => Tool::Hping3,
        _ => Tool::Unknown,
    }
}

/// Read a probe's fields: `ip` from its IP header on (IPv4 or IPv6), `tcp`
/// its TCP header with options (the caller checked the header length).
#[inline]
pub fn read(ip: &[u8], tcp: &[u8]) -> Option<Probe> {
    let header = (*tcp.get(12)? >> 4) as usize * 4;
    let options = tcp.get(20..header)?;
    let mut first = [0u8; 4];
    let n = options.len().min(4);
    first[..n].copy_from_slice(&options[..n]);
    let (v4, dst_v4) = match ip.first()? >> 4 {
        4 => {
            let h = ip.get(..20)?;
            let id = u16::from_be_bytes([h[4], h[5]]);
            let df = h[6] & 0x40 != 0;
            (
                Some((id, df)),
                u32::from_be_bytes([h[16], h[17], h[18], h[19]]),
            )
        }
        _ => (None, 0),
    };
    Some(Probe {
        v4,
        dst_v4,
        dport: u16::from_be_bytes([*tcp.get(2)?, *tcp.get(3)?]),
        seq: u32::from_be_bytes(tcp.get(4..8)?.try_into().ok()?),
        window: u16::from_be_bytes([*tcp.get(14)?, *tcp.get(15)?]),
        options: first,
        options_len: options.len(),
    })
}

/// The tool behind a probe, from its headers (`Unknown` if unreadable).
#[inline]
pub fn of(kind: Kind, ip: &[u8], tcp: &[u8]) -> Tool {
    read(ip, tcp).map_or(Tool::Unknown, |p| tool(kind, &p))
}

/// Whether a segment that is no probe by its flags is one of nmap's ACK
/// probes (-sA, -sW; -sM's FIN+ACK): ACK, or FIN and ACK, alone; no
/// options, no data, no DF; one of nmap's windows. A client's stack sets
/// DF and, on an established connection, timestamps.
#[inline]
pub fn nmap_ack(flags: u8, df: bool, window: u16, header: usize, data: usize) -> bool {
    flags & !0x01 == 0x10
        && !df
        && header == 20
        && data == 0
        && matches!(window, 1024 | 2048 | 3072 | 4096)
}

/// An echo request with its data (`data`, after the 8-byte ICMP header):
/// none is nmap's.
#[inline]
pub fn echo(mut ev: Event, data: &[u8]) -> Event {
    if data.is_empty() {
        ev.tool = Tool::Nmap;
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Stealth;

    fn probe(id: Option<(u16, bool)>, window: u16, options: &[u8]) -> Probe {
        let mut first = [0; 4];
        first[..options.len().min(4)].copy_from_slice(&options[..options.len().min(4)]);
        Probe {
            v4: id,
            dst_v4: 0xc000_0233,
            dport: 22,
            seq: 0x61f0_3678,
            window,
            options: first,
            options_len: options.len(),
        }
    }

    #[test]
    fn each_tool_by_its_own_fields() {
        let syn = Kind::Syn;
        let fin = Kind::Stealth(Stealth::Fin);
        // masscan-sweep.pcap's first SYN: 0x0233 ^ 0x0016 ^ 0x3678 = 0x345d.
        assert_eq!(
            tool(syn, &probe(Some((0x345d, false)), 1024, &[])),
            Tool::Masscan
        );
        // masscan 1.3 adds MSS 1460: still masscan, not nmap.
        assert_eq!(
            tool(syn, &probe(Some((0x345d, false)), 1024, &MSS_1460)),
            Tool::Masscan
        );
        assert_eq!(
            tool(syn, &probe(Some((54321, false)), 65535, &[])),
            Tool::Zmap
        );
        assert_eq!(
            tool(syn, &probe(Some((7, false)), 1024, &MSS_1460)),
            Tool::Nmap
        );
        assert_eq!(tool(syn, &probe(None, 4096, &MSS_1460)), Tool::Nmap);
        assert_eq!(tool(fin, &probe(Some((7, false)), 2048, &[])), Tool::Nmap);
        assert_eq!(tool(syn, &probe(Some((7, false)), 512, &[])), Tool::Hping3);
        // A Linux client's SYN; the same with nmap's window but DF set; a
        // SYN with nmap's window and no options; a SYN-ACK.
        let linux = [2, 4, 5, 0xb4, 4, 2, 8, 10];
        assert_eq!(
            tool(syn, &probe(Some((7, true)), 64240, &linux)),
            Tool::Unknown
        );
        assert_eq!(
            tool(syn, &probe(Some((7, true)), 1024, &MSS_1460)),
            Tool::Unknown
        );
        assert_eq!(
            tool(syn, &probe(Some((7, false)), 1024, &[])),
            Tool::Unknown
        );
        assert_eq!(
            tool(Kind::SynAck, &probe(Some((0x345d, false)), 1024, &[])),
            Tool::Unknown
        );
        // zmap's IP ID with another window is not zmap.
        assert_eq!(
            tool(syn, &probe(Some((54321, false)), 29200, &linux)),
            Tool::Unknown
        );
    }

    #[test]
    fn reads_the_fields_from_headers_and_never_past_them() {
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[4..6].copy_from_slice(&0x345du16.to_be_bytes());
        ip[16..20].copy_from_slice(&[192, 0, 2, 0x33]);
        let mut tcp = [0u8; 20];
        tcp[2..4].copy_from_slice(&22u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&0x61f0_3678u32.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = 0x02;
        tcp[14..16].copy_from_slice(&1024u16.to_be_bytes());
        assert_eq!(of(Kind::Syn, &ip, &tcp), Tool::Masscan);
        // A header length past the bytes there are, or cut short: unknown.
        tcp[12] = 15 << 4;
        assert_eq!(of(Kind::Syn, &ip, &tcp), Tool::Unknown);
        for n in 0..20 {
            assert_eq!(of(Kind::Syn, &ip[..n], &tcp[..n]), Tool::Unknown);
        }
    }
}
