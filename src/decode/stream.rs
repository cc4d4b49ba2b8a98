//! stream: follow TCP byte streams (HTTP, TLS, DNS over TCP) in capture order. Two things come
//! out of it:
//! - the frame that completes each HTTP message or TLS record. tshark reassembles these PDUs and
//!   names `http`/`tls` in a frame's protocol stack only on the frame where one completes;
//!   segments in the middle of a PDU, retransmissions and copies of a segment seen on another
//!   VLAN carry plain `tcp`. The decoder cannot know this packet by packet.
//! - the messages the transaction tables read ([`StreamEvent`]): HTTP heads and the length of
//!   each body, TLS handshake messages put back together across records and segments (a
//!   ClientHello with post-quantum key shares spans several), the kind of each TLS record, and
//!   DNS messages framed by their length prefix.

use crate::decode::http_body::{
    Body, Chunk, Inflate, Step, chunked_step, find_head_end, http_body, looks_like_http_start,
};
use crate::decode::packet::FlowMap;
use crate::decode::protocol::App;
use crate::decode::service::Service;

/// One TCP segment of a followed flow, as the tracker needs it.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub flow: u64,
    /// Which side sent it (flows are bidirectional; each direction is its own byte stream).
    pub from_lo: bool,
    pub seq: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub app: App,
    /// Payload bytes on the wire (the captured bytes may be fewer).
    pub wire_len: u32,
}

/// A message the stream gave up, in stream order.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// An HTTP request or response head (start line and headers, through the empty line).
    HttpHead(Vec<u8>),
    /// The body after the last head ended: this many body bytes (chunk framing not counted).
    HttpBodyEnd(u64),
    /// A TLS record began: its content type (20 change cipher spec, 21 alert, 22 handshake,
    /// 23 application data) and length.
    TlsRecord { content_type: u8, len: u16 },
    /// A whole TLS handshake message (type, 3-byte length, body) from the records before
    /// encryption started.
    TlsHandshake(Vec<u8>),
    /// A TLS alert in the clear: level and description.
    TlsAlert { level: u8, description: u8 },
    /// A DNS message carried over TCP (without its length prefix).
    Dns(Vec<u8>),
    /// The connection ended cleanly: each direction's FIN came with every byte before it read
    /// (sent with the segment that closed the second).
    Closed,
    /// A side reset the connection.
    Reset,
}

/// Where a stream's parser stands.
#[derive(Debug, Clone, Default)]
enum Mode {
    /// At a PDU boundary; `pending` holds the start of a PDU whose header is not complete yet.
    #[default]
    Boundary,
    /// Inside a PDU whose bytes are not kept: this many are still to come.
    Skip(u64),
    /// Inside a PDU whose bytes are kept in `msg`: this many are still to come.
    Collect(u64),
    /// Inside a chunked HTTP body.
    Chunked(Chunk),
    /// An HTTP body that ends when the sender closes.
    UntilClose,
}

/// One direction's parser over its byte stream.
#[derive(Debug, Default)]
struct Framer {
    next_seq: Option<u32>,
    mode: Mode,
    pending: Vec<u8>,
    /// The protocol was confirmed in this direction (a request head, a hello).
    confirmed: bool,
    /// What the transaction tables read (TLS handshake records, HTTP heads, DNS messages) is
    /// kept here; without it only where PDUs complete is worked out. Only the in-order parser
    /// has it: the tshark-order parser of every direction of every TCP connection stays in
    /// the tracker's map for the whole capture, and was two thirds fields it never used.
    kept: Option<Box<Kept>>,
}

/// What a parser that keeps messages holds besides its framing.
#[derive(Debug, Default)]
struct Kept {
    /// Bytes of the PDU being collected (a TLS record's payload, a DNS message); `broken` when
    /// part of it was never captured.
    msg: Vec<u8>,
    broken: bool,
    /// What the collected PDU is: a TLS record's content type, or 0 for a DNS message.
    collecting: u8,
    /// Inside an HTTP body (the skip or close ends it): its bytes so far, counted after gzip or
    /// deflate content coding is undone (as Zeek counts them) when `inflate` is set.
    body: Option<u64>,
    inflate: Option<Box<Inflate>>,
    /// TLS handshake bytes not yet a whole message; stops after the cipher changed.
    handshake: Vec<u8>,
    encrypted: bool,
    /// A record header was told after this direction changed cipher (see [`Dir::quiet`]).
    told_after_change: bool,
    events: Vec<StreamEvent>,
}

