//! Scanner fingerprint (`fingerprint`): names the tool behind a source's
//! probes in a bin, from the header fields decode reads
//! (`decode::fingerprint`), and adds `Tool` and `ToolConfidence` to every
//! row about that source and bin, whichever rule wrote it. It writes no
//! rows of its own.
//!
//! Each shard counts, per (source, bin), the probes that point to each
//! tool (probes that point to none cost nothing here: a kernel's SYNs
//! never reach the table); the merger adds the shards' counts up and, as a
//! window is judged, names the tool that has at least `MIN_SHARE` of the
//! votes. ToolConfidence: `high` when the tool computes the evidence
//! (masscan's IP ID, zmap's) and two probes or more carry it; `medium` for
//! one such probe, or three or more with a tool's default window and
//! options (nmap, hping3); `low` for one or two of those.
//!
//! Rows written while their window is open (`early`) come before the
//! counts: the early rule names the tool itself, with [`Fingerprint::judge`]
//! over the votes of the failures that made the alert (each failure
//! carries its probe's tool).

use std::collections::hash_map::Entry;
use std::net::IpAddr;

use ahash::AHashMap;

use super::{evict_lightest, Judgement, MergeStats, Rule, RuleCounters, RuleShard};
use crate::config::{Detection, Limits};
use crate::event::{Event, Outcome, Tool};
use crate::finding::{Finding, Value};
use crate::time::Nanos;

/// Votes per named tool (`Tool::NAMED` order).
pub type Votes = [u32; Tool::NAMED.len()];

/// A tool is named when it has this share of the votes, at least.
const MIN_SHARE: f64 = 0.9;

#[derive(Clone, Debug)]
pub struct Fingerprint {
    bin: Nanos,
    /// Memory caps, shared with the other rules.
    limits: Limits,
}

/// One shard's votes for one (source, bin).
#[derive(Clone, Debug)]
pub struct ToolVotes {
    pub bin: i64,
    pub src: IpAddr,
    pub votes: Votes,
}

impl Fingerprint {
    /// The tool `votes` name, and how sure that is.
    pub fn judge(votes: &Votes) -> Option<(Tool, &'static str)> {
        let total: u32 = votes.iter().sum();
        let (i, &top) = votes.iter().enumerate().max_by_key(|(_, v)| **v)?;
        if top == 0 || (top as f64) < MIN_SHARE * total as f64 {
            return None;
        }
        let tool = Tool::NAMED[i];
        let confidence = match (tool.exact(), top) {
            (true, 2..) if top == total => "high",
            (true, _) | (false, 3..) => "medium",
            (false, _) => "low",
        };
        Some((tool, confidence))
    }
}

impl Rule for Fingerprint {
    const NAME: &'static str = "fingerprint";
    type Shard = FingerprintShard;
    type Partial = ToolVotes;
    type Update = ();
    type Notice = ();
    /// Merged votes of the windows being judged, by (window, source).
    type Live = AHashMap<(i64, IpAddr), Votes>;

    fn configure(det: &Detection, limits: &Limits) -> Self {
        Fingerprint {
            bin: det.bin,
            limits: limits.clone(),
        }
    }

    fn shard(&self, shards: usize) -> FingerprintShard {
        FingerprintShard {
            bin: self.bin,
            // Probes that point to a tool are rare outside scans: a
            // sixteenth of the seed rule's entries.
            cap: self.limits.share(self.limits.max_sources / 16, shards),
            votes: AHashMap::new(),
            closed_through: i64::MIN,
            evicted: 0,
        }
    }

    fn key(p: &ToolVotes) -> (i64, IpAddr) {
        (p.bin, p.src)
    }

    fn merge(into: &mut ToolVotes, p: ToolVotes) {
        for (a, b) in into.votes.iter_mut().zip(p.votes) {
            *a = a.saturating_add(b);
        }
    }

    fn evaluate(&self, _p: &ToolVotes) -> Judgement {
        Judgement::Below
    }

