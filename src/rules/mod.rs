//! Rules: policy over attempt outcomes.
//!
//! Attempt tracking (`track`) resolves every attempt to an [`Outcome`];
//! each rule observes the outcomes (and the events that are not attempts)
//! of one shard in its own per-shard state, closes windows into mergeable
//! partials, and, in the merger, adds up a (window, source)'s partials from
//! every shard and evaluates them into [`Finding`]s. A rule is one module
//! implementing [`Rule`] and one line in [`rule_set!`] below; the set is
//! statically dispatched, so the per-event path makes no virtual calls.
//!
//! A rule that alerts while its window is still open (`early`) also hands
//! the merger *updates* as its shards learn things, and the merger may
//! send every shard *notices* back; the merger judges updates in capture
//! time order up to the time through which every shard has reported
//! (its watermark), so the result never depends on thread timing.

pub mod ack_scan;
pub mod early;
pub mod fingerprint;
pub mod internal;
pub mod ping_sweep;
pub mod seed;
pub mod slow_scan;
pub mod small_sweep;
pub mod spread;
pub mod stealth_scan;
pub mod trw;
pub mod web_probe;

use std::collections::BTreeMap;
use std::net::IpAddr;

use ahash::AHashMap;

use crate::config::{Detection, Limits};
use crate::event::{Event, Outcome};
use crate::finding::Finding;
use crate::time::Nanos;
use slow_scan::SlowScan;
use small_sweep::SmallSweep;

/// What the merger makes of one (window, source)'s merged partial.
#[derive(Debug)]
pub enum Judgement {
    /// Below the rule's thresholds.
    Below,
    /// Over them, but the source is allow-listed: counted, not written.
    Allowed,
    Report(Finding),
}

/// One rule: its options (`Self`), its per-shard state and its partials.
pub trait Rule: Clone + Send + Sync + 'static {
    /// The `Rule` field of its findings, and its name in `--rules`.
    const NAME: &'static str;
    /// Per-shard state.
    type Shard: RuleShard<Partial = Self::Partial, Update = Self::Update, Notice = Self::Notice>;
    /// One shard's piece of one (window, source).
    type Partial: Send + 'static;

    /// The rule with its default options (taken from the detection
    /// settings and memory limits where it shares them).
    fn configure(det: &Detection, limits: &Limits) -> Self;
    /// State for one of `shards` shards (caps are split among them).
    fn shard(&self, shards: usize) -> Self::Shard;
    /// The (window, source) a partial belongs to.
    fn key(p: &Self::Partial) -> (i64, IpAddr);
    /// Add another shard's piece of the same (window, source).
    fn merge(into: &mut Self::Partial, p: Self::Partial);
    /// The merged partial, judged.
    fn evaluate(&self, p: &Self::Partial) -> Judgement;

    /// Judge one window's merged partials; windows come in order. Each on
    /// its own by default; a rule whose judgement carries over from window
    /// to window keeps that in `live`, and must not depend on the order
    /// of `partials`.
    fn judge_window(
        &self,
        _live: &mut Self::Live,
        _window: i64,
        partials: impl Iterator<Item = Self::Partial>,
        out: &mut Vec<Finding>,
        stats: &mut MergeStats,
    ) {
        for p in partials {
            record(self.evaluate(&p), out, stats);
        }
    }

    /// Add to the findings of every rule, windows up to `ready` (judged
    /// just now), what this rule knows about their sources (nothing by
    /// default; `fingerprint` names the tool).
    fn annotate(&self, _live: &mut Self::Live, _ready: i64, _findings: &mut [Finding]) {}

    /// What a shard reports before its windows close, for a rule that
    /// alerts while they are open (`()` for the rest).
    type Update: Send + 'static;
    /// What the merger asks of every shard (`()` for none).
    type Notice: Clone + Send + Sync + 'static;
    /// The merger's state for updates (`()` for none).
    type Live: Default + Send;

    /// Take a shard's updates into the merger's state; queue notices for
    /// every shard.
    fn absorb_updates(
        &self,
        _live: &mut Self::Live,
        _ups: Vec<Self::Update>,
        _notices: &mut Vec<Self::Notice>,
        _stats: &mut MergeStats,
    ) {
    }
    /// Every shard has reported everything up to capture time `through`:
    /// judge it, in time order.
    fn advance_live(
        &self,
        _live: &mut Self::Live,
        _through: Nanos,
        _out: &mut Vec<Finding>,
        _notices: &mut Vec<Self::Notice>,
        _stats: &mut MergeStats,
    ) {
    }
}

