//! lake: tables of many captures and sensors on disk, as hive-partitioned Parquet that netql
//! queries in bounded memory and that Spark, Trino, DuckDB or Athena read where it lies.
//! [`ingest`] writes it (through [`manifest`]'s commit), [`scan`] reads it for queries, [`types`]
//! is the column-type contract with other engines, [`layout`] says where each file goes.

pub mod findings;
pub mod ingest;
pub mod layout;
pub mod manifest;
pub mod scan;
pub mod types;
pub mod write;
