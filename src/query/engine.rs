//! engine: the sandboxed Rhai engine. It registers the bindings, enforces the limits (operations,
//! call depth, string/array/map sizes, wall-clock time), allows `import` only of scripts in
//! `queries/`, and turns what a script returns into an [`Output`]: a table, a value, a map or
//! findings with their evidence rows. Rhai has no file, process or network access of its own,
//! and `eval` is switched off.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polars::prelude::*;
use rhai::{Dynamic, Engine, EvalAltResult, Map as RMap, Module, ModuleResolver, Position, Scope, Shared};
use serde_json::{Map, Value};

use crate::query::bindings::{self, DataSource, Failures, Finding, Findings, NoData, Severity, Table};
use crate::table::schema::col as pcol;

/// Limits on what one script may do.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    pub timeout: Duration,
    /// Evidence rows kept per finding.
    pub evidence_rows: usize,
    /// Memory a query may add (`[queries] max_memory`).
    pub max_memory: u64,
    /// The process runs queries and nothing else (a command, a query worker): a query past its
    /// memory limit, or still in Polars past its time limit, ends the process with exit code 2
    /// and says why. Polars' work cannot be interrupted otherwise; a server or shell keeps this
    /// off and runs queries in worker processes.
    pub stop_process: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 5_000_000,
            max_call_levels: 48,
            max_string_size: 1 << 20,
            max_array_size: 100_000,
            max_map_size: 10_000,
            timeout: Duration::from_secs(60),
            evidence_rows: 50,
            max_memory: 4_000_000_000,
            stop_process: false,
        }
    }
}

pub use crate::query::script_error::ScriptError;

/// One finding, with its evidence collected.
#[derive(Debug, Clone)]
pub struct FindingOut {
    pub severity: Severity,
    pub title: String,
    pub facts: Map<String, Value>,
    pub evidence: Option<DataFrame>,
    /// Evidence rows before the row limit.
    pub evidence_total: usize,
}

/// What a script produced.
#[derive(Debug, Clone)]
pub enum Output {
    Table(DataFrame),
    Value(Value),
    Findings(Vec<FindingOut>),
    Nothing,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub output: Output,
    /// Messages of failed `assert(...)`/`expect_empty(...)` calls.
    pub failures: Vec<String>,
    pub elapsed: Duration,
}

/// Script parameters (`--param k=v`, canned query defaults).
pub type Params = Vec<(String, Dynamic)>;

/// Parse a parameter value written on a command line: integer, float, bool, or text.
pub fn param_value(s: &str) -> Dynamic {
    if let Ok(i) = s.parse::<i64>() {
        Dynamic::from(i)
    } else if let Ok(f) = s.parse::<f64>() {
        Dynamic::from(f)
    } else if let Ok(b) = s.parse::<bool>() {
        Dynamic::from(b)
    } else {
        Dynamic::from(s.trim_matches('"').to_string())
    }
}

/// Loads `import "name"` only from the queries folder, by plain name.
struct QueriesResolver {
    dir: Option<PathBuf>,
    /// The imports being loaded, outermost first: each runs in an evaluation of its own (Rhai's
    /// module limit counts per evaluation), so a script importing itself, directly or round a
    /// loop, recursed until the stack overflowed and aborted the process.
    loading: Mutex<Vec<String>>,
}

/// Imports inside imports, at most.
const MAX_IMPORT_DEPTH: usize = 8;

