//! dns_table: DNS transactions ([`crate::table::dns_pairing`]) -> the `dns()` table, one row per
//! transaction with Zeek's dns.log meaning for each column ([`crate::table::schema::DNS_SCHEMA`]).
//! Rows are built column by column as transactions complete, so a capture's many transactions
//! cost codes and numbers, not structs; names and answers are codes in the shared text
//! dictionary (they repeat). Once the flows are known, each row takes its flow's originator as
//! client (Zeek's `id`) and its Community ID ([`crate::table::flow_view`]).

use polars::prelude::*;

use crate::decode::dns_names::{opcode_name, qclass_name, qtype_name, rcode_name};
use crate::error::Result;
use crate::table::column::{Col, cat32, enum8, list_column, prim};
use crate::table::dns_pairing::DnsTransaction;
use crate::table::interner::Interner;
use crate::table::schema::{APP_DTYPE, L4_DTYPE, cat_dtype, dcol};
use crate::table::tx_conn::TxConnColumns;

/// The dns table being built.
#[derive(Default)]
pub struct DnsColumns {
    conn: TxConnColumns,
    l4: Col<u8>,
    app: Col<u8>,
    trans_id: Vec<u16>,
    /// Seconds.
    rtt: Col<f64>,
    query: Col<u32>,
    // The names of class, type, response code and opcode follow from the numbers: made when
    // the table is (445k rows of the 10M capture held four codes each while decoding).
    qclass: Col<u16>,
    qtype: Col<u16>,
    rcode: Col<u16>,
    aa: Vec<bool>,
    tc: Vec<bool>,
    rd: Vec<bool>,
    ra: Vec<bool>,
    z: Vec<u8>,
    /// Answers and TTLs of all rows back to back; `offsets[i]..offsets[i+1]` are row i's.
    answers: Vec<u32>,
    ttls: Vec<u32>,
    offsets: Vec<u32>,
    rejected: Vec<bool>,
    opcode: Col<u8>,
    query_frame: Col<u32>,
    response_frame: Col<u32>,
    error: Col<u32>,
}

impl DnsColumns {
    pub fn len(&self) -> usize {
        self.conn.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conn.is_empty()
    }

    pub fn push(&mut self, t: &DnsTransaction, it: &mut Interner) {
        // Past 2^32 answers (48 GB of them) the offsets would wrap: not reachable in memory.
        debug_assert!(self.answers.len() < u32::MAX as usize);
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.conn.push(&t.conn);
        self.l4.push(t.l4);
        self.app.push(t.app);
        self.trans_id.push(t.trans_id);
        self.rtt.push(t.rtt.map(|ns| ns as f64 / 1e9));
        self.query.push(t.query);
        self.qclass.push(t.qclass);
        self.qtype.push(t.qtype);
        self.rcode.push(t.rcode.map(u16::from));
        self.aa.push(t.aa);
        self.tc.push(t.tc);
        self.rd.push(t.rd);
        self.ra.push(t.ra);
        self.z.push(t.z);
        for &(a, ttl) in &t.answers {
            self.answers.push(a);
            self.ttls.push(ttl);
        }
        self.offsets.push(self.answers.len() as u32);
        self.rejected.push(t.rejected);
        self.opcode.push(t.opcode);
        self.query_frame.push(t.query_frame);
        self.response_frame.push(t.response_frame);
        self.error.push(t.error.as_deref().map(|e| it.text(e)));
    }

    /// Each row's flow row (see [`TxConnColumns::take_flow_rows`]).
    pub fn take_flow_rows(&mut self) -> Vec<u32> {
        self.conn.take_flow_rows()
    }

