//! live: live packets as table chunks. [`LiveDecoder`] decodes each packet as it arrives into a
//! pending chunk (one decoder and interner for the whole session) and hands the chunk over at each
//! tick, after the in-order pass (reassembly and stream tracking carry their state across ticks,
//! as the loader's do across batches); [`RollingWindow`] keeps the chunks of the last stretch of
//! time. Frame numbers count from 1 over the whole session.

use std::collections::VecDeque;
use std::time::Duration;

use polars::prelude::*;

use crate::capture::RawRecord;
use crate::decode::Decoder;
use crate::decode::order::InOrder;
use crate::error::Result;
use crate::table::interner::Interner;
use crate::table::packet_columns::PacketColumns;
use crate::table::schema::col;

/// Bytes of each packet kept for decoding, as the loader keeps (headers and the payload's start).
const KEEP_BYTES: usize = 4096;

/// Decodes live packets into table chunks, numbering frames over the whole session.
pub struct LiveDecoder {
    decoder: Decoder,
    interner: Interner,
    order: InOrder,
    pending: PacketColumns,
    /// Packets seen so far (the last frame number given out).
    seen: u64,
    file_code: u32,
}

impl LiveDecoder {
    /// Chunks will say `file` in their `file` column (until [`set_file`](Self::set_file)).
    pub fn new(file: &str) -> LiveDecoder {
        let interner = Interner::default();
        LiveDecoder {
            decoder: Decoder::default(),
            file_code: interner.text(file),
            interner,
            order: InOrder::default(),
            pending: PacketColumns::with_capacity(1024),
            seen: 0,
        }
    }

    /// Name the `file` of the chunks built from now on.
    pub fn set_file(&mut self, name: &str) {
        self.file_code = self.interner.text(name);
    }

    /// Decode one packet into the pending chunk; it is numbered after the previous one.
    pub fn push(&mut self, rec: &RawRecord<'_>) {
        self.seen += 1;
        let keep = rec.data.len().min(KEEP_BYTES);
        let short = RawRecord {
            data: &rec.data[..keep],
            ..*rec
        };
        let p = self.decoder.decode(&short);
        // Frame numbers are u32 in the table, as in files; a session past 4 billion packets wraps.
        self.pending.push(&short, self.seen as u32, p, &mut self.interner);
        if keep != rec.data.len() {
            self.pending.set_cap_len_last(rec.data.len() as u32);
        }
    }

    /// Packets seen since the start.
    pub fn packets_seen(&self) -> u64 {
        self.seen
    }

    /// The pending packets as a table (after reassembly and stream tracking), with the timestamp
    /// of the newest one; `None` when there are none.
    pub fn chunk(&mut self) -> Result<Option<(DataFrame, i64)>> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let mut cols = std::mem::replace(&mut self.pending, PacketColumns::with_capacity(1024));
        cols.finish_in_order(&mut self.order, &mut self.interner, None);
        let df = cols.into_dataframe(self.file_code)?;
        let newest = df
            .column(col::TS)?
            .as_materialized_series()
            .to_physical_repr()
            .i64()?
            .max()
            .unwrap_or(i64::MIN);
        Ok(Some((df, newest)))
    }
}

/// The chunks of the last `window`, oldest first.
pub struct RollingWindow {
    chunks: VecDeque<(DataFrame, i64)>,
    window_ns: i64,
}

impl RollingWindow {
    pub fn new(window: Duration) -> RollingWindow {
        RollingWindow {
            chunks: VecDeque::new(),
            window_ns: i64::try_from(window.as_nanos()).unwrap_or(i64::MAX),
        }
    }

    /// Append a chunk (its packets and the timestamp of the newest one). True if it had rows.
    pub fn add(&mut self, (df, newest): (DataFrame, i64)) -> bool {
        if df.height() == 0 {
            return false;
        }
        self.chunks.push_back((df, newest));
        true
    }

    /// Drop the chunks whose newest packet is older than `now_ns` minus the window. True if any
    /// were dropped.
    pub fn expire(&mut self, now_ns: i64) -> bool {
        let oldest_kept = now_ns.saturating_sub(self.window_ns);
        let before = self.chunks.len();
        while self.chunks.front().is_some_and(|(_, newest)| *newest < oldest_kept) {
            self.chunks.pop_front();
        }
        self.chunks.len() != before
    }