impl ModuleResolver for QueriesResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let name = path.strip_suffix(".rhai").unwrap_or(path);
        let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let not_found = || Box::new(EvalAltResult::ErrorModuleNotFound(path.to_string(), pos));
        if !plain {
            return Err(Box::new(EvalAltResult::ErrorInModule(
                path.to_string(),
                "imports name a script in queries/ (letters, digits, _ and - only)".into(),
                pos,
            )));
        }
        let dir = self.dir.as_ref().ok_or_else(not_found)?;
        let file = dir.join(format!("{name}.rhai"));
        let text = std::fs::read_to_string(&file).map_err(|_| not_found())?;
        let refuse = |why: String| Box::new(EvalAltResult::ErrorInModule(path.to_string(), why.into(), pos));
        {
            let mut loading = self.loading.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(at) = loading.iter().position(|n| n == name) {
                let cycle: Vec<&str> = loading[at..].iter().map(String::as_str).chain([name]).collect();
                return Err(refuse(format!("import cycle: {}", cycle.join(" -> "))));
            }
            if loading.len() >= MAX_IMPORT_DEPTH {
                return Err(refuse(format!(
                    "imports nest deeper than {MAX_IMPORT_DEPTH}: {} -> {name}",
                    loading.join(" -> ")
                )));
            }
            loading.push(name.to_string());
        }
        let module = engine
            .compile(&text)
            .map_err(|e| refuse(e.to_string()))
            .and_then(|ast| Module::eval_ast_as_new(Scope::new(), &ast, engine));
        self.loading.lock().unwrap_or_else(|p| p.into_inner()).pop();
        Ok(module?.into())
    }
}

/// Builds sandboxed engines for one data set.
pub struct ScriptEngine {
    pub limits: Limits,
    pub queries_dir: Option<PathBuf>,
}

/// Polars prints some internal warnings (e.g. "groups may be out of bounds" for filtered
/// aggregations over empty groups) straight to stderr; they say nothing to a netql user, so they
/// are shown only with NETQL_DEBUG set.
pub fn quiet_polars_warnings() {
    fn warn(msg: &str, kind: polars::error::PolarsWarning) {
        if std::env::var_os("NETQL_DEBUG").is_some() {
            eprintln!("polars {kind:?}: {msg}");
        }
    }
    polars::error::set_warning_function(warn);
}

/// Rhai's standard library, built once per process.
static STANDARD_LIBRARY: std::sync::LazyLock<rhai::Shared<rhai::Module>> = std::sync::LazyLock::new(|| {
    use rhai::packages::Package;
    rhai::packages::StandardPackage::new().as_shared_module()
});

impl ScriptEngine {
    pub fn new(limits: Limits, queries_dir: Option<&Path>) -> ScriptEngine {
        quiet_polars_warnings();
        ScriptEngine {
            limits,
            queries_dir: queries_dir.map(Path::to_path_buf),
        }
    }