impl Framer {
    fn collect(&self) -> bool {
        self.kept.is_some()
    }
}

/// What one segment did: completed a message or record (tshark then names the application on
/// its frame) and whether it confirmed the protocol (an HTTP request head, a TLS hello). The
/// messages it gave up go to the caller's list.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Segmented {
    pub completes: bool,
    pub confirms: Option<Service>,
}

/// Longest header we wait for before giving up on a stream's framing.
const MAX_PENDING: usize = 64 * 1024;
/// Handshake bytes kept per direction (certificates chains included; more is not a handshake).
const MAX_HANDSHAKE: usize = 256 * 1024;

/// Bytes of segments held back while an earlier one is missing (per direction).
const MAX_HELD: usize = 256 * 1024;

/// A segment that arrived ahead of a missing one.
#[derive(Debug)]
struct Held {
    seg: Segment,
    data: Vec<u8>,
}

/// One direction of a followed flow. Two parsers read it: `compat` as tshark does (segments in
/// capture order, no reordering: where PDUs complete, for the protocol stacks), and `ordered`
/// as Zeek does (segments put back in sequence order: what the transaction tables read; a
/// certificate whose segments arrive out of order is read whole). A direction's state is kept
/// for the whole capture (a copy of the stream seen again on another VLAN must read as a
/// retransmission), but the ordered parser is let go when the direction closes.
#[derive(Debug)]
struct Dir {
    compat: Framer,
    /// Until a segment arrives ahead of a gap (which the in-order parser holds back and tshark's
    /// reads at once), or the in-order parser closes or stops, both parsers read the same bytes
    /// in the same order and frame them alike: only the in-order one runs, and `compat` takes
    /// its framing when they part (see [`Dir::part`]). Most connections never part, and running
    /// both was a fifth of following streams.
    synced: bool,
    ordered: Ordered,
    /// Both directions told a record header after changing cipher: the handshake is over (the
    /// TLS table logged the session at the later one and reads nothing more of the connection),
    /// so the in-order parser stops here. Nearly every segment of a TLS connection comes after
    /// this.
    quiet: bool,
}

#[derive(Debug)]
enum Ordered {
    Open(Box<OrderedSide>),
    /// Closed cleanly at this sequence number: later copies of what came before are ignored.
    Closed(Option<u32>),
    /// A TLS connection past its handshake (see [`Dir::quiet`]): nothing more to read in it.
    Done,
}

#[derive(Debug)]
struct OrderedSide {
    framer: Framer,
    held: std::collections::BTreeMap<u32, Held>,
    held_bytes: usize,
}

impl OrderedSide {
    fn new(next_seq: Option<u32>) -> OrderedSide {
        OrderedSide {
            framer: Framer {
                kept: Some(Box::default()),
                next_seq,
                ..Default::default()
            },
            held: Default::default(),
            held_bytes: 0,
        }
    }
}

impl Default for Dir {
    fn default() -> Self {
        Dir {
            compat: Framer::default(),
            synced: true,
            ordered: Ordered::Open(Box::new(OrderedSide::new(None))),
            quiet: false,
        }
    }
}

impl Dir {
    /// The two parsers part: tshark's takes the in-order parser's framing as it stands (what
    /// the latter keeps for the tables aside; framing does not depend on it).
    fn part(&mut self) {
        if !std::mem::replace(&mut self.synced, false) {
            return;
        }
        if let Ordered::Open(o) = &self.ordered {
            let f = &o.framer;
            self.compat = Framer {
                next_seq: f.next_seq,
                mode: f.mode.clone(),
                pending: f.pending.clone(),
                confirmed: f.confirmed,
                kept: None,
            };
        }
    }
}

/// Per-direction stream state over a whole capture, both directions of a connection in one
/// entry: a segment finds its own direction and the other's (which the handshake and close
/// checks read) with one lookup instead of up to three.
#[derive(Default)]
pub struct Tracker {
    conns: FlowMap<u64, [Option<Dir>; 2]>,
}

