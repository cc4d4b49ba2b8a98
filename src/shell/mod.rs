//! shell: `netql shell`, the interactive query shell, and its pipeline mode.
//!
//! On a terminal it is a reedline editor: persistent history with hints and Ctrl-R search,
//! multi-line input (Enter on an unfinished script continues it; Alt-Enter always adds a line),
//! syntax highlighting, Tab completion, and dot meta-commands listed in one table,
//! [`META_COMMANDS`], which `.help` prints and the completer offers. Scripts run on a worker
//! thread so that Ctrl-C cancels the query and not the shell. A line that starts with a method
//! call (`.filter(...)`) continues the last script that ran, so a query can be refined step by
//! step.
//!
//! When stdin is not a terminal, the shell reads it all, runs meta-command lines in order and
//! everything between them as scripts, prints the results and exits 0 (success), 1 (an assert
//! failed) or 2 (an error), so `echo 'packets().count()' | netql shell capture.pcap` works in a
//! pipeline.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::{IsTerminal, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use nu_ansi_term::{Color, Style};
use polars::prelude::*;
use reedline::{
    ColumnarMenu, Completer, CompletionResult, DefaultHinter, EditCommand, Emacs, FileBackedHistory, Highlighter,
    KeyCode, KeyModifiers, MenuBuilder, Prompt, PromptEditMode, PromptHistorySearch, PromptHistorySearchStatus,
    Reedline, ReedlineEvent, ReedlineMenu, Signal, Span, StyledText, Suggestion, ValidationResult, Validator,
    default_emacs_keybindings,
};

use crate::config::Config;
use crate::error::Exit;
use crate::query::analyze;
use crate::query::canned;
use crate::query::engine::{Captures, Output, Params, RunResult, ScriptEngine, ScriptError};
use crate::render::{self, Format};
use crate::table::catalog;
use crate::table::load::{self, LoadOptions, Loaded};
use crate::table::schema::{FLOW_SCHEMA, PACKET_SCHEMA, STACK_SCHEMA};
use crate::units;

// ---------------------------------------------------------------------------------------------
// Meta-commands

/// One meta-command as `.help` shows it and the completer offers it.
#[derive(Debug, Clone, Copy)]
pub struct MetaSpec {
    pub name: &'static str,
    pub args: &'static str,
    pub description: &'static str,
}

const fn m(name: &'static str, args: &'static str, description: &'static str) -> MetaSpec {
    MetaSpec {
        name,
        args,
        description,
    }
}

/// Every meta-command, in the order `.help` lists them.
pub const META_COMMANDS: &[MetaSpec] = &[
    m("help", "", "this table"),
    m(
        "captures",
        "",
        "the captures folder, newest first (* marks the loaded ones)",
    ),
    m(
        "load",
        "FILE|latest|all ...",
        "load captures, replacing the current ones",
    ),
    m(
        "schema",
        "[packets|flows|events|stacks]",
        "the columns of the tables, with types and meanings",
    ),
    m("queries", "", "the canned queries and their parameters"),
    m(
        "run",
        "NAME [k=v ...]",
        "run a canned query (or a .rhai file) over the loaded captures",
    ),
    m(
        "analyze",
        "",
        "the full report: protocols, top devices, security findings, verdict",
    ),
    m(
        "format",
        "table|json|ndjson|csv|markdown",
        "how results are printed (no argument: show it)",
    ),
    m("timer", "on|off", "print how long each command took"),
    m("save", "FILE", "write the last result to FILE: .csv, .json or .parquet"),
    m("quit", "", "leave the shell (also .exit, Ctrl-D)"),
];

/// A parsed meta-command.
#[derive(Debug, Clone, PartialEq)]
pub enum Meta {
    Help,
    Captures,
    Load(Vec<String>),
    /// `packets`, `flows`, or both.
    Schema(Option<String>),
    Queries,
    Run {
        name: String,
        params: Vec<(String, String)>,
    },
    Analyze,
    /// None: show the current format.
    Format(Option<Format>),
    /// None: show whether the timer is on.
    Timer(Option<bool>),
    Save(PathBuf),
    Quit,
}

/// Whether `text` (a whole input) is a meta-command: a dot, a word, then nothing or a space.
/// `.filter(...)` is not one; it continues the last script.
pub fn is_meta(text: &str) -> bool {
    let t = text.trim_start();
    let Some(rest) = t.strip_prefix('.') else {
        return false;
    };
    let word_end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '?'))
        .unwrap_or(rest.len());
    word_end > 0 && rest[word_end..].chars().next().is_none_or(char::is_whitespace)
}

