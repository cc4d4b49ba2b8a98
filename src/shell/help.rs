//! help: the texts the shell shows on request: `.help` and `.schema`.

use crate::render::{self};
use crate::shell::meta::META_COMMANDS;
use crate::table::schema::TABLES;

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
         query, Ctrl-D leaves. `.help filter` shows a function's forms; `netql functions` lists them all.",
    );
    out
}

pub(crate) fn schema_text(which: Option<&str>) -> String {
    let mut out = String::new();
    if which == Some("events") {
        return format!("events(): {}\n", crate::table::events::EVENTS_DOC);
    }
    for t in TABLES {
        let (title, s) = (t.name, t.columns);
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

/// Break text into lines of at most `width` characters, at spaces.
pub(crate) fn wrap(text: &str, width: usize) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_meta_command() {
        let h = help_text();
        for s in META_COMMANDS {
            assert!(h.contains(&format!(".{}", s.name)), "{} missing", s.name);
            assert!(h.contains(s.description), "{} description missing", s.name);
        }
    }

    #[test]
    fn long_cells_wrap_at_spaces() {
        assert_eq!(wrap("one two three four", 9), "one two\nthree\nfour");
        assert_eq!(wrap("short", 60), "short");
        assert!(schema_text(None).lines().all(|l| l.chars().count() < 120));
    }
}
