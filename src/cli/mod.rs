//! Command implementations for the binary. Each returns an [`Exit`] (or an error, which
//! `main` reports and turns into exit code 2).

pub mod bench;
pub mod watch;

use anyhow::Result;
use netql::config::Config;
use netql::error::Exit;
use netql::query::summary;
use netql::render;
use netql::table::catalog::{self, CaptureFile};
use netql::table::load::{self, LoadOptions};
use netql::table::schema::{FLOW_SCHEMA, PACKET_SCHEMA, STACK_SCHEMA};
use netql::units;
use serde_json::json;

pub struct Ctx {
    pub cfg: Config,
    pub opts: LoadOptions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SummaryFormat {
    Table,
    Json,
}

/// Resolve capture names; unknown names are reported and counted as errors.
fn resolve_each(ctx: &Ctx, specs: &[String]) -> (Vec<CaptureFile>, bool) {
    let mut files = Vec::new();
    let mut failed = false;
    for spec in specs {
        match catalog::resolve(&ctx.cfg, std::slice::from_ref(spec)) {
            Ok(mut f) => files.append(&mut f),
            Err(e) => {
                eprintln!("netql: error: {e}");
                failed = true;
            }
        }
    }
    (files, failed)
}

pub fn summary(ctx: &Ctx, specs: &[String], format: SummaryFormat) -> Result<Exit> {
    let (files, mut failed) = resolve_each(ctx, specs);
    for (i, cap) in files.iter().enumerate() {
        let loaded = match load::load(cap, &ctx.opts) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("netql: error: {e}");
                failed = true;
                continue;
            }
        };
        if let Some(w) = &loaded.warning {
            eprintln!("netql: error: {}: {w}", cap.path.display());
            failed = true;
        }
        let s = summary::summarize(&cap.name, loaded.packets.lazy(), loaded.stacks()?)?;
        match format {
            SummaryFormat::Json => println!("{}", serde_json::to_string(&s)?),
            SummaryFormat::Table => {
                if i > 0 {
                    println!();
                }
                print!("{}", render::summary(&s));
            }
        }
    }
    Ok(if failed { Exit::Error } else { Exit::Success })
}

pub fn captures(ctx: &Ctx, format: SummaryFormat) -> Result<Exit> {
    let files = catalog::list(&ctx.cfg.captures_dir)?;
    let mut failed = false;
    let mut rows = Vec::new();
    let mut objs = Vec::new();
    for f in &files {
        let meta = load::capture_meta(f, &ctx.opts);
        let modified = f
            .modified
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| units::rfc3339_ns(d.as_nanos() as i64))
            .unwrap_or_default();
        match meta {
            Ok(m) => {
                let span = match (m.first_ts, m.last_ts) {
                    (Some(a), Some(b)) => units::human_duration(b - a),
                    _ => "-".into(),
                };
                rows.push(vec![
                    f.name.clone(),
                    units::human_bytes(f.size),
                    m.packets.to_string(),
                    m.first_ts.map(units::rfc3339_ns).unwrap_or_else(|| "-".into()),
                    span,
                    m.link_types.join(", "),
                ]);
                objs.push(json!({
                    "name": f.name, "path": f.path, "size": f.size, "modified": modified,
                    "packets": m.packets, "bytes": m.bytes,
                    "first_ts": m.first_ts.map(units::rfc3339_ns),
                    "last_ts": m.last_ts.map(units::rfc3339_ns),
                    "link_types": m.link_types, "error": null,
                }));
            }
            Err(e) => {
                failed = true;
                rows.push(vec![
                    f.name.clone(),
                    units::human_bytes(f.size),
                    "?".into(),
                    "-".into(),
                    "-".into(),
                    format!("unreadable: {e}"),
                ]);
                objs.push(json!({
                    "name": f.name, "path": f.path, "size": f.size, "modified": modified,
                    "packets": null, "bytes": null, "first_ts": null, "last_ts": null,
                    "link_types": [], "error": e.to_string(),
                }));
            }
        }
    }
    match format {
        SummaryFormat::Json => println!("{}", serde_json::to_string_pretty(&objs)?),
        SummaryFormat::Table => {
            if files.is_empty() {
                println!("no captures in {}", ctx.cfg.captures_dir.display());
            } else {
                println!(
                    "{}",
                    render::text_table(
                        &["capture", "size", "packets", "first packet", "span", "link"],
                        &rows,
                        &[1, 2]
                    )
                );
            }
        }
    }
    Ok(if failed { Exit::Error } else { Exit::Success })
}

