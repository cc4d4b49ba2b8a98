//! lake: the server pointed at a lake (`netql mcp --lake DIR`). The tools read the lake's tables
//! in the scope the server was started with, narrowed by each call's `from` / `to` / `sensor`;
//! `captures` names captures the lake holds (default: all of them in scope); list_captures lists
//! the lake's captures. Only the manifest is read per call (the tables are scanned lazily by the
//! query), so captures ingested while the server runs are seen by the next call.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use rmcp::model::CallToolResult;

use crate::mcp::lake_serve::{LakeServe, now_ns};
use crate::mcp::paging::{BYTE_BUDGET, cut};
use crate::mcp::server::{NetqlServer, Scoped, ms, tool_error, tool_ok};
use crate::mcp::tool_error::ToolError;
use crate::mcp::types::{CaptureInfo, CapturesOutput, LakeRange};
use crate::query::bindings::DataSource;
use crate::query::lake::LakeData;
use crate::render;
use crate::table::lake::manifest::Entry;
use crate::table::lake::scan::{LakeScope, LakeView};
use crate::units;

/// Captures list_captures shows of a lake at most (the newest).
const LISTED: usize = 200;

/// An error for a tool that reads captures files, not a lake.
pub(crate) fn not_over_a_lake(tool: &str) -> CallToolResult {
    tool_error(format!(
        "{tool} works on a captures folder; this server reads a lake (run_query, run_script and analyze \
         answer over it; `netql mcp --captures DIR` serves the captures themselves)"
    ))
}

impl NetqlServer {
    /// The lake in the server's scope narrowed by the call's: `specs` are capture names
    /// (empty or "all": every capture in scope; "latest": the one with the newest packets).
    pub(crate) fn lake_scoped(
        &self,
        lake: &LakeServe,
        specs: &[String],
        range: &LakeRange,
    ) -> Result<Scoped, ToolError> {
        let server = lake.scope()?;
        let call = LakeScope::from_text(
            &range.sensor.iter().cloned().collect::<Vec<_>>(),
            range.from.as_deref(),
            range.to.as_deref(),
            now_ns(),
        )?;
        let mut scope = server.narrowed(&call)?;
        let mut view = LakeView::open(&lake.dir, scope.clone())?;
        let mut files: Vec<String> = Vec::new();
        for spec in specs.iter().map(|s| s.trim()) {
            match spec {
                "all" => {
                    files.clear();
                    break;
                }
                "latest" => {
                    let newest = view
                        .entries()
                        .max_by_key(|e| (e.last_ns, e.ingested.clone()))
                        .ok_or_else(|| no_captures(&lake.dir))?;
                    files.push(newest.file.clone());
                }
                "" => return Err(ToolError::EmptyName),
                name => {
                    if !view.entries().any(|e| e.file == name) {
                        let mut known: Vec<&Entry> = view.entries().collect();
                        known.sort_by_key(|e| std::cmp::Reverse(e.last_ns));
                        return Err(ToolError::Unknown {
                            spec: name.to_string(),
                            more: known.len() > 10,
                            known: known.iter().take(10).map(|e| e.file.clone()).collect(),
                        });
                    }
                    files.push(name.to_string());
                }
            }
        }
        files.dedup();
        if !files.is_empty() {
            // The manifest is read once: the view already open is narrowed to those captures.
            scope.files = files.clone();
            view.scope = scope.clone();
        }
        let entries: Vec<&Entry> = view.entries().collect();
        if entries.is_empty() {
            return Err(ToolError::Netql(crate::error::Error::lake(
                &lake.dir,
                "no ingested capture has packets in this scope (list_captures shows what the lake holds)",
            )));
        }
        // The same captures in the same range give the same pages (what moves a relative time
        // by a few seconds between pages does not change which captures are read).
        let mut h = DefaultHasher::new();
        for e in &entries {
            (&e.sensor, &e.hash).hash(&mut h);
        }
        let described = describe(&lake.dir, &scope, entries.len());
        let data = LakeData::new(view);
        let packets = data.totals().map_or(0, |t| t.packets);
        let data: Arc<dyn DataSource> = Arc::new(data);
        Ok(Scoped {
            data,
            names: vec![described],
            // The range is resolved to absolute times, so a cursor's next page reads the same.
            range: LakeRange {
                from: scope.from_ns.map(units::rfc3339_ns),
                to: scope.to_ns.map(units::rfc3339_ns),
                sensor: range.sensor.clone(),
            },
            specs: files,
            fp: h.finish(),
            packets,
            warnings: Vec::new(),
        })
    }

