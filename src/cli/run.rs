//! `netql run`: a canned query, a saved script or an ad-hoc one (`-e`) over captures.

use std::sync::Arc;

use anyhow::Result;
use netql::error::Exit;
use netql::query::canned::{self, Query};
use netql::query::engine::Captures;
use netql::render::Format;

use crate::cli::context::{Ctx, keep_for, lake_data, load_many};

pub struct RunArgs {
    pub query: Option<String>,
    pub expr: Option<String>,
    pub captures: Vec<String>,
    pub params: Vec<String>,
    pub format: Format,
    pub max_rows: Option<usize>,
    pub lake: crate::cli::context::LakeArgs,
}

pub fn run(ctx: &Ctx, a: RunArgs) -> Result<Exit> {
    let (query, captures) = match (&a.expr, &a.query) {
        (Some(src), first) => {
            // With -e, every positional argument is a capture.
            let mut caps = a.captures.clone();
            if let Some(f) = first {
                caps.insert(0, f.clone());
            }
            (Query::parse("script", src, None), caps)
        }
        (None, Some(name)) => (canned::find(&ctx.cfg.queries_dir, name)?, a.captures.clone()),
        (None, None) => anyhow::bail!("give a query name, a .rhai file, or -e 'script'"),
    };
    let params = query.bind(&canned::parse_params(&a.params)?)?;
    let (data, failed): (Arc<dyn netql::query::bindings::data::DataSource>, bool) = match lake_data(&a.lake, &captures)?
    {
        Some(lake) => (lake, false),
        None => {
            let (loaded, failed) = load_many(ctx, &captures, keep_for([query.source.as_str()]));
            if loaded.is_empty() {
                return Ok(Exit::Error);
            }
            (Arc::new(Captures::new(loaded)), failed)
        }
    };
    let result = match ctx.engine().run(&query.source, data, &params) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "{}",
                netql::safe_text::text(&format!("netql: error in {}: {e}", query.name))
            );
            return Ok(Exit::Error);
        }
    };
    let text = netql::render::output(&result, a.format, a.max_rows.unwrap_or(ctx.cfg.max_rows));
    if !text.is_empty() {
        println!("{text}");
    }
    for f in &result.failures {
        eprintln!("netql: assertion failed: {f}");
    }
    Ok(if failed {
        Exit::Error
    } else if !result.failures.is_empty() {
        Exit::Failure
    } else {
        Exit::Success
    })
}
