//! ACK sweep / ACK scan (`ack-scan`; detection contract 6.4): bare ACKs
//! (nmap -PA, -sA, -sW) from one source to >= 10 distinct hosts or >= 10
//! distinct ports in one bin.
//!
//! Counted from the answers: a host that receives an ACK for a connection
//! it does not have answers with a RST that carries no ACK of its own
//! (RFC 9293), and a RST without ACK that answers no probe of ours is
//! exactly that. So a counted ACK is one the target itself said belongs to
//! no connection: ACKs within connections seen open (answered by data or
//! ACKs, never by such a RST) never count, and under asymmetric routing
//! (one direction of each connection missing) nothing is counted, since
//! no such RST is there. The price: ACK probes that nobody answers (an
//! empty address block, a filtering firewall) are not counted; the
//! contract's "most counted ACKs answered by RST" is thus "all".

use std::collections::hash_map::Entry;
use std::net::IpAddr;

use ahash::{AHashMap, AHashSet};

use super::seed::{DEVICE_PRODUCT, DEVICE_VENDOR};
use super::{Judgement, Rule, RuleCounters, RuleShard};
use crate::config::{self, Detection, Limits, NetSet};
use crate::event::{Event, Kind, Outcome};
use crate::finding::{Finding, Value};
use crate::sketch::portset::PortSet;
use crate::time::Nanos;

#[derive(Clone, Debug)]
pub struct AckScan {
    /// Distinct hosts that reset an ACK from the source in one bin...
    pub min_hosts: u32,
    /// ...or distinct ports, at least.
    pub min_ports: u32,
    pub bin: Nanos,
    pub home: Vec<ipnet::IpNet>,
    pub allow: Vec<ipnet::IpNet>,
    pub ports_listed: usize,
    pub limits: Limits,
}

/// One shard's piece of a (source, bin): its hosts are its own (sharding
/// is by address pair), its ports may overlap other pieces'.
#[derive(Clone, Debug)]
pub struct AckPartial {
    pub bin: i64,
    pub src: IpAddr,
    pub hosts: u32,
    pub ports: PortSet,
    pub resets: u64,
    pub first: Nanos,
    pub last: Nanos,
    pub hosts_saturated: bool,
}

impl Rule for AckScan {
    const NAME: &'static str = "ack-scan";
    type Shard = AckShard;
    type Partial = AckPartial;
    type Update = ();
    type Notice = ();
    type Live = ();

    fn configure(det: &Detection, limits: &Limits) -> Self {
        AckScan {
            min_hosts: det.ack_scan_hosts,
            min_ports: det.ack_scan_ports,
            bin: det.bin,
            home: det.home.clone(),
            allow: det.allow.clone(),
            ports_listed: det.ports_listed,
            limits: limits.clone(),
        }
    }

    fn shard(&self, shards: usize) -> AckShard {
        AckShard {
            bin: self.bin,
            cap: self.limits.per_shard(shards).max_sources,
            max_hosts: self.limits.max_dests_per_source.max(1),
            acks: AHashMap::default(),
            evicted: 0,
            saturated: 0,
            peak: 0,
        }
    }

    fn key(p: &AckPartial) -> (i64, IpAddr) {
        (p.bin, p.src)
    }

    fn merge(into: &mut AckPartial, p: AckPartial) {
        into.hosts += p.hosts;
        into.ports.union_with(&p.ports);
        into.resets += p.resets;
        into.first = into.first.min(p.first);
        into.last = into.last.max(p.last);
        into.hosts_saturated |= p.hosts_saturated;
    }

