//! capture: open capture files and hand out raw records (timestamp, lengths, link type, bytes).
//! No parsing of packet contents happens here.
//!
//! libpcap (through the `pcap` crate) reads classic pcap (µs and ns) and pcapng. libpcap 1.10
//! refuses pcapng files whose interfaces differ in link type or snapshot length (for example
//! `modify-request.pcapng`, 126 interfaces with three link types); for those we switch to the small
//! pcapng block reader below, which also gives each packet its own interface's link type.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

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
    PcapNg(Box<PcapNgReader>),
}

impl CaptureReader {
    pub fn open(path: &Path) -> Result<CaptureReader> {
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
                let _buffer = tune_read_stream(&cap);
                Inner::Pcap { cap, link, _buffer }
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
                Inner::PcapNg(r) => match r.next_record(&self.path)? {
                    Some(rec) => {
                        self.delivered += 1;
                        if !f(rec) {
                            return Ok(self.delivered);
                        }
                    }
                    None => return Ok(self.delivered),
                },
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
}

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

    /// Every record's time, length and bytes, as read by `CaptureReader`.
    fn records(path: &Path) -> Vec<(i64, u32, Vec<u8>)> {
        let mut r = CaptureReader::open(path).unwrap();
        let mut out = Vec::new();
        r.for_each(|rec| {
            out.push((rec.ts_ns, rec.wire_len, rec.data.to_vec()));
            true
        })
        .unwrap();
        out
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
        crate::pcapwrite::write_file(&big, 1, &many).unwrap();
        assert!(std::fs::metadata(&big).unwrap().len() > 2 * READ_BUFFER as u64);
        for path in [sample, big.as_path()] {
            let ours = records(path);
            // libpcap with its own stdio buffer, through the pcap crate alone.
            let mut plain = pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano).unwrap();
            let mut want = Vec::new();
            while let Ok(p) = plain.next_packet() {
                let ts = p.header.ts.tv_sec * 1_000_000_000 + p.header.ts.tv_usec;
                want.push((ts, p.header.len, p.data.to_vec()));
            }
            assert_eq!(ours.len(), want.len(), "{path:?}");
            assert!(ours == want, "{path:?}: records differ");
        }
    }
}
