//! libpcap: what the readers take from libpcap itself: its error text, when to fall back to our
//! pcapng reader, and a wider, unlocked stdio buffer for the files libpcap reads (pcapng and the
//! rarer formats: classic pcap is mapped). The buffer is set through two C calls declared here
//! (libpcap's `pcap_file` and glibc's `__fsetlocking`, which the `pcap` and `libc` crates do not
//! wrap); they stay because they still pay: loading a 1M-packet pcapng took 0.50 s with them and
//! 0.60 s without (median of 7, runs alternated, 2026-12-07).

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Bytes libpcap's stdio stream reads from a capture file at a time.
pub(crate) const READ_BUFFER: usize = 1 << 20;

/// libpcap reads a capture file through a stdio stream whose buffer is the file system's block
/// size (4 KiB here): one read(2) per 4 KiB, 1.7 million of them for a 7 GB capture. Give the
/// stream a 1 MiB buffer instead. libpcap has already read the file header at this point; glibc's
/// setvbuf then moves the file position back over the bytes it had buffered and not handed out,
/// so nothing is skipped (the caller only opens regular files, which can seek). Also turns off
/// the stream's internal locking (see below). Returns the buffer, which must outlive the capture.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn tune_read_stream(cap: &pcap::Capture<pcap::Offline>) -> Option<memmap2::MmapMut> {
    unsafe extern "C" {
        fn pcap_file(p: *mut std::ffi::c_void) -> *mut libc::FILE;
        /// glibc's `<stdio_ext.h>`.
        fn __fsetlocking(file: *mut libc::FILE, kind: libc::c_int) -> libc::c_int;
    }
    const FSETLOCKING_BYCALLER: libc::c_int = 2;
    // A page-aligned mapping of its own rather than a malloc block: where malloc put the buffer
    // inside its heap (it does with glibc's hugetlb or mmap-threshold tunables), the kernel's
    // copy into it ran about four times slower (10M-packet load +1.5 s).
    let mut buffer = memmap2::MmapMut::map_anon(READ_BUFFER).ok()?;
    // SAFETY: the handle is open; the stream belongs to it and lives until the capture is
    // closed, and the buffer is kept alive beside the capture until after that. The stream is
    // only ever read through this capture, which one thread at a time holds (`&mut`), so glibc's
    // per-call stream lock is not needed: libpcap makes two `fread`s per packet, and in a
    // process with threads each takes and frees that lock (two atomic operations).
    let ok = unsafe {
        let file = pcap_file(cap.as_ptr().cast());
        !file.is_null() && {
            __fsetlocking(file, FSETLOCKING_BYCALLER);
            libc::setvbuf(file, buffer.as_mut_ptr().cast(), libc::_IOFBF, buffer.len()) == 0
        }
    };
    ok.then_some(buffer)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn tune_read_stream(_cap: &pcap::Capture<pcap::Offline>) -> Option<memmap2::MmapMut> {
    None
}

pub(crate) fn pcap_reason(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) => s.clone(),
        other => other.to_string(),
    }
}

/// libpcap's messages for pcapng interfaces it cannot mix; our own reader handles those files.
pub(crate) fn needs_pcapng_fallback(path: &Path, reason: &str) -> bool {
    reason.contains("an interface has") && is_pcapng(path)
}

pub(crate) fn is_pcapng(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == [0x0a, 0x0d, 0x0d, 0x0a]
}
