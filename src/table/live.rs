//! live: live packets as table chunks. [`LiveDecoder`] decodes each packet as it arrives into a
//! pending chunk (one decoder and interner for the whole session) and hands the chunk over at each
//! tick, after the in-order pass (reassembly and stream tracking carry their state across ticks,
//! as the loader's do across batches), with the DNS, HTTP and TLS transactions that finished in
//! it; [`RollingWindow`] keeps the chunks of the last stretch of time. Frame numbers count from 1
//! over the whole session.

use std::collections::VecDeque;
use std::time::Duration;

use polars::prelude::*;

use crate::capture::RawRecord;
use crate::decode::Decoder;
use crate::decode::order::InOrder;
use crate::error::Result;
use crate::table::interner::Interner;
use crate::table::packet_columns::PacketColumns;
use crate::table::pipeline::{TransactionTables, Transactions};
use crate::table::schema::col;

/// Bytes of each packet kept for decoding, as the loader keeps (headers and the payload's start).
const KEEP_BYTES: usize = 4096;

/// Decodes live packets into table chunks, numbering frames over the whole session.
pub struct LiveDecoder {
    decoder: Decoder,
    interner: Interner,
    order: InOrder,
    pending: PacketColumns,
    /// DNS, HTTP and TLS transactions being paired across ticks.
    transactions: Transactions,
    /// The capture ended: transactions still open are closed into the next chunk.
    closing: bool,
    /// The newest packet time handed over so far.
    newest: i64,
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
            transactions: Transactions::default(),
            closing: false,
            newest: i64::MIN,
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

    /// The last chunk of a session: [`LiveDecoder::chunk`], with every transaction still open
    /// closed (an unanswered query, a request with no reply) as at the end of a capture file;
    /// a chunk even when no packet is pending, if that closed any.
    pub fn last_chunk(&mut self) -> Result<Option<LiveChunk>> {
        self.closing = true;
        if !self.pending.is_empty() {
            return self.chunk();
        }
        self.transactions.close_all(&mut self.interner);
        let transactions = self.transactions.take_finished(self.file_code)?;
        if transactions.is_empty() {
            return Ok(None);
        }
        Ok(Some(LiveChunk {
            packets: crate::table::packet_columns::empty_packets()?,
            transactions,
            newest: self.newest,
        }))
    }

    /// Packets seen since the start.
    pub fn packets_seen(&self) -> u64 {
        self.seen
    }

    /// The pending packets as a table (after reassembly and stream tracking), the transactions
    /// that finished with them, and the timestamp of the newest packet; `None` when there are
    /// none.
    pub fn chunk(&mut self) -> Result<Option<LiveChunk>> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let mut cols = std::mem::replace(&mut self.pending, PacketColumns::with_capacity(1024));
        cols.finish_in_order(&mut self.order, &mut self.interner, None);
        // Live, the flows are made per window from its packets, so a connection whose start
        // fell before the window is not known as such: HTTP on it is read (the loader skips it).
        self.transactions.add(cols.take_messages(), &[], &mut self.interner);
        if self.closing {
            self.transactions.close_all(&mut self.interner);
        }
        let transactions = self.transactions.take_finished(self.file_code)?;
        let df = cols.into_dataframe(self.file_code)?;
        let newest = df
            .column(col::TS)?
            .as_materialized_series()
            .to_physical_repr()
            .i64()?
            .max()
            .unwrap_or(i64::MIN);
        self.newest = self.newest.max(newest);
        Ok(Some(LiveChunk {
            packets: df,
            transactions,
            newest,
        }))
    }
}

/// One tick's packets, the transactions that finished in it, and its newest packet's time.
pub struct LiveChunk {
    pub packets: DataFrame,
    pub transactions: TransactionTables,
    pub newest: i64,
}

/// The chunks of the last `window`, oldest first.
pub struct RollingWindow {
    chunks: VecDeque<LiveChunk>,
    window_ns: i64,
}

impl RollingWindow {
    pub fn new(window: Duration) -> RollingWindow {
        RollingWindow {
            chunks: VecDeque::new(),
            window_ns: i64::try_from(window.as_nanos()).unwrap_or(i64::MAX),
        }
    }