impl Tracker {
    /// Feed one segment (with its captured payload); the messages it completes are added to
    /// `events`.
    pub fn segment_into(&mut self, s: &Segment, data: &[u8], events: &mut Vec<StreamEvent>) -> Segmented {
        if s.rst && s.wire_len == 0 && !s.syn && !s.fin {
            // A bare RST carries no bytes for the parsers; the transactions end with it.
            events.push(StreamEvent::Reset);
            return Segmented::default();
        }
        let told = |d: &Dir| match &d.ordered {
            Ordered::Open(o) => o.framer.kept.as_ref().is_some_and(|k| k.told_after_change),
            Ordered::Closed(_) => false,
            Ordered::Done => true,
        };
        let [lo, hi] = self.conns.entry(s.flow).or_default();
        let (mine, other) = if s.from_lo { (lo, hi) } else { (hi, lo) };
        let quiet = match mine.as_ref() {
            Some(d) if !d.quiet && told(d) => other.as_ref().is_some_and(told),
            _ => false,
        };
        let d = mine.get_or_insert_with(Dir::default);
        if quiet {
            // The TLS table logged this connection: its parser (and the room it holds) goes.
            d.part();
            d.quiet = true;
            d.ordered = Ordered::Done;
        }
        if d.synced
            && let Ordered::Open(o) = &d.ordered
            && (!o.held.is_empty() || ahead_of(o.framer.next_seq, s) > 0)
        {
            // The in-order parser would hold this segment back: tshark's reads it now.
            d.part();
        }
        let mut done = Segmented::default();
        if !d.synced {
            done = step_tshark(&mut d.compat, s, data);
        }
        if let Ordered::Closed(next) = d.ordered {
            // New bytes after a clean close (or a new SYN): a new stream.
            let newer = s.syn || next.is_none_or(|n| (s.seq.wrapping_sub(n) as i32) > 0);
            if newer {
                // It starts at this segment (the FIN took a sequence number of its own).
                d.ordered = Ordered::Open(Box::new(OrderedSide::new(if s.syn { None } else { Some(s.seq) })));
            }
        }
        if let Ordered::Open(o) = &mut d.ordered {
            if d.synced {
                // Nothing held and nothing missing before this segment: step_ordered would
                // step it straight away, as tshark's parser does.
                done = step_tshark(&mut o.framer, s, data);
            } else {
                step_ordered(o, s, data);
            }
            if let Some(k) = o.framer.kept.as_deref_mut() {
                events.append(&mut k.events);
            }
            if s.fin && o.held.is_empty() && matches!(o.framer.mode, Mode::Boundary) {
                let next = o.framer.next_seq;
                d.part();
                d.ordered = Ordered::Closed(next);
                if other.as_ref().is_some_and(|o| matches!(o.ordered, Ordered::Closed(_))) {
                    events.push(StreamEvent::Closed);
                }
            }
        }
        done
    }
}

/// How far `s` starts past the next byte expected (`next`): above 0 when bytes before it are
/// missing. A SYN, or a stream whose next byte is not known yet, is never ahead.
fn ahead_of(next: Option<u32>, s: &Segment) -> i32 {
    match (s.syn, next) {
        (false, Some(next)) => s.seq.wrapping_sub(next) as i32,
        _ => 0,
    }
}

/// One segment through the parser whose results tshark shows: whether a PDU completes, and
/// whether this segment confirmed the protocol.
fn step_tshark(f: &mut Framer, s: &Segment, data: &[u8]) -> Segmented {
    let was_confirmed = f.confirmed;
    let completes = step(f, s, data);
    let confirms = (f.confirmed && !was_confirmed).then_some(match s.app {
        App::Http => Service::Http,
        _ => Service::Ssl,
    });
    Segmented { completes, confirms }
}

/// Feed the ordered parser: a segment ahead of a missing one waits (up to [`MAX_HELD`] bytes
/// per direction) until the gap fills; past that, the gap is given up on.
fn step_ordered(d: &mut OrderedSide, s: &Segment, data: &[u8]) {
    let f = &mut d.framer;
    let ahead = ahead_of(f.next_seq, s);
    if s.syn {
        d.held.clear();
        d.held_bytes = 0;
    }
    if ahead > 0 && d.held_bytes + data.len() <= MAX_HELD {
        d.held_bytes += data.len();
        d.held.insert(
            s.seq,
            Held {
                seg: *s,
                data: data.to_vec(),
            },
        );
        return;
    }
    if ahead > 0 {
        // Too much waits on the gap: go on without it, the held segments first.
        let held = std::mem::take(&mut d.held);
        d.held_bytes = 0;
        for (_, h) in held {
            step(f, &h.seg, &h.data);
        }
    }
    step(f, s, data);
    // Segments the gap held back that now follow on.
    while let Some((&seq, _)) = d.held.first_key_value() {
        let next = f.next_seq.unwrap_or(seq);
        if (seq.wrapping_sub(next) as i32) > 0 {
            break;
        }
        let Some(h) = d.held.remove(&seq) else { break };
        d.held_bytes -= h.data.len();
        step(f, &h.seg, &h.data);
    }
}

