//! findings: the canned suite's findings of each ingested capture, as a lake table, so "what did
//! the suite flag on this sensor last week" is one scan and the frames stay citable.

use polars::prelude::*;

use crate::error::Result;
use crate::table::schema::text_dtype;

/// One finding, as the query layer reports it.
#[derive(Debug, Clone, Default)]
pub struct FindingRow {
    /// When the capture it was found in starts (ns).
    pub ts_ns: i64,
    pub file: String,
    pub query: String,
    pub severity: String,
    pub title: String,
    /// The scanner or source address, when the query names one.
    pub src: Option<String>,
    /// The finding's facts as a JSON object.
    pub facts: String,
    /// Frames of `file` its evidence cites.
    pub frames: Vec<u32>,
    /// `netql carve ...` for those frames.
    pub carve: Option<String>,
}

/// The findings table's columns and what they mean (for `netql schema --lake`).
pub const FINDINGS_COLUMNS: [(&str, &str); 9] = [
    ("ts", "start of the capture the finding was made in"),
    ("file", "capture file name"),
    ("query", "the canned query that reported it"),
    ("severity", "info, low, medium, high or critical"),
    ("title", "one line saying what was found"),
    ("src", "scanner or source address, when the query names one"),
    ("facts", "the finding's facts as a JSON object"),
    ("frames", "frames of the capture its evidence cites"),
    ("carve", "the netql carve command that writes those frames to a pcap"),
];

/// The findings as a table (netql's types).
pub fn findings_table(rows: &[FindingRow]) -> Result<DataFrame> {
    let n = rows.len();
    let frames: Vec<Series> = rows
        .iter()
        .map(|r| Series::new("".into(), r.frames.as_slice()))
        .collect();
    let mut frames_col = Series::new("frames".into(), frames);
    if n == 0 {
        frames_col = frames_col.cast(&DataType::List(Box::new(DataType::UInt32)))?;
    }
    let df = DataFrame::new(
        n,
        vec![
            Column::new("ts".into(), rows.iter().map(|r| r.ts_ns).collect::<Vec<_>>())
                .cast(&DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC)))?,
            Column::new("file".into(), rows.iter().map(|r| r.file.as_str()).collect::<Vec<_>>()).cast(&text_dtype())?,
            Column::new(
                "query".into(),
                rows.iter().map(|r| r.query.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "severity".into(),
                rows.iter().map(|r| r.severity.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "title".into(),
                rows.iter().map(|r| r.title.as_str()).collect::<Vec<_>>(),
            ),
            Column::new("src".into(), rows.iter().map(|r| r.src.as_deref()).collect::<Vec<_>>()),
            Column::new(
                "facts".into(),
                rows.iter().map(|r| r.facts.as_str()).collect::<Vec<_>>(),
            ),
            frames_col.into_column(),
            Column::new(
                "carve".into(),
                rows.iter().map(|r| r.carve.as_deref()).collect::<Vec<_>>(),
            ),
        ],
    )?;
    Ok(df)
}

/// The findings table with no rows (its schema).
pub fn empty_findings() -> Result<DataFrame> {
    findings_table(&[])
}
