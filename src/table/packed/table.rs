//! table: a table whose columns are held packed, chunk by chunk: built from DataFrames in row
//! order, read back as whole columns, column heads, or the values at chosen rows.

use std::sync::Arc;

use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray};
use polars_arrow::bitmap::{Bitmap, MutableBitmap};

use crate::table::packed::layout::{Packed, Word, take_plain, with_word};
use crate::table::packed::packer::{Packer, differences, same_values};

/// One column of a packed table.
struct PackedColumn {
    name: PlSmallStr,
    /// The Polars type users see.
    dtype: DataType,
    /// Its physical Arrow type.
    arrow: ArrowDataType,
    /// An earlier column whose values this one's are stored below, where that is narrower.
    reference: Option<usize>,
    chunks: Vec<Packed>,
}

/// A table of packed columns, chunk by chunk. Cheap to share: held behind an Arc.
pub struct PackedTable {
    columns: Vec<PackedColumn>,
    /// First row of each chunk, and the row count at the end.
    starts: Vec<usize>,
    schema: SchemaRef,
}

/// Builds a [`PackedTable`] from frames with the same columns.
pub struct PackedTableBuilder {
    table: PackedTable,
    packer: Packer,
}

impl PackedTableBuilder {
    pub fn new(schema: &Schema) -> PackedTableBuilder {
        let columns = schema
            .iter()
            .map(|(name, dtype)| PackedColumn {
                name: name.clone(),
                dtype: dtype.clone(),
                arrow: dtype.to_physical().to_arrow(CompatLevel::newest()),
                reference: None,
                chunks: Vec::new(),
            })
            .collect();
        PackedTableBuilder {
            table: PackedTable {
                columns,
                starts: vec![0],
                schema: Arc::new(schema.clone()),
            },
            packer: Packer::default(),
        }
    }

    /// Store `column` as differences below `reference` (an earlier column of the same type, not
    /// itself stored below another) in the chunks where that is narrower.
    pub fn below(mut self, column: &str, reference: &str) -> PackedTableBuilder {
        let cols = &self.table.columns;
        let (c, r) = (
            cols.iter().position(|c| c.name == column),
            cols.iter().position(|c| c.name == reference),
        );
        if let (Some(c), Some(r)) = (c, r)
            && r < c
            && cols[r].arrow == cols[c].arrow
            && cols[r].reference.is_none()
        {
            self.table.columns[c].reference = Some(r);
        }
        self
    }

