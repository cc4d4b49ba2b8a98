//! interner: codes for repeated text (addresses, MACs, protocol stacks, names) in the one shared
//! dictionary behind every text column, cached per decoder thread so each distinct value is
//! formatted once, not once per packet.

use std::sync::Arc;

use polars::prelude::*;

use crate::decode::{self, Addr, Stack};
use crate::table::schema::text_mapping;

/// Codes for repeated values, cached per thread so each distinct address or stack is formatted
/// once, not once per packet.
pub struct Interner {
    mapping: Arc<CategoricalMapping>,
    // polars' fast hasher: these lookups run once or twice per packet.
    addrs: PlHashMap<Addr, u32>,
    macs: PlHashMap<[u8; 6], u32>,
    stacks: PlHashMap<u128, u32>,
    /// Codes of DNS types / rcodes and TLS versions by number (each named once, not once per
    /// packet).
    numbered: PlHashMap<(u8, u16), u32>,
    recent_stacks: Recent<u128>,
    recent_addrs: Recent<Addr>,
    recent_macs: Recent<[u8; 6]>,
}

/// Slots in each [`Recent`] cache (a power of two).
const RECENT_BITS: u32 = 12;
/// A slot not filled yet (no code is this large).
const EMPTY: u32 = u32::MAX;

/// A direct-mapped cache in front of an interner map: most packets repeat addresses seen a
/// moment ago, and a multiply and one compare cost less than a hash map lookup.
struct Recent<K> {
    slots: Box<[(K, u32)]>,
}

impl<K: Copy + Default + PartialEq> Recent<K> {
    fn new() -> Self {
        Recent {
            slots: vec![(K::default(), EMPTY); 1 << RECENT_BITS].into_boxed_slice(),
        }
    }

    /// The code of `key` (`digest`: 64 bits of it), from the cache or else from `code_of`.
    #[inline]
    fn code(&mut self, digest: u64, key: K, code_of: impl FnOnce() -> u32) -> u32 {
        let slot = (digest.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - RECENT_BITS)) as usize;
        let (seen, code) = self.slots[slot];
        if code != EMPTY && seen == key {
            return code;
        }
        let c = code_of();
        self.slots[slot] = (key, c);
        c
    }
}

/// The code of `s` in the text dictionary (which only fails past 2^32 distinct strings).
pub(crate) fn intern(mapping: &CategoricalMapping, s: &str) -> u32 {
    mapping.insert_cat(s).unwrap_or(0)
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            mapping: text_mapping(),
            addrs: PlHashMap::default(),
            macs: PlHashMap::default(),
            stacks: PlHashMap::default(),
            numbered: PlHashMap::default(),
            recent_stacks: Recent::new(),
            recent_addrs: Recent::new(),
            recent_macs: Recent::new(),
        }
    }
}

impl Interner {
    pub fn text(&self, s: &str) -> u32 {
        intern(&self.mapping, s)
    }

    /// The code of a name that follows from a number (`kind` keeps the vocabularies apart).
    pub(crate) fn numbered(&mut self, kind: u8, n: u16, name: impl FnOnce(u16) -> String) -> u32 {
        let mapping = &self.mapping;
        *self
            .numbered
            .entry((kind, n))
            .or_insert_with(|| intern(mapping, &name(n)))
    }

    pub(crate) fn dns_type(&mut self, t: u16) -> u32 {
        self.numbered(0, t, decode::dns_type_name)
    }

    pub(crate) fn dns_rcode(&mut self, r: u8) -> u32 {
        self.numbered(1, r.into(), |r| decode::dns_rcode_name(r as u8).to_string())
    }

    pub(crate) fn tls_version(&mut self, v: u16) -> u32 {
        self.numbered(2, v, decode::tls_version_name)
    }

    /// A TLS version as the tls table (Zeek's ssl.log) names it, apart from the packet column's
    /// name ([`Interner::tls_version`]).
    pub(crate) fn ssl_version(&mut self, v: u16) -> u32 {
        self.numbered(20, v, decode::tls_names::version_name)
    }

    pub(crate) fn tls_cipher(&mut self, c: u16) -> u32 {
        self.numbered(21, c, decode::tls_names::cipher_name)
    }

    pub(crate) fn tls_group(&mut self, g: u16) -> u32 {
        self.numbered(22, g, decode::tls_names::group_name)
    }

    pub(crate) fn tls_alert(&mut self, description: u8) -> u32 {
        self.numbered(23, description.into(), |d| decode::tls_names::alert_name(d as u8))
    }

    pub(crate) fn addr(&mut self, a: Addr) -> u32 {
        let (lo, hi) = a.bytes.split_at(8);
        let fold = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
        let digest = fold(lo) ^ fold(hi).rotate_left(29) ^ u64::from(a.v6);
        let (addrs, mapping) = (&mut self.addrs, &self.mapping);
        self.recent_addrs.code(digest, a, || {
            *addrs
                .entry(a)
                .or_insert_with(|| intern(mapping, &a.to_ip().to_string()))
        })
    }

    pub(crate) fn mac(&mut self, m: [u8; 6]) -> u32 {
        let mut digest = [0u8; 8];
        digest[..6].copy_from_slice(&m);
        let (macs, mapping) = (&mut self.macs, &self.mapping);
        self.recent_macs.code(u64::from_le_bytes(digest), m, || {
            *macs.entry(m).or_insert_with(|| intern(mapping, &decode::mac_text(&m)))
        })
    }

    pub(crate) fn stack(&mut self, s: &Stack) -> Option<u32> {
        if s.is_empty() {
            return None;
        }
        let k = s.key();
        let digest = (k as u64) ^ ((k >> 64) as u64).rotate_left(17);
        let (stacks, mapping) = (&mut self.stacks, &self.mapping);
        Some(self.recent_stacks.code(digest, k, || {
            *stacks.entry(k).or_insert_with(|| intern(mapping, &s.text()))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Addr;

    #[test]
    fn interned_addresses_and_macs_read_back_through_the_recent_caches() {
        let mut it = Interner::default();
        let mapping = text_mapping();
        // Far more keys than cache slots, each asked for twice in different orders, so slots are
        // shared and overwritten; v4 and v6 keys with equal leading bytes too.
        let addrs: Vec<Addr> = (0..20_000u32)
            .flat_map(|i| {
                let b = i.to_be_bytes();
                let mut v6 = [0u8; 16];
                v6[..4].copy_from_slice(&b);
                [Addr::v4(b), Addr::v6(v6)]
            })
            .collect();
        for round in 0..2 {
            for (k, a) in addrs.iter().enumerate() {
                let a = if round == 0 { *a } else { addrs[addrs.len() - 1 - k] };
                let code = it.addr(a);
                assert_eq!(mapping.cat_to_str(code), Some(a.to_ip().to_string().as_str()));
            }
        }
        for round in 0..2u8 {
            for i in 0..10_000u32 {
                let b = (i.wrapping_mul(7919) ^ u32::from(round)).to_be_bytes();
                let m = [2, 0, b[0], b[1], b[2], b[3]];
                let code = it.mac(m);
                assert_eq!(mapping.cat_to_str(code), Some(decode::mac_text(&m).as_str()));
            }
        }
    }
}
