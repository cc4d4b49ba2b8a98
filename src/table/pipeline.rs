//! pipeline: the parallel decode of one capture file into its packet and flow tables, using
//! every core. One thread reads records into batches; worker threads decode batches into column
//! chunks; a collector puts the chunks back in file order, runs the in-order pass (IP
//! reassembly, stream and QUIC tracking) and feeds each chunk to the flow builder; a packing
//! thread keeps the chunks as one packed packet table; a writer thread streams the same chunks
//! into the Parquet cache as they come.
//!
//! Measured on the 10M-packet generated capture: decoders stalled on the first byte of nearly every
//! packet (a batch is written by the reader long before and records are ~700 bytes apart), so
//! each asks for the record a few ahead ([`crate::capture::prefetch`]); 8k-packet batches and
//! queues one batch deep hold ~45 MB of raw bytes in flight (was ~180); packing on its own thread
//! took the peak from 1308 to 577 MiB for 0.3-0.5 s more CPU.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::*;

use crate::capture::{CaptureReader, RawRecord};
use crate::decode::Decoder;
use crate::decode::order::InOrder;
use crate::decode::stream::StreamEvent;
use crate::error::{Error, Result};
use crate::table::cache;
use crate::table::catalog::{CacheEntry, CaptureFile, CaptureMeta};
use crate::table::dns_pairing::DnsPairing;
use crate::table::dns_table::DnsColumns;
use crate::table::events::{event_mask, filter_here};
use crate::table::flow::FlowBuilder;
use crate::table::flow_view::{FlowViews, flow_view_at, in_time_order_with};
use crate::table::http_pairing::HttpPairing;
use crate::table::http_table::HttpColumns;
use crate::table::interner::Interner;
use crate::table::messages::Messages;
use crate::table::packet_columns::PacketColumns;
use crate::table::packet_store::{PacketStore, PacketStoreBuilder};
use crate::table::tls_sessions::TlsSessions;
use crate::table::tls_table::TlsColumns;

/// Packets per batch handed to a decoder thread (and rows per chunk of the packet table). Each
/// batch costs a channel round trip and each chunk a DataFrame with its per-column overhead in
/// the collector, while every batch in flight holds its raw bytes (~5.5 MB at 8k here). With the
/// packed table, 8k loads the 10M capture ~1-3% slower than 16k or 32k, with ~55 / ~150 MB less
/// at the peak (smaller chunks also pack narrower: fewer distinct values each).
const BATCH: usize = 8 * 1024;
/// Bytes of each packet kept for decoding (headers and the start of the payload are all we read).
const KEEP_BYTES: usize = 4096;

/// How to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub cache_dir: PathBuf,
    pub use_cache: bool,
    /// Draw a progress bar on stderr (callers pass true only for a terminal).
    pub progress: bool,
    /// Decoder threads (0 = one per core).
    pub threads: usize,
    /// Seed of the flows' Community IDs (`[decode] community_id_seed`).
    pub community_id_seed: u16,
}

impl LoadOptions {
    /// Decode straight from the capture with `threads` decoders (0 = one per core): no cache
    /// read or written, no progress bar, Community IDs with the default seed.
    pub fn uncached(threads: usize) -> LoadOptions {
        LoadOptions {
            cache_dir: std::env::temp_dir(),
            use_cache: false,
            progress: false,
            threads,
            community_id_seed: 0,
        }
    }
}

/// What a fresh decode keeps in memory besides the flow table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The whole packet table.
    All,
    /// Only the event rows (every column of them) and the per-stack counts: all the analyze
    /// suite reads of the packets. Packing the whole table was a sixth of a load's CPU and
    /// most of its memory. Should something ask for the packets after all, the table is
    /// loaded then (from the cache the decode just wrote, else by decoding again).
    Events,
}

/// The cache files a decode streams into: the packet table and its event rows.
pub(crate) struct CacheSink {
    pub(crate) packets: cache::CacheWriter,
    pub(crate) events: cache::CacheWriter,
}

