//! context: what every command starts from: the settings, how to load captures, the script
//! engine with the configured limits, and loading the captures a command names.

use netql::config::Config;
use netql::query::canned;
use netql::query::engine::{Limits, ScriptEngine};
use netql::table::catalog::{self, CaptureFile};
use netql::table::load::{self, LoadOptions};

/// The settings and load options of one run of the binary.
pub struct Ctx {
    pub cfg: Config,
    pub opts: LoadOptions,
}

/// Resolve capture names; unknown names are reported and counted as errors.
pub fn resolve_each(ctx: &Ctx, specs: &[String]) -> (Vec<CaptureFile>, bool) {
    let mut files = Vec::new();
    let mut failed = false;
    for spec in specs {
        match catalog::resolve(&ctx.cfg, std::slice::from_ref(spec)) {
            Ok(mut f) => files.append(&mut f),
            Err(e) => {
                eprintln!("{}", netql::safe_text::text(&format!("netql: error: {e}")));
                failed = true;
            }
        }
    }
    (files, failed)
}

impl Ctx {
    /// The engine of a command that runs queries and ends: a query past its memory or time
    /// limit ends the command (exit 2, with the reason).
    pub fn engine(&self) -> ScriptEngine {
        let limits = Limits {
            max_operations: self.cfg.max_operations,
            timeout: self.cfg.timeout,
            max_memory: self.cfg.max_memory,
            stop_process: true,
            ..Limits::default()
        };
        ScriptEngine::new(limits, Some(&self.cfg.queries_dir))
    }

    /// The engine of the shell. Its queries run in the shell's process, so a query past its
    /// memory or time limit ends the shell with the reason (exit 2) rather than growing until
    /// the system kills it; running them in an engine process, as `netql mcp` does, is next.
    pub fn shell_engine(&self) -> ScriptEngine {
        self.engine()
    }
}

/// What a load must keep for scripts with these sources: only the event rows (with the flows
/// and stack counts) when none of them calls `packets()`. A script that reaches the packets
/// some other way still gets them: the table is then loaded when first asked for.
pub fn keep_for<'a>(sources: impl IntoIterator<Item = &'a str>) -> load::Keep {
    static CALL: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\bpackets\s*\(").ok());
    let Some(call) = CALL.as_ref() else {
        return load::Keep::All;
    };
    if sources.into_iter().any(|s| call.is_match(s)) {
        load::Keep::All
    } else {
        load::Keep::Events
    }
}

/// [`keep_for`] the saved queries with these names (or .rhai paths). One that cannot be found
/// reads nothing here; running it reports why.
pub fn keep_for_queries<'a>(ctx: &Ctx, names: impl IntoIterator<Item = &'a str>) -> load::Keep {
    let sources: Vec<String> = names
        .into_iter()
        .filter_map(|n| canned::find(&ctx.cfg.queries_dir, n).ok())
        .map(|q| q.source)
        .collect();
    keep_for(sources.iter().map(String::as_str))
}

/// Load captures by name; report the ones that fail. Returns the loaded ones and whether any
/// failed.
pub fn load_many(ctx: &Ctx, specs: &[String], keep: load::Keep) -> (Vec<load::Loaded>, bool) {
    let specs: Vec<String> = if specs.is_empty() {
        vec!["latest".into()]
    } else {
        specs.to_vec()
    };
    let (files, mut failed) = resolve_each(ctx, &specs);
    let mut out = Vec::new();
    for cap in files {
        match load::load_keeping(&cap, &ctx.opts, keep) {
            Ok(l) => {
                if let Some(w) = &l.warning {
                    eprintln!(
                        "{}",
                        netql::safe_text::text(&format!("netql: error: {}: {w}", cap.path.display()))
                    );
                    failed = true;
                }
                out.push(l);
            }
            Err(e) => {
                eprintln!("{}", netql::safe_text::text(&format!("netql: error: {e}")));
                failed = true;
            }
        }
    }
    (out, failed)
}

/// The lake a command reads instead of captures (`--lake DIR [--sensor S] [--from T] [--to T]`),
/// or None without `--lake`. Captures named as well are refused: a command reads one or the other.
pub fn lake_data(
    lake: &LakeArgs,
    captures: &[String],
) -> anyhow::Result<Option<std::sync::Arc<dyn netql::query::bindings::data::DataSource>>> {
    Ok(lake_source(lake, captures)?.map(|l| l as std::sync::Arc<dyn netql::query::bindings::data::DataSource>))
}

/// [`lake_data`] as the lake itself (the shell lists its captures).
pub fn lake_source(
    lake: &LakeArgs,
    captures: &[String],
) -> anyhow::Result<Option<std::sync::Arc<netql::query::lake::LakeData>>> {
    let Some(dir) = &lake.lake else {
        return Ok(None);
    };
    if !captures.is_empty() {
        return Err(netql::error::Error::Usage(format!(
            "give captures or --lake, not both (got {})",
            captures.join(" ")
        ))
        .into());
    }
    let view = lake_view(dir, lake)?;
    netql::query::lake::use_streaming_engine();
    Ok(Some(std::sync::Arc::new(netql::query::lake::LakeData::new(view))))
}

/// The lake `dir` in the scope the flags give.
pub fn lake_view(dir: &std::path::Path, lake: &LakeArgs) -> anyhow::Result<netql::table::lake::scan::LakeView> {
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    let scope =
        netql::table::lake::scan::LakeScope::from_text(&lake.sensors, lake.from.as_deref(), lake.to.as_deref(), now)?;
    Ok(netql::table::lake::scan::LakeView::open(dir, scope)?)
}

/// Where a command's tables come from when it reads a lake instead of captures.
#[derive(clap::Args, Clone, Default, Debug)]
pub struct LakeArgs {
    /// Query a lake made by `netql ingest` instead of captures.
    #[arg(long, value_name = "DIR")]
    pub lake: Option<std::path::PathBuf>,
    /// With --lake: only this sensor (repeatable; default: every sensor).
    #[arg(long = "sensor", value_name = "NAME", requires = "lake")]
    pub sensors: Vec<String>,
    /// With --lake: from this time on (2024-03-05, 2024-03-05T17:00:00Z, '2024-03-05 17:00' UTC,
    /// or a time ago: 7d, 24h, 30m).
    #[arg(long, value_name = "TIME", requires = "lake")]
    pub from: Option<String>,
    /// With --lake: before this time (same forms as --from).
    #[arg(long, value_name = "TIME", requires = "lake")]
    pub to: Option<String>,
}

impl LakeArgs {
    /// The same lake as flags of another netql command (the agent's `netql mcp` child).
    pub fn flags(&self) -> Vec<String> {
        self.serve().map_or_else(Vec::new, |l| {
            l.args().into_iter().map(|a| a.to_string_lossy().into_owned()).collect()
        })
    }

    /// The lake `netql mcp` serves, if one is given (its times stay as written: see LakeServe).
    pub fn serve(&self) -> Option<netql::mcp::LakeServe> {
        self.lake.as_ref().map(|dir| netql::mcp::LakeServe {
            dir: dir.clone(),
            sensors: self.sensors.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        })
    }
}
