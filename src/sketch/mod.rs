//! Compact, mergeable counters that rules keep their state in: port sets,
//! host sets, and a hash map whose slots can be fetched ahead of a lookup.

pub mod destset;
pub mod portset;
pub mod prefetch_map;

/// Ask the CPU to start fetching the cache line at `p`: the per-shard
/// tables are read at random, and every lookup known a few steps ahead is
/// fetched this way. A hint only: it never faults, whatever `p` is.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: _mm_prefetch reads nothing architecturally and cannot fault.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// [`prefetch`] for a line about to be written (fetched for ownership, so
/// the store does not wait for it).
#[inline(always)]
pub(crate) fn prefetch_write<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as for `prefetch`: a hint that reads nothing and cannot fault.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_ET0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
