//! table: a table whose columns are held packed, chunk by chunk: built from DataFrames in row
//! order, read back as whole columns, column heads, or the values at chosen rows.

use std::sync::Arc;

use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray};
use polars_arrow::bitmap::{Bitmap, MutableBitmap};

use crate::table::packed::layout::{Packed, RowKey, Word, after_key, take_plain, unzigzag, with_word};
use crate::table::packed::packer::{Packer, differences, same_values};

/// `candidate` where it takes fewer bytes than `packed`.
fn narrower(packed: Packed, candidate: Option<Packed>) -> Packed {
    match candidate {
        Some(c) if c.bytes() < packed.bytes() => c,
        _ => packed,
    }
}

/// Chunk `k` of a keyed column stored after its key (see [`Packed::AfterKey`]); `keys` are the
/// frame's flow and port columns. None where the key columns do not line up with it. `links`
/// keeps each chunk's links for the frame's next keyed column: sequence and acknowledgement
/// numbers are present in the same rows, so they follow the same links (worked out once).
fn after_key_chunk(
    packer: &mut Packer,
    arr: &dyn Array,
    (flows, ports): &(Series, Series),
    k: usize,
    links: &mut Vec<Option<(Option<Bitmap>, Vec<u32>)>>,
) -> Option<Packed> {
    let flows = flows.chunks().get(k)?.as_any().downcast_ref::<PrimitiveArray<u64>>()?;
    let ports = ports.chunks().get(k)?.as_any().downcast_ref::<PrimitiveArray<u16>>()?;
    if flows.len() != arr.len() || ports.len() != arr.len() {
        return None;
    }
    if links.len() <= k {
        links.resize_with(k + 1, || None);
    }
    with_word!(
        arr.dtype(),
        |T| {
            let arr = arr.as_any().downcast_ref::<PrimitiveArray<T>>().expect("physical type");
            let reuse = matches!(&links[k], Some((valid, l))
                if l.len() == arr.len() && same_validity(valid.as_ref(), arr.validity()));
            if !reuse {
                links[k] = Some((arr.validity().cloned(), packer.links(arr, flows, ports)));
            }
            let (_, chunk_links) = links[k].as_ref()?;
            Some(packer.after_key(arr, chunk_links))
        },
        None
    )
}

/// Whether two validity masks (None: every row valid) mark the same rows.
fn same_validity(a: Option<&Bitmap>, b: Option<&Bitmap>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.len() == b.len() && a.unset_bits() == b.unset_bits() && a.iter().eq(b.iter()),
        (Some(v), None) | (None, Some(v)) => v.unset_bits() == 0,
    }
}

/// One column of a packed table.
struct PackedColumn {
    name: PlSmallStr,
    /// The Polars type users see.
    dtype: DataType,
    /// Its physical Arrow type.
    arrow: ArrowDataType,
    /// An earlier column whose values this one's are stored below, where that is narrower.
    reference: Option<usize>,
    /// The flow and port columns whose values key this one's rows, where storing each value
    /// after the last of the same key ([`Packed::AfterKey`]) is narrower.
    key: Option<(usize, usize)>,
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
                key: None,
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

    /// Store `column` (a column of integers) after the last row with the same `flow` (a UInt64
    /// column) and `port` (a UInt16 column) in the chunks where that is narrower.
    pub fn after_key(mut self, column: &str, flow: &str, port: &str) -> PackedTableBuilder {
        let cols = &self.table.columns;
        let at = |name: &str| cols.iter().position(|c| c.name == name);
        if let (Some(c), Some(f), Some(p)) = (at(column), at(flow), at(port))
            && cols[f].arrow == ArrowDataType::UInt64
            && cols[p].arrow == ArrowDataType::UInt16
            && cols[f].key.is_none()
            && cols[p].key.is_none()
            && c != f
            && c != p
        {
            self.table.columns[c].key = Some((f, p));
        }
        self
    }

