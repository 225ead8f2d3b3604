//! A global allocator that asks for transparent huge pages on large blocks.
//!
//! The aggregators' tables (pending attempts, per-source state) are tens to
//! hundreds of MiB read at random: with 4 KiB pages nearly every lookup also
//! misses the TLB, and a page walk under virtualisation costs several more
//! memory reads. Debian enables transparent huge pages only for memory
//! that asks (`madvise`), so large blocks ask. Everything else is the
//! system allocator's; the hint is a hint (ignored where THP is off).

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks at least this large get the hint.
const LARGE: usize = 4 << 20;
const HUGE_PAGE: usize = 2 << 20;

pub struct HugePageHint;

/// Advise the whole huge pages inside `[ptr, ptr + size)`.
fn advise(ptr: *mut u8, size: usize) {
    if ptr.is_null() || size < LARGE {
        return;
    }
    let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
    let end = (ptr as usize + size) / HUGE_PAGE * HUGE_PAGE;
    if end > start {
        // SAFETY: the range lies inside a block we own; MADV_HUGEPAGE does
        // not change its contents. Failure (THP off) leaves it as it was.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

// SAFETY: every call is forwarded to `System`; the hint only changes how the
// kernel backs memory already handed out.
unsafe impl GlobalAlloc for HugePageHint {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        advise(p, layout.size());
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        advise(p, layout.size());
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        advise(p, new_size);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_and_small_blocks_work_as_from_the_system() {
        for size in [64, LARGE - 1, LARGE, 3 * LARGE + 12345] {
            let layout = Layout::from_size_align(size, 64).unwrap();
            // SAFETY: a non-zero layout; the block is written inside its
            // bounds, grown with `realloc`, and freed once.
            unsafe {
                let p = HugePageHint.alloc_zeroed(layout);
                assert!(!p.is_null());
                assert_eq!(*p.add(size - 1), 0);
                *p.add(size - 1) = 7;
                let q = HugePageHint.realloc(p, layout, size * 2);
                assert!(!q.is_null());
                assert_eq!(*q.add(size - 1), 7);
                HugePageHint.dealloc(q, Layout::from_size_align(size * 2, 64).unwrap());
            }
        }
    }
}
