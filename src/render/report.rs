//! report: the analysis of a set of captures and the summary of one, as reports a person reads
//! (table/Markdown) or as JSON.

use crate::query::analyze::{Analysis, Reported};
use crate::query::bindings::Severity;
use crate::query::summary::Summary;
use crate::render::format::Format;
use crate::render::result::findings;
use crate::render::table::{dataframe, text_table};
use crate::safe_text;
use crate::units;

/// `first to last (duration)` of an analysis, or "no packets".
pub fn span_text(first_ns: Option<i64>, last_ns: Option<i64>) -> String {
    match (first_ns, last_ns) {
        (Some(x), Some(y)) => format!(
            "{} to {} ({})",
            units::human_time(x),
            units::human_time(y),
            units::human_duration(y - x)
        ),
        _ => "no packets".into(),
    }
}

/// The analysis as a report a person reads (table/markdown) or as JSON.
pub fn analysis(a: &Analysis, format: Format) -> String {
    match format {
        Format::Json | Format::Ndjson => {
            safe_text::json(serde_json::to_string_pretty(&a.to_json()).unwrap_or_default())
        }
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
                safe_text::line(&a.files[0]).into_owned()
            } else {
                format!("{} captures", a.files.len())
            };
            out.push_str(&if md {
                format!("# netql analysis: {title}\n\n")
            } else {
                format!("netql analysis: {title}\n")
            });
            let span = span_text(a.first_ns, a.last_ns);
            out.push_str(&format!(
                "  {} packets, {} over {}\n",
                a.packets,
                units::human_bytes(a.bytes),
                span
            ));
            if a.files.len() > 1 {
                out.push_str(&format!("  files: {}\n", safe_text::line(&a.files.join(", "))));
            }
            if let Some(p) = &a.protocols {
                out.push_str(&h("Protocols"));
                let p = p
                    .select(["protocol", "frames", "frames_pct", "bytes", "bytes_pct"])
                    .unwrap_or_else(|_| p.clone());
                out.push_str(&dataframe(&p, format, 12));
                out.push('\n');
            }
            if let Some(t) = &a.talkers {
                out.push_str(&h("Top devices"));
                out.push_str(&dataframe(t, format, 5));
                out.push('\n');
            }
            let issues = a
                .findings
                .iter()
                .filter(|r| r.finding.severity > Severity::Info)
                .count();
            out.push_str(&h(&format!("Security status: {issues} finding(s)")));
            if issues == 0 {
                out.push_str("  No scans, spoofing, clear-text logins, beaconing or odd ports found.\n");
            }
            let mut ordered: Vec<Reported> = a.findings.clone();
            ordered.sort_by_key(|r| r.finding.severity == Severity::Info);
            let text = findings(&ordered, format, 10);
            if !a.findings.is_empty() {
                for line in text.lines() {
                    out.push_str("  ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
            for (q, e) in &a.errors {
                out.push_str(&format!("  (query {q} failed: {})\n", safe_text::line(e)));
            }
            out.push_str(&h("Verdict"));
            out.push_str(&format!("  {}\n", a.verdict()));
            safe_text::text(&out).into_owned()
        }
    }
}

/// The summary as a short report for a terminal.
pub fn summary(s: &Summary) -> String {
    let mut out = String::new();
    let span = match (s.first_ns, s.last_ns) {
        (Some(a), Some(b)) => format!(
            "{} → {} ({})",
            units::human_time(a),
            units::human_time(b),
            units::human_duration(b - a)
        ),
        _ => "no packets".to_string(),
    };
    out.push_str(&format!(
        "{}\n  packets {}   bytes {} ({})\n  time    {}\n",
        safe_text::line(&s.file),
        s.packets,
        s.bytes,
        units::human_bytes(s.bytes),
        span
    ));
    if s.errors > 0 || s.truncated > 0 {
        out.push_str(&format!(
            "  frames with decode errors {}   truncated by snap length {}\n",
            s.errors, s.truncated
        ));
    }
    if !s.protocols.is_empty() {
        let mut rows: Vec<(&String, &u64)> = s.protocols.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|(name, n)| {
                let pct = if s.packets > 0 {
                    **n as f64 * 100.0 / s.packets as f64
                } else {
                    0.0
                };
                vec![safe_text::cell(name), n.to_string(), format!("{pct:.1}%")]
            })
            .collect();
        out.push_str(&text_table(&["protocol", "frames", "share"], &table, &[1, 2]));
        out.push('\n');
    }
    out
}

/// `▁▂▅█▃`: one block per value, scaled to the largest.
pub fn sparkline(values: &[u64]) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    values
        .iter()
        .map(|&v| {
            if v == 0 {
                ' '
            } else {
                BLOCKS[((v as f64 / max) * 7.0).round() as usize]
            }
        })
        .collect()
}
