//! notice: the findings of the analyze suite as Zeek's notice.log. Zeek's columns in its order
//! (`note` is `NetQL::<Query_Name>`, `msg` the finding's title, `sub` its other facts, `src`,
//! `dst` and `p` where the finding names one address or port), then netql's own: the severity,
//! the capture and the frames the finding cites. Zeek's notice framework has no severity; tools
//! that read notice.log skip columns they do not know.

use std::net::IpAddr;

use polars::prelude::*;
use serde_json::Value as Json;

use crate::error::Result;
use crate::query::analyze::Reported;
use crate::query::engine::cited_frames;
use crate::render::zeek::log::{Field, LogWriter, Value, field};

pub const FIELDS: &[Field] = &[
    field("ts", "time"),
    field("uid", "string"),
    field("id.orig_h", "addr"),
    field("id.orig_p", "port"),
    field("id.resp_h", "addr"),
    field("id.resp_p", "port"),
    field("fuid", "string"),
    field("file_mime_type", "string"),
    field("file_desc", "string"),
    field("proto", "enum"),
    field("note", "enum"),
    field("msg", "string"),
    field("sub", "string"),
    field("src", "addr"),
    field("dst", "addr"),
    field("p", "port"),
    field("n", "count"),
    field("peer_descr", "string"),
    field("actions", "set[enum]"),
    field("email_dest", "set[string]"),
    field("suppress_for", "interval"),
    field("severity", "string"),
    field("capture", "string"),
    field("frames", "vector[count]"),
];

/// Facts the other columns already carry, left out of `sub`.
const SHOWN: &[&str] = &[
    "src", "dst", "dst_port", "port", "file", "frames", "first_ts", "severity",
];

/// `port_scan` -> `NetQL::Port_Scan`, a name in the style of Zeek's notes (`Scan::Port_Scan`).
pub fn note(query: &str) -> String {
    let words: Vec<String> = query
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        })
        .collect();
    format!("NetQL::{}", words.join("_"))
}

/// A fact that is one address (not a list of them).
fn address(v: Option<&Json>) -> Value {
    v.and_then(Json::as_str)
        .filter(|s| s.parse::<IpAddr>().is_ok())
        .map_or(Value::Unset, |s| Value::Text(s.to_string()))
}

fn fact_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Array(items) => items.iter().map(fact_text).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

/// When the finding starts: the earliest time its evidence holds (`first_ts`, `ts`, `time`).
fn first_time(evidence: Option<&DataFrame>) -> Option<i64> {
    let df = evidence?;
    ["first_ts", "ts", "time", "start"].iter().find_map(|name| {
        let c = df.column(name).ok()?;
        if !matches!(c.dtype(), DataType::Datetime(_, _)) {
            return None;
        }
        let c = c.cast(&DataType::Datetime(TimeUnit::Nanoseconds, None)).ok()?;
        c.as_materialized_series().to_physical_repr().i64().ok()?.min()
    })
}

fn proto(facts: &serde_json::Map<String, Json>) -> Value {
    let named = ["l4", "protocol"]
        .iter()
        .find_map(|k| facts.get(*k).and_then(Json::as_str));
    match named {
        Some("tcp") => Value::Text("tcp".into()),
        Some("udp") => Value::Text("udp".into()),
        Some("icmp" | "icmpv6") => Value::Text("icmp".into()),
        _ => Value::Unset,
    }
}

/// The capture a finding is about: its `file` fact, else its evidence's first file.
fn capture(facts: &serde_json::Map<String, Json>, evidence: Option<&DataFrame>) -> Value {
    if let Some(f) = facts.get("file").and_then(Json::as_str) {
        return Value::Text(f.to_string());
    }
    let first = evidence
        .and_then(|df| df.column("file").ok())
        .and_then(|c| c.get(0).ok())
        .and_then(|v| v.get_str().map(str::to_string));
    Value::text(first)
}

/// Write the findings to `w`, one row each. `start_ns`: the captures' first packet, the time of
/// a finding whose evidence has none (an overview such as dns_summary's).
pub fn write(w: &mut LogWriter, findings: &[Reported], start_ns: Option<i64>) -> Result<()> {
    for r in findings {
        let f = &r.finding;
        let facts = &f.facts;
        let sub: Vec<String> = facts
            .iter()
            .filter(|(k, v)| !SHOWN.contains(&k.as_str()) && !v.is_null())
            .map(|(k, v)| format!("{k}={}", fact_text(v)))
            .collect();
        let port = ["dst_port", "port"]
            .iter()
            .find_map(|k| facts.get(*k).and_then(Json::as_u64));
        let frames: Vec<u64> = f.evidence.as_ref().map(cited_frames).unwrap_or_default();
        let row = [
            first_time(f.evidence.as_ref())
                .or(start_ns)
                .map_or(Value::Unset, Value::Time),
            Value::Unset,
            Value::Unset,
            Value::Unset,
            Value::Unset,
            Value::Unset,
            Value::Unset,
            Value::Unset,
            Value::Unset,
            proto(facts),
            Value::Text(note(&r.query)),
            Value::Text(f.title.clone()),
            if sub.is_empty() {
                Value::Unset
            } else {
                Value::Text(sub.join(", "))
            },
            address(facts.get("src")),
            address(facts.get("dst")),
            Value::count(port),
            Value::Unset,
            Value::Unset,
            Value::List(vec!["Notice::ACTION_LOG".into()]),
            Value::List(Vec::new()),
            Value::Interval(3600.0),
            Value::Text(f.severity.name().into()),
            capture(facts, f.evidence.as_ref()),
            Value::Counts(frames),
        ];
        w.row(&row)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::note;

    #[test]
    fn notes_are_named_as_zeek_names_them() {
        assert_eq!(note("port_scan"), "NetQL::Port_Scan");
        assert_eq!(note("rare_ja4"), "NetQL::Rare_Ja4");
        assert_eq!(note("dns_summary"), "NetQL::Dns_Summary");
    }
}