    /// `list_captures` over a lake: the captures its manifest holds, newest packets first.
    pub(crate) fn do_list_lake(&self, lake: &LakeServe) -> CallToolResult {
        let started = Instant::now();
        let view = match lake.scope().and_then(|s| LakeView::open(&lake.dir, s)) {
            Ok(v) => v,
            Err(e) => return tool_error(e),
        };
        let mut entries: Vec<&Entry> = view.entries().collect();
        entries.sort_by_key(|e| std::cmp::Reverse((e.last_ns, e.ingested.clone())));
        let mut infos = Vec::new();
        let mut rows = Vec::new();
        // A lake can hold thousands of captures: the newest are listed, all are counted.
        for e in entries.iter().take(LISTED) {
            let span = match (e.first_ns, e.last_ns) {
                (Some(a), Some(b)) => Some((b - a) as f64 / 1e9),
                _ => None,
            };
            rows.push(vec![
                render::clean_cell(&e.file),
                render::clean_cell(&e.sensor),
                units::human_bytes(e.size),
                e.packets.to_string(),
                e.first_ns.map(units::rfc3339_ns).unwrap_or_else(|| "-".into()),
                span.map(|s| units::human_duration((s * 1e9) as i64))
                    .unwrap_or_else(|| "-".into()),
            ]);
            infos.push(CaptureInfo {
                name: e.file.clone(),
                size: e.size,
                modified: Some(units::rfc3339_ns(e.modified_ns)),
                packets: Some(e.packets),
                bytes: Some(e.bytes),
                first_ts: e.first_ns.map(units::rfc3339_ns),
                last_ts: e.last_ns.map(units::rfc3339_ns),
                duration_s: span,
                link_types: Vec::new(),
                error: None,
                sensor: Some(e.sensor.clone()),
                sha256: Some(e.hash.clone()),
            });
        }
        let sensors: std::collections::BTreeSet<&str> = entries.iter().map(|e| e.sensor.as_str()).collect();
        let more = match entries.len().saturating_sub(LISTED) {
            0 => String::new(),
            n => format!(" ({n} older ones not listed)"),
        };
        let text = if entries.is_empty() {
            format!("No captures in the lake {} in this scope.", lake.dir.display())
        } else {
            format!(
                "{} capture(s){more} from {} sensor(s) ({}) in the lake {}, newest first. run_query, run_script and \
                 analyze read them all by default; narrow with from/to/sensor or name captures.\n{}",
                entries.len(),
                sensors.len(),
                sensors.into_iter().collect::<Vec<_>>().join(", "),
                lake.dir.display(),
                render::text_table(
                    &["capture", "sensor", "size", "packets", "first packet", "span"],
                    &rows,
                    &[2, 3]
                )
            )
        };
        let out = CapturesOutput {
            captures_dir: lake.dir.display().to_string(),
            lake: Some(lake.dir.display().to_string()),
            count: entries.len() as u64,
            captures: infos,
            elapsed_ms: ms(started.elapsed()),
        };
        tool_ok(&out, cut(text, BYTE_BUDGET))
    }
}

fn no_captures(dir: &std::path::Path) -> ToolError {
    ToolError::Netql(crate::error::Error::lake(dir, "no ingested capture in this scope"))
}

/// "lake DIR (N captures, sensors a, b, from .. to ..)": what a result covers, in a few words.
fn describe(dir: &std::path::Path, scope: &LakeScope, captures: usize) -> String {
    let mut parts = vec![format!("{captures} capture(s)")];
    if !scope.sensors.is_empty() {
        parts.push(format!("sensor {}", scope.sensors.join(", ")));
    }
    if let Some(f) = scope.from_ns {
        parts.push(format!("from {}", units::rfc3339_ns(f)));
    }
    if let Some(t) = scope.to_ns {
        parts.push(format!("to {}", units::rfc3339_ns(t)));
    }
    if !scope.files.is_empty() {
        parts.push(scope.files.join(", "));
    }
    format!("lake {} ({})", dir.display(), parts.join(", "))
}
