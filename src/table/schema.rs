//! schema: the one place that names the tables' columns and their types ([`PACKET_SCHEMA`],
//! [`FLOW_SCHEMA`], [`STACK_SCHEMA`]), with what each column means (`netql schema`, the shell's
//! `.schema` and the MCP `describe_schema` tool print these), and the Polars types behind them.
//!
//! Addresses, MACs, names and other repeated text are Polars `Categorical` columns: each row holds
//! a 4-byte code into one shared dictionary, so 10M rows of addresses cost 40 MB per column and
//! group-bys hash integers, while every user-facing path (filters against text literals, display,
//! JSON/CSV) sees text; the decoder formats each distinct address once. Small fixed vocabularies
//! (link type, transport, application, TCP flag letters, fragment state) are `Enum`s with 1–2 byte
//! codes. Measured by `netql bench` on the `src_ip` column of the generated 10M-packet capture
//! (release build, 2 cores):
//!
//! | representation       | bytes/row | `group_by(src_ip).agg(len)` | cost to build                          |
//! |----------------------|-----------|-----------------------------|----------------------------------------|
//! | Categorical (chosen) | 4.1       | 188 ms                      | one string per distinct address        |
//! | String (Utf8View)    | 10.9      | 315 ms                      | 318 ms per column to format 10M values |
//!
//! Held in memory, each chunk of an address column is packed further (8/16-bit codes into a chunk
//! dictionary, 1.4 B/row at 10M; see [`crate::table::packed`]).

use std::sync::{Arc, LazyLock};

use polars::prelude::*;

use crate::decode::{self, App, L4};

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
    pub const IP_LEN: &str = "ip_len";
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
    pub const QUOTED_L4: &str = "quoted_l4";
    pub const QUOTED_SRC_IP: &str = "quoted_src_ip";
    pub const QUOTED_DST_IP: &str = "quoted_dst_ip";
    pub const QUOTED_SRC_PORT: &str = "quoted_src_port";
    pub const QUOTED_DST_PORT: &str = "quoted_dst_port";
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
        col::IP_LEN,
        "u32",
        "IP total length from the header (IPv6: 40 + payload length): the packet's bytes from the IP header on, as Zeek's ip_bytes count them",
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
    c(
        col::QUOTED_L4,
        "enum",
        "ICMP/ICMPv6 errors (unreachable, time exceeded, ...): transport of the packet the error quotes; null otherwise",
    ),
    c(
        col::QUOTED_SRC_IP,
        "text",
        "ICMP errors: source address of the quoted packet (the host whose packet failed)",
    ),
    c(
        col::QUOTED_DST_IP,
        "text",
        "ICMP errors: destination address of the quoted packet (where it was going)",
    ),
    c(
        col::QUOTED_SRC_PORT,
        "u16",
        "ICMP errors: TCP/UDP source port of the quoted packet",
    ),
    c(
        col::QUOTED_DST_PORT,
        "u16",
        "ICMP errors: TCP/UDP destination port of the quoted packet (the probed port)",
    ),
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
    pub const SERVICE: &str = "service";
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
    pub const ORIG_BYTES: &str = "orig_bytes";
    pub const RESP_BYTES: &str = "resp_bytes";
    pub const MISSED_BYTES: &str = "missed_bytes";
    pub const ORIG_IP_BYTES: &str = "orig_ip_bytes";
    pub const RESP_IP_BYTES: &str = "resp_ip_bytes";
    pub const SYN: &str = "syn";
    pub const SYN_ACK: &str = "syn_ack";
    pub const RST_FWD: &str = "rst_fwd";
    pub const RST_REV: &str = "rst_rev";
    pub const FIN_FWD: &str = "fin_fwd";
    pub const FIN_REV: &str = "fin_rev";
    pub const STATE: &str = "state";
    pub const CONN_STATE: &str = "conn_state";
    pub const HISTORY: &str = "history";
    pub const COMMUNITY_ID: &str = "community_id";
}