    /// A fresh Rhai engine with the sandbox and the bindings, reading `data`.
    fn engine(
        &self,
        data: Arc<dyn DataSource>,
        failures: Failures,
        expired: Option<Arc<AtomicBool>>,
        cancel: Option<Arc<AtomicBool>>,
    ) -> Engine {
        // Engine::new() builds Rhai's standard library afresh (~1 ms, for every query of a
        // suite); one shared copy serves every engine.
        let mut e = Engine::new_raw();
        e.set_max_strings_interned(256);
        e.register_global_module(STANDARD_LIBRARY.clone());
        bindings::arrays::register(&mut e);
        let l = &self.limits;
        e.set_max_operations(l.max_operations);
        e.set_max_call_levels(l.max_call_levels);
        e.set_max_expr_depths(64, 64);
        e.set_max_string_size(l.max_string_size);
        e.set_max_array_size(l.max_array_size);
        e.set_max_map_size(l.max_map_size);
        e.set_max_modules(16);
        e.disable_symbol("eval");
        // `&&`/`||` are fixed boolean operators in Rhai; map them to `&`/`|` (same precedence,
        // overloadable) so `col("a") == 1 && col("b") > 2` builds one Polars expression.
        #[allow(deprecated)] // "volatile", not deprecated (see its doc)
        e.on_parse_token(|tok, _, _| match tok {
            rhai::Token::And => rhai::Token::Ampersand,
            rhai::Token::Or => rhai::Token::Pipe,
            other => other,
        });
        // print/debug never reach stdout (it may be a protocol channel), and never block on a
        // stderr nobody reads (see script_output).
        e.on_print(|s| crate::query::script_output::line(s.to_string()));
        e.on_debug(|s, _, _| crate::query::script_output::line(s.to_string()));
        if expired.is_some() || cancel.is_some() {
            let timeout = l.timeout;
            // Read at every step: see [`crate::query::deadline`].
            e.on_progress(move |_| {
                if cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed)) {
                    return Some(Dynamic::from("cancelled".to_string()));
                }
                if expired.as_ref().is_some_and(|x| x.load(Ordering::Relaxed)) {
                    return Some(Dynamic::from(format!(
                        "time limit of {} s exceeded",
                        timeout.as_secs_f64()
                    )));
                }
                None
            });
        }
        e.set_module_resolver(QueriesResolver {
            dir: self.queries_dir.clone(),
            loading: Mutex::new(Vec::new()),
        });
        bindings::register(&mut e, data, failures);
        e
    }

    /// Names of every function a script can call (for completion and help).
    pub fn function_names(&self) -> Vec<String> {
        let e = self.engine(Arc::new(NoData), Failures::default(), None, None);
        let mut names: Vec<String> = e
            .gen_fn_signatures(false)
            .into_iter()
            .filter_map(|sig| sig.split('(').next().map(|n| n.trim().to_string()))
            .filter(|n| n.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Compile only: syntax errors with line and column.
    pub fn compile(&self, source: &str) -> Result<(), ScriptError> {
        let e = self.engine(Arc::new(NoData), Failures::default(), None, None);
        e.compile(source)
            .map(|_| ())
            .map_err(|err| ScriptError::new(err.err_type().to_string(), err.position(), source))
    }

    /// Run a script with no parameters that must give a table (the queries netql itself runs
    /// for diff and the report).
    pub fn run_table(&self, source: &str, data: Arc<dyn DataSource>) -> Result<DataFrame, String> {
        match self.run(source, data, &Vec::new()).map_err(|e| e.to_string())?.output {
            Output::Table(df) => Ok(df),
            _ => Err("the query gave no table".into()),
        }
    }

    /// Run a script over `data` with `params` bound as variables.
    pub fn run(&self, source: &str, data: Arc<dyn DataSource>, params: &Params) -> Result<RunResult, ScriptError> {
        self.run_cancellable(source, data, params, None)
    }

    /// Like [`run`](Self::run); setting `cancel` stops the script at its next step (Ctrl-C in
    /// the shell, a cancelled MCP request). A Polars query already running finishes first.
    pub fn run_cancellable(
        &self,
        source: &str,
        data: Arc<dyn DataSource>,
        params: &Params,
        cancel: Option<Arc<AtomicBool>>,
    ) -> Result<RunResult, ScriptError> {
        let started = Instant::now();
        let failures: Failures = Arc::new(Mutex::new(Vec::new()));
        let deadline = crate::query::deadline::Deadline::start(self.limits.timeout, self.limits.stop_process);
        let _budget = self
            .limits
            .stop_process
            .then(|| crate::allocator::Budget::start(self.limits.max_memory));
        let engine = self.engine(data, failures.clone(), Some(deadline.flag()), cancel);
        let ast = engine
            .compile(source)
            .map_err(|err| ScriptError::new(err.err_type().to_string(), err.position(), source))?;
        let mut scope = Scope::new();
        for (k, v) in params {
            scope.push_dynamic(k.as_str(), v.clone());
        }
        // Where the result is made (its plan runs after the script): the last statement.
        let result_at = ast.statements().last().map(|s| s.position()).unwrap_or_default();
        let output = crate::query::panic_guard::catch(|| {
            let value: Dynamic = engine
                .eval_ast_with_scope(&mut scope, &ast)
                .map_err(|e| ScriptError::from_eval(&e, source))?;
            if let (Some(line), Some(column)) = (result_at.line(), result_at.position()) {
                crate::allocator::set_query_position(line, column);
            }
            self.output(value).map_err(|e| e.explain_missing_column(source))
        });
        // What the script printed comes before what the caller prints of its result or error.
        crate::query::script_output::flush(Duration::from_millis(250));
        let output = output.map_err(ScriptError::plain)??;
        let failures = failures.lock().map(|v| v.clone()).unwrap_or_default();
        Ok(RunResult {
            output,
            failures,
            elapsed: started.elapsed(),
        })
    }

    fn output(&self, v: Dynamic) -> Result<Output, ScriptError> {
        if v.is_unit() {
            return Ok(Output::Nothing);
        }
        if v.is::<Table>() {
            let f = v.cast::<Table>();
            return collect(f.0).map(Output::Table);
        }
        if v.is::<Finding>() || v.is::<Findings>() {
            return Ok(Output::Findings(self.findings(vec![v])?));
        }
        if v.is_array() {
            let items = v.cast::<rhai::Array>();
            if !items.is_empty()
                && items
                    .iter()
                    .all(|d| d.is::<Finding>() || d.is::<Findings>() || d.is_array())
            {
                return Ok(Output::Findings(self.findings(items)?));
            }
            return Ok(Output::Value(Value::Array(
                items.iter().map(|d| self.to_json(d)).collect::<Result<_, _>>()?,
            )));
        }
        if v.is_map()
            && v.clone()
                .cast::<RMap>()
                .values()
                .any(|d| d.is::<Finding>() || d.is::<Findings>())
        {
            let items = v.cast::<RMap>().into_values().collect();
            return Ok(Output::Findings(self.findings(items)?));
        }
        Ok(Output::Value(self.to_json(&v)?))
    }

    /// Findings from Findings, per-row templates, or (nested) arrays of those. The templates'
    /// tables are collected together: Polars runs them side by side and computes a sub-plan they
    /// share once (port_scan's vertical and horizontal scans both start from the probes).
    fn findings(&self, items: Vec<Dynamic>) -> Result<Vec<FindingOut>, ScriptError> {
        let mut leaves = Vec::new();
        for d in items {
            finding_leaves(d, &mut leaves)?;
        }
        let tables: Vec<LazyFrame> = leaves
            .iter()
            .filter_map(|d| d.clone().try_cast::<Findings>().map(|f| f.table))
            .collect();
        let mut frames = collect_all(tables)?.into_iter();
        let mut out = Vec::new();
        for d in leaves {
            if let Some(f) = d.clone().try_cast::<Finding>() {
                out.push(self.finding(f)?);
            } else if let (Some(fr), Some(df)) = (d.try_cast::<Findings>(), frames.next()) {
                out.extend(finding_rows(&fr, &df));
            }
        }
        Ok(out)
    }

    /// One finding with its evidence (at most `evidence_rows` rows of it).
    fn finding(&self, f: Finding) -> Result<FindingOut, ScriptError> {
        let (evidence, total) = match f.evidence {
            Some(lf) => {
                let df = collect(lf)?;
                let total = df.height();
                (Some(df.head(Some(self.limits.evidence_rows))), total)
            }
            None => (None, 0),
        };
        let mut facts = Map::new();
        for (k, v) in f.facts {
            facts.insert(k.to_string(), self.to_json(&v)?);
        }
        Ok(FindingOut {
            severity: f.severity,
            title: f.title,
            facts,
            evidence,
            evidence_total: total,
        })
    }

    fn to_json(&self, d: &Dynamic) -> Result<Value, ScriptError> {
        if d.is::<Table>() {
            let df = collect(d.clone().cast::<Table>().0)?;
            return Ok(Value::Array(crate::table::values::rows_json(&df)));
        }
        if d.is_unit() {
            return Ok(Value::Null);
        }
        if let Ok(i) = d.as_int() {
            return Ok(Value::from(i));
        }
        if let Ok(f) = d.as_float() {
            return Ok(serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number));
        }
        if let Ok(b) = d.as_bool() {
            return Ok(Value::Bool(b));
        }
        if d.is_string() {
            return Ok(Value::String(d.clone().into_string().unwrap_or_default()));
        }
        if d.is_array() {
            let a = d.clone().cast::<rhai::Array>();
            return Ok(Value::Array(
                a.iter().map(|x| self.to_json(x)).collect::<Result<_, _>>()?,
            ));
        }
        if d.is_map() {
            let m = d.clone().cast::<RMap>();
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(k.to_string(), self.to_json(&v)?);
            }
            return Ok(Value::Object(out));
        }
        Ok(Value::String(d.to_string()))
    }
}