impl CacheSink {
    pub(crate) fn create(entry: &CacheEntry) -> Result<CacheSink> {
        Ok(CacheSink {
            packets: cache::CacheWriter::create(&entry.packets, cache::Table::Packets)?,
            events: cache::CacheWriter::create(&entry.events, cache::Table::Packets)?,
        })
    }

    /// A chunk of the packet table and which of its rows are events.
    fn push(&mut self, chunk: &DataFrame, events: &BooleanChunked) -> Result<()> {
        self.packets.push(chunk)?;
        self.events.push(&filter_here(chunk, events)?)
    }
}

/// Raw records waiting for a decoder: their bytes back to back, and where each one is.
#[derive(Default)]
struct Batch {
    seq: usize,
    first_frame: u32,
    /// The records' bytes, copied (libpcap's and the pcapng reader's records live only until
    /// the next one is read).
    data: Vec<u8>,
    /// Instead of `data`, for a mapped file: its mapping and the span `base..end` of it that
    /// holds these records (record starts are then relative to `base`).
    mapped: Option<(Arc<memmap2::Mmap>, usize, usize)>,
    recs: Vec<Rec>,
}

#[derive(Clone, Copy)]
struct Rec {
    ts_ns: i64,
    ts_out_of_range: bool,
    start: u32,
    keep: u32,
    caplen: u32,
    wire_len: u32,
    link: u16,
}

impl Batch {
    /// The bytes the records' starts point into.
    fn bytes(&self) -> &[u8] {
        match &self.mapped {
            Some((map, base, end)) => &map[*base..*end],
            None => &self.data,
        }
    }

    /// Full: BATCH records, or a mapped span that record offsets (u32) could no longer reach.
    fn full(&self) -> bool {
        self.recs.len() == BATCH || self.mapped.as_ref().is_some_and(|(_, base, end)| end - base > 1 << 30)
    }

    /// Add a record that is a slice of `map`, without copying it; a record from elsewhere
    /// (there is none today) or one that would mix the two kinds is copied.
    fn push_from(&mut self, r: &RawRecord<'_>, map: &Arc<memmap2::Mmap>) {
        let keep = r.data.len().min(KEEP_BYTES);
        let (from, to) = (map.as_ptr() as usize, map.as_ptr() as usize + map.len());
        let at = r.data.as_ptr() as usize;
        let inside = at >= from && at + r.data.len() <= to;
        if self.recs.is_empty() && inside {
            self.mapped = Some((Arc::clone(map), at - from, at - from));
        }
        let Some((_, base, end)) = self.mapped.as_mut().filter(|_| inside) else {
            return self.push(r);
        };
        self.recs.push(Rec {
            ts_ns: r.ts_ns,
            ts_out_of_range: r.ts_out_of_range,
            start: (at - from - *base) as u32,
            keep: keep as u32,
            caplen: r.data.len() as u32,
            wire_len: r.wire_len,
            link: r.link,
        });
        *end = at - from + keep;
    }

    fn push(&mut self, r: &RawRecord<'_>) {
        if self.mapped.is_some() {
            // Copy the mapped records first, so all starts point into `data`.
            let Some((map, base, end)) = self.mapped.take() else {
                return;
            };
            self.data.extend_from_slice(&map[base..end]);
        }
        let keep = r.data.len().min(KEEP_BYTES);
        let start = self.data.len() as u32;
        self.data.extend_from_slice(&r.data[..keep]);
        self.recs.push(Rec {
            ts_ns: r.ts_ns,
            ts_out_of_range: r.ts_out_of_range,
            start,
            keep: keep as u32,
            caplen: r.data.len() as u32,
            wire_len: r.wire_len,
            link: r.link,
        });
    }

    fn clear(&mut self) {
        self.data.clear();
        self.mapped = None;
        self.recs.clear();
    }
}

/// A decoded capture: its packet table, its flow table (built in the same pass), and what went
/// wrong part way, if anything.
pub struct Decoded {
    pub packets: PacketStore,
    pub flows: DataFrame,
    /// The transaction tables (dns, http).
    pub tx: TransactionTables,
    /// Packets, bytes, time span and link types (no stack counts: see `packets`).
    pub meta: CaptureMeta,
    /// Set when the file could only be read in part: the packets before the problem are kept.
    pub warning: Option<String>,
    /// The file's end was reached (a segment that ends before it says false).
    pub ended: bool,
}

