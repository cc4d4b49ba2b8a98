//! render: results -> text for people (tables) or machines (JSON, NDJSON, CSV, Markdown).
//! Every front-end prints through here, so the same result reads the same everywhere.

use crate::query::analyze::{Analysis, Reported, finding_json};
use crate::query::engine::{FindingOut, Output, RunResult, cited_frames};
use crate::units;
use polars::prelude::*;
use serde_json::{Map, Value};
use tabled::builder::Builder;
use tabled::settings::{Alignment, Style, object::Columns};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Ndjson,
    Csv,
    Markdown,
}

/// A header row and rows in the rounded style every terminal table uses.
fn rounded_table(headers: &[&str], rows: &[Vec<String>]) -> tabled::Table {
    let mut b = Builder::default();
    b.push_record(headers.iter().map(|h| h.to_string()));
    for r in rows {
        b.push_record(r.iter().cloned());
    }
    let mut t = b.build();
    t.with(Style::rounded());
    t
}

/// A table of strings with a header row, drawn for a terminal.
pub fn text_table(headers: &[&str], rows: &[Vec<String>], right_align: &[usize]) -> String {
    let mut t = rounded_table(headers, rows);
    for &i in right_align {
        t.modify(Columns::one(i), Alignment::right());
    }
    t.to_string()
}

/// Like [`text_table`], with column `wrap_col` wrapped at `width` characters (long descriptions).
pub fn text_table_wrapped(headers: &[&str], rows: &[Vec<String>], wrap_col: usize, width: usize) -> String {
    let mut t = rounded_table(headers, rows);
    t.modify(
        Columns::one(wrap_col),
        tabled::settings::Width::wrap(width).keep_words(true),
    );
    t.to_string()
}

/// The same rows as a GitHub-flavoured Markdown table.
pub fn markdown_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut b = Builder::default();
    b.push_record(headers.iter().map(|h| h.to_string()));
    for r in rows {
        b.push_record(r.iter().map(|c| c.replace('|', "\\|")));
    }
    let mut t = b.build();
    t.with(Style::markdown());
    t.to_string()
}

/// Longest cell shown in a table (packet-derived text can be huge).
pub const CELL_CHARS: usize = 200;

