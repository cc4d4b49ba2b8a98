//! safe_text: text that came from packets, captures or scripts (DNS names, HTTP hosts and paths,
//! SNIs, file names, finding titles, error texts, printed lines), made safe for where it goes —
//! a terminal, a CSV or XML file, JSON, a model's context. One place decides what is unsafe: C0
//! and C1 control characters, DEL, and the bidi and invisible format characters (U+061C,
//! U+200B–U+200F, U+202A–U+202E, U+2060–U+2064, U+2066–U+2069, U+FEFF) that can move a cursor,
//! change colours, ring the bell, hide text or reverse it. Those are shown as `\u{1b}` (and `\n`,
//! `\r`, `\t`), never passed on raw; JSON keeps every value exact by writing them as `\u` escapes.

use std::borrow::Cow;

/// Longest table cell shown (packet-derived text can be huge).
pub const CELL_CHARS: usize = 200;

/// A character that must not reach a terminal or file raw.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || c == '\u{061c}'
        || ('\u{200b}'..='\u{200f}').contains(&c)
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2060}'..='\u{2064}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
        || c == '\u{feff}'
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

fn escaped(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) && !keep(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One line of text: every unsafe character escaped, line breaks and tabs included (a title, a
/// CSV field, a table cell, a log line).
pub fn line(s: &str) -> Cow<'_, str> {
    escaped(s, |_| false)
}

/// Text that may run over several lines: line breaks and tabs kept, everything else escaped (a
/// script's printed value, an error with its source snippet).
pub fn text(s: &str) -> Cow<'_, str> {
    escaped(s, |c| c == '\n' || c == '\t')
}

/// A table cell: [`line`], cut at [`CELL_CHARS`] characters.
pub fn cell(s: &str) -> String {
    let cut = s.char_indices().nth(CELL_CHARS).map(|(i, _)| i);
    let mut out = line(&s[..cut.unwrap_or(s.len())]).into_owned();
    if cut.is_some() {
        out.push('…');
    }
    out
}

/// `text` cut to at most `max` bytes at a character boundary, with `note` added when cut.
pub fn cut_bytes(mut text: String, max: usize, note: &str) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(note);
    text
}

/// A JSON document with every unsafe character that JSON allows raw (C1 controls, DEL, bidi and
/// invisible characters: serde_json escapes only C0) written as a `\u` escape. Those characters
/// only occur inside strings, so the document reads back to exactly the same values.
pub fn json(doc: String) -> String {
    if !doc.chars().any(is_unsafe) {
        return doc;
    }
    let mut out = String::with_capacity(doc.len() + 16);
    for c in doc.chars() {
        // serde_json already wrote C0 characters as escapes; a raw one here is JSON's own
        // whitespace between values.
        if is_unsafe(c) && !matches!(c, '\n' | '\r' | '\t') {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVIL: &str = "evil\u{1b}]0;owned\u{7}\u{1b}[31mred\u{9b}2J\u{0}\u{202e}txt.exe\u{2066}\u{200f}\u{feff}";

    #[test]
    fn nothing_unsafe_survives_a_line_a_text_or_a_cell() {
        for shown in [line(EVIL).into_owned(), text(EVIL).into_owned(), cell(EVIL)] {
            assert!(!shown.chars().any(is_unsafe), "{shown:?}");
            assert!(shown.starts_with("evil\\u{1b}]0;owned\\u{7}"), "{shown}");
        }
        assert_eq!(line("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(text("a\nb\tc\r"), "a\nb\tc\\r");
        assert!(matches!(line("plain ÄÖ 名前"), Cow::Borrowed(_)));
        assert_eq!(cell(&"z".repeat(500)).chars().count(), CELL_CHARS + 1);
    }

    #[test]
    fn json_escapes_are_lossless() {
        let doc = serde_json::to_string(&serde_json::json!({ "t": EVIL })).unwrap();
        let safe = json(doc);
        assert!(!safe.chars().any(is_unsafe), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["t"], EVIL);
        let pretty = json(serde_json::to_string_pretty(&serde_json::json!({ "a": [1, "\u{202e}"] })).unwrap());
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&pretty).unwrap()["a"][1],
            "\u{202e}"
        );
    }
}
