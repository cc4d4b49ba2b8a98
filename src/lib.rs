//! netql: network-traffic queries over Polars tables.
//!
//! The folders are the steps of the flow, and the flow only goes down this list: a module uses
//! the base and the steps listed before its own, never one listed after it (`tests/it/
//! architecture.rs` checks every `use`, and that no modules form a cycle):
//!
//! ```text
//! error, config, units, safe_text, testdata   base: used by all
//!   capture   read and write captures: pcap/pcapng files, live capture, the sample
//!   decode    one record -> facts: link, IP, transport, DNS/HTTP/TLS/QUIC, the in-order pass
//!   table     facts -> Polars tables: schema, columns, packed storage, flows, cache, load
//!   query     the Rhai query language over those tables: bindings, engine, canned queries,
//!             analyze, summary, live detection
//!   render    results -> tables and reports for people, JSON/CSV/NDJSON/Markdown for machines
//!   shell | mcp | agent                 front-ends (none uses another)
//! cli (the binary: src/main.rs, src/cli/)
//! ```
//!
//! Where things go:
//! - a column: its name and meaning in [`table::schema`], its value in the [`decode::Packet`]
//!   the decoders fill, and the cell written in [`table::packet_columns`];
//! - a function of the query language: registered with its form and description in the
//!   [`query::bindings`] file of its topic (tables, exprs, text, time, address, findings);
//! - an MCP tool: its arguments and result in [`mcp::types`], its body in a file of its own
//!   under `src/mcp/`, and its entry in [`mcp::router`];
//! - a command: `src/cli/args.rs` (its options) and a file of its own under `src/cli/`.

pub mod agent;
pub mod allocator;
pub mod capture;
pub mod config;
pub mod decode;
pub mod error;
pub mod mcp;
pub mod query;
pub mod render;
pub mod safe_text;
pub mod shell;
pub mod table;
#[doc(hidden)]
pub mod testdata;
pub mod units;

pub use error::{Error, Result};
