//! http_pairing: HTTP/1.x messages of TCP streams, in capture order -> HTTP transactions, as
//! Zeek's http.log makes them (base/protocols/http/main.zeek): each request opens a transaction
//! (`trans_depth` counts them per connection; pipelined ones queue), the next final response
//! (not a 1xx) closes the oldest open one, a response without a request is a transaction of its
//! own, and the open ones at the end are rows too. Request facts come only from the client's
//! messages, response facts only from the server's.
//!
//! Heads are read line by line here rather than by httparse: httparse refuses a whole head for
//! one control byte in a URI or a header, and such requests (crafted ones included) must keep
//! their host, path and user.

use std::borrow::Cow;

use base64::Engine as _;

use crate::decode::packet::FlowMap;
use crate::decode::stream::StreamEvent;
use crate::table::interner::Interner;
use crate::table::messages::Seen;
use crate::table::tx_conn::TxConn;

/// One transaction, as http.log writes it (plus the frames and content types). Texts are codes
/// in the shared text dictionary, made as the heads are read: as strings, each of ~100k
/// transactions of the 10M capture made and freed ten of them before the table coded them.
#[derive(Debug, Clone, Default)]
pub struct HttpTransaction {
    /// When the first message was seen, its flow, its client and server.
    pub conn: TxConn,
    pub trans_depth: u32,
    pub method: Option<u32>,
    pub host: Option<u32>,
    pub uri: Option<u32>,
    pub referrer: Option<u32>,
    pub version: Option<u32>,
    pub user_agent: Option<u32>,
    pub origin: Option<u32>,
    pub request_body_len: u64,
    pub response_body_len: u64,
    pub status_code: Option<u16>,
    pub status_msg: Option<u32>,
    pub info_code: Option<u16>,
    pub info_msg: Option<u32>,
    pub username: Option<u32>,
    /// Proxy headers seen ("VIA -> 1.1 proxy", as Zeek writes them).
    pub proxied: Vec<String>,
    pub request_content_type: Option<u32>,
    pub response_content_type: Option<u32>,
    pub request_frame: Option<u32>,
    pub response_frame: Option<u32>,
}

/// Headers whose presence says a proxy was involved (Zeek's `HTTP::proxy_headers`).
const PROXY_HEADERS: [&str; 7] = [
    "FORWARDED",
    "X-FORWARDED-FOR",
    "X-FORWARDED-FROM",
    "CLIENT-IP",
    "VIA",
    "XROXY-CONNECTION",
    "PROXY-CONNECTION",
];

/// A head split into its start line's three parts and its headers, borrowed from the head's
/// bytes where they are UTF-8 (names as sent: compare them without case).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Head<'a> {
    pub(crate) start: [Cow<'a, str>; 3],
    pub(crate) headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// Bytes as text: UTF-8 as is, any other byte as `\xHH`.
fn text(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let mut out = String::with_capacity(b.len() + 8);
            for chunk in b.utf8_chunks() {
                out.push_str(chunk.valid());
                for x in chunk.invalid() {
                    out.push_str(&format!("\\x{x:02x}"));
                }
            }
            Cow::Owned(out)
        }
    }
}

/// Text without the white space around it.
fn trimmed(t: Cow<'_, str>) -> Cow<'_, str> {
    match t {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
        Cow::Owned(s) if s.trim().len() == s.len() => Cow::Owned(s),
        Cow::Owned(s) => Cow::Owned(s.trim().to_string()),
    }
}

/// Read a head leniently: lines end at LF (an optional CR before it dropped), the start line
/// splits at its first two spaces, a header at its first colon (a line without one is skipped,
/// a line starting with white space continues the header before it).
pub(crate) fn read_head(head: &[u8]) -> Head<'_> {
    let mut lines = head.split(|&c| c == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let mut h = Head::default();
    if let Some(first) = lines.next() {
        let mut parts = first.splitn(3, |&c| c == b' ');
        for slot in h.start.iter_mut() {
            *slot = parts.next().map(text).unwrap_or_default();
        }
    }
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some((_, v)) = h.headers.last_mut() {
                let v = v.to_mut();
                v.push(' ');
                v.push_str(text(line).trim());
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue;
        };
        h.headers
            .push((trimmed(text(&line[..colon])), trimmed(text(&line[colon + 1..]))));
    }
    h
}

