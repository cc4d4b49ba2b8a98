//! End-to-end tests: one test binary, one module per theme.

mod agent;
mod architecture;
mod carve;
mod cli;
mod common;
mod conformance;
mod decoding;
mod diff;
mod formats;
mod hardening;
mod ja4;
mod lake;
mod lake_mcp;
mod linktypes;
mod live;
mod mcp;
mod mcp_http;
mod queries;
mod report;
mod shell;
mod transaction_queries;
mod watch;
mod zeek;
