//! flow_table: accumulated flows ([`crate::table::flow`]) -> rows of the flow table. This is
//! where each flow's originator is settled (Zeek's rules: see [`crate::table::zeek_tcp`]) and its
//! conn.log fields are written: history, service, sizes, missed bytes, IP bytes, conn_state and
//! the Community ID.

use polars::prelude::*;

use crate::decode::L4;
use crate::decode::packet::{FlowMap, icmp_ports};
use crate::decode::service::Service;
use crate::error::Result;
use crate::table::column::{Col, cat32, enum8, prim};
use crate::table::community_id::community_id;
use crate::table::flow_acc::{Acc, Dir, NONE8, NONE32, Zeek};
use crate::table::schema::{APP_DTYPE, L4_DTYPE, STATES, cat_dtype, fcol, text_mapping};

/// What a flow's flag counts say, for netql's own `state` summary.
struct Counts {
    tcp: bool,
    syn: bool,
    synack: bool,
    rst_o: bool,
    rst_r: bool,
    fin_o: bool,
    fin_r: bool,
    reply: bool,
}

impl Counts {
    /// Index into [`STATES`].
    fn state(&self) -> usize {
        let attempt = self.syn && !self.synack;
        match () {
            _ if !self.tcp => usize::from(self.reply),
            _ if !self.syn && !self.synack => 2,
            _ if attempt && self.rst_r => 3,
            _ if attempt && !self.reply => 4,
            _ if self.rst_o || self.rst_r => 5,
            _ if self.fin_o && self.fin_r => 6,
            _ => 7,
        }
    }
}

fn opt32(v: u32) -> Option<u32> {
    (v != NONE32).then_some(v)
}

fn opt8(v: u8) -> Option<u8> {
    (v != NONE8).then_some(v)
}

/// A flow's two sides once the originator is known: the originator may have sent nothing (Zeek
/// decided from ports that the first packet came from the responder).
struct Sides<'a> {
    orig: Option<&'a Dir>,
    resp: Option<&'a Dir>,
}

impl Sides<'_> {
    /// Originator address code and port.
    fn orig_end(&self) -> (Option<u32>, Option<u16>) {
        match (self.orig, self.resp) {
            (Some(o), _) => (opt32(o.src_ip), o.src_port),
            (None, Some(r)) => (opt32(r.dst_ip), r.dst_port),
            (None, None) => (None, None),
        }
    }

    fn resp_end(&self) -> (Option<u32>, Option<u16>) {
        match (self.orig, self.resp) {
            (Some(o), _) => (opt32(o.dst_ip), o.dst_port),
            (None, Some(r)) => (opt32(r.src_ip), r.src_port),
            (None, None) => (None, None),
        }
    }

    fn sum(&self, orig: bool, f: impl Fn(&Dir) -> u64) -> u64 {
        let d = if orig { self.orig } else { self.resp };
        d.map_or(0, f)
    }
}

/// The history of a UDP flow: `D` for the originator's packets, `d` for the responder's, in
/// the order each side was first seen, after `^` when Zeek flipped the roles at the start.
fn udp_history(flipped: bool, first_is_orig: bool, two_sides: bool) -> &'static str {
    const HISTORIES: [&str; 8] = ["d", "dD", "D", "Dd", "^d", "^dD", "^D", "^Dd"];
    HISTORIES[usize::from(flipped) << 2 | usize::from(first_is_orig) << 1 | usize::from(two_sides)]
}

/// Zeek's UDP `conn_state`: which sides sent anything.
fn udp_conn_state(orig_active: bool, resp_active: bool) -> &'static str {
    match (orig_active, resp_active) {
        (true, true) => "SF",
        (true, false) => "S0",
        (false, true) => "SHR",
        (false, false) => "OTH",
    }
}

/// An address as its text code says it, back to bytes (for the Community ID).
fn addr_of(code: Option<u32>, mapping: &CategoricalMapping) -> Option<crate::decode::Addr> {
    let text = mapping.cat_to_str(code?)?;
    text.parse::<std::net::IpAddr>().ok().map(Into::into)
}

