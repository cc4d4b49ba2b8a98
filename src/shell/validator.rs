//! validator: Enter runs a finished script and continues an unfinished one on a `...>` line.

use std::sync::Arc;

use reedline::{ValidationResult, Validator};

use crate::query::engine::{ScriptEngine, ScriptError};
use crate::shell::lexer::needs_more;
use crate::shell::meta::is_meta;

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
pub(crate) fn error_at_end(e: &ScriptError, src: &str) -> bool {
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