/// The flow table: one row per bidirectional conversation (5-tuple) of IP packets, with Zeek's
/// conn.log meaning where a column has Zeek's name.
pub const FLOW_SCHEMA: &[ColumnDef] = &[
    c(
        fcol::FLOW_ID,
        "u64",
        "flow id (packets().flow_id); `netql carve CAPTURE --flow ID` writes its packets to a pcap",
    ),
    c(fcol::FILE, "text", "capture file name"),
    c(fcol::L4, "enum", "transport protocol"),
    c(fcol::IP_VERSION, "u8", "4 or 6"),
    c(
        fcol::SRC_IP,
        "text",
        "originator address, as Zeek decides it: the sender of the first packet, unless that packet came from a well-known server port (then its receiver) or the capture began at a SYN-ACK that data followed",
    ),
    c(
        fcol::SRC_PORT,
        "u16",
        "originator port; for ICMP the message type (as Zeek's id.orig_p)",
    ),
    c(fcol::DST_IP, "text", "responder address"),
    c(
        fcol::DST_PORT,
        "u16",
        "responder port; for ICMP the answering type (echo 8 -> 0) or else the code (as Zeek's id.resp_p)",
    ),
    c(
        fcol::APP,
        "enum",
        "application protocol of the flow's first packet with a recognised payload (else by port)",
    ),
    c(
        fcol::SERVICE,
        "text",
        "protocols confirmed by what was decoded, in order, with Zeek's names: dns, http, ssl, quic, ssh, ftp, smtp, dhcp, ntp, snmp, syslog, sip, smb, ... (e.g. 'quic,ssl'); null when none was (a port alone confirms nothing)",
    ),
    c(fcol::FIRST_TS, "datetime[ns, UTC]", "first packet time"),
    c(fcol::LAST_TS, "datetime[ns, UTC]", "last packet time"),
    c(
        fcol::DURATION_S,
        "f64",
        "seconds from the first packet to the last (Zeek's duration: for TCP, to the last packet before both sides had closed)",
    ),
    c(fcol::FIRST_FRAME, "u32", "frame number of the first packet"),
    c(fcol::LAST_FRAME, "u32", "frame number of the last packet"),
    c(fcol::PACKETS, "u64", "packets both ways"),
    c(fcol::BYTES, "u64", "wire bytes both ways"),
    c(
        fcol::PKTS_FWD,
        "u64",
        "packets originator -> responder (Zeek's orig_pkts)",
    ),
    c(
        fcol::PKTS_REV,
        "u64",
        "packets responder -> originator (Zeek's resp_pkts)",
    ),
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
    c(
        fcol::ORIG_BYTES,
        "u64",
        "bytes the originator sent as Zeek counts them: for TCP the sequence space used (gaps included, SYN/FIN not), for UDP/ICMP the payload",
    ),
    c(fcol::RESP_BYTES, "u64", "the same for the responder"),
    c(
        fcol::MISSED_BYTES,
        "u64",
        "bytes acknowledged but never seen (content gaps), as Zeek's missed_bytes",
    ),
    c(
        fcol::ORIG_IP_BYTES,
        "u64",
        "IP total lengths of the originator's packets summed (Zeek's orig_ip_bytes)",
    ),
    c(fcol::RESP_IP_BYTES, "u64", "the same for the responder"),
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
        "Zeek's conn_state: S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH (ICMP and other transports: OTH)",
    ),
    c(
        fcol::HISTORY,
        "text",
        "Zeek's history letters (S syn, h syn-ack, a ack, d data, f fin, r rst, t retransmission, w zero window, g gap, i fin+rst, q multi-flag; upper case from the originator; t/w/g written again at 10, 100, ... times; ^ the roles were flipped); UDP: D/d; null for ICMP",
    ),
    c(
        fcol::COMMUNITY_ID,
        "string",
        "Community ID v1 of the flow (as Zeek, Suricata, Arkime log it; seed from [decode] community_id_seed)",
    ),
];

