//! frame: the packet and flow tables. This is the one place that names columns and their types
//! ([`PACKET_SCHEMA`], [`FLOW_SCHEMA`]); it turns decoded packets into a Polars `DataFrame`,
//! derives the flow table from it, and reads/writes the Parquet cache.
//!
//! Addresses, MACs, names and other repeated text are Polars `Categorical` columns: each row holds
//! a 4-byte code into one shared dictionary, so 10M rows of addresses cost 40 MB per column and
//! group-bys hash integers, while every user-facing path (filters against text literals, display,
//! JSON/CSV) sees text. Small fixed vocabularies (link type, transport, application, TCP flags) are
//! `Enum`s with 1–2 byte codes. See the README's design section for the measurement behind this.

use std::sync::{Arc, LazyLock};

use polars::prelude::*;

use crate::decode::order::{Fix, InOrder, Pending, QuicRow, StreamRow};
use crate::decode::reassembly::FragmentRow;
use crate::decode::stream::Segment;
use crate::decode::{self, Addr, App, L4, Packet, Proto, Stack};
use crate::error::Result;

/// Column names, so other modules never spell them by hand.
pub mod col {
    pub const FILE: &str = "file";
    pub const FRAME: &str = "frame";
    pub const TS: &str = "ts";
    pub const WIRE_LEN: &str = "wire_len";
    pub const CAP_LEN: &str = "cap_len";
    pub const TRUNCATED: &str = "truncated";
    pub const LINK_TYPE: &str = "link_type";
    pub const PROTOCOLS: &str = "protocols";
    pub const SRC_MAC: &str = "src_mac";
    pub const DST_MAC: &str = "dst_mac";
    pub const VLAN: &str = "vlan";
    pub const VLAN_INNER: &str = "vlan_inner";
    pub const ETHER_TYPE: &str = "ether_type";
    pub const IP_VERSION: &str = "ip_version";
    pub const SRC_IP: &str = "src_ip";
    pub const DST_IP: &str = "dst_ip";
    pub const TTL: &str = "ttl";
    pub const IP_PROTO: &str = "ip_proto";
    pub const FRAG: &str = "frag";
    pub const L4: &str = "l4";
    pub const SRC_PORT: &str = "src_port";
    pub const DST_PORT: &str = "dst_port";
    pub const TCP_FLAGS: &str = "tcp_flags";
    pub const TCP_FLAGS_STR: &str = "tcp_flags_str";
    pub const TCP_SEQ: &str = "tcp_seq";
    pub const TCP_ACK: &str = "tcp_ack";
    pub const TCP_WINDOW: &str = "tcp_window";
    pub const ICMP_TYPE: &str = "icmp_type";
    pub const ICMP_CODE: &str = "icmp_code";
    pub const PAYLOAD_LEN: &str = "payload_len";
    pub const APP: &str = "app";
    pub const DNS_QNAME: &str = "dns_qname";
    pub const DNS_QTYPE: &str = "dns_qtype";
    pub const DNS_RCODE: &str = "dns_rcode";
    pub const DNS_RESPONSE: &str = "dns_response";
    pub const DNS_ANSWERS: &str = "dns_answers";
    pub const HTTP_METHOD: &str = "http_method";
    pub const HTTP_HOST: &str = "http_host";
    pub const HTTP_PATH: &str = "http_path";
    pub const HTTP_STATUS: &str = "http_status";
    pub const TLS_SNI: &str = "tls_sni";
    pub const TLS_VERSION: &str = "tls_version";
    pub const ARP_OP: &str = "arp_op";
    pub const ARP_SENDER_IP: &str = "arp_sender_ip";
    pub const ARP_TARGET_IP: &str = "arp_target_ip";
    pub const CREDENTIAL: &str = "credential";
    pub const FLOW_ID: &str = "flow_id";
    pub const ERROR: &str = "error";
}

/// One column: its name, the type as users see it, and what it holds.
#[derive(Debug, Clone, Copy)]
pub struct ColumnDef {
    pub name: &'static str,
    pub kind: &'static str,
    pub meaning: &'static str,
}

const fn c(name: &'static str, kind: &'static str, meaning: &'static str) -> ColumnDef {
    ColumnDef { name, kind, meaning }
}

