//! conn: the flow table as Zeek's conn.log (Zeek 9.1's columns, then `community_id` as Zeek's
//! community-id policy script adds it). As Zeek does, `duration`, `orig_bytes` and `resp_bytes`
//! are left unset for a flow that lasted no time, and `service` and `history` when empty.

use polars::prelude::*;

use crate::error::Result;
use crate::render::zeek::columns::{Columns, ConnIds};
use crate::render::zeek::log::{Field, LogWriter, Value, field};
use crate::render::zeek::site::is_local;
use crate::table::schema::fcol;

pub const FIELDS: &[Field] = &[
    field("ts", "time"),
    field("uid", "string"),
    field("id.orig_h", "addr"),
    field("id.orig_p", "port"),
    field("id.resp_h", "addr"),
    field("id.resp_p", "port"),
    field("proto", "enum"),
    field("service", "string"),
    field("duration", "interval"),
    field("orig_bytes", "count"),
    field("resp_bytes", "count"),
    field("conn_state", "string"),
    field("local_orig", "bool"),
    field("local_resp", "bool"),
    field("missed_bytes", "count"),
    field("history", "string"),
    field("orig_pkts", "count"),
    field("orig_ip_bytes", "count"),
    field("resp_pkts", "count"),
    field("resp_ip_bytes", "count"),
    field("tunnel_parents", "set[string]"),
    field("ip_proto", "count"),
    field("community_id", "string"),
];

/// Zeek's transport name for the `l4` column's values.
fn proto(l4: Option<&str>) -> &'static str {
    match l4 {
        Some("tcp") => "tcp",
        Some("udp") => "udp",
        Some("icmp" | "icmpv6") => "icmp",
        _ => "unknown_transport",
    }
}

fn ip_proto(l4: Option<&str>) -> Option<u64> {
    match l4 {
        Some("tcp") => Some(6),
        Some("udp") => Some(17),
        Some("icmp") => Some(1),
        Some("icmpv6") => Some(58),
        _ => None,
    }
}

/// Write the rows of a flow table (one capture's, or several stacked) to `w`.
pub fn write(w: &mut LogWriter, flows: &DataFrame) -> Result<()> {
    let c = Columns::new(flows);
    let ids = ConnIds::read(&c, fcol::FIRST_TS, Some(0))?;
    let l4 = c.text(fcol::L4)?;
    let service = c.text(fcol::SERVICE)?;
    let duration = c.f64(fcol::DURATION_S)?;
    let (ob, rb) = (c.u64(fcol::ORIG_BYTES)?, c.u64(fcol::RESP_BYTES)?);
    let conn_state = c.text(fcol::CONN_STATE)?;
    let missed = c.u64(fcol::MISSED_BYTES)?;
    let history = c.text(fcol::HISTORY)?;
    let (op, rp) = (c.u64(fcol::PKTS_FWD)?, c.u64(fcol::PKTS_REV)?);
    let (oip, rip) = (c.u64(fcol::ORIG_IP_BYTES)?, c.u64(fcol::RESP_IP_BYTES)?);
    let cid = c.text(fcol::COMMUNITY_ID)?;
    for i in 0..flows.height() {
        let l4 = l4[i].as_deref();
        let lasted = duration[i].filter(|d| *d > 0.0);
        let local = |a: &Option<String>| a.as_deref().and_then(is_local).map_or(Value::Unset, Value::Bool);
        let mut row = ids.values(i).to_vec();
        row.extend([
            Value::Text(proto(l4).into()),
            Value::text(service[i].clone()),
            lasted.map_or(Value::Unset, Value::Interval),
            if lasted.is_some() {
                Value::count(ob[i])
            } else {
                Value::Unset
            },
            if lasted.is_some() {
                Value::count(rb[i])
            } else {
                Value::Unset
            },
            Value::text(conn_state[i].clone()),
            local(&ids.src[i]),
            local(&ids.dst[i]),
            Value::count(missed[i]),
            Value::text(history[i].clone()),
            Value::count(op[i]),
            Value::count(oip[i]),
            Value::count(rp[i]),
            Value::count(rip[i]),
            Value::Unset,
            Value::count(ip_proto(l4)),
            Value::text(cid[i].clone()),
        ]);
        w.row(&row)?;
    }
    Ok(())
}
