//! Capture stage: frames with their timestamps and link type, from capture
//! files (merged in timestamp order) or a live interface.

pub mod file;
pub mod live;
pub mod mapped;
pub mod memory;
pub mod pager;
pub mod sorted;

use crate::decode::LinkType;
use crate::time::Nanos;

/// One captured frame, borrowed from the reader until the next call.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub ts: Nanos,
    pub link: LinkType,
    /// Bytes on the wire, as captured (maybe cut at the snap length).
    pub data: &'a [u8],
    /// Length on the wire.
    pub wire_len: u32,
}

/// What a source has next.
pub enum Next<'a> {
    Frame(Frame<'a>),
    /// Nothing arrived within the read timeout (live capture only).
    Idle,
    /// End of input.
    End,
}

/// Why [`FrameSource::frames`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pause {
    /// It handed out as many frames as asked; there may be more.
    More,
    /// Nothing arrived within the read timeout (live capture only).
    Idle,
    /// End of input.
    End,
}

/// Anything that yields frames: the pipeline is written against this.
pub trait FrameSource {
    fn next_frame(&mut self) -> Next<'_>;

    /// Hand up to `max` frames to `sink`, in order. The capture loop reads
    /// this way so that a reader can pass each frame on from its own loop
    /// (the memory-mapped reader does); by default it calls `next_frame`.
    #[inline]
    fn frames<F: FnMut(Frame<'_>)>(&mut self, max: usize, sink: &mut F) -> Pause
    where
        Self: Sized,
    {
        one_by_one(self, max, sink)
    }

    /// Live sources follow the wall clock when the link is quiet.
    fn is_live(&self) -> bool {
        false
    }

    /// Packets the kernel or interface dropped so far, if known.
    fn kernel_drops(&mut self) -> Option<u64> {
        None
    }

    /// Inputs that ended early because they were damaged (each was
    /// reported on stderr when it happened).
    fn damaged(&self) -> usize {
        0
    }
}

/// [`FrameSource::frames`] by repeated `next_frame` calls.
#[inline]
pub fn one_by_one<S: FrameSource, F: FnMut(Frame<'_>)>(
    src: &mut S,
    max: usize,
    sink: &mut F,
) -> Pause {
    for _ in 0..max {
        match src.next_frame() {
            Next::Frame(f) => sink(f),
            Next::Idle => return Pause::Idle,
            Next::End => return Pause::End,
        }
    }
    Pause::More
}

/// A record's timestamp in nanoseconds from its seconds and sub-second
/// field (counting `unit` nanoseconds: 1000 for microsecond captures, 1 for
/// nanosecond ones); `None` if no such time exists: the sub-second field is
/// a second or more, or the time is past what 64-bit nanoseconds hold (the
/// year 2262). Readers hand such a record on with the time
/// [`BAD_TIME`], and the capture stage counts and skips it as damage.
pub const BAD_TIME: Nanos = Nanos::MIN;

#[inline(always)]
pub(crate) fn record_nanos(secs: i64, sub: i64, unit: Nanos) -> Option<Nanos> {
    // A multiplication, not `sub >= NANOS_PER_SEC / unit`: a division per
    // record was a fifth of the read loop's time (units divide a second).
    let nanos = sub.checked_mul(unit)?;
    if sub < 0 || nanos >= crate::time::NANOS_PER_SEC {
        return None;
    }
    secs.checked_mul(crate::time::NANOS_PER_SEC)?
        .checked_add(nanos)
}

/// [`record_nanos`] for a classic pcap record's unsigned 32-bit fields:
/// neither product can overflow (2^32 seconds are 4.3e18 ns), so one
/// comparison decides (three instructions a record fewer than the
/// checked arithmetic).
#[inline(always)]
pub(crate) fn classic_record_nanos(secs: u32, sub: u32, unit: Nanos) -> Nanos {
    let nanos = i64::from(sub) * unit;
    if nanos >= crate::time::NANOS_PER_SEC {
        return BAD_TIME;
    }
    i64::from(secs) * crate::time::NANOS_PER_SEC + nanos
}

/// The time of a libpcap record header whose sub-second field counts
/// `unit` nanoseconds. `classic`: from a classic pcap file, whose seconds
/// field is unsigned 32-bit (libpcap sign-extends it, which dates 2038 and
/// later to 1901 and later).
#[inline]
fn header_nanos(h: &pcap::PacketHeader, unit: Nanos, classic: bool) -> Nanos {
    let secs = if classic {
        h.ts.tv_sec as u32 as Nanos
    } else {
        h.ts.tv_sec as Nanos
    };
    record_nanos(secs, h.ts.tv_usec as Nanos, unit).unwrap_or(BAD_TIME)
}

/// Map a libpcap link type to ours, or a clear error naming it.
fn link_type(what: &str, dlt: pcap::Linktype) -> Result<LinkType, crate::error::Error> {
    LinkType::from_dlt(dlt.0).ok_or_else(|| {
        let name = dlt.get_name().unwrap_or_else(|_| "unknown".into());
        crate::error::Error::input(
            what,
            format!("unsupported link type {} ({name}); picket decodes Ethernet, 802.1Q/QinQ, Linux cooked v1/v2, raw IP and BSD loopback", dlt.0),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_record_times_agree_with_the_checked_conversion() {
        let edges = [
            0u32,
            1,
            999,
            999_999,
            1_000_000,
            999_999_999,
            1_000_000_000,
            u32::MAX,
        ];
        for unit in [1, 1000] {
            for &secs in &edges {
                for &sub in &edges {
                    assert_eq!(
                        classic_record_nanos(secs, sub, unit),
                        record_nanos(secs.into(), sub.into(), unit).unwrap_or(BAD_TIME),
                        "{secs} {sub} {unit}"
                    );
                }
            }
        }
    }
}
