//! server: the server's state: the settings, loaded capture sets and results being paged (both
//! kept in memory, least recently used first out), and loading captures confined to the folder.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rmcp::RoleServer;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use rmcp::service::RequestContext;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::Config;
use crate::mcp::lake_serve::LakeServe;
use crate::mcp::resolve::resolve_name;
use crate::mcp::samples::Samples;
use crate::mcp::tool_error::ToolError;
use crate::mcp::types::LakeRange;
use crate::query::bindings::DataSource;
use crate::query::engine::{Captures, Limits, Output, ScriptEngine};
use crate::table::catalog::{self, CaptureFile, CaptureMeta};
use crate::table::load::{self, LoadOptions, Loaded};

/// Evidence rows kept per finding in results (the `frames` list still cites every row's frames).
pub(crate) const EVIDENCE_ROWS: usize = 5;
/// Loaded capture sets and truncated results kept in memory (least recently used goes first).
pub(crate) const SET_CACHE: usize = 8;
pub(crate) const RESULT_CACHE: usize = 8;

// ---------------------------------------------------------------------------------------------
// Server state

/// What identifies a capture's content: where it is, its size and modification time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FileKey {
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    pub(crate) modified: SystemTime,
}

impl FileKey {
    pub(crate) fn of(f: &CaptureFile) -> FileKey {
        FileKey {
            path: f.path.clone(),
            size: f.size,
            modified: f.modified,
        }
    }
}

/// The data a call reads, with what its result says it covered.
pub(crate) struct Scoped {
    pub(crate) data: Arc<dyn DataSource>,
    /// What the result covers: capture names, or a lake and its scope in a few words.
    pub(crate) names: Vec<String>,
    /// The captures as a cursor restores them (names; over a lake, empty for all in scope).
    pub(crate) specs: Vec<String>,
    /// Over a lake: the call's range in absolute times, for its cursor.
    pub(crate) range: LakeRange,
    /// Changes when the data read changes (pages of a result must come from the same data).
    pub(crate) fp: u64,
    pub(crate) packets: u64,
    pub(crate) warnings: Vec<String>,
}

/// What identifies a set of captures' contents (a cursor's pages must come from the same).
pub(crate) fn fingerprint(files: &[CaptureFile]) -> u64 {
    use std::hash::Hasher;
    let mut h = std::hash::DefaultHasher::new();
    for f in files {
        FileKey::of(f).hash(&mut h);
    }
    h.finish()
}

/// A script result kept so the next pages of a truncated result come from the same rows
/// (a re-run of an unsorted group_by may order rows differently).
pub(crate) struct Ran {
    pub(crate) output: Output,
    pub(crate) failures: Vec<String>,
    pub(crate) script_ms: u64,
}

pub(crate) struct Inner {
    pub(crate) cfg: Config,
    pub(crate) load: LoadOptions,
    /// The lake the tools read instead of the captures folder (`netql mcp --lake`).
    pub(crate) lake: Option<LakeServe>,
    pub(crate) limits: Limits,
    /// Loaded capture sets, most recently used last.
    pub(crate) sets: Mutex<Vec<(Vec<FileKey>, Arc<Captures>)>>,
    /// Serialises decoding so two calls naming the same new file decode it once.
    pub(crate) loading: Mutex<()>,
    pub(crate) metas: Mutex<HashMap<FileKey, CaptureMeta>>,
    pub(crate) results: Mutex<VecDeque<(u64, Arc<Ran>)>>,
    pub(crate) samples: Mutex<Option<(u64, Arc<Samples>)>>,
    pub(crate) live_running: AtomicBool,
}

