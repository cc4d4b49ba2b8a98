//! tls_hello: what a TLS ClientHello and ServerHello say, read from one whole handshake message
//! (over TCP, or out of QUIC's CRYPTO frames). tls-parser reads the hellos' fixed parts; the
//! extensions are walked here in the order they were sent, since the fingerprints (JA3, JA4)
//! need every extension type, known to tls-parser or not, in order.

use tls_parser::{TlsMessage, TlsMessageHandshake};

use crate::decode::tls_names::is_grease;

/// A ClientHello.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientHello {
    /// The hello's own version field (0x0303 for TLS 1.3 as well).
    pub legacy_version: u16,
    pub session_id: Vec<u8>,
    /// Cipher suites, extension types, groups and point formats as sent (GREASE included).
    pub ciphers: Vec<u16>,
    pub extensions: Vec<u16>,
    pub sni: Option<String>,
    /// ALPN protocols offered, in order.
    pub alpn: Vec<Vec<u8>>,
    /// supported_versions, in order.
    pub versions: Vec<u16>,
    /// signature_algorithms, in order.
    pub signature_algorithms: Vec<u16>,
    pub groups: Vec<u16>,
    pub point_formats: Vec<u8>,
    /// A session ticket extension with a ticket in it.
    pub ticket: bool,
    /// A pre_shared_key extension (TLS 1.3 resumption).
    pub psk: bool,
}

impl ClientHello {
    /// The highest version offered (supported_versions, GREASE left out; else the hello's own).
    pub fn max_version(&self) -> u16 {
        self.versions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .max()
            .unwrap_or(self.legacy_version)
    }
}

/// A ServerHello (or HelloRetryRequest, which has its shape).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerHello {
    pub legacy_version: u16,
    pub random: Vec<u8>,
    pub session_id: Vec<u8>,
    pub cipher: u16,
    pub extensions: Vec<u16>,
    /// supported_versions: the version chosen (TLS 1.3).
    pub version: Option<u16>,
    /// key_share: the group chosen (TLS 1.3).
    pub group: Option<u16>,
    /// ALPN protocol chosen (TLS 1.2 and earlier: in TLS 1.3 it travels encrypted).
    pub alpn: Option<Vec<u8>>,
    /// The server accepted a pre-shared key (TLS 1.3 resumption).
    pub psk: bool,
}

impl ServerHello {
    /// The random a HelloRetryRequest carries (RFC 8446 section 4.1.3).
    pub fn is_retry_request(&self) -> bool {
        const HRR: [u8; 32] = [
            0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2,
            0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
        ];
        self.random == HRR
    }

    /// The version the server chose.
    pub fn chosen_version(&self) -> u16 {
        self.version.unwrap_or(self.legacy_version)
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The extensions block as (type, data) in order.
fn extensions(block: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(t), Some(n)) = (u16_at(block, at), u16_at(block, at + 2)) {
        let Some(data) = block.get(at + 4..at + 4 + n as usize) else {
            break;
        };
        out.push((t, data));
        at += 4 + n as usize;
    }
    out
}

/// A list of u16 behind a length prefix of `prefix` bytes.
fn u16_list(data: &[u8], prefix: usize) -> Vec<u16> {
    let body = data.get(prefix..).unwrap_or(&[]);
    body.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect()
}

/// ALPN's protocol name list.
fn alpn_list(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 2;
    while let Some(&n) = data.get(at) {
        let Some(p) = data.get(at + 1..at + 1 + n as usize) else {
            break;
        };
        out.push(p.to_vec());
        at += 1 + n as usize;
    }
    out
}

/// The first host name of a server_name extension.
fn sni(data: &[u8]) -> Option<String> {
    // list length (2), then entries: type (1), length (2), name.
    let mut at = 2;
    while let (Some(&kind), Some(n)) = (data.get(at), u16_at(data, at + 1)) {
        let name = data.get(at + 3..at + 3 + n as usize)?;
        if kind == 0 {
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        at += 3 + n as usize;
    }
    None
}

/// Read a ClientHello handshake message (type 1, with its 4-byte header).
pub fn client_hello(msg: &[u8]) -> Option<ClientHello> {
    let Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)))) =
        tls_parser::parse_tls_message_handshake(msg)
    else {
        return None;
    };
    let mut out = ClientHello {
        legacy_version: ch.version.0,
        session_id: ch.session_id.unwrap_or(&[]).to_vec(),
        ciphers: ch.ciphers.iter().map(|c| c.0).collect(),
        ..Default::default()
    };
    for (t, data) in extensions(ch.ext.unwrap_or(&[])) {
        out.extensions.push(t);
        match t {
            0 => out.sni = sni(data),
            10 => out.groups = u16_list(data, 2),
            11 => out.point_formats = data.get(1..).unwrap_or(&[]).to_vec(),
            13 => out.signature_algorithms = u16_list(data, 2),
            16 => out.alpn = alpn_list(data),
            35 => out.ticket = !data.is_empty(),
            41 => out.psk = true,
            43 => out.versions = u16_list(data, 1),
            _ => {}
        }
    }
    Some(out)
}

