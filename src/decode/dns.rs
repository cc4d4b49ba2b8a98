//! dns: DNS, mDNS, LLMNR and NetBIOS name service messages, read with NLnet Labs' `domain`
//! crate (zero-copy and lenient where the protocol variants bend the rules: NBNS's record types
//! and flags parse where simple-dns refused them). A message becomes a [`DnsMessage`]: its header
//! flags, its question, and its answer records written as Zeek's dns.log writes them; the packet
//! table keeps a summary of it ([`Dns`]). A message that cannot be read keeps its header and says
//! why in `error`.

use domain::base::Message;
use domain::base::iana::Rtype;
use domain::base::name::ParsedName;
use domain::rdata::AllRecordData;

use crate::decode::dns_names::qtype_name;

/// What the packet table keeps of a DNS message.
#[derive(Debug, Clone, Default)]
pub struct Dns {
    /// The whole message parsed (else only its fixed header was read).
    pub parsed: bool,
    pub qname: Option<String>,
    pub qtype: Option<u16>,
    /// Responses only (a query has no response code).
    pub rcode: Option<u8>,
    pub response: bool,
    pub answers: u16,
}

/// A DNS message's fixed header: id, flags and section counts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DnsHeader {
    pub id: u16,
    pub response: bool,
    pub opcode: u8,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    /// The three bits after RA (Zeek's `Z`; NBNS's broadcast flag is the last of them).
    pub z: u8,
    pub rcode: u8,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

/// One DNS message, as the transactions pair and write it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DnsMessage {
    pub head: DnsHeader,
    /// The first question.
    pub query: Option<String>,
    pub qtype: Option<u16>,
    pub qclass: Option<u16>,
    /// Answer-section records as Zeek writes them (`208.80.152.3`, `upload.pmtpa.wikimedia.org`,
    /// `TXT 5 hello`, `<unknown type=99>`), each with its TTL in seconds. Records Zeek reads but
    /// does not write (HINFO, CAA, SVCB, ...) are left out.
    pub answers: Vec<(Answer, u32)>,
    /// An answer record Zeek handles was seen: the name of the first one (the query of a
    /// response without a question, as mDNS sends them).
    pub answered: Option<String>,
    /// Why the message could not be read (whole or in part).
    pub error: Option<String>,
}

impl DnsMessage {
    /// The packet table's summary of this message.
    pub fn summary(&self) -> Dns {
        Dns {
            parsed: self.error.is_none(),
            qname: self.query.clone(),
            qtype: self.qtype,
            rcode: self.head.response.then_some(self.head.rcode),
            response: self.head.response,
            answers: self.head.ancount,
        }
    }
}

/// One answer record as dns.log writes it: an address (A, AAAA), kept as one so the loader codes
/// it through its cache of addresses (formatting each of the 10M capture's 800k addresses, then
/// hashing the text, was most of the decoders' DNS time), or the text of any other record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Addr(std::net::IpAddr),
    Text(String),
}

impl Answer {
    fn is_empty(&self) -> bool {
        matches!(self, Answer::Text(t) if t.is_empty())
    }
}

impl From<&str> for Answer {
    fn from(t: &str) -> Answer {
        Answer::Text(t.to_string())
    }
}

/// A name as text: its labels' bytes joined by dots (as Zeek writes them), a byte that is not
/// UTF-8 shown as `\xHH`, optionally in lower case (Zeek lowers the names in answers).
fn name_text<O: AsRef<[u8]>>(name: &ParsedName<O>, lower: bool) -> String {
    let mut bytes = Vec::with_capacity(64);
    for (i, label) in name.iter().enumerate() {
        if label.is_root() {
            break;
        }
        if i > 0 {
            bytes.push(b'.');
        }
        bytes.extend_from_slice(label.as_slice());
    }
    if lower {
        bytes.make_ascii_lowercase();
    }
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let mut out = String::new();
            for chunk in e.as_bytes().utf8_chunks() {
                out.push_str(chunk.valid());
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            out
        }
    }
}

