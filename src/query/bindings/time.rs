//! time: time buckets and parts of timestamps, and durations as scripts write them (`5m`). The
//! durations are Polars' own duration language (`1d` and `1w` are calendar days and weeks), so
//! this checks the text and passes it on rather than parsing it into a number of nanoseconds.

use polars::prelude::*;
use rhai::ImmutableString;

use crate::query::bindings::lang::{Lang, RhaiResult, Topic, err};
use crate::query::bindings::types::Expr;

pub fn register(lang: &mut Lang) {
    lang.def(
        Topic::Time,
        "every(\"1m\")",
        "a time-bucket key for group_by: ts truncated to the interval, named time",
    )
    .with(|d: ImmutableString| -> RhaiResult<Expr> {
        let d = duration_text(&d)?;
        Ok(Expr(col("ts").dt().truncate(lit(d)).alias("time")))
    });
    lang.def(
        Topic::Time,
        "duration_ns(\"5m\")",
        "nanoseconds in a duration (to compare with differences of timestamps)",
    )
    .with(|d: ImmutableString| -> RhaiResult<i64> { duration_ns(&d) });
    lang.def(
        Topic::Time,
        "e.truncate(\"5m\")",
        "a timestamp rounded down to the interval",
    )
    .with(|e: Expr, d: ImmutableString| -> RhaiResult<Expr> { Ok(Expr(e.0.dt().truncate(lit(duration_text(&d)?)))) });
    lang.def(Topic::Time, "e.hour()", "hour of the day (UTC)")
        .with(|e: Expr| Expr(e.0.dt().hour()));
    lang.def(Topic::Time, "e.minute()", "minute of the hour")
        .with(|e: Expr| Expr(e.0.dt().minute()));
    lang.def(Topic::Time, "e.epoch_s()", "a timestamp as seconds since 1970 (float)")
        .with(|e: Expr| Expr(e.0.dt().timestamp(TimeUnit::Nanoseconds).cast(DataType::Float64) / lit(1e9)));
    lang.def(
        Topic::Time,
        "e.seconds()",
        "a duration (e.g. the difference of two timestamps) in seconds",
    )
    .with(|e: Expr| Expr(e.0.cast(DataType::Int64).cast(DataType::Float64) / lit(1e9)));
}

/// Parse `30s`, `5m`, `1h`, `500ms`, `2d` into a Polars duration string (validated).
pub fn duration_text(s: &str) -> RhaiResult<String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    if n.is_empty() || n.parse::<u64>().is_err() {
        return err(format!("bad duration '{s}': use e.g. 30s, 5m, 1h, 500ms, 1d"));
    }
    let unit = match unit {
        "ns" => "ns",
        "us" => "us",
        "ms" => "ms",
        "s" => "s",
        "m" | "min" => "m",
        "h" => "h",
        "d" => "d",
        "w" => "w",
        _ => return err(format!("bad duration unit in '{s}': use ms, s, m, h, d or w")),
    };
    Ok(format!("{n}{unit}"))
}

/// Nanoseconds in a duration such as `5m`.
pub fn duration_ns(s: &str) -> RhaiResult<i64> {
    let d = duration_text(s)?;
    let split = d.find(|c: char| !c.is_ascii_digit()).unwrap_or(d.len());
    let n: i64 = d[..split].parse().unwrap_or(0);
    let mult: i64 = match &d[split..] {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "w" => 604_800_000_000_000,
        _ => 1,
    };
    Ok(n.saturating_mul(mult))
}