/// Decode a capture file into its packet and flow tables, without the cache.
pub fn decode_file(capture: &CaptureFile, opts: &LoadOptions) -> Result<Decoded> {
    decode_into(capture, opts, None, Keep::All, None).map(|(d, _)| d)
}

/// A run of a capture's frames decoded on its own (`netql ingest` takes a huge capture a
/// segment at a time, so its memory follows the segment, not the file). Frames keep their
/// numbers in the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The segment's first frame (1-based).
    pub first_frame: u64,
    /// Frames in it at most.
    pub frames: u64,
}

/// Decode, streaming each finished chunk of packets into `sink` (a cache file) on its own thread
/// as it is made. The sink comes back unless writing it failed (that is reported, not fatal).
pub(crate) fn decode_into(
    capture: &CaptureFile,
    opts: &LoadOptions,
    sink: Option<CacheSink>,
    keep: Keep,
    segment: Option<Segment>,
) -> Result<(Decoded, Option<CacheSink>)> {
    let started = std::time::Instant::now();
    let _big_blocks = crate::allocator::BigBlocksMapped::start();
    let mut reader = CaptureReader::open(&capture.path)?;
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    } else {
        opts.threads
    };
    let bar = progress_bar(opts.progress, capture);
    let file_code = Interner::default().text(&capture.name);

    // Shallow queues: each raw batch waiting in one holds its raw bytes. One waiting batch per
    // stage (was 2 and 4) took ~70 MB off the 10M load's peak at the same speed (32k batches).
    let (batch_tx, batch_rx) = sync_channel::<Batch>(1);
    let batch_rx = Arc::new(Mutex::new(batch_rx));
    let (pool_tx, pool_rx) = channel::<Batch>();
    // Bounded: when the collector (or the cache writer behind it) falls behind, decoders wait
    // instead of piling up decoded chunks, each holding its batch's raw bytes.
    let (out_tx, out_rx) = sync_channel::<(PacketColumns, Batch)>(threads);

    let (read_result, collected, sink) = std::thread::scope(|s| {
        for _ in 0..threads {
            let rx = Arc::clone(&batch_rx);
            let out = out_tx.clone();
            s.spawn(move || decode_worker(rx, out));
        }
        drop(out_tx);
        let (chunk_tx, writer) = match sink {
            Some(w) => {
                let (tx, rx) = sync_channel::<(DataFrame, BooleanChunked)>(4);
                (Some(tx), Some(s.spawn(move || write_chunks(rx, w))))
            }
            None => (None, None),
        };
        // Packing the table's chunks runs beside the collector (it was the pipeline's slowest
        // stage with both on one thread).
        let (pack_tx, pack_rx) = sync_channel::<(DataFrame, BooleanChunked)>(2);
        let table = match keep {
            Keep::All => PacketStoreBuilder::new(&capture.name),
            Keep::Events => PacketStoreBuilder::events_only(&capture.name),
        }
        .starting_at(segment.map_or(1, |s| s.first_frame.min(u64::from(u32::MAX)) as u32));
        let packer = s.spawn(move || pack_chunks(pack_rx, table));
        let flows = FlowBuilder::new(opts.community_id_seed);
        let collector = s.spawn(move || collect(out_rx, pool_tx, file_code, chunk_tx, pack_tx, flows));
        let read_result = read_batches(&mut reader, batch_tx, pool_rx, &bar, segment);
        let collected = collector
            .join()
            .unwrap_or(Err(Error::Internal("a decoder thread panicked")));
        let packed = packer
            .join()
            .unwrap_or(Err(Error::Internal("the packing thread panicked")));
        let sink = writer.and_then(|w| w.join().ok().flatten());
        (read_result, packed.and_then(|p| collected.map(|c| (p, c))), sink)
    });
    bar.finish_and_clear();
    let (
        packets,
        Collected {
            flows,
            meta,
            tx,
            mut interner,
        },
    ) = collected?;
    let debug = std::env::var_os("NETQL_DEBUG").is_some();
    let decoded = (started.elapsed(), debug.then(resident_mib).flatten());
    let packets = packets.finish()?;
    let packed = (started.elapsed(), debug.then(resident_mib).flatten());
    // The transaction rows are closed and made into tables while the flow table is made (both
    // wait for decoding to end); then they take their flow's view.
    let (flows, tx) = std::thread::scope(|s| {
        let rows = s.spawn(|| tx.finish(&mut interner, file_code));
        let flows = flows.finish();
        let rows = rows
            .join()
            .unwrap_or(Err(Error::Internal("the transactions thread panicked")));
        (flows, rows)
    });
    let (flows, tx) = (flows?, tx?);
    let flowed = (started.elapsed(), debug.then(resident_mib).flatten());
    let tx = tx.with_flows(&flows)?;
    if debug {
        let done = (started.elapsed(), resident_mib());
        eprintln!(
            "load: {}: (time, resident MiB, peak MiB) decoded {decoded:.2?}, packet table done {packed:.2?}, flow table {flowed:.2?}, transaction tables {done:.2?}",
            capture.name,
        );
    }
    let mut ended = true;
    let warning = match read_result {
        Ok((n, at_end)) => {
            debug_assert_eq!(packets.height() as u64, n);
            ended = at_end;
            None
        }
        // The file broke part way: keep what was read if there is anything, else fail.
        Err(e) if packets.height() == 0 => return Err(e),
        Err(e) => Some(format!(
            "{e} (kept the {} packets before the problem)",
            packets.height()
        )),
    };
    Ok((
        Decoded {
            packets,
            flows,
            tx,
            meta,
            warning,
            ended,
        },
        sink,
    ))
}

