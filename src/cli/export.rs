//! `netql export zeek`: the tables of one or more captures as Zeek logs in a folder.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result};
use netql::error::Exit;
use netql::render::zeek::{conn, dns, http, log::LogWriter, ssl};
use netql::table::load;

use crate::cli::context::{Ctx, load_many};

pub fn zeek(ctx: &Ctx, specs: &[String], out: &Path, json: bool) -> Result<Exit> {
    let (loaded, failed) = load_many(ctx, specs, load::Keep::Events);
    if loaded.is_empty() {
        return Ok(Exit::Error);
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut conn_log = LogWriter::create(out, "conn", conn::FIELDS, json)?;
    let mut dns_log = LogWriter::create(out, "dns", dns::FIELDS, json)?;
    let mut http_log = LogWriter::create(out, "http", http::FIELDS, json)?;
    let mut ssl_log = LogWriter::create(out, "ssl", ssl::FIELDS, json)?;
    for l in &loaded {
        conn::write(&mut conn_log, &l.flows()?.collect()?)?;
        dns::write(&mut dns_log, &l.dns().collect()?)?;
        http::write(&mut http_log, &l.http().collect()?)?;
        ssl::write(&mut ssl_log, &l.tls().collect()?)?;
    }
    let counts = [
        ("conn", conn_log.finish()?),
        ("dns", dns_log.finish()?),
        ("http", http_log.finish()?),
        ("ssl", ssl_log.finish()?),
    ];
    if std::io::stderr().is_terminal() {
        let what: Vec<String> = counts.iter().map(|(log, n)| format!("{log}.log: {n} rows")).collect();
        eprintln!("netql: wrote {} ({})", out.display(), what.join(", "));
    }
    Ok(if failed { Exit::Error } else { Exit::Success })
}
