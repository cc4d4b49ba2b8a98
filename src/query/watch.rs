//! watch: detections over live traffic. The capture loop of [`live`] hands every packet here; it
//! is decoded at once into a pending column chunk ([`LiveDecoder`]: one decoder and interner for
//! the whole session). Every tick the pending chunk becomes a DataFrame — IP reassembly and TCP stream
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

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use polars::prelude::*;

use crate::capture::RawRecord;
use crate::capture::live::{self, CaptureOptions, CaptureReport, LiveSink, Progress};
use crate::error::{Error, Result};
use crate::query::analyze::Reported;
use crate::query::bindings::DataSource;
use crate::query::canned::Query;
use crate::query::engine::{FindingOut, Output, Params, ScriptEngine};
use crate::table::flow_view::{FlowViews, finish_with_flows};
use crate::table::live::{LiveChunk, LiveDecoder, RollingWindow};
use crate::table::pipeline::TransactionTables;

/// The queries `netql watch` runs unless told otherwise.
pub const DEFAULT_QUERIES: &[&str] = &["port_scan", "arp_spoof", "cleartext_credentials"];
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
        // Whatever arrived since the last tick, and the transactions still open (the capture
        // ended); then the detector's last run, and its end.
        s.last_tick();
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

/// A tick's packets and finished transactions.
type Chunk = LiveChunk;

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
        let chunk = self.decoder.chunk();
        self.send(chunk);
    }

    fn last_tick(&mut self) {
        let chunk = self.decoder.last_chunk();
        self.send(chunk);
    }

    fn send(&mut self, chunk: Result<Option<Chunk>>) {
        self.last_tick = Instant::now();
        match chunk {
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
        let window_data = window
            .packets()
            .and_then(|p| Ok(WindowData::new(p).with_transactions(window.transactions()?)));
        let data: Arc<dyn DataSource> = match window_data {
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

/// A packet table (and the transactions that finished with its packets) as a [`DataSource`];
/// its flows are computed on first use.
pub struct WindowData {
    packets: DataFrame,
    transactions: Option<TransactionTables>,
    flows: Mutex<Option<DataFrame>>,
}

impl WindowData {
    pub fn new(packets: DataFrame) -> WindowData {
        WindowData {
            packets,
            transactions: None,
            flows: Mutex::new(None),
        }
    }

    /// The window's DNS, HTTP and TLS rows (without them the tables are empty).
    pub fn with_transactions(self, t: TransactionTables) -> WindowData {
        WindowData {
            transactions: Some(t),
            ..self
        }
    }

    /// A transaction table of the window, its rows in their flow's view (client as `src_*`,
    /// Community ID).
    fn transaction_table(
        &self,
        pick: fn(&TransactionTables) -> &DataFrame,
        empty: fn() -> Result<DataFrame>,
    ) -> Result<LazyFrame> {
        let Some(t) = self.transactions.as_ref() else {
            return Ok(empty()?.lazy());
        };
        let flows = self.flows()?.collect()?;
        Ok(finish_with_flows(pick(t).clone(), &FlowViews::of(&flows)?)?.lazy())
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

    fn dns(&self) -> Result<LazyFrame> {
        self.transaction_table(|t| &t.dns, crate::table::dns_table::empty_dns)
    }

    fn http(&self) -> Result<LazyFrame> {
        self.transaction_table(|t| &t.http, crate::table::http_table::empty_http)
    }

    fn tls(&self) -> Result<LazyFrame> {
        self.transaction_table(|t| &t.tls, crate::table::tls_table::empty_tls)
    }
}

// ---------------------------------------------------------------------------------------------
// New findings only

/// Facts that say *what* a finding is about rather than how big it is. Two findings of one query
/// with the same values for these are the same finding (a scan that grew is not a new scan).
const IDENTITY_FACTS: &[&str] = &[
    "kind", "src", "src_port", "dst", "dst_port", "port", "ip", "target", "protocol", "l4", "app", "name",
];

/// The identity of a finding: the query and the identity facts it has (kind, addresses, ports), or its title when it
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
    use crate::query::engine::Limits;
    use crate::table::live::testing::window_of_sample;

    #[test]
    fn a_finding_is_new_once_until_it_leaves_the_window() {
        let engine = ScriptEngine::new(Limits::default(), None);
        let q = crate::query::canned::find(Path::new("/nonexistent"), "port_scan").unwrap();
        let queries = bind_all(vec![q], &[]).unwrap();
        let mut d = Detector::new(queries, Duration::from_secs(60));
        let (_, w, last) = window_of_sample(500);
        let data: Arc<dyn DataSource> = Arc::new(WindowData::new(w.packets().unwrap()));
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
