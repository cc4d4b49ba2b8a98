//! layout: the narrow layouts a chunk of a column can take (`Packed`), and reading them back
//! into Polars arrays, whole or at chosen rows.

use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray};
use polars_arrow::bitmap::{Bitmap, MutableBitmap};
use polars_arrow::types::NativeType;

/// Rows sharing one base in an offset encoding.
pub(crate) const BLOCK: usize = 1024;

/// A fixed-width integer seen as 64 bits (timestamps as their bit pattern; wrapping arithmetic
/// makes base + offset exact either way).
pub(crate) trait Word: NativeType + Copy + Ord {
    const MIN: Self;
    const MAX: Self;
    fn to_u64(self) -> u64;
    fn from_u64(v: u64) -> Self;
}

macro_rules! word {
    ($($t:ty),*) => {$(
        impl Word for $t {
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            #[inline(always)]
            fn to_u64(self) -> u64 {
                self as u64
            }
            #[inline(always)]
            fn from_u64(v: u64) -> Self {
                v as $t
            }
        }
    )*};
}
word!(u8, u16, u32, u64, i64);

/// Offsets from a block's base.
pub(crate) enum Offsets {
    /// Every offset is 0.
    Zero,
    /// 1, 2 or 4 bits each, packed into words from the low bits up.
    Bits {
        bits: u8,
        words: Vec<u64>,
    },
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl Offsets {
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> u64 {
        match self {
            Offsets::Zero => 0,
            Offsets::Bits { bits, words } => {
                let per = 64 / *bits as usize;
                (words[i / per] >> ((i % per) * *bits as usize)) & ((1 << *bits) - 1)
            }
            Offsets::U8(v) => v[i] as u64,
            Offsets::U16(v) => v[i] as u64,
            Offsets::U32(v) => v[i] as u64,
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        match self {
            Offsets::Zero => 0,
            Offsets::Bits { words, .. } => words.len() * 8,
            Offsets::U8(v) => v.len(),
            Offsets::U16(v) => v.len() * 2,
            Offsets::U32(v) => v.len() * 4,
        }
    }
}

/// One chunk of one column.
pub(crate) enum Packed {
    /// Every row null.
    Null { len: usize },
    /// Row i holds first + i (no nulls).
    Sequence { first: u64, len: usize },
    /// Row i holds bases[i / BLOCK] + offsets[i].
    Offset {
        bases: Vec<u64>,
        offsets: Offsets,
        len: usize,
        validity: Option<Bitmap>,
    },
    /// Row i holds values[codes[i]].
    Dict {
        values: Vec<u64>,
        codes: Offsets,
        len: usize,
        validity: Option<Bitmap>,
    },
    /// As Polars made it.
    Plain(Box<dyn Array>),
    /// The same values as the previous column's chunk, no nulls (`cap_len` = `wire_len` unless
    /// the snap length cut packets).
    Same { len: usize },
    /// Row i holds the reference column's value less `diff`'s (which also says which rows are
    /// null): `payload_len` is `wire_len` less the headers, a few sizes.
    Below { diff: Box<Packed> },
}

impl Packed {
    pub(crate) fn len(&self) -> usize {
        match self {
            Packed::Null { len } | Packed::Sequence { len, .. } | Packed::Same { len } => *len,
            Packed::Below { diff } => diff.len(),
            Packed::Offset { len, .. } | Packed::Dict { len, .. } => *len,
            Packed::Plain(a) => a.len(),
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        let bits = |v: &Option<Bitmap>| v.as_ref().map_or(0, |b| b.len().div_ceil(8));
        match self {
            Packed::Null { .. } | Packed::Sequence { .. } | Packed::Same { .. } => 0,
            Packed::Below { diff } => diff.bytes(),
            Packed::Offset {
                bases,
                offsets,
                validity,
                ..
            } => bases.len() * 8 + offsets.bytes() + bits(validity),
            Packed::Dict {
                values,
                codes,
                validity,
                ..
            } => values.len() * 8 + codes.bytes() + bits(validity),
            Packed::Plain(a) => polars_arrow::compute::aggregate::estimated_bytes_size(a.as_ref()),
        }
    }

    /// Row `i`'s value (validity aside).
    #[inline(always)]
    pub(crate) fn value(&self, i: usize) -> u64 {
        match self {
            Packed::Null { .. } => 0,
            Packed::Sequence { first, .. } => first.wrapping_add(i as u64),
            Packed::Offset { bases, offsets, .. } => bases[i / BLOCK].wrapping_add(offsets.get(i)),
            Packed::Dict { values, codes, .. } => values[codes.get(i) as usize],
            Packed::Plain(_) | Packed::Same { .. } | Packed::Below { .. } => {
                unreachable!("resolved before reading values")
            }
        }
    }

    pub(crate) fn validity(&self) -> Option<&Bitmap> {
        match self {
            Packed::Offset { validity, .. } | Packed::Dict { validity, .. } => validity.as_ref(),
            _ => None,
        }
    }

    /// Append the chunk's values (all rows, or `rows`) to `out` and whether each is valid to
    /// `valid`. Plain chunks hold `T`: `PackedTableBuilder::push` checks every chunk's type.
    pub(crate) fn extend<T: Word>(&self, rows: Option<&[u32]>, out: &mut Vec<T>, valid: &mut MutableBitmap) {
        let n = rows.map_or(self.len(), <[u32]>::len);
        match (self, rows) {
            (Packed::Null { .. }, _) => {
                out.extend(std::iter::repeat_n(T::from_u64(0), n));
                valid.extend_constant(n, false);
                return;
            }
            (Packed::Plain(a), _) => {
                let Some(a) = a.as_any().downcast_ref::<PrimitiveArray<T>>() else {
                    unreachable!("plain chunk of another type")
                };
                let v = a.values().as_slice();
                match rows {
                    None => out.extend_from_slice(v),
                    Some(rows) => out.extend(rows.iter().map(|&r| v[r as usize])),
                }
                match (a.validity(), rows) {
                    (None, _) => valid.extend_constant(n, true),
                    (Some(b), None) => valid.extend_from_bitmap(b),
                    (Some(b), Some(rows)) => rows.iter().for_each(|&r| valid.push(b.get_bit(r as usize))),
                }
                return;
            }
            (Packed::Offset { bases, offsets, .. }, None) => match offsets {
                Offsets::U8(o) => widen_into(bases, o, out),
                Offsets::U16(o) => widen_into(bases, o, out),
                Offsets::U32(o) => widen_into(bases, o, out),
                _ => out.extend((0..n).map(|i| T::from_u64(self.value(i)))),
            },
            (Packed::Dict { values, codes, .. }, None) => match codes {
                Offsets::U8(c) => out.extend(c.iter().map(|&c| T::from_u64(values[c as usize]))),
                Offsets::U16(c) => out.extend(c.iter().map(|&c| T::from_u64(values[c as usize]))),
                _ => out.extend((0..n).map(|i| T::from_u64(self.value(i)))),
            },
            (_, None) => out.extend((0..n).map(|i| T::from_u64(self.value(i)))),
            // One loop per layout: a match per row made gathering events ~2x slower.
            (Packed::Offset { bases, offsets, .. }, Some(rows)) => {
                let at = |r: u32| bases[r as usize / BLOCK];
                match offsets {
                    Offsets::U8(o) => out.extend(
                        rows.iter()
                            .map(|&r| T::from_u64(at(r).wrapping_add(o[r as usize] as u64))),
                    ),
                    Offsets::U16(o) => out.extend(
                        rows.iter()
                            .map(|&r| T::from_u64(at(r).wrapping_add(o[r as usize] as u64))),
                    ),
                    Offsets::U32(o) => out.extend(
                        rows.iter()
                            .map(|&r| T::from_u64(at(r).wrapping_add(o[r as usize] as u64))),
                    ),
                    _ => out.extend(
                        rows.iter()
                            .map(|&r| T::from_u64(at(r).wrapping_add(offsets.get(r as usize)))),
                    ),
                }
            }
            (Packed::Dict { values, codes, .. }, Some(rows)) => match codes {
                Offsets::U8(c) => out.extend(rows.iter().map(|&r| T::from_u64(values[c[r as usize] as usize]))),
                Offsets::U16(c) => out.extend(rows.iter().map(|&r| T::from_u64(values[c[r as usize] as usize]))),
                _ => out.extend(
                    rows.iter()
                        .map(|&r| T::from_u64(values[codes.get(r as usize) as usize])),
                ),
            },
            (_, Some(rows)) => out.extend(rows.iter().map(|&r| T::from_u64(self.value(r as usize)))),
        }
        match (self.validity(), rows) {
            (None, _) => valid.extend_constant(n, true),
            (Some(b), None) => valid.extend_from_bitmap(b),
            (Some(b), Some(rows)) => rows.iter().for_each(|&r| valid.push(b.get_bit(r as usize))),
        }
    }
}

/// Rows of an array Polars made (any type), through a Series of just that array.
pub(crate) fn take_plain(a: &dyn Array, rows: &[u32]) -> PolarsResult<Box<dyn Array>> {
    let idx = IdxCa::from_vec(PlSmallStr::EMPTY, rows.iter().map(|&r| r as IdxSize).collect());
    let taken = Series::from_arrow(PlSmallStr::EMPTY, a.to_boxed())?
        .take(&idx)?
        .rechunk();
    Ok(taken.chunks()[0].clone())
}

/// Offsets back to values appended to `out`, block by block (a loop the compiler vectorises).
pub(crate) fn widen_into<T: Word, O: Copy + Into<u64>>(bases: &[u64], offsets: &[O], out: &mut Vec<T>) {
    for (block, base) in offsets.chunks(BLOCK).zip(bases) {
        out.extend(block.iter().map(|&o| T::from_u64(base.wrapping_add(o.into()))));
    }
}

/// Calls `$body` with `$T` bound to the Rust type of a physical Arrow type we pack.
macro_rules! with_word {
    ($dtype:expr, |$T:ident| $body:expr, $other:expr) => {
        match $dtype {
            ArrowDataType::UInt8 => {
                type $T = u8;
                $body
            }
            ArrowDataType::UInt16 => {
                type $T = u16;
                $body
            }
            ArrowDataType::UInt32 => {
                type $T = u32;
                $body
            }
            ArrowDataType::UInt64 => {
                type $T = u64;
                $body
            }
            ArrowDataType::Int64 => {
                type $T = i64;
                $body
            }
            _ => $other,
        }
    };
}
pub(crate) use with_word;
