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

/// Items shown per list before "… N more".
const SHOWN: usize = 20;

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
        _ => print!("{}", safe_text::text(&report(&d))),
    }
    let tripped = a
        .fail_on_new
        .is_some_and(|sev| d.new_reported.iter().any(|r| r.finding.severity >= sev));
    Ok(if tripped { Exit::Failure } else { Exit::Success })
}

fn list(items: &[String]) -> String {
    let mut shown: Vec<String> = items
        .iter()
        .take(SHOWN)
        .map(|s| safe_text::line(s).into_owned())
        .collect();
    if items.len() > SHOWN {
        shown.push(format!("… {} more", items.len() - SHOWN));
    }
    shown.join(", ")
}

fn report(d: &netql::query::diff::Diff) -> String {
    let mut out = format!("netql diff: {} → {}\n", d.a.join(", "), d.b.join(", "));
    if d.is_empty() {
        out.push_str("  no changes\n");
        return out;
    }
    for (name, c) in &d.sets {
        if c.added.is_empty() && c.removed.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n{} (+{} −{})\n",
            name.replace('_', " "),
            c.added.len(),
            c.removed.len()
        ));
        if !c.added.is_empty() {
            out.push_str(&format!("  + {}\n", list(&c.added)));
        }
        if !c.removed.is_empty() {
            out.push_str(&format!("  − {}\n", list(&c.removed)));
        }
    }
    if !d.protocols.is_empty() {
        out.push_str("\nprotocol share (frames)\n");
        let rows: Vec<Vec<String>> = d
            .protocols
            .iter()
            .map(|s| {
                vec![
                    s.protocol.clone(),
                    format!("{:.1}%", s.pct_a),
                    format!("{:.1}%", s.pct_b),
                ]
            })
            .collect();
        out.push_str(&netql::render::text_table(
            &["protocol", "before", "after"],
            &rows,
            &[1, 2],
        ));
        out.push('\n');
    }
    if !d.volume.is_empty() {
        out.push_str("\nvolume per host\n");
        let rows: Vec<Vec<String>> = d
            .volume
            .iter()
            .take(SHOWN)
            .map(|v| {
                vec![
                    v.host.clone(),
                    netql::units::human_bytes(v.bytes_a),
                    netql::units::human_bytes(v.bytes_b),
                ]
            })
            .collect();
        out.push_str(&netql::render::text_table(&["host", "before", "after"], &rows, &[1, 2]));
        out.push('\n');
    }
    for (label, fs) in [("new findings", &d.new_findings), ("findings gone", &d.gone_findings)] {
        if fs.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{label} ({})\n", fs.len()));
        for f in fs {
            out.push_str(&format!(
                "  [{}] {}\n",
                f["severity"].as_str().unwrap_or("").to_uppercase(),
                safe_text::line(f["title"].as_str().unwrap_or(""))
            ));
        }
    }
    out
}
