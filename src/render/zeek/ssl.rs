//! ssl: the tls table as Zeek's ssl.log (Zeek 9.1's columns, then `ja4`, `ja3` and `ja3s` as the
//! FoxIO and Salesforce Zeek packages add them; `uid` as in conn.log). `sni_matches_cert` and
//! the client certificate chain are left unset.

use polars::prelude::*;

use crate::error::Result;
use crate::render::zeek::columns::{Columns, ConnIds};
use crate::render::zeek::log::{Field, LogWriter, Value, field};
use crate::table::schema::lcol;

pub const FIELDS: &[Field] = &[
    field("ts", "time"),
    field("uid", "string"),
    field("id.orig_h", "addr"),
    field("id.orig_p", "port"),
    field("id.resp_h", "addr"),
    field("id.resp_p", "port"),
    field("version", "string"),
    field("cipher", "string"),
    field("curve", "string"),
    field("server_name", "string"),
    field("resumed", "bool"),
    field("last_alert", "string"),
    field("next_protocol", "string"),
    field("established", "bool"),
    field("ssl_history", "string"),
    field("cert_chain_fps", "vector[string]"),
    field("client_cert_chain_fps", "vector[string]"),
    field("sni_matches_cert", "bool"),
    field("ja4", "string"),
    field("ja3", "string"),
    field("ja3s", "string"),
];

/// Write the rows of a tls table to `w`.
pub fn write(w: &mut LogWriter, tls: &DataFrame) -> Result<()> {
    let c = Columns::new(tls);
    let ids = ConnIds::read(&c, lcol::TS, None)?;
    let texts: Vec<Vec<Option<String>>> = [
        lcol::VERSION,
        lcol::CIPHER,
        lcol::CURVE,
        lcol::SERVER_NAME,
        lcol::LAST_ALERT,
        lcol::NEXT_PROTOCOL,
        lcol::HISTORY,
        lcol::JA4,
        lcol::JA3,
        lcol::JA3S,
    ]
    .iter()
    .map(|n| c.text(n))
    .collect::<Result<_>>()?;
    let (resumed, established) = (c.bool(lcol::RESUMED)?, c.bool(lcol::ESTABLISHED)?);
    let fps = c.text_lists(lcol::CERT_CHAIN_FPS)?;
    let t = |k: usize, i: usize| Value::text(texts[k][i].clone());
    for i in 0..tls.height() {
        let mut row = ids.values(i).to_vec();
        row.extend([
            t(0, i),
            t(1, i),
            t(2, i),
            t(3, i),
            resumed[i].map_or(Value::Unset, Value::Bool),
            t(4, i),
            t(5, i),
            established[i].map_or(Value::Unset, Value::Bool),
            // Zeek writes an empty history as nothing rather than '-'.
            Value::Text(texts[6][i].clone().unwrap_or_default()),
            match &fps[i] {
                Some(v) if !v.is_empty() => Value::List(v.clone()),
                _ => Value::Unset,
            },
            Value::Unset,
            Value::Unset,
            t(7, i),
            t(8, i),
            t(9, i),
        ]);
        w.row(&row)?;
    }
    Ok(())
}
