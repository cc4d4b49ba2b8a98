//! `netql captures`: the captures folder, newest first, with what each capture holds.

use anyhow::Result;
use netql::error::Exit;
use netql::render::{self, Format};
use netql::table::{catalog, load};
use netql::units;
use serde_json::json;

use crate::cli::context::Ctx;

pub fn captures(ctx: &Ctx, format: Format) -> Result<Exit> {
    let files = catalog::list(&ctx.cfg.captures_dir)?;
    let mut failed = false;
    let mut rows = Vec::new();
    let mut objs = Vec::new();
    for f in &files {
        let meta = load::capture_meta(f, &ctx.opts);
        let modified = f
            .modified
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| units::rfc3339_ns(d.as_nanos() as i64))
            .unwrap_or_default();
        match meta {
            Ok(m) => {
                let span = match (m.first_ts, m.last_ts) {
                    (Some(a), Some(b)) => units::human_duration(b - a),
                    _ => "-".into(),
                };
                rows.push(vec![
                    f.name.clone(),
                    units::human_bytes(f.size),
                    m.packets.to_string(),
                    m.first_ts.map(units::rfc3339_ns).unwrap_or_else(|| "-".into()),
                    span,
                    m.link_types.join(", "),
                ]);
                objs.push(json!({
                    "name": f.name, "path": f.path, "size": f.size, "modified": modified,
                    "packets": m.packets, "bytes": m.bytes,
                    "first_ts": m.first_ts.map(units::rfc3339_ns),
                    "last_ts": m.last_ts.map(units::rfc3339_ns),
                    "link_types": m.link_types, "error": null,
                }));
            }
            Err(e) => {
                failed = true;
                rows.push(vec![
                    f.name.clone(),
                    units::human_bytes(f.size),
                    "?".into(),
                    "-".into(),
                    "-".into(),
                    format!("unreadable: {e}"),
                ]);
                objs.push(json!({
                    "name": f.name, "path": f.path, "size": f.size, "modified": modified,
                    "packets": null, "bytes": null, "first_ts": null, "last_ts": null,
                    "link_types": [], "error": e.to_string(),
                }));
            }
        }
    }
    match format {
        Format::Json => println!("{}", netql::safe_text::json(serde_json::to_string_pretty(&objs)?)),
        _ => {
            if files.is_empty() {
                println!("no captures in {}", ctx.cfg.captures_dir.display());
            } else {
                println!(
                    "{}",
                    render::text_table(
                        &["capture", "size", "packets", "first packet", "span", "link"],
                        &rows,
                        &[1, 2]
                    )
                );
            }
        }
    }
    Ok(if failed { Exit::Error } else { Exit::Success })
}