/// Count a judgement, keep its finding.
pub fn record(j: Judgement, out: &mut Vec<Finding>, stats: &mut MergeStats) {
    match j {
        Judgement::Below => stats.below_threshold += 1,
        Judgement::Allowed => stats.allow_suppressed += 1,
        Judgement::Report(f) => out.push(f),
    }
}

/// A rule's state on one shard.
pub trait RuleShard: Send {
    type Partial;
    type Update;
    type Notice;
    /// An attempt's outcome.
    fn observe(&mut self, o: &Outcome);
    /// A probe that opened a new attempt, read with the sensor at `clock`.
    #[inline]
    fn observe_opened(&mut self, _ev: &Event, _clock: Nanos) {}
    /// An event that is not part of an attempt (echo requests, ...).
    #[inline]
    fn observe_event(&mut self, _ev: &Event) {}
    /// Windows up to and including `through` are over: hand over their
    /// partials.
    fn close_through(&mut self, through: i64, out: &mut Vec<Self::Partial>);
    /// Count whatever waits in a queue (before a statistics snapshot).
    fn flush(&mut self) {}
    /// Add this rule's counters.
    fn count(&self, _c: &mut RuleCounters) {}
    /// Hand over what the merger should know now.
    fn take_updates(&mut self, _out: &mut Vec<Self::Update>) {}
    /// A notice from the merger.
    fn notice(&mut self, _n: &Self::Notice) {}
}

/// Counters the rules keep on each shard (added up for the report).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleCounters {
    /// Attempts from home networks, which the seed rule leaves out.
    pub home_probes: u64,
    /// Attempts to port 0 (left out by the seed rule).
    pub port_zero: u64,
    pub sources_evicted: u64,
    pub dest_sets_saturated: u64,
    pub sources_now: u64,
    pub peak_sources: u64,
    /// Peak heap bytes of port and host sets.
    pub peak_set_bytes: u64,
    /// (source, bin) pieces the early rule gave up to stay in bounds.
    pub early_evicted: u64,
}

impl RuleCounters {
    pub fn add(&mut self, o: &RuleCounters) {
        self.home_probes += o.home_probes;
        self.port_zero += o.port_zero;
        self.sources_evicted += o.sources_evicted;
        self.dest_sets_saturated += o.dest_sets_saturated;
        self.sources_now += o.sources_now;
        self.peak_sources += o.peak_sources;
        self.peak_set_bytes += o.peak_set_bytes;
        self.early_evicted += o.early_evicted;
    }
}

/// What the merger counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeStats {
    pub rows: u64,
    /// Findings about allow-listed sources, not written.
    pub allow_suppressed: u64,
    /// (window, source) partials that met no threshold.
    pub below_threshold: u64,
    /// Early alerts about allow-listed sources, not written.
    pub early_allowed: u64,
    /// Updates that came after their window was judged (timestamps far
    /// out of order), or past the merger's cap on open (source, bin)s.
    pub updates_dropped: u64,
    /// Slow-scan tracks given up to stay under their cap.
    pub horizon_evicted: u64,
}

/// One rule's partials waiting in the merger: per window, one run per
/// shard report, each run sorted by source (aggregators sort what they
/// hand over, see [`Partials::sort`]).
///
/// A window's runs are merged when it is judged, reading each in order:
/// a flood's window holds hundreds of thousands of one-probe sources, and
/// a hash table of them, read and grown at random, took 0.3 s on one
/// thread after the last packet of a 10 M flood.
struct Pool<R: Rule> {
    rule: R,
    waiting: BTreeMap<i64, Vec<Vec<R::Partial>>>,
    live: R::Live,
}

impl<R: Rule> Pool<R> {
    fn new(rule: R) -> Self {
        Pool {
            rule,
            waiting: BTreeMap::new(),
            live: R::Live::default(),
        }
    }

    fn first_window(&self) -> Option<i64> {
        self.waiting.keys().next().copied()
    }

