//! Web vulnerability probing (`web-probe`, MITRE T1595.003): cleartext
//! HTTP requests from one client, in one bin, for at least 3 distinct
//! well-known sensitive paths (`data/web-probe-paths.txt`) with mostly
//! 404/403/401 answers, or any request whose User-Agent names a scanner
//! (`data/scanner-agents.txt`). Decode reads the first bytes of each
//! segment on ports 80 and 8080 (`decode::http`); this rule counts, per
//! (client, bin), the paths asked for, the agent named, and the answers'
//! status codes.

use std::collections::hash_map::Entry;
use std::net::IpAddr;

use ahash::AHashMap;

use super::seed::{DEVICE_PRODUCT, DEVICE_VENDOR};
use super::{evict_lightest, Judgement, Rule, RuleCounters, RuleShard};
use crate::config::{self, Detection, Limits};
use crate::decode::http::LISTS;
use crate::event::{Event, Kind, Outcome};
use crate::finding::{Finding, Value};
use crate::time::Nanos;

#[derive(Clone, Debug)]
pub struct WebProbe {
    /// Distinct listed paths a client asks for in a bin, at least...
    pub min_paths: u32,
    /// ...with at least this share of its answers 401, 403 or 404.
    pub min_error_share: f64,
    bin: Nanos,
    /// Memory caps, shared with the other rules.
    limits: Limits,
    allow: Vec<ipnet::IpNet>,
}

/// One shard's piece of one (client, bin).
#[derive(Clone, Debug)]
pub struct WebPiece {
    pub bin: i64,
    pub src: IpAddr,
    pub requests: u64,
    /// Which listed paths (bit i: entry i of the list).
    pub paths: [u64; 4],
    /// The first listed agent seen (1-based; 0 none).
    pub agent: u8,
    pub answers: u64,
    /// Answers 401, 403 or 404.
    pub errors: u64,
    pub first: Nanos,
    pub last: Nanos,
}

impl WebPiece {
    fn new(bin: i64, src: IpAddr, t: Nanos) -> Self {
        WebPiece {
            bin,
            src,
            requests: 0,
            paths: [0; 4],
            agent: 0,
            answers: 0,
            errors: 0,
            first: t,
            last: t,
        }
    }

    fn distinct_paths(&self) -> u32 {
        self.paths.iter().map(|w| w.count_ones()).sum()
    }

    /// The listed paths asked for, in list order.
    fn path_names(&self) -> Vec<&'static str> {
        let lists: &'static _ = &*LISTS;
        (0..256)
            .filter(|i| self.paths[i / 64] & (1 << (i % 64)) != 0)
            .filter_map(|i| lists.path_names.get(i).copied())
            .collect()
    }
}

impl Rule for WebProbe {
    const NAME: &'static str = "web-probe";
    type Shard = WebProbeShard;
    type Partial = WebPiece;
    type Update = ();
    type Notice = ();
    type Live = ();

    fn configure(det: &Detection, limits: &Limits) -> Self {
        WebProbe {
            min_paths: det.web_probe_paths,
            min_error_share: 0.5,
            bin: det.bin,
            limits: limits.clone(),
            allow: det.allow.clone(),
        }
    }

    fn shard(&self, shards: usize) -> WebProbeShard {
        WebProbeShard {
            bin: self.bin.max(1),
            // HTTP requests and answers are a small share of the traffic
            // and only clients that make them get an entry: a sixteenth of
            // the seed rule's entries.
            cap: self.limits.share(self.limits.max_sources / 16, shards),
            pieces: AHashMap::new(),
            closed_through: i64::MIN,
            evicted: 0,
        }
    }

    fn key(p: &WebPiece) -> (i64, IpAddr) {
        (p.bin, p.src)
    }

    fn merge(into: &mut WebPiece, p: WebPiece) {
        into.requests += p.requests;
        for (a, b) in into.paths.iter_mut().zip(p.paths) {
            *a |= b;
        }
        // The agent of the earlier piece, so the row does not depend on
        // which shard came first.
        if into.agent == 0 || (p.agent != 0 && p.first < into.first) {
            into.agent = p.agent;
        }
        into.answers += p.answers;
        into.errors += p.errors;
        into.first = into.first.min(p.first);
        into.last = into.last.max(p.last);
    }

