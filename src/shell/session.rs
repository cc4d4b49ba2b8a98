//! session: the loaded captures, the settings (`.format`, `.timer`), the last result and script,
//! and running what the user types on a worker thread so Ctrl-C cancels the query, not the shell.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use nu_ansi_term::{Color, Style};
use polars::prelude::*;

use crate::config::Config;
use crate::query::analyze;
use crate::query::canned;
use crate::query::engine::{Captures, Output, Params, RunResult, ScriptEngine};
use crate::query::lake::LakeData;
use crate::render::{self, Format};
use crate::shell::explain::explain;
use crate::shell::help::{help_text, schema_text, wrap};
use crate::shell::meta::{Meta, SaveKind, is_meta, parse_meta, save_kind};
use crate::table::catalog;
use crate::table::load::{self, LoadOptions, Loaded};
use crate::units;

/// What one input did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Done,
    Failed,
    Error,
    Quit,
}

/// The end of a job run on a worker thread.
pub(crate) enum Job<T> {
    Done(T),
    Cancelled,
    Crashed,
}

pub(crate) struct Session {
    pub(crate) cfg: Config,
    pub(crate) opts: LoadOptions,
    pub(crate) engine: Arc<ScriptEngine>,
    pub(crate) data: Arc<Captures>,
    /// A lake (`netql shell --lake DIR`): queries read it instead of loaded captures (until
    /// `.load` loads some).
    pub(crate) lake: Option<Arc<LakeData>>,
    pub(crate) format: Format,
    pub(crate) timer: bool,
    pub(crate) max_rows: usize,
    /// The last result, for `.save`.
    pub(crate) last: Option<RunResult>,
    /// The last script that ran without error; `.method(...)` lines continue it.
    pub(crate) last_script: Option<String>,
    pub(crate) interactive: bool,
    pub(crate) color: bool,
    /// Set by the SIGINT handler while a job runs.
    pub(crate) sigint: Arc<AtomicBool>,
}

impl Session {
    /// What queries read: the lake when one was given, else the loaded captures.
    pub(crate) fn source(&self) -> Arc<dyn crate::query::bindings::data::DataSource> {
        match &self.lake {
            Some(l) => l.clone() as Arc<dyn crate::query::bindings::data::DataSource>,
            None => self.data.clone(),
        }
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.data.loaded.iter().map(|l| l.capture.name.clone()).collect()
    }

