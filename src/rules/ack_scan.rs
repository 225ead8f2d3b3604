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

use std::net::IpAddr;

use super::spread::{SpreadPartial, SpreadTable};
use super::{Judgement, Rule, RuleCounters, RuleShard};
use crate::config::{self, Detection, Limits, NetSet};
use crate::event::{Event, Kind, Outcome};
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

impl Rule for AckScan {
    const NAME: &'static str = "ack-scan";
    type Shard = AckShard;
    type Partial = SpreadPartial;
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
        AckShard(SpreadTable::for_shard(self.bin, &self.limits, shards))
    }

    fn key(p: &SpreadPartial) -> (i64, IpAddr) {
        p.key()
    }

    fn merge(into: &mut SpreadPartial, p: SpreadPartial) {
        into.merge(p);
    }

    fn evaluate(&self, p: &SpreadPartial) -> Judgement {
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
        Judgement::Report(p.finding(
            Self::NAME,
            self.bin,
            scan_type,
            Vec::new(),
            Vec::new(),
            self.ports_listed,
            inside,
        ))
    }
}

/// The ACKs that targets reset, per (source, bin).
pub struct AckShard(SpreadTable);

impl RuleShard for AckShard {
    type Partial = SpreadPartial;
    type Update = ();
    type Notice = ();

    #[inline]
    fn observe(&mut self, _o: &Outcome) {}

    /// `ev`: a RST without ACK from a target to the source of an ACK; it
    /// comes from the port the ACK went to.
    fn observe_event(&mut self, ev: &Event) {
        if ev.kind == Kind::RstNoAck {
            self.0.record(ev.dst, ev.src, ev.sport, ev.ts, 0);
        }
    }

    fn close_through(&mut self, through: i64, out: &mut Vec<SpreadPartial>) {
        self.0.close_through(through, out);
    }

    fn count(&self, c: &mut RuleCounters) {
        self.0.count(c);
    }
}
