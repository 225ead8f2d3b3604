//! Decode stage: every link type and encapsulation of the contract, and
//! truncation at every layer.

mod common;

use common::*;
use picket::decode::{decode, decode_general, LinkType, Skip};
use picket::event::{Kind, Stealth, Tool, TCP, UDP};

fn syn_v4() -> Vec<u8> {
    tcp("203.0.113.5", "192.0.2.1", 40000, 443, "S")
}

fn syn_v6() -> Vec<u8> {
    tcp("2001:db8::5", "2001:db8:1::1", 40000, 443, "S")
}

fn assert_syn(link: LinkType, frame: &[u8], src: &str) {
    let ev = decode(link, frame, 7).unwrap_or_else(|e| panic!("{link:?}: {e:?}"));
    assert_eq!(ev.kind, Kind::Syn);
    assert_eq!(
        (ev.proto, ev.src, ev.sport, ev.dport),
        (TCP, ip(src), 40000, 443)
    );
    assert_eq!(ev.ts, 7);
}

#[test]
fn every_link_layer_yields_the_same_probe() {
    for (ip_packet, src) in [(syn_v4(), "203.0.113.5"), (syn_v6(), "2001:db8::5")] {
        assert_syn(LinkType::Ethernet, &ether(&ip_packet), src);
        assert_syn(
            LinkType::Ethernet,
            &ether_tagged(&[0x8100], &ip_packet),
            src,
        );
        assert_syn(
            LinkType::Ethernet,
            &ether_tagged(&[0x88a8, 0x8100], &ip_packet),
            src,
        );
        assert_syn(
            LinkType::Ethernet,
            &ether_tagged(&[0x9100, 0x8100], &ip_packet),
            src,
        );
        assert_syn(LinkType::LinuxSll, &sll(&ip_packet), src);
        assert_syn(LinkType::LinuxSll2, &sll2(&ip_packet), src);
        assert_syn(LinkType::Null, &null(&ip_packet), src);
        let mut be_null = null(&ip_packet);
        be_null[..4].reverse(); // DLT_LOOP: network byte order
        assert_syn(LinkType::Null, &be_null, src);
        assert_syn(LinkType::Raw, &ip_packet, src);
    }
}

#[test]
fn link_types_map_from_pcap_values() {
    for (dlt, want) in [
        (1, LinkType::Ethernet),
        (0, LinkType::Null),
        (108, LinkType::Null),
        (12, LinkType::Raw),
        (101, LinkType::Raw),
        (228, LinkType::Raw),
        (229, LinkType::Raw),
        (113, LinkType::LinuxSll),
        (276, LinkType::LinuxSll2),
    ] {
        assert_eq!(LinkType::from_dlt(dlt), Some(want), "dlt {dlt}");
    }
    assert_eq!(LinkType::from_dlt(105), None, "802.11 is not decoded");
}

#[test]
fn tcp_flags_classify_probes_and_answers() {
    let k = |flags| {
        decode(
            LinkType::Raw,
            &tcp("203.0.113.5", "192.0.2.1", 1, 2, flags),
            0,
        )
        .map(|e| e.kind)
    };
    assert_eq!(k("S"), Ok(Kind::Syn));
    assert_eq!(
        k("SF"),
        Ok(Kind::Syn),
        "extra flags beside SYN do not matter"
    );
    assert_eq!(k("SPU"), Ok(Kind::Syn));
    assert_eq!(k("SA"), Ok(Kind::SynAck));
    assert_eq!(
        k("R"),
        Ok(Kind::RstNoAck),
        "the answer to an ACK for no connection (it rejects a SYN too)"
    );
    assert_eq!(k("RA"), Ok(Kind::Rst));
    assert_eq!(k("F"), Ok(Kind::Stealth(Stealth::Fin)), "FIN scan");
    assert_eq!(k(""), Ok(Kind::Stealth(Stealth::Null)), "NULL scan");
    assert_eq!(k("FPU"), Ok(Kind::Stealth(Stealth::Xmas)), "XMAS scan");
    assert_eq!(k("FP"), Ok(Kind::Stealth(Stealth::Fin)));
    assert_eq!(k("U"), Ok(Kind::Stealth(Stealth::Other)));
    assert_eq!(k("A"), Err(Skip::TcpSession));
    assert_eq!(k("PA"), Err(Skip::TcpSession));
    assert_eq!(k("FA"), Err(Skip::TcpSession));
}