/// This process's resident and peak resident memory in MiB (Linux; for `NETQL_DEBUG`).
fn resident_mib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((kib("VmRSS:")? / 1024, kib("VmHWM:")? / 1024))
}

/// The cache writer's thread: chunks in, row groups out. On a write error it says so once and
/// keeps draining, so decoding never waits on a broken cache.
fn write_chunks(rx: Receiver<(DataFrame, BooleanChunked)>, mut w: CacheSink) -> Option<CacheSink> {
    for (df, events) in rx.iter() {
        if let Err(e) = w.push(&df, &events) {
            eprintln!("netql: warning: cache not written: {e}");
            drop(w);
            for _ in rx.iter() {}
            return None;
        }
    }
    Some(w)
}

fn progress_bar(show: bool, capture: &CaptureFile) -> ProgressBar {
    if !show || capture.size < 32 << 20 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(capture.size);
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("decoding {}", capture.name));
    bar
}

/// Runs on the calling thread: libpcap records into batches for the decoders.
fn read_batches(
    reader: &mut CaptureReader,
    tx: SyncSender<Batch>,
    pool: Receiver<Batch>,
    bar: &ProgressBar,
    segment: Option<Segment>,
) -> Result<(u64, bool)> {
    // Frames outside the segment are stepped over (their records are read, not decoded).
    let (skip, end) = match segment {
        Some(s) => (
            s.first_frame.saturating_sub(1),
            s.first_frame.saturating_sub(1).saturating_add(s.frames),
        ),
        None => (0, u64::MAX),
    };
    let mut seq = 0usize;
    let mut frame: u64 = 0;
    let map = reader.mapping().cloned();
    let copied = if map.is_some() { 0 } else { BATCH * 800 };
    let fresh = |pool: &Receiver<Batch>| {
        pool.try_recv().unwrap_or_else(|_| Batch {
            data: Vec::with_capacity(copied),
            recs: Vec::with_capacity(BATCH),
            ..Default::default()
        })
    };
    let mut batch = fresh(&pool);
    let mut bytes: u64 = 0;
    let mut send_failed = false;
    let mut stopped = false;
    // Pages of a mapped file walked over while skipping are given back as it goes (the
    // collector gives back those it decoded), or a late segment would map all before it.
    let mut skipped_to = 0usize;
    let result = reader.for_each(|rec| {
        if frame < skip {
            frame += 1;
            if let Some(map) = &map
                && frame.is_multiple_of(4096)
            {
                let at = (rec.data.as_ptr() as usize).saturating_sub(map.as_ptr() as usize);
                skipped_to = crate::capture::mapped::release_mapped(map, skipped_to, at);
            }
            return true;
        }
        if frame >= end {
            stopped = true;
            return false;
        }
        if batch.recs.is_empty() {
            batch.seq = seq;
            batch.first_frame = (frame + 1) as u32;
        }
        match &map {
            Some(map) => batch.push_from(&rec, map),
            None => batch.push(&rec),
        }
        frame += 1;
        bytes += rec.data.len() as u64 + 16;
        if batch.full() {
            let full = std::mem::replace(&mut batch, fresh(&pool));
            seq += 1;
            bar.set_position(bytes);
            if tx.send(full).is_err() {
                send_failed = true;
                return false;
            }
        }
        true
    });
    if !batch.recs.is_empty() && !send_failed {
        let _ = tx.send(batch);
    }
    drop(tx);
    // The frames sent (the reader's count includes the ones stepped over), and whether the
    // file ended (rather than the segment).
    result.map(|_| (frame - skip.min(frame), !stopped))
}