/// `%XX` sequences decoded (Zeek logs the unescaped URI).
fn unescape(uri: &str) -> String {
    if !uri.contains('%') {
        return uri.to_string();
    }
    let b = uri.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), b.get(i + 2).and_then(|&c| hex(c)))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    text(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// The user of a Basic authorization value (the password is never kept).
fn basic_user(value: &str) -> Option<String> {
    let rest = value.strip_prefix(|c: char| c == 'b' || c == 'B')?;
    if rest.len() < 5 || !rest[..4].eq_ignore_ascii_case("asic") {
        return None;
    }
    let token = rest[4..].trim_start_matches([' ', '\t']);
    if token.len() == rest.len() - 4 {
        // "Basic" must be followed by white space.
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()
        .map(|raw| text(&raw).into_owned());
    Some(match decoded.as_deref().and_then(|up| up.split_once(':')) {
        Some((user, _)) => user.to_string(),
        None => format!("<problem-decoding> ({value})"),
    })
}

/// A connection's open transactions (Zeek's `http_state`).
#[derive(Default)]
struct FlowState {
    trans_depth: u32,
    current_request: u32,
    current_response: u32,
    /// Open transactions by number, in order (a short list: pipelining rarely queues more
    /// than a few; a map's node held room for eleven, 4 KB per connection).
    pending: Pending,
    /// Which message each direction's next body belongs to (client, server).
    body_of: [Option<u32>; 2],
    /// The client's address code and port (the first request's sender, or the first reply's
    /// receiver).
    client: Option<(Option<u32>, Option<u16>)>,
}

/// Open transactions by number, kept in number order.
#[derive(Default)]
struct Pending(Vec<(u32, HttpTransaction)>);

impl Pending {
    fn get(&self, n: u32) -> Option<&HttpTransaction> {
        self.0.iter().find(|(k, _)| *k == n).map(|(_, t)| t)
    }

    fn get_mut(&mut self, n: u32) -> Option<&mut HttpTransaction> {
        self.0.iter_mut().find(|(k, _)| *k == n).map(|(_, t)| t)
    }

    fn remove(&mut self, n: u32) -> Option<HttpTransaction> {
        let i = self.0.iter().position(|(k, _)| *k == n)?;
        Some(self.0.remove(i).1)
    }

    /// The transaction numbered `n`, put in (in order) as `make` makes it if there is none.
    fn get_or_insert_with(&mut self, n: u32, make: impl FnOnce() -> HttpTransaction) -> &mut HttpTransaction {
        let i = match self.0.iter().position(|(k, _)| *k >= n) {
            Some(i) if self.0[i].0 == n => i,
            Some(i) => {
                self.0.insert(i, (n, make()));
                i
            }
            None => {
                self.0.push((n, make()));
                self.0.len() - 1
            }
        };
        &mut self.0[i].1
    }
}

/// Pairs HTTP messages fed in capture order into transactions.
#[derive(Default)]
pub struct HttpPairing {
    flows: FlowMap<u64, FlowState>,
    done: Vec<HttpTransaction>,
}

impl HttpPairing {
    /// Feed one message of a flow's stream (in capture order); its texts are coded in `it`.
    pub fn event(&mut self, seen: &Seen, event: &StreamEvent, it: &Interner) {
        let st = self.flows.entry(seen.flow_id).or_default();
        match event {
            StreamEvent::HttpHead(head) => {
                let h = read_head(head);
                let is_reply = h.start[0].starts_with("HTTP/");
                st.client.get_or_insert(if is_reply {
                    (seen.dst_ip, seen.dst_port)
                } else {
                    (seen.src_ip, seen.src_port)
                });
                if is_reply {
                    reply(st, seen, &h, it);
                } else {
                    request(st, seen, &h, it);
                }
            }
            StreamEvent::HttpBodyEnd(len) => {
                // The body follows the last head its sender sent.
                let from_client = st.client == Some((seen.src_ip, seen.src_port));
                let side = usize::from(!from_client);
                let Some(n) = st.body_of[side].take() else { return };
                if let Some(t) = st.pending.get_mut(n) {
                    if from_client {
                        t.request_body_len = *len;
                    } else {
                        t.response_body_len = *len;
                        // http_message_done: a final reply completes its transaction.
                        if !t.status_code.is_some_and(|c| (100..200).contains(&c))
                            && let Some(t) = st.pending.remove(n)
                        {
                            self.done.push(t);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// The connection ended: its open transactions are done (as Zeek logs them when the
    /// connection goes) and its state goes.
    pub fn close(&mut self, flow_id: u64) {
        if let Some(st) = self.flows.remove(&flow_id) {
            self.done
                .extend(st.pending.0.into_iter().filter(|(n, _)| *n != 0).map(|(_, t)| t));
        }
    }

    /// Transactions completed so far, drained: the list keeps its room for the next chunk's
    /// (taken whole, every chunk grew a new one, moving the rows at each step).
    pub fn drain_done(&mut self) -> std::vec::Drain<'_, HttpTransaction> {
        self.done.drain(..)
    }

    /// Every transaction still open, as Zeek logs them when the connection ends, after the
    /// completed ones.
    pub fn finish_all(mut self) -> Vec<HttpTransaction> {
        let mut out = std::mem::take(&mut self.done);
        for (_, st) in self.flows.drain() {
            out.extend(st.pending.0.into_iter().filter(|(n, _)| *n != 0).map(|(_, t)| t));
        }
        out
    }
}

/// A new transaction on a connection whose transactions so far number `depth`.
fn new_transaction(depth: &mut u32, seen: &Seen, from_client: bool) -> HttpTransaction {
    *depth += 1;
    HttpTransaction {
        conn: TxConn::at(seen, from_client),
        trans_depth: *depth,
        ..Default::default()
    }
}

/// `http_request` and the request's headers.
fn request(st: &mut FlowState, seen: &Seen, h: &Head, it: &Interner) {
    if st.current_request < st.current_response {
        st.current_request = st.current_response;
    }
    st.current_request += 1;
    let n = st.current_request;
    // The depth counts on even when the transaction is there already (as it always did here).
    let made = new_transaction(&mut st.trans_depth, seen, true);
    let t = st.pending.get_or_insert_with(n, || made);
    t.method = Some(it.text(&h.start[0]));
    t.uri = Some(it.text(&unescape(&h.start[1])));
    t.request_frame.get_or_insert(seen.frame);
    for (name, value) in &h.headers {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        let code = || Some(it.text(value));
        if is("REFERER") {
            t.referrer = code();
        } else if is("HOST") {
            t.host = code();
        } else if is("ORIGIN") {
            t.origin = code();
        } else if is("USER-AGENT") {
            t.user_agent = code();
        } else if is("CONTENT-TYPE") {
            t.request_content_type = code();
        } else if is("AUTHORIZATION") || is("PROXY-AUTHORIZATION") {
            if let Some(user) = basic_user(value) {
                t.username = Some(it.text(&user));
            }
        } else if let Some(p) = PROXY_HEADERS.iter().find(|p| is(p)) {
            t.proxied.push(format!("{p} -> {value}"));
        }
    }
    st.body_of[0] = Some(n);
}

/// `http_reply` and the reply's headers.
fn reply(st: &mut FlowState, seen: &Seen, h: &Head, it: &Interner) {
    let informational = |t: &HttpTransaction| t.status_code.is_some_and(|c| (100..200).contains(&c));
    match st.pending.get(st.current_response) {
        Some(t) if t.status_code.is_none() || informational(t) => {}
        _ => st.current_response += 1,
    }
    let n = st.current_response;
    let t = st
        .pending
        .get_or_insert_with(n, || new_transaction(&mut st.trans_depth, seen, false));
    let code = h.start[1].trim().parse::<u16>().ok();
    t.status_code = code;
    t.status_msg = Some(it.text(&h.start[2]));
    t.version = h.start[0].strip_prefix("HTTP/").map(|v| it.text(v));
    if code.is_some_and(|c| (100..200).contains(&c)) {
        t.info_code = code;
        t.info_msg = t.status_msg;
    }
    t.response_frame = Some(seen.frame);
    if let Some((_, v)) = h.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("CONTENT-TYPE")) {
        t.response_content_type = Some(it.text(v));
    }
    st.body_of[1] = Some(n);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text a code stands for.
    fn txt(code: Option<u32>) -> Option<String> {
        code.and_then(|c| crate::table::schema::text_mapping().cat_to_str(c).map(str::to_string))
    }

    fn seen(client: bool, frame: u32) -> Seen {
        Seen {
            ts: i64::from(frame),
            frame,
            flow_id: 1,
            src_ip: Some(if client { 1 } else { 2 }),
            src_port: Some(if client { 40000 } else { 80 }),
            dst_ip: Some(if client { 2 } else { 1 }),
            dst_port: Some(if client { 80 } else { 40000 }),
            ..Default::default()
        }
    }

    fn head(s: &str) -> StreamEvent {
        StreamEvent::HttpHead(s.as_bytes().to_vec())
    }

    /// When the connection ends, a request still waiting for its reply is logged then (as
    /// Zeek logs it at connection_state_remove) and the connection's state goes; a request on
    /// the same flow after that starts at depth 1 again, as a new connection does.
    #[test]
    fn closing_logs_open_requests_and_forgets_the_connection() {
        let mut p = HttpPairing::default();
        let it = Interner::default();
        p.event(&seen(true, 1), &head("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"), &it);
        p.event(&seen(true, 1), &StreamEvent::HttpBodyEnd(0), &it);
        assert!(p.drain_done().collect::<Vec<_>>().is_empty());
        p.close(1);
        let done = p.drain_done().collect::<Vec<_>>();
        assert_eq!(done.len(), 1);
        assert_eq!(txt(done[0].uri).as_deref(), Some("/a"));
        assert_eq!(done[0].status_code, None);
        assert!(p.flows.is_empty());
        p.close(1);
        assert!(p.drain_done().collect::<Vec<_>>().is_empty());
        p.event(&seen(true, 7), &head("GET /b HTTP/1.1\r\nHost: x\r\n\r\n"), &it);
        let rows = p.finish_all();
        assert_eq!(rows.len(), 1);
        assert_eq!((txt(rows[0].uri).as_deref(), rows[0].trans_depth), (Some("/b"), 1));
    }

    #[test]
    fn pipelined_requests_pair_with_replies_in_order() {
        let mut p = HttpPairing::default();
        let it = Interner::default();
        p.event(&seen(true, 1), &head("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"), &it);
        p.event(&seen(true, 1), &StreamEvent::HttpBodyEnd(0), &it);
        p.event(
            &seen(true, 2),
            &head("GET /b%20c HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n"),
            &it,
        );
        p.event(&seen(true, 2), &StreamEvent::HttpBodyEnd(0), &it);
        p.event(&seen(false, 3), &head("HTTP/1.1 100 Continue\r\n\r\n"), &it);
        p.event(&seen(false, 3), &StreamEvent::HttpBodyEnd(0), &it);
        p.event(
            &seen(false, 4),
            &head("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"),
            &it,
        );
        p.event(&seen(false, 4), &StreamEvent::HttpBodyEnd(12), &it);
        p.event(&seen(false, 5), &head("HTTP/1.0 404 Not Found\r\n\r\n"), &it);
        p.event(&seen(false, 5), &StreamEvent::HttpBodyEnd(3), &it);
        let rows = p.finish_all();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (txt(rows[0].uri).as_deref(), rows[0].status_code),
            (Some("/a"), Some(200))
        );
        assert_eq!((rows[0].info_code, rows[0].response_body_len), (Some(100), 12));
        assert_eq!(txt(rows[0].response_content_type).as_deref(), Some("text/html"));
        assert_eq!((txt(rows[1].uri).as_deref(), rows[1].trans_depth), (Some("/b c"), 2));
        assert_eq!(
            (rows[1].status_code, txt(rows[1].version).as_deref()),
            (Some(404), Some("1.0"))
        );
    }

    #[test]
    fn a_control_byte_in_the_uri_keeps_host_path_and_user() {
        let h =
            read_head(b"GET /a\x1bb HTTP/1.1\r\nHost: example.org\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n");
        assert_eq!(h.start[1], "/a\u{1b}b");
        let mut p = HttpPairing::default();
        let it = Interner::default();
        p.event(
            &seen(true, 1),
            &StreamEvent::HttpHead(
                b"GET /a\x1bb HTTP/1.1\r\nHost: example.org\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n".to_vec(),
            ),
            &it,
        );
        let t = &p.finish_all()[0];
        assert_eq!(txt(t.host).as_deref(), Some("example.org"));
        assert_eq!(
            txt(t.username).as_deref(),
            Some("alice"),
            "the user, never the password"
        );
    }

    #[test]
    fn a_reply_without_a_request_is_its_own_transaction() {
        let mut p = HttpPairing::default();
        let it = Interner::default();
        p.event(&seen(false, 1), &head("HTTP/1.1 200 OK\r\n\r\n"), &it);
        p.event(&seen(false, 1), &StreamEvent::HttpBodyEnd(5), &it);
        let rows = p.finish_all();
        assert_eq!(rows.len(), 1);
        assert_eq!((txt(rows[0].method).as_deref(), rows[0].status_code), (None, Some(200)));
        assert_eq!(rows[0].conn.client_port, Some(40000));
    }
}
