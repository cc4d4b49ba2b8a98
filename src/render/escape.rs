//! escape: text from packets (DNS names, HTTP hosts and paths, SNIs, credentials, error texts)
//! as it may reach a terminal: control and bidi characters shown escaped, so a capture cannot
//! move the cursor, change colours, ring the bell or reverse text, and long cells cut.

/// Longest cell shown in a table (packet-derived text can be huge).
pub const CELL_CHARS: usize = 200;

/// Packet-derived text in a text table: control and bidi characters escaped, long cells cut.
pub fn clean_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(CELL_CHARS + 8));
    for (i, c) in s.chars().enumerate() {
        if i >= CELL_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control()
                || ('\u{200b}'..='\u{200f}').contains(&c)
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c) =>
            {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_text_cannot_drive_the_terminal() {
        let evil = "evil\u{1b}[31mred\u{202e}txt.exe";
        let shown = clean_cell(evil);
        assert!(!shown.contains('\u{1b}') && !shown.contains('\u{202e}'), "{shown}");
        assert!(shown.starts_with("evil\\u{1b}"), "{shown}");
    }
}
