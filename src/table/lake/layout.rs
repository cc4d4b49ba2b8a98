//! layout: where a lake keeps what. Every table is hive-partitioned by sensor and hour, as
//! Spark, Trino, DuckDB and Athena discover partitions:
//! `DIR/<table>/sensor=<name>/date=<YYYY-MM-DD>/hour=<HH>/part-<capture hash>.parquet`.
//! netql's own files (the manifest, its lock, parts being written) live under `DIR/_netql/`,
//! which those engines skip (names starting with `_` are hidden from partition discovery).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The tables a lake holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LakeTable {
    Flows,
    Dns,
    Http,
    Tls,
    Events,
    Stacks,
    Findings,
    Packets,
}

impl LakeTable {
    pub const ALL: [LakeTable; 8] = [
        LakeTable::Flows,
        LakeTable::Dns,
        LakeTable::Http,
        LakeTable::Tls,
        LakeTable::Events,
        LakeTable::Stacks,
        LakeTable::Findings,
        LakeTable::Packets,
    ];

    /// The folder name (and the table's name in Spark SQL).
    pub fn name(self) -> &'static str {
        match self {
            LakeTable::Flows => "flows",
            LakeTable::Dns => "dns",
            LakeTable::Http => "http",
            LakeTable::Tls => "tls",
            LakeTable::Events => "events",
            LakeTable::Stacks => "stacks",
            LakeTable::Findings => "findings",
            LakeTable::Packets => "packets",
        }
    }

    pub fn parse(name: &str) -> Option<LakeTable> {
        LakeTable::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The column whose time puts a row in its hour (and that time ranges filter on); none for
    /// the per-capture stack counts, which go to the hour the capture starts in.
    pub fn time_column(self) -> Option<&'static str> {
        match self {
            LakeTable::Flows => Some("first_ts"),
            LakeTable::Stacks => None,
            _ => Some("ts"),
        }
    }
}

/// One partition: a sensor's hour.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Partition {
    pub sensor: String,
    /// Hours since the Unix epoch (UTC).
    pub hour: i64,
}

pub const NS_PER_HOUR: i64 = 3_600_000_000_000;

impl Partition {
    pub fn of(sensor: &str, ts_ns: i64) -> Partition {
        Partition {
            sensor: sensor.to_string(),
            hour: ts_ns.div_euclid(NS_PER_HOUR),
        }
    }

    /// The hour's first nanosecond.
    pub fn start_ns(&self) -> i64 {
        self.hour.saturating_mul(NS_PER_HOUR)
    }

    /// `sensor=S/date=YYYY-MM-DD/hour=HH`.
    pub fn dir(&self) -> String {
        let t = chrono::DateTime::from_timestamp(self.hour.saturating_mul(3600), 0).unwrap_or_default();
        format!(
            "sensor={}/date={}/hour={}",
            self.sensor,
            t.format("%Y-%m-%d"),
            t.format("%H")
        )
    }
}

/// A part's path inside the lake: `<table>/<partition>/part-<hash>.parquet`.
pub fn part_rel(table: LakeTable, p: &Partition, hash: &str) -> String {
    format!("{}/{}/part-{hash}.parquet", table.name(), p.dir())
}

/// The table a part's relative path belongs to.
pub fn table_of(rel: &str) -> Option<LakeTable> {
    rel.split('/').next().and_then(LakeTable::parse)
}

/// The partition a part's relative path is in.
pub fn partition_of(rel: &str) -> Option<Partition> {
    let mut sensor = None;
    let mut date = None;
    let mut hour = None;
    for seg in rel.split('/') {
        if let Some(v) = seg.strip_prefix("sensor=") {
            sensor = Some(v.to_string());
        } else if let Some(v) = seg.strip_prefix("date=") {
            date = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").ok();
        } else if let Some(v) = seg.strip_prefix("hour=") {
            hour = v.parse::<u32>().ok().filter(|h| *h < 24);
        }
    }
    let day = date?.and_hms_opt(hour?, 0, 0)?.and_utc().timestamp() / 3600;
    Some(Partition {
        sensor: sensor?,
        hour: day,
    })
}

/// netql's own folder in a lake.
pub fn meta_dir(lake: &Path) -> PathBuf {
    lake.join("_netql")
}

/// Where parts are written before they are committed.
pub fn staging_dir(lake: &Path) -> PathBuf {
    meta_dir(lake).join("staging")
}

/// A sensor name: letters, digits, `.`, `_` and `-`, not starting with `.` or `_` (engines hide
/// such folders), at most 64 characters.
pub fn check_sensor(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '_'])
        && name.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "sensor name {name:?}: use letters, digits, '.', '_' and '-' (not first), at most 64"
        )))
    }
}

/// The default sensor name: this machine's host name, made fit for a folder name.
pub fn default_sensor() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let name: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    let name = name.trim_start_matches(['.', '_']).to_string();
    if name.is_empty() { "default".into() } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_hive_folders_by_sensor_date_and_hour() {
        // 2024-03-05 17:59:59.999 UTC
        let p = Partition::of("edge-1", 1_709_661_599_999_000_000);
        assert_eq!(p.dir(), "sensor=edge-1/date=2024-03-05/hour=17");
        let rel = part_rel(LakeTable::Flows, &p, "ab12");
        assert_eq!(rel, "flows/sensor=edge-1/date=2024-03-05/hour=17/part-ab12.parquet");
        assert_eq!(partition_of(&rel), Some(p.clone()));
        assert_eq!(table_of(&rel), Some(LakeTable::Flows));
        // Before 1970 too.
        let old = Partition::of("s", -1);
        assert_eq!(old.dir(), "sensor=s/date=1969-12-31/hour=23");
        assert_eq!(partition_of(&part_rel(LakeTable::Dns, &old, "x")), Some(old));
    }

    #[test]
    fn sensor_names_are_folder_safe() {
        assert!(check_sensor("edge-1.lab_2").is_ok());
        for bad in ["", "_hidden", ".dot", "a/b", "a b", "x=y", &"s".repeat(65)] {
            assert!(check_sensor(bad).is_err(), "{bad:?}");
        }
        assert!(check_sensor(&default_sensor()).is_ok());
    }
}
