//! values: table cells as values outside Polars: text as a person reads it, JSON as machines
//! (and findings' facts, MCP results, reports) take it. Numbers stay numbers, text stays text,
//! times become RFC 3339, lists become arrays.

use polars::prelude::*;
use serde_json::{Map, Value};

/// Text of one cell as a person reads it (no quotes around strings, empty for null).
pub fn cell_text(v: &AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::Float64(f) => format_float(*f),
        AnyValue::Float32(f) => format_float(*f as f64),
        AnyValue::List(s) => {
            let items: Vec<String> = s.iter().map(|v| cell_text(&v)).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.str_value().into_owned(),
    }
}

fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else {
        let s = format!("{f:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// JSON value of one cell: numbers stay numbers, text stays text, times become RFC 3339.
pub fn cell_json(v: &AnyValue<'_>) -> Value {
    match v {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::UInt8(x) => Value::from(*x),
        AnyValue::UInt16(x) => Value::from(*x),
        AnyValue::UInt32(x) => Value::from(*x),
        AnyValue::UInt64(x) => Value::from(*x),
        AnyValue::Int8(x) => Value::from(*x),
        AnyValue::Int16(x) => Value::from(*x),
        AnyValue::Int32(x) => Value::from(*x),
        AnyValue::Int64(x) => Value::from(*x),
        AnyValue::Float32(x) => serde_json::Number::from_f64(*x as f64).map_or(Value::Null, Value::Number),
        AnyValue::Float64(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
        AnyValue::Datetime(ns, unit, _) | AnyValue::DatetimeOwned(ns, unit, _) => {
            let ns = match unit {
                TimeUnit::Nanoseconds => *ns,
                TimeUnit::Microseconds => ns * 1_000,
                TimeUnit::Milliseconds => ns * 1_000_000,
            };
            Value::String(crate::units::rfc3339_ns(ns))
        }
        AnyValue::List(s) => Value::Array(s.iter().map(|v| cell_json(&v)).collect()),
        other => Value::String(other.str_value().into_owned()),
    }
}

/// Rows of a table as JSON objects keyed by column name.
pub fn rows_json(df: &DataFrame) -> Vec<Value> {
    let cols = df.columns();
    (0..df.height())
        .map(|i| {
            let mut m = Map::new();
            for c in cols {
                let v = c.get(i).unwrap_or(AnyValue::Null);
                m.insert(c.name().to_string(), cell_json(&v));
            }
            Value::Object(m)
        })
        .collect()
}
