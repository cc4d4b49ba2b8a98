//! quic: read the TLS handshake inside QUIC v1 Initial packets (RFC 9001 section 5). Initial
//! packets are encrypted with keys anyone can derive from the client's first Destination
//! Connection ID, so the ClientHello (with its SNI) and the ServerHello can be read, as tshark
//! and Zeek do. The server's Initials use the client's DCID, so the loader follows each flow
//! in file order: [`Tracker::packet`] is fed the UDP payloads of QUIC long-header Initials.

use std::collections::BTreeMap;

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;

use crate::decode::packet::FlowMap;

const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f,
    0x0a,
];

/// Is this UDP payload a QUIC v1 long-header Initial packet?
pub fn is_initial_v1(p: &[u8]) -> bool {
    p.len() >= 7 && p[0] & 0xb0 == 0x80 && p[0] & 0x40 != 0 && p[1..5] == [0, 0, 0, 1] && (p[0] >> 4) & 0x03 == 0
}

fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let first = *b.get(*at)?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(*at..*at + len)?;
    let mut v = (first & 0x3f) as u64;
    for x in &bytes[1..] {
        v = (v << 8) | *x as u64;
    }
    *at += len;
    Some(v)
}

/// The fields of an Initial's long header.
struct Header {
    /// Offset of the (protected) packet number.
    pn_at: usize,
    /// End of this packet inside the datagram (Length field).
    end: usize,
}

fn first_dcid(p: &[u8]) -> Option<&[u8]> {
    if !is_initial_v1(p) {
        return None;
    }
    let dlen = *p.get(5)? as usize;
    p.get(6..6 + dlen)
}

fn header(p: &[u8]) -> Option<Header> {
    if !is_initial_v1(p) {
        return None;
    }
    let mut at = 5;
    let dlen = *p.get(at)? as usize;
    at += 1;
    p.get(at..at + dlen)?;
    at += dlen;
    let slen = *p.get(at)? as usize;
    at += 1 + slen;
    let token = varint(p, &mut at)? as usize;
    at += token;
    let length = varint(p, &mut at)? as usize;
    let end = at.checked_add(length)?;
    if end > p.len() {
        return None; // cut by the snap length: cannot be decrypted
    }
    Some(Header { pn_at: at, end })
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label (RFC 8446 section 7.1) with an empty context.
fn expand_label(prk: &hkdf::Prk, label: &str, len: usize) -> Option<Vec<u8>> {
    let full = format!("tls13 {label}");
    let info = [
        &(len as u16).to_be_bytes()[..],
        &[full.len() as u8],
        full.as_bytes(),
        &[0u8],
    ];
    let mut out = vec![0u8; len];
    prk.expand(&info, Len(len)).ok()?.fill(&mut out).ok()?;
    Some(out)
}

/// Decrypt one Initial packet (the first in the datagram) with the keys of `dcid`; `server`
/// picks the server's keys. Returns the plaintext frames.
fn open(p: &[u8], dcid: &[u8], server: bool) -> Option<Vec<u8>> {
    let h = header(p)?;
    let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, &SALT_V1).extract(dcid);
    let secret = expand_label(&initial, if server { "server in" } else { "client in" }, 32)?;
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
    let key = expand_label(&prk, "quic key", 16)?;
    let iv = expand_label(&prk, "quic iv", 12)?;
    let hp = expand_label(&prk, "quic hp", 16)?;
    let sample = p.get(h.pn_at + 4..h.pn_at + 20)?;
    let mask = aead::quic::HeaderProtectionKey::new(&aead::quic::AES_128, &hp)
        .ok()?
        .new_mask(sample)
        .ok()?;
    let first = p[0] ^ (mask[0] & 0x0f);
    let pn_len = (first & 0x03) as usize + 1;
    let mut header_bytes = p[..h.pn_at + pn_len].to_vec();
    header_bytes[0] = first;
    let mut pn: u64 = 0;
    for i in 0..pn_len {
        header_bytes[h.pn_at + i] ^= mask[1 + i];
        pn = (pn << 8) | header_bytes[h.pn_at + i] as u64;
    }
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&iv);
    for (i, b) in pn.to_be_bytes().iter().enumerate() {
        nonce[4 + i] ^= b;
    }
    let key = LessSafeKey::new(UnboundKey::new(&aead::AES_128_GCM, &key).ok()?);
    let mut body = p.get(h.pn_at + pn_len..h.end)?.to_vec();
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&header_bytes[..]),
            &mut body,
        )
        .ok()?;
    Some(plain.to_vec())
}

/// CRYPTO frames (offset, data) of a decrypted Initial; other frames are skipped.
fn crypto_frames(f: &[u8]) -> Vec<(u64, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < f.len() {
        let Some(kind) = varint(f, &mut at) else { break };
        match kind {
            0x00 | 0x01 => {} // PADDING, PING
            0x02 | 0x03 => {
                // ACK: largest, delay, range count, first range, ranges (+ ECN counts)
                let mut ok = || -> Option<()> {
                    varint(f, &mut at)?;
                    varint(f, &mut at)?;
                    let n = varint(f, &mut at)?;
                    varint(f, &mut at)?;
                    for _ in 0..n {
                        varint(f, &mut at)?;
                        varint(f, &mut at)?;
                    }
                    if kind == 0x03 {
                        for _ in 0..3 {
                            varint(f, &mut at)?;
                        }
                    }
                    Some(())
                };
                if ok().is_none() {
                    break;
                }
            }
            0x06 => {
                let (Some(off), Some(len)) = (varint(f, &mut at), varint(f, &mut at)) else {
                    break;
                };
                let Some(data) = f.get(at..at + len as usize) else {
                    break;
                };
                out.push((off, data));
                at += len as usize;
            }
            0x1c => {
                // CONNECTION_CLOSE: code, frame type, reason
                let (Some(_), Some(_), Some(n)) = (varint(f, &mut at), varint(f, &mut at), varint(f, &mut at)) else {
                    break;
                };
                at += n as usize;
            }
            _ => break, // nothing else is allowed in Initials
        }
    }
    out
}

