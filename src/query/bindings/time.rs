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

/// Parse `30s`, `5m`, `1h`, `500ms`, `2d` into a Polars duration string (validated: longer
/// than zero and within a 64-bit nanosecond count, ~292 years; Polars panics past that).
pub fn duration_text(s: &str) -> RhaiResult<String> {
    let (n, unit, _) = duration_parts(s)?;
    Ok(format!("{n}{unit}"))
}

/// Nanoseconds in a duration such as `5m`.
pub fn duration_ns(s: &str) -> RhaiResult<i64> {
    duration_parts(s).map(|(_, _, ns)| ns)
}

/// A duration's count, Polars unit and nanoseconds.
fn duration_parts(s: &str) -> RhaiResult<(u64, &'static str, i64)> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let Ok(n) = n.parse::<u64>() else {
        return err(format!("bad duration '{s}': use e.g. 30s, 5m, 1h, 500ms, 1d"));
    };
    let (unit, mult): (&str, i64) = match unit {
        "ns" => ("ns", 1),
        "us" => ("us", 1_000),
        "ms" => ("ms", 1_000_000),
        "s" => ("s", 1_000_000_000),
        "m" | "min" => ("m", 60_000_000_000),
        "h" => ("h", 3_600_000_000_000),
        "d" => ("d", 86_400_000_000_000),
        "w" => ("w", 604_800_000_000_000),
        _ => return err(format!("bad duration unit in '{s}': use ms, s, m, h, d or w")),
    };
    if n == 0 {
        return err(format!("bad duration '{s}': it must be longer than zero"));
    }
    match i64::try_from(n).ok().and_then(|n| n.checked_mul(mult)) {
        Some(ns) => Ok((n, unit, ns)),
        None => err(format!(
            "bad duration '{s}': longer than the ~292 years a timestamp can span"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_past_the_time_range_or_of_zero_are_refused() {
        assert_eq!(duration_text("5m").unwrap(), "5m");
        assert_eq!(duration_ns("2d").unwrap(), 2 * 86_400_000_000_000);
        assert_eq!(duration_ns("15250w").unwrap(), 15_250 * 604_800_000_000_000);
        for bad in [
            "99999999999999h",
            "15251w",
            "18446744073709551615ns",
            "0s",
            "s",
            "5y",
            "-1m",
        ] {
            assert!(duration_text(bad).is_err(), "{bad}");
        }
        assert!(
            duration_ns("99999999999999h")
                .unwrap_err()
                .to_string()
                .contains("292 years")
        );
    }
}
