//! Ping sweep (`ping-sweep`; detection contract 6.3): ICMP and ICMPv6
//! echo requests from one source to >= 10 distinct hosts in one bin,
//! answered or not. Snort's `icmp_sweep` counts ICMPv4 only; this counts
//! both. Every source is a candidate, inside the home networks too (a
//! host inside sweeping its own network is discovery, MITRE T1018); the
//! allow list (monitoring systems that ping many hosts) applies.

use std::collections::hash_map::Entry;
use std::net::IpAddr;

use ahash::AHashMap;

use super::{Judgement, Rule, RuleCounters, RuleShard};
use crate::config::{self, Detection, Limits};
use crate::event::{Event, Kind, Outcome};
use crate::finding::{Finding, Value};
use crate::rules::seed::{DEVICE_PRODUCT, DEVICE_VENDOR};
use crate::time::Nanos;

#[derive(Clone, Debug)]
pub struct PingSweep {
    /// Distinct hosts pinged in one bin, at least.
    pub min_hosts: u32,
    pub bin: Nanos,
    pub allow: Vec<ipnet::IpNet>,
    /// Sources tracked at once (`max_sources`, split across shards).
    pub limits: Limits,
    /// Hosts remembered per (source, bin); beyond it the count is a lower
    /// bound.
    pub max_hosts: usize,
}

/// One shard's piece of a (source, bin): the hosts it owns (sharding is
/// by address pair, so pieces hold disjoint hosts and their counts add).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingPartial {
    pub bin: i64,
    pub src: IpAddr,
    pub hosts: u32,
    pub answered: u32,
    pub requests: u64,
    pub first: Nanos,
    pub last: Nanos,
    pub hosts_saturated: bool,
}

impl Rule for PingSweep {
    const NAME: &'static str = "ping-sweep";
    type Shard = PingShard;
    type Partial = PingPartial;
    type Update = ();
    type Notice = ();
    type Live = ();

    fn configure(det: &Detection, limits: &Limits) -> Self {
        PingSweep {
            min_hosts: det.ping_sweep_hosts,
            bin: det.bin,
            allow: det.allow.clone(),
            limits: limits.clone(),
            max_hosts: limits.max_dests_per_source,
        }
    }

    fn shard(&self, shards: usize) -> PingShard {
        PingShard {
            bin: self.bin,
            cap: self.limits.per_shard(shards).max_sources,
            max_hosts: self.max_hosts.max(1),
            pings: AHashMap::default(),
            evicted: 0,
            saturated: 0,
            peak: 0,
        }
    }

    fn key(p: &PingPartial) -> (i64, IpAddr) {
        (p.bin, p.src)
    }

    fn merge(into: &mut PingPartial, p: PingPartial) {
        into.hosts += p.hosts;
        into.answered += p.answered;
        into.requests += p.requests;
        into.first = into.first.min(p.first);
        into.last = into.last.max(p.last);
        into.hosts_saturated |= p.hosts_saturated;
    }

    fn evaluate(&self, p: &PingPartial) -> Judgement {
        if p.hosts < self.min_hosts {
            return Judgement::Below;
        }
        if config::contains(&self.allow, &p.src) {
            return Judgement::Allowed;
        }
        Judgement::Report(Finding {
            rule: Self::NAME,
            window_start: p.bin * self.bin,
            source: p.src,
            weight: p.requests,
            detected_at: None,
            fields: vec![
                ("TimeGenerated", Value::WindowTime(p.bin * self.bin)),
                ("SourceIP", Value::Ip(p.src)),
                ("ScanType", Value::Text("Ping Sweep")),
                ("UniqueDestIPs", Value::Count(p.hosts.into())),
                ("TotalAttempts", Value::Count(p.requests)),
                ("AnsweredHosts", Value::Count(p.answered.into())),
                ("FirstSeen", Value::Time(p.first)),
                ("LastSeen", Value::Time(p.last)),
                ("DeviceVendor", Value::Text(DEVICE_VENDOR)),
                ("DeviceProduct", Value::Text(DEVICE_PRODUCT)),
                ("Technique", Value::Text("T1595.001")),
                ("UniqueDestIPsIsLowerBound", Value::Flag(p.hosts_saturated)),
            ],
        })
    }
}

/// One source's pings in one bin.
struct Pings {
    /// Host pinged -> it answered.
    hosts: AHashMap<IpAddr, bool>,
    requests: u64,
    first: Nanos,
    last: Nanos,
    saturated: bool,
}

pub struct PingShard {
    bin: Nanos,
    cap: usize,
    max_hosts: usize,
    /// Keyed by (source, bin). Random per-process hash keys: sources are
    /// chosen by whoever sends the pings.
    pings: AHashMap<(IpAddr, i64), Pings>,
    evicted: u64,
    /// (source, bin)s whose host count stopped at the cap.
    saturated: u64,
    peak: usize,
}

impl PingShard {
    fn request(&mut self, ev: &Event) {
        let key = (ev.src, ev.ts.div_euclid(self.bin));
        if self.pings.len() >= self.cap && !self.pings.contains_key(&key) {
            self.evict();
        }
        let p = match self.pings.entry(key) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(Pings {
                hosts: AHashMap::default(),
                requests: 0,
                first: ev.ts,
                last: ev.ts,
                saturated: false,
            }),
        };
        p.requests += 1;
        p.first = p.first.min(ev.ts);
        p.last = p.last.max(ev.ts);
        if p.hosts.len() < self.max_hosts {
            p.hosts.entry(ev.dst).or_insert(false);
        } else if !p.saturated && !p.hosts.contains_key(&ev.dst) {
            p.saturated = true;
            self.saturated += 1;
        }
        self.peak = self.peak.max(self.pings.len());
    }

    /// A reply from `ev.src` to the pinger `ev.dst`: in the reply's bin, or
    /// the one before (a request late in a bin is answered in the next).
    fn reply(&mut self, ev: &Event) {
        let bin = ev.ts.div_euclid(self.bin);
        for b in [bin, bin - 1] {
            if let Some(answered) = self
                .pings
                .get_mut(&(ev.dst, b))
                .and_then(|p| p.hosts.get_mut(&ev.src))
            {
                *answered = true;
                return;
            }
        }
    }

    /// Full: keep the heaviest 3/8 of the sources (by requests), drop the
    /// rest, counted.
    #[cold]
    fn evict(&mut self) {
        self.evicted += super::evict_lightest(&mut self.pings, self.cap * 3 / 8, |p| p.requests);
    }
}

impl RuleShard for PingShard {
    type Partial = PingPartial;
    type Update = ();
    type Notice = ();

    #[inline]
    fn observe(&mut self, _o: &Outcome) {}

    fn observe_event(&mut self, ev: &Event) {
        match ev.kind {
            Kind::EchoRequest => self.request(ev),
            Kind::EchoReply => self.reply(ev),
            _ => {}
        }
    }

    fn close_through(&mut self, through: i64, out: &mut Vec<PingPartial>) {
        self.pings.retain(|&(src, bin), p| {
            if bin > through {
                return true;
            }
            out.push(PingPartial {
                bin,
                src,
                hosts: p.hosts.len() as u32,
                answered: p.hosts.values().filter(|a| **a).count() as u32,
                requests: p.requests,
                first: p.first,
                last: p.last,
                hosts_saturated: p.saturated,
            });
            false
        });
    }

    fn count(&self, c: &mut RuleCounters) {
        c.sources_evicted += self.evicted;
        c.dest_sets_saturated += self.saturated;
        c.sources_now += self.pings.len() as u64;
        c.peak_sources += self.peak as u64;
    }
}
