//! `netql ingest CAPTURE|DIR... --lake DIR [--sensor NAME]`: captures into a lake, with a
//! progress bar on a terminal and a summary at the end; `--watch` keeps following the folders and
//! ingests each capture once it has stopped growing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use netql::error::Exit;
use netql::render::Format;
use netql::safe_text;
use netql::table::catalog::CaptureFile;
use netql::table::lake::ingest::{CaptureResult, IngestOptions, Outcome, captures_under, ingest};
use netql::table::lake::layout::LakeTable;

use crate::cli::context::Ctx;

#[derive(clap::Args)]
pub struct IngestArgs {
    /// Capture files, or folders (read with their subfolders).
    #[arg(required = true, value_name = "CAPTURE|DIR")]
    pub inputs: Vec<PathBuf>,
    /// The lake folder (made if missing).
    #[arg(long, value_name = "DIR")]
    pub lake: PathBuf,
    /// The sensor these captures come from (default: this machine's host name).
    #[arg(long, value_name = "NAME")]
    pub sensor: Option<String>,
    /// Also write the packet table (one row per packet: several times the other tables).
    #[arg(long)]
    pub with_packets: bool,
    /// Captures decoded at once (memory grows with each).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// A capture of more packets is decoded this many at a time (about 1 GiB each at the
    /// default), so one huge capture needs no more memory than a few small ones; a flow or
    /// scan that crosses a segment's end is cut there. 0: each capture whole.
    #[arg(long, value_name = "PACKETS", default_value_t = 10_000_000)]
    pub segment_packets: u64,
    /// Keep following the folders: ingest each new or changed capture once it has stopped
    /// growing for --settle. Ctrl-C stops.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: how long a file must stay unchanged before it is read.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub settle: Duration,
    #[arg(long, default_value = "table", value_parser = Format::parser(Format::TABLE_JSON))]
    pub format: Format,
}

/// The capture files the inputs name: files as given, folders read with their subfolders.
fn input_paths(a: &IngestArgs) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in &a.inputs {
        if input.is_dir() {
            out.extend(captures_under(input)?);
        } else {
            out.push(input.clone());
        }
    }
    Ok(out)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    netql::units::parse_duration(s)
}

pub fn run(ctx: &Ctx, a: &IngestArgs) -> Result<Exit> {
    let sensor = a
        .sensor
        .clone()
        .unwrap_or_else(netql::table::lake::layout::default_sensor);
    let opts = IngestOptions {
        segment_packets: a.segment_packets,
        sensor,
        with_packets: a.with_packets,
        jobs: a.jobs,
        load: ctx.opts.clone(),
    };
    if a.watch {
        return watch(ctx, a, &opts);
    }
    let files = input_paths(a)?
        .iter()
        .map(|p| CaptureFile::stat(p))
        .collect::<netql::Result<Vec<_>>>()?;
    let started = Instant::now();
    let results = ingest_with_progress(ctx, a, &opts, &files)?;
    summarize(&results, started.elapsed(), a.format, &opts.sensor)
}

fn ingest_with_progress(
    ctx: &Ctx,
    a: &IngestArgs,
    opts: &IngestOptions,
    files: &[CaptureFile],
) -> Result<Vec<CaptureResult>> {
    let engine = ctx.engine();
    let queries_dir = ctx.cfg.queries_dir.clone();
    // The findings' carve commands name the lake by its absolute path, to work from anywhere.
    let lake = std::path::absolute(&a.lake).unwrap_or_else(|_| a.lake.clone());
    let findings = |l: &netql::table::load::Loaded| netql::query::lake::suite_findings(l, &engine, &queries_dir, &lake);
    let bar = if ctx.opts.progress && !files.is_empty() {
        let total: u64 = files.iter().map(|f| f.size).sum();
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} ingest [{bar:30}] {bytes}/{total_bytes} {pos:>0} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b.enable_steady_tick(Duration::from_millis(200));
        Some(b)
    } else {
        None
    };
    let done = |r: &CaptureResult| {
        if let Some(b) = &bar {
            b.inc(r.capture.size);
            b.set_message(safe_text::line(&r.capture.name).into_owned());
        }
    };
    let results = ingest(&a.lake, files, opts, &findings, &done)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(results)
}

fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Added { replaced: false } => "added".into(),
        Outcome::Added { replaced: true } => "replaced".into(),
        Outcome::Unchanged => "unchanged".into(),
        Outcome::Failed(e) => format!("error: {e}"),
    }
}