/// The handshake bytes one side sent, put back in order.
#[derive(Default)]
struct CryptoStream {
    parts: BTreeMap<u64, Vec<u8>>,
    /// Handshake messages already reported.
    seen: usize,
}

impl CryptoStream {
    /// Add data; return the handshake messages that became complete.
    fn add(&mut self, off: u64, data: &[u8]) -> Vec<Vec<u8>> {
        self.parts.entry(off).or_insert_with(|| data.to_vec());
        let mut joined = Vec::new();
        for (&o, d) in &self.parts {
            if o as usize > joined.len() {
                break;
            }
            let skip = joined.len() - o as usize;
            if skip < d.len() {
                joined.extend_from_slice(&d[skip..]);
            }
        }
        let mut msgs = Vec::new();
        let mut at = 0;
        while at + 4 <= joined.len() {
            let len = u32::from_be_bytes([0, joined[at + 1], joined[at + 2], joined[at + 3]]) as usize;
            if at + 4 + len > joined.len() {
                break;
            }
            msgs.push(joined[at..at + 4 + len].to_vec());
            at += 4 + len;
        }
        let new = msgs.split_off(self.seen.min(msgs.len()));
        self.seen += new.len();
        new
    }
}

/// What a completed ClientHello or ServerHello says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hello {
    pub sni: Option<String>,
    pub version: Option<u16>,
}

#[derive(Default)]
struct Flow {
    client_dcid: Vec<u8>,
    client_from_lo: bool,
    client: CryptoStream,
    server: CryptoStream,
}

/// QUIC handshake state per flow, fed in file order.
#[derive(Default)]
pub struct Tracker {
    flows: FlowMap<u64, Flow>,
}

/// What one Initial packet completed: the hello (for the packet's own columns) and every whole
/// handshake message (for the tls table).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completed {
    pub hello: Option<Hello>,
    pub messages: Vec<Vec<u8>>,
}

impl Tracker {
    /// Feed the UDP payload of an Initial packet; returns the hello that completes in it.
    pub fn packet(&mut self, flow: u64, from_lo: bool, payload: &[u8]) -> Option<Hello> {
        self.packet_messages(flow, from_lo, payload).hello
    }

    /// [`Tracker::packet`] with the handshake messages it completed.
    pub fn packet_messages(&mut self, flow: u64, from_lo: bool, payload: &[u8]) -> Completed {
        let mut out = Completed::default();
        let Some(dcid) = first_dcid(payload) else {
            return out;
        };
        // The first Initial of a flow is the client's and names the DCID all keys derive from;
        // it counts even when the snap length cut it too short to decrypt.
        let f = self.flows.entry(flow).or_insert_with(|| Flow {
            client_dcid: dcid.to_vec(),
            client_from_lo: from_lo,
            ..Default::default()
        });
        let server = from_lo != f.client_from_lo;
        let Some(plain) = open(payload, &f.client_dcid, server) else {
            return out;
        };
        let stream = if server { &mut f.server } else { &mut f.client };
        for (off, data) in crypto_frames(&plain) {
            for msg in stream.add(off, data) {
                if matches!(msg.first(), Some(1 | 2)) {
                    out.hello = Some(hello(&msg));
                }
                out.messages.push(msg);
            }
        }
        out
    }
}

fn hello(msg: &[u8]) -> Hello {
    let mut out = Hello::default();
    if let Ok((_, tls_parser::TlsMessage::Handshake(hs))) = tls_parser::parse_tls_message_handshake(msg)
        && let Some((sni, version)) = crate::decode::tls::hello_facts(&hs)
    {
        out.sni = sni;
        out.version = Some(version);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc9001_initial_keys() {
        // RFC 9001 appendix A.1: DCID 0x8394c8f03e515708.
        let dcid = hex("8394c8f03e515708");
        let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, &SALT_V1).extract(&dcid);
        let secret = expand_label(&initial, "client in", 32).unwrap();
        assert_eq!(
            secret,
            hex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea")
        );
        let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
        assert_eq!(
            expand_label(&prk, "quic key", 16).unwrap(),
            hex("1f369613dd76d5467730efcbe3b1a22d")
        );
        assert_eq!(
            expand_label(&prk, "quic iv", 12).unwrap(),
            hex("fa044b2f42a3fd3b46fb255c")
        );
        assert_eq!(
            expand_label(&prk, "quic hp", 16).unwrap(),
            hex("9f50449e04a0e810283a1e9933adedd2")
        );
    }

    #[test]
    fn crypto_stream_reports_each_message_once() {
        let mut s = CryptoStream::default();
        let msg = [1u8, 0, 0, 3, 9, 9, 9];
        assert!(s.add(0, &msg[..4]).is_empty());
        assert_eq!(s.add(4, &msg[4..]).len(), 1);
        assert!(s.add(4, &msg[4..]).is_empty());
    }
}
