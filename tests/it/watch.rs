//! `netql watch` on the loopback interface: the test makes a TCP port scan of 127.0.0.1 (connect()
//! attempts to closed ports) and checks that the finding is printed once, within a few ticks,
//! that `--save` writes the capture the detections saw, and the errors a user meets. Capturing
//! needs root or CAP_NET_RAW; without it the capture tests print a SKIPPED line and pass (and fail
//! under NETQL_REQUIRE_TEST_DATA=1, as CI runs them).
//!
//! Each test scans its own port range below the ephemeral range (so no other test's sockets land
//! in it) and filters on it, as tests run in parallel on the same `lo`.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{libpcap_filter_error, netql, stderr, stdout};

/// Whether this process may capture on `lo` (see [`netql::testdata::can_capture_on_loopback`]).
fn can_capture(test: &str) -> bool {
    netql::testdata::can_capture_on_loopback(test)
}

/// A running `netql watch` whose stdout and stderr lines arrive as they are printed.
struct Watch {
    child: Child,
    out: Receiver<String>,
    err: Receiver<String>,
    out_lines: Vec<String>,
    err_lines: Vec<String>,
}

impl Watch {
    fn start(args: &[&str], dir: &Path) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netql"))
            .arg("watch")
            .args(args)
            .env("NETQL_CACHE_DIR", dir)
            .env_remove("NETQL_CONFIG")
            .env_remove("NETQL_CAPTURES")
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start netql watch");
        let lines = |r: Box<dyn std::io::Read + Send>| {
            let (tx, rx) = channel();
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        };
        let out = lines(Box::new(child.stdout.take().unwrap()));
        let err = lines(Box::new(child.stderr.take().unwrap()));
        Watch {
            child,
            out,
            err,
            out_lines: Vec::new(),
            err_lines: Vec::new(),
        }
    }

    fn drain(&mut self) {
        self.out_lines.extend(self.out.try_iter());
        self.err_lines.extend(self.err.try_iter());
    }

    /// Wait until a stderr line contains `text`.
    fn wait_stderr(&mut self, text: &str, limit: Duration) {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            self.drain();
            if self.err_lines.iter().any(|l| l.contains(text)) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                self.drain();
                panic!(
                    "netql watch exited ({status}) before printing {text:?}; stderr:\n{}",
                    self.err_lines.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!("no {text:?} within {limit:?}; stderr:\n{}", self.err_lines.join("\n"));
    }

    /// Wait until stdout holds a finding object that `pred` accepts; returns when it came.
    fn wait_finding(&mut self, limit: Duration, pred: impl Fn(&Value) -> bool) -> Instant {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            self.drain();
            if self.findings().iter().any(&pred) {
                return Instant::now();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        std::thread::sleep(Duration::from_millis(100));
        self.drain();
        panic!(
            "no matching finding within {limit:?}; stdout:\n{}\nstderr:\n{}",
            self.out_lines.join("\n"),
            self.err_lines.join("\n")
        );
    }

    /// stdout so far, one JSON object per line.
    fn findings(&self) -> Vec<Value> {
        self.out_lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not an NDJSON line ({e}): {l}")))
            .collect()
    }

    /// SIGTERM, then wait (at most `limit`) for the exit and the last lines.
    fn stop(&mut self, limit: Duration) -> ExitStatus {
        // SAFETY: sending a signal to the child this test started.
        assert_eq!(unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) }, 0);
        self.wait_exit(limit)
    }

    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                // The reader threads end at EOF; give them a moment to hand over the last lines.
                std::thread::sleep(Duration::from_millis(200));
                self.drain();
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        self.drain();
        panic!(
            "netql watch still running after {limit:?}; stderr:\n{}",
            self.err_lines.join("\n")
        );
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One connect() attempt to each port (all closed: SYN, then the kernel's RST-ACK).
fn scan(ports: std::ops::Range<u16>) {
    for port in ports {
        let to = SocketAddr::from(([127, 0, 0, 1], port));
        let _ = TcpStream::connect_timeout(&to, Duration::from_millis(200));
    }
}

/// Whether anything listens on one of `ports` (then the test's scan would not be all closed).
fn assert_closed(ports: std::ops::Range<u16>) {
    for port in ports {
        let to = SocketAddr::from(([127, 0, 0, 1], port));
        // A listener would accept; this connection attempt is outside the watch (not started yet).
        if TcpStream::connect_timeout(&to, Duration::from_millis(200)).is_ok() {
            panic!("something listens on 127.0.0.1:{port}; the test needs closed ports there");
        }
    }
}

fn is_scan_of(f: &Value, ports: u64) -> bool {
    f["query"] == "port_scan"
        && f["src"] == "127.0.0.1"
        && f["facts"]["kind"] == "TCP port scan"
        && f["facts"]["dst"] == "127.0.0.1"
        && f["facts"]["ports"].as_u64().is_some_and(|p| p >= ports)
}

#[test]
fn watch_reports_a_port_scan_once() {
    if !can_capture("watch_reports_a_port_scan_once") {
        return;
    }
    const PORTS: std::ops::Range<u16> = 29200..29240;
    assert_closed(PORTS);
    let dir = tempfile::tempdir().unwrap();
    let filter = format!("tcp and host 127.0.0.1 and portrange {}-{}", PORTS.start, PORTS.end - 1);
    // min_ports=40: the finding can only appear once the whole scan is in the window, so it
    // says 40 ports however the scan falls across ticks.
    let mut w = Watch::start(
        &[
            "-i",
            "lo",
            "--filter",
            &filter,
            "--every",
            "1s",
            "--window",
            "30s",
            "--duration",
            "20s",
            "--format",
            "json",
            "--param",
            "min_ports=40",
            // The scan is a medium finding: below this, so the exit stays 0.
            "--fail-on",
            "high",
        ],
        dir.path(),
    );
    w.wait_stderr("watching lo", Duration::from_secs(20));
    let scanned = Instant::now();
    scan(PORTS);
    let seen = w.wait_finding(Duration::from_secs(10), |f| is_scan_of(f, 40));
    assert!(
        seen - scanned < Duration::from_secs(5),
        "the finding took {:?} with a 1 s tick",
        seen - scanned
    );
    // The same scan again: more probes, same finding. Later ticks still see it in the window,
    // and it must not be printed again.
    scan(PORTS);
    std::thread::sleep(Duration::from_millis(2500));
    let status = w.stop(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "stderr:\n{}", w.err_lines.join("\n"));

    let all = w.findings();
    let scans: Vec<&Value> = all.iter().filter(|f| f["query"] == "port_scan").collect();
    assert_eq!(scans.len(), 1, "printed once: {all:?}");
    let f = scans[0];
    assert!(is_scan_of(f, 40), "{f}");
    assert_eq!(f["facts"]["ports"], 40, "{f}");
    assert_eq!(f["severity"], "medium", "{f}");
    assert_eq!(f["file"], "live:lo", "{f}");
    for key in ["title", "facts", "frames", "evidence", "detected_at"] {
        assert!(f.get(key).is_some(), "{key} missing in {f}");
    }
    assert!(f["detected_at"].as_str().unwrap().ends_with('Z'), "{f}");
    let frames = f["frames"].as_array().unwrap();
    assert!(!frames.is_empty(), "{f}");
    assert_eq!(frames[0], 1, "the first SYN is frame 1 of the session: {f}");
    let summary = w.err_lines.join("\n");
    assert!(summary.contains("watched lo"), "{summary}");
    assert!(
        summary.contains("160 packets"),
        "two scans of 40 ports, SYN + RST each: {summary}"
    );
    assert!(summary.contains("1 finding"), "{summary}");
}

/// The `capture_*.pcap` files in `dir`.
fn pcaps(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.starts_with("capture_") && name.ends_with(".pcap")
    });
    v.sort();
    v
}

