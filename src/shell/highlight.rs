//! highlight: colours for scripts as they are typed.

use std::collections::HashSet;

use nu_ansi_term::{Color, Style};
use reedline::{Highlighter, StyledText};

use crate::shell::complete::{KEYWORDS, LITERALS};
use crate::shell::lexer::{Tok, lex};
use crate::shell::meta::is_meta;
use crate::shell::vocabulary::Vocabulary;

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

pub(crate) fn style_keyword() -> Style {
    Style::new().fg(Color::Magenta).bold()
}
pub(crate) fn style_function() -> Style {
    Style::new().fg(Color::LightBlue)
}
pub(crate) fn style_string() -> Style {
    Style::new().fg(Color::Green)
}
pub(crate) fn style_column() -> Style {
    Style::new().fg(Color::Cyan).bold()
}
pub(crate) fn style_number() -> Style {
    Style::new().fg(Color::Yellow)
}
pub(crate) fn style_comment() -> Style {
    Style::new().fg(Color::DarkGray).italic()
}
pub(crate) fn style_meta() -> Style {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::vocabulary::testing::*;

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
}
