//! `netql watch`: the binary side of live detection (flags, signals, printing). The work is in
//! `netql::query::watch`, over the capture loop of `netql::capture::live`.
//!
//! stdout carries the findings only (table: a timestamped block per finding; json: one object
//! per line); the start line, "still active" updates, query errors and the final summary go to
//! stderr.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use netql::capture::live::{CaptureOptions, MAX_SNAPLEN, Rotate};
use netql::query::analyze::finding_json;
use netql::query::bindings::Severity;
use netql::query::canned;
use netql::query::watch::{self, WatchEvent, WatchOptions};
use netql::render::{self, Format};
use netql::units;
use netql::units::parse_duration;

use netql::error::Exit;

use crate::cli::context::Ctx;
use crate::cli::signals::stop_on_signals;

/// `netql watch` options (see `netql watch --help`).
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Interface to watch (`netql interfaces` lists them; `any` means all).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: String,
    /// Queries to run on each tick, comma-separated (names or .rhai files).
    #[arg(
        long,
        value_name = "QUERIES",
        value_delimiter = ',',
        default_value = "port_scan,arp_spoof,cleartext_credentials"
    )]
    pub queries: Vec<String>,
    /// The queries see the packets of this last stretch of time: 30s, 5m.
    #[arg(long, value_name = "TIME", default_value = "60s", value_parser = parse_duration)]
    pub window: Duration,
    /// Run the queries this often (when packets arrived or left the window).
    #[arg(long, value_name = "TIME", default_value = "5s", value_parser = parse_duration)]
    pub every: Duration,
    /// Also save the packets to capture_YYYYMMDD_HHMMSS.pcap in the captures folder (or --out-dir).
    #[arg(long)]
    pub save: bool,
    /// Folder for the saved capture (with --save; default: the captures folder).
    #[arg(long, value_name = "DIR", requires = "save")]
    pub out_dir: Option<PathBuf>,
    /// BPF capture filter in tcpdump syntax, e.g. "tcp or arp".
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,
    /// Stop after this long (default: until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "TIME", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// table: a block per finding; json: one finding object per line (NDJSON) with "detected_at".
    #[arg(long, default_value = "table", value_parser = Format::parser(Format::TABLE_JSON))]
    pub format: Format,
    /// Kernel capture buffer; raise it if the summary shows drops.
    #[arg(long, value_name = "SIZE", default_value = "32MiB", value_parser = crate::cli::capture::parse_buffer_size)]
    pub buffer_size: u32,
    /// Exit 1 when a finding at or above this severity was reported.
    #[arg(long, value_enum)]
    pub fail_on: Option<Severity>,
    /// Query parameter, name=value (repeatable; passed to the queries that declare it).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
}