#[test]
fn udp_and_icmp() {
    let ev = decode(LinkType::Raw, &udp("203.0.113.5", "192.0.2.1", 5353, 53), 0).unwrap();
    assert_eq!(
        (ev.kind, ev.proto, ev.sport, ev.dport),
        (Kind::Udp, UDP, 5353, 53)
    );
    for (s, d) in [
        ("203.0.113.5", "192.0.2.1"),
        ("2001:db8::5", "2001:db8:1::1"),
    ] {
        let ev = decode(LinkType::Raw, &echo_request(s, d), 0).unwrap();
        assert_eq!(ev.kind, Kind::EchoRequest);
    }
}

#[test]
fn icmp_unreachable_names_the_quoted_attempt() {
    for (probe, router, src) in [
        (syn_v4(), "198.51.100.1", "203.0.113.5"),
        (
            udp("203.0.113.5", "192.0.2.1", 5000, 161),
            "192.0.2.1",
            "203.0.113.5",
        ),
        (syn_v6(), "2001:db8:ff::1", "2001:db8::5"),
        (
            udp("2001:db8::5", "2001:db8:1::1", 5000, 161),
            "2001:db8:1::1",
            "2001:db8::5",
        ),
    ] {
        let want = decode(LinkType::Raw, &probe, 0).unwrap();
        let icmp = unreachable(router, src, &probe);
        let ev = decode(LinkType::Raw, &icmp, 9).unwrap();
        assert_eq!(ev.kind, Kind::Unreachable);
        assert_eq!(
            ev.key(),
            want.key(),
            "the quoted tuple, in the probe's direction"
        );
        assert_eq!(ev.ts, 9);
    }
}

/// An ICMP error about a ping (or any packet without ports) is well
/// formed: not an attempt, and not counted as a decode failure (it was).
#[test]
fn icmp_unreachable_about_a_ping_is_no_failure() {
    for (ping, router, src) in [
        (
            echo_request("203.0.113.5", "192.0.2.1"),
            "198.51.100.1",
            "203.0.113.5",
        ),
        (
            echo_request("2001:db8::5", "2001:db8:1::1"),
            "2001:db8:ff::1",
            "2001:db8::5",
        ),
    ] {
        let icmp = unreachable(router, src, &ping);
        let skip = decode(LinkType::Raw, &icmp, 0).unwrap_err();
        assert_eq!(skip, Skip::UnreachableNoPorts);
        assert!(!skip.is_failure());
        assert_eq!(decode_general(LinkType::Raw, &icmp, 0), Err(skip));
    }
}

#[test]
fn ipv4_options_and_fragments() {
    // An IPv4 header with 4 bytes of options (IHL 6): NOP NOP NOP EOL.
    let plain = syn_v4();
    let mut with_opts = plain[..20].to_vec();
    with_opts.extend_from_slice(&[1, 1, 1, 0]);
    with_opts.extend_from_slice(&plain[20..]);
    with_opts[0] = 0x46;
    let total = with_opts.len() as u16;
    with_opts[2..4].copy_from_slice(&total.to_be_bytes());
    assert_syn(LinkType::Raw, &with_opts, "203.0.113.5");

    // First fragment (MF set, offset 0) carries the ports.
    let mut first = plain.clone();
    first[6] = 0x20;
    assert_syn(LinkType::Raw, &first, "203.0.113.5");
    // A later fragment (offset 8 bytes) does not.
    let mut later = plain.clone();
    later[6] = 0x00;
    later[7] = 0x01;
    assert_eq!(decode(LinkType::Raw, &later, 0), Err(Skip::LaterFragment));
}

/// Insert IPv6 extension headers between the fixed header and TCP.
fn v6_with_exts(exts: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let plain = syn_v6();
    let mut out = plain[..40].to_vec();
    let mut next = 6u8; // TCP
    let mut body = Vec::new();
    for (kind, ext) in exts.iter().rev() {
        let mut e = ext.clone();
        e[0] = next;
        next = *kind;
        e.extend_from_slice(&body);
        body = e;
    }
    out[6] = next;
    out.extend_from_slice(&body);
    out.extend_from_slice(&plain[40..]);
    let payload_len = (out.len() - 40) as u16;
    out[4..6].copy_from_slice(&payload_len.to_be_bytes());
    out
}

