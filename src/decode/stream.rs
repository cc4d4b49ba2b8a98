//! stream: follow TCP byte streams to find the frame that completes each HTTP message or TLS
//! record. tshark reassembles these PDUs and names `http`/`tls` in a frame's protocol stack only on
//! the frame where one completes; segments in the middle of a PDU, retransmissions and copies of a
//! segment seen on another VLAN carry plain `tcp`. The decoder cannot know this packet by packet,
//! so the loader runs this tracker over each flow's segments in file order.

use crate::decode::packet::FlowMap;
use crate::decode::protocol::App;
use crate::decode::service::Service;

/// One TCP segment of an HTTP or TLS flow, as the tracker needs it.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub flow: u64,
    /// Which side sent it (flows are bidirectional; each direction is its own byte stream).
    pub from_lo: bool,
    pub seq: u32,
    pub syn: bool,
    pub fin: bool,
    pub app: App,
    /// Payload bytes on the wire (the captured bytes may be fewer).
    pub wire_len: u32,
}

/// Where a stream's parser stands.
#[derive(Debug, Clone)]
enum Mode {
    /// At a PDU boundary; `pending` holds the start of a PDU whose header is not complete yet.
    Boundary,
    /// Inside a PDU: this many bytes are still to come.
    Skip(u64),
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

#[derive(Debug)]
struct Dir {
    next_seq: Option<u32>,
    mode: Mode,
    pending: Vec<u8>,
    /// The protocol was confirmed in this direction (a request head, a hello).
    confirmed: bool,
}

impl Default for Dir {
    fn default() -> Self {
        Dir {
            next_seq: None,
            mode: Mode::Boundary,
            pending: Vec::new(),
            confirmed: false,
        }
    }
}

/// What one segment did: completed a message or record (tshark then names the application on
/// its frame), and whether it confirmed the protocol (an HTTP request head, a TLS hello).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Segmented {
    pub completes: bool,
    pub confirms: Option<Service>,
}

/// Longest header we wait for before giving up on a stream's framing.
const MAX_PENDING: usize = 64 * 1024;

/// Per-direction stream state over a whole capture.
#[derive(Default)]
pub struct Tracker {
    dirs: FlowMap<(u64, bool), Dir>,
}

impl Tracker {
    /// Feed one segment (with its captured payload).
    pub fn segment(&mut self, s: &Segment, data: &[u8]) -> Segmented {
        let d = self.dirs.entry((s.flow, s.from_lo)).or_default();
        let was_confirmed = d.confirmed;
        let completes = step(d, s, data);
        let confirms = (d.confirmed && !was_confirmed).then_some(match s.app {
            App::Http => Service::Http,
            _ => Service::Ssl,
        });
        Segmented { completes, confirms }
    }
}

