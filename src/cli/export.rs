//! `netql export zeek`: the tables of one or more captures as Zeek logs in a folder.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result};
use netql::error::Exit;
use netql::render::zeek::{conn, log::LogWriter};
use netql::table::load;

use crate::cli::context::{Ctx, load_many};

pub fn zeek(ctx: &Ctx, specs: &[String], out: &Path, json: bool) -> Result<Exit> {
    let (loaded, failed) = load_many(ctx, specs, load::Keep::Events);
    if loaded.is_empty() {
        return Ok(Exit::Error);
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut conn_log = LogWriter::create(out, "conn", conn::FIELDS, json)?;
    for l in &loaded {
        let flows = l.flows()?.collect()?;
        conn::write(&mut conn_log, &flows)?;
    }
    let rows = conn_log.finish()?;
    if std::io::stderr().is_terminal() {
        eprintln!("netql: wrote {} (conn.log: {rows} rows)", out.display());
    }
    Ok(if failed { Exit::Error } else { Exit::Success })
}