/// The flow table rows of `flows`, in that order. `seed` is the Community ID seed.
pub(crate) fn table_of(flows: &[Acc], seed: u16) -> Result<DataFrame> {
    let n = flows.len();
    let flow_id: Vec<u64> = flows.iter().map(|acc| acc.id).collect();
    let mut file = Col::<u32>::with_capacity(n);
    let mut l4 = Col::<u8>::with_capacity(n);
    let mut ip_version = Col::<u8>::with_capacity(n);
    let mut src_ip = Col::<u32>::with_capacity(n);
    let mut src_port = Col::<u16>::with_capacity(n);
    let mut dst_ip = Col::<u32>::with_capacity(n);
    let mut dst_port = Col::<u16>::with_capacity(n);
    let mut app = Col::<u8>::with_capacity(n);
    let (mut first_ts, mut last_ts) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut duration = Vec::with_capacity(n);
    let (mut first_frame, mut last_frame) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let [
        mut packets,
        mut bytes,
        mut pkts_fwd,
        mut pkts_rev,
        mut bytes_fwd,
        mut bytes_rev,
        mut pl_fwd,
        mut pl_rev,
        mut orig_bytes,
        mut resp_bytes,
        mut missed,
        mut orig_ip_bytes,
        mut resp_ip_bytes,
    ] = std::array::from_fn::<Vec<u64>, 13, _>(|_| Vec::with_capacity(n));
    let [mut syn, mut syn_ack, mut rst_fwd, mut rst_rev, mut fin_fwd, mut fin_rev] =
        std::array::from_fn::<Vec<u32>, 6, _>(|_| Vec::with_capacity(n));
    let mut state = Col::<u32>::with_capacity(n);
    let mut conn_state = Col::<u32>::with_capacity(n);
    let mut history = Col::<u32>::with_capacity(n);
    let mut service = Col::<u32>::with_capacity(n);
    // One value per flow, so a plain string column: a dictionary would only grow.
    let mut cid: Vec<Option<crate::table::community_id::CommunityId>> = Vec::with_capacity(n);
    let mapping = text_mapping();
    let code = |s: &str| mapping.insert_cat(s).ok();
    let states: Vec<u32> = STATES.iter().map(|s| code(s).unwrap_or(0)).collect();
    // Flows share their addresses, histories, states and services: each text is looked up in
    // the shared mapping (and each address parsed back to bytes) once per block, not per flow.
    let mut addrs: FlowMap<u32, Option<crate::decode::Addr>> = FlowMap::default();
    let mut addr = |code: Option<u32>| -> Option<crate::decode::Addr> {
        *addrs.entry(code?).or_insert_with_key(|&c| addr_of(Some(c), &mapping))
    };
    // Fast-hashed, and looked up by &str: most flows are UDP with one of eight histories.
    let mut texts: PlHashMap<String, Option<u32>> = PlHashMap::default();
    let mut text_code = |s: &str| match texts.get(s) {
        Some(c) => *c,
        None => {
            let c = code(s);
            texts.insert(s.to_owned(), c);
            c
        }
    };
    let mut services: FlowMap<[u8; 4], Option<u32>> = FlowMap::default();

    let mut many: Vec<&Dir> = Vec::new();
    for acc in flows {
        // Nearly every flow has one or two directions: no allocation for those.
        let one = [&acc.first];
        let pair;
        let dirs: &[&Dir] = match (&acc.second, acc.more.as_deref().map_or(&[][..], Vec::as_slice)) {
            (None, _) => &one,
            (Some(other), []) => {
                pair = [&acc.first, other];
                &pair
            }
            (Some(second), more) => {
                many.clear();
                many.push(&acc.first);
                many.push(second);
                many.extend(more);
                many.sort_by_key(|d| d.f0);
                &many
            }
        };
        let first = &acc.first;
        let second = acc.second.as_ref();
        let first_is_orig = match &acc.zeek {
            Zeek::Tcp(m) => m.first_sender_is_orig(),
            Zeek::Udp { flipped } => !flipped,
            Zeek::Other => true,
        };
        let sides = if first_is_orig {
            Sides {
                orig: Some(first),
                resp: second,
            }
        } else {
            Sides {
                orig: second,
                resp: Some(first),
            }
        };
        let (o_ip, o_port) = sides.orig_end();
        let (r_ip, r_port) = sides.resp_end();
        file.push(opt32(first.file));
        l4.push(opt8(first.l4));
        ip_version.push(opt8(first.ip_version));
        src_ip.push(o_ip);
        src_port.push(o_port);
        dst_ip.push(r_ip);
        dst_port.push(r_port);
        app.push(dirs.iter().find_map(|d| opt8(d.app_payload)).or(opt8(first.app_first)));
        let t0 = dirs.iter().map(|d| d.t0).min().unwrap_or(0);
        let t1 = dirs.iter().map(|d| d.t1).max().unwrap_or(0);
        first_ts.push(t0);
        last_ts.push(t1);
        // Zeek's duration: a TCP connection stops counting once both sides have closed (a last
        // ACK after the FINs is not part of it).
        let end = match &acc.zeek {
            Zeek::Tcp(m) if m.last_time() >= t0 => m.last_time(),
            _ => t1,
        };
        // Widened: a damaged capture's times can be any 64-bit values (found by fuzzing).
        duration.push((i128::from(end) - i128::from(t0)) as f64 / 1e9);
        first_frame.push(dirs.iter().map(|d| d.f0).min().unwrap_or(0));
        last_frame.push(dirs.iter().map(|d| d.f1).max().unwrap_or(0));
        packets.push(dirs.iter().map(|d| u64::from(d.packets)).sum());
        bytes.push(dirs.iter().map(|d| d.bytes).sum());
        pkts_fwd.push(sides.sum(true, |d| u64::from(d.packets)));
        pkts_rev.push(sides.sum(false, |d| u64::from(d.packets)));
        bytes_fwd.push(sides.sum(true, |d| d.bytes));
        bytes_rev.push(sides.sum(false, |d| d.bytes));
        pl_fwd.push(sides.sum(true, |d| d.payload));
        pl_rev.push(sides.sum(false, |d| d.payload));
        orig_ip_bytes.push(sides.sum(true, |d| d.ip_bytes));
        resp_ip_bytes.push(sides.sum(false, |d| d.ip_bytes));
        let tcp = first.l4 == L4::Tcp as u8;
        let (o, r) = (sides.orig, sides.resp);
        let counts = Counts {
            tcp,
            syn: o.is_some_and(|d| d.syn > 0),
            synack: r.is_some_and(|d| d.synack > 0),
            rst_o: o.is_some_and(|d| d.rst > 0),
            rst_r: r.is_some_and(|d| d.rst > 0),
            fin_o: o.is_some_and(|d| d.fin > 0),
            fin_r: r.is_some_and(|d| d.fin > 0),
            reply: r.is_some_and(|d| d.packets > 0) && o.is_some_and(|d| d.packets > 0),
        };
        syn.push(o.map_or(0, |d| d.syn));
        syn_ack.push(r.map_or(0, |d| d.synack));
        rst_fwd.push(o.map_or(0, |d| d.rst));
        rst_rev.push(r.map_or(0, |d| d.rst));
        fin_fwd.push(o.map_or(0, |d| d.fin));
        fin_rev.push(r.map_or(0, |d| d.fin));
        state.push(Some(states[counts.state()]));
        let (hist, cstate, sizes, gap) = match &acc.zeek {
            Zeek::Tcp(m) => (Some(m.history()), m.conn_state(), m.sizes(), m.missed_bytes()),
            Zeek::Udp { flipped } => (
                Some(udp_history(*flipped, first_is_orig, second.is_some())),
                udp_conn_state(o.is_some_and(|d| d.packets > 0), r.is_some_and(|d| d.packets > 0)),
                (sides.sum(true, |d| d.payload), sides.sum(false, |d| d.payload)),
                0,
            ),
            Zeek::Other => (
                None,
                "OTH",
                (sides.sum(true, |d| d.payload), sides.sum(false, |d| d.payload)),
                0,
            ),
        };
        history.push(hist.filter(|h| !h.is_empty()).and_then(&mut text_code));
        conn_state.push(text_code(cstate));
        orig_bytes.push(sizes.0);
        resp_bytes.push(sizes.1);
        missed.push(gap);
        let named = *services.entry(acc.services).or_insert_with(|| {
            let names: Vec<&str> = acc
                .services
                .iter()
                .take_while(|&&s| s != NONE8)
                .filter_map(|&s| Service::ALL.get(usize::from(s)).map(|s| s.name()))
                .collect();
            (!names.is_empty()).then(|| names.join(",")).and_then(|s| code(&s))
        });
        service.push(named);
        // Community ID: ports, or an ICMP message's type and counterpart (or code).
        let id = match (addr(o_ip), addr(r_ip)) {
            (Some(a), Some(b)) => {
                let (sp, dp) = (o_port.unwrap_or(0), r_port.unwrap_or(0));
                let icmp = first.l4 == L4::Icmp as u8 || first.l4 == L4::Icmpv6 as u8;
                let one_way = icmp && icmp_ports(first.l4 == L4::Icmpv6 as u8, sp as u8, dp as u8).2;
                Some(community_id(seed, acc.ip_proto, a, sp, b, dp, one_way))
            }
            _ => None,
        };
        cid.push(id);
    }

    let ts = |name: &str, v: Vec<i64>| {
        Int64Chunked::from_vec(name.into(), v)
            .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
            .into_column()
    };
    let u64c = |name: &str, v: Vec<u64>| UInt64Chunked::from_vec(name.into(), v).into_column();
    let u32c = |name: &str, v: Vec<u32>| UInt32Chunked::from_vec(name.into(), v).into_column();
    let cat = cat_dtype;
    let columns = vec![
        u64c(fcol::FLOW_ID, flow_id),
        cat32(fcol::FILE, file, cat()),
        enum8(fcol::L4, l4, &L4_DTYPE),
        prim::<UInt8Type>(fcol::IP_VERSION, ip_version),
        cat32(fcol::SRC_IP, src_ip, cat()),
        prim::<UInt16Type>(fcol::SRC_PORT, src_port),
        cat32(fcol::DST_IP, dst_ip, cat()),
        prim::<UInt16Type>(fcol::DST_PORT, dst_port),
        enum8(fcol::APP, app, &APP_DTYPE),
        cat32(fcol::SERVICE, service, cat()),
        ts(fcol::FIRST_TS, first_ts),
        ts(fcol::LAST_TS, last_ts),
        Float64Chunked::from_vec(fcol::DURATION_S.into(), duration).into_column(),
        u32c(fcol::FIRST_FRAME, first_frame),
        u32c(fcol::LAST_FRAME, last_frame),
        u64c(fcol::PACKETS, packets),
        u64c(fcol::BYTES, bytes),
        u64c(fcol::PKTS_FWD, pkts_fwd),
        u64c(fcol::PKTS_REV, pkts_rev),
        u64c(fcol::BYTES_FWD, bytes_fwd),
        u64c(fcol::BYTES_REV, bytes_rev),
        u64c(fcol::PAYLOAD_FWD, pl_fwd),
        u64c(fcol::PAYLOAD_REV, pl_rev),
        u64c(fcol::ORIG_BYTES, orig_bytes),
        u64c(fcol::RESP_BYTES, resp_bytes),
        u64c(fcol::MISSED_BYTES, missed),
        u64c(fcol::ORIG_IP_BYTES, orig_ip_bytes),
        u64c(fcol::RESP_IP_BYTES, resp_ip_bytes),
        u32c(fcol::SYN, syn),
        u32c(fcol::SYN_ACK, syn_ack),
        u32c(fcol::RST_FWD, rst_fwd),
        u32c(fcol::RST_REV, rst_rev),
        u32c(fcol::FIN_FWD, fin_fwd),
        u32c(fcol::FIN_REV, fin_rev),
        cat32(fcol::STATE, state, cat()),
        cat32(fcol::CONN_STATE, conn_state, cat()),
        cat32(fcol::HISTORY, history, cat()),
        StringChunked::from_iter_options(
            fcol::COMMUNITY_ID.into(),
            cid.iter().map(|c| c.as_ref().map(|c| c.as_str())),
        )
        .into_column(),
    ];
    Ok(DataFrame::new(n, columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The eight UDP histories, as the rule says: `^` first when flipped, then the first
    /// sender's letter (`D` originator, `d` responder), then the other's when it sent too.
    #[test]
    fn udp_histories_follow_the_rule() {
        for flipped in [false, true] {
            for first_is_orig in [false, true] {
                for two_sides in [false, true] {
                    let (a, b) = if first_is_orig { ("D", "d") } else { ("d", "D") };
                    let want = format!(
                        "{}{a}{}",
                        if flipped { "^" } else { "" },
                        if two_sides { b } else { "" }
                    );
                    assert_eq!(udp_history(flipped, first_is_orig, two_sides), want);
                }
            }
        }
    }
}
