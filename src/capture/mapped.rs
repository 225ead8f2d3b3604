//! Classic pcap files read through a memory map.
//!
//! libpcap copies every record into its own buffer, which costs more than
//! the rest of a packet's processing; here a record is a slice of the
//! mapped file. The reader is also stricter than libpcap: a record longer
//! than the file's snap length is damage, not something to cut silently.
//! libpcap stays the reference (`--reader libpcap`) and reads pcapng and
//! standard input.

use std::fs::File;
use std::sync::Arc;

use memmap2::{Advice, Mmap};

use super::pager::{self, Pager, RELEASE_STEP};
use super::Frame;
use crate::decode::LinkType;
use crate::error::Error;
use crate::time::{Nanos, Precision};

const FILE_HEADER: usize = 24;
const RECORD_HEADER: usize = 16;
/// Used when a header's snap length is 0 (some writers): libpcap's own
/// largest snap length.
const MAX_SNAPLEN: u32 = 262_144;
/// Files at least this large get a pager thread (below it, starting one
/// costs more than it saves).
const PAGER_MIN: usize = 16 << 20;

/// Where a record header has its captured and wire lengths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lengths {
    InOrder,
    /// Version 2.3: swapped if the "captured" length is the larger.
    MaybeSwapped,
    /// Before 2.3.
    Swapped,
}

pub struct MappedPcap {
    map: Arc<Mmap>,
    pos: usize,
    /// Faults pages in ahead and releases them behind; without one, the
    /// reader releases read pages itself so a replay's resident memory does
    /// not grow with the file.
    pager: Option<Pager>,
    /// Bytes before this offset were handed back to the kernel (no pager).
    released: usize,
    big_endian: bool,
    /// Files before version 2.3 have the captured and wire lengths the
    /// other way round (libpcap's rule, followed so both readers agree).
    lengths: Lengths,
    /// Nanoseconds per unit of the sub-second field.
    unit: Nanos,
    snaplen: u32,
    pub link: LinkType,
    pub precision: Precision,
}

