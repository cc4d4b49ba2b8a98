//! complete: Tab completion of functions, methods, column names (inside `col("`), query and
//! capture names and meta-commands.

use std::sync::Arc;

use reedline::{Completer, CompletionResult, Span, Suggestion};

use crate::render::Format;
use crate::shell::lexer::{Tok, lex};
use crate::shell::meta::{META_COMMANDS, is_meta};
use crate::shell::vocabulary::Vocabulary;
use crate::table::catalog;
use crate::units;

/// Rhai keywords the highlighter colours and the completer offers.
pub(crate) const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "do", "until", "return", "break", "continue",
    "switch", "throw", "try", "catch", "import", "export", "as", "private", "this", "global",
];

pub(crate) const LITERALS: &[&str] = &["true", "false"];

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
            ("help", 1) => {
                let mut names: Vec<(String, Option<String>)> = Vec::new();
                for d in crate::query::bindings::reference() {
                    if d.name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                        && !names.iter().any(|(n, _)| n == d.name)
                    {
                        names.push((d.name.to_string(), Some(d.description.to_string())));
                    }
                }
                simple(names)
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
            ("format", 1) => simple(Format::ALL.iter().map(|f| (f.name().to_string(), None)).collect()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::vocabulary::testing::*;

    fn values(s: &[Suggestion]) -> Vec<String> {
        s.iter().map(|s| s.value.clone()).collect()
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
}
