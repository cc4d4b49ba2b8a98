//! zeek_tcp: Zeek's model of one TCP connection, packet by packet, for the conn.log fields that
//! only mean something "as Zeek counts them": `history` (its letters, the logarithmic repeat rule
//! for retransmissions, zero windows and gaps, the `^` flip), `orig_bytes` / `resp_bytes` (the
//! span of sequence space each side used, not summed payload), `missed_bytes` (content gaps an
//! ACK revealed), `conn_state` and the originator when the capture began mid-connection.
//!
//! This follows Zeek 9.1's `TCPSessionAdapter::Process`, `TCP_Endpoint` and `TCP_Reassembler`
//! step by step (the function names below are theirs), so that a flow here and a row of Zeek's
//! conn.log agree; `tests/it/zeek.rs` compares them with Zeek's own baselines. What is left out:
//! checksums are not verified (as `zeek -C`), and a connection is never split by an inactivity
//! timeout or a reused port (a flow is one 5-tuple).
//!
//! Sequence arithmetic copies C++'s unsigned wrap-around on purpose (`wrapping_*`), as the
//! numbers Zeek compares and logs come out of it.

use crate::table::zeek_endpoint::{
    ACK, EXCESSIVE_DATA_WITHOUT_ACKS, Endpoint, FIN, MAX_ABOVE_HOLE_WITHOUT_ACKS, MAX_INITIAL_WINDOW, RST, Ranges, SYN,
    State, TOO_LARGE_SEQ_DELTA, hist, segment_len, seq_delta,
};
/// What one TCP segment says, as the model reads it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Segment {
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    /// Payload bytes on the wire.
    pub len: u32,
    /// The whole payload was captured (a snap length cut it otherwise: Zeek then does not
    /// reassemble it, and the hole it leaves is counted as missed once acknowledged).
    pub captured: bool,
}

/// Zeek's view of one TCP connection.
#[derive(Debug, Clone)]
pub struct TcpConn {
    /// The two endpoints; `orig` says which one is the originator now (flips swap it).
    ends: [Endpoint; 2],
    orig: usize,
    hist_seen: u32,
    history: String,
    is_partial: bool,
    first_packet_seen: u8,
    close_deferred: bool,
    /// Time of the last packet that counts for the duration (Zeek stops counting once both
    /// sides have closed).
    last_time: i64,
}

const ORIG_SEEN: u8 = 1;
const RESP_SEEN: u8 = 2;

impl TcpConn {
    /// A connection whose first packet came from the originator, or (`flipped`) from the
    /// responder, as [`crate::table::zeek_roles::flip_at_start`] decided.
    pub fn new(flipped: bool) -> TcpConn {
        let mut c = TcpConn {
            ends: [Endpoint::new(true), Endpoint::new(false)],
            orig: 0,
            hist_seen: 0,
            history: String::new(),
            is_partial: false,
            first_packet_seen: 0,
            close_deferred: false,
            last_time: 0,
        };
        if flipped {
            c.flip_roles();
        }
        c
    }

    /// Whether Zeek takes the connection as one whose start was missed (its protocol analyzers
    /// then read nothing of it).
    pub fn is_partial(&self) -> bool {
        self.is_partial
    }

    /// The history letters so far.
    pub fn history(&self) -> &str {
        &self.history
    }

    /// Whether the endpoint that sent the first packet is now the responder (`^` flips, the
    /// one at the start included).
    pub fn first_sender_is_orig(&self) -> bool {
        self.orig == 0
    }

    /// The bytes each side sent as Zeek counts them (`orig_bytes`, `resp_bytes`).
    pub fn sizes(&self) -> (u64, u64) {
        let (o, r) = (&self.ends[self.orig], &self.ends[1 - self.orig]);
        (o.size(r.state), r.size(o.state))
    }

    /// Bytes of content gaps (`missed_bytes`).
    pub fn missed_bytes(&self) -> u64 {
        self.ends[0].missed + self.ends[1].missed
    }

    /// Time of the last packet before both sides had closed.
    pub fn last_time(&self) -> i64 {
        self.last_time
    }

