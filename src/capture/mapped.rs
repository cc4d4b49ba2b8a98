//! mapped: classic pcap files read from a read-only mapping. A file libpcap has opened (so its
//! header is valid) is read here instead: records are handed out as slices of the mapping, with
//! the checks libpcap makes on each record header and its error messages. libpcap copies every
//! record twice (the kernel into the stdio buffer, then into its packet buffer); the loader copied
//! it a third time into its batch.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use crate::capture::prefetch;
use crate::capture::record::RawRecord;
use crate::error::{Error, Result};

/// Page size for [`release_mapped`]; 4 KiB on the targets we build for, and a larger real page
/// only means a few pages are left mapped until the end.
const PAGE: usize = 4096;

/// Unmap the whole pages of `map` from `from` (page-aligned) to `to` from this process; they
/// stay in the page cache, and touching them again maps them again. Returns where the next
/// call starts (the page holding `to`, not given back yet). The loader calls this behind its
/// readers so a mapped capture does not count in full towards the process's memory.
pub fn release_mapped(map: &memmap2::Mmap, from: usize, to: usize) -> usize {
    let to = (to.min(map.len()) / PAGE) * PAGE;
    if to > from {
        // SAFETY: a read-only mapping of a file: dropping its pages loses nothing, and a later
        // read maps the file's same bytes again.
        let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from) };
        return to;
    }
    from
}

/// A classic pcap file (µs or ns timestamps, either byte order, version 2.4) read from a
/// read-only mapping. Anything else (pcapng, the old 2.3 and "modified" formats, link types
/// whose pseudo-headers libpcap rewrites) stays with libpcap.
pub(crate) struct MappedPcap {
    pub(crate) map: Arc<memmap2::Mmap>,
    /// Offset of the next record header.
    pos: usize,
    /// Bytes up to here were asked into the cache (see `next_record`).
    ahead: usize,
    swapped: bool,
    nanos: bool,
    pub(crate) link: u16,
    /// The file's snapshot length as libpcap takes it; longer records are cut to it.
    snaplen: u32,
    /// libpcap's largest valid record for the link type (`max_snaplen_for_dlt`).
    max_caplen: u32,
}

impl MappedPcap {
    pub(crate) fn open(path: &Path, link: u16) -> Option<MappedPcap> {
        // DLT_USB_LINUX, DLT_USB_LINUX_MMAPPED, DLT_NFLOG: libpcap fixes up their pseudo-headers.
        if matches!(link, 189 | 220 | 239) {
            return None;
        }
        let file = File::open(path).ok()?;
        // SAFETY: the mapping is read-only; like any reader of a file, what we read is only as
        // stable as the file (capture files are appended to, not rewritten, and only the length
        // known now is mapped).
        let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
        if map.len() < 24 {
            return None;
        }
        let (swapped, nanos) = match u32::from_le_bytes(map[0..4].try_into().ok()?) {
            0xa1b2_c3d4 => (false, false),
            0xa1b2_3c4d => (false, true),
            0xd4c3_b2a1 => (true, false),
            0x4d3c_b2a1 => (true, true),
            _ => return None,
        };
        let mut r = MappedPcap {
            map: Arc::new(map),
            pos: 24,
            ahead: 0,
            swapped,
            nanos,
            link,
            snaplen: 0,
            max_caplen: match link {
                231 => 128 << 20, // DLT_DBUS
                279 => 8 << 20,   // DLT_EBHSCR
                249 => 1 << 20,   // DLT_USBPCAP
                _ => 262_144,
            },
        };
        let (major, minor) = (r.u16_at(4), r.u16_at(6));
        if (major, minor) != (2, 4) {
            return None;
        }
        let snaplen = r.u32_at(16);
        r.snaplen = if snaplen == 0 || snaplen > r.max_caplen {
            r.max_caplen
        } else {
            snaplen
        };
        Some(r)
    }

    fn u16_at(&self, at: usize) -> u16 {
        let v = u16::from_le_bytes([self.map[at], self.map[at + 1]]);
        if self.swapped { v.swap_bytes() } else { v }
    }

    fn u32_at(&self, at: usize) -> u32 {
        let v = u32::from_le_bytes([self.map[at], self.map[at + 1], self.map[at + 2], self.map[at + 3]]);
        if self.swapped { v.swap_bytes() } else { v }
    }

    /// The next record, None at the end of the file; a cut or invalid record is an error with
    /// libpcap's words (the records before it were handed out already).
    pub(crate) fn next_record(&mut self, path: &Path) -> Result<Option<RawRecord<'_>>> {
        let at = self.pos;
        let rest = self.map.len() - at;
        if rest == 0 {
            return Ok(None);
        }
        let bad = |reason: String| Error::Capture {
            path: path.to_path_buf(),
            reason,
        };
        if rest < 16 {
            return Err(bad(format!(
                "truncated dump file; tried to read 16 header bytes, only got {rest}"
            )));
        }
        let (sec, frac) = (self.u32_at(at), self.u32_at(at + 4));
        let (caplen, wire_len) = (self.u32_at(at + 8), self.u32_at(at + 12));
        // (The snapshot length is at most the maximum, so this is also longer than it.)
        if caplen > self.max_caplen {
            return Err(bad(format!(
                "invalid packet capture length {caplen}, bigger than snaplen of {}",
                self.snaplen
            )));
        }
        // libpcap reads a record longer than the file's snapshot length whole, then keeps the
        // snapshot length of it.
        let kept = caplen.min(self.snaplen) as usize;
        let there = rest - 16;
        if caplen as usize > there {
            let tried = if there < kept { kept } else { caplen as usize };
            return Err(bad(format!(
                "truncated dump file; tried to read {tried} captured bytes, only got {there}"
            )));
        }
        self.pos = at + 16 + caplen as usize;
        // Ask for the coming bytes ahead: where the next header is is only known from this one,
        // so unasked each header is a wait on memory, one at a time.
        let want = (self.pos + READ_AHEAD).min(self.map.len());
        while self.ahead < want {
            prefetch::prefetch(&self.map, self.ahead);
            self.ahead += 64;
        }
        let frac_ns = if self.nanos { frac as i64 } else { frac as i64 * 1000 };
        Ok(Some(RawRecord {
            ts_ns: sec as i64 * 1_000_000_000 + frac_ns,
            ts_out_of_range: false,
            wire_len,
            link: self.link,
            data: &self.map[at + 16..at + 16 + kept],
        }))
    }
}

/// How far ahead of the record being read the mapped reader asks for the file's bytes: a few
/// records (the reading thread spent ~10 % less time with 4 KiB than with none; 1 and 16 KiB
/// were no better).
const READ_AHEAD: usize = 4096;