    /// One report's partials, sorted by (window, source).
    fn accept(&mut self, mut partials: Vec<R::Partial>) {
        debug_assert!(partials.is_sorted_by_key(|p| R::key(p)));
        // Split off the windows from the last down; the first (usually
        // the only one) keeps the vector.
        while let Some(last) = partials.last() {
            let w = R::key(last).0;
            let from = partials.partition_point(|p| R::key(p).0 < w);
            let run = if from == 0 {
                std::mem::take(&mut partials)
            } else {
                partials.split_off(from)
            };
            self.waiting.entry(w).or_default().push(run);
        }
    }

    /// Judge every window up to `ready`.
    fn release_through(&mut self, ready: i64, out: &mut Vec<Finding>, stats: &mut MergeStats) {
        while let Some(entry) = self.waiting.first_entry() {
            if *entry.key() > ready {
                break;
            }
            let window = *entry.key();
            let partials = Merged::new(entry.remove(), R::key, R::merge);
            self.rule
                .judge_window(&mut self.live, window, partials, out, stats);
        }
    }
}

/// Runs sorted by source, merged: each source once, its partials from
/// every run added up. A window has one run per shard (a shard closes a
/// window once), so the heads are few and looked over in turn.
struct Merged<P> {
    heads: Vec<std::iter::Peekable<std::vec::IntoIter<P>>>,
    key: fn(&P) -> (i64, IpAddr),
    merge: fn(&mut P, P),
}

impl<P> Merged<P> {
    fn new(runs: Vec<Vec<P>>, key: fn(&P) -> (i64, IpAddr), merge: fn(&mut P, P)) -> Self {
        Merged {
            heads: runs.into_iter().map(|r| r.into_iter().peekable()).collect(),
            key,
            merge,
        }
    }
}

impl<P> Iterator for Merged<P> {
    type Item = P;

    fn next(&mut self) -> Option<P> {
        let key = self.key;
        let mut least: Option<(usize, IpAddr)> = None;
        for (i, h) in self.heads.iter_mut().enumerate() {
            if let Some(p) = h.peek() {
                let src = key(p).1;
                if least.is_none_or(|(_, l)| src < l) {
                    least = Some((i, src));
                }
            }
        }
        // The first run with the least source: the runs before it hold
        // only greater ones.
        let (i, src) = least?;
        let mut p = self.heads[i].next()?;
        for h in &mut self.heads[i..] {
            while let Some(q) = h.next_if(|q| key(q).1 == src) {
                (self.merge)(&mut p, q);
            }
        }
        Some(p)
    }
}

