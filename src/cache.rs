//! cache: decoded tables on disk as Parquet, fast to read back. Polars turns a Parquet
//! dictionary column back into a Categorical by hashing every row's string into the process-wide
//! dictionary, which made reading a 10M-packet cache cost seconds. So text columns are stored as
//! integer codes into a small per-file dictionary (`<name>.dict.parquet`); reading maps each
//! distinct string once and the rows through a lookup table. Enum columns are stored as their
//! codes. Tables can be read whole or scanned lazily, column by column.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::frame;

/// Which table a cache file holds (its template gives every column's real type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Packets,
    Flows,
}

impl Table {
    fn template(self) -> Result<DataFrame> {
        match self {
            Table::Packets => frame::empty_packets(),
            Table::Flows => crate::flow::empty_flows(),
        }
    }
}

fn dict_path(path: &Path) -> PathBuf {
    path.with_extension("dict.parquet")
}

fn cache_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Cache {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Lz4Raw)
        .finish(df)
        .map_err(|e| cache_err(path, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn read_parquet(path: &Path) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    ParquetReader::new(file).finish().map_err(|e| cache_err(path, e))
}

/// Write `df` (the dictionary first, so a table file never exists without its dictionary).
pub fn write(df: &DataFrame, path: &Path) -> Result<()> {
    let mut cols = Vec::with_capacity(df.width());
    let (mut d_col, mut d_code, mut d_text): (Vec<String>, Vec<u32>, Vec<String>) = (vec![], vec![], vec![]);
    for c in df.columns() {
        match c.dtype() {
            DataType::Categorical(_, mapping) => {
                let s = c.as_materialized_series();
                let ca = s.cat32().map_err(|e| cache_err(path, e))?;
                // Local codes in order of first appearance; `local` maps global -> local + 1.
                let mut local: Vec<u32> = Vec::new();
                let mut next: u32 = 0;
                for arr in ca.physical().downcast_iter() {
                    for &g in arr.iter().flatten() {
                        let g = g as usize;
                        if g >= local.len() {
                            local.resize(g + 1, 0);
                        }
                        if local[g] == 0 {
                            next += 1;
                            local[g] = next;
                            d_col.push(c.name().to_string());
                            d_code.push(next - 1);
                            d_text.push(mapping.cat_to_str(g as u32).unwrap_or("").to_string());
                        }
                    }
                }
                let local = &local;
                let codes: UInt32Chunked = ca
                    .physical()
                    .apply_values(|g| local.get(g as usize).map_or(0, |l| l.saturating_sub(1)));
                cols.push(codes.with_name(c.name().clone()).into_column());
            }
            DataType::Enum(..) => cols.push(c.to_physical_repr()),
            _ => cols.push(c.clone()),
        }
    }
    let mut dict = DataFrame::new(
        d_col.len(),
        vec![
            Column::new("column".into(), d_col),
            Column::new("code".into(), d_code),
            Column::new("text".into(), d_text),
        ],
    )?;
    write_parquet(&mut dict, &dict_path(path))?;
    let mut table = DataFrame::new(df.height(), cols)?;
    write_parquet(&mut table, path)
}

/// For each text column: local code -> code in this process's dictionary.
type Remaps = Vec<(PlSmallStr, Arc<Vec<u32>>)>;

fn remaps(path: &Path, template: &DataFrame) -> Result<Remaps> {
    let dict = read_parquet(&dict_path(path))?;
    let names = dict.column("column")?.str()?.clone();
    let codes = dict.column("code")?.u32()?.clone();
    let texts = dict.column("text")?.str()?.clone();
    let mapping = match template.columns().iter().find_map(|c| match c.dtype() {
        DataType::Categorical(_, m) => Some(m.clone()),
        _ => None,
    }) {
        Some(m) => m,
        None => return Ok(Vec::new()),
    };
    let mut out: Remaps = Vec::new();
    for c in template.columns() {
        if !matches!(c.dtype(), DataType::Categorical(..)) {
            continue;
        }
        let mut v: Vec<u32> = Vec::new();
        for i in 0..dict.height() {
            if names.get(i) != Some(c.name().as_str()) {
                continue;
            }
            let (Some(code), Some(text)) = (codes.get(i), texts.get(i)) else {
                continue;
            };
            if v.len() <= code as usize {
                v.resize(code as usize + 1, 0);
            }
            v[code as usize] = mapping.insert_cat(text).map_err(|e| cache_err(path, e))?;
        }
        out.push((c.name().clone(), Arc::new(v)));
    }
    Ok(out)
}

/// A stored column back into its real type.
fn decode_column(c: Column, dtype: &DataType, remap: Option<&[u32]>) -> PolarsResult<Column> {
    let name = c.name().clone();
    match dtype {
        DataType::Categorical(..) => {
            let remap = remap.unwrap_or(&[]);
            let phys = c.as_materialized_series().cast(&DataType::UInt32)?;
            let codes = phys
                .u32()?
                .apply_values(|l| remap.get(l as usize).copied().unwrap_or(0));
            // SAFETY: every code came from insert_cat on this dtype's mapping.
            let cat = unsafe { Categorical32Chunked::from_cats_and_dtype_unchecked(codes, dtype.clone()) };
            Ok(cat.into_series().with_name(name).into_column())
        }
        DataType::Enum(..) => {
            // Rebuild from the codes (casting integers to an Enum is deprecated in polars).
            let s = c.as_materialized_series();
            let series = match dtype.cat_physical()? {
                CategoricalPhysical::U8 => {
                    let codes = s.cast(&DataType::UInt8)?.u8()?.clone();
                    Categorical8Chunked::from_cats_and_dtype(codes, dtype.clone()).into_series()
                }
                CategoricalPhysical::U16 => {
                    let codes = s.cast(&DataType::UInt16)?.u16()?.clone();
                    Categorical16Chunked::from_cats_and_dtype(codes, dtype.clone()).into_series()
                }
                CategoricalPhysical::U32 => {
                    let codes = s.cast(&DataType::UInt32)?.u32()?.clone();
                    Categorical32Chunked::from_cats_and_dtype(codes, dtype.clone()).into_series()
                }
            };
            Ok(series.with_name(name).into_column())
        }
        _ => Ok(c),
    }
}

/// Read a whole table.
pub fn read(path: &Path, table: Table) -> Result<DataFrame> {
    let template = table.template()?;
    let maps = remaps(path, &template)?;
    let df = read_parquet(path)?;
    check_columns(
        path,
        &df.get_column_names().iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        &template,
    )?;
    let mut cols = Vec::with_capacity(df.width());
    for (stored, t) in df.columns().iter().zip(template.columns()) {
        let remap = maps.iter().find(|(n, _)| n == t.name()).map(|(_, v)| v.as_slice());
        cols.push(decode_column(stored.clone(), t.dtype(), remap).map_err(|e| cache_err(path, e))?);
    }
    Ok(DataFrame::new(df.height(), cols)?)
}

fn check_columns(path: &Path, names: &[&str], template: &DataFrame) -> Result<()> {
    let want: Vec<&str> = template.get_column_names().iter().map(|s| s.as_str()).collect();
    if names != want {
        return Err(cache_err(path, "written by another version of netql"));
    }
    Ok(())
}

/// Scan a table lazily: a query reads (and decodes) only the columns it uses.
pub fn scan(path: &Path, table: Table) -> Result<LazyFrame> {
    let template = table.template()?;
    let maps = remaps(path, &template)?;
    let p = PlRefPath::new(path.to_string_lossy().as_ref());
    let mut lf = LazyFrame::scan_parquet(p, ScanArgsParquet::default()).map_err(|e| cache_err(path, e))?;
    let schema = lf.collect_schema().map_err(|e| cache_err(path, e))?;
    check_columns(
        path,
        &schema.iter_names().map(|s| s.as_str()).collect::<Vec<_>>(),
        &template,
    )?;
    let mut fixes = Vec::new();
    for t in template.columns() {
        let dtype = t.dtype().clone();
        if !matches!(dtype, DataType::Categorical(..) | DataType::Enum(..)) {
            continue;
        }
        let remap = maps.iter().find(|(n, _)| n == t.name()).map(|(_, v)| v.clone());
        let out = dtype.clone();
        fixes.push(
            col(t.name().clone())
                .map(
                    move |c: Column| decode_column(c, &dtype, remap.as_deref().map(|v| v.as_slice())),
                    move |_, f| Ok(Field::new(f.name().clone(), out.clone())),
                )
                .alias(t.name().clone()),
        );
    }
    Ok(lf.with_columns(fixes))
}

/// Rows in a cached table (from its integer columns, which read fast).
pub fn rows(path: &Path, table: Table) -> Option<usize> {
    let lf = scan(path, table).ok()?;
    let n = crate::bindings::row_count(lf.select([col(crate::frame::col::FRAME)])).ok()?;
    usize::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_text_enums_and_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let cap =
            crate::catalog::CaptureFile::stat(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/captures/sample.pcap")))
                .unwrap();
        let opts = crate::load::LoadOptions {
            cache_dir: dir.path().into(),
            use_cache: false,
            progress: false,
            threads: 2,
        };
        let df = crate::load::decode_file(&cap, &opts).unwrap().packets;
        let path = dir.path().join("t.parquet");
        write(&df, &path).unwrap();
        let back = read(&path, Table::Packets).unwrap();
        assert!(df.equals_missing(&back));
        let scanned = scan(&path, Table::Packets).unwrap().collect().unwrap();
        assert!(df.equals_missing(&scanned));
        assert_eq!(rows(&path, Table::Packets), Some(df.height()));
        // Only the columns a query uses are read.
        let ips = scan(&path, Table::Packets)
            .unwrap()
            .select([col("src_ip")])
            .collect()
            .unwrap();
        assert_eq!(
            ips.column("src_ip").unwrap().dtype(),
            df.column("src_ip").unwrap().dtype()
        );
    }
}
