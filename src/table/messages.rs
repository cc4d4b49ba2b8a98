//! messages: what a chunk of decoded packets hands to the transaction tables: its DNS messages
//! and the HTTP and TLS messages its TCP streams completed, in row order, each with where it
//! was seen ([`Seen`]).

use crate::decode::stream::StreamEvent;
use crate::table::dns_coded::DnsCoded;

/// No flow row (see [`Seen::flow_row`]).
pub const NO_ROW: u32 = u32::MAX;

/// Where a message was seen: its packet's time, frame, flow and endpoints.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen {
    pub ts: i64,
    pub frame: u32,
    /// The packet's row in its chunk.
    pub row: u32,
    pub flow_id: u64,
    /// The flow's row in the capture's flow table (set once the flow builder saw the packet;
    /// None where the flows are made apart, as in a live window).
    pub flow_row: Option<u32>,
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

impl Messages {
    /// Each message takes its packet's flow row (`rows`: by packet row of the chunk, as
    /// [`crate::table::flow::FlowBuilder::add_confirmed`] gives them).
    pub fn set_flow_rows(&mut self, rows: &[u32]) {
        let seen = self
            .dns
            .iter_mut()
            .map(|(s, _)| s)
            .chain(self.stream.iter_mut().map(|(s, _)| s));
        for s in seen {
            s.flow_row = rows.get(s.row as usize).copied().filter(|&r| r != NO_ROW);
        }
    }
}
