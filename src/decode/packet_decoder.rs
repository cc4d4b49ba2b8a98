//! decode: one raw record -> one flat [`Packet`]: L2–L4 fields, the protocol stack (as tshark's
//! `frame.protocols` names it), the application protocol and DNS/HTTP/TLS facts.
//!
//! Link types are dispatched here; the layers are sliced by etherparse in lax mode, so a cut or
//! malformed packet still yields every field that could be read plus an error text. DNS, HTTP and
//! TLS are parsed by simple-dns, httparse and tls-parser. Nothing here knows about Polars.

use etherparse::{
    EtherType, Ipv4HeaderSlice, Ipv6HeaderSlice, LaxIpPayloadSlice, LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket,
    LinkSlice, TcpSlice, TransportSlice, UdpSlice,
};

use crate::capture::{RawRecord, linktype};

/// Protocol names that can appear in a frame's stack, outermost first (tshark's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Proto {
    Eth,
    Vlan,
    Ieee8021ad,
    Sll,
    Null,
    Raw,
    Arp,
    Ip,
    Ipv6,
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    Igmp,
    Gre,
    Esp,
    Sctp,
    App(App),
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Eth => "eth",
            Proto::Vlan => "vlan",
            Proto::Ieee8021ad => "ieee8021ad",
            Proto::Sll => "sll",
            Proto::Null => "null",
            Proto::Raw => "raw",
            Proto::Arp => "arp",
            Proto::Ip => "ip",
            Proto::Ipv6 => "ipv6",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
            Proto::Icmpv6 => "icmpv6",
            Proto::Igmp => "igmp",
            Proto::Gre => "gre",
            Proto::Esp => "esp",
            Proto::Sctp => "sctp",
            Proto::App(a) => a.name(),
        }
    }

    /// A small number per protocol (apps from 32 on); [`proto_from_code`] is its inverse.
    fn code(self) -> u8 {
        match self {
            Proto::Eth => 1,
            Proto::Vlan => 2,
            Proto::Ieee8021ad => 3,
            Proto::Sll => 4,
            Proto::Null => 5,
            Proto::Raw => 6,
            Proto::Arp => 7,
            Proto::Ip => 8,
            Proto::Ipv6 => 9,
            Proto::Tcp => 10,
            Proto::Udp => 11,
            Proto::Icmp => 12,
            Proto::Icmpv6 => 13,
            Proto::Igmp => 14,
            Proto::Gre => 15,
            Proto::Esp => 16,
            Proto::Sctp => 17,
            Proto::App(a) => 32 + a as u8,
        }
    }
}

/// Application protocols, named as tshark names their dissectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum App {
    Dns,
    Mdns,
    Llmnr,
    Nbns,
    Dhcp,
    Dhcpv6,
    Ntp,
    Snmp,
    Syslog,
    Ssdp,
    Sip,
    Quic,
    Http,
    Tls,
    Ssh,
    Ftp,
    FtpData,
    Telnet,
    Smtp,
    Pop,
    Imap,
    Smb,
    Ldap,
    Kerberos,
    Rdp,
    Mysql,
    Pgsql,
    Unknown,
}

impl App {
    pub const ALL: [App; 28] = [
        App::Dns,
        App::Mdns,
        App::Llmnr,
        App::Nbns,
        App::Dhcp,
        App::Dhcpv6,
        App::Ntp,
        App::Snmp,
        App::Syslog,
        App::Ssdp,
        App::Sip,
        App::Quic,
        App::Http,
        App::Tls,
        App::Ssh,
        App::Ftp,
        App::FtpData,
        App::Telnet,
        App::Smtp,
        App::Pop,
        App::Imap,
        App::Smb,
        App::Ldap,
        App::Kerberos,
        App::Rdp,
        App::Mysql,
        App::Pgsql,
        App::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            App::Dns => "dns",
            App::Mdns => "mdns",
            App::Llmnr => "llmnr",
            App::Nbns => "nbns",
            App::Dhcp => "dhcp",
            App::Dhcpv6 => "dhcpv6",
            App::Ntp => "ntp",
            App::Snmp => "snmp",
            App::Syslog => "syslog",
            App::Ssdp => "ssdp",
            App::Sip => "sip",
            App::Quic => "quic",
            App::Http => "http",
            App::Tls => "tls",
            App::Ssh => "ssh",
            App::Ftp => "ftp",
            App::FtpData => "ftp-data",
            App::Telnet => "telnet",
            App::Smtp => "smtp",
            App::Pop => "pop",
            App::Imap => "imap",
            App::Smb => "smb",
            App::Ldap => "ldap",
            App::Kerberos => "kerberos",
            App::Rdp => "rdp",
            App::Mysql => "mysql",
            App::Pgsql => "pgsql",
            App::Unknown => "unknown",
        }
    }

    fn is_dns_like(self) -> bool {
        matches!(self, App::Dns | App::Mdns | App::Llmnr)
    }
}