/// The packet table: one row per packet, in file order.
pub const PACKET_SCHEMA: &[ColumnDef] = &[
    c(col::FILE, "text", "capture file name"),
    c(
        col::FRAME,
        "u32",
        "frame number in the file, 1-based as tshark numbers them",
    ),
    c(col::TS, "datetime[ns, UTC]", "capture timestamp"),
    c(col::WIRE_LEN, "u32", "length of the frame on the wire (bytes)"),
    c(
        col::CAP_LEN,
        "u32",
        "bytes captured (less than wire_len when the snap length cut the frame)",
    ),
    c(col::TRUNCATED, "bool", "cap_len < wire_len"),
    c(
        col::LINK_TYPE,
        "enum",
        "link layer: ethernet, linux_sll, linux_sll2, raw, ipv4, ipv6, null, loop, unsupported",
    ),
    c(
        col::PROTOCOLS,
        "text",
        "protocol stack as tshark's frame.protocols names it, e.g. eth:vlan:ip:udp:dns",
    ),
    c(col::SRC_MAC, "text", "source MAC address"),
    c(col::DST_MAC, "text", "destination MAC address"),
    c(col::VLAN, "u16", "outer 802.1Q/802.1ad VLAN id"),
    c(col::VLAN_INNER, "u16", "inner VLAN id (QinQ)"),
    c(
        col::ETHER_TYPE,
        "u16",
        "ether type of the payload after any VLAN tags (2048 IPv4, 34525 IPv6, 2054 ARP)",
    ),
    c(
        col::IP_VERSION,
        "u8",
        "4 or 6; null when the frame has no readable IP header",
    ),
    c(
        col::SRC_IP,
        "text",
        "source IP address (outer header; ICMP-quoted headers are not used)",
    ),
    c(col::DST_IP, "text", "destination IP address"),
    c(col::TTL, "u8", "IPv4 TTL or IPv6 hop limit"),
    c(
        col::IP_PROTO,
        "u8",
        "IP protocol number after IPv6 extension headers (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6)",
    ),
    c(
        col::FRAG,
        "enum",
        "IP fragments: 'fragment' (not yet a whole datagram) or 'reassembled' (completes one); null if not fragmented",
    ),
    c(
        col::L4,
        "enum",
        "transport: tcp, udp, icmp, icmpv6, igmp, gre, esp, sctp, other",
    ),
    c(col::SRC_PORT, "u16", "TCP/UDP source port"),
    c(col::DST_PORT, "u16", "TCP/UDP destination port"),
    c(
        col::TCP_FLAGS,
        "u8",
        "TCP flags byte (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128)",
    ),
    c(
        col::TCP_FLAGS_STR,
        "enum",
        "TCP flags as letters S F R P A U E C, e.g. SA for SYN-ACK",
    ),
    c(col::TCP_SEQ, "u32", "TCP sequence number"),
    c(col::TCP_ACK, "u32", "TCP acknowledgment number"),
    c(col::TCP_WINDOW, "u16", "TCP window (unscaled)"),
    c(col::ICMP_TYPE, "u8", "ICMP / ICMPv6 type"),
    c(col::ICMP_CODE, "u8", "ICMP / ICMPv6 code"),
    c(col::PAYLOAD_LEN, "u32", "transport payload bytes on the wire"),
    c(
        col::APP,
        "enum",
        "application protocol, from the payload first and the ports second; 'unknown' when neither says",
    ),
    c(col::DNS_QNAME, "text", "DNS/mDNS/LLMNR query name"),
    c(col::DNS_QTYPE, "text", "DNS query type (A, AAAA, PTR, ...)"),
    c(col::DNS_RCODE, "text", "DNS response code (NOERROR, NXDOMAIN, ...)"),
    c(col::DNS_RESPONSE, "bool", "true for a DNS response, false for a query"),
    c(col::DNS_ANSWERS, "u16", "DNS answer record count"),
    c(col::HTTP_METHOD, "text", "HTTP request method"),
    c(col::HTTP_HOST, "text", "HTTP Host header"),
    c(col::HTTP_PATH, "text", "HTTP request target"),
    c(col::HTTP_STATUS, "u16", "HTTP response status code"),
    c(col::TLS_SNI, "text", "TLS server name (SNI) from a ClientHello"),
    c(
        col::TLS_VERSION,
        "text",
        "TLS version of a hello: highest offered (ClientHello) or chosen (ServerHello)",
    ),
    c(col::ARP_OP, "u8", "ARP operation (1 request, 2 reply)"),
    c(col::ARP_SENDER_IP, "text", "ARP sender protocol address"),
    c(col::ARP_TARGET_IP, "text", "ARP target protocol address"),
    c(
        col::CREDENTIAL,
        "text",
        "clear-text login seen in this packet (HTTP Basic user, FTP/POP3 USER/PASS, IMAP LOGIN, SMTP AUTH, Telnet prompt); passwords are never stored",
    ),
    c(
        col::FLOW_ID,
        "u64",
        "id of the packet's bidirectional flow (same both ways); joins to flows().flow_id; null for non-IP packets and for IPv6 fragments that do not complete a datagram",
    ),
    c(
        col::ERROR,
        "text",
        "why decoding stopped early (malformed or unsupported); null when the packet decoded fully",
    ),
];

/// Flow table column names.
pub mod fcol {
    pub const FLOW_ID: &str = "flow_id";
    pub const FILE: &str = "file";
    pub const L4: &str = "l4";
    pub const IP_VERSION: &str = "ip_version";
    pub const SRC_IP: &str = "src_ip";
    pub const SRC_PORT: &str = "src_port";
    pub const DST_IP: &str = "dst_ip";
    pub const DST_PORT: &str = "dst_port";
    pub const APP: &str = "app";
    pub const FIRST_TS: &str = "first_ts";
    pub const LAST_TS: &str = "last_ts";
    pub const DURATION_S: &str = "duration_s";
    pub const FIRST_FRAME: &str = "first_frame";
    pub const LAST_FRAME: &str = "last_frame";
    pub const PACKETS: &str = "packets";
    pub const BYTES: &str = "bytes";
    pub const PKTS_FWD: &str = "packets_fwd";
    pub const PKTS_REV: &str = "packets_rev";
    pub const BYTES_FWD: &str = "bytes_fwd";
    pub const BYTES_REV: &str = "bytes_rev";
    pub const PAYLOAD_FWD: &str = "payload_fwd";
    pub const PAYLOAD_REV: &str = "payload_rev";
    pub const SYN: &str = "syn";
    pub const SYN_ACK: &str = "syn_ack";
    pub const RST_FWD: &str = "rst_fwd";
    pub const RST_REV: &str = "rst_rev";
    pub const FIN_FWD: &str = "fin_fwd";
    pub const FIN_REV: &str = "fin_rev";
    pub const STATE: &str = "state";
    pub const CONN_STATE: &str = "conn_state";
}

/// The flow table: one row per bidirectional conversation (5-tuple) of IP packets.
pub const FLOW_SCHEMA: &[ColumnDef] = &[
    c(fcol::FLOW_ID, "u64", "flow id (packets().flow_id)"),
    c(fcol::FILE, "text", "capture file name"),
    c(fcol::L4, "enum", "transport protocol"),
    c(fcol::IP_VERSION, "u8", "4 or 6"),
    c(
        fcol::SRC_IP,
        "text",
        "originator address: sender of the first packet (the SYN sender when the first packet is a SYN-ACK's peer)",
    ),
    c(fcol::SRC_PORT, "u16", "originator port"),
    c(fcol::DST_IP, "text", "responder address"),
    c(fcol::DST_PORT, "u16", "responder port"),
    c(
        fcol::APP,
        "enum",
        "application protocol of the flow's first packet with a recognised payload (else by port)",
    ),
    c(fcol::FIRST_TS, "datetime[ns, UTC]", "first packet time"),
    c(fcol::LAST_TS, "datetime[ns, UTC]", "last packet time"),
    c(fcol::DURATION_S, "f64", "last_ts - first_ts in seconds"),
    c(fcol::FIRST_FRAME, "u32", "frame number of the first packet"),
    c(fcol::LAST_FRAME, "u32", "frame number of the last packet"),
    c(fcol::PACKETS, "u64", "packets both ways"),
    c(fcol::BYTES, "u64", "wire bytes both ways"),
    c(fcol::PKTS_FWD, "u64", "packets originator -> responder"),
    c(fcol::PKTS_REV, "u64", "packets responder -> originator"),
    c(fcol::BYTES_FWD, "u64", "wire bytes originator -> responder"),
    c(fcol::BYTES_REV, "u64", "wire bytes responder -> originator"),
    c(
        fcol::PAYLOAD_FWD,
        "u64",
        "transport payload bytes originator -> responder",
    ),
    c(
        fcol::PAYLOAD_REV,
        "u64",
        "transport payload bytes responder -> originator",
    ),
    c(fcol::SYN, "u32", "SYNs (without ACK) from the originator"),
    c(fcol::SYN_ACK, "u32", "SYN-ACKs from the responder"),
    c(fcol::RST_FWD, "u32", "RSTs from the originator"),
    c(fcol::RST_REV, "u32", "RSTs from the responder"),
    c(fcol::FIN_FWD, "u32", "FINs from the originator"),
    c(fcol::FIN_REV, "u32", "FINs from the responder"),
    c(
        fcol::STATE,
        "text",
        "TCP summary: attempted (SYN, no answer), rejected (SYN answered by RST), established, closed (FIN both ways), reset, midstream (no SYN seen); udp/icmp/other: one_way or two_way",
    ),
    c(
        fcol::CONN_STATE,
        "text",
        "Zeek-style conn_state: S0, REJ, S1, SF, RSTO, RSTR, RSTOS0, SH, OTH",
    ),
];

