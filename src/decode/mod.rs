//! decode: one raw record -> one flat [`Packet`] of facts, and the in-order pass over a capture.
//!
//! ```text
//! decoder (link types) -> ip (IPv4/IPv6, fragments, ARP) -> transport (TCP/UDP/ICMP, quoted
//!   packets) -> app (which protocol) -> dns | http | tls | login     facts in a `Packet`
//! ```
//!
//! Layers are sliced by etherparse in lax mode, so a cut or malformed packet still yields every
//! field that could be read plus an error text; DNS, HTTP and TLS are parsed by simple-dns,
//! httparse and tls-parser. Some facts need the packets before: IP reassembly, where TCP
//! messages complete (`stream`) and QUIC Initials (`quic`, decrypted with the keys RFC 9001
//! derives). Nothing here knows about Polars.

pub mod app;
pub mod certificate;
pub mod decoder;
pub mod dns;
pub mod dns_names;
pub mod fingerprint;
pub mod http;
pub mod http_body;
pub mod ip;
pub mod login;
pub mod order;
pub mod packet;
pub mod protocol;
pub mod quic;
pub mod reassembly;
pub mod service;
pub mod stream;
pub mod tls;
pub mod tls_hello;
pub mod tls_names;
pub mod transport;

pub use decoder::Decoder;
pub use dns::{Dns, DnsMessage, dns_rcode_name, dns_type_name};
pub use packet::{Addr, FirstFragment, Fragment, Packet, flow_hash, icmp_ports, mac_text, tcp, tcp_flags_text};
pub use protocol::{App, L4, Proto, Stack};
pub use tls::tls_version_name;
