//! capture: open capture files and hand out raw records (timestamp, lengths, link type, bytes).
//! No parsing of packet contents happens here.
//!
//! libpcap (through the `pcap` crate) reads classic pcap (µs and ns) and pcapng. libpcap 1.10
//! refuses pcapng files whose interfaces differ in link type or snapshot length (for example
//! `modify-request.pcapng`, 126 interfaces with three link types); for those we switch to the small
//! pcapng block reader below, which also gives each packet its own interface's link type.
//!
//! A classic pcap file that libpcap has opened (so its header is valid) is then read from a
//! read-only mapping instead: records are handed out as slices of the mapping, with the checks
//! libpcap makes on each record header. libpcap copies every record twice (the kernel into the
//! stdio buffer, then into its packet buffer); the loader copied it a third time into its batch.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

/// Link-layer header type numbers (LINKTYPE_* from tcpdump.org) that the decoder understands.
pub mod linktype {
    pub const NULL: u16 = 0;
    pub const ETHERNET: u16 = 1;
    pub const RAW_OLD12: u16 = 12;
    pub const RAW_OLD14: u16 = 14;
    pub const LOOP: u16 = 108;
    pub const RAW: u16 = 101;
    pub const LINUX_SLL: u16 = 113;
    pub const IPV4: u16 = 228;
    pub const IPV6: u16 = 229;
    pub const LINUX_SLL2: u16 = 276;
}

/// One packet record as stored in the file.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    /// Nanoseconds since the Unix epoch, UTC.
    pub ts_ns: i64,
    /// Length of the packet on the wire.
    pub wire_len: u32,
    /// LINKTYPE_* of the interface the packet was captured on.
    pub link: u16,
    /// The captured bytes (`data.len()` is the captured length).
    pub data: &'a [u8],
}

/// An open capture file.
pub struct CaptureReader {
    path: PathBuf,
    inner: Inner,
    /// Packets handed out so far (used to resume after switching readers).
    delivered: u64,
}

enum Inner {
    Pcap {
        // Dropped before `_buffer`: closing the capture closes the stdio stream that uses it.
        cap: pcap::Capture<pcap::Offline>,
        link: u16,
        _buffer: Option<memmap2::MmapMut>,
    },
    Mapped(MappedPcap),
    PcapNg(Box<PcapNgReader>),
}

impl CaptureReader {
    pub fn open(path: &Path) -> Result<CaptureReader> {
        Self::open_with(path, true)
    }

