//! netql: network-traffic queries over Polars frames.
//!
//! ```text
//! capture (read) -> decode -> frame -> load (parallel, cached) -> summary / front-ends -> render
//!                     config and error are used by all; nothing flows backwards
//! ```

pub mod agent;
pub mod allocator;
pub mod analyze;
pub mod anthropic;
pub mod bench;
pub mod bindings;
pub mod cache;
pub mod capture;
pub mod catalog;
pub mod config;
pub mod decode;
pub mod engine;
pub mod error;
pub mod flow;
pub mod frame;
pub mod live;
pub mod load;
pub mod mcp;
pub mod packed;
pub mod pcapwrite;
pub mod queries;
pub mod quic;
pub mod render;
pub mod sample;
pub mod shell;
pub mod stream;
pub mod summary;
pub mod table;
pub mod watch;

pub use error::{Error, Result};
