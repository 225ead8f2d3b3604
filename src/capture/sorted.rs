//! A capture file stored out of time order, read whole and handed out
//! sorted by timestamp. Probes read after their bin has closed are lost
//! to every rule, and some public captures are stored newest first; a
//! file that fits a memory bound is therefore sorted (stable: records
//! with equal times keep their order), and only a larger one (or a
//! stream) is left to the late-probe warning.

use super::Frame;
use crate::decode::LinkType;
use crate::time::Nanos;

/// One record: its time, where its bytes are in `data`, its wire length.
#[derive(Clone, Copy)]
struct Record {
    ts: Nanos,
    start: usize,
    len: u32,
    wire_len: u32,
}

pub struct SortedFrames {
    link: LinkType,
    data: Vec<u8>,
    records: Vec<Record>,
    next: usize,
    /// Damage that ended the read, reported after the records before it.
    damage: Option<String>,
}

impl SortedFrames {
    /// Collect frames as a file hands them out (up to `damage`, if it
    /// ended in damage).
    pub fn new(link: LinkType) -> Self {
        SortedFrames {
            link,
            data: Vec::new(),
            records: Vec::new(),
            next: 0,
            damage: None,
        }
    }

    pub fn push(&mut self, f: &Frame<'_>) {
        self.records.push(Record {
            ts: f.ts,
            start: self.data.len(),
            len: f.data.len() as u32,
            wire_len: f.wire_len,
        });
        self.data.extend_from_slice(f.data);
    }

    pub fn end_in_damage(&mut self, msg: String) {
        self.damage = Some(msg);
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.data.len() + self.records.len() * std::mem::size_of::<Record>()
    }

    /// True if some record is older than one before it.
    pub fn out_of_order(&self) -> bool {
        self.records.windows(2).any(|w| w[1].ts < w[0].ts)
    }

    /// Sort by time (stable); the number of records.
    pub fn sort(&mut self) -> usize {
        self.records.sort_by_key(|r| r.ts);
        self.records.len()
    }

    /// The next record in time order, `Ok(None)` at the end, `Err` once
    /// for the damage that ended the file.
    pub fn read(&mut self) -> Result<Option<Frame<'_>>, String> {
        let Some(r) = self.records.get(self.next).copied() else {
            return match self.damage.take() {
                Some(msg) => Err(msg),
                None => Ok(None),
            };
        };
        self.next += 1;
        Ok(Some(Frame {
            ts: r.ts,
            link: self.link,
            data: &self.data[r.start..r.start + r.len as usize],
            wire_len: r.wire_len,
        }))
    }
}