pub fn watch(ctx: &Ctx, args: &WatchArgs) -> Result<Exit> {
    if args.window < args.every {
        anyhow::bail!(
            "--window ({}) must be at least --every ({})",
            secs(args.window),
            secs(args.every)
        );
    }
    // Queries, parameters and syntax are checked before the capture starts.
    let engine = ctx.engine();
    let mut qs = Vec::new();
    for name in &args.queries {
        let q = canned::find(&ctx.cfg.queries_dir, name.trim())?;
        if let Err(e) = engine.compile(&q.source) {
            anyhow::bail!("error in {}: {e}", q.name);
        }
        qs.push(q);
    }
    if qs.is_empty() {
        anyhow::bail!("--queries names no query");
    }
    let queries = watch::bind_all(qs, &canned::parse_params(&args.params)?)?;
    let names: Vec<String> = queries.iter().map(|(q, _)| q.name.clone()).collect();

    let opts = WatchOptions {
        capture: CaptureOptions {
            interface: args.interface.clone(),
            filter: args.filter.clone(),
            out_dir: args.out_dir.clone().unwrap_or_else(|| ctx.cfg.captures_dir.clone()),
            duration: args.duration,
            count: None,
            snaplen: MAX_SNAPLEN,
            buffer_size: args.buffer_size,
            // Packed ring blocks, as tcpdump reads: a burst of small packets fits.
            immediate: false,
            rotate: Rotate::Never,
        },
        save: args.save,
        window: args.window,
        every: args.every,
        queries,
    };

    // As in `netql capture`: Ctrl-C and SIGTERM raise a flag that ends the capture loop (the
    // saved file is flushed and closed, pending packets get a last run, a summary is printed).
    let (stop, hooks) = stop_on_signals()?;

    let max_rows = ctx.cfg.max_rows;
    let format = args.format;
    let result = watch::run_watch(&opts, &engine, &stop, |e| match e {
        WatchEvent::Started { interface, saving } => {
            let filter = args
                .filter
                .as_deref()
                .map(|f| format!(" (filter {f:?})"))
                .unwrap_or_default();
            let save = saving
                .map(|p| format!(", saving to {}", p.display()))
                .unwrap_or_default();
            eprintln!(
                "netql: watching {interface}{filter}: {} every {} over the last {}{save}; Ctrl-C stops",
                names.join(", "),
                secs(opts.every),
                secs(opts.window),
            );
        }
        WatchEvent::Finding {
            finding,
            detected_at_ns,
        } => match format {
            Format::Json => {
                let mut v = finding_json(finding);
                if let Some(o) = v.as_object_mut() {
                    o.insert(
                        "detected_at".into(),
                        serde_json::Value::String(units::rfc3339_ns(detected_at_ns)),
                    );
                }
                println!("{v}");
            }
            _ => {
                let text = render::findings(std::slice::from_ref(finding), Format::Table, max_rows);
                print!("{} {text}", stamp(detected_at_ns));
            }
        },
        WatchEvent::StillActive { finding, first_seen_ns } => eprintln!(
            "netql: still active (since {}): {}",
            stamp(first_seen_ns),
            finding.finding.title
        ),
        WatchEvent::Error { query, message } => match query {
            Some(q) => eprintln!("{}", netql::safe_text::text(&format!("netql: error in {q}: {message}"))),
            None => eprintln!("{}", netql::safe_text::text(&format!("netql: error: {message}"))),
        },
    });
    drop(hooks);
    let report = result?;

    let c = &report.capture;
    let mut by_sev: Vec<String> = Vec::new();
    for sev in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        let n = report.findings.iter().filter(|r| r.finding.severity == sev).count();
        if n > 0 {
            by_sev.push(format!("{n} {}", sev.name()));
        }
    }
    let saved = c
        .files
        .first()
        .map(|f| format!("; saved to {}", f.display()))
        .unwrap_or_default();
    // Said always (0 included): a user must be able to tell a quiet link from a lost burst.
    let dropped = match c.dropped {
        Some(d) => format!(", {d} dropped by the kernel"),
        None => ", drops unknown (libpcap gave no statistics)".to_string(),
    };
    if format == Format::Json {
        // The last line of the JSON stream: the run's summary (findings are the other lines).
        println!(
            "{}",
            serde_json::json!({"summary": {
                "interface": opts.capture.interface,
                "seconds": c.elapsed.as_secs_f64(),
                "packets": c.packets,
                "received": c.received,
                "dropped": c.dropped,
                "if_dropped": c.if_dropped,
                "findings": report.findings.len(),
            }})
        );
    }
    eprintln!(
        "netql: watched {} for {:.1} s: {} packets{dropped}, {} finding{}{}{saved}",
        opts.capture.interface,
        c.elapsed.as_secs_f64(),
        c.packets,
        report.findings.len(),
        if report.findings.len() == 1 { "" } else { "s" },
        if by_sev.is_empty() {
            String::new()
        } else {
            format!(" ({})", by_sev.join(", "))
        },
    );
    let tripped = args
        .fail_on
        .is_some_and(|f| report.findings.iter().any(|r| r.finding.severity >= f));
    Ok(if report.errors > 0 {
        Exit::Error
    } else if tripped {
        Exit::Failure
    } else {
        Exit::Success
    })
}

/// `2024-05-01T10:00:05Z`
fn stamp(ns: i64) -> String {
    let t = units::rfc3339_ns(ns);
    format!("{}Z", &t[..19.min(t.len())])
}

/// `5s`, `1.5s`, `2m`
fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 && s % 60.0 == 0.0 {
        format!("{}m", s / 60.0)
    } else {
        format!("{s}s")
    }
}
