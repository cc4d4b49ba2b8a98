//! `netql export zeek`: the tables of one or more captures as Zeek logs in a folder, and the
//! analyze suite's findings over them as notice.log.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result};
use netql::error::Exit;
use netql::query::analyze;
use netql::query::engine::Captures;
use netql::render::zeek::{conn, dns, http, log::LogWriter, notice, ssl};

use crate::cli::context::{Ctx, keep_for_queries, load_many};

pub fn zeek(ctx: &Ctx, specs: &[String], out: &Path, json: bool) -> Result<Exit> {
    // The findings come from the analyze suite, whose scripts decide what the load keeps.
    let (loaded, failed) = load_many(ctx, specs, keep_for_queries(ctx, analyze::suite()));
    if loaded.is_empty() {
        return Ok(Exit::Error);
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut conn_log = LogWriter::create(out, "conn", conn::FIELDS, json)?;
    let mut dns_log = LogWriter::create(out, "dns", dns::FIELDS, json)?;
    let mut http_log = LogWriter::create(out, "http", http::FIELDS, json)?;
    let mut ssl_log = LogWriter::create(out, "ssl", ssl::FIELDS, json)?;
    let mut notice_log = LogWriter::create(out, "notice", notice::FIELDS, json)?;
    for l in &loaded {
        conn::write(&mut conn_log, &l.flows()?.collect()?)?;
        dns::write(&mut dns_log, &l.dns().collect()?)?;
        http::write(&mut http_log, &l.http().collect()?)?;
        ssl::write(&mut ssl_log, &l.tls().collect()?)?;
    }
    // One suite over all the captures, as `netql analyze` reports the set.
    let data = std::sync::Arc::new(Captures::new(loaded));
    let found = analyze::analyze(data, &ctx.engine(), &ctx.cfg.queries_dir);
    for (query, error) in &found.errors {
        eprintln!("{}", netql::safe_text::text(&format!("netql: error: {query}: {error}")));
    }
    notice::write(&mut notice_log, &found.findings, found.first_ns)?;
    let counts = [
        ("conn", conn_log.finish()?),
        ("dns", dns_log.finish()?),
        ("http", http_log.finish()?),
        ("ssl", ssl_log.finish()?),
        ("notice", notice_log.finish()?),
    ];
    if std::io::stderr().is_terminal() {
        let what: Vec<String> = counts.iter().map(|(log, n)| format!("{log}.log: {n} rows")).collect();
        eprintln!("netql: wrote {} ({})", out.display(), what.join(", "));
    }
    Ok(if failed || !found.errors.is_empty() {
        Exit::Error
    } else {
        Exit::Success
    })
}
