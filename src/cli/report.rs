//! `netql report CAPTURE... [--out FILE]`: the analysis as one self-contained HTML page with
//! charts (see `netql::render::html`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use netql::error::Exit;
use netql::query::engine::Captures;

use crate::cli::context::{Ctx, load_many};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Captures (default: latest).
    #[arg(value_name = "CAPTURE")]
    pub files: Vec<String>,
    /// Where to write the page (default: report.html).
    #[arg(long, value_name = "FILE", default_value = "report.html")]
    pub out: PathBuf,
    /// Also say what changed since this capture (or several, joined with commas), as `netql diff`.
    #[arg(long, value_name = "CAPTURE")]
    pub baseline: Option<String>,
}

pub fn run(ctx: &Ctx, a: &ReportArgs) -> Result<Exit> {
    let (loaded, failed) = load_many(ctx, &a.files, netql::table::load::Keep::All);
    if failed || loaded.is_empty() {
        return Ok(Exit::Error);
    }
    let engine = ctx.engine();
    let data = Arc::new(Captures::new(loaded));
    let changes = match &a.baseline {
        Some(spec) => {
            let specs: Vec<String> = spec
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            let (base, failed) = load_many(ctx, &specs, netql::table::load::Keep::All);
            if failed || base.is_empty() {
                return Ok(Exit::Error);
            }
            let t = netql::query::diff::Thresholds::default();
            Some(
                netql::query::diff::diff(
                    Arc::new(Captures::new(base)),
                    data.clone(),
                    &engine,
                    &ctx.cfg.queries_dir,
                    t,
                )
                .map_err(anyhow::Error::msg)?,
            )
        }
        None => None,
    };
    let data =
        netql::query::report_data::report_data(data, &engine, &ctx.cfg.queries_dir).map_err(anyhow::Error::msg)?;
    std::fs::write(&a.out, netql::render::html::report(&data, changes.as_ref()))?;
    println!(
        "wrote {} ({} findings); open it in a browser",
        netql::safe_text::line(&a.out.display().to_string()),
        data.analysis.findings.len()
    );
    Ok(Exit::Success)
}