#[test]
fn ipv6_extension_headers() {
    let hop_by_hop = (0u8, vec![0, 0, 1, 4, 0, 0, 0, 0]); // PadN
    let dest_opts = (60u8, vec![0, 0, 1, 4, 0, 0, 0, 0]);
    let first_frag = (44u8, vec![0, 0, 0, 1, 0, 0, 0, 42]); // offset 0, M=1
    let p = v6_with_exts(&[hop_by_hop.clone(), dest_opts, first_frag]);
    assert_syn(LinkType::Raw, &p, "2001:db8::5");

    let later_frag = (44u8, vec![0, 0, 0, 0x10, 0, 0, 0, 42]); // offset 2 (x8 bytes)
    let p = v6_with_exts(&[hop_by_hop.clone(), later_frag]);
    assert_eq!(decode(LinkType::Raw, &p, 0), Err(Skip::LaterFragment));
    // Offset 4 (x8 bytes), last fragment: bits a misreading of the header
    // would take for reserved ones.
    let last_frag = (44u8, vec![0, 0, 0, 0x20, 0, 0, 0, 42]);
    let p = v6_with_exts(&[hop_by_hop, last_frag]);
    assert_eq!(decode(LinkType::Raw, &p, 0), Err(Skip::LaterFragment));
}

#[test]
fn frames_cut_short_at_every_layer_are_counted_not_fatal() {
    let frame = ether(&syn_v4());
    // Ethernet header is 14 bytes, IPv4 20, TCP 20.
    for len in 0..frame.len() {
        let r = decode(LinkType::Ethernet, &frame[..len], 0);
        let want = match len {
            0..=13 => Skip::TruncatedLink,
            14..=33 => Skip::BadIp,
            _ => Skip::BadTransport,
        };
        assert_eq!(r, Err(want), "cut at {len}");
    }
    let tagged = ether_tagged(&[0x88a8, 0x8100], &syn_v4());
    assert_eq!(
        decode(LinkType::Ethernet, &tagged[..16], 0),
        Err(Skip::TruncatedLink)
    );
    assert_eq!(
        decode(LinkType::LinuxSll, &sll(&syn_v4())[..15], 0),
        Err(Skip::TruncatedLink)
    );
    assert_eq!(
        decode(LinkType::LinuxSll2, &sll2(&syn_v4())[..19], 0),
        Err(Skip::TruncatedLink)
    );
    assert_eq!(
        decode(LinkType::Null, &[2, 0, 0], 0),
        Err(Skip::TruncatedLink)
    );
    let v6 = syn_v6();
    assert_eq!(decode(LinkType::Raw, &v6[..39], 0), Err(Skip::BadIp));
    assert_eq!(decode(LinkType::Raw, &v6[..50], 0), Err(Skip::BadTransport));
    let icmp = unreachable("198.51.100.1", "203.0.113.5", &syn_v4());
    assert_eq!(
        decode(LinkType::Raw, &icmp[..20 + 8 + 10], 0),
        Err(Skip::BadIcmpQuote)
    );
    let u = udp("203.0.113.5", "192.0.2.1", 1, 2);
    assert_eq!(decode(LinkType::Raw, &u[..24], 0), Err(Skip::BadTransport));
}

#[test]
fn not_ip_and_other_protocols_are_skipped() {
    let mut arp = ether(&syn_v4());
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    assert_eq!(decode(LinkType::Ethernet, &arp, 0), Err(Skip::NotIp));
    let mut gre = syn_v4();
    gre[9] = 47;
    assert_eq!(decode(LinkType::Raw, &gre, 0), Err(Skip::OtherProtocol));
    assert_eq!(
        decode(LinkType::Null, &[99, 0, 0, 0, 0x45], 0),
        Err(Skip::NotIp)
    );
    // Ten stacked VLAN tags: hostile, refused without looping forever.
    let deep = ether_tagged(&[0x8100; 10], &syn_v4());
    assert_eq!(decode(LinkType::Ethernet, &deep, 0), Err(Skip::NotIp));
}