/// `Port scan from {src}` with `{name}` replaced by the row's values.
fn fill_template(t: &str, facts: &Map<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) => {
                let key = &after[..j];
                match facts.get(key) {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(Value::Array(a)) => {
                        let items: Vec<String> = a
                            .iter()
                            .take(12)
                            .map(|v| v.to_string().trim_matches('"').to_string())
                            .collect();
                        out.push_str(&items.join(", "));
                        if a.len() > 12 {
                            out.push_str(&format!(", … ({} in all)", a.len()));
                        }
                    }
                    Some(v) => out.push_str(&v.to_string()),
                    None => {
                        out.push('{');
                        out.push_str(key);
                        out.push('}');
                    }
                }
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The Findings and per-row templates in `d` (an array may nest them), in order.
fn finding_leaves(d: Dynamic, out: &mut Vec<Dynamic>) -> Result<(), ScriptError> {
    if d.is::<Finding>() || d.is::<Findings>() {
        out.push(d);
        return Ok(());
    }
    if d.is_array() {
        for x in d.cast::<rhai::Array>() {
            finding_leaves(x, out)?;
        }
        return Ok(());
    }
    Err(ScriptError::plain(format!(
        "expected findings, found a {}",
        d.type_name()
    )))
}

/// One finding per row of a per-row template's table, its title filled from the row.
fn finding_rows(fr: &Findings, df: &DataFrame) -> Vec<FindingOut> {
    let rows = crate::table::values::rows_json(df);
    let mut out = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        let Value::Object(facts) = row else { continue };
        let severity = facts
            .get("severity")
            .and_then(|v| v.as_str())
            .and_then(Severity::parse)
            .unwrap_or(fr.severity);
        let title = fill_template(&fr.title, &facts);
        out.push(FindingOut {
            severity,
            title,
            facts,
            evidence: Some(df.slice(i as i64, 1)),
            evidence_total: 1,
        });
    }
    out
}

