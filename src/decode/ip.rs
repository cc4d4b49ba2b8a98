//! ip: the network layer of an etherparse slice: IPv4 and IPv6 headers, fragments (which the
//! in-order pass reassembles), ARP, and the layer an unreadable header still names.

use etherparse::{LaxNetSlice, LaxSlicedPacket};

use crate::decode::packet::{Addr, Fragment, Packet};
use crate::decode::protocol::Proto;
use crate::decode::transport::transport;

/// Network and transport layers of an etherparse slice.
pub(crate) fn finish_sliced(p: &mut Packet, s: &LaxSlicedPacket<'_>, ether_type: u16) {
    match &s.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            p.stack.push(Proto::Ip);
            p.ip_version = Some(4);
            p.src_ip = Some(Addr::v4(h.source()));
            p.dst_ip = Some(Addr::v4(h.destination()));
            p.ttl = Some(h.ttl());
            p.ip_proto = Some(h.protocol().0);
            p.ip_len = Some(u32::from(h.total_len()));
            let frag_off = h.fragments_offset().value() as u32 * 8;
            let pl = v4.payload();
            let wire_payload = (h.total_len() as u32).saturating_sub(h.ihl() as u32 * 4);
            if h.more_fragments() || frag_off > 0 {
                p.fragment = Some(Fragment {
                    ident: h.identification() as u32,
                    offset: frag_off,
                    len: wire_payload,
                    more: h.more_fragments(),
                    first: None,
                });
            }
            transport(p, s, pl, wire_payload);
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            p.stack.push(Proto::Ipv6);
            p.ip_version = Some(6);
            p.src_ip = Some(Addr::v6(h.source()));
            p.dst_ip = Some(Addr::v6(h.destination()));
            p.ttl = Some(h.hop_limit());
            let pl = v6.payload();
            p.ip_proto = Some(pl.ip_number.0);
            p.ip_len = Some(40 + u32::from(h.payload_length()));
            let ext_len = v6.extensions().slice().len() as u32;
            let wire_payload = (h.payload_length() as u32).saturating_sub(ext_len);
            if let Some((ident, offset, more)) = ipv6_fragment(h.next_header().0, v6.extensions().slice())
                && (more || offset > 0)
            {
                p.fragment = Some(Fragment {
                    ident,
                    offset,
                    len: wire_payload,
                    more,
                    first: None,
                });
            }
            transport(p, s, pl, wire_payload);
        }
        Some(LaxNetSlice::Arp(arp)) => {
            p.stack.push(Proto::Arp);
            p.arp_op = Some(arp.operation().0);
            if arp.proto_addr_size() == 4 {
                let ip = |b: &[u8]| b.try_into().ok().map(Addr::v4);
                p.arp_sender_ip = ip(arp.sender_protocol_addr());
                p.arp_target_ip = ip(arp.target_protocol_addr());
            }
        }
        None => {
            // The network header could not be sliced: still name the layer the ether type
            // announces, as tshark does, and keep the reason.
            match ether_type {
                0x0800 => p.stack.push(Proto::Ip),
                0x86dd => p.stack.push(Proto::Ipv6),
                // ARP that etherparse could not slice, and RARP (tshark names both arp).
                0x0806 | 0x8035 => p.stack.push(Proto::Arp),
                _ => {}
            }
        }
    }
    if let Some((err, layer)) = &s.stop_err
        && !p.cut
    {
        p.set_error(format!("{layer:?}: {err}").to_lowercase());
    }
}

/// The fragment header among IPv6 extension headers: (identification, offset in bytes, more).
/// Walked here with bounds checks: etherparse 0.21's extension iterator reads past the end of a
/// cut authentication header (an unchecked index; found by `garbage_never_panics`).
fn ipv6_fragment(first: u8, exts: &[u8]) -> Option<(u32, u32, bool)> {
    let (mut next, mut at) = (first, 0usize);
    for _ in 0..16 {
        let h = exts.get(at..at + 2)?;
        match next {
            // hop-by-hop, routing, destination options, mobility, HIP, shim6: 8-octet units
            0 | 43 | 60 | 135 | 139 | 140 => at += (h[1] as usize + 1) * 8,
            // authentication header: 4-octet units
            51 => at += (h[1] as usize + 2) * 4,
            44 => {
                let f = exts.get(at..at + 8)?;
                let off = u16::from_be_bytes([f[2], f[3]]);
                let ident = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
                return Some((ident, (off >> 3) as u32 * 8, off & 1 == 1));
            }
            _ => return None,
        }
        next = h[0];
    }
    None
}
