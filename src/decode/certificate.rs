//! certificate: what a TLS server's certificate says (read with x509-parser): subject and issuer
//! in the RFC 2253 form Zeek's x509.log writes (`CN=www.example.org,O=Example,C=US`), validity,
//! DNS names, and the SHA-256 fingerprint Zeek's ssl.log lists in `cert_chain_fps`.

use sha2::Digest as _;
use x509_parser::prelude::*;

/// A certificate's facts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CertFacts {
    pub subject: String,
    pub issuer: String,
    /// Seconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// Subject alternative names of type DNS.
    pub dns_names: Vec<String>,
    /// Subject equals issuer.
    pub self_signed: bool,
    /// SHA-256 of the DER bytes, lower-case hex.
    pub sha256: String,
}

/// A name as RFC 2253 writes it: relative names last to first, joined by commas.
fn rfc2253(name: &X509Name<'_>) -> String {
    let registry = oid_registry();
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let key = oid2abbrev(atv.attr_type(), registry)
                        .map(str::to_string)
                        .unwrap_or_else(|_| atv.attr_type().to_id_string());
                    let value = atv
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|_| String::from_utf8_lossy(atv.attr_value().data).into_owned());
                    // Characters RFC 2253 escapes inside a value.
                    let escaped: String = value
                        .chars()
                        .flat_map(|c| match c {
                            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => vec!['\\', c],
                            c => vec![c],
                        })
                        .collect();
                    format!("{key}={escaped}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// Read one DER certificate.
pub fn certificate(der: &[u8]) -> Option<CertFacts> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let dns_names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|g| match g {
                GeneralName::DNSName(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some(CertFacts {
        subject: rfc2253(cert.subject()),
        issuer: rfc2253(cert.issuer()),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        dns_names,
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        sha256: hex(&sha2::Sha256::digest(der)),
    })
}

/// The certificates of a Certificate handshake message (TLS 1.2 and earlier: in TLS 1.3 they
/// travel encrypted), leaf first.
pub fn certificate_chain(msg: &[u8]) -> Vec<Vec<u8>> {
    // type (1), length (3), chain length (3), then each: length (3), DER.
    let mut out = Vec::new();
    let Some(body) = msg.get(7..) else {
        return out;
    };
    let mut at = 0;
    while let Some(h) = body.get(at..at + 3) {
        let n = u32::from_be_bytes([0, h[0], h[1], h[2]]) as usize;
        let Some(der) = body.get(at + 3..at + 3 + n) else {
            break;
        };
        out.push(der.to_vec());
        at += 3 + n;
    }
    out
}

/// Bytes as lower-case hex, written into one string (a `format!` per byte made 32 small strings
/// per certificate).
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate's fingerprint is its SHA-256 as Zeek writes it: 64 lower-case hex digits
    /// (FIPS 180-2's test vector for "abc").
    #[test]
    fn fingerprints_are_lower_case_hex() {
        use sha2::Digest as _;
        assert_eq!(
            hex(&sha2::Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex(&[0x00, 0x0f, 0xf0]), "000ff0");
    }
}
