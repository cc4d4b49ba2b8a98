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
