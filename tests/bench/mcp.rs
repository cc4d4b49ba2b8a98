//! Round trip of MCP tool calls against `netql mcp` over stdio: an rmcp client spawns the
//! release binary, and each sample is the time from sending `tools/call` to having the result.
//!
//! - `list_captures` (goal: median under 50 ms)
//! - `run_script` aggregating a 1M-packet capture: packets grouped by source address, counted
//!   and summed (goal: median under 300 ms)
//!
//! The capture is generated once by `../shared/bench/gen_pcap.py --packets 1000000 --seed 1` into
//! `$NETQL_BENCH_DIR` (default /tmp/netql-bench) as `1m.pcap` and reused; the server gets its own
//! captures folder there (`mcp-captures/`, holding a hard link to the file) and cache
//! (`mcp-cache/`). A warm-up call loads the capture (decode or Parquet cache) before timing, so
//! the figures are what a model sees once a capture is in use.
//!
//! ```sh
//! cargo bench --bench mcp          # builds and measures the release binary
//! NETQL_BIN=/path/to/netql cargo bench --bench mcp
//! ```

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};

const SAMPLES: usize = 20;
const PACKETS: u64 = 1_000_000;
const SCRIPT: &str = r#"packets()
    .group_by(["src_ip"])
    .agg([count().alias("packets"), sum("wire_len").alias("bytes")])
    .sort("packets", true)
    .head(20)"#;

fn netql_binary() -> PathBuf {
    std::env::var_os("NETQL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_netql")))
}

fn bench_dir() -> PathBuf {
    std::env::var_os("NETQL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/netql-bench"))
}

/// `1m.pcap` in the bench folder (generated if missing) and a captures folder holding only it.
fn prepare(dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = dir.join("1m.pcap");
    if !file.is_file() {
        let gen_script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen_pcap.py");
        eprintln!("mcp bench: generating {} with {}", file.display(), gen_script.display());
        let status = std::process::Command::new("python3")
            .arg(&gen_script)
            .args(["--packets", &PACKETS.to_string(), "--seed", "1", "--out"])
            .arg(&file)
            .status()
            .map_err(|e| format!("python3 {}: {e}", gen_script.display()))?;
        if !status.success() {
            return Err(format!("{} failed ({status})", gen_script.display()));
        }
    }
    let caps = dir.join("mcp-captures");
    std::fs::create_dir_all(&caps).map_err(|e| format!("{}: {e}", caps.display()))?;
    let linked = caps.join("1m.pcap");
    if !linked.is_file() {
        // A hard link (a copy across file systems): a symlink would point outside the captures
        // folder, which the server refuses.
        std::fs::hard_link(&file, &linked)
            .or_else(|_| std::fs::copy(&file, &linked).map(|_| ()))
            .map_err(|e| format!("{}: {e}", linked.display()))?;
    }
    Ok(caps)
}

async fn call(client: &RunningService<RoleClient, ()>, name: &str, args: Value) -> Result<(Duration, Value), String> {
    let params =
        CallToolRequestParams::new(name.to_string()).with_arguments(args.as_object().cloned().unwrap_or_default());
    let started = Instant::now();
    let r = client.call_tool(params).await.map_err(|e| format!("{name}: {e}"))?;
    let took = started.elapsed();
    if r.is_error.unwrap_or(false) {
        let text: Vec<String> = r
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect();
        return Err(format!("{name} failed: {}", text.join("\n")));
    }
    Ok((took, r.structured_content.clone().unwrap_or(Value::Null)))
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let median = ms(v[v.len() / 2]);
    let p95 = ms(v[((v.len() as f64 * 0.95).ceil() as usize).clamp(1, v.len()) - 1]);
    (median, p95, ms(v[0]))
}

async fn run() -> Result<(), String> {
    let exe = netql_binary();
    if !exe.to_string_lossy().contains("release") {
        eprintln!(
            "mcp bench: warning: {} does not look like a release build",
            exe.display()
        );
    }
    let dir = bench_dir();
    let caps = prepare(&dir)?;
    let cache = dir.join("mcp-cache");
    let cmd = tokio::process::Command::new(&exe).configure(|c| {
        c.arg("--captures").arg(&caps).arg("--cache-dir").arg(&cache).arg("mcp");
        c.current_dir(&dir);
    });
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {} mcp: {e}", exe.display()))?;
    let client = ().serve(transport).await.map_err(|e| format!("MCP handshake: {e}"))?;

    let script_args = json!({"script": SCRIPT, "captures": ["1m.pcap"]});
    let started = Instant::now();
    let (_, warm) = call(&client, "run_script", script_args.clone()).await?;
    eprintln!(
        "mcp bench: warm-up (load {} packets + first run) took {:.2} s",
        warm["packets_covered"],
        started.elapsed().as_secs_f64()
    );
    call(&client, "list_captures", json!({})).await?;

    let mut results = Vec::new();
    for (name, args, goal_ms) in [("list_captures", json!({}), 50.0), ("run_script", script_args, 300.0)] {
        let mut samples = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            samples.push(call(&client, name, args.clone()).await?.0);
        }
        let (median, p95, min) = stats(samples);
        let verdict = if median <= goal_ms { "ok" } else { "OVER GOAL" };
        println!(
            "{name:<14} median {median:8.2} ms   p95 {p95:8.2} ms   min {min:8.2} ms   goal {goal_ms:.0} ms   {verdict}"
        );
        results.push(json!({
            "tool": name, "samples": SAMPLES, "median_ms": median, "p95_ms": p95, "min_ms": min,
            "goal_ms": goal_ms, "within_goal": median <= goal_ms,
        }));
    }
    println!(
        "{}",
        json!({"binary": exe, "capture_packets": warm["packets_covered"], "results": results})
    );
    let _ = client.cancel().await;
    Ok(())
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(run()) {
        eprintln!("mcp bench: {e}");
        std::process::exit(1);
    }
}
