//! samples: the most common values of the columns a model filters on most, shown next to each
//! column by `describe_schema` (computed once per capture and kept).

use std::collections::HashMap;

use polars::prelude::*;
use serde_json::Value;

use crate::query::bindings::DataSource;
use crate::query::engine::Captures;

/// Most common values of the columns a model filters on most.
pub(crate) struct Samples {
    pub(crate) packets: HashMap<String, Vec<Value>>,
    pub(crate) flows: HashMap<String, Vec<Value>>,
}

pub(crate) const SAMPLE_PACKET_COLUMNS: &[&str] = &[
    "link_type",
    "protocols",
    "src_ip",
    "dst_ip",
    "l4",
    "app",
    "dst_port",
    "tcp_flags_str",
    "dns_qname",
    "dns_qtype",
    "dns_rcode",
    "http_method",
    "http_host",
    "tls_sni",
    "tls_version",
];
pub(crate) const SAMPLE_FLOW_COLUMNS: &[&str] = &["l4", "app", "dst_port", "state", "conn_state"];

impl Samples {
    pub(crate) fn of(data: &Captures) -> Samples {
        let top = |lf: LazyFrame, cols: &[&str]| -> HashMap<String, Vec<Value>> {
            cols.iter()
                .filter_map(|c| top_values(lf.clone(), c, 3).map(|v| (c.to_string(), v)))
                .collect()
        };
        Samples {
            packets: data
                .packets()
                .map(|lf| top(lf, SAMPLE_PACKET_COLUMNS))
                .unwrap_or_default(),
            flows: data.flows().map(|lf| top(lf, SAMPLE_FLOW_COLUMNS)).unwrap_or_default(),
        }
    }
}

/// The `n` most frequent non-null values of a column, ties broken by their text.
pub(crate) fn top_values(lf: LazyFrame, c: &str, n: u32) -> Option<Vec<Value>> {
    let df = lf
        .select([col(c)])
        .filter(col(c).is_not_null())
        .group_by([col(c)])
        .agg([len().alias("__n")])
        .with_column(col(c).cast(DataType::String).alias("__k"))
        .sort(
            ["__n", "__k"],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .limit(n)
        .collect()
        .ok()?;
    let column = df.column(c).ok()?;
    Some(
        (0..df.height())
            .map(|i| crate::table::values::cell_json(&column.get(i).unwrap_or(AnyValue::Null)))
            .collect(),
    )
}