/// The protocol-stack table: frames and bytes per distinct `protocols` value, counted while
/// decoding (protocol share and the summary read it instead of every packet).
pub const STACK_SCHEMA: &[ColumnDef] = &[
    c(col::FILE, "text", "capture file name"),
    c(
        col::PROTOCOLS,
        "text",
        "protocol stack as in packets().protocols, e.g. eth:ip:tcp:tls (null: nothing decoded)",
    ),
    c("frames", "u64", "frames with this stack"),
    c("bytes", "u64", "wire bytes of those frames"),
];

// ---------------------------------------------------------------------------------------------
// Dictionaries

const FRAG_NAMES: [&str; 2] = ["fragment", "reassembled"];

static LINK_DTYPE: LazyLock<DataType> = LazyLock::new(|| enum_dtype(crate::capture::linktype::NAMES.iter().copied()));
pub(crate) static L4_DTYPE: LazyLock<DataType> = LazyLock::new(|| enum_dtype(L4::ALL.iter().map(|l| l.name())));
pub(crate) static APP_DTYPE: LazyLock<DataType> = LazyLock::new(|| enum_dtype(App::ALL.iter().map(|a| a.name())));
static FRAG_DTYPE: LazyLock<DataType> = LazyLock::new(|| enum_dtype(FRAG_NAMES.iter().copied()));
static FLAGS_NAMES: LazyLock<Vec<String>> = LazyLock::new(|| (0..=255u8).map(decode::tcp_flags_text).collect());
static FLAGS_DTYPE: LazyLock<DataType> = LazyLock::new(|| {
    // Several flag bytes share no letters (e.g. only the NS-less reserved bits); make them unique.
    let mut seen = std::collections::HashSet::new();
    let names: Vec<String> = FLAGS_NAMES
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if seen.insert(n.clone()) {
                n.clone()
            } else {
                format!("{n}#{i}")
            }
        })
        .collect();
    enum_dtype(names.iter().map(String::as_str))
});

fn enum_dtype<'a>(names: impl IntoIterator<Item = &'a str>) -> DataType {
    let fc = FrozenCategories::new(names).expect("enum names are unique");
    DataType::Enum(fc.clone(), fc.mapping().clone())
}

/// The shared dictionary behind every text column.
static GLOBAL_MAPPING: LazyLock<Arc<CategoricalMapping>> = LazyLock::new(|| Categories::global().mapping());

/// The dictionary behind every text column (for code that builds text columns from codes).
pub(crate) fn text_mapping() -> Arc<CategoricalMapping> {
    GLOBAL_MAPPING.clone()
}

pub(crate) fn cat_dtype() -> DataType {
    DataType::Categorical(Categories::global(), GLOBAL_MAPPING.clone())
}

/// The dtype of `tcp_flags_str`.
pub(crate) fn flags_dtype() -> DataType {
    FLAGS_DTYPE.clone()
}

/// The dtype of a schema column, for empty frames and checks.
pub fn text_dtype() -> DataType {
    cat_dtype()
}

/// Codes for repeated values, cached per thread so each distinct address or stack is formatted
/// once, not once per packet.
pub struct Interner {
    mapping: Arc<CategoricalMapping>,
    // polars' fast hasher: these lookups run once or twice per packet.
    addrs: PlHashMap<Addr, u32>,
    macs: PlHashMap<[u8; 6], u32>,
    stacks: PlHashMap<u128, u32>,
    /// Codes of DNS types / rcodes and TLS versions by number (each named once, not once per
    /// packet).
    numbered: PlHashMap<(u8, u16), u32>,
    recent_stacks: Recent<u128>,
    recent_addrs: Recent<Addr>,
    recent_macs: Recent<[u8; 6]>,
}

/// Slots in each [`Recent`] cache (a power of two).
const RECENT_BITS: u32 = 12;
/// A slot not filled yet (no code is this large).
const EMPTY: u32 = u32::MAX;

/// A direct-mapped cache in front of an interner map: most packets repeat addresses seen a
/// moment ago, and a multiply and one compare cost less than a hash map lookup.
struct Recent<K> {
    slots: Box<[(K, u32)]>,
}

impl<K: Copy + Default + PartialEq> Recent<K> {
    fn new() -> Self {
        Recent {
            slots: vec![(K::default(), EMPTY); 1 << RECENT_BITS].into_boxed_slice(),
        }
    }

    /// The code of `key` (`digest`: 64 bits of it), from the cache or else from `code_of`.
    #[inline]
    fn code(&mut self, digest: u64, key: K, code_of: impl FnOnce() -> u32) -> u32 {
        let slot = (digest.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - RECENT_BITS)) as usize;
        let (seen, code) = self.slots[slot];
        if code != EMPTY && seen == key {
            return code;
        }
        let c = code_of();
        self.slots[slot] = (key, c);
        c
    }
}

/// The code of `s` in the text dictionary (which only fails past 2^32 distinct strings).
fn intern(mapping: &CategoricalMapping, s: &str) -> u32 {
    mapping.insert_cat(s).unwrap_or(0)
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            mapping: GLOBAL_MAPPING.clone(),
            addrs: PlHashMap::default(),
            macs: PlHashMap::default(),
            stacks: PlHashMap::default(),
            numbered: PlHashMap::default(),
            recent_stacks: Recent::new(),
            recent_addrs: Recent::new(),
            recent_macs: Recent::new(),
        }
    }
}