    fn evaluate(&self, p: &AckPartial) -> Judgement {
        let ports = p.ports.len();
        let scan_type = if ports >= self.min_ports {
            "ACK Scan"
        } else if p.hosts >= self.min_hosts {
            "ACK Sweep"
        } else {
            return Judgement::Below;
        };
        if config::contains(&self.allow, &p.src) {
            return Judgement::Allowed;
        }
        let inside = NetSet::new(&self.home).contains(&p.src);
        Judgement::Report(Finding {
            rule: Self::NAME,
            window_start: p.bin * self.bin,
            source: p.src,
            weight: p.resets,
            detected_at: None,
            fields: vec![
                ("TimeGenerated", Value::WindowTime(p.bin * self.bin)),
                ("SourceIP", Value::Ip(p.src)),
                ("ScanType", Value::Text(scan_type)),
                ("UniqueDestPorts", Value::Count(ports.into())),
                ("UniqueDestIPs", Value::Count(p.hosts.into())),
                ("TotalAttempts", Value::Count(p.resets)),
                (
                    "PortsTargeted",
                    Value::Ports(p.ports.smallest(self.ports_listed)),
                ),
                ("FirstSeen", Value::Time(p.first)),
                ("LastSeen", Value::Time(p.last)),
                ("DeviceVendor", Value::Text(DEVICE_VENDOR)),
                ("DeviceProduct", Value::Text(DEVICE_PRODUCT)),
                (
                    "Technique",
                    Value::Text(if inside { "T1046" } else { "T1595" }),
                ),
                ("UniqueDestIPsIsLowerBound", Value::Flag(p.hosts_saturated)),
            ],
        })
    }
}

/// The ACKs of one source in one bin that a target reset.
struct Acks {
    hosts: AHashSet<IpAddr>,
    ports: PortSet,
    resets: u64,
    first: Nanos,
    last: Nanos,
    saturated: bool,
}

pub struct AckShard {
    bin: Nanos,
    cap: usize,
    max_hosts: usize,
    /// Keyed by (source, bin), with per-process random hash keys.
    acks: AHashMap<(IpAddr, i64), Acks>,
    evicted: u64,
    saturated: u64,
    peak: usize,
}

impl AckShard {
    /// `ev`: a RST without ACK from a target to the source of an ACK.
    fn reset(&mut self, ev: &Event) {
        let key = (ev.dst, ev.ts.div_euclid(self.bin));
        if self.acks.len() >= self.cap && !self.acks.contains_key(&key) {
            self.evicted += super::evict_lightest(&mut self.acks, self.cap * 3 / 8, |a| a.resets);
        }
        let a = match self.acks.entry(key) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(Acks {
                hosts: AHashSet::default(),
                ports: PortSet::default(),
                resets: 0,
                first: ev.ts,
                last: ev.ts,
                saturated: false,
            }),
        };
        a.resets += 1;
        a.first = a.first.min(ev.ts);
        a.last = a.last.max(ev.ts);
        // The RST comes from the port the ACK went to.
        a.ports.insert(ev.sport);
        if a.hosts.len() < self.max_hosts {
            a.hosts.insert(ev.src);
        } else if !a.saturated && !a.hosts.contains(&ev.src) {
            a.saturated = true;
            self.saturated += 1;
        }
        self.peak = self.peak.max(self.acks.len());
    }
}

impl RuleShard for AckShard {
    type Partial = AckPartial;
    type Update = ();
    type Notice = ();

    #[inline]
    fn observe(&mut self, _o: &Outcome) {}

    fn observe_event(&mut self, ev: &Event) {
        if ev.kind == Kind::RstNoAck {
            self.reset(ev);
        }
    }

    fn close_through(&mut self, through: i64, out: &mut Vec<AckPartial>) {
        self.acks.retain(|&(src, bin), a| {
            if bin > through {
                return true;
            }
            out.push(AckPartial {
                bin,
                src,
                hosts: a.hosts.len() as u32,
                ports: std::mem::take(&mut a.ports),
                resets: a.resets,
                first: a.first,
                last: a.last,
                hosts_saturated: a.saturated,
            });
            false
        });
    }

    fn count(&self, c: &mut RuleCounters) {
        c.sources_evicted += self.evicted;
        c.dest_sets_saturated += self.saturated;
        c.sources_now += self.acks.len() as u64;
        c.peak_sources += self.peak as u64;
    }
}
