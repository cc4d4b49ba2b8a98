//! netql: network-traffic queries over Polars frames.
//!
//! ```text
//! capture (read) -> decode -> frame -> load (parallel, cached) -> summary / front-ends -> render
//!                     config and error are used by all; nothing flows backwards
//! ```

pub mod capture;
pub mod catalog;
pub mod config;
pub mod decode;
pub mod error;
pub mod frame;
pub mod load;
pub mod pcapwrite;
pub mod render;
pub mod sample;
pub mod stream;
pub mod summary;

pub use error::{Error, Result};