impl Interner {
    pub fn text(&self, s: &str) -> u32 {
        intern(&self.mapping, s)
    }

    /// The code of a name that follows from a number (`kind` keeps the vocabularies apart).
    fn numbered(&mut self, kind: u8, n: u16, name: impl FnOnce(u16) -> String) -> u32 {
        let mapping = &self.mapping;
        *self
            .numbered
            .entry((kind, n))
            .or_insert_with(|| intern(mapping, &name(n)))
    }

    fn dns_type(&mut self, t: u16) -> u32 {
        self.numbered(0, t, decode::dns_type_name)
    }

    fn dns_rcode(&mut self, r: u8) -> u32 {
        self.numbered(1, r.into(), |r| decode::dns_rcode_name(r as u8).to_string())
    }

    fn tls_version(&mut self, v: u16) -> u32 {
        self.numbered(2, v, decode::tls_version_name)
    }

    fn addr(&mut self, a: Addr) -> u32 {
        let (lo, hi) = a.bytes.split_at(8);
        let fold = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
        let digest = fold(lo) ^ fold(hi).rotate_left(29) ^ u64::from(a.v6);
        let (addrs, mapping) = (&mut self.addrs, &self.mapping);
        self.recent_addrs.code(digest, a, || {
            *addrs
                .entry(a)
                .or_insert_with(|| intern(mapping, &a.to_ip().to_string()))
        })
    }

    fn mac(&mut self, m: [u8; 6]) -> u32 {
        let mut digest = [0u8; 8];
        digest[..6].copy_from_slice(&m);
        let (macs, mapping) = (&mut self.macs, &self.mapping);
        self.recent_macs.code(u64::from_le_bytes(digest), m, || {
            *macs.entry(m).or_insert_with(|| intern(mapping, &decode::mac_text(&m)))
        })
    }