/// One segment through a parser, in the order given: true when a PDU completes in it.
fn step(d: &mut Framer, s: &Segment, data: &[u8]) -> bool {
    if s.syn {
        // A repeated SYN (retransmitted, or the same handshake seen on another VLAN) must not
        // rewind the stream; only a SYN beyond what we have seen starts a new one.
        let fresh = d
            .next_seq
            .is_none_or(|n| (s.seq.wrapping_add(1).wrapping_sub(n) as i32) > 0);
        if fresh {
            d.next_seq = Some(s.seq.wrapping_add(1).wrapping_add(s.wire_len));
            lose_framing(d);
        }
        return false;
    }
    let len = s.wire_len;
    let mut skip = 0u32;
    if let Some(next) = d.next_seq {
        let ahead = s.seq.wrapping_sub(next) as i32;
        if ahead < 0 {
            // Bytes we already had: a retransmission (or the same segment seen on another
            // VLAN). Only genuinely new bytes count.
            let overlap = ahead.unsigned_abs();
            if overlap >= len {
                return s.fin && matches!(d.mode, Mode::UntilClose) && close(d);
            }
            skip = overlap;
        } else if ahead > 0 {
            // Bytes are missing: the framing is lost; start again at this segment.
            lose_framing(d);
        }
    }
    d.next_seq = Some(s.seq.wrapping_add(len).wrapping_add(s.fin as u32));
    if len == 0 {
        return s.fin && matches!(d.mode, Mode::UntilClose) && close(d);
    }
    let start = (skip as usize).min(data.len());
    // Bytes beyond what was captured (snap length) still advance the stream.
    let missing = (len as usize).saturating_sub(data.len().max(start));
    let mut done = feed(d, s.app, &data[start..]);
    if missing > 0 {
        done |= advance_blind(d, missing as u64);
    }
    if s.fin && matches!(d.mode, Mode::UntilClose) {
        done |= close(d);
    }
    done
}

/// Start over at the next byte: what was half read is dropped.
fn lose_framing(d: &mut Framer) {
    d.mode = Mode::Boundary;
    d.pending.clear();
    if let Some(k) = d.kept.as_deref_mut() {
        k.msg.clear();
        k.broken = false;
        k.body = None;
        k.inflate = None;
        k.handshake.clear();
    }
}

fn close(d: &mut Framer) -> bool {
    d.mode = Mode::Boundary;
    end_body(d);
    true
}

fn end_body(d: &mut Framer) {
    let Some(k) = d.kept.as_deref_mut() else { return };
    let inflate = k.inflate.take();
    if let Some(n) = k.body.take() {
        let n = inflate.map_or(n, |i| i.decoded());
        k.events.push(StreamEvent::HttpBodyEnd(n));
    }
}

/// Count body bytes (and decode them when the body is content-coded).
fn body_bytes(d: &mut Framer, b: &[u8]) {
    let Some(k) = d.kept.as_deref_mut() else { return };
    if let Some(n) = k.body.as_mut() {
        *n += b.len() as u64;
    }
    if let Some(i) = k.inflate.as_mut() {
        i.feed(b);
    }
}

/// Advance over bytes we do not have.
fn advance_blind(d: &mut Framer, n: u64) -> bool {
    match &mut d.mode {
        Mode::Skip(rem) => {
            if let Some(b) = d.kept.as_deref_mut().and_then(|k| k.body.as_mut()) {
                *b += n.min(*rem);
            }
            if n >= *rem {
                d.mode = Mode::Boundary;
                end_body(d);
                true
            } else {
                *rem -= n;
                false
            }
        }
        Mode::Collect(rem) => {
            // The PDU cannot be read now; skip the rest of it (only a keeping parser collects).
            let k = d.kept.as_deref_mut();
            if n >= *rem {
                d.mode = Mode::Boundary;
                if let Some(k) = k {
                    k.msg.clear();
                    k.broken = false;
                }
                true
            } else {
                if let Some(k) = k {
                    k.broken = true;
                }
                *rem -= n;
                false
            }
        }
        Mode::UntilClose => {
            if let Some(b) = d.kept.as_deref_mut().and_then(|k| k.body.as_mut()) {
                *b += n;
            }
            false
        }
        _ => {
            // Cannot frame what we cannot see.
            lose_framing(d);
            false
        }
    }
}

