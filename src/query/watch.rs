//! watch: detections over live traffic. The capture loop of [`live`] hands every packet here; it
//! is decoded at once into a pending column chunk (one [`Decoder`] and [`Interner`] for the whole
//! session). Every tick the pending chunk becomes a DataFrame — IP reassembly and TCP stream
//! tracking carry their state across ticks, as the loader's do across batches — and goes to the
//! detector thread, which keeps a rolling window of chunks, drops those whose newest packet is
//! older than the window, and runs the selected queries over the window (flows are computed from
//! the window's packets). The capture thread only reads and decodes, so slow queries delay the
//! findings, not the reading: chunks that arrive while the queries run are taken together at the
//! next run. Each finding is reported once, the first time its identity (query, kind, addresses,
//! ports) turns up; see [`finding_key`]. Like `live`, this module never prints and installs no
//! signal handlers: the caller gets [`WatchEvent`]s and decides how to show them.
//!
//! Frame numbers count from 1 over the whole session, so with saving on they are the frame numbers
//! of the saved file; the `file` column names that file (else `live:IFACE`).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use polars::prelude::*;

use crate::capture::RawRecord;
use crate::capture::live::{self, CaptureOptions, CaptureReport, LiveSink, Progress};
use crate::decode::Decoder;
use crate::decode::order::InOrder;
use crate::error::{Error, Result};
use crate::query::analyze::Reported;
use crate::query::bindings::DataSource;
use crate::query::canned::Query;
use crate::query::engine::{FindingOut, Output, Params, ScriptEngine};
use crate::table::interner::Interner;
use crate::table::packet_columns::PacketColumns;
use crate::table::schema::col;

/// The queries `netql watch` runs unless told otherwise.
pub const DEFAULT_QUERIES: &[&str] = &["port_scan", "arp_spoof", "cleartext_credentials"];
/// Bytes of each packet kept for decoding, as the loader keeps (headers and the payload's start).
const KEEP_BYTES: usize = 4096;
/// A finding that is still in the window and has changed (e.g. a scan that grew) is mentioned
/// again at most this often, as a [`WatchEvent::StillActive`].
pub const UPDATE_INTERVAL: Duration = Duration::from_secs(60);

/// What to watch and how.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Interface, filter, duration, snap length, buffer; `out_dir` is where a saved capture goes.
    pub capture: CaptureOptions,
    /// Also write the packets to `capture_YYYYMMDD_HHMMSS.pcap` in `capture.out_dir`.
    pub save: bool,
    /// Packets older than this leave the window the queries see.
    pub window: Duration,
    /// How often the queries run (when packets came or left since the last run).
    pub every: Duration,
    /// The queries with their parameters bound.
    pub queries: Vec<(Query, Params)>,
}

/// What happens during a watch, in order.
#[derive(Debug)]
pub enum WatchEvent<'a> {
    /// The interface is open and filtering (and the saved file exists): packets count from now.
    Started {
        interface: &'a str,
        saving: Option<&'a Path>,
    },
    /// A finding seen for the first time.
    Finding { finding: &'a Reported, detected_at_ns: i64 },
    /// A finding reported earlier, still in the window and changed since it was last shown (at
    /// most once per [`UPDATE_INTERVAL`]).
    StillActive { finding: &'a Reported, first_seen_ns: i64 },
    /// A query failed (or the window could not be built); the others keep running. The same
    /// message from the same query is reported once until it changes.
    Error { query: Option<&'a str>, message: &'a str },
}

/// The result of a watch.
#[derive(Debug, Clone)]
pub struct WatchReport {
    /// What the capture loop did (packets seen, kernel drops, the saved file).
    pub capture: CaptureReport,
    /// Every finding reported, once each, as first reported.
    pub findings: Vec<Reported>,
    /// Error events.
    pub errors: usize,
    /// Query runs.
    pub runs: u64,
}

/// Watch until `opts.capture.duration` passes or `stop` is set; `on_event` sees the start, each
/// new finding and errors as they happen (findings from the detector thread). Capture errors (no
/// such interface, no permission, a filter libpcap rejects) come back as errors before any event.
/// After the stop, the packets not yet looked at get a last run before this returns.
pub fn run_watch(
    opts: &WatchOptions,
    engine: &ScriptEngine,
    stop: &AtomicBool,
    on_event: impl FnMut(WatchEvent<'_>) + Send,
) -> Result<WatchReport> {
    let on_event = Mutex::new(on_event);
    let emit = |e: WatchEvent<'_>| {
        if let Ok(mut f) = on_event.lock() {
            f(e)
        }
    };
    std::thread::scope(|scope| {
        let (tx, rx) = channel::<Chunk>();
        let detector = scope.spawn(|| detect_loop(rx, engine, opts, &emit));
        let mut s = Session {
            decoder: LiveDecoder::new(&format!("live:{}", opts.capture.interface)),
            tx,
            interface: &opts.capture.interface,
            every: opts.every,
            last_tick: Instant::now(),
            started: false,
            emit: &emit,
            errors: 0,
        };
        let capture = live::run_live(&opts.capture, opts.save, stop, &mut s);
        // Whatever arrived since the last tick; then the detector's last run, and its end.
        s.tick();
        let errors = s.errors;
        drop(s);
        let found = detector
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("the detector thread panicked")));
        let capture = capture?;
        let found = found?;
        Ok(WatchReport {
            capture,
            findings: found.findings,
            errors: errors + found.errors,
            runs: found.runs,
        })
    })
}

