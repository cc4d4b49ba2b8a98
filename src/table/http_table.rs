//! http_table: HTTP transactions ([`crate::table::http_pairing`]) -> the `http()` table, one row
//! per request/response pair with Zeek's http.log meaning
//! ([`crate::table::schema::HTTP_SCHEMA`]), built column by column as transactions complete.

use polars::prelude::*;

use crate::error::Result;
use crate::table::column::{Col, TextLists, cat32, prim};
use crate::table::http_pairing::HttpTransaction;
use crate::table::interner::Interner;
use crate::table::schema::{cat_dtype, hcol};
use crate::table::tx_conn::TxConnColumns;

/// The http table being built.
#[derive(Default)]
pub struct HttpColumns {
    conn: TxConnColumns,
    trans_depth: Vec<u32>,
    method: Col<u32>,
    host: Col<u32>,
    uri: Col<u32>,
    referrer: Col<u32>,
    version: Col<u32>,
    user_agent: Col<u32>,
    origin: Col<u32>,
    request_body_len: Vec<u64>,
    response_body_len: Vec<u64>,
    status_code: Col<u16>,
    status_msg: Col<u32>,
    info_code: Col<u16>,
    info_msg: Col<u32>,
    username: Col<u32>,
    proxied: TextLists,
    request_content_type: Col<u32>,
    response_content_type: Col<u32>,
    request_frame: Col<u32>,
    response_frame: Col<u32>,
}

impl HttpColumns {
    pub fn len(&self) -> usize {
        self.conn.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conn.is_empty()
    }

    pub fn push(&mut self, t: &HttpTransaction, it: &mut Interner) {
        self.conn.push(&t.conn);
        self.trans_depth.push(t.trans_depth);
        self.method.push(t.method);
        self.host.push(t.host);
        self.uri.push(t.uri);
        self.referrer.push(t.referrer);
        self.version.push(t.version);
        self.user_agent.push(t.user_agent);
        self.origin.push(t.origin);
        self.request_body_len.push(t.request_body_len);
        self.response_body_len.push(t.response_body_len);
        self.status_code.push(t.status_code);
        self.status_msg.push(t.status_msg);
        self.info_code.push(t.info_code);
        self.info_msg.push(t.info_msg);
        self.username.push(t.username);
        self.request_content_type.push(t.request_content_type);
        self.response_content_type.push(t.response_content_type);
        self.request_frame.push(t.request_frame);
        self.response_frame.push(t.response_frame);
        self.proxied.push(&t.proxied, it);
    }

    /// Each row's flow row (see [`TxConnColumns::take_flow_rows`]).
    pub fn take_flow_rows(&mut self) -> Vec<u32> {
        self.conn.take_flow_rows()
    }

    /// The table, every row of it from the capture file `file_code` names.
    pub fn into_dataframe(self, file_code: u32) -> Result<DataFrame> {
        let n = self.conn.len();
        let text = |name: &str, c: Col<u32>| cat32(name, c.rows(n), cat_dtype());
        let mut columns = self.conn.into_columns(file_code);
        columns.extend([
            UInt32Chunked::from_vec(hcol::TRANS_DEPTH.into(), self.trans_depth).into_column(),
            text(hcol::METHOD, self.method),
            text(hcol::HOST, self.host),
            text(hcol::URI, self.uri),
            text(hcol::REFERRER, self.referrer),
            text(hcol::VERSION, self.version),
            text(hcol::USER_AGENT, self.user_agent),
            text(hcol::ORIGIN, self.origin),
            UInt64Chunked::from_vec(hcol::REQUEST_BODY_LEN.into(), self.request_body_len).into_column(),
            UInt64Chunked::from_vec(hcol::RESPONSE_BODY_LEN.into(), self.response_body_len).into_column(),
            prim::<UInt16Type>(hcol::STATUS_CODE, self.status_code.rows(n)),
            text(hcol::STATUS_MSG, self.status_msg),
            prim::<UInt16Type>(hcol::INFO_CODE, self.info_code.rows(n)),
            text(hcol::INFO_MSG, self.info_msg),
            text(hcol::USERNAME, self.username),
            self.proxied.column(hcol::PROXIED, n),
            text(hcol::REQUEST_CONTENT_TYPE, self.request_content_type),
            text(hcol::RESPONSE_CONTENT_TYPE, self.response_content_type),
            prim::<UInt32Type>(hcol::REQUEST_FRAME, self.request_frame.rows(n)),
            prim::<UInt32Type>(hcol::RESPONSE_FRAME, self.response_frame.rows(n)),
        ]);
        Ok(DataFrame::new(n, columns)?)
    }
}

/// An empty http table with every column typed.
pub fn empty_http() -> Result<DataFrame> {
    HttpColumns::default().into_dataframe(0)
}
