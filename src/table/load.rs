//! load: a capture's tables, ready for queries: from the Parquet cache while the capture is
//! unchanged, else decoded ([`crate::table::pipeline`]) and cached for next time. The packet
//! table is in memory after a decode, or scanned column by column from the cache (a 10M-packet
//! capture is never read whole); the flow table and the event rows likewise.
//!
//! The analyze suite (and `run` / `check` of scripts that never call `packets()`) needs only the
//! event rows, the flows and the per-stack counts, so a decode for them keeps just those
//! ([`Keep::Events`]): packing the whole table was a sixth of a load's CPU (the 1M suite's peak
//! fell from 151 to 130 MiB). A script that reaches the packets anyway gets them: the table is
//! loaded the first time it is asked for, from the cache the decode wrote or by decoding again.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::table::cache;
use crate::table::catalog::{CacheEntry, CaptureFile, CaptureMeta};
use crate::table::flow;
use crate::table::kept_scan::KeptScan;
use crate::table::packet_store::PacketStore;
use crate::table::pipeline::{CacheSink, Decoded, Segment, decode_into};
use crate::table::schema::unavailable;
use crate::table::stacks::{stacks_of, stacks_table};
// How to load and what to keep are the pipeline's options; loading is where callers name them.
pub use crate::table::pipeline::{Keep, LoadOptions};

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
    /// The segment the events came from (its packets are the ones to load), if any.
    segment: Option<Segment>,
    table: std::sync::OnceLock<Result<PacketTable>>,
}

impl Deferred {
    fn get(&self) -> std::result::Result<&PacketTable, &Error> {
        self.table
            .get_or_init(|| {
                let opts = LoadOptions {
                    progress: false,
                    ..self.opts.clone()
                };
                load_part(&self.capture, &opts, Keep::All, self.segment).map(|(l, _)| l.packets)
            })
            .as_ref()
    }
}

/// Scan a cached table; checked when loaded, so a file removed since then reads as an error.
fn scan_or_error(path: &std::path::Path, table: cache::Table) -> LazyFrame {
    cache::scan(path, table).unwrap_or_else(|e| unavailable(format!("cache unreadable: {e}")))
}

