//! tables: the methods of a [`Table`]: filtering, choosing and adding columns, grouping, sorting,
//! joining, and the few that end the laziness (a row count, one value, the column names).

use polars::prelude::{Expr as PlExpr, *};
use rhai::{Array, Dynamic, ImmutableString, NativeCallContext};

use crate::query::bindings::convert::{any_to_dynamic, cols_selector, exprs, names, row_count, to_expr};
use crate::query::bindings::lang::{Lang, RhaiResult, Topic, err, perr, polars_message};
use crate::query::bindings::types::{Expr, GroupBy, Table};

/// Rows a script may hold in memory with `collect()`.
pub const MAX_COLLECT_ROWS: IdxSize = 2_000_000;

pub fn register(lang: &mut Lang) {
    register_shape(lang);
    register_joins(lang);
    register_results(lang);
}

/// The table an operation made, once Polars has worked out its columns: a missing column or a
/// type that does not fit fails here, at the call's line and column (Rhai adds them), instead of
/// when the result is run, and the message names the operation and shows its expressions.
/// Working out the columns reads no rows.
fn checked(mut lf: LazyFrame, op: &str, exprs: &[PlExpr]) -> RhaiResult<Table> {
    match lf.collect_schema() {
        Ok(_) => Ok(Table(lf)),
        Err(e) => failed(&e, op, exprs),
    }
}

/// [`checked`], and the operation run once on no rows of the input's columns: comparing text
/// with a number, or a list with a scalar, only fails when Polars evaluates the expression.
fn checked_on_empty(
    input: LazyFrame,
    build: impl Fn(LazyFrame) -> LazyFrame,
    op: &str,
    exprs: &[PlExpr],
) -> RhaiResult<Table> {
    let mut input = input;
    let table = checked(build(input.clone()), op, exprs)?;
    let schema = input.collect_schema().or_else(perr)?;
    let empty = DataFrame::empty_with_schema(&schema);
    match build(empty.lazy()).collect() {
        Ok(_) => Ok(table),
        Err(e) => failed(&e, op, exprs),
    }
}

fn failed<T>(e: &PolarsError, op: &str, exprs: &[PlExpr]) -> RhaiResult<T> {
    if exprs.is_empty() {
        return err(format!("{op}: {}", polars_message(e)));
    }
    let shown: Vec<String> = exprs.iter().map(|x| x.to_string()).collect();
    err(format!("{op}: {} (in {})", polars_message(e), shown.join(", ")))
}