    /// Zeek's `conn_state` (base/protocols/conn/main.zeek).
    pub fn conn_state(&self) -> &'static str {
        let (o, r) = (&self.ends[self.orig], &self.ends[1 - self.orig]);
        let (os, rs) = (o.state, r.state);
        let o_inactive = matches!(os, State::Inactive | State::Partial);
        let r_inactive = matches!(rs, State::Inactive | State::Partial);
        if rs == State::Reset {
            let (osize, rsize) = self.sizes();
            if matches!(os, State::SynSent | State::SynAckSent) || (os == State::Reset && osize == 0 && rsize == 0) {
                "REJ"
            } else if o_inactive {
                "RSTRH"
            } else {
                "RSTR"
            }
        } else if os == State::Reset {
            if r_inactive {
                if rsts0_history(&self.history) { "RSTOS0" } else { "OTH" }
            } else {
                "RSTO"
            }
        } else if rs == State::Closed && os == State::Closed {
            "SF"
        } else if os == State::Closed {
            if r_inactive { "SH" } else { "S2" }
        } else if rs == State::Closed {
            if o_inactive { "SHR" } else { "S3" }
        } else if os == State::SynSent && rs == State::Inactive {
            "S0"
        } else if os == State::Established && rs == State::Established {
            "S1"
        } else {
            "OTH"
        }
    }

    fn flip_roles(&mut self) {
        self.orig = 1 - self.orig;
        for e in &mut self.ends {
            e.is_orig = !e.is_orig;
        }
        let f = self.first_packet_seen;
        self.first_packet_seen =
            (if f & ORIG_SEEN != 0 { RESP_SEEN } else { 0 }) | (if f & RESP_SEEN != 0 { ORIG_SEEN } else { 0 });
        self.is_partial = false;
        self.history.push('^');
    }

    /// `Session::CheckHistory` through `TCP_Endpoint::CheckHistory`: true when the letter was
    /// seen before (and so not written now).
    fn check_history(&mut self, e: usize, mask: u32, code: char) -> bool {
        if (code == 'A' || code == 'D') && self.history == "H" {
            // Began with a SYN-ACK: productive traffic now makes the SYN-ACK's sender the
            // responder after all.
            self.flip_roles();
            self.history = "^h".to_string();
            self.first_packet_seen |= ORIG_SEEN;
        }
        let (mask, code) = if self.ends[e].is_orig {
            (mask, code)
        } else {
            (mask << 16, code.to_ascii_lowercase())
        };
        if self.hist_seen & mask == 0 {
            self.hist_seen |= mask;
            self.history.push(code);
            false
        } else {
            true
        }
    }

    fn add_history(&mut self, e: usize, code: char) {
        let code = if self.ends[e].is_orig {
            code
        } else {
            code.to_ascii_lowercase()
        };
        self.history.push(code);
    }

    /// `Session::ScaledHistoryEntry`: the letter again at 1, 10, 100, ... occurrences.
    fn scaled(&mut self, e: usize, code: char, which: fn(&mut Endpoint) -> &mut (u32, u32)) {
        let (count, thresh) = which(&mut self.ends[e]);
        *count += 1;
        if *count == *thresh {
            let next = thresh.saturating_mul(10);
            if next <= *thresh {
                *count = 0;
            } else {
                *thresh = next;
            }
            self.add_history(e, code);
        }
    }

    /// Feed one segment (in capture order) from the endpoint that sent the connection's first
    /// packet (`from_first`) or the other one.
    pub fn packet(&mut self, from_first: bool, ts: i64, s: &Segment) {
        // Index of the sender, fixed for this packet even if the roles flip part way (Zeek's
        // `endpoint` pointer), and whether it was the originator when the packet arrived (its
        // `is_orig` argument, which goes stale on a flip, as Zeek's does).
        let e = if from_first { 0 } else { 1 };
        let p = 1 - e;
        let is_orig = self.orig == e;
        let flags = s.flags;
        self.set_partial_status(flags, self.ends[e].is_orig);
        let seg_len = segment_len(s.len, flags);
        let seq_one_past = s.seq.wrapping_add(seg_len);
        self.init_endpoint(e, flags, s.seq, seq_one_past);
        let (last, wraps) = (self.ends[e].last_seq, self.ends[e].seq_wraps);
        let (rel_seq, seq_underflow) = self.relative_seq(e, s.seq, last, wraps);
        self.update_history(e, flags, rel_seq, s.len);
        // update_window: only the zero-window letter matters here.
        if s.window == 0
            && flags & RST == 0
            && self.ends[p].state != State::Closed
            && self.ends[e].state != State::Reset
        {
            self.scaled(e, 'W', |x| &mut x.win0);
        }
        if !self.ends[self.orig].did_close || !self.ends[1 - self.orig].did_close {
            self.last_time = ts;
        }
        if flags & FIN != 0 {
            self.ends[e].fin_cnt += 1;
            self.ends[e].fin_seq = rel_seq.wrapping_add(u64::from(seg_len));
        }
        let mut rel_ack = 0u64;
        if flags & ACK != 0 {
            if self.ends[p].state == State::Inactive {
                rel_ack = 1;
                // init_peer: number the peer's sequence space as if its SYN had been seen.
                let a = s.ack.wrapping_sub(1);
                let peer = &mut self.ends[p];
                peer.init_start_seq(a);
                peer.ack_seq = a;
                peer.last_seq = a;
            } else {
                let (pack, pwraps) = (self.ends[p].ack_seq, self.ends[p].ack_wraps);
                let (r, ack_underflow) = self.relative_seq(p, s.ack, pack, pwraps);
                if ack_underflow {
                    rel_ack = 0;
                } else {
                    rel_ack = r;
                    if flags & RST == 0 {
                        let peer = &mut self.ends[p];
                        let delta = seq_delta(s.ack, peer.ack_seq);
                        if !(s.ack == 0 && delta > TOO_LARGE_SEQ_DELTA) && delta > 0 {
                            peer.update_ack_seq(s.ack);
                        }
                    }
                }
            }
        }
        let delta_last = self.update_last_seq(e, seq_one_past, flags, s.len);
        let (do_close, gen_event) = self.update_state_machine(e, p, s, delta_last, is_orig);
        if flags & ACK != 0 {
            self.ack_received(p, rel_ack);
        }
        let rel_data_seq = if flags & SYN != 0 {
            rel_seq.wrapping_add(1)
        } else {
            rel_seq
        };
        if s.len > 0 && flags & RST == 0 && !seq_underflow && s.captured {
            self.data_sent(e, rel_data_seq, u64::from(s.len));
        }
        self.check_eof(e);
        if do_close {
            self.connection_closed(e, p, gen_event);
        }
        // CheckPIA_FirstPacket: each side's first packet is noted (with the stale `is_orig`).
        self.first_packet_seen |= if is_orig { ORIG_SEEN } else { RESP_SEEN };
    }

    fn set_partial_status(&mut self, flags: u8, is_orig: bool) {
        if is_orig {
            if self.first_packet_seen & ORIG_SEEN == 0 {
                self.is_partial = flags & SYN == 0 || flags & ACK != 0;
            }
        } else if self.first_packet_seen & RESP_SEEN == 0 && !self.is_partial {
            self.is_partial = flags & SYN == 0;
        }
    }

    fn init_endpoint(&mut self, e: usize, flags: u8, first_seg_seq: u32, mut last_seq: u32) {
        let ep = &mut self.ends[e];
        let syn = flags & SYN != 0;
        match ep.state {
            State::Inactive => {
                if syn {
                    ep.ack_seq = first_seg_seq;
                    ep.init_start_seq(first_seg_seq);
                } else {
                    ep.ack_seq = first_seg_seq.wrapping_sub(1);
                    ep.init_start_seq(first_seg_seq.wrapping_sub(1));
                    last_seq = first_seg_seq;
                }
                ep.last_seq = last_seq;
            }
            State::SynSent | State::SynAckSent => {
                if syn && first_seg_seq != ep.start_seq32() {
                    ep.init_start_seq(first_seg_seq);
                    ep.ack_seq = first_seg_seq;
                    ep.last_seq = last_seq;
                }
            }
            State::Established | State::Partial => {
                if syn {
                    ep.init_start_seq(first_seg_seq);
                    ep.ack_seq = first_seg_seq;
                    ep.last_seq = last_seq;
                }
            }
            State::Reset => {
                if syn && ep.prev_state == State::Inactive {
                    ep.init_start_seq(first_seg_seq);
                    ep.ack_seq = first_seg_seq;
                    ep.last_seq = last_seq;
                }
            }
            State::Closed => {}
        }
    }

    /// `get_relative_seq`, and whether the number lies before the endpoint's start.
    fn relative_seq(&self, e: usize, cur: u32, last: u32, wraps: u32) -> (u64, bool) {
        let ep = &self.ends[e];
        let delta = seq_delta(cur, last);
        let mut wraps = wraps;
        if delta < 0 {
            if wraps > 0 && cur > last {
                wraps -= 1;
            }
        } else if delta > 0 && cur < last {
            wraps += 1;
        }
        if wraps == 0 {
            let d = seq_delta(cur, ep.start_seq32());
            return (i64::from(d) as u64, d < 0);
        }
        (ep.to_relative(cur, wraps), false)
    }

    fn update_history(&mut self, e: usize, flags: u8, rel_seq: u64, len: u32) {
        let (syn, fin, rst) = (flags & SYN != 0, flags & FIN != 0, flags & RST != 0);
        let bits = u8::from(syn) + u8::from(fin) + u8::from(rst);
        if bits > 1 {
            if fin && rst {
                self.check_history(e, hist::FIN_RST, 'I');
            } else {
                self.check_history(e, hist::MULTI_FLAG, 'Q');
            }
        } else if bits == 1 {
            if syn {
                let code = if flags & ACK != 0 { 'H' } else { 'S' };
                if self.check_history(e, hist::SYN, code) && rel_seq != self.ends[e].hist_last_syn {
                    self.add_history(e, code);
                }
                self.ends[e].hist_last_syn = rel_seq;
            }
            if fin {
                let at = rel_seq.wrapping_add(u64::from(len));
                if self.check_history(e, hist::FIN, 'F') && at != self.ends[e].hist_last_fin {
                    self.add_history(e, 'F');
                }
                self.ends[e].hist_last_fin = at;
            }
            if rst {
                if self.check_history(e, hist::RST, 'R') && rel_seq != self.ends[e].hist_last_rst {
                    self.add_history(e, 'R');
                }
                self.ends[e].hist_last_rst = rel_seq;
            }
        } else if len > 0 {
            self.check_history(e, hist::DATA, 'D');
        } else if flags & ACK != 0 {
            self.check_history(e, hist::ACK, 'A');
        }
    }

    fn update_last_seq(&mut self, e: usize, last_seq: u32, flags: u8, len: u32) -> i32 {
        let ep = &mut self.ends[e];
        let delta = seq_delta(last_seq, ep.last_seq);
        if flags & (SYN | RST) != 0 && !(-TOO_LARGE_SEQ_DELTA..=TOO_LARGE_SEQ_DELTA).contains(&delta) {
            // Not trusted.
        } else if flags & FIN != 0 && ep.last_seq == ep.start_seq32().wrapping_add(1) {
            ep.update_last_seq(last_seq);
        } else if ep.state == State::Reset {
            // Nothing after a reset is trusted.
        } else if delta > 0 {
            ep.update_last_seq(last_seq);
        } else if len > 0 {
            self.scaled(e, 'T', |x| &mut x.rxmt);
        }
        delta
    }

    /// `UpdateStateMachine`: returns (do_close, gen_event).
    fn update_state_machine(
        &mut self,
        e: usize,
        p: usize,
        s: &Segment,
        delta_last: i32,
        is_orig: bool,
    ) -> (bool, bool) {
        let flags = s.flags;
        let (syn, fin, rst, ack) = (flags & SYN != 0, flags & FIN != 0, flags & RST != 0, flags & ACK != 0);
        let mut do_close = false;
        let mut gen_event = false;
        match self.ends[e].state {
            State::Inactive => {
                if syn {
                    if is_orig {
                        self.ends[e].set_state(if ack { State::SynAckSent } else { State::SynSent });
                    } else {
                        if !ack && self.ends[p].state == State::SynAckSent && s.seq == self.ends[e].start_seq32() {
                            // A SYN answering a SYN-ACK: the roles were the other way round.
                            self.is_partial = false;
                            self.flip_roles();
                            self.ends[p].set_state(State::Established);
                            self.first_packet_seen |= ORIG_SEEN;
                        }
                        if self.ends[p].state == State::SynSent {
                            self.ends[p].set_state(State::Established);
                        }
                        self.ends[e].set_state(State::Established);
                    }
                }
                if fin {
                    self.ends[e].set_state(State::Closed);
                    do_close = true;
                    gen_event = true;
                }
                if rst {
                    self.ends[e].set_state(State::Reset);
                    let is_reject = if is_orig {
                        self.ends[p].state == State::Established
                    } else {
                        matches!(self.ends[p].state, State::SynSent | State::SynAckSent)
                    };
                    do_close = true;
                    gen_event = !is_reject;
                }
                if self.ends[e].state == State::Inactive {
                    let orig_state = self.ends[self.orig].state;
                    if !is_orig && s.len == 0 && orig_state == State::SynSent {
                        // An ACK of the SYN before the SYN-ACK: not a partial connection.
                    } else if ack && self.ends[p].state == State::Established {
                        self.ends[e].set_state(State::Established);
                        self.is_partial = false;
                        self.first_packet_seen |= if is_orig { ORIG_SEEN } else { RESP_SEEN };
                    } else {
                        self.ends[e].set_state(State::Partial);
                    }
                }
            }
            State::SynSent | State::SynAckSent => {
                if fin {
                    self.ends[e].set_state(State::Closed);
                    do_close = true;
                    gen_event = true;
                }
                if rst {
                    self.ends[e].set_state(State::Reset);
                    do_close = true;
                }
            }
            State::Established | State::Partial => {
                if syn && self.ends[e].state == State::Partial && self.ends[p].state == State::Inactive && !ack {
                    self.ends[e].set_state(State::SynSent);
                }
                if fin && !rst {
                    self.ends[e].set_state(State::Closed);
                    if self.ends[p].state == State::Reset && self.ends[p].prev_state == State::Closed {
                        self.ends[p].set_state(State::Closed);
                    }
                    do_close = true;
                    gen_event = true;
                }
                if rst {
                    self.ends[e].set_state(State::Reset);
                    do_close = true;
                }
            }
            State::Closed => {
                let _ = delta_last;
                if rst && self.ends[p].state != State::Closed {
                    self.ends[e].set_state(State::Reset);
                    if !self.ends[e].did_close {
                        do_close = true;
                    }
                }
            }
            State::Reset => {}
        }
        (do_close, gen_event)
    }

    /// `TCP_Reassembler::DataSent` and `NewBlock`: keep the new bytes until acknowledged, and
    /// hand on what is now in order.
    fn data_sent(&mut self, e: usize, seq: u64, len: u64) {
        let ep = &mut self.ends[e];
        if ep.skip_deliveries {
            return;
        }
        let ack = ep.to_relative(ep.ack_seq, ep.ack_wraps);
        let (mut seq, upper) = (seq, seq.saturating_add(len));
        if seq < ack {
            if upper <= ack {
                return;
            }
            seq = ack;
        }
        if upper <= ep.trim_seq {
            return;
        }
        seq = seq.max(ep.trim_seq);
        insert_range(&mut ep.blocks, seq, upper);
        // BlockInserted: deliver what now joins the delivered part; past the initial window
        // with nothing acknowledged, delivered bytes are no longer kept.
        deliver_in_order(ep);
        let peer_state = self.ends[1 - e].state;
        let ep = &mut self.ends[e];
        if ep.no_data_acked() && ep.size(peer_state) > MAX_INITIAL_WINDOW {
            let delivered = ep.last_reassem_seq;
            ep.blocks.retain(|&mut (_, end)| end > delivered);
            ep.trim_seq = ep.trim_seq.max(delivered);
        }
        let undelivered = ep
            .blocks
            .last()
            .map_or(0, |&(_, end)| end.saturating_sub(ep.last_reassem_seq));
        if ep.no_data_acked() && undelivered > MAX_ABOVE_HOLE_WITHOUT_ACKS {
            ep.blocks.clear();
            ep.skip_deliveries = true;
        }
        if ep.data_size() > EXCESSIVE_DATA_WITHOUT_ACKS {
            ep.blocks.clear();
            ep.skip_deliveries = true;
        }
    }

    /// `TCP_Reassembler::AckReceived` on endpoint `e` (its data was acknowledged up to `seq`).
    fn ack_received(&mut self, e: usize, seq: u64) {
        let mut seq = seq;
        {
            let ep = &self.ends[e];
            if ep.fin_cnt > 0 && seq >= ep.fin_seq {
                seq = ep.fin_seq.wrapping_sub(1);
            }
            if seq <= ep.trim_seq {
                return;
            }
        }
        self.trim_to_seq(e, seq);
        self.check_eof(e);
    }

    /// `DataBlockList::Trim` with `TCP_Reassembler::Undelivered`: acknowledged data never seen
    /// is a content gap.
    fn trim_to_seq(&mut self, e: usize, seq: u64) {
        if seq > self.ends[e].last_reassem_seq {
            self.undelivered(e, seq);
        }
        let ep = &mut self.ends[e];
        ep.blocks.retain(|&mut (_, end)| end > seq);
        deliver_in_order(ep);
        if seq > ep.trim_seq {
            ep.trim_seq = seq;
        }
    }

    fn undelivered(&mut self, e: usize, up_to: u64) {
        if up_to <= 2 && self.is_partial {
            // The first ACK of a partial connection: nothing was missed.
            return;
        }
        let p = 1 - e;
        if !self.ends[e].skip_deliveries {
            loop {
                let ep = &self.ends[e];
                let next = ep
                    .blocks
                    .iter()
                    .find(|&&(s, _)| s >= ep.last_reassem_seq)
                    .copied()
                    .filter(|&(s, _)| s < up_to);
                let Some((start, _)) = next else { break };
                let at = self.ends[e].last_reassem_seq;
                if start > at {
                    self.gap(e, p, start - at);
                }
                let ep = &mut self.ends[e];
                ep.last_reassem_seq = start;
                deliver_in_order(ep);
            }
            let at = self.ends[e].last_reassem_seq;
            if up_to > at {
                self.gap(e, p, up_to - at);
            }
        }
        let ep = &mut self.ends[e];
        if up_to > ep.last_reassem_seq {
            ep.last_reassem_seq = up_to;
        }
    }

    /// `TCP_Reassembler::Gap`: counted (and lettered) only on a connection that is established
    /// or closing cleanly.
    fn gap(&mut self, e: usize, p: usize, len: u64) {
        let clean = |x: &Endpoint| {
            x.state == State::Established || (x.state == State::Closed && x.prev_state == State::Established)
        };
        if clean(&self.ends[e]) && clean(&self.ends[p]) {
            self.scaled(e, 'G', |x| &mut x.gap);
            self.ends[e].missed += len;
        }
    }

    fn check_eof(&mut self, e: usize) {
        let p = 1 - e;
        let peer_blocks = self.ends[p].has_blocks();
        let ep = &self.ends[e];
        if !ep.did_eof
            && (ep.fin_cnt > 0 || matches!(ep.state, State::Closed | State::Reset))
            && !ep.data_pending(peer_blocks)
        {
            self.ends[e].did_eof = true;
            if self.close_deferred {
                self.close_deferred = false;
                self.connection_closed(e, p, false);
            }
        }
    }

    fn connection_closed(&mut self, e: usize, p: usize, _gen_event: bool) {
        let peer_blocks = self.ends[p].has_blocks();
        if self.ends[e].data_pending(peer_blocks) {
            self.close_deferred = true;
            return;
        }
        self.close_deferred = false;
        self.ends[e].did_close = true;
    }
}

