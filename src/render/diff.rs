//! diff: what `netql diff` found, as a short report (the JSON form is the `Diff` itself).

use crate::query::diff::Diff;
use crate::render::table::text_table;
use crate::safe_text;

/// Items shown per list before "… N more".
const SHOWN: usize = 20;

fn list(items: &[String]) -> String {
    let mut shown: Vec<String> = items
        .iter()
        .take(SHOWN)
        .map(|s| safe_text::line(s).into_owned())
        .collect();
    if items.len() > SHOWN {
        shown.push(format!("… {} more", items.len() - SHOWN));
    }
    shown.join(", ")
}

/// The report, escaped.
pub fn report(d: &Diff) -> String {
    safe_text::text(&report_text(d)).into_owned()
}

fn report_text(d: &Diff) -> String {
    let mut out = format!("netql diff: {} → {}\n", d.a.join(", "), d.b.join(", "));
    if d.is_empty() {
        out.push_str("  no changes\n");
        return out;
    }
    for (name, c) in &d.sets {
        if c.added.is_empty() && c.removed.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n{} (+{} −{})\n",
            name.replace('_', " "),
            c.added.len(),
            c.removed.len()
        ));
        if !c.added.is_empty() {
            out.push_str(&format!("  + {}\n", list(&c.added)));
        }
        if !c.removed.is_empty() {
            out.push_str(&format!("  − {}\n", list(&c.removed)));
        }
    }
    if !d.protocols.is_empty() {
        out.push_str("\nprotocol share (frames)\n");
        let rows: Vec<Vec<String>> = d
            .protocols
            .iter()
            .map(|s| {
                vec![
                    s.protocol.clone(),
                    format!("{:.1}%", s.pct_a),
                    format!("{:.1}%", s.pct_b),
                ]
            })
            .collect();
        out.push_str(&text_table(&["protocol", "before", "after"], &rows, &[1, 2]));
        out.push('\n');
    }
    if !d.volume.is_empty() {
        out.push_str("\nvolume per host\n");
        let rows: Vec<Vec<String>> = d
            .volume
            .iter()
            .take(SHOWN)
            .map(|v| {
                vec![
                    v.host.clone(),
                    crate::units::human_bytes(v.bytes_a),
                    crate::units::human_bytes(v.bytes_b),
                ]
            })
            .collect();
        out.push_str(&text_table(&["host", "before", "after"], &rows, &[1, 2]));
        out.push('\n');
    }
    for (label, fs) in [("new findings", &d.new_findings), ("findings gone", &d.gone_findings)] {
        if fs.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{label} ({})\n", fs.len()));
        for f in fs {
            out.push_str(&format!(
                "  [{}] {}\n",
                f["severity"].as_str().unwrap_or("").to_uppercase(),
                safe_text::line(f["title"].as_str().unwrap_or(""))
            ));
        }
    }
    out
}
