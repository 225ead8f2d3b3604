//! Attempts waiting for an answer, keyed by the initiator's 5-tuple.
//!
//! Two parts:
//! - a **ring** of attempts in the order they arrived, which is the order
//!   their deadlines fall due (capture time only moves forward), so expiry
//!   pops the head, reading memory in sequence, and a full ring gives up
//!   its oldest attempt first;
//! - an **index** (`index`): buckets of one cache line, each of seven
//!   8-byte slots (a 32-bit hash tag and the attempt's 32-bit sequence
//!   number, which also gives its ring position), so a lookup touches one
//!   bucket, and the ring entry only when the tag matches.
//!
//! An attempt that leaves from the ring's head (expired, or evicted when
//! the ring is full: what happens to nearly every probe of a scan) does
//! not touch the index: its slot is left behind, known to be stale from
//! its sequence number alone (older than the head), and the next insert
//! into its bucket takes it. Removing it at once would cost a cache miss
//! per attempt (the index is far larger than the caches, and the slot is
//! anywhere in it).
//!
//! Expiry is exact: every lookup checks the attempt's deadline against the
//! clock, so an outcome never depends on when the head was popped. Popping
//! only reclaims room. Input whose timestamps run backwards can leave an
//! expired attempt behind a live head; [`PendingTable::sweep`], which runs
//! before a bin closes, then walks the whole ring.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};

use super::index::{At, Index, Slot, Window};
use crate::event::{FlowKey, Tool};
use crate::sketch::{prefetch, prefetch_write};
use crate::time::Nanos;

/// One pending attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attempt {
    /// Timestamp of its first packet.
    pub first: Nanos,
    /// A FIN/NULL/XMAS probe: can be rejected, never answered.
    pub stealth: bool,
    /// The tool its header fields point to.
    pub tool: Tool,
}

/// What a probe packet turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    /// A new attempt, now pending.
    New,
    /// It repeats a still-pending attempt.
    Retransmission,
    /// A new attempt that took the place of an expired one with the same
    /// tuple; the expired one is returned to be counted unanswered.
    ReplacedExpired(Attempt),
}

/// An attempt in the ring (32 bytes). `live` is cleared when it is
/// answered or replaced; the slot is reclaimed when the head passes it.
#[derive(Clone, Copy, Default)]
struct Entry {
    tuple: Tuple,
    first: Nanos,
    tag: u32,
    stealth: bool,
    live: bool,
    tool: Tool,
}

const _: () = assert!(std::mem::size_of::<Entry>() == 32);

/// An attempt's tuple as the ring holds it: an IPv4 tuple inline, in 16
/// bytes rather than `FlowKey`'s 40 (the ring is the table's bulk, and
/// smaller entries leave more of the cache to everything else); any other
/// tuple as an index into the table's `wide` keys.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Tuple {
    /// The source address, or the index of the wide key.
    src: u32,
    dst: u32,
    sport: u16,
    dport: u16,
    proto: u8,
    wide: bool,
}

impl Tuple {
    /// The inline form of `key`, if both addresses are IPv4.
    #[inline]
    fn narrow(key: &FlowKey) -> Option<Tuple> {
        match (key.src, key.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => Some(Tuple {
                src: src.into(),
                dst: dst.into(),
                sport: key.sport,
                dport: key.dport,
                proto: key.proto,
                wide: false,
            }),
            _ => None,
        }
    }
}

pub struct PendingTable {
    /// Grows to `ring_mask + 1` entries (a power of two, at least `cap`).
    ring: Vec<Entry>,
    ring_mask: usize,
    /// Tuples the ring cannot hold inline (IPv6), and their free slots.
    wide: Vec<FlowKey>,
    wide_free: Vec<u32>,
    index: Index,
    /// Live attempts (each has one slot in the index).
    live: usize,
    /// `appended` when the index was last rebuilt or cleaned: it is
    /// cleaned before a stale slot's 32-bit sequence number could come
    /// round into the ring's window again.
    indexed_from: u64,
    timeout: Nanos,
    cap: usize,
    /// `first` of the newest entry, to notice timestamps running backwards.
    newest_first: Nanos,
    /// Some entry arrived older than the one before it: the ring is not in
    /// deadline order until it has emptied.
    disordered: bool,
    /// Sequence numbers of the next entry appended and of the head: the
    /// ring holds `popped..appended`.
    appended: u64,
    popped: u64,
    /// How far behind the clock entries still in the ring arrived, as a
    /// monotonic queue (sequence, lag) with lags decreasing from the
    /// front: the front is the largest lag in the ring. An entry that
    /// arrived `lag` behind the clock can sit behind entries whose
    /// deadlines are up to `lag` later, so its expiry may be noticed that
    /// much late (see [`PendingTable::max_lag`]).
    lags: VecDeque<(u64, Nanos)>,
    hasher: ahash::RandomState,
    /// Attempts forced out early because the ring was full.
    pub evicted: u64,
    pub peak: usize,
}

