//! write: one capture's table as lake parts: its rows split by the hour they fall in, each part
//! sorted by time, in the lake's types ([`crate::table::lake::types`]), zstd-compressed with
//! min/max statistics (so engines skip row groups outside a time range), written to the staging
//! folder for [`crate::table::lake::manifest::commit`] to put in place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::table::lake::layout::{LakeTable, Partition, part_rel};
use crate::table::lake::manifest::Staged;
use crate::table::lake::types::to_lake;

/// Rows per row group: a one-hour query on a busy sensor skips by these.
const ROW_GROUP: usize = 128 * 1024;

/// Where one capture's parts go.
pub struct PartTarget<'a> {
    pub staging: &'a Path,
    pub sensor: &'a str,
    /// The name its parts carry (the start of its content hash).
    pub part_name: &'a str,
    /// The hour for rows without a time (the stack counts): the capture's first.
    pub first_ns: i64,
}

impl PartTarget<'_> {
    /// The part of `table` for one hour: its staging file and its place in the lake.
    fn part(&self, table: LakeTable, hour: i64) -> (PathBuf, String) {
        let p = Partition {
            sensor: self.sensor.to_string(),
            hour,
        };
        let tmp = self.staging.join(format!(
            "{}-{}-{}.parquet",
            self.part_name,
            table.name(),
            p.dir().replace('/', "_")
        ));
        (tmp, part_rel(table, &p, self.part_name))
    }

    /// The rows of `df` by the hour (since the epoch) of the table's time column; rows without a
    /// time, and tables without one, go to the capture's first hour.
    fn rows_by_hour(&self, df: &DataFrame, table: LakeTable) -> Result<BTreeMap<i64, HourRows>> {
        let times: Vec<i64> = match table.time_column() {
            Some(name) => {
                let c = df.column(name)?.cast(&DataType::Int64)?;
                c.i64()?.iter().map(|v| v.unwrap_or(self.first_ns)).collect()
            }
            None => vec![self.first_ns; df.height()],
        };
        let mut hours: BTreeMap<i64, HourRows> = BTreeMap::new();
        for (i, t) in times.into_iter().enumerate() {
            let h = hours.entry(Partition::of(self.sensor, t).hour).or_insert(HourRows {
                rows: Vec::new(),
                sorted: true,
                last: i64::MIN,
            });
            h.sorted &= t >= h.last;
            h.last = t;
            h.rows.push(i as IdxSize);
        }
        Ok(hours)
    }
}

/// One hour's rows of a table: their indices, and whether they are in time order already
/// (a capture one process wrote almost always is, and a sort is then a copy for nothing).
struct HourRows {
    rows: Vec<IdxSize>,
    sorted: bool,
    last: i64,
}

/// A Parquet writer as every part is written: zstd, with min/max statistics.
fn parquet<W: std::io::Write>(w: W) -> ParquetWriter<W> {
    ParquetWriter::new(w)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
}

/// Write `df` (netql's types) as the parts of `table`, one per hour its rows fall in. Each
/// hour is taken, sorted (when it is not in order) and converted to the lake's types on its own,
/// so at most one hour's copy is held beside `df`.
pub fn stage(df: &DataFrame, table: LakeTable, target: &PartTarget<'_>) -> Result<Vec<Staged>> {
    if df.height() == 0 {
        return Ok(Vec::new());
    }
    let hours = target.rows_by_hour(df, table)?;
    let mut out = Vec::with_capacity(hours.len());
    for (hour, h) in hours {
        let mut part = if h.rows.len() == df.height() {
            df.clone()
        } else {
            df.take(&IdxCa::from_vec("idx".into(), h.rows))?
        };
        if let Some(t) = table.time_column()
            && !h.sorted
        {
            part = part.sort([t], SortMultipleOptions::default().with_maintain_order(true))?;
        }
        let mut part = to_lake(&part)?;
        let (tmp, rel) = target.part(table, hour);
        write_part(&mut part, &tmp)?;
        out.push(Staged {
            tmp,
            rel,
            table,
            rows: part.height() as u64,
        });
    }
    Ok(out)
}

/// One Parquet file, synced to disk before it can be renamed into the lake.
pub fn write_part(df: &mut DataFrame, path: &Path) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    parquet(&file)
        .with_row_group_size(Some(ROW_GROUP))
        .finish(df)
        .map_err(|e| Error::lake(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

/// [`stage`] for a table too big to hold whole (the packets): read in slices of `SLICE` rows,
/// each slice split by hour and appended to its hour's part. Rows keep the table's order within
/// a part (file order: time order for a capture one process wrote).
pub fn stage_in_slices(lf: LazyFrame, height: usize, table: LakeTable, target: &PartTarget<'_>) -> Result<Vec<Staged>> {
    const SLICE: usize = 512 * 1024;
    type Writer = polars::io::parquet::write::BatchedWriter<std::fs::File>;
    // Per hour: its writer, staging file, place in the lake and rows written.
    let mut writers: BTreeMap<i64, (Writer, PathBuf, String, u64)> = BTreeMap::new();
    let mut off = 0usize;
    while off < height {
        let chunk = lf.clone().slice(off as i64, SLICE as IdxSize).collect()?;
        off += SLICE;
        if chunk.height() == 0 {
            break;
        }
        let hours = target.rows_by_hour(&chunk, table)?;
        let lake_chunk = to_lake(&chunk)?;
        for (hour, h) in hours {
            let part = lake_chunk.take(&IdxCa::from_vec("idx".into(), h.rows))?;
            let (w, tmp, _, rows) = match writers.entry(hour) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    let (tmp, rel) = target.part(table, hour);
                    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
                    let w = parquet(file).batched(part.schema()).map_err(|e| Error::lake(&tmp, e))?;
                    v.insert((w, tmp, rel, 0))
                }
            };
            w.write_batch(&part).map_err(|e| Error::lake(tmp.as_path(), e))?;
            *rows += part.height() as u64;
        }
    }
    let mut out = Vec::new();
    for (w, tmp, rel, rows) in writers.into_values() {
        w.finish().map_err(|e| Error::lake(&tmp, e))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&tmp, e))?;
        out.push(Staged { tmp, rel, table, rows });
    }
    Ok(out)
}
