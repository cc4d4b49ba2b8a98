//! units: times, durations and sizes as people write and read them: `2024-05-01T10:00:00Z`,
//! `500ms` / `5m`, `100MB` / `10MiB`, `24.9 kB`, `1 h 02 min`. Calendar conversion is chrono's.
//!
//! The two parsers are our own: humantime refuses `1.5s` and `10S` and bytesize accepts `10k`
//! and turns `99999999999TiB` into 16 EiB without a word, all of which `netql capture --duration`
//! / `--rotate-size` users rely on (see the tests); both are a few lines over one number-and-unit splitter.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

/// A timestamp in nanoseconds since the epoch as a UTC date-time.
fn utc(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(ns)
}

/// `2024-03-01T00:00:00.123456789Z`
pub fn rfc3339_ns(ns: i64) -> String {
    utc(ns).format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// `2024-05-01 10:00:00.123 UTC`: a timestamp for people (milliseconds are enough to read).
pub fn human_time(ns: i64) -> String {
    utc(ns).format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()
}

/// Exact epoch seconds with nine decimals, as tshark prints `frame.time_epoch`.
pub fn epoch_text(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "" };
    let a = ns.unsigned_abs();
    format!("{sign}{}.{:09}", a / 1_000_000_000, a % 1_000_000_000)
}

/// `YYYYMMDD_HHMMSS` in UTC (capture file names).
pub fn file_stamp(t: SystemTime) -> String {
    let ns = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    utc(ns).format("%Y%m%d_%H%M%S").to_string()
}

/// The time of a file's modification as RFC 3339 (empty before the epoch).
pub fn system_time_text(t: SystemTime) -> String {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| rfc3339_ns(d.as_nanos() as i64))
        .unwrap_or_default()
}

/// `1.2 MB`-style sizes (powers of 1000).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `3.250 s`, `12 min 05 s`, `1 h 02 min`, `3.5 days`.
pub fn human_duration(ns: i64) -> String {
    let s = ns as f64 / 1e9;
    if s < 120.0 {
        format!("{s:.3} s")
    } else if s < 7200.0 {
        format!("{} min {:02} s", (s / 60.0) as i64, (s % 60.0) as i64)
    } else if s < 3.0 * 86400.0 {
        format!("{} h {:02} min", (s / 3600.0) as i64, ((s % 3600.0) / 60.0) as i64)
    } else {
        format!("{:.1} days", s / 86400.0)
    }
}

/// `500ms`, `60s`, `5m`, `1h`, `1.5s` (a unit is required; zero is refused).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration: use a number and a unit, e.g. 500ms, 60s, 5m, 1h");
    let (num, unit) = split_number(text).ok_or_else(bad)?;
    let unit_ns: u64 = match unit.to_ascii_lowercase().as_str() {
        "ms" => 1_000_000,
        "s" | "sec" | "secs" => 1_000_000_000,
        "m" | "min" | "mins" => 60_000_000_000,
        "h" | "hr" | "hrs" => 3_600_000_000_000,
        _ => return Err(bad()),
    };
    let ns = scale(num, unit_ns).ok_or_else(bad)?;
    if ns == 0 {
        return Err(format!("{text:?}: a duration must be more than zero"));
    }
    Ok(Duration::from_nanos(ns))
}

/// A point in time as a user writes it, in ns since the epoch (UTC): RFC 3339
/// (`2024-03-05T17:00:00Z`, `2024-03-05T19:00:00+02:00`), a UTC date and time
/// (`2024-03-05 17:00`, `2024-03-05T17:00:00`), a UTC date (`2024-03-05`, its midnight), or a
/// time before `now_ns`: `7d`, `24h`, `30m` (also written `7d ago` or `-7d`), and `now`.
pub fn parse_time(text: &str, now_ns: i64) -> Result<i64, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "{text:?} is not a time: use 2024-03-05, 2024-03-05T17:00:00Z, '2024-03-05 17:00' (UTC), or a time ago such as 7d, 24h, 30m"
        )
    };
    if t.eq_ignore_ascii_case("now") {
        return Ok(now_ns);
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return d.timestamp_nanos_opt().ok_or_else(bad);
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(d) = chrono::NaiveDateTime::parse_from_str(t, f) {
            return d.and_utc().timestamp_nanos_opt().ok_or_else(bad);
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .and_then(|d| d.and_utc().timestamp_nanos_opt())
            .ok_or_else(bad);
    }
    let ago = t
        .strip_suffix("ago")
        .map(str::trim)
        .or_else(|| t.strip_prefix('-'))
        .unwrap_or(t);
    let back_ns: i64 = if let Some(days) = ago.strip_suffix('d') {
        let n: f64 = days.trim().parse().map_err(|_| bad())?;
        if !(n.is_finite() && n > 0.0 && n < 100_000.0) {
            return Err(bad());
        }
        (n * 86_400e9) as i64
    } else {
        let d = parse_duration(ago).map_err(|_| bad())?;
        i64::try_from(d.as_nanos()).map_err(|_| bad())?
    };
    Ok(now_ns.saturating_sub(back_ns))
}

