//! Writes deterministic synthetic captures for benchmarks (Ethernet,
//! microsecond pcap, 1.5 million packets per second of capture time).
//!
//! - `syn`: about 70% SYN-only probes from ~5000 external sources (8 heavy
//!   scanners send half of them) and 30% answers (RST or SYN-ACK).
//! - `span`: what a span port carries: about 85% established TCP segments
//!   of realistic sizes, captured with a 96-byte snap length, 10% SYNs
//!   (clients and a few scanners), 5% answers.
//! - `flood`: SYNs from random spoofed sources, about one new source per
//!   packet, with 4 heavy scanners mixed in (one probe in 1000 each).
//! - `unanswered`: what a perimeter sees of scanning: SYN probes from
//!   ~2000 external sources at 370 k probes per second of capture time,
//!   none answered (pending attempts outgrow the default cap).
//! - `span-external`: `span`'s established segments (85%, 96-byte snap
//!   length), with 10% SYNs from ~2000 external sources, none answered.

use std::net::Ipv4Addr;

use clap::{Parser, ValueEnum};
use etherparse::PacketBuilder;

#[derive(Clone, Copy, ValueEnum)]
enum Workload {
    Syn,
    Span,
    Flood,
    Unanswered,
    SpanExternal,
}

#[derive(Parser)]
#[command(about = "Write deterministic synthetic captures for picket benchmarks")]
struct Args {
    #[arg(value_enum)]
    workload: Workload,
    /// Output pcap file.
    file: String,
    /// Packets to write.
    #[arg(long, default_value_t = 10_000_000)]
    packets: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic and plenty for traffic shapes.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

const SYN: u8 = 2;
const RST: u8 = 4;
const PSH: u8 = 8;
const ACK: u8 = 16;

/// One TCP segment; `payload` bytes of zeros.
fn segment(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    flags: u8,
    payload: usize,
    out: &mut Vec<u8>,
) {
    static ZEROS: [u8; 1500] = [0; 1500];
    out.clear();
    let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src.octets(), dst.octets(), 64)
        .tcp(sport, dport, 0x1234_5678, 1024);
    if flags & SYN != 0 {
        b = b.syn();
    }
    if flags & RST != 0 {
        b = b.rst();
    }
    if flags & PSH != 0 {
        b = b.psh();
    }
    if flags & ACK != 0 {
        b = b.ack(1);
    }
    b.write(out, &ZEROS[..payload]).expect("write to a Vec");
}

type Probe = (Ipv4Addr, Ipv4Addr, u16, u16);

/// Remembers recent probes so that answers refer to real attempts.
struct Recent(Vec<Probe>);

impl Recent {
    fn note(&mut self, p: Probe, r: u64) {
        if self.0.len() < 4096 {
            self.0.push(p);
        } else {
            self.0[(r >> 20) as usize % 4096] = p;
        }
    }

    fn answer(&self, r: u64, out: &mut Vec<u8>) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let (src, dst, sport, dport) = self.0[(r >> 20) as usize % self.0.len()];
        let flags = if r & 0x200 == 0 { RST | ACK } else { SYN | ACK };
        segment(dst, src, dport, sport, flags, 0, out);
        true
    }
}

/// A segment of one of 2000 established flows between inside clients and
/// outside servers, of a realistic size.
fn established(r: u64, buf: &mut Vec<u8>) {
    let flow = (r >> 8) % 2000;
    let client = Ipv4Addr::new(10, 1, (flow >> 8) as u8, flow as u8);
    let server = external(flow * 7 + 3);
    let cport = 30000 + flow as u16;
    let size = match (r >> 20) % 10 {
        0..=3 => 0,
        4..=7 => 1448,
        _ => 100 + ((r >> 32) % 1300) as usize,
    };
    if (r >> 40) & 1 == 0 {
        segment(client, server, cport, 443, ACK | PSH, size, buf);
    } else {
        segment(server, client, 443, cport, ACK | PSH, size, buf);
    }
}

