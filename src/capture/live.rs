//! live: capture from a network interface with libpcap and write classic pcap files into a folder,
//! rotating them by size or age. This module owns the capture loop (open, filter, read, write,
//! rotate, stop, kernel statistics) and the interface listing; the front-ends (`netql capture`,
//! `netql interfaces`, `netql watch` and the MCP server) only pass options, a stop flag and a
//! progress callback (or a [`LiveSink`], which also sees every packet), and print what comes back.
//! It never installs signal handlers and never prints: the caller decides what stops a capture and
//! how progress is shown.
//!
//! libpcap writes the files (`pcap_dump`), so they are exactly what tcpdump would write, and a
//! stopped capture is always a complete file: every exit path flushes and closes it.

use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::capture::record::RawRecord;
use crate::error::{Error, Result};

/// How long the loop waits for packets on an idle interface before it looks at the stop flag,
/// the deadline and the progress tick again.
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// How often progress is reported and the current file flushed to disk.
const TICK: Duration = Duration::from_millis(250);
/// After a stop request, packets already in the kernel ring are still written, for at most this long.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);
/// Largest snapshot length libpcap accepts (MAXIMUM_SNAPLEN); also the default, as in tcpdump.
pub const MAX_SNAPLEN: u32 = 262_144;
/// Default kernel ring size. libpcap's 2 MiB holds only ~32 packets on `lo` (64 KiB MTU, so
/// 64 KiB frames) and drops under any burst; 32 MiB keeps up with the rates tests/bench/capture.rs measures.
pub const DEFAULT_BUFFER: u32 = 32 << 20;
/// Bytes of a classic pcap file header and of each record header.
const FILE_HEADER: u64 = 24;
const RECORD_HEADER: u64 = 16;

/// When to start a new file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rotate {
    /// One file for the whole capture.
    #[default]
    Never,
    /// Before a packet would make the file larger than this many bytes (a file always takes at
    /// least one packet, so a single huge packet can still exceed it).
    Size(u64),
    /// When a packet arrives and the file is at least this old (no empty files on an idle link).
    Time(Duration),
}

/// What to capture, where to write it, and when to stop.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// Interface name as `netql interfaces` lists it (e.g. `eth0`, `lo`, `any`).
    pub interface: String,
    /// BPF filter, tcpdump syntax; `None` captures everything.
    pub filter: Option<String>,
    /// Folder for the pcap files; created if missing.
    pub out_dir: PathBuf,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after writing this many packets.
    pub count: Option<u64>,
    /// Bytes kept of each packet (1..=[`MAX_SNAPLEN`]).
    pub snaplen: u32,
    /// Kernel buffer size in bytes.
    pub buffer_size: u32,
    pub rotate: Rotate,
    /// Hand each packet over as it arrives (libpcap's immediate mode: a ring of fixed frames,
    /// one per packet, each as large as the snap length allows — ~500 on `lo` in 32 MiB). Off,
    /// packets are packed into the ring's blocks as tcpdump does (tens of thousands of small
    /// packets fit) and handed over when a block fills or after [`BLOCK_TIMEOUT`]: what a burst
    /// needs. `netql watch` turns it off; `netql capture` keeps it (its counter moves packet by
    /// packet).
    pub immediate: bool,
}

/// How long a half-full ring block waits before it is handed over, when not in immediate mode.
pub const BLOCK_TIMEOUT: Duration = Duration::from_millis(50);

impl CaptureOptions {
    /// Capture everything on `interface` into `out_dir` until stopped, in one file.
    pub fn new(interface: impl Into<String>, out_dir: impl Into<PathBuf>) -> Self {
        CaptureOptions {
            interface: interface.into(),
            filter: None,
            out_dir: out_dir.into(),
            duration: None,
            count: None,
            snaplen: MAX_SNAPLEN,
            buffer_size: DEFAULT_BUFFER,
            rotate: Rotate::Never,
            immediate: true,
        }
    }
}

/// Handed to the progress callback about four times a second.
#[derive(Debug, Clone)]
pub struct Progress {
    pub packets: u64,
    /// Captured bytes written (packet data, without pcap headers).
    pub bytes: u64,
    /// Files opened so far (including the current one).
    pub files: usize,
    pub current_file: PathBuf,
    pub elapsed: Duration,
    /// Packets the kernel dropped so far (no room in the buffer), if libpcap can tell.
    pub dropped: Option<u64>,
}

