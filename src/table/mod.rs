//! table: decoded packets as Polars tables: the schema, column building, packed storage, flows,
//! the Parquet cache, the captures folder and the parallel load.

pub mod cache;
pub mod catalog;
pub mod flow;
pub mod frame;
pub mod load;
pub mod memory;
pub mod packed;