/// Transport protocol of a packet, as the `l4` column names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum L4 {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    Igmp,
    Gre,
    Esp,
    Sctp,
    Other,
}

impl L4 {
    pub const ALL: [L4; 9] = [
        L4::Tcp,
        L4::Udp,
        L4::Icmp,
        L4::Icmpv6,
        L4::Igmp,
        L4::Gre,
        L4::Esp,
        L4::Sctp,
        L4::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            L4::Tcp => "tcp",
            L4::Udp => "udp",
            L4::Icmp => "icmp",
            L4::Icmpv6 => "icmpv6",
            L4::Igmp => "igmp",
            L4::Gre => "gre",
            L4::Esp => "esp",
            L4::Sctp => "sctp",
            L4::Other => "other",
        }
    }

    fn from_ip_number(n: u8) -> L4 {
        match n {
            6 => L4::Tcp,
            17 => L4::Udp,
            1 => L4::Icmp,
            58 => L4::Icmpv6,
            2 => L4::Igmp,
            47 => L4::Gre,
            50 => L4::Esp,
            132 => L4::Sctp,
            _ => L4::Other,
        }
    }

    fn proto(self) -> Option<Proto> {
        Some(match self {
            L4::Tcp => Proto::Tcp,
            L4::Udp => Proto::Udp,
            L4::Icmp => Proto::Icmp,
            L4::Icmpv6 => Proto::Icmpv6,
            L4::Igmp => Proto::Igmp,
            L4::Gre => Proto::Gre,
            L4::Esp => Proto::Esp,
            L4::Sctp => Proto::Sctp,
            L4::Other => return None,
        })
    }
}

/// Link types as the `link_type` column names them.
pub const LINK_NAMES: [&str; 9] = [
    "ethernet",
    "linux_sll",
    "linux_sll2",
    "raw",
    "ipv4",
    "ipv6",
    "null",
    "loop",
    "unsupported",
];

/// Index into [`LINK_NAMES`] for a LINKTYPE_* number.
pub fn link_index(link: u16) -> u8 {
    match link {
        linktype::ETHERNET => 0,
        linktype::LINUX_SLL => 1,
        linktype::LINUX_SLL2 => 2,
        linktype::RAW | linktype::RAW_OLD12 | linktype::RAW_OLD14 => 3,
        linktype::IPV4 => 4,
        linktype::IPV6 => 5,
        linktype::NULL => 6,
        linktype::LOOP => 7,
        _ => 8,
    }
}

/// The protocol stack of one frame, outermost first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stack {
    items: [u8; 12],
    len: u8,
}

impl Stack {
    pub fn push(&mut self, p: Proto) {
        if (self.len as usize) < self.items.len() {
            self.items[self.len as usize] = p.code();
            self.len += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The same stack without a trailing application protocol.
    pub fn without_app(&self) -> Stack {
        let mut s = *self;
        if s.len > 0 && s.items[s.len as usize - 1] >= 32 {
            s.len -= 1;
            // Slots past the end stay zero, so `key` can read them all.
            s.items[s.len as usize] = 0;
        }
        s
    }

    /// A number that identifies the stack (used to intern its text once): its bytes as they
    /// are, no loop (every packet asks for it).
    #[inline]
    pub fn key(&self) -> u128 {
        let mut b = [0u8; 16];
        b[..12].copy_from_slice(&self.items);
        b[12] = self.len;
        u128::from_le_bytes(b)
    }

    pub fn protos(&self) -> impl Iterator<Item = Proto> + '_ {
        self.items[..self.len as usize].iter().map(|&c| proto_from_code(c))
    }

    /// `eth:vlan:ip:udp:dns`, the form of tshark's `frame.protocols` (without its helper layers).
    pub fn text(&self) -> String {
        let mut s = String::new();
        for p in self.protos() {
            if !s.is_empty() {
                s.push(':');
            }
            s.push_str(p.name());
        }
        s
    }
}

fn proto_from_code(c: u8) -> Proto {
    match c {
        1 => Proto::Eth,
        2 => Proto::Vlan,
        3 => Proto::Ieee8021ad,
        4 => Proto::Sll,
        5 => Proto::Null,
        6 => Proto::Raw,
        7 => Proto::Arp,
        8 => Proto::Ip,
        9 => Proto::Ipv6,
        10 => Proto::Tcp,
        11 => Proto::Udp,
        12 => Proto::Icmp,
        13 => Proto::Icmpv6,
        14 => Proto::Igmp,
        15 => Proto::Gre,
        16 => Proto::Esp,
        17 => Proto::Sctp,
        c => Proto::App(App::ALL[(c - 32) as usize]),
    }
}

/// An IPv4 or IPv6 address, stored as 16 bytes (IPv4 in the first four).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Addr {
    pub v6: bool,
    pub bytes: [u8; 16],
}