/// Declares the rule set: one `field: Type` line per rule, in output order
/// within a window.
macro_rules! rule_set {
    ($($field:ident: $rule:ty),* $(,)?) => {
        /// The rules that are on, with their options.
        #[derive(Clone, Debug, Default)]
        pub struct RuleSet {
            $(pub $field: Option<$rule>,)*
            /// The rules chosen, in output order (a rule that only counts
            /// for a policy is not among them).
            pub names: Vec<&'static str>,
        }

        /// Every rule's name, in output order (the policies that judge
        /// another rule's counts last).
        pub const NAMES: &[&str] = &[$(<$rule as Rule>::NAME,)* SmallSweep::NAME, SlowScan::NAME];

        /// Every rule's state on one shard.
        pub struct ShardRules {
            $($field: Option<<$rule as Rule>::Shard>,)*
        }

        /// Every rule's partials from one shard.
        #[derive(Default)]
        pub struct Partials {
            $(pub $field: Vec<<$rule as Rule>::Partial>,)*
        }

        /// Every rule's partials waiting in the merger.
        pub struct Pools {
            $($field: Option<Pool<$rule>>,)*
        }

        /// Every rule's updates from one shard.
        #[derive(Default)]
        pub struct Updates {
            $(pub $field: Vec<<$rule as Rule>::Update>,)*
        }

        /// Every rule's notices to every shard.
        #[derive(Clone, Default)]
        pub struct Notices {
            $(pub $field: Vec<<$rule as Rule>::Notice>,)*
        }

        impl RuleSet {
            /// The rules named in `names`, with default options.
            fn configure(names: &[&str], det: &Detection, limits: &Limits) -> RuleSet {
                RuleSet {
                    $($field: names
                        .contains(&<$rule as Rule>::NAME)
                        .then(|| <$rule as Rule>::configure(det, limits)),)*
                    names: NAMES.iter().copied().filter(|n| names.contains(n)).collect(),
                }
            }

            pub fn shard(&self, shards: usize) -> ShardRules {
                ShardRules {
                    $($field: self.$field.as_ref().map(|r| r.shard(shards)),)*
                }
            }

            pub fn pools(&self) -> Pools {
                Pools {
                    $($field: self.$field.clone().map(Pool::new),)*
                }
            }
        }

        impl ShardRules {
            #[inline]
            pub fn observe(&mut self, o: &Outcome) {
                $(if let Some(s) = &mut self.$field {
                    s.observe(o);
                })*
            }

            #[inline]
            pub fn observe_opened(&mut self, ev: &Event, clock: Nanos) {
                $(if let Some(s) = &mut self.$field {
                    s.observe_opened(ev, clock);
                })*
            }

            pub fn take_updates(&mut self, out: &mut Updates) {
                $(if let Some(s) = &mut self.$field {
                    s.take_updates(&mut out.$field);
                })*
            }

            pub fn notice(&mut self, n: &Notices) {
                $(if let Some(s) = &mut self.$field {
                    for x in &n.$field {
                        s.notice(x);
                    }
                })*
            }

            #[inline]
            pub fn observe_event(&mut self, ev: &Event) {
                $(if let Some(s) = &mut self.$field {
                    s.observe_event(ev);
                })*
            }

            pub fn close_through(&mut self, through: i64, out: &mut Partials) {
                $(if let Some(s) = &mut self.$field {
                    s.close_through(through, &mut out.$field);
                })*
            }

            pub fn flush(&mut self) {
                $(if let Some(s) = &mut self.$field {
                    s.flush();
                })*
            }

            pub fn count(&self, c: &mut RuleCounters) {
                $(if let Some(s) = &self.$field {
                    s.count(c);
                })*
            }
        }

        impl Partials {
            pub fn is_empty(&self) -> bool {
                true $(&& self.$field.is_empty())*
            }

            /// Sort each rule's partials by (window, source), as the
            /// merger takes them: done by the aggregators, each its own
            /// share, in parallel.
            pub fn sort(&mut self) {
                $(self.$field.sort_unstable_by_key(<$rule as Rule>::key);)*
            }
        }

        impl Updates {
            pub fn is_empty(&self) -> bool {
                true $(&& self.$field.is_empty())*
            }
        }

        impl Notices {
            pub fn is_empty(&self) -> bool {
                true $(&& self.$field.is_empty())*
            }
        }

        impl Pools {
            pub fn accept(&mut self, p: Partials) {
                $(if let Some(pool) = &mut self.$field {
                    pool.accept(p.$field);
                })*
            }

            /// The earliest window with partials waiting.
            pub fn first_window(&self) -> Option<i64> {
                [$(self.$field.as_ref().and_then(|p| p.first_window()),)*]
                    .into_iter()
                    .flatten()
                    .min()
            }

            pub fn absorb_updates(&mut self, u: Updates, notices: &mut Notices, stats: &mut MergeStats) {
                $(if let Some(pool) = &mut self.$field {
                    pool.rule.absorb_updates(&mut pool.live, u.$field, &mut notices.$field, stats);
                })*
            }

            /// Early findings up to capture time `through`, in output order.
            pub fn advance_live(&mut self, through: Nanos, notices: &mut Notices, stats: &mut MergeStats) -> Vec<Finding> {
                let mut out = Vec::new();
                $(if let Some(pool) = &mut self.$field {
                    pool.rule.advance_live(&mut pool.live, through, &mut out, &mut notices.$field, stats);
                })*
                sort_live_findings(&mut out);
                stats.rows += out.len() as u64;
                out
            }

            /// Findings of every window up to `ready`, in output order.
            pub fn release_through(&mut self, ready: i64, stats: &mut MergeStats) -> Vec<Finding> {
                let mut out = Vec::new();
                $(if let Some(pool) = &mut self.$field {
                    pool.release_through(ready, &mut out, stats);
                })*
                $(if let Some(pool) = &mut self.$field {
                    pool.rule.annotate(&mut pool.live, ready, &mut out);
                })*
                sort_findings(&mut out);
                stats.rows += out.len() as u64;
                out
            }
        }
    };
}

