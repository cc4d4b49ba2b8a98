//! column: a nullable primitive column (and a list column of text codes) being built row by row,
//! and the Polars columns made from it (numbers, booleans, text codes, enum codes, text lists).

use polars::prelude::*;

use crate::table::interner::Interner;
use crate::table::schema::cat_dtype;

// Column builders

/// A nullable primitive column being built.
///
/// Storage is zeroed ahead and a value is written at its row, so a null costs nothing and a
/// value one store and one bit: the decoder writes ~30 of these per packet, and the `Vec` push
/// plus bitmap push it had before were a third of a decode worker's time.
#[derive(Default)]
pub(crate) struct Col<T> {
    /// Zero (the default) where nothing was written; may run past `len`.
    values: Vec<T>,
    /// Validity bits, one per row of `values`.
    valid: Vec<u8>,
    /// Rows in the column: set by [`Col::push`], or by [`Col::rows`] for columns written by
    /// [`Col::put`].
    len: usize,
}

impl<T: Copy + Default> Col<T> {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Col {
            values: vec![T::default(); n],
            valid: vec![0; n.div_ceil(8)],
            len: 0,
        }
    }

    /// `n` rows, every one `v`.
    pub(crate) fn filled(v: T, n: usize) -> Self {
        Col {
            values: vec![v; n],
            valid: vec![u8::MAX; n.div_ceil(8)],
            len: n,
        }
    }

    /// Append a row.
    #[inline]
    pub(crate) fn push(&mut self, v: Option<T>) {
        self.put(self.len, v);
        self.len += 1;
    }

    /// Write row `row` (rows never written stay null).
    #[inline]
    pub(crate) fn put(&mut self, row: usize, v: Option<T>) {
        if let Some(x) = v {
            if row >= self.values.len() {
                self.grow(row);
            }
            debug_assert!(row < self.values.len() && row >> 3 < self.valid.len());
            // SAFETY: `row` is below `values.len()` (grown just above if it was not), and `valid`
            // always holds a bit for every row of `values` (both are only sized together, in
            // `with_capacity` and `grow`). Unchecked: this runs ~30 times per decoded packet.
            unsafe {
                *self.values.get_unchecked_mut(row) = x;
                *self.valid.get_unchecked_mut(row >> 3) |= 1 << (row & 7);
            }
        }
    }

    #[cold]
    pub(crate) fn grow(&mut self, row: usize) {
        let n = (row + 1).max(2 * self.values.len()).max(64);
        self.values.resize(n, T::default());
        self.valid.resize(n.div_ceil(8), 0);
    }

    /// The column holds `n` rows (for columns written by [`Col::put`]).
    pub(crate) fn rows(mut self, n: usize) -> Self {
        self.len = n;
        self
    }

    pub(crate) fn get(&self, i: usize) -> Option<T> {
        (i < self.values.len() && self.valid[i >> 3] & (1 << (i & 7)) != 0).then(|| self.values[i])
    }

    pub(crate) fn set(&mut self, i: usize, v: Option<T>) {
        match v {
            Some(_) => self.put(i, v),
            None if i < self.values.len() => {
                self.values[i] = T::default();
                self.valid[i >> 3] &= !(1 << (i & 7));
            }
            None => {}
        }
    }

    pub(crate) fn validity(mut self) -> (Vec<T>, Option<polars_arrow::bitmap::Bitmap>) {
        let n = self.len;
        self.values.resize(n, T::default());
        self.valid.resize(n.div_ceil(8), 0);
        if !n.is_multiple_of(8)
            && let Some(last) = self.valid.last_mut()
        {
            *last &= (1u8 << (n % 8)) - 1;
        }
        let nulls = polars_arrow::bitmap::utils::count_zeros(&self.valid, 0, n);
        let bm = (nulls > 0).then(|| polars_arrow::bitmap::Bitmap::from_u8_vec(self.valid, n));
        (self.values, bm)
    }
}

pub(crate) fn prim<T: PolarsNumericType>(name: &str, c: Col<T::Native>) -> Column {
    let (v, bm) = c.validity();
    ChunkedArray::<T>::from_vec_validity(name.into(), v, bm).into_column()
}

pub(crate) fn cat32(name: &str, c: Col<u32>, dtype: DataType) -> Column {
    let (v, bm) = c.validity();
    let phys = UInt32Chunked::from_vec_validity(name.into(), v, bm);
    // SAFETY: every code came from `insert_cat` on this dtype's mapping.
    unsafe { Categorical32Chunked::from_cats_and_dtype_unchecked(phys, dtype) }
        .into_series()
        .into_column()
}

pub(crate) fn enum8(name: &str, c: Col<u8>, dtype: &DataType) -> Column {
    let (v, bm) = c.validity();
    let phys = UInt8Chunked::from_vec_validity(name.into(), v, bm);
    // SAFETY: codes are indexes into the enum's own name list.
    unsafe { Categorical8Chunked::from_cats_and_dtype_unchecked(phys, dtype.clone()) }
        .into_series()
        .into_column()
}

pub(crate) fn boolean(name: &str, c: Col<bool>) -> Column {
    let (v, bm) = c.validity();
    let arr = polars_arrow::array::BooleanArray::new(
        polars_arrow::datatypes::ArrowDataType::Boolean,
        v.into_iter().collect(),
        bm,
    );
    BooleanChunked::with_chunk(name.into(), arr).into_column()
}

/// A list column of text codes being built.
#[derive(Default)]
pub(crate) struct TextLists {
    values: Vec<u32>,
    offsets: Vec<usize>,
}

