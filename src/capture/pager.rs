//! A helper thread that pages a memory-mapped capture file in ahead of the
//! reader and hands the pages back to the kernel behind it.
//!
//! Why: faulting the mapping in page by page was nearly half of what reading
//! a file from the page cache cost the capture thread (a bare walk of the
//! span benchmark's records: about 120 ms alone, 65 ms with this thread
//! faulting ahead), and the capture thread is the one that limits a replay
//! of mostly uninteresting traffic. The faults (and the `MADV_DONTNEED`
//! that keeps resident memory from growing with the file) move to this
//! thread, which mostly sleeps.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use memmap2::{Mmap, UncheckedAdvice};

/// Stay this far ahead of the reader.
const AHEAD: usize = 32 << 20;
/// Fault in this much at a time.
const STEP: usize = 2 << 20;
/// Hand pages back in steps of this many bytes (page-aligned).
pub const RELEASE_STEP: usize = 32 << 20;
const PAGE: usize = 4096;
/// How long to wait when far enough ahead.
const NAP: Duration = Duration::from_micros(200);

struct Shared {
    /// The reader is done with every byte before this offset.
    read_to: AtomicUsize,
    stop: AtomicBool,
}

pub struct Pager {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Pager {
    /// Start paging `map`; `None` if no thread could be started (the
    /// reader then faults its own pages and releases them itself).
    pub fn start(map: Arc<Mmap>) -> Option<Pager> {
        let shared = Arc::new(Shared {
            read_to: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let thread = std::thread::Builder::new()
            .name("pager".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || run(&map, &shared)
            })
            .ok()?;
        Some(Pager {
            shared,
            thread: Some(thread),
        })
    }

    /// The reader has finished with everything before `pos`.
    #[inline]
    pub fn reader_at(&self, pos: usize) {
        self.shared.read_to.store(pos, Ordering::Relaxed);
    }
}

impl Drop for Pager {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(map: &Mmap, shared: &Shared) {
    let len = map.len();
    let (mut paged, mut released) = (0, 0);
    while !shared.stop.load(Ordering::Relaxed) {
        let pos = shared.read_to.load(Ordering::Relaxed).min(len);
        if pos - released >= RELEASE_STEP {
            let n = (pos - released) / RELEASE_STEP * RELEASE_STEP;
            release(map, released, n);
            released += n;
        }
        if pos >= len {
            return;
        }
        paged = paged.max(pos / PAGE * PAGE);
        if paged < len && paged < pos + AHEAD {
            let end = (paged + STEP).min(len);
            // One byte per page brings the page in (a read fault maps it);
            // black_box keeps the loads from being optimised away.
            for at in (paged..end).step_by(PAGE) {
                std::hint::black_box(map[at]);
            }
            paged = end;
        } else {
            std::thread::sleep(NAP);
        }
    }
}

/// Hand `[from, from + n)` of `map` back to the kernel.
pub fn release(map: &Mmap, from: usize, n: usize) {
    // SAFETY: DONTNEED on a read-only file mapping cannot change what the
    // mapping reads: touched again, the pages refill from the file. Callers
    // pass only ranges the reader has finished with, page-aligned.
    let _ = unsafe { map.unchecked_advise_range(UncheckedAdvice::DontNeed, from, n) };
}