/// Packet-derived text in a text table: control and bidi characters escaped, long cells cut.
pub fn clean_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(CELL_CHARS + 8));
    for (i, c) in s.chars().enumerate() {
        if i >= CELL_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control()
                || ('\u{200b}'..='\u{200f}').contains(&c)
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c) =>
            {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Text of one cell as a person reads it (no quotes around strings, empty for null).
pub fn cell_text(v: &AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::Float64(f) => format_float(*f),
        AnyValue::Float32(f) => format_float(*f as f64),
        AnyValue::List(s) => {
            let items: Vec<String> = s.iter().map(|v| cell_text(&v)).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.str_value().into_owned(),
    }
}

fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else {
        let s = format!("{f:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// JSON value of one cell: numbers stay numbers, text stays text, times become RFC 3339.
pub fn cell_json(v: &AnyValue<'_>) -> Value {
    match v {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::UInt8(x) => Value::from(*x),
        AnyValue::UInt16(x) => Value::from(*x),
        AnyValue::UInt32(x) => Value::from(*x),
        AnyValue::UInt64(x) => Value::from(*x),
        AnyValue::Int8(x) => Value::from(*x),
        AnyValue::Int16(x) => Value::from(*x),
        AnyValue::Int32(x) => Value::from(*x),
        AnyValue::Int64(x) => Value::from(*x),
        AnyValue::Float32(x) => serde_json::Number::from_f64(*x as f64).map_or(Value::Null, Value::Number),
        AnyValue::Float64(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
        AnyValue::Datetime(ns, unit, _) | AnyValue::DatetimeOwned(ns, unit, _) => {
            let ns = match unit {
                TimeUnit::Nanoseconds => *ns,
                TimeUnit::Microseconds => ns * 1_000,
                TimeUnit::Milliseconds => ns * 1_000_000,
            };
            Value::String(crate::units::rfc3339_ns(ns))
        }
        AnyValue::List(s) => Value::Array(s.iter().map(|v| cell_json(&v)).collect()),
        other => Value::String(other.str_value().into_owned()),
    }
}

/// Rows of a frame as JSON objects keyed by column name.
pub fn frame_json_rows(df: &DataFrame) -> Vec<Value> {
    let cols = df.columns();
    (0..df.height())
        .map(|i| {
            let mut m = Map::new();
            for c in cols {
                let v = c.get(i).unwrap_or(AnyValue::Null);
                m.insert(c.name().to_string(), cell_json(&v));
            }
            Value::Object(m)
        })
        .collect()
}

/// A frame as text in the chosen format. Tables show at most `max_rows` rows and then say how
/// many more there are.
pub fn frame(df: &DataFrame, format: Format, max_rows: usize) -> String {
    match format {
        Format::Json => {
            let rows = frame_json_rows(df);
            serde_json::to_string_pretty(&Value::Array(rows)).unwrap_or_default()
        }
        Format::Ndjson => frame_json_rows(df)
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        Format::Csv => frame_csv(df),
        Format::Table | Format::Markdown => {
            let headers: Vec<&str> = df.get_column_names().iter().map(|s| s.as_str()).collect();
            let shown = df.height().min(max_rows);
            // Packet-derived text never reaches a terminal raw (no escape sequences, no bidi tricks).
            let rows: Vec<Vec<String>> = (0..shown)
                .map(|i| {
                    df.columns()
                        .iter()
                        .map(|c| clean_cell(&cell_text(&c.get(i).unwrap_or(AnyValue::Null))))
                        .collect()
                })
                .collect();
            let numeric: Vec<usize> = df
                .columns()
                .iter()
                .enumerate()
                .filter(|(_, c)| c.dtype().is_primitive_numeric())
                .map(|(i, _)| i)
                .collect();
            let mut out = if format == Format::Table {
                text_table(&headers, &rows, &numeric)
            } else {
                markdown_table(&headers, &rows)
            };
            let more = df.height() - shown;
            if more > 0 {
                out.push_str(&format!("\n… {more} more rows ({} in all)", df.height()));
            }
            out
        }
    }
}

fn frame_csv(df: &DataFrame) -> String {
    let mut w = csv_escape_row(df.get_column_names().iter().map(|s| s.to_string()));
    for i in 0..df.height() {
        w.push('\n');
        w.push_str(&csv_escape_row(
            df.columns()
                .iter()
                .map(|c| cell_text(&c.get(i).unwrap_or(AnyValue::Null))),
        ));
    }
    w
}

fn csv_escape_row(cells: impl Iterator<Item = String>) -> String {
    cells
        .map(|c| {
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

// ---------------------------------------------------------------------------------------------
// Script results, findings and analysis reports

/// A script's result in the chosen format.
pub fn output(r: &RunResult, format: Format, max_rows: usize) -> String {
    let mut out = match &r.output {
        Output::Table(df) => frame(df, format, max_rows),
        Output::Value(v) => match format {
            Format::Table | Format::Markdown => value_text(v),
            _ => serde_json::to_string_pretty(v).unwrap_or_default(),
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
    if !r.failures.is_empty() && matches!(format, Format::Table | Format::Markdown) {
        for f in &r.failures {
            out.push_str(&format!("\nFAILED: {f}"));
        }
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
        Format::Json => {
            serde_json::to_string_pretty(&Value::Array(fs.iter().map(finding_json).collect())).unwrap_or_default()
        }
        Format::Ndjson => fs
            .iter()
            .map(|f| finding_json(f).to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        Format::Csv => {
            let mut s = String::from("query,severity,title,src,frames");
            for r in fs {
                let j = finding_json(r);
                let frames = j["frames"]
                    .as_array()
                    .map(|a| a.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" "))
                    .unwrap_or_default();
                s.push('\n');
                s.push_str(&csv_escape_row(
                    [
                        r.query.clone(),
                        r.finding.severity.name().to_string(),
                        r.finding.title.clone(),
                        src_text(&j["src"]),
                        frames,
                    ]
                    .into_iter(),
                ));
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
                if format == Format::Markdown {
                    out.push_str(&format!("- **{}** {}\n", f.severity.name().to_uppercase(), f.title));
                } else {
                    out.push_str(&format!("{} {}\n", severity_tag(f), f.title));
                }
                if let Some(ev) = &f.evidence {
                    out.push_str(&evidence_line(ev, f.evidence_total, format));
                    if ev.height() > 1 || r.query.is_empty() {
                        let shown = frame(ev, format, max_rows.min(10));
                        for line in shown.lines() {
                            out.push_str("    ");
                            out.push_str(line);
                            out.push('\n');
                        }
                    }
                }
            }
            out
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
        format!("{pad}evidence: frames {} in {file}\n", list.join(", "))
    }
}

/// The analysis as a report a person reads (table/markdown) or as JSON.
pub fn analysis(a: &Analysis, format: Format) -> String {
    match format {
        Format::Json | Format::Ndjson => serde_json::to_string_pretty(&a.to_json()).unwrap_or_default(),
        Format::Csv => findings(&a.findings, Format::Csv, 0),
        Format::Table | Format::Markdown => {
            let md = format == Format::Markdown;
            let h = |t: &str| {
                if md {
                    format!("\n## {t}\n\n")
                } else {
                    format!("\n{t}\n")
                }
            };
            let mut out = String::new();
            let title = if a.files.len() == 1 {
                a.files[0].clone()
            } else {
                format!("{} captures", a.files.len())
            };
            out.push_str(&if md {
                format!("# netql analysis: {title}\n\n")
            } else {
                format!("netql analysis: {title}\n")
            });
            let span = match (a.first_ns, a.last_ns) {
                (Some(x), Some(y)) => format!(
                    "{} to {} ({})",
                    units::human_time(x),
                    units::human_time(y),
                    units::human_duration(y - x)
                ),
                _ => "no packets".into(),
            };
            out.push_str(&format!(
                "  {} packets, {} over {}\n",
                a.packets,
                units::human_bytes(a.bytes),
                span
            ));
            if a.files.len() > 1 {
                out.push_str(&format!("  files: {}\n", a.files.join(", ")));
            }
            if let Some(p) = &a.protocols {
                out.push_str(&h("Protocols"));
                let p = p
                    .select(["protocol", "frames", "frames_pct", "bytes", "bytes_pct"])
                    .unwrap_or_else(|_| p.clone());
                out.push_str(&frame(&p, format, 12));
                out.push('\n');
            }
            if let Some(t) = &a.talkers {
                out.push_str(&h("Top devices"));
                out.push_str(&frame(t, format, 5));
                out.push('\n');
            }
            let issues = a
                .findings
                .iter()
                .filter(|r| r.finding.severity > crate::query::bindings::Severity::Info)
                .count();
            out.push_str(&h(&format!("Security status: {issues} finding(s)")));
            if issues == 0 {
                out.push_str("  No scans, spoofing, clear-text logins, beaconing or odd ports found.\n");
            }
            let mut ordered: Vec<Reported> = a.findings.clone();
            ordered.sort_by_key(|r| r.finding.severity == crate::query::bindings::Severity::Info);
            let text = findings(&ordered, format, 10);
            if !a.findings.is_empty() {
                for line in text.lines() {
                    out.push_str("  ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
            for (q, e) in &a.errors {
                out.push_str(&format!("  (query {q} failed: {e})\n"));
            }
            out.push_str(&h("Verdict"));
            out.push_str(&format!("  {}\n", a.verdict()));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_text_cannot_drive_the_terminal() {
        let evil = "evil\u{1b}[31mred\u{202e}txt.exe";
        let shown = clean_cell(evil);
        assert!(!shown.contains('\u{1b}') && !shown.contains('\u{202e}'), "{shown}");
        assert!(shown.starts_with("evil\\u{1b}"), "{shown}");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(
            csv_escape_row(["a,b".to_string(), "x\"y".into(), "z".into()].into_iter()),
            "\"a,b\",\"x\"\"y\",z"
        );
    }
}