pub fn schema(format: SummaryFormat) -> Result<Exit> {
    match format {
        SummaryFormat::Json => {
            let cols = |s: &[netql::table::schema::ColumnDef]| {
                s.iter()
                    .map(|d| json!({"name": d.name, "type": d.kind, "meaning": d.meaning}))
                    .collect::<Vec<_>>()
            };
            let v = json!({
                "packets": cols(PACKET_SCHEMA),
                "flows": cols(FLOW_SCHEMA),
                "stacks": cols(STACK_SCHEMA),
                "events": netql::table::events::EVENTS_DOC,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        SummaryFormat::Table => {
            for (title, s) in [
                ("packets()", PACKET_SCHEMA),
                ("flows()", FLOW_SCHEMA),
                ("stacks()", STACK_SCHEMA),
            ] {
                let rows: Vec<Vec<String>> = s
                    .iter()
                    .map(|d| vec![d.name.to_string(), d.kind.to_string(), d.meaning.to_string()])
                    .collect();
                println!("{title}: {} columns", s.len());
                println!(
                    "{}",
                    render::text_table_wrapped(&["column", "type", "meaning"], &rows, 2, 72)
                );
            }
            println!("events(): {}", netql::table::events::EVENTS_DOC);
        }
    }
    Ok(Exit::Success)
}

pub fn interfaces(format: SummaryFormat) -> Result<Exit> {
    let list = netql::capture::live::list_interfaces()?;
    match format {
        SummaryFormat::Json => println!("{}", serde_json::to_string_pretty(&list)?),
        SummaryFormat::Table => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|i| {
                    vec![
                        i.name.clone(),
                        i.addresses.join("\n"),
                        i.flags.join(", "),
                        i.description.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            println!(
                "{}",
                render::text_table(&["interface", "addresses", "flags", "description"], &rows, &[])
            );
        }
    }
    Ok(Exit::Success)
}

/// `netql capture` options (see `netql capture --help`).
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// Interface to capture on (`netql interfaces` lists them; `any` means all).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: String,
    /// BPF capture filter in tcpdump syntax, e.g. "tcp port 443 or udp port 53".
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,
    /// Stop after this long: 500ms, 60s, 5m, 1h.
    #[arg(long, value_name = "TIME", value_parser = netql::units::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Stop after writing this many packets.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Bytes kept of each packet.
    #[arg(long, value_name = "N", default_value_t = netql::capture::live::MAX_SNAPLEN,
          value_parser = clap::value_parser!(u32).range(1..=netql::capture::live::MAX_SNAPLEN as i64))]
    pub snaplen: u32,
    /// Start a new file before one would grow past this size: 500kB, 100MB, 10MiB, 1GB.
    #[arg(long, value_name = "SIZE", value_parser = netql::units::parse_size, conflicts_with = "rotate_time")]
    pub rotate_size: Option<u64>,
    /// Start a new file when a packet arrives and the current file is this old: 30s, 5m, 1h.
    #[arg(long, value_name = "TIME", value_parser = netql::units::parse_duration)]
    pub rotate_time: Option<std::time::Duration>,
    /// Kernel capture buffer; raise it if the report shows drops.
    #[arg(long, value_name = "SIZE", default_value = "32MiB", value_parser = parse_buffer_size)]
    pub buffer_size: u32,
    /// Folder for the pcap files (default: the captures folder).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<std::path::PathBuf>,
    /// Format of the final report.
    #[arg(long, value_enum, default_value = "table")]
    pub format: SummaryFormat,
}

fn parse_buffer_size(text: &str) -> std::result::Result<u32, String> {
    let n = netql::units::parse_size(text)?;
    u32::try_from(n)
        .ok()
        .filter(|&n| n <= i32::MAX as u32)
        .ok_or_else(|| format!("{text:?}: at most 2GB"))
}

pub fn capture(ctx: &Ctx, args: &CaptureArgs) -> Result<Exit> {
    use netql::capture::live::{CaptureOptions, Rotate, run_capture};

    let opts = CaptureOptions {
        interface: args.interface.clone(),
        filter: args.filter.clone(),
        out_dir: args.out_dir.clone().unwrap_or_else(|| ctx.cfg.captures_dir.clone()),
        duration: args.duration,
        count: args.count,
        snaplen: args.snaplen,
        buffer_size: args.buffer_size,
        rotate: match (args.rotate_size, args.rotate_time) {
            (Some(size), _) => Rotate::Size(size),
            (None, Some(age)) => Rotate::Time(age),
            (None, None) => Rotate::Never,
        },
    };

    let (stop, hooks) = stop_on_signals()?;

    let bar = if ctx.opts.progress {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            // wide_msg cuts the line to the terminal's width, so it is redrawn in place.
            indicatif::ProgressStyle::with_template("{spinner} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let iface = &opts.interface;
    let result = run_capture(&opts, &stop, |p| {
        let drops = match p.dropped {
            Some(d) if d > 0 => format!(", {d} dropped by the kernel"),
            _ => String::new(),
        };
        bar.set_message(format!(
            "{iface}: {} packets, {} in {:.0} s{drops} -> {} (file {}); Ctrl-C stops",
            p.packets,
            units::human_bytes(p.bytes),
            p.elapsed.as_secs_f64(),
            netql::table::catalog::file_name(&p.current_file),
            p.files,
        ));
    });
    bar.finish_and_clear();
    drop(hooks);
    let report = result?;

    match args.format {
        SummaryFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        SummaryFormat::Table => {
            let opt = |v: Option<u64>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
            println!(
                "wrote {} packets ({}) in {:.1} s to {} file{}:",
                report.packets,
                units::human_bytes(report.bytes),
                report.elapsed.as_secs_f64(),
                report.files.len(),
                if report.files.len() == 1 { "" } else { "s" }
            );
            for f in &report.files {
                println!("  {}", f.display());
            }
            println!(
                "kernel: {} received, {} dropped, {} dropped by the interface",
                opt(report.received),
                opt(report.dropped),
                opt(report.if_dropped)
            );
        }
    }
    Ok(Exit::Success)
}

// ---------------------------------------------------------------------------------------------
// Queries: run, check, analyze, queries

use std::sync::Arc;

use netql::query::analyze::{self, Analysis, Reported};
use netql::query::bindings::Severity;
use netql::query::canned::{self, Query};
use netql::query::engine::{Captures, Limits, Output, ScriptEngine};
use netql::render::Format;

impl Ctx {
    pub fn engine(&self) -> ScriptEngine {
        let limits = Limits {
            max_operations: self.cfg.max_operations,
            timeout: self.cfg.timeout,
            ..Limits::default()
        };
        ScriptEngine::new(limits, Some(&self.cfg.queries_dir))
    }
}

/// What a load must keep for scripts with these sources: only the event rows (with the flows
/// and stack counts) when none of them calls `packets()`. A script that reaches the packets
/// some other way still gets them: the table is then loaded when first asked for.
fn keep_for<'a>(sources: impl IntoIterator<Item = &'a str>) -> load::Keep {
    static CALL: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\bpackets\s*\(").ok());
    let Some(call) = CALL.as_ref() else {
        return load::Keep::All;
    };
    if sources.into_iter().any(|s| call.is_match(s)) {
        load::Keep::All
    } else {
        load::Keep::Events
    }
}

/// [`keep_for`] the saved queries with these names (or .rhai paths). One that cannot be found
/// reads nothing here; running it reports why.
fn keep_for_queries<'a>(ctx: &Ctx, names: impl IntoIterator<Item = &'a str>) -> load::Keep {
    let sources: Vec<String> = names
        .into_iter()
        .filter_map(|n| canned::find(&ctx.cfg.queries_dir, n).ok())
        .map(|q| q.source)
        .collect();
    keep_for(sources.iter().map(String::as_str))
}

/// Load captures by name; report the ones that fail. Returns the loaded ones and whether any
/// failed.
fn load_many(ctx: &Ctx, specs: &[String], keep: load::Keep) -> (Vec<load::Loaded>, bool) {
    let specs: Vec<String> = if specs.is_empty() {
        vec!["latest".into()]
    } else {
        specs.to_vec()
    };
    let (files, mut failed) = resolve_each(ctx, &specs);
    let mut out = Vec::new();
    for cap in files {
        match load::load_keeping(&cap, &ctx.opts, keep) {
            Ok(l) => {
                if let Some(w) = &l.warning {
                    eprintln!("netql: error: {}: {w}", cap.path.display());
                    failed = true;
                }
                out.push(l);
            }
            Err(e) => {
                eprintln!("netql: error: {e}");
                failed = true;
            }
        }
    }
    (out, failed)
}

pub struct RunArgs {
    pub query: Option<String>,
    pub expr: Option<String>,
    pub captures: Vec<String>,
    pub params: Vec<String>,
    pub format: Format,
    pub max_rows: Option<usize>,
}

pub fn run(ctx: &Ctx, a: RunArgs) -> Result<Exit> {
    let (query, captures) = match (&a.expr, &a.query) {
        (Some(src), first) => {
            // With -e, every positional argument is a capture.
            let mut caps = a.captures.clone();
            if let Some(f) = first {
                caps.insert(0, f.clone());
            }
            (Query::parse("script", src, None), caps)
        }
        (None, Some(name)) => (canned::find(&ctx.cfg.queries_dir, name)?, a.captures.clone()),
        (None, None) => anyhow::bail!("give a query name, a .rhai file, or -e 'script'"),
    };
    let params = query.bind(&canned::parse_params(&a.params)?)?;
    let (loaded, failed) = load_many(ctx, &captures, keep_for([query.source.as_str()]));
    if loaded.is_empty() {
        return Ok(Exit::Error);
    }
    let data = Arc::new(Captures::new(loaded));
    let result = match ctx.engine().run(&query.source, data, &params) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("netql: error in {}: {e}", query.name);
            return Ok(Exit::Error);
        }
    };
    let text = netql::render::output(&result, a.format, a.max_rows.unwrap_or(ctx.cfg.max_rows));
    if !text.is_empty() {
        println!("{text}");
    }
    for f in &result.failures {
        eprintln!("netql: assertion failed: {f}");
    }
    Ok(if failed {
        Exit::Error
    } else if !result.failures.is_empty() {
        Exit::Failure
    } else {
        Exit::Success
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    Table,
    Json,
}

pub struct CheckArgs {
    pub items: Vec<String>,
    pub fail_on: Severity,
    pub junit: Option<std::path::PathBuf>,
    pub format: CheckFormat,
    pub params: Vec<String>,
}

struct CheckResult {
    query: String,
    capture: String,
    status: &'static str,
    failing: Vec<Reported>,
    other: Vec<Reported>,
    failures: Vec<String>,
    error: Option<String>,
    elapsed_ms: u128,
}

pub fn check(ctx: &Ctx, a: CheckArgs) -> Result<Exit> {
    // Positional items are queries (names or .rhai files) or captures.
    let known: Vec<String> = canned::list(&ctx.cfg.queries_dir).into_iter().map(|q| q.name).collect();
    let (mut qs, mut caps) = (Vec::new(), Vec::new());
    for item in &a.items {
        if item.ends_with(".rhai") || known.contains(item) {
            qs.push(item.clone());
        } else {
            caps.push(item.clone());
        }
    }
    if qs.is_empty() {
        qs = canned::SECURITY_SUITE.iter().map(|s| s.to_string()).collect();
    }
    let given = canned::parse_params(&a.params)?;
    let engine = ctx.engine();
    let (loaded, mut any_error) = load_many(ctx, &caps, keep_for_queries(ctx, qs.iter().map(String::as_str)));
    let mut results = Vec::new();
    for l in loaded {
        let capture = l.capture.name.clone();
        let data = Arc::new(Captures::new(vec![l]));
        for name in &qs {
            let started = std::time::Instant::now();
            let mut r = CheckResult {
                query: name.clone(),
                capture: capture.clone(),
                status: "pass",
                failing: Vec::new(),
                other: Vec::new(),
                failures: Vec::new(),
                error: None,
                elapsed_ms: 0,
            };
            let outcome = canned::find(&ctx.cfg.queries_dir, name)
                .map_err(|e| e.to_string())
                .and_then(|q| {
                    // Only parameters the query declares are passed on.
                    let mine: Vec<(String, String)> = given
                        .iter()
                        .filter(|(k, _)| q.params.iter().any(|p| &p.name == k))
                        .cloned()
                        .collect();
                    let p = q.bind(&mine).map_err(|e| e.to_string())?;
                    engine.run(&q.source, data.clone(), &p).map_err(|e| e.to_string())
                });
            match outcome {
                Ok(res) => {
                    if let Output::Findings(fs) = res.output {
                        for f in fs {
                            let rep = Reported {
                                query: name.clone(),
                                finding: f,
                            };
                            if rep.finding.severity >= a.fail_on {
                                r.failing.push(rep);
                            } else {
                                r.other.push(rep);
                            }
                        }
                    }
                    r.failures = res.failures;
                    if !r.failing.is_empty() || !r.failures.is_empty() {
                        r.status = "fail";
                    }
                }
                Err(e) => {
                    r.status = "error";
                    r.error = Some(e);
                    any_error = true;
                }
            }
            r.elapsed_ms = started.elapsed().as_millis();
            results.push(r);
        }
    }
    let failed = results.iter().any(|r| r.status == "fail");
    match a.format {
        CheckFormat::Json => {
            let v = serde_json::json!({
                "passed": !failed && !any_error,
                "fail_on": a.fail_on.name(),
                "results": results.iter().map(|r| serde_json::json!({
                    "query": r.query, "capture": r.capture, "status": r.status,
                    "findings": r.failing.iter().chain(&r.other).map(analyze::finding_json).collect::<Vec<_>>(),
                    "failing_findings": r.failing.len(),
                    "failures": r.failures, "error": r.error, "elapsed_ms": r.elapsed_ms as u64,
                })).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        CheckFormat::Table => {
            let rows: Vec<Vec<String>> = results
                .iter()
                .map(|r| {
                    let detail = if let Some(e) = &r.error {
                        e.lines().next().unwrap_or("").to_string()
                    } else if r.status == "fail" {
                        let mut parts: Vec<String> = r
                            .failing
                            .iter()
                            .map(|f| format!("[{}] {}", f.finding.severity.name(), f.finding.title))
                            .collect();
                        parts.extend(r.failures.iter().map(|f| format!("assert: {f}")));
                        parts.join("; ")
                    } else {
                        format!("{} finding(s) below {}", r.other.len(), a.fail_on.name())
                    };
                    vec![r.status.to_uppercase(), r.query.clone(), r.capture.clone(), detail]
                })
                .collect();
            println!(
                "{}",
                netql::render::text_table(&["status", "query", "capture", "detail"], &rows, &[])
            );
            println!(
                "{} passed, {} failed, {} errors (failing at {} and above)",
                results.iter().filter(|r| r.status == "pass").count(),
                results.iter().filter(|r| r.status == "fail").count(),
                results.iter().filter(|r| r.status == "error").count(),
                a.fail_on.name()
            );
        }
    }
    if let Some(path) = &a.junit {
        std::fs::write(path, junit_xml(&results, a.fail_on))?;
    }
    Ok(if any_error {
        Exit::Error
    } else if failed {
        Exit::Failure
    } else {
        Exit::Success
    })
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn junit_xml(results: &[CheckResult], fail_on: Severity) -> String {
    let failures = results.iter().filter(|r| r.status == "fail").count();
    let errors = results.iter().filter(|r| r.status == "error").count();
    let total_ms: u128 = results.iter().map(|r| r.elapsed_ms).sum();
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"netql check\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">\n  <testsuite name=\"netql\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">\n",
        results.len(),
        total_ms as f64 / 1000.0,
        results.len(),
        total_ms as f64 / 1000.0
    );
    for r in results {
        x.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
            xml_escape(&r.capture),
            xml_escape(&r.query),
            r.elapsed_ms as f64 / 1000.0
        ));
        match r.status {
            "fail" => {
                let mut body: Vec<String> = r
                    .failing
                    .iter()
                    .map(|f| format!("[{}] {}", f.finding.severity.name(), f.finding.title))
                    .collect();
                body.extend(r.failures.iter().map(|f| format!("assertion failed: {f}")));
                x.push_str(&format!(
                    "\n      <failure message=\"{} finding(s) at {} or above\" type=\"finding\">{}</failure>\n    ",
                    r.failing.len() + r.failures.len(),
                    fail_on.name(),
                    xml_escape(&body.join("\n"))
                ));
            }
            "error" => {
                x.push_str(&format!(
                    "\n      <error message=\"query failed\" type=\"error\">{}</error>\n    ",
                    xml_escape(r.error.as_deref().unwrap_or(""))
                ));
            }
            _ => {}
        }
        x.push_str("</testcase>\n");
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AnalyzeFormat {
    Table,
    Json,
    Markdown,
}

pub fn analyze_cmd(ctx: &Ctx, specs: &[String], format: AnalyzeFormat, fail_on: Option<Severity>) -> Result<Exit> {
    // The suite's scripts (the user may have edited them) decide what the load keeps.
    let (loaded, failed) = load_many(ctx, specs, keep_for_queries(ctx, analyze::suite()));
    if loaded.is_empty() {
        return Ok(Exit::Error);
    }
    let engine = ctx.engine();
    let several = loaded.len() > 1;
    let mut per_capture: Vec<Analysis> = Vec::new();
    let all = Arc::new(Captures::new(loaded));
    if several {
        for l in &all.loaded {
            let one = Arc::new(Captures::new(vec![l.clone_shallow()]));
            per_capture.push(analyze::analyze(one, &engine, &ctx.cfg.queries_dir));
        }
    }
    let overall = analyze::analyze(all, &engine, &ctx.cfg.queries_dir);
    let fmt = match format {
        AnalyzeFormat::Table => Format::Table,
        AnalyzeFormat::Json => Format::Json,
        AnalyzeFormat::Markdown => Format::Markdown,
    };
    match format {
        AnalyzeFormat::Json => {
            let mut v = overall.to_json();
            if several {
                v["captures"] = serde_json::Value::Array(per_capture.iter().map(|a| a.to_json()).collect());
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        _ => {
            for a in &per_capture {
                println!("{}", netql::render::analysis(a, fmt));
            }
            if several {
                println!(
                    "{}",
                    if fmt == Format::Markdown {
                        "---\n"
                    } else {
                        "==== All captures together ====\n"
                    }
                );
            }
            println!("{}", netql::render::analysis(&overall, fmt));
        }
    }
    let tripped = fail_on.is_some_and(|f| overall.findings.iter().any(|r| r.finding.severity >= f));
    Ok(if failed || !overall.errors.is_empty() {
        Exit::Error
    } else if tripped {
        Exit::Failure
    } else {
        Exit::Success
    })
}

pub fn list_queries(ctx: &Ctx, format: SummaryFormat) -> Result<Exit> {
    let qs = canned::list(&ctx.cfg.queries_dir);
    match format {
        SummaryFormat::Json => {
            let v: Vec<serde_json::Value> = qs
                .iter()
                .map(|q| {
                    serde_json::json!({
                        "name": q.name, "description": q.description,
                        "params": q.params.iter().map(|p| serde_json::json!({"name": p.name, "default": p.default, "description": p.description})).collect::<Vec<_>>(),
                        "source": q.origin.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "built in".into()),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        SummaryFormat::Table => {
            let rows: Vec<Vec<String>> = qs
                .iter()
                .map(|q| {
                    let params = q
                        .params
                        .iter()
                        .map(|p| format!("{}={}", p.name, p.default))
                        .collect::<Vec<_>>()
                        .join(" ");
                    vec![q.name.clone(), q.description.clone(), params]
                })
                .collect();
            println!(
                "{}",
                netql::render::text_table_wrapped(&["query", "description", "parameters"], &rows, 1, 60)
            );
        }
    }
    Ok(Exit::Success)
}

// ---------------------------------------------------------------------------------------------
// The agent: ask and chat

use netql::agent::{self, Agent, AgentConfig, Event, McpSession};

fn agent_config(ctx: &Ctx, offline: bool) -> AgentConfig {
    let a = &ctx.cfg.agent;
    let client = match (&a.api_key, offline) {
        (Some(key), false) => Some(netql::agent::anthropic::ClientConfig {
            base_url: a.base_url.clone(),
            api_key: key.clone(),
            timeout: a.timeout,
            max_retries: a.max_retries,
            max_backoff: std::time::Duration::from_secs(30),
        }),
        _ => None,
    };
    AgentConfig {
        model: a.model.clone(),
        max_tokens: a.max_tokens,
        max_tool_rounds: a.max_tool_rounds,
        max_question_tokens: a.max_question_tokens,
        client,
    }
}

/// Flags for the `netql mcp` child, so it sees the same captures, cache and config.
fn child_args(ctx: &Ctx) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(f) = &ctx.cfg.config_file {
        v.push("--config".into());
        v.push(f.display().to_string());
    }
    v.push("--captures".into());
    v.push(ctx.cfg.captures_dir.display().to_string());
    v.push("--cache-dir".into());
    v.push(ctx.cfg.cache_dir.display().to_string());
    if !ctx.cfg.use_cache {
        v.push("--no-cache".into());
    }
    v
}

fn show_event(e: Event) {
    match e {
        Event::Tool(name, args) => eprintln!("  → {name} {args}"),
        Event::ToolDone(name, failed, took) => {
            if failed {
                eprintln!("    ✗ {name} failed ({:.2} s)", took.as_secs_f64());
            }
        }
        Event::Note(n) => eprintln!("  ({n})"),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// One question, one answer on stdout (tool progress on stderr).
pub fn ask(ctx: &Ctx, question: &str, offline: bool) -> Result<Exit> {
    let cfg = agent_config(ctx, offline);
    let rt = runtime()?;
    rt.block_on(async {
        let exe = std::env::current_exe()?;
        let session = McpSession::start(&exe, &child_args(ctx)).await?;
        let outcome = if cfg.client.is_some() {
            let mut agent = Agent::new(cfg, &session)?;
            match agent.ask(&session, question, &mut show_event).await {
                Ok(answer) => {
                    println!("{}", answer.trim());
                    Exit::Success
                }
                Err(e) => {
                    eprintln!("netql: error: {e}");
                    Exit::Error
                }
            }
        } else {
            if !offline {
                eprintln!("(offline: no ANTHROPIC_API_KEY; answering with netql's own rules)");
            }
            println!(
                "{}",
                agent::offline_answer(&session, question, &mut show_event).await.trim()
            );
            Exit::Success
        };
        session.close().await;
        Ok(outcome)
    })
}

/// An interactive conversation; Ctrl-C cancels the current answer, Ctrl-D leaves.
pub fn chat(ctx: &Ctx, offline: bool) -> Result<Exit> {
    use reedline::{DefaultPrompt, DefaultPromptSegment, FileBackedHistory, Reedline, Signal};
    let cfg = agent_config(ctx, offline);
    let rt = runtime()?;
    let exe = std::env::current_exe()?;
    let session = rt.block_on(McpSession::start(&exe, &child_args(ctx)))?;
    let mut agent = match &cfg.client {
        Some(_) => Some(Agent::new(cfg.clone(), &session)?),
        None => None,
    };
    // Not a terminal: one question per input line, answers in order (for scripts and pipes).
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        use std::io::BufRead;
        let mut outcome = Exit::Success;
        for line in std::io::stdin().lock().lines() {
            let q = line?;
            let q = q.trim();
            if q.is_empty() {
                continue;
            }
            let answer = rt.block_on(async {
                match agent.as_mut() {
                    Some(a) => a.ask(&session, q, &mut show_event).await.map_err(|e| e.to_string()),
                    None => Ok(agent::offline_answer(&session, q, &mut show_event).await),
                }
            });
            match answer {
                Ok(text) => println!("{}\n", text.trim()),
                Err(e) => {
                    eprintln!("netql: error: {e}");
                    outcome = Exit::Error;
                }
            }
        }
        rt.block_on(session.close());
        return Ok(outcome);
    }
    let mut editor = Reedline::create();
    if let Some(dir) = dirs::data_dir().map(|d| d.join("netql")) {
        let _ = std::fs::create_dir_all(&dir);
        if let Ok(h) = FileBackedHistory::with_file(1000, dir.join("chat_history.txt")) {
            editor = editor.with_history(Box::new(h));
        }
    }
    let prompt = DefaultPrompt::new(DefaultPromptSegment::Basic("you".into()), DefaultPromptSegment::Empty);
    if agent.is_some() {
        println!(
            "netql chat with {} — ask about your captures; Ctrl-C cancels an answer, Ctrl-D leaves.",
            cfg.model
        );
    } else {
        println!(
            "netql chat (offline) — {}",
            agent::OFFLINE_HELP.lines().next().unwrap_or("")
        );
        println!("Try: analyze latest · analyze all · list captures · top talkers · any scans?  (Ctrl-D leaves)");
    }
    loop {
        let line = match editor.read_line(&prompt) {
            Ok(Signal::Success(l)) => l,
            Ok(Signal::CtrlC) => continue,
            Ok(Signal::CtrlD) => break,
            Ok(_) => continue,
            Err(e) => {
                eprintln!("netql: {e}");
                break;
            }
        };
        let q = line.trim();
        if q.is_empty() {
            continue;
        }
        if matches!(q, "exit" | "quit" | ".quit") {
            break;
        }
        let answer = rt.block_on(async {
            let work = async {
                match agent.as_mut() {
                    Some(a) => a.ask(&session, q, &mut show_event).await.map_err(|e| e.to_string()),
                    None => Ok(agent::offline_answer(&session, q, &mut show_event).await),
                }
            };
            tokio::select! {
                r = work => Some(r),
                _ = tokio::signal::ctrl_c() => None,
            }
        });
        match answer {
            Some(Ok(text)) => println!("\n{}\n", text.trim()),
            Some(Err(e)) => eprintln!("netql: error: {e}"),
            None => eprintln!("(cancelled)"),
        }
    }
    rt.block_on(session.close());
    Ok(Exit::Success)
}

// ---------------------------------------------------------------------------------------------
// Shell

/// `netql shell`: the interactive query shell, or a script from stdin when it is not a terminal.
pub fn shell(ctx: &Ctx, files: &[String]) -> Result<Exit> {
    Ok(netql::shell::run(&ctx.cfg, &ctx.opts, ctx.engine(), files)?)
}

/// Signal handlers of a capture: Ctrl-C and SIGTERM only raise the returned flag (the capture
/// loop sees it within its read timeout, then flushes and closes the file); a second signal ends
/// the process at once (exit 130/143). Dropping the guard removes the handlers.
pub fn stop_on_signals() -> Result<(Arc<std::sync::atomic::AtomicBool>, SignalGuard)> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut ids = Vec::new();
    for (sig, code) in [(signal_hook::consts::SIGINT, 130), (signal_hook::consts::SIGTERM, 143)] {
        ids.push(signal_hook::flag::register_conditional_shutdown(
            sig,
            code,
            Arc::clone(&stop),
        )?);
        ids.push(signal_hook::flag::register(sig, Arc::clone(&stop))?);
    }
    Ok((stop, SignalGuard(ids)))
}

/// Removes the handlers of [`stop_on_signals`] when dropped.
pub struct SignalGuard(Vec<signal_hook::SigId>);

impl Drop for SignalGuard {
    fn drop(&mut self) {
        for id in self.0.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}
