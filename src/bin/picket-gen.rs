//! Writes deterministic synthetic captures for benchmarks.
//!
//! `picket-gen syn FILE --packets N`: about 70% SYN-only probes from
//! thousands of external sources (a few heavy scanners, many light ones)
//! and 30% answers (RST or SYN-ACK), Ethernet, microsecond pcap.

use std::net::Ipv4Addr;

use clap::Parser;
use etherparse::PacketBuilder;

#[derive(Parser)]
#[command(about = "Write deterministic synthetic captures for picket benchmarks")]
struct Args {
    /// Workload: only `syn` so far.
    #[arg(value_parser = ["syn"])]
    workload: String,
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

fn frame(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, flags: u8, out: &mut Vec<u8>) {
    out.clear();
    let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src.octets(), dst.octets(), 64)
        .tcp(sport, dport, 0x1234_5678, 1024);
    if flags & 2 != 0 {
        b = b.syn();
    }
    if flags & 4 != 0 {
        b = b.rst();
    }
    if flags & 16 != 0 {
        b = b.ack(1);
    }
    b.write(out, &[]).expect("write to a Vec");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let cap = pcap::Capture::dead(pcap::Linktype::ETHERNET)?;
    let mut save = cap.savefile(&args.file)?;
    let mut rng = Rng(args.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut buf = Vec::with_capacity(128);
    let start_us: i64 = 1_795_550_400 * 1_000_000;
    // Recent probes, so answers refer to real attempts.
    let mut recent: Vec<(Ipv4Addr, Ipv4Addr, u16, u16)> = Vec::with_capacity(4096);
    for i in 0..args.packets {
        let r = rng.next();
        // 1.5 Mpps of capture time.
        let ts_us = start_us + (i as i64 * 2) / 3;
        if r % 10 < 7 || recent.is_empty() {
            // 8 heavy scanners send half the probes; 5000 light ones the rest.
            let src = if r & 0x100 == 0 {
                Ipv4Addr::new(203, 0, 113, (r >> 9) as u8 % 8 + 1)
            } else {
                let n = (r >> 9) % 5000;
                Ipv4Addr::new(198, 18 + (n >> 16) as u8, (n >> 8) as u8, n as u8)
            };
            let dst = Ipv4Addr::new(192, 0, 2, (r >> 24) as u8);
            let dport = (r >> 32) as u16 % 4096 + 1;
            let sport = 40000 + (r >> 48) as u16 % 1000;
            frame(src, dst, sport, dport, 2, &mut buf);
            if recent.len() < 4096 {
                recent.push((src, dst, sport, dport));
            } else {
                recent[(r >> 20) as usize % 4096] = (src, dst, sport, dport);
            }
        } else {
            let (src, dst, sport, dport) = recent[(r >> 20) as usize % recent.len()];
            let flags = if r & 0x200 == 0 { 4 | 16 } else { 2 | 16 };
            frame(dst, src, dport, sport, flags, &mut buf);
        }
        let header = pcap::PacketHeader {
            ts: libc_timeval(ts_us),
            caplen: buf.len() as u32,
            len: buf.len() as u32,
        };
        save.write(&pcap::Packet::new(&header, &buf));
    }
    save.flush()?;
    Ok(())
}

fn libc_timeval(us: i64) -> libc::timeval {
    libc::timeval {
        tv_sec: (us / 1_000_000) as libc::time_t,
        tv_usec: (us % 1_000_000) as libc::suseconds_t,
    }
}