    fn evaluate(&self, p: &WebPiece) -> Judgement {
        let paths = p.distinct_paths();
        let mostly_errors =
            p.answers > 0 && p.errors as f64 >= self.min_error_share * p.answers as f64;
        let by_paths = paths >= self.min_paths && mostly_errors;
        if p.requests == 0 || !(by_paths || p.agent != 0) {
            return Judgement::Below;
        }
        if config::contains(&self.allow, &p.src) {
            return Judgement::Allowed;
        }
        let lists: &'static _ = &*LISTS;
        let agent = (p.agent > 0).then(|| lists.agent_names[p.agent as usize - 1]);
        let scan_type = if by_paths {
            "Web Vulnerability Scan"
        } else {
            "Web Scanner User Agent"
        };
        let mut fields = vec![
            ("TimeGenerated", Value::WindowTime(p.bin * self.bin)),
            ("SourceIP", Value::Ip(p.src)),
            ("ScanType", Value::Text(scan_type)),
            ("Requests", Value::Count(p.requests)),
            ("SensitivePaths", Value::Count(paths.into())),
            ("PathsRequested", Value::Names(p.path_names())),
        ];
        if let Some(agent) = agent {
            fields.push(("ScannerAgent", Value::Text(agent)));
        }
        fields.extend([
            ("Answers", Value::Count(p.answers)),
            ("ErrorAnswers", Value::Count(p.errors)),
            ("FirstSeen", Value::Time(p.first)),
            ("LastSeen", Value::Time(p.last)),
            ("DeviceVendor", Value::Text(DEVICE_VENDOR)),
            ("DeviceProduct", Value::Text(DEVICE_PRODUCT)),
            ("Technique", Value::Text("T1595.003")),
        ]);
        if p.agent > 0 {
            // The agent names the tool: a header anyone can write, so
            // medium at most (the fingerprint leaves the row alone).
            let tool = lists.agent_tools[p.agent as usize - 1].as_str();
            fields.push(("Tool", Value::Text(tool)));
            fields.push(("ToolConfidence", Value::Text("medium")));
        }
        Judgement::Report(Finding {
            rule: Self::NAME,
            window_start: p.bin * self.bin,
            source: p.src,
            weight: p.requests,
            detected_at: None,
            fields,
        })
    }
}

/// The rule on one shard.
pub struct WebProbeShard {
    bin: Nanos,
    cap: usize,
    pieces: AHashMap<(IpAddr, i64), WebPiece>,
    closed_through: i64,
    evicted: u64,
}

impl WebProbeShard {
    /// The client's piece for the bin of `t`, if that bin is open.
    fn piece(&mut self, client: IpAddr, t: Nanos) -> Option<&mut WebPiece> {
        let bin = t.div_euclid(self.bin);
        if bin <= self.closed_through {
            return None;
        }
        if self.pieces.len() >= self.cap && !self.pieces.contains_key(&(client, bin)) {
            let keep = self.cap * 3 / 8;
            self.evicted += evict_lightest(&mut self.pieces, keep, |p| p.requests + p.answers);
        }
        Some(match self.pieces.entry((client, bin)) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(WebPiece::new(bin, client, t)),
        })
    }
}

impl RuleShard for WebProbeShard {
    type Partial = WebPiece;
    type Update = ();
    type Notice = ();

    #[inline]
    fn observe(&mut self, _o: &Outcome) {}

    fn observe_event(&mut self, ev: &Event) {
        match ev.kind {
            Kind::HttpRequest(r) => {
                if let Some(p) = self.piece(ev.src, ev.ts) {
                    p.requests += 1;
                    if r.path > 0 {
                        let i = r.path as usize - 1;
                        p.paths[i / 64] |= 1 << (i % 64);
                    }
                    if p.agent == 0 {
                        p.agent = r.agent;
                    }
                    p.first = p.first.min(ev.ts);
                    p.last = p.last.max(ev.ts);
                }
            }
            Kind::HttpStatus(status) => {
                // Answers count only for clients that asked something
                // in the bin: a server's answers to everyone else need no
                // entry.
                let bin = ev.ts.div_euclid(self.bin);
                if let Some(p) = self.pieces.get_mut(&(ev.dst, bin)) {
                    p.answers += 1;
                    p.errors += matches!(status, 401 | 403 | 404) as u64;
                }
            }
            _ => {}
        }
    }

    fn close_through(&mut self, through: i64, out: &mut Vec<WebPiece>) {
        if through <= self.closed_through {
            return;
        }
        self.closed_through = through;
        self.pieces.retain(|&(_, bin), p| {
            if bin > through {
                return true;
            }
            out.push(p.clone());
            false
        });
    }

    fn count(&self, c: &mut RuleCounters) {
        c.sources_evicted += self.evicted;
    }
}