/// Why the capture ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Count,
    Duration,
    /// The caller's stop flag (Ctrl-C, SIGTERM, a client's cancel).
    StopRequest,
}

/// The result of a capture.
#[derive(Debug, Clone, Serialize)]
pub struct CaptureReport {
    /// Files written, in order.
    pub files: Vec<PathBuf>,
    /// Packets written.
    pub packets: u64,
    /// Captured bytes written (packet data, without pcap headers).
    pub bytes: u64,
    /// Kernel statistics from `pcap_stats` (`None` if libpcap could not give them). On Linux,
    /// `received` counts packets that passed the filter, including both copies of a loopback
    /// packet (libpcap keeps one), so it can exceed `packets`.
    pub received: Option<u64>,
    /// Dropped for lack of buffer space: packets matching the filter that are missing from the files.
    pub dropped: Option<u64>,
    /// Dropped by the interface or its driver.
    pub if_dropped: Option<u64>,
    pub stopped_by: StopReason,
    #[serde(skip)]
    pub elapsed: Duration,
}

/// A capture device as `netql interfaces` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct InterfaceInfo {
    pub name: String,
    pub description: Option<String>,
    /// `address/prefix` (just the address when the netmask is unknown or not contiguous).
    pub addresses: Vec<String>,
    /// Any of `up`, `running`, `loopback`, `wireless`.
    pub flags: Vec<String>,
    pub loopback: bool,
}

/// The devices libpcap can capture on, in libpcap's order (most useful first).
pub fn list_interfaces() -> Result<Vec<InterfaceInfo>> {
    let devices =
        pcap::Device::list().map_err(|e| Error::Live(format!("cannot list capture interfaces: {}", reason(&e))))?;
    Ok(devices.into_iter().map(interface_info).collect())
}

