//! flow_view: a transaction table's rows take their flow's view once the flows are known: the
//! flow's originator as client (`src_*`, as Zeek's `id` is the connection's, whichever side sent
//! the first message), and the flow's Community ID.

use polars::prelude::*;

use crate::error::Result;
use crate::table::messages::NO_ROW;
use crate::table::schema::{fcol, tcol};

/// A flow's originator and Community ID, by flow id: what a transaction row takes from its flow.
pub struct FlowViews {
    /// Flow rows by flow id; None when the transaction rows know their flow's row (a decode:
    /// see [`flow_view_at`]), which spares making a map of every flow.
    rows: Option<crate::decode::packet::FlowMap<u64, IdxSize>>,
    src_ip: Vec<Option<u32>>,
    src_port: Vec<Option<u16>>,
    community_id: Column,
}

impl FlowViews {
    /// Read from the flow table (made once per capture; the three transaction tables use it).
    pub fn of(flows: &DataFrame) -> Result<FlowViews> {
        let ids = flows.column(fcol::FLOW_ID)?.u64()?;
        let mut rows = crate::decode::packet::FlowMap::default();
        rows.reserve(ids.len());
        for (i, id) in ids.iter().enumerate() {
            if let Some(id) = id {
                rows.insert(id, i as IdxSize);
            }
        }
        let mut views = FlowViews::by_row(flows)?;
        views.rows = Some(rows);
        Ok(views)
    }

    /// For transaction rows that carry their flow's row ([`flow_view_at`]).
    pub fn by_row(flows: &DataFrame) -> Result<FlowViews> {
        Ok(FlowViews {
            rows: None,
            src_ip: codes(flows.column(fcol::SRC_IP)?)?,
            src_port: flows.column(fcol::SRC_PORT)?.u16()?.iter().collect(),
            community_id: flows.column(fcol::COMMUNITY_ID)?.clone(),
        })
    }
}

/// A text column's codes (text columns are categorical over one global mapping, so codes of two
/// tables compare).
fn codes(c: &Column) -> Result<Vec<Option<u32>>> {
    let s = c.as_materialized_series().to_physical_repr();
    Ok(s.u32()?.iter().collect())
}

/// Rows of a transaction table take their flow's view (see [`flow_view`]) and are put in time
/// order.
pub fn finish_with_flows(table: DataFrame, flows: &FlowViews) -> Result<DataFrame> {
    in_time_order(flow_view(table, flows)?)
}

/// Rows of a transaction table take their flow's view: its originator as client (`src_*`, as
/// Zeek's `id` is the connection's), and its Community ID. The rows keep their order.
///
/// Looked up by hand rather than joined: a Polars join of each table with the flow table took a
/// 10M-packet load's memory peak up by 120 MB.
pub fn flow_view(table: DataFrame, flows: &FlowViews) -> Result<DataFrame> {
    view(table, flows, None)
}

/// [`flow_view`] for rows whose flow rows are known (`rows[i]`, [`NO_ROW`] for none), as a
/// decode knows them.
pub fn flow_view_at(table: DataFrame, flows: &FlowViews, rows: &[u32]) -> Result<DataFrame> {
    if rows.len() != table.height() {
        return Err(crate::error::Error::Internal(
            "transaction rows and their flow rows differ in number",
        ));
    }
    view(table, flows, Some(rows))
}

fn view(table: DataFrame, flows: &FlowViews, rows: Option<&[u32]>) -> Result<DataFrame> {
    if table.height() == 0 {
        return Ok(table);
    }
    let ids = table.column(tcol::FLOW_ID)?.u64()?;
    let src = codes(table.column(tcol::SRC_IP)?)?;
    let sport: Vec<Option<u16>> = table.column(tcol::SRC_PORT)?.u16()?.iter().collect();
    let mut swap = Vec::with_capacity(table.height());
    let mut flow_rows: Vec<Option<IdxSize>> = Vec::with_capacity(table.height());
    for (i, id) in ids.iter().enumerate() {
        let k = match (rows, &flows.rows) {
            (Some(rows), _) => Some(rows[i]).filter(|&r| r != NO_ROW && (r as usize) < flows.src_ip.len()),
            (None, Some(map)) => id.and_then(|id| map.get(&id).copied()),
            (None, None) => None,
        };
        flow_rows.push(k);
        // As Polars' null logic had it: the row swaps when its flow has an originator and the
        // row's client differs from it in address or port (a comparison with an unknown value
        // is unknown, and unknown does not swap).
        let swapped = k.is_some_and(|k| {
            let k = k as usize;
            let differs = |a: Option<u32>, b: Option<u32>| a.zip(b).map(|(a, b)| a != b);
            let ip = differs(src[i], flows.src_ip[k]);
            let port = differs(sport[i].map(u32::from), flows.src_port[k].map(u32::from));
            flows.src_ip[k].is_some() && (ip == Some(true) || port == Some(true))
        });
        swap.push(swapped);
    }
    let swap = BooleanChunked::from_slice("swap".into(), &swap);
    let flow_rows = IdxCa::from_iter_options("row".into(), flow_rows.into_iter());
    let mut out = table;
    let (sip, sp, dip, dp) = (
        out.column(tcol::SRC_IP)?.clone(),
        out.column(tcol::SRC_PORT)?.clone(),
        out.column(tcol::DST_IP)?.clone(),
        out.column(tcol::DST_PORT)?.clone(),
    );
    // zip_with: where `swap`, the other side's value.
    out.with_column(dip.zip_with(&swap, &sip)?.with_name(tcol::SRC_IP.into()))?;
    out.with_column(dp.zip_with(&swap, &sp)?.with_name(tcol::SRC_PORT.into()))?;
    out.with_column(sip.zip_with(&swap, &dip)?.with_name(tcol::DST_IP.into()))?;
    out.with_column(sp.zip_with(&swap, &dp)?.with_name(tcol::DST_PORT.into()))?;
    out.with_column(
        flows
            .community_id
            .take(&flow_rows)?
            .with_name(tcol::COMMUNITY_ID.into()),
    )?;
    Ok(out)
}

/// The rows sorted by time (ties keep their order), one column at a time: sorting the frame
/// whole held a second copy of every column at once.
pub fn in_time_order(df: DataFrame) -> Result<DataFrame> {
    in_time_order_with(df, &mut Vec::new())
}

/// [`in_time_order`], with `rows` (one per row of `df`, or none at all) put in the same order.
pub fn in_time_order_with(df: DataFrame, rows: &mut Vec<u32>) -> Result<DataFrame> {
    let order = df
        .column(tcol::TS)?
        .as_materialized_series()
        .arg_sort(SortOptions::default().with_maintain_order(true));
    if order.iter().enumerate().all(|(i, r)| r == Some(i as IdxSize)) {
        return Ok(df);
    }
    if rows.len() == df.height() {
        *rows = order
            .iter()
            .map(|i| i.and_then(|i| rows.get(i as usize).copied()).unwrap_or(NO_ROW))
            .collect();
    }
    let height = df.height();
    let mut columns = Vec::with_capacity(df.width());
    for c in df.into_columns() {
        columns.push(c.take(&order)?);
    }
    Ok(DataFrame::new(height, columns)?)
}