#[test]
fn watch_save_writes_the_capture_it_watched() {
    if !can_capture("watch_save_writes_the_capture_it_watched") {
        return;
    }
    const PORTS: std::ops::Range<u16> = 29300..29320;
    assert_closed(PORTS);
    let dir = tempfile::tempdir().unwrap();
    let filter = format!("tcp and portrange {}-{}", PORTS.start, PORTS.end - 1);
    let mut w = Watch::start(
        &[
            "-i",
            "lo",
            "--filter",
            &filter,
            "--save",
            "--every",
            "500ms",
            "--window",
            "30s",
            "--duration",
            "20s",
            "--format",
            "json",
            "--param",
            "min_ports=20",
            "--fail-on",
            "medium",
        ],
        dir.path(),
    );
    w.wait_stderr("watching lo", Duration::from_secs(20));
    assert!(
        w.err_lines.iter().any(|l| l.contains("saving to captures/capture_")),
        "{:?}",
        w.err_lines
    );
    // Two halves more than a tick apart: the finding spans two chunks of the window.
    scan(PORTS.start..PORTS.start + 10);
    std::thread::sleep(Duration::from_millis(1200));
    scan(PORTS.start + 10..PORTS.end);
    w.wait_finding(Duration::from_secs(10), |f| is_scan_of(f, 20));
    let status = w.stop(Duration::from_secs(10));
    assert_eq!(
        status.code(),
        Some(1),
        "a medium finding with --fail-on medium; stderr:\n{}",
        w.err_lines.join("\n")
    );

    let files = pcaps(&dir.path().join("captures"));
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    let name = file.file_name().unwrap().to_str().unwrap();
    let o = netql(&["summary", file.to_str().unwrap(), "--format", "json"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let s: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(s["packets"], 40, "20 attempts, SYN + RST each: {s}");
    assert_eq!(s["protocols"]["tcp"], 40, "{s}");

    // The live finding cites the saved file and its frame numbers: the same as a query over the file.
    let live = w.findings().into_iter().find(|f| f["query"] == "port_scan").unwrap();
    assert_eq!(live["file"], name, "{live}");
    let o = netql(
        &[
            "run",
            "port_scan",
            file.to_str().unwrap(),
            "--format",
            "json",
            "--param",
            "min_ports=20",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let offline: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let offline = &offline.as_array().unwrap()[0];
    assert_eq!(live["frames"], offline["frames"], "live {live}\nfile {offline}");
    assert_eq!(live["facts"]["ports"], offline["facts"]["ports"]);
    assert_eq!(live["facts"]["probes"], offline["facts"]["probes"]);
    let summary = w.err_lines.join("\n");
    assert!(summary.contains(&format!("saved to captures/{name}")), "{summary}");
}

#[test]
fn watch_bad_filter_is_refused_with_libpcaps_message() {
    if !can_capture("watch_bad_filter_is_refused_with_libpcaps_message") {
        return;
    }
    let bad = "tcp portt 29400";
    let expected = libpcap_filter_error(bad);
    let dir = tempfile::tempdir().unwrap();
    let o = netql(
        &["watch", "-i", "lo", "--filter", bad, "--duration", "5s", "--save"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&expected), "libpcap says {expected:?}; netql said {err}");
    assert!(err.contains(bad), "{err}");
    assert!(!err.contains("watching"), "{err}");
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    assert!(
        pcaps(&dir.path().join("captures")).is_empty(),
        "no file for a watch that never started"
    );
}

/// Mistakes in the command line are caught before any capture starts (so these need no root).
#[test]
fn watch_usage_errors_exit_2_before_capturing() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--queries", "port_scan,nope"], "no query named 'nope'"),
        (&["--param", "min_prots=3"], "min_prots"),
        (&["--param", "novalue"], "name=value"),
        (&["--window", "1s", "--every", "5s"], "--window"),
    ];
    for (extra, says) in cases {
        let mut args = vec!["watch", "-i", "lo", "--duration", "1s"];
        args.extend_from_slice(extra);
        let o = netql(&args, dir.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("watching"), "{args:?}: {}", stderr(&o));
    }
    let o = netql(&["watch", "-i", "lo", "--every", "soon"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// `n` TCP SYNs from 127.0.0.1:40999 to 127.0.0.2, one per port from `first`, written to a raw
/// socket as fast as it takes them (a burst: ~10,000 packets on `lo` with the kernel's RSTs,
/// in a few tens of milliseconds). Returns how long the sending took.
fn syn_burst(first: u16, n: u16) -> Duration {
    use etherparse::PacketBuilder;
    // SAFETY: a raw IPv4 socket; every call's buffers and address outlive it; closed at the end.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW);
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        let to = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes([127, 0, 0, 2]),
            },
            sin_zero: [0; 8],
        };
        let packets: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                let mut v = Vec::new();
                PacketBuilder::ipv4([127, 0, 0, 1], [127, 0, 0, 2], 64)
                    .tcp(40999, first + i, 7_000 + u32::from(i), 1024)
                    .syn()
                    .write(&mut v, &[])
                    .unwrap();
                v
            })
            .collect();
        let started = Instant::now();
        for p in &packets {
            let sent = libc::sendto(
                fd,
                p.as_ptr().cast(),
                p.len(),
                0,
                (&to as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            assert_eq!(sent, p.len() as isize, "{}", std::io::Error::last_os_error());
        }
        let took = started.elapsed();
        libc::close(fd);
        took
    }
}

/// A burst of 5,000 SYNs (and the kernel's 5,000 RSTs) in a few tens of milliseconds: the watch
/// keeps up — the kernel drops nothing — and the finding counts every probed port. (It once lost
/// most of a fast scan: packets were decoded on the capture thread, so a burst outran it.)
#[test]
fn watch_keeps_up_with_a_burst() {
    if !can_capture("watch_keeps_up_with_a_burst") {
        return;
    }
    const FIRST: u16 = 20_000;
    const N: u16 = 5_000;
    let dir = tempfile::tempdir().unwrap();
    let filter = format!("tcp and host 127.0.0.2 and portrange {FIRST}-{}", FIRST + N - 1);
    let mut w = Watch::start(
        &[
            "-i",
            "lo",
            "--filter",
            &filter,
            "--every",
            "1s",
            "--window",
            "60s",
            "--duration",
            "30s",
            "--format",
            "json",
            "--param",
            "min_ports=5000",
        ],
        dir.path(),
    );
    w.wait_stderr("watching lo", Duration::from_secs(20));
    let took = syn_burst(FIRST, N);
    eprintln!("burst of {N} SYNs sent in {took:?}");
    w.wait_finding(Duration::from_secs(20), |f| f["query"] == "port_scan");
    let status = w.stop(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "stderr:\n{}", w.err_lines.join("\n"));
    let summary = w.err_lines.join("\n");
    assert!(summary.contains("10000 packets, 0 dropped by the kernel"), "{summary}");
    let scan = w.findings().into_iter().find(|f| f["query"] == "port_scan").unwrap();
    assert_eq!(scan["facts"]["ports"], u64::from(N), "{scan}");
    let last = w.out_lines.last().cloned().unwrap_or_default();
    let s: Value = serde_json::from_str(&last).unwrap_or(Value::Null);
    assert_eq!(s["summary"]["dropped"], 0, "the JSON summary line: {last}");
    assert_eq!(s["summary"]["packets"], 10_000, "{last}");
}