/// Columns every transaction table (dns, http, tls) has, named alike.
pub mod tcol {
    pub const TS: &str = "ts";
    pub const FILE: &str = "file";
    pub const FLOW_ID: &str = "flow_id";
    pub const COMMUNITY_ID: &str = "community_id";
    pub const SRC_IP: &str = "src_ip";
    pub const SRC_PORT: &str = "src_port";
    pub const DST_IP: &str = "dst_ip";
    pub const DST_PORT: &str = "dst_port";
}

/// HTTP table column names.
pub mod hcol {
    pub use super::tcol::*;
    pub const TRANS_DEPTH: &str = "trans_depth";
    pub const METHOD: &str = "method";
    pub const HOST: &str = "host";
    pub const URI: &str = "uri";
    pub const REFERRER: &str = "referrer";
    pub const VERSION: &str = "version";
    pub const USER_AGENT: &str = "user_agent";
    pub const ORIGIN: &str = "origin";
    pub const REQUEST_BODY_LEN: &str = "request_body_len";
    pub const RESPONSE_BODY_LEN: &str = "response_body_len";
    pub const STATUS_CODE: &str = "status_code";
    pub const STATUS_MSG: &str = "status_msg";
    pub const INFO_CODE: &str = "info_code";
    pub const INFO_MSG: &str = "info_msg";
    pub const USERNAME: &str = "username";
    pub const PROXIED: &str = "proxied";
    pub const REQUEST_CONTENT_TYPE: &str = "request_content_type";
    pub const RESPONSE_CONTENT_TYPE: &str = "response_content_type";
    pub const REQUEST_FRAME: &str = "request_frame";
    pub const RESPONSE_FRAME: &str = "response_frame";
}

/// The HTTP table: one row per HTTP/1.x request/response pair, as Zeek's http.log makes them.
pub const HTTP_SCHEMA: &[ColumnDef] = &[
    c(
        hcol::TS,
        "datetime[ns, UTC]",
        "time of the request (of the response when no request was seen)",
    ),
    c(hcol::FILE, "text", "capture file name"),
    c(hcol::FLOW_ID, "u64", "the connection (flows().flow_id)"),
    c(hcol::COMMUNITY_ID, "string", "Community ID of the connection"),
    c(hcol::SRC_IP, "text", "client: the connection's originator"),
    c(hcol::SRC_PORT, "u16", "client port"),
    c(hcol::DST_IP, "text", "server address"),
    c(hcol::DST_PORT, "u16", "server port"),
    c(
        hcol::TRANS_DEPTH,
        "u32",
        "1 for the connection's first request, 2 for the next (pipelined or kept alive) ...",
    ),
    c(
        hcol::METHOD,
        "text",
        "request method (GET, POST, ...); null for a response whose request was not seen",
    ),
    c(hcol::HOST, "text", "Host header of the request"),
    c(
        hcol::URI,
        "text",
        "request target, %XX sequences decoded (as Zeek logs it)",
    ),
    c(hcol::REFERRER, "text", "Referer header"),
    c(hcol::VERSION, "text", "HTTP version of the response (1.0, 1.1)"),
    c(hcol::USER_AGENT, "text", "User-Agent header"),
    c(hcol::ORIGIN, "text", "Origin header"),
    c(
        hcol::REQUEST_BODY_LEN,
        "u64",
        "request body bytes (chunk framing not counted; gzip/deflate bodies counted decoded, as Zeek does)",
    ),
    c(
        hcol::RESPONSE_BODY_LEN,
        "u64",
        "response body bytes, counted the same way",
    ),
    c(
        hcol::STATUS_CODE,
        "u16",
        "final response status (200, 404, ...); null while unanswered",
    ),
    c(hcol::STATUS_MSG, "text", "its reason phrase"),
    c(
        hcol::INFO_CODE,
        "u16",
        "last informational (1xx) status before the final one",
    ),
    c(hcol::INFO_MSG, "text", "its reason phrase"),
    c(
        hcol::USERNAME,
        "text",
        "user of a Basic Authorization header (the password is never kept)",
    ),
    c(
        hcol::PROXIED,
        "list[text]",
        "proxy headers of the request ('VIA -> 1.1 proxy', 'X-FORWARDED-FOR -> 10.0.0.1', ...)",
    ),
    c(
        hcol::REQUEST_CONTENT_TYPE,
        "text",
        "Content-Type header of the request (Zeek's orig_mime_types sniffs the body instead)",
    ),
    c(
        hcol::RESPONSE_CONTENT_TYPE,
        "text",
        "Content-Type header of the response (Zeek's resp_mime_types sniffs the body instead)",
    ),
    c(hcol::REQUEST_FRAME, "u32", "frame that completed the request head"),
    c(hcol::RESPONSE_FRAME, "u32", "frame that completed the response head"),
];