impl MappedPcap {
    /// Map `file`, whose magic says classic pcap, and check its header.
    pub fn open(name: &str, file: &File) -> Result<MappedPcap, Error> {
        // SAFETY: the map is read-only; a file truncated underneath us while
        // mapped is outside what a replay supports (as for any mmap reader).
        let map = unsafe { Mmap::map(file) }.map_err(|e| Error::input(name, e.to_string()))?;
        let _ = map.advise(Advice::Sequential);
        if map.len() < FILE_HEADER {
            return Err(Error::input(
                name,
                format!(
                    "truncated pcap file header: {} of {FILE_HEADER} bytes",
                    map.len()
                ),
            ));
        }
        let magic = u32::from_le_bytes([map[0], map[1], map[2], map[3]]);
        let (big_endian, precision) = match magic {
            0xa1b2_c3d4 => (false, Precision::Micro),
            0xa1b2_3c4d => (false, Precision::Nano),
            0xd4c3_b2a1 => (true, Precision::Micro),
            0x4d3c_b2a1 => (true, Precision::Nano),
            _ => return Err(Error::input(name, "not a classic pcap file")),
        };
        let u32_at = |at: usize| {
            let b = [map[at], map[at + 1], map[at + 2], map[at + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let major = if big_endian {
            u16::from_be_bytes([map[4], map[5]])
        } else {
            u16::from_le_bytes([map[4], map[5]])
        };
        if major != 2 {
            return Err(Error::input(
                name,
                format!("unsupported pcap version {major}"),
            ));
        }
        let minor = if big_endian {
            u16::from_be_bytes([map[6], map[7]])
        } else {
            u16::from_le_bytes([map[6], map[7]])
        };
        let lengths = match minor {
            0..=2 => Lengths::Swapped,
            3 => Lengths::MaybeSwapped,
            _ => Lengths::InOrder,
        };
        let snaplen = match u32_at(16) {
            0 => MAX_SNAPLEN,
            n => n,
        };
        // The upper bits may carry FCS information; the type is the rest.
        let dlt = (u32_at(20) & 0x03ff_ffff) as i32;
        let link = super::link_type(name, pcap::Linktype(dlt))?;
        let map = Arc::new(map);
        let pager = (map.len() >= PAGER_MIN)
            .then(|| Pager::start(Arc::clone(&map)))
            .flatten();
        Ok(MappedPcap {
            map,
            pos: FILE_HEADER,
            pager,
            released: 0,
            big_endian,
            lengths,
            unit: match precision {
                Precision::Micro => 1000,
                Precision::Nano => 1,
            },
            snaplen,
            link,
            precision,
        })
    }

    /// After reading: tell the pager, or (without one) hand finished pages
    /// back in whole steps, so offsets stay page-aligned.
    #[inline]
    fn done_up_to_pos(&mut self) {
        match &self.pager {
            Some(p) => p.reader_at(self.pos),
            None if self.pos - self.released >= RELEASE_STEP => {
                let n = (self.pos - self.released) / RELEASE_STEP * RELEASE_STEP;
                pager::release(&self.map, self.released, n);
                self.released += n;
            }
            None => {}
        }
    }

    /// The record at byte `at`: `(timestamp, start, end, wire length)`,
    /// `Ok(None)` at a clean end, `Err` describing damage.
    #[inline(always)]
    fn record_at(&self, at: usize) -> Result<Option<(Nanos, usize, usize, u32)>, String> {
        let left = self.map.len() - at;
        if left < RECORD_HEADER {
            return match left {
                0 => Ok(None),
                n => Err(format!(
                    "truncated record header at byte {at}: {n} of {RECORD_HEADER} bytes"
                )),
            };
        }
        let [secs, sub, caplen, wire_len] = self.header_words(at);
        let (caplen, wire_len) = self.lengths(caplen, wire_len);
        if caplen > self.snaplen {
            return Err(format!(
                "record at byte {at} claims {caplen} captured bytes, more than the snap length of {}",
                self.snaplen
            ));
        }
        let start = at + RECORD_HEADER;
        let end = start + caplen as usize;
        if end > self.map.len() {
            return Err(format!(
                "truncated record at byte {at}: {caplen} captured bytes claimed, {} present",
                self.map.len() - start
            ));
        }
        // An impossible time is `Nanos::MIN`: the capture stage skips it.
        let ts = super::classic_record_nanos(secs, sub, self.unit);
        Ok(Some((ts, start, end, wire_len)))
    }

    /// A record header's four words (seconds, sub-second, captured and
    /// wire lengths) in host order; `at + 16` must be inside the map.
    #[inline(always)]
    fn header_words(&self, at: usize) -> [u32; 4] {
        // One 16-byte load, and one test of the byte order for all four
        // words (a test per word was a tenth of the replay loop).
        let h: [u8; RECORD_HEADER] = self.map[at..at + RECORD_HEADER]
            .try_into()
            .expect("16 bytes");
        let mut w = [0u32; 4];
        for (i, w) in w.iter_mut().enumerate() {
            *w = u32::from_le_bytes([h[4 * i], h[4 * i + 1], h[4 * i + 2], h[4 * i + 3]]);
        }
        if self.big_endian {
            w = w.map(u32::swap_bytes);
        }
        w
    }

    /// A record header's (captured, wire) lengths from its two length
    /// words, swapped where the file's version says so.
    #[inline(always)]
    fn lengths(&self, caplen: u32, wire_len: u32) -> (u32, u32) {
        let swap = match self.lengths {
            Lengths::InOrder => false,
            Lengths::MaybeSwapped => caplen > wire_len,
            Lengths::Swapped => true,
        };
        if swap {
            (wire_len, caplen)
        } else {
            (caplen, wire_len)
        }
    }

    /// True if no record is older than one before it (up to the end or to
    /// damage). Reads the record headers only; the read position stays.
    /// An impossible time counts as `BAD_TIME`, older than any, as the
    /// reader hands it out (so both readers sort such a file alike).
    pub fn in_time_order(&self) -> bool {
        let (mut at, mut newest) = (FILE_HEADER, Nanos::MIN);
        while at + RECORD_HEADER <= self.map.len() {
            let [secs, sub, caplen, wire_len] = self.header_words(at);
            let (caplen, _) = self.lengths(caplen, wire_len);
            // Damage ends the look as it ends the replay.
            if caplen > self.snaplen {
                break;
            }
            let time = super::classic_record_nanos(secs, sub, self.unit);
            if time < newest {
                return false;
            }
            newest = time;
            at += RECORD_HEADER + caplen as usize;
        }
        true
    }

    /// The next record; `Ok(None)` at a clean end, `Err` describing damage.
    #[inline]
    pub fn read(&mut self) -> Result<Option<Frame<'_>>, String> {
        // Nothing borrows the previous record any more.
        self.done_up_to_pos();
        let Some((ts, start, end, wire_len)) = self.record_at(self.pos)? else {
            return Ok(None);
        };
        self.pos = end;
        Ok(Some(Frame {
            ts,
            link: self.link,
            data: &self.map[start..end],
            wire_len,
        }))
    }

    /// Hand up to `max` records to `sink`: the replay hot loop, with each
    /// record's fields passed straight on rather than through a returned
    /// frame. `Ok(true)` if records may remain, `Ok(false)` at a clean end.
    #[inline]
    pub fn frames<F: FnMut(Frame<'_>)>(
        &mut self,
        max: usize,
        sink: &mut F,
    ) -> Result<bool, String> {
        // Nothing borrows the records of the previous call any more.
        self.done_up_to_pos();
        let link = self.link;
        for _ in 0..max {
            let Some((ts, start, end, wire_len)) = self.record_at(self.pos)? else {
                return Ok(false);
            };
            self.pos = end;
            sink(Frame {
                ts,
                link,
                data: &self.map[start..end],
                wire_len,
            });
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::MappedPcap;

    /// A classic pcap file (microseconds, Ethernet) with a record per
    /// `(seconds, microseconds)`, each 4 bytes long, in either byte order.
    fn file(big_endian: bool, times: &[(u32, u32)]) -> std::fs::File {
        let word = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let half = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut b = Vec::new();
        b.extend(word(0xa1b2_c3d4));
        b.extend(half(2));
        b.extend(half(4));
        b.extend(word(0));
        b.extend(word(0));
        b.extend(word(65535));
        b.extend(word(1));
        for &(s, us) in times {
            for w in [s, us, 4, 4] {
                b.extend(word(w));
            }
            b.extend([0u8; 4]);
        }
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&b).unwrap();
        f
    }

    fn in_order(big_endian: bool, times: &[(u32, u32)]) -> bool {
        MappedPcap::open("test", &file(big_endian, times))
            .unwrap()
            .in_time_order()
    }

    #[test]
    fn time_order_is_judged_on_seconds_then_fractions_in_either_byte_order() {
        for be in [false, true] {
            assert!(in_order(be, &[]));
            assert!(in_order(be, &[(5, 999_999), (6, 0), (6, 0), (6, 1)]));
            assert!(!in_order(be, &[(5, 10), (5, 9)]));
            assert!(!in_order(be, &[(6, 0), (5, 999_999)]));
            // Above 2^31 seconds (classic pcap's are unsigned).
            assert!(in_order(be, &[(0x7fff_ffff, 0), (0x8000_0000, 0)]));
            assert!(!in_order(be, &[(0x8000_0000, 0), (0x7fff_ffff, 0)]));
            // An impossible time (a million microseconds) is older than
            // any, as the reader hands it out: after others it is out of
            // order, so this file is sorted as libpcap's is.
            assert!(!in_order(be, &[(5, 0), (5, 1_000_000)]));
            assert!(in_order(be, &[(5, 1_000_000), (0, 0), (5, 0)]));
        }
    }
}