impl Addr {
    pub fn v4(b: [u8; 4]) -> Addr {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&b);
        Addr { v6: false, bytes }
    }

    pub fn v6(bytes: [u8; 16]) -> Addr {
        Addr { v6: true, bytes }
    }

    pub fn to_ip(self) -> std::net::IpAddr {
        if self.v6 {
            std::net::IpAddr::from(self.bytes)
        } else {
            std::net::IpAddr::from([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]])
        }
    }
}

/// Facts about an IP fragment, used by the frame builder to find the frame that completes a
/// reassembly (tshark counts the reassembled packet's upper layers on that frame only).
#[derive(Debug, Clone, Copy, Default)]
pub struct Fragment {
    pub ident: u32,
    /// Offset of this fragment's data in bytes.
    pub offset: u32,
    /// Bytes of fragment data on the wire.
    pub len: u32,
    pub more: bool,
    /// For the first fragment: the transport facts of the whole datagram.
    pub first: Option<FirstFragment>,
}

#[derive(Debug, Clone, Copy)]
pub struct FirstFragment {
    pub l4: L4,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub app: Option<App>,
    /// The stack the reassembled datagram has.
    pub stack: Stack,
}

/// One decoded packet. Reused across packets: `decode` resets every field.
#[derive(Debug, Default, Clone)]
pub struct Packet {
    pub stack: Stack,
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    pub vlan_inner: Option<u16>,
    pub ether_type: Option<u16>,
    pub ip_version: Option<u8>,
    pub src_ip: Option<Addr>,
    pub dst_ip: Option<Addr>,
    pub ttl: Option<u8>,
    pub ip_proto: Option<u8>,
    pub fragment: Option<Fragment>,
    pub l4: Option<L4>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub tcp_flags: Option<u8>,
    pub tcp_seq: Option<u32>,
    pub tcp_ack: Option<u32>,
    pub tcp_window: Option<u16>,
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
    /// Transport payload bytes on the wire (from the headers' length fields).
    pub payload_len: Option<u32>,
    pub app: Option<App>,
    pub dns: Option<Dns>,
    pub http_method: Option<String>,
    pub http_host: Option<String>,
    pub http_path: Option<String>,
    pub http_status: Option<u16>,
    pub tls_sni: Option<String>,
    pub tls_version: Option<u16>,
    pub arp_op: Option<u16>,
    pub arp_sender_ip: Option<Addr>,
    pub arp_target_ip: Option<Addr>,
    /// A clear-text credential seen in this packet, described without the secret itself.
    pub credential: Option<String>,
    pub error: Option<String>,
    /// The record holds fewer bytes than the wire did (snap length): running out of bytes is
    /// then expected, not an error.
    pub cut: bool,
    /// Address and length of the captured TCP payload inside the record (for stream tracking).
    pub tcp_payload: Option<(usize, usize)>,
    /// The same for a QUIC Initial's UDP payload (for the QUIC handshake tracker).
    pub quic_initial: Option<(usize, usize)>,
}

#[derive(Debug, Clone, Default)]
pub struct Dns {
    pub qname: Option<String>,
    pub qtype: Option<u16>,
    pub rcode: u8,
    pub response: bool,
    pub answers: u16,
}

impl Packet {
    fn reset(&mut self) {
        // Keep the String allocations of the previous packet where we can.
        let Packet {
            http_method,
            http_host,
            http_path,
            tls_sni,
            error,
            ..
        } = std::mem::take(self);
        let keep = |s: Option<String>| {
            s.map(|mut s| {
                s.clear();
                s
            })
        };
        let _ = (
            keep(http_method),
            keep(http_host),
            keep(http_path),
            keep(tls_sni),
            keep(error),
        );
    }

