//! prefetch: ask the CPU for memory a few items before it is read. For reads the hardware
//! prefetcher cannot foresee: records hundreds of bytes apart in a batch or a mapped file, payload
//! bytes the stream tracker reads long after the decoder saw them, per-flow state all over a
//! large table. Profiles of the 10M-packet load showed each of those stalled on a cache miss per
//! packet; asking ahead took the load from 4.9 to 4.3-4.5 s.

/// How many records ahead [`prefetch`] asks for memory: about the latency of a cache miss
/// divided by the work per record.
pub const PREFETCH_AHEAD: usize = 6;

/// Hint the CPU to bring the cache line holding `items[at]` in (nothing when out of range, or on
/// CPUs without the instruction). For reads the hardware prefetcher cannot foresee: packets
/// hundreds of bytes apart in a batch, per-flow state all over a large table.
#[inline]
pub fn prefetch<T>(items: &[T], at: usize) {
    if let Some(x) = items.get(at) {
        prefetch_ptr((x as *const T).cast());
    }
}

/// [`prefetch`] of a raw address (also for callers that know a struct spans several lines).
#[inline]
pub fn prefetch_ptr(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch hint reads nothing and cannot fault, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