/// TLS table column names.
pub mod lcol {
    pub use super::tcol::*;
    pub const APP: &str = "app";
    pub const VERSION: &str = "version";
    pub const CLIENT_VERSIONS: &str = "client_versions";
    pub const CIPHER: &str = "cipher";
    pub const CURVE: &str = "curve";
    pub const SERVER_NAME: &str = "server_name";
    pub const ALPN: &str = "alpn";
    pub const NEXT_PROTOCOL: &str = "next_protocol";
    pub const ESTABLISHED: &str = "established";
    pub const RESUMED: &str = "resumed";
    pub const LAST_ALERT: &str = "last_alert";
    pub const HISTORY: &str = "ssl_history";
    pub const JA4: &str = "ja4";
    pub const JA4_R: &str = "ja4_r";
    pub const JA3: &str = "ja3";
    pub const JA3_STRING: &str = "ja3_string";
    pub const JA3S: &str = "ja3s";
    pub const JA3S_STRING: &str = "ja3s_string";
    pub const CERT_SUBJECT: &str = "cert_subject";
    pub const CERT_ISSUER: &str = "cert_issuer";
    pub const CERT_NOT_BEFORE: &str = "cert_not_before";
    pub const CERT_NOT_AFTER: &str = "cert_not_after";
    pub const CERT_SAN: &str = "cert_san";
    pub const CERT_SELF_SIGNED: &str = "cert_self_signed";
    pub const CERT_CHAIN_FPS: &str = "cert_chain_fps";
    pub const CLIENT_HELLO_FRAME: &str = "client_hello_frame";
    pub const SERVER_HELLO_FRAME: &str = "server_hello_frame";
}

