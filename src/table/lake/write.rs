//! write: one capture's table as lake parts: its rows split by the hour they fall in, each part
//! sorted by time, in the lake's types ([`crate::table::lake::types`]), zstd-compressed with
//! min/max statistics (so engines skip row groups outside a time range), written to the staging
//! folder for [`crate::table::lake::manifest::commit`] to put in place.

use std::collections::BTreeMap;
use std::path::Path;

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

/// Each row's time in ns (the table's time column), or the capture's start when it has none.
fn row_times(df: &DataFrame, table: LakeTable, fallback: i64) -> Result<Vec<i64>> {
    let Some(name) = table.time_column() else {
        return Ok(vec![fallback; df.height()]);
    };
    let c = df.column(name)?.cast(&DataType::Int64)?;
    Ok(c.i64()?.iter().map(|v| v.unwrap_or(fallback)).collect())
}

/// Write `df` (netql's types) as the parts of `table`, one per hour its rows fall in.
pub fn stage(df: &DataFrame, table: LakeTable, target: &PartTarget<'_>) -> Result<Vec<Staged>> {
    if df.height() == 0 {
        return Ok(Vec::new());
    }
    let times = row_times(df, table, target.first_ns)?;
    let mut hours: BTreeMap<i64, Vec<IdxSize>> = BTreeMap::new();
    for (i, t) in times.iter().enumerate() {
        hours
            .entry(Partition::of(target.sensor, *t).hour)
            .or_default()
            .push(i as IdxSize);
    }
    let lake_df = to_lake(df)?;
    let mut out = Vec::with_capacity(hours.len());
    for (hour, rows) in hours {
        let mut part = if rows.len() == df.height() {
            lake_df.clone()
        } else {
            lake_df.take(&IdxCa::from_vec("idx".into(), rows))?
        };
        if let Some(t) = table.time_column() {
            part = part.sort([t], SortMultipleOptions::default().with_maintain_order(true))?;
        }
        let p = Partition {
            sensor: target.sensor.to_string(),
            hour,
        };
        let rel = part_rel(table, &p, target.part_name);
        let tmp = target.staging.join(format!(
            "{}-{}-{}.parquet",
            target.part_name,
            table.name(),
            p.dir().replace('/', "_")
        ));
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
    ParquetWriter::new(&file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .with_row_group_size(Some(ROW_GROUP))
        .finish(df)
        .map_err(|e| Error::Lake {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

/// [`stage`] for a table too big to hold whole (the packets): read in slices of `SLICE` rows,
/// each slice split by hour and appended to its hour's part. Rows keep the table's order within
/// a part (file order: time order for a capture one process wrote).
pub fn stage_in_slices(lf: LazyFrame, height: usize, table: LakeTable, target: &PartTarget<'_>) -> Result<Vec<Staged>> {
    const SLICE: usize = 512 * 1024;
    type Writer = polars::io::parquet::write::BatchedWriter<std::fs::File>;
    let mut writers: BTreeMap<i64, (Writer, std::path::PathBuf, u64)> = BTreeMap::new();
    let lake_err = |path: &Path, e: PolarsError| Error::Lake {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut off = 0usize;
    while off < height {
        let chunk = lf.clone().slice(off as i64, SLICE as IdxSize).collect()?;
        off += SLICE;
        if chunk.height() == 0 {
            break;
        }
        let times = row_times(&chunk, table, target.first_ns)?;
        let mut hours: BTreeMap<i64, Vec<IdxSize>> = BTreeMap::new();
        for (i, t) in times.iter().enumerate() {
            hours
                .entry(t.div_euclid(crate::table::lake::layout::NS_PER_HOUR))
                .or_default()
                .push(i as IdxSize);
        }
        let lake_chunk = to_lake(&chunk)?;
        for (hour, rows) in hours {
            let part = lake_chunk.take(&IdxCa::from_vec("idx".into(), rows))?;
            let entry = match writers.entry(hour) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    let p = Partition {
                        sensor: target.sensor.to_string(),
                        hour,
                    };
                    let tmp = target.staging.join(format!(
                        "{}-{}-{}.parquet",
                        target.part_name,
                        table.name(),
                        p.dir().replace('/', "_")
                    ));
                    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
                    let w = ParquetWriter::new(file)
                        .with_compression(ParquetCompression::Zstd(None))
                        .with_statistics(StatisticsOptions::full())
                        .batched(part.schema())
                        .map_err(|e| lake_err(&tmp, e))?;
                    v.insert((w, tmp, 0))
                }
            };
            {
                let (w, tmp, rows) = entry;
                w.write_batch(&part).map_err(|e| lake_err(tmp, e))?;
                *rows += part.height() as u64;
            }
        }
    }
    let mut out = Vec::new();
    for (hour, (w, tmp, rows)) in writers {
        w.finish().map_err(|e| lake_err(&tmp, e))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&tmp, e))?;
        let p = Partition {
            sensor: target.sensor.to_string(),
            hour,
        };
        out.push(Staged {
            tmp,
            rel: part_rel(table, &p, target.part_name),
            table,
            rows,
        });
    }
    Ok(out)
}
