//! tx_conn: what every transaction row (dns, http, tls) says of its connection: when it began,
//! its flow, its client and server. Set from where a message was seen, and written as the first
//! columns of each transaction table, so the three tables start alike (and
//! [`crate::table::flow_view`] can give each row its flow's view by the same names).

use polars::prelude::*;

use crate::table::column::{Col, cat32, prim};
use crate::table::messages::{NO_ROW, Seen};
use crate::table::schema::{cat_dtype, tcol};

/// A transaction's connection: time, flow, and the client's and server's address codes and
/// ports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TxConn {
    pub ts: i64,
    pub flow_id: u64,
    /// The flow's row in the flow table, when known while decoding (see [`Seen::flow_row`]).
    pub flow_row: Option<u32>,
    pub client_ip: Option<u32>,
    pub client_port: Option<u16>,
    pub server_ip: Option<u32>,
    pub server_port: Option<u16>,
}

impl TxConn {
    /// The connection of a transaction that begins with the message seen at `seen`; its sender
    /// is the client when `sender_is_client`, else the server.
    pub fn at(seen: &Seen, sender_is_client: bool) -> TxConn {
        let mut c = TxConn {
            ts: seen.ts,
            flow_id: seen.flow_id,
            flow_row: seen.flow_row,
            ..Default::default()
        };
        c.set_ends(seen, sender_is_client);
        c
    }

    /// Client and server from the sender and receiver of the message seen at `seen`.
    pub fn set_ends(&mut self, seen: &Seen, sender_is_client: bool) {
        let sender = (seen.src_ip, seen.src_port);
        let receiver = (seen.dst_ip, seen.dst_port);
        let (client, server) = if sender_is_client {
            (sender, receiver)
        } else {
            (receiver, sender)
        };
        (self.client_ip, self.client_port) = client;
        (self.server_ip, self.server_port) = server;
    }
}

/// The [`TxConn`] columns of a transaction table being built.
#[derive(Default)]
pub struct TxConnColumns {
    ts: Vec<i64>,
    flow_id: Vec<u64>,
    /// Each row's flow row ([`NO_ROW`] for none): not a column of the table, taken apart.
    flow_rows: Vec<u32>,
    src_ip: Col<u32>,
    src_port: Col<u16>,
    dst_ip: Col<u32>,
    dst_port: Col<u16>,
}

impl TxConnColumns {
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    pub fn push(&mut self, c: &TxConn) {
        self.ts.push(c.ts);
        self.flow_id.push(c.flow_id);
        self.flow_rows.push(c.flow_row.unwrap_or(NO_ROW));
        self.src_ip.push(c.client_ip);
        self.src_port.push(c.client_port);
        self.dst_ip.push(c.server_ip);
        self.dst_port.push(c.server_port);
    }

    /// Each row's flow row ([`NO_ROW`] for none), taken (call before [`Self::into_columns`]).
    pub fn take_flow_rows(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.flow_rows)
    }

    /// The table's first columns, every row from the capture file `file_code` names: ts, file,
    /// flow_id, community_id (null until the flows are known), src_ip, src_port, dst_ip,
    /// dst_port.
    pub fn into_columns(self, file_code: u32) -> Vec<Column> {
        let n = self.ts.len();
        vec![
            Int64Chunked::from_vec(tcol::TS.into(), self.ts)
                .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
                .into_column(),
            cat32(tcol::FILE, Col::filled(file_code, n), cat_dtype()),
            UInt64Chunked::from_vec(tcol::FLOW_ID.into(), self.flow_id).into_column(),
            StringChunked::full_null(tcol::COMMUNITY_ID.into(), n).into_column(),
            cat32(tcol::SRC_IP, self.src_ip.rows(n), cat_dtype()),
            prim::<UInt16Type>(tcol::SRC_PORT, self.src_port.rows(n)),
            cat32(tcol::DST_IP, self.dst_ip.rows(n), cat_dtype()),
            prim::<UInt16Type>(tcol::DST_PORT, self.dst_port.rows(n)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sender is the client or the server as told; time and flow come from the message.
    #[test]
    fn the_sender_is_client_or_server_as_told() {
        let seen = Seen {
            ts: 5,
            flow_id: 9,
            src_ip: Some(1),
            src_port: Some(40000),
            dst_ip: Some(2),
            dst_port: Some(53),
            ..Default::default()
        };
        let q = TxConn::at(&seen, true);
        assert_eq!((q.ts, q.flow_id), (5, 9));
        assert_eq!(
            (q.client_ip, q.client_port, q.server_ip, q.server_port),
            (Some(1), Some(40000), Some(2), Some(53))
        );
        let r = TxConn::at(&seen, false);
        assert_eq!(
            (r.client_ip, r.client_port, r.server_ip, r.server_port),
            (Some(2), Some(53), Some(1), Some(40000))
        );
    }
}