    /// Append a chunk. True if it had packets or transactions.
    pub fn add(&mut self, chunk: LiveChunk) -> bool {
        if chunk.packets.height() == 0 && chunk.transactions.is_empty() {
            return false;
        }
        self.chunks.push_back(chunk);
        true
    }

    /// Drop the chunks whose newest packet is older than `now_ns` minus the window. True if any
    /// were dropped.
    pub fn expire(&mut self, now_ns: i64) -> bool {
        let oldest_kept = now_ns.saturating_sub(self.window_ns);
        let before = self.chunks.len();
        while self.chunks.front().is_some_and(|c| c.newest < oldest_kept) {
            self.chunks.pop_front();
        }
        self.chunks.len() != before
    }

    /// Rows in the window.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.packets.height()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The window's packets in one frame.
    pub fn packets(&self) -> Result<DataFrame> {
        stack(
            self.chunks.iter().map(|c| &c.packets),
            crate::table::packet_columns::empty_packets,
        )
    }

    /// The window's finished transactions, each table in one frame.
    pub fn transactions(&self) -> Result<TransactionTables> {
        let t = || self.chunks.iter().map(|c| &c.transactions);
        Ok(TransactionTables {
            dns: stack(t().map(|t| &t.dns), crate::table::dns_table::empty_dns)?,
            http: stack(t().map(|t| &t.http), crate::table::http_table::empty_http)?,
            tls: stack(t().map(|t| &t.tls), crate::table::tls_table::empty_tls)?,
        })
    }
}

/// Frames of one schema, one after the other (`empty` when there are none).
fn stack<'a>(mut frames: impl Iterator<Item = &'a DataFrame>, empty: fn() -> Result<DataFrame>) -> Result<DataFrame> {
    let Some(first) = frames.next() else {
        return empty();
    };
    let mut df = first.clone();
    for f in frames {
        df.vstack_mut(f)?;
    }
    Ok(df)
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
        if let Some(c) = d.last_chunk().unwrap() {
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
        let opts = LoadOptions::uncached(1);
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

    /// The transactions of a window made tick by tick are the loader's, row for row, once they
    /// take their flow's view (flows made from the window's packets, as `watch` makes them).
    #[test]
    fn window_transactions_equal_the_loaded_capture() {
        let cap = CaptureFile::stat(&sample()).unwrap();
        let opts = LoadOptions::uncached(1);
        let loaded = decode_file(&cap, &opts).unwrap().tx;
        assert!(loaded.dns.height() > 0 && loaded.http.height() > 0 && loaded.tls.height() > 0);
        for every in [1, 7, 100, 1_000_000] {
            let (_, w, _) = window_of_sample(every);
            let flows = crate::table::flow::flows_of(&w.packets().unwrap()).unwrap();
            let t = w.transactions().unwrap();
            let views = crate::table::flow_view::FlowViews::of(&flows).unwrap();
            let view = |df: DataFrame| crate::table::flow_view::finish_with_flows(df, &views).unwrap();
            for (name, got, want) in [
                ("dns", view(t.dns), &loaded.dns),
                ("http", view(t.http), &loaded.http),
                ("tls", view(t.tls), &loaded.tls),
            ] {
                assert!(
                    got.equals_missing(want),
                    "{name}, ticking every {every}:\n{got}\n{want}"
                );
            }
        }
    }

    #[test]
    fn old_chunks_leave_the_window_and_frames_keep_counting() {
        let mut d = LiveDecoder::new("live:lo");
        let mut w = RollingWindow::new(Duration::from_secs(5));
        let data = [0u8; 60];
        let rec = |ts_ns| RawRecord {
            ts_ns,
            ts_out_of_range: false,
            wire_len: 60,
            link: 1,
            data: &data,
        };
        let t0 = 1_700_000_000_000_000_000i64;
        assert!(d.chunk().unwrap().is_none(), "nothing pending");
        assert!(!w.expire(t0), "nothing to drop");
        d.push(&rec(t0));
        d.push(&rec(t0 + 1));
        let c = d.chunk().unwrap().unwrap();
        assert_eq!(c.newest, t0 + 1);
        assert!(w.add(c));
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
