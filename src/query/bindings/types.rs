//! types: the values scripts hold besides numbers, text, arrays and maps, under the names scripts
//! and their errors show: a [`Table`] (a lazy Polars plan), an [`Expr`] (a column expression), a
//! [`GroupBy`] waiting for `.agg(...)`, a [`Finding`] and [`Findings`] (one per row of a table).

use polars::prelude::{Expr as PlExpr, LazyFrame};
use rhai::Map as RMap;

/// A table being built: a lazy Polars plan, run when a result is needed.
#[derive(Clone)]
pub struct Table(pub LazyFrame);

/// A column expression (`col("dst_port") == 443`).
#[derive(Clone)]
pub struct Expr(pub PlExpr);

/// A table grouped by keys, waiting for `.agg([...])`.
#[derive(Clone)]
pub struct GroupBy {
    pub(crate) table: LazyFrame,
    pub(crate) keys: Vec<PlExpr>,
}

/// Severity of a finding, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A finding as a script produced it: severity, title, facts and the evidence rows.
#[derive(Clone)]
pub struct Finding {
    pub severity: Severity,
    pub title: String,
    /// Named facts (scanner address, target, counts...), shown and exported with the finding.
    pub facts: RMap,
    pub evidence: Option<LazyFrame>,
}

/// One finding per row of a table, the title filled from each row (see `findings(...)`).
#[derive(Clone)]
pub struct Findings {
    pub table: LazyFrame,
    pub severity: Severity,
    pub title: String,
}