fn bytes_text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Read one DNS message. `nbns`: it came over NetBIOS's port 137 (its SRV type is NBSTAT, which
/// Zeek does not write).
pub fn parse_message(msg: &[u8], nbns: bool) -> Option<DnsMessage> {
    if msg.len() < 12 {
        return None;
    }
    let m = Message::from_octets(msg).ok()?;
    let h = m.header();
    let counts = m.header_counts();
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    let mut out = DnsMessage {
        head: DnsHeader {
            id: h.id(),
            response: h.qr(),
            opcode: h.opcode().to_int(),
            aa: h.aa(),
            tc: h.tc(),
            rd: h.rd(),
            ra: h.ra(),
            z: ((flags >> 4) & 0x7) as u8,
            rcode: h.rcode().to_int(),
            qdcount: counts.qdcount(),
            ancount: counts.ancount(),
            nscount: counts.nscount(),
            arcount: counts.arcount(),
        },
        ..Default::default()
    };
    let mut questions = m.question();
    for q in &mut questions {
        match q {
            Ok(q) => {
                if out.query.is_none() {
                    out.query = Some(name_text(q.qname(), false));
                    out.qtype = Some(q.qtype().to_int());
                    out.qclass = Some(q.qclass().to_int());
                }
            }
            Err(e) => {
                out.error = Some(format!("dns: question unreadable: {e}"));
                return Some(out);
            }
        }
    }
    let answers = match questions.answer() {
        Ok(a) => a,
        Err(e) => {
            out.error = Some(format!("dns: answer section unreadable: {e}"));
            return Some(out);
        }
    };
    for rr in answers {
        let rr = match rr {
            Ok(rr) => rr,
            Err(e) => {
                out.error = Some(format!("dns: answer unreadable: {e}"));
                break;
            }
        };
        let rtype = rr.rtype();
        let ttl = rr.ttl().as_secs();
        let owner = || name_text(&rr.owner(), true);
        let data = match rr.to_record::<AllRecordData<_, ParsedName<_>>>() {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                out.error = Some(format!("dns: {rtype} record unreadable: {e}"));
                break;
            }
        };
        let text: Option<String> = match data.data() {
            AllRecordData::A(a) => {
                push_answer(&mut out, Answer::Addr(a.addr().into()), ttl, owner);
                continue;
            }
            AllRecordData::Aaaa(a) => {
                push_answer(&mut out, Answer::Addr(a.addr().into()), ttl, owner);
                continue;
            }
            AllRecordData::Cname(n) => Some(name_text(n.cname(), true)),
            AllRecordData::Ns(n) => Some(name_text(n.nsdname(), true)),
            AllRecordData::Ptr(n) => Some(name_text(n.ptrdname(), true)),
            AllRecordData::Mx(mx) => Some(name_text(mx.exchange(), true)),
            AllRecordData::Soa(soa) => Some(name_text(soa.mname(), true)),
            AllRecordData::Srv(srv) if !nbns => Some(name_text(srv.target(), true)),
            AllRecordData::Srv(_) => None,
            AllRecordData::Txt(txt) => {
                let tag = if rtype == Rtype::SPF { "SPF" } else { "TXT" };
                Some(
                    txt.iter()
                        .map(|s| format!("{tag} {} {}", s.len(), bytes_text(s)))
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            }
            AllRecordData::Naptr(n) => {
                let mut tail = bytes_text(n.regexp().as_slice());
                let replacement = name_text(n.replacement(), false);
                if !replacement.is_empty() {
                    if !tail.is_empty() {
                        tail.push(' ');
                    }
                    tail.push_str(&replacement);
                }
                Some(format!(
                    "NAPTR {} {} {} {} {tail}",
                    n.order(),
                    n.preference(),
                    bytes_text(n.flags().as_slice()),
                    bytes_text(n.services().as_slice())
                ))
            }
            AllRecordData::Rrsig(sig) => {
                let signer = name_text(sig.signer_name(), true);
                let signer = if signer.is_empty() {
                    "<Root>".to_string()
                } else {
                    signer
                };
                Some(format!("RRSIG {} {signer}", sig.type_covered().to_int()))
            }
            AllRecordData::Dnskey(k) => Some(format!("DNSKEY {}", k.algorithm().to_int())),
            AllRecordData::Nsec(n) => Some(format!("NSEC {} {}", owner(), name_text(n.next_name(), true))),
            AllRecordData::Nsec3(_) => Some("NSEC3".into()),
            AllRecordData::Nsec3param(_) => Some("NSEC3PARAM".into()),
            AllRecordData::Ds(ds) => Some(format!("DS {} {}", ds.algorithm().to_int(), ds.digest_type().to_int())),
            // Read by Zeek but not written to dns.log.
            AllRecordData::Hinfo(_)
            | AllRecordData::Svcb(_)
            | AllRecordData::Https(_)
            | AllRecordData::Opt(_)
            | AllRecordData::Tsig(_) => None,
            AllRecordData::Unknown(raw) => raw_type_text(rtype, nbns, raw.data()),
            _ => raw_type_text(rtype, nbns, &[]),
        };
        let Some(text) = text else { continue };
        push_answer(&mut out, Answer::Text(text), ttl, owner);
    }
    Some(out)
}

