//! zeek_endpoint: one side of a TCP connection as Zeek's `TCP_Endpoint` keeps it (state,
//! sequence numbers and their wraps, the counters behind the scaled history letters) with its
//! reassembler's accounting (what was delivered, what ACKs trimmed, what was seen but not yet
//! acknowledged). [`crate::table::zeek_tcp`] drives two of them.

/// Zeek's `EndpointState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

/// History bits (`TCP_Endpoint::HistoryMasks`); the responder's are these shifted by 16.
pub(crate) mod hist {
    pub const SYN: u32 = 0x1;
    pub const FIN: u32 = 0x2;
    pub const RST: u32 = 0x4;
    pub const FIN_RST: u32 = 0x8;
    pub const DATA: u32 = 0x10;
    pub const ACK: u32 = 0x20;
    pub const MULTI_FLAG: u32 = 0x40;
}

/// Zeek's `TOO_LARGE_SEQ_DELTA`.
pub(crate) const TOO_LARGE_SEQ_DELTA: i32 = 1_048_576;
/// `tcp_max_above_hole_without_any_acks` and `tcp_excessive_data_without_further_acks`.
pub(crate) const MAX_ABOVE_HOLE_WITHOUT_ACKS: u64 = 16_384;
pub(crate) const EXCESSIVE_DATA_WITHOUT_ACKS: u64 = 10 * 1024 * 1024;
/// `tcp_max_initial_window`.
pub(crate) const MAX_INITIAL_WINDOW: u64 = 16_384;

/// `seq_delta`: the signed distance between two sequence numbers.
pub(crate) fn seq_delta(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

pub(crate) fn full_seq(seq: u32, wraps: u32) -> u64 {
    (u64::from(wraps) << 32) + u64::from(seq)
}

/// Ranges of relative sequence numbers, sorted and disjoint.
pub(crate) type Ranges = smallvec::SmallVec<[(u64, u64); 2]>;

/// One side of the connection (`TCP_Endpoint` with its reassembler's accounting).
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) state: State,
    pub(crate) prev_state: State,
    pub(crate) is_orig: bool,
    pub(crate) start_seq: i64,
    pub(crate) last_seq: u32,
    pub(crate) ack_seq: u32,
    pub(crate) seq_wraps: u32,
    pub(crate) ack_wraps: u32,
    pub(crate) fin_cnt: u32,
    /// Relative sequence number just past the FIN.
    pub(crate) fin_seq: u64,
    pub(crate) hist_last_syn: u64,
    pub(crate) hist_last_fin: u64,
    pub(crate) hist_last_rst: u64,
    /// Counters of the scaled letters (retransmission, zero window, gap) and the next count at
    /// which one more letter is written (1, 10, 100, ...).
    pub(crate) rxmt: (u32, u32),
    pub(crate) win0: (u32, u32),
    pub(crate) gap: (u32, u32),
    pub(crate) did_close: bool,
    pub(crate) did_eof: bool,
    /// The reassembler: what was handed on in order, what ACKs trimmed, and the data seen
    /// but not yet acknowledged, as disjoint ranges of relative sequence numbers.
    pub(crate) last_reassem_seq: u64,
    pub(crate) trim_seq: u64,
    /// Held inline: a connection rarely has more than one range unacknowledged, and a vector
    /// per end kept ~130 bytes of heap per TCP connection for the whole capture.
    pub(crate) blocks: Ranges,
    pub(crate) skip_deliveries: bool,
    pub(crate) missed: u64,
}

impl Endpoint {
    pub(crate) fn new(is_orig: bool) -> Endpoint {
        Endpoint {
            state: State::Inactive,
            prev_state: State::Inactive,
            is_orig,
            start_seq: 0,
            last_seq: 0,
            ack_seq: 0,
            seq_wraps: 0,
            ack_wraps: 0,
            fin_cnt: 0,
            fin_seq: 0,
            hist_last_syn: 0,
            hist_last_fin: 0,
            hist_last_rst: 0,
            rxmt: (0, 1),
            win0: (0, 1),
            gap: (0, 1),
            did_close: false,
            did_eof: false,
            last_reassem_seq: 1,
            trim_seq: 1,
            blocks: Ranges::new(),
            skip_deliveries: false,
            missed: 0,
        }
    }

    pub(crate) fn set_state(&mut self, s: State) {
        if s != self.state {
            self.prev_state = self.state;
            self.state = s;
        }
    }

    pub(crate) fn start_seq32(&self) -> u32 {
        self.start_seq as u32
    }

    pub(crate) fn init_start_seq(&mut self, seq: u32) {
        self.start_seq = i64::from(seq);
    }

    pub(crate) fn update_last_seq(&mut self, seq: u32) {
        if seq < self.last_seq {
            self.seq_wraps += 1;
        }
        self.last_seq = seq;
    }

    pub(crate) fn update_ack_seq(&mut self, seq: u32) {
        if seq < self.ack_seq {
            self.ack_wraps += 1;
        }
        self.ack_seq = seq;
    }

    pub(crate) fn to_relative(&self, seq: u32, wraps: u32) -> u64 {
        full_seq(seq, wraps).wrapping_sub(self.start_seq as u64)
    }

    pub(crate) fn no_data_acked(&self) -> bool {
        let ack = full_seq(self.ack_seq, self.ack_wraps);
        let start = self.start_seq as u64;
        ack == start || ack == start.wrapping_add(1)
    }

    pub(crate) fn has_blocks(&self) -> bool {
        !self.blocks.is_empty()
    }

    pub(crate) fn data_size(&self) -> u64 {
        self.blocks.iter().map(|(s, e)| e - s).sum()
    }

    /// `TCP_Reassembler::DataPending`: bytes between what was delivered and the last sequence
    /// number seen (or, the peer's data not yet acknowledged).
    pub(crate) fn data_pending(&self, peer_has_blocks: bool) -> bool {
        if self.skip_deliveries {
            return false;
        }
        let delivered = (self.start_seq as u64).wrapping_add(self.last_reassem_seq);
        let last = full_seq(self.last_seq, self.seq_wraps);
        if last < delivered {
            return false;
        }
        if delivered != last.wrapping_sub(1) && delivered != last {
            return true;
        }
        self.state != State::Reset && peer_has_blocks
    }

    /// `TCP_Endpoint::Size`: the sequence space this side used, without its SYN and FIN.
    pub(crate) fn size(&self, peer_state: State) -> u64 {
        if self.prev_state == State::SynSent
            && self.state == State::Reset
            && peer_state == State::Inactive
            && !self.no_data_acked()
        {
            return 0;
        }
        let last = full_seq(self.last_seq, self.seq_wraps);
        let ack = full_seq(self.ack_seq, self.ack_wraps);
        let mut size = last.max(ack).wrapping_sub(self.start_seq as u64);
        size = size.saturating_sub(1);
        if self.fin_cnt > 0 && size != 0 {
            size -= 1;
        }
        size
    }
}

/// `get_segment_len`: sequence space a segment takes (SYN and FIN count one, an RST's data none).
pub(crate) fn segment_len(payload: u32, flags: u8) -> u32 {
    let mut n = payload;
    if flags & SYN != 0 {
        n = n.wrapping_add(1);
    }
    if flags & FIN != 0 {
        n = n.wrapping_add(1);
    }
    if flags & RST != 0 {
        n = n.wrapping_sub(payload);
    }
    n
}

pub(crate) const FIN: u8 = 0x01;
pub(crate) const SYN: u8 = 0x02;
pub(crate) const RST: u8 = 0x04;
pub(crate) const ACK: u8 = 0x10;
