//! reassembly: finds the frame that completes each fragmented IP datagram. tshark dissects the
//! reassembled datagram's upper layers on that frame only, and its endpoint/conversation taps
//! skip IPv6 fragments that do not complete a datagram; the `frag` column carries that
//! distinction. Fed in file order by the in-order pass ([`crate::decode::order`]).

use std::collections::HashMap;

use crate::decode::packet::{Addr, FirstFragment, Fragment};

/// A fragment as the reassembler needs it: its datagram's key and where its bytes go.
#[derive(Debug, Clone, Copy)]
pub struct FragmentRow {
    /// The fragment's row in its batch.
    pub row: usize,
    pub proto: u8,
    pub src: Addr,
    pub dst: Addr,
    pub frag: Fragment,
    /// Where its captured data is (see [`crate::decode::order::StreamRow::bytes`]).
    pub bytes: (usize, usize),
}

/// A datagram that a fragment completes: the transport facts its first fragment carried (None
/// when that fragment was never seen or was too short to say), and its payload put back
/// together (None when a part was not captured whole).
#[derive(Debug, Clone)]
pub struct Completed {
    pub row: usize,
    pub first: Option<FirstFragment>,
    pub payload: Option<Vec<u8>>,
}

/// Datagrams with fragments seen so far and not yet complete.
#[derive(Default)]
pub struct Reassembler {
    open: HashMap<(u8, Addr, Addr, u32), Partial>,
}

#[derive(Default)]
struct Partial {
    /// Covered byte ranges [start, end).
    ranges: Vec<(u32, u32)>,
    total: Option<u32>,
    first: Option<FirstFragment>,
    /// Each fragment's offset and captured data; None once a part was cut short or too much
    /// was held.
    data: Option<Vec<(u32, Vec<u8>)>>,
}

/// Bytes of fragment data held for one datagram (an IPv6 jumbogram aside, none is bigger).
const MAX_DATAGRAM: usize = 65_535;

impl Reassembler {
    /// Add one fragment (in file order) with its captured data; `Some` when it completes its
    /// datagram.
    pub fn add(&mut self, f: &FragmentRow, data: &[u8]) -> Option<Completed> {
        let key = (f.proto, f.src, f.dst, f.frag.ident);
        let st = self.open.entry(key).or_insert_with(|| Partial {
            data: Some(Vec::new()),
            ..Default::default()
        });
        st.ranges.push((f.frag.offset, f.frag.offset + f.frag.len));
        let whole = data.len() as u32 == f.frag.len;
        st.data = st
            .data
            .take()
            .filter(|held| whole && held.iter().map(|(_, d)| d.len()).sum::<usize>() + data.len() <= MAX_DATAGRAM);
        if let Some(held) = st.data.as_mut() {
            held.push((f.frag.offset, data.to_vec()));
        }
        if !f.frag.more {
            st.total = Some(f.frag.offset + f.frag.len);
        }
        if f.frag.offset == 0 {
            st.first = f.frag.first;
        }
        let complete = st.total.is_some_and(|total| {
            st.ranges.sort_unstable();
            let mut reach = 0;
            for &(s, e) in &st.ranges {
                if s > reach {
                    return false;
                }
                reach = reach.max(e);
            }
            reach >= total
        });
        if !complete {
            return None;
        }
        let st = self.open.remove(&key).unwrap_or_default();
        let payload = st.data.map(|mut parts| {
            parts.sort_by_key(|(off, _)| *off);
            let mut out: Vec<u8> = Vec::new();
            for (off, d) in parts {
                let off = off as usize;
                if off + d.len() > out.len() {
                    let skip = out.len().saturating_sub(off);
                    out.extend_from_slice(&d[skip.min(d.len())..]);
                }
            }
            out
        });
        Some(Completed {
            row: f.row,
            first: st.first,
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(row: usize, offset: u32, len: u32, more: bool) -> FragmentRow {
        FragmentRow {
            row,
            proto: 17,
            src: Addr::v4([10, 0, 0, 1]),
            dst: Addr::v4([10, 0, 0, 2]),
            frag: Fragment {
                ident: 7,
                offset,
                len,
                more,
                first: None,
            },
            bytes: (0, 0),
        }
    }

    fn data(offset: u32, len: u32) -> Vec<u8> {
        (offset..offset + len).map(|i| i as u8).collect()
    }

    #[test]
    fn the_fragment_that_fills_the_last_gap_completes_the_datagram() {
        let mut r = Reassembler::default();
        // Out of order: the last fragment first, then the middle one, then the first.
        assert!(r.add(&frag(0, 16, 8, false), &data(16, 8)).is_none());
        assert!(r.add(&frag(1, 8, 8, true), &data(8, 8)).is_none());
        let done = r.add(&frag(2, 0, 8, true), &data(0, 8)).expect("complete");
        assert_eq!(done.row, 2);
        assert_eq!(done.payload, Some(data(0, 24)), "the data back in order");
        // A repeat of the datagram starts afresh.
        assert!(r.add(&frag(3, 0, 8, true), &data(0, 8)).is_none());
    }
}
