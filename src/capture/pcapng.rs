//! pcapng: a small pcapng block reader for the files libpcap 1.10 refuses: those whose interfaces
//! differ in link type or snapshot length (for example `modify-request.pcapng`, 126 interfaces
//! with three link types). Each packet keeps its own interface's link type.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::capture::record::{RawRecord, RecordTime};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub(crate) struct Interface {
    pub(crate) link: u16,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// if_tsoffset, seconds added to every timestamp.
    offset_s: i64,
}

pub(crate) struct PcapNgReader {
    file: BufReader<File>,
    big_endian: bool,
    pub(crate) interfaces: Vec<Interface>,
    block: Vec<u8>,
    /// Offset of the packet data inside `block` for the record just returned.
    data_at: (usize, usize),
    time: RecordTime,
}

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const OPB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;

impl PcapNgReader {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(PcapNgReader {
            file: BufReader::with_capacity(1 << 20, file),
            big_endian: false,
            interfaces: Vec::new(),
            block: Vec::with_capacity(1 << 16),
            data_at: (0, 0),
            time: RecordTime::default(),
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

    pub(crate) fn next_record(&mut self, path: &Path) -> Result<Option<RawRecord<'_>>> {
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
                    // Any 64-bit count of any unit can be in the file: checked, not wrapped.
                    let secs = i64::try_from(secs)
                        .ok()
                        .and_then(|s| s.checked_add(iface.offset_s))
                        .unwrap_or(i64::MAX);
                    let (ts_ns, ts_out_of_range) = self.time.at(secs, ns);
                    self.data_at = (28, 28 + caplen);
                    return Ok(Some(RawRecord {
                        ts_ns,
                        ts_out_of_range,
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
                        ts_out_of_range: false,
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