    fn set_error(&mut self, msg: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(msg.into());
        }
    }

    /// The 64-bit id of this packet's bidirectional conversation (same value both ways), and
    /// whether this packet goes from the lower endpoint to the higher one.
    pub fn flow(&self) -> Option<(u64, bool)> {
        let (src, dst) = (self.src_ip?, self.dst_ip?);
        let proto = self.ip_proto?;
        Some(flow_hash(
            proto,
            src,
            self.src_port.unwrap_or(0),
            dst,
            self.dst_port.unwrap_or(0),
        ))
    }
}

/// The flow id of a 5-tuple, independent of direction, and whether `src` is the lower endpoint.
pub fn flow_hash(proto: u8, src: Addr, sport: u16, dst: Addr, dport: u16) -> (u64, bool) {
    // Comparing the addresses as big-endian numbers orders them as their bytes.
    let (s, d) = (u128::from_be_bytes(src.bytes), u128::from_be_bytes(dst.bytes));
    let lo_first = (s, sport) <= (d, dport);
    let (a, ap, b, bp) = if lo_first {
        (s, sport, d, dport)
    } else {
        (d, dport, s, sport)
    };
    // Three folded 64x64->128-bit multiplies (the mixing step of foldhash and wyhash) with fixed
    // constants, so flow ids are the same on every run and machine.
    let fold = |x: u64, y: u64| {
        let p = u128::from(x) * u128::from(y);
        (p as u64) ^ ((p >> 64) as u64)
    };
    let tag = u64::from(proto) << 40 | u64::from(src.v6) << 32 | u64::from(ap) << 16 | u64::from(bp);
    let ha = fold(
        (a >> 64) as u64 ^ 0x243f_6a88_85a3_08d3,
        a as u64 ^ 0x1319_8a2e_0370_7344,
    );
    let hb = fold(
        (b >> 64) as u64 ^ 0xa409_3822_299f_31d0,
        b as u64 ^ 0x082e_fa98_ec4e_6c89,
    );
    let h = fold(ha ^ tag ^ 0x4528_21e6_38d0_1377, hb ^ 0xbe54_66cf_34e9_0c6c);
    // Keep ids in the positive i64 range so every consumer (JSON, Rhai) reads them the same.
    (h >> 1, lo_first)
}

/// Decodes packets; holds nothing but scratch space, so one per thread.
#[derive(Default)]
pub struct Decoder {
    pub packet: Packet,
    /// Skip [`ethernet_ip_fast`] (tests compare the two paths).
    general_only: bool,
}

