//! table: rows and columns for people (a terminal table, Markdown) and for machines (JSON,
//! NDJSON, CSV). Every table a front-end prints goes through here.

use polars::prelude::*;
use serde_json::Value;
use tabled::builder::Builder;
use tabled::settings::{Alignment, Style, object::Columns};

use crate::render::format::Format;
use crate::safe_text::{self, cell as clean_cell};
use crate::table::values::{cell_text, rows_json};

/// A header row and rows in the rounded style every terminal table uses.
fn rounded_table(headers: &[&str], rows: &[Vec<String>]) -> tabled::Table {
    let mut b = Builder::default();
    b.push_record(headers.iter().map(|h| h.to_string()));
    for r in rows {
        b.push_record(r.iter().cloned());
    }
    let mut t = b.build();
    t.with(Style::rounded());
    t
}

/// A table of strings with a header row, drawn for a terminal.
pub fn text_table(headers: &[&str], rows: &[Vec<String>], right_align: &[usize]) -> String {
    let mut t = rounded_table(headers, rows);
    for &i in right_align {
        t.modify(Columns::one(i), Alignment::right());
    }
    t.to_string()
}

/// Like [`text_table`], with column `wrap_col` wrapped at `width` characters (long descriptions).
pub fn text_table_wrapped(headers: &[&str], rows: &[Vec<String>], wrap_col: usize, width: usize) -> String {
    let mut t = rounded_table(headers, rows);
    t.modify(
        Columns::one(wrap_col),
        tabled::settings::Width::wrap(width).keep_words(true),
    );
    t.to_string()
}

/// The same rows as a GitHub-flavoured Markdown table.
pub fn markdown_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut b = Builder::default();
    b.push_record(headers.iter().map(|h| h.to_string()));
    for r in rows {
        b.push_record(r.iter().map(|c| c.replace('|', "\\|")));
    }
    let mut t = b.build();
    t.with(Style::markdown());
    t.to_string()
}

/// A table as text in the chosen format. Tables show at most `max_rows` rows and then say how
/// many more there are.
pub fn dataframe(df: &DataFrame, format: Format, max_rows: usize) -> String {
    match format {
        Format::Json => {
            let rows = rows_json(df);
            safe_text::json(serde_json::to_string_pretty(&Value::Array(rows)).unwrap_or_default())
        }
        Format::Ndjson => safe_text::json(
            rows_json(df)
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        Format::Csv => dataframe_csv(df),
        Format::Table | Format::Markdown => {
            let headers: Vec<&str> = df.get_column_names().iter().map(|s| s.as_str()).collect();
            let shown = df.height().min(max_rows);
            // Packet-derived text never reaches a terminal raw (no escape sequences, no bidi tricks).
            let rows: Vec<Vec<String>> = (0..shown)
                .map(|i| {
                    df.columns()
                        .iter()
                        .map(|c| clean_cell(&cell_text(&c.get(i).unwrap_or(AnyValue::Null))))
                        .collect()
                })
                .collect();
            let numeric: Vec<usize> = df
                .columns()
                .iter()
                .enumerate()
                .filter(|(_, c)| c.dtype().is_primitive_numeric())
                .map(|(i, _)| i)
                .collect();
            let mut out = if format == Format::Table {
                text_table(&headers, &rows, &numeric)
            } else {
                markdown_table(&headers, &rows)
            };
            let more = df.height() - shown;
            if more > 0 {
                out.push_str(&format!("\n… {more} more rows ({} in all)", df.height()));
            }
            out
        }
    }
}

fn dataframe_csv(df: &DataFrame) -> String {
    let header = df.get_column_names().iter().map(|s| s.to_string()).collect();
    let rows = (0..df.height()).map(|i| {
        df.columns()
            .iter()
            .map(|c| cell_text(&c.get(i).unwrap_or(AnyValue::Null)))
            .collect()
    });
    csv_lines(std::iter::once(header).chain(rows))
}

/// Records as CSV lines (the csv crate's RFC 4180 quoting: a field is quoted when it holds a
/// comma or a quote), with no line break after the last. Control and bidi characters in a field
/// are escaped ([`safe_text::line`]): a spreadsheet or a terminal showing the file gets no line
/// breaks or escape sequences from packet text.
pub fn csv_lines(records: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    for r in records {
        // Writing into memory cannot fail.
        let _ = w.write_record(r.iter().map(|f| safe_text::line(f).into_owned()));
    }
    let bytes = w.into_inner().unwrap_or_default();
    // Every field was a String, so the bytes are UTF-8.
    let mut out = String::from_utf8(bytes).unwrap_or_default();
    if out.ends_with('\n') {
        out.pop();
    }
    out
}

/// One record as a CSV line.
pub fn csv_row(cells: impl IntoIterator<Item = String>) -> String {
    csv_lines([cells.into_iter().collect()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(
            csv_row(["a,b".to_string(), "x\"y".into(), "z".into()]),
            "\"a,b\",\"x\"\"y\",z"
        );
        // Control characters are escaped, so a record stays one line.
        assert_eq!(csv_row(["a\nb".to_string(), "\u{1b}[2J".into()]), "a\\nb,\\u{1b}[2J");
    }
}
