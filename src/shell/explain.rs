//! explain: an error about an unknown column gets the caret under the column's name in the script
//! and the closest known name.

use crate::query::engine::ScriptError;
use crate::table::schema::TABLES;

/// Errors without a position that name a column get one: the caret goes under the column's name
/// in the script, and the list of every column is replaced by the closest name.
pub(crate) fn explain(e: ScriptError, source: &str) -> ScriptError {
    if e.line.is_some() {
        return e;
    }
    let Some(rest) = e.message.split("unable to find column \"").nth(1) else {
        return e;
    };
    let Some(name) = rest.split('"').next() else {
        return e;
    };
    let known: Vec<&str> = TABLES.iter().flat_map(|t| t.columns).map(|d| d.name).collect();
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
