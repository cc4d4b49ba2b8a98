//! http: the http table as Zeek's http.log (Zeek 9.1's columns; `uid` as in conn.log). The
//! MIME-type columns, which Zeek fills by sniffing bodies, carry the Content-Type headers here;
//! file ids and names are left unset (netql extracts no files).

use polars::prelude::*;

use crate::error::Result;
use crate::render::zeek::columns::{Columns, ConnIds};
use crate::render::zeek::log::{Field, LogWriter, Value, field};
use crate::table::schema::hcol;

pub const FIELDS: &[Field] = &[
    field("ts", "time"),
    field("uid", "string"),
    field("id.orig_h", "addr"),
    field("id.orig_p", "port"),
    field("id.resp_h", "addr"),
    field("id.resp_p", "port"),
    field("trans_depth", "count"),
    field("method", "string"),
    field("host", "string"),
    field("uri", "string"),
    field("referrer", "string"),
    field("version", "string"),
    field("user_agent", "string"),
    field("origin", "string"),
    field("request_body_len", "count"),
    field("response_body_len", "count"),
    field("status_code", "count"),
    field("status_msg", "string"),
    field("info_code", "count"),
    field("info_msg", "string"),
    field("tags", "set[enum]"),
    field("username", "string"),
    field("password", "string"),
    field("proxied", "set[string]"),
    field("orig_fuids", "vector[string]"),
    field("orig_filenames", "vector[string]"),
    field("orig_mime_types", "vector[string]"),
    field("resp_fuids", "vector[string]"),
    field("resp_filenames", "vector[string]"),
    field("resp_mime_types", "vector[string]"),
];

/// Write the rows of an http table to `w`.
pub fn write(w: &mut LogWriter, http: &DataFrame) -> Result<()> {
    let c = Columns::new(http);
    let ids = ConnIds::read(&c, hcol::TS, None)?;
    let depth = c.u64(hcol::TRANS_DEPTH)?;
    let texts: Vec<Vec<Option<String>>> = [
        hcol::METHOD,
        hcol::HOST,
        hcol::URI,
        hcol::REFERRER,
        hcol::VERSION,
        hcol::USER_AGENT,
        hcol::ORIGIN,
        hcol::STATUS_MSG,
        hcol::INFO_MSG,
        hcol::USERNAME,
        hcol::REQUEST_CONTENT_TYPE,
        hcol::RESPONSE_CONTENT_TYPE,
    ]
    .iter()
    .map(|n| c.text(n))
    .collect::<Result<_>>()?;
    let (req_len, resp_len) = (c.u64(hcol::REQUEST_BODY_LEN)?, c.u64(hcol::RESPONSE_BODY_LEN)?);
    let (status, info) = (c.u64(hcol::STATUS_CODE)?, c.u64(hcol::INFO_CODE)?);
    let proxied = c.text_lists(hcol::PROXIED)?;
    let t = |k: usize, i: usize| Value::text(texts[k][i].clone());
    // Zeek names the type of a body it saw (a 304's Content-Type names none), without the
    // header's parameters (text/html, not text/html; charset=...).
    let mime = |k: usize, i: usize, body: Option<u64>| match &texts[k][i] {
        Some(v) if body.unwrap_or(0) > 0 => Value::List(vec![v.split(';').next().unwrap_or("").trim().to_string()]),
        _ => Value::Unset,
    };
    for i in 0..http.height() {
        let mut row = ids.values(i).to_vec();
        row.extend([
            Value::count(depth[i]),
            t(0, i),
            t(1, i),
            t(2, i),
            t(3, i),
            t(4, i),
            t(5, i),
            t(6, i),
            Value::count(req_len[i]),
            Value::count(resp_len[i]),
            Value::count(status[i]),
            t(7, i),
            Value::count(info[i]),
            t(8, i),
            Value::List(Vec::new()),
            t(9, i),
            Value::Unset,
            match &proxied[i] {
                Some(p) if !p.is_empty() => Value::List(p.clone()),
                _ => Value::Unset,
            },
            Value::Unset,
            Value::Unset,
            mime(10, i, req_len[i]),
            Value::Unset,
            Value::Unset,
            mime(11, i, resp_len[i]),
        ]);
        w.row(&row)?;
    }
    Ok(())
}