    /// Rows in the window.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|(df, _)| df.height()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The window's packets in one frame.
    pub fn packets(&self) -> Result<DataFrame> {
        let mut it = self.chunks.iter();
        let Some((first, _)) = it.next() else {
            return crate::table::packet_columns::empty_packets();
        };
        let mut df = first.clone();
        for (c, _) in it {
            df.vstack_mut(c)?;
        }
        Ok(df)
    }
}

/// Helpers for the tests of the layers that read live windows.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::capture::CaptureReader;

    pub(crate) fn sample() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/sample.pcap")
    }

    /// Feed the sample capture through a window, ticking every `every` packets.
    /// Feed the sample capture through a window, ticking every `every` packets.
    pub(crate) fn window_of_sample(every: usize) -> (LiveDecoder, RollingWindow, i64) {
        let mut d = LiveDecoder::new("sample.pcap");
        let mut w = RollingWindow::new(Duration::from_secs(1 << 30));
        let mut r = CaptureReader::open(&sample()).unwrap();
        let mut n = 0;
        let mut last = 0;
        r.for_each(|rec| {
            d.push(&rec);
            last = rec.ts_ns;
            n += 1;
            if n % every == 0 {
                assert!(w.add(d.chunk().unwrap().unwrap()));
            }
            true
        })
        .unwrap();
        if let Some(c) = d.chunk().unwrap() {
            w.add(c);
        }
        assert!(!w.expire(last), "a long window keeps everything");
        (d, w, last)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{sample, window_of_sample};
    use super::*;
    use crate::table::catalog::CaptureFile;
    use crate::table::pipeline::{LoadOptions, decode_file};

    #[test]
    fn window_in_ticks_equals_the_loaded_capture() {
        let cap = CaptureFile::stat(&sample()).unwrap();
        let opts = LoadOptions {
            cache_dir: std::env::temp_dir(),
            use_cache: false,
            progress: false,
            threads: 1,
            community_id_seed: 0,
        };
        let loaded = decode_file(&cap, &opts).unwrap().packets.to_dataframe().unwrap();
        for every in [1, 7, 100, 1_000_000] {
            let (d, w, _) = window_of_sample(every);
            let df = w.packets().unwrap();
            assert_eq!(d.packets_seen(), loaded.height() as u64);
            assert!(
                df.equals_missing(&loaded),
                "ticking every {every} packets gives a different table"
            );
        }
    }

    #[test]
    fn old_chunks_leave_the_window_and_frames_keep_counting() {
        let mut d = LiveDecoder::new("live:lo");
        let mut w = RollingWindow::new(Duration::from_secs(5));
        let data = [0u8; 60];
        let rec = |ts_ns| RawRecord {
            ts_ns,
            wire_len: 60,
            link: 1,
            data: &data,
        };
        let t0 = 1_700_000_000_000_000_000i64;
        assert!(d.chunk().unwrap().is_none(), "nothing pending");
        assert!(!w.expire(t0), "nothing to drop");
        d.push(&rec(t0));
        d.push(&rec(t0 + 1));
        let (c, newest) = d.chunk().unwrap().unwrap();
        assert_eq!(newest, t0 + 1);
        assert!(w.add((c, newest)));
        assert_eq!(w.len(), 2);
        d.push(&rec(t0 + 4_000_000_000));
        assert!(w.add(d.chunk().unwrap().unwrap()));
        assert!(!w.expire(t0 + 4_000_000_000));
        assert_eq!(w.len(), 3);
        // 6 s later the first chunk (newest packet at t0 + 1 ns) is older than the window.
        assert!(w.expire(t0 + 6_000_000_000));
        assert_eq!(w.len(), 1);
        let frames: Vec<u32> = w
            .packets()
            .unwrap()
            .column(col::FRAME)
            .unwrap()
            .u32()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(frames, [3]);
        assert!(w.expire(t0 + 20_000_000_000));
        assert!(w.is_empty());
        assert_eq!(d.packets_seen(), 3);
    }
}