/// The MCP server. Cheap to clone: the state is shared (the HTTP transport makes one per session).
#[derive(Clone)]
pub struct NetqlServer {
    pub(crate) inner: Arc<Inner>,
    pub(crate) tool_router: ToolRouter<NetqlServer>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic in one call must not wedge the server: the data behind the lock stays usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Bytes of a tool error at most (a script's error once reached 500 KB; results get 24 KB).
const ERROR_BUDGET: usize = 8_000;

/// A tool error: escaped (an error can quote packet text or a script) and within its budget.
pub(crate) fn tool_error(msg: impl std::fmt::Display) -> CallToolResult {
    let text = crate::safe_text::cut_bytes(
        crate::safe_text::text(&msg.to_string()).into_owned(),
        ERROR_BUDGET,
        "\n… (error cut at the size budget)",
    );
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// A successful result: `structuredContent` plus a text rendering for clients that show text only.
pub(crate) fn tool_ok<T: Serialize>(out: &T, text: String) -> CallToolResult {
    let value = serde_json::to_value(out).unwrap_or(Value::Null);
    let mut r = CallToolResult::structured(value);
    r.content = vec![ContentBlock::text(crate::safe_text::text(&text).into_owned())];
    r
}

pub(crate) fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// Run CPU work (decoding, Polars, Rhai) off the async runtime.
pub(crate) async fn blocking(f: impl FnOnce() -> CallToolResult + Send + 'static) -> CallToolResult {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => tool_error(format!("internal error: the call failed ({e})")),
    }
}

/// A flag that is raised when the client cancels the request.
pub(crate) fn cancel_flag(ctx: &RequestContext<RoleServer>) -> (Arc<AtomicBool>, tokio::task::JoinHandle<()>) {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let ct = ctx.ct.clone();
    let watcher = tokio::spawn(async move {
        ct.cancelled().await;
        f.store(true, Ordering::Relaxed);
    });
    (flag, watcher)
}

/// Arguments are parsed here rather than by rmcp so that a wrong argument is a tool error the
/// model reads (with the field name), not an opaque protocol error.
pub(crate) fn parse_args<T: DeserializeOwned>(tool: &str, args: JsonObject) -> std::result::Result<T, CallToolResult> {
    serde_json::from_value(Value::Object(args)).map_err(|e| {
        tool_error(format!(
            "bad arguments for {tool}: {e}. The tool's input schema lists its arguments."
        ))
    })
}

impl NetqlServer {
    pub(crate) fn engine(&self) -> ScriptEngine {
        ScriptEngine::new(self.inner.limits.clone(), Some(&self.inner.cfg.queries_dir))
    }

    // -----------------------------------------------------------------------------------------
    // Capture resolution, confined to the captures folder

    /// The captures folder, canonical (symlinks resolved), so containment is a prefix test.
    pub(crate) fn root(&self) -> Result<PathBuf, ToolError> {
        let dir = &self.inner.cfg.captures_dir;
        dir.canonicalize().map_err(|_| ToolError::NoFolder(dir.clone()))
    }

    /// Captures in the folder, newest first, each with its canonical path. Entries that are links
    /// pointing outside the folder are left out.
    pub(crate) fn listing(&self) -> Result<(PathBuf, Vec<CaptureFile>), ToolError> {
        let root = self.root()?;
        let files = catalog::list(&root)?;
        let inside = files
            .into_iter()
            .filter_map(|f| {
                let canonical = f.path.canonicalize().ok()?;
                (canonical.starts_with(&root) && canonical.is_file()).then_some(CaptureFile { path: canonical, ..f })
            })
            .collect();
        Ok((root, inside))
    }

    /// `latest`, `all`, or names of captures inside the folder (relative, or absolute but inside).
    pub(crate) fn resolve(&self, specs: &[String]) -> Result<Vec<CaptureFile>, ToolError> {
        let (root, listed) = self.listing()?;
        let none = || ToolError::NoCaptures(self.inner.cfg.captures_dir.clone());
        let mut out: Vec<CaptureFile> = Vec::new();
        let latest = ["latest".to_string()];
        let specs = if specs.is_empty() { &latest[..] } else { specs };
        for spec in specs {
            match spec.trim() {
                "latest" => out.push(listed.first().cloned().ok_or_else(none)?),
                "all" => {
                    if listed.is_empty() {
                        return Err(none());
                    }
                    // Oldest first, as `netql analyze all` orders them.
                    out.extend(listed.iter().rev().cloned());
                }
                name => out.push(resolve_name(&root, &listed, name)?),
            }
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|f| seen.insert(f.path.clone()));
        Ok(out)
    }

    // -----------------------------------------------------------------------------------------
    // Loading, cached in memory

    pub(crate) fn find_set(&self, keys: &[FileKey]) -> Option<Arc<Captures>> {
        let mut sets = lock(&self.inner.sets);
        let i = sets.iter().position(|(k, _)| k == keys)?;
        let entry = sets.remove(i);
        let c = entry.1.clone();
        sets.push(entry);
        Some(c)
    }

    pub(crate) fn find_loaded(&self, key: &FileKey) -> Option<Loaded> {
        let sets = lock(&self.inner.sets);
        sets.iter().rev().find_map(|(keys, c)| {
            keys.iter()
                .zip(&c.loaded)
                .find(|(k, _)| *k == key)
                .map(|(_, l)| l.clone_shallow())
        })
    }

    /// The captures as one data set, decoded once (Parquet cache on disk, shared frames in memory).
    pub(crate) fn captures(&self, files: &[CaptureFile]) -> Result<Arc<Captures>, ToolError> {
        let keys: Vec<FileKey> = files.iter().map(FileKey::of).collect();
        if let Some(c) = self.find_set(&keys) {
            return Ok(c);
        }
        let _one_at_a_time = lock(&self.inner.loading);
        if let Some(c) = self.find_set(&keys) {
            return Ok(c);
        }
        let mut loaded = Vec::new();
        for (f, k) in files.iter().zip(&keys) {
            let l = match self.find_loaded(k) {
                Some(l) => l,
                None => load::load(f, &self.inner.load).map_err(|source| ToolError::Load {
                    name: f.name.clone(),
                    source,
                })?,
            };
            loaded.push(l);
        }
        let set = Arc::new(Captures::new(loaded));
        let mut sets = lock(&self.inner.sets);
        sets.push((keys, set.clone()));
        while sets.len() > SET_CACHE {
            sets.remove(0);
        }
        Ok(set)
    }

    /// The data of a call: the named captures of the folder, or of the lake in the server's
    /// scope narrowed by the call's `range`.
    pub(crate) fn scoped(&self, specs: &[String], range: &LakeRange) -> Result<Scoped, ToolError> {
        if let Some(lake) = &self.inner.lake {
            return self.lake_scoped(lake, specs, range);
        }
        if !range.is_empty() {
            return Err(ToolError::NotALake);
        }
        let files = self.resolve(specs)?;
        let data = self.captures(&files)?;
        let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
        Ok(Scoped {
            fp: fingerprint(&files),
            specs: names.clone(),
            names,
            range: LakeRange::default(),
            packets: data.packet_count() as u64,
            warnings: data
                .loaded
                .iter()
                .filter_map(|l| l.warning.as_ref().map(|w| format!("{}: {w}", l.capture.name)))
                .collect(),
            data,
        })
    }

    pub(crate) fn meta(&self, f: &CaptureFile) -> Result<CaptureMeta, ToolError> {
        let key = FileKey::of(f);
        if let Some(m) = lock(&self.inner.metas).get(&key) {
            return Ok(m.clone());
        }
        let m = load::capture_meta(f, &self.inner.load)?;
        lock(&self.inner.metas).insert(key, m.clone());
        Ok(m)
    }
}