    /// `map`: read a classic pcap from a mapping (false keeps libpcap reading it).
    fn open_with(path: &Path, map: bool) -> Result<CaptureReader> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if !meta.is_file() {
            return Err(Error::Capture {
                path: path.to_path_buf(),
                reason: "not a regular file".into(),
            });
        }
        let inner = match pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano) {
            Ok(cap) => {
                let link = cap.get_datalink().0 as u16;
                match MappedPcap::open(path, link).filter(|_| map) {
                    Some(m) => Inner::Mapped(m),
                    None => {
                        let _buffer = tune_read_stream(&cap);
                        Inner::Pcap { cap, link, _buffer }
                    }
                }
            }
            Err(e) => {
                let reason = pcap_reason(&e);
                if needs_pcapng_fallback(path, &reason) {
                    Inner::PcapNg(Box::new(PcapNgReader::open(path)?))
                } else {
                    return Err(Error::Capture {
                        path: path.to_path_buf(),
                        reason,
                    });
                }
            }
        };
        Ok(CaptureReader {
            path: path.to_path_buf(),
            inner,
            delivered: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's (first) link type; pcapng packets may still carry their own.
    pub fn link_type(&self) -> Option<u16> {
        match &self.inner {
            Inner::Pcap { link, .. } => Some(*link),
            Inner::Mapped(m) => Some(m.link),
            Inner::PcapNg(r) => r.interfaces.first().map(|i| i.link),
        }
    }

    /// Hand every record to `f`, in file order, until the end of the file or until `f` returns
    /// false. Returns the number of records delivered.
    pub fn for_each(&mut self, mut f: impl FnMut(RawRecord<'_>) -> bool) -> Result<u64> {
        loop {
            let mut switch_reason = None;
            match &mut self.inner {
                Inner::Pcap { cap, link, .. } => match cap.next_packet() {
                    Ok(p) => {
                        let ts = p.header.ts;
                        // Opened with nanosecond precision: tv_usec holds nanoseconds.
                        let rec = RawRecord {
                            ts_ns: ts.tv_sec * 1_000_000_000 + ts.tv_usec,
                            wire_len: p.header.len,
                            link: *link,
                            data: p.data,
                        };
                        self.delivered += 1;
                        if !f(rec) {
                            return Ok(self.delivered);
                        }
                    }
                    Err(pcap::Error::NoMorePackets) => return Ok(self.delivered),
                    Err(e) => {
                        let reason = pcap_reason(&e);
                        if !needs_pcapng_fallback(&self.path, &reason) {
                            return Err(Error::Capture {
                                path: self.path.clone(),
                                reason,
                            });
                        }
                        switch_reason = Some(reason);
                    }
                },
                Inner::Mapped(m) => {
                    if !deliver(m.next_record(&self.path)?, &mut self.delivered, &mut f) {
                        return Ok(self.delivered);
                    }
                }
                Inner::PcapNg(r) => {
                    if !deliver(r.next_record(&self.path)?, &mut self.delivered, &mut f) {
                        return Ok(self.delivered);
                    }
                }
            }
            if switch_reason.is_some() {
                // libpcap gave up on a multi-interface pcapng: re-read it with our reader and skip
                // what was already delivered, so frame numbers stay the same.
                let mut ng = PcapNgReader::open(&self.path)?;
                for _ in 0..self.delivered {
                    if ng.next_record(&self.path)?.is_none() {
                        break;
                    }
                }
                self.inner = Inner::PcapNg(Box::new(ng));
            }
        }
    }

    /// The file's mapping when its records are slices of it (see [`MappedPcap`]): a reader of
    /// the records may keep the mapping instead of copying their bytes.
    pub fn mapping(&self) -> Option<&Arc<memmap2::Mmap>> {
        match &self.inner {
            Inner::Mapped(m) => Some(&m.map),
            _ => None,
        }
    }
}

/// Hand `rec` to `f` and count it; false at the end of the file or when `f` wants no more.
fn deliver(rec: Option<RawRecord<'_>>, delivered: &mut u64, f: &mut impl FnMut(RawRecord<'_>) -> bool) -> bool {
    let Some(rec) = rec else { return false };
    *delivered += 1;
    f(rec)
}

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
struct MappedPcap {
    map: Arc<memmap2::Mmap>,
    /// Offset of the next record header.
    pos: usize,
    /// Bytes up to here were asked into the cache (see `next_record`).
    ahead: usize,
    swapped: bool,
    nanos: bool,
    link: u16,
    /// The file's snapshot length as libpcap takes it; longer records are cut to it.
    snaplen: u32,
    /// libpcap's largest valid record for the link type (`max_snaplen_for_dlt`).
    max_caplen: u32,
}

impl MappedPcap {
    fn open(path: &Path, link: u16) -> Option<MappedPcap> {
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
    fn next_record(&mut self, path: &Path) -> Result<Option<RawRecord<'_>>> {
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
            crate::table::frame::prefetch(&self.map, self.ahead);
            self.ahead += 64;
        }
        let frac_ns = if self.nanos { frac as i64 } else { frac as i64 * 1000 };
        Ok(Some(RawRecord {
            ts_ns: sec as i64 * 1_000_000_000 + frac_ns,
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

/// Bytes libpcap's stdio stream reads from a capture file at a time.
const READ_BUFFER: usize = 1 << 20;

/// libpcap reads a capture file through a stdio stream whose buffer is the file system's block
/// size (4 KiB here): one read(2) per 4 KiB, 1.7 million of them for a 7 GB capture. Give the
/// stream a 1 MiB buffer instead. libpcap has already read the file header at this point; glibc's
/// setvbuf then moves the file position back over the bytes it had buffered and not handed out,
/// so nothing is skipped (the caller only opens regular files, which can seek). Also turns off
/// the stream's internal locking (see below). Returns the buffer, which must outlive the capture.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_read_stream(cap: &pcap::Capture<pcap::Offline>) -> Option<memmap2::MmapMut> {
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
fn tune_read_stream(_cap: &pcap::Capture<pcap::Offline>) -> Option<memmap2::MmapMut> {
    None
}

fn pcap_reason(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) => s.clone(),
        other => other.to_string(),
    }
}

/// libpcap's messages for pcapng interfaces it cannot mix; our own reader handles those files.
fn needs_pcapng_fallback(path: &Path, reason: &str) -> bool {
    reason.contains("an interface has") && is_pcapng(path)
}

fn is_pcapng(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == [0x0a, 0x0d, 0x0d, 0x0a]
}

// ---------------------------------------------------------------------------------------------
// pcapng block reader (fallback)

#[derive(Debug, Clone)]
struct Interface {
    link: u16,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// if_tsoffset, seconds added to every timestamp.
    offset_s: i64,
}

struct PcapNgReader {
    file: BufReader<File>,
    big_endian: bool,
    interfaces: Vec<Interface>,
    block: Vec<u8>,
    /// Offset of the packet data inside `block` for the record just returned.
    data_at: (usize, usize),
}

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const OPB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;

impl PcapNgReader {
    fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(PcapNgReader {
            file: BufReader::with_capacity(1 << 20, file),
            big_endian: false,
            interfaces: Vec::new(),
            block: Vec::with_capacity(1 << 16),
            data_at: (0, 0),
        })
    }

    fn u16_at(&self, b: &[u8], at: usize) -> u16 {
        let v = [b[at], b[at + 1]];
        if self.big_endian {
            u16::from_be_bytes(v)
        } else {
            u16::from_le_bytes(v)
        }
    }

    fn u32_at(&self, b: &[u8], at: usize) -> u32 {
        let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big_endian {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    }

    /// Read one whole block into `self.block`; `Ok(false)` at a clean end of file.
    fn read_block(&mut self, path: &Path) -> Result<Option<u32>> {
        let bad = |reason: String| Error::Capture {
            path: path.to_path_buf(),
            reason,
        };
        let mut head = [0u8; 8];
        match read_full(&mut self.file, &mut head) {
            Ok(0) => return Ok(None),
            Ok(8) => {}
            Ok(n) => return Err(bad(format!("file ends inside a block header ({n} of 8 bytes)"))),
            Err(e) => return Err(Error::io(path, e)),
        }
        let raw_type = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        if raw_type == SHB {
            // The byte-order magic follows the length; read it to learn the section's endianness.
            let mut bom = [0u8; 4];
            self.file.read_exact(&mut bom).map_err(|e| Error::io(path, e))?;
            self.big_endian = match u32::from_le_bytes(bom) {
                0x1A2B_3C4D => false,
                0x4D3C_2B1A => true,
                _ => return Err(bad("section header has a bad byte-order magic".into())),
            };
            self.interfaces.clear();
            let len = self.u32_at(&head, 4) as usize;
            if len < 28 || !len.is_multiple_of(4) || len > 16 << 20 {
                return Err(bad(format!("section header block has a bad length {len}")));
            }
            self.block.clear();
            self.block.extend_from_slice(&head);
            self.block.extend_from_slice(&bom);
            self.block.resize(len, 0);
            self.file
                .read_exact(&mut self.block[12..])
                .map_err(|e| Error::io(path, e))?;
        } else {
            let len = self.u32_at(&head, 4) as usize;
            if len < 12 || !len.is_multiple_of(4) || len > 256 << 20 {
                return Err(bad(format!("block of type {raw_type:#x} has a bad length {len}")));
            }
            self.block.clear();
            self.block.extend_from_slice(&head);
            self.block.resize(len, 0);
            let got = read_full(&mut self.file, &mut self.block[8..]).map_err(|e| Error::io(path, e))?;
            if got != len - 8 {
                return Err(bad(format!("file ends inside a block ({} of {len} bytes)", got + 8)));
            }
        }
        let len = self.block.len();
        if self.u32_at(&self.block, len - 4) as usize != len {
            return Err(bad("block total length in header and trailer don't match".into()));
        }
        Ok(Some(self.u32_at(&self.block, 0)))
    }

    fn next_record(&mut self, path: &Path) -> Result<Option<RawRecord<'_>>> {
        let bad = |reason: String| Error::Capture {
            path: path.to_path_buf(),
            reason,
        };
        loop {
            let Some(kind) = self.read_block(path)? else {
                return Ok(None);
            };
            let b = &self.block;
            match kind {
                SHB => {}
                IDB => {
                    if b.len() < 20 {
                        return Err(bad("interface description block too short".into()));
                    }
                    let link = self.u16_at(b, 8);
                    let mut iface = Interface {
                        link,
                        units_per_sec: 1_000_000,
                        offset_s: 0,
                    };
                    let mut at = 16;
                    while at + 4 <= b.len() - 4 {
                        let code = self.u16_at(b, at);
                        let olen = self.u16_at(b, at + 2) as usize;
                        if code == 0 {
                            break;
                        }
                        if at + 4 + olen > b.len() - 4 {
                            return Err(bad("interface option runs past its block".into()));
                        }
                        match (code, olen) {
                            (9, 1) => {
                                let v = b[at + 4];
                                iface.units_per_sec = if v & 0x80 == 0 {
                                    10u64.checked_pow(v as u32).unwrap_or(0)
                                } else {
                                    1u64.checked_shl((v & 0x7f) as u32).unwrap_or(0)
                                };
                                if iface.units_per_sec == 0 {
                                    return Err(bad(format!("unsupported timestamp resolution {v:#x}")));
                                }
                            }
                            (14, 8) => {
                                let raw = &b[at + 4..at + 12];
                                let v = if self.big_endian {
                                    i64::from_be_bytes(raw.try_into().unwrap_or_default())
                                } else {
                                    i64::from_le_bytes(raw.try_into().unwrap_or_default())
                                };
                                iface.offset_s = v;
                            }
                            _ => {}
                        }
                        at += 4 + olen.div_ceil(4) * 4;
                    }
                    self.interfaces.push(iface);
                }
                EPB | OPB => {
                    if b.len() < 32 {
                        return Err(bad("packet block too short".into()));
                    }
                    let if_id = if kind == EPB {
                        self.u32_at(b, 8) as usize
                    } else {
                        self.u16_at(b, 8) as usize
                    };
                    let iface = self
                        .interfaces
                        .get(if_id)
                        .cloned()
                        .ok_or_else(|| bad(format!("packet refers to unknown interface {if_id}")))?;
                    let ts = ((self.u32_at(b, 12) as u64) << 32) | self.u32_at(b, 16) as u64;
                    let caplen = self.u32_at(b, 20) as usize;
                    let wire = self.u32_at(b, 24);
                    if 28 + caplen > b.len() - 4 {
                        return Err(bad(format!("packet data ({caplen} bytes) runs past its block")));
                    }
                    let secs = ts / iface.units_per_sec;
                    let frac = ts % iface.units_per_sec;
                    let ns = (frac as u128 * 1_000_000_000 / iface.units_per_sec as u128) as i64;
                    let ts_ns = (secs as i64 + iface.offset_s) * 1_000_000_000 + ns;
                    self.data_at = (28, 28 + caplen);
                    return Ok(Some(RawRecord {
                        ts_ns,
                        wire_len: wire,
                        link: iface.link,
                        data: &self.block[self.data_at.0..self.data_at.1],
                    }));
                }
                SPB => {
                    let iface = self
                        .interfaces
                        .first()
                        .cloned()
                        .ok_or_else(|| bad("simple packet block before any interface".into()))?;
                    if b.len() < 16 {
                        return Err(bad("simple packet block too short".into()));
                    }
                    let wire = self.u32_at(b, 8);
                    let caplen = (wire as usize).min(b.len() - 16);
                    self.data_at = (12, 12 + caplen);
                    return Ok(Some(RawRecord {
                        ts_ns: 0,
                        wire_len: wire,
                        link: iface.link,
                        data: &self.block[self.data_at.0..self.data_at.1],
                    }));
                }
                _ => {} // name resolution, statistics, custom blocks: nothing to decode
            }
        }
    }
}

/// Like `read_exact`, but reports how many bytes were read before the end of the file.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Records = Vec<(i64, u32, Vec<u8>)>;

    /// Every record's time, length and bytes, as read by `CaptureReader` (mapped or not), and
    /// the error that stopped it, if any.
    fn read_all(path: &Path, map: bool) -> (Records, Option<String>) {
        let mut r = CaptureReader::open_with(path, map).unwrap();
        // Every classic pcap here is mapped (none has a link type left to libpcap).
        assert_eq!(r.mapping().is_some(), map && is_classic(path), "{path:?}");
        let mut out = Vec::new();
        let end = r.for_each(|rec| {
            out.push((rec.ts_ns, rec.wire_len, rec.data.to_vec()));
            true
        });
        (out, end.err().map(|e| e.to_string()))
    }

    fn records(path: &Path) -> Records {
        let (recs, err) = read_all(path, false);
        assert_eq!(err, None);
        recs
    }

    fn is_classic(path: &Path) -> bool {
        let mut magic = [0u8; 4];
        let read = File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok();
        read && matches!(magic[1..3], [0xc3, 0xb2] | [0x3c, 0xb2] | [0xb2, 0xc3] | [0xb2, 0x3c])
    }

    /// Records as libpcap alone (the pcap crate, its own stdio buffer) reads them, and its error.
    fn libpcap(path: &Path) -> (Records, Option<String>) {
        let mut plain = pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano).unwrap();
        let mut want = Vec::new();
        loop {
            match plain.next_packet() {
                Ok(p) => {
                    let ts = p.header.ts.tv_sec * 1_000_000_000 + p.header.ts.tv_usec;
                    want.push((ts, p.header.len, p.data.to_vec()));
                }
                Err(pcap::Error::NoMorePackets) => return (want, None),
                Err(e) => return (want, Some(pcap_reason(&e))),
            }
        }
    }

    /// A classic pcap written field by field: big-endian or not, µs or ns, a snapshot length,
    /// and records of (seconds, fraction, captured length, wire length, bytes).
    fn write_classic(path: &Path, big: bool, nanos: bool, snaplen: u32, recs: &[(u32, u32, u32, u32, Vec<u8>)]) {
        let mut out = Vec::new();
        let u32_ = |out: &mut Vec<u8>, v: u32| out.extend(if big { v.to_be_bytes() } else { v.to_le_bytes() });
        u32_(&mut out, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
        out.extend(if big { [0, 2, 0, 4] } else { [2, 0, 4, 0] });
        for v in [0, 0, snaplen, 1] {
            u32_(&mut out, v);
        }
        for (sec, frac, caplen, len, data) in recs {
            for v in [*sec, *frac, *caplen, *len] {
                u32_(&mut out, v);
            }
            out.extend(data);
        }
        std::fs::write(path, out).unwrap();
    }

    /// The mapped reader hands out what libpcap does, record for record, and stops where and
    /// as libpcap stops: every classic pcap of the shared set, both byte orders, µs and ns, a
    /// record longer than the snapshot length, and files cut in a header, in a record, or with
    /// an impossible length.
    #[test]
    fn mapped_reader_reads_every_record_as_libpcap_does() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![root.join("captures/sample.pcap")];
        match std::fs::read_dir(root.join("../shared/captures")) {
            Ok(dir) => files.extend(dir.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| is_classic(p))),
            Err(_) => eprintln!("\n*** SKIPPED the shared captures: ../shared/captures not found ***\n"),
        }
        let dir = tempfile::tempdir().unwrap();
        let sample = records(&files[0]);
        let recs: Vec<_> = sample
            .iter()
            .map(|(ts, len, data)| {
                let (sec, ns) = ((ts / 1_000_000_000) as u32, (ts % 1_000_000_000) as u32);
                (sec, ns, data.len() as u32, *len, data.clone())
            })
            .collect();
        let us: Vec<_> = recs
            .iter()
            .map(|(s, ns, c, l, d)| (*s, ns / 1000, *c, *l, d.clone()))
            .collect();
        // Ends in the sample's longest record, so the cuts below fall inside a long record.
        let mut long_last = us.clone();
        long_last.extend(us.iter().max_by_key(|r| r.2).cloned());
        for (name, big, nanos, snaplen, recs) in [
            ("be_us.pcap", true, false, 65535, &us),
            ("be_ns.pcap", true, true, 65535, &recs),
            ("le_ns.pcap", false, true, 65535, &recs),
            // Records longer than the file's snapshot length are cut to it.
            ("snap.pcap", false, false, 60, &long_last),
        ] {
            let path = dir.path().join(name);
            write_classic(&path, big, nanos, snaplen, recs);
            files.push(path);
        }
        let whole = std::fs::read(&files[0]).unwrap();
        let snap = std::fs::read(dir.path().join("snap.pcap")).unwrap();
        // The last record is longer than 60 bytes: cut in its first 60 bytes, and after them.
        let last = long_last.last().unwrap().2 as usize;
        assert!(last > 80);
        for (name, bytes, cut) in [
            ("cut_header.pcap", &whole, 30),
            ("cut_record.pcap", &whole, whole.len() - 10),
            ("cut_snap_kept.pcap", &snap, snap.len() - last + 30),
            ("cut_snap_rest.pcap", &snap, snap.len() - 5),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes[..cut]).unwrap();
            files.push(path);
        }
        let huge = dir.path().join("huge.pcap");
        let mut bad = us[..3].to_vec();
        bad[2].2 = 300_000;
        write_classic(&huge, false, false, 65535, &bad);
        files.push(huge);
        assert!(files.len() > 8, "{files:?}");
        for path in &files {
            let (want, want_err) = libpcap(path);
            let (got, got_err) = read_all(path, true);
            assert_eq!(got.len(), want.len(), "{path:?}");
            assert!(got == want, "{path:?}: records differ");
            match (&want_err, &got_err) {
                (None, None) => {}
                (Some(w), Some(g)) => assert!(g.contains(w.as_str()), "{path:?}: {g} vs libpcap's {w}"),
                _ => panic!("{path:?}: error {got_err:?}, libpcap's {want_err:?}"),
            }
        }
    }

    #[test]
    fn wider_read_buffer_reads_every_record_as_libpcap_does() {
        // The sample is far smaller than the 4 KiB libpcap had buffered when the buffer was
        // replaced, and a file of repeated records spans many 1 MiB buffers.
        let dir = tempfile::tempdir().unwrap();
        let sample = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/captures/sample.pcap"));
        let recs = records(sample);
        let mut many = Vec::new();
        for k in 0..120 {
            for (i, (ts, _, data)) in recs.iter().enumerate() {
                many.push((ts + (k * recs.len() + i) as i64, data.clone()));
            }
        }
        let big = dir.path().join("big.pcap");
        crate::capture::write::write_file(&big, 1, &many).unwrap();
        assert!(std::fs::metadata(&big).unwrap().len() > 2 * READ_BUFFER as u64);
        for path in [sample, big.as_path()] {
            let ours = records(path);
            let (want, _) = libpcap(path);
            assert_eq!(ours.len(), want.len(), "{path:?}");
            assert!(ours == want, "{path:?}: records differ");
        }
    }
}
