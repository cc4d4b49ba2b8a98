//! `netql carve`: the packets behind a finding, a flow, a frame list, or any query result with
//! `file` and `frame` columns, written to a new capture file for Wireshark.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, bail};
use netql::capture::carve::{carve, carve_into, parse_frames};
use netql::error::Exit;
use netql::query::canned::{self, Query};
use netql::query::engine::Captures;
use netql::render::Format;

use netql::query::bindings::DataSource;

use crate::cli::context::{Ctx, LakeArgs, keep_for, lake_view, load_many, resolve_each};

/// `netql carve` options (see `netql carve --help`).
#[derive(Debug, clap::Args)]
pub struct CarveArgs {
    /// Captures the packets come from (default: latest).
    #[arg(value_name = "CAPTURE")]
    pub files: Vec<String>,
    /// Frames of the (one) capture: 1,5,10-20.
    #[arg(long, value_name = "LIST", conflicts_with_all = ["flow", "expr", "query"])]
    pub frames: Option<String>,
    /// Every packet of this flow (the `flow_id` of flows() and the transaction tables).
    #[arg(long, value_name = "FLOW_ID", conflicts_with_all = ["expr", "query"])]
    pub flow: Option<u64>,
    /// A script whose result has `file` and `frame` columns, or findings (their evidence frames).
    #[arg(short = 'e', long = "expr", value_name = "SCRIPT", conflicts_with = "query")]
    pub expr: Option<String>,
    /// A canned query (or .rhai file): the frames of its findings or of its table.
    #[arg(long, value_name = "NAME")]
    pub query: Option<String>,
    /// With --query or -e: only the Nth finding (1-based, in the order the query reports them).
    #[arg(long, value_name = "N")]
    pub finding: Option<usize>,
    /// Query parameter, name=value (repeatable).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Where to write (default: carve_YYYYMMDD_HHMMSS.pcap in the captures folder).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[arg(long, default_value = "table", value_parser = Format::parser(Format::TABLE_JSON))]
    pub format: Format,
    /// Run the query over a lake; the packets are cut from the captures it was ingested from.
    #[command(flatten)]
    pub lake: LakeArgs,
}

/// Capture name (as the `file` column says it) -> its path and the frames wanted of it.
type Wanted = BTreeMap<String, (PathBuf, BTreeSet<u32>)>;

pub fn run(ctx: &Ctx, a: &CarveArgs) -> Result<Exit> {
    let wanted = match &a.lake.lake {
        Some(dir) => from_lake(ctx, a, dir)?,
        None => from_captures(ctx, a)?,
    };
    let Some(wanted) = wanted else {
        return Ok(Exit::Error);
    };
    write(ctx, a, wanted)
}

/// The query whose result says what to carve (--flow, -e or --query), and its name.
fn query_of(ctx: &Ctx, a: &CarveArgs) -> Result<(Query, String)> {
    Ok(match (&a.flow, &a.expr, &a.query) {
        (Some(id), _, _) => (
            Query::parse("flow", &netql::query::cited::flow_script(*id), None),
            format!("flow {id}"),
        ),
        (None, Some(src), _) => (Query::parse("script", src, None), "script".into()),
        (None, None, Some(q)) => {
            let q = canned::find(&ctx.cfg.queries_dir, q)?;
            let name = q.name.clone();
            (q, name)
        }
        (None, None, None) => bail!("say what to carve: --frames LIST, --flow ID, --query NAME or -e SCRIPT"),
    })
}

/// Runs the query over `data`; the frames its result cites, with each capture's path from `path_of`.
fn cited_by(
    ctx: &Ctx,
    a: &CarveArgs,
    data: Arc<dyn DataSource>,
    path_of: &dyn Fn(&str) -> Result<PathBuf>,
) -> Result<Option<Wanted>> {
    let (source, name) = query_of(ctx, a)?;
    let params = source.bind(&canned::parse_params(&a.params)?)?;
    let result = match ctx.engine().run(&source.source, data, &params) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}", netql::safe_text::text(&format!("netql: error in {name}: {e}")));
            return Ok(None);
        }
    };
    let mut wanted = Wanted::new();
    let cited = netql::query::cited::cited(&result.output, a.finding).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    for (file, frames) in cited {
        if !wanted.contains_key(&file) {
            wanted.insert(file.clone(), (path_of(&file)?, BTreeSet::new()));
        }
        if let Some(entry) = wanted.get_mut(&file) {
            entry.1.extend(frames.iter().filter_map(|&f| u32::try_from(f).ok()));
        }
    }
    Ok(Some(wanted))
}

