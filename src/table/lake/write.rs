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

/// Write a table as its lake parts. When its rows are in time order (a capture one process
/// wrote almost always is), a slice at a time: each hour's part is appended to as its rows come,
/// so only a slice is converted at once. Otherwise whole, each hour sorted as it is written.
pub fn stage_table(lf: LazyFrame, table: LakeTable, target: &PartTarget<'_>) -> Result<Vec<Staged>> {
    let in_order = match table.time_column() {
        None => true,
        Some(t) => {
            let times = lf.clone().select([col(t).cast(DataType::Int64)]).collect()?;
            let mut last = i64::MIN;
            times.column(t)?.i64()?.iter().all(|v| {
                let v = v.unwrap_or(target.first_ns);
                let ok = v >= last;
                last = v;
                ok
            })
        }
    };
    if in_order {
        stage_in_slices(lf, table, target)
    } else {
        stage(&lf.collect()?, table, target)
    }
}

/// [`stage`] for rows in time order, read in slices of `SLICE` rows, each slice split by hour
/// and appended to its hour's part.
fn stage_in_slices(lf: LazyFrame, table: LakeTable, target: &PartTarget<'_>) -> Result<Vec<Staged>> {
    // A row group's worth: the parts' row groups stay whole when a slice falls in one hour.
    const SLICE: usize = ROW_GROUP;
    type Writer = polars::io::parquet::write::BatchedWriter<std::fs::File>;
    // Per hour: its writer, staging file, place in the lake and rows written.
    let mut writers: BTreeMap<i64, (Writer, PathBuf, String, u64)> = BTreeMap::new();
    let mut off = 0usize;
    loop {
        let chunk = lf.clone().slice(off as i64, SLICE as IdxSize).collect()?;
        off += SLICE;
        if chunk.height() == 0 {
            break;
        }
        let last = chunk.height() < SLICE;
        let hours = target.rows_by_hour(&chunk, table)?;
        let lake_chunk = to_lake(&chunk)?;
        drop(chunk);
        for (hour, h) in hours {
            let mut part = if h.rows.len() == lake_chunk.height() {
                lake_chunk.clone()
            } else {
                lake_chunk.take(&IdxCa::from_vec("idx".into(), h.rows))?
            };
            // A slice of a table built in chunks has its columns chunked unlike each other;
            // the writer needs them aligned.
            part.align_chunks_par();
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
        if last {
            break;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled sample's packet table, as a load gives it.
    fn sample_packets() -> DataFrame {
        let opts = crate::table::pipeline::LoadOptions::uncached(0);
        let cap = crate::table::catalog::CaptureFile::stat(&crate::testdata::sample()).unwrap();
        crate::table::load::load(&cap, &opts)
            .unwrap()
            .packets
            .to_dataframe()
            .unwrap()
    }

    fn read_part(s: &Staged) -> DataFrame {
        let f = std::fs::File::open(&s.tmp).unwrap();
        ParquetReader::new(f).finish().unwrap()
    }

    #[test]
    fn rows_in_time_order_are_written_as_they_come_and_others_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let packets = sample_packets();
        let first_ns = 0;
        let target = PartTarget {
            staging: dir.path(),
            sensor: "s",
            part_name: "p",
            first_ns,
        };
        let ints = |df: &DataFrame, name: &str| -> Vec<Option<i64>> {
            let c = df.column(name).unwrap().cast(&DataType::Int64).unwrap();
            c.i64().unwrap().iter().collect()
        };
        let frames = |df: &DataFrame| ints(df, "frame");
        // In order (slices): the rows as they were.
        let staged = stage_table(packets.clone().lazy(), LakeTable::Packets, &target).unwrap();
        assert_eq!(staged.len(), 1, "the sample spans one hour");
        let back = read_part(&staged[0]);
        assert_eq!(back.height(), packets.height());
        assert_eq!(frames(&back), frames(&packets));
        // Reversed (out of time order): written sorted by time, every row there.
        let reversed = packets.reverse();
        let staged = stage_table(reversed.lazy(), LakeTable::Packets, &target).unwrap();
        let back = read_part(&staged[0]);
        let ts: Vec<i64> = ints(&back, "ts").into_iter().flatten().collect();
        assert_eq!(ts.len(), packets.height());
        assert!(ts.windows(2).all(|w| w[0] <= w[1]), "sorted by time");
        let mut got = frames(&back);
        got.sort();
        assert_eq!(got, frames(&packets));
    }
}
