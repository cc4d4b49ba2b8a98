//! http: HTTP/1.x request and response heads (httparse): method, host, target, status, and the
//! user of a Basic authorization (never its password).

use std::borrow::Cow;

use crate::decode::packet::Packet;

/// httparse refuses a head with a control byte (ESC, NUL, ...) in its request line or a header
/// value, and then gives nothing after it: one ESC in a URI lost the host, the path and the Basic
/// user, which tshark decodes. Heads are parsed with such bytes masked (same length, so every
/// field sits where it sits in the original); the facts are then taken from the original bytes,
/// odd ones included (they are escaped where they are shown).
pub(crate) fn masked(b: &[u8]) -> Cow<'_, [u8]> {
    let odd = |c: &u8| (*c < 0x20 && !matches!(c, b'\t' | b'\r' | b'\n')) || *c == 0x7f;
    if !b.iter().any(odd) {
        return Cow::Borrowed(b);
    }
    Cow::Owned(b.iter().map(|c| if odd(c) { b'_' } else { *c }).collect())
}

/// The original bytes of `part`, a slice of `masked_buf` (the masked copy of `original`).
fn original<'a>(original: &'a [u8], masked_buf: &[u8], part: &[u8]) -> &'a [u8] {
    let at = (part.as_ptr() as usize).saturating_sub(masked_buf.as_ptr() as usize);
    original.get(at..at + part.len()).unwrap_or(&[])
}

pub(crate) fn parse_http(p: &mut Packet, b: &[u8]) {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    if b.starts_with(b"HTTP/") {
        let mut resp = httparse::Response::new(&mut headers);
        let _ = resp.parse(b);
        p.http_status = resp.code;
        return;
    }
    // A segment in the middle of a body can start with any text: only a request line makes
    // request facts (a body segment once gave methods such as "ody.className").
    if !starts_request_line(b) {
        return;
    }
    let m = masked(b);
    let mut req = httparse::Request::new(&mut headers);
    // A partial parse still fills what it got through (method, path, early headers).
    let _ = req.parse(&m);
    let text = |part: &[u8]| String::from_utf8_lossy(original(b, &m, part)).into_owned();
    p.http_method = req.method.map(str::to_string);
    p.http_path = req.path.map(|path| text(path.as_bytes()));
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| text(h.value))
    };
    p.http_host = header("host").map(|s| s.trim().to_string());
    p.credential = header("authorization")
        .and_then(|v| basic_auth_user(&v))
        .map(|user| format!("HTTP Basic user={user}"));
}

/// Methods a request line may carry when the segment ends before its version.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE",
];

/// Whether `b` starts with `METHOD SP target SP HTTP/x.y`: the method an upper-case token, the
/// version required when the line ends inside the segment, a known method when it does not.
pub(crate) fn starts_request_line(b: &[u8]) -> bool {
    let line_end = b.iter().position(|&c| c == b'\n');
    let line = &b[..line_end.unwrap_or(b.len())];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&c| c == b' ');
    let method = parts.next().unwrap_or_default();
    let method_ok = (1..=20).contains(&method.len())
        && method
            .iter()
            .all(|c| c.is_ascii_uppercase() || *c == b'-' || *c == b'_');
    if !method_ok || parts.next().is_none_or(|target| target.is_empty()) {
        return false;
    }
    match line_end {
        Some(_) => parts.next().is_some_and(|v| v.starts_with(b"HTTP/")),
        None => KNOWN_METHODS.iter().any(|m| m.as_bytes() == method),
    }
}

/// The user name of an `Authorization: Basic ...` value (the password is not kept).
fn basic_auth_user(value: &str) -> Option<String> {
    use base64::Engine as _;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
    let text = String::from_utf8_lossy(&raw);
    Some(text.split_once(':').map(|(u, _)| u).unwrap_or(&text).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One ESC byte in the URI made httparse refuse the whole head, and the host, path and Basic
    /// user were lost; tshark reads them. They are kept, the ESC with them (escaped on output).
    #[test]
    fn a_control_byte_in_the_uri_keeps_the_request_facts() {
        let mut p = Packet::default();
        // "alice:secret"
        parse_http(
            &mut p,
            b"GET /a\x1b[2Jb?q=1 HTTP/1.1\r\nHost: www.example.com\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n",
        );
        assert_eq!(p.http_method.as_deref(), Some("GET"));
        assert_eq!(p.http_path.as_deref(), Some("/a\u{1b}[2Jb?q=1"));
        assert_eq!(p.http_host.as_deref(), Some("www.example.com"));
        assert_eq!(p.credential.as_deref(), Some("HTTP Basic user=alice"));
        // A NUL in a header value likewise.
        let mut p = Packet::default();
        parse_http(&mut p, b"GET / HTTP/1.1\r\nUser-Agent: x\x00y\r\nHost: h\r\n\r\n");
        assert_eq!(p.http_host.as_deref(), Some("h"));
    }

    #[test]
    fn only_request_lines_are_requests() {
        assert!(starts_request_line(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert!(starts_request_line(b"PROPFIND /x HTTP/1.1\r\n"));
        assert!(
            starts_request_line(b"POST /upload?a=b"),
            "a request line cut by the segment end"
        );
        assert!(
            !starts_request_line(b"PROPFIND /x"),
            "an unknown method needs its version"
        );
        assert!(!starts_request_line(b"ody.className = 'x';\n"));
        assert!(!starts_request_line(b"H"));
        assert!(!starts_request_line(b"px solid\r\n"));
        assert!(!starts_request_line(b"GET  HTTP/1.1\r\n"), "no target");
        assert!(!starts_request_line(b"GET /a b c\r\n"), "no version");
    }
}