/// What to carve from captures named on the command line (None: they could not be read, said).
fn from_captures(ctx: &Ctx, a: &CarveArgs) -> Result<Option<Wanted>> {
    let specs = if a.files.is_empty() {
        vec!["latest".to_string()]
    } else {
        a.files.clone()
    };
    if let Some(list) = &a.frames {
        let (files, failed) = resolve_each(ctx, &specs);
        if failed {
            return Ok(None);
        }
        let [file] = files.as_slice() else {
            bail!(
                "--frames numbers the frames of one capture; name exactly one (got {})",
                files.len()
            );
        };
        let frames = parse_frames(list).map_err(anyhow::Error::msg)?;
        return Ok(Some(Wanted::from([(file.name.clone(), (file.path.clone(), frames))])));
    }
    let (source, _) = query_of(ctx, a)?;
    let (loaded, failed) = load_many(ctx, &specs, keep_for([source.source.as_str()]));
    if failed || loaded.is_empty() {
        return Ok(None);
    }
    let paths: BTreeMap<String, PathBuf> = loaded
        .iter()
        .map(|l| (l.capture.name.clone(), l.capture.path.clone()))
        .collect();
    let path_of = |file: &str| -> Result<PathBuf> {
        match paths.get(file) {
            Some(p) => Ok(p.clone()),
            None => bail!("the result cites {file:?}, which is not one of the captures given"),
        }
    };
    cited_by(ctx, a, Arc::new(Captures::new(loaded)), &path_of)
}

/// What to carve when the query runs over a lake: the frames come from the original captures,
/// found by the paths the lake's manifest recorded (still there and unchanged).
fn from_lake(ctx: &Ctx, a: &CarveArgs, dir: &Path) -> Result<Option<Wanted>> {
    let view = lake_view(dir, &a.lake)?;
    if let Some(list) = &a.frames {
        let [file] = a.files.as_slice() else {
            bail!(
                "--frames numbers the frames of one capture; name exactly one of the lake's (got {})",
                a.files.len()
            );
        };
        let frames = parse_frames(list).map_err(anyhow::Error::msg)?;
        return Ok(Some(Wanted::from([(file.clone(), (view.source_of(file)?, frames))])));
    }
    if !a.files.is_empty() {
        bail!("over a lake, captures are named only with --frames; narrow a query with --sensor, --from and --to");
    }
    netql::query::lake::use_streaming_engine();
    let lake = Arc::new(netql::query::lake::LakeData::new(view));
    // Only the captures the result cites are looked for (and checked) on disk.
    let path_of = |file: &str| -> Result<PathBuf> { Ok(lake.view.source_of(file)?) };
    let data: Arc<dyn DataSource> = lake.clone();
    cited_by(ctx, a, data, &path_of)
}

fn write(ctx: &Ctx, a: &CarveArgs, wanted: Wanted) -> Result<Exit> {
    if wanted.values().all(|(_, f)| f.is_empty()) {
        bail!("no frames to carve");
    }
    let sources: Vec<(PathBuf, BTreeSet<u32>)> = wanted.into_values().collect();
    let dir = a
        .out
        .as_ref()
        .map_or(ctx.cfg.captures_dir.as_path(), |o| o.parent().unwrap_or(Path::new("")));
    if !dir.as_os_str().is_empty() {
        std::fs::create_dir_all(dir)?;
    }
    let carved = match &a.out {
        Some(out) => carve(&sources, out, None)?,
        None => carve_into(&sources, &ctx.cfg.captures_dir, None)?,
    };
    match a.format {
        Format::Json => println!("{}", netql::safe_text::json(serde_json::to_string_pretty(&carved)?)),
        _ => {
            println!(
                "wrote {} packet{} ({}) from {} capture{} to {} ({}){}",
                carved.packets,
                if carved.packets == 1 { "" } else { "s" },
                netql::units::human_bytes(carved.bytes),
                sources.len(),
                if sources.len() == 1 { "" } else { "s" },
                netql::safe_text::line(&carved.file.display().to_string()),
                carved.format,
                if carved.missing > 0 {
                    format!(
                        "; {} frame(s) asked for are past the end of their capture",
                        carved.missing
                    )
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(Exit::Success)
}
