//! cited: the packets a result points at, per capture file — the `file` and `frame` (or `frames`
//! list) columns of a table, or the evidence frames of findings. What `netql carve` and the MCP
//! `export_packets` tool write out.

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::query::engine::{Output, cited_frames};

/// The script listing every packet of flow `id` (file and frame).
pub fn flow_script(id: u64) -> String {
    // Flow ids are below 2^63: a Rhai integer holds them.
    format!("packets().filter(col(\"flow_id\") == {id}).select([\"file\", \"frame\"])")
}

/// (file, frames) the output cites; `finding` picks one finding (1-based) of findings.
pub fn cited(output: &Output, finding: Option<usize>) -> Result<Vec<(String, Vec<u64>)>, String> {
    match output {
        Output::Table(df) => file_frames(df),
        Output::Findings(fs) => {
            let chosen: Vec<_> = match finding {
                Some(n) => fs.get(n.wrapping_sub(1)).into_iter().collect(),
                None => fs.iter().collect(),
            };
            if chosen.is_empty() {
                return Err(format!("the query reported {} finding(s); nothing to take", fs.len()));
            }
            let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
            for f in chosen {
                let Some(ev) = &f.evidence else { continue };
                let pairs = file_frames(ev).unwrap_or_else(|_| {
                    let file = f.facts.get("file").and_then(|v| v.as_str()).unwrap_or("").to_string();
                    vec![(file, cited_frames(ev))]
                });
                for (file, frames) in pairs {
                    out.entry(file).or_default().extend(frames);
                }
            }
            Ok(out.into_iter().collect())
        }
        _ => Err("the result is neither a table nor findings: nothing to take".into()),
    }
}

/// (file, frames) of a table with a `file` column and a `frame` (or `frames` list) column.
fn file_frames(df: &DataFrame) -> Result<Vec<(String, Vec<u64>)>, String> {
    let frame_col = ["frame", "frames"].into_iter().find(|c| df.column(c).is_ok());
    let (Ok(file), Some(frame_col)) = (df.column("file"), frame_col) else {
        return Err("the result has no `file` and `frame` columns (select them, or return findings)".into());
    };
    let e = |e: PolarsError| e.to_string();
    let file = file.cast(&DataType::String).map_err(e)?;
    let files = file.str().map_err(e)?;
    let frames = df.column(frame_col).map_err(e)?.as_materialized_series().clone();
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    if let DataType::List(_) = frames.dtype() {
        let list = frames.list().map_err(e)?;
        for i in 0..df.height() {
            if let (Some(name), Some(row)) = (files.get(i), list.get_as_series(i)) {
                let row = row.cast(&DataType::UInt64).map_err(e)?;
                out.entry(name.to_string())
                    .or_default()
                    .extend(row.u64().map_err(e)?.iter().flatten());
            }
        }
    } else {
        let values = frames.cast(&DataType::UInt64).map_err(e)?;
        let values = values.u64().map_err(e)?;
        for i in 0..df.height() {
            if let (Some(name), Some(frame)) = (files.get(i), values.get(i)) {
                out.entry(name.to_string()).or_default().push(frame);
            }
        }
    }
    Ok(out.into_iter().collect())
}
