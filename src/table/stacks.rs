//! stacks: frames and wire bytes per protocol stack (`stacks()`), counted while decoding; protocol
//! share and the summary read these few rows instead of grouping every packet.

use polars::prelude::*;

use crate::error::Result;
use crate::table::schema::{col, text_dtype};

/// Frames and bytes per protocol stack (`protocols`; None: nothing decoded).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StackCount {
    pub protocols: Option<String>,
    pub frames: u64,
    pub bytes: u64,
}

/// The `stacks()` table of one capture from its counts.
pub fn stacks_table(file: &str, counts: &[StackCount]) -> Result<DataFrame> {
    let n = counts.len();
    let text = text_dtype();
    let df = DataFrame::new(
        n,
        vec![
            Column::new("file".into(), vec![file; n]).cast(&text)?,
            Column::new(
                "protocols".into(),
                counts.iter().map(|c| c.protocols.as_deref()).collect::<Vec<_>>(),
            )
            .cast(&text)?,
            Column::new("frames".into(), counts.iter().map(|c| c.frames).collect::<Vec<_>>()),
            Column::new("bytes".into(), counts.iter().map(|c| c.bytes).collect::<Vec<_>>()),
        ],
    )?;
    Ok(df)
}

/// The `stacks()` table computed from packets (for tables without counts).
pub fn stacks_of(packets: LazyFrame) -> LazyFrame {
    packets.group_by([col(col::FILE), col(col::PROTOCOLS)]).agg([
        len().cast(DataType::UInt64).alias("frames"),
        col(col::WIRE_LEN).cast(DataType::UInt64).sum().alias("bytes"),
    ])
}
