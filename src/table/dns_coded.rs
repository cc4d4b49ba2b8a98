//! dns_coded: a DNS message with its names and answers as text codes, made on the decoder
//! thread that read it. The transaction pairing runs on a thread of its own; when messages
//! crossed to it carrying their strings, that thread spent most of its time freeing memory
//! another thread had allocated (glibc's arenas), and interning the same names a second time.
//! Codes are plain numbers: nothing to free, and the packet table's own `dns_qname` code serves
//! the dns table too when the name needs no lowering.

use smallvec::SmallVec;

use crate::decode::DnsMessage;
use crate::decode::dns::{Answer, DnsHeader};
use crate::decode::dns_names::decode_netbios_name;
use crate::table::interner::Interner;

/// Answers a message holds without a heap allocation (nearly every reply has one or two).
pub type Answers = SmallVec<[(u32, u32); 2]>;

/// A [`DnsMessage`] whose text is codes in the shared dictionary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DnsCoded {
    pub head: DnsHeader,
    /// The first question's name as dns.log writes it: lower case, a NetBIOS name decoded.
    pub query: Option<u32>,
    pub qtype: Option<u16>,
    pub qclass: Option<u16>,
    /// Answer texts and their TTLs in seconds (see [`DnsMessage::answers`]).
    pub answers: Answers,
    /// The owner name of the first answer record Zeek handles (see [`DnsMessage::answered`]).
    pub answered: Option<u32>,
    /// Why the message could not be read (rare: kept as text).
    pub error: Option<String>,
}

impl DnsCoded {
    /// Code `m`'s text. `netbios`: it came over NetBIOS name service (names are encoded).
    /// `qname`: the code the packet table gave the question's name as seen (reused when the
    /// dns table writes the same text).
    pub fn of(m: DnsMessage, netbios: bool, qname: Option<u32>, it: &mut Interner) -> DnsCoded {
        let query = m.query.map(|q| {
            let plain = !netbios && !q.bytes().any(|b| b.is_ascii_uppercase());
            match qname {
                Some(code) if plain => code,
                _ => it.text(&dns_log_name(q, netbios)),
            }
        });
        DnsCoded {
            head: m.head,
            query,
            qtype: m.qtype,
            qclass: m.qclass,
            answers: m
                .answers
                .iter()
                .map(|(a, ttl)| {
                    let code = match a {
                        Answer::Addr(a) => it.addr((*a).into()),
                        Answer::Text(t) => it.text(t),
                    };
                    (code, *ttl)
                })
                .collect(),
            answered: m.answered.as_deref().map(|a| it.text(a)),
            error: m.error,
        }
    }
}

/// A question's name as Zeek's dns_request writes it: lower case, and a NetBIOS name decoded
/// (when it decodes).
fn dns_log_name(mut q: String, netbios: bool) -> String {
    q.make_ascii_lowercase();
    if netbios {
        decode_netbios_name(&q).unwrap_or(q)
    } else {
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(query: &str) -> DnsMessage {
        DnsMessage {
            head: DnsHeader {
                id: 3,
                ..Default::default()
            },
            query: Some(query.into()),
            answers: vec![
                (Answer::Addr([192, 0, 2, 1].into()), 60),
                ("a.example".into(), 5),
                ("x".into(), 1),
                (Answer::Addr("2001:db8::1".parse().unwrap()), 9),
            ],
            answered: Some("example.com".into()),
            ..Default::default()
        }
    }

    #[test]
    fn names_are_lowered_and_answers_coded_in_order() {
        let mut it = Interner::default();
        let c = DnsCoded::of(msg("Example.COM"), false, Some(it.text("Example.COM")), &mut it);
        assert_eq!(c.query, Some(it.text("example.com")));
        // An address answer codes as its text as dns.log writes it.
        let want: Vec<(u32, u32)> = vec![
            (it.text("192.0.2.1"), 60),
            (it.text("a.example"), 5),
            (it.text("x"), 1),
            (it.text("2001:db8::1"), 9),
        ];
        assert_eq!(c.answers.to_vec(), want);
        assert_eq!(c.answered, Some(it.text("example.com")));
    }

    #[test]
    fn a_lower_case_name_takes_the_packet_code_and_netbios_names_are_decoded() {
        let mut it = Interner::default();
        let seen = it.text("example.com");
        assert_eq!(
            DnsCoded::of(msg("example.com"), false, Some(seen), &mut it).query,
            Some(seen)
        );
        // "FHEPFCELEHFCEPFFFACACACACACACABN" is NetBIOS's encoding of "WORKGROUP<1d>".
        let nb = DnsCoded::of(msg("FHEPFCELEHFCEPFFFACACACACACACABN"), true, Some(0), &mut it);
        let want = decode_netbios_name("fhepfcelehfcepfffacacacacacacabn").unwrap();
        assert_eq!(nb.query, Some(it.text(&want)));
    }
}
