//! decoder: one raw record -> one [`Packet`]. Link types are dispatched here (Ethernet with its
//! VLAN tags, Linux cooked v1/v2, raw IP, BSD loopback); the layers are sliced by etherparse in
//! lax mode, so a cut or malformed packet still yields every field that could be read plus an
//! error text. Plain Ethernet/IP/TCP|UDP frames take a fast path through etherparse's header
//! slices: `LaxSlicedPacket` is a value of several hundred bytes moved a few times per packet,
//! and those copies were ~5 % of a 10M load's CPU. Ethernet II frames carrying a whole IPv4
//! datagram (not a fragment) or an IPv6 one without extension headers, with a whole TCP or UDP
//! header, skip it (decoder CPU -15 %, 10M load 4.4 -> 4.1 s); a test decodes every packet of the
//! sample, a generated capture and all shared captures both ways and compares.

use etherparse::{
    EtherType, Ipv4HeaderSlice, Ipv6HeaderSlice, LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket, LinkSlice, TcpSlice,
    UdpSlice,
};

use crate::capture::linktype;
use crate::capture::record::RawRecord;
use crate::decode::ip::finish_sliced;
use crate::decode::packet::{Addr, Packet};
use crate::decode::protocol::{L4, Proto};
use crate::decode::transport::{tcp_layer, udp_layer};

/// Decodes packets; holds nothing but scratch space, so one per thread.
#[derive(Default)]
pub struct Decoder {
    pub packet: Packet,
    /// Skip [`ethernet_ip_fast`] (tests compare the two paths).
    general_only: bool,
}

impl Decoder {
    /// Decode one record into `self.packet`.
    pub fn decode(&mut self, rec: &RawRecord<'_>) -> &mut Packet {
        self.packet.reset();
        let p = &mut self.packet;
        if rec.ts_out_of_range {
            p.set_error("timestamp out of range (past 2262 or before 1677): the previous packet's time kept");
        }
        let data = rec.data;
        p.cut = (data.len() as u64) < rec.wire_len as u64;
        match rec.link {
            linktype::ETHERNET => decode_ethernet(p, data, !self.general_only),
            linktype::LINUX_SLL => {
                p.stack.push(Proto::Sll);
                if data.len() < 16 {
                    p.set_error(format!("linux cooked header truncated ({} of 16 bytes)", data.len()));
                } else {
                    if u16::from_be_bytes([data[4], data[5]]) == 6 {
                        p.src_mac = Some(data[6..12].try_into().unwrap_or_default());
                    }
                    let proto = u16::from_be_bytes([data[14], data[15]]);
                    decode_ether_payload(p, proto, &data[16..]);
                }
            }
            linktype::LINUX_SLL2 => {
                p.stack.push(Proto::Sll);
                if data.len() < 20 {
                    p.set_error(format!("linux cooked v2 header truncated ({} of 20 bytes)", data.len()));
                } else {
                    if data[11] == 6 {
                        p.src_mac = Some(data[12..18].try_into().unwrap_or_default());
                    }
                    let proto = u16::from_be_bytes([data[0], data[1]]);
                    decode_ether_payload(p, proto, &data[20..]);
                }
            }
            linktype::RAW | linktype::RAW_OLD12 | linktype::RAW_OLD14 | linktype::IPV4 | linktype::IPV6 => {
                if rec.link == linktype::RAW || rec.link == linktype::RAW_OLD12 || rec.link == linktype::RAW_OLD14 {
                    p.stack.push(Proto::Raw);
                }
                decode_ip(p, data);
            }
            linktype::NULL | linktype::LOOP => {
                p.stack.push(Proto::Null);
                if data.len() < 4 {
                    p.set_error(format!("loopback header truncated ({} of 4 bytes)", data.len()));
                } else {
                    let fam_bytes = [data[0], data[1], data[2], data[3]];
                    // NULL stores the family in the capturing host's byte order, LOOP in network order.
                    let family = if rec.link == linktype::LOOP || (data[0] == 0 && data[1] == 0) {
                        u32::from_be_bytes(fam_bytes)
                    } else {
                        u32::from_le_bytes(fam_bytes)
                    };
                    match family {
                        2 => decode_ether_payload(p, 0x0800, &data[4..]),
                        10 | 24 | 28 | 30 => decode_ether_payload(p, 0x86dd, &data[4..]),
                        other => p.set_error(format!("loopback address family {other} not decoded")),
                    }
                }
            }
            other => p.set_error(format!("unsupported link type {other}")),
        }
        &mut self.packet
    }
}

