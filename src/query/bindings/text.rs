//! text: tests and measures of text columns (DNS names, hosts, paths, SNIs). Text columns are
//! Categorical: each function runs once per distinct value of the column's dictionary and is then
//! mapped onto the rows, so a test over 10M packets with 5,000 names runs 5,000 times.

use std::sync::Arc;

use polars::prelude::{Expr as PlExpr, *};
use rhai::ImmutableString;

use crate::query::bindings::lang::{Lang, RhaiResult, Topic, err};
use crate::query::bindings::types::Expr;

pub fn register(lang: &mut Lang) {
    lang.def(
        Topic::Text,
        "e.contains(\"text\")",
        "whether the text contains a substring",
    )
    .with(|e: Expr, pat: ImmutableString| {
        let p = pat.to_string();
        Expr(text_bool(e.0, "contains", move |s| s.contains(p.as_str())))
    });
    lang.def(Topic::Text, "e.starts_with(\"text\")", "whether the text starts so")
        .with(|e: Expr, pat: ImmutableString| {
            let p = pat.to_string();
            Expr(text_bool(e.0, "starts_with", move |s| s.starts_with(p.as_str())))
        });
    lang.def(Topic::Text, "e.ends_with(\"text\")", "whether the text ends so")
        .with(|e: Expr, pat: ImmutableString| {
            let p = pat.to_string();
            Expr(text_bool(e.0, "ends_with", move |s| s.ends_with(p.as_str())))
        });
    lang.def(
        Topic::Text,
        "e.matches(\"regex\")",
        "whether a regular expression matches (Rust regex syntax)",
    )
    .with(|e: Expr, pat: ImmutableString| -> RhaiResult<Expr> {
        let re = regex_lite(&pat)?;
        Ok(Expr(text_bool(e.0, "matches", move |s| re.is_match(s))))
    });
    lang.def(Topic::Text, "e.str_len()", "length in characters")
        .with(|e: Expr| Expr(text_f64(e.0, |s| s.chars().count() as f64).cast(DataType::Int64)));
    lang.def(
        Topic::Text,
        "e.entropy()",
        "Shannon entropy in bits per character (random-looking names score high)",
    )
    .with(|e: Expr| Expr(text_f64(e.0, entropy)));
    // The first DNS label (before the first dot): its entropy and length.
    lang.def(
        Topic::Text,
        "e.label_entropy()",
        "entropy of the first DNS label (DGA and tunnelling names)",
    )
    .with(|e: Expr| Expr(text_f64(e.0, |s| entropy(s.split('.').next().unwrap_or("")))));
    lang.def(Topic::Text, "e.label_len()", "length of the first DNS label")
        .with(|e: Expr| {
            Expr(text_f64(e.0, |s| s.split('.').next().unwrap_or("").chars().count() as f64).cast(DataType::Int64))
        });
    lang.def(Topic::Text, "e.labels()", "number of labels in a DNS name")
        .with(|e: Expr| {
            Expr(text_f64(e.0, |s| s.split('.').filter(|l| !l.is_empty()).count() as f64).cast(DataType::Int64))
        });
    lang.def(Topic::Text, "e.to_lower()", "lower case")
        .with(|e: Expr| Expr(e.0.cast(DataType::String).str().to_lowercase()));
    lang.def(Topic::Text, "e.to_upper()", "upper case")
        .with(|e: Expr| Expr(e.0.cast(DataType::String).str().to_uppercase()));
    lang.def(Topic::Text, "e.to_text()", "any value as plain text")
        .with(|e: Expr| Expr(e.0.cast(DataType::String)));
    lang.def(
        Topic::Text,
        "concat_text([e, \"text\", ...])",
        "texts and values joined into one text, row by row (plain strings are text, not columns; a null counts as empty)",
    )
    .with(|parts: rhai::Array| -> RhaiResult<Expr> {
        let exprs = parts
            .iter()
            .map(|d| crate::query::bindings::convert::to_expr(d, false).map(|e| e.cast(DataType::String)))
            .collect::<RhaiResult<Vec<_>>>()?;
        Ok(Expr(concat_str(exprs, "", true)))
    });
    lang.def(
        Topic::Text,
        "e.split(\".\")",
        "the text split into a list at a separator",
    )
    .with(|e: Expr, sep: ImmutableString| Expr(e.0.cast(DataType::String).str().split(lit(sep.to_string()))));
    lang.def(
        Topic::Text,
        "e.join_text(\", \")",
        "a list of texts joined into one with a separator",
    )
    // Items as text first (a list of numbers or of text codes), then joined.
    .with(|e: Expr, sep: ImmutableString| {
        Expr(
            e.0.cast(DataType::List(Box::new(DataType::String)))
                .list()
                .join(lit(sep.to_string()), true),
        )
    });
}

/// Apply `f` to each distinct text value of a (Categorical or String) column.
pub fn map_text<T, F>(c: &Column, f: F) -> PolarsResult<Vec<Option<T>>>
where
    T: Copy,
    F: Fn(&str) -> T,
{
    let s = c.as_materialized_series();
    match s.dtype() {
        DataType::Categorical(..) | DataType::Enum(..) => {
            let s = s.cast(&DataType::Categorical(
                Categories::global(),
                Categories::global().mapping(),
            ))?;
            let ca = s.cat32()?;
            let mapping = ca.get_mapping().clone();
            // Each distinct value once; rows mostly repeat the row before, so that is checked
            // first (a hashed look-up per row was most of a DNS name test's time).
            let mut memo: PlHashMap<u32, Option<T>> = PlHashMap::default();
            let mut last: Option<(u32, Option<T>)> = None;
            Ok(ca
                .physical()
                .iter()
                .map(|code| {
                    let code = code?;
                    if let Some((c, v)) = last
                        && c == code
                    {
                        return v;
                    }
                    let v = *memo.entry(code).or_insert_with(|| mapping.cat_to_str(code).map(&f));
                    last = Some((code, v));
                    v
                })
                .collect())
        }
        DataType::String => Ok(s.str()?.iter().map(|v| v.map(&f)).collect()),
        _ => {
            let s = s.cast(&DataType::String)?;
            Ok(s.str()?.iter().map(|v| v.map(&f)).collect())
        }
    }
}

/// A boolean test of each text value, named `name`.
pub fn text_bool(e: PlExpr, name: &'static str, f: impl Fn(&str) -> bool + Send + Sync + 'static) -> PlExpr {
    e.map(
        move |c: Column| {
            let v = map_text(&c, &f)?;
            Ok(BooleanChunked::from_iter_options(c.name().clone(), v.into_iter()).into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::Boolean)),
    )
    .alias(name)
}

/// A number measured of each text value.
fn text_f64(e: PlExpr, f: impl Fn(&str) -> f64 + Send + Sync + 'static) -> PlExpr {
    e.map(
        move |c: Column| {
            let v = map_text(&c, &f)?;
            Ok(Float64Chunked::from_iter_options(c.name().clone(), v.into_iter()).into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::Float64)),
    )
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// A compiled pattern, or a clear error for a bad one.
fn regex_lite(pat: &str) -> RhaiResult<Arc<regex::Regex>> {
    match regex::Regex::new(pat) {
        Ok(r) => Ok(Arc::new(r)),
        Err(e) => err(format!("bad regular expression: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_text() {
        assert_eq!(entropy("aaaa"), 0.0);
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
    }
}