fn external(n: u64) -> Ipv4Addr {
    Ipv4Addr::new(198, 18 + ((n >> 16) & 1) as u8, (n >> 8) as u8, n as u8)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let cap = pcap::Capture::dead(pcap::Linktype::ETHERNET)?;
    let mut save = cap.savefile(&args.file)?;
    let mut rng = Rng(args.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut buf = Vec::with_capacity(1600);
    let mut recent = Recent(Vec::with_capacity(4096));
    let start_us: i64 = 1_795_550_400 * 1_000_000;
    for i in 0..args.packets {
        let r = rng.next();
        let ts_us = start_us
            + match args.workload {
                // 370 k packets per second.
                Workload::Unanswered => (i as i64 * 100) / 37,
                // 1.5 M packets per second.
                _ => (i as i64 * 2) / 3,
            };
        let mut snaplen = usize::MAX;
        match args.workload {
            Workload::Syn => {
                // 30% answers (once there is something to answer).
                let answered = r % 10 >= 7 && recent.answer(r, &mut buf);
                if !answered {
                    // 8 heavy scanners send half the probes; 5000 light ones the rest.
                    let src = if r & 0x100 == 0 {
                        Ipv4Addr::new(203, 0, 113, (r >> 9) as u8 % 8 + 1)
                    } else {
                        external((r >> 9) % 5000)
                    };
                    let p = (
                        src,
                        Ipv4Addr::new(192, 0, 2, (r >> 24) as u8),
                        40000 + (r >> 48) as u16 % 1000,
                        (r >> 32) as u16 % 4096 + 1,
                    );
                    segment(p.0, p.1, p.2, p.3, SYN, 0, &mut buf);
                    recent.note(p, r);
                }
            }
            Workload::Span => {
                snaplen = 96;
                let pick = r % 100;
                if pick < 85 {
                    established(r, &mut buf);
                } else if pick < 95 || !recent.answer(r, &mut buf) {
                    // SYNs: mostly clients opening connections, some scanners.
                    let p = if pick < 92 {
                        let flow = (r >> 8) % 2000;
                        (
                            Ipv4Addr::new(10, 1, (flow >> 8) as u8, flow as u8),
                            external((r >> 24) % 500),
                            40000 + (r >> 48) as u16 % 20000,
                            443,
                        )
                    } else {
                        (
                            Ipv4Addr::new(203, 0, 113, (r >> 9) as u8 % 4 + 1),
                            Ipv4Addr::new(192, 0, 2, (r >> 24) as u8),
                            50000,
                            (r >> 32) as u16 % 2048 + 1,
                        )
                    };
                    segment(p.0, p.1, p.2, p.3, SYN, 0, &mut buf);
                    recent.note(p, r);
                }
            }
            Workload::Unanswered => {
                let p = (
                    external((r >> 9) % 2000),
                    Ipv4Addr::new(192, 0, 2, (r >> 24) as u8),
                    40000 + (r >> 48) as u16 % 1000,
                    (r >> 32) as u16 % 4096 + 1,
                );
                segment(p.0, p.1, p.2, p.3, SYN, 0, &mut buf);
            }
            Workload::SpanExternal => {
                snaplen = 96;
                let pick = r % 100;
                if pick < 85 {
                    established(r, &mut buf);
                } else if pick < 95 {
                    let p = (
                        external((r >> 9) % 2000 + 10_000),
                        Ipv4Addr::new(192, 0, 2, (r >> 24) as u8),
                        40000 + (r >> 48) as u16 % 1000,
                        (r >> 32) as u16 % 4096 + 1,
                    );
                    segment(p.0, p.1, p.2, p.3, SYN, 0, &mut buf);
                } else {
                    // The clients' own connections, answered.
                    let flow = (r >> 8) % 2000;
                    let client = Ipv4Addr::new(10, 1, (flow >> 8) as u8, flow as u8);
                    let server = external(flow * 7 + 3);
                    let cport = 40000 + (r >> 48) as u16 % 20000;
                    let flags = if pick < 98 { SYN } else { SYN | ACK };
                    if flags == SYN {
                        segment(client, server, cport, 443, SYN, 0, &mut buf);
                    } else {
                        segment(server, client, 443, cport, SYN | ACK, 0, &mut buf);
                    }
                }
            }
            Workload::Flood => {
                let (src, dport) = if i % 250 == 0 {
                    // 4 heavy scanners, each a probe in every 1000 packets.
                    (
                        Ipv4Addr::new(203, 0, 113, 100 + (i / 250 % 4) as u8),
                        (i / 1000 % 60000) as u16 + 1,
                    )
                } else {
                    // Spoofed: random outside 10/8 and 192.168/16.
                    let a = (r >> 32) as u32 | 0x0100_0000;
                    (
                        Ipv4Addr::from(a ^ if a >> 24 == 10 { 0x0100_0000 } else { 0 }),
                        80,
                    )
                };
                segment(
                    src,
                    Ipv4Addr::new(192, 0, 2, (r >> 8) as u8),
                    1024 + (r >> 16) as u16 % 60000,
                    dport,
                    SYN,
                    0,
                    &mut buf,
                );
            }
        }
        let caplen = buf.len().min(snaplen);
        let header = pcap::PacketHeader {
            ts: timeval(ts_us),
            caplen: caplen as u32,
            len: buf.len() as u32,
        };
        save.write(&pcap::Packet::new(&header, &buf[..caplen]));
    }
    save.flush()?;
    Ok(())
}

fn timeval(us: i64) -> libc::timeval {
    libc::timeval {
        tv_sec: (us / 1_000_000) as libc::time_t,
        tv_usec: (us % 1_000_000) as libc::suseconds_t,
    }
}