rule_set! {
    early: early::Early,
    seed: seed::Seed,
    internal: internal::Internal,
    ping_sweep: ping_sweep::PingSweep,
    ack_scan: ack_scan::AckScan,
    stealth_scan: stealth_scan::StealthScan,
    trw: trw::Trw,
    web_probe: web_probe::WebProbe,
    fingerprint: fingerprint::Fingerprint,
}

impl RuleSet {
    /// The rules named in `names` (all when it is empty), with default
    /// options; an unknown name is an error naming the known ones.
    pub fn build(names: &[String], det: &Detection, limits: &Limits) -> Result<RuleSet, String> {
        let defaults = || {
            NAMES
                .iter()
                .copied()
                .filter(|n| !OFF_BY_DEFAULT.contains(n))
        };
        let mut chosen: Vec<&str> = Vec::new();
        for n in names {
            match n.as_str() {
                "default" => chosen.extend(defaults()),
                "all" => chosen.extend(NAMES),
                _ => {
                    let Some(known) = NAMES.iter().find(|k| *k == n) else {
                        let default = if OFF_BY_DEFAULT.is_empty() {
                            "every rule, as is `all`".to_string()
                        } else {
                            format!("every rule but {}", OFF_BY_DEFAULT.join(", "))
                        };
                        return Err(format!(
                            "unknown rule {n:?} (rules: {}; `default` is {default})",
                            NAMES.join(", "),
                        ));
                    };
                    chosen.push(known);
                }
            }
        }
        if names.is_empty() {
            chosen = defaults().collect();
        }
        let small_sweep = chosen.contains(&SmallSweep::NAME);
        let slow_scan = chosen.contains(&SlowScan::NAME);
        let mut set = RuleSet::configure(&chosen, det, limits);
        if slow_scan {
            // The policy counts what the seed rule counts (silently, if
            // it is not chosen), in the bins no 5-minute rule reports.
            let seed = set.seed.get_or_insert_with(|| seed::Seed {
                report: false,
                ..Rule::configure(det, limits)
            });
            seed.slow_scan = Some(SlowScan::new(det, limits));
        }
        if let (Some(early), true) = (&mut set.early, set.fingerprint.is_some()) {
            early.name_tools = true;
        }
        if small_sweep {
            // The policy judges what the seed and internal rules count:
            // they count (silently, if not chosen) for it.
            let seed = set.seed.get_or_insert_with(|| seed::Seed {
                report: false,
                ..Rule::configure(det, limits)
            });
            seed.small_sweep = Some(SmallSweep::new(det));
            let internal = set.internal.get_or_insert_with(|| {
                let mut i: internal::Internal = Rule::configure(det, limits);
                i.0.report = false;
                i
            });
            internal.0.small_sweep = Some(SmallSweep::new(det));
        }
        Ok(set)
    }

    /// True if a rule that is on reads what session segments carry (nmap's
    /// ACK probes, HTTP requests and answers): else decode skips them at
    /// once.
    pub fn reads_session_segments(&self) -> bool {
        self.ack_scan.is_some() || self.fingerprint.is_some() || self.web_probe.is_some()
    }

    /// True if a rule that is on reads which tool a probe points to (the
    /// fingerprint, and through it the early alert's Tool).
    pub fn reads_tools(&self) -> bool {
        self.fingerprint.is_some()
    }

    /// True if no rule that is on counts attempts from home networks: then
    /// the capture stage may drop home sources' TCP probes early.
    pub fn ignores_home_sources(&self) -> bool {
        self.internal.is_none() && self.ack_scan.is_none() && self.stealth_scan.is_none()
    }
}

/// Rules that run only when named (`--rules default,NAME`, `--rules all`):
/// none today. A rule whose cost or false positives are not yet where a
/// sensor on every link can bear them goes here until they are.
pub const OFF_BY_DEFAULT: &[&str] = &[];

/// Each rule's signature number in SIEM formats that want one (EVE's
/// `signature_id`): fixed per rule, so a number stays a rule's as rules
/// are added (from Snort's local range, 1,000,000 and up).
const SIGNATURE_IDS: &[(&str, u32)] = &[
    ("seed", 1_595_001),
    ("early", 1_595_002),
    ("internal", 1_595_003),
    ("ping-sweep", 1_595_004),
    ("ack-scan", 1_595_005),
    ("small-sweep", 1_595_006),
    ("stealth-scan", 1_595_007),
    ("trw", 1_595_008),
    ("slow-scan", 1_595_009),
    // Writes no rows of its own (it names the tool in other rules' rows).
    ("fingerprint", 1_595_010),
    ("web-probe", 1_595_011),
];

