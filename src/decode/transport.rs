//! transport: TCP, UDP, ICMP/ICMPv6 and IGMP headers, headers cut short, and the packet an ICMP
//! error quotes (its layers join the stack as tshark counts them).

use etherparse::{LaxIpPayloadSlice, LaxNetSlice, LaxSlicedPacket, TcpSlice, TransportSlice, UdpSlice};

use crate::decode::app::app_layer;
use crate::decode::packet::{Addr, FirstFragment, Packet, Quoted};
use crate::decode::protocol::{App, L4, Proto};

/// Transport layer, application detection and ICMP quotes.
pub(crate) fn transport(p: &mut Packet, s: &LaxSlicedPacket<'_>, pl: &LaxIpPayloadSlice<'_>, wire_payload: u32) {
    let l4 = L4::from_ip_number(pl.ip_number.0);
    if p.fragment.is_some() {
        p.fragment_data = Some((pl.payload.as_ptr() as usize, pl.payload.len()));
    }
    if let Some(frag) = p.fragment.as_mut() {
        // Upper layers of a fragmented datagram are only known once it is reassembled; keep what
        // the first fragment says for the frame builder.
        if frag.offset == 0 {
            let mut whole = Packet {
                stack: p.stack,
                ..Default::default()
            };
            read_l4_header(&mut whole, l4, pl.payload, u32::MAX);
            frag.first = Some(FirstFragment {
                l4,
                src_port: whole.src_port,
                dst_port: whole.dst_port,
                app: whole.app,
                stack: whole.stack,
            });
        }
        return;
    }
    p.l4 = Some(l4);
    match &s.transport {
        Some(TransportSlice::Tcp(t)) => tcp_layer(p, t, wire_payload),
        Some(TransportSlice::Udp(u)) => udp_layer(p, u),
        Some(TransportSlice::Icmpv4(i)) => {
            p.stack.push(Proto::Icmp);
            p.icmp_type = Some(i.type_u8());
            p.icmp_code = Some(i.code_u8());
            p.payload_len = Some(wire_payload.saturating_sub(8));
            // Destination unreachable, source quench, redirect, time exceeded, parameter problem
            // quote the offending packet.
            if matches!(i.type_u8(), 3 | 4 | 5 | 11 | 12) {
                quoted(p, i.payload());
            }
        }
        Some(TransportSlice::Icmpv6(i)) => {
            p.stack.push(Proto::Icmpv6);
            p.icmp_type = Some(i.type_u8());
            p.icmp_code = Some(i.code_u8());
            p.payload_len = Some(wire_payload.saturating_sub(8));
            if matches!(i.type_u8(), 1..=4) {
                quoted(p, &i.slice()[8.min(i.slice().len())..]);
            }
        }
        Some(TransportSlice::Igmp(_)) => {
            p.stack.push(Proto::Igmp);
        }
        None => {
            // No transport slice: either a protocol etherparse does not slice (GRE, ESP, ...) or
            // a header cut short. Read what is there.
            read_l4_header(p, l4, pl.payload, wire_payload);
        }
    }
}

/// A whole TCP header and what its payload says.
pub(crate) fn tcp_layer(p: &mut Packet, t: &TcpSlice<'_>, wire_payload: u32) {
    p.stack.push(Proto::Tcp);
    p.src_port = Some(t.source_port());
    p.dst_port = Some(t.destination_port());
    let hs = t.header_slice();
    p.tcp_flags = Some(hs[13]);
    p.tcp_seq = Some(t.sequence_number());
    p.tcp_ack = Some(t.acknowledgment_number());
    p.tcp_window = Some(t.window_size());
    let payload_len = wire_payload.saturating_sub(hs.len() as u32);
    p.payload_len = Some(payload_len);
    p.tcp_payload = Some((t.payload().as_ptr() as usize, t.payload().len()));
    app_layer(p, L4::Tcp, t.payload(), payload_len);
}

/// A UDP header and what its payload says.
pub(crate) fn udp_layer(p: &mut Packet, u: &UdpSlice<'_>) {
    p.stack.push(Proto::Udp);
    p.src_port = Some(u.source_port());
    p.dst_port = Some(u.destination_port());
    let payload_len = (u.length() as u32).saturating_sub(8);
    p.payload_len = Some(payload_len);
    app_layer(p, L4::Udp, u.payload(), payload_len);
    if p.app == Some(App::Quic) && crate::decode::quic::is_initial_v1(u.payload()) {
        p.quic_initial = Some((u.payload().as_ptr() as usize, u.payload().len()));
    }
}