/// The TLS table: one row per TLS (over TCP) or QUIC handshake, with Zeek's ssl.log meaning.
pub const TLS_SCHEMA: &[ColumnDef] = &[
    c(lcol::TS, "datetime[ns, UTC]", "time of the first handshake message"),
    c(lcol::FILE, "text", "capture file name"),
    c(lcol::FLOW_ID, "u64", "the connection (flows().flow_id)"),
    c(lcol::COMMUNITY_ID, "string", "Community ID of the connection"),
    c(lcol::SRC_IP, "text", "client: the connection's originator"),
    c(lcol::SRC_PORT, "u16", "client port"),
    c(lcol::DST_IP, "text", "server address"),
    c(lcol::DST_PORT, "u16", "server port"),
    c(lcol::APP, "enum", "tls (over TCP) or quic"),
    c(lcol::VERSION, "text", "version the server chose (TLSv12, TLSv13, ...)"),
    c(
        lcol::CLIENT_VERSIONS,
        "list[text]",
        "versions the client offered, highest first as sent (GREASE left out)",
    ),
    c(lcol::CIPHER, "text", "cipher suite the server chose (IANA name)"),
    c(
        lcol::CURVE,
        "text",
        "key exchange group the server chose (x25519, secp256r1, X25519MLKEM768, ...)",
    ),
    c(lcol::SERVER_NAME, "text", "server name (SNI) the client asked for"),
    c(
        lcol::ALPN,
        "list[text]",
        "application protocols the client offered (h2, http/1.1, h3, ...)",
    ),
    c(
        lcol::NEXT_PROTOCOL,
        "text",
        "application protocol the server chose (TLS 1.2 and earlier; TLS 1.3 sends it encrypted)",
    ),
    c(
        lcol::ESTABLISHED,
        "bool",
        "records flowed after both sides changed cipher",
    ),
    c(
        lcol::RESUMED,
        "bool",
        "an earlier session was resumed (session id echoed, ticket without key exchange, or pre-shared key accepted)",
    ),
    c(
        lcol::LAST_ALERT,
        "text",
        "last alert seen in the clear (handshake_failure, ...)",
    ),
    c(
        lcol::HISTORY,
        "text",
        "Zeek's ssl_history: a letter per message (C client hello, S server hello, X certificate, K key exchange, I change cipher, L alert, ...), upper case from the client",
    ),
    c(
        lcol::JA4,
        "text",
        "JA4 fingerprint of the client's first hello (FoxIO, t/q for TCP/QUIC)",
    ),
    c(lcol::JA4_R, "text", "JA4's raw form: the sorted lists before hashing"),
    c(lcol::JA3, "text", "JA3 fingerprint (MD5) of the client's first hello"),
    c(lcol::JA3_STRING, "text", "the string JA3 hashes"),
    c(lcol::JA3S, "text", "JA3S fingerprint (MD5) of the server's hello"),
    c(lcol::JA3S_STRING, "text", "the string JA3S hashes"),
    c(
        lcol::CERT_SUBJECT,
        "text",
        "subject of the server's certificate (TLS 1.2 and earlier), as RFC 2253 writes it",
    ),
    c(lcol::CERT_ISSUER, "text", "its issuer"),
    c(lcol::CERT_NOT_BEFORE, "datetime[ns, UTC]", "start of its validity"),
    c(
        lcol::CERT_NOT_AFTER,
        "datetime[ns, UTC]",
        "end of its validity (compare with ts for expired certificates)",
    ),
    c(lcol::CERT_SAN, "list[text]", "its DNS subject alternative names"),
    c(lcol::CERT_SELF_SIGNED, "bool", "its subject and issuer are the same"),
    c(
        lcol::CERT_CHAIN_FPS,
        "list[text]",
        "SHA-256 of each certificate of the chain, leaf first (Zeek's cert_chain_fps)",
    ),
    c(
        lcol::CLIENT_HELLO_FRAME,
        "u32",
        "frame that completed the client's first hello",
    ),
    c(
        lcol::SERVER_HELLO_FRAME,
        "u32",
        "frame that completed the server's hello",
    ),
];

/// DNS table column names.
pub mod dcol {
    pub use super::tcol::*;
    pub const L4: &str = "l4";
    pub const APP: &str = "app";
    pub const TRANS_ID: &str = "trans_id";
    pub const RTT: &str = "rtt";
    pub const QUERY: &str = "query";
    pub const QCLASS: &str = "qclass";
    pub const QCLASS_NAME: &str = "qclass_name";
    pub const QTYPE: &str = "qtype";
    pub const QTYPE_NAME: &str = "qtype_name";
    pub const RCODE: &str = "rcode";
    pub const RCODE_NAME: &str = "rcode_name";
    pub const AA: &str = "aa";
    pub const TC: &str = "tc";
    pub const RD: &str = "rd";
    pub const RA: &str = "ra";
    pub const Z: &str = "z";
    pub const ANSWERS: &str = "answers";
    pub const TTLS: &str = "ttls";
    pub const REJECTED: &str = "rejected";
    pub const OPCODE: &str = "opcode";
    pub const OPCODE_NAME: &str = "opcode_name";
    pub const QUERY_FRAME: &str = "query_frame";
    pub const RESPONSE_FRAME: &str = "response_frame";
    pub const ERROR: &str = "error";
}

