//! Compact, mergeable counters that rules keep their state in: port sets,
//! host sets, and a hash map whose slots can be fetched ahead of a lookup.

pub mod destset;
pub mod portset;
pub mod prefetch_map;

/// An address as 64 bits: an IPv4 address itself, an IPv6 address's two
/// halves XORed. For keys that only tell one source's hosts apart (a
/// collision costs a count, never memory): not for hash tables an
/// attacker fills, which take per-process random keys.
#[inline]
pub fn fold_ip(a: &std::net::IpAddr) -> u64 {
    match a {
        std::net::IpAddr::V4(a) => u64::from(u32::from(*a)),
        std::net::IpAddr::V6(a) => {
            let x = u128::from(*a);
            x as u64 ^ (x >> 64) as u64
        }
    }
}

/// A 64-bit hash mapped onto `0..n` (multiply and keep the high half:
/// no division, and uniform for a uniform hash).
#[inline]
pub fn slot(h: u64, n: usize) -> usize {
    ((h as u128 * n as u128) >> 64) as usize
}

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
