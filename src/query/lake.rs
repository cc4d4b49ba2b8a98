//! lake: a lake ([`crate::table::lake`]) as the data behind `flows()`, `dns()`, `events()`, ...:
//! the same scripts as over captures, each table scanned lazily from the parts in scope. Every
//! table carries a `sensor` column besides its usual ones.
//!
//! Run with Polars' streaming engine (`POLARS_FORCE_STREAMING`, set by the commands that open a
//! lake), so a query's memory is bounded by its result, not by the lake.

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::query::bindings::data::{DataSource, Totals};
use crate::table::lake::layout::LakeTable;
use crate::table::lake::scan::LakeView;

/// Run every Polars query of this process on the streaming engine, which keeps a query over a
/// lake bounded by its result rather than by the parts it reads. Polars reads this variable at
/// each collect; scripts collect in many places (counts, first values, results), so it is set
/// once for the process instead of at each of them. Call it while the process is being set up,
/// before it starts any thread.
pub fn use_streaming_engine() {
    // SAFETY: the callers (the commands that open a lake, `netql mcp --lake`'s engine) call it
    // before starting queries, loads, runtimes or servers, so nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var("POLARS_FORCE_STREAMING", "1") };
}

/// A lake opened for queries.
pub struct LakeData {
    pub view: LakeView,
}

impl LakeData {
    pub fn new(view: LakeView) -> LakeData {
        LakeData { view }
    }
}

impl DataSource for LakeData {
    fn packets(&self) -> Result<LazyFrame> {
        if !self.view.has(LakeTable::Packets) {
            return Err(Error::Unavailable(
                "this lake holds no packet table for the captures in range (ingest them with `netql ingest --with-packets`); events(), flows(), dns(), http() and tls() are there".into(),
            ));
        }
        self.view.scan(LakeTable::Packets)
    }

    fn flows(&self) -> Result<LazyFrame> {
        self.view.scan(LakeTable::Flows)
    }

    fn events(&self) -> Result<LazyFrame> {
        self.view.scan(LakeTable::Events)
    }

    fn dns(&self) -> Result<LazyFrame> {
        self.view.scan(LakeTable::Dns)
    }

    fn http(&self) -> Result<LazyFrame> {
        self.view.scan(LakeTable::Http)
    }

    fn tls(&self) -> Result<LazyFrame> {
        self.view.scan(LakeTable::Tls)
    }

    fn stacks(&self) -> Result<LazyFrame> {
        self.view.scan(LakeTable::Stacks)
    }

    fn findings(&self) -> Result<LazyFrame> {
        self.view.scan(LakeTable::Findings)
    }

    fn files(&self) -> Vec<String> {
        self.view.entries().map(|e| e.file.clone()).collect()
    }

    /// The manifest's totals of the captures in scope. With a time range, the captures' counts
    /// would include packets outside it: the IP packets of the flows that start in the range
    /// are counted instead (non-IP frames, such as ARP, are then not).
    fn totals(&self) -> Option<Totals> {
        let scope = &self.view.scope;
        if scope.from_ns.is_none() && scope.to_ns.is_none() {
            let entries: Vec<_> = self.view.entries().collect();
            return Some(Totals {
                packets: entries.iter().map(|e| e.packets).sum(),
                bytes: entries.iter().map(|e| e.bytes).sum(),
                first_ns: entries.iter().filter_map(|e| e.first_ns).min(),
                last_ns: entries.iter().filter_map(|e| e.last_ns).max(),
            });
        }
        let df = self
            .flows()
            .ok()?
            .select([
                col("packets").sum().cast(DataType::UInt64).alias("packets"),
                col("bytes").sum().cast(DataType::UInt64).alias("bytes"),
                col("first_ts").min().cast(DataType::Int64).alias("first"),
                col("last_ts").max().cast(DataType::Int64).alias("last"),
            ])
            .collect()
            .ok()?;
        let u = |name: &str| df.column(name).ok()?.u64().ok()?.get(0);
        let i = |name: &str| df.column(name).ok()?.i64().ok()?.get(0);
        Some(Totals {
            packets: u("packets").unwrap_or(0),
            bytes: u("bytes").unwrap_or(0),
            first_ns: i("first"),
            last_ns: i("last"),
        })
    }
}

/// The canned suite's findings over one loaded capture, as the lake's findings rows (what
/// `netql ingest` stores beside the capture's tables). Their carve commands cut the frames
/// from the original capture through the lake at `lake` (`netql carve FILE --frames .. --lake`).
pub fn suite_findings(
    loaded: &crate::table::load::Loaded,
    engine: &crate::query::engine::ScriptEngine,
    queries_dir: &std::path::Path,
    lake: &std::path::Path,
) -> Result<Vec<crate::table::lake::findings::FindingRow>> {
    let data = std::sync::Arc::new(crate::query::engine::Captures::new(vec![loaded.clone_shallow()]));
    let a = crate::query::analyze::analyze(data, engine, queries_dir);
    if let Some((q, e)) = a.errors.first() {
        return Err(Error::Query(format!("{q}: {e}")));
    }
    Ok(a.findings
        .iter()
        .map(|r| {
            let f = &r.finding;
            let cited = f
                .evidence
                .as_ref()
                .map(crate::query::engine::cited_frames)
                .unwrap_or_default();
            let file = loaded.capture.name.clone();
            let carve = (!cited.is_empty()).then(|| {
                format!(
                    "{} --lake {}",
                    crate::query::analyze::carve_command(&file, &cited),
                    crate::query::analyze::shell_quoted(&lake.to_string_lossy())
                )
            });
            let frames: Vec<u32> = cited.into_iter().filter_map(|n| u32::try_from(n).ok()).collect();
            crate::table::lake::findings::FindingRow {
                ts_ns: 0,
                file,
                query: r.query.clone(),
                severity: f.severity.name().to_string(),
                title: f.title.clone(),
                src: f.facts.get("src").and_then(|v| v.as_str()).map(str::to_string),
                facts: serde_json::Value::Object(f.facts.clone()).to_string(),
                frames,
                carve,
            }
        })
        .collect())
}
