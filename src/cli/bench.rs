//! bench: `netql bench` measures netql against its anchors in one run: the libpcap read floor
//! (`../shared/bench/pcap_floor.c`), tshark's passes, and netql's load, flows, canned suite (from
//! pcap and from the Parquet cache) and the IP-column representation. Files come from the seeded
//! generator `../shared/bench/gen_pcap.py`. Every measured program runs as its own process, so
//! wall time and peak RSS (from wait4) are its alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use polars::prelude::*;
use serde_json::{Value, json};

use anyhow::{Result, anyhow};
use netql::table::catalog::CaptureFile;
use netql::table::pipeline::{LoadOptions, decode_file};
use netql::table::schema::col;

/// One measured run.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub wall: Duration,
    /// Peak resident set of the process (KiB).
    pub max_rss_kib: u64,
}

/// Run a command, wait for it with wait4, and return its wall time and peak RSS.
pub fn measure(cmd: &mut Command) -> Result<Sample> {
    let started = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| anyhow!(format!("cannot start {cmd:?}: {e}")))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; status and usage outlive the call.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    if rc < 0 {
        return Err(anyhow!(format!("wait4 failed for {cmd:?}")));
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) <= 1) {
        let mut err = String::new();
        if let Some(mut e) = child.stderr {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        return Err(anyhow!(format!("{cmd:?} failed: {}", err.trim())));
    }
    Ok(Sample {
        wall,
        max_rss_kib: usage.ru_maxrss as u64,
    })
}

/// The median wall time (the mean of the middle two for an even count) and the largest peak RSS.
fn median(mut v: Vec<Sample>) -> Sample {
    v.sort_by_key(|s| s.wall);
    let n = v.len();
    let wall = if n.is_multiple_of(2) && n > 0 {
        (v[n / 2 - 1].wall + v[n / 2].wall) / 2
    } else {
        v[n / 2].wall
    };
    Sample {
        wall,
        max_rss_kib: v.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub sizes: Vec<u64>,
    pub dir: PathBuf,
    pub shared: PathBuf,
    pub runs: usize,
    pub tshark: bool,
    pub suite: bool,
    /// The lake's figures too (see [`crate::cli::bench_lake`]); `Only` runs them alone.
    pub lake: LakeFigures,
}

/// Whether `netql bench` measures the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LakeFigures {
    No,
    Also,
    Only,
}

/// Generate (once) the file with `n` packets.
pub(crate) fn generated(o: &BenchOptions, n: u64) -> Result<PathBuf> {
    let name = if n.is_multiple_of(1_000_000) {
        format!("{}m.pcap", n / 1_000_000)
    } else {
        format!("{n}.pcap")
    };
    generated_as(o, n, 1, &o.dir.join(name))
}

/// Generate (once) the file at `path` with `n` packets from the generator's `seed`.
pub(crate) fn generated_as(o: &BenchOptions, n: u64, seed: u32, path: &Path) -> Result<PathBuf> {
    let path = path.to_path_buf();
    if path.is_file() && path.with_extension("pcap.truth.json").is_file() {
        return Ok(path);
    }
    let script = o.shared.join("bench/gen_pcap.py");
    eprintln!("generating {} with {} ...", path.display(), script.display());
    let st = Command::new("python3")
        .arg(&script)
        .args(["--packets", &n.to_string(), "--seed", &seed.to_string(), "--out"])
        .arg(&path)
        .status()
        .map_err(|e| anyhow!(format!("python3 {}: {e}", script.display())))?;
    if !st.success() {
        return Err(anyhow!("the generator failed"));
    }
    Ok(path)
}

fn floor_binary(o: &BenchOptions) -> Result<PathBuf> {
    let bin = o.dir.join("pcap_floor");
    if !bin.is_file() {
        let src = o.shared.join("bench/pcap_floor.c");
        let st = Command::new("cc")
            .args(["-O2", "-o"])
            .arg(&bin)
            .arg(&src)
            .arg("-lpcap")
            .status()
            .map_err(|e| anyhow!(format!("cc: {e}")))?;
        if !st.success() {
            return Err(anyhow!("cannot build pcap_floor"));
        }
    }
    Ok(bin)
}

