//! `netql summary`: packets, bytes, time span and frames per protocol of each capture.

use anyhow::Result;
use netql::error::Exit;
use netql::query::summary;
use netql::render::{self, Format};
use netql::table::load;

use crate::cli::context::{Ctx, resolve_each};

pub fn summary(ctx: &Ctx, specs: &[String], format: Format) -> Result<Exit> {
    let (files, mut failed) = resolve_each(ctx, specs);
    for (i, cap) in files.iter().enumerate() {
        let loaded = match load::load(cap, &ctx.opts) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("{}", netql::safe_text::text(&format!("netql: error: {e}")));
                failed = true;
                continue;
            }
        };
        if let Some(w) = &loaded.warning {
            eprintln!(
                "{}",
                netql::safe_text::text(&format!("netql: error: {}: {w}", cap.path.display()))
            );
            failed = true;
        }
        let s = summary::summarize(&cap.name, loaded.packets.lazy(), loaded.stacks()?)?;
        match format {
            Format::Json => println!("{}", netql::safe_text::json(serde_json::to_string(&s)?)),
            _ => {
                if i > 0 {
                    println!();
                }
                print!("{}", render::summary(&s));
            }
        }
    }
    Ok(if failed { Exit::Error } else { Exit::Success })
}
