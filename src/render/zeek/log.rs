//! log: one Zeek log file, written as Zeek's ASCII writer does (tab-separated with `#separator`,
//! `#fields` and `#types` headers, `-` for unset, `(empty)` for an empty set) or as its JSON
//! writer does (one object per line, unset fields left out), so `zeek-cut` and the tools that
//! read Zeek logs (RITA, Zui/Brim, Malcolm) read it as they read Zeek's.
//!
//! Text from packets is escaped on the way out as Zeek escapes it: a byte that is not printable
//! ASCII becomes `\xHH`, and so do the separators inside a value, so a value can never break
//! a line or a column.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A column of a log: its Zeek name and type (`time`, `string`, `addr`, `port`, `count`, ...).
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: &'static str,
}

pub const fn field(name: &'static str, ty: &'static str) -> Field {
    Field { name, ty }
}

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Unset,
    Text(String),
    Count(u64),
    Int(i64),
    /// Nanoseconds since the epoch.
    Time(i64),
    /// Seconds.
    Interval(f64),
    Bool(bool),
    /// A `set[...]` or `vector[...]` of texts (an empty one prints `(empty)`).
    List(Vec<String>),
    /// A `vector[interval]`, seconds.
    Intervals(Vec<f64>),
    /// A `vector[count]`.
    Counts(Vec<u64>),
}

impl Value {
    pub fn text(s: Option<impl Into<String>>) -> Value {
        s.map_or(Value::Unset, |s| Value::Text(s.into()))
    }

    pub fn count(n: Option<u64>) -> Value {
        n.map_or(Value::Unset, Value::Count)
    }
}

/// Zeek's time and interval format: seconds with six decimals.
fn seconds(s: f64) -> String {
    format!("{s:.6}")
}

fn time_seconds(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// A value as the ASCII writer writes it: non-printable bytes, backslashes and the separators
/// escaped as `\xHH`; a value that would read as the unset or empty marker escaped too.
fn escape_ascii(s: &str, in_set: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b',' if in_set => out.push_str("\\x2c"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if out == "-" || out == "(empty)" || (out.is_empty() && in_set) {
        // Zeek escapes a value that equals a marker so it is not read as one.
        return out.bytes().map(|b| format!("\\x{b:02x}")).collect();
    }
    out
}

fn ascii(v: &Value) -> String {
    match v {
        Value::Unset => "-".into(),
        Value::Text(s) => {
            if s.is_empty() {
                // An empty string is written as the empty-field marker's cousin: nothing.
                String::new()
            } else {
                escape_ascii(s, false)
            }
        }
        Value::Count(n) => n.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Time(ns) => seconds(time_seconds(*ns)),
        Value::Interval(s) => seconds(*s),
        Value::Bool(b) => if *b { "T" } else { "F" }.into(),
        Value::List(items) if items.is_empty() => "(empty)".into(),
        Value::List(items) => items
            .iter()
            .map(|s| escape_ascii(s, true))
            .collect::<Vec<_>>()
            .join(","),
        Value::Intervals(items) if items.is_empty() => "(empty)".into(),
        Value::Intervals(items) => items.iter().map(|s| seconds(*s)).collect::<Vec<_>>().join(","),
        Value::Counts(items) if items.is_empty() => "(empty)".into(),
        Value::Counts(items) => items.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
    }
}

fn json(v: &Value) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    let num = |f: f64| serde_json::Number::from_f64((f * 1e6).round() / 1e6).map_or(J::Null, J::Number);
    Some(match v {
        Value::Unset => return None,
        Value::Text(s) => J::String(s.clone()),
        Value::Count(n) => J::from(*n),
        Value::Int(n) => J::from(*n),
        Value::Time(ns) => num(time_seconds(*ns)),
        Value::Interval(s) => num(*s),
        Value::Bool(b) => J::Bool(*b),
        Value::List(items) => J::Array(items.iter().cloned().map(J::String).collect()),
        Value::Intervals(items) => J::Array(items.iter().map(|s| num(*s)).collect()),
        Value::Counts(items) => J::Array(items.iter().map(|n| J::from(*n)).collect()),
    })
}

/// Zeek's `#open` / `#close` stamp.
fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d-%H-%M-%S").to_string()
}

/// A log being written.
pub struct LogWriter {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    fields: &'static [Field],
    json: bool,
    rows: u64,
}

impl LogWriter {
    /// Create `DIR/<path>.log` and write its header.
    pub fn create(dir: &Path, path: &str, fields: &'static [Field], json: bool) -> Result<LogWriter> {
        let file = dir.join(format!("{path}.log"));
        let f = std::fs::File::create(&file).map_err(|e| Error::io(&file, e))?;
        let mut w = LogWriter {
            path: file,
            out: std::io::BufWriter::new(f),
            fields,
            json,
            rows: 0,
        };
        if !json {
            let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
            let types: Vec<&str> = fields.iter().map(|f| f.ty).collect();
            let header = format!(
                "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t{path}\n#open\t{}\n#fields\t{}\n#types\t{}\n",
                stamp(chrono::Utc::now()),
                names.join("\t"),
                types.join("\t")
            );
            w.write(header.as_bytes())?;
        }
        Ok(w)
    }

    fn write(&mut self, b: &[u8]) -> Result<()> {
        self.out.write_all(b).map_err(|e| Error::io(&self.path, e))
    }

    /// Write one row (one value per field, in order).
    pub fn row(&mut self, values: &[Value]) -> Result<()> {
        debug_assert_eq!(values.len(), self.fields.len());
        let line = if self.json {
            // Keys in field order, as Zeek writes them (a JSON map would sort them).
            let pairs: Vec<String> = self
                .fields
                .iter()
                .zip(values)
                .filter_map(|(f, v)| Some(format!("{}:{}", serde_json::Value::from(f.name), json(v)?)))
                .collect();
            format!("{{{}}}", pairs.join(","))
        } else {
            values.iter().map(ascii).collect::<Vec<_>>().join("\t")
        };
        self.write(line.as_bytes())?;
        self.write(b"\n")?;
        self.rows += 1;
        Ok(())
    }

    /// Write the `#close` line and flush; returns the rows written.
    pub fn finish(mut self) -> Result<u64> {
        if !self.json {
            let close = format!("#close\t{}\n", stamp(chrono::Utc::now()));
            self.write(close.as_bytes())?;
        }
        self.out.flush().map_err(|e| Error::io(&self.path, e))?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_zeek_prints_them() {
        assert_eq!(ascii(&Value::Time(1_300_475_167_096_535_000)), "1300475167.096535");
        assert_eq!(ascii(&Value::Interval(0.000435)), "0.000435");
        assert_eq!(ascii(&Value::Unset), "-");
        assert_eq!(ascii(&Value::List(vec![])), "(empty)");
        assert_eq!(ascii(&Value::List(vec!["a,b".into(), "c".into()])), "a\\x2cb,c");
        assert_eq!(ascii(&Value::Bool(true)), "T");
        // A tab or an escape from a packet cannot break a line or drive a terminal.
        assert_eq!(ascii(&Value::Text("a\tb\u{1b}[2J\n".into())), "a\\x09b\\x1b[2J\\x0a");
        assert_eq!(ascii(&Value::Text("-".into())), "\\x2d");
    }
}
