//! Live capture on the loopback interface: `netql capture` while the test sends traffic it
//! counts, rotation, stopping by signal, and the errors a user meets. Capturing needs root or
//! CAP_NET_RAW; without it these tests print a SKIPPED line and pass (and fail under
//! NETQL_REQUIRE_TEST_DATA=1, as CI runs them).

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use netql::capture::CaptureReader;
use serde_json::Value;

use crate::common::{libpcap_filter_error, netql, stderr, stdout};

/// Whether this process may capture on `lo` (see [`netql::testdata::can_capture_on_loopback`]).
fn can_capture(test: &str) -> bool {
    netql::testdata::can_capture_on_loopback(test)
}

/// Start `netql ARGS` in `dir` without waiting for it.
fn spawn(args: &[&str], dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_netql"))
        .args(args)
        .env("NETQL_CACHE_DIR", dir)
        .env_remove("NETQL_CONFIG")
        .env_remove("NETQL_CAPTURES")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netql")
}

/// Wait until the capture has opened its first file in `out`: it is then filtering and reading.
fn wait_ready(mut child: Child, out: &Path) -> Child {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        if !pcaps(out).is_empty() {
            return child;
        }
        if let Ok(Some(_)) = child.try_wait() {
            let o = child.wait_with_output().expect("collect netql output");
            panic!("netql capture exited before it was ready: {}", stderr(&o));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    panic!("netql capture did not open a file in {} within 20 s", out.display());
}

/// Wait for the process to end (killing it after `limit`) and collect its output.
fn wait_done(mut child: Child, limit: Duration) -> Output {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("collect netql output");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let o = child.wait_with_output().expect("collect netql output");
    panic!("netql capture still running after {limit:?}; stderr: {}", stderr(&o));
}

/// The pcap files in `dir`, by name.
fn pcaps(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "pcap"));
    v.sort();
    v
}

/// `capture_YYYYMMDD_HHMMSS.pcap` or `capture_YYYYMMDD_HHMMSS_N.pcap`.
fn is_capture_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("capture_").and_then(|r| r.strip_suffix(".pcap")) else {
        return false;
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = rest.split('_').collect();
    match parts.as_slice() {
        [d, t] => digits(d, 8) && digits(t, 6),
        [d, t, n] => digits(d, 8) && digits(t, 6) && !n.is_empty() && digits(n, n.len()),
        _ => false,
    }
}

/// Packets in a capture file, read with netql's own reader (fails on an invalid file).
fn count_packets(path: &Path) -> u64 {
    let mut r = CaptureReader::open(path).unwrap_or_else(|e| panic!("{} is not a valid pcap: {e}", path.display()));
    r.for_each(|_| true)
        .unwrap_or_else(|e| panic!("{} does not read to the end: {e}", path.display()))
}

/// `netql summary FILE --format json`.
fn summary(path: &Path, dir: &Path) -> Value {
    let o = netql(&["summary", path.to_str().unwrap(), "--format", "json"], dir);
    assert!(o.status.success(), "summary of {}: {}", path.display(), stderr(&o));
    serde_json::from_str(stdout(&o).trim()).unwrap()
}

fn udp_pair() -> (UdpSocket, UdpSocket, SocketAddr) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = rx.local_addr().unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    (rx, tx, to)
}

fn send_udp(tx: &UdpSocket, to: SocketAddr, n: usize, size: usize) {
    for i in 0..n {
        let mut msg = format!("netql-live-{i}-").into_bytes();
        msg.resize(size.max(msg.len()), b'x');
        tx.send_to(&msg, to).unwrap();
    }
}

/// One TCP connection of exactly four packets: SYN, SYN-ACK, ACK, then RST (the client closes
/// with a zero linger time; nothing is accepted, so the listener side never sends a FIN).
fn tcp_connection(to: SocketAddr) {
    let s = TcpStream::connect(to).unwrap();
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized linger struct.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt SO_LINGER");
    drop(s);
}