/// The history `RSTOS0` needs: `/^?S[^HAFGIQ]*R.*/`, a SYN then a reset without any answer.
fn rsts0_history(h: &str) -> bool {
    let h = h.strip_prefix('^').unwrap_or(h);
    let Some(rest) = h.strip_prefix('S') else {
        return false;
    };
    for c in rest.chars() {
        match c {
            'R' => return true,
            'H' | 'A' | 'F' | 'G' | 'I' | 'Q' => return false,
            _ => {}
        }
    }
    false
}

/// Add [seq, upper) to sorted disjoint ranges, joining what it touches.
fn insert_range(blocks: &mut Ranges, seq: u64, upper: u64) {
    if seq >= upper {
        return;
    }
    // The common case: bytes just after the last range.
    if let Some(last) = blocks.last_mut() {
        if seq == last.1 {
            last.1 = upper;
            return;
        }
        if seq > last.1 {
            blocks.push((seq, upper));
            return;
        }
    } else {
        blocks.push((seq, upper));
        return;
    }
    let (mut s, mut u) = (seq, upper);
    let mut kept = Ranges::with_capacity(blocks.len() + 1);
    for &(a, b) in blocks.iter() {
        if b < s || a > u {
            kept.push((a, b));
        } else {
            s = s.min(a);
            u = u.max(b);
        }
    }
    kept.push((s, u));
    kept.sort_unstable();
    *blocks = kept;
}

