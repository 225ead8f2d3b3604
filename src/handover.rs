//! Handing messages from a capture thread to the aggregators' queues.
//!
//! A replay may wait for a full queue: the file does not run away. A live
//! capture must not: while it waits, the kernel's ring fills and drops
//! packets, even though the aggregator is only briefly behind (a bin
//! closing, a table rebuilt, its thread not scheduled for a few
//! milliseconds). So a live capture thread keeps what a full queue cannot
//! take yet in a backlog of its own, bounded by the messages' weight
//! (what they hold in memory), and keeps reading; only past the bound does
//! it wait. Messages to one aggregator stay in order.

use std::collections::VecDeque;

use crossbeam_channel::{Sender, TrySendError};

/// What the hand-over counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Times the capture thread waited for room in a queue.
    pub waits: u64,
    /// Messages that went into the backlog first (a queue was full).
    pub deferred: u64,
    /// The most weight the backlog held at once.
    pub peak_held: u64,
}

/// The queues to every aggregator, with the backlog in front of them.
pub struct Handover<'a, T> {
    lanes: &'a [Sender<T>],
    backlog: Vec<VecDeque<T>>,
    /// The weight in the backlog, and how much it may hold (0: wait at
    /// once).
    held: usize,
    max_held: usize,
    /// A message's weight.
    weight: fn(&T) -> usize,
    pub counts: Counts,
}

impl<'a, T> Handover<'a, T> {
    pub fn new(lanes: &'a [Sender<T>], max_held: usize, weight: fn(&T) -> usize) -> Self {
        Handover {
            lanes,
            backlog: lanes.iter().map(|_| VecDeque::new()).collect(),
            held: 0,
            max_held,
            weight,
            counts: Counts::default(),
        }
    }

    /// Hand `m` to aggregator `i`: at once if its queue has room and
    /// nothing of its waits in the backlog, else into the backlog, else
    /// (the backlog full) wait for the queue.
    #[inline]
    pub fn send(&mut self, i: usize, m: T) {
        let m = if self.backlog[i].is_empty() || self.retry(i) {
            match self.lanes[i].try_send(m) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(m)) => m,
            }
        } else {
            m
        };
        self.defer(i, m);
    }

    #[cold]
    fn defer(&mut self, i: usize, m: T) {
        let w = (self.weight)(&m);
        // Without a backlog (a replay), even a message that weighs
        // nothing (a clock tick) waits.
        if self.max_held > 0 && self.held + w <= self.max_held {
            self.held += w;
            self.counts.deferred += 1;
            self.counts.peak_held = self.counts.peak_held.max(self.held as u64);
            self.backlog[i].push_back(m);
            return;
        }
        self.counts.waits += 1;
        self.wait_out(i);
        let _ = self.lanes[i].send(m);
    }

    /// Move aggregator `i`'s backlog into its queue while there is room;
    /// true if the backlog is empty now.
    fn retry(&mut self, i: usize) -> bool {
        while let Some(m) = self.backlog[i].pop_front() {
            let w = (self.weight)(&m);
            match self.lanes[i].try_send(m) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => self.held -= w,
                Err(TrySendError::Full(m)) => {
                    self.backlog[i].push_front(m);
                    return false;
                }
            }
        }
        true
    }

    /// Move every backlog into its queue while there is room (now and
    /// then, so an aggregator that gets no new message still gets its
    /// backlog).
    pub fn retry_all(&mut self) {
        for i in 0..self.backlog.len() {
            self.retry(i);
        }
    }

    /// Wait until aggregator `i`'s backlog is in its queue.
    fn wait_out(&mut self, i: usize) {
        while let Some(m) = self.backlog[i].pop_front() {
            self.held -= (self.weight)(&m);
            let _ = self.lanes[i].send(m);
        }
    }

    /// Hand over every backlog, waiting as long as it takes (the capture
    /// is over: nothing already read is lost).
    pub fn finish(&mut self) {
        for i in 0..self.backlog.len() {
            self.wait_out(i);
        }
    }

    /// Events in the backlog now.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::bounded;

    #[test]
    fn a_full_queue_defers_in_order_within_the_bound() {
        let (tx, rx) = bounded::<Vec<u32>>(1);
        let lanes = [tx];
        let mut h = Handover::new(&lanes, 10, Vec::len);
        h.send(0, vec![1, 2]);
        // The queue is full: these wait in the backlog, not the caller.
        h.send(0, vec![3, 4, 5]);
        h.send(0, vec![6]);
        assert_eq!(h.held(), 4);
        assert_eq!(h.counts.deferred, 2);
        assert_eq!(h.counts.waits, 0);
        assert_eq!(rx.recv().unwrap(), vec![1, 2]);
        // Room again: the next message goes behind the backlog.
        h.send(0, vec![7]);
        assert_eq!(rx.recv().unwrap(), vec![3, 4, 5]);
        h.retry_all();
        assert_eq!(rx.recv().unwrap(), vec![6]);
        h.finish();
        assert_eq!(rx.recv().unwrap(), vec![7]);
        assert_eq!(h.held(), 0);
        assert_eq!(h.counts.peak_held, 4);
    }

    #[test]
    fn past_the_bound_it_waits_and_loses_nothing() {
        let (tx, rx) = bounded::<Vec<u32>>(1);
        let lanes = [tx];
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            while let Ok(v) = rx.recv() {
                got.extend(v);
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            got
        });
        let mut h = Handover::new(&lanes, 3, Vec::len);
        for i in 0..50u32 {
            h.send(0, vec![i; (i % 3) as usize + 1]);
        }
        h.finish();
        let counts = h.counts;
        drop(h);
        drop(lanes);
        let got = reader.join().unwrap();
        let want: Vec<u32> = (0..50u32)
            .flat_map(|i| vec![i; (i % 3) as usize + 1])
            .collect();
        assert_eq!(got, want);
        assert!(counts.peak_held <= 3, "{counts:?}");
        assert!(counts.waits > 0, "{counts:?}");
    }

    #[test]
    fn without_a_backlog_a_full_queue_is_waited_for() {
        let (tx, rx) = bounded::<Vec<u32>>(1);
        let lanes = [tx];
        let reader = std::thread::spawn(move || rx.iter().collect::<Vec<_>>());
        let mut h = Handover::new(&lanes, 0, Vec::len);
        for i in 0..20u32 {
            h.send(0, vec![i]);
            h.send(0, Vec::new());
        }
        h.finish();
        assert_eq!(h.counts.deferred, 0);
        drop(h);
        drop(lanes);
        let got = reader.join().unwrap();
        assert_eq!(got.len(), 40);
        let got: Vec<u32> = got.into_iter().flatten().collect();
        assert_eq!(got, (0..20).collect::<Vec<_>>());
    }
}
