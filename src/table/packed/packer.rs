//! packer: picks the narrowest layout for each chunk of each column (see the module docs of
//! [`crate::table::packed`]).

use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray};
use polars_arrow::bitmap::Bitmap;

use crate::table::packed::layout::{AFTER_KEY_JUMP, BLOCK, Offsets, Packed, Word, after_key, with_word, zigzag};

/// Reused between chunks while packing.
#[derive(Default)]
pub struct Packer {
    /// For dictionaries of up to 256 values, and of more (a table each: sized once).
    small: CodeTable,
    large: CodeTable,
    /// Code per distance from the chunk's least value (see `dictionary_direct`), and the stamp
    /// that marks this chunk's entries.
    direct: Vec<u32>,
    direct_stamp: u16,
    /// The last row of each key (see [`Packer::after_key`]).
    last_of_key: Vec<(u64, u32)>,
}

/// Value -> dictionary code while packing one chunk: open addressing with a multiplicative hash
/// and a stamp per slot, so starting the next chunk clears nothing. (A general hash map was
/// most of the packing time.)
#[derive(Default)]
struct CodeTable {
    slots: Vec<Slot>,
    stamp: u32,
    bits: u32,
}

/// One slot: a probe reads one cache line.
#[derive(Default, Clone, Copy)]
struct Slot {
    key: u64,
    stamp: u32,
    code: u16,
}

impl CodeTable {
    /// Start over with room for `most` codes at half load. The table only grows: chunks of
    /// event rows (small) and of all rows take turns, and remaking it each time cost more than
    /// a table larger than a small chunk needs.
    fn reset(&mut self, most: usize) {
        let bits = (most * 2).next_power_of_two().trailing_zeros().max(4).max(self.bits);
        if bits != self.bits || self.stamp == u32::MAX {
            self.slots = vec![Slot::default(); 1 << bits];
            self.bits = bits;
            self.stamp = 0;
        }
        self.stamp += 1;
    }

    /// The code of `x`, or `next` after recording it as that.
    #[inline(always)]
    fn code(&mut self, x: u64, next: u16) -> u16 {
        let mask = (1usize << self.bits) - 1;
        let mut h = (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - self.bits)) as usize;
        loop {
            let slot = &mut self.slots[h & mask];
            if slot.stamp != self.stamp {
                *slot = Slot {
                    key: x,
                    stamp: self.stamp,
                    code: next,
                };
                return next;
            }
            if slot.key == x {
                return slot.code;
            }
            h += 1;
        }
    }
}

/// Bits an offset up to `range` is stored in: 0, 1, 2, 4, 8, 10, 12, 16, 21, 32 or 64. The
/// odd widths are packed whole into 64-bit words (6 of 10 bits, 5 of 12, 3 of 21): a chunk's
/// dictionary codes for a few hundred flows or addresses, frame lengths, time steps and TCP
/// number steps mostly need 9-12 bits, and took 16 (10M packets: ~35 MB less).
fn width_of(range: u64) -> u8 {
    match range {
        0 => 0,
        1 => 1,
        2..=3 => 2,
        4..=15 => 4,
        16..=0xff => 8,
        0x100..=0x3ff => 10,
        0x400..=0xfff => 12,
        0x1000..=0xffff => 16,
        0x1_0000..=0x1f_ffff => 21,
        0x20_0000..=0xffff_ffff => 32,
        _ => 64,
    }
}

/// Values below 2^bits (bits 1, 2, 4, 10, 12 or 21), packed.
fn bits_of<T: Copy + Into<u64>>(bits: u8, vals: &[T]) -> Offsets {
    // A constant width per call, so each word's loop is unrolled.
    fn words<const B: usize, T: Copy + Into<u64>>(vals: &[T]) -> Vec<u64> {
        vals.chunks(64 / B)
            .map(|c| c.iter().enumerate().fold(0u64, |w, (j, &x)| w | x.into() << (j * B)))
            .collect()
    }
    let words = match bits {
        1 => words::<1, T>(vals),
        2 => words::<2, T>(vals),
        4 => words::<4, T>(vals),
        10 => words::<10, T>(vals),
        12 => words::<12, T>(vals),
        _ => words::<21, T>(vals),
    };
    Offsets::Bits { bits, words }
}

