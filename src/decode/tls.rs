//! tls: TLS handshake records (tls-parser): the SNI and version of a ClientHello or ServerHello,
//! over TCP and inside QUIC's CRYPTO frames.

use crate::decode::packet::Packet;

pub(crate) fn parse_tls(p: &mut Packet, b: &[u8]) {
    use tls_parser::TlsMessage;
    // Only handshake records carry the facts we keep.
    if b.len() < 6 || b[0] != 22 {
        return;
    }
    let msgs = match tls_parser::parse_tls_plaintext(b) {
        Ok((_, rec)) => rec.msg,
        // The record continues in the next segment: parse the part we have.
        Err(_) => match tls_parser::parse_tls_message_handshake(&b[5..]) {
            Ok((_, m)) => vec![m],
            Err(_) => return,
        },
    };
    for m in msgs {
        if let TlsMessage::Handshake(hs) = &m
            && let Some((sni, version)) = hello_facts(hs)
        {
            if sni.is_some() {
                p.tls_sni = sni;
            }
            p.tls_version = Some(version);
            return;
        }
    }
}

/// The SNI and the TLS version of a ClientHello (highest offered) or ServerHello (chosen); None
/// for other handshake messages. Shared by TLS over TCP and QUIC's CRYPTO frames.
pub(crate) fn hello_facts(hs: &tls_parser::TlsMessageHandshake) -> Option<(Option<String>, u16)> {
    use tls_parser::{TlsExtension, TlsMessageHandshake};
    let (version, ext) = match hs {
        TlsMessageHandshake::ClientHello(ch) => (ch.version.0, ch.ext),
        TlsMessageHandshake::ServerHello(sh) => (sh.version.0, sh.ext),
        _ => return None,
    };
    let mut sni = None;
    let mut best = version;
    if let Some(ext) = ext
        && let Ok((_, exts)) = tls_parser::parse_tls_extensions(ext)
    {
        for e in exts {
            match e {
                TlsExtension::SNI(names) => {
                    if let Some((_, name)) = names.first() {
                        sni = Some(String::from_utf8_lossy(name).into_owned());
                    }
                }
                TlsExtension::SupportedVersions(vs) => {
                    // Highest real version offered (GREASE values are 0x?a?a).
                    if let Some(v) = vs.iter().map(|v| v.0).filter(|v| v & 0x0f0f != 0x0a0a).max() {
                        best = best.max(v);
                    }
                }
                _ => {}
            }
        }
    }
    Some((sni, best))
}

/// `TLS 1.2`-style name of a TLS version number.
pub fn tls_version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        v => format!("0x{v:04x}"),
    }
}