impl PendingTable {
    /// A table for attempts that wait `timeout` for an answer, holding at
    /// most `cap` of them (the newest, when more arrive).
    pub fn new(timeout: Nanos, cap: usize) -> Self {
        // Keys are the attacker's choice (a spoofer picks addresses and
        // ports): a per-process random hash key keeps them from being
        // built to collide.
        Self::with_hasher(timeout, cap, ahash::RandomState::new())
    }

    /// The same with a given hash key (benchmarks: keys built to collide
    /// under a known one).
    pub fn with_hasher(timeout: Nanos, cap: usize, hasher: ahash::RandomState) -> Self {
        // Sequence numbers in slots are 32-bit: the ring (a power of two)
        // must stay well inside that.
        let cap = cap.clamp(2, 1 << 30);
        PendingTable {
            ring: Vec::new(),
            ring_mask: cap.next_power_of_two() - 1,
            wide: Vec::new(),
            wide_free: Vec::new(),
            index: Index::new(),
            live: 0,
            indexed_from: 0,
            timeout,
            cap,
            newest_first: Nanos::MIN,
            disordered: false,
            appended: 0,
            popped: 0,
            lags: VecDeque::new(),
            hasher,
            evicted: 0,
            peak: 0,
        }
    }

    /// Attempts pending.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Entries in the ring, live or not.
    #[inline]
    fn count(&self) -> usize {
        (self.appended - self.popped) as usize
    }

    /// The ring position of sequence number `seq`.
    #[inline]
    fn pos(&self, seq: u64) -> usize {
        seq as usize & self.ring_mask
    }

