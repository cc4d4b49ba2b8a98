//! error: the library's error type and the exit status every command ends with. Library code
//! returns `Result<T>`; only the binary (`main.rs`, `cli/`) turns errors into `anyhow` reports,
//! and [`Exit`] into the process's exit code.

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

    /// A lake folder (`netql ingest`, `--lake`): its manifest, its parts, or its lock.
    #[error("lake {path}: {reason}")]
    Lake { path: PathBuf, reason: String },

    /// Live capture: the interface, its permissions, the filter, or writing the files.
    #[error("{0}")]
    Live(String),

    /// A query that cannot be run as asked: an unknown name, a bad parameter, a script file that
    /// cannot be read.
    #[error("{0}")]
    Query(String),

    /// A table that cannot be given (e.g. the whole packet table of a capture whose file has
    /// gone since it was first read).
    #[error("{0}")]
    Unavailable(String),

    /// A command-line value that does not parse (for example `--http ADDR`).
    #[error("{0}")]
    Usage(String),

    /// Serving MCP: the async runtime, the listening socket, the protocol handshake.
    #[error("{0}")]
    Serve(String),

    /// One of netql's own threads died or left a lock poisoned: a bug, named by what it was doing.
    #[error("internal error: {0}")]
    Internal(&'static str),

    #[error("polars: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn lake(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        Error::Lake {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a command ended. Every front-end reports one of these, and the process exits with its
/// [`code`](Exit::code): 0 success, 1 a check or finding failed, 2 an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Ran, nothing to report: exit 0.
    Success,
    /// Ran, and a check, an `assert` or a finding at the failing severity failed: exit 1.
    Failure,
    /// Part of the work could not be done (a bad script, an unreadable capture): exit 2.
    Error,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Error => 2,
        }
    }

    /// The worse of two outcomes (an error outweighs a failure, which outweighs success).
    pub fn worst(self, other: Exit) -> Exit {
        self.max(other)
    }
}
