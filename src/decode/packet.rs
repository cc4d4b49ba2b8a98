//! packet: the facts one decoded frame carries ([`Packet`]), its addresses, fragments and flow id.

use crate::decode::protocol::{App, L4, Stack};

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

    /// A multicast group (224.0.0.0/4, ff00::/8).
    pub fn is_multicast(self) -> bool {
        if self.v6 {
            self.bytes[0] == 0xff
        } else {
            (224..=239).contains(&self.bytes[0])
        }
    }

    pub fn to_ip(self) -> std::net::IpAddr {
        if self.v6 {
            std::net::IpAddr::from(self.bytes)
        } else {
            std::net::IpAddr::from([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]])
        }
    }
}

/// The inverse of [`Addr::to_ip`].
impl From<std::net::IpAddr> for Addr {
    fn from(ip: std::net::IpAddr) -> Addr {
        match ip {
            std::net::IpAddr::V4(a) => Addr::v4(a.octets()),
            std::net::IpAddr::V6(a) => Addr::v6(a.octets()),
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

/// The header an ICMP error quotes: whose packet failed, and where it was going.
#[derive(Debug, Clone, Copy)]
pub struct Quoted {
    pub l4: Option<L4>,
    pub src_ip: Addr,
    pub dst_ip: Addr,
    /// TCP/UDP ports, when the quote reaches them.
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
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
    /// The IP header's total length (IPv6: 40 + payload length): bytes on the wire from the IP
    /// header on, as Zeek's `ip_bytes` count them.
    pub ip_len: Option<u32>,
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
    /// The packet an ICMP/ICMPv6 error quotes (the probe a port-unreachable answers).
    pub quoted: Option<Quoted>,
    /// Transport payload bytes on the wire (from the headers' length fields).
    pub payload_len: Option<u32>,
    pub app: Option<App>,
    /// The DNS message this packet carries (the packet table keeps its [`Dns`] summary; the
    /// dns table takes the message whole).
    pub dns: Option<crate::decode::dns::DnsMessage>,
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
    /// The application protocol this packet alone confirms (see [`crate::decode::service`]).
    pub service: Option<crate::decode::service::Service>,
    pub error: Option<String>,
    /// The record holds fewer bytes than the wire did (snap length): running out of bytes is
    /// then expected, not an error.
    pub cut: bool,
    /// Address and length of the captured TCP payload inside the record (for stream tracking).
    pub tcp_payload: Option<(usize, usize)>,
    /// The same for a QUIC Initial's UDP payload (for the QUIC handshake tracker).
    pub quic_initial: Option<(usize, usize)>,
    /// The same for an IP fragment's data (for reassembly).
    pub fragment_data: Option<(usize, usize)>,
}

impl Packet {
    pub(crate) fn reset(&mut self) {
        // Field by field: `*self = Packet::default()` built a 608-byte default and copied it
        // over the packet (a memset and a memcpy per packet, 10 % of a decoder's time); this
        // writes each field's "none". Destructured, so a new field cannot be forgotten.
        let Packet {
            stack,
            src_mac,
            dst_mac,
            vlan,
            vlan_inner,
            ether_type,
            ip_version,
            src_ip,
            dst_ip,
            ttl,
            ip_proto,
            ip_len,
            fragment,
            l4,
            src_port,
            dst_port,
            tcp_flags,
            tcp_seq,
            tcp_ack,
            tcp_window,
            icmp_type,
            icmp_code,
            quoted,
            payload_len,
            app,
            dns,
            http_method,
            http_host,
            http_path,
            http_status,
            tls_sni,
            tls_version,
            arp_op,
            arp_sender_ip,
            arp_target_ip,
            credential,
            service,
            error,
            tcp_payload,
            quic_initial,
            fragment_data,
            cut,
        } = self;
        *stack = Stack::default();
        *src_mac = None;
        *dst_mac = None;
        *vlan = None;
        *vlan_inner = None;
        *ether_type = None;
        *ip_version = None;
        *src_ip = None;
        *dst_ip = None;
        *ttl = None;
        *ip_proto = None;
        *ip_len = None;
        *fragment = None;
        *l4 = None;
        *src_port = None;
        *dst_port = None;
        *tcp_flags = None;
        *tcp_seq = None;
        *tcp_ack = None;
        *tcp_window = None;
        *icmp_type = None;
        *icmp_code = None;
        *quoted = None;
        *payload_len = None;
        *app = None;
        *dns = None;
        *http_method = None;
        *http_host = None;
        *http_path = None;
        *http_status = None;
        *tls_sni = None;
        *tls_version = None;
        *arp_op = None;
        *arp_sender_ip = None;
        *arp_target_ip = None;
        *credential = None;
        *service = None;
        *error = None;
        *tcp_payload = None;
        *quic_initial = None;
        *fragment_data = None;
        *cut = false;
    }

    pub(crate) fn set_error(&mut self, msg: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(msg.into());
        }
    }

    /// The 64-bit id of this packet's bidirectional conversation (same value both ways), and
    /// whether this packet goes from the lower endpoint to the higher one.
    ///
    /// An ICMP message's "ports" are its type and the type that answers it (or its code, for a
    /// message nothing answers), as Zeek and Community ID key ICMP: an echo request and its
    /// reply are one flow, a port-unreachable is a flow of its own.
    pub fn flow(&self) -> Option<(u64, bool)> {
        let (src, dst) = (self.src_ip?, self.dst_ip?);
        let proto = self.ip_proto?;
        let (sport, dport) = match (self.l4, self.icmp_type) {
            (Some(L4::Icmp | L4::Icmpv6), Some(t)) => {
                let (s, d, _) = icmp_ports(self.l4 == Some(L4::Icmpv6), t, self.icmp_code.unwrap_or(0));
                (s, d)
            }
            _ => (self.src_port.unwrap_or(0), self.dst_port.unwrap_or(0)),
        };
        Some(flow_hash(proto, src, sport, dst, dport))
    }
}

/// The "ports" of an ICMP message as Zeek and Community ID define them: its type, and the type
/// of the message that answers it (echo request 8 / reply 0, ...) or, when none does, its code;
/// the flag says none does (a one-way message).
pub fn icmp_ports(v6: bool, icmp_type: u8, code: u8) -> (u16, u16, bool) {
    let counterpart = if v6 {
        match icmp_type {
            128 => Some(129),
            129 => Some(128),
            133 => Some(134),
            134 => Some(133),
            135 => Some(136),
            136 => Some(135),
            130 => Some(131),
            131 => Some(130),
            139 => Some(140),
            140 => Some(139),
            144 => Some(145),
            145 => Some(144),
            _ => None,
        }
    } else {
        match icmp_type {
            8 => Some(0),
            0 => Some(8),
            13 => Some(14),
            14 => Some(13),
            15 => Some(16),
            16 => Some(15),
            10 => Some(9),
            9 => Some(10),
            17 => Some(18),
            18 => Some(17),
            _ => None,
        }
    };
    match counterpart {
        Some(c) => (u16::from(icmp_type), c, false),
        None => (u16::from(icmp_type), u16::from(code), true),
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

/// A map keyed by flow ids (or by a flow id and a direction). Flow ids are hashes already, so
/// the map's hasher only folds the key's words together instead of hashing them again.
pub type FlowMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FlowHasher>>;

/// The hasher of [`FlowMap`]: each word written is folded in with one multiply.
#[derive(Default)]
pub struct FlowHasher(u64);

impl std::hash::Hasher for FlowHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        // The high bits of a multiply mix every bit of the input (hashbrown reads the top 7 bits
        // for its control bytes and the low bits for the slot).
        let m = u128::from(self.0 ^ i) * 0x9E37_79B9_7F4A_7C15;
        self.0 = (m as u64) ^ ((m >> 64) as u64);
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
