//! reader: open a capture file and hand out its raw records (timestamp, lengths, link type,
//! bytes) in file order. No parsing of packet contents happens here.
//!
//! libpcap (through the `pcap` crate) opens every file, so it judges the header. A classic pcap
//! is then read from a mapping ([`crate::capture::mapped`]); pcapng and the rarer formats stay
//! with libpcap, and pcapng files libpcap refuses go to our block reader
//! ([`crate::capture::pcapng`]), also part way through a file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::capture::libpcap::{needs_pcapng_fallback, pcap_reason, tune_read_stream};
use crate::capture::mapped::MappedPcap;
use crate::capture::pcapng::PcapNgReader;
use crate::capture::record::RawRecord;
use crate::error::{Error, Result};

/// An open capture file.
pub struct CaptureReader {
    path: PathBuf,
    inner: Inner,
    /// Packets handed out so far (used to resume after switching readers).
    delivered: u64,
    /// libpcap's records' times, checked (its pcapng reader hands 64-bit seconds through).
    time: crate::capture::record::RecordTime,
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
            time: Default::default(),
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
                        let (ts_ns, ts_out_of_range) = self.time.at(ts.tv_sec, ts.tv_usec);
                        let rec = RawRecord {
                            ts_ns,
                            ts_out_of_range,
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

    /// The file's mapping when its records are slices of it (see [`crate::capture::mapped`]): a reader of
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::io::Read;

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
        files.extend(
            crate::testdata::shared_capture_files()
                .into_iter()
                .filter(|p| is_classic(p)),
        );
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
        assert!(std::fs::metadata(&big).unwrap().len() > 2 * crate::capture::libpcap::READ_BUFFER as u64);
        for path in [sample, big.as_path()] {
            let ours = records(path);
            let (want, _) = libpcap(path);
            assert_eq!(ours.len(), want.len(), "{path:?}");
            assert!(ours == want, "{path:?}: records differ");
        }
    }
}