/// Each value less its block's base, `width` bits each.
fn offsets_of<T: Word>(width: u8, v: &[T], bases: &[T]) -> Offsets {
    // Block by block in the values' own type, a loop the compiler vectorises.
    fn each<T: Word, O>(v: &[T], bases: &[T], narrow: impl Fn(u64) -> O) -> Vec<O> {
        let mut out = Vec::with_capacity(v.len());
        for (block, &base) in v.chunks(BLOCK).zip(bases) {
            let base = base.to_u64();
            out.extend(block.iter().map(|x| narrow(x.to_u64().wrapping_sub(base))));
        }
        out
    }
    match width {
        0 => Offsets::Zero,
        1 | 2 | 4 => bits_of(width, &each(v, bases, |d| d as u8)),
        8 => Offsets::U8(each(v, bases, |d| d as u8)),
        10 | 12 => bits_of(width, &each(v, bases, |d| d as u16)),
        16 => Offsets::U16(each(v, bases, |d| d as u16)),
        21 => bits_of(width, &each(v, bases, |d| d as u32)),
        _ => Offsets::U32(each(v, bases, |d| d as u32)),
    }
}

impl Packer {
    /// `dictionary`: try a dictionary of up to 65535 values; `try_small`: one of up to 256.
    /// Either is tried only where its codes would be narrower than the offsets.
    pub(crate) fn pack<T: Word>(&mut self, arr: &PrimitiveArray<T>, dictionary: bool, try_small: bool) -> Packed {
        let len = arr.len();
        if arr.null_count() == len {
            return Packed::Null { len };
        }
        let v = arr.values().as_slice();
        let validity = arr.validity().cloned();
        let first = v[0].to_u64();
        if validity.is_none() && len > 1 && v[1].to_u64() == first.wrapping_add(1) {
            let counts = v
                .iter()
                .enumerate()
                .all(|(i, x)| x.to_u64() == first.wrapping_add(i as u64));
            if counts {
                return Packed::Sequence { first, len };
            }
        }
        let native = 8 * std::mem::size_of::<T>() as u8;
        let mut bases: Vec<T> = Vec::with_capacity(len.div_ceil(BLOCK));
        let mut width = 0u8;
        let (mut chunk_lo, mut chunk_hi) = (T::MAX, T::MIN);
        for block in v.chunks(BLOCK) {
            let (mut lo, mut hi) = (T::MAX, T::MIN);
            for &x in block {
                lo = lo.min(x);
                hi = hi.max(x);
            }
            bases.push(lo);
            width = width.max(width_of(hi.to_u64().wrapping_sub(lo.to_u64())));
            chunk_lo = chunk_lo.min(lo);
            chunk_hi = chunk_hi.max(hi);
        }
        // A dictionary is narrower when the chunk has few distinct values (protocol stacks,
        // MACs, ether types, TCP flag sets), or up to 65535 of them for columns of spread-out
        // codes. Trying costs little: it stops at the first value over the limit.
        let best = width.min(native);
        if best >= 2 && (try_small || dictionary) {
            // At most as many values as the next narrower code width holds.
            let most = match best {
                64 | 32 | 21 if dictionary => u16::MAX as usize,
                64 | 32 | 21 | 16 | 12 | 10 => 1 << 8,
                8 => 1 << 4,
                4 => 1 << 2,
                _ => 1 << 1,
            };
            let range = chunk_hi.to_u64().wrapping_sub(chunk_lo.to_u64());
            let dict = if range <= u16::MAX as u64 {
                self.dictionary_direct(v, chunk_lo, validity.clone(), most)
            } else {
                self.dictionary(v, validity.clone(), most)
            };
            if let Some(p) = dict {
                return p;
            }
        }
        if width < native {
            let offsets = offsets_of(width, v, &bases);
            return Packed::Offset {
                bases: bases.iter().map(|b| b.to_u64()).collect(),
                offsets,
                len,
                validity,
            };
        }
        Packed::Plain(arr.to_boxed())
    }