/// The summary: one row per capture, then the totals (table), or one JSON object.
fn summarize(results: &[CaptureResult], elapsed: Duration, format: Format, sensor: &str) -> Result<Exit> {
    let written: Vec<&CaptureResult> = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Added { .. }))
        .collect();
    let packets: u64 = written.iter().map(|r| r.packets).sum();
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    for r in &written {
        for (t, n) in &r.rows {
            *rows.entry(t.clone()).or_default() += n;
        }
    }
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    let added = count(|o| matches!(o, Outcome::Added { replaced: false }));
    let replaced = count(|o| matches!(o, Outcome::Added { replaced: true }));
    let unchanged = count(|o| *o == Outcome::Unchanged);
    let failed = count(|o| matches!(o, Outcome::Failed(_)));
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { packets as f64 / secs } else { 0.0 };
    match format {
        Format::Json => {
            let v = serde_json::json!({
                "sensor": sensor,
                "captures": results.iter().map(|r| serde_json::json!({
                    "file": r.capture.name,
                    "path": r.capture.path,
                    "outcome": match &r.outcome {
                        Outcome::Added { replaced: false } => "added",
                        Outcome::Added { replaced: true } => "replaced",
                        Outcome::Unchanged => "unchanged",
                        Outcome::Failed(_) => "error",
                    },
                    "error": match &r.outcome { Outcome::Failed(e) => Some(e.clone()), _ => None },
                    "packets": r.packets,
                    "rows": r.rows,
                    "seconds": r.elapsed.as_secs_f64(),
                })).collect::<Vec<_>>(),
                "added": added, "replaced": replaced, "unchanged": unchanged, "failed": failed,
                "packets": packets, "rows": rows, "seconds": secs, "packets_per_second": rate,
            });
            println!("{}", safe_text::json(serde_json::to_string_pretty(&v)?));
        }
        _ => {
            let tables: Vec<&str> = LakeTable::ALL
                .iter()
                .map(|t| t.name())
                .filter(|t| rows.contains_key(*t))
                .collect();
            let mut head = vec!["capture", "outcome", "packets"];
            head.extend(tables.iter());
            head.push("seconds");
            let table_rows: Vec<Vec<String>> = results
                .iter()
                .map(|r| {
                    let mut row = vec![
                        safe_text::line(&r.capture.name).into_owned(),
                        safe_text::line(&outcome_text(&r.outcome)).into_owned(),
                        r.packets.to_string(),
                    ];
                    row.extend(tables.iter().map(|t| r.rows.get(*t).copied().unwrap_or(0).to_string()));
                    row.push(format!("{:.2}", r.elapsed.as_secs_f64()));
                    row
                })
                .collect();
            println!("{}", netql::render::text_table(&head, &table_rows, &[]));
            let per_table: Vec<String> = rows.iter().map(|(t, n)| format!("{t} {n}")).collect();
            println!(
                "sensor {sensor}: {added} added, {replaced} replaced, {unchanged} unchanged, {failed} failed; {packets} packets in {secs:.2} s ({:.0} packets/s); rows written: {}",
                rate,
                if per_table.is_empty() {
                    "none".to_string()
                } else {
                    per_table.join(", ")
                }
            );
        }
    }
    Ok(if failed > 0 { Exit::Error } else { Exit::Success })
}

/// `--watch`: poll the inputs; a capture whose size and time have not changed for `settle` (and
/// that the lake does not hold) is ingested. Each round that writes something prints its summary.
fn watch(ctx: &Ctx, a: &IngestArgs, opts: &IngestOptions) -> Result<Exit> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone())?;
    // Path -> (size, modified) when last looked at, and the results already reported.
    let mut seen: BTreeMap<PathBuf, (u64, SystemTime)> = BTreeMap::new();
    let mut done: BTreeMap<PathBuf, (u64, SystemTime)> = BTreeMap::new();
    let mut status = Exit::Success;
    eprintln!(
        "netql: watching {} for captures (into {}, sensor {}); Ctrl-C stops",
        a.inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        a.lake.display(),
        opts.sensor
    );
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let mut ready = Vec::new();
        for p in input_paths(a)? {
            let Ok(cap) = CaptureFile::stat(&p) else { continue };
            let now = (cap.size, cap.modified);
            let settled = seen.get(&p) == Some(&now)
                && SystemTime::now().duration_since(cap.modified).unwrap_or_default() >= a.settle;
            seen.insert(p.clone(), now);
            if settled && done.get(&p) != Some(&now) {
                ready.push(cap);
            }
        }
        if !ready.is_empty() {
            let started = Instant::now();
            let results = ingest_with_progress(ctx, a, opts, &ready)?;
            for r in &results {
                done.insert(r.capture.path.clone(), (r.capture.size, r.capture.modified));
            }
            if results.iter().any(|r| r.outcome != Outcome::Unchanged) {
                let exit = summarize(&results, started.elapsed(), a.format, &opts.sensor)?;
                status = status.max(exit);
            }
        }
        let tick = a.settle.min(Duration::from_secs(2)).max(Duration::from_millis(200));
        let until = Instant::now() + tick;
        while Instant::now() < until && !stop.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(status)
}
