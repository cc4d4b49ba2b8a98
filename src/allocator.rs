//! allocator: the system allocator, except that big page-aligned blocks come straight from fresh
//! anonymous pages. Polars keeps one 8 MiB block of zeroes for all-null and zeroed buffers, made
//! with a 4 KiB alignment; the system allocator cannot take such a request to calloc, so Rust
//! writes the zeroes itself and touches 2,048 pages (~5 ms, half the page faults of analyzing an
//! empty capture). Pages fresh from the kernel are zero already and are touched only when used.
//!
//! Kept because it still pays (measured 2026-12-07, release build, the same binary switched
//! between this and the system allocator, runs alternated): the whole suite over a cached
//! 1M-packet capture 66 ms against 73 ms (median of 25), peak 85 against 93 MiB; a 1M load 323
//! against 330 ms.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicU32, Ordering};

// ---------------------------------------------------------------------------------------------
// Big blocks while decoding

/// Decodes in progress in this process.
static DECODING: std::sync::Mutex<usize> = std::sync::Mutex::new(0);

/// While held (a decode runs), blocks of 1 MiB or more are mapped for themselves and given back
/// to the kernel when freed. glibc otherwise raises its mapping threshold as big blocks are
/// freed (up to 32 MiB), after which they come from per-thread arenas: a decode's flows and
/// stream state, built on the collector thread and freed at its end, then stayed in that
/// thread's arena while the tables were made on others. Measured on the 10M-packet capture
/// (release, alternated): peak 811 -> 733 MiB at the same speed. A query is left to glibc's own
/// rule (mapping each of its big blocks anew cost the cached suite ~10 %).
pub struct BigBlocksMapped(());

impl BigBlocksMapped {
    pub fn start() -> BigBlocksMapped {
        if let Ok(mut n) = DECODING.lock() {
            if *n == 0 {
                set_thresholds(1 << 20, Some(2 << 20));
            }
            *n += 1;
        }
        BigBlocksMapped(())
    }
}

impl Drop for BigBlocksMapped {
    fn drop(&mut self) {
        if let Ok(mut n) = DECODING.lock() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                // glibc's dynamic threshold cannot be turned back on; its ceiling is the closest.
                set_thresholds(32 << 20, None);
            }
        }
    }
}

/// Set glibc's threshold for mapping a block on its own and, when given, its trim threshold: how
/// much free memory at the top of a malloc heap is kept rather than given back. Setting the
/// mapping threshold turns off glibc's rule that raises the trim threshold with it, leaving
/// 128 KiB: the per-chunk buffers a decode makes and frees on different threads (a chunk's
/// messages, its column vectors) then went back to the kernel and came back as fresh pages
/// chunk after chunk (57k of the 10M load's 357k page faults). The decode's 2 MiB, twice its
/// mapping threshold, is glibc's own rule for the pair; it is left in place after the decode.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_thresholds(mmap: i32, trim: Option<i32>) {
    // SAFETY: mallopt only sets a malloc parameter (under glibc's own lock); any value is valid.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, mmap);
        if let Some(trim) = trim {
            libc::mallopt(libc::M_TRIM_THRESHOLD, trim);
        }
    }
}

/// Only glibc has these parameters.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_thresholds(_mmap: i32, _trim: Option<i32>) {}

// ---------------------------------------------------------------------------------------------
// The memory budget of a query run in a process of its own (a command, a query worker)

/// Bytes allocated minus bytes freed since the budget started (blocks from before it are freed
/// too, so it can go below zero).
static NET: AtomicIsize = AtomicIsize::new(0);
/// The budget in bytes; 0 when none is set (then nothing is counted: loading costs nothing).
static LIMIT: AtomicIsize = AtomicIsize::new(0);

/// Where in the script the query is (line and column, 1-based; 0 when not known): set where a
/// script makes Polars run (a `count()`, the result), said when a limit stops it.
static AT_LINE: AtomicU32 = AtomicU32::new(0);
static AT_COLUMN: AtomicU32 = AtomicU32::new(0);

/// Note that the script runs Polars from `line`, `column` on.
pub fn set_query_position(line: usize, column: usize) {
    AT_LINE.store(line.min(u32::MAX as usize) as u32, Ordering::Relaxed);
    AT_COLUMN.store(column.min(u32::MAX as usize) as u32, Ordering::Relaxed);
}

/// The position last set, if any.
pub fn query_position() -> Option<(u32, u32)> {
    let line = AT_LINE.load(Ordering::Relaxed);
    (line > 0).then(|| (line, AT_COLUMN.load(Ordering::Relaxed)))
}

/// While held, the process may allocate at most `limit` bytes more than it held when it
/// started; the allocation that would pass it ends the process with exit code 2 and a message
/// saying how much was asked for (Polars cannot be interrupted, and a refused allocation would
/// abort it). Only for processes whose whole job is the query: a command or a query worker.
pub struct Budget(());

impl Budget {
    pub fn start(limit: u64) -> Budget {
        set_query_position(0, 0);
        NET.store(0, Ordering::SeqCst);
        LIMIT.store(limit.min(isize::MAX as u64) as isize, Ordering::SeqCst);
        Budget(())
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        LIMIT.store(0, Ordering::SeqCst);
    }
}

#[inline]
fn charge(size: usize) {
    let limit = LIMIT.load(Ordering::Relaxed);
    if limit > 0 {
        let now = NET.fetch_add(size as isize, Ordering::Relaxed) + size as isize;
        if now > limit {
            over_budget(size, now, limit);
        }
    }
}

#[inline]
fn refund(size: usize) {
    if LIMIT.load(Ordering::Relaxed) > 0 {
        NET.fetch_sub(size as isize, Ordering::Relaxed);
    }
}

