//! dns: DNS, mDNS and LLMNR messages (simple-dns): the question, the response code, answer
//! counts; names of query types and response codes.

use crate::decode::packet::Dns;

/// A DNS name as text, as simple_dns writes it (labels joined by dots, a dot or backslash
/// inside a label escaped), without its per-character formatter for the usual plain labels.
fn name_text(name: &simple_dns::Name<'_>) -> String {
    let mut text = String::with_capacity(64);
    for (i, label) in name.iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        match std::str::from_utf8(label.as_ref()) {
            Ok(plain) if !plain.contains(['.', '\\']) => text.push_str(plain),
            _ => {
                use std::fmt::Write;
                let _ = write!(text, "{label}");
            }
        }
    }
    text
}

pub(crate) fn parse_dns(msg: &[u8]) -> Option<Dns> {
    if msg.len() < 12 {
        return None;
    }
    match simple_dns::Packet::parse(msg) {
        Ok(pkt) => {
            let q = pkt.questions.first();
            Some(Dns {
                parsed: true,
                qname: q.map(|q| name_text(&q.qname)),
                qtype: q.map(|q| u16::from(q.qtype)),
                rcode: pkt.rcode() as u8,
                response: pkt.has_flags(simple_dns::PacketFlag::RESPONSE),
                answers: pkt.answers.len() as u16,
            })
        }
        // A cut or odd message: keep the fixed header's facts.
        Err(_) => Some(Dns {
            parsed: false,
            qname: None,
            qtype: None,
            rcode: msg[3] & 0x0f,
            response: msg[2] & 0x80 != 0,
            answers: u16::from_be_bytes([msg[6], msg[7]]),
        }),
    }
}

/// DNS query type mnemonic.
pub fn dns_type_name(t: u16) -> String {
    let s = match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        251 => "IXFR",
        252 => "AXFR",
        255 => "ANY",
        257 => "CAA",
        t => return format!("TYPE{t}"),
    };
    s.into()
}

/// DNS response code mnemonic.
pub fn dns_rcode_name(r: u8) -> &'static str {
    match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => "RCODE?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_read_as_simple_dns_writes_them() {
        use simple_dns::{Label, Name};
        let labels = [
            Label::new_unchecked(&b"My.Device"[..]),
            Label::new_unchecked(&b"back\\slash"[..]),
            Label::new_unchecked(&b"caf\xc3\xa9"[..]),
            Label::new_unchecked(&b"bad\xff"[..]),
            Label::new_unchecked(&b"local"[..]),
        ];
        for name in [
            Name::new_unchecked("www.example.com"),
            Name::new_unchecked(""),
            Name::new_with_labels(&labels),
        ] {
            assert_eq!(name_text(&name), name.to_string());
        }
        assert_eq!(name_text(&Name::new_with_labels(&labels[..1])), "My\\.Device");
    }
}
