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
    let ts = df.column(tcol::TS)?.as_materialized_series().to_physical_repr();
    let order = match ts.i64().ok().filter(|t| t.null_count() == 0).map(|t| t.rechunk()) {
        // Rows come nearly in time order (a transaction is written when it ends): a stable
        // sort that takes runs as they are (Polars' arg_sort took 28 ms of the 10M load's 445k
        // DNS rows; this a few).
        Some(t) => {
            let times = t.cont_slice()?;
            if times.is_sorted() {
                return Ok(df);
            }
            let mut order: Vec<IdxSize> = (0..times.len() as IdxSize).collect();
            order.sort_by_key(|&i| times[i as usize]);
            IdxCa::from_vec(PlSmallStr::EMPTY, order)
        }
        None => ts.arg_sort(SortOptions::default().with_maintain_order(true)),
    };
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
        columns.push(match take_list(&c, &order)? {
            Some(taken) => taken,
            None => c.take(&order)?,
        });
    }
    Ok(DataFrame::new(height, columns)?)
}

/// Rows `order` of a list column of numbers or codes, or None for another column. Polars gathers
/// such a column list by list (the dns table's answers and TTLs took 215 ms of the 10M load's
/// 445k rows, after decoding); here the values of all the lists are gathered at once.
fn take_list(c: &Column, order: &IdxCa) -> Result<Option<Column>> {
    use polars_arrow::array::ListArray;
    type LargeListArray = ListArray<i64>;
    let DataType::List(inner) = c.dtype() else {
        return Ok(None);
    };
    if !inner.to_physical().is_primitive_numeric() || order.null_count() > 0 {
        return Ok(None);
    }
    let ca = c.list()?.rechunk();
    let Some(arr) = ca.downcast_iter().next() else {
        return Ok(None);
    };
    let offsets = arr.offsets().buffer();
    let mut new_offsets = Vec::with_capacity(order.len() + 1);
    new_offsets.push(0i64);
    let mut at: Vec<IdxSize> = Vec::with_capacity(arr.values().len());
    let mut validity = arr
        .validity()
        .map(|_| polars_arrow::bitmap::MutableBitmap::with_capacity(order.len()));
    for r in order.into_no_null_iter() {
        let r = r as usize;
        at.extend((offsets[r]..offsets[r + 1]).map(|v| v as IdxSize));
        new_offsets.push(at.len() as i64);
        if let (Some(out), Some(valid)) = (validity.as_mut(), arr.validity()) {
            out.push(valid.get_bit(r));
        }
    }
    // SAFETY: the values are the list array's own, so of the list's inner type.
    let values =
        unsafe { Series::from_chunks_and_dtype_unchecked(c.name().clone(), vec![arr.values().clone()], inner) };
    let values = values.take_slice(&at)?.rechunk();
    let Some(values) = values.chunks().first().cloned() else {
        return Ok(None);
    };
    // SAFETY: the offsets start at 0 and grow to the number of values gathered.
    let offsets = unsafe { polars_arrow::offset::OffsetsBuffer::new_unchecked(new_offsets.into()) };
    let list = LargeListArray::new(
        LargeListArray::default_datatype(values.dtype().clone()),
        offsets,
        values,
        validity.map(Into::into),
    );
    // SAFETY: a list array of the column's own inner type.
    let series = unsafe { Series::from_chunks_and_dtype_unchecked(c.name().clone(), vec![list.boxed()], c.dtype()) };
    Ok(Some(series.into_column()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::schema::cat_dtype;

    /// The gather of list columns gives what Polars' own gives: lists of codes (answers) and of
    /// numbers, empty and missing lists, in a shuffled order.
    #[test]
    fn list_columns_in_time_order_equal_polars_own_gather() {
        let mut answers = ListPrimitiveChunkedBuilder::<UInt32Type>::new("answers".into(), 5, 8, cat_dtype());
        let mut ttls = ListPrimitiveChunkedBuilder::<Float64Type>::new("ttls".into(), 5, 8, DataType::Float64);
        let mapping = crate::table::schema::text_mapping();
        let code = |s: &str| mapping.insert_cat(s).unwrap_or(0);
        for (i, row) in [vec!["a", "b"], vec![], vec!["c"], vec!["d", "e", "f"], vec!["g"]]
            .iter()
            .enumerate()
        {
            if i == 4 {
                answers.append_null();
                ttls.append_null();
                continue;
            }
            let codes: Vec<u32> = row.iter().map(|s| code(s)).collect();
            answers.append_slice(&codes);
            ttls.append_slice(&codes.iter().map(|&c| f64::from(c) / 2.0).collect::<Vec<_>>());
        }
        let ts = Int64Chunked::from_vec(tcol::TS.into(), vec![5, 1, 4, 2, 3]).into_column();
        let df = DataFrame::new(5, vec![ts, answers.finish().into_column(), ttls.finish().into_column()]).unwrap();
        let order = IdxCa::from_vec("order".into(), vec![1, 3, 4, 2, 0]);
        for name in ["answers", "ttls"] {
            let c = df.column(name).unwrap();
            let ours = take_list(c, &order)
                .unwrap()
                .expect("a list column of codes or numbers");
            let polars = c.take(&order).unwrap();
            assert_eq!(ours.dtype(), polars.dtype(), "{name}");
            assert!(
                ours.as_materialized_series()
                    .equals_missing(polars.as_materialized_series()),
                "{name}"
            );
            assert_eq!(ours.null_count(), 1, "{name}");
        }
        let sorted = in_time_order(df).unwrap();
        // Row 3 (time 2) comes second.
        let second = sorted
            .column("answers")
            .unwrap()
            .list()
            .unwrap()
            .get_as_series(1)
            .unwrap();
        let codes: Vec<Option<u32>> = second.to_physical_repr().u32().unwrap().iter().collect();
        assert_eq!(codes, [Some(code("d")), Some(code("e")), Some(code("f"))]);
        // Not a list of numbers: left to Polars.
        assert!(take_list(sorted.column(tcol::TS).unwrap(), &order).unwrap().is_none());
    }
}
