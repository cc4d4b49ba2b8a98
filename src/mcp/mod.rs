//! mcp: `netql mcp`, an MCP server on which a model lists captures, reads the schema and runs
//! canned queries, the analysis suite, and Rhai scripts it writes itself. stdio by default,
//! streamable HTTP with `--http ADDR`.
//!
//! ```text
//! client --tools/call--> NetqlServer (async, rmcp) --spawn_blocking--> resolve (confined to the
//!   captures folder) -> load (cached in memory + Parquet) -> ScriptEngine (sandbox, deadline)
//!   -> page (rows + byte budget, cursor) -> structuredContent + text table
//! ```
//!
//! Rules this module keeps: nothing but protocol on stdout (Rhai print goes to stderr, progress
//! bars are off, Polars warnings are muted); captures resolve only inside the captures folder;
//! every tool failure a model can fix is a tool result with `isError`, not a protocol error;
//! strings from packets are returned as values (control characters escaped in text tables).

pub mod analyze;
pub mod describe;
pub mod diff;
pub(crate) mod engine_proxy;
pub mod export;
pub mod guide;
pub mod http;
pub(crate) mod http_guard;
pub mod lake;
pub mod lake_serve;
pub mod listing;
pub mod live;
pub mod paging;
pub mod resolve;
pub mod router;
pub mod run;
pub mod samples;
pub mod serve;
pub mod server;
pub mod tool_error;
pub mod types;

#[cfg(test)]
mod tests;

pub use http::DEFAULT_HTTP_PORT;
pub use lake_serve::LakeServe;
pub use serve::{ServeOptions, serve};
pub use server::NetqlServer;