impl Decoder {
    /// Decode one record into `self.packet`.
    pub fn decode(&mut self, rec: &RawRecord<'_>) -> &Packet {
        self.packet.reset();
        let p = &mut self.packet;
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
        &self.packet
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
    let (src, dst, ttl, proto, wire_payload, payload) = match ether_type {
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

/// Network and transport layers of an etherparse slice.
fn finish_sliced(p: &mut Packet, s: &LaxSlicedPacket<'_>, ether_type: u16) {
    match &s.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            p.stack.push(Proto::Ip);
            p.ip_version = Some(4);
            p.src_ip = Some(Addr::v4(h.source()));
            p.dst_ip = Some(Addr::v4(h.destination()));
            p.ttl = Some(h.ttl());
            p.ip_proto = Some(h.protocol().0);
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

/// Transport layer, application detection and ICMP quotes.
fn transport(p: &mut Packet, s: &LaxSlicedPacket<'_>, pl: &LaxIpPayloadSlice<'_>, wire_payload: u32) {
    let l4 = L4::from_ip_number(pl.ip_number.0);
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
fn tcp_layer(p: &mut Packet, t: &TcpSlice<'_>, wire_payload: u32) {
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
fn udp_layer(p: &mut Packet, u: &UdpSlice<'_>) {
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

/// The packet quoted inside an ICMP error: tshark dissects it, so its layers join the stack, but
/// its addresses stay out of the row (they are not this packet's endpoints).
fn quoted(p: &mut Packet, inner: &[u8]) {
    let Ok(s) = LaxSlicedPacket::from_ip(inner) else {
        return;
    };
    let mut q = Packet {
        stack: p.stack,
        ..Default::default()
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

// ---------------------------------------------------------------------------------------------
// Application layer

/// Well-known ports, checked for both ends (the lower port number wins when both match).
fn app_by_port(l4: L4, port: u16) -> Option<App> {
    let tcp = l4 == L4::Tcp;
    Some(match port {
        53 => App::Dns,
        5353 if !tcp => App::Mdns,
        5355 => App::Llmnr,
        137 if !tcp => App::Nbns,
        67 | 68 if !tcp => App::Dhcp,
        546 | 547 if !tcp => App::Dhcpv6,
        123 if !tcp => App::Ntp,
        161 | 162 if !tcp => App::Snmp,
        514 => App::Syslog,
        1900 if !tcp => App::Ssdp,
        5060 => App::Sip,
        443 if !tcp => App::Quic,
        80 | 8080 | 8000 | 3128 if tcp => App::Http,
        443 | 8443 | 993 | 995 | 465 | 636 | 853 if tcp => App::Tls,
        22 if tcp => App::Ssh,
        21 if tcp => App::Ftp,
        20 if tcp => App::FtpData,
        23 if tcp => App::Telnet,
        25 | 587 if tcp => App::Smtp,
        110 if tcp => App::Pop,
        143 if tcp => App::Imap,
        139 | 445 if tcp => App::Smb,
        389 => App::Ldap,
        88 => App::Kerberos,
        3389 if tcp => App::Rdp,
        3306 if tcp => App::Mysql,
        5432 if tcp => App::Pgsql,
        _ => return None,
    })
}

const HTTP_METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
    b"PATCH ",
    b"TRACE ",
];

/// What the payload itself says it is, before any port is consulted.
fn app_by_payload(l4: L4, b: &[u8]) -> Option<App> {
    if b.is_empty() {
        return None;
    }
    match l4 {
        L4::Tcp => {
            if b.len() >= 5 && (20..=23).contains(&b[0]) && b[1] == 3 && b[2] <= 4 {
                return Some(App::Tls);
            }
            if HTTP_METHODS.iter().any(|m| b.starts_with(m)) || b.starts_with(b"HTTP/1.") {
                return Some(App::Http);
            }
            if b.starts_with(b"SSH-") {
                return Some(App::Ssh);
            }
            if b.len() >= 8 && b[0] == 0 && (&b[4..8] == b"\xffSMB" || &b[4..8] == b"\xfeSMB") {
                return Some(App::Smb);
            }
            None
        }
        L4::Udp => {
            // QUIC long header: form bit + fixed bit, then a known version.
            if b.len() >= 7 && b[0] & 0xc0 == 0xc0 {
                let v = u32::from_be_bytes([b[1], b[2], b[3], b[4]]);
                if v == 1 || v == 0x6b33_43cf || v & 0xffff_ff00 == 0xff00_0000 {
                    return Some(App::Quic);
                }
            }
            // BOOTP/DHCP magic cookie.
            if b.len() >= 240 && b[236..240] == [0x63, 0x82, 0x53, 0x63] && b[0] <= 2 {
                return Some(App::Dhcp);
            }
            None
        }
        _ => None,
    }
}

/// Name the application protocol and read its facts. `payload` is what was captured,
/// `payload_len` what was on the wire.
fn app_layer(p: &mut Packet, l4: L4, payload: &[u8], payload_len: u32) {
    let (sp, dp) = (p.src_port.unwrap_or(0), p.dst_port.unwrap_or(0));
    let by_port = {
        let (lo, hi) = if sp <= dp { (sp, dp) } else { (dp, sp) };
        app_by_port(l4, lo).or_else(|| app_by_port(l4, hi))
    };
    let app = app_by_payload(l4, payload).or(by_port).unwrap_or(App::Unknown);
    p.app = Some(app);
    // Like tshark, the stack names an application layer only when there are bytes for it.
    if payload_len == 0 || payload.is_empty() || app == App::Unknown {
        return;
    }
    p.stack.push(Proto::App(app));
    match app {
        a if a.is_dns_like() => {
            let msg = if l4 == L4::Tcp && payload.len() > 2 {
                &payload[2..]
            } else {
                payload
            };
            p.dns = parse_dns(msg);
        }
        App::Http => parse_http(p, payload),
        App::Tls => parse_tls(p, payload),
        App::Ftp | App::Pop | App::Imap | App::Smtp | App::Telnet => p.credential = login_command(app, payload),
        _ => {}
    }
}

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

fn parse_dns(msg: &[u8]) -> Option<Dns> {
    if msg.len() < 12 {
        return None;
    }
    match simple_dns::Packet::parse(msg) {
        Ok(pkt) => {
            let q = pkt.questions.first();
            Some(Dns {
                qname: q.map(|q| name_text(&q.qname)),
                qtype: q.map(|q| u16::from(q.qtype)),
                rcode: pkt.rcode() as u8,
                response: pkt.has_flags(simple_dns::PacketFlag::RESPONSE),
                answers: pkt.answers.len() as u16,
            })
        }
        // A cut or odd message: keep the fixed header's facts.
        Err(_) => Some(Dns {
            qname: None,
            qtype: None,
            rcode: msg[3] & 0x0f,
            response: msg[2] & 0x80 != 0,
            answers: u16::from_be_bytes([msg[6], msg[7]]),
        }),
    }
}

/// Login commands of line-based protocols, described without the password.
fn login_command(app: App, b: &[u8]) -> Option<String> {
    let line_end = b
        .iter()
        .position(|&c| c == b'\r' || c == b'\n')
        .unwrap_or(b.len().min(256));
    let line = std::str::from_utf8(&b[..line_end]).ok()?.trim();
    let upper = line.to_ascii_uppercase();
    let word = |i: usize| line.split_whitespace().nth(i).unwrap_or("");
    match app {
        App::Ftp | App::Pop => {
            if upper.starts_with("USER ") {
                Some(format!("{} USER {}", app.name().to_ascii_uppercase(), word(1)))
            } else if upper.starts_with("PASS ") {
                Some(format!(
                    "{} PASS ({} chars)",
                    app.name().to_ascii_uppercase(),
                    line.len().saturating_sub(5)
                ))
            } else {
                None
            }
        }
        App::Imap => (word(1).eq_ignore_ascii_case("LOGIN")).then(|| format!("IMAP LOGIN {}", word(2))),
        App::Smtp => upper
            .starts_with("AUTH ")
            .then(|| format!("SMTP AUTH {}", word(1).to_ascii_uppercase())),
        App::Telnet => {
            let text = String::from_utf8_lossy(b).to_ascii_lowercase();
            (text.contains("login:") || text.contains("password:")).then(|| "Telnet login prompt".to_string())
        }
        _ => None,
    }
}

fn parse_http(p: &mut Packet, b: &[u8]) {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    if b.starts_with(b"HTTP/") {
        let mut resp = httparse::Response::new(&mut headers);
        let _ = resp.parse(b);
        p.http_status = resp.code;
        return;
    }
    let mut req = httparse::Request::new(&mut headers);
    // A partial parse still fills what it got through (method, path, early headers).
    let _ = req.parse(b);
    p.http_method = req.method.map(str::to_string);
    p.http_path = req.path.map(str::to_string);
    p.http_host = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("host"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .map(|s| s.trim().to_string());
    p.credential = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("authorization"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .and_then(basic_auth_user)
        .map(|user| format!("HTTP Basic user={user}"));
}

fn parse_tls(p: &mut Packet, b: &[u8]) {
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

/// The user name of an `Authorization: Basic ...` value (the password is not kept).
fn basic_auth_user(value: &str) -> Option<String> {
    use base64::Engine as _;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
    let text = String::from_utf8_lossy(&raw);
    Some(text.split_once(':').map(|(u, _)| u).unwrap_or(&text).to_string())
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

/// TCP flag bits (of `tcp_flags`).
pub mod tcp {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// Readable TCP flags: S SYN, F FIN, R RST, P PSH, A ACK, U URG, E ECE, C CWR
/// (so a SYN-ACK is `SA`, a FIN-ACK `FA`).
pub fn tcp_flags_text(f: u8) -> String {
    const ORDER: [(u8, char); 8] = [
        (0x02, 'S'),
        (0x01, 'F'),
        (0x04, 'R'),
        (0x08, 'P'),
        (0x10, 'A'),
        (0x20, 'U'),
        (0x40, 'E'),
        (0x80, 'C'),
    ];
    let s: String = ORDER.iter().filter(|(bit, _)| f & bit != 0).map(|(_, c)| *c).collect();
    if s.is_empty() { "-".into() } else { s }
}

/// `aa:bb:cc:dd:ee:ff`
pub fn mac_text(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

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

    fn eth_udp(payload: &[u8], sport: u16, dport: u16) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(sport, dport);
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    /// The fast path for plain Ethernet/IP/TCP|UDP gives exactly what the general path gives,
    /// packet by packet, over the bundled sample, a generated capture and every shared capture.
    #[test]
    fn the_fast_path_decodes_as_the_general_path() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![root.join("captures/sample.pcap")];
        match std::fs::read_dir(root.join("../shared/captures")) {
            Ok(dir) => files.extend(
                dir.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng")),
            ),
            Err(_) => eprintln!("\n*** SKIPPED the shared captures: ../shared/captures not found ***\n"),
        }
        let gen_script = root.join("../shared/bench/gen_pcap.py");
        let tmp = tempfile::tempdir().unwrap();
        let generated = tmp.path().join("gen.pcap");
        if gen_script.is_file()
            && std::process::Command::new("python3")
                .arg(&gen_script)
                .args(["--packets", "20000", "--seed", "3", "--out"])
                .arg(&generated)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        {
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

    #[test]
    fn a_stack_without_its_application_has_the_key_of_the_stack_without_it() {
        let mut base = Stack::default();
        for p in [Proto::Eth, Proto::Ip, Proto::Tcp] {
            base.push(p);
        }
        let mut with_tls = base;
        with_tls.push(Proto::App(App::Tls));
        assert_ne!(with_tls.key(), base.key());
        assert_eq!(with_tls.without_app().key(), base.key());
        assert_eq!(with_tls.without_app().text(), "eth:ip:tcp");
        // Distinct stacks, distinct keys (also when one is a prefix of the other).
        let mut longer = base;
        longer.push(Proto::Udp);
        assert_ne!(longer.key(), base.key());
        assert_ne!(Stack::default().key(), base.key());
    }

    fn decode(data: &[u8], link: u16) -> Packet {
        let mut d = Decoder::default();
        d.decode(&RawRecord {
            ts_ns: 0,
            wire_len: data.len() as u32,
            link,
            data,
        })
        .clone()
    }

    #[test]
    fn dns_query_is_decoded_with_name_and_type() {
        let mut q = simple_dns::Packet::new_query(7);
        q.questions.push(simple_dns::Question::new(
            simple_dns::Name::new_unchecked("example.com"),
            simple_dns::TYPE::AAAA.into(),
            simple_dns::CLASS::IN.into(),
            false,
        ));
        let bytes = q.build_bytes_vec().unwrap();
        let p = decode(&eth_udp(&bytes, 40000, 53), linktype::ETHERNET);
        assert_eq!(p.stack.text(), "eth:ip:udp:dns");
        let dns = p.dns.unwrap();
        assert_eq!(dns.qname.as_deref(), Some("example.com"));
        assert_eq!(dns_type_name(dns.qtype.unwrap()), "AAAA");
        assert!(!dns.response);
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
                    wire_len: (len as u32).saturating_add((rnd() % 3) as u32),
                    link,
                    data: &data,
                };
                let p = d.decode(&rec);
                let _ = p.stack.text();
            }
        }
    }

    #[test]
    fn flow_hash_tells_tuples_apart() {
        // Neighbouring addresses, ports and protocols, v4 and v6: no two ids alike.
        let mut seen = std::collections::HashSet::new();
        let mut n = 0;
        for host in 0..40u8 {
            for port in [53u16, 80, 443, 1024, 65535] {
                for proto in [6u8, 17] {
                    let v4 = flow_hash(proto, Addr::v4([10, 0, 0, host]), port, Addr::v4([10, 0, 1, 1]), 80).0;
                    let mut b = [0u8; 16];
                    b[15] = host;
                    let v6 = flow_hash(proto, Addr::v6(b), port, Addr::v6([0xfe; 16]), 80).0;
                    seen.extend([v4, v6]);
                    n += 2;
                    assert!(v4 < 1 << 63 && v6 < 1 << 63);
                }
            }
        }
        assert_eq!(seen.len(), n);
    }

    #[test]
    fn flow_hash_is_the_same_both_ways() {
        let a = Addr::v4([10, 0, 0, 1]);
        let b = Addr::v4([10, 0, 0, 2]);
        let (f1, d1) = flow_hash(6, a, 1234, b, 80);
        let (f2, d2) = flow_hash(6, b, 80, a, 1234);
        assert_eq!(f1, f2);
        assert_ne!(d1, d2);
    }
}
