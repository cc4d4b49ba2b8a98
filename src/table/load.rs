//! load: capture file -> packet table, using every core. One thread reads records with libpcap
//! into batches; worker threads decode batches into column chunks; the calling thread puts the
//! chunks back in file order, finishes IP reassembly and keeps them as one packet table
//! (`table`); a writer thread streams the same chunks into the Parquet cache as they come.
//! Decoded tables are cached as Parquet and reused while the capture is unchanged.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::*;

use crate::capture::{CaptureReader, RawRecord};
use crate::decode::Decoder;
use crate::decode::order::InOrder;
use crate::error::{Error, Result};
use crate::table::cache;
use crate::table::catalog::{CacheEntry, CaptureFile, CaptureMeta};
use crate::table::flow::{self, FlowBuilder};
use crate::table::interner::Interner;
use crate::table::kept_scan::KeptScan;
use crate::table::packet_columns::PacketColumns;
use crate::table::packet_store::{PacketStore, PacketStoreBuilder};
use crate::table::schema::col;

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

/// A packet table: in memory after decoding, or a Parquet file in the cache that each query
/// scans for just the columns it uses (a 10M-packet capture is never read whole).
#[derive(Clone)]
pub enum PacketTable {
    Memory(PacketStore),
    Cached {
        path: PathBuf,
        /// The cached event rows, read column by column as queries ask (and kept).
        events: Arc<KeptScan>,
        rows: usize,
    },
    /// The event rows only ([`Keep::Events`]); the whole table is loaded on first use.
    EventsOnly {
        events: PacketStore,
        whole: Arc<Deferred>,
    },
}

/// A capture's whole packet table, loaded the first time it is asked for.
pub struct Deferred {
    capture: CaptureFile,
    opts: LoadOptions,
    table: std::sync::OnceLock<std::result::Result<PacketTable, String>>,
}

impl Deferred {
    fn get(&self) -> std::result::Result<&PacketTable, &String> {
        self.table
            .get_or_init(|| {
                let opts = LoadOptions {
                    progress: false,
                    ..self.opts.clone()
                };
                load(&self.capture, &opts).map(|l| l.packets).map_err(|e| e.to_string())
            })
            .as_ref()
    }
}

/// Scan a cached table; checked when loaded, so a file removed since then reads as an error.
fn scan_or_error(path: &std::path::Path, table: cache::Table) -> LazyFrame {
    cache::scan(path, table).unwrap_or_else(|e| crate::table::schema::unavailable(format!("cache unreadable: {e}")))
}

impl PacketTable {
    pub fn lazy(&self) -> LazyFrame {
        match self {
            PacketTable::Memory(store) => store.lazy(),
            PacketTable::Cached { path, .. } => scan_or_error(path, cache::Table::Packets),
            PacketTable::EventsOnly { whole, .. } => match whole.get() {
                Ok(t) => t.lazy(),
                Err(e) => crate::table::schema::unavailable(format!("packet table unavailable: {e}")),
            },
        }
    }

    /// The event rows (see [`crate::table::events::event_mask`]) with every packet column.
    pub fn events(&self) -> LazyFrame {
        match self {
            PacketTable::Memory(store) | PacketTable::EventsOnly { events: store, .. } => store.events(),
            PacketTable::Cached { events, .. } => events.lazy(),
        }
    }

    pub fn height(&self) -> usize {
        match self {
            PacketTable::Memory(store) | PacketTable::EventsOnly { events: store, .. } => store.height(),
            PacketTable::Cached { rows, .. } => *rows,
        }
    }

    /// The whole table in memory.
    pub fn to_dataframe(&self) -> Result<DataFrame> {
        match self {
            PacketTable::Memory(store) => store.to_dataframe(),
            PacketTable::Cached { path, .. } => cache::read(path, cache::Table::Packets),
            PacketTable::EventsOnly { whole, .. } => {
                whole.get().map_err(|e| Error::Unavailable(e.clone()))?.to_dataframe()
            }
        }
    }
}

/// A capture's packet table, and where it came from.
pub struct Loaded {
    pub capture: CaptureFile,
    pub packets: PacketTable,
    pub from_cache: bool,
    pub elapsed: Duration,
    /// Set when the file could only be read in part (e.g. it ends inside a record): the packets
    /// before the problem are kept, and this says what happened.
    pub warning: Option<String>,
    pub cache: Option<CacheEntry>,
    /// Packets, bytes and time span, when known without a scan (decoded now, or the cache's
    /// meta file when it agrees with the table's row count).
    pub meta: Option<CaptureMeta>,
    /// The flow table, once known (a fresh decode sets it; else the first query that asks).
    /// Shared by shallow copies.
    flows: Arc<Mutex<Option<FlowTable>>>,
}