/// Collect several lazy frames in one go (see [`ScriptEngine::findings`]).
fn collect_all(lfs: Vec<LazyFrame>) -> Result<Vec<DataFrame>, ScriptError> {
    if lfs.len() <= 1 {
        return lfs.into_iter().map(collect).collect();
    }
    let opt = lfs[0].get_current_optimizations();
    let plans = lfs.into_iter().map(|lf| lf.logical_plan).collect();
    LazyFrame::collect_all_with_engine(plans, polars::prelude::Engine::Auto, opt)
        .map_err(|e| ScriptError::plain(bindings::polars_message(&e)))
}

fn collect(lf: LazyFrame) -> Result<DataFrame, ScriptError> {
    lf.collect()
        .map_err(|e| ScriptError::plain(bindings::polars_message(&e)))
}

/// Loaded captures as the data behind `packets()` and `flows()`.
pub struct Captures {
    pub loaded: Vec<crate::table::load::Loaded>,
}

impl Captures {
    pub fn new(loaded: Vec<crate::table::load::Loaded>) -> Captures {
        Captures { loaded }
    }

    /// Packets of all captures as one lazy table (rows keep their `file` column).
    pub fn packets_lazy(&self) -> LazyFrame {
        union(self.loaded.iter().map(|l| l.packets.lazy()).collect())
    }

