//! pcapwrite: write classic pcap files. Used for the bundled sample capture and by tests that
//! need captures of every link type; live capture writes through libpcap instead.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// A classic pcap file being written (microsecond or nanosecond timestamps).
pub struct PcapWriter<W: Write> {
    out: W,
    nanos: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Write the file header for `linktype` (LINKTYPE_* number).
    pub fn new(mut out: W, linktype: u32, snaplen: u32, nanos: bool) -> std::io::Result<Self> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        out.write_all(&magic.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&snaplen.to_le_bytes())?;
        out.write_all(&linktype.to_le_bytes())?;
        Ok(PcapWriter { out, nanos })
    }

    /// One record: timestamp in ns since the epoch, the bytes kept, and the length on the wire.
    pub fn write(&mut self, ts_ns: i64, data: &[u8], wire_len: u32) -> std::io::Result<()> {
        let secs = ts_ns.div_euclid(1_000_000_000) as u32;
        let frac = ts_ns.rem_euclid(1_000_000_000) as u32;
        let frac = if self.nanos { frac } else { frac / 1000 };
        self.out.write_all(&secs.to_le_bytes())?;
        self.out.write_all(&frac.to_le_bytes())?;
        self.out.write_all(&(data.len() as u32).to_le_bytes())?;
        self.out.write_all(&wire_len.to_le_bytes())?;
        self.out.write_all(data)
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Write `records` (ts_ns, bytes) to a new pcap file at `path`.
pub fn write_file(path: &Path, linktype: u32, records: &[(i64, Vec<u8>)]) -> Result<()> {
    let f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = PcapWriter::new(std::io::BufWriter::new(f), linktype, 65535, false).map_err(|e| Error::io(path, e))?;
    for (ts, data) in records {
        w.write(*ts, data, data.len() as u32).map_err(|e| Error::io(path, e))?;
    }
    w.finish().map_err(|e| Error::io(path, e))?;
    Ok(())
}

/// A pcapng file being written: one section, an interface per link type (nanosecond times),
/// enhanced packet blocks. Used where packets of several link types go into one file.
pub struct PcapNgWriter<W: Write> {
    out: W,
    /// The link type of each interface written so far, by interface number.
    interfaces: Vec<u16>,
}

impl<W: Write> PcapNgWriter<W> {
    /// Write the section header.
    pub fn new(mut out: W) -> std::io::Result<Self> {
        let mut body = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
        body.extend_from_slice(&1u16.to_le_bytes()); // version 1.0
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes()); // section length not given
        write_block(&mut out, 0x0A0D_0D0A, &body)?;
        Ok(PcapNgWriter {
            out,
            interfaces: Vec::new(),
        })
    }

    /// The interface of `link`, described on first use (snap length unlimited, ns resolution).
    fn interface(&mut self, link: u16) -> std::io::Result<u32> {
        if let Some(i) = self.interfaces.iter().position(|&l| l == link) {
            return Ok(i as u32);
        }
        let mut body = link.to_le_bytes().to_vec();
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes()); // snaplen: no limit
        body.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0]); // if_tsresol = 10^-9
        body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
        write_block(&mut self.out, 1, &body)?;
        self.interfaces.push(link);
        Ok(self.interfaces.len() as u32 - 1)
    }

    /// One packet: its link type, time in ns since the epoch, the bytes kept and the length on
    /// the wire.
    pub fn write(&mut self, link: u16, ts_ns: i64, data: &[u8], wire_len: u32) -> std::io::Result<()> {
        let iface = self.interface(link)?;
        // The timestamp is unsigned: times before 1970 are written as 1970.
        let ts = ts_ns.max(0) as u64;
        let mut body = iface.to_le_bytes().to_vec();
        body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ts as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&wire_len.to_le_bytes());
        body.extend_from_slice(data);
        write_block(&mut self.out, 6, &body)
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A pcapng block: type, total length, the body padded to 32 bits, the total length again.
fn write_block(out: &mut impl Write, kind: u32, body: &[u8]) -> std::io::Result<()> {
    let pad = (4 - body.len() % 4) % 4;
    let total = (12 + body.len() + pad) as u32;
    out.write_all(&kind.to_le_bytes())?;
    out.write_all(&total.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&[0u8; 3][..pad])?;
    out.write_all(&total.to_le_bytes())
}
