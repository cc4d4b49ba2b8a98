//! The crate's error type. Library code returns `Result<T>`; only `main.rs` turns errors into
//! `anyhow` reports and exit codes.

use std::path::PathBuf;

/// Everything that can go wrong inside netql, with enough context to tell the user what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A capture file that libpcap (or our pcapng fallback) refuses to read.
    #[error("{path}: cannot read capture: {reason}")]
    Capture { path: PathBuf, reason: String },

    /// A capture name or path that does not resolve to a capture we may read.
    #[error("{0}")]
    NotFound(String),

    #[error("config: {0}")]
    Config(String),

    #[error("cache {path}: {reason}")]
    Cache { path: PathBuf, reason: String },

    /// Live capture: the interface, its permissions, the filter, or writing the files.
    #[error("{0}")]
    Live(String),

    #[error("polars: {0}")]
    Polars(#[from] polars::prelude::PolarsError),

    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