/// Hostile input: random bytes and random mutations of real frames, on
/// every link type, never panic (each is an event or a counted skip).
#[test]
fn random_and_mutated_frames_never_panic() {
    let mut x: u64 = 0x243f_6a88_85a3_08d3;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let seeds = [
        ether(&syn_v4()),
        ether(&syn_v6()),
        ether_tagged(&[0x88a8, 0x8100], &syn_v4()),
        ether(&unreachable("198.51.100.1", "203.0.113.5", &syn_v4())),
        ether(&unreachable("2001:db8:ff::1", "2001:db8::5", &syn_v6())),
        ether(&udp("203.0.113.5", "192.0.2.1", 1, 2)),
    ];
    let links = [
        LinkType::Ethernet,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Null,
        LinkType::Raw,
    ];
    let mut decoded = 0;
    for i in 0..200_000u32 {
        let mut f = if i % 4 == 0 {
            (0..rnd() % 128).map(|_| rnd() as u8).collect::<Vec<u8>>()
        } else {
            seeds[i as usize % seeds.len()].clone()
        };
        for _ in 0..1 + rnd() % 4 {
            if !f.is_empty() {
                let at = rnd() as usize % f.len();
                f[at] = rnd() as u8;
            }
        }
        f.truncate(rnd() as usize % (f.len() + 1));
        let link = links[rnd() as usize % links.len()];
        let got = decode(link, &f, 0);
        assert_eq!(
            got,
            decode_general(link, &f, 0),
            "fast path differs on {f:02x?}"
        );
        picket::fuzzing::decode_to_agrees(link, &f);
        decoded += got.is_ok() as u32;
    }
    assert!(
        decoded > 1000,
        "mutated real frames still decode often: {decoded}"
    );
}

/// The fixed-offset fast path gives exactly the general decoder's answer on
/// every frame of the real corpus.
#[test]
fn fast_path_agrees_with_the_general_decoder_on_the_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut frames = 0;
    let mut sessions = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "pcap") {
            continue;
        }
        let mut cap = pcap::Capture::from_file(&path).unwrap();
        let link = LinkType::from_dlt(cap.get_datalink().0).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let mut named = 0;
        while let Ok(p) = cap.next_packet() {
            let ev = decode(link, p.data, 0);
            assert_eq!(ev, decode_general(link, p.data, 0), "{name}");
            picket::fuzzing::decode_to_agrees(link, p.data);
            sessions += (link == LinkType::Ethernet
                && picket::decode::fast::is_session_segment(p.data)) as u32;
            named += ev.is_ok_and(|e| e.tool != Tool::Unknown) as u32;
            frames += 1;
        }
        // No client's packet points to a scanner; every scanner capture
        // but the connect() and UDP scans and the HTTP clients has some.
        let unnamed = name.starts_with("benign")
            || [
                "nmap-sT.pcap",
                "nmap-sU.pcap",
                "nmap-http-enum.pcap",
                "curl-nikto-agent.pcap",
            ]
            .contains(&name.as_str());
        assert_eq!(
            named == 0,
            unnamed,
            "{name}: {named} packets point to a tool"
        );
    }
    assert!(frames > 30_000, "{frames}");
    // The early skip meets the benign captures' sessions.
    assert!(sessions > 1000, "{sessions}");
}

#[test]
fn fast_path_handles_padding_and_short_tcp_headers_like_the_reference() {
    // A 54-byte SYN padded to Ethernet's 60-byte minimum.
    let mut padded = ether(&syn_v4());
    padded.extend_from_slice(&[0; 6]);
    assert_eq!(
        decode(LinkType::Ethernet, &padded, 0),
        decode_general(LinkType::Ethernet, &padded, 0)
    );
    assert!(decode(LinkType::Ethernet, &padded, 0).is_ok());
    // A TCP data offset beyond the captured bytes.
    let mut bad = ether(&syn_v4());
    bad[14 + 20 + 12] = 0xf0;
    assert_eq!(decode(LinkType::Ethernet, &bad, 0), Err(Skip::BadTransport));
}

/// A copy of `frame` placed so that it ends exactly at the end of a readable
/// page, with an inaccessible page right after it: a decoder that reads one
/// byte past the frame faults instead of reading neighbouring memory, as the
/// memory-mapped reader places the last record of a file.
struct GuardedFrame {
    map: *mut libc::c_void,
    len: usize,
    frame_len: usize,
}

