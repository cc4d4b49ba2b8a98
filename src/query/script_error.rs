//! script_error: what a user (or a model) is told when a script fails: the message, the line
//! and column, and the source line with a caret. An error about an unknown column gets its caret
//! under the column's name in the script (the first mention at or after the call that failed)
//! and the closest known name, instead of Polars' list of every column.

use rhai::{EvalAltResult, Position};

use crate::table::schema::TABLES;

/// What the message ends with: where the columns are listed.
pub const COLUMNS_HINT: &str = "`netql schema` lists the columns";

/// A script problem, with where it happened.
#[derive(Debug, Clone)]
pub struct ScriptError {
    pub message: String,
    /// 1-based; None when the error has no position (e.g. raised inside Polars).
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The offending source line and a caret under the column.
    pub snippet: Option<String>,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{} (line {l}, column {c})", self.message)?,
            _ => write!(f, "{}", self.message)?,
        }
        if let Some(s) = &self.snippet {
            write!(f, "\n{s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScriptError {}

impl ScriptError {
    pub(crate) fn new(message: String, pos: Position, source: &str) -> ScriptError {
        let (line, column) = (pos.line(), pos.position());
        let snippet = line.and_then(|l| {
            let text = source.lines().nth(l.checked_sub(1)?)?;
            let c = column.unwrap_or(1).max(1);
            let gutter = format!("{l}");
            Some(format!(
                "{:w$} |\n{gutter} | {text}\n{:w$} | {}^",
                "",
                "",
                " ".repeat(c - 1),
                w = gutter.len()
            ))
        });
        ScriptError {
            message,
            line,
            column,
            snippet,
        }
    }

    pub(crate) fn plain(message: impl Into<String>) -> ScriptError {
        ScriptError {
            message: message.into(),
            line: None,
            column: None,
            snippet: None,
        }
    }

    pub(crate) fn from_eval(e: &EvalAltResult, source: &str) -> ScriptError {
        let pos = e.position();
        let message = match e {
            EvalAltResult::ErrorTooManyOperations(_) => {
                "script stopped: it ran more operations than allowed (a runaway loop?)".to_string()
            }
            EvalAltResult::ErrorTerminated(v, _) => format!("script stopped: {v}"),
            EvalAltResult::ErrorStackOverflow(_) => {
                "script stopped: calls nested too deeply (runaway recursion?)".to_string()
            }
            EvalAltResult::ErrorDataTooLarge(what, _) => format!("script stopped: {what} grew past its limit"),
            EvalAltResult::ErrorRuntime(v, _) => v.to_string(),
            other => {
                // Rhai appends " (line x, position y)" to some messages; we print our own.
                let s = other.to_string();
                match s.rfind(" (line ") {
                    Some(i) if s.ends_with(')') => s[..i].to_string(),
                    _ => s,
                }
            }
        };
        ScriptError::new(message, pos, source).explain_missing_column(source)
    }
}

impl ScriptError {
    /// The error with an unknown column explained (see the module); other errors as they are.
    pub(crate) fn explain_missing_column(self, source: &str) -> ScriptError {
        let e = self;
        let Some((before, rest)) = e.message.split_once("unable to find column \"") else {
            return e;
        };
        let Some(name) = rest.split('"').next().filter(|n| !n.is_empty()) else {
            return e;
        };
        // Keep what names the operation ("filter: "), drop Polars' "not found: ".
        let op = before.trim_end_matches("not found: ").trim_end();
        // A name of another table's column says which tables have it; else the closest name.
        let has: Vec<String> = TABLES
            .iter()
            .filter(|t| t.columns.iter().any(|c| c.name == name))
            .map(|t| format!("{}()", t.name))
            .collect();
        let known: Vec<&str> = TABLES.iter().flat_map(|t| t.columns).map(|d| d.name).collect();
        let hint = if !has.is_empty() {
            format!("; \"{name}\" is a column of {}", has.join(", "))
        } else {
            known
                .iter()
                .map(|k| (edit_distance(name, k), *k))
                .filter(|(d, _)| *d <= 2.max(name.len() / 3))
                .min()
                .map(|(_, k)| format!("; did you mean \"{k}\"?"))
                .unwrap_or_default()
        };
        let lead = if op.is_empty() { String::new() } else { format!("{op} ") };
        let message = format!("{lead}no column named \"{name}\"{hint} ({COLUMNS_HINT})");
        let quoted = format!("\"{name}\"");
        let failed_at = offset(source, e.line, e.column).unwrap_or(0);
        let mentions: Vec<usize> = source.match_indices(&quoted).map(|(i, _)| i).collect();
        let Some(at) = mentions.iter().find(|&&i| i >= failed_at).or(mentions.first()).copied() else {
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
}

/// Byte offset of a 1-based line and column (characters) in `source`.
fn offset(source: &str, line: Option<usize>, column: Option<usize>) -> Option<usize> {
    let line = line?.checked_sub(1)?;
    let start: usize = source.split_inclusive('\n').take(line).map(str::len).sum();
    let text = source.get(start..)?.lines().next().unwrap_or("");
    let col = column.unwrap_or(1).saturating_sub(1);
    Some(start + text.char_indices().nth(col).map_or(text.len(), |(i, _)| i))
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn err(message: &str, line: Option<usize>, column: Option<usize>) -> ScriptError {
        ScriptError {
            message: message.into(),
            line,
            column,
            snippet: None,
        }
    }

    #[test]
    fn missing_columns_get_a_caret_and_a_guess() {
        let src = "packets().filter(\ncol(\"src_pi\") == 1)";
        let e = err(
            "not found: unable to find column \"src_pi\"; valid columns: [\"file\"]",
            None,
            None,
        )
        .explain_missing_column(src);
        assert_eq!((e.line, e.column), (Some(2), Some(6)));
        let shown = e.to_string();
        assert!(shown.contains("did you mean \"src_ip\""), "{shown}");
        assert!(shown.contains("2 | col(\"src_pi\") == 1)"), "{shown}");
        assert!(shown.contains("  |      ^^^^^^"), "{shown}");
        assert!(!shown.contains("valid columns"), "{shown}");
    }

    #[test]
    fn another_tables_column_is_named_as_such_not_guessed() {
        let src = "flows().select([col(\"ts\")])";
        let e = err("unable to find column \"ts\"; valid columns: [\"file\"]", None, None).explain_missing_column(src);
        let shown = e.to_string();
        assert!(
            shown.contains("\"ts\" is a column of packets(), dns(), http(), tls()"),
            "{shown}"
        );
        assert!(!shown.contains("did you mean"), "{shown}");
    }

    #[test]
    fn the_mention_after_the_failing_call_is_the_one_shown() {
        // The first "nope" is a text value; the failing select (line 2) names the column.
        let src = "let x = \"nope\";\nflows().select([\"nope\"])";
        let e = err("select: not found: unable to find column \"nope\"", Some(2), Some(9));
        let e = e.explain_missing_column(src);
        assert_eq!((e.line, e.column), (Some(2), Some(18)));
        assert!(
            e.message.starts_with("select: no column named \"nope\""),
            "{}",
            e.message
        );
    }
}
