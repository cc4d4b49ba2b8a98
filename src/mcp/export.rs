//! export: the `export_packets` tool — the packets behind frames, a flow, a query's findings or
//! a script's result, written into a new capture in the captures folder (at most
//! `[mcp] max_export_packets`), whose name a client hands to Wireshark. The only tool besides
//! `capture_live` that writes; it never overwrites a file and writes nowhere else.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use rmcp::model::CallToolResult;

use crate::capture::carve::{carve, carve_into, parse_frames};
use crate::mcp::server::{NetqlServer, tool_error, tool_ok};
use crate::mcp::types::{ExportOutput, ExportPacketsArgs};
use crate::query::canned::{self, Query};

impl NetqlServer {
    pub(crate) fn do_export_packets(&self, a: ExportPacketsArgs, cancel: Arc<AtomicBool>) -> CallToolResult {
        if self.inner.lake.is_some() {
            return crate::mcp::lake::not_over_a_lake("export_packets");
        }
        match self.export(a, cancel) {
            Ok(r) => r,
            Err(e) => tool_error(e),
        }
    }

    fn export(&self, a: ExportPacketsArgs, cancel: Arc<AtomicBool>) -> Result<CallToolResult, String> {
        let root = self.root().map_err(|e| e.to_string())?;
        let specs = a.captures.map(|n| n.list()).unwrap_or_else(|| vec!["latest".into()]);
        let files = self.resolve(&specs).map_err(|e| e.to_string())?;
        let mut wanted: BTreeMap<String, (PathBuf, BTreeSet<u32>)> = BTreeMap::new();
        if let Some(list) = &a.frames {
            let [file] = files.as_slice() else {
                return Err(format!(
                    "`frames` numbers the frames of one capture; name exactly one (got {})",
                    files.len()
                ));
            };
            wanted.insert(file.name.clone(), (file.path.clone(), parse_frames(list)?));
        } else {
            let query = match (&a.flow_id, &a.script, &a.query) {
                (Some(id), _, _) => Query::parse("flow", &crate::query::cited::flow_script(*id), None),
                (None, Some(s), _) => Query::parse("script", s, None),
                (None, None, Some(q)) => canned::find(&self.inner.cfg.queries_dir, q).map_err(|e| e.to_string())?,
                (None, None, None) => {
                    return Err(
                        "say what to export: `frames` (with one capture), `flow_id`, `query` or `script`".into(),
                    );
                }
            };
            if query.source.len() > crate::mcp::paging::MAX_SCRIPT {
                return Err("the script is longer than 256 KB".into());
            }
            let given: Vec<(String, String)> = a
                .params
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect();
            let params = query.bind(&given).map_err(|e| e.to_string())?;
            let data = self.captures(&files).map_err(|e| e.to_string())?;
            let result = self
                .engine()
                .run_cancellable(&query.source, data, &params, Some(cancel))
                .map_err(|e| crate::mcp::paging::script_error_text(&e))?;
            let by_name: BTreeMap<&str, &PathBuf> = files.iter().map(|f| (f.name.as_str(), &f.path)).collect();
            let finding = a.finding.map(|n| n as usize);
            for (file, frames) in crate::query::cited::cited(&result.output, finding)? {
                let Some(path) = by_name.get(file.as_str()) else {
                    return Err(format!(
                        "the result cites {file:?}, which is not one of the captures given"
                    ));
                };
                let entry = wanted.entry(file).or_insert_with(|| ((*path).clone(), BTreeSet::new()));
                entry.1.extend(frames.into_iter().filter_map(|f| u32::try_from(f).ok()));
            }
        }
        let out = match &a.name {
            Some(name) => {
                let plain = !name.is_empty()
                    && !name.starts_with('.')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                    && (name.ends_with(".pcap") || name.ends_with(".pcapng"));
                if !plain {
                    return Err(
                        "`name` must be a plain file name ending in .pcap or .pcapng (letters, digits, . _ -)".into(),
                    );
                }
                let path = root.join(name);
                if path.exists() {
                    return Err(format!(
                        "{name} exists already in the captures folder: choose another name"
                    ));
                }
                Some(path)
            }
            None => None,
        };
        let cap = self.inner.cfg.mcp.max_export_packets;
        let asked: u64 = wanted.values().map(|(_, f)| f.len() as u64).sum();
        let sources: Vec<(PathBuf, BTreeSet<u32>)> = wanted.into_values().collect();
        let carved = match &out {
            Some(path) => carve(&sources, path, Some(cap)),
            None => carve_into(&sources, &root, Some(cap)),
        }
        .map_err(|e| e.to_string())?;
        let file = crate::table::catalog::file_name(&carved.file);
        let o = ExportOutput {
            file: file.clone(),
            path: carved.file.display().to_string(),
            format: carved.format.to_string(),
            packets: carved.packets,
            bytes: carved.bytes,
            missing: carved.missing,
            capped: asked > cap,
        };
        let text = format!(
            "Wrote {} packets ({} bytes) to {file} in the captures folder ({}){}; open it in Wireshark, or query it by that name.",
            o.packets,
            o.bytes,
            o.format,
            if o.capped {
                format!(", the first {cap} of {asked} asked for ([mcp] max_export_packets)")
            } else {
                String::new()
            }
        );
        Ok(tool_ok(&o, text))
    }
}