/// A capture's flow table: built with the packets, or the cache's flows file, read column by
/// column as queries ask (and kept, so a suite's queries share each column read).
#[derive(Clone)]
enum FlowTable {
    Frame(DataFrame),
    Cached(Arc<KeptScan>),
}

impl FlowTable {
    fn lazy(&self) -> LazyFrame {
        match self {
            FlowTable::Frame(df) => df.clone().lazy(),
            FlowTable::Cached(scan) => scan.lazy(),
        }
    }
}

impl Loaded {
    /// A copy sharing the same column buffers (cheap: Polars columns are reference counted).
    pub fn clone_shallow(&self) -> Loaded {
        Loaded {
            capture: self.capture.clone(),
            packets: self.packets.clone(),
            from_cache: self.from_cache,
            elapsed: self.elapsed,
            warning: self.warning.clone(),
            cache: self.cache.clone(),
            meta: self.meta.clone(),
            flows: self.flows.clone(),
        }
    }

    /// Frames and bytes per protocol stack: counted while decoding (kept in the cache's meta
    /// file), or counted from the packets when a table comes without them.
    pub fn stacks(&self) -> Result<LazyFrame> {
        let counts = match &self.packets {
            PacketTable::Memory(store) | PacketTable::EventsOnly { events: store, .. } => Some(store.stack_counts()),
            PacketTable::Cached { .. } => self.meta.as_ref().and_then(|m| m.stacks.as_deref()),
        };
        match counts {
            Some(c) => Ok(crate::table::stacks::stacks_frame(&self.capture.name, c)?.lazy()),
            None => Ok(crate::table::stacks::stacks_of(self.packets.lazy())),
        }
    }

    /// The flow table (cached next to the packets when the cache is on).
    pub fn flows(&self) -> Result<LazyFrame> {
        let mut slot = self
            .flows
            .lock()
            .map_err(|_| Error::Internal("flow table lock poisoned"))?;
        if let Some(t) = slot.as_ref() {
            return Ok(t.lazy());
        }
        let table = self.flow_table()?;
        let lf = table.lazy();
        *slot = Some(table);
        Ok(lf)
    }

    fn flow_table(&self) -> Result<FlowTable> {
        if let Some(entry) = &self.cache
            && let Ok(file) = cache::ColumnReader::open(&entry.flows, cache::Table::Flows)
        {
            return Ok(FlowTable::Cached(KeptScan::cached("flows", &self.capture.name, file)));
        }
        // A cached packet table without its flows: read just the columns flows are made of.
        let inputs = self
            .packets
            .lazy()
            .select(flow::INPUTS.iter().map(|c| col(*c)).collect::<Vec<_>>())
            .collect()?;
        let df = flow::flows_of(&inputs)?;
        if let Some(entry) = &self.cache
            && self.warning.is_none()
        {
            let _ = cache::write(&df, &entry.flows, cache::Table::Flows);
        }
        Ok(FlowTable::Frame(df))
    }
}

/// Load one capture: from the cache when it is fresh, else decode (and fill the cache).
pub fn load(capture: &CaptureFile, opts: &LoadOptions) -> Result<Loaded> {
    load_keeping(capture, opts, Keep::All)
}

