//! `netql analyze`: the canned suite as a report (protocols, top devices, security findings with
//! evidence, a verdict), for each capture and for the set.

use std::sync::Arc;

use anyhow::Result;
use netql::error::Exit;
use netql::query::analyze::{self, Analysis};
use netql::query::bindings::Severity;
use netql::query::engine::Captures;
use netql::render::Format;

use crate::cli::context::{Ctx, keep_for_queries, lake_data, load_many};

/// `format`: table, json or markdown.
pub fn analyze(
    ctx: &Ctx,
    specs: &[String],
    lake: &crate::cli::context::LakeArgs,
    format: Format,
    fail_on: Option<Severity>,
) -> Result<Exit> {
    if let Some(data) = lake_data(lake, specs)? {
        let overall = analyze::analyze(data, &ctx.engine(), &ctx.cfg.queries_dir);
        return report(&overall, &[], None, format, fail_on, false);
    }
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
    let overall = analyze::analyze(all.clone(), &engine, &ctx.cfg.queries_dir);
    report(&overall, &per_capture, Some((&all, &engine)), format, fail_on, failed)
}

/// Print the analysis (and each capture's, when there are several) and say how it ended. The
/// sparkline is drawn from `traffic` (the captures) on a terminal.
fn report(
    overall: &Analysis,
    per_capture: &[Analysis],
    traffic: Option<(&Arc<Captures>, &netql::query::engine::ScriptEngine)>,
    format: Format,
    fail_on: Option<Severity>,
    failed: bool,
) -> Result<Exit> {
    let several = !per_capture.is_empty();
    match format {
        Format::Json => {
            let mut v = overall.to_json();
            if several {
                v["captures"] = serde_json::Value::Array(per_capture.iter().map(|a| a.to_json()).collect());
            }
            println!("{}", netql::safe_text::json(serde_json::to_string_pretty(&v)?));
        }
        _ => {
            for a in per_capture {
                println!("{}", netql::render::analysis(a, format));
            }
            if several {
                println!(
                    "{}",
                    if format == Format::Markdown {
                        "---\n"
                    } else {
                        "==== All captures together ====\n"
                    }
                );
            }
            println!("{}", netql::render::analysis(overall, format));
            // On a terminal, the traffic over time in one line.
            if format == Format::Table
                && std::io::IsTerminal::is_terminal(&std::io::stdout())
                && let Some((all, engine)) = traffic
                && let Ok((interval, points)) =
                    netql::query::report_data::bandwidth(all, engine, overall.first_ns, overall.last_ns)
                && !points.is_empty()
            {
                let bytes: Vec<u64> = points.iter().map(|p| p.bytes).collect();
                println!(
                    "traffic (bytes per {interval}): {}",
                    netql::render::report::sparkline(&bytes)
                );
            }
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
