//! Micro benchmarks of the hot path, one stage at a time:
//! decode (picket with its fixed-offset fast path, picket's general
//! etherparse-based path, and etherparse's full lax parse side by side),
//! port sets, the pending-attempt table, and the aggregator per event.
//!
//! `cargo bench --bench micro`; the macro benchmark is benches/macro.sh.

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use etherparse::{LaxSlicedPacket, PacketBuilder};

use picket::aggregate::Aggregator;
use picket::config::{Detection, Limits};
use picket::decode::{decode, decode_general, LinkType};
use picket::event::{Event, FlowKey, Tool, TCP};
use picket::rules::RuleSet;
use picket::sketch::portset::PortSet;

// The allocator picket itself runs with (large tables on huge pages): a
// table larger than the caches behaves very differently without it.
#[global_allocator]
static ALLOC: picket::hugepages::HugePageHint = picket::hugepages::HugePageHint;
use picket::track::pending::PendingTable;

fn frame(v6: bool, vlan: bool, flags: &str, payload: usize, udp: bool) -> Vec<u8> {
    let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let ip = match (v6, vlan) {
        (false, false) => eth.ipv4([203, 0, 113, 5], [192, 0, 2, 1], 64),
        (false, true) => {
            eth.single_vlan(100.try_into().unwrap())
                .ipv4([203, 0, 113, 5], [192, 0, 2, 1], 64)
        }
        (true, _) => eth.ipv6(
            [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5],
            [0x20, 1, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            64,
        ),
    };
    let body = vec![0u8; payload];
    let mut out = Vec::new();
    if udp {
        ip.udp(5353, 53).write(&mut out, &body).unwrap();
        return out;
    }
    let mut t = ip.tcp(40000, 443, 1, 1024);
    for f in flags.chars() {
        t = match f {
            'S' => t.syn(),
            'A' => t.ack(1),
            'R' => t.rst(),
            'P' => t.psh(),
            _ => t,
        };
    }
    t.write(&mut out, &body).unwrap();
    out.truncate(96); // span ports capture headers only
    out
}

fn decoding(c: &mut Criterion) {
    let cases = [
        ("syn", frame(false, false, "S", 0, false)),
        ("rst", frame(false, false, "RA", 0, false)),
        ("established", frame(false, false, "PA", 1448, false)),
        ("udp", frame(false, false, "", 40, true)),
        ("ipv6-syn", frame(true, false, "S", 0, false)),
        ("vlan-syn", frame(false, true, "S", 0, false)),
    ];
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    for (name, f) in &cases {
        g.bench_function(format!("picket/{name}"), |b| {
            b.iter(|| decode(LinkType::Ethernet, black_box(f), 0))
        });
        g.bench_function(format!("picket-general/{name}"), |b| {
            b.iter(|| decode_general(LinkType::Ethernet, black_box(f), 0))
        });
        g.bench_function(format!("etherparse-lax/{name}"), |b| {
            b.iter(|| LaxSlicedPacket::from_ethernet(black_box(f)).map(|p| p.transport.is_some()))
        });
    }
    g.finish();
}

fn port_sets(c: &mut Criterion) {
    let ports: Vec<u16> = (0..1000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 16) as u16)
        .collect();
    let mut g = c.benchmark_group("portset");
    g.throughput(Throughput::Elements(ports.len() as u64));
    g.bench_function("insert-1000", |b| {
        b.iter_batched(
            PortSet::default,
            |mut s| {
                for &p in &ports {
                    s.insert(p);
                }
                s.len()
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("insert-8-inline", |b| {
        b.iter_batched(
            PortSet::default,
            |mut s| {
                for &p in &ports[..8] {
                    s.insert(p);
                }
                s.len()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn key(i: u32) -> FlowKey {
    FlowKey {
        proto: TCP,
        src: IpAddr::from((0xcb00_7100u32 | (i & 0xff)).to_be_bytes()),
        sport: 40000 + (i >> 16) as u16,
        dst: IpAddr::from((0xc000_0200u32 | (i >> 8 & 0xff)).to_be_bytes()),
        dport: i as u16,
    }
}

/// A SYN for each of `keys`, one nanosecond apart.
fn open_all(t: &mut PendingTable, keys: &[FlowKey]) {
    for (i, k) in keys.iter().enumerate() {
        let ts = i as i64;
        t.probe(*k, t.hash(k), ts, (false, Tool::Unknown), ts, |_, _| {});
    }
}

fn pending(c: &mut Criterion) {
    let keys: Vec<FlowKey> = (0..100_000u32).map(key).collect();
    let mut g = c.benchmark_group("pending");
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_function("insert-resolve-100k", |b| {
        b.iter_batched(
            || PendingTable::new(5_000_000_000, 1 << 20),
            |mut t| {
                open_all(&mut t, &keys);
                for (i, k) in keys.iter().enumerate() {
                    black_box(t.resolve(k, t.hash(k), i as i64, false));
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("insert-expire-100k", |b| {
        b.iter_batched(
            || PendingTable::new(1000, 1 << 20),
            |mut t| {
                open_all(&mut t, &keys);
                let mut n = 0;
                t.expire(i64::MAX / 2, |_, _| n += 1);
                n
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// Hash flooding: tuples a spoofer could build to share one index bucket
/// under a known hash key (the fixed key the table once had), inserted
/// and resolved under that key and under the per-process random key the
/// table has now.
fn hash_flooding(c: &mut Criterion) {
    const N: usize = 2000;
    let known = || ahash::RandomState::with_seeds(1, 2, 3, 4);
    let probe = PendingTable::with_hasher(1, 2, known());
    // Same top 16 bits of the hash (the index's tag scaled to its bucket
    // count): one bucket, and its overflow run, up to 65536 buckets.
    let home = |k: &FlowKey| probe.hash(k) >> 48;
    let mut colliding = Vec::with_capacity(N);
    let mut i = 0u32;
    while colliding.len() < N {
        let k = FlowKey {
            proto: TCP,
            src: IpAddr::from((0xc633_6400u32 | (i >> 16)).to_be_bytes()),
            sport: i as u16,
            dst: IpAddr::from([192, 0, 2, 80]),
            dport: 80,
        };
        if home(&k) == 0 {
            colliding.push(k);
        }
        i += 1;
    }
    let mut g = c.benchmark_group("hash-flooding");
    g.throughput(Throughput::Elements(N as u64));
    for (name, random) in [("known-key", false), ("random-key", true)] {
        g.bench_function(format!("insert-resolve-2000-colliding/{name}"), |b| {
            b.iter_batched(
                || {
                    if random {
                        PendingTable::new(5_000_000_000, 1 << 20)
                    } else {
                        PendingTable::with_hasher(5_000_000_000, 1 << 20, known())
                    }
                },
                |mut t| {
                    open_all(&mut t, &colliding);
                    for (i, k) in colliding.iter().enumerate() {
                        black_box(t.resolve(k, t.hash(k), i as i64, false));
                    }
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn aggregation(c: &mut Criterion) {
    // A SYN scan: 64 hosts x 1000 ports, half the probes rejected by RST.
    let mut events = Vec::new();
    for i in 0..64_000u32 {
        let k = key(i);
        let t = i as i64 * 1000;
        let ev = |kind, k: FlowKey| Event {
            ts: t,
            clock: t,
            kind,
            proto: TCP,
            src: k.src,
            dst: k.dst,
            sport: k.sport,
            dport: k.dport,
            tool: Default::default(),
        };
        events.push(ev(picket::event::Kind::Syn, k));
        if i % 2 == 0 {
            events.push(ev(picket::event::Kind::Rst, k.reversed()));
        }
    }
    let mut g = c.benchmark_group("aggregate");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("syn-scan-events", |b| {
        b.iter_batched(
            || {
                let (det, limits) = (Detection::default(), Limits::default());
                let rules = RuleSet::build(&[], &det, &limits).expect("every rule");
                Aggregator::new(1, det.bin, det.answer_timeout, &limits, &rules)
            },
            |mut a| {
                a.handle_batch(&events);
                a.finish();
                a.take_closed().0.seed.len()
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// The hard case of the throughput issue: SYNs from 2000 external sources
/// at 370 k per second of capture time, none answered, so the pending table
/// holds ~1.8 M attempts (far larger than the caches) and every attempt
/// ends by eviction or timeout. One aggregator (as with `--threads 1`),
/// events handed over in the capture stage's batch size; tracking alone
/// (`--rules ping-sweep` counts no TCP attempt) and every rule.
fn unanswered(c: &mut Criterion) {
    const EVENTS: u32 = 4_000_000;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let events: Vec<Event> = (0..EVENTS)
        .map(|i| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let src = 0x2800_0000u32 + (rng % 2000) as u32 * 7919;
            let t = i as i64 * 100_000 / 37;
            Event {
                ts: t,
                clock: t,
                kind: picket::event::Kind::Syn,
                proto: TCP,
                src: IpAddr::from(src.to_be_bytes()),
                dst: IpAddr::from([192, 0, 2, (rng >> 24) as u8]),
                sport: 40000 + (rng >> 48) as u16 % 1000,
                dport: (rng >> 32) as u16 % 4096 + 1,
                tool: Default::default(),
            }
        })
        .collect();
    let mut g = c.benchmark_group("aggregate");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events.len() as u64));
    for (name, rules) in [
        ("tracking", vec!["ping-sweep".to_string()]),
        ("all-rules", vec![]),
    ] {
        g.bench_function(format!("unanswered-4M/{name}"), |b| {
            b.iter_batched(
                || {
                    let (det, limits) = (Detection::default(), Limits::default());
                    let rules = RuleSet::build(&rules, &det, &limits).expect("known rules");
                    Aggregator::new(1, det.bin, det.answer_timeout, &limits, &rules)
                },
                |mut a| {
                    for batch in events.chunks(512) {
                        a.handle_batch(batch);
                    }
                    a.finish();
                    a.stats().unanswered
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    decoding,
    port_sets,
    pending,
    hash_flooding,
    aggregation,
    unanswered
);
criterion_main!(benches);
