//! decode: one raw record -> one flat [`Packet`] of facts (link, IP, transport, DNS/HTTP/TLS/QUIC),
//! and the in-order pass over a capture (IP reassembly, TCP stream order, QUIC handshakes).
//! Nothing here knows about Polars.

pub mod packet_decoder;
pub mod quic;
pub mod stream;

pub use packet_decoder::*;