/// The signature number of `rule` (see `SIGNATURE_IDS`).
pub fn signature_id(rule: &str) -> u32 {
    SIGNATURE_IDS
        .iter()
        .find(|(n, _)| *n == rule)
        .map_or(1_595_000, |(_, id)| *id)
}

/// Make room in a per-(source, bin) table keyed by what an attacker
/// chooses: keep the heaviest `keep` entries by `weight`, drop the rest
/// (ties broken by table order); how many were dropped.
pub fn evict_lightest<K, V>(
    table: &mut AHashMap<K, V>,
    keep: usize,
    weight: impl Fn(&V) -> u64,
) -> u64 {
    let mut weights: Vec<u64> = table.values().map(&weight).collect();
    let cut = weights.len().saturating_sub(keep);
    if cut == 0 {
        return 0;
    }
    let (_, &mut cutoff, _) = weights.select_nth_unstable(cut - 1);
    let below = weights.iter().filter(|&&w| w < cutoff).count();
    let mut ties = cut - below;
    let before = table.len();
    table.retain(|_, v| {
        let w = weight(v);
        let drop = w < cutoff || (w == cutoff && ties > 0);
        ties -= (w == cutoff && drop) as usize;
        !drop
    });
    (before - table.len()) as u64
}

/// Output order of alerts written while windows are open: by the moment
/// of detection, then by rule, heaviest first, then by address.
pub fn sort_live_findings(f: &mut [Finding]) {
    let rank = |rule: &str| NAMES.iter().position(|n| *n == rule).unwrap_or(usize::MAX);
    f.sort_by(|a, b| {
        a.detected_at
            .cmp(&b.detected_at)
            .then(rank(a.rule).cmp(&rank(b.rule)))
            .then(b.weight.cmp(&a.weight))
            .then(a.source.cmp(&b.source))
    });
}

/// Output order: by window; within one, by rule (in rule-set order), then
/// heaviest first, then by address (IPv4 before IPv6), so the order never
/// depends on which thread finished first.
pub fn sort_findings(f: &mut [Finding]) {
    let rank = |rule: &str| NAMES.iter().position(|n| *n == rule).unwrap_or(usize::MAX);
    f.sort_by(|a, b| {
        a.window_start
            .cmp(&b.window_start)
            .then(rank(a.rule).cmp(&rank(b.rule)))
            .then(b.weight.cmp(&a.weight))
            .then(a.source.cmp(&b.source))
    });
}

#[cfg(test)]
mod tests {
    use super::Merged;
    use std::collections::BTreeMap;
    use std::net::{IpAddr, Ipv4Addr};

    type P = (i64, IpAddr, u32);

    #[test]
    fn merged_runs_give_each_source_once_with_every_piece_added() {
        let src = |n: u8| IpAddr::V4(Ipv4Addr::new(192, 0, 2, n));
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for case in 0..200 {
            // Up to five runs, sorted, a source now and then twice in one.
            let mut runs: Vec<Vec<P>> = Vec::new();
            let mut want: BTreeMap<IpAddr, u32> = BTreeMap::new();
            for _ in 0..(case % 5 + 1) {
                let mut run = Vec::new();
                for _ in 0..(case % 13) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let (s, n) = (src((x % 40) as u8), (x >> 40) as u32 % 1000);
                    run.push((3, s, n));
                    *want.entry(s).or_default() += n;
                }
                run.sort_by_key(|p| p.1);
                runs.push(run);
            }
            let merged: Vec<P> =
                Merged::new(runs, |p: &P| (p.0, p.1), |a: &mut P, b: P| a.2 += b.2).collect();
            let got: Vec<(IpAddr, u32)> = merged.iter().map(|p| (p.1, p.2)).collect();
            assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "case {case}");
        }
    }
    #[test]
    fn every_rule_has_a_signature_id_of_its_own() {
        let mut ids: Vec<u32> = super::NAMES
            .iter()
            .map(|n| super::signature_id(n))
            .collect();
        assert!(
            !ids.contains(&1_595_000),
            "a rule without a number: {ids:?}"
        );
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), super::NAMES.len());
    }
}