/// Parse a meta-command line (`.run port_scan min_ports=5`).
pub fn parse_meta(line: &str) -> Result<Meta, String> {
    let t = line.trim();
    let body = t.strip_prefix('.').ok_or_else(|| format!("not a meta-command: {t}"))?;
    let mut words = body.split_whitespace();
    let name = words.next().unwrap_or("");
    let args: Vec<&str> = words.collect();
    let usage = |n: &str| {
        let spec = META_COMMANDS.iter().find(|s| s.name == n);
        format!("usage: .{n} {}", spec.map_or("", |s| s.args))
            .trim_end()
            .to_string()
    };
    let none = |meta: Meta| {
        if args.is_empty() {
            Ok(meta)
        } else {
            Err(format!(".{name} takes no arguments"))
        }
    };
    match name {
        "help" | "?" | "h" => none(Meta::Help),
        "captures" => none(Meta::Captures),
        "queries" => none(Meta::Queries),
        "analyze" => none(Meta::Analyze),
        "quit" | "exit" | "q" => none(Meta::Quit),
        "load" => {
            if args.is_empty() {
                Err(usage("load"))
            } else {
                Ok(Meta::Load(args.iter().map(|s| s.to_string()).collect()))
            }
        }
        "schema" => match args.as_slice() {
            [] => Ok(Meta::Schema(None)),
            [t @ ("packets" | "flows" | "stacks" | "events")] => Ok(Meta::Schema(Some(t.to_string()))),
            _ => Err(usage("schema")),
        },
        "run" => {
            let Some((query, rest)) = args.split_first() else {
                return Err(usage("run"));
            };
            let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            let params = canned::parse_params(&rest).map_err(|e| e.to_string())?;
            Ok(Meta::Run {
                name: query.to_string(),
                params,
            })
        }
        "format" => match args.as_slice() {
            [] => Ok(Meta::Format(None)),
            [f] => Format::from_str(f, true)
                .map(|f| Meta::Format(Some(f)))
                .map_err(|_| format!("unknown format '{f}': {}", usage("format"))),
            _ => Err(usage("format")),
        },
        "timer" => match args.as_slice() {
            [] => Ok(Meta::Timer(None)),
            ["on"] => Ok(Meta::Timer(Some(true))),
            ["off"] => Ok(Meta::Timer(Some(false))),
            _ => Err(usage("timer")),
        },
        "save" => {
            if args.is_empty() {
                return Err(usage("save"));
            }
            let path = PathBuf::from(args.join(" "));
            match save_kind(&path) {
                Some(_) => Ok(Meta::Save(path)),
                None => Err(format!(
                    "cannot tell the format of {}: name the file .csv, .json or .parquet",
                    path.display()
                )),
            }
        }
        "" => Err("a meta-command needs a name (.help lists them)".into()),
        other => Err(format!("unknown command .{other} (.help lists them)")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SaveKind {
    Csv,
    Json,
    Parquet,
}

fn save_kind(path: &Path) -> Option<SaveKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "csv" => Some(SaveKind::Csv),
        "json" => Some(SaveKind::Json),
        "parquet" | "pq" => Some(SaveKind::Parquet),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// A small lexer, shared by the validator, the highlighter and the completer

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Space,
    Comment { closed: bool },
    Str { quote: char, closed: bool },
    Number,
    Ident,
    Punct,
}

/// Split a script into tokens (byte ranges). Good enough for colours, brackets and completion;
/// the Rhai compiler has the last word on syntax.
fn lex(src: &str) -> Vec<(Tok, Range<usize>)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let char_len = |i: usize| src[i..].chars().next().map_or(1, char::len_utf8);
    while i < b.len() {
        let start = i;
        let c = b[i];
        let tok = if c.is_ascii_whitespace() {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            Tok::Space
        } else if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            Tok::Comment { closed: true }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            let mut closed = false;
            while i < b.len() {
                if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    i += 2;
                    closed = true;
                    break;
                }
                i += 1;
            }
            Tok::Comment { closed }
        } else if c == b'"' || c == b'`' || c == b'\'' {
            i += 1;
            let mut closed = false;
            while i < b.len() {
                match b[i] {
                    b'\\' if c != b'`' => i += 2,
                    b'\n' if c != b'`' => break,
                    x if x == c => {
                        i += 1;
                        closed = true;
                        break;
                    }
                    _ => i += 1,
                }
            }
            i = i.min(b.len());
            Tok::Str {
                quote: c as char,
                closed,
            }
        } else if c.is_ascii_digit() {
            while i < b.len()
                && (b[i].is_ascii_alphanumeric()
                    || b[i] == b'_'
                    || (b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)))
            {
                i += 1;
            }
            Tok::Number
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            Tok::Ident
        } else {
            i += char_len(i);
            Tok::Punct
        };
        // Keep ranges on char boundaries (a multi-byte char right after a backslash).
        while i < src.len() && !src.is_char_boundary(i) {
            i += 1;
        }
        out.push((tok, start..i.min(src.len())));
    }
    out
}