fn decode_worker(rx: Arc<Mutex<Receiver<Batch>>>, out: SyncSender<(PacketColumns, Batch)>) {
    let mut decoder = Decoder::default();
    let mut interner = Interner::default();
    loop {
        let next = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok(batch) = next else { return };
        let mut cols = PacketColumns::with_capacity(batch.recs.len());
        let bytes = batch.bytes();
        for (i, r) in batch.recs.iter().enumerate() {
            // A packet's first bytes (link, IP and transport headers) are a cache miss unless
            // asked for ahead.
            if let Some(ahead) = batch.recs.get(i + crate::capture::prefetch::PREFETCH_AHEAD) {
                crate::capture::prefetch::prefetch(bytes, ahead.start as usize);
                crate::capture::prefetch::prefetch(bytes, ahead.start as usize + 64);
            }
            let rec = RawRecord {
                ts_ns: r.ts_ns,
                ts_out_of_range: r.ts_out_of_range,
                wire_len: r.wire_len,
                link: r.link,
                data: &bytes[r.start as usize..(r.start + r.keep) as usize],
            };
            let p = decoder.decode(&rec);
            cols.push_at(&rec, batch.first_frame + i as u32, p, &mut interner, r.start as usize);
            if r.caplen != r.keep {
                cols.set_cap_len_last(r.caplen);
            }
        }
        // The collector reads payloads for the stream trackers straight from the batch, then
        // gives the batch back to the reader.
        if out.send((cols, batch)).is_err() {
            return;
        }
    }
}

/// Puts chunks back in file order, runs reassembly and the stream trackers, builds one DataFrame
/// per chunk and feeds it to the flow table. The transactions (DNS, HTTP and TLS pairing,
/// fingerprints, certificates) are made on a thread of their own from each chunk's messages:
/// on the collector they made it the pipeline's slowest stage.
fn collect(
    rx: Receiver<(PacketColumns, Batch)>,
    pool: std::sync::mpsc::Sender<Batch>,
    file_code: u32,
    sink: Option<SyncSender<(DataFrame, BooleanChunked)>>,
    table: SyncSender<(DataFrame, BooleanChunked)>,
    flows: FlowBuilder,
) -> Result<Collected> {
    let (messages_tx, messages_rx) = sync_channel::<(Messages, Vec<u32>)>(4);
    std::thread::scope(|s| {
        let pairing = s.spawn(move || {
            let mut tx = Transactions::default();
            let mut interner = Interner::default();
            for (messages, partial) in messages_rx {
                tx.add(messages, &partial, &mut interner);
            }
            (tx, interner)
        });
        let ordered = collect_in_order(rx, pool, file_code, sink, table, flows, messages_tx);
        let (tx, interner) = pairing
            .join()
            .map_err(|_| Error::Internal("the transactions thread panicked"))?;
        let (flows, meta) = ordered?;
        Ok(Collected {
            flows,
            meta,
            tx,
            interner,
        })
    })
}