/// [`Tracker::segment`] for one direction's state: true when a PDU completes in the segment.
fn step(d: &mut Dir, s: &Segment, data: &[u8]) -> bool {
    if s.syn {
        // A repeated SYN (retransmitted, or the same handshake seen on another VLAN) must not
        // rewind the stream; only a SYN beyond what we have seen starts a new one.
        let fresh = d
            .next_seq
            .is_none_or(|n| (s.seq.wrapping_add(1).wrapping_sub(n) as i32) > 0);
        if fresh {
            d.next_seq = Some(s.seq.wrapping_add(1).wrapping_add(s.wire_len));
            d.mode = Mode::Boundary;
            d.pending.clear();
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
            let overlap = (-ahead) as u32;
            if overlap >= len {
                return s.fin && matches!(d.mode, Mode::UntilClose) && close(d);
            }
            skip = overlap;
        } else if ahead > 0 {
            // Bytes are missing: the framing is lost; start again at this segment.
            d.mode = Mode::Boundary;
            d.pending.clear();
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

fn close(d: &mut Dir) -> bool {
    d.mode = Mode::Boundary;
    true
}

/// Advance over bytes we do not have.
fn advance_blind(d: &mut Dir, n: u64) -> bool {
    match &mut d.mode {
        Mode::Skip(rem) => {
            if n >= *rem {
                d.mode = Mode::Boundary;
                true
            } else {
                *rem -= n;
                false
            }
        }
        Mode::UntilClose => false,
        _ => {
            // Cannot frame what we cannot see.
            d.mode = Mode::Boundary;
            d.pending.clear();
            false
        }
    }
}

/// Run the parser over new stream bytes; true when at least one PDU completes.
fn feed(d: &mut Dir, app: App, input: &[u8]) -> bool {
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
                b = &b[take as usize..];
                if *rem == 0 {
                    d.mode = Mode::Boundary;
                    done = true;
                }
            }
            Mode::UntilClose => return done,
            Mode::Chunked(c) => match chunked_step(c, b) {
                Step::Need => {
                    stash(d, b);
                    return done;
                }
                Step::Consumed(n, finished) => {
                    b = &b[n..];
                    if finished {
                        d.mode = Mode::Boundary;
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
                        let n = 5 + u16::from_be_bytes([b[3], b[4]]) as u64;
                        d.mode = Mode::Skip(n);
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
                    let body = http_body(&b[..head_len]);
                    // A request head confirms HTTP.
                    if !b.starts_with(b"HTTP/") {
                        d.confirmed = true;
                    }
                    b = &b[head_len..];
                    match body {
                        Body::None => done = true,
                        Body::Length(n) => d.mode = Mode::Skip(n),
                        Body::Chunked => d.mode = Mode::Chunked(Chunk::Size),
                        Body::UntilClose => d.mode = Mode::UntilClose,
                    }
                }
                _ => return true,
            },
        }
    }
    done
}

fn stash(d: &mut Dir, b: &[u8]) {
    if d.pending.len() + b.len() > MAX_PENDING {
        d.pending.clear();
        d.mode = Mode::Boundary;
    } else {
        d.pending.extend_from_slice(b);
    }
}

enum Step {
    Need,
    Consumed(usize, bool),
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
                Step::Consumed(n, false)
            }
            Ok(httparse::Status::Partial) => Step::Need,
            // A broken size line: treat the rest as the end of the body.
            Err(_) => Step::Consumed(b.len(), true),
        },
        Chunk::Data(rem) => {
            let take = rem.min(b.len() as u64);
            *c = if rem == take {
                Chunk::Size
            } else {
                Chunk::Data(rem - take)
            };
            Step::Consumed(take as usize, false)
        }
        Chunk::Trailer => match b.windows(2).position(|w| w == b"\r\n") {
            Some(0) => Step::Consumed(2, true),
            Some(i) => Step::Consumed(i + 2, false),
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

/// How the body after this request or response head is framed (RFC 9112 section 6.3).
fn http_body(head: &[u8]) -> Body {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let is_response = head.starts_with(b"HTTP/");
    let hs: &[httparse::Header<'_>];
    let mut status = 0u16;
    let mut resp_holder;
    let mut req_holder;
    if is_response {
        resp_holder = httparse::Response::new(&mut headers);
        if resp_holder.parse(head).is_err() {
            return Body::None;
        }
        status = resp_holder.code.unwrap_or(0);
        hs = resp_holder.headers;
    } else {
        req_holder = httparse::Request::new(&mut headers);
        if req_holder.parse(head).is_err() {
            return Body::None;
        }
        hs = req_holder.headers;
    }
    if is_response && ((100..200).contains(&status) || status == 204 || status == 304) {
        return Body::None;
    }
    let value = |name: &str| {
        hs.iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
    };
    if value("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        return Body::Chunked;
    }
    if let Some(n) = value("content-length").and_then(|v| v.parse::<u64>().ok()) {
        return if n == 0 { Body::None } else { Body::Length(n) };
    }
    if is_response { Body::UntilClose } else { Body::None }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Tracker {
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
            app,
            wire_len: len as u32,
        }
    }

    #[test]
    fn http_response_completes_on_its_last_segment() {
        let mut t = Tracker::default();
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345";
        assert!(!t.segment_done(&seg(1, head.len(), App::Http), head));
        assert!(t.segment_done(&seg(1 + head.len() as u32, 5, App::Http), b"67890"));
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
        assert!(t.segment_done(&seg(a.len() as u32, b.len(), App::Http), b));
    }
}