fn interface_info(d: pcap::Device) -> InterfaceInfo {
    let f = &d.flags;
    let flags: Vec<String> = [
        (f.is_up(), "up"),
        (f.is_running(), "running"),
        (f.is_loopback(), "loopback"),
        (f.is_wireless(), "wireless"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| name.to_string())
    .collect();
    let addresses = d
        .addresses
        .iter()
        .map(|a| match a.netmask.and_then(|m| prefix_len(a.addr, m)) {
            Some(p) => format!("{}/{p}", a.addr),
            None => a.addr.to_string(),
        })
        .collect();
    InterfaceInfo {
        loopback: f.is_loopback(),
        name: d.name,
        description: d.desc,
        addresses,
        flags,
    }
}

/// Prefix length of a contiguous netmask of the same family as `addr`.
fn prefix_len(addr: IpAddr, mask: IpAddr) -> Option<u32> {
    let (ones, bits) = match (addr, mask) {
        (IpAddr::V4(_), IpAddr::V4(m)) => {
            let m = u32::from(m);
            (m.leading_ones(), m.count_ones())
        }
        (IpAddr::V6(_), IpAddr::V6(m)) => {
            let m = u128::from(m);
            (m.leading_ones(), m.count_ones())
        }
        _ => return None,
    };
    (ones == bits).then_some(ones)
}

/// What the capture loop hands its caller besides the report: every packet it keeps, and
/// progress about four times a second.
pub trait LiveSink {
    /// One packet, in capture order, right after it was written (when saving). `ts_ns` has
    /// microsecond precision (the handle's, as in the files); `link` is the LINKTYPE_* number.
    fn packet(&mut self, rec: &RawRecord<'_>);
    /// The first call comes once the interface is open and filtering and (when saving) the file
    /// exists; the last one after the capture has stopped and the file is closed.
    fn progress(&mut self, p: &Progress);
}

/// What the capture thread hands the thread that feeds the sink, in capture order.
enum Handoff {
    Packets(Batch),
    Progress(Progress),
}

/// Packets copied out of the kernel ring: their bytes back to back, and each one's time, wire
/// length, link type and span of `bytes`.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    recs: Vec<(i64, u32, u16, usize, usize)>,
}

/// Packets per batch at most, and bytes (a batch also goes when the ring is empty).
const BATCH_PACKETS: usize = 512;
const BATCH_BYTES: usize = 4 << 20;
/// Batches waiting for the sink at most: past that the capture thread waits (and the kernel
/// ring fills) rather than memory growing without end behind a sink that cannot keep up.
const HANDOFF_QUEUE: usize = 1024;

/// The capture thread's side of the hand-off: a sink that copies each packet into the batch.
struct Copier {
    batch: Batch,
    tx: std::sync::mpsc::SyncSender<Handoff>,
}

impl Copier {
    fn send(&mut self) {
        if !self.batch.recs.is_empty() {
            let _ = self.tx.send(Handoff::Packets(std::mem::take(&mut self.batch)));
        }
    }
}

impl LiveSink for Copier {
    fn packet(&mut self, rec: &RawRecord<'_>) {
        let at = self.batch.bytes.len();
        self.batch.bytes.extend_from_slice(rec.data);
        self.batch
            .recs
            .push((rec.ts_ns, rec.wire_len, rec.link, at, self.batch.bytes.len()));
        if self.batch.recs.len() >= BATCH_PACKETS || self.batch.bytes.len() >= BATCH_BYTES {
            self.send();
        }
    }

    fn progress(&mut self, p: &Progress) {
        self.send();
        let _ = self.tx.send(Handoff::Progress(p.clone()));
    }
}

/// The sink's thread: every packet and progress report, in order.
fn feed(rx: std::sync::mpsc::Receiver<Handoff>, sink: &mut (dyn LiveSink + Send)) {
    for h in rx {
        match h {
            Handoff::Packets(b) => {
                for &(ts_ns, wire_len, link, from, to) in &b.recs {
                    sink.packet(&RawRecord {
                        ts_ns,
                        ts_out_of_range: false,
                        wire_len,
                        link,
                        data: &b.bytes[from..to],
                    });
                }
            }
            Handoff::Progress(p) => sink.progress(&p),
        }
    }
}

/// A progress callback as a sink that ignores the packets.
struct ProgressOnly<F>(F);

impl<F: FnMut(&Progress)> LiveSink for ProgressOnly<F> {
    fn packet(&mut self, _: &RawRecord<'_>) {}
    fn progress(&mut self, p: &Progress) {
        (self.0)(p)
    }
}

/// Capture until `opts.count` packets are written, `opts.duration` has passed, or `stop` becomes
/// true; `on_progress` is called about four times a second. On every return, error or not, the
/// files written so far are flushed and closed, so they are valid pcaps.
pub fn run_capture(
    opts: &CaptureOptions,
    stop: &AtomicBool,
    on_progress: impl FnMut(&Progress) + Send,
) -> Result<CaptureReport> {
    run_live(opts, true, stop, &mut ProgressOnly(on_progress))
}

/// The capture loop behind [`run_capture`], also handing every packet to `sink`. With `save`
/// false nothing touches the disk (`opts.out_dir` and `opts.rotate` are ignored and the report
/// lists no files); `count`, `packets` and `bytes` then count the packets handed to the sink.
///
/// The capture thread only reads the kernel ring, writes the file and copies each packet out;
/// the sink (decoding, detection) runs on a thread of its own. Decoding on the capture thread
/// let a burst outrun it: the ring filled and the kernel dropped most of a fast scan.
pub fn run_live(
    opts: &CaptureOptions,
    save: bool,
    stop: &AtomicBool,
    sink: &mut (dyn LiveSink + Send),
) -> Result<CaptureReport> {
    let (tx, rx) = std::sync::mpsc::sync_channel(HANDOFF_QUEUE);
    std::thread::scope(|s| {
        let feeder = s.spawn(move || feed(rx, sink));
        let mut copier = Copier {
            batch: Batch::default(),
            tx,
        };
        let report = capture_loop(opts, save, stop, &mut copier);
        copier.send();
        drop(copier);
        if feeder.join().is_err() {
            return Err(Error::Internal("the live sink thread panicked"));
        }
        report
    })
}

fn capture_loop(opts: &CaptureOptions, save: bool, stop: &AtomicBool, sink: &mut Copier) -> Result<CaptureReport> {
    let mut cap = open(opts)?;
    if save {
        std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::io(&opts.out_dir, e))?;
    }
    let start = Instant::now();
    let mut w = Writer::new(&opts.interface, &opts.out_dir, opts.rotate);
    // libpcap reports the DLT; as for files, it equals the LINKTYPE for every type the decoder
    // reads (the old RAW numbers are decoded under both).
    w.link = cap.get_datalink().0 as u16;
    if save {
        w.open_next(&cap)?;
    }
    let mut last_tick = start;
    sink.progress(&w.progress(start, None));

    let done = |w: &Writer| opts.count.is_some_and(|c| w.packets >= c);
    let stopped = loop {
        if done(&w) {
            break StopReason::Count;
        }
        if stop.load(Ordering::Relaxed) {
            break StopReason::StopRequest;
        }
        if opts.duration.is_some_and(|d| start.elapsed() >= d) {
            break StopReason::Duration;
        }
        if w.read_one(&mut cap, None, sink)? == Read::Nothing {
            // The ring is empty: what was copied goes to the sink now, not when the batch fills.
            sink.send();
            wait_for_packets(&cap, IDLE_WAIT);
        }
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            w.flush()?;
            let dropped = cap.stats().ok().map(|s| s.dropped as u64);
            sink.progress(&w.progress(start, dropped));
        }
    };

    if stopped != StopReason::Count {
        // Packets that reached the kernel before the stop are part of the capture: write what is
        // already queued (the handle is non-blocking, so this never waits), up to the first
        // packet stamped after the stop, so a busy link does not keep the capture going.
        let cutoff = SystemTime::now();
        let until = Instant::now() + DRAIN_LIMIT;
        // Outside immediate mode the last packets sit in a block handed over within the block
        // timeout: an empty ring is waited on that long once before the drain ends.
        let mut waited = opts.immediate;
        while !done(&w) && Instant::now() < until {
            match w.read_one(&mut cap, Some(cutoff), sink)? {
                Read::Written => {}
                Read::Nothing if !waited => {
                    waited = true;
                    wait_for_packets(&cap, BLOCK_TIMEOUT * 2);
                }
                _ => break,
            }
        }
    }
    let stats = cap.stats().ok();
    w.close()?;
    let elapsed = start.elapsed();
    sink.progress(&w.progress(start, stats.map(|s| s.dropped as u64)));
    Ok(CaptureReport {
        files: w.files,
        packets: w.packets,
        bytes: w.bytes,
        received: stats.map(|s| s.received as u64),
        dropped: stats.map(|s| s.dropped as u64),
        if_dropped: stats.map(|s| s.if_dropped as u64),
        stopped_by: stopped,
        elapsed,
    })
}