    /// Pack one frame (its columns in the builder's schema order); each of its columns' chunks
    /// becomes a chunk here.
    pub fn push(&mut self, df: &DataFrame) -> PolarsResult<()> {
        let rows = df.height();
        let mut lens = None;
        let mut previous: Vec<Series> = Vec::new();
        // The key columns of the last keyed column, with each chunk's links: made once per
        // frame while the next keyed column has the same key (sequence and acknowledgement
        // numbers share theirs), made again for another key.
        type Keyed = (
            (usize, usize),
            (Series, Series),
            Vec<Option<(Option<Bitmap>, Vec<u32>)>>,
        );
        let mut keyed_by: Option<Keyed> = None;
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
                // The narrower of that and the layouts relative to something else, where the
                // column has one: below its reference, as steps (times), after its key.
                let not_null = !matches!(packed, Packed::Null { .. });
                let below = pc
                    .reference
                    .filter(|_| not_null)
                    .and_then(|r| previous.get(r)?.chunks().get(k))
                    .and_then(|reference| {
                        with_word!(
                            arr.dtype(),
                            |T| {
                                let arr = arr.as_any().downcast_ref::<PrimitiveArray<T>>().expect("physical type");
                                let reference = reference.as_any().downcast_ref::<PrimitiveArray<T>>()?;
                                let diff = self.packer.pack(&differences(reference, arr), false, true);
                                Some(Packed::Below { diff: Box::new(diff) })
                            },
                            None
                        )
                    });
                let packed = narrower(packed, below);
                // Times step from packet to packet by far less than they span in 1024 rows.
                let steps = match arr.as_any().downcast_ref::<PrimitiveArray<i64>>() {
                    Some(times) if not_null && !matches!(packed, Packed::Sequence { .. }) => self.packer.steps(times),
                    _ => None,
                };
                let packed = narrower(packed, steps);
                let keyed = match pc.key {
                    Some(key) if not_null => {
                        if keyed_by.as_ref().is_none_or(|(made_for, ..)| *made_for != key) {
                            let phys =
                                |i: usize| df.columns()[i].as_materialized_series().to_physical_repr().into_owned();
                            keyed_by = Some((key, (phys(key.0), phys(key.1)), Vec::new()));
                        }
                        keyed_by.as_mut().and_then(|(_, keys, links)| {
                            after_key_chunk(&mut self.packer, arr.as_ref(), keys, k, links)
                        })
                    }
                    _ => None,
                };
                let packed = narrower(packed, keyed);
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
            (
                Packed::AfterKey {
                    len,
                    validity,
                    firsts,
                    deltas,
                },
                _,
            ) => {
                let Some(key) = self.columns[j].key else {
                    unreachable!("a chunk stored after its key belongs to a keyed column")
                };
                let values = self.after_key_values::<T>(key, k, *len, validity.as_ref(), firsts, deltas);
                let has = |r: usize| validity.as_ref().is_none_or(|b| b.get_bit(r));
                match rows {
                    None => {
                        out.extend_from_slice(&values);
                        match validity {
                            Some(b) => valid.extend_from_bitmap(b),
                            None => valid.extend_constant(*len, true),
                        }
                    }
                    Some(rows) => {
                        out.extend(rows.iter().map(|&r| values[r as usize]));
                        rows.iter().for_each(|&r| valid.push(has(r as usize)));
                    }
                }
            }
            (p, _) => p.extend::<T>(rows, out, valid),
        }
    }

    /// The layout of each chunk of the named column (tests check which layouts real captures
    /// take).
    #[cfg(test)]
    pub(crate) fn kinds(&self, name: &str) -> Vec<&'static str> {
        self.index_of(name)
            .map(|i| self.columns[i].chunks.iter().map(Packed::kind).collect())
            .unwrap_or_default()
    }

    /// Every value of chunk `k` of a column stored after its key (see [`Packed::AfterKey`]),
    /// null rows as 0.
    fn after_key_values<T: Word>(
        &self,
        (flow, port): (usize, usize),
        k: usize,
        len: usize,
        validity: Option<&Bitmap>,
        firsts: &Packed,
        deltas: &Packed,
    ) -> Vec<T> {
        let (mut flows, mut flows_valid) = (Vec::<u64>::with_capacity(len), MutableBitmap::with_capacity(len));
        self.extend_chunk::<u64>(flow, k, None, &mut flows, &mut flows_valid);
        let (mut ports, mut ports_valid) = (Vec::<u16>::with_capacity(len), MutableBitmap::with_capacity(len));
        self.extend_chunk::<u16>(port, k, None, &mut ports, &mut ports_valid);
        let has = |r: usize| validity.is_none_or(|b| b.get_bit(r));
        let key = |r: usize| -> Option<RowKey> {
            flows_valid
                .get(r)
                .then(|| (flows[r], if ports_valid.get(r) { ports[r] } else { 0 }))
        };
        let links = after_key(len, has, key, &mut Vec::new());
        let (mut f, mut d) = (Vec::<T>::new(), Vec::<T>::new());
        firsts.extend::<T>(None, &mut f, &mut MutableBitmap::new());
        deltas.extend::<T>(None, &mut d, &mut MutableBitmap::new());
        let (mut f, mut d) = (f.into_iter(), d.into_iter());
        let mut values = vec![T::from_u64(0); len];
        for r in 0..len {
            if !has(r) {
                continue;
            }
            let delta = match links[r] {
                u32::MAX => None,
                p => d.next().map(|d| (p, d.to_u64())).filter(|&(_, d)| d != 0),
            };
            values[r] = match delta {
                Some((p, d)) => Some(T::from_u64(
                    values[p as usize].to_u64().wrapping_add(unzigzag::<T>(d - 1)),
                )),
                None => f.next(),
            }
            .unwrap_or(T::from_u64(0));
        }
        values
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
    use crate::table::packed::layout::zigzag;

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
        // Timestamps: ~1 ms apart (steps from row to row), with a jump between blocks.
        let ts: Vec<i64> = (0..n)
            .map(|i| 1_700_000_000_000_000_000 + i as i64 * 1_000_123 + (i / 3072) as i64 * (1 << 40))
            .collect();
        // Spread-out ids, few distinct: a dictionary (300 values: 10-bit codes).
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
                Column::new("ts".into(), ts.clone())
                    .cast(&DataType::Datetime(
                        TimeUnit::Nanoseconds,
                        Some(polars::prelude::TimeZone::UTC),
                    ))
                    .unwrap(),
                // Up to 2^31 later at random: steps wider than 32-bit offsets per block.
                Column::new(
                    "ts_jitter".into(),
                    ts.iter()
                        .enumerate()
                        .map(|(i, &t)| {
                            let x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                            let x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                            t + ((x ^ (x >> 27)) >> 54) as i64 * (1 << 21)
                        })
                        .collect::<Vec<_>>(),
                ),
                Column::new("ids".into(), ids),
                // 4500 of them: 16-bit codes.
                Column::new(
                    "ids_many".into(),
                    (0..n as u64)
                        .map(|i| (i % 4500).wrapping_mul(0x9e37_79b9_7f4a_7c15))
                        .collect::<Vec<_>>(),
                ),
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
                // Spread over 40000: 16-bit offsets.
                Column::new(
                    "window".into(),
                    (0..n).map(|i| (i * 7919 % 40_000) as u32).collect::<Vec<_>>(),
                ),
                // Spread over a million: 21-bit offsets, three to a word.
                Column::new(
                    "span".into(),
                    (0..n).map(|i| (i * 7919 % 1_000_000) as u32).collect::<Vec<_>>(),
                ),
                Column::new("flag".into(), (0..n).map(|i| i % 2 == 0).collect::<Vec<_>>()),
            ],
        )
        .unwrap();
        let t = roundtrip(&df);
        let kinds: Vec<&str> = t.columns.iter().map(|c| c.chunks[0].kind()).collect();
        assert_eq!(
            kinds,
            [
                "sequence",
                "same",
                "constant",
                "offset8",
                "steps",
                "offset32",
                "dictionary-bits",
                "dictionary",
                "plain",
                "dictionary-bits",
                "null",
                "dictionary-bits",
                "offset-bits",
                "offset-bits",
                "below",
                "below",
                "same",
                "offset16",
                "offset-bits",
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

    /// TCP-like numbers stored after their key read back exactly: several connections
    /// interleaved in both directions, rows without a value or without a flow, a step back
    /// (retransmission), a wrap past 2^32, a direction seen once, and two frames pushed so the
    /// second chunk starts with no links.
    #[test]
    fn numbers_stored_after_their_key_read_back_exactly() {
        let n = 3000usize;
        let mut x = 7u64;
        let mut next = || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            x >> 33
        };
        let mut at: std::collections::HashMap<(u64, u16), u32> = Default::default();
        let (mut flows, mut ports, mut seqs) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let flow = next() % 40;
            let port = if next() % 2 == 0 { 443 } else { 40000 + flow as u16 };
            let flow = (flow != 39).then_some(flow.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let seq = at
                .entry((flow.unwrap_or(0), port))
                .or_insert(if i == 5 { u32::MAX - 10 } else { next() as u32 });
            // Mostly forward by a segment, now and then back (a retransmission) or no value.
            let step = match next() % 20 {
                0 => (-1460i32) as u32,
                1 => 0,
                2 => next() as u32,
                _ => (next() % 1461) as u32,
            };
            *seq = seq.wrapping_add(step);
            flows.push(flow);
            // A row without a port has no number either (not TCP); one without a flow has both.
            let number = next() % 10 != 0;
            ports.push((number || next() % 2 == 0).then_some(port));
            seqs.push(number.then_some(*seq));
        }
        // Acknowledgement numbers in the same rows follow the links worked out for the sequence
        // numbers; a third keyed column, present in other rows, needs links of its own.
        let acks: Vec<Option<u32>> = seqs.iter().map(|s| s.map(|s| s.wrapping_mul(3))).collect();
        let others: Vec<Option<u32>> = seqs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if i % 3 == 0 {
                    None
                } else {
                    Some(s.unwrap_or(7).wrapping_add(9))
                }
            })
            .collect();
        // A column in the same rows but keyed by another port column must not follow the links
        // worked out for the first key.
        let other_ports: Vec<Option<u16>> = ports.iter().map(|p| p.map(|p| p % 7)).collect();
        let df = df!(
            "flow" => &flows,
            "port" => &ports,
            "seq" => &seqs,
            "ack" => &acks,
            "other_port" => &other_ports,
            "by_other_port" => &acks,
            "other" => &others,
        )
        .unwrap();
        let mut b = PackedTableBuilder::new(df.schema())
            .after_key("seq", "flow", "port")
            .after_key("ack", "flow", "port")
            .after_key("other", "flow", "port")
            .after_key("by_other_port", "flow", "other_port");
        b.push(&df).unwrap();
        b.push(&df.slice(1000, 1500)).unwrap();
        let t = b.finish();
        let seq = &t.columns[2];
        assert!(
            matches!(seq.chunks[0], Packed::AfterKey { .. }),
            "the keyed layout is the narrower one here"
        );
        // Two bytes a row where four were: segments move a number by at most 1460 here.
        assert!(
            seq.chunks[0].bytes() < n * 4 * 6 / 10,
            "{} bytes for {n} rows",
            seq.chunks[0].bytes()
        );
        let whole = df.vstack(&df.slice(1000, 1500)).unwrap();
        let back = t.frame(None, None).unwrap();
        assert!(whole.equals_missing(&back), "{whole}\n{back}");
        let rows = [0usize, 1, 5, 6, 999, 1500, 2999, 3000, 3001, 4499];
        let by_chunk = t.rows_by_chunk(rows.iter().copied());
        let idx = IdxCa::from_vec("i".into(), rows.iter().map(|&r| r as IdxSize).collect());
        for name in ["seq", "ack", "other", "by_other_port"] {
            assert_eq!(t.kinds(name)[0], "after-key", "{name}");
            let got = t.gather(name, &by_chunk).unwrap();
            let want = whole.column(name).unwrap().take(&idx).unwrap();
            assert!(
                got.as_materialized_series()
                    .equals_missing(want.as_materialized_series()),
                "{name}"
            );
        }
    }

    #[test]
    fn zigzag_keeps_small_differences_small_at_every_width() {
        for d in [0i64, 1, -1, 2, -2, 1460, -1460, i32::MAX as i64, i32::MIN as i64] {
            let z = zigzag::<u32>(d as u64 & 0xffff_ffff);
            assert!(z <= 2 * d.unsigned_abs(), "{d} -> {z}");
            assert_eq!((unzigzag::<u32>(z) as u32), d as u32, "{d}");
        }
        for d in [0i64, -1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag::<u64>(zigzag::<u64>(d as u64)) as i64, d);
        }
    }

    /// Whole-microsecond times (a classic pcap's) step in microseconds: one back in time
    /// included, they read back exactly at two bytes a row or less.
    #[test]
    fn microsecond_times_are_stored_as_small_steps() {
        let ts: Vec<i64> = (0..4000i64)
            .map(|i| 1_709_251_200_000_649_000 + i * 361_000 + (i % 7) * 1000 - if i == 100 { 5_000_000 } else { 0 })
            .collect();
        let df = df!("ts" => &ts).unwrap();
        let mut b = PackedTableBuilder::new(df.schema());
        b.push(&df).unwrap();
        let t = b.finish();
        let chunk = &t.columns[0].chunks[0];
        assert!(matches!(chunk, Packed::Steps { scale: 1000, .. }));
        assert!(chunk.bytes() <= 2 * ts.len(), "{} bytes", chunk.bytes());
        assert!(t.frame(None, None).unwrap().equals_missing(&df));
    }
}
