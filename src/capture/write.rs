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
