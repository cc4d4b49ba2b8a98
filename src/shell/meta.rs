//! meta: the dot meta-commands (`.load`, `.schema`, `.run`, ...): one table of them, which `.help`
//! prints and the completer offers, and parsing a meta-command line.

use std::path::{Path, PathBuf};

use crate::query::canned;
use crate::render::Format;

/// One meta-command as `.help` shows it and the completer offers it.
#[derive(Debug, Clone, Copy)]
pub struct MetaSpec {
    pub name: &'static str,
    pub args: &'static str,
    pub description: &'static str,
}

pub(crate) const fn m(name: &'static str, args: &'static str, description: &'static str) -> MetaSpec {
    MetaSpec {
        name,
        args,
        description,
    }
}

/// Every meta-command, in the order `.help` lists them.
pub const META_COMMANDS: &[MetaSpec] = &[
    m(
        "help",
        "[FUNCTION]",
        "this table; with a function name, its forms and what each gives",
    ),
    m(
        "captures",
        "",
        "the captures folder (or the lake's captures), newest first (* marks the loaded ones)",
    ),
    m(
        "load",
        "FILE|latest|all ...",
        "load captures, replacing the current ones",
    ),
    m(
        "schema",
        "[packets|flows|dns|http|tls|events|stacks]",
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
    // Not `.diff`: `.diff()` is a method (a line starting with it continues the last script).
    m(
        "changes",
        "BASELINE ...",
        "what changed from the baseline capture(s) to the loaded ones (as netql diff)",
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
    /// The command table, or (with a name) a function's forms.
    Help(Option<String>),
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
    /// Compare the loaded captures with these (the baseline).
    Diff(Vec<String>),
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
        "help" | "?" | "h" => match args.as_slice() {
            [] => Ok(Meta::Help(None)),
            [f] => Ok(Meta::Help(Some(f.to_string()))),
            _ => Err(usage("help")),
        },
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
        "changes" => {
            if args.is_empty() {
                Err(usage("changes"))
            } else {
                Ok(Meta::Diff(args.iter().map(|s| s.to_string()).collect()))
            }
        }
        "schema" => match args.as_slice() {
            [] => Ok(Meta::Schema(None)),
            [t @ ("packets" | "flows" | "dns" | "http" | "tls" | "stacks" | "events")] => {
                Ok(Meta::Schema(Some(t.to_string())))
            }
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
            [f] => Format::from_name(f)
                .map(|f| Meta::Format(Some(f)))
                .ok_or_else(|| format!("unknown format '{f}': {}", usage("format"))),
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
pub(crate) enum SaveKind {
    Csv,
    Json,
    Parquet,
}

pub(crate) fn save_kind(path: &Path) -> Option<SaveKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "csv" => Some(SaveKind::Csv),
        "json" => Some(SaveKind::Json),
        "parquet" | "pq" => Some(SaveKind::Parquet),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_commands_parse() {
        assert_eq!(parse_meta(".help"), Ok(Meta::Help(None)));
        assert_eq!(parse_meta(".help filter"), Ok(Meta::Help(Some("filter".into()))));
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
        // `.help NAME` shows a function (issue 19); more than one name is still a usage error.
        assert!(
            parse_meta(".help me too")
                .unwrap_err()
                .contains("usage: .help [FUNCTION]")
        );
        assert!(parse_meta(".captures all").unwrap_err().contains("no arguments"));
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
        let names = crate::shell::vocabulary::testing::engine().function_names();
        for s in META_COMMANDS {
            assert!(!names.contains(&s.name.to_string()), ".{} is also a method", s.name);
        }
    }
}
