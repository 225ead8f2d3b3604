//! Stealth scan (`stealth-scan`): FIN, NULL and XMAS probes (nmap -sF,
//! -sN, -sX) from one source to >= 5 distinct ports or >= 5 distinct hosts
//! in one bin, with the probe types in the row.
//!
//! A TCP segment with none of SYN, ACK and RST opens no connection and
//! belongs to none (every segment after the first SYN carries an ACK), so
//! no client sends one: each is a probe, counted when it is read, whether
//! or not a RST answers it. The seed rule counts them among its failed
//! attempts too; this rule reports them at lower thresholds, since one is
//! already no accident. Maimon's FIN+ACK probe (nmap -sM) carries an ACK
//! and looks like the end of a connection until its answer: the RST
//! without ACK that a host gives to an ACK for a connection it does not
//! have, which the `ack-scan` rule counts.

use std::net::IpAddr;

use super::spread::{SpreadPartial, SpreadTable};
use super::{Judgement, Rule, RuleCounters, RuleShard};
use crate::config::{self, Detection, Limits, NetSet};
use crate::event::{Event, Kind, Outcome, Stealth};
use crate::finding::Value;
use crate::time::Nanos;

#[derive(Clone, Debug)]
pub struct StealthScan {
    /// Distinct ports probed by one source in one bin...
    pub min_ports: u32,
    /// ...or distinct hosts, at least.
    pub min_hosts: u32,
    pub bin: Nanos,
    pub home: Vec<ipnet::IpNet>,
    pub allow: Vec<ipnet::IpNet>,
    pub ports_listed: usize,
    pub limits: Limits,
}

/// `ProbeTypes` for each set of types seen (bit i: `Stealth::ALL[i]`).
const TYPE_SETS: [&str; 16] = [
    "",
    "FIN",
    "NULL",
    "FIN,NULL",
    "XMAS",
    "FIN,XMAS",
    "NULL,XMAS",
    "FIN,NULL,XMAS",
    "PSH/URG",
    "FIN,PSH/URG",
    "NULL,PSH/URG",
    "FIN,NULL,PSH/URG",
    "XMAS,PSH/URG",
    "FIN,XMAS,PSH/URG",
    "NULL,XMAS,PSH/URG",
    "FIN,NULL,XMAS,PSH/URG",
];

impl StealthScan {
    /// ScanType: the probe type's scan when there is one type, else
    /// "Stealth Scan".
    fn scan_type(kinds: &[u64; 4]) -> &'static str {
        match kinds {
            [_, 0, 0, 0] => "FIN Scan",
            [0, _, 0, 0] => "NULL Scan",
            [0, 0, _, 0] => "XMAS Scan",
            _ => "Stealth Scan",
        }
    }

    fn type_set(kinds: &[u64; 4]) -> &'static str {
        let bits = kinds
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .fold(0, |b, (i, _)| b | 1 << i);
        TYPE_SETS[bits]
    }
}

impl Rule for StealthScan {
    const NAME: &'static str = "stealth-scan";
    type Shard = StealthShard;
    type Partial = SpreadPartial;
    type Update = ();
    type Notice = ();
    type Live = ();

    fn configure(det: &Detection, limits: &Limits) -> Self {
        StealthScan {
            min_ports: det.stealth_scan_ports,
            min_hosts: det.stealth_scan_hosts,
            bin: det.bin,
            home: det.home.clone(),
            allow: det.allow.clone(),
            ports_listed: det.ports_listed,
            limits: limits.clone(),
        }
    }

    fn shard(&self, shards: usize) -> StealthShard {
        StealthShard(SpreadTable::for_shard(self.bin, &self.limits, shards))
    }

    fn key(p: &SpreadPartial) -> (i64, IpAddr) {
        p.key()
    }

    fn merge(into: &mut SpreadPartial, p: SpreadPartial) {
        into.merge(p);
    }

    fn evaluate(&self, p: &SpreadPartial) -> Judgement {
        let ports = p.ports.len();
        if ports < self.min_ports && p.hosts < self.min_hosts {
            return Judgement::Below;
        }
        if config::contains(&self.allow, &p.src) {
            return Judgement::Allowed;
        }
        let inside = NetSet::new(&self.home).contains(&p.src);
        let count = |t: Stealth| Value::Count(p.kinds[t as usize]);
        Judgement::Report(p.finding(
            Self::NAME,
            self.bin,
            Self::scan_type(&p.kinds),
            vec![("ProbeTypes", Value::Text(Self::type_set(&p.kinds)))],
            vec![
                ("FinProbes", count(Stealth::Fin)),
                ("NullProbes", count(Stealth::Null)),
                ("XmasProbes", count(Stealth::Xmas)),
            ],
            self.ports_listed,
            inside,
        ))
    }
}

/// Each source's stealth probes per bin.
pub struct StealthShard(SpreadTable);

impl RuleShard for StealthShard {
    type Partial = SpreadPartial;
    type Update = ();
    type Notice = ();

    #[inline]
    fn observe(&mut self, _o: &Outcome) {}

    /// A new attempt (a retransmission is not one): counted when read.
    #[inline]
    fn observe_opened(&mut self, ev: &Event, _clock: Nanos) {
        if let Kind::Stealth(t) = ev.kind {
            // Port 0 is no service (and the seed rule leaves it out too).
            if ev.dport != 0 {
                self.0.record(ev.src, ev.dst, ev.dport, ev.ts, t as usize);
            }
        }
    }

    fn close_through(&mut self, through: i64, out: &mut Vec<SpreadPartial>) {
        self.0.close_through(through, out);
    }

    fn count(&self, c: &mut RuleCounters) {
        self.0.count(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_type_and_probe_types_follow_the_types_seen() {
        let k = |f, n, x, o| [f, n, x, o];
        assert_eq!(StealthScan::scan_type(&k(9, 0, 0, 0)), "FIN Scan");
        assert_eq!(StealthScan::scan_type(&k(0, 3, 0, 0)), "NULL Scan");
        assert_eq!(StealthScan::scan_type(&k(0, 0, 5, 0)), "XMAS Scan");
        assert_eq!(StealthScan::scan_type(&k(1, 0, 5, 0)), "Stealth Scan");
        assert_eq!(StealthScan::scan_type(&k(0, 0, 0, 2)), "Stealth Scan");
        assert_eq!(StealthScan::type_set(&k(1, 0, 5, 0)), "FIN,XMAS");
        assert_eq!(
            StealthScan::type_set(&k(1, 1, 1, 1)),
            "FIN,NULL,XMAS,PSH/URG"
        );
        for (i, t) in Stealth::ALL.into_iter().enumerate() {
            assert_eq!(t as usize, i, "kinds index by declaration order");
            assert_eq!(TYPE_SETS[1 << i], t.name());
        }
    }
}
