//! http: HTTP/1.x request and response heads (httparse): method, host, target, status, and the
//! user of a Basic authorization (never its password).

use crate::decode::packet::Packet;

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
    let mut req = httparse::Request::new(&mut headers);
    // A partial parse still fills what it got through (method, path, early headers).
    let _ = req.parse(b);
    p.http_method = req.method.map(str::to_string);
    p.http_path = req.path.map(str::to_string);
    p.http_host = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("host"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .map(|s| s.trim().to_string());
    p.credential = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("authorization"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .and_then(basic_auth_user)
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
    use super::starts_request_line;

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
