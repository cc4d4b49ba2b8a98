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
    /// 1, 2, 4, 10, 12 or 21 bits each, packed into words from the low bits up (as many whole
    /// values as a word holds).
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

    /// The first `n` values of a `Bits` layout in order, word by word (no division per value,
    /// as [`Offsets::get`] needs for the widths that do not divide 64).
    pub(crate) fn unpacked(&self, n: usize) -> impl Iterator<Item = u64> + '_ {
        let (bits, words): (usize, &[u64]) = match self {
            Offsets::Bits { bits, words } => (*bits as usize, words),
            _ => (1, &[]),
        };
        let (per, mask) = (64 / bits, (1u64 << bits) - 1);
        words
            .iter()
            .flat_map(move |&w| (0..per).map(move |j| (w >> (j * bits)) & mask))
            .take(n)
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
    /// Row 0 holds `first`, row i row i-1's value plus `scale` times the i-th of `steps`
    /// (zigzagged; no nulls): packet times, whole microseconds in a classic pcap and ~0.4 ms
    /// apart in the generated benchmark captures, where offsets from a base per 1024 rows
    /// needed 32 bits.
    Steps { first: u64, scale: u64, steps: Box<Packed> },
    /// Each row with a value holds the value of the last row before it in the chunk with the
    /// same key (see [`after_key`]) plus the next of `deltas` (zigzagged, plus 1), or, where
    /// there is no such row or that delta is 0 (a jump), the next of `firsts`: TCP sequence
    /// and acknowledgement numbers are random per connection but move by a segment's size or
    /// so from one segment of a direction to the next.
    AfterKey {
        len: usize,
        validity: Option<Bitmap>,
        firsts: Box<Packed>,
        deltas: Box<Packed>,
    },
}

impl Packed {
    pub(crate) fn len(&self) -> usize {
        match self {
            Packed::Null { len } | Packed::Sequence { len, .. } | Packed::Same { len } => *len,
            Packed::Below { diff } => diff.len(),
            Packed::AfterKey { len, .. } => *len,
            Packed::Steps { steps, .. } => steps.len(),
            Packed::Offset { len, .. } | Packed::Dict { len, .. } => *len,
            Packed::Plain(a) => a.len(),
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        let bits = |v: &Option<Bitmap>| v.as_ref().map_or(0, |b| b.len().div_ceil(8));
        match self {
            Packed::Null { .. } | Packed::Sequence { .. } | Packed::Same { .. } => 0,
            Packed::Below { diff } => diff.bytes(),
            Packed::Steps { steps, .. } => 16 + steps.bytes(),
            Packed::AfterKey {
                validity,
                firsts,
                deltas,
                ..
            } => firsts.bytes() + deltas.bytes() + bits(validity),
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
            Packed::Plain(_)
            | Packed::Same { .. }
            | Packed::Below { .. }
            | Packed::AfterKey { .. }
            | Packed::Steps { .. } => {
                unreachable!("resolved before reading values")
            }
        }
    }

    /// The layout's name (tests check which layout a chunk took).
    #[cfg(test)]
    pub(crate) fn kind(&self) -> &'static str {
        match self {
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
            Packed::AfterKey { .. } => "after-key",
            Packed::Steps { .. } => "steps",
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
            (Packed::Steps { first, scale, steps }, _) => {
                let mut s: Vec<T> = Vec::with_capacity(steps.len());
                steps.extend::<T>(None, &mut s, &mut MutableBitmap::new());
                let mut at = *first;
                let values: Vec<T> = s
                    .iter()
                    .map(|d| {
                        at = at.wrapping_add(unzigzag::<T>(d.to_u64()).wrapping_mul(*scale));
                        T::from_u64(at)
                    })
                    .collect();
                match rows {
                    None => out.extend_from_slice(&values),
                    Some(rows) => out.extend(rows.iter().map(|&r| values[r as usize])),
                }
                valid.extend_constant(n, true);
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
                Offsets::Bits { .. } => out.extend(
                    offsets
                        .unpacked(n)
                        .enumerate()
                        .map(|(i, o)| T::from_u64(bases[i / BLOCK].wrapping_add(o))),
                ),
                Offsets::Zero => out.extend((0..n).map(|i| T::from_u64(self.value(i)))),
            },
            (Packed::Dict { values, codes, .. }, None) => match codes {
                Offsets::U8(c) => out.extend(c.iter().map(|&c| T::from_u64(values[c as usize]))),
                Offsets::U16(c) => out.extend(c.iter().map(|&c| T::from_u64(values[c as usize]))),
                Offsets::Bits { .. } => out.extend(codes.unpacked(n).map(|c| T::from_u64(values[c as usize]))),
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

/// Differences (zigzagged) from this on are stored as whole values in [`Packed::AfterKey`]:
/// the deltas then fit 16 bits.
pub(crate) const AFTER_KEY_JUMP: u64 = 0xffff;

/// A row's key for [`Packed::AfterKey`]: its flow and sending port (one direction of a TCP
/// connection; both when the two ports are the same, which only costs room).
pub(crate) type RowKey = (u64, u16);

/// Slots of the table [`after_key`] finds a key's last row in (twice a chunk's rows).
const KEY_SLOTS: usize = 1 << 14;

/// For each row of a chunk, in order, the last row before it with the same key that has a
/// value (`u32::MAX`: none). A row without a value, or without a key, links nowhere and is not
/// linked to. The packer and the reader both call this, so both see the same links; the table
/// is direct-mapped (a key whose slot another took links nowhere, which only costs room) and
/// `slots` is reused between chunks (a hash map was most of the time).
pub(crate) fn after_key(
    n: usize,
    has_value: impl Fn(usize) -> bool,
    key: impl Fn(usize) -> Option<RowKey>,
    slots: &mut Vec<(u64, u32)>,
) -> Vec<u32> {
    slots.clear();
    slots.resize(KEY_SLOTS, (0, u32::MAX));
    (0..n)
        .map(|i| {
            if !has_value(i) {
                return u32::MAX;
            }
            let Some((flow, port)) = key(i) else { return u32::MAX };
            // Flow ids are hashes already; the port is mixed into their top and bottom bits.
            let k = flow ^ (u64::from(port) << 48 | u64::from(port));
            let slot = (k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - KEY_SLOTS.trailing_zeros())) as usize;
            let (held, row) = std::mem::replace(&mut slots[slot], (k, i as u32));
            if row != u32::MAX && held == k { row } else { u32::MAX }
        })
        .collect()
}

/// A difference between two values of `T`'s width as a small number whatever its sign (0, -1,
/// 1, -2, ... as 0, 1, 2, 3, ...): a retransmission steps back.
pub(crate) fn zigzag<T: Word>(d: u64) -> u64 {
    let bits = 8 * size_of::<T>() as u32;
    // Sign-extend from the type's width, then interleave.
    let x = ((d << (64 - bits)) as i64) >> (64 - bits);
    let z = ((x << 1) ^ (x >> 63)) as u64;
    if bits == 64 { z } else { z & ((1u64 << bits) - 1) }
}

/// The difference [`zigzag`] stored (as a 64-bit pattern to add with wrapping).
pub(crate) fn unzigzag<T: Word>(z: u64) -> u64 {
    ((z >> 1) as i64 ^ -((z & 1) as i64)) as u64
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