    /// Pack one frame (its columns in the builder's schema order); each of its columns' chunks
    /// becomes a chunk here.
    pub fn push(&mut self, df: &DataFrame) -> PolarsResult<()> {
        let rows = df.height();
        let mut lens = None;
        let mut previous: Vec<Series> = Vec::new();
        for (c, pc) in df.columns().iter().zip(self.table.columns.iter_mut()) {
            polars_ensure!(
                c.name() == &pc.name && c.dtype() == &pc.dtype,
                SchemaMismatch: "packing {} ({}) as {} ({})", c.name(), c.dtype(), pc.name, pc.dtype
            );
            let phys = c.as_materialized_series().to_physical_repr();
            // Every chunk has the column's physical type, which the readers rely on.
            polars_ensure!(
                phys.chunks().iter().all(|a| a.dtype() == &pc.arrow),
                SchemaMismatch: "packing {} with chunks of another type", pc.name
            );
            let chunk_lens: Vec<usize> = phys.chunks().iter().map(|a| a.len()).collect();
            match &lens {
                None => lens = Some(chunk_lens),
                Some(l) => polars_ensure!(*l == chunk_lens, ComputeError: "packing misaligned chunks"),
            }
            // Flow ids and category codes are spread out, but few per chunk: a dictionary. Small
            // numbers (ports, ether types, windows) may have few distinct values too; larger
            // ones (lengths, sequence numbers, times) hardly ever, so they are not tried.
            let dictionary = matches!(c.dtype(), DataType::Categorical(..) | DataType::UInt64);
            let try_small = dictionary || matches!(c.dtype(), DataType::UInt16 | DataType::UInt8);
            for (k, arr) in phys.chunks().iter().enumerate() {
                let prev = previous.last().and_then(|p| p.chunks().get(k));
                if let Some(prev) = prev
                    && same_values(prev.as_ref(), arr.as_ref())
                {
                    pc.chunks.push(Packed::Same { len: arr.len() });
                    continue;
                }
                let packed = with_word!(
                    arr.dtype(),
                    |T| self.packer.pack(
                        arr.as_any().downcast_ref::<PrimitiveArray<T>>().expect("physical type"),
                        dictionary,
                        try_small
                    ),
                    Packed::Plain(arr.clone())
                );
                let reference = pc.reference.and_then(|r| previous.get(r)?.chunks().get(k));
                let packed = match reference {
                    Some(reference) if !matches!(packed, Packed::Null { .. }) => with_word!(
                        arr.dtype(),
                        |T| {
                            let arr = arr.as_any().downcast_ref::<PrimitiveArray<T>>().expect("physical type");
                            let reference = reference.as_any().downcast_ref::<PrimitiveArray<T>>();
                            match reference.map(|r| self.packer.pack(&differences(r, arr), false, true)) {
                                Some(diff) if diff.bytes() < packed.bytes() => Packed::Below { diff: Box::new(diff) },
                                _ => packed,
                            }
                        },
                        packed
                    ),
                    _ => packed,
                };
                pc.chunks.push(packed);
            }
            previous.push(phys.into_owned());
        }
        let end = self.table.rows();
        for l in lens.unwrap_or_default() {
            let last = *self.table.starts.last().unwrap_or(&end);
            self.table.starts.push(last + l);
        }
        debug_assert_eq!(self.table.rows(), end + rows);
        Ok(())
    }

    pub fn finish(self) -> Arc<PackedTable> {
        Arc::new(self.table)
    }
}