    /// One table of each capture.
    fn parts(
        &self,
        table: impl Fn(&crate::table::load::Loaded) -> crate::Result<LazyFrame>,
    ) -> crate::error::Result<Vec<LazyFrame>> {
        self.loaded.iter().map(table).collect()
    }

    pub fn packet_count(&self) -> usize {
        self.loaded.iter().map(|l| l.packets.height()).sum()
    }
}

/// Per-capture parts of a packet-schema table as one (an empty packet table when none).
fn union(parts: Vec<LazyFrame>) -> LazyFrame {
    union_or(parts, || {
        crate::table::packet_columns::empty_packets().unwrap_or_default().lazy()
    })
}

/// Per-capture parts of a table as one; `empty` when there are none.
fn union_or(parts: Vec<LazyFrame>, empty: impl Fn() -> LazyFrame) -> LazyFrame {
    match parts.len() {
        0 => empty(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => concat(
            parts,
            UnionArgs {
                rechunk: false,
                parallel: true,
                ..Default::default()
            },
        )
        .unwrap_or_else(|_| empty()),
    }
}

impl DataSource for Captures {
    fn packets(&self) -> crate::error::Result<LazyFrame> {
        Ok(self.packets_lazy())
    }

    fn files(&self) -> Vec<String> {
        self.loaded.iter().map(|l| l.capture.name.clone()).collect()
    }

    fn totals(&self) -> Option<crate::query::bindings::data::Totals> {
        let metas: Option<Vec<&crate::table::catalog::CaptureMeta>> =
            self.loaded.iter().map(|l| l.meta.as_ref()).collect();
        metas
            .filter(|m| !m.is_empty())
            .map(|ms| crate::query::bindings::data::Totals {
                packets: ms.iter().map(|m| m.packets).sum(),
                bytes: ms.iter().map(|m| m.bytes).sum(),
                first_ns: ms.iter().filter_map(|m| m.first_ts).min(),
                last_ns: ms.iter().filter_map(|m| m.last_ts).max(),
            })
    }

    fn events(&self) -> crate::error::Result<LazyFrame> {
        Ok(union(self.loaded.iter().map(|l| l.packets.events()).collect()))
    }

    fn stacks(&self) -> crate::error::Result<LazyFrame> {
        let parts = self.parts(|l| l.stacks())?;
        if parts.is_empty() {
            return NoData.stacks();
        }
        Ok(concat(parts, UnionArgs::default())?)
    }

    fn flows(&self) -> crate::error::Result<LazyFrame> {
        let parts = self.parts(|l| l.flows())?;
        Ok(union_or(parts, || {
            crate::table::flow::empty_flows().unwrap_or_default().lazy()
        }))
    }

    fn dns(&self) -> crate::error::Result<LazyFrame> {
        let parts = self.parts(|l| Ok(l.dns()))?;
        Ok(union_or(parts, || {
            crate::table::dns_table::empty_dns().unwrap_or_default().lazy()
        }))
    }

    fn http(&self) -> crate::error::Result<LazyFrame> {
        let parts = self.parts(|l| Ok(l.http()))?;
        Ok(union_or(parts, || {
            crate::table::http_table::empty_http().unwrap_or_default().lazy()
        }))
    }

    fn tls(&self) -> crate::error::Result<LazyFrame> {
        let parts = self.parts(|l| Ok(l.tls()))?;
        Ok(union_or(parts, || {
            crate::table::tls_table::empty_tls().unwrap_or_default().lazy()
        }))
    }
}

/// Frame numbers the evidence of a finding cites (for reports): the `frames` list column when
/// present, else the `frame` column.
pub fn cited_frames(df: &DataFrame) -> Vec<u64> {
    let numbers = |s: &Series| -> Vec<u64> {
        s.cast(&DataType::UInt64)
            .ok()
            .and_then(|s| s.u64().ok().map(|ca| ca.iter().flatten().collect()))
            .unwrap_or_default()
    };
    let Ok(c) = df.column("frames").or_else(|_| df.column(pcol::FRAME)) else {
        return Vec::new();
    };
    match c.dtype() {
        DataType::List(_) => (0..df.height())
            .filter_map(|i| match c.get(i) {
                Ok(AnyValue::List(s)) => Some(numbers(&s)),
                _ => None,
            })
            .flatten()
            .collect(),
        _ => numbers(c.as_materialized_series()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eng() -> ScriptEngine {
        ScriptEngine::new(
            Limits {
                timeout: Duration::from_secs(5),
                ..Limits::default()
            },
            None,
        )
    }

    fn run(src: &str) -> Result<RunResult, ScriptError> {
        eng().run(src, Arc::new(NoData), &Vec::new())
    }

    #[test]
    fn infinite_loop_is_stopped() {
        let e = run("let x = 0; loop { x += 1; }").unwrap_err();
        assert!(
            e.message.contains("operations") || e.message.contains("time limit"),
            "{e}"
        );
    }

    /// Rhai's sort and dedup discard a comparer's errors: a deadline raised inside one was
    /// swallowed and nested sorts ran on, reporting success. Now the error stops the script.
    #[test]
    fn comparers_honour_the_deadline() {
        let eng = ScriptEngine::new(
            Limits {
                timeout: Duration::from_millis(300),
                ..Limits::default()
            },
            None,
        );
        let run = |src: &str| eng.run(src, Arc::new(NoData), &Vec::new());
        let slow = "let big = []; for i in 0..300 { big.push(300 - i); } \
                    let a = []; for i in 0..300 { a.push(i); }";
        for call in [
            "a.sort(|x, y| { big.sort(|p, q| p - q); big.reverse(); y - x })",
            "a.order_by(|x, y| { big.sort(|p, q| p - q); big.reverse(); y - x })",
            "a.dedup(|x, y| { big.sort(|p, q| p - q); big.reverse(); false })",
        ] {
            let started = Instant::now();
            let e = run(&format!("{slow} {call}; a.len()")).unwrap_err();
            assert!(e.message.contains("time limit"), "{call}: {e}");
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{call}: {:?}",
                started.elapsed()
            );
        }
        // Still sorts as Rhai does: an integer's sign, or a bool for "less".
        let ok = run(
            "let a = [3, 1, 2]; a.sort(|x, y| x - y); let b = a.order_by(|x, y| x > y); \
                      let c = [1, 1, 2, 2, 1]; c.dedup(|p, q| p == q); #{ a: a, b: b, c: c }",
        )
        .unwrap();
        assert!(
            matches!(ok.output, Output::Value(ref v) if v == &serde_json::json!({"a": [1, 2, 3], "b": [3, 2, 1], "c": [1, 2, 1]})),
            "{:?}",
            ok.output
        );
    }

    #[test]
    fn deep_recursion_is_stopped() {
        let e = run("fn f(n) { f(n + 1) } f(0)").unwrap_err();
        assert!(e.message.contains("nested too deeply"), "{e}");
    }

    #[test]
    fn huge_strings_are_stopped() {
        let e = run(r#"let s = "x"; loop { s += s; }"#).unwrap_err();
        assert!(
            e.message.contains("grew past its limit") || e.message.contains("operations"),
            "{e}"
        );
    }

    #[test]
    fn eval_and_file_access_are_not_available() {
        assert!(run(r#"eval("1 + 1")"#).is_err());
        let e = run(r#"import "../../etc/passwd" as p; 1"#).unwrap_err();
        assert!(e.message.contains("queries/") || e.message.contains("not found"), "{e}");
        // Rhai has no file or process functions at all.
        assert!(run(r#"open_file("/etc/passwd")"#).is_err());
    }

    /// A query importing itself (directly or round a loop) recursed until the stack overflowed
    /// and the process aborted; now the cycle is refused and named. Imports that are not a
    /// cycle (the same helper twice, a chain) still load.
    #[test]
    fn import_cycles_are_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let w = |name: &str, text: &str| std::fs::write(dir.path().join(format!("{name}.rhai")), text).unwrap();
        w("selfish", r#"import "selfish" as s; 1"#);
        w("ping", r#"import "pong" as p; 1"#);
        w("pong", r#"import "ping" as p; 1"#);
        w("helper", "fn two() { 2 }");
        w("uses_helper", r#"import "helper" as h; fn four() { h::two() * 2 }"#);
        for i in 0..12 {
            w(&format!("deep{i}"), &format!(r#"import "deep{}" as d; 1"#, i + 1));
        }
        let eng = ScriptEngine::new(
            Limits {
                timeout: Duration::from_secs(5),
                ..Limits::default()
            },
            Some(dir.path()),
        );
        let run = |src: &str| eng.run(src, Arc::new(NoData), &Vec::new());
        let e = run(r#"import "selfish" as s; 1"#).unwrap_err().to_string();
        assert!(e.contains("import cycle: selfish -> selfish"), "{e}");
        let e = run(r#"import "ping" as p; 1"#).unwrap_err().to_string();
        assert!(e.contains("import cycle: ping -> pong -> ping"), "{e}");
        let e = run(r#"import "deep0" as d; 1"#).unwrap_err().to_string();
        assert!(e.contains("imports nest deeper than 8"), "{e}");
        let ok = run(
            r#"import "helper" as a; import "helper" as b; import "uses_helper" as u; a::two() + b::two() + u::four()"#,
        )
        .unwrap();
        assert!(
            matches!(ok.output, Output::Value(ref v) if v == &serde_json::json!(8)),
            "{:?}",
            ok.output
        );
    }

    #[test]
    fn syntax_error_has_line_column_and_caret() {
        let e = eng().compile("let a = 1;\nlet b = (2 + ;\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        let shown = e.to_string();
        assert!(shown.contains("line 2"), "{shown}");
        assert!(shown.contains("^"), "{shown}");
    }

    #[test]
    fn and_or_build_polars_expressions() {
        let r = run(r#"packets().filter(col("dst_port") == 443 && col("l4") == "tcp" || !(col("ttl") > 3)).count()"#)
            .unwrap();
        assert!(matches!(r.output, Output::Value(Value::Number(_))));
        // Plain booleans still work.
        let r = run("true && false || true").unwrap();
        assert!(matches!(r.output, Output::Value(Value::Bool(true))));
    }

    #[test]
    fn unknown_column_names_the_schema() {
        let e = run(r#"packets().select(["no_such_col"])"#).unwrap_err();
        assert!(e.message.contains("no_such_col"), "{e}");
    }

    #[test]
    fn cancel_flag_stops_a_script() {
        let cancel = Arc::new(AtomicBool::new(true));
        let e = eng()
            .run_cancellable("loop {}", Arc::new(NoData), &Vec::new(), Some(cancel))
            .unwrap_err();
        assert!(e.message.contains("cancelled"), "{e}");
    }

    #[test]
    fn function_names_include_the_query_language() {
        let names = eng().function_names();
        for n in [
            "packets", "flows", "events", "stacks", "col", "filter", "group_by", "agg", "in_cidr", "finding",
        ] {
            assert!(names.iter().any(|x| x == n), "{n} missing");
        }
    }

    #[test]
    fn template_fills_from_facts() {
        let mut m = Map::new();
        m.insert("src".into(), Value::String("10.0.0.1".into()));
        m.insert("ports".into(), Value::from(42));
        assert_eq!(
            fill_template("scan from {src}: {ports} ports {x}", &m),
            "scan from 10.0.0.1: 42 ports {x}"
        );
    }
}