    fn judge_window(
        &self,
        live: &mut Self::Live,
        window: i64,
        partials: impl Iterator<Item = ToolVotes>,
        _out: &mut Vec<Finding>,
        _stats: &mut MergeStats,
    ) {
        for p in partials {
            live.insert((window, p.src), p.votes);
        }
    }

    fn annotate(&self, live: &mut Self::Live, ready: i64, findings: &mut [Finding]) {
        for f in findings.iter_mut() {
            if f.get("Tool").is_some() {
                // Named already, by the rule itself (web-probe's agent).
                continue;
            }
            let window = f.window_start.div_euclid(self.bin.max(1));
            if let Some((tool, confidence)) = live.get(&(window, f.source)).and_then(Self::judge) {
                f.fields.push(("Tool", Value::Text(tool.name())));
                f.fields.push(("ToolConfidence", Value::Text(confidence)));
            }
        }
        live.retain(|(window, _), _| *window > ready);
    }
}

/// Votes on one shard.
pub struct FingerprintShard {
    bin: Nanos,
    cap: usize,
    votes: AHashMap<(IpAddr, i64), Votes>,
    closed_through: i64,
    evicted: u64,
}

impl FingerprintShard {
    /// Count `ev`'s vote, if it has one.
    #[inline]
    fn vote(&mut self, ev: &Event) {
        let Some(i) = ev.tool.index() else {
            return;
        };
        let bin = ev.ts.div_euclid(self.bin.max(1));
        if bin <= self.closed_through {
            return;
        }
        let full = self.votes.len() >= self.cap;
        let v = match self.votes.entry((ev.src, bin)) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) if !full => e.insert(Votes::default()),
            Entry::Vacant(_) => {
                let keep = self.cap * 3 / 8;
                self.evicted +=
                    evict_lightest(&mut self.votes, keep, |v| v.iter().sum::<u32>().into());
                self.votes.entry((ev.src, bin)).or_default()
            }
        };
        v[i] = v[i].saturating_add(1);
    }
}

impl RuleShard for FingerprintShard {
    type Partial = ToolVotes;
    type Update = ();
    type Notice = ();

    #[inline]
    fn observe(&mut self, _o: &Outcome) {}

    /// A new probe (a retransmission is not one) that points to a tool.
    #[inline]
    fn observe_opened(&mut self, ev: &Event, _clock: Nanos) {
        self.vote(ev);
    }

    /// An echo request (the only event outside attempts decode names).
    #[inline]
    fn observe_event(&mut self, ev: &Event) {
        self.vote(ev);
    }

    fn close_through(&mut self, through: i64, out: &mut Vec<ToolVotes>) {
        if through <= self.closed_through {
            return;
        }
        self.closed_through = through;
        self.votes.retain(|&(src, bin), votes| {
            if bin > through {
                return true;
            }
            out.push(ToolVotes {
                bin,
                src,
                votes: *votes,
            });
            false
        });
    }

    fn count(&self, c: &mut RuleCounters) {
        c.sources_evicted += self.evicted;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_a_tool_with_most_of_the_votes_and_says_how_sure() {
        let judge = |v: Votes| Fingerprint::judge(&v).map(|(t, c)| (t.name(), c));
        assert_eq!(judge([0, 5, 0, 0]), Some(("masscan", "high")));
        assert_eq!(judge([0, 1, 0, 0]), Some(("masscan", "medium")));
        assert_eq!(judge([0, 0, 2, 0]), Some(("zmap", "high")));
        assert_eq!(judge([12, 0, 0, 0]), Some(("nmap", "medium")));
        assert_eq!(judge([2, 0, 0, 0]), Some(("nmap", "low")));
        assert_eq!(judge([0, 0, 0, 1]), Some(("hping3", "low")));
        // 19 of 20: named, but a mixed vote is at most medium.
        assert_eq!(judge([19, 0, 0, 1]), Some(("nmap", "medium")));
        assert_eq!(judge([0, 19, 0, 1]), Some(("masscan", "medium")));
        // Half and half: nobody.
        assert_eq!(judge([5, 5, 0, 0]), None);
        assert_eq!(judge([0, 0, 0, 0]), None);
    }
}
