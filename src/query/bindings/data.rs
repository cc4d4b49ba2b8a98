//! data: where `packets()`, `flows()`, `events()`, `dns()`, `http()`, `tls()` and `stacks()` get their tables: loaded
//! captures, a live window, or (to check a script without running it) empty tables.

use std::sync::Arc;

use polars::prelude::*;

use crate::error::Result;
use crate::query::bindings::lang::{Lang, Topic, err};
use crate::query::bindings::types::Table;

/// What the data functions (`packets()`, `flows()`, `events()`, `stacks()`) return.
pub trait DataSource: Send + Sync {
    fn packets(&self) -> Result<LazyFrame>;
    fn flows(&self) -> Result<LazyFrame>;

    /// The event rows of the packets (see [`crate::table::events::EVENTS_DOC`]). Tables split at
    /// load time hand them over without a scan; this default filters the packets.
    fn events(&self) -> Result<LazyFrame> {
        Ok(self.packets()?.filter(crate::table::events::event_expr()))
    }

    /// The DNS transactions. A source without them (a live window) has none.
    fn dns(&self) -> Result<LazyFrame> {
        crate::table::dns_table::empty_dns().map(|df| df.lazy())
    }

    /// The HTTP transactions. A source without them (a live window) has none.
    fn http(&self) -> Result<LazyFrame> {
        crate::table::http_table::empty_http().map(|df| df.lazy())
    }

    /// The TLS and QUIC handshakes. A source without them (a live window) has none.
    fn tls(&self) -> Result<LazyFrame> {
        crate::table::tls_table::empty_tls().map(|df| df.lazy())
    }

    /// Frames and bytes per protocol stack. Loaded captures count them while decoding; this
    /// default groups the packets.
    fn stacks(&self) -> Result<LazyFrame> {
        Ok(crate::table::stacks::stacks_of(self.packets()?))
    }

    /// The findings stored with the data (a lake keeps the suite's findings of every capture it
    /// ingested); none elsewhere.
    fn findings(&self) -> Result<LazyFrame> {
        crate::table::lake::findings::empty_findings().map(|df| df.lazy())
    }

    /// The capture files behind the tables.
    fn files(&self) -> Vec<String> {
        Vec::new()
    }

    /// Packets, bytes, first and last time (ns), when known without a pass over the packets.
    fn totals(&self) -> Option<Totals> {
        None
    }
}

/// What [`DataSource::totals`] gives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub packets: u64,
    pub bytes: u64,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
}

/// Data for compile-only checks and the reference: empty tables with the real schemas.
pub struct NoData;

impl DataSource for NoData {
    fn packets(&self) -> Result<LazyFrame> {
        crate::table::packet_columns::empty_packets().map(|df| df.lazy())
    }
    fn flows(&self) -> Result<LazyFrame> {
        crate::table::flow::empty_flows().map(|df| df.lazy())
    }
}

/// The data functions, reading `data`.
pub fn register(lang: &mut Lang, data: Arc<dyn DataSource>) {
    let d = data.clone();
    lang.def(
        Topic::Data,
        "packets()",
        "one row per packet, in file order (`netql schema` lists the columns)",
    )
    .with(move || d.packets().map(Table).or_else(|e| err(e.to_string())));
    let d = data.clone();
    lang.def(
        Topic::Data,
        "flows()",
        "one row per bidirectional conversation (5-tuple) with Zeek's conn_state",
    )
    .with(move || d.flows().map(Table).or_else(|e| err(e.to_string())));
    let d = data.clone();
    lang.def(
        Topic::Data,
        "events()",
        "the columns of packets() for the packets that say something on their own (DNS, HTTP, TLS hellos, ARP, credentials, ICMP, odd TCP flags, decode errors): start such questions here",
    )
    .with(move || d.events().map(Table).or_else(|e| err(e.to_string())));
    let d = data.clone();
    lang.def(
        Topic::Data,
        "dns()",
        "one row per DNS transaction (query paired with its reply, or either alone) with Zeek's dns.log meaning: query, qtype_name, rcode_name, answers, ttls, rtt, flags; joins flows() on flow_id or community_id",
    )
    .with(move || d.dns().map(Table).or_else(|e| err(e.to_string())));
    let d = data.clone();
    lang.def(
        Topic::Data,
        "http()",
        "one row per HTTP/1.x request/response pair with Zeek's http.log meaning: method, host, uri, user_agent, status_code, body lengths, username (never a password); joins flows() on flow_id or community_id",
    )
    .with(move || d.http().map(Table).or_else(|e| err(e.to_string())));
    let d = data.clone();
    lang.def(
        Topic::Data,
        "tls()",
        "one row per TLS or QUIC handshake with Zeek's ssl.log meaning: version, cipher, curve, server_name, established, resumed; what the client offered (client_versions, alpn); ja4, ja3, ja3s; the server certificate (TLS 1.2 and earlier)",
    )
    .with(move || d.tls().map(Table).or_else(|e| err(e.to_string())));
    let d = data.clone();
    lang.def(
        Topic::Data,
        "findings()",
        "over a lake (--lake): the canned suite's findings of every capture ingested (ts, file, query, severity, title, src, facts as JSON, frames, carve); elsewhere empty",
    )
    .with(move || d.findings().map(Table).or_else(|e| err(e.to_string())));
    let d = data;
    lang.def(
        Topic::Data,
        "stacks()",
        "frames and wire bytes per protocol stack (file, protocols, frames, bytes), counted while decoding",
    )
    .with(move || d.stacks().map(Table).or_else(|e| err(e.to_string())));
}
