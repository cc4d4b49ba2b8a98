//! html: `netql report` — one self-contained HTML page (no network access when opened: no CDN,
//! fonts or scripts from outside; the charts are inline SVG drawn by plotters): the capture
//! facts, traffic over time, protocol share, top talkers and conversations, and the findings
//! with their severity, facts, evidence frames and carve command.

use plotters::prelude::*;

use crate::query::analyze::{carve_command, finding_json};
use crate::query::report_data::{Point, ReportData};
use crate::safe_text;
use crate::units;

/// Text for HTML: control characters escaped (safe_text), markup characters as entities.
fn esc(s: &str) -> String {
    safe_text::line(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A bar chart of `values` as inline SVG, one `<rect>` per value (no background, no text: the
/// labels are the page's own table).
fn bars(values: &[u64], (w, h): (u32, u32), color: RGBColor) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
        let n = values.len().max(1) as f64;
        let step = w as f64 / n;
        for (i, v) in values.iter().enumerate() {
            let x0 = (i as f64 * step) as i32;
            let x1 = (((i + 1) as f64 * step) as i32 - 1).max(x0 + 1);
            let top = h as i32 - ((*v as f64 / max) * (h as f64 - 4.0)) as i32;
            let _ = root.draw(&Rectangle::new([(x0, top), (x1, h as i32)], color.filled()));
        }
        let _ = root.present();
    }
    svg
}

fn chart(id: &str, title: &str, values: &[u64], color: RGBColor) -> String {
    format!(
        "<figure class=\"chart\" id=\"{id}\" data-bars=\"{}\"><figcaption>{}</figcaption>{}</figure>\n",
        values.len(),
        esc(title),
        bars(values, (900, 160), color)
    )
}

fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in headers {
        s.push_str(&format!("<th>{}</th>", esc(h)));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            s.push_str(&format!("<td>{}</td>", esc(c)));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>\n");
    s
}

fn ranked(points: &[Point]) -> Vec<Vec<String>> {
    points
        .iter()
        .map(|p| vec![p.label.clone(), units::human_bytes(p.bytes), p.packets.to_string()])
        .collect()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:1000px;color:#222}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}\
figure{margin:.5em 0}figcaption{font-size:.9em;color:#555}.sev{font-weight:bold}\
.critical,.high{color:#b00}.medium{color:#b60}.low,.info{color:#555}code{font-size:.85em}";

/// The report page; with `changes`, a section on what changed since a baseline.
pub fn report(d: &ReportData, changes: Option<&crate::query::diff::Diff>) -> String {
    let a = &d.analysis;
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str(&format!("<title>netql report: {}</title>", esc(&a.files.join(", "))));
    out.push_str(&format!("<style>{STYLE}</style></head><body>\n"));
    out.push_str(&format!("<h1>netql report: {}</h1>\n", esc(&a.files.join(", "))));
    let span = crate::render::report::span_text(a.first_ns, a.last_ns);
    out.push_str(&format!(
        "<p id=\"facts\">{} packets, {} over {}. Verdict: {}</p>\n",
        a.packets,
        units::human_bytes(a.bytes),
        esc(&span),
        esc(&a.verdict())
    ));
    out.push_str(&format!("<h2>Traffic over time (per {})</h2>\n", esc(&d.interval)));
    let bw: Vec<u64> = d.bandwidth.iter().map(|p| p.bytes).collect();
    let pk: Vec<u64> = d.bandwidth.iter().map(|p| p.packets).collect();
    out.push_str(&chart(
        "bandwidth-bytes",
        "bytes per interval",
        &bw,
        RGBColor(0x33, 0x66, 0xcc),
    ));
    out.push_str(&chart(
        "bandwidth-packets",
        "packets per interval",
        &pk,
        RGBColor(0x33, 0x99, 0x66),
    ));
    out.push_str("<h2>Protocol share (frames)</h2>\n");
    let pf: Vec<u64> = d.protocols.iter().map(|p| p.packets).collect();
    out.push_str(&chart(
        "protocols",
        "frames per protocol",
        &pf,
        RGBColor(0x99, 0x66, 0xcc),
    ));
    out.push_str(&table(&["protocol", "bytes", "frames"], &ranked(&d.protocols)));
    out.push_str("<h2>Top talkers (bytes sent and received)</h2>\n");
    let tb: Vec<u64> = d.talkers.iter().map(|p| p.bytes).collect();
    out.push_str(&chart("talkers", "bytes per host", &tb, RGBColor(0xcc, 0x66, 0x33)));
    out.push_str(&table(&["host", "bytes", "packets"], &ranked(&d.talkers)));
    out.push_str("<h2>Top conversations</h2>\n");
    let cb: Vec<u64> = d.conversations.iter().map(|p| p.bytes).collect();
    out.push_str(&chart(
        "conversations",
        "bytes per conversation",
        &cb,
        RGBColor(0xcc, 0x99, 0x33),
    ));
    out.push_str(&table(&["conversation", "bytes", "packets"], &ranked(&d.conversations)));
    if let Some(c) = changes {
        out.push_str(&format!(
            "<h2 id=\"changes\">Changes since {}</h2>\n",
            esc(&c.a.join(", "))
        ));
        // The diff report's lines, each escaped (it is plain text with tables).
        out.push_str("<pre>");
        for line in crate::render::diff::report(c).lines() {
            out.push_str(&esc(line));
            out.push('\n');
        }
        out.push_str("</pre>\n");
    }
    out.push_str(&format!("<h2 id=\"findings\">Findings ({})</h2>\n", a.findings.len()));
    if a.findings.is_empty() {
        out.push_str("<p>No scans, spoofing, clear-text logins, beaconing or odd ports found.</p>\n");
    }
    for r in &a.findings {
        let j = finding_json(r);
        let sev = r.finding.severity.name();
        out.push_str(&format!(
            "<div class=\"finding\"><p><span class=\"sev {sev}\">[{}]</span> {}</p>",
            sev.to_uppercase(),
            esc(&r.finding.title)
        ));
        let facts: Vec<Vec<String>> = r
            .finding
            .facts
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "frames" | "file"))
            .map(|(k, v)| {
                vec![
                    k.clone(),
                    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()),
                ]
            })
            .collect();
        out.push_str(&table(&["fact", "value"], &facts));
        if let (Some(file), Some(frames)) = (j["file"].as_str(), j["frames"].as_array()) {
            let frames: Vec<u64> = frames.iter().filter_map(|f| f.as_u64()).collect();
            let list: Vec<String> = frames.iter().map(u64::to_string).collect();
            out.push_str(&format!(
                "<p>evidence: frames {} in {}<br>carve: <code>{}</code></p>",
                esc(&list.join(", ")),
                esc(file),
                esc(&carve_command(file, &frames))
            ));
        }
        out.push_str("</div>\n");
    }
    out.push_str("<p><small>Made by netql.</small></p></body></html>\n");
    out
}
