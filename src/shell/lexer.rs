//! lexer: a small tokenizer for Rhai text as the shell needs it: to colour a line and to tell
//! whether a script is finished (open brackets, a trailing `.` or operator).

use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Space,
    Comment { closed: bool },
    Str { quote: char, closed: bool },
    Number,
    Ident,
    Punct,
}

/// Split a script into tokens (byte ranges). Good enough for colours, brackets and completion;
/// the Rhai compiler has the last word on syntax.
pub(crate) fn lex(src: &str) -> Vec<(Tok, Range<usize>)> {
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
pub(crate) fn needs_more(src: &str) -> bool {
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