/// A collected PDU is whole: hand it on.
fn collected(d: &mut Framer) {
    let Some(d) = d.kept.as_deref_mut() else { return };
    let msg = std::mem::take(&mut d.msg);
    if std::mem::take(&mut d.broken) {
        return;
    }
    match d.collecting {
        0 => d.events.push(StreamEvent::Dns(msg)),
        21 if !d.encrypted && msg.len() >= 2 => d.events.push(StreamEvent::TlsAlert {
            level: msg[0],
            description: msg[1],
        }),
        22 if !d.encrypted => {
            if d.handshake.len() + msg.len() > MAX_HANDSHAKE {
                d.handshake.clear();
                return;
            }
            d.handshake.extend_from_slice(&msg);
            let mut at = 0;
            while d.handshake.len() >= at + 4 {
                let h = &d.handshake[at..];
                let n = 4 + u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
                if h.len() < n {
                    break;
                }
                d.events.push(StreamEvent::TlsHandshake(h[..n].to_vec()));
                at += n;
            }
            d.handshake.drain(..at);
        }
        _ => {}
    }
}

/// Run the parser over new stream bytes; true when at least one PDU completes.
fn feed(d: &mut Framer, app: App, input: &[u8]) -> bool {
    // tshark's TLS dissector names itself on every segment that starts at a record boundary,
    // even when the record then needs more segments; HTTP names itself only once a message is
    // complete.
    let mut done = app == App::Tls && matches!(d.mode, Mode::Boundary) && d.pending.is_empty();
    // Bytes of an unfinished header wait in `pending`; join them with the new ones once.
    let joined: Vec<u8>;
    let mut b: &[u8] = input;
    if !d.pending.is_empty() {
        let mut v = std::mem::take(&mut d.pending);
        v.extend_from_slice(input);
        joined = v;
        b = &joined;
    }
    while !b.is_empty() {
        match &mut d.mode {
            Mode::Skip(rem) => {
                let take = (*rem).min(b.len() as u64);
                *rem -= take;
                let done_now = *rem == 0;
                body_bytes(d, &b[..take as usize]);
                b = &b[take as usize..];
                if done_now {
                    d.mode = Mode::Boundary;
                    end_body(d);
                    done = true;
                }
            }
            Mode::Collect(rem) => {
                let take = (*rem).min(b.len() as u64);
                *rem -= take;
                if let Some(k) = d.kept.as_deref_mut() {
                    k.msg.extend_from_slice(&b[..take as usize]);
                }
                b = &b[take as usize..];
                if *rem == 0 {
                    d.mode = Mode::Boundary;
                    collected(d);
                    done = true;
                }
            }
            Mode::UntilClose => {
                body_bytes(d, b);
                return done;
            }
            Mode::Chunked(c) => match chunked_step(c, b) {
                Step::Need => {
                    stash(d, b);
                    return done;
                }
                Step::Consumed(n, data, finished) => {
                    body_bytes(d, &b[..data as usize]);
                    b = &b[n..];
                    if finished {
                        d.mode = Mode::Boundary;
                        end_body(d);
                        done = true;
                    }
                }
            },
            Mode::Boundary => match app {
                App::Tls => {
                    if b.len() < 5 {
                        stash(d, b);
                        return done;
                    }
                    if (20..=24).contains(&b[0]) && b[1] == 3 {
                        // A ClientHello or ServerHello confirms TLS.
                        if b[0] == 22 && matches!(b.get(5), Some(1 | 2)) {
                            d.confirmed = true;
                        }
                        let len = u16::from_be_bytes([b[3], b[4]]);
                        let mut keep = false;
                        if let Some(k) = d.kept.as_deref_mut() {
                            k.told_after_change |= k.encrypted;
                            k.events.push(StreamEvent::TlsRecord {
                                content_type: b[0],
                                len,
                            });
                            keep = matches!(b[0], 21 | 22) && !k.encrypted;
                            if keep {
                                k.collecting = b[0];
                            } else if b[0] == 20 {
                                k.encrypted = true;
                            }
                        }
                        let n = 5 + u64::from(len);
                        // Handshake and alert records are kept (until the cipher changes);
                        // the rest is skipped.
                        if keep {
                            b = &b[5..];
                            d.mode = Mode::Collect(n - 5);
                            if n == 5 {
                                d.mode = Mode::Boundary;
                                collected(d);
                                done = true;
                            }
                        } else {
                            d.mode = Mode::Skip(n);
                        }
                    } else {
                        // Not a record header: tshark shows the bytes as TLS continuation data.
                        return true;
                    }
                }
                App::Http => {
                    if !looks_like_http_start(b) {
                        // Body bytes we could not frame: tshark calls them HTTP continuation.
                        return true;
                    }
                    let Some(head_len) = find_head_end(b) else {
                        stash(d, b);
                        return done;
                    };
                    let (body, coding) = http_body(&b[..head_len]);
                    // A request head confirms HTTP.
                    if !b.starts_with(b"HTTP/") {
                        d.confirmed = true;
                    }
                    if let Some(k) = d.kept.as_deref_mut() {
                        k.events.push(StreamEvent::HttpHead(b[..head_len].to_vec()));
                        k.inflate = coding.map(|gzip| Box::new(Inflate::new(gzip)));
                        k.body = Some(0);
                    }
                    b = &b[head_len..];
                    match body {
                        Body::None => {
                            end_body(d);
                            done = true;
                        }
                        Body::Length(n) => d.mode = Mode::Skip(n),
                        Body::Chunked => d.mode = Mode::Chunked(Chunk::Size),
                        Body::UntilClose => d.mode = Mode::UntilClose,
                    }
                }
                a if a.is_dns_like() => {
                    if b.len() < 2 {
                        stash(d, b);
                        return done;
                    }
                    let n = u64::from(u16::from_be_bytes([b[0], b[1]]));
                    b = &b[2..];
                    if let Some(k) = d.kept.as_deref_mut() {
                        k.collecting = 0;
                    }
                    d.mode = if d.collect() { Mode::Collect(n) } else { Mode::Skip(n) };
                    if n == 0 {
                        d.mode = Mode::Boundary;
                    }
                }
                _ => return true,
            },
        }
    }
    done
}

