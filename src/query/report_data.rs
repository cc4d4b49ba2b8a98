//! report_data: what `netql report` draws, from the captures' tables: traffic over time (bytes
//! and packets per interval), protocol share, top talkers and top conversations by bytes, and
//! the analysis (facts and findings).

use std::sync::Arc;

use polars::prelude::*;

use crate::query::analyze::{Analysis, analyze};
use crate::query::engine::{Captures, Output, ScriptEngine};

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

fn table(engine: &ScriptEngine, data: &Arc<Captures>, script: &str) -> Result<DataFrame, String> {
    match engine
        .run(script, data.clone(), &Vec::new())
        .map_err(|e| e.to_string())?
        .output
    {
        Output::Table(df) => Ok(df),
        _ => Err("a report query gave no table".into()),
    }
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
fn interval_for(span_ns: i64) -> String {
    let ms = (span_ns / 60 / 1_000_000).max(1);
    format!("{ms}ms")
}

pub fn report_data(
    data: Arc<Captures>,
    engine: &ScriptEngine,
    queries_dir: &std::path::Path,
) -> Result<ReportData, String> {
    let analysis = analyze(data.clone(), engine, queries_dir);
    let span = match (analysis.first_ns, analysis.last_ns) {
        (Some(a), Some(b)) => b - a,
        _ => 0,
    };
    let interval = interval_for(span);
    let bandwidth = points(&table(
        engine,
        &data,
        &format!(
            r#"packets().group_by([every("{interval}")]).agg([count().alias("packets"), sum("wire_len").alias("bytes")]).sort("time", false).with_column(col("time").to_text().alias("label"))"#
        ),
    )?)?;
    let protocols = points(&table(
        engine,
        &data,
        r#"packets().with_column(col("app").to_text().fill_null(col("l4").to_text()).fill_null("other").alias("label")).group_by(["label"]).agg([count().alias("packets"), sum("wire_len").alias("bytes")]).sort("packets", true).head(12)"#,
    )?)?;
    let talkers = points(&table(
        engine,
        &data,
        r#"let f = flows();
concat(f.select([col("src_ip").to_text().alias("label"), col("bytes"), col("packets")]),
       f.select([col("dst_ip").to_text().alias("label"), col("bytes"), col("packets")]))
    .filter(col("label").is_not_null()).group_by(["label"]).agg([sum("bytes").alias("bytes"), sum("packets").alias("packets")])
    .sort("bytes", true).head(10)"#,
    )?)?;
    let conversations = points(&table(
        engine,
        &data,
        r#"flows().filter(col("src_ip").is_not_null())
    .with_column(concat_text([col("src_ip"), " ↔ ", col("dst_ip")]).alias("label"))
    .group_by(["label"]).agg([sum("bytes").alias("bytes"), sum("packets").alias("packets")])
    .sort("bytes", true).head(10)"#,
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