/// The DNS table: one row per DNS transaction (a query and its reply, or either alone), as Zeek's
/// dns.log makes them.
pub const DNS_SCHEMA: &[ColumnDef] = &[
    c(dcol::TS, "datetime[ns, UTC]", "time of the transaction's first message"),
    c(dcol::FILE, "text", "capture file name"),
    c(
        dcol::FLOW_ID,
        "u64",
        "the flow the messages belong to (flows().flow_id)",
    ),
    c(dcol::COMMUNITY_ID, "string", "Community ID of that flow"),
    c(dcol::SRC_IP, "text", "client: the flow's originator (Zeek's id.orig_h)"),
    c(dcol::SRC_PORT, "u16", "client port"),
    c(dcol::DST_IP, "text", "server (or multicast group) address"),
    c(dcol::DST_PORT, "u16", "server port"),
    c(dcol::L4, "enum", "transport: udp or tcp"),
    c(dcol::APP, "enum", "dns, mdns, llmnr or nbns (NetBIOS name service)"),
    c(dcol::TRANS_ID, "u16", "DNS transaction id"),
    c(
        dcol::RTT,
        "f64",
        "seconds from the query to its reply, set (as in Zeek) only when the reply carried an answer",
    ),
    c(
        dcol::QUERY,
        "text",
        "the name asked for, lower-cased (NetBIOS names decoded; from the first answer when the message had no question, as mDNS replies)",
    ),
    c(dcol::QCLASS, "u16", "query class (1 = IN)"),
    c(dcol::QCLASS_NAME, "text", "query class name (C_INTERNET, ...)"),
    c(dcol::QTYPE, "u16", "query type number"),
    c(
        dcol::QTYPE_NAME,
        "text",
        "query type name (A, AAAA, PTR, TXT, ..., Zeek's names)",
    ),
    c(dcol::RCODE, "u16", "response code; null until a reply was seen"),
    c(
        dcol::RCODE_NAME,
        "text",
        "response code name (NOERROR, NXDOMAIN, SERVFAIL, ...)",
    ),
    c(
        dcol::AA,
        "bool",
        "authoritative answer (set from a reply with an answer)",
    ),
    c(dcol::TC, "bool", "truncated (from the query)"),
    c(dcol::RD, "bool", "recursion desired (from the query)"),
    c(
        dcol::RA,
        "bool",
        "recursion available (set from a reply with an answer)",
    ),
    c(dcol::Z, "u8", "the three reserved flag bits of the query"),
    c(
        dcol::ANSWERS,
        "list[text]",
        "answer records as Zeek writes them: addresses, names (CNAME, PTR, NS, MX, SRV targets), 'TXT n text', '<unknown type=N>'",
    ),
    c(
        dcol::TTLS,
        "list[f64]",
        "the answers' TTLs in seconds, in the same order",
    ),
    c(
        dcol::REJECTED,
        "bool",
        "the server refused or failed the query (an error code without a question, or a reply with no records at all)",
    ),
    c(dcol::OPCODE, "u8", "DNS opcode (0 query, 4 notify, 5 update)"),
    c(dcol::OPCODE_NAME, "text", "opcode name (query, netbios-query, ...)"),
    c(dcol::QUERY_FRAME, "u32", "frame of the query (null: no query seen)"),
    c(dcol::RESPONSE_FRAME, "u32", "frame of the reply (null: unanswered)"),
    c(
        dcol::ERROR,
        "text",
        "why a message of the transaction could not be read whole (null when both were)",
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

/// One table a script can read.
#[derive(Debug, Clone, Copy)]
pub struct TableDef {
    /// Its name (`packets`, `dns`, ...), called as `name()` in scripts.
    pub name: &'static str,
    /// One line on what a row is.
    pub about: &'static str,
    pub columns: &'static [ColumnDef],
}

/// Every table, in the order the docs list them.
pub const TABLES: &[TableDef] = &[
    TableDef {
        name: "packets",
        about: "one row per packet, in file order",
        columns: PACKET_SCHEMA,
    },
    TableDef {
        name: "flows",
        about: "one row per bidirectional conversation (5-tuple), with Zeek's conn.log fields",
        columns: FLOW_SCHEMA,
    },
    TableDef {
        name: "dns",
        about: "one row per DNS transaction (query and reply paired as Zeek's dns.log)",
        columns: DNS_SCHEMA,
    },
    TableDef {
        name: "http",
        about: "one row per HTTP/1.x request/response pair (as Zeek's http.log)",
        columns: HTTP_SCHEMA,
    },
    TableDef {
        name: "tls",
        about: "one row per TLS or QUIC handshake (as Zeek's ssl.log, with JA4, JA3, JA3S)",
        columns: TLS_SCHEMA,
    },
    TableDef {
        name: "stacks",
        about: "frames and bytes per protocol stack, counted while decoding",
        columns: STACK_SCHEMA,
    },
];

/// The values a coded column can take (an enum, or text from a fixed vocabulary), for docs and
/// for clients that build filters; None for free text and numbers. Columns of the same name mean
/// the same in every table.
pub fn vocabulary(table: &str, column: &str) -> Option<Vec<String>> {
    use crate::decode::{dns_names, service::Service, tls_names};
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Some(match (table, column) {
        (_, "l4") => L4::ALL.iter().map(|l| l.name().to_string()).collect(),
        (_, "app") => App::ALL.iter().map(|a| a.name().to_string()).collect(),
        (_, "link_type") => names(&crate::capture::linktype::NAMES),
        (_, "frag") => names(&FRAG_NAMES),
        (_, "tcp_flags_str") => names(&[
            "S",
            "SA",
            "A",
            "PA",
            "FA",
            "FPA",
            "R",
            "RA",
            "SE",
            "SAE",
            "F",
            "-",
            "(any combination of S F R P A U E C)",
        ]),
        ("flows", "state") => names(&STATES),
        ("flows", "conn_state") => names(&[
            "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
        ]),
        ("flows", "service") => Service::ALL
            .iter()
            .map(|s| s.name().to_string())
            .chain(["(several joined by commas, e.g. quic,ssl)".to_string()])
            .collect(),
        ("dns", "rcode_name") | ("packets", "dns_rcode") => (0..=10).map(dns_names::rcode_name).collect(),
        ("dns", "qclass_name") => [1, 3, 4, 254, 255].iter().map(|c| dns_names::qclass_name(*c)).collect(),
        ("dns", "opcode_name") => [0u8, 1, 2, 4, 5, 6]
            .iter()
            .map(|o| dns_names::opcode_name(*o, false))
            .chain([0u8, 5, 6, 7, 8].iter().map(|o| dns_names::opcode_name(*o, true)))
            .collect(),
        ("tls", "version") | ("tls", "client_versions") => [0x0300u16, 0x0301, 0x0302, 0x0303, 0x0304, 0xfeff, 0xfefd]
            .iter()
            .map(|v| tls_names::version_name(*v))
            .collect(),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Dictionaries

/// netql's own TCP/UDP summary of a flow (the `state` column).
pub const STATES: [&str; 8] = [
    "one_way",
    "two_way",
    "midstream",
    "rejected",
    "attempted",
    "reset",
    "closed",
    "established",
];

const FRAG_NAMES: [&str; 2] = ["fragment", "reassembled"];

pub(crate) static LINK_DTYPE: LazyLock<DataType> =
    LazyLock::new(|| enum_dtype(crate::capture::linktype::NAMES.iter().copied()));
pub(crate) static L4_DTYPE: LazyLock<DataType> = LazyLock::new(|| enum_dtype(L4::ALL.iter().map(|l| l.name())));
pub(crate) static APP_DTYPE: LazyLock<DataType> = LazyLock::new(|| enum_dtype(App::ALL.iter().map(|a| a.name())));
pub(crate) static FRAG_DTYPE: LazyLock<DataType> = LazyLock::new(|| enum_dtype(FRAG_NAMES.iter().copied()));
static FLAGS_NAMES: LazyLock<Vec<String>> = LazyLock::new(|| (0..=255u8).map(decode::tcp_flags_text).collect());
pub(crate) static FLAGS_DTYPE: LazyLock<DataType> = LazyLock::new(|| {
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

/// A table that cannot be given: a lazy frame whose collect fails with `reason` (as a missing
/// column), so a query that reaches it reports why instead of reading nothing.
pub fn unavailable(reason: impl Into<PlSmallStr>) -> LazyFrame {
    DataFrame::empty().lazy().select([polars::prelude::col(reason.into())])
}