impl PackedTable {
    pub fn rows(&self) -> usize {
        *self.starts.last().unwrap_or(&0)
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Bytes held.
    pub fn estimated_size(&self) -> usize {
        self.columns
            .iter()
            .flat_map(|c| c.chunks.iter())
            .map(Packed::bytes)
            .sum::<usize>()
            + self.starts.len() * 8
    }

    fn index_of(&self, name: &str) -> PolarsResult<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| polars_err!(ColumnNotFound: "{name}"))
    }

    /// Chunk `k` of column `i`, following [`Packed::Same`] back to the values.
    /// Also says which column's chunk that is (its reference, if any, applies).
    fn chunk(&self, mut i: usize, k: usize) -> (usize, &Packed) {
        loop {
            match &self.columns[i].chunks[k] {
                Packed::Same { .. } if i > 0 => i -= 1,
                p => return (i, p),
            }
        }
    }

    /// Every row of the named column is null (or it has no rows).
    pub fn all_null(&self, name: &str) -> bool {
        self.index_of(name)
            .is_ok_and(|i| (0..self.columns[i].chunks.len()).all(|k| matches!(self.chunk(i, k).1, Packed::Null { .. })))
    }

    pub fn has(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c.name == name)
    }

    /// The named column, its first `limit` rows (all when None).
    pub fn column(&self, name: &str, limit: Option<usize>) -> PolarsResult<Column> {
        let i = self.index_of(name)?;
        let pc = &self.columns[i];
        let rows = limit.map_or(self.rows(), |l| l.min(self.rows()));
        // The chunks that hold those rows (the last one maybe in part).
        let chunks = self.starts.partition_point(|&s| s < rows).min(pc.chunks.len());
        let column = if self.is_words(i) {
            let all: Vec<Option<&[u32]>> = vec![None; chunks];
            self.contiguous(i, &all, self.starts[chunks])?
        } else {
            let arrays = (0..chunks)
                .map(|k| self.plain_chunk(i, k).map(|a| a.to_boxed()))
                .collect::<PolarsResult<Vec<_>>>()?;
            if arrays.is_empty() {
                return Ok(Column::full_null(pc.name.clone(), 0, &pc.dtype));
            }
            // SAFETY: the arrays are this column's own physical chunks, values unchanged.
            unsafe { Series::from_chunks_and_dtype_unchecked(pc.name.clone(), arrays, &pc.dtype) }.into_column()
        };
        Ok(if column.len() > rows {
            column.slice(0, rows)
        } else {
            column
        })
    }

    /// The named column at the given rows: for each chunk, its rows (ascending, relative to the
    /// chunk's start).
    pub fn gather(&self, name: &str, rows: &[Vec<u32>]) -> PolarsResult<Column> {
        let i = self.index_of(name)?;
        let pc = &self.columns[i];
        if self.is_words(i) {
            let some: Vec<Option<&[u32]>> = rows.iter().map(|r| Some(r.as_slice())).collect();
            let n = rows.iter().map(Vec::len).sum();
            return self.contiguous(i, &some, n);
        }
        let arrays: Vec<Box<dyn Array>> = (0..pc.chunks.len())
            .zip(rows)
            .filter(|(_, r)| !r.is_empty())
            .map(|(k, r)| take_plain(self.plain_chunk(i, k)?, r))
            .collect::<PolarsResult<_>>()?;
        if arrays.is_empty() {
            return Ok(Column::full_null(pc.name.clone(), 0, &pc.dtype));
        }
        // SAFETY: as in `column`.
        Ok(unsafe { Series::from_chunks_and_dtype_unchecked(pc.name.clone(), arrays, &pc.dtype) }.into_column())
    }

    /// Column `i` (and its reference) holds integers, so it is read into one buffer (Polars works
    /// faster on one array than on a thousand small ones); other columns are kept plain.
    fn is_words(&self, i: usize) -> bool {
        let pc = &self.columns[i];
        let words = |c: &PackedColumn| {
            with_word!(
                &c.arrow,
                |T| {
                    let _ = std::marker::PhantomData::<T>;
                    true
                },
                false
            )
        };
        words(pc) && pc.reference.is_none_or(|r| words(&self.columns[r]))
    }

    /// Chunk `k` of a column of another type (booleans): stored as Polars made it.
    fn plain_chunk(&self, i: usize, k: usize) -> PolarsResult<&dyn Array> {
        match self.chunk(i, k).1 {
            Packed::Plain(a) => Ok(a.as_ref()),
            _ => Err(polars_err!(ComputeError: "packed chunk of {} is not plain", self.columns[i].name)),
        }
    }

    /// Column `i` as one array: for each chunk, all its rows (None) or the rows listed.
    fn contiguous(&self, i: usize, rows: &[Option<&[u32]>], n: usize) -> PolarsResult<Column> {
        let pc = &self.columns[i];
        let array = with_word!(
            &pc.arrow,
            |T| {
                let mut out: Vec<T> = Vec::with_capacity(n);
                let mut valid = MutableBitmap::with_capacity(n);
                for (k, r) in rows.iter().enumerate() {
                    if r.is_some_and(<[u32]>::is_empty) {
                        continue;
                    }
                    self.extend_chunk::<T>(i, k, *r, &mut out, &mut valid);
                }
                let validity = (valid.unset_bits() > 0).then(|| Bitmap::from(valid));
                PrimitiveArray::<T>::new(pc.arrow.clone(), out.into(), validity).boxed()
            },
            polars_bail!(ComputeError: "{} is not a column of integers", pc.name)
        );
        // SAFETY: the values are this column's own physical values.
        Ok(unsafe { Series::from_chunks_and_dtype_unchecked(pc.name.clone(), vec![array], &pc.dtype) }.into_column())
    }

    /// [`Packed::extend`] for chunk `k` of column `i`, following `Same` and `Below`.
    fn extend_chunk<T: Word>(
        &self,
        i: usize,
        k: usize,
        rows: Option<&[u32]>,
        out: &mut Vec<T>,
        valid: &mut MutableBitmap,
    ) {
        let (j, p) = self.chunk(i, k);
        match (p, self.columns[j].reference) {
            (Packed::Below { diff }, Some(r)) => {
                let start = out.len();
                self.extend_chunk::<T>(r, k, rows, out, &mut MutableBitmap::new());
                let mut d: Vec<T> = Vec::with_capacity(out.len() - start);
                diff.extend::<T>(rows, &mut d, valid);
                for (o, d) in out[start..].iter_mut().zip(d) {
                    *o = T::from_u64(o.to_u64().wrapping_sub(d.to_u64()));
                }
            }
            (p, _) => p.extend::<T>(rows, out, valid),
        }
    }

    /// Split ascending table rows into per-chunk row lists (relative to each chunk's start).
    pub fn rows_by_chunk(&self, rows: impl Iterator<Item = usize>) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::new(); self.starts.len().saturating_sub(1)];
        let mut k = 0;
        for r in rows {
            while k + 1 < self.starts.len() && r >= self.starts[k + 1] {
                k += 1;
            }
            if let Some(v) = out.get_mut(k) {
                v.push((r - self.starts[k]) as u32);
            }
        }
        out
    }

    /// The named columns as a frame (all when None), their first `limit` rows.
    pub fn frame(&self, names: Option<&[PlSmallStr]>, limit: Option<usize>) -> PolarsResult<DataFrame> {
        let height = limit.map_or(self.rows(), |l| l.min(self.rows()));
        let columns = match names {
            Some(names) => names
                .iter()
                .map(|n| self.column(n, limit))
                .collect::<PolarsResult<Vec<_>>>()?,
            None => self
                .columns
                .iter()
                .map(|c| self.column(&c.name, limit))
                .collect::<PolarsResult<Vec<_>>>()?,
        };
        DataFrame::new(height, columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::packed::layout::Offsets;

    fn roundtrip(df: &DataFrame) -> Arc<PackedTable> {
        let mut b = PackedTableBuilder::new(df.schema())
            .below("payload", "len")
            .below("payload2", "len");
        b.push(df).unwrap();
        let t = b.finish();
        let back = t.frame(None, None).unwrap();
        assert!(df.equals_missing(&back), "{df}\n{back}");
        t
    }

    #[test]
    fn every_encoding_reads_back_exactly() {
        let n = 5000usize;
        let seq: Vec<u32> = (7..7 + n as u32).collect();
        let constant = vec![4u8; n];
        let small: Vec<u16> = (0..n).map(|i| 1000 + (i % 200) as u16).collect();
        // Timestamps: ~1 ms apart (32-bit offsets per block), with a jump between blocks.
        let ts: Vec<i64> = (0..n)
            .map(|i| 1_700_000_000_000_000_000 + i as i64 * 1_000_123 + (i / 3072) as i64 * (1 << 40))
            .collect();
        // Spread-out ids, few distinct: a dictionary.
        let ids: Vec<Option<u64>> = (0..n)
            .map(|i| (i % 7 != 0).then(|| (i as u64 % 300).wrapping_mul(0x9e37_79b9_7f4a_7c15)))
            .collect();
        let wide: Vec<u32> = (0..n).map(|i| (i as u32).wrapping_mul(2_654_435_761)).collect();
        let nulls: Vec<Option<u16>> = vec![None; n];
        let df = DataFrame::new(
            n,
            vec![
                Column::new("seq".into(), seq.clone()),
                Column::new("seq_again".into(), seq),
                Column::new("constant".into(), constant),
                Column::new("small".into(), small),
                Column::new("ts".into(), ts)
                    .cast(&DataType::Datetime(
                        TimeUnit::Nanoseconds,
                        Some(polars::prelude::TimeZone::UTC),
                    ))
                    .unwrap(),
                Column::new("ids".into(), ids),
                Column::new("wide".into(), wide),
                // Few values far apart, within 65536 of each other: a dictionary without hashing.
                Column::new(
                    "ether".into(),
                    (0..n).map(|i| [2048u16, 34525, 2054][i % 3]).collect::<Vec<_>>(),
                ),
                Column::new("nulls".into(), nulls),
                // Three protocol numbers: 2-bit dictionary codes.
                Column::new("proto".into(), (0..n).map(|i| [6u8, 17, 1][i % 3]).collect::<Vec<_>>()),
                // Values 0-3 with nulls: 2-bit offsets.
                Column::new(
                    "two_bits".into(),
                    (0..n)
                        .map(|i| (i % 5 != 0).then_some((i % 4) as u8))
                        .collect::<Vec<_>>(),
                ),
                // Lengths, and payloads a few header sizes below them (nulls where there is none).
                Column::new(
                    "len".into(),
                    (0..n).map(|i| 100 + (i * 7919 % 1400) as u32).collect::<Vec<_>>(),
                ),
                Column::new(
                    "payload".into(),
                    (0..n)
                        .map(|i| (i % 7 != 0).then_some(100 + (i * 7919 % 1400) as u32 - [42, 54, 66][i % 3]))
                        .collect::<Vec<_>>(),
                ),
                // No nulls, and the same values again after it: read back through the reference
                // of the column before.
                Column::new(
                    "payload2".into(),
                    (0..n)
                        .map(|i| 100 + (i * 7919 % 1400) as u32 - [42, 54, 66][i % 3])
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "payload2_again".into(),
                    (0..n)
                        .map(|i| 100 + (i * 7919 % 1400) as u32 - [42, 54, 66][i % 3])
                        .collect::<Vec<_>>(),
                ),
                Column::new("flag".into(), (0..n).map(|i| i % 2 == 0).collect::<Vec<_>>()),
            ],
        )
        .unwrap();
        let t = roundtrip(&df);
        let kinds: Vec<&str> = t
            .columns
            .iter()
            .map(|c| match &c.chunks[0] {
                Packed::Null { .. } => "null",
                Packed::Sequence { .. } => "sequence",
                Packed::Offset {
                    offsets: Offsets::Zero, ..
                } => "constant",
                Packed::Offset {
                    offsets: Offsets::Bits { .. },
                    ..
                } => "offset-bits",
                Packed::Offset {
                    offsets: Offsets::U8(_),
                    ..
                } => "offset8",
                Packed::Offset {
                    offsets: Offsets::U16(_),
                    ..
                } => "offset16",
                Packed::Offset {
                    offsets: Offsets::U32(_),
                    ..
                } => "offset32",
                Packed::Dict {
                    codes: Offsets::Bits { .. },
                    ..
                } => "dictionary-bits",
                Packed::Dict { .. } => "dictionary",
                Packed::Plain(_) => "plain",
                Packed::Same { .. } => "same",
                Packed::Below { .. } => "below",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "sequence",
                "same",
                "constant",
                "offset8",
                "offset32",
                "dictionary",
                "plain",
                "dictionary-bits",
                "null",
                "dictionary-bits",
                "offset-bits",
                "offset16",
                "below",
                "below",
                "same",
                "plain"
            ]
        );
        assert!(t.estimated_size() < df.estimated_size() / 2);
        // Gathered rows equal the same rows taken from the frame.
        let rows = [0usize, 1, 1023, 1024, 2999, 3000, 4999];
        let by_chunk = t.rows_by_chunk(rows.iter().copied());
        let idx = IdxCa::from_vec("i".into(), rows.iter().map(|&r| r as IdxSize).collect());
        for c in df.columns() {
            let got = t.gather(c.name(), &by_chunk).unwrap();
            let want = c.take(&idx).unwrap();
            assert!(
                got.as_materialized_series()
                    .equals_missing(want.as_materialized_series()),
                "{}",
                c.name()
            );
        }
        // A head reads only its rows.
        let head = t.frame(Some(&["ts".into()]), Some(10)).unwrap();
        assert!(head.equals_missing(&df.select(["ts"]).unwrap().head(Some(10))));
    }
}
