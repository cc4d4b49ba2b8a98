//! carve: the packets of chosen frames, copied from their capture files into a new one with
//! their times (nanoseconds), link types and lengths on the wire as they were — a classic pcap
//! when they share one link type, pcapng when they do not (or a time does not fit pcap's 32-bit
//! seconds). What Wireshark and tshark then open.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::capture::reader::CaptureReader;
use crate::capture::write::{PcapNgWriter, PcapWriter};
use crate::error::{Error, Result};

/// What was written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Carved {
    pub file: PathBuf,
    /// `pcap` or `pcapng`.
    pub format: &'static str,
    pub packets: u64,
    /// Captured bytes written (without file and record headers).
    pub bytes: u64,
    /// Frames asked for that the files do not have (past their end).
    pub missing: u64,
}

/// A packet read back for writing.
struct Packet {
    link: u16,
    ts_ns: i64,
    wire_len: u32,
    data: Vec<u8>,
}

/// Copy `frames` (1-based record numbers) of each source file into `out`, in source order, at
/// most `cap` packets.
pub fn carve(sources: &[(PathBuf, BTreeSet<u32>)], out: &Path, cap: Option<u64>) -> Result<Carved> {
    let mut packets = Vec::new();
    let mut missing = 0u64;
    for (path, frames) in sources {
        if frames.is_empty() {
            continue;
        }
        let last = *frames.iter().next_back().unwrap_or(&0);
        let mut reader = CaptureReader::open(path)?;
        let mut frame = 0u32;
        let mut found = 0u64;
        reader.for_each(|rec| {
            frame += 1;
            if frames.contains(&frame) {
                found += 1;
                packets.push(Packet {
                    link: crate::capture::linktype::for_file(rec.link),
                    ts_ns: rec.ts_ns,
                    wire_len: rec.wire_len,
                    data: rec.data.to_vec(),
                });
            }
            frame < last && cap.is_none_or(|c| (packets.len() as u64) < c)
        })?;
        missing += frames.len() as u64 - found;
    }
    if let Some(c) = cap
        && packets.len() as u64 > c
    {
        packets.truncate(c as usize);
    }
    if packets.is_empty() {
        return Err(Error::Usage(
            "no packet to carve: none of the frames asked for is in the captures".into(),
        ));
    }
    let one_link = packets.iter().all(|p| p.link == packets[0].link);
    let fits_pcap = packets
        .iter()
        .all(|p| (0..(1i64 << 32) * 1_000_000_000).contains(&p.ts_ns));
    let f = std::fs::File::create(out).map_err(|e| Error::io(out, e))?;
    let w = std::io::BufWriter::new(f);
    let io = |e| Error::io(out, e);
    let format = if one_link && fits_pcap {
        let snaplen = packets
            .iter()
            .map(|p| p.data.len() as u32)
            .max()
            .unwrap_or(0)
            .max(65535);
        let mut pw = PcapWriter::new(w, u32::from(packets[0].link), snaplen, true).map_err(io)?;
        for p in &packets {
            pw.write(p.ts_ns, &p.data, p.wire_len).map_err(io)?;
        }
        pw.finish().map_err(io)?;
        "pcap"
    } else {
        let mut pw = PcapNgWriter::new(w).map_err(io)?;
        for p in &packets {
            pw.write(p.link, p.ts_ns, &p.data, p.wire_len).map_err(io)?;
        }
        pw.finish().map_err(io)?;
        "pcapng"
    };
    Ok(Carved {
        file: out.to_path_buf(),
        format,
        packets: packets.len() as u64,
        bytes: packets.iter().map(|p| p.data.len() as u64).sum(),
        missing,
    })
}

/// [`carve`] into a new file of `dir` named `carve_YYYYMMDD_HHMMSS.pcap`, or `.pcapng` when
/// that is what was written.
pub fn carve_into(sources: &[(PathBuf, BTreeSet<u32>)], dir: &Path, cap: Option<u64>) -> Result<Carved> {
    let out = default_name(dir, "pcap");
    let mut carved = carve(sources, &out, cap)?;
    if carved.format == "pcapng" {
        let ng = out.with_extension("pcapng");
        std::fs::rename(&out, &ng).map_err(|e| Error::io(&ng, e))?;
        carved.file = ng;
    }
    Ok(carved)
}

/// A name `carve_YYYYMMDD_HHMMSS.EXT` in `dir`, not yet taken.
fn default_name(dir: &Path, ext: &str) -> PathBuf {
    let base = format!("carve_{}", crate::units::file_stamp(std::time::SystemTime::now()));
    (0..10_000u32)
        .map(|n| {
            if n == 0 {
                dir.join(format!("{base}.{ext}"))
            } else {
                dir.join(format!("{base}_{n}.{ext}"))
            }
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| dir.join(format!("{base}.{ext}")))
}

/// Frames as `1,5,10-20` (1-based, ranges inclusive).
pub fn parse_frames(text: &str) -> std::result::Result<BTreeSet<u32>, String> {
    let mut out = BTreeSet::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("{part:?} is not a frame or range: use e.g. 1,5,10-20");
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<u32>().map_err(|_| bad())?,
                b.trim().parse::<u32>().map_err(|_| bad())?,
            ),
            None => {
                let n = part.parse::<u32>().map_err(|_| bad())?;
                (n, n)
            }
        };
        if a == 0 || b < a {
            return Err(bad());
        }
        if (b - a) as usize + out.len() > 10_000_000 {
            return Err(format!("{part:?}: more than 10 million frames"));
        }
        out.extend(a..=b);
    }
    if out.is_empty() {
        return Err("no frames given".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lists_and_ranges() {
        assert_eq!(
            parse_frames("1,5, 10-12").unwrap().into_iter().collect::<Vec<_>>(),
            vec![1, 5, 10, 11, 12]
        );
        for bad in ["0", "5-3", "x", "", "1-", "-4"] {
            assert!(parse_frames(bad).is_err(), "{bad}");
        }
    }

    /// The sample's frames 3 and 5 of one file: a pcap of those two packets as they were; two
    /// files of different link types together: pcapng, each packet with its own.
    #[test]
    fn carved_packets_read_back_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let sample = crate::testdata::sample();
        let read = |p: &Path| {
            let mut v = Vec::new();
            CaptureReader::open(p)
                .unwrap()
                .for_each(|r| {
                    v.push((r.link, r.ts_ns, r.wire_len, r.data.to_vec()));
                    true
                })
                .unwrap();
            v
        };
        let all = read(&sample);
        let out = dir.path().join("two.pcap");
        let c = carve(&[(sample.clone(), [3, 5, 99_999].into())], &out, None).unwrap();
        assert_eq!((c.format, c.packets, c.missing), ("pcap", 2, 1));
        assert_eq!(read(&out), vec![all[2].clone(), all[4].clone()]);

        let raw = dir.path().join("raw.pcap");
        crate::capture::write::write_file(&raw, 101, &[(all[0].1 + 7, all[0].3[14..].to_vec())]).unwrap();
        let mixed = dir.path().join("mixed.pcapng");
        let c = carve(&[(sample, [1].into()), (raw, [1].into())], &mixed, None).unwrap();
        assert_eq!((c.format, c.packets), ("pcapng", 2));
        let back = read(&mixed);
        // Raw IP: read from the pcap as libpcap names it (DLT_RAW, 12), written as LINKTYPE_RAW.
        assert_eq!((back[0].0, back[1].0), (1, 101));
        assert_eq!(back[0], all[0]);
    }
}