/// Does the script still need more lines: open brackets, an unfinished backtick string or
/// block comment?
fn needs_more(src: &str) -> bool {
    let mut stack: Vec<u8> = Vec::new();
    for (tok, r) in lex(src) {
        match tok {
            Tok::Comment { closed: false } => return true,
            Tok::Str {
                quote: '`',
                closed: false,
            } => return true,
            Tok::Punct => match src.as_bytes()[r.start] {
                o @ (b'(' | b'[' | b'{') => stack.push(o),
                c @ (b')' | b']' | b'}') => {
                    let want = match c {
                        b')' => b'(',
                        b']' => b'[',
                        _ => b'{',
                    };
                    if stack.pop() != Some(want) {
                        // Mismatched: let the compiler say where.
                        return false;
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    !stack.is_empty()
}

// ---------------------------------------------------------------------------------------------
// Validator

/// Decides whether Enter runs the input or continues it on a new line.
pub struct ShellValidator {
    engine: Arc<ScriptEngine>,
}

impl ShellValidator {
    pub fn new(engine: Arc<ScriptEngine>) -> ShellValidator {
        ShellValidator { engine }
    }

    /// True when the input is ready to run: a meta-command, a script that compiles, or one with
    /// a syntax error before its end (it runs and shows the error). Open brackets, an unfinished
    /// string or a script that stops mid-expression (`packets().`, `a ==`) are not complete.
    pub fn is_complete(&self, text: &str) -> bool {
        if text.trim().is_empty() || is_meta(text) {
            return true;
        }
        // A line starting with `.method(` continues the last script; check it on a stand-in.
        let src = if text.trim_start().starts_with('.') {
            format!("packets(){text}")
        } else {
            text.to_string()
        };
        if needs_more(&src) {
            return false;
        }
        match self.engine.compile(&src) {
            Ok(()) => true,
            Err(e) => !error_at_end(&e, &src),
        }
    }
}

impl Validator for ShellValidator {
    fn validate(&self, line: &str) -> ValidationResult {
        if self.is_complete(line) {
            ValidationResult::Complete
        } else {
            ValidationResult::Incomplete
        }
    }
}

/// Did compiling fail because the input ended too soon (not because of a mistake inside it)?
fn error_at_end(e: &ScriptError, src: &str) -> bool {
    if e.message.contains("incomplete") {
        return true;
    }
    let (Some(line), Some(col)) = (e.line, e.column) else {
        return false;
    };
    // Position (1-based) of the last character that is not whitespace.
    let trimmed = src.trim_end();
    let last_line = trimmed.lines().count().max(1);
    let last_col = trimmed.lines().last().map_or(0, |l| l.chars().count());
    (line, col) > (last_line, last_col)
}

// ---------------------------------------------------------------------------------------------
// Completer

/// What the shell can complete: engine functions, columns, queries, meta-commands, captures.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    /// Functions and methods, shortest first (so `filter` comes before `fill_null`).
    pub functions: Vec<String>,
    /// Column name and a short description, packets first, each name once.
    pub columns: Vec<(String, String)>,
    /// Canned queries.
    pub queries: Vec<QueryInfo>,
    /// The captures folder (listed at completion time).
    pub captures_dir: PathBuf,
}

impl Vocabulary {
    pub fn new(engine: &ScriptEngine, cfg: &Config) -> Vocabulary {
        let mut functions = engine.function_names();
        functions.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        let mut columns: Vec<(String, String)> = Vec::new();
        for (table, schema) in [("packets", PACKET_SCHEMA), ("flows", FLOW_SCHEMA)] {
            for d in schema {
                if !columns.iter().any(|(n, _)| n == d.name) {
                    columns.push((d.name.to_string(), format!("{table}, {}: {}", d.kind, d.meaning)));
                }
            }
        }
        let queries = canned::list(&cfg.queries_dir)
            .into_iter()
            .map(|q| {
                let params = q.params.iter().map(|p| (p.name.clone(), p.default.clone())).collect();
                QueryInfo {
                    name: q.name,
                    description: q.description,
                    params,
                }
            })
            .collect();
        Vocabulary {
            functions,
            columns,
            queries,
            captures_dir: cfg.captures_dir.clone(),
        }
    }
}

/// A canned query as the completer offers it.
#[derive(Debug, Clone)]
pub struct QueryInfo {
    pub name: String,
    pub description: String,
    /// Parameter names and defaults.
    pub params: Vec<(String, String)>,
}

/// Rhai keywords the highlighter colours and the completer offers.
const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "do", "until", "return", "break", "continue",
    "switch", "throw", "try", "catch", "import", "export", "as", "private", "this", "global",
];

const LITERALS: &[&str] = &["true", "false"];

/// Tab completion for scripts and meta-commands.
pub struct ShellCompleter {
    vocab: Arc<Vocabulary>,
}

impl ShellCompleter {
    pub fn new(vocab: Arc<Vocabulary>) -> ShellCompleter {
        ShellCompleter { vocab }
    }

    /// Suggestions for the word before `pos` in `line` (the whole buffer).
    pub fn suggest(&self, line: &str, pos: usize) -> Vec<Suggestion> {
        let pos = pos.min(line.len());
        let before = &line[..pos];
        let v = &self.vocab;

        // Meta-commands: the command name, then its arguments.
        if is_meta(before) || (before.trim_start() == "." && line.trim_start().starts_with('.')) {
            let lead = before.len() - before.trim_start().len();
            let body = &before[lead..];
            match body.find(char::is_whitespace) {
                None => {
                    let typed = &body[1..];
                    let found: Vec<Suggestion> = META_COMMANDS
                        .iter()
                        .filter(|s| s.name.starts_with(typed))
                        .map(|s| Suggestion {
                            value: format!(".{}", s.name),
                            description: Some(if s.args.is_empty() {
                                s.description.to_string()
                            } else {
                                format!("{} — {}", s.args, s.description)
                            }),
                            span: Span::new(lead, pos),
                            append_whitespace: !s.args.is_empty(),
                            ..Default::default()
                        })
                        .collect();
                    if !found.is_empty() || typed.is_empty() {
                        return found;
                    }
                    // Not a meta-command: `.fil` continues the last script; complete a method.
                }
                Some(_) => return self.meta_args(body, pos),
            }
        }

        // Inside a string: column names.
        let toks = lex(before);
        if let Some((Tok::Str { closed: false, .. }, r)) = toks.last() {
            let typed = &before[r.start + 1..];
            return v
                .columns
                .iter()
                .filter(|(n, _)| n.starts_with(typed))
                .map(|(n, d)| Suggestion {
                    value: n.clone(),
                    description: Some(d.clone()),
                    span: Span::new(r.start + 1, pos),
                    ..Default::default()
                })
                .collect();
        }

        // A word: methods after a dot; functions, keywords and columns elsewhere.
        let start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let typed = &before[start..];
        let after_dot = before[..start].ends_with('.');
        if typed.is_empty() && !after_dot {
            return Vec::new();
        }
        let span = Span::new(start, pos);
        let mut out: Vec<Suggestion> = v
            .functions
            .iter()
            .filter(|f| f.starts_with(typed))
            .map(|f| Suggestion {
                value: f.clone(),
                span,
                ..Default::default()
            })
            .collect();
        if !after_dot {
            out.extend(
                KEYWORDS
                    .iter()
                    .chain(LITERALS)
                    .filter(|k| k.starts_with(typed) && **k != typed)
                    .map(|k| Suggestion {
                        value: k.to_string(),
                        description: Some("keyword".into()),
                        span,
                        ..Default::default()
                    }),
            );
            out.extend(
                v.columns
                    .iter()
                    .filter(|(n, _)| n.starts_with(typed))
                    .map(|(n, d)| Suggestion {
                        value: format!("col(\"{n}\")"),
                        display_override: Some(n.clone()),
                        description: Some(d.clone()),
                        span,
                        ..Default::default()
                    }),
            );
        }
        out
    }

    /// Arguments of a meta-command: captures, queries and their parameters, formats, on/off.
    fn meta_args(&self, body: &str, pos: usize) -> Vec<Suggestion> {
        let words: Vec<&str> = body.split_whitespace().collect();
        let ends_in_space = body.ends_with(char::is_whitespace);
        let typed = if ends_in_space {
            ""
        } else {
            words.last().copied().unwrap_or("")
        };
        let index = if ends_in_space { words.len() } else { words.len() - 1 };
        let span = Span::new(pos - typed.len(), pos);
        let simple = |items: Vec<(String, Option<String>)>| -> Vec<Suggestion> {
            items
                .into_iter()
                .filter(|(n, _)| n.starts_with(typed))
                .map(|(value, description)| Suggestion {
                    value,
                    description,
                    span,
                    append_whitespace: true,
                    ..Default::default()
                })
                .collect()
        };
        let cmd = words.first().map_or("", |w| &w[1..]);
        match (cmd, index) {
            ("load", _) => {
                let mut items = vec![
                    ("latest".to_string(), Some("the newest capture".to_string())),
                    ("all".to_string(), Some("every capture in the folder".to_string())),
                ];
                if let Ok(files) = catalog::list(&self.vocab.captures_dir) {
                    items.extend(files.into_iter().map(|f| (f.name, Some(units::human_bytes(f.size)))));
                }
                simple(items)
            }
            ("run", 1) => simple(
                self.vocab
                    .queries
                    .iter()
                    .map(|q| (q.name.clone(), Some(q.description.clone())))
                    .collect(),
            ),
            ("run", _) => {
                let query = words.get(1).copied().unwrap_or("");
                let params = self
                    .vocab
                    .queries
                    .iter()
                    .find(|q| q.name == query)
                    .map(|q| q.params.clone())
                    .unwrap_or_default();
                let mut out = simple(
                    params
                        .into_iter()
                        .map(|(n, d)| (format!("{n}="), Some(format!("default {d}"))))
                        .collect(),
                );
                for s in &mut out {
                    s.append_whitespace = false;
                }
                out
            }
            ("format", 1) => simple(
                Format::value_variants()
                    .iter()
                    .filter_map(|f| f.to_possible_value().map(|p| (p.get_name().to_string(), None)))
                    .collect(),
            ),
            ("timer", 1) => simple(vec![("on".into(), None), ("off".into(), None)]),
            ("schema", 1) => simple(
                ["packets", "flows", "events", "stacks"]
                    .iter()
                    .map(|t| (t.to_string(), None))
                    .collect(),
            ),
            _ => Vec::new(),
        }
    }
}

impl Completer for ShellCompleter {
    fn complete(&mut self, line: &str, pos: usize) -> CompletionResult {
        CompletionResult::fresh(self.suggest(line, pos))
    }
}

// ---------------------------------------------------------------------------------------------
// Highlighter

/// Colours keywords, strings, numbers, known functions, column names and meta-commands.
pub struct ShellHighlighter {
    functions: HashSet<String>,
    columns: HashSet<String>,
}

impl ShellHighlighter {
    pub fn new(vocab: &Vocabulary) -> ShellHighlighter {
        ShellHighlighter {
            functions: vocab.functions.iter().cloned().collect(),
            columns: vocab.columns.iter().map(|(n, _)| n.clone()).collect(),
        }
    }
}

fn style_keyword() -> Style {
    Style::new().fg(Color::Magenta).bold()
}
fn style_function() -> Style {
    Style::new().fg(Color::LightBlue)
}
fn style_string() -> Style {
    Style::new().fg(Color::Green)
}
fn style_column() -> Style {
    Style::new().fg(Color::Cyan).bold()
}
fn style_number() -> Style {
    Style::new().fg(Color::Yellow)
}
fn style_comment() -> Style {
    Style::new().fg(Color::DarkGray).italic()
}
fn style_meta() -> Style {
    Style::new().fg(Color::Cyan).bold()
}

impl Highlighter for ShellHighlighter {
    fn highlight(&self, line: &str, _cursor: usize) -> StyledText {
        let mut out = StyledText::new();
        if is_meta(line) {
            let lead = line.len() - line.trim_start().len();
            let end = line[lead..].find(char::is_whitespace).map_or(line.len(), |i| lead + i);
            out.push((Style::new(), line[..lead].to_string()));
            out.push((style_meta(), line[lead..end].to_string()));
            out.push((Style::new().fg(Color::Yellow), line[end..].to_string()));
            return out;
        }
        for (tok, r) in lex(line) {
            let text = &line[r.clone()];
            let style = match tok {
                Tok::Space | Tok::Punct => Style::new(),
                Tok::Comment { .. } => style_comment(),
                Tok::Number => style_number(),
                Tok::Str { quote, closed } => {
                    let inner_end = if closed { text.len() - 1 } else { text.len() };
                    let inner = text.get(1..inner_end).unwrap_or("");
                    if quote == '"' && self.columns.contains(inner) {
                        style_column()
                    } else {
                        style_string()
                    }
                }
                Tok::Ident => {
                    if KEYWORDS.contains(&text) {
                        style_keyword()
                    } else if LITERALS.contains(&text) {
                        style_number()
                    } else if self.functions.contains(text) {
                        style_function()
                    } else {
                        Style::new()
                    }
                }
            };
            out.push((style, text.to_string()));
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Prompt

/// `netql [sample.pcap]> `, and `...> ` on continuation lines.
pub struct ShellPrompt {
    label: String,
}

impl ShellPrompt {
    pub fn new(captures: &[String]) -> ShellPrompt {
        let label = match captures {
            [] => "netql".to_string(),
            [one] => format!("netql [{one}]"),
            many => format!("netql [{} captures]", many.len()),
        };
        ShellPrompt { label }
    }
}

impl Prompt for ShellPrompt {
    fn render_prompt_left(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.label)
    }
    fn render_prompt_right(&self) -> Cow<'_, str> {
        Cow::Borrowed("")
    }
    fn render_prompt_indicator(&self, _mode: PromptEditMode) -> Cow<'_, str> {
        Cow::Borrowed("> ")
    }
    fn render_prompt_multiline_indicator(&self) -> Cow<'_, str> {
        Cow::Borrowed("...> ")
    }
    fn render_prompt_history_search_indicator(&self, search: PromptHistorySearch) -> Cow<'_, str> {
        let failing = match search.status {
            PromptHistorySearchStatus::Passing => "",
            PromptHistorySearchStatus::Failing => "failing ",
        };
        Cow::Owned(format!(" ({failing}reverse-search: {}) ", search.term))
    }
}

// ---------------------------------------------------------------------------------------------
// The session: loaded captures, settings, the last result

/// What one input did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Done,
    Failed,
    Error,
    Quit,
}

