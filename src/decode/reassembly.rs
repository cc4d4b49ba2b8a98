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
}

/// A datagram that a fragment completes: the transport facts its first fragment carried (None
/// when that fragment was never seen or was too short to say).
#[derive(Debug, Clone, Copy)]
pub struct Completed {
    pub row: usize,
    pub first: Option<FirstFragment>,
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
}

impl Reassembler {
    /// Add one fragment (in file order); `Some` when it completes its datagram.
    pub fn add(&mut self, f: &FragmentRow) -> Option<Completed> {
        let key = (f.proto, f.src, f.dst, f.frag.ident);
        let st = self.open.entry(key).or_default();
        st.ranges.push((f.frag.offset, f.frag.offset + f.frag.len));
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
        Some(Completed {
            row: f.row,
            first: st.first,
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
        }
    }

    #[test]
    fn the_fragment_that_fills_the_last_gap_completes_the_datagram() {
        let mut r = Reassembler::default();
        // Out of order: the last fragment first, then the middle one, then the first.
        assert!(r.add(&frag(0, 16, 8, false)).is_none());
        assert!(r.add(&frag(1, 8, 8, true)).is_none());
        let done = r.add(&frag(2, 0, 8, true)).expect("complete");
        assert_eq!(done.row, 2);
        // A repeat of the datagram starts afresh.
        assert!(r.add(&frag(3, 0, 8, true)).is_none());
    }
}
