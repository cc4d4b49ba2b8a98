//! fingerprint: TLS client and server fingerprints from their hellos: JA4 (FoxIO, BSD-3) with its
//! raw form, JA3 and JA3S (Salesforce, BSD-3). JA4S and the other JA4+ methods are under FoxIO's
//! non-commercial licence and are deliberately not implemented.
//!
//! JA4 follows FoxIO's specification (technical_details/JA4.md); where it leaves a case open,
//! FoxIO's own implementations decide: an ALPN value starting with a byte beyond ASCII gives `99`.

use md5::Digest as _;
use sha2::Digest as _;

use crate::decode::tls_hello::{ClientHello, ServerHello};
use crate::decode::tls_names::is_grease;

/// JA4's two-character version.
fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// JA4's ALPN part: the first and last characters of the first ALPN value.
fn ja4_alpn(ch: &ClientHello) -> String {
    let Some(first) = ch.alpn.first().filter(|a| !a.is_empty()) else {
        return "00".into();
    };
    let (a, b) = (first[0], first[first.len() - 1]);
    if a >= 0x80 {
        return "99".into();
    }
    if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() {
        return format!("{}{}", a as char, b as char);
    }
    // Not alphanumeric: the first and last characters of the value in hex.
    let mut hex = String::with_capacity(2 * first.len());
    push_hex(&mut hex, first);
    let h = hex.as_bytes();
    format!("{}{}", h[0] as char, h[h.len() - 1] as char)
}

/// The first 12 hex digits of SHA-256, or twelve zeroes for an empty list.
/// Bytes as lower-case hex, added to `out` (a fingerprint is made for every hello: no
/// string per byte).
fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
}

/// Values as four hex digits each, joined by commas.
fn hex_list(values: impl Iterator<Item = u16>) -> String {
    let mut out = String::with_capacity(128);
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_hex(&mut out, &v.to_be_bytes());
    }
    out
}

fn hash12(list: &str) -> String {
    if list.is_empty() {
        return "000000000000".into();
    }
    let d = sha2::Sha256::digest(list.as_bytes());
    let mut out = String::with_capacity(12);
    push_hex(&mut out, &d[..6]);
    out
}

pub fn ja4(ch: &ClientHello, quic: bool) -> (String, String) {
    let ciphers: Vec<u16> = ch.ciphers.iter().copied().filter(|c| !is_grease(*c)).collect();
    let exts: Vec<u16> = ch.extensions.iter().copied().filter(|e| !is_grease(*e)).collect();
    let a = format!(
        "{}{}{}{:02}{:02}{}",
        if quic { 'q' } else { 't' },
        ja4_version(ch.max_version()),
        if exts.contains(&0) { 'd' } else { 'i' },
        ciphers.len().min(99),
        exts.len().min(99),
        ja4_alpn(ch)
    );
    let mut sorted_ciphers = ciphers;
    sorted_ciphers.sort_unstable();
    let b_raw = hex_list(sorted_ciphers.into_iter());
    let mut sorted_exts: Vec<u16> = exts.into_iter().filter(|e| *e != 0 && *e != 16).collect();
    sorted_exts.sort_unstable();
    let mut c_raw = hex_list(sorted_exts.into_iter());
    let exts_empty = c_raw.is_empty();
    let sigs = hex_list(ch.signature_algorithms.iter().copied().filter(|s| !is_grease(*s)));
    if !sigs.is_empty() {
        c_raw.push('_');
        c_raw.push_str(&sigs);
    }
    let c_hash = if exts_empty {
        "000000000000".to_string()
    } else {
        hash12(&c_raw)
    };
    (
        format!("{a}_{}_{c_hash}", hash12(&b_raw)),
        format!("{a}_{b_raw}_{c_raw}"),
    )
}

/// Values in decimal joined by dashes, added to `out`.
fn push_dashed(out: &mut String, values: impl Iterator<Item = u16>) {
    use std::fmt::Write as _;
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push('-');
        }
        let _ = write!(out, "{v}");
    }
}

fn md5_hex(s: &str) -> String {
    let mut out = String::with_capacity(32);
    push_hex(&mut out, &md5::Md5::digest(s.as_bytes()));
    out
}

pub fn ja3(ch: &ClientHello) -> (String, String) {
    use std::fmt::Write as _;
    let keep = |v: &&u16| !is_grease(**v);
    let mut s = String::with_capacity(256);
    let _ = write!(s, "{},", ch.legacy_version);
    push_dashed(&mut s, ch.ciphers.iter().filter(keep).copied());
    s.push(',');
    push_dashed(&mut s, ch.extensions.iter().filter(keep).copied());
    s.push(',');
    push_dashed(&mut s, ch.groups.iter().filter(keep).copied());
    s.push(',');
    push_dashed(&mut s, ch.point_formats.iter().map(|p| u16::from(*p)));
    let h = md5_hex(&s);
    (s, h)
}

pub fn ja3s(sh: &ServerHello) -> (String, String) {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(64);
    let _ = write!(s, "{},{},", sh.legacy_version, sh.cipher);
    push_dashed(&mut s, sh.extensions.iter().copied().filter(|e| !is_grease(*e)));
    let h = md5_hex(&s);
    (s, h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tls_hello::client_hello;

    #[test]
    fn the_specifications_worked_example() {
        // JA4.md's example lists: their raw form and the hashes it gives.
        let ch = ClientHello {
            legacy_version: 0x0303,
            ciphers: vec![
                0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d,
                0x002f, 0x0035,
            ],
            extensions: vec![
                0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01,
                0x000b, 0x000a, 0x0015,
            ],
            versions: vec![0x0304, 0x0303],
            signature_algorithms: vec![0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601],
            alpn: vec![b"h2".to_vec()],
            ..Default::default()
        };
        let (ja4, raw) = ja4(&ch, false);
        assert_eq!(ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert!(raw.starts_with("t13d1516h2_002f,0035,009c,"), "{raw}");
    }

    #[test]
    fn alpn_edge_cases_follow_the_specification() {
        let with = |a: &[u8]| {
            ja4_alpn(&ClientHello {
                alpn: vec![a.to_vec()],
                ..Default::default()
            })
        };
        assert_eq!(with(b"http/1.1"), "h1");
        assert_eq!(with(b"a"), "aa");
        assert_eq!(with(&[0x20, 0x61]), "21");
        assert_eq!(with(&[0x30, 0xab]), "3b");
        assert_eq!(with(&[0xab, 0xcd]), "99");
        assert_eq!(with(b""), "00");
    }

    #[test]
    fn ja3_leaves_grease_out() {
        let ch = client_hello(&crate::decode::tls_hello::tests::sample_client_hello()).unwrap();
        let (s, h) = ja3(&ch);
        assert_eq!(s, "771,4865-49199,0-16-43-13-10-11,29,0");
        assert_eq!(h.len(), 32);
    }
}
