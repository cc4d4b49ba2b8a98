//! result: what a script produced (a table, a value, findings with their evidence) in the chosen
//! format.

use polars::prelude::*;
use serde_json::Value;

use crate::query::analyze::{Reported, finding_json};
use crate::query::engine::{FindingOut, Output, RunResult, cited_frames};
use crate::render::format::Format;
use crate::render::table::{csv_row, dataframe, text_table};
use crate::safe_text;
use crate::table::values::cell_text;

// ---------------------------------------------------------------------------------------------
// Script results, findings and analysis reports

/// A script's result in the chosen format. Whatever text it holds (from packets or from the
/// script) comes out escaped ([`safe_text`]).
pub fn output(r: &RunResult, format: Format, max_rows: usize) -> String {
    let out = match &r.output {
        Output::Table(df) => dataframe(df, format, max_rows),
        Output::Value(v) => match format {
            Format::Table | Format::Markdown => value_text(v),
            _ => safe_text::json(serde_json::to_string_pretty(v).unwrap_or_default()),
        },
        Output::Findings(fs) => {
            let reported: Vec<Reported> = fs
                .iter()
                .map(|f| Reported {
                    query: String::new(),
                    finding: f.clone(),
                })
                .collect();
            findings(&reported, format, max_rows)
        }
        Output::Nothing => match format {
            Format::Json | Format::Ndjson => "null".into(),
            _ => String::new(),
        },
    };
    if !matches!(format, Format::Table | Format::Markdown) {
        return out;
    }
    let mut out = safe_text::text(&out).into_owned();
    for f in &r.failures {
        out.push_str(&format!("\nFAILED: {}", safe_text::line(f)));
    }
    out
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Object(m) => {
            let rows: Vec<Vec<String>> = m.iter().map(|(k, v)| vec![k.clone(), value_text(v)]).collect();
            text_table(&["key", "value"], &rows, &[])
        }
        other => other.to_string(),
    }
}

fn severity_tag(f: &FindingOut) -> String {
    format!("[{}]", f.severity.name().to_uppercase())
}

/// Findings with their evidence, for people (table/markdown) or machines (json/ndjson/csv).
pub fn findings(fs: &[Reported], format: Format, max_rows: usize) -> String {
    match format {
        Format::Json => safe_text::json(
            serde_json::to_string_pretty(&Value::Array(fs.iter().map(finding_json).collect())).unwrap_or_default(),
        ),
        Format::Ndjson => safe_text::json(
            fs.iter()
                .map(|f| finding_json(f).to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        Format::Csv => {
            let mut s = String::from("query,severity,title,src,frames");
            for r in fs {
                let j = finding_json(r);
                let frames = j["frames"]
                    .as_array()
                    .map(|a| a.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" "))
                    .unwrap_or_default();
                s.push('\n');
                s.push_str(&csv_row([
                    r.query.clone(),
                    r.finding.severity.name().to_string(),
                    r.finding.title.clone(),
                    src_text(&j["src"]),
                    frames,
                ]));
            }
            s
        }
        Format::Table | Format::Markdown => {
            if fs.is_empty() {
                return "No findings.".into();
            }
            let mut out = String::new();
            for r in fs {
                let f = &r.finding;
                // One line each, whatever the title holds (a title with a line break could
                // otherwise forge a line of the report).
                let title = safe_text::line(&f.title);
                if format == Format::Markdown {
                    out.push_str(&format!("- **{}** {title}\n", f.severity.name().to_uppercase()));
                } else {
                    out.push_str(&format!("{} {title}\n", severity_tag(f)));
                }
                if let Some(ev) = &f.evidence {
                    out.push_str(&evidence_line(ev, f.evidence_total, format));
                    if ev.height() > 1 || r.query.is_empty() {
                        let shown = dataframe(ev, format, max_rows.min(10));
                        for line in shown.lines() {
                            out.push_str("    ");
                            out.push_str(line);
                            out.push('\n');
                        }
                    }
                }
            }
            safe_text::text(&out).into_owned()
        }
    }
}

fn src_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `evidence: frames 12, 13, 14 … in sample.pcap`
fn evidence_line(ev: &DataFrame, total: usize, format: Format) -> String {
    let frames = cited_frames(ev);
    let file = ev
        .column("file")
        .ok()
        .and_then(|c| c.get(0).ok())
        .map(|v| cell_text(&v))
        .unwrap_or_default();
    let mut list: Vec<String> = frames.iter().take(12).map(|f| f.to_string()).collect();
    if frames.len() > 12 {
        list.push("…".into());
    }
    let pad = if format == Format::Markdown { "  " } else { "    " };
    if list.is_empty() {
        format!("{pad}evidence: {total} row(s)\n")
    } else {
        // And how to take them to Wireshark.
        format!(
            "{pad}evidence: frames {} in {}\n{pad}carve: {}\n",
            list.join(", "),
            safe_text::line(&file),
            safe_text::line(&crate::query::analyze::carve_command(&file, &frames))
        )
    }
}