/// The collector's own work (see [`collect`]); each chunk's messages go to `messages`.
fn collect_in_order(
    rx: Receiver<(PacketColumns, Batch)>,
    pool: std::sync::mpsc::Sender<Batch>,
    file_code: u32,
    sink: Option<SyncSender<(DataFrame, BooleanChunked)>>,
    table: SyncSender<(DataFrame, BooleanChunked)>,
    mut flows: FlowBuilder,
    messages: SyncSender<(Messages, Vec<u32>)>,
) -> Result<(FlowBuilder, CaptureMeta)> {
    let mut pending: BTreeMap<usize, (PacketColumns, Batch)> = BTreeMap::new();
    let mut next = 0usize;
    let mut flow_rows = Vec::new();
    let mut order = InOrder::default();
    let mut interner = Interner::default();
    let mut meta = CaptureMeta::of_packets(&DataFrame::empty());
    // How far into a mapped file pages were given back (batches come back in file order).
    let mut released = 0usize;
    for (cols, batch) in rx {
        pending.insert(batch.seq, (cols, batch));
        while let Some((mut cols, mut batch)) = pending.remove(&next) {
            cols.finish_in_order(&mut order, &mut interner, Some(batch.bytes()));
            if let Some((map, _, end)) = &batch.mapped {
                released = crate::capture::mapped::release_mapped(map, released, *end);
            }
            batch.clear();
            let _ = pool.send(batch);
            let confirmed = cols.take_services();
            let mut chunk_messages = cols.take_messages();
            let df = cols.into_dataframe(file_code)?;
            let partial = flows.add_confirmed(&df, &confirmed, &mut flow_rows)?;
            chunk_messages.set_flow_rows(&flow_rows);
            // The transactions thread only stops early if it panicked, which `collect` reports.
            let _ = messages.send((chunk_messages, partial));
            meta.extend(CaptureMeta::of_packets(&df));
            let events = event_mask(&df)?;
            if let Some(tx) = &sink {
                // Cheap: the chunk's columns are shared, not copied.
                let _ = tx.send((df.clone(), events.clone()));
            }
            if table.send((df, events)).is_err() {
                // The packing thread stopped on an error, which it reports; stop decoding.
                return Ok((flows, meta));
            }
            next += 1;
        }
    }
    Ok((flows, meta))
}

/// What the collector hands back: the flows and transactions being built, and the capture's
/// totals.
struct Collected {
    flows: FlowBuilder,
    meta: CaptureMeta,
    tx: Transactions,
    interner: Interner,
}

/// The transaction tables being built in capture order.
#[derive(Default)]
pub(crate) struct Transactions {
    dns_pairing: DnsPairing,
    dns: DnsColumns,
    http_pairing: HttpPairing,
    http: HttpColumns,
    tls_sessions: TlsSessions,
    tls: TlsColumns,
}

/// The transaction tables of a capture (or of a live chunk).
#[derive(Clone)]
pub struct TransactionTables {
    pub dns: DataFrame,
    pub http: DataFrame,
    pub tls: DataFrame,
}

impl TransactionTables {
    pub fn is_empty(&self) -> bool {
        self.dns.height() == 0 && self.http.height() == 0 && self.tls.height() == 0
    }

    /// Three empty tables with every column typed.
    pub fn empty() -> Result<TransactionTables> {
        Ok(TransactionTables {
            dns: crate::table::dns_table::empty_dns()?,
            http: crate::table::http_table::empty_http()?,
            tls: crate::table::tls_table::empty_tls()?,
        })
    }
}

