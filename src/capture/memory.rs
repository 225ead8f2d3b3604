//! Frames held in memory: for tests, benchmarks and tools that build
//! traffic themselves.

use super::{Frame, FrameSource, Next};
use crate::decode::LinkType;
use crate::time::Nanos;

pub struct MemorySource {
    frames: Vec<(Nanos, Vec<u8>)>,
    link: LinkType,
    next: usize,
}

impl MemorySource {
    pub fn new(link: LinkType, frames: Vec<(Nanos, Vec<u8>)>) -> Self {
        MemorySource {
            frames,
            link,
            next: 0,
        }
    }
}

impl FrameSource for MemorySource {
    fn next_frame(&mut self) -> Next<'_> {
        let Some((ts, data)) = self.frames.get(self.next) else {
            return Next::End;
        };
        self.next += 1;
        Next::Frame(Frame {
            ts: *ts,
            link: self.link,
            data,
            wire_len: data.len() as u32,
        })
    }
}
