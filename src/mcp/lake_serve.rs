//! lake_serve: the lake a server reads (`netql mcp --lake DIR [--sensor] [--from] [--to]`):
//! its flags, its scope at a given moment, and what the server tells clients about it. The
//! tools over it are in [`crate::mcp::lake`].

use std::ffi::OsString;
use std::path::PathBuf;

use crate::table::lake::scan::{LakeScope, LakeView};

/// The lake a server serves, as given on its command line. Times are kept as written, so a
/// relative start (`--from 7d`) keeps meaning "the last seven days" while the server runs.
#[derive(Debug, Clone)]
pub struct LakeServe {
    pub dir: PathBuf,
    pub sensors: Vec<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl LakeServe {
    /// The same lake as `netql mcp` flags (for the engine child a front starts).
    pub fn args(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec!["--lake".into(), self.dir.clone().into_os_string()];
        for s in &self.sensors {
            v.extend(["--sensor".into(), s.into()]);
        }
        if let Some(f) = &self.from {
            v.extend(["--from".into(), f.into()]);
        }
        if let Some(t) = &self.to {
            v.extend(["--to".into(), t.into()]);
        }
        v
    }

    /// Checks the flags and the lake once at start, so a mistake fails `netql mcp` itself.
    pub fn check(&self) -> crate::error::Result<()> {
        let scope = self.scope()?;
        LakeView::open(&self.dir, scope).map(|_| ())
    }

    /// The server's scope now (relative times are taken back from this moment).
    pub(crate) fn scope(&self) -> crate::error::Result<LakeScope> {
        LakeScope::from_text(&self.sensors, self.from.as_deref(), self.to.as_deref(), now_ns())
    }

    /// What the server tells clients about its data, after the usual instructions.
    pub fn instructions(&self) -> String {
        let mut scope = Vec::new();
        if !self.sensors.is_empty() {
            scope.push(format!("sensors {}", self.sensors.join(", ")));
        }
        if let Some(f) = &self.from {
            scope.push(format!("from {f}"));
        }
        if let Some(t) = &self.to {
            scope.push(format!("to {t}"));
        }
        let scope = if scope.is_empty() {
            String::new()
        } else {
            format!(" (server scope: {})", scope.join(", "))
        };
        format!(
            "\n\nThis server reads a lake made by `netql ingest`{scope}, not a captures folder: many \
             captures from one or more sensors. Every table has a `sensor` column and a findings() table \
             holds the canned suite's findings per capture. list_captures shows the captures it holds \
             and their time spans. By default run_query, run_script and analyze read the whole lake \
             in scope; narrow them with `from` / `to` (2024-03-05, 2024-03-05T17:00:00Z, or a time \
             ago: 7d, 24h, 30m) and `sensor`, which prune what is read, or name captures in `captures`. \
             packets() is there only for captures ingested with --with-packets. capture_live, diff \
             and export_packets work on captures folders only."
        )
    }
}

pub(crate) fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}