/// Open and activate the device, then set the filter; errors say what to do about them.
///
/// The handle is non-blocking and the loop waits in `poll` itself: in blocking mode libpcap 1.10
/// on Linux (TPACKET_V2, which immediate mode uses) polls again after each read timeout instead of
/// returning, so `next_packet` would sleep until the next packet and never see a stop request.
fn open(opts: &CaptureOptions) -> Result<pcap::Capture<pcap::Active>> {
    let iface = opts.interface.as_str();
    let snaplen = opts.snaplen.clamp(1, MAX_SNAPLEN) as i32;
    let buffer = opts.buffer_size.min(i32::MAX as u32) as i32;
    let mut cap = pcap::Capture::from_device(iface)
        .map(|c| {
            c.snaplen(snaplen)
                .buffer_size(buffer)
                // Immediate: each packet is handed over as it arrives instead of when a kernel
                // block fills, so the counter moves (see `CaptureOptions::immediate`).
                .immediate_mode(opts.immediate)
                .timeout(BLOCK_TIMEOUT.as_millis() as i32)
        })
        .and_then(|c| c.open())
        .map_err(|e| open_error(iface, &e))?
        .setnonblock()
        .map_err(|e| Error::Live(format!("cannot capture on {iface}: {}", reason(&e))))?;
    if let Some(f) = &opts.filter {
        cap.filter(f, true)
            .map_err(|e| Error::Live(format!("bad capture filter {f:?}: {}", reason(&e))))?;
    }
    Ok(cap)
}

/// Turn libpcap's activation error into advice. libpcap's status code is not exposed by the
/// `pcap` crate, so this goes by the device list and the message text.
fn open_error(iface: &str, e: &pcap::Error) -> Error {
    let why = reason(e);
    let lower = why.to_ascii_lowercase();
    let listed = pcap::Device::list().ok().map(|l| l.iter().any(|d| d.name == iface));
    if lower.contains("no such device") || listed == Some(false) {
        Error::Live(format!(
            "no capture interface named {iface:?}; `netql interfaces` lists the ones there are"
        ))
    } else if lower.contains("permission") || lower.contains("not permitted") {
        Error::Live(format!(
            "not allowed to capture on {iface} (libpcap: {why}). Live capture needs root or the CAP_NET_RAW \
             capability: run as root, or grant it once with `sudo setcap cap_net_raw=eip \"$(command -v netql)\"`"
        ))
    } else {
        Error::Live(format!("cannot capture on {iface}: {why}"))
    }
}