/// Run the whole benchmark and return its figures as JSON (also printed as a table).
pub fn run(o: &BenchOptions) -> Result<Value> {
    std::fs::create_dir_all(&o.dir).map_err(|e| netql::Error::io(&o.dir, e))?;
    let me = std::env::current_exe().map_err(|e| anyhow!("cannot find the netql binary: {e}"))?;
    let mut results = Vec::new();
    let sizes = if o.lake == LakeFigures::Only {
        &[][..]
    } else {
        &o.sizes[..]
    };
    let floor = if sizes.is_empty() {
        PathBuf::new()
    } else {
        floor_binary(o)?
    };
    for &n in sizes {
        let file = generated(o, n)?;
        // Warm the page cache so every reader starts equal.
        let _ = Command::new("cat")
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .status();
        eprintln!("{} ({} packets)", file.display(), n);
        let big = n >= 5_000_000;
        let runs = if big { o.runs.min(3) } else { o.runs };
        let cache = o.dir.join("cache");
        // (label, runs, command, before the first run)
        type Job<'a> = (String, usize, Box<dyn Fn() -> Command + 'a>, Option<Box<dyn Fn() + 'a>>);
        let netql = |args: Vec<&'static str>, cache_dir: bool| -> Box<dyn Fn() -> Command + '_> {
            let (me, file, cache) = (&me, &file, &cache);
            Box::new(move || {
                let mut c = Command::new(me);
                c.arg("--quiet");
                if cache_dir {
                    c.arg("--cache-dir").arg(cache);
                }
                c.args(&args).arg(file);
                c
            })
        };
        let mut jobs: Vec<Job> = vec![
            (
                "libpcap floor (pcap_floor.c)".into(),
                runs,
                Box::new(|| {
                    let mut c = Command::new(&floor);
                    c.arg(&file);
                    c
                }),
                None,
            ),
            // One pass builds both tables: the flow table is fed chunk by chunk during decoding.
            (
                "netql load: packets + flows tables".into(),
                runs,
                netql(vec!["bench-worker", "load"], false),
                None,
            ),
        ];
        if o.suite {
            jobs.push((
                "netql analyze (whole suite) from pcap".into(),
                runs,
                netql(vec!["--no-cache", "analyze", "--format", "json"], false),
                None,
            ));
            // Fill the cache (decode and write packets, events, flows), then time the suite from it.
            jobs.push((
                "netql first run: load + write the cache".into(),
                1,
                netql(vec!["run", "-e", "flows().count()"], true),
                Some(Box::new(|| {
                    let _ = std::fs::remove_dir_all(&cache);
                })),
            ));
            jobs.push((
                "netql analyze (whole suite) from cache".into(),
                runs,
                netql(vec!["analyze", "--format", "json"], true),
                None,
            ));
        }
        if o.tshark {
            for stat in ["io,phs", "endpoints,ip", "conv,ip"] {
                let file = &file;
                jobs.push((
                    format!("tshark -q -z {stat}"),
                    1,
                    Box::new(move || {
                        let mut c = Command::new("tshark");
                        c.args(["-n", "-r"]).arg(file).args(["-q", "-z", stat]);
                        c
                    }),
                    None,
                ));
            }
        }
        // Round by round (floor, load, suite, ... then again), so a drift in the machine's speed
        // between the first and the last minute of a run touches every program alike.
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); jobs.len()];
        for round in 0..runs.max(1) {
            for (k, (_, job_runs, mk, before)) in jobs.iter().enumerate() {
                if round >= (*job_runs).max(1) {
                    continue;
                }
                if round == 0
                    && let Some(before) = before
                {
                    before();
                }
                samples[k].push(measure(&mut mk())?);
            }
        }
        // Each program's time over the floor's time of the same round, then the median of those.
        let paired = |v: &[Sample]| -> Option<f64> {
            let mut r: Vec<f64> = v
                .iter()
                .zip(&samples[0])
                .map(|(s, f)| s.wall.as_secs_f64() / f.wall.as_secs_f64())
                .collect();
            r.sort_by(f64::total_cmp);
            (r.len() == samples[0].len() && !r.is_empty()).then(|| r[r.len() / 2])
        };
        let rows: Vec<(String, Sample, Option<f64>)> = jobs
            .iter()
            .zip(&samples)
            .map(|((label, ..), v)| {
                let m = median(v.clone());
                eprintln!(
                    "  {label:<44} {:>8.2} s  {:>8} MiB",
                    m.wall.as_secs_f64(),
                    m.max_rss_kib / 1024
                );
                (label.clone(), m, paired(v))
            })
            .collect();
        let ip = ip_representation(&file)?;
        let floor_s = rows[0].1.wall.as_secs_f64();
        let entries: Vec<Value> = rows
            .iter()
            .map(|(label, s, paired)| {
                json!({
                    "what": label,
                    "wall_s": (s.wall.as_secs_f64() * 1000.0).round() / 1000.0,
                    "packets_per_s": (n as f64 / s.wall.as_secs_f64()).round(),
                    "x_floor": ((s.wall.as_secs_f64() / floor_s) * 100.0).round() / 100.0,
                    "x_floor_same_round": paired.map(|r| (r * 100.0).round() / 100.0),
                    "peak_rss_mib": s.max_rss_kib / 1024,
                    "rss_bytes_per_packet": (s.max_rss_kib as f64 * 1024.0 / n as f64).round(),
                })
            })
            .collect();
        results.push(json!({"file": file, "packets": n, "runs": runs, "results": entries, "ip_columns": ip}));
    }
    Ok(
        json!({"netql": env!("CARGO_PKG_VERSION"), "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), "sizes": results}),
    )
}

/// Work done inside a measured child process.
pub fn worker(kind: &str, file: &Path) -> Result<()> {
    let cap = CaptureFile::stat(file)?;
    let opts = LoadOptions::uncached(0);
    let started = Instant::now();
    let d = decode_file(&cap, &opts)?;
    let load = started.elapsed();
    let out = json!({
        "what": kind,
        "packets": d.packets.height(),
        "flows": d.flows.height(),
        "load_s": load.as_secs_f64(),
        "packet_table_bytes": d.packets.estimated_size(),
        "flow_table_bytes": d.flows.estimated_size(),
    });
    println!("{out}");
    Ok(())
}

/// The measurement behind storing addresses as Categorical: memory per row and group-by time of
/// the decoded `src_ip` column, against the same addresses as a plain string column.
fn ip_representation(file: &Path) -> Result<Value> {
    let cap = CaptureFile::stat(file)?;
    let opts = LoadOptions::uncached(0);
    let table = decode_file(&cap, &opts)?.packets;
    let df = table.lazy().select([col(col::SRC_IP)]).collect()?;
    let cat = df.column(col::SRC_IP)?.clone();
    let t = Instant::now();
    let text = cat.cast(&DataType::String)?;
    let to_text = t.elapsed();
    let group = |c: &Column| -> Result<Duration> {
        let frame = DataFrame::new(c.len(), vec![c.clone()])?;
        let t = Instant::now();
        let g = frame.lazy().group_by([col(col::SRC_IP)]).agg([len()]).collect()?;
        let _ = g.height();
        Ok(t.elapsed())
    };
    let (g_cat, g_text) = (group(&cat)?, group(&text)?);
    let rows = df.height().max(1) as f64;
    Ok(json!({
        "rows": df.height(),
        "categorical_bytes_per_row": (cat.as_materialized_series().estimated_size() as f64 / rows * 10.0).round() / 10.0,
        "string_bytes_per_row": (text.as_materialized_series().estimated_size() as f64 / rows * 10.0).round() / 10.0,
        "group_by_categorical_ms": g_cat.as_secs_f64() * 1000.0,
        "group_by_string_ms": g_text.as_secs_f64() * 1000.0,
        "materialise_strings_ms": to_text.as_secs_f64() * 1000.0,
        "frame_bytes_per_row": (table.estimated_size() as f64 / rows).round(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: u64) -> Sample {
        Sample {
            wall: Duration::from_millis(ms),
            max_rss_kib: ms,
        }
    }

    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(
            median(vec![sample(5), sample(1), sample(3)]).wall,
            Duration::from_millis(3)
        );
        let m = median(vec![sample(40), sample(20)]);
        assert_eq!((m.wall, m.max_rss_kib), (Duration::from_millis(30), 40));
    }
}