fn register_shape(lang: &mut Lang) {
    lang.def(
        Topic::Tables,
        "t.filter(condition)",
        "the rows where the condition holds",
    )
    .with(|f: Table, e: Expr| checked_on_empty(f.0, |t| t.filter(e.0.clone()), "filter", std::slice::from_ref(&e.0)));
    lang.def(
        Topic::Tables,
        "t.select([columns])",
        "these columns or expressions only (names or col(..) expressions)",
    )
    .with(|f: Table, cols: Array| -> RhaiResult<Table> {
        let e = exprs(&cols, true)?;
        checked_on_empty(f.0, |t| t.select(e.clone()), "select", &e)
    })
    .with(|f: Table, c: ImmutableString| checked(f.0.select([col(c.as_str())]), "select", &[]));
    lang.def(
        Topic::Tables,
        "t.with_column(e)",
        "add (or replace) a column made by an expression",
    )
    .with(|f: Table, e: Expr| {
        checked_on_empty(
            f.0,
            |t| t.with_column(e.0.clone()),
            "with_column",
            std::slice::from_ref(&e.0),
        )
    });
    lang.def(Topic::Tables, "t.with_columns([e, ..])", "add several columns")
        .with(|f: Table, cols: Array| -> RhaiResult<Table> {
            let e = exprs(&cols, false)?;
            checked_on_empty(f.0, |t| t.with_columns(e.clone()), "with_columns", &e)
        });
    lang.def(Topic::Tables, "t.drop([columns])", "leave these columns out")
        .with(|f: Table, cols: Array| -> RhaiResult<Table> {
            let n = names(&cols)?;
            checked(f.0.drop(cols_selector(n)), "drop", &[])
        });
    lang.def(Topic::Tables, "t.rename(\"from\", \"to\")", "rename a column")
        .with(|f: Table, from: ImmutableString, to: ImmutableString| {
            checked(f.0.rename([from.as_str()], [to.as_str()], true), "rename", &[])
        });
    lang.def(
        Topic::Tables,
        "t.group_by([keys])",
        "group rows by columns or expressions (e.g. every(\"1m\")); follow with .agg([..])",
    )
    .with(|f: Table, keys: Array| -> RhaiResult<GroupBy> {
        Ok(GroupBy {
            table: f.0,
            keys: exprs(&keys, true)?,
        })
    })
    .with(|f: Table, key: ImmutableString| GroupBy {
        table: f.0,
        keys: vec![col(key.as_str())],
    })
    .with(|f: Table, key: Expr| GroupBy {
        table: f.0,
        keys: vec![key.0],
    });
    lang.def(
        Topic::Tables,
        "g.agg([aggregations])",
        "one row per group: the keys and the aggregations (count(), sum(\"bytes\"), ...)",
    )
    .with(|g: GroupBy, aggs: Array| -> RhaiResult<Table> {
        let a = exprs(&aggs, true)?;
        let context: Vec<PlExpr> = g.keys.iter().chain(&a).cloned().collect();
        let build = |t: LazyFrame| t.group_by(g.keys.clone()).agg(a.clone());
        checked_on_empty(g.table, build, "group_by(..).agg", &context)
    });
    lang.def(
        Topic::Tables,
        "t.sort(\"column\")",
        "rows in ascending order of a column",
    )
    .with(|f: Table, c: ImmutableString| checked(f.0.sort([c.as_str()], Default::default()), "sort", &[]));
    lang.def(
        Topic::Tables,
        "t.sort(\"column\", descending)",
        "rows sorted by a column, descending when true (nulls last)",
    )
    .with(|f: Table, c: ImmutableString, desc: bool| {
        let order = SortMultipleOptions::default()
            .with_order_descending(desc)
            .with_nulls_last(true);
        checked(f.0.sort([c.as_str()], order), "sort", &[])
    });
    lang.def(
        Topic::Tables,
        "t.sort([columns], [descending])",
        "rows sorted by several columns, one true/false per column",
    )
    .with(|f: Table, cols: Array, desc: Array| -> RhaiResult<Table> {
        let n = names(&cols)?;
        let d: Vec<bool> = desc.iter().map(|v| v.as_bool().unwrap_or(false)).collect();
        if d.len() != n.len() {
            return err("sort: give one true/false per column");
        }
        let order = SortMultipleOptions::default()
            .with_order_descending_multi(d)
            .with_nulls_last(true);
        checked(f.0.sort(n, order), "sort", &[])
    });
    lang.def(Topic::Tables, "t.head(n)", "the first n rows")
        .with(|f: Table, n: i64| Table(f.0.limit(n.max(0) as IdxSize)));
    lang.def(Topic::Tables, "t.limit(n)", "the same as head(n)")
        .with(|f: Table, n: i64| Table(f.0.limit(n.max(0) as IdxSize)));
    lang.def(Topic::Tables, "t.tail(n)", "the last n rows")
        .with(|f: Table, n: i64| Table(f.0.tail(n.max(0) as IdxSize)));
    lang.def(
        Topic::Tables,
        "t.unique()",
        "distinct rows (the first of each, in order)",
    )
    .with(|f: Table| Table(f.0.unique_stable(None, UniqueKeepStrategy::First)));
    lang.def(
        Topic::Tables,
        "t.unique([columns])",
        "one row per distinct value of these columns (the first)",
    )
    .with(|f: Table, cols: Array| -> RhaiResult<Table> {
        let keys = Some(cols_selector(names(&cols)?));
        checked(f.0.unique_stable(keys, UniqueKeepStrategy::First), "unique", &[])
    });
    lang.def(
        Topic::Tables,
        "t.explode([columns])",
        "one row per item of these list columns",
    )
    .with(|f: Table, cols: Array| -> RhaiResult<Table> {
        let opts = ExplodeOptions {
            empty_as_null: true,
            keep_nulls: true,
        };
        checked(f.0.explode(cols_selector(names(&cols)?), opts), "explode", &[])
    });
    lang.def(
        Topic::Tables,
        "concat(a, b)",
        "the rows of two tables, one after the other (missing columns are null)",
    )
    .with(|a: Table, b: Table| -> RhaiResult<Table> {
        concat(
            [a.0, b.0],
            UnionArgs {
                rechunk: false,
                parallel: true,
                diagonal: true,
                ..Default::default()
            },
        )
        .or_else(perr)
        .and_then(|lf| checked(lf, "concat", &[]))
    });
}

fn join_type(how: &str) -> RhaiResult<JoinType> {
    Ok(match how {
        "inner" => JoinType::Inner,
        "left" => JoinType::Left,
        "right" => JoinType::Right,
        "full" | "outer" => JoinType::Full,
        "semi" => JoinType::Semi,
        "anti" => JoinType::Anti,
        "cross" => JoinType::Cross,
        other => {
            return err(format!(
                "unknown join '{other}': use inner, left, right, full, semi, anti or cross"
            ));
        }
    })
}

