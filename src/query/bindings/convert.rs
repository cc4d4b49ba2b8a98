//! convert: what scripts pass, turned into what Polars takes (expressions, literals, column
//! lists), and Polars values back into Rhai values.

use polars::prelude::{Expr as PlExpr, *};
use rhai::{Array, Dynamic};

use crate::query::bindings::lang::{RhaiResult, err};
use crate::query::bindings::types::Expr;

/// Anything a script may pass where an expression is expected: an expression, a column name in
/// a list of columns, or a literal.
pub fn to_expr(d: &Dynamic, names_are_columns: bool) -> RhaiResult<PlExpr> {
    if let Some(e) = d.clone().try_cast::<Expr>() {
        return Ok(e.0);
    }
    if d.is_string() {
        let s = d.clone().into_string().unwrap_or_default();
        return Ok(if names_are_columns { col(s.as_str()) } else { lit(s) });
    }
    lit_of(d)
}

/// A literal value.
pub fn lit_of(d: &Dynamic) -> RhaiResult<PlExpr> {
    if let Ok(i) = d.as_int() {
        return Ok(lit(i));
    }
    if let Ok(f) = d.as_float() {
        return Ok(lit(f));
    }
    if let Ok(b) = d.as_bool() {
        return Ok(lit(b));
    }
    if d.is_string() {
        return Ok(lit(d.clone().into_string().unwrap_or_default()));
    }
    if d.is_unit() {
        return Ok(lit(NULL));
    }
    err(format!("cannot use a {} as a value in a query", d.type_name()))
}

pub fn exprs(a: &Array, names_are_columns: bool) -> RhaiResult<Vec<PlExpr>> {
    a.iter().map(|d| to_expr(d, names_are_columns)).collect()
}

pub fn names(a: &Array) -> RhaiResult<Vec<String>> {
    a.iter()
        .map(|d| {
            d.clone()
                .into_string()
                .map_err(|t| format!("expected column names, found a {t}").into())
        })
        .collect()
}

/// A list of numbers or of strings as a Polars series (for `is_in`).
pub fn array_series(values: &Array) -> RhaiResult<Series> {
    if values.iter().all(|v| v.is_int()) {
        let v: Vec<i64> = values.iter().map(|v| v.as_int().unwrap_or(0)).collect();
        Ok(Series::new("values".into(), v))
    } else if values.iter().all(|v| v.is_float() || v.is_int()) {
        let v: Vec<f64> = values
            .iter()
            .map(|v| v.as_float().or_else(|_| v.as_int().map(|i| i as f64)).unwrap_or(0.0))
            .collect();
        Ok(Series::new("values".into(), v))
    } else if values.iter().all(|v| v.is_string()) {
        let v: Vec<String> = values
            .iter()
            .map(|v| v.clone().into_string().unwrap_or_default())
            .collect();
        Ok(Series::new("values".into(), v))
    } else {
        err("is_in needs a list of numbers or a list of strings")
    }
}

pub fn cols_selector(names: Vec<String>) -> Selector {
    Selector::ByName {
        names: names.into_iter().map(PlSmallStr::from).collect::<Vec<_>>().into(),
        strict: true,
    }
}

/// A Polars value as a Rhai value.
pub fn any_to_dynamic(v: &AnyValue<'_>) -> Dynamic {
    match v {
        AnyValue::Null => Dynamic::UNIT,
        AnyValue::Boolean(b) => Dynamic::from(*b),
        AnyValue::Float32(f) => Dynamic::from(*f as f64),
        AnyValue::Float64(f) => Dynamic::from(*f),
        v if v.is_integer() => Dynamic::from(v.extract::<i64>().unwrap_or(0)),
        other => Dynamic::from(crate::table::values::cell_text(other)),
    }
}

/// Integers widened to i64 (floats and others unchanged), so sums cannot overflow a u32.
pub fn widen(e: PlExpr) -> PlExpr {
    fn wide(dt: &DataType) -> DataType {
        if dt.is_integer() || dt.is_bool() {
            DataType::Int64
        } else {
            dt.clone()
        }
    }
    e.map(
        |c: Column| {
            let dt = wide(c.dtype());
            c.cast(&dt)
        },
        |_, field| Ok(Field::new(field.name().clone(), wide(field.dtype()))),
    )
}

/// Rows of a table. Counted through its first column: polars 0.55 rewrites a bare `len()` over a
/// union of tables into a UInt128 sum that this build of polars cannot cast.
pub fn row_count(mut lf: LazyFrame) -> PolarsResult<i64> {
    let first = lf.collect_schema()?.iter_names().next().cloned();
    let e = match first {
        Some(name) => col(name).is_null().count(),
        None => len(),
    };
    let df = lf.select([e.alias("n")]).collect()?;
    Ok(df.column("n")?.get(0)?.extract::<i64>().unwrap_or(0))
}