/// A small text buffer on the stack: the message is written without allocating (the allocator
/// is where this runs).
struct StackText {
    buf: [u8; 512],
    len: usize,
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Bytes as `27.0 GB` / `512.0 MB`.
struct Size(isize);

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.0.max(0) as f64;
        if b >= 1e9 {
            write!(f, "{:.1} GB", b / 1e9)
        } else {
            write!(f, "{:.1} MB", b / 1e6)
        }
    }
}

#[cold]
fn over_budget(asked: usize, now: isize, limit: isize) -> ! {
    use std::fmt::Write as _;
    LIMIT.store(0, Ordering::SeqCst);
    let mut t = StackText { buf: [0; 512], len: 0 };
    let _ = write!(
        t,
        "netql: query stopped: it would need more than its memory limit of {} (one request for {} with {} already in use)",
        Size(limit),
        Size(asked as isize),
        Size(now - asked as isize),
    );
    if let Some((line, column)) = query_position() {
        let _ = write!(t, " at line {line}, column {column} of the script");
    }
    let _ = writeln!(
        t,
        "; filter first, or aggregate before joining or exploding (the limit is [queries] max_memory)"
    );
    // SAFETY: writing a buffer we own to stderr, then ending the process at once (no unwinding,
    // no destructors: the heap is where the trouble is).
    unsafe {
        libc::write(2, t.buf.as_ptr().cast(), t.len);
        libc::_exit(2);
    }
}

/// The process's allocator (set in the binary).
pub struct Allocator;

/// Blocks at least this big, aligned beyond what malloc gives, are mapped directly.
const MAPPED_FROM: usize = 1 << 20;
/// malloc's own alignment on 64-bit Linux; below it the system allocator is as good.
const MALLOC_ALIGN: usize = 16;
/// mmap returns page-aligned blocks (4 KiB at least).
const PAGE: usize = 4096;

/// Whether a layout is served by mmap. A pure function of the layout, so `dealloc` knows which
/// allocator a block came from.
fn mapped(layout: Layout) -> bool {
    layout.size() >= MAPPED_FROM && layout.align() > MALLOC_ALIGN && layout.align() <= PAGE
}

unsafe fn map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping touches no existing memory.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        p.cast()
    }
}

// SAFETY: every block comes from mmap (page-aligned, so aligned for every layout `mapped`
// accepts, never overlapping another live block) or from the system allocator, and goes back to
// the one it came from: `mapped` depends on the layout alone, which `dealloc` and `realloc` are
// given unchanged.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        if mapped(layout) {
            // SAFETY: `map` has no precondition beyond a size, which the layout gives.
            unsafe { map(layout.size()) }
        } else {
            // SAFETY: the caller's layout has a non-zero size (GlobalAlloc's contract).
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        if mapped(layout) {
            // Fresh anonymous pages read as zero: nothing to write.
            // SAFETY: as in `alloc`.
            unsafe { map(layout.size()) }
        } else {
            // SAFETY: as in `alloc`.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        refund(layout.size());
        if mapped(layout) {
            // SAFETY: `ptr` is a mapping of `layout.size()` bytes made by `map` (the same layout
            // chose mmap), not used after this.
            unsafe { libc::munmap(ptr.cast(), layout.size()) };
        } else {
            // SAFETY: `ptr` came from the system allocator with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees new_size, rounded up to the alignment, does not overflow.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if !mapped(layout) && !mapped(new) {
            if new_size > layout.size() {
                charge(new_size - layout.size());
            } else {
                refund(layout.size() - new_size);
            }
            // SAFETY: both layouts belong to the system allocator, which made `ptr`.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: `new` has a non-zero size (the caller's contract).
        let out = unsafe { self.alloc(new) };
        if !out.is_null() {
            // SAFETY: `out` and `ptr` are distinct live blocks of at least the bytes copied;
            // `ptr` is given back to the allocator that made it and not used again.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, out, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_aligned_blocks_are_zeroed_usable_and_grow() {
        let a = Allocator;
        for (size, align) in [
            (8 << 20, 4096),
            (MAPPED_FROM, 64),
            (3 << 20, 32),
            (64, 4096),
            (1 << 20, 8),
        ] {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: each block is used within its size, then grown, shrunk and freed with the
            // layout it has at that moment.
            unsafe {
                let p = a.alloc_zeroed(layout);
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "{size} bytes aligned to {align}");
                let block = std::slice::from_raw_parts_mut(p, size);
                assert!(
                    block.iter().all(|&b| b == 0),
                    "{size} bytes aligned to {align} not zeroed"
                );
                block[0] = 7;
                block[size - 1] = 9;
                // Grow across the threshold both ways and keep the contents.
                let q = a.realloc(p, layout, size * 2);
                assert!(!q.is_null());
                assert_eq!((*q, *q.add(size - 1)), (7, 9));
                let r = a.realloc(q, Layout::from_size_align(size * 2, align).unwrap(), 32);
                assert!(!r.is_null());
                assert_eq!(*r, 7);
                a.dealloc(r, Layout::from_size_align(32, align).unwrap());
            }
        }
    }

    #[test]
    fn only_big_over_aligned_layouts_are_mapped() {
        let l = |s, a| Layout::from_size_align(s, a).unwrap();
        assert!(mapped(l(8 << 20, 4096)));
        assert!(
            !mapped(l(8 << 20, 16)),
            "malloc's alignment: calloc already skips the zeroing"
        );
        assert!(!mapped(l(4096, 4096)), "small blocks stay with malloc");
        assert!(!mapped(l(8 << 20, 8192)), "beyond a page mmap gives no guarantee");
    }
}