/// Joins keep one key column (a full join fills it from whichever side has the key).
fn join_args(jt: JoinType) -> JoinArgs {
    JoinArgs::new(jt).with_coalesce(JoinCoalesce::CoalesceColumns)
}

fn register_joins(lang: &mut Lang) {
    lang.def(
        Topic::Tables,
        "t.join(other, on, \"how\")",
        "rows matched on key columns (a name or a list): inner, left, right, full, semi or anti",
    )
    .with(
        |l: Table, r: Table, on: Dynamic, how: ImmutableString| -> RhaiResult<Table> {
            let keys: Vec<PlExpr> = if on.is_array() {
                exprs(&on.cast::<Array>(), true)?
            } else {
                vec![to_expr(&on, true)?]
            };
            let jt = join_type(&how)?;
            if jt == JoinType::Cross {
                return err("cross joins are not allowed in queries (they multiply table sizes)");
            }
            checked(l.0.join(r.0, keys.clone(), keys.clone(), join_args(jt)), "join", &keys)
        },
    );
    lang.def(
        Topic::Tables,
        "t.join(other, [left_on], [right_on], \"how\")",
        "rows matched on differently named keys",
    )
    .with(
        |l: Table, r: Table, left_on: Array, right_on: Array, how: ImmutableString| -> RhaiResult<Table> {
            let jt = join_type(&how)?;
            if jt == JoinType::Cross {
                return err("cross joins are not allowed in queries (they multiply table sizes)");
            }
            let (lk, rk) = (exprs(&left_on, true)?, exprs(&right_on, true)?);
            let context: Vec<PlExpr> = lk.iter().chain(&rk).cloned().collect();
            checked(l.0.join(r.0, lk, rk, join_args(jt)), "join", &context)
        },
    );
}

fn register_results(lang: &mut Lang) {
    // Run the plan now and keep the result in memory: a script that filters the packets once and
    // asks several questions of the result scans the big table once instead of once per question.
    // A hint, not a change of meaning: a result too big to hold stays lazy (same answers).
    lang.def(
        Topic::Tables,
        "t.collect()",
        "run the plan now and keep the result (filter once, ask the small result many questions; over 2M rows it stays lazy)",
    )
    .with(|ctx: NativeCallContext, f: Table| -> RhaiResult<Table> {
        at(&ctx);
        let df = f.0.clone().limit(MAX_COLLECT_ROWS + 1).collect().or_else(perr)?;
        if df.height() > MAX_COLLECT_ROWS as usize {
            return Ok(f);
        }
        Ok(Table(df.lazy()))
    });
    lang.def(Topic::Tables, "t.count()", "the number of rows (a number, not a table)")
        .with(|ctx: NativeCallContext, f: Table| -> RhaiResult<i64> {
            at(&ctx);
            row_count(f.0).or_else(perr)
        });
    lang.def(Topic::Tables, "t.is_empty()", "whether the table has no rows")
        .with(|ctx: NativeCallContext, f: Table| -> RhaiResult<bool> {
            at(&ctx);
            let df = f.0.limit(1).collect().or_else(perr)?;
            Ok(df.height() == 0)
        });
    lang.def(
        Topic::Tables,
        "t.value(\"column\")",
        "the column's value in the first row (a number or text)",
    )
    .with(
        |ctx: NativeCallContext, f: Table, c: ImmutableString| -> RhaiResult<Dynamic> {
            at(&ctx);
            let df = f.0.select([col(c.as_str())]).limit(1).collect().or_else(perr)?;
            let v = df
                .column(c.as_str())
                .and_then(|c| c.get(0).map(|v| v.into_static()))
                .or_else(perr)?;
            Ok(any_to_dynamic(&v))
        },
    );
    lang.def(Topic::Tables, "t.columns()", "the column names")
        .with(|f: Table| -> RhaiResult<Array> {
            let mut lf = f.0;
            let schema = lf.collect_schema().or_else(perr)?;
            Ok(schema.iter_names().map(|n| Dynamic::from(n.to_string())).collect())
        });
    lang.def(
        Topic::Tables,
        "to_string(t)",
        "what print shows for a table (return it to see its rows)",
    )
    .with(|_: &mut Table| "Table (a lazy table; return it to see rows)".to_string());
}

/// Note where the script makes Polars run now (said if a limit stops it there).
fn at(ctx: &NativeCallContext) {
    let p = ctx.call_position();
    if let (Some(line), Some(column)) = (p.line(), p.position()) {
        crate::allocator::set_query_position(line, column);
    }
}