/// A record Zeek writes: the message is answered (by the first one's owner), and its answer
/// is listed unless empty (a WKS answer adds no text).
fn push_answer(out: &mut DnsMessage, answer: Answer, ttl: u32, owner: impl FnOnce() -> String) {
    if out.answered.is_none() {
        out.answered = Some(owner());
    }
    if !answer.is_empty() {
        out.answers.push((answer, ttl));
    }
}

/// Zeek's text for the record types `domain` leaves as raw bytes (or that netql names only by
/// number); None for the ones Zeek reads but does not write.
fn raw_type_text(rtype: Rtype, nbns: bool, data: &[u8]) -> Option<String> {
    match rtype.to_int() {
        // WKS: answered, nothing written.
        11 => Some(String::new()),
        // HINFO, CAA, OPT, TKEY, TSIG, SVCB, HTTPS: read, not written.
        13 | 257 | 41 | 249 | 250 | 64 | 65 => None,
        // NBNS's NB record: no answer event in Zeek.
        32 if nbns => None,
        44 if data.len() >= 2 => {
            let hex: String = data[2..].iter().map(|b| format!("{b:02x}")).collect();
            Some(format!("SSHFP: {hex}"))
        }
        29 if data.len() >= 4 => Some(format!("LOC:  {} {} {}", data[1], data[2], data[3])),
        65534 => Some("BIND9 signing signal".into()),
        t => Some(format!("<unknown type={t}>")),
    }
}

/// The packet table's facts of a DNS message: parsed in full when possible, else the fixed
/// header (and why not).
pub(crate) fn parse_dns(msg: &[u8], nbns: bool) -> Option<DnsMessage> {
    if msg.len() < 12 {
        return None;
    }
    Some(parse_message(msg, nbns).unwrap_or_else(|| DnsMessage {
        head: DnsHeader {
            id: u16::from_be_bytes([msg[0], msg[1]]),
            response: msg[2] & 0x80 != 0,
            rcode: msg[3] & 0x0f,
            ancount: u16::from_be_bytes([msg[6], msg[7]]),
            ..Default::default()
        },
        error: Some("dns: message unreadable".into()),
        ..Default::default()
    }))
}

/// DNS query type mnemonic (Zeek's names: `A`, `NIMLOC`, `query-1234` for unknown ones).
pub fn dns_type_name(t: u16) -> String {
    qtype_name(t)
}

/// DNS response code mnemonic.
pub fn dns_rcode_name(r: u8) -> String {
    crate::decode::dns_names::rcode_name(u16::from(r))
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
    fn netbios_name_queries_parse() {
        // A broadcast NBNS name query from wikipedia.pcap (type NB, the B flag in Z).
        let m = parse_message(
            &hex(
                "ff6e011000010000000000002045434643464845444441454445434444444944444545444245474445444341410000200001",
            ),
            true,
        )
        .unwrap();
        assert_eq!(m.error, None);
        assert_eq!(m.query.as_deref(), Some("ECFCFHEDDAEDECDDDIDDEEDBEGDEDCAA"));
        assert_eq!((m.qtype, m.qclass, m.head.rd, m.head.z), (Some(32), Some(1), true, 1));
    }

    #[test]
    fn a_cut_message_keeps_its_header_and_says_why() {
        let whole =
            hex("ff6e011000010000000000002045434643464845444441454445434444444944444545444245474445444341410000200001");
        let m = parse_dns(&whole[..20], true).unwrap();
        assert_eq!(m.head.id, 0xff6e);
        assert!(m.error.is_some(), "{m:?}");
    }
}
