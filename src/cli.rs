//! Command implementations for the binary. Each returns an [`Outcome`] (or an error, which
//! `main` reports and turns into exit code 2).

use std::process::ExitCode;

use anyhow::Result;
use netql::catalog::{self, CaptureFile};
use netql::config::Config;
use netql::frame::{FLOW_SCHEMA, PACKET_SCHEMA};
use netql::load::{self, LoadOptions};
use netql::render;
use netql::summary;
use serde_json::json;

/// What a command found, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Ran, nothing to report: exit 0.
    Success,
    /// Ran, and a check or finding failed: exit 1.
    #[allow(dead_code)] // produced by `check` and `analyze`
    Failure,
    /// Part of the work could not be done (e.g. one of several captures is unreadable): exit 2.
    Error,
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Failure => ExitCode::from(1),
            Outcome::Error => ExitCode::from(2),
        }
    }
}

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

pub fn summary(ctx: &Ctx, specs: &[String], format: SummaryFormat) -> Result<Outcome> {
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
        let s = summary::summarize(&cap.name, &loaded.packets)?;
        match format {
            SummaryFormat::Json => println!("{}", serde_json::to_string(&s)?),
            SummaryFormat::Table => {
                if i > 0 {
                    println!();
                }
                print!("{}", summary::report(&s));
            }
        }
    }
    Ok(if failed { Outcome::Error } else { Outcome::Success })
}

pub fn captures(ctx: &Ctx, format: SummaryFormat) -> Result<Outcome> {
    let files = catalog::list(&ctx.cfg.captures_dir)?;
    let mut failed = false;
    let mut rows = Vec::new();
    let mut objs = Vec::new();
    for f in &files {
        let meta = load::capture_meta(f, &ctx.opts);
        let modified = f
            .modified
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| render::rfc3339_ns(d.as_nanos() as i64))
            .unwrap_or_default();
        match meta {
            Ok(m) => {
                let span = match (m.first_ts, m.last_ts) {
                    (Some(a), Some(b)) => render::human_duration(b - a),
                    _ => "-".into(),
                };
                rows.push(vec![
                    f.name.clone(),
                    render::human_bytes(f.size),
                    m.packets.to_string(),
                    m.first_ts.map(render::rfc3339_ns).unwrap_or_else(|| "-".into()),
                    span,
                    m.link_types.join(", "),
                ]);
                objs.push(json!({
                    "name": f.name, "path": f.path, "size": f.size, "modified": modified,
                    "packets": m.packets, "bytes": m.bytes,
                    "first_ts": m.first_ts.map(render::rfc3339_ns),
                    "last_ts": m.last_ts.map(render::rfc3339_ns),
                    "link_types": m.link_types, "error": null,
                }));
            }
            Err(e) => {
                failed = true;
                rows.push(vec![
                    f.name.clone(),
                    render::human_bytes(f.size),
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
    Ok(if failed { Outcome::Error } else { Outcome::Success })
}

pub fn schema(format: SummaryFormat) -> Result<Outcome> {
    match format {
        SummaryFormat::Json => {
            let cols = |s: &[netql::frame::ColumnDef]| {
                s.iter()
                    .map(|d| json!({"name": d.name, "type": d.kind, "meaning": d.meaning}))
                    .collect::<Vec<_>>()
            };
            let v = json!({"packets": cols(PACKET_SCHEMA), "flows": cols(FLOW_SCHEMA)});
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        SummaryFormat::Table => {
            for (title, s) in [("packets()", PACKET_SCHEMA), ("flows()", FLOW_SCHEMA)] {
                let rows: Vec<Vec<String>> = s
                    .iter()
                    .map(|d| vec![d.name.to_string(), d.kind.to_string(), d.meaning.to_string()])
                    .collect();
                println!("{title}: {} columns", s.len());
                println!("{}", render::text_table(&["column", "type", "meaning"], &rows, &[]));
            }
        }
    }
    Ok(Outcome::Success)
}