    /// The hash every lookup of `key` takes (computed once per event). An
    /// IPv4 tuple is hashed as two words: hashing `FlowKey` field by field
    /// (address enums included) took 21 instructions more per packet.
    #[inline]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        match (key.src, key.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let addrs = u64::from(u32::from(src)) << 32 | u64::from(u32::from(dst));
                let rest =
                    u64::from(key.sport) << 32 | u64::from(key.dport) << 16 | u64::from(key.proto);
                self.hasher.hash_one((addrs, rest))
            }
            _ => self.hasher.hash_one(key),
        }
    }

    /// The index tag of hash `h` (never 0); scaled to the bucket count, it
    /// picks the bucket.
    #[inline]
    fn tag(h: u64) -> u32 {
        (h >> 32) as u32 | 1
    }

    /// The sequence numbers in the ring: a slot outside them is stale
    /// (arithmetic only, no ring access).
    #[inline(always)]
    fn window(&self) -> Window {
        Window {
            head: self.popped as u32,
            count: self.count() as u32,
        }
    }

    /// The ring position of a (not stale) slot's entry.
    #[inline]
    fn slot_pos(&self, s: Slot) -> usize {
        s.seq as usize & self.ring_mask
    }

    /// Start fetching the index bucket a lookup with hash `h` will touch.
    #[inline]
    pub fn prefetch(&self, h: u64) {
        self.index.prefetch(Self::tag(h));
    }

    /// Second stage of prefetching, once the index slot for hash `h` has
    /// arrived: start fetching the ring entry its tag points at (an answer
    /// compares keys there; a fresh probe usually matches no tag).
    #[inline]
    pub fn prefetch_entry(&self, h: u64) {
        if let Some(at) = self.index.find(Self::tag(h), self.window(), |_| true) {
            prefetch(
                self.ring
                    .as_ptr()
                    .wrapping_add(self.slot_pos(self.index.get(at))),
            );
        }
    }

    /// The index slot holding `key` (hash `h`).
    #[inline]
    fn find(&self, key: &FlowKey, h: u64) -> Option<At> {
        self.index.find(Self::tag(h), self.window(), |seq| {
            self.holds(&self.ring[seq as usize & self.ring_mask].tuple, key)
        })
    }

    #[inline]
    fn deadline_passed(&self, first: Nanos, clock: Nanos) -> bool {
        first + self.timeout < clock
    }

    /// Is `t` the tuple of `key`?
    #[inline]
    fn holds(&self, t: &Tuple, key: &FlowKey) -> bool {
        if t.wide {
            self.wide[t.src as usize] == *key
        } else {
            Tuple::narrow(key) == Some(*t)
        }
    }

    /// The ring's form of `key` (a wide key takes a slot in `wide`).
    #[inline]
    fn pack(&mut self, key: &FlowKey) -> Tuple {
        if let Some(t) = Tuple::narrow(key) {
            return t;
        }
        let at = match self.wide_free.pop() {
            Some(at) => {
                self.wide[at as usize] = *key;
                at
            }
            None => {
                self.wide.push(*key);
                (self.wide.len() - 1) as u32
            }
        };
        Tuple {
            src: at,
            wide: true,
            ..Tuple::default()
        }
    }

    #[inline]
    fn unpack(&self, t: &Tuple) -> FlowKey {
        if t.wide {
            return self.wide[t.src as usize];
        }
        FlowKey {
            proto: t.proto,
            src: IpAddr::V4(Ipv4Addr::from(t.src)),
            sport: t.sport,
            dst: IpAddr::V4(Ipv4Addr::from(t.dst)),
            dport: t.dport,
        }
    }

    /// The entry at ring position `pos` is no longer live: give back its
    /// wide key's slot, if it has one.
    #[inline]
    fn kill(&mut self, pos: usize) {
        let e = &mut self.ring[pos];
        e.live = false;
        if e.tuple.wide {
            self.wide_free.push(e.tuple.src);
        }
    }

    /// Register a probe for `key` (hash `h`) seen at `ts` with the sensor at
    /// `clock`. An attempt pushed out to make room goes to `evict`.
    #[inline]
    pub fn probe(
        &mut self,
        key: FlowKey,
        h: u64,
        ts: Nanos,
        (stealth, tool): (bool, Tool),
        clock: Nanos,
        evict: impl FnMut(FlowKey, Attempt),
    ) -> Probe {
        let mut replaced = None;
        if let Some(at) = self.find(&key, h) {
            let pos = self.slot_pos(self.index.get(at));
            let e = &self.ring[pos];
            if !self.deadline_passed(e.first, clock) {
                return Probe::Retransmission;
            }
            // Expired: it fails, and the probe starts a new attempt.
            replaced = Some(Attempt {
                first: e.first,
                stealth: e.stealth,
                tool: e.tool,
            });
            self.kill(pos);
            self.index.remove(at);
            self.live -= 1;
        }
        if self.count() == self.cap {
            self.pop_oldest(evict);
        }
        let tag = Self::tag(h);
        let tuple = self.pack(&key);
        if ts < clock {
            self.note_lag(clock - ts);
        }
        let seq = self.append(Entry {
            tuple,
            first: ts,
            tag,
            stealth,
            live: true,
            tool,
        });
        self.insert_slot(tag, seq);
        self.live += 1;
        self.peak = self.peak.max(self.live);
        match replaced {
            Some(old) => Probe::ReplacedExpired(old),
            None => Probe::New,
        }
    }

    /// Put `e` at the ring's tail; its sequence number (low 32 bits).
    #[inline]
    fn append(&mut self, e: Entry) -> u32 {
        if e.first < self.newest_first {
            self.disordered = true;
        }
        self.newest_first = e.first;
        let tail = self.pos(self.appended);
        if tail == self.ring.len() {
            self.ring.push(e);
        } else {
            self.ring[tail] = e;
            // The entries appended next are written in order: fetch their
            // line ahead, so the store does not wait for it.
            prefetch_write(
                self.ring
                    .as_ptr()
                    .wrapping_add(self.pos(self.appended + 32)),
            );
        }
        let seq = self.appended as u32;
        self.appended += 1;
        seq
    }

    /// The entry about to be appended arrived `lag` behind the clock.
    #[cold]
    fn note_lag(&mut self, lag: Nanos) {
        while self.lags.back().is_some_and(|&(_, l)| l <= lag) {
            self.lags.pop_back();
        }
        self.lags.push_back((self.appended, lag));
    }

    /// An upper bound on how late, after its deadline passed, an attempt
    /// still in the table can be handed out as expired: 0 when every entry
    /// arrived in time order. Expiry pops the ring's head, and an entry
    /// that arrived `lag` behind the clock waits behind entries whose
    /// deadlines are at most `lag` later than its own.
    #[inline]
    pub fn max_lag(&self) -> Nanos {
        self.lags.front().map_or(0, |&(_, l)| l)
    }

    #[inline]
    fn insert_slot(&mut self, tag: u32, seq: u32) {
        if self.live + 1 > self.index.room() {
            // Doubling, up to what the cap needs and no further; straight
            // to that once it is near (the old and the new index are in
            // memory together while it grows).
            let full = Index::buckets_for(self.cap);
            let buckets = if self.index.buckets() * 4 >= full {
                full
            } else {
                self.index.buckets() * 2
            };
            self.index.rebuild(
                buckets.max(Index::buckets_for(self.live + 1)),
                self.window(),
            );
            self.indexed_from = self.appended;
        } else if self.index.worn() || self.appended - self.indexed_from > 1 << 31 {
            self.index.clean(self.window());
            self.indexed_from = self.appended;
        }
        self.index.insert(tag, seq, self.window());
    }

    /// Take the live entry with sequence number `seq` out of the table
    /// (slot included: for entries that do not leave from the head).
    #[inline]
    fn take(&mut self, seq: u64) -> (FlowKey, Attempt) {
        let pos = self.pos(seq);
        let e = self.ring[pos];
        let key = self.unpack(&e.tuple);
        let a = Attempt {
            first: e.first,
            stealth: e.stealth,
            tool: e.tool,
        };
        self.kill(pos);
        let at = self
            .index
            .find(e.tag, self.window(), |s| s == seq as u32)
            .expect("a live entry has its slot");
        self.index.remove(at);
        self.live -= 1;
        (key, a)
    }

    /// Drop the ring's head entry; if it was live, hand it over. Its index
    /// slot stays behind, stale, for an insert to take.
    #[inline]
    fn pop_head(&mut self) -> Option<(FlowKey, Attempt)> {
        let pos = self.pos(self.popped);
        // The head is read in order, but among so many other misses the
        // hardware's stream prefetcher does not keep up with it.
        prefetch(self.ring.as_ptr().wrapping_add(self.pos(self.popped + 64)));
        let e = self.ring[pos];
        let taken = e.live.then(|| {
            self.kill(pos);
            self.live -= 1;
            (
                self.unpack(&e.tuple),
                Attempt {
                    first: e.first,
                    stealth: e.stealth,
                    tool: e.tool,
                },
            )
        });
        // The wide key's slot may be reused by the next append, after the
        // unpack above.
        self.popped += 1;
        if self.count() == 0 {
            self.disordered = false;
        }
        if self.lags.front().is_some_and(|&(seq, _)| seq < self.popped) {
            self.lags.pop_front();
        }
        taken
    }

    /// Free one ring slot by dropping the oldest entry (counted in
    /// `evicted` if it was still pending).
    #[inline]
    fn pop_oldest(&mut self, mut evict: impl FnMut(FlowKey, Attempt)) {
        if let Some((k, a)) = self.pop_head() {
            self.evicted += 1;
            evict(k, a);
        }
    }

    /// Remove the attempt for `key` (hash `h`). `Ok` if it was still live
    /// at `clock` (the answer counts), `Err` if it had already expired. An
    /// acceptance (`accepting`: SYN-ACK, UDP reply) leaves a stealth
    /// attempt pending, since nothing legitimately accepts one.
    #[inline]
    pub fn resolve(
        &mut self,
        key: &FlowKey,
        h: u64,
        clock: Nanos,
        accepting: bool,
    ) -> Option<Result<Attempt, Attempt>> {
        let at = self.find(key, h)?;
        let pos = self.slot_pos(self.index.get(at));
        let e = &self.ring[pos];
        if accepting && e.stealth {
            return None;
        }
        let a = Attempt {
            first: e.first,
            stealth: e.stealth,
            tool: e.tool,
        };
        self.kill(pos);
        self.index.remove(at);
        self.live -= 1;
        Some(if self.deadline_passed(a.first, clock) {
            Err(a)
        } else {
            Ok(a)
        })
    }

    /// The attempt for `key`, if pending.
    #[cfg(test)]
    pub fn peek(&self, key: &FlowKey, h: u64) -> Option<Attempt> {
        let at = self.find(key, h)?;
        let e = &self.ring[self.slot_pos(self.index.get(at))];
        Some(Attempt {
            first: e.first,
            stealth: e.stealth,
            tool: e.tool,
        })
    }

    /// True when the oldest entry's deadline has passed at `clock`: time
    /// to [`PendingTable::expire`].
    #[inline]
    pub fn expiry_due(&self, clock: Nanos) -> bool {
        self.count() > 0 && self.deadline_passed(self.ring[self.pos(self.popped)].first, clock)
    }

    /// Pop entries from the head while they are answered or expired at
    /// `clock`, handing the expired ones to `expired`.
    pub fn expire(&mut self, clock: Nanos, mut expired: impl FnMut(FlowKey, Attempt)) {
        while self.count() > 0 {
            let head = &self.ring[self.pos(self.popped)];
            if head.live && !self.deadline_passed(head.first, clock) {
                break;
            }
            if let Some((k, a)) = self.pop_head() {
                expired(k, a);
            }
        }
    }

    /// Hand every attempt expired at `clock` to `expired` (before a bin
    /// closes: none of its attempts may stay pending). In deadline order
    /// that is the head; otherwise the whole ring is walked.
    pub fn sweep(&mut self, clock: Nanos, mut expired: impl FnMut(FlowKey, Attempt)) {
        self.expire(clock, &mut expired);
        if !self.disordered {
            return;
        }
        for seq in self.popped..self.appended {
            let e = &self.ring[self.pos(seq)];
            if e.live && self.deadline_passed(e.first, clock) {
                let (key, a) = self.take(seq);
                expired(key, a);
            }
        }
    }

    /// Hand over everything (end of input: all still pending are unanswered).
    pub fn drain(&mut self, mut expired: impl FnMut(FlowKey, Attempt)) {
        while self.count() > 0 {
            if let Some((k, a)) = self.pop_head() {
                expired(k, a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::TCP;
    use std::collections::HashMap;

    /// An IPv4 tuple below port 1000, an IPv6 one (kept out of line) from
    /// there, so the model test below sees both.
    fn key(port: u16) -> FlowKey {
        let (src, dst) = if port < 1000 {
            ("203.0.113.1", "192.0.2.1")
        } else {
            ("2001:db8::1", "2001:db8:1::1")
        };
        FlowKey {
            proto: TCP,
            src: src.parse().unwrap(),
            sport: 40000,
            dst: dst.parse().unwrap(),
            dport: port,
        }
    }

    #[test]
    fn hash_keys_differ_between_tables() {
        let (a, b) = (PendingTable::new(5, 100), PendingTable::new(5, 100));
        assert_ne!(a.hash(&key(1)), b.hash(&key(1)));
    }

    #[test]
    fn max_lag_is_the_largest_lag_still_in_the_ring() {
        let mut t = PendingTable::new(5, 100);
        assert_eq!(t.max_lag(), 0);
        probe(&mut t, 1, 100, 100);
        probe(&mut t, 2, 97, 100); // 3 behind the clock
        probe(&mut t, 3, 101, 102); // 1 behind
        probe(&mut t, 4, 103, 103);
        assert_eq!(t.max_lag(), 3);
        // Expiring the first two leaves the entry 1 behind.
        t.expire(106, |_, _| {});
        assert_eq!(t.len(), 2);
        assert_eq!(t.max_lag(), 1);
        t.drain(|_, _| {});
        assert_eq!(t.max_lag(), 0);
    }

    #[test]
    fn ring_entries_are_half_a_cache_line() {
        assert_eq!(std::mem::size_of::<Entry>(), 32);
    }

    fn probe(t: &mut PendingTable, port: u16, ts: Nanos, clock: Nanos) -> (Probe, Vec<u16>) {
        let mut out = Vec::new();
        let p = t.probe(
            key(port),
            t.hash(&key(port)),
            ts,
            (false, Tool::Unknown),
            clock,
            |k, _| out.push(k.dport),
        );
        (p, out)
    }

    #[test]
    fn retransmission_until_deadline_then_new_attempt() {
        let mut t = PendingTable::new(5, 100);
        let h = t.hash(&key(1));
        assert_eq!(probe(&mut t, 1, 10, 10).0, Probe::New);
        assert_eq!(probe(&mut t, 1, 15, 15).0, Probe::Retransmission);
        assert_eq!(
            probe(&mut t, 1, 16, 16).0,
            Probe::ReplacedExpired(Attempt {
                first: 10,
                stealth: false,
                tool: Tool::Unknown,
            })
        );
        assert_eq!(t.len(), 1);
        assert_eq!(
            t.resolve(&key(1), h, 21, false),
            Some(Ok(Attempt {
                first: 16,
                stealth: false,
                tool: Tool::Unknown,
            }))
        );
        assert_eq!(t.resolve(&key(1), h, 21, false), None);
        assert!(t.is_empty());
    }

    #[test]
    fn only_a_rejection_resolves_a_stealth_attempt() {
        let mut t = PendingTable::new(5, 100);
        let h = t.hash(&key(1));
        t.probe(key(1), h, 10, (true, Tool::Unknown), 10, |_, _| {});
        assert_eq!(t.resolve(&key(1), h, 11, true), None);
        assert_eq!(t.len(), 1);
        let a = t.resolve(&key(1), h, 12, false);
        assert_eq!(a.map(|r| r.map(|a| a.stealth)), Some(Ok(true)));
        assert!(t.is_empty());
    }

    #[test]
    fn answer_after_deadline_is_expired() {
        let mut t = PendingTable::new(5, 100);
        let h = t.hash(&key(1));
        probe(&mut t, 1, 10, 10);
        assert!(matches!(t.resolve(&key(1), h, 16, false), Some(Err(_))));
    }

    #[test]
    fn expiry_pops_the_oldest_and_skips_answered_ones() {
        let mut t = PendingTable::new(5, 100);
        for p in 0..10u16 {
            probe(&mut t, p, p as Nanos * 100, p as Nanos * 100);
        }
        t.resolve(&key(3), t.hash(&key(3)), 300, false);
        let mut out = Vec::new();
        // At clock 806, attempts up to first = 800 have expired.
        assert!(t.expiry_due(806));
        t.expire(806, |k, _| out.push(k.dport));
        assert_eq!(out, vec![0, 1, 2, 4, 5, 6, 7, 8]);
        assert_eq!(t.len(), 1);
        assert!(!t.expiry_due(806));
    }

    #[test]
    fn a_full_ring_gives_up_its_oldest_attempt() {
        let mut t = PendingTable::new(1_000_000, 4);
        for p in 0..4u16 {
            assert_eq!(
                probe(&mut t, p, p as Nanos, p as Nanos).1,
                Vec::<u16>::new()
            );
        }
        assert_eq!(probe(&mut t, 9, 9, 9), (Probe::New, vec![0]));
        // An answered head is dropped without counting as evicted.
        t.resolve(&key(1), t.hash(&key(1)), 10, false);
        assert_eq!(probe(&mut t, 10, 10, 10), (Probe::New, vec![]));
        assert_eq!(t.evicted, 1);
        assert_eq!(t.len(), 4);
        for p in [2, 3, 9, 10] {
            assert!(t.peek(&key(p), t.hash(&key(p))).is_some(), "port {p}");
        }
    }

    #[test]
    fn a_tuple_back_at_its_old_ring_position_is_found_by_its_new_slot() {
        // Ring of 4: the fifth probe evicts the first and the ninth lands
        // on its ring position again, while (most likely) the first one's
        // stale slot is still in the index with the same tag.
        let mut t = PendingTable::new(1_000_000, 4);
        assert_eq!(t.ring_mask, 3);
        probe(&mut t, 1, 0, 0);
        for p in 2..=8u16 {
            probe(&mut t, p, p as Nanos, p as Nanos);
        }
        assert!(t.peek(&key(1), t.hash(&key(1))).is_none(), "evicted");
        assert_eq!(probe(&mut t, 1, 9, 9).0, Probe::New);
        assert_eq!(t.pos(t.appended - 1), 0);
        let h = t.hash(&key(1));
        assert_eq!(t.peek(&key(1), h).map(|a| a.first), Some(9));
        assert_eq!(probe(&mut t, 1, 10, 10).0, Probe::Retransmission);
        assert!(matches!(t.resolve(&key(1), h, 11, false), Some(Ok(_))));
        assert_eq!(t.resolve(&key(1), h, 11, false), None);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn slots_left_behind_by_evictions_are_taken_again() {
        // A fixed key: the same buckets fill, run after run.
        let mut t = PendingTable::with_hasher(
            1_000_000_000,
            1000,
            ahash::RandomState::with_seeds(1, 2, 3, 4),
        );
        for i in 0..200_000u32 {
            let k = FlowKey {
                sport: (i >> 16) as u16,
                dport: i as u16,
                ..key(1)
            };
            t.probe(
                k,
                t.hash(&k),
                i as Nanos,
                (false, Tool::Unknown),
                i as Nanos,
                |_, _| {},
            );
        }
        assert_eq!(t.evicted, 199_000);
        assert_eq!(t.len(), 1000);
        // Slots left behind are taken again: the index does not grow with
        // the evictions, and its overflow counts stay bounded.
        assert!(t.index.buckets() <= 1024, "index of {}", t.index.buckets());
        // A worn index is cleaned before the next insert, so the counts
        // stay within an eighth of the buckets plus what the last insert
        // left (it may have just worn it).
        assert!(
            t.index.overflow() <= t.index.buckets() / 4,
            "{} overflow counts on {} buckets",
            t.index.overflow(),
            t.index.buckets()
        );
        // Every live attempt is still found, no evicted one is.
        for i in [0u32, 198_999, 199_000, 199_999] {
            let k = FlowKey {
                sport: (i >> 16) as u16,
                dport: i as u16,
                ..key(1)
            };
            assert_eq!(t.peek(&k, t.hash(&k)).is_some(), i >= 199_000, "{i}");
        }
    }

    #[test]
    fn sweep_finds_expired_attempts_behind_a_live_head() {
        let mut t = PendingTable::new(5, 100);
        probe(&mut t, 1, 100, 100);
        // Older timestamp, arriving later.
        probe(&mut t, 2, 50, 100);
        let mut out = Vec::new();
        t.expire(60, |k, _| out.push(k.dport));
        assert!(out.is_empty(), "the head (first 100) is live");
        t.sweep(60, |k, _| out.push(k.dport));
        assert_eq!(out, vec![2]);
        assert_eq!(t.len(), 1);
    }

    /// Random probes, answers, expiry and eviction against a plain map that
    /// keeps the same rules.
    #[test]
    fn behaves_like_a_map_with_deadlines() {
        let (timeout, cap) = (1000, 300);
        let mut t = PendingTable::new(timeout, cap);
        let mut model: HashMap<u16, (Nanos, u64)> = HashMap::new();
        let mut seq = 0u64;
        let mut x: u64 = 88172645463325252;
        let mut out = Vec::new();
        for clock in 0..60_000 as Nanos {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let port = (x % 2000) as u16;
            if t.expiry_due(clock) {
                t.expire(clock, |k, _| out.push(k.dport));
            }
            for p in out.drain(..) {
                let (first, _) = model.remove(&p).expect("expired one was pending");
                assert!(first + timeout < clock);
            }
            if x >> 62 == 0 {
                let got = t.resolve(&key(port), t.hash(&key(port)), clock, false);
                let want = model.remove(&port).map(|(first, _)| {
                    let a = Attempt {
                        first,
                        stealth: false,
                        tool: Tool::Unknown,
                    };
                    if first + timeout < clock {
                        Err(a)
                    } else {
                        Ok(a)
                    }
                });
                assert_eq!(got, want);
            } else {
                let (p, evicted) = probe(&mut t, port, clock, clock);
                for e in evicted {
                    // The oldest pending attempt.
                    let oldest = model.iter().min_by_key(|(_, v)| v.1).map(|(k, _)| *k);
                    assert_eq!(Some(e), oldest);
                    model.remove(&e);
                }
                match model.get(&port) {
                    Some(&(first, _)) if first + timeout >= clock => {
                        assert_eq!(p, Probe::Retransmission)
                    }
                    Some(&(first, _)) => {
                        assert_eq!(
                            p,
                            Probe::ReplacedExpired(Attempt {
                                first,
                                stealth: false,
                                tool: Tool::Unknown,
                            })
                        );
                        seq += 1;
                        model.insert(port, (clock, seq));
                    }
                    None => {
                        assert_eq!(p, Probe::New);
                        seq += 1;
                        model.insert(port, (clock, seq));
                    }
                }
            }
            assert_eq!(t.len(), model.len());
        }
        assert!(t.evicted > 0, "the cap was reached");
        // Wide keys' slots are reused, not leaked: at most one per entry
        // the ring can hold.
        assert!(t.wide.len() <= cap, "{}", t.wide.len());
        let mut n = 0;
        t.drain(|_, _| n += 1);
        assert_eq!(n, model.len());
        assert!(t.is_empty());
    }
}
