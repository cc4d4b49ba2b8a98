//! bench_report: `netql bench`: the figures of [`crate::cli::bench`] and, when asked, the lake's
//! ([`crate::cli::bench_lake`]), printed as JSON and kept in `results.json`.

use anyhow::{Result, anyhow};
use netql::error::Exit;

use crate::cli::bench::{BenchOptions, LakeFigures, run};

pub fn command(o: BenchOptions) -> Result<Exit> {
    let mut v = run(&o)?;
    if o.lake != LakeFigures::No {
        let me = std::env::current_exe().map_err(|e| anyhow!("cannot find the netql binary: {e}"))?;
        v["lake"] = crate::cli::bench_lake::run(&o, &me)?;
    }
    let text = serde_json::to_string_pretty(&v)?;
    let out = o.dir.join("results.json");
    std::fs::write(&out, &text)?;
    println!("{text}");
    eprintln!("results written to {}", out.display());
    Ok(Exit::Success)
}