#[test]
fn capture_on_loopback_writes_exactly_the_packets_sent() {
    if !can_capture("capture_on_loopback_writes_exactly_the_packets_sent") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (_rx, tx, udp_to) = udp_pair();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp_to = listener.local_addr().unwrap();
    const UDP: u64 = 20;
    const CONNS: u64 = 3;
    let total = UDP + 4 * CONNS;
    let filter = format!("udp port {} or tcp port {}", udp_to.port(), tcp_to.port());
    let count = total.to_string();
    let child = spawn(
        &[
            "capture",
            "-i",
            "lo",
            "--filter",
            &filter,
            "--count",
            &count,
            "--duration",
            "30s",
            "--out-dir",
            "out",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let child = wait_ready(child, &out);
    send_udp(&tx, udp_to, UDP as usize, 64);
    for _ in 0..CONNS {
        tcp_connection(tcp_to);
    }
    let o = wait_done(child, Duration::from_secs(40));
    assert!(o.status.success(), "exit {:?}: {}", o.status, stderr(&o));

    let report: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    for key in ["files", "packets", "bytes", "received", "dropped", "if_dropped"] {
        assert!(report.get(key).is_some(), "report lacks {key}: {report}");
    }
    assert_eq!(report["packets"], total, "{report}");
    assert_eq!(report["stopped_by"], "count", "{report}");
    assert_eq!(report["dropped"], 0, "{report}");
    assert!(report["received"].as_u64().unwrap() >= total, "{report}");

    let files = pcaps(&out);
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(is_capture_name(name), "{name}");
    assert_eq!(
        report["files"][0].as_str().unwrap(),
        Path::new("out").join(name).to_str().unwrap()
    );
    assert_eq!(count_packets(file), total);

    let s = summary(file, dir.path());
    assert_eq!(s["packets"], total, "{s}");
    assert_eq!(s["protocols"]["udp"], UDP, "{s}");
    assert_eq!(s["protocols"]["tcp"], 4 * CONNS, "{s}");
    assert_eq!(
        report["bytes"], s["bytes"],
        "nothing was truncated, so captured bytes are wire bytes"
    );
}

#[test]
fn rotation_by_size_splits_the_capture_into_valid_files() {
    if !can_capture("rotation_by_size_splits_the_capture_into_valid_files") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (_rx, tx, to) = udp_pair();
    const N: u64 = 60;
    let filter = format!("udp port {}", to.port());
    let count = N.to_string();
    let child = spawn(
        &[
            "capture",
            "-i",
            "lo",
            "--filter",
            &filter,
            "--count",
            &count,
            "--duration",
            "30s",
            "--rotate-size",
            "2kB",
            "--out-dir",
            "out",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let child = wait_ready(child, &out);
    // 100-byte payloads: 158-byte records, 12 to a 2000-byte file.
    send_udp(&tx, to, N as usize, 100);
    let o = wait_done(child, Duration::from_secs(40));
    assert!(o.status.success(), "exit {:?}: {}", o.status, stderr(&o));
    let report: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(report["packets"], N, "{report}");

    let files = pcaps(&out);
    assert!(files.len() >= 4, "expected at least 4 files, got {files:?}");
    assert_eq!(report["files"].as_array().unwrap().len(), files.len(), "{report}");
    let mut sum = 0;
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        assert!(is_capture_name(name), "{name}");
        let size = std::fs::metadata(f).unwrap().len();
        assert!(size <= 2000, "{name} has {size} bytes, more than --rotate-size 2kB");
        let n = count_packets(f);
        assert!(n > 0, "{name} is empty");
        sum += n;
    }
    assert_eq!(sum, N, "the files together hold every packet");
}

fn stop_by_signal_keeps_every_packet(sig: libc::c_int, test: &str) {
    if !can_capture(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (_rx, tx, to) = udp_pair();
    const N: u64 = 25;
    let filter = format!("udp port {}", to.port());
    let child = spawn(
        &[
            "capture",
            "-i",
            "lo",
            "--filter",
            &filter,
            "--duration",
            "60s",
            "--out-dir",
            "out",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let child = wait_ready(child, &out);
    send_udp(&tx, to, N as usize, 32);
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    // SAFETY: sending a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
    let o = wait_done(child, Duration::from_secs(10));
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "took {:?} to stop",
        signalled.elapsed()
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(report["packets"], N, "{report}");
    assert_eq!(report["stopped_by"], "stop_request", "{report}");
    let files = pcaps(&out);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(count_packets(&files[0]), N);
    let s = summary(&files[0], dir.path());
    assert_eq!(s["protocols"]["udp"], N, "{s}");
}

#[test]
fn sigterm_leaves_a_valid_pcap_with_every_packet() {
    stop_by_signal_keeps_every_packet(libc::SIGTERM, "sigterm_leaves_a_valid_pcap_with_every_packet");
}

#[test]
fn ctrl_c_leaves_a_valid_pcap_with_every_packet() {
    stop_by_signal_keeps_every_packet(libc::SIGINT, "ctrl_c_leaves_a_valid_pcap_with_every_packet");
}

#[test]
fn duration_stops_the_capture() {
    if !can_capture("duration_stops_the_capture") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A port this test holds and sends nothing to: nothing matches, the capture ends by time.
    let (_rx, _tx, to) = udp_pair();
    let filter = format!("udp port {}", to.port());
    let t = Instant::now();
    let o = netql(
        &[
            "capture",
            "-i",
            "lo",
            "--filter",
            &filter,
            "--duration",
            "700ms",
            "--out-dir",
            "out",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
    let text = stdout(&o);
    assert!(text.contains("wrote 0 packets"), "{text}");
    assert!(text.contains("kernel:"), "{text}");
    let files = pcaps(&dir.path().join("out"));
    assert_eq!(files.len(), 1);
    assert_eq!(count_packets(&files[0]), 0, "an empty capture is still a valid pcap");
}

#[test]
fn bad_filter_is_refused_with_libpcaps_message() {
    if !can_capture("bad_filter_is_refused_with_libpcaps_message") {
        return;
    }
    let bad = "udp portt 47000";
    let expected = libpcap_filter_error(bad);
    let dir = tempfile::tempdir().unwrap();
    let o = netql(
        &[
            "capture",
            "-i",
            "lo",
            "--filter",
            bad,
            "--duration",
            "5s",
            "--out-dir",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&expected), "libpcap says {expected:?}; netql said {err}");
    assert!(err.contains(bad), "{err}");
    assert!(
        pcaps(&dir.path().join("out")).is_empty(),
        "no file for a capture that never started"
    );
}

#[test]
fn unknown_interface_points_to_netql_interfaces() {
    let dir = tempfile::tempdir().unwrap();
    let o = netql(
        &["capture", "-i", "netql-nope0", "--duration", "1s", "--out-dir", "out"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("netql-nope0"), "{err}");
    assert!(err.contains("netql interfaces"), "{err}");
    assert!(
        !dir.path().join("out").exists(),
        "no folder for a capture that never started"
    );
}

#[test]
fn bad_sizes_and_durations_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        ["capture", "-i", "lo", "--duration", "soon"],
        ["capture", "-i", "lo", "--rotate-size", "big"],
        ["capture", "-i", "lo", "--count", "0"],
    ] {
        let o = netql(&args, dir.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    let o = netql(
        &["capture", "-i", "lo", "--rotate-size", "1MB", "--rotate-time", "5m"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2), "one rotation rule at a time: {}", stderr(&o));
}

/// As root, run the capture as `nobody`: it must fail with advice about CAP_NET_RAW.
#[test]
fn without_permission_the_error_names_cap_net_raw() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "\n*** SKIPPED: without_permission_the_error_names_cap_net_raw: needs root to switch to nobody ***\n"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("w");
    std::fs::create_dir(&work).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o777)).unwrap();
    use std::os::unix::process::CommandExt;
    let run = Command::new(env!("CARGO_BIN_EXE_netql"))
        .args([
            "capture",
            "-i",
            "lo",
            "--duration",
            "1s",
            "--count",
            "1",
            "--out-dir",
            "out",
        ])
        .env("NETQL_CACHE_DIR", &work)
        .env_remove("NETQL_CONFIG")
        .env_remove("NETQL_CAPTURES")
        .current_dir(&work)
        .uid(65534)
        .gid(65534)
        .output();
    let o = match run {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "\n*** SKIPPED: without_permission_the_error_names_cap_net_raw: nobody cannot run the binary ({e}) ***\n"
            );
            return;
        }
    };
    if o.status.success() {
        eprintln!(
            "\n*** SKIPPED: without_permission_the_error_names_cap_net_raw: this machine lets nobody capture ***\n"
        );
        return;
    }
    let err = stderr(&o);
    if o.status.code() == Some(127) || o.status.code() == Some(126) {
        eprintln!(
            "\n*** SKIPPED: without_permission_the_error_names_cap_net_raw: nobody cannot run the binary ({err}) ***\n"
        );
        return;
    }
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("CAP_NET_RAW"), "{err}");
    assert!(err.contains("root"), "{err}");
}

#[test]
fn interfaces_json_lists_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let o = netql(&["interfaces", "--format", "json"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let list = v.as_array().unwrap();
    for i in list {
        for key in ["name", "description", "addresses", "flags", "loopback"] {
            assert!(i.get(key).is_some(), "{key} missing in {i}");
        }
    }
    let lo = list
        .iter()
        .find(|i| i["name"] == "lo")
        .unwrap_or_else(|| panic!("no lo in {v}"));
    assert_eq!(lo["loopback"], true, "{lo}");
    assert!(lo["flags"].as_array().unwrap().iter().any(|f| f == "loopback"), "{lo}");
    let addrs = lo["addresses"].as_array().unwrap();
    assert!(addrs.iter().all(|a| a.is_string()), "{lo}");

    let o = netql(&["interfaces"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("│ lo "), "{}", stdout(&o));
}

#[test]
fn capture_names_are_recognised() {
    assert!(is_capture_name("capture_20240501_100000.pcap"));
    assert!(is_capture_name("capture_20240501_100000_12.pcap"));
    assert!(!is_capture_name("capture_20240501_1000.pcap"));
    assert!(!is_capture_name("capture_20240501_100000_.pcap"));
    assert!(!is_capture_name("sample.pcap"));
}