/// Sleep until the capture socket has packets queued, `timeout` passes, or a signal arrives.
fn wait_for_packets(cap: &pcap::Capture<pcap::Active>, timeout: Duration) {
    let mut fd = libc::pollfd {
        fd: cap.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `fd` is one valid pollfd that outlives the call. Errors (EINTR from Ctrl-C) and
    // error events need no handling here: the caller re-checks its flags and the next read
    // reports what went wrong with the socket.
    unsafe {
        libc::poll(&mut fd, 1, timeout.as_millis() as libc::c_int);
    }
}

fn reason(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What one read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Written,
    /// No packet queued.
    Nothing,
    /// The packet is stamped after the cutoff and was not written.
    Late,
}

/// The current pcap file and the totals over all files.
struct Writer {
    iface: String,
    dir: PathBuf,
    rotate: Rotate,
    file: Option<pcap::Savefile>,
    /// Bytes in the current file (header + records), as libpcap writes them.
    size: u64,
    in_file: u64,
    opened: Instant,
    files: Vec<PathBuf>,
    packets: u64,
    bytes: u64,
    /// LINKTYPE_* of the capture handle, for the records handed to the sink.
    link: u16,
}

impl Writer {
    fn new(iface: &str, dir: &Path, rotate: Rotate) -> Self {
        Writer {
            iface: iface.to_string(),
            dir: dir.to_path_buf(),
            rotate,
            file: None,
            size: 0,
            in_file: 0,
            opened: Instant::now(),
            files: Vec::new(),
            packets: 0,
            bytes: 0,
            link: 0,
        }
    }

    fn current(&self) -> PathBuf {
        self.files.last().cloned().unwrap_or_default()
    }

    /// Close the current file (if any) and start the next one.
    fn open_next(&mut self, cap: &pcap::Capture<pcap::Active>) -> Result<()> {
        self.close()?;
        let path = reserve_name(&self.dir, SystemTime::now())?;
        // The pcap crate unwraps `to_str()` on the path: refuse a non-UTF-8 path instead of panicking.
        let Some(text) = path.to_str() else {
            let _ = std::fs::remove_file(&path);
            return Err(Error::Live(format!("{}: path is not UTF-8", path.display())));
        };
        let file = cap.savefile(text).map_err(|e| {
            let _ = std::fs::remove_file(&path);
            Error::Live(format!(
                "{}: cannot create capture file: {}",
                path.display(),
                reason(&e)
            ))
        })?;
        self.file = Some(file);
        self.size = FILE_HEADER;
        self.in_file = 0;
        self.opened = Instant::now();
        self.files.push(path);
        Ok(())
    }

    fn needs_rotation(&self, caplen: u64) -> bool {
        if self.in_file == 0 {
            return false;
        }
        match self.rotate {
            Rotate::Never => false,
            Rotate::Size(max) => self.size + RECORD_HEADER + caplen > max,
            Rotate::Time(age) => self.opened.elapsed() >= age,
        }
    }

    /// Read one queued packet, write it and hand it to `sink`, unless it is stamped after `cutoff`.
    fn read_one(
        &mut self,
        cap: &mut pcap::Capture<pcap::Active>,
        cutoff: Option<SystemTime>,
        sink: &mut dyn LiveSink,
    ) -> Result<Read> {
        let p = match cap.next_packet() {
            Ok(p) => p,
            // What a non-blocking handle says when nothing is queued.
            Err(pcap::Error::TimeoutExpired) => return Ok(Read::Nothing),
            Err(e) => return Err(self.failed(&e)),
        };
        // The handle uses libpcap's default microsecond precision: tv_usec is microseconds.
        let ts = p.header.ts;
        if let Some(cut) = cutoff {
            let at = SystemTime::UNIX_EPOCH
                + Duration::from_secs(ts.tv_sec.max(0) as u64)
                + Duration::from_micros(ts.tv_usec.max(0) as u64);
            if at > cut {
                return Ok(Read::Late);
            }
        }
        // The kernel's clock: in range, but a forged value must not overflow.
        let ts_ns = ts
            .tv_sec
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_usec.saturating_mul(1_000));
        let caplen = p.header.caplen as u64;
        if self.needs_rotation(caplen) {
            // The packet borrows the capture, and a new file needs the capture: copy it first
            // (once per file, so the cost does not matter).
            let header = *p.header;
            let data = p.data.to_vec();
            self.open_next(cap)?;
            self.write(&pcap::Packet {
                header: &header,
                data: &data,
            });
            sink.packet(&self.record(ts_ns, header.len, &data));
        } else {
            self.write(&p);
            sink.packet(&self.record(ts_ns, p.header.len, p.data));
        }
        Ok(Read::Written)
    }

    fn record<'a>(&self, ts_ns: i64, wire_len: u32, data: &'a [u8]) -> RawRecord<'a> {
        RawRecord {
            ts_ns,
            ts_out_of_range: false,
            wire_len,
            link: self.link,
            data,
        }
    }

    /// Write a packet to the current file (when saving) and count it.
    fn write(&mut self, p: &pcap::Packet<'_>) {
        if let Some(f) = &mut self.file {
            f.write(p);
        }
        let caplen = p.header.caplen as u64;
        self.size += RECORD_HEADER + caplen;
        self.in_file += 1;
        self.packets += 1;
        self.bytes += caplen;
    }

    /// Push buffered records to the file, so readers (and a crash) see everything up to now.
    /// `pcap_dump` reports no errors; this is where a full disk shows up.
    fn flush(&mut self) -> Result<()> {
        if let Some(f) = &mut self.file {
            f.flush()
                .map_err(|e| Error::Live(format!("{}: cannot write: {}", self.current().display(), reason(&e))))?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        let flushed = self.flush();
        // Dropping the savefile closes it (pcap_dump_close).
        self.file = None;
        flushed
    }

    /// Close what was written and describe a failure during the capture.
    fn failed(&mut self, e: &pcap::Error) -> Error {
        let _ = self.close();
        let kept = match self.files.len() {
            0 => String::new(),
            1 => format!(" ({} packets kept in {})", self.packets, self.current().display()),
            n => format!(
                " ({} packets kept in {n} files up to {})",
                self.packets,
                self.current().display()
            ),
        };
        Error::Live(format!("capture on {} stopped: {}{kept}", self.iface, reason(e)))
    }

    fn progress(&self, start: Instant, dropped: Option<u64>) -> Progress {
        Progress {
            packets: self.packets,
            bytes: self.bytes,
            files: self.files.len(),
            current_file: self.current(),
            elapsed: start.elapsed(),
            dropped,
        }
    }
}

