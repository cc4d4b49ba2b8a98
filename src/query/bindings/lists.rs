//! lists: tests of the items of a list column (a DNS reply's answers, a certificate's SAN names,
//! the ALPN protocols offered): whether any or every item passes, without opening the lists into
//! rows. `dns().filter(col("answers").any(|a| a.is_private()))` tests each answer once and keeps
//! the rows whole; the same question with `explode` repeats every column for every answer (800k
//! answers on the 10M-packet bench capture) and has to put the rows back together.

use polars::prelude::{Expr as PlExpr, *};
use polars_arrow::array::{Array, BooleanArray};
use rhai::{Dynamic, FnPtr, NativeCallContext};

use crate::query::bindings::convert::to_expr;
use crate::query::bindings::lang::{Lang, RhaiResult, Topic};
use crate::query::bindings::types::Expr;

/// The name the test's item goes by while the test runs (the test sees nothing else).
const ITEM: &str = "item";

pub fn register(lang: &mut Lang) {
    for (q, signature, description) in [
        (
            Quantifier::Any,
            "e.any(|x| test)",
            "whether any item of a list passes the test (x: each item; false for an empty list)",
        ),
        (
            Quantifier::All,
            "e.all(|x| test)",
            "whether every item of a list passes the test (true for an empty list)",
        ),
    ] {
        lang.def(Topic::Expressions, signature, description).with(
            move |ctx: NativeCallContext, e: Expr, test: FnPtr| -> RhaiResult<Expr> {
                Ok(Expr(items_test(e.0, item_test(&ctx, &test)?, q)))
            },
        );
    }
}

/// The script's test, called once with the item as a column: it builds the expression each
/// item is tested with.
fn item_test(ctx: &NativeCallContext, test: &FnPtr) -> RhaiResult<PlExpr> {
    let made: Dynamic = test.call_within_context(ctx, (Expr(col(ITEM)),))?;
    to_expr(&made, false)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quantifier {
    Any,
    All,
}

impl Quantifier {
    fn name(self) -> &'static str {
        match self {
            Quantifier::Any => "any",
            Quantifier::All => "all",
        }
    }
}

/// Whether any (or every) item of each list passes `test`. A missing item passes no test; a
/// missing list gives a missing answer.
fn items_test(list: PlExpr, test: PlExpr, q: Quantifier) -> PlExpr {
    list.map(
        move |c: Column| {
            let s = c.as_materialized_series();
            if !matches!(s.dtype(), DataType::List(_)) {
                polars_bail!(
                    InvalidOperation: "{}(): column '{}' is not a list column (any and all test the items of a list such as dns() answers)",
                    q.name(), s.name()
                );
            }
            let passed = s.list()?.apply_to_inner(&|items| test_items(items, &test, q))?;
            let mut out: Vec<Option<bool>> = Vec::with_capacity(passed.len());
            for arr in passed.downcast_iter() {
                let Some(values) = arr.values().as_any().downcast_ref::<BooleanArray>() else {
                    polars_bail!(ComputeError: "{}(): the test did not give true or false", q.name());
                };
                let offsets = arr.offsets();
                for i in 0..arr.len() {
                    if !arr.is_valid(i) {
                        out.push(None);
                        continue;
                    }
                    let (from, to) = offsets.start_end(i);
                    let mut each = (from..to).map(|j| values.is_valid(j) && values.value(j));
                    out.push(Some(match q {
                        Quantifier::Any => each.any(|p| p),
                        Quantifier::All => each.all(|p| p),
                    }));
                }
            }
            Ok(BooleanChunked::from_iter_options(c.name().clone(), out.into_iter()).into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::Boolean)),
    )
}

/// The test run over all the lists' items at once (one column, `item`).
fn test_items(items: Series, test: &PlExpr, q: Quantifier) -> PolarsResult<Series> {
    let n = items.len();
    let frame = DataFrame::new(n, vec![items.with_name(ITEM.into()).into_column()])?;
    let out = frame
        .lazy()
        .select([test.clone().alias(ITEM)])
        .collect()
        .map_err(|e| match e {
            PolarsError::ColumnNotFound(what) => polars_err!(
                ColumnNotFound: "{}(): the test can use only its item, not other columns ({what})", q.name()
            ),
            e => e,
        })?;
    let passed = out.column(ITEM)?.as_materialized_series().clone();
    if passed.dtype() != &DataType::Boolean {
        polars_bail!(
            InvalidOperation: "{}(): the test must give true or false, not {}", q.name(), passed.dtype()
        );
    }
    // A test that does not look at the item (`|x| true`) gives one value for all.
    if passed.len() == 1 && n != 1 {
        return Ok(passed.new_from_index(0, n));
    }
    Ok(passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists() -> LazyFrame {
        let mut b = ListPrimitiveChunkedBuilder::<Int64Type>::new("l".into(), 4, 8, DataType::Int64);
        b.append_slice(&[1, 5]);
        b.append_slice(&[]);
        b.append_null();
        b.append_opt_slice(Some(&[6, 7]));
        df!("l" => b.finish().into_series()).unwrap().lazy()
    }

    fn tested(q: Quantifier, test: PlExpr) -> Vec<Option<bool>> {
        let out = lists().select([items_test(col("l"), test, q)]).collect().unwrap();
        out.column("l").unwrap().bool().unwrap().iter().collect()
    }

    /// Any: one passing item is enough, an empty list has none; all: every item, an empty list
    /// passes; a missing list gives a missing answer either way.
    #[test]
    fn any_and_all_over_each_list() {
        let big = col(ITEM).gt(lit(4i64));
        assert_eq!(
            tested(Quantifier::Any, big.clone()),
            [Some(true), Some(false), None, Some(true)]
        );
        assert_eq!(
            tested(Quantifier::All, big),
            [Some(false), Some(true), None, Some(true)]
        );
        assert_eq!(
            tested(Quantifier::Any, lit(true)),
            [Some(true), Some(false), None, Some(true)]
        );
    }

    #[test]
    fn a_test_that_is_not_true_or_false_or_a_column_that_is_not_a_list_is_an_error() {
        let e = lists()
            .select([items_test(col("l"), col(ITEM) + lit(1i64), Quantifier::Any)])
            .collect();
        assert!(e.unwrap_err().to_string().contains("must give true or false"));
        let flat = df!("n" => [1i64, 2]).unwrap().lazy();
        let e = flat
            .select([items_test(col("n"), col(ITEM).gt(lit(1i64)), Quantifier::All)])
            .collect();
        assert!(e.unwrap_err().to_string().contains("not a list column"));
    }
}