    pub(crate) fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            style.paint(text).to_string()
        } else {
            text.to_string()
        }
    }

    pub(crate) fn error(&self, msg: &str) {
        if self.interactive {
            eprintln!("{} {msg}", self.paint(Color::Red.bold(), "error:"));
        } else {
            eprintln!("{}", crate::safe_text::text(&format!("netql: error: {msg}")));
        }
    }

    pub(crate) fn note(&self, msg: &str) {
        eprintln!("{}", self.paint(Style::new().fg(Color::DarkGray), msg));
    }

    /// After Ctrl-C: the terminal has echoed `^C`, so start a new line first.
    pub(crate) fn cancelled(&self) {
        if self.interactive {
            eprintln!();
        }
        self.note("cancelled");
    }

    /// Run `f` on a worker thread; Ctrl-C stops waiting for it (and sets `cancel`, so a script
    /// stops at its next step). A Polars query in flight is left to finish in the background.
    pub(crate) fn job<T: Send + 'static>(
        &self,
        cancel: Option<Arc<AtomicBool>>,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Job<T> {
        let (tx, rx) = mpsc::channel();
        self.sigint.store(false, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("netql-shell-job".into())
            .spawn(move || {
                let _ = tx.send(f());
            });
        if spawned.is_err() {
            return Job::Crashed;
        }
        loop {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(v) => return Job::Done(v),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Job::Crashed,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.sigint.swap(false, Ordering::SeqCst) {
                        if let Some(c) = &cancel {
                            c.store(true, Ordering::SeqCst);
                        }
                        // Give the script a moment to stop cleanly, then stop waiting.
                        let _ = rx.recv_timeout(Duration::from_millis(300));
                        return Job::Cancelled;
                    }
                }
            }
        }
    }

    pub(crate) fn load(&mut self, specs: &[String]) -> Step {
        let files = match catalog::resolve(&self.cfg, specs) {
            Ok(f) => f,
            Err(e) => {
                self.error(&e.to_string());
                return Step::Error;
            }
        };
        let opts = self.opts.clone();
        let started = Instant::now();
        let results = match self.job(None, move || {
            files
                .iter()
                .map(|f| load::load(f, &opts))
                .collect::<Vec<crate::Result<Loaded>>>()
        }) {
            Job::Done(r) => r,
            Job::Cancelled => {
                self.note("cancelled; the captures loaded before stay loaded");
                return Step::Error;
            }
            Job::Crashed => {
                self.error("loading crashed");
                return Step::Error;
            }
        };
        let mut loaded = Vec::new();
        let mut failed = false;
        for r in results {
            match r {
                Ok(l) => {
                    if let Some(w) = &l.warning {
                        self.error(&format!("{}: {w}", l.capture.path.display()));
                        failed = true;
                    }
                    loaded.push(l);
                }
                Err(e) => {
                    self.error(&e.to_string());
                    failed = true;
                }
            }
        }
        if loaded.is_empty() {
            return Step::Error;
        }
        self.data = Arc::new(Captures::new(loaded));
        self.last_script = None;
        if self.lake.take().is_some() {
            self.note("queries now read the loaded captures, not the lake");
        }
        if self.interactive {
            let per: Vec<String> = self
                .data
                .loaded
                .iter()
                .map(|l| format!("{} ({} packets)", l.capture.name, l.packets.height()))
                .collect();
            println!("loaded {}", per.join(", "));
        }
        self.timing(started.elapsed());
        if failed { Step::Error } else { Step::Done }
    }

    pub(crate) fn timing(&self, d: Duration) {
        if self.timer {
            let ms = d.as_secs_f64() * 1000.0;
            let text = if ms < 1000.0 {
                format!("time: {ms:.1} ms")
            } else {
                format!("time: {:.2} s", ms / 1000.0)
            };
            println!("{}", self.paint(Style::new().fg(Color::DarkGray), &text));
        }
    }

    /// Run one input line (or several, for a multi-line script).
    pub(crate) fn execute(&mut self, input: &str) -> Step {
        let text = input.trim();
        if text.is_empty() {
            return Step::Done;
        }
        if is_meta(text) {
            return match parse_meta(text) {
                Ok(meta) => self.meta(meta),
                Err(e) => {
                    self.error(&e);
                    Step::Error
                }
            };
        }
        let script = if text.starts_with('.') {
            match &self.last_script {
                Some(base) => format!("{}\n{}", base.trim_end().trim_end_matches(';').trim_end(), input.trim()),
                None => {
                    self.error(&format!(
                        "{} continues the last script, and none has run yet",
                        text.lines().next().unwrap_or(text)
                    ));
                    return Step::Error;
                }
            }
        } else {
            input.trim_end().to_string()
        };
        let step = self.run_script(&script, Vec::new(), None);
        if step != Step::Error {
            self.last_script = Some(script);
        }
        step
    }

    pub(crate) fn run_script(&mut self, source: &str, params: Params, query: Option<&str>) -> Step {
        let cancel = Arc::new(AtomicBool::new(false));
        let engine = self.engine.clone();
        let data = self.source();
        let src = source.to_string();
        let flag = cancel.clone();
        let job = self.job(Some(cancel), move || {
            engine.run_cancellable(&src, data, &params, Some(flag))
        });
        match job {
            Job::Done(Ok(result)) => {
                self.show(&result);
                let failed = !result.failures.is_empty();
                self.last = Some(result);
                if failed { Step::Failed } else { Step::Done }
            }
            Job::Done(Err(e)) if e.message.ends_with("cancelled") => {
                self.cancelled();
                Step::Error
            }
            Job::Done(Err(e)) => {
                let e = explain(e);
                match query {
                    Some(q) => self.error(&format!("in {q}: {e}")),
                    None => self.error(&e.to_string()),
                }
                Step::Error
            }
            Job::Cancelled => {
                self.cancelled();
                Step::Error
            }
            Job::Crashed => {
                self.error("the query crashed (a bug in netql; please report it with the script)");
                Step::Error
            }
        }
    }

    fn show(&self, r: &RunResult) {
        let text = render::output(r, self.format, self.max_rows);
        if !text.is_empty() {
            println!("{text}");
        }
        if let Output::Table(df) = &r.output
            && self.interactive
            && matches!(self.format, Format::Table | Format::Markdown)
            && df.height() <= self.max_rows
        {
            let n = df.height();
            println!(
                "{}",
                self.paint(
                    Style::new().fg(Color::DarkGray),
                    &format!("({n} row{})", if n == 1 { "" } else { "s" })
                )
            );
        }
        if !matches!(self.format, Format::Table | Format::Markdown) {
            for f in &r.failures {
                self.error(&format!("assertion failed: {f}"));
            }
        }
        self.timing(r.elapsed);
    }

    fn meta(&mut self, meta: Meta) -> Step {
        match meta {
            Meta::Quit => return Step::Quit,
            Meta::Help(None) => println!("{}", help_text()),
            Meta::Help(Some(name)) => {
                let name = name.trim_start_matches('.').trim_end_matches("()");
                match crate::render::reference::help(crate::query::bindings::reference(), name) {
                    Some(text) => println!("{text}"),
                    None => {
                        self.error(&format!(
                            "no function named '{name}' (.help lists the commands; `netql functions` every function)"
                        ));
                        return Step::Error;
                    }
                }
            }
            Meta::Captures => self.captures(),
            Meta::Load(specs) => return self.load(&specs),
            Meta::Schema(which) => println!("{}", schema_text(which.as_deref())),
            Meta::Queries => {
                let rows: Vec<Vec<String>> = canned::list(&self.cfg.queries_dir)
                    .iter()
                    .map(|q| {
                        let params: Vec<String> =
                            q.params.iter().map(|p| format!("{}={}", p.name, p.default)).collect();
                        vec![q.name.clone(), wrap(&q.description, 60), params.join(" ")]
                    })
                    .collect();
                println!(
                    "{}",
                    render::text_table(&["query", "description", "parameters"], &rows, &[])
                );
            }
            Meta::Run { name, params } => {
                let q = match canned::find(&self.cfg.queries_dir, &name) {
                    Ok(q) => q,
                    Err(e) => {
                        self.error(&e.to_string());
                        return Step::Error;
                    }
                };
                let bound = match q.bind(&params) {
                    Ok(p) => p,
                    Err(e) => {
                        self.error(&e.to_string());
                        return Step::Error;
                    }
                };
                return self.run_script(&q.source, bound, Some(&q.name));
            }
            Meta::Diff(specs) => {
                if self.data.loaded.is_empty() {
                    self.error("no capture loaded (.load FILE|latest|all)");
                    return Step::Error;
                }
                let files = match catalog::resolve(&self.cfg, &specs) {
                    Ok(f) => f,
                    Err(e) => {
                        self.error(&e.to_string());
                        return Step::Error;
                    }
                };
                let (data, engine, dir, opts) = (
                    self.data.clone(),
                    self.engine.clone(),
                    self.cfg.queries_dir.clone(),
                    self.opts.clone(),
                );
                let job = self.job(None, move || -> Result<crate::query::diff::Diff, String> {
                    let base = files
                        .iter()
                        .map(|f| load::load(f, &opts).map_err(|e| e.to_string()))
                        .collect::<Result<Vec<Loaded>, String>>()?;
                    let base = std::sync::Arc::new(crate::query::engine::Captures::new(base));
                    crate::query::diff::diff(base, data, &engine, &dir, Default::default())
                });
                match job {
                    Job::Done(Ok(d)) => print!("{}", crate::render::diff::report(&d)),
                    Job::Done(Err(e)) => {
                        self.error(&e);
                        return Step::Error;
                    }
                    Job::Cancelled => self.note("cancelled"),
                    Job::Crashed => {
                        self.error("the comparison crashed");
                        return Step::Error;
                    }
                }
            }
            Meta::Analyze => {
                if self.data.loaded.is_empty() && self.lake.is_none() {
                    self.error("no capture loaded (.load FILE|latest|all)");
                    return Step::Error;
                }
                let (data, engine, dir) = (self.source(), self.engine.clone(), self.cfg.queries_dir.clone());
                match self.job(None, move || analyze::analyze(data, &engine, &dir)) {
                    Job::Done(a) => {
                        println!("{}", render::analysis(&a, self.format));
                        self.timing(a.elapsed);
                        if !a.errors.is_empty() {
                            return Step::Error;
                        }
                    }
                    Job::Cancelled => {
                        self.cancelled();
                        return Step::Error;
                    }
                    Job::Crashed => {
                        self.error("the analysis crashed");
                        return Step::Error;
                    }
                }
            }
            Meta::Format(None) => println!("format: {}", Format::name(self.format)),
            Meta::Format(Some(f)) => {
                self.format = f;
                if self.interactive {
                    println!("format: {}", Format::name(f));
                }
            }
            Meta::Timer(None) => println!("timer: {}", if self.timer { "on" } else { "off" }),
            Meta::Timer(Some(on)) => {
                self.timer = on;
                if self.interactive {
                    println!("timer: {}", if on { "on" } else { "off" });
                }
            }
            Meta::Save(path) => match self.save(&path) {
                Ok(what) => {
                    if self.interactive {
                        println!("saved {what} to {}", path.display());
                    }
                }
                Err(e) => {
                    self.error(&e);
                    return Step::Error;
                }
            },
        }
        Step::Done
    }

    fn captures(&self) {
        if let Some(lake) = &self.lake {
            return lake_captures(lake);
        }
        let files = match catalog::list(&self.cfg.captures_dir) {
            Ok(f) => f,
            Err(e) => {
                self.error(&e.to_string());
                return;
            }
        };
        if files.is_empty() {
            println!("no captures in {}", self.cfg.captures_dir.display());
            return;
        }
        let loaded: Vec<PathBuf> = self
            .data
            .loaded
            .iter()
            .map(|l| l.capture.path.canonicalize().unwrap_or_else(|_| l.capture.path.clone()))
            .collect();
        let rows: Vec<Vec<String>> = files
            .iter()
            .map(|f| {
                let canon = f.path.canonicalize().unwrap_or_else(|_| f.path.clone());
                let modified = f
                    .modified
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| units::rfc3339_ns(d.as_nanos() as i64)[..19].replace('T', " "))
                    .unwrap_or_default();
                vec![
                    if loaded.contains(&canon) {
                        "*".into()
                    } else {
                        String::new()
                    },
                    f.name.clone(),
                    units::human_bytes(f.size),
                    modified,
                ]
            })
            .collect();
        println!(
            "{}",
            render::text_table(&["", "capture", "size", "modified (UTC)"], &rows, &[2])
        );
    }

    /// Write the last result; returns what was written ("253 rows").
    fn save(&self, path: &Path) -> Result<String, String> {
        let r = self.last.as_ref().ok_or("nothing to save yet: run a query first")?;
        let kind = save_kind(path).ok_or("name the file .csv, .json or .parquet")?;
        let io = |e: std::io::Error| format!("{}: {e}", path.display());
        let rows = |n: usize| format!("{n} row{}", if n == 1 { "" } else { "s" });
        match (&r.output, kind) {
            (Output::Table(df), SaveKind::Csv) => {
                std::fs::write(path, render::dataframe(df, Format::Csv, usize::MAX) + "\n").map_err(io)?;
                Ok(rows(df.height()))
            }
            (Output::Table(df), SaveKind::Json) => {
                std::fs::write(path, render::dataframe(df, Format::Json, usize::MAX) + "\n").map_err(io)?;
                Ok(rows(df.height()))
            }
            (Output::Table(df), SaveKind::Parquet) => {
                let file = std::fs::File::create(path).map_err(io)?;
                let mut df = df.clone();
                ParquetWriter::new(file)
                    .finish(&mut df)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(rows(df.height()))
            }
            (Output::Findings(fs), SaveKind::Json | SaveKind::Csv) => {
                let reported: Vec<analyze::Reported> = fs
                    .iter()
                    .map(|f| analyze::Reported {
                        query: String::new(),
                        finding: f.clone(),
                    })
                    .collect();
                let fmt = if kind == SaveKind::Json {
                    Format::Json
                } else {
                    Format::Csv
                };
                std::fs::write(path, render::findings(&reported, fmt, usize::MAX) + "\n").map_err(io)?;
                Ok(format!("{} finding{}", fs.len(), if fs.len() == 1 { "" } else { "s" }))
            }
            (Output::Value(v), SaveKind::Json) => {
                let text = crate::safe_text::json(serde_json::to_string_pretty(v).map_err(|e| e.to_string())?);
                std::fs::write(path, text + "\n").map_err(io)?;
                Ok("the value".into())
            }
            (out, _) => Err(format!(
                "the last result is {}; .save writes tables as .csv, .json or .parquet (values and findings as .json)",
                match out {
                    Output::Table(_) => "a table",
                    Output::Value(_) => "a value",
                    Output::Findings(_) => "a list of findings",
                    Output::Nothing => "empty",
                }
            )),
        }
    }
}

/// `.captures` over a lake: the captures it holds in scope, newest first.
fn lake_captures(lake: &LakeData) {
    let mut entries: Vec<_> = lake.view.entries().collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.last_ns));
    let time = |ns: Option<i64>| ns.map_or("-".into(), |t| units::rfc3339_ns(t)[..19].replace('T', " "));
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                render::clean_cell(&e.file),
                render::clean_cell(&e.sensor),
                e.packets.to_string(),
                time(e.first_ns),
                time(e.last_ns),
            ]
        })
        .collect();
    println!(
        "{} capture(s) in the lake {}\n{}",
        entries.len(),
        lake.view.dir.display(),
        render::text_table(
            &["capture", "sensor", "packets", "first (UTC)", "last (UTC)"],
            &rows,
            &[2]
        )
    );
}
