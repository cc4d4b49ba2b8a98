//! summary: the totals of one capture: packets, bytes, time span and frames per protocol under
//! tshark's names (a frame counts once for every protocol anywhere in its stack, as
//! `tshark -Y proto` counts it).

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::table::schema::col;
use crate::units;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub file: String,
    pub packets: u64,
    /// Sum of wire lengths.
    pub bytes: u64,
    /// RFC 3339, UTC, nanoseconds; null for an empty capture.
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    /// Frames per protocol name.
    pub protocols: BTreeMap<String, u64>,
    /// Frames that carry a decode error.
    pub errors: u64,
    pub truncated: u64,
    #[serde(skip)]
    pub first_ns: Option<i64>,
    #[serde(skip)]
    pub last_ns: Option<i64>,
}

/// Packets, bytes, time span, decode errors and truncated frames of a packet table.
pub struct Totals {
    pub packets: u64,
    pub bytes: u64,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    pub errors: u64,
    pub truncated: u64,
}

/// The totals alone: one pass over five columns, no per-protocol counts.
pub fn totals(packets: LazyFrame) -> Result<Totals> {
    let totals = packets
        .select([
            len().cast(DataType::UInt64).alias("packets"),
            col(col::WIRE_LEN).cast(DataType::UInt64).sum().alias("bytes"),
            col(col::TS).min().cast(DataType::Int64).alias("first"),
            col(col::TS).max().cast(DataType::Int64).alias("last"),
            col(col::ERROR)
                .is_not_null()
                .cast(DataType::UInt64)
                .sum()
                .alias("errors"),
            col(col::TRUNCATED).cast(DataType::UInt64).sum().alias("truncated"),
        ])
        .collect()?;
    let get_u64 = |name: &str| -> u64 {
        totals
            .column(name)
            .ok()
            .and_then(|c| c.get(0).ok())
            .and_then(|v| v.extract::<u64>())
            .unwrap_or(0)
    };
    let get_i64 = |name: &str| -> Option<i64> {
        totals
            .column(name)
            .ok()
            .and_then(|c| c.get(0).ok())
            .and_then(|v| v.extract::<i64>())
    };
    Ok(Totals {
        packets: get_u64("packets"),
        bytes: get_u64("bytes"),
        first_ns: get_i64("first"),
        last_ns: get_i64("last"),
        errors: get_u64("errors"),
        truncated: get_u64("truncated"),
    })
}

/// Compute the summary of a packet table, given its frames per protocol stack (`stacks()`).
pub fn summarize(file: &str, packets: LazyFrame, stacks: LazyFrame) -> Result<Summary> {
    let t = totals(packets)?;
    // Few distinct stacks exist: split each stack's text once.
    let stacks = stacks
        .group_by([col(col::PROTOCOLS)])
        .agg([col("frames").sum().cast(DataType::UInt64).alias("n")])
        .collect()?;
    let mut protocols: BTreeMap<String, u64> = BTreeMap::new();
    let names = stacks.column(col::PROTOCOLS)?;
    let counts = stacks.column("n")?;
    for i in 0..stacks.height() {
        let n = counts.get(i)?.extract::<u64>().unwrap_or(0);
        let v = names.get(i)?;
        if v.is_null() {
            continue;
        }
        let text = v.str_value().into_owned();
        let mut seen: Vec<&str> = Vec::new();
        for tok in text.split(':') {
            if !seen.contains(&tok) {
                seen.push(tok);
                *protocols.entry(tok.to_string()).or_default() += n;
            }
        }
    }
    Ok(Summary {
        file: file.to_string(),
        packets: t.packets,
        bytes: t.bytes,
        first_ts: t.first_ns.map(units::rfc3339_ns),
        last_ts: t.last_ns.map(units::rfc3339_ns),
        protocols,
        errors: t.errors,
        truncated: t.truncated,
        first_ns: t.first_ns,
        last_ns: t.last_ns,
    })
}
