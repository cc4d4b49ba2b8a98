//! scan_filter: what of a filter Polars hands to one of netql's table scans (the packed packet
//! table, the kept event/flow/transaction columns) the scan must apply itself.

use polars::prelude::*;

/// The part of a pushed-down predicate the scan must apply. Polars also pushes "dynamic"
/// predicates (a `sort(..).head(n)` narrowing its input as it goes): they reach an anonymous
/// scan as a placeholder that cannot be evaluated (Polars panics on it), and are only a hint,
/// so they are left out (the sort above still sees every row it needs). Returns `Ok(None)` when
/// nothing is left to filter on, and an error for a predicate holding another placeholder.
pub(crate) fn user_filter(predicate: &Expr) -> PolarsResult<Option<Expr>> {
    fn conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
        match e {
            Expr::BinaryExpr {
                left,
                op: Operator::And | Operator::LogicalAnd,
                right,
            } => {
                conjuncts(left, out);
                conjuncts(right, out);
            }
            other => out.push(other),
        }
    }
    let mut parts = Vec::new();
    conjuncts(predicate, &mut parts);
    let kept: Vec<Expr> = parts
        .into_iter()
        .filter(|e| !matches!(e, Expr::Display { fmt_str, .. } if fmt_str.starts_with("dynamic_pred")))
        .cloned()
        .collect();
    if kept
        .iter()
        .flat_map(|e| e.into_iter())
        .any(|e| matches!(e, Expr::Display { .. }))
    {
        polars_bail!(ComputeError: "this filter cannot be run inside the table's scan; filter after a select or collect instead");
    }
    Ok(kept.into_iter().reduce(|a, b| a.and(b)))
}

/// The columns `predicate` reads, each once, in the order it names them: what a scan makes
/// first to test its rows.
pub(crate) fn columns_read(predicate: &Expr) -> Vec<PlSmallStr> {
    let mut read: Vec<PlSmallStr> = Vec::new();
    for e in predicate {
        if let Expr::Column(n) = e
            && !read.contains(n)
        {
            read.push(n.clone());
        }
    }
    read
}
