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

#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// Inside chunk data (plus its CRLF).
    Data(u64),
    /// After the last (zero) chunk: reading trailer lines until an empty one.
    Trailer,
}

/// A body's content coding being undone, only to count what it decodes to.
struct Inflate {
    gzip: bool,
    decoder: Option<Box<dyn std::io::Write + Send>>,
    out: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Inflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflate").field("gzip", &self.gzip).finish()
    }
}

/// Counts the bytes written to it.
struct Count(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl std::io::Write for Count {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(b.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Inflate {
    fn new(gzip: bool) -> Inflate {
        let out = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let sink = Count(out.clone());
        let decoder: Box<dyn std::io::Write + Send> = if gzip {
            Box::new(flate2::write::GzDecoder::new(sink))
        } else {
            Box::new(flate2::write::ZlibDecoder::new(sink))
        };
        Inflate {
            gzip,
            decoder: Some(decoder),
            out,
        }
    }

    /// Feed coded bytes; a coding error ends the decoding (what came out so far counts).
    fn feed(&mut self, b: &[u8]) {
        if let Some(d) = self.decoder.as_mut()
            && d.write_all(b).is_err()
        {
            self.decoder = None;
        }
    }

    fn decoded(mut self) -> u64 {
        if let Some(mut d) = self.decoder.take() {
            let _ = d.flush();
        }
        let _ = self.gzip;
        self.out.load(std::sync::atomic::Ordering::Relaxed)
    }
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
            ordered: Ordered::Open(Box::new(OrderedSide::new(None))),
            quiet: false,
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
            d.quiet = true;
            d.ordered = Ordered::Done;
        }
        let was_confirmed = d.compat.confirmed;
        let completes = step(&mut d.compat, s, data);
        let confirms = (d.compat.confirmed && !was_confirmed).then_some(match s.app {
            App::Http => Service::Http,
            _ => Service::Ssl,
        });
        if let Ordered::Closed(next) = d.ordered {
            // New bytes after a clean close (or a new SYN): a new stream.
            let newer = s.syn || next.is_none_or(|n| (s.seq.wrapping_sub(n) as i32) > 0);
            if newer {
                // It starts at this segment (the FIN took a sequence number of its own).
                d.ordered = Ordered::Open(Box::new(OrderedSide::new(if s.syn { None } else { Some(s.seq) })));
            }
        }
        if let Ordered::Open(o) = &mut d.ordered {
            step_ordered(o, s, data);
            if let Some(k) = o.framer.kept.as_deref_mut() {
                events.append(&mut k.events);
            }
            if s.fin && o.held.is_empty() && matches!(o.framer.mode, Mode::Boundary) {
                d.ordered = Ordered::Closed(o.framer.next_seq);
                if other.as_ref().is_some_and(|o| matches!(o.ordered, Ordered::Closed(_))) {
                    events.push(StreamEvent::Closed);
                }
            }
        }
        Segmented { completes, confirms }
    }
}

/// Feed the ordered parser: a segment ahead of a missing one waits (up to [`MAX_HELD`] bytes
/// per direction) until the gap fills; past that, the gap is given up on.
fn step_ordered(d: &mut OrderedSide, s: &Segment, data: &[u8]) {
    let f = &mut d.framer;
    let ahead = match (s.syn, f.next_seq) {
        (false, Some(next)) => s.seq.wrapping_sub(next) as i32,
        _ => 0,
    };
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

enum Step {
    Need,
    /// Bytes consumed, of which chunk data, and whether the body ended.
    Consumed(usize, u64, bool),
}

fn chunked_step(c: &mut Chunk, b: &[u8]) -> Step {
    match *c {
        Chunk::Size => match httparse::parse_chunk_size(b) {
            Ok(httparse::Status::Complete((n, size))) => {
                *c = if size == 0 {
                    Chunk::Trailer
                } else {
                    Chunk::Data(size + 2)
                };
                Step::Consumed(n, 0, false)
            }
            Ok(httparse::Status::Partial) => Step::Need,
            // A broken size line: treat the rest as the end of the body.
            Err(_) => Step::Consumed(b.len(), 0, true),
        },
        Chunk::Data(rem) => {
            let take = rem.min(b.len() as u64);
            // The last two bytes of each chunk are its CRLF, not data.
            let data = take.min(rem.saturating_sub(2));
            *c = if rem == take {
                Chunk::Size
            } else {
                Chunk::Data(rem - take)
            };
            Step::Consumed(take as usize, data, false)
        }
        Chunk::Trailer => match b.windows(2).position(|w| w == b"\r\n") {
            Some(0) => Step::Consumed(2, 0, true),
            Some(i) => Step::Consumed(i + 2, 0, false),
            None => Step::Need,
        },
    }
}

fn looks_like_http_start(b: &[u8]) -> bool {
    const STARTS: [&[u8]; 10] = [
        b"GET ",
        b"POST ",
        b"HEAD ",
        b"PUT ",
        b"DELETE ",
        b"OPTIONS ",
        b"CONNECT ",
        b"PATCH ",
        b"TRACE ",
        b"HTTP/",
    ];
    STARTS.iter().any(|s| {
        let n = s.len().min(b.len());
        b[..n] == s[..n]
    })
}

fn find_head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

enum Body {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// How the body after this request or response head is framed (RFC 9112 section 6.3), and its
/// content coding when gzip (true) or deflate (false). Read once per head, with no copies: every
/// HTTP message of the capture passes here twice (the in-order and the capture-order parser).
fn http_body(head: &[u8]) -> (Body, Option<bool>) {
    // Control bytes masked: a stray ESC must not hide the framing (see `http::masked`).
    let head = &*crate::decode::http::masked(head);
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let is_response = head.starts_with(b"HTTP/");
    let (parsed, status) = if is_response {
        let mut r = httparse::Response::new(&mut headers);
        let ok = r.parse(head).is_ok();
        (ok, r.code.unwrap_or(0))
    } else {
        let mut r = httparse::Request::new(&mut headers);
        (r.parse(head).is_ok(), 0)
    };
    if !parsed {
        return (Body::None, None);
    }
    // httparse fills the slots it used and leaves the rest empty.
    let hs = headers.iter().take_while(|h| !h.name.is_empty());
    let value = |name: &str| {
        hs.clone()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.trim_ascii())
    };
    let coding = match value("content-encoding") {
        Some(v) if v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip") => Some(true),
        Some(v) if v.eq_ignore_ascii_case(b"deflate") => Some(false),
        _ => None,
    };
    if is_response && ((100..200).contains(&status) || status == 204 || status == 304) {
        return (Body::None, coding);
    }
    let chunked = value("transfer-encoding").is_some_and(|v| v.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked")));
    if chunked {
        return (Body::Chunked, coding);
    }
    let length = value("content-length")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = match length {
        Some(0) => Body::None,
        Some(n) => Body::Length(n),
        None if is_response => Body::UntilClose,
        None => Body::None,
    };
    (body, coding)
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
