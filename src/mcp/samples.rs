//! samples: the most common values of the columns a model filters on most, shown next to each
//! column by `describe_schema` (computed once per capture and kept).

use std::collections::HashMap;

use polars::prelude::*;
use serde_json::Value;

use crate::query::bindings::DataSource;

/// Most common values of the columns a model filters on most, by table.
pub(crate) struct Samples {
    pub(crate) tables: HashMap<&'static str, HashMap<String, Vec<Value>>>,
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
pub(crate) const SAMPLE_FLOW_COLUMNS: &[&str] = &["l4", "app", "service", "dst_port", "state", "conn_state", "history"];
pub(crate) const SAMPLE_DNS_COLUMNS: &[&str] = &["query", "qtype_name", "rcode_name", "dst_ip", "app"];
pub(crate) const SAMPLE_HTTP_COLUMNS: &[&str] =
    &["method", "host", "status_code", "user_agent", "response_content_type"];
pub(crate) const SAMPLE_TLS_COLUMNS: &[&str] = &["server_name", "version", "cipher", "ja4", "ja3", "next_protocol"];

impl Samples {
    pub(crate) fn of(data: &dyn DataSource) -> Samples {
        let top = |lf: LazyFrame, cols: &[&str]| -> HashMap<String, Vec<Value>> {
            cols.iter()
                .filter_map(|c| top_values(lf.clone(), c, 3).map(|v| (c.to_string(), v)))
                .collect()
        };
        let mut tables = HashMap::new();
        tables.insert(
            "packets",
            data.packets()
                .map(|lf| top(lf, SAMPLE_PACKET_COLUMNS))
                .unwrap_or_default(),
        );
        tables.insert(
            "flows",
            data.flows().map(|lf| top(lf, SAMPLE_FLOW_COLUMNS)).unwrap_or_default(),
        );
        tables.insert(
            "dns",
            data.dns().map(|lf| top(lf, SAMPLE_DNS_COLUMNS)).unwrap_or_default(),
        );
        tables.insert(
            "http",
            data.http().map(|lf| top(lf, SAMPLE_HTTP_COLUMNS)).unwrap_or_default(),
        );
        tables.insert(
            "tls",
            data.tls().map(|lf| top(lf, SAMPLE_TLS_COLUMNS)).unwrap_or_default(),
        );
        Samples { tables }
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
