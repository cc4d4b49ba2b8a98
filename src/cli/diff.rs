//! `netql diff A B`: what changed between two captures or two sets, as a report or JSON; with
//! `--fail-on-new SEV`, exit 1 when a finding at that severity or above appeared (a CI gate:
//! "nothing new since the baseline capture").

use std::sync::Arc;

use anyhow::Result;
use netql::error::Exit;
use netql::query::bindings::Severity;
use netql::query::diff::{Thresholds, diff};
use netql::query::engine::Captures;
use netql::render::Format;
use netql::safe_text;

use crate::cli::context::{Ctx, load_many};

/// `netql diff` options (see `netql diff --help`).
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The baseline: a capture, `latest`, `all`, or several joined with commas.
    pub a: String,
    /// What is compared with it.
    pub b: String,
    /// Exit 1 when a new finding at or above this severity appeared.
    #[arg(long, value_enum, value_name = "SEV")]
    pub fail_on_new: Option<Severity>,
    /// A host's volume changed when one side has at least this many bytes...
    #[arg(long, default_value_t = 100_000)]
    pub min_bytes: u64,
    /// ...and it grew or shrank by this factor.
    #[arg(long, default_value_t = 2.0)]
    pub factor: f64,
    #[arg(long, default_value = "table", value_parser = Format::parser(Format::TABLE_JSON))]
    pub format: Format,
}

pub fn run(ctx: &Ctx, a: &DiffArgs) -> Result<Exit> {
    let side = |spec: &str| {
        let specs: Vec<String> = spec
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        load_many(ctx, &specs, netql::table::load::Keep::All)
    };
    let ((la, fa), (lb, fb)) = (side(&a.a), side(&a.b));
    if fa || fb || la.is_empty() || lb.is_empty() {
        return Ok(Exit::Error);
    }
    let t = Thresholds {
        min_bytes: a.min_bytes,
        factor: a.factor.max(1.0),
        ..Thresholds::default()
    };
    let engine = ctx.engine();
    let d = diff(
        Arc::new(Captures::new(la)),
        Arc::new(Captures::new(lb)),
        &engine,
        &ctx.cfg.queries_dir,
        t,
    )
    .map_err(anyhow::Error::msg)?;
    match a.format {
        Format::Json => println!("{}", safe_text::json(serde_json::to_string_pretty(&d)?)),
        _ => print!("{}", netql::render::diff::report(&d)),
    }
    let tripped = a
        .fail_on_new
        .is_some_and(|sev| d.new_reported.iter().any(|r| r.finding.severity >= sev));
    Ok(if tripped { Exit::Failure } else { Exit::Success })
}
