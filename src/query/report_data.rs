//! report_data: what `netql report` draws, from the captures' tables: traffic over time (bytes
//! and packets per interval), protocol share, top talkers and top conversations by bytes, and
//! the analysis (facts and findings).

use std::sync::Arc;

use polars::prelude::*;

use crate::query::analyze::{Analysis, analyze};
use crate::query::engine::{Captures, ScriptEngine};

/// One bar or point: a label and its values.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Point {
    pub label: String,
    pub bytes: u64,
    pub packets: u64,
}

#[derive(Debug)]
pub struct ReportData {
    pub analysis: Analysis,
    /// Bytes and packets per interval, in time order.
    pub bandwidth: Vec<Point>,
    pub interval: String,
    /// Frames per protocol (application, else transport), most first.
    pub protocols: Vec<Point>,
    pub talkers: Vec<Point>,
    pub conversations: Vec<Point>,
}

fn points(df: &DataFrame) -> Result<Vec<Point>, String> {
    let e = |e: PolarsError| e.to_string();
    let label = df.column("label").map_err(e)?.cast(&DataType::String).map_err(e)?;
    let bytes = df.column("bytes").map_err(e)?.cast(&DataType::UInt64).map_err(e)?;
    let packets = df.column("packets").map_err(e)?.cast(&DataType::UInt64).map_err(e)?;
    let (l, b, p) = (
        label.str().map_err(e)?,
        bytes.u64().map_err(e)?,
        packets.u64().map_err(e)?,
    );
    Ok((0..df.height())
        .map(|i| Point {
            label: l.get(i).unwrap_or("").to_string(),
            bytes: b.get(i).unwrap_or(0),
            packets: p.get(i).unwrap_or(0),
        })
        .collect())
}

/// An interval giving about 60 points over `span_ns` (whole milliseconds, at least 1).
fn interval_for(span_ns: i64) -> (String, i64) {
    let ms = (span_ns / 60 / 1_000_000).max(1);
    (format!("{ms}ms"), ms * 1_000_000)
}

/// Bytes and packets per interval from the first packet to the last, intervals without traffic
/// included (as zeros), and the interval's length as text.
pub fn bandwidth(
    data: &Arc<Captures>,
    engine: &ScriptEngine,
    first_ns: Option<i64>,
    last_ns: Option<i64>,
) -> Result<(String, Vec<Point>), String> {
    let (Some(first), Some(last)) = (first_ns, last_ns) else {
        return Ok((String::new(), Vec::new()));
    };
    let (interval, step) = interval_for(last - first);
    let df = engine.run_table(&format!(
            r#"packets().group_by([every("{interval}")]).agg([count().alias("packets"), sum("wire_len").alias("bytes")]).with_columns([col("time").to_text().alias("label"), col("time").epoch_s().alias("t")])"#
        ),
        data.clone(),
    )?;
    let found = points(&df)?;
    let e = |e: PolarsError| e.to_string();
    let t = df.column("t").map_err(e)?.cast(&DataType::Float64).map_err(e)?;
    let t = t.f64().map_err(e)?;
    // Buckets counted from the one holding the first packet.
    let start = (first.div_euclid(step)) * step;
    let n = ((last - start) / step + 1).clamp(1, 10_000) as usize;
    let mut out: Vec<Point> = (0..n)
        .map(|i| Point {
            label: crate::units::human_time(start + i as i64 * step),
            bytes: 0,
            packets: 0,
        })
        .collect();
    for (i, p) in found.into_iter().enumerate() {
        let at = (t.get(i).unwrap_or(0.0) * 1e9) as i64;
        let k = ((at - start) as f64 / step as f64).round().clamp(0.0, (n - 1) as f64) as usize;
        out[k].bytes += p.bytes;
        out[k].packets += p.packets;
    }
    Ok((interval, out))
}

pub fn report_data(
    data: Arc<Captures>,
    engine: &ScriptEngine,
    queries_dir: &std::path::Path,
) -> Result<ReportData, String> {
    let analysis = analyze(data.clone(), engine, queries_dir);
    let (interval, bandwidth) = bandwidth(&data, engine, analysis.first_ns, analysis.last_ns)?;
    let protocols = points(&engine.run_table(r#"packets().with_column(col("app").to_text().fill_null(col("l4").to_text()).fill_null("other").alias("label")).group_by(["label"]).agg([count().alias("packets"), sum("wire_len").alias("bytes")]).sort("packets", true).head(12)"#,
        data.clone(),
    )?)?;
    let talkers = points(&engine.run_table(r#"let f = flows();
concat(f.select([col("src_ip").to_text().alias("label"), col("bytes"), col("packets")]),
       f.select([col("dst_ip").to_text().alias("label"), col("bytes"), col("packets")]))
    .filter(col("label").is_not_null()).group_by(["label"]).agg([sum("bytes").alias("bytes"), sum("packets").alias("packets")])
    .sort("bytes", true).head(10)"#,
        data.clone(),
    )?)?;
    let conversations = points(&engine.run_table(
        r#"flows().filter(col("src_ip").is_not_null())
    .with_column(concat_text([col("src_ip"), " ↔ ", col("dst_ip")]).alias("label"))
    .group_by(["label"]).agg([sum("bytes").alias("bytes"), sum("packets").alias("packets")])
    .sort("bytes", true).head(10)"#,
        data.clone(),
    )?)?;
    Ok(ReportData {
        analysis,
        bandwidth,
        interval,
        protocols,
        talkers,
        conversations,
    })
}
