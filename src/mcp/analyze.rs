//! analyze: the `analyze` tool: the canned suite over one capture or all of them.

use std::time::Instant;

use polars::prelude::*;
use rmcp::model::CallToolResult;
use serde_json::Value;

use crate::mcp::paging::{BYTE_BUDGET, cut, fit, objects};
use crate::mcp::run::{finding_out, trim_evidence};
use crate::mcp::server::{NetqlServer, ms, tool_error, tool_ok};
use crate::mcp::types::{AnalyzeArgs, AnalyzeMode, AnalyzeOutput, LakeRange, QueryErrorOut};
use crate::query::analyze::{self, Analysis};
use crate::render::{self, Format};
use crate::units;

/// Capture names an analyze result lists at most (a lake can hold thousands).
const FILES_LISTED: usize = 50;

impl NetqlServer {
    pub(crate) fn do_analyze(&self, a: AnalyzeArgs) -> CallToolResult {
        let started = Instant::now();
        // Over a lake the question is the lake in scope: "all" unless asked otherwise.
        let mode = a.mode.unwrap_or(if self.inner.lake.is_some() {
            AnalyzeMode::All
        } else {
            AnalyzeMode::Latest
        });
        let specs = match (mode, a.file) {
            (AnalyzeMode::Latest, _) => vec!["latest".to_string()],
            (AnalyzeMode::All, _) => vec!["all".to_string()],
            (AnalyzeMode::File, Some(f)) => vec![f],
            (AnalyzeMode::File, None) => {
                return tool_error("mode \"file\" needs `file`: a capture name from list_captures");
            }
        };
        let range = LakeRange::of(a.from, a.to, a.sensor);
        let scoped = match self.scoped(&specs, &range) {
            Ok(s) => s,
            Err(e) => return tool_error(e),
        };
        let covered = scoped.packets;
        let engine = self.engine();
        let mut an: Analysis = analyze::analyze(scoped.data, &engine, &self.inner.cfg.queries_dir);
        // Most severe first, so the budget keeps what matters.
        an.findings.sort_by_key(|r| std::cmp::Reverse(r.finding.severity));
        let items: Vec<Value> = an.findings.iter().map(finding_out).collect();
        let n = fit(&items, BYTE_BUDGET);
        let total = items.len();
        let rows = |df: &Option<DataFrame>| {
            df.as_ref()
                .map(|d| objects(crate::table::values::rows_json(d)))
                .unwrap_or_default()
        };
        let out = AnalyzeOutput {
            mode: match mode {
                AnalyzeMode::Latest => "latest",
                AnalyzeMode::All => "all",
                AnalyzeMode::File => "file",
            }
            .to_string(),
            files: an.files.iter().take(FILES_LISTED).cloned().collect(),
            files_total: an.files.len() as u64,
            packets: an.packets,
            bytes: an.bytes,
            first_ts: an.first_ns.map(units::rfc3339_ns),
            last_ts: an.last_ns.map(units::rfc3339_ns),
            protocols: rows(&an.protocols),
            top_talkers: rows(&an.talkers),
            findings: objects(items.into_iter().take(n).collect()),
            findings_total: total as u64,
            findings_truncated: n < total,
            errors: an
                .errors
                .iter()
                .map(|(q, e)| QueryErrorOut {
                    query: q.clone(),
                    error: e.clone(),
                })
                .collect(),
            verdict: an.verdict(),
            worst_severity: an.worst().map(|s| s.name().to_string()),
            packets_covered: covered,
            elapsed_ms: ms(started.elapsed()),
        };
        let mut shown = an.clone();
        shown.findings = an.findings.iter().take(n).cloned().map(trim_evidence).collect();
        let mut text = render::analysis(&shown, Format::Table);
        if n < total {
            text.push_str(&format!(
                "\n({} more findings left out to stay within the size budget; run_query with a query name lists them all)",
                total - n
            ));
        }
        text.push_str(&format!("\n({} ms)", out.elapsed_ms));
        tool_ok(&out, cut(text, BYTE_BUDGET))
    }
}