/// Move `last_reassem_seq` over the ranges that now continue it (delivery in order).
fn deliver_in_order(ep: &mut Endpoint) {
    for &(s, u) in &ep.blocks {
        if s <= ep.last_reassem_seq && u > ep.last_reassem_seq {
            ep.last_reassem_seq = u;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(flags: u8, seq: u32, ack: u32, len: u32) -> Segment {
        Segment {
            flags,
            seq,
            ack,
            window: 1000,
            len,
            captured: true,
        }
    }

    /// (from the first sender?, segment)
    fn run(flipped: bool, packets: &[(bool, Segment)]) -> TcpConn {
        let mut c = TcpConn::new(flipped);
        for (i, (first, s)) in packets.iter().enumerate() {
            c.packet(*first, i as i64, s);
        }
        c
    }

    const C: bool = true;
    const S: bool = false;

    #[test]
    fn a_whole_connection_is_shaddff_with_sequence_sizes() {
        let c = run(
            false,
            &[
                (C, seg(SYN, 100, 0, 0)),
                (S, seg(SYN | ACK, 5000, 101, 0)),
                (C, seg(ACK, 101, 5001, 0)),
                (C, seg(ACK, 101, 5001, 40)),
                (S, seg(ACK, 5001, 141, 300)),
                (C, seg(FIN | ACK, 141, 5301, 0)),
                (S, seg(FIN | ACK, 5301, 142, 0)),
                (C, seg(ACK, 142, 5302, 0)),
            ],
        );
        assert_eq!(c.history(), "ShADdFf");
        assert_eq!(c.sizes(), (40, 300));
        assert_eq!(c.conn_state(), "SF");
        assert_eq!(c.missed_bytes(), 0);
        // The last ACK came after both FINs: Zeek's duration ends at the second FIN.
        assert_eq!(c.last_time(), 6);
    }

    #[test]
    fn a_retransmission_is_t_once_then_again_at_ten() {
        let mut packets = vec![
            (C, seg(SYN, 0, 0, 0)),
            (S, seg(SYN | ACK, 0, 1, 0)),
            (C, seg(ACK, 1, 1, 10)),
        ];
        for _ in 0..10 {
            packets.push((C, seg(ACK, 1, 1, 10)));
        }
        let c = run(false, &packets);
        assert_eq!(c.history(), "ShDTT");
    }

    #[test]
    fn a_syn_ack_first_then_data_flips_the_roles() {
        // Port heuristics did not flip it at the start; the ACK that follows does.
        let c = run(false, &[(C, seg(SYN | ACK, 10, 20, 0)), (S, seg(ACK, 20, 11, 0))]);
        assert_eq!(c.history(), "^hA");
        assert!(!c.first_sender_is_orig());
    }

    #[test]
    fn acknowledged_bytes_never_seen_are_a_gap() {
        let c = run(
            false,
            &[
                (C, seg(SYN, 0, 0, 0)),
                (S, seg(SYN | ACK, 0, 1, 0)),
                (C, seg(ACK, 1, 1, 0)),
                (C, seg(ACK, 1, 1, 100)),
                // 100..200 lost, 200..300 seen, all acknowledged.
                (C, seg(ACK, 201, 1, 100)),
                (S, seg(ACK, 1, 301, 0)),
            ],
        );
        assert_eq!(c.missed_bytes(), 100);
        assert_eq!(c.history(), "ShADaG");
        assert_eq!(c.conn_state(), "S1");
    }

    #[test]
    fn unanswered_syn_is_s0_and_rejected_syn_is_rej() {
        assert_eq!(run(false, &[(C, seg(SYN, 7, 0, 0))]).conn_state(), "S0");
        let rej = run(false, &[(C, seg(SYN, 7, 0, 0)), (S, seg(RST | ACK, 0, 8, 0))]);
        assert_eq!(rej.conn_state(), "REJ");
        assert_eq!(rej.history(), "Sr");
    }

    #[test]
    fn rsts0_matches_zeeks_pattern() {
        assert!(rsts0_history("SR"));
        assert!(rsts0_history("^SdR"));
        assert!(!rsts0_history("SAR"));
        assert!(!rsts0_history("R"));
    }
}