impl GuardedFrame {
    fn new(frame: &[u8]) -> GuardedFrame {
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let pages = frame.len().div_ceil(page) + 1;
        let len = (pages + 1) * page;
        // SAFETY: a fresh anonymous mapping, used only through this struct.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(map, libc::MAP_FAILED);
        let guard = unsafe { (map as *mut u8).add(pages * page) };
        assert_eq!(
            unsafe { libc::mprotect(guard as *mut _, page, libc::PROT_NONE) },
            0
        );
        let start = unsafe { guard.sub(frame.len()) };
        unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), start, frame.len()) };
        GuardedFrame {
            map,
            len,
            frame_len: frame.len(),
        }
    }

    fn bytes(&self) -> &[u8] {
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let guard = self.len - page;
        // SAFETY: the range lies inside the readable part of the mapping.
        unsafe {
            std::slice::from_raw_parts(
                (self.map as *const u8).add(guard - self.frame_len),
                self.frame_len,
            )
        }
    }
}

impl Drop for GuardedFrame {
    fn drop(&mut self) {
        unsafe { libc::munmap(self.map, self.len) };
    }
}

/// Ethernet, IPv6 naming Hop-by-Hop as next header, and one 8-byte
/// Hop-by-Hop header naming Hop-by-Hop again, ending with the frame: the
/// 62-byte frame of the 102-byte capture that made etherparse 0.18's
/// extension iterator read past the frame (issue: hardening, item 1).
fn repeated_hop_by_hop() -> Vec<u8> {
    let mut ip = syn_v6()[..40].to_vec();
    ip[6] = 0; // next header: Hop-by-Hop
    ip[4..6].copy_from_slice(&8u16.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]); // next: Hop-by-Hop, len 0
    ether(&ip)
}

#[test]
fn repeated_hop_by_hop_at_a_page_end_is_skipped_not_read_past() {
    let frame = repeated_hop_by_hop();
    assert_eq!(frame.len(), 62);
    let guarded = GuardedFrame::new(&frame);
    assert_eq!(
        decode(LinkType::Ethernet, guarded.bytes(), 0),
        Err(Skip::BadIp),
        "a Hop-by-Hop header anywhere but first is malformed"
    );
    // The same chain inside an ICMPv6 unreachable's quote.
    let mut quoted = syn_v6()[..40].to_vec();
    quoted[6] = 0;
    quoted.extend_from_slice(&[0; 8]);
    let icmp = unreachable("2001:db8:1::1", "2001:db8::5", &quoted);
    let guarded = GuardedFrame::new(&icmp);
    assert_eq!(
        decode(LinkType::Raw, guarded.bytes(), 0),
        Err(Skip::BadIcmpQuote)
    );
}

/// Every extension chain of up to three headers, of every kind the decoder
/// walks (and Hop-by-Hop repeated), cut at every length and placed at a
/// page end: the decoder answers without reading past the frame.
#[test]
fn extension_chains_cut_anywhere_at_a_page_end_never_read_past() {
    let kinds: [(u8, Vec<u8>); 5] = [
        (0, vec![0, 0, 1, 4, 0, 0, 0, 0]),              // Hop-by-Hop
        (60, vec![0, 0, 1, 4, 0, 0, 0, 0]),             // Destination options
        (43, vec![0, 0, 0, 0, 0, 0, 0, 0]),             // Routing
        (44, vec![0, 0, 0, 0x10, 0, 0, 0, 42]),         // Fragment, offset 2
        (51, vec![0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]), // Authentication
    ];
    let mut chains: Vec<Vec<(u8, Vec<u8>)>> = vec![];
    for a in &kinds {
        chains.push(vec![a.clone()]);
        for b in &kinds {
            chains.push(vec![a.clone(), b.clone()]);
            for c in &kinds {
                chains.push(vec![a.clone(), b.clone(), c.clone()]);
            }
        }
    }
    for chain in &chains {
        let p = v6_with_exts(chain);
        for len in 40..=p.len() {
            let guarded = GuardedFrame::new(&p[..len]);
            let _ = decode(LinkType::Raw, guarded.bytes(), 0);
            let frame = ether(&p[..len]);
            let guarded = GuardedFrame::new(&frame);
            let _ = decode(LinkType::Ethernet, guarded.bytes(), 0);
        }
    }
}