/// `500kB`, `100MB`, `1GB` (powers of 1000), `10KiB`, `10MiB`, `1GiB` (powers of 1024), `2000`
/// or `2000B` (bytes). Units are not case-sensitive; zero is refused.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a size: use a number and a unit, e.g. 500kB, 100MB, 10MiB, 1GB");
    let (num, unit) = split_number(text).ok_or_else(bad)?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    let n = scale(num, mult).ok_or_else(bad)?;
    if n == 0 {
        return Err(format!("{text:?}: a size must be more than zero"));
    }
    Ok(n)
}

/// Split `12.5MB` into (`12.5`, `MB`); `None` without leading digits.
fn split_number(text: &str) -> Option<(&str, &str)> {
    let t = text.trim();
    let at = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(at);
    (!num.is_empty()).then(|| (num, unit.trim()))
}

/// `num` (integer or decimal) times `unit`, exactly for integers; `None` on overflow or bad text.
fn scale(num: &str, unit: u64) -> Option<u64> {
    if num.contains('.') {
        let v: f64 = num.parse().ok()?;
        let r = (v * unit as f64).round();
        (r.is_finite() && r >= 0.0 && r < u64::MAX as f64).then_some(r as u64)
    } else {
        num.parse::<u64>().ok()?.checked_mul(unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_users_write_them() {
        let now = 1_709_661_600_000_000_000; // 2024-03-05T18:00:00Z
        let hour = 3_600_000_000_000;
        assert_eq!(parse_time("2024-03-05T18:00:00Z", 0), Ok(now));
        assert_eq!(parse_time("2024-03-05T20:00:00+02:00", 0), Ok(now));
        assert_eq!(parse_time("2024-03-05 18:00", 0), Ok(now));
        assert_eq!(parse_time("2024-03-05T18:00:00.5", 0), Ok(now + 500_000_000));
        assert_eq!(parse_time("2024-03-05", 0), Ok(now - 18 * hour));
        assert_eq!(parse_time("now", now), Ok(now));
        assert_eq!(parse_time("24h", now), Ok(now - 24 * hour));
        assert_eq!(parse_time("7d ago", now), Ok(now - 7 * 24 * hour));
        assert_eq!(parse_time("-30m", now), Ok(now - hour / 2));
        for bad in ["", "yesterday", "2024-13-01", "0d", "-1d5", "7 parsecs"] {
            let e = parse_time(bad, now).unwrap_err();
            assert!(e.contains("is not a time"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339_ns(0), "1970-01-01T00:00:00.000000000Z");
        // wikipedia.pcap's first frame, 2011-03-18T19:06:07.096535 UTC
        assert_eq!(rfc3339_ns(1_300_475_167_096_535_000), "2011-03-18T19:06:07.096535000Z");
        assert_eq!(epoch_text(1_300_475_167_096_535_000), "1300475167.096535000");
        assert_eq!(human_time(1_300_475_167_096_535_000), "2011-03-18 19:06:07.096 UTC");
        // Before the epoch, and the ends of the i64 range of nanoseconds.
        assert_eq!(rfc3339_ns(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(rfc3339_ns(i64::MAX), "2262-04-11T23:47:16.854775807Z");
        assert_eq!(rfc3339_ns(i64::MIN), "1677-09-21T00:12:43.145224192Z");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration(" 2 min "), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("10S"), Ok(Duration::from_secs(10)));
        for bad in [
            "",
            "60",
            "s",
            "5 parsecs",
            "-1s",
            "1.2.3s",
            "0s",
            "99999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(
            parse_duration("60").unwrap_err().contains("60s"),
            "the error shows an example"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100MB"), Ok(100_000_000));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("500kB"), Ok(500_000));
        assert_eq!(parse_size("2kb"), Ok(2_000));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert_eq!(parse_size("2000"), Ok(2000));
        assert_eq!(parse_size("2000B"), Ok(2000));
        for bad in ["", "MB", "10 furlongs", "10k", "0MB", "-5MB", "99999999999TiB"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn file_names_are_utc_stamps() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_557_600 + 3 * 3600 + 4 * 60 + 5);
        assert_eq!(file_stamp(t), "20240501_130405");
    }
}