impl Transactions {
    /// Take a chunk's messages (after its in-order pass). `partial`: the chunk's rows of TCP
    /// connections whose start was missed, in order; Zeek reads no HTTP in those.
    pub(crate) fn add(&mut self, mut messages: Messages, partial: &[u32], it: &mut Interner) {
        for (seen, msg) in &mut messages.dns {
            self.dns_pairing.message(seen, msg);
        }
        for t in self.dns_pairing.drain_done() {
            self.dns.push(&t, it);
        }
        let udp = Some(crate::decode::L4::Udp as u8);
        for (seen, event) in &messages.stream {
            match event {
                // As Zeek's HTTP analyzer, nothing from a connection whose start was missed. TLS
                // hellos count wherever they are (every ClientHello gets its fingerprint).
                StreamEvent::HttpHead(_) | StreamEvent::HttpBodyEnd(_) => {
                    if partial.binary_search(&seen.row).is_err() {
                        self.http_pairing.event(seen, event, it);
                    }
                }
                StreamEvent::Closed | StreamEvent::Reset => {
                    // As Zeek at connection_state_remove: what is still open is logged, and the
                    // connection's state goes (bounded by connections open at once, not by
                    // every connection of the capture).
                    self.http_pairing.close(seen.flow_id);
                    self.tls_sessions.close(seen.flow_id);
                }
                _ => self.tls_sessions.event(seen, event, seen.l4 == udp),
            }
        }
        for t in self.http_pairing.drain_done() {
            self.http.push(&t, it);
        }
        for t in self.tls_sessions.drain_done() {
            self.tls.push(&t, it);
        }
    }

    /// The rows finished so far, as tables (a live window's chunk; rows do not yet take their
    /// flow's view). Transactions still open stay for later chunks.
    pub(crate) fn take_finished(&mut self, file_code: u32) -> Result<TransactionTables> {
        Ok(TransactionTables {
            dns: std::mem::take(&mut self.dns).into_dataframe(file_code)?,
            http: std::mem::take(&mut self.http).into_dataframe(file_code)?,
            tls: std::mem::take(&mut self.tls).into_dataframe(file_code)?,
        })
    }

    /// Close every transaction still open (queries never answered, requests with no reply,
    /// handshakes cut short), as at the end of a capture; [`Transactions::take_finished`] then
    /// gives them.
    pub(crate) fn close_all(&mut self, it: &mut Interner) {
        for t in std::mem::take(&mut self.dns_pairing).finish_all() {
            self.dns.push(&t, it);
        }
        for t in std::mem::take(&mut self.http_pairing).finish_all() {
            self.http.push(&t, it);
        }
        for t in std::mem::take(&mut self.tls_sessions).finish_all() {
            self.tls.push(&t, it);
        }
    }

    /// The tables, once every chunk was added, rows in time order, each row with its flow's row
    /// (still without their flow's view: see [`Unviewed::with_flows`]).
    pub(crate) fn finish(self, it: &mut Interner, file_code: u32) -> Result<Unviewed> {
        let Transactions {
            dns_pairing,
            mut dns,
            http_pairing,
            mut http,
            tls_sessions,
            mut tls,
            ..
        } = self;
        for t in dns_pairing.finish_all() {
            dns.push(&t, it);
        }
        for t in http_pairing.finish_all() {
            http.push(&t, it);
        }
        for t in tls_sessions.finish_all() {
            tls.push(&t, it);
        }
        // In time order now: this runs while the flow table is made; the flows' view then keeps
        // the order.
        let mut flow_rows = [dns.take_flow_rows(), http.take_flow_rows(), tls.take_flow_rows()];
        let [d, h, t] = &mut flow_rows;
        let tables = TransactionTables {
            dns: in_time_order_with(dns.into_dataframe(file_code)?, d)?,
            http: in_time_order_with(http.into_dataframe(file_code)?, h)?,
            tls: in_time_order_with(tls.into_dataframe(file_code)?, t)?,
        };
        Ok(Unviewed { tables, flow_rows })
    }
}

/// A decode's transaction tables before their rows take their flow's view, with each row's
/// flow row (dns, http, tls).
pub(crate) struct Unviewed {
    tables: TransactionTables,
    flow_rows: [Vec<u32>; 3],
}