    /// A chunk dictionary, when the chunk has at most `most` (at most 65535) distinct values.
    fn dictionary<T: Word>(&mut self, v: &[T], validity: Option<Bitmap>, most: usize) -> Option<Packed> {
        // Sized for the chunk, not the limit: a smaller table stays in cache.
        let most = most.min(v.len());
        let table = if most <= 256 { &mut self.small } else { &mut self.large };
        table.reset(if most <= 256 { 256 } else { most });
        let mut values: Vec<u64> = Vec::new();
        let mut codes: Vec<u16> = Vec::with_capacity(v.len());
        // Runs of one value (a burst of one flow, one protocol stack) skip the table.
        let mut last: Option<(u64, u16)> = None;
        for x in v {
            let x = x.to_u64();
            let code = match last {
                Some((l, c)) if l == x => c,
                _ => {
                    if values.len() == most {
                        // One more would not fit: give up unless this value is known.
                        let c = table.code(x, u16::MAX);
                        if c == u16::MAX {
                            return None;
                        }
                        c
                    } else {
                        let next = values.len() as u16;
                        let c = table.code(x, next);
                        if c == next {
                            values.push(x);
                        }
                        c
                    }
                }
            };
            last = Some((x, code));
            codes.push(code);
        }
        Some(dict_of(values, codes, validity))
    }

    /// [`Self::dictionary`] for a chunk whose values lie within 65536 of `lo`: each value's
    /// code is found at its distance from `lo` in a flat table, no hashing or probing.
    fn dictionary_direct<T: Word>(&mut self, v: &[T], lo: T, validity: Option<Bitmap>, most: usize) -> Option<Packed> {
        if self.direct.is_empty() || self.direct_stamp == u16::MAX {
            self.direct = vec![0; 1 << 16];
            self.direct_stamp = 0;
        }
        self.direct_stamp += 1;
        // Entry: stamp in the high half, code in the low half.
        let stamp = (self.direct_stamp as u32) << 16;
        let lo = lo.to_u64();
        let mut values: Vec<u64> = Vec::new();
        let mut codes: Vec<u16> = Vec::with_capacity(v.len());
        for x in v {
            let x = x.to_u64();
            let e = &mut self.direct[x.wrapping_sub(lo) as usize & 0xffff];
            if *e & 0xffff_0000 != stamp {
                if values.len() == most {
                    return None;
                }
                *e = stamp | values.len() as u32;
                values.push(x);
            }
            codes.push(*e as u16);
        }
        Some(dict_of(values, codes, validity))
    }
}

/// A dictionary chunk, its codes as narrow as they fit.
fn dict_of(values: Vec<u64>, codes: Vec<u16>, validity: Option<Bitmap>) -> Packed {
    let len = codes.len();
    let codes = match width_of(values.len().saturating_sub(1) as u64) {
        0 => Offsets::Zero,
        bits @ (1 | 2 | 4 | 10 | 12) => bits_of(bits, &codes),
        8 => Offsets::U8(codes.iter().map(|&c| c as u8).collect()),
        _ => Offsets::U16(codes),
    };
    Packed::Dict {
        values,
        codes,
        len,
        validity,
    }
}

impl Packer {
    /// For each row of `arr` with a value, the row before it with a value and the same key (its
    /// flow and port in `flows` and `ports`; a row without a flow has no key), u32::MAX where
    /// there is none: the links [`Packer::after_key`] stores values along.
    pub(crate) fn links<T: Word>(
        &mut self,
        arr: &PrimitiveArray<T>,
        flows: &PrimitiveArray<u64>,
        ports: &PrimitiveArray<u16>,
    ) -> Vec<u32> {
        let has = |i: usize| arr.is_valid(i);
        let key = |i: usize| flows.get(i).map(|f| (f, ports.get(i).unwrap_or(0)));
        after_key(arr.len(), has, key, &mut self.last_of_key)
    }

    /// `arr` stored after its key (see [`Packed::AfterKey`]), along `links` (see
    /// [`Packer::links`]).
    pub(crate) fn after_key<T: Word>(&mut self, arr: &PrimitiveArray<T>, links: &[u32]) -> Packed {
        let n = arr.len();
        let has = |i: usize| arr.is_valid(i);
        let v = arr.values();
        let (mut firsts, mut deltas) = (Vec::new(), Vec::with_capacity(n));
        for i in (0..n).filter(|&i| has(i)) {
            let p = links[i];
            if p == u32::MAX {
                firsts.push(v[i]);
                continue;
            }
            // A jump (a SYN's acknowledgement number of 0, then the peer's) would widen every
            // delta of its 1024 rows: the value is stored whole instead, delta 0 saying so.
            // (Below the type's top too, so that d + 1 fits it.)
            let d = zigzag::<T>(v[i].to_u64().wrapping_sub(v[p as usize].to_u64()));
            if d < AFTER_KEY_JUMP.min(T::MAX.to_u64()) {
                deltas.push(T::from_u64(d + 1));
            } else {
                deltas.push(T::from_u64(0));
                firsts.push(v[i]);
            }
        }
        let firsts = self.pack(&PrimitiveArray::from_vec(firsts), false, false);
        let deltas = self.pack(&PrimitiveArray::from_vec(deltas), false, true);
        Packed::AfterKey {
            len: n,
            validity: arr.validity().cloned(),
            firsts: Box::new(firsts),
            deltas: Box::new(deltas),
        }
    }

