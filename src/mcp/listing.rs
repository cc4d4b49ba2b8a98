//! listing: the `list_captures` and `list_queries` tools.

use std::time::Instant;

use rmcp::model::CallToolResult;

use crate::mcp::paging::{BYTE_BUDGET, cut};
use crate::mcp::server::{NetqlServer, ms, tool_error, tool_ok};
use crate::mcp::types::{CaptureInfo, CapturesOutput, ParamOut, QueriesOutput, QueryInfo};
use crate::query::canned;
use crate::render::{self};
use crate::units;

impl NetqlServer {
    pub(crate) fn do_list_captures(&self) -> CallToolResult {
        if let Some(lake) = &self.inner.lake {
            return self.do_list_lake(lake);
        }
        let started = Instant::now();
        let (root, files) = match self.listing() {
            Ok(x) => x,
            Err(e) => return tool_error(e),
        };
        let mut infos = Vec::new();
        let mut rows = Vec::new();
        for f in &files {
            let modified = f
                .modified
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .map(|d| units::rfc3339_ns(d.as_nanos() as i64));
            let (info, row) = match self.meta(f) {
                Ok(m) => {
                    let span = match (m.first_ts, m.last_ts) {
                        (Some(a), Some(b)) => Some((b - a) as f64 / 1e9),
                        _ => None,
                    };
                    let row = vec![
                        render::clean_cell(&f.name),
                        units::human_bytes(f.size),
                        m.packets.to_string(),
                        m.first_ts.map(units::rfc3339_ns).unwrap_or_else(|| "-".into()),
                        span.map(|s| units::human_duration((s * 1e9) as i64))
                            .unwrap_or_else(|| "-".into()),
                        m.link_types.join(", "),
                    ];
                    let info = CaptureInfo {
                        name: f.name.clone(),
                        size: f.size,
                        modified,
                        packets: Some(m.packets),
                        bytes: Some(m.bytes),
                        first_ts: m.first_ts.map(units::rfc3339_ns),
                        last_ts: m.last_ts.map(units::rfc3339_ns),
                        duration_s: span,
                        link_types: m.link_types,
                        error: None,
                        sensor: None,
                        sha256: None,
                    };
                    (info, row)
                }
                Err(e) => {
                    let row = vec![
                        render::clean_cell(&f.name),
                        units::human_bytes(f.size),
                        "?".into(),
                        "-".into(),
                        "-".into(),
                        format!("unreadable: {}", render::clean_cell(&e.to_string())),
                    ];
                    let info = CaptureInfo {
                        name: f.name.clone(),
                        size: f.size,
                        modified,
                        packets: None,
                        bytes: None,
                        first_ts: None,
                        last_ts: None,
                        duration_s: None,
                        link_types: Vec::new(),
                        error: Some(e.to_string()),
                        sensor: None,
                        sha256: None,
                    };
                    (info, row)
                }
            };
            infos.push(info);
            rows.push(row);
        }
        let text = if files.is_empty() {
            format!("No captures in {} yet.", root.display())
        } else {
            format!(
                "{} capture(s) in {}, newest first. Name them in `captures`, or use \"latest\" / \"all\".\n{}",
                files.len(),
                root.display(),
                render::text_table(
                    &["capture", "size", "packets", "first packet", "span", "link"],
                    &rows,
                    &[1, 2]
                )
            )
        };
        let out = CapturesOutput {
            captures_dir: root.display().to_string(),
            lake: None,
            count: infos.len() as u64,
            captures: infos,
            elapsed_ms: ms(started.elapsed()),
        };
        tool_ok(&out, cut(text, BYTE_BUDGET))
    }
}

impl NetqlServer {
    pub(crate) fn do_list_queries(&self) -> CallToolResult {
        let qs = canned::list(&self.inner.cfg.queries_dir);
        let infos: Vec<QueryInfo> = qs
            .iter()
            .map(|q| QueryInfo {
                name: q.name.clone(),
                description: q.description.clone(),
                params: q
                    .params
                    .iter()
                    .map(|p| ParamOut {
                        name: p.name.clone(),
                        default: p.default.clone(),
                        description: p.description.clone(),
                    })
                    .collect(),
                in_analyze: canned::SECURITY_SUITE.contains(&q.name.as_str()),
                origin: q
                    .origin
                    .as_ref()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "built in".into()),
            })
            .collect();
        let mut text = String::from(
            "Canned queries (run them with run_query; `params` overrides the defaults; * = part of analyze):\n",
        );
        for q in &infos {
            text.push_str(&format!(
                "- {}{}: {}\n",
                q.name,
                if q.in_analyze { " *" } else { "" },
                q.description
            ));
            for p in &q.params {
                text.push_str(&format!("    {} = {}  {}\n", p.name, p.default, p.description));
            }
        }
        tool_ok(&QueriesOutput { queries: infos }, cut(text, BYTE_BUDGET))
    }
}