fn decode_ethernet(p: &mut Packet, data: &[u8], fast: bool) {
    p.stack.push(Proto::Eth);
    if fast && ethernet_ip_fast(p, data) {
        return;
    }
    let sliced = match LaxSlicedPacket::from_ethernet(data) {
        Ok(s) => s,
        Err(_) => {
            p.set_error(format!("ethernet header truncated ({} of 14 bytes)", data.len()));
            return;
        }
    };
    let mut tpid = 0u16;
    if let Some(LinkSlice::Ethernet2(eth)) = &sliced.link {
        p.src_mac = Some(eth.source());
        p.dst_mac = Some(eth.destination());
        tpid = eth.ether_type().0;
    }
    for ext in &sliced.link_exts {
        if let LaxLinkExtSlice::Vlan(v) = ext {
            p.stack
                .push(if tpid == 0x88a8 { Proto::Ieee8021ad } else { Proto::Vlan });
            let id = v.vlan_identifier().value();
            if p.vlan.is_none() {
                p.vlan = Some(id);
            } else if p.vlan_inner.is_none() {
                p.vlan_inner = Some(id);
            }
            tpid = v.ether_type().0;
        }
    }
    p.ether_type = Some(tpid);
    finish_sliced(p, &sliced, tpid);
}

/// The bulk of traffic (Ethernet II, an IPv4 datagram that is not a fragment or an IPv6 one
/// without extension headers, a whole TCP or UDP header, nothing cut) read through etherparse's
/// header and transport slices directly. The general path builds a `LaxSlicedPacket`, a value of
/// several hundred bytes that is moved a few times per packet: those copies were ~5 % of a
/// load's CPU. Returns false, having changed nothing, for anything else; the general path then
/// decodes it (and gives the same fields for what this one takes, see the tests).
fn ethernet_ip_fast(p: &mut Packet, data: &[u8]) -> bool {
    let (Some(macs), Some(ip)) = (data.get(..14), data.get(14..)) else {
        return false;
    };
    let ether_type = u16::from_be_bytes([macs[12], macs[13]]);
    let (src, dst, ttl, proto, ip_len, wire_payload, payload) = match ether_type {
        0x0800 => {
            let Ok(h) = Ipv4HeaderSlice::from_slice(ip) else {
                return false;
            };
            let (total, header) = (h.total_len() as usize, h.slice().len());
            if h.more_fragments() || h.fragments_offset().value() != 0 || total < header || total > ip.len() {
                return false;
            }
            (
                Addr::v4(h.source()),
                Addr::v4(h.destination()),
                h.ttl(),
                h.protocol().0,
                total as u32,
                (total - header) as u32,
                &ip[header..total],
            )
        }
        0x86dd => {
            let Ok(h) = Ipv6HeaderSlice::from_slice(ip) else {
                return false;
            };
            let (next, len) = (h.next_header().0, h.payload_length() as usize);
            if !matches!(next, 6 | 17) || 40 + len > ip.len() {
                return false;
            }
            (
                Addr::v6(h.source()),
                Addr::v6(h.destination()),
                h.hop_limit(),
                next,
                40 + len as u32,
                len as u32,
                &ip[40..40 + len],
            )
        }
        _ => return false,
    };
    enum Whole<'a> {
        Tcp(TcpSlice<'a>),
        Udp(UdpSlice<'a>),
    }
    let transport = match proto {
        6 => TcpSlice::from_slice(payload).ok().map(Whole::Tcp),
        17 => UdpSlice::from_slice_lax(payload).ok().map(Whole::Udp),
        _ => None,
    };
    let Some(transport) = transport else {
        return false;
    };
    p.src_mac = macs[6..12].try_into().ok();
    p.dst_mac = macs[..6].try_into().ok();
    p.ether_type = Some(ether_type);
    let v6 = ether_type == 0x86dd;
    p.stack.push(if v6 { Proto::Ipv6 } else { Proto::Ip });
    p.ip_version = Some(if v6 { 6 } else { 4 });
    p.src_ip = Some(src);
    p.dst_ip = Some(dst);
    p.ttl = Some(ttl);
    p.ip_proto = Some(proto);
    p.ip_len = Some(ip_len);
    p.l4 = Some(L4::from_ip_number(proto));
    match &transport {
        Whole::Tcp(t) => tcp_layer(p, t, wire_payload),
        Whole::Udp(u) => udp_layer(p, u),
    }
    true
}

/// Everything after a link header that names its payload with an ether type (SLL, loopback).
fn decode_ether_payload(p: &mut Packet, ether_type: u16, payload: &[u8]) {
    let sliced = LaxSlicedPacket::from_ether_type(EtherType(ether_type), payload);
    let mut final_type = ether_type;
    for ext in &sliced.link_exts {
        if let LaxLinkExtSlice::Vlan(v) = ext {
            p.stack.push(if final_type == 0x88a8 {
                Proto::Ieee8021ad
            } else {
                Proto::Vlan
            });
            let id = v.vlan_identifier().value();
            if p.vlan.is_none() {
                p.vlan = Some(id);
            } else if p.vlan_inner.is_none() {
                p.vlan_inner = Some(id);
            }
            final_type = v.ether_type().0;
        }
    }
    p.ether_type = Some(final_type);
    finish_sliced(p, &sliced, final_type);
}

fn decode_ip(p: &mut Packet, data: &[u8]) {
    match LaxSlicedPacket::from_ip(data) {
        Ok(sliced) => {
            let et = match &sliced.net {
                Some(LaxNetSlice::Ipv6(_)) => 0x86dd,
                _ => 0x0800,
            };
            finish_sliced(p, &sliced, et);
        }
        Err(e) => {
            match data.first().map(|b| b >> 4) {
                Some(4) => p.stack.push(Proto::Ip),
                Some(6) => p.stack.push(Proto::Ipv6),
                _ => {}
            }
            p.set_error(format!("ip: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::dns::dns_type_name;
    use crate::decode::packet::tcp_flags_text;
    use crate::decode::protocol::App;
    use etherparse::PacketBuilder;

    /// The fast path for plain Ethernet/IP/TCP|UDP gives exactly what the general path gives,
    /// packet by packet, over the bundled sample, a generated capture and every shared capture.
    #[test]
    fn the_fast_path_decodes_as_the_general_path() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![root.join("captures/sample.pcap")];
        files.extend(crate::testdata::shared_capture_files());
        let tmp = tempfile::tempdir().unwrap();
        let generated = tmp.path().join("gen.pcap");
        if let Some(gen_script) = crate::testdata::shared("bench/gen_pcap.py") {
            let out = std::process::Command::new("python3")
                .arg(&gen_script)
                .args(["--packets", "20000", "--seed", "3", "--out"])
                .arg(&generated)
                .output()
                .expect("python3 runs the generator");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            files.push(generated);
        }
        let (mut fast, mut general) = (Decoder::default(), Decoder::default());
        general.general_only = true;
        let (mut compared, mut fast_taken) = (0, 0);
        for f in &files {
            let Ok(mut reader) = crate::capture::CaptureReader::open(f) else {
                continue;
            };
            let _ = reader.for_each(|rec| {
                if rec.link == linktype::ETHERNET {
                    let a = format!("{:?}", fast.decode(&rec));
                    let b = format!("{:?}", general.decode(&rec));
                    assert_eq!(a, b, "{}", f.display());
                    compared += 1;
                    let mut p = Packet::default();
                    fast_taken += usize::from(ethernet_ip_fast(&mut p, rec.data));
                }
                true
            });
        }
        assert!(compared > 250, "{compared} packets compared");
        // Most packets take the fast path (all of them would prove nothing about the other).
        assert!(
            fast_taken * 2 > compared && fast_taken < compared,
            "{fast_taken} of {compared}"
        );
    }

    fn eth_udp(payload: &[u8], sport: u16, dport: u16) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(sport, dport);
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    fn decode(data: &[u8], link: u16) -> Packet {
        let mut d = Decoder::default();
        d.decode(&RawRecord {
            ts_ns: 0,
            ts_out_of_range: false,
            wire_len: data.len() as u32,
            link,
            data,
        })
        .clone()
    }

    #[test]
    fn dns_query_is_decoded_with_name_and_type() {
        let mut q = domain::base::MessageBuilder::new_vec().question();
        q.header_mut().set_id(7);
        let name = domain::base::Name::<Vec<u8>>::from_chars("example.com".chars()).unwrap();
        q.push((&name, domain::base::iana::Rtype::AAAA)).unwrap();
        let bytes = q.finish();
        let p = decode(&eth_udp(&bytes, 40000, 53), linktype::ETHERNET);
        assert_eq!(p.stack.text(), "eth:ip:udp:dns");
        let dns = p.dns.unwrap();
        assert_eq!(dns.query.as_deref(), Some("example.com"));
        assert_eq!(dns_type_name(dns.qtype.unwrap()), "AAAA");
        assert!(!dns.head.response);
        assert_eq!(p.app, Some(App::Dns));
    }

    #[test]
    fn tcp_syn_ack_flags_and_ports() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6([1; 16], [2; 16], 64)
            .tcp(443, 51000, 1000, 65535)
            .syn()
            .ack(5);
        let mut out = Vec::new();
        b.write(&mut out, &[]).unwrap();
        let p = decode(&out, linktype::ETHERNET);
        assert_eq!(p.stack.text(), "eth:ipv6:tcp");
        assert_eq!(tcp_flags_text(p.tcp_flags.unwrap()), "SA");
        assert_eq!((p.src_port, p.dst_port), (Some(443), Some(51000)));
        assert_eq!(p.app, Some(App::Tls), "port 443 names tls even without payload");
        assert_eq!(p.payload_len, Some(0));
    }

    #[test]
    fn http_request_fields() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(50000, 8081, 1, 100);
        let mut out = Vec::new();
        b.write(
            &mut out,
            b"GET /index.html HTTP/1.1\r\nHost: example.org\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n",
        )
        .unwrap();
        let p = decode(&out, linktype::ETHERNET);
        assert_eq!(p.app, Some(App::Http), "payload wins over an unknown port");
        assert_eq!(p.http_method.as_deref(), Some("GET"));
        assert_eq!(p.http_path.as_deref(), Some("/index.html"));
        assert_eq!(p.http_host.as_deref(), Some("example.org"));
        assert_eq!(
            p.credential.as_deref(),
            Some("HTTP Basic user=alice"),
            "no password kept"
        );
    }

    #[test]
    fn truncated_ethernet_header_is_an_error_row() {
        let p = decode(&[1, 2, 3, 4, 5, 6, 7, 8], linktype::ETHERNET);
        assert_eq!(p.stack.text(), "eth");
        assert!(p.error.unwrap().contains("ethernet header truncated"));
    }

    #[test]
    fn unknown_link_type_is_an_error_row() {
        let p = decode(&[0u8; 40], 147);
        assert!(p.stack.is_empty());
        assert_eq!(p.error.as_deref(), Some("unsupported link type 147"));
    }

    #[test]
    fn null_loopback_ipv4() {
        let b = PacketBuilder::ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64).udp(1000, 2000);
        let mut ip = Vec::new();
        b.write(&mut ip, b"hi").unwrap();
        let mut data = 2u32.to_le_bytes().to_vec();
        data.extend_from_slice(&ip);
        let p = decode(&data, linktype::NULL);
        assert_eq!(p.stack.text(), "null:ip:udp");
        assert_eq!(p.ip_version, Some(4));
    }

    /// Random bytes (and random bytes behind valid headers) never panic the decoder.
    #[test]
    fn garbage_never_panics() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let links = [
            linktype::ETHERNET,
            linktype::LINUX_SLL,
            linktype::LINUX_SLL2,
            linktype::RAW,
            linktype::NULL,
            linktype::LOOP,
            linktype::IPV4,
            linktype::IPV6,
            999,
        ];
        let mut d = Decoder::default();
        for i in 0..60_000 {
            let len = (rnd() % 400) as usize;
            let mut data: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
            // Half the time, make the start look like IPv4/IPv6 over Ethernet so deeper layers run.
            if i % 2 == 0 && data.len() > 40 {
                data[12] = 0x08;
                data[13] = 0x00;
                data[14] = if i % 4 == 0 { 0x45 } else { 0x60 };
                if i % 4 == 0 {
                    data[23] = [6u8, 17, 1, 51, 47][(i / 4) % 5];
                } else {
                    // IPv6 with extension headers (hop-by-hop, routing, fragment, AH, ...)
                    data[12] = 0x86;
                    data[13] = 0xdd;
                    data[20] = [0u8, 43, 44, 51, 60, 6, 17, 58][(i / 2) % 8];
                }
            }
            for &link in &links {
                let rec = RawRecord {
                    ts_ns: 0,
                    ts_out_of_range: false,
                    wire_len: (len as u32).saturating_add((rnd() % 3) as u32),
                    link,
                    data: &data,
                };
                let p = d.decode(&rec);
                let _ = p.stack.text();
            }
        }
    }
}