    /// `arr` (64-bit, no nulls) as steps from row to row (see [`Packed::Steps`]), in units of
    /// the largest power of ten that divides every value (a classic pcap's times are whole
    /// microseconds); None when it has nulls.
    pub(crate) fn steps(&mut self, arr: &PrimitiveArray<i64>) -> Option<Packed> {
        let v = arr.values().as_slice();
        if arr.null_count() > 0 || v.is_empty() {
            return None;
        }
        // Each power of ten a constant, so its divisions are a multiply and a shift (a division
        // by a number known only at run time, twice per row, was most of the packing of times).
        macro_rules! by_scale {
            ($($s:literal)*) => {{
                $(if all_multiples::<$s>(v) {
                    return self.steps_of::<$s>(v);
                })*
                self.steps_of::<1>(v)
            }};
        }
        by_scale!(1_000_000_000 100_000_000 10_000_000 1_000_000 100_000 10_000 1_000 100 10)
    }

    /// [`Self::steps`] in units of `S`, which divides every value.
    fn steps_of<const S: u64>(&mut self, v: &[i64]) -> Option<Packed> {
        // The first step is from 0 to the first value, which `first` holds.
        let first = v[0] as u64;
        let mut prev = first;
        let mut steps: Vec<i64> = Vec::with_capacity(v.len());
        for &x in v {
            let x = x as u64;
            let diff = x.wrapping_sub(prev);
            let d = (diff as i64 / S as i64) as u64;
            // Not exact only where a damaged capture's times differ by more than 2^63.
            if d.wrapping_mul(S) != diff {
                return None;
            }
            prev = x;
            steps.push(zigzag::<i64>(d) as i64);
        }
        let steps = self.pack(&PrimitiveArray::from_vec(steps), false, true);
        Some(Packed::Steps {
            first,
            scale: S,
            steps: Box::new(steps),
        })
    }
}

/// Whether `S` divides every value (as a 64-bit pattern, as [`Packer::steps`] stores them).
fn all_multiples<const S: u64>(v: &[i64]) -> bool {
    v.iter().all(|&x| (x as u64).is_multiple_of(S))
}

/// `reference - values` row by row (0 where `values` is null), with `values`' validity.
pub(crate) fn differences<T: Word>(reference: &PrimitiveArray<T>, values: &PrimitiveArray<T>) -> PrimitiveArray<T> {
    let (r, v) = (reference.values().as_slice(), values.values().as_slice());
    let diff: Vec<T> = match values.validity() {
        None => r
            .iter()
            .zip(v)
            .map(|(r, v)| T::from_u64(r.to_u64().wrapping_sub(v.to_u64())))
            .collect(),
        Some(valid) => r
            .iter()
            .zip(v)
            .zip(valid.iter())
            .map(|((r, v), ok)| T::from_u64(if ok { r.to_u64().wrapping_sub(v.to_u64()) } else { 0 }))
            .collect(),
    };
    PrimitiveArray::<T>::new(values.dtype().clone(), diff.into(), values.validity().cloned())
}

/// Two no-null arrays of one integer type with equal values.
pub(crate) fn same_values(a: &dyn Array, b: &dyn Array) -> bool {
    if a.dtype() != b.dtype() || a.len() != b.len() || a.validity().is_some() || b.validity().is_some() {
        return false;
    }
    with_word!(
        a.dtype(),
        |T| {
            let (a, b) = (
                a.as_any().downcast_ref::<PrimitiveArray<T>>(),
                b.as_any().downcast_ref::<PrimitiveArray<T>>(),
            );
            matches!((a, b), (Some(a), Some(b)) if a.values().as_slice() == b.values().as_slice())
        },
        false
    )
}