/// [`load`], keeping only what `keep` says when it decodes.
pub fn load_keeping(capture: &CaptureFile, opts: &LoadOptions, keep: Keep) -> Result<Loaded> {
    let started = Instant::now();
    let cache = if opts.use_cache {
        CacheEntry::for_capture(&opts.cache_dir, capture).ok()
    } else {
        None
    };
    if let Some(entry) = &cache
        && let Some(rows) = cache::rows(&entry.packets, cache::Table::Packets)
        && let Ok(events) = cache::ColumnReader::open(&entry.events, cache::Table::Packets)
    {
        let meta = CaptureMeta::read(&entry.meta).filter(|m| m.packets == rows as u64);
        return Ok(Loaded {
            capture: capture.clone(),
            packets: PacketTable::Cached {
                path: entry.packets.clone(),
                events: KeptScan::cached("events", &capture.name, events),
                rows,
            },
            from_cache: true,
            elapsed: started.elapsed(),
            warning: None,
            cache,
            meta,
            flows: Arc::default(),
        });
    }
    // A cache that cannot be written only costs speed next time: say so, don't fail.
    let sink = match &cache {
        Some(entry) => match std::fs::create_dir_all(&opts.cache_dir)
            .map_err(|e| Error::io(&opts.cache_dir, e))
            .and_then(|_| CacheSink::create(entry))
        {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!("netql: warning: cache not written: {e}");
                None
            }
        },
        None => None,
    };
    let (
        Decoded {
            packets,
            flows,
            mut meta,
            warning,
        },
        sink,
    ) = decode_into(capture, opts, sink, keep)?;
    meta.stacks = Some(packets.stack_counts().to_vec());
    // A capture read only in part is not cached (dropping the writer removes its file).
    if let (Some(entry), Some(sink)) = (&cache, sink)
        && warning.is_none()
    {
        // The flows and events go first: a packets file is only trusted when they are there too.
        let written = cache::write(&flows, &entry.flows, cache::Table::Flows)
            .and_then(|_| sink.events.finish())
            .and_then(|_| sink.packets.finish())
            .and_then(|_| meta.write(&entry.meta));
        if let Err(e) = written {
            eprintln!("netql: warning: cache not written: {e}");
        }
    }
    let packets = if packets.is_whole() {
        PacketTable::Memory(packets)
    } else {
        PacketTable::EventsOnly {
            events: packets,
            whole: Arc::new(Deferred {
                capture: capture.clone(),
                opts: opts.clone(),
                table: std::sync::OnceLock::new(),
            }),
        }
    };
    Ok(Loaded {
        capture: capture.clone(),
        packets,
        from_cache: false,
        elapsed: started.elapsed(),
        warning,
        cache,
        meta: Some(meta),
        flows: Arc::new(Mutex::new(Some(FlowTable::Frame(flows)))),
    })
}

/// Packets, bytes, time span and link types of a packet table (or a chunk of one). Plain loops over the column
/// buffers: a 10M-row table took 0.1 s through casts and a hashed unique, now a few ms.
pub fn meta_of(df: &DataFrame) -> CaptureMeta {
    let packets = df.height() as u64;
    let physical = |name: &str| {
        df.column(name)
            .ok()
            .map(|c| c.as_materialized_series().to_physical_repr())
    };
    let bytes = physical(col::WIRE_LEN)
        .and_then(|s| {
            // Never null: every record has a wire length.
            let ca = s.u32().ok()?;
            Some(
                ca.downcast_iter()
                    .flat_map(|a| a.values().iter())
                    .map(|&v| u64::from(v))
                    .sum(),
            )
        })
        .unwrap_or(0);
    let (first_ts, last_ts) = physical(col::TS)
        .and_then(|s| s.i64().ok().map(|t| (t.min(), t.max())))
        .unwrap_or((None, None));
    // Link types in order of first appearance: the first row of each code, read as text.
    let mut link_types = Vec::new();
    if let (Ok(column), Some(codes)) = (df.column(col::LINK_TYPE), physical(col::LINK_TYPE))
        && let Ok(codes) = codes.u8()
    {
        let mut seen = [false; 256];
        for (row, code) in codes.iter().enumerate() {
            if let Some(c) = code
                && !std::mem::replace(&mut seen[c as usize], true)
                && let Ok(v) = column.get(row)
                && let Some(name) = v.get_str()
            {
                link_types.push(name.to_string());
            }
        }
    }
    CaptureMeta {
        packets,
        bytes,
        first_ts,
        last_ts,
        link_types,
        stacks: None,
    }
}

/// The cache files a decode streams into: the packet table and its event rows.
struct CacheSink {
    packets: cache::CacheWriter,
    events: cache::CacheWriter,
}

impl CacheSink {
    fn create(entry: &CacheEntry) -> Result<CacheSink> {
        Ok(CacheSink {
            packets: cache::CacheWriter::create(&entry.packets, cache::Table::Packets)?,
            events: cache::CacheWriter::create(&entry.events, cache::Table::Packets)?,
        })
    }