impl Unviewed {
    /// Each row takes its flow's view (its originator as client, its Community ID), found by its
    /// flow row: no map from flow ids to rows (making and reading one took 0.1 s of the 10M
    /// load, after decoding, on one core).
    pub(crate) fn with_flows(self, flows: &DataFrame) -> Result<TransactionTables> {
        let views = FlowViews::by_row(flows)?;
        let Unviewed { tables, flow_rows } = self;
        let [d, h, t] = &flow_rows;
        let TransactionTables { dns, http, tls } = tables;
        // The dns table (most of the rows) on a thread of its own: this runs after decoding,
        // with the other core idle.
        let (dns, rest) = std::thread::scope(|s| {
            let dns = s.spawn(|| flow_view_at(dns, &views, d));
            let rest = flow_view_at(http, &views, h).and_then(|http| Ok((http, flow_view_at(tls, &views, t)?)));
            let dns = dns
                .join()
                .unwrap_or(Err(Error::Internal("the dns table's thread panicked")));
            (dns, rest)
        });
        let (http, tls) = rest?;
        Ok(TransactionTables { dns: dns?, http, tls })
    }
}

/// The packing thread: chunks in file order into the packet table.
fn pack_chunks(rx: Receiver<(DataFrame, BooleanChunked)>, mut table: PacketStoreBuilder) -> Result<PacketStoreBuilder> {
    for (df, events) in rx {
        table.push_with_events(&df, &events)?;
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::flow_view::flow_view;
    use crate::table::schema::tcol;

    /// A decode gives each transaction row its flow's view by the flow row the collector
    /// noted; looked up again by flow id, every row must come out the same (a wrong row would
    /// swap endpoints or take another flow's Community ID).
    #[test]
    fn flow_rows_from_the_decode_give_the_view_flow_ids_give() {
        let mut files = vec![crate::testdata::sample()];
        files.extend(crate::testdata::shared_capture_files());
        let opts = LoadOptions::uncached(2);
        let mut rows = 0;
        for file in files {
            let Ok(d) = CaptureFile::stat(&file).and_then(|c| decode_file(&c, &opts)) else {
                continue;
            };
            let views = FlowViews::of(&d.flows).unwrap();
            for table in [&d.tx.dns, &d.tx.http, &d.tx.tls] {
                let again = flow_view(table.clone(), &views).unwrap();
                for c in table.get_column_names() {
                    let (x, y) = (table.column(c).unwrap(), again.column(c).unwrap());
                    assert!(x.equals_missing(y), "{}: {c}: {x:?} vs {y:?}", file.display());
                }
                rows += table.column(tcol::COMMUNITY_ID).unwrap().len()
                    - table.column(tcol::COMMUNITY_ID).unwrap().null_count();
            }
        }
        assert!(rows > 100, "transaction rows with a Community ID: {rows}");
    }

    /// The transaction tables' lists of text (DNS answers, TLS names) come back from the cache as
    /// written, read whole, scanned and column by column, also when streamed in chunks that cut
    /// through the lists.
    #[test]
    fn lists_of_text_round_trip_as_codes() {
        let sample = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/captures/sample.pcap"));
        let capture = crate::table::catalog::CaptureFile::stat(sample).unwrap();
        let decoded = decode_file(&capture, &LoadOptions::uncached(1)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for (df, table, list) in [
            (&decoded.tx.dns, cache::Table::Dns, crate::table::schema::dcol::ANSWERS),
            (&decoded.tx.tls, cache::Table::Tls, "client_versions"),
        ] {
            let answers = df.column(list).unwrap().list().unwrap().get_inner();
            assert!(!answers.is_empty(), "{table:?}: the sample has no {list} to round-trip");
            let path = dir.path().join(format!("{table:?}.parquet"));
            let mut w = cache::CacheWriter::create(&path, table).unwrap().with_row_group(7);
            for off in (0..df.height()).step_by(5) {
                w.push(&df.slice(off as i64, 5)).unwrap();
            }
            w.finish().unwrap();
            let back = cache::read(&path, table).unwrap();
            assert!(df.equals_missing(&back), "{table:?} read whole");
            let scanned = cache::scan(&path, table).unwrap().collect().unwrap();
            assert!(df.equals_missing(&scanned), "{table:?} scanned");
            let reader = cache::ColumnReader::open(&path, table).unwrap();
            let one = reader.read(&[list.into()]).unwrap();
            assert!(
                one[0].equals_missing(df.column(list).unwrap()),
                "{table:?} {list} read alone"
            );
        }
    }
}