    fn stack(&mut self, s: &Stack) -> Option<u32> {
        if s.is_empty() {
            return None;
        }
        let k = s.key();
        let digest = (k as u64) ^ ((k >> 64) as u64).rotate_left(17);
        let (stacks, mapping) = (&mut self.stacks, &self.mapping);
        Some(self.recent_stacks.code(digest, k, || {
            *stacks.entry(k).or_insert_with(|| intern(mapping, &s.text()))
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Column builders

/// A nullable primitive column being built.
///
/// Storage is zeroed ahead and a value is written at its row, so a null costs nothing and a
/// value one store and one bit: the decoder writes ~30 of these per packet, and the `Vec` push
/// plus bitmap push it had before were a third of a decode worker's time.
#[derive(Default)]
pub(crate) struct Col<T> {
    /// Zero (the default) where nothing was written; may run past `len`.
    values: Vec<T>,
    /// Validity bits, one per row of `values`.
    valid: Vec<u8>,
    /// Rows in the column: set by [`Col::push`], or by [`Col::rows`] for columns written by
    /// [`Col::put`].
    len: usize,
}

impl<T: Copy + Default> Col<T> {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Col {
            values: vec![T::default(); n],
            valid: vec![0; n.div_ceil(8)],
            len: 0,
        }
    }

    /// Append a row.
    #[inline]
    pub(crate) fn push(&mut self, v: Option<T>) {
        self.put(self.len, v);
        self.len += 1;
    }

    /// Write row `row` (rows never written stay null).
    #[inline]
    pub(crate) fn put(&mut self, row: usize, v: Option<T>) {
        if let Some(x) = v {
            if row >= self.values.len() {
                self.grow(row);
            }
            debug_assert!(row < self.values.len() && row >> 3 < self.valid.len());
            // SAFETY: `row` is below `values.len()` (grown just above if it was not), and `valid`
            // always holds a bit for every row of `values` (both are only sized together, in
            // `with_capacity` and `grow`). Unchecked: this runs ~30 times per decoded packet.
            unsafe {
                *self.values.get_unchecked_mut(row) = x;
                *self.valid.get_unchecked_mut(row >> 3) |= 1 << (row & 7);
            }
        }
    }

    #[cold]
    fn grow(&mut self, row: usize) {
        let n = (row + 1).max(2 * self.values.len()).max(64);
        self.values.resize(n, T::default());
        self.valid.resize(n.div_ceil(8), 0);
    }

    /// The column holds `n` rows (for columns written by [`Col::put`]).
    pub(crate) fn rows(mut self, n: usize) -> Self {
        self.len = n;
        self
    }

    fn get(&self, i: usize) -> Option<T> {
        (i < self.values.len() && self.valid[i >> 3] & (1 << (i & 7)) != 0).then(|| self.values[i])
    }

    fn set(&mut self, i: usize, v: Option<T>) {
        match v {
            Some(_) => self.put(i, v),
            None if i < self.values.len() => {
                self.values[i] = T::default();
                self.valid[i >> 3] &= !(1 << (i & 7));
            }
            None => {}
        }
    }

    fn validity(mut self) -> (Vec<T>, Option<polars_arrow::bitmap::Bitmap>) {
        let n = self.len;
        self.values.resize(n, T::default());
        self.valid.resize(n.div_ceil(8), 0);
        if !n.is_multiple_of(8)
            && let Some(last) = self.valid.last_mut()
        {
            *last &= (1u8 << (n % 8)) - 1;
        }
        let nulls = polars_arrow::bitmap::utils::count_zeros(&self.valid, 0, n);
        let bm = (nulls > 0).then(|| polars_arrow::bitmap::Bitmap::from_u8_vec(self.valid, n));
        (self.values, bm)
    }
}

pub(crate) fn prim<T: PolarsNumericType>(name: &str, c: Col<T::Native>) -> Column {
    let (v, bm) = c.validity();
    ChunkedArray::<T>::from_vec_validity(name.into(), v, bm).into_column()
}

pub(crate) fn cat32(name: &str, c: Col<u32>, dtype: DataType) -> Column {
    let (v, bm) = c.validity();
    let phys = UInt32Chunked::from_vec_validity(name.into(), v, bm);
    // SAFETY: every code came from `insert_cat` on this dtype's mapping.
    unsafe { Categorical32Chunked::from_cats_and_dtype_unchecked(phys, dtype) }
        .into_series()
        .into_column()
}

pub(crate) fn enum8(name: &str, c: Col<u8>, dtype: &DataType) -> Column {
    let (v, bm) = c.validity();
    let phys = UInt8Chunked::from_vec_validity(name.into(), v, bm);
    // SAFETY: codes are indexes into the enum's own name list.
    unsafe { Categorical8Chunked::from_cats_and_dtype_unchecked(phys, dtype.clone()) }
        .into_series()
        .into_column()
}

/// The `tcp_flags_str` column made from a `tcp_flags` column: the enum's codes are the flag bytes.
pub(crate) fn flags_text_of(flags: &Column) -> PolarsResult<Column> {
    // Widened by hand: Polars casts an empty or all-null column by filling from its shared block
    // of zeroes, and making that 8 MiB block costs ~5 ms, which every load paid through the
    // table's empty template (the 1M-packet suite from the cache went 79 -> 72 ms).
    let flags = flags.as_materialized_series().u8()?.clone();
    let chunks = flags.downcast_iter().map(|arr| {
        let values: Vec<u16> = arr.values().iter().map(|&f| u16::from(f)).collect();
        polars_arrow::array::PrimitiveArray::new(ArrowDataType::UInt16, values.into(), arr.validity().cloned())
    });
    let codes = UInt16Chunked::from_chunk_iter(col::TCP_FLAGS_STR.into(), chunks);
    // SAFETY: a u8 flag byte is always below the enum's 256 names.
    Ok(
        unsafe { Categorical16Chunked::from_cats_and_dtype_unchecked(codes, FLAGS_DTYPE.clone()) }
            .into_series()
            .into_column(),
    )
}

fn boolean(name: &str, c: Col<bool>) -> Column {
    let (v, bm) = c.validity();
    let arr = polars_arrow::array::BooleanArray::new(
        polars_arrow::datatypes::ArrowDataType::Boolean,
        v.into_iter().collect(),
        bm,
    );
    BooleanChunked::with_chunk(name.into(), arr).into_column()
}

/// Packets decoded so far, one vector per column.
pub struct PacketColumns {
    frame: Vec<u32>,
    ts: Vec<i64>,
    wire_len: Vec<u32>,
    cap_len: Vec<u32>,
    link_type: Col<u8>,
    protocols: Col<u32>,
    src_mac: Col<u32>,
    dst_mac: Col<u32>,
    vlan: Col<u16>,
    vlan_inner: Col<u16>,
    ether_type: Col<u16>,
    ip_version: Col<u8>,
    src_ip: Col<u32>,
    dst_ip: Col<u32>,
    ttl: Col<u8>,
    ip_proto: Col<u8>,
    frag: Col<u8>,
    l4: Col<u8>,
    src_port: Col<u16>,
    dst_port: Col<u16>,
    tcp_flags: Col<u8>,
    tcp_seq: Col<u32>,
    tcp_ack: Col<u32>,
    tcp_window: Col<u16>,
    icmp_type: Col<u8>,
    icmp_code: Col<u8>,
    payload_len: Col<u32>,
    app: Col<u8>,
    dns_qname: Col<u32>,
    dns_qtype: Col<u32>,
    dns_rcode: Col<u32>,
    dns_response: Col<bool>,
    dns_answers: Col<u16>,
    http_method: Col<u32>,
    http_host: Col<u32>,
    http_path: Col<u32>,
    http_status: Col<u16>,
    tls_sni: Col<u32>,
    tls_version: Col<u32>,
    arp_op: Col<u8>,
    arp_sender_ip: Col<u32>,
    arp_target_ip: Col<u32>,
    credential: Col<u32>,
    flow_id: Col<u64>,
    error: Col<u32>,
    /// Rows of this batch for the in-order pass (see [`PacketColumns::finish_in_order`]).
    pending: Pending,
}

impl PacketColumns {
    pub fn with_capacity(n: usize) -> Self {
        PacketColumns {
            frame: Vec::with_capacity(n),
            ts: Vec::with_capacity(n),
            wire_len: Vec::with_capacity(n),
            cap_len: Vec::with_capacity(n),
            link_type: Col::with_capacity(n),
            protocols: Col::with_capacity(n),
            src_mac: Col::with_capacity(n),
            dst_mac: Col::with_capacity(n),
            vlan: Col::with_capacity(n),
            vlan_inner: Col::with_capacity(n),
            ether_type: Col::with_capacity(n),
            ip_version: Col::with_capacity(n),
            src_ip: Col::with_capacity(n),
            dst_ip: Col::with_capacity(n),
            ttl: Col::with_capacity(n),
            ip_proto: Col::with_capacity(n),
            frag: Col::with_capacity(n),
            l4: Col::with_capacity(n),
            src_port: Col::with_capacity(n),
            dst_port: Col::with_capacity(n),
            tcp_flags: Col::with_capacity(n),
            tcp_seq: Col::with_capacity(n),
            tcp_ack: Col::with_capacity(n),
            tcp_window: Col::with_capacity(n),
            icmp_type: Col::with_capacity(n),
            icmp_code: Col::with_capacity(n),
            payload_len: Col::with_capacity(n),
            app: Col::with_capacity(n),
            dns_qname: Col::with_capacity(n),
            dns_qtype: Col::with_capacity(n),
            dns_rcode: Col::with_capacity(n),
            dns_response: Col::with_capacity(n),
            dns_answers: Col::with_capacity(n),
            http_method: Col::with_capacity(n),
            http_host: Col::with_capacity(n),
            http_path: Col::with_capacity(n),
            http_status: Col::with_capacity(n),
            tls_sni: Col::with_capacity(n),
            tls_version: Col::with_capacity(n),
            arp_op: Col::with_capacity(n),
            arp_sender_ip: Col::with_capacity(n),
            arp_target_ip: Col::with_capacity(n),
            credential: Col::with_capacity(n),
            flow_id: Col::with_capacity(n),
            error: Col::with_capacity(n),
            pending: Pending::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.frame.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frame.is_empty()
    }

    /// Append one decoded packet (payload bytes the trackers need are copied into the batch).
    pub fn push(&mut self, rec: &crate::capture::RawRecord<'_>, frame: u32, p: &Packet, it: &mut Interner) {
        self.push_impl(rec, frame, p, it, None);
    }

    /// Append one decoded packet whose bytes sit at `offset` in a batch buffer the caller keeps
    /// and later hands to [`track_streams`]/[`track_quic`] (no copy of payloads).
    pub fn push_at(
        &mut self,
        rec: &crate::capture::RawRecord<'_>,
        frame: u32,
        p: &Packet,
        it: &mut Interner,
        offset: usize,
    ) {
        self.push_impl(rec, frame, p, it, Some(offset));
    }

    /// Where a slice of the record's payload is (for the trackers): in the caller's batch
    /// buffer, or copied into our own.
    fn keep_bytes(
        &mut self,
        rec: &crate::capture::RawRecord<'_>,
        at: Option<usize>,
        addr: usize,
        n: usize,
    ) -> Option<(usize, usize)> {
        let base = rec.data.as_ptr() as usize;
        if n == 0 || addr < base || addr + n > base + rec.data.len() {
            return None;
        }
        let rel = addr - base;
        Some(match at {
            Some(offset) => (offset + rel, offset + rel + n),
            None => {
                let kept = &mut self.pending.bytes;
                let start = kept.len();
                kept.extend_from_slice(&rec.data[rel..rel + n]);
                (start, kept.len())
            }
        })
    }

    fn push_impl(
        &mut self,
        rec: &crate::capture::RawRecord<'_>,
        frame: u32,
        p: &Packet,
        it: &mut Interner,
        at: Option<usize>,
    ) {
        let row = self.frame.len();
        let flow = p.flow();
        self.frame.push(frame);
        self.ts.push(rec.ts_ns);
        self.wire_len.push(rec.wire_len);
        self.cap_len.push(rec.data.len() as u32);
        self.link_type.put(row, Some(crate::capture::linktype::index(rec.link)));
        // HTTP and TLS are named in the stack only where a message/record completes; the stream
        // tracker decides that later, so such segments start without the application.
        let stream_app = matches!(p.app, Some(App::Http | App::Tls)) && p.l4 == Some(L4::Tcp);
        if stream_app {
            self.protocols.put(row, it.stack(&p.stack.without_app()));
        } else {
            self.protocols.put(row, it.stack(&p.stack));
        }
        self.src_mac.put(row, p.src_mac.map(|m| it.mac(m)));
        self.dst_mac.put(row, p.dst_mac.map(|m| it.mac(m)));
        self.vlan.put(row, p.vlan);
        self.vlan_inner.put(row, p.vlan_inner);
        self.ether_type.put(row, p.ether_type);
        self.ip_version.put(row, p.ip_version);
        self.src_ip.put(row, p.src_ip.map(|a| it.addr(a)));
        self.dst_ip.put(row, p.dst_ip.map(|a| it.addr(a)));
        self.ttl.put(row, p.ttl);
        self.ip_proto.put(row, p.ip_proto);
        self.frag.put(row, p.fragment.map(|_| 0));
        self.l4.put(row, p.l4.map(|l| l as u8));
        self.src_port.put(row, p.src_port);
        self.dst_port.put(row, p.dst_port);
        self.tcp_flags.put(row, p.tcp_flags);
        self.tcp_seq.put(row, p.tcp_seq);
        self.tcp_ack.put(row, p.tcp_ack);
        self.tcp_window.put(row, p.tcp_window);
        self.icmp_type.put(row, p.icmp_type);
        self.icmp_code.put(row, p.icmp_code);
        self.payload_len.put(row, p.payload_len);
        self.app.put(row, p.app.map(|a| a as u8));
        let dns = p.dns.as_ref();
        self.dns_qname
            .put(row, dns.and_then(|d| d.qname.as_deref()).map(|s| it.text(s)));
        self.dns_qtype
            .put(row, dns.and_then(|d| d.qtype).map(|t| it.dns_type(t)));
        self.dns_rcode.put(row, dns.map(|d| it.dns_rcode(d.rcode)));
        self.dns_response.put(row, dns.map(|d| d.response));
        self.dns_answers.put(row, dns.map(|d| d.answers));
        self.http_method.put(row, p.http_method.as_deref().map(|s| it.text(s)));
        self.http_host.put(row, p.http_host.as_deref().map(|s| it.text(s)));
        self.http_path.put(row, p.http_path.as_deref().map(|s| it.text(s)));
        self.http_status.put(row, p.http_status);
        self.tls_sni.put(row, p.tls_sni.as_deref().map(|s| it.text(s)));
        self.tls_version.put(row, p.tls_version.map(|v| it.tls_version(v)));
        self.arp_op.put(row, p.arp_op.map(|o| o.min(255) as u8));
        self.arp_sender_ip.put(row, p.arp_sender_ip.map(|a| it.addr(a)));
        self.arp_target_ip.put(row, p.arp_target_ip.map(|a| it.addr(a)));
        self.credential.put(row, p.credential.as_deref().map(|s| it.text(s)));
        // IPv6 fragments belong to no flow until one completes a datagram (the reassembly pass
        // then gives that frame its flow), as tshark's conversation and endpoint tables count
        // them; IPv4 fragments all count there.
        let v6_fragment = p.fragment.is_some() && p.ip_version == Some(6);
        self.flow_id.put(row, flow.filter(|_| !v6_fragment).map(|(id, _)| id));
        self.error.put(row, p.error.as_deref().map(|s| it.text(s)));
        let syn = p.tcp_flags.is_some_and(|f| f & decode::tcp::SYN != 0);
        let fin = p.tcp_flags.is_some_and(|f| f & decode::tcp::FIN != 0);
        let wire_payload = p.payload_len.unwrap_or(0);
        if stream_app
            && (wire_payload > 0 || syn || fin)
            && let (Some((flow, from_lo)), Some(seq), Some(app)) = (flow, p.tcp_seq, p.app)
        {
            let (addr, n) = p.tcp_payload.unwrap_or((0, 0));
            let bytes = self.keep_bytes(rec, at, addr, n).unwrap_or((0, 0));
            self.pending.streams.push(StreamRow {
                row,
                seg: Segment {
                    flow,
                    from_lo,
                    seq,
                    syn,
                    fin,
                    app,
                    wire_len: wire_payload,
                },
                bytes,
                stack: p.stack,
            });
        }
        if let (Some((addr, n)), Some((flow, from_lo))) = (p.quic_initial, flow)
            && let Some(bytes) = self.keep_bytes(rec, at, addr, n)
        {
            let mut stack = p.stack;
            stack.push(Proto::App(App::Tls));
            self.pending.quic.push(QuicRow {
                row,
                flow,
                from_lo,
                bytes,
                stack,
            });
        }
        if let (Some(frag), Some(src), Some(dst), Some(proto)) = (p.fragment, p.src_ip, p.dst_ip, p.ip_proto) {
            self.pending.fragments.push(FragmentRow {
                row,
                proto,
                src,
                dst,
                frag,
            });
        }
    }

    /// Run the in-order pass over this batch (batches in file order) and apply what it finds:
    /// fragments that complete a datagram get its upper layers and flow, segments and QUIC
    /// Initials that complete a message get the application in their stack (and a hello's SNI
    /// and version). `batch` is the buffer given to [`push_at`](Self::push_at), or None after
    /// [`push`](Self::push).
    pub fn finish_in_order(&mut self, order: &mut InOrder, it: &mut Interner, batch: Option<&[u8]>) {
        let mut pending = std::mem::take(&mut self.pending);
        order.run(&mut pending, batch, |fix| self.apply(fix, it));
        self.pending = pending;
    }

    fn apply(&mut self, fix: Fix, it: &mut Interner) {
        match fix {
            Fix::Reassembled { row, first, flow_id } => {
                self.frag.set(row, Some(1));
                if let Some(first) = first {
                    self.protocols.set(row, it.stack(&first.stack));
                    self.l4.set(row, Some(first.l4 as u8));
                    self.src_port.set(row, first.src_port);
                    self.dst_port.set(row, first.dst_port);
                    self.app.set(row, first.app.map(|a| a as u8));
                    self.flow_id.set(row, Some(flow_id));
                } else if self.flow_id.get(row).is_none() {
                    self.flow_id.set(row, Some(flow_id));
                }
            }
            Fix::Completes { row, stack } => self.protocols.set(row, it.stack(&stack)),
            Fix::Hello {
                row,
                stack,
                sni,
                version,
            } => {
                self.protocols.set(row, it.stack(&stack));
                if let Some(sni) = sni {
                    self.tls_sni.set(row, Some(it.text(&sni)));
                }
                if let Some(v) = version {
                    self.tls_version.set(row, Some(it.tls_version(v)));
                }
            }
        }
    }

    /// Correct the captured length of the last packet (the loader hands decoders only the first
    /// bytes of very long frames).
    pub fn set_cap_len_last(&mut self, cap_len: u32) {
        if let Some(last) = self.cap_len.last_mut() {
            *last = cap_len;
        }
    }

    /// Build the `DataFrame` for one batch of a capture file.
    pub fn into_frame(self, file_code: u32) -> Result<DataFrame> {
        let n = self.frame.len();
        let truncated: BooleanChunked = self
            .wire_len
            .iter()
            .zip(&self.cap_len)
            .map(|(w, c)| c < w)
            .collect_ca(col::TRUNCATED.into());
        let file = Col {
            values: vec![file_code; n],
            valid: vec![u8::MAX; n.div_ceil(8)],
            len: n,
        };
        let ts = Int64Chunked::from_vec(col::TS.into(), self.ts)
            .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
            .into_column();
        let tcp_flags = prim::<UInt8Type>(col::TCP_FLAGS, self.tcp_flags.rows(n));
        // The letters are the flag byte seen through an enum: made from it, not kept apart.
        let tcp_flags_str = flags_text_of(&tcp_flags)?;
        let columns = vec![
            cat32(col::FILE, file, cat_dtype()),
            UInt32Chunked::from_vec(col::FRAME.into(), self.frame).into_column(),
            ts,
            UInt32Chunked::from_vec(col::WIRE_LEN.into(), self.wire_len).into_column(),
            UInt32Chunked::from_vec(col::CAP_LEN.into(), self.cap_len).into_column(),
            truncated.into_column(),
            enum8(col::LINK_TYPE, self.link_type.rows(n), &LINK_DTYPE),
            cat32(col::PROTOCOLS, self.protocols.rows(n), cat_dtype()),
            cat32(col::SRC_MAC, self.src_mac.rows(n), cat_dtype()),
            cat32(col::DST_MAC, self.dst_mac.rows(n), cat_dtype()),
            prim::<UInt16Type>(col::VLAN, self.vlan.rows(n)),
            prim::<UInt16Type>(col::VLAN_INNER, self.vlan_inner.rows(n)),
            prim::<UInt16Type>(col::ETHER_TYPE, self.ether_type.rows(n)),
            prim::<UInt8Type>(col::IP_VERSION, self.ip_version.rows(n)),
            cat32(col::SRC_IP, self.src_ip.rows(n), cat_dtype()),
            cat32(col::DST_IP, self.dst_ip.rows(n), cat_dtype()),
            prim::<UInt8Type>(col::TTL, self.ttl.rows(n)),
            prim::<UInt8Type>(col::IP_PROTO, self.ip_proto.rows(n)),
            enum8(col::FRAG, self.frag.rows(n), &FRAG_DTYPE),
            enum8(col::L4, self.l4.rows(n), &L4_DTYPE),
            prim::<UInt16Type>(col::SRC_PORT, self.src_port.rows(n)),
            prim::<UInt16Type>(col::DST_PORT, self.dst_port.rows(n)),
            tcp_flags,
            tcp_flags_str,
            prim::<UInt32Type>(col::TCP_SEQ, self.tcp_seq.rows(n)),
            prim::<UInt32Type>(col::TCP_ACK, self.tcp_ack.rows(n)),
            prim::<UInt16Type>(col::TCP_WINDOW, self.tcp_window.rows(n)),
            prim::<UInt8Type>(col::ICMP_TYPE, self.icmp_type.rows(n)),
            prim::<UInt8Type>(col::ICMP_CODE, self.icmp_code.rows(n)),
            prim::<UInt32Type>(col::PAYLOAD_LEN, self.payload_len.rows(n)),
            enum8(col::APP, self.app.rows(n), &APP_DTYPE),
            cat32(col::DNS_QNAME, self.dns_qname.rows(n), cat_dtype()),
            cat32(col::DNS_QTYPE, self.dns_qtype.rows(n), cat_dtype()),
            cat32(col::DNS_RCODE, self.dns_rcode.rows(n), cat_dtype()),
            boolean(col::DNS_RESPONSE, self.dns_response.rows(n)),
            prim::<UInt16Type>(col::DNS_ANSWERS, self.dns_answers.rows(n)),
            cat32(col::HTTP_METHOD, self.http_method.rows(n), cat_dtype()),
            cat32(col::HTTP_HOST, self.http_host.rows(n), cat_dtype()),
            cat32(col::HTTP_PATH, self.http_path.rows(n), cat_dtype()),
            prim::<UInt16Type>(col::HTTP_STATUS, self.http_status.rows(n)),
            cat32(col::TLS_SNI, self.tls_sni.rows(n), cat_dtype()),
            cat32(col::TLS_VERSION, self.tls_version.rows(n), cat_dtype()),
            prim::<UInt8Type>(col::ARP_OP, self.arp_op.rows(n)),
            cat32(col::ARP_SENDER_IP, self.arp_sender_ip.rows(n), cat_dtype()),
            cat32(col::ARP_TARGET_IP, self.arp_target_ip.rows(n), cat_dtype()),
            cat32(col::CREDENTIAL, self.credential.rows(n), cat_dtype()),
            prim::<UInt64Type>(col::FLOW_ID, self.flow_id.rows(n)),
            cat32(col::ERROR, self.error.rows(n), cat_dtype()),
        ];
        Ok(DataFrame::new(n, columns)?)
    }
}

/// A table that cannot be given: a lazy frame whose collect fails with `reason` (as a missing
/// column), so a query that reaches it reports why instead of reading nothing.
pub fn unavailable(reason: impl Into<PlSmallStr>) -> LazyFrame {
    DataFrame::empty().lazy().select([polars::prelude::col(reason.into())])
}

/// A frame with every packet column and no rows (an empty capture).
pub fn empty_packets() -> Result<DataFrame> {
    PacketColumns::with_capacity(0).into_frame(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_frame_has_every_schema_column_in_order() {
        let df = empty_packets().unwrap();
        let names: Vec<_> = df.get_column_names().iter().map(|s| s.to_string()).collect();
        let want: Vec<_> = PACKET_SCHEMA.iter().map(|d| d.name.to_string()).collect();
        assert_eq!(names, want);
    }

    #[test]
    fn col_rows_written_out_of_order_past_capacity_and_cleared_read_back() {
        let mut c = Col::<u16>::with_capacity(4);
        c.put(1, Some(7));
        c.put(2, None);
        c.put(9, Some(9)); // past the capacity: grows
        c.set(1, None);
        c.set(3, Some(3));
        assert_eq!(
            (c.get(1), c.get(3), c.get(9), c.get(100)),
            (None, Some(3), Some(9), None)
        );
        let (values, valid) = c.rows(11).validity();
        assert_eq!(values, vec![0, 0, 0, 3, 0, 0, 0, 0, 0, 9, 0]);
        let valid: Vec<bool> = valid.expect("has nulls").iter().collect();
        let want: Vec<bool> = (0..11).map(|i| i == 3 || i == 9).collect();
        assert_eq!(valid, want);

        // Every row set: no validity bitmap at all; appends count their rows.
        let mut c = Col::<u8>::with_capacity(2);
        for i in 0..10 {
            c.push(Some(i));
        }
        assert_eq!(c.validity(), ((0..10).collect::<Vec<u8>>(), None));
    }

    #[test]
    fn columns_with_runs_of_nulls_build_what_was_pushed_and_set() {
        // A model of every push and set, against the column that writes null runs late.
        let mut col = Col::<u32>::with_capacity(0);
        let mut model: Vec<Option<u32>> = Vec::new();
        let mut x = 12345u32;
        for i in 0..5000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let v = x.is_multiple_of(7).then_some(i);
            col.push(v);
            model.push(v);
            if x.is_multiple_of(11) {
                // Set a row that may still be a pending null, or clear a value.
                let row = (x as usize / 13) % model.len();
                let v = x.is_multiple_of(2).then_some(u32::MAX - i);
                col.set(row, v);
                model[row] = v;
            }
            let probe = (x as usize / 17) % model.len();
            assert_eq!(col.get(probe), model[probe], "row {probe} after push {i}");
        }
        for _ in 0..3 {
            col.push(None);
            model.push(None);
        }
        let built = prim::<UInt32Type>("c", col);
        let want: Vec<Option<u32>> = built.u32().unwrap().iter().collect();
        assert_eq!(want, model);
        assert_eq!(built.null_count(), model.iter().filter(|v| v.is_none()).count());
    }

    #[test]
    fn interned_addresses_and_macs_read_back_through_the_recent_caches() {
        let mut it = Interner::default();
        let mapping = text_mapping();
        // Far more keys than cache slots, each asked for twice in different orders, so slots are
        // shared and overwritten; v4 and v6 keys with equal leading bytes too.
        let addrs: Vec<Addr> = (0..20_000u32)
            .flat_map(|i| {
                let b = i.to_be_bytes();
                let mut v6 = [0u8; 16];
                v6[..4].copy_from_slice(&b);
                [Addr::v4(b), Addr::v6(v6)]
            })
            .collect();
        for round in 0..2 {
            for (k, a) in addrs.iter().enumerate() {
                let a = if round == 0 { *a } else { addrs[addrs.len() - 1 - k] };
                let code = it.addr(a);
                assert_eq!(mapping.cat_to_str(code), Some(a.to_ip().to_string().as_str()));
            }
        }
        for round in 0..2u8 {
            for i in 0..10_000u32 {
                let b = (i.wrapping_mul(7919) ^ u32::from(round)).to_be_bytes();
                let m = [2, 0, b[0], b[1], b[2], b[3]];
                let code = it.mac(m);
                assert_eq!(mapping.cat_to_str(code), Some(decode::mac_text(&m).as_str()));
            }
        }
    }

    #[test]
    fn schema_kinds_match_dtypes() {
        let df = empty_packets().unwrap();
        for d in PACKET_SCHEMA {
            let dt = df.column(d.name).unwrap().dtype().clone();
            let ok = match d.kind {
                "text" => matches!(dt, DataType::Categorical(..)),
                "enum" => matches!(dt, DataType::Enum(..)),
                "bool" => dt == DataType::Boolean,
                "u8" => dt == DataType::UInt8,
                "u16" => dt == DataType::UInt16,
                "u32" => dt == DataType::UInt32,
                "u64" => dt == DataType::UInt64,
                k if k.starts_with("datetime") => matches!(dt, DataType::Datetime(..)),
                _ => false,
            };
            assert!(ok, "{}: schema says {}, frame has {dt:?}", d.name, d.kind);
        }
    }
}