/// Read a ServerHello handshake message (type 2, with its 4-byte header).
pub fn server_hello(msg: &[u8]) -> Option<ServerHello> {
    // tls-parser reads a hello with version 0x7fxx (TLS 1.3 drafts) differently; the modern
    // layout is the one the captures hold.
    let body = msg.get(4..)?;
    if msg.first() != Some(&2) || body.len() < 38 {
        return None;
    }
    let legacy_version = u16_at(body, 0)?;
    let random = body.get(2..34)?.to_vec();
    let sid_len = *body.get(34)? as usize;
    let session_id = body.get(35..35 + sid_len)?.to_vec();
    let mut at = 35 + sid_len;
    let cipher = u16_at(body, at)?;
    at += 3; // cipher, compression method
    let mut out = ServerHello {
        legacy_version,
        random,
        session_id,
        cipher,
        ..Default::default()
    };
    if let Some(n) = u16_at(body, at) {
        let block = body.get(at + 2..at + 2 + n as usize).unwrap_or(&[]);
        for (t, data) in extensions(block) {
            out.extensions.push(t);
            match t {
                16 => out.alpn = alpn_list(data).into_iter().next(),
                41 => out.psk = true,
                43 => out.version = u16_at(data, 0),
                51 => out.group = u16_at(data, 0),
                _ => {}
            }
        }
    }
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ClientHello with GREASE, SNI, ALPN, supported_versions and signature algorithms.
    pub(crate) fn sample_client_hello() -> Vec<u8> {
        let mut ext = Vec::new();
        let mut push = |t: u16, data: &[u8]| {
            ext.extend_from_slice(&t.to_be_bytes());
            ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
            ext.extend_from_slice(data);
        };
        push(0x0a0a, &[]);
        push(
            0,
            &[
                0, 14, 0, 0, 11, b'e', b'x', b'a', b'm', b'p', b'l', b'e', b'.', b'o', b'r', b'g',
            ],
        );
        push(
            16,
            &[0, 12, 2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1'],
        );
        push(43, &[4, 0x03, 0x04, 0x03, 0x03]);
        push(13, &[0, 4, 0x04, 0x03, 0x08, 0x04]);
        push(10, &[0, 4, 0x0a, 0x0a, 0x00, 0x1d]);
        push(11, &[1, 0]);
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 6, 0x1a, 0x1a, 0x13, 0x01, 0xc0, 0x2f]);
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut msg = vec![1, 0, 0, 0];
        msg[1..4].copy_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        msg.extend_from_slice(&body);
        msg
    }

    #[test]
    fn a_client_hello_reads_whole() {
        let ch = client_hello(&sample_client_hello()).unwrap();
        assert_eq!(ch.ciphers, [0x1a1a, 0x1301, 0xc02f]);
        assert_eq!(ch.extensions, [0x0a0a, 0, 16, 43, 13, 10, 11]);
        assert_eq!(ch.sni.as_deref(), Some("example.org"));
        assert_eq!(ch.alpn, [b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert_eq!(
            (ch.max_version(), ch.signature_algorithms.as_slice()),
            (0x0304, &[0x0403, 0x0804][..])
        );
        assert_eq!(
            (ch.groups.as_slice(), ch.point_formats.as_slice()),
            (&[0x0a0a, 29][..], &[0][..])
        );
    }
}