impl TextLists {
    pub(crate) fn push(&mut self, items: &[String], it: &Interner) {
        self.push_codes(items.iter().map(|s| it.text(s)));
    }

    /// A list already coded.
    pub(crate) fn push_codes(&mut self, codes: impl IntoIterator<Item = u32>) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.values.extend(codes);
        self.offsets.push(self.values.len());
    }

    pub(crate) fn column(self, name: &str, n: usize) -> Column {
        let mut offsets: Vec<i64> = self.offsets.iter().map(|&o| o as i64).collect();
        // Rows past the last list pushed hold empty lists (as a builder appending them would).
        offsets.resize(n + 1, self.values.len() as i64);
        list_column(name, offsets, self.values, cat_dtype())
    }
}

/// A list column whose row i holds `values[offsets[i]..offsets[i + 1]]` (no null lists), its
/// items of type `inner` (physically `T`). Made whole: appended list by list, the dns table's
/// answers and TTLs took ~35 ms of the 10M load after decoding.
pub(crate) fn list_column<T: polars_arrow::types::NativeType>(
    name: &str,
    offsets: Vec<i64>,
    values: Vec<T>,
    inner: DataType,
) -> Column {
    use polars_arrow::array::{ListArray, PrimitiveArray};
    use polars_arrow::offset::OffsetsBuffer;
    let values = PrimitiveArray::from_vec(values);
    let arrow = ListArray::<i64>::default_datatype(values.dtype().clone());
    // The offsets start at 0 and never go down (each list ends where the next starts).
    debug_assert!(offsets.first() == Some(&0) && offsets.windows(2).all(|w| w[0] <= w[1]));
    // SAFETY: as above, and the last offset is `values.len()` (callers end with it).
    let offsets = unsafe { OffsetsBuffer::new_unchecked(offsets.into()) };
    let list = ListArray::<i64>::new(arrow, offsets, values.boxed(), None);
    // SAFETY: a list of `T` is the physical form of a list of `inner` (codes of the text dtype
    // for text, the numbers themselves otherwise).
    unsafe {
        Series::from_chunks_and_dtype_unchecked(name.into(), vec![list.boxed()], &DataType::List(Box::new(inner)))
    }
    .into_column()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lists made whole read back as a builder appending them list by list makes them: empty
    /// lists included, rows past the last list pushed empty, no rows at all.
    #[test]
    fn lists_made_whole_equal_lists_appended_one_by_one() {
        let lists: [&[u32]; 4] = [&[3, 1], &[], &[7], &[]];
        let mut b = ListPrimitiveChunkedBuilder::<UInt32Type>::new("l".into(), 5, 3, cat_dtype());
        let mut t = TextLists::default();
        for l in lists {
            b.append_slice(l);
            t.push_codes(l.iter().copied());
        }
        b.append_slice(&[]);
        let want = b.finish().into_column();
        assert!(t.column("l", 5).equals_missing(&want));
        let offsets = vec![0, 2, 2, 3, 3, 3];
        let whole = list_column("l", offsets, vec![3u32, 1, 7], cat_dtype());
        assert!(whole.equals_missing(&want), "{whole:?} vs {want:?}");
        let none = ListPrimitiveChunkedBuilder::<UInt32Type>::new("l".into(), 0, 0, cat_dtype()).finish();
        assert!(TextLists::default().column("l", 0).equals_missing(&none.into_column()));
    }

    #[test]
    fn col_rows_written_out_of_order_past_capacity_and_cleared_read_back() {
        let mut c = Col::<u16>::with_capacity(4);
        c.put(1, Some(7));
        c.put(2, None);
        c.put(9, Some(9)); // past the capacity: grows
        c.set(1, None);
        c.set(3, Some(3));
        assert_eq!(
            (c.get(1), c.get(3), c.get(9), c.get(100)),
            (None, Some(3), Some(9), None)
        );
        let (values, valid) = c.rows(11).validity();
        assert_eq!(values, vec![0, 0, 0, 3, 0, 0, 0, 0, 0, 9, 0]);
        let valid: Vec<bool> = valid.expect("has nulls").iter().collect();
        let want: Vec<bool> = (0..11).map(|i| i == 3 || i == 9).collect();
        assert_eq!(valid, want);

        // Every row set: no validity bitmap at all; appends count their rows.
        let mut c = Col::<u8>::with_capacity(2);
        for i in 0..10 {
            c.push(Some(i));
        }
        assert_eq!(c.validity(), ((0..10).collect::<Vec<u8>>(), None));
    }

    #[test]
    fn columns_with_runs_of_nulls_build_what_was_pushed_and_set() {
        // A model of every push and set, against the column that writes null runs late.
        let mut col = Col::<u32>::with_capacity(0);
        let mut model: Vec<Option<u32>> = Vec::new();
        let mut x = 12345u32;
        for i in 0..5000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let v = x.is_multiple_of(7).then_some(i);
            col.push(v);
            model.push(v);
            if x.is_multiple_of(11) {
                // Set a row that may still be a pending null, or clear a value.
                let row = (x as usize / 13) % model.len();
                let v = x.is_multiple_of(2).then_some(u32::MAX - i);
                col.set(row, v);
                model[row] = v;
            }
            let probe = (x as usize / 17) % model.len();
            assert_eq!(col.get(probe), model[probe], "row {probe} after push {i}");
        }
        for _ in 0..3 {
            col.push(None);
            model.push(None);
        }
        let built = prim::<UInt32Type>("c", col);
        let want: Vec<Option<u32>> = built.u32().unwrap().iter().collect();
        assert_eq!(want, model);
        assert_eq!(built.null_count(), model.iter().filter(|v| v.is_none()).count());
    }
}