    /// A chunk of the packet table and which of its rows are events.
    fn push(&mut self, chunk: &DataFrame, events: &BooleanChunked) -> Result<()> {
        self.packets.push(chunk)?;
        self.events.push(&crate::table::events::filter_here(chunk, events)?)
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
    /// Packets, bytes, time span and link types (no stack counts: see `packets`).
    pub meta: CaptureMeta,
    /// Set when the file could only be read in part: the packets before the problem are kept.
    pub warning: Option<String>,
}

/// Decode a capture file into its packet and flow tables, without the cache.
pub fn decode_file(capture: &CaptureFile, opts: &LoadOptions) -> Result<Decoded> {
    decode_into(capture, opts, None, Keep::All).map(|(d, _)| d)
}

/// Decode, streaming each finished chunk of packets into `sink` (a cache file) on its own thread
/// as it is made. The sink comes back unless writing it failed (that is reported, not fatal).
fn decode_into(
    capture: &CaptureFile,
    opts: &LoadOptions,
    sink: Option<CacheSink>,
    keep: Keep,
) -> Result<(Decoded, Option<CacheSink>)> {
    let started = std::time::Instant::now();
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
        };
        let packer = s.spawn(move || pack_chunks(pack_rx, table));
        let collector = s.spawn(move || collect(out_rx, pool_tx, file_code, chunk_tx, pack_tx));
        let read_result = read_batches(&mut reader, batch_tx, pool_rx, &bar);
        let collected = collector
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("a decoder thread panicked")));
        let packed = packer
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("the packing thread panicked")));
        let sink = writer.and_then(|w| w.join().ok().flatten());
        (
            read_result,
            packed.and_then(|p| collected.map(|(f, m)| (p, f, m))),
            sink,
        )
    });
    bar.finish_and_clear();
    let (packets, flows, meta) = collected?;
    let decoded = started.elapsed();
    let packets = packets.finish()?;
    let packed = started.elapsed();
    let flows = flows.finish()?;
    if std::env::var_os("NETQL_DEBUG").is_some() {
        eprintln!(
            "load: {}: decoded in {decoded:.2?}, packet table done at {packed:.2?}, flow table at {:.2?}",
            capture.name,
            started.elapsed()
        );
    }
    let warning = match read_result {
        Ok(n) => {
            debug_assert_eq!(packets.height() as u64, n);
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
            meta,
            warning,
        },
        sink,
    ))
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
) -> Result<u64> {
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
    let result = reader.for_each(|rec| {
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
    result
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
/// per chunk and feeds it to the flow table.
fn collect(
    rx: Receiver<(PacketColumns, Batch)>,
    pool: std::sync::mpsc::Sender<Batch>,
    file_code: u32,
    sink: Option<SyncSender<(DataFrame, BooleanChunked)>>,
    table: SyncSender<(DataFrame, BooleanChunked)>,
) -> Result<(FlowBuilder, CaptureMeta)> {
    let mut pending: BTreeMap<usize, (PacketColumns, Batch)> = BTreeMap::new();
    let mut next = 0usize;
    let mut order = InOrder::default();
    let mut interner = Interner::default();
    let mut flows = FlowBuilder::default();
    let mut meta = meta_of(&DataFrame::empty());
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
            let df = cols.into_frame(file_code)?;
            flows.add(&df)?;
            meta.extend(meta_of(&df));
            let events = crate::table::events::event_mask(&df)?;
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

/// The packing thread: chunks in file order into the packet table.
fn pack_chunks(rx: Receiver<(DataFrame, BooleanChunked)>, mut table: PacketStoreBuilder) -> Result<PacketStoreBuilder> {
    for (df, events) in rx {
        table.push_with_events(&df, &events)?;
    }
    Ok(table)
}

/// Scan a capture's facts for the listing, from the cache when present.
pub fn capture_meta(capture: &CaptureFile, opts: &LoadOptions) -> Result<CaptureMeta> {
    let entry = if opts.use_cache {
        CacheEntry::for_capture(&opts.cache_dir, capture).ok()
    } else {
        None
    };
    if let Some(e) = &entry
        && let Some(m) = CaptureMeta::read(&e.meta)
    {
        return Ok(m);
    }
    let m = CaptureMeta::scan(&capture.path)?;
    if let Some(e) = &entry {
        let _ = m.write(&e.meta);
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(cache_dir: &std::path::Path, use_cache: bool) -> LoadOptions {
        LoadOptions {
            cache_dir: cache_dir.to_path_buf(),
            use_cache,
            progress: false,
            threads: 2,
        }
    }

    fn collect(lf: LazyFrame) -> DataFrame {
        lf.collect().unwrap()
    }

    /// Two queries that start together and ask for some of the same columns of a cached table
    /// share one read of each (the suite's first two queries do), and get the same values.
    #[test]
    fn queries_side_by_side_share_each_cached_column_read_once() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let cap = CaptureFile::stat(&root.join("captures/sample.pcap")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        load(&cap, &opts(dir.path(), true)).unwrap();
        let entry = CacheEntry::for_capture(dir.path(), &cap).unwrap();
        // Fresh scans, so the two queries race for the first read of each column.
        for _ in 0..20 {
            let reader = cache::ColumnReader::open(&entry.events, cache::Table::Packets).unwrap();
            let scan = KeptScan::cached("events", &cap.name, reader);
            let start = std::sync::Barrier::new(2);
            let query = |cols: &[&str]| {
                start.wait();
                let cols: Vec<Expr> = cols.iter().map(|c| col(*c)).collect();
                collect(scan.lazy().select(cols))
            };
            let (a, b) = std::thread::scope(|s| {
                let a = s.spawn(|| query(&["frame", "src_ip", "ts"]));
                let b = query(&["src_ip", "frame", "dns_qname", "file"]);
                (a.join().unwrap(), b)
            });
            let values = |df: &DataFrame| {
                df.column("frame")
                    .unwrap()
                    .u32()
                    .unwrap()
                    .cont_slice()
                    .unwrap()
                    .as_ptr()
            };
            assert_eq!(values(&a), values(&b), "each query read the frame column itself");
            assert!(a.column("src_ip").unwrap().equals_missing(b.column("src_ip").unwrap()));
            // The file column is the capture's name on every row, as when decoded.
            let file = b.column("file").unwrap().cast(&DataType::String).unwrap();
            assert!(file.str().unwrap().iter().all(|f| f == Some(cap.name.as_str())));
            assert_eq!(file.len(), a.height());
        }
    }

    /// A load that keeps only the event rows gives the same events, stack counts, flows and
    /// meta as a whole load, and still gives the whole packet table when asked (decoded again,
    /// or read from the cache the first load wrote).
    #[test]
    fn keeping_only_events_loses_nothing() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![root.join("captures/sample.pcap")];
        let shared = root.join("../shared/captures");
        for name in ["wikipedia.pcap", "nmap-vsn.pcap", "http_espn.pcapng", "empty.pcap"] {
            if shared.join(name).is_file() {
                files.push(shared.join(name));
            } else {
                eprintln!("\n*** SKIPPED {name}: ../shared/captures not found ***\n");
            }
        }
        for path in &files {
            let cap = CaptureFile::stat(path).unwrap();
            for use_cache in [false, true] {
                let dir = tempfile::tempdir().unwrap();
                let whole = load(&cap, &opts(dir.path(), false)).unwrap();
                let events = load_keeping(&cap, &opts(dir.path(), use_cache), Keep::Events).unwrap();
                let what = format!("{path:?} (cache {use_cache})");
                assert!(matches!(events.packets, PacketTable::EventsOnly { .. }), "{what}");
                assert!(
                    collect(whole.packets.events()).equals_missing(&collect(events.packets.events())),
                    "{what}: events"
                );
                assert!(
                    collect(whole.stacks().unwrap()).equals_missing(&collect(events.stacks().unwrap())),
                    "{what}: stacks"
                );
                assert!(
                    collect(whole.flows().unwrap()).equals_missing(&collect(events.flows().unwrap())),
                    "{what}: flows"
                );
                assert_eq!(whole.packets.height(), events.packets.height(), "{what}");
                assert_eq!(
                    whole.meta.as_ref().map(|m| m.packets),
                    events.meta.as_ref().map(|m| m.packets),
                    "{what}"
                );
                // Asked for after all: the whole table, from the cache when it was written.
                let all = collect(events.packets.lazy());
                assert!(collect(whole.packets.lazy()).equals_missing(&all), "{what}: packets");
                let PacketTable::EventsOnly { whole: deferred, .. } = &events.packets else {
                    unreachable!()
                };
                let from_cache = matches!(deferred.get(), Ok(PacketTable::Cached { .. }));
                assert_eq!(from_cache, use_cache, "{what}");
            }
        }
    }
}