    /// The table, every row of it from the capture file `file_code` names.
    pub fn into_dataframe(self, file_code: u32) -> Result<DataFrame> {
        let n = self.conn.len();
        // The names of the numbers, each named once.
        let mut it = Interner::default();
        // Rows mostly repeat the row before (class IN, type A, NOERROR): asked first.
        let named = |c: &Col<u16>, it: &mut Interner, kind: u8, name: fn(u16) -> String| {
            let mut out = Col::with_capacity(n);
            let mut last: Option<(u16, u32)> = None;
            for i in 0..n {
                out.push(c.get(i).map(|v| match last {
                    Some((l, code)) if l == v => code,
                    _ => {
                        let code = it.numbered(kind, v, name);
                        last = Some((v, code));
                        code
                    }
                }));
            }
            out
        };
        let qclass_names = named(&self.qclass, &mut it, 3, qclass_name);
        let qtype_names = named(&self.qtype, &mut it, 0, qtype_name);
        let rcode_names = named(&self.rcode, &mut it, 1, rcode_name);
        let nbns = Some(crate::decode::App::Nbns as u8);
        let mut opcode_names = Col::with_capacity(n);
        let mut last: Option<(u8, bool, u32)> = None;
        for i in 0..n {
            let netbios = self.app.get(i) == nbns;
            opcode_names.push(self.opcode.get(i).map(|o| match last {
                Some((l, b, code)) if (l, b) == (o, netbios) => code,
                _ => {
                    let code = it.numbered(if netbios { 5 } else { 4 }, u16::from(o), |o| {
                        opcode_name(o as u8, netbios)
                    });
                    last = Some((o, netbios, code));
                    code
                }
            }));
        }
        let offsets: Vec<i64> = match self.offsets.is_empty() {
            true => vec![0; n + 1],
            false => self.offsets.iter().map(|&o| i64::from(o)).collect(),
        };
        let ttls: Vec<f64> = self.ttls.iter().map(|&t| f64::from(t)).collect();
        let ttls = list_column(dcol::TTLS, offsets.clone(), ttls, DataType::Float64);
        let answers = list_column(dcol::ANSWERS, offsets, self.answers, cat_dtype());
        let bools = |name: &str, v: Vec<bool>| BooleanChunked::from_slice(name.into(), &v).into_column();
        let mut columns = self.conn.into_columns(file_code);
        columns.extend([
            enum8(dcol::L4, self.l4.rows(n), &L4_DTYPE),
            enum8(dcol::APP, self.app.rows(n), &APP_DTYPE),
            UInt16Chunked::from_vec(dcol::TRANS_ID.into(), self.trans_id).into_column(),
            prim::<Float64Type>(dcol::RTT, self.rtt.rows(n)),
            cat32(dcol::QUERY, self.query.rows(n), cat_dtype()),
            prim::<UInt16Type>(dcol::QCLASS, self.qclass.rows(n)),
            cat32(dcol::QCLASS_NAME, qclass_names.rows(n), cat_dtype()),
            prim::<UInt16Type>(dcol::QTYPE, self.qtype.rows(n)),
            cat32(dcol::QTYPE_NAME, qtype_names.rows(n), cat_dtype()),
            prim::<UInt16Type>(dcol::RCODE, self.rcode.rows(n)),
            cat32(dcol::RCODE_NAME, rcode_names.rows(n), cat_dtype()),
            bools(dcol::AA, self.aa),
            bools(dcol::TC, self.tc),
            bools(dcol::RD, self.rd),
            bools(dcol::RA, self.ra),
            UInt8Chunked::from_vec(dcol::Z.into(), self.z).into_column(),
            answers,
            ttls,
            bools(dcol::REJECTED, self.rejected),
            prim::<UInt8Type>(dcol::OPCODE, self.opcode.rows(n)),
            cat32(dcol::OPCODE_NAME, opcode_names.rows(n), cat_dtype()),
            prim::<UInt32Type>(dcol::QUERY_FRAME, self.query_frame.rows(n)),
            prim::<UInt32Type>(dcol::RESPONSE_FRAME, self.response_frame.rows(n)),
            cat32(dcol::ERROR, self.error.rows(n), cat_dtype()),
        ]);
        Ok(DataFrame::new(n, columns)?)
    }
}

/// An empty dns table with every column typed.
pub fn empty_dns() -> Result<DataFrame> {
    DnsColumns::default().into_dataframe(0)
}
