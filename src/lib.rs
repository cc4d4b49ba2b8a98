//! netql: network-traffic queries over Polars frames.
//!
//! ```text
//! capture (read) -> decode -> table -> query -> render -> shell | mcp | agent
//!                     config and error are used by all; nothing flows backwards
//! ```

pub mod agent;
pub mod allocator;
pub mod capture;
pub mod config;
pub mod decode;
pub mod error;
pub mod mcp;
pub mod query;
pub mod render;
pub mod shell;
pub mod table;
#[doc(hidden)]
pub mod testdata;
pub mod units;

pub use error::{Error, Result};
