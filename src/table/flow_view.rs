//! flow_view: a transaction table's rows take their flow's view once the flows are known: the
//! flow's originator as client (`src_*`, as Zeek's `id` is the connection's, whichever side sent
//! the first message), and the flow's Community ID.

use polars::prelude::*;

use crate::error::Result;
use crate::table::schema::{fcol, tcol};

/// Rows of a transaction table take their flow's view: its originator as client (`src_*`, as
/// Zeek's `id` is the connection's), and its Community ID. Rows are in time order after.
pub fn finish_with_flows(table: DataFrame, flows: &DataFrame) -> Result<DataFrame> {
    if table.height() == 0 {
        return Ok(table);
    }
    let names: Vec<PlSmallStr> = table.get_column_names_owned();
    let f = flows.clone().lazy().select([
        col(fcol::FLOW_ID),
        col(fcol::SRC_IP).alias("__f_src"),
        col(fcol::SRC_PORT).alias("__f_sport"),
        col(fcol::COMMUNITY_ID).alias("__f_cid"),
    ]);
    let swap = col("__f_src").is_not_null().and(
        col(tcol::SRC_IP)
            .neq(col("__f_src"))
            .or(col(tcol::SRC_PORT).neq(col("__f_sport"))),
    );
    let pick = |a: &str, b: &str| when(swap.clone()).then(col(b)).otherwise(col(a)).alias(a);
    // The rows keep their order through the join (ties in time then stay in capture order).
    let mut args = JoinArgs::new(JoinType::Left);
    args.maintain_order = MaintainOrderJoin::Left;
    let out = table
        .lazy()
        .join(f, [col(fcol::FLOW_ID)], [col(fcol::FLOW_ID)], args)
        .with_columns([
            pick(tcol::SRC_IP, tcol::DST_IP),
            pick(tcol::SRC_PORT, tcol::DST_PORT),
            pick(tcol::DST_IP, tcol::SRC_IP),
            pick(tcol::DST_PORT, tcol::SRC_PORT),
            col("__f_cid").alias(tcol::COMMUNITY_ID),
        ])
        .select(names.iter().map(|n| col(n.clone())).collect::<Vec<_>>())
        .sort([tcol::TS], SortMultipleOptions::default().with_maintain_order(true))
        .collect()?;
    Ok(out)
}