/// A tick's packets, with the timestamp of the newest one.
type Chunk = (DataFrame, i64);

/// The capture thread's side: decode packets, hand a chunk to the detector every tick.
struct Session<'a, E> {
    decoder: LiveDecoder,
    tx: Sender<Chunk>,
    interface: &'a str,
    every: Duration,
    last_tick: Instant,
    started: bool,
    emit: &'a E,
    errors: usize,
}

impl<E: Fn(WatchEvent<'_>)> Session<'_, E> {
    fn tick(&mut self) {
        self.last_tick = Instant::now();
        match self.decoder.chunk() {
            Ok(Some(chunk)) => {
                // The detector only goes away after this side is done (or if it panicked,
                // which the join reports).
                let _ = self.tx.send(chunk);
            }
            Ok(None) => {}
            Err(e) => {
                self.errors += 1;
                let message = format!("cannot build the packet table: {e}");
                (self.emit)(WatchEvent::Error {
                    query: None,
                    message: &message,
                });
            }
        }
    }
}

impl<E: Fn(WatchEvent<'_>)> LiveSink for Session<'_, E> {
    fn packet(&mut self, rec: &RawRecord<'_>) {
        self.decoder.push(rec);
    }

    fn progress(&mut self, p: &Progress) {
        if !self.started {
            self.started = true;
            let saving = (!p.current_file.as_os_str().is_empty()).then_some(p.current_file.as_path());
            if let Some(path) = saving {
                self.decoder.set_file(&crate::table::catalog::file_name(path));
            }
            (self.emit)(WatchEvent::Started {
                interface: self.interface,
                saving,
            });
            self.last_tick = Instant::now();
            return;
        }
        if self.last_tick.elapsed() >= self.every {
            self.tick();
        }
    }
}

/// What the detector thread reports at the end.
struct Found {
    findings: Vec<Reported>,
    errors: usize,
    runs: u64,
}

/// The detector thread: take the chunks (all that are queued), drop what left the window, run
/// the queries when the window changed. Ends when the capture side hangs up, after a last run.
fn detect_loop(
    rx: Receiver<Chunk>,
    engine: &ScriptEngine,
    opts: &WatchOptions,
    emit: &impl Fn(WatchEvent<'_>),
) -> Result<Found> {
    let mut window = RollingWindow::new(opts.window);
    let mut detector = Detector::new(opts.queries.clone(), opts.window);
    let mut found = Found {
        findings: Vec::new(),
        errors: 0,
        runs: 0,
    };
    let mut open = true;
    while open {
        let mut changed = match rx.recv_timeout(opts.every) {
            Ok(c) => window.add(c),
            // Nothing new; packets may still leave the window.
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => {
                open = false;
                false
            }
        };
        // Chunks that queued up while the last run was busy: one run covers them all.
        loop {
            match rx.try_recv() {
                Ok(c) => changed |= window.add(c),
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        let now = now_ns();
        changed |= window.expire(now);
        if !changed || window.is_empty() {
            continue;
        }
        let data: Arc<dyn DataSource> = match window.data() {
            Ok(d) => Arc::new(d),
            Err(e) => {
                found.errors += 1;
                let message = format!("cannot build the packet window: {e}");
                emit(WatchEvent::Error {
                    query: None,
                    message: &message,
                });
                continue;
            }
        };
        found.runs += 1;
        let r = detector.run(engine, data, now);
        for (query, message) in &r.errors {
            found.errors += 1;
            emit(WatchEvent::Error {
                query: Some(query),
                message,
            });
        }
        for f in r.new {
            emit(WatchEvent::Finding {
                finding: &f,
                detected_at_ns: now,
            });
            found.findings.push(f);
        }
        for (f, first_seen_ns) in &r.still_active {
            emit(WatchEvent::StillActive {
                finding: f,
                first_seen_ns: *first_seen_ns,
            });
        }
    }
    Ok(found)
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Decoding and the rolling window

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
        let df = cols.into_frame(self.file_code)?;
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

    /// The window as the data behind `packets()` and `flows()`.
    pub fn data(&self) -> Result<WindowData> {
        Ok(WindowData::new(self.packets()?))
    }
}

/// A packet table as a [`DataSource`]; its flows are computed on first use.
pub struct WindowData {
    packets: DataFrame,
    flows: Mutex<Option<DataFrame>>,
}

impl WindowData {
    pub fn new(packets: DataFrame) -> WindowData {
        WindowData {
            packets,
            flows: Mutex::new(None),
        }
    }
}

impl DataSource for WindowData {
    fn packets(&self) -> Result<LazyFrame> {
        Ok(self.packets.clone().lazy())
    }

    fn flows(&self) -> Result<LazyFrame> {
        // A poisoned lock still holds a usable table (or none yet).
        let mut guard = self.flows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(df) = guard.as_ref() {
            return Ok(df.clone().lazy());
        }
        let df = crate::table::flow::flows_of(&self.packets)?;
        *guard = Some(df.clone());
        Ok(df.lazy())
    }
}

// ---------------------------------------------------------------------------------------------
// New findings only

/// Facts that say *what* a finding is about rather than how big it is. Two findings of one query
/// with the same values for these are the same finding (a scan that grew is not a new scan).
const IDENTITY_FACTS: &[&str] = &[
    "kind", "src", "src_port", "dst", "dst_port", "port", "ip", "target", "protocol", "l4", "app", "name",
];

/// The identity of a finding: the query and the [`IDENTITY_FACTS`] it has, or its title when it
/// has none of them.
pub fn finding_key(query: &str, f: &FindingOut) -> String {
    let mut key = query.to_string();
    let mut any = false;
    for k in IDENTITY_FACTS {
        if let Some(v) = f.facts.get(*k) {
            key.push_str(&format!("|{k}={v}"));
            any = true;
        }
    }
    if !any {
        key.push_str("|title=");
        key.push_str(&f.title);
    }
    key
}

struct Seen {
    first_ns: i64,
    /// Last run that found it.
    present_ns: i64,
    /// When it was last shown (reported or updated), and its title then.
    shown_ns: i64,
    title: String,
}

/// What one run of the queries found.
#[derive(Default)]
pub struct RunFindings {
    pub new: Vec<Reported>,
    /// Known findings worth mentioning again, with when they were first seen.
    pub still_active: Vec<(Reported, i64)>,
    /// (query, message), new messages only.
    pub errors: Vec<(String, String)>,
}

/// Runs the queries and remembers what has been reported.
pub struct Detector {
    queries: Vec<(Query, Params)>,
    seen: HashMap<String, Seen>,
    last_error: HashMap<String, String>,
    window_ns: i64,
}

impl Detector {
    pub fn new(queries: Vec<(Query, Params)>, window: Duration) -> Detector {
        Detector {
            queries,
            seen: HashMap::new(),
            last_error: HashMap::new(),
            window_ns: i64::try_from(window.as_nanos()).unwrap_or(i64::MAX),
        }
    }

    /// Run every query over `data` at time `now_ns`. A finding absent for a whole window is
    /// forgotten, so if it comes back (new activity) it is reported again.
    pub fn run(&mut self, engine: &ScriptEngine, data: Arc<dyn DataSource>, now_ns: i64) -> RunFindings {
        let forget_before = now_ns.saturating_sub(self.window_ns);
        self.seen.retain(|_, s| s.present_ns >= forget_before);
        let mut out = RunFindings::default();
        let update_ns = UPDATE_INTERVAL.as_nanos() as i64;
        for (q, params) in &self.queries {
            let found = match engine.run(&q.source, data.clone(), params) {
                Ok(r) => {
                    self.last_error.remove(&q.name);
                    match r.output {
                        Output::Findings(fs) => fs,
                        _ => Vec::new(),
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    if self.last_error.get(&q.name) != Some(&msg) {
                        self.last_error.insert(q.name.clone(), msg.clone());
                        out.errors.push((q.name.clone(), msg));
                    }
                    continue;
                }
            };
            for f in found {
                let key = finding_key(&q.name, &f);
                let rep = Reported {
                    query: q.name.clone(),
                    finding: f,
                };
                match self.seen.get_mut(&key) {
                    None => {
                        self.seen.insert(
                            key,
                            Seen {
                                first_ns: now_ns,
                                present_ns: now_ns,
                                shown_ns: now_ns,
                                title: rep.finding.title.clone(),
                            },
                        );
                        out.new.push(rep);
                    }
                    Some(s) => {
                        if s.present_ns == now_ns {
                            continue; // the same identity twice in one run
                        }
                        s.present_ns = now_ns;
                        if s.title != rep.finding.title && now_ns - s.shown_ns >= update_ns {
                            s.shown_ns = now_ns;
                            s.title = rep.finding.title.clone();
                            out.still_active.push((rep, s.first_ns));
                        }
                    }
                }
            }
        }
        out
    }
}

/// Bind `params` (`name=value`) to each query that declares them; a name no query declares is
/// an error (most likely a typo).
pub fn bind_all(queries: Vec<Query>, params: &[(String, String)]) -> Result<Vec<(Query, Params)>> {
    for (k, _) in params {
        if !queries.iter().any(|q| q.params.iter().any(|p| &p.name == k)) {
            let names: Vec<&str> = queries.iter().map(|q| q.name.as_str()).collect();
            return Err(Error::Query(format!(
                "no watched query has a parameter '{k}' (queries: {})",
                names.join(", ")
            )));
        }
    }
    queries
        .into_iter()
        .map(|q| {
            let mine: Vec<(String, String)> = params
                .iter()
                .filter(|(k, _)| q.params.iter().any(|p| &p.name == k))
                .cloned()
                .collect();
            let p = q.bind(&mine)?;
            Ok((q, p))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::CaptureReader;
    use crate::query::engine::Limits;
    use crate::table::catalog::CaptureFile;
    use crate::table::pipeline::{LoadOptions, decode_file};

    fn sample() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/sample.pcap")
    }

    /// Feed the sample capture through a window, ticking every `every` packets.
    fn window_of_sample(every: usize) -> (LiveDecoder, RollingWindow, i64) {
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

    #[test]
    fn window_in_ticks_equals_the_loaded_capture() {
        let cap = CaptureFile::stat(&sample()).unwrap();
        let opts = LoadOptions {
            cache_dir: std::env::temp_dir(),
            use_cache: false,
            progress: false,
            threads: 1,
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

    #[test]
    fn a_finding_is_new_once_until_it_leaves_the_window() {
        let engine = ScriptEngine::new(Limits::default(), None);
        let q = crate::query::canned::find(Path::new("/nonexistent"), "port_scan").unwrap();
        let queries = bind_all(vec![q], &[]).unwrap();
        let mut d = Detector::new(queries, Duration::from_secs(60));
        let (_, w, last) = window_of_sample(500);
        let data: Arc<dyn DataSource> = Arc::new(w.data().unwrap());
        let first = d.run(&engine, data.clone(), last);
        assert!(first.errors.is_empty(), "{:?}", first.errors);
        assert!(!first.new.is_empty(), "the sample holds a port scan");
        assert!(first.new.iter().all(|r| r.query == "port_scan"));
        let again = d.run(&engine, data.clone(), last + 1_000_000_000);
        assert!(again.new.is_empty(), "reported twice");
        assert!(again.still_active.is_empty(), "nothing changed");
        // Gone for a whole window (an empty window), then back: new again.
        let empty: Arc<dyn DataSource> =
            Arc::new(WindowData::new(crate::table::packet_columns::empty_packets().unwrap()));
        assert!(d.run(&engine, empty, last + 2_000_000_000).new.is_empty());
        let back = d.run(&engine, data, last + 200_000_000_000);
        assert_eq!(back.new.len(), first.new.len());
    }

    #[test]
    fn keys_ignore_counts_but_not_addresses() {
        let f = |ports: i64, src: &str| {
            let mut facts = serde_json::Map::new();
            facts.insert("kind".into(), "TCP port scan".into());
            facts.insert("src".into(), src.into());
            facts.insert("dst".into(), "10.0.0.2".into());
            facts.insert("ports".into(), ports.into());
            FindingOut {
                severity: crate::query::bindings::Severity::Medium,
                title: format!("scan of {ports} ports"),
                facts,
                evidence: None,
                evidence_total: 0,
            }
        };
        assert_eq!(
            finding_key("port_scan", &f(20, "10.0.0.1")),
            finding_key("port_scan", &f(90, "10.0.0.1"))
        );
        assert_ne!(
            finding_key("port_scan", &f(20, "10.0.0.1")),
            finding_key("port_scan", &f(20, "10.0.0.3"))
        );
        let mut bare = f(1, "x");
        bare.facts.clear();
        assert!(finding_key("q", &bare).ends_with("title=scan of 1 ports"));
    }

    #[test]
    fn params_go_to_the_queries_that_declare_them() {
        let dir = Path::new("/nonexistent");
        let qs: Vec<Query> = DEFAULT_QUERIES
            .iter()
            .map(|n| crate::query::canned::find(dir, n).unwrap())
            .collect();
        let bound = bind_all(qs.clone(), &[("min_ports".into(), "40".into())]).unwrap();
        let scan = bound.iter().find(|(q, _)| q.name == "port_scan").unwrap();
        let v = scan.1.iter().find(|(k, _)| k == "min_ports").unwrap();
        assert_eq!(v.1.as_int().unwrap(), 40);
        let err = bind_all(qs, &[("min_prots".into(), "40".into())]).unwrap_err();
        assert!(err.to_string().contains("min_prots"), "{err}");
    }
}