/// The end of a job run on a worker thread.
enum Job<T> {
    Done(T),
    Cancelled,
    Crashed,
}

struct Session {
    cfg: Config,
    opts: LoadOptions,
    engine: Arc<ScriptEngine>,
    data: Arc<Captures>,
    format: Format,
    timer: bool,
    max_rows: usize,
    /// The last result, for `.save`.
    last: Option<RunResult>,
    /// The last script that ran without error; `.method(...)` lines continue it.
    last_script: Option<String>,
    interactive: bool,
    color: bool,
    /// Set by the SIGINT handler while a job runs.
    sigint: Arc<AtomicBool>,
}

impl Session {
    fn names(&self) -> Vec<String> {
        self.data.loaded.iter().map(|l| l.capture.name.clone()).collect()
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            style.paint(text).to_string()
        } else {
            text.to_string()
        }
    }

    fn error(&self, msg: &str) {
        if self.interactive {
            eprintln!("{} {msg}", self.paint(Color::Red.bold(), "error:"));
        } else {
            eprintln!("netql: error: {msg}");
        }
    }

    fn note(&self, msg: &str) {
        eprintln!("{}", self.paint(Style::new().fg(Color::DarkGray), msg));
    }

    /// After Ctrl-C: the terminal has echoed `^C`, so start a new line first.
    fn cancelled(&self) {
        if self.interactive {
            eprintln!();
        }
        self.note("cancelled");
    }

    /// Run `f` on a worker thread; Ctrl-C stops waiting for it (and sets `cancel`, so a script
    /// stops at its next step). A Polars query in flight is left to finish in the background.
    fn job<T: Send + 'static>(
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

    fn load(&mut self, specs: &[String]) -> Step {
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

    fn timing(&self, d: Duration) {
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
    fn execute(&mut self, input: &str) -> Step {
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

    fn run_script(&mut self, source: &str, params: Params, query: Option<&str>) -> Step {
        let cancel = Arc::new(AtomicBool::new(false));
        let engine = self.engine.clone();
        let data: Arc<Captures> = self.data.clone();
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
                let e = explain(e, source);
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
            Meta::Help => println!("{}", help_text()),
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
            Meta::Analyze => {
                if self.data.loaded.is_empty() {
                    self.error("no capture loaded (.load FILE|latest|all)");
                    return Step::Error;
                }
                let (data, engine, dir) = (self.data.clone(), self.engine.clone(), self.cfg.queries_dir.clone());
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
            Meta::Format(None) => println!("format: {}", format_name(self.format)),
            Meta::Format(Some(f)) => {
                self.format = f;
                if self.interactive {
                    println!("format: {}", format_name(f));
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
                let text = serde_json::to_string_pretty(v).map_err(|e| e.to_string())?;
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

fn format_name(f: Format) -> String {
    f.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// `.help`: the meta-command table, then the keys.
pub fn help_text() -> String {
    let rows: Vec<Vec<String>> = META_COMMANDS
        .iter()
        .map(|s| vec![format!(".{}", s.name), s.args.to_string(), s.description.to_string()])
        .collect();
    let mut out = render::text_table(&["command", "arguments", "what it does"], &rows, &[]);
    out.push_str(
        "\nAnything else is a script, e.g. packets().filter(col(\"l4\") == \"udp\").count()\n\
         A line starting with .method(...) continues the last script: .head(5), .count()\n\
         Keys: Enter runs a complete script (an unfinished one continues on the next line),\n\
         Alt-Enter adds a line, Tab completes, Ctrl-R searches history, Ctrl-C cancels a running\n\
         query, Ctrl-D leaves.",
    );
    out
}

fn schema_text(which: Option<&str>) -> String {
    let mut out = String::new();
    if which == Some("events") {
        return format!("events(): {}\n", crate::table::events::EVENTS_DOC);
    }
    for (title, s) in [
        ("packets", PACKET_SCHEMA),
        ("flows", FLOW_SCHEMA),
        ("stacks", STACK_SCHEMA),
    ] {
        if which.is_some_and(|w| w != title) {
            continue;
        }
        let rows: Vec<Vec<String>> = s
            .iter()
            .map(|d| vec![d.name.to_string(), d.kind.to_string(), wrap(d.meaning, 64)])
            .collect();
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("{title}(): {} columns\n", s.len()));
        out.push_str(&render::text_table(&["column", "type", "meaning"], &rows, &[]));
    }
    out
}

/// Errors without a position that name a column get one: the caret goes under the column's name
/// in the script, and the list of every column is replaced by the closest name.
fn explain(e: ScriptError, source: &str) -> ScriptError {
    if e.line.is_some() {
        return e;
    }
    let Some(rest) = e.message.split("unable to find column \"").nth(1) else {
        return e;
    };
    let Some(name) = rest.split('"').next() else {
        return e;
    };
    let known: Vec<&str> = PACKET_SCHEMA.iter().chain(FLOW_SCHEMA).map(|d| d.name).collect();
    let hint = known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, _)| *d <= 2.max(name.len() / 3))
        .min()
        .map(|(_, k)| format!("; did you mean \"{k}\"?"))
        .unwrap_or_default();
    let message = format!("no column named \"{name}\"{hint} (.schema lists the columns)");
    let quoted = format!("\"{name}\"");
    let Some(at) = source.find(&quoted) else {
        return ScriptError { message, ..e };
    };
    let line = source[..at].matches('\n').count() + 1;
    let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
    let column = source[line_start..at].chars().count() + 2;
    let text = source.lines().nth(line - 1).unwrap_or("");
    let gutter = line.to_string();
    let snippet = format!(
        "{:w$} |\n{gutter} | {text}\n{:w$} | {}{}",
        "",
        "",
        " ".repeat(column - 1),
        "^".repeat(name.chars().count().max(1)),
        w = gutter.len()
    );
    ScriptError {
        message,
        line: Some(line),
        column: Some(column),
        snippet: Some(snippet),
    }
}

/// Break text into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut len = 0;
    for word in text.split_whitespace() {
        let n = word.chars().count();
        if len > 0 && len + 1 + n > width {
            out.push('\n');
            len = 0;
        } else if len > 0 {
            out.push(' ');
            len += 1;
        }
        out.push_str(word);
        len += n;
    }
    out
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

// ---------------------------------------------------------------------------------------------
// Entry points

/// Where history is kept: `$NETQL_HISTORY`, else `<data dir>/netql/history.txt`.
pub fn history_path() -> Option<PathBuf> {
    std::env::var_os("NETQL_HISTORY")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::data_dir().map(|d| d.join("netql").join("history.txt")))
}

/// `netql shell [CAPTURES...]`: interactive on a terminal, a script from stdin otherwise.
pub fn run(cfg: &Config, opts: &LoadOptions, engine: ScriptEngine, files: &[String]) -> std::io::Result<Exit> {
    let interactive = std::io::stdin().is_terminal();
    let color = interactive && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut s = Session {
        cfg: cfg.clone(),
        opts: opts.clone(),
        engine: Arc::new(engine),
        data: Arc::new(Captures::new(Vec::new())),
        format: Format::Table,
        timer: false,
        max_rows: cfg.max_rows,
        last: None,
        last_script: None,
        interactive,
        color,
        sigint: Arc::new(AtomicBool::new(false)),
    };
    let specs: Vec<String> = if files.is_empty() {
        vec!["latest".into()]
    } else {
        files.to_vec()
    };
    if interactive {
        interactive_loop(s, &specs)
    } else {
        let load_failed = s.load(&specs) == Step::Error;
        if s.data.loaded.is_empty() {
            return Ok(Exit::Error);
        }
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input)?;
        let status = pipeline(&mut s, &input);
        Ok(if load_failed { Exit::Error } else { status })
    }
}

/// Run stdin: meta-command lines in order, the lines between them as one script each. Stops at
/// the first error.
fn pipeline(s: &mut Session, input: &str) -> Exit {
    let mut status = Exit::Success;
    let mut script = String::new();
    let flush = |s: &mut Session, script: &mut String| -> Step {
        let text = std::mem::take(script);
        if text.trim().is_empty() {
            return Step::Done;
        }
        let step = s.run_script(text.trim_end(), Vec::new(), None);
        if step != Step::Error {
            s.last_script = Some(text);
        }
        step
    };
    for line in input.lines() {
        if is_meta(line) {
            let mut step = flush(s, &mut script);
            if step != Step::Error {
                step = s.execute(line);
            }
            match step {
                Step::Error => return Exit::Error,
                Step::Failed => status = Exit::Failure,
                Step::Quit => return status,
                Step::Done => {}
            }
        } else {
            script.push_str(line);
            script.push('\n');
        }
    }
    match flush(s, &mut script) {
        Step::Error => Exit::Error,
        Step::Failed => Exit::Failure,
        _ => status,
    }
}

fn interactive_loop(mut s: Session, specs: &[String]) -> std::io::Result<Exit> {
    // Ctrl-C while a query runs (the terminal is not in raw mode then) only raises a flag.
    let hook = signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&s.sigint))?;

    let _ = s.load(specs);
    let vocab = Arc::new(Vocabulary::new(&s.engine, &s.cfg));
    let mut editor = editor(&s, &vocab);

    let names = s.names();
    let what = if names.is_empty() {
        "no capture loaded (.load FILE)".to_string()
    } else {
        format!("{} packets in {}", s.data.packet_count(), names.join(", "))
    };
    println!(
        "netql shell: {what}\n{}",
        s.paint(
            Style::new().fg(Color::DarkGray),
            ".help lists the commands; Tab completes; Ctrl-C cancels a query; Ctrl-D leaves."
        )
    );

    loop {
        let prompt = ShellPrompt::new(&s.names());
        match editor.read_line(&prompt) {
            Ok(Signal::Success(buffer)) => {
                let _ = editor.sync_history();
                if s.execute(&buffer) == Step::Quit {
                    break;
                }
            }
            Ok(Signal::CtrlD) => break,
            Ok(_) => {}
            Err(e) => {
                signal_hook::low_level::unregister(hook);
                return Err(std::io::Error::other(e.to_string()));
            }
        }
    }
    let _ = editor.sync_history();
    signal_hook::low_level::unregister(hook);
    Ok(Exit::Success)
}

fn editor(s: &Session, vocab: &Arc<Vocabulary>) -> Reedline {
    let mut keys = default_emacs_keybindings();
    keys.add_binding(
        KeyModifiers::NONE,
        KeyCode::Tab,
        ReedlineEvent::UntilFound(vec![
            ReedlineEvent::Menu("completion_menu".to_string()),
            ReedlineEvent::MenuNext,
        ]),
    );
    keys.add_binding(
        KeyModifiers::ALT,
        KeyCode::Enter,
        ReedlineEvent::Edit(vec![EditCommand::InsertNewline]),
    );
    let menu = ColumnarMenu::default().with_name("completion_menu");
    let mut ed = Reedline::create()
        .with_edit_mode(Box::new(Emacs::new(keys)))
        .with_validator(Box::new(ShellValidator::new(s.engine.clone())))
        .with_completer(Box::new(ShellCompleter::new(vocab.clone())))
        .with_menu(ReedlineMenu::EngineCompleter(Box::new(menu)))
        .with_quick_completions(true)
        .with_partial_completions(true)
        .with_highlighter(Box::new(ShellHighlighter::new(vocab)))
        .with_hinter(Box::new(
            DefaultHinter::default().with_style(Style::new().italic().fg(Color::DarkGray)),
        ))
        .with_ansi_colors(s.color);
    match history_path().map(|p| FileBackedHistory::with_file(10_000, p.clone()).map_err(|e| (p, e))) {
        Some(Ok(h)) => ed = ed.with_history(Box::new(h)),
        Some(Err((p, e))) => s.note(&format!("history is off: {}: {e}", p.display())),
        None => s.note("history is off: no data folder"),
    }
    ed
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::engine::Limits;

    fn engine() -> Arc<ScriptEngine> {
        Arc::new(ScriptEngine::new(Limits::default(), None))
    }

    fn vocab() -> Arc<Vocabulary> {
        let cfg = Config::resolve(Default::default(), &Default::default());
        Arc::new(Vocabulary::new(&engine(), &cfg))
    }

    fn values(s: &[Suggestion]) -> Vec<String> {
        s.iter().map(|s| s.value.clone()).collect()
    }

    #[test]
    fn complete_scripts_run_and_unfinished_ones_continue() {
        let v = ShellValidator::new(engine());
        for done in [
            "packets().count()",
            "packets()",
            "let n = 1;\nn + 1",
            "packets()\n.filter(col(\"l4\") == \"udp\")\n.count()",
            ".help",
            ".run port_scan min_ports=3",
            ".nope",
            "",
            // Syntax errors inside the script run, so the error is shown.
            "packets().filter(col(\"l4\") == )",
            "let = 5",
            "packets().filter(col(\"l4\") == \"udp\"))",
            // Continuing the last script.
            ".filter(col(\"l4\") == \"udp\")",
            ".count()",
        ] {
            assert!(v.is_complete(done), "should be complete: {done:?}");
        }
        for more in [
            "packets().filter(",
            "packets().filter(\ncol(\"nope\") == 1",
            "packets().",
            "let x = ",
            "if true {",
            "packets().filter(col(\"l4\") ==",
            "[1, 2,",
            "`multi\nline",
            "/* comment",
            ".filter(col(\"l4\")",
        ] {
            assert!(!v.is_complete(more), "should continue: {more:?}");
        }
    }

    #[test]
    fn columns_complete_inside_col_strings() {
        let mut c = ShellCompleter::new(vocab());
        let line = "packets().filter(col(\"src_";
        let s = c.suggest(line, line.len());
        let vals = values(&s);
        assert!(vals.contains(&"src_ip".to_string()), "{vals:?}");
        assert!(vals.contains(&"src_port".to_string()), "{vals:?}");
        assert!(vals.iter().all(|v| v.starts_with("src_")), "{vals:?}");
        // The span replaces only what was typed inside the quotes.
        assert_eq!(s[0].span, Span::new(line.len() - 4, line.len()));
        assert!(s[0].description.as_deref().is_some_and(|d| !d.is_empty()));
        // Through the reedline trait too.
        let r = c.complete(line, line.len());
        assert!(!r.suggestions().is_empty());
    }

    #[test]
    fn methods_complete_after_a_dot_shortest_first() {
        let c = ShellCompleter::new(vocab());
        let line = "packets().fil";
        let vals = values(&c.suggest(line, line.len()));
        assert_eq!(vals.first().map(String::as_str), Some("filter"), "{vals:?}");
        assert!(vals.contains(&"fill_null".to_string()), "{vals:?}");
        // Every method after a bare dot.
        let vals = values(&c.suggest("packets().", 10));
        assert!(vals.contains(&"group_by".to_string()) && vals.len() > 20, "{vals:?}");
        // Functions, keywords and columns for a bare word.
        let vals = values(&c.suggest("pack", 4));
        assert!(vals.contains(&"packets".to_string()), "{vals:?}");
        let vals = values(&c.suggest("let x = dst_p", 13));
        assert!(vals.contains(&"col(\"dst_port\")".to_string()), "{vals:?}");
        // Nothing for an empty word.
        assert!(c.suggest("let x = ", 8).is_empty());
    }

    #[test]
    fn meta_commands_and_their_arguments_complete() {
        let c = ShellCompleter::new(vocab());
        assert_eq!(values(&c.suggest(".", 1)).len(), META_COMMANDS.len());
        assert_eq!(values(&c.suggest(".sc", 3)), [".schema"]);
        assert_eq!(values(&c.suggest(".ti", 3)), [".timer"]);
        assert_eq!(values(&c.suggest(".format j", 9)), ["json"]);
        assert_eq!(values(&c.suggest(".timer o", 8)), ["on", "off"]);
        let vals = values(&c.suggest(".run port", 9));
        assert_eq!(vals, ["port_scan"]);
        let vals = values(&c.suggest(".run port_scan ", 15));
        assert!(vals.iter().any(|v| v.ends_with('=')), "{vals:?}");
        let vals = values(&c.suggest(".load ", 6));
        assert!(vals.contains(&"latest".to_string()) && vals.contains(&"all".to_string()));
        // A leading dot that matches no meta-command continues the last script: methods.
        let vals = values(&c.suggest(".fil", 4));
        assert_eq!(vals.first().map(String::as_str), Some("filter"), "{vals:?}");
    }

    #[test]
    fn meta_commands_parse() {
        assert_eq!(parse_meta(".help"), Ok(Meta::Help));
        assert_eq!(parse_meta("  .quit "), Ok(Meta::Quit));
        assert_eq!(parse_meta(".exit"), Ok(Meta::Quit));
        assert_eq!(
            parse_meta(".run port_scan min_ports=5 window=10s"),
            Ok(Meta::Run {
                name: "port_scan".into(),
                params: vec![("min_ports".into(), "5".into()), ("window".into(), "10s".into())],
            })
        );
        assert_eq!(parse_meta(".format json"), Ok(Meta::Format(Some(Format::Json))));
        assert_eq!(parse_meta(".format MARKDOWN"), Ok(Meta::Format(Some(Format::Markdown))));
        assert_eq!(parse_meta(".format"), Ok(Meta::Format(None)));
        assert_eq!(parse_meta(".timer on"), Ok(Meta::Timer(Some(true))));
        assert_eq!(parse_meta(".timer off"), Ok(Meta::Timer(Some(false))));
        assert_eq!(
            parse_meta(".load a.pcap latest"),
            Ok(Meta::Load(vec!["a.pcap".into(), "latest".into()]))
        );
        assert_eq!(parse_meta(".schema flows"), Ok(Meta::Schema(Some("flows".into()))));
        assert_eq!(parse_meta(".save out.parquet"), Ok(Meta::Save("out.parquet".into())));
        // Bad ones say what is wrong.
        assert!(parse_meta(".format xml").unwrap_err().contains("unknown format"));
        assert!(parse_meta(".timer maybe").unwrap_err().contains("usage: .timer on|off"));
        assert!(parse_meta(".run").unwrap_err().contains("usage: .run NAME"));
        assert!(
            parse_meta(".run port_scan min_ports")
                .unwrap_err()
                .contains("name=value")
        );
        assert!(parse_meta(".load").unwrap_err().contains("usage"));
        assert!(
            parse_meta(".save out.txt")
                .unwrap_err()
                .contains(".csv, .json or .parquet")
        );
        assert!(parse_meta(".help me").unwrap_err().contains("no arguments"));
        assert!(
            parse_meta(".frobnicate")
                .unwrap_err()
                .contains("unknown command .frobnicate")
        );
        assert!(parse_meta(".schema packet").is_err());
    }

    #[test]
    fn meta_lines_are_told_from_method_calls() {
        assert!(is_meta(".help"));
        assert!(is_meta(".run port_scan"));
        assert!(is_meta("  .quit"));
        assert!(!is_meta(".filter(col(\"a\") == 1)"));
        assert!(!is_meta(".count()"));
        assert!(!is_meta("packets()"));
        assert!(!is_meta("."));
        // No meta-command shadows a method: `.name(` is always a method call.
        let names = engine().function_names();
        for s in META_COMMANDS {
            assert!(!names.contains(&s.name.to_string()), ".{} is also a method", s.name);
        }
    }

    #[test]
    fn help_lists_every_meta_command() {
        let h = help_text();
        for s in META_COMMANDS {
            assert!(h.contains(&format!(".{}", s.name)), "{} missing", s.name);
            assert!(h.contains(s.description), "{} description missing", s.name);
        }
    }

    #[test]
    fn highlighter_colours_what_it_knows() {
        let hl = ShellHighlighter::new(&vocab());
        let line = "let n = packets().filter(col(\"src_ip\") == \"x\").head(5) // c";
        let st = hl.highlight(line, 0);
        assert_eq!(st.raw_string(), line, "highlighting keeps the text");
        let style_of = |t: &str| st.buffer.iter().find(|(_, s)| s == t).map(|(st, _)| *st);
        assert_eq!(style_of("let"), Some(style_keyword()));
        assert_eq!(style_of("filter"), Some(style_function()));
        assert_eq!(style_of("\"src_ip\""), Some(style_column()));
        assert_eq!(style_of("\"x\""), Some(style_string()));
        assert_eq!(style_of("5"), Some(style_number()));
        assert_eq!(style_of("// c"), Some(style_comment()));
        let st = hl.highlight(".run port_scan", 0);
        assert_eq!(st.buffer[1], (style_meta(), ".run".to_string()));
    }

    #[test]
    fn long_cells_wrap_at_spaces() {
        assert_eq!(wrap("one two three four", 9), "one two\nthree\nfour");
        assert_eq!(wrap("short", 60), "short");
        assert!(schema_text(None).lines().all(|l| l.chars().count() < 120));
    }

    #[test]
    fn prompts() {
        let p = ShellPrompt::new(&["sample.pcap".into()]);
        assert_eq!(
            format!(
                "{}{}",
                p.render_prompt_left(),
                p.render_prompt_indicator(PromptEditMode::Emacs)
            ),
            "netql [sample.pcap]> "
        );
        assert_eq!(p.render_prompt_multiline_indicator(), "...> ");
        assert_eq!(
            ShellPrompt::new(&["a".into(), "b".into()]).render_prompt_left(),
            "netql [2 captures]"
        );
    }

    #[test]
    fn missing_columns_get_a_caret_and_a_guess() {
        let src = "packets().filter(\ncol(\"src_pi\") == 1)";
        let e = ScriptError {
            message: "not found: unable to find column \"src_pi\"; valid columns: [\"file\"]".into(),
            line: None,
            column: None,
            snippet: None,
        };
        let e = explain(e, src);
        assert_eq!((e.line, e.column), (Some(2), Some(6)));
        let shown = e.to_string();
        assert!(shown.contains("did you mean \"src_ip\""), "{shown}");
        assert!(shown.contains("2 | col(\"src_pi\") == 1)"), "{shown}");
        assert!(shown.contains("  |      ^^^^^^"), "{shown}");
        assert!(!shown.contains("valid columns"), "{shown}");
    }
}