impl PacketTable {
    pub fn lazy(&self) -> LazyFrame {
        match self {
            PacketTable::Memory(store) => store.lazy(),
            PacketTable::Cached { path, .. } => scan_or_error(path, cache::Table::Packets),
            PacketTable::EventsOnly { whole, .. } => match whole.get() {
                Ok(t) => t.lazy(),
                Err(e) => unavailable(format!("packet table unavailable: {e}")),
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
            PacketTable::EventsOnly { whole, .. } => whole
                .get()
                .map_err(|e| Error::Unavailable(e.to_string()))?
                .to_dataframe(),
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
    flows: Arc<Mutex<Option<SideTable>>>,
    /// The DNS, HTTP and TLS transactions.
    dns: SideTable,
    http: SideTable,
    tls: SideTable,
}

/// A table beside the packets (the flows, a transaction table): built with the packets, or its
/// cache file, read column by column as queries ask (and kept, so a suite's queries share each
/// column read).
#[derive(Clone)]
enum SideTable {
    Frame(DataFrame),
    Cached(Arc<KeptScan>),
}

impl SideTable {
    fn lazy(&self) -> LazyFrame {
        match self {
            SideTable::Frame(df) => df.clone().lazy(),
            SideTable::Cached(scan) => scan.lazy(),
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
            dns: self.dns.clone(),
            http: self.http.clone(),
            tls: self.tls.clone(),
        }
    }

    /// The TLS and QUIC handshakes (see [`crate::table::schema::TLS_SCHEMA`]).
    pub fn tls(&self) -> LazyFrame {
        self.tls.lazy()
    }

    /// The HTTP transactions (see [`crate::table::schema::HTTP_SCHEMA`]).
    pub fn http(&self) -> LazyFrame {
        self.http.lazy()
    }

    /// The DNS transactions (see [`crate::table::schema::DNS_SCHEMA`]).
    pub fn dns(&self) -> LazyFrame {
        self.dns.lazy()
    }

    /// Frames and bytes per protocol stack: counted while decoding (kept in the cache's meta
    /// file), or counted from the packets when a table comes without them.
    pub fn stacks(&self) -> Result<LazyFrame> {
        let counts = match &self.packets {
            PacketTable::Memory(store) | PacketTable::EventsOnly { events: store, .. } => Some(store.stack_counts()),
            PacketTable::Cached { .. } => self.meta.as_ref().and_then(|m| m.stacks.as_deref()),
        };
        match counts {
            Some(c) => Ok(stacks_table(&self.capture.name, c)?.lazy()),
            None => Ok(stacks_of(self.packets.lazy())),
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

    fn flow_table(&self) -> Result<SideTable> {
        if let Some(entry) = &self.cache
            && let Ok(file) = cache::ColumnReader::open(&entry.flows, cache::Table::Flows)
        {
            return Ok(SideTable::Cached(KeptScan::cached("flows", &self.capture.name, file)));
        }
        // The flows file went missing since the load: make them from the packets' columns (the
        // services confirmed from payloads are then unknown).
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
        Ok(SideTable::Frame(df))
    }
}

/// Load one capture: from the cache when it is fresh, else decode (and fill the cache).
pub fn load(capture: &CaptureFile, opts: &LoadOptions) -> Result<Loaded> {
    load_keeping(capture, opts, Keep::All)
}

/// [`load`], keeping only what `keep` says when it decodes.
pub fn load_keeping(capture: &CaptureFile, opts: &LoadOptions, keep: Keep) -> Result<Loaded> {
    load_part(capture, opts, keep, None).map(|(l, _)| l)
}

/// One segment of a capture, decoded on its own (never from or into the cache, which holds
/// whole captures). Its tables are the segment's: a flow that crosses its ends is cut there.
/// Also says whether the file ended within the segment.
pub fn load_segment(capture: &CaptureFile, opts: &LoadOptions, keep: Keep, segment: Segment) -> Result<(Loaded, bool)> {
    load_part(capture, opts, keep, Some(segment))
}

fn load_part(
    capture: &CaptureFile,
    opts: &LoadOptions,
    keep: Keep,
    segment: Option<Segment>,
) -> Result<(Loaded, bool)> {
    let started = Instant::now();
    let cache = if opts.use_cache && segment.is_none() {
        CacheEntry::for_capture(&opts.cache_dir, capture, opts.community_id_seed).ok()
    } else {
        None
    };
    // A cache entry is used whole or not at all: the flows hold what only a decode knows (the
    // services confirmed from payloads), so they cannot be made again from the cached packets.
    if let Some(entry) = &cache
        && let Some(rows) = cache::rows(&entry.packets, cache::Table::Packets)
        && let Ok(events) = cache::ColumnReader::open(&entry.events, cache::Table::Packets)
        && cache::ColumnReader::open(&entry.flows, cache::Table::Flows).is_ok()
        && let Ok(dns) = cache::ColumnReader::open(&entry.dns, cache::Table::Dns)
        && let Ok(http) = cache::ColumnReader::open(&entry.http, cache::Table::Http)
        && let Ok(tls) = cache::ColumnReader::open(&entry.tls, cache::Table::Tls)
    {
        let meta = CaptureMeta::read(&entry.meta).filter(|m| m.packets == rows as u64);
        let loaded = Loaded {
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
            dns: SideTable::Cached(KeptScan::cached("dns", &capture.name, dns)),
            http: SideTable::Cached(KeptScan::cached("http", &capture.name, http)),
            tls: SideTable::Cached(KeptScan::cached("tls", &capture.name, tls)),
        };
        return Ok((loaded, true));
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
            tx,
            mut meta,
            warning,
            ended,
        },
        sink,
    ) = decode_into(capture, opts, sink, keep, segment)?;
    meta.stacks = Some(packets.stack_counts().to_vec());
    // A capture read only in part is not cached (dropping the writer removes its file).
    if let (Some(entry), Some(sink)) = (&cache, sink)
        && warning.is_none()
    {
        // The flows and events go first: a packets file is only trusted when they are there too.
        let written = cache::write(&flows, &entry.flows, cache::Table::Flows)
            .and_then(|_| cache::write(&tx.dns, &entry.dns, cache::Table::Dns))
            .and_then(|_| cache::write(&tx.http, &entry.http, cache::Table::Http))
            .and_then(|_| cache::write(&tx.tls, &entry.tls, cache::Table::Tls))
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
                segment,
                table: std::sync::OnceLock::new(),
            }),
        }
    };
    let loaded = Loaded {
        capture: capture.clone(),
        packets,
        from_cache: false,
        elapsed: started.elapsed(),
        warning,
        cache,
        meta: Some(meta),
        flows: Arc::new(Mutex::new(Some(SideTable::Frame(flows)))),
        dns: SideTable::Frame(tx.dns),
        http: SideTable::Frame(tx.http),
        tls: SideTable::Frame(tx.tls),
    };
    Ok((loaded, ended))
}

/// Scan a capture's facts for the listing, from the cache when present.
pub fn capture_meta(capture: &CaptureFile, opts: &LoadOptions) -> Result<CaptureMeta> {
    let entry = if opts.use_cache {
        CacheEntry::for_capture(&opts.cache_dir, capture, opts.community_id_seed).ok()
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
            community_id_seed: 0,
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
        let entry = CacheEntry::for_capture(dir.path(), &cap, 0).unwrap();
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
        for name in ["wikipedia.pcap", "nmap-vsn.pcap", "http_espn.pcapng", "empty.pcap"] {
            files.extend(crate::testdata::shared(&format!("captures/{name}")));
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
