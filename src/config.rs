//! Every tunable of the detector, with the contract's defaults.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::time::{Nanos, NANOS_PER_SEC};

/// The seed rule's parameters (detection contract, sections 2-5).
#[derive(Clone, Debug)]
pub struct Detection {
    /// Tumbling bin length, aligned to the Unix epoch.
    pub bin: Nanos,
    /// How long an attempt waits for an answer (inclusive).
    pub answer_timeout: Nanos,
    /// A row needs this many distinct ports...
    pub min_ports: u32,
    /// ...or this many distinct hosts together with `min_attempts` attempts.
    pub min_ips: u32,
    pub min_attempts: u64,
    /// ScanType "Aggressive Port Scan" from this many distinct ports.
    pub aggressive_ports: u32,
    /// ScanType "IP Block Sweep" from this many distinct hosts.
    pub sweep_ips: u32,
    /// ScanType "Limited IP Sweep" from this many distinct hosts (below it,
    /// a row that met a lowered `min_ips` is a "Suspicious Probe").
    pub limited_sweep_ips: u32,
    /// PortsTargeted lists at most this many (the smallest) ports.
    pub ports_listed: usize,
    /// ping-sweep: distinct hosts pinged in a bin, at least.
    pub ping_sweep_hosts: u32,
    /// small-sweep: distinct hosts with failed attempts in a bin, at least.
    pub small_sweep_hosts: u32,
    /// ack-scan: distinct hosts, or distinct ports, that reset a source's
    /// ACKs in a bin, at least.
    pub ack_scan_hosts: u32,
    pub ack_scan_ports: u32,
    /// stealth-scan: distinct ports, or distinct hosts, a source's
    /// FIN/NULL/XMAS probes reach in a bin, at least.
    pub stealth_scan_ports: u32,
    pub stealth_scan_hosts: u32,
    /// trw: the chance that a benign source's first contact succeeds, and
    /// a scanner's; the wanted detection and false-positive probabilities
    /// (Jung et al. 2004's values).
    pub trw_theta0: f64,
    pub trw_theta1: f64,
    pub trw_detection: f64,
    pub trw_false_positive: f64,
    /// slow-scan: distinct hosts, or distinct ports, a source's failed
    /// attempts reach within the horizon, at least; and the horizon.
    pub slow_scan_hosts: u32,
    pub slow_scan_ports: u32,
    pub slow_scan_horizon: Nanos,
    /// web-probe: distinct listed sensitive paths a client asks for in a
    /// bin (with mostly error answers), at least.
    pub web_probe_paths: u32,
    /// Sources in these networks are never candidates.
    pub home: Vec<IpNet>,
    /// Authorised scanners: rows are suppressed but counted.
    pub allow: Vec<IpNet>,
}

impl Default for Detection {
    fn default() -> Self {
        Detection {
            bin: 300 * NANOS_PER_SEC,
            answer_timeout: 5 * NANOS_PER_SEC,
            min_ports: 10,
            min_ips: 5,
            min_attempts: 30,
            aggressive_ports: 20,
            sweep_ips: 10,
            limited_sweep_ips: 5,
            ports_listed: 50,
            ping_sweep_hosts: 10,
            small_sweep_hosts: 10,
            ack_scan_hosts: 10,
            ack_scan_ports: 10,
            stealth_scan_ports: 5,
            stealth_scan_hosts: 5,
            trw_theta0: 0.8,
            trw_theta1: 0.2,
            trw_detection: 0.99,
            trw_false_positive: 0.01,
            slow_scan_hosts: 8,
            slow_scan_ports: 15,
            slow_scan_horizon: 6 * 3600 * NANOS_PER_SEC,
            web_probe_paths: 3,
            home: default_home_networks(),
            allow: Vec::new(),
        }
    }
}

/// RFC 1918, loopback, link-local and IPv6 unique-local/link-local ranges.
pub const DEFAULT_HOME: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
];

pub fn default_home_networks() -> Vec<IpNet> {
    DEFAULT_HOME
        .iter()
        .map(|s| s.parse().expect("built-in network is valid"))
        .collect()
}

pub fn contains(nets: &[IpNet], addr: &IpAddr) -> bool {
    nets.iter().any(|n| n.contains(addr))
}

/// Networks as (address, mask) integer pairs per family: membership is a
/// few AND-and-compare steps per network, for the per-probe home check
/// that several rules make on every attempt. A bitmap of the first bytes
/// any network can match answers first: most addresses a perimeter sensor
/// checks (scanners, the internet) are in none, and are told so at once.
#[derive(Clone, Debug, Default)]
pub struct NetSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
    v4_first: FirstBytes,
    v6_first: FirstBytes,
}

/// Which values of an address's first byte some network may match.
#[derive(Clone, Copy, Debug, Default)]
struct FirstBytes([u64; 4]);

impl FirstBytes {
    /// Add every first byte `b` with `b & mask == net` (the network's and
    /// its mask's first bytes).
    fn add(&mut self, net: u8, mask: u8) {
        for b in 0..=255u8 {
            if b & mask == net {
                self.0[usize::from(b >> 6)] |= 1 << (b & 63);
            }
        }
    }

