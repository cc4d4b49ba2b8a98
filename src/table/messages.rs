//! messages: what a chunk of decoded packets hands to the transaction tables: its DNS messages
//! and the HTTP and TLS messages its TCP streams completed, in row order, each with where it
//! was seen ([`Seen`]).

use crate::decode::stream::StreamEvent;
use crate::table::dns_coded::DnsCoded;

/// Where a message was seen: its packet's time, frame, flow and endpoints.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen {
    pub ts: i64,
    pub frame: u32,
    /// The packet's row in its chunk.
    pub row: u32,
    pub flow_id: u64,
    /// Sender and receiver: text codes of the addresses, and ports.
    pub src_ip: Option<u32>,
    pub src_port: Option<u16>,
    pub dst_ip: Option<u32>,
    pub dst_port: Option<u16>,
    /// Transport and application enum codes.
    pub l4: Option<u8>,
    pub app: Option<u8>,
    /// Sent to a multicast group (224.0.0.0/4, ff00::/8).
    pub multicast: bool,
    /// NetBIOS name service (its names are encoded, its opcodes named apart).
    pub netbios: bool,
}

/// A chunk's messages for the transaction tables, in row order.
#[derive(Debug, Default)]
pub struct Messages {
    pub dns: Vec<(Seen, DnsCoded)>,
    pub stream: Vec<(Seen, StreamEvent)>,
}
