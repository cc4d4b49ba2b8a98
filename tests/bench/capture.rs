//! How many packets per second `netql capture` writes from the loopback interface with zero
//! kernel drops.
//!
//! For each rate in `RATES`, a sender sends 64-byte UDP datagrams to 127.0.0.1 for `SECONDS`
//! seconds while `netql capture -i lo --filter "udp dst port P"` writes them to a temporary folder;
//! the capture is then stopped with SIGINT and its JSON report gives what was written and what
//! the kernel dropped. The sender itself tops out somewhere; the last row ("max") sends as fast
//! as one thread can.
//!
//! It measures the release binary, which must be built first, and needs root or CAP_NET_RAW:
//!
//! ```sh
//! cargo build --release && cargo bench --bench capture
//! ```
//!
//! The binary is `$NETQL_BIN` if set, else `$CARGO_TARGET_DIR/release/netql`, else the `netql`
//! next to this program's folder (`target/release/netql` for `target/release/deps/capture-*`).

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Packets per second to offer; 0 = as fast as the sender can.
const RATES: [u64; 7] = [10_000, 25_000, 50_000, 100_000, 200_000, 400_000, 0];
const SECONDS: f64 = 3.0;
const PAYLOAD: usize = 64;

struct Row {
    offered: u64,
    sent: u64,
    send_secs: f64,
    written: u64,
    dropped: u64,
    if_dropped: u64,
}

fn main() {
    let Some(exe) = find_netql() else {
        eprintln!(
            "capture bench: no release netql binary found. Build it first with `cargo build --release` \
             (or point NETQL_BIN at a netql binary)."
        );
        std::process::exit(1);
    };
    eprintln!("capture bench: measuring {}", exe.display());
    println!(
        "{:>10} {:>10} {:>12} {:>10} {:>12} {:>8} {:>10}",
        "offered/s", "sent", "sent/s", "written", "written/s", "dropped", "if_dropped"
    );
    let mut best: Option<f64> = None;
    for rate in RATES {
        let row = match run(&exe, rate) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("capture bench: {e}");
                std::process::exit(1);
            }
        };
        let written_rate = row.written as f64 / row.send_secs;
        let offered = if row.offered == 0 {
            "max".to_string()
        } else {
            row.offered.to_string()
        };
        println!(
            "{offered:>10} {:>10} {:>12.0} {:>10} {:>12.0} {:>8} {:>10}",
            row.sent,
            row.sent as f64 / row.send_secs,
            row.written,
            written_rate,
            row.dropped,
            row.if_dropped
        );
        let clean = row.dropped == 0 && row.if_dropped == 0 && row.written == row.sent;
        if !clean {
            break;
        }
        best = Some(best.map_or(written_rate, |b: f64| b.max(written_rate)));
    }
    match best {
        Some(b) => println!("highest rate written with zero drops: {b:.0} packets/s"),
        None => println!("drops even at the lowest rate"),
    }
}

/// The release binary to measure (see the module comment).
fn find_netql() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NETQL_BIN") {
        return Some(PathBuf::from(p));
    }
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(dir).join("release").join("netql"));
    }
    if let Ok(me) = std::env::current_exe() {
        // target/release/deps/capture-HASH -> target/release/netql
        candidates.extend(me.ancestors().skip(1).take(3).map(|d| d.join("netql")));
    }
    candidates
        .into_iter()
        .find(|p| p.is_file() && p.parent().is_some_and(|d| d.ends_with("release")))
}

fn run(exe: &Path, rate: u64) -> Result<Row, String> {
    let rx = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let to = rx.local_addr().map_err(|e| e.to_string())?;
    let tx = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    tx.connect(to).map_err(|e| format!("connect: {e}"))?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = dir.path().join("out");
    let filter = format!("udp dst port {}", to.port());
    let mut child = Command::new(exe)
        .args([
            "--quiet",
            "capture",
            "-i",
            "lo",
            "--filter",
            &filter,
            "--duration",
            "120s",
        ])
        .arg("--out-dir")
        .arg(&out)
        .args(["--format", "json"])
        .env("NETQL_CACHE_DIR", dir.path())
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start {}: {e}", exe.display()))?;
    wait_ready(&mut child, &out)?;

    let payload = [0x5au8; PAYLOAD];
    let start = Instant::now();
    let mut sent: u64 = 0;
    loop {
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= SECONDS {
            break;
        }
        // Send what the schedule says is due, in bursts, then sleep briefly.
        let due = if rate == 0 {
            sent + 1024
        } else {
            (elapsed * rate as f64) as u64
        };
        while sent < due {
            // A full socket buffer (ENOBUFS) is the sender's limit, not the capture's: skip it.
            if tx.send(&payload).is_ok() {
                sent += 1;
            }
        }
        if rate != 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let send_secs = start.elapsed().as_secs_f64();
    // Let the capture write what is still queued, then stop it the way a user does.
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling the child this program started.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let o = child.wait_with_output().map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(format!(
            "netql capture failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).map_err(|e| format!("report: {e}"))?;
    let num = |k: &str| v[k].as_u64().unwrap_or(0);
    drop(rx);
    Ok(Row {
        offered: rate,
        sent,
        send_secs,
        written: num("packets"),
        dropped: num("dropped"),
        if_dropped: num("if_dropped"),
    })
}

/// Wait until the capture has opened its file (it is then filtering and reading).
fn wait_ready(child: &mut Child, out: &Path) -> Result<(), String> {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        let has_file = std::fs::read_dir(out).is_ok_and(|mut rd| rd.next().is_some());
        if has_file {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            return Err(format!("netql capture exited ({status}): {err}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    Err("netql capture did not start within 20 s".into())
}