/// Best-effort read of a transport header that etherparse did not slice (cut by the snap length
/// or a protocol it does not know): ports and flags where the bytes are present.
fn read_l4_header(p: &mut Packet, l4: L4, b: &[u8], wire_payload: u32) {
    if let Some(proto) = l4.proto() {
        p.stack.push(proto);
    }
    p.l4 = Some(l4);
    match l4 {
        L4::Tcp | L4::Udp | L4::Sctp => {
            if b.len() >= 4 {
                p.src_port = Some(u16::from_be_bytes([b[0], b[1]]));
                p.dst_port = Some(u16::from_be_bytes([b[2], b[3]]));
            }
            if l4 == L4::Tcp {
                if b.len() >= 14 {
                    p.tcp_seq = Some(u32::from_be_bytes([b[4], b[5], b[6], b[7]]));
                    p.tcp_ack = Some(u32::from_be_bytes([b[8], b[9], b[10], b[11]]));
                    p.tcp_flags = Some(b[13]);
                }
                if b.len() >= 16 {
                    p.tcp_window = Some(u16::from_be_bytes([b[14], b[15]]));
                }
                if b.len() >= 13 {
                    let hl = ((b[12] >> 4) as usize) * 4;
                    if wire_payload != u32::MAX {
                        p.payload_len = Some(wire_payload.saturating_sub(hl as u32));
                    }
                    if hl >= 20 && b.len() > hl {
                        let payload_len = p.payload_len.unwrap_or((b.len() - hl) as u32);
                        app_layer(p, L4::Tcp, &b[hl..], payload_len);
                    } else if let (Some(_), Some(pl)) = (p.src_port, p.payload_len) {
                        app_layer(p, L4::Tcp, &[], pl);
                    }
                }
            } else if l4 == L4::Udp && b.len() >= 8 {
                let payload_len = (u16::from_be_bytes([b[4], b[5]]) as u32).saturating_sub(8);
                p.payload_len = Some(payload_len);
                app_layer(p, L4::Udp, &b[8..], payload_len);
            }
        }
        L4::Icmp | L4::Icmpv6 => {
            if let Some(&t) = b.first() {
                p.icmp_type = Some(t);
            }
            if let Some(&c) = b.get(1) {
                p.icmp_code = Some(c);
            }
        }
        _ => {}
    }
}

/// The packet quoted inside an ICMP error: tshark dissects it, so its layers join the stack; its
/// addresses and ports go to the `quoted_*` columns, not the row's own (they are not this
/// packet's endpoints).
fn quoted(p: &mut Packet, inner: &[u8]) {
    let Ok(s) = LaxSlicedPacket::from_ip(inner) else {
        return;
    };
    let mut q = Packet {
        stack: p.stack,
        ..Default::default()
    };
    let addrs = match &s.net {
        Some(LaxNetSlice::Ipv4(v4)) => Some((Addr::v4(v4.header().source()), Addr::v4(v4.header().destination()))),
        Some(LaxNetSlice::Ipv6(v6)) => Some((Addr::v6(v6.header().source()), Addr::v6(v6.header().destination()))),
        _ => None,
    };
    match &s.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            q.stack.push(Proto::Ip);
            let pl = v4.payload();
            if !pl.fragmented {
                let wire = (v4.header().total_len() as u32).saturating_sub(v4.header().ihl() as u32 * 4);
                quoted_transport(&mut q, &s, pl, wire);
            }
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            q.stack.push(Proto::Ipv6);
            let pl = v6.payload();
            if !pl.fragmented {
                let ext_len = v6.extensions().slice().len() as u32;
                let wire = (v6.header().payload_length() as u32).saturating_sub(ext_len);
                quoted_transport(&mut q, &s, pl, wire);
            }
        }
        _ => {}
    }
    p.stack = q.stack;
    if let Some((src_ip, dst_ip)) = addrs {
        let l4 = s
            .net
            .as_ref()
            .and_then(|n| n.ip_payload_ref())
            .map(|pl| L4::from_ip_number(pl.ip_number.0));
        p.quoted = Some(Quoted {
            l4,
            src_ip,
            dst_ip,
            src_port: q.src_port,
            dst_port: q.dst_port,
        });
    }
}

fn quoted_transport(q: &mut Packet, s: &LaxSlicedPacket<'_>, pl: &LaxIpPayloadSlice<'_>, wire: u32) {
    let l4 = L4::from_ip_number(pl.ip_number.0);
    match &s.transport {
        Some(TransportSlice::Udp(u)) => {
            q.stack.push(Proto::Udp);
            q.src_port = Some(u.source_port());
            q.dst_port = Some(u.destination_port());
            // Only what was quoted can be dissected.
            let quoted_len = u.payload().len() as u32;
            app_layer(q, L4::Udp, u.payload(), quoted_len);
        }
        Some(TransportSlice::Tcp(t)) => {
            q.stack.push(Proto::Tcp);
            q.src_port = Some(t.source_port());
            q.dst_port = Some(t.destination_port());
            let quoted_len = t.payload().len() as u32;
            app_layer(q, L4::Tcp, t.payload(), quoted_len);
        }
        Some(TransportSlice::Icmpv4(_)) => q.stack.push(Proto::Icmp),
        Some(TransportSlice::Icmpv6(_)) => q.stack.push(Proto::Icmpv6),
        Some(TransportSlice::Igmp(_)) => q.stack.push(Proto::Igmp),
        None => {
            // Typically the 8 quoted bytes of a TCP header: tshark still names tcp.
            let _ = wire;
            if let Some(proto) = l4.proto() {
                q.stack.push(proto);
            }
        }
    }
}