/// Create `capture_YYYYMMDD_HHMMSS.pcap` (UTC) in `dir`, or `..._1.pcap`, `..._2.pcap`, ... when
/// that name is taken. The file is created here (exclusively) so two captures never share a name.
fn reserve_name(dir: &Path, now: SystemTime) -> Result<PathBuf> {
    let base = format!("capture_{}", crate::units::file_stamp(now));
    for n in 0..10_000u32 {
        let name = if n == 0 {
            format!("{base}.pcap")
        } else {
            format!("{base}_{n}.pcap")
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(_) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    Err(Error::Live(format!("{}: no free name for {base}.pcap", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_names_get_a_suffix() {
        let dir = tempfile::tempdir().unwrap();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_557_600);
        let names: Vec<String> = (0..3)
            .map(|_| {
                reserve_name(dir.path(), t)
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "capture_20240501_100000.pcap",
                "capture_20240501_100000_1.pcap",
                "capture_20240501_100000_2.pcap"
            ]
        );
    }

    #[test]
    fn prefixes() {
        let v4 = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(prefix_len(v4("10.0.0.1"), v4("255.255.255.0")), Some(24));
        assert_eq!(prefix_len(v4("127.0.0.1"), v4("255.0.0.0")), Some(8));
        assert_eq!(
            prefix_len(v4("::1"), v4("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
            Some(128)
        );
        assert_eq!(prefix_len(v4("10.0.0.1"), v4("255.0.255.0")), None);
        assert_eq!(prefix_len(v4("10.0.0.1"), v4("::")), None);
    }

    #[test]
    fn rotation_by_size_keeps_files_under_the_limit() {
        let mut w = Writer::new(
            "lo",
            Path::new("."),
            Rotate::Size(FILE_HEADER + 2 * (RECORD_HEADER + 100)),
        );
        assert!(!w.needs_rotation(10_000), "an empty file takes any packet");
        w.in_file = 1;
        w.size = FILE_HEADER + RECORD_HEADER + 100;
        assert!(!w.needs_rotation(100));
        assert!(w.needs_rotation(101));
    }
}
