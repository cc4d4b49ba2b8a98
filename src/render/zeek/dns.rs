//! dns: the dns table as Zeek's dns.log (Zeek 9.1's columns; `uid` as in conn.log, so rows
//! join to their connection).

use polars::prelude::*;

use crate::error::Result;
use crate::render::zeek::columns::{Columns, ConnIds};
use crate::render::zeek::log::{Field, LogWriter, Value, field};
use crate::table::schema::dcol;

pub const FIELDS: &[Field] = &[
    field("ts", "time"),
    field("uid", "string"),
    field("id.orig_h", "addr"),
    field("id.orig_p", "port"),
    field("id.resp_h", "addr"),
    field("id.resp_p", "port"),
    field("proto", "enum"),
    field("trans_id", "count"),
    field("rtt", "interval"),
    field("query", "string"),
    field("qclass", "count"),
    field("qclass_name", "string"),
    field("qtype", "count"),
    field("qtype_name", "string"),
    field("rcode", "count"),
    field("rcode_name", "string"),
    field("AA", "bool"),
    field("TC", "bool"),
    field("RD", "bool"),
    field("RA", "bool"),
    field("Z", "count"),
    field("answers", "vector[string]"),
    field("TTLs", "vector[interval]"),
    field("rejected", "bool"),
    field("opcode", "count"),
    field("opcode_name", "string"),
];

/// Write the rows of a dns table to `w`.
pub fn write(w: &mut LogWriter, dns: &DataFrame) -> Result<()> {
    let c = Columns::new(dns);
    let ids = ConnIds::read(&c, dcol::TS, None)?;
    let l4 = c.text(dcol::L4)?;
    let trans_id = c.u64(dcol::TRANS_ID)?;
    let rtt = c.f64(dcol::RTT)?;
    let query = c.text(dcol::QUERY)?;
    let (qclass, qclass_name) = (c.u64(dcol::QCLASS)?, c.text(dcol::QCLASS_NAME)?);
    let (qtype, qtype_name) = (c.u64(dcol::QTYPE)?, c.text(dcol::QTYPE_NAME)?);
    let (rcode, rcode_name) = (c.u64(dcol::RCODE)?, c.text(dcol::RCODE_NAME)?);
    let flags: Vec<Vec<Option<bool>>> = [dcol::AA, dcol::TC, dcol::RD, dcol::RA, dcol::REJECTED]
        .iter()
        .map(|n| c.bool(n))
        .collect::<Result<_>>()?;
    let z = c.u64(dcol::Z)?;
    let answers = c.text_lists(dcol::ANSWERS)?;
    let ttls = c.f64_lists(dcol::TTLS)?;
    let (opcode, opcode_name) = (c.u64(dcol::OPCODE)?, c.text(dcol::OPCODE_NAME)?);
    let flag = |k: usize, i: usize| flags[k][i].map_or(Value::Unset, Value::Bool);
    for i in 0..dns.height() {
        let proto = match l4[i].as_deref() {
            Some("tcp") => "tcp",
            _ => "udp",
        };
        let list = |v: &Option<Vec<String>>| match v {
            Some(v) if !v.is_empty() => Value::List(v.clone()),
            _ => Value::Unset,
        };
        let mut row = ids.values(i).to_vec();
        row.extend([
            Value::Text(proto.into()),
            Value::count(trans_id[i]),
            rtt[i].map_or(Value::Unset, Value::Interval),
            Value::text(query[i].clone()),
            Value::count(qclass[i]),
            Value::text(qclass_name[i].clone()),
            Value::count(qtype[i]),
            Value::text(qtype_name[i].clone()),
            Value::count(rcode[i]),
            Value::text(rcode_name[i].clone()),
            flag(0, i),
            flag(1, i),
            flag(2, i),
            flag(3, i),
            Value::count(z[i]),
            list(&answers[i]),
            match &ttls[i] {
                Some(v) if !v.is_empty() => Value::Intervals(v.clone()),
                _ => Value::Unset,
            },
            flag(4, i),
            Value::count(opcode[i]),
            Value::text(opcode_name[i].clone()),
        ]);
        w.row(&row)?;
    }
    Ok(())
}