    #[inline(always)]
    fn has(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }
}

impl NetSet {
    pub fn new(nets: &[IpNet]) -> Self {
        let mut set = NetSet::default();
        for n in nets {
            match n {
                IpNet::V4(n) => {
                    let (net, mask) = (u32::from(n.network()), u32::from(n.netmask()));
                    set.v4.push((net, mask));
                    set.v4_first.add((net >> 24) as u8, (mask >> 24) as u8);
                }
                IpNet::V6(n) => {
                    let (net, mask) = (u128::from(n.network()), u128::from(n.netmask()));
                    set.v6.push((net, mask));
                    set.v6_first.add((net >> 120) as u8, (mask >> 120) as u8);
                }
            }
        }
        set
    }

    #[inline]
    pub fn contains(&self, addr: &IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => {
                let a = u32::from(*a);
                self.v4_first.has((a >> 24) as u8)
                    && self.v4.iter().any(|&(net, mask)| a & mask == net)
            }
            IpAddr::V6(a) => {
                let a = u128::from(*a);
                self.v6_first.has((a >> 120) as u8)
                    && self.v6.iter().any(|&(net, mask)| a & mask == net)
            }
        }
    }
}

/// Memory bounds for hostile traffic, for the whole sensor (split evenly
/// across aggregator threads).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Tracked (source, bin) entries.
    pub max_sources: usize,
    /// Attempts waiting for an answer.
    pub max_pending: usize,
    /// UDP flows remembered to tell new datagrams from old.
    pub max_udp_flows: usize,
    /// Distinct destinations remembered per (source, bin); beyond it the
    /// count stops growing and the row says it is a lower bound.
    pub max_dests_per_source: usize,
    /// Heap bytes of all (source, bin) entries' port and host sets; beyond
    /// it the lightest sources are evicted.
    pub max_set_bytes: usize,
    /// Sources the slow-scan rule follows over its horizon (in the
    /// merger, not split); beyond it the narrowest are given up.
    pub max_slow_sources: usize,
    /// The smallest share of a cap one aggregator gets (tables that small
    /// cost nothing; the fuzz targets lower it to reach evictions).
    pub min_share: usize,
}

impl Default for Limits {
    /// Caps sized to 7/8 of a power of two, the most a hash table of that
    /// many buckets holds before it doubles (sources: 6/8, which every
    /// rule's per-source table follows, so that with every rule on a
    /// spoofed flood stays under 512 MiB resident, with room to spare:
    /// BENCHMARKS.md).
    fn default() -> Self {
        Limits {
            max_sources: 6 << 16,
            max_pending: 7 << 18,
            max_udp_flows: 7 << 16,
            max_dests_per_source: 1 << 16,
            max_set_bytes: 128 << 20,
            max_slow_sources: 7 << 13,
            min_share: 1024,
        }
    }
}

impl Limits {
    /// A cap of `n` entries split among `shards` aggregators (each gets
    /// at least `min_share`).
    pub fn share(&self, n: usize, shards: usize) -> usize {
        (n / shards.max(1)).max(self.min_share)
    }

    /// This limit's share for one of `shards` aggregators.
    pub fn per_shard(&self, shards: usize) -> Limits {
        let share = |n: usize| self.share(n, shards);
        Limits {
            max_sources: share(self.max_sources),
            max_pending: share(self.max_pending),
            max_udp_flows: share(self.max_udp_flows),
            max_dests_per_source: self.max_dests_per_source,
            max_set_bytes: (self.max_set_bytes / shards.max(1)).max(self.min_share << 10),
            max_slow_sources: self.max_slow_sources,
            min_share: self.min_share,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_set_agrees_with_ipnet() {
        let mut nets = default_home_networks();
        nets.push("203.0.113.128/25".parse().unwrap());
        nets.push("2001:db8:1::/48".parse().unwrap());
        nets.push("192.0.2.7/32".parse().unwrap());
        // Masks shorter than a byte: several first bytes each.
        nets.push("96.0.0.0/4".parse().unwrap());
        nets.push("2c00::/6".parse().unwrap());
        let set = NetSet::new(&nets);
        let everything = ["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()];
        let all = NetSet::new(&everything);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut probes: Vec<IpAddr> = [
            "10.0.0.1",
            "11.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "172.32.0.1",
            "192.168.1.1",
            "192.0.2.7",
            "192.0.2.8",
            "203.0.113.127",
            "203.0.113.128",
            "::1",
            "::2",
            "fd00::1",
            "fe80::1",
            "2001:db8:1::9",
            "2001:db8:2::9",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            probes.push(IpAddr::from((x as u32).to_be_bytes()));
            probes.push(IpAddr::from(
                ((x as u128) << 64 | (x as u128 >> 3)).to_be_bytes(),
            ));
        }
        for a in &probes {
            assert_eq!(set.contains(a), contains(&nets, a), "{a}");
            assert!(all.contains(a), "{a}");
        }
    }
}