fn stash(d: &mut Framer, b: &[u8]) {
    if d.pending.len() + b.len() > MAX_PENDING {
        lose_framing(d);
    } else {
        d.pending.extend_from_slice(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment's result with the messages it gave up.
    #[derive(Debug)]
    struct Done {
        completes: bool,
        events: Vec<StreamEvent>,
    }

    impl Tracker {
        fn segment(&mut self, s: &Segment, data: &[u8]) -> Done {
            let mut events = Vec::new();
            let done = self.segment_into(s, data, &mut events);
            Done {
                completes: done.completes,
                events,
            }
        }

        fn segment_done(&mut self, s: &Segment, data: &[u8]) -> bool {
            self.segment(s, data).completes
        }
    }

    fn seg(seq: u32, len: usize, app: App) -> Segment {
        Segment {
            flow: 1,
            from_lo: true,
            seq,
            syn: false,
            fin: false,
            rst: false,
            app,
            wire_len: len as u32,
        }
    }

    /// tshark's parser only runs apart once a segment arrives ahead of a gap: whatever the order
    /// segments come in (in order, reordered, repeated, with gaps never filled, a FIN), what
    /// the tracker says completes and confirms is what tshark's parser alone says.
    #[test]
    fn the_tracker_frames_as_tshark_whatever_the_order() {
        let http: Vec<u8> =
            b"GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\n\r\n".repeat(4);
        let mut tls = Vec::new();
        for (ct, n) in [(22u8, 300usize), (20, 1), (23, 500), (23, 40)].repeat(3) {
            tls.extend([ct, 3, 3, (n >> 8) as u8, n as u8]);
            tls.extend(std::iter::repeat_n(if ct == 22 { 1 } else { 0 }, n));
        }
        let mut x = 99u64;
        let mut next = move |m: u64| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) % m
        };
        // TLS in both directions: once both changed cipher, the in-order parser stops reading
        // (the two parsers part mid-record there).
        for (app, stream, sides) in [(App::Http, &http, 1), (App::Tls, &tls, 2)] {
            for round in 0..40 {
                // Per side: cut the stream into segments, then deliver them in an order with
                // swaps, repeats and (some rounds) a segment never sent; the sides take turns.
                let mut plan = Vec::new();
                for side in 0..sides {
                    let mut cuts = vec![0usize];
                    while *cuts.last().unwrap() < stream.len() {
                        let at = cuts.last().unwrap() + 1 + next(120) as usize;
                        cuts.push(at.min(stream.len()));
                    }
                    let mut order: Vec<usize> = (0..cuts.len() - 1).collect();
                    for _ in 0..next(4) {
                        let i = next(order.len() as u64 - 1) as usize;
                        order.swap(i, i + 1);
                    }
                    if round % 3 == 0 {
                        let i = next(order.len() as u64) as usize;
                        order.insert(i, order[i]);
                    }
                    if round % 5 == 0 {
                        order.remove(next(order.len() as u64) as usize);
                    }
                    let last = order.len() - 1;
                    for (k, i) in order.into_iter().enumerate() {
                        plan.push((k * sides + side, side, cuts[i], cuts[i + 1], k == last));
                    }
                }
                plan.sort_by_key(|p| p.0);
                let mut tracker = Tracker::default();
                let mut alone = [Framer::default(), Framer::default()];
                for (n, &(_, side, from, to, fin)) in plan.iter().enumerate() {
                    let mut s = seg(1000 + 7777 * side as u32 + from as u32, to - from, app);
                    s.from_lo = side == 0;
                    s.fin = fin;
                    let data = &stream[from..to];
                    let was = alone[side].confirmed;
                    let want = step(&mut alone[side], &s, data);
                    let got = tracker.segment_into(&s, data, &mut Vec::new());
                    assert_eq!(got.completes, want, "{app:?} round {round}, segment {n}");
                    let confirmed = alone[side].confirmed && !was;
                    assert_eq!(got.confirms.is_some(), confirmed, "{app:?} round {round}, segment {n}");
                }
            }
        }
    }

    /// Found by `netql fuzz`: a segment exactly 2^31 sequence numbers behind the next one
    /// expected (as far behind as a 32-bit sequence space allows) overflowed the overlap. It is
    /// a retransmission of old bytes: nothing new is read from it.
    #[test]
    fn a_segment_half_the_sequence_space_behind_is_old_bytes() {
        let mut t = Tracker::default();
        let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(t.segment_done(&seg(1, req.len(), App::Http), req));
        let behind = (1 + req.len() as u32).wrapping_sub(1 << 31);
        let again = t.segment(&seg(behind, req.len(), App::Http), req);
        assert!(!again.completes && again.events.is_empty(), "{again:?}");
    }

    /// A FIN after every byte was read closes its direction, and once both directions closed
    /// the connection has ended (the transaction tables then log what it left open and let
    /// its state go); a bare RST resets the connection; new bytes after the close start a new
    /// stream.
    #[test]
    fn fin_after_the_last_byte_closes_and_a_bare_rst_resets() {
        let mut t = Tracker::default();
        let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let first = t.segment(&seg(1, req.len(), App::Http), req);
        assert!(!first.events.contains(&StreamEvent::Closed));
        let fin = Segment {
            fin: true,
            ..seg(1 + req.len() as u32, 0, App::Http)
        };
        // One side closed: the connection goes on.
        assert!(!t.segment(&fin, b"").events.contains(&StreamEvent::Closed));
        // A copy of the FIN is not the other side's close.
        assert!(!t.segment(&fin, b"").events.contains(&StreamEvent::Closed));
        let reply_fin = Segment {
            fin: true,
            from_lo: false,
            ..seg(500, 0, App::Http)
        };
        assert_eq!(t.segment(&reply_fin, b"").events.last(), Some(&StreamEvent::Closed));
        // Bytes past the close: a new stream, read from its start.
        let again = t.segment(&seg(10 + req.len() as u32, req.len(), App::Http), req);
        assert!(
            matches!(again.events.first(), Some(StreamEvent::HttpHead(_))),
            "{first:?} / {again:?}"
        );
        let rst = Segment {
            rst: true,
            ..seg(9, 0, App::Http)
        };
        assert_eq!(t.segment(&rst, b"").events, [StreamEvent::Reset]);
        // A FIN while a segment before it is missing does not close: its bytes may still come.
        let mut t = Tracker::default();
        t.segment(&seg(1, req.len(), App::Http), req);
        let early_fin = Segment {
            fin: true,
            ..seg(100, 0, App::Http)
        };
        assert!(!t.segment(&early_fin, b"").events.contains(&StreamEvent::Closed));
    }

    #[test]
    fn http_response_completes_on_its_last_segment() {
        let mut t = Tracker::default();
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345";
        let first = t.segment(&seg(1, head.len(), App::Http), head);
        assert!(!first.completes);
        assert_eq!(first.events, [StreamEvent::HttpHead(head[..head.len() - 5].to_vec())]);
        let last = t.segment(&seg(1 + head.len() as u32, 5, App::Http), b"67890");
        assert!(last.completes);
        assert_eq!(last.events, [StreamEvent::HttpBodyEnd(10)]);
    }

    #[test]
    fn retransmission_is_not_a_new_pdu() {
        let mut t = Tracker::default();
        let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(t.segment_done(&seg(100, req.len(), App::Http), req));
        assert!(!t.segment_done(&seg(100, req.len(), App::Http), req));
    }

    #[test]
    fn tls_record_across_segments() {
        // As tshark: the segment that starts a record is tls, a middle one is not, the one
        // that completes the record is.
        let mut t = Tracker::default();
        let mut rec = vec![23, 3, 3, 0, 20];
        rec.extend_from_slice(&[0; 20]);
        assert!(t.segment_done(&seg(0, 8, App::Tls), &rec[..8]));
        assert!(!t.segment_done(&seg(8, 8, App::Tls), &rec[8..16]));
        assert!(t.segment_done(&seg(16, 9, App::Tls), &rec[16..]));
    }

    #[test]
    fn chunked_body_ends_at_the_zero_chunk() {
        let mut t = Tracker::default();
        let a = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
        let b = b"0\r\n\r\n";
        assert!(!t.segment_done(&seg(0, a.len(), App::Http), a));
        let end = t.segment(&seg(a.len() as u32, b.len(), App::Http), b);
        assert!(end.completes);
        assert_eq!(end.events, [StreamEvent::HttpBodyEnd(5)], "chunk data, not framing");
    }

    #[test]
    fn a_handshake_message_split_over_records_and_segments_comes_out_whole() {
        // A 10-byte ClientHello body in two handshake records, the second cut by a segment edge.
        let msg: Vec<u8> = [vec![1, 0, 0, 10], (0..10).collect()].concat();
        let mut stream = vec![22, 3, 1, 0, 6];
        stream.extend_from_slice(&msg[..6]);
        stream.extend_from_slice(&[22, 3, 3, 0, 8]);
        stream.extend_from_slice(&msg[6..]);
        let mut t = Tracker::default();
        let a = t.segment(&seg(0, 14, App::Tls), &stream[..14]);
        let b = t.segment(&seg(14, stream.len() - 14, App::Tls), &stream[14..]);
        let handshakes: Vec<_> = a
            .events
            .into_iter()
            .chain(b.events)
            .filter(|e| matches!(e, StreamEvent::TlsHandshake(_)))
            .collect();
        assert_eq!(handshakes, [StreamEvent::TlsHandshake(msg)]);
    }

    /// Once both sides changed cipher and each sent a record after it, the TLS table has logged
    /// the session and reads nothing more: the tracker stops telling record headers (nearly every
    /// segment of a TLS connection) and lets the in-order parser go.
    #[test]
    fn record_headers_stop_after_both_sides_finished_the_handshake() {
        let records = |e: &[StreamEvent]| e.iter().filter(|e| matches!(e, StreamEvent::TlsRecord { .. })).count();
        let mut t = Tracker::default();
        let side = |from_lo: bool, seq: u32, n: usize| Segment {
            from_lo,
            ..seg(seq, n, App::Tls)
        };
        // Change cipher spec, then an encrypted Finished, from each side in turn.
        let ccs_fin: Vec<u8> = [vec![20, 3, 3, 0, 1, 1], vec![22, 3, 3, 0, 2, 9, 9]].concat();
        let n = ccs_fin.len();
        assert_eq!(records(&t.segment(&side(true, 0, n), &ccs_fin).events), 2);
        // The client's application data before the server changed cipher is still told.
        let data = [23u8, 3, 3, 0, 1, 7];
        assert_eq!(records(&t.segment(&side(true, n as u32, 6), &data).events), 1);
        assert_eq!(records(&t.segment(&side(false, 0, n), &ccs_fin).events), 2);
        // Both sides are past the handshake now.
        let later = t.segment(&side(true, n as u32 + 6, 6), &data);
        assert_eq!(records(&later.events), 0);
        assert!(later.completes, "the capture-order parser still frames records");
        assert_eq!(records(&t.segment(&side(false, n as u32, 6), &data).events), 0);
        assert!(
            t.conns
                .values()
                .flatten()
                .flatten()
                .all(|d| matches!(d.ordered, Ordered::Done))
        );
    }

    #[test]
    fn dns_over_tcp_is_framed_by_its_length() {
        let mut t = Tracker::default();
        let stream = [0u8, 3, 7, 8, 9, 0, 1, 5];
        let a = t.segment(&seg(0, 4, App::Dns), &stream[..4]);
        assert!(a.events.is_empty());
        let b = t.segment(&seg(4, 4, App::Dns), &stream[4..]);
        assert_eq!(b.events, [StreamEvent::Dns(vec![7, 8, 9]), StreamEvent::Dns(vec![5])]);
    }
}
